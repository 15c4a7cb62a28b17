//! The IMAP message store (Asterisk's `IMAP_STORAGE`): each message is a mail in the
//! mailbox owner's IMAP account, in Asterisk's format (the notification mail's templated
//! subject and body, the `X-Asterisk-VM-*` headers, the recording attached), so users read
//! voicemail in their mail client.
//!
//! - INBOX (new) is the unseen mail of `imapfolder`, Urgent the unseen `\Flagged` mail,
//!   Old the seen mail of `imapfolder`; Work, Family, Friends, Cust1–5 are folders under
//!   `imapparentfolder`. Message *n* of a folder is its *n*-th mail by UID.
//! - Heard (moved to Old) = `\Seen`; deleted = `\Deleted`, expunged when the caller leaves
//!   the folder (`expungeonhangup=yes`, the default) or left for the mail client (`no`);
//!   saved to a folder = copied there, then deleted.
//! - Reading the audio fetches the mail without setting `\Seen` and keeps the attachment
//!   in a local cache; greetings and recordings in progress stay in the local spool.
//! - The lamp follows a mail client at once where the server offers IMAP IDLE (one
//!   watching connection per mailbox), else within `pollfreq` (`pollmailboxes=yes`).
//! - The server down while a caller leaves a message: the message goes to the local spool
//!   (nothing recorded is lost, one warning per outage) and is appended when the server
//!   answers again ([`ImapStore::flush_pending`], run by the poller).

use super::config::Mailbox;
use super::imap::{self, ImapConfig, ImapError, ImapSession, Ops};
use super::metadata::MessageInfo;
use super::store::{BoxId, FileStore, Folder, Greeting, MessageStore, StoreError};
use crate::pbx::Pbx;
use async_trait::async_trait;
use mail_parser::MimeHeaders;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

pub struct ImapStore {
    pub cfg: ImapConfig,
    /// One IMAP IDLE watcher per mailbox (stopped with the store).
    watchers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    pbx: Weak<Pbx>,
    /// Scratch recordings, greetings, the audio cache, and messages waiting for the server.
    local: FileStore,
    /// Last counts seen, for [`MessageStore::count_now`].
    counts: Mutex<HashMap<(BoxId, Folder), u32>>,
    /// The server is not answering (one warning per outage).
    down: AtomicBool,
}

impl From<ImapError> for StoreError {
    fn from(e: ImapError) -> StoreError {
        StoreError::Io(io::Error::other(e.to_string()))
    }
}

impl ImapStore {
    pub fn new(cfg: ImapConfig, pbx: &Arc<Pbx>, spool: PathBuf) -> ImapStore {
        ImapStore {
            cfg,
            pbx: Arc::downgrade(pbx),
            local: FileStore::new(spool),
            counts: Mutex::new(HashMap::new()),
            down: AtomicBool::new(false),
            watchers: Mutex::new(Vec::new()),
        }
    }

    /// The server's count of `folder` when it was last asked (0 before).
    fn last_count(&self, mb: &BoxId, folder: Folder) -> u32 {
        self.counts
            .lock()
            .get(&(mb.clone(), folder))
            .copied()
            .unwrap_or(0)
    }

    /// Watch each mailbox's new-message folder with IMAP IDLE where the server offers it:
    /// a mail read, deleted or added by a mail client updates the lamp at once instead of
    /// at the next `pollfreq`. A server without IDLE, or one that drops the connection,
    /// is left to the poller (and tried again after a while).
    pub fn watch(self: &Arc<Self>, boxes: Vec<BoxId>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut w = self.watchers.lock();
        for mb in boxes {
            let me = Arc::downgrade(self);
            w.push(rt.spawn(async move { watch_box(me, mb).await }));
        }
    }

    fn mailbox(&self, mb: &BoxId) -> Option<Mailbox> {
        let pbx = self.pbx.upgrade()?;
        super::of(&pbx).mailbox(&mb.to_string())
    }

