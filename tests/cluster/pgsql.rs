//! End to end: `res_config_pgsql.so` and `cdr_pgsql.so` against a real PostgreSQL 15
//! (Debian's `postgresql`, a cluster of the test's own on 127.0.0.1), loaded with the schema
//! ferrisk ships (contrib/realtime/pgsql/ferrisk.sql, Asterisk's table and column names).
//! SIPp phones register with `sippeers` accounts and call each other; a `voicemail` box
//! from the database authenticates; CDRs land in `cdr`; PostgreSQL stopped mid-run.

use crate::common::*;
use std::path::Path;

fn schema() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/realtime/pgsql/ferrisk.sql")
}

/// A database with the schema, two SIP accounts and a voicemail box.
fn seeded_db(pg: &Postgres) -> String {
    let db = pg.create_db("rt");
    pg.psql_file(&db, &schema());
    pg.psql(
        &db,
        "INSERT INTO sippeers (name, type, host, context, secret, callerid) VALUES \
         ('1001', 'friend', 'dynamic', 'internal', 'pw1001', '\"Alice\" <1001>'), \
         ('1002', 'friend', 'dynamic', 'internal', 'pw1002', '\"Bob\" <1002>'); \
         INSERT INTO voicemail (context, mailbox, password, fullname) VALUES \
         ('default', '1001', '1934', 'Alice')",
    );
    db
}

fn ferrisk(pg: &Postgres, db: &str, sip_port: u16) -> Daemon {
    let res_pgsql = format!(
        "[general]\ndbhost=127.0.0.1\ndbport={}\ndbname={db}\ndbuser=postgres\ndbpass=unused\nrequirements=warn\n",
        pg.port
    );
    let cdr_pgsql = format!(
        "[global]\nhostname=127.0.0.1\nport={}\ndbname={db}\nuser=postgres\npassword=unused\ntable=cdr\nencoding=UTF8\n",
        pg.port
    );
    let sip = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip_port}\ncontext=public\nallowguest=no\n\
         alwaysauthreject=yes\nrealm=ferrisk\nrtcachefriends=yes\nrtupdate=yes\nminexpiry=60\nmaxexpiry=3600\n\
         disallow=all\nallow=ulaw\n"
    );
    Daemon::start_with(&[
        (
            "extensions.conf",
            "[internal]\nexten => _10XX,1,Dial(SIP/${EXTEN},10)\n same => n,Hangup()\n\
             exten => 2000,1,Answer()\n same => n,VMAuthenticate(1001@default,s)\n\
             same => n,Set(DB(test/vmauth)=${AUTH_MAILBOX}@${AUTH_CONTEXT})\n same => n,Hangup()\n\
             exten => h,1,Set(DB(test/status)=${DIALSTATUS})\n",
        ),
        ("sip.conf", &sip),
        ("voicemail.conf", "[general]\nformat=wav\n\n[default]\n"),
        ("cdr.conf", "[general]\nenable=yes\n"),
        ("res_pgsql.conf", &res_pgsql),
        ("cdr_pgsql.conf", &cdr_pgsql),
        (
            "extconfig.conf",
            "[settings]\nsippeers => pgsql,general,sippeers\nvoicemail => pgsql,general,voicemail\n",
        ),
    ])
}

/// A REGISTER from `local_port` (the same phone again refreshes its contact).
fn register(sip_port: u16, local_port: u16, user: &str, pw: &str) -> SippResult {
    Sipp::new("register_auth.xml", Some(sip_port))
        .local_port(local_port)
        .service(user)
        .auth(user, pw)
        .key("expires", 600)
        .set("want_expires", 600)
        .run()
}

/// SIPp registered as 1002 from `local_port`, answering one call.
fn answering_1002(sip_port: u16, local_port: u16) -> SippChild {
    Sipp::new("uas_registered.xml", Some(sip_port))
        .local_port(local_port)
        .service("1002")
        .auth("1002", "pw1002")
        .key("expires", 600)
        .oocsf("uas_answer.xml")
        .spawn()
}

fn call_1002(sip_port: u16) -> SippResult {
    Sipp::new("uac_call.xml", Some(sip_port))
        .local_port(free_port())
        .service("1002")
        .key("from_user", "1001")
        .auth("1001", "pw1001")
        .run()
}

/// 1002 registers (from `phone`) and answers a call from 1001.
fn call_through(d: &Daemon, sip_port: u16, phone: u16) {
    let callee = answering_1002(sip_port, phone);
    wait_for(20, "1002 to register", || {
        d.rx("database show SIP/Registry/1002")
            .contains(&format!("127.0.0.1:{phone}"))
            .then_some(())
    });
    d.rx("database del test status");
    call_1002(sip_port).assert_ok("1001 calls 1002 through Dial()");
    callee.wait().assert_ok("1002 answers and gets the BYE");
    assert_eq!(d.wait_db("test", "status"), "ANSWER");
}

