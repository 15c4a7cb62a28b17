//! Encoding functions (Asterisk's `func_base64.c`, `func_uri.c`): BASE64_ENCODE,
//! BASE64_DECODE, URIENCODE, URIDECODE.
//!
//! Decoding is as lenient as Asterisk's: BASE64_DECODE stops at `=` and reads any other
//! character as 6 bits; URIDECODE leaves bad `%` escapes alone and keeps `+`. Decoded
//! bytes end at the first NUL (a C string) and invalid UTF-8 is replaced with U+FFFD.

use super::strings::{func, meta};
use super::{Func, FuncError};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use base64::Engine as _;
use std::sync::Arc;

/// Bytes as a dialplan string: cut at the first NUL, lossy UTF-8.
fn bytes_to_string(mut b: Vec<u8>) -> String {
    if let Some(p) = b.iter().position(|&x| x == 0) {
        b.truncate(p);
    }
    match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Asterisk's `ast_base64decode`.
pub fn base64_decode_lenient(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        if b == b'=' {
            break;
        }
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        acc = (acc << 6 | u32::from(v)) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

func!(
    Base64Encode,
    "BASE64_ENCODE",
    "Encode a string in base64.",
    "BASE64_ENCODE(string)",
    "Returns the base64 string."
);

impl Func for Base64Encode {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: BASE64_ENCODE(<data>) - missing argument!".into(),
            ));
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(args.as_bytes()))
    }
}

func!(
    Base64Decode,
    "BASE64_DECODE",
    "Decode a base64 string.",
    "BASE64_DECODE(string)",
    "Returns the plain text string."
);

impl Func for Base64Decode {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: BASE64_DECODE(<base_64 string>) - missing argument!".into(),
            ));
        }
        Ok(bytes_to_string(base64_decode_lenient(args)))
    }
}

/// `ast_uri_encode` with `ast_uri_http`: alphanumerics and `-_.!~*'()` stay, every other
/// byte becomes `%XX`.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `ast_uri_decode` with `ast_uri_http` (sscanf `%2x` semantics: one hex digit is
/// enough, and both following characters are consumed).
pub fn uri_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = |x: u8| char::from(x).to_digit(16);
            match (h(b[i + 1]), h(b[i + 2])) {
                (Some(x), Some(y)) => {
                    out.push((x * 16 + y) as u8);
                    i += 3;
                    continue;
                }
                (Some(x), None) => {
                    out.push(x as u8);
                    i += 3;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    bytes_to_string(out)
}

func!(
    UriEncode,
    "URIENCODE",
    "Encodes a string to URI-safe encoding according to RFC 2396.",
    "URIENCODE(data)",
    "Returns the encoded string defined in data."
);

impl Func for UriEncode {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: URIENCODE(<data>) - missing argument!".into(),
            ));
        }
        Ok(uri_encode(args))
    }
}

func!(
    UriDecode,
    "URIDECODE",
    "Decodes a URI-encoded string according to RFC 2396.",
    "URIDECODE(data)",
    "Returns the decoded URI-encoded data string."
);

impl Func for UriDecode {
    meta!();
    fn read(&self, _chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: URIDECODE(<data>) - missing argument!".into(),
            ));
        }
        Ok(uri_decode(args))
    }
}

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_base64.so", "base64 encode/decode dialplan functions"),
        register: register_func_base64,
    },
    Family {
        info: ModuleInfo::new("func_uri.so", "URI encode/decode dialplan functions"),
        register: register_func_uri,
    },
];

fn register_func_base64(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Base64Encode));
    ctx.register_func(Arc::new(Base64Decode));
}

fn register_func_uri(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(UriEncode));
    ctx.register_func(Arc::new(UriDecode));
}

#[cfg(test)]
mod tests {
    use super::super::strings::{call, test_chan};
    use super::*;

    fn ok(chan: &mut Channel, name: &str, args: &str) -> String {
        call(chan, name, args).unwrap_or_else(|e| panic!("{name}({args}): {e}"))
    }

    #[test]
    fn base64() {
        let mut c = test_chan();
        assert_eq!(
            ok(&mut c, "BASE64_ENCODE", "Hello, World"),
            "SGVsbG8sIFdvcmxk"
        );
        assert_eq!(ok(&mut c, "BASE64_ENCODE", "a"), "YQ==");
        assert_eq!(
            ok(&mut c, "BASE64_DECODE", "SGVsbG8sIFdvcmxk"),
            "Hello, World"
        );
        assert_eq!(ok(&mut c, "BASE64_DECODE", "YQ=="), "a");
        assert_eq!(ok(&mut c, "BASE64_DECODE", "YQ"), "a");
        assert_eq!(ok(&mut c, "BASE64_DECODE", "w6k="), "é");
        // NUL ends the string; invalid UTF-8 does not panic.
        assert_eq!(ok(&mut c, "BASE64_DECODE", "YQBi"), "a");
        assert_eq!(ok(&mut c, "BASE64_DECODE", "/w=="), "\u{fffd}");
        assert!(ok(&mut c, "BASE64_DECODE", "€€€€").starts_with('\u{fffd}'));
        assert!(matches!(
            call(&mut c, "BASE64_ENCODE", ""),
            Err(FuncError::Usage(m)) if m.contains("missing argument")
        ));
        assert!(call(&mut c, "BASE64_DECODE", "").is_err());
    }

    #[test]
    fn uri() {
        let mut c = test_chan();
        assert_eq!(
            ok(&mut c, "URIENCODE", "http://www.example.com/a b?x=1&y=é"),
            "http%3A%2F%2Fwww.example.com%2Fa%20b%3Fx%3D1%26y%3D%C3%A9"
        );
        assert_eq!(ok(&mut c, "URIENCODE", "-_.!~*'()"), "-_.!~*'()");
        assert_eq!(ok(&mut c, "URIDECODE", "a%20b%2Fc+d"), "a b/c+d");
        assert_eq!(ok(&mut c, "URIDECODE", "%C3%A9"), "é");
        assert_eq!(ok(&mut c, "URIDECODE", "100%"), "100%");
        assert_eq!(ok(&mut c, "URIDECODE", "%4"), "%4");
        assert_eq!(ok(&mut c, "URIDECODE", "%zz"), "%zz");
        assert_eq!(ok(&mut c, "URIDECODE", "%4Gx"), "\u{4}x");
        assert_eq!(ok(&mut c, "URIDECODE", "a%00b"), "a");
        assert_eq!(ok(&mut c, "URIDECODE", "%FF"), "\u{fffd}");
        assert!(call(&mut c, "URIENCODE", "").is_err());
        assert!(call(&mut c, "URIDECODE", "").is_err());
    }
}
