//! The core's say applications (SayDigits, SayNumber, SayAlpha, SayAlphaCase, SayOrdinal,
//! SayMoney, SayPhonetic) and `SAYFILES()` (func_sayfiles.so): speak with Asterisk's
//! prompts (`digits/…`, `letters/…`, `phonetic/…`), in the order Asterisk's `say.c` plays
//! them for English. The prompt lists are pure functions; only [`say`] plays.

use super::playback::{stream, Played, ANY_DIGIT};
use super::{args, waitexten, App, AppResult};
use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("pbx_builtins_say", "Built-in dialplan applications").builtin(),
        register: register_pbx_builtins_say,
    },
    Family {
        info: ModuleInfo::new("func_sayfiles.so", "Say application files")
            .support(crate::pbx::module::SupportLevel::Extended),
        register: register_func_sayfiles,
    },
];

fn register_pbx_builtins_say(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(SayDigits));
    ctx.register_app(Arc::new(SayNumber));
    ctx.register_app(Arc::new(SayAlpha));
    ctx.register_app(Arc::new(SayAlphaCase));
    ctx.register_app(Arc::new(SayOrdinal));
    ctx.register_app(Arc::new(SayMoney));
    ctx.register_app(Arc::new(SayPhonetic));
}

fn register_func_sayfiles(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(SayFiles));
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

/// How SayAlphaCase marks letter case (`ast_say_case_sensitivity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `n`: letters only (SayAlpha).
    None,
    /// `u`: "uppercase" before each capital.
    Upper,
    /// `l`: "lowercase" before each small letter.
    Lower,
    /// `a`: both.
    All,
}

/// Prompts for a punctuation character both SayAlpha and SayPhonetic say.
fn symbol_prompt(c: char) -> Option<&'static str> {
    Some(match c {
        '*' => "digits/star",
        '#' => "digits/pound",
        '!' => "letters/exclaimation-point",
        '@' => "letters/at",
        '$' => "letters/dollar",
        '-' => "letters/dash",
        '.' => "letters/dot",
        '=' => "letters/equals",
        '+' => "letters/plus",
        '/' => "letters/slash",
        ' ' => "letters/space",
        _ => return None,
    })
}

/// `SayAlpha` prompts (`ast_get_character_str` without case marks).
pub fn alpha_prompts(s: &str) -> Vec<String> {
    alpha_case_prompts(s, Case::None)
}

/// `SayAlphaCase` prompts: each letter as `letters/x`, preceded by `uppercase` or
/// `lowercase` as `case` asks. Characters without a prompt are skipped.
pub fn alpha_case_prompts(s: &str, case: Case) -> Vec<String> {
    let mut out = Vec::new();
    for c in s.chars() {
        if let Some(p) = symbol_prompt(c) {
            out.push(p.to_string());
        } else if c.is_ascii_digit() {
            out.push(format!("digits/{c}"));
        } else if c.is_ascii_alphabetic() {
            let upper = c.is_ascii_uppercase();
            if upper && matches!(case, Case::Upper | Case::All) {
                out.push("uppercase".into());
            } else if !upper && matches!(case, Case::Lower | Case::All) {
                out.push("lowercase".into());
            }
            out.push(format!("letters/{}", c.to_ascii_lowercase()));
        }
    }
    out
}

/// `SayPhonetic` prompts (`ast_get_phonetic_str`): letters in the NATO alphabet
/// (`phonetic/a_p`), digits 0-8 as `digits/N` and 9 as `phonetic/9_p` ("niner").
pub fn phonetic_prompts(s: &str) -> Vec<String> {
    s.chars()
        .filter_map(|c| {
            if let Some(p) = symbol_prompt(c) {
                return Some(p.to_string());
            }
            match c {
                '0'..='8' => Some(format!("digits/{c}")),
                '9' | 'a'..='z' | 'A'..='Z' => {
                    Some(format!("phonetic/{}_p", c.to_ascii_lowercase()))
                }
                _ => None,
            }
        })
        .collect()
}

