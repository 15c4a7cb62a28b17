//! End to end: the real `ferrisk` binary in the foreground on a temporary config, driven
//! only through `ferrisk -C … -rx "…"`, as an admin's scripts would.

mod common;

use common::{start_must_fail, tempdir, write_config, write_configs, Daemon, BIN, FERRISK_CONF};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BASE_DIALPLAN: &str = "\
[general]
autofallthrough = yes

[test]
exten => 100,1,Answer()
 same => n(loop),NoOp(hello)
 same => n,Hangup()
exten => s,1,Set(DB(test/origin)=${EXTEN})
 same => n,Hangup()

[wait]
exten => 1,1,Answer()
 same => n,Wait(5)
 same => n,Hangup()
";

#[test]
fn version_and_help() {
    let d = Daemon::start(BASE_DIALPLAN);
    let v = d.rx("core show version");
    assert!(v.starts_with("ferrisk 0.1.0 built by "), "{v}");
    let h = d.rx("help database");
    assert!(h.contains("database put"), "{h}");
    let u = d.rx("core show uptime");
    assert!(u.starts_with("System uptime: "), "{u}");
    let n = d.rx("core frobnicate");
    assert!(n.starts_with("No such command 'core frobnicate'"), "{n}");
}

#[test]
fn database_commands() {
    let d = Daemon::start(BASE_DIALPLAN);
    assert_eq!(
        d.rx("database put cidname 5551234 \"Alice Smith\""),
        "Updated database successfully\n"
    );
    assert_eq!(
        d.rx("database put fam/sub k1 v1"),
        "Updated database successfully\n"
    );
    assert_eq!(
        d.rx("database put fam/sub k2 v2"),
        "Updated database successfully\n"
    );
    assert_eq!(d.rx("database get cidname 5551234"), "Value: Alice Smith\n");
    assert_eq!(
        d.rx("database get cidname 999"),
        "Database entry not found.\n"
    );
    let all = d.rx("database show");
    assert!(
        all.contains(&format!(
            "{:<50}: {:<25}\n",
            "/cidname/5551234", "Alice Smith"
        )),
        "{all}"
    );
    assert!(all.ends_with("3 results found.\n"), "{all}");
    assert!(d.rx("database show fam").ends_with("2 results found.\n"));
    assert_eq!(
        d.rx("database del cidname 5551234"),
        "Database entry removed.\n"
    );
    assert_eq!(
        d.rx("database del cidname 5551234"),
        "Database entry does not exist.\n"
    );
    assert_eq!(
        d.rx("database deltree fam"),
        "2 database entries removed.\n"
    );
    assert_eq!(d.rx("database show"), "0 results found.\n");
}

#[test]
fn dialplan_show_and_reload() {
    let d = Daemon::start(BASE_DIALPLAN);
    let s = d.rx("dialplan show test");
    assert!(
        s.starts_with("[ Context 'test' created by 'pbx_config' ]\n"),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "  {:<17} {:<45} [extensions.conf:5]\n",
            "'100' =>", "1. Answer()"
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "  {:<17} {:<45} [extensions.conf:6]\n",
            "   [loop]", "2. NoOp(hello)"
        )),
        "{s}"
    );
    assert!(
        s.ends_with("-= 2 extensions (5 priorities) in 1 context. =-\n"),
        "{s}"
    );

    // Add an extension and a context: the reload reports them.
    let more = format!(
        "{BASE_DIALPLAN}\n[test](+)\nexten => 200,1,NoOp(new)\n\n[extra]\nexten => 1,1,NoOp()\n"
    );
    d.write_extensions(&more);
    let r = d.rx("dialplan reload");
    assert!(r.contains("Context 'extra' added"), "{r}");
    assert!(r.contains("[test] extension '200' added"), "{r}");
    assert!(r.contains("Dialplan reloaded.\n"), "{r}");
    assert!(d.rx("dialplan show 200@test").contains("1. NoOp(new)"));

    // A broken file: every error with file:line:column, the running dialplan is kept.
    d.write_extensions("[test]\nexten => 300,1,NoOp()\nexten => 300,bogus,NoOp()\n");
    let r = d.rx("dialplan reload");
    assert!(r.contains("extensions.conf:3:"), "{r}");
    assert!(
        r.contains("Dialplan reload failed; keeping the current dialplan (3 contexts)."),
        "{r}"
    );
    let s = d.rx("dialplan show 200@test");
    assert!(
        s.contains("1. NoOp(new)"),
        "old dialplan must still answer: {s}"
    );
    assert!(d
        .rx("dialplan show 300@test")
        .starts_with("There is no existence of 300@test extension"));
}

