//! SIP end to end: the real `ferrisk` daemon with a sip.conf, against the real SIPp
//! (tests/sipp/*.xml) and baresip. Every test has its own daemon, ports and directories,
//! so they run in parallel. Call results are observed through the dialplan writing
//! ${DIALSTATUS} into AstDB (`h` extension) and `ferrisk -rx "database get test status"`.

mod common;

use common::*;
use std::time::Duration;

/// Peers: 1000, 1001 (phones, secret s<name>), 1002 (never registers).
const USERS: [(&str, &str); 3] = [("1000", "s1000"), ("1001", "s1001"), ("1002", "s1002")];
const TRUNK_USER: &str = "trunkuser";
const TRUNK_SECRET: &str = "trunksecret";

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[internal]
; 10XX: ring the phone for 5 s.
exten => _10XX,1,Dial(SIP/${EXTEN},5)
 same => n,Hangup(21)
; 20XX: ring phone 10XX for 2 s (NOANSWER).
exten => _20XX,1,Dial(SIP/10${EXTEN:2},2)
 same => n,Hangup(21)
; 9<number>: out the provider trunk.
exten => _9.,1,Dial(SIP/provider/${EXTEN:1},5)
 same => n,Hangup(21)
exten => h,1,Set(DB(test/status)=${DIALSTATUS})

[messages]
exten => _X.,1,Set(DB(test/msgbody)=${MESSAGE(body)})
 same => n,MessageSend(sip:${EXTEN},${MESSAGE(from)})

[from-provider]
exten => _X.,1,Dial(SIP/1000,5)

[public]
";

/// A ferrisk daemon with sip.conf on a free port.
struct Pbx {
    d: Daemon,
    port: u16,
}

struct Opts {
    trunk_port: Option<u16>,
    registrar_port: Option<u16>,
    /// Also listen on TCP (same port number).
    tcp: bool,
    /// A static peer `[device]` at 127.0.0.1:<port> with qualify=yes.
    qualify_port: Option<u16>,
}

const NO_OPTS: Opts = Opts {
    trunk_port: None,
    registrar_port: None,
    tcp: false,
    qualify_port: None,
};

fn sip_conf(port: u16, o: &Opts) -> String {
    let mut s = format!(
        "[general]\n\
         bindaddr=127.0.0.1\n\
         bindport={port}\n\
         context=public\n\
         allowguest=no\n\
         alwaysauthreject=yes\n\
         realm=ferrisk\n\
         minexpiry=60\n\
         maxexpiry=3600\n\
         defaultexpiry=120\n\
         accept_outofcall_message=yes\n\
         outofcall_message_context=messages\n\
         auth_message_requests=yes\n\
         disallow=all\n\
         allow=ulaw\n"
    );
    if let Some(r) = o.registrar_port {
        s += &format!("register => {TRUNK_USER}:{TRUNK_SECRET}@127.0.0.1:{r}/1000\n");
    }
    if o.tcp {
        s += &format!("tcpenable=yes\ntcpbindaddr=127.0.0.1:{port}\n");
    }
    if let Some(q) = o.qualify_port {
        s += &format!(
            "\n[device]\ntype=peer\nhost=127.0.0.1\nport={q}\nqualify=yes\ncontext=internal\n"
        );
    }
    for (name, secret) in USERS {
        s += &format!(
            "\n[{name}]\ntype=friend\nhost=dynamic\nsecret={secret}\ncontext=internal\ndisallow=all\nallow=ulaw\n"
        );
        if o.tcp {
            // As chan_sip: a peer's requests must come over a transport it lists.
            s += "transport=udp,tcp\n";
        }
    }
    if let Some(t) = o.trunk_port {
        s += &format!(
            "\n[provider]\ntype=peer\nhost=127.0.0.1\nport={t}\nfromuser={TRUNK_USER}\n\
             defaultuser={TRUNK_USER}\nsecret={TRUNK_SECRET}\ninsecure=invite\n\
             context=from-provider\ndisallow=all\nallow=ulaw\n"
        );
    }
    s
}

