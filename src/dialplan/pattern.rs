//! Extension names and patterns, compiled once, matched on the hot path.
//!
//! # Syntax (Asterisk 20, `main/pbx.c`)
//!
//! A name that does not start with `_` is a *literal*: it matches exactly, byte for byte
//! (case-sensitive), except that `-` is "eye candy" and ignored on both sides, so
//! `555-1212` matches `5551212` and `555-12-12`.
//!
//! A name starting with `_` is a *pattern*; after the `_`:
//!
//! | element | matches |
//! |---|---|
//! | `X` / `x` | one of `0-9` |
//! | `Z` / `z` | one of `1-9` |
//! | `N` / `n` | one of `2-9` |
//! | `[...]` | one character of the set; `a-c` is a range, anything else is itself; the set ends at the first `]`, so `[]` is an empty set that is ignored, `[-]` holds `-`, and a reversed range such as `[9-1]` holds nothing (never matches) |
//! | `.` | one or more characters of anything (the match is decided there) |
//! | `!` | zero or more characters of anything, and the match is "early": it matches as soon as it is reached, even with no more input, and stops `WaitExten`/`Read` from waiting for more |
//! | `-`, space | ignored (outside sets) |
//! | anything else | itself, case-sensitive |
//!
//! Dialed strings have their `-` ignored too. An unclosed `[` is an error here (Asterisk
//! only logs "Wrong usage of [] in the extension" at match time).
//!
//! # Match modes
//!
//! - [`Pattern::matches`]: the whole string matches (Asterisk `E_MATCH`).
//! - [`Pattern::can_match`]: the string matches, or could with more characters
//!   (`E_CANMATCH`).
//! - [`Pattern::match_more`]: a longer string would match (`E_MATCHMORE`); always true
//!   after a `.`, true for `!` (as an [`MatchKind::Early`] match).
//!
//! # Precedence (Asterisk's `ext_cmp`)
//!
//! Contexts keep extensions sorted so the first that matches wins:
//!
//! 1. Every literal sorts before every pattern. Literals compare bytewise, ignoring `-`.
//! 2. Two patterns compare element by element (`-` skipped). Each element has a weight:
//!    a set of `k` characters whose smallest byte is `m` weighs `k * 256 + m`; a literal
//!    character `c` is a set of one (`256 + c`), `N` is `[2-9]` (`8*256+'2'`), `Z` is `[1-9]`,
//!    `X` is `[0-9]`; `.` weighs `0x18000`, `!` `0x28000`, the end of the pattern
//!    `0x30000`. The lower weight wins; so fewer choices win, and among equal counts
//!    the lower smallest character wins.
//! 3. Equal weights: the set containing the lower characters wins (Asterisk compares
//!    the 256-bit sets with the lowest character as the most significant bit).
//! 4. The first differing position decides. A pattern that ends earlier loses against
//!    one that continues (the end weighs more than anything), so `_X.` sorts before `_X`.
//!
//! Consequences: `_12X < _1XX < _XXX < _X. < _.` and `_!`; `_[2-5]XX` (4 choices)
//! beats `_NXX` (8); `_NXX` and `_[2-9]XX` are the *same* pattern (Asterisk merges them
//! into one extension), so are `_x.` and `_X.`. An empty set such as `[]` or `[9-1]`
//! is skipped for ordering, as Asterisk does.
use std::borrow::Cow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// A set of bytes, bit `63 - (c % 64)` of word `c / 64` for byte `c`: comparing two
/// sets as arrays orders them the way Asterisk's `memcmp` of its bitmaps does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet([0; 4]);

    fn range(lo: u8, hi: u8) -> ByteSet {
        let mut s = ByteSet::EMPTY;
        for c in lo..=hi {
            s.insert(c);
        }
        s
    }
    #[inline]
    fn insert(&mut self, c: u8) {
        self.0[(c >> 6) as usize] |= 1u64 << (63 - (c & 63));
    }
    #[inline]
    fn contains(&self, c: u8) -> bool {
        self.0[(c >> 6) as usize] & (1u64 << (63 - (c & 63))) != 0
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    fn min(&self) -> Option<u8> {
        (0..=255u8).find(|&c| self.contains(c))
    }
}

