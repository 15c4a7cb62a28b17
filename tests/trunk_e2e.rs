//! Carrier trunks end to end: the real `ferrisk` daemon against SIPp carriers on loopback
//! and a real DNS server (dnsmasq) for SRV and A records. Redirects (302, with and without
//! `promiscredir`, and `Dial(…,i)`), failover over SRV targets and A records (and none
//! after a 486), the identity headers the far end sees (P-Asserted-Identity, Diversion,
//! `SIPAddHeader()`), and what the dialplan reads (`REDIRECTING()`, `SIP_HEADER()`).
//! Results come back through AstDB (`database get test …`).

mod common;

use common::*;

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[internal]
; 9<number>: out the carrier.
exten => _9.,1,SIPAddHeader(X-Account: acme-42)
 same => n,Dial(SIP/carrier/${EXTEN:1},15)
 same => n,Hangup(21)
; 8<number>: the same, ignoring call forwards.
exten => _8.,1,Dial(SIP/carrier/${EXTEN:1},15,i)
 same => n,Hangup(21)
; 7<number>: out the carrier whose 302s go anywhere (promiscredir).
exten => _7.,1,Set(REDIRECTING(from-num)=${CALLERID(num)})
 same => n,Set(REDIRECTING(reason)=cfu)
 same => n,Dial(SIP/promisc/${EXTEN:1},15)
 same => n,Hangup(21)
; 4<number>: the second carrier, which transfers the caller with a REFER.
exten => _4.,1,Dial(SIP/second/${EXTEN:1},15)
 same => n,Hangup(21)
; 6<number>: through the outbound proxy.
exten => _6.,1,Dial(SIP/viaproxy/${EXTEN:1},15)
 same => n,Hangup(21)
exten => h,1,Set(DB(test/status)=${DIALSTATUS})
 same => n,Set(DB(test/redir)=${REDIRECTING(from-num)}|${REDIRECTING(to-num)}|${REDIRECTING(reason)}|${REDIRECTING(count)})

; Where the carrier's redirects to a bare number land (its context).
[from-carrier]
exten => _X.,1,Dial(SIP/second/${EXTEN},10)
 same => n,Hangup(21)
; Where a REFER from [second] sends its caller.
exten => 5550001,1,Set(DB(test/xfer)=${BLINDTRANSFER})
 same => n,Answer()
 same => n,Wait(1)
 same => n,Hangup()
; Transfer() of an answered call: a REFER to the carrier.
exten => 5550003,1,Answer()
 same => n,Transfer(6002)
 same => n,Wait(5)
exten => h,1,Set(DB(test/tstatus)=${TRANSFERSTATUS})
; Where a REFER from the carrier sends the party it talks to.
exten => 5550002,1,Set(DB(test/xfer2)=${BLINDTRANSFER})
 same => n,Wait(1)
 same => n,Hangup()
; A call from the carrier that stays up (session timer test).
exten => 5550000,1,Answer()
 same => n,Wait(120)
 same => n,Hangup()
; A call from the carrier: what the dialplan sees of it.
exten => 5551234,1,Set(DB(test/ua)=${SIP_HEADER(User-Agent)})
 same => n,Set(DB(test/ua2)=${SIP_HEADER(User-Agent,2)}-)
 same => n,Set(DB(test/names)=${SIP_HEADERS()})
 same => n,Set(DB(test/unames)=${SIP_HEADERS(user-)})
 same => n,Answer()
 same => n,Wait(1)
 same => n,Hangup()

[public]
";

struct Pbx {
    d: Daemon,
    port: u16,
}

impl Pbx {
    /// `carrier` is the [carrier] peer's host/port lines; `dns` the name server port.
    fn start(carrier: &str, promisc_port: u16, second_port: u16, dns: Option<u16>) -> Pbx {
        Pbx::start_extra(carrier, promisc_port, second_port, dns, "")
    }

    /// As [`Pbx::start`], with `extra` appended to sip.conf.
    fn start_extra(
        carrier: &str,
        promisc_port: u16,
        second_port: u16,
        dns: Option<u16>,
        extra: &str,
    ) -> Pbx {
        let port = free_port();
        let mut sip = format!(
            "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=public\nallowguest=no\n\
             realm=ferrisk\ndisallow=all\nallow=ulaw\nsendrpid=pai\n"
        );
        if let Some(p) = dns {
            sip += &format!("dnsservers=127.0.0.1:{p}\n");
        }
        sip += "\n[1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=internal\n\
                callerid=\"Alice\" <6001>\n";
        sip +=
            &format!("\n[carrier]\ntype=peer\n{carrier}\ninsecure=invite\ncontext=from-carrier\n");
        sip += &format!(
            "\n[promisc]\ntype=peer\nhost=127.0.0.1\nport={promisc_port}\npromiscredir=yes\ncontext=from-carrier\n"
        );
        sip += &format!(
            "\n[second]\ntype=peer\nhost=127.0.0.1\nport={second_port}\ncontext=from-carrier\n"
        );
        sip += extra;
        let d = Daemon::start_with(&[("extensions.conf", EXTENSIONS), ("sip.conf", &sip)]);
        Pbx { d, port }
    }

