//! The logger end to end: the real `ferrisk` daemon with a `logger.conf`; a call placed
//! with `channel originate`, a SIPp phone with a wrong password, warnings of a dialplan
//! reload (in `messages` and in the `-rx` reply), `logger show channels`, `logger reload`
//! of a broken file, `logger rotate` with each strategy and `exec_after_rotate`, and
//! syslog received by a real rsyslogd.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const EXTENSIONS: &str =
    "[internal]\nexten => 600,1,Answer()\n same => n,Verbose(1,in the call)\n same => n,Hangup()\n";

fn logger_conf(general: &str) -> String {
    format!(
        "[general]\n{general}\n[logfiles]\nconsole => notice,warning,error\nmessages => notice,warning,error\n\
         full => notice,warning,error,verbose(3),dtmf\nsecurity => security\n"
    )
}

fn sip_conf(port: u16) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=public\nallowguest=no\n\
         alwaysauthreject=yes\nrealm=ferrisk\nmax_registers_per_second=0\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=4711\ncontext=internal\n"
    )
}

fn read(d: &Daemon, name: &str) -> String {
    std::fs::read_to_string(d.path().join("log").join(name)).unwrap_or_default()
}

fn wait_file(d: &Daemon, name: &str, needle: &str) -> String {
    wait_for(20, &format!("{needle:?} in log/{name}"), || {
        Some(read(d, name)).filter(|t| t.contains(needle))
    })
}

fn pid_of(d: &Daemon) -> String {
    std::fs::read_to_string(d.path().join("run/ferrisk.pid"))
        .expect("pid file")
        .trim()
        .to_string()
}

