//! End to end: the IMAP client layer of voicemail storage (`voicemail/imap.rs`) against a
//! real Dovecot started by this test (`dovecot-imapd`, installed by contrib/test.sh): plain,
//! STARTTLS and implicit TLS with a self-signed certificate (`novalidate-cert`), and the
//! mailbox operations the message store uses, checked with an ordinary IMAP client.

mod common;

use common::dovecot::Dovecot;
use ferrisk::voicemail::imap::{login, ImapConfig, ImapError, Ops, Security};
use std::time::Duration;

fn config(port: u16, security: Security, validate_cert: bool) -> ImapConfig {
    ImapConfig {
        server: "127.0.0.1".into(),
        port,
        security,
        validate_cert,
        folder: "INBOX".into(),
        parent_folder: String::new(),
        open_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
        close_timeout: Duration::from_secs(10),
        expunge: true,
        greetings: false,
        greeting_folder: "INBOX".into(),
        auth: None,
    }
}

const MAIL: &[u8] = b"From: pbx@example.com\r\nTo: 1001@example.com\r\nSubject: New voicemail\r\n\
X-Asterisk-VM-Message-Num: 1\r\n\r\nA message.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_logins_and_the_mailbox_operations() {
    let dir = common::tempdir();
    let dove = tokio::task::block_in_place(|| Dovecot::start(dir.path(), &[("1001", "1234")]));

    // Every way in: plain, STARTTLS (required), TLS from the first byte.
    for (port, sec) in [
        (dove.port, Security::Plain),
        (dove.port, Security::StartTls),
        (dove.port, Security::StartTlsIfOffered),
        (dove.tls_port, Security::Implicit),
    ] {
        let mut s = login(&config(port, sec, false), "1001", "1234")
            .await
            .unwrap_or_else(|e| panic!("{sec:?}: {e}"));
        Ops {
            s: &mut s,
            limit: Duration::from_secs(10),
            write: Duration::from_secs(10),
            close: Duration::from_secs(10),
        }
        .logout()
        .await;
    }
    // A self-signed certificate is refused unless novalidate-cert.
    match login(
        &config(dove.tls_port, Security::Implicit, true),
        "1001",
        "1234",
    )
    .await
    {
        Err(ImapError::Tls(..)) => {}
        Err(e) => panic!("expected a certificate error, got {e}"),
        Ok(_) => panic!("a self-signed certificate was accepted"),
    }
    // A wrong password.
    assert!(matches!(
        login(&config(dove.port, Security::Plain, false), "1001", "nope").await,
        Err(ImapError::Login(..))
    ));

    let cfg = config(dove.tls_port, Security::Implicit, false);
    let mut s = login(&cfg, "1001", "1234").await.expect("login");
    let mut ops = Ops {
        s: &mut s,
        limit: Duration::from_secs(10),
        write: Duration::from_secs(10),
        close: Duration::from_secs(10),
    };
    assert_eq!(ops.select("INBOX").await.expect("select"), 0);
    ops.append("INBOX", None, MAIL).await.expect("append");
    ops.select("INBOX").await.expect("select");
    let new = ops.search("UNSEEN UNDELETED").await.expect("search");
    assert_eq!(new.len(), 1);
    let body = ops.fetch(new[0]).await.expect("fetch");
    assert!(String::from_utf8_lossy(&body).contains("X-Asterisk-VM-Message-Num: 1"));
    // Fetching did not mark it read.
    assert_eq!(ops.search("UNSEEN").await.expect("search").len(), 1);

    // Heard: \Seen, as an ordinary client sees it.
    ops.store(new[0], "+FLAGS (\\Seen)").await.expect("store");
    assert!(ops.search("UNSEEN").await.expect("search").is_empty());
    let seen = tokio::task::block_in_place(|| {
        let mut c = dove.client("1001", "1234");
        c.select("INBOX");
        c.cmd("SEARCH SEEN").1
    });
    assert!(seen.contains("* SEARCH 1"), "{seen}");

    // Saved to Work (created), removed from INBOX.
    ops.copy(new[0], "Work").await.expect("copy");
    ops.store(new[0], "+FLAGS (\\Deleted)")
        .await
        .expect("delete");
    ops.expunge().await.expect("expunge");
    assert_eq!(ops.select("INBOX").await.expect("select"), 0);
    assert_eq!(ops.select("Work").await.expect("select"), 1);
    // Appending to a folder that does not exist creates it.
    ops.append("Family", Some("(\\Seen)"), MAIL)
        .await
        .expect("append");
    assert_eq!(ops.select("Family").await.expect("select"), 1);
    ops.logout().await;
}

