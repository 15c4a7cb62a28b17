//! The queues as they run: members (static from `queues.conf`, dynamic from
//! AddQueueMember and the CLI), the callers waiting, the statistics `queue show` prints,
//! and the strategies that decide who rings. Pure logic (time is an argument); the
//! application and the commands lock [`Queues`] briefly and never across an await.

use super::config::{General, MemberConf, QueueConf, Strategy};
use crate::pbx::devstate::DeviceState;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// One member of one queue (`struct member`).
#[derive(Debug, Clone)]
pub struct Member {
    pub interface: String,
    pub membername: String,
    pub state_interface: String,
    pub penalty: i32,
    pub ringinuse: bool,
    /// Added at run time (not from queues.conf).
    pub dynamic: bool,
    pub paused: bool,
    pub reason_paused: String,
    pub lastpause: SystemTime,
    pub logintime: SystemTime,
    pub calls: u32,
    pub lastcall: Option<SystemTime>,
    /// When its last queue call ended (wrap-up runs from here).
    pub lastcall_end: Option<Instant>,
    /// Talking to a queue caller now.
    pub in_call: bool,
    /// Being rung by a queue caller now.
    pub ringing: bool,
    /// The device state last seen (for `queue show`).
    pub status: DeviceState,
}

impl Member {
    pub fn new(c: &MemberConf, queue_ringinuse: bool, dynamic: bool) -> Member {
        let now = SystemTime::now();
        Member {
            interface: c.interface.clone(),
            membername: c.membername.clone(),
            state_interface: c.state_interface.clone(),
            penalty: c.penalty,
            ringinuse: c.ringinuse.unwrap_or(queue_ringinuse),
            dynamic,
            paused: false,
            reason_paused: String::new(),
            lastpause: now,
            logintime: now,
            calls: 0,
            lastcall: None,
            lastcall_end: None,
            in_call: false,
            ringing: false,
            status: DeviceState::Unknown,
        }
    }

    /// The device state, counting what this queue knows (a queue call in progress).
    pub fn effective_status(&self) -> DeviceState {
        if self.in_call && matches!(self.status, DeviceState::NotInUse | DeviceState::Unknown) {
            DeviceState::InUse
        } else {
            self.status
        }
    }

    /// Still wrapping up its last call at `now`.
    pub fn in_wrapup(&self, wrapuptime: u32, now: Instant) -> bool {
        wrapuptime > 0
            && self
                .lastcall_end
                .is_some_and(|t| now < t + Duration::from_secs(u64::from(wrapuptime)))
    }

    /// Whether a queue caller may ring this member now (`can_ring_entry`).
    pub fn can_ring(&self, wrapuptime: u32, now: Instant) -> bool {
        if self.paused || self.in_wrapup(wrapuptime, now) {
            return false;
        }
        if matches!(
            self.effective_status(),
            DeviceState::Invalid | DeviceState::Unavailable
        ) {
            return false;
        }
        self.ringinuse
            || (!self.in_call
                && !self.ringing
                && matches!(
                    self.effective_status(),
                    DeviceState::NotInUse | DeviceState::Unknown
                ))
    }
}

/// A caller waiting in a queue (`struct queue_ent`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub uniqueid: String,
    pub channel: String,
    pub start: Instant,
    pub prio: i32,
    /// Its position when it joined (`opos`).
    pub opos: usize,
}

/// One queue: its configuration and what it is doing.
#[derive(Debug, Clone)]
pub struct Queue {
    pub conf: QueueConf,
    pub members: Vec<Member>,
    pub callers: Vec<Caller>,
    /// Round-robin memory (rrmemory, rrordered): the member index to start from.
    pub rrpos: usize,
    pub completed: u32,
    pub abandoned: u32,
    pub completed_in_sl: u32,
    pub abandoned_in_sl: u32,
    /// Rolling averages in seconds (`holdtime`, `talktime`).
    pub holdtime: u64,
    pub talktime: u64,
}

impl Queue {
    pub fn new(conf: QueueConf) -> Queue {
        let members = conf
            .members
            .iter()
            .map(|m| Member::new(m, conf.ringinuse, false))
            .collect();
        Queue {
            conf,
            members,
            callers: Vec::new(),
            rrpos: 0,
            completed: 0,
            abandoned: 0,
            completed_in_sl: 0,
            abandoned_in_sl: 0,
            holdtime: 0,
            talktime: 0,
        }
    }

