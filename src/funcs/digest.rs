//! Hashes and file-name parts: `MD5()` (func_md5.so), `SHA1()` (func_sha1.so),
//! `BASENAME()` and `DIRNAME()` (func_env.so's path helpers), and the list helpers
//! `LISTFILTER()` and `SORT()` of func_strings.so.

use super::strings::{func, meta, var_value};
use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_md5.so", "MD5 digest dialplan functions"),
        register: register_func_md5,
    },
    Family {
        info: ModuleInfo::new("func_sha1.so", "SHA-1 computation dialplan function"),
        register: register_func_sha1,
    },
    Family {
        info: ModuleInfo::new("func_env.so", "Environment/filesystem dialplan functions"),
        register: register_func_env,
    },
];

fn register_func_md5(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Md5));
}

fn register_func_sha1(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Sha1));
}

fn register_func_env(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Basename));
    ctx.register_func(Arc::new(Dirname));
    super::env::register_env_funcs(ctx);
}

/// The list functions func_strings.so registers from this file.
pub fn register_list_funcs(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(ListFilter));
    ctx.register_func(Arc::new(Sort));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

func!(
    Md5,
    "MD5",
    "Computes an MD5 digest.",
    "MD5(data)",
    "Computes an MD5 digest of data, as 32 lowercase hex digits."
);

impl Func for Md5 {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        use md5::{Digest, Md5 as H};
        if a.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: MD5(<data>) - missing argument!".into(),
            ));
        }
        Ok(hex(&H::digest(a.as_bytes())))
    }
}

func!(
    Sha1,
    "SHA1",
    "Computes a SHA1 digest.",
    "SHA1(data)",
    "Generate a SHA1 digest via the SHA1 algorithm, as 40 lowercase hex digits."
);

impl Func for Sha1 {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        use sha1::{Digest, Sha1 as H};
        if a.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: SHA1(<data>) - missing argument!".into(),
            ));
        }
        Ok(hex(&H::digest(a.as_bytes())))
    }
}

/// POSIX `basename`: the last component, trailing slashes ignored; `/` stays `/`.
pub fn basename(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// POSIX `dirname`: everything before the last component; `.` when there is no slash.
pub fn dirname(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    match t.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.to_string()
            }
        }
    }
}

func!(
    Basename,
    "BASENAME",
    "Return the name of a file.",
    "BASENAME(filename)",
    "Return the name of a file from a path, as the POSIX basename: /etc/asterisk/extensions.conf \
     gives extensions.conf."
);

impl Func for Basename {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: BASENAME(<path>) - missing argument!".into(),
            ));
        }
        Ok(basename(a))
    }
}

func!(
    Dirname,
    "DIRNAME",
    "Return the directory of a file.",
    "DIRNAME(filename)",
    "Return the directory of a file from a path, as the POSIX dirname: \
     /etc/asterisk/extensions.conf gives /etc/asterisk."
);

impl Func for Dirname {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: DIRNAME(<path>) - missing argument!".into(),
            ));
        }
        Ok(dirname(a))
    }
}

func!(
    ListFilter,
    "LISTFILTER",
    "Remove an item from a list, by name.",
    "LISTFILTER(varname,delim,value)",
    "Remove value from the list contained in the varname variable, where the list delimiter \
     is specified by the delim parameter. This is very useful for removing a single channel \
     name from a list of channels, for example."
);

impl Func for ListFilter {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        if parts.len() < 3 {
            return Err(FuncError::Usage(
                "Usage: LISTFILTER(<listname>,<delimiter>,<fieldvalue>)".into(),
            ));
        }
        let (name, delim, value) = (
            args::nth(&parts, 0).trim(),
            args::nth(&parts, 1),
            args::nth(&parts, 2),
        );
        let delim = if delim.is_empty() { "," } else { delim };
        let list = var_value(chan, name);
        if list.is_empty() {
            return Ok(String::new());
        }
        Ok(list
            .split(delim)
            .filter(|item| *item != value)
            .collect::<Vec<_>>()
            .join(delim))
    }
}

