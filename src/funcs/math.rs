//! Math functions (Asterisk's `func_math.c`, `func_rand.c`): MATH, INC, DEC, MIN, MAX,
//! ABS, RAND.
//!
//! MATH keeps Asterisk's quirks: one operator only, found by a fixed search order (`*`,
//! `/`, `%`, `^` (power), `AND`, `XOR`, `OR`, `>`/`>=`/`>>`, `<`/`<=`/`<<`, `==`, `+`,
//! `-`); a leading `-` negates the first number; division by zero *or a negative number*
//! gives 0; bit operations, `%` and shifts work on 32-bit ints; the default result type
//! is float printed as `%f` (`6.000000`); comparisons give `TRUE`/`FALSE`.

use super::strings::{func, meta, scan_double, scan_int, separate_args, set_var_helper};
use super::{Func, FuncError};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use rand::Rng;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Div,
    Mul,
    Sub,
    Mod,
    Pow,
    Shl,
    Shr,
    And,
    Xor,
    Or,
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
}

/// C's `(int)` of a double (saturating instead of undefined).
fn int(x: f64) -> i32 {
    x as i32
}

/// `%f` as C prints it.
pub(crate) fn c_float(x: f64) -> String {
    if x.is_nan() {
        if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        }
    } else if x.is_infinite() {
        if x < 0.0 {
            "-inf".into()
        } else {
            "inf".into()
        }
    } else {
        format!("{x:.6}")
    }
}

func!(
    Math,
    "MATH",
    "Performs Mathematical Functions.",
    "MATH(expression[,type])",
    "Performs mathematical functions based on two parameters and an operator. The \
     operator can be +, -, /, *, %, <<, >>, ^ (power), AND, OR, XOR, <, >, <=, >=, ==. \
     type is f/float (default), i/int, h/hex or c/char."
);

impl Func for Math {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let missing = || {
            FuncError::Usage(
                "Syntax: MATH(<number1><op><number 2>[,<type_of_result>]) - missing argument!"
                    .into(),
            )
        };
        if args.is_empty() {
            return Err(missing());
        }
        let a = separate_args(args, ',', 2, true);
        let Some(expr) = a.first() else {
            return Err(missing());
        };
        let (neg, v1) = match expr.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, expr.as_str()),
        };
        // (operator, position, operator length)
        let find = |pat: &str| v1.find(pat);
        let (op, pos, len) = if let Some(p) = find("*") {
            (Op::Mul, p, 1)
        } else if let Some(p) = find("/") {
            (Op::Div, p, 1)
        } else if let Some(p) = find("%") {
            (Op::Mod, p, 1)
        } else if let Some(p) = find("^") {
            (Op::Pow, p, 1)
        } else if let Some(p) = find("AND") {
            (Op::And, p, 3)
        } else if let Some(p) = find("XOR") {
            (Op::Xor, p, 3)
        } else if let Some(p) = find("OR") {
            (Op::Or, p, 2)
        } else if let Some(p) = find(">") {
            match v1.as_bytes().get(p + 1) {
                Some(b'=') => (Op::Ge, p, 2),
                Some(b'>') => (Op::Shr, p, 2),
                _ => (Op::Gt, p, 1),
            }
        } else if let Some(p) = find("<") {
            match v1.as_bytes().get(p + 1) {
                Some(b'=') => (Op::Le, p, 2),
                Some(b'<') => (Op::Shl, p, 2),
                _ => (Op::Lt, p, 1),
            }
        } else if let Some(p) = find("=") {
            if v1.as_bytes().get(p + 1) == Some(&b'=') {
                (Op::Eq, p, 2)
            } else {
                return Err(FuncError::Usage(
                    "Supply all the parameters - just this once, please".into(),
                ));
            }
        } else if let Some(p) = find("+") {
            (Op::Add, p, 1)
        } else if let Some(p) = find("-") {
            (Op::Sub, p, 1)
        } else {
            return Err(FuncError::Usage(
                "Supply all the parameters - just this once, please".into(),
            ));
        };
        let kind = match a.get(1).map(|t| t.to_ascii_lowercase()) {
            None => 'f',
            Some(t) => match t.as_str() {
                "f" | "float" => 'f',
                "i" | "int" => 'i',
                "h" | "hex" => 'h',
                "c" | "char" => 'c',
                _ => {
                    return Err(FuncError::Usage(format!(
                        "Unknown type of result requested '{}'.",
                        a[1]
                    )))
                }
            },
        };
        let (s1, s2) = (&v1[..pos], &v1[pos + len..]);
        let n1 = scan_double(s1)
            .ok_or_else(|| FuncError::Usage(format!("'{s1}' is not a valid number")))?;
        let n2 = scan_double(s2)
            .ok_or_else(|| FuncError::Usage(format!("'{s2}' is not a valid number")))?;
        let n1 = if neg { -n1 } else { n1 };
        let cmp = |b: bool| Ok(if b { "TRUE" } else { "FALSE" }.to_string());
        let r = match op {
            Op::Add => n1 + n2,
            Op::Sub => n1 - n2,
            Op::Mul => n1 * n2,
            Op::Div => {
                if n2 <= 0.0 {
                    0.0
                } else {
                    n1 / n2
                }
            }
            Op::Mod => match int(n2) {
                0 => 0.0,
                d => f64::from(int(n1).wrapping_rem(d)),
            },
            Op::Pow => n1.powf(n2),
            Op::Shl => f64::from(int(n1).wrapping_shl(int(n2) as u32)),
            Op::Shr => f64::from(int(n1).wrapping_shr(int(n2) as u32)),
            Op::And => f64::from(int(n1) & int(n2)),
            Op::Xor => f64::from(int(n1) ^ int(n2)),
            Op::Or => f64::from(int(n1) | int(n2)),
            Op::Gt => return cmp(n1 > n2),
            Op::Lt => return cmp(n1 < n2),
            Op::Ge => return cmp(n1 >= n2),
            Op::Le => return cmp(n1 <= n2),
            Op::Eq => return cmp(n1 == n2),
        };
        Ok(match kind {
            'f' => c_float(r),
            'i' => int(r).to_string(),
            'h' => format!("{:x}", (r as i64) as u32),
            _ => match (r as i64) as u8 {
                0 => String::new(),
                b if b < 0x80 => char::from(b).to_string(),
                b => String::from_utf8_lossy(&[b]).into_owned(),
            },
        })
    }
}

