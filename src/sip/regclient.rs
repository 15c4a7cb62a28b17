//! Outbound registration (chan_sip's `register =>` lines) as a state machine without I/O.
//!
//! One [`RegClient`] per [`Registration`]. The caller drives it:
//! - [`RegClient::start`] arms the first REGISTER; [`RegClient::poll_request`] hands out the
//!   request to send (to [`RegClient::destination`], which the caller resolves) whenever one is
//!   due; [`RegClient::poll_timeout`] says when to poll next;
//! - the caller runs the client transaction and passes the final response to
//!   [`RegClient::handle_response`], or calls [`RegClient::handle_timeout`] when the transaction
//!   timed out (Timer F) or the transport failed;
//! - [`RegClient::stop`] sends `Expires: 0` (unregister) at shutdown.
//!
//! Time is always an argument; the only randomness is for Call-ID, tags, branches and cnonces.
//!
//! Requests: `REGISTER sip:<domain>[:<domainport>]` (chan_sip and RFC 3261 §10.2: the
//! Request-URI names the registrar's domain; the domain is the `host` part when no `@domain` was
//! configured), To/From `<sip:user@domain[:domainport]>`, `Contact: <sip:contact@ip:port>`,
//! `Expires`, Max-Forwards 70, User-Agent, a fresh `z9hG4bK` branch per request, one Call-ID and
//! From-tag for the life of the client, CSeq incrementing by one per request.
//!
//! State strings are chan_sip's `regstate2str` ([`RegState::as_str`]). Responses:
//! - **401/407**: answered with `Authorization` / `Proxy-Authorization`
//!   ([`build_authorization`], username = authuser or user). The challenge is remembered and
//!   reused pre-emptively on later REGISTERs (as chan_sip does), `nc` counting up per nonce.
//!   A challenge right after an authenticated attempt is answered again only if it is `stale=true`
//!   or carries a new nonce, and at most [`MAX_AUTH_TRIES`] times in a row (chan_sip's
//!   MAX_AUTHTRIES); the same nonce without `stale` means wrong credentials → **No
//!   Authentication**. No secret configured → **No Authentication** too.
//! - **200**: **Registered**. The granted expiry is the `expires` param of the Contact matching
//!   ours (user, host, port), else the `Expires` header, else what we asked (a granted `0` on a
//!   non-zero request is read as "what we asked"). The refresh is
//!   scheduled as chan_sip does: `expiry − 15 s` when the expiry is above 30 s, otherwise
//!   `expiry − max(20 %, 0.5 s)` ([`refresh_delay`]).
//! - **423**: the expiry is raised to `Min-Expires` and the REGISTER is sent again at once (a
//!   missing, unparseable or not larger `Min-Expires`, or one above [`MAX_EXPIRY`], is
//!   **Rejected** like chan_sip).
//! - **403**: **No Authentication** (chan_sip's state for 403: "Forbidden - wrong password").
//! - **400, 404, 420, 479**: **Rejected** (chan_sip's list).
//! - any other final response ≥ 300: **Failed**.
//! - transaction timeout: **Timeout**.
//!
//! While a REGISTER is in flight the state is **Request Sent** (or **Auth. Sent** when it carries
//! credentials), refreshes included, as chan_sip's `transmit_register` does.
//!
//! Retries (a deviation from chan_sip, which retries at a fixed `registertimeout` and stops after
//! 403/404): every failure above is retried after `registertimeout`, doubling with each
//! consecutive failure, capped at [`MAX_BACKOFF`] (10 min); a 200 resets the backoff. With
//! `registerattempts > 0`, after that many consecutive failed attempts the client gives up:
//! state **Failed**, nothing more is sent (chan_sip's "Giving up forever").
//!
//! Registration time: stored as the `Instant` of the 200 ([`RegClient::registered_at`]); the
//! caller converts it to wall-clock time for `sip show registry` with its own
//! (`Instant`, `SystemTime`) anchor.

use std::time::{Duration, Instant};

use crate::config::Location;
use crate::sip::auth::{build_authorization, new_cnonce, DigestChallenge, Secret};
use crate::sip::message::{Contacts, Method, SipMessage};
use crate::sip::transaction::MAGIC_COOKIE;
use crate::sip::uri::SipUri;

/// chan_sip's MAX_AUTHTRIES: consecutive challenges answered before giving up.
pub const MAX_AUTH_TRIES: u32 = 3;
/// Refresh margin for expiries above [`EXPIRY_GUARD_LIMIT`] (chan_sip EXPIRY_GUARD_SECS).
pub const EXPIRY_GUARD_SECS: u64 = 15;
/// Expiries up to this many seconds use the percentage margin (chan_sip EXPIRY_GUARD_LIMIT).
pub const EXPIRY_GUARD_LIMIT: u64 = 30;
/// Smallest margin in ms for short expiries (chan_sip EXPIRY_GUARD_MIN).
pub const EXPIRY_GUARD_MIN_MS: u64 = 500;
/// Margin for short expiries, percent (chan_sip EXPIRY_GUARD_PCT = 0.20).
pub const EXPIRY_GUARD_PCT: u64 = 20;
/// Upper bound on retry backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Largest expiry a 423 may push us to (chan_sip's default `maxexpiry`).
pub const MAX_EXPIRY: u32 = 3600;

