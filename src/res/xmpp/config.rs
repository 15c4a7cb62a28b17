//! `xmpp.conf`, as Asterisk's res_xmpp reads it.
//!
//! `[general]`: `debug` (no), `autoprune` (no), `autoregister` (yes), `collection_nodes`
//! (no), `pubsub_autocreate` (no), `auth_policy` (`accept`|`deny`, accept). Every other
//! section is a connection:
//!
//! | Option | Meaning (default) |
//! |---|---|
//! | `type` | `client` (`component` is not supported: the section is skipped with a warning) |
//! | `username` | `user@domain[/resource]` (resource `asterisk-xmpp`) |
//! | `secret` | password |
//! | `serverhost` | host to connect to (the JID's domain) |
//! | `port` | 5222 |
//! | `priority` | resource priority (1) |
//! | `usetls` | STARTTLS (yes); `forceoldssl`: TLS from the first byte, as on port 5223 (no) |
//! | `usesasl` | SASL (yes); no: legacy `jabber:iq:auth` |
//! | `keepalive` | ping the server after a quiet minute (yes) |
//! | `status`, `statusmessage` | presence (`available`, "Online and Available") |
//! | `timeout` | seconds a received message waits for JABBER_RECEIVE (5) |
//! | `sendtodialplan`, `context` | run incoming messages in this context (no, `default`) |
//! | `buddy` | a roster entry to subscribe to (repeatable) |
//! | `autoprune`, `autoregister`, `auth_policy` | override `[general]` |
//! | `debug` | dump this connection's XML (no) |
//! | `pubsub_node`, `distribute_events` | accepted; event distribution is not supported |
//!
//! Values that make no sense are errors naming file:line:column; options res_xmpp does not
//! know are warned about (with the likely intended name) and ignored.

use crate::config::{is_false, is_true, ConfigError, ConfigFile, Location};
use crate::xmpp::Show;

/// `[general]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct General {
    pub debug: bool,
    pub autoprune: bool,
    pub autoregister: bool,
    pub collection_nodes: bool,
    pub pubsub_autocreate: bool,
    pub auth_accept: bool,
}

impl Default for General {
    fn default() -> Self {
        General {
            debug: false,
            autoprune: false,
            autoregister: true,
            collection_nodes: false,
            pubsub_autocreate: false,
            auth_accept: true,
        }
    }
}

/// One client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The section name (`JabberSend(asterisk,…)`).
    pub name: String,
    /// `username` as written.
    pub username: String,
    pub secret: String,
    pub serverhost: String,
    pub port: u16,
    pub priority: i32,
    pub usetls: bool,
    pub usesasl: bool,
    pub forceoldssl: bool,
    pub keepalive: bool,
    pub status: Show,
    pub statusmessage: String,
    /// Seconds.
    pub timeout: u32,
    pub sendtodialplan: bool,
    pub context: String,
    pub buddies: Vec<String>,
    pub autoprune: bool,
    pub autoregister: bool,
    pub auth_accept: bool,
    pub debug: bool,
    pub pubsub_node: String,
    pub distribute_events: bool,
    pub loc: Location,
}

