//! Socket-free tests of [`Core`]: text SIP messages in, bytes and actions out, simulated time.

use super::core::{Action, Core, DB_FAMILY};
use crate::channels::sipconf::parse_sip_conf;
use crate::config::{load_str, LoadOptions};
use crate::pbx::channel::{ChanEvent, ChannelShared};
use crate::pbx::message::Msg;
use crate::pbx::{dialplan_from_str, CallerId, Channel, Pbx};
use crate::sip::auth::{build_authorization, DigestChallenge, Secret};
use crate::sip::message::{parse, response_to, Method, SipMessage};
use crate::sip::sdp::Sdp;
use crate::sip::transport::{Proto, Received};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const CONF: &str = "\
[general]
context=public
realm=asterisk
accept_outofcall_message=yes

[alice]
type=friend
host=dynamic
secret=alicepw
context=internal

[bob]
type=friend
host=dynamic
context=internal

[trunk]
type=peer
host=127.0.0.1
port=5099
secret=trunkpw
insecure=invite
context=from-trunk
";

const DIALPLAN: &str = "\
[internal]
exten => 100,1,Answer()
exten => 200,1,Answer()

[public]
exten => 100,1,Answer()

[from-trunk]
exten => 5551234,1,Answer()
";

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn code(m: &SipMessage) -> u16 {
    match m {
        SipMessage::Response { code, .. } => *code,
        SipMessage::Request { .. } => 0,
    }
}

fn reason(m: &SipMessage) -> String {
    match m {
        SipMessage::Response { reason, .. } => reason.clone(),
        SipMessage::Request { .. } => String::new(),
    }
}

fn header_names(m: &SipMessage) -> Vec<String> {
    m.headers()
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect()
}

fn branch() -> String {
    format!("z9hG4bKt{:016x}", rand::random::<u64>())
}

fn via(host: &str) -> String {
    format!("SIP/2.0/UDP {host};branch={}", branch())
}

/// A request as text. `from`/`to` are whole header values.
#[allow(clippy::too_many_arguments)]
fn req(
    method: &str,
    ruri: &str,
    via: &str,
    from: &str,
    to: &str,
    call_id: &str,
    cseq: u32,
    extra: &[String],
    body: &str,
) -> String {
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
    );
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s
}

fn conf(text: &str) -> crate::channels::sipconf::SipConfig {
    let cf = load_str(
        std::path::Path::new("/tmp"),
        "sip.conf",
        text,
        &LoadOptions::default(),
    )
    .expect("sip.conf loads");
    parse_sip_conf(&cf).expect("sip.conf parses").0
}

struct H {
    pbx: Arc<Pbx>,
    core: Core,
    now: Instant,
    actions: Vec<Action>,
    spawned: Vec<Channel>,
}

impl H {
    fn new(text: &str) -> H {
        let pbx = crate::modules::test_pbx();
        let (dp, _) = dialplan_from_str("extensions.conf", DIALPLAN).expect("dialplan");
        pbx.set_dialplan(dp);
        let now = Instant::now();
        let core = Core::new(
            &pbx,
            Arc::new(conf(text)),
            addr("127.0.0.1:5060"),
            std::sync::Weak::new(),
            now,
        );
        H {
            pbx,
            core,
            now,
            actions: Vec::new(),
            spawned: Vec::new(),
        }
    }

    fn collect(&mut self) -> Vec<(SocketAddr, SipMessage)> {
        for a in self.core.take_actions() {
            match a {
                Action::Spawn(c) => self.spawned.push(*c),
                a => self.actions.push(a),
            }
        }
        self.core
            .take_output()
            .into_iter()
            .map(|(d, b)| (d, parse(&b).expect("core sends parsable messages")))
            .collect()
    }

    fn feed_msg(&mut self, msg: SipMessage, src: SocketAddr) -> Vec<(SocketAddr, SipMessage)> {
        let raw = msg.to_bytes();
        self.core.on_receive(
            Received {
                msg,
                src,
                proto: Proto::Udp,
                raw,
            },
            self.now,
        );
        self.collect()
    }

    fn feed(&mut self, text: &str, src: SocketAddr) -> Vec<(SocketAddr, SipMessage)> {
        let msg = parse(text.as_bytes()).expect("test message parses");
        self.feed_msg(msg, src)
    }

    /// The last response in what `text` produced.
    fn feed_resp(&mut self, text: &str, src: SocketAddr) -> SipMessage {
        let out = self.feed(text, src);
        out.into_iter()
            .rev()
            .map(|(_, m)| m)
            .find(|m| !m.is_request())
            .expect("a response")
    }

    fn advance(&mut self, d: Duration) -> Vec<(SocketAddr, SipMessage)> {
        self.now += d;
        self.core.on_timer(self.now);
        self.collect()
    }

    fn db_puts(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::DbPut(..)))
            .count()
    }

    fn db_dels(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::DbDel(..)))
            .count()
    }
}

fn auth_value(
    resp: &SipMessage,
    hdr: &str,
    user: &str,
    pw: &str,
    method: &str,
    uri: &str,
) -> String {
    let ch =
        DigestChallenge::parse(resp.header(hdr).expect("challenge header")).expect("challenge");
    build_authorization(user, Secret::Plain(pw), method, uri, &ch, "0a4f113b", 1).expect("auth")
}

struct Reg {
    user: String,
    call_id: String,
    cseq: u32,
    src: SocketAddr,
}

impl Reg {
    fn new(user: &str, src: &str) -> Reg {
        Reg {
            user: user.into(),
            call_id: format!("reg-{:x}@test", rand::random::<u64>()),
            cseq: 1,
            src: addr(src),
        }
    }

    fn text(&mut self, extra: &[String]) -> String {
        let aor = format!("<sip:{}@127.0.0.1>", self.user);
        let s = req(
            "REGISTER",
            "sip:127.0.0.1",
            &via(&self.src.to_string()),
            &format!("{aor};tag=rt{}", self.cseq),
            &aor,
            &self.call_id,
            self.cseq,
            extra,
            "",
        );
        self.cseq += 1;
        s
    }

    /// Send with `extra` headers; if challenged and `pw` is given, answer the challenge.
    fn send(&mut self, h: &mut H, pw: Option<&str>, extra: &[String]) -> SipMessage {
        let t = self.text(extra);
        let r = h.feed_resp(&t, self.src);
        match (code(&r), pw) {
            (401, Some(pw)) => {
                let a = auth_value(
                    &r,
                    "WWW-Authenticate",
                    &self.user,
                    pw,
                    "REGISTER",
                    "sip:127.0.0.1",
                );
                let mut ex = extra.to_vec();
                ex.push(format!("Authorization: {a}"));
                let t = self.text(&ex);
                h.feed_resp(&t, self.src)
            }
            _ => r,
        }
    }
}

fn contact(uri: &str) -> String {
    format!("Contact: <{uri}>")
}

// ------------------------------------------------------------------ REGISTER

#[test]
fn register_challenge_then_ok_with_db_put() {
    let mut h = H::new(CONF);
    let mut r = Reg::new("alice", "127.0.0.1:5070");
    let ex = [
        contact("sip:alice@10.0.0.5:5070"),
        "Expires: 300".to_string(),
    ];
    let first = r.send(&mut h, None, &ex);
    assert_eq!(code(&first), 401);
    let www = first.header("WWW-Authenticate").expect("challenge");
    assert!(
        www.starts_with("Digest") && www.contains("realm=\"asterisk\""),
        "{www}"
    );
    assert_eq!(h.db_puts(), 0);
    let ok = r.send(&mut h, Some("alicepw"), &ex);
    assert_eq!(code(&ok), 200, "{ok:?}");
    let c = ok.header("Contact").expect("contact listed");
    assert!(
        c.contains("sip:alice@10.0.0.5:5070") && c.contains("expires=300"),
        "{c}"
    );
    assert!(h
        .actions
        .iter()
        .any(|a| matches!(a, Action::DbPut(f, _, _) if f == &format!("{DB_FAMILY}/alice"))));
    assert_eq!(h.core.peer_contacts("alice", h.now).len(), 1);
}

#[test]
fn registrations_and_failed_passwords_reach_the_event_bus() {
    use crate::pbx::events::{Event, Topic};
    let mut h = H::new(CONF);
    let mut reg = h.pbx.events.subscribe(Topic::Registration);
    let mut sec = h.pbx.events.subscribe(Topic::Security);
    let mut dev = h.pbx.events.subscribe(Topic::DeviceState);
    let ex = [contact("sip:alice@10.0.0.5:5070")];
    let mut r = Reg::new("alice", "127.0.0.1:5070");
    r.send(&mut h, None, &ex);
    assert_eq!(code(&r.send(&mut h, Some("wrong"), &ex)), 403);
    let ev = sec.try_recv().expect("security event");
    assert_eq!(ev.name(), "InvalidPassword");
    assert!(ev
        .fields()
        .contains(&("AccountID".to_string(), "alice".to_string())));
    // Past the per-account REGISTER rate limit.
    h.now += std::time::Duration::from_secs(30);
    let mut r = Reg::new("alice", "127.0.0.1:5070");
    r.send(&mut h, None, &ex);
    assert_eq!(code(&r.send(&mut h, Some("alicepw"), &ex)), 200);
    let ev = reg.try_recv().expect("peer status");
    assert!(
        matches!(&*ev, Event::PeerStatus { peer, status, .. } if peer == "SIP/alice" && status == "Registered"),
        "{ev:?}"
    );
    let ev = dev.try_recv().expect("device state");
    assert_eq!(
        ev.fields(),
        vec![
            ("Device".to_string(), "SIP/alice".to_string()),
            ("State".to_string(), "NOT_INUSE".to_string())
        ]
    );
}

#[test]
fn register_wrong_password_and_unknown_user_look_the_same() {
    let mut h = H::new(CONF);
    let ex = [contact("sip:x@10.0.0.5:5070")];
    let mut a = Reg::new("alice", "127.0.0.1:5070");
    let wrong = a.send(&mut h, Some("not-the-password"), &ex);
    let mut u = Reg::new("nosuchuser", "127.0.0.1:5071");
    let first = u.send(&mut h, None, &ex);
    assert_eq!(code(&first), 401, "unknown user is challenged too");
    let unknown = u.send(&mut h, Some("whatever"), &ex);
    assert_eq!(code(&wrong), 403);
    assert_eq!(
        (code(&wrong), reason(&wrong)),
        (code(&unknown), reason(&unknown))
    );
    assert_eq!(header_names(&wrong), header_names(&unknown));
    assert_eq!(h.db_puts(), 0);
}

