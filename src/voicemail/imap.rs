//! IMAP for voicemail storage (Asterisk's `app_voicemail_imap`): the `[general]` options of
//! voicemail.conf and the client operations the IMAP message store is built on. This is the
//! first step of issue 13: the connection (plain, STARTTLS, implicit TLS, with or without
//! certificate checks), login, and the mailbox operations, each with a time limit. The
//! store behind `MessageStore` comes next.
//!
//! | Option | Meaning (default) |
//! |---|---|
//! | `imapserver`, `imapport` | the server (port 143, or 993 with `ssl`) |
//! | `imapflags` | `/`-separated: `ssl` (TLS from the first byte), `tls` (STARTTLS required), `notls` (plain), `novalidate-cert` (accept any certificate). Default: STARTTLS when offered. |
//! | `imapfolder` | where new messages go (`INBOX`) |
//! | `imapparentfolder` | the parent of the other folders (none) |
//! | `opentimeout`, `readtimeout`, `writetimeout`, `closetimeout` | seconds (60 each): connecting and the greeting, each command, APPEND, LOGOUT |
//! | `expungeonhangup` | expunge deleted messages when the caller leaves (yes) |
//! | `imapgreetings`, `greetingfolder` | keep greetings as mails in this folder (no, INBOX) |
//! | `authuser`, `authpassword` | one login for every mailbox: SASL PLAIN as `authuser`, acting as the mailbox's `imapuser` (Dovecot master users, Cyrus admins) |
//! Per mailbox: `imapuser`, `imappassword`.

use super::config::{Mailbox, VmGeneral};
use async_imap::Session;
use futures_util::TryStreamExt;
use std::time::Duration;
use tokio::net::TcpStream;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text (`notls`).
    Plain,
    /// STARTTLS, required (`tls`).
    StartTls,
    /// STARTTLS when the server offers it, else plain (no flag).
    StartTlsIfOffered,
    /// TLS from the first byte (`ssl`).
    Implicit,
}

/// The IMAP options of voicemail.conf's `[general]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    pub server: String,
    pub port: u16,
    pub security: Security,
    pub validate_cert: bool,
    pub folder: String,
    pub parent_folder: String,
    pub open_timeout: Duration,
    pub read_timeout: Duration,
    /// `writetimeout`: the limit of commands that send a message (APPEND).
    pub write_timeout: Duration,
    /// `closetimeout`: the limit of LOGOUT.
    pub close_timeout: Duration,
    /// `expungeonhangup` (yes): deleted messages are expunged when the caller leaves
    /// VoiceMailMain; with `no` they stay, flagged `\Deleted`, for the mail client.
    pub expunge: bool,
    /// `imapgreetings` (no): greetings are kept as mails in `greetingfolder` (INBOX).
    pub greetings: bool,
    pub greeting_folder: String,
    /// `authuser`/`authpassword`: one login for every mailbox (SASL PLAIN acting as the
    /// mailbox's `imapuser`, as a Dovecot master user); `None`: each mailbox's own login.
    pub auth: Option<(String, String)>,
}