/// One compiled pattern element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Elem {
    /// A single literal byte (also a one-element set, normalised to this).
    Char(u8),
    /// `X`, `Z`, `N`, `[...]` with two or more members (or none: never matches).
    Set(Box<ByteSet>),
    /// `.`
    Dot,
    /// `!`
    Bang,
}

const W_DOT: u32 = 0x18000;
const W_BANG: u32 = 0x28000;
const W_END: u32 = 0x30000;

impl Elem {
    /// Asterisk's `ext_cmp_pattern_pos` weight, and the set for tie-breaking.
    fn weight(&self) -> (u32, ByteSet) {
        match self {
            Elem::Char(c) => {
                let mut s = ByteSet::EMPTY;
                s.insert(*c);
                (0x100 | *c as u32, s)
            }
            Elem::Set(s) => (s.count() << 8 | s.min().unwrap_or(0) as u32, **s),
            Elem::Dot => (W_DOT, ByteSet::EMPTY),
            Elem::Bang => (W_BANG, ByteSet::EMPTY),
        }
    }
    fn is_empty_set(&self) -> bool {
        matches!(self, Elem::Set(s) if s.count() == 0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Compiled {
    /// Literal name with `-` removed.
    Literal(Box<str>),
    Pattern(Box<[Elem]>),
}

/// A compiled extension name: literal (`100`) or pattern (`_NXX.`).
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As written, e.g. `_X.` or `555-1212`.
    pub raw: String,
    compiled: Compiled,
}

/// Two patterns are equal when Asterisk would treat them as the same extension name
/// (`_NXX` = `_[2-9]XX`, `555-1212` = `5551212`), whatever their spelling.
impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.compiled == other.compiled
    }
}
impl Eq for Pattern {}
impl Hash for Pattern {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.compiled.hash(state)
    }
}

/// Which question is asked of a pattern (Asterisk's `E_MATCH`, `E_CANMATCH`, `E_MATCHMORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// The whole string matches.
    Match,
    /// The string matches or could match with more characters.
    CanMatch,
    /// A longer string would match.
    MatchMore,
}

/// Result of matching a dialed string against a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// No match in the asked mode.
    No,
    /// Match in the asked mode.
    Yes,
    /// Matched by reaching a `!`: a match in every mode, and for `MatchMore` a final
    /// "stop waiting" answer.
    Early,
}

impl MatchKind {
    pub fn is_match(self) -> bool {
        self != MatchKind::No
    }
}

impl Pattern {
    /// Compile `raw`. Errors (with a message saying what was expected) for an unclosed
    /// `[` and for a bare `_`.
    pub fn new(raw: &str) -> Result<Pattern, String> {
        let compiled = match raw.strip_prefix('_') {
            None => Compiled::Literal(raw.chars().filter(|&c| c != '-').collect()),
            Some(body) => {
                if body.is_empty() {
                    return Err("empty pattern: expected characters after `_`".into());
                }
                Compiled::Pattern(compile(body)?.into_boxed_slice())
            }
        };
        Ok(Pattern {
            raw: raw.to_string(),
            compiled,
        })
    }

    /// Starts with `_`.
    pub fn is_pattern(&self) -> bool {
        matches!(self.compiled, Compiled::Pattern(_))
    }

    /// For a literal: the name with `-` removed (the key of a context's literal index).
    pub fn literal(&self) -> Option<&str> {
        match &self.compiled {
            Compiled::Literal(s) => Some(s),
            Compiled::Pattern(_) => None,
        }
    }

    /// Complete match of `s`.
    pub fn matches(&self, s: &str) -> bool {
        self.check(s, MatchMode::Match).is_match()
    }
    /// Could `s` followed by more digits match (s is a prefix of a possible match)?
    /// Includes complete matches.
    pub fn can_match(&self, s: &str) -> bool {
        self.check(s, MatchMode::CanMatch).is_match()
    }
    /// Would more digits still (or also) match: Asterisk's matchmore.
    pub fn match_more(&self, s: &str) -> bool {
        self.check(s, MatchMode::MatchMore).is_match()
    }