/// INC and DEC.
pub struct Crement {
    name: &'static str,
    delta: i32,
}

impl Func for Crement {
    fn name(&self) -> &'static str {
        self.name
    }
    fn synopsis(&self) -> &'static str {
        if self.delta > 0 {
            "Increments the value of a variable, while returning the updated value to the dialplan"
        } else {
            "Decrements the value of a variable, while returning the updated value to the dialplan"
        }
    }
    fn syntax(&self) -> &'static str {
        if self.delta > 0 {
            "INC(variable)"
        } else {
            "DEC(variable)"
        }
    }
    fn description(&self) -> &'static str {
        "Takes the variable NAME (not its value), changes it by one, stores it and returns \
         the new value."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            return Err(FuncError::Usage(format!(
                "Syntax: {}(<data>) - missing argument!",
                self.name
            )));
        }
        let Some(value) = chan.get_var(args) else {
            chan.pbx.notice(&format!(
                "func_math.c: Failed to obtain variable {args}, bailing out"
            ));
            return Err(FuncError::Other(format!(
                "Failed to obtain variable {args}"
            )));
        };
        if value.is_empty() {
            chan.pbx.notice(&format!(
                "func_math.c: Variable {args} doesn't exist - are you sure you wrote it correctly?"
            ));
            return Err(FuncError::Other(format!("Variable {args} doesn't exist")));
        }
        let n = match scan_int(&value) {
            Some((n, "")) => n as i32,
            _ => {
                chan.pbx.notice(&format!(
                    "func_math.c: The content of ${{{args}}} is not a numeric value - bailing out!"
                ));
                return Err(FuncError::Other(format!(
                    "The content of ${{{args}}} is not a numeric value"
                )));
            }
        };
        let new = n.wrapping_add(self.delta).to_string();
        set_var_helper(chan, args, &new);
        Ok(new)
    }
}

/// MIN and MAX.
pub struct MinMax {
    name: &'static str,
    max: bool,
}

/// How MIN/MAX/ABS print: an integral value as `%d`, otherwise `%f`.
fn num_result(x: f64) -> String {
    if f64::from(int(x)) == x {
        int(x).to_string()
    } else {
        c_float(x)
    }
}

