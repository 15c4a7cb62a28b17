//! SayUnixTime() and DateTime() (`app_sayunixtime.so`), and the English say-date format
//! ([`date_prompts_en`], `ast_say_date_with_format` for `en`) voicemail's envelopes use too.
//!
//! A format is a string of letters, each saying a part of the time, and quoted sound files
//! played as given (`ABdY 'digits/at' IMp`, the default):
//!
//! | Letter | Says |
//! |---|---|
//! | `A`, `a` | the weekday (`digits/day-0` Sunday … `digits/day-6`) |
//! | `B`, `b`, `h` | the month (`digits/mon-0` … `digits/mon-11`) |
//! | `m` | the month as an ordinal ("third") |
//! | `d`, `e` | the day of the month as an ordinal |
//! | `Y` | the year ("two thousand twenty six"; 1901-1999 as "nineteen …") |
//! | `I`, `l` | the hour, 12-hour clock |
//! | `H`, `k` | the hour, 24-hour clock (`H` says "oh" before 10, `k` only at 0) |
//! | `M`, `N` | the minute ("oh five"; at 0 `M` says "o'clock", `N` "hundred") |
//! | `P`, `p` | "a.m." or "p.m." |
//! | `Q` | "today", "yesterday", "tomorrow", the weekday within a week, else the date |
//! | `q` | as `Q`, but nothing for today |
//! | `R` | `HM`; `T` is `HMS` |
//! | `S` | the seconds |
//!
//! Spaces and tabs are ignored; any other letter is warned about and skipped.

use super::say::{number_prompts_en, ordinal_prompts_en, say_prompts};
use super::{args, App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_sayunixtime.so", "Say time"),
    register: register_app_sayunixtime,
}];

fn register_app_sayunixtime(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(SayUnixTime("SayUnixTime")));
    ctx.register_app(Arc::new(SayUnixTime("DateTime")));
}

/// Asterisk's default say-date format.
pub const DEFAULT_FORMAT: &str = "ABdY 'digits/at' IMp";

/// What a format says for `t`: the prompts, and a warning for each letter it does not know.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Said {
    pub prompts: Vec<String>,
    pub warnings: Vec<String>,
}

/// The prompts for `t` in `format` (English); `now` decides `Q`/`q` (both in `t`'s zone).
pub fn date_prompts_en<Z: TimeZone>(format: &str, t: &DateTime<Z>, now: &DateTime<Z>) -> Said {
    let mut said = Said::default();
    say_format(format, t, now, &mut said);
    said
}

fn say_format<Z: TimeZone>(format: &str, t: &DateTime<Z>, now: &DateTime<Z>, out: &mut Said) {
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let file: String = chars[i + 1..].iter().take_while(|&&c| c != '\'').collect();
            i += file.chars().count() + 2;
            if !file.is_empty() {
                out.prompts.push(file);
            }
            continue;
        }
        if !letter(c, t, now, out) {
            out.warnings.push(format!(
                "Unknown character in datetime format {format}: {c} at pos {i}"
            ));
        }
        i += 1;
    }
}

fn number(n: i64, out: &mut Said) {
    out.prompts.extend(number_prompts_en(n).unwrap_or_default());
}

/// "oh five" below ten, else the number; `zero` for 0.
fn two_digits(n: u32, zero: &str, out: &mut Said) {
    match n {
        0 => out.prompts.push(zero.to_string()),
        1..=9 => {
            out.prompts.push("digits/oh".into());
            out.prompts.push(format!("digits/{n}"));
        }
        n => number(n as i64, out),
    }
}

/// Say one format letter; `false` when it is not one.
fn letter<Z: TimeZone>(c: char, t: &DateTime<Z>, now: &DateTime<Z>, out: &mut Said) -> bool {
    let p = &mut out.prompts;
    match c {
        'A' | 'a' => p.push(format!("digits/day-{}", t.weekday().num_days_from_sunday())),
        'B' | 'b' | 'h' => p.push(format!("digits/mon-{}", t.month0())),
        'm' => p.extend(ordinal_prompts_en(t.month() as i64).unwrap_or_default()),
        'd' | 'e' => p.extend(ordinal_prompts_en(t.day() as i64).unwrap_or_default()),
        'Y' => match t.year() {
            y if y >= 2000 => number(y as i64, out),
            y @ 1901..=1999 => {
                p.push("digits/19".into());
                if y <= 1909 {
                    p.push("digits/oh".into());
                }
                number((y - 1900) as i64, out);
            }
            // 1900 and before: silent on the year.
            _ => {}
        },
        'I' | 'l' => {
            let h = match t.hour() {
                0 => 12,
                h if h > 12 => h - 12,
                h => h,
            };
            p.push(format!("digits/{h}"));
        }
        'H' | 'k' => {
            let h = t.hour();
            if (c == 'H' && h < 10) || h == 0 {
                p.push("digits/oh".into());
            }
            if h > 20 {
                p.push("digits/20".into());
                p.push(format!("digits/{}", h - 20));
            } else if h != 0 {
                p.push(format!("digits/{h}"));
            }
        }
        'M' => two_digits(t.minute(), "digits/oclock", out),
        'N' => two_digits(t.minute(), "digits/hundred", out),
        'S' => two_digits(t.second(), "digits/0", out),
        'P' | 'p' => p.push(
            if t.hour() > 11 {
                "digits/p-m"
            } else {
                "digits/a-m"
            }
            .into(),
        ),
        'Q' | 'q' => relative_day(c == 'Q', t, now, out),
        'R' => say_format("HM", t, now, out),
        'T' => say_format("HMS", t, now, out),
        ' ' | '\t' => {}
        _ => return false,
    }
    true
}

