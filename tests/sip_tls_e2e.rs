//! SIP over TLS and outbound TCP end to end: the real `ferrisk` daemon against baresip over
//! TLS (registering, calling, called back on the connection it registered on, audio
//! flowing) and SIPp over TCP (a `transport=tcp` peer ferrisk connects to). A dead
//! destination fails the Dial at once with CHANUNAVAIL. Certificates are made at test start
//! with `openssl req -x509`. A missing peer binary fails the test; nothing is skipped.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[internal]
exten => _10XX,1,Dial(SIP/${EXTEN},10)
 same => n,Hangup(21)
; 7<number>: the TCP peer.
exten => _7.,1,Dial(SIP/tcppeer/${EXTEN:1},10)
 same => n,Hangup(21)
; 8<number>: a TCP peer nothing listens for.
exten => _8.,1,Dial(SIP/deadpeer/${EXTEN:1},10)
 same => n,Hangup(21)
; 6<number>: the TLS peer (another ferrisk).
exten => _6.,1,Dial(SIP/tlspeer/${EXTEN:1},10)
 same => n,Hangup(21)
exten => h,1,Set(DB(test/status)=${DIALSTATUS})

[answer]
exten => _X.,1,Answer()
 same => n,Set(DB(test/answered)=${EXTEN})
 same => n,Wait(10)

[public]
";

