//! `voicemail.conf`, typed: `[general]` options, `[zonemessages]`, and mailbox contexts
//! (`100 => 0107,Leif Madsen,leif@example.com,pager@example.com,attach=no|maxmsg=100|tz=central`).
//!
//! Mailbox lines follow app_voicemail: password, full name, email, pager email, then options
//! as `name=value` separated by `|` (commas after the fifth field separate options too, as
//! newer Asterisk allows). Per-mailbox options override `[general]` at use time; this module
//! only records them. Unknown `[general]` options are warnings (Asterisk has dozens that
//! ferrisk does not use yet); malformed values are errors with file:line:column.

use crate::config::{ConfigError, ConfigFile, Location, Section};
use indexmap::IndexMap;

/// ferrisk's defaults, as app_voicemail's.
pub const DEFAULT_MAXMSG: u32 = 100;
pub const DEFAULT_MAXLOGINS: u32 = 3;
/// Without `silencethreshold`, app_voicemail uses dsp.conf's silence threshold (256).
pub const DEFAULT_SILENCE_THRESHOLD: u32 = crate::apps::record::SILENCE_THRESHOLD;

/// `[general]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VmGeneral {
    /// `format=wav49|gsm|wav`: formats recorded, the first is the one emailed.
    pub formats: Vec<String>,
    pub serveremail: Option<String>,
    pub fromstring: Option<String>,
    pub attach: bool,
    pub maxmsg: u32,
    /// Longest message in seconds (0: unlimited). `maxmessage` is the old name.
    pub maxsecs: u32,
    /// Shorter messages are discarded. `minmessage` is the old name.
    pub minsecs: u32,
    /// Seconds of silence that end a recording.
    pub maxsilence: u32,
    pub silencethreshold: u32,
    pub maxlogins: u32,
    pub emailsubject: Option<String>,
    /// The body template with `\n` and `\t` already turned into newlines and tabs.
    pub emailbody: Option<String>,
    pub emaildateformat: Option<String>,
    pub mailcmd: Option<String>,
    pub aliasescontext: Option<String>,
    /// ferrisk: SMTP relay for notifications (lettre), instead of `mailcmd`.
    pub smtp: SmtpSettings,
    /// Other app_voicemail options ferrisk understands that mailboxes may override
    /// (`review`, `operator`, `envelope`, `saycid`, …): name (lower case) and value.
    pub other: Vec<(String, String)>,
}

/// `[general]` options kept in [`VmGeneral::other`]: per-mailbox-overridable settings read
/// where they are used.
pub const OTHER_OPTIONS: &[&str] = &[
    "pollmailboxes",
    "pollfreq",
    "review",
    "operator",
    "envelope",
    "saycid",
    "sayduration",
    "saydurationm",
    "nextaftercmd",
    "moveheard",
    "pbxskip",
    "tempgreetwarn",
    "forcename",
    "forcegreetings",
    "exitcontext",
    "callback",
    "dialout",
    "skipms",
    "delete",
    "attachfmt",
    "pagerfromstring",
    "pagersubject",
    "pagerbody",
    "pagerdateformat",
    "charset",
    "tz",
    "locale",
    "minpassword",
    "messagewrap",
    "sendvoicemail",
    "hidefromdir",
    "searchcontexts",
    "smtp_retry_max",
    "externnotify",
    // IMAP storage (voicemail/imap.rs).
    "imapserver",
    "imapport",
    "imapflags",
    "imapfolder",
    "imapparentfolder",
    "imapgreetings",
    "greetingfolder",
    "expungeonhangup",
    "authuser",
    "authpassword",
    "opentimeout",
    "closetimeout",
    "readtimeout",
    "writetimeout",
];

