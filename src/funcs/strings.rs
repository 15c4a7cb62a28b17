//! String functions (Asterisk's `func_strings.c`, `func_cut.c`, `func_sprintf.c`):
//! CUT, FIELDQTY, FIELDNUM, FILTER, LEN, REGEX, REPLACE, STRREPLACE, TOUPPER, TOLOWER,
//! TRIM/LTRIM/RTRIM, QUOTE, CSV_QUOTE, SHIFT/POP/PUSH/UNSHIFT, SPRINTF, PASSTHRU,
//! KEYPADHASH, STRBETWEEN.
//!
//! Also the helpers the other function families share: Asterisk's argument splitting with
//! an argument limit (the last argument keeps the unsplit remainder), `ast_get_encoded_char`,
//! C-style `sscanf("%d")`, and reading/writing a variable *by name* the way
//! `${varname}` / `pbx_builtin_setvar_helper` do.
//!
//! Where Asterisk works on bytes (REPLACE, STRBETWEEN) these work on characters so UTF-8
//! input stays valid; for ASCII the result is identical.

use super::{Func, FuncError};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/// Asterisk's `__ast_app_separate_args` with an argument limit: at most `max` pieces,
/// the last of which is the raw, unprocessed remainder. `remove` strips quotes and
/// backslash escapes in the processed pieces (STANDARD vs RAW args). Empty input gives
/// no arguments; a trailing delimiter gives a final empty argument. Quotes are not
/// special when the delimiter is `"` (REGEX).
pub(crate) fn separate_args(data: &str, delim: char, max: usize, remove: bool) -> Vec<String> {
    let mut out = Vec::new();
    if data.is_empty() || max == 0 {
        return out;
    }
    let chars: Vec<char> = data.chars().collect();
    let mut i = 0;
    let mut ended_on_delim = false;
    while i < chars.len() && out.len() < max - 1 {
        let mut cur = String::new();
        let (mut paren, mut bracket, mut quote) = (0u32, 0u32, false);
        ended_on_delim = false;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '(' => {
                    paren += 1;
                    cur.push(c);
                }
                ')' => {
                    paren = paren.saturating_sub(1);
                    cur.push(c);
                }
                '[' => {
                    bracket += 1;
                    cur.push(c);
                }
                ']' => {
                    bracket = bracket.saturating_sub(1);
                    cur.push(c);
                }
                '"' if delim != '"' => {
                    quote = !quote;
                    if !remove {
                        cur.push(c);
                    }
                }
                '\\' => {
                    if !remove {
                        cur.push(c);
                    }
                    if i < chars.len() {
                        cur.push(chars[i]);
                        i += 1;
                    }
                }
                c if c == delim && paren == 0 && bracket == 0 && !quote => {
                    ended_on_delim = true;
                    break;
                }
                c => cur.push(c),
            }
        }
        out.push(cur);
    }
    if i < chars.len() || ended_on_delim {
        out.push(chars[i..].iter().collect());
    }
    out
}

/// Asterisk's `ast_get_encoded_char`: the first (possibly escaped: `\n`, `\r`, `\t`,
/// `\xHH`, `\0ooo`, `\c`) character of `s`, and how many characters it used.
/// `None` for an empty string or a bad hex escape.
pub(crate) fn encoded_char(s: &str) -> Option<(char, usize)> {
    let c: Vec<char> = s.chars().take(8).collect();
    let first = *c.first()?;
    if first != '\\' {
        return Some((first, 1));
    }
    let Some(&kind) = c.get(1) else {
        // A lone backslash: C reads the terminating NUL.
        return Some(('\0', 2));
    };
    Some(match kind {
        'n' => ('\n', 2),
        'r' => ('\r', 2),
        't' => ('\t', 2),
        'x' => {
            let d1 = c.get(2).and_then(|d| d.to_digit(16))?;
            match c.get(3).and_then(|d| d.to_digit(16)) {
                Some(d2) => (char::from((d1 * 16 + d2) as u8), 4),
                None => (char::from(d1 as u8), 3),
            }
        }
        '0' => {
            let mut v: u32 = 0;
            let mut used = 2;
            for d in c.iter().skip(2) {
                match d.to_digit(8) {
                    Some(x) => {
                        v = (v << 3).wrapping_add(x) & 0xff;
                        used += 1;
                    }
                    None => break,
                }
            }
            (char::from(v as u8), used)
        }
        other => (other, 2),
    })
}

/// `ast_get_encoded_str`: decode every escape in `s`.
pub(crate) fn encoded_str(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        match encoded_char(rest) {
            Some((c, used)) => {
                out.push(c);
                let skip = rest
                    .char_indices()
                    .nth(used)
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                rest = &rest[skip..];
            }
            None => {
                // Bad escape: skip the backslash and carry on.
                let mut it = rest.chars();
                it.next();
                rest = it.as_str();
            }
        }
    }
    out
}

/// C `sscanf(s, "%30d")` (and `strtol`): optional leading whitespace and sign, then
/// digits. Returns the value (saturated to i64, as strtol saturates) and the rest of the
/// string; `None` when no digit was read.
pub(crate) fn scan_int(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let b = t.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && i < 30 && b[i].is_ascii_digit() {
        let d = (b[i] - b'0') as i64;
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    (i > start).then(|| (v, &t[i..]))
}

/// C `sscanf(s, "%d")` into an `int` (glibc converts with strtol and truncates).
pub(crate) fn scan_i32(s: &str) -> Option<i32> {
    scan_int(s).map(|(v, _)| v as i32)
}

/// C `sscanf(s, "%30lf")`: the longest numeric prefix (after whitespace) as a double.
pub(crate) fn scan_double(s: &str) -> Option<f64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t: String = t.chars().take(30).collect();
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let lower = t[i..].to_ascii_lowercase();
    let neg = b.first() == Some(&b'-');
    let sign = if neg { -1.0 } else { 1.0 };
    if lower.starts_with("inf") {
        return Some(sign * f64::INFINITY);
    }
    if lower.starts_with("nan") {
        return Some(f64::NAN);
    }
    if let Some(digits) = lower.strip_prefix("0x") {
        let hex: String = digits
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        if hex.is_empty() {
            return Some(0.0 * sign);
        }
        let v = hex
            .chars()
            .fold(0f64, |a, c| a * 16.0 + c.to_digit(16).unwrap_or(0) as f64);
        return Some(sign * v);
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let ds = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > ds {
            i = j;
        }
    }
    t[..i].parse::<f64>().ok()
}

/// The value of `${name}` for a function that takes a variable *name* (CUT, SHIFT, …).
/// Plain names are looked up directly (built-ins, channel variables, globals); a
/// function call (`CALLERID(num)`, `PASSTHRU(a-b)`) is read through the registry; anything
/// else (`X:1:2`) goes through substitution, exactly as Asterisk builds `${name}` and
/// substitutes it.
pub(crate) fn var_value(chan: &mut Channel, name: &str) -> String {
    if !name.contains(['(', ':', '$', '[', '{']) {
        return crate::pbx::exec::get_var(chan, name).unwrap_or_default();
    }
    if name.ends_with(')') {
        if let Some((fname, fargs)) = super::split_call(name) {
            let pbx = chan.pbx.clone();
            if let Some(f) = pbx.funcs.get(fname) {
                return match f.read(chan, fargs) {
                    Ok(v) => v,
                    Err(e) => {
                        pbx.warning(&format!("pbx_functions.c: {name}: {e}"));
                        String::new()
                    }
                };
            }
        }
    }
    crate::pbx::exec::substitute(chan, &format!("${{{name}}}"))
}

