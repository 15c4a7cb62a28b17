//! `AgentLogin(AgentId[,options])` and `AgentRequest(AgentId)`.

use super::{pool, CallError, Phase, Pool};
use crate::apps::{args, moh, playback};
use crate::pbx::app::{App, AppResult};
use crate::pbx::bridge::{self, Ended};
use crate::pbx::channel::{cause, ChanEvent};
use crate::pbx::events::ChanSnapshot;
use crate::pbx::manager::class;
use crate::pbx::media::Frame;
use crate::pbx::module::ModuleContext;
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub fn register(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(AgentLogin));
    ctx.register_app(Arc::new(AgentRequest));
}

struct AgentLogin;

/// The per-login options: agents.conf, overridden by the login channel's AGENT* variables.
struct LoginOpts {
    ackcall: bool,
    acceptdtmf: String,
    autologoff: u32,
    wrapuptime: u64,
    moh: String,
    beep: String,
}

fn login_opts(chan: &Channel, c: &super::config::AgentConf) -> LoginOpts {
    let var = |n: &str| chan.get_var(n).filter(|v| !v.trim().is_empty());
    LoginOpts {
        ackcall: var("AGENTACKCALL").map_or(c.ackcall, |v| crate::config::is_true(&v)),
        acceptdtmf: var("AGENTACCEPTDTMF").unwrap_or_else(|| c.acceptdtmf.clone()),
        autologoff: var("AGENTAUTOLOGOFF")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(c.autologoff),
        wrapuptime: var("AGENTWRAPUPTIME")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(c.wrapuptime),
        moh: c.musiconhold.clone(),
        beep: c.custom_beep.clone(),
    }
}

#[async_trait]
impl App for AgentLogin {
    fn name(&self) -> &'static str {
        "AgentLogin"
    }
    fn synopsis(&self) -> &'static str {
        "Login an agent."
    }
    fn syntax(&self) -> &'static str {
        "AgentLogin(AgentId[,options])"
    }
    fn description(&self) -> &'static str {
        "Login an agent to the system. Any agent authentication is assumed to already be done by dialplan. While logged in, the agent can receive calls and will hear the sound file specified by the config option custom_beep when a new call comes in for the agent. Put the agent on hold with music on hold while waiting. The agent hangs up to log out. If the agent cannot login, the dialplan continues with AGENT_STATUS set to INVALID (the agent is not defined) or ALREADY_LOGGED_IN. Options: s - silent login, do not announce the login ok segment to the agent."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let id = args::nth(&a, 0).trim().to_string();
        let silent = args::nth(&a, 1).contains('s');
        let pbx = chan.pbx.clone();
        if id.is_empty() {
            pbx.warning("app_agent_pool.c: AgentLogin requires an AgentId");
            return Err(Hangup);
        }
        let Some(pool) = pool(&pbx) else {
            return Err(Hangup);
        };
        let Some(conf) = pool.agents.lock().get(&id).map(|a| a.conf.clone()) else {
            pbx.warning(&format!("app_agent_pool.c: Agent '{id}' not found!"));
            chan.set_var("AGENT_STATUS", "INVALID");
            return Ok(());
        };
        let shared = chan.shared.clone();
        let calls = match pool.login(&id, chan.name(), shared.clone()) {
            Ok(rx) => rx,
            Err(e) => {
                if e == super::LoginError::AlreadyLoggedIn {
                    pbx.verbose_line(3, &format!("Agent '{id}' already logged in."));
                }
                chan.set_var("AGENT_STATUS", e.as_str());
                return Ok(());
            }
        };
        let opts = login_opts(chan, &conf);
        let snap = ChanSnapshot::of(chan);
        if let Some(l) = pool
            .agents
            .lock()
            .get_mut(&id)
            .and_then(|a| a.logged.as_mut())
        {
            l.snap = snap.clone();
        }
        let since = std::time::Instant::now();
        pbx.verbose_line(2, &format!("Agent '{id}' logged in (format {})", "slin"));
        pbx.events.publish_module("AgentLogin", class::AGENT, || {
            (vec![("", snap)], vec![("Agent".into(), id.clone())])
        });
        let r = logged_in(chan, &pool, &id, &opts, silent, calls).await;
        pool.logout(&id, &shared);
        let secs = since.elapsed().as_secs();
        pbx.verbose_line(
            2,
            &format!("Agent '{id}' logged out.  Logged in for {secs} seconds."),
        );
        pbx.events.publish_module("AgentLogoff", class::AGENT, || {
            (
                vec![("", ChanSnapshot::of(chan))],
                vec![
                    ("Agent".into(), id.clone()),
                    ("Logintime".into(), secs.to_string()),
                ],
            )
        });
        r
    }
}

