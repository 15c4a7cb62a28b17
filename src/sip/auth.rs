//! SIP digest authentication (RFC 2617, RFC 3261 §22): MD5, `qop=auth` with nc/cnonce and the
//! legacy form without qop. Server side ([`DigestAuthenticator`]: challenges, verification,
//! replay protection) and client side ([`build_authorization`], for trunks and outbound
//! registration). No I/O: the current time is always passed in.
//!
//! Nonces are stateless: each one encodes its issue time (milliseconds since the
//! authenticator's epoch) and a counter, followed by an MD5 MAC keyed with a server secret, so any
//! nonce can be checked for authenticity and age without remembering it. Only the nonce counts
//! (`nc`) of nonces in use are remembered, in a bounded map, to reject replays.
//!
//! With `alwaysauthreject` an unknown user must be indistinguishable from a wrong password:
//! [`DigestAuthenticator::authenticate`] runs the same path for both (a dummy HA1 is hashed for an
//! unknown user) and maps every rejection to the same [`AuthReply::Forbidden`].

use md5::{Digest, Md5};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Longest `Authorization`/`WWW-Authenticate` value accepted by the parsers.
pub const MAX_HEADER_LEN: usize = 4096;
/// Most parameters accepted in one header value.
const MAX_PARAMS: usize = 32;
/// Default nonce lifetime.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(30);
/// Default number of nonces whose `nc` is remembered.
pub const DEFAULT_NC_CAPACITY: usize = 65_536;

/// MD5 over the parts, as 32 lowercase hex digits.
fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    to_hex(&h.finalize())
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Constant-time comparison of two ASCII strings, case-insensitive.
fn ct_eq_ignore_case(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// HA1 = MD5(username:realm:password).
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    md5_hex(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}

/// Quote a value as a quoted-string (backslash-escaping `"` and `\`).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A peer's credential as configured: `secret=` (plain) or `md5secret=` (HA1 as hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    Plain(&'a str),
    Ha1(&'a str),
}

impl Secret<'_> {
    /// HA1 for this user and realm; `None` for a malformed md5secret.
    fn ha1(&self, username: &str, realm: &str) -> Option<String> {
        match self {
            Secret::Plain(p) => Some(ha1(username, realm, p)),
            Secret::Ha1(h) if is_hex32(h.trim()) => Some(h.trim().to_ascii_lowercase()),
            Secret::Ha1(_) => None,
        }
    }
}

/// Why a header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty header value")]
    Empty,
    #[error("header value longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    #[error("authentication scheme is not Digest")]
    NotDigest,
    #[error("malformed parameter list at byte {0}")]
    Syntax(usize),
    #[error("unterminated quoted string")]
    Unterminated,
    #[error("duplicate parameter {0}")]
    Duplicate(String),
    #[error("too many parameters")]
    TooManyParams,
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("bad value for parameter {0}")]
    BadValue(&'static str),
}

/// Parse `Digest name=value, name="quoted, value", …` into lowercase names and unescaped values.
fn parse_digest_params(value: &str) -> Result<Vec<(String, String)>, ParseError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(ParseError::TooLong);
    }
    let s = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    let scheme_end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    if !s[..scheme_end].eq_ignore_ascii_case("digest") {
        return Err(ParseError::NotDigest);
    }
    let b = s.as_bytes();
    let mut i = scheme_end;
    let mut params: Vec<(String, String)> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        // Separators: whitespace and any number of commas.
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_token_byte(b[i]) {
            i += 1;
        }
        if i == start {
            return Err(ParseError::Syntax(i));
        }
        let name = s[start..i].to_ascii_lowercase();
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err(ParseError::Syntax(i));
        }
        i += 1;
        skip_ws(&mut i);
        let val = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut seg = i;
            loop {
                if i >= b.len() {
                    return Err(ParseError::Unterminated);
                }
                match b[i] {
                    b'"' => {
                        v.push_str(&s[seg..i]);
                        i += 1;
                        break;
                    }
                    b'\\' if i + 1 < b.len() => {
                        v.push_str(&s[seg..i]);
                        // The escaped character may be multi-byte; copy it whole.
                        let ch_len = s[i + 1..].chars().next().map_or(1, char::len_utf8);
                        v.push_str(&s[i + 1..i + 1 + ch_len]);
                        i += 1 + ch_len;
                        seg = i;
                    }
                    _ => i += 1,
                }
            }
            v
        } else {
            let vs = i;
            while i < b.len() && is_token_byte(b[i]) {
                i += 1;
            }
            if i == vs {
                return Err(ParseError::Syntax(i));
            }
            s[vs..i].to_string()
        };
        skip_ws(&mut i);
        if i < b.len() && b[i] != b',' {
            return Err(ParseError::Syntax(i));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(ParseError::Duplicate(name));
        }
        if params.len() >= MAX_PARAMS {
            return Err(ParseError::TooManyParams);
        }
        params.push((name, val));
    }
    Ok(params)
}

/// RFC 3261 token characters (plus `/` and `:`, which some clients leave unquoted in `uri`).
fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~/:@;?&$".contains(&c)
}

fn take(params: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let pos = params.iter().position(|(n, _)| n == name)?;
    Some(params.swap_remove(pos).1)
}

/// A challenge, as sent in (or parsed from) `WWW-Authenticate` / `Proxy-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// `None` = no algorithm parameter (MD5 implied).
    pub algorithm: Option<String>,
    /// The qop options offered, e.g. `["auth"]`; empty = legacy RFC 2069 form.
    pub qop: Vec<String>,
    pub stale: bool,
}

