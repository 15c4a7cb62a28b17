//! A channel: one call leg, as the dialplan sees it.
//!
//! The [`Channel`] struct is owned by exactly one task (the one running its dialplan, or a
//! `Dial()` that created it as an outbound leg) and handed `&mut` to applications. Other
//! tasks (CLI, the other half of a Local channel) see it through [`ChannelShared`]: a
//! snapshot for `core show channels`, the soft-hangup flag, and an event queue.

use super::cdr::Cdr;
use super::events::{ChanSnapshot, Event, Topic};
use super::vars::Vars;
use super::Pbx;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, Notify};

/// Asterisk channel states (`ast_state2str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChanState {
    Down,
    Reserved,
    OffHook,
    Dialing,
    Ring,
    Ringing,
    Up,
    Busy,
}

impl ChanState {
    /// The number Asterisk gives the state (`enum ast_channel_state`: AMI's
    /// ChannelState, AGI's CHANNEL STATUS).
    pub fn code(self) -> u8 {
        match self {
            ChanState::Down => 0,
            ChanState::Reserved => 1,
            ChanState::OffHook => 2,
            ChanState::Dialing => 3,
            ChanState::Ring => 4,
            ChanState::Ringing => 5,
            ChanState::Up => 6,
            ChanState::Busy => 7,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChanState::Down => "Down",
            ChanState::Reserved => "Rsrvd",
            ChanState::OffHook => "OffHook",
            ChanState::Dialing => "Dialing",
            ChanState::Ring => "Ring",
            ChanState::Ringing => "Ringing",
            ChanState::Up => "Up",
            ChanState::Busy => "Busy",
        }
    }
}

/// Hangup causes (Q.850) that the dialplan sees in HANGUPCAUSE.
pub mod cause {
    pub const NOT_DEFINED: i32 = 0;
    pub const UNALLOCATED: i32 = 1;
    pub const NO_ROUTE_DESTINATION: i32 = 3;
    pub const NORMAL_CLEARING: i32 = 16;
    pub const ANSWERED_ELSEWHERE: i32 = 26;
    pub const USER_BUSY: i32 = 17;
    pub const NO_USER_RESPONSE: i32 = 18;
    pub const NO_ANSWER: i32 = 19;
    pub const CALL_REJECTED: i32 = 21;
    pub const NORMAL_UNSPECIFIED: i32 = 31;
    pub const NORMAL_CIRCUIT_CONGESTION: i32 = 34;
    pub const SWITCH_CONGESTION: i32 = 42;
    pub const CHANNEL_UNACCEPTABLE: i32 = 6;
    pub const SUBSCRIBER_ABSENT: i32 = 20;
    pub const FAILURE: i32 = 38;
    pub const BEARERCAPABILITY_NOTAVAIL: i32 = 58;
    pub const INTERWORKING: i32 = 127;

    /// Asterisk's `ast_cause2str` text.
    pub fn description(c: i32) -> &'static str {
        match c {
            0 => "Unknown",
            1 => "Unallocated (unassigned) number",
            3 => "No route to destination",
            6 => "Channel unacceptable",
            16 => "Normal Clearing",
            17 => "User busy",
            18 => "No user responding",
            19 => "User alerting, no answer",
            20 => "Subscriber absent",
            21 => "Call Rejected",
            31 => "Normal, unspecified",
            34 => "Circuit/channel congestion",
            38 => "Network out of order",
            42 => "Switching equipement congestion",
            58 => "Bearer capability not available",
            127 => "Interworking, unspecified",
            _ => "Unknown",
        }
    }
}

/// Something the far side of an outbound leg tells the leg's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanEvent {
    Ringing,
    Progress,
    Answer,
    Busy,
    Congestion,
    /// The far side hung up, with this cause.
    Hangup(i32),
    /// The far side redirected the call (a SIP 3xx): place it to this destination instead
    /// (`Tech/resource`, or a bare extension that `Dial` calls through `Local`), with the
    /// redirecting information it gave.
    Forward(Box<Forward>),
    /// The far side said who it is (a SIP P-Asserted-Identity or Remote-Party-ID in a
    /// provisional or final response): the caller's connected line.
    Connected(PartyId),
    /// The far side of a called channel asks to transfer the party it talks to (a SIP
    /// REFER): blind transfer to this extension.
    Transfer(Box<TransferTo>),
    /// Indicated to a channel whose far end asked for a transfer: it was done (`true`) or
    /// could not be (`false`).
    Transferred(bool),
}

/// Where a blind transfer sends the transferred party: `exten` in the transferring
/// channel's `TRANSFER_CONTEXT`, else in `context` (the transferring peer's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferTo {
    pub exten: String,
    pub context: String,
}

/// What a [`ChannelTech::transfer`] did (`TRANSFERSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferResult {
    Success,
    Failure,
    Unsupported,
    /// Asked for: the far end answers later ([`ChannelShared::transfer_outcome`]).
    Pending,
}