/// The login: wait for calls with hold music, talk, wrap up, until the channel hangs up
/// (or the agent is logged off, which hangs it up).
async fn logged_in(
    chan: &mut Channel,
    pool: &Arc<Pool>,
    id: &str,
    o: &LoginOpts,
    silent: bool,
    mut calls: mpsc::UnboundedReceiver<Channel>,
) -> AppResult {
    chan.answer();
    if !silent {
        playback::stream(chan, "agent-loginok", "").await?;
    }
    let pbx = chan.pbx.clone();
    let shared = chan.shared.clone();
    loop {
        // Waiting: hold music until a call is handed over.
        let two = {
            let _moh = match &chan.media {
                Some(m) => moh::start(&pbx, &o.moh, m.to_far.clone()).await,
                None => None,
            };
            tokio::select! {
                c = calls.recv() => c,
                _ = shared.hungup() => None,
            }
        };
        if let Some(m) = &chan.media {
            m.to_far.clear();
        }
        let Some(mut two) = two else {
            return Err(Hangup);
        };
        let caller = two.tech.peer_name().unwrap_or_default();
        two.indicate(ChanEvent::Ringing);
        if !o.beep.is_empty() {
            playback::stream(chan, &o.beep, "").await?;
        }
        if o.ackcall {
            match acknowledge(chan, &two, o).await? {
                Ack::Yes => {}
                Ack::CallerGone => {
                    drop(two);
                    pool.set_phase(id, Phase::Ready);
                    continue;
                }
                Ack::TimedOut => {
                    pbx.verbose_line(3, &format!("Agent '{id}' did not respond.  Logging out."));
                    two.hangup_cause = cause::NO_ANSWER;
                    drop(two);
                    shared.request_hangup(cause::NORMAL_CLEARING);
                    return Err(Hangup);
                }
            }
        }
        if two.check_hangup() {
            drop(two);
            pool.set_phase(id, Phase::Ready);
            continue;
        }
        two.answer();
        pool.set_phase(
            id,
            Phase::OnCall {
                peer: caller.clone(),
                since: chrono::Utc::now().timestamp(),
            },
        );
        chan.bridged = Some(caller.clone());
        chan.set_var("BRIDGEPEER", &caller);
        chan.publish("AgentLogin", id);
        let ended =
            bridge::bridge(chan.media.clone(), &shared, two.media.clone(), &two.shared).await;
        chan.bridged = None;
        chan.set_var("BRIDGEPEER", "");
        two.hangup_cause = cause::NORMAL_CLEARING;
        drop(two);
        if ended == Ended::A || shared.hangup_requested() {
            return Err(Hangup);
        }
        let soft_logoff = pool
            .agents
            .lock()
            .get(id)
            .and_then(|a| a.logged.as_ref())
            .is_some_and(|l| l.logoff_after_call);
        if soft_logoff {
            shared.request_hangup(cause::NORMAL_CLEARING);
            return Err(Hangup);
        }
        if o.wrapuptime > 0 {
            pool.set_phase(id, Phase::Wrapup);
            let _moh = match &chan.media {
                Some(m) => moh::start(&pbx, &o.moh, m.to_far.clone()).await,
                None => None,
            };
            chan.sleep(Duration::from_millis(o.wrapuptime)).await?;
        }
        pool.set_phase(id, Phase::Ready);
    }
}

