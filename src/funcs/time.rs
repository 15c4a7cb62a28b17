//! Time functions (Asterisk's `func_strings.c`): STRFTIME and STRPTIME.
//!
//! - `STRFTIME([epoch][,timezone][,format])`: `epoch` defaults to now and may carry a
//!   fraction (`1700000000.25`); `timezone` is a tz database name (empty: the server's
//!   zone); `format` is strftime(3) plus Asterisk's `%q` / `%1q`..`%6q` fractions of a
//!   second (truncated, `%q` = milliseconds). With no format argument at all the format is
//!   `%c` (C locale: `%a %b %e %H:%M:%S %Y`), as in Asterisk's source.
//! - `STRPTIME(datetime,timezone,format)`: parses with strptime(3) rules (missing fields
//!   are those of a zeroed `struct tm`, so the year defaults to 1900) and returns the
//!   epoch of that wall-clock time in `timezone`.
//!
//! An unknown timezone falls back to UTC with a warning (Asterisk silently uses GMT).

use super::strings::{func, meta, scan_double, separate_args};
use super::{Func, FuncError};
use crate::pbx::Channel;
use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// The server's timezone: `TZ`, else `/etc/localtime`'s zoneinfo link, else
/// `/etc/timezone`, else UTC. Read once, when func_strings loads (on the blocking pool), so
/// a STRFTIME in the dialplan never reads a file on an async worker; a change of the host's
/// zone is seen after a restart.
pub fn local_tz() -> Tz {
    static LOCAL: OnceLock<Tz> = OnceLock::new();
    *LOCAL.get_or_init(read_local_tz)
}

fn read_local_tz() -> Tz {
    fn parse(name: &str) -> Option<Tz> {
        name.trim().trim_start_matches(':').parse().ok()
    }
    if let Ok(tz) = std::env::var("TZ") {
        if let Some(t) = parse(&tz) {
            return t;
        }
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime") {
        let s = target.to_string_lossy();
        if let Some(p) = s.find("zoneinfo/") {
            if let Some(t) = parse(&s[p + "zoneinfo/".len()..]) {
                return t;
            }
        }
    }
    if let Ok(s) = std::fs::read_to_string("/etc/timezone") {
        if let Some(t) = parse(&s) {
            return t;
        }
    }
    Tz::UTC
}

/// Resolve a timezone argument: empty = the server's zone.
fn zone(chan: &Channel, name: &str) -> Tz {
    let name = name.trim();
    if name.is_empty() {
        return local_tz();
    }
    match name.parse::<Tz>() {
        Ok(t) => t,
        Err(_) => {
            chan.pbx.warning(&format!(
                "func_strings.c: Unknown timezone '{name}', using UTC"
            ));
            Tz::UTC
        }
    }
}

/// strftime(3) with Asterisk's `%q` extension. Unknown conversions are copied literally.
pub fn strftime<T: TimeZone>(dt: &DateTime<T>, usec: u32, format: &str) -> String
where
    T::Offset: std::fmt::Display,
{
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        // %q, %1q .. %6q: fractions of a second.
        let decimals = match (chars.get(i), chars.get(i + 1)) {
            (Some('q'), _) => Some((3, 1)),
            (Some(d @ '1'..='6'), Some('q')) => Some((*d as usize - '0' as usize, 2)),
            _ => None,
        };
        if let Some((n, used)) = decimals {
            let frac = usec / 10u32.pow(6 - n as u32);
            let _ = write!(out, "{frac:0n$}");
            i += used;
            continue;
        }
        let mut flag = None;
        if let Some(&f) = chars.get(i) {
            if "-_0^#".contains(f) {
                flag = Some(f);
                i += 1;
            }
        }
        // Field widths are not supported by chrono: skip them.
        while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if matches!(chars.get(i), Some('E' | 'O')) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            out.extend(&chars[start..]);
            break;
        };
        i += 1;
        let spec = match flag {
            Some(f @ ('-' | '_' | '0')) => format!("%{f}{conv}"),
            _ => format!("%{conv}"),
        };
        let items: Vec<Item> = StrftimeItems::new(&spec).collect();
        let mut piece = String::new();
        let good = !items.iter().any(|it| matches!(it, Item::Error))
            && write!(piece, "{}", dt.format_with_items(items.iter())).is_ok();
        if !good {
            out.extend(&chars[start..i]);
            continue;
        }
        if flag == Some('^') {
            piece = piece.to_uppercase();
        }
        out.push_str(&piece);
    }
    out
}

func!(
    Strftime,
    "STRFTIME",
    "Returns the current date/time in the specified format.",
    "STRFTIME([epoch][,timezone][,format])",
    "STRFTIME supports all of the same formats as the underlying C function strftime(3). \
     It also supports '%[n]q' - fractions of a second, with leading zeros: '%3q' gives \
     milliseconds and '%1q' tenths of a second (default n=3)."
);

