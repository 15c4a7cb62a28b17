//! Tests for [`super`]: dialogs built from synthetic RFC 3261-style messages.

use super::*;
use crate::sip::message::{parse, response_to};

/// INVITE as received by ferrisk (UAS side), through two record-routing proxies.
fn incoming_invite() -> SipMessage {
    let s = "INVITE sip:bob@ferrisk.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n\
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKuac\r\n\
Max-Forwards: 68\r\n\
Record-Route: <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:p1.example.com;lr>\r\n\
To: Bob <sip:bob@ferrisk.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Length: 0\r\n\r\n";
    parse(s.as_bytes()).expect("parse")
}

/// INVITE as sent by ferrisk (UAC side).
fn outgoing_invite() -> SipMessage {
    let s = "INVITE sip:carol@chicago.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP ferrisk.example.com:5060;branch=z9hG4bKinv1;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:outbound.example.com;lr>\r\n\
To: <sip:carol@chicago.example.com>\r\n\
From: \"PBX\" <sip:pbx@ferrisk.example.com>;tag=ftag1\r\n\
Call-ID: out-call-1@ferrisk\r\n\
CSeq: 10 INVITE\r\n\
Contact: <sip:pbx@ferrisk.example.com:5060>\r\n\
Content-Length: 0\r\n\r\n";
    parse(s.as_bytes()).expect("parse")
}

/// A response to `outgoing_invite` with To-tag `tag`, Record-Route p1 (nearest callee) then
/// outbound (nearest us), as a response carries them.
fn uac_resp(code: u16, tag: &str, contact: &str) -> SipMessage {
    let mut r = response_to(&outgoing_invite(), code, "X", Some(tag)).expect("resp");
    let h = r.headers_mut();
    h.push("Record-Route", "<sip:p1.chicago.example.com;lr>");
    h.push("Record-Route", "<sip:outbound.example.com;lr>");
    h.push("Contact", format!("<{contact}>"));
    r
}

fn local_contact() -> NameAddr {
    NameAddr::parse("<sip:bob@10.0.0.5:5060>").expect("contact")
}

fn uas() -> Dialog {
    Dialog::uas_from_request(&incoming_invite(), "uastag", local_contact()).expect("uas")
}

fn uri_of(m: &SipMessage) -> String {
    match m {
        SipMessage::Request { uri, .. } => uri.to_string(),
        SipMessage::Response { .. } => panic!("not a request"),
    }
}

fn routes(m: &SipMessage) -> Vec<String> {
    m.routes("Route")
        .expect("routes")
        .into_iter()
        .map(|r| r.uri.to_string())
        .collect()
}

/// An in-dialog request from the remote side of the UAS dialog.
fn remote_req(method: &str, cseq: u32, contact: Option<&str>) -> SipMessage {
    let contact = contact
        .map(|c| format!("Contact: <{c}>\r\n"))
        .unwrap_or_default();
    let s = format!(
        "{method} sip:bob@10.0.0.5:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK{cseq}\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@ferrisk.example.com>;tag=uastag\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: {cseq} {method}\r\n\
{contact}Content-Length: 0\r\n\r\n"
    );
    parse(s.as_bytes()).expect("parse")
}

#[test]
fn uas_dialog_from_invite_with_record_route() {
    let d = uas();
    assert_eq!(
        d.id,
        DialogId {
            call_id: "a84b4c76e66710".into(),
            local_tag: "uastag".into(),
            remote_tag: "1928301774".into(),
        }
    );
    assert_eq!(d.state, DialogState::Early);
    assert!(!d.is_uac);
    assert!(!d.secure);
    assert_eq!(
        d.remote_target.to_string(),
        "sip:alice@pc33.atlanta.example.com"
    );
    // UAS: route set in Record-Route order.
    let rs: Vec<String> = d.route_set.iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(rs, ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]);
    assert_eq!(d.remote_cseq, Some(314159));
    assert_eq!(d.local_uri.uri.to_string(), "sip:bob@ferrisk.example.com");
    assert!(d.local_uri.tag().is_none());
    assert_eq!(
        d.remote_uri.uri.to_string(),
        "sip:alice@atlanta.example.com"
    );
    assert_eq!(d.via_base, "SIP/2.0/UDP 10.0.0.5:5060");
}

