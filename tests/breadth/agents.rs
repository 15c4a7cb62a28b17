//! agents: `app_agent_pool.so` end to end. A SIPp phone logs in with `AgentLogin(1001)` and
//! stays in the application; a second SIPp caller reaches it with `AgentRequest(1001)` or
//! through a queue whose member is `Agent/1002`; AGENT() reports LOGGEDIN/LOGGEDOUT; the
//! `agent show online` / `agent logoff` commands through `ferrisk -rx`.

use crate::common::*;

const EXTENSIONS: &str = "[agents]\n\
exten => 800,1,AgentLogin(${CALLERID(num)},s)\n same => n,Hangup()\n\
exten => 801,1,AgentRequest(1001)\n same => n,Set(DB(test/req)=${AGENT_STATUS})\n same => n,Hangup()\n\
exten => 802,1,Queue(q)\n same => n,Hangup()\n\
exten => 803,1,Answer()\n same => n,Set(DB(test/${CALLERID(num)})=${AGENT(1001:status)}:${AGENT(1001:fullchannel)})\n same => n,Hangup()\n\
exten => 804,1,Answer()\n same => n,AgentRequest(1002)\n same => n,Set(DB(test/busy)=${AGENT_STATUS})\n same => n,Hangup()\n";

const AGENTS: &str =
    "[general]\n[tmpl](!)\nwrapuptime=0\n[1001](tmpl)\nfullname=Mark Spencer\n[1002](tmpl)\n";

fn start() -> (Daemon, u16) {
    start_more(&[])
}

/// [`start`] with more config files (`manager.conf`).
fn start_more(more: &[(&str, &str)]) -> (Daemon, u16) {
    let sip = free_port();
    let base = free_ports(16);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=agents\nallowguest=yes\n\
         disallow=all\nallow=ulaw\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 15);
    let mut files = vec![
        ("extensions.conf", EXTENSIONS),
        ("sip.conf", sip_conf.as_str()),
        ("rtp.conf", rtp_conf.as_str()),
        ("agents.conf", AGENTS),
        (
            "queues.conf",
            "[q]\nstrategy=ringall\nmember => Agent/1002\n",
        ),
    ];
    files.extend_from_slice(more);
    let d = Daemon::start_with(&files);
    (d, sip)
}

