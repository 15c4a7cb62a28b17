//! The `agent …` commands, in Asterisk's shapes: `agent show online|all`,
//! `agent show <id>`, `agent logoff <id> [soft]`.

use super::{pool, Phase, Pool};
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    r.register(Command::new(
        "agent show online",
        "Show status of online agents",
        "Usage: agent show online\n       Provides summary information for logged in agents.\n",
        |c: Ctx| async move { show_list(&c, true) },
    ));
    r.register(Command::new(
        "agent show all",
        "Show status of all agents",
        "Usage: agent show all\n       Provides summary information for all agents.\n",
        |c: Ctx| async move { show_list(&c, false) },
    ));
    r.register(Command::new(
        "agent show",
        "Show information about an agent",
        "Usage: agent show <agent-id>\n       Show information about the <agent-id> agent\n",
        |c: Ctx| async move {
            if c.args.len() != 1 {
                return Err(CliError::ShowUsage);
            }
            let Some(p) = pool(c.pbx()) else {
                return Ok(format!("Agent '{}' not found\n", c.args[0]));
            };
            Ok(show_one(&p, &c.args[0]))
        },
    ));
    r.register(Command::new(
        "agent logoff",
        "Sets an agent offline",
        "Usage: agent logoff <agent-id> [soft]\n       Sets an agent as no longer logged in.\n       If 'soft' is specified, do not hangup existing calls.\n",
        |c: Ctx| async move {
            let a = &c.args;
            if a.is_empty() || a.len() > 2 || (a.len() == 2 && !a[1].eq_ignore_ascii_case("soft"))
            {
                return Err(CliError::ShowUsage);
            }
            // `agent logoff Agent/1001` as in older Asterisk, or the bare id.
            let id = a[0].strip_prefix("Agent/").unwrap_or(&a[0]);
            let ok = pool(c.pbx()).is_some_and(|p| p.logoff(id, a.len() == 2));
            Ok(if ok {
                format!("Logging out {}\n", a[0])
            } else {
                String::new()
            })
        },
    ));
}

fn show_list(c: &Ctx, online_only: bool) -> Result<String, CliError> {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    Ok(match pool(c.pbx()) {
        Some(p) => list(&p, online_only),
        None => list(&Pool::default(), online_only),
    })
}

/// `agent show online|all`.
pub fn list(pool: &Pool, online_only: bool) -> String {
    let row = |o: &mut String, a: &str, b: &str, s: &str, ch: &str, t: &str| {
        let _ = writeln!(o, "{a:<8} {b:<20} {s:<11} {ch:<30} {t}");
    };
    let mut o = String::new();
    row(
        &mut o,
        "Agent-ID",
        "Name",
        "State",
        "Channel",
        "Talking with",
    );
    let (mut total, mut logged, mut talking) = (0, 0, 0);
    for (id, a) in pool.agents.lock().iter() {
        total += 1;
        let state = a.devstate().as_str();
        match &a.logged {
            Some(l) => {
                logged += 1;
                let with = match &l.phase {
                    Phase::OnCall { peer, .. } => {
                        talking += 1;
                        peer.as_str()
                    }
                    _ => "",
                };
                row(&mut o, id, &a.conf.fullname, state, &l.channel, with);
            }
            None if !online_only => row(&mut o, id, &a.conf.fullname, state, "", ""),
            None => {}
        }
    }
    let _ = write!(
        o,
        "\nDefined agents: {total}, Logged in: {logged}, Talking: {talking}\n"
    );
    o
}

/// `agent show <id>`.
pub fn show_one(pool: &Pool, id: &str) -> String {
    let agents = pool.agents.lock();
    let Some(a) = agents.get(id) else {
        return format!("Agent '{id}' not found\n");
    };
    let c = &a.conf;
    let mut o = format!(
        "Id: {id}\nName: {}\nBeep: {}\nMOH: {}\nRecordCalls: {}\nState: {}\n",
        c.fullname,
        c.custom_beep,
        c.musiconhold,
        if c.recordagentcalls { "Yes" } else { "No" },
        a.devstate().as_str()
    );
    if let Some(l) = &a.logged {
        let _ = write!(
            o,
            "LoggedInChannel: {}\nLoggedInTime: {}\n",
            l.channel, l.since
        );
        if let Phase::OnCall { peer, since } = &l.phase {
            let _ = write!(o, "TalkingWith: {peer}\nCallStarted: {since}\n");
        }
    }
    o
}