/// `SayOrdinal` prompts for English (`ast_get_ordinal_str`): the number as SayNumber says
/// it, its last word as an ordinal ("forty-second" is `digits/40`, `digits/h-2`; 40000 is
/// `digits/40`, `digits/h-thousand`). Nothing for 0; `None` when too big.
pub fn ordinal_prompts_en(num: i64) -> Option<Vec<String>> {
    if num == 0 {
        return Some(Vec::new());
    }
    let mut out = number_prompts_en(num)?;
    if let Some(last) = out.last_mut() {
        if let Some(word) = last.strip_prefix("digits/") {
            *last = format!("digits/h-{word}");
        }
    }
    Some(out)
}

/// `SayMoney` prompts (`ast_get_money_en_dollars_str`): "1.50" is one dollar and fifty
/// cents. The amount is read as dollars and at most two digits of cents; anything else
/// counts as 0.
pub fn money_prompts_en(s: &str) -> Vec<String> {
    let (dollars, cents) = parse_money(s.trim());
    let amt = dollars.saturating_mul(100).saturating_add(cents);
    let mut out = Vec::new();
    if amt >= 100 {
        out.extend(number_prompts_en(amt / 100).unwrap_or_default());
        out.push(if amt >= 200 {
            "dollars".into()
        } else if cents > 0 {
            "letters/dollar_".into()
        } else {
            "letters/dollar".into()
        });
        if cents > 0 {
            out.push("and".into());
        }
    }
    if cents > 0 {
        out.extend(number_prompts_en(cents).unwrap_or_default());
        out.push(if cents == 1 { "cent" } else { "cents" }.into());
    } else if amt == 0 {
        out.push("digits/0".into());
        out.push("cents".into());
    }
    out
}

/// Dollars and cents of `s` as `sscanf("%d.%02u")` reads it: an integer (with a sign),
/// then after a `.` at most two digits of cents ("1.5" is one dollar and five cents, as in
/// Asterisk); what cannot be read counts as 0.
fn parse_money(s: &str) -> (i64, i64) {
    fn cents(f: &str) -> i64 {
        let d: String = f.chars().take(2).take_while(char::is_ascii_digit).collect();
        d.parse().unwrap_or(0)
    }
    if let Some(f) = s.strip_prefix('.') {
        return (0, cents(f));
    }
    let sign_len = usize::from(s.starts_with(['-', '+']));
    let digits = s[sign_len..]
        .chars()
        .take_while(char::is_ascii_digit)
        .count();
    let Ok(dollars) = s[..sign_len + digits].parse::<i64>() else {
        return (0, 0);
    };
    let dollars = dollars.clamp(i32::MIN as i64, i32::MAX as i64);
    let rest = &s[sign_len + digits..];
    (dollars, rest.strip_prefix('.').map(cents).unwrap_or(0))
}

/// `SayNumber` prompts for English (`ast_say_number_full_en`); `None` when too big
/// (2^31 - 1 or more).
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
            num = num.saturating_neg();
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
        } else if num < i32::MAX as i64 {
            if !number_en(num / 1_000_000_000, out) {
                return false;
            }
            num %= 1_000_000_000;
            out.push("digits/billion".into());
        } else {
            return false;
        }
    }
    true
}

/// Play prompts one after the other; a missing prompt is skipped with a warning. Digits do
/// not interrupt unless `interrupt`: then the first digit stops the saying and the caller
/// dials an extension as in BackGround().
pub async fn say_prompts(chan: &mut Channel, prompts: &[String], interrupt: bool) -> AppResult {
    let breakon = if interrupt { ANY_DIGIT } else { "" };
    for p in prompts {
        if let Played::Digit(d) = stream(chan, p, breakon).await? {
            return waitexten::dial_extension(chan, d).await;
        }
    }
    Ok(())
}

/// `SAY_DTMF_INTERRUPT` is true on the channel.
pub fn dtmf_interrupt(chan: &Channel) -> bool {
    chan.get_var("SAY_DTMF_INTERRUPT")
        .is_some_and(|v| crate::config::is_true(&v))
}

async fn say(chan: &mut Channel, prompts: &[String]) -> AppResult {
    let interrupt = dtmf_interrupt(chan);
    say_prompts(chan, prompts, interrupt).await
}

/// SayNumber and SayOrdinal: the number's prompts by `prompts`.
async fn say_number(
    chan: &mut Channel,
    app: &str,
    data: &str,
    prompts: fn(i64) -> Option<Vec<String>>,
) -> AppResult {
    let n = match number_args(chan, app, data) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match prompts(n) {
        Some(p) => say(chan, &p).await,
        None => {
            chan.pbx.warning(&format!(
                "pbx_builtins.c: We were unable to say the number {n}, is it too large?"
            ));
            Ok(())
        }
    }
}

