//! `Queue()`: the caller joins a queue, waits hearing music on hold (or ringing with `r`)
//! with position and hold time announcements, and members are rung by the queue's
//! strategy until one answers (then they are bridged, as Dial does), the queue's rules
//! make the caller leave (QUEUESTATUS), or a digit of the queue's `context` takes it out.

use super::config::{HoldAnnounce, PositionAnnounce, Strategy};
use super::state::{ring_order, Caller};
use super::{events, qlog, queues, refresh_states, Queues};
use crate::apps::dial::{self, Bridged, Src};
use crate::apps::{args, playback, App, AppResult};
use crate::channels;
use crate::pbx::bridge::AbortOnDrop;
use crate::pbx::channel::{cause, ChanEvent};
use crate::pbx::events::ChanSnapshot;
use crate::pbx::media::Frame;
use crate::pbx::module::ModuleContext;
use crate::pbx::{Channel, Hangup, Pbx};
use async_trait::async_trait;
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

pub fn register(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Queue));
}

struct Queue;

#[async_trait]
impl App for Queue {
    app_meta!(
        "Queue",
        "Queue a call for a call queue.",
        "Queue(queuename[,options[,URL[,announceoverride[,timeout[,AGI[,gosub[,rule[,position]]]]]]]])",
        "In addition to transferring the call, a call may be parked and then picked up by another user. This application will return to the dialplan if the queue does not exist, or any of the join options cause the caller to not enter the queue. Options: c (continue in the dialplan if the callee hangs up), C (mark all calls as answered elsewhere when cancelled), d (data-quality call, accepted), h/H (accepted: hang-up by DTMF is not offered), i (ignore call forward requests from queue members: forwards are not followed), n (no retries on the timeout; leave after one pass over the members), r (ring instead of playing MOH), R (ring until a member's device rings, then MOH), t/T (accepted: transfers follow the phones' own REFER), x (accepted: recording is not offered). The timeout argument is the seconds the caller stays at most. announceoverride is played to the member before bridging. Sets QUEUESTATUS to TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL, LEAVEUNAVAIL, CONTINUE or WITHDRAW (UNKNOWN for a queue that does not exist). The queue log gets ENTERQUEUE, CONNECT, COMPLETECALLER/COMPLETEAGENT, AGENTDUMP, ABANDON, EXITWITHTIMEOUT, EXITEMPTY, EXITWITHKEY, RINGNOANSWER, BLINDTRANSFER; AMI clients get QueueCallerJoin, QueueCallerLeave, QueueCallerAbandon, AgentCalled, AgentRingNoAnswer, AgentConnect, AgentComplete and AgentDump."
    );

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        queue_exec(chan, data).await
    }
}

/// What a caller's wait ended with.
enum Exit {
    Timeout,
    Empty,
    Key(char),
}

/// The caller's entry in the queue: removed however Queue() ends (even if the task is
/// cancelled).
struct Entry {
    qs: Arc<Queues>,
    pbx: Arc<Pbx>,
    queue: String,
    uniqueid: String,
    /// The caller's channel when it joined (QueueCallerLeave's fields).
    chan: ChanSnapshot,
}

impl Drop for Entry {
    fn drop(&mut self) {
        leave(&self.pbx, &self.qs, &self.queue, &self.uniqueid, &self.chan);
    }
}

/// Take the caller out of the queue (`leave_queue`): QueueCallerLeave when it was there.
fn leave(pbx: &Pbx, qs: &Queues, queue: &str, uniqueid: &str, chan: &ChanSnapshot) {
    let left = {
        let mut st = qs.state.lock();
        st.get_mut(queue).and_then(|q| {
            let pos = q.position(uniqueid)?;
            q.callers.retain(|c| c.uniqueid != uniqueid);
            Some((q.conf.name.clone(), pos, q.callers.len()))
        })
    };
    if let Some((name, pos, count)) = left {
        events::caller(pbx, "QueueCallerLeave", chan, &name, pos, count);
    }
}

/// The settings the waiting loop needs, copied out of the lock.
#[derive(Clone)]
struct Snapshot {
    name: String,
    strategy: Strategy,
    timeout: u32,
    retry: u32,
    context: String,
    musicclass: String,
    announce: String,
    leavewhenempty: super::config::EmptyRules,
    announce_frequency: u32,
    min_announce_frequency: u32,
    announce_holdtime: HoldAnnounce,
    announce_position: PositionAnnounce,
    announce_position_limit: u32,
    periodic: Vec<String>,
    periodic_frequency: u32,
    sounds: super::config::Sounds,
    autopause: super::config::AutoPause,
    setinterfacevar: bool,
    setqueuevar: bool,
    setqueueentryvar: bool,
}