    /// The general question (Asterisk's `_extension_match_core`).
    pub fn check(&self, s: &str, mode: MatchMode) -> MatchKind {
        match &self.compiled {
            Compiled::Literal(lit) => literal_check(lit.as_bytes(), s.as_bytes(), mode),
            Compiled::Pattern(elems) => {
                if mode == MatchMode::Match && s.starts_with('_') {
                    // Asterisk: a pattern "matches" a string spelling the same pattern
                    // (so `Goto(_X.,1)` finds `_X.`).
                    if let Ok(p) = Pattern::new(s) {
                        if p.compiled == self.compiled {
                            return MatchKind::Yes;
                        }
                    }
                }
                pattern_check(elems, s.as_bytes(), mode)
            }
        }
    }

    /// Asterisk precedence: `Less` = `self` wins over `other` (sorts first).
    pub fn precedence(&self, other: &Pattern) -> Ordering {
        match (&self.compiled, &other.compiled) {
            (Compiled::Literal(a), Compiled::Literal(b)) => a.cmp(b),
            (Compiled::Literal(_), Compiled::Pattern(_)) => Ordering::Less,
            (Compiled::Pattern(_), Compiled::Literal(_)) => Ordering::Greater,
            (Compiled::Pattern(a), Compiled::Pattern(b)) => pattern_cmp(a, b),
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

fn compile(body: &str) -> Result<Vec<Elem>, String> {
    let b = body.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'-' | b' ' => {}
            b'x' | b'X' => out.push(Elem::Set(Box::new(ByteSet::range(b'0', b'9')))),
            b'z' | b'Z' => out.push(Elem::Set(Box::new(ByteSet::range(b'1', b'9')))),
            b'n' | b'N' => out.push(Elem::Set(Box::new(ByteSet::range(b'2', b'9')))),
            b'.' => out.push(Elem::Dot),
            b'!' => out.push(Elem::Bang),
            b'[' => {
                let start = i;
                let Some(len) = b[start..].iter().position(|&x| x == b']') else {
                    return Err(format!(
                        "unclosed `[` at character {} of the pattern: expected `]`",
                        start + 1 // 1-based position of `[` counting the leading `_`
                    ));
                };
                let end = start + len;
                i = end + 1;
                if start == end {
                    continue; // `[]`: ignored, as Asterisk does
                }
                let mut set = ByteSet::EMPTY;
                let mut p = start;
                while p < end {
                    if p + 2 < end && b[p + 1] == b'-' {
                        if b[p] <= b[p + 2] {
                            for x in b[p]..=b[p + 2] {
                                set.insert(x);
                            }
                        }
                        p += 3;
                    } else {
                        set.insert(b[p]);
                        p += 1;
                    }
                }
                if set.count() == 1 {
                    out.push(Elem::Char(set.min().unwrap_or(0)));
                } else {
                    out.push(Elem::Set(Box::new(set)));
                }
            }
            _ => out.push(Elem::Char(c)),
        }
    }
    Ok(out)
}

/// Next byte of `s` at or after `*i`, skipping `-`.
#[inline]
fn next_non_dash(s: &[u8], i: &mut usize) -> Option<u8> {
    while *i < s.len() && s[*i] == b'-' {
        *i += 1;
    }
    s.get(*i).copied()
}

fn literal_check(lit: &[u8], s: &[u8], mode: MatchMode) -> MatchKind {
    // `lit` has no dashes; `s` may.
    let mut i = 0;
    let mut j = 0;
    loop {
        match next_non_dash(s, &mut j) {
            None => {
                let exact = i == lit.len();
                let ok = match mode {
                    MatchMode::Match => exact,
                    MatchMode::CanMatch => true,
                    MatchMode::MatchMore => !exact,
                };
                return if ok { MatchKind::Yes } else { MatchKind::No };
            }
            Some(c) => {
                if lit.get(i) != Some(&c) {
                    return MatchKind::No;
                }
                i += 1;
                j += 1;
            }
        }
    }
}

fn pattern_check(elems: &[Elem], s: &[u8], mode: MatchMode) -> MatchKind {
    let mut j = 0;
    for e in elems {
        let Some(c) = next_non_dash(s, &mut j) else {
            // Input exhausted before the pattern.
            return match e {
                Elem::Bang => MatchKind::Early,
                _ if mode == MatchMode::Match => MatchKind::No,
                _ => MatchKind::Yes,
            };
        };
        match e {
            Elem::Char(x) => {
                if *x != c {
                    return MatchKind::No;
                }
            }
            Elem::Set(set) => {
                if !set.contains(c) {
                    return MatchKind::No;
                }
            }
            Elem::Dot => return MatchKind::Yes,
            Elem::Bang => return MatchKind::Early,
        }
        j += 1;
    }
    if next_non_dash(s, &mut j).is_some() {
        return MatchKind::No; // input longer than the pattern
    }
    if mode == MatchMode::MatchMore {
        MatchKind::No
    } else {
        MatchKind::Yes
    }
}

fn pattern_cmp(a: &[Elem], b: &[Elem]) -> Ordering {
    let mut ia = a.iter().filter(|e| !e.is_empty_set());
    let mut ib = b.iter().filter(|e| !e.is_empty_set());
    loop {
        let (wa, sa) = ia.next().map_or((W_END, ByteSet::EMPTY), Elem::weight);
        let (wb, sb) = ib.next().map_or((W_END, ByteSet::EMPTY), Elem::weight);
        let ord = wa.cmp(&wb).then_with(|| sb.0.cmp(&sa.0));
        if ord != Ordering::Equal || wa == W_END {
            return ord;
        }
    }
}

/// Remove Asterisk's "fluff" from a caller-ID match (`ast_shrink_phone_number`):
/// spaces, `(`, `)`; `-` outside `[...]`; `.` unless it is the last character.
pub fn shrink_phone_number(s: &str) -> Cow<'_, str> {
    if !s.contains([' ', '(', ')', '-', '.']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut bracketed = 0i32;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '[' => {
                bracketed += 1;
                out.push(c);
            }
            ']' => {
                bracketed -= 1;
                out.push(c);
            }
            '-' => {
                if bracketed > 0 {
                    out.push(c);
                }
            }
            '.' => {
                if it.peek().is_none() {
                    out.push(c);
                }
            }
            ' ' | '(' | ')' => {}
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::new(s).unwrap()
    }

