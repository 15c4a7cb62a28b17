//! End to end: the module boundary as an admin meets it, on the real `ferrisk` binary driven
//! through `-rx`: `module show`, `module unload`/`load` of app_voicemail.so while the PBX runs
//! (a dialplan calling VoiceMail then behaves as Asterisk with an unknown application),
//! `noload` in `modules.conf`, and a `require`d module that does not exist stopping start-up.

mod common;

use common::{tempdir, write_configs, Daemon};
use std::time::{Duration, Instant};

const DIALPLAN: &str = "\
[test]
exten => vm,1,Set(DB(t/step)=1)
 same => n,VoiceMail(100@default,u)
 same => n,Set(DB(t/step)=3)
exten => h,1,Set(DB(t/h)=${DB(t/step)})
";

const VOICEMAIL: &str = "[default]\n100 => 1234,Test User\n";

#[test]
fn unload_and_load_app_voicemail_while_running() {
    let d = Daemon::start_with(&[("extensions.conf", DIALPLAN), ("voicemail.conf", VOICEMAIL)]);
    let all = d.rx("module show");
    let last = all.lines().last().unwrap_or("");
    let n: usize = last
        .strip_suffix(" modules loaded")
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no closing count: {all}"));
    for m in [
        "app_voicemail.so",
        "app_dial.so",
        "chan_local.so",
        "pbx_config.so",
        "func_strings.so",
        "cdr_csv.so",
        "res_musiconhold.so",
    ] {
        assert!(all.contains(m), "{m} not listed: {all}");
    }
    // Header plus one line per module plus the count.
    assert_eq!(all.lines().count(), n + 2, "{all}");
    assert!(all.starts_with(
        "Module                         Description                              Use Count  Status      Support Level\n"
    ));

    assert!(d
        .rx("core show applications like VoiceMail")
        .contains("VoiceMailMain"));
    assert_eq!(
        d.rx("module unload app_voicemail.so"),
        "Unloaded app_voicemail.so\n"
    );
    let apps = d.rx("core show applications like VoiceMail");
    assert!(!apps.contains("VoiceMail"), "{apps}");
    assert!(d
        .rx("module show like voicemail")
        .ends_with("0 modules loaded\n"));
    let cmd = d.rx("voicemail show users");
    assert!(cmd.starts_with("No such command"), "{cmd}");

    // The dialplan now meets an unknown application: the call hangs up at priority 2 and
    // the h extension runs; priority 3 never does.
    assert_eq!(
        d.rx("channel originate Local/vm@test application Wait 1"),
        ""
    );
    assert_eq!(d.wait_db("t", "h"), "1");
    assert_eq!(d.rx("database get t step"), "Value: 1\n");

    assert_eq!(
        d.rx("module load app_voicemail.so"),
        "Loaded app_voicemail.so\n"
    );
    assert!(d
        .rx("core show applications like VoiceMail")
        .contains("VoiceMailMain"));
    let users = d.rx("voicemail show users");
    assert!(users.contains("Test User"), "{users}");
    // As Asterisk's -rx, the reply carries the warning logged while the command ran.
    let again = d.rx("module load app_voicemail.so");
    let (warning, rest) = again.split_once('\n').unwrap_or_default();
    assert!(
        warning.starts_with('[')
            && warning.contains("] WARNING[")
            && warning
                .ends_with("]: loader.c: Module 'app_voicemail.so' already loaded and running."),
        "{again}"
    );
    assert_eq!(rest, "Unable to load module app_voicemail.so\n");
}

#[test]
fn noload_keeps_a_module_out_and_unknown_names_are_ignored() {
    let d = Daemon::start_with(&[
        ("extensions.conf", DIALPLAN),
        ("voicemail.conf", VOICEMAIL),
        (
            "modules.conf",
            "[modules]\nautoload=yes\nnoload => app_voicemail.so\nnoload => chan_pjsip.so\nnoload => res_odbc\n",
        ),
    ]);
    assert!(d
        .rx("module show like voicemail")
        .ends_with("0 modules loaded\n"));
    assert!(!d.rx("core show applications").contains("VoiceMail"));
    assert!(d.rx("module show like dial").contains("app_dial.so"));
    // It can still be loaded by hand.
    assert_eq!(d.rx("module load app_voicemail"), "Loaded app_voicemail\n");
    assert!(d
        .rx("module show like voicemail")
        .ends_with("1 modules loaded\n"));
}

#[test]
fn autoload_no_loads_only_what_is_listed() {
    let d = Daemon::start_with(&[
        ("extensions.conf", DIALPLAN),
        (
            "modules.conf",
            "[modules]\nautoload=no\nload => pbx_config.so\nload => chan_local.so\nload => func_db.so\n",
        ),
    ]);
    let all = d.rx("module show");
    assert!(all.ends_with("3 modules loaded\n"), "{all}");
    assert!(d.rx("core show applications").contains("Answer"));
    assert!(d
        .rx("module show like dial")
        .ends_with("0 modules loaded\n"));
}

#[test]
fn a_required_module_ferrisk_lacks_stops_start_up() {
    let dir = tempdir();
    let conf = write_configs(
        dir.path(),
        &[
            ("extensions.conf", DIALPLAN),
            (
                "modules.conf",
                "[modules]\nautoload=yes\nrequire => chan_pjsip.so\n",
            ),
        ],
    );
    let err = common::start_must_fail(&conf);
    assert!(
        err.contains("modules.conf:3:") && err.contains("chan_pjsip.so"),
        "{err}"
    );
}

#[test]
fn chan_sip_unloads_releases_its_port_and_loads_again() {
    let port = common::free_port();
    let sip = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=public\n\n[1001]\ntype=friend\nhost=dynamic\nsecret=x\ncontext=public\n"
    );
    let d = Daemon::start_with(&[("extensions.conf", DIALPLAN), ("sip.conf", &sip)]);
    assert!(d.rx("module show like chan_sip").contains("chan_sip.so"));
    assert!(d.rx("sip show peers").contains("1001"));
    assert_eq!(d.rx("module unload chan_sip.so"), "Unloaded chan_sip.so\n");
    assert!(d.rx("sip show peers").starts_with("No such command"));
    let dial = d.rx("channel originate SIP/1001 application Wait 1");
    assert!(
        dial.contains("Channel not implemented") || dial.contains("type 'SIP'"),
        "{dial}"
    );
    // The port is free again: loading binds it anew.
    wait_port_free(port);
    assert_eq!(d.rx("module load chan_sip.so"), "Loaded chan_sip.so\n");
    assert!(d.rx("sip show peers").contains("1001"));
}

fn wait_port_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} still bound after unload"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