/// `pbx_builtin_setvar_helper`: `NAME(args)` writes a function, anything else sets a
/// channel variable (an empty value unsets it).
pub(crate) fn set_var_helper(chan: &mut Channel, name: &str, value: &str) {
    if name.ends_with(')') && name.contains('(') {
        crate::pbx::exec::write_func(chan, name, value);
    } else {
        chan.set_var(name, value);
    }
}

/// A C string stops at the first NUL.
fn c_str(mut s: String) -> String {
    if let Some(p) = s.find('\0') {
        s.truncate(p);
    }
    s
}

/// `strsep`-style split of `s` on one delimiter character (NUL = no delimiter at all).
fn strsep_fields(s: &str, delim: char) -> Vec<&str> {
    if delim == '\0' {
        vec![s]
    } else {
        s.split(delim).collect()
    }
}

fn arg(args: &[String], n: usize) -> Option<&str> {
    args.get(n).map(String::as_str)
}

/// Declare a function struct with its documentation.
macro_rules! func {
    ($ty:ident, $name:literal, $syn:literal, $syntax:literal, $desc:literal) => {
        pub struct $ty;
        impl $ty {
            const NAME: &'static str = $name;
            const SYNOPSIS: &'static str = $syn;
            const SYNTAX: &'static str = $syntax;
            const DESCRIPTION: &'static str = $desc;
        }
    };
}
pub(crate) use func;

/// The `name`/`synopsis`/`syntax`/`description` part of a `Func` impl.
macro_rules! meta {
    () => {
        fn name(&self) -> &'static str {
            Self::NAME
        }
        fn synopsis(&self) -> &'static str {
            Self::SYNOPSIS
        }
        fn syntax(&self) -> &'static str {
            Self::SYNTAX
        }
        fn description(&self) -> &'static str {
            Self::DESCRIPTION
        }
    };
}
pub(crate) use meta;

// ---------------------------------------------------------------------------------------
// CUT / FIELDQTY / FIELDNUM
// ---------------------------------------------------------------------------------------

func!(
    Cut,
    "CUT",
    "Slices and dices strings, based upon a named delimiter.",
    "CUT(varname,char-delim,range-spec)",
    "Cut out information from a string (varname), based upon a named delimiter. \
     range-spec is a field number (1), a range (1-3, 2-, -2) or several joined with &."
);

impl Func for Cut {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 3, true);
        if a.len() < 3 {
            return Err(FuncError::Usage(
                "Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!".into(),
            ));
        }
        let value = var_value(chan, &a[0]);
        let delim = encoded_char(&a[1]).map(|(c, _)| c).unwrap_or('-');
        cut(chan, &value, delim, &a[2])
    }
}

fn cut(chan: &Channel, value: &str, delim: char, spec: &str) -> Result<String, FuncError> {
    let mut out = String::new();
    if value.is_empty() {
        return Ok(out);
    }
    let fields = strsep_fields(value, delim);
    let mut cur = 0usize; // index of the next unread field (Asterisk's curfieldnum - 1)
    let mut count = 0;
    for range in spec.split('&') {
        if cur >= fields.len() {
            break;
        }
        let (start, stop) = parse_range(range).ok_or_else(|| {
            FuncError::Usage("Usage: CUT(<varname>,<char-delim>,<range-spec>)".into())
        })?;
        while cur < fields.len() && ((cur + 1) as i64) < start {
            cur += 1;
        }
        if (cur + 1) as i64 > start {
            chan.pbx
                .warning("func_cut.c: We're already past the field you wanted?");
        }
        while cur < fields.len() && (cur as i64) < stop {
            if count > 0 {
                out.push(delim);
            }
            out.push_str(fields[cur]);
            count += 1;
            cur += 1;
        }
    }
    Ok(c_str(out))
}

/// A range as func_cut tries its sscanf patterns, in order: `N-M`, `-M`, `N-`, `N`.
fn parse_range(r: &str) -> Option<(i64, i64)> {
    let first = scan_int(r);
    if let Some((a, rest)) = first {
        if let Some(after) = rest.strip_prefix('-') {
            if let Some((b, _)) = scan_int(after) {
                return Some((a, b));
            }
        }
    }
    if let Some(after) = r.strip_prefix('-') {
        if let Some((b, _)) = scan_int(after) {
            return Some((1, b));
        }
    }
    let (a, rest) = first?;
    if rest.starts_with('-') {
        return Some((a, i64::from(i32::MAX)));
    }
    Some((a, a))
}

func!(
    FieldQty,
    "FIELDQTY",
    "Count the fields with an arbitrary delimiter",
    "FIELDQTY(varname,delim)",
    "The delimiter may be specified as a special or extended ASCII character, by encoding it (\\n, \\t, \\x41)."
);

impl Func for FieldQty {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 2, true);
        let Some(delim) = arg(&a, 1) else {
            return Ok("1".into());
        };
        let d = encoded_char(delim).map(|(c, _)| c).unwrap_or('\0');
        let value = var_value(chan, arg(&a, 0).unwrap_or(""));
        if value.is_empty() {
            return Ok("0".into());
        }
        Ok(strsep_fields(&value, d).len().to_string())
    }
}

func!(
    FieldNum,
    "FIELDNUM",
    "Return the 1-based offset of a field in a list",
    "FIELDNUM(varname,delim,value)",
    "Search the variable named varname for the string value delimited by delim and return \
     a 1-based offset as to its location. If not found or an error occured, return 0."
);

impl Func for FieldNum {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 3, true);
        if a.len() < 3 {
            return Err(FuncError::Usage(
                "Usage: FIELDNUM(<listname>,<delimiter>,<fieldvalue>)".into(),
            ));
        }
        let value = var_value(chan, &a[0]);
        if value.is_empty() || a[1].is_empty() {
            return Ok("0".into());
        }
        let Some((d, _)) = encoded_char(&a[1]) else {
            return Err(FuncError::Usage(format!("Invalid delimiter '{}'", a[1])));
        };
        let pos = strsep_fields(&value, d)
            .iter()
            .position(|f| f.eq_ignore_ascii_case(&a[2]))
            .map(|p| p + 1)
            .unwrap_or(0);
        Ok(pos.to_string())
    }
}

// ---------------------------------------------------------------------------------------
// FILTER / LEN / REGEX
// ---------------------------------------------------------------------------------------

func!(
    Filter,
    "FILTER",
    "Filter the string to include only the allowed characters",
    "FILTER(allowed-chars,string)",
    "Permits all characters listed in allowed-chars, filtering all others outs. Ranges \
     (0-9A-Z) and escapes (\\x41, \\n, \\t) are allowed."
);

