//! `logger.conf`: `[general]` options and the `[logfiles]` channels, parsed into a
//! [`LoggerConfig`]. Pure: reads a parsed [`ConfigFile`], opens nothing.

use super::Level;
use crate::config::{is_true, ConfigError, ConfigFile};
use std::path::{Path, PathBuf};

/// `rotatestrategy`: what `logger rotate` does with the current files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateStrategy {
    /// Leave the files alone (an external logrotate does it).
    None,
    /// `messages` → the first free `messages.N` (the newest has the highest number).
    Sequential,
    /// `messages.N` → `messages.N+1` for every N, then `messages` → `messages.0`.
    Rotate,
    /// `messages` → `messages.<epoch seconds>`.
    Timestamp,
}

impl RotateStrategy {
    pub fn name(self) -> &'static str {
        match self {
            RotateStrategy::None => "none",
            RotateStrategy::Sequential => "sequential",
            RotateStrategy::Rotate => "rotate",
            RotateStrategy::Timestamp => "timestamp",
        }
    }
}

/// `[general]`.
#[derive(Debug, Clone, PartialEq)]
pub struct General {
    /// strftime format of the date in file lines (`%b %e %T`); `%Nq` is N digits of the
    /// fraction of a second, as Asterisk's.
    pub dateformat: String,
    /// Append `.hostname` to every file name.
    pub appendhostname: bool,
    /// Print `[C-xxxxxxxx]` call ids (`use_callids`, also read as `display_callids`).
    pub use_callids: bool,
    pub queue_log: bool,
    pub queue_log_to_file: bool,
    pub queue_log_name: String,
    pub rotatestrategy: RotateStrategy,
    /// Command run after each file is rotated, `${filename}` substituted.
    pub exec_after_rotate: String,
    /// Log lines waiting for the writer at most (beyond: dropped and counted).
    pub logger_queue_limit: usize,
    /// `custom_levels` names (lower case): accepted in level lists; nothing in ferrisk logs
    /// at them.
    pub custom_levels: Vec<String>,
}

impl Default for General {
    fn default() -> Self {
        General {
            dateformat: "%b %e %T".into(),
            appendhostname: false,
            use_callids: true,
            queue_log: true,
            queue_log_to_file: false,
            queue_log_name: "queue_log".into(),
            rotatestrategy: RotateStrategy::Sequential,
            exec_after_rotate: String::new(),
            logger_queue_limit: 1000,
            custom_levels: Vec::new(),
        }
    }
}

/// Where a channel writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The root console (and the remote consoles).
    Console,
    /// syslog, with this facility code (`local0` = 16).
    Syslog { facility: u8, name: String },
    /// A file, absolute or relative to `astlogdir`.
    File(PathBuf),
}

/// One `[logfiles]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpec {
    /// The name as written (`messages`, `syslog.local0`, `console`).
    pub name: String,
    pub target: Target,
    /// Levels taken ([`Level::bit`]s).
    pub mask: u32,
    /// `verbose(N)`: verbose lines up to N; `None`: up to the consoles' verbosity.
    pub verbosity: Option<u8>,
}

impl ChannelSpec {
    pub fn takes(&self, level: Level) -> bool {
        self.mask & level.bit() != 0
    }
}

/// A whole logger configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggerConfig {
    pub general: General,
    pub channels: Vec<ChannelSpec>,
}

impl LoggerConfig {
    /// What runs without a `logger.conf`: Asterisk's console channel
    /// (`error,warning,notice,verbose`) and, ferrisk's addition, the `security` file
    /// (`security => security`) that fail2ban reads.
    pub fn without_file(logdir: &Path) -> LoggerConfig {
        LoggerConfig {
            general: General::default(),
            channels: vec![
                ChannelSpec {
                    name: "console".into(),
                    target: Target::Console,
                    mask: Level::Error.bit()
                        | Level::Warning.bit()
                        | Level::Notice.bit()
                        | Level::Verbose.bit(),
                    verbosity: None,
                },
                ChannelSpec {
                    name: "security".into(),
                    target: Target::File(logdir.join("security")),
                    mask: Level::Security.bit(),
                    verbosity: None,
                },
            ],
        }
    }
}

