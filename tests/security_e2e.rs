//! Security end to end: the real `ferrisk` daemon against a real SIPp password guesser
//! (from another loopback address, 127.0.0.2) and a real phone (127.0.0.3); the security
//! log checked with fail2ban's own `fail2ban-regex` and its stock `asterisk` filter.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// sip.conf: account 1000 with a 4-digit secret; the REGISTER rate limit off, so the
/// guesser meets only the lockout.
fn sip_conf(port: u16) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=public\nallowguest=no\n\
         alwaysauthreject=yes\nrealm=ferrisk\nmax_registers_per_second=0\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=4711\ncontext=internal\n"
    )
}

/// How many lines of `file` fail2ban's stock asterisk filter matches.
fn fail2ban_matches(file: &Path) -> usize {
    let bin = require_bin("fail2ban-regex", "fail2ban");
    let filter = Path::new("/etc/fail2ban/filter.d/asterisk.conf");
    assert!(filter.is_file(), "fail2ban's asterisk filter is missing");
    let out = Command::new(bin)
        .arg(file)
        .arg(filter)
        .output()
        .expect("run fail2ban-regex");
    let text = String::from_utf8_lossy(&out.stdout);
    // "Lines: 12 lines, 0 ignored, 11 matched, 1 missed"
    text.lines()
        .find(|l| l.starts_with("Lines:"))
        .and_then(|l| l.split(", ").find(|p| p.ends_with("matched")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("fail2ban-regex said:\n{text}"))
}

#[test]
fn a_guesser_never_finds_the_secret_while_the_phone_registers_and_fail2ban_sees_it() {
    let port = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", "[internal]\n[public]\n"),
        ("sip.conf", &sip_conf(port)),
    ]);
    // The phone registers (from its own address) before the attack...
    let phone_port = free_port();
    let phone = || {
        Sipp::new("register_auth.xml", Some(port))
            .local_ip("127.0.0.3")
            .local_port(phone_port)
            .service("1000")
            .auth("1000", "4711")
            .key("expires", 600)
            .set("want_expires", 600)
            .run()
    };
    phone().assert_ok("the phone registers");
    // 100 guesses, the right one (4711) among them at position 60.
    let dir = tempdir();
    let csv = dir.path().join("guesses.csv");
    let mut lines = String::from("SEQUENTIAL\n");
    for i in 0..100 {
        let pw = if i == 60 {
            "4711".to_string()
        } else {
            format!("{:04}", 1000 + i)
        };
        lines += &format!("1000;[authentication username=1000 password={pw}]\n");
    }
    std::fs::write(&csv, lines).unwrap();
    let r = Sipp::new("register_guess.xml", Some(port))
        .local_ip("127.0.0.2")
        .local_port(free_port())
        .inf(&csv)
        .calls(100)
        .rate(50, 1000)
        .timeout(60)
        .run();
    let ok = r.messages.matches("SIP/2.0 200").count();
    let refused = r.messages.matches("SIP/2.0 403").count();
    assert_eq!(ok, 0, "the guesser got in:\n{}", r.describe());
    assert!(refused >= 95, "{refused} refusals\n{}", r.describe());
    let peers = d.rx("sip show peers");
    assert!(!peers.contains("127.0.0.2"), "{peers}");
    d.wait_console("Too many failed authentications from '127.0.0.2'", 1);

    // ...and keeps registering during it: the account is guarded, its known address is not.
    phone().assert_ok("the phone re-registers while the guesser is locked out");
    let peers = d.rx("sip show peers");
    assert!(peers.contains("127.0.0.3"), "{peers}");
    d.wait_console("Too many failed authentications for '1000'", 1);
    let sec = d.rx("sip show security");
    assert!(sec.contains("Sources locked out now:        1"), "{sec}");

    // The security log: one line per attempt in Asterisk's format, which fail2ban's stock
    // filter matches (the success is not a failure).
    let log = d.path().join("log/security");
    wait_for(10, "the security log", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|s| s.contains("SuccessfulAuth"))
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let failures = text
        .lines()
        .filter(|l| l.contains("\"InvalidPassword\""))
        .count();
    assert!(failures >= 95, "{failures} failures logged\n{text}");
    assert!(
        text.contains("RemoteAddress=\"IPV4/UDP/127.0.0.2/"),
        "{text}"
    );
    assert_eq!(fail2ban_matches(&log), failures);
    // So are the NOTICE lines of the console log (fail2ban's older patterns).
    let console = d.path().join("stdout.log");
    assert!(fail2ban_matches(&console) >= 5, "{}", d.console());
}

#[test]
fn tcp_connections_are_capped_per_address_and_a_malformed_ack_gets_no_answer() {
    use std::io::{Read, Write};
    use std::net::{TcpStream, UdpSocket};
    use std::time::Duration;
    let port = free_port();
    let conf = format!(
        "{}tcpenable=yes\ntcpbindaddr=127.0.0.1:{port}\n",
        sip_conf(port)
            .replace("[1000]", "\n[1000]")
            .split("\n[1000]")
            .next()
            .unwrap()
    );
    let d = Daemon::start_with(&[
        ("extensions.conf", "[internal]\n[public]\n"),
        ("sip.conf", &conf),
    ]);
    // 40 connections from one address: the first 32 stay open, the rest are closed at once.
    let mut conns: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut closed = 0;
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!(c.read(&mut b), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 8, "connections closed over the per-address cap");
    // An open one still carries SIP.
    let opt = format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKo1\r\n\
         From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    conns[0].write_all(opt.as_bytes()).unwrap();
    conns[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = [0u8; 512];
    let n = conns[0].read(&mut got).expect("an answer over TCP");
    assert!(String::from_utf8_lossy(&got[..n]).starts_with("SIP/2.0 "));

    // A malformed ACK (bad Content-Length) over UDP: dropped, never answered.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let ack = format!(
        "ACK sip:1000@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKa1\r\n\
         From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>;tag=2\r\nCall-ID: a1\r\n\
         CSeq: 1 ACK\r\nContent-Length: 99\r\n\r\n",
        u.local_addr().unwrap()
    );
    u.send_to(ack.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut b = [0u8; 1024];
    assert!(u.recv_from(&mut b).is_err(), "a malformed ACK was answered");
    // Counted: 8 refused connections and the malformed ACK.
    let sec = d.rx("sip show security");
    let dropped: u64 = sec
        .lines()
        .find(|l| l.starts_with("Messages/connections dropped:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(dropped >= 9, "{sec}");
    drop(d);
}
