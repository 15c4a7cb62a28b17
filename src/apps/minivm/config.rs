//! `minivm.conf`, as app_minivm reads it: `[general]`, `[zonemessages]`, message templates
//! (`[template-NAME]`), and every other section an account `[username@domain]` (with the
//! loader's `(!)` templates and inheritance). After the file, the built-in templates
//! `email-default` and `pager-default` are made from `[general]`'s `email*` / `pager*`
//! options, as Asterisk does.
//!
//! Pure: the loaded file goes in, the config (or every error, with file:line:column) comes
//! out. The one exception is `templatefile=`, read from disk: parse on the blocking pool.

use crate::config::{is_true, ConfigError, ConfigFile, Location, Section};
use crate::voicemail::config::{apply_smtp_option, SmtpSettings};
use std::path::{Path, PathBuf};

/// The config file.
pub const CONFIG_FILE: &str = "minivm.conf";
/// Asterisk's default `mailcmd`.
pub const SENDMAIL: &str = "/usr/sbin/sendmail -t";
/// The templates' default `dateformat`.
pub const DEFAULT_DATEFORMAT: &str = "%A, %B %d, %Y at %r";
/// The templates' default `charset`.
pub const DEFAULT_CHARSET: &str = "ISO-8859-1";
/// The templates' default subject.
pub const DEFAULT_SUBJECT: &str = "New message in mailbox ${MVM_USERNAME}@${MVM_DOMAIN}";

/// `[general]`.
#[derive(Debug, Clone, PartialEq)]
pub struct General {
    /// `format`: the one format messages are recorded in (`wav49` is kept as given).
    pub format: String,
    pub mailcmd: String,
    /// ferrisk's SMTP client (`smtp_host`, …), used instead of `mailcmd` when `smtp_host`
    /// is set.
    pub smtp: SmtpSettings,
    /// `maxsilence`, in milliseconds (the file gives seconds; 0: off).
    pub maxsilence_ms: u32,
    pub silencethreshold: u32,
    /// `maxmessage` seconds.
    pub maxmessage: u32,
    /// `minmessage` seconds.
    pub minmessage: u32,
    /// `maxgreet` seconds.
    pub maxgreet: u32,
    pub externnotify: String,
    /// `logfile`, absolute (a relative name is under the log directory).
    pub logfile: Option<PathBuf>,
    pub review: bool,
    pub operator: bool,
    /// `serveremail`: the sender when neither the account nor the template names one.
    pub serveremail: Option<String>,
    pub volgain: f64,
}

impl Default for General {
    fn default() -> Self {
        General {
            format: "wav".into(),
            mailcmd: SENDMAIL.into(),
            smtp: SmtpSettings::default(),
            maxsilence_ms: 0,
            silencethreshold: crate::apps::record::SILENCE_THRESHOLD,
            maxmessage: 2000,
            minmessage: 0,
            maxgreet: 2000,
            externnotify: String::new(),
            logfile: None,
            review: false,
            operator: false,
            serveremail: None,
            volgain: 0.0,
        }
    }
}

/// A message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub body: Option<String>,
    /// `fromaddress`: the sender's display name (substituted).
    pub fromaddress: String,
    /// `fromemail`: the sender's address.
    pub serveremail: String,
    pub subject: String,
    pub charset: String,
    pub locale: String,
    pub dateformat: String,
    /// `attachmedia`.
    pub attachment: bool,
}

impl Template {
    pub fn new(name: &str) -> Template {
        Template {
            name: name.to_string(),
            body: None,
            fromaddress: String::new(),
            serveremail: String::new(),
            subject: DEFAULT_SUBJECT.into(),
            charset: DEFAULT_CHARSET.into(),
            locale: String::new(),
            dateformat: DEFAULT_DATEFORMAT.into(),
            attachment: true,
        }
    }
}

/// A `[zonemessages]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub timezone: String,
    pub msg_format: String,
}

/// An account `[username@domain]`, or a temporary one made up for an address that has none.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Account {
    pub username: String,
    pub domain: String,
    pub pincode: String,
    pub fullname: String,
    pub email: String,
    pub pager: String,
    pub accountcode: String,
    pub serveremail: String,
    pub externnotify: String,
    pub language: String,
    /// `timezone`: a `[zonemessages]` name.
    pub zonetag: String,
    pub etemplate: String,
    pub ptemplate: String,
    /// The format messages for it are recorded and attached in.
    pub attachfmt: String,
    /// `setvar=NAME=value` lines, for the templates and MINIVMACCOUNT.
    pub chanvars: Vec<(String, String)>,
    pub volgain: f64,
    /// Not configured: made up for this call.
    pub temporary: bool,
}

