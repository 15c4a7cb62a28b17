//! Tests for [`super`]: each state machine driven with synthetic messages and instants.

use super::*;
use crate::sip::message::parse;

fn addr() -> SocketAddr {
    "192.0.2.10:5060".parse().expect("addr")
}

fn req(method: &str, branch: &str) -> SipMessage {
    let s = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}\r\n\
Max-Forwards: 70\r\n\
Route: <sip:proxy.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 {method}\r\n\
Content-Length: 0\r\n\r\n"
    );
    parse(s.as_bytes()).expect("parse")
}

fn resp(r: &SipMessage, code: u16) -> SipMessage {
    let tag = (code > 100).then_some("a6c85cf");
    response_to(r, code, "X", tag).expect("response")
}

fn code(m: &SipMessage) -> u16 {
    status(m).expect("response")
}

fn drain_tx(t: &mut Transaction) -> Vec<Transmit> {
    std::iter::from_fn(|| t.poll_transmit()).collect()
}

fn drain_ev(t: &mut Transaction) -> Vec<TxEvent> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

fn cfg() -> TimerConfig {
    TimerConfig::default()
}

#[test]
fn client_invite_udp_retransmit_schedule_and_timeout() {
    let t0 = Instant::now();
    let t1 = cfg().t1;
    let inv = req("INVITE", "z9hG4bK1");
    let mut t = Transaction::client(inv.clone(), addr(), false, cfg(), t0).expect("client");
    assert_eq!(t.state(), State::Calling);
    assert_eq!(drain_tx(&mut t).len(), 1);
    // Timer A: T1, 2T1, 4T1, … so retransmissions at 1, 3, 7, 15, 31, 63 ·T1.
    let mut sent_at = Vec::new();
    while let Some(at) = t.poll_timeout() {
        t.handle_timeout(at);
        for x in drain_tx(&mut t) {
            assert_eq!(x.msg(), inv);
            assert_eq!(x.dest, addr());
            sent_at.push((at - t0).as_millis() / t1.as_millis());
        }
        if t.is_terminated() {
            assert_eq!(at - t0, t1 * 64, "timer B");
            break;
        }
    }
    assert_eq!(sent_at, vec![1, 3, 7, 15, 31, 63]);
    assert_eq!(
        drain_ev(&mut t),
        vec![TxEvent::Timeout, TxEvent::Terminated]
    );
}

#[test]
fn client_invite_1xx_then_200() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK2");
    let mut t = Transaction::client(inv.clone(), addr(), false, cfg(), t0).expect("client");
    drain_tx(&mut t);
    let ringing = resp(&inv, 180);
    t.handle_response(ringing.clone(), t0 + Duration::from_millis(100))
        .expect("1xx");
    assert_eq!(t.state(), State::Proceeding);
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Response(ringing)]);
    // No retransmissions in Proceeding, and timer B no longer applies.
    t.handle_timeout(t0 + Duration::from_secs(40));
    assert!(drain_tx(&mut t).is_empty());
    assert_eq!(t.state(), State::Proceeding);
    let ok = resp(&inv, 200);
    let now = t0 + Duration::from_secs(41);
    t.handle_response(ok.clone(), now).expect("2xx");
    assert_eq!(t.state(), State::Accepted);
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Response(ok.clone())]);
    assert!(
        drain_tx(&mut t).is_empty(),
        "no ACK for 2xx from the transaction"
    );
    // RFC 6026: 2xx retransmissions go up to the TU.
    t.handle_response(ok.clone(), now).expect("2xx again");
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Response(ok)]);
    // Timer M.
    assert_eq!(t.poll_timeout(), Some(now + cfg().t1 * 64));
    t.handle_timeout(now + cfg().t1 * 64);
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Terminated]);
}

