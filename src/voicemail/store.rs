//! Where messages live. [`MessageStore`] is what the applications, the CLI and MWI use;
//! [`FileStore`] keeps Asterisk's file spool layout:
//!
//! ```text
//! <astspooldir>/voicemail/<context>/<mailbox>/INBOX/msg0000.wav   the audio
//!                                             INBOX/msg0000.txt   metadata (metadata.rs)
//!                                             Old/ Work/ Family/ Friends/ Urgent/ ...
//!                                             unavail.wav busy.wav greet.wav temp.wav
//!                                             tmp/                recordings in progress
//! ```
//!
//! Messages in a folder are numbered from 0 without gaps; removing one renumbers the rest
//! (app_voicemail resequences the same way). Every change to a mailbox holds that
//! mailbox's lock. A message is moved into place audio first, metadata last, both by
//! `rename`, so a crash never leaves a `.txt` without its audio. An IMAP store (a later
//! issue) implements the same trait.

use super::metadata::MessageInfo;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Asterisk's limit on messages per folder (`MAXMSGLIMIT`).
pub const MAX_MSG_LIMIT: u32 = 9999;

/// A mailbox: number and voicemail context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoxId {
    pub mailbox: String,
    pub context: String,
}

impl BoxId {
    pub fn new(mailbox: &str, context: &str) -> BoxId {
        BoxId {
            mailbox: mailbox.to_string(),
            context: if context.is_empty() {
                "default".to_string()
            } else {
                context.to_string()
            },
        }
    }

    /// `mbox[@context]`.
    pub fn parse(spec: &str) -> BoxId {
        match spec.trim().split_once('@') {
            Some((m, c)) => BoxId::new(m.trim(), c.trim()),
            None => BoxId::new(spec.trim(), "default"),
        }
    }
}

impl std::fmt::Display for BoxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.mailbox, self.context)
    }
}

/// app_voicemail's folders, numbered as it numbers them (the digit a caller presses in
/// VoiceMailMain's "change folder" menu is the number for 0–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Folder {
    Inbox,
    Old,
    Work,
    Family,
    Friends,
    Cust1,
    Cust2,
    Cust3,
    Cust4,
    Cust5,
    Deleted,
    Urgent,
}

impl Folder {
    pub const ALL: [Folder; 12] = [
        Folder::Inbox,
        Folder::Old,
        Folder::Work,
        Folder::Family,
        Folder::Friends,
        Folder::Cust1,
        Folder::Cust2,
        Folder::Cust3,
        Folder::Cust4,
        Folder::Cust5,
        Folder::Deleted,
        Folder::Urgent,
    ];

    /// Directory name (`INBOX`, `Old`, …), also the prompt `vm-<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Folder::Inbox => "INBOX",
            Folder::Old => "Old",
            Folder::Work => "Work",
            Folder::Family => "Family",
            Folder::Friends => "Friends",
            Folder::Cust1 => "Cust1",
            Folder::Cust2 => "Cust2",
            Folder::Cust3 => "Cust3",
            Folder::Cust4 => "Cust4",
            Folder::Cust5 => "Cust5",
            Folder::Deleted => "Deleted",
            Folder::Urgent => "Urgent",
        }
    }

    pub fn from_index(i: usize) -> Option<Folder> {
        Folder::ALL.get(i).copied()
    }

    pub fn index(self) -> usize {
        Folder::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }

    /// By name, case-insensitive (`INBOX`, `old`, …).
    pub fn from_name(s: &str) -> Option<Folder> {
        Folder::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// The per-mailbox recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    Unavail,
    Busy,
    /// The recorded name.
    Name,
    Temp,
}

