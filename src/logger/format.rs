//! The shapes of log lines: Asterisk's default formatter for files and syslog, the date
//! with `dateformat`, the source file name a line names. Pure functions.

use super::{Level, Record};
use chrono::{DateTime, Local, Timelike};

/// Replace Asterisk's `%Nq` (N digits of the second's fraction; `%q` = 6) by digits of
/// `nanos`, so that chrono formats the rest.
pub fn expand_q(fmt: &str, nanos: u32) -> String {
    if !fmt.contains('%') {
        return fmt.to_string();
    }
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('%') => {
                chars.next();
                out.push_str("%%");
            }
            Some('q') => {
                chars.next();
                out.push_str(&format!("{:06}", nanos / 1000));
            }
            Some(d @ '1'..='9') => {
                let mut look = chars.clone();
                look.next();
                if look.peek() == Some(&'q') {
                    chars.next();
                    chars.next();
                    let n = d as usize - '0' as usize;
                    let all = format!("{nanos:09}");
                    out.push_str(&all[..n]);
                } else {
                    out.push('%');
                }
            }
            _ => out.push('%'),
        }
    }
    out
}

/// The date of a line with `dateformat` (checked when the configuration was read).
pub fn date(fmt: &str, t: &DateTime<Local>) -> String {
    use std::fmt::Write;
    let f = expand_q(fmt, t.nanosecond() % 1_000_000_000);
    let mut s = String::new();
    if write!(s, "{}", t.format(&f)).is_err() {
        // Unreachable for a checked format; never panic on a log line.
        s = t.format("%b %e %T").to_string();
    }
    s
}

/// `[C-0000002a]`, or nothing.
pub fn callid(id: u32, shown: bool) -> String {
    if id == 0 || !shown {
        String::new()
    } else {
        format!("[C-{id:08x}]")
    }
}