#[test]
fn uas_requires_from_tag_contact_and_invite() {
    let inv = incoming_invite();
    let mut no_contact = inv.clone();
    no_contact.headers_mut().remove("Contact");
    assert_eq!(
        Dialog::uas_from_request(&no_contact, "t", local_contact()),
        Err(DialogError::MissingHeader("Contact"))
    );
    let mut no_tag = inv.clone();
    no_tag
        .headers_mut()
        .set("From", "<sip:alice@atlanta.example.com>");
    assert_eq!(
        Dialog::uas_from_request(&no_tag, "t", local_contact()),
        Err(DialogError::MissingTag("From"))
    );
    let resp = response_to(&inv, 200, "OK", Some("x")).expect("resp");
    assert_eq!(
        Dialog::uas_from_request(&resp, "t", local_contact()),
        Err(DialogError::NotInvite)
    );
}

#[test]
fn uas_responses_tag_contact_record_route_and_confirm() {
    let mut d = uas();
    let inv = incoming_invite();
    let trying = d
        .response_for(&inv, 100, "Trying", None, None)
        .expect("100");
    assert_eq!(trying.to().expect("to").tag(), None);
    assert!(trying.header("Contact").is_none());

    let ringing = d
        .response_for(&inv, 180, "Ringing", None, None)
        .expect("180");
    assert_eq!(ringing.to().expect("to").tag(), Some("uastag"));
    assert_eq!(ringing.header("Contact"), Some("<sip:bob@10.0.0.5:5060>"));
    let rr: Vec<&str> = ringing.headers().get_all("Record-Route").collect();
    assert_eq!(rr, ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]);
    assert_eq!(d.state, DialogState::Early);

    let sdp = b"v=0\r\n".to_vec();
    let ok = d
        .response_for(
            &inv,
            200,
            "OK",
            None,
            Some(("application/sdp", sdp.clone())),
        )
        .expect("200");
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(ok.to().expect("to").tag(), Some("uastag"));
    assert!(ok.header("Contact").is_some());
    assert_eq!(ok.content_type(), Some("application/sdp"));
    assert_eq!(ok.body(), &sdp[..]);
    // The bytes round-trip with the right Content-Length.
    let back = parse(&ok.to_bytes()).expect("reparse");
    assert_eq!(back.content_length(), Some(sdp.len()));
}

#[test]
fn uas_error_to_initial_invite_terminates_early_dialog() {
    let mut d = uas();
    let r = d
        .response_for(&incoming_invite(), 486, "Busy Here", None, None)
        .expect("486");
    assert_eq!(r.to().expect("to").tag(), Some("uastag"));
    assert!(r.header("Contact").is_none());
    assert_eq!(d.state, DialogState::Terminated);
}

#[test]
fn uac_dialog_from_180_with_tag_then_200() {
    let inv = outgoing_invite();
    let r180 = uac_resp(180, "ttag", "sip:carol@early.chicago.example.com");
    let mut d = Dialog::uac_from_response(&inv, &r180).expect("early");
    assert_eq!(d.state, DialogState::Early);
    assert!(d.is_uac);
    assert_eq!(
        d.id,
        DialogId {
            call_id: "out-call-1@ferrisk".into(),
            local_tag: "ftag1".into(),
            remote_tag: "ttag".into(),
        }
    );
    assert_eq!(d.local_cseq, 10);
    assert_eq!(d.remote_cseq, None);
    assert_eq!(d.via_base, "SIP/2.0/UDP ferrisk.example.com:5060");
    assert_eq!(
        d.remote_target.to_string(),
        "sip:carol@early.chicago.example.com"
    );

    let mut r200 = uac_resp(200, "ttag", "sip:carol@cube.chicago.example.com");
    // The 2xx has one more record-routing proxy: the route set is recomputed from it.
    r200.headers_mut()
        .push("Record-Route", "<sip:edge.example.com;lr>");
    d.receive_response(&r200).expect("200");
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(
        d.remote_target.to_string(),
        "sip:carol@cube.chicago.example.com"
    );
    let rs: Vec<String> = d.route_set.iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(
        rs,
        [
            "sip:edge.example.com;lr",
            "sip:outbound.example.com;lr",
            "sip:p1.chicago.example.com;lr"
        ]
    );
}

