//! The member applications: AddQueueMember, RemoveQueueMember, PauseQueueMember,
//! UnpauseQueueMember (with AQMSTATUS, RQMSTATUS, PQMSTATUS, UPQMSTATUS), QueueLog and
//! QueueUpdate.

use super::config::MemberConf;
use super::{qlog, queues, MemberError};
use crate::apps::{args, App, AppResult};
use crate::pbx::module::ModuleContext;
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

pub fn register(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(AddQueueMember));
    ctx.register_app(Arc::new(RemoveQueueMember));
    ctx.register_app(Arc::new(PauseQueueMember));
    ctx.register_app(Arc::new(UnpauseQueueMember));
    ctx.register_app(Arc::new(QueueLog));
    ctx.register_app(Arc::new(QueueUpdate));
}

/// The device of a channel (`SIP/1001-0000000a` → `SIP/1001`): the default interface.
fn device_of(chan: &Channel) -> String {
    let n = chan.name();
    n.rsplit_once('-').map_or(n, |(d, _)| d).to_string()
}

struct AddQueueMember;

#[async_trait]
impl App for AddQueueMember {
    app_meta!(
        "AddQueueMember",
        "Dynamically adds queue members.",
        "AddQueueMember(queuename[,interface[,penalty[,options[,membername[,stateinterface[,wrapuptime]]]]]])",
        "Dynamically adds interface to an existing queue. If the interface is already in the queue it will return an error. The interface defaults to the calling channel's device. Sets AQMSTATUS to ADDED, MEMBERALREADY or NOSUCHQUEUE. The per-member wrapuptime is accepted; the queue's wrapuptime applies."
    );

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let queue = args::nth(&a, 0).trim();
        if queue.is_empty() {
            chan.pbx.warning("app_queue.c: AddQueueMember requires an argument (queuename[,interface[,penalty[,options[,membername[,stateinterface]]]]])");
            return Err(crate::pbx::Hangup);
        }
        let interface = match args::nth(&a, 1).trim() {
            "" => device_of(chan),
            i => i.to_string(),
        };
        let spec = format!(
            "{interface},{},{},{}",
            args::nth(&a, 2).trim(),
            args::nth(&a, 4).trim(),
            args::nth(&a, 5).trim()
        );
        let m = match MemberConf::parse(&spec) {
            Ok(m) => m,
            Err(e) => {
                chan.pbx.warning(&format!("app_queue.c: {e}"));
                chan.vars.set("AQMSTATUS", "NOSUCHQUEUE");
                return Ok(());
            }
        };
        let uid = chan.uniqueid().to_string();
        let status = match super::add_member(&chan.pbx, queue, &m, false, "", &uid) {
            Ok(()) => {
                chan.pbx.verbose_line(
                    3,
                    &format!("Added interface '{interface}' to queue '{queue}'"),
                );
                "ADDED"
            }
            Err(MemberError::Exists) => {
                chan.pbx.warning(&format!(
                    "app_queue.c: Unable to add interface '{interface}' to queue '{queue}': Already there"
                ));
                "MEMBERALREADY"
            }
            Err(_) => {
                chan.pbx.warning(&format!(
                    "app_queue.c: Unable to add interface to queue '{queue}': No such queue"
                ));
                "NOSUCHQUEUE"
            }
        };
        chan.vars.set("AQMSTATUS", status);
        Ok(())
    }
}

struct RemoveQueueMember;

#[async_trait]
impl App for RemoveQueueMember {
    app_meta!(
        "RemoveQueueMember",
        "Dynamically removes queue members.",
        "RemoveQueueMember(queuename[,interface])",
        "If the interface is NOT in the queue it will return an error. The interface defaults to the calling channel's device. Sets RQMSTATUS to REMOVED, NOTINQUEUE, NOSUCHQUEUE or NOTDYNAMIC."
    );

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let queue = args::nth(&a, 0).trim();
        if queue.is_empty() {
            chan.pbx.warning(
                "app_queue.c: RemoveQueueMember requires an argument (queuename[,interface])",
            );
            return Err(crate::pbx::Hangup);
        }
        let interface = match args::nth(&a, 1).trim() {
            "" => device_of(chan),
            i => i.to_string(),
        };
        let uid = chan.uniqueid().to_string();
        let status = match super::remove_member(&chan.pbx, queue, &interface, &uid) {
            Ok(()) => {
                chan.pbx.verbose_line(
                    3,
                    &format!("Removed interface '{interface}' from queue '{queue}'"),
                );
                "REMOVED"
            }
            Err(MemberError::NotInQueue | MemberError::Exists) => {
                chan.pbx.verbose_line(
                    3,
                    &format!(
                        "Unable to remove interface '{interface}' from queue '{queue}': Not there"
                    ),
                );
                "NOTINQUEUE"
            }
            Err(MemberError::NoSuchQueue) => {
                chan.pbx.warning(&format!(
                    "app_queue.c: Unable to remove interface from queue '{queue}': No such queue"
                ));
                "NOSUCHQUEUE"
            }
            Err(MemberError::NotDynamic) => {
                chan.pbx.warning(&format!(
                    "app_queue.c: Unable to remove interface from queue '{queue}': '{interface}' is not a dynamic member"
                ));
                "NOTDYNAMIC"
            }
        };
        chan.vars.set("RQMSTATUS", status);
        Ok(())
    }
}