/// syslog facility codes by name (Asterisk's `ast_syslog_facility`).
pub fn syslog_facility(name: &str) -> Option<u8> {
    let n = name.to_ascii_lowercase();
    Some(match n.as_str() {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        _ => {
            let d = n.strip_prefix("local")?;
            let d: u8 = d.parse().ok().filter(|d| *d <= 7)?;
            16 + d
        }
    })
}

/// Check a strftime format (chrono's reading, plus Asterisk's `%Nq`).
pub fn check_dateformat(f: &str) -> Result<(), String> {
    let plain = super::format::expand_q(f, 0);
    let bad = chrono::format::StrftimeItems::new(&plain)
        .any(|i| matches!(i, chrono::format::Item::Error));
    if bad {
        Err(format!("dateformat '{f}' is not a valid strftime format"))
    } else {
        Ok(())
    }
}

/// Parse a level list (`notice,warning,verbose(3)`, `*`, `[default]notice`).
fn parse_levels(value: &str, custom: &[String]) -> Result<(u32, Option<u8>), String> {
    let mut v = value.trim();
    if let Some(rest) = v.strip_prefix('[') {
        let Some((fmt, rest)) = rest.split_once(']') else {
            return Err(format!("'{value}': a formatter is written [name]"));
        };
        if !fmt.trim().eq_ignore_ascii_case("default") {
            return Err(format!(
                "formatter '[{fmt}]' is not supported (only [default])"
            ));
        }
        v = rest;
    }
    let mut mask = 0u32;
    let mut verbosity = None;
    for w in v.split(',') {
        let w = w.trim();
        if w.is_empty() {
            continue;
        }
        if w == "*" {
            mask = u32::MAX;
            continue;
        }
        let lw = w.to_ascii_lowercase();
        if let Some(n) = lw.strip_prefix("verbose(") {
            let n = n
                .strip_suffix(')')
                .and_then(|n| n.trim().parse::<u8>().ok())
                .ok_or_else(|| format!("'{w}': expected verbose(<level>), e.g. verbose(3)"))?;
            verbosity = Some(n);
            mask |= Level::Verbose.bit();
            continue;
        }
        match Level::from_name(&lw) {
            Some(l) => mask |= l.bit(),
            // A level of `custom_levels`: nothing logs at it.
            None if custom.contains(&lw) => {}
            None => {
                return Err(format!(
                    "unknown log level '{w}' (expected debug, trace, notice, warning, error, verbose, verbose(<n>), dtmf, fax, security or *)"
                ))
            }
        }
    }
    Ok((mask, verbosity))
}