/// SayNumber's and SayOrdinal's arguments: the number and the gender (`f`, `m`, `c`, `n`);
/// `Err` is what the application returns at once (after Asterisk's warning).
fn number_args(chan: &Channel, app: &str, data: &str) -> Result<i64, AppResult> {
    let a = args::split(data, ',');
    let s = args::nth(&a, 0).trim();
    if s.is_empty() {
        chan.pbx.warning(&format!(
            "pbx_builtins.c: {app} requires an argument (number)"
        ));
        return Err(Err(crate::pbx::Hangup));
    }
    let n = match s.parse::<i32>() {
        Ok(n) => n as i64,
        Err(_) => {
            chan.pbx.warning(&format!(
                "pbx_builtins.c: argument '{s}' to {app} could not be parsed as a number."
            ));
            return Err(Ok(()));
        }
    };
    if a.len() > 1 && !["f", "m", "c", "n"].contains(&a[1].trim().to_ascii_lowercase().as_str()) {
        chan.pbx.warning(&format!(
            "pbx_builtins.c: {app} gender option is either 'f', 'm', 'c' or 'n'"
        ));
        return Err(Err(crate::pbx::Hangup));
    }
    Ok(n)
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
        "This application will play the sounds that correspond to the given number (English rules: digits/1..19, digits/20..90, digits/hundred, digits/thousand, digits/million, digits/billion). gender (f, m, c or n) is accepted for languages that need it. If SAY_DTMF_INTERRUPT is true, a digit interrupts and is handled as in BackGround."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        say_number(chan, "SayNumber", data, number_prompts_en).await
    }
}

struct SayOrdinal;

#[async_trait]
impl App for SayOrdinal {
    fn name(&self) -> &'static str {
        "SayOrdinal"
    }
    fn synopsis(&self) -> &'static str {
        "Say Ordinal Number."
    }
    fn syntax(&self) -> &'static str {
        "SayOrdinal(digits[,gender])"
    }
    fn description(&self) -> &'static str {
        "This application will play the ordinal sounds that correspond to the given number (e.g. 1st, 42nd): the number as SayNumber says it with its last word as an ordinal (digits/h-N, digits/h-hundred, digits/h-thousand…). gender (f, m, c or n) is accepted. If SAY_DTMF_INTERRUPT is true, a digit interrupts and is handled as in BackGround."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        say_number(chan, "SayOrdinal", data, ordinal_prompts_en).await
    }
}

struct SayMoney;

#[async_trait]
impl App for SayMoney {
    fn name(&self) -> &'static str {
        "SayMoney"
    }
    fn synopsis(&self) -> &'static str {
        "Say Money."
    }
    fn syntax(&self) -> &'static str {
        "SayMoney(dollars)"
    }
    fn description(&self) -> &'static str {
        "This application will play the currency sounds for the given floating point number in the current language (US dollars and cents: 2.42 is digits/2, dollars, and, digits/40, digits/2, cents). If SAY_DTMF_INTERRUPT is true, a digit interrupts and is handled as in BackGround."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            return Ok(());
        }
        say(chan, &money_prompts_en(data)).await
    }
}

struct SayPhonetic;

#[async_trait]
impl App for SayPhonetic {
    fn name(&self) -> &'static str {
        "SayPhonetic"
    }
    fn synopsis(&self) -> &'static str {
        "Say Phonetic."
    }
    fn syntax(&self) -> &'static str {
        "SayPhonetic(string)"
    }
    fn description(&self) -> &'static str {
        "This application will play the sounds from the phonetic alphabet that correspond to the letters in the given string (phonetic/a_p \"alpha\"…; digits 0-8 as digits/N, 9 as phonetic/9_p). If SAY_DTMF_INTERRUPT is true, a digit interrupts and is handled as in BackGround."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        say(chan, &phonetic_prompts(data)).await
    }
}

struct SayAlphaCase;

