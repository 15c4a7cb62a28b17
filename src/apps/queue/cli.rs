//! The `queue …` commands: `queue show [name]` in Asterisk's shape, `queue add member`,
//! `queue remove member`, `queue pause|unpause member`, `queue reload`.

use super::config::MemberConf;
use super::state::Queue;
use super::{queues, refresh_states, MemberError};
use crate::pbx::blocking;
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use crate::pbx::devstate::DeviceState;
use std::time::{Instant, SystemTime};

pub fn register(r: &CommandRegistry) {
    r.register(Command::new(
        "queue show",
        "Show status of a specified queue",
        "Usage: queue show\n       Provides summary information on a specified queue.\n",
        |c: Ctx| async move {
            if c.args.len() > 1 {
                return Err(CliError::ShowUsage);
            }
            let pbx = c.pbx().clone();
            let Some(qs) = queues(&pbx) else {
                return Ok("No queues.\n".into());
            };
            refresh_states(&pbx, c.arg(0)).await;
            let st = qs.state.lock();
            let now = (Instant::now(), SystemTime::now());
            if let Some(name) = c.arg(0) {
                return Ok(match st.get(name) {
                    Some(q) => print_queue(q, now),
                    None => format!("No such queue: {name}.\n"),
                });
            }
            if st.queues.is_empty() {
                return Ok("No queues.\n".into());
            }
            let mut sorted: Vec<&Queue> = st.queues.values().collect();
            sorted.sort_by(|a, b| a.conf.name.cmp(&b.conf.name));
            Ok(sorted.into_iter().map(|q| print_queue(q, now)).collect())
        },
    ));
    r.register(Command::new(
        "queue add member",
        "Add a channel to a specified queue",
        "Usage: queue add member <dial string> to <queue> [penalty <penalty> [as <membername> [state_interface <interface> [paused <reason>]]]]\n       Add a dial string (Such as a channel,e.g. SIP/6001) to a queue with optionally:  a penalty, membername and a state_interface\n",
        |c: Ctx| async move {
            let a = &c.args;
            let ok = matches!(a.len(), 3 | 5 | 7 | 9 | 11)
                && a[1] == "to"
                && (a.len() < 5 || a[3] == "penalty")
                && (a.len() < 7 || a[5] == "as")
                && (a.len() < 9 || a[7] == "state_interface")
                && (a.len() < 11 || a[9] == "paused");
            if !ok {
                return Err(CliError::ShowUsage);
            }
            let (iface, queue) = (a[0].as_str(), a[2].as_str());
            let penalty = a.get(4).map_or("", String::as_str);
            let name = a.get(6).map_or("", String::as_str);
            let state = a.get(8).map_or("", String::as_str);
            let reason = a.get(10).map(String::as_str);
            let m = MemberConf::parse(&format!("{iface},{penalty},{name},{state}"))
                .map_err(|_| CliError::ShowUsage)?;
            let pbx = c.pbx().clone();
            Ok(
                match super::add_member(&pbx, queue, &m, reason.is_some(), reason.unwrap_or(""), "CLI") {
                    Ok(()) => format!("Added interface '{iface}' to queue '{queue}'\n"),
                    Err(MemberError::Exists) => format!(
                        "Unable to add interface '{iface}' to queue '{queue}': Already there\n"
                    ),
                    Err(_) => {
                        format!("Unable to add interface to queue '{queue}': No such queue\n")
                    }
                },
            )
        },
    ));
    r.register(Command::new(
        "queue remove member",
        "Removes a channel from a specified queue",
        "Usage: queue remove member <channel> from <queue>\n       Remove a specific channel from a queue.\n",
        |c: Ctx| async move {
            let a = &c.args;
            if a.len() != 3 || a[1] != "from" {
                return Err(CliError::ShowUsage);
            }
            let (iface, queue) = (a[0].as_str(), a[2].as_str());
            let pbx = c.pbx().clone();
            Ok(match super::remove_member(&pbx, queue, iface, "CLI") {
                Ok(()) => format!("Removed interface {iface} from queue '{queue}'\n"),
                Err(MemberError::NotInQueue | MemberError::Exists) => format!(
                    "Unable to remove interface '{iface}' from queue '{queue}': Not there\n"
                ),
                Err(MemberError::NoSuchQueue) => {
                    format!("Unable to remove interface from queue '{queue}': No such queue\n")
                }
                Err(MemberError::NotDynamic) => format!(
                    "Unable to remove interface '{iface}' from queue '{queue}': Member is not dynamic\n"
                ),
            })
        },
    ));
    for verb in ["pause", "unpause"] {
        r.register(Command::new(
            &format!("queue {verb} member"),
            if verb == "pause" {
                "Pause a queue member"
            } else {
                "Unpause a queue member"
            },
            "Usage: queue {pause|unpause} member <member> [queue <queue> [reason <reason>]]\n\tPause or unpause a queue member. Not specifying a particular queue\n\twill pause or unpause a member across all queues to which the member\n\tbelongs.\n",
            move |c: Ctx| async move {
                let a = &c.args;
                let ok = matches!(a.len(), 1 | 3 | 5)
                    && (a.len() < 3 || a[1] == "queue")
                    && (a.len() < 5 || a[3] == "reason");
                if !ok {
                    return Err(CliError::ShowUsage);
                }
                let paused = verb == "pause";
                let iface = a[0].as_str();
                let queue = a.get(2).map_or("", String::as_str);
                let reason = a.get(4).map_or("", String::as_str);
                let pbx = c.pbx().clone();
                let done = super::set_paused(&pbx, queue, iface, paused, reason).is_ok();
                let un = if paused { "" } else { "un" };
                let mut out = if done {
                    format!("{un}paused interface '{iface}'")
                } else {
                    format!("Unable to {un}pause interface '{iface}'")
                };
                if !queue.is_empty() {
                    out.push_str(&format!(" in queue '{queue}'"));
                }
                if !reason.is_empty() {
                    out.push_str(&format!(" for reason '{reason}'"));
                }
                out.push('\n');
                Ok(out)
            },
        ));
    }
    r.register(Command::new(
        "queue reload",
        "Reload queues, members, queue rules, or parameters",
        "Usage: queue reload {parameters|members|rules|all} [<queuenames>]\nReload queues. ferrisk re-reads queues.conf whichever is given: queue parameters\nand static members are replaced, dynamic members and statistics are kept.\n",
        |c: Ctx| async move {
            if let Some(w) = c.arg(0) {
                if !["parameters", "members", "rules", "all"].contains(&w) {
                    return Err(CliError::ShowUsage);
                }
            }
            let pbx = c.pbx().clone();
            match blocking::run(move || super::reload(&pbx)).await {
                Some(Ok(())) => Ok(String::new()),
                Some(Err(e)) => Ok(format!("{e}\n")),
                None => Ok(String::new()),
            }
        },
    ));
}

