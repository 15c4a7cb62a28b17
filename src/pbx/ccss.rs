//! Call Completion Supplementary Services (Asterisk's `ccss.c`) with the *generic* agent and
//! monitor: a caller whose `Dial()` met a busy (CCBS) or unanswered (CCNR) device may ask,
//! after hanging up, to be called back when that device is free.
//!
//! - [`CcParams`]: the per-device `cc_*` options (`sip.conf` peers, `CALLCOMPLETION()`).
//!   A channel driver answers for its devices ([`super::tech::Driver::cc_params`]); a
//!   channel may carry its own copy (the [`CC_CONFIG`] datastore, written by
//!   `CALLCOMPLETION()`).
//! - Dial reports each leg that offers CC ([`leg_offers`]), and whether its own run is a
//!   recall ([`recall_begin`], [`recall_end`]). When the caller's channel hangs up after an
//!   unanswered Dial, [`Channel::destroy`](super::Channel) calls [`hangup`] and the core
//!   offers CC to the caller's device (state `CC offered to caller`, `cc_offer_timer`).
//! - [`Ccss`]: the core instances and their state machine (Asterisk's `enum cc_state`),
//!   the generic monitor (the callee's device state going from in use, busy or unavailable
//!   to free, polled through [`super::devstate`]), the generic agent's recall (ring the
//!   caller's device or `cc_agent_dialstring` for `cc_recall_timer` seconds, then run the
//!   original extension with `CC_INTERFACES`), and the timers.
//!
//! The module that owns `ccss.conf` installs the service ([`Ccss::new`], with the
//! [`RecallHooks`] that run `cc_callback_macro`/`cc_callback_sub`); without it Dial offers
//! nothing, as Asterisk with `enabled = no`. Nothing here names a module.

use super::bridge::AbortOnDrop;
use super::devstate::{self, DeviceState};
use super::{CallerId, Channel, Pbx};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// `cc_agent_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentPolicy {
    Never,
    Generic,
    Native,
}

/// `cc_monitor_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorPolicy {
    Never,
    Generic,
    Native,
    Always,
}

/// The CC service a monitored device was offered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Busy subscriber (the callee was busy).
    Ccbs,
    /// No reply (the callee rang and did not answer).
    Ccnr,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ccbs => "CCBS",
            Service::Ccnr => "CCNR",
        }
    }
}

/// A device's call completion options (Asterisk's `ast_cc_config_params`), with
/// Asterisk's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcParams {
    pub agent_policy: AgentPolicy,
    pub monitor_policy: MonitorPolicy,
    /// Seconds.
    pub offer_timer: u32,
    pub ccnr_available_timer: u32,
    pub ccbs_available_timer: u32,
    pub recall_timer: u32,
    pub max_agents: u32,
    pub max_monitors: u32,
    pub callback_macro: String,
    pub callback_sub: String,
    pub agent_dialstring: String,
}

impl Default for CcParams {
    fn default() -> Self {
        CcParams {
            agent_policy: AgentPolicy::Never,
            monitor_policy: MonitorPolicy::Never,
            offer_timer: 20,
            ccnr_available_timer: 7200,
            ccbs_available_timer: 4800,
            recall_timer: 20,
            max_agents: 5,
            max_monitors: 5,
            callback_macro: String::new(),
            callback_sub: String::new(),
            agent_dialstring: String::new(),
        }
    }
}

/// The option names `CcParams` takes (sip.conf peers, `CALLCOMPLETION()`).
pub const OPTIONS: [&str; 11] = [
    "cc_agent_policy",
    "cc_monitor_policy",
    "cc_offer_timer",
    "ccnr_available_timer",
    "ccbs_available_timer",
    "cc_recall_timer",
    "cc_max_agents",
    "cc_max_monitors",
    "cc_callback_macro",
    "cc_callback_sub",
    "cc_agent_dialstring",
];