#[test]
fn files_carry_the_call_the_warnings_and_the_security_events() {
    let port = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf(port)),
        ("logger.conf", &logger_conf("")),
    ]);
    let pid = pid_of(&d);

    // A call: the console verbosity is 0, `full` takes verbose(3) all the same, with the
    // call id and the text the console shows after its `    -- ` prefix.
    d.rx("channel originate Local/600@internal application Wait 1");
    let full = wait_file(
        &d,
        "full",
        "Verbose(\"Local/600@internal-00000000;2\", \"1,in the call\")",
    );
    let exec = full
        .lines()
        .find(|l| l.contains("Executing [600@internal:1]"))
        .unwrap_or_else(|| panic!("no Executing line:\n{full}"));
    let head = format!("] VERBOSE[{pid}][C-");
    assert!(exec.contains(&head), "{exec}");
    assert!(
        exec.ends_with("] pbx.c: Executing [600@internal:1] Answer(\"Local/600@internal-00000000;2\", \"\") in new stack"),
        "{exec}"
    );
    let callid = &exec[exec.find("[C-").unwrap()..][..12];
    assert!(
        full.lines()
            .filter(|l| l.contains("Executing [600@internal:"))
            .all(|l| l.contains(callid)),
        "one call id for the call:\n{full}"
    );
    assert!(full.contains(&format!("{callid} ")), "{full}");
    assert!(full.contains(": in the call\n"), "{full}");
    assert!(!read(&d, "messages").contains("Executing"));
    assert!(full.starts_with('['), "{full}");

    // A phone with a wrong password: a SECURITY line in `security`, nowhere else.
    let _ = Sipp::new("register_auth.xml", Some(port))
        .local_ip("127.0.0.2")
        .local_port(free_port())
        .service("1000")
        .auth("1000", "9999")
        .key("expires", 600)
        .set("want_expires", 600)
        .timeout(10)
        .run();
    let sec = wait_file(&d, "security", "SecurityEvent=\"InvalidPassword\"");
    let line = sec.lines().find(|l| l.contains("InvalidPassword")).unwrap();
    assert!(
        line.contains(&format!(
            "] SECURITY[{pid}] res_security_log.c: SecurityEvent=\"InvalidPassword\",EventTV=\""
        )),
        "{line}"
    );
    assert!(
        line.contains("RemoteAddress=\"IPV4/UDP/127.0.0.2/"),
        "{line}"
    );
    assert!(!read(&d, "messages").contains("SECURITY["));

    // Warnings of a `-rx "dialplan reload"`: in its reply (as the console prints them)
    // and in `messages` (as a file line).
    d.write_extensions(&format!("{EXTENSIONS}exten => 601,1,NoSuchApp()\n"));
    let out = d.rx("dialplan reload");
    let warn = out
        .lines()
        .find(|l| l.contains("NoSuchApp"))
        .unwrap_or_else(|| panic!("no warning in the -rx reply:\n{out}"));
    assert!(
        warn.starts_with('[') && warn.contains(&format!("] WARNING[{pid}]: ")),
        "{warn}"
    );
    // Logged while the command ran: before its output, as Asterisk's remote console.
    let reloaded = out.lines().position(|l| l == "Dialplan reloaded.");
    let warned = out.lines().position(|l| l.contains("NoSuchApp"));
    assert!(
        warned.is_some() && reloaded.is_some() && warned < reloaded,
        "{out}"
    );
    let messages = wait_file(&d, "messages", "NoSuchApp");
    let mline = messages.lines().find(|l| l.contains("NoSuchApp")).unwrap();
    assert!(
        mline.contains(&format!("] WARNING[{pid}] pbx_config.c: ")),
        "{mline}"
    );
    // The NOTICE lines of the start-up are there too (the logger starts before modules).
    assert!(
        messages.contains(&format!("] NOTICE[{pid}] loader.c: ")),
        "{messages}"
    );

    // logger show channels: Asterisk's columns, the last channel first.
    let log = d.path().join("log");
    let show = d.rx("logger show channels");
    let want = format!(
        "Logger queue limit: 1000\n\n\
         Channel                             Type     Formatter  Status    Configuration\n\
         -------                             ----     ---------  ------    -------------\n\
         {:<35} File     default    Enabled    - SECURITY \n\
         {:<35} File     default    Enabled    - NOTICE WARNING ERROR VERBOSE DTMF \n\
         {:<35} File     default    Enabled    - NOTICE WARNING ERROR \n\
         {:<35} Console  default    Enabled    - NOTICE WARNING ERROR VERBOSE \n\n",
        &log.join("security").display().to_string(),
        &log.join("full").display().to_string(),
        &log.join("messages").display().to_string(),
        ""
    );
    if log.display().to_string().len() + 9 <= 35 {
        assert_eq!(show, want);
    } else {
        assert!(
            show.contains("- NOTICE WARNING ERROR VERBOSE DTMF \n"),
            "{show}"
        );
    }

    // A broken logger.conf: the reload names file:line:column and the old setup runs on.
    std::fs::write(
        d.path().join("logger.conf"),
        "[general]\n[logfiles]\nmessages => notice,warnings\n",
    )
    .unwrap();
    let o = d.rx_output("logger reload");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("logger.conf:3:1: unknown log level 'warnings'"),
        "{text}"
    );
    assert!(text.contains("Failed to reload the logger"), "{text}");
    assert_eq!(d.rx("logger show channels"), show);
    d.rx("channel originate Local/600@internal application Wait 1");
    wait_file(&d, "full", "Local/600@internal-00000001;2");

    // A call and the legs it dials share its call id.
    d.write_extensions(&format!(
        "{EXTENSIONS}exten => 602,1,Dial(Local/600@internal,5)\n"
    ));
    d.rx("dialplan reload");
    d.rx("channel originate Local/602@internal application Wait 1");
    let full = wait_file(&d, "full", "Answer(\"Local/600@internal-00000003;2\"");
    let id_of = |needle: &str| {
        let l = full
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{full}"));
        l[l.find("[C-").unwrap()..][..12].to_string()
    };
    let caller = id_of("Executing [602@internal:1] Dial(");
    assert_eq!(caller, id_of("Answer(\"Local/600@internal-00000003;2\""));
    assert_ne!(caller, callid);
}

#[test]
fn logger_rotate_with_each_strategy() {
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("logger.conf", &logger_conf("")),
    ]);
    let log = d.path().join("log");
    let after = d.path().join("after");
    let mut names = vec![];
    let files = |log: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(log)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("messages"))
            .collect();
        v.sort();
        v
    };
    for (strategy, want_files, want_arg) in [
        ("none", vec!["messages"], "messages"),
        ("sequential", vec!["messages", "messages.0"], "messages.0"),
        (
            "rotate",
            vec!["messages", "messages.0", "messages.1"],
            "messages",
        ),
    ] {
        std::fs::write(
            d.path().join("logger.conf"),
            logger_conf(&format!(
                "rotatestrategy = {strategy}\nexec_after_rotate = echo ${{filename}} >> {}\n",
                after.display()
            )),
        )
        .unwrap();
        assert_eq!(d.rx("logger reload"), "");
        assert_eq!(d.rx("logger rotate"), "");
        assert_eq!(files(&log), want_files, "{strategy}");
        names.push(log.join(want_arg).display().to_string());
        // Every file of the channels was rotated; exec_after_rotate ran for each.
        let want_lines = names.len() * 3;
        wait_for(20, "exec_after_rotate", || {
            let t = std::fs::read_to_string(&after).unwrap_or_default();
            (t.lines().count() >= want_lines).then_some(())
        });
        let t = std::fs::read_to_string(&after).unwrap();
        assert!(
            t.lines().any(|l| l == names.last().unwrap()),
            "{strategy}: {t}"
        );
    }
    // timestamp: messages.<epoch seconds>.
    std::fs::write(
        d.path().join("logger.conf"),
        logger_conf("rotatestrategy = timestamp\n"),
    )
    .unwrap();
    d.rx("logger reload");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    d.rx("logger rotate");
    let stamped: Vec<String> = files(&log)
        .into_iter()
        .filter(|n| {
            n.strip_prefix("messages.")
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|t| t >= before && t > 100)
        })
        .collect();
    assert_eq!(stamped.len(), 1, "{:?}", files(&log));
    // The reopened file gets the next lines.
    d.write_extensions(&format!("{EXTENSIONS}exten => 601,1,NoSuchApp()\n"));
    d.rx("dialplan reload");
    wait_file(&d, "messages", "NoSuchApp");
}

