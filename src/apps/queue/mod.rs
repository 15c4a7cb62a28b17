//! `app_queue.so`: Asterisk's call queues. `queues.conf` defines the queues and their
//! static members; callers wait in `Queue()` hearing music on hold (or ringing) while
//! members are rung by the queue's strategy through the core's channel technologies (as
//! `Dial()` does, sharing its bridging); members come and go with `AddQueueMember` and
//! the CLI, pause and unpause, and every step is written to the queue log
//! (`astlogdir/queue_log`, by the logger's writer thread). Dynamic members are kept in
//! AstDB (`Queue/PersistentMembers`) with `persistentmembers = yes`, as Asterisk does.
//!
//! The parts: [`config`] (the file, pure), [`state`] (members, callers, strategies,
//! pure), `app` (Queue()), `members` (the member applications), `funcs` (QUEUE_*),
//! `cli` (the `queue …` commands), `manager` (the AMI actions). The state is one lock held briefly, never across an
//! await; device states (AstDB for `Custom:`) are read on the blocking pool.

pub mod config;
pub mod state;

mod app;
mod cli;
mod events;
mod funcs;
mod manager;
mod members;

use crate::pbx::blocking;
use crate::pbx::devstate::{self, DeviceState};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::Pbx;
use async_trait::async_trait;
use config::MemberConf;
use parking_lot::Mutex;
use state::{Member, State};
use std::sync::Arc;

/// The AstDB family of persistent dynamic members.
pub const PM_FAMILY: &str = "Queue/PersistentMembers";

/// `app_queue.so`.
pub struct AppQueue;

#[async_trait]
impl Module for AppQueue {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_queue.so", "True Call Queueing").configs(&["queues.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        let s = &pbx.settings;
        if !s.astetcdir.join("queues.conf").exists() {
            return Err(ModuleError::Decline(
                "No call queueing config file (queues.conf), so no call queues".into(),
            ));
        }
        let (general, queues) = read_config(pbx).map_err(ModuleError::Failed)?;
        let q = Arc::new(Queues::default());
        q.state.lock().apply(general, queues);
        load_persistent(pbx, &q);
        ctx.provide(q);
        app::register(ctx);
        members::register(ctx);
        funcs::register(ctx);
        manager::register(ctx);
        ctx.register_cli_with(cli::register);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match reload(&ctx.pbx) {
            Ok(()) => Reload::Done(String::new()),
            Err(e) => Reload::Failed(e),
        }
    }
}

/// The running queues (a service of `app_queue.so`).
#[derive(Default)]
pub struct Queues {
    pub state: Mutex<State>,
}

/// The queues of the loaded module.
pub fn queues(pbx: &Pbx) -> Option<Arc<Queues>> {
    pbx.service::<Queues>()
}

/// Read and check `queues.conf` (file work: the blocking pool).
fn read_config(pbx: &Pbx) -> Result<(config::General, Vec<config::QueueConf>), String> {
    let s = &pbx.settings;
    let cf = crate::config::load(&s.astetcdir, "queues.conf", &s.load_options())
        .map_err(|e| e.to_string())?;
    let c = config::parse(&cf).map_err(|errs| crate::config::join_errors(&errs))?;
    Ok((c.general, c.queues))
}

/// `queue reload` / `module reload app_queue.so`: re-read the file; a file with errors
/// keeps the running queues. File work: call it on the blocking pool.
pub fn reload(pbx: &Pbx) -> Result<(), String> {
    let Some(q) = queues(pbx) else {
        return Err("app_queue.so is not loaded".into());
    };
    match read_config(pbx) {
        Ok((general, confs)) => {
            q.state.lock().apply(general, confs);
            Ok(())
        }
        Err(e) => {
            pbx.warning(&format!("app_queue.c: {e}"));
            Err(e)
        }
    }
}

/// Write a queue_log line (`ast_queue_log`).
pub fn qlog(pbx: &Pbx, queue: &str, callid: &str, agent: &str, event: &str, data: &str) {
    pbx.logger.queue_log(callid, queue, agent, event, data);
}

/// The agent field of member events (ADDMEMBER, REMOVEMEMBER, …): the interface, or the
/// member name with `log_membername_as_agent`.
pub fn agent_field(st: &State, interface: &str, membername: &str) -> String {
    if st.general.log_membername_as_agent {
        membername.to_string()
    } else {
        interface.to_string()
    }
}

