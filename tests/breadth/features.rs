//! features: end-to-end tests of features.conf and Dial()'s in-call features against the
//! real daemon, with SIPp as the phones: a caller presses RFC 2833 feature codes during a
//! Dial() bridge to SIPp answering machines (blind transfer `T`, disconnect `H`,
//! automixmon `X`, a dynamic feature running BlindTransfer(); Queue()'s `T` the same way),
//! and `features show`.

use crate::common::*;
use std::path::Path;

/// A daemon (verbose 3) with `extensions`, `features` as features.conf (none when empty),
/// guests in context `guests`, and SIP peers `uasN` at the SIPp ports `uas`.
fn start(extensions: &str, features: &str, uas: &[u16]) -> (Daemon, u16) {
    start_with(extensions, features, uas, &[])
}

/// [`start`] with more config files (`queues.conf`, …).
fn start_with(
    extensions: &str,
    features: &str,
    uas: &[u16],
    more: &[(&str, &str)],
) -> (Daemon, u16) {
    let sip = free_port();
    let base = free_ports(12);
    let rtp = base + (base & 1);
    let mut peers = String::new();
    for (i, p) in uas.iter().enumerate() {
        peers.push_str(&format!(
            "[uas{}]\ntype=peer\nhost=127.0.0.1\nport={p}\ncontext=guests\ndisallow=all\nallow=ulaw\n\n",
            i + 1
        ));
    }
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n{peers}"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 9);
    let dir = tempdir();
    let mut files = vec![
        ("ferrisk.conf", FERRISK_CONF_V3),
        ("extensions.conf", extensions),
        ("sip.conf", sip_conf.as_str()),
        ("rtp.conf", rtp_conf.as_str()),
    ];
    if !features.is_empty() {
        files.push(("features.conf", features));
    }
    files.extend_from_slice(more);
    write_configs(dir.path(), &files);
    let sounds = dir.path().join("data/sounds");
    std::fs::create_dir_all(sounds.join("en")).expect("sounds dir");
    let beep = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav");
    std::fs::copy(beep, sounds.join("beep.wav")).expect("copy beep.wav");
    (Daemon::launch(dir), sip)
}

/// A SIPp answering machine on `port` running `scenario`.
fn uas(port: u16, scenario: &str) -> SippChild {
    Sipp::new(scenario, None)
        .local_port(port)
        .timeout(40)
        .spawn()
}