impl Greeting {
    /// File base name in the mailbox directory.
    pub fn file(self) -> &'static str {
        match self {
            Greeting::Unavail => "unavail",
            Greeting::Busy => "busy",
            Greeting::Name => "greet",
            Greeting::Temp => "temp",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("mailbox {0} is full")]
    Full(BoxId),
    #[error("no message {1} in {0}")]
    NoMessage(String, u32),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Message storage. File names in results are local paths the media code can open.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// `file` or `imap`, for the CLI.
    fn kind(&self) -> &'static str;
    /// The store as `Any`, to compare a store's settings (IMAP) on reload.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// Create the mailbox's folders if needed.
    async fn ensure(&self, mb: &BoxId) -> io::Result<()>;
    /// Messages in a folder.
    async fn count(&self, mb: &BoxId, folder: Folder) -> io::Result<u32>;
    /// The counts of several folders (one connection for a remote store).
    async fn counts(&self, mb: &BoxId, folders: &[Folder]) -> Vec<u32> {
        let mut v = Vec::with_capacity(folders.len());
        for f in folders {
            v.push(self.count(mb, *f).await.unwrap_or(0));
        }
        v
    }
    /// [`MessageStore::count`] without waiting, for dialplan functions and the CLI (which
    /// are synchronous); a remote store answers from its cache.
    fn count_now(&self, mb: &BoxId, folder: Folder) -> io::Result<u32>;
    /// A message's metadata.
    async fn info(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<MessageInfo, StoreError>;
    /// A local path of the message's audio without extension (`…/INBOX/msg0000`).
    async fn audio(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<PathBuf, StoreError>;
    /// Where a recording in progress goes (a directory on the same file system as the
    /// mailbox, so delivering is a rename).
    fn scratch_dir(&self, mb: &BoxId) -> PathBuf;
    /// Store a finished recording (`recording`: a `.wav` file, normally under
    /// [`MessageStore::scratch_dir`]) as the next message of `folder`. Fails with
    /// [`StoreError::Full`] when the folder already holds `maxmsg` messages; the recording is
    /// then left where it is.
    async fn deliver(
        &self,
        mb: &BoxId,
        folder: Folder,
        recording: &Path,
        info: &MessageInfo,
        maxmsg: u32,
    ) -> Result<u32, StoreError>;
    /// Copy message `n` of `from` to the end of `to_folder` in `to` (forwarding, saving).
    async fn copy(
        &self,
        mb: &BoxId,
        from: Folder,
        n: u32,
        to: &BoxId,
        to_folder: Folder,
        maxmsg: u32,
    ) -> Result<u32, StoreError>;
    /// Move message `n` to the end of another folder of the same mailbox; the source folder
    /// is renumbered. Returns the new number.
    async fn move_to(
        &self,
        mb: &BoxId,
        from: Folder,
        n: u32,
        to: Folder,
        maxmsg: u32,
    ) -> Result<u32, StoreError>;
    /// Remove message `n`; the folder is renumbered.
    async fn remove(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<(), StoreError>;
    /// Remove several messages (numbers as before any removal) and renumber once.
    async fn remove_many(&self, mb: &BoxId, folder: Folder, ns: &[u32]) -> Result<(), StoreError>;
    /// A greeting's local path without extension (it may not exist).
    fn greeting(&self, mb: &BoxId, which: Greeting) -> PathBuf;
    /// Bring the mailbox's greetings in the local spool up to date before they are played
    /// or looked at (IMAP greetings come from the server). Nothing to do for the spool.
    async fn sync_greetings(&self, _mb: &BoxId) {}
    /// A greeting was recorded (its local file is new) or erased (no local file): tell
    /// the server (IMAP greetings). Nothing to do for the spool.
    async fn greeting_changed(&self, _mb: &BoxId, _which: Greeting) {}
    /// The mailbox's directory (greetings and folders), for diagnostics.
    fn mailbox_dir(&self, mb: &BoxId) -> PathBuf;
}

/// Asterisk's file spool.
pub struct FileStore {
    base: PathBuf,
    locks: Mutex<HashMap<BoxId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Audio/metadata extensions a message may have; all move together.
const MSG_EXTS: [&str; 7] = ["txt", "wav", "WAV", "gsm", "ulaw", "alaw", "sln"];

fn msg_name(n: u32) -> String {
    format!("msg{n:04}")
}

impl FileStore {
    /// `base`: `<astspooldir>/voicemail`.
    pub fn new(base: PathBuf) -> FileStore {
        FileStore {
            base,
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    fn lock_of(&self, mb: &BoxId) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().entry(mb.clone()).or_default().clone()
    }

    fn folder_dir(&self, mb: &BoxId, f: Folder) -> PathBuf {
        self.mailbox_dir(mb).join(f.name())
    }

    /// Message numbers present (by their `.txt` or audio), sorted.
    fn numbers(dir: &Path) -> io::Result<Vec<u32>> {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut v: Vec<u32> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let (stem, ext) = name.rsplit_once('.')?;
                if ext != "txt" {
                    return None;
                }
                let digits = stem.strip_prefix("msg")?;
                (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse().ok())
                    .flatten()
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    /// Rename every file of message `from` to `to` in `dir`; `.txt` last.
    fn rename_msg(src_dir: &Path, from: u32, dst_dir: &Path, to: u32) -> io::Result<()> {
        for ext in MSG_EXTS.iter().rev() {
            let s = src_dir.join(format!("{}.{ext}", msg_name(from)));
            if s.exists() {
                std::fs::rename(&s, dst_dir.join(format!("{}.{ext}", msg_name(to))))?;
            }
        }
        Ok(())
    }

    /// Renumber `dir` so its messages are 0..n without gaps.
    fn resequence(dir: &Path) -> io::Result<()> {
        for (want, have) in Self::numbers(dir)?.into_iter().enumerate() {
            let want = want as u32;
            if want != have {
                Self::rename_msg(dir, have, dir, want)?;
            }
        }
        Ok(())
    }

    /// The number the next message of `dir` gets; [`StoreError::Full`] when it already holds
    /// `maxmsg` messages. Creates the folder.
    fn next_slot(dir: &Path, mb: &BoxId, maxmsg: u32) -> Result<u32, StoreError> {
        std::fs::create_dir_all(dir)?;
        let nums = Self::numbers(dir)?;
        if nums.len() as u32 >= maxmsg.clamp(1, MAX_MSG_LIMIT) {
            return Err(StoreError::Full(mb.clone()));
        }
        Ok(nums.last().map(|l| l + 1).unwrap_or(0))
    }

    fn check(dir: &Path, n: u32) -> Result<(), StoreError> {
        if dir.join(format!("{}.txt", msg_name(n))).exists() {
            Ok(())
        } else {
            Err(StoreError::NoMessage(dir.display().to_string(), n))
        }
    }

    fn copy_files(src: &Path, n: u32, dst: &Path, m: u32) -> io::Result<()> {
        // Audio first, then the metadata through a temporary name.
        for ext in MSG_EXTS.iter().filter(|e| **e != "txt") {
            let s = src.join(format!("{}.{ext}", msg_name(n)));
            if s.exists() {
                std::fs::copy(&s, dst.join(format!("{}.{ext}", msg_name(m))))?;
            }
        }
        let tmp = dst.join(format!(".{}.txt.tmp", msg_name(m)));
        std::fs::copy(src.join(format!("{}.txt", msg_name(n))), &tmp)?;
        std::fs::rename(tmp, dst.join(format!("{}.txt", msg_name(m))))
    }
}

/// Run file work on the blocking pool (renames, fsync, directory listings never block an
/// async worker).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(io::Error::other(e)))?
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[async_trait]
impl MessageStore for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn ensure(&self, mb: &BoxId) -> io::Result<()> {
        let dirs: Vec<PathBuf> = [Folder::Inbox, Folder::Old, Folder::Urgent]
            .into_iter()
            .map(|f| self.folder_dir(mb, f))
            .chain([self.scratch_dir(mb)])
            .collect();
        blocking(move || {
            for d in dirs {
                std::fs::create_dir_all(d)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| match e {
            StoreError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })
    }

    async fn count(&self, mb: &BoxId, folder: Folder) -> io::Result<u32> {
        // A directory listing: on the blocking pool, not on an async worker.
        let dir = self.folder_dir(mb, folder);
        tokio::task::spawn_blocking(move || Self::numbers(&dir).map(|v| v.len() as u32))
            .await
            .map_err(io::Error::other)?
    }

    fn count_now(&self, mb: &BoxId, folder: Folder) -> io::Result<u32> {
        Ok(Self::numbers(&self.folder_dir(mb, folder))?.len() as u32)
    }

    async fn info(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<MessageInfo, StoreError> {
        let dir = self.folder_dir(mb, folder);
        blocking(move || {
            Self::check(&dir, n)?;
            let text = std::fs::read_to_string(dir.join(format!("{}.txt", msg_name(n))))?;
            Ok(MessageInfo::parse(&text))
        })
        .await
    }

    async fn audio(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<PathBuf, StoreError> {
        let dir = self.folder_dir(mb, folder);
        blocking(move || {
            Self::check(&dir, n)?;
            Ok(dir.join(msg_name(n)))
        })
        .await
    }

    fn scratch_dir(&self, mb: &BoxId) -> PathBuf {
        self.mailbox_dir(mb).join("tmp")
    }

    async fn deliver(
        &self,
        mb: &BoxId,
        folder: Folder,
        recording: &Path,
        info: &MessageInfo,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        let lock = self.lock_of(mb);
        let _g = lock.lock().await;
        let dir = self.folder_dir(mb, folder);
        let (mb, recording, text) = (mb.clone(), recording.to_path_buf(), info.render());
        // Renames and fsyncs: on the blocking pool, under the mailbox's lock.
        blocking(move || {
            let n = Self::next_slot(&dir, &mb, maxmsg)?;
            let ext = recording
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("wav")
                .to_string();
            let audio = dir.join(format!("{}.{ext}", msg_name(n)));
            if std::fs::rename(&recording, &audio).is_err() {
                // Another file system: copy, and only then remove the recording.
                std::fs::copy(&recording, &audio)?;
                let _ = std::fs::remove_file(&recording);
            }
            let tmp = dir.join(format!(".{}.txt.tmp", msg_name(n)));
            std::fs::write(&tmp, text)?;
            if let Ok(f) = std::fs::File::open(&tmp) {
                let _ = f.sync_all();
            }
            std::fs::rename(&tmp, dir.join(format!("{}.txt", msg_name(n))))?;
            sync_dir(&dir);
            Ok(n)
        })
        .await
    }

    async fn copy(
        &self,
        mb: &BoxId,
        from: Folder,
        n: u32,
        to: &BoxId,
        to_folder: Folder,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        let src = self.folder_dir(mb, from);
        let lock = self.lock_of(to);
        let _g = lock.lock().await;
        let dst = self.folder_dir(to, to_folder);
        let to = to.clone();
        blocking(move || {
            Self::check(&src, n)?;
            let m = Self::next_slot(&dst, &to, maxmsg)?;
            Self::copy_files(&src, n, &dst, m)?;
            sync_dir(&dst);
            Ok(m)
        })
        .await
    }

    async fn move_to(
        &self,
        mb: &BoxId,
        from: Folder,
        n: u32,
        to: Folder,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        let lock = self.lock_of(mb);
        let _g = lock.lock().await;
        let src = self.folder_dir(mb, from);
        let dst = self.folder_dir(mb, to);
        let mb = mb.clone();
        blocking(move || {
            Self::check(&src, n)?;
            let m = Self::next_slot(&dst, &mb, maxmsg)?;
            Self::rename_msg(&src, n, &dst, m)?;
            Self::resequence(&src)?;
            sync_dir(&dst);
            sync_dir(&src);
            Ok(m)
        })
        .await
    }

    async fn remove(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<(), StoreError> {
        self.remove_many(mb, folder, &[n]).await
    }

    async fn remove_many(&self, mb: &BoxId, folder: Folder, ns: &[u32]) -> Result<(), StoreError> {
        let lock = self.lock_of(mb);
        let _g = lock.lock().await;
        let dir = self.folder_dir(mb, folder);
        let ns = ns.to_vec();
        blocking(move || {
            for n in ns {
                // Metadata first: a message without its .txt is not listed any more.
                for ext in MSG_EXTS {
                    let p = dir.join(format!("{}.{ext}", msg_name(n)));
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Self::resequence(&dir)?;
            sync_dir(&dir);
            Ok(())
        })
        .await
    }

    fn greeting(&self, mb: &BoxId, which: Greeting) -> PathBuf {
        self.mailbox_dir(mb).join(which.file())
    }

    fn mailbox_dir(&self, mb: &BoxId) -> PathBuf {
        self.base.join(&mb.context).join(&mb.mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: u32) -> MessageInfo {
        MessageInfo {
            origmailbox: "100".into(),
            duration: n,
            ..Default::default()
        }
    }

    async fn record(st: &FileStore, mb: &BoxId, tag: u8) -> PathBuf {
        let dir = st.scratch_dir(mb);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("rec{tag}.wav"));
        std::fs::write(&p, [tag; 8]).unwrap();
        p
    }

    #[tokio::test]
    async fn deliver_number_move_remove() {
        let t = tempfile::tempdir().unwrap();
        let st = FileStore::new(t.path().join("voicemail"));
        let mb = BoxId::parse("100@default");
        st.ensure(&mb).await.unwrap();
        for i in 0..3u8 {
            let r = record(&st, &mb, i).await;
            let n = st
                .deliver(&mb, Folder::Inbox, &r, &info(i as u32), 3)
                .await
                .unwrap();
            assert_eq!(n, i as u32);
            assert!(!r.exists());
        }
        let inbox = t.path().join("voicemail/default/100/INBOX");
        assert!(inbox.join("msg0002.wav").exists());
        assert!(inbox.join("msg0002.txt").exists());
        // Full: the recording stays.
        let r = record(&st, &mb, 9).await;
        assert!(matches!(
            st.deliver(&mb, Folder::Inbox, &r, &info(9), 3).await,
            Err(StoreError::Full(_))
        ));
        assert!(r.exists());
        // Move message 0 to Old: INBOX renumbered 1,2 → 0,1.
        assert_eq!(
            st.move_to(&mb, Folder::Inbox, 0, Folder::Old, 100)
                .await
                .unwrap(),
            0
        );
        assert_eq!(st.count(&mb, Folder::Inbox).await.unwrap(), 2);
        assert_eq!(st.info(&mb, Folder::Inbox, 0).await.unwrap().duration, 1);
        assert_eq!(std::fs::read(inbox.join("msg0000.wav")).unwrap(), [1u8; 8]);
        assert_eq!(st.info(&mb, Folder::Old, 0).await.unwrap().duration, 0);
        // Remove several at once.
        st.remove_many(&mb, Folder::Inbox, &[0, 1]).await.unwrap();
        assert_eq!(st.count(&mb, Folder::Inbox).await.unwrap(), 0);
        assert!(matches!(
            st.info(&mb, Folder::Inbox, 0).await,
            Err(StoreError::NoMessage(..))
        ));
        // Copy to another box.
        let other = BoxId::parse("200@default");
        assert_eq!(
            st.copy(&mb, Folder::Old, 0, &other, Folder::Inbox, 100)
                .await
                .unwrap(),
            0
        );
        assert_eq!(st.count(&other, Folder::Inbox).await.unwrap(), 1);
        assert_eq!(st.count(&mb, Folder::Old).await.unwrap(), 1);
        assert_eq!(
            st.greeting(&mb, Greeting::Busy),
            t.path().join("voicemail/default/100/busy")
        );
    }

    #[test]
    fn folders_and_ids() {
        assert_eq!(Folder::from_index(0), Some(Folder::Inbox));
        assert_eq!(Folder::from_index(4), Some(Folder::Friends));
        assert_eq!(Folder::Urgent.index(), 11);
        assert_eq!(Folder::from_name("old"), Some(Folder::Old));
        assert_eq!(BoxId::parse("100").to_string(), "100@default");
        assert_eq!(BoxId::parse("100@").to_string(), "100@default");
    }
}