impl ImapConfig {
    /// The IMAP settings, or `None` when `imapserver` is not set (file storage).
    pub fn from_general(g: &VmGeneral) -> Option<ImapConfig> {
        let server = g.other("imapserver")?.trim().to_string();
        if server.is_empty() {
            return None;
        }
        let flags: Vec<String> = g
            .other("imapflags")
            .unwrap_or("")
            .split('/')
            .map(|f| f.trim().to_ascii_lowercase())
            .filter(|f| !f.is_empty())
            .collect();
        let has = |f: &str| flags.iter().any(|x| x == f);
        let security = if has("ssl") {
            Security::Implicit
        } else if has("notls") {
            Security::Plain
        } else if has("tls") {
            Security::StartTls
        } else {
            Security::StartTlsIfOffered
        };
        let secs = |k: &str, d: u64| {
            Duration::from_secs(
                g.other(k)
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .filter(|s| *s > 0)
                    .unwrap_or(d),
            )
        };
        Some(ImapConfig {
            port: g
                .other("imapport")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(if security == Security::Implicit {
                    993
                } else {
                    143
                }),
            server,
            security,
            validate_cert: !has("novalidate-cert"),
            folder: g
                .other("imapfolder")
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .unwrap_or("INBOX")
                .to_string(),
            parent_folder: g.other("imapparentfolder").unwrap_or("").trim().to_string(),
            open_timeout: secs("opentimeout", 60),
            read_timeout: secs("readtimeout", 60),
            write_timeout: secs("writetimeout", 60),
            close_timeout: secs("closetimeout", 60),
            expunge: g
                .other("expungeonhangup")
                .is_none_or(super::config::is_true),
            greetings: g.other("imapgreetings").is_some_and(super::config::is_true),
            greeting_folder: g
                .other("greetingfolder")
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .unwrap_or("INBOX")
                .to_string(),
            auth: g
                .other("authuser")
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| {
                    (
                        u.to_string(),
                        g.other("authpassword").unwrap_or("").trim().to_string(),
                    )
                }),
        })
    }

    /// The IMAP mailbox of an Asterisk folder (`Work` under `imapparentfolder`; INBOX is
    /// `imapfolder`).
    pub fn mailbox_of(&self, folder: &str) -> String {
        if folder.eq_ignore_ascii_case("INBOX") {
            self.folder.clone()
        } else if self.parent_folder.is_empty() {
            folder.to_string()
        } else {
            format!("{}/{folder}", self.parent_folder)
        }
    }
}

/// A mailbox's login: `imapuser`/`imappassword` (the mailbox number and its PIN when not
/// set).
pub fn account(mb: &Mailbox) -> (String, String) {
    let user = mb
        .option("imapuser")
        .map(str::to_string)
        .unwrap_or_else(|| mb.mailbox.clone());
    let pass = mb
        .option("imappassword")
        .map(str::to_string)
        .unwrap_or_else(|| mb.password.clone());
    (user, pass)
}

/// Why an IMAP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
    #[error("login as {0} refused: {1}")]
    Login(String, String),
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("IMAP {0} failed: {1}")]
    Command(&'static str, String),
}

pub use crate::net::tls::Conn;

/// A logged-in IMAP session.
pub type ImapSession = Session<Conn>;

async fn tls(cfg: &ImapConfig, tcp: TcpStream) -> Result<Conn, ImapError> {
    crate::net::tls::connect(&cfg.server, tcp, cfg.validate_cert)
        .await
        .map_err(|e| ImapError::Tls(cfg.server.clone(), e))
}

async fn timed<T, E: std::fmt::Display>(
    limit: Duration,
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ImapError::Command(what, e.to_string())),
        Err(_) => Err(ImapError::Timeout(what)),
    }
}

