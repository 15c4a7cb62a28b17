//! followme: FollowMe() (`app_followme.so`, followme.conf) and PrivacyManager()
//! (`app_privacy.so`) against the real daemon. SIPp does the signalling of the caller and
//! of the phones the follow-me numbers dial; the test sends and receives each party's RTP
//! itself, so it presses the callees' keys (RFC 2833) only once it has heard the options
//! prompt to its end, and checks that the caller and the callee who accepted hear each
//! other's tone. The prompts are the Debian Allison prompts, copied into the daemon's
//! sounds.

use crate::common::audio::dominant_windows;
use crate::common::*;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SOUNDS: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";

const PROMPTS: &[&str] = &[
    "followme/no-recording",
    "followme/options",
    "followme/pls-hold-while-try",
    "followme/sorry",
    "privacy-unident",
    "privacy-prompt",
    "privacy-incorrect",
    "privacy-thankyou",
];

const EXTENSIONS: &str = "\
[guests]
exten => 600,1,FollowMe(two)
 same => n,Hangup()
exten => 601,1,FollowMe(nobody,dn)
 same => n,Set(DB(fm/after)=continued)
 same => n,Hangup()
exten => 610,1,Set(CALLERID(num)=)
 same => n,PrivacyManager(3,4)
 same => n,Set(DB(pm/ok)=${PRIVACYMGRSTATUS}:${CALLERID(num)}:${CALLERID(name)})
 same => n,Hangup()
exten => 611,1,Set(CALLERID(num)=)
 same => n,PrivacyManager(1,4)
 same => n,Set(DB(pm/fail)=${PRIVACYMGRSTATUS}:${CALLERID(num)})
 same => n,Hangup()
exten => 612,1,Answer()
 same => n,PrivacyManager()
 same => n,Set(DB(pm/skip)=${PRIVACYMGRSTATUS}:${CALLERID(num)})
 same => n,Hangup()

[fmdial]
exten => 201,1,Dial(SIP/uas1)
exten => 202,1,Dial(SIP/uas2)
exten => 203,1,Dial(SIP/uas3)
";

const FOLLOWME: &str = "\
[general]
featuredigittimeout => 10000

[two]
musicclass => default
context => fmdial
number => 201&202,40

[nobody]
context => fmdial
number => 203,2
number => 204,2
";

struct Pbx {
    d: Daemon,
    sip: u16,
    /// The SIP ports of the phones uas1, uas2, uas3.
    uas: [u16; 3],
}

fn start() -> Pbx {
    let sip = free_port();
    let uas = [free_port(), free_port(), free_port()];
    let base = free_ports(16);
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
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 15);
    let dir = tempdir();
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_V3),
            ("extensions.conf", EXTENSIONS),
            ("sip.conf", &sip_conf),
            ("rtp.conf", &rtp_conf),
            ("followme.conf", FOLLOWME),
        ],
    );
    let sounds = dir.path().join("data/sounds/en");
    std::fs::create_dir_all(sounds.join("followme")).expect("sounds dir");
    for p in PROMPTS {
        let wav = Path::new(SOUNDS).join(format!("{p}.wav"));
        assert!(
            wav.is_file(),
            "{} missing: apt-get install asterisk-core-sounds-en-wav",
            wav.display()
        );
        std::fs::copy(&wav, sounds.join(format!("{p}.wav"))).expect("copy prompt");
    }
    Pbx {
        d: Daemon::launch(dir),
        sip,
        uas,
    }
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    s
}

fn port(s: &UdpSocket) -> u16 {
    s.local_addr().expect("addr").port()
}

/// A phone on `port` answering with its media at `rtp` and waiting for ferrisk's BYE.
fn phone(port: u16, rtp: u16) -> SippChild {
    Sipp::new("uas_media_wait.xml", None)
        .local_port(port)
        .key("rtp_port", rtp)
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(90)
        .spawn()
}

/// A phone on `port` that rings and never answers.
fn ringing_phone(port: u16) -> SippChild {
    Sipp::new("uas_noanswer.xml", None)
        .local_port(port)
        .timeout(60)
        .spawn()
}