#[test]
fn a_guessing_source_is_locked_out_but_the_phone_elsewhere_registers() {
    let mut h = H::new(CONF);
    let ex = [contact("sip:alice@10.0.0.5:5070")];
    let mut sec = h.pbx.events.subscribe(crate::pbx::events::Topic::Security);
    // Five wrong guesses from 10.9.9.9 (each past the REGISTER rate limit).
    for i in 0..5 {
        h.now += Duration::from_secs(2);
        let mut g = Reg::new("alice", "10.9.9.9:5070");
        g.send(&mut h, None, &ex);
        let r = g.send(&mut h, Some(&format!("guess{i}")), &ex);
        assert_eq!(code(&r), 403);
    }
    assert!(h
        .actions
        .iter()
        .any(|a| matches!(a, Action::Notice(n) if n.contains("Too many failed authentications from '10.9.9.9'"))));
    // The right password from the locked-out source: the same 403, password unchecked.
    h.now += Duration::from_secs(2);
    let mut g = Reg::new("alice", "10.9.9.9:5070");
    g.send(&mut h, None, &ex);
    let locked = g.send(&mut h, Some("alicepw"), &ex);
    assert_eq!(
        (code(&locked), reason(&locked)),
        (403, "Forbidden".to_string())
    );
    assert_eq!(h.core.peer_contacts("alice", h.now).len(), 0);
    // The phone itself, elsewhere, registers.
    h.now += Duration::from_secs(2);
    let mut phone = Reg::new("alice", "10.0.0.5:5070");
    phone.send(&mut h, None, &ex);
    assert_eq!(code(&phone.send(&mut h, Some("alicepw"), &ex)), 200);
    // Every failure (and the refused attempt) is a security event; the success too.
    let mut names = Vec::new();
    while let Ok(ev) = sec.try_recv() {
        names.push(ev.name());
    }
    assert_eq!(
        names.iter().filter(|n| **n == "InvalidPassword").count(),
        6,
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"SuccessfulAuth"));
    // After the lockout the source may try again (and a right password then works).
    h.now += Duration::from_secs(61);
    let mut g = Reg::new("alice", "10.9.9.9:5070");
    g.send(&mut h, None, &ex);
    assert_eq!(code(&g.send(&mut h, Some("alicepw"), &ex)), 200);
}

#[test]
fn unknown_accounts_count_against_the_source_too() {
    let mut h = H::new(CONF);
    let ex = [contact("sip:x@10.0.0.5:5070")];
    for i in 0..5 {
        h.now += Duration::from_secs(2);
        let mut g = Reg::new(&format!("nobody{i}"), "10.8.8.8:5070");
        g.send(&mut h, None, &ex);
        assert_eq!(code(&g.send(&mut h, Some("x"), &ex)), 403);
    }
    h.now += Duration::from_secs(2);
    let mut g = Reg::new("alice", "10.8.8.8:5070");
    g.send(&mut h, None, &ex);
    assert_eq!(code(&g.send(&mut h, Some("alicepw"), &ex)), 403);
}

#[test]
fn register_expiry_bounds() {
    let mut h = H::new(CONF);
    let mut r = Reg::new("bob", "127.0.0.1:5070");
    let low = r.send(
        &mut h,
        None,
        &[contact("sip:bob@10.0.0.6"), "Expires: 10".into()],
    );
    assert_eq!(code(&low), 423);
    assert_eq!(low.header("Min-Expires"), Some("60"));
    let high = r.send(
        &mut h,
        None,
        &[contact("sip:bob@10.0.0.6"), "Expires: 99999".into()],
    );
    assert_eq!(code(&high), 200);
    assert!(high.header("Contact").unwrap().contains("expires=3600"));
}

#[test]
fn register_contact_limit_and_rate_limit() {
    let mut h = H::new(CONF);
    let mut r = Reg::new("bob", "127.0.0.1:5070");
    let ten: Vec<String> = (0..10)
        .map(|i| contact(&format!("sip:bob@10.0.0.{i}")))
        .collect();
    assert_eq!(code(&r.send(&mut h, None, &ten)), 200);
    assert_eq!(h.core.peer_contacts("bob", h.now).len(), 10);
    let eleventh = r.send(&mut h, None, &[contact("sip:bob@10.0.1.1")]);
    assert_eq!(code(&eleventh), 403);
    assert_eq!(h.core.peer_contacts("bob", h.now).len(), 10);

    // Rate limit: 5 per second per AOR, the 6th gets 503 with Retry-After.
    h.advance(Duration::from_secs(2));
    for _ in 0..5 {
        let ok = r.send(&mut h, None, &[contact("sip:bob@10.0.0.1")]);
        assert_eq!(code(&ok), 200);
    }
    let sixth = r.send(&mut h, None, &[contact("sip:bob@10.0.0.1")]);
    assert_eq!(code(&sixth), 503);
    assert!(sixth.header("Retry-After").is_some());
}

#[test]
fn register_unregister_and_expiry() {
    let mut h = H::new(CONF);
    let mut r = Reg::new("bob", "127.0.0.1:5070");
    let c1 = "sip:bob@10.0.0.1:5062";
    let c2 = "sip:bob@10.0.0.2:5062";
    assert_eq!(
        code(&r.send(&mut h, None, &[contact(c1), contact(c2)])),
        200
    );
    assert_eq!(h.core.peer_contacts("bob", h.now).len(), 2);
    // Expires: 0 on one contact.
    let un = r.send(&mut h, None, &[contact(c1), "Expires: 0".into()]);
    assert_eq!(code(&un), 200);
    assert_eq!(h.db_dels(), 1);
    assert_eq!(h.core.peer_contacts("bob", h.now).len(), 1);
    // Contact: * removes the rest.
    let star = r.send(&mut h, None, &["Contact: *".into(), "Expires: 0".into()]);
    assert_eq!(code(&star), 200);
    assert!(star.header("Contact").is_none());
    assert_eq!(h.db_dels(), 2);
    assert!(h.core.peer_contacts("bob", h.now).is_empty());

    // A binding lapses on the timer.
    assert_eq!(
        code(&r.send(&mut h, None, &[contact(c1), "Expires: 60".into()])),
        200
    );
    h.advance(Duration::from_secs(30));
    assert_eq!(h.db_dels(), 2);
    h.advance(Duration::from_secs(31));
    assert_eq!(h.db_dels(), 3);
    assert!(h.core.peer_contacts("bob", h.now).is_empty());
}

#[test]
fn rport_and_received_in_response_via() {
    let mut h = H::new(CONF);
    let src = addr("203.0.113.5:40000");
    let t = req(
        "REGISTER",
        "sip:127.0.0.1",
        &format!("SIP/2.0/UDP 192.168.1.10:5060;branch={};rport", branch()),
        "<sip:bob@127.0.0.1>;tag=x1",
        "<sip:bob@127.0.0.1>",
        "rport-1@test",
        1,
        &[contact("sip:bob@192.168.1.10:5060")],
        "",
    );
    let out = h.feed(&t, src);
    let (dest, resp) = out.last().expect("a response");
    assert_eq!(*dest, src);
    assert_eq!(code(resp), 200);
    let v = resp.header("Via").unwrap();
    assert!(v.contains("rport=40000"), "{v}");
    assert!(v.contains("received=203.0.113.5"), "{v}");
}

// ------------------------------------------------------------------ inbound INVITE

struct Call {
    call_id: String,
    from: String,
    via: String,
    ruri: String,
    src: SocketAddr,
    cseq: u32,
}

impl Call {
    fn new(from_user: &str, exten: &str, src: &str) -> Call {
        Call {
            call_id: format!("call-{:x}@test", rand::random::<u64>()),
            from: format!(
                "\"Caller\" <sip:{from_user}@127.0.0.1>;tag=ct{:x}",
                rand::random::<u32>()
            ),
            via: via(src),
            ruri: format!("sip:{exten}@127.0.0.1"),
            src: addr(src),
            cseq: 1,
        }
    }

    fn invite(&mut self, extra: &[String]) -> String {
        self.via = via(&self.src.to_string());
        let mut ex = vec![
            format!("Contact: <sip:caller@{}>", self.src),
            "Content-Type: application/sdp".to_string(),
        ];
        ex.extend_from_slice(extra);
        let s = req(
            "INVITE",
            &self.ruri,
            &self.via,
            &self.from,
            &format!("<{}>", self.ruri),
            &self.call_id,
            self.cseq,
            &ex,
            OFFER,
        );
        self.cseq += 1;
        s
    }

    /// INVITE, answering one challenge with `pw` if given. Returns everything sent back.
    fn dial(&mut self, h: &mut H, pw: Option<(&str, &str)>) -> Vec<(SocketAddr, SipMessage)> {
        let t = self.invite(&[]);
        let out = h.feed(&t, self.src);
        let Some(ch) = out.iter().map(|(_, m)| m).find(|m| code(m) == 407) else {
            return out;
        };
        let Some((user, pw)) = pw else {
            return out;
        };
        let a = auth_value(ch, "Proxy-Authenticate", user, pw, "INVITE", &self.ruri);
        let t = self.invite(&[format!("Proxy-Authorization: {a}")]);
        h.feed(&t, self.src)
    }

    fn in_dialog(&mut self, method: &str, to: &str) -> String {
        let s = req(
            method,
            &format!("sip:x@{}", "127.0.0.1:5060"),
            &via(&self.src.to_string()),
            &self.from,
            to,
            &self.call_id,
            self.cseq,
            &[],
            "",
        );
        self.cseq += 1;
        s
    }

    /// A re-INVITE putting the call on hold (`a=sendonly`), with the current CSeq.
    fn hold(&self, to: &str) -> String {
        let hold = OFFER.replace("a=fmtp:101 0-16\r\n", "a=fmtp:101 0-16\r\na=sendonly\r\n");
        req(
            "INVITE",
            "sip:100@127.0.0.1:5060",
            &via(&self.src.to_string()),
            &self.from,
            to,
            &self.call_id,
            self.cseq,
            &[
                format!("Contact: <sip:caller@{}>", self.src),
                "Content-Type: application/sdp".into(),
            ],
            &hold,
        )
    }

    fn ack(&self, to: &str) -> String {
        req(
            "ACK",
            "sip:x@127.0.0.1:5060",
            &via(&self.src.to_string()),
            &self.from,
            to,
            &self.call_id,
            self.cseq - 1,
            &[],
            "",
        )
    }

    fn cancel(&self) -> String {
        req(
            "CANCEL",
            &self.ruri,
            &self.via,
            &self.from,
            &format!("<{}>", self.ruri),
            &self.call_id,
            self.cseq - 1,
            &[],
            "",
        )
    }
}

fn codes(out: &[(SocketAddr, SipMessage)]) -> Vec<u16> {
    out.iter().map(|(_, m)| code(m)).collect()
}

/// Call alice → 100, authenticated; returns (harness, call, chan_id).
fn alice_calls_100() -> (H, Call, u64) {
    let mut h = H::new(CONF);
    let mut c = Call::new("alice", "100", "127.0.0.1:5070");
    let out = c.dial(&mut h, Some(("alice", "alicepw")));
    assert_eq!(codes(&out), [100]);
    let chan_id = h.core.legs.get(&c.call_id).expect("leg").chan_id;
    (h, c, chan_id)
}

#[test]
fn invite_needs_auth_then_spawns() {
    let mut h = H::new(CONF);
    let mut c = Call::new("alice", "100", "127.0.0.1:5070");
    let out = c.dial(&mut h, None);
    assert_eq!(codes(&out), [407]);
    assert!(out[0].1.header("Proxy-Authenticate").is_some());
    assert!(h.spawned.is_empty());
    let out = c.dial(&mut h, Some(("alice", "alicepw")));
    // The retried INVITE is challenged first by dial(); the answered one gets 100.
    assert_eq!(codes(&out), [100]);
    assert_eq!(h.spawned.len(), 1);
    let ch = &h.spawned[0];
    assert_eq!(ch.shared.name, "SIP/alice-00000000");
    assert_eq!(ch.context, "internal");
    assert_eq!(ch.exten, "100");
    assert_eq!(ch.caller.num.as_deref(), Some("alice"));
}