impl Func for Filter {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 2, false);
        let (Some(allowed), Some(string)) = (arg(&a, 0), arg(&a, 1)) else {
            return Err(FuncError::Usage(
                "Usage: FILTER(<allowed-chars>,<string>)".into(),
            ));
        };
        if allowed.starts_with('"') {
            chan.pbx.warning(
                "func_strings.c: FILTER allowed characters includes the quote (\") character.  This may not be what you want.",
            );
        }
        let mut set: Vec<(u32, u32)> = Vec::new();
        let mut rest = allowed;
        let advance = |s: &str, n: usize| -> usize {
            s.char_indices().nth(n).map(|(i, _)| i).unwrap_or(s.len())
        };
        while !rest.is_empty() {
            let Some((c1, used)) = encoded_char(rest) else {
                return Err(FuncError::Usage(format!(
                    "Invalid escape in FILTER allowed characters '{allowed}'"
                )));
            };
            rest = &rest[advance(rest, used)..];
            if let Some(after) = rest.strip_prefix('-') {
                let (c2, used2) = match encoded_char(after) {
                    Some((c, u)) => (c, u),
                    None => (c1, if after.is_empty() { 0 } else { 1 }),
                };
                rest = &after[advance(after, used2)..];
                let (a, b) = (c1 as u32, c2 as u32);
                if b < a {
                    chan.pbx.warning(&format!(
                        "func_strings.c: Range wrapping in FILTER({args}).  This may not be what you want."
                    ));
                    // The byte counter wraps past 255 back to 0.
                    set.push((a, a.max(255)));
                    set.push((0, b));
                } else {
                    set.push((a, b));
                }
            } else {
                set.push((c1 as u32, c1 as u32));
            }
        }
        Ok(string
            .chars()
            .filter(|&ch| {
                let v = ch as u32;
                v != 0 && set.iter().any(|&(lo, hi)| lo <= v && v <= hi)
            })
            .collect())
    }
}

func!(
    Len,
    "LEN",
    "Return the length of the string given.",
    "LEN(string)",
    "Returns the length of the string given (in bytes)."
);

impl Func for Len {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.len().to_string())
    }
}

func!(
    Regex,
    "REGEX",
    "Check string against a regular expression.",
    "REGEX(\"regular expression\" string)",
    "Return 1 on regular expression match or 0 otherwise. The delimiter between the \
     regular expression and the string is a quote; one space or tab after it is skipped."
);

impl Func for Regex {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, '"', 3, true);
        if a.len() != 3 {
            return Err(FuncError::Usage(
                "Unexpected arguments: should have been in the form '\"<regex>\" <string>'".into(),
            ));
        }
        let s = a[2]
            .strip_prefix(' ')
            .or_else(|| a[2].strip_prefix('\t'))
            .unwrap_or(&a[2]);
        let re = regex::RegexBuilder::new(&a[1])
            .size_limit(1 << 20)
            .build()
            .map_err(|e| FuncError::Other(format!("Malformed input REGEX({args}): {e}")))?;
        Ok(if re.is_match(s) { "1" } else { "0" }.into())
    }
}

// ---------------------------------------------------------------------------------------
// REPLACE / STRREPLACE / STRBETWEEN
// ---------------------------------------------------------------------------------------

func!(
    Replace,
    "REPLACE",
    "Replace a set of characters in a given string with another character.",
    "REPLACE(varname,find-chars[,replace-char])",
    "Iterates through a string replacing all the find-chars with replace-char. \
     replace-char may be either empty or contain one character. If empty, all find-chars \
     will be deleted from the output."
);

impl Func for Replace {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 3, true);
        if a.len() < 2 {
            return Err(FuncError::Usage(
                "Usage: REPLACE(<varname>,<search-chars>[,<replace-char>])".into(),
            ));
        }
        let find = c_str(encoded_str(&a[1]));
        let replace = arg(&a, 2)
            .and_then(encoded_char)
            .map(|(c, _)| c)
            .filter(|&c| c != '\0');
        if find.is_empty() || a[0].is_empty() {
            return Err(FuncError::Usage(
                "The characters to search for and the variable name must not be empty.".into(),
            ));
        }
        let value = var_value(chan, &a[0]);
        Ok(value
            .chars()
            .filter_map(|c| if find.contains(c) { replace } else { Some(c) })
            .collect())
    }
}

func!(
    StrReplace,
    "STRREPLACE",
    "Replace instances of a substring within a string with another string.",
    "STRREPLACE(varname,find-string[,replace-string[,max-replacements]])",
    "Searches for all instances of the find-string in provided variable and replaces them \
     with replace-string. If replace-string is an empty string, this will effectively \
     delete that substring. If max-replacements is specified, this function will stop \
     after performing replacements max-replacements times."
);

impl Func for StrReplace {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 5, true);
        if a.len() < 2 {
            return Err(FuncError::Usage(
                "Usage: STRREPLACE(<varname>,<find-string>[,<replace-string>,[<max-replacements>]])"
                    .into(),
            ));
        }
        if a[0].is_empty() {
            return Ok(String::new());
        }
        if a[1].is_empty() {
            return Err(FuncError::Usage("No <find-string> specified".into()));
        }
        let value = var_value(chan, &a[0]);
        let max = match arg(&a, 3).map(|m| scan_i32(m).unwrap_or(0)) {
            Some(n) if n > 0 => n as usize,
            _ => usize::MAX,
        };
        Ok(value.replacen(a[1].as_str(), arg(&a, 2).unwrap_or(""), max))
    }
}

func!(
    StrBetween,
    "STRBETWEEN",
    "Inserts a substring between each character in a string.",
    "STRBETWEEN(varname,insert-string)",
    "Inserts a substring insert-string between each character in varname."
);

impl Func for StrBetween {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 3, true);
        if a.len() != 2 || a[0].is_empty() {
            return Err(FuncError::Usage(
                "Usage: STRBETWEEN(<varname>,<insert-string>)".into(),
            ));
        }
        let value = var_value(chan, &a[0]);
        let mut out = String::new();
        for (i, c) in value.chars().enumerate() {
            if i > 0 {
                out.push_str(&a[1]);
            }
            out.push(c);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// Case, trimming, quoting, passthrough
// ---------------------------------------------------------------------------------------

func!(
    ToUpper,
    "TOUPPER",
    "Convert string to all uppercase letters.",
    "TOUPPER(string)",
    "Example: ${TOUPPER(Example)} returns \"EXAMPLE\""
);
impl Func for ToUpper {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.to_ascii_uppercase())
    }
}

func!(
    ToLower,
    "TOLOWER",
    "Convert string to all lowercase letters.",
    "TOLOWER(string)",
    "Example: ${TOLOWER(Example)} returns \"example\""
);
impl Func for ToLower {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.to_ascii_lowercase())
    }
}

const C_SPACE: [char; 6] = [' ', '\t', '\n', '\r', '\x0b', '\x0c'];

func!(
    Trim,
    "TRIM",
    "Trim leading and trailing whitespace in a string",
    "TRIM(string)",
    "Replaces all leading and trailing whitespace in the provided string."
);
impl Func for Trim {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.trim_matches(C_SPACE).to_string())
    }
}

func!(
    LTrim,
    "LTRIM",
    "Trim leading whitespace in a string",
    "LTRIM(string)",
    "Replaces all leading whitespace in the provided string."
);
impl Func for LTrim {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.trim_start_matches(C_SPACE).to_string())
    }
}

func!(
    RTrim,
    "RTRIM",
    "Trim trailing whitespace in a string",
    "RTRIM(string)",
    "Replaces all trailing whitespace in the provided string."
);
impl Func for RTrim {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.trim_end_matches(C_SPACE).to_string())
    }
}

