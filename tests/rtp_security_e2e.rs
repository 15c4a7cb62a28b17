//! Issue 19, media side, end to end against the real daemon: SIPp does the signalling
//! (tests/sipp/uac_media.xml), the test is the caller's RTP and an attacker's.
//!
//! * RTP sprayed at the call's media port (read from ferrisk's SDP answer) before the
//!   caller's first packet and again mid-call, with valid headers and random SSRCs, neither
//!   takes over the call's audio nor interrupts it: Echo() keeps returning the caller's
//!   audio, the attacker gets nothing and its audio never reaches the caller; also with
//!   `nat=force_rport,comedia` and the caller behind a "NAT" (sending from another port than
//!   its SDP names).
//! * A flood of RFC 2833 events at a channel in Wait(): ferrisk lives on and the call works.
//! * `sip show channelstats` counts the call's packets and shows what the caller's RTCP
//!   reported; ferrisk sends RTCP reports to the caller.
//! * Bad `rtp.conf` values stop start-up with file:line:column; on `sip reload` they keep
//!   the running configuration. A full RTP port range answers a call at once.

mod common;

use common::audio::noise;
use common::*;
use ferrisk::media::g711::{ulaw_decode, ulaw_encode};
use ferrisk::media::rtcp::{ntp_middle, parse_compound};
use ferrisk::media::rtp::{rtcp_receiver_report, ReportBlock, RtpPacket};
use std::collections::HashSet;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[calls]
exten => echo,1,Answer()
 same => n,Echo()
 same => n,Hangup()
exten => hold,1,Answer()
 same => n,Wait(20)
exten => flood,1,Answer()
 same => n,Wait(4)
 same => n,Echo()
 same => n,Hangup()

[public]
";

struct Pbx {
    d: Daemon,
    sip: u16,
    /// The rtp.conf range.
    rtp: (u16, u16),
}

/// ferrisk with peer 1000 (`peer_extra` added to it) and an RTP range of `pairs` even ports
/// (`rtp_extra` added to rtp.conf's [general]).
fn start(peer_extra: &str, pairs: u16, rtp_extra: &str) -> Pbx {
    let sip = free_port();
    let base = free_ports(2 * pairs + 2);
    let lo = base + (base & 1);
    let hi = lo + 2 * pairs - 1;
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=calls\ndisallow=all\n\
         allow=ulaw\n{peer_extra}\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={lo}\nrtpend={hi}\n{rtp_extra}");
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf),
        ("rtp.conf", &rtp_conf),
    ]);
    Pbx {
        d,
        sip,
        rtp: (lo, hi),
    }
}

/// A call from 1000 whose SDP names `sdp_port`, SIPp's message log in a file of ours (read
/// while the call runs).
struct Call {
    sipp: SippChild,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Call {
    fn start(p: &Pbx, exten: &str, sdp_port: u16) -> Call {
        let dir = tempdir();
        let log = dir.path().join("messages.log");
        let sipp = Sipp::new("uac_media.xml", Some(p.sip))
            .local_port(free_port())
            .service(exten)
            .key("from_user", "1000")
            .key("rtp_port", sdp_port)
            .auth("1000", "s1000")
            .timeout(40)
            .arg("-message_file")
            .arg(log.display().to_string())
            .spawn();
        Call {
            sipp,
            log,
            _dir: dir,
        }
    }

    /// ferrisk's RTP port, from the `m=audio` line of its 200 OK (waits for it).
    fn media_port(&self) -> u16 {
        wait_for(15, "ferrisk's 200 OK with SDP", || {
            let text = std::fs::read_to_string(&self.log).ok()?;
            let ok = &text[text.find("SIP/2.0 200 OK")?..];
            let m = &ok[ok.find("\nm=audio ")? + 9..];
            m.split_whitespace().next()?.parse().ok()
        })
    }
}

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_nonblocking(true).expect("nonblocking");
    s
}

fn port_of(s: &UdpSocket) -> u16 {
    s.local_addr().expect("addr").port()
}

