//! VoiceMailMain() end to end: a real baresip phone calls `VoiceMailMain(100@default)` on
//! the real daemon and presses keys (RFC 2833 through ctrl_tcp `sndcode`); the test checks
//! the spool and voicemail.conf afterwards. The daemon runs with `verbose = 3` and its
//! console on a file, so the test presses a key only once the prompt that expects it is
//! playing ("Playing 'vm-password.wav'") — no timing guesses.

mod common;

use common::*;
use ferrisk::voicemail::metadata::MessageInfo;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One call at a time: each test runs a daemon, a phone and real-time audio.
static SERIAL: Mutex<()> = Mutex::new(());

const VOICEMAIL_CONF: &str = "[general]\nformat=wav\nmaxlogins=3\nmaxsilence=10\n\n\
    [default]\n100 => 1234,Test User\n101 => 4321,Other\n102 => 102,New User,,,forcename=yes\n";

const EXTENSIONS: &str = "[general]\nautofallthrough=yes\n\n[guests]\n\
    exten => 8500,1,VoiceMailMain(100@default)\n same => n,Hangup()\n\
    exten => 8502,1,VoiceMailMain(102@default)\n same => n,Hangup()\n\
    exten => 8501,1,VMAuthenticate(@default)\n \
    same => n,Set(DB(test/auth)=${AUTH_MAILBOX}@${AUTH_CONTEXT})\n same => n,Hangup()\n";

/// The daemon with its console captured in `stdout.log`.
struct Pbx {
    child: Option<Child>,
    dir: tempfile::TempDir,
    sip: u16,
}

