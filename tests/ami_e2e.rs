//! AMI end to end: the real `ferrisk` daemon with a manager.conf, driven by real AMI
//! clients from PyPI — pyst2 (`asterisk.manager`, threads) and panoramisk (asyncio) —
//! run as Python scripts (`tests/ami/`), plus a SIPp phone registered as `alice` for
//! chan_sip's `SIPpeers`. A missing client or peer fails the test with how to install it.

mod common;

use common::{free_port, require_bin, start_must_fail, tempdir, write_configs, Daemon, Sipp};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[test]
exten => 100,hint,SIP/alice
exten => 100,1,Answer()
 same => n,Set(FOO=bar)
 same => n,Wait(60)
 same => n,Hangup()
exten => redir,1,Set(REDIRECTED=yes)
 same => n,Wait(60)
 same => n,Hangup()
exten => dial,1,Dial(Local/200@test,20)
 same => n,Hangup()
exten => 200,1,Answer()
 same => n,Wait(10)
 same => n,Hangup()
";

/// The clients are Python scripts that a loaded machine may not schedule for a while:
/// the admin user gets 10 s to read what is written to it (Asterisk's default
/// `writetimeout` of 100 ms disconnects it, and the scripts would see a closed socket).
fn manager_conf(port: u16) -> String {
    format!(
        "[general]\nenabled = yes\nport = {port}\nbindaddr = 127.0.0.1\nwebenabled = yes\n\n\
         [admin]\nsecret = adminpw\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n\
         read = all\nwrite = all\nwritetimeout = 10000\n\n\
         [reader]\nsecret = readerpw\nread = call,system\nwrite = system,reporting\n\n\
         [remote]\nsecret = remotepw\ndeny = 0.0.0.0/0\npermit = 10.0.0.1\n"
    )
}

fn sip_conf(port: u16) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=test\nallowguest=no\n\
         alwaysauthreject=yes\nrealm=ferrisk\n\n\
         [alice]\ntype=friend\nhost=dynamic\nsecret=alicepw\ncontext=test\nmailbox=100@default\n"
    )
}

const VOICEMAIL_CONF: &str =
    "[general]\npollmailboxes=yes\npollfreq=1\n\n[default]\n100 => 1234,Alice\n";

const MSG_TXT: &str = "[message]\norigmailbox=100\ncontext=test\nexten=100\npriority=2\n\
    callerid=\"Bob\" <200>\norigtime=1795464000\nmsg_id=1795464000-00000000\nduration=3\n";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ami")
        .join(name)
}

/// Fail (never skip) when python3 or the client library is missing.
fn require_python_module(module: &str, package: &str) {
    require_bin("python3", "python3");
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 cannot import {module}: this test needs the real AMI client. Run \
         `python3 -m pip install {package}` (contrib/test.sh does)"
    );
}

/// Run `name` (a Python AMI client) against `d`; a failure shows the daemon's console too.
fn run_script(d: &Daemon, name: &str, args: &[String]) -> String {
    let out = Command::new("python3")
        .arg(script(name))
        .args(args)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name} failed:\n{text}\n--- the daemon's console ---\n{}",
        d.console()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .ends_with("OK"),
        "{name} did not finish:\n{text}"
    );
    text
}

#[test]
fn ami_clients_log_in_run_actions_and_follow_calls() {
    require_python_module("asterisk.manager", "pyst2");
    require_python_module("panoramisk", "panoramisk");
    let (ami, sip) = (free_port(), free_port());
    let dir = tempdir();
    let inbox = dir.path().join("spool/voicemail/default/100/INBOX");
    std::fs::create_dir_all(&inbox).expect("inbox");
    std::fs::write(inbox.join("msg0000.wav"), b"RIFF").expect("wav");
    std::fs::write(inbox.join("msg0000.txt"), MSG_TXT).expect("txt");
    write_configs(
        dir.path(),
        &[
            ("extensions.conf", EXTENSIONS),
            ("manager.conf", &manager_conf(ami)),
            ("sip.conf", &sip_conf(sip)),
            ("voicemail.conf", VOICEMAIL_CONF),
        ],
    );
    let d = Daemon::launch(dir);
    Sipp::new("register_auth.xml", Some(sip))
        .local_port(free_port())
        .service("alice")
        .auth("alice", "alicepw")
        .key("expires", 600)
        .set("want_expires", 600)
        .run()
        .assert_ok("alice registers");

    run_script(&d, "pyst2_basics.py", &[ami.to_string()]);
    run_script(
        &d,
        "panoramisk_calls.py",
        &[ami.to_string(), inbox.display().to_string()],
    );

    // Asterisk's log lines for the refused logins, and the ignored option.
    let console = d.console();
    for want in [
        "NOTICE[",
        "manager.c: 127.0.0.1 failed to authenticate as 'admin'",
        "manager.c: 127.0.0.1 tried to authenticate with nonexistent user 'nobody'",
        "manager.c: 127.0.0.1 failed to pass IP ACL as 'remote'",
        "'webenabled' is accepted and ignored",
    ] {
        assert!(console.contains(want), "console lacks {want:?}:\n{console}");
    }
    let users = d.rx("manager show users");
    assert!(users.contains("admin\nreader\nremote\n"), "{users}");
    assert!(users.contains("3 manager users configured."), "{users}");
    let u = d.rx("manager show user reader");
    assert!(
        u.contains("        write perm: system,reporting,all"),
        "{u}"
    );
    let s = d.rx("manager show settings");
    assert!(s.contains(&format!("127.0.0.1:{ami}")), "{s}");
    let c = d.rx("manager show commands");
    assert!(
        c.contains("  SIPpeers ") && c.contains("  Originate "),
        "{c}"
    );
    let c = d.rx("manager show command DBGet");
    assert!(c.contains("[Privilege]\nsystem,reporting,all"), "{c}");
    // `module show` does not list the manager (part of Asterisk's core).
    let m = d.rx("module show like manager");
    assert!(m.contains("0 modules loaded"), "{m}");
}