func!(
    Quote,
    "QUOTE",
    "Quotes a given string, escaping embedded quotes as necessary",
    "QUOTE(string)",
    "Example: ${QUOTE(ab\"c\"de)} will return \"ab\\\"c\\\"de\""
);
impl Func for Quote {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            chan.pbx.warning("func_strings.c: No argument specified!");
            return Ok("\"\"".into());
        }
        let mut out = String::with_capacity(args.len() + 2);
        out.push('"');
        for c in args.chars() {
            if c == '\\' || c == '"' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        Ok(out)
    }
}

func!(
    CsvQuote,
    "CSV_QUOTE",
    "Quotes a given string for use in a CSV file, escaping embedded quotes as necessary",
    "CSV_QUOTE(string)",
    "Example: ${CSV_QUOTE(\"a,b\" 123)} will return \"\"\"a,b\"\" 123\""
);
impl Func for CsvQuote {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(format!("\"{}\"", args.replace('"', "\"\"")))
    }
}

func!(
    PassThru,
    "PASSTHRU",
    "Pass the given argument back as a value.",
    "PASSTHRU([string])",
    "Literally returns the given string. The intent is to permit other dialplan \
     functions which take a variable name as an argument to be able to take a literal \
     string, instead."
);
impl Func for PassThru {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.to_string())
    }
}

func!(
    KeypadHash,
    "KEYPADHASH",
    "Hash the letters in string into equivalent keypad numbers.",
    "KEYPADHASH(string)",
    "Example: ${KEYPADHASH(Les)} returns \"537\""
);
impl Func for KeypadHash {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(args.chars().filter_map(keypad_digit).collect())
    }
}

/// The telephone keypad key of a letter or digit (`A`-`C` → `2`, …, `W`-`Z` → `9`; digits
/// are themselves), any case; `None` for anything else.
pub fn keypad_digit(c: char) -> Option<char> {
    Some(match c.to_ascii_uppercase() {
        d @ ('0' | '1') => d,
        'A' | 'B' | 'C' | '2' => '2',
        'D' | 'E' | 'F' | '3' => '3',
        'G' | 'H' | 'I' | '4' => '4',
        'J' | 'K' | 'L' | '5' => '5',
        'M' | 'N' | 'O' | '6' => '6',
        'P' | 'Q' | 'R' | 'S' | '7' => '7',
        'T' | 'U' | 'V' | '8' => '8',
        'W' | 'X' | 'Y' | 'Z' | '9' => '9',
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// SHIFT / POP / PUSH / UNSHIFT
// ---------------------------------------------------------------------------------------

/// Which end of the list an array function works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Front,
    Back,
}

pub struct ShiftPop {
    name: &'static str,
    end: End,
}

impl ShiftPop {
    fn list_delim(a: &[String]) -> char {
        match arg(a, 1) {
            Some(d) if !d.is_empty() => encoded_char(d).map(|(c, _)| c).unwrap_or(','),
            _ => ',',
        }
    }
}

impl Func for ShiftPop {
    fn name(&self) -> &'static str {
        self.name
    }
    fn synopsis(&self) -> &'static str {
        match self.end {
            End::Front => {
                "Removes and returns the first item off of a variable containing delimited text"
            }
            End::Back => {
                "Removes and returns the last item off of a variable containing delimited text"
            }
        }
    }
    fn syntax(&self) -> &'static str {
        match self.end {
            End::Front => "SHIFT(varname[,delimiter])",
            End::Back => "POP(varname[,delimiter])",
        }
    }
    fn description(&self) -> &'static str {
        "The variable is modified: the item is removed from it. The delimiter defaults to ','."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 2, true);
        let var = arg(&a, 0).unwrap_or("");
        if var.is_empty() {
            return Err(FuncError::Usage(format!(
                "{} requires a variable name",
                self.name
            )));
        }
        let before = var_value(chan, var);
        if before.is_empty() {
            return Ok(String::new());
        }
        let d = Self::list_delim(&a);
        let split = match self.end {
            End::Front => before.split_once(d),
            End::Back => before.rsplit_once(d),
        };
        let Some((head, tail)) = split else {
            set_var_helper(chan, var, "");
            return Ok(before);
        };
        let (item, remaining) = match self.end {
            End::Front => (head, tail),
            End::Back => (tail, head),
        };
        let (item, remaining) = (item.to_string(), remaining.to_string());
        set_var_helper(chan, var, &remaining);
        Ok(item)
    }
}

pub struct PushUnshift {
    name: &'static str,
    end: End,
}

impl Func for PushUnshift {
    fn name(&self) -> &'static str {
        self.name
    }
    fn synopsis(&self) -> &'static str {
        match self.end {
            End::Back => "Appends one or more values to the end of a variable containing delimited text",
            End::Front => "Inserts one or more values to the beginning of a variable containing delimited text",
        }
    }
    fn syntax(&self) -> &'static str {
        match self.end {
            End::Back => "PUSH(varname[,delimiter])",
            End::Front => "UNSHIFT(varname[,delimiter])",
        }
    }
    fn description(&self) -> &'static str {
        "Write-only: Set(PUSH(list)=value). The delimiter defaults to ','."
    }
    fn read(&self, _chan: &mut Channel, _args: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn writable(&self) -> bool {
        true
    }
    fn write(&self, chan: &mut Channel, args: &str, value: &str) -> Result<(), FuncError> {
        let a = separate_args(args, ',', 2, true);
        let var = arg(&a, 0).unwrap_or("");
        if var.is_empty() {
            return Err(FuncError::Usage(format!(
                "{} requires a variable name",
                self.name
            )));
        }
        let d = ShiftPop::list_delim(&a);
        let underscores = var.bytes().take_while(|&b| b == b'_').count().min(2);
        let previous = var_value(chan, &var[underscores..]);
        let new = if previous.is_empty() {
            value.to_string()
        } else {
            match self.end {
                End::Front => format!("{value}{d}{previous}"),
                End::Back => format!("{previous}{d}{value}"),
            }
        };
        set_var_helper(chan, var, &c_str(new));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// SPRINTF
// ---------------------------------------------------------------------------------------

func!(
    Sprintf,
    "SPRINTF",
    "Format a variable according to a format string.",
    "SPRINTF(format,arg1[,arg2[,...]])",
    "Parses the format string specified and returns a string matching that format. \
     Supports most options found in sprintf(3): %d %i %o %u %x %X %c (integers), \
     %e %E %f %F %g %G %a %A (floating point), %s and %%."
);

impl Func for Sprintf {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 101, true);
        let Some(format) = a.first() else {
            return Ok(String::new());
        };
        sprintf(format, &a[1..])
    }
}

/// One `%` conversion's flags, width and precision.
#[derive(Default, Clone)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    prec: Option<usize>,
}

const MAX_WIDTH: usize = 4096;