    async fn session(&self, mb: &BoxId) -> Result<ImapSession, ImapError> {
        let m = self
            .mailbox(mb)
            .ok_or_else(|| ImapError::Login(mb.to_string(), "no such mailbox".into()))?;
        let (user, pass) = imap::account(&m);
        let r = imap::login(&self.cfg, &user, &pass).await;
        self.health(&r);
        r
    }

    /// One warning when the server stops answering, one notice when it is back.
    fn health<T>(&self, r: &Result<T, ImapError>) {
        let Some(pbx) = self.pbx.upgrade() else {
            return;
        };
        match r {
            Ok(_) => {
                if self.down.swap(false, Ordering::SeqCst) {
                    pbx.notice(&format!(
                        "app_voicemail.c: IMAP server {} answers again",
                        self.cfg.server
                    ));
                }
            }
            Err(ImapError::Login(..)) => {}
            Err(e) => {
                if !self.down.swap(true, Ordering::SeqCst) {
                    pbx.warning(&format!(
                        "app_voicemail.c: IMAP server {} not reachable ({e}); new messages stay in the local spool until it is back",
                        self.cfg.server
                    ));
                }
            }
        }
    }

    fn ops<'a>(&self, s: &'a mut ImapSession) -> Ops<'a> {
        Ops {
            s,
            limit: self.cfg.read_timeout,
            write: self.cfg.write_timeout,
            close: self.cfg.close_timeout,
        }
    }

    /// The IMAP mailbox and search of an Asterisk folder. Only Asterisk's own mails are
    /// messages (as app_voicemail: `X-Asterisk-VM-Extension` is the mailbox, or its
    /// `imapvmshareid`, and `X-Asterisk-VM-Context` its context), so the owner's other mail
    /// in the same folder is left alone; greeting mails are no messages. A mailbox's own
    /// `imapfolder` overrides `[general]`'s.
    fn place(&self, mb: &BoxId, f: Folder) -> (String, String) {
        let m = self.mailbox(mb);
        let inbox = m
            .as_ref()
            .and_then(|m| m.option("imapfolder"))
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| self.cfg.folder.clone());
        let (mailbox, flags) = match f {
            Folder::Inbox => (inbox, "UNSEEN UNDELETED UNFLAGGED"),
            Folder::Urgent => (inbox, "UNSEEN UNDELETED FLAGGED"),
            Folder::Old => (inbox, "SEEN UNDELETED"),
            other => (self.cfg.mailbox_of(other.name()), "UNDELETED"),
        };
        let ext = share_id(m.as_ref(), mb);
        let mut query = format!(
            "{flags} HEADER X-Asterisk-VM-Extension \"{}\" HEADER X-Asterisk-VM-Context \"{}\"",
            quote(&ext),
            quote(&mb.context)
        );
        if self.cfg.greetings {
            query.push_str(&format!(" NOT HEADER {GREETING_HEADER} \"\""));
        }
        (mailbox, query)
    }

    /// The UIDs of a folder's messages, in order (the folder selected).
    async fn list(&self, ops: &mut Ops<'_>, mb: &BoxId, f: Folder) -> Result<Vec<u32>, ImapError> {
        let (mailbox, query) = self.place(mb, f);
        ops.select(&mailbox).await?;
        ops.search(&query).await
    }

    /// The UID of message `n`, the folder selected.
    async fn uid_of(
        &self,
        ops: &mut Ops<'_>,
        mb: &BoxId,
        f: Folder,
        n: u32,
    ) -> Result<u32, StoreError> {
        let uids = self.list(ops, mb, f).await?;
        uids.get(n as usize)
            .copied()
            .ok_or_else(|| StoreError::NoMessage(f.name().to_string(), n))
    }

    /// A session for `mb`'s account, as a store error.
    async fn open(&self, mb: &BoxId) -> Result<ImapSession, StoreError> {
        Ok(self.session(mb).await?)
    }

    /// How many messages `folder` holds, or [`StoreError::Full`] (logged out) when it has
    /// `maxmsg`.
    async fn room(
        &self,
        ops: &mut Ops<'_>,
        mb: &BoxId,
        folder: Folder,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        let have = self.list(ops, mb, folder).await?.len() as u32;
        if have >= maxmsg.max(1) {
            ops.logout().await;
            return Err(StoreError::Full(mb.clone()));
        }
        Ok(have)
    }

    /// The whole mail of message `n`.
    async fn raw(&self, mb: &BoxId, f: Folder, n: u32) -> Result<(u32, Vec<u8>), StoreError> {
        let mut s = self.open(mb).await?;
        let mut ops = self.ops(&mut s);
        let uid = self.uid_of(&mut ops, mb, f, n).await?;
        let body = ops.fetch(uid).await.map_err(StoreError::from);
        ops.logout().await;
        Ok((uid, body?))
    }

    /// The mail for a recording, in Asterisk's format.
    fn render(
        &self,
        mb: &Mailbox,
        folder: Folder,
        msgnum: u32,
        recording: &Path,
        info: &MessageInfo,
    ) -> Result<Vec<u8>, String> {
        let pbx = self.pbx.upgrade().ok_or("the PBX is gone")?;
        let cfg = super::of(&pbx).config();
        let (user, _) = imap::account(mb);
        let host = crate::cli::server::hostname();
        let mut m = mb.clone();
        if m.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            m.email = Some(if user.contains('@') {
                user
            } else {
                format!("{user}@{host}")
            });
        }
        // The recording always goes with the mail in IMAP storage.
        m.options.push(("attach".into(), "yes".into()));
        let msg = super::email::NewMessage {
            mailbox: &m,
            folder,
            msgnum,
            info,
            audio: recording,
        };
        let data = super::email::render::render_email(&pbx, &cfg, &msg, chrono::Utc::now(), &host)?
            .map(|r| r.data)
            .ok_or_else(|| "no mail rendered".to_string())?;
        // `imapvmshareid`: the mail is marked with the shared id (templates still say the
        // mailbox number).
        let share = share_id(Some(mb), &BoxId::new(&mb.mailbox, &mb.context));
        if share == mb.mailbox {
            return Ok(data);
        }
        let text = String::from_utf8_lossy(&data).replacen(
            &format!("X-Asterisk-VM-Extension: {}\r\n", mb.mailbox),
            &format!("X-Asterisk-VM-Extension: {share}\r\n"),
            1,
        );
        Ok(text.into_bytes())
    }

    /// Append `recording` to the server; the number it got.
    async fn append(
        &self,
        mb: &BoxId,
        folder: Folder,
        recording: &Path,
        info: &MessageInfo,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        let m = self.mailbox(mb).ok_or_else(|| {
            StoreError::Io(io::Error::other(format!(
                "no mailbox {mb} in voicemail.conf"
            )))
        })?;
        let mut s = self.open(mb).await?;
        let mut ops = self.ops(&mut s);
        let have = self.room(&mut ops, mb, folder, maxmsg).await?;
        let mail = self
            .render(&m, folder, have, recording, info)
            .map_err(|e| StoreError::Io(io::Error::other(e)))?;
        let (mailbox, _) = self.place(mb, folder);
        let flags = match folder {
            Folder::Old => Some("(\\Seen)"),
            Folder::Urgent => Some("(\\Flagged)"),
            _ => None,
        };
        let r = ops.append(&mailbox, flags, &mail).await;
        ops.logout().await;
        r?;
        self.counts.lock().insert((mb.clone(), folder), have + 1);
        Ok(have)
    }

    /// Append the messages that waited in the local spool while the server was down.
    /// Returns how many reached the server.
    pub async fn flush_pending(&self, boxes: &[BoxId]) -> usize {
        let mut sent = 0;
        for mb in boxes {
            for folder in [Folder::Inbox, Folder::Urgent] {
                while self.local.count(mb, folder).await.unwrap_or(0) > 0 {
                    let Ok(info) = self.local.info(mb, folder, 0).await else {
                        break;
                    };
                    let Ok(audio) = self.local.audio(mb, folder, 0).await else {
                        break;
                    };
                    let wav = PathBuf::from(format!("{}.wav", audio.display()));
                    match self.append(mb, folder, &wav, &info, u32::MAX).await {
                        Ok(_) => {
                            let _ = self.local.remove(mb, folder, 0).await;
                            sent += 1;
                        }
                        Err(_) => return sent,
                    }
                }
            }
        }
        sent
    }
}