#[test]
fn invite_rejections() {
    let mut h = H::new(CONF);
    // No such extension.
    let mut c = Call::new("alice", "999", "127.0.0.1:5070");
    let out = c.dial(&mut h, Some(("alice", "alicepw")));
    assert_eq!(codes(&out), [404]);
    // Max-Forwards: 0.
    let mut c = Call::new("bob", "100", "127.0.0.1:5071");
    let t = c.invite(&[]).replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(codes(&h.feed(&t, c.src)), [483]);
    // Missing Call-ID: 400 (never a panic).
    let t = c.invite(&[]);
    let mut m = parse(t.as_bytes()).unwrap();
    m.headers_mut().remove("Call-ID");
    let raw = m.to_bytes();
    h.core.on_receive(
        Received {
            msg: m,
            src: c.src,
            proto: Proto::Udp,
            raw,
        },
        h.now,
    );
    // The answer has no Call-ID to echo, so only its status line is checked.
    for (_, b) in h.core.take_output() {
        assert!(
            b.starts_with(b"SIP/2.0 400 "),
            "{}",
            String::from_utf8_lossy(&b)
        );
    }
    assert!(h.spawned.is_empty());
}

#[test]
fn invite_merged_request_gets_482() {
    let mut h = H::new(CONF);
    let mut c = Call::new("bob", "100", "127.0.0.1:5071");
    let t = c.invite(&[]);
    assert_eq!(codes(&h.feed(&t, c.src)), [100]);
    c.cseq -= 1; // same CSeq, new branch: a forked copy of the same INVITE
    let t = c.invite(&[]);
    assert_eq!(codes(&h.feed(&t, c.src)), [482]);
    assert_eq!(h.spawned.len(), 1);
}

#[test]
fn insecure_invite_trunk_matched_by_ip() {
    let mut h = H::new(CONF);
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let out = c.dial(&mut h, None);
    assert_eq!(codes(&out), [100]);
    assert_eq!(h.spawned[0].shared.name, "SIP/trunk-00000000");
    assert_eq!(h.spawned[0].context, "from-trunk");
}

#[test]
fn allowguest_no_challenges_then_forbids_unknown() {
    let mut h = H::new(&CONF.replace("[general]\n", "[general]\nallowguest=no\n"));
    let mut c = Call::new("stranger", "100", "127.0.0.1:5080");
    let out = c.dial(&mut h, None);
    assert_eq!(codes(&out), [407]);
    let out = c.dial(&mut h, Some(("stranger", "guess")));
    assert_eq!(codes(&out), [403]);
    assert!(h.spawned.is_empty());
}

#[test]
fn guest_allowed_into_general_context() {
    let mut h = H::new(CONF);
    let mut c = Call::new("stranger", "100", "127.0.0.1:5080");
    let out = c.dial(&mut h, None);
    assert_eq!(codes(&out), [100]);
    assert_eq!(h.spawned[0].context, "public");
}

/// As chan_sip: Busy()/Congestion() on an unanswered call send the final 486/503 and the
/// channel is soft-hung-up with the matching cause (the application returns, `h` runs).
#[test]
fn busy_and_congestion_end_the_channel() {
    for (ev, want, c) in [(ChanEvent::Busy, 486, 17), (ChanEvent::Congestion, 503, 34)] {
        let (mut h, _c, chan_id) = alice_calls_100();
        let shared = h.spawned[0].shared.clone();
        assert!(!shared.hangup_requested());
        h.core.indicate(chan_id, &ev, h.now);
        assert!(h.collect().iter().any(|(_, m)| code(m) == want));
        assert!(shared.hangup_requested());
        assert_eq!(shared.requested_cause(), c);
    }
}

#[test]
fn answer_retransmits_until_ack_then_bye() {
    let (mut h, mut c, chan_id) = alice_calls_100();
    h.core.answer(chan_id, h.now);
    let out = h.collect();
    let ok = out
        .iter()
        .find(|(_, m)| code(m) == 200)
        .map(|(d, m)| (*d, m.clone()))
        .expect("200 OK");
    assert_eq!(ok.0, c.src);
    Sdp::parse_bytes(ok.1.body()).expect("200 carries valid SDP");
    assert!(ok.1.header("Contact").is_some());
    let to = ok.1.header("To").unwrap().to_string();
    assert!(to.contains("tag="));
    // Retransmitted on the timer (T1 = 500 ms).
    let n200 = |o: &[(SocketAddr, SipMessage)]| o.iter().filter(|(_, m)| code(m) == 200).count();
    assert!(n200(&h.advance(Duration::from_millis(600))) >= 1);
    assert!(n200(&h.advance(Duration::from_millis(1100))) >= 1);
    // ACK stops it.
    let t = c.ack(&to);
    assert!(h.feed(&t, c.src).is_empty());
    for _ in 0..10 {
        assert_eq!(n200(&h.advance(Duration::from_secs(1))), 0);
    }
    // BYE from the caller: 200, and the channel is asked to hang up.
    let shared = h.spawned[0].shared.clone();
    assert!(!shared.hangup_requested());
    let t = c.in_dialog("BYE", &to);
    let out = h.feed(&t, c.src);
    assert_eq!(codes(&out), [200]);
    assert!(shared.hangup_requested());
    assert!(h.core.legs.is_empty());
}

#[test]
fn invite_retransmission_after_200_is_absorbed() {
    let mut h = H::new(CONF);
    let mut c = Call::new("bob", "100", "127.0.0.1:5071");
    let t = c.invite(&[]);
    assert_eq!(codes(&h.feed(&t, c.src)), [100]);
    let chan_id = h.core.legs[&c.call_id].chan_id;
    h.core.answer(chan_id, h.now);
    assert_eq!(codes(&h.collect()), [200]);
    // The same INVITE again (same branch): no 482, no second channel.
    let out = h.feed(&t, c.src);
    assert!(codes(&out).iter().all(|c| *c == 200), "{out:?}");
    assert_eq!(h.spawned.len(), 1);
}

#[test]
fn reinvite_hold_answered_with_sdp() {
    let (mut h, mut c, chan_id) = alice_calls_100();
    h.core.answer(chan_id, h.now);
    let to = h.collect()[0].1.header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    let t = c.hold(&to);
    c.cseq += 1;
    let out = h.feed(&t, c.src);
    assert_eq!(codes(&out), [200]);
    let answer = Sdp::parse_bytes(out[0].1.body()).expect("SDP answer");
    assert!(
        answer.render().contains("a=recvonly"),
        "{}",
        answer.render()
    );
    assert!(h.core.legs[&c.call_id].hold);
    // An in-dialog request for an unknown dialog: 481.
    let t = req(
        "BYE",
        "sip:100@127.0.0.1:5060",
        &via(&c.src.to_string()),
        &c.from,
        "<sip:100@127.0.0.1>;tag=nosuch",
        "no-such-call",
        9,
        &[],
        "",
    );
    assert_eq!(codes(&h.feed(&t, c.src)), [481]);
}

#[test]
fn unacked_200_gives_up_with_bye() {
    let (mut h, c, chan_id) = alice_calls_100();
    let shared = h.spawned[0].shared.clone();
    h.core.answer(chan_id, h.now);
    h.collect();
    let mut byes = 0;
    for _ in 0..40 {
        let out = h.advance(Duration::from_secs(1));
        byes += out
            .iter()
            .filter(|(d, m)| *d == c.src && m.method() == Some(&Method::Bye))
            .count();
    }
    assert!(byes >= 1, "BYE after 64*T1 without ACK");
    assert!(shared.hangup_requested());
    assert!(h.core.legs.is_empty());
}

#[test]
fn cancel_before_answer() {
    let (mut h, c, _) = alice_calls_100();
    let shared = h.spawned[0].shared.clone();
    let t = c.cancel();
    let out = h.feed(&t, c.src);
    let mut got: Vec<(u16, Method)> = out
        .iter()
        .map(|(_, m)| (code(m), m.cseq().unwrap().1))
        .collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(got, [(200, Method::Cancel), (487, Method::Invite)]);
    assert!(shared.hangup_requested());
}

#[test]
fn hangup_before_answer_is_486() {
    let (mut h, _c, chan_id) = alice_calls_100();
    h.core.hangup(chan_id, 17, h.now);
    let out = h.collect();
    assert_eq!(codes(&out), [486]);
    assert!(h.core.legs.is_empty());
}

#[test]
fn hangup_after_answer_sends_bye() {
    let (mut h, c, chan_id) = alice_calls_100();
    h.core.answer(chan_id, h.now);
    let out = h.collect();
    let to = out[0].1.header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    h.core.hangup(chan_id, 16, h.now);
    let out = h.collect();
    let bye = out
        .iter()
        .find(|(_, m)| m.method() == Some(&Method::Bye))
        .expect("BYE sent");
    assert_eq!(bye.0, c.src);
    assert_eq!(bye.1.call_id(), Some(c.call_id.as_str()));
}

// ------------------------------------------------------------------ outbound

struct Out {
    id: u64,
    shared: Arc<ChannelShared>,
    rx: mpsc::UnboundedReceiver<ChanEvent>,
}

fn dial_out(h: &mut H, data: &str) -> (Out, Vec<(SocketAddr, SipMessage)>) {
    dial_out_with(h, data, CallerId::default(), &Default::default())
}

fn dial_out_with(
    h: &mut H,
    data: &str,
    caller: CallerId,
    extras: &super::core::CallExtras,
) -> (Out, Vec<(SocketAddr, SipMessage)>) {
    let (peer, targets, _name) = h.core.resolve(data, h.now).expect("resolves");
    let id = h.core.alloc_chan_id();
    let shared = ChannelShared::new(format!("SIP/{data}-test"), "uid-1".into());
    let (tx, rx) = mpsc::unbounded_channel();
    h.core.new_outbound(
        id,
        shared.clone(),
        tx,
        peer.as_ref().map(|p| p.name.clone()),
    );
    h.core
        .start_outbound(id, peer, targets, caller, extras, h.now);
    let out = h.collect();
    (Out { id, shared, rx }, out)
}

fn invites(out: &[(SocketAddr, SipMessage)]) -> Vec<(SocketAddr, SipMessage)> {
    out.iter()
        .filter(|(_, m)| m.method() == Some(&Method::Invite))
        .cloned()
        .collect()
}

fn events(o: &mut Out) -> Vec<ChanEvent> {
    let mut v = Vec::new();
    while let Ok(e) = o.rx.try_recv() {
        v.push(e);
    }
    v
}

fn bob_two_contacts(h: &mut H) {
    let mut r1 = Reg::new("bob", "127.0.0.1:5071");
    assert_eq!(
        code(&r1.send(h, None, &[contact("sip:bob@10.0.0.1:5060")])),
        200
    );
    let mut r2 = Reg::new("bob", "127.0.0.1:5072");
    assert_eq!(
        code(&r2.send(h, None, &[contact("sip:bob@10.0.0.2:5060")])),
        200
    );
}

fn reply(inv: &SipMessage, code: u16, reason: &str, tag: &str, sdp: bool) -> SipMessage {
    let mut r = response_to(inv, code, reason, Some(tag)).expect("response");
    if code < 300 {
        r.headers_mut().push("Contact", "<sip:bob@10.0.0.9:5060>");
    }
    if sdp {
        r.headers_mut().push("Content-Type", "application/sdp");
        r.set_body(ANSWER.as_bytes().to_vec());
    }
    r
}