#[test]
fn uac_route_set_is_reversed_record_route() {
    let d = Dialog::uac_from_response(
        &outgoing_invite(),
        &uac_resp(200, "ttag", "sip:carol@cube.chicago.example.com"),
    )
    .expect("confirmed");
    assert_eq!(d.state, DialogState::Confirmed);
    let rs: Vec<String> = d.route_set.iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(
        rs,
        [
            "sip:outbound.example.com;lr",
            "sip:p1.chicago.example.com;lr"
        ]
    );
}

#[test]
fn uac_rejects_100_untagged_and_2xx_without_contact() {
    let inv = outgoing_invite();
    let trying = response_to(&inv, 100, "Trying", None).expect("100");
    assert_eq!(
        Dialog::uac_from_response(&inv, &trying),
        Err(DialogError::NotDialogCreating)
    );
    let untagged = response_to(&inv, 180, "Ringing", None).expect("180");
    assert_eq!(
        Dialog::uac_from_response(&inv, &untagged),
        Err(DialogError::MissingTag("To"))
    );
    let mut ok = uac_resp(200, "t", "sip:c@h");
    ok.headers_mut().remove("Contact");
    assert_eq!(
        Dialog::uac_from_response(&inv, &ok),
        Err(DialogError::MissingHeader("Contact"))
    );
    // A 180 without Contact falls back to the Request-URI.
    let mut ring = uac_resp(180, "t", "sip:c@h");
    ring.headers_mut().remove("Contact");
    let d = Dialog::uac_from_response(&inv, &ring).expect("early");
    assert_eq!(d.remote_target.to_string(), "sip:carol@chicago.example.com");
}

#[test]
fn in_dialog_bye_contents() {
    let mut d = Dialog::uac_from_response(
        &outgoing_invite(),
        &uac_resp(200, "ttag", "sip:carol@cube.chicago.example.com"),
    )
    .expect("dialog");
    let bye = d.bye("z9hG4bKbye1");
    assert_eq!(bye.method(), Some(&Method::Bye));
    assert_eq!(uri_of(&bye), "sip:carol@cube.chicago.example.com");
    assert_eq!(
        routes(&bye),
        [
            "sip:outbound.example.com;lr",
            "sip:p1.chicago.example.com;lr"
        ]
    );
    assert_eq!(bye.from().expect("from").tag(), Some("ftag1"));
    assert_eq!(
        bye.from().expect("from").display_name().as_deref(),
        Some("PBX")
    );
    assert_eq!(bye.to().expect("to").tag(), Some("ttag"));
    assert_eq!(bye.call_id(), Some("out-call-1@ferrisk"));
    assert_eq!(bye.cseq(), Some((11, Method::Bye)));
    assert_eq!(bye.max_forwards(), Some(70));
    let via = bye.top_via().expect("via");
    assert_eq!(via.branch.as_deref(), Some("z9hG4bKbye1"));
    assert_eq!(via.host, "ferrisk.example.com");
    assert!(bye.header("Contact").is_none());
    assert_eq!(d.state, DialogState::Terminated);
    // The serialised form parses back as a valid request.
    let back = parse(&bye.to_bytes()).expect("reparse");
    assert_eq!(back, bye);
}