/// What a [`ChannelTech::send_text`] did (`SENDTEXTSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextResult {
    Success,
    Failure,
    /// The technology carries no text (Asterisk's channel driver without `send_text`).
    Unsupported,
}

impl TextResult {
    /// Asterisk's `SENDTEXTSTATUS` value.
    pub fn status(self) -> &'static str {
        match self {
            TextResult::Success => "SUCCESS",
            TextResult::Failure => "FAILURE",
            TextResult::Unsupported => "UNSUPPORTED",
        }
    }
}

/// Text messages from the far end a channel keeps while nobody reads them; more are
/// dropped (the oldest first).
pub const MAX_PENDING_TEXT: usize = 32;

/// A call forward requested by the far side of an outbound leg ([`ChanEvent::Forward`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// `Tech/resource`, or a bare extension.
    pub dest: String,
    /// The number the call is forwarded to, as the far side gave it.
    pub to: PartyId,
    /// Why (an Asterisk redirecting reason name: `unknown`, `cfb`, `cfnr`, `cfu`, …).
    pub reason: String,
    /// Where a bare extension is dialed when the channel has no `FORWARD_CONTEXT` (the
    /// called peer's context, as the forwarded channel's context in Asterisk).
    pub context: String,
}

/// A party's name and number (connected line, the parties of a redirection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyId {
    pub name: Option<String>,
    pub num: Option<String>,
}

impl PartyId {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.num.is_none()
    }
}

/// Redirecting information (Asterisk's `REDIRECTING()`): who the call was first meant for
/// (`orig`), the last party that redirected it (`from`), where it went (`to`), why, and
/// how many times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirecting {
    pub orig: PartyId,
    pub from: PartyId,
    pub to: PartyId,
    /// Asterisk reason name of the last redirection (`unknown`, `cfb`, `cfnr`, …).
    pub reason: String,
    pub orig_reason: String,
    pub count: u32,
}

/// Asterisk's redirecting reason names and the SIP `Diversion` reason of each
/// (RFC 5806); in Asterisk's order.
pub const REDIRECTING_REASONS: &[(&str, &str)] = &[
    ("unknown", "unknown"),
    ("cfb", "user-busy"),
    ("cfnr", "no-answer"),
    ("unavailable", "unavailable"),
    ("cfu", "unconditional"),
    ("time_of_day", "time-of-day"),
    ("dnd", "do-not-disturb"),
    ("deflection", "deflection"),
    ("follow_me", "follow-me"),
    ("out_of_order", "out-of-service"),
    ("away", "away"),
    ("cf_dte", "cf_dte"),
    ("send_to_vm", "send_to_vm"),
];

/// The Asterisk reason name for a SIP `Diversion` reason (unknown ones stay as given, as
/// chan_sip keeps them).
pub fn redirecting_reason_from_sip(sip: &str) -> String {
    let sip = sip.trim().trim_matches('"');
    REDIRECTING_REASONS
        .iter()
        .find(|(_, s)| s.eq_ignore_ascii_case(sip))
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| sip.to_string())
}

/// The SIP `Diversion` reason for an Asterisk reason name (names it does not know are
/// sent as they are).
pub fn redirecting_reason_to_sip(reason: &str) -> String {
    let r = reason.trim();
    if r.is_empty() {
        return "unknown".into();
    }
    REDIRECTING_REASONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(r))
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| r.to_string())
}

/// Caller ID and related party information.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    pub name: Option<String>,
    pub num: Option<String>,
    pub ani: Option<String>,
    pub dnid: Option<String>,
    pub rdnis: Option<String>,
}

impl CallerId {
    /// `"Name" <num>` as Asterisk prints CALLERID(all).
    pub fn all(&self) -> String {
        match (&self.name, &self.num) {
            (Some(n), Some(u)) if !n.is_empty() => format!("\"{n}\" <{u}>"),
            (Some(n), None) if !n.is_empty() => format!("\"{n}\" <>"),
            (_, Some(u)) => format!("<{u}>"),
            _ => String::new(),
        }
    }
    /// Parse `"Name" <num>`, `Name <num>`, `<num>` or a bare number/name.
    pub fn parse(s: &str) -> CallerId {
        let s = s.trim();
        let mut out = CallerId::default();
        if let (Some(lt), Some(gt)) = (s.rfind('<'), s.rfind('>')) {
            if lt < gt {
                let num = s[lt + 1..gt].trim();
                let name = s[..lt].trim().trim_matches('"').trim();
                out.num = (!num.is_empty()).then(|| num.to_string());
                out.name = (!name.is_empty()).then(|| name.to_string());
                return out;
            }
        }
        let bare = s.trim_matches('"');
        if bare.is_empty() {
            return out;
        }
        if bare
            .chars()
            .all(|c| c.is_ascii_digit() || "+*#-() ".contains(c))
        {
            out.num = Some(bare.to_string());
        } else {
            out.name = Some(bare.to_string());
        }
        out
    }
}

