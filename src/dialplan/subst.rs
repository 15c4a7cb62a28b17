//! `${}` / `$[]` substitution, matching Asterisk 20's `pbx_substitute_variables_helper_full`.
//!
//! - `${NAME}` is [`Resolver::var`] (unset gives nothing); `${NAME:offset}` and
//!   `${NAME:offset:length}` take a substring: a negative offset counts from the end, a negative
//!   length drops that many characters from the end, out-of-range values clamp. Offsets are in
//!   bytes as in Asterisk; a cut inside a multibyte character drops that partial character.
//!   The offset spec is read like `sscanf("%d:%d")`, so `${X::3}` is all of `X`.
//! - `${FUNC(args)}` (any `(` before the first top-level `:`) is [`Resolver::func`] with the name
//!   before the first `(` and the arguments up to the last `)`; `${FUNC(args):1:2}` takes a
//!   substring of the result. A failed function read inserts nothing.
//! - The inside of `${...}` / `$[...]` is substituted first when it contains `${` or `$[`
//!   (`${${NAME}}`, `${CUT(${X},-,1)}`, `$[${i} + 1]`). Braces nest (`{`/`}` count, as do `[`/`]`
//!   inside `$[`), exactly like Asterisk's scanner.
//! - `$[expr]` is evaluated by [`crate::dialplan::expr`]; a syntax error is reported through
//!   [`Resolver::warn`] and inserts `0`, which is what Asterisk's `ast_expr` does when the parse
//!   fails. An empty result inserts nothing.
//! - A `$` not followed by `{` or `[` is literal; backslashes are not special here (the config
//!   parser already handled them). An unterminated `${abc` warns "missing '}'" and uses the rest
//!   of the text as the name; an unterminated `$[1+2` warns and evaluates the rest.
//!
//! Text without `$` is returned as a plain copy.

use std::borrow::Cow;

use super::expr::{self, ExprContext};

/// What substitution needs from its surroundings (a channel, or globals only).
pub trait Resolver {
    /// Value of variable `name` (built-ins included), `None` when unset.
    fn var(&mut self, name: &str) -> Option<String>;
    /// Read dialplan function `name` with `args` (already substituted).
    /// `None` when no such function (a warning has been logged by the resolver).
    fn func(&mut self, name: &str, args: &str) -> Option<String>;
    /// A warning Asterisk would log during substitution (missing `}`, expression syntax error,
    /// division by zero, ...). Ignored by default.
    fn warn(&mut self, _msg: &str) {}
}

/// Nesting deeper than this is not expanded (protects the stack; Asterisk's fixed buffers make
/// such input meaningless there too).
const MAX_DEPTH: usize = 64;

/// Substitute every `${...}` and `$[...]` in `input`.
pub fn substitute(input: &str, r: &mut dyn Resolver) -> String {
    if !input.as_bytes().contains(&b'$') {
        return input.to_string();
    }
    let mut out = String::with_capacity(input.len() + 16);
    subst_into(input, r, &mut out, 0);
    out
}

/// Substitute `input`, appending the result to `out` (lets callers reuse a buffer).
pub fn substitute_into(input: &str, r: &mut dyn Resolver, out: &mut String) {
    subst_into(input, r, out, 0);
}

/// [`substitute`], also returning the warnings raised (in addition to `r.warn`).
pub fn substitute_with_warnings(input: &str, r: &mut dyn Resolver) -> (String, Vec<String>) {
    struct Collect<'a> {
        inner: &'a mut dyn Resolver,
        warnings: Vec<String>,
    }
    impl Resolver for Collect<'_> {
        fn var(&mut self, name: &str) -> Option<String> {
            self.inner.var(name)
        }
        fn func(&mut self, name: &str, args: &str) -> Option<String> {
            self.inner.func(name, args)
        }
        fn warn(&mut self, msg: &str) {
            self.inner.warn(msg);
            self.warnings.push(msg.to_string());
        }
    }
    let mut c = Collect {
        inner: r,
        warnings: Vec::new(),
    };
    let s = substitute(input, &mut c);
    (s, c.warnings)
}

/// Routes expression functions and warnings to the resolver.
struct ExprAdapter<'a>(&'a mut dyn Resolver);

impl ExprContext for ExprAdapter<'_> {
    fn func(&mut self, name: &str, args: &str) -> Option<String> {
        self.0.func(name, args)
    }
    fn warn(&mut self, msg: &str) {
        self.0.warn(msg);
    }
}