#[test]
fn outbound_fork_answer_cancels_other() {
    let mut h = H::new(CONF);
    bob_two_contacts(&mut h);
    let (_, targets, name) = h.core.resolve("bob", h.now).unwrap();
    assert_eq!(name, "bob");
    assert_eq!(targets.len(), 2);
    let (mut o, out) = dial_out(&mut h, "bob");
    let inv = invites(&out);
    assert_eq!(inv.len(), 2);
    let mut dests: Vec<SocketAddr> = inv.iter().map(|(d, _)| *d).collect();
    dests.sort();
    assert_eq!(dests, [addr("127.0.0.1:5071"), addr("127.0.0.1:5072")]);
    assert_ne!(inv[0].1.call_id(), inv[1].1.call_id());
    Sdp::parse_bytes(inv[0].1.body()).expect("offer");

    let (a, b) = (&inv[0], &inv[1]);
    h.feed_msg(reply(&a.1, 180, "Ringing", "ta", false), a.0);
    h.feed_msg(reply(&b.1, 180, "Ringing", "tb", false), b.0);
    assert!(matches!(events(&mut o)[..], [ChanEvent::Ringing]));

    let out = h.feed_msg(reply(&a.1, 200, "OK", "ta", true), a.0);
    let ack = out
        .iter()
        .find(|(_, m)| m.method() == Some(&Method::Ack))
        .expect("ACK");
    assert_eq!(ack.0, a.0);
    assert_eq!(ack.1.call_id(), a.1.call_id());
    let cancel = out
        .iter()
        .find(|(_, m)| m.method() == Some(&Method::Cancel))
        .expect("CANCEL to the other fork");
    assert_eq!(cancel.0, b.0);
    assert_eq!(cancel.1.call_id(), b.1.call_id());
    assert!(matches!(events(&mut o)[..], [ChanEvent::Answer]));

    // Our hangup now sends BYE on the winning leg.
    h.core.hangup(o.id, 16, h.now);
    let out = h.collect();
    assert!(out
        .iter()
        .any(|(d, m)| *d == a.0 && m.method() == Some(&Method::Bye)));
    assert!(!o.shared.hangup_requested());
}

#[test]
fn outbound_late_provisional_on_losing_fork_is_cancelled() {
    let mut h = H::new(CONF);
    bob_two_contacts(&mut h);
    let (mut o, out) = dial_out(&mut h, "bob");
    let inv = invites(&out);
    let (a, b) = (&inv[0], &inv[1]);
    // A answers before B said anything: no CANCEL may go out yet (RFC 3261 §9.1).
    let out = h.feed_msg(reply(&a.1, 200, "OK", "ta", true), a.0);
    assert!(!out.iter().any(|(_, m)| m.method() == Some(&Method::Cancel)));
    assert!(matches!(events(&mut o)[..], [ChanEvent::Answer]));
    // B's provisional arrives: now it is cancelled, and its 487 ends the fork quietly.
    let out = h.feed_msg(reply(&b.1, 180, "Ringing", "tb", false), b.0);
    let cancel = out
        .iter()
        .find(|(_, m)| m.method() == Some(&Method::Cancel))
        .expect("CANCEL after the provisional");
    assert_eq!(cancel.0, b.0);
    h.feed_msg(reply(&b.1, 487, "Request Terminated", "tb", false), b.0);
    assert!(
        events(&mut o).is_empty(),
        "no Ringing/Busy after the answer"
    );
    assert_eq!(h.core.legs.len(), 1);
}

#[test]
fn outbound_all_busy() {
    let mut h = H::new(CONF);
    bob_two_contacts(&mut h);
    let (mut o, out) = dial_out(&mut h, "bob");
    let inv = invites(&out);
    assert_eq!(inv.len(), 2);
    let out = h.feed_msg(reply(&inv[0].1, 486, "Busy Here", "ta", false), inv[0].0);
    // The transaction layer ACKs the non-2xx.
    assert!(out.iter().any(|(_, m)| m.method() == Some(&Method::Ack)));
    assert!(events(&mut o).is_empty());
    h.feed_msg(reply(&inv[1].1, 486, "Busy Here", "tb", false), inv[1].0);
    assert!(matches!(events(&mut o)[..], [ChanEvent::Busy]));
}

#[test]
fn outbound_unregistered_peer_is_absent() {
    let mut h = H::new(CONF);
    let e = h.core.resolve("alice", h.now).unwrap_err();
    assert_eq!(e.cause, 20);
}

#[test]
fn outbound_trunk_answers_407_once() {
    let mut h = H::new(CONF);
    let (mut o, out) = dial_out(&mut h, "trunk/5551234");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].0, addr("127.0.0.1:5099"));
    let first_cseq = inv[0].1.cseq().unwrap().0;
    let mut r = reply(&inv[0].1, 407, "Proxy Authentication Required", "tt", false);
    r.headers_mut().push(
        "Proxy-Authenticate",
        "Digest realm=\"trunkrealm\", nonce=\"abc123\", algorithm=MD5, qop=\"auth\"",
    );
    let out = h.feed_msg(r, inv[0].0);
    let again = invites(&out);
    assert_eq!(again.len(), 1, "{out:?}");
    let m = &again[0].1;
    assert_eq!(m.cseq().unwrap().0, first_cseq + 1);
    assert_eq!(m.call_id(), inv[0].1.call_id());
    let pa = m.header("Proxy-Authorization").expect("credentials");
    assert!(
        pa.contains("username=\"trunk\"") && pa.contains("realm=\"trunkrealm\""),
        "{pa}"
    );
    assert_ne!(
        m.top_via().unwrap().branch,
        inv[0].1.top_via().unwrap().branch
    );
    // A second challenge is not answered again: the call fails.
    let mut r = reply(m, 407, "Proxy Authentication Required", "tt2", false);
    r.headers_mut().push(
        "Proxy-Authenticate",
        "Digest realm=\"trunkrealm\", nonce=\"def456\", algorithm=MD5, qop=\"auth\"",
    );
    let out = h.feed_msg(r, inv[0].0);
    assert!(invites(&out).is_empty());
    assert!(matches!(events(&mut o)[..], [ChanEvent::Hangup(_)]));
}

// ------------------------------------------------------------------ MESSAGE, OPTIONS

fn message_text(from_user: &str, to_exten: &str, body: &str) -> String {
    req(
        "MESSAGE",
        &format!("sip:{to_exten}@127.0.0.1"),
        &via("127.0.0.1:5071"),
        &format!("<sip:{from_user}@127.0.0.1>;tag=m1"),
        &format!("<sip:{to_exten}@127.0.0.1>"),
        &format!("msg-{:x}", rand::random::<u64>()),
        1,
        &["Content-Type: text/plain".to_string()],
        body,
    )
}

#[test]
fn message_in_accepted_and_routed() {
    let mut h = H::new(CONF);
    let out = h.feed(
        &message_text("bob", "100", "hello there"),
        addr("127.0.0.1:5071"),
    );
    assert_eq!(codes(&out), [202]);
    let m = h
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Message(m, ctx, exten) => Some((m.clone(), ctx.clone(), exten.clone())),
            _ => None,
        })
        .expect("Action::Message");
    assert_eq!(m.0.body, "hello there");
    assert!(m.0.from.contains("sip:bob@127.0.0.1"), "{}", m.0.from);
    assert_eq!(m.0.endpoint, "bob");
    assert_eq!(m.1, "internal");
    assert_eq!(m.2, "100");
}

#[test]
fn message_in_refused_when_disabled() {
    let mut h = H::new(&CONF.replace(
        "accept_outofcall_message=yes",
        "accept_outofcall_message=no",
    ));
    let out = h.feed(&message_text("bob", "100", "hi"), addr("127.0.0.1:5071"));
    assert_eq!(codes(&out), [405]);
    assert!(!h.actions.iter().any(|a| matches!(a, Action::Message(..))));
}

#[test]
fn send_message_to_every_contact() {
    let mut h = H::new(CONF);
    bob_two_contacts(&mut h);
    let msg = Msg {
        to: "sip:bob".into(),
        from: String::new(),
        body: "ping".into(),
        data: Vec::new(),
        tech: String::new(),
        endpoint: String::new(),
    };
    h.core.send_message(&msg, "bob", "", h.now).expect("sent");
    let out = h.collect();
    let msgs: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(&Method::Message))
        .collect();
    assert_eq!(msgs.len(), 2);
    for (_, m) in msgs {
        assert_eq!(m.body(), b"ping");
    }
    assert!(h.core.send_message(&msg, "alice", "", h.now).is_err());
}

#[test]
fn options_answered_with_allow() {
    let mut h = H::new(CONF);
    let t = req(
        "OPTIONS",
        "sip:127.0.0.1",
        &via("127.0.0.1:5071"),
        "<sip:probe@127.0.0.1>;tag=o1",
        "<sip:127.0.0.1>",
        "opt-1",
        1,
        &[],
        "",
    );
    let out = h.feed(&t, addr("127.0.0.1:5071"));
    assert_eq!(codes(&out), [200]);
    let allow = out[0].1.header("Allow").expect("Allow");
    assert!(
        allow.contains("INVITE") && allow.contains("MESSAGE"),
        "{allow}"
    );
}

// ------------------------------------------------------------------ robustness

fn seeds() -> Vec<String> {
    let mut c = Call::new("bob", "100", "127.0.0.1:5071");
    let mut r = Reg::new("bob", "127.0.0.1:5071");
    vec![
        r.text(&[contact("sip:bob@10.0.0.1:5060"), "Expires: 60".into()]),
        r.text(&["Contact: *".into(), "Expires: 0".into()]),
        c.invite(&[]),
        c.cancel(),
        c.ack("<sip:100@127.0.0.1>;tag=as1"),
        c.in_dialog("BYE", "<sip:100@127.0.0.1>;tag=as1"),
        c.in_dialog("INVITE", "<sip:100@127.0.0.1>;tag=as1"),
        message_text("bob", "100", "hello"),
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 102 INVITE\r\nContact: <sip:c@127.0.0.1>\r\nContent-Length: 0\r\n\r\n".into(),
    ]
}

#[test]
fn core_survives_mutated_input() {
    let mut h = H::new(CONF);
    let seed = std::env::var("FERRISK_CORE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = crate::testutil::XorShift(seed);
    let seeds = seeds();
    let srcs = [
        addr("127.0.0.1:5071"),
        addr("127.0.0.1:5099"),
        addr("[::1]:5060"),
        addr("10.1.2.3:1"),
    ];
    let junk: Vec<char> = "\r\n:;,<>@=\" \tzZ0912*%\u{0}é".chars().collect();
    let mut parsed = 0;
    // FERRISK_CORE_FUZZ_ITERS=100000 for a longer run.
    let iters: u64 = std::env::var("FERRISK_CORE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    for i in 0..iters {
        let seed = &seeds[(rng.next_u64() % seeds.len() as u64) as usize];
        let mut b = seed.as_bytes().to_vec();
        match rng.next_u64() % 5 {
            0 => b.truncate((rng.next_u64() % (b.len() as u64 + 1)) as usize),
            1 => {
                for _ in 0..1 + rng.next_u64() % 8 {
                    let p = (rng.next_u64() % b.len() as u64) as usize;
                    b[p] = rng.next_u64() as u8;
                }
            }
            2 => {
                let p = (rng.next_u64() % b.len() as u64) as usize;
                let s = rng.string(&junk, 24);
                b.splice(p..p, s.into_bytes());
            }
            3 => {
                // Drop a line.
                let text = String::from_utf8_lossy(&b).into_owned();
                let lines: Vec<&str> = text.split("\r\n").collect();
                let k = (rng.next_u64() % lines.len() as u64) as usize;
                let kept: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, l)| *l)
                    .collect();
                b = kept.join("\r\n").into_bytes();
            }
            _ => {}
        }
        let src = srcs[(rng.next_u64() % srcs.len() as u64) as usize];
        if let Ok(msg) = parse(&b) {
            parsed += 1;
            h.core.on_receive(
                Received {
                    msg,
                    src,
                    proto: Proto::Udp,
                    raw: b,
                },
                h.now,
            );
        }
        if i % 7 == 0 {
            h.now += Duration::from_millis(rng.next_u64() % 5000);
            h.core.on_timer(h.now);
        }
        if i % 13 == 0 {
            let id = rng.next_u64() % 8;
            match rng.next_u64() % 3 {
                0 => h.core.answer(id, h.now),
                1 => h.core.indicate(id, &ChanEvent::Ringing, h.now),
                _ => h.core.hangup(id, 16, h.now),
            }
        }
        for (_, bytes) in h.core.take_output() {
            assert!(
                bytes.starts_with(b"SIP/2.0 ") || bytes.first().is_some_and(u8::is_ascii_uppercase)
            );
        }
        let _ = h.core.take_actions();
    }
    assert!(parsed > iters / 6, "only {parsed} mutated messages parsed");
    let _ = &h.pbx;
}

