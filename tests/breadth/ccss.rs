//! ccss: call completion (generic agent and monitor) against the real daemon with SIPp
//! phones. Phone A (peer `phonea`, a SIPp caller for its calls and a SIPp callee at its
//! `host=` address for the recall) calls B (peer `phoneb`, `call-limit=1`) while B is on
//! another call: busy, so CC is offered when A hangs up. A dials 30
//! (CallCompletionRequest: SUCCESS), B's other call ends, ferrisk calls A back; A answers,
//! B rings and answers, and each hears the other. Also: a request without an offer fails
//! (NO_CORE_INSTANCE), CallCompletionCancel, `CALLCOMPLETION()` and `cc report status`.

use crate::common::rtp_tone::{hears, leg, udp};
use crate::common::*;
use std::time::Duration;

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[cc]
exten => 2000,1,Set(DB(cc/policy)=${CALLCOMPLETION(cc_agent_policy)})
 same => n,Set(DB(cc/interfaces)=${CC_INTERFACES})
 same => n,Dial(SIP/phoneb,20)
 same => n,Set(DB(cc/dialstatus)=${DIALSTATUS})
 same => n,Hangup(17)
exten => 30,1,CallCompletionRequest()
 same => n,Set(DB(cc/request)=${CC_REQUEST_RESULT}:${CC_REQUEST_REASON})
 same => n,Hangup(17)
exten => 31,1,CallCompletionCancel()
 same => n,Set(DB(cc/cancel)=${CC_CANCEL_RESULT}:${CC_CANCEL_REASON})
 same => n,Hangup(17)
";

struct Pbx {
    d: Daemon,
    sip: u16,
    /// A's and B's SIP ports (their `host=` addresses).
    a: u16,
    b: u16,
}

fn start() -> Pbx {
    let sip = free_port();
    let (a, b) = (free_port(), free_port());
    let base = free_ports(34);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=cc\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [phonea]\ntype=friend\nhost=127.0.0.1\nport={a}\nsecret=sa\ncontext=cc\n\
         cc_agent_policy=generic\ncc_monitor_policy=generic\ncc_offer_timer=60\n\n\
         [phoneb]\ntype=friend\nhost=127.0.0.1\nport={b}\nsecret=sb\ncontext=cc\ncall-limit=1\n\
         cc_agent_policy=generic\ncc_monitor_policy=generic\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 31);
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf),
        ("rtp.conf", &rtp_conf),
        ("ccss.conf", "[general]\ncc_max_requests=20\n"),
    ]);
    Pbx { d, sip, a, b }
}