impl Drop for ImapStore {
    fn drop(&mut self) {
        for t in self.watchers.lock().drain(..) {
            t.abort();
        }
    }
}

/// How long one IDLE lasts before it is renewed (RFC 2177: under 29 minutes).
const IDLE_RENEW: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// IDLE on `mb`'s new-message folder; on any news, recount and publish the lamp.
async fn watch_box(store: Weak<ImapStore>, mb: BoxId) {
    let mut wait = std::time::Duration::from_secs(5);
    loop {
        let Some(s) = store.upgrade() else {
            return;
        };
        let session = s.session(&mb).await;
        let (folder, limit, pbx) = (s.cfg.folder.clone(), s.cfg.read_timeout, s.pbx.clone());
        drop(s);
        if let Ok(mut session) = session {
            let idle_ok = tokio::time::timeout(limit, session.capabilities())
                .await
                .ok()
                .and_then(Result::ok)
                .is_some_and(|c| c.has_str("IDLE"));
            if idle_ok
                && tokio::time::timeout(limit, session.select(&folder))
                    .await
                    .is_ok()
            {
                wait = std::time::Duration::from_secs(5);
                // One IDLE round after another until the connection fails.
                loop {
                    let mut idle = session.idle();
                    if tokio::time::timeout(limit, idle.init()).await.is_err() {
                        break;
                    }
                    let (fut, _stop) = idle.wait_with_timeout(IDLE_RENEW);
                    let news = matches!(
                        fut.await,
                        Ok(async_imap::extensions::idle::IdleResponse::NewData(_))
                    );
                    match tokio::time::timeout(limit, idle.done()).await {
                        Ok(Ok(s)) => session = s,
                        _ => break,
                    }
                    if news {
                        let Some(pbx) = pbx.upgrade() else {
                            return;
                        };
                        super::of(&pbx).changed(&mb).await;
                    }
                }
            } else {
                // No IDLE here: the poller does the work; look again much later.
                wait = std::time::Duration::from_secs(30 * 60);
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(30 * 60));
    }
}

/// The extension Asterisk's mails of `mb` carry: its `imapvmshareid`, else its number.
fn share_id(m: Option<&Mailbox>, mb: &BoxId) -> String {
    m.and_then(|m| m.option("imapvmshareid"))
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| mb.mailbox.clone())
}

