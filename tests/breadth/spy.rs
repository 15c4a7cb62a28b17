//! spy: ChanSpy on a Dial() call between two SIPp phones (the test sends and receives every
//! leg's RTP itself and checks the audio by its tones), whisper into the spied call;
//! MeetMeAdmin / MeetMeChannelAdmin / MEETME_INFO and ConfKick / CONFBRIDGE_INFO /
//! CONFBRIDGE_CHANNELS acting on SIPp participants; Page() to two SIPp phones.

use crate::common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 700,1,Dial(SIP/phoneb,20)
exten => 710,1,Answer()
 same => n,ChanSpy(SIP/phoneb,qw)
exten => 800,1,MeetMe(100,dq)
 same => n,Set(DB(test/kicked)=yes)
 same => n,Hangup()
exten => 810,1,Answer()
 same => n,Set(DB(test/parties)=${MEETME_INFO(parties,100)})
 same => n,MeetMeAdmin(100,M,1)
 same => n,Set(DB(test/mute)=${MEETMEADMINSTATUS})
 same => n,Wait(2)
 same => n,MeetMeAdmin(100,k,1)
 same => n,Set(DB(test/kick)=${MEETMEADMINSTATUS})
 same => n,MeetMeAdmin(100,k,9)
 same => n,Set(DB(test/nouser)=${MEETMEADMINSTATUS})
 same => n,Hangup()
exten => 820,1,ConfBridge(200)
 same => n,Set(DB(test/cbresult)=${CONFBRIDGE_RESULT})
 same => n,Hangup()
exten => 830,1,Answer()
 same => n,Set(DB(test/cbparties)=${CONFBRIDGE_INFO(parties,200)})
 same => n,Set(DB(test/cbchannels)=${CONFBRIDGE_CHANNELS(parties,200)})
 same => n,ConfKick(200)
 same => n,Set(DB(test/confkick)=${CONFKICKSTATUS})
 same => n,Hangup()
exten => 900,1,Page(SIP/phoneb&SIP/phonec,q)
";

struct Pbx {
    d: Daemon,
    sip: u16,
    rtp: u16,
}

/// The daemon with guests allowed, the SIP peers `peers` and RTP sessions for `legs` calls.
fn start(peers: &str, legs: u16) -> Pbx {
    let sip = free_port();
    let base = free_ports(2 * legs + 2);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n{peers}"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 2 * legs - 1);
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf),
        ("rtp.conf", &rtp_conf),
    ]);
    Pbx { d, sip, rtp }
}

fn peer(name: &str, port: u16) -> String {
    format!(
        "[{name}]\ntype=peer\nhost=127.0.0.1\nport={port}\ncontext=guests\ndisallow=all\nallow=ulaw\n"
    )
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    s
}

fn port_of(s: &UdpSocket) -> u16 {
    s.local_addr().expect("addr").port()
}

/// A SIPp phone answering calls to `name` on `port`, its media at `media`.
fn phone(name: &str, port: u16, media: &UdpSocket) -> SippChild {
    Sipp::new("uas_media_wait.xml", None)
        .local_port(port)
        .service(name)
        .key("rtp_port", port_of(media))
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(30)
        .spawn()
}