impl CcParams {
    /// `ast_cc_is_config_param`.
    pub fn is_option(name: &str) -> bool {
        OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(name.trim()))
    }

    /// `ast_cc_set_param`. An unknown policy value sets `never` and says so (as Asterisk's
    /// warning); a timer or limit that is not a number is refused.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        let num = || {
            v.parse::<u32>()
                .map_err(|_| format!("'{v}' is not a valid value for {name} (a whole number)"))
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "cc_agent_policy" => {
                self.agent_policy = match v.to_ascii_lowercase().as_str() {
                    "never" => AgentPolicy::Never,
                    "generic" => AgentPolicy::Generic,
                    "native" => AgentPolicy::Native,
                    _ => {
                        self.agent_policy = AgentPolicy::Never;
                        return Err(format!(
                            "{v} is an invalid value for cc_agent_policy. Switching to 'never'"
                        ));
                    }
                }
            }
            "cc_monitor_policy" => {
                self.monitor_policy = match v.to_ascii_lowercase().as_str() {
                    "never" => MonitorPolicy::Never,
                    "generic" => MonitorPolicy::Generic,
                    "native" => MonitorPolicy::Native,
                    "always" => MonitorPolicy::Always,
                    _ => {
                        self.monitor_policy = MonitorPolicy::Never;
                        return Err(format!(
                            "{v} is an invalid value for cc_monitor_policy. Switching to 'never'"
                        ));
                    }
                }
            }
            "cc_offer_timer" => self.offer_timer = num()?,
            "ccnr_available_timer" => self.ccnr_available_timer = num()?,
            "ccbs_available_timer" => self.ccbs_available_timer = num()?,
            "cc_recall_timer" => self.recall_timer = num()?,
            "cc_max_agents" => self.max_agents = num()?,
            "cc_max_monitors" => self.max_monitors = num()?,
            "cc_callback_macro" => self.callback_macro = v.to_string(),
            "cc_callback_sub" => self.callback_sub = v.to_string(),
            "cc_agent_dialstring" => self.agent_dialstring = v.to_string(),
            _ => return Err(format!("{name} is not a valid CC parameter")),
        }
        Ok(())
    }

    /// `ast_cc_get_param`: the option as text; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "cc_agent_policy" => match self.agent_policy {
                AgentPolicy::Never => "never",
                AgentPolicy::Generic => "generic",
                AgentPolicy::Native => "native",
            }
            .to_string(),
            "cc_monitor_policy" => match self.monitor_policy {
                MonitorPolicy::Never => "never",
                MonitorPolicy::Generic => "generic",
                MonitorPolicy::Native => "native",
                MonitorPolicy::Always => "always",
            }
            .to_string(),
            "cc_offer_timer" => self.offer_timer.to_string(),
            "ccnr_available_timer" => self.ccnr_available_timer.to_string(),
            "ccbs_available_timer" => self.ccbs_available_timer.to_string(),
            "cc_recall_timer" => self.recall_timer.to_string(),
            "cc_max_agents" => self.max_agents.to_string(),
            "cc_max_monitors" => self.max_monitors.to_string(),
            "cc_callback_macro" => self.callback_macro.clone(),
            "cc_callback_sub" => self.callback_sub.clone(),
            "cc_agent_dialstring" => self.agent_dialstring.clone(),
            _ => return None,
        })
    }

    /// Whether a device with these options is monitored generically (`generic`, and
    /// `always`, which falls back to generic when no native offer comes: ferrisk's
    /// channel drivers make none).
    pub fn generic_monitor(&self) -> bool {
        matches!(
            self.monitor_policy,
            MonitorPolicy::Generic | MonitorPolicy::Always
        )
    }
}

/// The datastore name of a channel's own [`CcParams`] (`CALLCOMPLETION()` writes it).
pub const CC_CONFIG: &str = "cc-config";

/// The device name of a channel name (`SIP/1001-0000000a` → `SIP/1001`), as Asterisk's
/// `ast_channel_get_device_name`.
pub fn device_name(chan_name: &str) -> &str {
    chan_name.rsplit_once('-').map_or(chan_name, |(d, _)| d)
}

/// The options of device `Tech/resource` from its driver (defaults when it has none).
pub fn device_params(pbx: &Pbx, device: &str) -> CcParams {
    device
        .split_once('/')
        .and_then(|(tech, res)| pbx.techs.get(tech).and_then(|d| d.cc_params(pbx, res)))
        .unwrap_or_default()
}

/// A channel's options: its own copy if `CALLCOMPLETION()` wrote one, else its device's.
pub fn params_of(chan: &Channel) -> CcParams {
    chan.datastores
        .get::<CcParams>(CC_CONFIG)
        .cloned()
        .unwrap_or_else(|| device_params(&chan.pbx, device_name(chan.name())))
}

/// The channel's own options, created from its device's on first use
/// (`ast_channel_get_cc_config_params`).
pub fn params_mut(chan: &mut Channel) -> &mut CcParams {
    if chan.datastores.get::<CcParams>(CC_CONFIG).is_none() {
        let p = params_of(chan);
        chan.datastores.insert(CC_CONFIG, p);
    }
    chan.datastores
        .get_mut::<CcParams>(CC_CONFIG)
        .expect("just inserted")
}

/// `[general]` of `ccss.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct General {
    /// `enabled` (yes): `no` turns CC off.
    pub enabled: bool,
    /// `cc_max_requests` (20): CC requests the whole system may hold.
    pub max_requests: u32,
    /// `cc_<state>_devstate`: the device state `ccss:<device>` shows in each core state.
    pub devstates: [DeviceState; 9],
}

impl Default for General {
    fn default() -> Self {
        use DeviceState::*;
        General {
            enabled: true,
            max_requests: 20,
            devstates: [
                NotInUse, NotInUse, NotInUse, InUse, InUse, OnHold, Ringing, NotInUse, NotInUse,
            ],
        }
    }
}

/// The `cc_<state>_devstate` option names, in [`State`] order.
const DEVSTATE_OPTIONS: [&str; 9] = [
    "cc_available_devstate",
    "cc_offered_devstate",
    "cc_caller_requested_devstate",
    "cc_active_devstate",
    "cc_callee_ready_devstate",
    "cc_caller_busy_devstate",
    "cc_recalling_devstate",
    "cc_complete_devstate",
    "cc_failed_devstate",
];

