//! Voicemail email notification end to end: the library's Pbx and Mailer against the real
//! aiosmtpd sink (fails when `python3 -m aiosmtpd` is missing), and the `mailcmd` path.

mod common;

use common::smtp::{Mail, SmtpSink};
use ferrisk::astdb::AstDb;
use ferrisk::config::settings::Settings;
use ferrisk::pbx::Pbx;
use ferrisk::voicemail::config::{parse_voicemail_conf, VoicemailConfig};
use ferrisk::voicemail::email::{Mailer, NewMessage};
use ferrisk::voicemail::metadata::MessageInfo;
use ferrisk::voicemail::store::Folder;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pbx_in(dir: &Path) -> Arc<Pbx> {
    let mut s = Settings::defaults_for(&dir.join("ferrisk.conf"));
    s.astetcdir = dir.to_path_buf();
    s.astspooldir = dir.join("spool");
    let db = AstDb::open_in_memory().expect("in-memory astdb");
    let pbx = Pbx::new(s, db);
    ferrisk::modules::load_for_tests(&pbx);
    pbx
}

fn conf(text: &str) -> VoicemailConfig {
    let cf = ferrisk::config::load_str(
        Path::new("/tmp"),
        "voicemail.conf",
        text,
        &ferrisk::config::settings::Settings::defaults_for(Path::new("/tmp/x.conf")).load_options(),
    )
    .expect("voicemail.conf loads");
    parse_voicemail_conf(&cf).expect("voicemail.conf parses").0
}

fn smtp_conf(port: u16, extra: &str) -> String {
    format!(
        "[general]\nserveremail=vm@pbx.test\nemailsubject=VM ${{VM_MSGNUM}} for ${{VM_NAME}} from ${{VM_CIDNUM}} (${{VM_DUR}})\nsmtp_host=127.0.0.1\nsmtp_port={port}\n{extra}\n[default]\n100 => 1234,Leif Madsen,leif@example.com\n"
    )
}

/// A small WAV in the spool layout; returns its path and bytes.
fn store_wav(pbx: &Pbx) -> (PathBuf, Vec<u8>) {
    let dir = pbx.settings.astspooldir.join("voicemail/default/100/INBOX");
    std::fs::create_dir_all(&dir).expect("spool dir");
    let samples: Vec<u8> = (0..1600u32)
        .flat_map(|i| ((i * 37 % 65536) as u16).to_le_bytes())
        .collect();
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    b.extend_from_slice(&samples);
    let p = dir.join("msg0000.wav");
    std::fs::write(&p, &b).expect("write wav");
    (p, b)
}

fn info() -> MessageInfo {
    MessageInfo {
        origmailbox: "100".into(),
        context: "default".into(),
        exten: "100".into(),
        priority: 3,
        callerchan: "SIP/1001-00000001".into(),
        callerid: "\"Alice\" <1001>".into(),
        origtime: 1_700_000_000,
        msg_id: "1700000000-00000000".into(),
        duration: 7,
        ..Default::default()
    }
}

fn notify(pbx: &Arc<Pbx>, mailer: &Mailer, audio: &Path) {
    let cfg = ferrisk::voicemail::of(pbx).config();
    let mb = cfg.mailbox("100").expect("mailbox 100").clone();
    let info = info();
    let msg = NewMessage {
        mailbox: &mb,
        folder: Folder::Inbox,
        msgnum: 0,
        info: &info,
        audio,
    };
    mailer
        .notify(pbx, &cfg, &msg)
        .expect("notify queues the mail");
}

fn queued(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mail"))
        .collect()
}

async fn wait_async<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_mails(sink: &SmtpSink, n: usize) -> Vec<Mail> {
    wait_async(60, &format!("{n} mail(s) at the sink"), || {
        let m = sink.mails();
        (m.len() >= n).then_some(m)
    })
    .await
}