/// `mail` with its `X-Asterisk-VM-Extension` and `X-Asterisk-VM-Context` headers set to
/// another mailbox (in the header section only).
pub fn readdress(mail: &[u8], ext: &str, context: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(mail);
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => text.split_at(i),
        None => (&text[..], ""),
    };
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("x-asterisk-vm-extension:") {
                format!("X-Asterisk-VM-Extension: {ext}")
            } else if lower.starts_with("x-asterisk-vm-context:") {
                format!("X-Asterisk-VM-Context: {context}")
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}{body}", head.join("\r\n")).into_bytes()
}

/// The search for `mb`'s greeting mail `g`.
fn greeting_query(mb: &BoxId, g: Greeting) -> String {
    format!(
        "UNDELETED HEADER {GREETING_HEADER} \"{}\" HEADER X-Asterisk-VM-Extension \"{}\" HEADER X-Asterisk-VM-Context \"{}\"",
        g.file(),
        quote(&mb.mailbox),
        quote(&mb.context)
    )
}

/// A value inside an IMAP quoted string.
fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The header that marks a greeting mail (`imapgreetings`), its value the greeting's name
/// (`unavail`, `busy`, `greet`, `temp`); the attachment is `<name>.wav`, as Asterisk finds
/// greetings by their attachment's name.
pub const GREETING_HEADER: &str = "X-Asterisk-VM-Greeting";

