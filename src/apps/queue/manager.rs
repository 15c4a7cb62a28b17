//! The AMI actions of `app_queue.so`: QueueStatus, QueueSummary, QueueAdd, QueueRemove,
//! QueuePause, QueuePenalty, QueueMemberRingInUse, QueueReload, QueueReset, as Asterisk
//! answers them.

use super::config::MemberConf;
use super::{queues, refresh_states, MemberError, MemberValue};
use crate::manager::actions::list;
use crate::pbx::devstate::DeviceState;
use crate::pbx::manager::{class, Action, Caller, Message, Reply};
use crate::pbx::module::ModuleContext;
use crate::pbx::Pbx;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

pub fn register(ctx: &ModuleContext) {
    ctx.register_manager_action(Arc::new(QueueStatus));
    ctx.register_manager_action(Arc::new(QueueSummary));
    ctx.register_manager_action(Arc::new(QueueAdd));
    ctx.register_manager_action(Arc::new(QueueRemove));
    ctx.register_manager_action(Arc::new(QueuePause));
    ctx.register_manager_action(Arc::new(QueuePenalty));
    ctx.register_manager_action(Arc::new(QueueMemberRingInUse));
    ctx.register_manager_action(Arc::new(QueueReload));
    ctx.register_manager_action(Arc::new(QueueReset));
}

fn epoch(t: Option<SystemTime>) -> String {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
        .to_string()
}

fn free(m: &super::state::Member) -> bool {
    !m.paused
        && matches!(
            m.effective_status(),
            DeviceState::NotInUse | DeviceState::Unknown
        )
}

struct QueueStatus;

#[async_trait]
impl Action for QueueStatus {
    fn name(&self) -> &'static str {
        "QueueStatus"
    }
    fn privilege(&self) -> u32 {
        0
    }
    fn synopsis(&self) -> &'static str {
        "Show queue status."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let member = req.value("Member").to_string();
        let out = each_queue(pbx, req, |q, now, out| {
            let c = &q.conf;
            let sl = |n: u32, d: u32| {
                if d > 0 {
                    format!("{:.1}", 100.0 * f64::from(n) / f64::from(d))
                } else {
                    "0.0".into()
                }
            };
            out.push(
                Message::event("QueueParams", Some(req))
                    .with("Queue", c.name.clone())
                    .with("Max", c.maxlen.to_string())
                    .with("Strategy", c.strategy.as_str())
                    .with("Calls", q.callers.len().to_string())
                    .with("Holdtime", q.holdtime.to_string())
                    .with("TalkTime", q.talktime.to_string())
                    .with("Completed", q.completed.to_string())
                    .with("Abandoned", q.abandoned.to_string())
                    .with("ServiceLevel", c.servicelevel.to_string())
                    .with("ServicelevelPerf", sl(q.completed_in_sl, q.completed))
                    .with(
                        "ServicelevelPerf2",
                        sl(
                            q.completed_in_sl + q.abandoned_in_sl,
                            q.completed + q.abandoned,
                        ),
                    )
                    .with("Weight", c.weight.to_string()),
            );
            for m in &q.members {
                if !member.is_empty()
                    && !m.interface.eq_ignore_ascii_case(&member)
                    && !m.membername.eq_ignore_ascii_case(&member)
                {
                    continue;
                }
                out.push(
                    Message::event("QueueMember", Some(req))
                        .with("Queue", c.name.clone())
                        .with("Name", m.membername.clone())
                        .with("Location", m.interface.clone())
                        .with("StateInterface", m.state_interface.clone())
                        .with("Membership", if m.dynamic { "dynamic" } else { "static" })
                        .with("Penalty", m.penalty.to_string())
                        .with("CallsTaken", m.calls.to_string())
                        .with("LastCall", epoch(m.lastcall))
                        .with("LastPause", epoch(m.paused.then_some(m.lastpause)))
                        .with("LoginTime", epoch(Some(m.logintime)))
                        .with("InCall", u8::from(m.in_call).to_string())
                        .with("Status", (m.effective_status() as u8).to_string())
                        .with("Paused", u8::from(m.paused).to_string())
                        .with("PausedReason", m.reason_paused.clone())
                        .with("Wrapuptime", c.wrapuptime.to_string()),
                );
            }
            for (i, e) in q.callers.iter().enumerate() {
                out.push(
                    Message::event("QueueEntry", Some(req))
                        .with("Queue", c.name.clone())
                        .with("Position", (i + 1).to_string())
                        .with("Channel", e.channel.clone())
                        .with("Uniqueid", e.uniqueid.clone())
                        .with(
                            "Wait",
                            now.saturating_duration_since(e.start).as_secs().to_string(),
                        )
                        .with("Priority", e.prio.to_string()),
                );
            }
        })
        .await;
        list(req, "Queue status will follow", out, "QueueStatusComplete")
    }
}

