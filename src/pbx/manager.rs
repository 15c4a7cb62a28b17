//! Manager (AMI) actions as the core holds them, as Asterisk's `ast_manager_register2`:
//! modules register the actions they answer (chan_sip its `SIPpeers`, the manager its
//! own `Login`, `Originate`, …) into [`Pbx::manager_actions`], and `manager.conf`'s
//! connections (the `manager.so` module) look them up by name. Also the AMI message type
//! ([`Message`]: ordered `Key: Value` headers) and Asterisk's permission classes.
//!
//! This file knows no socket and no module; it never parses manager.conf.

use super::Pbx;
use async_trait::async_trait;
use std::sync::Arc;

/// Asterisk's manager permission classes (`EVENT_FLAG_*`), in `authority_to_str` order.
pub mod class {
    pub const SYSTEM: u32 = 1 << 0;
    pub const CALL: u32 = 1 << 1;
    pub const LOG: u32 = 1 << 2;
    pub const VERBOSE: u32 = 1 << 3;
    pub const COMMAND: u32 = 1 << 4;
    pub const AGENT: u32 = 1 << 5;
    pub const USER: u32 = 1 << 6;
    pub const CONFIG: u32 = 1 << 7;
    pub const DTMF: u32 = 1 << 8;
    pub const REPORTING: u32 = 1 << 9;
    pub const CDR: u32 = 1 << 10;
    pub const DIALPLAN: u32 = 1 << 11;
    pub const ORIGINATE: u32 = 1 << 12;
    pub const AGI: u32 = 1 << 13;
    pub const CC: u32 = 1 << 15;
    pub const AOC: u32 = 1 << 16;
    pub const TEST: u32 = 1 << 17;
    pub const SECURITY: u32 = 1 << 18;
    pub const MESSAGE: u32 = 1 << 19;
    /// Every class (`all`).
    pub const ALL: u32 = u32::MAX >> 1;

    /// The class names manager.conf's `read`/`write` take, with their bits.
    pub const NAMES: &[(&str, u32)] = &[
        ("system", SYSTEM),
        ("call", CALL),
        ("log", LOG),
        ("verbose", VERBOSE),
        ("command", COMMAND),
        ("agent", AGENT),
        ("user", USER),
        ("config", CONFIG),
        ("dtmf", DTMF),
        ("reporting", REPORTING),
        ("cdr", CDR),
        ("dialplan", DIALPLAN),
        ("originate", ORIGINATE),
        ("agi", AGI),
        ("cc", CC),
        ("aoc", AOC),
        ("test", TEST),
        ("security", SECURITY),
        ("message", MESSAGE),
    ];

    /// Asterisk's `authority_to_str`: the names of the classes set, then `all`
    /// (`call,all`); `<none>` for none.
    pub fn to_str(mask: u32) -> String {
        if mask == 0 {
            return "<none>".into();
        }
        let mut v: Vec<&str> = NAMES
            .iter()
            .filter(|(_, b)| mask & b != 0)
            .map(|(n, _)| *n)
            .collect();
        v.push("all");
        v.join(",")
    }

    /// The bit of one class name (`all` is every class); `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<u32> {
        let n = name.trim().to_ascii_lowercase();
        if n == "all" {
            return Some(ALL);
        }
        NAMES.iter().find(|(k, _)| *k == n).map(|(_, b)| *b)
    }
}

/// One AMI message: headers in order, keys compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, String)>,
}

