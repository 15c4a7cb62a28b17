//! The prompt lists of SAY DATE, SAY TIME, SAY DATETIME and SAY PHONETIC for English, in
//! the order Asterisk's `say.c` plays them (`ast_say_date_en`, `ast_say_time_en`,
//! `ast_say_date_with_format_en`, `ast_say_phonetic_str`). Pure: a time and a format in,
//! prompt names out.

use crate::apps::say::number_prompts_en;
use chrono::{Datelike, NaiveDateTime, Timelike};

/// `digits/h-N`: an ordinal (`ast_say_enumeration` for English).
pub fn ordinal(n: u32) -> Vec<String> {
    if n < 20 || (n < 100 && n.is_multiple_of(10)) {
        return vec![format!("digits/h-{n}")];
    }
    if n < 100 {
        return vec![
            format!("digits/{}", n - n % 10),
            format!("digits/h-{}", n % 10),
        ];
    }
    let mut v = number_prompts_en(i64::from(n - n % 100)).unwrap_or_default();
    if n.is_multiple_of(100) {
        // "one hundredth" is spoken as the number with the ordinal's last word.
        if let Some(last) = v.last_mut() {
            *last = format!("digits/h-{}", last.trim_start_matches("digits/"));
        }
        return v;
    }
    v.extend(ordinal(n % 100));
    v
}

fn number(n: i64) -> Vec<String> {
    number_prompts_en(n).unwrap_or_default()
}

/// SAY DATE: weekday, month, day, year.
pub fn date(t: &NaiveDateTime) -> Vec<String> {
    let mut v = vec![
        format!("digits/day-{}", t.weekday().num_days_from_sunday()),
        format!("digits/mon-{}", t.month0()),
    ];
    v.extend(number(i64::from(t.day())));
    v.extend(number(i64::from(t.year())));
    v
}

/// SAY TIME: hour (12-hour clock), minutes (`oh` before one digit), a.m./p.m.
pub fn time(t: &NaiveDateTime) -> Vec<String> {
    let (pm, hour) = t.hour12();
    let mut v = number(i64::from(hour));
    let min = t.minute();
    if min > 9 {
        v.extend(number(i64::from(min)));
    } else if min > 0 {
        v.push("digits/oh".into());
        v.extend(number(i64::from(min)));
    }
    v.push(if pm { "digits/p-m" } else { "digits/a-m" }.into());
    v
}

fn year(y: i32) -> Vec<String> {
    if !(1000..=1999).contains(&y) {
        return number(i64::from(y));
    }
    let mut v = number(i64::from(y / 100));
    match y % 100 {
        0 => v.push("digits/hundred".into()),
        r if r < 10 => {
            v.push("digits/oh".into());
            v.extend(number(i64::from(r)));
        }
        r => v.extend(number(i64::from(r))),
    }
    v
}

fn two_digit(n: u32, oclock: bool) -> Vec<String> {
    match n {
        0 if oclock => vec!["digits/oclock".into()],
        0 => vec!["digits/hundred".into()],
        n if n < 10 => {
            let mut v = vec!["digits/oh".to_string()];
            v.extend(number(i64::from(n)));
            v
        }
        n => number(i64::from(n)),
    }
}

/// SAY DATETIME's format (`ast_say_date_with_format_en`): `A a` weekday, `B b h` month,
/// `m` month number, `d e` day (ordinal), `Y` year, `y` two-digit year, `I l` hour on a
/// 12-hour clock, `H k` on a 24-hour clock, `M` minutes, `S` seconds, `P p` a.m./p.m.,
/// `R` = `HM`, `T` = `HMS`, `D` = `mdY`, `'file'` a prompt of its own. Others are skipped.
pub fn with_format(t: &NaiveDateTime, format: &str) -> Vec<String> {
    let mut v = Vec::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && chars[end] != '\'' {
                    end += 1;
                }
                let file: String = chars[start..end].iter().collect();
                if !file.is_empty() {
                    v.push(file);
                }
                i = end;
            }
            'A' | 'a' => v.push(format!("digits/day-{}", t.weekday().num_days_from_sunday())),
            'B' | 'b' | 'h' => v.push(format!("digits/mon-{}", t.month0())),
            'm' => v.extend(ordinal(t.month())),
            'd' | 'e' => v.extend(ordinal(t.day())),
            'Y' => v.extend(year(t.year())),
            'y' => v.extend(two_digit(t.year().rem_euclid(100) as u32, false)),
            'I' | 'l' => v.extend(number(i64::from(t.hour12().1))),
            'H' => v.extend(two_digit(t.hour(), false)),
            'k' => v.extend(number(i64::from(t.hour()))),
            'M' => v.extend(two_digit(t.minute(), chars.get(i + 1) != Some(&'M'))),
            'S' => {
                v.extend(two_digit(t.second(), false));
                v.push("digits/seconds".into());
            }
            'P' | 'p' => v.push(
                if t.hour12().0 {
                    "digits/p-m"
                } else {
                    "digits/a-m"
                }
                .into(),
            ),
            'R' => v.extend(with_format(t, "HM")),
            'T' => v.extend(with_format(t, "HMS")),
            'D' => v.extend(with_format(t, "mdY")),
            _ => {}
        }
        i += 1;
    }
    v
}

/// SAY PHONETIC: letters as the NATO alphabet (`phonetic/a_p` …), the rest as SAY ALPHA.
pub fn phonetic(s: &str) -> Vec<String> {
    s.chars()
        .flat_map(|c| match c {
            'a'..='z' | 'A'..='Z' => vec![format!("phonetic/{}_p", c.to_ascii_lowercase())],
            c => crate::apps::say::alpha_prompts(&c.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 7)
            .unwrap()
    }

    #[test]
    fn date_and_time() {
        // Monday 7 December 2026, 15:05.
        let t = at(2026, 12, 7, 15, 5);
        assert_eq!(
            date(&t),
            [
                "digits/day-1",
                "digits/mon-11",
                "digits/7",
                "digits/2",
                "digits/thousand",
                "digits/20",
                "digits/6"
            ]
        );
        assert_eq!(
            time(&t),
            ["digits/3", "digits/oh", "digits/5", "digits/p-m"]
        );
        assert_eq!(
            time(&at(2026, 1, 1, 0, 30)),
            ["digits/12", "digits/30", "digits/a-m"]
        );
        assert_eq!(time(&at(2026, 1, 1, 12, 0)), ["digits/12", "digits/p-m"]);
    }

    #[test]
    fn default_datetime_format() {
        let t = at(1999, 3, 21, 9, 0);
        assert_eq!(
            with_format(&t, "ABdY 'digits/at' IMp"),
            [
                "digits/day-0",
                "digits/mon-2",
                "digits/20",
                "digits/h-1",
                "digits/19",
                "digits/90",
                "digits/9",
                "digits/at",
                "digits/9",
                "digits/oclock",
                "digits/a-m"
            ]
        );
        assert_eq!(ordinal(30), ["digits/h-30"]);
        assert_eq!(ordinal(13), ["digits/h-13"]);
    }

    #[test]
    fn phonetic_letters() {
        assert_eq!(
            phonetic("Ab1"),
            ["phonetic/a_p", "phonetic/b_p", "digits/1"]
        );
    }
}