    /// 1000 calls `exten` (uac_call.xml, or `scenario`).
    fn call(&self, scenario: &str, exten: &str) -> SippResult {
        Sipp::new(scenario, Some(self.port))
            .local_port(free_port())
            .service(exten)
            .key("from_user", "1000")
            .auth("1000", "s1000")
            .timeout(30)
            .run()
    }
}

impl Pbx {
    /// 1000 calls `exten` and the call fails with `code` (the dialplan's Hangup(21)).
    fn call_fail(&self, exten: &str, code: u16) {
        Sipp::new("uac_fail.xml", Some(self.port))
            .local_port(free_port())
            .service(exten)
            .key("from_user", "1000")
            .auth("1000", "s1000")
            .set("expect", code)
            .timeout(30)
            .run()
            .assert_ok(&format!("the call to {exten} fails with {code}"));
    }
}

impl Pbx {
    /// A PBX whose [carrier] is at a free port a test SIPp calls from.
    fn with_carrier_calling_in() -> (Pbx, u16) {
        let carrier_port = free_port();
        let pbx = Pbx::start(
            &format!("host=127.0.0.1\nport={carrier_port}"),
            free_port(),
            free_port(),
            None,
        );
        (pbx, carrier_port)
    }
}

fn uas(scenario: &str, port: u16, service: &str) -> Sipp {
    Sipp::new(scenario, None)
        .local_port(port)
        .service(service)
        .timeout(30)
}

#[test]
fn a_302_is_followed_into_the_carrier_context_and_redirecting_is_set() {
    let (carrier_port, second_port) = (free_port(), free_port());
    let carrier = uas("uas_redirect.xml", carrier_port, "carrier")
        .key("redirect_user", "6002")
        .key("redirect_port", second_port)
        .spawn();
    let second = uas("uas_answer.xml", second_port, "6002").spawn();
    let pbx = Pbx::start(
        &format!("host=127.0.0.1\nport={carrier_port}"),
        free_port(),
        second_port,
        None,
    );
    pbx.call("uac_call.xml", "95551234")
        .assert_ok("the call is redirected and answered");
    let c = carrier.wait();
    c.assert_ok("the carrier redirects");
    let inv = &c.requests("INVITE")[0];
    // What the carrier saw: our caller asserted, the header the dialplan added.
    let pai = inv.header("P-Asserted-Identity").unwrap_or("");
    assert!(pai.starts_with("\"Alice\" <sip:6001@"), "PAI: {pai}");
    assert_eq!(inv.header("X-Account"), Some("acme-42"));
    let s = second.wait();
    s.assert_ok("the forwarded call reaches 6002 through Local/6002@from-carrier");
    let inv = &s.requests("INVITE")[0];
    // It was redirected from the number the carrier was called at.
    let div = inv.header("Diversion").unwrap_or("");
    assert!(
        div.starts_with("<sip:5551234@") && div.contains("reason=no-answer"),
        "Diversion: {div}"
    );
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
    assert_eq!(pbx.d.wait_db("test", "redir"), "5551234|6002|cfnr|1");
}

#[test]
fn dial_option_i_ignores_the_302() {
    let carrier_port = free_port();
    let carrier = uas("uas_redirect.xml", carrier_port, "carrier")
        .key("redirect_user", "6002")
        .key("redirect_port", 9)
        .spawn();
    let pbx = Pbx::start(
        &format!("host=127.0.0.1\nport={carrier_port}"),
        free_port(),
        free_port(),
        None,
    );
    pbx.call_fail("85551234", 403);
    carrier.wait().assert_ok("the carrier redirects");
    assert_eq!(pbx.d.wait_db("test", "status"), "CHANUNAVAIL");
}