fn cdr_rows(pg: &Postgres, db: &str) -> Vec<String> {
    pg.psql(
        db,
        "SELECT src, dst, dcontext, lastapp, disposition, amaflags, billsec >= 0, uniqueid <> '', \
         calldate > now() - interval '1 hour' FROM cdr ORDER BY calldate",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn phones_voicemail_and_cdrs_from_postgresql() {
    let pg = Postgres::shared();
    let db = seeded_db(pg);
    let sip_port = free_port();
    let d = ferrisk(pg, &db, sip_port);

    let status = d.rx("realtime show pgsql status");
    assert!(
        status.contains(&format!(
            "Connected to {db}@127.0.0.1, port {} with username postgres for ",
            pg.port
        )),
        "{status}"
    );
    let row = d.rx("realtime load sippeers name 1001");
    assert!(row.contains("internal") && row.contains("pw1001"), "{row}");
    assert!(d
        .rx("realtime load sippeers name 9999")
        .contains("No rows found matching search criteria."));
    // Values are parameters: a quote in a value is a value.
    assert!(d
        .rx("realtime load sippeers name 1001'--")
        .contains("No rows found"));

    // A wrong password is refused; the right one registers, and the registration is
    // written back to the row (rtupdate).
    Sipp::new("register_expect.xml", Some(sip_port))
        .local_port(free_port())
        .service("1001")
        .auth("1001", "wrong")
        .key("expires", 600)
        .key("contact_user", "1001")
        .set("expect", 403)
        .run()
        .assert_ok("a wrong password gets 403");
    register(sip_port, free_port(), "1001", "pw1001")
        .assert_ok("1001 registers with its pgsql account");
    let phone = free_port();
    call_through(&d, sip_port, phone);
    wait_for(20, "the registration of 1002 in sippeers", || {
        let r = pg.psql(
            &db,
            "SELECT ipaddr, port, regseconds > 0 FROM sippeers WHERE name = '1002'",
        );
        (r.trim() == format!("127.0.0.1|{phone}|t")).then_some(())
    });

    // The call's CDR is in the cdr table.
    let rows = wait_for(30, "the call's CDR in PostgreSQL", || {
        let r = cdr_rows(pg, &db);
        r.iter()
            .any(|l| l.starts_with("1001|1002|internal|Dial|ANSWERED|3|t|t|t"))
            .then_some(r)
    });
    assert!(!rows.is_empty());
    let status = d.rx("cdr show pgsql status");
    assert!(
        status.contains(&format!(
            "Connected to {db}@127.0.0.1, port {} using table cdr for ",
            pg.port
        )) && status.contains("records since last restart."),
        "{status}"
    );

    // The voicemail box comes from PostgreSQL: VMAuthenticate takes its password (1934,
    // sent as RFC 2833 digits).
    Sipp::new("uac_dtmf_1934.xml", Some(sip_port))
        .local_port(free_port())
        .service("2000")
        .key("from_user", "1001")
        .auth("1001", "pw1001")
        .timeout(30)
        .run()
        .assert_ok("VMAuthenticate with the box's pgsql password, then hang up");
    assert_eq!(d.wait_db("test", "vmauth"), "1001@default");

    // The generic realtime writes.
    let out = d.rx("realtime store sippeers name 1009 context internal secret x");
    assert!(out.contains("Stored RealTime record."), "{out}");
    let out = d.rx("realtime update sippeers name 1009 context other");
    assert!(out.contains("Updated 1 RealTime record."), "{out}");
    assert_eq!(
        pg.psql(&db, "SELECT context FROM sippeers WHERE name = '1009'")
            .trim(),
        "other"
    );
    let out = d.rx("realtime destroy sippeers name 1009");
    assert!(out.contains("Removed 1 RealTime record."), "{out}");
}

#[test]
fn postgresql_outage_keeps_cached_peers_and_cdrs() {
    let pg = Postgres::start();
    let db = seeded_db(&pg);
    let sip_port = free_port();
    let d = ferrisk(&pg, &db, sip_port);

    let phone1001 = free_port();
    register(sip_port, phone1001, "1001", "pw1001").assert_ok("1001 registers");
    call_through(&d, sip_port, free_port());
    wait_for(30, "the first CDR", || {
        (cdr_rows(&pg, &db).len() == 1).then_some(())
    });

    // PostgreSQL goes away: look-ups fail, cached peers still register and call.
    pg.stop();
    for _ in 0..3 {
        let out = d.rx("realtime load sippeers name 1001");
        assert!(out.contains("No rows found"), "{out}");
    }
    register(sip_port, phone1001, "1001", "pw1001")
        .assert_ok("a cached peer registers with PostgreSQL down");
    call_through(&d, sip_port, free_port());
    // Its CDR waits in the queue.
    d.rx_until("cdr show pgsql status", 20, |s| {
        s.contains("Not currently connected") && s.contains("1 records queued")
    });

    // Back: the queued CDR is written, look-ups work again.
    pg.run();
    wait_for(90, "the queued CDR to be written", || {
        (cdr_rows(&pg, &db).len() == 2).then_some(())
    });
    wait_for(70, "look-ups to work again", || {
        d.rx("realtime load sippeers name 1001")
            .contains("internal")
            .then_some(())
    });
    let log = d.console() + &d.stderr();
    assert_eq!(
        log.matches("PostgreSQL RealTime: Couldn't establish connection")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("PostgreSQL RealTime: Connection to").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("cdr_pgsql: Unable to connect").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("reestablished; writing").count(), 1, "{log}");
    assert!(!log.contains("DROPPING CALL RECORD"), "{log}");
}