#[test]
fn uas_request_cseq_increments_and_routes_as_is() {
    let mut d = uas();
    let info = d.request(Method::Info, "z9hG4bKa");
    let bye = d.request(Method::Bye, "z9hG4bKb");
    assert_eq!(info.cseq(), Some((1, Method::Info)));
    assert_eq!(bye.cseq(), Some((2, Method::Bye)));
    assert_eq!(uri_of(&bye), "sip:alice@pc33.atlanta.example.com");
    assert_eq!(
        routes(&bye),
        ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    );
    // As UAS, From carries our (To) tag and To the caller's.
    assert_eq!(bye.from().expect("from").tag(), Some("uastag"));
    assert_eq!(
        bye.from().expect("from").uri.to_string(),
        "sip:bob@ferrisk.example.com"
    );
    assert_eq!(bye.to().expect("to").tag(), Some("1928301774"));
}

#[test]
fn strict_route_becomes_request_uri() {
    let mut d = uas();
    d.route_set = vec![
        NameAddr::parse("<sip:strict.example.com;transport=udp>").expect("r"),
        NameAddr::parse("<sip:p1.example.com;lr>").expect("r"),
    ];
    let m = d.request(Method::Options, "z9hG4bKs");
    assert_eq!(uri_of(&m), "sip:strict.example.com");
    assert_eq!(
        routes(&m),
        [
            "sip:p1.example.com;lr",
            "sip:alice@pc33.atlanta.example.com"
        ]
    );
}

#[test]
fn ack_for_2xx_uses_invite_cseq() {
    let mut d = Dialog::uac_from_response(
        &outgoing_invite(),
        &uac_resp(200, "ttag", "sip:carol@cube.chicago.example.com"),
    )
    .expect("dialog");
    let ack = d.ack("z9hG4bKack1", None).expect("ack");
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.cseq(), Some((10, Method::Ack)));
    assert_eq!(uri_of(&ack), "sip:carol@cube.chicago.example.com");
    assert_eq!(
        ack.top_via().expect("via").branch.as_deref(),
        Some("z9hG4bKack1")
    );
    assert_eq!(ack.to().expect("to").tag(), Some("ttag"));
    // The ACK takes no new CSeq.
    assert_eq!(d.local_cseq, 10);
    // After a re-INVITE, the ACK follows its CSeq.
    let sdp = b"v=0\r\n".to_vec();
    let re = d.reinvite("z9hG4bKre", "application/sdp", sdp.clone());
    assert_eq!(re.cseq(), Some((11, Method::Invite)));
    assert_eq!(re.body(), &sdp[..]);
    assert_eq!(re.content_type(), Some("application/sdp"));
    assert_eq!(
        re.header("Contact"),
        Some("<sip:pbx@ferrisk.example.com:5060>")
    );
    let ack2 = d
        .ack("z9hG4bKack2", Some(("application/sdp", sdp.clone())))
        .expect("ack");
    assert_eq!(ack2.cseq(), Some((11, Method::Ack)));
    assert_eq!(ack2.body(), &sdp[..]);
    // A UAS dialog that never sent an INVITE has nothing to ACK.
    assert!(uas().ack("z9hG4bKx", None).is_none());
}

#[test]
fn cancel_from_invite_same_branch() {
    let inv = outgoing_invite();
    let c = cancel(&inv).expect("cancel");
    assert_eq!(c.method(), Some(&Method::Cancel));
    assert_eq!(uri_of(&c), uri_of(&inv));
    assert_eq!(c.cseq(), Some((10, Method::Cancel)));
    assert_eq!(
        c.top_via().expect("via").branch.as_deref(),
        Some("z9hG4bKinv1")
    );
    assert_eq!(c.vias().len(), 1);
    assert_eq!(c.header("From"), inv.header("From"));
    assert_eq!(c.header("To"), inv.header("To"));
    assert_eq!(c.call_id(), inv.call_id());
    assert_eq!(routes(&c), ["sip:outbound.example.com;lr"]);
    // The transaction layer finds the INVITE it cancels.
    use crate::sip::transaction::{Role, TransactionKey};
    let ck = TransactionKey::of(&c, Role::Server).expect("key");
    assert_eq!(
        ck.cancelled_invite(),
        TransactionKey::of(&inv, Role::Server)
    );
    assert!(cancel(&c).is_none());
}

