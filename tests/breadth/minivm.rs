//! End-to-end tests of Mini-Voicemail (`app_minivm.so`) against the real daemon: SIPp
//! callers whose RTP (audio and RFC 2833 digits) the test sends and receives itself, the
//! real aiosmtpd sink for MinivmNotify's mail, and a SIPp phone registered with
//! `mailbox=anita@example.com` for MinivmMWI's NOTIFY.

use crate::common::audio::*;
use crate::common::smtp::SmtpSink;
use crate::common::*;
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = r#"
[general]
autofallthrough = yes

[guests]
exten => 400,1,Answer()
 same => n,Set(CALLERID(all)="Bob Caller" <1000>)
 same => n,Set(MINIVMCOUNTER(anita@example.com:msgs:i)=1)
 same => n,Set(MVM_COUNTER=${MINIVMCOUNTER(anita@example.com:msgs)})
 same => n,MinivmRecord(anita@example.com)
 same => n,Set(DB(test/rec)=${MVM_RECORD_STATUS})
 same => n,Set(DB(test/file)=${MVM_FILENAME})
 same => n,MinivmNotify(anita@example.com,test)
 same => n,Set(DB(test/notify)=${MVM_NOTIFY_STATUS})
 same => n,Hangup()
exten => 401,1,Answer()
 same => n,MinivmDelete(${DB(test/file)})
 same => n,Set(DB(test/del)=${MVM_DELETE_STATUS})
 same => n,MinivmDelete()
 same => n,MinivmDelete(${DB(test/file)})
 same => n,Set(DB(test/del2)=${MVM_DELETE_STATUS})
 same => n,Set(MINIVMCOUNTER(anita@example.com:msgs:i)=2)
 same => n,Set(DB(test/count)=${MINIVMCOUNTER(anita@example.com:msgs)})
 same => n,Hangup()
exten => 500,1,Answer()
 same => n,MinivmAccMess(anita@example.com,u)
 same => n,Set(DB(test/accmess)=${MVM_ACCMESS_STATUS})
 same => n,Hangup()
exten => 501,1,Answer()
 same => n,MinivmGreet(anita@example.com,us)
 same => n,Set(DB(test/greet)=${MVM_GREET_STATUS})
 same => n,Hangup()
exten => 502,1,Answer()
 same => n,MinivmMWI(anita@example.com,1,2,4)
 same => n,Set(DB(test/mwi)=sent)
 same => n,Hangup()
"#;

fn minivm_conf(smtp_port: u16) -> String {
    format!(
        "[general]\nformat=wav\nserveremail=vm@pbx.test\nmaxsilence=2\n\
         smtp_host=127.0.0.1\nsmtp_port={smtp_port}\n\
         [zonemessages]\neastern=America/New_York|'vm-received' Q 'digits/at' IMp\n\
         [template-test]\nsubject=MVM ${{MVM_COUNTER}} for ${{MVM_NAME}} from ${{MVM_CIDNUM}}\n\
         messagebody=Hello ${{MVM_NAME}},\\nmessage for ${{MVM_USERNAME}}@${{MVM_DOMAIN}} from ${{MVM_CALLERID}} (${{SERVICE}}).\n\
         fromaddress=Mini VM\n\
         [anita@example.com]\nfullname=Anita Borg\nemail=anita@mail.example.com\n\
         timezone=eastern\nsetvar=SERVICE=Example Networks\n"
    )
}

struct Pbx {
    d: Daemon,
    sip: u16,
    rtp: u16,
}

/// A daemon taking guest calls into `[guests]` (one RTP session), with `minivm.conf`, the
/// peer `alice` (mailbox anita@example.com) and `data/sounds/beep.wav`.
fn start(minivm: &str) -> Pbx {
    let sip = free_port();
    let base = free_ports(4);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [alice]\ntype=friend\nhost=dynamic\nsecret=alicepw\ncontext=guests\n\
         mailbox=anita@example.com\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 1);
    let dir = tempdir();
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_V3),
            ("extensions.conf", EXTENSIONS),
            ("sip.conf", &sip_conf),
            ("rtp.conf", &rtp_conf),
            ("minivm.conf", minivm),
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