/// Connect, secure as configured, and log in as `user`.
pub async fn login(cfg: &ImapConfig, user: &str, pass: &str) -> Result<ImapSession, ImapError> {
    let addr = format!("{}:{}", cfg.server, cfg.port);
    let tcp = match tokio::time::timeout(cfg.open_timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return Err(ImapError::Connect(addr, e.to_string())),
        Err(_) => return Err(ImapError::Timeout("connect")),
    };
    let conn = if cfg.security == Security::Implicit {
        tls(cfg, tcp).await?
    } else {
        Conn::Plain(tcp)
    };
    let mut client = async_imap::Client::new(conn);
    timed(cfg.open_timeout, "greeting", client.read_response()).await?;
    let client = match cfg.security {
        Security::StartTls | Security::StartTlsIfOffered => {
            let caps = timed(
                cfg.read_timeout,
                "CAPABILITY",
                client.run_command_and_check_ok("CAPABILITY", None),
            )
            .await;
            // async-imap does not hand the capabilities of an unauthenticated client back:
            // try STARTTLS and see.
            let _ = caps;
            let started = timed(
                cfg.read_timeout,
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await;
            match started {
                Ok(()) => {
                    let Conn::Plain(tcp) = client.into_inner() else {
                        unreachable!("STARTTLS runs on a plain connection");
                    };
                    // No second greeting after STARTTLS.
                    async_imap::Client::new(tls(cfg, tcp).await?)
                }
                Err(e) if cfg.security == Security::StartTls => return Err(e),
                Err(_) => client,
            }
        }
        _ => client,
    };
    let r = match &cfg.auth {
        Some((admin, admin_pass)) => {
            let plain = PlainAs {
                authzid: user.to_string(),
                authcid: admin.clone(),
                pass: admin_pass.clone(),
            };
            tokio::time::timeout(cfg.read_timeout, client.authenticate("PLAIN", plain)).await
        }
        None => tokio::time::timeout(cfg.read_timeout, client.login(user, pass)).await,
    };
    match r {
        Ok(Ok(s)) => Ok(s),
        Ok(Err((e, _))) => Err(ImapError::Login(user.to_string(), e.to_string())),
        Err(_) => Err(ImapError::Timeout("LOGIN")),
    }
}

/// SASL PLAIN (RFC 4616) with an authorization identity: log in as `authcid`, act as
/// `authzid`.
struct PlainAs {
    authzid: String,
    authcid: String,
    pass: String,
}

impl async_imap::Authenticator for PlainAs {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        format!("{}\0{}\0{}", self.authzid, self.authcid, self.pass).into_bytes()
    }
}

/// The operations the message store needs, each with a time limit: `limit` for commands,
/// `write` for APPEND, `close` for LOGOUT.
pub struct Ops<'a> {
    pub s: &'a mut ImapSession,
    pub limit: Duration,
    pub write: Duration,
    pub close: Duration,
}