impl Pbx {
    fn start() -> Pbx {
        let sip = free_port();
        let base = free_ports(4);
        let rtp = base + (base & 1);
        let dir = tempdir();
        let sip_conf = format!(
            "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
             realm=ferrisk\ndisallow=all\nallow=ulaw\n"
        );
        let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 3);
        write_configs(
            dir.path(),
            &[
                ("ferrisk.conf", FERRISK_CONF_V3),
                ("extensions.conf", EXTENSIONS),
                ("sip.conf", &sip_conf),
                ("rtp.conf", &rtp_conf),
                ("voicemail.conf", VOICEMAIL_CONF),
            ],
        );
        std::fs::create_dir_all(dir.path().join("data/sounds")).expect("sounds dir");
        let out = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout.log");
        let err = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr.log");
        let child = Command::new(BIN)
            .arg("-f")
            .arg("-C")
            .arg(dir.path().join("ferrisk.conf"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn ferrisk");
        let p = Pbx {
            child: Some(child),
            dir,
            sip,
        };
        wait_for(20, "the control socket", || {
            std::os::unix::net::UnixStream::connect(p.dir.path().join("run/ferrisk.ctl"))
                .ok()
                .map(|_| ())
        });
        p
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Wait until the console shows `needle` at least `n` times.
    fn wait_console(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let c = self.console();
            if c.matches(needle).count() >= n {
                return;
            }
            if Instant::now() >= deadline {
                let _ = std::fs::copy(self.dir.path().join("stdout.log"), "/tmp/vmmain-fail.log");
            }
            assert!(
                Instant::now() < deadline,
                "console never showed {needle:?} {n} times:\n{c}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn mailbox(&self) -> PathBuf {
        self.dir.path().join("spool/voicemail/default/100")
    }

    /// A message (1 s tone) as msgNNNN in `folder`.
    fn put_message(&self, folder: &str, n: u32, caller: &str) {
        let dir = self.mailbox().join(folder);
        std::fs::create_dir_all(&dir).expect("folder");
        write_tone_wav(&dir.join(format!("msg{n:04}.wav")), 1);
        let info = MessageInfo {
            origmailbox: "100".into(),
            context: "guests".into(),
            exten: "100".into(),
            rdnis: "unknown".into(),
            priority: 1,
            callerchan: "SIP/guest-00000001".into(),
            callerid: caller.into(),
            origtime: 1_700_000_000,
            msg_id: format!("1700000000-{n:08}"),
            duration: 1,
            ..Default::default()
        };
        std::fs::write(dir.join(format!("msg{n:04}.txt")), info.render()).expect("txt");
    }

    fn count(&self, folder: &str) -> usize {
        std::fs::read_dir(self.mailbox().join(folder))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".txt"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A phone that called 8500 and is connected.
fn call(p: &Pbx) -> Baresip {
    call_to(p, "8500")
}

fn call_to(p: &Pbx, exten: &str) -> Baresip {
    // baresip stops sending audio when its source file ends: give it two minutes of tone.
    let wav = p.dir.path().join("phone.wav");
    write_tone_wav(&wav, 120);
    let mut b = Baresip::start_with(
        free_ports(3),
        &[format!("<sip:guest@127.0.0.1:{}>;regint=0", p.sip)],
        Some(&wav),
        false,
    );
    b.request("dial", &format!("sip:{exten}@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 15);
    b
}

fn keys(b: &mut Baresip, digits: &str) {
    for d in digits.chars() {
        b.request("sndcode", &d.to_string());
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn login(p: &Pbx, b: &mut Baresip) {
    p.wait_console("Playing 'vm-password.", 1);
    keys(b, "1234#");
    p.wait_console("Playing 'vm-youhave.", 1);
}

/// A daemon with these callers' messages in INBOX, and a baresip call logged in to 100.
fn logged_in(callers: &[&str]) -> (Pbx, Baresip) {
    let p = Pbx::start();
    for (n, c) in callers.iter().enumerate() {
        p.put_message("INBOX", n as u32, c);
    }
    let mut b = call(&p);
    login(&p, &mut b);
    (p, b)
}

/// 1: the first message plays, then the menu after it.
fn listen_first(p: &Pbx, b: &mut Baresip) {
    keys(b, "1");
    p.wait_console("INBOX/msg0000.wav", 1);
    p.wait_console("Playing 'vm-advopts.", 1);
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn listening_then_exit_moves_the_message_to_old() {
    let _s = serial();
    let (p, mut b) = logged_in(&["\"Alice\" <2000>"]);
    // Intro says "1 INBOX message"; 1 plays it, then the menu follows.
    listen_first(&p, &mut b);
    keys(&mut b, "#");
    b.wait_event("CALL_CLOSED", 20);
    wait_for(10, "the message in Old", || {
        (p.count("Old") == 1).then_some(())
    });
    assert_eq!(p.count("INBOX"), 0, "{}", p.console());
    assert!(p.mailbox().join("Old/msg0000.wav").exists());
    assert!(p.console().contains("Playing 'vm-goodbye."));
}

#[test]
fn seven_deletes_the_message() {
    let _s = serial();
    let (p, mut b) = logged_in(&["<2000>", "<2001>"]);
    listen_first(&p, &mut b);
    keys(&mut b, "7");
    p.wait_console("Playing 'vm-deleted.", 1);
    // Hang up from the phone: the deletion still applies, the unheard message stays new.
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
    wait_for(10, "one message left in INBOX", || {
        (p.count("INBOX") == 1).then_some(())
    });
    assert_eq!(p.count("Old"), 0, "{}", p.console());
    let txt = std::fs::read_to_string(p.mailbox().join("INBOX/msg0000.txt")).expect("txt");
    assert!(txt.contains("callerid=<2001>"), "{txt}");
}

#[test]
fn busy_greeting_recorded_from_the_options_menu() {
    let _s = serial();
    let (p, mut b) = logged_in(&[]);
    keys(&mut b, "0");
    p.wait_console("Playing 'vm-options.", 1);
    keys(&mut b, "2");
    p.wait_console("Playing 'beep.", 1);
    // The phone sends its tone; '#' ends the recording, 1 accepts it.
    std::thread::sleep(Duration::from_secs(2));
    keys(&mut b, "#");
    p.wait_console("Playing 'vm-review.", 1);
    keys(&mut b, "1");
    p.wait_console("Playing 'vm-msgsaved.", 1);
    let busy = p.mailbox().join("busy.wav");
    let len = std::fs::metadata(&busy).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 44 + 8000,
        "busy.wav missing or short ({len} bytes)\n{}",
        p.console()
    );
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
}

#[test]
fn password_change_rewrites_voicemail_conf() {
    let _s = serial();
    let (p, mut b) = logged_in(&[]);
    keys(&mut b, "0");
    p.wait_console("Playing 'vm-options.", 1);
    keys(&mut b, "5");
    p.wait_console("Playing 'vm-newpassword.", 1);
    keys(&mut b, "5678#");
    p.wait_console("Playing 'vm-reenterpassword.", 1);
    keys(&mut b, "5678#");
    p.wait_console("Playing 'vm-passchanged.", 1);
    let conf = std::fs::read_to_string(p.dir.path().join("voicemail.conf")).expect("conf");
    assert_eq!(
        conf,
        VOICEMAIL_CONF.replace("100 => 1234,", "100 => 5678,"),
        "only the password changed"
    );
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
}

#[test]
fn three_wrong_passwords_hang_up() {
    let _s = serial();
    let p = Pbx::start();
    p.put_message("INBOX", 0, "<2000>");
    let mut b = call(&p);
    for i in 1..=3 {
        p.wait_console("Playing 'vm-password.", i);
        keys(&mut b, "9999#");
    }
    b.wait_event("CALL_CLOSED", 30);
    let c = p.console();
    assert_eq!(
        c.matches("Incorrect password '9999' for user '100' (context = default)")
            .count(),
        3,
        "{c}"
    );
    assert!(c.contains("Playing 'vm-goodbye."), "{c}");
    assert!(!c.contains("vm-youhave"), "{c}");
    assert_eq!(p.count("INBOX"), 1);
}

#[test]
fn eight_forwards_to_another_mailbox() {
    let _s = serial();
    let (p, mut b) = logged_in(&["<2000>"]);
    listen_first(&p, &mut b);
    keys(&mut b, "8");
    p.wait_console("Playing 'vm-extension.", 1);
    keys(&mut b, "101#");
    p.wait_console("Playing 'vm-forwardoptions.", 1);
    keys(&mut b, "2");
    p.wait_console("Playing 'vm-msgsaved.", 1);
    let other = p.dir.path().join("spool/voicemail/default/101/INBOX");
    assert!(other.join("msg0000.txt").exists(), "{}", p.console());
    assert!(other.join("msg0000.wav").exists());
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
    wait_for(10, "the heard message in Old", || {
        (p.count("Old") == 1).then_some(())
    });
}

#[test]
fn vmauthenticate_sets_auth_mailbox() {
    let _s = serial();
    let p = Pbx::start();
    let mut b = call_to(&p, "8501");
    p.wait_console("Playing 'vm-login.", 1);
    keys(&mut b, "100#");
    p.wait_console("Playing 'vm-password.", 1);
    keys(&mut b, "1234#");
    b.wait_event("CALL_CLOSED", 20);
    let out = Command::new(BIN)
        .arg("-C")
        .arg(p.dir.path().join("ferrisk.conf"))
        .arg("-rx")
        .arg("database get test auth")
        .output()
        .expect("ferrisk -rx");
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(s.trim(), "Value: 100@default", "{}", p.console());
}

#[test]
fn new_user_sets_a_password_and_records_the_name() {
    let _s = serial();
    let p = Pbx::start();
    let mut b = call_to(&p, "8502");
    p.wait_console("Playing 'vm-password.", 1);
    keys(&mut b, "102#");
    p.wait_console("Playing 'vm-newuser.", 1);
    p.wait_console("Playing 'vm-newpassword.", 1);
    keys(&mut b, "4444#");
    p.wait_console("Playing 'vm-reenterpassword.", 1);
    keys(&mut b, "4444#");
    p.wait_console("Playing 'vm-passchanged.", 1);
    p.wait_console("Playing 'vm-rec-name.", 1);
    p.wait_console("Playing 'beep.", 1);
    std::thread::sleep(Duration::from_secs(2));
    keys(&mut b, "#");
    p.wait_console("Playing 'vm-review.", 1);
    keys(&mut b, "1");
    p.wait_console("Playing 'vm-youhave.", 1);
    let conf = std::fs::read_to_string(p.dir.path().join("voicemail.conf")).expect("conf");
    assert!(
        conf.contains("102 => 4444,New User,,,forcename=yes\n"),
        "{conf}"
    );
    let greet = p.dir.path().join("spool/voicemail/default/102/greet.wav");
    assert!(greet.exists(), "{}", p.console());
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
}
