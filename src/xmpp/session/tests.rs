//! The session against a scripted server: the whole login, then pings, messages, presence
//! and failures, without sockets.

use super::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

fn cfg() -> SessionConfig {
    SessionConfig {
        user: "pbx@localhost".into(),
        resource: "asterisk-xmpp".into(),
        password: "secret".into(),
        use_tls: true,
        use_sasl: true,
        priority: 1,
        status: Show::Available,
        status_message: "Online and Available".into(),
        buddies: vec!["alice@localhost".into()],
        autoregister: true,
        autoprune: false,
        auth_accept: true,
        keepalive: true,
    }
}

fn sent(s: &mut Session) -> Vec<Output> {
    let mut v = Vec::new();
    while let Some(o) = s.poll() {
        v.push(o);
    }
    v
}

fn text(outs: &[Output]) -> String {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>";

/// Walk `s` through STARTTLS and PLAIN to Connected; return everything it sent.
fn login(s: &mut Session, t: Instant) -> String {
    let mut all = String::new();
    s.connect(t);
    all += &text(&sent(s));
    s.receive(
        format!("{HEADER}<stream:features><starttls xmlns='{NS_TLS}'><required/></starttls></stream:features>").as_bytes(),
        t,
    );
    all += &text(&sent(s));
    s.receive(format!("<proceed xmlns='{NS_TLS}'/>").as_bytes(), t);
    assert_eq!(sent(s), vec![Output::StartTls]);
    s.tls_established();
    all += &text(&sent(s));
    s.receive(
        format!("{HEADER}<stream:features><mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms></stream:features>").as_bytes(),
        t,
    );
    all += &text(&sent(s));
    s.receive(format!("<success xmlns='{NS_SASL}'/>").as_bytes(), t);
    all += &text(&sent(s));
    s.receive(
        format!("{HEADER}<stream:features><bind xmlns='{NS_BIND}'/><session xmlns='{NS_SESSION}'><optional/></session></stream:features>").as_bytes(),
        t,
    );
    all += &text(&sent(s));
    s.receive(
        format!("<iq type='result' id='bind'><bind xmlns='{NS_BIND}'><jid>pbx@localhost/asterisk-xmpp</jid></bind></iq>").as_bytes(),
        t,
    );
    all += &text(&sent(s));
    assert_eq!(s.state(), State::Roster);
    s.receive(
        format!("<iq type='result' id='roster'><query xmlns='{NS_ROSTER}'><item jid='bob@localhost' subscription='both'/></query></iq>").as_bytes(),
        t,
    );
    let outs = sent(s);
    assert!(outs.contains(&Output::Connected), "{outs:?}");
    all += &text(&outs);
    all
}

#[test]
fn a_full_login_goes_tls_sasl_bind_roster_presence() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "nonce", t);
    let all = login(&mut s, t);
    assert_eq!(s.state(), State::Connected);
    assert!(s.secure());
    assert!(all.contains("to='localhost'"));
    assert!(all.contains(&format!("<starttls xmlns='{NS_TLS}'/>")));
    assert!(all.contains(&format!(
        "mechanism='PLAIN'>{}</auth>",
        B64.encode("\0pbx\0secret")
    )));
    assert!(all.contains("<resource>asterisk-xmpp</resource>"));
    // The session was optional: not requested.
    assert!(!all.contains("xmpp-session"));
    assert!(all.contains("<priority>1</priority>"));
    assert!(all.contains("<status>Online and Available</status>"));
    // alice (a configured buddy missing from the roster) is asked for her presence; bob,
    // already subscribed both ways, is not.
    assert!(all.contains("type='subscribe' to='alice@localhost'"));
    assert!(!all.contains("to='bob@localhost'"));
    assert_eq!(s.jid(), "pbx@localhost/asterisk-xmpp");
}

#[test]
fn scram_is_preferred_and_the_server_signature_checked() {
    let t = Instant::now();
    let mut c = cfg();
    c.use_tls = false;
    c.password = "pencil".into();
    c.user = "user@localhost".into();
    let mut s = Session::new(c, "fyko+d2lbbFgONRv9qkxdawL", t);
    s.connect(t);
    sent(&mut s);
    s.receive(
        format!("{HEADER}<stream:features><mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>").as_bytes(),
        t,
    );
    assert!(text(&sent(&mut s)).contains("mechanism='SCRAM-SHA-1'"));
    let ch = B64.encode("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    s.receive(
        format!("<challenge xmlns='{NS_SASL}'>{ch}</challenge>").as_bytes(),
        t,
    );
    assert!(text(&sent(&mut s)).contains("<response"));
    // A forged success is refused.
    s.receive(
        format!(
            "<success xmlns='{NS_SASL}'>{}</success>",
            B64.encode("v=AAAApqV8S7suAoZWja4dJRkFsKQ=")
        )
        .as_bytes(),
        t,
    );
    let outs = sent(&mut s);
    assert!(matches!(outs.last(), Some(Output::Failed(_))), "{outs:?}");
}

