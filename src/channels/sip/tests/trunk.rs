//! Carrier trunks in the core: identity headers (P-Asserted-Identity, Remote-Party-ID,
//! Diversion) both ways, redirects (3xx, Transfer), headers added by the dialplan, and
//! failover over a destination's several addresses.

use super::*;
use crate::pbx::channel::{PartyId, Redirecting, TransferResult};

const TRUNKS: &str = "\
[general]
context=public
sendrpid=pai

[carrier]
type=peer
host=carrier.test
trustrpid=yes
insecure=invite
context=from-trunk

[rpid]
type=peer
host=127.0.0.1
port=5098
sendrpid=yes
send_diversion=no
promiscredir=yes
context=internal

[trunk]
type=peer
host=127.0.0.1
port=5099
insecure=invite
context=from-trunk
";

fn trunk_h() -> H {
    let mut h = H::new(TRUNKS);
    // Two A records for carrier.test, and an SRV record set for it (priority order).
    h.core.learn_names(
        vec![
            (
                "carrier.test".into(),
                vec![([127, 0, 0, 2].into(), None), ([127, 0, 0, 3].into(), None)],
            ),
            (
                "_sip._udp.carrier.test".into(),
                vec![
                    ([127, 0, 0, 4].into(), Some(5070)),
                    ([127, 0, 0, 5].into(), Some(5080)),
                ],
            ),
        ],
        h.now,
    );
    h
}

fn alice() -> CallerId {
    CallerId {
        name: Some("Alice".into()),
        num: Some("6001".into()),
        ..Default::default()
    }
}

#[test]
fn outgoing_invite_carries_identity_diversion_and_added_headers() {
    let mut h = trunk_h();
    let extras = super::super::core::CallExtras {
        redirecting: Some(Redirecting {
            from: PartyId {
                name: None,
                num: Some("+14155550000".into()),
            },
            reason: "cfb".into(),
            count: 1,
            ..Default::default()
        }),
        headers: vec![("X-Account".into(), "42".into())],
    };
    let (_o, out) = dial_out_with(&mut h, "trunk/5551234", alice(), &extras);
    let inv = invites(&out);
    let m = &inv[0].1;
    let pai = m.header("P-Asserted-Identity").expect("sendrpid=pai");
    assert!(pai.starts_with("\"Alice\" <sip:6001@"), "{pai}");
    let div = m.header("Diversion").expect("Diversion");
    assert!(
        div.starts_with("<sip:+14155550000@") && div.ends_with(";reason=user-busy"),
        "{div}"
    );
    assert_eq!(m.header("X-Account"), Some("42"));
    assert!(m.header("Remote-Party-ID").is_none());
    // sendrpid=yes is Remote-Party-ID; send_diversion=no sends none.
    let (_o, out) = dial_out_with(&mut h, "rpid/100", alice(), &extras);
    let m = &invites(&out)[0].1;
    let rpid = m.header("Remote-Party-ID").expect("sendrpid=yes");
    assert!(rpid.contains("party=calling"), "{rpid}");
    assert!(m.header("Diversion").is_none());
    assert!(m.header("P-Asserted-Identity").is_none());
}

#[test]
fn incoming_diversion_and_trusted_identity() {
    let mut h = trunk_h();
    // carrier.test's first address is 127.0.0.2: calls from there are the carrier's.
    let mut c = Call::new("anonymous", "5551234", "127.0.0.2:5060");
    let t = c.invite(&[
        "Diversion: <sip:+14155550000@twilio.com>;reason=unconditional".into(),
        "P-Asserted-Identity: \"Bob\" <sip:+33612345678@carrier.test>".into(),
    ]);
    let out = h.feed(&t, c.src);
    assert_eq!(codes(&out), [100], "{out:?}");
    let ch = h.spawned.pop().expect("channel");
    assert_eq!(ch.caller.num.as_deref(), Some("+33612345678"));
    assert_eq!(ch.caller.name.as_deref(), Some("Bob"));
    assert_eq!(ch.caller.rdnis.as_deref(), Some("+14155550000"));
    let r = ch.redirecting.as_deref().expect("redirecting");
    assert_eq!(r.from.num.as_deref(), Some("+14155550000"));
    assert_eq!(r.to.num.as_deref(), Some("5551234"));
    assert_eq!((r.reason.as_str(), r.count), ("cfu", 1));
    // Without trustrpid the asserted identity is ignored.
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let t = c.invite(&["P-Asserted-Identity: <sip:+33600000000@x>".into()]);
    h.feed(&t, c.src);
    let ch = h.spawned.pop().expect("channel");
    assert_eq!(ch.caller.num.as_deref(), Some("anonymous"));
    assert!(ch.redirecting.is_none());
}