    pub fn member(&self, interface: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.interface.eq_ignore_ascii_case(interface))
    }

    pub fn member_mut(&mut self, interface: &str) -> Option<&mut Member> {
        self.members
            .iter_mut()
            .find(|m| m.interface.eq_ignore_ascii_case(interface))
    }

    /// Position (1-based) of a caller.
    pub fn position(&self, uniqueid: &str) -> Option<usize> {
        self.callers
            .iter()
            .position(|c| c.uniqueid == uniqueid)
            .map(|p| p + 1)
    }

    /// `joinempty`/`leavewhenempty`: whether some member is there by `rules`
    /// (`get_member_status`: false = the queue counts as empty).
    pub fn has_usable_member(&self, rules: &super::config::EmptyRules, now: Instant) -> bool {
        self.members.iter().any(|m| {
            if rules.paused && m.paused {
                return false;
            }
            if rules.wrapup && m.in_wrapup(self.conf.wrapuptime, now) {
                return false;
            }
            match m.effective_status() {
                DeviceState::InUse | DeviceState::Busy | DeviceState::OnHold => !rules.inuse,
                DeviceState::Ringing | DeviceState::RingInUse => !rules.ringing,
                DeviceState::Unavailable => !rules.unavailable,
                DeviceState::Invalid => !rules.invalid,
                DeviceState::Unknown => !rules.unknown,
                DeviceState::NotInUse => true,
            }
        })
    }

    /// Record a completed call's hold and talk times (`recalc_holdtime`, `update_queue`).
    pub fn record_completed(&mut self, hold: u64, talk: u64) {
        self.completed += 1;
        if self.conf.servicelevel > 0 && hold <= u64::from(self.conf.servicelevel) {
            self.completed_in_sl += 1;
        }
        self.holdtime = (self.holdtime * 3 + hold) / 4;
        self.talktime = (self.talktime * 3 + talk) / 4;
    }

    /// Forget the statistics (`clear_queue`: QueueReset, `queue reset stats`): the
    /// counters, the averages and the members' calls.
    pub fn reset_stats(&mut self) {
        self.completed = 0;
        self.abandoned = 0;
        self.completed_in_sl = 0;
        self.abandoned_in_sl = 0;
        self.holdtime = 0;
        self.talktime = 0;
        for m in &mut self.members {
            m.calls = 0;
            m.lastcall = None;
        }
    }

    pub fn record_abandoned(&mut self, hold: u64) {
        self.abandoned += 1;
        if self.conf.servicelevel > 0 && hold <= u64::from(self.conf.servicelevel) {
            self.abandoned_in_sl += 1;
        }
    }

    /// Whether the caller `uniqueid` may try members now: it is first, or with autofill
    /// among the first N where N is the number of members free to ring.
    pub fn is_our_turn(&self, uniqueid: &str, now: Instant) -> bool {
        let Some(pos) = self.position(uniqueid) else {
            return false;
        };
        if !self.conf.autofill {
            return pos == 1;
        }
        let free = self
            .members
            .iter()
            .filter(|m| m.can_ring(self.conf.wrapuptime, now))
            .count()
            .max(1);
        pos <= free
    }
}

/// Every queue, keyed by lower-cased name (`queue show` lists them sorted).
#[derive(Debug, Default)]
pub struct State {
    pub general: General,
    pub queues: BTreeMap<String, Queue>,
}