#[test]
fn remote_cseq_ordering() {
    let mut d = uas();
    assert_eq!(
        d.receive_request(&remote_req("INFO", 314160, None)),
        RequestCheck::Accept
    );
    assert_eq!(d.remote_cseq, Some(314160));
    assert_eq!(
        d.receive_request(&remote_req("INFO", 314150, None)),
        RequestCheck::Reject(500, "Server Internal Error")
    );
    assert_eq!(d.remote_cseq, Some(314160));
    // ACK reuses the INVITE's (lower) CSeq and is not rejected.
    assert_eq!(
        d.receive_request(&remote_req("ACK", 314159, None)),
        RequestCheck::Accept
    );
    assert_eq!(
        d.receive_request(&remote_req("BYE", 314161, None)),
        RequestCheck::Accept
    );
    assert_eq!(d.state, DialogState::Terminated);
    // After BYE, new requests get 481.
    assert_eq!(
        d.receive_request(&remote_req("INFO", 314162, None)),
        RequestCheck::Reject(481, "Call/Transaction Does Not Exist")
    );
}

#[test]
fn reinvite_and_update_refresh_remote_target() {
    let mut d = uas();
    let re = remote_req("INVITE", 314160, Some("sip:alice@192.0.2.99:5062"));
    assert_eq!(d.receive_request(&re), RequestCheck::Accept);
    assert_eq!(d.remote_target.to_string(), "sip:alice@192.0.2.99:5062");
    // INFO's Contact is not a target refresh.
    d.receive_request(&remote_req("INFO", 314161, Some("sip:x@198.51.100.1")));
    assert_eq!(d.remote_target.to_string(), "sip:alice@192.0.2.99:5062");
    d.receive_request(&remote_req("UPDATE", 314162, Some("sip:alice@192.0.2.7")));
    assert_eq!(d.remote_target.to_string(), "sip:alice@192.0.2.7");
    // The 200 to the re-INVITE carries our Contact and tag.
    let ok = d.response_for(&re, 200, "OK", None, None).expect("200");
    assert_eq!(ok.header("Contact"), Some("<sip:bob@10.0.0.5:5060>"));
    assert_eq!(ok.to().expect("to").tag(), Some("uastag"));
    // Later requests go to the new target.
    assert_eq!(uri_of(&d.request(Method::Bye, "b")), "sip:alice@192.0.2.7");
}

#[test]
fn uac_2xx_to_reinvite_refreshes_target() {
    let inv = outgoing_invite();
    let mut d = Dialog::uac_from_response(&inv, &uac_resp(200, "ttag", "sip:carol@a.example.com"))
        .expect("dialog");
    let re = d.reinvite("z9hG4bKre", "application/sdp", Vec::new());
    let mut ok = response_to(&re, 200, "OK", None).expect("200");
    ok.headers_mut()
        .push("Contact", "<sip:carol@b.example.com>");
    d.receive_response(&ok).expect("ok");
    assert_eq!(d.remote_target.to_string(), "sip:carol@b.example.com");
    // 481 to an in-dialog request ends the dialog.
    let info = d.request(Method::Info, "z9hG4bKi");
    d.receive_response(&response_to(&info, 481, "Gone", None).expect("481"))
        .expect("481");
    assert_eq!(d.state, DialogState::Terminated);
}

