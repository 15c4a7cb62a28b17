//! MorseCode() (`app_morsecode.so`): play a string as Morse code tones, international or
//! American, timed by `MORSEDITLEN` (ms), pitched by `MORSETONE` / `MORSESPACETONE` (Hz).
//! The code tables and timing are pure ([`morse_timing`]); the tones come from
//! [`crate::media::tones`].

use super::{App, AppResult};
use crate::media::tones::{ToneGen, ToneList, TonePart};
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_morsecode.so", "Morse code").support(SupportLevel::Extended),
    register: register_app_morsecode,
}];

fn register_app_morsecode(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(MorseCode));
}

/// International Morse for `c` (`.` dit, `-` dah, ` ` a word space); empty when none.
fn international(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'a' => ".-",
        'b' => "-...",
        'c' => "-.-.",
        'd' => "-..",
        'e' => ".",
        'f' => "..-.",
        'g' => "--.",
        'h' => "....",
        'i' => "..",
        'j' => ".---",
        'k' => "-.-",
        'l' => ".-..",
        'm' => "--",
        'n' => "-.",
        'o' => "---",
        'p' => ".--.",
        'q' => "--.-",
        'r' => ".-.",
        's' => "...",
        't' => "-",
        'u' => "..-",
        'v' => "...-",
        'w' => ".--",
        'x' => "-..-",
        'y' => "-.--",
        'z' => "--..",
        '0' => "-----",
        '1' => ".----",
        '2' => "..---",
        '3' => "...--",
        '4' => "....-",
        '5' => ".....",
        '6' => "-....",
        '7' => "--...",
        '8' => "---..",
        '9' => "----.",
        ' ' => " ",
        '!' | '.' => ".-.-.-",
        '"' => ".-..-.",
        '\'' | '`' => ".----.",
        '(' | ')' | '[' | ']' | '{' | '}' => "-.--.-",
        ',' => "--..--",
        '-' => "-....-",
        '/' | '\\' | '~' => "-..-.",
        ':' => "---...",
        ';' => "-.-.-.",
        '=' => "-...-",
        '?' => "..--..",
        '@' => ".--.-.",
        '_' => "..--.-",
        _ => "",
    }
}

/// American (railroad) Morse for `c`: besides `.` and `-`, `L` is a long dash, `0` an extra
/// long one and ` ` the space inside a character.
fn american(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'a' => ".-",
        'b' => "-...",
        'c' => ".. .",
        'd' => "-..",
        'e' => ".",
        'f' => ".-.",
        'g' => "--.",
        'h' => "....",
        'i' => "..",
        'j' => ".-.-",
        'k' => "-.-",
        'l' => "L",
        'm' => "--",
        'n' => "-.",
        'o' => ". .",
        'p' => ".....",
        'q' => "..-.",
        'r' => ". ..",
        's' => "...",
        't' => "-",
        'u' => "..-",
        'v' => "...-",
        'w' => ".--",
        'x' => ".-..",
        'y' => ".. ..",
        'z' => "... .",
        '0' => "0",
        '1' => ".--.",
        '2' => "..-..",
        '3' => "...-.",
        '4' => "....-",
        '5' => "---",
        '6' => "......",
        '7' => "--..",
        '8' => "-....",
        '9' => "-..-",
        ' ' => " ",
        '!' => "---.",
        '"' => "..-. -.",
        '$' => "... .-..",
        '&' => ". ...",
        '\'' => "..-. .-..",
        '(' | '[' | '{' => "..... -.",
        ')' | ']' | '}' => "..... .. ..",
        ',' => ".-.-",
        '-' => ".... .-..",
        '.' => "..--..",
        '/' | '\\' | '~' => "..- -",
        ':' => "-.- . .",
        ';' => "... ..",
        '=' => "-...-",
        '?' => "-..-.",
        '@' => ".--.-.",
        '_' => "..--.-",
        '`' => ".----.",
        _ => "",
    }
}