impl Func for MinMax {
    fn name(&self) -> &'static str {
        self.name
    }
    fn synopsis(&self) -> &'static str {
        if self.max {
            "Returns the maximum of two numbers."
        } else {
            "Returns the minimum of two numbers."
        }
    }
    fn syntax(&self) -> &'static str {
        if self.max {
            "MAX(num1,num2)"
        } else {
            "MIN(num1,num2)"
        }
    }
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 2, true);
        let s1 = a.first().map(String::as_str).unwrap_or("");
        let s2 = a.get(1).map(String::as_str).unwrap_or("");
        if s1.is_empty() && s2.is_empty() {
            return Err(FuncError::Usage("Missing argument for number(s).".into()));
        }
        let parse = |s: &str| {
            scan_double(s).ok_or_else(|| FuncError::Usage(format!("'{s}' is not a valid number")))
        };
        let n1 = if s1.is_empty() {
            None
        } else {
            Some(parse(s1)?)
        };
        let n2 = if s2.is_empty() {
            None
        } else {
            Some(parse(s2)?)
        };
        let r = match (n1, n2) {
            (Some(x), Some(y)) => {
                if self.max {
                    if x < y {
                        y
                    } else {
                        x
                    }
                } else if x > y {
                    y
                } else {
                    x
                }
            }
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 0.0,
        };
        Ok(num_result(r))
    }
}

func!(
    Abs,
    "ABS",
    "Returns absolute value of a number.",
    "ABS(num)",
    "Returns the absolute value of a number num."
);

impl Func for Abs {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 1, true);
        let s = a.first().map(String::as_str).unwrap_or("");
        let n = scan_double(s)
            .filter(|_| !s.is_empty())
            .ok_or_else(|| FuncError::Usage(format!("Bad or missing argument for number: {s}")))?;
        Ok(num_result(n.abs()))
    }
}

func!(
    Rand,
    "RAND",
    "Choose a random number in a range.",
    "RAND([min][,max])",
    "Choose a random number between min and max. min defaults to 0, if not specified, \
     while max defaults to RAND_MAX (2147483647 on many systems)."
);

const RAND_MAX: i64 = 2_147_483_647;

impl Func for Rand {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = separate_args(args, ',', 2, true);
        let get = |i: usize, default: i64| {
            a.get(i)
                .filter(|s| !s.is_empty())
                .and_then(|s| scan_int(s))
                .map(|(v, _)| i64::from(v as i32))
                .unwrap_or(default)
        };
        let (mut lo, mut hi) = (get(0, 0), get(1, RAND_MAX));
        if hi < lo {
            std::mem::swap(&mut lo, &mut hi);
        }
        Ok(rand::thread_rng().gen_range(lo..=hi).to_string())
    }
}

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_math.so", "Mathematical dialplan function"),
        register: register_func_math,
    },
    Family {
        info: ModuleInfo::new("func_rand.so", "Random number dialplan function"),
        register: register_func_rand,
    },
];

fn register_func_math(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Math));
    ctx.register_func(Arc::new(super::vars::DigitSum));
    ctx.register_func(Arc::new(Crement {
        name: "INC",
        delta: 1,
    }));
    ctx.register_func(Arc::new(Crement {
        name: "DEC",
        delta: -1,
    }));
    ctx.register_func(Arc::new(MinMax {
        name: "MIN",
        max: false,
    }));
    ctx.register_func(Arc::new(MinMax {
        name: "MAX",
        max: true,
    }));
    ctx.register_func(Arc::new(Abs));
}

fn register_func_rand(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Rand));
}

#[cfg(test)]
mod tests {
    use super::super::strings::{call, test_chan};
    use super::*;

    fn ok(chan: &mut Channel, name: &str, args: &str) -> String {
        call(chan, name, args).unwrap_or_else(|e| panic!("{name}({args}): {e}"))
    }

    #[test]
    fn math_operators() {
        let mut c = test_chan();
        for (expr, want) in [
            ("3*8", "24.000000"),
            ("3*8,i", "24"),
            ("10/4", "2.500000"),
            ("10/4,int", "2"),
            ("10/0", "0.000000"),
            ("10/-2", "0.000000"),
            ("10%3,i", "1"),
            ("-10%3,i", "-1"),
            ("10%0,i", "0"),
            ("2^10,i", "1024"),
            ("1<<4,i", "16"),
            ("256>>4,i", "16"),
            ("170 AND 63,i", "42"),
            ("170AND63,i", "42"),
            ("5 OR 2,i", "7"),
            ("6 XOR 3,i", "5"),
            ("1+2", "3.000000"),
            (" 1 + 2 ,i", "3"),
            ("5-3,i", "2"),
            ("-5-3,i", "-8"),
            ("3*-2,i", "-6"),
            ("5--2,i", "7"),
            ("-5+10,i", "5"),
            ("255+0,h", "ff"),
            ("255+0,HEX", "ff"),
            ("65+0,c", "A"),
            ("3>2", "TRUE"),
            ("2>3", "FALSE"),
            ("3>=3", "TRUE"),
            ("2<3", "TRUE"),
            ("4<=3", "FALSE"),
            ("3==3", "TRUE"),
            ("3==4,i", "FALSE"),
            ("1.5*2", "3.000000"),
            ("1e3+1,i", "1001"),
        ] {
            assert_eq!(ok(&mut c, "MATH", expr), want, "MATH({expr})");
        }
    }

