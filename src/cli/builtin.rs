//! Core commands: help, version, uptime, verbosity, stop, reload, settings.

use super::format::uptime_str;
use super::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx, StopMode};
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    for words in ["help", "core show help"] {
        r.register(
            Command::new(
                words,
                "Display help list, or specific help on a command",
                "Usage: help [topic]\n       When called with a topic as an argument, displays usage\n       information on the given command. If called without a\n       topic, it provides a list of commands.",
                help,
            )
            .complete_with(|st, args, partial| {
                let mut v = Vec::new();
                for c in st.pbx.cli.list() {
                    if c.words.len() > args.len()
                        && c.words.iter().zip(args).all(|(a, b)| a.eq_ignore_ascii_case(b))
                    {
                        v.push(c.words[args.len()].clone());
                    }
                }
                filter_prefix(v, partial)
            }),
        );
    }
    r.register(Command::new(
        "core show version",
        "Display version info",
        "Usage: core show version\n       Shows ferrisk version information.",
        |_c: Ctx| async move { Ok(format!("{}\n", version_line())) },
    ));
    r.register(
        Command::new(
            "core show uptime",
            "Show uptime information",
            "Usage: core show uptime [seconds]\n       Shows ferrisk uptime information.\n       The seconds word returns the uptime in seconds only.",
            uptime,
        )
        .complete_with(|_, args, p| {
            if args.is_empty() {
                filter_prefix(["seconds".to_string()], p)
            } else {
                vec![]
            }
        }),
    );
    r.register(Command::new(
        "core set verbose",
        "Set level of verbose chattiness",
        "Usage: core set verbose [atleast] <level> [silent]\n       Sets level of verbose messages to be displayed.\n       0 or off means no messages should be displayed.\n       Equivalent to -v[v[...]] on startup",
        set_verbose,
    ));
    for (words, mode, summary) in [
        (
            "core stop now",
            StopMode::Now,
            "Shut down ferrisk immediately",
        ),
        (
            "core stop gracefully",
            StopMode::Gracefully,
            "Gracefully shut down ferrisk",
        ),
        (
            "core stop when convenient",
            StopMode::WhenConvenient,
            "Shut down ferrisk at empty call volume",
        ),
    ] {
        let usage = format!("Usage: {words}\n       {summary}.");
        r.register(Command::new(
            words,
            summary,
            &usage,
            move |c: Ctx| async move {
                c.state.stop(mode);
                Ok(String::new())
            },
        ));
    }
    r.register(Command::new(
        "core show settings",
        "Show some core settings",
        "Usage: core show settings\n       Show core misc settings",
        settings,
    ));
}

/// `ferrisk 0.1.0 built by user @ host on a x86_64 running linux on 2026-…`.
pub fn version_line() -> String {
    format!(
        "ferrisk {} built by {} @ {} on a {} running {} on {}",
        env!("CARGO_PKG_VERSION"),
        env!("FERRISK_BUILD_USER"),
        env!("FERRISK_BUILD_HOST"),
        std::env::consts::ARCH,
        if std::env::consts::OS == "linux" {
            "Linux"
        } else {
            std::env::consts::OS
        },
        env!("FERRISK_BUILD_DATE")
    )
}

async fn help(c: Ctx) -> CliResult {
    let cmds = c.state.pbx.cli.list();
    if let Some((cmd, n)) = c.state.pbx.cli.find(&c.args) {
        if n == c.args.len() {
            return Ok(super::usage_text(&cmd));
        }
    }
    let mut out = String::new();
    let mut any = false;
    for cmd in &cmds {
        if cmd
            .words
            .iter()
            .zip(&c.args)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
            && cmd.words.len() >= c.args.len()
        {
            any = true;
            let _ = writeln!(out, "{:<30} -- {}", cmd.name(), cmd.summary);
        }
    }
    if !any {
        let _ = writeln!(out, "No such command '{}'.", c.args.join(" "));
    }
    Ok(out)
}

async fn uptime(c: Ctx) -> CliResult {
    let secs_only = match c.arg(0) {
        None => false,
        Some(a) if a.eq_ignore_ascii_case("seconds") => true,
        Some(_) => return Err(CliError::ShowUsage),
    };
    let pbx = c.pbx();
    let up = pbx.started.elapsed().as_secs();
    let rl = pbx.last_reload.lock().0.elapsed().as_secs();
    Ok(if secs_only {
        format!("System uptime: {up}\nLast reload: {rl}\n")
    } else {
        format!(
            "System uptime: {}\nLast reload: {}\n",
            uptime_str(up),
            uptime_str(rl)
        )
    })
}