#[test]
fn channels_and_stop() {
    let d = Daemon::start(BASE_DIALPLAN);
    let c = d.rx("core show channels");
    assert!(
        c.starts_with(&format!(
            "{:<64} {:<32} {:<7} {:<30}\n",
            "Channel", "Location", "State", "Application(Data)"
        )),
        "{c}"
    );
    assert!(c.contains("0 active channels\n0 active calls\n"), "{c}");
    assert_eq!(d.rx("core show channels count").lines().count(), 3);
    assert_eq!(
        d.rx("channel request hangup Foo/1"),
        "Foo/1 is not a known channel\n"
    );
    d.rx("core stop now");
    let sock = d.dir.path().join("run/ferrisk.ctl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sock.exists() {
        assert!(Instant::now() < deadline, "daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = d.rx_output("core show version");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Unable to connect to remote asterisk (does "),
        "{err}"
    );
}

#[test]
fn broken_dialplan_at_startup_is_fatal() {
    let dir = tempdir();
    let conf = write_config(dir.path(), "[test]\nexten => 100,bogus,NoOp()\n");
    let err = common::start_must_fail(&conf);
    assert!(err.contains("extensions.conf:2:"), "{err}");
}

/// Needs the Answer, Wait, Hangup and Set applications and the DB function, which land
/// separately: until they do, this test fails.
#[test]
fn originate_extension_runs_dialplan() {
    let d = Daemon::start(BASE_DIALPLAN);
    assert_eq!(d.rx("channel originate Local/1@wait extension s@test"), "");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = d.rx("database show test");
        if s.contains(&format!("{:<50}: {:<25}\n", "/test/origin", "s")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "originated call never ran s@test: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn stale_socket_is_replaced_and_module_reload() {
    let dir = tempdir();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    drop(std::os::unix::net::UnixListener::bind(run.join("ferrisk.ctl")).expect("bind"));
    std::fs::write(run.join("ferrisk.pid"), "999999\n").expect("pid");
    let d = Daemon::start_in(dir, BASE_DIALPLAN);
    let pid = std::fs::read_to_string(run.join("ferrisk.pid")).expect("pid file");
    assert_eq!(
        pid.trim(),
        d.child.as_ref().map(|c| c.id()).unwrap_or(0).to_string()
    );
    let r = d.rx("module reload pbx_config");
    assert!(
        r.contains("No changes to the dialplan.\nDialplan reloaded.\n"),
        "{r}"
    );
    let r = d.rx("module reload nosuchmodule");
    assert_eq!(r, "No such module 'nosuchmodule'\n");
    let v = d.rx("core set verbose 4");
    assert_eq!(v, "Verbosity was 0 and is now 4\n");
}

/// Kills a daemonized ferrisk (known only by its pid file) when the test ends.
struct PidGuard(PathBuf);
impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Ok(p) = std::fs::read_to_string(&self.0) {
            if let Ok(pid) = p.trim().parse::<i32>() {
                // SAFETY: plain kill(2) on the daemon this test started.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

#[test]
fn daemonizes_without_f() {
    let dir = tempdir();
    let conf = write_config(dir.path(), BASE_DIALPLAN);
    let _guard = PidGuard(dir.path().join("run/ferrisk.pid"));
    let out = Command::new(BIN)
        .arg("-C")
        .arg(&conf)
        .stdin(Stdio::null())
        .output()
        .expect("run ferrisk");
    assert!(out.status.success(), "{out:?}");
    let v = Command::new(BIN)
        .arg("-C")
        .arg(&conf)
        .arg("-rx")
        .arg("core show version")
        .output()
        .expect("rx");
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("ferrisk 0.1.0"));
    // A second start refuses to run.
    let again = Command::new(BIN)
        .arg("-C")
        .arg(&conf)
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));
    // SIGTERM is a graceful stop: the socket and pid file go away.
    let pid: i32 = std::fs::read_to_string(dir.path().join("run/ferrisk.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    // SAFETY: plain kill(2) on the daemon this test started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.path().join("run/ferrisk.ctl").exists() {
        assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.path().join("log/console.log")).unwrap_or_default();
    assert!(log.contains("ferrisk Ready."), "{log}");
}

const CALL_FLOW: &str = "\
[general]
autofallthrough = yes

[globals]
LIMIT = 5

[start]
exten => s,1,Set(_ONCE=one)
 same => n,Set(__ALWAYS=always)
 same => n,Set(PLAIN=plain)
 same => n,Gosub(sub-count,s,1(${LIMIT}))
 same => n,Set(DB(flow/count)=${GOSUB_RETVAL})
 same => n,Dial(Local/callee@inner&Local/busy@inner,10,g)
 same => n,Set(DB(flow/dialstatus)=${DIALSTATUS})
 same => n,Dial(Local/busy@inner,10)
 same => n,Set(DB(flow/busystatus)=${DIALSTATUS})
 same => n,Hangup(17)
exten => h,1,Set(DB(flow/h)=${CDR(dst)}:${CDR(disposition)}:${HANGUPCAUSE}:${CDR(lastapp)})

[sub-count]
exten => s,1,Set(LOCAL(i)=0)
 same => n,While($[${i} < ${ARG1}])
 same => n,Set(i=$[${i} + 1])
 same => n,EndWhile()
 same => n,Return(${i})

[inner]
exten => callee,1,Answer()
 same => n,Set(DB(flow/inherited)=${ONCE}|${ALWAYS}|${PLAIN})
 same => n,Dial(Local/grandchild@inner,5,g)
 same => n,Hangup()
exten => grandchild,1,Set(DB(flow/grand)=${ONCE}|${ALWAYS})
 same => n,Answer()
 same => n,Hangup()
exten => busy,1,Busy()
";

#[test]
fn call_flow_with_dial_gosub_while_and_inheritance() {
    let d = Daemon::start(CALL_FLOW);
    assert_eq!(
        d.rx("channel originate Local/s@start application Wait 1"),
        ""
    );
    assert_eq!(d.wait_db("flow", "h"), "s:ANSWERED:17:Hangup");
    assert_eq!(d.wait_db("flow", "count"), "5");
    assert_eq!(d.wait_db("flow", "inherited"), "one|always|");
    assert_eq!(d.wait_db("flow", "grand"), "|always");
    assert_eq!(d.wait_db("flow", "dialstatus"), "ANSWER");
    assert_eq!(d.wait_db("flow", "busystatus"), "BUSY");
    let shown = d.rx("database show flow");
    assert!(shown.ends_with("6 results found.\n"), "{shown}");
    // The CDR of the calling channel is in Master.csv, in Asterisk's column order.
    let csv = d.dir.path().join("log/cdr-csv/Master.csv");
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&csv).unwrap_or_default();
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("\"Local/s@start-") && l.contains(";2\""))
        {
            break l.to_string();
        }
        assert!(Instant::now() < deadline, "no CDR for the caller: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let cols: Vec<&str> = line.split(',').collect();
    assert_eq!(cols[2], "\"s\"", "{line}");
    assert_eq!(cols[3], "\"start\"", "{line}");
    assert!(
        cols[6].starts_with("\"Local/busy@inner-"),
        "dstchannel: {line}"
    );
    assert_eq!(cols[7], "\"Hangup\"", "{line}");
    assert_eq!(cols[14], "\"ANSWERED\"", "{line}");
}

