//! Queue() and the member applications and functions through the interpreter, with
//! `Local/` channels as members.

use super::{app, funcs, members, Queues};
use crate::pbx::module::ModuleContext;
use crate::pbx::tests::{get, pbx_with, run};
use crate::pbx::Pbx;
use std::sync::Arc;

pub(super) fn setup(queues_conf: &str, dialplan: &str) -> (Arc<Pbx>, Arc<Queues>) {
    let pbx = pbx_with(dialplan);
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("queues.conf"), queues_conf).expect("write");
    let cf = crate::config::load(d.path(), "queues.conf", &Default::default()).expect("load");
    let c = super::config::parse(&cf).expect("queues.conf");
    let qs = Arc::new(Queues::default());
    qs.state.lock().apply(c.general, c.queues);
    let ctx = ModuleContext::new(&pbx, "app_queue.so");
    ctx.provide(qs.clone());
    app::register(&ctx);
    members::register(&ctx);
    funcs::register(&ctx);
    (pbx, qs)
}

const MEMBERS: &str = "exten => a,1,Answer()\n same => n,Set(GLOBAL(ANSWERED)=${GLOBAL(ANSWERED)}a)\n same => n,Wait(0.3)\n same => n,Hangup()\n\
exten => b,1,Answer()\n same => n,Set(GLOBAL(ANSWERED)=${GLOBAL(ANSWERED)}b)\n same => n,Wait(0.3)\n same => n,Hangup()\n\
exten => r,1,Ringing()\n same => n,Wait(30)\n";

#[tokio::test]
async fn a_member_answers_and_the_caller_continues_with_c() {
    let (pbx, qs) = setup(
        "[support]\nstrategy=linear\nsetinterfacevar=yes\nsetqueuevar=yes\nmember => Local/a@t,0,Alice\nmember => Local/b@t\n",
        &format!("[t]\nexten => s,1,Queue(support,c)\n same => n,Set(ST=${{QUEUESTATUS}})\n{MEMBERS}"),
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "ST"), Some("CONTINUE"));
    assert_eq!(get(&v, "MEMBERNAME"), Some("Alice"));
    assert_eq!(get(&v, "MEMBERINTERFACE"), Some("Local/a@t"));
    assert_eq!(get(&v, "QUEUESTRATEGY"), Some("linear"));
    assert_eq!(pbx.get_global("ANSWERED").as_deref(), Some("a"));
    let st = qs.state.lock();
    let q = st.get("support").expect("queue");
    assert_eq!(q.completed, 1);
    assert_eq!(q.members[0].calls, 1);
    assert!(!q.members[0].in_call);
    assert!(q.callers.is_empty());
}

#[tokio::test]
async fn rrmemory_moves_on_and_a_paused_member_is_skipped() {
    let (pbx, _qs) = setup(
        "[q]\nstrategy=rrmemory\nmember => Local/a@t\nmember => Local/b@t\n",
        &format!("[t]\nexten => s,1,Queue(q,c)\nexten => p,1,PauseQueueMember(q,Local/a@t,,lunch)\n same => n,Set(PS=${{PQMSTATUS}})\n same => n,Set(PAUSED=${{QUEUE_MEMBER(q,paused,Local/a@t)}})\n same => n,Set(FREE=${{QUEUE_MEMBER(q,free)}})\n same => n,PauseQueueMember(q,Local/zz@t)\n same => n,Set(PS2=${{PQMSTATUS}})\n{MEMBERS}"),
    );
    run(&pbx, "t", "s").await;
    run(&pbx, "t", "s").await;
    run(&pbx, "t", "s").await;
    assert_eq!(pbx.get_global("ANSWERED").as_deref(), Some("aba"));
    let v = run(&pbx, "t", "p").await;
    assert_eq!(get(&v, "PS"), Some("PAUSED"));
    assert_eq!(get(&v, "PAUSED"), Some("1"));
    assert_eq!(get(&v, "FREE"), Some("1"));
    assert_eq!(get(&v, "PS2"), Some("NOTFOUND"));
    run(&pbx, "t", "s").await;
    run(&pbx, "t", "s").await;
    assert_eq!(pbx.get_global("ANSWERED").as_deref(), Some("ababb"));
}

