//! The `$[ ]` expression language, matching Asterisk 20's `ast_expr2` (bison grammar + flex
//! scanner) as closely as pure Rust allows.
//!
//! Semantics reproduced from Asterisk (behaviour, not code):
//!
//! - **Operators**, loosest first: `,` (function arguments only), `? ::` (ternary, left
//!   associative), `|` / `||`, `&` / `&&`, `= == != < > <= >=`, `+ -`, `* / %`, unary `-` and `!`,
//!   `:` `=~` `~~` (regex match, regex search, concatenation), parentheses. Binary operators are
//!   left associative. Because unary minus/not bind looser than `:`/`=~`/`~~`, `- a : b` is
//!   `-(a : b)`.
//! - **Tokens**: operators split words without spaces (`1+2`). A number token is
//!   `[0-9]+(\.[0-9]+)?`; other words are strings (`.5`, `5a`). `"quoted text"` is one string
//!   token and **keeps its quotes** (`$["a b"]` is `"a b"`, `"10" < "9"` is a string compare);
//!   only `:`, `=~` and `~~` strip them. Unknown characters (`~`, `{`, a lone `"`) are skipped.
//! - **Numbers** are long doubles (x87 80-bit; emulated here in software by [`ld`]) printed with
//!   `%.18Lg`: `$[1/3]` is `0.333333333333333333`, `$[10/4]` is `2.5`, `$[0.1+0.2]` is `0.3`.
//! - **Comparisons** are numeric when both sides are numbers/number tokens, else a byte-wise
//!   string compare (numbers printed first). Result `1` or `0`.
//! - `|` returns the left value unless it is empty or numerically zero, else the right one;
//!   `&` returns the left value when both are non-null, else `0`.
//! - Division by zero warns and yields `2147483647` (INT_MAX); `x % 0` warns and yields `0`;
//!   non-numeric arithmetic warns (`non-numeric argument`) and follows Asterisk's fallbacks.
//! - `:` (anchored at the start) and `=~` (anywhere) use POSIX *extended* regexes (translated
//!   to the `regex` crate's syntax, compiled once and cached): they return the first `( )`
//!   capture, or the match length in bytes; no match gives `0` (no groups) or `""`.
//! - Math functions `COS SIN TAN ACOS ASIN ATAN ATAN2 POW SQRT FLOOR CEIL ROUND RINT TRUNC EXP
//!   EXP2 EXP10 LOG LOG2 LOG10 REMAINDER ABS`; any other `NAME(args)` is a dialplan function read
//!   through [`ExprContext::func`] (`0` with an error when unknown). FMOD is not an expression
//!   function in Asterisk either.
//! - An empty expression gives `""`; a syntax error gives `Err` with Asterisk's warning text
//!   (the substitution layer then inserts `0`, as Asterisk does).
//!
//! Known approximations: transcendental functions are computed in `f64` (the last 2-3 of the
//! 18 printed digits may differ from glibc's `sinl` etc.); regexes use leftmost-first rather
//! than POSIX leftmost-longest matching (differs only for alternations like `a|ab`), and `.`
//! matches a character rather than a byte; string compares are byte-wise (`strcoll` in the C
//! locale).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;

use ld::F;

/// What an expression needs from its surroundings: dialplan functions and a place for warnings.
pub trait ExprContext {
    /// Read dialplan function `name` with the comma-joined `args`; `None` when unknown.
    fn func(&mut self, _name: &str, _args: &str) -> Option<String> {
        None
    }
    /// A non-fatal warning Asterisk would log (division by zero, bad regex, ...).
    fn warn(&mut self, _msg: &str) {}
}

/// A context with no functions that drops warnings.
struct NoContext;
impl ExprContext for NoContext {}

/// Evaluate an already-substituted expression. Err carries Asterisk's style of message.
pub fn evaluate(expr: &str) -> Result<String, String> {
    evaluate_with(expr, &mut NoContext)
}

/// The hot case `a OP b` with unsigned decimal integers and a space-separated operator:
/// computed with checked `i64` arithmetic. The result is exactly what the long-double
/// evaluator prints (integers below 10^18 print as plain digits); anything else returns
/// `None` and takes the full path.
fn fast_int_binop(expr: &str) -> Option<String> {
    let mut it = expr.split_ascii_whitespace();
    let (a, op, b) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || t.len() > 17 || !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (x, y) = (num(a)?, num(b)?);
    let v: i64 = match op {
        "+" => x.checked_add(y)?,
        "-" => x.checked_sub(y)?,
        "*" => x.checked_mul(y)?,
        "<" => (x < y) as i64,
        ">" => (x > y) as i64,
        "<=" => (x <= y) as i64,
        ">=" => (x >= y) as i64,
        "=" | "==" => (x == y) as i64,
        "!=" => (x != y) as i64,
        _ => return None,
    };
    if v.unsigned_abs() >= 1_000_000_000_000_000_000 {
        return None;
    }
    Some(v.to_string())
}

/// Like [`evaluate`], with dialplan functions and warnings routed through `ctx`.
pub fn evaluate_with(expr: &str, ctx: &mut dyn ExprContext) -> Result<String, String> {
    if let Some(r) = fast_int_binop(expr) {
        return Ok(r);
    }
    let toks = lex(expr);
    if toks.is_empty() {
        return Ok(String::new());
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        src: expr,
        ctx,
        depth: 0,
    };
    let v = p.ternary()?;
    if p.pos < toks.len() {
        return Err(p.error());
    }
    Ok(v.into_string())
}

// ---------------------------------------------------------------------------------------------
// Values

#[derive(Debug, Clone)]
enum Val<'a> {
    /// A computed number.
    Num(F),
    /// Text that looks numeric (`[0-9.]+`); becomes a number when used as one.
    NumStr(Cow<'a, str>),
    /// Plain text.
    Str(Cow<'a, str>),
}

impl<'a> Val<'a> {
    /// Asterisk's `make_str`: numeric when made of digits and dots only.
    fn make_str(s: Cow<'a, str>) -> Val<'a> {
        let b = s.as_bytes();
        if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
            Val::NumStr(s)
        } else {
            Val::Str(s)
        }
    }

    fn is_string(&self) -> bool {
        matches!(self, Val::Str(_))
    }

    /// Asterisk's `to_number`: the number, or None for a non-numeric string.
    fn to_num(&self) -> Option<F> {
        match self {
            Val::Num(f) => Some(*f),
            Val::NumStr(s) => Some(ld::parse_prefix(s)),
            Val::Str(_) => None,
        }
    }

    /// Converted in place like Asterisk does (a numeric string becomes a number).
    fn numified(self) -> Val<'a> {
        match self {
            Val::NumStr(s) => Val::Num(ld::parse_prefix(&s)),
            v => v,
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Num(f) => Cow::Owned(ld::format(*f)),
            Val::NumStr(s) | Val::Str(s) => Cow::Borrowed(s),
        }
    }

    fn into_string(self) -> String {
        match self {
            Val::Num(f) => ld::format(f),
            Val::NumStr(s) | Val::Str(s) => s.into_owned(),
        }
    }

    /// Asterisk's `is_zero_or_null` (which also numifies numeric strings).
    fn zero_or_null(self) -> (bool, Val<'a>) {
        match self {
            Val::Num(f) => (f.is_zero(), Val::Num(f)),
            Val::Str(s) => (s.is_empty(), Val::Str(s)),
            Val::NumStr(s) => {
                let f = ld::parse_prefix(&s);
                (f.is_zero(), Val::Num(f))
            }
        }
    }
}

fn num(f: F) -> Val<'static> {
    Val::Num(f)
}

fn bool_val(b: bool) -> Val<'static> {
    Val::Num(if b { F::ONE } else { F::ZERO })
}

/// Remove all double quotes when the text both starts and ends with one.
fn strip_quotes(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.starts_with('"') && s.ends_with('"') {
        Cow::Owned(s.replace('"', ""))
    } else {
        s
    }
}

/// C `atoi` (via `strtol`, truncated to `int`).
fn atoi(s: &str) -> i32 {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add((b[i] - b'0') as i64);
        i += 1;
    }
    let v = if neg { v.saturating_neg() } else { v };
    v as i32
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Plus,
    Minus,
    Mult,
    Div,
    Mod,
    Compl,
    Colon,
    EqTilde,
    TildeTilde,
    Cond,
    ColonColon,
    Comma,
    LP,
    RP,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Or => "|",
            Op::And => "&",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Mult => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::Compl => "!",
            Op::Colon => ":",
            Op::EqTilde => "=~",
            Op::TildeTilde => "~~",
            Op::Cond => "?",
            Op::ColonColon => "::",
            Op::Comma => ",",
            Op::LP => "(",
            Op::RP => ")",
        }
    }
}