#[test]
fn sip_header_reads_the_invite() {
    let mut h = trunk_h();
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let t = c.invite(&["X-Carrier-Id: abc".into(), "X-Carrier-Id: def".into()]);
    h.feed(&t, c.src);
    let chan_id = h.core.legs.get(&c.call_id).expect("leg").chan_id;
    assert_eq!(
        h.core
            .chan_invite_header(chan_id, "X-Carrier-Id", 2)
            .as_deref(),
        Some("def")
    );
    assert_eq!(
        h.core
            .chan_invite_header(chan_id, "x-carrier-id", 1)
            .as_deref(),
        Some("abc")
    );
    assert!(h
        .core
        .chan_invite_header(chan_id, "X-Carrier-Id", 3)
        .is_none());
    // Compact forms: f is From.
    assert!(h
        .core
        .chan_invite_header(chan_id, "f", 1)
        .is_some_and(|f| f.contains("anonymous")));
}

#[test]
fn a_302_becomes_a_forward_to_the_extension_or_with_promiscredir_the_uri() {
    let mut h = trunk_h();
    let (mut o, out) = dial_out(&mut h, "trunk/5551234");
    let inv = invites(&out);
    let mut r = reply(&inv[0].1, 302, "Moved Temporarily", "t302", false);
    r.headers_mut()
        .push("Contact", "<sip:+33612345678@192.0.2.7:5070>");
    r.headers_mut()
        .push("Diversion", "<sip:5551234@carrier>;reason=no-answer");
    let out = h.feed_msg(r, inv[0].0);
    assert!(out.iter().any(|(_, m)| m.method() == Some(&Method::Ack)));
    match &events(&mut o)[..] {
        [ChanEvent::Forward(f)] => {
            assert_eq!(f.dest, "+33612345678");
            assert_eq!(f.context, "from-trunk");
            assert_eq!(f.reason, "cfnr");
            assert_eq!(f.to.num.as_deref(), Some("+33612345678"));
        }
        e => panic!("{e:?}"),
    }
    let (mut o, out) = dial_out(&mut h, "rpid/100");
    let inv = invites(&out);
    let mut r = reply(&inv[0].1, 302, "Moved Temporarily", "t302b", false);
    r.headers_mut()
        .push("Contact", "<sip:200@192.0.2.7:5070;transport=udp>");
    h.feed_msg(r, inv[0].0);
    match &events(&mut o)[..] {
        [ChanEvent::Forward(f)] => assert_eq!(f.dest, "SIP/200@192.0.2.7:5070"),
        e => panic!("{e:?}"),
    }
    // A 302 without a Contact is a failure like any other.
    let (mut o, out) = dial_out(&mut h, "trunk/5551234");
    let inv = invites(&out);
    h.feed_msg(reply(&inv[0].1, 302, "Moved", "t302c", false), inv[0].0);
    assert!(matches!(events(&mut o)[..], [ChanEvent::Hangup(_)]));
}

#[test]
fn trusted_identity_in_the_answer_is_the_connected_line() {
    let mut h = trunk_h();
    let (mut o, out) = dial_out(&mut h, "carrier/100");
    let inv = invites(&out);
    let mut r = reply(&inv[0].1, 180, "Ringing", "tc", false);
    r.headers_mut().push(
        "P-Asserted-Identity",
        "\"Desk\" <sip:+4930123@carrier.test>",
    );
    h.feed_msg(r, inv[0].0);
    let ev = events(&mut o);
    assert!(
        ev.iter()
            .any(|e| matches!(e, ChanEvent::Connected(p) if p.num.as_deref() == Some("+4930123"))),
        "{ev:?}"
    );
}

