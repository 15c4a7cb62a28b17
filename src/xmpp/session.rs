//! One XMPP client session (RFC 6120/6121) as a state machine without I/O: bytes and
//! instants go in ([`Session::receive`], [`Session::tick`]), [`Output`]s come out
//! ([`Session::poll`]): text to write, "start TLS now", "connected", an incoming message,
//! or why the connection must be dropped. The caller owns the socket.
//!
//! The order is res_xmpp's: stream header → STARTTLS (`usetls`) → SASL (`usesasl`:
//! SCRAM-SHA-1, else PLAIN; without SASL the legacy `jabber:iq:auth` digest) → resource
//! bind (+ session where the server requires it) → roster → presence. The roster and
//! every buddy's resources (with their status) are kept here; pings are answered and, with
//! `keepalive`, sent after a quiet minute.

use super::sasl::{self, Scram};
use super::xml::{Element, StreamEvent, StreamParser};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const NS_CLIENT: &str = "jabber:client";
pub const NS_STREAM: &str = "http://etherx.jabber.org/streams";
pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const NS_ROSTER: &str = "jabber:iq:roster";
pub const NS_AUTH: &str = "jabber:iq:auth";
pub const NS_PING: &str = "urn:xmpp:ping";
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";
pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const NS_PUBSUB_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";

/// Quiet time after which a keepalive ping goes to the server (res_xmpp: 50 one-second
/// polls).
pub const KEEPALIVE: Duration = Duration::from_secs(50);
/// A ping unanswered this long means the connection is dead.
pub const PING_TIMEOUT: Duration = Duration::from_secs(30);

/// A presence `<show>` (the numbers are JABBER_STATUS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Show {
    Available = 1,
    Chat = 2,
    Away = 3,
    Xa = 4,
    Dnd = 5,
}

impl Show {
    /// xmpp.conf's `status` values (`xaway` is res_xmpp's name for `xa`).
    pub fn from_config(s: &str) -> Option<Show> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "available" => Show::Available,
            "chat" => Show::Chat,
            "away" => Show::Away,
            "xaway" | "xa" => Show::Xa,
            "dnd" => Show::Dnd,
            _ => return None,
        })
    }

    /// The `<show>` text (none for available).
    pub fn wire(self) -> Option<&'static str> {
        match self {
            Show::Available => None,
            Show::Chat => Some("chat"),
            Show::Away => Some("away"),
            Show::Xa => Some("xa"),
            Show::Dnd => Some("dnd"),
        }
    }

    fn from_wire(s: &str) -> Show {
        match s.trim() {
            "chat" => Show::Chat,
            "away" => Show::Away,
            "xa" => Show::Xa,
            "dnd" => Show::Dnd,
            _ => Show::Available,
        }
    }
}

/// JABBER_STATUS of a buddy with no resource online.
pub const STATUS_OFFLINE: u8 = 6;
/// JABBER_STATUS of a JID not in the roster.
pub const STATUS_NOT_IN_ROSTER: u8 = 7;

/// What the session needs to know about its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Bare JID `local@domain`.
    pub user: String,
    /// Resource to bind (`asterisk-xmpp` when the username names none).
    pub resource: String,
    pub password: String,
    pub use_tls: bool,
    pub use_sasl: bool,
    pub priority: i32,
    pub status: Show,
    pub status_message: String,
    /// `buddy` lines.
    pub buddies: Vec<String>,
    pub autoregister: bool,
    pub autoprune: bool,
    /// `auth_policy=accept`.
    pub auth_accept: bool,
    pub keepalive: bool,
}

impl SessionConfig {
    /// The domain part of the user's JID.
    pub fn domain(&self) -> &str {
        self.user
            .split_once('@')
            .map(|(_, d)| d)
            .unwrap_or(&self.user)
    }
    /// The local part.
    pub fn local(&self) -> &str {
        self.user.split_once('@').map(|(l, _)| l).unwrap_or("")
    }
}

/// Where the session is (res_xmpp's states, with its names for `xmpp show connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Disconnected,
    Connecting,
    RequestTls,
    RequestedTls,
    Authenticate,
    Authenticating,
    Roster,
    Connected,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Disconnected => "Disconnected",
            State::Connecting => "Connecting",
            State::RequestTls => "Waiting to request TLS",
            State::RequestedTls => "Requested TLS",
            State::Authenticate => "Waiting to authenticate",
            State::Authenticating => "Authenticating",
            State::Roster => "Retrieving roster",
            State::Connected => "Connected",
        }
    }
}