/// ferrisk's own SMTP settings in `[general]`: `smtp_host`, `smtp_port`, `smtp_tls`
/// (`none`, `starttls`, `tls`), `smtp_user`, `smtp_password`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmtpSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Apply one `smtp_*` option (`key` lower case) to `s`; an unknown `smtp_` key or a bad
/// value is an error at `loc`. Shared by every config file that sends mail.
pub fn apply_smtp_option(
    s: &mut SmtpSettings,
    key: &str,
    v: &str,
    loc: &Location,
) -> Result<(), ConfigError> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match key {
        "smtp_host" => s.host = opt(v),
        "smtp_port" => match v.parse::<u16>() {
            Ok(p) if p > 0 => s.port = Some(p),
            _ => return Err(ConfigError::at(loc, format!("smtp_port: '{v}' is not a port"))),
        },
        "smtp_tls" => {
            s.tls = match v.to_ascii_lowercase().as_str() {
                "" | "no" | "none" | "off" => SmtpTls::None,
                "starttls" => SmtpTls::StartTls,
                "yes" | "tls" | "ssl" | "on" => SmtpTls::Tls,
                _ => {
                    return Err(ConfigError::at(
                        loc,
                        format!("smtp_tls: '{v}' is not none, starttls or tls"),
                    ))
                }
            }
        }
        "smtp_user" => s.user = opt(v),
        "smtp_password" => s.password = opt(v),
        k => {
            return Err(ConfigError::at(
                loc,
                format!("unknown option '{k}': expected smtp_host, smtp_port, smtp_tls, smtp_user or smtp_password"),
            ))
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    #[default]
    None,
    StartTls,
    Tls,
}

impl Default for VmGeneral {
    fn default() -> Self {
        VmGeneral {
            formats: vec!["wav".into()],
            serveremail: None,
            fromstring: None,
            attach: true,
            maxmsg: DEFAULT_MAXMSG,
            maxsecs: 0,
            minsecs: 0,
            maxsilence: 0,
            silencethreshold: DEFAULT_SILENCE_THRESHOLD,
            maxlogins: DEFAULT_MAXLOGINS,
            emailsubject: None,
            emailbody: None,
            emaildateformat: None,
            mailcmd: None,
            aliasescontext: None,
            smtp: SmtpSettings::default(),
            other: Vec::new(),
        }
    }
}

/// A `[zonemessages]` entry: `central=America/Chicago|'vm-received' Q 'digits/at' IMp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub timezone: String,
    /// The say-date format the envelope uses.
    pub format: String,
}

/// One mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub context: String,
    pub mailbox: String,
    pub password: String,
    pub fullname: String,
    pub email: Option<String>,
    pub pager: Option<String>,
    /// Options in order (`attach=no`, `maxmsg=100`, `tz=central`, …), names lower-cased.
    pub options: Vec<(String, String)>,
    pub loc: Location,
    /// Read from realtime storage (`voicemail =>` in extconfig.conf), not voicemail.conf:
    /// its `uniqueid` column (empty without one). A password change goes back there.
    pub realtime: Option<String>,
}

impl Mailbox {
    /// A per-mailbox option (case-insensitive name).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VoicemailConfig {
    pub general: VmGeneral,
    pub zones: Vec<Zone>,
    /// Mailboxes by (context, mailbox), in file order.
    pub mailboxes: IndexMap<(String, String), Mailbox>,
    /// `aliasescontext` entries: alias (`1234@devices`) → target (`1234@default`).
    pub aliases: Vec<(String, String)>,
}

