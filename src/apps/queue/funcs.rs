//! The QUEUE_* dialplan functions of `app_queue.so`: QUEUE_MEMBER, QUEUE_MEMBER_COUNT,
//! QUEUE_MEMBER_LIST, QUEUE_MEMBER_PENALTY, QUEUE_EXISTS, QUEUE_GET_CHANNEL,
//! QUEUE_VARIABLES, QUEUE_WAITING_COUNT.

use super::state::Queue;
use super::{queues, refresh_states_now, Queues};
use crate::apps::args;
use crate::pbx::devstate::DeviceState;
use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::ModuleContext;
use crate::pbx::Channel;
use std::sync::Arc;
use std::time::Instant;

pub fn register(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(QueueMember));
    ctx.register_func(Arc::new(QueueMemberCount));
    ctx.register_func(Arc::new(QueueMemberList));
    ctx.register_func(Arc::new(QueueMemberPenalty));
    ctx.register_func(Arc::new(QueueExists));
    ctx.register_func(Arc::new(QueueGetChannel));
    ctx.register_func(Arc::new(QueueVariables));
    ctx.register_func(Arc::new(QueueWaitingCount));
}

/// The variables `setqueuevar` and QUEUE_VARIABLES set (`set_queue_variables`).
pub fn queue_variables(q: &Queue) -> Vec<(&'static str, String)> {
    let sl = if q.completed > 0 {
        100.0 * f64::from(q.completed_in_sl) / f64::from(q.completed)
    } else {
        0.0
    };
    vec![
        ("QUEUENAME", q.conf.name.clone()),
        ("QUEUEMAX", q.conf.maxlen.to_string()),
        ("QUEUESTRATEGY", q.conf.strategy.as_str().to_string()),
        ("QUEUECALLS", q.callers.len().to_string()),
        ("QUEUEHOLDTIME", q.holdtime.to_string()),
        ("QUEUETALKTIME", q.talktime.to_string()),
        ("QUEUECOMPLETED", q.completed.to_string()),
        ("QUEUEABANDONED", q.abandoned.to_string()),
        ("QUEUESRVLEVEL", q.conf.servicelevel.to_string()),
        ("QUEUESRVLEVELPERF", format!("{sl:.1}")),
    ]
}

fn service(chan: &Channel) -> Result<Arc<Queues>, FuncError> {
    queues(&chan.pbx).ok_or_else(|| FuncError::Other("app_queue.so is not loaded".into()))
}

/// Members counted as logged in (not unavailable or invalid).
fn logged(q: &Queue) -> usize {
    q.members
        .iter()
        .filter(|m| {
            !matches!(
                m.effective_status(),
                DeviceState::Unavailable | DeviceState::Invalid
            )
        })
        .count()
}

/// Run `f` on the queue named by the first argument, with its members' states fresh.
fn with_queue<T>(
    chan: &Channel,
    func: &str,
    name: &str,
    f: impl FnOnce(&mut Queue) -> T,
) -> Result<T, FuncError> {
    let qs = service(chan)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(FuncError::Usage(format!(
            "{func} requires an argument: queuename"
        )));
    }
    refresh_states_now(&chan.pbx, &qs, name);
    let mut st = qs.state.lock();
    match st.get_mut(name) {
        Some(q) => Ok(f(q)),
        None => Err(FuncError::Other(format!("queue {name} was not found"))),
    }
}

struct QueueMember;

