//! The notification mails of MinivmNotify, as app_minivm's `sendmail()` writes them: the
//! template's subject, body and sender (substituted with the `MVM_*` variables and the
//! account's `setvar`s), the date in the account's time zone, and the recording attached
//! when the template says `attachmedia=yes`.
//!
//! Rendering reuses app_voicemail's mail helpers (`voicemail::email::render`); delivery
//! its transport (`voicemail::email::transport`): SMTP when `[general]` sets `smtp_host`,
//! else `mailcmd` (default `/usr/sbin/sendmail -t`) with the message on its standard input.
//! [`render`] reads the recording: call it on the blocking pool.

use super::config::{Account, General, MinivmConfig, Template};
use crate::pbx::Pbx;
use crate::voicemail::email::queue::QueuedMail;
use crate::voicemail::email::render::{
    format_duration, set_date, strftime, substitute_with, text_part_typed,
};
use crate::voicemail::email::transport::{self, Route, SendError};
use chrono::{DateTime, FixedOffset, Local, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox as MailAddr, MultiPart};
use lettre::{Address, Message};
use std::sync::Arc;

/// Which notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Email,
    Page,
}

/// What the mail is about.
#[derive(Debug, Clone)]
pub struct Notice {
    pub account: Account,
    pub cidnum: Option<String>,
    pub cidname: Option<String>,
    /// The recording without extension (`MVM_FILENAME`).
    pub filename: String,
    /// Its format (`MVM_FORMAT`).
    pub format: String,
    /// Seconds (`MVM_DURATION`).
    pub duration: u32,
    /// `MVM_COUNTER`.
    pub counter: Option<String>,
}

/// `ast_callerid_merge(name, num, unknown)`.
fn merge_callerid(name: Option<&str>, num: Option<&str>, unknown: &str) -> String {
    match (name, num) {
        (Some(n), Some(u)) => format!("\"{n}\" <{u}>"),
        (Some(n), None) => n.to_string(),
        (None, Some(u)) => u.to_string(),
        (None, None) => unknown.to_string(),
    }
}

/// The template variables of app_minivm's `prep_email_sub_vars` (the account's `setvar`s
/// first), plus `MVM_MAILBOX` (the username), which minivm.conf.sample's templates use.
pub fn template_vars(n: &Notice, date: &str) -> Vec<(String, String)> {
    let a = &n.account;
    let name = n.cidname.as_deref().filter(|s| !s.is_empty());
    let num = n.cidnum.as_deref().filter(|s| !s.is_empty());
    let unknown = "an unknown caller";
    let mut v: Vec<(String, String)> = a.chanvars.clone();
    let mut add = |k: &str, val: String| v.push((k.to_string(), val));
    add("MVM_NAME", a.fullname.clone());
    add("MVM_DUR", format_duration(n.duration));
    add("MVM_DOMAIN", a.domain.clone());
    add("MVM_USERNAME", a.username.clone());
    add("MVM_MAILBOX", a.username.clone());
    add("MVM_CALLERID", merge_callerid(name, num, "Unknown Caller"));
    add("MVM_CIDNAME", name.unwrap_or(unknown).to_string());
    add("MVM_CIDNUM", num.unwrap_or(unknown).to_string());
    add("MVM_DATE", date.to_string());
    if let Some(c) = n.counter.as_deref().filter(|c| !c.is_empty()) {
        add("MVM_COUNTER", c.to_string());
    }
    v
}

/// `now` in the account's zone (`timezone=` naming a `[zonemessages]` entry), else local.
pub fn account_time(cfg: &MinivmConfig, a: &Account, now: DateTime<Utc>) -> DateTime<FixedOffset> {
    let tz = cfg
        .zone(&a.zonetag)
        .and_then(|z| z.timezone.parse::<chrono_tz::Tz>().ok());
    match tz {
        Some(tz) => now.with_timezone(&tz).fixed_offset(),
        None => now.with_timezone(&Local).fixed_offset(),
    }
}

/// The sender: the account's `serveremail`, else the template's `fromemail`, else
/// `[general]`'s `serveremail`, else `asterisk`; `@host` added when it has no `@`.
pub fn sender(g: &General, t: &Template, a: &Account, host: &str) -> String {
    let src = [a.serveremail.as_str(), t.serveremail.as_str()]
        .into_iter()
        .chain(g.serveremail.as_deref())
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("asterisk");
    if src.contains('@') {
        src.to_string()
    } else {
        format!("{src}@{host}")
    }
}

fn addr(what: &str, a: &str) -> Result<Address, String> {
    a.trim()
        .parse::<Address>()
        .map_err(|e| format!("{what} address '{a}' is not valid: {e}"))
}