/// The guest call to `exten` pressing the digits of `scenario`.
fn caller(sip: u16, exten: &str, scenario: &str) -> SippChild {
    Sipp::new(scenario, Some(sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "guest")
        .timeout(40)
        .spawn()
}

const XFER_TARGET: &str = "[xfer]\nexten => 19,1,Set(DB(ft/bt)=${BLINDTRANSFER})\n \
     same => n,Dial(SIP/uas2,10)\n same => n,Hangup()\n";

/// A guest calls `exten`, is bridged to the answering machine on `p1` and blind-transfers it
/// with `#` and `19` to [`XFER_TARGET`], which dials the one on `p2`.
fn caller_transfers_to_uas2(d: &Daemon, sip: u16, exten: &str, p1: u16, p2: u16) {
    let transferee = uas(p1, "uas_answer.xml");
    let target = uas(p2, "uas_answer_bye.xml");
    let c = caller(sip, exten, "uac_dtmf_xfer.xml");
    let bt = d.wait_db("ft", "bt");
    assert!(
        bt.starts_with("SIP/"),
        "BLINDTRANSFER names the transferer: {bt}"
    );
    c.wait()
        .assert_ok("the transferer is hung up after the transfer");
    target
        .wait()
        .assert_ok("the transfer target was called and answered");
    transferee
        .wait()
        .assert_ok("the transferee was bridged to the target, then hung up");
}

#[test]
fn t_lets_the_caller_blind_transfer_the_callee_with_pound_and_a_number() {
    let (p1, p2) = (free_port(), free_port());
    let ext = format!(
        "[guests]\nexten => 500,1,Set(TRANSFER_CONTEXT=xfer)\n \
         same => n,Dial(SIP/uas1,10,T)\n same => n,Hangup()\n{XFER_TARGET}"
    );
    let (d, sip) = start(&ext, "", &[p1, p2]);
    caller_transfers_to_uas2(&d, sip, "500", p1, p2);
    let console = d.console();
    assert!(console.contains("Blind transfer of SIP/uas1-"), "{console}");
}

#[test]
fn queue_t_lets_the_caller_blind_transfer_the_member_as_dial_does() {
    let (p1, p2) = (free_port(), free_port());
    let ext = format!(
        "[guests]\nexten => 503,1,Set(TRANSFER_CONTEXT=xfer)\n \
         same => n,Queue(support,T)\n same => n,Hangup()\n{XFER_TARGET}"
    );
    let queues = "[support]\nstrategy = ringall\ntimeout = 10\nmember => SIP/uas1\n";
    let (d, sip) = start_with(&ext, "", &[p1, p2], &[("queues.conf", queues)]);
    caller_transfers_to_uas2(&d, sip, "503", p1, p2);
}

#[test]
fn x_starts_a_recording_and_h_hangs_up_with_star() {
    let p1 = free_port();
    let ext = "[guests]\nexten => 501,1,Set(FEATUREMAP(automixmon)=19)\n \
               same => n,Dial(SIP/uas1,10,XHg)\n \
               same => n,Set(DB(ft/status)=${DIALSTATUS})\n \
               same => n,Set(DB(ft/rec)=${TOUCH_MIXMONITOR_OUTPUT})\n same => n,Hangup()\n";
    let (d, sip) = start(ext, "[general]\nfeaturedigittimeout = 2000\n", &[p1]);
    let callee = uas(p1, "uas_answer.xml");
    let c = caller(sip, "501", "uac_dtmf_19star.xml");
    let rec = d.wait_db("ft", "rec");
    assert_eq!(d.wait_db("ft", "status"), "ANSWER");
    assert!(
        rec.starts_with("auto-") && rec.ends_with(".wav"),
        "TOUCH_MIXMONITOR_OUTPUT: {rec}"
    );
    callee
        .wait()
        .assert_ok("the callee was hung up by the disconnect feature");
    c.wait().assert_ok("the caller went on and hung up");
    let file = d.path().join("spool/monitor").join(&rec);
    // The phones send no audio: the WAV may hold only its header.
    let len = wait_for(15, "the automixmon recording", || {
        std::fs::metadata(&file).ok().map(|m| m.len())
    });
    assert!(len >= 44, "{}: {len} bytes", file.display());
}

#[test]
fn a_dynamic_feature_runs_blind_transfer_on_the_bridge_peer() {
    let (p1, p2) = (free_port(), free_port());
    let ext = format!(
        "[guests]\nexten => 502,1,Set(DYNAMIC_FEATURES=bxfer)\n \
         same => n,Dial(SIP/uas1,10)\n same => n,Hangup()\n \
         exten => h,1,Set(DB(ft/bts)=${{BLINDTRANSFERSTATUS}})\n{XFER_TARGET}"
    );
    let features = "[applicationmap]\nbxfer => #19,self,BlindTransfer(19,xfer)\n";
    let (d, sip) = start(&ext, features, &[p1, p2]);
    let transferee = uas(p1, "uas_answer.xml");
    let target = uas(p2, "uas_answer_bye.xml");
    let c = caller(sip, "502", "uac_dtmf_xfer.xml");
    assert!(d.wait_db("ft", "bt").starts_with("SIP/"));
    assert_eq!(d.wait_db("ft", "bts"), "SUCCESS");
    c.wait().assert_ok("the transferer is hung up");
    target
        .wait()
        .assert_ok("the target answered the transferee");
    transferee
        .wait()
        .assert_ok("the transferee was transferred");
}

#[test]
fn features_show_lists_the_configuration_and_reload_applies_a_new_one() {
    let features = "[general]\npickupexten = *9\n[featuremap]\nblindxfer => #1\n\
                    [applicationmap]\nmonkeys => *7,peer,Playback(tt-monkeys)\n\
                    [grp]\nmonkeys => #7\n";
    let (d, _sip) = start("[guests]\nexten => 1,1,Hangup()\n", features, &[]);
    let out = d.rx("features show");
    for want in [
        "Builtin Feature           Default Current",
        "Pickup                    *8      *9     ",
        "Blind Transfer            #       #1     ",
        "Disconnect Call           *       *      ",
        "monkeys                   no def  *7     ",
        "===> Group: grp",
        "===> --> monkeys (#7)",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    std::fs::write(
        d.path().join("features.conf"),
        "[featuremap]\nblindxfer => #5\n",
    )
    .expect("write");
    let _ = d.rx("module reload features");
    let out = d.rx("features show");
    assert!(
        out.contains("Blind Transfer            #       #5"),
        "{out}"
    );
    assert!(out.contains("(none)"), "{out}");
    // A broken file is refused with its location; the running one stays.
    std::fs::write(
        d.path().join("features.conf"),
        "[featuremap]\nteleport => 5\n",
    )
    .expect("write");
    let o = d.rx_output("features reload");
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(err.contains("features.conf:2:1"), "{err}");
    assert!(d
        .rx("features show")
        .contains("Blind Transfer            #       #5"));
}

#[test]
fn t_attended_transfer_consults_the_target_and_completes_with_star_two() {
    let p1 = free_port();
    let ext = "[guests]\nexten => 503,1,Set(TRANSFER_CONTEXT=xfer)\n \
               same => n,Dial(SIP/uas1,10,T)\n same => n,Hangup()\n\
               [xfer]\nexten => 19,1,Answer()\n same => n,Set(DB(ft/consulted)=yes)\n \
               same => n,Wait(4)\n same => n,Hangup()\n";
    let features = "[featuremap]\nblindxfer => *0\natxfer => #\n";
    let (d, sip) = start(ext, features, &[p1]);
    let transferee = uas(p1, "uas_answer.xml");
    let c = caller(sip, "503", "uac_dtmf_atxfer.xml");
    assert_eq!(d.wait_db("ft", "consulted"), "yes");
    c.wait()
        .assert_ok("the transferer is hung up after atxfercomplete");
    d.wait_console("Attended transfer of SIP/uas1-", 1);
    transferee
        .wait()
        .assert_ok("the transferee talked to the target until it hung up");
}