fn snapshot(q: &super::state::Queue) -> Snapshot {
    let c = &q.conf;
    Snapshot {
        name: c.name.clone(),
        strategy: c.strategy,
        timeout: c.timeout,
        retry: c.retry,
        context: c.context.clone(),
        musicclass: c.musicclass.clone(),
        announce: c.announce.clone(),
        leavewhenempty: c.leavewhenempty,
        announce_frequency: c.announce_frequency,
        min_announce_frequency: c.min_announce_frequency,
        announce_holdtime: c.announce_holdtime,
        announce_position: c.announce_position,
        announce_position_limit: c.announce_position_limit,
        periodic: c.periodic_announce.clone(),
        periodic_frequency: c.periodic_announce_frequency,
        sounds: c.sounds.clone(),
        autopause: c.autopause,
        setinterfacevar: c.setinterfacevar,
        setqueuevar: c.setqueuevar,
        setqueueentryvar: c.setqueueentryvar,
    }
}

/// One Queue() call's queue, settings and options.
struct Setup<'a> {
    qs: &'a Arc<Queues>,
    snap: &'a Snapshot,
    opts: &'a BTreeMap<char, Option<String>>,
    /// Played to the member instead of the queue's `announce`.
    announce_override: Option<String>,
    /// The caller's place in the queue.
    entry: &'a Entry,
}

/// What the caller hears while waiting: music on hold or ringing.
struct Hold {
    ring: bool,
    /// `R`: ringing until a member rings, then music.
    ring_until_ringing: bool,
    class: String,
    moh: Option<AbortOnDrop>,
}

impl Hold {
    async fn start(&mut self, chan: &mut Channel) {
        if self.ring {
            chan.indicate(ChanEvent::Ringing);
            return;
        }
        if self.moh.is_some() {
            return;
        }
        let Some(tx) = chan.media.as_ref().map(|m| m.to_far.clone()) else {
            return;
        };
        chan.stop_background();
        self.moh = crate::pbx::hold::start(&chan.pbx, &self.class, tx).await;
        if self.moh.is_some() && !chan.is_up() {
            chan.indicate(ChanEvent::Progress);
        }
    }

    fn stop(&mut self, chan: &Channel) {
        if self.moh.take().is_some() {
            if let Some(m) = &chan.media {
                m.to_far.clear();
            }
        }
    }
}

/// The caller's own state in the queue.
struct Wait {
    uniqueid: String,
    start: Instant,
    opos: usize,
    expire: Option<Instant>,
    linpos: usize,
    last_pos_announce: Option<Instant>,
    last_periodic: Instant,
    periodic_index: usize,
    holdtime_announced: bool,
}