/// What the rest of the system sees of a channel (CLI, hangup requests, peers).
#[derive(Debug)]
pub struct ChannelShared {
    pub name: String,
    pub uniqueid: String,
    pub created: Instant,
    pub created_wall: SystemTime,
    softhangup: AtomicBool,
    hangup_cause: AtomicI32,
    notify: Notify,
    /// `core show channel` wants the variables: the owner copies them at its next chance.
    vars_wanted: AtomicBool,
    vars_notify: Notify,
    /// A blind transfer the channel's far end asked for (a SIP REFER), for whoever holds
    /// the channel in a bridge.
    transfer: Mutex<Option<TransferTo>>,
    /// The outcome of a transfer this channel asked its far end for (`Transfer()` of an
    /// answered call): `true` done, `false` refused or failed.
    transfer_done: Mutex<Option<bool>>,
    transfer_notify: Notify,
    /// Text frames from the far end (an in-dialog SIP MESSAGE): Asterisk's
    /// `AST_FRAME_TEXT`, read by ReceiveText and passed on by a bridge. A queue of its own
    /// beside the media queues, because text is rare, unpaced and must not be dropped as
    /// audio is.
    text_in: Mutex<std::collections::VecDeque<String>>,
    text_notify: Notify,
    /// Where a manager `Redirect` sends the channel: the interpreter jumps there.
    redirect: Mutex<Option<(String, String, i32)>>,
    /// What another channel asked this one to do instead of its dialplan (Bridge()).
    join: Mutex<Option<PendingJoin>>,
    /// Variables a manager `Setvar` set, applied by the owner at its next chance.
    pending_vars: Mutex<Vec<(String, String)>>,
    vars_pending: AtomicBool,
    pub snapshot: Mutex<Snapshot>,
    /// `SHARED()` variables: a namespace of their own that other channels may read and
    /// write (none until the first is set).
    /// Boxed: one pointer per channel until used (ChannelShared lives as long as the call).
    #[allow(clippy::box_collection)]
    shared_vars: Mutex<Option<Box<std::collections::HashMap<String, String>>>>,
    /// The technology's own word on why the call failed (`SIP 486 Busy Here`), for
    /// `HANGUPCAUSE()`.
    tech_cause: Mutex<Option<Box<str>>>,
    /// The call id its log lines carry (`[C-0000002a]`; 0: none yet). A channel made
    /// while a call's task runs (a Dial leg, a Local pair) shares that call's.
    pub callid: std::sync::atomic::AtomicU32,
}

/// Work another channel gives this one ([`ChannelShared::request_join`]): it runs on the
/// channel's own task, with the channel; `true` continues the dialplan (at the next
/// priority unless the job jumped), `false` hangs up.
pub type JoinJob = Box<
    dyn for<'a> FnOnce(
            &'a mut Channel,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>
        + Send,
>;

/// A [`JoinJob`] waiting for the channel's task.
struct PendingJoin(JoinJob);

impl std::fmt::Debug for PendingJoin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingJoin")
    }
}

/// Point-in-time view for `core show channels`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub state: Option<ChanState>,
    pub context: String,
    pub exten: String,
    pub priority: i32,
    pub app: String,
    pub data: String,
    pub caller: CallerId,
    pub bridged: Option<String>,
    pub accountcode: String,
    pub language: String,
    pub answered: Option<Instant>,
    /// Channel variables as `NAME=value` (display names), copied on request.
    pub vars: Vec<String>,
    /// The channel runs the dialplan ([`super::exec::run_pbx`]): Asterisk's "active calls"
    /// count these channels, not a call's dialed legs.
    pub in_pbx: bool,
    /// The channel's media queues, for whoever taps a live channel by name (ChanSpy):
    /// published with the location, so a channel playing a prompt or in a Dial() bridge
    /// (both legs publish) can be found.
    pub media: Option<super::media::MediaHandle>,
    /// The channel's `SPYGROUP` variable (ChanSpy's `g` option), published likewise.
    pub spygroup: Option<String>,
}

