//! docs/phones.md's baresip configuration, tested: the files in contrib/phones/baresip/
//! are the ones the page shows (verbatim), and baresip started with them (only its listen
//! address and ferrisk's address changed to loopback) registers as extension 1001 of
//! etc/sip.conf against the real daemon, subscribes to its mailbox once (no SUBSCRIBE
//! loop: every SUBSCRIBE ferrisk receives is counted by Call-ID with `sip set debug on`)
//! and shows a message as it arrives. Fails (never skips) without `baresip`.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `text` with each `(from, to)` replaced; every `from` must be there.
fn substitute(text: &str, subs: &[(&str, String)]) -> String {
    let mut t = text.to_string();
    for (from, to) in subs {
        assert!(
            t.contains(from),
            "{from:?} is no longer in the documented file"
        );
        t = t.replace(from, to);
    }
    t
}

#[test]
fn phones_md_shows_the_contrib_files_verbatim() {
    let doc = read("docs/phones.md");
    for f in ["config", "accounts"] {
        let text = read(&format!("contrib/phones/baresip/{f}"));
        assert!(
            doc.contains(&format!("```\n{text}```\n")),
            "docs/phones.md must show contrib/phones/baresip/{f} verbatim in a code block"
        );
    }
}

struct Phone(Child);

impl Drop for Phone {
    fn drop(&mut self) {
        // SIGKILL: its SIGTERM handling may hang while it un-registers.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Call-IDs of the SUBSCRIBEs ferrisk received (its `sip set debug` console output).
fn subscribe_call_ids(console: &str) -> Vec<String> {
    let mut ids: Vec<String> = console
        .split("<--- SIP read from ")
        .skip(1)
        .filter_map(|chunk| {
            let msg = chunk.split_once("--->\n")?.1;
            let msg = msg.split("\n<-------------").next()?;
            if !msg.starts_with("SUBSCRIBE ") {
                return None;
            }
            msg.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                (name.eq_ignore_ascii_case("Call-ID") || name == "i")
                    .then(|| value.trim().to_string())
            })
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn documented_baresip_config_registers_and_subscribes_once() {
    require_bin("baresip", "baresip-core");
    let port = free_port();
    let dir = tempdir();
    // etc/sip.conf as shipped (on a free port); voicemail.conf polling the spool.
    let sip = substitute(
        &read("etc/sip.conf"),
        &[("bindport = 5060", format!("bindport = {port}"))],
    );
    let vm = substitute(
        &read("etc/voicemail.conf"),
        &[
            (
                ";pollmailboxes = yes",
                "pollmailboxes = yes\npollfreq = 1".into(),
            ),
            ("smtp_host = 127.0.0.1", ";smtp_host = 127.0.0.1".into()),
        ],
    );
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_V3),
            ("extensions.conf", "[internal]\nexten => 1001,1,Hangup()\n"),
            ("sip.conf", &sip),
            ("voicemail.conf", &vm),
        ],
    );
    let inbox = dir.path().join("spool/voicemail/default/1001/INBOX");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let d = Daemon::launch(dir);
    d.rx("sip set debug on");

    // The documented files, with loopback addresses.
    let ports = free_ports(3);
    let conf = substitute(
        &read("contrib/phones/baresip/config"),
        &[
            (
                "sip_listen\t\t0.0.0.0:5060",
                format!("sip_listen\t\t127.0.0.1:{ports}"),
            ),
            (
                "#net_interface\t\teth0",
                "net_interface\t\t127.0.0.1".into(),
            ),
        ],
    );
    let accounts = substitute(
        &read("contrib/phones/baresip/accounts"),
        &[("@192.168.1.10;", format!("@127.0.0.1:{port};"))],
    );
    let home = tempdir();
    std::fs::write(home.path().join("config"), conf).expect("config");
    std::fs::write(home.path().join("accounts"), accounts).expect("accounts");
    std::fs::write(home.path().join("contacts"), "").expect("contacts");
    let log = std::fs::File::create(home.path().join("baresip.log")).expect("log");
    // stdin stays open (a pipe nobody writes): stdio.so waits for keys as on a terminal.
    let child = Command::new("baresip")
        .arg("-f")
        .arg(home.path())
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn baresip");
    let _phone = Phone(child);
    let phone_log = || {
        std::fs::read_to_string(home.path().join("baresip.log"))
            .unwrap_or_default()
            .replace('\r', "")
    };

    // Registered, from the phone's address.
    d.rx_until("sip show peers", 20, |s| {
        s.lines().any(|l| {
            l.starts_with("1001/1001") && l.contains("127.0.0.1") && l.contains(&ports.to_string())
        })
    });
    // Subscribed, and the first NOTIFY taken.
    d.rx_until("sip show subscriptions", 20, |s| {
        s.contains("1 active SIP subscription\n")
    });
    wait_for(20, "baresip to show the first MWI NOTIFY", || {
        phone_log()
            .contains("-----\nMessages-Waiting: no\n")
            .then_some(())
    });
    // A message arrives: the phone shows it.
    std::fs::write(inbox.join("msg0000.txt"), "[message]\norigmailbox=1001\n").expect("txt");
    std::fs::write(inbox.join("msg0000.wav"), b"RIFF").expect("wav");
    wait_for(30, "baresip to show the waiting message", || {
        phone_log()
            .contains("-----\nMessages-Waiting: yes\n")
            .then_some(())
    });
    // Over all that time: one subscription (its challenge and its authenticated retry
    // share the Call-ID), as baresip itself says.
    let console = d.console();
    let ids = subscribe_call_ids(&console);
    assert_eq!(
        ids.len(),
        1,
        "SUBSCRIBE dialogs: {ids:?}\nbaresip:\n{}",
        phone_log()
    );
    assert_eq!(
        phone_log().matches("mwi: subscribing").count(),
        1,
        "baresip:\n{}",
        phone_log()
    );
    let subs = d.rx("sip show subscriptions");
    assert!(subs.contains("1 active SIP subscription\n"), "{subs}");
}