/// The caller's k-th 20 ms frame: distinct noise, µ-law.
fn caller_frame(k: u32) -> Vec<u8> {
    ulaw_encode(&noise(1000 + k, 160))
}

/// Every packet waiting on `s`: (payload type, SSRC, decoded payload).
fn drain(s: &UdpSocket) -> Vec<(u8, u32, Vec<i16>)> {
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    while let Ok((n, _)) = s.recv_from(&mut buf) {
        if let Ok(p) = RtpPacket::parse(&buf[..n]) {
            out.push((p.payload_type, p.ssrc, ulaw_decode(&p.payload)));
        }
    }
    out
}

/// The attacker: valid RTP with a new random SSRC each packet, sequence numbers in order
/// (the harder case), a payload that is recognisable if it ever comes back.
struct Attacker {
    sock: UdpSocket,
    seq: u16,
    rng: u32,
    sent: u32,
}

const ATTACK_SAMPLE: u8 = 0x2a;

impl Attacker {
    fn new() -> Attacker {
        Attacker {
            sock: socket(),
            seq: 7,
            rng: std::process::id(),
            sent: 0,
        }
    }

    fn spray(&mut self, to: &str, n: u32) {
        for _ in 0..n {
            self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let ssrc = self.rng;
            let ts = u32::from(self.seq).wrapping_mul(160);
            let pkt = RtpPacket::new(0, self.seq, ts, ssrc, vec![ATTACK_SAMPLE; 160]);
            let _ = self.sock.send_to(&pkt.serialize(), to);
            self.seq = self.seq.wrapping_add(1);
            self.sent += 1;
        }
    }
}

/// RFC 4733 packet for `event` (end bit set), sent from `from`.
fn send_event(from: &UdpSocket, to: &str, seq: u16, ts: u32, event: u8) {
    let ev = [event, 0x80 | 10, 0x03, 0x20];
    let _ = from.send_to(
        &RtpPacket::new(101, seq, ts, 0x5eed, ev.to_vec()).serialize(),
        to,
    );
}