#[test]
fn promiscredir_follows_the_contact_uri_and_sends_the_dialplans_redirecting() {
    let (promisc_port, target_port) = (free_port(), free_port());
    let carrier = uas("uas_redirect.xml", promisc_port, "promisc")
        .key("redirect_user", "+33612345678")
        .key("redirect_port", target_port)
        .spawn();
    let target = uas("uas_answer.xml", target_port, "+33612345678").spawn();
    let pbx = Pbx::start("host=127.0.0.1\nport=9", promisc_port, free_port(), None);
    pbx.call("uac_call.xml", "75551234")
        .assert_ok("redirected straight to the Contact URI");
    let c = carrier.wait();
    c.assert_ok("the carrier redirects");
    // The first INVITE carries the dialplan's REDIRECTING() as Diversion.
    let div = c.requests("INVITE")[0]
        .header("Diversion")
        .unwrap_or("")
        .to_string();
    assert!(
        div.starts_with("\"Alice\" <sip:6001@") || div.starts_with("<sip:6001@"),
        "Diversion: {div}"
    );
    assert!(div.contains("reason=unconditional"), "Diversion: {div}");
    let t = target.wait();
    t.assert_ok("the Contact's host answers");
    let start = &t.requests("INVITE")[0].start_line;
    assert!(
        start.starts_with("INVITE sip:+33612345678@127.0.0.1"),
        "{start}"
    );
    let div = t.requests("INVITE")[0]
        .header("Diversion")
        .unwrap_or("")
        .to_string();
    assert!(
        div.starts_with("<sip:5551234@") && div.contains("reason=no-answer"),
        "the carrier's redirection: {div}"
    );
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
}

#[test]
fn srv_failover_from_a_dead_target_to_the_next() {
    let live = free_port();
    let dead = free_port(); // nothing listens there
    let dns = Dnsmasq::start(&[
        format!("--srv-host=_sip._udp.carrier.test,a.carrier.test,{dead},10,0"),
        format!("--srv-host=_sip._udp.carrier.test,b.carrier.test,{live},20,0"),
        "--host-record=a.carrier.test,127.0.0.1".into(),
        "--host-record=b.carrier.test,127.0.0.1".into(),
        "--host-record=carrier.test,127.0.0.1".into(),
    ]);
    let second = uas("uas_answer.xml", live, "5551234").spawn();
    let pbx = Pbx::start(
        "host=carrier.test",
        free_port(),
        free_port(),
        Some(dns.port),
    );
    pbx.call("uac_call.xml", "95551234")
        .assert_ok("the call reaches the second SRV target");
    let s = second.wait();
    s.assert_ok("the priority-20 target answers");
    let start = &s.requests("INVITE")[0].start_line;
    assert!(
        start.starts_with("INVITE sip:5551234@carrier.test"),
        "the Request-URI keeps the domain: {start}"
    );
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
    assert!(
        pbx.d.console().contains(", trying 127.0.0.1:"),
        "{}",
        pbx.d.console()
    );
}

#[test]
fn a_record_failover_but_not_after_486() {
    // Two A records: nothing on the first address, a carrier on the second.
    let port = free_port();
    let dns = Dnsmasq::start(&[
        "--host-record=carrier.test,127.0.0.2".into(),
        "--host-record=carrier.test,127.0.0.3".into(),
    ]);
    let second = uas("uas_answer.xml", port, "5551234")
        .local_ip("127.0.0.3")
        .spawn();
    let pbx = Pbx::start(
        &format!("host=carrier.test\nport={port}"),
        free_port(),
        free_port(),
        Some(dns.port),
    );
    pbx.call("uac_call.xml", "95551234")
        .assert_ok("the call reaches the second address");
    second.wait().assert_ok("127.0.0.3 answers");
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");

    // Busy at the first address: the second is never asked.
    let port = free_port();
    let dns = Dnsmasq::start(&[
        "--host-record=busy.test,127.0.0.2".into(),
        "--host-record=busy.test,127.0.0.3".into(),
    ]);
    let busy = uas("uas_busy.xml", port, "5551234")
        .local_ip("127.0.0.2")
        .spawn();
    let other = uas("uas_answer.xml", port, "5551234")
        .local_ip("127.0.0.3")
        .timeout(8)
        .spawn();
    let pbx = Pbx::start(
        &format!("host=busy.test\nport={port}"),
        free_port(),
        free_port(),
        Some(dns.port),
    );
    pbx.call_fail("95551234", 403);
    busy.wait().assert_ok("the first address is busy");
    assert_eq!(pbx.d.wait_db("test", "status"), "BUSY");
    let o = other.wait();
    assert!(
        o.requests("INVITE").is_empty(),
        "no failover after 486: {}",
        o.describe()
    );
}

#[test]
fn sip_header_reads_the_carriers_invite() {
    let (pbx, carrier_port) = Pbx::with_carrier_calling_in();
    Sipp::new("uac_call_recv_bye.xml", Some(pbx.port))
        .local_port(carrier_port)
        .service("5551234")
        .key("from_user", "0049301234")
        .timeout(20)
        .run()
        .assert_ok("the carrier's call is answered");
    assert_eq!(pbx.d.wait_db("test", "ua"), "SIPp ferrisk-e2e");
    assert_eq!(pbx.d.wait_db("test", "ua2"), "-");
    let names = pbx.d.wait_db("test", "names");
    for h in [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "User-Agent",
    ] {
        assert!(
            names.split(',').any(|n| n == h),
            "{h} missing from SIP_HEADERS(): {names}"
        );
    }
    assert_eq!(
        names.split(',').filter(|n| *n == "Via").count(),
        1,
        "{names}"
    );
    assert_eq!(pbx.d.wait_db("test", "unames"), "User-Agent");
}