#[test]
fn refused_authentication_and_stream_errors_drop_the_connection() {
    let t = Instant::now();
    let mut c = cfg();
    c.use_tls = false;
    let mut s = Session::new(c.clone(), "n", t);
    s.connect(t);
    s.receive(
        format!("{HEADER}<stream:features><mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms></stream:features>").as_bytes(),
        t,
    );
    s.receive(
        format!("<failure xmlns='{NS_SASL}'><not-authorized/></failure>").as_bytes(),
        t,
    );
    assert!(sent(&mut s).contains(&Output::AuthFailed("not-authorized".into())));
    assert_eq!(s.state(), State::Disconnected);

    let mut s = Session::new(c.clone(), "n", t);
    s.connect(t);
    s.receive(
        b"<stream:stream id='x'><stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        t,
    );
    let outs = sent(&mut s);
    assert!(
        outs.contains(&Output::Failed("stream error: host-unknown".into())),
        "{outs:?}"
    );

    // usetls=yes against a server without STARTTLS: no plaintext login.
    let mut s = Session::new(cfg(), "n", t);
    s.connect(t);
    s.receive(
        format!("{HEADER}<stream:features><mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms></stream:features>").as_bytes(),
        t,
    );
    let outs = sent(&mut s);
    assert!(!text(&outs).contains("<auth"));
    assert!(matches!(outs.last(), Some(Output::Failed(_))));

    // Garbage: an error, no panic.
    let mut s = Session::new(c, "n", t);
    s.connect(t);
    s.receive(b"<stream:stream id='x'><a></b>", t);
    assert!(matches!(sent(&mut s).last(), Some(Output::Failed(_))));
}

#[test]
fn pings_are_answered_and_unknown_requests_refused() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    login(&mut s, t);
    s.receive(
        format!("<iq type='get' id='p1' from='localhost'><ping xmlns='{NS_PING}'/></iq>")
            .as_bytes(),
        t,
    );
    assert_eq!(
        text(&sent(&mut s)),
        "<iq type='result' id='p1' to='localhost'/>"
    );
    s.receive(
        b"<iq type='get' id='v1' from='alice@localhost/x'><query xmlns='jabber:iq:version'/></iq>",
        t,
    );
    let out = text(&sent(&mut s));
    assert!(out.contains("type='error' id='v1'") && out.contains("service-unavailable"));
    // Results and errors are never answered.
    s.receive(b"<iq type='error' id='zz'/><iq type='result' id='zz2'/>", t);
    assert!(sent(&mut s).is_empty());
}

#[test]
fn keepalive_pings_after_quiet_time_and_a_silent_server_is_dropped() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    login(&mut s, t);
    s.tick(t + Duration::from_secs(10));
    assert!(sent(&mut s).is_empty());
    s.tick(t + KEEPALIVE);
    let out = text(&sent(&mut s));
    assert!(out.contains(NS_PING), "{out}");
    let id = out
        .split("id='")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    s.receive(
        format!("<iq type='result' id='{id}'/>").as_bytes(),
        t + KEEPALIVE,
    );
    s.tick(t + KEEPALIVE + PING_TIMEOUT);
    assert!(sent(&mut s).is_empty());
    s.tick(t + KEEPALIVE * 2 + Duration::from_secs(1));
    assert!(text(&sent(&mut s)).contains(NS_PING));
    s.tick(t + KEEPALIVE * 2 + PING_TIMEOUT + Duration::from_secs(2));
    assert!(matches!(sent(&mut s).last(), Some(Output::Failed(_))));
}

#[test]
fn messages_with_a_body_come_out_and_errors_do_not() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    login(&mut s, t);
    s.receive(
        b"<message from='alice@localhost/phone' to='pbx@localhost' type='chat' id='m1'><body>2</body></message>\
          <message from='alice@localhost/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>\
          <message from='alice@localhost/phone' type='error'><body>bounced</body></message>",
        t,
    );
    assert_eq!(
        sent(&mut s),
        vec![Output::Message(Incoming {
            from: "alice@localhost/phone".into(),
            to: "pbx@localhost".into(),
            id: "m1".into(),
            kind: "chat".into(),
            body: "2".into(),
        })]
    );
}