fn check_mail(m: &Mail, wav: &[u8]) {
    assert_eq!(
        m.header("Subject"),
        Some("VM 1 for Leif Madsen from 1001 (0:07)"),
        "{:?}",
        m.headers
    );
    assert!(m
        .header("To")
        .is_some_and(|t| t.contains("<leif@example.com>")));
    assert!(m
        .header("From")
        .is_some_and(|t| t.contains("<vm@pbx.test>")));
    assert_eq!(m.header("X-Asterisk-VM-Extension"), Some("100"));
    assert_eq!(m.header("X-Asterisk-VM-Caller-ID-Num"), Some("1001"));
    assert_eq!(
        m.header("X-Asterisk-VM-Message-ID"),
        Some("1700000000-00000000")
    );
    assert!(m.text().contains("Dear Leif Madsen:"), "{}", m.text());
    let att = m.attachments();
    assert_eq!(att.len(), 1, "one attachment: {:?}", m.headers);
    assert_eq!(att[0].0, "msg0000.wav");
    assert_eq!(att[0].1, "audio/x-wav");
    assert!(
        att[0].2 == wav,
        "attachment bytes differ from the stored WAV"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_delivers_templated_mail_with_wav_to_smtp_sink() {
    let dir = common::tempdir();
    let sink = SmtpSink::start_new(dir.path());
    let pbx = pbx_in(dir.path());
    ferrisk::voicemail::of(&pbx).set_config(conf(&smtp_conf(sink.port, "")));
    let mailer = ferrisk::voicemail::of(&pbx).mailer.clone();
    mailer.start(&pbx);
    let (audio, wav) = store_wav(&pbx);
    notify(&pbx, &mailer, &audio);
    let mails = wait_mails(&sink, 1).await;
    assert_eq!(mails.len(), 1);
    check_mail(&mails[0], &wav);
    assert_eq!(mails[0].header("X-RcptTo"), Some("leif@example.com"));
    wait_async(30, "queue emptied", || {
        queued(mailer.queue_dir()).is_empty().then_some(())
    })
    .await;
    assert!(audio.exists(), "the spool audio is never touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_down_keeps_mail_queued_until_it_comes_up() {
    let dir = common::tempdir();
    let mut sink = SmtpSink::new(dir.path(), common::free_port());
    let pbx = pbx_in(dir.path());
    ferrisk::voicemail::of(&pbx).set_config(conf(&smtp_conf(sink.port, "")));
    let mut log = pbx.log_tx.subscribe();
    let mailer = ferrisk::voicemail::of(&pbx).mailer.clone();
    mailer.set_retry(Duration::from_millis(200), Duration::from_secs(1));
    mailer.start(&pbx);
    let (audio, wav) = store_wav(&pbx);
    notify(&pbx, &mailer, &audio);
    assert_eq!(
        queued(mailer.queue_dir()).len(),
        1,
        "queued before any attempt"
    );
    // Wait for two failed attempts (connection refused) to be logged.
    let mut failures = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while failures < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, log.recv()).await {
            Ok(Ok(l)) if l.text.contains("Unable to send mail to leif@example.com") => {
                failures += 1
            }
            Ok(_) => {}
            Err(_) => panic!("no delivery failure logged"),
        }
    }
    assert_eq!(
        queued(mailer.queue_dir()).len(),
        1,
        "nothing lost while the relay is down"
    );
    sink.start();
    let mails = wait_mails(&sink, 1).await;
    check_mail(&mails[0], &wav);
    wait_async(30, "queue emptied", || {
        queued(mailer.queue_dir()).is_empty().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.mails().len(), 1, "delivered exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mailer_delivers_leftover_queue() {
    let dir = common::tempdir();
    let sink = SmtpSink::start_new(dir.path());
    let pbx = pbx_in(dir.path());
    ferrisk::voicemail::of(&pbx).set_config(conf(&smtp_conf(sink.port, "")));
    let qdir = dir.path().join("queue");
    let (audio, wav) = store_wav(&pbx);
    {
        // A mailer that queued and then "crashed" before sending (never started).
        let old = Mailer::new(qdir.clone());
        notify(&pbx, &old, &audio);
        notify(&pbx, &old, &audio);
    }
    assert_eq!(queued(&qdir).len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.mails().is_empty());
    let fresh = Arc::new(Mailer::new(qdir.clone()));
    fresh.start(&pbx);
    let mails = wait_mails(&sink, 2).await;
    for m in &mails {
        check_mail(m, &wav);
    }
    wait_async(30, "queue emptied", || {
        queued(&qdir).is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailcmd_gets_the_message_on_stdin() {
    let dir = common::tempdir();
    let pbx = pbx_in(dir.path());
    let out = dir.path().join("sent.eml");
    let script = dir.path().join("fake-sendmail.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > '{}.tmp' && mv '{}.tmp' '{}'\n",
            out.display(),
            out.display(),
            out.display()
        ),
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    ferrisk::voicemail::of(&pbx).set_config(conf(&format!(
        "[general]\nserveremail=vm@pbx.test\nemailsubject=VM ${{VM_MSGNUM}} for ${{VM_NAME}} from ${{VM_CIDNUM}} (${{VM_DUR}})\nmailcmd={} -t\n[default]\n100 => 1234,Leif Madsen,leif@example.com\n",
        script.display()
    )));
    let mailer = ferrisk::voicemail::of(&pbx).mailer.clone();
    mailer.start(&pbx);
    let (audio, wav) = store_wav(&pbx);
    notify(&pbx, &mailer, &audio);
    let bytes = wait_async(60, "mailcmd output", || std::fs::read(&out).ok()).await;
    check_mail(&Mail::parse(&bytes), &wav);
    wait_async(30, "queue emptied", || {
        queued(mailer.queue_dir()).is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanently_refused_mail_moves_to_failed() {
    let dir = common::tempdir();
    let pbx = pbx_in(dir.path());
    // EX_NOUSER from a sendmail-like command: a permanent refusal.
    ferrisk::voicemail::of(&pbx).set_config(conf(
        "[general]\nmailcmd=exit 67\n[default]\n100 => 1234,Leif Madsen,leif@example.com\n",
    ));
    let mailer = ferrisk::voicemail::of(&pbx).mailer.clone();
    mailer.start(&pbx);
    let (audio, _) = store_wav(&pbx);
    notify(&pbx, &mailer, &audio);
    let failed = mailer.queue_dir().join("failed");
    wait_async(60, "mail in failed/", || {
        (queued(&failed).len() == 1).then_some(())
    })
    .await;
    assert!(queued(mailer.queue_dir()).is_empty());
}
