//! Small formatting helpers shared by the commands (Asterisk's plural rules, uptime text).

/// `""` for 1, `"s"` otherwise (Asterisk's `ESS()`).
pub fn ess(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Asterisk's `print_uptimestr`: `1 hour, 2 minutes, 3 seconds`. As there, a unit is
/// used only when strictly more than one of it is left: 3600 s is `60 minutes`.
pub fn uptime_str(mut secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    const YEAR: u64 = 365 * DAY;
    let mut parts: Vec<String> = Vec::new();
    for (unit, name) in [
        (YEAR, "year"),
        (WEEK, "week"),
        (DAY, "day"),
        (HOUR, "hour"),
        (MINUTE, "minute"),
    ] {
        if secs > unit {
            let x = secs / unit;
            secs -= x * unit;
            parts.push(format!("{x} {name}{}", ess(x)));
        }
    }
    if secs > 0 || parts.is_empty() {
        parts.push(format!("{secs} second{}", ess(secs)));
    }
    parts.join(", ")
}

/// `0h0m5s` (Asterisk's elapsed time in `core show channel`).
pub fn hms(secs: u64) -> String {
    format!("{}h{}m{}s", secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// `00:00:05` (duration column of `core show channels verbose`).
pub fn hms_colon(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Truncate to `n` characters (printf's `%-N.Ns`), then pad.
pub fn col(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    format!("{t:<n$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_text() {
        assert_eq!(uptime_str(0), "0 seconds");
        assert_eq!(uptime_str(1), "1 second");
        assert_eq!(uptime_str(3723), "1 hour, 2 minutes, 3 seconds");
        assert_eq!(uptime_str(3600), "60 minutes");
        assert_eq!(uptime_str(60), "60 seconds");
        assert_eq!(uptime_str(3661), "1 hour, 1 minute, 1 second");
        assert_eq!(uptime_str(86400 * 8 + 60), "1 week, 1 day, 60 seconds");
        assert_eq!(hms(3723), "1h2m3s");
        assert_eq!(col("abcdef", 3), "abc");
        assert_eq!(col("ab", 4), "ab  ");
    }
}
