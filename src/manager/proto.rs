//! The AMI protocol without sockets: framing (`Key: Value` lines, a blank line ends a
//! message), and one connection's state machine (login, challenge, logoff, which actions
//! it may run, which events it gets). Bytes go in, [`Out`] steps come out; the TCP edge
//! (`server.rs`) performs them. No clock is read here and nothing blocks.

use super::conf::{ManagerConf, User};
use crate::pbx::manager::{class, Message};
use md5::{Digest, Md5};
use std::net::IpAddr;

/// The banner's protocol version: Asterisk 20's AMI version.
pub const AMI_VERSION: &str = "9.0.0";

/// The line a client gets on connect.
pub fn banner() -> String {
    format!("Asterisk Call Manager/{AMI_VERSION}\r\n")
}

/// Longest line kept (longer ones are cut, as Asterisk dumps long lines).
pub const MAX_LINE: usize = 64 * 1024;
/// Headers kept per message (Asterisk's AST_MAX_MANHEADERS).
pub const MAX_HEADERS: usize = 128;

/// Splits a byte stream into messages.
#[derive(Default)]
pub struct Parser {
    buf: Vec<u8>,
    cur: Message,
    /// Lines cut because they were too long (the edge warns once).
    pub cut_lines: u64,
}

impl Parser {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, if the bytes fed so far hold one.
    pub fn next_message(&mut self) -> Option<Message> {
        loop {
            let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > MAX_LINE {
                    // A line without end: keep nothing of it but count it.
                    self.buf.clear();
                    self.cut_lines += 1;
                }
                return None;
            };
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > MAX_LINE {
                line.truncate(MAX_LINE);
                self.cut_lines += 1;
            }
            let line = String::from_utf8_lossy(&line);
            if line.trim().is_empty() {
                if self.cur.headers.is_empty() {
                    continue;
                }
                return Some(std::mem::take(&mut self.cur));
            }
            if self.cur.headers.len() >= MAX_HEADERS {
                continue;
            }
            // `Key: Value`; a line without a colon is kept whole as a key with no value
            // (Asterisk keeps it too, and nothing matches it).
            let (k, v) = match line.split_once(':') {
                Some((k, v)) => (k.trim(), v.strip_prefix(' ').unwrap_or(v)),
                None => (line.trim(), ""),
            };
            self.cur
                .headers
                .push((k.to_string(), v.trim_end().to_string()));
        }
    }
}

/// Log levels the edge maps onto the PBX's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Notice,
    /// A verbose line at this level.
    Verbose(u8),
}

/// One step for the edge to perform, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Send(Message),
    /// Run this registered action (the session may: it is logged in with the rights).
    Run(String, Message),
    Log(Level, String),
    /// Publish a security event with this name for `account`.
    Security(&'static str, String),
    /// A failed login: wait (as Asterisk's one-second sleep) before the error, then close.
    FailedLogin(Message),
    /// The login succeeded: start events, send `FullyBooted`.
    LoggedIn,
    Close,
}

/// One connection.
#[derive(Debug, Clone)]
pub struct Session {
    pub addr: IpAddr,
    /// The user once logged in.
    pub user: Option<String>,
    pub read: u32,
    pub write: u32,
    /// The classes of events the client asked for (`Events:` at login, `Events` action).
    pub event_mask: u32,
    challenge: Option<String>,
}

impl Session {
    pub fn new(addr: IpAddr) -> Session {
        Session {
            addr,
            user: None,
            read: 0,
            write: 0,
            event_mask: class::ALL,
            challenge: None,
        }
    }

    pub fn authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// Asterisk's `strings_to_mask`: `on`/`yes` every class, `off`/`no` none, a number,
    /// or a class list.
    pub fn parse_event_mask(v: &str) -> u32 {
        let t = v.trim();
        if crate::config::is_true(t) {
            return class::ALL;
        }
        if crate::config::is_false(t) {
            return 0;
        }
        if let Ok(n) = t.parse::<u32>() {
            return n;
        }
        super::conf::parse_classes(t).0
    }