impl Pbx {
    fn start(o: Opts) -> Pbx {
        let port = free_port();
        let sip = sip_conf(port, &o);
        let d = Daemon::start_with(&[("extensions.conf", EXTENSIONS), ("sip.conf", &sip)]);
        Pbx { d, port }
    }

    /// A SIPp sending to this PBX from its own free port.
    fn sipp(&self, scenario: &str) -> Sipp {
        Sipp::new(scenario, Some(self.port)).local_port(free_port())
    }

    /// The `sip show peers` line of `name`.
    fn peer_line(&self, name: &str) -> String {
        let out = self.d.rx("sip show peers");
        out.lines()
            .find(|l| l.starts_with(&format!("{name}/")) || l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("peer {name} not in `sip show peers`:\n{out}"))
            .to_string()
    }

    /// Wait until `sip show peers` shows `name` at 127.0.0.1.
    fn wait_registered(&self, name: &str) {
        self.d.rx_until("sip show peers", 10, |out| {
            out.lines().any(|l| {
                (l.starts_with(&format!("{name}/")) || l.starts_with(&format!("{name} ")))
                    && l.contains("127.0.0.1")
            })
        });
    }

    /// A phone: SIPp registering `user` and running `callee` (a tests/sipp UAS scenario)
    /// on the INVITE/MESSAGE that comes to it. Returns once `sip show peers` shows it.
    fn phone(&self, user: &str, callee: &str) -> SippChild {
        self.phone_with(user, callee, |s| s)
    }

    fn phone_with(&self, user: &str, callee: &str, f: impl FnOnce(Sipp) -> Sipp) -> SippChild {
        let secret = secret(user);
        let s = self
            .sipp("uas_registered.xml")
            .service(user)
            .auth(user, secret)
            .key("expires", 600)
            .oocsf(callee);
        let child = f(s).spawn();
        self.wait_registered(user);
        child
    }

    /// A call from 1000 to `exten` with a uac scenario.
    fn call(&self, scenario: &str, exten: &str, f: impl FnOnce(Sipp) -> Sipp) -> SippResult {
        let s = self
            .sipp(scenario)
            .service(exten)
            .key("from_user", "1000")
            .auth("1000", "s1000");
        f(s).run()
    }

    fn dialstatus(&self) -> String {
        self.d.wait_db("test", "status")
    }
}

fn secret(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, s)| *s)
        .expect("known user")
}

#[test]
fn register_with_digest_auth_and_sip_show_peers() {
    let pbx = Pbx::start(NO_OPTS);
    let before = pbx.peer_line("1000");
    assert!(!before.contains("127.0.0.1"), "{before}");
    let port = free_port();
    let r = Sipp::new("register_auth.xml", Some(pbx.port))
        .local_port(port)
        .service("1000")
        .auth("1000", "s1000")
        .key("expires", 600)
        .set("want_expires", 600)
        .run();
    r.assert_ok("REGISTER with digest must get 200 with Contact expires=600");
    let line = pbx.peer_line("1000");
    assert!(line.contains("127.0.0.1"), "sip show peers: {line}");
    assert!(line.contains(&port.to_string()), "sip show peers: {line}");
}

#[test]
fn wrong_password_and_unknown_user_get_identical_rejections() {
    let pbx = Pbx::start(NO_OPTS);
    let wrong = pbx
        .sipp("register_expect.xml")
        .service("1000")
        .auth("1000", "not-the-secret")
        .key("expires", 600)
        .key("contact_user", "1000")
        .set("expect", 403)
        .run();
    wrong.assert_ok("wrong password must end in 403");
    std::thread::sleep(Duration::from_millis(1100)); // stay under the rate limit
    let unknown = pbx
        .sipp("register_expect.xml")
        .service("nosuchuser")
        .auth("nosuchuser", "whatever")
        .key("expires", 600)
        .key("contact_user", "nosuchuser")
        .set("expect", 403)
        .run();
    unknown.assert_ok("unknown user must end in 403 (alwaysauthreject=yes)");
    let (w, u) = (wrong.responses(), unknown.responses());
    assert_eq!(w.len(), u.len(), "same exchange: {w:#?}\n{u:#?}");
    for (a, b) in w.iter().zip(&u) {
        assert_eq!(a.status_line(), b.status_line());
        assert_eq!(
            a.header_names(),
            b.header_names(),
            "wrong password vs unknown user"
        );
    }
    assert_eq!(w.last().map(|m| m.status_line()), Some("403 Forbidden"));
}