/// Run `f` on each queue the request's `Queue` names (every queue when empty), with
/// fresh member states; `f` adds the events.
async fn each_queue(
    pbx: &Arc<Pbx>,
    req: &Message,
    mut f: impl FnMut(&super::state::Queue, Instant, &mut Vec<Message>),
) -> Vec<Message> {
    let want = req.value("Queue").to_string();
    refresh_states(pbx, (!want.is_empty()).then_some(want.as_str())).await;
    let mut out = Vec::new();
    if let Some(qs) = queues(pbx) {
        let st = qs.state.lock();
        let now = Instant::now();
        for q in st.queues.values() {
            if want.is_empty() || q.conf.name.eq_ignore_ascii_case(&want) {
                f(q, now, &mut out);
            }
        }
    }
    out
}

struct QueueSummary;

#[async_trait]
impl Action for QueueSummary {
    fn name(&self) -> &'static str {
        "QueueSummary"
    }
    fn privilege(&self) -> u32 {
        0
    }
    fn synopsis(&self) -> &'static str {
        "Show queue summary."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let out = each_queue(pbx, req, |q, now, out| {
            let logged = q
                .members
                .iter()
                .filter(|m| {
                    !matches!(
                        m.effective_status(),
                        DeviceState::Unavailable | DeviceState::Invalid
                    )
                })
                .count();
            let available = q
                .members
                .iter()
                .filter(|m| free(m) && !m.in_wrapup(q.conf.wrapuptime, now))
                .count();
            let longest = q
                .callers
                .iter()
                .map(|c| now.saturating_duration_since(c.start).as_secs())
                .max()
                .unwrap_or(0);
            out.push(
                Message::event("QueueSummary", Some(req))
                    .with("Queue", q.conf.name.clone())
                    .with("LoggedIn", logged.to_string())
                    .with("Available", available.to_string())
                    .with("Callers", q.callers.len().to_string())
                    .with("HoldTime", q.holdtime.to_string())
                    .with("TalkTime", q.talktime.to_string())
                    .with("LongestHoldTime", longest.to_string()),
            );
        })
        .await;
        list(
            req,
            "Queue summary will follow",
            out,
            "QueueSummaryComplete",
        )
    }
}

struct QueueAdd;

#[async_trait]
impl Action for QueueAdd {
    fn name(&self) -> &'static str {
        "QueueAdd"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Add interface to queue."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (queue, iface) = (req.value("Queue"), req.value("Interface"));
        if queue.is_empty() {
            return vec![Message::error(req, "'Queue' not specified.")];
        }
        if iface.is_empty() {
            return vec![Message::error(req, "'Interface' not specified.")];
        }
        let spec = format!(
            "{iface},{},{},{}",
            req.value("Penalty"),
            req.value("MemberName"),
            req.value("StateInterface")
        );
        let Ok(m) = MemberConf::parse(&spec) else {
            return vec![Message::error(req, "Invalid 'Interface' or 'Penalty'.")];
        };
        let paused = crate::config::is_true(req.value("Paused"));
        let reason = req.value("Reason");
        vec![
            match super::add_member(pbx, queue, &m, paused, reason, "MANAGER") {
                Ok(()) => Message::ack(req, "Added interface to queue"),
                Err(MemberError::Exists) => {
                    Message::error(req, "Unable to add interface: Already there")
                }
                Err(_) => Message::error(req, "Unable to add interface to queue: No such queue"),
            },
        ]
    }
}

struct QueueRemove;

#[async_trait]
impl Action for QueueRemove {
    fn name(&self) -> &'static str {
        "QueueRemove"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Remove interface from queue."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (queue, iface) = (req.value("Queue"), req.value("Interface"));
        if queue.is_empty() || iface.is_empty() {
            return vec![Message::error(
                req,
                "Need 'Queue' and 'Interface' parameters.",
            )];
        }
        vec![match super::remove_member(pbx, queue, iface, "MANAGER") {
            Ok(()) => Message::ack(req, "Removed interface from queue"),
            Err(MemberError::NotInQueue | MemberError::Exists) => {
                Message::error(req, "Unable to remove interface: Not there")
            }
            Err(MemberError::NoSuchQueue) => {
                Message::error(req, "Unable to remove interface from queue: No such queue")
            }
            Err(MemberError::NotDynamic) => Message::error(req, "Member not dynamic"),
        }]
    }
}

struct QueuePause;

