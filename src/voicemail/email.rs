//! Email notification of new messages, as app_voicemail sends them, through an on-disk
//! queue that survives restarts and relay outages.
//!
//! [`Mailer::notify`] renders the mail to the mailbox's `email` address (and the short one to
//! its `pager` address) with [`render`], writes each complete message into the queue dir
//! atomically ([`queue`]) and wakes the sender. The sender ([`Mailer::start`]) delivers every
//! queued file ([`transport`]: SMTP or `mailcmd`), removes it once delivered, retries
//! temporary failures with a doubling delay, and moves permanently refused mails to
//! `failed/`. It never touches the spool: the audio is copied into the queued mail.

pub mod queue;
pub mod render;
pub mod transport;

use super::config::{Mailbox, VoicemailConfig};
use super::metadata::MessageInfo;
use super::store::Folder;
use crate::pbx::{blocking, Pbx};
use parking_lot::Mutex;
use queue::{Backoff, RetryPolicy};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use transport::{Route, SendError};

/// A message that was just stored.
pub struct NewMessage<'a> {
    pub mailbox: &'a Mailbox,
    pub folder: Folder,
    pub msgnum: u32,
    pub info: &'a MessageInfo,
    /// The stored audio file (`…/INBOX/msg0000.wav`).
    pub audio: &'a Path,
}

/// The longest the sender sleeps without looking at the queue (picks up files dropped in
/// by hand and notices a PBX that went away).
const IDLE_RESCAN: Duration = Duration::from_secs(30);

/// The on-disk mail queue and its sender.
pub struct Mailer {
    dir: PathBuf,
    wake: tokio::sync::Notify,
    retry: Mutex<Option<RetryPolicy>>,
    started: AtomicBool,
}