#[test]
fn client_invite_486_generates_ack() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK3");
    let mut t = Transaction::client(inv.clone(), addr(), false, cfg(), t0).expect("client");
    drain_tx(&mut t);
    let busy = resp(&inv, 486);
    t.handle_response(busy.clone(), t0).expect("486");
    assert_eq!(t.state(), State::Completed);
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Response(busy.clone())]);
    let acks = drain_tx(&mut t);
    assert_eq!(acks.len(), 1);
    let ack = parse(&acks[0].bytes).expect("ack parses");
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.top_via(), inv.top_via());
    assert_eq!(ack.vias().len(), 1);
    assert_eq!(ack.to().expect("to").tag(), Some("a6c85cf"));
    assert_eq!(ack.cseq(), Some((314159, Method::Ack)));
    assert_eq!(ack.call_id(), inv.call_id());
    assert_eq!(ack.from(), inv.from());
    assert_eq!(ack.header("Route"), inv.header("Route"));
    let (SipMessage::Request { uri: a, .. }, SipMessage::Request { uri: i, .. }) = (&ack, &inv)
    else {
        panic!("requests")
    };
    assert_eq!(a, i);
    // A retransmitted 486 is re-ACKed and not passed up.
    t.handle_response(busy, t0 + Duration::from_secs(1))
        .expect("again");
    assert_eq!(drain_tx(&mut t).len(), 1);
    assert!(drain_ev(&mut t).is_empty());
    // Timer D.
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    t.handle_timeout(t0 + Duration::from_secs(32));
    assert!(t.is_terminated());
}

#[test]
fn client_invite_tcp_no_retransmit() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK4");
    let mut t = Transaction::client(inv.clone(), addr(), true, cfg(), t0).expect("client");
    assert_eq!(drain_tx(&mut t).len(), 1);
    assert_eq!(t.poll_timeout(), Some(t0 + cfg().t1 * 64), "only timer B");
    t.handle_timeout(t0 + Duration::from_secs(10));
    assert!(drain_tx(&mut t).is_empty());
    // 486 over TCP: ACK, then Terminated at once (D = 0).
    t.handle_response(resp(&inv, 486), t0 + Duration::from_secs(11))
        .expect("486");
    assert_eq!(drain_tx(&mut t).len(), 1);
    assert!(t.is_terminated());
}

#[test]
fn client_non_invite_e_capped_at_t2() {
    let t0 = Instant::now();
    let opt = req("OPTIONS", "z9hG4bK5");
    let mut t = Transaction::client(opt, addr(), false, cfg(), t0).expect("client");
    drain_tx(&mut t);
    let mut sent_ms = Vec::new();
    while let Some(at) = t.poll_timeout() {
        t.handle_timeout(at);
        if !drain_tx(&mut t).is_empty() {
            sent_ms.push((at - t0).as_millis());
        }
        if t.is_terminated() {
            assert_eq!(at - t0, Duration::from_secs(32), "timer F");
            break;
        }
    }
    assert_eq!(
        sent_ms,
        vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(
        drain_ev(&mut t),
        vec![TxEvent::Timeout, TxEvent::Terminated]
    );
}

#[test]
fn client_non_invite_proceeding_and_final() {
    let t0 = Instant::now();
    let reg = req("REGISTER", "z9hG4bK6");
    let mut t = Transaction::client(reg.clone(), addr(), false, cfg(), t0).expect("client");
    drain_tx(&mut t);
    t.handle_response(resp(&reg, 100), t0).expect("100");
    assert_eq!(t.state(), State::Proceeding);
    // In Proceeding, E fires with T2.
    t.handle_timeout(t0 + cfg().t1);
    assert_eq!(drain_tx(&mut t).len(), 1);
    assert_eq!(t.poll_timeout(), Some(t0 + cfg().t1 + cfg().t2));
    let ok = resp(&reg, 200);
    t.handle_response(ok.clone(), t0 + Duration::from_secs(1))
        .expect("200");
    assert_eq!(t.state(), State::Completed);
    t.handle_response(ok.clone(), t0 + Duration::from_secs(2))
        .expect("absorbed");
    assert_eq!(
        drain_ev(&mut t),
        vec![TxEvent::Response(resp(&reg, 100)), TxEvent::Response(ok)]
    );
    // Timer K = T4.
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(6)));
}