// ------------------------------------------------------------------ host names

/// The core never asks the resolver: a name it has not been given is unresolvable, and
/// the glue is told which name a dial string or a MessageSend destination needs.
#[test]
fn host_names_come_from_look_ups_made_off_the_core() {
    let text = "[general]\n\n[trunk]\ntype=peer\nhost=trunk.invalid\ncontext=internal\n\n[bob]\ntype=friend\nhost=dynamic\nsecret=x\n";
    let mut h = H::new(text);
    let now = h.now;
    assert_eq!(
        h.core.names_due(now),
        ["_sip._udp.trunk.invalid", "trunk.invalid"]
    );
    assert_eq!(
        h.core.dial_name_to_look_up("trunk/100", now).as_deref(),
        Some("trunk.invalid")
    );
    let e = h.core.resolve("trunk/100", now).unwrap_err();
    assert_eq!(e.cause, 3, "no route to destination");
    for (data, want) in [
        ("100@other.invalid", Some("other.invalid")),
        ("100@other.invalid:5070,30", Some("other.invalid")),
        ("100@192.0.2.1", None),
        ("bob", None),
        ("", None),
    ] {
        assert_eq!(
            h.core.dial_name_to_look_up(data, now).as_deref(),
            want,
            "{data}"
        );
    }
    for (to, want) in [
        ("sip:carol@other.invalid", Some("other.invalid")),
        ("SIP/carol@other.invalid:5070", Some("other.invalid")),
        ("carol@trunk", Some("trunk.invalid")),
        ("bob", None),
        ("carol@[::1]", None),
    ] {
        assert_eq!(
            h.core.message_name_to_look_up(to, now).as_deref(),
            want,
            "{to}"
        );
    }
    // What the look-ups found (a name that did not resolve is tried again after RETRY).
    h.core
        .learn_names(vec![("gone.invalid".into(), vec![])], now);
    assert_eq!(h.core.dial_name_to_look_up("1@gone.invalid", now), None);
    let retry = now + super::core::names::RETRY;
    assert!(h
        .core
        .dial_name_to_look_up("1@gone.invalid", retry)
        .is_some());
    h.core.learn_names(
        vec![
            ("trunk.invalid".into(), vec![([192, 0, 2, 9].into(), None)]),
            ("other.invalid".into(), vec![([192, 0, 2, 10].into(), None)]),
        ],
        now,
    );
    let (_, targets, _) = h.core.resolve("trunk/100", now).expect("resolves");
    assert_eq!(targets[0].dest, addr("192.0.2.9:5060"));
    let (_, targets, _) = h
        .core
        .resolve("100@other.invalid:5070", now)
        .expect("resolves");
    assert_eq!(targets[0].dest, addr("192.0.2.10:5070"));
    assert_eq!(h.core.dial_name_to_look_up("100@other.invalid", now), None);
    // A name used once is forgotten when it is due again; the trunk's is kept.
    let much_later = now + super::core::names::REFRESH;
    assert_eq!(
        h.core.names_due(much_later),
        ["_sip._udp.trunk.invalid", "trunk.invalid"]
    );
    assert!(h.core.resolve("100@other.invalid", much_later).is_err());
    assert!(h.core.resolve("trunk/100", much_later).is_ok());
}

// ------------------------------------------------------------------ seed 000: [voximplant]

/// The `[voximplant]` trunk of the seed article, verbatim except that `host` points at
/// `localhost` (the test has no DNS): `secret` is what the provider uses towards us,
/// `remotesecret` what we answer its challenges with, From is built from fromuser/fromdomain.
#[test]
fn seed_voximplant_trunk() {
    let text = "[general]\nrealm=ferrisk\n\n[voximplant]\ntype=friend\nhost=localhost\nport=5099\nsecret=asterisk-pass-for-vox\nfromdomain=testapp.testuser.voximplant.com\nfromuser=asterisk\nremotesecret=vox-pass-for-asterisk\ncontext=internal\n";
    let mut h = H::new(text);
    // What the driver's look-up of the configured names finds.
    h.core.learn_names(
        vec![("localhost".into(), vec![([127, 0, 0, 1].into(), None)])],
        h.now,
    );
    for data in ["voximplant/79001234567", "79001234567@voximplant"] {
        let (mut o, out) = dial_out(&mut h, data);
        let inv = invites(&out);
        assert_eq!(inv.len(), 1, "{data}");
        let m = &inv[0].1;
        assert_eq!(inv[0].0.port(), 5099);
        let from = m.header("From").unwrap_or("");
        assert!(
            from.contains("sip:asterisk@testapp.testuser.voximplant.com"),
            "From: {from}"
        );
        let SipMessage::Request { uri, .. } = m else {
            panic!("request")
        };
        assert_eq!(uri.user.as_deref(), Some("79001234567"));
        // The provider challenges; ferrisk answers with remotesecret as user `asterisk`.
        let mut r = reply(m, 407, "Proxy Authentication Required", "vx", false);
        let challenge = "Digest realm=\"voximplant.com\", nonce=\"n0nce\", algorithm=MD5";
        r.headers_mut().push("Proxy-Authenticate", challenge);
        let out = h.feed_msg(r, inv[0].0);
        let again = invites(&out);
        assert_eq!(again.len(), 1);
        let pa = again[0].1.header("Proxy-Authorization").expect("creds");
        let creds = crate::sip::auth::DigestCredentials::parse(pa).expect("parse");
        assert_eq!(creds.username, "asterisk");
        let ch = crate::sip::auth::DigestChallenge::parse(challenge).expect("challenge");
        let SipMessage::Request { uri, .. } = &again[0].1 else {
            panic!("request")
        };
        let expected = crate::sip::auth::build_authorization(
            "asterisk",
            crate::sip::auth::Secret::Plain("vox-pass-for-asterisk"),
            "INVITE",
            &uri.to_string(),
            &ch,
            "x",
            1,
        )
        .expect("digest");
        let want = crate::sip::auth::DigestCredentials::parse(&expected).expect("parse");
        assert_eq!(creds.response, want.response, "digest over remotesecret");
        let _ = events(&mut o);
    }
}

// ---------------------------------------------------------------------------------------
// Media wiring (with fake leg media: no sockets)

#[derive(Debug, Default)]
struct FakeLegState {
    params: crate::media::session::StreamParams,
    attached: bool,
    idle: Duration,
}

#[derive(Debug)]
struct FakeLeg(u16, Arc<parking_lot::Mutex<FakeLegState>>);

impl super::media::LegMedia for FakeLeg {
    fn port(&self) -> u16 {
        self.0
    }
    fn set_params(&self, p: crate::media::session::StreamParams) {
        self.1.lock().params = p;
    }
    fn params(&self) -> crate::media::session::StreamParams {
        self.1.lock().params
    }
    fn attach(&self, _m: crate::pbx::media::MediaHandle) {
        self.1.lock().attached = true;
    }
    fn detach(&self) {
        self.1.lock().attached = false;
    }
    fn idle(&self) -> Duration {
        self.1.lock().idle
    }
    fn reset_idle(&self) {
        self.1.lock().idle = Duration::ZERO;
    }
}

/// Hands out fake leg media and keeps a handle on each.
#[derive(Default, Clone)]
struct FakeAlloc(Arc<parking_lot::Mutex<Vec<Arc<parking_lot::Mutex<FakeLegState>>>>>);

impl super::media::MediaAllocator for FakeAlloc {
    fn open(
        &mut self,
        range: (u16, u16),
        _comedia: bool,
    ) -> Option<Box<dyn super::media::LegMedia>> {
        let st = Arc::new(parking_lot::Mutex::new(FakeLegState::default()));
        let mut all = self.0.lock();
        all.push(st.clone());
        Some(Box::new(FakeLeg(range.0 + 2 * all.len() as u16, st)))
    }
}

#[test]
fn inbound_call_gets_media_from_the_offer_and_info_dtmf_reaches_it() {
    let mut h = H::new(CONF);
    let fake = FakeAlloc::default();
    h.core.media_alloc = Box::new(fake.clone());
    let mut c = Call::new("alice", "100", "127.0.0.1:5070");
    assert_eq!(codes(&c.dial(&mut h, Some(("alice", "alicepw")))), [100]);
    let chan_id = h.core.legs[&c.call_id].chan_id;
    let media = h.spawned[0]
        .media
        .clone()
        .expect("chan.media set before spawning");
    assert_eq!(media.format, crate::pbx::media::NativeFormat::Ulaw);
    let st = fake.0.lock()[0].clone();
    {
        let s = st.lock();
        assert!(s.attached);
        assert_eq!(s.params.remote, Some(addr("127.0.0.1:4000")));
        assert_eq!((s.params.pt, s.params.dtmf_pt), (0, Some(101)));
    }
    h.core.answer(chan_id, h.now);
    let to = h.collect()[0].1.header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    let info = req(
        "INFO",
        "sip:100@127.0.0.1:5060",
        &via(&c.src.to_string()),
        &c.from,
        &to,
        &c.call_id,
        c.cseq,
        &["Content-Type: application/dtmf-relay".into()],
        "Signal=5\r\nDuration=160\r\n",
    );
    c.cseq += 1;
    assert_eq!(codes(&h.feed(&info, c.src)), [200]);
    assert_eq!(
        media.from_far.try_pop(),
        Some(crate::pbx::media::Frame::Dtmf(
            '5',
            Duration::from_millis(160)
        ))
    );
    // A hold re-INVITE: the session stops sending.
    let t = c.hold(&to);
    assert_eq!(codes(&h.feed(&t, c.src)), [200]);
    assert!(st.lock().params.hold);
    // The session stays with the leg while on hold.
    assert!(h.core.legs[&c.call_id].media.is_some());
}