    #[test]
    fn match_table() {
        // pattern, input, matches, can_match, match_more
        let table: &[(&str, &str, bool, bool, bool)] = &[
            ("100", "100", true, true, false),
            ("100", "10", false, true, true),
            ("100", "", false, true, true),
            ("100", "1000", false, false, false),
            ("100", "101", false, false, false),
            ("555-1212", "5551212", true, true, false),
            ("5551212", "555-1212", true, true, false),
            ("5551212", "555-", false, true, true),
            ("s", "s", true, true, false),
            ("s", "S", false, false, false),
            ("_X", "5", true, true, false),
            ("_X", "a", false, false, false),
            ("_X", "55", false, false, false),
            ("_x", "5", true, true, false),
            ("_Z", "0", false, false, false),
            ("_Z", "1", true, true, false),
            ("_N", "1", false, false, false),
            ("_N", "2", true, true, false),
            ("_n", "9", true, true, false),
            ("_NXX", "212", true, true, false),
            ("_NXX", "21", false, true, true),
            ("_NXX", "112", false, false, false),
            ("_X.", "1", false, true, true),
            ("_X.", "12", true, true, true),
            ("_X.", "123456", true, true, true),
            ("_X.", "", false, true, true),
            ("_X.", "a", false, false, false),
            ("_.", "abc", true, true, true),
            ("_.", "", false, true, true),
            ("_X!", "1", true, true, true),
            ("_X!", "12", true, true, true),
            ("_!", "", true, true, true),
            ("_1!", "2", false, false, false),
            ("_[1-5]", "3", true, true, false),
            ("_[1-5]", "6", false, false, false),
            ("_[1-5a-c]", "b", true, true, false),
            ("_[1-5a-c]", "B", false, false, false),
            ("_[13]", "2", false, false, false),
            ("_[13]", "3", true, true, false),
            ("_[-]", "-", false, true, true),
            ("_[]1", "1", true, true, false),
            ("_[9-1]", "5", false, false, false),
            ("_555-XXXX", "5551234", true, true, false),
            ("_555-XXXX", "555-1234", true, true, false),
            ("_1NXXNXXXXXX", "12125551212", true, true, false),
            ("_1NXXNXXXXXX", "1212555121", false, true, true),
            ("_meetme-XXXX", "meetme1234", true, true, false),
            ("_meetme-XXXX", "meetme-1234", true, true, false),
            ("_meetme-XXXX", "Meetme1234", false, false, false),
            ("_[A-Za-z0-9].", "0000FFFF0001", true, true, true),
            ("_f[n]-.", "fn-BUSY", true, true, true),
            ("_X*X!", "1*2", true, true, true),
            ("_s-.", "s-BUSY", true, true, true),
            ("_s-.", "s", false, true, true),
        ];
        for &(pat, input, m, cm, mm) in table {
            let pt = p(pat);
            assert_eq!(pt.matches(input), m, "matches({pat}, {input:?})");
            assert_eq!(pt.can_match(input), cm, "can_match({pat}, {input:?})");
            assert_eq!(pt.match_more(input), mm, "match_more({pat}, {input:?})");
        }
    }