#[test]
fn forking_detection() {
    let inv = outgoing_invite();
    let d = Dialog::uac_from_response(&inv, &uac_resp(180, "tagA", "sip:a@h")).expect("A");
    assert!(!d.is_fork(&uac_resp(200, "tagA", "sip:a@h")));
    assert!(d.is_fork(&uac_resp(200, "tagB", "sip:b@h")));
    assert!(!d.is_fork(&response_to(&inv, 100, "Trying", None).expect("100")));

    let mut set = DialogSet::new();
    assert_eq!(
        set.handle_uac_response(&inv, &response_to(&inv, 100, "Trying", None).expect("100")),
        Ok(UacUpdate::Ignored)
    );
    let a = set
        .handle_uac_response(&inv, &uac_resp(180, "tagA", "sip:a@h"))
        .expect("A");
    let UacUpdate::Created(id_a) = a else {
        panic!("expected Created, got {a:?}");
    };
    assert!(set.is_new_fork(&uac_resp(200, "tagB", "sip:b@h")));
    assert!(!set.is_new_fork(&uac_resp(200, "tagA", "sip:a@h")));
    let b = set
        .handle_uac_response(&inv, &uac_resp(200, "tagB", "sip:b@h"))
        .expect("B");
    let UacUpdate::Forked(id_b) = b else {
        panic!("expected Forked, got {b:?}");
    };
    assert_eq!(set.len(), 2);
    assert_eq!(set.get(&id_b).expect("B").state, DialogState::Confirmed);
    assert_eq!(set.get(&id_a).expect("A").state, DialogState::Early);
    assert_eq!(
        set.handle_uac_response(&inv, &uac_resp(200, "tagA", "sip:a@h")),
        Ok(UacUpdate::Updated(id_a.clone()))
    );
    assert_eq!(set.get(&id_a).expect("A").state, DialogState::Confirmed);
}

#[test]
fn final_error_terminates_early_dialogs() {
    let inv = outgoing_invite();
    let mut set = DialogSet::new();
    set.handle_uac_response(&inv, &uac_resp(183, "tagA", "sip:a@h"))
        .expect("A");
    set.handle_uac_response(&inv, &uac_resp(183, "tagB", "sip:b@h"))
        .expect("B");
    let busy = response_to(&inv, 486, "Busy Here", Some("tagC")).expect("486");
    assert_eq!(set.handle_uac_response(&inv, &busy), Ok(UacUpdate::Ignored));
    assert!(set.iter().all(|d| d.state == DialogState::Terminated));
    set.purge_terminated();
    assert!(set.is_empty());
}

#[test]
fn dialog_set_matches_requests_and_responses() {
    let mut set = DialogSet::new();
    set.insert(uas());
    let inv = outgoing_invite();
    let uac = Dialog::uac_from_response(&inv, &uac_resp(200, "ttag", "sip:c@h")).expect("uac");
    let uac_id = uac.id.clone();
    set.insert(uac);

    let bye = remote_req("BYE", 314160, None);
    let d = set.match_request(&bye).expect("match");
    assert_eq!(d.id.local_tag, "uastag");
    assert!(!d.is_uac);

    // Wrong To-tag, wrong Call-ID, no To-tag: no match.
    let mut wrong = bye.clone();
    wrong
        .headers_mut()
        .set("To", "Bob <sip:bob@ferrisk.example.com>;tag=other");
    assert!(set.match_request(&wrong).is_none());
    let mut wrong = bye.clone();
    wrong.headers_mut().set("Call-ID", "nope");
    assert!(set.match_request(&wrong).is_none());
    assert!(set.match_request(&incoming_invite()).is_none());

    // A response to a request we sent in the UAC dialog.
    let info = set
        .get_mut(&uac_id)
        .expect("uac")
        .request(Method::Info, "z9hG4bKi");
    let ok = response_to(&info, 200, "OK", None).expect("200");
    assert_eq!(set.match_response(&ok).expect("match").id, uac_id);
    // A request from the UAC dialog's peer matches with the tags swapped.
    let mut from_peer = info.clone();
    let h = from_peer.headers_mut();
    let (f, t) = (
        h.get("From").expect("from").to_owned(),
        h.get("To").expect("to").to_owned(),
    );
    h.set("From", t);
    h.set("To", f);
    assert_eq!(set.match_request(&from_peer).expect("match").id, uac_id);
}
