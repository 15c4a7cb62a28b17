//! Transports in the core: a peer's `transport=` and a registered contact's transport pick
//! the Via and Contact of what we send; a connection that fails ends the call attempt.

use super::*;

const TLS_CONF: &str = "\
[general]
context=public
tlsenable=yes
tcpenable=yes

[bob]
type=friend
host=dynamic
context=internal

[carol]
type=friend
host=dynamic
transport=tls
context=internal

[tlstrunk]
type=peer
host=127.0.0.1
port=5071
transport=tls,udp
context=from-trunk

[tcptrunk]
type=peer
host=127.0.0.1
port=5072
transport=tcp
context=from-trunk
";

fn h() -> H {
    let mut h = H::new(TLS_CONF);
    h.core.tcp_port = Some(5060);
    h.core.tls_port = Some(5061);
    h
}

/// `text` received from `src` over `proto`.
fn feed_over(
    h: &mut H,
    text: &str,
    src: SocketAddr,
    proto: Proto,
) -> Vec<(SocketAddr, SipMessage)> {
    let msg = parse(text.as_bytes()).expect("test message parses");
    let raw = msg.to_bytes();
    let now = h.now;
    h.core.on_receive(
        Received {
            msg,
            src,
            proto,
            raw,
        },
        now,
    );
    h.collect()
}

fn via_of(m: &SipMessage) -> String {
    m.header("Via").expect("via").to_string()
}

#[test]
fn a_tls_peer_is_called_over_tls() {
    let mut h = h();
    let (_o, out) = dial_out(&mut h, "tlstrunk/100");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    let (dest, m) = &inv[0];
    assert_eq!(*dest, addr("127.0.0.1:5071"));
    assert!(
        via_of(m).starts_with("SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK"),
        "{}",
        via_of(m)
    );
    let contact = m.header("Contact").expect("contact");
    assert!(contact.contains(":5061;transport=tls>"), "{contact}");
    let SipMessage::Request { uri, .. } = m else {
        panic!("request")
    };
    assert_eq!(uri.to_string(), "sip:100@127.0.0.1:5071;transport=tls");
}

#[test]
fn a_phone_registered_over_tls_is_called_on_its_connection() {
    let mut h = h();
    let mut r = Reg::new("bob", "127.0.0.1:40000");
    let c = contact("sip:bob@10.0.0.1:5063;transport=tls");
    assert_eq!(code(&r.send(&mut h, None, &[c])), 200);
    let (_o, out) = dial_out(&mut h, "bob");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    // To the address it registered from (its TLS connection), Via TLS.
    assert_eq!(inv[0].0, addr("127.0.0.1:40000"));
    assert!(via_of(&inv[0].1).starts_with("SIP/2.0/TLS "));
}

#[test]
fn a_refused_connection_fails_the_dial_at_once() {
    let mut h = h();
    let (mut o, out) = dial_out(&mut h, "tcptrunk/100");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    assert!(via_of(&inv[0].1).starts_with("SIP/2.0/TCP 127.0.0.1:5060;"));
    // Reliable transport: no retransmission.
    let again = h.advance(Duration::from_secs(2));
    assert!(invites(&again).is_empty(), "{again:?}");
    let now = h.now;
    h.core.on_transport_failure(addr("127.0.0.1:5072"), now);
    h.collect();
    // Destination out of order: Dial counts it as CHANUNAVAIL.
    assert!(
        matches!(events(&mut o)[..], [ChanEvent::Hangup(27)]),
        "{:?}",
        events(&mut o)
    );
}

#[test]
fn a_peer_is_refused_over_a_transport_it_does_not_list() {
    // carol lists tls: accepted over TLS.
    let mut h = h();
    let text =
        Reg::new("carol", "127.0.0.1:40001").text(&[contact("sip:carol@10.0.0.2;transport=tls")]);
    let out = feed_over(&mut h, &text, addr("127.0.0.1:40001"), Proto::Tls);
    assert_eq!(
        out.iter().map(|(_, m)| code(m)).collect::<Vec<_>>(),
        vec![200]
    );
    // bob lists no transport=: UDP only; this REGISTER comes over TLS.
    let mut r = Reg::new("bob", "127.0.0.1:40000");
    let c = contact("sip:bob@10.0.0.1:5063;transport=tls");
    let text = r.text(&[c]);
    let out = feed_over(&mut h, &text, addr("127.0.0.1:40000"), Proto::Tls);
    assert_eq!(
        out.iter().map(|(_, m)| code(m)).collect::<Vec<_>>(),
        vec![403]
    );
    assert!(h.core.registrar.bindings("bob").is_empty());
}

#[test]
fn a_call_in_over_tls_is_answered_with_a_tls_contact() {
    // carol (transport=tls, no secret) calls 100 over TLS: the 200's Contact names TLS
    // and our TLS port, so her in-dialog requests come back over TLS.
    let mut h = h();
    let mut c = Call::new("carol", "100", "127.0.0.1:40002");
    let text = c.invite(&[]).replace("SIP/2.0/UDP", "SIP/2.0/TLS");
    let out = feed_over(&mut h, &text, c.src, Proto::Tls);
    assert_eq!(codes(&out), [100]);
    let chan_id = h.core.legs.get(&c.call_id).expect("leg").chan_id;
    h.core.answer(chan_id, h.now);
    let out = h.collect();
    let ok = out.iter().find(|(_, m)| code(m) == 200).expect("200 OK");
    assert_eq!(ok.0, c.src);
    let contact = ok.1.header("Contact").expect("contact");
    assert!(contact.contains(":5061;transport=tls>"), "{contact}");
}

#[test]
fn a_sips_request_uri_is_taken_and_a_sips_contact_means_tls() {
    // An INVITE to sips:100@… over TLS is a call like any other.
    let mut h = h();
    let mut c = Call::new("carol", "100", "127.0.0.1:40003");
    let text = c
        .invite(&[])
        .replace("SIP/2.0/UDP", "SIP/2.0/TLS")
        .replace("INVITE sip:100@", "INVITE sips:100@");
    let out = feed_over(&mut h, &text, c.src, Proto::Tls);
    assert_eq!(codes(&out), [100]);
    // A phone whose contact is sips: (no transport parameter) is called over TLS.
    let mut r = Reg::new("carol", "127.0.0.1:40004");
    let text = r.text(&[contact("sips:carol@10.0.0.3")]);
    let out = feed_over(&mut h, &text, r.src, Proto::Tls);
    assert_eq!(codes(&out), [200]);
    let (_o, out) = dial_out(&mut h, "carol");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    assert!(via_of(&inv[0].1).starts_with("SIP/2.0/TLS "));
}
