//! The registrar: contact bindings per address-of-record (RFC 3261 §10.3), as a state machine
//! without I/O. The caller authenticates the REGISTER first (see [`super::auth`]), then hands the
//! parsed Contact headers to [`Registrar::register`] and sends the response the returned
//! [`RegisterOutcome`] describes.
//!
//! Rules, checked before anything is changed (a refused request changes nothing):
//! - rate limit: at most `max_registers_per_sec` REGISTERs per AOR in any one-second window;
//!   the excess gets **503 Service Unavailable** with `Retry-After` (refused requests do not count);
//! - `Contact: *` must be alone, with `Expires: 0` (else **400**); it removes every binding;
//! - each contact's expiry is its `expires` param, else the `Expires` header, else
//!   `default_expiry`; a non-zero expiry below `min_expiry` → **423 Interval Too Brief** with
//!   `Min-Expires`; above `max_expiry` → shortened to `max_expiry`; `0` removes the binding;
//! - an existing binding with the same Call-ID and a CSeq not higher than stored → the request
//!   is out of order: **500 Server Internal Error** (RFC 3261 §10.3 step 7: "the update MUST be
//!   aborted and the request fails"); retransmissions never get here, the transaction layer
//!   absorbs them;
//! - at most `max_contacts` bindings per AOR: a request that would leave more is refused with
//!   **403 Forbidden** (reason phrase "Too Many Contacts"). 403 rather than 503: the limit is
//!   policy, not overload, and a 503 invites the phone to retry the same request forever; PJSIP's
//!   `max_contacts` answers 403 as well.
//!
//! Contact URIs are compared as strings (exactly as the phone sent them).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Registrar limits; the defaults are chan_sip's (expiry) and issue 3's (per-AOR limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// `defaultexpiry`: used when neither the contact nor the request says (default 120).
    pub default_expiry: u32,
    /// `minexpiry`: shorter non-zero requests get 423 (default 60).
    pub min_expiry: u32,
    /// `maxexpiry`: longer requests are shortened to this (default 3600).
    pub max_expiry: u32,
    /// Most bindings per AOR (default 10).
    pub max_contacts: usize,
    /// Most REGISTER requests per AOR per second (default 5; 0: no limit).
    pub max_registers_per_sec: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            default_expiry: 120,
            min_expiry: 60,
            max_expiry: 3600,
            max_contacts: 10,
            max_registers_per_sec: 5,
        }
    }
}

/// One Contact of a REGISTER request. `uri == "*"` is the wildcard contact.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactReq {
    pub uri: String,
    /// The contact's `expires` parameter.
    pub expires: Option<u32>,
    /// The contact's `q` parameter (0.0 ..= 1.0).
    pub q: Option<f32>,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER came from (RFC 3581 received/rport): requests for this contact go
    /// there, which keeps NATed phones reachable.
    pub source: Option<std::net::SocketAddr>,
}

/// A stored binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub aor: String,
    pub uri: String,
    pub q: Option<f32>,
    pub call_id: String,
    pub cseq: u32,
    /// The expiry granted, in seconds.
    pub expires: u32,
    pub expires_at: Instant,
    /// Source address of the REGISTER that made this binding (see [`ContactReq::source`]).
    pub source: Option<std::net::SocketAddr>,
}

/// Why a persisted binding could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbValueError {
    #[error("malformed binding value")]
    Malformed,
    #[error("binding already expired")]
    Expired,
}

const DB_VERSION: &str = "v1";

fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('|', "%7C")
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let code = rest.get(p + 1..p + 3)?;
        match code.to_ascii_uppercase().as_str() {
            "25" => out.push('%'),
            "7C" => out.push('|'),
            _ => return None,
        }
        rest = &rest[p + 3..];
    }
    out.push_str(rest);
    Some(out)
}

