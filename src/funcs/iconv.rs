//! `ICONV(in-charset,out-charset,text)` (func_iconv.so): character set conversion.
//!
//! Dialplan values in ferrisk are Unicode text (Rust `String`s). A value in a single-byte
//! charset is held one character per byte (byte `0xE9` is U+00E9), which is what ICONV
//! produces for such a target and what it reads for such a source; see
//! `docs/decisions/iconv-byte-strings.md`. The charsets are the ones a SIP dialplan meets:
//! UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252 (with their usual aliases),
//! and glibc's `//TRANSLIT` (unmappable → `?`) and `//IGNORE` (unmappable dropped)
//! suffixes on the target. As with iconv, a character that cannot be converted stops the
//! conversion with a warning and the text converted so far is the result.

use super::{Func, FuncError};
use crate::pbx::module::{Family, ModuleInfo};
use crate::pbx::Channel;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("func_iconv.so", "Charset conversions"),
    register: |ctx| ctx.register_func(Arc::new(Iconv)),
}];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Ascii,
    Latin1,
    Latin9,
    Cp1252,
}

/// What to do with a character the target cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmappable {
    Stop,
    Translit,
    Ignore,
}

fn charset(name: &str) -> Option<(Charset, Unmappable)> {
    let upper = name.trim().to_ascii_uppercase();
    let (base, mode) = match upper.split_once("//") {
        Some((b, rest)) if rest.contains("TRANSLIT") => (b.to_string(), Unmappable::Translit),
        Some((b, rest)) if rest.contains("IGNORE") => (b.to_string(), Unmappable::Ignore),
        Some((b, _)) => (b.to_string(), Unmappable::Stop),
        None => (upper, Unmappable::Stop),
    };
    let cs = match base.as_str() {
        "UTF-8" | "UTF8" => Charset::Utf8,
        "ASCII" | "US-ASCII" | "ANSI_X3.4-1968" | "646" => Charset::Ascii,
        "ISO-8859-1" | "ISO8859-1" | "ISO_8859-1" | "LATIN1" | "L1" | "CP819" => Charset::Latin1,
        "ISO-8859-15" | "ISO8859-15" | "ISO_8859-15" | "LATIN-9" | "LATIN9" => Charset::Latin9,
        "WINDOWS-1252" | "CP1252" | "MS-ANSI" => Charset::Cp1252,
        _ => return None,
    };
    Some((cs, mode))
}

/// Windows-1252's 0x80..=0x9F (None: undefined).
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

/// ISO-8859-15's differences from ISO-8859-1.
const LATIN9_DIFF: [(u8, char); 8] = [
    (0xA4, '\u{20AC}'),
    (0xA6, '\u{0160}'),
    (0xA8, '\u{0161}'),
    (0xB4, '\u{017D}'),
    (0xB8, '\u{017E}'),
    (0xBC, '\u{0152}'),
    (0xBD, '\u{0153}'),
    (0xBE, '\u{0178}'),
];

fn decode_byte(cs: Charset, b: u8) -> Option<char> {
    match cs {
        Charset::Utf8 => unreachable!("UTF-8 is decoded as a whole"),
        Charset::Ascii => (b < 0x80).then_some(b as char),
        Charset::Latin1 => Some(b as char),
        Charset::Latin9 => Some(
            LATIN9_DIFF
                .iter()
                .find(|(x, _)| *x == b)
                .map_or(b as char, |(_, c)| *c),
        ),
        Charset::Cp1252 => match b {
            0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
            _ => Some(b as char),
        },
    }
}

fn encode_char(cs: Charset, c: char) -> Option<u8> {
    let u = c as u32;
    match cs {
        Charset::Utf8 => unreachable!("UTF-8 is encoded as a whole"),
        Charset::Ascii => (u < 0x80).then_some(u as u8),
        Charset::Latin1 => (u < 0x100).then_some(u as u8),
        Charset::Latin9 => {
            if let Some((b, _)) = LATIN9_DIFF.iter().find(|(_, x)| *x == c) {
                return Some(*b);
            }
            let replaced = LATIN9_DIFF.iter().any(|(b, _)| u32::from(*b) == u);
            (u < 0x100 && !replaced).then_some(u as u8)
        }
        Charset::Cp1252 => {
            if let Some(i) = CP1252_HIGH.iter().position(|x| *x == Some(c)) {
                return Some(0x80 + i as u8);
            }
            (u < 0x80 || (0xA0..0x100).contains(&u)).then_some(u as u8)
        }
    }
}

/// Why a conversion stopped early (iconv's EILSEQ; the whole text is always there, so
/// there is no EINVAL).
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    Illegal,
}

