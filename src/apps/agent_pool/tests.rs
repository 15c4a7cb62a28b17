//! agents.conf, the pool's state machine, AGENT(), the CLI shapes, and a login taking a
//! call through the interpreter.

use super::config::{parse, AgentConf};
use super::*;
use crate::pbx::channel::NullTech;
use crate::pbx::module::ModuleContext;
use crate::pbx::tests::pbx_with;
use std::time::Duration;

fn conf(text: &str) -> Result<Vec<AgentConf>, String> {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("agents.conf"), text).expect("write");
    let cf = crate::config::load(d.path(), "agents.conf", &Default::default()).expect("load");
    parse(&cf).map_err(|e| crate::config::join_errors(&e))
}

#[test]
fn config_defaults_templates_and_errors() {
    let c = conf("[general]\n[my-agents](!)\nautologoff=15\nackcall=yes\nacceptdtmf=##\n[1001](my-agents)\nfullname=Mark Spencer\n[1002]\nwrapuptime=5000\nmusiconhold=jazz\ncustom_beep=ding\nrecordagentcalls=yes\n").expect("ok");
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].id, "1001");
    assert!(c[0].ackcall);
    assert_eq!(c[0].acceptdtmf, "##");
    assert_eq!(c[0].autologoff, 15);
    assert_eq!(c[0].fullname, "Mark Spencer");
    let d = &c[1];
    assert!(!d.ackcall);
    assert_eq!(d.acceptdtmf, "#");
    assert_eq!(d.wrapuptime, 5000);
    assert_eq!(d.musiconhold, "jazz");
    assert_eq!(d.custom_beep, "ding");
    assert!(d.recordagentcalls);
    assert_eq!(AgentConf::new("x").musiconhold, "default");
    assert_eq!(AgentConf::new("x").custom_beep, "beep");
    let e = conf("[1001]\nwrapuptime=soon\n").unwrap_err();
    assert!(e.contains("agents.conf:2:"), "{e}");
    assert!(e.contains("wrapuptime"), "{e}");
    let e = conf("[1001]\n\nacceptdtmf=x\n").unwrap_err();
    assert!(e.contains("agents.conf:3:"), "{e}");
    assert!(conf("[1001]\nbogus=1\n").unwrap_err().contains("bogus"));
}

#[test]
fn status_values_are_asterisks() {
    assert_eq!(LoginError::Invalid.as_str(), "INVALID");
    assert_eq!(LoginError::AlreadyLoggedIn.as_str(), "ALREADY_LOGGED_IN");
    let all = [
        CallError::Invalid,
        CallError::NotLoggedIn,
        CallError::Busy,
        CallError::NotConnected,
        CallError::Error,
    ];
    let names: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        names,
        ["INVALID", "NOT_LOGGED_IN", "BUSY", "NOT_CONNECTED", "ERROR"]
    );
}

fn pool_of(ids: &[&str]) -> Pool {
    let p = Pool::default();
    p.apply(ids.iter().map(|i| AgentConf::new(i)).collect());
    p
}

#[test]
fn an_agents_state_machine() {
    let p = pool_of(&["1001", "1002"]);
    let s1 = ChannelShared::new("SIP/a-1".into(), "u1".into());
    assert_eq!(p.devstate("1001"), DeviceState::Unavailable);
    assert_eq!(p.devstate("nope"), DeviceState::Invalid);
    assert_eq!(p.present("nope").unwrap_err(), CallError::Invalid);
    assert_eq!(p.present("1001").unwrap_err(), CallError::NotLoggedIn);
    assert_eq!(
        p.login("nope", "SIP/a-1", s1.clone()).unwrap_err(),
        LoginError::Invalid
    );
    let _rx = p.login("1001", "SIP/a-1", s1.clone()).expect("login");
    assert_eq!(
        p.login("1001", "SIP/b-2", s1.clone()).unwrap_err(),
        LoginError::AlreadyLoggedIn
    );
    assert_eq!(p.devstate("1001"), DeviceState::NotInUse);
    assert!(p.present("1001").is_ok());
    assert_eq!(p.present("1001").unwrap_err(), CallError::Busy);
    assert_eq!(p.devstate("1001"), DeviceState::NotInUse);
    p.unpresent("1001");
    assert!(p.present("1001").is_ok());
    p.set_phase(
        "1001",
        Phase::OnCall {
            peer: "SIP/c-3".into(),
            since: 0,
        },
    );
    assert_eq!(p.devstate("1001"), DeviceState::InUse);
    assert!(cli::list(&p, true).contains("SIP/c-3"));
    // A soft logoff waits for the call; a hard one hangs the agent up.
    assert!(p.logoff("1001", true));
    assert!(!s1.hangup_requested());
    assert!(p.logoff("1001", false));
    assert!(s1.hangup_requested());
    assert!(!p.logoff("1002", false));
    // Only the login's own channel logs it out.
    let other = ChannelShared::new("SIP/z-9".into(), "u9".into());
    p.logout("1001", &other);
    assert_eq!(p.devstate("1001"), DeviceState::InUse);
    p.logout("1001", &s1);
    assert_eq!(p.devstate("1001"), DeviceState::Unavailable);
}