impl Func for Strftime {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 3, true);
        let epoch = a.first().map(String::as_str).unwrap_or("");
        let now = Utc::now();
        let (secs, usec) = match scan_double(epoch).filter(|_| !epoch.is_empty()) {
            Some(e) if e.is_finite() && e.abs() < 1e15 => {
                let s = e.trunc();
                // Rounded: a double cannot hold .05 exactly next to ten integer digits.
                (
                    s as i64,
                    (((e - s) * 1_000_000.0).round() as i64).min(999_999),
                )
            }
            Some(_) => {
                return Err(FuncError::Other(format!("epoch '{epoch}' out of range")));
            }
            None => (now.timestamp(), i64::from(now.timestamp_subsec_micros())),
        };
        // A negative fraction borrows from the seconds, as struct timeval normalises.
        let (secs, usec) = if usec < 0 {
            (secs - 1, usec + 1_000_000)
        } else {
            (secs, usec)
        };
        let Some(utc) = DateTime::<Utc>::from_timestamp(secs, 0) else {
            return Err(FuncError::Other(format!("epoch '{epoch}' out of range")));
        };
        let tz = zone(chan, a.get(1).map(String::as_str).unwrap_or(""));
        let format = a.get(2).map(String::as_str).unwrap_or("%c");
        let out = strftime(
            &utc.with_timezone(&tz),
            usec.clamp(0, 999_999) as u32,
            format,
        );
        if out.is_empty() {
            chan.pbx
                .warning("func_strings.c: C function strftime() output nothing?!!");
        }
        Ok(out)
    }
}

func!(
    Strptime,
    "STRPTIME",
    "Returns the epoch of the arbitrary date/time string structured as described by the format.",
    "STRPTIME(datetime,timezone,format)",
    "This is useful for converting a date into EPOCH time. Example: \
     ${STRPTIME(2006-03-01 07:30:35,America/Chicago,%Y-%m-%d %H:%M:%S)} returns 1141219835"
);

/// The wall-clock time a strptime(3) parse describes, with `struct tm`'s zero defaults.
fn parsed_to_naive(p: &Parsed) -> Option<NaiveDateTime> {
    let year = match (p.year(), p.year_div_100(), p.year_mod_100()) {
        (Some(y), _, _) => y,
        (None, Some(c), Some(m)) => c * 100 + m,
        (None, None, Some(m)) => {
            if m < 69 {
                2000 + m
            } else {
                1900 + m
            }
        }
        (None, Some(c), None) => c * 100,
        (None, None, None) => 1900,
    };
    let month = p.month().unwrap_or(1);
    let hour = p.hour_div_12().unwrap_or(0) * 12 + p.hour_mod_12().unwrap_or(0);
    let date = NaiveDate::from_ymd_opt(year, month, 1)?;
    // tm_mday 0 (no day parsed) is the last day of the previous month.
    let day_offset = i64::from(p.day().unwrap_or(0)) - 1;
    let t = date.and_hms_opt(0, 0, 0)?;
    t.checked_add_signed(Duration::days(day_offset))?
        .checked_add_signed(Duration::hours(i64::from(hour)))?
        .checked_add_signed(Duration::minutes(i64::from(p.minute().unwrap_or(0))))?
        .checked_add_signed(Duration::seconds(i64::from(p.second().unwrap_or(0))))
}