    #[test]
    fn math_errors_and_extremes() {
        let mut c = test_chan();
        assert!(
            matches!(call(&mut c, "MATH", ""), Err(FuncError::Usage(m)) if m.contains("missing argument"))
        );
        assert!(call(&mut c, "MATH", "5").is_err());
        assert!(call(&mut c, "MATH", "5=3").is_err());
        assert!(call(&mut c, "MATH", "a+3").is_err());
        assert!(call(&mut c, "MATH", "3+b").is_err());
        assert!(call(&mut c, "MATH", "3+").is_err());
        assert!(call(&mut c, "MATH", "3+4,x").is_err());
        assert_eq!(ok(&mut c, "MATH", "1e308*1e308"), "inf");
        assert_eq!(ok(&mut c, "MATH", "1e308*1e308,i"), i32::MAX.to_string());
        assert_eq!(
            ok(&mut c, "MATH", "1<<99,i"),
            (1i32 << (99 % 32)).to_string()
        );
        assert_eq!(ok(&mut c, "MATH", "-2147483648%-1,i"), "0");
        assert_eq!(ok(&mut c, "MATH", "0+0,c"), "");
        assert_eq!(ok(&mut c, "MATH", "-1+0,h"), "ffffffff");
    }

    #[test]
    fn inc_dec() {
        let mut c = test_chan();
        c.set_var("N", "5");
        assert_eq!(ok(&mut c, "INC", "N"), "6");
        assert_eq!(c.get_var("N").as_deref(), Some("6"));
        assert_eq!(ok(&mut c, "DEC", "N"), "5");
        assert_eq!(ok(&mut c, "DEC", "N"), "4");
        c.set_var("M", "2147483647");
        assert_eq!(ok(&mut c, "INC", "M"), "-2147483648");
        c.set_var("S", "abc");
        assert!(call(&mut c, "INC", "S").is_err());
        c.set_var("P", "5abc");
        assert!(call(&mut c, "INC", "P").is_err());
        assert_eq!(c.get_var("P").as_deref(), Some("5abc"));
        assert!(call(&mut c, "INC", "UNSET").is_err());
        assert!(matches!(call(&mut c, "INC", ""), Err(FuncError::Usage(_))));
        c.pbx.set_global("G", "10");
        assert_eq!(ok(&mut c, "INC", "G"), "11");
        assert_eq!(c.get_var("G").as_deref(), Some("11"));
    }

    #[test]
    fn min_max_abs() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "MIN", "7,4"), "4");
        assert_eq!(ok(&mut c, "MAX", "4,7"), "7");
        assert_eq!(ok(&mut c, "MAX", "4.5,2"), "4.500000");
        assert_eq!(ok(&mut c, "MIN", ",3"), "3");
        assert_eq!(ok(&mut c, "MIN", "3"), "3");
        assert!(call(&mut c, "MIN", "").is_err());
        assert!(call(&mut c, "MAX", "a,1").is_err());
        assert_eq!(ok(&mut c, "ABS", "-13"), "13");
        assert_eq!(ok(&mut c, "ABS", "-1.5"), "1.500000");
        assert!(call(&mut c, "ABS", "").is_err());
    }

    #[test]
    fn rand() {
        let mut c = test_chan();
        for _ in 0..200 {
            let v: i64 = ok(&mut c, "RAND", "1,6").parse().unwrap();
            assert!((1..=6).contains(&v));
            let v: i64 = ok(&mut c, "RAND", "6,1").parse().unwrap();
            assert!((1..=6).contains(&v), "swapped bounds");
            let v: i64 = ok(&mut c, "RAND", "").parse().unwrap();
            assert!((0..=RAND_MAX).contains(&v));
            let v: i64 = ok(&mut c, "RAND", ",-5").parse().unwrap();
            assert!((-5..=0).contains(&v));
        }
        assert_eq!(ok(&mut c, "RAND", "3,3"), "3");
        assert_eq!(ok(&mut c, "RAND", "x,0"), "0");
        let v: i64 = ok(&mut c, "RAND", "-2147483648,2147483647")
            .parse()
            .unwrap();
        assert!(v >= i64::from(i32::MIN));
    }
}