#[test]
fn agent_function_items_and_cli_shapes() {
    let p = Pool::default();
    let mut c = AgentConf::new("1001");
    c.fullname = "Mark Spencer".into();
    p.apply(vec![c, AgentConf::new("1002")]);
    assert_eq!(agent_item(&p, "1001", "status").unwrap(), "LOGGEDOUT");
    let s = ChannelShared::new("SIP/a-00000001".into(), "u".into());
    let _rx = p.login("1001", "SIP/a-00000001", s).expect("login");
    assert_eq!(agent_item(&p, "1001", "").unwrap(), "LOGGEDIN");
    assert_eq!(agent_item(&p, "1001", "name").unwrap(), "Mark Spencer");
    assert_eq!(agent_item(&p, "1001", "mohclass").unwrap(), "default");
    assert_eq!(agent_item(&p, "1001", "password").unwrap(), "");
    assert_eq!(agent_item(&p, "1001", "channel").unwrap(), "SIP/a");
    assert_eq!(
        agent_item(&p, "1001", "fullchannel").unwrap(),
        "SIP/a-00000001"
    );
    assert!(agent_item(&p, "9", "status").is_err());
    assert!(agent_item(&p, "1001", "bogus").is_err());
    let online = cli::list(&p, true);
    assert_eq!(
        online,
        format!(
            "{:<8} {:<20} {:<11} {:<30} Talking with\n{:<8} {:<20} {:<11} {:<30} \n\nDefined agents: 2, Logged in: 1, Talking: 0\n",
            "Agent-ID", "Name", "State", "Channel", "1001", "Mark Spencer", "NOT_INUSE", "SIP/a-00000001"
        )
    );
    assert!(cli::list(&p, false).contains("1002     "));
    assert!(cli::list(&p, false).contains("UNAVAILABLE"));
    let one = cli::show_one(&p, "1001");
    assert!(one.starts_with("Id: 1001\nName: Mark Spencer\nBeep: beep\nMOH: default\nRecordCalls: No\nState: NOT_INUSE\nLoggedInChannel: SIP/a-00000001\n"), "{one}");
    assert_eq!(cli::show_one(&p, "9"), "Agent '9' not found\n");
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn a_logged_in_agent_takes_a_request_and_logs_off_on_hangup() {
    let pbx = pbx_with(
        "[t]\nexten => agent,1,AgentLogin(1001,s)\n\
         exten => s,1,Set(GLOBAL(BEFORE)=${AGENT(1001:status)})\n same => n,AgentRequest(1001)\n\
         exten => nope,1,AgentRequest(1002)\n same => n,Set(GLOBAL(ST)=${AGENT_STATUS})\n\
         exten => twice,1,AgentLogin(1001)\n same => n,Set(GLOBAL(TWICE)=${AGENT_STATUS})\n\
         exten => dial,1,Dial(Agent/1001)\n same => n,Set(GLOBAL(DS)=${DIALSTATUS})\n",
    );
    let pool = Arc::new(pool_of(&["1001", "1002"]));
    let ctx = ModuleContext::new(&pbx, "app_agent_pool.so");
    ctx.provide(pool.clone());
    app::register(&ctx);
    ctx.register_func(Arc::new(AgentFunc));
    ctx.register_tech(Arc::new(AgentDriver));
    let g = |n: &str| pbx.get_global(n);

    crate::pbx::tests::run(&pbx, "t", "nope").await;
    assert_eq!(g("ST").as_deref(), Some("NOT_LOGGED_IN"));
    crate::pbx::tests::run(&pbx, "t", "dial").await;
    assert_eq!(g("DS").as_deref(), Some("CHANUNAVAIL"));

    let mut agent = Channel::new(&pbx, "Test/agent-0001".into(), Arc::new(NullTech));
    agent.context = "t".into();
    agent.exten = "agent".into();
    agent.priority = 1;
    let agent_shared = agent.shared.clone();
    let login = tokio::spawn(crate::pbx::exec::run_pbx(agent));
    until("the agent is logged in", || {
        pool.devstate("1001") == DeviceState::NotInUse
    })
    .await;
    assert_eq!(
        crate::pbx::devstate::device_state(&pbx, "Agent:1001"),
        DeviceState::NotInUse
    );
    crate::pbx::tests::run(&pbx, "t", "twice").await;
    assert_eq!(g("TWICE").as_deref(), Some("ALREADY_LOGGED_IN"));

    let p2 = pbx.clone();
    let caller = tokio::spawn(async move { crate::pbx::tests::run(&p2, "t", "s").await });
    until("the agent is on the call", || {
        pool.devstate("1001") == DeviceState::InUse
    })
    .await;
    assert_eq!(
        crate::pbx::devstate::device_state(&pbx, "Agent/1001"),
        DeviceState::InUse
    );
    assert_eq!(g("BEFORE").as_deref(), Some("LOGGEDIN"));
    agent_shared.request_hangup(16);
    tokio::time::timeout(Duration::from_secs(5), caller)
        .await
        .expect("the caller leaves with the agent")
        .expect("join");
    tokio::time::timeout(Duration::from_secs(5), login)
        .await
        .expect("AgentLogin ends")
        .expect("join");
    assert_eq!(pool.devstate("1001"), DeviceState::Unavailable);
}
