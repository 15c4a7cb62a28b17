//! sipext: end-to-end tests of chan_sip's text, domain and dtmfmode support against the
//! real daemon with SIPp phones: `SendText()` reaches the phone as an in-dialog MESSAGE,
//! the phone's in-dialog MESSAGE is read by `ReceiveText()` (415 for other content types),
//! `CHECKSIPDOMAIN()` and sip.conf `domain=`/`allowexternaldomains` decide where INVITEs
//! go, and a peer's `dtmfmode=info` makes `SendDTMF()` digits go as SIP INFO.

use crate::common::*;

/// sip.conf with peer 1000 (secret s1000) in `context`, `extra` general lines, and `peer`
/// lines added to the peer.
fn sip_conf(sip: u16, context: &str, general: &str, peer: &str) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n{general}\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext={context}\ndisallow=all\n\
         allow=ulaw\n{peer}\n"
    )
}

const TEXT_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[public]

[apps]
exten => 710,1,Answer()
 same => n,Wait(1)
 same => n,SendText(hello-text)
 same => n,Set(DB(sipext/sendstatus)=${SENDTEXTSTATUS}/${SENDTEXTTYPE})
 same => n,ReceiveText(10)
 same => n,Set(DB(sipext/rxstatus)=${RECEIVETEXTSTATUS})
 same => n,Set(DB(sipext/rx)=${RECEIVETEXTMESSAGE})
 same => n,Wait(1)
 same => n,Hangup()

exten => 720,1,Answer()
 same => n,Wait(0.5)
 same => n,SendDTMF(12)
 same => n,Wait(1)
 same => n,SIPSendCustomINFO(hello-info,SIPp)
 same => n,Wait(1)
 same => n,Set(DB(sipext/dtmf)=done)
 same => n,Hangup()
";

#[test]
fn sendtext_reaches_the_phone_and_receivetext_reads_its_message() {
    let sip = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", TEXT_EXTENSIONS),
        ("sip.conf", &sip_conf(sip, "apps", "allowguest=no", "")),
    ]);
    let r = Sipp::new("uac_call_text.xml", Some(sip))
        .local_port(free_port())
        .service("710")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(30)
        .spawn()
        .wait();
    r.assert_ok(
        "the phone's application/json MESSAGE gets 415, its text/plain one 202, then it \
         receives MESSAGE text/plain hello-text, then BYE",
    );
    assert_eq!(d.wait_db("sipext", "sendstatus"), "SUCCESS/BASIC");
    assert_eq!(d.wait_db("sipext", "rxstatus"), "SUCCESS");
    assert_eq!(d.wait_db("sipext", "rx"), "from-phone");
}

#[test]
fn a_peer_with_dtmfmode_info_gets_senddtmf_digits_as_info() {
    let sip = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", TEXT_EXTENSIONS),
        (
            "sip.conf",
            &sip_conf(sip, "apps", "allowguest=no", "dtmfmode=info"),
        ),
    ]);
    let r = Sipp::new("uac_call_recv_info.xml", Some(sip))
        .local_port(free_port())
        .service("720")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(30)
        .spawn()
        .wait();
    r.assert_ok(
        "without SIPDtmfMode() the caller gets INFO Signal=1, Signal=2 (dtmf-relay) from \
         its sip.conf dtmfmode=info, then the hello-info INFO, then BYE",
    );
    assert_eq!(d.wait_db("sipext", "dtmf"), "done");
}

const DOMAIN_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[public]
exten => 800,1,Answer()
 same => n,Set(DB(sipext/where)=public)
 same => n,Hangup()

[domctx]
exten => 800,1,Answer()
 same => n,Set(DB(sipext/yes)=${CHECKSIPDOMAIN(PBX.example)})
 same => n,Set(DB(sipext/no)=x${CHECKSIPDOMAIN(elsewhere.example)}x)
 same => n,Set(DB(sipext/where)=domctx)
 same => n,Hangup()
";

#[test]
fn sip_domains_route_guest_calls_refuse_external_ones_and_checksipdomain_answers() {
    let sip = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", DOMAIN_EXTENSIONS),
        (
            "sip.conf",
            &sip_conf(
                sip,
                "public",
                "allowguest=yes\ndomain=pbx.example,domctx\ndomain=other.example\n\
                 allowexternaldomains=no",
                "",
            ),
        ),
    ]);
    // A guest call to a listed domain goes to that domain's context.
    let r = Sipp::new("uac_domain_call_recv_bye.xml", Some(sip))
        .local_port(free_port())
        .service("800")
        .key("from_user", "guest")
        .key("rdomain", "pbx.example")
        .timeout(30)
        .spawn()
        .wait();
    r.assert_ok("a guest INVITE to sip:800@pbx.example is answered and hung up");
    assert_eq!(d.wait_db("sipext", "where"), "domctx");
    assert_eq!(d.wait_db("sipext", "yes"), "PBX.example");
    assert_eq!(d.wait_db("sipext", "no"), "xx");
    // A domain not listed is refused (allowexternaldomains=no): 403.
    let r = Sipp::new("uac_domain_fail.xml", Some(sip))
        .local_port(free_port())
        .service("800")
        .key("from_user", "guest")
        .key("rdomain", "elsewhere.example")
        .set("expect", 403)
        .timeout(30)
        .spawn()
        .wait();
    r.assert_ok("an INVITE to sip:800@elsewhere.example is refused with 403");
}