impl Pbx {
    fn spool(&self) -> std::path::PathBuf {
        self.d.path().join("spool/voicemail")
    }

    /// A guest call to `exten` (PCMU, media at `sock`), in the background.
    fn call(&self, exten: &str, sock: &UdpSocket) -> SippChild {
        Sipp::new("uac_media_codec.xml", Some(self.sip))
            .local_port(free_port())
            .service(exten)
            .key("from_user", "guest")
            .key("rtp_port", sock.local_addr().expect("addr").port())
            .key("pt", 0)
            .key("codec", "PCMU")
            .timeout(40)
            .spawn()
    }
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    s
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&0x0dd_u32.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// One RTP leg for `run_ms`: `signal` in PCMU at 20 ms pace to the PBX's `port`, RFC 2833
/// `digits` (at their 20 ms frame index, five event packets each, instead of audio);
/// returns the decoded audio the PBX sent.
fn talk(
    sock: &UdpSocket,
    port: u16,
    signal: &[i16],
    digits: &[(u32, char)],
    run_ms: u64,
) -> Vec<i16> {
    let mut heard = Vec::new();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut k = 0u32;
    while start.elapsed() < Duration::from_millis(run_ms) {
        if start.elapsed() >= Duration::from_millis(20 * u64::from(k)) {
            let event = digits
                .iter()
                .find(|(at, _)| (*at..*at + 5).contains(&k))
                .map(|(at, d)| (k - at, *at, *d));
            let pkt = match event {
                Some((i, at, d)) => {
                    let code = match d {
                        '*' => 10,
                        '#' => 11,
                        c => c.to_digit(10).expect("digit") as u8,
                    };
                    let dur = 160 * (i as u16 + 1);
                    let end = if i >= 2 { 0x80 } else { 0 };
                    let ev = [code, end | 10, (dur >> 8) as u8, dur as u8];
                    rtp(101, i == 0, k as u16, at * 160, &ev)
                }
                None => {
                    let i = k as usize * 160;
                    let frame: Vec<i16> = (i..i + 160)
                        .map(|j| signal.get(j).copied().unwrap_or(0))
                        .collect();
                    let payload = ferrisk::media::g711::ulaw_encode(&frame);
                    rtp(0, k == 0, k as u16, k * 160, &payload)
                }
            };
            let _ = sock.send_to(&pkt, ("127.0.0.1", port));
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

/// MinivmRecord keeps what the caller said (ended by maxsilence) and sets MVM_FILENAME;
/// MinivmNotify mails it through the aiosmtpd sink with the `test` template (subject and
/// body substituted, the WAV attached as voicemail<counter>.wav); MINIVMCOUNTER counts;
/// MinivmDelete removes the message and fails for one that is gone.
#[test]
fn record_notify_count_and_delete_a_message() {
    let mdir = tempdir();
    let sink = SmtpSink::start_new(mdir.path());
    let p = start(&minivm_conf(sink.port));
    let sock = udp();
    let sipp = p.call("400", &sock);
    p.d.wait_console("Playing 'beep.wav'", 1);
    // 2 s of talk, then silence: maxsilence=2 ends the recording.
    let said = noise(7, 16000);
    talk(&sock, p.rtp, &said, &[], 6500);
    assert_eq!(p.d.wait_db("test", "rec"), "SUCCESS", "{}", p.d.stderr());
    assert_eq!(p.d.wait_db("test", "notify"), "SUCCESS", "{}", p.d.stderr());
    sipp.wait().assert_ok("caller hung up by the dialplan");
    let base = p.d.wait_db("test", "file");
    assert!(
        base.starts_with(
            &p.spool()
                .join("0000_minivm_temp/mediafiles")
                .display()
                .to_string()
        ),
        "{base}"
    );
    let wav_path = format!("{base}.wav");
    let wav_bytes = std::fs::read(&wav_path).expect("the recorded file");
    let rec = ferrisk::media::wav::read_wav(Path::new(&wav_path)).expect("a WAV");
    let c = aligned_corr(&said, &rec, 4000);
    assert!(c >= 0.95, "recording vs what was sent: correlation {c:.3}");
    let log = std::fs::read_to_string(&base).expect("the message's text file");
    assert!(log.starts_with("anita:guests::400:"), "{log}");
    assert!(log.contains("\"Bob Caller\" <1000>"), "{log}");

    let mails = sink.wait_mails(1, 30);
    let m = &mails[0];
    assert_eq!(
        m.header("Subject"),
        Some("MVM 1 for Anita Borg from 1000"),
        "{:?}",
        m.headers
    );
    assert!(
        m.header("From")
            .is_some_and(|f| f.contains("Mini VM") && f.contains("<vm@pbx.test>")),
        "{:?}",
        m.headers
    );
    assert!(
        m.header("To")
            .is_some_and(|t| t.contains("<anita@mail.example.com>")),
        "{:?}",
        m.headers
    );
    let text = m.text();
    assert!(
        text.contains("Hello Anita Borg,\nmessage for anita@example.com from \"Bob Caller\" <1000> (Example Networks)."),
        "{text}"
    );
    let att = m.attachments();
    assert_eq!(att.len(), 1, "one attachment: {:?}", m.headers);
    assert_eq!(att[0].0, "voicemail1.wav");
    assert_eq!(att[0].1, "audio/x-wav");
    assert!(
        att[0].2 == wav_bytes,
        "attachment differs from the recording"
    );
    let counter = p.spool().join("example.com/anita/msgs.counter");
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "1\n\n");

    let sock = udp();
    let sipp = p.call("401", &sock);
    assert_eq!(p.d.wait_db("test", "count"), "3", "{}", p.d.stderr());
    assert_eq!(p.d.wait_db("test", "del"), "SUCCESS");
    assert_eq!(p.d.wait_db("test", "del2"), "FAILED");
    sipp.wait().assert_ok("second call");
    assert!(!Path::new(&wav_path).exists(), "recording deleted");
    assert!(!Path::new(&base).exists(), "text file deleted");
    let stats = p.d.rx("minivm show stats");
    assert!(
        stats.contains("  Received messages since last reset:  1\n"),
        "{stats}"
    );
}

/// MinivmAccMess records the unavailable greeting (ended by #, accepted with 1 in the
/// review menu) into the account's directory; MinivmGreet(…,us) plays it back to the next
/// caller.
#[test]
fn accmess_records_the_greeting_that_greet_plays() {
    let p = start(&minivm_conf(free_port()));
    let sock = udp();
    let sipp = p.call("500", &sock);
    // The recording starts after the prompt and the beep.
    p.d.wait_console("Playing 'beep.wav'", 1);
    let said = speechlike(11, 24000);
    // Talk 3 s, '#' at 3.2 s ends the recording, '1' at 4.4 s accepts it.
    talk(&sock, p.rtp, &said, &[(160, '#'), (220, '1')], 6000);
    assert_eq!(
        p.d.wait_db("test", "accmess"),
        "SUCCESS",
        "{}",
        p.d.stderr()
    );
    sipp.wait().assert_ok("greeting recorded");
    let greeting = p.spool().join("example.com/anita/unavailable.wav");
    let rec = ferrisk::media::wav::read_wav(&greeting).expect("unavailable.wav");
    let c = aligned_corr(&said, &rec, 4000);
    assert!(c >= 0.95, "greeting vs what was sent: correlation {c:.3}");

    let sock = udp();
    let sipp = p.call("501", &sock);
    let heard = talk(&sock, p.rtp, &[], &[], 5000);
    assert_eq!(p.d.wait_db("test", "greet"), "SUCCESS", "{}", p.d.stderr());
    sipp.wait().assert_ok("greeting played");
    let c = aligned_corr(&rec, &heard, 4000);
    assert!(
        c >= 0.9,
        "what the caller heard vs the greeting: correlation {c:.3} ({} samples heard)",
        heard.len()
    );
}

/// MinivmMWI(anita@example.com,1,2,4): the SIPp phone registered as peer `alice` with
/// `mailbox=anita@example.com` gets a message-summary NOTIFY saying 3 new (2 + 1 urgent)
/// and 4 old.
#[test]
fn mwi_notifies_the_subscribed_phone() {
    let p = start(&minivm_conf(free_port()));
    let light = Sipp::new("uas_registered.xml", Some(p.sip))
        .local_port(free_port())
        .service("alice")
        .auth("alice", "alicepw")
        .key("expires", 600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "3/4")
        .timeout(60)
        .spawn();
    p.d.rx_until("sip show peer alice", 30, |o| {
        o.contains("LastMsgsSent : 0/0")
    });
    let sock = udp();
    let sipp = p.call("502", &sock);
    assert_eq!(p.d.wait_db("test", "mwi"), "sent", "{}", p.d.stderr());
    sipp.wait().assert_ok("MWI call");
    let r = light.wait();
    r.assert_ok("phone receiving the NOTIFY");
    let seen = r.mwi_notifies();
    assert!(
        r.mwi_notify_position("3/4 waiting=yes") > r.mwi_notify_position("0/0 waiting=no"),
        "{seen:?}"
    );
}

/// The `minivm` commands print Asterisk's tables; a reload with errors names
/// file:line:column and keeps the running accounts; a good one replaces them.
#[test]
fn cli_tables_and_reload_keeping_the_config_on_errors() {
    let p = start(&minivm_conf(free_port()));
    let acc = p.d.rx("minivm list accounts");
    assert!(
        acc.starts_with("User                    E-Template      P-template      Zone       Format     Full name"),
        "{acc}"
    );
    assert!(acc.contains("anita@example.com       -               -               eastern    wav        Anita Borg"), "{acc}");
    assert!(acc.contains(" * Total: 1 minivoicemail accounts"), "{acc}");
    let t = p.d.rx("minivm list templates");
    assert!(
        t.contains("test            ISO-8859-1 -          Yes             MVM ${MVM_COUNTER}"),
        "{t}"
    );
    assert!(
        t.contains(" * Total: 3 minivoicemail message templates"),
        "{t}"
    );
    let z = p.d.rx("minivm list zones");
    assert!(
        z.contains("eastern         America/New_York     'vm-received' Q 'digits/at' IMp"),
        "{z}"
    );
    let s = p.d.rx("minivm show settings");
    assert!(
        s.contains("  Max silence:                        2000\n"),
        "{s}"
    );
    assert!(
        s.contains("  Default format:                     wav\n"),
        "{s}"
    );

    std::fs::write(
        p.d.path().join("minivm.conf"),
        "[general]\nmaxmessage=lots\n[bob@example.com]\n",
    )
    .unwrap();
    let out = p.d.rx_output("minivm reload");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("minivm.conf:2:"), "{text}");
    assert!(text.contains("keeping the running configuration"), "{text}");
    assert!(p.d.rx("minivm list accounts").contains("anita@example.com"));

    std::fs::write(
        p.d.path().join("minivm.conf"),
        "[bob@example.com]\nfullname=Bob\n",
    )
    .unwrap();
    assert!(p
        .d
        .rx("minivm reload")
        .contains("Mini voicemail re-configured"));
    let acc = p.d.rx("minivm list accounts");
    assert!(
        acc.contains("bob@example.com") && !acc.contains("anita"),
        "{acc}"
    );
}