impl Account {
    /// The address mail goes to: `email`, else `username@domain`.
    pub fn email_address(&self) -> String {
        if self.email.is_empty() {
            format!("{}@{}", self.username, self.domain)
        } else {
            self.email.clone()
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MinivmConfig {
    pub general: General,
    /// In file order, then `email-default` and `pager-default`.
    pub templates: Vec<Template>,
    pub zones: Vec<Zone>,
    pub accounts: Vec<Account>,
}

impl MinivmConfig {
    /// The built-in config without a file: default settings and templates.
    pub fn defaults() -> MinivmConfig {
        let mut c = MinivmConfig::default();
        c.templates.push(Template::new("email-default"));
        let mut p = Template::new("pager-default");
        p.attachment = false;
        c.templates.push(p);
        c
    }

    /// A template by name (case-insensitive).
    pub fn template(&self, name: &str) -> Option<&Template> {
        if name.is_empty() {
            return None;
        }
        self.templates
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// A configured account (case-insensitive).
    pub fn account(&self, username: &str, domain: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| {
            a.username.eq_ignore_ascii_case(username) && a.domain.eq_ignore_ascii_case(domain)
        })
    }

    /// The configured account, or (with `temp`) a temporary one with the defaults, as
    /// app_minivm's `find_account`. `None` when username or domain is empty.
    pub fn find_account(&self, username: &str, domain: &str, temp: bool) -> Option<Account> {
        if username.is_empty() || domain.is_empty() {
            return None;
        }
        if let Some(a) = self.account(username, domain) {
            return Some(a.clone());
        }
        temp.then(|| Account {
            username: username.to_string(),
            domain: domain.to_string(),
            attachfmt: self.general.format.clone(),
            volgain: self.general.volgain,
            temporary: true,
            ..Default::default()
        })
    }

    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }
}

/// Split `user@domain` (the domain may be empty).
pub fn split_address(s: &str) -> (&str, &str) {
    match s.split_once('@') {
        Some((u, d)) => (u.trim(), d.trim()),
        None => (s.trim(), ""),
    }
}

/// app_minivm's `message_template_parse_emailbody`: `\n` and `\t` become a newline and a
/// tab; other escapes stay as written.
pub fn unescape_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match (c, it.peek()) {
            ('\\', Some('n')) => {
                out.push('\n');
                it.next();
            }
            ('\\', Some('t')) => {
                out.push('\t');
                it.next();
            }
            _ => out.push(c),
        }
    }
    out
}

struct Parse<'a> {
    etc: &'a Path,
    logdir: &'a Path,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Parse<'_> {
    fn num(&mut self, loc: &Location, key: &str, v: &str) -> Option<u32> {
        match v.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.errors.push(ConfigError::at(
                    loc,
                    format!("{key}: '{v}' is not a whole number of seconds"),
                ));
                None
            }
        }
    }

    fn warn(&mut self, loc: &Location, msg: impl std::fmt::Display) {
        self.warnings.push(format!("{loc}: {msg}"));
    }
}

/// General options Asterisk's sample documents that only the default templates (read
/// below) or nothing in app_minivm use.
const TEMPLATE_OPTIONS: &[&str] = &[
    "emaildateformat",
    "emailfromstring",
    "emailaaddress",
    "emailaddress",
    "emailcharset",
    "emailsubject",
    "emailbody",
    "pagerfromstring",
    "pageraddress",
    "pagercharset",
    "pagersubject",
    "pagerbody",
    "fromstring",
    "charset",
    "pbxskip",
    "attach",
];

