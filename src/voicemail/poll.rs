//! `pollmailboxes=yes`: app_voicemail's mailbox poller. Every `pollfreq` seconds (30) it
//! recounts the configured mailboxes through the store and publishes an MWI change for each
//! one whose counts differ from the last count, so messages added, moved or removed by other
//! tools (a shared spool, a script, an IMAP client) still light the phones. The first count
//! of a mailbox only records it. It never changes the spool. With IMAP storage it also
//! appends the messages that waited in the local spool while the server was away.

use super::store::BoxId;
use super::Voicemail;
use crate::pbx::mwi::MwiState;
use crate::pbx::Pbx;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Default `pollfreq` (seconds).
pub const DEFAULT_POLLFREQ: u64 = 30;

/// `(enabled, interval)` from `[general]`.
pub fn settings(vm: &Voicemail) -> (bool, Duration) {
    let c = vm.config();
    let on = c
        .general
        .other("pollmailboxes")
        .is_some_and(super::config::is_true);
    let secs = c
        .general
        .other("pollfreq")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_POLLFREQ);
    (on, Duration::from_secs(secs))
}

/// One pass: recount every configured mailbox, publish the ones that changed since `last`.
/// Returns how many were published.
pub async fn poll_once(vm: &Voicemail, last: &mut HashMap<BoxId, MwiState>) -> usize {
    let c = vm.config();
    let mut seen = HashMap::with_capacity(c.mailboxes.len());
    let mut published = 0;
    for m in c.mailboxes.values() {
        let id = super::box_id(m);
        let now = vm.mwi_state(&id).await;
        if let Some(before) = last.get(&id) {
            if *before != now {
                vm.events
                    .publish(crate::pbx::events::Event::MessageWaiting(now.clone()));
                published += 1;
            }
        }
        seen.insert(id, now);
    }
    *last = seen;
    published
}

/// Start the poller (it follows `voicemail reload`: turning `pollmailboxes` on or off, or
/// changing `pollfreq`, takes effect at the next tick). Stops with the PBX.
pub fn start(pbx: &Arc<Pbx>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<Pbx> = Arc::downgrade(pbx);
    rt.spawn(async move {
        let mut last: HashMap<BoxId, MwiState> = HashMap::new();
        loop {
            let Some(pbx) = weak.upgrade() else {
                return;
            };
            let vm = crate::voicemail::of(&pbx);
            let (on, every) = settings(&vm);
            // IMAP storage: messages kept locally while the server was away go up now.
            let store = vm.store();
            if let Some(imap) = store
                .as_any()
                .and_then(|a| a.downcast_ref::<super::imapstore::ImapStore>())
            {
                let boxes: Vec<BoxId> = vm.config().mailboxes.values().map(super::box_id).collect();
                let n = imap.flush_pending(&boxes).await;
                if n > 0 {
                    pbx.verbose_line(
                        3,
                        &format!("app_voicemail: {n} waiting messages stored on the IMAP server"),
                    );
                    for b in &boxes {
                        vm.changed(b).await;
                    }
                }
            }
            if on {
                poll_once(&crate::voicemail::of(&pbx), &mut last).await;
            } else {
                last.clear();
            }
            drop(pbx);
            // Off: look again now and then, in case a reload turns it on.
            let wait = if on { every } else { Duration::from_secs(5) };
            tokio::time::sleep(wait).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn vm_with(conf: &str, spool: &std::path::Path) -> Voicemail {
        let mut settings =
            crate::config::settings::Settings::defaults_for(&spool.join("ferrisk.conf"));
        settings.astspooldir = spool.to_path_buf();
        let vm = Voicemail::new(&settings, crate::pbx::events::EventBus::default());
        let cf = load_str(spool, "voicemail.conf", conf, &LoadOptions::default())
            .expect("voicemail.conf loads");
        let (c, _) = super::super::config::parse_voicemail_conf(&cf).expect("parses");
        vm.set_config(c);
        vm
    }

    #[test]
    fn settings_default_and_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vm = vm_with("[default]\n100 => 1234,A\n", dir.path());
        assert_eq!(settings(&vm), (false, Duration::from_secs(30)));
        let vm = vm_with(
            "[general]\npollmailboxes=yes\npollfreq=2\n[default]\n100 => 1234,A\n",
            dir.path(),
        );
        assert_eq!(settings(&vm), (true, Duration::from_secs(2)));
    }

    #[tokio::test]
    async fn publishes_only_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vm = vm_with(
            "[general]\npollmailboxes=yes\n[default]\n100 => 1234,A\n101 => 1234,B\n",
            dir.path(),
        );
        let mut rx = vm.events.subscribe_mwi();
        let mut last = HashMap::new();
        // First pass records.
        assert_eq!(poll_once(&vm, &mut last).await, 0);
        let inbox = dir.path().join("voicemail/default/100/INBOX");
        std::fs::create_dir_all(&inbox).expect("mkdir");
        std::fs::write(inbox.join("msg0000.txt"), "[message]\norigmailbox=100\n").expect("txt");
        std::fs::write(inbox.join("msg0000.wav"), b"RIFF").expect("wav");
        assert_eq!(poll_once(&vm, &mut last).await, 1);
        let s = rx.try_recv().expect("published");
        assert_eq!((s.mailbox.as_str(), s.new, s.old), ("100", 1, 0));
        // Nothing changed: nothing published.
        assert_eq!(poll_once(&vm, &mut last).await, 0);
        assert!(rx.try_recv().is_err());
    }
}