func!(
    Sort,
    "SORT",
    "Sorts a list of key/vals into a list of keys, based upon the vals.",
    "SORT(key1:val1[,key2:val2[,...]])",
    "Takes a comma-separated list of keys and values, each separated by a colon, and returns \
     a comma-separated list of the keys, sorted by their values. Values will be evaluated as \
     floating-point numbers."
);

impl Func for Sort {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage("Sort called with no arguments".into()));
        }
        let mut pairs: Vec<(&str, f64)> = a
            .split(',')
            .map(|kv| match kv.split_once(':') {
                Some((k, v)) => (k, v.trim().parse::<f64>().unwrap_or(0.0)),
                // A key without a value sorts as 0, as atof("") does.
                None => (kv, 0.0),
            })
            .collect();
        pairs.sort_by(|x, y| x.1.total_cmp(&y.1));
        Ok(pairs
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_paths() {
        let mut c = crate::testutil::test_channel();
        assert_eq!(
            Md5.read(&mut c, "hello").unwrap(),
            "5d41402abc4b2a76b9719d911017c592"
        );
        assert_eq!(
            Sha1.read(&mut c, "hello").unwrap(),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
        assert!(Md5.read(&mut c, "").is_err());
        assert!(Sha1.read(&mut c, "").is_err());
        for (p, b, d) in [
            (
                "/etc/asterisk/extensions.conf",
                "extensions.conf",
                "/etc/asterisk",
            ),
            ("/usr/lib/", "lib", "/usr"),
            ("usr", "usr", "."),
            ("/", "/", "/"),
            ("//a", "a", "/"),
            ("a/b//", "b", "a"),
        ] {
            assert_eq!(Basename.read(&mut c, p).unwrap(), b, "basename {p}");
            assert_eq!(Dirname.read(&mut c, p).unwrap(), d, "dirname {p}");
        }
        assert!(Basename.read(&mut c, "").is_err());
    }

    #[test]
    fn listfilter_and_sort() {
        let mut c = crate::testutil::test_channel();
        c.vars.set("L", "SIP/a,SIP/b,SIP/a,SIP/c");
        // A comma delimiter is written escaped, as in Asterisk.
        assert_eq!(
            ListFilter.read(&mut c, "L,\\,,SIP/a").unwrap(),
            "SIP/b,SIP/c"
        );
        c.vars.set("M", "1-2-3-2");
        assert_eq!(ListFilter.read(&mut c, "M,-,2").unwrap(), "1-3");
        assert_eq!(ListFilter.read(&mut c, "NOPE,-,2").unwrap(), "");
        assert!(ListFilter.read(&mut c, "M,-").is_err());
        assert_eq!(Sort.read(&mut c, "a:3,b:1,c:2.5").unwrap(), "b,c,a");
        assert_eq!(Sort.read(&mut c, "x:-1,y,z:1e1").unwrap(), "x,y,z");
        assert!(Sort.read(&mut c, "").is_err());
    }
}

#[cfg(test)]
mod dialplan_tests {
    use crate::pbx::tests::{pbx_with, run};

    /// Through the interpreter, as a dialplan uses them.
    #[tokio::test]
    async fn in_a_dialplan() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(H=${MD5(abc)})\n same => n,Set(S=${SHA1(abc)})\n\
             same => n,Set(L=a-b-c)\n same => n,Set(F=${LISTFILTER(L,-,b)})\n\
             same => n,Set(O=${SORT(x:2,y:1)})\n same => n,Set(B=${BASENAME(/var/spool/x.wav)})\n\
             same => n,Set(D=${DIRNAME(/var/spool/x.wav)})\n",
        );
        let v = run(&pbx, "t", "s").await;
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, x)| x.as_str());
        assert_eq!(get("H"), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(get("S"), Some("a9993e364706816aba3e25717850c26c9cd0d89d"));
        assert_eq!(get("F"), Some("a-c"));
        assert_eq!(get("O"), Some("y,x"));
        assert_eq!(get("B"), Some("x.wav"));
        assert_eq!(get("D"), Some("/var/spool"));
    }
}
