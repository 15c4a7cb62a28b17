//! dsp: the functions and applications that watch or change a channel's audio, against the
//! real daemon. SIPp places the call (tests/sipp/uac_media_codec.xml, SDP pointing at a UDP
//! socket of the test), the test sends and receives the RTP itself: a 1000 Hz tone the
//! caller sends makes TONE_DETECT jump to its goto and a 2600 Hz one satisfies
//! WaitForTone; TALK_DETECT's ChannelTalkingStart/Stop reach an AMI connection; Monitor's
//! `-in` file holds what the caller sent; PITCH_SHIFT(tx)=highest doubles a prompt's
//! frequency. Results come back through AstDB keys the dialplan sets.

use crate::common::audio::*;
use crate::common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

struct Pbx {
    d: Daemon,
    sip: u16,
    rtp: u16,
}

/// A daemon taking guest calls into `[guests]` of `extensions`, one RTP port pair, with
/// `extra` config files and `sounds` (name, samples) in its sounds directory.
fn start(extensions: &str, extra: &[(&str, String)], sounds: &[(&str, Vec<i16>)]) -> Pbx {
    let sip = free_port();
    let base = free_ports(4);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 1);
    let dir = tempdir();
    let mut files: Vec<(&str, &str)> = vec![
        ("ferrisk.conf", FERRISK_CONF_DATA),
        ("extensions.conf", extensions),
        ("sip.conf", &sip_conf),
        ("rtp.conf", &rtp_conf),
    ];
    files.extend(extra.iter().map(|(n, t)| (*n, t.as_str())));
    write_configs(dir.path(), &files);
    let snd = dir.path().join("data/sounds/en");
    std::fs::create_dir_all(&snd).expect("sounds dir");
    for (name, samples) in sounds {
        std::fs::write(
            snd.join(format!("{name}.wav")),
            ferrisk::media::wav::wav_bytes(samples),
        )
        .expect("write prompt");
    }
    Pbx {
        d: Daemon::launch(dir),
        sip,
        rtp,
    }
}

/// A guest call to `exten` (PCMU), SDP media at `sock`, in the background.
fn call(p: &Pbx, exten: &str, sock: &UdpSocket) -> SippChild {
    Sipp::new("uac_media_codec.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "guest")
        .key("rtp_port", sock.local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(30)
        .spawn()
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    s
}

/// Send `signal` as 20 ms PCMU packets to the PBX's RTP port at real pace, receiving all
/// the while, for `run_ms`; the audio received (decoded).
fn exchange(rtp: u16, sock: &UdpSocket, signal: &[i16], run_ms: u64) -> Vec<i16> {
    let mut heard = Vec::new();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut k = 0usize;
    while start.elapsed() < Duration::from_millis(run_ms) {
        if start.elapsed() >= Duration::from_millis(20 * k as u64) {
            if let Some(f) = signal.get(k * 160..((k + 1) * 160).min(signal.len())) {
                if !f.is_empty() {
                    let mut pkt = vec![0x80, if k == 0 { 0x80 } else { 0 }];
                    pkt.extend_from_slice(&(k as u16).to_be_bytes());
                    pkt.extend_from_slice(&((k * 160) as u32).to_be_bytes());
                    pkt.extend_from_slice(&0xd5d5_u32.to_be_bytes());
                    pkt.extend(ferrisk::media::g711::ulaw_encode(f));
                    let _ = sock.send_to(&pkt, ("127.0.0.1", rtp));
                }
            }
            k += 1;
        }
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n > 12 && buf[1] & 0x7f == 0 {
                heard.extend(ferrisk::media::g711::ulaw_decode(&buf[12..n]));
            }
        }
    }
    heard
}

fn tone(hz: f64, ms: usize) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

#[test]
fn tone_detect_jumps_to_its_goto_and_waitfortone_hears_the_caller() {
    let ext = "[guests]\n\
        exten => 100,1,Answer()\n \
        same => n,Set(TONE_DETECT(1000,300,g(guests,hit,1))=)\n \
        same => n,Wait(15)\n \
        same => n,Set(DB(dsp/tone)=missed)\n \
        same => n,Hangup()\n\
        exten => hit,1,Set(DB(dsp/tone)=hit-${TONE_DETECT(rx)})\n \
        same => n,WaitForTone(2600,400,15)\n \
        same => n,Set(DB(dsp/wait)=${WAITFORTONESTATUS})\n \
        same => n,Hangup()\n";
    let p = start(ext, &[], &[]);
    let sock = udp();
    let sipp = call(&p, "100", &sock);
    // Answered by the time the tone comes: 1.5 s of silence first.
    let mut signal = silence(1500);
    signal.extend(tone(1000.0, 700));
    signal.extend(silence(1000));
    signal.extend(tone(2600.0, 800));
    signal.extend(silence(1000));
    exchange(p.rtp, &sock, &signal, 5500);
    assert_eq!(p.d.wait_db("dsp", "tone"), "hit-1", "{}", p.d.stderr());
    assert_eq!(p.d.wait_db("dsp", "wait"), "SUCCESS", "{}", p.d.stderr());
    sipp.wait().assert_ok("the dialplan hung up");
}

/// An AMI session logged in with `read = all`: its lines as they come.
struct Ami {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Ami {
    fn login(port: u16) -> Ami {
        let deadline = Instant::now() + Duration::from_secs(10);
        let s = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "AMI never listened: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut a = Ami {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        };
        a.w.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: adminpw\r\n\r\n")
            .expect("login");
        a.wait_for(|m| m.contains("Response: Success"), 10, "a login response");
        a
    }

    /// The next message (up to a blank line) for which `ok` holds, within `secs`.
    fn wait_for(&mut self, ok: impl Fn(&str) -> bool, secs: u64, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut msg = String::new();
        let mut seen = Vec::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "no {what} on AMI; saw: {seen:#?}"
            );
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) => panic!("AMI closed; saw: {seen:#?}"),
                Ok(_) if line.trim().is_empty() => {
                    if ok(&msg) {
                        return msg;
                    }
                    seen.push(std::mem::take(&mut msg));
                }
                Ok(_) => msg.push_str(&line),
                Err(_) => {}
            }
        }
    }
}

