//! `manager.conf`: the `[general]` options and the users, parsed from the shared loader's
//! sections (errors name file:line:column). Pure: no socket, no PBX.

use crate::channels::sipconf::AclRule;
use crate::config::{is_false, is_true, ConfigError, ConfigFile, Entry};
use crate::pbx::manager::class;
use std::net::IpAddr;

/// Asterisk's DEFAULT_MANAGER_PORT.
pub const DEFAULT_PORT: u16 = 5038;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct General {
    pub enabled: bool,
    pub port: u16,
    pub bindaddr: IpAddr,
    /// Log `Manager 'x' logged on from …` (verbose 2).
    pub displayconnects: bool,
    /// `Timestamp:` on every event.
    pub timestampevents: bool,
    /// Seconds an unauthenticated connection may stay.
    pub authtimeout: u64,
    /// Unauthenticated connections at once.
    pub authlimit: usize,
}

impl Default for General {
    fn default() -> Self {
        General {
            enabled: false,
            port: DEFAULT_PORT,
            bindaddr: IpAddr::from([0, 0, 0, 0]),
            displayconnects: true,
            timestampevents: false,
            authtimeout: 30,
            authlimit: 50,
        }
    }
}

/// One `eventfilter=` line: a regular expression over the event's text; `!` excludes.
#[derive(Debug, Clone)]
pub struct EventFilter {
    pub exclude: bool,
    pub re: regex::Regex,
}

impl PartialEq for EventFilter {
    fn eq(&self, o: &Self) -> bool {
        self.exclude == o.exclude && self.re.as_str() == o.re.as_str()
    }
}
impl Eq for EventFilter {}

/// A `[user]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub secret: String,
    pub acl: Vec<AclRule>,
    /// `acl=` names (acl.conf): recorded and shown, not applied.
    pub named_acls: Vec<String>,
    pub read: u32,
    pub write: u32,
    /// Milliseconds a write to the client may take (kept for `manager show user`).
    pub writetimeout: u64,
    pub displayconnects: bool,
    pub eventfilters: Vec<EventFilter>,
}

impl User {
    /// Asterisk's `ast_apply_ha`: the last matching rule decides; no rule allows.
    pub fn permits(&self, ip: IpAddr) -> bool {
        AclRule::apply(&self.acl, ip)
    }

    /// Asterisk's `match_filter`: no filters pass everything; with include filters one
    /// must match; an exclude filter that matches drops the event.
    pub fn filter_passes(&self, text: &str) -> bool {
        if self.eventfilters.is_empty() {
            return true;
        }
        let mut includes = self.eventfilters.iter().filter(|f| !f.exclude).peekable();
        let ok = includes.peek().is_none() || includes.any(|f| f.re.is_match(text));
        ok && !self
            .eventfilters
            .iter()
            .any(|f| f.exclude && f.re.is_match(text))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerConf {
    pub general: General,
    pub users: Vec<User>,
}

impl ManagerConf {
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }
}

/// A class list (`system,call,log`) as a mask; unknown names are reported.
pub fn parse_classes(v: &str) -> (u32, Vec<String>) {
    let mut mask = 0;
    let mut unknown = Vec::new();
    for n in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match class::from_name(n) {
            Some(b) => mask |= b,
            None => unknown.push(n.to_string()),
        }
    }
    (mask, unknown)
}