impl State {
    pub fn get(&self, name: &str) -> Option<&Queue> {
        self.queues.get(&name.to_ascii_lowercase())
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Queue> {
        self.queues.get_mut(&name.to_ascii_lowercase())
    }

    /// Apply a (re)read `queues.conf`: new queues appear, removed ones go (unless callers
    /// wait in them), static members are replaced, dynamic members and statistics stay.
    pub fn apply(&mut self, general: General, confs: Vec<QueueConf>) {
        self.general = general;
        let mut keep = BTreeMap::new();
        for conf in confs {
            let key = conf.name.to_ascii_lowercase();
            let q = match self.queues.remove(&key) {
                Some(mut old) => {
                    let (dynamic, olds): (Vec<Member>, Vec<Member>) =
                        std::mem::take(&mut old.members)
                            .into_iter()
                            .partition(|m| m.dynamic);
                    let mut fresh = Queue::new(conf);
                    // Static members keep their counters when they stay.
                    for m in &mut fresh.members {
                        if let Some(o) = olds.iter().find(|o| o.interface == m.interface) {
                            m.calls = o.calls;
                            m.lastcall = o.lastcall;
                            m.paused = o.paused;
                        }
                    }
                    for d in dynamic {
                        if fresh.member(&d.interface).is_none() {
                            fresh.members.push(d);
                        }
                    }
                    fresh.callers = old.callers;
                    fresh.rrpos = old.rrpos;
                    fresh.completed = old.completed;
                    fresh.abandoned = old.abandoned;
                    fresh.completed_in_sl = old.completed_in_sl;
                    fresh.abandoned_in_sl = old.abandoned_in_sl;
                    fresh.holdtime = old.holdtime;
                    fresh.talktime = old.talktime;
                    fresh
                }
                None => Queue::new(conf),
            };
            keep.insert(key, q);
        }
        // Queues gone from the file stay while callers wait in them.
        for (k, q) in std::mem::take(&mut self.queues) {
            if !q.callers.is_empty() {
                keep.entry(k).or_insert(q);
            }
        }
        self.queues = keep;
    }
}

/// The members to ring next, best first (`calc_metric` + `ring_one`), among those that
/// `can_ring`: for ringall every member of the lowest penalty at once (one group), for
/// the others one member per group, in strategy order. `linpos` is the caller's own
/// position for `linear`; `rrpos` the queue's for `rrmemory`/`rrordered`; `rand` gives
/// random numbers for `random`/`wrandom`.
pub fn ring_order(
    q: &Queue,
    linpos: usize,
    now: Instant,
    mut rand: impl FnMut() -> u32,
) -> Vec<Vec<usize>> {
    let n = q.members.len();
    let mut cands: Vec<(i64, usize)> = Vec::new();
    for (i, m) in q.members.iter().enumerate() {
        if !m.can_ring(q.conf.wrapuptime, now) {
            continue;
        }
        let pen = i64::from(m.penalty) * 1_000_000;
        let rel = |start: usize| -> i64 {
            // Members from `start` on first, then the ones before it.
            if i >= start % n.max(1) {
                (i - start % n.max(1)) as i64
            } else {
                (n + i - start % n.max(1)) as i64
            }
        };
        let metric = match q.conf.strategy {
            Strategy::RingAll => pen,
            Strategy::Linear => pen + rel(linpos),
            Strategy::RrMemory | Strategy::RrOrdered => pen + rel(q.rrpos),
            Strategy::Random => pen + i64::from(rand() % 1000),
            Strategy::WRandom => i64::from(rand() % 1000) * (1 + i64::from(m.penalty)),
            Strategy::FewestCalls => pen + i64::from(m.calls),
            Strategy::LeastRecent => {
                pen + m
                    .lastcall
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs() as i64)
            }
        };
        cands.push((metric, i));
    }
    cands.sort();
    if q.conf.strategy == Strategy::RingAll {
        return match cands.first() {
            Some(&(best, _)) => vec![cands
                .iter()
                .filter(|(m, _)| *m == best)
                .map(|(_, i)| *i)
                .collect()],
            None => Vec::new(),
        };
    }
    cands.into_iter().map(|(_, i)| vec![i]).collect()
}

#[cfg(test)]
mod tests {
    use super::super::config::EmptyRules;
    use super::*;

    fn queue(strategy: Strategy, members: &[(&str, i32)]) -> Queue {
        let mut c = QueueConf::new("q", false);
        c.strategy = strategy;
        c.members = members
            .iter()
            .map(|(i, p)| MemberConf::parse(&format!("{i},{p}")).expect("member"))
            .collect();
        let mut q = Queue::new(c);
        for m in &mut q.members {
            m.status = DeviceState::NotInUse;
        }
        q
    }

    fn names(q: &Queue, order: &[Vec<usize>]) -> Vec<Vec<String>> {
        order
            .iter()
            .map(|g| g.iter().map(|i| q.members[*i].interface.clone()).collect())
            .collect()
    }