/// End Echo() with '#' (three end packets, as a phone sends them).
fn hash(from: &UdpSocket, to: &str, seq: u16) {
    for i in 0..3u16 {
        send_event(from, to, seq + i, 999_040, 11);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What came of a call with a sprayed media port.
struct SprayOutcome {
    /// Caller frames sent in each window, and how many of them came back.
    before_spray: (usize, usize),
    during_spray: (usize, usize),
    after_spray: (usize, usize),
    /// Packets the caller got that carried the attacker's audio.
    attack_echoed: usize,
    /// Packets the attacker got from ferrisk.
    attacker_got: usize,
    attacker_sent: u32,
}

/// A call to Echo(): the attacker sprays ferrisk's media port for 300 ms before the
/// caller's first packet, the caller sends 5 s of audio from `caller` (its SDP names
/// `sdp_port`), the attacker sprays again during the middle two seconds.
fn sprayed_echo_call(p: &Pbx, caller: &UdpSocket, sdp_port: u16) -> SprayOutcome {
    let call = Call::start(p, "echo", sdp_port);
    let port = call.media_port();
    assert!(
        (p.rtp.0..=p.rtp.1).contains(&port) && port.is_multiple_of(2),
        "ferrisk's SDP names port {port}, outside {:?}",
        p.rtp
    );
    let to = format!("127.0.0.1:{port}");
    let mut attacker = Attacker::new();
    // Before the caller's first packet.
    for _ in 0..150 {
        attacker.spray(&to, 1);
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut sent: Vec<Vec<i16>> = Vec::new();
    let mut got: Vec<(u8, u32, Vec<i16>)> = Vec::new();
    let mut attacker_got = 0;
    let start = Instant::now();
    for k in 0..250u32 {
        let f = caller_frame(k);
        let pkt = RtpPacket::new(0, 1000 + k as u16, 50_000 + 160 * k, 0x5eed, f.clone());
        let _ = caller.send_to(&pkt.serialize(), &to);
        sent.push(ulaw_decode(&f));
        if (100..200).contains(&k) {
            attacker.spray(&to, 5);
        }
        let next = start + Duration::from_millis(20 * u64::from(k + 1));
        while Instant::now() < next {
            got.extend(drain(caller));
            attacker_got += drain(&attacker.sock).len();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    got.extend(drain(caller));
    attacker_got += drain(&attacker.sock).len();
    hash(caller, &to, 1300);
    call.sipp
        .wait()
        .assert_ok("Echo() ends on '#' and ferrisk hangs up");
    let back: HashSet<&Vec<i16>> = got.iter().filter(|g| g.0 == 0).map(|g| &g.2).collect();
    let window = |r: std::ops::Range<usize>| {
        let n = r.len();
        (n, sent[r].iter().filter(|f| back.contains(f)).count())
    };
    let attack = ulaw_decode(&[ATTACK_SAMPLE; 160]);
    SprayOutcome {
        // The first 25 frames are the call settling (jitter buffer, Echo starting).
        before_spray: window(25..100),
        during_spray: window(100..200),
        after_spray: window(200..250),
        attack_echoed: got.iter().filter(|g| g.2 == attack).count(),
        attacker_got,
        attacker_sent: attacker.sent,
    }
}

fn assert_unharmed(o: &SprayOutcome, what: &str, stderr: &str) {
    let ok = |(n, back): (usize, usize)| back * 100 >= n * 95;
    assert!(
        ok(o.before_spray) && ok(o.during_spray) && ok(o.after_spray),
        "{what}: the caller's audio must keep coming back: {:?} before, {:?} during, {:?} \
         after the mid-call spray (sent, echoed)\n{stderr}",
        o.before_spray,
        o.during_spray,
        o.after_spray
    );
    assert_eq!(
        o.attack_echoed, 0,
        "{what}: the attacker's audio reached the caller"
    );
    assert_eq!(
        o.attacker_got, 0,
        "{what}: the attacker received the call's audio"
    );
    assert_eq!(o.attacker_sent, 650);
}

/// A sprayed call to Echo() with peer 1000 set up with `peer_extra`; `behind_nat`: the SDP
/// names a port the caller never sends from (its private address, as it were), so ferrisk
/// must learn the caller's real source amid the spray.
fn spray_test(peer_extra: &str, behind_nat: bool, what: &str) {
    let p = start(peer_extra, 3, "");
    let caller = socket();
    let sdp_named = socket();
    let sdp_port = port_of(if behind_nat { &sdp_named } else { &caller });
    let o = sprayed_echo_call(&p, &caller, sdp_port);
    assert_unharmed(&o, what, &p.d.stderr());
}

#[test]
fn sprayed_rtp_neither_takes_over_nor_interrupts_a_call() {
    spray_test("", false, "strictrtp default, nat default");
}

#[test]
fn sprayed_rtp_does_not_take_over_a_comedia_call_behind_nat() {
    spray_test("nat=force_rport,comedia\n", true, "nat=force_rport,comedia");
}

#[test]
fn a_dtmf_flood_leaves_ferrisk_and_the_call_working() {
    let p = start("", 3, "");
    let caller = socket();
    let call = Call::start(&p, "flood", port_of(&caller));
    let to = format!("127.0.0.1:{}", call.media_port());
    // 5,000 separate key presses during Wait(4), nobody reading them.
    let t = Instant::now();
    for i in 0..5000u32 {
        send_event(&caller, &to, i as u16, i * 1000, (1 + i % 9) as u8);
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "the flood took too long"
    );
    assert!(p.d.rx("core show uptime").contains("uptime"));
    // After Wait(), Echo() runs: the caller's audio comes back.
    std::thread::sleep(Duration::from_secs(4));
    let mut sent = Vec::new();
    let mut back = HashSet::new();
    let start = Instant::now();
    for k in 0..150u32 {
        let f = caller_frame(k);
        let pkt = RtpPacket::new(0, 6000 + k as u16, 5_000_000 + 160 * k, 0x5eed, f.clone());
        let _ = caller.send_to(&pkt.serialize(), &to);
        sent.push(ulaw_decode(&f));
        while Instant::now() < start + Duration::from_millis(20 * u64::from(k + 1)) {
            back.extend(drain(&caller).into_iter().filter(|g| g.0 == 0).map(|g| g.2));
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let echoed = sent[50..].iter().filter(|f| back.contains(*f)).count();
    assert!(
        echoed >= 95,
        "after the flood only {echoed}/100 frames came back\n{}",
        p.d.stderr()
    );
    hash(&caller, &to, 6200);
    call.sipp.wait().assert_ok("the call ends normally");
}

/// An even port with its odd neighbour, both bound (the caller's RTP and RTCP).
fn socket_pair() -> (UdpSocket, UdpSocket) {
    loop {
        let base = free_ports(3);
        let even = base + (base & 1);
        let (Ok(a), Ok(b)) = (
            UdpSocket::bind(("127.0.0.1", even)),
            UdpSocket::bind(("127.0.0.1", even + 1)),
        ) else {
            continue;
        };
        for s in [&a, &b] {
            s.set_nonblocking(true).expect("nonblocking");
        }
        return (a, b);
    }
}

#[test]
fn sip_show_channelstats_counts_packets_and_shows_the_rtcp_reports() {
    let p = start("", 3, "rtcpinterval=1000\n");
    let (caller, caller_rtcp) = socket_pair();
    let call = Call::start(&p, "echo", port_of(&caller));
    let port = call.media_port();
    let to = format!("127.0.0.1:{port}");
    let mut ferrisk_ssrc = None;
    let mut sr_seen = None;
    let mut rr_sent = false;
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    // 150 frames, sequence numbers 5 apart once: 4 lost.
    for k in 0..150u32 {
        let seq = 100 + k as u16 + if k >= 75 { 4 } else { 0 };
        let pkt = RtpPacket::new(0, seq, 160 * k, 0x5eed, caller_frame(k));
        let _ = caller.send_to(&pkt.serialize(), &to);
        while Instant::now() < start + Duration::from_millis(20 * u64::from(k + 1)) {
            if let Some(g) = drain(&caller).first() {
                ferrisk_ssrc = Some(g.1);
            }
            while let Ok((n, _)) = caller_rtcp.recv_from(&mut buf) {
                let reports = parse_compound(&buf[..n]).expect("ferrisk's RTCP parses");
                if let Some(sr) = reports.iter().find_map(|r| r.sender.map(|s| (r, s))) {
                    sr_seen = Some((sr.0.clone(), sr.1, Instant::now()));
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Answer ferrisk's sender report with a receiver report: 7 of its packets lost,
        // jitter 160 (20 ms), and LSR/DLSR for the round trip.
        if let (Some(ssrc), Some((_, info, at)), false) = (ferrisk_ssrc, &sr_seen, rr_sent) {
            let dlsr = (at.elapsed().as_micros() * 65_536 / 1_000_000) as u32;
            let block = ReportBlock {
                ssrc,
                fraction_lost: 0,
                cumulative_lost: 7,
                extended_highest_sequence: 0,
                jitter: 160,
                last_sr: ntp_middle(info.ntp),
                delay_since_last_sr: dlsr,
            };
            let rr = rtcp_receiver_report(0x5eed, &[block]);
            let _ = caller_rtcp.send_to(&rr, format!("127.0.0.1:{}", port + 1));
            rr_sent = true;
        }
    }
    let (report, _, _) = sr_seen.expect("ferrisk sent an RTCP sender report to RTP port + 1");
    let ours = report.blocks.iter().find(|b| b.ssrc == 0x5eed);
    assert!(
        ours.is_some_and(|b| b.cumulative_lost >= 0),
        "ferrisk's report has a block on the caller's stream: {report:?}"
    );
    assert!(rr_sent, "the test answered ferrisk's report");
    let out = p.d.rx("sip show channelstats");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Peer             Call ID      Duration Recv: Pack  Lost       "),
        "{out}"
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with("127.0.0.1 "))
        .unwrap_or_else(|| panic!("no row for the call:\n{out}"));
    // Peer, Call ID, Duration, Recv: Pack, Lost, (%), Jitter, Send: Pack, Lost, (%),
    // Jitter, RTT (a percentage below 10 is "( 0.00%)": the lone "(" is dropped).
    let cols: Vec<&str> = row.split_whitespace().filter(|c| *c != "(").collect();
    let recv: u64 = cols[3].parse().expect("Recv: Pack");
    assert!((140..=150).contains(&recv), "received packets: {row}");
    assert_eq!(cols[4], "0000000004", "lost: {row}");
    let sent: u64 = cols[7].trim_end_matches('K').parse().expect("Send: Pack");
    assert!(sent >= 100, "sent packets: {row}");
    assert_eq!(cols[8], "0000000007", "the loss the caller reported: {row}");
    assert_eq!(cols[10], "0.0200", "the jitter the caller reported: {row}");
    let rtt: f64 = cols[11].parse().unwrap_or(f64::MAX);
    assert!(rtt < 0.5, "round trip from LSR/DLSR: {row}");
    assert!(out.ends_with("1 active SIP channel\n"), "{out}");
    hash(&caller, &to, 400);
    call.sipp.wait().assert_ok("the call ends normally");
    let out = p.d.rx("sip show channelstats");
    assert!(out.ends_with("0 active SIP channels\n"), "{out}");
}

#[test]
fn bad_rtp_conf_values_stop_start_up_with_their_place() {
    let dir = tempdir();
    let sip = free_port();
    let conf = write_configs(
        dir.path(),
        &[
            ("extensions.conf", EXTENSIONS),
            (
                "sip.conf",
                &format!("[general]\nbindaddr=127.0.0.1\nbindport={sip}\n"),
            ),
            (
                "rtp.conf",
                "[general]\nrtpstart=10000\nrtpend=ten thousand\nstrictrtp=sometimes\n",
            ),
        ],
    );
    let err = start_must_fail(&conf);
    assert!(
        err.contains("rtp.conf:3:1: rtpend: expected a port number"),
        "{err}"
    );
    assert!(
        err.contains("rtp.conf:4:1: strictrtp: expected yes, no or seqno"),
        "{err}"
    );
}

#[test]
fn a_bad_rtp_conf_on_reload_keeps_the_running_one() {
    let p = start("", 1, "");
    let rtp_conf = p.d.path().join("rtp.conf");
    let good = std::fs::read_to_string(&rtp_conf).expect("rtp.conf");
    std::fs::write(&rtp_conf, format!("{good}probation=many\n")).expect("write");
    let out = p.d.rx("sip reload");
    assert!(
        out.contains("rtp.conf:4:1: probation: expected a number of packets"),
        "{out}"
    );
    let out = p.d.rx("module reload chan_sip.so");
    assert!(out.contains("rtp.conf:4:1: probation"), "{out}");
    // The running range still serves calls.
    let caller = socket();
    let call = Call::start(&p, "echo", port_of(&caller));
    let port = call.media_port();
    assert_eq!(port, p.rtp.0, "the call got a port of the running range");
    hash(&caller, &format!("127.0.0.1:{port}"), 1);
    call.sipp.wait().assert_ok("the call ends normally");
}

#[test]
fn a_full_rtp_range_is_answered_at_once() {
    // One port pair: the first call holds it, the second is refused without delay.
    let p = start("", 1, "");
    let holder = socket();
    let first = Call::start(&p, "hold", port_of(&holder));
    assert_eq!(first.media_port(), p.rtp.0);
    let t = Instant::now();
    Sipp::new("uac_fail.xml", Some(p.sip))
        .local_port(free_port())
        .service("hold")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .set("expect", 503)
        .run()
        .assert_ok("503 when no RTP port is free");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
}