#[test]
fn presence_sets_jabber_status() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    login(&mut s, t);
    assert_eq!(s.status_of("alice@localhost"), STATUS_OFFLINE);
    assert_eq!(s.status_of("carol@localhost"), STATUS_NOT_IN_ROSTER);
    s.receive(
        b"<presence from='alice@localhost/phone'><show>away</show><priority>5</priority></presence>\
          <presence from='alice@localhost/desk'><priority>10</priority><status>here</status></presence>",
        t,
    );
    assert_eq!(s.status_of("alice@localhost"), 1);
    assert_eq!(s.status_of("ALICE@localhost/phone"), 3);
    assert_eq!(s.status_of("alice@localhost/gone"), STATUS_OFFLINE);
    s.receive(
        b"<presence from='alice@localhost/desk' type='unavailable'/>",
        t,
    );
    assert_eq!(s.status_of("alice@localhost"), 3);
    s.receive(
        b"<presence from='alice@localhost/phone'><show>dnd</show></presence>",
        t,
    );
    assert_eq!(s.status_of("alice@localhost"), 5);
    // Presence from a stranger is noted, not kept.
    s.receive(b"<presence from='eve@localhost/x'/>", t);
    assert!(matches!(sent(&mut s).last(), Some(Output::Notice(_))));
    assert_eq!(s.status_of("eve@localhost"), STATUS_NOT_IN_ROSTER);
    // A reconnect forgets who was online.
    s.disconnected();
    assert_eq!(s.status_of("alice@localhost"), STATUS_OFFLINE);
}

#[test]
fn subscriptions_follow_auth_policy() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    login(&mut s, t);
    s.receive(
        b"<presence from='carol@localhost' type='subscribe' id='s9'/>",
        t,
    );
    let out = text(&sent(&mut s));
    assert!(
        out.contains("type='subscribed' to='carol@localhost' id='s9'"),
        "{out}"
    );
    assert_eq!(s.status_of("carol@localhost"), STATUS_OFFLINE);

    let mut c = cfg();
    c.auth_accept = false;
    let mut s = Session::new(c, "n", t);
    login(&mut s, t);
    s.receive(b"<presence from='mallory@localhost' type='subscribe'/>", t);
    let outs = sent(&mut s);
    assert!(text(&outs).contains("type='unsubscribed' to='mallory@localhost'"));
    assert_eq!(s.status_of("mallory@localhost"), STATUS_NOT_IN_ROSTER);
}

#[test]
fn autoprune_removes_roster_entries_not_configured() {
    let t = Instant::now();
    let mut c = cfg();
    c.autoprune = true;
    let mut s = Session::new(c, "n", t);
    let all = login(&mut s, t);
    assert!(all.contains("type='unsubscribe' to='bob@localhost'"));
    assert!(all.contains("jid='bob@localhost' subscription='remove'"));
    assert_eq!(s.status_of("bob@localhost"), STATUS_NOT_IN_ROSTER);
}

#[test]
fn roster_pushes_update_the_buddies() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    login(&mut s, t);
    s.receive(
        format!("<iq type='set' id='r1'><query xmlns='{NS_ROSTER}'><item jid='dave@localhost' subscription='to'/><item jid='bob@localhost' subscription='remove'/></query></iq>").as_bytes(),
        t,
    );
    assert!(text(&sent(&mut s)).contains("type='result' id='r1'"));
    assert_eq!(s.status_of("dave@localhost"), STATUS_OFFLINE);
    assert_eq!(s.status_of("bob@localhost"), STATUS_NOT_IN_ROSTER);
    // A push from someone else is refused.
    s.receive(
        format!("<iq type='set' id='r2' from='eve@localhost/x'><query xmlns='{NS_ROSTER}'><item jid='eve@localhost'/></query></iq>").as_bytes(),
        t,
    );
    assert!(text(&sent(&mut s)).contains("type='error' id='r2'"));
    assert_eq!(s.status_of("eve@localhost"), STATUS_NOT_IN_ROSTER);
}

#[test]
fn sending_needs_a_connection() {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    assert!(s.send_message("alice@localhost", "hi", false).is_err());
    login(&mut s, t);
    s.send_message("alice@localhost", "Incoming call from <1000>", false)
        .unwrap();
    let out = text(&sent(&mut s));
    assert!(out.contains("to='alice@localhost'"));
    assert!(out.contains("type='chat'"));
    assert!(out.contains("<body>Incoming call from &lt;1000&gt;</body>"));
    s.join_room("room@conference.localhost", "pbx").unwrap();
    assert!(text(&sent(&mut s)).contains("to='room@conference.localhost/pbx'"));
    s.send_message("room@conference.localhost", "hello room", true)
        .unwrap();
    assert!(text(&sent(&mut s)).contains("type='groupchat'"));
    s.leave_room("room@conference.localhost", "pbx").unwrap();
    assert!(text(&sent(&mut s)).contains("type='unavailable'"));
}

#[test]
fn legacy_auth_without_sasl() {
    let t = Instant::now();
    let mut c = cfg();
    c.use_tls = false;
    c.use_sasl = false;
    let mut s = Session::new(c, "n", t);
    s.connect(t);
    sent(&mut s);
    s.receive(format!("{HEADER}<stream:features/>").as_bytes(), t);
    let out = text(&sent(&mut s));
    assert!(out.contains(NS_AUTH) && out.contains("<digest>"), "{out}");
    s.receive(b"<iq type='result' id='auth'/>", t);
    assert_eq!(s.state(), State::Roster);
}