#[test]
fn srv_targets_are_tried_in_order_after_4_s_of_silence_and_after_a_503() {
    let mut h = trunk_h();
    let (mut o, out) = dial_out(&mut h, "carrier/100");
    let inv = invites(&out);
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].0, addr("127.0.0.4:5070"));
    let SipMessage::Request { uri, .. } = &inv[0].1 else {
        panic!()
    };
    assert_eq!(uri.host, "carrier.test", "the R-URI keeps the domain");
    // Nothing for 4 s: the next target.
    let out = h.advance(Duration::from_millis(3900));
    assert!(invites(&out).iter().all(|(d, _)| *d == inv[0].0));
    let out = h.advance(Duration::from_millis(200));
    let next = invites(&out);
    let second = next
        .iter()
        .find(|(d, _)| *d == addr("127.0.0.5:5080"))
        .expect("failed over to the second SRV target");
    assert_eq!(second.1.call_id(), inv[0].1.call_id());
    assert_ne!(
        second.1.top_via().unwrap().branch,
        inv[0].1.top_via().unwrap().branch
    );
    assert!(events(&mut o).is_empty());
    // The last target answers 503: nothing left, the call fails as congestion.
    h.feed_msg(
        reply(&second.1, 503, "Service Unavailable", "t5", false),
        second.0,
    );
    assert!(matches!(events(&mut o)[..], [ChanEvent::Congestion]));
}

#[test]
fn a_records_fail_over_on_5xx_but_never_after_486() {
    let text = TRUNKS.replace("[general]\n", "[general]\nsrvlookup=no\n");
    let mut h = H::new(&text);
    h.core.learn_names(
        vec![(
            "carrier.test".into(),
            vec![([127, 0, 0, 2].into(), None), ([127, 0, 0, 3].into(), None)],
        )],
        h.now,
    );
    let (mut o, out) = dial_out(&mut h, "carrier/100");
    let inv = invites(&out);
    assert_eq!(inv[0].0, addr("127.0.0.2:5060"));
    let out = h.feed_msg(reply(&inv[0].1, 500, "Server Error", "a", false), inv[0].0);
    let next = invites(&out);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0, addr("127.0.0.3:5060"));
    assert!(events(&mut o).is_empty());
    h.feed_msg(reply(&next[0].1, 200, "OK", "b", true), next[0].0);
    assert!(matches!(events(&mut o)[..], [ChanEvent::Answer]));

    // 486 from the first address: busy, the second is never tried.
    let (mut o, out) = dial_out(&mut h, "carrier/100");
    let inv = invites(&out);
    let out = h.feed_msg(reply(&inv[0].1, 486, "Busy Here", "c", false), inv[0].0);
    assert!(invites(&out).is_empty());
    assert!(matches!(events(&mut o)[..], [ChanEvent::Busy]));

    // A provisional answer means the address is alive: no failover on silence after it.
    let (mut o, out) = dial_out(&mut h, "carrier/100");
    let inv = invites(&out);
    h.feed_msg(reply(&inv[0].1, 100, "Trying", "d", false), inv[0].0);
    let out = h.advance(Duration::from_secs(5));
    assert!(invites(&out).iter().all(|(d, _)| *d == inv[0].0));
    assert!(events(&mut o).is_empty());
}

#[test]
fn failover_decisions_follow_the_carrier_rules() {
    use super::super::core::fails_over;
    for c in [408, 480, 500, 502, 503, 504, 403] {
        assert!(fails_over(c), "{c}");
    }
    for c in [
        200, 302, 400, 404, 405, 410, 416, 482, 484, 486, 487, 600, 603,
    ] {
        assert!(!fails_over(c), "{c}");
    }
}

#[test]
fn transfer_before_answer_is_a_302_to_the_destination() {
    let mut h = trunk_h();
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let t = c.invite(&[]);
    h.feed(&t, c.src);
    let chan_id = h.core.legs.get(&c.call_id).expect("leg").chan_id;
    let res = h.core.transfer(chan_id, "6002", None, h.now);
    assert_eq!(res, TransferResult::Success);
    let out = h.collect();
    let r = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| code(m) == 302)
        .expect("302");
    let contact = r.header("Contact").unwrap();
    assert!(contact.starts_with("<sip:6002@"), "{contact}");
    let div = r.header("Diversion").expect("Diversion");
    assert!(div.starts_with("<sip:5551234@"), "{div}");
    // Already redirected: a second transfer fails.
    assert_eq!(
        h.core.transfer(chan_id, "6003", None, h.now),
        TransferResult::Failure
    );
}

