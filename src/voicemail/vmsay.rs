//! Spoken counts, ordinals and dates for the voicemail applications, as prompt lists
//! (English, as Asterisk's `say.c` builds them). Pure: nothing here plays audio.
//!
//! [`date_prompts`] interprets a `[zonemessages]` say-date format
//! (`'vm-received' Q 'digits/at' IMp`): quoted file names are played as given, letters say
//! a part of the time (A weekday, B month, d/e day of month, Y year, I/l 12-hour, H/k
//! 24-hour, M/N minutes, P/p AM/PM, Q/q relative day, R = HM, T = HMS, S seconds).

use crate::apps::say::number_prompts_en;
use chrono::{DateTime, Datelike, TimeZone, Timelike};

/// The envelope format app_voicemail uses when the mailbox has no `tz`.
pub const DEFAULT_DATE_FORMAT: &str = "'vm-received' q 'digits/at' IMp";

/// `n` as prompts (`digits/…`); an empty list when too large.
pub fn number(n: i64) -> Vec<String> {
    number_prompts_en(n).unwrap_or_default()
}

/// An ordinal ("first", "twenty-third"), as `digits/h-N` prompts.
pub fn ordinal(n: u32) -> Vec<String> {
    match n {
        0 => vec!["digits/0".into()],
        1..=20 => vec![format!("digits/h-{n}")],
        n if n % 10 == 0 && n < 100 => vec![format!("digits/h-{n}")],
        n if n < 100 => vec![
            format!("digits/{}", n / 10 * 10),
            format!("digits/h-{}", n % 10),
        ],
        n => number(n as i64),
    }
}

/// Split a say-date format into quoted files and letters.
fn tokens(format: &str) -> Vec<Result<String, char>> {
    let mut out = Vec::new();
    let mut it = format.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\'' => {
                let mut s = String::new();
                for c in it.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    s.push(c);
                }
                if !s.is_empty() {
                    out.push(Ok(s));
                }
            }
            c if c.is_whitespace() => {}
            c => out.push(Err(c)),
        }
    }
    out
}

fn minutes(m: u32, on_hour: &str) -> Vec<String> {
    match m {
        0 => vec![on_hour.to_string()],
        1..=9 => vec!["digits/oh".into(), format!("digits/{m}")],
        m => number(m as i64),
    }
}

/// Prompts for `t` in `format`; `now` decides "today"/"yesterday" (both in `t`'s zone).
pub fn date_prompts<Tz: TimeZone>(
    format: &str,
    t: &DateTime<Tz>,
    now: &DateTime<Tz>,
) -> Vec<String> {
    let mut out = Vec::new();
    for tok in tokens(format) {
        match tok {
            Ok(file) => out.push(file),
            Err(c) => letter(c, t, now, &mut out),
        }
    }
    out
}

fn letter<Tz: TimeZone>(c: char, t: &DateTime<Tz>, now: &DateTime<Tz>, out: &mut Vec<String>) {
    match c {
        'A' | 'a' => out.push(format!("digits/day-{}", t.weekday().num_days_from_sunday())),
        'B' | 'b' | 'h' => out.push(format!("digits/mon-{}", t.month0())),
        'm' => out.extend(ordinal(t.month())),
        'd' | 'e' => out.extend(ordinal(t.day())),
        'Y' => out.extend(number(t.year() as i64)),
        'y' => out.extend(number((t.year() % 100) as i64)),
        'I' | 'l' => {
            let h = match t.hour() % 12 {
                0 => 12,
                h => h,
            };
            out.push(format!("digits/{h}"));
        }
        'H' | 'k' => {
            let h = t.hour();
            if c == 'H' && h < 10 {
                out.push("digits/oh".into());
            }
            out.extend(number(h as i64));
        }
        'M' => out.extend(minutes(t.minute(), "digits/oclock")),
        'N' if t.minute() > 0 => out.extend(minutes(t.minute(), "")),
        'S' => out.extend(number(t.second() as i64)),
        'P' | 'p' => out.push(
            if t.hour() < 12 {
                "digits/a-m"
            } else {
                "digits/p-m"
            }
            .into(),
        ),
        'Q' | 'q' => {
            let days = now
                .date_naive()
                .signed_duration_since(t.date_naive())
                .num_days();
            match days {
                0 if c == 'Q' => out.push("digits/today".into()),
                0 => {}
                1 => out.push("digits/yesterday".into()),
                2..=6 if c == 'q' => letter('A', t, now, out),
                _ => {
                    for l in ['A', 'B', 'd', 'Y'] {
                        letter(l, t, now, out);
                    }
                }
            }
        }
        'R' => {
            letter('H', t, now, out);
            letter('M', t, now, out);
        }
        'T' => {
            letter('H', t, now, out);
            letter('M', t, now, out);
            letter('S', t, now, out);
        }
        _ => {}
    }
}