/// A guest call to `exten`, media at `rtp`, waiting for ferrisk's BYE.
fn guest(p: &Pbx, exten: &str, from: &str, rtp: u16) -> SippChild {
    Sipp::new("uac_media.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", from)
        .key("rtp_port", rtp)
        .timeout(90)
        .spawn()
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&0x0f0f_0f0f_u32.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn tone(hz: f64, samples: usize, from: usize) -> Vec<u8> {
    let s: Vec<i16> = (from..from + samples)
        .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect();
    ferrisk::media::g711::ulaw_encode(&s)
}

/// µ-law codes that decode to the same sample compare equal.
fn norm(p: &[u8]) -> Vec<u8> {
    p.iter()
        .map(|&b| if b == 0x7f { 0xff } else { b })
        .collect()
}

/// The last frame of the prompt that is not near silence, as ferrisk sends it (µ-law),
/// and how many milliseconds of the prompt follow it.
fn last_loud_frame(prompt: &str) -> (Vec<u8>, u64) {
    let wav = Path::new(SOUNDS).join(format!("{prompt}.wav"));
    let s = ferrisk::media::wav::read_wav(&wav).expect("read prompt");
    let frames: Vec<&[i16]> = s.chunks(160).collect();
    let (i, f) = frames
        .iter()
        .enumerate()
        .rev()
        .find(|(_, f)| f.len() == 160 && f.iter().any(|x| x.unsigned_abs() > 2000))
        .expect("a loud frame");
    let tail = 20 * (frames.len() - 1 - i) as u64;
    (norm(&ferrisk::media::g711::ulaw_encode(f)), tail)
}

/// One party's RTP: the µ-law it received, and where ferrisk sends from.
struct Media {
    sock: UdpSocket,
    got: Vec<u8>,
    peer: Option<SocketAddr>,
    seq: u16,
    ts: u32,
}

impl Media {
    fn new(sock: UdpSocket) -> Media {
        Media {
            sock,
            got: Vec::new(),
            peer: None,
            seq: 1,
            ts: 8000,
        }
    }

    /// Receive for `ms`, sending `hz` (when given and ferrisk's address is known) at
    /// 20 ms pace.
    fn run(&mut self, ms: u64, hz: Option<f64>) {
        let start = Instant::now();
        let mut k = 0u64;
        let mut buf = [0u8; 2048];
        while start.elapsed() < Duration::from_millis(ms) {
            if let (Some(hz), Some(peer)) = (hz, self.peer) {
                if start.elapsed() >= Duration::from_millis(20 * k) {
                    let f = tone(hz, 160, self.ts as usize);
                    let pkt = rtp(0, false, self.seq, self.ts, &f);
                    let _ = self.sock.send_to(&pkt, peer);
                    self.seq = self.seq.wrapping_add(1);
                    self.ts = self.ts.wrapping_add(160);
                    k += 1;
                }
            }
            if let Ok((n, from)) = self.sock.recv_from(&mut buf) {
                self.peer = Some(from);
                if n > 12 && buf[1] & 0x7f == 0 {
                    self.got.extend_from_slice(&buf[12..n]);
                }
            }
        }
    }

    /// Receive until the prompt's last loud frame arrived, at most `secs`.
    fn until_heard(&mut self, prompt: &str, secs: u64) {
        let (frame, _) = last_loud_frame(prompt);
        let what = prompt;
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if norm(&self.got).windows(frame.len()).any(|w| w == frame) {
                return;
            }
            assert!(Instant::now() < deadline, "never heard {what}");
            self.run(100, None);
        }
    }

    /// [`Media::until_heard`], then the rest of the prompt and a margin: keys pressed now
    /// come after the prompt (a prompt that digits do not interrupt drops them).
    fn until_played(&mut self, prompt: &str, secs: u64) {
        self.until_heard(prompt, secs);
        let (_, tail) = last_loud_frame(prompt);
        self.run(tail + 500, None);
    }

    /// Press `digits` (RFC 2833, payload type 101), 300 ms apart.
    fn press(&mut self, digits: &str) {
        let peer = self.peer.expect("ferrisk's RTP address");
        for d in digits.chars() {
            let code = match d {
                '*' => 10,
                '#' => 11,
                c => c.to_digit(10).expect("a digit") as u8,
            };
            self.ts = self.ts.wrapping_add(800);
            for (i, (end, dur)) in [
                (false, 160u16),
                (false, 320),
                (false, 480),
                (true, 640),
                (true, 640),
                (true, 640),
            ]
            .into_iter()
            .enumerate()
            {
                let ev = [
                    code,
                    if end { 0x80 | 10 } else { 10 },
                    (dur >> 8) as u8,
                    dur as u8,
                ];
                let _ = self
                    .sock
                    .send_to(&rtp(101, i == 0, self.seq, self.ts, &ev), peer);
                self.seq = self.seq.wrapping_add(1);
                std::thread::sleep(Duration::from_millis(20));
            }
            self.run(300, None);
        }
    }

    fn hears(&self, hz: f64, other: f64) -> bool {
        let s = ferrisk::media::g711::ulaw_decode(&self.got);
        dominant_windows(&s, hz, other) >= 10
    }
}

/// A callee's media in a thread: wait for the whole options prompt, wait for `go`, press
/// `digit`; then (after `1`) talk `hz` for 3 s and return what was heard after the key.
fn callee(
    sock: UdpSocket,
    digit: &'static str,
    go: mpsc::Receiver<()>,
    hz: f64,
) -> JoinHandle<Media> {
    std::thread::spawn(move || {
        let mut m = Media::new(sock);
        m.until_heard("followme/no-recording", 60);
        m.until_heard("followme/options", 30);
        go.recv_timeout(Duration::from_secs(60)).expect("go");
        m.press(digit);
        m.got.clear();
        if digit == "1" {
            m.run(3000, Some(hz));
        }
        m
    })
}