/// A SIP transport as `sip.conf` names it (`transport=`, `tcp://` in `register =>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// `register => [peer?][transport://]user[@domain[:port]][:secret[:authuser]]@host[:port][/contact][~expiry]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub peer: Option<String>,
    pub transport: Transport,
    pub user: String,
    pub domain: Option<String>,
    pub domain_port: Option<u16>,
    pub secret: Option<String>,
    pub authuser: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Contact user (the extension calls arrive at); chan_sip uses `s` when absent.
    pub contact: String,
    /// `~expiry`; `None` means `defaultexpiry`.
    pub expiry: Option<u32>,
    pub loc: Location,
}

/// Registration state, as chan_sip's `enum sipregistrystate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RegState {
    #[default]
    Unregistered,
    RequestSent,
    AuthSent,
    Registered,
    Rejected,
    Timeout,
    NoAuth,
    Failed,
}

impl RegState {
    /// chan_sip's `regstate2str`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegState::Unregistered => "Unregistered",
            RegState::RequestSent => "Request Sent",
            RegState::AuthSent => "Auth. Sent",
            RegState::Registered => "Registered",
            RegState::Rejected => "Rejected",
            RegState::Timeout => "Timeout",
            RegState::NoAuth => "No Authentication",
            RegState::Failed => "Failed",
        }
    }
}

/// Settings from sip.conf `[general]` and the local address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegClientParams {
    /// Address put in Contact and Via.
    pub contact_host: String,
    pub contact_port: u16,
    /// `defaultexpiry` (120), used when the `register =>` line has no `~expiry`.
    pub default_expiry: u32,
    /// `registertimeout` (20 s): first retry delay.
    pub register_timeout: Duration,
    /// `registerattempts` (0 = forever).
    pub register_attempts: u32,
    /// `useragent`.
    pub user_agent: String,
}

impl Default for RegClientParams {
    fn default() -> Self {
        RegClientParams {
            contact_host: "127.0.0.1".to_string(),
            contact_port: 5060,
            default_expiry: 120,
            register_timeout: Duration::from_secs(20),
            register_attempts: 0,
            user_agent: "ferrisk".to_string(),
        }
    }
}

/// When to refresh a registration granted for `expiry` seconds (chan_sip's rule): `expiry − 15 s`
/// above 30 s, else `expiry − max(20 %, 500 ms)` (never negative).
pub fn refresh_delay(expiry: u32) -> Duration {
    let ms = u64::from(expiry) * 1000;
    let guard = if u64::from(expiry) > EXPIRY_GUARD_LIMIT {
        EXPIRY_GUARD_SECS * 1000
    } else {
        (ms * EXPIRY_GUARD_PCT / 100).max(EXPIRY_GUARD_MIN_MS)
    };
    Duration::from_millis(ms.saturating_sub(guard))
}

#[derive(Debug, Clone)]
struct Outstanding {
    cseq: u32,
    /// Nonce of the credentials sent with it, if any.
    auth_nonce: Option<String>,
    unregister: bool,
}

#[derive(Debug, Clone)]
struct CachedChallenge {
    challenge: DigestChallenge,
    proxy: bool,
    cnonce: String,
    nc: u32,
}

/// One outbound registration. See the module docs.
#[derive(Debug, Clone)]
pub struct RegClient {
    user: String,
    authuser: Option<String>,
    secret: Option<String>,
    domain: String,
    domain_port: Option<u16>,
    host: String,
    port: u16,
    contact_user: String,
    transport: Transport,
    params: RegClientParams,
    /// Expiry we ask for (raised by 423).
    expiry: u32,
    /// Granted expiry (chan_sip's `refresh`); our requested expiry until a 200.
    refresh: u32,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegState,
    next_send: Option<Instant>,
    outstanding: Option<Outstanding>,
    auth: Option<CachedChallenge>,
    auth_tries: u32,
    failures: u32,
    registered_at: Option<Instant>,
    stopping: bool,
    last_code: Option<u16>,
}

fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn default_port(t: Transport) -> u16 {
    match t {
        Transport::Tls => 5061,
        _ => 5060,
    }
}

fn transport_str(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
    }
}