#[derive(Debug, Clone)]
enum Tok<'a> {
    Op(Op, usize),
    /// A word; `numeric` when it is a number token. The offset is for error carets.
    Word(&'a str, bool, usize),
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".';\\_^#@".contains(&c) || c >= 0x80
}

/// Length of a run of word characters (including `$x` pairs where x is not `{`).
fn word_len(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < b.len() {
        if is_word_byte(b[i]) {
            i += 1;
        } else if b[i] == b'$' && i + 1 < b.len() && b[i + 1] != b'{' {
            i += 2;
        } else {
            break;
        }
    }
    i - start
}

/// Scan a `${...}` token body starting right after `${` at `i`; returns the end of the whole
/// token (after any trailing text), or None when the braces never close (Asterisk drops it).
fn var_token_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        // <var>: braces, counting from 0 after the `${`.
        let mut depth = 0i32;
        loop {
            let rel = b[i..].iter().position(|&c| c == b'{' || c == b'}')?;
            i += rel;
            if b[i] == b'}' {
                depth -= 1;
                i += 1;
                if depth < 0 {
                    break;
                }
            } else {
                depth += 1;
                i += 1;
            }
        }
        // <trail>: text up to an operator/space/`$`.
        while i < b.len() && !b"-\t\r \n$():?%/+=*<>!|&".contains(&b[i]) {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'$' && b[i + 1] == b'{' {
            i += 2;
            continue;
        }
        return Some(i);
    }
}

fn lex(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(8);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let n = b.get(i + 1).copied().unwrap_or(0);
        let two = match (c, n) {
            (b'|', b'|') => Some(Op::Or),
            (b'&', b'&') => Some(Op::And),
            (b'=', b'=') => Some(Op::Eq),
            (b'=', b'~') => Some(Op::EqTilde),
            (b'~', b'~') => Some(Op::TildeTilde),
            (b'>', b'=') => Some(Op::Ge),
            (b'<', b'=') => Some(Op::Le),
            (b'!', b'=') => Some(Op::Ne),
            (b':', b':') => Some(Op::ColonColon),
            _ => None,
        };
        if let Some(op) = two {
            out.push(Tok::Op(op, i));
            i += 2;
            continue;
        }
        let one = match c {
            b'|' => Some(Op::Or),
            b'&' => Some(Op::And),
            b'=' => Some(Op::Eq),
            b'>' => Some(Op::Gt),
            b'<' => Some(Op::Lt),
            b'+' => Some(Op::Plus),
            b',' => Some(Op::Comma),
            b'-' => Some(Op::Minus),
            b'*' => Some(Op::Mult),
            b'/' => Some(Op::Div),
            b'%' => Some(Op::Mod),
            b'?' => Some(Op::Cond),
            b'!' => Some(Op::Compl),
            b':' => Some(Op::Colon),
            b'(' => Some(Op::LP),
            b')' => Some(Op::RP),
            _ => None,
        };
        if let Some(op) = one {
            out.push(Tok::Op(op, i));
            i += 1;
            continue;
        }
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'$' if n == b'{' => {
                match var_token_end(b, i + 2) {
                    Some(end) => {
                        out.push(Tok::Word(&s[i..end], false, i));
                        i = end;
                    }
                    None => i = b.len(),
                }
                continue;
            }
            b'"' => {
                if let Some(rel) = b[i + 1..].iter().position(|&q| q == b'"') {
                    let end = i + 1 + rel + 1;
                    out.push(Tok::Word(&s[i..end], false, i));
                    i = end;
                } else {
                    i += 1; // a lone quote is skipped, like flex's default rule
                }
                continue;
            }
            _ => {}
        }
        let w = word_len(b, i);
        // Number token: [0-9]+(\.[0-9]+)?
        let mut nl = 0;
        while i + nl < b.len() && b[i + nl].is_ascii_digit() {
            nl += 1;
        }
        if nl > 0 && i + nl + 1 < b.len() && b[i + nl] == b'.' && b[i + nl + 1].is_ascii_digit() {
            nl += 1;
            while i + nl < b.len() && b[i + nl].is_ascii_digit() {
                nl += 1;
            }
        }
        if w > 0 && i + w + 1 < b.len() && b[i + w] == b'$' && b[i + w + 1] == b'{' {
            match var_token_end(b, i + w + 2) {
                Some(end) => {
                    out.push(Tok::Word(&s[i..end], false, i));
                    i = end;
                }
                None => i = b.len(),
            }
            continue;
        }
        if nl > 0 && nl >= w {
            out.push(Tok::Word(&s[i..i + nl], true, i));
            i += nl;
        } else if w > 0 {
            // Word boundaries always fall on char boundaries: high bytes are all word bytes.
            let mut end = i + w;
            while !s.is_char_boundary(end) {
                end += 1;
            }
            out.push(Tok::Word(&s[i..end], false, i));
            i = end;
        } else {
            // Unknown character: skipped (flex's default rule echoes it). Skip a whole char.
            i += 1;
            while i < b.len() && !s.is_char_boundary(i) {
                i += 1;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Parser + evaluator (evaluates while parsing; like bison, every operand is evaluated)

struct Parser<'t, 'a, 'c> {
    toks: &'t [Tok<'a>],
    pos: usize,
    src: &'a str,
    ctx: &'c mut dyn ExprContext,
    /// Recursion depth, bounded so hostile input cannot overflow the stack.
    depth: usize,
}

/// Deepest nesting of parentheses / unary operators accepted.
const MAX_DEPTH: usize = 200;

