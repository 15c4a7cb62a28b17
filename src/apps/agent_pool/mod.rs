//! `app_agent_pool.so`: Asterisk's call-center agents. `agents.conf` defines the agents;
//! an agent logs in with `AgentLogin(id)` and its channel stays in the application hearing
//! hold music until a call is presented: `AgentRequest(id)`, or `Dial(Agent/id)` / a queue
//! member `Agent/id` through the `Agent` channel technology this module registers. After
//! the call the agent waits again (after `wrapuptime`); hanging up logs the agent off. The
//! device `Agent:id` (and `Agent/id`) is NOT_INUSE while waiting, INUSE on a call and
//! UNAVAILABLE when logged off.
//!
//! The parts: [`config`] (the file, pure), [`Pool`] (the agents' state, one lock held
//! briefly), `app` (AgentLogin, AgentRequest; the AgentLogin/AgentLogoff events),
//! `cli` (`agent …`), `manager` (the Agents and AgentLogoff actions), and here the module,
//! the `Agent` technology and the AGENT() function.

pub mod config;

mod app;
mod cli;
mod manager;

use crate::channels::local;
use crate::pbx::channel::{cause, ChannelShared};
use crate::pbx::devstate::DeviceState;
use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::tech::{Driver, Outbound, RequestError};
use crate::pbx::{Channel, Pbx};
use config::AgentConf;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// `app_agent_pool.so`.
pub struct AppAgentPool;

impl Module for AppAgentPool {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_agent_pool.so", "Call center agent pool applications")
            .configs(&["agents.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        if !pbx.settings.astetcdir.join("agents.conf").exists() {
            return Err(ModuleError::Decline(
                "No agent configuration file (agents.conf), so no agents".into(),
            ));
        }
        let confs = read_config(pbx).map_err(ModuleError::Failed)?;
        let pool = Arc::new(Pool::default());
        pool.apply(confs);
        ctx.provide(pool);
        app::register(ctx);
        ctx.register_func(Arc::new(AgentFunc));
        ctx.register_tech(Arc::new(AgentDriver));
        ctx.register_cli_with(cli::register);
        manager::register(ctx);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let Some(pool) = pool(&ctx.pbx) else {
            return Reload::Failed("app_agent_pool.so is not loaded".into());
        };
        match read_config(&ctx.pbx) {
            Ok(c) => {
                pool.apply(c);
                Reload::Done(String::new())
            }
            Err(e) => {
                ctx.pbx.warning(&format!("app_agent_pool.c: {e}"));
                Reload::Failed(e)
            }
        }
    }
}

fn read_config(pbx: &Pbx) -> Result<Vec<AgentConf>, String> {
    let s = &pbx.settings;
    let cf = crate::config::load(&s.astetcdir, "agents.conf", &s.load_options())
        .map_err(|e| e.to_string())?;
    config::parse(&cf).map_err(|errs| crate::config::join_errors(&errs))
}

/// The agents of the loaded module.
pub fn pool(pbx: &Pbx) -> Option<Arc<Pool>> {
    pbx.service::<Pool>()
}

/// What a logged-in agent is doing (Asterisk's `AGENT_STATE_*`, simplified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a call, hearing hold music.
    Ready,
    /// A call has been handed to the agent (beep, acknowledgement).
    Presented,
    /// Talking with `peer` since `since` (epoch seconds).
    OnCall { peer: String, since: i64 },
    /// After a call, for `wrapuptime`.
    Wrapup,
}

/// A logged-in agent.
pub struct Logged {
    pub channel: String,
    pub shared: Arc<ChannelShared>,
    pub since: i64,
    pub phase: Phase,
    /// Log off when the current call ends (`agent logoff … soft`).
    pub logoff_after_call: bool,
    /// The agent channel's fields at login (the `Agents` action's channel headers).
    pub snap: crate::pbx::events::ChanSnapshot,
    calls: mpsc::UnboundedSender<Channel>,
}

/// One agent of `agents.conf`.
pub struct Agent {
    pub conf: AgentConf,
    pub logged: Option<Logged>,
}

impl Agent {
    /// The agent's device state (`agent->devstate`).
    pub fn devstate(&self) -> DeviceState {
        match &self.logged {
            None => DeviceState::Unavailable,
            Some(l) => match l.phase {
                Phase::Ready | Phase::Presented => DeviceState::NotInUse,
                Phase::OnCall { .. } | Phase::Wrapup => DeviceState::InUse,
            },
        }
    }
}

/// Why AgentLogin refused (its `AGENT_STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    Invalid,
    AlreadyLoggedIn,
}