impl ClientConfig {
    /// The bare JID (`user@domain`).
    pub fn bare_jid(&self) -> &str {
        self.username
            .split_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&self.username)
    }

    /// The resource (`asterisk-xmpp` when the username names none).
    pub fn resource(&self) -> &str {
        match self.username.split_once('/') {
            Some((_, r)) if !r.is_empty() => r,
            _ => "asterisk-xmpp",
        }
    }

    /// The domain of the JID.
    pub fn domain(&self) -> &str {
        self.bare_jid()
            .split_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
    }

    /// Where to connect: `serverhost`, else the JID's domain.
    pub fn host(&self) -> &str {
        if self.serverhost.is_empty() {
            self.domain()
        } else {
            &self.serverhost
        }
    }

    /// What the protocol session needs.
    pub fn session(&self) -> crate::xmpp::SessionConfig {
        crate::xmpp::SessionConfig {
            user: self.bare_jid().to_string(),
            resource: self.resource().to_string(),
            password: self.secret.clone(),
            // With forceoldssl the stream is encrypted from the start: no STARTTLS.
            use_tls: self.usetls && !self.forceoldssl,
            use_sasl: self.usesasl,
            priority: self.priority,
            status: self.status,
            status_message: self.statusmessage.clone(),
            buddies: self.buddies.clone(),
            autoregister: self.autoregister,
            autoprune: self.autoprune,
            auth_accept: self.auth_accept,
            keepalive: self.keepalive,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmppConfig {
    pub general: General,
    pub clients: Vec<ClientConfig>,
}

impl XmppConfig {
    /// The client called `name` (case-insensitive).
    pub fn client(&self, name: &str) -> Option<&ClientConfig> {
        self.clients
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
    }
}

const CLIENT_OPTIONS: &[&str] = &[
    "type",
    "username",
    "secret",
    "serverhost",
    "port",
    "priority",
    "usetls",
    "usesasl",
    "forceoldssl",
    "keepalive",
    "status",
    "statusmessage",
    "timeout",
    "sendtodialplan",
    "context",
    "buddy",
    "autoprune",
    "autoregister",
    "auth_policy",
    "debug",
    "pubsub_node",
    "distribute_events",
    "refresh_token",
    "oauth_clientid",
    "oauth_secret",
];

fn boolean(v: &str, key: &str, loc: &Location, errors: &mut Vec<ConfigError>) -> bool {
    if is_true(v) {
        true
    } else if is_false(v) {
        false
    } else {
        errors.push(ConfigError::at(
            loc,
            format!("{key} must be yes or no, not '{v}'"),
        ));
        false
    }
}

fn auth_policy(v: &str, loc: &Location, errors: &mut Vec<ConfigError>) -> bool {
    match v.to_ascii_lowercase().as_str() {
        "accept" => true,
        "deny" => false,
        _ => {
            errors.push(ConfigError::at(
                loc,
                format!("auth_policy must be accept or deny, not '{v}'"),
            ));
            true
        }
    }
}

/// Strip one pair of surrounding double quotes (`statusmessage="Ohai from Asterisk"`).
fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

/// The option a misspelt one probably meant.
fn suggestion(key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase();
    CLIENT_OPTIONS
        .iter()
        .copied()
        .find(|o| k.starts_with(o) || o.starts_with(k.as_str()) && k.len() >= 4)
}

/// Read xmpp.conf: the configuration and warnings, or the errors (file:line:column).
pub fn parse(cf: &ConfigFile) -> Result<(XmppConfig, Vec<String>), Vec<ConfigError>> {
    let mut out = XmppConfig::default();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    // [general] first: clients inherit from it wherever it is in the file.
    if let Some(g) = cf.section("general") {
        let gen = &mut out.general;
        for e in &g.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "debug" => gen.debug = boolean(v, "debug", &e.loc, &mut errors),
                "autoprune" => gen.autoprune = boolean(v, "autoprune", &e.loc, &mut errors),
                "autoregister" => {
                    gen.autoregister = boolean(v, "autoregister", &e.loc, &mut errors)
                }
                "collection_nodes" => {
                    gen.collection_nodes = boolean(v, "collection_nodes", &e.loc, &mut errors)
                }
                "pubsub_autocreate" => {
                    gen.pubsub_autocreate = boolean(v, "pubsub_autocreate", &e.loc, &mut errors)
                }
                "auth_policy" => gen.auth_accept = auth_policy(v, &e.loc, &mut errors),
                k => warnings.push(format!(
                    "{}: unknown option '{k}' in [general] of xmpp.conf, ignored",
                    e.loc
                )),
            }
        }
    }
    for sec in &cf.sections {
        if sec.is_template || sec.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let g = &out.general;
        let mut c = ClientConfig {
            name: sec.name.clone(),
            username: String::new(),
            secret: String::new(),
            serverhost: String::new(),
            port: 5222,
            priority: 1,
            usetls: true,
            usesasl: true,
            forceoldssl: false,
            keepalive: true,
            status: Show::Available,
            statusmessage: "Online and Available".into(),
            timeout: 5,
            sendtodialplan: false,
            context: "default".into(),
            buddies: Vec::new(),
            autoprune: g.autoprune,
            autoregister: g.autoregister,
            auth_accept: g.auth_accept,
            debug: false,
            pubsub_node: String::new(),
            distribute_events: false,
            loc: sec.loc.clone(),
        };
        let mut component = false;
        for e in &sec.entries {
            let v = e.value.trim();
            let key = e.key.to_ascii_lowercase();
            let b = |errors: &mut Vec<ConfigError>| boolean(v, &key, &e.loc, errors);
            match key.as_str() {
                "type" => match v.to_ascii_lowercase().as_str() {
                    "client" => {}
                    "component" => component = true,
                    _ => errors.push(ConfigError::at(
                        &e.loc,
                        format!("type must be client or component, not '{v}'"),
                    )),
                },
                "username" => c.username = v.to_string(),
                "secret" => c.secret = v.to_string(),
                "serverhost" => c.serverhost = v.to_string(),
                "port" => match v.parse::<u16>() {
                    Ok(p) if p > 0 => c.port = p,
                    _ => errors.push(ConfigError::at(
                        &e.loc,
                        format!("port must be a number from 1 to 65535, not '{v}'"),
                    )),
                },
                "priority" => match v.parse::<u32>() {
                    // Unsigned, as in res_xmpp; XMPP allows up to 127.
                    Ok(p) if p <= 127 => c.priority = p as i32,
                    _ => errors.push(ConfigError::at(
                        &e.loc,
                        format!("priority must be a number from 0 to 127, not '{v}'"),
                    )),
                },
                "timeout" => match v.parse::<u32>() {
                    Ok(t) => c.timeout = t,
                    _ => errors.push(ConfigError::at(
                        &e.loc,
                        format!("timeout must be a number of seconds, not '{v}'"),
                    )),
                },
                "usetls" => c.usetls = b(&mut errors),
                "usesasl" => c.usesasl = b(&mut errors),
                "forceoldssl" => c.forceoldssl = b(&mut errors),
                "keepalive" => c.keepalive = b(&mut errors),
                "sendtodialplan" => c.sendtodialplan = b(&mut errors),
                "debug" => c.debug = b(&mut errors),
                "autoprune" => c.autoprune = b(&mut errors),
                "autoregister" => c.autoregister = b(&mut errors),
                "distribute_events" => c.distribute_events = b(&mut errors),
                "auth_policy" => c.auth_accept = auth_policy(v, &e.loc, &mut errors),
                "status" => match Show::from_config(v) {
                    Some(s) => c.status = s,
                    None => errors.push(ConfigError::at(
                        &e.loc,
                        format!(
                            "status must be one of chat, available, away, xaway, dnd, not '{v}'"
                        ),
                    )),
                },
                "statusmessage" => c.statusmessage = unquote(v).to_string(),
                "context" => c.context = v.to_string(),
                "buddy" => {
                    for b in v.split(',').map(str::trim).filter(|b| !b.is_empty()) {
                        if !b.contains('@') {
                            errors.push(ConfigError::at(
                                &e.loc,
                                format!("buddy must be a JID (user@domain), not '{b}'"),
                            ));
                        } else {
                            c.buddies.push(b.to_string());
                        }
                    }
                }
                "pubsub_node" => c.pubsub_node = v.to_string(),
                "refresh_token" | "oauth_clientid" | "oauth_secret" => warnings.push(format!(
                    "{}: {key}: Google OAuth is not supported; use a password (secret)",
                    e.loc
                )),
                k => warnings.push(match suggestion(k) {
                    Some(s) => format!(
                        "{}: unknown option '{k}' for connection '{}' in xmpp.conf, ignored (did you mean '{s}'?)",
                        e.loc, sec.name
                    ),
                    None => format!(
                        "{}: unknown option '{k}' for connection '{}' in xmpp.conf, ignored",
                        e.loc, sec.name
                    ),
                }),
            }
        }
        if component {
            warnings.push(format!(
                "{}: connection '{}': type=component is not supported, skipped",
                sec.loc, sec.name
            ));
            continue;
        }
        if c.username.is_empty() || !c.bare_jid().contains('@') {
            errors.push(ConfigError::at(
                &sec.loc,
                format!(
                    "connection '{}' needs username=user@domain (got '{}')",
                    sec.name, c.username
                ),
            ));
            continue;
        }
        if c.distribute_events {
            warnings.push(format!(
                "{}: connection '{}': distribute_events is not supported, ignored",
                sec.loc, sec.name
            ));
        }
        out.clients.push(c);
    }
    if errors.is_empty() {
        Ok((out, warnings))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn conf(text: &str) -> Result<(XmppConfig, Vec<String>), Vec<ConfigError>> {
        let cf = load_str(
            std::path::Path::new("/nonexistent"),
            "xmpp.conf",
            text,
            &LoadOptions::default(),
        )
        .expect("syntax");
        parse(&cf)
    }

    #[test]
    fn the_seed_account_reads_with_defaults() {
        let (c, w) = conf(
            "[general]\n[asterisk]\ntype=client\nserverhost=talk.google.com\n\
             username=asterisk@gmail.com\nsecret=pw\npriority=1\nport=5222\nusetls=yes\n\
             usesasl=yes\nstatus=available\nstatusmessage=\"Ohai from Asterisk\"\ntimeout=5\n",
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let a = c.client("ASTERISK").unwrap();
        assert_eq!(a.bare_jid(), "asterisk@gmail.com");
        assert_eq!(a.resource(), "asterisk-xmpp");
        assert_eq!(a.host(), "talk.google.com");
        assert_eq!(a.statusmessage, "Ohai from Asterisk");
        assert_eq!(a.context, "default");
        assert!(a.autoregister && !a.autoprune && a.auth_accept && a.keepalive);
        assert!(!a.sendtodialplan);
    }

    #[test]
    fn general_flags_are_inherited_and_overridden() {
        let (c, _) = conf(
            "[a]\nusername=a@x/desk\n[general]\nautoprune=yes\nauth_policy=deny\n\
             [b]\nusername=b@x\nautoprune=no\nbuddy=c@x\nbuddy=d@x, e@x\n",
        )
        .unwrap();
        let a = c.client("a").unwrap();
        assert!(a.autoprune && !a.auth_accept);
        assert_eq!(a.resource(), "desk");
        assert_eq!(a.host(), "x");
        let b = c.client("b").unwrap();
        assert!(!b.autoprune);
        assert_eq!(b.buddies, vec!["c@x", "d@x", "e@x"]);
    }

    #[test]
    fn bad_values_name_file_line_and_column() {
        let errs = conf("[a]\nusername=a@x\nstatus=busy\nport=http\nusetls=maybe\n").unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{text:?}");
        assert!(text[0].starts_with("xmpp.conf:3:"), "{text:?}");
        assert!(text[0].contains("status"));
        assert!(text[1].starts_with("xmpp.conf:4:"));
        assert!(text[2].starts_with("xmpp.conf:5:"));
        let errs = conf("[a]\nsecret=x\n").unwrap_err();
        assert!(errs[0].to_string().contains("username"));
    }

    #[test]
    fn unknown_options_warn_with_a_suggestion() {
        // The book's example has `contexts=`.
        let (c, w) = conf("[a]\nusername=a@x\ncontexts=IncomingMessages\n").unwrap();
        assert_eq!(c.client("a").unwrap().context, "default");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("xmpp.conf:3:"), "{w:?}");
        assert!(w[0].contains("did you mean 'context'"), "{w:?}");
        let (c, w) = conf("[comp]\ntype=component\nusername=x.y\n").unwrap();
        assert!(c.clients.is_empty());
        assert!(w[0].contains("component"));
    }
}
