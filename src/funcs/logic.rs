//! Logic functions (Asterisk's `func_logic.c`): IF, IFTIME, ISNULL, EXISTS, SET.
//!
//! `IF` takes an already substituted condition and tests it with
//! [`checkcondition`] (Asterisk's `pbx_checkcondition`): empty is false, a string that
//! starts with an integer is that integer's truth (`0`, `00`, ` 0`, `0abc` are false),
//! anything else is true.

use super::strings::{func, meta, scan_int, separate_args, set_var_helper};
use super::{Func, FuncError};
use crate::dialplan::timing::TimeSpec;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use std::sync::Arc;

/// Asterisk's `pbx_checkcondition`.
pub fn checkcondition(cond: &str) -> bool {
    if cond.is_empty() {
        return false;
    }
    match scan_int(cond) {
        // sscanf("%30d") stores into an int.
        Some((v, _)) => v as i32 != 0,
        None => true,
    }
}

/// Asterisk's `ast_strip_quoted(s, "\"", "\"")`: trim whitespace, then drop one pair of
/// surrounding double quotes.
fn strip_quoted(s: &str) -> &str {
    let s = s.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if let Some(inner) = s.strip_prefix('"') {
        if let Some(inner) = inner.strip_suffix('"') {
            return inner;
        }
        if inner.is_empty() {
            return inner;
        }
    }
    s
}

const C_SPACE: [char; 6] = [' ', '\t', '\n', '\r', '\x0b', '\x0c'];

func!(
    If,
    "IF",
    "Check for an expression.",
    "IF(expression?[true][:false])",
    "Returns the data following ? if true, else the data following :. The expression is \
     true when it is non-empty and not numerically zero."
);

impl Func for If {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a1 = separate_args(args, '?', 2, true);
        let expr = a1.first().map(String::as_str).unwrap_or("");
        let a2 = a1
            .get(1)
            .map(|r| separate_args(r, ':', 2, true))
            .unwrap_or_default();
        let iftrue = a2.first();
        let iffalse = a2.get(1);
        if expr.is_empty() || (iftrue.is_none() && iffalse.is_none()) {
            return Err(FuncError::Usage(format!(
                "Syntax IF(<expr>?[<true>][:<false>])  (expr must be non-null, and either <true> or <false> must be non-null)\n      In this case, <expr>='{}', <true>='{}', and <false>='{}'",
                expr,
                iftrue.map(String::as_str).unwrap_or("(null)"),
                iffalse.map(String::as_str).unwrap_or("(null)")
            )));
        }
        let pick = if checkcondition(expr.trim_matches(C_SPACE)) {
            iftrue
        } else {
            iffalse
        };
        Ok(pick
            .map(|s| s.trim_matches(C_SPACE).to_string())
            .unwrap_or_default())
    }
}

func!(
    IfTime,
    "IFTIME",
    "Temporal Conditional.",
    "IFTIME(timespec?[true][:false])",
    "Returns the data following ? if true, else the data following :. timespec is \
     times,weekdays,mdays,months[,timezone] as for GotoIfTime."
);

impl Func for IfTime {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let data = strip_quoted(args);
        let (expr, rest) = match data.split_once('?') {
            Some((e, r)) => (e, Some(r)),
            None => (data, None),
        };
        let (iftrue, iffalse) = match rest {
            None => (None, None),
            Some(r) => match r.split_once(':') {
                Some((t, f)) => (Some(t), Some(f)),
                None => (Some(r), None),
            },
        };
        if expr.is_empty() || (iftrue.is_none() && iffalse.is_none()) {
            return Err(FuncError::Usage(
                "Syntax IFTIME(<timespec>?[<true>][:<false>])".into(),
            ));
        }
        let spec = TimeSpec::parse(expr)
            .map_err(|e| FuncError::Usage(format!("Invalid Time Spec: {e}")))?;
        let pick = if spec.matches(chrono::Utc::now()) {
            iftrue
        } else {
            iffalse
        };
        Ok(pick.map(strip_quoted).unwrap_or("").to_string())
    }
}

func!(
    IsNull,
    "ISNULL",
    "Check if a value is NULL.",
    "ISNULL(data)",
    "Returns 1 if NULL or 0 otherwise."
);

impl Func for IsNull {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(if args.is_empty() { "1" } else { "0" }.into())
    }
}

func!(
    Exists,
    "EXISTS",
    "Test the existence of a value.",
    "EXISTS(data)",
    "Returns 1 if exists, 0 otherwise."
);

impl Func for Exists {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        Ok(if args.is_empty() { "0" } else { "1" }.into())
    }
}

func!(
    Set,
    "SET",
    "SET assigns a value to a channel variable.",
    "SET(varname=[value])",
    "Sets the variable (or writes the function) and returns the value."
);

