//! misc2: end-to-end tests of ForkCDR, VoiceMailPlayMsg, AELSub, PERIODIC_HOOK and the
//! other issue-17 leftovers against the real daemon, with SIPp phones: the CDR rows in
//! Master.csv, the audio the caller receives (RTP read by the test itself).

use crate::common::*;
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[public]

[misc2]
exten => fork,1,Answer()
 same => n,Set(CDR(userfield)=first)
 same => n,Wait(1.2)
 same => n,ForkCDR(er)
 same => n,Set(CDR(userfield)=second)
 same => n,ForkCDR()
 same => n,Wait(0.5)
 same => n,Hangup()
exten => playmsg,1,VoiceMailPlayMsg(1002@default,1795466000-00000042)
 same => n,Set(DB(misc2/played)=${VOICEMAIL_PLAYBACKSTATUS})
 same => n,VoiceMailPlayMsg(1002,no-such-id)
 same => n,Set(DB(misc2/missing)=${VOICEMAIL_PLAYBACKSTATUS})
 same => n,Hangup()
exten => ael,1,Answer()
 same => n,AELSub(myroutine,a,b c)
 same => n,Set(DB(misc2/ael)=${GOSUB_RETVAL})
 same => n,Hangup()
exten => hook,1,Answer()
 same => n,Set(DB(misc2/hookid)=${PERIODIC_HOOK(__func_periodic_hook_context__,beep,2)})
 same => n,Playback(quiet)
 same => n,Hangup()

[myroutine]
exten => ~~s~~,1,Set(DB(misc2/aelargs)=${ARGC}:${ARG1}:${ARG2})
 same => n,Return(${ARG1}-${ARG2})
";

/// The daemon with peer 1000 (secret s1000, context misc2) and guests, a two-port RTP range
/// per leg, cdr_csv logging the userfield.
struct Pbx {
    d: Daemon,
    sip: u16,
}

fn start(extra: &[(&str, &str)]) -> Pbx {
    let sip = free_port();
    let base = free_ports(8);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=misc2\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=misc2\ndisallow=all\n\
         allow=ulaw\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 5);
    let mut files = vec![
        ("ferrisk.conf", FERRISK_CONF_DATA),
        ("voicemail.conf", "[general]\n[default]\n1002 => 4321,Bob\n"),
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", sip_conf.as_str()),
        ("rtp.conf", rtp_conf.as_str()),
        (
            "cdr.conf",
            "[general]\nenable=yes\n[csv]\nloguserfield=yes\n",
        ),
    ];
    files.extend_from_slice(extra);
    let dir = tempdir();
    write_configs(dir.path(), &files);
    let sounds = dir.path().join("data/sounds");
    std::fs::create_dir_all(sounds.join("en")).expect("sounds dir");
    std::fs::copy(beep_wav(), sounds.join("beep.wav")).expect("copy beep.wav");
    // 5.5 s of silence: the call keeps sending frames, which the hook's audio is mixed into.
    std::fs::write(
        sounds.join("quiet.wav"),
        ferrisk::media::wav::wav_bytes(&vec![0; 8000 * 11 / 2]),
    )
    .expect("quiet.wav");
    let d = Daemon::launch(dir);
    Pbx { d, sip }
}

/// A call from 1000 to `exten` that waits for ferrisk's BYE, in the background.
fn call(p: &Pbx, exten: &str) -> SippChild {
    Sipp::new("uac_call_recv_bye.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(30)
        .spawn()
}

fn beep_wav() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav")
}

/// A call from 1000 to `exten` whose SDP names the test's socket; everything received
/// (µ-law payloads decoded) until ferrisk hangs up.
fn call_and_listen(p: &Pbx, exten: &str) -> (Vec<i16>, SippResult) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let mut sipp = Sipp::new("uac_media.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "1000")
        .key("rtp_port", sock.local_addr().expect("addr").port())
        .auth("1000", "s1000")
        .timeout(30)
        .spawn();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(30);
    while sipp.running() && Instant::now() < deadline {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n > 12 && buf[1] & 0x7f == 0 {
                got.extend(ferrisk::media::g711::ulaw_decode(&buf[12..n]));
            }
        }
    }
    (got, sipp.wait())
}

