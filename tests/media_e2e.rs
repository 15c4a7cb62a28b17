//! RTP end to end: SIPp does the signalling (tests/sipp/uac_media.xml, SDP pointing at a UDP
//! socket of the test), the test sends and receives the RTP itself, against the real daemon
//! with a small `rtp.conf` range (so the test knows where to send).

mod common;

use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[media]
exten => 500,1,Answer()
 same => n,Echo()
 same => n,Set(DB(test/echo)=done)
 same => n,Hangup()
exten => 501,1,Answer()
 same => n,Wait(20)
exten => 600,1,Dial(SIP/phone,10)
exten => h,1,Set(DB(test/hangup)=${EXTEN})

[public]
";

struct Pbx {
    d: Daemon,
    sip: u16,
    rtp: u16,
}

fn start(peer_extra: &str) -> Pbx {
    start_with(peer_extra, "")
}

fn start_with(peer_extra: &str, more_peers: &str) -> Pbx {
    let sip = free_port();
    // An even RTP port with its RTCP neighbour.
    let base = free_ports(4);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=media\ndisallow=all\n\
         allow=ulaw\n{peer_extra}\n{more_peers}"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 1);
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf),
        ("rtp.conf", &rtp_conf),
    ]);
    Pbx { d, sip, rtp }
}

/// A call from 1000 to `exten`, SDP media at `media_port`, in the background.
fn call(p: &Pbx, exten: &str, media_port: u16) -> SippChild {
    Sipp::new("uac_media.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "1000")
        .key("rtp_port", media_port)
        .auth("1000", "s1000")
        .timeout(30)
        .spawn()
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&0x5eed_u32.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// µ-law of a rising chirp: every 20 ms frame differs.
fn frame(k: u32) -> Vec<u8> {
    let s: Vec<i16> = (0..160)
        .map(|i| {
            let t = f64::from(k * 160 + i) / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * (300.0 + 400.0 * t) * t).sin()) as i16
        })
        .collect();
    ferrisk::media::g711::ulaw_encode(&s)
}

/// µ-law codes that decode to the same sample compare equal (0x7f and 0xff are both 0).
fn norm(p: &[u8]) -> Vec<u8> {
    p.iter()
        .map(|&b| if b == 0x7f { 0xff } else { b })
        .collect()
}

/// Send 4 s of audio from `sock` to the PBX's RTP port at 20 ms pace; how many of the last
/// 100 frames came back unchanged, and the next (seq, timestamp).
fn echo_round(p: &Pbx, sock: &UdpSocket) -> (usize, usize, u16, u32) {
    let to = format!("127.0.0.1:{}", p.rtp);
    let mut sent = Vec::new();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let (mut seq, mut ts) = (1000u16, 50_000u32);
    for k in 0..200u32 {
        let f = frame(k);
        let _ = sock.send_to(&rtp(0, k == 0, seq, ts, &f), &to);
        sent.push(norm(&f));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        let next = start + Duration::from_millis(20 * u64::from(k + 1));
        while Instant::now() < next {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 12 && buf[1] & 0x7f == 0 {
                    got.push(norm(&buf[12..n]));
                }
            }
        }
    }
    // The last 100 frames sent (the call is surely up by then) come back unchanged.
    let back = sent[100..].iter().filter(|f| got.contains(f)).count();
    (back, got.len(), seq, ts)
}

#[test]
fn echo_returns_the_audio_sample_exact_and_hash_ends_it() {
    let p = start("");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    let me = sock.local_addr().expect("addr").port();
    let sipp = call(&p, "500", me);
    let to = format!("127.0.0.1:{}", p.rtp);
    let (back, got, mut seq, ts) = echo_round(&p, &sock);
    assert!(
        back >= 95,
        "only {back}/100 frames echoed ({got} packets received)\n{}",
        p.d.stderr()
    );
    // '#' as RFC 4733 (payload type 101 from the SDP): Echo() ends, the dialplan goes on.
    for (i, (end, dur)) in [
        (false, 160u16),
        (false, 480),
        (true, 800),
        (true, 800),
        (true, 800),
    ]
    .into_iter()
    .enumerate()
    {
        let ev = [
            11u8,
            if end { 0x80 | 10 } else { 10 },
            (dur >> 8) as u8,
            dur as u8,
        ];
        let _ = sock.send_to(&rtp(101, i == 0, seq, ts, &ev), &to);
        seq = seq.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(p.d.wait_db("test", "echo"), "done");
    sipp.wait()
        .assert_ok("call hung up by the dialplan after Echo()");
}

#[test]
fn rtptimeout_hangs_up_a_silent_call() {
    let p = start("rtptimeout=2\n");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr").port();
    let t0 = Instant::now();
    let sipp = call(&p, "501", me);
    assert_eq!(p.d.wait_db("test", "hangup"), "h");
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(10) && took >= Duration::from_secs(2),
        "hung up after {took:?}"
    );
    sipp.wait().assert_ok("BYE after the RTP timeout");
    // The session ended with the call: the range's only port serves the next call.
    p.d.rx("database del test hangup");
    let sipp = call(&p, "501", me);
    assert_eq!(p.d.wait_db("test", "hangup"), "h");
    sipp.wait().assert_ok("second call on the same RTP port");
}