impl Binding {
    /// Whole seconds left (rounded up), 0 once expired.
    pub fn remaining(&self, now: Instant) -> u32 {
        let d = self.expires_at.saturating_duration_since(now);
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// Serialize for AstDB. `Instant`s do not survive a restart, so the expiry is stored as
    /// wall-clock Unix seconds: pass the current Unix time matching `now`.
    /// Format: `v1|aor|expiry_unix|expires|cseq|q|call_id|uri` (`%` and `|` escaped in text).
    pub fn to_db_value(&self, now: Instant, now_unix: u64) -> String {
        let expiry_unix = now_unix + u64::from(self.remaining(now));
        let q = self.q.map(|q| format!("{q}")).unwrap_or_default();
        let mut v = format!(
            "{DB_VERSION}|{}|{expiry_unix}|{}|{}|{q}|{}|{}",
            escape(&self.aor),
            self.expires,
            self.cseq,
            escape(&self.call_id),
            escape(&self.uri)
        );
        if let Some(src) = self.source {
            v.push('|');
            v.push_str(&src.to_string());
        }
        v
    }

    /// Restore a binding written by [`to_db_value`](Self::to_db_value); `now`/`now_unix` are the
    /// current monotonic and Unix times. An expired binding gives [`DbValueError::Expired`].
    pub fn from_db_value(
        value: &str,
        now: Instant,
        now_unix: u64,
    ) -> Result<Binding, DbValueError> {
        let f: Vec<&str> = value.split('|').collect();
        let (fields, source) = match f.as_slice() {
            [head @ .., src] if f.len() == 9 => (
                head,
                Some(
                    src.parse::<std::net::SocketAddr>()
                        .map_err(|_| DbValueError::Malformed)?,
                ),
            ),
            all => (all, None),
        };
        let [ver, aor, expiry_unix, expires, cseq, q, call_id, uri] = fields else {
            return Err(DbValueError::Malformed);
        };
        if *ver != DB_VERSION {
            return Err(DbValueError::Malformed);
        }
        let bad = |_| DbValueError::Malformed;
        let expiry_unix: u64 = expiry_unix.parse().map_err(bad)?;
        let expires: u32 = expires.parse().map_err(bad)?;
        let cseq: u32 = cseq.parse().map_err(bad)?;
        let q = if q.is_empty() {
            None
        } else {
            let q: f32 = q.parse().map_err(|_| DbValueError::Malformed)?;
            if !(0.0..=1.0).contains(&q) {
                return Err(DbValueError::Malformed);
            }
            Some(q)
        };
        let aor = unescape(aor).ok_or(DbValueError::Malformed)?;
        let uri = unescape(uri).ok_or(DbValueError::Malformed)?;
        let call_id = unescape(call_id).ok_or(DbValueError::Malformed)?;
        if aor.is_empty() || uri.is_empty() {
            return Err(DbValueError::Malformed);
        }
        let left = expiry_unix.saturating_sub(now_unix);
        if left == 0 {
            return Err(DbValueError::Expired);
        }
        // Never trust a stored value for longer than it was granted.
        let left = left.min(u64::from(expires.max(1)));
        Ok(Binding {
            aor,
            uri,
            q,
            call_id,
            cseq,
            expires,
            expires_at: now + Duration::from_secs(left),
            source,
        })
    }
}

/// A binding as listed in the 200 OK: `Contact: <uri>;expires=N[;q=Q]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactView {
    pub uri: String,
    pub q: Option<f32>,
    /// Seconds remaining.
    pub expires: u32,
}

/// The result of a REGISTER; [`status`](Self::status) gives the response line.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterOutcome {
    /// 200 OK, listing every current binding of the AOR. `updated` were added or refreshed and
    /// `removed` were removed (unregistered or found expired): persist both to AstDB.
    Ok {
        contacts: Vec<ContactView>,
        updated: Vec<Binding>,
        removed: Vec<Binding>,
    },
    /// 400 Bad Request (wildcard misuse, bad q).
    BadRequest(&'static str),
    /// 403 Forbidden: the AOR would have more than `max` bindings.
    TooManyContacts { max: usize },
    /// 423 Interval Too Brief, with `Min-Expires: min_expires`.
    IntervalTooBrief { min_expires: u32 },
    /// 500: same Call-ID with a CSeq not higher than stored.
    OutOfOrder,
    /// 503 Service Unavailable with `Retry-After: retry_after`.
    RateLimited { retry_after: u32 },
}