#[tokio::test]
async fn nobody_answers_timeout_and_n() {
    let (pbx, qs) = setup(
        "[q]\ntimeout=1\nretry=1\nmember => Local/r@t\n",
        &format!("[t]\nexten => s,1,Queue(q,,,,2)\n same => n,Set(ST=${{QUEUESTATUS}})\nexten => n,1,Queue(q,n)\n same => n,Set(ST=${{QUEUESTATUS}})\n{MEMBERS}"),
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "ST"), Some("TIMEOUT"));
    let v = run(&pbx, "t", "n").await;
    assert_eq!(get(&v, "ST"), Some("TIMEOUT"));
    let st = qs.state.lock();
    let q = st.get("q").expect("queue");
    assert_eq!(q.abandoned, 2);
    assert!(q.callers.is_empty() && !q.members[0].ringing);
}

#[tokio::test]
async fn join_and_leave_rules_and_unknown_queues() {
    let (pbx, _qs) = setup(
        "[empty]\njoinempty=yes\n[paused]\njoinempty=paused\nmember => Local/a@t\n[gone]\nleavewhenempty=yes\ntimeout=1\nmember => Local/r@t\n",
        &format!("[t]\nexten => e,1,Queue(empty)\n same => n,Set(ST=${{QUEUESTATUS}})\n\
exten => p,1,PauseQueueMember(,Local/a@t)\n same => n,Queue(paused)\n same => n,Set(ST=${{QUEUESTATUS}})\n\
exten => u,1,Queue(nosuch)\n same => n,Set(ST=${{QUEUESTATUS}})\n\
exten => l,1,Set(GLOBAL(X)=1)\n same => n,Queue(gone)\n same => n,Set(ST=${{QUEUESTATUS}})\n\
exten => z,1,Wait(0.5)\n same => n,PauseQueueMember(gone,Local/r@t)\n{MEMBERS}"),
    );
    assert_eq!(get(&run(&pbx, "t", "e").await, "ST"), Some("JOINEMPTY"));
    assert_eq!(get(&run(&pbx, "t", "p").await, "ST"), Some("JOINEMPTY"));
    assert_eq!(get(&run(&pbx, "t", "u").await, "ST"), Some("UNKNOWN"));
    // Pausing the only member makes the waiting caller leave.
    let p2 = pbx.clone();
    let pauser = tokio::spawn(async move { run(&p2, "t", "z").await });
    assert_eq!(get(&run(&pbx, "t", "l").await, "ST"), Some("LEAVEEMPTY"));
    let _ = pauser.await;
}

