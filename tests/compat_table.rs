//! `docs/compatibility.md`'s table of every Asterisk 20 application and function stays
//! true: nothing ferrisk registers is marked missing, and nothing marked present is
//! absent (but for modules that decline without their config file in a test PBX).

use std::collections::HashSet;

fn table() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/compatibility.md"
    ))
    .expect("docs/compatibility.md");
    let start = text
        .find("## Every Asterisk 20 application and function")
        .expect("the table's section");
    text[start..]
        .lines()
        .filter(|l| l.starts_with("| app ") || l.starts_with("| function "))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].to_string(),
                cells[2].trim_matches('`').to_string(),
                cells[4].to_string(),
            )
        })
        .collect()
}

#[test]
fn the_table_matches_what_ferrisk_registers() {
    let rows = table();
    assert!(rows.len() > 400, "{} rows", rows.len());
    let pbx = ferrisk::modules::test_pbx();
    let apps: HashSet<String> = pbx
        .apps
        .list()
        .iter()
        .map(|a| a.name().to_ascii_lowercase())
        .collect();
    let funcs: HashSet<String> = pbx
        .funcs
        .list()
        .iter()
        .map(|f| f.name().to_ascii_uppercase())
        .collect();
    // Modules a test PBX does not load (chan_sip) or that decline without a config file.
    let unloaded = [
        "sipaddheader",
        "sipremoveheader",
        "sipdtmfmode",
        "sipsendcustominfo",
        "SIP_HEADER",
        "SIP_HEADERS",
        "SIPPEER",
        "CHECKSIPDOMAIN",
        "jabbersend",
        "jabbersendgroup",
        "jabberjoin",
        "jabberleave",
        "jabberstatus",
        "JABBER_STATUS",
        "JABBER_RECEIVE",
        "CALENDAR_BUSY",
        "CALENDAR_EVENT",
        "CALENDAR_QUERY",
        "CALENDAR_QUERY_RESULT",
        "CALENDAR_WRITE",
        "festival",
        // app_agent_pool.so declines without agents.conf, as Asterisk's.
        "agentlogin",
        "agentrequest",
        "AGENT",
        // app_followme.so declines without followme.conf, as Asterisk's.
        "followme",
        // app_queue.so declines without queues.conf, as Asterisk's.
        "queue",
        "addqueuemember",
        "removequeuemember",
        "pausequeuemember",
        "unpausequeuemember",
        "queuelog",
        "queueupdate",
        "QUEUE_MEMBER",
        "QUEUE_MEMBER_COUNT",
        "QUEUE_MEMBER_LIST",
        "QUEUE_MEMBER_PENALTY",
        "QUEUE_EXISTS",
        "QUEUE_GET_CHANNEL",
        "QUEUE_VARIABLES",
        "QUEUE_WAITING_COUNT",
    ];
    let mut wrong = Vec::new();
    for (kind, name, status) in &rows {
        let have = if kind == "app" {
            apps.contains(&name.to_ascii_lowercase())
        } else {
            funcs.contains(&name.to_ascii_uppercase())
        };
        let listed = matches!(status.as_str(), "yes" | "partial");
        if have && !listed {
            wrong.push(format!("{name}: registered but marked {status}"));
        }
        if listed && !have && !unloaded.iter().any(|u| u.eq_ignore_ascii_case(name)) {
            wrong.push(format!("{name}: marked {status} but not registered"));
        }
    }
    assert!(
        wrong.is_empty(),
        "update contrib/compat and the table:\n{}",
        wrong.join("\n")
    );
}