#[test]
fn minexpiry_423_and_maxexpiry_clamp() {
    let pbx = Pbx::start(NO_OPTS);
    let short = pbx
        .sipp("register_expect.xml")
        .service("1000")
        .auth("1000", "s1000")
        .key("expires", 10)
        .key("contact_user", "1000")
        .set("expect", 423)
        .run();
    short.assert_ok("Expires 10 < minexpiry 60 must get 423");
    let last = short.last_response();
    assert_eq!(last.header("Min-Expires"), Some("60"), "{last:#?}");
    std::thread::sleep(Duration::from_millis(1100));
    pbx.sipp("register_auth.xml")
        .service("1000")
        .auth("1000", "s1000")
        .key("expires", 99999)
        .set("want_expires", 3600)
        .run()
        .assert_ok("Expires 99999 must be clamped to maxexpiry 3600");
}

#[test]
fn eleventh_contact_is_refused() {
    let pbx = Pbx::start(NO_OPTS);
    let r = pbx
        .sipp("register_many_contacts.xml")
        .service("1000")
        .auth("1000", "s1000")
        .key("expires", 600)
        .calls(11)
        .limit(1)
        .rate(3, 2000)
        .timeout(20)
        .run();
    r.assert_ok("11 registrations for one AOR");
    for n in 1..=11 {
        let want = if n <= 10 { 200 } else { 403 };
        assert!(
            r.logs.contains(&format!("call {n} status {want}\n")),
            "call {n} should get {want}: {}",
            r.describe()
        );
    }
    // The 10th registration's 200 lists all ten bindings.
    let oks: Vec<SipMsg> = r
        .responses()
        .into_iter()
        .filter(|m| m.status() == Some(200))
        .collect();
    let tenth = oks.last().expect("a 200");
    assert_eq!(tenth.header_all("Contact").len(), 10, "{tenth:#?}");
}

#[test]
fn register_rate_limit_503_with_retry_after() {
    let pbx = Pbx::start(NO_OPTS);
    let r = pbx
        .sipp("register_ratelimit.xml")
        .service("1000")
        .auth("1000", "s1000")
        .key("expires", 600)
        .run();
    r.assert_ok("the 6th REGISTER within a second must get 503 + Retry-After");
    let last = r.last_response();
    assert_eq!(last.status(), Some(503));
    let ra = last.header("Retry-After").expect("Retry-After");
    assert!(ra.trim().parse::<u32>().is_ok(), "Retry-After: {ra}");
}

#[test]
fn unregister_one_contact_and_star() {
    let pbx = Pbx::start(NO_OPTS);
    let port = free_port();
    let reg = || {
        Sipp::new("register_auth.xml", Some(pbx.port))
            .local_port(port)
            .service("1000")
            .auth("1000", "s1000")
            .key("expires", 600)
            .set("want_expires", 600)
            .run()
            .assert_ok("register");
    };
    let unreg = |contact: &str| {
        let r = Sipp::new("unregister.xml", Some(pbx.port))
            .local_port(port)
            .service("1000")
            .auth("1000", "s1000")
            .key("unreg_contact", contact)
            .run();
        r.assert_ok(&format!("unregister with Contact: {contact}"));
        let last = r.last_response();
        assert!(
            last.header_all("Contact").is_empty(),
            "no binding may be left: {last:#?}"
        );
    };
    reg();
    assert!(pbx.peer_line("1000").contains("127.0.0.1"));
    unreg(&format!("<sip:1000@127.0.0.1:{port}>"));
    let line = pbx.peer_line("1000");
    assert!(!line.contains("127.0.0.1"), "after Expires: 0: {line}");
    std::thread::sleep(Duration::from_millis(1100));
    reg();
    assert!(pbx.peer_line("1000").contains("127.0.0.1"));
    unreg("*");
    let line = pbx.peer_line("1000");
    assert!(!line.contains("127.0.0.1"), "after Contact: *: {line}");
}