/// Refresh the device states of `queue`'s members (every queue when `None`) from the
/// core's device states. Reads AstDB for `Custom:` devices: runs on the blocking pool.
pub async fn refresh_states(pbx: &Arc<Pbx>, queue: Option<&str>) {
    let Some(qs) = queues(pbx) else { return };
    let devices: Vec<String> = {
        let st = qs.state.lock();
        let mut v: Vec<String> = st
            .queues
            .values()
            .filter(|q| queue.is_none_or(|n| q.conf.name.eq_ignore_ascii_case(n)))
            .flat_map(|q| q.members.iter().map(|m| m.state_interface.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if devices.is_empty() {
        return;
    }
    let p = pbx.clone();
    let states: Vec<(String, DeviceState)> = blocking::run(move || {
        devices
            .into_iter()
            .map(|d| {
                let s = devstate::device_state(&p, &d);
                (d, s)
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    set_states(pbx, &qs, &states);
}

/// The same without the blocking pool (functions, which cannot wait): only non-`Custom:`
/// devices are looked at, which read no file.
pub fn refresh_states_now(pbx: &Pbx, qs: &Queues, queue: &str) {
    let devices: Vec<String> = {
        let st = qs.state.lock();
        st.get(queue)
            .map(|q| {
                q.members
                    .iter()
                    .map(|m| m.state_interface.clone())
                    .filter(|d| !d.to_ascii_lowercase().starts_with("custom:"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let states: Vec<(String, DeviceState)> = devices
        .into_iter()
        .map(|d| {
            let s = devstate::device_state(pbx, &d);
            (d, s)
        })
        .collect();
    set_states(pbx, qs, &states);
}

/// Record the members' device states; a change is a `QueueMemberStatus` event.
fn set_states(pbx: &Pbx, qs: &Queues, states: &[(String, DeviceState)]) {
    let wanted = events::wanted(pbx);
    let mut evs = Vec::new();
    {
        let mut st = qs.state.lock();
        for q in st.queues.values_mut() {
            for m in &mut q.members {
                if let Some((_, s)) = states
                    .iter()
                    .find(|(d, _)| d.eq_ignore_ascii_case(&m.state_interface))
                {
                    if m.status != *s && wanted {
                        let mut changed = m.clone();
                        changed.status = *s;
                        evs.push(events::member_fields(
                            &q.conf.name,
                            &changed,
                            q.conf.wrapuptime,
                            &[],
                        ));
                    }
                    m.status = *s;
                }
            }
        }
    }
    for f in evs {
        events::member(pbx, "QueueMemberStatus", f);
    }
}

/// Why adding or removing a member did not work (`RES_EXISTS`, `RES_NOSUCHQUEUE`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberError {
    NoSuchQueue,
    Exists,
    NotInQueue,
    /// A static member (from queues.conf) cannot be removed.
    NotDynamic,
}

/// Add a dynamic member (`add_to_queue`): logs ADDMEMBER, saves persistent members.
pub fn add_member(
    pbx: &Arc<Pbx>,
    queue: &str,
    m: &MemberConf,
    paused: bool,
    reason: &str,
    callid: &str,
) -> Result<(), MemberError> {
    let qs = queues(pbx).ok_or(MemberError::NoSuchQueue)?;
    let wanted = events::wanted(pbx);
    let (qname, agent, dump, ev) = {
        let mut st = qs.state.lock();
        let persistent = st.general.persistentmembers;
        let q = st.get_mut(queue).ok_or(MemberError::NoSuchQueue)?;
        if q.member(&m.interface).is_some() {
            return Err(MemberError::Exists);
        }
        let mut mem = Member::new(m, q.conf.ringinuse, true);
        mem.paused = paused;
        mem.reason_paused = reason.to_string();
        let ev = wanted.then(|| events::member_fields(&q.conf.name, &mem, q.conf.wrapuptime, &[]));
        q.members.push(mem);
        let qname = q.conf.name.clone();
        let dump = persistent.then(|| dump_members(q));
        let agent = agent_field(&st, &m.interface, &m.membername);
        (qname, agent, dump, ev)
    };
    if let Some(f) = ev {
        events::member(pbx, "QueueMemberAdded", f);
    }
    member_changed(
        pbx,
        &qname,
        (callid, &agent),
        ("ADDMEMBER", if paused { "PAUSED" } else { "" }),
        dump,
    );
    Ok(())
}

/// After a member change: the queue log line (`callid`, `agent`; `event`, `data`), and the
/// persistent members when they are kept.
fn member_changed(
    pbx: &Arc<Pbx>,
    queue: &str,
    (callid, agent): (&str, &str),
    (event, data): (&str, &str),
    dump: Option<String>,
) {
    qlog(pbx, queue, callid, agent, event, data);
    if let Some(v) = dump {
        save_persistent(pbx, queue, v);
    }
}

/// Remove a dynamic member (`remove_from_queue`): logs REMOVEMEMBER. Static members
/// cannot be removed (`RES_NOT_DYNAMIC`).
pub fn remove_member(
    pbx: &Arc<Pbx>,
    queue: &str,
    interface: &str,
    callid: &str,
) -> Result<(), MemberError> {
    let qs = queues(pbx).ok_or(MemberError::NoSuchQueue)?;
    let wanted = events::wanted(pbx);
    let (qname, agent, dump, ev) = {
        let mut st = qs.state.lock();
        let persistent = st.general.persistentmembers;
        let q = st.get_mut(queue).ok_or(MemberError::NoSuchQueue)?;
        let Some(i) = q
            .members
            .iter()
            .position(|m| m.interface.eq_ignore_ascii_case(interface))
        else {
            return Err(MemberError::NotInQueue);
        };
        if !q.members[i].dynamic {
            return Err(MemberError::NotDynamic);
        }
        let m = q.members.remove(i);
        let ev = wanted.then(|| events::member_fields(&q.conf.name, &m, q.conf.wrapuptime, &[]));
        let qname = q.conf.name.clone();
        let dump = persistent.then(|| dump_members(q));
        let agent = agent_field(&st, &m.interface, &m.membername);
        (qname, agent, dump, ev)
    };
    if let Some(f) = ev {
        events::member(pbx, "QueueMemberRemoved", f);
    }
    member_changed(pbx, &qname, (callid, &agent), ("REMOVEMEMBER", ""), dump);
    Ok(())
}

/// Pause or unpause `interface` in `queue` (every queue it is in when empty): logs PAUSE /
/// UNPAUSE with the reason. `Err` when it is in no such queue.
pub fn set_paused(
    pbx: &Arc<Pbx>,
    queue: &str,
    interface: &str,
    paused: bool,
    reason: &str,
) -> Result<(), MemberError> {
    let qs = queues(pbx).ok_or(MemberError::NoSuchQueue)?;
    let wanted = events::wanted(pbx);
    let mut logs = Vec::new();
    let mut saves = Vec::new();
    let mut evs = Vec::new();
    {
        let mut st = qs.state.lock();
        let persistent = st.general.persistentmembers;
        let by_name = st.general.log_membername_as_agent;
        if !queue.is_empty() && st.get(queue).is_none() {
            return Err(MemberError::NoSuchQueue);
        }
        for q in st.queues.values_mut() {
            if !queue.is_empty() && !q.conf.name.eq_ignore_ascii_case(queue) {
                continue;
            }
            let Some(m) = q.member_mut(interface) else {
                continue;
            };
            m.paused = paused;
            m.reason_paused = if paused {
                reason.to_string()
            } else {
                String::new()
            };
            m.lastpause = std::time::SystemTime::now();
            let agent = if by_name {
                m.membername.clone()
            } else {
                m.interface.clone()
            };
            let dynamic = m.dynamic;
            if wanted {
                let m = m.clone();
                evs.push(events::member_fields(
                    &q.conf.name,
                    &m,
                    q.conf.wrapuptime,
                    &[("Reason", reason.to_string())],
                ));
            }
            logs.push((q.conf.name.clone(), agent));
            if persistent && dynamic {
                saves.push((q.conf.name.clone(), dump_members(q)));
            }
        }
    }
    if logs.is_empty() {
        return Err(MemberError::NotInQueue);
    }
    for f in evs {
        events::member(pbx, "QueueMemberPause", f);
    }
    for (q, agent) in logs {
        qlog(
            pbx,
            &q,
            "NONE",
            &agent,
            if paused { "PAUSE" } else { "UNPAUSE" },
            reason,
        );
    }
    for (q, v) in saves {
        save_persistent(pbx, &q, v);
    }
    Ok(())
}

/// A member property QUEUE_MEMBER(), QueuePenalty and QueueMemberRingInUse set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberValue {
    Penalty(i32),
    RingInUse(bool),
}

/// Set `interface`'s penalty or ringinuse in `queue` (every queue it is in when empty),
/// as Asterisk's `set_member_value`: a PENALTY queue log line, a `QueueMemberPenalty` or
/// `QueueMemberRinginuse` event. `Err` when it is in no such queue.
pub fn set_member_value(
    pbx: &Pbx,
    queue: &str,
    interface: &str,
    value: MemberValue,
) -> Result<(), MemberError> {
    let qs = queues(pbx).ok_or(MemberError::NoSuchQueue)?;
    let wanted = events::wanted(pbx);
    let mut done = Vec::new();
    {
        let mut st = qs.state.lock();
        if !queue.is_empty() && st.get(queue).is_none() {
            return Err(MemberError::NoSuchQueue);
        }
        for q in st.queues.values_mut() {
            if !queue.is_empty() && !q.conf.name.eq_ignore_ascii_case(queue) {
                continue;
            }
            let Some(m) = q.member_mut(interface) else {
                continue;
            };
            match value {
                MemberValue::Penalty(p) => m.penalty = p,
                MemberValue::RingInUse(r) => m.ringinuse = r,
            }
            let m = m.clone();
            let fields =
                wanted.then(|| events::member_fields(&q.conf.name, &m, q.conf.wrapuptime, &[]));
            done.push((q.conf.name.clone(), fields));
        }
    }
    if done.is_empty() {
        return Err(MemberError::NotInQueue);
    }
    for (q, fields) in done {
        match value {
            MemberValue::Penalty(p) => {
                qlog(pbx, &q, "NONE", interface, "PENALTY", &p.to_string());
                if let Some(f) = fields {
                    events::member(pbx, "QueueMemberPenalty", f);
                }
            }
            MemberValue::RingInUse(_) => {
                if let Some(f) = fields {
                    events::member(pbx, "QueueMemberRinginuse", f);
                }
            }
        }
    }
    Ok(())
}

/// The AstDB value of a queue's dynamic members (`dump_queue_members`); empty: none.
fn dump_members(q: &state::Queue) -> String {
    q.members
        .iter()
        .filter(|m| m.dynamic)
        .map(|m| {
            format!(
                "{};{};{};{};{};{};{}",
                m.interface,
                m.penalty,
                u8::from(m.paused),
                m.membername,
                m.state_interface,
                m.reason_paused,
                0
            )
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Write (or delete, when empty) a queue's persistent members, off the caller's thread.
fn save_persistent(pbx: &Arc<Pbx>, queue: &str, value: String) {
    let p = pbx.clone();
    let queue = queue.to_string();
    let write = move || {
        let _ = if value.is_empty() {
            p.astdb.del(PM_FAMILY, &queue).map(|_| ())
        } else {
            p.astdb.put(PM_FAMILY, &queue, &value)
        };
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn_blocking(write);
        }
        Err(_) => write(),
    }
}

/// Re-add the persistent members stored in AstDB (`reload_queue_members`), at load (on
/// the blocking pool). Entries of queues that no longer exist are removed.
fn load_persistent(pbx: &Pbx, qs: &Queues) {
    if !qs.state.lock().general.persistentmembers {
        return;
    }
    for (key, value) in pbx.astdb.show(Some(PM_FAMILY), None) {
        let queue = key.rsplit('/').next().unwrap_or(&key).to_string();
        let mut st = qs.state.lock();
        let Some(q) = st.get_mut(&queue) else {
            drop(st);
            let _ = pbx.astdb.del(PM_FAMILY, &queue);
            continue;
        };
        for entry in value.split([',', '|']).filter(|e| !e.is_empty()) {
            let f: Vec<&str> = entry.split(';').collect();
            let interface = f.first().copied().unwrap_or("");
            if interface.is_empty() || q.member(interface).is_some() {
                continue;
            }
            let conf = MemberConf {
                interface: interface.to_string(),
                penalty: f.get(1).and_then(|p| p.parse().ok()).unwrap_or(0),
                membername: f
                    .get(3)
                    .filter(|s| !s.is_empty())
                    .map_or(interface, |s| s)
                    .to_string(),
                state_interface: f
                    .get(4)
                    .filter(|s| !s.is_empty())
                    .map_or(interface, |s| s)
                    .to_string(),
                ringinuse: None,
            };
            let mut m = Member::new(&conf, q.conf.ringinuse, true);
            m.paused = f.get(2).is_some_and(|p| *p == "1");
            m.reason_paused = f.get(5).copied().unwrap_or("").to_string();
            q.members.push(m);
        }
    }
}

#[cfg(test)]
mod tests;