#[test]
fn client_non_invite_tcp() {
    let t0 = Instant::now();
    let reg = req("REGISTER", "z9hG4bK7");
    let mut t = Transaction::client(reg.clone(), addr(), true, cfg(), t0).expect("client");
    drain_tx(&mut t);
    t.handle_timeout(t0 + Duration::from_secs(5));
    assert!(drain_tx(&mut t).is_empty());
    t.handle_response(resp(&reg, 200), t0 + Duration::from_secs(6))
        .expect("200");
    assert!(t.is_terminated(), "K = 0 on TCP");
}

#[test]
fn server_invite_auto_trying_and_retransmission_absorption() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK8");
    let mut t = Transaction::server(inv.clone(), addr(), false, cfg(), t0).expect("server");
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Request(inv.clone())]);
    // A retransmission before any response: nothing to resend.
    t.handle_request(inv.clone(), t0 + Duration::from_millis(100))
        .expect("retrans");
    assert!(drain_tx(&mut t).is_empty());
    assert!(drain_ev(&mut t).is_empty());
    // 200 ms without a TU response: 100 Trying.
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(200)));
    t.handle_timeout(t0 + Duration::from_millis(200));
    let x = drain_tx(&mut t);
    assert_eq!(x.len(), 1);
    assert_eq!(code(&x[0].msg()), 100);
    assert_eq!(x[0].msg().to().expect("to").tag(), None);
    // Retransmitted INVITE gets the 100 again.
    t.handle_request(inv.clone(), t0 + Duration::from_millis(500))
        .expect("retrans");
    assert_eq!(code(&drain_tx(&mut t)[0].msg()), 100);
    // TU rejects: 486, retransmitted by G (T1, 2T1, 4T1, T2 …) until ACK.
    let busy = resp(&inv, 486);
    t.send_response(busy.clone(), t0 + Duration::from_secs(1))
        .expect("486");
    assert_eq!(drain_tx(&mut t)[0].msg(), busy);
    assert_eq!(t.state(), State::Completed);
    t.handle_timeout(t0 + Duration::from_millis(1500));
    assert_eq!(drain_tx(&mut t)[0].msg(), busy);
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(2500)));
    // Retransmitted INVITE in Completed: the 486 again.
    t.handle_request(inv.clone(), t0 + Duration::from_secs(2))
        .expect("retrans");
    assert_eq!(drain_tx(&mut t)[0].msg(), busy);
    // ACK: Confirmed, absorbed, not passed up; further ACKs absorbed.
    let ack = build_ack(&inv, &busy).expect("ack");
    t.handle_request(ack.clone(), t0 + Duration::from_secs(2))
        .expect("ack");
    assert_eq!(t.state(), State::Confirmed);
    t.handle_request(ack, t0 + Duration::from_secs(3))
        .expect("ack");
    assert!(drain_tx(&mut t).is_empty());
    assert!(drain_ev(&mut t).is_empty());
    // Timer I = T4.
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(7)));
    t.handle_timeout(t0 + Duration::from_secs(7));
    assert_eq!(drain_ev(&mut t), vec![TxEvent::Terminated]);
}

#[test]
fn server_invite_no_trying_if_tu_answers_quickly() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK9");
    let mut t = Transaction::server(inv.clone(), addr(), false, cfg(), t0).expect("server");
    t.send_response(resp(&inv, 180), t0 + Duration::from_millis(50))
        .expect("180");
    t.handle_timeout(t0 + Duration::from_millis(300));
    let x = drain_tx(&mut t);
    assert_eq!(x.len(), 1);
    assert_eq!(code(&x[0].msg()), 180);
}

