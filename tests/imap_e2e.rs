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