/// "You have …" after login (app_voicemail's English intro): urgent, new and old counts.
pub fn intro_prompts(urgent: u32, new: u32, old: u32) -> Vec<String> {
    let mut v = vec!["vm-youhave".to_string()];
    let msgs = |n: u32| if n == 1 { "vm-message" } else { "vm-messages" }.to_string();
    if urgent > 0 {
        v.extend(number(urgent as i64));
        v.push("vm-Urgent".into());
        v.push(if new > 0 || old > 0 {
            "vm-and".into()
        } else {
            msgs(urgent)
        });
    }
    if new > 0 {
        v.extend(number(new as i64));
        v.push("vm-INBOX".into());
        v.push(if old > 0 { "vm-and".into() } else { msgs(new) });
    }
    if old > 0 {
        v.extend(number(old as i64));
        v.push("vm-Old".into());
        v.push(msgs(old));
    }
    if urgent == 0 && new == 0 && old == 0 {
        v.push("vm-no".into());
        v.push("vm-messages".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn intro_counts() {
        assert_eq!(
            intro_prompts(0, 2, 1),
            [
                "vm-youhave",
                "digits/2",
                "vm-INBOX",
                "vm-and",
                "digits/1",
                "vm-Old",
                "vm-message"
            ]
        );
        assert_eq!(
            intro_prompts(0, 1, 0),
            ["vm-youhave", "digits/1", "vm-INBOX", "vm-message"]
        );
        assert_eq!(
            intro_prompts(0, 0, 0),
            ["vm-youhave", "vm-no", "vm-messages"]
        );
        assert_eq!(
            intro_prompts(1, 0, 0),
            ["vm-youhave", "digits/1", "vm-Urgent", "vm-message"]
        );
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(3), ["digits/h-3"]);
        assert_eq!(ordinal(23), ["digits/20", "digits/h-3"]);
        assert_eq!(ordinal(30), ["digits/h-30"]);
    }

    #[test]
    fn dates() {
        let t = Utc
            .with_ymd_and_hms(2026, 3, 4, 14, 5, 0)
            .single()
            .expect("date");
        let same_day = Utc
            .with_ymd_and_hms(2026, 3, 4, 18, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            date_prompts(DEFAULT_DATE_FORMAT, &t, &same_day),
            [
                "vm-received",
                "digits/at",
                "digits/2",
                "digits/oh",
                "digits/5",
                "digits/p-m"
            ]
        );
        let next = Utc
            .with_ymd_and_hms(2026, 3, 5, 9, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            date_prompts("'vm-received' Q 'digits/at' IMp", &t, &next)[1],
            "digits/yesterday"
        );
        let later = Utc
            .with_ymd_and_hms(2026, 4, 20, 9, 0, 0)
            .single()
            .expect("date");
        let p = date_prompts("q", &t, &later);
        // Wednesday, March fourth, 2026.
        assert_eq!(p[..3], ["digits/day-3", "digits/mon-2", "digits/h-4"]);
        assert_eq!(
            p[3..],
            ["digits/2", "digits/thousand", "digits/20", "digits/6"]
        );
        let on_hour = Utc
            .with_ymd_and_hms(2026, 3, 4, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            date_prompts("IMp", &on_hour, &same_day),
            ["digits/12", "digits/oclock", "digits/a-m"]
        );
    }
}