impl DigestChallenge {
    /// Render as a header value: `Digest realm="…", nonce="…", algorithm=MD5, qop="auth"`.
    pub fn to_header_value(&self) -> String {
        let mut out = format!(
            "Digest realm={}, nonce={}",
            quote(&self.realm),
            quote(&self.nonce)
        );
        if let Some(o) = &self.opaque {
            let _ = write!(out, ", opaque={}", quote(o));
        }
        if let Some(a) = &self.algorithm {
            let _ = write!(out, ", algorithm={a}");
        }
        if !self.qop.is_empty() {
            let _ = write!(out, ", qop={}", quote(&self.qop.join(",")));
        }
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }

    /// Parse a `WWW-Authenticate` / `Proxy-Authenticate` value (client side).
    pub fn parse(value: &str) -> Result<DigestChallenge, ParseError> {
        let mut p = parse_digest_params(value)?;
        let realm = take(&mut p, "realm").ok_or(ParseError::Missing("realm"))?;
        let nonce = take(&mut p, "nonce").ok_or(ParseError::Missing("nonce"))?;
        let qop = take(&mut p, "qop")
            .map(|q| {
                q.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(DigestChallenge {
            realm,
            nonce,
            opaque: take(&mut p, "opaque"),
            algorithm: take(&mut p, "algorithm"),
            qop,
            stale: take(&mut p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }
}

/// Credentials parsed from an `Authorization` / `Proxy-Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    /// 32 hex digits (checked by the parser).
    pub response: String,
    pub algorithm: Option<String>,
    pub opaque: Option<String>,
    /// `qop` as sent, lowercased (`auth`); `None` = legacy form.
    pub qop: Option<String>,
    pub cnonce: Option<String>,
    /// `nc` exactly as sent (8 hex digits); it is hashed as sent.
    pub nc_raw: Option<String>,
    /// `nc` as a number.
    pub nc: Option<u32>,
}

impl DigestCredentials {
    /// Parse robustly: any parameter order, quoted or unquoted values, commas inside quotes,
    /// case-insensitive names. Never panics; garbage gives a [`ParseError`].
    pub fn parse(value: &str) -> Result<DigestCredentials, ParseError> {
        let mut p = parse_digest_params(value)?;
        let username = take(&mut p, "username").ok_or(ParseError::Missing("username"))?;
        let realm = take(&mut p, "realm").ok_or(ParseError::Missing("realm"))?;
        let nonce = take(&mut p, "nonce").ok_or(ParseError::Missing("nonce"))?;
        let uri = take(&mut p, "uri").ok_or(ParseError::Missing("uri"))?;
        let response = take(&mut p, "response").ok_or(ParseError::Missing("response"))?;
        if !is_hex32(&response) {
            return Err(ParseError::BadValue("response"));
        }
        let qop = take(&mut p, "qop").map(|q| q.to_ascii_lowercase());
        let cnonce = take(&mut p, "cnonce");
        let nc_raw = take(&mut p, "nc");
        let nc = match &nc_raw {
            Some(n) if n.len() == 8 => {
                Some(u32::from_str_radix(n, 16).map_err(|_| ParseError::BadValue("nc"))?)
            }
            Some(_) => return Err(ParseError::BadValue("nc")),
            None => None,
        };
        if qop.is_some() && (cnonce.is_none() || nc.is_none()) {
            return Err(ParseError::Missing(if cnonce.is_none() {
                "cnonce"
            } else {
                "nc"
            }));
        }
        Ok(DigestCredentials {
            username,
            realm,
            nonce,
            uri,
            response: response.to_ascii_lowercase(),
            algorithm: take(&mut p, "algorithm"),
            opaque: take(&mut p, "opaque"),
            qop,
            cnonce,
            nc_raw,
            nc,
        })
    }
}

/// The digest `response` for the given HA1 (shared by server verification and client).
fn digest_response(
    ha1: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    qop: Option<(&str, &str, &str)>, // (nc, cnonce, qop)
) -> String {
    let ha2 = md5_hex(&[method.as_bytes(), b":", uri.as_bytes()]);
    match qop {
        Some((nc, cnonce, qop)) => md5_hex(&[
            ha1.as_bytes(),
            b":",
            nonce.as_bytes(),
            b":",
            nc.as_bytes(),
            b":",
            cnonce.as_bytes(),
            b":",
            qop.as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
        None => md5_hex(&[ha1.as_bytes(), b":", nonce.as_bytes(), b":", ha2.as_bytes()]),
    }
}

/// Which status code, reason phrase and headers a method's challenge uses: 401 with
/// `WWW-Authenticate` for REGISTER and SUBSCRIBE, 407 with `Proxy-Authenticate` for INVITE and
/// everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeKind {
    pub status: u16,
    pub reason: &'static str,
    /// Header the challenge goes in.
    pub challenge_header: &'static str,
    /// Header the client answers in.
    pub credentials_header: &'static str,
}

impl ChallengeKind {
    pub fn for_method(method: &str) -> ChallengeKind {
        if method.eq_ignore_ascii_case("REGISTER") || method.eq_ignore_ascii_case("SUBSCRIBE") {
            ChallengeKind {
                status: 401,
                reason: "Unauthorized",
                challenge_header: "WWW-Authenticate",
                credentials_header: "Authorization",
            }
        } else {
            ChallengeKind {
                status: 407,
                reason: "Proxy Authentication Required",
                challenge_header: "Proxy-Authenticate",
                credentials_header: "Proxy-Authorization",
            }
        }
    }
}

/// Why credentials were rejected. For logs only: every reason must produce the same response on
/// the wire ([`AuthReply::Forbidden`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    UnknownUser,
    WrongRealm,
    UnsupportedAlgorithm,
    UnsupportedQop,
    UriMismatch,
    /// Not a nonce this server issued (bad MAC or format, or issued before a restart).
    ForeignNonce,
    WrongPassword,
    /// `nc` not higher than the last one seen for this nonce.
    Replay,
    /// The configured md5secret is not 32 hex digits.
    BadStoredSecret,
}

/// Result of checking credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    Ok,
    /// Correct digest over an expired (or forgotten) nonce: re-challenge with `stale=true`.
    Stale,
    Reject(RejectReason),
}

/// What to send back for a request, decided by [`DigestAuthenticator::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthReply {
    /// Authenticated: go on processing the request.
    Accept,
    /// Send `status reason` with `header: value` (a fresh challenge).
    Challenge {
        status: u16,
        reason: &'static str,
        header: &'static str,
        value: String,
    },
    /// 403 Forbidden: wrong credentials (and, with alwaysauthreject, an unknown user).
    Forbidden,
    /// 404 Not Found: unknown user, only when alwaysauthreject is off.
    NotFound,
    /// 400 Bad Request: the credentials header could not be parsed.
    BadRequest,
}

impl AuthReply {
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            AuthReply::Accept => (200, "OK"),
            AuthReply::Challenge { status, reason, .. } => (*status, reason),
            AuthReply::Forbidden => (403, "Forbidden"),
            AuthReply::NotFound => (404, "Not Found"),
            AuthReply::BadRequest => (400, "Bad Request"),
        }
    }
}