#[test]
fn outboundproxy_takes_the_requests_and_the_uri_keeps_the_host() {
    let text = "[general]\n\n[kam]\ntype=peer\nhost=pbx.example.invalid\noutboundproxy=127.0.0.9:5070\n\n[bob]\ntype=friend\nhost=dynamic\nsecret=x\noutboundproxy=127.0.0.8\n";
    let mut h = H::new(text);
    let (_o, out) = dial_out(&mut h, "kam/100");
    let inv = invites(&out);
    assert_eq!(inv[0].0, addr("127.0.0.9:5070"));
    let SipMessage::Request { uri, .. } = &inv[0].1 else {
        panic!()
    };
    assert_eq!(uri.to_string(), "sip:100@pbx.example.invalid");
    // A registered phone behind the proxy: the contact is the Request-URI, the proxy
    // gets the request.
    let mut r = Reg::new("bob", "127.0.0.1:5071");
    assert_eq!(
        code(&r.send(&mut h, Some("x"), &[contact("sip:bob@10.0.0.7:5060")])),
        200
    );
    let (_o, out) = dial_out(&mut h, "bob");
    let inv = invites(&out);
    assert_eq!(inv[0].0, addr("127.0.0.8:5060"));
    let SipMessage::Request { uri, .. } = &inv[0].1 else {
        panic!()
    };
    assert_eq!(uri.host, "10.0.0.7");
}

// ------------------------------------------------------------------ session timers

fn st_h(general: &str) -> H {
    H::new(&format!("[general]\n{general}\n[trunk]\ntype=peer\nhost=127.0.0.1\nport=5099\ninsecure=invite\ncontext=from-trunk\n"))
}

/// The trunk calls 5551234 with `extra` headers; the call is answered. Returns the
/// answer (the 200) and the channel id.
fn answered_call(h: &mut H, c: &mut Call, extra: &[String]) -> (Vec<u16>, Option<SipMessage>, u64) {
    let t = c.invite(extra);
    let out = h.feed(&t, c.src);
    let codes_in = codes(&out);
    let Some(leg) = h.core.legs.get(&c.call_id) else {
        return (codes_in, out.into_iter().map(|(_, m)| m).next_back(), 0);
    };
    let chan_id = leg.chan_id;
    h.core.answer(chan_id, h.now);
    let out = h.collect();
    let ok = out.into_iter().map(|(_, m)| m).find(|m| code(m) == 200);
    (codes_in, ok, chan_id)
}

/// An answered call from the trunk with a 120 s timer the caller refreshes.
fn caller_refreshed_call() -> (H, Call, Option<SipMessage>) {
    let mut h = st_h("");
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (_, ok, _) = answered_call(
        &mut h,
        &mut c,
        &[
            "Supported: timer".into(),
            "Session-Expires: 120;refresher=uac".into(),
        ],
    );
    (h, c, ok)
}

#[test]
fn a_session_the_caller_refreshes_ends_when_refreshes_stop() {
    let (mut h, c, ok) = caller_refreshed_call();
    let ok = ok.expect("200");
    assert_eq!(ok.header("Session-Expires"), Some("120;refresher=uac"));
    assert_eq!(ok.header("Require"), Some("timer"));
    h.feed(&c.ack(ok.header("To").unwrap()), c.src);
    // 87 s: still up. 88 s (120 - 32) without a refresh: BYE.
    let out = h.advance(Duration::from_secs(87));
    assert!(out.iter().all(|(_, m)| m.method() != Some(&Method::Bye)));
    let out = h.advance(Duration::from_secs(1));
    assert!(
        out.iter().any(|(_, m)| m.method() == Some(&Method::Bye)),
        "{out:?}"
    );
    assert!(h
        .actions
        .iter()
        .any(|a| matches!(a, Action::Warning(w) if w.contains("Session-Timer expired"))));
}

#[test]
fn a_refresh_from_the_caller_restarts_the_clock() {
    let (mut h, mut c, ok) = caller_refreshed_call();
    let to = ok.expect("200").header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    h.advance(Duration::from_secs(60));
    // The refresh: a re-INVITE in the dialog.
    let reinvite = req(
        "INVITE",
        "sip:x@127.0.0.1:5060",
        &via(&c.src.to_string()),
        &c.from,
        &to,
        &c.call_id,
        c.cseq,
        &[
            "Supported: timer".into(),
            "Session-Expires: 120;refresher=uac".into(),
            "Content-Type: application/sdp".into(),
        ],
        OFFER,
    );
    c.cseq += 1;
    let out = h.feed(&reinvite, c.src);
    let ok = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| code(m) == 200)
        .expect("200 to the refresh");
    assert_eq!(ok.header("Session-Expires"), Some("120;refresher=uac"));
    h.feed(&c.ack(&to), c.src);
    // 87 s after the refresh: still up (147 s after the start).
    let out = h.advance(Duration::from_secs(87));
    assert!(out.iter().all(|(_, m)| m.method() != Some(&Method::Bye)));
}