/// `Q`/`q`: how far `t` is from the start of `now`'s day picks what is said.
fn relative_day<Z: TimeZone>(say_today: bool, t: &DateTime<Z>, now: &DateTime<Z>, out: &mut Said) {
    const DAY: i64 = 86_400;
    const MONTH: i64 = 2_628_000;
    const HALF_YEAR: i64 = 15_768_000;
    let since_midnight = now.num_seconds_from_midnight() as i64;
    let beg_today = now.timestamp() - since_midnight;
    let d = t.timestamp() - beg_today;
    let fmt = if d > HALF_YEAR {
        "BdY"
    } else if d > MONTH {
        "Bd"
    } else if d > 6 * DAY {
        "ABd"
    } else if d > 2 * DAY {
        "A"
    } else if d > DAY {
        "'digits/tomorrow'"
    } else if d > 0 {
        if say_today {
            "'digits/today'"
        } else {
            ""
        }
    } else if d > -DAY {
        "'digits/yesterday'"
    } else if d > -6 * DAY {
        "A"
    } else if d > -MONTH {
        "ABd"
    } else if d > -HALF_YEAR {
        "Bd"
    } else {
        "BdY"
    };
    say_format(fmt, t, now, out);
}

/// SayUnixTime's `unixtime`: a whole number of seconds (a fraction is dropped); empty or
/// unreadable is now (`ast_get_time_t`).
pub fn parse_unixtime(s: &str, now: i64) -> i64 {
    let s = s.trim();
    let int = s.split('.').next().unwrap_or("");
    int.parse::<i64>().unwrap_or(now)
}

/// The zone called `name`; the server's zone when empty; UTC when unknown.
pub fn zone(name: &str) -> Tz {
    match name.trim() {
        "" => crate::funcs::time::local_tz(),
        n => n.parse::<Tz>().unwrap_or(Tz::UTC),
    }
}

