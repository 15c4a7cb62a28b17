//! SayDigits, SayNumber and SayAlpha: speak with Asterisk's prompts (`digits/…`,
//! `letters/…`), in the order Asterisk's `say.c` plays them for English.

use super::playback::{stream, Played};
use super::{args, App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("pbx_builtins_say", "Built-in dialplan applications").builtin(),
    register: register_pbx_builtins_say,
}];

fn register_pbx_builtins_say(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(SayDigits));
    ctx.register_app(Arc::new(SayNumber));
    ctx.register_app(Arc::new(SayAlpha));
}

/// Prompts for one digit-string character (`ast_say_digit_str`); others are skipped.
fn digit_prompt(c: char) -> Option<String> {
    Some(match c {
        '0'..='9' => format!("digits/{c}"),
        '*' => "digits/star".into(),
        '#' => "digits/pound".into(),
        '-' => "digits/minus".into(),
        _ => return None,
    })
}

/// `SayDigits` prompts.
pub fn digits_prompts(s: &str) -> Vec<String> {
    s.chars().filter_map(digit_prompt).collect()
}

/// `SayAlpha` prompts (`ast_say_character_str`).
pub fn alpha_prompts(s: &str) -> Vec<String> {
    s.chars()
        .filter_map(|c| {
            Some(match c {
                'a'..='z' | 'A'..='Z' => format!("letters/{}", c.to_ascii_lowercase()),
                '0'..='9' | '*' | '#' => return digit_prompt(c),
                '!' => "letters/exclaimation_point".into(),
                '@' => "letters/at".into(),
                '$' => "letters/dollar".into(),
                '-' => "letters/dash".into(),
                '.' => "letters/dot".into(),
                '=' => "letters/equals".into(),
                '+' => "letters/plus".into(),
                '/' => "letters/slash".into(),
                ' ' => "letters/space".into(),
                _ => return None,
            })
        })
        .collect()
}

/// `SayNumber` prompts for English (`ast_say_number_full_en`); `None` when too big
/// (a billion or more).
pub fn number_prompts_en(num: i64) -> Option<Vec<String>> {
    let mut out = Vec::new();
    if num == 0 {
        out.push("digits/0".to_string());
        return Some(out);
    }
    number_en(num, &mut out).then_some(out)
}

fn number_en(mut num: i64, out: &mut Vec<String>) -> bool {
    let mut playh = false;
    while num != 0 || playh {
        if num < 0 {
            out.push("digits/minus".into());
            num = -num;
        } else if playh {
            out.push("digits/hundred".into());
            playh = false;
        } else if num < 20 {
            out.push(format!("digits/{num}"));
            num = 0;
        } else if num < 100 {
            out.push(format!("digits/{}", num / 10 * 10));
            num %= 10;
        } else if num < 1000 {
            out.push(format!("digits/{}", num / 100));
            playh = true;
            num %= 100;
        } else if num < 1_000_000 {
            if !number_en(num / 1000, out) {
                return false;
            }
            num %= 1000;
            out.push("digits/thousand".into());
        } else if num < 1_000_000_000 {
            if !number_en(num / 1_000_000, out) {
                return false;
            }
            num %= 1_000_000;
            out.push("digits/million".into());
        } else {
            return false;
        }
    }
    true
}

/// Play prompts one after the other (digits do not interrupt); a missing prompt is
/// skipped with a warning.
async fn say(chan: &mut Channel, prompts: &[String]) -> AppResult {
    for p in prompts {
        if stream(chan, p, "").await? == Played::Missing {
            continue;
        }
    }
    Ok(())
}

struct SayDigits;

#[async_trait]
impl App for SayDigits {
    fn name(&self) -> &'static str {
        "SayDigits"
    }
    fn synopsis(&self) -> &'static str {
        "Say Digits."
    }
    fn syntax(&self) -> &'static str {
        "SayDigits(digits)"
    }
    fn description(&self) -> &'static str {
        "This application will play the sounds that correspond to the digits of the given number (digits/N, digits/star, digits/pound, digits/minus), in the channel's language."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        say(chan, &digits_prompts(data)).await
    }
}

struct SayAlpha;

#[async_trait]
impl App for SayAlpha {
    fn name(&self) -> &'static str {
        "SayAlpha"
    }
    fn synopsis(&self) -> &'static str {
        "Say Alpha."
    }
    fn syntax(&self) -> &'static str {
        "SayAlpha(string)"
    }
    fn description(&self) -> &'static str {
        "This application will play the sounds that correspond to the letters and digits of string (letters/x, digits/N, letters/at, letters/dot…)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        say(chan, &alpha_prompts(data)).await
    }
}

struct SayNumber;

#[async_trait]
impl App for SayNumber {
    fn name(&self) -> &'static str {
        "SayNumber"
    }
    fn synopsis(&self) -> &'static str {
        "Say Number."
    }
    fn syntax(&self) -> &'static str {
        "SayNumber(digits[,gender])"
    }
    fn description(&self) -> &'static str {
        "This application will play the sounds that correspond to the given number (English rules: digits/1..19, digits/20..90, digits/hundred, digits/thousand, digits/million). gender is accepted for languages that need it."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let s = args::nth(&a, 0).trim();
        if s.is_empty() {
            chan.pbx
                .warning("pbx_builtins.c: SayNumber requires an argument (number)");
            return Err(crate::pbx::Hangup);
        }
        let Ok(n) = s.parse::<i64>() else {
            chan.pbx.warning(&format!(
                "pbx_builtins.c: argument '{s}' to SayNumber could not be parsed as a number."
            ));
            return Ok(());
        };
        match number_prompts_en(n) {
            Some(p) => say(chan, &p).await,
            None => {
                chan.pbx.warning(&format!(
                    "pbx_builtins.c: We were unable to say the number {s}, is it too large?"
                ));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: i64) -> Vec<String> {
        number_prompts_en(x)
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.trim_start_matches("digits/").to_string())
            .collect()
    }

    #[test]
    fn numbers_use_asterisks_prompt_sequence() {
        assert_eq!(n(0), ["0"]);
        assert_eq!(n(7), ["7"]);
        assert_eq!(n(15), ["15"]);
        assert_eq!(n(42), ["40", "2"]);
        assert_eq!(n(100), ["1", "hundred"]);
        assert_eq!(n(123), ["1", "hundred", "20", "3"]);
        assert_eq!(n(1000), ["1", "thousand"]);
        assert_eq!(
            n(1234567),
            ["1", "million", "2", "hundred", "30", "4", "thousand", "5", "hundred", "60", "7"]
        );
        assert_eq!(n(-5), ["minus", "5"]);
        assert_eq!(number_prompts_en(1_000_000_000), None);
    }

    #[test]
    fn digits_and_letters() {
        assert_eq!(
            digits_prompts("1*#-x"),
            ["digits/1", "digits/star", "digits/pound", "digits/minus"]
        );
        assert_eq!(
            alpha_prompts("aB3@."),
            [
                "letters/a",
                "letters/b",
                "digits/3",
                "letters/at",
                "letters/dot"
            ]
        );
    }
}
