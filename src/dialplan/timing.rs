//! Time conditions `times,weekdays,mdays,months[,timezone]` (Asterisk's `ast_build_timing`
//! / `ast_check_timing`), used by timed includes, `GotoIfTime`, `ExecIfTime` and `IFTIME`.
//!
//! - Fields are separated by `,` or (old style) `|`. Missing trailing fields, empty fields
//!   and `*` mean "any". A fifth field is a timezone name (`Europe/Moscow`); without it the
//!   condition is evaluated in the server's local time.
//! - Each of the first four fields is a list of elements joined with `&`; an element is a
//!   single value or a `start-end` range. Ranges are inclusive and wrap around:
//!   `22:00-06:00` spans midnight, `fri-mon` is Friday to Monday, `nov-feb` spans the new
//!   year, `25-5` spans the month end.
//! - Times are `H:MM` or `HH:MM` with minute resolution; the end minute is included
//!   (`09:00-17:00` holds 17:00 but not 17:01). A single time (`12:00`) is that minute.
//! - Weekdays: `sun mon tue wed thu fri sat` (case-insensitive) or 1-7 (1 = Sunday).
//!   Month days: 1-31. Months: `jan`…`dec` or 1-12.
//!
//! Asterisk logs and skips an invalid element; here it is an error naming the element
//! and what was expected, so a typo cannot silently disable a timed include.
use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MINUTES_PER_DAY: usize = 24 * 60;
const MIN_WORDS: usize = MINUTES_PER_DAY.div_ceil(64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSpec {
    /// As written.
    pub raw: String,
    /// Bit per minute of the day.
    minutes: [u64; MIN_WORDS],
    /// Bit 0 = Sunday.
    weekdays: u8,
    /// Bit 0 = day 1.
    mdays: u32,
    /// Bit 0 = January.
    months: u16,
    /// `None`: server local time.
    tz: Option<Tz>,
}

impl TimeSpec {
    /// Parse `09:00-17:00,mon-fri,*,*[,tz]` (also `|` separated, as old Asterisk).
    pub fn parse(s: &str) -> Result<TimeSpec, String> {
        let fields: Vec<&str> = s.split([',', '|']).map(str::trim).collect();
        if fields.len() > 5 {
            return Err(format!(
                "too many fields in time condition '{s}': expected times,weekdays,monthdays,months[,timezone]"
            ));
        }
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        let tz = match field(4) {
            "" => None,
            name => Some(name.parse::<Tz>().map_err(|_| {
                format!(
                    "unknown timezone '{name}': expected a tz database name such as Europe/London"
                )
            })?),
        };
        Ok(TimeSpec {
            raw: s.to_string(),
            minutes: parse_times(field(0))?,
            weekdays: parse_range(field(1), 7, Some(&DAYS), "weekday")? as u8,
            mdays: parse_range(field(2), 31, None, "day of month")?,
            months: parse_range(field(3), 12, Some(&MONTHS), "month")? as u16,
            tz,
        })
    }

    /// Does `now` fall inside the condition (evaluated in the spec's timezone or local time)?
    pub fn matches(&self, now: DateTime<Utc>) -> bool {
        match self.tz {
            Some(tz) => self.matches_local(&now.with_timezone(&tz)),
            None => self.matches_local(&now.with_timezone(&Local)),
        }
    }

    /// The timezone given as fifth field, if any.
    pub fn timezone(&self) -> Option<Tz> {
        self.tz
    }

    fn matches_local<T: TimeZone>(&self, t: &DateTime<T>) -> bool {
        let minute = (t.hour() * 60 + t.minute()) as usize;
        self.months & (1 << t.month0()) != 0
            && self.mdays & (1 << t.day0()) != 0
            && self.weekdays & (1 << t.weekday().num_days_from_sunday()) != 0
            && self.minutes[minute / 64] & (1 << (minute % 64)) != 0
    }
}

fn parse_hhmm(s: &str) -> Option<usize> {
    let (h, m) = s.trim().split_once(':')?;
    let ok = |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !ok(h) || !ok(m) {
        return None;
    }
    let (h, m): (usize, usize) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn parse_times(s: &str) -> Result<[u64; MIN_WORDS], String> {
    let mut mask = [0u64; MIN_WORDS];
    let mut set = |x: usize| mask[x / 64] |= 1 << (x % 64);
    if s.is_empty() || s == "*" {
        (0..MINUTES_PER_DAY).for_each(&mut set);
        return Ok(mask);
    }
    for part in s.split('&') {
        let bad = || format!("invalid time '{part}': expected HH:MM or HH:MM-HH:MM (or *)");
        match part.split_once('-') {
            None => set(parse_hhmm(part).ok_or_else(bad)?),
            Some((a, b)) => {
                let start = parse_hhmm(a).ok_or_else(bad)?;
                let end = parse_hhmm(b).ok_or_else(bad)?;
                let mut x = start;
                while x != end {
                    set(x);
                    x = (x + 1) % MINUTES_PER_DAY;
                }
                set(end);
            }
        }
    }
    Ok(mask)
}

fn lookup_name(s: &str, max: u32, names: Option<&[&str]>) -> Option<u32> {
    let s = s.trim();
    if let Some(names) = names {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Some(i as u32);
        }
    }
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    (1..=max).contains(&n).then(|| n - 1)
}

fn parse_range(s: &str, max: u32, names: Option<&[&str]>, what: &str) -> Result<u32, String> {
    if s.is_empty() || s == "*" {
        return Ok((1u32 << max) - 1);
    }
    let expected = match names {
        Some(n) => format!("{} or 1-{max}", n.join("/")),
        None => format!("1-{max}"),
    };
    let mut mask = 0u32;
    for part in s.split('&') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let bad = |x: &str| {
            format!(
                "invalid {what} '{}' in '{s}': expected {expected}",
                x.trim()
            )
        };
        let mut start = lookup_name(a, max, names).ok_or_else(|| bad(a))?;
        let end = lookup_name(b, max, names).ok_or_else(|| bad(b))?;
        mask |= 1 << end;
        while start != end {
            mask |= 1 << start;
            start = (start + 1) % max;
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// A UTC instant from a date and time.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
            .and_utc()
    }
    fn ts(s: &str) -> TimeSpec {
        TimeSpec::parse(s).unwrap()
    }

    // 2024-01-01 is a Monday.
    #[test]
    fn office_hours_in_utc() {
        let t = ts("09:00-17:00,mon-fri,*,*,UTC");
        assert!(t.matches(utc(2024, 1, 1, 9, 0)));
        assert!(t.matches(utc(2024, 1, 1, 17, 0)), "end minute included");
        assert!(!t.matches(utc(2024, 1, 1, 17, 1)));
        assert!(!t.matches(utc(2024, 1, 1, 8, 59)));
        assert!(!t.matches(utc(2024, 1, 6, 12, 0)), "saturday");
        assert!(t.matches(utc(2024, 1, 5, 12, 0)), "friday");
    }

    #[test]
    fn wrap_around() {
        let night = ts("22:00-06:00,*,*,*,UTC");
        assert!(night.matches(utc(2024, 1, 1, 23, 30)));
        assert!(night.matches(utc(2024, 1, 1, 0, 0)));
        assert!(night.matches(utc(2024, 1, 1, 6, 0)));
        assert!(!night.matches(utc(2024, 1, 1, 12, 0)));
        let weekend = ts("*,fri-mon,*,*,UTC");
        for (d, want) in [
            (1, true),
            (2, false),
            (3, false),
            (4, false),
            (5, true),
            (6, true),
            (7, true),
        ] {
            assert_eq!(weekend.matches(utc(2024, 1, d, 12, 0)), want, "day {d}");
        }
        let winter = ts("*,*,*,nov-feb,UTC");
        assert!(winter.matches(utc(2024, 1, 10, 0, 0)));
        assert!(winter.matches(utc(2024, 12, 10, 0, 0)));
        assert!(!winter.matches(utc(2024, 6, 10, 0, 0)));
        let monthend = ts("*,*,30-2,*,UTC");
        assert!(monthend.matches(utc(2024, 1, 31, 0, 0)));
        assert!(monthend.matches(utc(2024, 2, 1, 0, 0)));
        assert!(!monthend.matches(utc(2024, 2, 15, 0, 0)));
    }

    #[test]
    fn lists_and_pipes_and_defaults() {
        let t = ts("12:00|sat&sun|1-15|jan&mar|UTC");
        assert!(t.matches(utc(2024, 1, 6, 12, 0)));
        assert!(!t.matches(utc(2024, 1, 6, 12, 1)), "single minute");
        assert!(!t.matches(utc(2024, 1, 20, 12, 0)), "mday 20");
        assert!(!t.matches(utc(2024, 2, 3, 12, 0)), "february");
        let any = ts("*");
        assert!(any.matches(utc(2024, 7, 4, 3, 33)));
        let t = ts("9:00-9:30&14:00-14:30,MON,*,*,UTC");
        assert!(t.matches(utc(2024, 1, 1, 14, 15)));
        assert!(!t.matches(utc(2024, 1, 1, 12, 0)));
        assert!(
            ts("*,2,*,*,UTC").matches(utc(2024, 1, 1, 0, 0)),
            "2 = monday"
        );
    }

    #[test]
    fn timezone_shifts_the_day() {
        // 2024-01-01 23:30 UTC is 2024-01-02 02:30 in Moscow (UTC+3): a Tuesday.
        let t = ts("02:00-03:00,tue,2,jan,Europe/Moscow");
        assert!(t.matches(utc(2024, 1, 1, 23, 30)));
        assert!(!t.matches(utc(2024, 1, 2, 2, 30)));
        let ny = ts("09:00-17:00,*,*,*,America/New_York");
        assert!(ny.matches(utc(2024, 7, 1, 13, 0)), "09:00 EDT");
        assert!(!ny.matches(utc(2024, 7, 1, 12, 59)));
        assert!(ny.matches(utc(2024, 1, 15, 14, 0)), "09:00 EST");
        assert!(!ny.matches(utc(2024, 1, 15, 13, 59)));
    }

    #[test]
    fn errors() {
        for bad in [
            "25:00-26:00,*,*,*",
            "9-17,*,*,*",
            "*,monday,*,*",
            "*,*,32,*",
            "*,*,0,*",
            "*,*,*,foo",
            "*,*,*,*,Mars/Olympus",
            "*,*,*,*,UTC,extra",
            "09:00-,*,*,*",
            "*,mon-,*,*",
        ] {
            assert!(TimeSpec::parse(bad).is_err(), "{bad} should fail");
        }
        let e = TimeSpec::parse("*,mon-frx,*,*").unwrap_err();
        assert!(e.contains("frx") && e.contains("expected"), "{e}");
    }
}