#[test]
fn followme_rings_two_one_declines_the_other_accepts_and_talks() {
    let p = start();
    let (s1, s2, sc) = (udp(), udp(), udp());
    let decliner = phone(p.uas[0], port(&s1));
    let acceptor = phone(p.uas[1], port(&s2));
    std::thread::sleep(Duration::from_millis(300));
    let (go1, wait1) = mpsc::channel();
    let (go2, wait2) = mpsc::channel();
    let t1 = callee(s1, "2", wait1, 700.0);
    let t2 = callee(s2, "1", wait2, 500.0);
    // The caller talks 1000 Hz all along and keeps what it hears.
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let caller_rtp = port(&sc);
    let tc = std::thread::spawn(move || {
        let mut m = Media::new(sc);
        let t0 = Instant::now();
        while !st.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(80) {
            m.run(200, Some(1000.0));
        }
        m
    });
    // ferrisk learns the caller's address from its SDP, the test ferrisk's from its RTP.
    let caller = guest(&p, "600", "guest", caller_rtp);
    go1.send(()).expect("go 1");
    decliner
        .wait()
        .assert_ok("the declining phone was hung up after pressing 2");
    go2.send(()).expect("go 2");
    let m2 = t2.join().expect("acceptor thread");
    let m1 = t1.join().expect("decliner thread");
    assert!(m1.got.len() < 8000, "the decliner kept hearing audio");
    assert!(
        m2.hears(1000.0, 500.0),
        "the acceptor never heard the caller ({} bytes)\n{}",
        m2.got.len(),
        p.d.console()
    );
    stop.store(true, Ordering::Relaxed);
    let mc = tc.join().expect("caller thread");
    assert!(
        mc.hears(500.0, 1000.0),
        "the caller never heard the acceptor ({} bytes)",
        mc.got.len()
    );
    let show = p.d.rx("core show channels concise");
    assert!(show.contains("FollowMe!two"), "{show}");
    p.d.rx("channel request hangup all");
    caller
        .wait()
        .assert_ok("the caller was bridged, then hung up");
    acceptor
        .wait()
        .assert_ok("the acceptor was bridged, then hung up");
    let c = p.d.console();
    assert!(c.contains("calling Local/201@fmdial/m"), "{c}");
    assert!(c.contains("calling Local/202@fmdial/m"), "{c}");
}

#[test]
fn followme_nobody_answers_and_the_dialplan_goes_on() {
    let p = start();
    let ring = ringing_phone(p.uas[2]);
    std::thread::sleep(Duration::from_millis(300));
    let sock = udp();
    let caller = guest(&p, "601", "guest", port(&sock));
    let mut m = Media::new(sock);
    // `n`: the sorry prompt once the steps ran out, then the dialplan goes on.
    m.until_heard("followme/sorry", 40);
    assert_eq!(p.d.wait_db("fm", "after"), "continued");
    caller
        .wait()
        .assert_ok("FollowMe() gave up, the dialplan hung up");
    ring.wait().assert_ok("the phone rang and was cancelled");
    let c = p.d.console();
    assert!(
        c.contains("We've hit our timeout for this step. Dropping unanswered calls and starting the next step."),
        "{c}"
    );
    assert!(c.contains("No more steps left."), "{c}");
    assert!(
        p.d.stderr()
            .contains("Extension '204@fmdial' doesn't exist")
            || c.contains("Extension '204@fmdial' doesn't exist"),
        "{c}"
    );
}

#[test]
fn privacymanager_takes_the_number_an_anonymous_caller_enters() {
    let p = start();
    let sock = udp();
    let caller = guest(&p, "610", "guest", port(&sock));
    let mut m = Media::new(sock);
    m.until_played("privacy-prompt", 30);
    m.press("5551234#");
    assert_eq!(p.d.wait_db("pm", "ok"), "SUCCESS:5551234:Privacy Manager");
    caller.wait().assert_ok("PrivacyManager succeeded");
    assert!(p
        .d
        .console()
        .contains("Changed Caller*ID number to '5551234'"));
}

#[test]
fn privacymanager_fails_on_a_short_number_and_skips_a_known_caller() {
    let p = start();
    let sock = udp();
    let caller = guest(&p, "611", "guest", port(&sock));
    let mut m = Media::new(sock);
    m.until_played("privacy-prompt", 30);
    m.press("12#");
    // One try only: "incorrect", then FAILED and the caller ID stays empty.
    m.until_heard("privacy-incorrect", 30);
    assert_eq!(p.d.wait_db("pm", "fail"), "FAILED:");
    caller
        .wait()
        .assert_ok("PrivacyManager failed, the dialplan went on");
    // A caller with a number is let through untouched.
    let sock = udp();
    let c = guest(&p, "612", "5550000", port(&sock));
    assert_eq!(p.d.wait_db("pm", "skip"), ":5550000");
    c.wait().assert_ok("known caller");
    assert!(p.d.console().contains("CallerID number present: Skipping"));
}