#[test]
fn rtptimeout_hangs_up_an_answered_call_without_rtp() {
    let conf = CONF.replace("[general]\n", "[general]\nrtptimeout=5\n");
    let mut h = H::new(&conf);
    let fake = FakeAlloc::default();
    h.core.media_alloc = Box::new(fake.clone());
    let mut c = Call::new("alice", "100", "127.0.0.1:5070");
    assert_eq!(codes(&c.dial(&mut h, Some(("alice", "alicepw")))), [100]);
    let chan_id = h.core.legs[&c.call_id].chan_id;
    h.core.answer(chan_id, h.now);
    h.collect();
    let st = fake.0.lock()[0].clone();
    st.lock().idle = Duration::from_secs(4);
    h.core.on_timer(h.now + Duration::from_secs(2));
    assert!(!h.spawned[0].shared.hangup_requested());
    st.lock().idle = Duration::from_secs(6);
    h.core.on_timer(h.now + Duration::from_secs(4));
    assert!(h.spawned[0].shared.hangup_requested());
    let notices: Vec<String> = h
        .core
        .take_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Notice(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(
        notices.iter().any(|n| n
            == "chan_sip.c: Disconnecting call 'SIP/alice-00000000' for lack of RTP activity in 6 seconds"),
        "{notices:?}"
    );
}

#[test]
fn outbound_forks_feed_the_channel_early_media_first_then_the_winner() {
    let mut h = H::new(CONF);
    let fake = FakeAlloc::default();
    h.core.media_alloc = Box::new(fake.clone());
    bob_two_contacts(&mut h);
    let (mut o, out) = dial_out(&mut h, "bob");
    h.core.set_outbound_media(
        o.id,
        crate::pbx::media::MediaHandle::new(Default::default()),
    );
    let inv = invites(&out);
    assert_eq!(inv.len(), 2);
    // Which fake session each INVITE offered (by its SDP port).
    let state_of = |m: &SipMessage| {
        let port = Sdp::parse_bytes(m.body()).expect("offer").media[0].port;
        fake.0.lock()[usize::from((port - 10000) / 2 - 1)].clone()
    };
    let (a, b) = (&inv[0], &inv[1]);
    let (sa, sb) = (state_of(&a.1), state_of(&b.1));
    assert!(!sa.lock().attached && !sb.lock().attached);
    // B sends early media (183 + SDP): it feeds the channel.
    h.feed_msg(reply(&b.1, 183, "Session Progress", "tb", true), b.0);
    assert!(sb.lock().attached);
    assert_eq!(sb.lock().params.remote, Some(addr("127.0.0.1:5000")));
    // A answers: A feeds it, B no longer (and is cancelled).
    h.feed_msg(reply(&a.1, 200, "OK", "ta", true), a.0);
    assert!(sa.lock().attached);
    assert!(!sb.lock().attached);
    assert_eq!(sa.lock().params.pt, 0);
    assert!(matches!(
        events(&mut o)[..],
        [ChanEvent::Progress, ChanEvent::Answer]
    ));
}

#[test]
fn early_media_moves_to_another_fork_when_the_first_fails() {
    let mut h = H::new(CONF);
    let fake = FakeAlloc::default();
    h.core.media_alloc = Box::new(fake.clone());
    bob_two_contacts(&mut h);
    let (o, out) = dial_out(&mut h, "bob");
    h.core.set_outbound_media(
        o.id,
        crate::pbx::media::MediaHandle::new(Default::default()),
    );
    let inv = invites(&out);
    let state_of = |m: &SipMessage| {
        let port = Sdp::parse_bytes(m.body()).expect("offer").media[0].port;
        fake.0.lock()[usize::from((port - 10000) / 2 - 1)].clone()
    };
    let (a, b) = (&inv[0], &inv[1]);
    let sa = state_of(&a.1);
    h.feed_msg(reply(&b.1, 183, "Session Progress", "tb", true), b.0);
    h.feed_msg(reply(&b.1, 486, "Busy Here", "tb", false), b.0);
    h.feed_msg(reply(&a.1, 183, "Session Progress", "ta", true), a.0);
    assert!(
        sa.lock().attached,
        "the remaining fork's early media is heard"
    );
}

/// MessageSend to a trunk that challenges: answered once with the peer's credentials.
#[test]
fn message_to_a_challenging_trunk_is_resent_with_credentials() {
    let mut h = H::new(CONF);
    let msg = Msg::new("sip:5551234@trunk", "", "hello provider");
    h.core
        .send_message(&msg, "5551234@trunk", "", h.now)
        .expect("sent");
    let out = h.collect();
    let first: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(&Method::Message))
        .cloned()
        .collect();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, addr("127.0.0.1:5099"));
    let mut r = reply(
        &first[0].1,
        407,
        "Proxy Authentication Required",
        "m1",
        false,
    );
    r.headers_mut().push(
        "Proxy-Authenticate",
        "Digest realm=\"trunkrealm\", nonce=\"mn0nce\", algorithm=MD5",
    );
    let out = h.feed_msg(r, first[0].0);
    let again: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(&Method::Message))
        .collect();
    assert_eq!(again.len(), 1, "{out:?}");
    let m = &again[0].1;
    assert_eq!(m.body(), b"hello provider");
    assert_eq!(m.cseq().map(|c| c.0), first[0].1.cseq().map(|c| c.0 + 1));
    assert!(m
        .header("Proxy-Authorization")
        .is_some_and(|v| v.contains("username=\"trunk\"")));
    // A second challenge is not answered.
    let mut r = reply(m, 407, "Proxy Authentication Required", "m2", false);
    r.headers_mut().push(
        "Proxy-Authenticate",
        "Digest realm=\"trunkrealm\", nonce=\"other\", algorithm=MD5",
    );
    let out = h.feed_msg(r, first[0].0);
    assert!(out
        .iter()
        .all(|(_, m)| m.method() != Some(&Method::Message)));
}

/// call-limit counts calls in both directions: a second call to a peer at its limit is
/// refused at once (cause 17), and the slot frees when the first channel is gone.
#[test]
fn call_limit_counts_outbound_calls() {
    let conf = format!("{CONF}\n[limited]\ntype=peer\nhost=127.0.0.1\nport=5098\ncall-limit=1\n");
    let mut h = H::new(&conf);
    let (o, _out) = dial_out(&mut h, "limited/100");
    let e = h
        .core
        .resolve("limited/101", h.now)
        .expect_err("at the limit");
    assert_eq!(e.cause, 17);
    assert!(e.msg.contains("usage limit of 1"), "{}", e.msg);
    h.core.hangup(o.id, 16, h.now);
    assert!(h.core.resolve("limited/101", h.now).is_ok());
}

// ------------------------------------------------------------------ MWI

const MWI_CONF: &str = "\
[general]
context=public
realm=asterisk
subminexpiry=30

[alice]
type=friend
host=dynamic
secret=alicepw
mailbox=100@default,101
context=internal

[bob]
type=friend
host=dynamic
secret=bobpw
context=internal
";

fn counts(mailbox: &str, new: u32, old: u32) -> crate::pbx::mwi::MwiState {
    crate::pbx::mwi::MwiState {
        mailbox: mailbox.into(),
        context: "default".into(),
        new,
        old,
        ..Default::default()
    }
}

fn refreshes(h: &mut H) -> Vec<(String, super::core::MwiTarget)> {
    let mut v = Vec::new();
    h.actions.retain(|a| match a {
        Action::MwiRefresh(p, t) => {
            v.push((p.clone(), t.clone()));
            false
        }
        _ => true,
    });
    v
}

fn notifies(out: &[(SocketAddr, SipMessage)]) -> Vec<(SocketAddr, SipMessage)> {
    out.iter()
        .filter(|(_, m)| m.method() == Some(&Method::Notify))
        .cloned()
        .collect()
}

/// The core asked for the counts of subscription `cid` (and nothing else); answer with
/// `state` and return the NOTIFYs it sends.
fn subscription_notify(
    h: &mut H,
    cid: &str,
    state: crate::pbx::mwi::MwiState,
) -> Vec<(SocketAddr, SipMessage)> {
    let target = super::core::MwiTarget::Sub(cid.to_string());
    assert_eq!(refreshes(h), [("alice".to_string(), target.clone())]);
    h.core.send_mwi("alice", &target, &[state], h.now);
    notifies(&h.collect())
}

fn body(m: &SipMessage) -> String {
    String::from_utf8_lossy(m.body()).to_string()
}

/// A 200 (or `code`) answering one of our requests.
fn answer(m: &SipMessage, code: u16) -> SipMessage {
    let reason = if code == 200 { "OK" } else { "Whatever" };
    response_to(m, code, reason, Some("uatag")).expect("response")
}

#[test]
fn mwi_unsolicited_notify_after_register_and_retransmission() {
    let mut h = H::new(MWI_CONF);
    let mut r = Reg::new("alice", "127.0.0.1:5070");
    let ok = r.send(
        &mut h,
        Some("alicepw"),
        &[contact("sip:alice@127.0.0.1:5070"), "Expires: 300".into()],
    );
    assert_eq!(code(&ok), 200);
    assert_eq!(
        refreshes(&mut h),
        [("alice".to_string(), super::core::MwiTarget::Peer)]
    );
    // The driver reads both mailboxes and sends their sum.
    h.core.send_mwi(
        "alice",
        &super::core::MwiTarget::Peer,
        &[counts("100", 1, 0), counts("101", 0, 2)],
        h.now,
    );
    let out = h.collect();
    let n = notifies(&out);
    assert_eq!(n.len(), 1, "{out:?}");
    let (dest, m) = &n[0];
    assert_eq!(*dest, addr("127.0.0.1:5070"));
    match m {
        SipMessage::Request { uri, .. } => assert_eq!(uri.to_string(), "sip:alice@127.0.0.1:5070"),
        SipMessage::Response { .. } => unreachable!(),
    }
    assert_eq!(m.header("Event"), Some("message-summary"));
    assert_eq!(
        m.header("Content-Type"),
        Some("application/simple-message-summary")
    );
    assert!(m.header("Subscription-State").is_none());
    assert_eq!(
        body(m),
        "Messages-Waiting: yes\r\nMessage-Account: sip:asterisk@127.0.0.1\r\nVoice-Message: 1/2 (0/0)\r\n"
    );
    assert_eq!(h.core.peers_rt["alice"].last_msgs, (1, 2));
    // Unanswered over UDP: retransmitted after T1, then 2·T1.
    let again = notifies(&h.advance(Duration::from_millis(500)));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.call_id(), m.call_id());
    assert_eq!(notifies(&h.advance(Duration::from_millis(999))).len(), 0);
    assert_eq!(notifies(&h.advance(Duration::from_millis(1))).len(), 1);
    // Answered: no more.
    h.feed_msg(answer(m, 200), *dest);
    assert_eq!(notifies(&h.advance(Duration::from_secs(8))).len(), 0);
    // A peer without mailbox gets none.
    let mut rb = Reg::new("bob", "127.0.0.1:5072");
    rb.send(&mut h, Some("bobpw"), &[contact("sip:bob@127.0.0.1:5072")]);
    assert!(refreshes(&mut h).is_empty());
}

#[test]
fn mwi_change_reaches_peers_listing_the_mailbox() {
    let mut h = H::new(MWI_CONF);
    // Not registered, not subscribed: nobody to tell.
    h.core.mwi_changed(&counts("100", 1, 0), h.now);
    h.collect();
    assert!(refreshes(&mut h).is_empty());
    let mut r = Reg::new("alice", "127.0.0.1:5070");
    r.send(
        &mut h,
        Some("alicepw"),
        &[contact("sip:alice@127.0.0.1:5070")],
    );
    refreshes(&mut h);
    h.core.mwi_changed(&counts("101", 1, 0), h.now);
    h.collect();
    assert_eq!(
        refreshes(&mut h),
        [("alice".to_string(), super::core::MwiTarget::Peer)]
    );
    h.core.mwi_changed(&counts("555", 1, 0), h.now);
    h.collect();
    assert!(refreshes(&mut h).is_empty());
    // Missed changes (the feed overflowed): every reachable peer with a mailbox.
    h.core.mwi_changed_all(h.now);
    h.collect();
    assert_eq!(
        refreshes(&mut h),
        [("alice".to_string(), super::core::MwiTarget::Peer)]
    );
}

struct Sub {
    user: String,
    call_id: String,
    from: String,
    to: String,
    cseq: u32,
    src: SocketAddr,
}