/// Scan a `${`/`$[` body starting at `start` (just after the opener). Returns (end of body,
/// index after the closer, closed?, needs inner substitution?).
fn scan(b: &[u8], start: usize, open: u8, close: u8) -> (usize, usize, bool, bool) {
    let other = if open == b'{' { b'[' } else { b'{' };
    let mut depth = 1usize;
    let mut needsub = false;
    let mut j = start;
    while depth > 0 && j < b.len() {
        let c = b[j];
        let n = b.get(j + 1).copied();
        if c == b'$' && n == Some(open) {
            needsub = true;
            depth += 1;
            j += 1;
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
        } else if c == b'$' && n == Some(other) {
            needsub = true;
            j += 1;
        }
        j += 1;
    }
    if depth == 0 {
        (j - 1, j, true, needsub)
    } else {
        (j, j, false, needsub)
    }
}

fn subst_into(input: &str, r: &mut dyn Resolver, out: &mut String, depth: usize) {
    let b = input.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let Some(rel) = b[i..].iter().position(|&c| c == b'$') else {
            out.push_str(&input[i..]);
            return;
        };
        let p = i + rel;
        out.push_str(&input[i..p]);
        let (open, close) = match b.get(p + 1) {
            Some(b'{') => (b'{', b'}'),
            Some(b'[') => (b'[', b']'),
            _ => {
                out.push('$');
                i = p + 1;
                continue;
            }
        };
        let (body_end, next, closed, needsub) = scan(b, p + 2, open, close);
        i = next;
        if !closed {
            r.warn(if open == b'{' {
                "Error in extension logic (missing '}')"
            } else {
                "Error in extension logic (missing ']')"
            });
        }
        let raw = &input[p + 2..body_end];
        let body: Cow<'_, str> = if needsub {
            if depth >= MAX_DEPTH {
                r.warn("Substitution nested too deeply");
                continue;
            }
            let mut s = String::with_capacity(raw.len() + 16);
            subst_into(raw, r, &mut s, depth + 1);
            Cow::Owned(s)
        } else {
            Cow::Borrowed(raw)
        };
        if open == b'{' {
            expand_var(&body, r, out);
        } else {
            match expr::evaluate_with(&body, &mut ExprAdapter(r)) {
                Ok(v) => out.push_str(&v),
                Err(msg) => {
                    r.warn(&msg);
                    out.push('0');
                }
            }
        }
    }
}

/// Split `NAME:off:len` (first `:` outside parentheses) like Asterisk's `parse_variable_name`.
/// Returns (name, is function, offset, length).
pub fn parse_variable_name(s: &str) -> (&str, bool, i32, i32) {
    let mut parens = 0i32;
    let mut isfunc = false;
    for (k, c) in s.bytes().enumerate() {
        match c {
            b'(' => {
                isfunc = true;
                parens += 1;
            }
            b')' => parens -= 1,
            b':' if parens == 0 => {
                let (off, len) = scan_off_len(&s[k + 1..]);
                return (&s[..k], isfunc, off, len);
            }
            _ => {}
        }
    }
    (s, isfunc, 0, i32::MAX)
}

/// `sscanf(spec, "%30d:%30d", &off, &len)` with defaults 0 and INT_MAX.
fn scan_off_len(spec: &str) -> (i32, i32) {
    let b = spec.as_bytes();
    let mut off = 0;
    let mut len = i32::MAX;
    let mut i = 0;
    if let Some(v) = scan_int(b, &mut i) {
        off = v;
        if b.get(i) == Some(&b':') {
            i += 1;
            if let Some(v) = scan_int(b, &mut i) {
                len = v;
            }
        }
    }
    (off, len)
}

fn scan_int(b: &[u8], i: &mut usize) -> Option<i32> {
    let mut j = *i;
    while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        j += 1;
    }
    let start = j;
    let mut neg = false;
    if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
        neg = b[j] == b'-';
        j += 1;
    }
    let digits_start = j;
    let mut v: i64 = 0;
    while j < b.len() && b[j].is_ascii_digit() && j - start < 30 {
        v = v.saturating_mul(10).saturating_add((b[j] - b'0') as i64);
        j += 1;
    }
    if j == digits_start {
        return None;
    }
    *i = j;
    let v = if neg { -v } else { v };
    Some(v.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
}

/// Asterisk's substring rule on bytes, never splitting a UTF-8 character.
pub fn substring(value: &str, offset: i32, length: i32) -> &str {
    let lr = value.len() as i64;
    let mut offset = offset as i64;
    let length = length as i64;
    if offset == 0 && length >= lr {
        return value;
    }
    if offset < 0 {
        offset = (lr + offset).max(0);
    }
    if offset >= lr {
        return "";
    }
    let rest = lr - offset;
    let end = if length >= 0 && length < rest {
        offset + length
    } else if length < 0 {
        if rest > -length {
            lr + length
        } else {
            return "";
        }
    } else {
        lr
    };
    let mut s = offset as usize;
    let mut e = end as usize;
    while s < value.len() && !value.is_char_boundary(s) {
        s += 1;
    }
    while e > 0 && !value.is_char_boundary(e) {
        e -= 1;
    }
    if s >= e {
        ""
    } else {
        &value[s..e]
    }
}