#[test]
fn talk_detect_events_reach_an_ami_client() {
    let ami = free_port();
    let manager = format!(
        "[general]\nenabled = yes\nport = {ami}\nbindaddr = 127.0.0.1\n\n\
         [admin]\nsecret = adminpw\nread = all\nwrite = all\nwritetimeout = 10000\n"
    );
    let ext = "[guests]\n\
        exten => 200,1,Answer()\n \
        same => n,Set(TALK_DETECT(set)=600)\n \
        same => n,Wait(5)\n \
        same => n,Hangup()\n";
    let p = start(ext, &[("manager.conf", manager)], &[]);
    let mut a = Ami::login(ami);
    let sock = udp();
    let sipp = call(&p, "200", &sock);
    // Silence, 1 s of talk, then silence: one start and one stop of about 1 s.
    let mut signal = silence(1500);
    signal.extend(noise(7, 8000));
    signal.extend(silence(2500));
    let sender = std::thread::spawn({
        let sock = sock.try_clone().expect("clone");
        let rtp = p.rtp;
        move || exchange(rtp, &sock, &signal, 5000)
    });
    let start = a.wait_for(
        |m| m.contains("Event: ChannelTalkingStart"),
        20,
        "ChannelTalkingStart",
    );
    assert!(start.contains("Channel: SIP/"), "{start}");
    let stop = a.wait_for(
        |m| m.contains("Event: ChannelTalkingStop"),
        20,
        "ChannelTalkingStop",
    );
    let ms: u64 = stop
        .lines()
        .find_map(|l| l.strip_prefix("Duration: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Duration: {stop}"));
    assert!((800..=1400).contains(&ms), "talked {ms} ms: {stop}");
    let _ = sender.join();
    sipp.wait().assert_ok("the dialplan hung up");
}

#[test]
fn monitor_records_what_the_caller_sent_and_pitch_shift_doubles_a_prompt() {
    let out = tempdir();
    let base = out.path().join("mon");
    let ext = format!(
        "[guests]\n\
         exten => 300,1,Answer()\n \
         same => n,Monitor(wav,{})\n \
         same => n,Wait(3)\n \
         same => n,StopMonitor()\n \
         same => n,Set(DB(dsp/monitor)=done)\n \
         same => n,Hangup()\n\
         exten => 301,1,Answer()\n \
         same => n,Set(PITCH_SHIFT(tx)=highest)\n \
         same => n,Playback(tone500)\n \
         same => n,Hangup()\n",
        base.display()
    );
    let p = start(&ext, &[], &[("tone500", tone(500.0, 3000))]);
    // Monitor: the -in leg holds the caller's audio.
    let sock = udp();
    let sipp = call(&p, "300", &sock);
    let sent = speechlike(3, 8000 * 4);
    exchange(p.rtp, &sock, &sent, 3500);
    assert_eq!(p.d.wait_db("dsp", "monitor"), "done", "{}", p.d.stderr());
    sipp.wait().assert_ok("the dialplan hung up");
    let got =
        ferrisk::media::wav::read_wav(&base.with_file_name("mon-in.wav")).expect("mon-in.wav");
    assert!(got.len() > 8000, "in leg: {} samples", got.len());
    let c = aligned_corr(&sent, &got, 8000);
    assert!(c > 0.95, "correlation {c}");
    assert!(base.with_file_name("mon-out.wav").exists());
    // PITCH_SHIFT: the 500 Hz prompt arrives at 1000 Hz.
    let sock = udp();
    let sipp = call(&p, "301", &sock);
    let heard = exchange(p.rtp, &sock, &silence(3500), 3500);
    sipp.wait().assert_ok("the dialplan hung up");
    assert!(heard.len() > 8000, "heard {} samples", heard.len());
    let mid = &heard[4000..heard.len() - 2000];
    let power = ferrisk::media::tonedetect::power_of;
    let (p1000, p500) = (power(mid, 1000.0), power(mid, 500.0));
    assert!(p1000 > 10.0 * p500, "1000 Hz {p1000}, 500 Hz {p500}");
}
