//! RTP end to end: SIPp does the signalling (tests/sipp/uac_media.xml, SDP pointing at a UDP
//! socket of the test), the test sends and receives the RTP itself, against the real daemon
//! with a small `rtp.conf` range (so the test knows where to send).
//!
//! Issue 4's acceptance tests (below the "acceptance" marker) check audio content, not timing:
//! a Debian prompt arrives sample-exact in µ-law; RFC 2833 digits from SIPp's pcaps and from
//! baresip reach Read(); Record() keeps the caller's audio and ends on silence and '#'; a
//! PCMA caller and a PCMU callee bridged by Dial() hear each other; three MeetMe callers hear
//! the other two and not themselves; seed 003's meeting dialplan originates its participants
//! into the organizer's conference; real baresip phones record (their `sndfile` dump) a
//! Playback() prompt, and each other's voice through Dial() between PCMU and PCMA, with
//! correlation ≥ 0.95.

mod common;

use common::audio::*;
use common::*;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
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

// ---------------------------------------------------------------------------------------
// Issue 4's acceptance tests (acceptance): audio content end to end. Callers are SIPp (signalling) with
// the test's own RTP socket, guests (allowguest=yes, no digest) so every call opens exactly
// one RTP session, in call order: a daemon's first session gets `rtpstart`, the next +2, …

/// Debian's `asterisk-core-sounds-en-wav` (the `en` link comes from another package).
const DEBIAN_SOUNDS: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";

/// A daemon taking guest calls into `[guests]` of `extensions`, RTP ports for `legs`
/// sessions, `peers` appended to sip.conf; `data/sounds/beep.wav` from our sounds/.
fn start_guests(extensions: &str, peers: &str, legs: u16) -> Pbx {
    let sip = free_port();
    let base = free_ports(2 * legs + 2);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\nallow=alaw\n\n{peers}"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 2 * legs - 1);
    let dir = tempdir();
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_DATA),
            ("extensions.conf", extensions),
            ("sip.conf", &sip_conf),
            ("rtp.conf", &rtp_conf),
        ],
    );
    let sounds = dir.path().join("data/sounds");
    std::fs::create_dir_all(sounds.join("en")).expect("sounds dir");
    let beep = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav");
    std::fs::copy(beep, sounds.join("beep.wav")).expect("copy beep.wav");
    Pbx {
        d: Daemon::launch(dir),
        sip,
        rtp,
    }
}