/// A plain TCP client that sent a Login (events off); read the answer with
/// [`read_message`].
fn raw_login(port: u16, user: &str, secret: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to AMI");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut r = BufReader::new(s);
    let mut banner = String::new();
    r.read_line(&mut banner).expect("banner");
    assert_eq!(banner, "Asterisk Call Manager/9.0.0\r\n");
    write!(
        r.get_mut(),
        "Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: off\r\n\r\n"
    )
    .expect("send");
    r
}

/// One message (up to the blank line).
fn read_message(r: &mut BufReader<TcpStream>) -> String {
    let mut out = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            return out;
        }
        out.push_str(&l);
    }
}

#[test]
fn manager_conf_errors_stop_start_up_and_a_broken_reload_keeps_the_running_one() {
    let dir = tempdir();
    let conf = write_configs(
        dir.path(),
        &[
            ("extensions.conf", EXTENSIONS),
            (
                "manager.conf",
                "[general]\nenabled = yes\nport = nope\n\n[admin]\nsecret = x\n",
            ),
        ],
    );
    let err = start_must_fail(&conf);
    assert!(err.contains("manager.conf:3:"), "{err}");
    assert!(err.contains("port: expected a port number"), "{err}");

    let port = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("manager.conf", &manager_conf(port)),
    ]);
    let mut r = raw_login(port, "admin", "adminpw");
    let m = read_message(&mut r);
    assert_eq!(
        m,
        "Response: Success\r\nMessage: Authentication accepted\r\n"
    );
    std::fs::write(
        d.path().join("manager.conf"),
        "[general]\nenabled = yes\n[admin]\npermit = 300.1.1.1\n",
    )
    .expect("write");
    let out = d.rx_output("manager reload");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("manager.conf:4:"), "{text}");
    assert!(text.contains("keeping the running configuration"), "{text}");
    // Still listening, with the old users.
    write!(r.get_mut(), "Action: Ping\r\nActionID: p1\r\n\r\n").expect("send");
    let m = read_message(&mut r);
    assert!(
        m.starts_with("Response: Success\r\nActionID: p1\r\nPing: Pong\r\n"),
        "{m}"
    );
    let mut r2 = raw_login(port, "admin", "adminpw");
    assert!(read_message(&mut r2).contains("Authentication accepted"));
    // Unauthenticated actions are refused; Logoff says goodbye and closes.
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut r3 = BufReader::new(s);
    let mut banner = String::new();
    r3.read_line(&mut banner).expect("banner");
    write!(r3.get_mut(), "Action: Ping\r\n\r\nAction: Logoff\r\n\r\n").expect("send");
    assert_eq!(
        read_message(&mut r3),
        "Response: Error\r\nMessage: Permission denied\r\n"
    );
    assert_eq!(
        read_message(&mut r3),
        "Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n"
    );
    assert_eq!(read_message(&mut r3), "", "closed after Logoff");

    // authlimit and authtimeout, from a reloaded configuration.
    std::fs::write(
        d.path().join("manager.conf"),
        format!(
            "[general]\nenabled = yes\nport = {port}\nbindaddr = 127.0.0.1\n\
             authlimit = 1\nauthtimeout = 1\n[admin]\nsecret = adminpw\n"
        ),
    )
    .expect("write");
    let out = d.rx("manager reload");
    assert!(!out.contains("error"), "{out}");
    let s = d.rx("manager show settings");
    assert!(s.contains("  Auth limit:                1\n"), "{s}");
    let idle = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut idle = BufReader::new(idle);
    let mut banner = String::new();
    idle.read_line(&mut banner).expect("banner");
    assert_eq!(banner, "Asterisk Call Manager/9.0.0\r\n");
    // A second connection that has not logged in is one too many: closed at once.
    let extra = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    extra.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut extra = BufReader::new(extra);
    let mut line = String::new();
    assert_eq!(extra.read_line(&mut line).unwrap_or(0), 0, "{line}");
    // The idle one is closed after authtimeout.
    idle.get_ref()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok();
    assert_eq!(read_message(&mut idle), "", "closed after authtimeout");
    // Logged-in clients do not count.
    let mut ok = raw_login(port, "admin", "adminpw");
    assert!(read_message(&mut ok).contains("Authentication accepted"));
    let mut ok2 = raw_login(port, "admin", "adminpw");
    assert!(read_message(&mut ok2).contains("Authentication accepted"));
}