/// ferrisk (verbose 3) with mailbox 1001 stored in `dove` (TLS, novalidate-cert), polled
/// every second; SIP phones `alice` and `1001` (`mailbox=1001@default`); extension 100
/// leaves a message for 1001, 8500 is 1001's VoiceMailMain.
fn imap_pbx(dove: &Dovecot, sip: u16) -> common::Daemon {
    imap_pbx_with(dove, sip, "")
}

/// [`imap_pbx`] with more `[general]` lines in voicemail.conf; extension 101 leaves a
/// message with 1001's busy greeting.
fn imap_pbx_with(dove: &Dovecot, sip: u16, general: &str) -> common::Daemon {
    let base = common::free_ports(6);
    let rtp = base + (base & 1);
    let pbx_dir = common::tempdir();
    common::write_configs(
        pbx_dir.path(),
        &[
            ("ferrisk.conf", common::FERRISK_CONF_V3),
            (
                "extensions.conf",
                "[phones]\nexten => 100,1,VoiceMail(1001@default,u)\n same => n,Hangup()\n\
                 exten => 8500,1,VoiceMailMain(1001@default)\n same => n,Hangup()\n\
                 exten => 101,1,VoiceMail(1001@default,b)\n same => n,Hangup()\n",
            ),
            (
                "sip.conf",
                &format!(
                    "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
                     realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
                     [alice]\ntype=friend\nhost=dynamic\nsecret=alicepw\ncontext=phones\n\n\
                     [1001]\ntype=friend\nhost=dynamic\nsecret=pw1001\ncontext=phones\nmailbox=1001@default\n"
                ),
            ),
            (
                "rtp.conf",
                &format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 5),
            ),
            (
                "voicemail.conf",
                &format!(
                    "[general]\nformat=wav\nmaxsecs=60\npollmailboxes=yes\npollfreq=1\n\
                     imapserver=127.0.0.1\nimapport={}\nimapflags=ssl/novalidate-cert\nreadtimeout=5\nopentimeout=5\n{general}\n\
                     [default]\n1001 => 1234,Alice Owner,,,imapuser=1001|imappassword=secret1\n",
                    dove.tls_port
                ),
            ),
        ],
    );
    let sounds = pbx_dir.path().join("data/sounds");
    std::fs::create_dir_all(&sounds).expect("sounds");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav"),
        sounds.join("beep.wav"),
    )
    .expect("beep");
    common::Daemon::launch(pbx_dir)
}

/// alice (baresip) sending `wav`.
fn caller(sip: u16, wav: &std::path::Path) -> common::Baresip {
    let mut b = common::Baresip::start_with(
        common::free_ports(3),
        &[format!(
            "<sip:alice@127.0.0.1:{sip}>;auth_pass=alicepw;regint=600"
        )],
        Some(wav),
        false,
    );
    b.wait_registered(10);
    b
}

/// alice calls 100 (VoiceMail for 1001), speaks `wav` for `secs` once recording started,
/// and hangs up.
fn leave_message(d: &common::Daemon, sip: u16, wav: &std::path::Path, secs: u64) {
    let mut b = caller(sip, wav);
    b.request("dial", &format!("sip:100@127.0.0.1:{sip}"));
    b.wait_event("CALL_ESTABLISHED", 10);
    d.wait_console("Recording the message", 1);
    std::thread::sleep(Duration::from_secs(secs));
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
}