impl Sub {
    fn new(user: &str, src: &str) -> Sub {
        Sub {
            user: user.into(),
            call_id: format!("sub-{:x}@test", rand::random::<u64>()),
            from: format!("<sip:{user}@127.0.0.1>;tag=st{:x}", rand::random::<u32>()),
            to: format!("<sip:{user}@127.0.0.1>"),
            cseq: 1,
            src: addr(src),
        }
    }

    fn text(&mut self, event: &str, extra: &[String]) -> String {
        let mut ex = vec![
            format!("Event: {event}"),
            format!("Contact: <sip:{}@{}>", self.user, self.src),
            "Accept: application/simple-message-summary".to_string(),
        ];
        ex.extend_from_slice(extra);
        let s = req(
            "SUBSCRIBE",
            &format!("sip:{}@127.0.0.1", self.user),
            &via(&self.src.to_string()),
            &self.from,
            &self.to,
            &self.call_id,
            self.cseq,
            &ex,
            "",
        );
        self.cseq += 1;
        s
    }

    /// Send; answer one challenge with `pw`; remember the To-tag of a 2xx.
    fn send(&mut self, h: &mut H, pw: Option<&str>, event: &str, extra: &[String]) -> SipMessage {
        let t = self.text(event, extra);
        let mut r = h.feed_resp(&t, self.src);
        if let (401, Some(pw)) = (code(&r), pw) {
            let a = auth_value(
                &r,
                "WWW-Authenticate",
                &self.user,
                pw,
                "SUBSCRIBE",
                &format!("sip:{}@127.0.0.1", self.user),
            );
            let mut ex = extra.to_vec();
            ex.push(format!("Authorization: {a}"));
            let t = self.text(event, &ex);
            r = h.feed_resp(&t, self.src);
        }
        if code(&r) == 200 && !self.to.contains("tag=") {
            self.to = r.header("To").expect("To").to_string();
        }
        r
    }
}

#[test]
fn mwi_subscribe_notify_refresh_unsubscribe() {
    use super::core::MwiTarget;
    let mut h = H::new(MWI_CONF);
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    let first = s.send(&mut h, None, "message-summary", &[]);
    assert_eq!(code(&first), 401);
    let ok = s.send(&mut h, Some("alicepw"), "message-summary", &[]);
    assert_eq!(code(&ok), 200, "{ok:?}");
    assert_eq!(ok.header("Expires"), Some("3600"));
    assert!(ok.header("Contact").is_some());
    let to_tag = ok
        .to()
        .and_then(|t| t.tag().map(str::to_string))
        .expect("to tag");
    let cid = s.call_id.clone();
    let n = subscription_notify(&mut h, &cid, counts("100", 2, 1));
    assert_eq!(n.len(), 1);
    let (dest, m) = &n[0];
    assert_eq!(*dest, s.src);
    assert_eq!(m.call_id(), Some(cid.as_str()));
    assert_eq!(
        m.from().and_then(|f| f.tag().map(str::to_string)),
        Some(to_tag.clone())
    );
    assert!(m.header("To").unwrap_or("").contains(";tag=st"));
    assert_eq!(m.cseq().map(|c| c.0), Some(1));
    assert_eq!(m.header("Subscription-State"), Some("active;expires=3600"));
    assert!(body(m).contains("Voice-Message: 2/1 (0/0)"), "{}", body(m));
    h.feed_msg(answer(m, 200), *dest);
    assert_eq!(h.core.mwi_subs.len(), 1);
    let shown = super::show::subscriptions_text(&h.core, h.now);
    assert!(shown.starts_with("Peer             User             Call ID          Extension        Last state     Type            Mailbox    Expiry\n"), "{shown}");
    assert!(
        shown.contains("127.0.0.1        alice ")
            && shown.contains(" mwi ")
            && shown.contains("003600"),
        "{shown}"
    );
    assert!(shown.ends_with("1 active SIP subscription\n"), "{shown}");

    // A voicemail change goes into the subscription, not to contacts.
    h.now += Duration::from_secs(100);
    h.core
        .send_mwi("alice", &MwiTarget::Peer, &[counts("100", 3, 1)], h.now);
    let n = notifies(&h.collect());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].1.call_id(), Some(cid.as_str()));
    assert_eq!(n[0].1.cseq().map(|c| c.0), Some(2));
    assert_eq!(
        n[0].1.header("Subscription-State"),
        Some("active;expires=3500")
    );
    h.feed_msg(answer(&n[0].1, 200), s.src);

    // Refresh with a shorter expiry.
    let r = s.send(&mut h, None, "message-summary", &["Expires: 600".into()]);
    assert_eq!(code(&r), 200);
    assert_eq!(r.header("Expires"), Some("600"));
    let n = subscription_notify(&mut h, &cid, counts("100", 3, 1));
    assert_eq!(
        n[0].1.header("Subscription-State"),
        Some("active;expires=600")
    );
    h.feed_msg(answer(&n[0].1, 200), s.src);

    // Too short a refresh: 423 with Min-Expires.
    let r = s.send(&mut h, None, "message-summary", &["Expires: 10".into()]);
    assert_eq!(code(&r), 423);
    assert_eq!(r.header("Min-Expires"), Some("30"));

    // Unsubscribe: 200, then a final NOTIFY, and the subscription is gone.
    let r = s.send(&mut h, None, "message-summary", &["Expires: 0".into()]);
    assert_eq!(code(&r), 200);
    assert_eq!(r.header("Expires"), Some("0"));
    let n = subscription_notify(&mut h, &cid, counts("100", 3, 1));
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].1.header("Subscription-State"), Some("terminated"));
    assert!(h.core.mwi_subs.is_empty());
    assert!(
        super::show::subscriptions_text(&h.core, h.now).ends_with("0 active SIP subscriptions\n")
    );
    // The dialog is over.
    let r = s.send(&mut h, None, "message-summary", &["Expires: 600".into()]);
    assert_eq!(code(&r), 481);
}

#[test]
fn mwi_subscribe_refusals() {
    let mut h = H::new(MWI_CONF);
    // Other packages: 489 Bad Event, before any authentication.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    let r = s.send(&mut h, None, "presence", &[]);
    assert_eq!((code(&r), reason(&r).as_str()), (489, "Bad Event"));
    assert_eq!(r.header("Allow-Events"), Some("message-summary"));
    let r = s.send(&mut h, None, "dialog", &[]);
    assert_eq!(code(&r), 489);
    // Too short.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    let r = s.send(
        &mut h,
        Some("alicepw"),
        "message-summary",
        &["Expires: 5".into()],
    );
    assert_eq!(code(&r), 423);
    // Too long: capped at submaxexpiry.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    let r = s.send(
        &mut h,
        Some("alicepw"),
        "message-summary",
        &["Expires: 86400".into()],
    );
    assert_eq!(r.header("Expires"), Some("3600"));
    // Unknown account: challenged, then refused like a wrong password (alwaysauthreject).
    let mut s = Sub::new("mallory", "127.0.0.1:5082");
    let r = s.send(&mut h, None, "message-summary", &[]);
    assert_eq!(code(&r), 401);
    let r = s.send(&mut h, Some("guess"), "message-summary", &[]);
    assert_eq!(code(&r), 403);
    // A wrong password.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    let r = s.send(&mut h, Some("wrong"), "message-summary", &[]);
    assert_eq!(code(&r), 403);
    // A peer without a mailbox.
    let mut s = Sub::new("bob", "127.0.0.1:5084");
    let r = s.send(&mut h, Some("bobpw"), "message-summary", &[]);
    assert_eq!(code(&r), 404);
    // An unknown dialog.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    s.to.push_str(";tag=nosuch");
    let r = s.send(&mut h, None, "message-summary", &[]);
    assert_eq!(code(&r), 481);
    assert_eq!(h.core.mwi_subs.len(), 1);
}

#[test]
fn mwi_notify_481_or_expiry_ends_subscription() {
    use super::core::MwiTarget;
    let mut h = H::new(MWI_CONF);
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    assert_eq!(
        code(&s.send(&mut h, Some("alicepw"), "message-summary", &[])),
        200
    );
    refreshes(&mut h);
    h.core.send_mwi(
        "alice",
        &MwiTarget::Sub(s.call_id.clone()),
        &[counts("100", 0, 0)],
        h.now,
    );
    let n = notifies(&h.collect());
    assert!(body(&n[0].1).starts_with("Messages-Waiting: no\r\n"));
    h.feed_msg(answer(&n[0].1, 481), s.src);
    assert!(h.core.mwi_subs.is_empty());

    // Expiry: a final NOTIFY with reason=timeout.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    assert_eq!(
        code(&s.send(
            &mut h,
            Some("alicepw"),
            "message-summary",
            &["Expires: 60".into()]
        )),
        200
    );
    refreshes(&mut h);
    h.advance(Duration::from_secs(59));
    assert!(refreshes(&mut h).is_empty());
    h.advance(Duration::from_secs(2));
    assert_eq!(
        refreshes(&mut h),
        [("alice".to_string(), MwiTarget::Sub(s.call_id.clone()))]
    );
    h.core.send_mwi(
        "alice",
        &MwiTarget::Sub(s.call_id.clone()),
        &[counts("100", 0, 0)],
        h.now,
    );
    let n = notifies(&h.collect());
    assert_eq!(
        n[0].1.header("Subscription-State"),
        Some("terminated;reason=timeout")
    );
    assert!(h.core.mwi_subs.is_empty());

    // A NOTIFY nobody answers (timer F) ends the subscription too.
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    assert_eq!(
        code(&s.send(&mut h, Some("alicepw"), "message-summary", &[])),
        200
    );
    refreshes(&mut h);
    h.core.send_mwi(
        "alice",
        &MwiTarget::Sub(s.call_id.clone()),
        &[counts("100", 1, 0)],
        h.now,
    );
    h.collect();
    for _ in 0..40 {
        h.advance(Duration::from_secs(1));
    }
    assert!(h.core.mwi_subs.is_empty());
}

#[test]
fn mwi_subscriptions_per_peer_are_capped() {
    let mut h = H::new(&MWI_CONF.replace(
        "subminexpiry=30\n",
        "subminexpiry=30\nmax_contacts_per_aor=2\n",
    ));
    let mut last = String::new();
    for i in 0..3 {
        let mut s = Sub::new("alice", "127.0.0.1:5080");
        h.now += Duration::from_secs(1);
        assert_eq!(
            code(&s.send(&mut h, Some("alicepw"), "message-summary", &[])),
            200,
            "{i}"
        );
        last = s.call_id.clone();
    }
    assert_eq!(h.core.mwi_subs.len(), 2);
    assert!(h.core.mwi_subs.contains_key(&last));
}

/// The newest AstDB change of MWI subscriptions queued so far: (key, value or delete).
fn sub_db_change(h: &H) -> Option<(String, Option<String>)> {
    h.actions.iter().rev().find_map(|a| match a {
        Action::DbPut(f, k, v) if f == "SIP/Subscriptions/alice" => {
            Some((k.clone(), Some(v.clone())))
        }
        Action::DbDel(f, k) if f == "SIP/Subscriptions/alice" => Some((k.clone(), None)),
        _ => None,
    })
}