/// A greeting as a mail: `wav` attached as `<name>.wav`.
pub fn greeting_mail(mb: &BoxId, name: &str, wav: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(wav);
    let mut body = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 1024);
    for chunk in b64.as_bytes().chunks(76) {
        body.push_str(&String::from_utf8_lossy(chunk));
        body.push_str("\r\n");
    }
    format!(
        "From: Asterisk PBX <asterisk@localhost>\r\nSubject: Voicemail greeting '{name}' of {mb}\r\n\
         {GREETING_HEADER}: {name}\r\nX-Asterisk-VM-Context: {ctx}\r\nX-Asterisk-VM-Extension: {ext}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"----greeting\"\r\n\r\n\
         ------greeting\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         The '{name}' greeting of voicemail box {mb}.\r\n\
         ------greeting\r\nContent-Type: audio/x-wav; name=\"{name}.wav\"\r\n\
         Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}.wav\"\r\n\r\n\
         {body}------greeting--\r\n",
        ctx = mb.context,
        ext = mb.mailbox,
    )
    .into_bytes()
}

/// The `X-Asterisk-VM-*` headers of a mail, as message metadata.
pub fn info_of(mail: &[u8]) -> MessageInfo {
    let Some(m) = mail_parser::MessageParser::default().parse(mail) else {
        return MessageInfo::default();
    };
    let h = |name: &str| -> String {
        m.header_raw(name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let num = h("X-Asterisk-CallerID");
    let name = h("X-Asterisk-CallerIDName");
    MessageInfo {
        origmailbox: h("X-Asterisk-VM-Extension"),
        context: h("X-Asterisk-VM-Context"),
        callerchan: h("X-Asterisk-VM-Caller-channel"),
        callerid: match (name.is_empty(), num.is_empty()) {
            (false, false) => format!("\"{name}\" <{num}>"),
            (true, false) => format!("<{num}>"),
            (false, true) => name,
            (true, true) => "Unknown".into(),
        },
        priority: h("X-Asterisk-VM-Priority").parse().unwrap_or(1),
        origtime: h("X-Asterisk-VM-Orig-time").parse().unwrap_or(0),
        category: h("X-Asterisk-VM-Category"),
        msg_id: h("X-Asterisk-VM-Message-ID"),
        flag: h("X-Asterisk-VM-Flag"),
        duration: h("X-Asterisk-VM-Duration").parse().unwrap_or(0),
        ..Default::default()
    }
}

/// The first audio attachment of a mail.
pub fn audio_of(mail: &[u8]) -> Option<Vec<u8>> {
    let m = mail_parser::MessageParser::default().parse(mail)?;
    let found = m
        .attachments()
        .find(|a| {
            a.attachment_name()
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".wav"))
                || a.content_type().is_some_and(|c| c.c_type == "audio")
        })
        .map(|a| a.contents().to_vec());
    found
}

#[async_trait]
impl MessageStore for ImapStore {
    fn kind(&self) -> &'static str {
        "imap"
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    async fn ensure(&self, mb: &BoxId) -> io::Result<()> {
        self.local.ensure(mb).await
    }

    async fn count(&self, mb: &BoxId, folder: Folder) -> io::Result<u32> {
        let waiting = match folder {
            Folder::Inbox | Folder::Urgent => self.local.count(mb, folder).await.unwrap_or(0),
            _ => 0,
        };
        let remote = async {
            let mut s = self.session(mb).await?;
            let mut ops = self.ops(&mut s);
            let r = self
                .list(&mut ops, mb, folder)
                .await
                .map(|v| v.len() as u32);
            ops.logout().await;
            r
        }
        .await;
        match remote {
            Ok(n) => {
                self.counts.lock().insert((mb.clone(), folder), n);
                Ok(n + waiting)
            }
            // The server is away: the last count (and what waits locally).
            Err(_) => Ok(self.last_count(mb, folder) + waiting),
        }
    }