#[test]
fn milliwatt_on_an_originated_sip_call_sends_a_1004_hz_tone() {
    let phone = free_port();
    let p = start_with(
        "",
        &format!(
            "[phone]\ntype=peer\nhost=127.0.0.1\nport={phone}\ncontext=media\n\
             disallow=all\nallow=ulaw\n"
        ),
    );
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let me = sock.local_addr().expect("addr").port();
    let uas = Sipp::new("uas_media_bye.xml", None)
        .local_port(phone)
        .service("phone")
        .key("rtp_port", me)
        .timeout(20)
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    p.d.rx("channel originate SIP/phone application Milliwatt");
    let mut pkts: Vec<(u16, u32, Vec<u8>)> = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(8);
    while pkts.len() < 50 && Instant::now() < deadline {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n > 12 && buf[1] & 0x7f == 0 {
                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                pkts.push((seq, ts, buf[12..n].to_vec()));
            }
        }
    }
    assert!(
        pkts.len() >= 50,
        "only {} RTP packets from the originated channel\n{}",
        pkts.len(),
        p.d.stderr()
    );
    for w in pkts.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].0.wrapping_add(1),
            "consecutive sequence numbers"
        );
        assert_eq!(w[1].1, w[0].1.wrapping_add(160), "20 ms timestamps");
    }
    let s: Vec<i16> = pkts
        .iter()
        .flat_map(|(_, _, p)| ferrisk::media::g711::ulaw_decode(p))
        .collect();
    // 50 packets = 1 s: 1004 cycles, 2008 zero crossings.
    let crossings = s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!(
        (1996..=2020).contains(&crossings),
        "{crossings} zero crossings"
    );
    let peak = s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
    assert!((21000..=24500).contains(&peak), "peak {peak}");
    uas.wait()
        .assert_ok("callee answered, got the tone, hung up");
}

#[test]
fn sipp_rfc2833_pound_from_its_pcap_ends_echo() {
    let p = start("");
    let r = Sipp::new("uac_dtmf_pound.xml", Some(p.sip))
        .local_port(free_port())
        .service("500")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(20)
        .run();
    r.assert_ok("the '#' ended Echo() and the dialplan hung up");
    assert_eq!(p.d.wait_db("test", "echo"), "done");
}

#[test]
fn comedia_sends_to_where_the_rtp_comes_from_not_to_the_sdp() {
    let p = start("nat=comedia\n");
    // The SDP names a port nobody listens on; the RTP comes from another socket.
    let nobody = free_port();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    let sipp = call(&p, "500", nobody);
    let (back, got, _, _) = echo_round(&p, &sock);
    assert!(
        back >= 95,
        "only {back}/100 frames echoed to the latched address ({got} packets)"
    );
    p.d.rx("channel request hangup all");
    sipp.wait().assert_ok("hung up");
}

#[test]
fn a_bridged_sip_to_sip_call_carries_the_callers_audio_to_the_callee() {
    let phone = free_port();
    // Two RTP ports (caller leg, callee leg), both even.
    let sip = free_port();
    let base = free_ports(6);
    let r = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=media\ndisallow=all\n\
         allow=ulaw\n\n\
         [phone]\ntype=peer\nhost=127.0.0.1\nport={phone}\ncontext=media\n\
         disallow=all\nallow=ulaw\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={r}\nrtpend={}\n", r + 3);
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf),
        ("rtp.conf", &rtp_conf),
    ]);
    let callee = UdpSocket::bind("127.0.0.1:0").expect("bind");
    callee
        .set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    let uas = Sipp::new("uas_media_bye.xml", None)
        .local_port(phone)
        .service("phone")
        .key("rtp_port", callee.local_addr().expect("addr").port())
        .timeout(20)
        .spawn();
    let caller = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let p = Pbx { d, sip, rtp: r };
    let sipp = call(&p, "600", caller.local_addr().expect("addr").port());
    // The caller's audio goes to both RTP ports (the test does not know which leg got which).
    // Whatever reaches the callee went caller leg -> bridge -> callee leg.
    let mut sent = Vec::new();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    for k in 0..150u32 {
        let f = frame(k);
        for port in [r, r + 2] {
            let _ = caller.send_to(&rtp(0, k == 0, k as u16, k * 160, &f), ("127.0.0.1", port));
        }
        sent.push(norm(&f));
        let next = start + Duration::from_millis(20 * u64::from(k + 1));
        while Instant::now() < next {
            if let Ok((n, _)) = callee.recv_from(&mut buf) {
                if n > 12 && buf[1] & 0x7f == 0 {
                    got.push(norm(&buf[12..n]));
                }
            }
        }
    }
    let through = sent.iter().filter(|f| got.contains(f)).count();
    assert!(
        through >= 40,
        "only {through} caller frames reached the callee ({} packets)\n{}",
        got.len(),
        p.d.stderr()
    );
    uas.wait().assert_ok("callee hung up");
    sipp.wait().assert_ok("caller got the BYE");
}
