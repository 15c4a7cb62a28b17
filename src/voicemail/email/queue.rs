//! The on-disk mail queue: one file per mail, written atomically (temporary file, fsync,
//! rename, directory fsync) before any delivery attempt, so a crash or a restart never
//! loses a notification. Mails the relay refused for good go to `failed/`.
//!
//! A queue file is a short envelope, a blank line and the RFC 5322 message:
//!
//! ```text
//! ferrisk-mailqueue 1
//! kind email
//! from asterisk@pbx.example.com
//! to leif@example.com
//!
//! Date: ...
//! ```
//!
//! Also here: [`Backoff`], the retry schedule of one queued mail (pure: time is an argument).

use super::render::{Kind, Rendered};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MAGIC: &str = "ferrisk-mailqueue 1";
/// Extension of committed queue files.
pub const EXT: &str = "mail";
/// Prefix of files being written (never delivered; removed at start).
const TMP_PREFIX: &str = ".tmp-";
/// Folder (inside the queue) of mails refused permanently.
pub const FAILED_DIR: &str = "failed";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A mail read back from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub kind: String,
    pub from: String,
    pub to: String,
    pub data: Vec<u8>,
}

fn check_addr(what: &str, a: &str) -> Result<(), String> {
    if a.is_empty() || a.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{what} address '{a}' is not usable in an envelope"));
    }
    Ok(())
}

/// The file's bytes for `mail`.
pub fn encode(mail: &Rendered) -> Result<Vec<u8>, String> {
    check_addr("sender", &mail.from)?;
    check_addr("recipient", &mail.to)?;
    let mut out = format!(
        "{MAGIC}\nkind {}\nfrom {}\nto {}\n\n",
        mail.kind.name(),
        mail.from,
        mail.to
    )
    .into_bytes();
    out.extend_from_slice(&mail.data);
    Ok(out)
}

/// Parse a queue file's bytes.
pub fn decode(bytes: &[u8]) -> Result<QueuedMail, String> {
    let end = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or("no end of envelope")?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| "envelope is not UTF-8")?;
    let mut lines = head.lines();
    if lines.next() != Some(MAGIC) {
        return Err(format!(
            "not a ferrisk mail queue file (first line is not '{MAGIC}')"
        ));
    }
    let (mut kind, mut from, mut to) = (String::new(), None, None);
    for l in lines {
        match l.split_once(' ') {
            Some(("kind", v)) => kind = v.to_string(),
            Some(("from", v)) => from = Some(v.to_string()),
            Some(("to", v)) => to = Some(v.to_string()),
            _ => return Err(format!("bad envelope line '{l}'")),
        }
    }
    Ok(QueuedMail {
        kind,
        from: from.ok_or("envelope has no sender")?,
        to: to.ok_or("envelope has no recipient")?,
        data: bytes[end + 2..].to_vec(),
    })
}

fn sync_dir(dir: &Path) {
    // Makes the rename durable; not every filesystem allows opening a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `mail` into `dir` atomically; returns the committed file's path.
pub fn write(dir: &Path, mail: &Rendered) -> Result<PathBuf, String> {
    let bytes = encode(mail)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Names sort in queueing order: time, then a per-process sequence.
    let name = format!(
        "{:013}-{}-{:06}-{}.{EXT}",
        now.as_millis(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        match mail.kind {
            Kind::Email => "email",
            Kind::Pager => "pager",
        }
    );
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    let dst = dir.join(&name);
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dst)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot queue mail in {}: {e}", dir.display()));
    }
    sync_dir(dir);
    Ok(dst)
}

/// The committed mails in `dir`, oldest first. With `clean_tmp` (the sender's first look
/// after a start), temporary files older than a minute are removed: they are writes a crash
/// interrupted, never committed mails (a fresh one may be a writer at work).
pub fn list(dir: &Path, clean_tmp: bool) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with(TMP_PREFIX) {
            if clean_tmp {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(60));
                if old {
                    let _ = std::fs::remove_file(&p);
                }
            }
            continue;
        }
        if p.extension().and_then(|x| x.to_str()) == Some(EXT) && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Move a refused mail to `failed/` (kept for the admin, never deleted).