impl Func for Set {
    meta!();
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let Some((name, value)) = args.split_once('=') else {
            return Err(FuncError::Usage("Syntax SET(<varname>=[<value>])".into()));
        };
        if name.is_empty() {
            return Err(FuncError::Usage("Syntax SET(<varname>=[<value>])".into()));
        }
        let name = name.trim_matches(C_SPACE);
        let value = value.trim_matches(C_SPACE);
        set_var_helper(chan, name, value);
        Ok(value.to_string())
    }
}

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("func_logic.so", "Logical dialplan functions"),
    register: register_func_logic,
}];

fn register_func_logic(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(If));
    ctx.register_func(Arc::new(IfTime));
    ctx.register_func(Arc::new(IsNull));
    ctx.register_func(Arc::new(Exists));
    ctx.register_func(Arc::new(Set));
    super::vars::register_logic_funcs(ctx);
}

#[cfg(test)]
mod tests {
    use super::super::strings::{call, test_chan};
    use super::*;

    fn ok(chan: &mut Channel, name: &str, args: &str) -> String {
        call(chan, name, args).unwrap_or_else(|e| panic!("{name}({args}): {e}"))
    }

    #[test]
    fn conditions() {
        for (c, want) in [
            ("", false),
            ("0", false),
            ("00", false),
            (" 0", false),
            ("-0", false),
            ("0abc", false),
            ("0.5", false),
            ("1", true),
            ("-1", true),
            ("abc", true),
            ("1abc", true),
            // sscanf("%d") truncates strtol's long into an int.
            ("4294967296", false),
            ("99999999999999999999", true),
        ] {
            assert_eq!(checkcondition(c), want, "{c:?}");
        }
    }

    #[test]
    fn if_function() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "IF", "1?yes:no"), "yes");
        assert_eq!(ok(&mut c, "IF", "0?yes:no"), "no");
        assert_eq!(ok(&mut c, "IF", "abc?yes:no"), "yes");
        assert_eq!(ok(&mut c, "IF", "1?yes"), "yes");
        assert_eq!(ok(&mut c, "IF", "0?yes"), "");
        assert_eq!(ok(&mut c, "IF", "0?:no"), "no");
        assert_eq!(ok(&mut c, "IF", "1?:no"), "");
        assert_eq!(ok(&mut c, "IF", " 1 ? a b : c "), "a b");
        assert_eq!(ok(&mut c, "IF", "1?\"a:b\":c"), "a:b");
        assert_eq!(ok(&mut c, "IF", "0?a:b:c"), "b:c");
        assert_eq!(ok(&mut c, "IF", "1?a,b:c"), "a,b");
        assert!(matches!(
            call(&mut c, "IF", "?a:b"),
            Err(FuncError::Usage(_))
        ));
        assert!(call(&mut c, "IF", "1").is_err());
        assert!(call(&mut c, "IF", "1?").is_err());
        assert!(call(&mut c, "IF", "").is_err());
    }

    #[test]
    fn iftime() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "IFTIME", "*,*,*,*?open:closed"), "open");
        assert_eq!(ok(&mut c, "IFTIME", "*?open"), "open");
        assert_eq!(ok(&mut c, "IFTIME", "\"*,*,*,*?\"a\":b\""), "a");
        // Never true: the 31st of February.
        assert_eq!(ok(&mut c, "IFTIME", "*,*,31,feb,UTC?open:closed"), "closed");
        assert_eq!(ok(&mut c, "IFTIME", "*,*,31,feb?open"), "");
        assert!(call(&mut c, "IFTIME", "*").is_err());
        assert!(call(&mut c, "IFTIME", "?a:b").is_err());
        assert!(matches!(
            call(&mut c, "IFTIME", "25:00,*,*,*?a:b"),
            Err(FuncError::Usage(m)) if m.contains("Invalid Time Spec")
        ));
    }

    #[test]
    fn isnull_exists() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "ISNULL", ""), "1");
        assert_eq!(ok(&mut c, "ISNULL", "x"), "0");
        assert_eq!(ok(&mut c, "EXISTS", ""), "0");
        assert_eq!(ok(&mut c, "EXISTS", "0"), "1");
    }

    #[test]
    fn set_function() {
        let mut c = test_chan();
        assert_eq!(ok(&mut c, "SET", "A=hello"), "hello");
        assert_eq!(c.get_var("A").as_deref(), Some("hello"));
        assert_eq!(ok(&mut c, "SET", " B = x=y "), "x=y");
        assert_eq!(c.get_var("B").as_deref(), Some("x=y"));
        assert_eq!(ok(&mut c, "SET", "_I=1"), "1");
        assert_eq!(c.vars.inherited().get("I"), Some("1"));
        assert_eq!(ok(&mut c, "SET", "A="), "");
        assert_eq!(c.get_var("A"), None);
        assert!(call(&mut c, "SET", "A").is_err());
        assert!(call(&mut c, "SET", "=x").is_err());
    }
}
