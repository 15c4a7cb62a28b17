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

/// README's command line (`-cvvv` as `-f -vvv`), run from the checkout `root`; the console
/// goes to `console.log` there.
fn start(root: &Path) -> Running {
    let out = std::fs::File::create(root.join("console.log")).expect("log");
    Running(
        Command::new(BIN)
            .current_dir(root)
            .args(["-C", "etc/ferrisk.conf", "-f", "-vvv"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("ferrisk"),
    )
}

/// `ferrisk -C etc/ferrisk.conf -rx <cmd>` from the checkout `root`: its standard output.
fn rx(root: &Path, cmd: &str) -> String {
    let out = Command::new(BIN)
        .current_dir(root)
        .args(["-C", "etc/ferrisk.conf", "-rx", cmd])
        .output()
        .expect("ferrisk -rx");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
    // README: `cargo run --release -- -C etc/ferrisk.conf -cvvv`, from the checkout.
    let _pbx = start(co.path());
    let console = || std::fs::read_to_string(co.path().join("console.log")).unwrap_or_default();
    wait_for(20, "the control socket", || {
        co.path().join("var/run/ferrisk.ctl").exists().then_some(())
    });
    let wait_console = |needle: &str| {
        wait_for(40, needle, || console().contains(needle).then_some(()));
    };
    // README's "Try it" commands, as typed (through -rx from the checkout).
    let rx = |cmd: &str| rx(co.path(), cmd);
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

/// The CLI commands shown in README.md and docs/ (`*CLI> …` lines and `-rx "…"`), in the
/// order the files show them.
fn documented_commands() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).expect("doc");
        for line in text.lines() {
            let t = line.trim_start();
            if let Some(cmd) = t.strip_prefix("*CLI> ") {
                out.push((name.clone(), cmd.trim().to_string()));
            } else if t.starts_with("ferrisk ") || t.starts_with("target/") {
                if let Some(i) = t.find("-rx \"") {
                    let rest = &t[i + 5..];
                    if let Some(end) = rest.find('"') {
                        out.push((name.clone(), rest[..end].to_string()));
                    }
                }
            }
        }
    }
    out
}

/// Commands of modules the sample configuration does not load (no xmpp.conf or
/// calendar.conf in etc/): those must be run, as written, by that module's own
/// end-to-end test against its real server.
const OTHER_TESTS: &[(&str, &str)] = &[("xmpp ", "xmpp_e2e.rs"), ("calendar ", "calendar_e2e.rs")];

/// Issue 18: every command in README and docs/ is run by a test. Each one shown runs on the
/// sample configuration and is a known command (no `No such command`), or, for the modules
/// the sample does not load, appears verbatim in that module's end-to-end test. The table
/// of docs/cli.md is checked too: each command it lists is one `core show help` knows.
#[test]
fn every_cli_command_in_readme_and_docs_runs() {
    let sip = free_port();
    let base = free_ports(12);
    let rtp = base + (base & 1);
    let co = checkout(sip, rtp);
    // docs/realtime.md's example: `sippeers` in an SQLite file through res_config_sqlite3.
    let db = co.path().join("var/lib/realtime.sqlite3");
    std::fs::create_dir_all(db.parent().unwrap()).expect("mkdir");
    rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TABLE sippeers (name TEXT, host TEXT, port TEXT);
                 INSERT INTO sippeers VALUES ('1001', 'dynamic', '');",
            )
        })
        .expect("sqlite");
    std::fs::write(
        co.path().join("etc/extconfig.conf"),
        "[settings]\nsippeers => sqlite3,asterisk,sippeers\n",
    )
    .expect("extconfig.conf");
    std::fs::write(
        co.path().join("etc/res_config_sqlite3.conf"),
        format!("[asterisk]\ndbfile => {}\n", db.display()),
    )
    .expect("res_config_sqlite3.conf");
    let _pbx = start(co.path());
    wait_for(20, "the control socket", || {
        co.path().join("var/run/ferrisk.ctl").exists().then_some(())
    });
    let rx = |cmd: &str| rx(co.path(), cmd);
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut stop = Vec::new();
    let mut ran = 0;
    for (file, cmd) in documented_commands() {
        if let Some((_, test)) = OTHER_TESTS.iter().find(|(p, _)| cmd.starts_with(p)) {
            let src = std::fs::read_to_string(tests_dir.join(test)).expect(test);
            assert!(
                src.contains(&format!("\"{cmd}\"")),
                "{file}: `{cmd}` is not run by tests/{test}"
            );
            continue;
        }
        if cmd.starts_with("core stop") {
            stop.push(cmd);
            continue;
        }
        let reply = rx(&cmd);
        assert!(
            !reply.contains("No such command"),
            "{file}: `{cmd}` is not a command:\n{reply}"
        );
        if cmd.starts_with("realtime update") {
            assert_eq!(reply, "Updated 1 RealTime record.\n", "{file}: `{cmd}`");
        }
        if cmd.starts_with("realtime load") {
            assert!(reply.contains("dynamic"), "{file}: `{cmd}`:\n{reply}");
        }
        ran += 1;
    }
    assert!(ran > 20, "only {ran} documented commands found");
    // docs/cli.md's tables: `command words <args>` in the first column.
    let cli = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md"))
        .expect("cli.md");
    let help = rx("core show help");
    let known: Vec<Vec<&str>> = help
        .lines()
        .filter_map(|l| l.split(" -- ").next())
        .map(|name| name.split_whitespace().collect())
        .collect();
    let mut listed = 0;
    for line in cli.lines().filter(|l| l.starts_with("| `")) {
        let cell = line[2..].split(" |").next().unwrap_or("");
        for form in cell.split("`, `") {
            let form = form.trim_matches('`');
            let word = |w: &str| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            };
            // `meetme lock\|unlock <confno>`: each alternative is a command.
            let mut alts: Vec<Vec<&str>> = vec![Vec::new()];
            for w in form.split_whitespace() {
                let choices: Vec<&str> = w.split("\\|").collect();
                if !choices.iter().all(|c| word(c)) {
                    break;
                }
                alts = alts
                    .iter()
                    .flat_map(|a| {
                        choices.iter().map(move |c| {
                            let mut a = a.clone();
                            a.push(*c);
                            a
                        })
                    })
                    .collect();
            }
            if alts[0].is_empty() || OTHER_TESTS.iter().any(|(p, _)| form.starts_with(p)) {
                continue;
            }
            for words in alts {
                // A registered command is these words or their start (`sip set debug` takes
                // `ip <addr>`).
                assert!(
                    known
                        .iter()
                        .any(|k| words.len() >= k.len() && words[..k.len()] == k[..]),
                    "docs/cli.md lists `{form}`, which ferrisk does not know"
                );
                listed += 1;
            }
        }
    }
    assert!(listed > 30, "only {listed} commands found in docs/cli.md");
    for cmd in stop {
        rx(&cmd);
    }
}