impl Ops<'_> {
    /// `CREATE mailbox` (a folder the store needs; an error when it exists is ignored by
    /// the callers, which retry their command once).
    async fn create(&mut self, mailbox: &str) -> Result<(), ImapError> {
        timed(self.limit, "CREATE", self.s.create(mailbox)).await
    }

    async fn try_select(&mut self, mailbox: &str) -> Result<u32, ImapError> {
        Ok(timed(self.limit, "SELECT", self.s.select(mailbox))
            .await?
            .exists)
    }

    /// Select `mailbox`, creating it when missing; its message count.
    pub async fn select(&mut self, mailbox: &str) -> Result<u32, ImapError> {
        if let Ok(n) = self.try_select(mailbox).await {
            return Ok(n);
        }
        self.create(mailbox).await?;
        self.try_select(mailbox).await
    }

    async fn try_append(
        &mut self,
        mailbox: &str,
        flags: Option<&str>,
        message: &[u8],
    ) -> Result<(), ImapError> {
        let f = self.s.append(mailbox, flags, None, message);
        timed(self.write, "APPEND", f).await
    }

    /// `APPEND` a whole message with these flags (`(\Seen \Flagged)`); the folder is
    /// created when missing.
    pub async fn append(
        &mut self,
        mailbox: &str,
        flags: Option<&str>,
        message: &[u8],
    ) -> Result<(), ImapError> {
        if self.try_append(mailbox, flags, message).await.is_ok() {
            return Ok(());
        }
        self.create(mailbox).await?;
        self.try_append(mailbox, flags, message).await
    }

    /// UIDs matching `query` in the selected mailbox, ascending.
    pub async fn search(&mut self, query: &str) -> Result<Vec<u32>, ImapError> {
        let mut v: Vec<u32> = timed(self.limit, "UID SEARCH", self.s.uid_search(query))
            .await?
            .into_iter()
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    /// The whole message `uid` (`BODY.PEEK[]`: reading does not set `\Seen`).
    pub async fn fetch(&mut self, uid: u32) -> Result<Vec<u8>, ImapError> {
        let limit = self.limit;
        let s = &mut *self.s;
        let fut = async move {
            let stream = s.uid_fetch(uid.to_string(), "BODY.PEEK[]").await?;
            let fetched: Vec<_> = stream.try_collect().await?;
            Ok::<_, async_imap::error::Error>(
                fetched
                    .iter()
                    .find_map(|f| f.body().map(<[u8]>::to_vec))
                    .unwrap_or_default(),
            )
        };
        timed(limit, "UID FETCH", fut).await
    }

    /// `UID STORE uid +FLAGS (…)` / `-FLAGS (…)`.
    pub async fn store(&mut self, uid: u32, change: &str) -> Result<(), ImapError> {
        let limit = self.limit;
        let s = &mut *self.s;
        let change = change.to_string();
        let fut = async move {
            let stream = s.uid_store(uid.to_string(), change).await?;
            let _: Vec<_> = stream.try_collect().await?;
            Ok::<_, async_imap::error::Error>(())
        };
        timed(limit, "UID STORE", fut).await
    }

    async fn try_copy(&mut self, uid: u32, mailbox: &str) -> Result<(), ImapError> {
        let f = self.s.uid_copy(uid.to_string(), mailbox);
        timed(self.limit, "UID COPY", f).await
    }

    /// Copy `uid` to `mailbox` (created when missing).
    pub async fn copy(&mut self, uid: u32, mailbox: &str) -> Result<(), ImapError> {
        if self.try_copy(uid, mailbox).await.is_ok() {
            return Ok(());
        }
        self.create(mailbox).await?;
        self.try_copy(uid, mailbox).await
    }

    /// Remove the messages marked `\Deleted` from the selected mailbox.
    pub async fn expunge(&mut self) -> Result<(), ImapError> {
        let limit = self.limit;
        let s = &mut *self.s;
        let fut = async move {
            let stream = s.expunge().await?;
            let _: Vec<_> = stream.try_collect().await?;
            Ok::<_, async_imap::error::Error>(())
        };
        timed(limit, "EXPUNGE", fut).await
    }

    pub async fn logout(&mut self) {
        let _ = tokio::time::timeout(self.close, self.s.logout()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(text: &str) -> VmGeneral {
        super::super::config::parse_voicemail_str(&format!("[general]\n{text}"))
            .expect("parses")
            .0
            .general
    }

    #[test]
    fn imap_options() {
        assert_eq!(ImapConfig::from_general(&general("format=wav\n")), None);
        let c = ImapConfig::from_general(&general(
            "imapserver=mail.example.com\nimapflags=ssl/novalidate-cert\nimapparentfolder=Voicemail\n",
        ))
        .expect("imap");
        assert_eq!(c.port, 993);
        assert_eq!(c.security, Security::Implicit);
        assert!(!c.validate_cert);
        assert_eq!(c.mailbox_of("INBOX"), "INBOX");
        assert_eq!(c.mailbox_of("Work"), "Voicemail/Work");
        let c = ImapConfig::from_general(&general(
            "imapserver=127.0.0.1\nimapport=10143\nimapflags=notls\nimapfolder=Voicemail\nreadtimeout=5\n",
        ))
        .expect("imap");
        assert_eq!((c.port, c.security), (10143, Security::Plain));
        assert_eq!(c.mailbox_of("INBOX"), "Voicemail");
        assert_eq!(c.read_timeout, Duration::from_secs(5));
        assert_eq!(c.write_timeout, Duration::from_secs(60));
        assert!(c.expunge);
        let c =
            ImapConfig::from_general(&general("imapserver=h\nexpungeonhangup=no\n")).expect("imap");
        assert!(!c.expunge);
        let c = ImapConfig::from_general(&general("imapserver=h\nimapflags=tls\n")).expect("imap");
        assert_eq!((c.port, c.security), (143, Security::StartTls));
    }
}
