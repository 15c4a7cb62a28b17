//! Rendering of the notification mails for a new message, as app_voicemail writes them:
//! the full email (templated subject and body, `X-Asterisk-VM-*` headers, the audio
//! attached when `attach=yes`) and the short pager mail.
//!
//! Templates are substituted through ferrisk's own `${...}` engine on a throwaway channel
//! carrying the `VM_*` variables (Asterisk uses a dummy channel the same way), so dialplan
//! functions work inside them. Nothing here does I/O except reading the audio file.

use super::NewMessage;
use crate::pbx::channel::{Channel, NullTech};
use crate::pbx::Pbx;
use crate::voicemail::config::{is_true, unescape_template, Mailbox, VoicemailConfig};
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, Local, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox as MailAddr, MultiPart, SinglePart};
use lettre::{Address, Message};
use std::fmt::Write as _;
use std::sync::Arc;

/// app_voicemail's default `emaildateformat` and `pagerdateformat`.
pub const DEFAULT_DATE_FORMAT: &str = "%A, %B %d, %Y at %r";
/// The display name used when `fromstring` / `pagerfromstring` is not set.
pub const DEFAULT_FROM_NAME: &str = "Asterisk PBX";
/// The `Date:` header's format.
const RFC2822_FORMAT: &str = "%a, %d %b %Y %H:%M:%S %z";

/// Which notification a mail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Pager,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Pager => "pager",
        }
    }
}

/// A complete mail ready for the queue.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub kind: Kind,
    /// Envelope sender (`serveremail`, with the host name appended when it has no `@`).
    pub from: String,
    /// Envelope recipient.
    pub to: String,
    /// The RFC 5322 message.
    pub data: Vec<u8>,
}