/// Parse a loaded manager.conf. `Ok` carries warnings (ignored options, unknown classes);
/// `Err` every error, each with its place.
pub fn parse(cf: &ConfigFile) -> Result<(ManagerConf, Vec<String>), Vec<ConfigError>> {
    let mut errs = Vec::new();
    let mut warns = Vec::new();
    let mut conf = ManagerConf::default();
    let num = |e: &Entry, errs: &mut Vec<ConfigError>| -> Option<u64> {
        match e.value.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errs.push(ConfigError::at(
                    &e.loc,
                    format!("{}: expected a number, got '{}'", e.key, e.value),
                ));
                None
            }
        }
    };
    if let Some(g) = cf.section("general") {
        let gen = &mut conf.general;
        for e in &g.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "enabled" => gen.enabled = is_true(v),
                "port" => match v.parse::<u16>() {
                    Ok(p) if p > 0 => gen.port = p,
                    _ => errs.push(ConfigError::at(
                        &e.loc,
                        format!("port: expected a port number 1-65535, got '{v}'"),
                    )),
                },
                "bindaddr" => match v.parse::<IpAddr>() {
                    Ok(a) => gen.bindaddr = a,
                    Err(_) => errs.push(ConfigError::at(
                        &e.loc,
                        format!("bindaddr: expected an IP address, got '{v}'"),
                    )),
                },
                "displayconnects" => gen.displayconnects = !is_false(v),
                "timestampevents" => gen.timestampevents = is_true(v),
                "authtimeout" => {
                    if let Some(n) = num(e, &mut errs) {
                        gen.authtimeout = n;
                    }
                }
                "authlimit" => {
                    if let Some(n) = num(e, &mut errs) {
                        gen.authlimit = n as usize;
                    }
                }
                "webenabled"
                | "httptimeout"
                | "tlsenable"
                | "tlsbindaddr"
                | "tlscertfile"
                | "tlsprivatekey"
                | "tlscipher"
                | "allowmultiplelogin"
                | "debug"
                | "channelvars"
                | "mantimeout"
                | "hidecommands"
                | "broken_events_action" => warns.push(format!(
                    "{}: '{}' is accepted and ignored (ferrisk has no AMI over HTTP or TLS)",
                    e.loc, e.key
                )),
                _ => warns.push(format!("{}: unknown option '{}' ignored", e.loc, e.key)),
            }
        }
    }
    for s in cf.sections.iter().filter(|s| !s.is_template) {
        if s.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let mut u = User {
            name: s.name.clone(),
            secret: String::new(),
            acl: Vec::new(),
            named_acls: Vec::new(),
            read: class::ALL,
            write: class::ALL,
            writetimeout: 100,
            displayconnects: conf.general.displayconnects,
            eventfilters: Vec::new(),
        };
        for e in &s.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "secret" => u.secret = v.to_string(),
                k @ ("permit" | "deny") => {
                    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match AclRule::parse(k == "permit", item) {
                            Ok(r) => u.acl.push(r),
                            Err(m) => errs.push(ConfigError::at(&e.loc, format!("{k}: {m}"))),
                        }
                    }
                }
                "acl" => {
                    u.named_acls.extend(
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from),
                    );
                    warns.push(format!(
                        "{}: named ACLs (acl.conf) are not supported; acl={v} is not applied",
                        e.loc
                    ));
                }
                k @ ("read" | "write") => {
                    let (mask, unknown) = parse_classes(v);
                    for n in unknown {
                        warns.push(format!("{}: {k}: unknown class '{n}' ignored", e.loc));
                    }
                    if k == "read" {
                        u.read = mask;
                    } else {
                        u.write = mask;
                    }
                }
                "writetimeout" => {
                    if let Some(n) = num(e, &mut errs) {
                        u.writetimeout = n.max(100);
                    }
                }
                "displayconnects" => u.displayconnects = !is_false(v),
                "eventfilter" => {
                    let (exclude, pat) = match v.strip_prefix('!') {
                        Some(p) => (true, p),
                        None => (false, v),
                    };
                    match regex::Regex::new(pat) {
                        Ok(re) => u.eventfilters.push(EventFilter { exclude, re }),
                        Err(m) => errs.push(ConfigError::at(
                            &e.loc,
                            format!("eventfilter: not a regular expression: {m}"),
                        )),
                    }
                }
                "allowmultiplelogin" | "channelvars" | "setvar" => {
                    warns.push(format!("{}: '{}' is accepted and ignored", e.loc, e.key))
                }
                _ => warns.push(format!("{}: unknown option '{}' ignored", e.loc, e.key)),
            }
        }
        conf.users.push(u);
    }
    if errs.is_empty() {
        Ok((conf, warns))
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};
    use std::path::Path;

    fn conf(text: &str) -> Result<(ManagerConf, Vec<String>), Vec<ConfigError>> {
        let cf = load_str(
            Path::new("/nonexistent"),
            "manager.conf",
            text,
            &LoadOptions::default(),
        )
        .map_err(|e| vec![e])?;
        parse(&cf)
    }

    #[test]
    fn general_and_users() {
        let (c, w) = conf(
            "[general]\nenabled=yes\nport=5039\nbindaddr=127.0.0.1\nwebenabled=yes\n\
             timestampevents=yes\n\n[admin]\nsecret=pw\ndeny=0.0.0.0/0.0.0.0\n\
             permit=127.0.0.1/255.255.255.255\nread=system,call\nwrite=all\n\
             eventfilter=!Event: VarSet\n",
        )
        .unwrap();
        assert!(c.general.enabled && c.general.timestampevents);
        assert_eq!(c.general.port, 5039);
        assert_eq!(c.general.bindaddr.to_string(), "127.0.0.1");
        assert!(w[0].contains("webenabled"), "{w:?}");
        let u = c.user("ADMIN").unwrap();
        assert_eq!(u.read, class::SYSTEM | class::CALL);
        assert_eq!(u.write, class::ALL);
        assert!(u.permits("127.0.0.1".parse().unwrap()));
        assert!(!u.permits("10.0.0.1".parse().unwrap()));
        assert!(!u.filter_passes("Event: VarSet\r\nVariable: x"));
        assert!(u.filter_passes("Event: Hangup\r\n"));
    }

    #[test]
    fn defaults_are_asterisks() {
        let (c, _) = conf("[u]\nsecret=x\n").unwrap();
        assert!(!c.general.enabled);
        assert_eq!(c.general.port, 5038);
        assert_eq!(c.general.authlimit, 50);
        assert_eq!(c.users[0].read, class::ALL);
        assert!(c.users[0].permits("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_place() {
        let e = conf("[general]\nport=abc\n[u]\npermit=300.1.1.1\neventfilter=(\n").unwrap_err();
        let t: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert!(t[0].starts_with("manager.conf:2:"), "{t:?}");
        assert!(
            t[1].starts_with("manager.conf:4:") && t[1].contains("permit"),
            "{t:?}"
        );
        assert!(t[2].starts_with("manager.conf:5:"), "{t:?}");
    }

    #[test]
    fn include_filters_need_a_match() {
        let (c, _) = conf("[u]\neventfilter=Event: Hangup\neventfilter=!Cause: 16\n").unwrap();
        let u = &c.users[0];
        assert!(u.filter_passes("Event: Hangup\r\nCause: 17"));
        assert!(!u.filter_passes("Event: Hangup\r\nCause: 16"));
        assert!(!u.filter_passes("Event: Newchannel"));
    }
}