#[test]
fn too_short_an_interval_is_422_and_refuse_is_420_when_required() {
    let mut h = st_h("");
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (codes_in, last, _) = answered_call(&mut h, &mut c, &["Session-Expires: 60".into()]);
    assert_eq!(codes_in, [422]);
    assert_eq!(last.unwrap().header("Min-SE"), Some("90"));
    let mut h = st_h("session-timers=refuse");
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (codes_in, last, _) = answered_call(
        &mut h,
        &mut c,
        &["Require: timer".into(), "Session-Expires: 600".into()],
    );
    assert_eq!(codes_in, [420]);
    assert_eq!(last.unwrap().header("Unsupported"), Some("timer"));
    // Refuse without Require: the call goes on, with no timer in the answer.
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (_, ok, _) = answered_call(&mut h, &mut c, &["Session-Expires: 600".into()]);
    assert!(ok.expect("200").header("Session-Expires").is_none());
}

#[test]
fn originate_runs_timers_and_we_refresh_with_a_reinvite() {
    let mut h = st_h("session-timers=originate\nsession-expires=600");
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    // A caller without timer support: we refresh (uas), without Require.
    let (_, ok, _) = answered_call(&mut h, &mut c, &[]);
    let ok = ok.expect("200");
    assert_eq!(ok.header("Session-Expires"), Some("600;refresher=uas"));
    assert!(ok.header("Require").is_none());
    let sdp = ok.body().to_vec();
    h.feed(&c.ack(ok.header("To").unwrap()), c.src);
    let out = h.advance(Duration::from_secs(300));
    let refresh = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.method() == Some(&Method::Invite))
        .expect("a refresh at half the interval");
    assert_eq!(refresh.body(), &sdp[..], "the same SDP, the same version");
    assert_eq!(refresh.header("Session-Expires"), Some("600;refresher=uac"));
    // Its 200 is ACKed.
    let r = response_to(refresh, 200, "OK", None).unwrap();
    let out = h.feed_msg(r, c.src);
    assert!(out.iter().any(|(_, m)| m.method() == Some(&Method::Ack)));
    // Outgoing calls ask for timers, and a 422 gets the longer interval it names.
    let (_o, out) = dial_out(&mut h, "trunk/5551234");
    let inv = &invites(&out)[0].1;
    assert_eq!(inv.header("Session-Expires"), Some("600;refresher=uas"));
    assert_eq!(inv.header("Min-SE"), Some("90"));
    let mut r = reply(inv, 422, "Session Interval Too Small", "t422", false);
    r.headers_mut().push("Min-SE", "900");
    let out = h.feed_msg(r, addr("127.0.0.1:5099"));
    let again = invites(&out);
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].1.header("Session-Expires"),
        Some("900;refresher=uas")
    );
    assert_eq!(again[0].1.cseq().unwrap().0, inv.cseq().unwrap().0 + 1);
}

#[test]
fn an_answer_naming_us_refresher_makes_us_refresh() {
    let mut h = st_h("");
    let (_o, out) = dial_out(&mut h, "trunk/5551234");
    let inv = &invites(&out)[0].1;
    assert!(
        inv.header("Session-Expires").is_none(),
        "accept mode asks for none"
    );
    let mut r = reply(inv, 200, "OK", "t200", true);
    r.headers_mut().push("Session-Expires", "180;refresher=uac");
    h.feed_msg(r, addr("127.0.0.1:5099"));
    let out = h.advance(Duration::from_secs(90));
    assert!(
        out.iter().any(|(_, m)| m.method() == Some(&Method::Invite)),
        "refresh at 90 s"
    );
}

// ------------------------------------------------------------------ REFER

fn refer(c: &mut Call, to: &str, refer_to: &str) -> String {
    let s = req(
        "REFER",
        "sip:x@127.0.0.1:5060",
        &via(&c.src.to_string()),
        &c.from,
        to,
        &c.call_id,
        c.cseq,
        &[format!("Refer-To: {refer_to}")],
        "",
    );
    c.cseq += 1;
    s
}