/// Remembers the highest `nc` seen per nonce, bounded. When full, the oldest entry is dropped
/// and the newest issue time among forcibly dropped (still valid) nonces becomes a floor: a nonce
/// issued at or before the floor that is no longer remembered is answered `Stale`, so dropping
/// an entry never opens a replay window.
///
/// A nonce is known by its counter (the MAC is checked before): 24 bytes an entry where the
/// nonce strings cost about 200 (15 MiB at 10,000 REGISTER/s, issue 20).
#[derive(Debug)]
struct NcTracker {
    /// Counter of the nonce → (highest nc, issue time).
    seen: HashMap<u64, (u32, u64)>,
    order: VecDeque<u64>,
    capacity: usize,
    floor_ms: Option<u64>,
}

enum NcCheck {
    Fresh,
    Replay,
    Forgotten,
}

impl NcTracker {
    fn check_and_record(
        &mut self,
        nonce: u64,
        issued_ms: u64,
        nc: u32,
        now_ms: u64,
        lifetime_ms: u64,
    ) -> NcCheck {
        if let Some((last, _)) = self.seen.get_mut(&nonce) {
            if nc <= *last {
                return NcCheck::Replay;
            }
            *last = nc;
            return NcCheck::Fresh;
        }
        if self.floor_ms.is_some_and(|f| issued_ms <= f) {
            return NcCheck::Forgotten;
        }
        // Drop entries whose nonce expired (cheap, from the front), then the oldest if full.
        while let Some(front) = self.order.front() {
            let expired = self
                .seen
                .get(front)
                .is_none_or(|(_, iss)| now_ms.saturating_sub(*iss) > lifetime_ms);
            if !expired && self.order.len() < self.capacity {
                break;
            }
            if let Some(k) = self.order.pop_front() {
                if let Some((_, iss)) = self.seen.remove(&k) {
                    if !expired {
                        self.floor_ms = Some(self.floor_ms.map_or(iss, |f| f.max(iss)));
                    }
                }
            }
        }
        self.seen.insert(nonce, (nc, issued_ms));
        self.order.push_back(nonce);
        NcCheck::Fresh
    }
}

/// Server side of digest authentication for one realm.
#[derive(Debug)]
pub struct DigestAuthenticator {
    realm: String,
    key: Vec<u8>,
    epoch: Instant,
    lifetime: Duration,
    counter: u64,
    nc: NcTracker,
    dummy_ha1: String,
}

/// Nonce layout: 12 hex digits issue time (ms since epoch), 12 hex digits counter, 32 hex MAC.
const NONCE_LEN: usize = 56;

impl DigestAuthenticator {
    /// `key` is the server secret the nonces are keyed with; `epoch` is the reference instant
    /// nonce issue times are counted from (normally the start of the process).
    pub fn new(realm: &str, key: &[u8], epoch: Instant) -> DigestAuthenticator {
        let dummy_ha1 = md5_hex(&[b"ferrisk-dummy-ha1:", key]);
        DigestAuthenticator {
            realm: realm.to_string(),
            key: key.to_vec(),
            epoch,
            lifetime: DEFAULT_NONCE_LIFETIME,
            counter: 0,
            nc: NcTracker {
                seen: HashMap::new(),
                order: VecDeque::new(),
                capacity: DEFAULT_NC_CAPACITY,
                floor_ms: None,
            },
            dummy_ha1,
        }
    }

    /// As [`new`](Self::new) with a random 32-byte key.
    pub fn with_random_key(realm: &str, epoch: Instant) -> DigestAuthenticator {
        let key: [u8; 32] = rand::random();
        DigestAuthenticator::new(realm, &key, epoch)
    }

