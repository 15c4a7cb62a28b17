//! queue: `app_queue.so` end to end. A SIPp caller enters a queue whose members are SIPp
//! phones (static `host=` peers); the strategy decides who rings, the call connects and
//! the queue log (`astlogdir/queue_log`) has Asterisk's lines; QUEUESTATUS=TIMEOUT when
//! nobody answers; PauseQueueMember/AddQueueMember change who rings; the `queue …`
//! commands through `ferrisk -rx`.

use crate::common::*;
use std::time::Duration;

struct Pbx {
    d: Daemon,
    sip: u16,
    /// The members' SIP ports: alice, bob, carol.
    phones: [u16; 3],
}

const EXTENSIONS: &str = "[qtest]\n\
exten => 700,1,Queue(support)\n same => n,Hangup()\n\
exten => 701,1,Answer()\n same => n,Queue(sales,n)\n same => n,Set(DB(test/status)=${QUEUESTATUS})\n same => n,Hangup()\n\
exten => 702,1,Answer()\n same => n,PauseQueueMember(sales,SIP/alice)\n same => n,AddQueueMember(sales,SIP/bob)\n\
 same => n,Set(DB(test/members)=${PQMSTATUS},${AQMSTATUS},${QUEUE_MEMBER_LIST(sales)},${QUEUE_MEMBER(sales,paused,SIP/alice)})\n same => n,Hangup()\n\
exten => 704,1,Answer()\n same => n,Queue(support)\n\
exten => 703,1,Answer()\n same => n,Queue(sales,c)\n same => n,Set(DB(test/after)=${QUEUESTATUS}:${MEMBERNAME})\n same => n,Hangup()\n";

fn start(queues_conf: &str) -> Pbx {
    start_more(queues_conf, &[])
}

/// [`start`] with more config files (`manager.conf`, …).
fn start_more(queues_conf: &str, more: &[(&str, &str)]) -> Pbx {
    let sip = free_port();
    let phones = [free_port(), free_port(), free_port()];
    let base = free_ports(8);
    let rtp = base + (base & 1);
    let mut sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=qtest\n"
    );
    for (name, port) in ["alice", "bob", "carol"].iter().zip(phones) {
        sip_conf += &format!("\n[{name}]\ntype=peer\nhost=127.0.0.1\nport={port}\ncontext=qtest\n");
    }
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 7);
    let mut files = vec![
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", sip_conf.as_str()),
        ("rtp.conf", rtp_conf.as_str()),
        ("queues.conf", queues_conf),
    ];
    files.extend_from_slice(more);
    let d = Daemon::start_with(&files);
    Pbx { d, sip, phones }
}

/// A member phone at `port` running `scenario` (uas_*.xml) for one call.
fn phone(port: u16, name: &str, scenario: &str) -> SippChild {
    Sipp::new(scenario, None)
        .local_port(port)
        .service(name)
        .timeout(60)
        .spawn()
}