#[test]
fn server_invite_timer_h_without_ack() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK10");
    let mut t = Transaction::server(inv.clone(), addr(), false, cfg(), t0).expect("server");
    t.send_response(resp(&inv, 404), t0).expect("404");
    let mut n = 0;
    while let Some(at) = t.poll_timeout() {
        t.handle_timeout(at);
        n += drain_tx(&mut t).len();
    }
    // 1 initial + G at 0.5 1.5 3.5 7.5 11.5 … 31.5 s.
    assert_eq!(n, 11);
    let ev = drain_ev(&mut t);
    assert_eq!(&ev[1..], &[TxEvent::Timeout, TxEvent::Terminated]);
}

#[test]
fn server_invite_accepted_absorbs() {
    let t0 = Instant::now();
    let inv = req("INVITE", "z9hG4bK11");
    let mut t = Transaction::server(inv.clone(), addr(), true, cfg(), t0).expect("server");
    drain_ev(&mut t);
    let ok = resp(&inv, 200);
    t.send_response(ok.clone(), t0).expect("200");
    assert_eq!(t.state(), State::Accepted);
    drain_tx(&mut t);
    t.handle_request(inv, t0 + Duration::from_millis(500))
        .expect("retrans");
    assert!(drain_tx(&mut t).is_empty(), "INVITE absorbed in Accepted");
    // The TU retransmits its 2xx through the transaction.
    t.send_response(ok.clone(), t0 + Duration::from_millis(500))
        .expect("2xx again");
    assert_eq!(drain_tx(&mut t)[0].msg(), ok);
    assert_eq!(
        t.send_response(resp(&req("INVITE", "z9hG4bK11"), 486), t0),
        Err(TxError::InvalidState)
    );
    t.handle_timeout(t0 + cfg().t1 * 64);
    assert!(t.is_terminated(), "timer L");
}

#[test]
fn server_non_invite_retransmissions_and_j() {
    let t0 = Instant::now();
    let opt = req("OPTIONS", "z9hG4bK12");
    let mut t = Transaction::server(opt.clone(), addr(), false, cfg(), t0).expect("server");
    assert_eq!(t.poll_timeout(), None, "no 100 Trying for non-INVITE");
    t.handle_request(opt.clone(), t0).expect("retrans");
    assert!(drain_tx(&mut t).is_empty());
    let ok = resp(&opt, 200);
    t.send_response(ok.clone(), t0).expect("200");
    drain_tx(&mut t);
    t.handle_request(opt, t0 + Duration::from_secs(1))
        .expect("retrans");
    assert_eq!(drain_tx(&mut t)[0].msg(), ok);
    assert_eq!(t.poll_timeout(), Some(t0 + cfg().t1 * 64));
    t.handle_timeout(t0 + cfg().t1 * 64);
    assert!(t.is_terminated());
}

#[test]
fn transport_error_terminates() {
    let t0 = Instant::now();
    let mut t =
        Transaction::client(req("BYE", "z9hG4bK13"), addr(), true, cfg(), t0).expect("client");
    t.handle_transport_error(t0);
    assert_eq!(
        drain_ev(&mut t),
        vec![TxEvent::TransportError, TxEvent::Terminated]
    );
}

#[test]
fn ack_is_not_a_transaction() {
    let t0 = Instant::now();
    let ack = req("ACK", "z9hG4bK14");
    assert_eq!(
        Transaction::client(ack.clone(), addr(), false, cfg(), t0).err(),
        Some(TxError::NotARequest)
    );
    assert_eq!(
        Transaction::server(ack, addr(), false, cfg(), t0).err(),
        Some(TxError::NotARequest)
    );
}

