//! The logger against a temporary log directory: routing by level, `verbose(N)`, file
//! lines, reload (a broken file keeps the running configuration), rotate.

use super::*;

fn setup(conf: Option<&str>) -> (tempfile::TempDir, Logger) {
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    if let Some(c) = conf {
        std::fs::write(etc.join("logger.conf"), c).unwrap();
    }
    let l = Logger::new(&etc, &d.path().join("log"), LoadOptions::default());
    (d, l)
}

fn rec(level: Level, sublevel: u8, sys: u8, msg: &str) -> Record {
    Record {
        level,
        sublevel,
        sys_verbose: sys,
        file: "pbx.c".into(),
        callid: 0x1f,
        msg: msg.into(),
        time: SystemTime::now(),
    }
}

fn log(l: &Logger, r: Record) {
    if l.wants(r.level, r.sublevel, r.sys_verbose) {
        l.submit(r);
    }
}

fn read(d: &tempfile::TempDir, name: &str) -> String {
    std::fs::read_to_string(d.path().join("log").join(name)).unwrap_or_default()
}

const CONF: &str =
    "[general]\n[logfiles]\nconsole => notice,warning,error\nmessages => notice,warning,error\n\
    full => notice,warning,error,verbose(3),dtmf\nfollow => verbose\nsecurity => security\n";