/// Interpret `ccss.conf` (`[general]`); warnings name file:line:column.
pub fn parse_general(cf: &crate::config::ConfigFile) -> (General, Vec<String>) {
    let mut g = General::default();
    let mut warnings = Vec::new();
    let Some(sec) = cf.section("general") else {
        return (g, warnings);
    };
    for e in &sec.entries {
        let key = e.key.trim().to_ascii_lowercase();
        let v = e.value.trim();
        if key == "enabled" {
            g.enabled = crate::config::is_true(v);
        } else if key == "cc_max_requests" {
            match v.parse::<u32>() {
                Ok(n) => g.max_requests = n,
                Err(_) => warnings.push(format!(
                    "{}: cc_max_requests: '{v}' is not a whole number (using 20)",
                    e.loc
                )),
            }
        } else if let Some(i) = DEVSTATE_OPTIONS.iter().position(|o| *o == key) {
            g.devstates[i] = DeviceState::parse(v);
        } else if CcParams::is_option(&key) {
            warnings.push(format!(
                "{}: {} belongs in the channel driver's configuration (a sip.conf peer), not ccss.conf (ignored)",
                e.loc, e.key
            ));
        } else {
            warnings.push(format!(
                "{}: unknown option '{}' in [general] (ignored)",
                e.loc, e.key
            ));
        }
    }
    (g, warnings)
}

/// Asterisk's `enum cc_state`, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Available,
    CallerOffered,
    CallerRequested,
    Active,
    CalleeReady,
    CallerBusy,
    Recalling,
    Complete,
    Failed,
}

impl State {
    /// `cc report status`'s words for the state (`cc_state_to_string`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Available => "CC is available",
            State::CallerOffered => "CC offered to caller",
            State::CallerRequested => "CC requested by caller",
            State::Active => "CC accepted by callee",
            State::CalleeReady => "Callee has become available",
            State::CallerBusy => "Callee was ready, but caller is now unavailable",
            State::Recalling => "Caller is attempting to recall",
            State::Complete => "Recall complete",
            State::Failed => "CC has failed",
        }
    }
}

/// A device CC was offered for (a generic monitor once requested).
#[derive(Debug, Clone)]
pub struct Monitor {
    /// `SIP/1002`.
    pub device: String,
    /// What Dial dialed (`SIP/1002`): goes into `CC_INTERFACES`.
    pub dialstring: String,
    pub service: Service,
    pub params: CcParams,
}

/// The caller's side (the generic agent).
#[derive(Debug, Clone)]
struct Agent {
    device: String,
    params: CcParams,
    caller: CallerId,
    context: String,
    exten: String,
}

struct Core {
    state: State,
    agent: Agent,
    monitors: Vec<Monitor>,
    /// The offer timer, or the task that monitors, watches the caller and recalls.
    task: Option<AbortOnDrop>,
}

/// The Dial-side record on the calling channel: the legs that offered CC.
#[derive(Debug, Default, Clone)]
pub struct Dialed {
    pub monitors: Vec<Monitor>,
    /// Where the Dial ran (`MACRO_CONTEXT`/`MACRO_EXTEN` inside a macro): the recall runs
    /// it again.
    pub context: String,
    pub exten: String,
}

const DIALED: &str = "ccss-dialed";

/// On a recall channel: its core, and whether its first Dial has run.
#[derive(Debug, Clone, Copy)]
pub struct Recall {
    pub core_id: u32,
    pub dialed: bool,
}

const RECALL: &str = "ccss-recall";

/// What the module gives the core to run on an answered recall (`cc_callback_macro`,
/// `cc_callback_sub`: the macro and subroutine applications are modules').
pub trait RecallHooks: Send + Sync {
    /// Run `Macro(macro)` (when not empty) then `Gosub(sub)` (when not empty) on `chan`;
    /// `false` when either failed or the channel hung up.
    fn run_callbacks<'a>(
        &'a self,
        chan: &'a mut Channel,
        macro_: &'a str,
        sub: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
}

/// Why CallCompletionRequest/CallCompletionCancel failed (`CC_REQUEST_REASON`,
/// `CC_CANCEL_REASON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoCoreInstance,
    NotGeneric,
    TooManyRequests,
    Unspecified,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NoCoreInstance => "NO_CORE_INSTANCE",
            Refusal::NotGeneric => "NOT_GENERIC",
            Refusal::TooManyRequests => "TOO_MANY_REQUESTS",
            Refusal::Unspecified => "UNSPECIFIED",
        }
    }
}

/// The CC core: every core instance, by core id.
pub struct Ccss {
    general: RwLock<General>,
    cores: Mutex<BTreeMap<u32, Core>>,
    next_id: Mutex<u32>,
    hooks: Box<dyn RecallHooks>,
    /// How often the generic monitor and agent look at device states.
    poll: Duration,
}

/// The installed service, if the CC module runs and `enabled` is on.
pub fn service(pbx: &Pbx) -> Option<Arc<Ccss>> {
    pbx.service::<Ccss>().filter(|c| c.general.read().enabled)
}

fn available(s: DeviceState) -> bool {
    matches!(s, DeviceState::NotInUse | DeviceState::Unknown)
}