/// IMAP storage end to end: a caller (baresip) leaves a message for mailbox 1001, whose
/// messages live in Dovecot (TLS); the mail is in the INBOX with the recording attached,
/// whose audio is what the caller sent; 1001's phone (SIPp) gets "Messages-Waiting: yes";
/// marking the mail read with an ordinary IMAP client turns the lamp off.
#[test]
fn a_message_left_by_a_caller_is_a_mail_in_imap_and_the_lamp_follows_it() {
    use common::audio::{aligned_corr, speechlike};
    let dir = common::tempdir();
    let dove = Dovecot::start(dir.path(), &[("1001", "secret1")]);
    let sip = common::free_port();
    let d = imap_pbx(&dove, sip);

    // 1001's phone: registered, counting the NOTIFYs until the lamp is off again.
    let lamp = lamp_phone(sip);

    // The caller speaks for 4 s into VoiceMail().
    let talk = speechlike(31, 8000 * 40);
    let wav = dir.path().join("talk.wav");
    std::fs::write(&wav, ferrisk::media::wav::wav_bytes(&talk)).expect("talk");
    leave_message(&d, sip, &wav, 4);

    // A mail in 1001's INBOX, unread, in Asterisk's format, with the recording.
    let mut c = dove.client("1001", "secret1");
    common::wait_for(20, "the mail in the INBOX", || {
        (c.select("INBOX") == 1).then_some(())
    });
    let (_, unseen) = c.cmd("SEARCH UNSEEN");
    assert!(unseen.contains("* SEARCH 1"), "{unseen}");
    let (_, raw) = c.cmd("FETCH 1 BODY.PEEK[]");
    assert!(raw.contains("X-Asterisk-VM-Extension: 1001"), "{raw}");
    assert!(raw.contains("X-Asterisk-VM-Context: default"), "{raw}");
    let start = raw.find("\r\n").map(|i| i + 2).unwrap_or(0);
    let audio = ferrisk::voicemail::imapstore::audio_of(&raw.as_bytes()[start..])
        .expect("a WAV attachment");
    let got = ferrisk::media::wav::parse_wav(&audio).expect("a WAV");
    assert!(got.len() >= 8000 * 2, "{} samples", got.len());
    let corr = aligned_corr(&talk, &got, 16000);
    assert!(corr > 0.9, "attachment vs what the caller said: {corr:.3}");
    assert!(d
        .console()
        .contains("Saved message 1 in mailbox 1001@default"));

    lamp_sent(&d, "1/0");
    // Read in a mail client: the lamp goes off (the poller notices \Seen).
    let (ok, out) = c.cmd("STORE 1 +FLAGS (\\Seen)");
    assert!(ok, "{out}");
    let r = lamp.wait();
    r.assert_ok("1001's lamp: on for the new message, off once it was read");
    let seen = r.mwi_notifies();
    let on = r.mwi_notify_position("1/0 waiting=yes");
    let off = r.mwi_notify_position("0/1 waiting=no");
    assert!(on < off, "{seen:?}");
}

/// 1001's phone (SIPp): registered, counting the NOTIFYs until the lamp is off again
/// (`0/1`).
fn lamp_phone(sip: u16) -> common::SippChild {
    common::Sipp::new("uas_registered.xml", Some(sip))
        .local_port(common::free_port())
        .service("1001")
        .auth("1001", "pw1001")
        .key("expires", 600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "0/1")
        .timeout(90)
        .spawn()
}

/// Wait until 1001's phone was last sent these counts (`new/old`).
fn lamp_sent(d: &common::Daemon, counts: &str) {
    let want = format!("LastMsgsSent : {counts}");
    d.rx_until("sip show peer 1001", 20, |o| o.contains(&want));
}

/// Press `digits` on baresip, a quarter second apart.
fn keys(b: &mut common::Baresip, digits: &str) {
    for k in digits.chars() {
        b.request("sndcode", &k.to_string());
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// 1001's owner (baresip, sending `tone`) in VoiceMailMain (8500), logged in with the PIN.
fn owner_logged_in(d: &common::Daemon, sip: u16, tone: &std::path::Path) -> common::Baresip {
    let mut b = caller(sip, tone);
    b.request("dial", &format!("sip:8500@127.0.0.1:{sip}"));
    b.wait_event("CALL_ESTABLISHED", 10);
    d.wait_console("Playing 'vm-password.", 1);
    keys(&mut b, "1234#");
    d.wait_console("Playing 'vm-youhave.", 1);
    b
}

/// Put `mails` in 1001's INBOX (TLS), as a mail client or another PBX would.
fn seed(dove: &Dovecot, mails: &[Vec<u8>]) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let cfg = config(dove.tls_port, Security::Implicit, false);
        let mut s = login(&cfg, "1001", "secret1").await.expect("login");
        let mut ops = Ops {
            s: &mut s,
            limit: Duration::from_secs(10),
            write: Duration::from_secs(10),
            close: Duration::from_secs(10),
        };
        for m in mails {
            ops.append("INBOX", None, m).await.expect("append");
        }
        ops.logout().await;
    });
}