async fn set_verbose(c: Ctx) -> CliResult {
    let mut args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let atleast = args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case("atleast"));
    if atleast {
        args.remove(0);
    }
    let silent = args
        .last()
        .is_some_and(|a| a.eq_ignore_ascii_case("silent"));
    if silent {
        args.pop();
    }
    let [level] = args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let new: u8 = if level.eq_ignore_ascii_case("off") {
        0
    } else {
        level.parse().map_err(|_| CliError::ShowUsage)?
    };
    let st = &c.state;
    let old = match c.console {
        Some(id) => st.verbosity.console(id),
        None => st.verbosity.root(),
    };
    if atleast && new <= old {
        return Ok(if silent {
            String::new()
        } else {
            format!("Verbosity is at least {old}\n")
        });
    }
    // A remote console's own level, and the daemon's root level (as typed on the daemon).
    if let Some(id) = c.console {
        st.verbosity.set_console(&st.pbx, id, new);
    }
    st.verbosity.set_root(&st.pbx, new);
    if silent {
        return Ok(String::new());
    }
    Ok(verbose_message(old, new))
}

/// Asterisk's reply to `core set verbose`.
pub fn verbose_message(old: u8, new: u8) -> String {
    if new == 0 && old > 0 {
        "Verbosity is now OFF\n".to_string()
    } else if old == new {
        format!("Verbosity is at least {new}\n")
    } else {
        format!("Verbosity was {old} and is now {new}\n")
    }
}

/// What `core show settings` prints that is read from the system (files, limits):
/// gathered off the async workers.
#[derive(Debug, Clone, Default)]
pub struct SystemFacts {
    /// `getrlimit(RLIMIT_NOFILE)` soft limit; `None`: unlimited.
    pub max_files: Option<u64>,
    /// First line of `/proc/sys/kernel/core_pattern`.
    pub core_pattern: Option<String>,
    pub kernel: String,
    pub machine: String,
    pub cwd: String,
    pub user_group: String,
}

impl SystemFacts {
    fn read() -> SystemFacts {
        let line = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|t| t.lines().next().map(str::to_string))
        };
        // SAFETY: getrlimit/getuid/getgid only write the struct we own.
        let (max_files, uid, gid) = unsafe {
            let mut l: libc::rlimit = std::mem::zeroed();
            let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0
                && l.rlim_cur != libc::RLIM_INFINITY
            {
                Some(l.rlim_cur)
            } else {
                None
            };
            (max, libc::getuid(), libc::getgid())
        };
        let name_of = |file: &str, id: u32| {
            std::fs::read_to_string(file)
                .ok()
                .and_then(|t| {
                    t.lines().find_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_string())
                    })
                })
                .unwrap_or_else(|| id.to_string())
        };
        SystemFacts {
            max_files,
            core_pattern: line("/proc/sys/kernel/core_pattern"),
            kernel: line("/proc/sys/kernel/osrelease").unwrap_or_default(),
            machine: std::env::consts::ARCH.to_string(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "Unable to access".into()),
            user_group: format!(
                "{}/{}",
                name_of("/etc/passwd", uid),
                name_of("/etc/group", gid)
            ),
        }
    }
}

async fn settings(c: Ctx) -> CliResult {
    let facts = tokio::task::spawn_blocking(SystemFacts::read)
        .await
        .unwrap_or_default();
    let cur = c
        .console
        .map(|id| c.state.verbosity.console(id))
        .unwrap_or_else(|| c.state.verbosity.root());
    Ok(settings_text(&c, cur, &facts))
}

