//! MWI end to end: the real `ferrisk` daemon with a sip.conf peer `mailbox=100@default` and a
//! voicemail spool the test writes, against real SIPp phones (tests/sipp/mwi_*.xml) and a
//! real baresip: the NOTIFY after REGISTER, NOTIFYs after `pollmailboxes` notices spool
//! changes, a SUBSCRIBE dialog from subscribe to unsubscribe, a subscription that survives
//! a `kill -9` of the daemon, and `subscribemwi=yes` (no NOTIFY without a subscription).
//! Fails (never skips) without `sipp` or `baresip`.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const EXTENSIONS: &str =
    "[general]\nautofallthrough = yes\n\n[internal]\nexten => 100,1,Hangup()\n";

fn sip_conf(port: u16) -> String {
    format!(
        "[general]\n\
         bindaddr=127.0.0.1\n\
         bindport={port}\n\
         context=public\n\
         allowguest=no\n\
         alwaysauthreject=yes\n\
         realm=ferrisk\n\
         minexpiry=60\n\
         maxexpiry=3600\n\
         \n\
         [alice]\n\
         type=friend\n\
         host=dynamic\n\
         secret=alicepw\n\
         context=internal\n\
         mailbox=100@default\n"
    )
}

const VOICEMAIL_CONF: &str = "\
[general]
pollmailboxes=yes
pollfreq=1

[default]
100 => 1234,Alice
";

const MSG_TXT: &str = "\
;
; Message Information file
;
[message]
origmailbox=100
context=internal
macrocontext=
exten=100
rdnis=unknown
priority=2
callerchan=SIP/bob-00000001
callerid=\"Bob\" <200>
origdate=Mon Nov 23 08:00:00 PM UTC 2026
origtime=1795464000
category=
msg_id=1795464000-00000000
flag=
duration=3
";

fn folder(dir: &Path, name: &str) -> PathBuf {
    let f = dir.join("spool/voicemail/default/100").join(name);
    std::fs::create_dir_all(&f).expect("mailbox folder");
    f
}

/// Put message `n` into `folder` (text first is fine: counts follow the .txt).
fn put_message(dir: &Path, name: &str, n: u32) {
    let f = folder(dir, name);
    // A few bytes are enough: only the files' presence is counted.
    std::fs::write(f.join(format!("msg{n:04}.wav")), b"RIFF").expect("wav");
    std::fs::write(f.join(format!("msg{n:04}.txt")), MSG_TXT).expect("txt");
}

fn start(port: u16, messages: u32) -> Daemon {
    let dir = tempdir();
    let sip = sip_conf(port);
    write_configs(
        dir.path(),
        &[
            ("extensions.conf", EXTENSIONS),
            ("sip.conf", &sip),
            ("voicemail.conf", VOICEMAIL_CONF),
        ],
    );
    for n in 0..messages {
        put_message(dir.path(), "INBOX", n);
    }
    Daemon::launch(dir)
}

fn wait_last_sent(d: &Daemon, counts: &str) {
    let want = format!("LastMsgsSent : {counts}");
    d.rx_until("sip show peer alice", 20, |o| o.contains(&want));
}

#[test]
fn mwi_notify_after_register_and_on_spool_changes() {
    let port = free_port();
    let d = start(port, 1);
    let phone = Sipp::new("uas_registered.xml", Some(port))
        .local_port(free_port())
        .service("alice")
        .auth("alice", "alicepw")
        .key("expires", 600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "1/1")
        .timeout(60)
        .spawn();
    // Registered → NOTIFY with the mailbox's current counts.
    wait_last_sent(&d, "1/0");
    let peer = d.rx("sip show peer alice");
    assert!(peer.contains("  Mailbox      : 100@default"), "{peer}");
    assert!(peer.contains("  VM Extension : asterisk"), "{peer}");
    // Another tool drops a second message in: the poller notices within pollfreq.
    put_message(d.path(), "INBOX", 1);
    wait_last_sent(&d, "2/0");
    // One is moved to Old.
    let inbox = folder(d.path(), "INBOX");
    let old = folder(d.path(), "Old");
    std::fs::rename(inbox.join("msg0001.txt"), old.join("msg0000.txt")).expect("move txt");
    std::fs::rename(inbox.join("msg0001.wav"), old.join("msg0000.wav")).expect("move wav");
    wait_last_sent(&d, "1/1");
    let r = phone.wait();
    r.assert_ok("phone receiving MWI NOTIFYs");
    let seen = r.mwi_notifies();
    let pos = |want: &str| r.mwi_notify_position(want);
    let (a, b, c) = (
        pos("1/0 waiting=yes"),
        pos("2/0 waiting=yes"),
        pos("1/1 waiting=yes"),
    );
    assert!(a < b && b < c, "NOTIFYs out of order: {seen:?}");
    let notify = r
        .requests("NOTIFY")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no NOTIFY: {}", r.describe()));
    assert!(
        notify.start_line.starts_with("NOTIFY sip:alice@127.0.0.1:"),
        "{notify:?}"
    );
    assert!(
        notify
            .body
            .contains("Message-Account: sip:asterisk@127.0.0.1"),
        "{notify:?}"
    );
    assert!(notify.header("Subscription-State").is_none(), "{notify:?}");
}

