//! `JSON_DECODE()` (func_json.so) and `AES_ENCRYPT()`/`AES_DECRYPT()` (func_aes.so).

use super::strings::{func, meta, var_value};
use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use base64::Engine;
use serde_json::Value;
use std::sync::Arc;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_json.so", "JSON decoding function"),
        register: register_func_json,
    },
    Family {
        info: ModuleInfo::new("func_aes.so", "AES dialplan functions"),
        register: register_func_aes,
    },
];

fn register_func_json(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(JsonDecode));
}

fn register_func_aes(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Aes { encrypt: true }));
    ctx.register_func(Arc::new(Aes { encrypt: false }));
}

// ---------------------------------------------------------------------------------------
// JSON_DECODE

/// How deep JSON_DECODE follows keys (Asterisk's MAX_JSON_STACK).
const MAX_DEPTH: usize = 32;

func!(
    JsonDecode,
    "JSON_DECODE",
    "Returns the string value of a JSON object key from a string containing a JSON array.",
    "JSON_DECODE(varname,item[,separator[,options]])",
    "Parses the value of the variable varname as JSON and returns the value at item; keys \
     of nested objects and array indexes are separated by separator (default .). Strings \
     come without quotes, numbers as numbers, true/false as 1/0, null as nothing, objects \
     and arrays as compact JSON. Option c: for an array, return the number of items. A key \
     that cannot be found gives an empty string."
);

/// A scalar or a compact dump, as Asterisk prints a JSON node.
fn node_text(v: &Value, count: bool) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                // Asterisk prints the integer as a C int.
                (i as i32).to_string()
            } else {
                format_g17(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Null => String::new(),
        Value::Array(a) if count => a.len().to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

/// C's `printf("%.17g", x)`.
fn format_g17(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x < 0.0 {
            "-inf".into()
        } else {
            "inf".into()
        };
    }
    let strip = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    // The exponent after rounding to 17 significant digits.
    let sci = format!("{x:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        format!(
            "{}e{}{:02}",
            strip(mant.to_string()),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        strip(format!("{x:.*}", (16 - exp) as usize))
    }
}

/// Follow `keys` from `v`.
fn descend<'a>(mut v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    for (depth, k) in keys.iter().enumerate() {
        if depth >= MAX_DEPTH {
            return None;
        }
        v = match v {
            Value::Object(m) => m.get(*k)?,
            Value::Array(a) => a.get(k.parse::<usize>().ok()?)?,
            // A scalar reached before the last key: Asterisk prints the scalar.
            _ => return Some(v),
        };
    }
    Some(v)
}

impl Func for JsonDecode {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let var = v.first().map(|s| s.trim()).unwrap_or("");
        let key = v.get(1).map(|s| s.as_str()).unwrap_or("");
        if var.is_empty() {
            return Err(FuncError::Usage(
                "JSON_DECODE requires a variable name".into(),
            ));
        }
        if key.is_empty() {
            return Err(FuncError::Usage("JSON_DECODE requires a key".into()));
        }
        let sep = match v.get(2).map(String::as_str).unwrap_or("") {
            "" => '.',
            s if s.chars().count() == 1 => s.chars().next().unwrap_or('.'),
            s => {
                chan.pbx.warning(&format!(
                    "func_json.c: Nesting separator '{s}' has length {} and is invalid (must be a single character)",
                    s.len()
                ));
                '.'
            }
        };
        let count = v.get(3).is_some_and(|o| o.contains('c'));
        let text = var_value(chan, var);
        if text.is_empty() {
            return Ok(String::new());
        }
        let json: Value = serde_json::from_str(&text)
            .map_err(|_| FuncError::Other(format!("Failed to parse as JSON: {text}")))?;
        let keys: Vec<&str> = key.split(sep).collect();
        Ok(descend(&json, &keys)
            .map(|n| node_text(n, count))
            .unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------------
// AES_ENCRYPT, AES_DECRYPT

/// AES_ENCRYPT or AES_DECRYPT.
pub struct Aes {
    encrypt: bool,
}

impl Func for Aes {
    fn name(&self) -> &'static str {
        if self.encrypt {
            "AES_ENCRYPT"
        } else {
            "AES_DECRYPT"
        }
    }
    fn synopsis(&self) -> &'static str {
        if self.encrypt {
            "Encrypt a string with AES given a 16 character key."
        } else {
            "Decrypt a string encoded in base64 with AES given a 16 character key."
        }
    }
    fn syntax(&self) -> &'static str {
        if self.encrypt {
            "AES_ENCRYPT(key,string)"
        } else {
            "AES_DECRYPT(key,string)"
        }
    }
    fn description(&self) -> &'static str {
        if self.encrypt {
            "Returns an AES (128-bit key, 16-byte blocks padded with zeros) encrypted string encoded in base64."
        } else {
            "Returns the plain text string (up to its first zero byte)."
        }
    }
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let key = v.first().map(String::as_str).unwrap_or("");
        let data = v.get(1).map(String::as_str).unwrap_or("");
        let name = self.name();
        if key.is_empty() || data.is_empty() {
            return Err(FuncError::Usage(format!(
                "Syntax: {name}(<key>,<data>) - missing argument!"
            )));
        }
        if key.len() != 16 {
            return Err(FuncError::Usage(format!(
                "Syntax: {name}(<key>,<data>) - <key> parameter must be exactly 16 characters!"
            )));
        }
        Ok(if self.encrypt {
            aes_encrypt(key.as_bytes(), data.as_bytes())
        } else {
            aes_decrypt(key.as_bytes(), data)
        })
    }
}