fn parse_general(sec: &Section, g: &mut General, p: &mut Parse<'_>) {
    for e in &sec.entries {
        let v = e.value.trim();
        let key = e.key.to_ascii_lowercase();
        match key.as_str() {
            "mailcmd" => g.mailcmd = v.to_string(),
            "maxgreet" => g.maxgreet = p.num(&e.loc, "maxgreet", v).unwrap_or(g.maxgreet),
            "maxsilence" => {
                g.maxsilence_ms = p.num(&e.loc, "maxsilence", v).unwrap_or(0) * 1000;
            }
            "logfile" if !v.is_empty() => {
                g.logfile = Some(if v.starts_with('/') {
                    PathBuf::from(v)
                } else {
                    p.logdir.join(v)
                })
            }
            "logfile" => {}
            "externnotify" => g.externnotify = v.to_string(),
            "silencethreshold" | "silencetreshold" => {
                g.silencethreshold = p
                    .num(&e.loc, "silencethreshold", v)
                    .unwrap_or(g.silencethreshold)
            }
            "maxmessage" => g.maxmessage = p.num(&e.loc, "maxmessage", v).unwrap_or(g.maxmessage),
            "minmessage" => g.minmessage = p.num(&e.loc, "minmessage", v).unwrap_or(g.minmessage),
            "format" => {
                // One format only: the first of a `wav|gsm` list.
                let f = v.split('|').next().unwrap_or("").trim();
                if f.is_empty() {
                    p.errors.push(ConfigError::at(
                        &e.loc,
                        "format: expected a file format (wav, gsm, …)",
                    ));
                } else {
                    g.format = f.to_string();
                }
            }
            "review" => g.review = is_true(v),
            "operator" => g.operator = is_true(v),
            "serveremail" => g.serveremail = (!v.is_empty()).then(|| v.to_string()),
            "volgain" => match v.parse::<f64>() {
                Ok(x) => g.volgain = x,
                Err(_) => p.errors.push(ConfigError::at(
                    &e.loc,
                    format!("volgain: '{v}' is not a number"),
                )),
            },
            k @ ("smtp_host" | "smtp_port" | "smtp_tls" | "smtp_user" | "smtp_password") => {
                if let Err(err) = apply_smtp_option(&mut g.smtp, k, v, &e.loc) {
                    p.errors.push(err);
                }
            }
            k if TEMPLATE_OPTIONS.contains(&k) => {}
            k => p.warn(
                &e.loc,
                format!("unknown option '{k}' in [general], ignored"),
            ),
        }
    }
    if g.minmessage > 0 && g.maxsilence_ms / 1000 <= g.minmessage && g.maxsilence_ms > 0 {
        p.warnings
            .push("maxsilence should be less than minmessage or you may get empty messages".into());
    }
}

fn read_template_file(p: &Parse<'_>, name: &str) -> Result<String, String> {
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        p.etc.join(name)
    };
    let text = std::fs::read(&path).map_err(|e| {
        format!(
            "Can't read message template from file: {} ({e})",
            path.display()
        )
    })?;
    let text = String::from_utf8_lossy(&text);
    // Lines joined with newlines, without the last line's end.
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

fn parse_template(sec: &Section, name: &str, p: &mut Parse<'_>) -> Template {
    let mut t = Template::new(name);
    for e in &sec.entries {
        let v = e.value.trim();
        match e.key.to_ascii_lowercase().as_str() {
            "fromaddress" => t.fromaddress = v.to_string(),
            "fromemail" => t.serveremail = v.to_string(),
            "subject" => t.subject = v.to_string(),
            "locale" => t.locale = v.to_string(),
            "attachmedia" => t.attachment = is_true(v),
            "dateformat" => t.dateformat = v.to_string(),
            "charset" => t.charset = v.to_string(),
            "templatefile" => match read_template_file(p, v) {
                Ok(body) => t.body = Some(body),
                Err(msg) => p.errors.push(ConfigError::at(&e.loc, msg)),
            },
            "messagebody" => t.body = Some(unescape_body(v)),
            k => p.errors.push(ConfigError::at(
                &e.loc,
                format!(
                    "unknown message template option '{k}' in [{}]: expected fromaddress, \
                     fromemail, subject, attachmedia, dateformat, charset, locale, \
                     templatefile or messagebody",
                    sec.name
                ),
            )),
        }
    }
    t
}