/// A guest call to `exten` offering only `codec` (payload type `pt`), SDP media at the
/// socket `sock`, in the background.
fn guest_call(p: &Pbx, exten: &str, sock: &UdpSocket, pt: u8, codec: &str) -> SippChild {
    Sipp::new("uac_media_codec.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "guest")
        .key("rtp_port", sock.local_addr().expect("addr").port())
        .key("pt", pt)
        .key("codec", codec)
        .timeout(30)
        .spawn()
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    s
}

/// What one leg received, in arrival order: (payload type, payload), and the source port.
struct Heard {
    pkts: Vec<(u8, Vec<u8>)>,
    from: Option<u16>,
    sock: UdpSocket,
}

impl Heard {
    /// The received voice (PCMU/PCMA) decoded to linear.
    fn audio(&self) -> Vec<i16> {
        self.pkts
            .iter()
            .flat_map(|(pt, p)| decode(*pt, p))
            .collect()
    }
}

fn decode(pt: u8, p: &[u8]) -> Vec<i16> {
    match pt {
        0 => ferrisk::media::g711::ulaw_decode(p),
        8 => ferrisk::media::g711::alaw_decode(p),
        _ => Vec::new(),
    }
}

fn encode(pt: u8, s: &[i16]) -> Vec<u8> {
    if pt == 8 {
        ferrisk::media::g711::alaw_encode(s)
    } else {
        ferrisk::media::g711::ulaw_encode(s)
    }
}

/// One RTP leg at 20 ms pace: send `signal` (160-sample frames, payload type `pt`) to
/// ferrisk's port `to` — or, when None, to wherever ferrisk's first packet comes from,
/// waiting up to `wait_ms` for it — then keep receiving until `run_ms` after the start of
/// sending. Everything received is kept.
fn exchange(
    sock: UdpSocket,
    to: Option<u16>,
    pt: u8,
    signal: Vec<i16>,
    wait_ms: u64,
    run_ms: u64,
) -> Heard {
    let mut h = Heard {
        pkts: Vec::new(),
        from: None,
        sock,
    };
    let mut buf = [0u8; 2048];
    let mut target = to;
    let t0 = Instant::now();
    let mut start: Option<Instant> = to.map(|_| Instant::now());
    let mut k = 0u32;
    loop {
        let now = Instant::now();
        match start {
            None if now > t0 + Duration::from_millis(wait_ms) => return h,
            Some(s) if now > s + Duration::from_millis(run_ms) => return h,
            Some(s) if now >= s + Duration::from_millis(20 * u64::from(k)) => {
                let i = k as usize * 160;
                if let (Some(port), Some(f)) = (target, signal.get(i..(i + 160).min(signal.len())))
                {
                    if !f.is_empty() {
                        let pkt = rtp(pt, k == 0, k as u16, k * 160, &encode(pt, f));
                        let _ = h.sock.send_to(&pkt, ("127.0.0.1", port));
                    }
                }
                k += 1;
            }
            _ => {}
        }
        if let Ok((n, from)) = h.sock.recv_from(&mut buf) {
            if n > 12 {
                h.from.get_or_insert(from.port());
                target.get_or_insert(from.port());
                start.get_or_insert_with(Instant::now);
                h.pkts.push((buf[1] & 0x7f, buf[12..n].to_vec()));
            }
        }
    }
}

fn tone(hz: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// Goertzel power of `hz` in `s` (8 kHz).
fn goertzel(s: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in s {
        let s0 = f64::from(x) + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (s.len() as f64).powi(2)
}

const ACCEPTANCE: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 200,1,Answer()
 same => n,Playback(hello-world)
 same => n,Hangup()
exten => 201,1,Answer()
 same => n,Set(VOLUME(TX)=3)
 same => n,Playback(hello-world)
 same => n,Hangup()
exten => 202,1,Answer()
 same => n,Set(SCRAMBLE()=TX)
 same => n,Playback(hello-world)
 same => n,Hangup()
exten => 203,1,Answer()
 same => n,Set(MUTEAUDIO(out)=on)
 same => n,Playback(hello-world)
 same => n,Hangup()
exten => 204,1,Answer()
 same => n,VMSayName(1002@default)
 same => n,Hangup()
exten => 300,1,Answer()
 same => n,Read(DIGITS,,4)
 same => n,Set(DB(test/digits)=${DIGITS})
 same => n,Hangup()
exten => 700,1,Dial(SIP/phoneb,10)
exten => 800,1,MeetMe(100,dq)
";

#[test]
fn playback_sends_the_prompt_sample_exact_in_ulaw() {
    prompt_arrives_exactly("200", |_| {});
}

/// VOLUME(TX)=3 before the prompt: the caller gets the prompt's samples times three
/// (saturated), sample exact.
#[test]
fn volume_tx_triples_what_the_caller_hears() {
    prompt_arrives_exactly("201", |s| ferrisk::funcs::volume::adjust(s, 3.0));
}

/// VMSayName(1002): the caller hears the mailbox's recorded name, sample exact.
#[test]
fn vmsayname_plays_the_recorded_name() {
    prompt_arrives_exactly("204", |_| {});
}

/// MUTEAUDIO(out)=on before the prompt: the caller gets the prompt's length of silence.
#[test]
fn muteaudio_out_silences_what_the_caller_hears() {
    prompt_arrives_exactly("203", |s| s.fill(0));
}

/// SCRAMBLE()=TX before the prompt: the caller gets it spectrum-inverted, sample exact.
#[test]
fn scramble_tx_inverts_what_the_caller_hears() {
    prompt_arrives_exactly("202", ferrisk::funcs::audiohooks::invert);
}

/// A SIPp guest calls `exten`, which plays hello-world; what arrives is the prompt with
/// `change` applied (as VOLUME() or SCRAMBLE() change it), µ-law byte for byte.
fn prompt_arrives_exactly(exten: &str, change: impl Fn(&mut [i16])) {
    let wav = Path::new(DEBIAN_SOUNDS).join("hello-world.wav");
    assert!(
        wav.is_file(),
        "{} missing: apt-get install asterisk-core-sounds-en-wav",
        wav.display()
    );
    let p = start_guests(ACCEPTANCE, "", 1);
    std::fs::copy(&wav, p.d.path().join("data/sounds/en/hello-world.wav")).expect("copy");
    // The same recording as mailbox 1002's recorded name (VMSayName).
    let name = p.d.path().join("spool/voicemail/default/1002");
    std::fs::create_dir_all(&name).expect("mkdir");
    std::fs::copy(&wav, name.join("greet.wav")).expect("copy");
    let mut prompt = ferrisk::media::wav::read_wav(&wav).expect("read prompt");
    change(&mut prompt);
    let sock = udp();
    let sipp = guest_call(&p, exten, &sock, 0, "PCMU");
    let secs = prompt.len() as u64 / 8 + 2000;
    let h = exchange(sock, None, 0, Vec::new(), 5000, secs);
    let want = norm(&ferrisk::media::g711::ulaw_encode(&prompt));
    // Located by its second 20 ms frame, the prompt from there on arrives unchanged.
    let rest = &want[160..];
    let got = received_from(&h, rest)
        .unwrap_or_else(|| panic!("the prompt's second frame never arrived\n{}", p.d.stderr()));
    assert!(
        got.len() >= rest.len(),
        "prompt cut short: {} of {} bytes",
        got.len(),
        rest.len()
    );
    let diff = got.iter().zip(rest).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "{diff} µ-law bytes differ from the prompt");
    sipp.wait().assert_ok("hung up after the prompt");
}

#[test]
fn sipp_rfc2833_digits_from_its_pcaps_reach_read() {
    let p = start_guests(ACCEPTANCE, "", 1);
    let r = Sipp::new("uac_dtmf_1934.xml", Some(p.sip))
        .local_port(free_port())
        .service("300")
        .key("from_user", "guest")
        .timeout(20)
        .run();
    r.assert_ok("Read() got 4 digits and the dialplan hung up");
    assert_eq!(p.d.wait_db("test", "digits"), "1934", "{}", p.d.stderr());
}

/// A baresip guest calls `exten` and, once answered, presses `digits` (RFC 2833).
fn guest_keys(p: &Pbx, exten: &str, digits: &str) -> Baresip {
    let mut b = Baresip::start(
        free_ports(3),
        &[format!("<sip:guest@127.0.0.1:{}>;regint=0", p.sip)],
    );
    b.request("dial", &format!("sip:{exten}@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(300));
    for d in digits.chars() {
        b.request("sndcode", &d.to_string());
        std::thread::sleep(Duration::from_millis(250));
    }
    b
}

#[test]
fn baresip_rfc2833_digits_reach_read() {
    let p = start_guests(ACCEPTANCE, "", 1);
    let mut b = guest_keys(&p, "300", "2507");
    assert_eq!(
        p.d.wait_db("test", "digits"),
        "2507",
        "{}\n{}",
        p.d.stderr(),
        b.log()
    );
    b.wait_event("CALL_CLOSED", 10);
}

#[test]
fn record_keeps_the_callers_audio_and_ends_on_silence_and_pound() {
    let dir = tempdir();
    let (f1, f2) = (dir.path().join("rec1.wav"), dir.path().join("rec2.wav"));
    let ext = format!(
        "[guests]\nexten => 400,1,Answer()\n \
         same => n,Record({},2,10)\n \
         same => n,Set(DB(test/rec1)=${{RECORD_STATUS}})\n \
         same => n,Record({},0,10)\n \
         same => n,Set(DB(test/rec2)=${{RECORD_STATUS}})\n \
         same => n,Hangup()\n",
        f1.display(),
        f2.display()
    );
    let p = start_guests(&ext, "", 1);
    let sock = udp();
    let sipp = guest_call(&p, "400", &sock, 0, "PCMU");
    // 2 s of noise, 3 s of silence (ends the first recording), 1 s of noise, then '#'.
    let talk = noise(1, 16000);
    let mut signal = talk.clone();
    signal.extend(std::iter::repeat_n(0i16, 24000));
    signal.extend(noise(2, 8000));
    let h = exchange(sock, Some(p.rtp), 0, signal, 0, 6000);
    let to = ("127.0.0.1", p.rtp);
    let (seq, ts) = (400u16, 400 * 160u32);
    for i in 0..5u16 {
        let end = i >= 2;
        let dur = 160 * (i + 1);
        let ev = [
            11u8,
            if end { 0x80 | 10 } else { 10 },
            (dur >> 8) as u8,
            dur as u8,
        ];
        let _ = h.sock.send_to(&rtp(101, i == 0, seq + i, ts, &ev), to);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(p.d.wait_db("test", "rec1"), "SILENCE", "{}", p.d.stderr());
    assert_eq!(p.d.wait_db("test", "rec2"), "DTMF", "{}", p.d.stderr());
    sipp.wait().assert_ok("hung up after the recordings");
    let rec = ferrisk::media::wav::read_wav(&f1).expect("first recording");
    let c = aligned_corr(&talk, &rec, 4000);
    assert!(
        c >= 0.95,
        "recording vs what was sent: correlation {c:.3} ({} samples)",
        rec.len()
    );
    assert!(f2.is_file(), "second recording missing");
}

/// ferrisk with the `phoneb` peer at a free port, and SIPp answering there as phoneb with
/// its media at `b` (PCMU); `extensions` in `[guests]`.
fn start_with_phoneb(extensions: &str, b: &UdpSocket) -> (Pbx, SippChild) {
    let phone = free_port();
    let p = start_guests(
        extensions,
        &format!(
            "[phoneb]\ntype=peer\nhost=127.0.0.1\nport={phone}\ncontext=guests\n\
             disallow=all\nallow=ulaw\n"
        ),
        2,
    );
    let uas = Sipp::new("uas_media_wait.xml", None)
        .local_port(phone)
        .service("phoneb")
        .key("rtp_port", b.local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(20)
        .spawn();
    (p, uas)
}

#[test]
fn dial_bridges_a_pcma_caller_and_a_pcmu_callee_both_ways() {
    let (a, b) = (udp(), udp());
    let (p, uas) = start_with_phoneb(ACCEPTANCE, &b);
    let caller = guest_call(&p, "700", &a, 8, "PCMA");
    // The caller's session opened first (rtpstart), the callee's next.
    let (sa, sb) = (noise(3, 24000), noise(4, 24000));
    let (ra, rb) = (p.rtp, p.rtp + 2);
    std::thread::sleep(Duration::from_millis(600));
    let (sa2, sb2) = (sa.clone(), sb.clone());
    let ta = std::thread::spawn(move || exchange(a, Some(ra), 8, sa2, 0, 3000));
    let tb = std::thread::spawn(move || exchange(b, Some(rb), 0, sb2, 0, 3000));
    let (ha, hb) = (ta.join().expect("a"), tb.join().expect("b"));
    p.d.rx("channel request hangup all");
    let ca = aligned_corr(&sb, &ha.audio(), 8000);
    let cb = aligned_corr(&sa, &hb.audio(), 8000);
    assert!(
        ha.pkts.iter().all(|(pt, _)| *pt == 8) && hb.pkts.iter().all(|(pt, _)| *pt == 0),
        "each leg gets its own codec"
    );
    assert!(
        ca >= 0.95 && cb >= 0.95,
        "caller heard the callee: {ca:.3} ({} pkts from {:?}); callee heard the caller: \
         {cb:.3} ({} pkts from {:?})\n{}",
        ha.pkts.len(),
        ha.from,
        hb.pkts.len(),
        hb.from,
        p.d.stderr()
    );
    caller.wait().assert_ok("caller got the BYE");
    uas.wait().assert_ok("callee got the BYE");
}

/// Power at each of `freqs` in `s` relative to the strongest.
fn tones_heard(s: &[i16], freqs: &[f64]) -> Vec<f64> {
    freqs.iter().map(|&f| goertzel(s, f)).collect()
}

/// Assert that `heard` (a leg's received audio) carries every tone of `others` and not `own`.
fn assert_hears(who: &str, heard: &[i16], own: f64, others: &[f64]) {
    assert!(
        heard.len() >= 12000,
        "{who} received only {} samples",
        heard.len()
    );
    // 0.5 s ending 1 s before the end: every participant talks then.
    let w = &heard[heard.len() - 12000..heard.len() - 8000];
    let mut freqs = vec![own];
    freqs.extend_from_slice(others);
    let p = tones_heard(w, &freqs);
    for (f, q) in others.iter().zip(&p[1..]) {
        assert!(
            *q > 1e5 && *q > 100.0 * p[0],
            "{who}: {f} Hz power {q:.0}, own {own} Hz {:.0} (all {p:?})",
            p[0]
        );
    }
}

#[test]
fn meetme_three_callers_each_hear_the_other_two_and_not_themselves() {
    let p = start_guests(ACCEPTANCE, "", 3);
    let freqs = [300.0, 700.0, 1100.0];
    let mut calls = Vec::new();
    let mut threads = Vec::new();
    for f in freqs {
        let s = udp();
        calls.push(guest_call(&p, "800", &s, 0, "PCMU"));
        threads.push(std::thread::spawn(move || {
            exchange(s, None, 0, tone(f, 32000), 5000, 4000)
        }));
    }
    let heard: Vec<Heard> = threads
        .into_iter()
        .map(|t| t.join().expect("leg"))
        .collect();
    let list = p.d.rx("meetme list concise");
    p.d.rx("channel request hangup all");
    for (i, h) in heard.iter().enumerate() {
        let others: Vec<f64> = (0..3).filter(|&j| j != i).map(|j| freqs[j]).collect();
        assert_hears(
            &format!("caller {i} ({list})"),
            &h.audio(),
            freqs[i],
            &others,
        );
    }
    for c in calls {
        c.wait().assert_ok("hung up");
    }
}

/// Seed 003's multi-party meeting, calendar parts replaced by variables.
const MEETING: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 900,1,Set(CALDESC=alice^bob)
 same => n,Set(CALLOC=1234)
 same => n,Goto(AutomatedMeetingSetup,start,1)

[AutomatedMeetingSetup]
exten => start,1,Verbose(2,Calling multiple people and placing into a conference)
same => n,Set(CalDescription=${CALDESC})
same => n,Set(_CalLocation=${CALLOC})
same => n,Set(X=1)
same => n,Set(EndPoint=${CUT(CalDescription,^,${X})})
same => n,While($[${EXISTS(${EndPoint})}])
same => n,Set(ToDial=${IF($[${ISNULL(${ToDial})}]?:${ToDial}&)}Local/${EndPoint}@MeetingOriginator)
same => n,Set(X=$[${X} + 1])
same => n,Set(EndPoint=${CUT(CalDescription,^,${X})})
same => n,EndWhile()
same => n,GotoIf($[${ISNULL(${ToDial})}]?hangup)
same => n,Dial(${ToDial})
same => n,MeetMe(${CalLocation},dA)
same => n(hangup),Hangup()

[MeetingOriginator]
exten => _[A-Za-z0-9].,1,NoOp()
same => n,Set(Peer=${FILTER(A-Za-z0-9,${EXTEN})})
same => n,Originate(SIP/${Peer},exten,MeetingOriginator,meetme-${CalLocation},1)
same => n,Hangup()

exten => _meetme-XXXX,1,Verbose(2,Joining a meeting)
same => n,Answer()
same => n,MeetMe(${EXTEN:7},dw)
same => n,Hangup()
";

#[test]
fn seed_meeting_originates_the_participants_into_the_organizers_meetme() {
    let (pa, pb) = (free_port(), free_port());
    let peer = |name: &str, port: u16| {
        format!(
            "[{name}]\ntype=peer\nhost=127.0.0.1\nport={port}\ncontext=guests\n\
             disallow=all\nallow=ulaw\n\n"
        )
    };
    let p = start_guests(MEETING, &(peer("alice", pa) + &peer("bob", pb)), 3);
    let freqs = [500.0, 900.0, 1300.0];
    let socks = [udp(), udp(), udp()];
    let mut uas = Vec::new();
    for (name, port, s) in [("alice", pa, &socks[1]), ("bob", pb, &socks[2])] {
        uas.push(
            Sipp::new("uas_media_wait.xml", None)
                .local_port(port)
                .service(name)
                .key("rtp_port", s.local_addr().expect("addr").port())
                .key("pt", 0)
                .key("codec", "PCMU")
                .timeout(30)
                .spawn(),
        );
    }
    let organizer = guest_call(&p, "900", &socks[0], 0, "PCMU");
    let threads: Vec<_> = socks
        .into_iter()
        .zip(freqs)
        .map(|(s, f)| std::thread::spawn(move || exchange(s, None, 0, tone(f, 40000), 8000, 4000)))
        .collect();
    let list =
        p.d.rx_until("meetme list concise", 10, |s| s.starts_with("1234!3!1!"));
    let heard: Vec<Heard> = threads
        .into_iter()
        .map(|t| t.join().expect("leg"))
        .collect();
    p.d.rx("channel request hangup all");
    for (i, h) in heard.iter().enumerate() {
        let others: Vec<f64> = (0..3).filter(|&j| j != i).map(|j| freqs[j]).collect();
        assert_hears(
            &format!("participant {i} ({list})"),
            &h.audio(),
            freqs[i],
            &others,
        );
    }
    organizer.wait().assert_ok("organizer hung up");
    for u in uas {
        u.wait().assert_ok("participant hung up");
    }
}

// ---------------------------------------------------------------------------------------
// Real baresip phones: what they record (the `sndfile` filter's `-dec.wav` dump of the
// decoded received audio) is compared with what was played or spoken to them.

const BARESIP_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 210,1,Answer()
 same => n,Playback(fk-noise)
 same => n,Hangup()
exten => 700,1,Dial(SIP/phoneb,10)
";

#[test]
fn baresip_hears_the_prompt() {
    let p = start_guests(BARESIP_EXTENSIONS, "", 1);
    // A 3 s speech-like prompt: noise, its loudness varying like syllables.
    let prompt = speechlike(7, 24000);
    std::fs::write(
        p.d.path().join("data/sounds/en/fk-noise.wav"),
        ferrisk::media::wav::wav_bytes(&prompt),
    )
    .expect("write prompt");
    let mut b = Baresip::start_with(
        free_ports(3),
        &[format!("<sip:guest@127.0.0.1:{}>;regint=0", p.sip)],
        None,
        true,
    );
    b.request("dial", &format!("sip:210@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    b.wait_event("CALL_CLOSED", 10);
    let dumps = b.dumped("dec");
    assert_eq!(
        dumps.len(),
        1,
        "one received-audio dump: {dumps:?}\n{}",
        b.log()
    );
    let got = read_dump(&dumps[0]);
    let (c, n) = trimmed_corr(&prompt, &got, 16000);
    assert!(
        c >= 0.95 && n >= 12000,
        "baresip's recording vs the prompt: correlation {c:.3} over {n} samples ({} \
         received)\n{}\n{}",
        got.len(),
        p.d.stderr(),
        b.log()
    );
}

#[test]
fn two_baresips_bridged_hear_each_other() {
    let ports_b = free_ports(3);
    let p = start_guests(
        BARESIP_EXTENSIONS,
        &format!(
            "[phoneb]\ntype=peer\nhost=127.0.0.1\nport={ports_b}\ndefaultuser=phoneb\n\
             context=guests\n\
             disallow=all\nallow=alaw\n"
        ),
        2,
    );
    let dir = tempdir();
    let (wa, wb) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    let (sa, sb) = (noise(11, 80000), noise(12, 80000));
    std::fs::write(&wa, ferrisk::media::wav::wav_bytes(&sa)).expect("a.wav");
    std::fs::write(&wb, ferrisk::media::wav::wav_bytes(&sb)).expect("b.wav");
    // A offers only PCMU, B only PCMA: ferrisk transcodes between them.
    let mut b = Baresip::start_with(
        ports_b,
        &[format!(
            "<sip:phoneb@127.0.0.1:{}>;regint=0;answermode=auto;audio_codecs=PCMA",
            p.sip
        )],
        Some(&wb),
        true,
    );
    let mut a = Baresip::start_with(
        free_ports(3),
        &[format!(
            "<sip:guest@127.0.0.1:{}>;regint=0;audio_codecs=PCMU",
            p.sip
        )],
        Some(&wa),
        true,
    );
    a.request("dial", &format!("sip:700@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    a.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(3000));
    a.command("hangup", "");
    a.wait_event("CALL_CLOSED", 10);
    b.wait_event("CALL_CLOSED", 10);
    let la = a.log();
    let lb = b.log();
    for (who, log, codec) in [("A", &la, "PCMU"), ("B", &lb, "PCMA")] {
        for dir in ["decoder", "encoder"] {
            let used = format!("Set audio {dir}: {codec} 8000Hz");
            assert!(log.contains(&used), "{who} never logged `{used}`:\n{log}");
        }
    }
    let (da, db) = (a.dumped("dec"), b.dumped("dec"));
    assert!(da.len() == 1 && db.len() == 1, "dumps: {da:?} {db:?}");
    let (ha, hb) = (read_dump(&da[0]), read_dump(&db[0]));
    let (ca, na) = trimmed_corr(&sb, &ha, 16000);
    let (cb, nb) = trimmed_corr(&sa, &hb, 16000);
    assert!(
        ca >= 0.95 && cb >= 0.95 && na >= 8000 && nb >= 8000,
        "A heard B: {ca:.3} over {na} of {} samples; B heard A: {cb:.3} over {nb} of {} \
         samples\n{}\n--- A:\n{la}\n--- B:\n{lb}",
        ha.len(),
        hb.len(),
        p.d.stderr()
    );
}

/// Early media: `Progress()` then `Playback(…,noanswer)` on an unanswered call sends 183
/// with SDP and the prompt's audio before any final response; the caller hears it.
#[test]
fn progress_then_playback_noanswer_is_early_media() {
    let ext = "[guests]\nexten => 250,1,Progress()\n same => n,Playback(beep,noanswer)\n same => n,Hangup(21)\n";
    let p = start_guests(ext, "", 1);
    let beep = ferrisk::media::wav::read_wav(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav"),
    )
    .expect("beep.wav");
    let sock = udp();
    let port = sock.local_addr().expect("addr").port();
    let sipp = Sipp::new("uac_early_media.xml", Some(p.sip))
        .local_port(free_port())
        .service("250")
        .key("from_user", "guest")
        .key("rtp_port", port)
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(20)
        .spawn();
    let h = exchange(sock, None, 0, Vec::new(), 5000, beep.len() as u64 / 8 + 500);
    sipp.wait()
        .assert_ok("183 with SDP, then 403 from Hangup(21) without an answer");
    let got = ulaw_received(&h);
    let want = norm(&ferrisk::media::g711::ulaw_encode(&beep));
    let key = &want[160..320];
    assert!(
        got.windows(160).any(|w| w == key),
        "the beep did not arrive as early media ({} bytes received)\n{}",
        got.len(),
        p.d.stderr()
    );
}

/// A caller who stops sending RTP (after half a second) still hears the whole prompt:
/// what ferrisk sends is paced by its own clock, not by what it receives. (baresip cannot
/// play this caller: it hangs up when its audio file ends.)
#[test]
fn prompt_keeps_playing_after_the_caller_stops_sending() {
    let p = start_guests(BARESIP_EXTENSIONS, "", 1);
    let prompt = speechlike(8, 8000 * 4);
    std::fs::write(
        p.d.path().join("data/sounds/en/fk-noise.wav"),
        ferrisk::media::wav::wav_bytes(&prompt),
    )
    .expect("write prompt");
    let sock = udp();
    let sipp = guest_call(&p, "210", &sock, 0, "PCMU");
    let h = exchange(sock, Some(p.rtp), 0, noise(3, 4000), 0, 6000);
    sipp.wait().assert_ok("call to the prompt");
    let got = h.audio();
    // The prompt's last 2 s arrived, long after the caller went quiet.
    assert!(got.len() >= prompt.len(), "{} samples received", got.len());
    let tail = &prompt[8000 * 2..];
    let c = aligned_corr(tail, &got[got.len() - 8000 * 2..], 8000);
    assert!(
        c >= 0.95,
        "end of the prompt: correlation {c:.3} ({} samples received)\n{}",
        got.len(),
        p.d.stderr()
    );
}

/// The µ-law (PCMU) a caller received, in order.
fn ulaw_received(h: &Heard) -> Vec<u8> {
    h.pkts
        .iter()
        .filter(|(pt, _)| *pt == 0)
        .flat_map(|(_, p)| norm(p))
        .collect()
}

/// The µ-law a caller receives, from the first frame equal to `want`'s first frame on;
/// `None` when that frame never arrived.
fn received_from(h: &Heard, want: &[u8]) -> Option<Vec<u8>> {
    let got = ulaw_received(h);
    let pos = got.windows(160).position(|w| w == &want[..160])?;
    Some(got[pos..].to_vec())
}

#[test]
fn playtones_sends_the_zones_busy_tone_with_its_cadence() {
    let ext = "[guests]\nexten => 900,1,Answer()\n same => n,PlayTones(busy)\n \
               same => n,Wait(4)\n same => n,StopPlayTones()\n same => n,Hangup()\n";
    let p = start_guests(ext, "", 1);
    let sock = udp();
    let sipp = guest_call(&p, "900", &sock, 0, "PCMU");
    let h = exchange(sock, None, 0, Vec::new(), 5000, 3000);
    // What the US busy tone is (480+620 Hz 500 ms, silence 500 ms), frame for frame.
    let (list, _) = ferrisk::media::tones::parse("480+620/500,0/500").expect("tone list");
    let mut gen = ferrisk::media::tones::ToneGen::new(list);
    let tone: Vec<i16> = (0..100)
        .flat_map(|_| gen.next_frame().unwrap_or_default())
        .collect();
    let want = norm(&ferrisk::media::g711::ulaw_encode(&tone));
    let got = received_from(&h, &want)
        .unwrap_or_else(|| panic!("the busy tone never arrived\n{}", p.d.stderr()));
    // Two whole cadences (2 s) arrive unchanged.
    assert!(got.len() >= 16000, "only {} bytes of tone", got.len());
    let diff = got[..16000]
        .iter()
        .zip(&want[..16000])
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(diff, 0, "{diff} µ-law bytes differ from the busy tone");
    sipp.wait().assert_ok("hung up after the tones");
}

#[test]
fn waitfornoise_and_waitforsilence_hear_the_caller() {
    let ext = "[guests]\nexten => 910,1,Answer()\n \
               same => n,WaitForNoise(500,1,10)\n \
               same => n,Set(DB(test/noise)=${WAITSTATUS})\n \
               same => n,WaitForSilence(1000,1,10)\n \
               same => n,Set(DB(test/silence)=${WAITSTATUS})\n \
               same => n,Hangup()\n";
    let p = start_guests(ext, "", 1);
    let sock = udp();
    let sipp = guest_call(&p, "910", &sock, 0, "PCMU");
    // 1 s of silence, 1.5 s of talk, 1.5 s of silence, then talk to the end: only real
    // detection gives NOISE then SILENCE (a deaf detector times out).
    let mut signal = vec![0i16; 8000];
    signal.extend(noise(3, 12000));
    signal.extend(std::iter::repeat_n(0i16, 12000));
    signal.extend(noise(4, 80000));
    let _h = exchange(sock, Some(p.rtp), 0, signal, 0, 6000);
    assert_eq!(p.d.wait_db("test", "noise"), "NOISE", "{}", p.d.stderr());
    assert_eq!(
        p.d.wait_db("test", "silence"),
        "SILENCE",
        "{}",
        p.d.stderr()
    );
    sipp.wait().assert_ok("hung up after the waits");
}

#[test]
fn mixmonitor_records_both_parties_of_a_dial_bridge() {
    let dir = tempdir();
    let rec = dir.path().join("bridged.wav");
    let ext = format!(
        "[guests]\nexten => 710,1,MixMonitor({})\n same => n,Dial(SIP/phoneb,10)\n",
        rec.display()
    );
    let (a, b) = (udp(), udp());
    let (p, uas) = start_with_phoneb(&ext, &b);
    let caller = guest_call(&p, "710", &a, 0, "PCMU");
    // The caller says 500 Hz, the callee 1300 Hz.
    let (ra, rb) = (p.rtp, p.rtp + 2);
    std::thread::sleep(Duration::from_millis(600));
    let ta = std::thread::spawn(move || exchange(a, Some(ra), 0, tone(500.0, 24000), 0, 3000));
    let tb = std::thread::spawn(move || exchange(b, Some(rb), 0, tone(1300.0, 24000), 0, 3000));
    let (_ha, _hb) = (ta.join().expect("a"), tb.join().expect("b"));
    p.d.rx("channel request hangup all");
    caller.wait().assert_ok("caller got the BYE");
    uas.wait().assert_ok("callee got the BYE");
    // The file is finished once the caller's channel is gone.
    let mut got = Vec::new();
    for _ in 0..200 {
        if let Ok(s) = ferrisk::media::wav::read_wav(&rec) {
            if s.len() >= 16000 {
                got = s;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        got.len() >= 16000,
        "recording of {} samples\n{}",
        got.len(),
        p.d.stderr()
    );
    // A stretch where both talk: both tones are in the one file, well above a third tone.
    let mid = &got[got.len() / 2 - 4000..got.len() / 2 + 4000];
    let pw = tones_heard(mid, &[500.0, 1300.0, 900.0]);
    assert!(
        pw[0] > 100.0 * pw[2] && pw[1] > 100.0 * pw[2],
        "500 Hz {:.0}, 1300 Hz {:.0}, 900 Hz {:.0}",
        pw[0],
        pw[1],
        pw[2]
    );
}

/// Directory(): a baresip caller spells SMI on the keypad and picks the first match with
/// 1; the call goes on in the selected mailbox's extension.
#[test]
fn baresip_dials_by_name_through_directory() {
    let ext = "[general]\nautofallthrough = yes\n\n[guests]\n\
               exten => 411,1,Answer()\n same => n,Directory(default,guests)\n\
               same => n,Set(DB(test/dir)=${DIRECTORY_RESULT})\n\
               exten => 1002,1,Set(DB(test/dir)=${DIRECTORY_RESULT}:${EXTEN})\n same => n,Hangup()\n";
    let p = start_guests(ext, "", 1);
    std::fs::write(
        p.d.path().join("voicemail.conf"),
        "[general]\n[default]\n1001 => 1234,Alice Jones\n1002 => 1234,Bob Smith\n\
         1003 => 1234,Carol Smithers,,,hidefromdir=yes\n",
    )
    .expect("voicemail.conf");
    let mut b = guest_keys(&p, "411", "7641");
    assert_eq!(
        p.d.wait_db("test", "dir"),
        "SELECTED:1002",
        "{}\n{}",
        p.d.stderr(),
        b.log()
    );
    b.wait_event("CALL_CLOSED", 10);
}

/// Dictate(): a baresip caller switches to record mode (1), resumes (*), talks for a
/// second and ends with #; the dictation file holds its audio. (Each `5` ends a prompt
/// early; Dictate ignores the key.)
#[test]
fn baresip_dictates_into_a_raw_file() {
    let ext = "[general]\nautofallthrough = yes\n\n[guests]\n\
               exten => 500,1,Answer()\n same => n,Dictate(,memo)\n\
               same => n,Set(DB(test/dict)=done)\n same => n,Hangup()\n";
    let p = start_guests(ext, "", 1);
    let tone = p.d.path().join("talk.wav");
    write_tone_wav(&tone, 60);
    let mut b = Baresip::start_with(
        free_ports(3),
        &[format!("<sip:guest@127.0.0.1:{}>;regint=0", p.sip)],
        Some(&tone),
        false,
    );
    b.request("dial", &format!("sip:500@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(500));
    for (d, pause) in [
        ("1", 400),
        ("5", 400),
        ("5", 400),
        ("*", 400),
        ("5", 1500),
        ("#", 0),
    ] {
        b.request("sndcode", d);
        std::thread::sleep(Duration::from_millis(pause));
    }
    assert_eq!(p.d.wait_db("test", "dict"), "done", "{}", p.d.stderr());
    let found = find_file(p.d.path(), "memo.raw")
        .unwrap_or_else(|| panic!("no memo.raw\n{}", p.d.stderr()));
    let len = std::fs::metadata(&found).map(|m| m.len()).unwrap_or(0);
    // At least half a second of 8 kHz 16-bit audio.
    assert!(
        len >= 8000,
        "{len} bytes in {}\n{}",
        found.display(),
        p.d.stderr()
    );
    b.request("hangup", "");
}

/// The first file named `name` below `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if e.file_name() == name {
            return Some(p);
        }
    }
    None
}