async fn state_of(pbx: &Arc<Pbx>, device: &str) -> DeviceState {
    let (p, d) = (pbx.clone(), device.to_string());
    super::blocking::run(move || devstate::device_state(&p, &d))
        .await
        .unwrap_or(DeviceState::Unknown)
}

impl Ccss {
    pub fn new(general: General, hooks: Box<dyn RecallHooks>) -> Ccss {
        Ccss {
            general: RwLock::new(general),
            cores: Mutex::new(BTreeMap::new()),
            next_id: Mutex::new(0),
            hooks,
            poll: Duration::from_millis(250),
        }
    }

    /// Replace `[general]` (a reload); running cores keep going.
    pub fn set_general(&self, g: General) {
        *self.general.write() = g;
    }

    pub fn general(&self) -> General {
        self.general.read().clone()
    }

    /// Requests in the system (cores that were requested and are not finished).
    fn requests(cores: &BTreeMap<u32, Core>) -> u32 {
        cores
            .values()
            .filter(|c| c.state >= State::CallerRequested)
            .count() as u32
    }

    /// The caller hung up after a Dial whose legs offered CC: offer it (`cc_offer`).
    fn offer(self: &Arc<Self>, pbx: &Arc<Pbx>, agent: Agent, dialed: Vec<Monitor>) -> Option<u32> {
        let mut cores = self.cores.lock();
        // Generic agents: only the latest call may be completed (kill_duplicate_offers).
        let stale: Vec<u32> = cores
            .iter()
            .filter(|(_, c)| c.agent.device == agent.device && c.state < State::CallerRequested)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            cores.remove(&id);
        }
        let agents = cores
            .values()
            .filter(|c| c.agent.device == agent.device)
            .count() as u32;
        if agents >= agent.params.max_agents || agents > 0 {
            return None;
        }
        // cc_max_monitors: a device already monitored that often is left out.
        let monitors: Vec<Monitor> = dialed
            .into_iter()
            .filter(|m| {
                let n = cores
                    .values()
                    .flat_map(|c| &c.monitors)
                    .filter(|o| o.device == m.device)
                    .count() as u32;
                n < m.params.max_monitors
            })
            .collect();
        if monitors.is_empty() {
            return None;
        }
        let id = {
            let mut n = self.next_id.lock();
            let id = *n;
            *n = n.wrapping_add(1);
            id
        };
        let secs = agent.params.offer_timer;
        let device = agent.device.clone();
        let this = self.clone();
        let p = pbx.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
            this.fail(
                &p,
                id,
                &format!("Generic agent {device} offer timer expired"),
            );
        });
        cc_log(pbx, id, &format!("CC offered to caller {}", agent.device));
        cores.insert(
            id,
            Core {
                state: State::CallerOffered,
                agent,
                monitors,
                task: Some(AbortOnDrop(task)),
            },
        );
        Some(id)
    }

    /// `CallCompletionRequest()` for the caller's device: the core id, or why not.
    pub fn request(self: &Arc<Self>, pbx: &Arc<Pbx>, device: &str) -> Result<u32, Refusal> {
        let mut cores = self.cores.lock();
        let id = cores
            .iter()
            .find(|(_, c)| c.agent.device == device && c.state < State::CallerRequested)
            .map(|(id, _)| *id)
            .ok_or(Refusal::NoCoreInstance)?;
        if Self::requests(&cores) >= self.general.read().max_requests {
            cores.remove(&id);
            return Err(Refusal::TooManyRequests);
        }
        let core = cores.get_mut(&id).ok_or(Refusal::NoCoreInstance)?;
        if core.state != State::CallerOffered {
            // Still on the call that was offered CC: the offer comes at its hangup.
            return Err(Refusal::Unspecified);
        }
        core.state = State::CallerRequested;
        // The generic monitor: the available timer of the service offered, the device
        // states as they are now; the callee accepts at once (CC_ACTIVE).
        core.state = State::Active;
        let this = self.clone();
        let p = pbx.clone();
        core.task = Some(AbortOnDrop(tokio::spawn(async move {
            this.run(p, id).await;
        })));
        cc_log(
            pbx,
            id,
            &format!("CallCompletionRequest called by caller {device}"),
        );
        Ok(id)
    }

    /// `CallCompletionCancel()` for the caller's device.
    pub fn cancel(&self, pbx: &Pbx, device: &str) -> Result<u32, Refusal> {
        let id = self
            .cores
            .lock()
            .iter()
            .find(|(_, c)| c.agent.device == device && c.state >= State::CallerRequested)
            .map(|(id, _)| *id)
            .ok_or(Refusal::NoCoreInstance)?;
        if self.fail(
            pbx,
            id,
            &format!("Call completion request Cancelled for core ID {id} by caller {device}"),
        ) {
            Ok(id)
        } else {
            Err(Refusal::Unspecified)
        }
    }

    /// `ast_cc_failed`: the core ends. `false` if there was no such core.
    pub fn fail(&self, pbx: &Pbx, id: u32, why: &str) -> bool {
        // Dropping the core stops its task (a task failing its own core returns next).
        let found = self.cores.lock().remove(&id).is_some();
        if found {
            cc_log(pbx, id, &format!("{why}: CC has failed"));
        }
        found
    }

    /// `cc cancel core ID` / `cc cancel all`.
    pub fn kill(&self, id: Option<u32>) -> usize {
        let mut cores = self.cores.lock();
        match id {
            Some(id) => usize::from(cores.remove(&id).is_some()),
            None => {
                let n = cores.len();
                cores.clear();
                n
            }
        }
    }

    /// `cc report status`.
    pub fn report(&self) -> String {
        let cores = self.cores.lock();
        if cores.is_empty() {
            return "There are currently no active call completion transactions\n".to_string();
        }
        let mut out = format!(
            "{} Call completion transactions\nCore ID\t\tCaller\t\t\t\tStatus\n----------------------------------------------------------------------------\n",
            cores.len()
        );
        for (id, c) in cores.iter() {
            out.push_str(&format!(
                "{id}\t\t{}\t\t{}\n",
                c.agent.device,
                c.state.as_str()
            ));
            out.push_str(&format!("\t\t|-->{}@{}\n", c.agent.exten, c.agent.context));
            for m in &c.monitors {
                out.push_str(&format!("\t\t|-->{}({})\n", m.device, m.service.as_str()));
            }
        }
        out
    }

    /// The core ids, for completion (`cc cancel core <TAB>`).
    pub fn core_ids(&self) -> Vec<u32> {
        self.cores.lock().keys().copied().collect()
    }

    /// The state of core `id`, if it runs.
    pub fn state(&self, id: u32) -> Option<State> {
        self.cores.lock().get(&id).map(|c| c.state)
    }

    /// `ccss:<device>`'s device state: the state of the caller's latest core.
    pub fn device_state(&self, device: &str) -> DeviceState {
        let g = self.general.read().devstates;
        let cores = self.cores.lock();
        let st = cores
            .values()
            .rev()
            .find(|c| c.agent.device.eq_ignore_ascii_case(device))
            .map_or(State::Failed, |c| c.state);
        g[st as usize]
    }

    fn set_state(&self, id: u32, from: &[State], to: State) -> bool {
        let mut cores = self.cores.lock();
        match cores.get_mut(&id) {
            Some(c) if from.contains(&c.state) => {
                c.state = to;
                true
            }
            _ => false,
        }
    }

    fn snapshot(&self, id: u32) -> Option<(State, Agent, Vec<Monitor>)> {
        self.cores
            .lock()
            .get(&id)
            .map(|c| (c.state, c.agent.clone(), c.monitors.clone()))
    }

    /// A requested core: watch the callees (generic monitor), then the caller (generic
    /// agent), then recall. Ends when the core fails or starts recalling.
    async fn run(self: Arc<Self>, pbx: Arc<Pbx>, id: u32) {
        let Some((_, agent, monitors)) = self.snapshot(id) else {
            return;
        };
        // The available timer: the longest of the monitors' (CCBS or CCNR).
        let secs = monitors
            .iter()
            .map(|m| match m.service {
                Service::Ccbs => m.params.ccbs_available_timer,
                Service::Ccnr => m.params.ccnr_available_timer,
            })
            .max()
            .unwrap_or(0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(secs));
        let mut last = Vec::with_capacity(monitors.len());
        for m in &monitors {
            last.push(state_of(&pbx, &m.device).await);
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    self.fail(&pbx, id, "Available timer expired for monitored device");
                    return;
                }
                _ = tokio::time::sleep(self.poll) => {}
            }
            let Some((state, ..)) = self.snapshot(id) else {
                return;
            };
            match state {
                State::Active => {
                    // The generic monitor: a device going from in use, busy or unavailable
                    // to free reports the callee available.
                    let mut ready = false;
                    for (m, prev) in monitors.iter().zip(last.iter_mut()) {
                        let now = state_of(&pbx, &m.device).await;
                        if available(now)
                            && matches!(
                                *prev,
                                DeviceState::InUse | DeviceState::Unavailable | DeviceState::Busy
                            )
                        {
                            ready = true;
                        }
                        *prev = now;
                    }
                    if ready && self.set_state(id, &[State::Active], State::CalleeReady) {
                        cc_log(&pbx, id, "Generic monitored party has become available");
                        if !self.callee_ready(&pbx, id, &agent).await {
                            return;
                        }
                    }
                }
                State::CallerBusy => {
                    // The generic agent watches the caller; once free the monitors are
                    // unsuspended and a callee that is free now is available at once.
                    if available(state_of(&pbx, &agent.device).await) {
                        self.set_state(id, &[State::CallerBusy], State::Active);
                        let mut free = false;
                        for (m, prev) in monitors.iter().zip(last.iter_mut()) {
                            *prev = state_of(&pbx, &m.device).await;
                            free |= available(*prev);
                        }
                        if free
                            && self.set_state(id, &[State::Active], State::CalleeReady)
                            && !self.callee_ready(&pbx, id, &agent).await
                        {
                            return;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// CC_CALLEE_READY: recall the caller if free, else wait for it (CC_CALLER_BUSY).
    /// `false` when the task is done (recalling or failed).
    async fn callee_ready(self: &Arc<Self>, pbx: &Arc<Pbx>, id: u32, agent: &Agent) -> bool {
        if !available(state_of(pbx, &agent.device).await) {
            self.set_state(id, &[State::CalleeReady], State::CallerBusy);
            cc_log(
                pbx,
                id,
                &format!("Generic agent caller {} is busy", agent.device),
            );
            return true;
        }
        self.recall(pbx, id, agent).await;
        false
    }

    /// The generic agent's recall (`generic_recall`).
    async fn recall(self: &Arc<Self>, pbx: &Arc<Pbx>, id: u32, agent: &Agent) {
        let dest = if agent.params.agent_dialstring.is_empty() {
            agent.device.clone()
        } else {
            agent.params.agent_dialstring.clone()
        };
        let req = super::originate::Request {
            dest: dest.clone(),
            timeout: None,
            vars: Vec::new(),
            caller: Some(agent.caller.clone()),
        };
        super::tech::prepare(pbx, &dest).await;
        let Ok(chan) = super::originate::start(pbx, &req, None) else {
            self.fail(pbx, id, &format!("Failed to call back device {dest}"));
            return;
        };
        let timeout = Duration::from_secs(u64::from(agent.params.recall_timer.max(1)));
        let Some(mut chan) = answered(chan, timeout).await else {
            self.fail(pbx, id, &format!("Failed to call back device {dest}"));
            return;
        };
        let interfaces = self
            .snapshot(id)
            .map(|(_, _, m)| cc_interfaces(&m))
            .unwrap_or_default();
        chan.datastores.insert(
            RECALL,
            Recall {
                core_id: id,
                dialed: false,
            },
        );
        chan.set_var("CC_INTERFACES", &interfaces);
        chan.context.clone_from(&agent.context);
        chan.exten.clone_from(&agent.exten);
        chan.priority = 1;
        chan.set_var("CC_EXTEN", &agent.exten);
        chan.set_var("CC_CONTEXT", &agent.context);
        let (m, s) = (&agent.params.callback_macro, &agent.params.callback_sub);
        if (!m.is_empty() || !s.is_empty()) && !self.hooks.run_callbacks(&mut chan, m, s).await {
            self.fail(
                pbx,
                id,
                &format!(
                    "Callback macro/subroutine to {} failed. Maybe a hangup?",
                    agent.device
                ),
            );
            return;
        }
        if self.set_state(id, &[State::CalleeReady], State::Recalling) {
            cc_log(
                pbx,
                id,
                &format!("Generic agent {} is recalling", agent.device),
            );
            tokio::spawn(super::exec::run_pbx(chan));
        }
    }

    fn complete(&self, pbx: &Pbx, id: u32) {
        if self.set_state(id, &[State::Recalling], State::Complete) {
            self.cores.lock().remove(&id);
            cc_log(pbx, id, "Recall completed!");
        }
    }
}

/// A line of the CC log (Asterisk's `CC` logger level: here DEBUG, `ccss.c: Core N: …`).
fn cc_log(pbx: &Pbx, id: u32, msg: &str) {
    pbx.log(
        crate::logger::Level::Debug,
        &format!("ccss.c: Core {id}: {msg}"),
    );
}

/// Wait up to `timeout` for `chan` to answer; `None` when it does not.
async fn answered(mut chan: Channel, timeout: Duration) -> Option<Channel> {
    use super::channel::{cause, ChanEvent};
    let mut rx = chan.events.take()?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ChanEvent::Answer) => break,
                Some(ChanEvent::Ringing | ChanEvent::Progress | ChanEvent::Connected(_)) => {}
                _ => return None,
            },
            _ = tokio::time::sleep_until(deadline) => {
                chan.hangup_cause = cause::NO_ANSWER;
                return None;
            }
        }
    }
    chan.events = Some(rx);
    chan.answer();
    Some(chan)
}