impl Func for Strptime {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            return Err(FuncError::Usage(
                "Asterisk function STRPTIME() requires an argument.".into(),
            ));
        }
        let a = separate_args(args, ',', 3, true);
        let format = a.get(2).map(String::as_str).unwrap_or("");
        if format.is_empty() {
            return Err(FuncError::Usage(
                "No format supplied to STRPTIME(<timestring>,<timezone>,<format>)".into(),
            ));
        }
        let input = a.first().map(String::as_str).unwrap_or("");
        let mut parsed = Parsed::new();
        let ok =
            chrono::format::parse_and_remainder(&mut parsed, input, StrftimeItems::new(format))
                .is_ok();
        let naive = if ok { parsed_to_naive(&parsed) } else { None };
        let epoch = match (ok, parsed.timestamp(), naive) {
            (true, Some(ts), _) => Some(ts),
            (true, None, Some(n)) => {
                let tz = zone(chan, a.get(1).map(String::as_str).unwrap_or(""));
                tz.from_local_datetime(&n)
                    .earliest()
                    .or_else(|| tz.from_local_datetime(&(n + Duration::hours(1))).earliest())
                    .map(|d| d.timestamp())
            }
            _ => None,
        };
        match epoch {
            Some(e) => Ok(e.to_string()),
            None => {
                chan.pbx.warning(
                    "func_strings.c: STRPTIME() found no time specified within the string",
                );
                Ok(String::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::strings::{call, test_chan};
    use super::*;

    fn ok(chan: &mut Channel, name: &str, args: &str) -> String {
        call(chan, name, args).unwrap_or_else(|e| panic!("{name}({args}): {e}"))
    }

    #[test]
    fn strftime_formats() {
        let mut c = test_chan();
        // 2006-03-01 13:30:35 UTC
        let e = "1141219835";
        assert_eq!(
            ok(&mut c, "STRFTIME", &format!("{e},UTC,%Y-%m-%d %H:%M:%S")),
            "2006-03-01 13:30:35"
        );
        assert_eq!(
            ok(
                &mut c,
                "STRFTIME",
                &format!("{e},America/Chicago,%Y-%m-%d %H:%M:%S %Z")
            ),
            "2006-03-01 07:30:35 CST"
        );
        assert_eq!(
            ok(&mut c, "STRFTIME", &format!("{e},UTC")),
            "Wed Mar  1 13:30:35 2006"
        );
        assert_eq!(
            ok(
                &mut c,
                "STRFTIME",
                &format!("{e},Europe/Berlin,%z %a %e %-d %j")
            ),
            "+0100 Wed  1 1 060"
        );
        assert_eq!(
            ok(&mut c, "STRFTIME", &format!("{e},UTC,%s %% %^a")),
            "1141219835 % WED"
        );
        // Unknown conversions are copied.
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,%J!")), "%J!");
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,100%")), "100%");
        // Unknown timezone: UTC.
        assert_eq!(
            ok(&mut c, "STRFTIME", &format!("{e},Mars/Base,%H:%M")),
            "13:30"
        );
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,")), "");
    }

    #[test]
    fn strftime_fractions() {
        let mut c = test_chan();
        let e = "1141219835.123456";
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,%S.%q")), "35.123");
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,%S.%3q")), "35.123");
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,%1q")), "1");
        assert_eq!(ok(&mut c, "STRFTIME", &format!("{e},UTC,%6q")), "123456");
        assert_eq!(ok(&mut c, "STRFTIME", "1141219835,UTC,%3q"), "000");
        assert_eq!(ok(&mut c, "STRFTIME", "1141219835.05,UTC,%2q"), "05");
    }

    #[test]
    fn strftime_now_and_bad_epochs() {
        let mut c = test_chan();
        let year = Utc::now().format("%Y").to_string();
        assert_eq!(ok(&mut c, "STRFTIME", ",UTC,%Y"), year);
        assert_eq!(ok(&mut c, "STRFTIME", "junk,UTC,%Y"), year);
        assert!(!ok(&mut c, "STRFTIME", "").is_empty());
        assert!(call(&mut c, "STRFTIME", "1e300,UTC,%Y").is_err());
        assert_eq!(
            ok(&mut c, "STRFTIME", "-1,UTC,%Y-%m-%d %H:%M:%S"),
            "1969-12-31 23:59:59"
        );
        assert_eq!(ok(&mut c, "STRFTIME", "-0.5,UTC,%S.%1q"), "59.5");
    }

    #[test]
    fn strptime() {
        let mut c = test_chan();
        assert_eq!(
            ok(
                &mut c,
                "STRPTIME",
                "2006-03-01 07:30:35,America/Chicago,%Y-%m-%d %H:%M:%S"
            ),
            "1141219835"
        );
        assert_eq!(
            ok(
                &mut c,
                "STRPTIME",
                "2006-03-01 13:30:35,UTC,%Y-%m-%d %H:%M:%S"
            ),
            "1141219835"
        );
        assert_eq!(ok(&mut c, "STRPTIME", "01/02/70,UTC,%m/%d/%y"), "86400");
        // Trailing text is ignored, as strptime(3) stops where the format ends.
        assert_eq!(
            ok(&mut c, "STRPTIME", "1970-01-02 extra,UTC,%Y-%m-%d"),
            "86400"
        );
        assert_eq!(ok(&mut c, "STRPTIME", "12345,UTC,%s"), "12345");
        // No date: a zeroed struct tm is 1899-12-31.
        assert_eq!(ok(&mut c, "STRPTIME", "00:00,UTC,%H:%M"), "-2209075200");
        assert_eq!(ok(&mut c, "STRPTIME", "garbage,UTC,%Y-%m-%d"), "");
        assert!(matches!(
            call(&mut c, "STRPTIME", "2006-03-01,UTC"),
            Err(FuncError::Usage(m)) if m.contains("No format")
        ));
        assert!(call(&mut c, "STRPTIME", "").is_err());
    }
}