/// A guest call to `exten`, its media at `media`, in the background.
fn dial(p: &Pbx, exten: &str, media: &UdpSocket) -> SippChild {
    Sipp::new("uac_media_codec.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "guest")
        .key("rtp_port", port_of(media))
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(30)
        .spawn()
}

/// A guest call to `exten` whose dialplan hangs up (no media of interest).
fn call_until_bye(p: &Pbx, exten: &str) -> SippChild {
    Sipp::new("uac_call_recv_bye.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "guest")
        .timeout(30)
        .spawn()
}

fn tone(hz: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (5000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// Goertzel power of `hz` in `s` (8 kHz), normalised by length.
fn power(s: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in s {
        let s0 = f64::from(x) + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (s.len().max(1) as f64).powi(2)
}

/// One phone's RTP, full duplex at 20 ms pace: `signal` (PCMU) goes to ferrisk's port `to`
/// (or, when None, to where ferrisk's packets come from) from `after` on, for `run` in all;
/// what comes back is decoded and kept.
fn leg(
    sock: UdpSocket,
    to: Option<u16>,
    signal: Vec<i16>,
    run: Duration,
) -> std::thread::JoinHandle<Vec<i16>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        let mut dest = to;
        let t0 = Instant::now();
        let mut sent = 0u32;
        while t0.elapsed() < run {
            let due = t0 + Duration::from_millis(20 * u64::from(sent));
            if Instant::now() >= due {
                let i = (sent as usize * 160) % signal.len().max(160);
                if let (Some(port), Some(f)) = (dest, signal.get(i..i + 160)) {
                    let mut pkt = vec![0x80, if sent == 0 { 0x80 } else { 0 }];
                    pkt.extend_from_slice(&(sent as u16).to_be_bytes());
                    pkt.extend_from_slice(&(sent * 160).to_be_bytes());
                    pkt.extend_from_slice(&0x5bee_u32.to_be_bytes());
                    pkt.extend_from_slice(&ferrisk::media::g711::ulaw_encode(f));
                    let _ = sock.send_to(&pkt, ("127.0.0.1", port));
                }
                sent += 1;
            }
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if n > 12 && buf[1] & 0x7f == 0 {
                    dest.get_or_insert(from.port());
                    got.extend(ferrisk::media::g711::ulaw_decode(&buf[12..n]));
                }
            }
        }
        got
    })
}

/// The last `secs` seconds (less the final half second) of what a leg heard.
fn tail(s: &[i16], secs: f64) -> &[i16] {
    let n = (secs * 8000.0) as usize;
    let end = s.len().saturating_sub(4000);
    &s[end.saturating_sub(n)..end]
}

#[test]
fn chanspy_hears_both_parties_of_a_dial_call_and_whispers_to_the_spied_one() {
    let (a, b, s) = (udp(), udp(), udp());
    let phone_port = free_port();
    let p = start(&peer("phoneb", phone_port), 3);
    let uas = phone("phoneb", phone_port, &b);
    let caller = dial(&p, "700", &a);
    // The caller's session opens first, the callee's next, the spy's last.
    p.d.rx_until("core show channels", 10, |o| o.contains("SIP/phoneb-"));
    let (ra, rb, rs) = (p.rtp, p.rtp + 2, p.rtp + 4);
    let (fa, fb, fs) = (300.0, 1100.0, 700.0);
    let ta = leg(a, Some(ra), tone(fa, 8000), Duration::from_secs(7));
    let tb = leg(b, Some(rb), tone(fb, 8000), Duration::from_secs(7));
    std::thread::sleep(Duration::from_millis(800));
    let spy = dial(&p, "710", &s);
    let ts = leg(s, Some(rs), tone(fs, 8000), Duration::from_secs(5));
    let (ha, hb, hs) = (
        ta.join().expect("a"),
        tb.join().expect("b"),
        ts.join().expect("spy"),
    );
    p.d.rx("channel request hangup all");
    let ws = tail(&hs, 2.0);
    let (sa, sb) = (power(ws, fa), power(ws, fb));
    assert!(
        sa > 1e5 && sb > 1e5,
        "the spy hears both parties: {fa} Hz {sa:.0}, {fb} Hz {sb:.0} ({} samples)\n{}",
        hs.len(),
        p.d.stderr()
    );
    assert!(
        power(ws, fs) < sa / 100.0,
        "the spy does not hear itself back much"
    );
    // Whisper: the spied channel (phoneb) hears the spy with the caller; the caller does not.
    let wb = tail(&hb, 2.0);
    let wa = tail(&ha, 2.0);
    assert!(
        power(wb, fs) > 1e5 && power(wb, fa) > 1e5,
        "phoneb hears the caller {:.0} and the whispering spy {:.0}",
        power(wb, fa),
        power(wb, fs)
    );
    assert!(
        power(wa, fs) < power(wa, fb) / 100.0,
        "the caller does not hear the whisper: spy {:.0}, phoneb {:.0}",
        power(wa, fs),
        power(wa, fb)
    );
    for c in [caller, spy, uas] {
        c.wait().assert_ok("hung up");
    }
}

#[test]
fn meetmeadmin_mutes_and_kicks_a_sipp_participant_and_meetme_info_counts() {
    let p = start("", 2);
    let m = udp();
    let member = dial(&p, "800", &m);
    p.d.rx_until("meetme list concise", 10, |o| o.starts_with("100!1!"));
    let admin = call_until_bye(&p, "810");
    assert_eq!(p.d.wait_db("test", "parties"), "1");
    assert_eq!(p.d.wait_db("test", "mute"), "OK");
    let list =
        p.d.rx_until("meetme list 100 concise", 10, |o| o.contains("!1!!-1!"));
    assert!(list.starts_with("1!"), "user 1 admin-muted: {list}");
    assert_eq!(p.d.wait_db("test", "kick"), "OK");
    assert_eq!(
        p.d.wait_db("test", "kicked"),
        "yes",
        "the kicked participant continues in the dialplan"
    );
    assert_eq!(p.d.wait_db("test", "nouser"), "NOTFOUND");
    admin.wait().assert_ok("admin call hung up by the dialplan");
    member
        .wait()
        .assert_ok("kicked member hung up by the dialplan");
}

#[test]
fn confkick_empties_a_confbridge_and_confbridge_info_counts() {
    let p = start("", 2);
    let m = udp();
    let member = dial(&p, "820", &m);
    p.d.rx_until("confbridge list", 10, |o| o.contains("\n200 "));
    let admin = call_until_bye(&p, "830");
    assert_eq!(p.d.wait_db("test", "cbparties"), "1");
    assert!(
        p.d.wait_db("test", "cbchannels").starts_with("SIP/"),
        "CONFBRIDGE_CHANNELS names the participant"
    );
    assert_eq!(p.d.wait_db("test", "confkick"), "SUCCESS");
    assert_eq!(p.d.wait_db("test", "cbresult"), "KICKED");
    admin.wait().assert_ok("admin call hung up by the dialplan");
    member
        .wait()
        .assert_ok("kicked member hung up by the dialplan");
}

#[test]
fn page_calls_two_phones_that_hear_the_pager() {
    let (pager, b, c) = (udp(), udp(), udp());
    let (pb, pc) = (free_port(), free_port());
    let p = start(
        &format!("{}\n{}", peer("phoneb", pb), peer("phonec", pc)),
        3,
    );
    let (ub, uc) = (phone("phoneb", pb, &b), phone("phonec", pc, &c));
    let call = dial(&p, "900", &pager);
    let f = 500.0;
    let tp = leg(pager, Some(p.rtp), tone(f, 8000), Duration::from_secs(6));
    let tb = leg(b, None, vec![0; 160], Duration::from_secs(6));
    let tc = leg(c, None, vec![0; 160], Duration::from_secs(6));
    let list = p.d.rx_until("confbridge list", 10, |o| {
        o.lines().any(|l| l.contains("      3 "))
    });
    let (_, hb, hc) = (
        tp.join().expect("pager"),
        tb.join().expect("b"),
        tc.join().expect("c"),
    );
    p.d.rx("channel request hangup all");
    for (who, h) in [("phoneb", &hb), ("phonec", &hc)] {
        let w = tail(h, 2.0);
        assert!(
            power(w, f) > 1e5,
            "{who} hears the pager: {:.0} ({} samples; {list})\n{}",
            power(w, f),
            h.len(),
            p.d.stderr()
        );
    }
    for s in [call, ub, uc] {
        s.wait().assert_ok("hung up");
    }
}