/// A chat message that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Full JID of the sender.
    pub from: String,
    pub to: String,
    pub id: String,
    /// `chat`, `normal`, `groupchat`, `headline`.
    pub kind: String,
    pub body: String,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write this text.
    Send(String),
    /// Start TLS on the socket now, then call [`Session::tls_established`].
    StartTls,
    /// The session is up (roster received, presence sent).
    Connected,
    /// A message with a body arrived.
    Message(Incoming),
    /// Something for the log (presence from a stranger, a refused subscription).
    Notice(String),
    /// Authentication was refused: drop the connection, retry later.
    AuthFailed(String),
    /// Drop the connection (stream error, bad XML, dead peer).
    Failed(String),
}

/// One online resource of a buddy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub show: Show,
    pub priority: i32,
    pub description: String,
    pub node: String,
    pub version: String,
}

/// A roster entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buddy {
    /// Bare JID.
    pub jid: String,
    /// Their presence still has to be asked for.
    pub subscribe: bool,
    /// Online resources, highest priority first.
    pub resources: Vec<Resource>,
}

/// Split `local@domain/resource` into the bare JID and the resource.
pub fn split_jid(jid: &str) -> (&str, Option<&str>) {
    match jid.split_once('/') {
        Some((b, r)) => (b, Some(r)),
        None => (jid, None),
    }
}