fn expand_var(body: &str, r: &mut dyn Resolver, out: &mut String) {
    let (name, isfunc, off, len) = parse_variable_name(body);
    let value = if isfunc {
        let open = name.find('(').unwrap_or(name.len());
        let fname = &name[..open];
        let rest = name.get(open + 1..).unwrap_or("");
        let args = match rest.rfind(')') {
            Some(close) => &rest[..close],
            None => {
                r.warn(&format!(
                    "Can't find trailing parenthesis for function '{}'?",
                    name
                ));
                rest
            }
        };
        r.func(fname, args)
    } else {
        r.var(name)
    };
    if let Some(v) = value {
        out.push_str(substring(&v, off, len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fake {
        vars: HashMap<String, String>,
        calls: Vec<(String, String)>,
        warnings: Vec<String>,
    }

    impl Fake {
        fn with(pairs: &[(&str, &str)]) -> Fake {
            Fake {
                vars: pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }
        }
    }

    impl Resolver for Fake {
        fn var(&mut self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn func(&mut self, name: &str, args: &str) -> Option<String> {
            self.calls.push((name.to_string(), args.to_string()));
            match name {
                "LEN" => Some(args.len().to_string()),
                "UPPER" => Some(args.to_uppercase()),
                "CUT" => {
                    let a: Vec<&str> = args.split(',').collect();
                    let field: usize = a.get(2)?.parse().ok()?;
                    let delim = a.get(1)?.chars().next()?;
                    a[0].split(delim)
                        .nth(field.checked_sub(1)?)
                        .map(str::to_string)
                }
                _ => None,
            }
        }
        fn warn(&mut self, msg: &str) {
            self.warnings.push(msg.to_string());
        }
    }

    fn sub(f: &mut Fake, s: &str) -> String {
        substitute(s, f)
    }

    #[test]
    fn plain_and_dollar() {
        let mut f = Fake::default();
        assert_eq!(sub(&mut f, "hello"), "hello");
        assert_eq!(sub(&mut f, ""), "");
        assert_eq!(sub(&mut f, "$"), "$");
        assert_eq!(sub(&mut f, "a$b$"), "a$b$");
        assert_eq!(sub(&mut f, "$$"), "$$");
        assert_eq!(sub(&mut f, "\\${X}"), "\\");
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn simple_vars() {
        let mut f = Fake::with(&[("X", "hello"), ("EMPTY", ""), ("N", "5")]);
        assert_eq!(sub(&mut f, "${X}"), "hello");
        assert_eq!(sub(&mut f, "<${X}>"), "<hello>");
        assert_eq!(sub(&mut f, "${X}${X}"), "hellohello");
        assert_eq!(sub(&mut f, "${UNSET}x"), "x");
        assert_eq!(sub(&mut f, "${EMPTY}x"), "x");
        assert_eq!(sub(&mut f, "${}"), "");
    }

    #[test]
    fn offsets() {
        let mut f = Fake::with(&[("X", "0123456789")]);
        let cases = [
            ("${X:2}", "23456789"),
            ("${X:2:3}", "234"),
            ("${X:-3}", "789"),
            ("${X:-3:2}", "78"),
            ("${X:0:-2}", "01234567"),
            ("${X:2:-2}", "234567"),
            ("${X:-4:-1}", "678"),
            ("${X:20}", ""),
            ("${X:-20}", "0123456789"),
            ("${X:-20:2}", "01"),
            ("${X:0:20}", "0123456789"),
            ("${X:5:-10}", ""),
            ("${X:0:0}", ""),
            ("${X::3}", "0123456789"),
            ("${X:abc}", "0123456789"),
            ("${X: 3:2}", "34"),
            ("${X:3:}", "3456789"),
            ("${X:99999999999999999999}", ""),
            ("${X:-2147483648:-2147483648}", ""),
        ];
        for (input, want) in cases {
            assert_eq!(sub(&mut f, input), want, "{input}");
        }
    }

    #[test]
    fn multibyte() {
        let mut f = Fake::with(&[("U", "héllo€")]);
        assert_eq!(sub(&mut f, "${U}"), "héllo€");
        assert_eq!(sub(&mut f, "${U:1:2}"), "é"); // bytes 1..3
        assert_eq!(sub(&mut f, "${U:2}"), "llo€"); // starts inside 'é'
        assert_eq!(sub(&mut f, "${U:-1}"), ""); // inside '€'
        assert_eq!(sub(&mut f, "${U:-3}"), "€");
        assert_eq!(sub(&mut f, "é${U:0:1}ü"), "éhü");
    }

    #[test]
    fn nested() {
        let mut f = Fake::with(&[("NAME", "X"), ("X", "value"), ("A", "1-2-3"), ("I", "2")]);
        assert_eq!(sub(&mut f, "${${NAME}}"), "value");
        assert_eq!(sub(&mut f, "${${NAME}:1:2}"), "al");
        assert_eq!(sub(&mut f, "${X:${I}}"), "lue");
        assert_eq!(sub(&mut f, "${CUT(${A},-,2)}"), "2");
        assert_eq!(sub(&mut f, "${CUT(${A},-,$[${I}+1])}"), "3");
        assert_eq!(sub(&mut f, "${X:$[1+1]:2}"), "lu");
    }

    #[test]
    fn functions() {
        let mut f = Fake::with(&[("X", "abc")]);
        assert_eq!(sub(&mut f, "${LEN(hello)}"), "5");
        assert_eq!(sub(&mut f, "${UPPER(${X})}"), "ABC");
        assert_eq!(sub(&mut f, "${UPPER(abcdef):1:2}"), "BC");
        assert_eq!(sub(&mut f, "${UPPER(a:b)}"), "A:B");
        assert_eq!(sub(&mut f, "${UPPER(a(b)c)}"), "A(B)C");
        assert_eq!(sub(&mut f, "${NOPE(x)}y"), "y");
        f.calls.clear();
        assert_eq!(sub(&mut f, "${UPPER(x}"), "X");
        assert_eq!(f.calls, [("UPPER".to_string(), "x".to_string())]);
        assert!(f
            .warnings
            .iter()
            .any(|w| w.contains("trailing parenthesis")));
    }

    #[test]
    fn expressions() {
        let mut f = Fake::with(&[("i", "41"), ("S", "a b")]);
        assert_eq!(sub(&mut f, "$[1+2]"), "3");
        assert_eq!(sub(&mut f, "$[${i} + 1]"), "42");
        assert_eq!(sub(&mut f, "$[${i} < 100000]"), "1");
        assert_eq!(sub(&mut f, "x$[ $[1+1] * 3 ]y"), "x6y");
        assert_eq!(sub(&mut f, "$[ LEN(abcd) + 1 ]"), "5");
        assert_eq!(sub(&mut f, "$[\"${S}\" = \"a b\"]"), "1");
        assert_eq!(sub(&mut f, "$[abc : \"[a-z]+\"]"), "3");
        assert_eq!(sub(&mut f, "$[]x"), "x");
        assert_eq!(sub(&mut f, "$[\"${UNSET}\" = \"\"]"), "1");
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        // The classic gotcha: an empty variable leaves ` = 1`, a syntax error, hence 0.
        assert_eq!(sub(&mut f, "$[${UNSET} = 1]"), "0");
        f.warnings.clear();
        assert_eq!(sub(&mut f, "a$[1 +]b"), "a0b");
        // Unquoted brackets are skipped by the scanner: `abc : a - z +` is a syntax error.
        assert_eq!(sub(&mut f, "$[abc : [a-z]+]"), "0");
        assert!(f.warnings[0].contains("syntax error"));
        let (s, w) = substitute_with_warnings("$[1/0]", &mut f);
        assert_eq!(s, "2147483647");
        assert_eq!(w, ["division by zero"]);
    }

    #[test]
    fn unterminated() {
        let mut f = Fake::with(&[("abc", "V")]);
        assert_eq!(sub(&mut f, "x${abc"), "xV");
        assert_eq!(f.warnings, ["Error in extension logic (missing '}')"]);
        f.warnings.clear();
        assert_eq!(sub(&mut f, "x$[1+2"), "x3");
        assert_eq!(f.warnings, ["Error in extension logic (missing ']')"]);
        assert_eq!(sub(&mut f, "${"), "");
        assert_eq!(sub(&mut f, "$["), "");
        assert_eq!(sub(&mut f, "${a{b}"), "");
        assert_eq!(sub(&mut f, "${abc}}"), "V}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut f = Fake::default();
        let s = "${".repeat(10_000);
        let _ = sub(&mut f, &s);
        let s = format!("$[{}1{}]", "(".repeat(10_000), ")".repeat(10_000));
        let _ = sub(&mut f, &s);
        let s = format!("$[{}1]", "- ".repeat(10_000));
        let _ = sub(&mut f, &s);
    }

    #[test]
    fn never_panics_on_random_input() {
        let alphabet: Vec<char> = "${}[]():-0123abc XY,+=é€\"\\".chars().collect();
        let mut f = Fake::with(&[("a", "héllo"), ("X", "1"), ("abc", "$[1+")]);
        let mut rng = crate::testutil::XorShift(0x9E3779B97F4A7C15);
        for _ in 0..20000 {
            let s = rng.string(&alphabet, 20);
            let _ = sub(&mut f, &s);
        }
    }
}
