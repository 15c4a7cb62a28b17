//! README's command line, as a new user runs it: `-C etc/ferrisk.conf` *relative*, from the
//! top of a checkout, with the sample configuration in `etc/` (copied to a temporary
//! checkout so the test writes nothing into the repository; only the SIP and RTP ports are
//! moved off 5060 so tests can run side by side). `-cvvv` becomes `-f -vvv`: the same
//! foreground daemon without a terminal.
//!
//! The first hour's voicemail bug: with the relative `-C`, `*97` played nothing (the
//! message path held `..`) and still marked the message heard. Now every directory is
//! absolute from start-up, and a message whose audio is missing stays new.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A copy of the checkout's `etc/` and `sounds/` in a temporary "checkout".
fn checkout(sip: u16, rtp: u16) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempdir();
    for sub in ["etc", "sounds"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        for e in std::fs::read_dir(root.join(sub)).expect(sub).flatten() {
            let p = e.path();
            if p.is_file() {
                std::fs::copy(&p, dir.path().join(sub).join(e.file_name())).expect("copy");
            }
        }
    }
    let sip_conf = dir.path().join("etc/sip.conf");
    let text = std::fs::read_to_string(&sip_conf).expect("sip.conf");
    std::fs::write(
        &sip_conf,
        text.replace("bindport = 5060", &format!("bindport = {sip}")),
    )
    .expect("sip.conf");
    std::fs::write(
        dir.path().join("etc/rtp.conf"),
        format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 9),
    )
    .expect("rtp.conf");
    // No mail relay in this test.
    let vm = dir.path().join("etc/voicemail.conf");
    let text = std::fs::read_to_string(&vm).expect("voicemail.conf");
    std::fs::write(
        &vm,
        text.replace("smtp_host = 127.0.0.1", ";smtp_host = 127.0.0.1"),
    )
    .expect("voicemail.conf");
    dir
}

/// Two messages in 1002's INBOX: msg0000 with its audio, msg0001 whose audio is gone.
fn messages(root: &Path) -> PathBuf {
    let inbox = root.join("var/spool/voicemail/default/1002/INBOX");
    std::fs::create_dir_all(&inbox).expect("inbox");
    for n in 0..2u32 {
        let info = ferrisk::voicemail::metadata::MessageInfo {
            origmailbox: "1002".into(),
            context: "internal".into(),
            exten: "1002".into(),
            rdnis: "unknown".into(),
            priority: 1,
            callerchan: "SIP/1001-00000001".into(),
            callerid: "\"Desk 1001\" <1001>".into(),
            origtime: 1_700_000_000,
            msg_id: format!("1700000000-{n:08}"),
            duration: 1,
            ..Default::default()
        };
        std::fs::write(inbox.join(format!("msg{n:04}.txt")), info.render()).expect("txt");
    }
    write_tone_wav(&inbox.join("msg0000.wav"), 1);
    inbox
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn readme_command_line_plays_voicemail_and_marks_only_what_was_played() {
    let sip = free_port();
    let base = free_ports(12);
    let rtp = base + (base & 1);
    let co = checkout(sip, rtp);
    let inbox = messages(co.path());
    let out = std::fs::File::create(co.path().join("console.log")).expect("log");
    // README: `cargo run --release -- -C etc/ferrisk.conf -cvvv`, from the checkout.
    let _pbx = Running(
        Command::new(BIN)
            .current_dir(co.path())
            .args(["-C", "etc/ferrisk.conf", "-f", "-vvv"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("ferrisk"),
    );
    let console = || std::fs::read_to_string(co.path().join("console.log")).unwrap_or_default();
    wait_for(20, "the control socket", || {
        co.path().join("var/run/ferrisk.ctl").exists().then_some(())
    });
    let wait_console = |needle: &str| {
        wait_for(40, needle, || console().contains(needle).then_some(()));
    };
    // README's "Try it" commands, as typed (through -rx from the checkout).
    let rx = |cmd: &str| -> String {
        let out = Command::new(BIN)
            .current_dir(co.path())
            .args(["-C", "etc/ferrisk.conf", "-rx", cmd])
            .output()
            .expect("ferrisk -rx");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plan = rx("dialplan show internal");
    assert!(plan.contains("'600'") && plan.contains("Echo()"), "{plan}");
    rx("channel originate Local/200@internal extension 612@internal");
    wait_for(20, "README's originate to store lastcall/200", || {
        rx("database show lastcall")
            .contains("/lastcall/200")
            .then_some(())
    });
    assert!(
        !console().contains("Invalid extension"),
        "README's originate reached no extension:\n{}",
        console()
    );
    // 1002 (a baresip phone) dials *97, enters its PIN and listens to both messages.
    let tone = co.path().join("phone.wav");
    write_tone_wav(&tone, 120);
    let mut b = Baresip::start_with(
        free_ports(3),
        &[format!(
            "<sip:1002@127.0.0.1:{sip}>;auth_pass=1002secret;regint=600"
        )],
        Some(&tone),
        false,
    );
    b.wait_registered(15);
    b.request("dial", &format!("sip:*97@127.0.0.1:{sip}"));
    b.wait_event("CALL_ESTABLISHED", 15);
    let keys = |b: &mut Baresip, digits: &str| {
        for d in digits.chars() {
            b.request("sndcode", &d.to_string());
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait_console("Playing 'vm-password.");
    keys(&mut b, "4321#");
    wait_console("Playing 'vm-youhave.");
    keys(&mut b, "1");
    // The first message's audio, found through the absolute spool path.
    wait_console("INBOX/msg0000.wav");
    keys(&mut b, "6");
    wait_console("msg0001 does not exist in any format");
    std::thread::sleep(Duration::from_millis(500));
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
    let log = console();
    assert!(
        !log.contains("/../"),
        "a path with .. reached the console:\n{log}"
    );
    // Heard: moved to Old. Not played: still new.
    let old = inbox.parent().expect("box").join("Old");
    wait_for(10, "msg0000 moved to Old", || {
        old.join("msg0000.txt").exists().then_some(())
    });
    // The unplayed one stays in INBOX (renumbered msg0000 once the first has left).
    let left = std::fs::read_to_string(inbox.join("msg0000.txt")).unwrap_or_default();
    assert!(left.contains("msg_id=1700000000-00000001"), "{left}\n{log}");
    assert!(!inbox.join("msg0001.txt").exists());
}