/// A self-signed certificate for 127.0.0.1 (subjectAltName IP) and its key, both in one PEM file
/// `keys/sip.pem` under `dir` (so `tlsprivatekey` defaults to it).
fn make_cert(dir: &Path) {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    // Not a CA: a verifier trusting it (tlscafile) refuses a CA certificate as a server's
    // own.
    let (cert, key) = self_signed_cert_with(
        &keys,
        "127.0.0.1",
        &[
            "subjectAltName=IP:127.0.0.1",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let mut pem = std::fs::read(&cert).expect("cert");
    pem.extend(std::fs::read(&key).expect("key"));
    std::fs::write(keys.join("sip.pem"), pem).expect("sip.pem");
}

struct Pbx {
    d: Daemon,
    udp: u16,
    tls: u16,
}

/// ferrisk with UDP on one port, TLS on the next; peers 1000/1001 (secret s<name>), a TCP
/// peer at `tcp_peer` and a dead one at `dead_peer`.
fn start(tcp_peer: u16, dead_peer: u16) -> Pbx {
    start_with(tcp_peer, dead_peer, "", "")
}

/// As [`start`], with more `[general]` lines and more peers.
fn start_with(tcp_peer: u16, dead_peer: u16, general: &str, peers: &str) -> Pbx {
    start_ports(free_ports(2), tcp_peer, dead_peer, general, peers)
}

/// As [`start_with`] on UDP port `base` and TLS port `base + 1` (from `free_ports(2)`).
fn start_on(base: u16, general: &str, peers: &str) -> Pbx {
    start_ports(base, free_port(), free_port(), general, peers)
}

fn start_ports(base: u16, tcp_peer: u16, dead_peer: u16, general: &str, peers: &str) -> Pbx {
    let (udp, tls) = (base, base + 1);
    let dir = tempdir();
    make_cert(dir.path());
    let mut sip = format!(
        "[general]\n\
         bindaddr=127.0.0.1\n\
         bindport={udp}\n\
         context=public\n\
         allowguest=no\n\
         realm=ferrisk\n\
         tlsenable=yes\n\
         tlsbindaddr=127.0.0.1:{tls}\n\
         tlscertfile=keys/sip.pem\n\
         tlsdontverifyserver=yes\n\
         tlsclientmethod=sslv23\n\
         disallow=all\n\
         allow=ulaw\n{general}"
    );
    for user in ["1000", "1001"] {
        sip += &format!(
            "\n[{user}]\ntype=friend\nhost=dynamic\nsecret=s{user}\ncontext=internal\n\
             transport=tls,udp\n"
        );
    }
    sip += &format!(
        "\n[tcppeer]\ntype=peer\nhost=127.0.0.1\nport={tcp_peer}\ntransport=tcp\n\
         insecure=invite\ncontext=internal\n\
         \n[deadpeer]\ntype=peer\nhost=127.0.0.1\nport={dead_peer}\ntransport=tcp\n\
         context=internal\n{peers}"
    );
    write_configs(
        dir.path(),
        &[("extensions.conf", EXTENSIONS), ("sip.conf", &sip)],
    );
    let d = Daemon::launch(dir);
    Pbx { d, udp, tls }
}

fn tls_account(p: &Pbx, user: &str) -> String {
    format!(
        "<sip:{user}@127.0.0.1:{};transport=tls>;auth_pass=s{user};answermode=auto;regint=600",
        p.tls
    )
}

/// Seconds of 8 kHz audio in 20 ms windows louder than an RMS of 300.
fn voiced_secs(s: &[i16]) -> f64 {
    let loud = s
        .chunks(160)
        .filter(|w| {
            let e: f64 = w.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
            (e / w.len() as f64).sqrt() > 300.0
        })
        .count();
    loud as f64 * 0.02
}

/// 1000 calls 6100 from `from` (to its TLS peer): the Dial fails at once, CHANUNAVAIL.
fn call_6100_fails_at_once(from: &Pbx) {
    let t = Instant::now();
    Sipp::new("uac_fail.xml", Some(from.udp))
        .local_port(free_port())
        .service("6100")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .set("expect", 403)
        .run()
        .assert_ok("the caller gets the failure");
    assert_eq!(from.d.wait_db("test", "status"), "CHANUNAVAIL");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
}

/// baresip 1000 registers over TLS and calls 1001, also registered over TLS: ferrisk's
/// Dial(SIP/1001) reaches 1001 over the connection it registered on; both answer and the
/// caller's tone reaches the callee.
#[test]
fn baresip_over_tls_registers_calls_and_is_called_back() {
    let pbx = start(free_port(), free_port());
    let mut a = Baresip::start(free_ports(3), &[tls_account(&pbx, "1000")]);
    let mut b = Baresip::start_with(free_ports(3), &[tls_account(&pbx, "1001")], None, true);
    a.wait_registered(10);
    b.wait_registered(10);
    // Registered over TLS: the peer's address is its TLS connection, shown as such.
    let peer = pbx
        .d
        .rx_until("sip show peer 1001", 10, |o| o.contains("127.0.0.1"));
    assert!(peer.contains("Prim.Transp. : TLS"), "{peer}");
    assert!(peer.contains("Allowed.Trsp : TLS,UDP"), "{peer}");
    a.command(
        "dial",
        &format!("sip:1001@127.0.0.1:{};transport=tls", pbx.tls),
    );
    b.wait_event("CALL_ESTABLISHED", 10);
    a.wait_event("CALL_ESTABLISHED", 10);
    let ch = pbx.d.rx("core show channels");
    assert!(ch.contains("2 active channels"), "{ch}");
    std::thread::sleep(Duration::from_millis(2500));
    a.command("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
    // 1001's address is its TLS connection's (an ephemeral port, not a port it listens
    // on): the INVITE it answered came over the connection it registered on.
    let addr_line = peer
        .lines()
        .find(|l| l.trim_start().starts_with("Addr->IP"))
        .unwrap_or_else(|| panic!("no Addr->IP in {peer}"));
    let port: u16 = addr_line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr_line}"));
    assert!(
        ![b.sip_port, b.sip_port + 1].contains(&port),
        "{addr_line} is a listening port of baresip"
    );
    let dumps = wait_for(10, "1001's received-audio dump", || {
        let d = b.dumped("dec");
        (!d.is_empty()).then_some(d)
    });
    let heard = voiced_secs(&common::audio::read_dump(&dumps[0]));
    assert!(heard > 1.0, "1001 heard {heard:.2} s of the tone");
    // The settings show the listener.
    let settings = pbx.d.rx("sip show settings");
    assert!(settings.contains("TLS SIP Bindaddress"), "{settings}");
    assert!(
        settings.contains(&format!("127.0.0.1:{}", pbx.tls)),
        "{settings}"
    );
}

/// ferrisk Dial()s a `transport=tcp` peer: SIPp listening on TCP only. The call is
/// answered over the connection ferrisk opened.
#[test]
fn dial_a_tcp_peer_opens_a_connection() {
    let tcp_port = free_port();
    let uas = Sipp::new("uas_answer.xml", None)
        .local_port(tcp_port)
        .arg("-t")
        .arg("t1")
        .service("tcppeer")
        .spawn();
    let pbx = start(tcp_port, free_port());
    let r = Sipp::new("uac_call.xml", Some(pbx.udp))
        .local_port(free_port())
        .service("75551234")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .run();
    r.assert_ok("1000 calls the TCP peer through ferrisk");
    let t = uas.wait();
    t.assert_ok("the TCP peer answers and gets the BYE");
    let inv = t.requests("INVITE");
    assert_eq!(inv.len(), 1, "{}", t.describe());
    let via = inv[0].header("Via").unwrap_or("");
    assert!(via.starts_with("SIP/2.0/TCP "), "{via}");
    assert!(
        inv[0].start_line.contains(";transport=tcp"),
        "{}",
        inv[0].start_line
    );
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
}

/// Nothing listens where a `transport=tcp` peer should be: the connection is refused and
/// the Dial fails at once (not after the 32 s INVITE timeout) with CHANUNAVAIL.
#[test]
fn dial_a_dead_tcp_peer_is_chanunavail_at_once() {
    let dead = free_port();
    let pbx = start(free_port(), dead);
    let t = Instant::now();
    let r = Sipp::new("uac_fail.xml", Some(pbx.udp))
        .local_port(free_port())
        .service("85551234")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .set("expect", 403)
        .run();
    r.assert_ok("the caller gets the failure");
    assert_eq!(pbx.d.wait_db("test", "status"), "CHANUNAVAIL");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
}

/// `register => tcp://…`: ferrisk registers with a registrar over a TCP connection it
/// opens (SIPp listening on TCP only), answering its 401.
#[test]
fn outbound_registration_over_tcp() {
    let reg_port = free_port();
    let registrar = Sipp::new("registrar_uas.xml", None)
        .local_port(reg_port)
        .arg("-t")
        .arg("t1")
        .key("user", "trunkuser")
        .key("secret", "trunksecret")
        .key("expires", 120)
        .spawn();
    let pbx = start_with(
        free_port(),
        free_port(),
        &format!("register => tcp://trunkuser:trunksecret@127.0.0.1:{reg_port}/1000\n"),
        "",
    );
    let r = registrar.wait();
    r.assert_ok("ferrisk's register => over TCP answers the 401 with digest");
    let reg = &r.requests("REGISTER")[1];
    let via = reg.header("Via").unwrap_or("");
    assert!(via.starts_with("SIP/2.0/TCP "), "{via}");
    let contact = reg.header("Contact").unwrap_or("");
    assert!(contact.contains(";transport=tcp"), "Contact: {contact}");
    let out = pbx.d.rx_until("sip show registry", 10, |s| {
        s.lines()
            .any(|l| l.contains("trunkuser") && l.contains("Registered"))
    });
    assert!(out.contains(&format!("127.0.0.1:{reg_port}")), "{out}");
}

/// ferrisk A Dial()s a `transport=tls` peer, ferrisk B: A opens a TLS connection and
/// verifies B's certificate (IP 127.0.0.1) against `tlscafile`; B answers. Without the CA
/// the handshake fails and the Dial is CHANUNAVAIL at once.
#[test]
fn dial_a_tls_peer_verifies_its_certificate() {
    let b = start_with(
        free_port(),
        free_port(),
        "",
        "\n[froma]\ntype=peer\nhost=127.0.0.1\ninsecure=port,invite\ntransport=tls\ncontext=answer\n",
    );
    let b_cert = b.d.path().join("keys/cert.pem");
    let tls_peer = |tls: u16| {
        format!(
            "\n[tlspeer]\ntype=peer\nhost=127.0.0.1\nport={tls}\ntransport=tls\nfromuser=froma\ncontext=internal\n"
        )
    };
    let a = start_with(
        free_port(),
        free_port(),
        &format!("tlsdontverifyserver=no\ntlscafile={}\n", b_cert.display()),
        &tls_peer(b.tls),
    );
    Sipp::new("uac_call.xml", Some(a.udp))
        .local_port(free_port())
        .service("6100")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .run()
        .assert_ok("1000 calls B through A over TLS");
    assert_eq!(b.d.wait_db("test", "answered"), "100");
    assert_eq!(a.d.wait_db("test", "status"), "ANSWER");

    // No CA for B's self-signed certificate: the system roots do not know it.
    let a = start_with(
        free_port(),
        free_port(),
        "tlsdontverifyserver=no\n",
        &tls_peer(b.tls),
    );
    call_6100_fails_at_once(&a);
}

/// `tlsverifyclient=yes`: B asks for a client certificate and verifies it against its
/// `tlscafile`. A offers its `tlscertfile`; a call from an A whose certificate B does not
/// know fails at the handshake (CHANUNAVAIL at once).
#[test]
fn tlsverifyclient_requires_a_known_client_certificate() {
    let froma = "\n[froma]\ntype=peer\nhost=127.0.0.1\ninsecure=port,invite\ntransport=tls\ncontext=answer\n";
    let tls_peer = |tls: u16| {
        format!("\n[tlspeer]\ntype=peer\nhost=127.0.0.1\nport={tls}\ntransport=tls\nfromuser=froma\ncontext=internal\n")
    };
    // A first (B must trust A's certificate), pointing at B's TLS port chosen up front.
    let b_ports = free_ports(2);
    let a = start_with(free_port(), free_port(), "", &tls_peer(b_ports + 1));
    let a_cert = a.d.path().join("keys/cert.pem");
    let b = start_on(
        b_ports,
        &format!("tlsverifyclient=yes\ntlscafile={}\n", a_cert.display()),
        froma,
    );
    assert_eq!(b.tls, b_ports + 1);
    Sipp::new("uac_call.xml", Some(a.udp))
        .local_port(free_port())
        .service("6100")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .run()
        .assert_ok("A's certificate is accepted by B");
    assert_eq!(b.d.wait_db("test", "answered"), "100");
    assert_eq!(a.d.wait_db("test", "status"), "ANSWER");

    // Another A, with a certificate B does not know.
    let stranger = start_with(free_port(), free_port(), "", &tls_peer(b.tls));
    call_6100_fails_at_once(&stranger);
}

/// The carrier setup of issue 16: TLS signalling with SRTP media. Both phones register
/// over TLS with SRTP mandatory (`mediaenc=srtp-mand`: a call without SRTP fails), peers
/// have `encryption=yes`; 1000 calls 1001 and each hears the other's tone.
#[test]
fn tls_and_srtp_call_both_ways() {
    let pbx = start_with(free_port(), free_port(), "encryption=yes\n", "");
    let acct = |u: &str| format!("{};mediaenc=srtp-mand", tls_account(&pbx, u));
    let mut a = Baresip::start_modules(free_ports(3), &[acct("1000")], None, true, &["srtp.so"]);
    let mut b = Baresip::start_modules(free_ports(3), &[acct("1001")], None, true, &["srtp.so"]);
    a.wait_registered(10);
    b.wait_registered(10);
    a.command(
        "dial",
        &format!("sip:1001@127.0.0.1:{};transport=tls", pbx.tls),
    );
    b.wait_event("CALL_ESTABLISHED", 10);
    a.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(2500));
    a.command("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
    assert_eq!(pbx.d.wait_db("test", "status"), "ANSWER");
    for (who, p) in [("1000", &a), ("1001", &b)] {
        let want = "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)";
        assert!(p.log().contains(want), "{who}: no `{want}`:\n{}", p.log());
        let dumps = wait_for(10, "received-audio dump", || {
            let d = p.dumped("dec");
            (!d.is_empty()).then_some(d)
        });
        let heard = voiced_secs(&common::audio::read_dump(&dumps[0]));
        assert!(heard > 1.0, "{who} heard {heard:.2} s of the other's tone");
    }
}