#[test]
fn mwi_subscribe_then_unsubscribe() {
    let port = free_port();
    let d = start(port, 1);
    let r = Sipp::new("mwi_subscribe.xml", Some(port))
        .local_port(free_port())
        .service("alice")
        .auth("alice", "alicepw")
        .key("expires", 600)
        .timeout(30)
        .run();
    r.assert_ok("SUBSCRIBE / NOTIFY / unsubscribe");
    assert!(
        r.logs.contains("subscribed expires=600"),
        "{}",
        r.describe()
    );
    assert!(
        r.logs.contains("NOTIFY active;expires=600 vm=1/0"),
        "{}",
        r.describe()
    );
    assert!(r.logs.contains("NOTIFY terminated"), "{}", r.describe());
    let notifies = r.requests("NOTIFY");
    assert_eq!(notifies.len(), 2, "{}", r.describe());
    assert_eq!(notifies[0].header("Event"), Some("message-summary"));
    assert!(notifies[0].body.contains("Messages-Waiting: yes"));
    let subs = d.rx("sip show subscriptions");
    assert!(subs.contains("0 active SIP subscriptions"), "{subs}");
}

/// A phone's subscription survives a restart: baresip (its `mwi` module) subscribes,
/// ferrisk is killed (-9) and started again on the same config and AstDB, a message
/// arrives, and the NOTIFY goes inside the old dialog: baresip accepts it (it prints the
/// body and answers 200 only for a NOTIFY matching its subscription's Call-ID and tags; any
/// other gets 481).
#[test]
fn mwi_subscription_survives_a_restart() {
    let port = free_port();
    let dir = tempdir();
    let sip = sip_conf(port);
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_V3),
            ("extensions.conf", EXTENSIONS),
            ("sip.conf", &sip),
            ("voicemail.conf", VOICEMAIL_CONF),
        ],
    );
    folder(dir.path(), "INBOX");
    let d = Daemon::launch(dir);
    let account = format!("<sip:alice@127.0.0.1:{port}>;auth_pass=alicepw;regint=3600;mwi=yes");
    let phone = Baresip::start_modules(free_ports(3), &[account], None, false, &["mwi.so"]);
    let mut phone = phone;
    phone.wait_registered(20);
    // baresip prints the body of each NOTIFY in its subscription (and answers 200).
    wait_phone(&phone, "-----\nMessages-Waiting: no\n");
    let subs = d.rx_until("sip show subscriptions", 20, |s| {
        s.contains("1 active SIP subscription\n")
    });
    let call_id = subscription_call_id(&subs);
    d.rx_until("database show SIP/Subscriptions", 20, |s| {
        s.contains("/SIP/Subscriptions/alice/")
    });

    // kill -9: nothing is unsubscribed, nothing re-registers.
    let dir = d.kill9();
    let d = Daemon::launch(dir);
    let subs = d.rx_until("sip show subscriptions", 20, |s| {
        s.contains("1 active SIP subscription\n")
    });
    assert_eq!(subscription_call_id(&subs), call_id, "{subs}");
    d.wait_console("SIP Restored 1 MWI subscription(s) from Astdb", 1);

    // A message arrives: the NOTIFY goes in the restored dialog and the phone takes it.
    put_message(d.path(), "INBOX", 0);
    wait_phone(
        &phone,
        "-----\nMessages-Waiting: yes\nMessage-Account: sip:asterisk@127.0.0.1\n\
         Voice-Message: 1/0 (0/0)\n",
    );
    wait_last_sent(&d, "1/0");
    // Still subscribed (a 481 would have ended it), and the phone did not subscribe anew.
    let subs = d.rx("sip show subscriptions");
    assert!(subs.contains("1 active SIP subscription\n"), "{subs}");
    assert_eq!(subscription_call_id(&subs), call_id, "{subs}");
    assert_eq!(
        d.console()
            .matches("SIP MWI subscription from 'alice'")
            .count(),
        0,
        "the restarted daemon saw a new SUBSCRIBE:\n{}",
        d.console()
    );
    assert_eq!(
        phone.log().matches("mwi: subscribing").count(),
        1,
        "baresip subscribed more than once"
    );
    assert!(
        !phone.log().contains("subscription for sip:alice"),
        "baresip saw its subscription close: {}",
        phone.log()
    );
}