#[test]
fn mwi_subscriptions_are_stored_restored_and_continue_their_dialog() {
    use super::core::{MwiSub, MwiTarget};
    let mut h = H::new(MWI_CONF);
    let mut s = Sub::new("alice", "127.0.0.1:5080");
    let ok = s.send(
        &mut h,
        Some("alicepw"),
        "message-summary",
        &["Expires: 600".into()],
    );
    assert_eq!(code(&ok), 200);
    let cid = s.call_id.clone();
    let to_tag = ok.to().and_then(|t| t.tag().map(str::to_string));
    let (key, stored) = sub_db_change(&h).expect("subscription stored");
    assert!(stored.is_some());
    let n = subscription_notify(&mut h, &cid, counts("100", 0, 0));
    assert_eq!(n[0].1.cseq().map(|c| c.0), Some(1));
    h.feed_msg(answer(&n[0].1, 200), s.src);
    // The record follows the NOTIFY's CSeq.
    let (key2, value) = sub_db_change(&h).expect("stored again");
    assert_eq!(key2, key);
    let value = value.expect("a put");
    assert!(value.contains("\"local_cseq\":1"), "{value}");

    // "Restart": a new core 100 s later restores the record.
    let mut h2 = H::new(MWI_CONF);
    h2.now += Duration::from_secs(100);
    let unix = super::core::unix_now();
    let sub = MwiSub::from_db_value(&value, h2.now, unix + 100).expect("restored");
    assert!(h2.core.restore_mwi_sub(sub, h2.now));
    let shown = super::show::subscriptions_text(&h2.core, h2.now);
    assert!(shown.ends_with("1 active SIP subscription\n"), "{shown}");
    // Then it sends the current counts inside the old dialog, CSeq going on.
    h2.collect();
    assert!(refreshes(&mut h2).is_empty(), "counts wait for voicemail");
    h2.core.mwi_refresh_subs();
    h2.collect();
    let got = refreshes(&mut h2);
    assert_eq!(got, [("alice".to_string(), MwiTarget::Sub(cid.clone()))]);
    h2.core.send_mwi(
        "alice",
        &MwiTarget::Sub(cid.clone()),
        &[counts("100", 1, 0)],
        h2.now,
    );
    let n = notifies(&h2.collect());
    assert_eq!(n.len(), 1);
    let (dest, m) = &n[0];
    assert_eq!(*dest, s.src);
    assert_eq!(m.call_id(), Some(cid.as_str()));
    assert_eq!(m.from().and_then(|f| f.tag().map(str::to_string)), to_tag);
    assert!(m.header("To").unwrap_or("").contains(";tag=st"), "{m:?}");
    // (Skipping ahead: NOTIFYs sent after the last write are not reused.)
    let gap = super::core::RESTORE_CSEQ_GAP;
    assert_eq!(m.cseq().map(|c| c.0), Some(1 + gap + 1));
    let state = m.header("Subscription-State").unwrap_or("");
    assert!(
        state == "active;expires=500" || state == "active;expires=499",
        "{state}"
    );
    assert!(
        body(m).starts_with("Messages-Waiting: yes\r\n"),
        "{}",
        body(m)
    );
    h2.feed_msg(answer(m, 200), s.src);
    // The phone's refresh in the restored dialog is accepted.
    let r = s.send(&mut h2, None, "message-summary", &["Expires: 600".into()]);
    assert_eq!(code(&r), 200, "{r:?}");
    refreshes(&mut h2);
    // A 481 to a NOTIFY ends it and deletes the record.
    h2.core.send_mwi(
        "alice",
        &MwiTarget::Sub(cid.clone()),
        &[counts("100", 1, 0)],
        h2.now,
    );
    let n = notifies(&h2.collect());
    h2.feed_msg(answer(&n[0].1, 481), s.src);
    assert!(h2.core.mwi_subs.is_empty());
    assert_eq!(sub_db_change(&h2), Some((key.clone(), None)));

    // Unsubscribing deletes the record too.
    let r = s.send(&mut h, None, "message-summary", &["Expires: 0".into()]);
    assert_eq!(code(&r), 200);
    assert_eq!(sub_db_change(&h), Some((key, None)));

    // A record of a peer that is gone (or has no mailbox any more) is not restored.
    let mut h3 = H::new(MWI_CONF);
    let gone = value.replace("\"peer\":\"alice\"", "\"peer\":\"bob\"");
    let sub = MwiSub::from_db_value(&gone, h3.now, unix).expect("decodes");
    assert!(!h3.core.restore_mwi_sub(sub, h3.now));
    assert!(h3.core.mwi_subs.is_empty());
}

mod realtime;
mod transport;
mod trunk;

// ------------------------------------------------------------------ SRTP (encryption=yes)

const SAVP_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

fn encrypted_trunk() -> H {
    H::new(&CONF.replace("insecure=invite\n", "insecure=invite\nencryption=yes\n"))
}

/// An INVITE of `c` carrying `body` as its offer.
fn invite_with(c: &mut Call, body: &str) -> String {
    c.via = via(&c.src.to_string());
    let s = req(
        "INVITE",
        &c.ruri,
        &c.via,
        &c.from,
        &format!("<{}>", c.ruri),
        &c.call_id,
        c.cseq,
        &[
            format!("Contact: <sip:caller@{}>", c.src),
            "Content-Type: application/sdp".to_string(),
        ],
        body,
    );
    c.cseq += 1;
    s
}

#[test]
fn encryption_peer_refuses_plain_rtp_and_answers_savp_with_keys() {
    let mut h = encrypted_trunk();
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let out = c.dial(&mut h, None);
    assert_eq!(codes(&out), [488]);
    assert_eq!(reason(&out[0].1), "Not Acceptable Here");
    assert!(h.spawned.is_empty());
    // RTP/SAVP without a crypto line: 488 too.
    let savp = OFFER.replace("RTP/AVP", "RTP/SAVP");
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let t = invite_with(&mut c, &savp);
    assert_eq!(codes(&h.feed(&t, c.src)), [488]);
    // With one: answered RTP/SAVP, our own key under its tag, the session keyed.
    let offer = format!("{savp}a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{SAVP_KEY}\r\n");
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let t = invite_with(&mut c, &offer);
    assert_eq!(codes(&h.feed(&t, c.src)), [100]);
    let leg = h.core.legs.get(&c.call_id).expect("leg");
    let local = String::from_utf8(leg.local_sdp.clone().unwrap()).unwrap();
    assert!(local.contains(" RTP/SAVP 0 8 101\r\n"), "{local}");
    assert!(
        local.contains("a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:") && !local.contains(SAVP_KEY),
        "{local}"
    );
    let keys = leg.media.as_ref().unwrap().params().srtp.expect("keyed");
    assert_eq!(
        keys.remote.as_bytes().to_vec(),
        (0..30).collect::<Vec<u8>>()
    );
}

#[test]
fn a_savp_offer_is_answered_without_encryption_yes_too() {
    let mut h = H::new(CONF);
    let offer = format!(
        "{}a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{SAVP_KEY}|2^31\r\n",
        OFFER.replace("RTP/AVP", "RTP/SAVP")
    );
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let t = invite_with(&mut c, &offer);
    assert_eq!(codes(&h.feed(&t, c.src)), [100]);
    let leg = h.core.legs.get(&c.call_id).expect("leg");
    let local = String::from_utf8(leg.local_sdp.clone().unwrap()).unwrap();
    assert!(
        local.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:"),
        "{local}"
    );
}

#[test]
fn dial_to_an_encryption_peer_offers_savp_and_hangs_up_a_plain_answer() {
    let mut h = encrypted_trunk();
    let (mut o, out) = dial_out(&mut h, "trunk/5551234");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    let body = String::from_utf8_lossy(inv[0].1.body()).into_owned();
    assert!(body.contains(" RTP/SAVP 0 8 101\r\n"), "{body}");
    assert!(
        body.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{body}"
    );
    // The trunk answers plain RTP: ACK, BYE, and the call fails as chan_sip's does.
    let out = h.feed_msg(reply(&inv[0].1, 200, "OK", "tt", true), inv[0].0);
    let methods: Vec<String> = out
        .iter()
        .filter_map(|(_, m)| m.method().map(|m| m.as_str().to_string()))
        .collect();
    assert_eq!(methods, ["ACK", "BYE"], "{out:?}");
    assert!(
        matches!(events(&mut o)[..], [ChanEvent::Hangup(_)]),
        "the Dial fails"
    );
    assert!(h.core.legs.is_empty());
    assert!(h.actions.iter().any(|a| matches!(a,
        Action::Warning(w) if w.contains("requesting SRTP for audio, but they responded without it"))));
}

#[test]
fn an_srtp_call_keeps_its_keys_across_a_hold_reinvite() {
    let mut h = encrypted_trunk();
    let offer = format!(
        "{}a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{SAVP_KEY}\r\n",
        OFFER.replace("RTP/AVP", "RTP/SAVP")
    );
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let t = invite_with(&mut c, &offer);
    assert_eq!(codes(&h.feed(&t, c.src)), [100]);
    let chan_id = h.core.legs[&c.call_id].chan_id;
    let before = h.core.legs[&c.call_id]
        .media
        .as_ref()
        .unwrap()
        .params()
        .srtp
        .expect("keyed");
    h.core.answer(chan_id, h.now);
    let to = h.collect()[0].1.header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    // Hold with the same key, in dialog.
    let hold = offer.replace("a=fmtp:101 0-16\r\n", "a=fmtp:101 0-16\r\na=sendonly\r\n");
    let t = req(
        "INVITE",
        "sip:5551234@127.0.0.1:5060",
        &via(&c.src.to_string()),
        &c.from,
        &to,
        &c.call_id,
        c.cseq,
        &[
            format!("Contact: <sip:caller@{}>", c.src),
            "Content-Type: application/sdp".into(),
        ],
        &hold,
    );
    c.cseq += 1;
    let out = h.feed(&t, c.src);
    assert_eq!(codes(&out), [200]);
    let answer = Sdp::parse_bytes(out[0].1.body()).expect("SDP answer");
    let line = answer.media[0].crypto().next().expect("crypto line");
    assert_eq!(line.tag, 7);
    assert_eq!(line.usable().map(|(_, k)| k), Some(before.local));
    let after = h.core.legs[&c.call_id].media.as_ref().unwrap().params();
    assert_eq!(after.srtp, Some(before));
    assert!(after.hold);
}

#[test]
fn a_plain_answer_in_the_ack_to_our_savp_offer_ends_the_call() {
    let mut h = encrypted_trunk();
    // No SDP in the INVITE: ferrisk offers (RTP/SAVP) in its 200, the answer comes in the ACK.
    let mut c = Call::new("0123456", "5551234", "127.0.0.1:5099");
    let t = invite_with(&mut c, "");
    assert_eq!(codes(&h.feed(&t, c.src)), [100]);
    let chan_id = h.core.legs[&c.call_id].chan_id;
    h.core.answer(chan_id, h.now);
    let ok = h.collect();
    let body = String::from_utf8_lossy(ok[0].1.body()).into_owned();
    assert!(
        body.contains(" RTP/SAVP ") && body.contains("a=crypto:1 "),
        "{body}"
    );
    let to = ok[0].1.header("To").unwrap().to_string();
    let ack = req(
        "ACK",
        "sip:x@127.0.0.1:5060",
        &via(&c.src.to_string()),
        &c.from,
        &to,
        &c.call_id,
        c.cseq - 1,
        &["Content-Type: application/sdp".to_string()],
        ANSWER,
    );
    let out = h.feed(&ack, c.src);
    let byes: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(&Method::Bye))
        .collect();
    assert_eq!(byes.len(), 1, "{out:?}");
    assert!(!h.core.legs.contains_key(&c.call_id));
    assert!(h.spawned[0].shared.hangup_requested());
}