#[test]
fn key_rules() {
    let inv = req("INVITE", "z9hG4bKk");
    let k = TransactionKey::of(&inv, Role::Server).expect("key");
    assert_eq!(k.sent_by, "pc33.atlanta.example.com:5060");
    assert_eq!(k.method, Method::Invite);
    let ack = TransactionKey::of(&req("ACK", "z9hG4bKk"), Role::Server).expect("key");
    assert_eq!(ack, k, "ACK folds onto INVITE");
    let cancel = TransactionKey::of(&req("CANCEL", "z9hG4bKk"), Role::Server).expect("key");
    assert_ne!(cancel, k);
    assert_eq!(cancel.cancelled_invite(), Some(k.clone()));
    assert_eq!(k.cancelled_invite(), None);
    // A response's key comes from its CSeq method.
    let r = TransactionKey::of(&resp(&inv, 180), Role::Client).expect("key");
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.branch, "z9hG4bKk");
    // No branch: no key.
    let mut nb = inv.clone();
    nb.headers_mut()
        .set("Via", "SIP/2.0/UDP pc33.atlanta.example.com");
    assert_eq!(TransactionKey::of(&nb, Role::Server), None);
}

fn table() -> TransactionTable {
    TransactionTable::new(cfg(), 4)
}

#[test]
fn table_routes_by_branch() {
    let t0 = Instant::now();
    let mut tab = table();
    let a = req("INVITE", "z9hG4bKa");
    let b = req("INVITE", "z9hG4bKb");
    let ka = tab.send_request(a.clone(), addr(), false, t0).expect("a");
    let kb = tab.send_request(b.clone(), addr(), false, t0).expect("b");
    assert_eq!(
        tab.send_request(a.clone(), addr(), false, t0),
        Err(TxError::Exists)
    );
    assert_eq!(tab.poll_transmit().map(|x| x.msg()), Some(a.clone()));
    assert_eq!(tab.poll_transmit().map(|x| x.msg()), Some(b.clone()));
    let rb = resp(&b, 180);
    assert_eq!(
        tab.handle_incoming(rb.clone(), addr(), false, t0),
        Incoming::Matched(kb.clone())
    );
    assert_eq!(tab.poll_event(), Some((kb.clone(), TxEvent::Response(rb))));
    assert_eq!(
        tab.get(&kb).map(Transaction::state),
        Some(State::Proceeding)
    );
    assert_eq!(tab.get(&ka).map(Transaction::state), Some(State::Calling));
    // Stray response.
    let stray = resp(&req("INVITE", "z9hG4bKzz"), 200);
    assert_eq!(
        tab.handle_incoming(stray.clone(), addr(), false, t0),
        Incoming::StrayResponse(stray)
    );
    // Timers through the table: A of `a` at T1 (`b` is in Proceeding: no timer).
    assert_eq!(tab.next_timeout(), Some(t0 + cfg().t1));
    tab.handle_timeout(t0 + cfg().t1);
    assert_eq!(tab.poll_transmit().map(|x| x.msg()), Some(a));
    // 486 on `a`: ACK, and after timer D the transaction is removed.
    tab.handle_incoming(resp(&req("INVITE", "z9hG4bKa"), 486), addr(), false, t0);
    assert_eq!(
        tab.poll_transmit().and_then(|x| x.msg().method().cloned()),
        Some(Method::Ack)
    );
    assert_eq!(tab.len(), 2);
    tab.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(tab.len(), 1);
    let ev: Vec<_> = std::iter::from_fn(|| tab.poll_event()).collect();
    assert_eq!(ev.last(), Some(&(ka, TxEvent::Terminated)));
}

