//! sipapps: end-to-end tests of chan_sip's in-call applications against the real daemon
//! with SIPp phones: `SIPDtmfMode(info)` makes `SendDTMF()` digits go as SIP INFO
//! `application/dtmf-relay`, `SIPSendCustomINFO()` sends a `text/plain` INFO (only to a
//! phone whose User-Agent matches).

use crate::common::*;

/// sip.conf with peer 1000 (secret s1000) in `context`.
fn sip_conf(sip: u16, context: &str) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext={context}\ndisallow=all\n\
         allow=ulaw\n"
    )
}

const INFO_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[public]

[apps]
exten => 700,1,Answer()
 same => n,Wait(0.5)
 same => n,SIPDtmfMode(info)
 same => n,SendDTMF(12)
 same => n,Wait(1)
 same => n,SIPSendCustomINFO(skipped-info,NoSuchPhone)
 same => n,SIPSendCustomINFO(hello-info,SIPp)
 same => n,Wait(1)
 same => n,Set(DB(sipapps/done)=yes)
 same => n,Hangup()
";

#[test]
fn sipdtmfmode_info_sends_digits_as_info_and_custom_info_reaches_the_phone() {
    let sip = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", INFO_EXTENSIONS),
        ("sip.conf", &sip_conf(sip, "apps")),
    ]);
    let r = Sipp::new("uac_call_recv_info.xml", Some(sip))
        .local_port(free_port())
        .service("700")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(30)
        .spawn()
        .wait();
    r.assert_ok(
        "the caller gets INFO Signal=1, Signal=2 (dtmf-relay), then only the text/plain \
         hello-info INFO (not the one for another User-Agent), then BYE",
    );
    assert_eq!(d.wait_db("sipapps", "done"), "yes");
}