impl Func for QueueMember {
    fn name(&self) -> &'static str {
        "QUEUE_MEMBER"
    }
    fn synopsis(&self) -> &'static str {
        "Provide a count of queue members based on various criteria, or read and set their penalty, paused and ringinuse."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_MEMBER(queuename,option[,interface])"
    }
    fn description(&self) -> &'static str {
        "Options: logged (members logged in), free (logged in, not in use, not paused), ready (free and not in wrap-up), count (all members), penalty, paused, ringinuse (of interface; writable)."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let (name, opt, iface) = (
            args::nth(&v, 0),
            args::nth(&v, 1).trim().to_ascii_lowercase(),
            args::nth(&v, 2).trim().to_string(),
        );
        with_queue(chan, "QUEUE_MEMBER", name, |q| {
            let now = Instant::now();
            let free = |m: &super::state::Member| {
                !m.paused
                    && matches!(
                        m.effective_status(),
                        DeviceState::NotInUse | DeviceState::Unknown
                    )
            };
            match opt.as_str() {
                "logged" => Ok(logged(q).to_string()),
                "free" => Ok(q.members.iter().filter(|m| free(m)).count().to_string()),
                "ready" => Ok(q
                    .members
                    .iter()
                    .filter(|m| free(m) && !m.in_wrapup(q.conf.wrapuptime, now))
                    .count()
                    .to_string()),
                "count" => Ok(q.members.len().to_string()),
                "penalty" | "paused" | "ringinuse" => {
                    let m = q.member(&iface).ok_or_else(|| {
                        FuncError::Other(format!("Invalid interface, queue or penalty: {iface}"))
                    })?;
                    Ok(match opt.as_str() {
                        "penalty" => m.penalty.to_string(),
                        "paused" => u8::from(m.paused).to_string(),
                        _ => u8::from(m.ringinuse).to_string(),
                    })
                }
                _ => Err(FuncError::Usage(format!(
                    "QUEUE_MEMBER: unknown option '{opt}' (logged, free, ready, count, penalty, paused, ringinuse)"
                ))),
            }
        })?
    }
    fn writable(&self) -> bool {
        true
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let v = args::split(a, ',');
        let (name, opt, iface) = (
            args::nth(&v, 0).trim().to_string(),
            args::nth(&v, 1).trim().to_ascii_lowercase(),
            args::nth(&v, 2).trim().to_string(),
        );
        match opt.as_str() {
            "paused" => {
                let paused = crate::config::is_true(value) || value.trim() == "1";
                super::set_paused(&chan.pbx, &name, &iface, paused, "")
                    .map_err(|_| FuncError::Other(format!("Invalid interface or queue: {iface}")))
            }
            "penalty" | "ringinuse" => {
                let v = if opt == "penalty" {
                    super::MemberValue::Penalty(
                        value
                            .trim()
                            .parse::<i32>()
                            .ok()
                            .filter(|p| *p >= 0)
                            .ok_or_else(|| {
                                FuncError::Usage(format!("Invalid penalty '{value}'"))
                            })?,
                    )
                } else {
                    super::MemberValue::RingInUse(
                        crate::config::is_true(value) || value.trim() == "1",
                    )
                };
                if name.is_empty() {
                    return Err(FuncError::Usage(
                        "QUEUE_MEMBER requires an argument: queuename".into(),
                    ));
                }
                super::set_member_value(&chan.pbx, &name, &iface, v).map_err(|e| match e {
                    super::MemberError::NoSuchQueue => {
                        FuncError::Other(format!("queue {name} was not found"))
                    }
                    _ => FuncError::Other(format!("Invalid interface, queue or penalty: {iface}")),
                })
            }
            _ => Err(FuncError::Usage(format!(
                "QUEUE_MEMBER: option '{opt}' cannot be set (penalty, paused, ringinuse)"
            ))),
        }
    }
}

struct QueueMemberCount;

impl Func for QueueMemberCount {
    fn name(&self) -> &'static str {
        "QUEUE_MEMBER_COUNT"
    }
    fn synopsis(&self) -> &'static str {
        "Count number of members answering a queue."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_MEMBER_COUNT(queuename)"
    }
    fn description(&self) -> &'static str {
        "Returns the number of members logged in to the queue (deprecated in Asterisk: QUEUE_MEMBER(queuename,logged))."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        with_queue(chan, "QUEUE_MEMBER_COUNT", a, |q| logged(q).to_string())
    }
}