#[async_trait]
impl App for SayAlphaCase {
    fn name(&self) -> &'static str {
        "SayAlphaCase"
    }
    fn synopsis(&self) -> &'static str {
        "Say Alpha."
    }
    fn syntax(&self) -> &'static str {
        "SayAlphaCase(casetype,string)"
    }
    fn description(&self) -> &'static str {
        "This application will play the sounds that correspond to the letters of the given string. casetype: a — case sensitive (all): SayAlphaCase(a,aBc) says lowercase a uppercase b lowercase c; l — lowercase marked: lowercase a b lowercase c; n — case insensitive, as SayAlpha; u — uppercase marked: a uppercase b c. If SAY_DTMF_INTERRUPT is true, a digit interrupts and is handled as in BackGround."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx.warning(
                "pbx_builtins.c: SayAlphaCase requires two arguments (options, characters)",
            );
            return Ok(());
        }
        let a = args::split(data, ',');
        let opt = args::nth(&a, 0);
        if opt.chars().count() != 1 {
            chan.pbx.warning(
                "pbx_builtins.c: SayAlphaCase options are mutually exclusive and required",
            );
            return Ok(());
        }
        let case = match opt {
            "a" => Case::All,
            "l" => Case::Lower,
            "n" => Case::None,
            "u" => Case::Upper,
            _ => {
                chan.pbx
                    .warning(&format!("pbx_builtins.c: Invalid option: '{opt}'"));
                return Ok(());
            }
        };
        say(chan, &alpha_case_prompts(args::nth(&a, 1), case)).await
    }
}

/// `SAYFILES(value[,type])`: the `&`-joined prompts a Say application would play.
struct SayFiles;

/// The prompts for SAYFILES' `kind`; `Err` is the warning for a bad value or type.
pub fn say_files(value: &str, kind: &str) -> Result<Vec<String>, String> {
    let num = || {
        value
            .trim()
            .parse::<i32>()
            .map(i64::from)
            .map_err(|_| format!("Invalid numeric argument: {value}"))
    };
    match kind {
        "" | "alpha" => Ok(alpha_prompts(value)),
        "phonetic" => Ok(phonetic_prompts(value)),
        "digits" => Ok(digits_prompts(value)),
        "number" => {
            number_prompts_en(num()?).ok_or_else(|| format!("Number '{value}' is too big for me"))
        }
        "ordinal" => {
            ordinal_prompts_en(num()?).ok_or_else(|| format!("Number '{value}' is too big for me"))
        }
        "money" => Ok(money_prompts_en(value)),
        other => Err(format!("Invalid say type specified: {other}")),
    }
}