/// PauseQueueMember and UnpauseQueueMember.
async fn pause(chan: &mut Channel, data: &str, paused: bool) -> AppResult {
    let (app, var, ok) = if paused {
        ("PauseQueueMember", "PQMSTATUS", "PAUSED")
    } else {
        ("UnpauseQueueMember", "UPQMSTATUS", "UNPAUSED")
    };
    let a = args::split(data, ',');
    let queue = args::nth(&a, 0).trim();
    let interface = args::nth(&a, 1).trim();
    let reason = args::nth(&a, 3).trim();
    if interface.is_empty() {
        chan.pbx.warning(&format!(
            "app_queue.c: Missing interface argument to {app} ([queuename],interface[,options][,reason])"
        ));
        return Err(crate::pbx::Hangup);
    }
    match super::set_paused(&chan.pbx, queue, interface, paused, reason) {
        Ok(()) => chan.vars.set(var, ok),
        Err(_) => {
            chan.pbx.warning(&format!(
                "app_queue.c: Attempt to {} interface {interface}, not found",
                if paused { "pause" } else { "unpause" }
            ));
            chan.vars.set(var, "NOTFOUND");
        }
    }
    Ok(())
}

struct PauseQueueMember;

#[async_trait]
impl App for PauseQueueMember {
    app_meta!(
        "PauseQueueMember",
        "Pauses a queue member.",
        "PauseQueueMember([queuename],interface[,options[,reason]])",
        "Pauses (blocks calls for) a queue member. The given interface will be paused in the given queue, or in every queue it is a member of when no queue is given. Sets PQMSTATUS to PAUSED or NOTFOUND."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        pause(chan, data, true).await
    }
}

struct UnpauseQueueMember;

#[async_trait]
impl App for UnpauseQueueMember {
    app_meta!(
        "UnpauseQueueMember",
        "Unpauses a queue member.",
        "UnpauseQueueMember([queuename],interface[,options[,reason]])",
        "Unpauses (resumes calls to) a queue member. Sets UPQMSTATUS to UNPAUSED or NOTFOUND."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        pause(chan, data, false).await
    }
}

struct QueueLog;

#[async_trait]
impl App for QueueLog {
    app_meta!(
        "QueueLog",
        "Writes to the queue_log file.",
        "QueueLog(queuename,uniqueid,agent,event[,additionalinfo])",
        "Allows you to write your own events into the queue log."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let (q, uid, agent, event) = (
            args::nth(&a, 0).trim(),
            args::nth(&a, 1).trim(),
            args::nth(&a, 2).trim(),
            args::nth(&a, 3).trim(),
        );
        if q.is_empty() || uid.is_empty() || agent.is_empty() || event.is_empty() {
            chan.pbx.warning("app_queue.c: QueueLog requires arguments (queuename,uniqueid,agent,event[,additionalinfo])");
            return Err(crate::pbx::Hangup);
        }
        let extra = a.get(4..).map(|r| r.join("|")).unwrap_or_default();
        qlog(&chan.pbx, q, uid, agent, event, &extra);
        Ok(())
    }
}

struct QueueUpdate;

#[async_trait]
impl App for QueueUpdate {
    app_meta!(
        "QueueUpdate",
        "Writes to the queue_log file for outbound calls and updates Realtime Data. Is used at h extension to be able to have all the parameters.",
        "QueueUpdate(queue,uniqueid,agent,status,talktime[,params])",
        "Allows you to write Outbound events into the queue log (OUTCALL status|talktime|params). An ANSWER status counts a completed call for the queue and the member whose name is agent."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let (q, uid, agent, status, talk) = (
            args::nth(&a, 0).trim(),
            args::nth(&a, 1).trim(),
            args::nth(&a, 2).trim(),
            args::nth(&a, 3).trim(),
            args::nth(&a, 4).trim(),
        );
        if q.is_empty() || uid.is_empty() || agent.is_empty() || status.is_empty() {
            chan.pbx.warning("app_queue.c: QueueUpdate requires arguments (queue,uniqueid,agent,status,talktime,params[totaltime,callednumber])");
            return Err(crate::pbx::Hangup);
        }
        let params = a.get(5..).map(|r| r.join("|")).unwrap_or_default();
        if status.eq_ignore_ascii_case("ANSWER") {
            if let Some(qs) = queues(&chan.pbx) {
                let mut st = qs.state.lock();
                if let Some(queue) = st.get_mut(q) {
                    queue.record_completed(0, talk.parse().unwrap_or(0));
                    if let Some(m) = queue.members.iter_mut().find(|m| m.membername == agent) {
                        m.calls += 1;
                        m.lastcall = Some(std::time::SystemTime::now());
                    }
                }
            }
        }
        qlog(
            &chan.pbx,
            q,
            uid,
            agent,
            "OUTCALL",
            &format!("{status}|{talk}|{params}"),
        );
        Ok(())
    }
}