#[test]
fn table_server_ack_matching_and_stray_ack() {
    let t0 = Instant::now();
    let mut tab = table();
    let inv = req("INVITE", "z9hG4bKs");
    let Incoming::NewServer(k) = tab.handle_incoming(inv.clone(), addr(), false, t0) else {
        panic!("new server")
    };
    assert_eq!(
        tab.poll_event(),
        Some((k.clone(), TxEvent::Request(inv.clone())))
    );
    // Retransmission is matched, not a new transaction.
    assert_eq!(
        tab.handle_incoming(inv.clone(), addr(), false, t0),
        Incoming::Matched(k.clone())
    );
    assert_eq!(tab.len(), 1);
    let busy = resp(&inv, 486);
    tab.send_response(&k, busy.clone(), t0).expect("486");
    let ack = build_ack(&inv, &busy).expect("ack");
    assert_eq!(
        tab.handle_incoming(ack, addr(), false, t0),
        Incoming::Matched(k.clone())
    );
    // Confirmed: finished, only its key hash is kept; a repeated ACK is absorbed.
    assert!(tab.get(&k).is_none());
    assert_eq!(tab.finished().0, 1);
    let ack = build_ack(&inv, &busy).expect("ack");
    assert_eq!(
        tab.handle_incoming(ack, addr(), false, t0),
        Incoming::Matched(k.clone())
    );
    // ACK for a 2xx has a new branch: stray, for the dialog layer.
    let ack2 = req("ACK", "z9hG4bKnew");
    assert_eq!(
        tab.handle_incoming(ack2.clone(), addr(), false, t0),
        Incoming::StrayAck(ack2)
    );
}

#[test]
fn table_cancel_finds_invite() {
    let t0 = Instant::now();
    let mut tab = table();
    let inv = req("INVITE", "z9hG4bKc");
    let Incoming::NewServer(ki) = tab.handle_incoming(inv, addr(), false, t0) else {
        panic!("new server")
    };
    let cancel = req("CANCEL", "z9hG4bKc");
    assert_eq!(tab.find_cancelled_invite(&cancel), Some(ki.clone()));
    let Incoming::NewServer(kc) = tab.handle_incoming(cancel.clone(), addr(), false, t0) else {
        panic!("CANCEL is its own transaction")
    };
    assert_ne!(kc, ki);
    assert_eq!(kc.method, Method::Cancel);
    assert_eq!(tab.len(), 2);
    assert_eq!(
        tab.find_cancelled_invite(&req("CANCEL", "z9hG4bKother")),
        None
    );
    assert_eq!(tab.find_cancelled_invite(&req("INVITE", "z9hG4bKc")), None);
}