enum Ack {
    Yes,
    CallerGone,
    TimedOut,
}

/// `ackcall`: wait for the agent to key `acceptdtmf` (at most `autologoff` seconds when
/// set) while the caller is still there.
async fn acknowledge(chan: &mut Channel, two: &Channel, o: &LoginOpts) -> Result<Ack, Hangup> {
    let deadline = (o.autologoff > 0)
        .then(|| tokio::time::Instant::now() + Duration::from_secs(u64::from(o.autologoff)));
    let want: Vec<char> = o.acceptdtmf.to_ascii_uppercase().chars().collect();
    let mut got: Vec<char> = Vec::new();
    let caller = two.shared.clone();
    loop {
        let left = match deadline {
            Some(d) => {
                let now = tokio::time::Instant::now();
                if now >= d {
                    return Ok(Ack::TimedOut);
                }
                Some(d - now)
            }
            None => None,
        };
        let f = tokio::select! {
            f = chan.read_frame(left) => f?,
            _ = caller.hungup() => return Ok(Ack::CallerGone),
        };
        if let Some(Frame::Dtmf(d, _)) = f {
            got.push(d.to_ascii_uppercase());
            if got.len() > want.len() {
                got.remove(0);
            }
            if got == want {
                return Ok(Ack::Yes);
            }
        }
    }
}

struct AgentRequest;

#[async_trait]
impl App for AgentRequest {
    fn name(&self) -> &'static str {
        "AgentRequest"
    }
    fn synopsis(&self) -> &'static str {
        "Request an agent to connect with the channel."
    }
    fn syntax(&self) -> &'static str {
        "AgentRequest(AgentId)"
    }
    fn description(&self) -> &'static str {
        "Request an agent to connect with the channel. Failure to find, alert the agent, or acknowledge the call will continue the dialplan with AGENT_STATUS set: INVALID (the agent is not defined), NOT_LOGGED_IN, BUSY (on another call), NOT_CONNECTED (the agent did not connect with the call, most likely did not acknowledge it), ERROR (alerting the agent failed). When the call ends the caller is hung up."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let id = data.trim();
        let pbx = chan.pbx.clone();
        if id.is_empty() {
            pbx.warning("app_agent_pool.c: AgentRequest requires an AgentId");
            return Err(Hangup);
        }
        let out = match super::request(&pbx, id, Some(chan)) {
            Ok(o) => o,
            Err(e) => {
                chan.set_var("AGENT_STATUS", e.as_str());
                return Ok(());
            }
        };
        let mut leg = out.chan;
        (out.call)();
        let Some(mut events) = leg.events.take() else {
            chan.set_var("AGENT_STATUS", CallError::Error.as_str());
            return Ok(());
        };
        let shared = chan.shared.clone();
        let answered = loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ChanEvent::Answer) => break true,
                    Some(ChanEvent::Ringing) => chan.indicate(ChanEvent::Ringing),
                    Some(ChanEvent::Hangup(_)) | None => break false,
                    Some(_) => {}
                },
                _ = shared.hungup() => return Err(Hangup),
            }
        };
        if !answered {
            chan.set_var("AGENT_STATUS", CallError::NotConnected.as_str());
            return Ok(());
        }
        leg.events = Some(events);
        chan.answer();
        chan.bridged = Some(leg.name().to_string());
        chan.set_var("BRIDGEPEER", leg.name());
        chan.publish("AgentRequest", id);
        let ended =
            bridge::bridge(chan.media.clone(), &shared, leg.media.clone(), &leg.shared).await;
        chan.bridged = None;
        leg.hangup_cause = cause::NORMAL_CLEARING;
        drop(leg);
        let _ = ended;
        // As Asterisk, the caller leaves with the agent call.
        Err(Hangup)
    }
}
