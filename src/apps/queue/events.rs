//! app_queue's AMI events (class `agent`), published on the core's bus: the callers'
//! `QueueCallerJoin`/`Leave`/`Abandon`, the members' `AgentCalled`, `AgentConnect`,
//! `AgentComplete`, `AgentRingNoAnswer`, `AgentDump`, and the member changes
//! `QueueMemberAdded`/`Removed`/`Pause`/`Status`/`Penalty`/`Ringinuse`, with Asterisk's
//! fields. Nothing is built when no AMI client listens.

use super::state::Member;
use crate::pbx::events::ChanSnapshot;
use crate::pbx::manager::class;
use crate::pbx::{Channel, Pbx};
use std::time::SystemTime;

type Fields = Vec<(String, String)>;

fn kv(pairs: &[(&str, String)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

fn publish(
    pbx: &Pbx,
    name: &'static str,
    build: impl FnOnce() -> (Vec<(&'static str, ChanSnapshot)>, Fields),
) {
    pbx.events.publish_module(name, class::AGENT, build);
}

/// `QueueCallerJoin`, `QueueCallerLeave`: the caller's channel, Queue, Position, Count.
pub fn caller(
    pbx: &Pbx,
    name: &'static str,
    chan: &ChanSnapshot,
    queue: &str,
    pos: usize,
    count: usize,
) {
    publish(pbx, name, || {
        (
            vec![("", chan.clone())],
            kv(&[
                ("Queue", queue.to_string()),
                ("Position", pos.to_string()),
                ("Count", count.to_string()),
            ]),
        )
    });
}

/// `QueueCallerAbandon`: Queue, Position, OriginalPosition, HoldTime.
pub fn abandon(pbx: &Pbx, chan: &Channel, queue: &str, pos: usize, opos: usize, hold: u64) {
    publish(pbx, "QueueCallerAbandon", || {
        (
            vec![("", ChanSnapshot::of(chan))],
            kv(&[
                ("Queue", queue.to_string()),
                ("Position", pos.to_string()),
                ("OriginalPosition", opos.to_string()),
                ("HoldTime", hold.to_string()),
            ]),
        )
    });
}

/// The member events about a call (`AgentCalled`, `AgentConnect`, …): the caller's
/// channel, the member's (`Dest…`), Queue, Interface, MemberName, then `extra`.
pub fn agent(
    pbx: &Pbx,
    name: &'static str,
    caller: &Channel,
    member_chan: impl FnOnce() -> Option<ChanSnapshot>,
    queue: &str,
    m: &Member,
    extra: &[(&str, String)],
) {
    publish(pbx, name, || {
        let mut chans = vec![("", ChanSnapshot::of(caller))];
        if let Some(c) = member_chan() {
            chans.push(("Dest", c));
        }
        let mut h = kv(&[
            ("Queue", queue.to_string()),
            ("Interface", m.interface.clone()),
            ("MemberName", m.membername.clone()),
        ]);
        h.extend(kv(extra));
        (chans, h)
    });
}

fn epoch(t: Option<SystemTime>) -> String {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// The fields of the member events (`queue_member_blob_create`), then `extra`.
pub fn member_fields(queue: &str, m: &Member, wrapuptime: u32, extra: &[(&str, String)]) -> Fields {
    let mut h = kv(&[
        ("Queue", queue.to_string()),
        ("MemberName", m.membername.clone()),
        ("Interface", m.interface.clone()),
        ("StateInterface", m.state_interface.clone()),
        (
            "Membership",
            if m.dynamic { "dynamic" } else { "static" }.to_string(),
        ),
        ("Penalty", m.penalty.to_string()),
        ("CallsTaken", m.calls.to_string()),
        ("LastCall", epoch(m.lastcall)),
        ("LastPause", epoch(m.paused.then_some(m.lastpause))),
        ("LoginTime", epoch(Some(m.logintime))),
        ("InCall", u8::from(m.in_call).to_string()),
        ("Status", (m.effective_status() as u8).to_string()),
        ("Paused", u8::from(m.paused).to_string()),
        ("PausedReason", m.reason_paused.clone()),
        ("Ringinuse", u8::from(m.ringinuse).to_string()),
        ("Wrapuptime", wrapuptime.to_string()),
    ]);
    h.extend(kv(extra));
    h
}

/// A member event without a channel (`QueueMemberAdded`, `QueueMemberPause`, …) from
/// fields taken under the queues' lock ([`member_fields`]).
pub fn member(pbx: &Pbx, name: &'static str, fields: Fields) {
    publish(pbx, name, || (Vec::new(), fields));
}

/// Whether anyone would read a member event (build the fields only then).
pub fn wanted(pbx: &Pbx) -> bool {
    pbx.events.wants(crate::pbx::events::Topic::Module)
}
