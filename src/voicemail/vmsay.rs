//! Spoken counts, ordinals and dates for the voicemail applications, as prompt lists
//! (English, as Asterisk's `say.c` builds them). Pure: nothing here plays audio.
//!
//! [`date_prompts`] interprets a `[zonemessages]` say-date format
//! (`'vm-received' Q 'digits/at' IMp`) with the core's say-date rules
//! ([`crate::apps::sayunixtime`]).

use crate::apps::say::{number_prompts_en, ordinal_prompts_en};
use crate::apps::sayunixtime::date_prompts_en;
use chrono::{DateTime, TimeZone};

/// The envelope format app_voicemail uses when the mailbox has no `tz`.
pub const DEFAULT_DATE_FORMAT: &str = "'vm-received' q 'digits/at' IMp";

/// `n` as prompts (`digits/…`); an empty list when too large.
pub fn number(n: i64) -> Vec<String> {
    number_prompts_en(n).unwrap_or_default()
}

/// An ordinal ("first", "twenty-third"), as `digits/h-N` prompts.
pub fn ordinal(n: u32) -> Vec<String> {
    if n == 0 {
        return vec!["digits/0".into()];
    }
    ordinal_prompts_en(n as i64).unwrap_or_default()
}

/// Prompts for `t` in `format` (`ast_say_date_with_format`, English: see
/// [`crate::apps::sayunixtime`]); `now` decides "today"/"yesterday" (both in `t`'s zone).
pub fn date_prompts<Tz: TimeZone>(
    format: &str,
    t: &DateTime<Tz>,
    now: &DateTime<Tz>,
) -> Vec<String> {
    date_prompts_en(format, t, now).prompts
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
        // More than a month ago: "March fourth" (Asterisk's say.c).
        assert_eq!(
            date_prompts("q", &t, &later),
            ["digits/mon-2", "digits/h-4"]
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