#[tokio::test]
async fn dynamic_members_and_the_queue_functions() {
    let (pbx, qs) = setup(
        "[general]\npersistentmembers=yes\n[q]\nmember => Local/a@t,0,Alice\n",
        "[t]\nexten => s,1,AddQueueMember(q,Local/b@t,3,,Bob)\n same => n,Set(A1=${AQMSTATUS})\n\
 same => n,AddQueueMember(q,Local/b@t)\n same => n,Set(A2=${AQMSTATUS})\n\
 same => n,AddQueueMember(nosuch,Local/b@t)\n same => n,Set(A3=${AQMSTATUS})\n\
 same => n,Set(LIST=${QUEUE_MEMBER_LIST(q)})\n same => n,Set(COUNT=${QUEUE_MEMBER(q,count)})\n\
 same => n,Set(PEN=${QUEUE_MEMBER_PENALTY(q,Local/b@t)})\n same => n,Set(QUEUE_MEMBER_PENALTY(q,Local/b@t)=5)\n\
 same => n,Set(PEN2=${QUEUE_MEMBER(q,penalty,Local/b@t)})\n same => n,Set(EX=${QUEUE_EXISTS(q)}${QUEUE_EXISTS(nosuch)})\n\
 same => n,Set(WAIT=${QUEUE_WAITING_COUNT(q)})\n same => n,Set(V=${QUEUE_VARIABLES(q)})\n\
 same => n,RemoveQueueMember(q,Local/a@t)\n same => n,Set(R1=${RQMSTATUS})\n\
 same => n,RemoveQueueMember(q,Local/b@t)\n same => n,Set(R2=${RQMSTATUS})\n\
 same => n,RemoveQueueMember(q,Local/b@t)\n same => n,Set(R3=${RQMSTATUS})\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "A1"), Some("ADDED"));
    assert_eq!(get(&v, "A2"), Some("MEMBERALREADY"));
    assert_eq!(get(&v, "A3"), Some("NOSUCHQUEUE"));
    assert_eq!(get(&v, "LIST"), Some("Local/a@t,Local/b@t"));
    assert_eq!(get(&v, "COUNT"), Some("2"));
    assert_eq!(get(&v, "PEN"), Some("3"));
    assert_eq!(get(&v, "PEN2"), Some("5"));
    assert_eq!(get(&v, "EX"), Some("10"));
    assert_eq!(get(&v, "WAIT"), Some("0"));
    assert_eq!(get(&v, "QUEUENAME"), Some("q"));
    assert_eq!(get(&v, "QUEUEMAX"), Some("0"));
    assert_eq!(get(&v, "R1"), Some("NOTDYNAMIC"));
    assert_eq!(get(&v, "R2"), Some("REMOVED"));
    assert_eq!(get(&v, "R3"), Some("NOTINQUEUE"));
    assert_eq!(qs.state.lock().get("q").map(|q| q.members.len()), Some(1));
}

#[test]
fn persistent_members_round_trip_through_astdb() {
    let pbx = pbx_with("[t]\n");
    pbx.astdb
        .put(
            super::PM_FAMILY,
            "q",
            "Local/b@t;2;1;Bob;Custom:bob;lunch;0|SIP/9;0;0;SIP/9;SIP/9;;0",
        )
        .expect("put");
    pbx.astdb
        .put(super::PM_FAMILY, "gone", "SIP/1;0;0;SIP/1;SIP/1;;0")
        .expect("put");
    let qs = Queues::default();
    let g = super::config::General {
        persistentmembers: true,
        ..Default::default()
    };
    qs.state
        .lock()
        .apply(g, vec![super::config::QueueConf::new("q", false)]);
    super::load_persistent(&pbx, &qs);
    let st = qs.state.lock();
    let q = st.get("q").expect("queue");
    assert_eq!(q.members.len(), 2);
    let b = &q.members[0];
    assert_eq!(
        (
            b.interface.as_str(),
            b.penalty,
            b.paused,
            b.membername.as_str(),
            b.state_interface.as_str(),
            b.reason_paused.as_str(),
            b.dynamic
        ),
        ("Local/b@t", 2, true, "Bob", "Custom:bob", "lunch", true)
    );
    assert_eq!(
        super::dump_members(q),
        "Local/b@t;2;1;Bob;Custom:bob;lunch;0|SIP/9;0;0;SIP/9;SIP/9;;0"
    );
    assert!(pbx.astdb.get(super::PM_FAMILY, "gone").is_none());
}

#[test]
fn queue_show_has_asterisks_shape() {
    let c = {
        let mut c = super::config::QueueConf::new("support", false);
        c.members
            .push(super::config::MemberConf::parse("SIP/1001,1,Alice").expect("m"));
        c.members
            .push(super::config::MemberConf::parse("SIP/1002").expect("m"));
        c
    };
    let mut q = super::state::Queue::new(c);
    q.members[1].paused = true;
    q.members[1].reason_paused = "lunch".into();
    q.members[1].status = crate::pbx::devstate::DeviceState::NotInUse;
    let now = (std::time::Instant::now(), std::time::SystemTime::now());
    let out = super::cli::print_queue(&q, now);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "support has 0 calls (max unlimited) in 'ringall' strategy (0s holdtime, 0s talktime), W:0, C:0, A:0, SL:0.0%, SL2:0.0% within 0s");
    assert_eq!(lines[1], "   Members: ");
    assert!(lines[2].starts_with("      Alice (SIP/1001) with penalty 1 (ringinuse enabled) (Unknown) has taken no calls yet (login was "), "{out}");
    assert!(
        lines[3].starts_with("      SIP/1002 (ringinuse enabled) (paused:lunch was "),
        "{out}"
    );
    assert!(
        lines[3].contains(" secs ago) (Not in use) has taken no calls yet"),
        "{out}"
    );
    assert_eq!(lines[4], "   No Callers");
    assert_eq!(lines[5], "");
}
