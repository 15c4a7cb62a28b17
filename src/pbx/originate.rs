//! Originating calls (the Originate application and `channel originate`): create an
//! outbound channel, wait for it to answer, then run an extension or an application on it.

use super::channel::{cause, ChanEvent};
use super::tech as channels;
use super::{exec, CallerId, Channel, Pbx};
use std::sync::Arc;
use std::time::Duration;

/// What the answered channel does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Exten {
        context: String,
        exten: String,
        priority: i32,
    },
    App {
        app: String,
        data: String,
    },
}

/// Options for one origination.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub dest: String,
    pub timeout: Option<Duration>,
    pub vars: Vec<(String, String)>,
    pub caller: Option<CallerId>,
}

/// ORIGINATE_STATUS values.
pub fn status_for_event(ev: &ChanEvent) -> &'static str {
    match ev {
        ChanEvent::Busy => "BUSY",
        ChanEvent::Congestion => "CONGESTION",
        ChanEvent::Hangup(c) if *c == cause::USER_BUSY => "BUSY",
        ChanEvent::Hangup(c)
            if *c == cause::NORMAL_CIRCUIT_CONGESTION || *c == cause::SWITCH_CONGESTION =>
        {
            "CONGESTION"
        }
        ChanEvent::Hangup(_) => "HANGUP",
        _ => "UNKNOWN",
    }
}

/// Create the channel and start calling; `Err(status)` when it cannot be created.
pub fn start(
    pbx: &Arc<Pbx>,
    req: &Request,
    requester: Option<&Channel>,
) -> Result<Channel, &'static str> {
    let out = channels::request(pbx, &req.dest, requester).map_err(|e| {
        pbx.warning(&format!("channel.c: {}", e.msg));
        "FAILED"
    })?;
    let mut chan = out.chan;
    for (k, v) in &req.vars {
        chan.vars.set(k, v.as_str());
    }
    if let Some(c) = &req.caller {
        chan.caller = c.clone();
    }
    (out.call)();
    Ok(chan)
}

/// Wait for the answer; on success start `target` on the channel in its own task.
/// Returns ORIGINATE_STATUS.
pub async fn originate(
    pbx: &Arc<Pbx>,
    req: Request,
    target: Target,
    requester: Option<&Channel>,
) -> &'static str {
    channels::prepare(pbx, &req.dest).await;
    let chan = match start(pbx, &req, requester) {
        Ok(c) => c,
        Err(s) => return s,
    };
    answer_and_run(chan, req.timeout, target).await
}

/// Wait for a started channel to answer (events in order, so an answer followed at once
/// by a hangup still counts as answered), then run `target` on it in its own task.
pub async fn answer_and_run(
    mut chan: Channel,
    timeout: Option<Duration>,
    target: Target,
) -> &'static str {
    let timeout = timeout.unwrap_or(Duration::from_secs(30));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rx = match chan.events.take() {
        Some(rx) => rx,
        None => return "FAILED",
    };
    let mut last = "UNKNOWN";
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ChanEvent::Answer) => break,
                Some(ChanEvent::Ringing) => last = "RINGING",
                Some(ChanEvent::Progress | ChanEvent::Connected(_)) => {}
                Some(ev) => {
                    chan.pbx.verbose_line(2, &format!("Originated channel '{}' was not answered", chan.name()));
                    return status_for_event(&ev);
                }
                None => return "HANGUP",
            },
            _ = tokio::time::sleep_until(deadline) => {
                chan.pbx.verbose_line(2, &format!("Originated channel '{}' was not answered", chan.name()));
                chan.hangup_cause = cause::NO_ANSWER;
                return if last == "RINGING" { "RINGING" } else { "FAILED" };
            }
        }
    }
    chan.events = Some(rx);
    chan.answer();
    match target {
        Target::Exten {
            context,
            exten,
            priority,
        } => {
            chan.context = context;
            chan.exten = exten;
            chan.priority = priority;
            tokio::spawn(exec::run_pbx(chan));
        }
        Target::App { app, data } => {
            tokio::spawn(async move {
                chan.publish(&app, &data);
                if pbx_verbose(&chan) >= 3 {
                    chan.pbx.verbose_line(
                        3,
                        &format!("Launching {}({}) on {}", app, data, chan.name()),
                    );
                }
                let _ = exec::exec_app(&mut chan, &app, &data).await;
                chan.destroy();
            });
        }
    }
    "SUCCESS"
}

fn pbx_verbose(chan: &Channel) -> u8 {
    chan.pbx.verbose()
}