#[test]
fn routing_levels_and_verbose_n() {
    let (d, l) = setup(Some(CONF));
    // Before start nothing is written and nothing is wanted.
    assert!(!l.wants(Level::Warning, 0, 0));
    assert!(l.start().is_empty());
    assert!(l.console_takes(Level::Warning) && !l.console_takes(Level::Security));
    assert!(!l.wants(Level::Debug, 0, 0));
    assert!(l.wants(Level::Verbose, 3, 0) && !l.wants(Level::Verbose, 4, 0));
    assert!(
        l.wants(Level::Verbose, 5, 5),
        "`follow` takes what the consoles see"
    );
    log(&l, rec(Level::Warning, 0, 0, "a warning"));
    log(
        &l,
        rec(
            Level::Verbose,
            3,
            0,
            "Executing [s@t:1] NoOp(\"x\", \"\") in new stack",
        ),
    );
    log(&l, rec(Level::Verbose, 4, 0, "level four"));
    log(&l, rec(Level::Verbose, 2, 2, "level two"));
    log(
        &l,
        rec(Level::Security, 0, 0, "SecurityEvent=\"InvalidPassword\""),
    );
    log(&l, rec(Level::Dtmf, 0, 0, "DTMF end '1' received"));
    l.reload(None, false).unwrap();
    let pid = std::process::id();
    let messages = read(&d, "messages");
    assert!(
        messages.contains(&format!("] WARNING[{pid}][C-0000001f] pbx.c: a warning\n")),
        "{messages}"
    );
    assert!(!messages.contains("Executing"), "{messages}");
    let full = read(&d, "full");
    assert!(full.contains(&format!("] VERBOSE[{pid}][C-0000001f] pbx.c: Executing [s@t:1] NoOp(\"x\", \"\") in new stack\n")), "{full}");
    assert!(
        full.contains("level two") && full.contains("DTMF[") && !full.contains("level four"),
        "{full}"
    );
    let follow = read(&d, "follow");
    assert!(
        follow.contains("level two") && !follow.contains("Executing"),
        "{follow}"
    );
    let sec = read(&d, "security");
    assert!(
        sec.contains(&format!(
            "] SECURITY[{pid}][C-0000001f] pbx.c: SecurityEvent="
        )),
        "{sec}"
    );
    assert!(!sec.contains("WARNING"), "{sec}");
    // Each file starts with the banner line.
    assert!(messages
        .lines()
        .next()
        .unwrap()
        .ends_with(&format!("] ferrisk {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn without_logger_conf_only_console_and_security() {
    let (d, l) = setup(None);
    assert!(l.start().is_empty());
    assert!(!l.wants(Level::Warning, 0, 0) && !l.wants(Level::Verbose, 0, 9));
    assert!(l.wants(Level::Security, 0, 0));
    assert!(l.console_takes(Level::Notice) && l.console_takes(Level::Verbose));
    log(&l, rec(Level::Security, 0, 0, "ev"));
    l.reload(None, false).unwrap();
    assert!(read(&d, "security").contains("SECURITY["));
    assert!(!d.path().join("log/messages").exists());
}

#[test]
fn broken_reload_keeps_the_running_config() {
    let (d, l) = setup(Some(CONF));
    l.start();
    std::fs::write(
        d.path().join("etc/logger.conf"),
        "[logfiles]\nmessages => notice,oops\n",
    )
    .unwrap();
    let e = l.reload(None, false).unwrap_err();
    assert!(
        e.contains("logger.conf:2:1: unknown log level 'oops'"),
        "{e}"
    );
    assert!(l.wants(Level::Verbose, 3, 0));
    log(&l, rec(Level::Error, 0, 0, "still here"));
    // An alternative file.
    std::fs::write(
        d.path().join("etc/alt.conf"),
        "[logfiles]\nother => error\n",
    )
    .unwrap();
    assert!(l.reload(Some("alt.conf"), false).unwrap().is_empty());
    assert!(read(&d, "messages").contains("still here"));
    log(&l, rec(Level::Error, 0, 0, "in other"));
    assert!(!l.wants(Level::Verbose, 0, 9));
    l.reload(Some("alt.conf"), false).unwrap();
    assert!(read(&d, "other").contains("in other"));
    assert_eq!(l.active().channels.len(), 1);
}

#[test]
fn rotate_renames_reopens_and_runs_exec_after_rotate() {
    let (d, l) = setup(None);
    let marker = d.path().join("marker");
    std::fs::write(
        d.path().join("etc/logger.conf"),
        format!(
            "[general]\nrotatestrategy=sequential\nexec_after_rotate=echo ${{filename}} >> {}\n[logfiles]\nmessages => error\n",
            marker.display()
        ),
    )
    .unwrap();
    l.start();
    log(&l, rec(Level::Error, 0, 0, "before"));
    l.reload(None, true).unwrap();
    log(&l, rec(Level::Error, 0, 0, "after"));
    l.reload(None, false).unwrap();
    assert!(read(&d, "messages.0").contains("before"));
    let now = read(&d, "messages");
    assert!(now.contains("after") && !now.contains("before"), "{now}");
    // exec_after_rotate ran with the archive's name (it runs on its own: wait for it).
    let want = format!("{}\n", d.path().join("log/messages.0").display());
    for _ in 0..200 {
        if std::fs::read_to_string(&marker).unwrap_or_default() == want {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!(
        "exec_after_rotate did not run: {:?}",
        std::fs::read_to_string(&marker)
    );
}

#[test]
fn a_full_queue_drops_and_says_so() {
    let (d, l) = setup(Some(
        "[general]\nlogger_queue_limit=10\n[logfiles]\nmessages => error,warning\n",
    ));
    l.start();
    assert_eq!(l.queue_limit(), 10);
    // Hold the writer: the queue fills, the rest is counted.
    l.pending.store(10, Ordering::Relaxed);
    log(&l, rec(Level::Error, 0, 0, "lost"));
    assert_eq!(l.dropped(), 1);
    l.pending.store(0, Ordering::Relaxed);
    log(&l, rec(Level::Error, 0, 0, "kept"));
    l.reload(None, false).unwrap();
    let m = read(&d, "messages");
    assert!(
        m.contains("WARNING[") && m.contains("logger: Logging resumed.  1 message discarded."),
        "{m}"
    );
    assert!(m.contains("kept") && !m.contains("lost"), "{m}");
}

#[test]
fn queue_log_lines_go_to_queue_log_name_rotate_and_turn_off() {
    let (d, l) = setup(Some(
        "[general]\nrotatestrategy=sequential\nqueue_log_name=qlog\n[logfiles]\nmessages => error\n",
    ));
    l.start();
    l.queue_log("1700000000.1", "support", "NONE", "ENTERQUEUE", "|1000|1");
    // A reload is a round trip through the writer: the line is on disk after it.
    l.reload(None, true).unwrap();
    let old = read(&d, "qlog.0");
    let (epoch, rest) = old.trim_end().split_once('|').expect("epoch|…");
    assert!(epoch.parse::<u64>().is_ok(), "{old}");
    assert_eq!(rest, "1700000000.1|support|NONE|ENTERQUEUE||1000|1");
    assert_eq!(l.queue_log_path(), d.path().join("log/qlog"));
    l.queue_log("NONE", "support", "SIP/1001", "PAUSE", "lunch");
    l.reload(None, false).unwrap();
    assert!(read(&d, "qlog").ends_with("|NONE|support|SIP/1001|PAUSE|lunch\n"));
    std::fs::write(
        d.path().join("etc/logger.conf"),
        "[general]\nqueue_log=no\nqueue_log_name=qlog\n",
    )
    .unwrap();
    l.reload(None, false).unwrap();
    l.queue_log("NONE", "support", "SIP/1001", "UNPAUSE", "");
    l.reload(None, false).unwrap();
    assert!(!read(&d, "qlog").contains("UNPAUSE"));
}