#[async_trait]
impl Action for QueuePause {
    fn name(&self) -> &'static str {
        "QueuePause"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Makes a queue member temporarily unavailable."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (iface, paused) = (req.value("Interface"), req.value("Paused"));
        if iface.is_empty() || paused.is_empty() {
            return vec![Message::error(
                req,
                "Need 'Interface' and 'Paused' parameters.",
            )];
        }
        let paused = crate::config::is_true(paused);
        match super::set_paused(pbx, req.value("Queue"), iface, paused, req.value("Reason")) {
            Ok(()) => vec![Message::ack(
                req,
                if paused {
                    "Interface paused successfully"
                } else {
                    "Interface unpaused successfully"
                },
            )],
            Err(_) => vec![Message::error(req, "Interface not found")],
        }
    }
}

struct QueuePenalty;

#[async_trait]
impl Action for QueuePenalty {
    fn name(&self) -> &'static str {
        "QueuePenalty"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Set the penalty for a queue member."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (iface, penalty) = (req.value("Interface"), req.value("Penalty"));
        if iface.is_empty() || penalty.is_empty() {
            return vec![Message::error(
                req,
                "Need 'Interface' and 'Penalty' parameters.",
            )];
        }
        let set = penalty
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|p| *p >= 0)
            .and_then(|p| {
                super::set_member_value(pbx, req.value("Queue"), iface, MemberValue::Penalty(p))
                    .ok()
            });
        vec![match set {
            Some(()) => Message::ack(req, "Interface penalty set successfully"),
            None => Message::error(req, "Invalid interface, queuename or penalty"),
        }]
    }
}

struct QueueMemberRingInUse;

#[async_trait]
impl Action for QueueMemberRingInUse {
    fn name(&self) -> &'static str {
        "QueueMemberRingInUse"
    }
    fn privilege(&self) -> u32 {
        class::AGENT
    }
    fn synopsis(&self) -> &'static str {
        "Set the ringinuse value for a queue member."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (iface, value) = (req.value("Interface"), req.value("RingInUse"));
        if iface.is_empty() || value.is_empty() {
            return vec![Message::error(
                req,
                "Need 'Interface' and 'RingInUse' parameters.",
            )];
        }
        let on = if crate::config::is_true(value) {
            true
        } else if crate::config::is_false(value) {
            false
        } else {
            return vec![Message::error(
                req,
                "'RingInUse' parameter must be a truth value (yes/no, on/off, 0/1, etc)",
            )];
        };
        vec![match super::set_member_value(
            pbx,
            req.value("Queue"),
            iface,
            MemberValue::RingInUse(on),
        ) {
            Ok(()) => Message::ack(req, "Interface ringinuse set successfully"),
            Err(_) => Message::error(req, "Invalid interface, queuename, or ringinuse value"),
        }]
    }
}

struct QueueReload;

#[async_trait]
impl Action for QueueReload {
    fn name(&self) -> &'static str {
        "QueueReload"
    }
    fn privilege(&self) -> u32 {
        0
    }
    fn synopsis(&self) -> &'static str {
        "Reload a queue, queues, or any sub-section of a queue or queues."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let queue = req.value("Queue").to_string();
        let p = pbx.clone();
        let ok = crate::pbx::blocking::run(move || {
            let known = queue.is_empty()
                || super::queues(&p).is_some_and(|qs| qs.state.lock().get(&queue).is_some());
            known && super::reload(&p).is_ok()
        })
        .await
        .unwrap_or(false);
        vec![if ok {
            Message::ack(req, "Queue reloaded successfully")
        } else {
            Message::error(req, "Error encountered while reloading queue")
        }]
    }
}

struct QueueReset;