#[test]
fn astdb_survives_kill_9() {
    let d = Daemon::start(BASE_DIALPLAN);
    assert_eq!(
        d.rx("database put durable key1 value1"),
        "Updated database successfully\n"
    );
    d.rx("channel originate Local/1@wait extension s@test");
    assert_eq!(d.wait_db("test", "origin"), "s");
    let dir = d.kill9();
    let d = Daemon::start_in(dir, BASE_DIALPLAN);
    assert_eq!(d.rx("database get durable key1"), "Value: value1\n");
    assert_eq!(d.rx("database get test origin"), "Value: s\n");
}

#[test]
fn hangup_request_ends_a_call_and_runs_h() {
    let d = Daemon::start(
        "[test]\nexten => long,1,Answer()\n same => n,Wait(60)\nexten => h,1,Set(DB(hang/cause)=${HANGUPCAUSE})\n",
    );
    d.rx("channel originate Local/long@test application Wait 60");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = d.rx("core show channels");
        if s.contains("2 active channels") {
            assert!(
                s.starts_with(&format!(
                    "{:<64} {:<32} {:<7} {:<30}\n",
                    "Channel", "Location", "State", "Application(Data)"
                )),
                "{s}"
            );
            assert!(s.contains("Wait(60)"), "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "calls never showed: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = d.rx("channel request hangup all");
    assert!(out.contains("Requested Hangup on channel"), "{out}");
    assert_eq!(d.wait_db("hang", "cause"), "16");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.rx("core show channels").contains("0 active channels") {
        assert!(Instant::now() < deadline, "channels did not go away");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_does_not_disturb_calls_in_progress() {
    let d = Daemon::start(
        "[test]\nexten => long,1,Answer()\n same => n,Wait(1)\n same => n,Set(DB(reload/after)=old)\n",
    );
    d.rx("channel originate Local/long@test application Wait 5");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.rx("core show channels").contains("2 active channels") {
        assert!(Instant::now() < deadline, "call never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    d.write_extensions(
        "[test]\nexten => long,1,Answer()\n same => n,Wait(1)\n same => n,Set(DB(reload/after)=new)\nexten => added,1,NoOp()\n",
    );
    let out = d.rx("dialplan reload");
    assert!(out.contains("Dialplan reloaded."), "{out}");
    // The running call was not hung up; it goes on with the dialplan now in force.
    assert!(d.rx("core show channels").contains("2 active channels"));
    assert_eq!(d.wait_db("reload", "after"), "new");
}

#[test]
fn core_show_channel_lists_variables() {
    let d = Daemon::start(
        "[test]\nexten => v,1,Set(__INHERIT=yes)\n same => n,Set(PLAIN=value one)\n same => n,Answer()\n same => n,Wait(30)\n",
    );
    d.rx("channel originate Local/v@test application Wait 30");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = d.rx("core show channel Local/v@test-00000000;2");
        if s.contains("PLAIN=value one") {
            assert!(s.contains("__INHERIT=yes"), "{s}");
            assert!(s.contains("Application: Wait"), "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "variables never shown: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Dial with parallel legs: the leg that lost the race hangs up after the winner answered;
/// the bridge with the winner goes on (it ended at once before: the loser's late hang-up
/// was taken for the winner's).
#[test]
fn dial_bridge_survives_the_losing_legs_late_hangup() {
    let d = Daemon::start(
        "[start]\n\
         exten => s,1,Dial(Local/callee@inner&Local/busy@inner,10,g)\n\
         \x20same => n,Set(DB(flow/after)=${DIALSTATUS})\n\
         [inner]\n\
         exten => callee,1,Answer()\n\
         \x20same => n,Wait(0.5)\n\
         \x20same => n,Set(DB(flow/callee)=still bridged)\n\
         \x20same => n,Hangup()\n\
         exten => busy,1,Wait(0.2)\n\
         \x20same => n,Busy()\n",
    );
    assert_eq!(
        d.rx("channel originate Local/s@start application Wait 5"),
        ""
    );
    assert_eq!(d.wait_db("flow", "callee"), "still bridged");
    assert_eq!(d.wait_db("flow", "after"), "ANSWER");
}

#[test]
fn the_control_socket_is_owner_only_unless_asterisk_conf_says_otherwise() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let d = Daemon::start("[default]\n");
    let meta = std::fs::metadata(d.path().join("run/ferrisk.ctl")).expect("socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // No leftover private directory.
    let leftovers: Vec<_> = std::fs::read_dir(d.path().join("run"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ctl"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    drop(d);

    let conf = format!("{FERRISK_CONF}\n[files]\nastctlpermissions = 0660\nastctlgroup = daemon\n");
    let d = Daemon::start_with(&[("ferrisk.conf", &conf), ("extensions.conf", "[default]\n")]);
    let sock = d.path().join("run/ferrisk.ctl");
    let meta = std::fs::metadata(&sock).expect("socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let daemon_gid = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("daemon:"))
        .and_then(|l| l.split(':').nth(2))
        .and_then(|g| g.parse::<u32>().ok())
        .expect("a daemon group");
    assert_eq!(meta.gid(), daemon_gid);
    // The remote console finds it through the same config.
    assert!(d.rx("core show version").contains("ferrisk"));
}

#[test]
fn bad_control_socket_permissions_stop_start_up_with_the_line() {
    let dir = tempdir();
    let conf = write_configs(
        dir.path(),
        &[
            (
                "ferrisk.conf",
                &format!("{FERRISK_CONF}\n[files]\nastctlpermissions = rw-rw----\n"),
            ),
            ("extensions.conf", "[default]\n"),
        ],
    );
    let err = start_must_fail(&conf);
    assert!(err.contains("ferrisk.conf:"), "{err}");
    assert!(err.contains("astctlpermissions"), "{err}");
}