#[test]
fn outboundproxy_gets_the_invite_for_a_host_it_routes() {
    let proxy_port = free_port();
    let proxy = uas("uas_answer.xml", proxy_port, "5551234").spawn();
    let pbx = Pbx::start_extra(
        "host=127.0.0.1\nport=9",
        free_port(),
        free_port(),
        None,
        &format!(
            "\n[viaproxy]\ntype=peer\nhost=pbx.example.invalid\noutboundproxy=127.0.0.1:{proxy_port}\n"
        ),
    );
    pbx.call("uac_call.xml", "65551234")
        .assert_ok("the call goes out through the proxy");
    let p = proxy.wait();
    p.assert_ok("the proxy answers");
    let start = &p.requests("INVITE")[0].start_line;
    assert!(
        start.starts_with("INVITE sip:5551234@pbx.example.invalid"),
        "{start}"
    );
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
}

/// RFC 4028 with the carrier as the caller: ferrisk answers with the interval and refresher
/// asked for and refreshes the session itself at half the interval (45 s).
#[test]
fn session_timer_refreshed_by_ferrisk() {
    let (pbx, carrier_port) = Pbx::with_carrier_calling_in();
    let r = Sipp::new("uac_session_timer.xml", Some(pbx.port))
        .local_port(carrier_port)
        .service("5550000")
        .key("from_user", "0049301234")
        .timeout(80)
        .run();
    r.assert_ok("ferrisk answers with the session timer and refreshes it");
    assert!(
        r.logs.contains("refresh with Session-Expires 90"),
        "{}",
        r.describe()
    );
}

/// The called party transfers the caller blind with a REFER: 202, NOTIFY 100 and 200, the
/// caller goes on at the Refer-To extension in the called peer's context.
#[test]
fn a_refer_from_the_called_party_transfers_the_caller() {
    let second_port = free_port();
    let second = uas("uas_answer_refer.xml", second_port, "4000")
        .key("refer_to", "5550001")
        .spawn();
    let pbx = Pbx::start("host=127.0.0.1\nport=9", free_port(), second_port, None);
    let caller = Sipp::new("uac_call_recv_bye.xml", Some(pbx.port))
        .local_port(free_port())
        .service("45550000")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(30)
        .spawn();
    let s = second.wait();
    s.assert_ok("the REFER is accepted and its outcome NOTIFYed");
    caller
        .wait()
        .assert_ok("the caller is transferred, then hung up by the new extension");
    assert!(
        s.logs.contains("final NOTIFY SIP/2.0 200 terminated"),
        "{}",
        s.describe()
    );
    let x = pbx.d.wait_db("test", "xfer");
    assert!(x.starts_with("SIP/second-"), "BLINDTRANSFER={x}");
}

/// The caller transfers the called party blind: the called party runs the dialplan at the
/// Refer-To extension (in the caller's peer context) and the caller is hung up.
#[test]
fn a_refer_from_the_caller_transfers_the_called_party() {
    let (carrier_port, second_port) = (free_port(), free_port());
    let second = uas("uas_answer.xml", second_port, "4000").spawn();
    let pbx = Pbx::start(
        &format!("host=127.0.0.1\nport={carrier_port}"),
        free_port(),
        second_port,
        None,
    );
    let r = Sipp::new("uac_call_refer.xml", Some(pbx.port))
        .local_port(carrier_port)
        .service("4000")
        .key("from_user", "0049301234")
        .key("refer_to", "5550002")
        .timeout(20)
        .run();
    r.assert_ok("the REFER is accepted, NOTIFYed and the caller hung up");
    second
        .wait()
        .assert_ok("the called party is transferred and later hung up");
    let x = pbx.d.wait_db("test", "xfer2");
    assert!(x.starts_with("SIP/carrier-"), "BLINDTRANSFER={x}");
}

/// Transfer() of an answered call sends the caller a REFER; its NOTIFY 200 makes
/// TRANSFERSTATUS SUCCESS and ends our side of the call.
#[test]
fn transfer_of_an_answered_call_sends_a_refer() {
    let (pbx, carrier_port) = Pbx::with_carrier_calling_in();
    let r = Sipp::new("uac_recv_refer.xml", Some(pbx.port))
        .local_port(carrier_port)
        .service("5550003")
        .key("from_user", "0049301234")
        .timeout(20)
        .run();
    r.assert_ok("REFER, 202, NOTIFY 200, then our BYE");
    assert!(r.logs.contains("REFER to sip:6002"), "{}", r.describe());
    assert_eq!(pbx.d.wait_db("test", "tstatus"), "SUCCESS");
}