fn sprintf(format: &str, args: &[String]) -> Result<String, FuncError> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut spec = Spec::default();
        while i < chars.len() && "#0- +'I".contains(chars[i]) {
            match chars[i] {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => {}
            }
            i += 1;
        }
        while i < chars.len() && chars[i].is_ascii_digit() {
            spec.width = (spec.width * 10 + chars[i] as usize - '0' as usize).min(MAX_WIDTH);
            i += 1;
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = 0usize;
            while i < chars.len() && chars[i].is_ascii_digit() {
                p = (p * 10 + chars[i] as usize - '0' as usize).min(MAX_WIDTH);
                i += 1;
            }
            spec.prec = Some(p);
        }
        if i < chars.len() && "hl".contains(chars[i]) {
            if i + 1 < chars.len() && chars[i + 1] == chars[i] {
                i += 1;
            }
            i += 1;
        } else if i < chars.len() && "Lqjzt".contains(chars[i]) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            // A dangling '%' at the end is dropped, as Asterisk does.
            break;
        };
        i += 1;
        let fmt: String = chars[start..i].iter().collect();
        match conv {
            'd' | 'i' | 'o' | 'u' | 'x' | 'X' | 'c' => {
                let a = take(args, &mut next)?;
                let v = scan_i32(a).ok_or_else(|| {
                    FuncError::Other(format!(
                        "Argument '{a}' is not an integer number for format '{fmt}'"
                    ))
                })?;
                out.push_str(&fmt_int(&spec, conv, v));
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 'a' | 'A' => {
                let a = take(args, &mut next)?;
                let v = scan_double(a).ok_or_else(|| {
                    FuncError::Other(format!(
                        "Argument '{a}' is not a floating point number for format '{fmt}'"
                    ))
                })?;
                out.push_str(&fmt_float(&spec, conv, v));
            }
            's' => {
                let a = take(args, &mut next)?;
                let s: String = match spec.prec {
                    Some(p) => a.chars().take(p).collect(),
                    None => a.clone(),
                };
                out.push_str(&pad(&spec, String::new(), s, false));
            }
            '%' => out.push('%'),
            _ => {
                return Err(FuncError::Other(format!(
                    "Format type not supported: '{fmt}' with argument '{}'",
                    args.get(next).map(String::as_str).unwrap_or("")
                )))
            }
        }
    }
    Ok(c_str(out))
}

/// The next SPRINTF argument.
fn take<'a>(args: &'a [String], next: &mut usize) -> Result<&'a String, FuncError> {
    let r = args.get(*next).ok_or_else(|| {
        FuncError::Other("SPRINTF() has more format specifiers than arguments!".into())
    });
    *next += 1;
    r
}

/// Apply width: `prefix` (sign, 0x) stays in front of zero padding.
fn pad(spec: &Spec, prefix: String, body: String, zero_ok: bool) -> String {
    let len = prefix.chars().count() + body.chars().count();
    if len >= spec.width {
        return prefix + &body;
    }
    let fill = spec.width - len;
    if spec.left {
        prefix + &body + &" ".repeat(fill)
    } else if spec.zero && zero_ok {
        prefix + &"0".repeat(fill) + &body
    } else {
        " ".repeat(fill) + &prefix + &body
    }
}

fn fmt_int(spec: &Spec, conv: char, v: i32) -> String {
    if conv == 'c' {
        let b = v as u8;
        let s = if b < 0x80 {
            char::from(b).to_string()
        } else {
            char::REPLACEMENT_CHARACTER.to_string()
        };
        return pad(spec, String::new(), s, false);
    }
    let u = v as u32;
    let (mut prefix, mut digits) = match conv {
        'd' | 'i' => {
            let sign = if v < 0 {
                "-"
            } else if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            };
            (sign.to_string(), v.unsigned_abs().to_string())
        }
        'o' => (String::new(), format!("{u:o}")),
        'u' => (String::new(), u.to_string()),
        'x' => (String::new(), format!("{u:x}")),
        _ => (String::new(), format!("{u:X}")),
    };
    if let Some(p) = spec.prec {
        if p == 0 && v == 0 {
            digits.clear();
        }
        if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    if spec.alt {
        match conv {
            'o' if !digits.starts_with('0') => digits.insert(0, '0'),
            'x' if u != 0 => prefix.push_str("0x"),
            'X' if u != 0 => prefix.push_str("0X"),
            _ => {}
        }
    }
    pad(spec, prefix, digits, spec.prec.is_none())
}

fn fmt_float(spec: &Spec, conv: char, v: f64) -> String {
    let upper = conv.is_ascii_uppercase();
    let sign = if v.is_sign_negative() && !v.is_nan() {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let a = v.abs();
    if !a.is_finite() {
        let s = if a.is_nan() { "nan" } else { "inf" };
        let s = if upper { s.to_uppercase() } else { s.into() };
        return pad(spec, sign.into(), s, false);
    }
    let prec = spec.prec.unwrap_or(6);
    let body = match conv.to_ascii_lowercase() {
        'f' => {
            let mut s = format!("{a:.prec$}");
            if spec.alt && prec == 0 {
                s.push('.');
            }
            s
        }
        'e' => fmt_exp(a, prec, spec.alt),
        'g' => {
            let p = if prec == 0 { 1 } else { prec };
            let exp = if a == 0.0 {
                0
            } else {
                // The exponent after rounding to p significant digits.
                let e = fmt_exp(a, p - 1, false);
                e.rsplit('e')
                    .next()
                    .and_then(|x| x.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let mut s = if exp < -4 || exp >= p as i32 {
                fmt_exp(a, p - 1, spec.alt)
            } else {
                let decimals = (p as i32 - 1 - exp).max(0) as usize;
                format!("{a:.decimals$}")
            };
            if !spec.alt {
                s = strip_zeros(&s);
            }
            s
        }
        _ => fmt_hex_float(a, spec.prec),
    };
    let body = if upper { body.to_uppercase() } else { body };
    pad(spec, sign.into(), body, true)
}

/// `%e` body for a non-negative finite value: `d.ddde+XX`.
fn fmt_exp(a: f64, prec: usize, alt: bool) -> String {
    let s = format!("{a:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut mant = mant.to_string();
    if alt && prec == 0 {
        mant.push('.');
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.unsigned_abs())
}

/// `%g` without `#`: drop trailing zeros of the fraction (and a bare point).
fn strip_zeros(s: &str) -> String {
    let (mant, exp) = match s.find('e') {
        Some(p) => (&s[..p], &s[p..]),
        None => (s, ""),
    };
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    format!("{mant}{exp}")
}

/// `%a` body for a non-negative finite value (glibc style: `0x1.8p+1`).
fn fmt_hex_float(a: f64, prec: Option<usize>) -> String {
    if a == 0.0 {
        return match prec {
            Some(p) if p > 0 => format!("0x0.{}p+0", "0".repeat(p)),
            _ => "0x0p+0".into(),
        };
    }
    let bits = a.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    let (lead, exp) = if raw_exp == 0 {
        (0u64, -1022)
    } else {
        (1u64, raw_exp - 1023)
    };
    let mut lead = lead;
    let mut hex = format!("{mant:013x}");
    if let Some(p) = prec {
        if p < 13 {
            let shift = (13 - p) * 4;
            let rem = mant & ((1u64 << shift) - 1);
            mant >>= shift;
            let half = 1u64 << (shift - 1);
            if rem > half || (rem == half && mant & 1 == 1) {
                mant += 1;
                if mant >> (p * 4) != 0 {
                    mant &= (1u64 << (p * 4)) - 1;
                    lead += 1;
                }
            }
            hex = if p == 0 {
                String::new()
            } else {
                format!("{mant:0p$x}")
            };
        } else {
            hex.push_str(&"0".repeat(p - 13));
        }
    } else {
        hex = hex.trim_end_matches('0').to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    if hex.is_empty() {
        format!("0x{lead}p{sign}{}", exp.unsigned_abs())
    } else {
        format!("0x{lead}.{hex}p{sign}{}", exp.unsigned_abs())
    }
}

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_strings.so", "String handling dialplan functions"),
        register: register_func_strings,
    },
    Family {
        info: ModuleInfo::new("func_cut.so", "Cut out information from a string"),
        register: register_func_cut,
    },
    Family {
        info: ModuleInfo::new("func_sprintf.so", "SPRINTF dialplan function"),
        register: register_func_sprintf,
    },
];

fn register_func_strings(ctx: &ModuleContext) {
    // STRFTIME's server zone is read from /etc here, on the blocking pool (load).
    let _ = super::time::local_tz();
    ctx.register_func(Arc::new(super::channel::HashFunc));
    ctx.register_func(Arc::new(super::channel::HashKeysFunc));
    ctx.register_func(Arc::new(super::channel::ArrayFunc));
    ctx.register_func(Arc::new(super::time::Strftime));
    ctx.register_func(Arc::new(super::time::Strptime));
    super::digest::register_list_funcs(ctx);
    ctx.register_func(Arc::new(super::vars::Eval));
    crate::apps::more::register_clearhash(ctx);
    ctx.register_func(Arc::new(FieldQty));
    ctx.register_func(Arc::new(FieldNum));
    ctx.register_func(Arc::new(Filter));
    ctx.register_func(Arc::new(Len));
    ctx.register_func(Arc::new(Regex));
    ctx.register_func(Arc::new(Replace));
    ctx.register_func(Arc::new(StrReplace));
    ctx.register_func(Arc::new(StrBetween));
    ctx.register_func(Arc::new(ToUpper));
    ctx.register_func(Arc::new(ToLower));
    ctx.register_func(Arc::new(Trim));
    ctx.register_func(Arc::new(LTrim));
    ctx.register_func(Arc::new(RTrim));
    ctx.register_func(Arc::new(Quote));
    ctx.register_func(Arc::new(CsvQuote));
    ctx.register_func(Arc::new(PassThru));
    ctx.register_func(Arc::new(KeypadHash));
    for (name, end) in [("SHIFT", End::Front), ("POP", End::Back)] {
        ctx.register_func(Arc::new(ShiftPop { name, end }));
    }
    for (name, end) in [("UNSHIFT", End::Front), ("PUSH", End::Back)] {
        ctx.register_func(Arc::new(PushUnshift { name, end }));
    }
}

fn register_func_cut(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Cut));
}

fn register_func_sprintf(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Sprintf));
}