impl<'a> Parser<'_, 'a, '_> {
    fn peek_op(&self) -> Option<Op> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(op, _)) => Some(*op),
            _ => None,
        }
    }

    fn error(&self) -> String {
        let (what, at) = match self.toks.get(self.pos) {
            Some(Tok::Op(op, at)) => (format!("'{}'", op.symbol()), *at),
            Some(Tok::Word(_, _, at)) => ("'<token>'".to_string(), *at),
            None => ("$end".to_string(), self.src.len()),
        };
        format!(
            "syntax error: syntax error, unexpected {}; Input:\n{}\n{}^",
            what,
            self.src,
            " ".repeat(at)
        )
    }

    fn expect(&mut self, op: Op) -> Result<(), String> {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn ternary(&mut self) -> Result<Val<'a>, String> {
        if self.depth >= MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        self.depth += 1;
        let r = self.ternary_inner();
        self.depth -= 1;
        r
    }

    fn ternary_inner(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.or()?;
        while self.peek_op() == Some(Op::Cond) {
            self.pos += 1;
            let mid = self.ternary()?;
            self.expect(Op::ColonColon)?;
            let right = self.or()?;
            left = op_cond(left, mid, right);
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.and()?;
        while self.peek_op() == Some(Op::Or) {
            self.pos += 1;
            let right = self.and()?;
            let (z, l) = left.zero_or_null();
            left = if z { right } else { l };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.cmp()?;
        while self.peek_op() == Some(Op::And) {
            self.pos += 1;
            let right = self.cmp()?;
            let (zl, l) = left.zero_or_null();
            left = if zl || right.zero_or_null().0 {
                num(F::ZERO)
            } else {
                l
            };
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.additive()?;
        while let Some(op @ (Op::Eq | Op::Ne | Op::Lt | Op::Gt | Op::Le | Op::Ge)) = self.peek_op()
        {
            self.pos += 1;
            let right = self.additive()?;
            left = op_compare(op, &left, &right);
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.multiplicative()?;
        while let Some(op @ (Op::Plus | Op::Minus)) = self.peek_op() {
            self.pos += 1;
            let right = self.multiplicative()?;
            left = if op == Op::Plus {
                self.op_plus(left, right)
            } else {
                self.op_minus(left, right)
            };
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.unary()?;
        while let Some(op @ (Op::Mult | Op::Div | Op::Mod)) = self.peek_op() {
            self.pos += 1;
            let right = self.unary()?;
            left = match op {
                Op::Mult => self.op_times(left, right),
                Op::Div => self.op_div(left, right),
                _ => self.op_rem(left, right),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Val<'a>, String> {
        if self.depth >= MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        self.depth += 1;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Result<Val<'a>, String> {
        match self.peek_op() {
            Some(Op::Minus) => {
                self.pos += 1;
                let v = self.unary()?;
                Ok(match v.to_num() {
                    Some(f) => num(f.negate()),
                    None => {
                        self.ctx.warn("non-numeric argument");
                        num(F::ZERO)
                    }
                })
            }
            Some(Op::Compl) => {
                self.pos += 1;
                let v = self.unary()?;
                let truth = match &v {
                    Val::Num(f) => !f.is_zero(),
                    Val::NumStr(s) | Val::Str(s) => !(s.is_empty() || &**s == "0") && atoi(s) != 0,
                };
                Ok(bool_val(!truth))
            }
            _ => self.regex_level(),
        }
    }

    fn regex_level(&mut self) -> Result<Val<'a>, String> {
        let mut left = self.primary()?;
        while let Some(op @ (Op::Colon | Op::EqTilde | Op::TildeTilde)) = self.peek_op() {
            self.pos += 1;
            // A unary operator here takes the rest of the regex chain as its operand.
            let right = match self.peek_op() {
                Some(Op::Minus | Op::Compl) => self.unary()?,
                _ => self.primary()?,
            };
            left = match op {
                Op::TildeTilde => {
                    let mut s = strip_quotes(left.text()).into_owned();
                    s.push_str(&strip_quotes(right.text()));
                    Val::make_str(Cow::Owned(s))
                }
                _ => self.op_regex(op == Op::Colon, &left, &right),
            };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Val<'a>, String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w, numeric, _)) => {
                let w = *w;
                let numeric = *numeric;
                self.pos += 1;
                if self.peek_op() == Some(Op::LP) {
                    self.pos += 1;
                    let mut args = vec![self.ternary()?];
                    while self.peek_op() == Some(Op::Comma) {
                        self.pos += 1;
                        if matches!(self.peek_op(), Some(Op::Comma | Op::RP)) {
                            args.push(Val::Str(Cow::Borrowed("")));
                        } else {
                            args.push(self.ternary()?);
                        }
                    }
                    self.expect(Op::RP)?;
                    return Ok(self.op_func(w, args));
                }
                Ok(if numeric {
                    Val::NumStr(Cow::Borrowed(w))
                } else {
                    Val::Str(Cow::Borrowed(w))
                })
            }
            Some(Tok::Op(Op::LP, _)) => {
                self.pos += 1;
                let v = self.ternary()?;
                self.expect(Op::RP)?;
                Ok(v)
            }
            _ => Err(self.error()),
        }
    }

    // -- operators needing warnings

    fn op_plus(&mut self, a: Val<'a>, b: Val<'a>) -> Val<'a> {
        match (a.to_num(), b.to_num()) {
            (Some(x), Some(y)) => num(x.plus(y)),
            (None, Some(y)) => {
                self.ctx.warn("non-numeric argument");
                num(y)
            }
            (None, None) => {
                self.ctx.warn("non-numeric argument");
                num(F::ZERO)
            }
            (Some(x), None) => num(x),
        }
    }

    fn op_minus(&mut self, a: Val<'a>, b: Val<'a>) -> Val<'a> {
        match (a.to_num(), b.to_num()) {
            (Some(x), Some(y)) => num(x.minus(y)),
            (None, Some(y)) => {
                self.ctx.warn("non-numeric argument");
                num(F::ZERO.minus(y))
            }
            (None, None) => {
                self.ctx.warn("non-numeric argument");
                num(F::ZERO)
            }
            (Some(x), None) => {
                self.ctx.warn("non-numeric argument");
                num(x)
            }
        }
    }

    fn op_times(&mut self, a: Val<'a>, b: Val<'a>) -> Val<'a> {
        match (a.to_num(), b.to_num()) {
            (Some(x), Some(y)) => num(x.times(y)),
            _ => {
                self.ctx.warn("non-numeric argument");
                num(F::ZERO)
            }
        }
    }

    fn op_div(&mut self, a: Val<'a>, b: Val<'a>) -> Val<'a> {
        let int_max = F::from_i64(i32::MAX as i64);
        let Some(x) = a.to_num() else {
            self.ctx.warn("non-numeric argument");
            return num(F::ZERO);
        };
        let Some(y) = b.to_num() else {
            self.ctx.warn("non-numeric argument");
            return num(int_max);
        };
        if y.is_zero() {
            self.ctx.warn("division by zero");
            return num(int_max);
        }
        num(x.divide(y))
    }

    fn op_rem(&mut self, a: Val<'a>, b: Val<'a>) -> Val<'a> {
        match (a.to_num(), b.to_num()) {
            (Some(x), Some(y)) => {
                if y.is_zero() {
                    self.ctx.warn("div by zero");
                    num(y)
                } else {
                    num(x.fmod(y))
                }
            }
            _ => {
                self.ctx.warn("non-numeric argument");
                num(F::ZERO)
            }
        }
    }

    fn op_regex(&mut self, anchored: bool, a: &Val<'a>, b: &Val<'a>) -> Val<'a> {
        let subject = strip_quotes(a.text()).into_owned();
        let pattern = strip_quotes(b.text());
        let re = match cached_regex(&pattern) {
            Ok(re) => re,
            Err(e) => {
                self.ctx.warn(&format!("regcomp() error : {}", e));
                return Val::Str(Cow::Borrowed(""));
            }
        };
        let caps = re.captures(&subject);
        let m = caps
            .as_ref()
            .filter(|c| !anchored || c.get(0).map(|m| m.start()) == Some(0));
        match m {
            Some(c) => match c.get(1) {
                Some(g) => Val::make_str(Cow::Owned(g.as_str().to_string())),
                None => {
                    let whole = c.get(0).map(|m| m.len()).unwrap_or(0);
                    num(F::from_i64(whole as i64))
                }
            },
            None => {
                if re.captures_len() <= 1 {
                    num(F::ZERO)
                } else {
                    Val::Str(Cow::Borrowed(""))
                }
            }
        }
    }

    fn op_func(&mut self, name: &str, mut args: Vec<Val<'a>>) -> Val<'a> {
        if !name
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        {
            self.ctx.warn(&format!(
                "Error! '{}' is not possibly a function name!",
                name
            ));
            return num(F::ZERO);
        }
        let arity = match name {
            "COS" | "SIN" | "TAN" | "ACOS" | "ASIN" | "ATAN" | "SQRT" | "FLOOR" | "CEIL"
            | "ROUND" | "RINT" | "TRUNC" | "EXP" | "EXP2" | "EXP10" | "LOG" | "LOG2" | "LOG10"
            | "ABS" => 1,
            "ATAN2" | "POW" | "REMAINDER" => 2,
            _ => 0,
        };
        if arity == 0 {
            let mut joined = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    joined.push(',');
                }
                joined.push_str(&a.text());
            }
            return match self.ctx.func(name, &joined) {
                Some(r) => {
                    if r.bytes().all(|c| b"-0123456789. \t".contains(&c)) {
                        num(ld::parse_prefix(&r))
                    } else {
                        Val::make_str(Cow::Owned(r))
                    }
                }
                None => {
                    self.ctx.warn(&format!(
                        "Error! '{}' doesn't appear to be an available function!",
                        name
                    ));
                    num(F::ZERO)
                }
            };
        }
        if args.len() != arity {
            self.ctx.warn(&format!("Wrong args to {}() function", name));
            return num(F::ZERO);
        }
        let y = if arity == 2 {
            args.pop().and_then(|v| v.to_num()).unwrap_or(F::ZERO)
        } else {
            F::ZERO
        };
        let x = args
            .pop()
            .and_then(|v| v.numified().to_num())
            .unwrap_or(F::ZERO);
        let (xf, yf) = (x.to_f64(), y.to_f64());
        let r = match name {
            "FLOOR" => x.floor(),
            "CEIL" => x.ceil(),
            "ROUND" => x.round(),
            "RINT" => x.rint(),
            "TRUNC" => x.trunc(),
            "SQRT" => x.sqrt(),
            "ABS" => {
                if x.lt_zero() {
                    x.negate()
                } else {
                    x
                }
            }
            "REMAINDER" => {
                // remainder = x - n*y, n = x/y rounded half-even; exact via fmod.
                F::from_f64(libm_remainder(xf, yf))
            }
            _ => F::from_f64(match name {
                "COS" => xf.cos(),
                "SIN" => xf.sin(),
                "TAN" => xf.tan(),
                "ACOS" => xf.acos(),
                "ASIN" => xf.asin(),
                "ATAN" => xf.atan(),
                "ATAN2" => xf.atan2(yf),
                "POW" => xf.powf(yf),
                "EXP" => xf.exp(),
                "EXP2" => xf.exp2(),
                "EXP10" => 10f64.powf(xf),
                "LOG" => xf.ln(),
                "LOG2" => xf.log2(),
                _ => xf.log10(),
            }),
        };
        num(r)
    }
}

fn libm_remainder(x: f64, y: f64) -> f64 {
    if y == 0.0 || x.is_infinite() || x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    let n = (x / y).round_ties_even_compat();
    x - n * y
}

trait RoundTiesEven {
    fn round_ties_even_compat(self) -> f64;
}
impl RoundTiesEven for f64 {
    fn round_ties_even_compat(self) -> f64 {
        let r = self.round();
        if (self - self.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
            r - self.signum()
        } else {
            r
        }
    }
}