impl ChannelShared {
    pub fn new(name: String, uniqueid: String) -> Arc<ChannelShared> {
        Arc::new(ChannelShared {
            name,
            uniqueid,
            created: Instant::now(),
            created_wall: SystemTime::now(),
            softhangup: AtomicBool::new(false),
            hangup_cause: AtomicI32::new(0),
            notify: Notify::new(),
            vars_wanted: AtomicBool::new(false),
            vars_notify: Notify::new(),
            transfer: Mutex::new(None),
            transfer_done: Mutex::new(None),
            transfer_notify: Notify::new(),
            text_in: Mutex::new(std::collections::VecDeque::new()),
            text_notify: Notify::new(),
            redirect: Mutex::new(None),
            join: Mutex::new(None),
            pending_vars: Mutex::new(Vec::new()),
            vars_pending: AtomicBool::new(false),
            shared_vars: Mutex::new(None),
            tech_cause: Mutex::new(None),
            callid: std::sync::atomic::AtomicU32::new(crate::logger::current_callid()),
            snapshot: Mutex::new(Snapshot {
                state: Some(ChanState::Down),
                ..Snapshot::default()
            }),
        })
    }
    /// Ask the channel to hang up (CLI `channel request hangup`, the other Local half, …).
    pub fn request_hangup(&self, cause: i32) {
        if cause != 0 {
            let _ =
                self.hangup_cause
                    .compare_exchange(0, cause, Ordering::SeqCst, Ordering::SeqCst);
        }
        self.softhangup.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
    /// Send the channel to `context,exten,priority` (AMI `Redirect`, Asterisk's async
    /// goto): what it runs now is interrupted as by a hangup, and the interpreter jumps.
    pub fn request_redirect(&self, context: &str, exten: &str, priority: i32) {
        *self.redirect.lock() = Some((context.into(), exten.into(), priority));
        self.softhangup.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
    /// The redirect asked for, if any: the hangup it requested is withdrawn.
    pub fn take_redirect(&self) -> Option<(String, String, i32)> {
        let r = self.redirect.lock().take()?;
        if self.hangup_cause.load(Ordering::SeqCst) == 0 {
            self.softhangup.store(false, Ordering::SeqCst);
        }
        Some(r)
    }
    /// Pull the channel out of what it runs to do `job` (Bridge() joining it to another
    /// channel; Asterisk moves a channel between bridges): what it runs now is interrupted
    /// as by a redirect, and the interpreter runs `job` instead. `false` when another
    /// job is already waiting.
    pub fn request_join(&self, job: JoinJob) -> bool {
        {
            let mut j = self.join.lock();
            if j.is_some() {
                return false;
            }
            *j = Some(PendingJoin(job));
        }
        self.softhangup.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        self.notify.notify_one();
        true
    }
    /// The job asked for, if any: the hangup it requested is withdrawn.
    pub fn take_join(&self) -> Option<JoinJob> {
        let j = self.join.lock().take()?;
        if self.hangup_cause.load(Ordering::SeqCst) == 0 {
            self.softhangup.store(false, Ordering::SeqCst);
        }
        Some(j.0)
    }
    /// Set a variable from outside (AMI `Setvar`): the owner applies it at its next wait
    /// or dialplan step.
    pub fn request_setvar(&self, name: &str, value: &str) {
        self.pending_vars.lock().push((name.into(), value.into()));
        self.vars_pending.store(true, Ordering::SeqCst);
        self.vars_notify.notify_waiters();
    }
    pub fn hangup_requested(&self) -> bool {
        self.softhangup.load(Ordering::Relaxed)
    }
    pub fn requested_cause(&self) -> i32 {
        self.hangup_cause.load(Ordering::SeqCst)
    }
    /// The far end asks to transfer the party it talks to (blind transfer).
    pub fn request_transfer(&self, t: TransferTo) {
        *self.transfer.lock() = Some(t);
        self.transfer_notify.notify_waiters();
        self.transfer_notify.notify_one();
    }

    /// Resolves with the next transfer the far end asks for.
    pub async fn transfer_requested(&self) -> TransferTo {
        loop {
            let n = self.transfer_notify.notified();
            if let Some(t) = self.transfer.lock().take() {
                return t;
            }
            n.await;
        }
    }

    /// The driver reports the outcome of the transfer it asked the far end for.
    pub fn transfer_outcome(&self, ok: bool) {
        *self.transfer_done.lock() = Some(ok);
        self.transfer_notify.notify_waiters();
        self.transfer_notify.notify_one();
    }

    /// Resolves with the outcome the driver reports ([`ChannelShared::transfer_outcome`]).
    pub async fn transfer_finished(&self) -> bool {
        loop {
            let n = self.transfer_notify.notified();
            if let Some(ok) = self.transfer_done.lock().take() {
                return ok;
            }
            n.await;
        }
    }

    /// The driver queues a text message from the far end (a TEXT frame).
    pub fn queue_text(&self, text: String) {
        {
            let mut q = self.text_in.lock();
            if q.len() >= MAX_PENDING_TEXT {
                q.pop_front();
            }
            q.push_back(text);
        }
        self.text_notify.notify_waiters();
        self.text_notify.notify_one();
    }

    /// The oldest text message waiting, if any.
    pub fn take_text(&self) -> Option<String> {
        self.text_in.lock().pop_front()
    }

    /// Resolves with the next text message from the far end (cancel-safe: a message is
    /// taken only when this returns).
    pub async fn next_text(&self) -> String {
        loop {
            let n = self.text_notify.notified();
            if let Some(t) = self.take_text() {
                return t;
            }
            n.await;
        }
    }

    /// Resolves when a hangup has been requested.
    pub async fn hungup(&self) {
        loop {
            let n = self.notify.notified();
            if self.hangup_requested() {
                return;
            }
            n.await;
        }
    }
    /// Ask the owning task for a copy of the channel variables; waits up to `max` for it
    /// and returns whatever copy the snapshot then holds.
    pub async fn request_vars(&self, max: Duration) -> Vec<String> {
        self.vars_wanted.store(true, Ordering::SeqCst);
        self.vars_notify.notify_waiters();
        let deadline = Instant::now() + max;
        while self.vars_wanted.load(Ordering::SeqCst) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
            // The owner may have started waiting after the first notification.
            self.vars_notify.notify_waiters();
        }
        self.snapshot.lock().vars.clone()
    }

    pub fn state(&self) -> ChanState {
        self.snapshot.lock().state.unwrap_or(ChanState::Down)
    }

    /// The driver records its own cause of a failed call (`SIP 486 Busy Here`).
    pub fn set_tech_cause(&self, text: String) {
        *self.tech_cause.lock() = Some(text.into_boxed_str());
    }

    /// What [`ChannelShared::set_tech_cause`] recorded.
    pub fn tech_cause(&self) -> Option<String> {
        self.tech_cause.lock().as_deref().map(str::to_string)
    }

    /// A `SHARED()` variable of this channel.
    pub fn shared_var(&self, name: &str) -> Option<String> {
        self.shared_vars.lock().as_ref()?.get(name).cloned()
    }

    /// Set (or, with an empty value, delete) a `SHARED()` variable of this channel.
    pub fn set_shared_var(&self, name: &str, value: &str) {
        let mut g = self.shared_vars.lock();
        if value.is_empty() {
            if let Some(m) = g.as_mut() {
                m.remove(name);
            }
        } else {
            g.get_or_insert_with(Default::default)
                .insert(name.to_string(), value.to_string());
        }
    }
}

/// Returned by waits and applications when the channel must stop executing (-1 in Asterisk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hangup;

/// A Gosub return frame.
#[derive(Debug, Clone)]
pub struct GosubFrame {
    pub context: String,
    pub exten: String,
    /// Priority to continue at after Return.
    pub priority: i32,
    /// `LOCAL()` variables: name and the value to restore on Return.
    pub saved: Vec<(String, Option<super::vars::Var>)>,
    /// Number of ARGn set by this Gosub.
    pub args: usize,
    /// Run as a nested interpreter (Dial U(), ast_app_run_sub): Return ends that loop.
    pub nested: bool,
}

/// A While loop in progress: where the While is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhileFrame {
    pub context: String,
    pub exten: String,
    pub priority: i32,
}