    async fn counts(&self, mb: &BoxId, folders: &[Folder]) -> Vec<u32> {
        let remote = async {
            let mut s = self.session(mb).await?;
            let mut ops = self.ops(&mut s);
            let mut v = Vec::with_capacity(folders.len());
            for f in folders {
                match self.list(&mut ops, mb, *f).await {
                    Ok(l) => v.push(l.len() as u32),
                    Err(e) => {
                        ops.logout().await;
                        return Err(e);
                    }
                }
            }
            ops.logout().await;
            Ok::<_, ImapError>(v)
        }
        .await;
        let mut out = Vec::with_capacity(folders.len());
        for (i, f) in folders.iter().enumerate() {
            let waiting = match f {
                Folder::Inbox | Folder::Urgent => self.local.count(mb, *f).await.unwrap_or(0),
                _ => 0,
            };
            match &remote {
                Ok(v) => {
                    self.counts.lock().insert((mb.clone(), *f), v[i]);
                    out.push(v[i] + waiting);
                }
                // The server is away: the last counts (and what waits locally).
                Err(_) => out.push(self.last_count(mb, *f) + waiting),
            }
        }
        out
    }

    fn count_now(&self, mb: &BoxId, folder: Folder) -> io::Result<u32> {
        let remote = self.last_count(mb, folder);
        let waiting = match folder {
            Folder::Inbox | Folder::Urgent => self.local.count_now(mb, folder).unwrap_or(0),
            _ => 0,
        };
        Ok(remote + waiting)
    }