/// A message in Asterisk's format with a second of tone attached.
fn vm_mail(n: u32, caller: &str) -> Vec<u8> {
    use base64::Engine as _;
    let tone: Vec<i16> = (0..8000)
        .map(|i| ((f64::from(i) * 0.3).sin() * 8000.0) as i16)
        .collect();
    let b64 =
        base64::engine::general_purpose::STANDARD.encode(ferrisk::media::wav::wav_bytes(&tone));
    format!(
        "From: pbx@example.com\r\nTo: 1001@example.com\r\nSubject: New voicemail {n}\r\n\
         X-Asterisk-VM-Message-Num: {n}\r\nX-Asterisk-VM-Context: default\r\n\
         X-Asterisk-VM-Extension: 1001\r\nX-Asterisk-VM-Caller-ID-Num: {caller}\r\n\
         X-Asterisk-CallerID: {caller}\r\nX-Asterisk-VM-Duration: 1\r\n\
         X-Asterisk-VM-Orig-time: 1700000000\r\nX-Asterisk-VM-Message-ID: 1700000000-{n}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nA message.\r\n\
         --b\r\nContent-Type: audio/x-wav; name=\"msg{n:04}.wav\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"msg{n:04}.wav\"\r\n\r\n{b64}\r\n--b--\r\n"
    )
    .into_bytes()
}

/// VoiceMailMain on IMAP: the owner listens to the first message and saves it to Work
/// (9 2), deletes the second (7), hears the third and leaves; the server shows the third
/// read in the INBOX, the others gone from it, and the first in Work. The owner's ordinary
/// mail in the same INBOX is neither counted nor touched.
#[test]
fn voicemailmain_listens_saves_and_deletes_on_the_server() {
    let dir = common::tempdir();
    let dove = Dovecot::start(dir.path(), &[("1001", "secret1")]);
    // The owner's ordinary mail shares the INBOX: it is no voicemail.
    seed(
        &dove,
        &[
            b"From: friend@example.com\r\nSubject: Lunch?\r\n\r\nTomorrow at noon?\r\n".to_vec(),
            vm_mail(1, "2000"),
            vm_mail(2, "2001"),
            vm_mail(3, "2002"),
        ],
    );
    let sip = common::free_port();
    let d = imap_pbx(&dove, sip);
    let tone = dir.path().join("phone.wav");
    common::write_tone_wav(&tone, 120);
    let mut b = owner_logged_in(&d, sip, &tone);
    keys(&mut b, "1");
    // The first message's attachment, fetched from the server.
    d.wait_console("imapcache/INBOX-", 1);
    keys(&mut b, "9");
    d.wait_console("Playing 'vm-savefolder.", 1);
    keys(&mut b, "2");
    d.wait_console("Playing 'vm-savedto.", 1);
    keys(&mut b, "6");
    d.wait_console("imapcache/INBOX-", 2);
    keys(&mut b, "7");
    d.wait_console("Playing 'vm-deleted.", 1);
    // The third is heard, then the owner leaves.
    keys(&mut b, "6");
    d.wait_console("imapcache/INBOX-", 3);
    // # while a message plays skips ahead: leave from the menu after it.
    d.wait_console("Playing 'vm-helpexit.", 1);
    keys(&mut b, "#");
    d.wait_console("Playing 'vm-goodbye.", 1);
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
    let mut c = dove.client("1001", "secret1");
    common::wait_for(15, "the heard message and the friend's mail left", || {
        (c.select("INBOX") == 2).then_some(())
    });
    // Heard = \Seen (Asterisk's Old), the others expunged; the friend's mail untouched.
    let (_, seen) = c.cmd("SEARCH SEEN HEADER X-Asterisk-CallerID 2002");
    assert!(seen.contains("* SEARCH 2"), "{seen}");
    let (_, unseen) = c.cmd("SEARCH UNSEEN SUBJECT Lunch");
    assert!(unseen.contains("* SEARCH 1"), "{unseen}");
    assert_eq!(c.select("Work"), 1);
    let (_, work) = c.cmd("FETCH 1 BODY.PEEK[HEADER]");
    assert!(work.contains("X-Asterisk-CallerID: 2000"), "{work}");
}