/// The values the templates see (`VM_*`), computed once per message.
#[derive(Debug, Clone)]
pub struct TemplateVars {
    pub vars: Vec<(&'static str, String)>,
}

impl TemplateVars {
    pub fn get(&self, name: &str) -> &str {
        self.vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// `m:ss`, as `VM_DUR`.
pub fn format_duration(secs: u32) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// strftime-style formatting that never panics: an invalid format falls back to the default.
pub fn strftime(t: &DateTime<FixedOffset>, fmt: &str) -> String {
    let items: Vec<Item<'_>> = StrftimeItems::new(fmt).collect();
    let items = if items.iter().any(|i| matches!(i, Item::Error)) {
        StrftimeItems::new(DEFAULT_DATE_FORMAT).collect()
    } else {
        items
    };
    let mut s = String::new();
    if write!(s, "{}", t.format_with_items(items.iter())).is_err() {
        s.clear();
    }
    s
}

/// `now` in the mailbox's zone: its `tz` option names a `[zonemessages]` entry; without one
/// (or with an unknown zone) the system's local time, as Asterisk does.
pub fn mailbox_time(
    cfg: &VoicemailConfig,
    mb: &Mailbox,
    now: DateTime<Utc>,
) -> DateTime<FixedOffset> {
    let zone = cfg
        .opt(mb, "tz")
        .and_then(|name| cfg.zones.iter().find(|z| z.name.eq_ignore_ascii_case(name)))
        .and_then(|z| z.timezone.parse::<chrono_tz::Tz>().ok());
    match zone {
        Some(tz) => now.with_timezone(&tz).fixed_offset(),
        None => now.with_timezone(&Local).fixed_offset(),
    }
}

/// The envelope/From address: `serveremail` (per mailbox, else `[general]`, else
/// `asterisk`), with `@host` appended when it has no `@`.
pub fn server_email(cfg: &VoicemailConfig, mb: &Mailbox, host: &str) -> String {
    let src = mb
        .option("serveremail")
        .or(cfg.general.serveremail.as_deref())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("asterisk")
        .trim();
    if src.contains('@') {
        src.to_string()
    } else {
        format!("{src}@{host}")
    }
}

/// The `VM_*` variables of app_voicemail's `prep_email_sub_vars`.
pub fn template_vars(msg: &NewMessage<'_>, date: &str) -> TemplateVars {
    let mb = msg.mailbox;
    let (name, num) = msg.info.caller_name_number();
    let unknown = "an unknown caller";
    let callerid = match (&name, &num) {
        (Some(n), Some(u)) => format!("\"{n}\" <{u}>"),
        (Some(n), None) => n.clone(),
        (None, Some(u)) => u.clone(),
        (None, None) => unknown.to_string(),
    };
    let category = if msg.info.category.is_empty() {
        "no category".to_string()
    } else {
        msg.info.category.clone()
    };
    let audio = msg.audio.with_extension("");
    TemplateVars {
        vars: vec![
            ("VM_NAME", mb.fullname.clone()),
            ("VM_DUR", format_duration(msg.info.duration)),
            ("VM_MSGNUM", (msg.msgnum + 1).to_string()),
            ("VM_MAILBOX", mb.mailbox.clone()),
            ("VM_CALLERID", callerid),
            ("VM_CIDNAME", name.unwrap_or_else(|| unknown.to_string())),
            ("VM_CIDNUM", num.unwrap_or_else(|| unknown.to_string())),
            ("VM_DATE", date.to_string()),
            ("VM_CATEGORY", category),
            ("VM_MESSAGEFILE", audio.display().to_string()),
            ("VM_FLAG", msg.info.flag.clone()),
            ("VM_CONTEXT", mb.context.clone()),
        ],
    }
}

/// Substitute `template` on a throwaway channel holding `vars`.
pub fn substitute(pbx: &Arc<Pbx>, vars: &TemplateVars, template: &str) -> String {
    substitute_with(
        pbx,
        vars.vars.iter().map(|(k, v)| (*k, v.as_str())),
        template,
    )
}

/// Substitute `template` on a throwaway channel holding the variables `vars` (the mail
/// templates of app_voicemail and app_minivm).
pub fn substitute_with<'a>(
    pbx: &Arc<Pbx>,
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    template: &str,
) -> String {
    if !template.contains('$') {
        return template.to_string();
    }
    let mut chan = Channel::new(
        pbx,
        format!("Substitution/voicemail-{}", pbx.next_uniqueid()),
        Arc::new(NullTech),
    );
    // Not a call: keep it out of `core show channels` and out of the CDRs.
    pbx.channels.remove(chan.name());
    chan.cdr.disabled = true;
    for (k, v) in vars {
        chan.vars.set(k, v.to_string());
    }
    crate::pbx::exec::substitute(&mut chan, template)
}

/// A per-mailbox template option (unescaped like `[general]`'s), else the general one.
fn template(mb: &Mailbox, name: &str, general: Option<&str>) -> Option<String> {
    mb.option(name)
        .map(unescape_template)
        .or_else(|| general.map(str::to_string))
        .filter(|s| !s.is_empty())
}

fn parse_addr(what: &str, a: &str) -> Result<Address, String> {
    a.trim()
        .parse::<Address>()
        .map_err(|e| format!("{what} address '{a}' is not valid: {e}"))
}

fn header(name: &str, value: impl Into<String>) -> Result<HeaderValue, String> {
    let n =
        HeaderName::new_from_ascii(name.to_string()).map_err(|e| format!("header {name}: {e}"))?;
    Ok(HeaderValue::new(n, value.into()))
}

/// What the mail and the pager notification share: the time in the mailbox's zone, the
/// formatted date, the template variables, and the addresses.
struct Prepared {
    t: DateTime<FixedOffset>,
    date: String,
    vars: TemplateVars,
    who: String,
    from_addr: Address,
    to_addr: Address,
    from_name: String,
}

#[allow(clippy::too_many_arguments)]
fn prepare(
    pbx: &Arc<Pbx>,
    cfg: &VoicemailConfig,
    msg: &NewMessage<'_>,
    now: DateTime<Utc>,
    host: &str,
    what: &str,
    to: &str,
    datefmt: Option<&str>,
    fromstring: Option<&str>,
) -> Result<Prepared, String> {
    let mb = msg.mailbox;
    let t = mailbox_time(cfg, mb, now);
    let date = strftime(&t, datefmt.unwrap_or(DEFAULT_DATE_FORMAT));
    let vars = template_vars(msg, &date);
    let who = server_email(cfg, mb, host);
    let from_addr = parse_addr("serveremail", &who)?;
    let to_addr = parse_addr(&format!("mailbox {}@{} {what}", mb.mailbox, mb.context), to)?;
    let from_name = match fromstring.filter(|s| !s.is_empty()) {
        Some(f) => substitute(pbx, &vars, f),
        None => DEFAULT_FROM_NAME.to_string(),
    };
    Ok(Prepared {
        t,
        date,
        vars,
        who,
        from_addr,
        to_addr,
        from_name,
    })
}

/// The mail to the mailbox's `email` address (`None` when it has none).
pub fn render_email(
    pbx: &Arc<Pbx>,
    cfg: &VoicemailConfig,
    msg: &NewMessage<'_>,
    now: DateTime<Utc>,
    host: &str,
) -> Result<Option<Rendered>, String> {
    let mb = msg.mailbox;
    let Some(email) = mb.email.as_deref().filter(|e| !e.trim().is_empty()) else {
        return Ok(None);
    };
    let g = &cfg.general;
    let datefmt = mb
        .option("emaildateformat")
        .or(g.emaildateformat.as_deref());
    let Prepared {
        t,
        date,
        vars,
        who,
        from_addr,
        to_addr,
        from_name,
    } = prepare(
        pbx,
        cfg,
        msg,
        now,
        host,
        "email",
        email,
        datefmt,
        g.fromstring.as_deref(),
    )?;
    let flag = msg.info.flag.as_str();
    let subject = match template(mb, "emailsubject", g.emailsubject.as_deref()) {
        Some(s) => substitute(pbx, &vars, &s),
        None => {
            let prefix = if g.other("pbxskip").is_some_and(is_true) {
                ""
            } else {
                "[PBX]: "
            };
            let kind = if flag.is_empty() {
                String::new()
            } else {
                format!("{flag} ")
            };
            format!(
                "{prefix}New {kind}message {} in mailbox {}",
                msg.msgnum + 1,
                mb.mailbox
            )
        }
    };
    let body = match template(mb, "emailbody", g.emailbody.as_deref()) {
        Some(b) => substitute(pbx, &vars, &b),
        None => default_email_body(&vars),
    };

    let (cidname, cidnum) = msg.info.caller_name_number();
    let info = msg.info;
    let message_id = format!(
        "<Asterisk-{}-{}-{}-{}@{}>",
        msg.msgnum + 1,
        rand::random::<u32>(),
        mb.mailbox,
        std::process::id(),
        host
    );
    let mut b = Message::builder()
        .from(MailAddr::new(Some(from_name), from_addr))
        .to(MailAddr::new(
            (!mb.fullname.is_empty()).then(|| mb.fullname.clone()),
            to_addr,
        ))
        .subject(subject)
        .message_id(Some(message_id));
    let server_name = g.fromstring.clone().unwrap_or_default();
    let vm_headers: Vec<(&str, String)> = vec![
        ("X-Asterisk-VM-Message-Num", (msg.msgnum + 1).to_string()),
        ("X-Asterisk-VM-Server-Name", server_name),
        ("X-Asterisk-VM-Context", mb.context.clone()),
        ("X-Asterisk-VM-Extension", mb.mailbox.clone()),
        ("X-Asterisk-VM-Flag", info.flag.clone()),
        ("X-Asterisk-VM-Priority", info.priority.to_string()),
        ("X-Asterisk-VM-Caller-channel", info.callerchan.clone()),
        (
            "X-Asterisk-VM-Caller-ID-Num",
            cidnum.clone().unwrap_or_default(),
        ),
        (
            "X-Asterisk-VM-Caller-ID-Name",
            cidname.clone().unwrap_or_default(),
        ),
        ("X-Asterisk-VM-Duration", info.duration.to_string()),
        ("X-Asterisk-VM-Category", info.category.clone()),
        ("X-Asterisk-VM-Message-Type", "Message".to_string()),
        ("X-Asterisk-VM-Orig-date", date.clone()),
        (
            "X-Asterisk-VM-Orig-time",
            if info.origtime > 0 {
                info.origtime
            } else {
                now.timestamp()
            }
            .to_string(),
        ),
        ("X-Asterisk-VM-Message-ID", info.msg_id.clone()),
    ];
    for (n, v) in vm_headers {
        b = b.raw_header(header(n, v)?);
    }
    if let Some(n) = cidnum.filter(|s| !s.is_empty()) {
        b = b.raw_header(header("X-Asterisk-CallerID", n)?);
    }
    if let Some(n) = cidname.filter(|s| !s.is_empty()) {
        b = b.raw_header(header("X-Asterisk-CallerIDName", n)?);
    }

    let text = text_part(body);
    let mut message = if cfg.attach(mb) {
        match attachment(msg) {
            Ok(part) => b.multipart(MultiPart::mixed().singlepart(text).singlepart(part)),
            Err(e) => {
                pbx.warning(&format!(
                    "app_voicemail.c: cannot attach {} to the mail for {}@{}: {e}",
                    msg.audio.display(),
                    mb.mailbox,
                    mb.context
                ));
                b.singlepart(text)
            }
        }
    } else {
        b.singlepart(text)
    }
    .map_err(|e| {
        format!(
            "cannot build the mail for {}@{}: {e}",
            mb.mailbox, mb.context
        )
    })?;
    set_date(&mut message, &t)?;
    Ok(Some(Rendered {
        kind: Kind::Email,
        from: who,
        to: email.trim().to_string(),
        data: message.formatted(),
    }))
}

/// The text part, 8bit as app_voicemail sends it (readable and searchable in the mailbox);
/// quoted-printable only when a line is too long for 8bit (998 bytes) or holds a NUL.
fn text_part(body: String) -> SinglePart {
    text_part_typed(body, ContentType::TEXT_PLAIN)
}

/// [`text_part`] with its own content type (a `charset`).
pub fn text_part_typed(body: String, ctype: ContentType) -> SinglePart {
    let crlf = body
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n");
    if crlf.contains('\0') || crlf.split("\r\n").any(|l| l.len() > 998) {
        return SinglePart::plain(body);
    }
    SinglePart::builder()
        .header(ctype)
        .body(Body::dangerous_pre_encoded(
            crlf.into_bytes(),
            ContentTransferEncoding::EightBit,
        ))
}

/// `Date:` in the mailbox's (or account's) zone (lettre's own is always UTC).
pub fn set_date(m: &mut Message, t: &DateTime<FixedOffset>) -> Result<(), String> {
    m.headers_mut().remove_raw("Date");
    m.headers_mut()
        .insert_raw(header("Date", strftime(t, RFC2822_FORMAT))?);
    Ok(())
}

/// The message audio as an attachment: `msg0000.wav`, `audio/x-wav`, base64.
fn attachment(msg: &NewMessage<'_>) -> Result<SinglePart, String> {
    let bytes = std::fs::read(msg.audio).map_err(|e| e.to_string())?;
    let ext = msg
        .audio
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("wav");
    // app_voicemail mails `wav49` as `WAV`; only Ogg gets an `application/` type.
    let ctype = if ext.eq_ignore_ascii_case("ogg") {
        "application/ogg".to_string()
    } else {
        format!("audio/x-{ext}")
    };
    let ct = ContentType::parse(&ctype).map_err(|e| format!("content type {ctype}: {e}"))?;
    Ok(Attachment::new(format!("msg{:04}.{ext}", msg.msgnum)).body(bytes, ct))
}

/// app_voicemail's standard body when `emailbody` is not set.
fn default_email_body(v: &TemplateVars) -> String {
    let from = {
        let n = v.get("VM_CIDNAME");
        let u = v.get("VM_CIDNUM");
        if n != "an unknown caller" {
            n
        } else {
            u
        }
    };
    format!(
        "Dear {}:\n\n\tJust wanted to let you know you were just left a {} long message (number {})\nin mailbox {} from {}, on {} so you might\nwant to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n\n",
        v.get("VM_NAME"),
        v.get("VM_DUR"),
        v.get("VM_MSGNUM"),
        v.get("VM_MAILBOX"),
        from,
        v.get("VM_DATE"),
    )
}

/// The short mail to the mailbox's `pager` address (`None` when it has none).
pub fn render_pager(
    pbx: &Arc<Pbx>,
    cfg: &VoicemailConfig,
    msg: &NewMessage<'_>,
    now: DateTime<Utc>,
    host: &str,
) -> Result<Option<Rendered>, String> {
    let mb = msg.mailbox;
    let Some(pager) = mb.pager.as_deref().filter(|e| !e.trim().is_empty()) else {
        return Ok(None);
    };
    let g = &cfg.general;
    let Prepared {
        t,
        date,
        vars,
        who,
        from_addr,
        to_addr,
        from_name,
    } = prepare(
        pbx,
        cfg,
        msg,
        now,
        host,
        "pager",
        pager,
        cfg.opt(mb, "pagerdateformat"),
        g.other("pagerfromstring"),
    )?;
    let flag = msg.info.flag.as_str();
    let subject = match template(mb, "pagersubject", g.other("pagersubject")) {
        Some(s) => substitute(pbx, &vars, &s),
        None if flag.is_empty() => "New VM".to_string(),
        None => format!("New {flag} VM"),
    };
    let body = match template(mb, "pagerbody", g.other("pagerbody")) {
        Some(b) => substitute(pbx, &vars, &b),
        None => {
            let (name, num) = msg.info.caller_name_number();
            let from = name.or(num).unwrap_or_else(|| "unknown".to_string());
            format!(
                "New {} long {} msg in box {}\nfrom {}, on {}\n",
                vars.get("VM_DUR"),
                flag,
                mb.mailbox,
                from,
                date
            )
        }
    };
    let mut message = Message::builder()
        .from(MailAddr::new(Some(from_name), from_addr))
        .to(MailAddr::new(None, to_addr))
        .subject(subject)
        .singlepart(text_part(body))
        .map_err(|e| {
            format!(
                "cannot build the pager mail for {}@{}: {e}",
                mb.mailbox, mb.context
            )
        })?;
    set_date(&mut message, &t)?;
    Ok(Some(Rendered {
        kind: Kind::Pager,
        from: who,
        to: pager.trim().to_string(),
        data: message.formatted(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voicemail::metadata::MessageInfo;
    use crate::voicemail::store::Folder;
    use base64::Engine as _;
    use chrono::TimeZone;
    use std::path::Path;

    fn conf(text: &str) -> VoicemailConfig {
        crate::voicemail::config::parse_voicemail_str(text)
            .expect("parses")
            .0
    }

    fn info(callerid: &str) -> MessageInfo {
        MessageInfo {
            origmailbox: "100".into(),
            context: "from-sip".into(),
            exten: "100".into(),
            priority: 2,
            callerchan: "SIP/1001-00000001".into(),
            callerid: callerid.into(),
            origtime: 1_705_320_000,
            msg_id: "1705320000-00000001".into(),
            duration: 75,
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 15, 12, 0, 0)
            .single()
            .expect("date")
    }

    /// A tiny 8 kHz WAV with recognisable samples.
    fn wav(dir: &Path) -> std::path::PathBuf {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&44u32.to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&[
            16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0,
        ]);
        b.extend_from_slice(b"data");
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&[1, 0, 255, 127, 0, 128, 7, 7]);
        let p = dir.join("msg0000.wav");
        std::fs::write(&p, &b).expect("write wav");
        p
    }

    fn render(cfg: &VoicemailConfig, spec: &str, callerid: &str, audio: &Path) -> String {
        let pbx = crate::modules::test_pbx();
        let mb = cfg.mailbox(spec).expect("mailbox");
        let info = info(callerid);
        let msg = NewMessage {
            mailbox: mb,
            folder: Folder::Inbox,
            msgnum: 0,
            info: &info,
            audio,
        };
        let r = render_email(&pbx, cfg, &msg, now(), "pbx.example.com")
            .expect("renders")
            .expect("has email");
        assert_eq!(r.to, mb.email.clone().expect("email"));
        String::from_utf8(r.data).expect("utf-8 mail")
    }

    /// The decoded body of the part whose headers contain `marker`.
    fn part_body(mail: &str, marker: &str) -> Option<Vec<u8>> {
        let at = mail.find(marker)?;
        let rest = &mail[at..];
        let start = rest.find("\r\n\r\n")? + 4;
        let end = rest[start..].find("\r\n--")? + start;
        let b64: String = rest[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD.decode(b64).ok()
    }

    const BASE: &str = "[general]\nserveremail=vm\n[zonemessages]\ncentral=America/Chicago|'vm-received' Q 'digits/at' IMp\n[default]\n100 => 1234,Leif Madsen,leif@example.com,page@example.com,tz=central\n101 => 1234,Jörg Ünger,jorg@example.com,,attach=no\n";

    #[test]
    fn default_mail_headers_body_and_attachment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let audio = wav(dir.path());
        let cfg = conf(BASE);
        let m = render(&cfg, "100", "\"Alice\" <1001>", &audio);
        assert!(
            m.contains("From: \"Asterisk PBX\" <vm@pbx.example.com>\r\n"),
            "{m}"
        );
        assert!(
            m.contains("To: Leif Madsen <leif@example.com>\r\n")
                || m.contains("To: \"Leif Madsen\" <leif@example.com>\r\n"),
            "{m}"
        );
        assert!(
            m.contains("Subject: [PBX]: New message 1 in mailbox 100\r\n"),
            "{m}"
        );
        assert!(
            m.contains("Date: Mon, 15 Jan 2024 06:00:00 -0600\r\n"),
            "tz=central: {m}"
        );
        assert!(m.contains("MIME-Version: 1.0\r\n"), "{m}");
        assert!(m.contains("Message-ID: <Asterisk-1-"), "{m}");
        for h in [
            "X-Asterisk-VM-Message-Num: 1",
            "X-Asterisk-VM-Context: default",
            "X-Asterisk-VM-Extension: 100",
            "X-Asterisk-VM-Priority: 2",
            "X-Asterisk-VM-Caller-channel: SIP/1001-00000001",
            "X-Asterisk-VM-Caller-ID-Num: 1001",
            "X-Asterisk-VM-Caller-ID-Name: Alice",
            "X-Asterisk-VM-Duration: 75",
            "X-Asterisk-VM-Message-Type: Message",
            "X-Asterisk-VM-Orig-date: Monday, January 15, 2024 at 06:00:00 AM",
            "X-Asterisk-VM-Orig-time: 1705320000",
            "X-Asterisk-VM-Message-ID: 1705320000-00000001",
        ] {
            assert!(m.contains(&format!("{h}\r\n")), "{h} missing in {m}");
        }
        assert!(m.contains("Dear Leif Madsen:"), "{m}");
        assert!(m.contains("a 1:15 long message (number 1)"), "{m}");
        assert!(
            m.contains("in mailbox 100 from Alice, on Monday, January 15, 2024 at 06:00:00 AM"),
            "{m}"
        );
        assert!(m.contains("Content-Type: multipart/mixed"), "{m}");
        assert!(m.contains("Content-Type: audio/x-wav"), "{m}");
        assert!(m.contains("Content-Transfer-Encoding: base64"), "{m}");
        let body = part_body(&m, "filename=\"msg0000.wav\"").expect("attachment");
        assert_eq!(body, std::fs::read(&audio).expect("wav"));
    }

    #[test]
    fn attach_no_and_non_ascii_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let audio = wav(dir.path());
        let cfg = conf(BASE);
        let m = render(&cfg, "101", "", &audio);
        assert!(!m.contains("multipart"), "attach=no: {m}");
        assert!(!m.contains("msg0000.wav"), "{m}");
        assert!(m.contains("To: =?utf-8?"), "RFC 2047 encoded name: {m}");
        assert!(m.contains("from an unknown caller, on"), "{m}");
        assert!(!m.contains("X-Asterisk-CallerID:"), "{m}");
        // attach=no in [general], no per-mailbox override: still no attachment.
        let cfg = conf(&BASE.replace("[general]\n", "[general]\nattach=no\n"));
        assert!(!render(&cfg, "100", "", &audio).contains("multipart"));
        // attach=no in general, attach=yes on the mailbox: attached.
        let cfg = conf(
            &BASE
                .replace("[general]\n", "[general]\nattach=no\n")
                .replace("tz=central", "tz=central|attach=yes"),
        );
        assert!(render(&cfg, "100", "", &audio).contains("msg0000.wav"));
    }

    #[test]
    fn templates_pbxskip_and_fromstring() {
        let dir = tempfile::tempdir().expect("tempdir");
        let audio = wav(dir.path());
        let cfg = conf(&BASE.replace(
            "[general]\n",
            "[general]\npbxskip=yes\nfromstring=Voicemail ${VM_CONTEXT}\nemailsubject=[VM] ${VM_MSGNUM} from ${VM_CALLERID} (${LEN(${VM_MAILBOX})})\nemailbody=Hi ${VM_NAME},\\n\\t${VM_DUR} from ${VM_CIDNUM} <${VM_CIDNAME}> at ${VM_DATE} in ${VM_MESSAGEFILE} cat=${VM_CATEGORY}\nemaildateformat=%Y-%m-%d %H:%M\n",
        ));
        let m = render(&cfg, "100", "\"Bob\" <2002>", &audio);
        assert!(
            m.contains("From: \"Voicemail default\" <vm@pbx.example.com>"),
            "{m}"
        );
        assert!(
            m.contains("Subject: [VM] 1 from \"Bob\" <2002> (3)\r\n"),
            "{m}"
        );
        assert!(
            m.contains("Hi Leif Madsen,\r\n\t1:15 from 2002 <Bob> at 2024-01-15 06:00 in "),
            "{m}"
        );
        assert!(m.contains("/msg0000 cat=no category"), "{m}");
        let m = render(&cfg, "100", "", &audio);
        assert!(
            m.contains("Subject: [VM] 1 from an unknown caller (3)"),
            "{m}"
        );
        // pbxskip without a template.
        let cfg = conf(&BASE.replace("[general]\n", "[general]\npbxskip=yes\n"));
        let m = render(&cfg, "100", "", &audio);
        assert!(
            m.contains("Subject: New message 1 in mailbox 100\r\n"),
            "{m}"
        );
    }

    #[test]
    fn pager_mail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let audio = wav(dir.path());
        let pbx = crate::modules::test_pbx();
        for (extra, subject, body) in [
            ("", "Subject: New VM\r\n", "New 1:15 long  msg in box 100\r\nfrom Carol, on Monday"),
            (
                "pagersubject=VM ${VM_MAILBOX}\npagerbody=${VM_DUR} ${VM_CIDNUM} ${VM_DATE}\npagerdateformat=%H:%M\npagerfromstring=PBX\n",
                "Subject: VM 100\r\n",
                "1:15 3003 06:00",
            ),
        ] {
            let cfg = conf(&BASE.replace("[general]\n", &format!("[general]\n{extra}")));
            let mb = cfg.mailbox("100").expect("100");
            let info = info("\"Carol\" <3003>");
            let msg = NewMessage { mailbox: mb, folder: Folder::Inbox, msgnum: 0, info: &info, audio: &audio };
            let r = render_pager(&pbx, &cfg, &msg, now(), "pbx.example.com")
                .expect("renders")
                .expect("pager set");
            assert_eq!(r.to, "page@example.com");
            let m = String::from_utf8(r.data).expect("utf-8");
            assert!(m.contains(subject), "{m}");
            assert!(m.contains(body), "{m}");
            assert!(!m.contains("multipart"), "{m}");
            assert!(m.contains("To: page@example.com\r\n"), "{m}");
        }
        let cfg = conf(BASE);
        let mb = cfg.mailbox("101").expect("101");
        let info = info("");
        let msg = NewMessage {
            mailbox: mb,
            folder: Folder::Inbox,
            msgnum: 0,
            info: &info,
            audio: &audio,
        };
        assert!(render_pager(&pbx, &cfg, &msg, now(), "h")
            .expect("ok")
            .is_none());
    }

    #[test]
    fn helpers() {
        assert_eq!(format_duration(0), "0:00");
        assert_eq!(format_duration(59), "0:59");
        assert_eq!(format_duration(61), "1:01");
        assert_eq!(format_duration(3600), "60:00");
        let cfg = conf(BASE);
        let mb = cfg.mailbox("100").expect("100");
        assert_eq!(server_email(&cfg, mb, "h.example"), "vm@h.example");
        let cfg2 = conf(&BASE.replace("serveremail=vm", "serveremail=pbx@example.org"));
        assert_eq!(
            server_email(&cfg2, cfg2.mailbox("100").expect("100"), "h"),
            "pbx@example.org"
        );
        let cfg3 = conf(&BASE.replace("serveremail=vm\n", ""));
        assert_eq!(
            server_email(&cfg3, cfg3.mailbox("100").expect("100"), "h"),
            "asterisk@h"
        );
        let t = now().fixed_offset();
        assert_eq!(strftime(&t, "%Y"), "2024");
        assert_eq!(
            strftime(&t, "%Q bad"),
            strftime(&t, DEFAULT_DATE_FORMAT),
            "no panic on bad formats"
        );
    }
}