/// One queue as `queue show` prints it (`print_queue`, without the colours).
pub fn print_queue(q: &Queue, (now, wall): (Instant, SystemTime)) -> String {
    let secs = |t: SystemTime| wall.duration_since(t).map_or(0, |d| d.as_secs());
    let c = &q.conf;
    let max = if c.maxlen > 0 {
        c.maxlen.to_string()
    } else {
        "unlimited".into()
    };
    let sl = if q.completed > 0 {
        100.0 * f64::from(q.completed_in_sl) / f64::from(q.completed)
    } else {
        0.0
    };
    let sl2 = if q.completed + q.abandoned > 0 {
        100.0 * f64::from(q.abandoned_in_sl + q.completed_in_sl)
            / f64::from(q.abandoned + q.completed)
    } else {
        0.0
    };
    let mut out = format!(
        "{} has {} calls (max {max}) in '{}' strategy ({}s holdtime, {}s talktime), W:{}, C:{}, A:{}, SL:{sl:.1}%, SL2:{sl2:.1}% within {}s\n",
        c.name,
        q.callers.len(),
        c.strategy.as_str(),
        q.holdtime,
        q.talktime,
        c.weight,
        q.completed,
        q.abandoned,
        c.servicelevel
    );
    if q.members.is_empty() {
        out.push_str("   No Members\n");
    } else {
        out.push_str("   Members: \n");
        for m in &q.members {
            let mut l = format!("      {}", m.membername);
            if !m.membername.eq_ignore_ascii_case(&m.interface) {
                l.push_str(&format!(" ({}", m.interface));
                if !m.state_interface.is_empty() && m.state_interface != m.interface {
                    l.push_str(&format!(" from {}", m.state_interface));
                }
                l.push(')');
            }
            if m.penalty != 0 {
                l.push_str(&format!(" with penalty {}", m.penalty));
            }
            l.push_str(&format!(
                " (ringinuse {})",
                if m.ringinuse { "enabled" } else { "disabled" }
            ));
            if m.dynamic {
                l.push_str(" (dynamic)");
            }
            if m.in_call {
                l.push_str(" (in call)");
            }
            if m.paused {
                l.push_str(&format!(
                    " (paused{}{} was {} secs ago)",
                    if m.reason_paused.is_empty() { "" } else { ":" },
                    m.reason_paused,
                    secs(m.lastpause)
                ));
            }
            let status = m.effective_status();
            l.push_str(&format!(" ({})", devstate_name(status)));
            match (m.calls, m.lastcall) {
                (0, _) | (_, None) => l.push_str(" has taken no calls yet"),
                (n, Some(t)) => l.push_str(&format!(
                    " has taken {n} calls (last was {} secs ago)",
                    secs(t)
                )),
            }
            l.push_str(&format!(" (login was {} secs ago)\n", secs(m.logintime)));
            out.push_str(&l);
        }
    }
    if q.callers.is_empty() {
        out.push_str("   No Callers\n");
    } else {
        out.push_str("   Callers: \n");
        for (i, e) in q.callers.iter().enumerate() {
            let w = now.saturating_duration_since(e.start).as_secs();
            out.push_str(&format!(
                "      {}. {} (wait: {}:{:02}, prio: {})\n",
                i + 1,
                e.channel,
                w / 60,
                w % 60,
                e.prio
            ));
        }
    }
    out.push('\n');
    out
}

/// `ast_devstate2str`: the words `queue show` prints.
fn devstate_name(s: DeviceState) -> &'static str {
    match s {
        DeviceState::Unknown => "Unknown",
        DeviceState::NotInUse => "Not in use",
        DeviceState::InUse => "In use",
        DeviceState::Busy => "Busy",
        DeviceState::Invalid => "Invalid",
        DeviceState::Unavailable => "Unavailable",
        DeviceState::Ringing => "Ringing",
        DeviceState::RingInUse => "Ring+Inuse",
        DeviceState::OnHold => "On Hold",
    }
}