/// A call from the trunk (with `general` lines in sip.conf), answered and ACKed: the
/// harness, the call, its To (with our tag) and the channel id.
fn answered_and_acked(general: &str) -> (H, Call, String, u64) {
    let mut h = st_h(general);
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (_, ok, chan_id) = answered_call(&mut h, &mut c, &[]);
    let to = ok.expect("200").header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    (h, c, to, chan_id)
}

#[test]
fn refer_is_accepted_notified_and_handed_to_the_bridge() {
    let (mut h, mut c, to, chan_id) = answered_and_acked("");
    let shared = h.spawned[0].shared.clone();
    let out = h.feed(&refer(&mut c, &to, "<sip:6002@127.0.0.1>"), c.src);
    assert_eq!(code(&out[0].1), 202);
    let notify = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.method() == Some(&Method::Notify))
        .expect("NOTIFY");
    assert_eq!(notify.header("Event"), Some("refer"));
    assert_eq!(notify.body(), b"SIP/2.0 100 Trying\r\n");
    // The bridge holding the channel gets the request.
    use futures_util::FutureExt;
    let t = shared
        .transfer_requested()
        .now_or_never()
        .expect("a transfer waits");
    assert_eq!(
        (t.exten.as_str(), t.context.as_str()),
        ("6002", "from-trunk")
    );
    // Its outcome.
    h.core
        .indicate(chan_id, &ChanEvent::Transferred(true), h.now);
    let out = h.collect();
    let n = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.method() == Some(&Method::Notify))
        .expect("final NOTIFY");
    assert_eq!(n.body(), b"SIP/2.0 200 OK\r\n");
    assert!(n
        .header("Subscription-State")
        .is_some_and(|s| s.starts_with("terminated")));
}

#[test]
fn refer_refused_by_policy_or_when_attended() {
    let mut h = H::new(&TRUNKS.replace(
        "context=from-trunk\n",
        "context=from-trunk\nallowtransfer=no\n",
    ));
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (_, ok, _) = answered_call(&mut h, &mut c, &[]);
    let to = ok.expect("200").header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    let out = h.feed(&refer(&mut c, &to, "<sip:6002@127.0.0.1>"), c.src);
    assert_eq!(code(&out[0].1), 603);
    let mut h = st_h("");
    let mut c = Call::new("anonymous", "5551234", "127.0.0.1:5099");
    let (_, ok, _) = answered_call(&mut h, &mut c, &[]);
    let to = ok.expect("200").header("To").unwrap().to_string();
    h.feed(&c.ack(&to), c.src);
    let out = h.feed(
        &refer(
            &mut c,
            &to,
            "<sip:6002@127.0.0.1?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>",
        ),
        c.src,
    );
    assert_eq!(code(&out[0].1), 501);
    let out = h.feed(&refer(&mut c, &to, "garbage <<"), c.src);
    assert_eq!(code(&out[0].1), 400);
}

#[test]
fn transfer_of_an_answered_call_is_a_refer_and_its_notify_decides() {
    use futures_util::FutureExt;
    let (mut h, mut c, to, chan_id) = answered_and_acked("");
    let shared = h.spawned[0].shared.clone();
    assert_eq!(
        h.core.transfer(chan_id, "6002", None, h.now),
        TransferResult::Pending
    );
    let out = h.collect();
    let refer = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.method() == Some(&Method::Refer))
        .expect("REFER");
    let rt = refer.header("Refer-To").unwrap();
    assert!(rt.starts_with("<sip:6002@"), "{rt}");
    h.feed_msg(response_to(refer, 202, "Accepted", None).unwrap(), c.src);
    assert!(shared.transfer_finished().now_or_never().is_none());
    // NOTIFY 100 then 200: the outcome.
    for (frag, done) in [("SIP/2.0 100 Trying", false), ("SIP/2.0 200 OK", true)] {
        let n = req(
            "NOTIFY",
            "sip:x@127.0.0.1:5060",
            &via(&c.src.to_string()),
            &c.from,
            &to,
            &c.call_id,
            c.cseq,
            &[
                "Event: refer".into(),
                "Subscription-State: active".into(),
                "Content-Type: message/sipfrag;version=2.0".into(),
            ],
            &format!("{frag}\r\n"),
        );
        c.cseq += 1;
        let out = h.feed(&n, c.src);
        assert_eq!(code(&out[0].1), 200);
        assert_eq!(
            shared.transfer_finished().now_or_never(),
            done.then_some(true)
        );
    }
    assert!(shared.hangup_requested(), "a transfer done ends our side");
}