fn blocks(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8> {
    use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
    let Ok(cipher) = aes::Aes128::new_from_slice(key) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(data.len().div_ceil(16) * 16);
    for chunk in data.chunks(16) {
        let mut block = aes::Block::default();
        block[..chunk.len()].copy_from_slice(chunk);
        if encrypt {
            cipher.encrypt_block(&mut block);
        } else {
            cipher.decrypt_block(&mut block);
        }
        out.extend_from_slice(&block);
    }
    out
}

/// AES-128 over zero-padded 16-byte blocks, base64 encoded (func_aes.c's format).
pub fn aes_encrypt(key: &[u8], plain: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(blocks(key, plain, true))
}

/// The inverse of [`aes_encrypt`]: the text up to the first zero byte.
pub fn aes_decrypt(key: &[u8], b64: &str) -> String {
    let raw = crate::funcs::encoding::base64_decode_lenient(b64);
    let mut out = blocks(key, &raw, false);
    if let Some(p) = out.iter().position(|&b| b == 0) {
        out.truncate(p);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_decode() {
        let mut c = crate::testutil::test_channel();
        c.vars.set(
            "J",
            r#"{"city":"Anytown","zip":{"code":"1234"},"n":5,"f":1.5,"t":true,"z":null,"list":[1,{"a":"b"},3],"o":{"x":1,"y":[2]}}"#,
        );
        let r = |c: &mut Channel, a: &str| JsonDecode.read(c, a).unwrap();
        assert_eq!(r(&mut c, "J,city"), "Anytown");
        assert_eq!(r(&mut c, "J,zip.code"), "1234");
        assert_eq!(r(&mut c, "J,zip/code,/"), "1234");
        assert_eq!(r(&mut c, "J,n"), "5");
        assert_eq!(r(&mut c, "J,f"), "1.5");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(-2.5e-7), "-2.4999999999999999e-07");
        assert_eq!(r(&mut c, "J,t"), "1");
        assert_eq!(r(&mut c, "J,z"), "");
        assert_eq!(r(&mut c, "J,list"), "[1,{\"a\":\"b\"},3]");
        assert_eq!(r(&mut c, "J,list,,c"), "3");
        assert_eq!(r(&mut c, "J,list.1.a"), "b");
        assert_eq!(r(&mut c, "J,list.7"), "");
        assert_eq!(r(&mut c, "J,o"), "{\"x\":1,\"y\":[2]}");
        assert_eq!(r(&mut c, "J,missing"), "");
        c.vars.set("A", "[\"x\",\"y\"]");
        assert_eq!(r(&mut c, "A,1"), "y");
        c.vars.set("BAD", "{nope");
        assert!(JsonDecode.read(&mut c, "BAD,a").is_err());
        assert!(JsonDecode.read(&mut c, "J").is_err());
        assert_eq!(r(&mut c, "EMPTY,a"), "");
    }

    #[test]
    fn aes_round_trip() {
        let mut c = crate::testutil::test_channel();
        let enc = Aes { encrypt: true }
            .read(&mut c, "tsteu8sbcuw2w3x9,Hello, world")
            .unwrap_or_default();
        // "Hello" only: the comma splits the arguments.
        let dec = Aes { encrypt: false }
            .read(&mut c, &format!("tsteu8sbcuw2w3x9,{enc}"))
            .unwrap();
        assert_eq!(dec, "Hello");
        // FIPS-197 C.1 with a 16-byte key, one block.
        let key: Vec<u8> = (0u8..16).collect();
        let plain: Vec<u8> = (0u8..16).map(|i| i * 0x11).collect();
        let ct = blocks(&key, &plain, true);
        assert_eq!(
            ct,
            [
                0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
                0xc5, 0x5a
            ]
        );
        let long = "a".repeat(40);
        assert_eq!(
            aes_decrypt(
                b"0123456789abcdef",
                &aes_encrypt(b"0123456789abcdef", long.as_bytes())
            ),
            long
        );
        assert!(Aes { encrypt: true }.read(&mut c, "short,x").is_err());
        assert!(Aes { encrypt: true }
            .read(&mut c, "0123456789abcdef,")
            .is_err());
    }
}