struct QueueMemberList;

impl Func for QueueMemberList {
    fn name(&self) -> &'static str {
        "QUEUE_MEMBER_LIST"
    }
    fn synopsis(&self) -> &'static str {
        "Returns a list of interfaces on a queue."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_MEMBER_LIST(queuename)"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        with_queue(chan, "QUEUE_MEMBER_LIST", a, |q| {
            q.members
                .iter()
                .map(|m| m.interface.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

struct QueueMemberPenalty;

impl Func for QueueMemberPenalty {
    fn name(&self) -> &'static str {
        "QUEUE_MEMBER_PENALTY"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets queue members penalty."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_MEMBER_PENALTY(queuename,interface)"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let iface = args::nth(&v, 1).trim().to_string();
        with_queue(chan, "QUEUE_MEMBER_PENALTY", args::nth(&v, 0), |q| {
            q.member(&iface).map(|m| m.penalty.to_string())
        })?
        .ok_or_else(|| FuncError::Other(format!("Invalid interface, queue or penalty: {iface}")))
    }
    fn writable(&self) -> bool {
        true
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let v = args::split(a, ',');
        QueueMember.write(
            chan,
            &format!("{},penalty,{}", args::nth(&v, 0), args::nth(&v, 1)),
            value,
        )
    }
}

struct QueueExists;

impl Func for QueueExists {
    fn name(&self) -> &'static str {
        "QUEUE_EXISTS"
    }
    fn synopsis(&self) -> &'static str {
        "Check if a named queue exists on this server."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_EXISTS([queuename])"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let qs = service(chan)?;
        let found = qs.state.lock().get(a.trim()).is_some();
        Ok(u8::from(found).to_string())
    }
}

struct QueueGetChannel;

impl Func for QueueGetChannel {
    fn name(&self) -> &'static str {
        "QUEUE_GET_CHANNEL"
    }
    fn synopsis(&self) -> &'static str {
        "Return caller at the specified position in a queue."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_GET_CHANNEL(queuename[,position])"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let pos = match args::nth(&v, 1).trim() {
            "" => 1,
            p => p
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| FuncError::Usage(format!("QUEUE_GET_CHANNEL: <position> parameter must be an integer greater than zero, not '{p}'")))?,
        };
        with_queue(chan, "QUEUE_GET_CHANNEL", args::nth(&v, 0), |q| {
            q.callers
                .get(pos - 1)
                .map(|c| c.channel.clone())
                .unwrap_or_default()
        })
    }
}

struct QueueVariables;

impl Func for QueueVariables {
    fn name(&self) -> &'static str {
        "QUEUE_VARIABLES"
    }
    fn synopsis(&self) -> &'static str {
        "Return Queue information in variables."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_VARIABLES(queuename)"
    }
    fn description(&self) -> &'static str {
        "Makes the following queue variables available: QUEUEMAX, QUEUESTRATEGY, QUEUECALLS, QUEUEHOLDTIME, QUEUECOMPLETED, QUEUEABANDONED, QUEUESRVLEVEL, QUEUESRVLEVELPERF (and QUEUENAME, QUEUETALKTIME). Returns 0."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let vars = with_queue(chan, "QUEUE_VARIABLES", a, |q| queue_variables(q))?;
        for (k, v) in vars {
            chan.vars.set(k, v);
        }
        Ok("0".into())
    }
}

struct QueueWaitingCount;

impl Func for QueueWaitingCount {
    fn name(&self) -> &'static str {
        "QUEUE_WAITING_COUNT"
    }
    fn synopsis(&self) -> &'static str {
        "Count number of calls currently waiting in a queue."
    }
    fn syntax(&self) -> &'static str {
        "QUEUE_WAITING_COUNT([queuename])"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.trim().is_empty() {
            return Ok("0".into());
        }
        with_queue(chan, "QUEUE_WAITING_COUNT", a, |q| {
            q.callers.len().to_string()
        })
    }
}
