//! `res_agi.so`: the Asterisk Gateway Interface, as Asterisk 20's res_agi. `AGI(script,…)`
//! starts a program from `astagidir` (or an absolute path) with its standard input and
//! output as the AGI pipe; `AGI(agi://host[:port]/path,…)` talks FastAGI over TCP. The
//! script is sent the `agi_*` environment, then sends commands (ANSWER, STREAM FILE,
//! DATABASE GET, EXEC, GOSUB, …) and reads res_agi's replies. `EAGI` is AGI with
//! `agi_enhanced: 1.0` and the caller's audio on file descriptor 3 (while the script is
//! between commands). CLI: `agi set debug`, `agi show commands [topic …]`.
//!
//! [`protocol`] is the protocol without I/O (environment, quoting, command table, hangup
//! rules), [`commands`] the commands, [`run`] the process and socket edge, [`say`] the
//! date and time prompts. Never blocks a worker: the script runs under `tokio::process`,
//! the AstDB on the blocking pool. hagi:// and AsyncAGI (agi:async) are not supported
//! (docs/agi.md).

pub mod commands;
pub mod protocol;
pub mod run;
pub mod say;

use crate::pbx::app::{App, AppResult};
use crate::pbx::cli::{filter_prefix, CliError, Command, CommandRegistry, Ctx};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, SupportLevel};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The state of the loaded module: `agi set debug`.
#[derive(Default)]
pub struct AgiService {
    pub debug: Arc<AtomicBool>,
}

fn debug_flag(chan: &Channel) -> Arc<AtomicBool> {
    chan.pbx
        .service::<AgiService>()
        .map(|s| s.debug.clone())
        .unwrap_or_default()
}

struct Agi;

#[async_trait]
impl App for Agi {
    fn name(&self) -> &'static str {
        "AGI"
    }
    fn synopsis(&self) -> &'static str {
        "Executes an AGI compliant application."
    }
    fn syntax(&self) -> &'static str {
        "AGI(command|agi://hostname[:port][/script/name],arg1[,arg2[,...]])"
    }
    fn description(&self) -> &'static str {
        "Executes an Asterisk Gateway Interface compliant program on a channel. AGI allows \
         Asterisk to launch external programs written in any language to control a \
         telephony channel, play audio, read DTMF digits, etc. by communicating with the AGI \
         protocol. The program is looked up in astagidir unless its name starts with /. \
         agi://host[:port][/path] connects to a FastAGI server (port 4573 by default). When \
         the channel hangs up the script is sent SIGHUP (FastAGI: the line HANGUP) unless \
         AGISIGHUP is no; with AGIEXITONHANGUP=yes the application returns at once. Sets \
         AGISTATUS to SUCCESS, FAILURE, NOTFOUND or HANGUP; returns -1 (the call ends) only \
         for HANGUP."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let debug = debug_flag(chan);
        run::agi(chan, data, false, debug).await
    }
}

struct DeadAgi;

#[async_trait]
impl App for DeadAgi {
    fn name(&self) -> &'static str {
        "DeadAGI"
    }
    fn synopsis(&self) -> &'static str {
        "Executes AGI on a hungup channel."
    }
    fn syntax(&self) -> &'static str {
        "DeadAGI(command,arg1[,arg2[,...]])"
    }
    fn description(&self) -> &'static str {
        "Deprecated: logs a warning and runs AGI(), which works on hung-up channels too."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        chan.pbx
            .warning("res_agi.c: DeadAGI has been deprecated, please use AGI in all cases!");
        let debug = debug_flag(chan);
        run::agi(chan, data, false, debug).await
    }
}

struct Eagi;

#[async_trait]
impl App for Eagi {
    fn name(&self) -> &'static str {
        "EAGI"
    }
    fn synopsis(&self) -> &'static str {
        "Executes an EAGI compliant application."
    }
    fn syntax(&self) -> &'static str {
        "EAGI(command,arg1[,arg2[,...]])"
    }
    fn description(&self) -> &'static str {
        "Like AGI, with agi_enhanced: 1.0 and the caller's audio (8 kHz signed linear) on \
         file descriptor 3 while the script is between commands. Cannot run on a channel \
         that has hung up."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if chan.check_hangup() {
            chan.pbx
                .error("res_agi.c: EAGI cannot be run on a dead/hungup channel, please use AGI.");
            return Ok(());
        }
        let debug = debug_flag(chan);
        run::agi(chan, data, true, debug).await
    }
}