/// The conversion, as iconv does it: what was converted, and why it stopped if it did.
fn convert(from: Charset, to: Charset, mode: Unmappable, text: &str) -> (String, Option<Stop>) {
    // The source as bytes: UTF-8 text, or one character per byte.
    let mut stop = None;
    let decoded: String = match from {
        Charset::Utf8 => text.to_string(),
        _ => {
            let mut out = String::with_capacity(text.len());
            for ch in text.chars() {
                let decoded = u8::try_from(ch as u32)
                    .ok()
                    .and_then(|b| decode_byte(from, b));
                match decoded {
                    Some(c) => out.push(c),
                    None => {
                        stop = Some(Stop::Illegal);
                        break;
                    }
                }
            }
            out
        }
    };
    if to == Charset::Utf8 {
        return (decoded, stop);
    }
    let mut out = String::with_capacity(decoded.len());
    for ch in decoded.chars() {
        match encode_char(to, ch) {
            Some(b) => out.push(b as char),
            None => match mode {
                Unmappable::Translit => out.push('?'),
                Unmappable::Ignore => {}
                Unmappable::Stop => return (out, Some(Stop::Illegal)),
            },
        }
    }
    (out, stop)
}

struct Iconv;

impl Func for Iconv {
    fn name(&self) -> &'static str {
        "ICONV"
    }
    fn synopsis(&self) -> &'static str {
        "Converts charsets of strings."
    }
    fn syntax(&self) -> &'static str {
        "ICONV(in-charset,out-charset,string)"
    }
    fn description(&self) -> &'static str {
        "Converts string from in-charset into out-charset. ferrisk knows UTF-8, US-ASCII, \
         ISO-8859-1, ISO-8859-15 and WINDOWS-1252 (and their usual aliases), with the \
         //TRANSLIT and //IGNORE suffixes on out-charset. A single-byte result is held one \
         character per byte. A character that cannot be converted ends the conversion with \
         a warning; the text converted so far is returned."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: ICONV(<in-charset>,<out-charset>,<text>) - missing arguments!".into(),
            ));
        }
        let mut parts = a.splitn(3, ',');
        let (Some(inc), Some(outc), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
            let n = a.split(',').count();
            return Err(FuncError::Usage(format!(
                "Syntax: ICONV(<in-charset>,<out-charset>,<text>) {n}"
            )));
        };
        let (Some((from, _)), Some((to, mode))) = (charset(inc), charset(outc)) else {
            return Err(FuncError::Other(format!(
                "conversion from '{}' to '{}' not available. type 'iconv -l' in a shell to list the supported charsets.",
                inc.trim(),
                outc.trim()
            )));
        };
        let (out, stop) = convert(from, to, mode, text);
        if stop == Some(Stop::Illegal) {
            chan.pbx.warning("func_iconv.c: Iconv: illegal character.");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iconv(a: &str) -> Result<String, FuncError> {
        let mut chan = crate::testutil::test_channel();
        Iconv.read(&mut chan, a)
    }

    #[test]
    fn utf8_to_single_byte_charsets_and_back() {
        // é is one byte (0xE9) in ISO-8859-1, held as U+00E9.
        assert_eq!(iconv("UTF-8,ISO-8859-1,José").unwrap(), "José");
        // € is 0x80 in Windows-1252 and 0xA4 in ISO-8859-15.
        assert_eq!(iconv("UTF-8,WINDOWS-1252,5€").unwrap(), "5\u{80}");
        assert_eq!(iconv("UTF-8,ISO-8859-15,5€").unwrap(), "5\u{A4}");
        assert_eq!(iconv("CP1252,UTF-8,5\u{80}").unwrap(), "5€");
        assert_eq!(iconv("latin9,utf8,\u{A4}").unwrap(), "€");
        // Latin-1 characters are their own bytes: both directions keep them.
        assert_eq!(iconv("ISO-8859-1,UTF-8,Zo\u{EB}").unwrap(), "Zoë");
        // The text keeps its commas.
        assert_eq!(iconv("UTF-8,ASCII,a,b,c").unwrap(), "a,b,c");
    }

    #[test]
    fn unmappable_stops_or_is_replaced_or_dropped() {
        assert_eq!(iconv("UTF-8,ASCII,naïve").unwrap(), "na");
        assert_eq!(iconv("UTF-8,ASCII//TRANSLIT,naïve").unwrap(), "na?ve");
        assert_eq!(iconv("UTF-8,ASCII//IGNORE,naïve").unwrap(), "nave");
        assert_eq!(iconv("UTF-8,ISO-8859-1,a€b").unwrap(), "a");
        // 0x81 is undefined in Windows-1252; a character above U+00FF is no byte.
        assert_eq!(iconv("WINDOWS-1252,UTF-8,x\u{81}y").unwrap(), "x");
        assert_eq!(iconv("ISO-8859-1,UTF-8,x€").unwrap(), "x");
    }

    #[test]
    fn errors_as_asterisk() {
        assert!(matches!(iconv(""), Err(FuncError::Usage(_))));
        assert!(matches!(iconv("UTF-8,ASCII"), Err(FuncError::Usage(_))));
        let e = iconv("UTF-8,KLINGON,x").unwrap_err().to_string();
        assert!(
            e.contains("conversion from 'UTF-8' to 'KLINGON' not available"),
            "{e}"
        );
    }
}