#[test]
fn call_through_dial_caller_hangs_up() {
    let pbx = Pbx::start(NO_OPTS);
    let callee = pbx.phone("1001", "uas_answer.xml");
    let r = pbx.call("uac_call.xml", "1001", |s| s);
    r.assert_ok("1000 calls 1001, talks, hangs up");
    callee
        .wait()
        .assert_ok("1001 answers and gets the BYE relayed");
    assert_eq!(pbx.dialstatus(), "ANSWER");
}

#[test]
fn call_through_dial_callee_hangs_up() {
    let pbx = Pbx::start(NO_OPTS);
    let callee = pbx.phone("1001", "uas_answer_bye.xml");
    let r = pbx.call("uac_call_recv_bye.xml", "1001", |s| s);
    r.assert_ok("1000 calls 1001 and gets the callee's BYE relayed");
    callee.wait().assert_ok("1001 answers and hangs up");
    assert_eq!(pbx.dialstatus(), "ANSWER");
}

#[test]
fn cancel_before_answer() {
    let pbx = Pbx::start(NO_OPTS);
    let callee = pbx.phone("1001", "uas_noanswer.xml");
    let r = pbx.call("uac_cancel.xml", "1001", |s| s);
    r.assert_ok("1000 CANCELs while 1001 rings: 200 + 487");
    callee
        .wait()
        .assert_ok("1001 must get the CANCEL, answer 200 + 487");
    assert_eq!(pbx.dialstatus(), "CANCEL");
}

#[test]
fn dialstatus_busy() {
    let pbx = Pbx::start(NO_OPTS);
    let callee = pbx.phone("1001", "uas_busy.xml");
    // The dialplan ends failed calls with Hangup(21): 403 to the caller.
    let r = pbx.call("uac_fail.xml", "1001", |s| s.set("expect", 403));
    r.assert_ok("a busy callee; the caller gets the dialplan's Hangup(21)");
    callee.wait().assert_ok("1001 answers 486");
    assert_eq!(pbx.dialstatus(), "BUSY");
}

#[test]
fn dialstatus_noanswer_cancels_the_callee() {
    let pbx = Pbx::start(NO_OPTS);
    let callee = pbx.phone("1001", "uas_noanswer.xml");
    // 2001 rings 1001 for 2 s.
    let r = pbx.call("uac_fail.xml", "2001", |s| s.set("expect", 403));
    r.assert_ok("no answer within Dial's timeout");
    callee
        .wait()
        .assert_ok("1001 must get the CANCEL when Dial times out");
    assert_eq!(pbx.dialstatus(), "NOANSWER");
}

#[test]
fn dialstatus_unavailable() {
    let pbx = Pbx::start(NO_OPTS);
    // 1002 never registered.
    let r = pbx.call("uac_fail.xml", "1002", |s| s.set("expect", 403));
    r.assert_ok("calling an unregistered peer");
    assert_eq!(pbx.dialstatus(), "CHANUNAVAIL");
}

#[test]
fn call_out_a_trunk_with_407() {
    let trunk_port = free_port();
    let trunk = Sipp::new("trunk_uas_407.xml", None)
        .local_port(trunk_port)
        .service("provider")
        .set("user", TRUNK_USER)
        .spawn();
    let pbx = Pbx::start(Opts {
        trunk_port: Some(trunk_port),
        ..NO_OPTS
    });
    let r = pbx.call("uac_call.xml", "95551234", |s| s);
    r.assert_ok("1000 calls out the trunk");
    let t = trunk.wait();
    t.assert_ok("the provider challenges with 407 and accepts the authorized INVITE");
    let invites = t.requests("INVITE");
    assert_eq!(invites.len(), 2, "{}", t.describe());
    assert!(
        invites[0]
            .start_line
            .starts_with("INVITE sip:5551234@127.0.0.1"),
        "{}",
        invites[0].start_line
    );
    let from = invites[1].header("From").unwrap_or("");
    assert!(
        from.contains(&format!("sip:{TRUNK_USER}@")),
        "fromuser: {from}"
    );
    assert_eq!(pbx.dialstatus(), "ANSWER");
}

