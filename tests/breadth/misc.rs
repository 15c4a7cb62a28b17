//! misc: end-to-end tests of the miscellaneous applications and functions against the real
//! daemon: ENUM (func_enum.so) against a real DNS server (dnsmasq) with a SIPp call dialed
//! to the ENUM result, and the non-call functions through `ferrisk -rx` and originated
//! Local channels.

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

/// A call from peer 1000 to `exten`, in the background.
fn call(sip: u16, exten: &str) -> SippChild {
    Sipp::new("uac_call.xml", Some(sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(30)
        .spawn()
}

const ENUM_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[public]

[enum]
exten => _X.,1,Set(DB(enum/lookup)=${ENUMLOOKUP(+1${EXTEN})})
 same => n,Set(DB(enum/count)=${ENUMLOOKUP(+1-${EXTEN},ALL,c)})
 same => n,Set(DB(enum/sipcount)=${ENUMLOOKUP(+1${EXTEN},sip,c)})
 same => n,Set(DB(enum/tel)=${ENUMLOOKUP(+1${EXTEN},tel)})
 same => n,Set(DB(enum/full2)=${ENUMLOOKUP(+1${EXTEN},sip,u,2)})
 same => n,Set(ID=${ENUMQUERY(+1${EXTEN},ALL)})
 same => n,Set(DB(enum/getnum)=${ENUMRESULT(${ID},getnum)})
 same => n,Set(DB(enum/first)=${ENUMRESULT(${ID},1)})
 same => n,Set(DB(enum/third)=${ENUMRESULT(${ID},3)})
 same => n,Set(DB(enum/cid)=${TXTCIDNAME(1${EXTEN})})
 same => n,Set(DB(enum/missing)=${ENUMLOOKUP(+19999999,ALL,c)})
 same => n,Set(DB(enum/direct)=${ENUMLOOKUP(sip,sip,d,1,direct.test)})
 same => n,Set(DB(enum/isn)=${ENUMLOOKUP(1234*256,sip,,,freenum.test)})
 same => n,Dial(SIP/${ENUMLOOKUP(+1${EXTEN})},10)
 same => n,Set(DB(enum/dialstatus)=${DIALSTATUS})
 same => n,Hangup()
exten => h,1,Set(DB(enum/h)=${DIALSTATUS})
";

#[test]
fn enum_functions_query_naptr_and_txt_and_dial_the_result() {
    let uas_port = free_port();
    let zone = "4.3.2.1.5.5.5.1.e164.arpa";
    let dns = Dnsmasq::start(&[
        format!("--naptr-record={zone},100,10,U,E2U+sip,!^\\+1(.*)$!sip:\\1@127.0.0.1:{uas_port}!"),
        format!("--naptr-record={zone},100,20,u,E2U+sip,!^.*$!sip:backup@example.com!"),
        format!("--naptr-record={zone},50,10,u,E2U+voice:tel,!^(.*)$!tel:\\1!"),
        format!("--txt-record={zone},Alice Example"),
        "--naptr-record=sip.direct.test,10,10,u,E2U+sip,!^.*$!sip:direct@example.org!".into(),
        "--naptr-record=4.3.2.1.256.freenum.test,10,10,u,E2U+sip,!^(.*)$!sip:isn\\1@example.org!"
            .into(),
    ]);
    let sip = free_port();
    let enum_conf = format!(
        "[general]\nsearch => e164.arpa\nh323driver => H323\ndnsservers = 127.0.0.1:{}\n",
        dns.port
    );
    let d = Daemon::start_with(&[
        ("extensions.conf", ENUM_EXTENSIONS),
        ("sip.conf", &sip_conf(sip, "enum")),
        ("enum.conf", &enum_conf),
    ]);
    let uas = Sipp::new("uas_answer.xml", None)
        .local_port(uas_port)
        .service("5551234")
        .timeout(30)
        .spawn();
    let uac = call(sip, "5551234");
    assert_eq!(
        d.wait_db("enum", "lookup"),
        format!("5551234@127.0.0.1:{uas_port}")
    );
    assert_eq!(d.wait_db("enum", "count"), "3");
    assert_eq!(d.wait_db("enum", "sipcount"), "2");
    assert_eq!(d.wait_db("enum", "tel"), "+15551234");
    assert_eq!(d.wait_db("enum", "full2"), "sip:backup@example.com");
    assert_eq!(d.wait_db("enum", "getnum"), "3");
    // ALL keeps the scheme; order 50 sorts first.
    assert_eq!(d.wait_db("enum", "first"), "tel:+15551234");
    assert_eq!(d.wait_db("enum", "third"), "sip:backup@example.com");
    assert_eq!(d.wait_db("enum", "cid"), "Alice Example");
    assert_eq!(d.wait_db("enum", "missing"), "-1");
    assert_eq!(d.wait_db("enum", "direct"), "direct@example.org");
    assert_eq!(d.wait_db("enum", "isn"), "isn1234@example.org");
    uac.wait()
        .assert_ok("the caller was answered through the ENUM result");
    uas.wait()
        .assert_ok("the ENUM destination answered and got the BYE");
    assert_eq!(d.wait_db("enum", "h"), "ANSWER");
}

const MISC_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[misc]
exten => evalsub,1,Set(DB(misc/evalsub)=${EVAL_SUB(sub,x,1(4,5))})
exten => iconv,1,Set(DB(misc/iconv)=${ICONV(WINDOWS-1252,UTF-8,${ICONV(UTF-8,WINDOWS-1252,5€ José)})})
 same => n,Set(DB(misc/ascii)=${ICONV(UTF-8,US-ASCII//TRANSLIT,naïve)}:${ICONV(UTF-8,ASCII,naïve)})
 same => n,Set(DB(misc/nocs)=[${ICONV(UTF-8,KLINGON,x)}])
exten => config,1,Set(DB(misc/cfg0)=${AST_CONFIG(misc.conf,peer,allow)})
 same => n,Set(DB(misc/cfglast)=${AST_CONFIG(misc.conf,peer,allow,-1)})
 same => n,Set(DB(misc/cfgnone)=${AST_CONFIG(misc.conf,peer,nothing)}-)
exten => dgset,1,Set(DIALGROUP(front)=SIP/10&SIP/20)
 same => n,Set(DIALGROUP(front,add)=SIP/30&SIP/10)
 same => n,Set(DIALGROUP(front,del)=SIP/20)
 same => n,Set(DB(misc/dg)=${DIALGROUP(front)})
exten => dgget,1,Set(DB(misc/dgafter)=${DIALGROUP(front)})
exten => wait,1,WaitForSignal(work,20)
 same => n,Set(DB(misc/sig)=${WAITFORSIGNALSTATUS}:${WAITFORSIGNALPAYLOAD})
exten => send,1(again),Signal(work,all done)
 same => n,GotoIf($[\"${SIGNALSTATUS}\"=\"SUCCESS\"]?ok)
 same => n,Wait(0.1)
 same => n,Goto(again)
 same => n(ok),Set(DB(misc/signal)=${SIGNALSTATUS})
exten => cond,1,WaitForCondition(#,#[\"#{DB(misc/flag)}\"=\"go\"],20,0.1)
 same => n,Set(DB(misc/cond)=${WAITFORCONDITIONSTATUS})

[sub]
exten => x,1,Return($[${ARG1}+${ARG2}])
";

fn originate(d: &Daemon, exten: &str) {
    d.rx(&format!(
        "channel originate Local/{exten}@misc application Wait 30"
    ));
}

#[test]
fn eval_sub_iconv_ast_config_dialgroup_signals_and_conditions() {
    let d = Daemon::start_with(&[
        ("extensions.conf", MISC_EXTENSIONS),
        (
            "misc.conf",
            "[tpl](!)\nallow=ulaw\n[peer](tpl)\nallow=alaw\n",
        ),
    ]);
    originate(&d, "evalsub");
    assert_eq!(d.wait_db("misc", "evalsub"), "9");
    originate(&d, "iconv");
    assert_eq!(d.wait_db("misc", "iconv"), "5€ José");
    assert_eq!(d.wait_db("misc", "ascii"), "na?ve:na");
    assert_eq!(d.wait_db("misc", "nocs"), "[]");
    originate(&d, "config");
    assert_eq!(d.wait_db("misc", "cfg0"), "ulaw");
    assert_eq!(d.wait_db("misc", "cfglast"), "alaw");
    assert_eq!(d.wait_db("misc", "cfgnone"), "-");

    originate(&d, "dgset");
    assert_eq!(d.wait_db("misc", "dg"), "SIP/10&SIP/30");
    // Asterisk keeps the group in AstDB.
    assert_eq!(d.wait_db("dialgroup", "front"), "SIP/10&SIP/30");

    originate(&d, "wait");
    originate(&d, "send");
    assert_eq!(d.wait_db("misc", "signal"), "SUCCESS");
    assert_eq!(d.wait_db("misc", "sig"), "SIGNALED:all done");

    originate(&d, "cond");
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.rx("database put misc flag go");
    assert_eq!(d.wait_db("misc", "cond"), "TRUE");

    // After a restart the dial group comes back from AstDB.
    let dir = d.kill9();
    let d = Daemon::launch(dir);
    originate(&d, "dgget");
    assert_eq!(d.wait_db("misc", "dgafter"), "SIP/10&SIP/30");
}

#[test]
fn recording_info_gives_the_last_records_duration_on_a_sip_call() {
    let sip = free_port();
    let dir = tempdir();
    let take = dir.path().join("take");
    let ext = format!(
        "[public]\n[rec]\nexten => 300,1,Answer()\n\
         same => n,Record({}.wav,0,1,q)\n\
         same => n,Set(DB(rec/status)=${{RECORD_STATUS}})\n\
         same => n,Set(DB(rec/duration)=${{RECORDING_INFO(duration)}})\n\
         same => n,Hangup()\n",
        take.display()
    );
    write_configs(
        dir.path(),
        &[
            ("extensions.conf", &ext),
            ("sip.conf", &sip_conf(sip, "rec")),
        ],
    );
    let d = Daemon::launch(dir);
    let uac = call(sip, "300");
    assert_eq!(d.wait_db("rec", "status"), "TIMEOUT");
    let ms: u64 = d.wait_db("rec", "duration").parse().expect("a number");
    // A one-second maximum: the recording lasted at least that long.
    assert!(ms >= 900, "duration {ms} ms");
    let _ = uac.wait();
}
