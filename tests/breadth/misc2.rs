//! misc2: end-to-end tests of ForkCDR, VoiceMailPlayMsg, AELSub, PERIODIC_HOOK and the
//! other issue-17 leftovers against the real daemon, with SIPp phones: the CDR rows in
//! Master.csv, the audio the caller receives (RTP read by the test itself).

use crate::common::*;
use std::net::UdpSocket;
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
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", sip_conf.as_str()),
        ("rtp.conf", rtp_conf.as_str()),
        (
            "cdr.conf",
            "[general]\nenable=yes\n[csv]\nloguserfield=yes\n",
        ),
    ];
    files.extend_from_slice(extra);
    let d = Daemon::start_with(&files);
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