struct SayUnixTime(&'static str);

#[async_trait]
impl App for SayUnixTime {
    fn name(&self) -> &'static str {
        self.0
    }
    fn synopsis(&self) -> &'static str {
        "Says a specified time in a custom format."
    }
    fn syntax(&self) -> &'static str {
        if self.0 == "DateTime" {
            "DateTime([unixtime[,timezone[,format]]])"
        } else {
            "SayUnixTime([unixtime[,timezone[,format[,options]]]])"
        }
    }
    fn description(&self) -> &'static str {
        "Says the date and time in a specified format. unixtime: seconds since Jan 1, 1970 (may be negative; defaults to now). timezone: a name from /usr/share/zoneinfo (defaults to the server's zone). format: the voicemail.conf say-date format (defaults to ABdY 'digits/at' IMp): A weekday, B month, m month as ordinal, d/e day, Y year, I/l 12-hour, H/k 24-hour, M/N minute, P AM/PM, Q/q today/yesterday/date, R = HM, T = HMS, S seconds, 'file' a sound file. Options: j — the caller may dial digits to jump to that extension (also when SAY_DTMF_INTERRUPT is true). Answers the channel first."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let now = Utc::now();
        let t = parse_unixtime(args::nth(&a, 0), now.timestamp());
        let tz = zone(args::nth(&a, 1));
        let format = match args::nth(&a, 2) {
            "" => DEFAULT_FORMAT,
            f => f,
        };
        let interrupt = args::nth(&a, 3).contains('j') || super::say::dtmf_interrupt(chan);
        let when = tz
            .timestamp_opt(t, 0)
            .single()
            .unwrap_or_else(|| tz.from_utc_datetime(&now.naive_utc()));
        let said = date_prompts_en(format, &when, &now.with_timezone(&tz));
        for w in &said.warnings {
            chan.pbx.warning(&format!("say.c: {w}"));
        }
        if !chan.is_up() {
            chan.answer();
        }
        say_prompts(chan, &said.prompts, interrupt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap_or_else(|| panic!("bad date"))
    }

    fn said(format: &str, t: DateTime<Utc>) -> Vec<String> {
        date_prompts_en(format, &t, &at(2026, 12, 7, 15, 0, 0)).prompts
    }

    #[test]
    fn default_format() {
        // Wednesday March 4th 2026 at 2:05 pm.
        assert_eq!(
            said(DEFAULT_FORMAT, at(2026, 3, 4, 14, 5, 0)),
            [
                "digits/day-3",
                "digits/mon-2",
                "digits/h-4",
                "digits/2",
                "digits/thousand",
                "digits/20",
                "digits/6",
                "digits/at",
                "digits/2",
                "digits/oh",
                "digits/5",
                "digits/p-m"
            ]
        );
    }

    #[test]
    fn hours_minutes_seconds() {
        let t = at(2026, 1, 31, 0, 0, 7);
        assert_eq!(said("IMp", t), ["digits/12", "digits/oclock", "digits/a-m"]);
        assert_eq!(said("H", t), ["digits/oh"]);
        assert_eq!(said("k", t), ["digits/oh"]);
        assert_eq!(said("N", t), ["digits/hundred"]);
        assert_eq!(said("S", t), ["digits/oh", "digits/7"]);
        assert_eq!(said("d", t), ["digits/30", "digits/h-1"]);
        assert_eq!(said("m", t), ["digits/h-1"]);
        let t = at(2026, 1, 31, 23, 45, 0);
        assert_eq!(said("H", t), ["digits/20", "digits/3"]);
        assert_eq!(said("I", t), ["digits/11"]);
        assert_eq!(
            said("R", t),
            ["digits/20", "digits/3", "digits/40", "digits/5"]
        );
        assert_eq!(said("S", t), ["digits/0"]);
        assert_eq!(
            said("H", at(2026, 1, 1, 8, 0, 0)),
            ["digits/oh", "digits/8"]
        );
        assert_eq!(said("k", at(2026, 1, 1, 8, 0, 0)), ["digits/8"]);
        assert_eq!(said("H", at(2026, 1, 1, 20, 0, 0)), ["digits/20"]);
    }

    #[test]
    fn years() {
        assert_eq!(
            said("Y", at(1905, 1, 1, 0, 0, 0)),
            ["digits/19", "digits/oh", "digits/5"]
        );
        assert_eq!(
            said("Y", at(1999, 1, 1, 0, 0, 0)),
            ["digits/19", "digits/90", "digits/9"]
        );
        assert!(said("Y", at(1900, 1, 1, 0, 0, 0)).is_empty());
    }

    #[test]
    fn relative_days() {
        assert_eq!(said("Q", at(2026, 12, 7, 9, 0, 0)), ["digits/today"]);
        assert!(said("q", at(2026, 12, 7, 9, 0, 0)).is_empty());
        assert_eq!(said("q", at(2026, 12, 6, 9, 0, 0)), ["digits/yesterday"]);
        assert_eq!(said("Q", at(2026, 12, 8, 9, 0, 0)), ["digits/tomorrow"]);
        assert_eq!(said("Q", at(2026, 12, 3, 9, 0, 0)), ["digits/day-4"]);
        assert_eq!(
            said("Q", at(2026, 11, 20, 9, 0, 0)),
            ["digits/day-5", "digits/mon-10", "digits/h-20"]
        );
        assert_eq!(
            said("Q", at(2026, 8, 7, 9, 0, 0)),
            ["digits/mon-7", "digits/h-7"]
        );
        assert_eq!(
            said("Q", at(2020, 8, 7, 9, 0, 0))[..2],
            ["digits/mon-7", "digits/h-7"]
        );
    }

    #[test]
    fn quoted_files_and_unknown_letters() {
        let s = date_prompts_en(
            "'vm-received' Z\t'beep'",
            &at(2026, 1, 1, 0, 0, 0),
            &at(2026, 1, 1, 0, 0, 0),
        );
        assert_eq!(s.prompts, ["vm-received", "beep"]);
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains(": Z at pos 14"), "{:?}", s.warnings);
        // An unterminated quote runs to the end.
        assert_eq!(said("'digits/at", at(2026, 1, 1, 0, 0, 0)), ["digits/at"]);
    }

    #[test]
    fn unixtime_argument() {
        assert_eq!(parse_unixtime("", 42), 42);
        assert_eq!(parse_unixtime("100.7", 42), 100);
        assert_eq!(parse_unixtime("-86400", 42), -86400);
        assert_eq!(parse_unixtime("abc", 42), 42);
        assert_eq!(zone("Nowhere/Else"), Tz::UTC);
        assert_eq!(zone("Europe/Paris"), Tz::Europe__Paris);
    }
}
