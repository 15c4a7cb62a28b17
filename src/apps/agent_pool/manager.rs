//! app_agent_pool's AMI actions: `Agents` (an `Agents` event per agent, as Asterisk's
//! `action_agents`) and `AgentLogoff`.

use super::{pool, Phase};
use crate::manager::actions::list;
use crate::pbx::manager::{class, Action, Caller, Message, Reply};
use crate::pbx::module::ModuleContext;
use crate::pbx::Pbx;
use async_trait::async_trait;
use std::sync::Arc;

pub fn register(ctx: &ModuleContext) {
    ctx.register_manager_action(Arc::new(Agents));
    ctx.register_manager_action(Arc::new(AgentLogoff));
}

struct Agents;

#[async_trait]
impl Action for Agents {
    fn name(&self) -> &'static str {
        "Agents"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Lists agents and their status."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let Some(pool) = pool(pbx) else {
            return list(req, "Agents will follow", Vec::new(), "AgentsComplete");
        };
        let out = pool
            .agents
            .lock()
            .values()
            .map(|a| {
                let mut m = Message::event("Agents", Some(req))
                    .with("Agent", a.conf.id.clone())
                    .with("Name", a.conf.fullname.clone());
                match &a.logged {
                    None => m.push("Status", "AGENT_LOGGEDOFF"),
                    Some(l) => {
                        if let Phase::OnCall { peer, since } = &l.phase {
                            m.push("Status", "AGENT_ONCALL");
                            m.push("TalkingToChan", peer.clone());
                            m.push("CallStarted", since.to_string());
                        } else {
                            m.push("Status", "AGENT_IDLE");
                        }
                        m.push("LoggedInTime", l.since.to_string());
                        let mut f = Vec::new();
                        l.snap.fields("", &mut f);
                        for (k, v) in f {
                            m.push(&k, v);
                        }
                    }
                }
                m
            })
            .collect();
        list(req, "Agents will follow", out, "AgentsComplete")
    }
}

struct AgentLogoff;

#[async_trait]
impl Action for AgentLogoff {
    fn name(&self) -> &'static str {
        "AgentLogoff"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Sets an agent as no longer logged in."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let agent = req.value("Agent").trim();
        if agent.is_empty() {
            return vec![Message::error(req, "No agent specified")];
        }
        let soft = crate::config::is_true(req.value("Soft"));
        let done = pool(pbx).is_some_and(|p| p.logoff(agent, soft));
        vec![if done {
            Message::ack(req, "Agent logged out")
        } else {
            Message::error(req, "No such agent")
        }]
    }
}
