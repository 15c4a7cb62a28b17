//! The logger's commands (Asterisk's `logger.c`): `logger show channels`, `logger reload
//! [<alt-conf>]`, `logger rotate`, `logger set level <level> on|off`, `logger mute`.
//! Reading the configuration and reopening files happen off the async workers.

use super::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use crate::logger::config::Target;
use crate::logger::{Level, Logger};
use std::fmt::Write;
use std::sync::Arc;

pub fn register(r: &CommandRegistry) {
    r.register(Command::new(
        "logger show channels",
        "List configured log channels",
        "Usage: logger show channels\n       List configured logger channels.",
        show_channels,
    ));
    r.register(Command::new(
        "logger reload",
        "Reopens the log files",
        "Usage: logger reload [<alt-conf>]\n       Reloads the logger subsystem state.  Use after restarting syslogd(8) if you are using syslog logging.",
        |c: Ctx| async move {
            if c.args.len() > 1 {
                return Err(CliError::ShowUsage);
            }
            let alt = c.args.first().cloned();
            reload(&c, alt, false, "Failed to reload the logger").await
        },
    ));
    r.register(Command::new(
        "logger rotate",
        "Rotates and reopens the log files",
        "Usage: logger rotate\n       Rotates and Reopens the log files.",
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            reload(
                &c,
                None,
                true,
                "Failed to reload the logger and rotate log files",
            )
            .await
        },
    ));
    r.register(
        Command::new(
            "logger set level",
            "Enables/Disables a specific logging level for this console",
            "Usage: logger set level {DEBUG|TRACE|NOTICE|WARNING|ERROR|VERBOSE|DTMF} {on|off}\n       Set a specific log level to enabled/disabled for this console.",
            set_level,
        )
        .complete_with(|_, args, p| match args.len() {
            0 => filter_prefix(
                Level::ALL.iter().map(|l| l.name().to_string()),
                &p.to_ascii_uppercase(),
            ),
            1 => filter_prefix(["on".to_string(), "off".to_string()], p),
            _ => vec![],
        }),
    );
    r.register(Command::new(
        "logger mute",
        "Toggle logging output to a console",
        "Usage: logger mute\n       Disables logging output to the current console, making it possible to\n       gather information without being disturbed by scrolling lines.",
        |c: Ctx| async move {
            let v = &c.state.verbosity;
            if v.levels_off(c.console) == u32::MAX {
                v.set_levels_off(c.console, 0);
                Ok("Console is not muted anymore.\n".into())
            } else {
                v.set_levels_off(c.console, u32::MAX);
                Ok("Console is muted.\n".into())
            }
        },
    ));
}

/// `logger show channels`, in Asterisk's columns (newest channel first, as Asterisk lists
/// them).
pub fn channels_table(logger: &Logger) -> String {
    let cfg = logger.active();
    let mut out = format!("Logger queue limit: {}\n\n", logger.queue_limit());
    let row = |out: &mut String, a: &str, b: &str, c: &str, d: &str| {
        let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        let _ = write!(
            out,
            "{:<35} {:<8} {:<10} {:<9} ",
            cut(a, 35),
            cut(b, 8),
            cut(c, 10),
            cut(d, 9)
        );
    };
    row(&mut out, "Channel", "Type", "Formatter", "Status");
    out.push_str("Configuration\n");
    row(&mut out, "-------", "----", "---------", "------");
    out.push_str("-------------\n");
    for ch in cfg.channels.iter().rev() {
        let (name, kind) = match &ch.target {
            Target::Console => (String::new(), "Console"),
            Target::Syslog { name, .. } => (name.clone(), "Syslog"),
            Target::File(p) => (p.display().to_string(), "File"),
        };
        row(&mut out, &name, kind, "default", "Enabled");
        out.push_str(" - ");
        for l in Level::ALL {
            if ch.takes(l) {
                out.push_str(l.name());
                out.push(' ');
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

async fn show_channels(c: Ctx) -> CliResult {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    Ok(channels_table(&c.state.pbx.logger))
}

async fn reload(c: &Ctx, alt: Option<String>, rotate: bool, failed: &str) -> CliResult {
    let logger: Arc<Logger> = c.state.pbx.logger.clone();
    let r = tokio::task::spawn_blocking(move || logger.reload(alt.as_deref(), rotate))
        .await
        .map_err(|e| CliError::Failure(format!("{failed}: {e}")))?;
    match r {
        Ok(problems) => {
            let mut out = String::new();
            for p in problems {
                let _ = writeln!(out, "ERROR: {p}");
            }
            Ok(out)
        }
        Err(e) => Err(CliError::Failure(format!("{e}\n{failed}"))),
    }
}

async fn set_level(c: Ctx) -> CliResult {
    if c.args.len() < 2 {
        return Err(CliError::ShowUsage);
    }
    let Some(level) =
        Level::from_name(&c.args[0]).filter(|_| !c.args[0].eq_ignore_ascii_case("fax"))
    else {
        return Err(CliError::ShowUsage);
    };
    let on = crate::config::is_true(&c.args[1]);
    c.state.verbosity.set_level(c.console, level, on);
    Ok(format!(
        "Logger status for '{}' has been set to '{}'.\n",
        level.name(),
        if on { "on" } else { "off" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::execute;

    #[tokio::test]
    async fn show_channels_and_set_level() {
        let st = crate::modules::test_state();
        let out = execute(&st, "logger show channels", None).await;
        let want = "Logger queue limit: 1000\n\n\
            Channel                             Type     Formatter  Status    Configuration\n\
            -------                             ----     ---------  ------    -------------\n";
        assert!(out.starts_with(want), "{out}");
        let rows: Vec<&str> = out.lines().skip(4).collect();
        assert!(rows[0].starts_with("/var/log/ferrisk/security "), "{out}");
        assert!(rows[0].contains("/security"), "{out}");
        assert!(
            rows[0].ends_with(" File     default    Enabled    - SECURITY "),
            "{out}"
        );
        assert_eq!(
            rows[1],
            format!(
                "{:<35} Console  default    Enabled    - NOTICE WARNING ERROR VERBOSE ",
                ""
            )
        );
        assert!(out.ends_with("\n\n"));

        let out = execute(&st, "logger set level warning off", Some(7)).await;
        assert_eq!(out, "Logger status for 'WARNING' has been set to 'off'.\n");
        assert_eq!(st.verbosity.levels_off(Some(7)), Level::Warning.bit());
        execute(&st, "logger set level WARNING on", Some(7)).await;
        assert_eq!(st.verbosity.levels_off(Some(7)), 0);
        let out = execute(&st, "logger set level loud on", None).await;
        assert!(out.starts_with("Usage: logger set level"), "{out}");
        assert_eq!(
            execute(&st, "logger mute", Some(7)).await,
            "Console is muted.\n"
        );
        assert_eq!(st.verbosity.levels_off(Some(7)), u32::MAX);
        assert_eq!(
            execute(&st, "logger mute", Some(7)).await,
            "Console is not muted anymore.\n"
        );
        assert_eq!(st.verbosity.levels_off(Some(7)), 0);
    }
}