fn same_bare(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

enum Auth {
    None,
    Scram(Box<Scram>),
    Plain,
    Legacy,
}

/// The session state machine.
pub struct Session {
    cfg: SessionConfig,
    state: State,
    parser: StreamParser,
    out: VecDeque<Output>,
    stream_id: String,
    /// The bound full JID.
    jid: String,
    auth: Auth,
    secure: bool,
    need_session: bool,
    buddies: Vec<Buddy>,
    next_id: u64,
    last_rx: Instant,
    ping_sent: Option<(String, Instant)>,
    cnonce: String,
}

impl Session {
    /// A disconnected session. `cnonce` seeds SCRAM's client nonce (random in production,
    /// fixed in tests).
    pub fn new(cfg: SessionConfig, cnonce: &str, now: Instant) -> Session {
        let buddies = cfg
            .buddies
            .iter()
            .map(|b| Buddy {
                jid: b.clone(),
                subscribe: true,
                resources: Vec::new(),
            })
            .collect();
        let jid = format!("{}/{}", cfg.user, cfg.resource);
        Session {
            cfg,
            state: State::Disconnected,
            parser: StreamParser::new(),
            out: VecDeque::new(),
            stream_id: String::new(),
            jid,
            auth: Auth::None,
            secure: false,
            need_session: false,
            buddies,
            next_id: 0,
            last_rx: now,
            ping_sent: None,
            cnonce: cnonce.to_string(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// The full JID (the server's, once bound).
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Whether the stream is encrypted.
    pub fn secure(&self) -> bool {
        self.secure
    }

    pub fn buddies(&self) -> &[Buddy] {
        &self.buddies
    }

    /// Take the next output.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Take a new configuration (a reload). When connected, presence is sent again and
    /// new buddies are subscribed to (with autoregister), as res_xmpp does.
    pub fn reconfigure(&mut self, cfg: SessionConfig) {
        for b in &cfg.buddies {
            if !self.buddies.iter().any(|x| same_bare(&x.jid, b)) {
                self.buddies.push(Buddy {
                    jid: b.clone(),
                    subscribe: true,
                    resources: Vec::new(),
                });
            }
        }
        self.cfg = cfg;
        if self.state == State::Connected {
            self.send_presence();
            if self.cfg.autoregister {
                self.subscribe_buddies();
            }
        }
    }

    /// The TCP connection is up: send the stream header.
    pub fn connect(&mut self, now: Instant) {
        self.parser.reset();
        self.out.clear();
        self.secure = false;
        self.auth = Auth::None;
        self.need_session = false;
        self.ping_sent = None;
        self.last_rx = now;
        self.jid = format!("{}/{}", self.cfg.user, self.cfg.resource);
        for b in &mut self.buddies {
            b.resources.clear();
        }
        self.state = if self.cfg.use_tls {
            State::RequestTls
        } else {
            State::Authenticate
        };
        self.send_header();
    }

    /// The connection is gone.
    pub fn disconnected(&mut self) {
        self.state = State::Disconnected;
        self.parser.reset();
        self.ping_sent = None;
        for b in &mut self.buddies {
            b.resources.clear();
        }
    }

    /// TLS is up after `StartTls`: restart the stream.
    pub fn tls_established(&mut self) {
        self.secure = true;
        self.parser.reset();
        self.state = State::Authenticate;
        self.send_header();
    }

    fn send_header(&mut self) {
        self.out.push_back(Output::Send(format!(
            "<?xml version='1.0'?><stream:stream xmlns:stream='{NS_STREAM}' xmlns='{NS_CLIENT}' to='{}' version='1.0'>",
            self.cfg.domain()
        )));
    }

    fn send(&mut self, e: Element) {
        self.out.push_back(Output::Send(e.to_xml()));
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("fk{}", self.next_id)
    }

    fn fail(&mut self, why: String) {
        self.state = State::Disconnected;
        self.out.push_back(Output::Failed(why));
    }

    /// Bytes from the socket.
    pub fn receive(&mut self, data: &[u8], now: Instant) {
        if self.state == State::Disconnected {
            return;
        }
        self.last_rx = now;
        self.parser.feed(data);
        loop {
            match self.parser.next_event() {
                Ok(Some(StreamEvent::Header(h))) => {
                    self.stream_id = h.get_attr("id").unwrap_or_default().to_string();
                }
                Ok(Some(StreamEvent::Stanza(e))) => {
                    // Nothing after <proceed/> is plaintext we may read.
                    let tls = e.local_name() == "proceed";
                    self.stanza(e);
                    if tls || self.state == State::Disconnected {
                        return;
                    }
                }
                Ok(Some(StreamEvent::End)) => {
                    self.fail("the server closed the stream".into());
                    return;
                }
                Ok(None) => return,
                Err(e) => {
                    self.fail(format!("{e}"));
                    return;
                }
            }
        }
    }

    /// Time passes: keepalive pings and the dead-peer check.
    pub fn tick(&mut self, now: Instant) {
        if self.state != State::Connected {
            return;
        }
        if let Some((_, sent)) = &self.ping_sent {
            if now.duration_since(*sent) >= PING_TIMEOUT {
                self.fail("no answer to a keepalive ping".into());
            }
            return;
        }
        if self.cfg.keepalive && now.duration_since(self.last_rx) >= KEEPALIVE {
            self.ping_server(now);
        }
    }

    /// The next instant [`Session::tick`] has something to do.
    pub fn next_tick(&self, now: Instant) -> Instant {
        match &self.ping_sent {
            Some((_, sent)) => *sent + PING_TIMEOUT,
            None if self.cfg.keepalive && self.state == State::Connected => {
                (self.last_rx + KEEPALIVE).max(now)
            }
            None => now + KEEPALIVE,
        }
    }

    /// Ping the server now.
    pub fn ping_server(&mut self, now: Instant) {
        let id = self.id();
        let to = self.cfg.domain().to_string();
        let iq = Element::new("iq")
            .attr("type", "get")
            .attr("id", &id)
            .attr("to", &to)
            .attr("from", &self.jid.clone())
            .child(Element::new("ping").ns(NS_PING));
        self.send(iq);
        self.ping_sent = Some((id, now));
    }

    fn stanza(&mut self, e: Element) {
        match e.local_name() {
            "features" => self.features(&e),
            "error" if e.name.starts_with("stream") => {
                let cond = e
                    .elements()
                    .find(|c| c.local_name() != "text")
                    .map(|c| c.local_name().to_string())
                    .unwrap_or_else(|| "undefined-condition".into());
                let text = e.child_text("text").unwrap_or_default();
                self.fail(format!(
                    "stream error: {cond}{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(" ({text})")
                    }
                ));
            }
            "proceed" if self.state == State::RequestedTls => {
                self.out.push_back(Output::StartTls);
            }
            "failure" if e.xmlns() == Some(NS_TLS) => {
                self.fail("the server refused STARTTLS".into());
            }
            "challenge" => self.challenge(&e),
            "success" => self.success(&e),
            "failure" => {
                let cond = e
                    .elements()
                    .next()
                    .map(|c| c.local_name().to_string())
                    .unwrap_or_else(|| "not-authorized".into());
                self.state = State::Disconnected;
                self.out.push_back(Output::AuthFailed(cond));
            }
            "iq" => self.iq(&e),
            "message" => self.message(&e),
            "presence" => self.presence(&e),
            _ => {}
        }
    }

    fn features(&mut self, f: &Element) {
        match self.state {
            State::RequestTls => {
                if f.find_ns("starttls", NS_TLS).is_some() {
                    self.send(Element::new("starttls").ns(NS_TLS));
                    self.state = State::RequestedTls;
                } else {
                    self.fail("the server does not offer STARTTLS (usetls=yes)".into());
                }
            }
            State::Authenticate => self.authenticate(f),
            State::Authenticating => {
                if f.find_ns("bind", NS_BIND).is_some() {
                    self.need_session = f
                        .find_ns("session", NS_SESSION)
                        .is_some_and(|s| s.find("optional").is_none());
                    let iq = Element::new("iq")
                        .attr("type", "set")
                        .attr("id", "bind")
                        .child(
                            Element::new("bind")
                                .ns(NS_BIND)
                                .child(Element::new("resource").text(&self.cfg.resource)),
                        );
                    self.send(iq);
                } else {
                    self.fail("the server offers no resource binding".into());
                }
            }
            _ => {}
        }
    }

    fn authenticate(&mut self, f: &Element) {
        if !self.cfg.use_sasl {
            let digest = sasl::legacy_digest(&self.stream_id, &self.cfg.password);
            let q = Element::new("query")
                .ns(NS_AUTH)
                .child(Element::new("username").text(self.cfg.local()))
                .child(Element::new("digest").text(&digest))
                .child(Element::new("resource").text(&self.cfg.resource));
            let iq = Element::new("iq")
                .attr("type", "set")
                .attr("id", "auth")
                .child(q);
            self.send(iq);
            self.auth = Auth::Legacy;
            self.state = State::Authenticating;
            return;
        }
        let mechs: Vec<String> = f
            .find_ns("mechanisms", NS_SASL)
            .map(|m| {
                m.elements()
                    .filter(|e| e.local_name() == "mechanism")
                    .map(|e| e.text_content().trim().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let local = self.cfg.local().to_string();
        if mechs.iter().any(|m| m == "SCRAM-SHA-1") {
            let s = Scram::new(&local, &self.cfg.password, &self.cnonce);
            let first = s.first();
            self.send(
                Element::new("auth")
                    .ns(NS_SASL)
                    .attr("mechanism", "SCRAM-SHA-1")
                    .text(&first),
            );
            self.auth = Auth::Scram(Box::new(s));
        } else if mechs.iter().any(|m| m == "PLAIN") {
            let p = sasl::plain(&local, &self.cfg.password);
            self.send(
                Element::new("auth")
                    .ns(NS_SASL)
                    .attr("mechanism", "PLAIN")
                    .text(&p),
            );
            self.auth = Auth::Plain;
        } else {
            self.fail(format!(
                "the server offers no SASL mechanism we support ({})",
                if mechs.is_empty() {
                    "none".to_string()
                } else {
                    mechs.join(" ")
                }
            ));
            return;
        }
        self.state = State::Authenticating;
    }

    fn challenge(&mut self, e: &Element) {
        let Auth::Scram(s) = &mut self.auth else {
            self.fail("unexpected SASL challenge".into());
            return;
        };
        match s.answer(&e.text_content()) {
            Ok(resp) => self.send(Element::new("response").ns(NS_SASL).text(&resp)),
            Err(why) => {
                self.send(Element::new("abort").ns(NS_SASL));
                self.fail(format!("SCRAM-SHA-1: {why}"));
            }
        }
    }

    fn success(&mut self, e: &Element) {
        if let Auth::Scram(s) = &self.auth {
            if !s.verify(&e.text_content()) {
                self.fail("the server did not prove it knows the password (SCRAM)".into());
                return;
            }
        }
        // Restart the stream; the new features offer binding.
        self.parser.reset();
        self.send_header();
    }

    fn after_bind(&mut self) {
        let iq = Element::new("iq")
            .attr("type", "get")
            .attr("id", "roster")
            .child(Element::new("query").ns(NS_ROSTER));
        self.send(iq);
        self.send_presence();
        self.state = State::Roster;
    }

    /// Our presence, as res_xmpp sends it (priority, caps).
    fn send_presence(&mut self) {
        let mut p = Element::new("presence");
        if let Some(show) = self.cfg.status.wire() {
            p = p.child(Element::new("show").text(show));
        }
        p = p
            .child(Element::new("status").text(&self.cfg.status_message))
            .child(Element::new("priority").text(&self.cfg.priority.to_string()))
            .child(
                Element::new("c")
                    .ns(NS_CAPS)
                    .attr("node", "http://www.asterisk.org/xmpp/client/caps")
                    .attr("ver", "asterisk-xmpp")
                    .attr("ext", "voice-v1 video-v1 camera-v1"),
            );
        self.send(p);
    }

    fn subscribe_buddies(&mut self) {
        let mut subs = Vec::new();
        for b in &mut self.buddies {
            if b.subscribe {
                b.subscribe = false;
                subs.push(b.jid.clone());
            }
        }
        for jid in subs {
            let p = Element::new("presence")
                .attr("type", "subscribe")
                .attr("to", &jid)
                .child(Element::new("status").text(
                    "Greetings! I am the Asterisk Open Source PBX and I want to subscribe to your presence",
                ));
            self.send(p);
        }
    }

    fn iq(&mut self, e: &Element) {
        let kind = e.get_attr("type").unwrap_or_default();
        let id = e.get_attr("id").unwrap_or_default().to_string();
        match kind {
            "result" => match id.as_str() {
                "bind" => {
                    if let Some(j) = e.find("bind").and_then(|b| b.child_text("jid")) {
                        if !j.trim().is_empty() {
                            self.jid = j.trim().to_string();
                        }
                    }
                    if self.need_session {
                        let iq = Element::new("iq")
                            .attr("type", "set")
                            .attr("id", "session")
                            .child(Element::new("session").ns(NS_SESSION));
                        self.send(iq);
                    } else {
                        self.after_bind();
                    }
                }
                "session" | "auth" => self.after_bind(),
                "roster" => {
                    if let Some(q) = e.find_ns("query", NS_ROSTER) {
                        self.roster(q, true);
                    }
                    if self.cfg.autoregister {
                        self.subscribe_buddies();
                    }
                    self.state = State::Connected;
                    self.out.push_back(Output::Connected);
                }
                _ => {
                    if self.ping_sent.as_ref().is_some_and(|(p, _)| *p == id) {
                        self.ping_sent = None;
                    }
                }
            },
            "error" => {
                let cond = e
                    .find("error")
                    .and_then(|er| er.elements().next())
                    .map(|c| c.local_name().to_string())
                    .unwrap_or_else(|| "undefined-condition".into());
                match id.as_str() {
                    "auth" => {
                        self.state = State::Disconnected;
                        self.out.push_back(Output::AuthFailed(cond));
                    }
                    "bind" | "session" => self.fail(format!("resource binding refused: {cond}")),
                    "roster" => {
                        // No roster: carry on with the configured buddies.
                        self.state = State::Connected;
                        self.out.push_back(Output::Connected);
                    }
                    _ => {
                        if self.ping_sent.as_ref().is_some_and(|(p, _)| *p == id) {
                            // An error answer still proves the link is alive.
                            self.ping_sent = None;
                        }
                    }
                }
            }
            "get" | "set" => self.iq_request(e, kind, &id),
            _ => {}
        }
    }

    fn iq_request(&mut self, e: &Element, kind: &str, id: &str) {
        let from = e.get_attr("from").unwrap_or_default().to_string();
        let reply = |t: &str| {
            let mut r = Element::new("iq").attr("type", t).attr("id", id);
            if !from.is_empty() {
                r = r.attr("to", &from);
            }
            r
        };
        if kind == "get" && e.find_ns("ping", NS_PING).is_some() {
            let r = reply("result");
            self.send(r);
            return;
        }
        if kind == "get" && e.find_ns("query", NS_DISCO_INFO).is_some() {
            let mut q = Element::new("query").ns(NS_DISCO_INFO).child(
                Element::new("identity")
                    .attr("category", "client")
                    .attr("type", "pc")
                    .attr("name", "asterisk-xmpp"),
            );
            for f in [NS_DISCO_INFO, NS_PING, NS_CAPS, NS_MUC] {
                q = q.child(Element::new("feature").attr("var", f));
            }
            if let Some(node) = e
                .find_ns("query", NS_DISCO_INFO)
                .and_then(|q| q.get_attr("node"))
            {
                q.set_attr("node", node);
            }
            let r = reply("result").child(q);
            self.send(r);
            return;
        }
        if kind == "set" {
            if let Some(q) = e.find_ns("query", NS_ROSTER) {
                // A roster push is only valid from our own account (or the server).
                let own = from.is_empty() || same_bare(split_jid(&from).0, &self.cfg.user);
                if own {
                    let q = q.clone();
                    self.roster(&q, false);
                    let r = reply("result");
                    self.send(r);
                    return;
                }
            }
        }
        let r = reply("error").child(
            Element::new("error")
                .attr("type", "cancel")
                .child(Element::new("service-unavailable").ns(NS_STANZAS)),
        );
        self.send(r);
    }

    /// Roster items: the full roster (`full`, after connecting) or a push.
    fn roster(&mut self, q: &Element, full: bool) {
        let mut prune = Vec::new();
        for item in q.elements().filter(|i| i.local_name() == "item") {
            let Some(jid) = item.get_attr("jid") else {
                continue;
            };
            let sub = item.get_attr("subscription").unwrap_or("none");
            if sub == "remove" {
                self.buddies.retain(|b| !same_bare(&b.jid, jid));
                continue;
            }
            let pos = self.buddies.iter().position(|b| same_bare(&b.jid, jid));
            let idx = match pos {
                Some(i) => i,
                None if full && self.cfg.autoprune => {
                    prune.push(jid.to_string());
                    continue;
                }
                None => {
                    self.buddies.push(Buddy {
                        jid: jid.to_string(),
                        subscribe: true,
                        resources: Vec::new(),
                    });
                    self.buddies.len() - 1
                }
            };
            // Only ask for their presence when we do not have it yet.
            self.buddies[idx].subscribe = matches!(sub, "none" | "from");
        }
        for jid in prune {
            self.send(
                Element::new("presence")
                    .attr("type", "unsubscribe")
                    .attr("to", &jid)
                    .child(
                        Element::new("status").text("Goodbye. Your status is no longer required."),
                    ),
            );
            let id = self.id();
            self.send(
                Element::new("iq")
                    .attr("type", "set")
                    .attr("id", &id)
                    .child(
                        Element::new("query").ns(NS_ROSTER).child(
                            Element::new("item")
                                .attr("jid", &jid)
                                .attr("subscription", "remove"),
                        ),
                    ),
            );
        }
    }

    fn message(&mut self, e: &Element) {
        let kind = e.get_attr("type").unwrap_or("normal").to_string();
        if kind == "error" {
            return;
        }
        let Some(body) = e.find("body").map(|b| b.text_content()) else {
            return;
        };
        self.out.push_back(Output::Message(Incoming {
            from: e.get_attr("from").unwrap_or_default().to_string(),
            to: e.get_attr("to").unwrap_or_default().to_string(),
            id: e.get_attr("id").unwrap_or_default().to_string(),
            kind,
            body,
        }));
    }

    fn presence(&mut self, e: &Element) {
        let from = e.get_attr("from").unwrap_or_default().to_string();
        let (bare, resource) = split_jid(&from);
        let bare = bare.to_string();
        match e.get_attr("type").unwrap_or("") {
            "subscribe" => {
                let answer = if self.cfg.auth_accept {
                    "subscribed"
                } else {
                    "unsubscribed"
                };
                let mut p = Element::new("presence")
                    .attr("type", answer)
                    .attr("to", &bare);
                if let Some(id) = e.get_attr("id") {
                    p = p.attr("id", id);
                }
                if self.cfg.auth_accept {
                    p = p.child(
                        Element::new("status").text("Asterisk has approved your subscription"),
                    );
                }
                self.send(p);
                if self.cfg.auth_accept {
                    self.add_buddy(&bare);
                } else {
                    self.out.push_back(Output::Notice(format!(
                        "refused a presence subscription from '{bare}' (auth_policy=deny)"
                    )));
                }
            }
            "subscribed" => self.add_buddy(&bare),
            "unsubscribe" | "unsubscribed" | "probe" | "error" => {}
            kind => {
                let Some(resource) = resource else {
                    return;
                };
                let Some(b) = self.buddies.iter_mut().find(|b| same_bare(&b.jid, &bare)) else {
                    if !same_bare(&bare, &self.cfg.user) {
                        self.out.push_back(Output::Notice(format!(
                            "Received presence information about '{bare}' despite not having them in roster"
                        )));
                    }
                    return;
                };
                b.resources.retain(|r| r.name != resource);
                if kind == "unavailable" {
                    return;
                }
                let caps = e.find("c");
                b.resources.push(Resource {
                    name: resource.to_string(),
                    show: Show::from_wire(&e.child_text("show").unwrap_or_default()),
                    priority: e
                        .child_text("priority")
                        .and_then(|p| p.trim().parse().ok())
                        .unwrap_or(0),
                    description: e.child_text("status").unwrap_or_default(),
                    node: caps
                        .and_then(|c| c.get_attr("node"))
                        .unwrap_or_default()
                        .to_string(),
                    version: caps
                        .and_then(|c| c.get_attr("ver"))
                        .unwrap_or_default()
                        .to_string(),
                });
                b.resources.sort_by_key(|r| std::cmp::Reverse(r.priority));
            }
        }
    }

    fn add_buddy(&mut self, bare: &str) {
        if !self.buddies.iter().any(|b| same_bare(&b.jid, bare)) {
            self.buddies.push(Buddy {
                jid: bare.to_string(),
                subscribe: true,
                resources: Vec::new(),
            });
        }
    }

    /// JABBER_STATUS: 1–5 for the show of the resource (the highest-priority one when no
    /// resource is named), 6 offline, 7 not in the roster.
    pub fn status_of(&self, jid: &str) -> u8 {
        let (bare, resource) = split_jid(jid);
        let Some(b) = self.buddies.iter().find(|b| same_bare(&b.jid, bare)) else {
            return STATUS_NOT_IN_ROSTER;
        };
        let r = match resource.filter(|r| !r.is_empty()) {
            Some(name) => b.resources.iter().find(|r| r.name == name),
            None => b.resources.first(),
        };
        r.map(|r| r.show as u8).unwrap_or(STATUS_OFFLINE)
    }

    fn require_connected(&self) -> Result<(), String> {
        if self.state == State::Connected {
            Ok(())
        } else {
            Err(format!("not connected ({})", self.state.label()))
        }
    }

    /// Send a chat message (`type` chat, or groupchat to a room).
    pub fn send_message(&mut self, to: &str, body: &str, group: bool) -> Result<(), String> {
        self.require_connected()?;
        let id = self.id();
        let m = Element::new("message")
            .attr("to", to)
            .attr("from", &self.jid.clone())
            .attr("type", if group { "groupchat" } else { "chat" })
            .attr("id", &id)
            .child(Element::new("body").text(body));
        self.send(m);
        Ok(())
    }

    /// Enter a multi-user chat room as `nick` (no history).
    pub fn join_room(&mut self, room: &str, nick: &str) -> Result<(), String> {
        self.require_connected()?;
        let p = Element::new("presence")
            .attr("to", &format!("{room}/{nick}"))
            .child(
                Element::new("x")
                    .ns(NS_MUC)
                    .child(Element::new("history").attr("maxstanzas", "0")),
            );
        self.send(p);
        Ok(())
    }

    /// Leave a room.
    pub fn leave_room(&mut self, room: &str, nick: &str) -> Result<(), String> {
        self.require_connected()?;
        let p = Element::new("presence")
            .attr("type", "unavailable")
            .attr("to", &format!("{room}/{nick}"));
        self.send(p);
        Ok(())
    }

    /// Delete a PubSub node on `service` (`xmpp purge nodes`).
    pub fn delete_node(&mut self, service: &str, node: &str) -> Result<(), String> {
        self.require_connected()?;
        let id = self.id();
        let iq = Element::new("iq")
            .attr("type", "set")
            .attr("to", service)
            .attr("id", &id)
            .child(
                Element::new("pubsub")
                    .ns(NS_PUBSUB_OWNER)
                    .child(Element::new("delete").attr("node", node)),
            );
        self.send(iq);
        Ok(())
    }

    /// Say goodbye (unavailable presence, stream end) before closing.
    pub fn close(&mut self) {
        if self.state == State::Connected {
            self.send(Element::new("presence").attr("type", "unavailable"));
        }
        if self.state != State::Disconnected {
            self.out
                .push_back(Output::Send("</stream:stream>".to_string()));
        }
        self.state = State::Disconnected;
    }
}

#[cfg(test)]
mod tests;