fn parse_account(sec: &Section, g: &General, p: &mut Parse<'_>) -> Option<Account> {
    let (username, domain) = split_address(&sec.name);
    if domain.is_empty() || username.is_empty() {
        p.warn(
            &sec.loc,
            format!(
                "No domain given for mini-voicemail account {}: expected [username@domain]. Not configured.",
                sec.name
            ),
        );
        return None;
    }
    let mut a = Account {
        username: username.to_string(),
        domain: domain.to_string(),
        attachfmt: g.format.clone(),
        volgain: g.volgain,
        ..Default::default()
    };
    for e in &sec.entries {
        let v = e.value.trim().to_string();
        match e.key.to_ascii_lowercase().as_str() {
            "serveremail" => a.serveremail = v,
            "email" => a.email = v,
            "accountcode" => a.accountcode = v,
            "pincode" => a.pincode = v,
            "domain" => a.domain = v,
            "language" => a.language = v,
            "timezone" => a.zonetag = v,
            "externnotify" => a.externnotify = v,
            "etemplate" => a.etemplate = v,
            "ptemplate" => a.ptemplate = v,
            "fullname" => a.fullname = v,
            "pager" => a.pager = v,
            "setvar" => {
                if let Some((n, val)) = v.split_once('=') {
                    // Later lines first, as Asterisk's list.
                    a.chanvars
                        .insert(0, (n.trim().to_string(), val.to_string()));
                } else {
                    p.warn(&e.loc, format!("setvar '{v}': expected NAME=value"));
                }
            }
            "volgain" => match v.parse::<f64>() {
                Ok(x) => a.volgain = x,
                Err(_) => p.warn(&e.loc, format!("volgain '{v}' is not a number")),
            },
            // Accepted by the loader for its options line; nothing to set.
            "options" => {}
            k => p.warn(
                &e.loc,
                format!(
                    "Unknown configuration option for minivm account {} : {k}",
                    sec.name
                ),
            ),
        }
    }
    Some(a)
}

/// Interpret a loaded `minivm.conf`; `etc` resolves relative `templatefile`s, `logdir`
/// relative `logfile`s. Returns the config and warnings, or every error.
pub fn parse(
    cf: &ConfigFile,
    etc: &Path,
    logdir: &Path,
) -> Result<(MinivmConfig, Vec<String>), Vec<ConfigError>> {
    let mut p = Parse {
        etc,
        logdir,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut c = MinivmConfig::default();
    let sections: Vec<&Section> = cf.sections.iter().filter(|s| !s.is_template).collect();
    // [general] first: accounts take its format.
    for sec in sections
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case("general"))
    {
        parse_general(sec, &mut c.general, &mut p);
    }
    for sec in &sections {
        let lower = sec.name.to_ascii_lowercase();
        if lower == "general" {
            continue;
        } else if lower.starts_with("template-") {
            let t = parse_template(sec, &sec.name[9..], &mut p);
            c.templates.push(t);
        } else if lower == "zonemessages" {
            for e in &sec.entries {
                match e.value.split_once('|') {
                    Some((tz, fmt)) => {
                        let tz = tz.trim();
                        if tz.parse::<chrono_tz::Tz>().is_err() {
                            p.warn(
                                &e.loc,
                                format!("zone '{}': unknown time zone '{tz}'", e.key),
                            );
                        }
                        c.zones.push(Zone {
                            name: e.key.clone(),
                            timezone: tz.to_string(),
                            msg_format: fmt.trim().to_string(),
                        })
                    }
                    None => p.warn(
                        &e.loc,
                        format!(
                            "Invalid timezone definition : {}: expected timezone|format",
                            e.key
                        ),
                    ),
                }
            }
        } else if let Some(a) = parse_account(sec, &c.general, &mut p) {
            c.accounts.push(a);
        }
    }
    // The default templates, from [general].
    let general = cf.section("general");
    let get = |k: &str| general.and_then(|s| s.get(k)).map(|v| v.trim().to_string());
    let mut email = Template::new("email-default");
    if let Some(v) = get("emaildateformat") {
        email.dateformat = v;
    }
    if let Some(v) = get("emailfromstring").or_else(|| get("fromstring")) {
        email.fromaddress = v;
    }
    if let Some(v) = get("emailaaddress") {
        email.serveremail = v;
    }
    if let Some(v) = get("emailaddress") {
        email.serveremail = v;
    }
    if let Some(v) = get("emailcharset").or_else(|| get("charset")) {
        email.charset = v;
    }
    if let Some(v) = get("emailsubject") {
        email.subject = v;
    }
    if let Some(v) = get("emailbody") {
        email.body = Some(unescape_body(&v));
    }
    email.attachment = get("attach").is_none_or(|v| is_true(&v));
    c.templates.push(email);
    let mut pager = Template::new("pager-default");
    if let Some(v) = get("pagerfromstring") {
        pager.fromaddress = v;
    }
    if let Some(v) = get("pageraddress") {
        pager.serveremail = v;
    }
    if let Some(v) = get("pagercharset").or_else(|| get("charset")) {
        pager.charset = v;
    }
    if let Some(v) = get("pagersubject") {
        pager.subject = v;
    }
    if let Some(v) = get("pagerbody") {
        pager.body = Some(unescape_body(&v));
    }
    pager.attachment = false;
    c.templates.push(pager);
    if p.errors.is_empty() {
        Ok((c, p.warnings))
    } else {
        Err(p.errors)
    }
}