/// `agi show commands`: the table res_agi prints.
pub fn commands_text(prefix: &[String]) -> String {
    let mut out = format!("{:>5.5} {:>30.30}   {}\n", "Dead", "Command", "Description");
    let want = prefix.join(" ").to_ascii_lowercase();
    for c in protocol::COMMANDS {
        let name = c.words.join(" ");
        if !want.is_empty() && !name.starts_with(&want) {
            continue;
        }
        out.push_str(&format!(
            "{:>5.5} {:>30.30}   {}\n",
            if c.dead { "Yes" } else { "No" },
            name,
            c.summary
        ));
    }
    out
}

/// `agi show commands topic <command>`.
pub fn topic_text(words: &[String]) -> String {
    let full = words.join(" ");
    if let Some(c) = protocol::find_exact(words) {
        let syntax = c
            .usage
            .trim_start()
            .strip_prefix("Usage: ")
            .and_then(|u| u.split('\n').next())
            .unwrap_or("Not available");
        let description = c.usage.split_once('\n').map(|d| d.1.trim()).unwrap_or("");
        return format!(
            "\n  -= Info about AGI '{}' =- \n\n[Synopsis]\n{}\n\n[Since]\nNot available\n\n[Description]\n{}\n\n[Syntax]\n{}\n\n[Arguments]\nNot available\n\n[Runs Dead]\n{}\n\n[See Also]\nNot available\n\n",
            c.words.join(" "),
            c.summary,
            description,
            syntax,
            if c.dead { "Yes" } else { "No" }
        );
    }
    let lower = full.to_ascii_lowercase();
    if protocol::COMMANDS
        .iter()
        .any(|c| c.words.join(" ").starts_with(&lower))
    {
        return commands_text(words);
    }
    format!("No such command '{full}'.\n")
}

fn register_cli(r: &CommandRegistry) {
    r.register(
        Command::new(
            "agi set debug",
            "Enable/Disable AGI debugging",
            "Usage: agi set debug [on|off]\n       Enables/disables dumping of AGI transactions for\n       debugging purposes.",
            |c: Ctx| async move {
                let [v] = c.args.as_slice() else {
                    return Err(CliError::ShowUsage);
                };
                let Some(s) = c.pbx().service::<AgiService>() else {
                    return Ok(String::new());
                };
                let v = v.to_ascii_lowercase();
                if v.starts_with("off") {
                    s.debug.store(false, Ordering::Relaxed);
                } else if v.starts_with("on") {
                    s.debug.store(true, Ordering::Relaxed);
                } else {
                    return Err(CliError::ShowUsage);
                }
                let on = s.debug.load(Ordering::Relaxed);
                Ok(format!("AGI Debugging {}abled\n", if on { "En" } else { "Dis" }))
            },
        )
        .complete_with(|_, a, p| match a.len() {
            0 => filter_prefix(vec!["on".to_string(), "off".to_string()], p),
            _ => vec![],
        }),
    );
    r.register(Command::new(
        "agi show commands",
        "List AGI commands or specific help",
        "Usage: agi show commands [topic] <topic>\n       When called with a topic as an argument, displays usage\n       information on the given command.  If called without a\n       topic, it provides a list of AGI commands.",
        |c: Ctx| async move {
            match c.args.split_first() {
                None => Ok(commands_text(&[])),
                Some((t, rest)) if t.eq_ignore_ascii_case("topic") && !rest.is_empty() => {
                    Ok(topic_text(rest))
                }
                _ => Err(CliError::ShowUsage),
            }
        },
    ));
}

/// `res_agi.so`.
pub struct ResAgi;

#[async_trait]
impl Module for ResAgi {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_agi.so", "Asterisk Gateway Interface (AGI)")
            .support(SupportLevel::Core)
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        ctx.provide(Arc::new(AgiService::default()));
        ctx.register_app(Arc::new(Agi));
        ctx.register_app(Arc::new(Eagi));
        ctx.register_app(Arc::new(DeadAgi));
        ctx.register_cli_with(register_cli);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_commands_table() {
        let t = commands_text(&[]);
        assert!(t.starts_with(" Dead                        Command   Description\n"));
        let row = |dead: &str, cmd: &str, what: &str| {
            format!("{dead:>5} {}{cmd}   {what}\n", " ".repeat(30 - cmd.len()))
        };
        assert!(t.contains(&row("No", "stream file", "Sends audio file on channel.")));
        assert!(t.contains(&row("Yes", "database get", "Gets database value")));
        let db = commands_text(&["database".to_string()]);
        assert_eq!(db.lines().count(), 5);
        let topic = topic_text(&["say".into(), "number".into()]);
        assert!(topic.contains("[Syntax]\nSAY NUMBER <number> <escape_digits> [<gender>]"));
        assert_eq!(topic_text(&["frob".into()]), "No such command 'frob'.\n");
    }
}