/// Build the configuration from a parsed `logger.conf`; `logdir` resolves relative file
/// names, `hostname` is appended with `appendhostname`.
pub fn parse(cf: &ConfigFile, logdir: &Path, hostname: &str) -> Result<LoggerConfig, ConfigError> {
    let mut cfg = LoggerConfig::default();
    let g = &mut cfg.general;
    if let Some(sec) = cf.section("general") {
        for e in &sec.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "dateformat" => {
                    check_dateformat(v).map_err(|m| ConfigError::at(&e.loc, m))?;
                    g.dateformat = v.to_string();
                }
                "appendhostname" => g.appendhostname = is_true(v),
                "use_callids" | "display_callids" => g.use_callids = is_true(v),
                "queue_log" => g.queue_log = is_true(v),
                "queue_log_to_file" => g.queue_log_to_file = is_true(v),
                "queue_log_name" => g.queue_log_name = v.to_string(),
                "queue_log_realtime_use_gmt" => {}
                "exec_after_rotate" => g.exec_after_rotate = v.to_string(),
                "rotatestrategy" => {
                    g.rotatestrategy = match v.to_ascii_lowercase().as_str() {
                        "none" => RotateStrategy::None,
                        "sequential" => RotateStrategy::Sequential,
                        "rotate" => RotateStrategy::Rotate,
                        "timestamp" => RotateStrategy::Timestamp,
                        _ => {
                            return Err(ConfigError::at(
                                &e.loc,
                                format!(
                            "rotatestrategy '{v}': expected none, sequential, rotate or timestamp"
                        ),
                            ))
                        }
                    }
                }
                "rotatetimestamp" => {
                    g.rotatestrategy = if is_true(v) {
                        RotateStrategy::Timestamp
                    } else {
                        RotateStrategy::Sequential
                    }
                }
                "logger_queue_limit" => {
                    let n: usize = v.parse().map_err(|_| {
                        ConfigError::at(
                            &e.loc,
                            format!("logger_queue_limit '{v}': expected a number"),
                        )
                    })?;
                    g.logger_queue_limit = n.max(10);
                }
                // Accepted (the names may appear in [logfiles]); nothing in ferrisk logs at
                // a custom level.
                "custom_levels" => {
                    g.custom_levels = v
                        .split(',')
                        .map(|l| l.trim().to_ascii_lowercase())
                        .filter(|l| !l.is_empty())
                        .collect();
                }
                k => {
                    return Err(ConfigError::at(
                        &e.loc,
                        format!("unknown option '{k}' in [general]"),
                    ))
                }
            }
        }
    }
    let host = if cfg.general.appendhostname {
        Some(if hostname.is_empty() {
            "unknown"
        } else {
            hostname
        })
    } else {
        None
    };
    if let Some(sec) = cf.section("logfiles") {
        for e in &sec.entries {
            let name = e.key.trim();
            let (mask, verbosity) = parse_levels(&e.value, &cfg.general.custom_levels)
                .map_err(|m| ConfigError::at(&e.loc, m))?;
            let lname = name.to_ascii_lowercase();
            let (target, mask, verbosity) = if lname == "console" {
                (Target::Console, mask | Level::Verbose.bit(), None)
            } else if lname.starts_with("syslog") {
                let fac = name.split_once('.').map(|(_, f)| f).unwrap_or("local0");
                let fac = if fac.is_empty() { "local0" } else { fac };
                let code = syslog_facility(fac).ok_or_else(|| {
                    ConfigError::at(&e.loc, format!("bad syslog facility '{fac}' (expected local0..local7, user, daemon, auth, …)"))
                })?;
                (
                    Target::Syslog {
                        facility: code,
                        name: name.to_string(),
                    },
                    mask,
                    verbosity,
                )
            } else {
                let mut p = if name.starts_with('/') {
                    PathBuf::from(name)
                } else {
                    logdir.join(name)
                };
                if let Some(h) = host {
                    let mut s = p.into_os_string();
                    s.push(".");
                    s.push(h);
                    p = PathBuf::from(s);
                }
                (Target::File(p), mask, verbosity)
            };
            if cfg
                .channels
                .iter()
                .any(|c| c.target == target && target != Target::Console)
            {
                return Err(ConfigError::at(
                    &e.loc,
                    format!("log channel '{name}' is listed twice"),
                ));
            }
            cfg.channels.push(ChannelSpec {
                name: name.to_string(),
                target,
                mask,
                verbosity,
            });
        }
    }
    for s in &cf.sections {
        let n = s.name.to_ascii_lowercase();
        if n != "general" && n != "logfiles" {
            return Err(ConfigError::at(
                &s.loc,
                format!(
                    "unknown section [{}] (expected [general] and [logfiles])",
                    s.name
                ),
            ));
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn cfg(text: &str) -> Result<LoggerConfig, ConfigError> {
        let cf = load_str(
            Path::new("/etc"),
            "logger.conf",
            text,
            &LoadOptions::default(),
        )?;
        parse(&cf, Path::new("/var/log/ferrisk"), "pbx1")
    }

    #[test]
    fn sample_like_file() {
        let c = cfg("[general]\ndateformat=%F %T.%3q\nrotatestrategy=rotate\nexec_after_rotate=gzip -9 ${filename}.2\nuse_callids=no\nqueue_log=no\n\
             [logfiles]\nconsole => notice,warning,error\nmessages => notice,warning,error\nfull => notice,warning,error,verbose(3),dtmf\n\
             security => security\n/tmp/abs.log => *\nsyslog.local3 => warning,error\n")
            .unwrap();
        assert_eq!(c.general.dateformat, "%F %T.%3q");
        assert_eq!(c.general.rotatestrategy, RotateStrategy::Rotate);
        assert!(!c.general.use_callids && !c.general.queue_log);
        assert_eq!(c.channels.len(), 6);
        let con = &c.channels[0];
        assert_eq!(con.target, Target::Console);
        assert!(con.takes(Level::Verbose) && con.takes(Level::Notice) && !con.takes(Level::Dtmf));
        assert_eq!(
            c.channels[1].target,
            Target::File("/var/log/ferrisk/messages".into())
        );
        assert!(!c.channels[1].takes(Level::Verbose));
        assert_eq!(c.channels[2].verbosity, Some(3));
        assert!(c.channels[2].takes(Level::Verbose) && c.channels[2].takes(Level::Dtmf));
        assert!(c.channels[3].takes(Level::Security) && !c.channels[3].takes(Level::Error));
        assert_eq!(c.channels[4].target, Target::File("/tmp/abs.log".into()));
        assert!(c.channels[4].takes(Level::Debug) && c.channels[4].takes(Level::Security));
        assert_eq!(
            c.channels[5].target,
            Target::Syslog {
                facility: 19,
                name: "syslog.local3".into()
            }
        );
    }

    #[test]
    fn defaults_and_hostname() {
        let c =
            cfg("[general]\nappendhostname=yes\n[logfiles]\nmessages => notice\nsyslog => error\n")
                .unwrap();
        assert_eq!(c.general.dateformat, "%b %e %T");
        assert_eq!(c.general.rotatestrategy, RotateStrategy::Sequential);
        assert!(c.general.use_callids && c.general.queue_log);
        assert_eq!(c.general.queue_log_name, "queue_log");
        assert_eq!(
            c.channels[0].target,
            Target::File("/var/log/ferrisk/messages.pbx1".into())
        );
        assert!(matches!(
            c.channels[1].target,
            Target::Syslog { facility: 16, .. }
        ));
        let none = LoggerConfig::without_file(Path::new("/l"));
        assert_eq!(none.channels.len(), 2);
        assert_eq!(none.channels[1].target, Target::File("/l/security".into()));
    }

    #[test]
    fn errors_name_the_place() {
        let e = cfg("[general]\n[logfiles]\nmessages => notice,warnings\n").unwrap_err();
        assert_eq!(
            e.to_string().split(": ").next(),
            Some("logger.conf:3:1"),
            "{e}"
        );
        assert!(e.msg.contains("unknown log level 'warnings'"), "{e}");
        let e = cfg("[general]\nrotatestrategy = daily\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("logger.conf:2:1: rotatestrategy 'daily'"),
            "{e}"
        );
        let e = cfg("[logfiles]\nsyslog.local9 => error\n").unwrap_err();
        assert!(e.msg.contains("bad syslog facility 'local9'"), "{e}");
        let e = cfg("[logfiles]\nfull => verbose(x)\n").unwrap_err();
        assert!(e.msg.contains("verbose(<level>)"), "{e}");
        let e = cfg("[general]\ndateformat = %Q%!\n").unwrap_err();
        assert!(e.msg.contains("dateformat"), "{e}");
        assert!(cfg("[logfiles]\nfull => verbose,trace,fax\n").is_ok());
    }

    #[test]
    fn custom_levels_are_accepted_in_level_lists() {
        let c = cfg("[general]\ncustom_levels = foobar, Compliance\n[logfiles]\naudit => compliance,warning\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.general.custom_levels, ["foobar", "compliance"]);
        assert_eq!(c.channels.len(), 1);
        // Without custom_levels the name is still unknown.
        assert!(cfg("[logfiles]\naudit => compliance\n").is_err());
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;

    #[test]
    fn etc_logger_conf_loads() {
        let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc");
        let cf = crate::config::load(&etc, "logger.conf", &Default::default()).unwrap();
        let c = parse(&cf, Path::new("/l"), "h").unwrap();
        let names: Vec<&str> = c.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["console", "messages", "full", "security"]);
        assert_eq!(c.channels[2].verbosity, Some(3));
    }
}