/// A call from phone A to `exten` that ferrisk refuses with 486 (Hangup(17)).
fn call_from_a(p: &Pbx, exten: &str) {
    Sipp::new("uac_fail.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "phonea")
        .auth("phonea", "sa")
        .set("expect", "486")
        .timeout(30)
        .run()
        .assert_ok(&format!("A's call to {exten} ends busy"));
}

/// The DB key `cc/key`, once set, then cleared for the next check.
fn db(p: &Pbx, key: &str) -> String {
    let v = p.d.wait_db("cc", key);
    p.d.rx(&format!("database del cc {key}"));
    v
}

/// B busy on another call: ferrisk calls B (a SIPp callee), B answers; its channel name.
fn b_on_a_call(p: &Pbx) -> String {
    p.d.rx("channel originate SIP/phoneb application Wait 60");
    wait_for(20, "B's first call up", || {
        p.d.rx("core show channels concise")
            .lines()
            .find(|l| l.starts_with("SIP/phoneb-") && l.contains("!Up!"))
            .and_then(|l| l.split('!').next())
            .map(str::to_string)
    })
}

/// A busy call to B offers CC: DIALSTATUS, `cc report status` after A's hangup.
fn offered(p: &Pbx) {
    call_from_a(p, "2000");
    assert_eq!(db(p, "policy"), "generic");
    assert_eq!(db(p, "dialstatus"), "CHANUNAVAIL");
    p.d.rx("database del cc interfaces");
    let st =
        p.d.rx_until("cc report status", 20, |o| o.contains("SIP/phonea"));
    assert!(st.starts_with("1 Call completion transactions\n"), "{st}");
    assert!(st.contains("SIP/phonea\t\tCC offered to caller"), "{st}");
    assert!(
        st.contains("\t\t|-->2000@cc\n\t\t|-->SIP/phoneb(CCBS)\n"),
        "{st}"
    );
}

/// The media port ferrisk offered in the INVITE a SIPp callee logged (uas_media_wait.xml).
fn offered_port(phone: &SippChild, nth: usize) -> u16 {
    wait_for(20, "the INVITE's SDP offer in the callee's log", || {
        phone
            .logs_so_far()
            .match_indices("offer m=audio ")
            .nth(nth)
            .and_then(|(i, m)| {
                let rest = &phone.logs_so_far()[i + m.len()..];
                rest.split(' ').next()?.parse().ok()
            })
    })
}

#[test]
fn a_busy_callee_is_called_back_when_free_and_both_talk() {
    let p = start();
    let (sa, sb) = (udp(), udp());
    let media = |port: u16, name: &str, sock: &std::net::UdpSocket, calls: u32| {
        Sipp::new("uas_media_wait.xml", None)
            .local_port(port)
            .service(name)
            .key("rtp_port", sock.local_addr().expect("addr").port())
            .key("pt", 0)
            .key("codec", "PCMU")
            .calls(calls)
            .timeout(90)
            .spawn()
    };
    let phone_a = media(p.a, "phonea", &sa, 1);
    let phone_b = media(p.b, "phoneb", &sb, 2);
    let first = b_on_a_call(&p);
    offered(&p);
    call_from_a(&p, "30");
    assert_eq!(db(&p, "request"), "SUCCESS:");
    let st = p.d.rx("cc report status");
    assert!(st.contains("SIP/phonea\t\tCC accepted by callee"), "{st}");
    // B's other call ends: B is free, A is called back, then B rings again.
    p.d.rx(&format!("channel request hangup {first}"));
    let a_port = offered_port(&phone_a, 0);
    let b_port = offered_port(&phone_b, 1);
    let la = leg(sa, a_port, 500.0, 4_000);
    let lb = leg(sb, b_port, 900.0, 4_000);
    let (ha, hb) = (la.join().expect("a"), lb.join().expect("b"));
    assert_eq!(db(&p, "interfaces"), "SIP/phoneb");
    let st = p.d.rx("cc report status");
    p.d.rx("channel request hangup all");
    assert!(
        hears(&ha, 900.0, 500.0),
        "A does not hear B\n{}",
        p.d.console()
    );
    assert!(
        hears(&hb, 500.0, 900.0),
        "B does not hear A\n{}",
        p.d.console()
    );
    assert_eq!(
        st.trim_end(),
        "There are currently no active call completion transactions"
    );
    phone_a.wait().assert_ok("A was called back");
    phone_b.wait().assert_ok("B took its call and the recall");
}

#[test]
fn requests_without_an_offer_fail_and_a_request_is_cancelled() {
    let p = start();
    call_from_a(&p, "30");
    assert_eq!(db(&p, "request"), "FAIL:NO_CORE_INSTANCE");
    call_from_a(&p, "31");
    assert_eq!(db(&p, "cancel"), "FAIL:NO_CORE_INSTANCE");
    let phone_b = Sipp::new("uas_media_wait.xml", None)
        .local_port(p.b)
        .service("phoneb")
        .key("rtp_port", udp().local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(60)
        .spawn();
    let first = b_on_a_call(&p);
    offered(&p);
    // Only a requested call completion can be cancelled.
    call_from_a(&p, "31");
    assert_eq!(db(&p, "cancel"), "FAIL:NO_CORE_INSTANCE");
    call_from_a(&p, "30");
    assert_eq!(db(&p, "request"), "SUCCESS:");
    call_from_a(&p, "31");
    assert_eq!(db(&p, "cancel"), "SUCCESS:");
    let st = p.d.rx("cc report status");
    assert_eq!(
        st.trim_end(),
        "There are currently no active call completion transactions"
    );
    // Nothing is left to call A back when B is free again.
    p.d.rx(&format!("channel request hangup {first}"));
    phone_b.wait().assert_ok("B's call ended");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !p.d.rx("core show channels concise").contains("SIP/phonea"),
        "A was called back after cancelling"
    );
}