pub fn move_to_failed(dir: &Path, file: &Path) -> Result<PathBuf, String> {
    let fdir = dir.join(FAILED_DIR);
    std::fs::create_dir_all(&fdir).map_err(|e| format!("cannot create {}: {e}", fdir.display()))?;
    let name = file
        .file_name()
        .ok_or_else(|| format!("{} has no file name", file.display()))?;
    let dst = fdir.join(name);
    std::fs::rename(file, &dst)
        .map_err(|e| format!("cannot move {} to {}: {e}", file.display(), dst.display()))?;
    sync_dir(dir);
    sync_dir(&fdir);
    Ok(dst)
}

/// Retry delays: start at `initial`, double after each failure, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(60),
        }
    }
}

/// The retry state of one queued mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Failed attempts so far.
    pub failures: u32,
    /// The delay the next failure waits.
    next_delay: Duration,
    /// No attempt before this instant (`None`: now).
    pub not_before: Option<Instant>,
}

impl Backoff {
    pub fn new(p: &RetryPolicy) -> Backoff {
        Backoff {
            failures: 0,
            next_delay: p.initial.min(p.max),
            not_before: None,
        }
    }

    /// May an attempt be made at `now`?
    pub fn due(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }

    /// Record a failed attempt at `now`; returns the wait before the next one.
    pub fn failed(&mut self, now: Instant, p: &RetryPolicy) -> Duration {
        let wait = self.next_delay.min(p.max);
        self.failures += 1;
        self.not_before = Some(now + wait);
        self.next_delay = (wait * 2).min(p.max);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Rendered {
        Rendered {
            kind: Kind::Email,
            from: "asterisk@pbx".into(),
            to: "leif@example.com".into(),
            data: b"Subject: hi\r\n\r\nbody\r\n\r\nmore\r\n".to_vec(),
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let m = mail();
        let q = decode(&encode(&m).expect("encodes")).expect("decodes");
        assert_eq!(q.from, "asterisk@pbx");
        assert_eq!(q.to, "leif@example.com");
        assert_eq!(q.kind, "email");
        assert_eq!(q.data, m.data);
        assert!(decode(b"garbage\n\nx").is_err());
        assert!(decode(b"no envelope end").is_err());
        let mut bad = m.clone();
        bad.to = "a@b\nRCPT TO:<x@y>".into();
        assert!(encode(&bad).is_err(), "no newlines in envelope addresses");
    }

    #[test]
    fn write_is_atomic_and_listed_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = dir.path().join("mailqueue");
        let a = write(&q, &mail()).expect("queued");
        let b = write(&q, &mail()).expect("queued");
        // A half-written file from a crash: never listed.
        std::fs::write(q.join(".tmp-123.mail"), b"partial").expect("write");
        let l = list(&q, true);
        assert_eq!(l, vec![a.clone(), b]);
        let names: Vec<_> = std::fs::read_dir(&q)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with(".tmp-")),
            "a fresh temp file is left alone: {names:?}"
        );
        let back = decode(&std::fs::read(&a).expect("read")).expect("decodes");
        assert_eq!(back.data, mail().data);
        let f = move_to_failed(&q, &a).expect("moved");
        assert!(f.starts_with(q.join("failed")));
        assert_eq!(list(&q, false).len(), 1);
        assert!(list(&dir.path().join("missing"), true).is_empty());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        let mut b = Backoff::new(&p);
        let t0 = Instant::now();
        assert!(b.due(t0));
        let waits: Vec<u64> = (0..8).map(|_| b.failed(t0, &p).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.failures, 8);
        assert!(!b.due(t0 + Duration::from_secs(59)));
        assert!(b.due(t0 + Duration::from_secs(60)));
        let small = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(250),
        };
        let mut b = Backoff::new(&small);
        let w: Vec<u128> = (0..4).map(|_| b.failed(t0, &small).as_millis()).collect();
        assert_eq!(w, [100, 200, 250, 250]);
    }
}