/// A file line, as Asterisk's default formatter writes it:
/// `[Dec  7 02:04:43] WARNING[4242][C-00000001] app_dial.c: message\n`.
pub fn file_line(date: &str, r: &Record, pid: u32, show_callids: bool) -> String {
    let mut s = format!(
        "[{date}] {}[{pid}]{} {}: {}",
        r.level.name(),
        callid(r.callid, show_callids),
        r.file,
        r.msg
    );
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// syslog severity of a level (Asterisk's `ast_syslog_priority_from_loglevel`).
pub fn syslog_severity(l: Level) -> u8 {
    match l {
        Level::Debug | Level::Verbose | Level::Dtmf => 7,
        Level::Trace => 6,
        Level::Notice | Level::Security => 5,
        Level::Warning => 4,
        Level::Error => 3,
    }
}

/// One syslog datagram in the RFC 3164 form glibc's `syslog(3)` sends to `/dev/log`:
/// `<PRI>Dec  7 02:04:43 ferrisk[4242]: WARNING[4242][C-00000001]: app_dial.c: message`.
pub fn syslog_packet(
    facility: u8,
    r: &Record,
    t: &DateTime<Local>,
    pid: u32,
    show_callids: bool,
) -> Vec<u8> {
    let pri = u32::from(facility) * 8 + u32::from(syslog_severity(r.level));
    format!(
        "<{pri}>{} ferrisk[{pid}]: {}[{pid}]{}: {}: {}",
        t.format("%b %e %T"),
        r.level.name(),
        callid(r.callid, show_callids),
        r.file,
        r.msg.trim_end_matches('\n')
    )
    .into_bytes()
}

/// When a message starts with Asterisk's source file (`loader.c: 57 modules…`), that
/// file and the rest.
pub fn split_file_prefix(msg: &str) -> Option<(&str, &str)> {
    let (head, rest) = msg.split_once(": ")?;
    let stem = head.strip_suffix(".c")?;
    (!stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some((head, rest))
}

/// The Asterisk source file that does what the Rust source `path` (`src/apps/dial.rs`)
/// does: `app_dial.c`, `pbx.c`, `chan_sip.c`, …
pub fn asterisk_file(path: &str) -> String {
    let p = path.trim_start_matches("./");
    let p = p.split_once("src/").map_or(p, |(_, r)| r);
    let mut parts = p.split('/');
    let top = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let stem = |s: &str| s.trim_end_matches(".rs").to_string();
    let first = rest.first().map(|s| stem(s)).unwrap_or_default();
    let name = match top {
        "pbx" => match first.as_str() {
            "channel" | "hold" | "media" => "channel".into(),
            "bridge" => "bridge".into(),
            "cdr" => "cdr".into(),
            "module" => "loader".into(),
            "devstate" => "devicestate".into(),
            "manager" => "manager".into(),
            "message" => "message".into(),
            "realtime" => "config".into(),
            "func" => "pbx_functions".into(),
            _ => "pbx".into(),
        },
        "apps" => match first.as_str() {
            "mod" | "" => "pbx_builtins".into(),
            // Verbose() and Log() are what log from basic.rs (Asterisk's app_verbose.c).
            "basic" => "app_verbose".into(),
            a => format!("app_{a}"),
        },
        "funcs" => match first.as_str() {
            "mod" | "" => "pbx_functions".into(),
            f => format!("func_{f}"),
        },
        "channels" => match first.as_str() {
            "local" => "core_local".into(),
            "mod" | "" => "channel".into(),
            c => format!("chan_{c}"),
        },
        "res" => match first.as_str() {
            "mod" | "" => "res".into(),
            r => format!("res_{r}"),
        },
        "voicemail" => "app_voicemail".into(),
        "cdr" => match first.as_str() {
            "csv" => "cdr_csv".into(),
            _ => "cdr".into(),
        },
        "pbx_config" => "pbx_config".into(),
        "manager" => "manager".into(),
        "cli" => "cli".into(),
        "calendar" => "res_calendar".into(),
        "xmpp" => "res_xmpp".into(),
        "sip" => "chan_sip".into(),
        "daemon.rs" | "modules.rs" => "loader".into(),
        "main.rs" => "asterisk".into(),
        "logger" => "logger".into(),
        "config" => "config".into(),
        "dialplan" => "pbx_config".into(),
        "astdb" => "db".into(),
        "media" => "rtp_engine".into(),
        other => stem(other),
    };
    format!("{name}.c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(level: Level, callid: u32, file: &str, msg: &str) -> Record {
        Record {
            level,
            sublevel: 0,
            sys_verbose: 0,
            file: file.into(),
            callid,
            msg: msg.into(),
            time: std::time::SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn dates() {
        let t = Local
            .with_ymd_and_hms(2026, 12, 7, 2, 4, 43)
            .unwrap()
            .with_nanosecond(123_456_789)
            .unwrap();
        assert_eq!(date("%b %e %T", &t), "Dec  7 02:04:43");
        assert_eq!(date("%F %T.%3q", &t), "2026-12-07 02:04:43.123");
        assert_eq!(date("%F %T.%q", &t), "2026-12-07 02:04:43.123456");
        assert_eq!(date("%1q|%%q", &t), "1|%q");
    }

    #[test]
    fn file_lines_are_asterisks() {
        let r = rec(
            Level::Verbose,
            0x2a,
            "pbx.c",
            "Executing [600@internal:1] Echo(\"Local/600@internal-00000000;2\", \"\") in new stack",
        );
        assert_eq!(
            file_line("Dec  7 02:04:43", &r, 42, true),
            "[Dec  7 02:04:43] VERBOSE[42][C-0000002a] pbx.c: Executing [600@internal:1] Echo(\"Local/600@internal-00000000;2\", \"\") in new stack\n"
        );
        assert_eq!(
            file_line("d", &r, 42, false),
            "[d] VERBOSE[42] pbx.c: Executing [600@internal:1] Echo(\"Local/600@internal-00000000;2\", \"\") in new stack\n"
        );
        let w = rec(Level::Warning, 0, "loader.c", "x\n");
        assert_eq!(file_line("d", &w, 1, true), "[d] WARNING[1] loader.c: x\n");
    }

    #[test]
    fn syslog_bytes() {
        let t = Local.with_ymd_and_hms(2026, 12, 7, 2, 4, 43).unwrap();
        let r = rec(Level::Warning, 1, "app_dial.c", "Unable to create channel");
        assert_eq!(
            String::from_utf8(syslog_packet(16, &r, &t, 7, true)).unwrap(),
            "<132>Dec  7 02:04:43 ferrisk[7]: WARNING[7][C-00000001]: app_dial.c: Unable to create channel"
        );
        let e = rec(Level::Error, 0, "pbx.c", "e");
        assert!(String::from_utf8(syslog_packet(19, &e, &t, 7, true))
            .unwrap()
            .starts_with("<155>"));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            split_file_prefix("loader.c: 5 modules"),
            Some(("loader.c", "5 modules"))
        );
        assert_eq!(split_file_prefix("cannot write x: y"), None);
        assert_eq!(split_file_prefix("a b.c: y"), None);
        assert_eq!(asterisk_file("src/apps/dial.rs"), "app_dial.c");
        assert_eq!(asterisk_file("src/pbx/exec.rs"), "pbx.c");
        assert_eq!(asterisk_file("src/channels/sip/mod.rs"), "chan_sip.c");
        assert_eq!(asterisk_file("src/channels/local.rs"), "core_local.c");
        assert_eq!(asterisk_file("src/pbx/module.rs"), "loader.c");
        assert_eq!(asterisk_file("src/res/agi/run.rs"), "res_agi.c");
        assert_eq!(asterisk_file("src/funcs/strings.rs"), "func_strings.c");
        assert_eq!(asterisk_file("src/daemon.rs"), "loader.c");
    }
}