#[test]
fn outbound_registration() {
    let reg_port = free_port();
    let registrar = Sipp::new("registrar_uas.xml", None)
        .local_port(reg_port)
        .key("user", TRUNK_USER)
        .key("secret", TRUNK_SECRET)
        .key("expires", 120)
        .spawn();
    let pbx = Pbx::start(Opts {
        registrar_port: Some(reg_port),
        ..NO_OPTS
    });
    let r = registrar.wait();
    r.assert_ok("ferrisk's register => must answer the 401 with digest");
    let reg = &r.requests("REGISTER")[1];
    let contact = reg.header("Contact").unwrap_or("");
    assert!(contact.contains("sip:1000@127.0.0.1"), "Contact: {contact}");
    let out = pbx.d.rx_until("sip show registry", 10, |s| {
        s.lines()
            .any(|l| l.contains(TRUNK_USER) && l.contains("Registered"))
    });
    assert!(out.contains(&format!("127.0.0.1:{reg_port}")), "{out}");
}

#[test]
fn message_in_and_messagesend_back() {
    let pbx = Pbx::start(NO_OPTS);
    let body = "hello ferrisk";
    let phone = pbx.phone_with("1001", "message_uas.xml", |s| s.set("want_body", body));
    pbx.sipp("message_uac.xml")
        .service("1001")
        .key("from_user", "1000")
        .key("text", body)
        .auth("1000", "s1000")
        .run()
        .assert_ok("1000 sends an out-of-call MESSAGE to 1001");
    assert_eq!(pbx.d.wait_db("test", "msgbody"), body);
    let p = phone.wait();
    p.assert_ok("MessageSend(sip:1001) delivers the MESSAGE to 1001's contact");
    let m = &p.requests("MESSAGE")[0];
    assert!(
        m.header("From").unwrap_or("").contains("1000"),
        "From: {m:#?}"
    );
}

