//! The first-hour CLI commands an Asterisk admin types, against the real daemon and real
//! SIPp phones (issue 18): `core show channels|calls|hints|hint` during a bridged call,
//! `sip show channels|users|inuse`, `cdr show status`, `core show help cdr`,
//! `core show settings`, `dialplan show exten@context`, and clean paths in config errors.

mod common;

use common::*;

const SIP_SECRETS: [(&str, &str); 2] = [("1000", "s1000"), ("1001", "s1001")];

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[internal]
exten => 1001,hint,SIP/1001
exten => _10XX,1,Dial(SIP/${EXTEN},30)
 same => n,Hangup()
include => shared

[shared]
exten => _1XXX,1,NoOp(shared)

[users]
exten => s,1,NoOp()
";

fn sip_conf(port: u16) -> String {
    let mut s = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n"
    );
    for (name, secret) in SIP_SECRETS {
        s += &format!(
            "\n[{name}]\ntype=friend\nhost=dynamic\nsecret={secret}\ncontext=internal\n\
             disallow=all\nallow=ulaw\n"
        );
        if name == "1001" {
            s += "call-limit=2\n";
        }
    }
    s += "\n[u1]\ntype=user\nsecret=u1secret\ncontext=users\naccountcode=acct1\n";
    s += "\n[trunk]\ntype=peer\nhost=127.0.0.1\nport=5999\ncontext=public\n";
    s
}

/// The line of `out` that starts with `prefix`.
fn line_of<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