/// Wait (up to 30 s) until baresip's log (CRs removed) shows `text`.
fn wait_phone(phone: &Baresip, text: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let log = phone.log().replace('\r', "");
        if log.contains(text) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let head: Vec<&str> = log.lines().take(40).collect();
            panic!(
                "baresip never logged {text:?}; its log begins:\n{}",
                head.join("\n")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The Call ID column of the only row of `sip show subscriptions`.
fn subscription_call_id(table: &str) -> String {
    let row = table
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no subscription row: {table}"));
    row.split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no Call ID: {row}"))
        .to_string()
}

/// `subscribemwi=yes`: a registered phone without a subscription gets no NOTIFY, not after
/// its REGISTER and not when its mailbox changes, while a peer of the same mailbox without
/// the option gets both.
#[test]
fn subscribemwi_yes_sends_nothing_without_a_subscription() {
    let port = free_port();
    let dir = tempdir();
    let sip = format!(
        "{}\n[carol]\ntype=friend\nhost=dynamic\nsecret=carolpw\ncontext=internal\n\
         mailbox=100@default\nsubscribemwi=yes\n",
        sip_conf(port)
    );
    write_configs(
        dir.path(),
        &[
            ("extensions.conf", EXTENSIONS),
            ("sip.conf", &sip),
            ("voicemail.conf", VOICEMAIL_CONF),
        ],
    );
    folder(dir.path(), "INBOX");
    let d = Daemon::launch(dir);
    let carol = Sipp::new("uas_registered.xml", Some(port))
        .local_port(free_port())
        .service("carol")
        .auth("carol", "carolpw")
        .key("expires", 600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "never")
        .timeout(60)
        .spawn();
    let alice = Sipp::new("uas_registered.xml", Some(port))
        .local_port(free_port())
        .service("alice")
        .auth("alice", "alicepw")
        .key("expires", 600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "2/0")
        .timeout(60)
        .spawn();
    d.rx_until("sip show peers", 20, |s| {
        s.lines()
            .filter(|l| {
                (l.starts_with("alice") || l.starts_with("carol")) && l.contains("127.0.0.1")
            })
            .count()
            == 2
    });
    wait_last_sent(&d, "0/0");
    // Two changes, each reaching alice: carol's NOTIFYs (if any) would be sent at the same
    // moment as alice's.
    put_message(d.path(), "INBOX", 0);
    wait_last_sent(&d, "1/0");
    put_message(d.path(), "INBOX", 1);
    wait_last_sent(&d, "2/0");
    alice.wait().assert_ok("alice receiving MWI NOTIFYs");
    let carol = carol.stop();
    assert!(
        carol.logs.contains("registered carol"),
        "{}",
        carol.describe()
    );
    assert!(
        carol.requests("NOTIFY").is_empty(),
        "carol (subscribemwi=yes, no subscription) got a NOTIFY: {}",
        carol.describe()
    );
    let carol_peer = d.rx("sip show peer carol");
    assert!(
        carol_peer.contains("  Mailbox      : 100@default"),
        "{carol_peer}"
    );
    let subs = d.rx("sip show subscriptions");
    assert!(subs.contains("0 active SIP subscriptions"), "{subs}");
}