impl Message {
    pub fn new() -> Message {
        Message::default()
    }
    /// A response: `Response: <kind>` (`Success`, `Error`, `Goodbye`, `Follows`), the
    /// request's `ActionID` when it has one, then `Message:` when `text` is not empty.
    pub fn response(kind: &str, req: &Message, text: &str) -> Message {
        let mut m = Message::new().with("Response", kind);
        if let Some(id) = req.get("ActionID") {
            m.push("ActionID", id);
        }
        if !text.is_empty() {
            m.push("Message", text);
        }
        m
    }
    /// `Response: Success` with `Message: text`.
    pub fn ack(req: &Message, text: &str) -> Message {
        Message::response("Success", req, text)
    }
    /// `Response: Error` with `Message: text`.
    pub fn error(req: &Message, text: &str) -> Message {
        Message::response("Error", req, text)
    }
    /// An event (`Event: name`), with the request's `ActionID` when answering one.
    pub fn event(name: &str, req: Option<&Message>) -> Message {
        let mut m = Message::new().with("Event", name);
        if let Some(id) = req.and_then(|r| r.get("ActionID")) {
            m.push("ActionID", id);
        }
        m
    }
    pub fn push(&mut self, k: &str, v: impl Into<String>) {
        self.headers.push((k.to_string(), v.into()));
    }
    pub fn with(mut self, k: &str, v: impl Into<String>) -> Message {
        self.push(k, v);
        self
    }
    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
    /// `key`'s value, empty when absent.
    pub fn value(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }
    /// Every value of `key`, in order (`Variable:` may repeat).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
    /// The wire form: `Key: Value\r\n` lines and the blank line that ends the message.
    pub fn to_wire(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.headers {
            s.push_str(k);
            s.push_str(": ");
            // A value never breaks the framing: line breaks inside it become spaces.
            if v.contains(['\r', '\n']) {
                s.push_str(&v.replace(['\r', '\n'], " "));
            } else {
                s.push_str(v);
            }
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s
    }
}

/// What an action sends back: the response first, then any events (a list's items and
/// its `…Complete` event).
pub type Reply = Vec<Message>;

/// Who asked: the logged-in user, and where events sent later go (`OriginateResponse`).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: String,
    /// The connection's address (`127.0.0.1`).
    pub addr: String,
    /// The user's write classes.
    pub write: u32,
    /// The connection's queue, for events that come after the response.
    pub later: Option<tokio::sync::mpsc::Sender<Message>>,
}

/// One manager action.
#[async_trait]
pub trait Action: Send + Sync {
    /// The action's name as clients send it (`SIPpeers`).
    fn name(&self) -> &'static str;
    /// The write classes a user needs ([`class`] bits; 0: every logged-in user).
    fn privilege(&self) -> u32;
    /// One line for `ListCommands` and `manager show commands`.
    fn synopsis(&self) -> &'static str;
    /// Longer help for `manager show command`.
    fn description(&self) -> &'static str {
        ""
    }
    async fn run(&self, pbx: &Arc<Pbx>, caller: &Caller, req: &Message) -> Reply;
}

/// The registered actions, by name (case-insensitive look-up, as Asterisk's).
pub type ActionRegistry = super::module::Registry<dyn Action>;

/// Runs a CLI command line and returns what it prints (the `Command` action). The
/// console installs it when it starts (`cli::new_state`): the manager runs commands
/// without naming the console.
pub struct CommandRunner(pub Arc<dyn Fn(String) -> TextFuture + Send + Sync>);

/// What a [`CommandRunner`] returns.
pub type TextFuture = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

impl CommandRunner {
    pub async fn run(pbx: &Pbx, line: &str) -> Option<String> {
        let r = pbx.service::<CommandRunner>()?;
        Some((r.0)(line.to_string()).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_print_as_asterisk() {
        assert_eq!(class::to_str(class::CALL), "call,all");
        assert_eq!(
            class::to_str(class::SYSTEM | class::REPORTING),
            "system,reporting,all"
        );
        assert_eq!(class::from_name("Originate"), Some(class::ORIGINATE));
        assert_eq!(class::from_name("nope"), None);
    }

    #[test]
    fn response_echoes_action_id_and_frames() {
        let req = Message::new().with("Action", "Ping").with("actionid", "42");
        let m = Message::ack(&req, "x\r\ny");
        assert_eq!(
            m.to_wire(),
            "Response: Success\r\nActionID: 42\r\nMessage: x  y\r\n\r\n"
        );
    }
}