async fn queue_exec(chan: &mut Channel, data: &str) -> AppResult {
    let a = args::split(data, ',');
    let qname = args::nth(&a, 0).trim().to_string();
    if qname.is_empty() {
        chan.pbx.warning("app_queue.c: Queue requires an argument: queuename[,options[,URL[,announceoverride[,timeout[,agi[,gosub[,rule[,position]]]]]]]]");
        return Err(Hangup);
    }
    let opts = args::options(args::nth(&a, 1));
    let url = args::nth(&a, 2).trim().to_string();
    let announce_override = args::nth(&a, 3).trim().to_string();
    let app_timeout = args::nth(&a, 4)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|t| *t > 0.0 && t.is_finite())
        .map(|t| Duration::from_secs_f64(t.min(1e7)));
    let position_arg = args::nth(&a, 8).trim().parse::<usize>().ok();
    let prio = chan
        .get_var("QUEUE_PRIO")
        .and_then(|p| p.trim().parse::<i32>().ok())
        .unwrap_or(0);
    let pbx = chan.pbx.clone();
    let Some(qs) = queues(&pbx) else {
        chan.vars.set("QUEUESTATUS", "UNKNOWN");
        return Ok(());
    };
    refresh_states(&pbx, Some(&qname)).await;
    let uniqueid = chan.uniqueid().to_string();
    let now = Instant::now();

    // Join (`join_queue`).
    let joined = {
        let mut st = qs.state.lock();
        match st.get_mut(&qname) {
            None => Err("UNKNOWN"),
            Some(q) => {
                if q.conf.maxlen > 0 && q.callers.len() >= q.conf.maxlen as usize {
                    Err("FULL")
                } else if q.conf.joinempty.any() && !q.has_usable_member(&q.conf.joinempty, now) {
                    Err("JOINEMPTY")
                } else {
                    // Higher priority first; `position` puts the caller there at most.
                    let mut pos = q.callers.iter().take_while(|c| c.prio >= prio).count();
                    if let Some(p) = position_arg.filter(|p| *p > 0) {
                        pos = pos.min(p - 1);
                    }
                    q.callers.insert(
                        pos,
                        Caller {
                            uniqueid: uniqueid.clone(),
                            channel: chan.name().to_string(),
                            start: now,
                            prio,
                            opos: pos + 1,
                        },
                    );
                    Ok((snapshot(q), pos + 1, q.callers.len()))
                }
            }
        }
    };
    let (snap, opos, count) = match joined {
        Ok(j) => j,
        Err(status) => {
            if status == "UNKNOWN" {
                pbx.warning(&format!("app_queue.c: Unable to join queue '{qname}'"));
            } else {
                pbx.verbose_line(3, &format!("Unable to join queue '{qname}' ({status})"));
            }
            chan.vars.set("QUEUESTATUS", status);
            return Ok(());
        }
    };
    let entry = Entry {
        qs: qs.clone(),
        pbx: pbx.clone(),
        queue: snap.name.clone(),
        uniqueid: uniqueid.clone(),
        chan: ChanSnapshot::of(chan),
    };
    events::caller(
        &pbx,
        "QueueCallerJoin",
        &entry.chan,
        &snap.name,
        opos,
        count,
    );
    let cidnum = chan.caller.num.clone().unwrap_or_default();
    qlog(
        &pbx,
        &snap.name,
        &uniqueid,
        "NONE",
        "ENTERQUEUE",
        &format!("{url}|{cidnum}|{opos}"),
    );
    pbx.verbose_line(
        3,
        &format!(
            "{} joined '{}' queue at position {opos} (total: {count})",
            chan.name(),
            snap.name
        ),
    );
    chan.vars.set("QUEUEPOSITION", opos.to_string());

    let mut hold = Hold {
        ring: opts.contains_key(&'r') || opts.contains_key(&'R'),
        ring_until_ringing: opts.contains_key(&'R'),
        class: chan
            .get_var("MUSICCLASS")
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| snap.musicclass.clone()),
        moh: None,
    };
    hold.start(chan).await;
    let mut w = Wait {
        uniqueid: uniqueid.clone(),
        start: now,
        opos,
        expire: app_timeout.map(|t| now + t),
        linpos: 0,
        last_pos_announce: None,
        last_periodic: now,
        periodic_index: 0,
        holdtime_announced: false,
    };
    let announce_override = (!announce_override.is_empty()).then_some(announce_override);
    let setup = Setup {
        qs: &qs,
        snap: &snap,
        opts: &opts,
        announce_override,
        entry: &entry,
    };
    let r = run(chan, &setup, &mut hold, &mut w).await;
    hold.stop(chan);
    let pos = qs
        .state
        .lock()
        .get(&snap.name)
        .and_then(|q| q.position(&uniqueid))
        .unwrap_or(opos);
    let waited = w.start.elapsed().as_secs();
    let status = match r {
        Ok(Done::Connected(r)) => return r,
        Ok(Done::Exit(Exit::Timeout)) => {
            qlog(
                &pbx,
                &snap.name,
                &uniqueid,
                "NONE",
                "EXITWITHTIMEOUT",
                &format!("{pos}|{opos}|{waited}"),
            );
            record_abandoned(&qs, &snap.name, waited);
            "TIMEOUT"
        }
        Ok(Done::Exit(Exit::Empty)) => {
            qlog(
                &pbx,
                &snap.name,
                &uniqueid,
                "NONE",
                "EXITEMPTY",
                &format!("{pos}|{opos}|{waited}"),
            );
            "LEAVEEMPTY"
        }
        Ok(Done::Exit(Exit::Key(d))) => {
            qlog(
                &pbx,
                &snap.name,
                &uniqueid,
                "NONE",
                "EXITWITHKEY",
                &format!("{d}|{pos}|{opos}|{waited}"),
            );
            set_queue_vars(chan, &qs, &snap);
            chan.goto(&snap.context, &d.to_string(), 1);
            return Ok(());
        }
        Err(Hangup) => {
            qlog(
                &pbx,
                &snap.name,
                &uniqueid,
                "NONE",
                "ABANDON",
                &format!("{pos}|{opos}|{waited}"),
            );
            events::abandon(&pbx, chan, &snap.name, pos, opos, waited);
            record_abandoned(&qs, &snap.name, waited);
            return Err(Hangup);
        }
    };
    set_queue_vars(chan, &qs, &snap);
    chan.vars.set("QUEUESTATUS", status);
    Ok(())
}

fn record_abandoned(qs: &Queues, queue: &str, waited: u64) {
    if let Some(q) = qs.state.lock().get_mut(queue) {
        q.record_abandoned(waited);
    }
}

enum Done {
    Exit(Exit),
    /// A member answered: what Queue() returns after the bridge.
    Connected(AppResult),
}

