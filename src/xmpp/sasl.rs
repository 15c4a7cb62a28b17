//! SASL for the XMPP client: `SCRAM-SHA-1` (RFC 5802, preferred: the password never
//! crosses the wire) and `PLAIN` (RFC 4616, what Asterisk's res_xmpp sends; only over TLS
//! unless the server offers nothing else). Pure functions over byte strings.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// `PLAIN`'s initial response: `authzid NUL authcid NUL password`, base64.
pub fn plain(user: &str, password: &str) -> String {
    B64.encode(format!("\0{user}\0{password}"))
}

/// A SCRAM-SHA-1 exchange in progress.
#[derive(Debug, Clone)]
pub struct Scram {
    password: String,
    client_first_bare: String,
    cnonce: String,
    /// The server signature expected in the final message.
    expect: Option<Vec<u8>>,
}

/// Escape a SCRAM user name (`=` → `=3D`, `,` → `=2C`).
fn saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

impl Scram {
    /// Start with the client nonce `cnonce` (printable, no commas).
    pub fn new(user: &str, password: &str, cnonce: &str) -> Scram {
        Scram {
            password: password.to_string(),
            client_first_bare: format!("n={},r={cnonce}", saslname(user)),
            cnonce: cnonce.to_string(),
            expect: None,
        }
    }

    /// The client-first message, base64 (the `<auth>` text).
    pub fn first(&self) -> String {
        B64.encode(format!("n,,{}", self.client_first_bare))
    }

    /// Answer the server-first message (base64 `<challenge>` text): the client-final
    /// message, base64.
    pub fn answer(&mut self, challenge_b64: &str) -> Result<String, String> {
        let server_first = B64
            .decode(challenge_b64.trim())
            .map_err(|e| format!("challenge is not base64: {e}"))?;
        let server_first =
            String::from_utf8(server_first).map_err(|_| "challenge is not UTF-8".to_string())?;
        let (mut nonce, mut salt, mut iter) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => nonce = Some(v.to_string()),
                Some(("s", v)) => salt = Some(v.to_string()),
                Some(("i", v)) => iter = v.parse::<u32>().ok(),
                Some(("m", _)) => return Err("server requires a SCRAM extension".into()),
                _ => {}
            }
        }
        let nonce = nonce.ok_or("challenge without nonce")?;
        if !nonce.starts_with(&self.cnonce) || nonce.len() <= self.cnonce.len() {
            return Err("server nonce does not extend ours".into());
        }
        let salt = B64
            .decode(salt.ok_or("challenge without salt")?)
            .map_err(|_| "salt is not base64".to_string())?;
        let iter = iter
            .and_then(NonZeroU32::new)
            .ok_or("challenge without iteration count")?;
        let mut salted = [0u8; 20];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA1,
            iter,
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salted);
        let client_key = hmac::sign(&key, b"Client Key");
        let stored_key = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let sig = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(sig.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac::sign(&key, b"Server Key");
        let server_sig = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, server_key.as_ref()),
            auth_message.as_bytes(),
        );
        self.expect = Some(server_sig.as_ref().to_vec());
        Ok(B64.encode(format!("{without_proof},p={}", B64.encode(proof))))
    }

    /// Check the server's final message (the `<success>` text, base64): whether it proves
    /// the server knows the password.
    pub fn verify(&self, success_b64: &str) -> bool {
        let Some(expect) = &self.expect else {
            return false;
        };
        let Ok(text) = B64.decode(success_b64.trim()) else {
            return false;
        };
        let text = String::from_utf8_lossy(&text);
        text.split(',')
            .find_map(|p| p.strip_prefix("v="))
            .and_then(|v| B64.decode(v).ok())
            .is_some_and(|v| &v == expect)
    }
}

/// The digest of legacy `jabber:iq:auth` (XEP-0078): hex SHA-1 of stream id + password.
pub fn legacy_digest(stream_id: &str, password: &str) -> String {
    let d = digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{stream_id}{password}").as_bytes(),
    );
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_sha1_matches_rfc5802() {
        let mut s = Scram::new("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            B64.decode(s.first()).unwrap(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let fin = s
            .answer(
                &B64.encode(
                    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                ),
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(B64.decode(fin).unwrap()).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert!(s.verify(&B64.encode("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")));
        assert!(!s.verify(&B64.encode("v=AAAApqV8S7suAoZWja4dJRkFsKQ=")));
    }

    #[test]
    fn scram_refuses_a_nonce_that_is_not_ours() {
        let mut s = Scram::new("user", "pencil", "abc");
        assert!(s
            .answer(&B64.encode("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096"))
            .is_err());
        assert!(s.answer("%%%").is_err());
        assert!(s.answer(&B64.encode("r=abc1,s=QSXC,i=0")).is_err());
    }

    #[test]
    fn plain_and_legacy_digest() {
        assert_eq!(B64.decode(plain("u", "p")).unwrap(), b"\0u\0p");
        assert_eq!(
            legacy_digest("3EE948B0", "Calli0pe"),
            "48fc78be9ec8f86d8ce1c39c320c97c21d62334d"
        );
    }
}