/// Asterisk's `core show settings` layout, with ferrisk's values.
fn settings_text(c: &Ctx, console_verbosity: u8, facts: &SystemFacts) -> String {
    let pbx = c.pbx();
    let s = &pbx.settings;
    let st = &c.state;
    let fmt_t = |t: std::time::SystemTime| {
        chrono::DateTime::<chrono::Local>::from(t)
            .format("%H:%M:%S")
            .to_string()
    };
    let on = |b: bool| if b { "Enabled" } else { "Disabled" };
    let mut o = String::new();
    let _ = writeln!(o, "\nPBX Core settings\n-----------------");
    let row = |o: &mut String, k: &str, v: &str| {
        let _ = writeln!(o, "  {:<29}{}", format!("{k}:"), v);
    };
    row(
        &mut o,
        "Version",
        &format!("ferrisk {}", env!("CARGO_PKG_VERSION")),
    );
    row(&mut o, "ABI related Build Options", "(none)");
    row(&mut o, "All Build Options", "(none)");
    row(&mut o, "Maximum calls", "Not set");
    row(
        &mut o,
        "Maximum open file handles",
        &facts
            .max_files
            .map_or_else(|| "Unlimited".to_string(), |n| n.to_string()),
    );
    row(
        &mut o,
        "Root console verbosity",
        &st.verbosity.root().to_string(),
    );
    row(
        &mut o,
        "Current console verbosity",
        &console_verbosity.to_string(),
    );
    row(
        &mut o,
        "Debug level",
        &pbx.debug
            .load(std::sync::atomic::Ordering::Relaxed)
            .to_string(),
    );
    row(&mut o, "Trace level", "0");
    row(&mut o, "Dump core on crash", "No");
    if let Some(p) = &facts.core_pattern {
        row(&mut o, "Core dump file", p);
    }
    row(&mut o, "Maximum load average", "0.000000");
    row(&mut o, "Minimum free memory", "0 MB");
    row(&mut o, "Startup time", &fmt_t(pbx.started_wall));
    row(&mut o, "Last reload time", &fmt_t(pbx.last_reload.lock().1));
    row(
        &mut o,
        "System",
        &format!(
            "{}/{} built by {} on {} {}",
            if std::env::consts::OS == "linux" {
                "Linux"
            } else {
                std::env::consts::OS
            },
            facts.kernel,
            env!("FERRISK_BUILD_USER"),
            facts.machine,
            env!("FERRISK_BUILD_DATE")
        ),
    );
    row(&mut o, "System name", &s.systemname);
    row(&mut o, "Default language", "en");
    row(&mut o, "Language prefix", "Enabled");
    row(&mut o, "User name and group", &facts.user_group);
    row(&mut o, "Running directory", &facts.cwd);
    row(&mut o, "Executable includes", on(s.exec_includes));
    let _ = writeln!(o, "\n* Subsystems\n  -------------");
    row(&mut o, "Manager (AMI)", on(!pbx.manager_actions.is_empty()));
    row(&mut o, "Web Manager (AMI/HTTP)", on(false));
    row(
        &mut o,
        "Call data records",
        on(pbx.cdr.enabled.load(std::sync::atomic::Ordering::Relaxed)
            && !pbx.cdr.backend_names().is_empty()),
    );
    row(
        &mut o,
        "Realtime Architecture (ARA)",
        on(!pbx.realtime.config().families.is_empty()),
    );
    let _ = writeln!(o, "\n* Directories\n  -------------");
    let d = |p: &std::path::Path| p.display().to_string();
    row(&mut o, "Configuration file", &d(&s.config_file));
    row(&mut o, "Configuration directory", &d(&s.astetcdir));
    row(&mut o, "Spool directory", &d(&s.astspooldir));
    row(&mut o, "Log directory", &d(&s.astlogdir));
    row(&mut o, "Run/Sockets directory", &d(&s.astrundir));
    row(&mut o, "PID file", &d(&s.pid_path()));
    row(&mut o, "VarLib directory", &d(&s.astdbdir));
    row(&mut o, "Data directory", &d(&s.astdatadir));
    row(&mut o, "ASTDB", &d(&s.astdb_path()));
    row(&mut o, "AGI Scripts directory", &d(&s.astagidir));
    o.push_str("\n\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::execute;

    #[test]
    fn verbose_messages() {
        assert_eq!(verbose_message(0, 3), "Verbosity was 0 and is now 3\n");
        assert_eq!(verbose_message(3, 3), "Verbosity is at least 3\n");
        assert_eq!(verbose_message(3, 0), "Verbosity is now OFF\n");
    }

    #[tokio::test]
    async fn set_verbose_and_uptime() {
        let st = crate::cli::new_state(crate::modules::test_pbx());
        assert_eq!(
            execute(&st, "core set verbose 5", None).await,
            "Verbosity was 0 and is now 5\n"
        );
        assert_eq!(st.pbx.verbose(), 5);
        assert!(execute(&st, "core set verbose x", None)
            .await
            .starts_with("Usage: core set verbose"));
        let up = execute(&st, "core show uptime", None).await;
        assert!(up.starts_with("System uptime: "), "{up}");
        assert!(up.contains("\nLast reload: "));
        let v = execute(&st, "core show version", None).await;
        assert!(v.starts_with("ferrisk 0.1.0 built by "));
        let h = execute(&st, "help database", None).await;
        assert!(h.contains("database put"), "{h}");
    }
}