struct Rsyslog {
    child: Child,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn syslog_lines_reach_a_real_rsyslogd() {
    let bin = require_bin("rsyslogd", "rsyslog");
    let dir = tempdir();
    let sock = dir.path().join("log.sock");
    let out = dir.path().join("syslog.out");
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            "global(workDirectory=\"{d}\")\n\
             module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{s}\" CreatePath=\"on\")\n\
             local0.* action(type=\"omfile\" file=\"{o}\" template=\"RSYSLOG_TraditionalFileFormat\")\n",
            d = dir.path().display(),
            s = sock.display(),
            o = out.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.path().join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsyslogd");
    let _rs = Rsyslog { child };
    wait_for(20, "rsyslogd's socket", || sock.exists().then_some(()));

    let ddir = tempdir();
    write_configs(
        ddir.path(),
        &[
            ("extensions.conf", EXTENSIONS),
            (
                "logger.conf",
                "[logfiles]\nconsole => notice,warning,error\nsyslog.local0 => notice,warning,error\n",
            ),
        ],
    );
    // The daemon inherits the test's socket path.
    std::env::set_var("FERRISK_TEST_SYSLOG_SOCKET", &sock);
    let d = Daemon::launch(ddir);
    let pid = pid_of(&d);
    let text = wait_for(20, "the notice in syslog", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.contains("modules will be loaded"))
    });
    let line = text
        .lines()
        .find(|l| l.contains("modules will be loaded"))
        .unwrap();
    assert!(
        line.contains(&format!(" ferrisk[{pid}]: NOTICE[{pid}]: loader.c: ")),
        "{line}"
    );
    assert!(d.rx("logger show channels").contains(&format!(
        "{:<35} Syslog   default    Enabled    - NOTICE WARNING ERROR \n",
        "syslog.local0"
    )));
}

#[test]
fn dtmf_digits_a_sipp_phone_sends_go_to_full() {
    let sip = free_port();
    let base = free_ports(4);
    let rtp = base + (base & 1);
    let d = Daemon::start_with(&[
        (
            "extensions.conf",
            "[guests]\nexten => 300,1,Answer()\n same => n,Read(DIGITS,,4)\n same => n,Set(DB(test/digits)=${DIGITS})\n same => n,Hangup()\n",
        ),
        (
            "sip.conf",
            &format!(
                "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
                 realm=ferrisk\ndisallow=all\nallow=ulaw\nallow=alaw\n"
            ),
        ),
        ("rtp.conf", &format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 1)),
        ("logger.conf", &logger_conf("")),
    ]);
    let pid = pid_of(&d);
    Sipp::new("uac_dtmf_1934.xml", Some(sip))
        .local_port(free_port())
        .service("300")
        .key("from_user", "guest")
        .timeout(20)
        .run()
        .assert_ok("Read() got 4 digits and the dialplan hung up");
    assert_eq!(d.wait_db("test", "digits"), "1934");
    let full = wait_file(&d, "full", "DTMF end '4'");
    let dtmf: Vec<&str> = full.lines().filter(|l| l.contains("DTMF[")).collect();
    assert_eq!(dtmf.len(), 4, "{full}");
    for (l, digit) in dtmf.iter().zip(['1', '9', '3', '4']) {
        assert!(l.contains(&format!("] DTMF[{pid}][C-")), "{l}");
        assert!(
            l.contains(&format!("] channel.c: DTMF end '{digit}' received on SIP/")),
            "{l}"
        );
    }
    // Not a console level here, not in messages.
    assert!(!read(&d, "messages").contains("DTMF"));
    assert!(!d.console().contains("DTMF end"));
}