/// `CC_INTERFACES`: the monitored dial strings, `&`-joined, each once.
fn cc_interfaces(monitors: &[Monitor]) -> String {
    let mut v: Vec<&str> = Vec::new();
    for m in monitors {
        if !v.contains(&m.dialstring.as_str()) {
            v.push(&m.dialstring);
        }
    }
    v.join("&")
}

/// Dial: the leg to `device` (dialed as `dialstring`) offered CC (`service`: `Ccnr` when
/// it rang, `Ccbs` when it was busy or congested). `leg` is its options (`None`: the
/// device's). Kept on the caller until it hangs up; a later offer from the same device
/// replaces an earlier one.
pub fn leg_offers(
    caller: &mut Channel,
    device: &str,
    dialstring: &str,
    leg: Option<CcParams>,
    service: Service,
) {
    if service_of(caller).is_none() || caller.datastores.get::<Recall>(RECALL).is_some() {
        return;
    }
    let params = leg.unwrap_or_else(|| device_params(&caller.pbx, device));
    if !params.generic_monitor() {
        return;
    }
    if caller.datastores.get::<Dialed>(DIALED).is_none() {
        caller.datastores.insert(DIALED, Dialed::default());
    }
    let in_macro = |v: &str| {
        (caller.macro_depth > 0)
            .then(|| caller.get_var(v))
            .flatten()
            .filter(|s| !s.is_empty())
    };
    let context = in_macro("MACRO_CONTEXT").unwrap_or_else(|| caller.context.clone());
    let exten = in_macro("MACRO_EXTEN").unwrap_or_else(|| caller.exten.clone());
    if let Some(d) = caller.datastores.get_mut::<Dialed>(DIALED) {
        d.context = context;
        d.exten = exten;
        d.monitors.retain(|m| m.device != device);
        d.monitors.push(Monitor {
            device: device.to_string(),
            dialstring: dialstring.to_string(),
            service,
            params,
        });
    }
}