#[test]
fn table_cap_advises_503() {
    let t0 = Instant::now();
    let mut tab = table();
    for i in 0..4 {
        let m = req("OPTIONS", &format!("z9hG4bKcap{i}"));
        assert!(matches!(
            tab.handle_incoming(m, addr(), false, t0),
            Incoming::NewServer(_)
        ));
    }
    let over = req("OPTIONS", "z9hG4bKcap9");
    match tab.handle_incoming(over.clone(), addr(), false, t0) {
        Incoming::Overloaded(r) => {
            assert_eq!(code(&r), 503);
            assert_eq!(r.header("Retry-After"), Some("5"));
            assert_eq!(r.top_via(), over.top_via());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(tab.len(), 4);
    assert_eq!(
        tab.send_request(req("OPTIONS", "z9hG4bKout"), addr(), false, t0),
        Err(TxError::Full)
    );
    // Existing transactions still get their retransmissions.
    assert!(matches!(
        tab.handle_incoming(req("OPTIONS", "z9hG4bKcap0"), addr(), false, t0),
        Incoming::Matched(_)
    ));
    // Answering frees slots after timer J (here: reliable would be at once; UDP waits 64·T1).
    let k0 = TransactionKey::of(&req("OPTIONS", "z9hG4bKcap0"), Role::Server).expect("k");
    tab.send_response(&k0, resp(&req("OPTIONS", "z9hG4bKcap0"), 200), t0)
        .expect("200");
    tab.handle_timeout(t0 + cfg().t1 * 64);
    assert_eq!(tab.len(), 3);
}

#[test]
fn table_rejects_garbage() {
    let t0 = Instant::now();
    let mut tab = table();
    let mut m = req("OPTIONS", "z9hG4bKg");
    m.headers_mut().set("Via", "SIP/2.0/UDP h");
    assert_eq!(tab.handle_incoming(m, addr(), false, t0), Incoming::Invalid);
    assert!(tab.is_empty());
}

#[test]
fn table_timer_heap_drops_stale_entries() {
    let t0 = Instant::now();
    let mut tab = table();
    let inv = req("INVITE", "z9hG4bKh");
    tab.send_request(inv.clone(), addr(), false, t0)
        .expect("send");
    let opt = req("OPTIONS", "z9hG4bKh2");
    tab.send_request(opt.clone(), addr(), true, t0)
        .expect("send");
    assert_eq!(tab.next_timeout(), Some(t0 + cfg().t1));
    // 180 stops A and B of the INVITE; the OPTIONS over TCP only has F left.
    tab.handle_incoming(resp(&inv, 180), addr(), false, t0);
    assert_eq!(tab.next_timeout(), Some(t0 + cfg().t1 * 64));
    tab.handle_incoming(resp(&opt, 200), addr(), true, t0);
    assert_eq!(tab.next_timeout(), None, "K = 0 on TCP removed it");
    assert_eq!(tab.len(), 1);
    // Nothing fires for the INVITE in Proceeding.
    while tab.poll_transmit().is_some() {}
    tab.handle_timeout(t0 + Duration::from_secs(100));
    assert_eq!(tab.poll_transmit(), None);
    assert_eq!(tab.len(), 1);
}

#[test]
fn table_late_handle_timeout_catches_up() {
    let t0 = Instant::now();
    let mut tab = table();
    tab.send_request(req("INVITE", "z9hG4bKl"), addr(), false, t0)
        .expect("send");
    tab.poll_transmit();
    // Called only once, long after timer B: the INVITE times out and is removed.
    tab.handle_timeout(t0 + Duration::from_secs(60));
    assert!(tab.is_empty());
    let ev: Vec<_> = std::iter::from_fn(|| tab.poll_event())
        .map(|(_, e)| e)
        .collect();
    assert_eq!(ev, vec![TxEvent::Timeout, TxEvent::Terminated]);
}

#[test]
fn stalled_caller_gets_one_retransmission_not_a_burst() {
    let t0 = Instant::now();
    let opt = req("OPTIONS", "z9hG4bKst");
    let mut t = Transaction::client(opt, addr(), false, cfg(), t0).expect("client");
    drain_tx(&mut t);
    // First call 10 s late: one retransmission, the next one an interval (1 s) later.
    t.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(drain_tx(&mut t).len(), 1);
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(11)));
}