    /// How long a nonce stays valid (default 30 s).
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How many nonces' `nc` values are remembered (default 65536, at least 1).
    pub fn with_nc_capacity(mut self, capacity: usize) -> Self {
        self.nc.capacity = capacity.max(1);
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, ts_ms: u64, counter: u64) -> String {
        let ts = format!("{ts_ms:012x}");
        let ctr = format!("{counter:012x}");
        let inner = md5_hex(&[&self.key, b":", ts.as_bytes(), b":", ctr.as_bytes()]);
        md5_hex(&[&self.key, b":", inner.as_bytes()])
    }

    fn ms_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Issue a fresh nonce.
    pub fn new_nonce(&mut self, now: Instant) -> String {
        let ts = self.ms_since_epoch(now) & 0xffff_ffff_ffff;
        self.counter = (self.counter + 1) & 0xffff_ffff_ffff;
        format!(
            "{ts:012x}{:012x}{}",
            self.counter,
            self.mac(ts, self.counter)
        )
    }

    /// Issue time (ms since epoch) of a nonce we issued, `None` if it is not ours.
    /// A nonce we issued: its issue time and counter.
    fn nonce_issued(&self, nonce: &str) -> Option<(u64, u64)> {
        if nonce.len() != NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let ts = u64::from_str_radix(nonce.get(0..12)?, 16).ok()?;
        let ctr = u64::from_str_radix(nonce.get(12..24)?, 16).ok()?;
        ct_eq_ignore_case(&self.mac(ts, ctr), nonce.get(24..)?).then_some((ts, ctr))
    }

    /// A challenge with a fresh nonce, `algorithm=MD5`, `qop="auth"`.
    pub fn challenge(&mut self, now: Instant, stale: bool) -> DigestChallenge {
        DigestChallenge {
            realm: self.realm.clone(),
            nonce: self.new_nonce(now),
            opaque: None,
            algorithm: Some("MD5".to_string()),
            qop: vec!["auth".to_string()],
            stale,
        }
    }

    /// Check credentials for `method` on `request_uri` (the Request-URI exactly as received).
    /// `secret` is the user's secret or md5secret; `None` for an unknown user, which runs the
    /// same computation against a dummy HA1 and is rejected (see [`Self::verify_unknown_user`]).
    pub fn verify(
        &mut self,
        method: &str,
        request_uri: &str,
        creds: &DigestCredentials,
        secret: Option<Secret<'_>>,
        now: Instant,
    ) -> AuthOutcome {
        // Compute the expected response first, whatever happens next, so that every rejection
        // costs the same work.
        let (ha1, known) = match secret {
            Some(s) => match s.ha1(&creds.username, &self.realm) {
                Some(h) => (h, true),
                None => return AuthOutcome::Reject(RejectReason::BadStoredSecret),
            },
            None => (self.dummy_ha1.clone(), false),
        };
        let qop = match (&creds.qop, &creds.nc_raw, &creds.cnonce) {
            (Some(q), Some(nc), Some(cn)) => Some((nc.as_str(), cn.as_str(), q.as_str())),
            _ => None,
        };
        let expected = digest_response(&ha1, &creds.nonce, method, &creds.uri, qop);
        let digest_ok = ct_eq_ignore_case(&expected, &creds.response);

        if !known {
            return AuthOutcome::Reject(RejectReason::UnknownUser);
        }
        if creds.realm != self.realm {
            return AuthOutcome::Reject(RejectReason::WrongRealm);
        }
        if creds
            .algorithm
            .as_deref()
            .is_some_and(|a| !a.eq_ignore_ascii_case("MD5"))
        {
            return AuthOutcome::Reject(RejectReason::UnsupportedAlgorithm);
        }
        if creds.qop.as_deref().is_some_and(|q| q != "auth") {
            return AuthOutcome::Reject(RejectReason::UnsupportedQop);
        }
        if !uri_acceptable(&creds.uri, request_uri) {
            return AuthOutcome::Reject(RejectReason::UriMismatch);
        }
        let Some((issued, counter)) = self.nonce_issued(&creds.nonce) else {
            // A nonce we did not issue (before a restart, or another realm key) with a digest
            // that is right for it: the client knows the password, so challenge afresh
            // (stale=true) instead of refusing, as chan_sip does. A wrong digest is refused.
            return if digest_ok {
                AuthOutcome::Stale
            } else {
                AuthOutcome::Reject(RejectReason::ForeignNonce)
            };
        };
        if !digest_ok {
            return AuthOutcome::Reject(RejectReason::WrongPassword);
        }
        let now_ms = self.ms_since_epoch(now) & 0xffff_ffff_ffff;
        let lifetime_ms = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        // A nonce from the future (clock anomaly) or older than the lifetime is stale.
        if issued > now_ms || now_ms - issued > lifetime_ms {
            return AuthOutcome::Stale;
        }
        if let Some(nc) = creds.nc {
            if creds.qop.is_some() {
                match self
                    .nc
                    .check_and_record(counter, issued, nc, now_ms, lifetime_ms)
                {
                    NcCheck::Fresh => {}
                    NcCheck::Replay => return AuthOutcome::Reject(RejectReason::Replay),
                    NcCheck::Forgotten => return AuthOutcome::Stale,
                }
            }
        }
        // Legacy (no qop) clients cannot count; their nonce is accepted until it expires.
        AuthOutcome::Ok
    }

    /// The indistinguishable path for an unknown user (alwaysauthreject): same parsing, same
    /// hashing, always a rejection.
    pub fn verify_unknown_user(
        &mut self,
        method: &str,
        request_uri: &str,
        creds: &DigestCredentials,
        now: Instant,
    ) -> AuthOutcome {
        self.verify(method, request_uri, creds, None, now)
    }