#[test]
fn first_hour_commands_during_a_bridged_call() {
    require_bin("sipp", "sip-tester");
    let port = free_port();
    let d = Daemon::start_with(&[
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", &sip_conf(port)),
    ]);

    // Before any call.
    let hints = d.rx("core show hints");
    assert!(
        hints.starts_with("\n    -= Registered Asterisk Dial Plan Hints =-\n"),
        "{hints}"
    );
    let hint = line_of(&hints, "1001@internal");
    assert_eq!(
        hint,
        format!(
            "{:<30}: {:<60}  State:{:<15} Presence:{:<15} Watchers  0",
            "1001@internal", "SIP/1001", "Unavailable", "not_set"
        ),
        "1001 has not registered yet"
    );
    assert!(hints.ends_with("----------------\n- 1 hints registered\n"));

    let users = d.rx("sip show users");
    assert_eq!(
        line_of(&users, "Username"),
        format!(
            "{:<25}  {:<15}  {:<15}  {:<15}  {:<5}{:<10}",
            "Username", "Secret", "Accountcode", "Def.Context", "ACL", "Forcerport"
        )
    );
    assert_eq!(
        line_of(&users, "u1 "),
        format!(
            "{:<25}  {:<15}  {:<15}  {:<15}  {:<5}{:<10}",
            "u1", "u1secret", "acct1", "users", "No", "No"
        )
    );
    assert!(users.lines().any(|l| l.starts_with("1000 ")), "{users}");
    assert!(!users.contains("trunk"), "a type=peer is no user:\n{users}");
    let like = d.rx("sip show users like ^u");
    assert_eq!(like.lines().count(), 2, "{like}");

    let cdr = d.rx("cdr show status");
    assert!(
        cdr.starts_with("\nCall Detail Record (CDR) settings\n----------------------------------\n  Logging:                    Enabled\n  Mode:                       Simple\n"),
        "{cdr}"
    );
    assert!(
        cdr.contains("* Registered Backends\n  -------------------\n    csv\n"),
        "{cdr}"
    );
    let help = d.rx("core show help cdr");
    assert!(help.contains("cdr show status"), "{help}");

    let settings = d.rx("core show settings");
    for row in [
        "  Version:                     ferrisk ",
        "  Maximum calls:               Not set\n",
        "  Executable includes:         Disabled\n",
        "\n* Subsystems\n  -------------\n",
        "  Call data records:           Enabled\n",
        "\n* Directories\n  -------------\n",
    ] {
        assert!(settings.contains(row), "{row:?} missing from:\n{settings}");
    }
    assert!(settings.ends_with("\n\n\n"), "{settings:?}");

    // dialplan show exten@context: the pattern that matches, then the included context's.
    let dp = d.rx("dialplan show 1001@internal");
    assert!(
        dp.starts_with("[ Context 'internal' created by 'pbx_config' ]\n  '1001' =>"),
        "{dp}"
    );
    assert!(dp.contains("  '_10XX' =>"), "{dp}");
    assert!(
        dp.contains("[ Included context 'shared' created by 'pbx_config' ]\n  '_1XXX' =>"),
        "{dp}"
    );
    assert!(
        dp.ends_with("-= 3 extensions (4 priorities) in 2 contexts. =-\n"),
        "{dp}"
    );
    assert_eq!(
        d.rx("dialplan show 42@"),
        "There is no existence of '42' extension in all contexts\n"
    );

    // 1001 registers and answers; 1000 calls it and waits for the BYE.
    // It registers a Contact as baresip does: `<sip:1001-0x5618ab@…>`.
    let callee = Sipp::new("uas_registered_as.xml", Some(port))
        .local_port(free_port())
        .service("1001")
        .key("contact_user", "1001-0x5618ab")
        .auth("1001", "s1001")
        .key("expires", 600)
        .oocsf("uas_answer.xml")
        .spawn();
    // As chan_sip, `sip show peers` names it with the user it registered.
    d.rx_until("sip show peers", 10, |o| {
        o.lines()
            .any(|l| l.starts_with("1001/1001-0x5618ab ") && l.contains("127.0.0.1"))
    });
    let peer = d.rx("sip show peer 1001");
    assert!(
        peer.lines()
            .any(|l| l.trim_start().starts_with("Def. Username") && l.ends_with(": 1001-0x5618ab")),
        "{peer}"
    );
    let caller = Sipp::new("uac_call_recv_bye.xml", Some(port))
        .local_port(free_port())
        .service("1001")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .spawn();
    let chans = d.rx_until("core show channels", 15, |o| {
        o.contains("2 active channels")
            && o.lines()
                .filter(|l| l.starts_with("SIP/") && l.contains(" Up "))
                .count()
                == 2
    });
    // One bridged call of two channels is one call (Asterisk counts PBX channels).
    assert!(
        chans.ends_with("2 active channels\n1 active call\n1 call processed\n"),
        "{chans}"
    );
    let row = |name: &str, loc: &str, app: &str| {
        format!("{:<64} {:<32} {:<7} {:<30}", name, loc, "Up", app)
    };
    let caller_line = line_of(&chans, "SIP/1000-");
    let callee_line = line_of(&chans, "SIP/1001-");
    let caller_name = caller_line.split(' ').next().unwrap();
    let callee_name = callee_line.split(' ').next().unwrap();
    assert_eq!(
        caller_line,
        row(caller_name, "1001@internal:1", "Dial(SIP/1001,30)")
    );
    // The dialed leg: the caller's extension in its peer's context, AppDial.
    assert_eq!(
        callee_line,
        row(callee_name, "1001@internal:1", "AppDial((Outgoing Line))")
    );
    assert_eq!(d.rx("core show calls"), "1 active call\n1 call processed\n");
    let up = d.rx("core show calls uptime seconds");
    assert!(
        up.starts_with("1 active call\n1 call processed\nSystem uptime: "),
        "{up}"
    );
    let concise = d.rx("core show channels concise");
    assert!(
        concise.lines().any(|l| l.starts_with(&format!(
            "{callee_name}!internal!1001!1!Up!AppDial!(Outgoing Line)!"
        ))),
        "{concise}"
    );

    // sip show channels: the dialog's user and the peer it belongs to. As chan_sip, the
    // user of the call to 1001 is the user it registered (its Contact's), the peer's name
    // is the last column.
    let sc = d.rx("sip show channels");
    assert!(sc.ends_with("2 active SIP dialogs\n"), "{sc}");
    let dialogs: Vec<&str> = sc.lines().filter(|l| l.starts_with("127.0.0.1")).collect();
    assert_eq!(dialogs.len(), 2, "{sc}");
    let user_peer = |l: &str| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[1].to_string(), f[f.len() - 1].to_string())
    };
    let mut pairs: Vec<(String, String)> = dialogs.iter().map(|l| user_peer(l)).collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("1000".to_string(), "1000".to_string()),
            ("1001-0x5618ab".to_string(), "1001".to_string())
        ],
        "{sc}"
    );

    let inuse = d.rx("sip show inuse");
    assert_eq!(
        inuse,
        format!(
            "{:<25} {:<15} {:<15} \n{:<25} {:<15} {:<15} \n",
            "* Peer name", "In use", "Limit", "1001", "1/0/0", "2"
        )
    );
    let all = d.rx("sip show inuse all");
    assert!(
        all.contains(&format!("{:<25} {:<15} {:<15} \n", "1000", "0/0/0", "N/A")),
        "{all}"
    );

    let hint = d.rx("core show hint 1001");
    assert!(hint.contains("State:InUse "), "{hint}");
    assert!(hint.ends_with("1 hint matching extension 1001\n"), "{hint}");

    // Hang the call up from the CLI: both phones get their BYE.
    d.rx("channel request hangup all");
    caller.wait().assert_ok("1000 gets the BYE");
    callee.wait().assert_ok("1001 gets the BYE");
    let after = d.rx_until("core show channels", 10, |o| {
        o.contains("0 active channels")
    });
    assert!(
        after.ends_with("0 active channels\n0 active calls\n1 call processed\n"),
        "{after}"
    );
}

#[test]
fn config_errors_name_clean_paths() {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    write_configs(
        dir.path(),
        &[
            (
                "extensions.conf",
                "[internal]\nexten => 1,1,NoOp()\n#include ./sub/../broken.conf\n",
            ),
            ("broken.conf", "[ok]\n[open\n"),
        ],
    );
    // As README's `-C etc/ferrisk.conf`, with `.` segments in it.
    let err = start_must_fail(&dir.path().join(".").join("ferrisk.conf"));
    let want = format!("{}:2:", dir.path().join("broken.conf").display());
    assert!(err.contains(&want), "{want} not in:\n{err}");
    assert!(!err.contains("/./") && !err.contains("/../"), "{err}");
}