impl LoginError {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginError::Invalid => "INVALID",
            LoginError::AlreadyLoggedIn => "ALREADY_LOGGED_IN",
        }
    }
}

/// Why a call could not reach an agent (AgentRequest's `AGENT_STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    Invalid,
    NotLoggedIn,
    Busy,
    NotConnected,
    Error,
}

impl CallError {
    pub fn as_str(self) -> &'static str {
        match self {
            CallError::Invalid => "INVALID",
            CallError::NotLoggedIn => "NOT_LOGGED_IN",
            CallError::Busy => "BUSY",
            CallError::NotConnected => "NOT_CONNECTED",
            CallError::Error => "ERROR",
        }
    }
    /// The hangup cause of a refused `Agent/` request.
    fn cause(self) -> i32 {
        match self {
            CallError::Invalid => cause::UNALLOCATED,
            CallError::NotLoggedIn => cause::SUBSCRIBER_ABSENT,
            CallError::Busy => cause::USER_BUSY,
            CallError::NotConnected => cause::NO_ANSWER,
            CallError::Error => cause::FAILURE,
        }
    }
}

/// The agents (a service of `app_agent_pool.so`).
#[derive(Default)]
pub struct Pool {
    pub agents: Mutex<BTreeMap<String, Agent>>,
}

impl Pool {
    /// Take a (re)read `agents.conf`: new agents appear, changed ones keep their login,
    /// removed ones that are logged in stay until they log off (as Asterisk keeps them).
    pub fn apply(&self, confs: Vec<AgentConf>) {
        let mut agents = self.agents.lock();
        let ids: Vec<String> = confs.iter().map(|c| c.id.clone()).collect();
        agents.retain(|id, a| ids.contains(id) || a.logged.is_some());
        for c in confs {
            match agents.get_mut(&c.id) {
                Some(a) => a.conf = c,
                None => {
                    agents.insert(
                        c.id.clone(),
                        Agent {
                            conf: c,
                            logged: None,
                        },
                    );
                }
            }
        }
    }