    /// Whether an event of `classes` is for this client (its text for `eventfilter`).
    pub fn wants_event(&self, classes: u32, conf_user: Option<&User>, text: &str) -> bool {
        self.authenticated()
            && classes & self.read != 0
            && classes & self.event_mask != 0
            && conf_user.is_none_or(|u| u.filter_passes(text))
    }

    /// One request. `privilege(action)` gives a registered action's needed classes
    /// (`None`: no such action); `nonce` makes a challenge.
    pub fn handle(
        &mut self,
        req: Message,
        conf: &ManagerConf,
        privilege: &dyn Fn(&str) -> Option<u32>,
        nonce: &mut dyn FnMut() -> String,
    ) -> Vec<Out> {
        let action = req.value("Action").trim().to_string();
        if action.is_empty() {
            return vec![Out::Send(Message::error(&req, "Missing action in request"))];
        }
        let lower = action.to_ascii_lowercase();
        match lower.as_str() {
            "login" => return self.login(req, conf),
            "challenge" => {
                if !req.value("AuthType").eq_ignore_ascii_case("md5") {
                    return vec![Out::Send(Message::error(&req, "Must specify AuthType"))];
                }
                let c = self.challenge.get_or_insert_with(&mut *nonce).clone();
                let mut m = Message::response("Success", &req, "");
                m.push("Challenge", c);
                return vec![Out::Send(m)];
            }
            "logoff" => {
                let mut out = vec![Out::Send(Message::response(
                    "Goodbye",
                    &req,
                    "Thanks for all the fish.",
                ))];
                if let Some(u) = &self.user {
                    if conf.user(u).is_none_or(|u| u.displayconnects) {
                        out.push(Out::Log(
                            Level::Verbose(2),
                            format!("Manager '{u}' logged off from {}", self.addr),
                        ));
                    }
                }
                out.push(Out::Close);
                return out;
            }
            _ => {}
        }
        if !self.authenticated() {
            return vec![Out::Send(Message::error(&req, "Permission denied"))];
        }
        if lower == "events" {
            let mask = Session::parse_event_mask(req.value("EventMask"));
            self.event_mask = mask;
            let mut m = Message::response("Success", &req, "");
            m.push("Events", if mask != 0 { "On" } else { "Off" });
            return vec![Out::Send(m)];
        }
        match privilege(&action) {
            None => vec![Out::Send(Message::error(
                &req,
                &format!(
                    "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
                ),
            ))],
            Some(p) if p & self.write != p => {
                vec![Out::Send(Message::error(&req, "Permission denied"))]
            }
            Some(_) => vec![Out::Run(action, req)],
        }
    }