#[test]
fn the_byte_budget_advises_503_and_comes_back() {
    let t0 = Instant::now();
    let mut tab = TransactionTable::new(cfg(), 1000);
    let one = message_bytes(&req("OPTIONS", "z9hG4bKb0"));
    tab.set_byte_cap(one * 3);
    let mut keys = Vec::new();
    for i in 0..3 {
        match tab.handle_incoming(req("OPTIONS", &format!("z9hG4bKb{i}")), addr(), true, t0) {
            Incoming::NewServer(k) => keys.push(k),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(tab.bytes(), one * 3);
    assert!(matches!(
        tab.handle_incoming(req("OPTIONS", "z9hG4bKb9"), addr(), true, t0),
        Incoming::Overloaded(_)
    ));
    assert_eq!(
        tab.send_request(req("OPTIONS", "z9hG4bKbo"), addr(), false, t0),
        Err(TxError::Full)
    );
    // Answered over a reliable transport, the transactions end at once and free the bytes.
    for k in &keys {
        let r = resp(&req("OPTIONS", "z9hG4bKb0"), 200);
        let _ = tab.send_response(k, r, t0);
    }
    tab.handle_timeout(t0);
    assert_eq!(tab.bytes(), 0, "{} transactions left", tab.len());
    assert!(matches!(
        tab.handle_incoming(req("OPTIONS", "z9hG4bKb10"), addr(), true, t0),
        Incoming::NewServer(_)
    ));
}

#[test]
fn a_finished_transaction_keeps_only_its_response_bytes() {
    let t0 = Instant::now();
    let mut tab = table();
    let reg = req("REGISTER", "z9hG4bKfin");
    let Incoming::NewServer(k) = tab.handle_incoming(reg.clone(), addr(), false, t0) else {
        panic!("new server")
    };
    let _ = tab.poll_event();
    let ok = resp(&reg, 200);
    tab.send_response(&k, ok.clone(), t0).expect("200");
    let sent = tab.poll_transmit().expect("the 200");
    // Finished at once: the TU hears Terminated, the table holds no transaction and no
    // message bytes, only the finished entry.
    assert_eq!(tab.poll_event(), Some((k.clone(), TxEvent::Terminated)));
    assert!(tab.is_empty());
    assert_eq!(tab.bytes(), 0);
    let (n, bytes) = tab.finished();
    assert_eq!(n, 1);
    assert!(bytes >= sent.bytes.len());
    // A retransmission gets the same bytes again, to where the request came from.
    assert_eq!(
        tab.handle_incoming(reg.clone(), addr(), false, t0 + Duration::from_secs(1)),
        Incoming::Matched(k.clone())
    );
    assert_eq!(tab.poll_transmit(), Some(sent));
    assert_eq!(tab.get_server_key(&reg), Some(k.clone()));
    // The linger ends (timer J): forgotten, and the same request is new again.
    let end = tab.next_timeout().expect("expiry");
    tab.handle_timeout(end);
    assert_eq!(tab.finished(), (0, 0));
    assert!(matches!(
        tab.handle_incoming(reg, addr(), false, end),
        Incoming::NewServer(_)
    ));
}

#[test]
fn finished_transactions_beyond_their_budget_are_forgotten_oldest_first() {
    let t0 = Instant::now();
    let mut tab = table();
    let mut keys = Vec::new();
    for i in 0..10 {
        let r = req("OPTIONS", &format!("z9hG4bKbud{i}"));
        let now = t0 + Duration::from_millis(i);
        let Incoming::NewServer(k) = tab.handle_incoming(r.clone(), addr(), false, now) else {
            panic!("new server")
        };
        tab.send_response(&k, resp(&r, 200), now).expect("200");
        keys.push(r);
    }
    while tab.poll_transmit().is_some() {}
    let (n, bytes) = tab.finished();
    assert_eq!(n, 10);
    // Room for about four: the six oldest go.
    tab.set_finished_cap(bytes * 4 / 10 + 1);
    assert_eq!(tab.finished().0, 4);
    assert!(tab.get_server_key(&keys[5]).is_none());
    assert!(tab.get_server_key(&keys[6]).is_some());
    assert!(tab.get_server_key(&keys[9]).is_some());
}

#[test]
fn an_invite_answered_2xx_passes_a_reused_branch_ack_up_and_absorbs_retransmissions() {
    let t0 = Instant::now();
    let mut tab = table();
    let inv = req("INVITE", "z9hG4bKacc");
    let Incoming::NewServer(k) = tab.handle_incoming(inv.clone(), addr(), false, t0) else {
        panic!("new server")
    };
    tab.send_response(&k, resp(&inv, 200), t0).expect("200");
    while tab.poll_transmit().is_some() {}
    assert_eq!(tab.finished().0, 1);
    assert_eq!(
        tab.handle_incoming(inv.clone(), addr(), false, t0),
        Incoming::Matched(k.clone())
    );
    assert_eq!(
        tab.poll_transmit(),
        None,
        "the TU retransmits a 2xx, not the table"
    );
    let ack = req("ACK", "z9hG4bKacc");
    assert_eq!(
        tab.handle_incoming(ack.clone(), addr(), false, t0),
        Incoming::StrayAck(ack)
    );
    // A CANCEL still finds it (200 to the CANCEL, no effect on the call).
    assert_eq!(
        tab.find_cancelled_invite(&req("CANCEL", "z9hG4bKacc")),
        Some(k)
    );
}