impl RegisterOutcome {
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegisterOutcome::Ok { .. } => (200, "OK"),
            RegisterOutcome::BadRequest(_) => (400, "Bad Request"),
            RegisterOutcome::TooManyContacts { .. } => (403, "Too Many Contacts"),
            RegisterOutcome::IntervalTooBrief { .. } => (423, "Interval Too Brief"),
            RegisterOutcome::OutOfOrder => (500, "Server Internal Error"),
            RegisterOutcome::RateLimited { .. } => (503, "Service Unavailable"),
        }
    }
}

#[derive(Debug, Default)]
struct AorState {
    bindings: Vec<Binding>,
    /// Times of recent accepted-for-processing REGISTERs (at most `max_registers_per_sec`).
    recent: VecDeque<Instant>,
}

const WINDOW: Duration = Duration::from_secs(1);

/// Contact bindings for every AOR.
#[derive(Debug, Default)]
pub struct Registrar {
    config: RegistrarConfig,
    aors: HashMap<String, AorState>,
}

impl Registrar {
    pub fn new(config: RegistrarConfig) -> Registrar {
        Registrar {
            config,
            aors: HashMap::new(),
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Replace the limits (on `sip reload`); existing bindings are kept as they are.
    pub fn set_config(&mut self, config: RegistrarConfig) {
        self.config = config;
    }

    /// Process a REGISTER for `aor`. An empty `contacts` is a query: the current bindings are
    /// returned unchanged.
    pub fn register(
        &mut self,
        aor: &str,
        contacts: Vec<ContactReq>,
        header_expires: Option<u32>,
        now: Instant,
    ) -> RegisterOutcome {
        let cfg = self.config.clone();
        let state = self.aors.entry(aor.to_string()).or_default();

        // Rate limit.
        while state
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            state.recent.pop_front();
        }
        if cfg.max_registers_per_sec > 0 && state.recent.len() >= cfg.max_registers_per_sec {
            let wait = match state.recent.front() {
                Some(oldest) => WINDOW.saturating_sub(now.saturating_duration_since(*oldest)),
                None => WINDOW,
            };
            let retry_after = u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
                .unwrap_or(1)
                .max(1);
            return RegisterOutcome::RateLimited { retry_after };
        }
        state.recent.push_back(now);

        // Expired bindings go first, whatever the request.
        let mut removed: Vec<Binding> = Vec::new();
        let (live, dead): (Vec<Binding>, Vec<Binding>) = std::mem::take(&mut state.bindings)
            .into_iter()
            .partition(|b| b.expires_at > now);
        state.bindings = live;
        removed.extend(dead);

        let result = Self::apply(&cfg, aor, state, contacts, header_expires, now);
        match result {
            Ok((updated, mut gone)) => {
                removed.append(&mut gone);
                RegisterOutcome::Ok {
                    contacts: state
                        .bindings
                        .iter()
                        .map(|b| ContactView {
                            uri: b.uri.clone(),
                            q: b.q,
                            expires: b.remaining(now),
                        })
                        .collect(),
                    updated,
                    removed,
                }
            }
            Err(refusal) => refusal,
        }
    }

    /// Validate the whole request, then apply it to `state`. Returns (updated, removed).
    fn apply(
        cfg: &RegistrarConfig,
        aor: &str,
        state: &mut AorState,
        contacts: Vec<ContactReq>,
        header_expires: Option<u32>,
        now: Instant,
    ) -> Result<(Vec<Binding>, Vec<Binding>), RegisterOutcome> {
        // Wildcard.
        if contacts.iter().any(|c| c.uri.trim() == "*") {
            let [star] = contacts.as_slice() else {
                return Err(RegisterOutcome::BadRequest(
                    "Contact: * must be the only contact",
                ));
            };
            if header_expires != Some(0) || star.expires.is_some_and(|e| e != 0) {
                return Err(RegisterOutcome::BadRequest(
                    "Contact: * requires Expires: 0",
                ));
            }
            if state
                .bindings
                .iter()
                .any(|b| b.call_id == star.call_id && star.cseq <= b.cseq)
            {
                return Err(RegisterOutcome::OutOfOrder);
            }
            return Ok((Vec::new(), std::mem::take(&mut state.bindings)));
        }

        // Expiry per contact, checked for every contact before changing anything.
        let mut plan: Vec<(ContactReq, u32)> = Vec::with_capacity(contacts.len());
        for c in contacts {
            if c.q.is_some_and(|q| !(0.0..=1.0).contains(&q)) {
                return Err(RegisterOutcome::BadRequest("q out of range"));
            }
            if c.uri.trim().is_empty() {
                return Err(RegisterOutcome::BadRequest("empty Contact"));
            }
            let asked = c.expires.or(header_expires).unwrap_or(cfg.default_expiry);
            if asked != 0 && asked < cfg.min_expiry {
                return Err(RegisterOutcome::IntervalTooBrief {
                    min_expires: cfg.min_expiry,
                });
            }
            plan.push((c, asked.min(cfg.max_expiry)));
        }

        // Apply to a working copy; commit only if every rule holds.
        let mut work = state.bindings.clone();
        let mut updated: Vec<Binding> = Vec::new();
        let mut removed: Vec<Binding> = Vec::new();
        for (c, expires) in plan {
            let existing = work.iter().position(|b| b.uri == c.uri);
            if let Some(i) = existing {
                // A lower CSeq on the same Call-ID is stale (RFC 3261 §10.3 step 7); the same
                // CSeq is a retransmission that outlived its transaction: apply it again.
                if work[i].call_id == c.call_id && c.cseq < work[i].cseq {
                    return Err(RegisterOutcome::OutOfOrder);
                }
            }
            updated.retain(|b| b.uri != c.uri);
            match (existing, expires) {
                (Some(i), 0) => {
                    // Removed now; if it was only added by this request, it was never stored.
                    let b = work.remove(i);
                    if state.bindings.iter().any(|s| s.uri == b.uri) {
                        removed.push(b);
                    }
                }
                (None, 0) => {}
                (existing, expires) => {
                    let b = Binding {
                        aor: aor.to_string(),
                        uri: c.uri,
                        q: c.q,
                        call_id: c.call_id,
                        cseq: c.cseq,
                        expires,
                        expires_at: now + Duration::from_secs(u64::from(expires)),
                        source: c.source,
                    };
                    updated.push(b.clone());
                    match existing {
                        Some(i) => work[i] = b,
                        None => work.push(b),
                    }
                }
            }
        }
        // Only a request that adds bindings beyond the limit is refused; one that shrinks or
        // refreshes an AOR already over it (after a config change) is let through.
        if work.len() > cfg.max_contacts && work.len() > state.bindings.len() {
            return Err(RegisterOutcome::TooManyContacts {
                max: cfg.max_contacts,
            });
        }
        state.bindings = work;
        Ok((updated, removed))
    }

    /// Drop every binding expired at `now` and return them (to delete from AstDB, log, …).
    /// Also forgets idle rate-limit state.
    pub fn expire(&mut self, now: Instant) -> Vec<Binding> {
        let mut gone = Vec::new();
        self.aors.retain(|_, st| {
            st.bindings.retain(|b| {
                if b.expires_at > now {
                    true
                } else {
                    gone.push(b.clone());
                    false
                }
            });
            st.recent
                .retain(|t| now.saturating_duration_since(*t) < WINDOW);
            !st.bindings.is_empty() || !st.recent.is_empty()
        });
        gone
    }

    /// The bindings of an AOR (possibly including some expired ones not yet dropped by
    /// [`expire`](Self::expire); check [`Binding::remaining`]).
    pub fn bindings(&self, aor: &str) -> &[Binding] {
        self.aors.get(aor).map_or(&[], |s| s.bindings.as_slice())
    }

    /// The live bindings of an AOR as listed in a 200 OK.
    pub fn contacts(&self, aor: &str, now: Instant) -> Vec<ContactView> {
        self.bindings(aor)
            .iter()
            .filter(|b| b.expires_at > now)
            .map(|b| ContactView {
                uri: b.uri.clone(),
                q: b.q,
                expires: b.remaining(now),
            })
            .collect()
    }

    /// Every AOR that has bindings.
    pub fn aors(&self) -> impl Iterator<Item = &str> {
        self.aors
            .iter()
            .filter(|(_, s)| !s.bindings.is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// Put back a binding restored from AstDB at start. Refused (false) when it is expired or
    /// the AOR is already full; a binding with the same URI is replaced.
    pub fn restore(&mut self, binding: Binding, now: Instant) -> bool {
        if binding.expires_at <= now {
            return false;
        }
        let max = self.config.max_contacts;
        let st = self.aors.entry(binding.aor.clone()).or_default();
        if let Some(b) = st.bindings.iter_mut().find(|b| b.uri == binding.uri) {
            *b = binding;
            return true;
        }
        if st.bindings.len() >= max {
            return false;
        }
        st.bindings.push(binding);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AOR: &str = "sip:100@ferrisk";

    fn c(uri: &str, expires: Option<u32>, call_id: &str, cseq: u32) -> ContactReq {
        ContactReq {
            uri: uri.to_string(),
            expires,
            q: None,
            call_id: call_id.to_string(),
            cseq,
            source: None,
        }
    }

    fn reg() -> Registrar {
        Registrar::new(RegistrarConfig {
            max_registers_per_sec: 1000,
            ..RegistrarConfig::default()
        })
    }

    fn ok_contacts(o: &RegisterOutcome) -> Vec<(String, u32)> {
        match o {
            RegisterOutcome::Ok { contacts, .. } => contacts
                .iter()
                .map(|c| (c.uri.clone(), c.expires))
                .collect(),
            other => panic!("expected 200, got {other:?}"),
        }
    }

    #[test]
    fn expiry_sources_and_limits() {
        let t0 = Instant::now();
        let mut r = reg();
        // Contact param wins over the header.
        let o = r.register(AOR, vec![c("sip:a@1", Some(300), "x", 1)], Some(600), t0);
        assert_eq!(o.status().0, 200);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 300)]);
        // Header when no param.
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 2)], Some(600), t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 600)]);
        // Default when neither.
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 3)], None, t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 120)]);
        // Above max: clamped.
        let o = r.register(AOR, vec![c("sip:a@1", Some(99999), "x", 4)], None, t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 3600)]);
        assert_eq!(r.bindings(AOR)[0].expires, 3600);
        // Exactly min is fine, below is 423 and changes nothing.
        let o = r.register(AOR, vec![c("sip:a@1", Some(60), "x", 5)], None, t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 60)]);
        let o = r.register(
            AOR,
            vec![
                c("sip:b@1", Some(300), "x", 6),
                c("sip:a@1", Some(59), "x", 6),
            ],
            None,
            t0,
        );
        assert_eq!(o, RegisterOutcome::IntervalTooBrief { min_expires: 60 });
        assert_eq!(o.status(), (423, "Interval Too Brief"));
        assert_eq!(r.bindings(AOR).len(), 1, "nothing applied");
        // Header below min, too.
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 7)], Some(10), t0);
        assert!(matches!(o, RegisterOutcome::IntervalTooBrief { .. }));
    }

    #[test]
    fn remaining_expires_counts_down() {
        let t0 = Instant::now();
        let mut r = reg();
        r.register(AOR, vec![c("sip:a@1", Some(300), "x", 1)], None, t0);
        let later = t0 + Duration::from_millis(100_500);
        let o = r.register(AOR, vec![], None, later);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 200)]);
        assert_eq!(r.contacts(AOR, later)[0].expires, 200);
    }

    #[test]
    fn expires_zero_removes_binding() {
        let t0 = Instant::now();
        let mut r = reg();
        r.register(
            AOR,
            vec![c("sip:a@1", None, "x", 1), c("sip:b@1", None, "x", 1)],
            Some(300),
            t0,
        );
        // Contact param 0.
        let o = r.register(AOR, vec![c("sip:a@1", Some(0), "x", 2)], Some(300), t0);
        assert_eq!(ok_contacts(&o), vec![("sip:b@1".into(), 300)]);
        match &o {
            RegisterOutcome::Ok {
                removed, updated, ..
            } => {
                assert_eq!(removed.len(), 1);
                assert_eq!(removed[0].uri, "sip:a@1");
                assert!(updated.is_empty());
            }
            _ => unreachable!(),
        }
        // Header 0.
        let o = r.register(AOR, vec![c("sip:b@1", None, "x", 3)], Some(0), t0);
        assert!(ok_contacts(&o).is_empty());
        // Removing an unknown binding is a no-op 200.
        let o = r.register(AOR, vec![c("sip:zzz@1", None, "x", 4)], Some(0), t0);
        assert!(ok_contacts(&o).is_empty());
    }

    #[test]
    fn wildcard_rules() {
        let t0 = Instant::now();
        let mut r = reg();
        r.register(
            AOR,
            vec![c("sip:a@1", None, "x", 1), c("sip:b@1", None, "y", 1)],
            None,
            t0,
        );
        // * with non-zero Expires, missing Expires, or with other contacts → 400.
        for (contacts, hdr) in [
            (vec![c("*", None, "z", 1)], Some(300)),
            (vec![c("*", None, "z", 1)], None),
            (vec![c("*", Some(5), "z", 1)], Some(0)),
            (
                vec![c("*", None, "z", 1), c("sip:a@1", None, "z", 1)],
                Some(0),
            ),
        ] {
            let o = r.register(AOR, contacts, hdr, t0);
            assert!(matches!(o, RegisterOutcome::BadRequest(_)), "{o:?}");
            assert_eq!(o.status().0, 400);
        }
        assert_eq!(r.bindings(AOR).len(), 2);
        // Same Call-ID as a binding with a not-higher CSeq → 500, nothing removed.
        let o = r.register(AOR, vec![c("*", None, "x", 1)], Some(0), t0);
        assert_eq!(o, RegisterOutcome::OutOfOrder);
        assert_eq!(r.bindings(AOR).len(), 2);
        // Proper * with Expires: 0 removes all.
        let o = r.register(AOR, vec![c("*", None, "x", 2)], Some(0), t0);
        assert!(ok_contacts(&o).is_empty());
        match o {
            RegisterOutcome::Ok { removed, .. } => assert_eq!(removed.len(), 2),
            _ => unreachable!(),
        }
        assert!(r.bindings(AOR).is_empty());
    }

    #[test]
    fn call_id_cseq_ordering() {
        let t0 = Instant::now();
        let mut r = reg();
        r.register(AOR, vec![c("sip:a@1", None, "x", 10)], None, t0);
        // Same Call-ID, lower CSeq → 500, binding untouched.
        let o = r.register(AOR, vec![c("sip:a@1", Some(600), "x", 9)], None, t0);
        assert_eq!(o, RegisterOutcome::OutOfOrder);
        assert_eq!(o.status().0, 500);
        assert_eq!(r.bindings(AOR)[0].expires, 120);
        // The same CSeq is a late retransmission: applied again (idempotent).
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 10)], None, t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 120)]);
        // Higher CSeq updates.
        let o = r.register(AOR, vec![c("sip:a@1", Some(600), "x", 11)], None, t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 600)]);
        // A different Call-ID (phone rebooted) updates whatever its CSeq.
        let o = r.register(AOR, vec![c("sip:a@1", Some(300), "new", 1)], None, t0);
        assert_eq!(ok_contacts(&o), vec![("sip:a@1".into(), 300)]);
        assert_eq!(r.bindings(AOR)[0].call_id, "new");
        // Out-of-order aborts the whole request: the other contact is not added either.
        let o = r.register(
            AOR,
            vec![c("sip:b@1", None, "new", 1), c("sip:a@1", None, "new", 0)],
            None,
            t0,
        );
        assert_eq!(o, RegisterOutcome::OutOfOrder);
        assert_eq!(r.bindings(AOR).len(), 1);
    }

    #[test]
    fn max_contacts_per_aor() {
        let t0 = Instant::now();
        let mut r = reg();
        for i in 0..10 {
            let o = r.register(
                AOR,
                vec![c(&format!("sip:p{i}@1"), None, &format!("c{i}"), 1)],
                None,
                t0,
            );
            assert_eq!(o.status().0, 200);
        }
        // The 11th new binding is refused with 403.
        let o = r.register(AOR, vec![c("sip:p10@1", None, "c10", 1)], None, t0);
        assert_eq!(o, RegisterOutcome::TooManyContacts { max: 10 });
        assert_eq!(o.status(), (403, "Too Many Contacts"));
        assert_eq!(r.bindings(AOR).len(), 10);
        // Refreshing an existing one is fine, and so is swapping one out in a single request.
        let o = r.register(AOR, vec![c("sip:p0@1", None, "c0", 2)], None, t0);
        assert_eq!(o.status().0, 200);
        let o = r.register(
            AOR,
            vec![
                c("sip:p1@1", Some(0), "c1", 2),
                c("sip:p10@1", None, "c10", 2),
            ],
            None,
            t0,
        );
        assert_eq!(o.status().0, 200);
        assert_eq!(r.bindings(AOR).len(), 10);
        // Another AOR is independent.
        let o = r.register(
            "sip:200@ferrisk",
            vec![c("sip:q@1", None, "q", 1)],
            None,
            t0,
        );
        assert_eq!(o.status().0, 200);
        // Configurable; a single request with too many contacts is refused whole.
        let mut r = Registrar::new(RegistrarConfig {
            max_contacts: 2,
            ..RegistrarConfig::default()
        });
        let o = r.register(
            AOR,
            vec![
                c("sip:a@1", None, "x", 1),
                c("sip:b@1", None, "x", 1),
                c("sip:c@1", None, "x", 1),
            ],
            None,
            t0,
        );
        assert_eq!(o, RegisterOutcome::TooManyContacts { max: 2 });
        assert!(r.bindings(AOR).is_empty());
    }

    #[test]
    fn rate_limit_per_aor() {
        let t0 = Instant::now();
        let mut r = Registrar::new(RegistrarConfig::default());
        for i in 0..5 {
            let at = t0 + Duration::from_millis(100 * i);
            let o = r.register(AOR, vec![c("sip:a@1", None, "x", i as u32 + 1)], None, at);
            assert_eq!(o.status().0, 200, "request {i}");
        }
        let at = t0 + Duration::from_millis(500);
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 6)], None, at);
        assert_eq!(o, RegisterOutcome::RateLimited { retry_after: 1 });
        assert_eq!(o.status(), (503, "Service Unavailable"));
        // Another AOR is not affected.
        let o = r.register("sip:200@ferrisk", vec![], None, at);
        assert_eq!(o.status().0, 200);
        // Once the oldest leaves the one-second window, one more is allowed.
        let at = t0 + Duration::from_millis(1000);
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 7)], None, at);
        assert_eq!(o.status().0, 200);
        let o = r.register(AOR, vec![c("sip:a@1", None, "x", 8)], None, at);
        assert!(matches!(o, RegisterOutcome::RateLimited { .. }));
        // Configurable.
        let mut r = Registrar::new(RegistrarConfig {
            max_registers_per_sec: 1,
            ..RegistrarConfig::default()
        });
        assert_eq!(r.register(AOR, vec![], None, t0).status().0, 200);
        assert_eq!(r.register(AOR, vec![], None, t0).status().0, 503);
    }

    #[test]
    fn bad_q_and_empty_contact() {
        let t0 = Instant::now();
        let mut r = reg();
        let mut cr = c("sip:a@1", None, "x", 1);
        cr.q = Some(1.5);
        assert!(matches!(
            r.register(AOR, vec![cr], None, t0),
            RegisterOutcome::BadRequest(_)
        ));
        let mut cr = c("sip:a@1", None, "x", 1);
        cr.q = Some(f32::NAN);
        assert!(matches!(
            r.register(AOR, vec![cr], None, t0),
            RegisterOutcome::BadRequest(_)
        ));
        assert!(matches!(
            r.register(AOR, vec![c(" ", None, "x", 1)], None, t0),
            RegisterOutcome::BadRequest(_)
        ));
        let mut cr = c("sip:a@1", None, "x", 1);
        cr.q = Some(0.5);
        r.register(AOR, vec![cr], None, t0);
        assert_eq!(r.contacts(AOR, t0)[0].q, Some(0.5));
    }

    #[test]
    fn expire_drops_and_returns_stale_bindings() {
        let t0 = Instant::now();
        let mut r = reg();
        r.register(
            AOR,
            vec![
                c("sip:a@1", Some(60), "x", 1),
                c("sip:b@1", Some(300), "x", 1),
            ],
            None,
            t0,
        );
        assert!(r.expire(t0 + Duration::from_secs(59)).is_empty());
        let gone = r.expire(t0 + Duration::from_secs(60));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].uri, "sip:a@1");
        assert_eq!(r.bindings(AOR).len(), 1);
        assert_eq!(r.aors().collect::<Vec<_>>(), vec![AOR]);
        let gone = r.expire(t0 + Duration::from_secs(301));
        assert_eq!(gone.len(), 1);
        assert!(r.bindings(AOR).is_empty());
        assert_eq!(r.aors().count(), 0);
        assert!(r.aors.is_empty(), "idle AOR state is forgotten");
        // A REGISTER also drops the AOR's expired bindings and reports them removed.
        r.register(AOR, vec![c("sip:a@1", Some(60), "x", 1)], None, t0);
        let o = r.register(AOR, vec![], None, t0 + Duration::from_secs(61));
        match o {
            RegisterOutcome::Ok {
                contacts, removed, ..
            } => {
                assert!(contacts.is_empty());
                assert_eq!(removed.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn db_round_trip_and_restore() {
        let t0 = Instant::now();
        let mut r = reg();
        let mut cr = c(
            "sip:a@1.2.3.4:5060;transport=udp;x=a|b%",
            Some(300),
            "abc|def@host",
            7,
        );
        cr.q = Some(0.7);
        r.register(AOR, vec![cr], None, t0);
        let b = r.bindings(AOR)[0].clone();
        let unix = 1_700_000_000;
        let v = b.to_db_value(t0 + Duration::from_secs(100), unix);
        assert!(v.starts_with("v1|sip:100@ferrisk|1700000200|300|7|0.7|abc%7Cdef@host|"));
        // Restart: new Instant base, 50 s of wall time later.
        let t1 = Instant::now() + Duration::from_secs(1000);
        let back = Binding::from_db_value(&v, t1, unix + 50).unwrap();
        assert_eq!(back.aor, AOR);
        assert_eq!(back.uri, b.uri);
        assert_eq!(back.call_id, b.call_id);
        assert_eq!((back.cseq, back.q, back.expires), (7, Some(0.7), 300));
        assert_eq!(back.remaining(t1), 150);
        let mut r2 = reg();
        assert!(r2.restore(back.clone(), t1));
        assert_eq!(r2.contacts(AOR, t1)[0].expires, 150);
        // CSeq ordering survives the restart.
        let mut again = c(&b.uri, None, &b.call_id, 6);
        again.q = None;
        assert_eq!(
            r2.register(AOR, vec![again], None, t1),
            RegisterOutcome::OutOfOrder
        );
        // Expired and malformed values.
        assert_eq!(
            Binding::from_db_value(&v, t1, unix + 200),
            Err(DbValueError::Expired)
        );
        for bad in [
            "",
            "v2|a|1|1|1||c|u",
            "v1|a|1|1|1||c",
            "v1|a|x|1|1||c|u",
            "v1|a|9999999999|1|1|2.0|c|u",
            "v1|a|9999999999|1|1||c%zz|u",
            "v1|a|9999999999|1|1||c|u%",
            "v1||9999999999|1|1||c|u",
            "v1|a|9999999999|1|1||c|u|extra",
        ] {
            assert_eq!(
                Binding::from_db_value(bad, t1, unix),
                Err(DbValueError::Malformed),
                "{bad}"
            );
        }
        // A stored expiry beyond the granted interval is capped.
        let far = Binding::from_db_value("v1|a|9999999999|60|1||c|u", t1, unix).unwrap();
        assert_eq!(far.remaining(t1), 60);
        // restore() refuses expired bindings and full AORs.
        assert!(!r2.restore(far.clone(), t1 + Duration::from_secs(61)));
        let mut small = Registrar::new(RegistrarConfig {
            max_contacts: 1,
            ..RegistrarConfig::default()
        });
        assert!(small.restore(far.clone(), t1));
        let mut other = far.clone();
        other.uri = "u2".into();
        assert!(!small.restore(other, t1));
        assert!(small.restore(far, t1), "same URI replaces");
    }
}