    /// The whole decision for one request: parse the credentials header (if any), look the user
    /// up with `lookup(username)`, verify, and say what to send. With `always_auth_reject` an
    /// unknown user gets exactly what a known user with a wrong password gets: a challenge when no
    /// credentials were sent, 403 when they were.
    pub fn authenticate<'s>(
        &mut self,
        method: &str,
        request_uri: &str,
        credentials_header: Option<&str>,
        lookup: impl FnOnce(&str) -> Option<Secret<'s>>,
        always_auth_reject: bool,
        now: Instant,
    ) -> AuthReply {
        let kind = ChallengeKind::for_method(method);
        let Some(value) = credentials_header else {
            return self.challenge_reply(kind, now, false);
        };
        let creds = match DigestCredentials::parse(value) {
            Ok(c) => c,
            Err(_) => return AuthReply::BadRequest,
        };
        let secret = lookup(&creds.username);
        if secret.is_none() && !always_auth_reject {
            return AuthReply::NotFound;
        }
        match self.verify(method, request_uri, &creds, secret, now) {
            AuthOutcome::Ok => AuthReply::Accept,
            AuthOutcome::Stale => self.challenge_reply(kind, now, true),
            AuthOutcome::Reject(r) => {
                tracing::debug!("digest rejected: {r:?}");
                AuthReply::Forbidden
            }
        }
    }

    fn challenge_reply(&mut self, kind: ChallengeKind, now: Instant, stale: bool) -> AuthReply {
        AuthReply::Challenge {
            status: kind.status,
            reason: kind.reason,
            header: kind.challenge_header,
            value: self.challenge(now, stale).to_header_value(),
        }
    }
}

/// The digest `uri` must name what the request addresses: exactly the Request-URI as sent,
/// or (as chan_sip accepts, and as SIPp and several phones send) a URI of the same host and
/// port, e.g. `sip:pbx.example.com` for `sip:100@pbx.example.com`. The response hash always
/// uses the `uri` as the client sent it.
fn uri_acceptable(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (
        crate::sip::uri::SipUri::parse(digest_uri),
        crate::sip::uri::SipUri::parse(request_uri),
    ) {
        (Ok(d), Ok(r)) => {
            d.scheme == r.scheme
                && d.host.eq_ignore_ascii_case(&r.host)
                && d.port.unwrap_or(5060) == r.port.unwrap_or(5060)
        }
        _ => false,
    }
}

/// Why a client could not answer a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    #[error("unsupported digest algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("challenge offers no supported qop ({0})")]
    UnsupportedQop(String),
    #[error("md5secret is not 32 hex digits")]
    BadSecret,
}