/// The on/off periods, in dit units, that play `s`: `(true, n)` is the tone for `n` dits,
/// `(false, n)` the space tone. Each dit or dah is followed by one dit of space, each
/// character by two more (three in American Morse); a word space is two (three) dits.
pub fn morse_timing(s: &str, american_code: bool) -> Vec<(bool, u32)> {
    let mut out: Vec<(bool, u32)> = Vec::new();
    let mut push = |on: bool, n: u32| match out.last_mut() {
        Some((o, m)) if *o == on => *m += n,
        _ => out.push((on, n)),
    };
    for c in s.chars() {
        let code = if american_code {
            american(c)
        } else {
            international(c)
        };
        for sym in code.chars() {
            match (sym, american_code) {
                ('-', _) => push(true, 3),
                ('.', _) => push(true, 1),
                ('L', true) => push(true, 6),
                ('0', true) => push(true, 9),
                (' ', true) => push(false, 3),
                _ => push(false, 2),
            }
            push(false, 1);
        }
        push(false, if american_code { 3 } else { 2 });
    }
    out
}

/// An integer channel variable (`sscanf("%d")`), else `default`.
fn int_var(chan: &Channel, name: &str, default: i64) -> i64 {
    chan.get_var(name)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(default)
}

struct MorseCode;

#[async_trait]
impl App for MorseCode {
    fn name(&self) -> &'static str {
        "Morsecode"
    }
    fn synopsis(&self) -> &'static str {
        "Plays morse code."
    }
    fn syntax(&self) -> &'static str {
        "Morsecode(string)"
    }
    fn description(&self) -> &'static str {
        "Plays the Morse code equivalent of the passed string. This application does not automatically answer and should be preceded by an application such as Answer() or Progress(). Variables: MORSEDITLEN — the length of a dit in ms (default 80); MORSETONE — the pitch of the tone in Hz (default 800); MORSESPACETONE — the pitch of the spaces in Hz (default 0); MORSETYPE — AMERICAN for American Morse, else INTERNATIONAL (the default)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx
                .warning("app_morsecode.c: Syntax: Morsecode(<string>) - no argument found");
            return Ok(());
        }
        let dit = int_var(chan, "MORSEDITLEN", 80).clamp(0, 60_000) as u32;
        let tone = int_var(chan, "MORSETONE", 800).clamp(0, 4000) as f64;
        let space = int_var(chan, "MORSESPACETONE", 0).clamp(0, 4000) as f64;
        let american_code = chan.get_var("MORSETYPE").as_deref() == Some("AMERICAN");
        let parts = morse_timing(data, american_code)
            .into_iter()
            .map(|(on, n)| TonePart {
                freq1: if on { tone } else { space },
                freq2: 0.0,
                modulate: false,
                ms: n * dit,
            })
            .filter(|p| p.ms > 0)
            .collect::<Vec<_>>();
        if parts.is_empty() {
            return Ok(());
        }
        let mut gen = ToneGen::new(ToneList {
            parts,
            repeat_from: None,
        });
        while let Some(f) = gen.next_frame() {
            chan.write_frame(Frame::voice(f)).await?;
        }
        chan.flush_output().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_timing() {
        // E: dit, gap; then the character gap.
        assert_eq!(morse_timing("e", false), [(true, 1), (false, 3)]);
        assert_eq!(
            morse_timing("SOS", false),
            [
                (true, 1),
                (false, 1),
                (true, 1),
                (false, 1),
                (true, 1),
                (false, 3),
                (true, 3),
                (false, 1),
                (true, 3),
                (false, 1),
                (true, 3),
                (false, 3),
                (true, 1),
                (false, 1),
                (true, 1),
                (false, 1),
                (true, 1),
                (false, 3)
            ]
        );
        // A word space: 2 + 1 + 2 more dits of silence between the words' gaps.
        assert_eq!(
            morse_timing("e e", false),
            [(true, 1), (false, 8), (true, 1), (false, 3)]
        );
        assert!(
            morse_timing("#%", false) == [(false, 4)],
            "characters without code only pause"
        );
    }

    #[test]
    fn american_timing() {
        assert_eq!(morse_timing("l", true), [(true, 6), (false, 4)]);
        assert_eq!(morse_timing("0", true), [(true, 9), (false, 4)]);
        // C is ".. .": an intra-character space of 3 dits.
        assert_eq!(
            morse_timing("c", true),
            [
                (true, 1),
                (false, 1),
                (true, 1),
                (false, 5),
                (true, 1),
                (false, 4)
            ]
        );
    }
}
