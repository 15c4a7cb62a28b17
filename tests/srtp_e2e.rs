//! SRTP with SDES (chan_sip `encryption=yes`) end to end, against real baresip phones with
//! its `srtp.so` and `mediaenc=srtp-mand` (a call without SRTP fails on baresip's side, so an
//! established call with audio proves the media was encrypted both ways and that each side
//! decrypted the other's):
//!
//! * a phone registered over UDP to a peer with `encryption=yes` calls Echo(): it hears its
//!   own audio back (ferrisk unprotected it, then protected the echo),
//!   `sip show channelstats` counts the packets both ways and shows a round-trip time (the
//!   SRTCP reports were decrypted both ways); `sip show peer` says `Encryption   : Yes`;
//! * a plain phone on an `encryption=yes` peer is refused with 488;
//! * an SRTP leg bridged by Dial() to a plain-RTP leg, both ways round (ferrisk answering an
//!   SRTP offer, and offering SRTP to an `encryption=yes` callee): both phones hear each
//!   other.
//!
//! Needs `baresip` (Debian's `baresip-core`); a missing binary or `srtp.so` fails the test.

mod common;

use common::audio::*;
use common::*;
use std::path::Path;
use std::time::Duration;

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[srtp]
exten => 500,1,Answer()
 same => n,Echo()
exten => 700,1,Dial(SIP/phoneb,10)
exten => 701,1,Dial(SIP/phonec,10)
";

struct Pbx {
    d: Daemon,
    sip: u16,
}

/// A daemon with peer 1000 (`encryption=yes`, password s1000), guests into `[srtp]`, the
/// `more` peers, and RTP ports for four legs.
fn start(more: &str) -> Pbx {
    let sip = free_port();
    let base = free_ports(10);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=srtp\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\nallow=alaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\nencryption=yes\n\n{more}"
    );
    // Our RTCP every second: the phone's next report (every 5 s) has our last one in it.
    let rtp_conf = format!(
        "[general]\nrtpstart={rtp}\nrtpend={}\nrtcpinterval=1000\n",
        rtp + 7
    );
    let dir = tempdir();
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_DATA),
            ("extensions.conf", EXTENSIONS),
            ("sip.conf", &sip_conf),
            ("rtp.conf", &rtp_conf),
        ],
    );
    Pbx {
        d: Daemon::launch(dir),
        sip,
    }
}

/// A phone sending `audio`, recording what it hears (`dumped("dec")`), with SRTP mandatory
/// when `srtp`; `account` is the accounts line without the media options.
fn phone(p: &Pbx, ports: u16, account: &str, audio: &[i16], srtp: bool) -> Baresip {
    // In the daemon's dir, which outlives the phone.
    let wav = p.d.path().join(format!("source-{ports}.wav"));
    std::fs::write(&wav, ferrisk::media::wav::wav_bytes(audio)).expect("source wav");
    let (account, modules): (String, &[&str]) = if srtp {
        (format!("{account};mediaenc=srtp-mand"), &["srtp.so"])
    } else {
        (account.to_string(), &[])
    };
    Baresip::start_modules(ports, &[account], Some(wav.as_path()), true, modules)
}

/// baresip's libsrtp says the call's audio is SRTP with `suite`.
fn assert_srtp(b: &Baresip, suite: &str) {
    let want = format!("srtp: audio: SRTP is Enabled (cryptosuite={suite})");
    assert!(b.log().contains(&want), "no `{want}`:\n{}", b.log());
}

fn heard(b: &Baresip) -> Vec<i16> {
    let d = b.dumped("dec");
    assert_eq!(d.len(), 1, "one received-audio dump: {d:?}\n{}", b.log());
    read_dump(&d[0])
}

/// `sip show channelstats`: (received, sent) packets of every call leg.
fn channel_packets(d: &Daemon) -> Vec<(u64, u64)> {
    let out = d.rx("sip show channelstats");
    out.lines()
        .filter(|l| l.starts_with("127.0.0.1 "))
        .map(|row| {
            let cols: Vec<&str> = row.split_whitespace().filter(|c| *c != "(").collect();
            let n = |s: &str| s.trim_end_matches('K').parse::<u64>().unwrap_or(0);
            (n(cols[3]), n(cols[7]))
        })
        .collect()
}