/// A throwaway channel for the function tests.
#[cfg(test)]
pub(crate) fn test_chan() -> Channel {
    let pbx = crate::modules::test_pbx();
    Channel::new(
        &pbx,
        "Test/1".into(),
        Arc::new(crate::pbx::channel::NullTech),
    )
}

/// Read `name(args)` through the registry, as the interpreter does.
#[cfg(test)]
pub(crate) fn call(chan: &mut Channel, name: &str, args: &str) -> Result<String, FuncError> {
    let pbx = chan.pbx.clone();
    let f = pbx
        .funcs
        .get(name)
        .unwrap_or_else(|| panic!("{name} not registered"));
    f.read(chan, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(chan: &mut Channel, name: &str, args: &str) -> String {
        call(chan, name, args).unwrap_or_else(|e| panic!("{name}({args}): {e}"))
    }

    #[test]
    fn separate_args_limits_and_remainder() {
        assert_eq!(separate_args("a,b,c", ',', 2, true), vec!["a", "b,c"]);
        assert_eq!(separate_args("a,b,c", ',', 5, true), vec!["a", "b", "c"]);
        assert_eq!(separate_args("a,", ',', 3, true), vec!["a", ""]);
        assert_eq!(separate_args("", ',', 3, true), Vec::<String>::new());
        assert_eq!(separate_args("\"a,b\",c", ',', 3, true), vec!["a,b", "c"]);
        assert_eq!(
            separate_args("\"a,b\",c", ',', 3, false),
            vec!["\"a,b\"", "c"]
        );
        assert_eq!(separate_args("f(a,b),c", ',', 3, true), vec!["f(a,b)", "c"]);
        assert_eq!(separate_args("a\\,b,c", ',', 3, true), vec!["a,b", "c"]);
        assert_eq!(
            separate_args("\"^a.c\" abc", '"', 3, true),
            vec!["", "^a.c", " abc"]
        );
    }

    #[test]
    fn encoded_chars() {
        assert_eq!(encoded_char("a"), Some(('a', 1)));
        assert_eq!(encoded_char("\\n"), Some(('\n', 2)));
        assert_eq!(encoded_char("\\x41b"), Some(('A', 4)));
        assert_eq!(encoded_char("\\x4"), Some(('\x04', 3)));
        assert_eq!(encoded_char("\\0101"), Some(('A', 5)));
        assert_eq!(encoded_char("\\,"), Some((',', 2)));
        assert_eq!(encoded_char("\\xg"), None);
        assert_eq!(encoded_char(""), None);
        assert_eq!(encoded_str("a\\tb"), "a\tb");
    }

    #[test]
    fn scanning_numbers() {
        assert_eq!(scan_i32(" 42abc"), Some(42));
        assert_eq!(scan_i32("-7"), Some(-7));
        assert_eq!(scan_i32("abc"), None);
        assert_eq!(scan_i32("99999999999999999999999"), Some(i64::MAX as i32));
        assert_eq!(scan_double("3.5x"), Some(3.5));
        assert_eq!(scan_double("1e3"), Some(1000.0));
        assert_eq!(scan_double("1e"), Some(1.0));
        assert_eq!(scan_double("."), None);
        assert_eq!(scan_double("-.5"), Some(-0.5));
        assert_eq!(scan_double("0x10"), Some(16.0));
    }

    #[test]
    fn cut_ranges() {
        let mut c = test_chan();
        c.set_var("X", "a-b-c-d-e");
        assert_eq!(ok(&mut c, "CUT", "X,,1"), "a");
        assert_eq!(ok(&mut c, "CUT", "X,-,2-3"), "b-c");
        assert_eq!(ok(&mut c, "CUT", "X,,4-"), "d-e");
        assert_eq!(ok(&mut c, "CUT", "X,,-2"), "a-b");
        assert_eq!(ok(&mut c, "CUT", "X,,1&3&5"), "a-c-e");
        assert_eq!(ok(&mut c, "CUT", "X,,9"), "");
        c.set_var("Y", "one,two,three");
        assert_eq!(ok(&mut c, "CUT", "Y,\\,,2"), "two");
        assert_eq!(ok(&mut c, "CUT", "Y,\",\",3"), "three");
        c.set_var("Z", "a b c");
        assert_eq!(ok(&mut c, "CUT", "Z, ,2-"), "b c");
        assert_eq!(ok(&mut c, "CUT", "UNSET,,1"), "");
        // Fields are not reordered: a backwards range yields nothing more.
        assert_eq!(ok(&mut c, "CUT", "X,,3&1"), "c");
        // Builtins and function calls work as variable names.
        assert_eq!(ok(&mut c, "CUT", "CHANNEL,/,1"), "Test");
        assert_eq!(ok(&mut c, "CUT", "PASSTHRU(x-y-z),-,2"), "y");
        assert_eq!(ok(&mut c, "FIELDQTY", "PASSTHRU(x-y-z),-"), "3");
    }

    #[test]
    fn cut_errors() {
        let mut c = test_chan();
        c.set_var("X", "a-b");
        assert!(
            matches!(call(&mut c, "CUT", "X"), Err(FuncError::Usage(m)) if m.contains("missing argument"))
        );
        assert!(matches!(call(&mut c, "CUT", ""), Err(FuncError::Usage(_))));
        assert!(
            matches!(call(&mut c, "CUT", "X,,x"), Err(FuncError::Usage(m)) if m.starts_with("Usage"))
        );
        // A huge field number does not loop or overflow.
        assert_eq!(ok(&mut c, "CUT", "X,,99999999999999999999"), "");
        assert_eq!(ok(&mut c, "CUT", "X,,-99999999999999999"), "a-b");
    }

    #[test]
    fn fieldqty_and_fieldnum() {
        let mut c = test_chan();
        c.set_var("L", "ex-amp-le");
        assert_eq!(ok(&mut c, "FIELDQTY", "L,-"), "3");
        assert_eq!(ok(&mut c, "FIELDQTY", "L,x"), "2");
        assert_eq!(ok(&mut c, "FIELDQTY", "L,z"), "1");
        assert_eq!(ok(&mut c, "FIELDQTY", "L"), "1");
        assert_eq!(ok(&mut c, "FIELDQTY", "NOPE,-"), "0");
        c.set_var("T", "a\tb\tc");
        // The last argument is the raw remainder: the escape reaches the function.
        assert_eq!(ok(&mut c, "FIELDQTY", "T,\\t"), "3");
        assert_eq!(ok(&mut c, "FIELDNUM", "L,-,amp"), "2");
        assert_eq!(ok(&mut c, "FIELDNUM", "L,-,AMP"), "2");
        assert_eq!(ok(&mut c, "FIELDNUM", "L,-,nope"), "0");
        assert_eq!(ok(&mut c, "FIELDNUM", "L,,amp"), "0");
        assert!(call(&mut c, "FIELDNUM", "L,-").is_err());
    }

    #[test]
    fn filter() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "FILTER", "0-9,(555) 123-4567"), "5551234567");
        assert_eq!(ok(&mut c, "FILTER", "0123456789,a1b2c3"), "123");
        assert_eq!(ok(&mut c, "FILTER", "A-Z,aBcD"), "BD");
        assert_eq!(ok(&mut c, "FILTER", "\\x41-\\x43,ABCDE"), "ABC");
        assert_eq!(ok(&mut c, "FILTER", "a-,ab-"), "a");
        // The string is the raw remainder: commas are kept.
        assert_eq!(ok(&mut c, "FILTER", "0-9\\,,1,2,a"), "1,2,");
        assert_eq!(ok(&mut c, "FILTER", "a,"), "");
        assert!(call(&mut c, "FILTER", "0-9").is_err());
        assert!(call(&mut c, "FILTER", "\\xZZ,abc").is_err());
        // Wrapping range: z..255 and 0..a.
        assert_eq!(ok(&mut c, "FILTER", "z-a,a m z"), "a  z");
        assert_eq!(ok(&mut c, "FILTER", "é,café"), "é");
    }

    #[test]
    fn len_and_case() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "LEN", "example"), "7");
        assert_eq!(ok(&mut c, "LEN", ""), "0");
        assert_eq!(ok(&mut c, "LEN", "a,b"), "3");
        assert_eq!(ok(&mut c, "TOUPPER", "Example"), "EXAMPLE");
        assert_eq!(ok(&mut c, "TOLOWER", "ExAmPlE"), "example");
        assert_eq!(ok(&mut c, "TOUPPER", "ça"), "çA");
    }

    #[test]
    fn regex() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "REGEX", "\"^[0-9]+$\" 12345"), "1");
        assert_eq!(ok(&mut c, "REGEX", "\"^[0-9]+$\" 12a45"), "0");
        assert_eq!(ok(&mut c, "REGEX", "\"^abc\" abcdef"), "1");
        // Only one space is skipped.
        assert_eq!(ok(&mut c, "REGEX", "\"^abc\"  abc"), "0");
        assert_eq!(ok(&mut c, "REGEX", "\"^$\" "), "1");
        assert_eq!(ok(&mut c, "REGEX", "\"[[:digit:]]\" a1"), "1");
        assert!(matches!(
            call(&mut c, "REGEX", "^abc abc"),
            Err(FuncError::Usage(_))
        ));
        assert!(call(&mut c, "REGEX", "\"(\" abc").is_err());
    }

    #[test]
    fn replace_and_strreplace() {
        let mut c = test_chan();
        c.set_var("X", "555-123-4567");
        assert_eq!(ok(&mut c, "REPLACE", "X,-"), "5551234567");
        assert_eq!(ok(&mut c, "REPLACE", "X,-,."), "555.123.4567");
        assert_eq!(ok(&mut c, "REPLACE", "X,5-,x"), "xxxx123x4x67");
        assert_eq!(ok(&mut c, "REPLACE", "UNSET,-"), "");
        assert!(call(&mut c, "REPLACE", "X").is_err());
        assert!(call(&mut c, "REPLACE", "X,").is_err());
        c.set_var("S", "foo bar foo baz foo");
        assert_eq!(ok(&mut c, "STRREPLACE", "S,foo,qux"), "qux bar qux baz qux");
        assert_eq!(ok(&mut c, "STRREPLACE", "S,foo"), " bar  baz ");
        assert_eq!(ok(&mut c, "STRREPLACE", "S,foo,X,2"), "X bar X baz foo");
        assert_eq!(ok(&mut c, "STRREPLACE", "S,foo,X,0"), "X bar X baz X");
        assert_eq!(ok(&mut c, "STRREPLACE", "S,foo,X,-1"), "X bar X baz X");
        assert_eq!(ok(&mut c, "STRREPLACE", "S,nope,X"), "foo bar foo baz foo");
        assert!(matches!(
            call(&mut c, "STRREPLACE", "S,"),
            Err(FuncError::Usage(_))
        ));
        assert!(call(&mut c, "STRREPLACE", "S").is_err());
        assert_eq!(ok(&mut c, "STRREPLACE", ",foo"), "");
    }

    #[test]
    fn strbetween_and_keypad() {
        let mut c = test_chan();
        c.set_var("N", "5551212");
        assert_eq!(ok(&mut c, "STRBETWEEN", "N,w"), "5w5w5w1w2w1w2");
        assert_eq!(ok(&mut c, "STRBETWEEN", "N,"), "5551212");
        assert!(call(&mut c, "STRBETWEEN", "N").is_err());
        assert!(call(&mut c, "STRBETWEEN", "N,a,b").is_err());
        assert_eq!(ok(&mut c, "KEYPADHASH", "Les"), "537");
        assert_eq!(ok(&mut c, "KEYPADHASH", "1-800-FLOWERS"), "18003569377");
    }

    #[test]
    fn trims_and_quotes() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "TRIM", "  a b \t"), "a b");
        assert_eq!(ok(&mut c, "LTRIM", "  a b "), "a b ");
        assert_eq!(ok(&mut c, "RTRIM", "  a b "), "  a b");
        assert_eq!(ok(&mut c, "TRIM", ""), "");
        assert_eq!(ok(&mut c, "QUOTE", "ab\"c\"de"), "\"ab\\\"c\\\"de\"");
        assert_eq!(ok(&mut c, "QUOTE", "a\\b"), "\"a\\\\b\"");
        assert_eq!(ok(&mut c, "QUOTE", ""), "\"\"");
        assert_eq!(
            ok(&mut c, "CSV_QUOTE", "\"a,b\" 123"),
            "\"\"\"a,b\"\" 123\""
        );
        assert_eq!(ok(&mut c, "CSV_QUOTE", ""), "\"\"");
        assert_eq!(ok(&mut c, "PASSTHRU", "a,b"), "a,b");
    }

    #[test]
    fn shift_pop_push_unshift() {
        let mut c = test_chan();
        c.set_var("L", "a,b,c");
        assert_eq!(ok(&mut c, "SHIFT", "L"), "a");
        assert_eq!(c.get_var("L").as_deref(), Some("b,c"));
        assert_eq!(ok(&mut c, "POP", "L"), "c");
        assert_eq!(c.get_var("L").as_deref(), Some("b"));
        assert_eq!(ok(&mut c, "POP", "L"), "b");
        assert_eq!(c.get_var("L"), None);
        assert_eq!(ok(&mut c, "POP", "L"), "");
        assert!(call(&mut c, "SHIFT", "").is_err());

        let pbx = c.pbx.clone();
        let push = pbx.funcs.get("PUSH").unwrap();
        let unshift = pbx.funcs.get("UNSHIFT").unwrap();
        assert!(push.writable());
        assert_eq!(push.read(&mut c, "L"), Err(FuncError::WriteOnly));
        push.write(&mut c, "L", "1").unwrap();
        push.write(&mut c, "L", "2").unwrap();
        unshift.write(&mut c, "L", "0").unwrap();
        assert_eq!(c.get_var("L").as_deref(), Some("0,1,2"));
        push.write(&mut c, "P,|", "x").unwrap();
        push.write(&mut c, "P,|", "y").unwrap();
        assert_eq!(c.get_var("P").as_deref(), Some("x|y"));
        assert_eq!(ok(&mut c, "SHIFT", "P,|"), "x");
        // Inheritance underscores are honoured on write, ignored on read.
        push.write(&mut c, "__H", "a").unwrap();
        push.write(&mut c, "__H", "b").unwrap();
        assert_eq!(c.get_var("H").as_deref(), Some("a,b"));
        assert_eq!(c.vars.inherited().get("H"), Some("a,b"));
        assert!(push.write(&mut c, "", "x").is_err());
    }

    #[test]
    fn sprintf_formats() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "SPRINTF", "%03d,7"), "007");
        assert_eq!(ok(&mut c, "SPRINTF", "%-5s|,ab"), "ab   |");
        assert_eq!(ok(&mut c, "SPRINTF", "%5s|,ab"), "   ab|");
        assert_eq!(ok(&mut c, "SPRINTF", "%.2s,abcdef"), "ab");
        assert_eq!(ok(&mut c, "SPRINTF", "%x %X %o,255,255,8"), "ff FF 10");
        assert_eq!(ok(&mut c, "SPRINTF", "%#x,255"), "0xff");
        assert_eq!(ok(&mut c, "SPRINTF", "%+d % d,5,5"), "+5  5");
        assert_eq!(ok(&mut c, "SPRINTF", "%u,-1"), "4294967295");
        assert_eq!(ok(&mut c, "SPRINTF", "%c,65"), "A");
        assert_eq!(ok(&mut c, "SPRINTF", "%.2f,3.14159"), "3.14");
        assert_eq!(ok(&mut c, "SPRINTF", "%08.3f,-3.14159"), "-003.142");
        assert_eq!(ok(&mut c, "SPRINTF", "%f,1"), "1.000000");
        assert_eq!(ok(&mut c, "SPRINTF", "%e,12345.678"), "1.234568e+04");
        assert_eq!(ok(&mut c, "SPRINTF", "%E,0.000123"), "1.230000E-04");
        assert_eq!(ok(&mut c, "SPRINTF", "%g,100000"), "100000");
        assert_eq!(ok(&mut c, "SPRINTF", "%g,1000000"), "1e+06");
        assert_eq!(ok(&mut c, "SPRINTF", "%g,0.0001"), "0.0001");
        assert_eq!(ok(&mut c, "SPRINTF", "%g,0.00001"), "1e-05");
        assert_eq!(ok(&mut c, "SPRINTF", "%g,3.10"), "3.1");
        assert_eq!(ok(&mut c, "SPRINTF", "%a,3"), "0x1.8p+1");
        assert_eq!(ok(&mut c, "SPRINTF", "%a,1"), "0x1p+0");
        assert_eq!(ok(&mut c, "SPRINTF", "100%%"), "100%");
        assert_eq!(ok(&mut c, "SPRINTF", "%ld-%hhd,5,6"), "5-6");
        assert_eq!(ok(&mut c, "SPRINTF", "%s and %s,a,b"), "a and b");
        assert_eq!(ok(&mut c, "SPRINTF", "%d,12abc"), "12");
        assert!(call(&mut c, "SPRINTF", "%d,abc").is_err());
        assert!(call(&mut c, "SPRINTF", "%f,abc").is_err());
        assert!(call(&mut c, "SPRINTF", "%d %d,1").is_err());
        assert!(call(&mut c, "SPRINTF", "%k,1").is_err());
        assert_eq!(ok(&mut c, "SPRINTF", "%99999999999d,1").len(), MAX_WIDTH);
        assert_eq!(ok(&mut c, "SPRINTF", ""), "");
        assert_eq!(ok(&mut c, "SPRINTF", "abc%"), "abc");
    }

    #[test]
    fn no_function_panics_on_odd_input() {
        let mut c = test_chan();
        c.set_var("V", "é-ü,x\\y-");
        let inputs = [
            "",
            ",",
            ",,,",
            "\\",
            "\\x",
            "\\0",
            "\"",
            "\"\"",
            "(",
            ")",
            "[",
            "{",
            "V",
            "V,",
            "V,\\",
            "V,é,1-",
            "V,-,-",
            "V,-,&&",
            "V,-,2147483648-",
            "-",
            "99999999999999999999999999",
            "-99999999999999999999",
            "1e999",
            "nan",
            "%",
            "%99999999999.99999999999f,1",
            "%lld%hhx%q,1,2,3",
            "é?ü:ö",
            "?:",
            "0x",
            "1/0",
            "-",
            "--",
            "AND",
            "<<",
            ">>",
            "==",
            "=",
            "é*ü",
            "2^99999",
            "*,*,*,*?",
            "\"\\\" é",
            "\"é\" é",
            "%zz%",
            "====",
            "é\u{0}",
            "1141219835,é,%é%",
            "V,\\x00",
            "V,\\0",
            "V,,,,,",
            "é,é,é,é",
        ];
        // Only this branch's families: other functions may have side effects (SHELL, …).
        let pbx = crate::pbx::Pbx::for_tests();
        let ctx = crate::pbx::module::ModuleContext::new(&pbx, "test");
        for t in [
            MODULES,
            super::super::logic::MODULES,
            super::super::math::MODULES,
            super::super::encoding::MODULES,
        ] {
            for f in t {
                (f.register)(&ctx);
            }
        }
        let r = &pbx.funcs;
        assert!(r.list().len() >= 40);
        for f in r.list() {
            for input in inputs {
                let _ = f.read(&mut c, input);
                if f.writable() {
                    let _ = f.write(&mut c, input, input);
                }
                c.set_var("V", "é-ü,x\\y-");
            }
        }
    }
}