/// A random client nonce (16 hex digits).
pub fn new_cnonce() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Client side: the `Authorization` / `Proxy-Authorization` value answering `challenge` for a
/// request `method uri`. When the challenge offers `qop=auth`, `cnonce` and `nc` are used
/// (increase `nc` for each request reusing the same nonce). Supports MD5 and MD5-sess.
pub fn build_authorization(
    username: &str,
    secret: Secret<'_>,
    method: &str,
    uri: &str,
    challenge: &DigestChallenge,
    cnonce: &str,
    nc: u32,
) -> Result<String, ClientAuthError> {
    let sess = match challenge.algorithm.as_deref() {
        None => false,
        Some(a) if a.eq_ignore_ascii_case("MD5") => false,
        Some(a) if a.eq_ignore_ascii_case("MD5-sess") => true,
        Some(a) => return Err(ClientAuthError::UnsupportedAlgorithm(a.to_string())),
    };
    let use_qop = if challenge.qop.is_empty() {
        false
    } else if challenge.qop.iter().any(|q| q == "auth") {
        true
    } else {
        return Err(ClientAuthError::UnsupportedQop(challenge.qop.join(",")));
    };
    let mut ha1 = secret
        .ha1(username, &challenge.realm)
        .ok_or(ClientAuthError::BadSecret)?;
    if sess {
        ha1 = md5_hex(&[
            ha1.as_bytes(),
            b":",
            challenge.nonce.as_bytes(),
            b":",
            cnonce.as_bytes(),
        ]);
    }
    let nc_s = format!("{nc:08x}");
    let response = digest_response(
        &ha1,
        &challenge.nonce,
        method,
        uri,
        use_qop.then_some((nc_s.as_str(), cnonce, "auth")),
    );
    let mut out = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\"",
        quote(username),
        quote(&challenge.realm),
        quote(&challenge.nonce),
        quote(uri),
    );
    if let Some(a) = &challenge.algorithm {
        let _ = write!(out, ", algorithm={a}");
    }
    if let Some(o) = &challenge.opaque {
        let _ = write!(out, ", opaque={}", quote(o));
    }
    if use_qop {
        let _ = write!(out, ", qop=auth, nc={nc_s}, cnonce={}", quote(cnonce));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "sip:ferrisk.example.com";

    fn auth(epoch: Instant) -> DigestAuthenticator {
        DigestAuthenticator::new("asterisk", b"test-key", epoch)
    }

    /// A client answering `ch` for user 100 / secret s3cret.
    fn answer(ch: &DigestChallenge, method: &str, uri: &str, pw: &str, nc: u32) -> String {
        build_authorization("100", Secret::Plain(pw), method, uri, ch, "0a4f113b", nc).unwrap()
    }

    fn creds(v: &str) -> DigestCredentials {
        DigestCredentials::parse(v).unwrap()
    }

    #[test]
    fn rfc2617_example_vector() {
        // RFC 2617 §3.5.
        let ch = DigestChallenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(ch.qop, vec!["auth", "auth-int"]);
        let v = build_authorization(
            "Mufasa",
            Secret::Plain("Circle Of Life"),
            "GET",
            "/dir/index.html",
            &ch,
            "0a4f113b",
            1,
        )
        .unwrap();
        let c = creds(&v);
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.nc_raw.as_deref(), Some("00000001"));
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        // The same with md5secret.
        let h = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        let v2 = build_authorization(
            "Mufasa",
            Secret::Ha1(&h),
            "GET",
            "/dir/index.html",
            &ch,
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(v, v2);
        // And the RFC's own Authorization header parses to the same response.
        let rfc = creds(
            "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
             qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
             response=\"6629fae49393a05397450978507c4ef1\",\r\n \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        );
        assert_eq!(rfc.response, c.response);
        assert_eq!(rfc.uri, "/dir/index.html");
    }

    #[test]
    fn challenge_kind_per_method() {
        assert_eq!(ChallengeKind::for_method("REGISTER").status, 401);
        assert_eq!(
            ChallengeKind::for_method("register").challenge_header,
            "WWW-Authenticate"
        );
        let k = ChallengeKind::for_method("INVITE");
        assert_eq!((k.status, k.challenge_header), (407, "Proxy-Authenticate"));
        assert_eq!(k.credentials_header, "Proxy-Authorization");
        assert_eq!(ChallengeKind::for_method("MESSAGE").status, 407);
        assert_eq!(ChallengeKind::for_method("SUBSCRIBE").status, 401);
    }

    #[test]
    fn challenge_renders_and_parses_back() {
        let t0 = Instant::now();
        let mut a = auth(t0);
        let ch = a.challenge(t0, false);
        let v = ch.to_header_value();
        assert!(v.starts_with("Digest realm=\"asterisk\", nonce=\""));
        assert!(v.contains("algorithm=MD5"));
        assert!(v.contains("qop=\"auth\""));
        assert!(!v.contains("stale"));
        assert_eq!(DigestChallenge::parse(&v).unwrap(), ch);
        let st = a.challenge(t0, true);
        assert!(st.to_header_value().ends_with(", stale=true"));
        assert_ne!(st.nonce, ch.nonce, "nonces are unique");
        assert_eq!(ch.nonce.len(), NONCE_LEN);
    }

    #[test]
    fn round_trip_qop_auth_and_nc_increase() {
        let t0 = Instant::now();
        let mut a = auth(t0);
        let ch = a.challenge(t0, false);
        for nc in 1..=3 {
            let c = creds(&answer(&ch, "REGISTER", URI, "s3cret", nc));
            assert_eq!(
                a.verify("REGISTER", URI, &c, Some(Secret::Plain("s3cret")), t0),
                AuthOutcome::Ok
            );
        }
        // md5secret works too.
        let h = ha1("100", "asterisk", "s3cret");
        let c = creds(&answer(&ch, "REGISTER", URI, "s3cret", 4));
        assert_eq!(
            a.verify("REGISTER", URI, &c, Some(Secret::Ha1(&h)), t0),
            AuthOutcome::Ok
        );
    }

    #[test]
    fn round_trip_legacy_no_qop() {
        let t0 = Instant::now();
        let mut a = auth(t0);
        let mut ch = a.challenge(t0, false);
        ch.qop.clear();
        let v = answer(&ch, "INVITE", URI, "s3cret", 1);
        assert!(!v.contains("qop") && !v.contains("cnonce"));
        let c = creds(&v);
        assert_eq!(
            a.verify("INVITE", URI, &c, Some(Secret::Plain("s3cret")), t0),
            AuthOutcome::Ok
        );
    }

    #[test]
    fn replayed_nc_is_rejected() {
        let t0 = Instant::now();
        let mut a = auth(t0);
        let ch = a.challenge(t0, false);
        let c5 = creds(&answer(&ch, "REGISTER", URI, "s3cret", 5));
        let ok = |a: &mut DigestAuthenticator, c: &DigestCredentials| {
            a.verify("REGISTER", URI, c, Some(Secret::Plain("s3cret")), t0)
        };
        assert_eq!(ok(&mut a, &c5), AuthOutcome::Ok);
        assert_eq!(ok(&mut a, &c5), AuthOutcome::Reject(RejectReason::Replay));
        let c3 = creds(&answer(&ch, "REGISTER", URI, "s3cret", 3));
        assert_eq!(ok(&mut a, &c3), AuthOutcome::Reject(RejectReason::Replay));
        let c6 = creds(&answer(&ch, "REGISTER", URI, "s3cret", 6));
        assert_eq!(ok(&mut a, &c6), AuthOutcome::Ok);
    }

    #[test]
    fn evicted_nonce_is_stale_not_replayable() {
        let t0 = Instant::now();
        let mut a = auth(t0).with_nc_capacity(2);
        let chs: Vec<_> = (0..3).map(|_| a.challenge(t0, false)).collect();
        let pw = Some(Secret::Plain("s3cret"));
        let c: Vec<_> = chs
            .iter()
            .map(|ch| creds(&answer(ch, "REGISTER", URI, "s3cret", 1)))
            .collect();
        for ci in &c {
            assert_eq!(a.verify("REGISTER", URI, ci, pw, t0), AuthOutcome::Ok);
        }
        // The first nonce was forgotten: replaying its request gives Stale, not Ok.
        assert_eq!(a.verify("REGISTER", URI, &c[0], pw, t0), AuthOutcome::Stale);
        // A nonce issued later is unaffected.
        let later = t0 + Duration::from_millis(5);
        let ch = a.challenge(later, false);
        let cl = creds(&answer(&ch, "REGISTER", URI, "s3cret", 1));
        assert_eq!(a.verify("REGISTER", URI, &cl, pw, later), AuthOutcome::Ok);
    }

    #[test]
    fn expired_nonce_is_stale_only_with_right_password() {
        let t0 = Instant::now();
        let mut a = auth(t0).with_nonce_lifetime(Duration::from_secs(30));
        let ch = a.challenge(t0, false);
        let c = creds(&answer(&ch, "REGISTER", URI, "s3cret", 1));
        let late = t0 + Duration::from_secs(31);
        let pw = Some(Secret::Plain("s3cret"));
        assert_eq!(a.verify("REGISTER", URI, &c, pw, late), AuthOutcome::Stale);
        let just = t0 + Duration::from_secs(30);
        assert_eq!(a.verify("REGISTER", URI, &c, pw, just), AuthOutcome::Ok);
        let bad = creds(&answer(&ch, "REGISTER", URI, "wrong", 2));
        assert_eq!(
            a.verify("REGISTER", URI, &bad, pw, late),
            AuthOutcome::Reject(RejectReason::WrongPassword)
        );
        // Through authenticate(): stale=true challenge.
        let r = a.authenticate(
            "REGISTER",
            URI,
            Some(&answer(&ch, "REGISTER", URI, "s3cret", 3)),
            |_| pw,
            true,
            late,
        );
        match r {
            AuthReply::Challenge { status, value, .. } => {
                assert_eq!(status, 401);
                assert!(DigestChallenge::parse(&value).unwrap().stale);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_uri_and_wrong_password_and_foreign_nonce() {
        let t0 = Instant::now();
        let mut a = auth(t0);
        let ch = a.challenge(t0, false);
        let pw = Some(Secret::Plain("s3cret"));
        let c = creds(&answer(
            &ch,
            "REGISTER",
            "sip:other.example.com",
            "s3cret",
            1,
        ));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::UriMismatch)
        );
        // Same host written differently (case): accepted, hashed with the uri as sent.
        let c = creds(&answer(
            &ch,
            "REGISTER",
            "sip:FERRISK.example.com",
            "s3cret",
            1,
        ));
        assert_eq!(a.verify("REGISTER", URI, &c, pw, t0), AuthOutcome::Ok);
        // Another port is another target.
        let c = creds(&answer(
            &ch,
            "REGISTER",
            "sip:ferrisk.example.com:5070",
            "s3cret",
            2,
        ));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::UriMismatch)
        );
        let c = creds(&answer(&ch, "REGISTER", URI, "nope", 1));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::WrongPassword)
        );
        // Wrong method in the hash = wrong response.
        let c = creds(&answer(&ch, "INVITE", URI, "s3cret", 1));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::WrongPassword)
        );
        // Nonce from another server key.
        let mut other = DigestAuthenticator::new("asterisk", b"other-key", t0);
        let och = other.challenge(t0, false);
        // The right password over a nonce we never issued (e.g. from before a restart): a
        // fresh challenge; a wrong one: refused.
        let c = creds(&answer(&och, "REGISTER", URI, "s3cret", 1));
        assert_eq!(a.verify("REGISTER", URI, &c, pw, t0), AuthOutcome::Stale);
        let c = creds(&answer(&och, "REGISTER", URI, "guess", 1));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::ForeignNonce)
        );
        // Tampered issue time.
        let mut tampered = ch.clone();
        tampered.nonce.replace_range(0..1, "f");
        let c = creds(&answer(&tampered, "REGISTER", URI, "guess", 1));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::ForeignNonce)
        );
        // Wrong realm.
        let mut wr = ch.clone();
        wr.realm = "elsewhere".into();
        let c = creds(&answer(&wr, "REGISTER", URI, "s3cret", 1));
        assert_eq!(
            a.verify("REGISTER", URI, &c, pw, t0),
            AuthOutcome::Reject(RejectReason::WrongRealm)
        );
        // Malformed md5secret in config.
        let c = creds(&answer(&ch, "REGISTER", URI, "s3cret", 1));
        assert_eq!(
            a.verify("REGISTER", URI, &c, Some(Secret::Ha1("xyz")), t0),
            AuthOutcome::Reject(RejectReason::BadStoredSecret)
        );
    }

    #[test]
    fn unknown_user_indistinguishable_from_wrong_password() {
        let t0 = Instant::now();
        let mut a = auth(t0);
        let lookup = |u: &str| (u == "100").then_some(Secret::Plain("s3cret"));
        // No credentials: both get the same kind of challenge.
        let r1 = a.authenticate("REGISTER", URI, None, lookup, true, t0);
        let r2 = a.authenticate("REGISTER", URI, None, |_| None, true, t0);
        assert!(matches!(r1, AuthReply::Challenge { status: 401, .. }));
        assert!(matches!(r2, AuthReply::Challenge { status: 401, .. }));
        let ch = a.challenge(t0, false);
        let wrong_pw = answer(&ch, "REGISTER", URI, "nope", 1);
        let unknown = build_authorization(
            "999",
            Secret::Plain("whatever"),
            "REGISTER",
            URI,
            &ch,
            "abc",
            1,
        )
        .unwrap();
        let r_wrong = a.authenticate("REGISTER", URI, Some(&wrong_pw), lookup, true, t0);
        let r_unknown = a.authenticate("REGISTER", URI, Some(&unknown), lookup, true, t0);
        assert_eq!(r_wrong, AuthReply::Forbidden);
        assert_eq!(r_unknown, r_wrong);
        // Even with an expired nonce the answers stay identical.
        let late = t0 + Duration::from_secs(60);
        let r_wrong = a.authenticate("REGISTER", URI, Some(&wrong_pw), lookup, true, late);
        let r_unknown = a.authenticate("REGISTER", URI, Some(&unknown), lookup, true, late);
        assert_eq!(r_unknown, r_wrong);
        // Without alwaysauthreject an unknown user is 404.
        let r = a.authenticate("REGISTER", URI, Some(&unknown), lookup, false, t0);
        assert_eq!(r, AuthReply::NotFound);
        assert_eq!(
            a.verify_unknown_user("REGISTER", URI, &creds(&unknown), t0),
            AuthOutcome::Reject(RejectReason::UnknownUser)
        );
        // Success through authenticate(), 407 kind for INVITE.
        let ch = a.challenge(t0, false);
        let good = answer(&ch, "INVITE", URI, "s3cret", 1);
        assert_eq!(
            a.authenticate("INVITE", URI, Some(&good), lookup, true, t0),
            AuthReply::Accept
        );
        assert!(matches!(
            a.authenticate("INVITE", URI, None, lookup, true, t0),
            AuthReply::Challenge {
                status: 407,
                header: "Proxy-Authenticate",
                ..
            }
        ));
        assert_eq!(
            a.authenticate("INVITE", URI, Some("garbage"), lookup, true, t0),
            AuthReply::BadRequest
        );
    }

    #[test]
    fn parser_is_robust() {
        // Any order, unquoted values, commas inside quotes, odd case, extra whitespace/commas.
        let c = creds(
            "  dIgEsT  RESPONSE=6629FAE49393A05397450978507C4EF1 ,, uri=\"sip:a@b;x=1,2\",\
             Username = \"a \\\"b\\\" c\" ,realm=r,nonce=\"n,n\", qop=AUTH, nc=0000000a, \
             cnonce=\"x\", extra=ignored",
        );
        assert_eq!(c.username, "a \"b\" c");
        assert_eq!(c.uri, "sip:a@b;x=1,2");
        assert_eq!(c.nonce, "n,n");
        assert_eq!(c.realm, "r");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc, Some(10));
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        // An unquoted uri is accepted.
        let c = creds("Digest username=u, realm=r, nonce=n, uri=sip:x@y, response=6629fae49393a05397450978507c4ef1");
        assert_eq!(c.uri, "sip:x@y");
        assert!(c.qop.is_none());
    }

    #[test]
    fn garbage_never_panics() {
        let cases = [
            "",
            "   ",
            "Basic dXNlcjpwYXNz",
            "Digest",
            "Digest ,,,",
            "Digest username",
            "Digest username=",
            "Digest username=\"unterminated",
            "Digest username=\"x\\",
            "Digest =value",
            "Digest username=\"a\" junk",
            "Digest username=a, username=b",
            "Digest username=a, realm=r, nonce=n, uri=u, response=zz",
            "Digest username=a, realm=r, nonce=n, uri=u, response=6629fae49393a05397450978507c4ef1, qop=auth",
            "Digest username=a, realm=r, nonce=n, uri=u, response=6629fae49393a05397450978507c4ef1, qop=auth, cnonce=c, nc=1",
            "Digest username=a, realm=r, nonce=n, uri=u, response=6629fae49393a05397450978507c4ef1, nc=zzzzzzzz",
            "Digest \u{e9}=\"\u{e9}\\\u{e9}\"",
            "Digest a=\"\\\u{1F600}\", b=\u{0}",
            "\u{0}\u{1}\u{2}",
        ];
        for c in cases {
            assert!(DigestCredentials::parse(c).is_err(), "{c:?} should fail");
            let _ = DigestChallenge::parse(c);
        }
        let long = format!("Digest username=\"{}\"", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(DigestCredentials::parse(&long), Err(ParseError::TooLong));
        let many: String = (0..40).map(|i| format!("p{i}=v,")).collect();
        assert_eq!(
            DigestCredentials::parse(&format!("Digest {many}")),
            Err(ParseError::TooManyParams)
        );
        // Every prefix of a valid header, byte-by-byte (char boundaries only), must not panic.
        let t0 = Instant::now();
        let mut a = auth(t0);
        let ch = a.challenge(t0, false);
        let good = answer(&ch, "REGISTER", URI, "s3cret", 1);
        for i in 0..good.len() {
            if good.is_char_boundary(i) {
                let _ = DigestCredentials::parse(&good[..i]);
            }
        }
    }

    #[test]
    fn client_rejects_unsupported_challenges() {
        let mut ch = DigestChallenge::parse("Digest realm=r, nonce=n, algorithm=SHA-256").unwrap();
        assert!(matches!(
            build_authorization("u", Secret::Plain("p"), "REGISTER", "sip:r", &ch, "c", 1),
            Err(ClientAuthError::UnsupportedAlgorithm(_))
        ));
        ch.algorithm = None;
        ch.qop = vec!["auth-int".into()];
        assert!(matches!(
            build_authorization("u", Secret::Plain("p"), "REGISTER", "sip:r", &ch, "c", 1),
            Err(ClientAuthError::UnsupportedQop(_))
        ));
        ch.qop.clear();
        assert_eq!(
            build_authorization("u", Secret::Ha1("nothex"), "REGISTER", "sip:r", &ch, "c", 1),
            Err(ClientAuthError::BadSecret)
        );
        assert_eq!(new_cnonce().len(), 16);
    }
}