/// A call from `from` to `exten` that stays up until ferrisk sends BYE.
fn call_until_bye(sip: u16, from: &str, exten: &str) -> SippChild {
    Sipp::new("uac_call_recv_bye.xml", Some(sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", from)
        .timeout(60)
        .spawn()
}

#[test]
fn an_agent_logs_in_takes_calls_and_is_logged_off() {
    let (d, sip) = start();
    let agent = call_until_bye(sip, "1001", "800");
    let online = d.rx_until("agent show online", 30, |s| s.contains("Logged in: 1"));
    assert!(online.starts_with("Agent-ID Name                 State       Channel                        Talking with\n"), "{online}");
    assert!(
        online.contains("1001     Mark Spencer         NOT_INUSE   SIP/"),
        "{online}"
    );
    assert!(d
        .rx("agent show all")
        .contains("Defined agents: 2, Logged in: 1, Talking: 0"));

    // AGENT() sees the login.
    call_until_bye(sip, "in", "803")
        .wait()
        .assert_ok("AGENT() while logged in");
    let st = d.wait_db("test", "in");
    assert!(st.starts_with("LOGGEDIN:SIP/"), "{st}");

    // A caller reaches the waiting agent; both see the BYE when the agent is logged off.
    let caller = call_until_bye(sip, "2000", "801");
    let talking = d.rx_until("agent show online", 30, |s| s.contains("Talking: 1"));
    assert!(
        talking.contains("1001     Mark Spencer         INUSE       SIP/"),
        "{talking}"
    );
    assert!(d.rx("agent show 1001").contains("TalkingWith: Agent/1001-"));
    assert!(d.rx("agent logoff 1001").contains("Logging out 1001"));
    agent.wait().assert_ok("the agent hung up by agent logoff");
    caller.wait().assert_ok("the caller hung up with the agent");
    d.rx_until("agent show online", 30, |s| s.contains("Logged in: 0"));
    call_until_bye(sip, "out", "803")
        .wait()
        .assert_ok("AGENT() after logoff");
    assert_eq!(d.wait_db("test", "out"), "LOGGEDOUT:");

    // The queue rings its Agent/1002 member once the agent logs in.
    let agent2 = call_until_bye(sip, "1002", "800");
    d.rx_until("agent show online", 30, |s| {
        s.contains("1002 ") && s.contains("NOT_INUSE")
    });
    let qcaller = call_until_bye(sip, "3000", "802");
    d.rx_until("agent show online", 30, |s| s.contains("Talking: 1"));
    // A second request for the busy agent is refused with BUSY.
    call_until_bye(sip, "busy", "804")
        .wait()
        .assert_ok("a call to a busy agent");
    assert_eq!(d.wait_db("test", "busy"), "BUSY");
    d.rx("agent logoff Agent/1002");
    agent2.wait().assert_ok("agent 1002 logged off");
    qcaller
        .wait()
        .assert_ok("the queue caller hung up with the agent");
}

/// AMI sees the agent log in (AgentLogin with the channel and Agent), the Agents action
/// lists it (AGENT_IDLE with its channel, the other AGENT_LOGGEDOFF), the AgentLogoff
/// action hangs it up and AgentLogoff (with Logintime) follows.
#[test]
fn agent_login_logoff_events_and_the_agents_actions_reach_ami() {
    let ami = free_port();
    let manager = manager_conf(ami);
    let (_d, sip) = start_more(&[("manager.conf", &manager)]);
    let mut a = AmiSession::login(ami);
    let agent = call_until_bye(sip, "1001", "800");
    let login = a.event("AgentLogin", 30);
    assert_eq!(ami_value(&login, "Agent"), "1001", "{login}");
    assert!(ami_value(&login, "Channel").starts_with("SIP/"), "{login}");
    assert_eq!(ami_value(&login, "Privilege"), "agent,all", "{login}");
    let r = a.list("Agents", &[], "AgentsComplete");
    assert!(r[0].contains("Message: Agents will follow"), "{r:?}");
    let a1001 = r
        .iter()
        .find(|m| m.contains("Agent: 1001\r\n"))
        .unwrap_or_else(|| panic!("no agent 1001 in {r:?}"));
    assert_eq!(ami_value(a1001, "Name"), "Mark Spencer", "{a1001}");
    assert_eq!(ami_value(a1001, "Status"), "AGENT_IDLE", "{a1001}");
    assert!(ami_value(a1001, "Channel").starts_with("SIP/"), "{a1001}");
    let a1002 = r
        .iter()
        .find(|m| m.contains("Agent: 1002\r\n"))
        .unwrap_or_else(|| panic!("no agent 1002 in {r:?}"));
    assert_eq!(ami_value(a1002, "Status"), "AGENT_LOGGEDOFF", "{a1002}");
    assert!(
        r.last().is_some_and(|m| m.contains("ListItems: 2")),
        "{r:?}"
    );
    let r = a.list("AgentLogoff", &[("Agent", "1002")], "");
    assert!(r[0].contains("Message: No such agent"), "{r:?}");
    let r = a.list("AgentLogoff", &[("Agent", "1001")], "");
    assert!(r[0].contains("Message: Agent logged out"), "{r:?}");
    let logoff = a.event("AgentLogoff", 30);
    assert_eq!(ami_value(&logoff, "Agent"), "1001", "{logoff}");
    assert!(
        ami_value(&logoff, "Logintime").parse::<u64>().is_ok(),
        "{logoff}"
    );
    agent
        .wait()
        .assert_ok("the agent was hung up by AgentLogoff");
}