/// The server down while a caller leaves a message: it waits in the local spool (one
/// warning) and reaches the INBOX once Dovecot is back.
#[test]
fn a_message_recorded_while_imap_is_down_arrives_later() {
    let dir = common::tempdir();
    let mut dove = Dovecot::start(dir.path(), &[("1001", "secret1")]);
    let sip = common::free_port();
    let d = imap_pbx(&dove, sip);
    dove.stop();
    let wav = dir.path().join("talk.wav");
    common::write_tone_wav(&wav, 40);
    leave_message(&d, sip, &wav, 3);
    let local = d
        .path()
        .join("spool/voicemail/default/1001/INBOX/msg0000.wav");
    common::wait_for(20, "the message kept locally", || {
        local.is_file().then_some(())
    });
    dove.run();
    let mut c = dove.client("1001", "secret1");
    common::wait_for(30, "the message on the server", || {
        (c.select("INBOX") == 1).then_some(())
    });
    common::wait_for(10, "the local copy gone", || {
        (!local.exists()).then_some(())
    });
    let log = d.console() + &d.stderr();
    assert_eq!(log.matches("not reachable").count(), 1, "{log}");
    assert!(log.contains("answers again"), "{log}");
}

/// `authuser`/`authpassword`: one admin login (a Dovecot master user) acting as each
/// mailbox's user, as Asterisk's IMAP storage does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_admin_login_acts_as_each_mailbox() {
    let dir = common::tempdir();
    let dove = tokio::task::block_in_place(|| {
        Dovecot::start_with_master(
            dir.path(),
            &[("1001", "secret1"), ("1002", "secret2")],
            Some(("pbxadmin", "adminpw")),
        )
    });
    let mut cfg = config(dove.port, Security::Plain, false);
    cfg.auth = Some(("pbxadmin".into(), "adminpw".into()));
    for user in ["1001", "1002"] {
        // The mailbox's own password is not needed.
        let mut s = login(&cfg, user, "")
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        let mut ops = Ops {
            s: &mut s,
            limit: Duration::from_secs(10),
            write: Duration::from_secs(10),
            close: Duration::from_secs(10),
        };
        ops.select("INBOX").await.expect("select");
        ops.append("INBOX", None, MAIL).await.expect("append");
        ops.logout().await;
    }
    // Each user sees one message: the admin acted as them.
    for (user, pass) in [("1001", "secret1"), ("1002", "secret2")] {
        let n = tokio::task::block_in_place(|| dove.client(user, pass).select("INBOX"));
        assert_eq!(n, 1, "{user}");
    }
    // A wrong admin password is refused.
    cfg.auth = Some(("pbxadmin".into(), "nope".into()));
    assert!(matches!(
        login(&cfg, "1001", "").await,
        Err(ImapError::Login(..))
    ));
}

/// `imapgreetings=yes`: a busy greeting recorded in VoiceMailMain is kept as a mail in the
/// greeting folder (not counted as a message); with the local copy gone (another node), a
/// caller still hears it, fetched from the server.
#[test]
fn greetings_are_kept_on_the_server() {
    let dir = common::tempdir();
    let dove = Dovecot::start(dir.path(), &[("1001", "secret1")]);
    let sip = common::free_port();
    let d = imap_pbx_with(&dove, sip, "imapgreetings=yes\n");
    let tone = dir.path().join("phone.wav");
    common::write_tone_wav(&tone, 120);
    let mut b = owner_logged_in(&d, sip, &tone);
    keys(&mut b, "0");
    d.wait_console("Playing 'vm-options.", 1);
    keys(&mut b, "2");
    d.wait_console("Playing 'beep.", 1);
    std::thread::sleep(Duration::from_secs(2));
    keys(&mut b, "#");
    d.wait_console("Playing 'vm-review.", 1);
    keys(&mut b, "1");
    d.wait_console("Playing 'vm-msgsaved.", 1);
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);

    // On the server: one greeting mail, read, in INBOX (the greeting folder).
    let mut c = dove.client("1001", "secret1");
    common::wait_for(10, "the greeting on the server", || {
        (c.select("INBOX") == 1).then_some(())
    });
    let (_, found) = c.cmd("SEARCH SEEN HEADER X-Asterisk-VM-Greeting \"busy\"");
    assert!(found.contains("* SEARCH 1"), "{found}");
    // Not a message: the mailbox still has no new ones.
    let users = d.rx("voicemail show users");
    let line = users.lines().find(|l| l.contains("1001")).unwrap_or("");
    assert!(line.trim_end().ends_with(" 0"), "{users}");

    // The local copy goes away; a caller still hears the busy greeting.
    let local = d.path().join("spool/voicemail/default/1001/busy.wav");
    std::fs::remove_file(&local).expect("the local greeting");
    let mut b = caller(sip, &tone);
    b.request("dial", &format!("sip:101@127.0.0.1:{sip}"));
    b.wait_event("CALL_ESTABLISHED", 10);
    d.wait_console("1001/busy.wav", 1);
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
    assert!(local.is_file(), "fetched from the server");
}