/// A call from 1000 to `exten` that waits for ferrisk's BYE.
fn call(p: &Pbx, exten: &str) -> SippChild {
    Sipp::new("uac_call_recv_bye.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .timeout(60)
        .spawn()
}

/// The queue log's lines (`epoch|callid|queue|agent|event|data`) without the epoch.
fn queue_log(p: &Pbx) -> Vec<String> {
    std::fs::read_to_string(p.d.path().join("log/queue_log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_once('|').map_or(l, |(_, r)| r).to_string())
        .collect()
}

/// Wait until the queue log has a line with `queue|agent|event`; return its data field.
fn wait_log(p: &Pbx, queue: &str, agent: &str, event: &str) -> String {
    let needle = format!("|{queue}|{agent}|{event}|");
    wait_for(30, &format!("{needle} in the queue log"), || {
        queue_log(p)
            .into_iter()
            .find_map(|l| l.find(&needle).map(|i| l[i + needle.len()..].to_string()))
    })
}

#[test]
fn linear_rings_alice_then_bob_who_answers_and_the_queue_log_says_so() {
    let p = start(
        "[general]\npersistentmembers=yes\n\n[support]\nstrategy=linear\ntimeout=2\nretry=1\n\
         musicclass=default\nmember => SIP/alice,0,Alice\nmember => SIP/bob,0,Bob\n",
    );
    let alice = phone(p.phones[0], "alice", "uas_noanswer.xml");
    let bob = phone(p.phones[1], "bob", "uas_answer_bye.xml");
    std::thread::sleep(Duration::from_millis(300));
    let caller = call(&p, "700");
    // While Bob talks, `queue show` lists him in a call.
    let show =
        p.d.rx_until("queue show support", 30, |o| o.contains("(in call)"));
    assert!(
        show.starts_with("support has 0 calls (max unlimited) in 'linear' strategy ("),
        "{show}"
    );
    assert!(
        show.contains("\n      Alice (SIP/alice) (ringinuse enabled) (Not in use) has taken no calls yet (login was "),
        "{show}"
    );
    assert!(
        show.contains("\n      Bob (SIP/bob) (ringinuse enabled) (in call) (In use) has taken 1 calls (last was "),
        "{show}"
    );
    alice
        .wait()
        .assert_ok("Alice rang first, was cancelled after the member timeout");
    bob.wait().assert_ok("Bob answered and hung up");
    caller
        .wait()
        .assert_ok("the caller was connected, then hung up when Bob left");
    let enter = wait_log(&p, "support", "NONE", "ENTERQUEUE");
    assert_eq!(enter, "|1000|1");
    let rna = wait_log(&p, "support", "Alice", "RINGNOANSWER");
    assert!(rna.parse::<u64>().is_ok_and(|ms| ms >= 1000), "{rna}");
    let connect = wait_log(&p, "support", "Bob", "CONNECT");
    let f: Vec<&str> = connect.split('|').collect();
    assert_eq!(f.len(), 3, "{connect}");
    let complete = wait_log(&p, "support", "Bob", "COMPLETEAGENT");
    assert!(complete.ends_with("|1"), "{complete}");
    // One caller id for the whole call; the events in order.
    let events: Vec<String> = queue_log(&p)
        .iter()
        .filter(|l| l.contains("|support|"))
        .map(|l| l.split('|').nth(3).unwrap_or("").to_string())
        .collect();
    assert_eq!(
        events,
        ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETEAGENT"],
        "{:?}",
        queue_log(&p)
    );
    let show = p.d.rx("queue show support");
    assert!(
        show.contains("W:0, C:1, A:0, SL:0.0%, SL2:0.0% within 0s\n"),
        "{show}"
    );
    assert!(show.ends_with("   No Callers\n\n"), "{show}");
}

#[test]
fn nobody_answers_timeout_then_pause_and_add_member_change_who_rings() {
    let p = start(
        "[general]\npersistentmembers=yes\n\n[sales]\nstrategy=ringall\ntimeout=2\nretry=1\n\
         setinterfacevar=yes\nmember => SIP/alice\n",
    );
    // Alice never answers: one pass (`n`), then QUEUESTATUS=TIMEOUT.
    let alice = phone(p.phones[0], "alice", "uas_noanswer.xml");
    std::thread::sleep(Duration::from_millis(300));
    let caller = call(&p, "701");
    assert_eq!(p.d.wait_db("test", "status"), "TIMEOUT");
    caller
        .wait()
        .assert_ok("Queue() timed out, the dialplan hung up");
    alice.wait().assert_ok("Alice rang and was cancelled");
    let exit = wait_log(&p, "sales", "NONE", "EXITWITHTIMEOUT");
    // Position, original position, seconds waited (at least the member timeout).
    let f: Vec<&str> = exit.split('|').collect();
    assert_eq!(f[..2], ["1", "1"], "{exit}");
    assert!(f[2].parse::<u64>().is_ok_and(|s| s >= 2), "{exit}");

    // Alice pauses, Bob joins: the next caller reaches Bob.
    let c = call(&p, "702");
    assert_eq!(
        p.d.wait_db("test", "members"),
        "PAUSED,ADDED,SIP/alice,SIP/bob,1"
    );
    c.wait().assert_ok("member changes");
    assert_eq!(wait_log(&p, "sales", "SIP/alice", "PAUSE"), "");
    assert_eq!(wait_log(&p, "sales", "SIP/bob", "ADDMEMBER"), "");
    let db = p.d.rx("database show Queue/PersistentMembers");
    assert!(
        db.contains("/Queue/PersistentMembers/sales")
            && db.contains("SIP/bob;0;0;SIP/bob;SIP/bob;;0"),
        "{db}"
    );
    let bob = phone(p.phones[1], "bob", "uas_answer_bye.xml");
    std::thread::sleep(Duration::from_millis(300));
    let caller = call(&p, "703");
    // `c`: the caller goes on in the dialplan when Bob hangs up.
    assert_eq!(p.d.wait_db("test", "after"), "CONTINUE:SIP/bob");
    bob.wait().assert_ok("Bob answered");
    caller.wait().assert_ok("caller connected to Bob");
    wait_log(&p, "sales", "SIP/bob", "CONNECT");
    assert_eq!(
        queue_log(&p)
            .iter()
            .filter(|l| l.contains("|sales|SIP/alice|RINGNOANSWER|"))
            .count(),
        1,
        "paused Alice was rung again: {:?}",
        queue_log(&p)
    );
    let show = p.d.rx("queue show sales");
    assert!(
        show.contains("\n      SIP/alice (ringinuse enabled) (paused was "),
        "{show}"
    );
    assert!(
        show.contains(
            "\n      SIP/bob (ringinuse enabled) (dynamic) (Not in use) has taken 1 calls"
        ),
        "{show}"
    );
    assert!(show.contains(", C:1, A:1, "), "{show}");
}

#[test]
fn queue_commands_add_remove_pause_and_reload() {
    let p = start("[support]\nmember => SIP/alice,0,Alice\n");
    assert_eq!(
        p.d.rx("queue add member SIP/carol to support penalty 2 as Carol"),
        "Added interface 'SIP/carol' to queue 'support'\n"
    );
    assert_eq!(
        p.d.rx("queue add member SIP/carol to support"),
        "Unable to add interface 'SIP/carol' to queue 'support': Already there\n"
    );
    assert_eq!(
        p.d.rx("queue add member SIP/carol to nosuch"),
        "Unable to add interface to queue 'nosuch': No such queue\n"
    );
    let show = p.d.rx("queue show support");
    assert!(
        show.contains("\n      Carol (SIP/carol) with penalty 2 (ringinuse enabled) (dynamic) (Not in use) has taken no calls yet"),
        "{show}"
    );
    assert_eq!(
        p.d.rx("queue pause member SIP/carol queue support reason lunch"),
        "paused interface 'SIP/carol' in queue 'support' for reason 'lunch'\n"
    );
    assert!(p.d.rx("queue show support").contains(" (paused:lunch was "));
    assert_eq!(
        p.d.rx("queue unpause member SIP/carol"),
        "unpaused interface 'SIP/carol'\n"
    );
    assert_eq!(
        p.d.rx("queue remove member SIP/alice from support"),
        "Unable to remove interface 'SIP/alice' from queue 'support': Member is not dynamic\n"
    );
    assert_eq!(
        p.d.rx("queue remove member SIP/carol from support"),
        "Removed interface SIP/carol from queue 'support'\n"
    );
    assert_eq!(p.d.rx("queue show nosuch"), "No such queue: nosuch.\n");

    // A caller waits (Alice's phone never answers); `queue show` lists it; it hangs up:
    // ABANDON.
    let caller = call(&p, "704");
    let show =
        p.d.rx_until("queue show support", 20, |o| o.contains("   Callers: \n"));
    assert!(
        show.starts_with("support has 1 calls (max unlimited) in 'ringall' strategy"),
        "{show}"
    );
    let line = show
        .lines()
        .find(|l| l.starts_with("      1. SIP/1000-"))
        .unwrap_or_else(|| panic!("no caller line: {show}"));
    assert!(
        line.contains(" (wait: 0:") && line.ends_with(", prio: 0)"),
        "{line}"
    );
    let chan = line
        .split_whitespace()
        .nth(1)
        .expect("channel name")
        .to_string();
    p.d.rx(&format!("channel request hangup {chan}"));
    caller.wait().assert_ok("the waiting caller was hung up");
    assert_eq!(
        wait_log(&p, "support", "NONE", "ABANDON")
            .split('|')
            .take(2)
            .collect::<Vec<_>>(),
        ["1", "1"]
    );
    let show =
        p.d.rx_until("queue show support", 20, |o| o.contains("   No Callers\n"));
    assert!(show.contains(", C:0, A:1, "), "{show}");
    // queue reload re-reads the file: a new queue appears.
    std::fs::write(
        p.d.path().join("queues.conf"),
        "[support]\nstrategy=fewestcalls\nmember => SIP/alice,0,Alice\n[billing]\nmember => SIP/bob\n",
    )
    .expect("write queues.conf");
    p.d.rx("queue reload all");
    let all = p.d.rx("queue show");
    assert!(
        all.starts_with("billing has 0 calls (max unlimited) in 'ringall' strategy"),
        "{all}"
    );
    assert!(
        all.contains("\nsupport has 0 calls (max unlimited) in 'fewestcalls' strategy"),
        "{all}"
    );
    // An error keeps the running queues and names the place.
    std::fs::write(
        p.d.path().join("queues.conf"),
        "[support]\nstrategy=never\n",
    )
    .expect("write queues.conf");
    let out = p.d.rx("queue reload all");
    assert!(out.contains("queues.conf:2:"), "{out}");
    assert!(p
        .d
        .rx("queue show billing")
        .starts_with("billing has 0 calls"));
}

/// A queue call seen from AMI: QueueCallerJoin, AgentCalled (alice does not answer:
/// AgentRingNoAnswer), AgentCalled for bob who answers, QueueCallerLeave, AgentConnect,
/// AgentComplete (bob hung up: Reason agent); then the member actions QueueAdd,
/// QueuePenalty, QueueMemberRingInUse, QueuePause, QueueRemove give their QueueMember*
/// events, and QueueReset / QueueReload answer as Asterisk's.
#[test]
fn queue_events_and_member_actions_reach_ami() {
    let ami = free_port();
    let manager = manager_conf(ami);
    let p = start_more(
        "[support]\nstrategy=linear\ntimeout=2\nretry=1\nmusicclass=default\n\
         member => SIP/alice,0,Alice\nmember => SIP/bob,0,Bob\n\n[sales]\nstrategy=ringall\n",
        &[("manager.conf", &manager)],
    );
    let mut a = AmiSession::login(ami);
    let alice = phone(p.phones[0], "alice", "uas_noanswer.xml");
    let bob = phone(p.phones[1], "bob", "uas_answer_bye.xml");
    std::thread::sleep(Duration::from_millis(300));
    let caller = call(&p, "700");
    let join = a.event("QueueCallerJoin", 30);
    assert_eq!(ami_value(&join, "Queue"), "support", "{join}");
    assert_eq!(ami_value(&join, "Position"), "1", "{join}");
    assert_eq!(ami_value(&join, "Count"), "1", "{join}");
    assert!(
        ami_value(&join, "Channel").starts_with("SIP/1000-"),
        "{join}"
    );
    assert_eq!(ami_value(&join, "Privilege"), "agent,all", "{join}");
    let called = a.event("AgentCalled", 30);
    assert_eq!(ami_value(&called, "Interface"), "SIP/alice", "{called}");
    assert_eq!(ami_value(&called, "MemberName"), "Alice", "{called}");
    assert!(
        ami_value(&called, "DestChannel").starts_with("SIP/alice-"),
        "{called}"
    );
    let rna = a.event("AgentRingNoAnswer", 30);
    assert_eq!(ami_value(&rna, "MemberName"), "Alice", "{rna}");
    let called = a.event("AgentCalled", 30);
    assert_eq!(ami_value(&called, "Interface"), "SIP/bob", "{called}");
    let leave = a.event("QueueCallerLeave", 30);
    assert_eq!(ami_value(&leave, "Count"), "0", "{leave}");
    let connect = a.event("AgentConnect", 30);
    assert_eq!(ami_value(&connect, "MemberName"), "Bob", "{connect}");
    assert!(
        ami_value(&connect, "HoldTime").parse::<u64>().is_ok(),
        "{connect}"
    );
    let complete = a.event("AgentComplete", 30);
    assert_eq!(ami_value(&complete, "Reason"), "agent", "{complete}");
    assert!(
        ami_value(&complete, "TalkTime").parse::<u64>().is_ok(),
        "{complete}"
    );
    alice.wait().assert_ok("alice rang and was cancelled");
    bob.wait().assert_ok("bob answered and hung up");
    caller
        .wait()
        .assert_ok("the caller was hung up after bob left");

    // The member actions and their events.
    let r = a.list(
        "QueueAdd",
        &[
            ("Queue", "sales"),
            ("Interface", "SIP/carol"),
            ("MemberName", "Carol"),
        ],
        "",
    );
    assert!(r[0].contains("Message: Added interface to queue"), "{r:?}");
    let added = a.event("QueueMemberAdded", 10);
    assert_eq!(ami_value(&added, "Membership"), "dynamic", "{added}");
    assert_eq!(ami_value(&added, "MemberName"), "Carol", "{added}");
    let r = a.list(
        "QueuePenalty",
        &[
            ("Queue", "sales"),
            ("Interface", "SIP/carol"),
            ("Penalty", "3"),
        ],
        "",
    );
    assert!(
        r[0].contains("Message: Interface penalty set successfully"),
        "{r:?}"
    );
    let pen = a.event("QueueMemberPenalty", 10);
    assert_eq!(ami_value(&pen, "Penalty"), "3", "{pen}");
    let r = a.list(
        "QueueMemberRingInUse",
        &[("Interface", "SIP/carol"), ("RingInUse", "no")],
        "",
    );
    assert!(
        r[0].contains("Message: Interface ringinuse set successfully"),
        "{r:?}"
    );
    let riu = a.event("QueueMemberRinginuse", 10);
    assert_eq!(ami_value(&riu, "Ringinuse"), "0", "{riu}");
    let r = a.list(
        "QueuePenalty",
        &[("Interface", "SIP/nobody"), ("Penalty", "1")],
        "",
    );
    assert!(
        r[0].contains("Message: Invalid interface, queuename or penalty"),
        "{r:?}"
    );
    a.list(
        "QueuePause",
        &[
            ("Interface", "SIP/carol"),
            ("Paused", "true"),
            ("Reason", "lunch"),
        ],
        "",
    );
    let pause = a.event("QueueMemberPause", 10);
    assert_eq!(ami_value(&pause, "Paused"), "1", "{pause}");
    assert_eq!(ami_value(&pause, "PausedReason"), "lunch", "{pause}");
    a.list(
        "QueueRemove",
        &[("Queue", "sales"), ("Interface", "SIP/carol")],
        "",
    );
    let removed = a.event("QueueMemberRemoved", 10);
    assert_eq!(ami_value(&removed, "Interface"), "SIP/carol", "{removed}");
    let r = a.list("QueueReset", &[("Queue", "support")], "");
    assert!(
        r[0].contains("Message: Queue stats reset successfully"),
        "{r:?}"
    );
    let r = a.list(
        "QueueSummary",
        &[("Queue", "support")],
        "QueueSummaryComplete",
    );
    assert!(r.iter().any(|m| m.contains("Event: QueueSummary")), "{r:?}");
    let r = a.list(
        "QueueStatus",
        &[("Queue", "support")],
        "QueueStatusComplete",
    );
    let params = r
        .iter()
        .find(|m| m.contains("Event: QueueParams"))
        .expect("QueueParams");
    assert_eq!(ami_value(params, "Completed"), "0", "{params}");
    let r = a.list("QueueReload", &[("Queue", "support")], "");
    assert!(
        r[0].contains("Message: Queue reloaded successfully"),
        "{r:?}"
    );
    let r = a.list("QueueReload", &[("Queue", "nosuch")], "");
    assert!(r[0].contains("Response: Error"), "{r:?}");
}