/// The body when the template has none.
fn default_body(a: &Account, n: &Notice, dur: &str, date: &str) -> String {
    let from = n
        .cidname
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(n.cidnum.as_deref().filter(|s| !s.is_empty()))
        .unwrap_or("an unknown caller");
    format!(
        "Dear {}:\n\n\tJust wanted to let you know you were just left a {dur} long message \n\
         in mailbox {} from {from}, on {date} so you might\n\
         want to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n\n",
        a.fullname, a.username
    )
}

/// Render one mail of `kind` with template `t`. Reads the recording (blocking).
pub fn render(
    pbx: &Arc<Pbx>,
    cfg: &MinivmConfig,
    t: &Template,
    n: &Notice,
    kind: MsgType,
    now: DateTime<Utc>,
    host: &str,
) -> Result<QueuedMail, String> {
    let a = &n.account;
    let to = match kind {
        MsgType::Email => a.email_address(),
        MsgType::Page => a.pager.clone(),
    };
    if to.trim().is_empty() {
        return Err("No address to send message to.".into());
    }
    let format = if n.format == "wav49" {
        "WAV"
    } else {
        n.format.as_str()
    };
    let time = account_time(cfg, a, now);
    let date = strftime(&time, &t.dateformat);
    let dur = format_duration(n.duration);
    let vars = template_vars(n, &date);
    let sub = |s: &str| substitute_with(pbx, vars.iter().map(|(k, v)| (k.as_str(), v.as_str())), s);
    let who = sender(&cfg.general, t, a, host);
    let from_name = if t.fromaddress.is_empty() {
        "Asterisk PBX".to_string()
    } else {
        sub(&t.fromaddress)
    };
    let subject = if t.subject.is_empty() {
        format!("New message in mailbox {}@{}", a.username, a.domain)
    } else {
        sub(&t.subject)
    };
    let body = match t.body.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => format!("{}\n", sub(b)),
        None => default_body(a, n, &dur, &date),
    };
    let message_id = format!(
        "<Asterisk-{}-{}-{}-{}>",
        rand::random::<u32>(),
        a.username,
        std::process::id(),
        who
    );
    let b = Message::builder()
        .from(MailAddr::new(Some(from_name), addr("sender", &who)?))
        .to(MailAddr::new(
            (!a.fullname.is_empty()).then(|| a.fullname.clone()),
            addr(&format!("account {}@{}", a.username, a.domain), &to)?,
        ))
        .subject(subject)
        .message_id(Some(message_id));
    // The template's charset; UTF-8 when the text does not fit in ASCII (ferrisk's
    // strings are UTF-8).
    let charset = if body.is_ascii() && !t.charset.is_empty() {
        t.charset.as_str()
    } else {
        "UTF-8"
    };
    let ctype = ContentType::parse(&format!("text/plain; charset={charset}"))
        .unwrap_or(ContentType::TEXT_PLAIN);
    let mut parts = MultiPart::mixed().singlepart(text_part_typed(body, ctype));
    if t.attachment {
        let file = format!("{}.{format}", n.filename);
        match std::fs::read(&file) {
            Ok(bytes) => {
                let ctype = if format.eq_ignore_ascii_case("ogg") {
                    format!("application/{format}; name=\"voicemailmsg.{format}\"")
                } else {
                    format!("audio/x-{format}; name=\"voicemailmsg.{format}\"")
                };
                let ct =
                    ContentType::parse(&ctype).map_err(|e| format!("content type {ctype}: {e}"))?;
                let name = format!("voicemail{}.{format}", n.counter.as_deref().unwrap_or(""));
                parts = parts.singlepart(Attachment::new(name).body(bytes, ct));
            }
            Err(e) => pbx.warning(&format!(
                "app_minivm.c: cannot attach {file} to the mail for {}@{}: {e}",
                a.username, a.domain
            )),
        }
    }
    let mut message = b
        .multipart(parts)
        .map_err(|e| format!("cannot build the mail for {}@{}: {e}", a.username, a.domain))?;
    set_date(&mut message, &time)?;
    Ok(QueuedMail {
        kind: match kind {
            MsgType::Email => "email",
            MsgType::Page => "pager",
        }
        .into(),
        from: who,
        to: to.trim().to_string(),
        data: message.formatted(),
    })
}

/// Where mails go: SMTP with `smtp_host`, else `mailcmd`.
pub fn route(g: &General) -> Route {
    match g.smtp.host.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => Route::Smtp {
            host: h.to_string(),
            port: g.smtp.port.unwrap_or(25),
            tls: g.smtp.tls,
            user: g.smtp.user.clone(),
            password: g.smtp.password.clone(),
        },
        None => Route::Command(g.mailcmd.clone()),
    }
}