/// The driver side of a channel: what answering or hanging up means for this technology.
pub trait ChannelTech: Send + Sync {
    fn tech(&self) -> &'static str;
    /// The channel answered.
    fn answer(&self, _chan: &Channel) {}
    /// Ringing / Progress / Busy / Congestion indications towards the caller.
    fn indicate(&self, _chan: &Channel, _ev: &ChanEvent) {}
    /// The channel is being destroyed with `cause`.
    fn hangup(&self, _chan: &Channel, _cause: i32) {}
    /// Peer channel for a bridged technology (e.g. the other Local half).
    fn peer_name(&self) -> Option<String> {
        None
    }
    /// `Transfer()`: send the far end to `dest` (a SIP 302 before answer).
    fn transfer(&self, _chan: &Channel, _dest: &str) -> TransferResult {
        TransferResult::Unsupported
    }
    /// `SendText()`, a bridged party's text: send `text` to the far end (chan_sip: an
    /// in-dialog MESSAGE).
    fn send_text(&self, _text: &str) -> TextResult {
        TextResult::Unsupported
    }
    /// The driver itself, for the functions its module registers (chan_sip's
    /// `SIP_HEADER()` finds its call leg through it).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A technology with no far end (used for channels created by tests and `Originate` stubs).
pub struct NullTech;
impl ChannelTech for NullTech {
    fn tech(&self) -> &'static str {
        "Null"
    }
}

/// One call leg.
pub struct Channel {
    pub pbx: Arc<Pbx>,
    pub shared: Arc<ChannelShared>,
    pub tech: Arc<dyn ChannelTech>,
    pub context: String,
    pub exten: String,
    pub priority: i32,
    pub vars: Vars,
    pub caller: CallerId,
    /// Who the channel is talking to (`CONNECTEDLINE()`), when known.
    pub connected: Option<Box<PartyId>>,
    /// `REDIRECTING()`, when the call was redirected.
    pub redirecting: Option<Box<Redirecting>>,
    pub language: String,
    pub accountcode: String,
    pub state: ChanState,
    pub hangup_cause: i32,
    pub cdr: Cdr,
    pub gosub: Vec<GosubFrame>,
    pub whiles: Vec<WhileFrame>,
    pub macro_depth: u32,
    /// Set by MacroExit: unwind the current Macro.
    pub macro_exit: bool,
    /// An app moved the location: do not advance the priority after it.
    pub jumped: bool,
    /// Running the `h` extension.
    pub in_hangup_handler: bool,
    /// Events from the far side (outbound legs).
    pub events: Option<mpsc::UnboundedReceiver<ChanEvent>>,
    /// Absolute timeout (TIMEOUT(absolute)).
    pub absolute_deadline: Option<Instant>,
    /// Last application run (CDR lastapp/lastdata also keep it).
    pub last_app: String,
    pub last_data: String,
    pub answered_at: Option<Instant>,
    /// Channel name of what we are bridged to, if any.
    pub bridged: Option<String>,
    /// The out-of-call message this channel is processing (`MESSAGE()`), if any.
    pub message: Option<Box<super::message::Msg>>,
    /// Audio/DTMF to and from the far end (see [`super::media`]); `None` for channels
    /// without media.
    pub media: Option<super::media::MediaHandle>,
    /// Audio playing to the far end in the background (StartMusicOnHold): stopped by
    /// [`Channel::stop_background`], by the next [`Channel::write_frame`], or with the channel.
    pub background: Option<super::bridge::AbortOnDrop>,
    /// Data modules keep on the channel (Asterisk's datastores): calendar query results,
    /// the event a calendar reminder is about.
    pub datastores: Datastores,
    destroyed: bool,
}

