//! The manager's CLI commands, with Asterisk's layouts: `manager show connected`,
//! `manager show users`, `manager show user <name>`, `manager show commands`,
//! `manager show command <action>`, `manager show settings`, `manager reload`.

use super::Shared;
use crate::pbx::cli::{filter_prefix, CliError, Command, Ctx};
use crate::pbx::manager::class;
use crate::pbx::module::{ModuleContext, Reload};
use std::fmt::Write;
use std::sync::Arc;

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

pub fn register(ctx: &ModuleContext, shared: Arc<Shared>) {
    let sh = shared.clone();
    ctx.register_cli(Command::new(
        "manager show connected",
        "List connected manager interface users",
        "Usage: manager show connected\n  Prints a listing of the users that are currently connected to the\nAsterisk manager interface.",
        move |_c: Ctx| {
            let sh = sh.clone();
            async move {
                let mut out = String::new();
                let _ = writeln!(
                    out,
                    "  {:<15.15}  {:<55.55}  {:<10.10}  {:<10.10}  {:<8.8}  {:<8.8}  {:<10.10}  {:<10.10}",
                    "Username", "IP Address", "Start", "Elapsed", "FileDes", "HttpCnt", "ReadPerms", "WritePerms"
                );
                let conns = sh.connections();
                let mut n = 0;
                for c in conns.iter().filter(|c| c.user.is_some()) {
                    n += 1;
                    let start = c
                        .since_wall
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    let _ = writeln!(
                        out,
                        "  {:<15.15}  {:<55.55}  {:<10}  {:<10}  {:<8}  {:<8}  {:<10x}  {:<10x}",
                        c.user.as_deref().unwrap_or(""),
                        c.addr.ip().to_string(),
                        start,
                        c.since.elapsed().as_secs(),
                        "-",
                        0,
                        c.read,
                        c.write
                    );
                }
                let _ = writeln!(out, "{n} users connected.");
                Ok(out)
            }
        },
    ));
    let sh = shared.clone();
    ctx.register_cli(Command::new(
        "manager show users",
        "List configured manager users",
        "Usage: manager show users\n       Prints a listing of all managers that are currently configured on that\n system.",
        move |_c: Ctx| {
            let sh = sh.clone();
            async move {
                let conf = sh.conf();
                if conf.users.is_empty() {
                    return Ok("There are no manager users.\n".into());
                }
                let mut out = String::from("\nusername\n--------\n");
                for u in &conf.users {
                    let _ = writeln!(out, "{}", u.name);
                }
                let _ = writeln!(
                    out,
                    "-------------------\n{} manager users configured.",
                    conf.users.len()
                );
                Ok(out)
            }
        },
    ));
    let sh = shared.clone();
    let sh2 = shared.clone();
    ctx.register_cli(
        Command::new(
            "manager show user",
            "Display information on a specific manager user",
            "Usage: manager show user <user>\n       Display all information related to the manager user specified.",
            move |c: Ctx| {
                let sh = sh.clone();
                async move {
                    let name = c.arg(0).ok_or(CliError::ShowUsage)?;
                    let conf = sh.conf();
                    let Some(u) = conf.user(name) else {
                        return Ok(format!("There is no manager called {name}\n"));
                    };
                    let mut out = String::new();
                    let _ = writeln!(out);
                    let _ = writeln!(out, "          username: {}", u.name);
                    let _ = writeln!(
                        out,
                        "            secret: {}",
                        if u.secret.is_empty() { "<Not set>" } else { "<Set>" }
                    );
                    let _ = writeln!(
                        out,
                        "               ACL: {}",
                        if u.acl.is_empty() && u.named_acls.is_empty() { "no" } else { "yes" }
                    );
                    let _ = writeln!(out, "         read perm: {}", class::to_str(u.read));
                    let _ = writeln!(out, "        write perm: {}", class::to_str(u.write));
                    let _ = writeln!(
                        out,
                        "   displayconnects: {}",
                        if u.displayconnects { "yes" } else { "no" }
                    );
                    let _ = writeln!(out, "      writetimeout: {} ms", u.writetimeout);
                    let _ = writeln!(out, "      eventfilters: {}", u.eventfilters.len());
                    Ok(out)
                }
            },
        )
        .complete_with(move |_, args, p| {
            if !args.is_empty() {
                return Vec::new();
            }
            filter_prefix(sh2.conf().users.iter().map(|u| u.name.clone()), p)
        }),
    );
    ctx.register_cli(Command::new(
        "manager show commands",
        "List manager interface commands",
        "Usage: manager show commands\n\tPrints a listing of all the available Asterisk manager interface commands.",
        |c: Ctx| async move {
            let mut out = format!(
                "  {:<15.15}  {:<15.15}  {:<55.55}\n  {:<15.15}  {:<15.15}  {:<55.55}\n",
                "Action", "Privilege", "Synopsis", "------", "---------", "--------"
            );
            for a in c.pbx().manager_actions.list() {
                let _ = writeln!(
                    out,
                    "  {:<15.15}  {:<15.15}  {:<55.55}",
                    a.name(),
                    class::to_str(a.privilege()),
                    a.synopsis()
                );
            }
            Ok(out)
        },
    ));
    ctx.register_cli(
        Command::new(
            "manager show command",
            "Show a manager interface command",
            "Usage: manager show command <actionname> [<actionname> [<actionname> [...]]]\n\tShows the detailed description for a specific Asterisk manager interface command.",
            |c: Ctx| async move {
                if c.args.is_empty() {
                    return Err(CliError::ShowUsage);
                }
                let mut out = String::new();
                for name in &c.args {
                    match c.pbx().manager_actions.get(name) {
                        None => {
                            let _ = writeln!(out, "No such command {name}");
                        }
                        Some(a) => {
                            let _ = writeln!(
                                out,
                                "[Synopsis]\n{}\n\n[Description]\n{}\n\n[Privilege]\n{}\n",
                                a.synopsis(),
                                a.description(),
                                class::to_str(a.privilege())
                            );
                        }
                    }
                }
                Ok(out)
            },
        )
        .complete_with(|st, _, p| {
            filter_prefix(
                st.pbx.manager_actions.list().iter().map(|a| a.name().to_string()),
                p,
            )
        }),
    );
    let sh = shared;
    ctx.register_cli(Command::new(
        "manager show settings",
        "Show manager global settings",
        "Usage: manager show settings\n       Provides detailed list of the configuration of the Manager.",
        move |_c: Ctx| {
            let sh = sh.clone();
            async move {
                let g = sh.conf().general.clone();
                let mut out = String::from("\nGlobal Settings:\n----------------\n");
                let mut row = |k: &str, v: String| {
                    let _ = writeln!(out, "  {:<25.25}  {}", k, v);
                };
                row("Manager (AMI):", yes_no(g.enabled).into());
                row("Web Manager (AMI/HTTP):", "No".into());
                row("TCP Bindaddress:", format!("{}:{}", g.bindaddr, g.port));
                row("HTTP Timeout (seconds):", "60".into());
                row("TLS Enable:", "No".into());
                row("Auth timeout (seconds):", g.authtimeout.to_string());
                row("Auth limit:", g.authlimit.to_string());
                row("Display connects:", yes_no(g.displayconnects).into());
                row("Timestamp events:", yes_no(g.timestampevents).into());
                row(
                    "Listening:",
                    sh.listening().map_or("No".into(), |a| a.to_string()),
                );
                Ok(out)
            }
        },
    ));
    ctx.register_cli(Command::new(
        "manager reload",
        "Reload manager configurations",
        "Usage: manager reload\n       Reloads the manager configuration.",
        |c: Ctx| async move {
            match c.pbx().modules.reload("manager").await {
                Some(Reload::Failed(t)) => Err(CliError::Failure(t)),
                Some(Reload::Done(t)) => Ok(t),
                _ => Ok(String::new()),
            }
        },
    ));
}