    #[test]
    fn ringall_rings_the_lowest_penalty_together() {
        let q = queue(
            Strategy::RingAll,
            &[("SIP/a", 1), ("SIP/b", 0), ("SIP/c", 0)],
        );
        let now = Instant::now();
        assert_eq!(
            names(&q, &ring_order(&q, 0, now, || 0)),
            [["SIP/b", "SIP/c"]]
        );
    }

    #[test]
    fn linear_and_rrmemory_follow_the_file_order_from_their_position() {
        let mut q = queue(
            Strategy::Linear,
            &[("SIP/a", 0), ("SIP/b", 0), ("SIP/c", 0)],
        );
        let now = Instant::now();
        let o = ring_order(&q, 1, now, || 0);
        assert_eq!(names(&q, &o), [["SIP/b"], ["SIP/c"], ["SIP/a"]]);
        q.conf.strategy = Strategy::RrMemory;
        q.rrpos = 2;
        let o = ring_order(&q, 0, now, || 0);
        assert_eq!(names(&q, &o), [["SIP/c"], ["SIP/a"], ["SIP/b"]]);
    }

    #[test]
    fn fewestcalls_leastrecent_and_availability() {
        let mut q = queue(
            Strategy::FewestCalls,
            &[("SIP/a", 0), ("SIP/b", 0), ("SIP/c", 0)],
        );
        q.members[0].calls = 5;
        q.members[1].calls = 1;
        q.members[2].paused = true;
        let now = Instant::now();
        assert_eq!(
            names(&q, &ring_order(&q, 0, now, || 0)),
            [["SIP/b"], ["SIP/a"]]
        );
        q.conf.strategy = Strategy::LeastRecent;
        q.members[2].paused = false;
        q.members[0].lastcall = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(100));
        q.members[1].lastcall = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(200));
        assert_eq!(
            names(&q, &ring_order(&q, 0, now, || 0)),
            [["SIP/c"], ["SIP/a"], ["SIP/b"]]
        );
        // In use without ringinuse, unavailable, or wrapping up: not rung.
        q.members[0].ringinuse = false;
        q.members[0].status = DeviceState::InUse;
        q.members[1].status = DeviceState::Unavailable;
        q.conf.wrapuptime = 60;
        q.members[2].lastcall_end = Some(now);
        assert!(ring_order(&q, 0, now, || 0).is_empty());
        assert!(!q.has_usable_member(
            &EmptyRules::parse("inuse,unavailable,wrapup").expect("rules"),
            now
        ));
        assert!(q.has_usable_member(&EmptyRules::parse("yes").expect("rules"), now));
    }

    #[test]
    fn autofill_lets_as_many_callers_try_as_members_are_free() {
        let mut q = queue(Strategy::RingAll, &[("SIP/a", 0), ("SIP/b", 0)]);
        let now = Instant::now();
        for id in ["1", "2", "3"] {
            q.callers.push(Caller {
                uniqueid: id.into(),
                channel: format!("SIP/x-{id}"),
                start: now,
                prio: 0,
                opos: 1,
            });
        }
        assert!(q.is_our_turn("1", now) && !q.is_our_turn("2", now));
        q.conf.autofill = true;
        assert!(q.is_our_turn("2", now) && !q.is_our_turn("3", now));
    }

    #[test]
    fn reload_keeps_dynamic_members_and_counters() {
        let mut s = State::default();
        let q = queue(Strategy::RingAll, &[("SIP/a", 0)]);
        s.apply(General::default(), vec![q.conf.clone()]);
        {
            let q = s.get_mut("Q").expect("queue");
            q.members[0].calls = 3;
            let mut d = Member::new(&MemberConf::parse("SIP/d").expect("m"), true, true);
            d.paused = true;
            q.members.push(d);
        }
        let mut c = q.conf.clone();
        c.strategy = Strategy::Linear;
        s.apply(General::default(), vec![c]);
        let q = s.get("q").expect("queue");
        assert_eq!(q.conf.strategy, Strategy::Linear);
        assert_eq!(q.members.len(), 2);
        assert_eq!(q.members[0].calls, 3);
        assert!(q.members[1].dynamic && q.members[1].paused);
        s.apply(General::default(), vec![]);
        assert!(s.get("q").is_none());
    }
}