    #[test]
    fn early_match_kind() {
        assert_eq!(p("_X!").check("1", MatchMode::MatchMore), MatchKind::Early);
        assert_eq!(p("_X.").check("1", MatchMode::MatchMore), MatchKind::Yes);
        assert_eq!(p("_X").check("1", MatchMode::MatchMore), MatchKind::No);
    }

    #[test]
    fn pattern_matches_its_own_spelling() {
        assert!(p("_X.").matches("_X."));
        assert!(p("_X.").matches("_x."));
        assert!(!p("_X.").matches("_N."));
    }

    #[test]
    fn precedence_table() {
        // Each list is in Asterisk's order, best first.
        let orders: &[&[&str]] = &[
            &["100", "_1234", "_12X", "_1XX", "_XXX", "_X.", "_.", "_!"],
            &["_[2-5]XX", "_NXX"],
            &["_NXX", "_ZXX", "_XXX"],
            &["_12", "_1[23]", "_1X"],
            &["_[12]", "_[13]"],
            &["_X.", "_X"],
            &["_X.", "_X!"],
            &["_1X", "_1"],
            &["1", "100", "2", "_1"],
            &["_A", "_B", "_X"],
        ];
        for order in orders {
            for (i, a) in order.iter().enumerate() {
                for (j, b) in order.iter().enumerate() {
                    assert_eq!(
                        p(a).precedence(&p(b)),
                        i.cmp(&j),
                        "precedence({a}, {b}) in {order:?}"
                    );
                }
            }
        }
        let mut v: Vec<Pattern> = [
            "_X.", "_.", "_1XX", "_12X", "_XXX", "12", "_NXX", "_[2-5]XX",
        ]
        .iter()
        .map(|s| p(s))
        .collect();
        v.sort_by(|a, b| a.precedence(b));
        let got: Vec<&str> = v.iter().map(|x| x.raw.as_str()).collect();
        assert_eq!(
            got,
            ["12", "_12X", "_1XX", "_[2-5]XX", "_NXX", "_XXX", "_X.", "_."]
        );
    }

    #[test]
    fn equivalent_spellings() {
        assert_eq!(p("_NXX"), p("_[2-9]XX"));
        assert_eq!(p("_nxx"), p("_NXX"));
        assert_eq!(p("_NXX").precedence(&p("_[2-9]xx")), Ordering::Equal);
        assert_eq!(p("555-1212"), p("5551212"));
        assert_eq!(p("_5[5]5"), p("_555"));
        assert_ne!(p("_555"), p("555"));
    }

    #[test]
    fn errors_and_no_panics() {
        assert!(Pattern::new("_[12").is_err());
        assert!(Pattern::new("_").is_err());
        assert!(Pattern::new("").is_ok());
        for s in [
            "_[",
            "_]",
            "_[]",
            "_[-]",
            "_[--]",
            "_[\u{ff}-\u{1}]",
            "_[a-]",
            "_[-a]",
            "_é.",
            "_[é]",
            "_--",
            "_[\x00-\x7f]",
            "_[\x7f-\u{100}]",
        ] {
            if let Ok(pt) = Pattern::new(s) {
                for input in ["", "1", "é", "-", "\u{ff}", "[", "_[", "_", "_X"] {
                    let _ = (pt.matches(input), pt.can_match(input), pt.match_more(input));
                }
                let _ = pt.precedence(&p("_X."));
            }
        }
    }

    #[test]
    fn shrink() {
        assert_eq!(shrink_phone_number("(555) 123-4567"), "5551234567");
        assert_eq!(shrink_phone_number("_555[0-4]."), "_555[0-4].");
        assert_eq!(shrink_phone_number("1.2"), "12");
    }
}