fn op_cond<'a>(a: Val<'a>, b: Val<'a>, c: Val<'a>) -> Val<'a> {
    let truth = match &a {
        Val::Str(s) => !s.is_empty() && &**s != "\"\"" && &**s != "0",
        _ => a.to_num().map(|f| !f.is_zero()).unwrap_or(false),
    };
    if truth {
        b
    } else {
        c
    }
}

fn op_compare(op: Op, a: &Val<'_>, b: &Val<'_>) -> Val<'static> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = if a.is_string() || b.is_string() {
        Some(a.text().as_bytes().cmp(b.text().as_bytes()))
    } else {
        let (x, y) = (a.to_num().unwrap_or(F::ZERO), b.to_num().unwrap_or(F::ZERO));
        x.partial_cmp(&y)
    };
    let r = match (op, ord) {
        (Op::Ne, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (_, Some(o)) => o != Ordering::Less,
    };
    bool_val(r)
}

// ---------------------------------------------------------------------------------------------
// POSIX ERE -> regex crate syntax, with a per-thread cache

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Result<regex::Regex, String>>> =
        RefCell::new(HashMap::new());
}

fn cached_regex(pattern: &str) -> Result<regex::Regex, String> {
    REGEX_CACHE.with(|c| {
        if let Some(r) = c.borrow().get(pattern) {
            return r.clone();
        }
        let r = translate_ere(pattern).and_then(|t| {
            regex::RegexBuilder::new(&t)
                .dot_matches_new_line(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| e.to_string())
        });
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
        r
    })
}

/// Translate a POSIX extended regular expression (glibc flavour) to the regex crate's syntax.
pub fn translate_ere(p: &str) -> Result<String, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    // Whether a repetition operator here would have nothing to repeat (then it is literal).
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                i += 1;
                let Some(&e) = chars.get(i) else {
                    return Err("Trailing backslash".into());
                };
                match e {
                    '<' | '>' => out.push_str("\\b"),
                    'b' | 'B' | 'w' | 'W' | 's' | 'S' => {
                        out.push('\\');
                        out.push(e);
                    }
                    '`' => out.push_str("\\A"),
                    '\'' => out.push_str("\\z"),
                    '1'..='9' => return Err("Invalid back reference".into()),
                    _ => push_lit(&mut out, e),
                }
                at_start = false;
                i += 1;
            }
            '[' => {
                i = translate_bracket(&chars, i, &mut out)?;
                at_start = false;
            }
            '*' | '+' | '?' if at_start => {
                push_lit(&mut out, c);
                at_start = false;
                i += 1;
            }
            '{' => {
                // An interval only when well formed, else a literal brace.
                let rest: String = chars[i..].iter().take(24).collect();
                let valid = rest.find('}').map(|end| {
                    let body = &rest[1..end];
                    let mut parts = body.splitn(2, ',');
                    let a = parts.next().unwrap_or("");
                    let b = parts.next();
                    !a.is_empty()
                        && a.bytes().all(|d| d.is_ascii_digit())
                        && b.is_none_or(|s| s.bytes().all(|d| d.is_ascii_digit()))
                        && !at_start
                });
                if valid == Some(true) {
                    let end = rest.find('}').unwrap_or(0);
                    out.push_str(&rest[..=end]);
                    i += rest[..=end].chars().count();
                } else {
                    out.push_str("\\{");
                    i += 1;
                    at_start = false;
                }
            }
            '}' => {
                out.push_str("\\}");
                at_start = false;
                i += 1;
            }
            '(' | '|' => {
                out.push(c);
                at_start = true;
                i += 1;
            }
            '^' => {
                out.push(c);
                at_start = true;
                i += 1;
            }
            ')' | '.' | '$' | '*' | '+' | '?' => {
                out.push(c);
                at_start = false;
                i += 1;
            }
            _ => {
                push_lit(&mut out, c);
                at_start = false;
                i += 1;
            }
        }
    }
    Ok(out)
}

fn push_lit(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c == ' ' {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    } else {
        out.push(c);
    }
}

/// Translate a bracket expression starting at `chars[i] == '['`; returns the index after it.
fn translate_bracket(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    i += 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("Unmatched [, [^, [:, [., or [=".into());
        };
        if c == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        if c == '[' && matches!(chars.get(i + 1), Some(':' | '=' | '.')) {
            let kind = chars[i + 1];
            let mut j = i + 2;
            while j + 1 < chars.len() && !(chars[j] == kind && chars[j + 1] == ']') {
                j += 1;
            }
            if j + 1 >= chars.len() {
                return Err("Unmatched [, [^, [:, [., or [=".into());
            }
            let name: String = chars[i + 2..j].iter().collect();
            if kind == ':' {
                const CLASSES: &[&str] = &[
                    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print",
                    "punct", "space", "upper", "xdigit",
                ];
                if !CLASSES.contains(&name.as_str()) {
                    return Err("Invalid character class name".into());
                }
                let _ = write!(out, "[:{}:]", name);
            } else {
                for ch in name.chars() {
                    push_class_lit(out, ch);
                }
            }
            i = j + 2;
            continue;
        }
        // A range a-b (a '-' before ']' is literal).
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            let e = chars[i + 2];
            if e < c {
                return Err("Invalid range end".into());
            }
            push_class_lit(out, c);
            out.push('-');
            push_class_lit(out, e);
            i += 3;
            continue;
        }
        push_class_lit(out, c);
        i += 1;
    }
}