/// Render and deliver one mail; the error for the log.
pub async fn send(
    pbx: &Arc<Pbx>,
    cfg: &Arc<MinivmConfig>,
    t: &Template,
    n: &Notice,
    kind: MsgType,
) -> Result<(), String> {
    let host = crate::cli::server::hostname();
    let (p, c, tpl, notice) = (pbx.clone(), cfg.clone(), t.clone(), n.clone());
    let h = host.clone();
    let mail =
        crate::pbx::blocking::run(move || render(&p, &c, &tpl, &notice, kind, Utc::now(), &h))
            .await
            .ok_or_else(|| "mail rendering failed".to_string())??;
    let route = route(&cfg.general);
    match transport::send(&route, &mail, &host).await {
        Ok(()) => {
            pbx.verbose_line(
                3,
                &format!(
                    "Sent message to {} for {}@{} via {} (template {})",
                    mail.to,
                    n.account.username,
                    n.account.domain,
                    route.describe(),
                    t.name
                ),
            );
            Ok(())
        }
        Err(SendError::Temporary(e) | SendError::Permanent(e)) => Err(format!(
            "Could not send message to {} via {}: {e}",
            mail.to,
            route.describe()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(dir: &std::path::Path) -> Notice {
        let base = dir.join("abc123");
        std::fs::write(base.with_extension("wav"), b"RIFFdata").unwrap();
        Notice {
            account: Account {
                username: "anita".into(),
                domain: "example.com".into(),
                fullname: "Anita Borg".into(),
                chanvars: vec![("SERVICE".into(), "Voop".into())],
                ..Default::default()
            },
            cidnum: Some("1000".into()),
            cidname: None,
            filename: base.display().to_string(),
            format: "wav".into(),
            duration: 65,
            counter: Some("7".into()),
        }
    }

    #[test]
    fn template_mail_has_substitutions_and_attachment() {
        let pbx = crate::modules::test_pbx();
        let t = tempfile::tempdir().unwrap();
        let (cfg, _) = super::super::config::parse_str(
            "[general]\nserveremail=vm\n[template-t]\nsubject=VM ${MVM_COUNTER} for ${MVM_NAME} from ${MVM_CALLERID}\n\
             messagebody=Hi ${MVM_USERNAME}@${MVM_DOMAIN}, ${MVM_DUR} from ${MVM_CIDNUM} (${SERVICE})\\n\n\
             fromaddress=Voicemail ${MVM_DOMAIN}\n",
        )
        .unwrap();
        let n = notice(t.path());
        let tpl = cfg.template("t").unwrap();
        let m = render(&pbx, &cfg, tpl, &n, MsgType::Email, Utc::now(), "pbx.test").unwrap();
        assert_eq!(m.to, "anita@example.com");
        assert_eq!(m.from, "vm@pbx.test");
        let text = String::from_utf8_lossy(&m.data);
        assert!(
            text.contains("Subject: VM 7 for Anita Borg from 1000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Hi anita@example.com, 1:05 from 1000 (Voop)"),
            "{text}"
        );
        assert!(
            text.contains("From: \"Voicemail example.com\" <vm@pbx.test>"),
            "{text}"
        );
        assert!(text.contains("filename=\"voicemail7.wav\""), "{text}");
        assert!(text.contains("audio/x-wav"), "{text}");
        // The default pager template: no attachment, the default body.
        let mut n2 = n.clone();
        n2.account.pager = "555@pager.test".into();
        let p = cfg.template("pager-default").unwrap();
        let m = render(&pbx, &cfg, p, &n2, MsgType::Page, Utc::now(), "pbx.test").unwrap();
        let text = String::from_utf8_lossy(&m.data);
        assert_eq!(m.to, "555@pager.test");
        assert!(
            text.contains("Subject: New message in mailbox anita@example.com"),
            "{text}"
        );
        assert!(text.contains("Dear Anita Borg:"), "{text}");
        assert!(!text.contains("voicemail7.wav"), "{text}");
        assert!(render(&pbx, &cfg, p, &n, MsgType::Page, Utc::now(), "h").is_err());
    }

    #[test]
    fn sender_and_callerid() {
        let g = General::default();
        let t = Template::new("x");
        let mut a = Account::default();
        assert_eq!(sender(&g, &t, &a, "h"), "asterisk@h");
        a.serveremail = "me@x.org".into();
        assert_eq!(sender(&g, &t, &a, "h"), "me@x.org");
        assert_eq!(merge_callerid(Some("A"), Some("1"), "U"), "\"A\" <1>");
        assert_eq!(merge_callerid(None, None, "U"), "U");
    }
}