fn service_of(chan: &Channel) -> Option<Arc<Ccss>> {
    service(&chan.pbx)
}

/// Dial: someone answered, so nothing is offered for this call; on a recall the
/// answer completes the core (`ast_cc_completed`, "Recall completed!").
pub fn dial_answered(caller: &mut Channel) {
    if let Some(d) = caller.datastores.get_mut::<Dialed>(DIALED) {
        d.monitors.clear();
    }
    if let Some(r) = caller.datastores.get::<Recall>(RECALL).copied() {
        if let (true, Some(cc)) = (r.dialed, service(&caller.pbx)) {
            cc.complete(&caller.pbx, r.core_id);
        }
    }
}

/// Dial starts: `Some(core id)` when this is the first Dial of a recall (its outcome
/// ends the core: [`recall_end`]).
pub fn recall_begin(chan: &mut Channel) -> Option<u32> {
    let r = chan.datastores.get_mut::<Recall>(RECALL)?;
    if r.dialed {
        return None;
    }
    r.dialed = true;
    Some(r.core_id)
}

/// A recall's Dial ended: answered (or the caller gave up) completes the core, everyone
/// busy fails it.
pub fn recall_end(pbx: &Pbx, core_id: u32, dialstatus: &str) {
    let Some(cc) = service(pbx) else {
        return;
    };
    match dialstatus {
        "ANSWER" | "CANCEL" => cc.complete(pbx, core_id),
        "BUSY" | "CONGESTION" | "CHANUNAVAIL" => {
            cc.fail(
                pbx,
                core_id,
                "Everyone is busy/congested for the recall. How sad",
            );
        }
        _ => {}
    }
}