#[test]
fn baresip_to_baresip_through_dial() {
    let pbx = Pbx::start(NO_OPTS);
    let account = |user: &str| {
        format!(
            "<sip:{user}@127.0.0.1:{}>;auth_pass={};answermode=auto;regint=600",
            pbx.port,
            secret(user)
        )
    };
    let mut a = Baresip::start(free_ports(3), &[account("1000")]);
    let mut b = Baresip::start(free_ports(3), &[account("1001")]);
    a.wait_registered(10);
    b.wait_registered(10);
    pbx.wait_registered("1001");
    a.command("dial", &format!("sip:1001@127.0.0.1:{}", pbx.port));
    b.wait_event("CALL_ESTABLISHED", 10);
    a.wait_event("CALL_ESTABLISHED", 10);
    let ch = pbx.d.rx("core show channels");
    assert!(ch.contains("2 active channels"), "{ch}");
    std::thread::sleep(Duration::from_millis(1000));
    a.command("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
    assert_eq!(pbx.dialstatus(), "ANSWER");
}

#[test]
fn registrations_survive_a_restart() {
    let pbx = Pbx::start(NO_OPTS);
    let port = free_port();
    Sipp::new("register_auth.xml", Some(pbx.port))
        .local_port(port)
        .service("1001")
        .auth("1001", "s1001")
        .key("expires", 600)
        .set("want_expires", 600)
        .run()
        .assert_ok("REGISTER 1001");
    // The binding is in AstDB (written by the registration writer)...
    pbx.d.rx_until("database show SIP/Registry", 10, |s| {
        s.contains("/SIP/Registry/1001/")
    });
    // ...so even a kill -9 loses nothing.
    let dir = pbx.d.kill9();
    let d = Daemon::launch(dir);
    let again = Pbx { d, port: pbx.port };
    let line = again.peer_line("1001");
    assert!(
        line.contains("127.0.0.1") && line.contains(&port.to_string()),
        "after the restart `sip show peers` must still show 1001 at 127.0.0.1:{port}: {line}"
    );
}

#[test]
fn sip_reload_is_atomic() {
    let pbx = Pbx::start(NO_OPTS);
    let good = std::fs::read_to_string(pbx.d.path().join("sip.conf")).expect("sip.conf");
    // A broken file: the error names file:line, the running peers stay.
    let broken = format!("{good}\n[3000]\ntype=friend\nhost=dynamic\nport=notaport\n");
    std::fs::write(pbx.d.path().join("sip.conf"), &broken).expect("write");
    let out = pbx.d.rx("sip reload");
    let line = broken
        .lines()
        .position(|l| l == "port=notaport")
        .expect("line")
        + 1;
    assert!(
        out.contains(&format!("sip.conf:{line}")),
        "sip reload must name sip.conf:{line}: {out}"
    );
    let peers = pbx.d.rx("sip show peers");
    assert!(peers.contains("1000") && !peers.contains("3000"), "{peers}");
    // A good file: applied.
    let fixed = format!("{good}\n[3000]\ntype=friend\nhost=dynamic\nsecret=x\n");
    std::fs::write(pbx.d.path().join("sip.conf"), &fixed).expect("write");
    pbx.d.rx("sip reload");
    let peers = pbx.d.rx("sip show peers");
    assert!(peers.contains("3000"), "{peers}");
}

#[test]
fn qualify_shows_latency_in_sip_show_peers() {
    let dev_port = free_port();
    let device = Sipp::new("uas_options.xml", None)
        .local_port(dev_port)
        .spawn();
    let pbx = Pbx::start(Opts {
        qualify_port: Some(dev_port),
        ..NO_OPTS
    });
    device
        .wait()
        .assert_ok("the device answers ferrisk's OPTIONS");
    let out = pbx.d.rx_until("sip show peers", 10, |s| {
        s.lines()
            .any(|l| l.starts_with("device") && l.contains("OK ("))
    });
    assert!(out.contains("Monitored: 1 online"), "{out}");
    // `sip qualify peer` sends one more OPTIONS.
    let device = Sipp::new("uas_options.xml", None)
        .local_port(dev_port)
        .spawn();
    pbx.d.rx("sip qualify peer device");
    device
        .wait()
        .assert_ok("sip qualify peer device sends OPTIONS");
    assert!(pbx.d.rx("sip qualify peer nosuch").contains("nosuch"));
}

#[test]
fn register_over_tcp() {
    let pbx = Pbx::start(Opts {
        tcp: true,
        ..NO_OPTS
    });
    let port = free_port();
    Sipp::new("register_auth.xml", Some(pbx.port))
        .local_port(port)
        .arg("-t")
        .arg("t1")
        .service("1000")
        .auth("1000", "s1000")
        .key("expires", 600)
        .set("want_expires", 600)
        .run()
        .assert_ok("REGISTER with digest over TCP");
    let line = pbx.peer_line("1000");
    assert!(line.contains("127.0.0.1"), "{line}");
}

/// Raw datagrams: malformed requests get 400 (when they can be answered) or are dropped,
/// and the daemon goes on answering. No SIPp: these are not valid enough for it to send.
#[test]
fn malformed_messages_get_400_or_are_dropped() {
    let pbx = Pbx::start(NO_OPTS);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .expect("timeout");
    let me = sock.local_addr().expect("addr");
    let to = format!("127.0.0.1:{}", pbx.port);
    let head = |method: &str, extra: &str| {
        format!(
            "{method} sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{:x}\r\n\
             From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: {:x}@t\r\n\
             CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}",
            rand_u64(),
            rand_u64()
        )
    };
    let recv = |sock: &std::net::UdpSocket| -> Option<String> {
        let mut buf = [0u8; 65535];
        sock.recv(&mut buf)
            .ok()
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    // Content-Length larger than the body: 400.
    sock.send_to(
        head("OPTIONS", "Content-Length: 500\r\n\r\nshort").as_bytes(),
        &to,
    )
    .expect("send");
    let r = recv(&sock).expect("an answer to a bad Content-Length");
    assert!(r.starts_with("SIP/2.0 400"), "{r}");
    // A huge header: 400 or dropped, never a crash.
    let huge = format!("X-Big: {}\r\nContent-Length: 0\r\n\r\n", "a".repeat(60_000));
    sock.send_to(head("OPTIONS", &huge).as_bytes(), &to)
        .expect("send");
    if let Some(r) = recv(&sock) {
        assert!(r.starts_with("SIP/2.0 4"), "{r}");
    }
    // No Call-ID, a broken Via, binary junk, an empty datagram: dropped or 400.
    let no_callid = format!(
        "OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKq\r\n\
         From: <sip:x@y>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nCSeq: 1 OPTIONS\r\n\r\n"
    );
    let bad_via = head("OPTIONS", "Content-Length: 0\r\n\r\n").replace("SIP/2.0/UDP", "SIP/2.0/");
    for junk in [
        no_callid.into_bytes(),
        bad_via.into_bytes(),
        vec![0xff, 0x00, 0x13, 0x37],
        Vec::new(),
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
    ] {
        sock.send_to(&junk, &to).expect("send");
        if let Some(r) = recv(&sock) {
            assert!(r.starts_with("SIP/2.0 4"), "{r}");
        }
    }
    // Still alive and answering.
    sock.send_to(head("OPTIONS", "Content-Length: 0\r\n\r\n").as_bytes(), &to)
        .expect("send");
    let r = recv(&sock).expect("OPTIONS answered after the junk");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(pbx.d.rx("core show version").contains("ferrisk"));
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

/// One AOR, two registered devices: Dial(SIP/1001) rings both; the one that answers gets
/// the call, the other gets a CANCEL.
#[test]
fn dial_rings_every_contact_and_cancels_the_rest() {
    let pbx = Pbx::start(NO_OPTS);
    let ringing = pbx.phone("1001", "uas_noanswer.xml");
    let answering = pbx.phone("1001", "uas_answer.xml");
    pbx.d.rx_until("database show SIP/Registry/1001", 10, |s| {
        s.matches("/SIP/Registry/1001/").count() == 2
    });
    let r = pbx.call("uac_call.xml", "1001", |s| s);
    r.assert_ok("1000 calls 1001 (two devices), talks, hangs up");
    answering
        .wait()
        .assert_ok("the device that answers gets the call and the BYE");
    ringing
        .wait()
        .assert_ok("the other device is CANCELled (200 + 487)");
    assert_eq!(pbx.dialstatus(), "ANSWER");
}

/// A provider calling in from its whitelisted address (type=peer, host=IP, insecure=invite)
/// needs no credentials and lands in the peer's context.
#[test]
fn inbound_call_from_a_trunk_matched_by_address() {
    let trunk_port = free_port();
    let pbx = Pbx::start(Opts {
        trunk_port: Some(trunk_port),
        ..NO_OPTS
    });
    let phone = pbx.phone("1000", "uas_answer.xml");
    // [from-provider] _X. → Dial(SIP/1000); the call comes from the trunk's address.
    let r = Sipp::new("uac_call.xml", Some(pbx.port))
        .local_port(trunk_port)
        .service("5551234")
        .key("from_user", "0049301234")
        .run();
    r.assert_ok("the provider's call is accepted without a challenge and answered");
    assert!(
        r.responses()
            .iter()
            .all(|m| m.status() != Some(407) && m.status() != Some(401)),
        "no challenge for a whitelisted trunk"
    );
    phone
        .wait()
        .assert_ok("the phone answers the call from the trunk");
}