impl Func for SayFiles {
    fn name(&self) -> &'static str {
        "SAYFILES"
    }
    fn synopsis(&self) -> &'static str {
        "Returns the ampersand-delimited file names that would be played by the Say applications (e.g. SayAlpha, SayDigits)."
    }
    fn syntax(&self) -> &'static str {
        "SAYFILES(value[,type])"
    }
    fn description(&self) -> &'static str {
        "Returns the files that would be played by a Say application. These filenames could then be passed directly into Playback, BackGround, Read, Queue, or any application which supports playback of multiple ampersand-delimited files. type: alpha (SayAlpha, the default), digits (SayDigits), money (SayMoney: English, US dollars), number (SayNumber: English), ordinal (SayOrdinal: English), phonetic (SayPhonetic)."
    }
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        if data.is_empty() {
            chan.pbx
                .warning("func_sayfiles.c: SAYFILES requires an argument");
            return Ok(String::new());
        }
        let a = args::split(data, ',');
        match say_files(args::nth(&a, 0), args::nth(&a, 1).trim()) {
            Ok(p) => Ok(p.join("&")),
            Err(w) => {
                chan.pbx.warning(&format!("func_sayfiles.c: {w}"));
                Err(FuncError::Other(w))
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
        assert_eq!(n(2001000001), ["2", "billion", "1", "million", "1"]);
        assert_eq!(number_prompts_en(i32::MAX as i64), None);
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

    fn files(v: &str, kind: &str) -> String {
        say_files(v, kind)
            .unwrap_or_else(|e| panic!("{e}"))
            .join("&")
    }

    #[test]
    fn sayfiles_matches_asterisks_own_test_cases() {
        assert_eq!(
            files("hi Th3re", "alpha"),
            "letters/h&letters/i&letters/space&letters/t&letters/h&digits/3&letters/r&letters/e"
        );
        assert_eq!(
            files("phreak", "phonetic"),
            "phonetic/p_p&phonetic/h_p&phonetic/r_p&phonetic/e_p&phonetic/a_p&phonetic/k_p"
        );
        assert_eq!(files("35", "digits"), "digits/3&digits/5");
        assert_eq!(
            files("+18005551212", "digits"),
            "digits/1&digits/8&digits/0&digits/0&digits/5&digits/5&digits/5&digits/1&digits/2&digits/1&digits/2"
        );
        assert_eq!(files("35", "number"), "digits/30&digits/5");
        assert_eq!(
            files("747", "number"),
            "digits/7&digits/hundred&digits/40&digits/7"
        );
        assert_eq!(
            files("1042", "number"),
            "digits/1&digits/thousand&digits/40&digits/2"
        );
        assert_eq!(files("0", "number"), "digits/0");
        assert_eq!(
            files("2001000001", "number"),
            "digits/2&digits/billion&digits/1&digits/million&digits/1"
        );
        assert_eq!(files("7", "ordinal"), "digits/h-7");
        assert_eq!(files("35", "ordinal"), "digits/30&digits/h-5");
        assert_eq!(
            files("1042", "ordinal"),
            "digits/1&digits/thousand&digits/40&digits/h-2"
        );
        assert_eq!(
            files("11042", "ordinal"),
            "digits/11&digits/thousand&digits/40&digits/h-2"
        );
        assert_eq!(files("40000", "ordinal"), "digits/40&digits/h-thousand");
        assert_eq!(
            files("43638", "ordinal"),
            "digits/40&digits/3&digits/thousand&digits/6&digits/hundred&digits/30&digits/h-8"
        );
        assert_eq!(files("1000000", "ordinal"), "digits/1&digits/h-million");
        assert_eq!(
            files("1000001", "ordinal"),
            "digits/1&digits/million&digits/h-1"
        );
        assert_eq!(
            files("2001000001", "ordinal"),
            "digits/2&digits/billion&digits/1&digits/million&digits/h-1"
        );
        assert_eq!(files("100", "ordinal"), "digits/1&digits/h-hundred");
        assert_eq!(files("0", "money"), "digits/0&cents");
        assert_eq!(files("0.01", "money"), "digits/1&cent");
        assert_eq!(files("0.42", "money"), "digits/40&digits/2&cents");
        assert_eq!(files(".42", "money"), "digits/40&digits/2&cents");
        assert_eq!(files("1.00", "money"), "digits/1&letters/dollar");
        assert_eq!(
            files("1.42", "money"),
            "digits/1&letters/dollar_&and&digits/40&digits/2&cents"
        );
        assert_eq!(files("2.00", "money"), "digits/2&dollars");
        assert_eq!(files("2", "money"), "digits/2&dollars");
        assert_eq!(
            files("2.42", "money"),
            "digits/2&dollars&and&digits/40&digits/2&cents"
        );
        assert_eq!(
            files("2.05", "money"),
            "digits/2&dollars&and&digits/5&cents"
        );
        assert_eq!(
            files("2.051", "money"),
            "digits/2&dollars&and&digits/5&cents"
        );
        // The default type is alpha.
        assert_eq!(files("ab", ""), "letters/a&letters/b");
    }

    #[test]
    fn sayfiles_rejects_bad_numbers_and_types() {
        assert!(say_files("abc", "number").is_err());
        assert!(say_files("99999999999", "ordinal").is_err());
        assert_eq!(
            say_files("1", "date"),
            Err("Invalid say type specified: date".to_string())
        );
        assert_eq!(files("abc", "money"), "digits/0&cents");
        assert!(say_files("", "ordinal").is_err());
    }

    #[test]
    fn alpha_case_marks() {
        let p = |c| alpha_case_prompts("aBc", c).join(" ");
        assert_eq!(
            p(Case::All),
            "lowercase letters/a uppercase letters/b lowercase letters/c"
        );
        assert_eq!(
            p(Case::Lower),
            "lowercase letters/a letters/b lowercase letters/c"
        );
        assert_eq!(p(Case::Upper), "letters/a uppercase letters/b letters/c");
        assert_eq!(p(Case::None), "letters/a letters/b letters/c");
        assert_eq!(
            alpha_prompts("!9"),
            ["letters/exclaimation-point", "digits/9"]
        );
        assert_eq!(
            phonetic_prompts("a9-8"),
            ["phonetic/a_p", "phonetic/9_p", "letters/dash", "digits/8"]
        );
    }
}