impl Mailer {
    pub fn new(dir: PathBuf) -> Mailer {
        Mailer {
            dir,
            wake: tokio::sync::Notify::new(),
            retry: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    pub fn queue_dir(&self) -> &Path {
        &self.dir
    }

    /// Fix the retry schedule (tests); otherwise 2 s doubling up to voicemail.conf
    /// `smtp_retry_max` seconds (default 60).
    pub fn set_retry(&self, initial: Duration, max: Duration) {
        *self.retry.lock() = Some(RetryPolicy { initial, max });
    }

    fn policy(&self, cfg: &VoicemailConfig) -> RetryPolicy {
        if let Some(p) = *self.retry.lock() {
            return p;
        }
        let mut p = RetryPolicy::default();
        if let Some(max) = cfg
            .general
            .other("smtp_retry_max")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&s| s > 0)
        {
            p.max = Duration::from_secs(max);
            p.initial = p.initial.min(p.max);
        }
        p
    }

    /// Render the notification(s) for `msg` and queue them on disk; the sender delivers them.
    /// Reads the audio and fsyncs the queue: call it on the blocking pool.
    pub fn notify(
        &self,
        pbx: &Arc<Pbx>,
        cfg: &VoicemailConfig,
        msg: &NewMessage<'_>,
    ) -> Result<(), String> {
        let host = crate::cli::server::hostname();
        let now = chrono::Utc::now();
        let mb = msg.mailbox;
        let mut errors = Vec::new();
        let mails = [
            render::render_email(pbx, cfg, msg, now, &host),
            render::render_pager(pbx, cfg, msg, now, &host),
        ];
        for m in mails {
            match m {
                Ok(Some(mail)) => match queue::write(&self.dir, &mail) {
                    Ok(file) => pbx.verbose_line(
                        3,
                        &format!(
                            "Queued {} notification for {}@{} to {} ({})",
                            mail.kind.name(),
                            mb.mailbox,
                            mb.context,
                            mail.to,
                            file.file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default()
                        ),
                    ),
                    Err(e) => errors.push(e),
                },
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        self.wake.notify_one();
        if errors.is_empty() {
            Ok(())
        } else {
            let e = errors.join("; ");
            pbx.warning(&format!("app_voicemail.c: {e}"));
            Err(e)
        }
    }

    /// Start the background sender (delivers the queue, retries until delivered). Calling
    /// it again does nothing. Needs a tokio runtime.
    pub fn start(self: &Arc<Self>, pbx: &Arc<Pbx>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.started.store(false, Ordering::SeqCst);
            pbx.error("app_voicemail.c: mail sender not started (no runtime)");
            return;
        };
        let me = self.clone();
        let weak = Arc::downgrade(pbx);
        rt.spawn(async move { me.run(weak).await });
    }

    async fn run(self: Arc<Self>, pbx: Weak<Pbx>) {
        let mut state: HashMap<PathBuf, Backoff> = HashMap::new();
        let mut first = true;
        loop {
            let Some(p) = pbx.upgrade() else {
                return;
            };
            let next = self.pass(&p, &mut state, first).await;
            first = false;
            drop(p);
            let wait = next
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(IDLE_RESCAN)
                .min(IDLE_RESCAN);
            let _ = tokio::time::timeout(wait, self.wake.notified()).await;
        }
    }

    /// One look at the queue: try every due mail. Returns when the next retry is due.
    async fn pass(
        &self,
        pbx: &Arc<Pbx>,
        state: &mut HashMap<PathBuf, Backoff>,
        first: bool,
    ) -> Option<Instant> {
        // The queue's file work (listing, reading, removing, moving) runs on the blocking
        // pool; only the delivery itself is async.
        let dir = self.dir.clone();
        let files = blocking::io(move || Ok(queue::list(&dir, first)))
            .await
            .unwrap_or_default();
        if first && !files.is_empty() {
            pbx.verbose_line(
                2,
                &format!(
                    "app_voicemail: {} queued mail(s) left in {}, delivering",
                    files.len(),
                    self.dir.display()
                ),
            );
        }
        state.retain(|k, _| files.contains(k));
        let cfg = crate::voicemail::of(pbx).config();
        let policy = self.policy(&cfg);
        let route = Route::from_general(&cfg.general);
        let hello = crate::cli::server::hostname();
        let mut next: Option<Instant> = None;
        for file in files {
            let b = state
                .entry(file.clone())
                .or_insert_with(|| Backoff::new(&policy));
            if !b.due(Instant::now()) {
                next = min_instant(next, b.not_before);
                continue;
            }
            let f = file.clone();
            let read = blocking::io(move || match std::fs::read(&f) {
                Ok(bytes) => Ok(Some(queue::decode(&bytes))),
                // Gone meanwhile (delivered by another pass, removed by hand).
                Err(_) if !f.exists() => Ok(None),
                Err(e) => Ok(Some(Err(e.to_string()))),
            })
            .await
            .unwrap_or_else(|e| Some(Err(e.to_string())));
            let mail = match read {
                Some(Ok(m)) => m,
                None => {
                    state.remove(&file);
                    continue;
                }
                Some(Err(e)) => {
                    self.fail_permanently(pbx, &file, &format!("unreadable queue file: {e}"))
                        .await;
                    state.remove(&file);
                    continue;
                }
            };
            pbx.verbose_line(
                3,
                &format!("Sending mail to {} via {}", mail.to, route.describe()),
            );
            match transport::send(&route, &mail, &hello).await {
                Ok(()) => {
                    let f = file.clone();
                    if let Err(e) = blocking::io(move || std::fs::remove_file(f)).await {
                        pbx.warning(&format!(
                            "app_voicemail.c: mail to {} sent but {} not removed: {e}",
                            mail.to,
                            file.display()
                        ));
                    }
                    state.remove(&file);
                    pbx.verbose_line(
                        3,
                        &format!("Sent mail to {} via {}", mail.to, route.describe()),
                    );
                }
                Err(SendError::Temporary(why)) => {
                    let wait = b.failed(Instant::now(), &policy);
                    pbx.warning(&format!(
                        "app_voicemail.c: Unable to send mail to {} via {} ({why}); attempt {}, retrying in {}s",
                        mail.to,
                        route.describe(),
                        b.failures,
                        wait.as_secs_f32()
                    ));
                    next = min_instant(next, b.not_before);
                }
                Err(SendError::Permanent(why)) => {
                    self.fail_permanently(
                        pbx,
                        &file,
                        &format!(
                            "mail to {} refused via {} ({why})",
                            mail.to,
                            route.describe()
                        ),
                    )
                    .await;
                    state.remove(&file);
                }
            }
        }
        next
    }

    async fn fail_permanently(&self, pbx: &Pbx, file: &Path, why: &str) {
        let (dir, f) = (self.dir.clone(), file.to_path_buf());
        let moved = blocking::io(move || Ok(queue::move_to_failed(&dir, &f)))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        match moved {
            Ok(dst) => pbx.error(&format!(
                "app_voicemail.c: {why}; kept in {}",
                dst.display()
            )),
            Err(e) => pbx.error(&format!("app_voicemail.c: {why}; {e}")),
        }
    }
}

fn min_instant(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