fn push_class_lit(out: &mut String, c: char) {
    if "\\[]^-&~".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

// ---------------------------------------------------------------------------------------------
// Software x87 long double

/// A software emulation of the x87 80-bit `long double` (64-bit mantissa, round to nearest
/// even) with `strtold`-style parsing and `%.18Lg` printing, so results print like Asterisk's.
pub mod ld {
    use std::cmp::Ordering;

    /// An 80-bit extended float: `m * 2^e` with `m` normalised (top bit set).
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum F {
        Zero(bool),
        Fin { neg: bool, m: u64, e: i32 },
        Inf(bool),
        NaN(bool),
    }

    const HALF: u64 = 1 << 63;

    impl F {
        pub const ZERO: F = F::Zero(false);
        pub const ONE: F = F::Fin {
            neg: false,
            m: HALF,
            e: -63,
        };

        fn finish(neg: bool, m: u64, e: i32) -> F {
            if e > 16384 - 64 {
                F::Inf(neg)
            } else if e < -16445 {
                F::Zero(neg)
            } else {
                F::Fin { neg, m, e }
            }
        }

        /// Round `m * 2^e` (low bit "jammed" with any lost bits) to 64 bits.
        fn round_pack(neg: bool, m: u128, e: i32) -> F {
            if m == 0 {
                return F::Zero(neg);
            }
            let lz = m.leading_zeros();
            let m = m << lz;
            let mut e = e - lz as i32 + 64;
            let mut hi = (m >> 64) as u64;
            let lo = m as u64;
            if lo > HALF || (lo == HALF && hi & 1 == 1) {
                hi = hi.wrapping_add(1);
                if hi == 0 {
                    hi = HALF;
                    e += 1;
                }
            }
            F::finish(neg, hi, e)
        }

        pub fn from_u128(neg: bool, v: u128) -> F {
            F::round_pack(neg, v, 0)
        }

        pub fn from_i64(v: i64) -> F {
            F::from_u128(v < 0, v.unsigned_abs() as u128)
        }

        pub fn from_f64(x: f64) -> F {
            if x.is_nan() {
                return F::NaN(x.is_sign_negative());
            }
            if x.is_infinite() {
                return F::Inf(x < 0.0);
            }
            if x == 0.0 {
                return F::Zero(x.is_sign_negative());
            }
            let bits = x.to_bits();
            let neg = bits >> 63 == 1;
            let exp = ((bits >> 52) & 0x7ff) as i32;
            let frac = bits & ((1 << 52) - 1);
            let (m, e) = if exp == 0 {
                (frac, -1074)
            } else {
                (frac | (1 << 52), exp - 1075)
            };
            F::round_pack(neg, m as u128, e)
        }

        pub fn to_f64(self) -> f64 {
            match self {
                F::Zero(n) => {
                    if n {
                        -0.0
                    } else {
                        0.0
                    }
                }
                F::Inf(n) => {
                    if n {
                        f64::NEG_INFINITY
                    } else {
                        f64::INFINITY
                    }
                }
                F::NaN(n) => {
                    if n {
                        -f64::NAN
                    } else {
                        f64::NAN
                    }
                }
                F::Fin { neg, m, e } => {
                    let mut x = m as f64;
                    let mut e = e;
                    while e > 1000 {
                        x *= 2f64.powi(1000);
                        e -= 1000;
                    }
                    while e < -1000 {
                        x *= 2f64.powi(-1000);
                        e += 1000;
                    }
                    x *= 2f64.powi(e);
                    if neg {
                        -x
                    } else {
                        x
                    }
                }
            }
        }

        pub fn is_zero(self) -> bool {
            matches!(self, F::Zero(_))
        }

        pub fn lt_zero(self) -> bool {
            match self {
                F::Fin { neg, .. } | F::Inf(neg) => neg,
                _ => false,
            }
        }

        fn is_finite(self) -> bool {
            matches!(self, F::Zero(_) | F::Fin { .. })
        }

        fn sign(self) -> bool {
            match self {
                F::Zero(n) | F::Inf(n) | F::NaN(n) | F::Fin { neg: n, .. } => n,
            }
        }

        pub fn negate(self) -> F {
            match self {
                F::Zero(n) => F::Zero(!n),
                F::Inf(n) => F::Inf(!n),
                F::NaN(n) => F::NaN(!n),
                F::Fin { neg, m, e } => F::Fin { neg: !neg, m, e },
            }
        }

        pub fn plus(self, b: F) -> F {
            match (self, b) {
                (F::Zero(x), F::Zero(y)) => F::Zero(x && y),
                (F::Zero(_), o) | (o, F::Zero(_)) if o.is_finite() => o,
                (
                    F::Fin {
                        neg: na,
                        m: ma,
                        e: ea,
                    },
                    F::Fin {
                        neg: nb,
                        m: mb,
                        e: eb,
                    },
                ) => {
                    let ((bn, bm, be), (sn, sm, se)) = if (ea, ma) >= (eb, mb) {
                        ((na, ma, ea), (nb, mb, eb))
                    } else {
                        ((nb, mb, eb), (na, ma, ea))
                    };
                    let d = (be - se) as u32;
                    let big = (bm as u128) << 62;
                    let small = (sm as u128) << 62;
                    let small = if d == 0 {
                        small
                    } else if d >= 127 {
                        1
                    } else {
                        let s = small >> d;
                        s | ((s << d != small) as u128)
                    };
                    if bn == sn {
                        F::round_pack(bn, big + small, be - 62)
                    } else {
                        let r = big - small;
                        if r == 0 {
                            F::Zero(false)
                        } else {
                            F::round_pack(bn, r, be - 62)
                        }
                    }
                }
                (a, b) => F::from_f64(a.to_f64() + b.to_f64()),
            }
        }

        pub fn minus(self, b: F) -> F {
            self.plus(b.negate())
        }

        pub fn times(self, b: F) -> F {
            match (self, b) {
                (
                    F::Fin {
                        neg: na,
                        m: ma,
                        e: ea,
                    },
                    F::Fin {
                        neg: nb,
                        m: mb,
                        e: eb,
                    },
                ) => F::round_pack(na != nb, ma as u128 * mb as u128, ea + eb),
                (a, b) if a.is_finite() && b.is_finite() => F::Zero(a.sign() != b.sign()),
                (a, b) => F::from_f64(a.to_f64() * b.to_f64()),
            }
        }

        pub fn divide(self, b: F) -> F {
            match (self, b) {
                (
                    F::Fin {
                        neg: na,
                        m: ma,
                        e: ea,
                    },
                    F::Fin {
                        neg: nb,
                        m: mb,
                        e: eb,
                    },
                ) => {
                    let mb = mb as u128;
                    let n1 = (ma as u128) << 64;
                    let (q1, r1) = (n1 / mb, n1 % mb);
                    let n2 = r1 << 62;
                    let (q2, r2) = (n2 / mb, n2 % mb);
                    let q = (q1 << 62) | q2 | ((r2 != 0) as u128);
                    F::round_pack(na != nb, q, ea - eb - 64 - 62)
                }
                (F::Zero(na), F::Fin { neg: nb, .. }) => F::Zero(na != nb),
                (a, b) => F::from_f64(a.to_f64() / b.to_f64()),
            }
        }

        /// C `fmodl`: exact remainder with the sign of `self`.
        pub fn fmod(self, b: F) -> F {
            match (self, b) {
                (
                    F::Fin {
                        neg: na,
                        m: ma,
                        e: ea,
                    },
                    F::Fin { m: mb, e: eb, .. },
                ) => {
                    if (ea, ma) < (eb, mb) {
                        return self;
                    }
                    let mb = mb as u128;
                    let mut r = ma as u128 % mb;
                    for _ in 0..(ea - eb) {
                        r = (r << 1) % mb;
                    }
                    F::round_pack(na, r, eb)
                }
                (F::Zero(_), F::Fin { .. }) => self,
                (a, b) => F::from_f64(a.to_f64() % b.to_f64()),
            }
        }

        /// Correctly rounded square root (`sqrtl`).
        pub fn sqrt(self) -> F {
            match self {
                F::Fin { neg: false, m, e } => {
                    // Make the exponent even; N holds 127 or 128 significant bits.
                    let shift = if (e - 64).rem_euclid(2) == 0 { 64 } else { 63 };
                    let n = (m as u128) << shift;
                    let mut q = ((n as f64).sqrt() as u128).max(1);
                    for _ in 0..3 {
                        q = (q + n / q) / 2;
                    }
                    while q.checked_mul(q).is_none_or(|sq| sq > n) {
                        q -= 1;
                    }
                    while (q + 1).checked_mul(q + 1).is_some_and(|sq| sq <= n) {
                        q += 1;
                    }
                    // No ties are possible for an integer radicand: round up iff N > q^2 + q.
                    if n - q * q > q {
                        q += 1;
                    }
                    F::round_pack(false, q, (e - shift) / 2)
                }
                F::Fin { neg: true, .. } | F::Inf(true) => F::NaN(true),
                other => other,
            }
        }

        /// Integer part, and rounding info for the fraction: (int, any fraction, half bit,
        /// bits below the half bit).
        fn split(self) -> Option<(bool, u64, bool, bool, bool)> {
            match self {
                F::Fin { neg, m, e } => {
                    if e >= 0 {
                        return None; // already integral
                    }
                    let sh = (-e) as u32;
                    if sh > 64 {
                        return Some((neg, 0, true, false, true));
                    }
                    let int = if sh == 64 { 0 } else { m >> sh };
                    let mask = if sh == 64 { u64::MAX } else { (1u64 << sh) - 1 };
                    let frac = m & mask != 0;
                    let half = (m >> (sh - 1)) & 1 == 1;
                    let below = m & ((1u64 << (sh - 1)) - 1) != 0;
                    Some((neg, int, frac, half, below))
                }
                _ => None,
            }
        }

        fn int_op(self, up: impl Fn(bool, u64, bool, bool, bool) -> bool) -> F {
            match self.split() {
                None => self,
                Some((neg, int, frac, half, below)) => {
                    let inc = up(neg, int, frac, half, below) as u128;
                    F::from_u128(neg, int as u128 + inc)
                }
            }
        }

        pub fn trunc(self) -> F {
            self.int_op(|_, _, _, _, _| false)
        }
        pub fn floor(self) -> F {
            self.int_op(|neg, _, frac, _, _| neg && frac)
        }
        pub fn ceil(self) -> F {
            self.int_op(|neg, _, frac, _, _| !neg && frac)
        }
        /// Half away from zero.
        pub fn round(self) -> F {
            self.int_op(|_, _, _, half, _| half)
        }
        /// Half to even.
        pub fn rint(self) -> F {
            self.int_op(|_, int, _, half, below| half && (below || int & 1 == 1))
        }

        /// The value as an integer when it is one and fits in 64 bits.
        fn as_u64_exact(self) -> Option<u64> {
            match self {
                F::Fin { m, e: 0, .. } => Some(m),
                F::Fin { m, e, .. } if e < 0 && e > -64 && m & ((1u64 << (-e)) - 1) == 0 => {
                    Some(m >> (-e))
                }
                _ => None,
            }
        }
    }

    impl PartialOrd for F {
        fn partial_cmp(&self, other: &F) -> Option<Ordering> {
            let (a, b) = (*self, *other);
            if matches!(a, F::NaN(_)) || matches!(b, F::NaN(_)) {
                return None;
            }
            // Map to (class, magnitude) where class orders -inf < -fin < 0 < fin < inf.
            fn key(x: F) -> (i8, i32, u64) {
                match x {
                    F::Inf(true) => (-2, 0, 0),
                    F::Fin { neg: true, m, e } => (-1, -e, !m),
                    F::Zero(_) => (0, 0, 0),
                    F::Fin { neg: false, m, e } => (1, e, m),
                    F::Inf(false) => (2, 0, 0),
                    F::NaN(_) => (0, 0, 0),
                }
            }
            let (ka, kb) = (key(a), key(b));
            if ka.0 == -1 && kb.0 == -1 {
                // Both negative: larger magnitude is smaller.
                if let (F::Fin { m: ma, e: ea, .. }, F::Fin { m: mb, e: eb, .. }) = (a, b) {
                    return Some((eb, mb).cmp(&(ea, ma)));
                }
            }
            Some(ka.cmp(&kb))
        }
    }

    fn pow10_u128(n: u32) -> u128 {
        10u128.pow(n)
    }

    /// `strtold` on the longest numeric prefix (whitespace, sign, digits, `.`, digits);
    /// no conversion gives 0.
    pub fn parse_prefix(s: &str) -> F {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            i += 1;
        }
        let mut neg = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            neg = b[i] == b'-';
            i += 1;
        }
        let mut d: u128 = 0;
        let mut nd = 0u32; // significant digits kept
        let mut exp10: i32 = 0;
        let mut any = false;
        let mut seen_dot = false;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_digit() {
                any = true;
                if nd < 38 {
                    if d != 0 || c != b'0' {
                        d = d * 10 + (c - b'0') as u128;
                        nd += (d != 0) as u32;
                    }
                    if seen_dot {
                        exp10 -= 1;
                    }
                } else if !seen_dot {
                    exp10 += 1;
                }
            } else if c == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            i += 1;
        }
        if !any || d == 0 {
            return F::Zero(neg && any);
        }
        if exp10 >= 0 {
            if let Some(v) = (exp10 <= 38)
                .then(|| d.checked_mul(pow10_u128(exp10 as u32)))
                .flatten()
            {
                return F::from_u128(neg, v);
            }
            let mut x = F::from_u128(neg, d);
            let mut k = exp10;
            while k > 0 {
                let step = k.min(27);
                x = x.times(F::from_u128(false, pow10_u128(step as u32)));
                k -= step;
            }
            x
        } else {
            let mut x = F::from_u128(neg, d);
            let mut k = -exp10;
            while k > 0 {
                let step = k.min(27);
                x = x.divide(F::from_u128(false, pow10_u128(step as u32)));
                k -= step;
            }
            x
        }
    }

    /// Little-endian base 2^32 big integer, just enough for exact decimal printing.
    struct Big(Vec<u32>);

    impl Big {
        fn from_u64(v: u64) -> Big {
            Big(vec![v as u32, (v >> 32) as u32])
        }
        fn shl(&mut self, bits: u32) {
            let words = (bits / 32) as usize;
            let bits = bits % 32;
            if bits > 0 {
                let mut carry = 0u32;
                for w in self.0.iter_mut() {
                    let nw = (*w << bits) | carry;
                    carry = *w >> (32 - bits);
                    *w = nw;
                }
                if carry != 0 {
                    self.0.push(carry);
                }
            }
            if words > 0 {
                self.0.splice(0..0, std::iter::repeat_n(0, words));
            }
        }
        fn mul_small(&mut self, k: u32) {
            let mut carry = 0u64;
            for w in self.0.iter_mut() {
                let v = *w as u64 * k as u64 + carry;
                *w = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
        }
        /// Divide in place; returns the remainder.
        fn div_small(&mut self, k: u32) -> u32 {
            let mut rem = 0u64;
            for w in self.0.iter_mut().rev() {
                let v = (rem << 32) | *w as u64;
                *w = (v / k as u64) as u32;
                rem = v % k as u64;
            }
            rem as u32
        }
        fn bit(&self, i: u32) -> bool {
            let w = (i / 32) as usize;
            w < self.0.len() && (self.0[w] >> (i % 32)) & 1 == 1
        }
        fn any_below(&self, i: u32) -> bool {
            let w = (i / 32) as usize;
            for (k, &x) in self.0.iter().enumerate() {
                if k < w && x != 0 {
                    return true;
                }
                if k == w {
                    return x & ((1u32 << (i % 32)) - 1) != 0;
                }
            }
            false
        }
        /// `self >> bits` as u128 (the caller knows it fits).
        fn shr_u128(&self, bits: u32) -> u128 {
            let mut v: u128 = 0;
            for k in 0..128u32 {
                if self.bit(bits + k) {
                    v |= 1u128 << k;
                }
            }
            v
        }
    }

    /// `m * 2^e * 10^s`, exactly: (floor, whether rounding to nearest-even goes up).
    fn scaled(m: u64, e: i32, s: i32) -> (u128, bool) {
        let mut n = Big::from_u64(m);
        if e > 0 {
            n.shl(e as u32);
        }
        let mut sp = s.max(0);
        while sp > 0 {
            let step = sp.min(9);
            n.mul_small(10u32.pow(step as u32));
            sp -= step;
        }
        // Divide by 5^t (t = -s when s < 0), remembering whether anything was lost.
        let mut lost = false;
        let mut t = (-s).max(0);
        while t > 0 {
            let step = t.min(13);
            lost |= n.div_small(5u32.pow(step as u32)) != 0;
            t -= step;
        }
        // Then by 2^k, k = max(-e, 0) + max(-s, 0).
        let k = ((-e).max(0) + (-s).max(0)) as u32;
        let q = n.shr_u128(k);
        if k == 0 {
            // Only a fraction below 1/5 can have been lost: never rounds up.
            return (q, false);
        }
        let half = n.bit(k - 1);
        let below = lost || n.any_below(k - 1);
        (q, half && (below || q & 1 == 1))
    }

    /// C's `printf("%.18Lg", x)`.
    pub fn format(x: F) -> String {
        const P: i32 = 18;
        let (neg, m, e) = match x {
            F::Zero(n) => return if n { "-0".into() } else { "0".into() },
            F::Inf(n) => return if n { "-inf".into() } else { "inf".into() },
            F::NaN(n) => return if n { "-nan".into() } else { "nan".into() },
            F::Fin { neg, m, e } => (neg, m, e),
        };
        if let Some(v) = x.as_u64_exact() {
            if v < 1_000_000_000_000_000_000 {
                let mut s = String::with_capacity(20);
                if neg {
                    s.push('-');
                }
                s.push_str(itoa(v).as_str());
                return s;
            }
        }
        let lim_hi = pow10_u128(P as u32);
        let lim_lo = pow10_u128(P as u32 - 1);
        let est = (m as f64).log10() + e as f64 * std::f64::consts::LOG10_2;
        let mut xexp = est.floor() as i32;
        let mut digits = lim_lo;
        for _ in 0..4 {
            let (q, up) = scaled(m, e, P - 1 - xexp);
            if q >= lim_hi {
                xexp += 1;
                continue;
            }
            if q < lim_lo {
                xexp -= 1;
                continue;
            }
            digits = q + up as u128;
            if digits == lim_hi {
                digits = lim_lo;
                xexp += 1;
            }
            break;
        }
        let ds = digits.to_string();
        let mut out = String::with_capacity(32);
        if neg {
            out.push('-');
        }
        if !(-4..P).contains(&xexp) {
            let mant = ds.trim_end_matches('0');
            out.push_str(&mant[..1]);
            if mant.len() > 1 {
                out.push('.');
                out.push_str(&mant[1..]);
            }
            out.push('e');
            out.push(if xexp < 0 { '-' } else { '+' });
            let ax = xexp.unsigned_abs();
            if ax < 10 {
                out.push('0');
            }
            out.push_str(&ax.to_string());
        } else if xexp >= 0 {
            let (ip, fp) = ds.split_at(xexp as usize + 1);
            out.push_str(ip);
            let fp = fp.trim_end_matches('0');
            if !fp.is_empty() {
                out.push('.');
                out.push_str(fp);
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-xexp - 1) {
                out.push('0');
            }
            out.push_str(ds.trim_end_matches('0'));
        }
        out
    }

    fn itoa(v: u64) -> String {
        v.to_string()
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> String {
        evaluate(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[derive(Default)]
    struct Ctx {
        warnings: Vec<String>,
    }
    impl ExprContext for Ctx {
        fn func(&mut self, name: &str, args: &str) -> Option<String> {
            match name {
                "LEN" => Some(args.len().to_string()),
                "ECHO" => Some(args.to_string()),
                _ => None,
            }
        }
        fn warn(&mut self, msg: &str) {
            self.warnings.push(msg.to_string());
        }
    }

    fn evc(s: &str) -> (String, Vec<String>) {
        let mut c = Ctx::default();
        let r = evaluate_with(s, &mut c).unwrap();
        (r, c.warnings)
    }

    #[test]
    fn arithmetic() {
        assert_eq!(ev("1+2"), "3");
        assert_eq!(ev(" 1 + 2 "), "3");
        assert_eq!(ev("5 - 7"), "-2");
        assert_eq!(ev("6*7"), "42");
        assert_eq!(ev("10/4"), "2.5");
        assert_eq!(ev("1/3"), "0.333333333333333333");
        assert_eq!(ev("2/3"), "0.666666666666666667");
        assert_eq!(ev("10 % 3"), "1");
        assert_eq!(ev("-7 % 3"), "-1");
        assert_eq!(ev("7.5 % 2"), "1.5");
        assert_eq!(ev("0.1 + 0.2"), "0.3");
        assert_eq!(ev("1.5 * 2"), "3");
        assert_eq!(ev(" -5 "), "-5");
        assert_eq!(ev("- -5"), "5");
        assert_eq!(ev("3 - -2"), "5");
        assert_eq!(ev("99999 + 1"), "100000");
        assert_eq!(ev("007"), "007");
        assert_eq!(ev("007 + 0"), "7");
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(ev("1 + 2 * 3"), "7");
        assert_eq!(ev("(1 + 2) * 3"), "9");
        assert_eq!(ev("10 - 4 - 3"), "3");
        assert_eq!(ev("100 / 10 / 5"), "2");
        assert_eq!(ev("2 * 3 % 4"), "2");
        assert_eq!(ev("1 + 1 = 2"), "1");
        assert_eq!(ev("1 = 1 & 2 = 2"), "1");
        assert_eq!(ev("0 | 1 & 0"), "0");
        assert_eq!(ev("-2 * 3"), "-6");
        assert_eq!(ev("!0 + 1"), "2");
        // unary minus binds looser than ':'
        assert_eq!(ev("- 123 : 12"), "-2");
        assert_eq!(ev("1 < 2 < 3"), "1");
        assert_eq!(ev("3 > 2 > 1"), "0");
    }

    #[test]
    fn large_and_formatting() {
        assert_eq!(ev("999999999999999999 + 0"), "999999999999999999");
        assert_eq!(ev("1000000000000000000 + 0"), "1e+18");
        assert_eq!(ev("123456789012 * 1000"), "123456789012000");
        assert_eq!(ev("1 / 1000000"), "1e-06");
        assert_eq!(ev("1 / 3000000"), "3.33333333333333333e-07");
        assert_eq!(ev("1 / 8"), "0.125");
        assert_eq!(ev("1 / 10000"), "0.0001");
        assert_eq!(ev("1 / 100000"), "1e-05");
        assert_eq!(ev("0 * -1"), "-0");
        assert_eq!(ev("2.50 + 0"), "2.5");
        assert_eq!(ev("12345678901234567890 = 12345678901234567890"), "1");
    }

    #[test]
    fn logical() {
        assert_eq!(ev("0 | 5"), "5");
        assert_eq!(ev("3 | 5"), "3");
        assert_eq!(ev("\"\" | x"), "\"\"");
        assert_eq!(ev("abc | x"), "abc");
        assert_eq!(ev("05 | 1"), "5");
        assert_eq!(ev("0 | 07"), "07");
        assert_eq!(ev("a & b"), "a");
        assert_eq!(ev("a & 0"), "0");
        assert_eq!(ev("0 & a"), "0");
        assert_eq!(ev("1 || 0"), "1");
        assert_eq!(ev("1 && 0"), "0");
        assert_eq!(ev("!1"), "0");
        assert_eq!(ev("!0"), "1");
        assert_eq!(ev("!abc"), "1");
        assert_eq!(ev("!5"), "0");
        assert_eq!(ev("!0.5"), "1");
        assert_eq!(ev("!(1/2)"), "0");
    }

    #[test]
    fn comparisons() {
        assert_eq!(ev("\"abc\" = \"abc\""), "1");
        assert_eq!(ev("abc = abc"), "1");
        assert_eq!(ev("abc == abd"), "0");
        assert_eq!(ev("\"abc\" = abc"), "0");
        assert_eq!(ev("10 < 9"), "0");
        assert_eq!(ev("\"10\" < \"9\""), "1");
        assert_eq!(ev("10 < 9a"), "1");
        assert_eq!(ev("1.0 = 1"), "1");
        assert_eq!(ev("abc < abd"), "1");
        assert_eq!(ev("b >= a"), "1");
        assert_eq!(ev("a <= a"), "1");
        assert_eq!(ev("1 != 2"), "1");
        assert_eq!(ev("2 != 2"), "0");
        assert_eq!(ev("-1 < 0"), "1");
        assert_eq!(ev("1/2 = 0.5"), "1");
    }

    #[test]
    fn ternary() {
        assert_eq!(ev("1 ? a :: b"), "a");
        assert_eq!(ev("0 ? a :: b"), "b");
        assert_eq!(ev("\"\" ? a :: b"), "b");
        assert_eq!(ev("x ? a :: b"), "a");
        assert_eq!(ev("2 > 1 ? 10 + 1 :: 20"), "11");
        assert_eq!(ev("1 ? 0 ? x :: y :: z"), "y");
        assert_eq!(ev("0 ? a :: 1 ? b :: c"), "b");
        assert_eq!(ev("(1 ? a :: b) = a"), "1");
        assert!(evaluate("1 ? a").is_err());
    }

    #[test]
    fn regex() {
        assert_eq!(ev("abcde : abc"), "3");
        assert_eq!(ev("abcde : bcd"), "0");
        assert_eq!(ev("abcde : \"a(b.)d\""), "bc");
        // Unquoted parentheses are operators: `a(b.)` is a function call, then a stray token.
        assert!(evaluate("abcde : a(b.)d").is_err());
        assert_eq!(ev("abcde : \"x(b.)d\""), "");
        assert_eq!(ev("abcde =~ bcd"), "3");
        assert_eq!(ev("abcde =~ \"c(d.)\""), "de");
        assert_eq!(ev("abcde =~ z"), "0");
        assert_eq!(ev("\"a b c\" : \"a (b) c\""), "b");
        assert_eq!(ev("5551234 : \"555([0-9]+)\""), "1234");
        assert_eq!(ev("5551234 : \"555[0-9]{4}\""), "7");
        assert_eq!(ev("foo : \"[[:alpha:]]+\""), "3");
        assert_eq!(ev("12 : \"1(2)\" + 1"), "3");
        assert_eq!(ev("12 : \"1(2)\" = 2"), "1");
        assert_eq!(ev("abc : \"^a.c$\""), "3");
        assert_eq!(ev("abc : \"^a.$\""), "0");
        assert_eq!(ev("abcabc =~ \"(abc)+\""), "abc");
        assert_eq!(ev("x : a{"), "0");
        let (r, w) = evc("abc : \"a(\"");
        assert_eq!(r, "");
        assert!(w[0].starts_with("regcomp() error"), "{w:?}");
        assert_eq!(ev("ä : ."), "2"); // match length in bytes
    }

    #[test]
    fn concat_and_quotes() {
        assert_eq!(ev("ab ~~ cd"), "abcd");
        assert_eq!(ev("\"a b\" ~~ \"c\""), "a bc");
        assert_eq!(ev("1 ~~ 2 + 1"), "13");
        assert_eq!(ev("\"a b\""), "\"a b\"");
        assert_eq!(ev("\"a+b\" = \"a+b\""), "1");
    }

    #[test]
    fn tokens() {
        assert_eq!(ev("abc"), "abc");
        assert_eq!(ev("a.b@c#d'e;f\\g^h_i"), "a.b@c#d'e;f\\g^h_i");
        assert_eq!(ev("a$b"), "a$b");
        assert_eq!(ev("1a"), "1a");
        assert_eq!(ev(".5 + 1"), "1");
        assert_eq!(ev("1.5.5"), "1.5.5");
        assert!(evaluate("x~y").is_err()); // a lone `~` is skipped
        assert_eq!(ev("~x"), "x");
        assert!(evaluate("x y").is_err());
        assert_eq!(ev("${FOO}"), "${FOO}");
        assert_eq!(ev("${A}b = ${A}b"), "1");
        assert_eq!(ev("héllo"), "héllo");
        assert_eq!(ev("é"), "é");
    }

    #[test]
    fn non_numeric_and_division() {
        let (r, w) = evc("1 / 0");
        assert_eq!(r, "2147483647");
        assert_eq!(w, ["division by zero"]);
        let (r, w) = evc("7 % 0");
        assert_eq!(r, "0");
        assert_eq!(w, ["div by zero"]);
        assert_eq!(evc("a + 1").0, "1");
        assert_eq!(evc("1 + a").0, "1");
        assert_eq!(evc("a + b").0, "0");
        assert_eq!(evc("a - 1").0, "-1");
        assert_eq!(evc("a * 2").0, "0");
        assert_eq!(evc("a / 2").0, "0");
        assert_eq!(evc("2 / a").0, "2147483647");
        assert_eq!(evc("-a").0, "0");
        assert_eq!(evc("a + 1").1, ["non-numeric argument"]);
    }

    #[test]
    fn math_functions() {
        assert_eq!(ev("SQRT(16)"), "4");
        assert_eq!(ev("SQRT(2)"), "1.41421356237309505"); // sqrtl
        assert_eq!(ev("SQRT(0.01)"), "0.1");
        assert_eq!(ev("SQRT(1/3)"), "0.577350269189625765");
        assert_eq!(ev("SQRT(-1)"), "-nan");
        assert_eq!(ev("SQRT(0)"), "0");
        assert_eq!(ev("POW(2,10)"), "1024");
        assert_eq!(ev("POW(2, 0.5) > 1.414"), "1");
        assert_eq!(ev("FLOOR(2.7)"), "2");
        assert_eq!(ev("FLOOR(-2.2)"), "-3");
        assert_eq!(ev("CEIL(2.2)"), "3");
        assert_eq!(ev("CEIL(-2.7)"), "-2");
        assert_eq!(ev("ROUND(2.5)"), "3");
        assert_eq!(ev("ROUND(-2.5)"), "-3");
        assert_eq!(ev("RINT(2.5)"), "2");
        assert_eq!(ev("RINT(3.5)"), "4");
        assert_eq!(ev("TRUNC(-2.7)"), "-2");
        assert_eq!(ev("TRUNC(10/4)"), "2");
        assert_eq!(ev("ABS(-4.5)"), "4.5");
        assert_eq!(ev("COS(0)"), "1");
        assert_eq!(ev("SIN(0)"), "0");
        assert_eq!(ev("EXP(0)"), "1");
        assert_eq!(ev("EXP2(10)"), "1024");
        assert_eq!(ev("EXP10(3)"), "1000");
        assert_eq!(ev("LOG(1)"), "0");
        assert_eq!(ev("LOG2(8)"), "3");
        assert_eq!(ev("LOG10(1000)"), "3");
        assert_eq!(ev("ATAN2(0,1)"), "0");
        assert_eq!(ev("REMAINDER(10,3)"), "1");
        assert_eq!(ev("REMAINDER(11,3)"), "-1");
        assert_eq!(ev("SQRT(4) + 1"), "3");
        assert_eq!(evc("SQRT(1,2)").0, "0");
        assert_eq!(evc("FMOD(7,3)").0, "0");
        assert_eq!(evc("lower(1)").0, "0");
    }

    #[test]
    fn dialplan_functions() {
        assert_eq!(evc("LEN(abc) + 1").0, "4");
        assert_eq!(evc("ECHO(a,b)").0, "a,b");
        assert_eq!(evc("ECHO(1,)").0, "1,");
        assert_eq!(evc("ECHO(1,,2)").0, "1,,2");
        assert_eq!(evc("ECHO(1+1)").0, "2");
        assert_eq!(evc("ECHO( 5 ) = 5").0, "1");
        assert!(evaluate("LEN()").is_err());
        assert!(evaluate("LEN(,1)").is_err());
    }

    #[test]
    fn empty_and_errors() {
        assert_eq!(ev(""), "");
        assert_eq!(ev("   "), "");
        for bad in [
            "1 +",
            "(1",
            "1)",
            "* 2",
            "1 2",
            "()",
            "1,2",
            "a ::",
            "1 ? 2 :: ",
            "-",
        ] {
            let e = evaluate(bad).unwrap_err();
            assert!(e.contains("syntax error"), "{bad}: {e}");
        }
        let e = evaluate("1 +").unwrap_err();
        assert!(e.contains("unexpected $end"), "{e}");
        assert!(e.ends_with("\n1 +\n   ^"), "{e:?}");
    }

    #[test]
    fn ld_formatting() {
        use ld::{format, parse_prefix};
        let f = |s: &str| format(parse_prefix(s));
        assert_eq!(f("0"), "0");
        assert_eq!(f("3.14159"), "3.14159");
        assert_eq!(f("123456789.123456789"), "123456789.123456789");
        assert_eq!(f("0.000123"), "0.000123");
        assert_eq!(f("1.5.5"), "1.5");
        assert_eq!(f(" -12 "), "-12");
        assert_eq!(f("."), "0");
        assert_eq!(f("99999999999999999999999"), "1e+23");
        assert_eq!(
            f("123456789012345678901234567890"),
            "1.23456789012345679e+29"
        );
        assert_eq!(format(F::from_f64(1e300)), "1.00000000000000005e+300");
        assert_eq!(format(F::from_f64(f64::INFINITY)), "inf");
    }

    #[test]
    fn ere_translation() {
        assert_eq!(translate_ere("a(b)c").unwrap(), "a(b)c");
        assert_eq!(translate_ere("[\\.]").unwrap(), "[\\\\.]");
        assert_eq!(translate_ere("[]a]").unwrap(), "[\\]a]");
        assert_eq!(translate_ere("*a").unwrap(), "\\*a");
        assert_eq!(translate_ere("\\<a\\>").unwrap(), "\\ba\\b");
        assert!(translate_ere("(a)\\1").is_err());
    }

    /// Expected values printed by gcc on x86-64 (`long double`, `strtold`, `fmodl`, `%.18Lg`).
    #[test]
    fn matches_x87_long_double() {
        let cases = [
            ("(3 / 1) - 0.0000001", "2.9999999"),
            ("10 % 1.1", "0.0999999999999999998"),
            ("7 % 0.1", "0.0999999999999999999"),
            ("-7 % 3", "-1"),
            ("(0.7 / 0.7) + 0.2", "1.2"),
            ("(0.1 * 2.5) - 3", "-2.75"),
            ("(5 * 3.3) / 99999999999999999999", "1.65e-19"),
            ("(0.7 - 1) - 9.99", "-10.29"),
            ("(42.42 * 0.2) / 0.1", "84.84"),
            ("(98765.4321 - 5) * 7", "691323.0247"),
            (
                "(12345678901234567890 + 1000000) - 98765.4321",
                "1.23456789012354691e+19",
            ),
            ("(5 - 0.2) * 42.42", "203.616"),
            ("(0.1 % 99999999999999999999) - 0.000123", "0.099877"),
            ("(1.1 % 0.2) / 1000000007", "9.99999993000000049e-11"),
            (
                "(1.5 / 1.5) * 12345678901234567890",
                "1.23456789012345679e+19",
            ),
            ("(1000000 - 9.99) + 0.3333", "999990.3433"),
            ("(1000000 - 17) + 0.7", "999983.7"),
            ("(98765.4321 + 1) - 2.5", "98763.9321"),
            ("(1 + 3.3) / 42.42", "0.101367279585101367"),
            (
                "(0.0000001 - 12345678901234567890) / 99999999999999999999",
                "-0.123456789012345679",
            ),
            ("(98765.4321 - 7) * 0.9999999999", "98758.4320901241568"),
            ("(0.1 - 5) - 0.3333", "-5.2333"),
            ("(17 * 10) - 2.5", "167.5"),
            (
                "(12345678901234567890 * 1) / 0.2",
                "6.17283945061728394e+19",
            ),
            (
                "(12345678901234567890 / 0.3333) + 2.5",
                "3.70407407777814818e+19",
            ),
            ("(17 + 3) - 42.42", "-22.42"),
            ("(0.1 % 17) + 1.1", "1.2"),
            ("(10 / 123456789) * 0.2", "1.62000001474200013e-08"),
            ("(7 % 0.7) - 0.9999999999", "-0.9999999999"),
            ("(1.5 / 1.1) * 42.42", "57.8454545454545455"),
            ("(123456789 - 1) / 0.2", "617283940"),
            ("(0.2 / 0.3333) * 0.0000001", "6.0006000600060006e-08"),
            ("(2.5 / 98765.4321) * 1.5", "3.79687499995253906e-05"),
            ("(0.000123 / 0.1) - 17", "-16.99877"),
            ("(0.0000001 * 0.9999999999) * 1.1", "1.09999999989e-07"),
            ("10 % 1.1", "0.0999999999999999998"),
            ("7 % 0.1", "0.0999999999999999999"),
        ];
        for (e, want) in cases {
            assert_eq!(ev(e), want, "{e}");
        }
    }

    #[test]
    fn never_panics_on_random_input() {
        let alphabet: Vec<char> = "01239.abcXYZ \"'()[]{}$-+*/%!=<>|&:?~,\\^é€\t"
            .chars()
            .collect();
        let mut rng = crate::testutil::XorShift(0x2545F4914F6CDD1D);
        for _ in 0..20000 {
            let s = rng.string(&alphabet, 16);
            let _ = evaluate_with(&s, &mut Ctx::default());
        }
    }
}