/// The causes of the calls this channel placed that failed (Asterisk's hangup cause
/// hash, read by `HANGUPCAUSE()`): per called channel, the technology's text and the
/// Asterisk cause code, in the order they came.
#[derive(Debug, Clone, Default)]
pub struct HangupCauses(pub Vec<(String, String, i32)>);

/// The datastore name of [`HangupCauses`].
pub const HANGUPCAUSES: &str = "hangupcause";

/// Typed values modules attach to a channel, by name (Asterisk's `ast_datastore`).
#[derive(Default)]
pub struct Datastores(std::collections::HashMap<String, Box<dyn std::any::Any + Send + Sync>>);

impl Datastores {
    /// Keep `value` under `name` (replacing what was there).
    pub fn insert<T: std::any::Any + Send + Sync>(&mut self, name: impl Into<String>, value: T) {
        self.0.insert(name.into(), Box::new(value));
    }
    /// The value under `name`, if it is a `T`.
    pub fn get<T: std::any::Any + Send + Sync>(&self, name: &str) -> Option<&T> {
        self.0.get(name).and_then(|b| b.downcast_ref::<T>())
    }
    /// The value under `name`, if it is a `T`, to change it.
    pub fn get_mut<T: std::any::Any + Send + Sync>(&mut self, name: &str) -> Option<&mut T> {
        self.0.get_mut(name)?.downcast_mut::<T>()
    }
    pub fn remove(&mut self, name: &str) -> bool {
        self.0.remove(name).is_some()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Channel {
    /// Create a channel and register it with the PBX.
    pub fn new(pbx: &Arc<Pbx>, name: String, tech: Arc<dyn ChannelTech>) -> Channel {
        let uniqueid = pbx.next_uniqueid();
        let shared = ChannelShared::new(name.clone(), uniqueid.clone());
        pbx.channels.insert(shared.clone());
        let cdr = Cdr::new(&name, &uniqueid);
        let chan = Channel {
            pbx: pbx.clone(),
            shared,
            tech,
            context: "default".into(),
            exten: "s".into(),
            priority: 1,
            vars: Vars::new(),
            caller: CallerId::default(),
            connected: None,
            redirecting: None,
            language: "en".into(),
            accountcode: String::new(),
            state: ChanState::Down,
            hangup_cause: 0,
            cdr,
            gosub: Vec::new(),
            whiles: Vec::new(),
            macro_depth: 0,
            macro_exit: false,
            jumped: false,
            in_hangup_handler: false,
            events: None,
            absolute_deadline: None,
            last_app: String::new(),
            last_data: String::new(),
            answered_at: None,
            bridged: None,
            message: None,
            media: None,
            background: None,
            datastores: Datastores::default(),
            destroyed: false,
        };
        if chan.pbx.events.wants(Topic::Channel) {
            chan.pbx
                .events
                .publish(Event::Newchannel(ChanSnapshot::of(&chan)));
        }
        chan
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }
    pub fn uniqueid(&self) -> &str {
        &self.shared.uniqueid
    }

    /// Move to a new dialplan location; the interpreter runs exactly that priority next.
    pub fn goto(&mut self, context: &str, exten: &str, priority: i32) {
        if self.context != context {
            self.context = context.to_string();
        }
        if self.exten != exten {
            self.exten = exten.to_string();
        }
        self.priority = priority;
        self.jumped = true;
    }

    pub fn set_state(&mut self, st: ChanState) {
        let changed = self.state != st;
        self.state = st;
        self.shared.snapshot.lock().state = Some(st);
        if changed && self.pbx.events.wants(Topic::Channel) {
            self.pbx
                .events
                .publish(Event::Newstate(ChanSnapshot::of(self)));
        }
    }

    pub fn is_up(&self) -> bool {
        self.state == ChanState::Up
    }

    /// Answer the channel (no-op when already up).
    pub fn answer(&mut self) {
        if self.state == ChanState::Up {
            return;
        }
        self.set_state(ChanState::Up);
        let now = Instant::now();
        self.answered_at = Some(now);
        self.shared.snapshot.lock().answered = Some(now);
        self.cdr.mark_answered();
        let tech = self.tech.clone();
        tech.answer(self);
    }

    /// Send an indication (ringing, progress, busy, congestion) towards the caller.
    pub fn indicate(&mut self, ev: ChanEvent) {
        match ev {
            ChanEvent::Ringing if self.state != ChanState::Up => self.set_state(ChanState::Ringing),
            ChanEvent::Busy if self.state != ChanState::Up => self.set_state(ChanState::Busy),
            _ => {}
        }
        let tech = self.tech.clone();
        tech.indicate(self, &ev);
    }

    /// Soft hangup requested (by CLI, by the far side, or by an absolute timeout)?
    pub fn check_hangup(&self) -> bool {
        self.shared.hangup_requested()
    }

    /// Variable lookup: channel variables, then globals.
    pub fn get_var(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.to_string());
        }
        self.pbx.get_global(name)
    }

