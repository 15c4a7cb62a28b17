//! End to end: `res_config_ldap.so` against a real OpenLDAP `slapd` with Asterisk's schema,
//! started on 127.0.0.1 by this test (Debian's `slapd` and `ldap-utils`, installed by
//! contrib/test.sh). ferrisk maps `sippeers` to the directory in `extconfig.conf` and is
//! driven through `-rx`: look-ups, a user added with `ldapadd` while it runs, a write-back
//! with `realtime update`, and the directory going away.

mod common;

use common::{free_port, require_bin, wait_for, Daemon};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BASE: &str = "dc=example,dc=com";
const ADMIN: &str = "cn=admin,dc=example,dc=com";
const ADMIN_PW: &str = "adminpw";

/// md5 hex of `s` (the test computes AstAccountRealmedPassword itself).
fn md5_hex(s: &str) -> String {
    let out = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .expect("md5sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// An entry whose AstAccountRealmedPassword is `{MD5}` + base64 of the digest (as
/// `userPassword` stores MD5 hashes), or any `password` value given as is.
fn user_ldif_with_password(name: &str, password: &str) -> String {
    format!(
        "dn: cn={name},ou=people,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: AsteriskSIPUser\ncn: {name}\nsn: User {name}\nAstAccountContext: internal\nAstAccountHost: dynamic\nAstAccountType: friend\nAstAccountRealmedPassword: {password}\n"
    )
}

fn md5_base64(s: &str) -> String {
    use base64::Engine as _;
    let hex = md5_hex(s);
    let raw: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn user_ldif(name: &str, secret: &str) -> String {
    format!(
        "dn: cn={name},ou=people,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: AsteriskSIPUser\ncn: {name}\nsn: User {name}\nAstAccountContext: internal\nAstAccountHost: dynamic\nAstAccountType: friend\nAstAccountCallerID: \"User {name}\" <{name}>\nAstAccountRealmedPassword: {{MD5}}{}\n",
        md5_hex(&format!("{name}:ferrisk:{secret}"))
    )
}

/// A slapd with Asterisk's schema, seeded offline with `slapadd`.
struct Slapd {
    child: Option<Child>,
    port: u16,
    conf: PathBuf,
}

impl Slapd {
    fn start(dir: &Path) -> Slapd {
        require_bin("slapd", "slapd");
        let slapadd = require_bin("slapadd", "slapd");
        require_bin("ldapsearch", "ldap-utils");
        let schema =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/asterisk.ldap-schema");
        assert!(
            schema.is_file(),
            "Asterisk's LDAP schema is missing at {} (the shared/ folder beside the checkout)",
            schema.display()
        );
        let data = dir.join("ldap-data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let conf = dir.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
                 include {}\npidfile {}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n\
                 database mdb\nmaxsize 10485760\nsuffix \"{BASE}\"\nrootdn \"{ADMIN}\"\nrootpw {ADMIN_PW}\n\
                 directory {}\n",
                schema.display(),
                dir.display(),
                data.display()
            ),
        )
        .expect("slapd.conf");
        let seed = dir.join("seed.ldif");
        std::fs::write(
            &seed,
            format!(
                "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
                 dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n{}\n{}",
                user_ldif("1001", "pw1001"),
                user_ldif("1002", "pw1002")
            ),
        )
        .expect("seed");
        let st = Command::new(slapadd)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&seed)
            .output()
            .expect("slapadd");
        assert!(
            st.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let port = free_port();
        let mut s = Slapd {
            child: None,
            port,
            conf,
        };
        s.run();
        s
    }

    /// Start slapd (again) on its port and wait until it answers.
    fn run(&mut self) {
        self.child = Some(
            Command::new(require_bin("slapd", "slapd"))
                .arg("-d")
                .arg("0")
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{}/", self.port))
                .arg("-f")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("slapd"),
        );
        wait_for(15, "slapd to answer", || {
            let out = Command::new("ldapsearch")
                .args(["-x", "-H", &self.url(), "-b", "", "-s", "base"])
                .output()
                .ok()?;
            out.status.success().then_some(())
        });
    }

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    fn ldapadd(&self, ldif: &str) {
        self.ldap_tool("ldapadd", ldif);
    }

    /// Apply an LDIF change (`changetype: modify` / `delete`) with ldapmodify.
    fn ldapmodify(&self, ldif: &str) {
        self.ldap_tool("ldapmodify", ldif);
    }

    /// Run `tool` (ldapadd, ldapmodify) as the admin with `ldif` on its input.
    fn ldap_tool(&self, tool: &str, ldif: &str) {
        let mut c = Command::new(tool)
            .args(["-x", "-H", &self.url(), "-D", ADMIN, "-w", ADMIN_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(ldif.as_bytes())
                .expect("write");
        }
        let out = c.wait_with_output().expect(tool);
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// One attribute of an entry, as ldapsearch prints it.
    fn attr(&self, cn: &str, attr: &str) -> String {
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-H",
                &self.url(),
                "-b",
                &format!("ou=people,{BASE}"),
                &format!("(cn={cn})"),
                attr,
            ])
            .output()
            .expect("ldapsearch");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ferrisk_with(slapd: &Slapd) -> Daemon {
    let res_ldap = format!(
        "[_general]\nurl = ldap://127.0.0.1:1 {}\nbasedn = {BASE}\nuser = {ADMIN}\npass = {ADMIN_PW}\n\n\
         [sip]\nname = cn\nmd5secret = AstAccountRealmedPassword\ncontext = AstAccountContext\n\
         host = AstAccountHost\ntype = AstAccountType\ncallerid = AstAccountCallerID\n\
         ipaddr = AstAccountIPAddress\nuseragent = AstAccountUserAgent\n\
         additionalFilter = (objectClass=AsteriskSIPUser)\n",
        slapd.url()
    );
    Daemon::start_with(&[
        ("extensions.conf", "[internal]\nexten => 100,1,Hangup()\n"),
        ("res_ldap.conf", &res_ldap),
        (
            "extconfig.conf",
            "[settings]\nsippeers => ldap,\"ou=people,dc=example,dc=com\",sip\n",
        ),
    ])
}

#[test]
fn sip_peers_come_from_the_directory() {
    let dir = common::tempdir();
    let mut slapd = Slapd::start(dir.path());
    let d = ferrisk_with(&slapd);
    assert!(d.rx("module show like ldap").contains("res_config_ldap.so"));

    // A look-up maps attributes to Asterisk's columns; the first URL is down (port 1), the
    // second answers: failover.
    let row = d.rx("realtime load sippeers name 1001");
    for want in [
        "name",
        "1001",
        "context",
        "internal",
        "md5secret",
        "host",
        "dynamic",
    ] {
        assert!(row.contains(want), "{want} missing: {row}");
    }
    assert!(row.contains(&md5_hex("1001:ferrisk:pw1001")), "{row}");
    assert!(!row.contains("{MD5}"), "{row}");
    let status = d.rx("realtime show ldap status");
    assert!(
        status.starts_with(&format!(
            "Connected to '{}', baseDN {BASE} with username {ADMIN} for ",
            slapd.url()
        )),
        "{status}"
    );
    assert_eq!(
        d.rx("realtime load sippeers name 9999"),
        "No rows found matching search criteria.\n"
    );

    // A user added while ferrisk runs is found without a reload.
    slapd.ldapadd(&user_ldif("1003", "pw1003"));
    assert!(d
        .rx("realtime load sippeers name 1003")
        .contains("internal"));

    // Write-back: the directory shows what ferrisk wrote.
    let up = d.rx("realtime update sippeers name 1001 ipaddr 127.0.0.5");
    assert_eq!(up, "Updated 1 RealTime record.\n");
    assert!(slapd
        .attr("1001", "AstAccountIPAddress")
        .contains("AstAccountIPAddress: 127.0.0.5"));

    // Several look-ups open the pool's connections.
    for _ in 0..8 {
        assert!(d
            .rx("realtime load sippeers name 1001")
            .contains("internal"));
    }

    // The directory goes away: look-ups fail (no rows), ferrisk keeps running.
    slapd.stop();
    for _ in 0..8 {
        // The reply also carries the warnings logged while it ran (as Asterisk's -rx).
        let out = d.rx("realtime load sippeers name 1001");
        let (warnings, rest) =
            out.split_at(out.find("No rows found").unwrap_or_else(|| panic!("{out}")));
        assert_eq!(rest, "No rows found matching search criteria.\n");
        assert!(warnings.lines().all(|l| l.contains("] WARNING[")), "{out}");
    }
    assert!(d.rx("core show uptime").starts_with("System uptime: "));

    // It comes back: look-ups work again (after the backoff), and the outage took one
    // warning and one notice, whatever the number of pooled connections and look-ups.
    slapd.run();
    wait_for(70, "look-ups to work again", || {
        d.rx("realtime load sippeers name 1001")
            .contains("internal")
            .then_some(())
    });
    let log = d.console() + &d.stderr();
    let down = log.matches("res_config_ldap.c: LDAP connection to").count()
        + log.matches("res_config_ldap.c: Couldn't establish").count();
    // The first URL (port 1) never answers: connecting through it is not an outage line
    // of its own, as the second URL answers.
    assert_eq!(down, 1, "{log}");
    assert_eq!(log.matches("is back").count(), 1, "{log}");
}

/// ferrisk with SIP on a free port and `sippeers` from the directory (no peer in sip.conf),
/// realtime peers cached.
fn sip_ferrisk_with(slapd: &Slapd, sip_port: u16) -> Daemon {
    sip_ferrisk_rt(slapd, sip_port, "rtcachefriends=yes\n")
}

/// As [`sip_ferrisk_with`], with `rt` (realtime options) in sip.conf's `[general]`.
fn sip_ferrisk_rt(slapd: &Slapd, sip_port: u16, rt: &str) -> Daemon {
    let res_ldap = format!(
        "[_general]\nurl = {}\nbasedn = {BASE}\nuser = {ADMIN}\npass = {ADMIN_PW}\n\n\
         [sip]\nname = cn\nmd5secret = AstAccountRealmedPassword\ncontext = AstAccountContext\n\
         host = AstAccountHost\ntype = AstAccountType\ncallerid = AstAccountCallerID\n\
         ipaddr = AstAccountIPAddress\nport = AstAccountPort\nregseconds = AstAccountExpirationTimestamp\n\
         useragent = AstAccountUserAgent\nfullcontact = AstAccountFullContact\n\
         additionalFilter = (objectClass=AsteriskSIPUser)\n",
        slapd.url()
    );
    let sip = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip_port}\ncontext=public\nallowguest=no\n\
         alwaysauthreject=yes\nrealm=ferrisk\n{rt}minexpiry=60\nmaxexpiry=3600\n"
    );
    Daemon::start_with(&[
        ("extensions.conf", "[internal]\nexten => 100,1,Hangup()\n"),
        ("sip.conf", &sip),
        ("res_ldap.conf", &res_ldap),
        (
            "extconfig.conf",
            "[settings]\nsippeers => ldap,\"ou=people,dc=example,dc=com\",sip\n",
        ),
    ])
}

fn register(sip_port: u16, user: &str, pw: &str) -> common::SippResult {
    register_from(sip_port, free_port(), user, pw)
}

/// A REGISTER from `local_port` (the same phone again: its contact is refreshed, not added).
fn register_from(sip_port: u16, local_port: u16, user: &str, pw: &str) -> common::SippResult {
    common::Sipp::new("register_auth.xml", Some(sip_port))
        .local_port(local_port)
        .service(user)
        .auth(user, pw)
        .key("expires", 600)
        .set("want_expires", 600)
        .run()
}

fn register_refused(sip_port: u16, user: &str, pw: &str) {
    common::Sipp::new("register_expect.xml", Some(sip_port))
        .local_port(free_port())
        .service(user)
        .auth(user, pw)
        .key("expires", 600)
        .key("contact_user", user)
        .set("expect", 403)
        .run()
        .assert_ok(&format!("{user} with a wrong password must get 403"));
}

#[test]
fn phones_register_with_directory_accounts() {
    let dir = common::tempdir();
    let mut slapd = Slapd::start(dir.path());
    let sip_port = free_port();
    let d = sip_ferrisk_with(&slapd, sip_port);

    register(sip_port, "1001", "pw1001").assert_ok("1001 registers with its LDAP account");
    let peers = d.rx("sip show peers");
    let line = peers.lines().find(|l| l.starts_with("1001")).unwrap_or("");
    assert!(
        line.contains("127.0.0.1") && line.ends_with("Cached RT"),
        "{peers}"
    );
    assert!(
        peers.lines().next().unwrap_or("").ends_with("Realtime"),
        "{peers}"
    );

    // A wrong password and an unknown user get the same answer.
    register_refused(sip_port, "1002", "not-the-password");
    register_refused(sip_port, "9999", "whatever");

    // Added to the directory while ferrisk runs: registers without a reload.
    slapd.ldapadd(&user_ldif("1003", "pw1003"));
    register(sip_port, "1003", "pw1003").assert_ok("1003 added with ldapadd registers");

    // A realmed password stored as {MD5} + base64 works as the hex form does; an entry with
    // a password that is no MD5 digest is skipped (refused like an unknown user).
    slapd.ldapadd(&user_ldif_with_password(
        "1004",
        &format!("{{MD5}}{}", md5_base64("1004:ferrisk:pw1004")),
    ));
    register(sip_port, "1004", "pw1004").assert_ok("1004 with a base64 {MD5} password registers");
    slapd.ldapadd(&user_ldif_with_password("1005", "not-a-digest"));
    register_refused(sip_port, "1005", "not-a-digest");

    // `sip show peer X load` reads the directory for a peer not cached yet.
    slapd.ldapadd(&user_ldif("1006", "pw1006"));
    let shown = d.rx("sip show peer 1006");
    assert!(shown.contains("Peer 1006 not found"), "{shown}");
    let shown = d.rx("sip show peer 1006 load");
    assert!(
        shown.contains("* Name       : 1006") && shown.contains("Realtime peer: Yes, cached"),
        "{shown}"
    );

    // The directory goes away: the cached peer still registers.
    slapd.stop();
    register(sip_port, "1001", "pw1001").assert_ok("a cached peer registers with LDAP down");

    // Pruned from the cache, it is looked up again (and, the directory being down, refused
    // like an unknown user).
    assert_eq!(
        d.rx("sip prune realtime peer 1001"),
        "Peer '1001' pruned.\n"
    );
    assert_eq!(
        d.rx("sip prune realtime peer 1001"),
        "Peer '1001' not found.\n"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100)); // stay under the rate limit
    register_refused(sip_port, "1001", "pw1001");
    // 1002 (looked up for its wrong password), 1003, 1004 and 1006 are still cached.
    assert_eq!(d.rx("sip prune realtime all"), "4 peers pruned.\n");
    assert_eq!(d.rx("sip prune realtime all"), "No peers found to prune.\n");
}

/// `_10XX` dials the peer by that name; `h` keeps DIALSTATUS in AstDB `test/status`.
fn dial_plan(d: &Daemon) {
    d.write_extensions(
        "[internal]\nexten => _10XX,1,Dial(SIP/${EXTEN},10)\n same => n,Hangup()\nexten => h,1,Set(DB(test/status)=${DIALSTATUS})\n",
    );
    assert!(d.rx("dialplan reload").contains("Dialplan reloaded."));
}

/// SIPp registered as 1002 (its directory account), answering the call it gets.
fn answering_1002(sip_port: u16) -> common::SippChild {
    answering_1002_on(sip_port, free_port())
}

/// [`answering_1002`] from `local_port`.
fn answering_1002_on(sip_port: u16, local_port: u16) -> common::SippChild {
    common::Sipp::new("uas_registered.xml", Some(sip_port))
        .local_port(local_port)
        .service("1002")
        .auth("1002", "pw1002")
        .key("expires", 600)
        .oocsf("uas_answer.xml")
        .spawn()
}

/// SIPp as 1001 (password `pw`) calls 1002 through the dialplan.
fn call_1002_as_1001(sip_port: u16, pw: &str) -> common::SippResult {
    common::Sipp::new("uac_call.xml", Some(sip_port))
        .local_port(free_port())
        .service("1002")
        .key("from_user", "1001")
        .auth("1001", pw)
        .run()
}

#[test]
fn directory_users_call_each_other_through_dial() {
    let dir = common::tempdir();
    let slapd = Slapd::start(dir.path());
    let sip_port = free_port();
    let d = sip_ferrisk_with(&slapd, sip_port);
    dial_plan(&d);
    // 1002 registers with its directory account and answers.
    let callee = answering_1002(sip_port);
    wait_for(15, "1002 to register", || {
        let p = d.rx("sip show peers");
        p.lines()
            .any(|l| l.starts_with("1002") && l.contains("127.0.0.1"))
            .then_some(())
    });
    // 1001, also from the directory, calls it through Dial(): INVITE with digest auth.
    call_1002_as_1001(sip_port, "pw1001").assert_ok("1001 calls 1002 through Dial()");
    callee.wait().assert_ok("1002 answers and gets the BYE");
    assert_eq!(d.wait_db("test", "status"), "ANSWER");

    // The directory goes away: both peers are cached, so 1002 registers again and 1001
    // still calls it.
    let mut slapd = slapd;
    slapd.stop();
    d.rx("database del test status");
    let phone = free_port();
    let callee = answering_1002_on(sip_port, phone);
    wait_for(15, "1002 to register again", || {
        d.rx("database show SIP/Registry/1002")
            .contains(&format!("127.0.0.1:{phone}"))
            .then_some(())
    });
    call_1002_as_1001(sip_port, "pw1001").assert_ok("1001 calls 1002 with the directory down");
    callee
        .wait()
        .assert_ok("1002 answers with the directory down");
    assert_eq!(d.wait_db("test", "status"), "ANSWER");
}

/// `rtcachefriends=no` (Asterisk's default): every REGISTER reads the directory, so a changed
/// password and a removed user apply at once; `sip show peers` does not list the peers;
/// `rtupdate` writes where each phone is, and a call finds an uncached peer.
#[test]
fn uncached_directory_users_are_read_on_every_request() {
    let dir = common::tempdir();
    let slapd = Slapd::start(dir.path());
    let sip_port = free_port();
    let d = sip_ferrisk_rt(&slapd, sip_port, "rtcachefriends=no\nrtupdate=yes\n");
    let settings = d.rx("sip show settings");
    assert!(
        settings.contains("  Realtime Peers:         Yes\n")
            && settings.contains("  Cache Friends:          No\n"),
        "{settings}"
    );

    let phone = free_port();
    register_from(sip_port, phone, "1001", "pw1001").assert_ok("1001 registers, uncached");
    let peers = d.rx("sip show peers");
    assert!(!peers.lines().any(|l| l.starts_with("1001")), "{peers}");
    assert!(d.rx("sip show peer 1001").contains("Peer 1001 not found"));
    // rtupdate: the directory says where the phone is.
    wait_for(10, "the registration in the directory", || {
        slapd
            .attr("1001", "AstAccountIPAddress")
            .contains("AstAccountIPAddress: 127.0.0.1")
            .then_some(())
    });
    assert!(slapd
        .attr("1001", "AstAccountFullContact")
        .contains("AstAccountFullContact: sip:"));

    // A password changed in the directory applies to the next REGISTER, no prune needed.
    slapd.ldapmodify(&format!(
        "dn: cn=1001,ou=people,{BASE}\nchangetype: modify\nreplace: AstAccountRealmedPassword\nAstAccountRealmedPassword: {{MD5}}{}\n",
        md5_hex("1001:ferrisk:newpw")
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100)); // stay under the rate limit
    register_refused(sip_port, "1001", "pw1001");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    register_from(sip_port, phone, "1001", "newpw").assert_ok("the new password works at once");

    // 1002 registers and answers; 1001 calls it through Dial() (the uncached peer is read).
    dial_plan(&d);
    let callee = answering_1002(sip_port);
    wait_for(15, "1002's registration in the directory", || {
        slapd
            .attr("1002", "AstAccountIPAddress")
            .contains("AstAccountIPAddress: 127.0.0.1")
            .then_some(())
    });
    call_1002_as_1001(sip_port, "newpw").assert_ok("1001 calls uncached 1002 through Dial()");
    callee.wait().assert_ok("1002 answers and gets the BYE");
    assert_eq!(d.wait_db("test", "status"), "ANSWER");

    // Removed from the directory: refused at once.
    slapd.ldapmodify(&format!(
        "dn: cn=1001,ou=people,{BASE}\nchangetype: delete\n"
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    register_refused(sip_port, "1001", "newpw");
}

/// Voicemail boxes from the directory (`voicemail => ldap`), and baresip as a directory
/// phone: baresip registers as 1003 and is called through Dial() by SIPp (1001); it leaves a
/// message in mailbox 1001 (an LDAP entry, no voicemail.conf) with VoiceMail(); then logs in
/// to VoiceMailMain() with the password in the directory and changes it: the directory
/// holds the new one.
#[test]
fn baresip_and_voicemail_boxes_from_the_directory() {
    let dir = common::tempdir();
    let slapd = Slapd::start(dir.path());
    // 1001 also has a mailbox: Asterisk's AsteriskVoiceMail class on the same entry.
    slapd.ldapmodify(&format!(
        "dn: cn=1001,ou=people,{BASE}\nchangetype: modify\nadd: objectClass\nobjectClass: AsteriskVoiceMail\n-\n\
         add: AstContext\nAstContext: default\n-\nadd: AstVoicemailMailbox\nAstVoicemailMailbox: 1001\n-\n\
         add: AstVoicemailPassword\nAstVoicemailPassword: 4242\n-\n\
         add: AstVoicemailFullname\nAstVoicemailFullname: Directory User\n"
    ));
    slapd.ldapadd(&user_ldif("1003", "pw1003"));
    let sip_port = free_port();
    let base = common::free_ports(12);
    let rtp = base + (base & 1);
    let res_ldap = format!(
        "[_general]\nurl = {}\nbasedn = {BASE}\nuser = {ADMIN}\npass = {ADMIN_PW}\n\n\
         [sip]\nname = cn\nmd5secret = AstAccountRealmedPassword\ncontext = AstAccountContext\n\
         host = AstAccountHost\ntype = AstAccountType\ncallerid = AstAccountCallerID\n\
         additionalFilter = (objectClass=AsteriskSIPUser)\n\n\
         [voicemail]\nuniqueid = cn\ncontext = AstContext\nmailbox = AstVoicemailMailbox\n\
         password = AstVoicemailPassword\nfullname = AstVoicemailFullname\n\
         email = AstVoicemailEmail\nadditionalFilter = (objectClass=AsteriskVoiceMail)\n",
        slapd.url()
    );
    let pbx_dir = common::tempdir();
    common::write_configs(
        pbx_dir.path(),
        &[
        ("ferrisk.conf", common::FERRISK_CONF_V3),
        (
            "extensions.conf",
            "[internal]\nexten => _10XX,1,Dial(SIP/${EXTEN},10)\n same => n,Hangup()\n\
             exten => 8001,1,VoiceMail(1001@default,u)\n same => n,Hangup()\n\
             exten => 8500,1,VoiceMailMain(1001@default)\n same => n,Hangup()\n\
             exten => h,1,Set(DB(test/status)=${DIALSTATUS})\n",
        ),
        (
            "sip.conf",
            &format!(
                "[general]\nbindaddr=127.0.0.1\nbindport={sip_port}\ncontext=public\nallowguest=no\n\
                 alwaysauthreject=yes\nrealm=ferrisk\nrtcachefriends=yes\ndisallow=all\nallow=ulaw\n"
            ),
        ),
        (
            "rtp.conf",
            &format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 9),
        ),
        ("res_ldap.conf", &res_ldap),
        (
            "extconfig.conf",
            "[settings]\nsippeers => ldap,\"ou=people,dc=example,dc=com\",sip\n\
             voicemail => ldap,\"ou=people,dc=example,dc=com\",voicemail\n",
        ),
    ]);
    // VoiceMail() records after the beep: the one sound the test needs.
    let sounds = pbx_dir.path().join("data/sounds");
    std::fs::create_dir_all(&sounds).expect("sounds dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav"),
        sounds.join("beep.wav"),
    )
    .expect("copy beep.wav");
    let d = Daemon::launch(pbx_dir);

    // baresip registers with its directory account and answers calls.
    // baresip stops sending audio when its source ends: two minutes of tone.
    let tone = dir.path().join("phone.wav");
    common::write_tone_wav(&tone, 120);
    let mut b = common::Baresip::start_with(
        common::free_ports(3),
        &[format!(
            "<sip:1003@127.0.0.1:{sip_port}>;auth_pass=pw1003;answermode=auto;regint=600"
        )],
        Some(&tone),
        false,
    );
    b.wait_registered(15);
    // SIPp 1001 (also from the directory) calls it through Dial().
    common::Sipp::new("uac_call.xml", Some(sip_port))
        .local_port(free_port())
        .service("1003")
        .key("from_user", "1001")
        .auth("1001", "pw1001")
        .run()
        .assert_ok("1001 calls baresip (1003) through Dial()");
    assert_eq!(d.wait_db("test", "status"), "ANSWER");
    b.wait_event("CALL_CLOSED", 15);

    // baresip leaves a message in the directory's mailbox 1001.
    b.request("dial", &format!("sip:8001@127.0.0.1:{sip_port}"));
    b.wait_event("CALL_ESTABLISHED", 10);
    let mbox = d.path().join("spool/voicemail/default/1001");
    wait_for(30, "the recording to start", || {
        std::fs::read_dir(mbox.join("tmp")).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "txt"))
                .then_some(())
        })
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
    wait_for(10, "the message in INBOX", || {
        mbox.join("INBOX/msg0000.txt").is_file().then_some(())
    });

    // VoiceMailMain: the directory's password logs in; 0 5 changes it in the directory.
    b.request("dial", &format!("sip:8500@127.0.0.1:{sip_port}"));
    b.wait_event("CALL_ESTABLISHED", 10);
    let keys = |b: &mut common::Baresip, digits: &str| {
        for k in digits.chars() {
            b.request("sndcode", &k.to_string());
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    d.wait_console("Playing 'vm-password.", 1);
    keys(&mut b, "4242#");
    d.wait_console("Playing 'vm-youhave.", 1);
    keys(&mut b, "0");
    d.wait_console("Playing 'vm-options.", 1);
    keys(&mut b, "5");
    d.wait_console("Playing 'vm-newpassword.", 1);
    keys(&mut b, "5678#");
    d.wait_console("Playing 'vm-reenterpassword.", 1);
    keys(&mut b, "5678#");
    d.wait_console("Playing 'vm-passchanged.", 1);
    assert!(slapd
        .attr("1001", "AstVoicemailPassword")
        .contains("AstVoicemailPassword: 5678"));
    b.request("hangup", "");
    b.wait_event("CALL_CLOSED", 10);
}