#[test]
fn srtp_phone_registered_over_udp_hears_its_echo() {
    let p = start("");
    let shown = p.d.rx("sip show peer 1000");
    assert!(shown.contains("  Encryption   : Yes\n"), "{shown}");
    // 12 s: the phone hangs up when its source ends (the call lasts about 6 s).
    let sent = noise(21, 96000);
    let mut b = phone(
        &p,
        free_ports(3),
        &format!("<sip:1000@127.0.0.1:{}>;auth_pass=s1000;regint=60", p.sip),
        &sent,
        true,
    );
    b.wait_registered(10);
    b.request("dial", &format!("sip:500@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(3000));
    let legs = channel_packets(&p.d);
    // SRTCP both ways: a round-trip time needs the phone's report on our sender report
    // (LSR/DLSR), so each side decrypted the other's RTCP.
    p.d.rx_until("sip show channelstats", 15, |o| {
        o.lines()
            .find(|l| l.starts_with("127.0.0.1 "))
            .and_then(|row| row.split_whitespace().last())
            .is_some_and(|rtt| rtt.parse::<f64>().is_ok())
    });
    b.command("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
    assert_eq!(legs.len(), 1, "one SIP leg: {legs:?}");
    let (rx, tx) = legs[0];
    assert!(
        rx >= 100 && tx >= 100,
        "ferrisk received {rx} and sent {tx} packets in 3 s\n{}",
        b.log()
    );
    assert_srtp(&b, "AES_CM_128_HMAC_SHA1_80");
    let got = heard(&b);
    let (c, n) = trimmed_corr(&sent, &got, 16000);
    assert!(
        c >= 0.95 && n >= 8000,
        "the phone heard its echo: correlation {c:.3} over {n} of {} samples\n{}\n{}",
        got.len(),
        p.d.stderr(),
        b.log()
    );
}

#[test]
fn plain_phone_on_an_encryption_peer_gets_488() {
    let p = start("");
    let mut b = phone(
        &p,
        free_ports(3),
        &format!("<sip:1000@127.0.0.1:{}>;auth_pass=s1000;regint=60", p.sip),
        &noise(22, 16000),
        false,
    );
    b.wait_registered(10);
    b.request("dial", &format!("sip:500@127.0.0.1:{}", p.sip));
    let closed = b.wait_event("CALL_CLOSED", 10);
    assert!(closed.contains("488"), "{closed}\n{}", b.log());
    assert!(
        !b.seen.iter().any(|e| e.contains("CALL_ESTABLISHED")),
        "{:?}",
        b.seen
    );
}

/// Caller `a` dials `exten`, callee `b` answers by itself; both talk for 3 s; each must
/// hear the other.
fn bridged_both_ways(
    p: &Pbx,
    a: &mut Baresip,
    b: &mut Baresip,
    exten: &str,
    sa: &[i16],
    sb: &[i16],
) {
    a.request("dial", &format!("sip:{exten}@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    a.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(3000));
    let legs = channel_packets(&p.d);
    a.command("hangup", "");
    a.wait_event("CALL_CLOSED", 10);
    b.wait_event("CALL_CLOSED", 10);
    assert_eq!(legs.len(), 2, "two SIP legs: {legs:?}");
    for (rx, tx) in &legs {
        assert!(*rx >= 100 && *tx >= 100, "packets per leg: {legs:?}");
    }
    let (ha, hb) = (heard(a), heard(b));
    let (ca, na) = trimmed_corr(sb, &ha, 16000);
    let (cb, nb) = trimmed_corr(sa, &hb, 16000);
    assert!(
        ca >= 0.95 && cb >= 0.95 && na >= 8000 && nb >= 8000,
        "A heard B: {ca:.3} over {na} of {} samples; B heard A: {cb:.3} over {nb} of {} \
         samples\n{}\n--- A:\n{}\n--- B:\n{}",
        ha.len(),
        hb.len(),
        p.d.stderr(),
        a.log(),
        b.log()
    );
}

#[test]
fn srtp_caller_bridged_to_a_plain_phone_both_hear() {
    let ports_b = free_ports(3);
    let p = start(&format!(
        "[phoneb]\ntype=peer\nhost=127.0.0.1\nport={ports_b}\ndefaultuser=phoneb\n"
    ));
    let (sa, sb) = (noise(31, 80000), noise(32, 80000));
    let mut b = phone(
        &p,
        ports_b,
        &format!("<sip:phoneb@127.0.0.1:{}>;regint=0;answermode=auto", p.sip),
        &sb,
        false,
    );
    let mut a = phone(
        &p,
        free_ports(3),
        &format!("<sip:1000@127.0.0.1:{}>;auth_pass=s1000;regint=60", p.sip),
        &sa,
        true,
    );
    a.wait_registered(10);
    bridged_both_ways(&p, &mut a, &mut b, "700", &sa, &sb);
    assert_srtp(&a, "AES_CM_128_HMAC_SHA1_80");
    assert!(!b.log().contains("SRTP is Enabled"), "{}", b.log());
}

#[test]
fn plain_caller_bridged_to_an_encryption_peer_both_hear() {
    let ports_c = free_ports(3);
    let p = start(&format!(
        "[phonec]\ntype=peer\nhost=127.0.0.1\nport={ports_c}\ndefaultuser=phonec\n\
         encryption=yes\n"
    ));
    let (sa, sc) = (noise(41, 80000), noise(42, 80000));
    // The callee takes only SRTP: ferrisk's RTP/SAVP offer and its keys must do.
    let mut c = phone(
        &p,
        ports_c,
        &format!("<sip:phonec@127.0.0.1:{}>;regint=0;answermode=auto", p.sip),
        &sc,
        true,
    );
    let mut a = phone(
        &p,
        free_ports(3),
        &format!("<sip:guest@127.0.0.1:{}>;regint=0", p.sip),
        &sa,
        false,
    );
    bridged_both_ways(&p, &mut a, &mut c, "701", &sa, &sc);
    assert_srtp(&c, "AES_CM_128_HMAC_SHA1_80");
    assert!(!a.log().contains("SRTP is Enabled"), "{}", a.log());
}

/// The module list the phones load exists (a missing `srtp.so` must fail, not skip).
#[test]
fn baresip_has_its_srtp_module() {
    require_bin("baresip", "baresip-core");
    assert!(
        Path::new("/usr/lib/baresip/modules/srtp.so").exists(),
        "baresip-core ships srtp.so"
    );
}

/// Hold and resume (two re-INVITEs) on an SRTP call: both are answered with SRTP and ferrisk
/// goes on taking the phone's SRTP after the resume. (What the phone hears after a hold is
/// not checked: baresip's `sndfile` stops its received-audio dump at the hold.)
#[test]
fn srtp_call_survives_hold_and_resume() {
    let p = start("");
    let sent = noise(51, 80000);
    let mut b = phone(
        &p,
        free_ports(3),
        &format!("<sip:1000@127.0.0.1:{}>;auth_pass=s1000;regint=60", p.sip),
        &sent,
        true,
    );
    b.wait_registered(10);
    b.request("dial", &format!("sip:500@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(1500));
    b.request("hold", "");
    std::thread::sleep(Duration::from_millis(1000));
    b.request("resume", "");
    std::thread::sleep(Duration::from_millis(500));
    let before = channel_packets(&p.d);
    std::thread::sleep(Duration::from_millis(3000));
    let after = channel_packets(&p.d);
    b.command("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
    assert!(
        before.len() == 1 && after.len() == 1 && after[0].0 >= before[0].0 + 100,
        "ferrisk takes the phone's SRTP after the resume: {before:?} then {after:?}\n{}",
        b.log()
    );
    let log = b.log();
    assert!(
        log.contains("call: hold ") && log.contains("call: resume "),
        "baresip never held and resumed the call:\n{log}"
    );
    // Both re-INVITEs were answered with SRTP (baresip insists: srtp-mand).
    assert_eq!(
        log.matches("srtp: audio: SRTP is Enabled").count(),
        3,
        "SRTP at the call and after the hold and the resume:\n{log}"
    );
}