impl RegClient {
    pub fn new(reg: &Registration, params: RegClientParams) -> RegClient {
        let expiry = reg.expiry.unwrap_or(params.default_expiry);
        let call_id = format!("{}@{}", random_hex(), params.contact_host);
        RegClient {
            user: reg.user.clone(),
            authuser: reg.authuser.clone().filter(|a| !a.is_empty()),
            secret: reg.secret.clone(),
            domain: reg
                .domain
                .clone()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| reg.host.clone()),
            domain_port: if reg.domain.as_deref().is_some_and(|d| !d.is_empty()) {
                reg.domain_port
            } else {
                reg.port
            },
            host: reg.host.clone(),
            port: reg.port.unwrap_or(default_port(reg.transport)),
            contact_user: reg.contact.clone(),
            transport: reg.transport,
            params,
            expiry,
            refresh: expiry,
            call_id,
            from_tag: random_hex(),
            cseq: 0,
            state: RegState::Unregistered,
            next_send: None,
            outstanding: None,
            auth: None,
            auth_tries: 0,
            failures: 0,
            registered_at: None,
            stopping: false,
            last_code: None,
        }
    }

    /// Arm the first REGISTER (sent by the next [`Self::poll_request`] at or after `now`).
    /// Also restarts a client that gave up or was stopped.
    pub fn start(&mut self, now: Instant) {
        self.stopping = false;
        self.failures = 0;
        self.auth_tries = 0;
        self.outstanding = None;
        self.next_send = Some(now);
    }

    /// The REGISTER to send now, if one is due. The caller sends it to [`Self::destination`]
    /// in a new client transaction.
    pub fn poll_request(&mut self, now: Instant) -> Option<SipMessage> {
        let due = self.next_send?;
        if due > now || self.outstanding.is_some() {
            return None;
        }
        self.next_send = None;
        let unregister = self.stopping;
        let req = self.build_request(unregister);
        Some(req)
    }

    /// Unregister for shutdown: the next [`Self::poll_request`] returns a REGISTER with
    /// `Expires: 0` if we may hold a binding (registered once, or a request is in flight).
    /// Returns whether an unregister will be sent. Nothing is retried after it.
    pub fn stop(&mut self, now: Instant) -> bool {
        self.stopping = true;
        self.auth_tries = 0;
        let send = self.registered_at.is_some() || self.outstanding.is_some();
        self.outstanding = None;
        self.next_send = send.then_some(now);
        if !send {
            self.state = RegState::Unregistered;
        }
        send
    }

    /// When [`Self::poll_request`] will next have something (`None` while a request is in
    /// flight — the transaction layer times that — or when nothing is scheduled).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outstanding.is_some() {
            return None;
        }
        self.next_send
    }

    /// `(host, port)` to send REGISTERs to (the caller resolves the name).
    pub fn destination(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    fn request_uri(&self) -> SipUri {
        SipUri::new_sip(None, &self.domain, self.domain_port)
    }

    fn aor(&self) -> SipUri {
        SipUri::new_sip(Some(&self.user), &self.domain, self.domain_port)
    }

    fn contact_uri(&self) -> SipUri {
        let mut u = SipUri::new_sip(
            Some(&self.contact_user),
            &self.params.contact_host,
            Some(self.params.contact_port),
        );
        match self.transport {
            Transport::Udp => {}
            Transport::Tcp => u.params.push(("transport".into(), Some("tcp".into()))),
            Transport::Tls => u.params.push(("transport".into(), Some("tls".into()))),
        }
        u
    }

    fn build_request(&mut self, unregister: bool) -> SipMessage {
        self.cseq = self.cseq.wrapping_add(1).max(1);
        let uri = self.request_uri();
        let uri_s = uri.to_string();
        let mut msg = SipMessage::request(Method::Register, uri);
        let sent_by = SipUri::new_sip(
            None,
            &self.params.contact_host,
            Some(self.params.contact_port),
        )
        .host_port();
        let aor = self.aor();
        let expires = if unregister { 0 } else { self.expiry };
        let contact = format!("<{}>", self.contact_uri());
        let auth_header = self.authorization(&uri_s);
        let h = msg.headers_mut();
        h.push(
            "Via",
            format!(
                "SIP/2.0/{} {sent_by};branch={MAGIC_COOKIE}{};rport",
                transport_str(self.transport),
                random_hex()
            ),
        );
        h.push("Max-Forwards", "70");
        h.push("From", format!("<{aor}>;tag={}", self.from_tag));
        h.push("To", format!("<{aor}>"));
        h.push("Call-ID", self.call_id.clone());
        h.push("CSeq", format!("{} REGISTER", self.cseq));
        h.push("User-Agent", self.params.user_agent.clone());
        let auth_nonce = match auth_header {
            Some((name, value, nonce)) => {
                h.push(name, value);
                Some(nonce)
            }
            None => None,
        };
        h.push("Expires", expires.to_string());
        h.push("Contact", contact);
        h.push("Content-Length", "0");
        self.state = if auth_nonce.is_some() {
            RegState::AuthSent
        } else {
            RegState::RequestSent
        };
        self.outstanding = Some(Outstanding {
            cseq: self.cseq,
            auth_nonce,
            unregister,
        });
        msg
    }

    /// Credentials for the cached challenge: (header name, value, nonce). Counts `nc` up.
    fn authorization(&mut self, uri: &str) -> Option<(&'static str, String, String)> {
        let secret = self.secret.as_deref()?;
        let username = self.authuser.as_deref().unwrap_or(&self.user);
        let cached = self.auth.as_mut()?;
        cached.nc = cached.nc.wrapping_add(1).max(1);
        match build_authorization(
            username,
            Secret::Plain(secret),
            "REGISTER",
            uri,
            &cached.challenge,
            &cached.cnonce,
            cached.nc,
        ) {
            Ok(v) => {
                let name = if cached.proxy {
                    "Proxy-Authorization"
                } else {
                    "Authorization"
                };
                Some((name, v, cached.challenge.nonce.clone()))
            }
            Err(_) => {
                self.auth = None;
                None
            }
        }
    }

    /// A final response to our REGISTER. Returns `false` (and changes nothing) when it is not a
    /// response to the request in flight (other Call-ID, CSeq or method; a provisional response).
    pub fn handle_response(&mut self, resp: &SipMessage, now: Instant) -> bool {
        let SipMessage::Response { code, .. } = resp else {
            return false;
        };
        let code = *code;
        let Some(out) = self.outstanding.as_ref() else {
            return false;
        };
        if code < 200
            || resp.call_id() != Some(self.call_id.as_str())
            || resp.cseq() != Some((out.cseq, Method::Register))
        {
            return false;
        }
        let Some(out) = self.outstanding.take() else {
            return false;
        };
        self.last_code = Some(code);
        match code {
            200..=299 => self.on_success(resp, &out, now),
            401 | 407 => self.on_challenge(resp, code == 407, &out, now),
            423 if !out.unregister => {
                match resp
                    .header("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                {
                    Some(min) if min > self.expiry && min <= MAX_EXPIRY => {
                        self.expiry = min;
                        self.refresh = min;
                        self.next_send = Some(now);
                    }
                    _ => self.fail(RegState::Rejected, now),
                }
            }
            _ if out.unregister => self.finish_unregister(),
            403 => {
                // Wrong credentials: the next attempt starts over without them.
                self.auth = None;
                self.fail(RegState::NoAuth, now);
            }
            400 | 404 | 420 | 479 => self.fail(RegState::Rejected, now),
            _ => self.fail(RegState::Failed, now),
        }
        true
    }

    /// The REGISTER in flight got no final response (transaction timeout or transport error).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(out) = self.outstanding.take() else {
            return;
        };
        if out.unregister {
            self.finish_unregister();
        } else {
            self.fail(RegState::Timeout, now);
        }
    }

    fn finish_unregister(&mut self) {
        self.state = RegState::Unregistered;
        self.next_send = None;
        self.registered_at = None;
    }

    fn on_success(&mut self, resp: &SipMessage, out: &Outstanding, now: Instant) {
        self.failures = 0;
        self.auth_tries = 0;
        if out.unregister {
            self.finish_unregister();
            return;
        }
        let ours = self.contact_uri();
        let from_contact = match resp.contacts() {
            Some(Contacts::List(list)) => list
                .iter()
                .find(|na| {
                    na.uri.user.as_deref() == Some(ours.user.as_deref().unwrap_or(""))
                        && na.uri.host.eq_ignore_ascii_case(&ours.host)
                        && na.uri.port.unwrap_or(5060) == ours.port.unwrap_or(5060)
                })
                .and_then(|na| na.expires()),
            _ => None,
        };
        let granted = from_contact
            .or_else(|| resp.expires())
            .filter(|&e| e > 0)
            .unwrap_or(self.expiry);
        self.refresh = granted;
        self.state = RegState::Registered;
        self.registered_at = Some(now);
        self.next_send = Some(now + refresh_delay(granted));
    }

    fn on_challenge(&mut self, resp: &SipMessage, proxy: bool, out: &Outstanding, now: Instant) {
        let header = if proxy {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let challenge = resp
            .headers()
            .get_all(header)
            .filter_map(|v| DigestChallenge::parse(v).ok())
            .find(|c| {
                c.algorithm.as_deref().is_none_or(|a| {
                    a.eq_ignore_ascii_case("MD5") || a.eq_ignore_ascii_case("MD5-sess")
                }) && (c.qop.is_empty() || c.qop.iter().any(|q| q == "auth"))
            });
        let Some(challenge) = challenge else {
            self.auth = None;
            return self.after_auth_failure(out, now);
        };
        let same_nonce = out.auth_nonce.as_deref() == Some(challenge.nonce.as_str());
        if self.secret.is_none()
            || (same_nonce && !challenge.stale)
            || self.auth_tries >= MAX_AUTH_TRIES
        {
            self.auth = None;
            return self.after_auth_failure(out, now);
        }
        self.auth_tries += 1;
        let keep = self
            .auth
            .as_ref()
            .is_some_and(|c| c.challenge.nonce == challenge.nonce && c.proxy == proxy);
        if !keep {
            self.auth = Some(CachedChallenge {
                challenge,
                proxy,
                cnonce: new_cnonce(),
                nc: 0,
            });
        }
        self.next_send = Some(now);
    }

    fn after_auth_failure(&mut self, out: &Outstanding, now: Instant) {
        if out.unregister {
            self.finish_unregister();
        } else {
            self.fail(RegState::NoAuth, now);
        }
    }

    /// A failed attempt: set `state`, schedule the retry with backoff (or give up).
    fn fail(&mut self, state: RegState, now: Instant) {
        self.auth_tries = 0;
        self.failures = self.failures.saturating_add(1);
        if self.params.register_attempts > 0 && self.failures >= self.params.register_attempts {
            self.state = RegState::Failed;
            self.next_send = None;
            return;
        }
        self.state = state;
        self.next_send = Some(now + self.backoff());
    }

    /// `registertimeout × 2^(failures−1)`, capped at [`MAX_BACKOFF`].
    fn backoff(&self) -> Duration {
        let shift = self.failures.saturating_sub(1).min(16);
        self.params
            .register_timeout
            .saturating_mul(1u32 << shift)
            .min(MAX_BACKOFF)
    }

    /// `host:port` of the registrar (the `Host` column of `sip show registry`).
    pub fn host_port(&self) -> String {
        SipUri::new_sip(None, &self.host, Some(self.port)).host_port()
    }

    /// The user registered (the `Username` column).
    pub fn username(&self) -> &str {
        &self.user
    }

    /// The registration domain (`@domain` of the register line, else the host).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Granted expiry in seconds (the `Refresh` column); the requested expiry before a 200.
    pub fn refresh(&self) -> u32 {
        self.refresh
    }

    /// The expiry we ask for (raised by 423).
    pub fn expiry(&self) -> u32 {
        self.expiry
    }

    pub fn state(&self) -> RegState {
        self.state
    }

    /// chan_sip's state string (the `State` column).
    pub fn state_str(&self) -> &'static str {
        self.state.as_str()
    }

    /// When the last 200 arrived (`None` if never, or after an unregister). The caller converts
    /// it to wall-clock time for display.
    pub fn registered_at(&self) -> Option<Instant> {
        self.registered_at
    }

    /// The status code of the last final response to us.
    pub fn last_response(&self) -> Option<u16> {
        self.last_code
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Consecutive failed attempts since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::{AuthReply, DigestAuthenticator};
    use crate::sip::message::{parse, response_to};

    fn registration() -> Registration {
        Registration {
            peer: None,
            transport: Transport::Udp,
            user: "alice".into(),
            domain: Some("example.com".into()),
            domain_port: None,
            secret: Some("pw".into()),
            authuser: None,
            host: "sip.example.net".into(),
            port: Some(5080),
            contact: "1234".into(),
            expiry: None,
            loc: Location::new("sip.conf", 1, 1),
        }
    }

    fn params() -> RegClientParams {
        RegClientParams {
            contact_host: "192.0.2.10".into(),
            contact_port: 5060,
            ..RegClientParams::default()
        }
    }

    fn client() -> RegClient {
        RegClient::new(&registration(), params())
    }

    /// A registrar answering like Asterisk with `DigestAuthenticator` (user alice, secret pw).
    struct FakeRegistrar {
        auth: DigestAuthenticator,
        proxy: bool,
    }

    impl FakeRegistrar {
        fn new(t0: Instant) -> Self {
            FakeRegistrar {
                auth: DigestAuthenticator::new("example.com", b"k", t0),
                proxy: false,
            }
        }

        fn answer(&mut self, req: &SipMessage, now: Instant) -> SipMessage {
            // Round-trip through the wire format.
            let req = parse(&req.to_bytes()).expect("parse");
            let SipMessage::Request { uri, .. } = &req else {
                panic!("not a request")
            };
            let method = if self.proxy { "INVITE" } else { "REGISTER" };
            let hdr = if self.proxy {
                "Proxy-Authorization"
            } else {
                "Authorization"
            };
            let reply = self.auth.authenticate(
                method,
                &uri.to_string(),
                req.header(hdr),
                |u| (u == "alice").then_some(Secret::Plain("pw")),
                true,
                now,
            );
            let (code, reason) = reply.status();
            let mut resp = response_to(&req, code, reason, Some("srv")).expect("resp");
            match reply {
                AuthReply::Challenge { header, value, .. } => {
                    resp.headers_mut().push(header, value);
                }
                AuthReply::Accept => {
                    let c = req.header("Contact").expect("contact").to_string();
                    let e = req.expires().expect("expires");
                    resp.headers_mut()
                        .push("Contact", format!("{c};expires={e}"));
                }
                _ => {}
            }
            parse(&resp.to_bytes()).expect("parse resp")
        }
    }

    fn code(m: &SipMessage) -> u16 {
        match m {
            SipMessage::Response { code, .. } => *code,
            SipMessage::Request { .. } => 0,
        }
    }

    fn reply(req: &SipMessage, code: u16, extra: &[(&str, &str)]) -> SipMessage {
        let mut r = response_to(req, code, "X", Some("srv")).expect("resp");
        for (n, v) in extra {
            r.headers_mut().push(n, *v);
        }
        r
    }

    #[test]
    fn request_shape() {
        let t0 = Instant::now();
        let mut c = client();
        assert_eq!(c.poll_request(t0), None);
        c.start(t0);
        assert_eq!(c.poll_timeout(), Some(t0));
        let r1 = c.poll_request(t0).expect("req");
        assert_eq!(c.state_str(), "Request Sent");
        assert_eq!(c.poll_request(t0), None, "one at a time");
        let text = String::from_utf8(r1.to_bytes()).expect("utf8");
        assert!(
            text.starts_with("REGISTER sip:example.com SIP/2.0\r\n"),
            "{text}"
        );
        let via = r1.top_via().expect("via");
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.host, "192.0.2.10");
        assert!(via.branch.as_deref().expect("b").starts_with("z9hG4bK"));
        assert_eq!(r1.max_forwards(), Some(70));
        assert_eq!(r1.expires(), Some(120));
        assert_eq!(r1.header("Contact"), Some("<sip:1234@192.0.2.10:5060>"));
        assert_eq!(r1.header("To"), Some("<sip:alice@example.com>"));
        assert_eq!(
            r1.from().expect("from").uri.to_string(),
            "sip:alice@example.com"
        );
        assert_eq!(r1.header("User-Agent"), Some("ferrisk"));
        assert_eq!(c.destination(), ("sip.example.net", 5080));
        assert_eq!(c.host_port(), "sip.example.net:5080");
        assert_eq!(c.domain(), "example.com");
        assert_eq!(c.username(), "alice");
        assert_eq!(c.refresh(), 120);
        assert!(parse(&r1.to_bytes()).is_ok());

        // Next request: same Call-ID and From tag, new branch, CSeq + 1.
        c.handle_timeout(t0);
        let r2 = c.poll_request(t0 + Duration::from_secs(20)).expect("retry");
        assert_eq!(r1.call_id(), r2.call_id());
        assert_eq!(
            r1.from().and_then(|f| f.tag().map(str::to_owned)),
            r2.from().and_then(|f| f.tag().map(str::to_owned))
        );
        assert_ne!(
            r1.top_via().and_then(|v| v.branch),
            r2.top_via().and_then(|v| v.branch)
        );
        assert_eq!(r2.cseq(), Some((2, Method::Register)));
    }

    #[test]
    fn host_only_registration_uses_host_for_uri_and_aor() {
        let mut reg = registration();
        reg.domain = None;
        reg.port = None;
        let mut c = RegClient::new(&reg, params());
        c.start(Instant::now());
        let r = c.poll_request(Instant::now()).expect("req");
        let SipMessage::Request { uri, .. } = &r else {
            panic!()
        };
        assert_eq!(uri.to_string(), "sip:sip.example.net");
        assert_eq!(r.header("To"), Some("<sip:alice@sip.example.net>"));
        assert_eq!(c.destination(), ("sip.example.net", 5060));
    }

    #[test]
    fn full_flow_with_digest_and_refresh() {
        let t0 = Instant::now();
        let mut srv = FakeRegistrar::new(t0);
        let mut c = client();
        c.start(t0);
        let r1 = c.poll_request(t0).expect("r1");
        let resp = srv.answer(&r1, t0);
        assert_eq!(code(&resp), 401);
        assert!(c.handle_response(&resp, t0));
        let r2 = c.poll_request(t0).expect("auth req");
        assert_eq!(c.state_str(), "Auth. Sent");
        assert!(r2.header("Authorization").is_some());
        let resp = srv.answer(&r2, t0);
        assert_eq!(code(&resp), 200);
        assert!(c.handle_response(&resp, t0));
        assert_eq!(c.state(), RegState::Registered);
        assert_eq!(c.registered_at(), Some(t0));
        assert_eq!(c.refresh(), 120);
        // Refresh at 120 − 15 s.
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(105)));
        assert_eq!(c.poll_request(t0 + Duration::from_secs(104)), None);
        let t1 = t0 + Duration::from_secs(105);
        let r3 = c.poll_request(t1).expect("refresh");
        // Pre-emptive credentials with the cached nonce, nc 2 (nonce still fresh at the server?
        // its lifetime is 30 s, so it answers stale → re-challenge → accepted).
        let creds = r3.authorization(false).expect("hdr").expect("creds");
        assert_eq!(creds.nc, Some(2));
        let resp = srv.answer(&r3, t1);
        assert_eq!(code(&resp), 401);
        assert!(resp
            .header("WWW-Authenticate")
            .expect("ch")
            .contains("stale=true"));
        assert!(c.handle_response(&resp, t1));
        let r4 = c.poll_request(t1).expect("answer stale");
        let creds = r4.authorization(false).expect("hdr").expect("creds");
        assert_eq!(creds.nc, Some(1));
        let resp = srv.answer(&r4, t1);
        assert_eq!(code(&resp), 200);
        assert!(c.handle_response(&resp, t1));
        assert_eq!(c.state_str(), "Registered");
        assert_eq!(c.registered_at(), Some(t1));
    }

    #[test]
    fn refresh_uses_cached_nonce_within_lifetime() {
        let t0 = Instant::now();
        let mut srv = FakeRegistrar::new(t0);
        let mut reg = registration();
        reg.expiry = Some(20);
        let mut c = RegClient::new(&reg, params());
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        c.handle_response(&srv.answer(&r, t0), t0);
        let r = c.poll_request(t0).expect("r");
        assert!(c.handle_response(&srv.answer(&r, t0), t0));
        assert_eq!(c.refresh(), 20);
        // 20 s ≤ 30 s: margin max(20 %, 0.5 s) = 4 s.
        let t1 = t0 + Duration::from_secs(16);
        assert_eq!(c.poll_timeout(), Some(t1));
        let r = c.poll_request(t1).expect("refresh");
        let resp = srv.answer(&r, t1);
        assert_eq!(code(&resp), 200, "pre-emptive auth accepted");
        assert!(c.handle_response(&resp, t1));
        assert_eq!(c.state(), RegState::Registered);
    }

    #[test]
    fn refresh_delay_rule() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(3585));
        assert_eq!(refresh_delay(31), Duration::from_secs(16));
        assert_eq!(refresh_delay(30), Duration::from_secs(24));
        assert_eq!(refresh_delay(2), Duration::from_millis(1500));
        assert_eq!(refresh_delay(0), Duration::ZERO);
    }

    #[test]
    fn granted_expiry_sources() {
        let t0 = Instant::now();
        // Contact param matching ours wins over Expires.
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        let resp = reply(
            &r,
            200,
            &[
                ("Contact", "<sip:other@198.51.100.1>;expires=999"),
                ("Contact", "<sip:1234@192.0.2.10>;expires=600"),
                ("Expires", "300"),
            ],
        );
        assert!(c.handle_response(&resp, t0));
        assert_eq!(c.refresh(), 600);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(585)));
        // Expires header next.
        let t1 = t0 + Duration::from_secs(585);
        let r = c.poll_request(t1).expect("r");
        assert!(c.handle_response(&reply(&r, 200, &[("Expires", "300")]), t1));
        assert_eq!(c.refresh(), 300);
        // Neither: ours.
        let t2 = t1 + Duration::from_secs(285);
        let r = c.poll_request(t2).expect("r");
        assert!(c.handle_response(&reply(&r, 200, &[]), t2));
        assert_eq!(c.refresh(), 120);
    }

    #[test]
    fn interval_too_brief() {
        let t0 = Instant::now();
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        assert!(c.handle_response(&reply(&r, 423, &[("Min-Expires", "300")]), t0));
        let r = c.poll_request(t0).expect("at once");
        assert_eq!(r.expires(), Some(300));
        assert_eq!(c.expiry(), 300);
        assert!(c.handle_response(&reply(&r, 200, &[]), t0));
        assert_eq!(c.refresh(), 300);
        // A 423 that does not raise the expiry is a rejection.
        let t1 = t0 + Duration::from_secs(285);
        let r = c.poll_request(t1).expect("r");
        assert!(c.handle_response(&reply(&r, 423, &[("Min-Expires", "300")]), t1));
        assert_eq!(c.state_str(), "Rejected");
        assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(20)));
        // One above MAX_EXPIRY too.
        let t2 = c.poll_timeout().expect("retry");
        let r = c.poll_request(t2).expect("r");
        assert!(c.handle_response(&reply(&r, 423, &[("Min-Expires", "7200")]), t2));
        assert_eq!(c.state(), RegState::Rejected);
        assert_eq!(c.expiry(), 300);
        // Missing Min-Expires too.
        let t3 = c.poll_timeout().expect("retry");
        let r = c.poll_request(t3).expect("r");
        assert!(c.handle_response(&reply(&r, 423, &[]), t3));
        assert_eq!(c.state(), RegState::Rejected);
    }

    #[test]
    fn forbidden_and_wrong_password() {
        let t0 = Instant::now();
        let mut srv = FakeRegistrar::new(t0);
        let mut reg = registration();
        reg.secret = Some("wrong".into());
        let mut c = RegClient::new(&reg, params());
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        c.handle_response(&srv.answer(&r, t0), t0);
        let r = c.poll_request(t0).expect("auth");
        let resp = srv.answer(&r, t0);
        assert_eq!(code(&resp), 403);
        assert!(c.handle_response(&resp, t0));
        assert_eq!(c.state_str(), "No Authentication");
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        // The retry starts without credentials (challenge forgotten).
        let r = c.poll_request(t0 + Duration::from_secs(20)).expect("retry");
        assert!(r.header("Authorization").is_none());

        // 404 → Rejected.
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        assert!(c.handle_response(&reply(&r, 404, &[]), t0));
        assert_eq!(c.state_str(), "Rejected");
    }

    #[test]
    fn same_nonce_rechallenge_is_auth_failure_and_stale_is_answered() {
        let t0 = Instant::now();
        let ch = "Digest realm=\"x\", nonce=\"n1\", qop=\"auth\"";
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", ch)]), t0));
        let r = c.poll_request(t0).expect("auth");
        let cr = r.authorization(false).expect("h").expect("c");
        assert_eq!((cr.nonce.as_str(), cr.nc), ("n1", Some(1)));
        // Same nonce, stale → answer again, nc counts on.
        let stale = "Digest realm=\"x\", nonce=\"n1\", qop=\"auth\", stale=true";
        assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", stale)]), t0));
        let r = c.poll_request(t0).expect("auth again");
        assert_eq!(r.authorization(false).expect("h").expect("c").nc, Some(2));
        // Same nonce, not stale → wrong credentials.
        assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", ch)]), t0));
        assert_eq!(c.state(), RegState::NoAuth);
        assert_eq!(c.poll_request(t0), None);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    }

    #[test]
    fn new_nonce_each_time_gives_up_after_max_tries() {
        let t0 = Instant::now();
        let mut c = client();
        c.start(t0);
        let mut r = c.poll_request(t0).expect("r");
        for i in 0..MAX_AUTH_TRIES {
            let ch = format!("Digest realm=\"x\", nonce=\"n{i}\"");
            assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", &ch)]), t0));
            r = c.poll_request(t0).expect("answered");
            assert_eq!(c.state(), RegState::AuthSent);
        }
        let ch = "Digest realm=\"x\", nonce=\"last\"";
        assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", ch)]), t0));
        assert_eq!(c.state(), RegState::NoAuth);
    }

    #[test]
    fn no_secret_means_no_authentication() {
        let t0 = Instant::now();
        let mut reg = registration();
        reg.secret = None;
        let mut c = RegClient::new(&reg, params());
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        let ch = "Digest realm=\"x\", nonce=\"n\"";
        assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", ch)]), t0));
        assert_eq!(c.state_str(), "No Authentication");
        // Garbage challenge: same.
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        assert!(c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", "Basic x")]), t0));
        assert_eq!(c.state(), RegState::NoAuth);
    }

    #[test]
    fn proxy_challenge_and_authuser() {
        let t0 = Instant::now();
        let mut srv = FakeRegistrar::new(t0);
        srv.proxy = true;
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        // A 407 from the fake (it challenges as for INVITE): answer with Proxy-Authorization.
        let resp = srv.answer(&r, t0);
        assert_eq!(code(&resp), 407);
        assert!(c.handle_response(&resp, t0));
        let r = c.poll_request(t0).expect("auth");
        assert!(r.header("Authorization").is_none());
        let creds = r.authorization(true).expect("h").expect("c");
        assert_eq!(creds.username, "alice");
        // Verify the digest as REGISTER (the fake's INVITE method is only to get a 407).
        let SipMessage::Request { uri, .. } = &r else {
            panic!()
        };
        let v = srv.auth.verify(
            "REGISTER",
            &uri.to_string(),
            &creds,
            Some(Secret::Plain("pw")),
            t0,
        );
        assert_eq!(v, crate::sip::auth::AuthOutcome::Ok);

        // authuser is the digest username.
        let mut reg = registration();
        reg.authuser = Some("auth7".into());
        let mut c = RegClient::new(&reg, params());
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        let ch = "Digest realm=\"x\", nonce=\"n\"";
        c.handle_response(&reply(&r, 401, &[("WWW-Authenticate", ch)]), t0);
        let r = c.poll_request(t0).expect("auth");
        let creds = r.authorization(false).expect("h").expect("c");
        assert_eq!(creds.username, "auth7");
    }

    #[test]
    fn timeout_and_failure_backoff() {
        let t0 = Instant::now();
        let mut c = client();
        c.start(t0);
        let mut now = t0;
        let mut expect = Vec::new();
        for _ in 0..7 {
            assert!(c.poll_request(now).is_some());
            c.handle_timeout(now);
            assert_eq!(c.state_str(), "Timeout");
            let next = c.poll_timeout().expect("retry");
            expect.push(next - now);
            now = next;
        }
        let secs: Vec<u64> = expect.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![20, 40, 80, 160, 320, 600, 600]);
        // A 5xx continues the backoff with state Failed; a 200 resets it.
        let r = c.poll_request(now).expect("r");
        assert!(c.handle_response(&reply(&r, 503, &[]), now));
        assert_eq!(c.state_str(), "Failed");
        assert_eq!(c.poll_timeout(), Some(now + MAX_BACKOFF));
        now += MAX_BACKOFF;
        let r = c.poll_request(now).expect("r");
        assert!(c.handle_response(&reply(&r, 200, &[]), now));
        assert_eq!(c.failures(), 0);
        now += Duration::from_secs(105);
        let _ = c.poll_request(now).expect("refresh");
        c.handle_timeout(now);
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(20)));
    }

    #[test]
    fn register_attempts_limit() {
        let t0 = Instant::now();
        let p = RegClientParams {
            register_attempts: 2,
            ..params()
        };
        let mut c = RegClient::new(&registration(), p);
        c.start(t0);
        assert!(c.poll_request(t0).is_some());
        c.handle_timeout(t0);
        let t1 = c.poll_timeout().expect("retry");
        assert!(c.poll_request(t1).is_some());
        c.handle_timeout(t1);
        assert_eq!(c.state_str(), "Failed");
        assert_eq!(c.poll_timeout(), None);
        // start() revives it.
        c.start(t1);
        assert!(c.poll_request(t1).is_some());
    }

    #[test]
    fn unrelated_responses_are_ignored() {
        let t0 = Instant::now();
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        assert!(!c.handle_response(&reply(&r, 100, &[]), t0));
        let mut other = reply(&r, 200, &[]);
        other.headers_mut().set("CSeq", "99 REGISTER");
        assert!(!c.handle_response(&other, t0));
        let mut other = reply(&r, 200, &[]);
        other.headers_mut().set("Call-ID", "nope");
        assert!(!c.handle_response(&other, t0));
        assert!(!c.handle_response(&r, t0), "a request");
        assert_eq!(c.state(), RegState::RequestSent);
        assert!(c.handle_response(&reply(&r, 200, &[]), t0));
        assert!(!c.handle_response(&reply(&r, 200, &[]), t0), "duplicate");
    }

    #[test]
    fn unregister() {
        let t0 = Instant::now();
        let mut srv = FakeRegistrar::new(t0);
        let mut c = client();
        // Never registered: nothing to send.
        assert!(!c.stop(t0));
        assert_eq!(c.poll_request(t0), None);
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        c.handle_response(&srv.answer(&r, t0), t0);
        let r = c.poll_request(t0).expect("r");
        assert!(c.handle_response(&srv.answer(&r, t0), t0));
        assert_eq!(c.state(), RegState::Registered);
        let t1 = t0 + Duration::from_secs(40);
        assert!(c.stop(t1));
        let u = c.poll_request(t1).expect("unregister");
        assert_eq!(u.expires(), Some(0));
        // Stale nonce at the server → challenge answered, then 200.
        let resp = srv.answer(&u, t1);
        assert_eq!(code(&resp), 401);
        assert!(c.handle_response(&resp, t1));
        let u2 = c.poll_request(t1).expect("unregister with auth");
        assert_eq!(u2.expires(), Some(0));
        let resp = srv.answer(&u2, t1);
        assert_eq!(code(&resp), 200);
        assert!(c.handle_response(&resp, t1));
        assert_eq!(c.state_str(), "Unregistered");
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.registered_at(), None);

        // Unregister that times out: done anyway, no retry.
        let mut c = client();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        c.handle_response(&reply(&r, 200, &[]), t0);
        assert!(c.stop(t0));
        assert!(c.poll_request(t0).is_some());
        c.handle_timeout(t0);
        assert_eq!(c.state(), RegState::Unregistered);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn tcp_contact_and_via() {
        let mut reg = registration();
        reg.transport = Transport::Tcp;
        let mut c = RegClient::new(&reg, params());
        let t0 = Instant::now();
        c.start(t0);
        let r = c.poll_request(t0).expect("r");
        assert_eq!(r.top_via().expect("via").transport, "TCP");
        assert_eq!(
            r.header("Contact"),
            Some("<sip:1234@192.0.2.10:5060;transport=tcp>")
        );
        // The 200's Contact (with transport param) still matches ours.
        let resp = reply(
            &r,
            200,
            &[(
                "Contact",
                "<sip:1234@192.0.2.10:5060;transport=tcp>;expires=77",
            )],
        );
        assert!(c.handle_response(&resp, t0));
        assert_eq!(c.refresh(), 77);
    }
}