#[async_trait]
impl Action for QueueReset {
    fn name(&self) -> &'static str {
        "QueueReset"
    }
    fn privilege(&self) -> u32 {
        0
    }
    fn synopsis(&self) -> &'static str {
        "Reset queue statistics."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let queue = req.value("Queue");
        let done = super::queues(pbx).is_some_and(|qs| {
            let mut st = qs.state.lock();
            let mut n = 0;
            for q in st.queues.values_mut() {
                if queue.is_empty() || q.conf.name.eq_ignore_ascii_case(queue) {
                    q.reset_stats();
                    n += 1;
                }
            }
            n > 0
        });
        vec![if done {
            Message::ack(req, "Queue stats reset successfully")
        } else {
            Message::error(req, "Error encountered while resetting queue stats")
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::setup;
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Message {
        let mut m = Message::new();
        for (k, v) in pairs {
            m.push(k, *v);
        }
        m
    }

    fn caller() -> Caller {
        Caller {
            user: "admin".into(),
            addr: "127.0.0.1".into(),
            write: class::ALL,
            later: None,
        }
    }

    #[tokio::test]
    async fn add_pause_status_summary_remove() {
        let (pbx, _qs) = setup("[q]\nmember => Local/a@t,0,Alice\n", "[t]\n");
        let c = caller();
        let r = QueueAdd
            .run(
                &pbx,
                &c,
                &req(&[
                    ("Queue", "q"),
                    ("Interface", "Local/b@t"),
                    ("Penalty", "2"),
                    ("MemberName", "Bob"),
                ]),
            )
            .await;
        assert_eq!(r[0].value("Response"), "Success");
        assert_eq!(r[0].value("Message"), "Added interface to queue");
        let r = QueueAdd
            .run(
                &pbx,
                &c,
                &req(&[("Queue", "q"), ("Interface", "Local/b@t")]),
            )
            .await;
        assert_eq!(
            r[0].value("Message"),
            "Unable to add interface: Already there"
        );
        let r = QueuePause
            .run(
                &pbx,
                &c,
                &req(&[
                    ("Interface", "Local/b@t"),
                    ("Paused", "true"),
                    ("Reason", "lunch"),
                ]),
            )
            .await;
        assert_eq!(r[0].value("Message"), "Interface paused successfully");
        let r = QueueStatus.run(&pbx, &c, &req(&[("Queue", "q")])).await;
        let names: Vec<&str> = r.iter().map(|m| m.value("Event")).collect();
        assert_eq!(
            names,
            [
                "",
                "QueueParams",
                "QueueMember",
                "QueueMember",
                "QueueStatusComplete"
            ]
        );
        assert_eq!(r[3].value("Name"), "Bob");
        assert_eq!(r[3].value("Membership"), "dynamic");
        assert_eq!(r[3].value("Paused"), "1");
        assert_eq!(r[3].value("PausedReason"), "lunch");
        assert_eq!(r[4].value("ListItems"), "3");
        let r = QueueSummary.run(&pbx, &c, &req(&[])).await;
        assert_eq!(r[1].value("Queue"), "q");
        assert_eq!(r[1].value("LoggedIn"), "2");
        assert_eq!(r[1].value("Available"), "1");
        let r = QueueRemove
            .run(
                &pbx,
                &c,
                &req(&[("Queue", "q"), ("Interface", "Local/a@t")]),
            )
            .await;
        assert_eq!(r[0].value("Response"), "Error");
        let r = QueueRemove
            .run(
                &pbx,
                &c,
                &req(&[("Queue", "q"), ("Interface", "Local/b@t")]),
            )
            .await;
        assert_eq!(r[0].value("Message"), "Removed interface from queue");
    }

    #[tokio::test]
    async fn penalty_ringinuse_reset_and_their_events() {
        let (pbx, qs) = setup("[q]\nmember => Local/a@t,0,Alice\n", "[t]\n");
        let mut bus = pbx.events.subscribe(crate::pbx::events::Topic::Module);
        let c = caller();
        let r = QueuePenalty
            .run(
                &pbx,
                &c,
                &req(&[("Interface", "Local/a@t"), ("Penalty", "4")]),
            )
            .await;
        assert_eq!(r[0].value("Message"), "Interface penalty set successfully");
        let ev = bus.try_recv().expect("QueueMemberPenalty");
        assert_eq!(ev.name(), "QueueMemberPenalty");
        assert!(ev
            .fields()
            .contains(&("Penalty".to_string(), "4".to_string())));
        let r = QueuePenalty
            .run(
                &pbx,
                &c,
                &req(&[("Interface", "Local/a@t"), ("Penalty", "-1")]),
            )
            .await;
        assert_eq!(
            r[0].value("Message"),
            "Invalid interface, queuename or penalty"
        );
        let r = QueueMemberRingInUse
            .run(
                &pbx,
                &c,
                &req(&[("Interface", "Local/a@t"), ("RingInUse", "maybe")]),
            )
            .await;
        assert_eq!(r[0].value("Response"), "Error");
        let r = QueueMemberRingInUse
            .run(
                &pbx,
                &c,
                &req(&[
                    ("Interface", "Local/a@t"),
                    ("RingInUse", "no"),
                    ("Queue", "q"),
                ]),
            )
            .await;
        assert_eq!(
            r[0].value("Message"),
            "Interface ringinuse set successfully"
        );
        assert!(!qs.state.lock().get("q").unwrap().members[0].ringinuse);
        assert_eq!(
            bus.try_recv().expect("event").name(),
            "QueueMemberRinginuse"
        );
        qs.state
            .lock()
            .get_mut("q")
            .unwrap()
            .record_completed(10, 20);
        let r = QueueReset.run(&pbx, &c, &req(&[("Queue", "q")])).await;
        assert_eq!(r[0].value("Message"), "Queue stats reset successfully");
        assert_eq!(qs.state.lock().get("q").unwrap().completed, 0);
        let r = QueueReset.run(&pbx, &c, &req(&[("Queue", "nope")])).await;
        assert_eq!(r[0].value("Response"), "Error");
    }
}