    /// Log `id` in on `channel`: the receiver is where its calls arrive.
    pub fn login(
        &self,
        id: &str,
        channel: &str,
        shared: Arc<ChannelShared>,
    ) -> Result<mpsc::UnboundedReceiver<Channel>, LoginError> {
        let mut agents = self.agents.lock();
        let a = agents.get_mut(id).ok_or(LoginError::Invalid)?;
        if a.logged.is_some() {
            return Err(LoginError::AlreadyLoggedIn);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        a.logged = Some(Logged {
            channel: channel.to_string(),
            shared,
            since: chrono::Utc::now().timestamp(),
            phase: Phase::Ready,
            logoff_after_call: false,
            snap: Default::default(),
            calls: tx,
        });
        Ok(rx)
    }

    /// `id`'s login on `shared` ends.
    pub fn logout(&self, id: &str, shared: &Arc<ChannelShared>) {
        if let Some(a) = self.agents.lock().get_mut(id) {
            if a.logged
                .as_ref()
                .is_some_and(|l| Arc::ptr_eq(&l.shared, shared))
            {
                a.logged = None;
            }
        }
    }

    /// Set a logged-in agent's phase.
    pub fn set_phase(&self, id: &str, phase: Phase) {
        if let Some(l) = self
            .agents
            .lock()
            .get_mut(id)
            .and_then(|a| a.logged.as_mut())
        {
            l.phase = phase;
        }
    }

    /// Reserve a ready agent for a call: where to hand the call.
    fn present(&self, id: &str) -> Result<mpsc::UnboundedSender<Channel>, CallError> {
        let mut agents = self.agents.lock();
        let a = agents.get_mut(id).ok_or(CallError::Invalid)?;
        let l = a.logged.as_mut().ok_or(CallError::NotLoggedIn)?;
        if l.phase != Phase::Ready {
            return Err(CallError::Busy);
        }
        l.phase = Phase::Presented;
        Ok(l.calls.clone())
    }

    /// Undo [`Pool::present`] when the call never reached the agent.
    fn unpresent(&self, id: &str) {
        if let Some(l) = self
            .agents
            .lock()
            .get_mut(id)
            .and_then(|a| a.logged.as_mut())
        {
            if l.phase == Phase::Presented {
                l.phase = Phase::Ready;
            }
        }
    }

    /// `agent logoff`: hang up the agent's channel (with `soft`, once its call ends).
    /// False when the agent is not logged in.
    pub fn logoff(&self, id: &str, soft: bool) -> bool {
        let mut agents = self.agents.lock();
        let Some(l) = agents.get_mut(id).and_then(|a| a.logged.as_mut()) else {
            return false;
        };
        if soft && matches!(l.phase, Phase::OnCall { .. } | Phase::Presented) {
            l.logoff_after_call = true;
        } else {
            l.shared.request_hangup(cause::NORMAL_CLEARING);
        }
        true
    }

    /// The state of device `Agent:id`.
    pub fn devstate(&self, id: &str) -> DeviceState {
        self.agents
            .lock()
            .get(id)
            .map_or(DeviceState::Invalid, Agent::devstate)
    }
}

/// A call leg to agent `id`: the leg the caller holds and, once called, the far half
/// handed to the agent's AgentLogin.
pub fn request(
    pbx: &Arc<Pbx>,
    id: &str,
    requester: Option<&Channel>,
) -> Result<Outbound, CallError> {
    let pool = pool(pbx).ok_or(CallError::Error)?;
    let tx = pool.present(id)?;
    let seq = pbx.next_tech_seq("Agent");
    let base = format!("Agent/{id}-{seq:08x}");
    let (one, two) = local::pair(pbx, "Agent", (base.clone(), format!("{base};2")), requester);
    let handoff = Handoff {
        pool,
        id: id.to_string(),
        tx,
        two: Some(two),
    };
    let call = Box::new(move || handoff.send());
    Ok(Outbound { chan: one, call })
}

/// The far half of an agent call on its way to the agent; dropped unsent (the leg was
/// never called), the agent is ready again and the half hangs up.
struct Handoff {
    pool: Arc<Pool>,
    id: String,
    tx: mpsc::UnboundedSender<Channel>,
    two: Option<Channel>,
}

impl Handoff {
    fn send(mut self) {
        if let Some(two) = self.two.take() {
            if let Err(e) = self.tx.send(two) {
                self.pool.unpresent(&self.id);
                drop(e.0);
            }
        }
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        if self.two.take().is_some() {
            self.pool.unpresent(&self.id);
        }
    }
}

/// The `Agent` technology: `Agent/<id>` calls a logged-in agent.
struct AgentDriver;

impl Driver for AgentDriver {
    fn tech(&self) -> &'static str {
        "Agent"
    }
    fn request(
        &self,
        pbx: &Arc<Pbx>,
        data: &str,
        requester: Option<&Channel>,
    ) -> Result<Outbound, RequestError> {
        let id = data.split('/').next().unwrap_or("").trim();
        request(pbx, id, requester).map_err(|e| RequestError {
            cause: e.cause(),
            msg: format!("Agent '{id}': {}", e.as_str()),
        })
    }
    fn device_state(&self, pbx: &Pbx, resource: &str) -> Option<DeviceState> {
        Some(pool(pbx)?.devstate(resource.trim()))
    }
}

/// `AGENT(AgentId[:item])`.
struct AgentFunc;

impl Func for AgentFunc {
    fn name(&self) -> &'static str {
        "AGENT"
    }
    fn synopsis(&self) -> &'static str {
        "Gets information about an Agent"
    }
    fn syntax(&self) -> &'static str {
        "AGENT(AgentId[:item])"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let pool = pool(&chan.pbx)
            .ok_or_else(|| FuncError::Other("app_agent_pool.so is not loaded".into()))?;
        let (id, item) = a.split_once(':').unwrap_or((a, "status"));
        agent_item(&pool, id.trim(), item.trim())
    }
}

/// One item of AGENT().
pub fn agent_item(pool: &Pool, id: &str, item: &str) -> Result<String, FuncError> {
    if id.is_empty() {
        return Err(FuncError::Other(
            "The AGENT function requires an argument - agentid!".into(),
        ));
    }
    let agents = pool.agents.lock();
    let Some(a) = agents.get(id) else {
        return Err(FuncError::Other(format!("Agent '{id}' not found!")));
    };
    let chan = a.logged.as_ref().map(|l| l.channel.as_str()).unwrap_or("");
    Ok(match item.to_ascii_lowercase().as_str() {
        "" | "status" => if a.logged.is_some() {
            "LOGGEDIN"
        } else {
            "LOGGEDOUT"
        }
        .to_string(),
        "password" => String::new(),
        "name" => a.conf.fullname.clone(),
        "mohclass" => a.conf.musiconhold.clone(),
        // Asterisk's `channel` drops the `-xxxxxxxx` suffix of the channel name.
        "channel" => chan.rsplit_once('-').map_or(chan, |(b, _)| b).to_string(),
        "fullchannel" => chan.to_string(),
        "exten" => String::new(),
        other => return Err(FuncError::Other(format!("Unknown AGENT item '{other}'"))),
    })
}

#[cfg(test)]
mod tests;