/// The channel is hanging up ([`Channel::destroy`](super::Channel)): offer CC for its
/// unanswered Dial; a recall channel that never completed fails its core.
pub fn hangup(chan: &mut Channel) {
    if let Some(r) = chan.datastores.get::<Recall>(RECALL).copied() {
        if let Some(cc) = service(&chan.pbx) {
            if cc.state(r.core_id) == Some(State::Recalling) {
                cc.fail(&chan.pbx, r.core_id, "Recall channel hung up");
            }
        }
        return;
    }
    let Some(d) = chan.datastores.get::<Dialed>(DIALED) else {
        return;
    };
    if d.monitors.is_empty() {
        return;
    }
    let (monitors, context, exten) = (d.monitors.clone(), d.context.clone(), d.exten.clone());
    let Some(cc) = service(&chan.pbx) else {
        return;
    };
    let params = params_of(chan);
    if params.agent_policy != AgentPolicy::Generic {
        // `native` needs a channel driver that signals CC itself: none does.
        return;
    }
    let agent = Agent {
        device: device_name(chan.name()).to_string(),
        params,
        caller: chan.caller.clone(),
        context,
        exten,
    };
    let pbx = chan.pbx.clone();
    if tokio::runtime::Handle::try_current().is_ok() {
        cc.offer(&pbx, agent, monitors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_set_and_get_as_asterisk() {
        let mut p = CcParams::default();
        assert_eq!(p.get("cc_agent_policy").as_deref(), Some("never"));
        assert_eq!(p.get("cc_offer_timer").as_deref(), Some("20"));
        assert_eq!(p.get("ccbs_available_timer").as_deref(), Some("4800"));
        assert_eq!(p.get("ccnr_available_timer").as_deref(), Some("7200"));
        p.set("cc_agent_policy", "Generic").unwrap();
        p.set("CC_MONITOR_POLICY", "always").unwrap();
        assert!(p.generic_monitor());
        p.set("cc_recall_timer", "7").unwrap();
        p.set("cc_callback_sub", "cc-cb,s,1").unwrap();
        assert_eq!(p.get("cc_agent_policy").as_deref(), Some("generic"));
        assert_eq!(p.get("cc_recall_timer").as_deref(), Some("7"));
        assert_eq!(p.get("cc_callback_sub").as_deref(), Some("cc-cb,s,1"));
        assert!(p.set("cc_offer_timer", "soon").is_err());
        assert_eq!(p.offer_timer, 20);
        let e = p.set("cc_agent_policy", "sometimes").unwrap_err();
        assert!(e.contains("Switching to 'never'"), "{e}");
        assert_eq!(p.agent_policy, AgentPolicy::Never);
        assert!(p.get("bogus").is_none());
        assert!(CcParams::is_option("cc_max_monitors"));
        assert!(!CcParams::is_option("cc_max_requests"));
    }

    #[test]
    fn general_from_ccss_conf() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ccss.conf"),
            "[general]\ncc_max_requests=3\ncc_recalling_devstate=busy\ncc_offer_timer=5\nfoo=1\n",
        )
        .unwrap();
        let cf = crate::config::load(dir.path(), "ccss.conf", &Default::default()).unwrap();
        let (g, w) = parse_general(&cf);
        assert_eq!(g.max_requests, 3);
        assert_eq!(g.devstates[State::Recalling as usize], DeviceState::Busy);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("ccss.conf:4:"), "{w:?}");
        assert!(w[1].contains("unknown option 'foo'"), "{w:?}");
    }

    struct NoHooks;
    impl RecallHooks for NoHooks {
        fn run_callbacks<'a>(
            &'a self,
            _chan: &'a mut Channel,
            _m: &'a str,
            _s: &'a str,
        ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
            Box::pin(async { true })
        }
    }

    fn agent(dev: &str) -> Agent {
        let params = CcParams {
            agent_policy: AgentPolicy::Generic,
            ..CcParams::default()
        };
        Agent {
            device: dev.into(),
            params,
            caller: CallerId::default(),
            context: "cc".into(),
            exten: "2000".into(),
        }
    }

    fn monitor(dev: &str) -> Monitor {
        let params = CcParams {
            monitor_policy: MonitorPolicy::Generic,
            ..CcParams::default()
        };
        Monitor {
            device: dev.into(),
            dialstring: dev.into(),
            service: Service::Ccbs,
            params,
        }
    }

    #[tokio::test]
    async fn offer_request_cancel_and_limits() {
        let pbx = crate::modules::test_pbx();
        let cc = Arc::new(Ccss::new(General::default(), Box::new(NoHooks)));
        assert_eq!(cc.request(&pbx, "SIP/a"), Err(Refusal::NoCoreInstance));
        let id = cc
            .offer(&pbx, agent("SIP/a"), vec![monitor("SIP/b")])
            .unwrap();
        let r = cc.report();
        assert!(r.starts_with("1 Call completion transactions\n"), "{r}");
        assert!(
            r.contains(&format!(
                "{id}\t\tSIP/a\t\tCC offered to caller\n\t\t|-->2000@cc\n\t\t|-->SIP/b(CCBS)\n"
            )),
            "{r}"
        );
        assert_eq!(cc.device_state("SIP/a"), DeviceState::NotInUse);
        // Only a requested core can be cancelled.
        assert_eq!(cc.cancel(&pbx, "SIP/a"), Err(Refusal::NoCoreInstance));
        assert_eq!(cc.request(&pbx, "SIP/a"), Ok(id));
        assert_eq!(cc.state(id), Some(State::Active));
        assert_eq!(cc.device_state("SIP/a"), DeviceState::InUse);
        // A generic agent holds one request: a new offer to the same caller is refused.
        assert!(cc
            .offer(&pbx, agent("SIP/a"), vec![monitor("SIP/b")])
            .is_none());
        assert_eq!(cc.cancel(&pbx, "SIP/a"), Ok(id));
        assert!(cc.report().starts_with("There are currently no active"));
        // A newer offer replaces one not yet requested.
        let a = cc
            .offer(&pbx, agent("SIP/a"), vec![monitor("SIP/b")])
            .unwrap();
        let b = cc
            .offer(&pbx, agent("SIP/a"), vec![monitor("SIP/c")])
            .unwrap();
        assert_eq!(
            (cc.state(a), cc.state(b)),
            (None, Some(State::CallerOffered))
        );
        // cc_max_requests.
        cc.set_general(General {
            max_requests: 0,
            ..General::default()
        });
        assert_eq!(cc.request(&pbx, "SIP/a"), Err(Refusal::TooManyRequests));
        assert_eq!(cc.state(b), None);
        // cc_max_monitors: a device watched that often is left out.
        let mut m = monitor("SIP/b");
        m.params.max_monitors = 1;
        assert!(cc.offer(&pbx, agent("SIP/x"), vec![m.clone()]).is_some());
        assert!(cc.offer(&pbx, agent("SIP/y"), vec![m]).is_none());
        assert_eq!(cc.kill(None), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_offer_timer_expires() {
        let pbx = crate::modules::test_pbx();
        let cc = Arc::new(Ccss::new(General::default(), Box::new(NoHooks)));
        let id = cc
            .offer(&pbx, agent("SIP/a"), vec![monitor("SIP/b")])
            .unwrap();
        tokio::time::sleep(Duration::from_secs(21)).await;
        assert_eq!(cc.state(id), None);
    }

    #[test]
    fn device_names_and_interfaces() {
        assert_eq!(device_name("SIP/1001-0000000a"), "SIP/1001");
        assert_eq!(device_name("SIP/1001"), "SIP/1001");
        let m = |d: &str| Monitor {
            device: d.into(),
            dialstring: d.into(),
            service: Service::Ccbs,
            params: CcParams::default(),
        };
        assert_eq!(
            cc_interfaces(&[m("SIP/a"), m("SIP/b"), m("SIP/a")]),
            "SIP/a&SIP/b"
        );
    }
}