    fn login(&mut self, req: Message, conf: &ManagerConf) -> Vec<Out> {
        if self.authenticated() {
            return vec![Out::Send(Message::ack(&req, "Already authenticated"))];
        }
        let name = req.value("Username").to_string();
        let fail = |out: &mut Vec<Out>, req: &Message| {
            out.push(Out::FailedLogin(Message::error(
                req,
                "Authentication failed",
            )));
        };
        let mut out = Vec::new();
        let Some(user) = conf.user(&name) else {
            out.push(Out::Log(
                Level::Notice,
                format!(
                    "{} tried to authenticate with nonexistent user '{name}'",
                    self.addr
                ),
            ));
            out.push(Out::Security("InvalidAccountID", name.clone()));
            fail(&mut out, &req);
            return out;
        };
        if !user.permits(self.addr) {
            out.push(Out::Log(
                Level::Notice,
                format!("{} failed to pass IP ACL as '{name}'", self.addr),
            ));
            out.push(Out::Security("FailedACL", name.clone()));
            fail(&mut out, &req);
            return out;
        }
        let ok = if req.value("AuthType").eq_ignore_ascii_case("md5") {
            match &self.challenge {
                Some(c) if !user.secret.is_empty() => {
                    let want = hex(&Md5::digest(format!("{c}{}", user.secret)));
                    req.value("Key").eq_ignore_ascii_case(&want)
                }
                _ => false,
            }
        } else {
            !user.secret.is_empty() && req.value("Secret") == user.secret
        };
        if !ok {
            out.push(Out::Log(
                Level::Notice,
                format!("{} failed to authenticate as '{name}'", self.addr),
            ));
            let ev = if self.challenge.is_some() {
                "ChallengeResponseFailed"
            } else {
                "InvalidPassword"
            };
            out.push(Out::Security(ev, name.clone()));
            fail(&mut out, &req);
            return out;
        }
        self.user = Some(user.name.clone());
        self.read = user.read;
        self.write = user.write;
        if let Some(e) = req.get("Events") {
            self.event_mask = Session::parse_event_mask(e);
        }
        if user.displayconnects {
            out.push(Out::Log(
                Level::Verbose(2),
                format!("Manager '{}' logged on from {}", user.name, self.addr),
            ));
        }
        out.push(Out::Security("SuccessfulAuth", user.name.clone()));
        out.push(Out::Send(Message::ack(&req, "Authentication accepted")));
        out.push(Out::LoggedIn);
        out
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn conf() -> ManagerConf {
        let cf = load_str(
            std::path::Path::new("/nonexistent"),
            "manager.conf",
            "[admin]\nsecret=pw\ndeny=0.0.0.0/0\npermit=127.0.0.1\nread=call,system\nwrite=system,command\n",
            &LoadOptions::default(),
        )
        .unwrap();
        super::super::conf::parse(&cf).unwrap().0
    }

    fn msg(pairs: &[(&str, &str)]) -> Message {
        let mut m = Message::new();
        for (k, v) in pairs {
            m.push(k, *v);
        }
        m
    }

    fn run(s: &mut Session, m: Message) -> Vec<Out> {
        let privs = |a: &str| match a.to_ascii_lowercase().as_str() {
            "ping" => Some(0),
            "originate" => Some(class::ORIGINATE),
            _ => None,
        };
        s.handle(m, &conf(), &privs, &mut || "1234".to_string())
    }

    fn sent(o: &[Out]) -> String {
        o.iter()
            .filter_map(|o| match o {
                Out::Send(m) | Out::FailedLogin(m) => Some(m.to_wire()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn framing_handles_crlf_lf_split_and_garbage() {
        let mut p = Parser::default();
        p.feed(b"Action: Ping\r\nActionID: 1\r\n\r\nAction: Log");
        let m = p.next_message().unwrap();
        assert_eq!(m.get("action"), Some("Ping"));
        assert_eq!(m.get("ActionID"), Some("1"));
        assert!(p.next_message().is_none());
        p.feed(b"off\nnonsense line\n\n\r\n\xff\xfe: x\n\n");
        let m = p.next_message().unwrap();
        assert_eq!(m.get("Action"), Some("Logoff"));
        assert_eq!(m.headers.len(), 2);
        let m = p.next_message().unwrap();
        assert_eq!(m.headers.len(), 1);
        assert!(p.next_message().is_none());
        p.feed(&vec![b'a'; MAX_LINE + 10]);
        assert!(p.next_message().is_none());
        assert_eq!(p.cut_lines, 1);
    }

    #[test]
    fn nothing_before_login_and_unknown_actions() {
        let mut s = Session::new("127.0.0.1".parse().unwrap());
        let o = run(&mut s, msg(&[("Action", "Ping"), ("ActionID", "7")]));
        assert_eq!(
            sent(&o),
            "Response: Error\r\nActionID: 7\r\nMessage: Permission denied\r\n\r\n"
        );
        let o = run(&mut s, msg(&[("Foo", "bar")]));
        assert!(sent(&o).contains("Missing action in request"));
        let o = run(
            &mut s,
            msg(&[("Action", "Login"), ("Username", "admin"), ("Secret", "pw")]),
        );
        assert!(sent(&o).contains("Message: Authentication accepted"));
        assert!(o.contains(&Out::LoggedIn));
        assert!(o.contains(&Out::Log(
            Level::Verbose(2),
            "Manager 'admin' logged on from 127.0.0.1".into()
        )));
        let o = run(&mut s, msg(&[("Action", "Frob")]));
        assert!(sent(&o).contains("Invalid/unknown command: Frob. Use Action: ListCommands"));
        let o = run(&mut s, msg(&[("Action", "ping")]));
        assert!(matches!(&o[..], [Out::Run(a, _)] if a == "ping"));
        let o = run(&mut s, msg(&[("Action", "Originate")]));
        assert!(sent(&o).contains("Permission denied"));
        let o = run(&mut s, msg(&[("Action", "Logoff")]));
        assert!(sent(&o).starts_with("Response: Goodbye\r\nMessage: Thanks for all the fish."));
        assert_eq!(o.last(), Some(&Out::Close));
    }

    #[test]
    fn failed_logins_log_as_asterisk() {
        let mut s = Session::new("127.0.0.1".parse().unwrap());
        let o = run(
            &mut s,
            msg(&[("Action", "Login"), ("Username", "x"), ("Secret", "pw")]),
        );
        assert!(o.contains(&Out::Log(
            Level::Notice,
            "127.0.0.1 tried to authenticate with nonexistent user 'x'".into()
        )));
        assert!(o.contains(&Out::Security("InvalidAccountID", "x".into())));
        assert!(sent(&o).contains("Authentication failed"));
        let o = run(
            &mut s,
            msg(&[("Action", "Login"), ("Username", "admin"), ("Secret", "no")]),
        );
        assert!(o.contains(&Out::Log(
            Level::Notice,
            "127.0.0.1 failed to authenticate as 'admin'".into()
        )));
        assert!(!s.authenticated());
        let mut far = Session::new("10.1.1.1".parse().unwrap());
        let o = run(
            &mut far,
            msg(&[("Action", "Login"), ("Username", "admin"), ("Secret", "pw")]),
        );
        assert!(o.contains(&Out::Security("FailedACL", "admin".into())));
    }

    #[test]
    fn md5_challenge_login() {
        let mut s = Session::new("127.0.0.1".parse().unwrap());
        let o = run(&mut s, msg(&[("Action", "Challenge"), ("AuthType", "MD5")]));
        assert!(sent(&o).contains("Challenge: 1234"));
        let key = hex(&Md5::digest(b"1234pw"));
        let o = run(
            &mut s,
            msg(&[
                ("Action", "Login"),
                ("AuthType", "md5"),
                ("Username", "admin"),
                ("Key", &key),
                ("Events", "off"),
            ]),
        );
        assert!(sent(&o).contains("Authentication accepted"), "{o:?}");
        assert_eq!(s.event_mask, 0);
    }

    #[test]
    fn event_classes_filter() {
        let mut s = Session::new("127.0.0.1".parse().unwrap());
        assert!(!s.wants_event(class::CALL, None, ""));
        run(
            &mut s,
            msg(&[
                ("Action", "Login"),
                ("Username", "admin"),
                ("Secret", "pw"),
                ("Events", "call"),
            ]),
        );
        assert!(s.wants_event(class::CALL, None, ""));
        assert!(!s.wants_event(class::SYSTEM, None, ""), "not asked for");
        assert!(!s.wants_event(class::DIALPLAN, None, ""));
        let o = run(&mut s, msg(&[("Action", "Events"), ("EventMask", "off")]));
        assert!(sent(&o).contains("Events: Off"));
        assert!(!s.wants_event(class::CALL, None, ""));
        run(&mut s, msg(&[("Action", "Events"), ("EventMask", "on")]));
        assert!(s.wants_event(class::SYSTEM | class::CALL, None, ""));
        assert!(!s.wants_event(class::SECURITY, None, ""), "not readable");
    }
}