impl VmGeneral {
    /// An option kept in [`VmGeneral::other`] (the last one set wins).
    pub fn other(&self, name: &str) -> Option<&str> {
        self.other
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A yes/no value as app_voicemail reads it (`ast_true`).
pub fn is_true(v: &str) -> bool {
    parse_bool(v).unwrap_or(false)
}

impl VoicemailConfig {
    /// A mailbox option, else the `[general]` one.
    pub fn opt<'a>(&'a self, mb: &'a Mailbox, name: &str) -> Option<&'a str> {
        mb.option(name).or_else(|| self.general.other(name))
    }

    /// A yes/no option with a default.
    pub fn flag(&self, mb: &Mailbox, name: &str, default: bool) -> bool {
        self.opt(mb, name).and_then(parse_bool).unwrap_or(default)
    }

    /// A numeric option (`maxmsg`, `maxsecs`, …) from the mailbox, else `[general]`.
    pub fn num(&self, mb: &Mailbox, name: &str) -> u32 {
        let g = &self.general;
        let base = match name {
            "maxmsg" => g.maxmsg,
            "maxsecs" | "maxmessage" => g.maxsecs,
            "minsecs" | "minmessage" => g.minsecs,
            _ => self
                .general
                .other(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        };
        let per = match name {
            "maxsecs" => mb.option("maxsecs").or_else(|| mb.option("maxmessage")),
            "minsecs" => mb.option("minsecs").or_else(|| mb.option("minmessage")),
            n => mb.option(n),
        };
        per.and_then(|v| v.trim().parse().ok()).unwrap_or(base)
    }

    /// Does this mailbox get the audio attached (`attach`)?
    pub fn attach(&self, mb: &Mailbox) -> bool {
        mb.option("attach")
            .and_then(parse_bool)
            .unwrap_or(self.general.attach)
    }

    /// `mbox[@context]` (context `default` when absent).
    pub fn mailbox(&self, spec: &str) -> Option<&Mailbox> {
        let (m, c) = spec.split_once('@').unwrap_or((spec, "default"));
        let c = if c.is_empty() { "default" } else { c };
        self.mailboxes.get(&(c.to_string(), m.to_string()))
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "y" | "t" | "1" | "on" => Some(true),
        "no" | "false" | "n" | "f" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// app_voicemail's `substitute_escapes`: `\n`, `\r`, `\t` and `\\`.
pub fn unescape_template(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

struct Ctx {
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Ctx {
    fn num(&mut self, loc: &Location, key: &str, v: &str) -> Option<u32> {
        match v.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.errors.push(ConfigError::at(
                    loc,
                    format!("{key}: '{v}' is not a number"),
                ));
                None
            }
        }
    }
}

fn parse_general(sec: &Section, g: &mut VmGeneral, ctx: &mut Ctx) {
    for e in &sec.entries {
        let v = e.value.trim();
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        match e.key.to_ascii_lowercase().as_str() {
            "format" => {
                g.formats = v
                    .split('|')
                    .map(|f| f.trim().to_ascii_lowercase())
                    .filter(|f| !f.is_empty())
                    .collect();
                if g.formats.is_empty() {
                    g.formats = vec!["wav".into()];
                }
            }
            "serveremail" => g.serveremail = opt(v),
            "fromstring" => g.fromstring = opt(v),
            "attach" => match parse_bool(v) {
                Some(b) => g.attach = b,
                None => ctx.errors.push(ConfigError::at(
                    &e.loc,
                    format!("attach: '{v}' is not yes or no"),
                )),
            },
            "maxmsg" => g.maxmsg = ctx.num(&e.loc, "maxmsg", v).unwrap_or(g.maxmsg),
            "maxsecs" | "maxmessage" => {
                g.maxsecs = ctx.num(&e.loc, "maxsecs", v).unwrap_or(g.maxsecs)
            }
            "minsecs" | "minmessage" => {
                g.minsecs = ctx.num(&e.loc, "minsecs", v).unwrap_or(g.minsecs)
            }
            "maxsilence" => g.maxsilence = ctx.num(&e.loc, "maxsilence", v).unwrap_or(0),
            "silencethreshold" => {
                g.silencethreshold = ctx
                    .num(&e.loc, "silencethreshold", v)
                    .unwrap_or(g.silencethreshold)
            }
            "maxlogins" => g.maxlogins = ctx.num(&e.loc, "maxlogins", v).unwrap_or(g.maxlogins),
            "emailsubject" => g.emailsubject = opt(v).map(|s| unescape_template(&s)),
            "emailbody" => g.emailbody = opt(v).map(|s| unescape_template(&s)),
            "emaildateformat" => g.emaildateformat = opt(v),
            "mailcmd" => g.mailcmd = opt(v),
            "aliasescontext" => g.aliasescontext = opt(v),
            k @ ("smtp_host" | "smtp_port" | "smtp_tls" | "smtp_user" | "smtp_password") => {
                if let Err(e) = apply_smtp_option(&mut g.smtp, k, v, &e.loc) {
                    ctx.errors.push(e)
                }
            }
            k if OTHER_OPTIONS.contains(&k) => {
                let v = if k.starts_with("pager") && k != "pagerdateformat" {
                    unescape_template(v)
                } else {
                    v.to_string()
                };
                g.other.push((k.to_string(), v))
            }
            other => ctx.warnings.push(format!(
                "{}: voicemail.conf option '{other}' is not used by ferrisk",
                e.loc
            )),
        }
    }
}

/// Parse one mailbox line's value.
fn parse_mailbox(context: &str, mailbox: &str, value: &str, loc: &Location) -> Mailbox {
    let mut fields = value.splitn(5, ',');
    let mut next = || {
        fields
            .next()
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let password = next();
    let fullname = next();
    let email = next();
    let pager = next();
    let rest = next();
    let options = rest
        .split(['|', ','])
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter_map(|o| {
            let (n, v) = o.split_once('=')?;
            Some((n.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    Mailbox {
        context: context.to_string(),
        mailbox: mailbox.to_string(),
        password,
        fullname,
        email: (!email.is_empty()).then_some(email),
        pager: (!pager.is_empty()).then_some(pager),
        options,
        loc: loc.clone(),
        realtime: None,
    }
}

/// A mailbox from a realtime `voicemail` row (app_voicemail's `apply_options_full`): the
/// columns `vmsecret` (or `secret`/`password`), `fullname`, `email`, `pager`, `context`,
/// `uniqueid`; every other column is a mailbox option (`attach`, `tz`, `saycid`, …).
/// `mailbox`/`context` are what was asked, used where the row lacks them.
pub fn mailbox_from_realtime(
    row: &[(String, String)],
    mailbox: &str,
    context: &str,
) -> (Mailbox, Vec<String>) {
    let mut warnings = Vec::new();
    let mut m = Mailbox {
        context: context.to_string(),
        mailbox: mailbox.to_string(),
        password: String::new(),
        fullname: String::new(),
        email: None,
        pager: None,
        options: Vec::new(),
        loc: Location::new(format!("realtime voicemail {mailbox}@{context}"), 1, 1),
        realtime: Some(String::new()),
    };
    let mut vmsecret = None;
    for (k, v) in row {
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "vmsecret" => vmsecret = Some(v.to_string()),
            "secret" | "password" => {
                if v.starts_with('*') {
                    warnings.push(format!(
                        "app_voicemail.c: Invalid password detected for mailbox {mailbox}.  The password\n\tmust be reset in voicemail.conf."
                    ));
                } else if m.password.is_empty() {
                    m.password = v.to_string();
                }
            }
            "uniqueid" => m.realtime = Some(v.to_string()),
            "pager" => m.pager = (!v.is_empty()).then(|| v.to_string()),
            "email" => m.email = (!v.is_empty()).then(|| v.to_string()),
            "fullname" => m.fullname = v.to_string(),
            "context" if !v.is_empty() => m.context = v.to_string(),
            "mailbox" if !v.is_empty() => m.mailbox = v.to_string(),
            "context" | "mailbox" | "customer_id" | "stamp" => {}
            _ => m.options.push((k, v.to_string())),
        }
    }
    if let Some(p) = vmsecret {
        m.password = p;
    }
    (m, warnings)
}

/// Parse `voicemail.conf` text (no `#include`s outside `/tmp`): tests and tools.
pub fn parse_voicemail_str(text: &str) -> Result<(VoicemailConfig, Vec<String>), Vec<ConfigError>> {
    let cf = crate::config::load_str(
        std::path::Path::new("/tmp"),
        "voicemail.conf",
        text,
        &crate::config::LoadOptions::default(),
    )
    .map_err(|e| vec![e])?;
    parse_voicemail_conf(&cf)
}

/// Interpret a loaded `voicemail.conf`: the config and warnings, or every error.
pub fn parse_voicemail_conf(
    cf: &ConfigFile,
) -> Result<(VoicemailConfig, Vec<String>), Vec<ConfigError>> {
    let mut ctx = Ctx {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut out = VoicemailConfig::default();
    for sec in cf.sections.iter().filter(|s| !s.is_template) {
        if sec.name.eq_ignore_ascii_case("general") {
            parse_general(sec, &mut out.general, &mut ctx);
        }
    }
    for sec in cf.sections.iter().filter(|s| !s.is_template) {
        let name = sec.name.as_str();
        if name.eq_ignore_ascii_case("general") {
            continue;
        }
        if name.eq_ignore_ascii_case("zonemessages") {
            for e in &sec.entries {
                match e.value.split_once('|') {
                    Some((tz, fmt)) if !tz.trim().is_empty() => out.zones.push(Zone {
                        name: e.key.clone(),
                        timezone: tz.trim().to_string(),
                        format: fmt.trim().to_string(),
                    }),
                    _ => ctx.errors.push(ConfigError::at(
                        &e.loc,
                        format!("zone '{}': expected timezone|format", e.key),
                    )),
                }
            }
            continue;
        }
        if out.general.aliasescontext.as_deref() == Some(name) {
            for e in &sec.entries {
                out.aliases
                    .push((e.key.clone(), e.value.trim().to_string()));
            }
            continue;
        }
        for e in &sec.entries {
            let mbox = e.key.trim();
            if mbox.contains('@') {
                // `1234@devices => 1234@default` in a section that aliasescontext does not
                // name (Asterisk's sample has one): an alias line, not a mailbox.
                ctx.warnings.push(format!(
                    "{}: '{mbox}' looks like a mailbox alias; set aliasescontext={name} in [general] to use it",
                    e.loc
                ));
                continue;
            }
            if mbox.is_empty() || mbox.contains(['/', ' ']) {
                ctx.errors.push(ConfigError::at(
                    &e.loc,
                    format!("'{mbox}' is not a mailbox number"),
                ));
                continue;
            }
            let m = parse_mailbox(name, mbox, &e.value, &e.loc);
            let key = (name.to_string(), mbox.to_string());
            if let Some(old) = out.mailboxes.get(&key) {
                ctx.warnings.push(format!(
                    "{}: mailbox {mbox}@{name} already defined at {} (this one replaces it)",
                    e.loc, old.loc
                ));
            }
            out.mailboxes.insert(key, m);
        }
    }
    if ctx.errors.is_empty() {
        Ok((out, ctx.warnings))
    } else {
        Err(ctx.errors)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn realtime_rows_are_mailboxes() {
        let row = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let (m, w) = mailbox_from_realtime(
            &row(&[
                ("uniqueid", "u17"),
                ("context", "sales"),
                ("mailbox", "2001"),
                ("password", "1234"),
                ("fullname", "Pat Doe"),
                ("email", "pat@example.com"),
                ("attach", "yes"),
                ("TZ", "central"),
                ("customer_id", "9"),
            ]),
            "2001",
            "default",
        );
        assert!(w.is_empty());
        assert_eq!((m.context.as_str(), m.mailbox.as_str()), ("sales", "2001"));
        assert_eq!(m.password, "1234");
        assert_eq!(m.fullname, "Pat Doe");
        assert_eq!(m.email.as_deref(), Some("pat@example.com"));
        assert_eq!(m.pager, None);
        assert_eq!(m.realtime.as_deref(), Some("u17"));
        assert_eq!(m.option("attach"), Some("yes"));
        assert_eq!(m.option("tz"), Some("central"));
        assert_eq!(m.option("customer_id"), None);
        // vmsecret wins over password; a password starting with * is refused with a warning.
        let (m, _) =
            mailbox_from_realtime(&row(&[("secret", "1"), ("vmsecret", "2")]), "7", "default");
        assert_eq!((m.password.as_str(), m.context.as_str()), ("2", "default"));
        let (m, w) = mailbox_from_realtime(&row(&[("password", "*5")]), "7", "default");
        assert_eq!(m.password, "");
        assert_eq!(w.len(), 1);
    }

    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<(VoicemailConfig, Vec<String>), Vec<ConfigError>> {
        parse_voicemail_str(text)
    }

    #[test]
    fn seed_mailbox_lines() {
        let (c, _) = parse(
            "[general]\nformat=wav49|gsm|wav\nattach=yes\nemailbody=Dear ${VM_NAME}:\\n\\tyou have a ${VM_DUR} long message\n\n\
             [shifteight]\n100 => 0107,Leif Madsen,leif@example.com,,attach=no|maxmsg=100|tz=central\n\
             101 => 0108,Jim,,,|imapuser=jim@example.com|imappassword=secret\n",
        )
        .expect("parses");
        assert_eq!(c.general.formats, ["wav49", "gsm", "wav"]);
        assert_eq!(
            c.general.emailbody.as_deref(),
            Some("Dear ${VM_NAME}:\n\tyou have a ${VM_DUR} long message")
        );
        let m = c.mailbox("100@shifteight").expect("100");
        assert_eq!(m.password, "0107");
        assert_eq!(m.fullname, "Leif Madsen");
        assert_eq!(m.email.as_deref(), Some("leif@example.com"));
        assert_eq!(m.pager, None);
        assert_eq!(m.option("attach"), Some("no"));
        assert_eq!(m.option("MAXMSG"), Some("100"));
        assert_eq!(m.option("tz"), Some("central"));
        let j = c.mailbox("101@shifteight").expect("101");
        assert_eq!(j.option("imapuser"), Some("jim@example.com"));
        assert_eq!(j.email, None);
        assert!(c.mailbox("100").is_none(), "default context has no 100");
    }

    #[test]
    fn asterisk_sample_loads_without_errors() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/voicemail.conf.sample");
        let text = std::fs::read_to_string(&path).expect("tests/fixtures/voicemail.conf.sample");
        let (c, _warnings) = parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(c.mailbox("1234@default").is_some());
        assert!(c.mailbox("1234@other").is_some());
        assert_eq!(c.zones.len(), 5);
        assert_eq!(c.zones[0].timezone, "America/New_York");
        assert!(
            c.aliases.is_empty(),
            "aliasescontext is commented out in the sample"
        );
        let (c, _) = parse(&format!("[general]\naliasescontext=myaliases\n{text}"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            c.aliases,
            vec![("1234@devices".to_string(), "1234@default".to_string())]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[general]\nmaxmsg=lots\n[default]\nbad box => 1,x\n").expect_err("errors");
        assert_eq!(e.len(), 2);
        assert!(e[0].to_string().contains("voicemail.conf:2"), "{}", e[0]);
        assert!(e[1].to_string().contains("voicemail.conf:4"), "{}", e[1]);
    }

    #[test]
    fn smtp_settings() {
        let (c, w) = parse(
            "[general]\nsmtp_host=127.0.0.1\nsmtp_port=2525\nsmtp_tls=starttls\nsmtp_user=pbx\nsmtp_password=x\nskipms=3000\nadsifdn=0000000F\n",
        )
        .expect("parses");
        assert_eq!(c.general.smtp.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(c.general.smtp.port, Some(2525));
        assert_eq!(c.general.smtp.tls, SmtpTls::StartTls);
        assert_eq!(w.len(), 1, "only adsifdn is reported as unused: {w:?}");
        assert_eq!(c.general.other("skipms"), Some("3000"));
    }
}