    async fn info(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<MessageInfo, StoreError> {
        let (_, mail) = self.raw(mb, folder, n).await?;
        let mut info = info_of(&mail);
        if info.origmailbox.is_empty() {
            info.origmailbox = mb.mailbox.clone();
        }
        Ok(info)
    }

    async fn audio(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<PathBuf, StoreError> {
        let (uid, mail) = self.raw(mb, folder, n).await?;
        let wav = audio_of(&mail)
            .ok_or_else(|| StoreError::NoMessage(format!("{} (no audio)", folder.name()), n))?;
        let dir = self.local.mailbox_dir(mb).join("imapcache");
        let base = dir.join(format!("{}-{uid}", folder.name()));
        let file = PathBuf::from(format!("{}.wav", base.display()));
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&file, wav)
        })
        .await
        .map_err(|e| StoreError::Io(io::Error::other(e)))??;
        Ok(base)
    }

    fn scratch_dir(&self, mb: &BoxId) -> PathBuf {
        self.local.scratch_dir(mb)
    }

    async fn deliver(
        &self,
        mb: &BoxId,
        folder: Folder,
        recording: &Path,
        info: &MessageInfo,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        match self.append(mb, folder, recording, info, maxmsg).await {
            Ok(n) => {
                let (wav, txt) = (recording.to_path_buf(), recording.with_extension("txt"));
                let _ = tokio::task::spawn_blocking(move || {
                    let _ = std::fs::remove_file(wav);
                    let _ = std::fs::remove_file(txt);
                })
                .await;
                Ok(n)
            }
            Err(StoreError::Full(b)) => Err(StoreError::Full(b)),
            // Not reachable: keep it locally; the poller appends it later.
            Err(_) => {
                self.local
                    .deliver(mb, folder, recording, info, maxmsg)
                    .await
            }
        }
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
        let (_, mail) = self.raw(mb, from, n).await?;
        // The copy belongs to the target mailbox (as app_voicemail re-addresses a forward).
        let target = self.mailbox(to);
        let mail = readdress(&mail, &share_id(target.as_ref(), to), &to.context);
        let mut s = self.open(to).await?;
        let mut ops = self.ops(&mut s);
        let have = self.room(&mut ops, to, to_folder, maxmsg).await?;
        let (mailbox, _) = self.place(to, to_folder);
        let flags = (to_folder == Folder::Old).then_some("(\\Seen)");
        let r = ops.append(&mailbox, flags, &mail).await;
        ops.logout().await;
        r?;
        Ok(have)
    }

    async fn move_to(
        &self,
        mb: &BoxId,
        from: Folder,
        n: u32,
        to: Folder,
        maxmsg: u32,
    ) -> Result<u32, StoreError> {
        let mut s = self.open(mb).await?;
        let mut ops = self.ops(&mut s);
        let uid = self.uid_of(&mut ops, mb, from, n).await?;
        let (from_box, _) = self.place(mb, from);
        let (to_box, _) = self.place(mb, to);
        if from_box == to_box {
            // INBOX, Urgent and Old are flags of one IMAP folder.
            let change = match to {
                Folder::Old => "+FLAGS (\\Seen)",
                Folder::Urgent => "+FLAGS (\\Flagged)",
                _ => "-FLAGS (\\Seen \\Flagged)",
            };
            ops.store(uid, change).await?;
            if to == Folder::Old {
                let _ = ops.store(uid, "-FLAGS (\\Flagged)").await;
            }
        } else {
            self.room(&mut ops, mb, to, maxmsg).await?;
            ops.select(&from_box).await?;
            ops.copy(uid, &to_box).await?;
            ops.store(uid, "+FLAGS (\\Deleted)").await?;
            if self.cfg.expunge {
                ops.expunge().await?;
            }
        }
        let new = self.list(&mut ops, mb, to).await?.len() as u32;
        ops.logout().await;
        Ok(new.saturating_sub(1))
    }

    async fn remove(&self, mb: &BoxId, folder: Folder, n: u32) -> Result<(), StoreError> {
        self.remove_many(mb, folder, &[n]).await
    }

    async fn remove_many(&self, mb: &BoxId, folder: Folder, ns: &[u32]) -> Result<(), StoreError> {
        let mut s = self.open(mb).await?;
        let mut ops = self.ops(&mut s);
        let uids = self.list(&mut ops, mb, folder).await?;
        for n in ns {
            if let Some(uid) = uids.get(*n as usize) {
                ops.store(*uid, "+FLAGS (\\Deleted)").await?;
            }
        }
        if self.cfg.expunge {
            ops.expunge().await?;
        }
        ops.logout().await;
        Ok(())
    }

    fn greeting(&self, mb: &BoxId, which: Greeting) -> PathBuf {
        self.local.greeting(mb, which)
    }

    async fn sync_greetings(&self, mb: &BoxId) {
        if !self.cfg.greetings {
            return;
        }
        let Ok(mut s) = self.session(mb).await else {
            return; // the server away: the local copies are what there is
        };
        let mut ops = self.ops(&mut s);
        if ops.select(&self.cfg.greeting_folder).await.is_err() {
            ops.logout().await;
            return;
        }
        for g in [
            Greeting::Unavail,
            Greeting::Busy,
            Greeting::Name,
            Greeting::Temp,
        ] {
            let q = greeting_query(mb, g);
            let Ok(uids) = ops.search(&q).await else {
                continue;
            };
            let file = PathBuf::from(format!("{}.wav", self.local.greeting(mb, g).display()));
            let wav = match uids.last() {
                Some(uid) => match ops.fetch(*uid).await.ok().and_then(|m| audio_of(&m)) {
                    Some(w) => Some(w),
                    None => continue,
                },
                None => None,
            };
            let _ = tokio::task::spawn_blocking(move || match wav {
                Some(w) => {
                    if let Some(d) = file.parent() {
                        let _ = std::fs::create_dir_all(d);
                    }
                    let _ = std::fs::write(&file, w);
                }
                // Not on the server (erased by another node or a mail client).
                None => {
                    let _ = std::fs::remove_file(&file);
                }
            })
            .await;
        }
        ops.logout().await;
    }

    async fn greeting_changed(&self, mb: &BoxId, which: Greeting) {
        if !self.cfg.greetings {
            return;
        }
        let file = PathBuf::from(format!("{}.wav", self.local.greeting(mb, which).display()));
        let wav = tokio::task::spawn_blocking(move || std::fs::read(file).ok())
            .await
            .ok()
            .flatten();
        let Ok(mut s) = self.session(mb).await else {
            if let Some(pbx) = self.pbx.upgrade() {
                pbx.warning(&format!(
                    "app_voicemail.c: the '{}' greeting of {mb} could not be stored on {}",
                    which.file(),
                    self.cfg.server
                ));
            }
            return;
        };
        let mut ops = self.ops(&mut s);
        let folder = self.cfg.greeting_folder.clone();
        if ops.select(&folder).await.is_ok() {
            let q = greeting_query(mb, which);
            for uid in ops.search(&q).await.unwrap_or_default() {
                let _ = ops.store(uid, "+FLAGS (\\Deleted)").await;
            }
            let _ = ops.expunge().await;
        }
        if let Some(w) = wav {
            let mail = greeting_mail(mb, which.file(), &w);
            if let Err(e) = ops.append(&folder, Some("(\\Seen)"), &mail).await {
                if let Some(pbx) = self.pbx.upgrade() {
                    pbx.warning(&format!("app_voicemail.c: greeting of {mb}: {e}"));
                }
            }
        }
        ops.logout().await;
    }

    fn mailbox_dir(&self, mb: &BoxId) -> PathBuf {
        self.local.mailbox_dir(mb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(opts: &str) -> Mailbox {
        let (c, _) = super::super::config::parse_voicemail_str(&format!(
            "[default]\n1001 => 1234,A,,,{opts}\n"
        ))
        .expect("parses");
        c.mailbox("1001@default").expect("1001").clone()
    }

    #[test]
    fn shared_ids_and_quoting() {
        let id = BoxId::new("1001", "default");
        assert_eq!(share_id(Some(&mailbox("attach=yes")), &id), "1001");
        assert_eq!(share_id(Some(&mailbox("imapvmshareid=6000")), &id), "6000");
        assert_eq!(share_id(None, &id), "1001");
        assert_eq!(quote("a\"b\\c"), "a\\\"b\\\\c");
        let q = greeting_query(&id, Greeting::Busy);
        assert!(q.contains("X-Asterisk-VM-Greeting \"busy\""), "{q}");
        assert!(q.contains("X-Asterisk-VM-Extension \"1001\""), "{q}");
    }

    #[test]
    fn a_copy_is_readdressed() {
        let m = b"Subject: x\r\nX-Asterisk-VM-Extension: 1001\r\nX-Asterisk-VM-Context: default\r\n\r\nX-Asterisk-VM-Extension: 1001 in the body\r\n";
        let out = String::from_utf8(readdress(m, "1002", "sales")).unwrap();
        assert!(
            out.contains(
                "\r\nX-Asterisk-VM-Extension: 1002\r\nX-Asterisk-VM-Context: sales\r\n\r\n"
            ),
            "{out}"
        );
        assert!(
            out.ends_with("X-Asterisk-VM-Extension: 1001 in the body\r\n"),
            "{out}"
        );
    }

    #[test]
    fn mails_give_back_their_metadata_and_audio() {
        let wav = crate::media::wav::wav_bytes(&[1, 2, 3, 4]);
        let mail = greeting_mail(&BoxId::new("1001", "default"), "busy", &wav);
        assert_eq!(audio_of(&mail).as_deref(), Some(&wav[..]));
        let info = info_of(
            b"X-Asterisk-VM-Extension: 1001\r\nX-Asterisk-VM-Context: default\r\n\
              X-Asterisk-CallerID: 2000\r\nX-Asterisk-CallerIDName: Bob\r\n\
              X-Asterisk-VM-Duration: 7\r\nX-Asterisk-VM-Orig-time: 1700000000\r\n\r\nhi\r\n",
        );
        assert_eq!(info.callerid, "\"Bob\" <2000>");
        assert_eq!((info.duration, info.origtime), (7, 1_700_000_000));
        assert_eq!(info.context, "default");
    }
}