    /// `ast_channel_hangupcause_hash_set`: a call this channel placed to `leg` failed.
    pub fn record_hangupcause(&mut self, leg: &str, tech: String, cause: i32) {
        if self.datastores.get::<HangupCauses>(HANGUPCAUSES).is_none() {
            self.datastores
                .insert(HANGUPCAUSES, HangupCauses::default());
        }
        if let Some(h) = self.datastores.get_mut::<HangupCauses>(HANGUPCAUSES) {
            h.0.retain(|(n, _, _)| n != leg);
            h.0.push((leg.to_string(), tech, cause));
        }
    }

    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.set_or_unset(name, value);
        if self.pbx.events.wants(Topic::Dialplan) {
            self.pbx.events.publish(Event::VarSet {
                chan: ChanSnapshot::of(self),
                variable: name.to_string(),
                value: value.to_string(),
            });
        }
    }

    /// Copy the variables into the shared snapshot if `core show channel` asked for them.
    pub fn serve_vars_request(&self) {
        if self.shared.vars_wanted.load(Ordering::Relaxed) {
            let vars: Vec<String> = self
                .vars
                .iter()
                .map(|(k, v)| format!("{}={}", Vars::display_name(k, v), v.value))
                .collect();
            self.shared.snapshot.lock().vars = vars;
            self.shared.vars_wanted.store(false, Ordering::SeqCst);
        }
    }

    /// Sleep for `d` unless the channel is hung up first.
    pub async fn sleep(&mut self, d: Duration) -> Result<(), Hangup> {
        if self.wait_until(Some(d)).await {
            Ok(())
        } else {
            Err(Hangup)
        }
    }

    /// Wait until the channel is hung up (Busy(), Congestion() without timeout).
    pub async fn wait_hangup(&mut self, max: Option<Duration>) {
        self.wait_until(max).await;
    }

    /// Wait for `max` (forever when `None`); `false` when a hangup came first. Meanwhile
    /// answers variable requests from the CLI.
    async fn wait_until(&mut self, max: Option<Duration>) -> bool {
        if self.check_hangup() {
            return false;
        }
        // A Setvar that came before this wait began.
        self.serve_requests();
        let shared = self.shared.clone();
        let deadline = max.map(|d| tokio::time::Instant::now() + d);
        loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = timer => return true,
                _ = shared.hungup() => return false,
                _ = shared.vars_notify.notified() => self.serve_requests(),
            }
        }
    }

    /// Apply variables set from outside, then answer a variables request.
    pub fn serve_requests(&mut self) {
        if self.shared.vars_pending.swap(false, Ordering::SeqCst) {
            let pending = std::mem::take(&mut *self.shared.pending_vars.lock());
            for (k, v) in pending {
                self.set_var(&k, &v);
            }
        }
        self.serve_vars_request();
    }

    /// Follow a redirect asked for from outside ([`ChannelShared::request_redirect`]):
    /// `true` when the channel now stands at its target.
    pub fn take_redirect(&mut self) -> bool {
        let Some((c, e, p)) = self.shared.take_redirect() else {
            return false;
        };
        self.gosub.clear();
        self.goto(&c, &e, p);
        true
    }

    /// The next frame from the far end, waiting at most `max` (forever when `None`):
    /// `Ok(None)` on timeout, `Err(Hangup)` when the channel is hung up. A channel without
    /// media only ever times out.
    pub async fn read_frame(
        &mut self,
        max: Option<Duration>,
    ) -> Result<Option<super::media::Frame>, Hangup> {
        if self.check_hangup() {
            return Err(Hangup);
        }
        let shared = self.shared.clone();
        let q = self.media.as_ref().map(|m| m.from_far.clone());
        let deadline = max.map(|d| tokio::time::Instant::now() + d);
        loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let next = async {
                match &q {
                    Some(q) => q.pop().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                f = next => match f {
                    Some(f) => {
                        if let super::media::Frame::Dtmf(d, len) = &f {
                            // Asterisk's DTMF log line (log channels listing `dtmf`).
                            self.pbx.log(
                                crate::logger::Level::Dtmf,
                                &format!(
                                    "channel.c: DTMF end '{d}' received on {}, duration {} ms",
                                    self.name(),
                                    len.as_millis()
                                ),
                            );
                        }
                        return Ok(Some(f));
                    }
                    // The driver closed the stream: the call is going away.
                    None => {
                        shared.hungup().await;
                        return Err(Hangup);
                    }
                },
                _ = timer => return Ok(None),
                _ = shared.hungup() => return Err(Hangup),
                _ = shared.vars_notify.notified() => self.serve_requests(),
            }
        }
    }

    /// The next text message from the far end (a TEXT frame, [`ChannelShared::queue_text`]),
    /// waiting at most `max` (forever when `None`): `Ok(None)` on timeout, `Err(Hangup)`
    /// when the channel is hung up first.
    pub async fn read_text(&mut self, max: Option<Duration>) -> Result<Option<String>, Hangup> {
        if self.check_hangup() {
            return Err(Hangup);
        }
        let shared = self.shared.clone();
        let deadline = max.map(|d| tokio::time::Instant::now() + d);
        loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                t = shared.next_text() => return Ok(Some(t)),
                _ = timer => return Ok(None),
                _ = shared.hungup() => return Err(Hangup),
                _ = shared.vars_notify.notified() => self.serve_requests(),
            }
        }
    }

    /// Send a frame to the far end. Paced by the driver (one frame per 20 ms); without
    /// media the frame is dropped after 20 ms, so writers keep real time either way.
    pub async fn write_frame(&mut self, f: super::media::Frame) -> Result<(), Hangup> {
        if self.check_hangup() {
            return Err(Hangup);
        }
        self.stop_background();
        let shared = self.shared.clone();
        match self.media.as_ref().map(|m| m.to_far.clone()) {
            Some(q) => tokio::select! {
                ok = q.push(f) => if ok { Ok(()) } else { Err(Hangup) },
                _ = shared.hungup() => Err(Hangup),
            },
            None => self.sleep(super::media::FRAME_TIME).await,
        }
    }

    /// Wait until the frames already written have gone out (the driver empties the queue,
    /// one frame per 20 ms), at most as long as that takes: as Asterisk, whose writes are
    /// sent at once, an application that ends after its last write (Playback then Hangup)
    /// does not lose the queued tail.
    pub async fn flush_output(&mut self) -> Result<(), Hangup> {
        let Some(q) = self.media.as_ref().map(|m| m.to_far.clone()) else {
            return Ok(());
        };
        let frames = u32::try_from(q.len()).unwrap_or(u32::MAX).saturating_add(1);
        let deadline = Instant::now() + super::media::FRAME_TIME * frames;
        while !q.is_empty() && !q.is_closed() && Instant::now() < deadline {
            self.sleep(Duration::from_millis(5)).await?;
        }
        Ok(())
    }

    /// Stop background audio (StartMusicOnHold) and drop what it queued.
    pub fn stop_background(&mut self) {
        if self.background.take().is_some() {
            if let Some(m) = &self.media {
                m.to_far.clear();
            }
        }
    }

    /// Forget what the far end sent so far (audio and digits), e.g. after Wait().
    pub fn discard_input(&self) {
        if let Some(m) = &self.media {
            m.from_far.clear();
        }
    }

    /// Publish the current location for `core show channels`.
    pub fn publish(&self, app: &str, data: &str) {
        self.serve_vars_request();
        let mut s = self.shared.snapshot.lock();
        if s.context != self.context {
            s.context.clone_from(&self.context);
        }
        if s.exten != self.exten {
            s.exten.clone_from(&self.exten);
        }
        s.priority = self.priority;
        if s.app != app {
            s.app.clear();
            s.app.push_str(app);
        }
        if s.data != data {
            s.data.clear();
            s.data.push_str(data);
        }
        if s.caller != self.caller {
            s.caller = self.caller.clone();
        }
        if s.bridged != self.bridged {
            s.bridged.clone_from(&self.bridged);
        }
        let same_media = match (&s.media, &self.media) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.from_far, &b.from_far),
            (None, None) => true,
            _ => false,
        };
        if !same_media {
            s.media.clone_from(&self.media);
        }
        let group = self.vars.get("SPYGROUP");
        if s.spygroup.as_deref() != group {
            s.spygroup = group.map(str::to_string);
        }
    }

    /// Final hangup: tell the driver, post the CDR, unregister. Idempotent.
    pub fn destroy(&mut self) {
        if self.destroyed {
            return;
        }
        self.destroyed = true;
        let cause = if self.hangup_cause != 0 {
            self.hangup_cause
        } else {
            match self.shared.requested_cause() {
                0 => cause::NORMAL_CLEARING,
                c => c,
            }
        };
        self.hangup_cause = cause;
        super::ccss::hangup(self);
        let tech = self.tech.clone();
        tech.hangup(self, cause);
        self.cdr.finish(&self.last_app, &self.last_data);
        let cdr = self.cdr.clone();
        self.pbx.post_cdr(cdr);
        self.pbx.channels.remove(&self.shared.name);
        if self.pbx.events.wants(Topic::Channel) {
            self.pbx.events.publish(Event::Hangup {
                chan: ChanSnapshot::of(self),
                cause,
            });
        }
        self.shared.request_hangup(cause);
        if let Some(m) = &self.media {
            m.close();
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.destroy();
    }
}