/// Parse `minivm.conf` text (tests and tools; `templatefile`s relative to `/tmp`).
pub fn parse_str(text: &str) -> Result<(MinivmConfig, Vec<String>), Vec<ConfigError>> {
    let tmp = Path::new("/tmp");
    let cf = crate::config::load_str(tmp, CONFIG_FILE, text, &Default::default())
        .map_err(|e| vec![e])?;
    parse(&cf, tmp, tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
[general]
format=wav49
serveremail=asterisk
maxsilence=10
silencethreshold=128
emaildateformat=%A, %B %d, %Y at %r
emailsubject=New ${MVM_COUNTER}
emailbody=Dear ${MVM_NAME}:\\n\\tmessage
[zonemessages]
eastern=America/New_York|'vm-received' Q 'digits/at' IMp
[template-en_US_email]
messagebody=Hi ${MVM_NAME}\\nbye
subject = New voicemail
charset=ascii
attachmedia=yes
[tpl@example.com](!)
setvar=customerclass=gold
etemplate=en_US_email
[anita@example.com](tpl@example.com)
fullname=Anita Borg
email=anita@mail.example.com
timezone=eastern
setvar=SERVICE=Voop
";

    #[test]
    fn sample_sections() {
        let (c, w) = parse_str(SAMPLE).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.general.format, "wav49");
        assert_eq!(c.general.maxsilence_ms, 10000);
        assert_eq!(c.general.silencethreshold, 128);
        assert_eq!(c.general.mailcmd, SENDMAIL);
        assert_eq!(c.zones[0].timezone, "America/New_York");
        let names: Vec<&str> = c.templates.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["en_US_email", "email-default", "pager-default"]);
        let t = c.template("EN_us_email").unwrap();
        assert_eq!(t.body.as_deref(), Some("Hi ${MVM_NAME}\nbye"));
        assert_eq!(t.charset, "ascii");
        let d = c.template("email-default").unwrap();
        assert_eq!(d.subject, "New ${MVM_COUNTER}");
        assert_eq!(d.body.as_deref(), Some("Dear ${MVM_NAME}:\n\tmessage"));
        assert!(d.attachment && !c.template("pager-default").unwrap().attachment);
        assert_eq!(c.accounts.len(), 1, "the (!) template is no account");
        let a = c.find_account("ANITA", "example.com", false).unwrap();
        assert_eq!(a.etemplate, "en_US_email");
        assert_eq!(a.attachfmt, "wav49");
        assert!(a
            .chanvars
            .contains(&("customerclass".into(), "gold".into())));
        assert!(a.chanvars.contains(&("SERVICE".into(), "Voop".into())));
        let t = c.find_account("bob", "example.com", true).unwrap();
        assert!(t.temporary && t.email_address() == "bob@example.com");
        assert!(c.find_account("bob", "example.com", false).is_none());
        assert!(c.find_account("", "example.com", true).is_none());
    }

    #[test]
    fn errors_name_the_place_and_warnings_do_not_fail() {
        let errs = parse_str("[general]\nmaxmessage=ten\n[template-x]\nbogus=1\n").unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 2, "{text:?}");
        assert!(text[0].contains("minivm.conf:2:"), "{text:?}");
        assert!(text[0].contains("maxmessage"));
        assert!(text[1].contains("minivm.conf:4:") && text[1].contains("bogus"));
        let (c, w) =
            parse_str("[general]\nfoo=1\n[nodomain]\nx=1\n[zonemessages]\nbad=nothing\n").unwrap();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(c.accounts.is_empty());
        assert!(parse_str("[general]\nsmtp_port=x\n").is_err());
    }

    #[test]
    fn the_shipped_sample_loads_without_warnings() {
        let text = include_str!("../../../etc/minivm.conf");
        let (c, w) = parse_str(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.zones.len(), 3);
        assert!(c.template("en_US_email").is_some());
    }

    #[test]
    fn body_escapes() {
        assert_eq!(unescape_body("a\\nb\\tc\\x"), "a\nb\tc\\x");
        assert_eq!(split_address("a@b"), ("a", "b"));
        assert_eq!(split_address("a"), ("a", ""));
    }
}