/// Without polling (`pollmailboxes=no`), the lamp still follows a mail client at once:
/// ferrisk watches the INBOX with IMAP IDLE, which Dovecot offers.
#[test]
fn the_lamp_follows_a_mail_client_through_imap_idle() {
    let dir = common::tempdir();
    let dove = Dovecot::start(dir.path(), &[("1001", "secret1")]);
    let sip = common::free_port();
    let d = imap_pbx_with(&dove, sip, "pollmailboxes=no\n");
    let lamp = lamp_phone(sip);
    let wav = dir.path().join("talk.wav");
    common::write_tone_wav(&wav, 40);
    leave_message(&d, sip, &wav, 2);
    let mut c = dove.client("1001", "secret1");
    common::wait_for(20, "the mail in the INBOX", || {
        (c.select("INBOX") == 1).then_some(())
    });
    lamp_sent(&d, "1/0");
    // Read in a mail client: IDLE tells ferrisk, the lamp goes off.
    let (ok, out) = c.cmd("STORE 1 +FLAGS (\\Seen)");
    assert!(ok, "{out}");
    let r = lamp.wait();
    r.assert_ok("1001's lamp off once the mail was read, without polling");
    assert!(r.mwi_notify_position("1/0 waiting=yes") < r.mwi_notify_position("0/1 waiting=no"));
}

/// VoiceMailMain's forward (8) between two IMAP mailboxes: 1001's message arrives in
/// 1002's account as a new voicemail.
#[test]
fn a_message_forwarded_lands_in_the_other_mailbox_on_the_server() {
    let dir = common::tempdir();
    let dove = Dovecot::start(dir.path(), &[("1001", "secret1"), ("1002", "secret2")]);
    seed(&dove, &[vm_mail(1, "2000")]);
    let sip = common::free_port();
    let d = imap_pbx_with(&dove, sip, "");
    // 1002 is a mailbox too (voicemail.conf is re-read with it).
    let vm = d.path().join("voicemail.conf");
    let text = std::fs::read_to_string(&vm).expect("voicemail.conf");
    std::fs::write(
        &vm,
        format!("{text}1002 => 4321,Bob,,,imapuser=1002|imappassword=secret2\n"),
    )
    .expect("voicemail.conf");
    d.rx("voicemail reload");
    common::wait_for(10, "1002 known", || {
        d.rx("voicemail show users").contains("1002").then_some(())
    });
    let tone = dir.path().join("phone.wav");
    common::write_tone_wav(&tone, 120);
    let mut b = owner_logged_in(&d, sip, &tone);
    keys(&mut b, "1");
    d.wait_console("imapcache/INBOX-", 1);
    keys(&mut b, "8");
    d.wait_console("Playing 'vm-extension.", 1);
    keys(&mut b, "1002#");
    d.wait_console("Playing 'vm-forwardoptions.", 1);
    keys(&mut b, "2");
    d.wait_console("Playing 'vm-msgsaved.", 1);
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 20);
    let mut c = dove.client("1002", "secret2");
    common::wait_for(15, "the message in 1002's INBOX", || {
        (c.select("INBOX") == 1).then_some(())
    });
    let (_, h) = c.cmd("FETCH 1 BODY.PEEK[HEADER]");
    assert!(h.contains("X-Asterisk-CallerID: 2000"), "{h}");
    let (_, unseen) = c.cmd("SEARCH UNSEEN");
    assert!(unseen.contains("* SEARCH 1"), "{unseen}");
}