/// The waiting loop (`queue_exec`'s `for (;;)` and `wait_our_turn`).
async fn run(
    chan: &mut Channel,
    s: &Setup<'_>,
    hold: &mut Hold,
    w: &mut Wait,
) -> Result<Done, Hangup> {
    let (qs, snap, opts) = (s.qs, s.snap, s.opts);
    let pbx = chan.pbx.clone();
    loop {
        if w.expire.is_some_and(|e| Instant::now() >= e) {
            return Ok(Done::Exit(Exit::Timeout));
        }
        refresh_states(&pbx, Some(&snap.name)).await;
        let (turn, empty) = {
            let st = qs.state.lock();
            let Some(q) = st.get(&snap.name) else {
                return Ok(Done::Exit(Exit::Empty));
            };
            let now = Instant::now();
            (
                q.is_our_turn(&w.uniqueid, now),
                snap.leavewhenempty.any() && !q.has_usable_member(&snap.leavewhenempty, now),
            )
        };
        if empty {
            return Ok(Done::Exit(Exit::Empty));
        }
        if let Some(d) = announce(chan, qs, snap, hold, w).await? {
            return Ok(Done::Exit(Exit::Key(d)));
        }
        if !turn {
            if let Some(d) = wait(chan, snap, w, Duration::from_secs(1)).await? {
                return Ok(Done::Exit(d));
            }
            continue;
        }
        // Our turn: one pass over the members the strategy picks.
        let groups = {
            let st = qs.state.lock();
            let Some(q) = st.get(&snap.name) else {
                return Ok(Done::Exit(Exit::Empty));
            };
            ring_order(q, w.linpos, Instant::now(), rand_u32)
                .into_iter()
                .map(|g| {
                    g.into_iter()
                        .map(|i| q.members[i].clone())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        for group in groups {
            match ring(chan, s, hold, w, &group).await? {
                Rung::Answered(a) => {
                    let r = connect(chan, s, w, a).await;
                    return Ok(Done::Connected(r));
                }
                Rung::Failed => continue,
                Rung::NoAnswer => break,
                Rung::Exit(e) => return Ok(Done::Exit(e)),
            }
        }
        if opts.contains_key(&'n') {
            return Ok(Done::Exit(Exit::Timeout));
        }
        // Wait `retry` seconds before the next pass (`wait_a_bit`).
        if let Some(d) = wait(chan, snap, w, Duration::from_secs(u64::from(snap.retry))).await? {
            return Ok(Done::Exit(d));
        }
    }
}

fn rand_u32() -> u32 {
    rand::random::<u32>()
}

/// Wait up to `dur` (less when the queue's time runs out): the caller's digits may take
/// it out through the queue's context.
async fn wait(
    chan: &mut Channel,
    snap: &Snapshot,
    w: &Wait,
    dur: Duration,
) -> Result<Option<Exit>, Hangup> {
    let end = Instant::now() + dur;
    let end = w.expire.map_or(end, |e| e.min(end));
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(w
                .expire
                .is_some_and(|e| Instant::now() >= e)
                .then_some(Exit::Timeout));
        }
        if let Some(Frame::Dtmf(d, _)) = chan.read_frame(Some(left)).await? {
            if valid_exit(chan, snap, d) {
                return Ok(Some(Exit::Key(d)));
            }
        }
    }
}

/// Whether digit `d` leaves the queue: the queue's `context` has extension `d`.
fn valid_exit(chan: &Channel, snap: &Snapshot, d: char) -> bool {
    if snap.context.is_empty() {
        return false;
    }
    let cid = chan.caller.num.clone();
    chan.pbx
        .dialplan()
        .exists(&snap.context, &d.to_string(), 1, cid.as_deref(), Utc::now())
}

/// Position, hold time and periodic announcements when they are due (`say_position`,
/// `say_periodic_announcement`). A digit of the queue's context ends it.
async fn announce(
    chan: &mut Channel,
    qs: &Queues,
    snap: &Snapshot,
    hold: &mut Hold,
    w: &mut Wait,
) -> Result<Option<char>, Hangup> {
    let now = Instant::now();
    let mut prompts: Vec<String> = Vec::new();
    if snap.announce_frequency > 0 {
        let due = match w.last_pos_announce {
            None => {
                now.duration_since(w.start)
                    >= Duration::from_secs(u64::from(snap.announce_frequency))
            }
            Some(t) => {
                now.duration_since(t)
                    >= Duration::from_secs(u64::from(
                        snap.announce_frequency.max(snap.min_announce_frequency),
                    ))
            }
        };
        if due {
            w.last_pos_announce = Some(now);
            let (pos, avg) = {
                let st = qs.state.lock();
                st.get(&snap.name)
                    .map(|q| (q.position(&w.uniqueid).unwrap_or(1), q.holdtime))
                    .unwrap_or((1, 0))
            };
            prompts.extend(position_prompts(snap, pos));
            let say_hold = match snap.announce_holdtime {
                HoldAnnounce::No => false,
                HoldAnnounce::Yes => true,
                HoldAnnounce::Once => !w.holdtime_announced,
            };
            if say_hold && avg >= 60 {
                w.holdtime_announced = true;
                let mins = avg.div_ceil(60);
                prompts.push(snap.sounds.holdtime.clone());
                prompts.extend(number(mins));
                prompts.push(if mins == 1 {
                    snap.sounds.minute.clone()
                } else {
                    snap.sounds.minutes.clone()
                });
            }
            if !prompts.is_empty() {
                prompts.push(snap.sounds.thankyou.clone());
            }
        }
    }
    if snap.periodic_frequency > 0
        && !snap.periodic.is_empty()
        && now.duration_since(w.last_periodic)
            >= Duration::from_secs(u64::from(snap.periodic_frequency))
    {
        w.last_periodic = now;
        prompts.push(snap.periodic[w.periodic_index % snap.periodic.len()].clone());
        w.periodic_index += 1;
    }
    if prompts.is_empty() {
        return Ok(None);
    }
    hold.stop(chan);
    let breakon = if snap.context.is_empty() {
        ""
    } else {
        "0123456789*#"
    };
    for p in &prompts {
        if let playback::Played::Digit(d) = playback::stream(chan, p, breakon).await? {
            if valid_exit(chan, snap, d) {
                return Ok(Some(d));
            }
        }
    }
    hold.start(chan).await;
    Ok(None)
}

fn number(n: u64) -> Vec<String> {
    crate::apps::say::number_prompts_en(i64::try_from(n).unwrap_or(i64::MAX)).unwrap_or_default()
}

/// "You are next" / "There are N calls waiting" (`say_position`).
fn position_prompts(snap: &Snapshot, pos: usize) -> Vec<String> {
    let limit = snap.announce_position_limit as usize;
    match snap.announce_position {
        PositionAnnounce::No => Vec::new(),
        _ if pos == 1 => vec![snap.sounds.youarenext.clone()],
        PositionAnnounce::Limit if pos > limit => Vec::new(),
        PositionAnnounce::More if pos > limit => {
            let mut v = vec![snap.sounds.thereare.clone(), "queue-more-than".into()];
            v.extend(number(limit as u64));
            v.push(snap.sounds.callswaiting.clone());
            v
        }
        _ => {
            let mut v = vec![snap.sounds.thereare.clone()];
            v.extend(number(pos as u64));
            v.push(snap.sounds.callswaiting.clone());
            v
        }
    }
}

/// A member that answered, with its channel and its leg's events.
struct Answered {
    member: super::state::Member,
    callee: Channel,
    rx: mpsc::UnboundedReceiver<(Src, ChanEvent)>,
    /// What feeds `rx` (a transfer target's events join it).
    tx: mpsc::UnboundedSender<(Src, ChanEvent)>,
    src: Src,
    ringtime: Duration,
}

enum Rung {
    Answered(Box<Answered>),
    /// Every leg was busy or failed: try the next member now.
    Failed,
    /// Rang until the member timeout: wait `retry`, then the next pass.
    NoAnswer,
    Exit(Exit),
}

/// What woke the ringing loop.
enum Got {
    Event(Option<(Src, ChanEvent)>),
    Frame(Result<Option<Frame>, Hangup>),
    Timeout,
}

struct Leg {
    chan: Channel,
    member: super::state::Member,
    alive: bool,
}

/// Marks members as being rung by a queue caller while the guard lives.
struct RingingMark {
    qs: Arc<Queues>,
    queue: String,
    interfaces: Vec<String>,
}

impl Drop for RingingMark {
    fn drop(&mut self) {
        let mut st = self.qs.state.lock();
        if let Some(q) = st.get_mut(&self.queue) {
            for i in &self.interfaces {
                if let Some(m) = q.member_mut(i) {
                    m.ringing = false;
                }
            }
        }
    }
}

/// Ring `group` (`ring_one` + `wait_for_answer`).
async fn ring(
    chan: &mut Channel,
    s: &Setup<'_>,
    hold: &mut Hold,
    w: &mut Wait,
    group: &[super::state::Member],
) -> Result<Rung, Hangup> {
    let (qs, snap, opts) = (s.qs, s.snap, s.opts);
    let pbx = chan.pbx.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<(Src, ChanEvent)>();
    let mut legs: Vec<Leg> = Vec::new();
    for m in group {
        channels::prepare(&pbx, &m.interface).await;
    }
    let mark = RingingMark {
        qs: qs.clone(),
        queue: snap.name.clone(),
        interfaces: group.iter().map(|m| m.interface.clone()).collect(),
    };
    {
        let mut st = qs.state.lock();
        if let Some(q) = st.get_mut(&snap.name) {
            for m in group {
                if let Some(m) = q.member_mut(&m.interface) {
                    m.ringing = true;
                }
            }
        }
    }
    for m in group {
        if snap.strategy == Strategy::Linear || snap.strategy == Strategy::RrOrdered {
            // The next pass starts after this member.
            let st = qs.state.lock();
            if let Some(q) = st.get(&snap.name) {
                if let Some(i) = q.members.iter().position(|x| x.interface == m.interface) {
                    w.linpos = i + 1;
                }
            }
        }
        match channels::request(&pbx, &m.interface, Some(chan)) {
            Ok(out) => {
                let mut callee = out.chan;
                callee.cdr.disabled = true;
                dial::outgoing_line(&mut callee, chan);
                if let Some(erx) = callee.events.take() {
                    dial::forward_events(
                        erx,
                        tx.clone(),
                        Src {
                            idx: legs.len(),
                            gen: 0,
                        },
                    );
                }
                (out.call)();
                pbx.verbose_line(3, &format!("Called {}", m.interface));
                events::agent(
                    &pbx,
                    "AgentCalled",
                    chan,
                    || Some(ChanSnapshot::of(&callee)),
                    &snap.name,
                    m,
                    &[],
                );
                legs.push(Leg {
                    chan: callee,
                    member: m.clone(),
                    alive: true,
                });
            }
            Err(e) => {
                pbx.verbose_line(3, &format!("Couldn't call {}: {}", m.interface, e.msg));
            }
        }
    }
    // Only the legs' forwarders keep `rx` open (it ends when they are all gone); an
    // answered call gets a sender back for a transfer target's events.
    let tx = tx.downgrade();
    // The round-robin memory moves past the members tried (`rrmemory`).
    advance_rr(qs, snap, group);
    if legs.is_empty() {
        return Ok(Rung::Failed);
    }
    let started = Instant::now();
    let member_deadline = (snap.timeout > 0)
        .then(|| tokio::time::Instant::now() + Duration::from_secs(u64::from(snap.timeout)));
    let expire = w.expire.map(tokio::time::Instant::from_std);
    let deadline = match (member_deadline, expire) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let lost_cause = if opts.contains_key(&'C') {
        ANSWERED_ELSEWHERE
    } else {
        cause::NORMAL_CLEARING
    };
    loop {
        if legs.iter().all(|l| !l.alive) {
            drop(mark);
            return Ok(Rung::Failed);
        }
        let got = tokio::select! {
            ev = rx.recv() => Got::Event(ev),
            f = chan.read_frame(None) => Got::Frame(f),
            _ = sleep_until(deadline) => Got::Timeout,
        };
        let ev = match got {
            Got::Event(ev) => ev,
            Got::Frame(Err(Hangup)) => {
                hangup_all(&mut legs, cause::NORMAL_CLEARING);
                return Err(Hangup);
            }
            Got::Frame(Ok(Some(Frame::Dtmf(d, _)))) if valid_exit(chan, snap, d) => {
                hangup_all(&mut legs, cause::NORMAL_CLEARING);
                return Ok(Rung::Exit(Exit::Key(d)));
            }
            Got::Frame(_) => continue,
            Got::Timeout => {
                let ms = started.elapsed().as_millis();
                for l in legs.iter().filter(|l| l.alive) {
                    pbx.verbose_line(3, &format!("Nobody picked up in {ms} ms"));
                    ring_no_answer(chan, &l.chan, snap, &w.uniqueid, &l.member, ms);
                }
                hangup_all(&mut legs, cause::NO_ANSWER);
                if w.expire.is_some_and(|e| Instant::now() >= e) {
                    return Ok(Rung::Exit(Exit::Timeout));
                }
                return Ok(Rung::NoAnswer);
            }
        };
        let Some((src, ev)) = ev else {
            drop(mark);
            return Ok(Rung::Failed);
        };
        let Some(leg) = legs.get_mut(src.idx).filter(|l| l.alive) else {
            continue;
        };
        let name = leg.chan.name().to_string();
        match ev {
            ChanEvent::Answer => {
                let mut leg = legs.swap_remove(src.idx);
                // swap_remove moved the last leg into idx: its events keep their index,
                // so hang the others up by hand.
                hangup_all(&mut legs, lost_cause);
                leg.chan.answer();
                pbx.verbose_line(3, &format!("{name} answered {}", chan.name()));
                drop(mark);
                return Ok(Rung::Answered(Box::new(Answered {
                    member: leg.member,
                    callee: leg.chan,
                    rx,
                    tx: tx.upgrade().unwrap_or_else(|| mpsc::unbounded_channel().0),
                    src,
                    ringtime: started.elapsed(),
                })));
            }
            ChanEvent::Ringing => {
                pbx.verbose_line(3, &format!("{name} is ringing"));
                if hold.ring_until_ringing {
                    hold.ring = false;
                    hold.ring_until_ringing = false;
                    hold.start(chan).await;
                }
            }
            ChanEvent::Busy | ChanEvent::Congestion => {
                pbx.verbose_line(3, &format!("{name} is busy"));
                leg.alive = false;
                let c = if matches!(ev, ChanEvent::Busy) {
                    cause::USER_BUSY
                } else {
                    cause::NORMAL_CIRCUIT_CONGESTION
                };
                leg.chan.hangup_cause = c;
                dial::record_cause(chan, &leg.chan, c);
                leg.chan.destroy();
            }
            ChanEvent::Hangup(c) => {
                leg.alive = false;
                leg.chan.hangup_cause = c;
                dial::record_cause(chan, &leg.chan, c);
                leg.chan.destroy();
                if !matches!(c, cause::USER_BUSY | cause::NORMAL_CIRCUIT_CONGESTION) {
                    let ms = started.elapsed().as_millis();
                    ring_no_answer(chan, &leg.chan, snap, &w.uniqueid, &leg.member, ms);
                }
            }
            ChanEvent::Forward(_) => {
                // Call forwards of queue members are not followed (as the `i` option).
                pbx.verbose_line(3, &format!("Forwarding {} prevented.", chan.name()));
                leg.alive = false;
                leg.chan.hangup_cause = cause::NORMAL_CLEARING;
                leg.chan.destroy();
            }
            ChanEvent::Progress
            | ChanEvent::Connected(_)
            | ChanEvent::Transfer(_)
            | ChanEvent::Transferred(_) => {}
        }
    }
}

/// Q.850 cause 26 (`AST_CAUSE_ANSWERED_ELSEWHERE`): what the `C` option gives the
/// members that lost the race.
const ANSWERED_ELSEWHERE: i32 = 26;

fn hangup_all(legs: &mut [Leg], c: i32) {
    for l in legs.iter_mut().filter(|l| l.alive) {
        l.alive = false;
        l.chan.hangup_cause = c;
        l.chan.destroy();
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending::<()>().await,
    }
}

/// `rrmemory`: the next pass starts after the last member tried.
fn advance_rr(qs: &Queues, snap: &Snapshot, group: &[super::state::Member]) {
    if !matches!(snap.strategy, Strategy::RrMemory | Strategy::RrOrdered) {
        return;
    }
    let mut st = qs.state.lock();
    if let Some(q) = st.get_mut(&snap.name) {
        if let Some(last) = group.last() {
            if let Some(i) = q.members.iter().position(|m| m.interface == last.interface) {
                q.rrpos = i + 1;
            }
        }
    }
}

/// A member did not answer (`rna`): RINGNOANSWER, and with `autopause` the member is
/// paused (in every queue with `autopause = all`).
fn ring_no_answer(
    caller: &Channel,
    leg: &Channel,
    snap: &Snapshot,
    uniqueid: &str,
    m: &super::state::Member,
    ms: u128,
) {
    let pbx = &caller.pbx;
    events::agent(
        pbx,
        "AgentRingNoAnswer",
        caller,
        || Some(ChanSnapshot::of(leg)),
        &snap.name,
        m,
        &[("RingTime", ms.to_string())],
    );
    qlog(
        pbx,
        &snap.name,
        uniqueid,
        &m.membername,
        "RINGNOANSWER",
        &ms.to_string(),
    );
    let scope = match snap.autopause {
        super::config::AutoPause::Off => return,
        super::config::AutoPause::On => snap.name.clone(),
        super::config::AutoPause::All => String::new(),
    };
    if super::set_paused(pbx, &scope, &m.interface, true, "Auto-Pause").is_ok() {
        pbx.verbose_line(
            3,
            &format!(
                "Auto-Pausing Queue Member {} in queue {} since they failed to answer.",
                m.membername, snap.name
            ),
        );
    }
}

/// A member answered: leave the queue, log CONNECT, bridge, log the completion.
async fn connect(chan: &mut Channel, s: &Setup<'_>, w: &Wait, a: Box<Answered>) -> AppResult {
    let (qs, snap, opts) = (s.qs, s.snap, s.opts);
    let pbx = chan.pbx.clone();
    let Answered {
        member,
        mut callee,
        rx,
        tx,
        src,
        ringtime,
    } = *a;
    let holdtime = w.start.elapsed().as_secs();
    leave(&pbx, qs, &snap.name, &w.uniqueid, &s.entry.chan);
    let (calls, lastcall) = {
        let mut st = qs.state.lock();
        let shared_lastcall = st.general.shared_lastcall;
        let mut out = (0, 0);
        for q in st.queues.values_mut() {
            let this = q.conf.name.eq_ignore_ascii_case(&snap.name);
            if !this && !shared_lastcall {
                continue;
            }
            if let Some(m) = q.member_mut(&member.interface) {
                if this {
                    m.calls += 1;
                    m.in_call = true;
                    out = (
                        m.calls,
                        m.lastcall
                            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                            .map_or(0, |d| d.as_secs()),
                    );
                }
                m.lastcall = Some(SystemTime::now());
            }
        }
        out
    };
    qlog(
        &pbx,
        &snap.name,
        &w.uniqueid,
        &member.membername,
        "CONNECT",
        &format!("{holdtime}|{}|{}", callee.uniqueid(), ringtime.as_secs()),
    );
    events::agent(
        &pbx,
        "AgentConnect",
        chan,
        || Some(ChanSnapshot::of(&callee)),
        &snap.name,
        &member,
        &[
            ("HoldTime", holdtime.to_string()),
            ("RingTime", ringtime.as_secs().to_string()),
        ],
    );
    chan.vars.set("QUEUEWAIT", (holdtime * 1000).to_string());
    if snap.setinterfacevar {
        chan.vars.set("MEMBERINTERFACE", &member.interface);
        chan.vars.set("MEMBERNAME", &member.membername);
        chan.vars.set("MEMBERCALLS", calls.to_string());
        chan.vars.set("MEMBERLASTCALL", lastcall.to_string());
        chan.vars.set("MEMBERPENALTY", member.penalty.to_string());
        chan.vars
            .set("MEMBERDYNAMIC", u8::from(member.dynamic).to_string());
        chan.vars.set("MEMBERREALTIME", "0");
    }
    if snap.setqueueentryvar {
        chan.vars.set("QEHOLDTIME", holdtime.to_string());
        chan.vars.set("QEORIGINALPOS", w.opos.to_string());
    }
    set_queue_vars(chan, qs, snap);
    chan.vars.set("DIALEDPEERNAME", callee.name());
    chan.cdr.dstchannel = callee.name().to_string();
    chan.answer();
    // The queue's announcement to the member before the bridge.
    let ann = s
        .announce_override
        .clone()
        .unwrap_or_else(|| snap.announce.clone());
    if !ann.is_empty() && playback::stream(&mut callee, &ann, "").await.is_err() {
        // The member hung up during the announcement (`AGENTDUMP`).
        events::agent(
            &pbx,
            "AgentDump",
            chan,
            || Some(ChanSnapshot::of(&callee)),
            &snap.name,
            &member,
            &[],
        );
        callee.destroy();
        finish_stats(qs, snap, &member, holdtime, 0);
        qlog(
            &pbx,
            &snap.name,
            &w.uniqueid,
            &member.membername,
            "AGENTDUMP",
            "",
        );
        return Ok(());
    }
    let data = format!("{},{}", snap.name, "");
    let talk_start = Instant::now();
    let dest = events::wanted(&pbx).then(|| ChanSnapshot::of(&callee));
    let end = dial::bridge_call(chan, callee, rx, tx, src, ("Queue", &data), opts).await;
    let talk = talk_start.elapsed().as_secs();
    let complete = |chan: &Channel, reason: &str| {
        events::agent(
            &pbx,
            "AgentComplete",
            chan,
            || dest.clone(),
            &snap.name,
            &member,
            &[
                ("HoldTime", holdtime.to_string()),
                ("TalkTime", talk.to_string()),
                ("Reason", reason.to_string()),
            ],
        );
    };
    match end {
        Bridged::CallerGone => {
            complete(chan, "caller");
            finish(&pbx, qs, snap, w, &member, holdtime, talk, "COMPLETECALLER");
            Err(Hangup)
        }
        Bridged::CalleeGone => {
            complete(chan, "agent");
            finish(&pbx, qs, snap, w, &member, holdtime, talk, "COMPLETEAGENT");
            if opts.contains_key(&'c') {
                chan.vars.set("QUEUESTATUS", "CONTINUE");
                Ok(())
            } else {
                Err(Hangup)
            }
        }
        Bridged::Transferred => {
            let data = format!(
                "{}|{}|{holdtime}|{talk}|{}",
                chan.exten, chan.context, w.opos
            );
            complete(chan, "transfer");
            finish_stats(qs, snap, &member, holdtime, talk);
            qlog(
                &pbx,
                &snap.name,
                &w.uniqueid,
                &member.membername,
                "BLINDTRANSFER",
                &data,
            );
            Ok(())
        }
    }
}

fn finish_stats(qs: &Queues, snap: &Snapshot, member: &super::state::Member, hold: u64, talk: u64) {
    let mut st = qs.state.lock();
    if let Some(q) = st.get_mut(&snap.name) {
        q.record_completed(hold, talk);
        if let Some(m) = q.member_mut(&member.interface) {
            m.in_call = false;
            m.lastcall_end = Some(Instant::now());
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    pbx: &Arc<Pbx>,
    qs: &Queues,
    snap: &Snapshot,
    w: &Wait,
    member: &super::state::Member,
    hold: u64,
    talk: u64,
    event: &str,
) {
    finish_stats(qs, snap, member, hold, talk);
    qlog(
        pbx,
        &snap.name,
        &w.uniqueid,
        &member.membername,
        event,
        &format!("{hold}|{talk}|{}", w.opos),
    );
}

/// `setqueuevar`: QUEUENAME, QUEUEMAX, QUEUESTRATEGY, QUEUECALLS, QUEUEHOLDTIME,
/// QUEUETALKTIME, QUEUECOMPLETED, QUEUEABANDONED, QUEUESRVLEVEL, QUEUESRVLEVELPERF.
fn set_queue_vars(chan: &mut Channel, qs: &Queues, snap: &Snapshot) {
    if !snap.setqueuevar {
        return;
    }
    let vars = {
        let st = qs.state.lock();
        let Some(q) = st.get(&snap.name) else { return };
        super::funcs::queue_variables(q)
    };
    for (k, v) in vars {
        chan.vars.set(k, v);
    }
}