/// Master.csv's rows of the channels whose name starts with `chan`, once there are `n`.
fn csv_rows(d: &Daemon, chan: &str, n: usize) -> Vec<Vec<String>> {
    let csv = d.path().join("log/cdr-csv/Master.csv");
    wait_for(20, &format!("{n} CDR rows of {chan}"), || {
        let text = std::fs::read_to_string(&csv).unwrap_or_default();
        let rows: Vec<Vec<String>> = text
            .lines()
            .map(|l| {
                l.split(',')
                    .map(|c| c.trim_matches('"').to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|c| c.get(5).is_some_and(|ch| ch.starts_with(chan)))
            .collect();
        (rows.len() >= n).then_some(rows)
    })
}

/// ForkCDR(er) ends the first record and starts one whose start is the fork time, ForkCDR()
/// then copies that one; all three rows are written, in order.
#[test]
fn forkcdr_writes_the_original_and_the_forked_rows() {
    let p = start(&[]);
    call(&p, "fork").wait().assert_ok("the fork call ran");
    let rows = csv_rows(&p.d, "SIP/1000-", 3);
    assert_eq!(rows.len(), 3, "{rows:?}");
    // accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,
    // duration,billsec,disposition,amaflags,userfield
    let (a, b, c) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(a[2], "fork", "{a:?}");
    assert_eq!((a[7].as_str(), a[8].as_str()), ("ForkCDR", "er"), "{a:?}");
    assert_eq!(a[16], "first", "the original keeps its userfield: {a:?}");
    assert_eq!(a[14], "ANSWERED");
    assert!(b[9] > a[9], "r: the fork starts at the fork: {a:?} {b:?}");
    assert_eq!(b[9], b[10], "r: and is answered then: {b:?}");
    assert_eq!(
        a[11], b[9],
        "e: the original ended at the fork: {a:?} {b:?}"
    );
    assert_eq!(
        (b[7].as_str(), b[16].as_str()),
        ("Hangup", "second"),
        "{b:?}"
    );
    assert_eq!(c[9], b[9], "ForkCDR() copies the start: {c:?}");
    assert_eq!(
        (c[7].as_str(), c[16].as_str()),
        ("Hangup", "second"),
        "{c:?}"
    );
    assert_eq!(b[11], c[11], "both open records end at hangup");
}

/// VoiceMailPlayMsg finds the message by the msg_id in its .txt, the caller hears its audio
/// sample for sample, and the message then moves from INBOX to Old; an unknown id FAILs.
#[test]
fn voicemailplaymsg_plays_the_message_with_that_id_to_the_caller() {
    let p = start(&[]);
    let inbox = p.d.path().join("spool/voicemail/default/1002/INBOX");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    let msg = audio::speechlike(7, 8000 * 2);
    std::fs::write(
        inbox.join("msg0000.wav"),
        ferrisk::media::wav::wav_bytes(&msg),
    )
    .expect("wav");
    std::fs::write(
        inbox.join("msg0000.txt"),
        ";\n; Message Information file\n;\n[message]\norigmailbox=1002\ncontext=default\n\
         callerid=\"A\" <1000>\norigtime=1795466000\nmsg_id=1795466000-00000042\nduration=2\n",
    )
    .expect("txt");
    let (heard, r) = call_and_listen(&p, "playmsg");
    r.assert_ok("the playmsg call");
    assert_eq!(p.d.wait_db("misc2", "played"), "SUCCESS");
    assert_eq!(p.d.wait_db("misc2", "missing"), "FAILED");
    // What was sent, through µ-law, is what arrived.
    let want = ferrisk::media::g711::ulaw_decode(&ferrisk::media::g711::ulaw_encode(&msg));
    let start = heard
        .windows(160)
        .position(|w| w == &want[160..320])
        .unwrap_or_else(|| {
            panic!(
                "the message's second frame never arrived ({} samples)",
                heard.len()
            )
        });
    let got = &heard[start..(start + want.len() - 160).min(heard.len())];
    let same = got.iter().zip(&want[160..]).filter(|(a, b)| a == b).count();
    assert!(
        same + 160 >= want.len() - 160,
        "{same} of {} samples arrived unchanged",
        want.len() - 160
    );
    let old =
        p.d.path()
            .join("spool/voicemail/default/1002/Old/msg0000.txt");
    let txt = std::fs::read_to_string(&old).unwrap_or_default();
    assert!(
        txt.contains("msg_id=1795466000-00000042"),
        "moved to Old: {txt}"
    );
    assert!(!inbox.join("msg0000.txt").exists(), "no longer new");
}

/// AELSub(routine,args) is Gosub(routine,~~s~~,1(args)).
#[test]
fn aelsub_runs_the_routine_from_extensions_conf() {
    let p = start(&[]);
    call(&p, "ael").wait().assert_ok("the AELSub call");
    assert_eq!(p.d.wait_db("misc2", "aelargs"), "2:a:b c");
    assert_eq!(p.d.wait_db("misc2", "ael"), "a-b c");
}

/// PERIODIC_HOOK(__func_periodic_hook_context__,beep,2) while a silent prompt plays: the
/// caller hears the beep at once and again about two seconds later, barged in by the hook's
/// ChanSpy.
#[test]
fn periodic_hook_beeps_are_heard_by_the_caller() {
    let p = start(&[]);
    let (heard, r) = call_and_listen(&p, "hook");
    r.assert_ok("the hook call");
    assert!(p.d.wait_db("misc2", "hookid").parse::<u32>().is_ok());
    // Loud 20 ms frames, grouped in bursts separated by at least 0.5 s of quiet.
    let loud: Vec<usize> = heard
        .chunks(160)
        .enumerate()
        .filter(|(_, c)| c.iter().map(|x| u64::from(x.unsigned_abs())).sum::<u64>() > 160 * 500)
        .map(|(i, _)| i)
        .collect();
    let bursts =
        loud.windows(2).filter(|w| w[1] - w[0] > 25).count() + usize::from(!loud.is_empty());
    assert!(
        bursts >= 2,
        "beeps heard: {bursts} (loud frames {loud:?})\n{}",
        p.d.stderr()
    );
}
