//! Typed `sip.conf` (chan_sip syntax) for the SIP driver.
//!
//! The shared loader ([`crate::config`]) reads the file, expands includes and applies
//! templates; this module gives the entries their chan_sip meaning:
//!
//! * `[general]` → [`SipGeneral`] (bind addresses, registrar limits, NAT, MESSAGE options,
//!   `register =>` lines → [`Registration`]) plus the peer defaults chan_sip takes from
//!   `[general]`: `context`, `nat`, `allow`/`disallow`, `dtmfmode`, `language`,
//!   `accountcode`, `qualify`, `outofcall_message_context`, `encryption`.
//! * every other non-template section with a `type` → [`Peer`]. As in chan_sip, a section
//!   without `type` is skipped with a warning ("Section 'x' lacks type"); there is no
//!   default type. `[authentication]` (chan_sip's realm-auth section) is skipped too.
//!
//! Unknown options are warnings with their location (Asterisk admins' files carry many
//! chan_sip options ferrisk does not implement); values that cannot be understood are
//! [`ConfigError`]s that say what was expected. All errors are collected, not just the first.
//!
//! Deliberate choices where chan_sip is loose:
//! * `nat=yes` means `force_rport,comedia` and `nat=route` means `force_rport` (both with a
//!   deprecation warning), `nat=never` means `no`.
//! * `insecure=yes`/`very` mean `port,invite`; `insecure=no` clears both.
//! * `qualify=yes` means 2000 ms (chan_sip's DEFAULT_MAXMS), `qualify=0`/`no` is off.
//! * codecs: `allow` appends codecs not yet in the list (an already listed codec keeps its
//!   place), `disallow` removes, `all` means every known audio codec; `!codec` in `allow`
//!   disallows it; `codec:ms` framing suffixes are accepted and dropped. Unknown codec names
//!   are warnings, as in Asterisk.
//! * `register => 3456@mydomain:5082::@host` — a `user@domain` followed by exactly three
//!   colon fields is read as `domain:port:secret:authuser`.

use crate::config::{is_false, is_true, ConfigError, ConfigFile, Entry, LoadOptions, Location};
pub use crate::sip::regclient::{Registration, Transport};
pub use crate::sip::tls::{TlsClientMethod, TlsSettings};
use indexmap::IndexMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

/// Default codec preference of chan_sip's `[general]` (ulaw, alaw, gsm, h263).
pub const DEFAULT_CODECS: &[&str] = &["ulaw", "alaw", "gsm", "h263"];

/// Audio codecs `allow=all` adds, in Asterisk's order.
const AUDIO_CODECS: &[&str] = &[
    "g723", "gsm", "ulaw", "alaw", "g726", "adpcm", "slin", "lpc10", "g729", "speex", "ilbc",
    "g726aal2", "g722", "siren7", "siren14", "slin16", "g719", "speex16", "speex32", "opus",
    "testlaw",
];
/// Other media formats Asterisk knows by name (accepted in `allow`, not part of `all`).
const OTHER_CODECS: &[&str] = &[
    "h261", "h263", "h263p", "h264", "h265", "mpeg4", "vp8", "vp9", "jpeg", "png", "t140",
    "t140red", "red", "silk", "celt", "slin12", "slin24", "slin32", "slin44", "slin48", "slin96",
    "slin192",
];

/// chan_sip's DEFAULT_MAXMS: what `qualify=yes` means.
pub const DEFAULT_QUALIFY_MS: u32 = 2000;

/// The whole `sip.conf`.
#[derive(Debug, Clone, PartialEq)]
pub struct SipConfig {
    pub general: SipGeneral,
    /// Peers in file order, keyed by section name.
    pub peers: IndexMap<String, Peer>,
    pub registrations: Vec<Registration>,
}

impl SipConfig {
    /// A peer by name, case-insensitively (chan_sip hashes peer names case-insensitively).
    pub fn peer(&self, name: &str) -> Option<&Peer> {
        self.peers.get(name).or_else(|| {
            self.peers
                .values()
                .find(|p| p.name.eq_ignore_ascii_case(name))
        })
    }
}

/// `nat=` flags (chan_sip 11+ semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nat {
    pub force_rport: bool,
    pub comedia: bool,
    pub auto_force_rport: bool,
    pub auto_comedia: bool,
}

impl Default for Nat {
    /// chan_sip's default: `auto_force_rport`.
    fn default() -> Self {
        Nat {
            force_rport: false,
            comedia: false,
            auto_force_rport: true,
            auto_comedia: false,
        }
    }
}

impl Nat {
    pub const NO: Nat = Nat {
        force_rport: false,
        comedia: false,
        auto_force_rport: false,
        auto_comedia: false,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfMode {
    #[default]
    Rfc2833,
    Info,
    ShortInfo,
    Inband,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerType {
    /// Matched by user name for inbound calls and usable for outbound calls.
    Friend,
    /// Matched by source IP/port; used for outbound calls.
    Peer,
    /// Matched by user name for inbound calls only.
    User,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `host=dynamic`: the address comes from REGISTER.
    Dynamic,
    Ip(IpAddr),
    /// A host name, resolved when used.
    Name(String),
}

/// `qualify=`: off, or the maximum round trip in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Qualify {
    #[default]
    Off,
    MaxMs(u32),
}

/// `insecure=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insecure {
    /// Match the peer by IP address regardless of port.
    pub port: bool,
    /// Do not challenge INVITEs from this peer.
    pub invite: bool,
}

/// An address with a mask (`ip/mask` or `ip/prefix`; a bare IP is a host rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub mask: IpAddr,
}

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            _ => ip,
        };
        let m = ip_bits(self.mask);
        ip_bits(ip) & m == ip_bits(self.addr) & m
    }

    /// Parse `ip`, `ip/prefix` or `ip/mask`; `Err` says what was expected.
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        let (a, m) = match s.split_once('/') {
            Some((a, m)) => (a.trim(), Some(m.trim())),
            None => (s, None),
        };
        let a = a.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("expected an IP address in '{s}', got '{a}'"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let mask = match m {
            None => prefix_mask(addr, max),
            Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
                match m.parse::<u32>() {
                    Ok(p) if p <= max => prefix_mask(addr, p),
                    _ => return Err(format!("prefix length in '{s}' must be 0..{max}")),
                }
            }
            Some(m) => {
                let mask: IpAddr = m
                    .parse()
                    .map_err(|_| format!("expected a mask (ip/mask or ip/prefix) in '{s}'"))?;
                if mask.is_ipv4() != addr.is_ipv4() {
                    return Err(format!("address and mask families differ in '{s}'"));
                }
                mask
            }
        };
        Ok(IpNet { addr, mask })
    }
}

fn prefix_mask(addr: IpAddr, prefix: u32) -> IpAddr {
    match addr {
        IpAddr::V4(_) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4(Ipv4Addr::from(m))
        }
        IpAddr::V6(_) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6(m.into())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclSense {
    Permit,
    Deny,
}

/// One `permit=`/`deny=` line; `negate` is Asterisk's `!ip/mask` (matches addresses outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclRule {
    pub sense: AclSense,
    pub net: IpNet,
    pub negate: bool,
}

impl AclRule {
    /// One item of a `permit=`/`deny=` value: `ip[/mask]` or `!ip[/mask]`.
    pub fn parse(permit: bool, item: &str) -> Result<AclRule, String> {
        let (negate, net) = match item.trim().strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, item.trim()),
        };
        Ok(AclRule {
            sense: if permit {
                AclSense::Permit
            } else {
                AclSense::Deny
            },
            net: IpNet::parse(net)?,
            negate,
        })
    }

    /// Asterisk's `ast_apply_ha`: every rule is checked in order, the last matching one
    /// decides; no rule matching means allowed.
    pub fn apply(rules: &[AclRule], ip: IpAddr) -> bool {
        let mut ok = true;
        for r in rules {
            if r.net.contains(ip) != r.negate {
                ok = r.sense == AclSense::Permit;
            }
        }
        ok
    }
}

/// `callerid="Name" <number>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerId {
    pub name: Option<String>,
    pub number: Option<String>,
}

impl CallerId {
    /// Asterisk's `ast_callerid_parse`: `"Name" <num>`, `Name <num>`, `<num>`, `num`, `Name`.
    pub fn parse(s: &str) -> CallerId {
        let s = s.trim();
        let nonempty = |x: &str| {
            let x = x.trim().trim_matches('"').trim();
            (!x.is_empty()).then(|| x.to_string())
        };
        if let Some(lt) = s.rfind('<') {
            if let Some(gt) = s[lt..].find('>') {
                return CallerId {
                    name: nonempty(&s[..lt]),
                    number: nonempty(&s[lt + 1..lt + gt]),
                };
            }
        }
        let is_number = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || "+*#-() .".contains(c));
        if is_number {
            CallerId {
                name: None,
                number: Some(s.to_string()),
            }
        } else {
            CallerId {
                name: nonempty(s),
                number: None,
            }
        }
    }
}

/// One `mailbox=` entry, `box[@context]` (context defaults to `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub mailbox: String,
    pub context: String,
}

/// `host[:port]` of `externaddr`/`externip` (a name is resolved later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternAddr {
    pub host: String,
    pub port: Option<u16>,
}

/// chan_sip's STANDARD_TLS_PORT.
pub const TLS_PORT: u16 = 5061;

/// `transport=udp|tcp|tls` or a list (`tls,udp`): every transport named, in order, each once.
/// The first is used for requests we send. An empty list is an error.
pub fn parse_transports(v: &str) -> Result<Vec<Transport>, String> {
    let mut out = Vec::new();
    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let t = match t.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => {
                return Err(format!(
                    "unknown transport '{t}' (expected udp, tcp or tls, or a list like tls,udp)"
                ))
            }
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err("expected udp, tcp or tls, or a list like tls,udp".into());
    }
    Ok(out)
}

/// `tlsclientmethod`: `Ok` with an optional warning for methods rustls cannot do.
fn parse_tls_method(v: &str) -> (TlsClientMethod, Option<String>) {
    match v.trim().to_ascii_lowercase().as_str() {
        "sslv23" | "" => (TlsClientMethod::Flexible, None),
        "tlsv1_2" | "tlsv1.2" => (TlsClientMethod::Tls12, None),
        "tlsv1_3" | "tlsv1.3" => (TlsClientMethod::Tls13, None),
        m @ ("tlsv1" | "tlsv1_1" | "tlsv1.1" | "sslv3" | "sslv2") => (
            TlsClientMethod::Flexible,
            Some(format!(
                "tlsclientmethod={m} is not available (only TLS 1.2 and 1.3 are supported); using sslv23 (TLS 1.2 or newer)"
            )),
        ),
        m => (
            TlsClientMethod::Flexible,
            Some(format!(
                "unknown tlsclientmethod '{m}' (expected sslv23, tlsv1_2 or tlsv1_3); using sslv23"
            )),
        ),
    }
}

/// A `domain=domain[,context]` line of `[general]`: a SIP domain this server serves and
/// the context guest calls to it go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipDomain {
    pub domain: String,
    pub context: Option<String>,
}

/// `[general]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SipGeneral {
    /// `domain=` lines, in file order.
    pub domains: Vec<SipDomain>,
    /// `autodomain` (no): also serve our own addresses and host name.
    pub autodomain: bool,
    /// `allowexternaldomains` (yes): accept INVITE and REFER to domains not listed.
    pub allowexternaldomains: bool,
    /// UDP listen address: `udpbindaddr`, else `bindaddr`, with `bindport` when no port given.
    pub udpbindaddr: SocketAddr,
    pub bindport: u16,
    pub tcpenable: bool,
    /// TCP listen address: `tcpbindaddr`, else the UDP address.
    pub tcpbindaddr: SocketAddr,
    /// The `tls*` options (listener and outbound connections).
    pub tls: TlsSettings,
    /// `transport=` in `[general]`: the peers' default transports, the first for requests
    /// we send.
    pub transports: Vec<Transport>,
    pub context: String,
    pub allowguest: bool,
    pub alwaysauthreject: bool,
    pub realm: String,
    pub useragent: String,
    pub defaultexpiry: u32,
    pub minexpiry: u32,
    pub maxexpiry: u32,
    pub externaddr: Option<ExternAddr>,
    pub localnet: Vec<IpNet>,
    pub nat: Nat,
    pub qualifyfreq: u32,
    /// `rtupdate` (yes): write a realtime peer's registration back (ipaddr, port,
    /// regseconds, useragent, fullcontact).
    pub rtupdate: bool,
    /// `rtsavesysname` (no): also write `regserver` = the system name.
    pub rtsavesysname: bool,
    /// `rtcachefriends` (no): keep realtime peers in memory (listed by `sip show peers` as
    /// "Cached RT") until pruned; without it every request of a realtime peer reads storage.
    pub rtcachefriends: bool,
    /// `ignoreregexpire` (no): use the registration a realtime row carries even when it has
    /// expired.
    pub ignoreregexpire: bool,
    /// `rtautoclear` (off): forget a cached realtime peer this many seconds after it was
    /// loaded (`yes` = 120), or when its registration expires.
    pub rtautoclear: Option<u32>,
    /// `registertimeout`: seconds before a failed outbound registration is retried (20).
    pub registertimeout: u32,
    /// `registerattempts`: give up after this many failures in a row (0 = never).
    pub registerattempts: u32,
    pub accept_outofcall_message: bool,
    pub outofcall_message_context: Option<String>,
    pub auth_message_requests: bool,
    /// ferrisk: at most this many contacts per AOR (the next REGISTER is refused).
    pub max_contacts_per_aor: u32,
    /// ferrisk: at most this many REGISTERs per second per AOR (503 + Retry-After).
    pub max_registers_per_second: u32,
    /// ferrisk: failed digest attempts from one address before it is locked out (0: off).
    pub auth_failures_per_source: u32,
    /// ferrisk: failed digest attempts for one account (any address) before only the
    /// addresses that logged in as it before may try (0: off).
    pub auth_failures_per_account: u32,
    /// ferrisk: first lockout, seconds (doubles with each further failure).
    pub auth_lockout: u32,
    /// ferrisk: longest lockout, seconds.
    pub auth_lockout_max: u32,
    /// ferrisk: MiB of messages live transactions may hold; beyond it new requests get
    /// `503` with `Retry-After`.
    pub transaction_memory: u32,
    /// ferrisk: MiB of answered requests kept to absorb retransmissions; beyond it the
    /// oldest are forgotten early.
    pub retransmission_memory: u32,
    // Peer defaults.
    pub codecs: Vec<String>,
    pub dtmfmode: DtmfMode,
    pub language: Option<String>,
    pub accountcode: Option<String>,
    pub qualify: Qualify,
    /// `rtptimeout`: hang up after this many seconds without RTP (0: never).
    pub rtptimeout: u32,
    /// `rtpholdtimeout`: the same while the call is on hold.
    pub rtpholdtimeout: u32,
    /// `vmexten`: the user part of `Message-Account` in MWI NOTIFYs (`asterisk`).
    pub vmexten: String,
    /// `allowsubscribe`: accept SUBSCRIBE at all (yes).
    pub allowsubscribe: bool,
    /// `subminexpiry` / `submaxexpiry`: bounds of a subscription's Expires (60, 3600).
    pub subminexpiry: u32,
    pub submaxexpiry: u32,
    /// Defaults of `promiscredir`, `sendrpid`, `trustrpid`, `send_diversion`.
    pub party: PartyOpts,
    /// `srvlookup` (yes): look up `_sip._udp` SRV records of a peer's host name and try
    /// its targets in order.
    pub srvlookup: bool,
    /// Session timer defaults of peers.
    pub session: SessionTimers,
    /// `outboundproxy`: requests to peers without their own (and to hosts dialed
    /// directly) go there.
    pub outboundproxy: Option<OutboundProxy>,
    /// ferrisk: `dnsservers`, the name servers (`ip[:port]`, comma-separated) asked for SRV
    /// and A records instead of `/etc/resolv.conf`'s and the system resolver.
    pub dnsservers: Vec<SocketAddr>,
    /// `encryption` (no): peers offer SRTP (`RTP/SAVP`, SDES keys) and refuse plain RTP.
    pub encryption: bool,
}

impl Default for SipGeneral {
    fn default() -> Self {
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060);
        SipGeneral {
            udpbindaddr: any,
            bindport: 5060,
            tcpenable: false,
            tcpbindaddr: any,
            tls: TlsSettings::default(),
            transports: vec![Transport::Udp],
            context: "default".into(),
            allowguest: true,
            domains: Vec::new(),
            autodomain: false,
            allowexternaldomains: true,
            alwaysauthreject: true,
            realm: "asterisk".into(),
            useragent: "ferrisk".into(),
            defaultexpiry: 120,
            minexpiry: 60,
            maxexpiry: 3600,
            externaddr: None,
            localnet: Vec::new(),
            nat: Nat::default(),
            qualifyfreq: 60,
            rtupdate: true,
            rtsavesysname: false,
            rtcachefriends: false,
            ignoreregexpire: false,
            rtautoclear: None,
            registertimeout: 20,
            registerattempts: 0,
            accept_outofcall_message: false,
            outofcall_message_context: None,
            auth_message_requests: true,
            max_contacts_per_aor: 10,
            max_registers_per_second: 5,
            auth_failures_per_source: 5,
            auth_failures_per_account: 20,
            auth_lockout: 60,
            auth_lockout_max: 3600,
            transaction_memory: 256,
            retransmission_memory: 8,
            codecs: DEFAULT_CODECS.iter().map(|s| s.to_string()).collect(),
            dtmfmode: DtmfMode::Rfc2833,
            language: None,
            accountcode: None,
            qualify: Qualify::Off,
            rtptimeout: 0,
            rtpholdtimeout: 0,
            vmexten: "asterisk".into(),
            allowsubscribe: true,
            subminexpiry: 60,
            submaxexpiry: 3600,
            party: PartyOpts::default(),
            srvlookup: true,
            session: SessionTimers::default(),
            outboundproxy: None,
            dnsservers: Vec::new(),
            encryption: false,
        }
    }
}

/// `session-timers`: when calls run RFC 4028 session timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StMode {
    /// Ask for them on our calls and run them on every call.
    Originate,
    /// Run them when the other side asks (the default).
    #[default]
    Accept,
    /// Never.
    Refuse,
}

/// Session timer settings (`session-timers`, `session-expires`, `session-minse`,
/// `session-refresher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimers {
    pub mode: StMode,
    /// Longest refresh interval, seconds (1800).
    pub expires: u32,
    /// Shortest accepted interval, seconds (90).
    pub minse: u32,
    /// `session-refresher=uac`: the caller refreshes when it can (default `uas`).
    pub refresher_uac: bool,
}

impl Default for SessionTimers {
    fn default() -> Self {
        SessionTimers {
            mode: StMode::Accept,
            expires: 1800,
            minse: 90,
            refresher_uac: false,
        }
    }
}

/// Apply a session timer option; `false` if `key` is not one.
fn session_opt(o: &mut SessionTimers, key: &str, e: &Entry, ctx: &mut Ctx) -> bool {
    let v = e.value.as_str();
    match key {
        "session-timers" => {
            let r = match v.trim().to_ascii_lowercase().as_str() {
                "originate" => Ok(StMode::Originate),
                "accept" => Ok(StMode::Accept),
                "refuse" => Ok(StMode::Refuse),
                _ => Err(format!(
                    "expected originate, accept or refuse, got '{}'",
                    v.trim()
                )),
            };
            o.mode = ctx.take(e, r).unwrap_or(o.mode);
        }
        "session-expires" => {
            let r = parse_u32(v).and_then(|n| {
                if n >= 90 {
                    Ok(n)
                } else {
                    Err(format!("session-expires must be at least 90, got {n}"))
                }
            });
            o.expires = ctx.take(e, r).unwrap_or(o.expires);
        }
        "session-minse" => {
            let r = parse_u32(v).and_then(|n| {
                if n >= 90 {
                    Ok(n)
                } else {
                    Err(format!(
                        "session-minse must be at least 90 (RFC 4028), got {n}"
                    ))
                }
            });
            o.minse = ctx.take(e, r).unwrap_or(o.minse);
        }
        "session-refresher" => {
            let r = match v.trim().to_ascii_lowercase().as_str() {
                "uac" => Ok(true),
                "uas" => Ok(false),
                _ => Err(format!("expected uac or uas, got '{}'", v.trim())),
            };
            o.refresher_uac = ctx.take(e, r).unwrap_or(o.refresher_uac);
        }
        _ => return false,
    }
    true
}

/// `outboundproxy`: where requests to a peer are sent instead of the peer's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundProxy {
    pub host: String,
    pub port: Option<u16>,
    /// `,force`: also requests inside a dialog (chan_sip ignores the route set).
    pub force: bool,
}

/// `[transport://]host[:port][,force]`.
pub fn parse_outboundproxy(v: &str) -> Result<Option<OutboundProxy>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let (rest, force) = match v.rsplit_once(',') {
        Some((r, f)) if f.trim().eq_ignore_ascii_case("force") => (r.trim(), true),
        Some(_) => return Err(format!("expected host[:port][,force], got '{v}'")),
        None => (v, false),
    };
    let rest = match rest.split_once("://") {
        Some((t, r)) => {
            if !t.eq_ignore_ascii_case("udp") {
                return Err(format!(
                    "outboundproxy transport '{t}' is not supported (only udp)"
                ));
            }
            r
        }
        None => rest,
    };
    let (host, port) = split_host_port(rest)?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("expected host[:port][,force], got '{v}'"));
    }
    Ok(Some(OutboundProxy { host, port, force }))
}

/// `sendrpid`: which header carries our caller's identity on outgoing INVITEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendRpid {
    #[default]
    No,
    /// `yes` or `rpid`: `Remote-Party-ID`.
    Rpid,
    /// `pai`: `P-Asserted-Identity`.
    Pai,
}

/// Identity and redirection options (general defaults, per peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartyOpts {
    /// `promiscredir` (no): follow a 3xx to any SIP URI (else to an extension, dialed
    /// through `Local` in the forward context).
    pub promiscredir: bool,
    /// `sendrpid` (no).
    pub sendrpid: SendRpid,
    /// `trustrpid` (no): take the caller from `P-Asserted-Identity`/`Remote-Party-ID`.
    pub trustrpid: bool,
    /// `send_diversion` (yes): send `Diversion` for redirected calls.
    pub send_diversion: bool,
    /// `allowtransfer` (yes): accept blind transfers (REFER) from the peer.
    pub allowtransfer: bool,
}

impl Default for PartyOpts {
    fn default() -> Self {
        PartyOpts {
            promiscredir: false,
            sendrpid: SendRpid::No,
            trustrpid: false,
            send_diversion: true,
            allowtransfer: true,
        }
    }
}

fn parse_sendrpid(v: &str) -> Result<SendRpid, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "pai" => Ok(SendRpid::Pai),
        "rpid" => Ok(SendRpid::Rpid),
        x => match parse_bool(x) {
            Ok(true) => Ok(SendRpid::Rpid),
            Ok(false) => Ok(SendRpid::No),
            Err(_) => Err(format!("expected yes, no, rpid or pai, got '{}'", v.trim())),
        },
    }
}

/// Apply an identity/redirection option; `false` if `key` is not one.
fn party_opt(o: &mut PartyOpts, key: &str, e: &Entry, ctx: &mut Ctx) -> bool {
    let v = e.value.as_str();
    match key {
        "promiscredir" => o.promiscredir = ctx.take(e, parse_bool(v)).unwrap_or(o.promiscredir),
        "sendrpid" => o.sendrpid = ctx.take(e, parse_sendrpid(v)).unwrap_or(o.sendrpid),
        "trustrpid" => o.trustrpid = ctx.take(e, parse_bool(v)).unwrap_or(o.trustrpid),
        "send_diversion" => {
            o.send_diversion = ctx.take(e, parse_bool(v)).unwrap_or(o.send_diversion)
        }
        "allowtransfer" => o.allowtransfer = ctx.take(e, parse_bool(v)).unwrap_or(o.allowtransfer),
        _ => return false,
    }
    true
}

/// A peer/user/friend section.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub name: String,
    pub loc: Location,
    /// Loaded from realtime (`sippeers`), not from sip.conf (`sip show peers`: Cached RT).
    pub realtime: bool,
    pub kind: PeerType,
    pub host: Host,
    pub port: Option<u16>,
    pub secret: Option<String>,
    pub md5secret: Option<String>,
    pub remotesecret: Option<String>,
    /// `defaultuser` (or the deprecated `username`).
    pub defaultuser: Option<String>,
    pub fromuser: Option<String>,
    pub fromdomain: Option<String>,
    pub context: String,
    /// The peer has a `context=` line of its own (or its template's): a `domain=` context
    /// does not replace it.
    pub has_context: bool,
    pub callerid: Option<CallerId>,
    pub mailboxes: Vec<Mailbox>,
    pub qualify: Qualify,
    pub insecure: Insecure,
    /// `permit`/`deny` in file order (templates' first).
    pub acl: Vec<AclRule>,
    /// `acl=` names (named ACLs from acl.conf; recorded, not applied here).
    pub named_acls: Vec<String>,
    /// Codec preference after applying `allow`/`disallow` to the general list.
    pub codecs: Vec<String>,
    pub dtmfmode: DtmfMode,
    pub nat: Nat,
    pub rtptimeout: u32,
    pub rtpholdtimeout: u32,
    pub call_limit: Option<u32>,
    pub outofcall_message_context: Option<String>,
    pub language: Option<String>,
    pub accountcode: Option<String>,
    /// `callgroup` / `namedcallgroup` and `pickupgroup` / `namedpickupgroup` (Pickup()).
    pub callgroups: crate::pbx::pickup::Groups,
    pub pickupgroups: crate::pbx::pickup::Groups,
    pub templates: Vec<String>,
    /// `vmexten` (general's by default).
    pub vmexten: String,
    /// `subscribemwi`: MWI only through a SUBSCRIBE dialog, no unsolicited NOTIFYs.
    pub subscribemwi: bool,
    /// `allowsubscribe` (general's by default).
    pub allowsubscribe: bool,
    /// `promiscredir`, `sendrpid`, `trustrpid`, `send_diversion` (general's by default).
    pub party: PartyOpts,
    /// `outboundproxy` (general's by default).
    pub outboundproxy: Option<OutboundProxy>,
    /// The `cc_*` call completion options (`pbx::ccss`).
    pub cc: crate::pbx::ccss::CcParams,
    /// `session-timers`, `session-expires`, `session-minse`, `session-refresher`.
    pub session: SessionTimers,
    /// `transport=`: the transports this peer may use, the first for requests we send
    /// (general's by default).
    pub transports: Vec<Transport>,
    /// `encryption` (general's by default): calls with this peer must use SRTP (SDES); our
    /// offers are `RTP/SAVP` with a key, a plain `RTP/AVP` offer gets `488`.
    pub encryption: bool,
}

impl Peer {
    /// The transport for requests we send to it (`transport=`'s first).
    pub fn transport(&self) -> Transport {
        self.transports.first().copied().unwrap_or_default()
    }

    /// chan_sip's `ast_apply_ha`: every rule is checked in order, the last matching one
    /// decides; no rule matching means allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        AclRule::apply(&self.acl, ip)
    }

    /// Accepts inbound calls matched by user name (friend, user).
    pub fn is_user(&self) -> bool {
        matches!(self.kind, PeerType::Friend | PeerType::User)
    }

    /// Usable for outbound calls / matched by IP (friend, peer).
    pub fn is_peer(&self) -> bool {
        matches!(self.kind, PeerType::Friend | PeerType::Peer)
    }
}

/// Parse a `register =>` value (without location handling).
pub fn parse_register(value: &str, loc: &Location) -> Result<Registration, String> {
    let expected =
        "expected [peer?][transport://]user[:secret[:authuser]]@host[:port][/contact][~expiry]";
    let mut rest = value.trim();
    let mut peer = None;
    if let Some((p, r)) = rest.split_once('?') {
        peer = Some(p.trim().to_string());
        rest = r;
    }
    let mut transport = Transport::Udp;
    if let Some((t, r)) = rest.split_once("://") {
        transport = match t.trim().to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => {
                return Err(format!(
                    "unknown transport '{t}' (expected udp, tcp or tls)"
                ))
            }
        };
        rest = r;
    }
    let mut expiry = None;
    if let Some((r, e)) = rest.rsplit_once('~') {
        expiry = Some(
            e.trim()
                .parse::<u32>()
                .map_err(|_| format!("expiry after '~' must be a number of seconds, got '{e}'"))?,
        );
        rest = r;
    }
    let (userpart, hostpart) = rest
        .rsplit_once('@')
        .ok_or_else(|| format!("missing '@host' in '{value}'; {expected}"))?;
    let (hostport, contact) = match hostpart.split_once('/') {
        Some((h, c)) => (h, Some(c.trim())),
        None => (hostpart, None),
    };
    let (host, port) = split_host_port(hostport.trim())?;
    if host.is_empty() {
        return Err(format!("empty host in '{value}'; {expected}"));
    }
    let fields: Vec<&str> = userpart.split(':').collect();
    let first = fields[0].trim();
    let (user, domain) = match first.split_once('@') {
        Some((u, d)) => (u, Some(d.to_string())),
        None => (first, None),
    };
    if user.is_empty() {
        return Err(format!("empty user in '{value}'; {expected}"));
    }
    let mut idx = 1;
    let mut domain_port = None;
    if domain.is_some() && fields.len() == 4 {
        domain_port = Some(parse_port(fields[1].trim())?);
        idx = 2;
    }
    if fields.len() > idx + 2 {
        return Err(format!("too many ':' fields in '{userpart}'; {expected}"));
    }
    let opt = |i: usize| {
        fields
            .get(i)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
    };
    Ok(Registration {
        peer,
        transport,
        user: user.to_string(),
        domain,
        domain_port,
        secret: opt(idx),
        authuser: opt(idx + 1),
        host,
        port,
        contact: contact.filter(|c| !c.is_empty()).unwrap_or("s").to_string(),
        expiry,
        loc: loc.clone(),
    })
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("expected a port number 1..65535, got '{s}'")),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, bare `v6`.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    if let Some(r) = s.strip_prefix('[') {
        let (h, after) = r
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in '{s}'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected '{after}' after ']' in '{s}'")),
        };
        return Ok((h.to_string(), port));
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_string(), None));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(parse_port(p)?))),
        None => Ok((s.to_string(), None)),
    }
}

/// `ip[:port]` (v6 as `[ip]:port`) → address and optional port.
fn parse_bind(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((sa.ip(), Some(sa.port())));
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| (ip, None))
        .map_err(|_| format!("expected ip[:port] (IPv6 as [ip]:port), got '{s}'"))
}

fn parse_nat(v: &str, warnings: &mut Vec<String>, loc: &Location) -> Result<Nat, String> {
    let lv = v.trim().to_ascii_lowercase();
    match lv.as_str() {
        "yes" => {
            warnings.push(format!(
                "{loc}: nat=yes is deprecated, use nat=force_rport,comedia"
            ));
            return Ok(Nat {
                force_rport: true,
                comedia: true,
                ..Nat::NO
            });
        }
        "route" => {
            warnings.push(format!(
                "{loc}: nat=route is deprecated, use nat=force_rport"
            ));
            return Ok(Nat {
                force_rport: true,
                ..Nat::NO
            });
        }
        "never" => return Ok(Nat::NO),
        _ => {}
    }
    let mut n = Nat::NO;
    for w in lv.split(',').map(str::trim) {
        match w {
            "no" => {}
            "force_rport" => n.force_rport = true,
            "comedia" => n.comedia = true,
            "auto_force_rport" => n.auto_force_rport = true,
            "auto_comedia" => n.auto_comedia = true,
            _ => {
                return Err(format!(
                    "unknown nat value '{w}' (expected no, force_rport, comedia, auto_force_rport, auto_comedia, or a comma list of them)"
                ))
            }
        }
    }
    Ok(n)
}

fn parse_dtmf(v: &str) -> Result<DtmfMode, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "rfc2833" => Ok(DtmfMode::Rfc2833),
        "info" => Ok(DtmfMode::Info),
        "shortinfo" => Ok(DtmfMode::ShortInfo),
        "inband" => Ok(DtmfMode::Inband),
        "auto" => Ok(DtmfMode::Auto),
        _ => Err(format!(
            "unknown dtmfmode '{v}' (expected rfc2833, info, shortinfo, inband or auto)"
        )),
    }
}

fn parse_qualify(v: &str) -> Result<Qualify, String> {
    if is_true(v) {
        return Ok(Qualify::MaxMs(DEFAULT_QUALIFY_MS));
    }
    if is_false(v) {
        return Ok(Qualify::Off);
    }
    match v.trim().parse::<u32>() {
        Ok(0) => Ok(Qualify::Off),
        Ok(ms) => Ok(Qualify::MaxMs(ms)),
        Err(_) => Err(format!(
            "qualify must be yes, no or a number of milliseconds, got '{v}'"
        )),
    }
}

fn parse_insecure(v: &str) -> Result<Insecure, String> {
    let mut i = Insecure::default();
    for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if is_true(w) || w.eq_ignore_ascii_case("very") {
            i.port = true;
            i.invite = true;
        } else if is_false(w) {
            i = Insecure::default();
        } else if w.eq_ignore_ascii_case("port") {
            i.port = true;
        } else if w.eq_ignore_ascii_case("invite") {
            i.invite = true;
        } else {
            return Err(format!(
                "unknown insecure value '{w}' (expected port, invite, port,invite or no)"
            ));
        }
    }
    Ok(i)
}

fn parse_bool(v: &str) -> Result<bool, String> {
    if is_true(v) {
        Ok(true)
    } else if is_false(v) {
        Ok(false)
    } else {
        Err(format!("expected yes or no, got '{v}'"))
    }
}

fn parse_u32(v: &str) -> Result<u32, String> {
    v.trim()
        .parse::<u32>()
        .map_err(|_| format!("expected a non-negative number, got '{v}'"))
}

fn nonempty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// Apply one `allow=`/`disallow=` line to a codec list.
fn apply_codecs(
    list: &mut Vec<String>,
    allow: bool,
    value: &str,
    warnings: &mut Vec<String>,
    loc: &Location,
) {
    for raw in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (mut allow, mut name) = (allow, raw);
        if let Some(n) = name.strip_prefix('!') {
            allow = !allow;
            name = n.trim();
        }
        let name = name.split(':').next().unwrap_or(name).to_ascii_lowercase();
        if name == "all" {
            if allow {
                for c in AUDIO_CODECS {
                    if !list.iter().any(|x| x == c) {
                        list.push(c.to_string());
                    }
                }
            } else {
                list.clear();
            }
            continue;
        }
        if !AUDIO_CODECS.contains(&name.as_str()) && !OTHER_CODECS.contains(&name.as_str()) {
            warnings.push(format!(
                "{loc}: cannot {} unknown codec '{name}'",
                if allow { "allow" } else { "disallow" }
            ));
            continue;
        }
        if allow {
            if !list.contains(&name) {
                list.push(name);
            }
        } else {
            list.retain(|c| *c != name);
        }
    }
}

/// Collects errors and warnings while a file is interpreted.
struct Ctx {
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Ctx {
    fn err(&mut self, e: &Entry, msg: String) {
        self.errors
            .push(ConfigError::at(&e.loc, format!("{}: {msg}", e.key)));
    }
    fn unknown(&mut self, e: &Entry, section: &str) {
        self.warnings.push(format!(
            "{}: unknown or unsupported option '{}' in [{section}] (ignored)",
            e.loc, e.key
        ));
    }
    fn take<T>(&mut self, e: &Entry, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.err(e, m);
                None
            }
        }
    }
}

fn parse_general(
    cf: &ConfigFile,
    ctx: &mut Ctx,
    registrations: &mut Vec<Registration>,
) -> SipGeneral {
    let mut g = SipGeneral::default();
    let Some(sec) = cf.section("general") else {
        return g;
    };
    let mut bindaddr: Option<(IpAddr, Option<u16>)> = None;
    let mut udp: Option<(IpAddr, Option<u16>)> = None;
    let mut tcp: Option<(IpAddr, Option<u16>)> = None;
    let mut tls: Option<(IpAddr, Option<u16>)> = None;
    for e in &sec.entries {
        let v = e.value.as_str();
        match e.key.to_ascii_lowercase().as_str() {
            "bindaddr" => bindaddr = ctx.take(e, parse_bind(v)).or(bindaddr),
            "bindport" => {
                if let Some(p) = ctx.take(e, parse_port(v.trim())) {
                    g.bindport = p;
                }
            }
            "udpbindaddr" => udp = ctx.take(e, parse_bind(v)).or(udp),
            "tcpbindaddr" => tcp = ctx.take(e, parse_bind(v)).or(tcp),
            "tcpenable" => g.tcpenable = ctx.take(e, parse_bool(v)).unwrap_or(g.tcpenable),
            "tlsenable" => g.tls.enable = ctx.take(e, parse_bool(v)).unwrap_or(g.tls.enable),
            "tlsbindaddr" => tls = ctx.take(e, parse_bind(v)).or(tls),
            "tlscertfile" => {
                if let Some(f) = nonempty(v) {
                    g.tls.certfile = f
                }
            }
            "tlsprivatekey" => g.tls.privatekey = nonempty(v),
            "tlscafile" => g.tls.cafile = nonempty(v),
            "tlscapath" => g.tls.capath = nonempty(v),
            "tlsverifyclient" => {
                g.tls.verifyclient = ctx.take(e, parse_bool(v)).unwrap_or(g.tls.verifyclient)
            }
            "tlsdontverifyserver" => {
                g.tls.dontverifyserver =
                    ctx.take(e, parse_bool(v)).unwrap_or(g.tls.dontverifyserver)
            }
            "tlsclientmethod" | "sslclientmethod" => {
                let (m, warning) = parse_tls_method(v);
                g.tls.clientmethod = m;
                if let Some(w) = warning {
                    ctx.warnings.push(format!("{}: {w}", e.loc));
                }
            }
            "tlscipher" | "sslcipher" => {
                g.tls.cipher = nonempty(v);
                if let Some(spec) = &g.tls.cipher {
                    let (suites, unknown) = crate::sip::tls::cipher_suites(spec);
                    if !unknown.is_empty() {
                        ctx.warnings.push(format!(
                            "{}: tlscipher: {} not a cipher suite ferrisk has (ignored)",
                            e.loc,
                            unknown.join(", ")
                        ));
                    }
                    if suites.is_empty() {
                        ctx.warnings.push(format!(
                            "{}: tlscipher '{}' allows no cipher suite ferrisk has: using all of them",
                            e.loc,
                            v.trim()
                        ));
                    }
                }
            }
            "transport" => {
                g.transports = ctx
                    .take(e, parse_transports(v))
                    .unwrap_or(g.transports.clone())
            }
            "context" => g.context = v.trim().to_string(),
            "allowguest" => g.allowguest = ctx.take(e, parse_bool(v)).unwrap_or(g.allowguest),
            "autodomain" => g.autodomain = ctx.take(e, parse_bool(v)).unwrap_or(g.autodomain),
            "allowexternaldomains" => {
                g.allowexternaldomains =
                    ctx.take(e, parse_bool(v)).unwrap_or(g.allowexternaldomains)
            }
            "domain" => {
                let (d, c) = v.split_once(',').unwrap_or((v, ""));
                if d.trim().is_empty() {
                    ctx.warnings
                        .push(format!("{}: Empty domain specified", e.loc));
                } else {
                    g.domains.push(SipDomain {
                        domain: d.trim().to_string(),
                        context: nonempty(c),
                    });
                }
            }
            "alwaysauthreject" => {
                g.alwaysauthreject = ctx.take(e, parse_bool(v)).unwrap_or(g.alwaysauthreject)
            }
            "realm" => g.realm = v.trim().to_string(),
            "useragent" => g.useragent = v.trim().to_string(),
            "defaultexpiry" | "defaultexpirey" => {
                g.defaultexpiry = ctx.take(e, parse_u32(v)).unwrap_or(g.defaultexpiry)
            }
            "minexpiry" | "minexpirey" => {
                g.minexpiry = ctx.take(e, parse_u32(v)).unwrap_or(g.minexpiry)
            }
            "maxexpiry" | "maxexpirey" => {
                g.maxexpiry = ctx.take(e, parse_u32(v)).unwrap_or(g.maxexpiry)
            }
            "externaddr" | "externip" => {
                if let Some((host, port)) = ctx.take(e, split_host_port(v.trim())) {
                    g.externaddr = (!host.is_empty()).then_some(ExternAddr { host, port });
                }
            }
            "localnet" => {
                if let Some(n) = ctx.take(e, IpNet::parse(v)) {
                    g.localnet.push(n);
                }
            }
            "nat" => {
                let r = parse_nat(v, &mut ctx.warnings, &e.loc);
                g.nat = ctx.take(e, r).unwrap_or(g.nat);
            }
            "qualifyfreq" => g.qualifyfreq = ctx.take(e, parse_u32(v)).unwrap_or(g.qualifyfreq),
            "rtupdate" => g.rtupdate = is_true(v),
            "rtsavesysname" => g.rtsavesysname = is_true(v),
            "rtcachefriends" => g.rtcachefriends = is_true(v),
            "ignoreregexpire" => g.ignoreregexpire = is_true(v),
            "rtautoclear" => {
                g.rtautoclear = match v.trim().parse::<u32>() {
                    Ok(0) => None,
                    Ok(n) => Some(n),
                    Err(_) if is_true(v) => Some(120),
                    Err(_) => None,
                }
            }
            "registertimeout" => {
                g.registertimeout = ctx
                    .take(e, parse_u32(v))
                    .unwrap_or(g.registertimeout)
                    .max(1)
            }
            "registerattempts" => {
                g.registerattempts = ctx.take(e, parse_u32(v)).unwrap_or(g.registerattempts)
            }
            "accept_outofcall_message" => {
                g.accept_outofcall_message = ctx
                    .take(e, parse_bool(v))
                    .unwrap_or(g.accept_outofcall_message)
            }
            "outofcall_message_context" => g.outofcall_message_context = nonempty(v),
            "auth_message_requests" => {
                g.auth_message_requests = ctx
                    .take(e, parse_bool(v))
                    .unwrap_or(g.auth_message_requests)
            }
            "max_contacts_per_aor" => {
                g.max_contacts_per_aor = ctx.take(e, parse_u32(v)).unwrap_or(g.max_contacts_per_aor)
            }
            "max_registers_per_second" => {
                g.max_registers_per_second = ctx
                    .take(e, parse_u32(v))
                    .unwrap_or(g.max_registers_per_second)
            }
            "auth_failures_per_source" => {
                g.auth_failures_per_source = ctx
                    .take(e, parse_u32(v))
                    .unwrap_or(g.auth_failures_per_source)
            }
            "auth_failures_per_account" => {
                g.auth_failures_per_account = ctx
                    .take(e, parse_u32(v))
                    .unwrap_or(g.auth_failures_per_account)
            }
            "auth_lockout" => g.auth_lockout = ctx.take(e, parse_u32(v)).unwrap_or(g.auth_lockout),
            "auth_lockout_max" => {
                g.auth_lockout_max = ctx.take(e, parse_u32(v)).unwrap_or(g.auth_lockout_max)
            }
            "transaction_memory" => {
                g.transaction_memory = ctx.take(e, parse_u32(v)).unwrap_or(g.transaction_memory)
            }
            "retransmission_memory" => {
                g.retransmission_memory =
                    ctx.take(e, parse_u32(v)).unwrap_or(g.retransmission_memory)
            }
            "register" => {
                if let Some(r) = ctx.take(e, parse_register(v, &e.loc)) {
                    registrations.push(r);
                }
            }
            "allow" => apply_codecs(&mut g.codecs, true, v, &mut ctx.warnings, &e.loc),
            "disallow" => apply_codecs(&mut g.codecs, false, v, &mut ctx.warnings, &e.loc),
            "dtmfmode" => g.dtmfmode = ctx.take(e, parse_dtmf(v)).unwrap_or(g.dtmfmode),
            "rtptimeout" => g.rtptimeout = v.trim().parse().unwrap_or(0),
            "vmexten" => {
                if !v.trim().is_empty() {
                    g.vmexten = v.trim().to_string()
                }
            }
            "allowsubscribe" => {
                g.allowsubscribe = ctx.take(e, parse_bool(v)).unwrap_or(g.allowsubscribe)
            }
            "encryption" => g.encryption = ctx.take(e, parse_bool(v)).unwrap_or(g.encryption),
            "subminexpiry" | "subminexpirey" => {
                g.subminexpiry = ctx.take(e, parse_u32(v)).unwrap_or(g.subminexpiry)
            }
            "submaxexpiry" | "submaxexpirey" => {
                g.submaxexpiry = ctx.take(e, parse_u32(v)).unwrap_or(g.submaxexpiry)
            }
            "rtpholdtimeout" => g.rtpholdtimeout = v.trim().parse().unwrap_or(0),
            "language" => g.language = nonempty(v),
            "accountcode" => g.accountcode = nonempty(v),
            "qualify" => g.qualify = ctx.take(e, parse_qualify(v)).unwrap_or(g.qualify),
            "srvlookup" => g.srvlookup = ctx.take(e, parse_bool(v)).unwrap_or(g.srvlookup),
            "outboundproxy" => {
                if let Some(p) = ctx.take(e, parse_outboundproxy(v)) {
                    g.outboundproxy = p;
                }
            }
            "dnsservers" => {
                g.dnsservers = Vec::new();
                for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let r = match split_host_port(item) {
                        Ok((h, port)) => h
                            .parse::<IpAddr>()
                            .map(|ip| SocketAddr::new(ip, port.unwrap_or(53)))
                            .map_err(|_| format!("expected ip[:port], got '{item}'")),
                        Err(m) => Err(m),
                    };
                    if let Some(a) = ctx.take(e, r) {
                        g.dnsservers.push(a);
                    }
                }
            }
            k if party_opt(&mut g.party, k, e, ctx) => {}
            k if session_opt(&mut g.session, k, e, ctx) => {}
            _ => ctx.unknown(e, "general"),
        }
    }
    if g.minexpiry > g.maxexpiry {
        ctx.errors.push(ConfigError::at(
            &sec.loc,
            format!(
                "minexpiry ({}) must not exceed maxexpiry ({})",
                g.minexpiry, g.maxexpiry
            ),
        ));
    }
    let (uip, uport) = udp
        .or(bindaddr)
        .unwrap_or((Ipv4Addr::UNSPECIFIED.into(), None));
    g.udpbindaddr = SocketAddr::new(uip, uport.unwrap_or(g.bindport));
    g.tcpbindaddr = match tcp {
        Some((ip, port)) => SocketAddr::new(ip, port.unwrap_or(g.bindport)),
        None => g.udpbindaddr,
    };
    g.tls.bindaddr = match tls {
        Some((ip, port)) => SocketAddr::new(ip, port.unwrap_or(TLS_PORT)),
        None => SocketAddr::new(uip, TLS_PORT),
    };
    if !g.allowexternaldomains && g.domains.is_empty() {
        ctx.warnings.push(format!(
            "{}: To disallow external domains, you need to configure local SIP domains.",
            sec.loc
        ));
        g.allowexternaldomains = true;
    }
    if g.tls.verifyclient && g.tls.cafile.is_none() && g.tls.capath.is_none() {
        ctx.warnings.push(format!(
            "{}: tlsverifyclient=yes needs tlscafile or tlscapath to verify against; \
             client certificates are not required",
            sec.loc
        ));
        g.tls.verifyclient = false;
    }
    g
}

/// `host=`: `dynamic`, an IP or a host name, optionally with `:port` (IPv6 as `[ip]:port`).
fn parse_peer_host(v: &str) -> Result<(Host, Option<u16>), String> {
    let h = v.trim();
    let expected =
        || format!("expected dynamic, a host name or an IP (optionally :port), got '{h}'");
    if h.eq_ignore_ascii_case("dynamic") {
        return Ok((Host::Dynamic, None));
    }
    if h.is_empty() || h.contains(char::is_whitespace) {
        return Err(expected());
    }
    let (name, port) = split_host_port(h).map_err(|m| format!("{}: {m}", expected()))?;
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok((Host::Ip(ip), port));
    }
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if valid_name {
        Ok((Host::Name(name), port))
    } else {
        Err(expected())
    }
}

fn parse_peer(sec: &crate::config::Section, g: &SipGeneral, ctx: &mut Ctx) -> Option<Peer> {
    let name = sec.name.as_str();
    let Some(type_entry) = sec
        .entries
        .iter()
        .rev()
        .find(|e| e.key.eq_ignore_ascii_case("type"))
    else {
        ctx.warnings.push(format!(
            "{}: section '{name}' lacks type (skipped)",
            sec.loc
        ));
        return None;
    };
    let kind = match type_entry.value.trim().to_ascii_lowercase().as_str() {
        "friend" => PeerType::Friend,
        "peer" => PeerType::Peer,
        "user" => PeerType::User,
        other => {
            ctx.err(
                type_entry,
                format!("unknown type '{other}' (expected friend, peer or user)"),
            );
            return None;
        }
    };
    let mut p = Peer {
        name: name.to_string(),
        loc: sec.loc.clone(),
        realtime: false,
        kind,
        host: Host::Dynamic,
        port: None,
        secret: None,
        md5secret: None,
        remotesecret: None,
        defaultuser: None,
        fromuser: None,
        fromdomain: None,
        has_context: false,
        context: g.context.clone(),
        callerid: None,
        mailboxes: Vec::new(),
        qualify: g.qualify,
        insecure: Insecure::default(),
        acl: Vec::new(),
        named_acls: Vec::new(),
        codecs: g.codecs.clone(),
        dtmfmode: g.dtmfmode,
        nat: g.nat,
        rtptimeout: g.rtptimeout,
        rtpholdtimeout: g.rtpholdtimeout,
        call_limit: None,
        outofcall_message_context: g.outofcall_message_context.clone(),
        language: g.language.clone(),
        accountcode: g.accountcode.clone(),
        templates: sec.templates.clone(),
        vmexten: g.vmexten.clone(),
        subscribemwi: false,
        callgroups: Default::default(),
        pickupgroups: Default::default(),
        allowsubscribe: g.allowsubscribe,
        party: g.party,
        outboundproxy: g.outboundproxy.clone(),
        cc: Default::default(),
        session: g.session,
        transports: g.transports.clone(),
        encryption: g.encryption,
    };
    let mut host_set = false;
    for e in &sec.entries {
        let v = e.value.as_str();
        match e.key.to_ascii_lowercase().as_str() {
            "type" => {}
            "host" => match parse_peer_host(v) {
                Ok((h, port)) => {
                    p.host = h;
                    host_set = true;
                    if port.is_some() {
                        p.port = port;
                    }
                }
                Err(m) => ctx.err(e, m),
            },
            "port" => p.port = ctx.take(e, parse_port(v.trim())).or(p.port),
            "secret" => p.secret = nonempty(v),
            "md5secret" => p.md5secret = nonempty(v),
            "remotesecret" => p.remotesecret = nonempty(v),
            "defaultuser" | "username" => p.defaultuser = nonempty(v),
            "fromuser" => p.fromuser = nonempty(v),
            "fromdomain" => p.fromdomain = nonempty(v),
            "context" => {
                p.context = v.trim().to_string();
                p.has_context = true;
            }
            "callerid" => {
                p.callerid = (!v.trim().is_empty()).then(|| CallerId::parse(v));
            }
            "mailbox" => {
                p.mailboxes = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|m| match m.split_once('@') {
                        Some((b, c)) => Mailbox {
                            mailbox: b.to_string(),
                            context: c.to_string(),
                        },
                        None => Mailbox {
                            mailbox: m.to_string(),
                            context: "default".into(),
                        },
                    })
                    .collect()
            }
            "qualify" => p.qualify = ctx.take(e, parse_qualify(v)).unwrap_or(p.qualify),
            "insecure" => p.insecure = ctx.take(e, parse_insecure(v)).unwrap_or(p.insecure),
            k @ ("permit" | "deny") => {
                for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if let Some(r) = ctx.take(e, AclRule::parse(k == "permit", item)) {
                        p.acl.push(r);
                    }
                }
            }
            "acl" => p.named_acls.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            ),
            "allow" => apply_codecs(&mut p.codecs, true, v, &mut ctx.warnings, &e.loc),
            "disallow" => apply_codecs(&mut p.codecs, false, v, &mut ctx.warnings, &e.loc),
            "dtmfmode" => p.dtmfmode = ctx.take(e, parse_dtmf(v)).unwrap_or(p.dtmfmode),
            "rtptimeout" => p.rtptimeout = v.trim().parse().unwrap_or(0),
            "vmexten" => {
                if !v.trim().is_empty() {
                    p.vmexten = v.trim().to_string()
                }
            }
            "subscribemwi" => p.subscribemwi = ctx.take(e, parse_bool(v)).unwrap_or(p.subscribemwi),
            "allowsubscribe" => {
                p.allowsubscribe = ctx.take(e, parse_bool(v)).unwrap_or(p.allowsubscribe)
            }
            "encryption" => p.encryption = ctx.take(e, parse_bool(v)).unwrap_or(p.encryption),
            "rtpholdtimeout" => p.rtpholdtimeout = v.trim().parse().unwrap_or(0),
            "nat" => {
                let r = parse_nat(v, &mut ctx.warnings, &e.loc);
                p.nat = ctx.take(e, r).unwrap_or(p.nat);
            }
            "call-limit" | "call_limit" => p.call_limit = ctx.take(e, parse_u32(v)),
            "transport" => {
                p.transports = ctx
                    .take(e, parse_transports(v))
                    .unwrap_or(p.transports.clone())
            }
            "outofcall_message_context" => p.outofcall_message_context = nonempty(v),
            "language" => p.language = nonempty(v),
            "accountcode" => p.accountcode = nonempty(v),
            "callgroup" => {
                if let Some(n) = ctx.take(e, group_numbers(v)) {
                    p.callgroups.numbers = n;
                }
            }
            "pickupgroup" => {
                if let Some(n) = ctx.take(e, group_numbers(v)) {
                    p.pickupgroups.numbers = n;
                }
            }
            "namedcallgroup" => p.callgroups.names = crate::pbx::pickup::Groups::parse_names(v),
            "namedpickupgroup" => p.pickupgroups.names = crate::pbx::pickup::Groups::parse_names(v),
            k if crate::pbx::ccss::CcParams::is_option(k) => {
                if let Err(m) = p.cc.set(k, v) {
                    ctx.warnings.push(format!("{}: {m}", e.loc));
                }
            }
            k if party_opt(&mut p.party, k, e, ctx) => {}
            k if session_opt(&mut p.session, k, e, ctx) => {}
            "outboundproxy" => {
                if let Some(o) = ctx.take(e, parse_outboundproxy(v)) {
                    p.outboundproxy = o;
                }
            }
            _ => ctx.unknown(e, name),
        }
    }
    let (t, listening) = match p.transport() {
        Transport::Tcp => ("tcp", g.tcpenable),
        Transport::Tls => ("tls", g.tls.enable),
        Transport::Udp => ("udp", true),
    };
    if !listening {
        ctx.warnings.push(format!(
            "{}: peer '{name}' uses transport={t} but {t}enable=no: requests it sends us must \
             come over the connection we open",
            sec.loc
        ));
    }
    if !host_set && kind != PeerType::User {
        ctx.warnings.push(format!(
            "{}: peer '{name}' has no host (treated as host=dynamic)",
            sec.loc
        ));
    }
    Some(p)
}

/// Interpret a loaded `sip.conf`. Returns the config and warnings, or every error found.
/// Realtime `sippeers` columns that are state, not options (chan_sip keeps them in the row:
/// the registration, the last qualify).
const REALTIME_STATE_COLUMNS: &[&str] = &[
    "name",
    "ipaddr",
    "regseconds",
    "fullcontact",
    "useragent",
    "lastms",
    "regserver",
    "sippeers",
    "id",
];

/// The registration a realtime `sippeers` row carries (chan_sip's `rtupdate` wrote it):
/// the contact, where the phone registered from, and for how many more seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeContact {
    pub uri: String,
    pub source: Option<std::net::SocketAddr>,
    pub expires_in: u32,
    pub useragent: String,
}

/// The registration in a realtime row: `None` without one, or when `regseconds` has passed
/// (unless `ignore_expiry`, `ignoreregexpire`: then it is used for `default_expiry` more
/// seconds).
pub fn realtime_contact(
    fields: &[(String, String)],
    now_unix: u64,
    ignore_expiry: bool,
    default_expiry: u32,
) -> Option<RealtimeContact> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(k))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let name = get("name")?;
    let ip = get("ipaddr").and_then(|v| v.parse::<std::net::IpAddr>().ok());
    let port = get("port")
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .unwrap_or(5060);
    let source = ip.map(|ip| std::net::SocketAddr::new(ip, port));
    let uri = match (get("fullcontact"), source) {
        (Some(c), _) => c.to_string(),
        (None, Some(a)) => format!("sip:{name}@{a}"),
        (None, None) => return None,
    };
    let regseconds = get("regseconds")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let left = regseconds.saturating_sub(now_unix);
    let expires_in = if left > 0 {
        u32::try_from(left).unwrap_or(u32::MAX)
    } else if ignore_expiry {
        default_expiry.max(1)
    } else {
        return None;
    };
    Some(RealtimeContact {
        uri,
        source,
        expires_in,
        useragent: get("useragent").unwrap_or("").to_string(),
    })
}

/// A peer from a realtime `sippeers` row (column = sip.conf option), read with sip.conf's
/// rules (`[general]` defaults apply). Errors say what is wrong with the row.
pub fn peer_from_realtime(fields: &[(String, String)], g: &SipGeneral) -> Result<Peer, String> {
    let name = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or("the row has no name")?;
    let loc = Location::new(format!("realtime sippeers {name}"), 1, 1);
    let mut entries: Vec<Entry> = fields
        .iter()
        .filter(|(k, v)| {
            !v.trim().is_empty()
                && !REALTIME_STATE_COLUMNS
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(k.trim()))
        })
        .map(|(k, v)| Entry {
            key: k.trim().to_ascii_lowercase(),
            value: v.trim().to_string(),
            op: crate::config::Op::Assign,
            loc: loc.clone(),
        })
        .collect();
    // A row without a type is a friend, as chan_sip's realtime peers.
    if !entries.iter().any(|e| e.key == "type") {
        entries.push(Entry {
            key: "type".into(),
            value: "friend".into(),
            op: crate::config::Op::Assign,
            loc: loc.clone(),
        });
    }
    let sec = crate::config::Section {
        name: name.clone(),
        loc,
        is_template: false,
        templates: Vec::new(),
        entries,
    };
    let mut ctx = Ctx {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let peer = parse_peer(&sec, g, &mut ctx);
    if let Some(e) = ctx.errors.first() {
        return Err(e.to_string());
    }
    let mut peer = peer.ok_or_else(|| format!("realtime peer '{name}' could not be read"))?;
    peer.realtime = true;
    Ok(peer)
}

pub fn parse_sip_conf(cf: &ConfigFile) -> Result<(SipConfig, Vec<String>), Vec<ConfigError>> {
    let mut ctx = Ctx {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut registrations = Vec::new();
    let general = parse_general(cf, &mut ctx, &mut registrations);
    let mut peers: IndexMap<String, Peer> = IndexMap::new();
    for sec in &cf.sections {
        if sec.is_template
            || sec.name.eq_ignore_ascii_case("general")
            || sec.name.eq_ignore_ascii_case("authentication")
        {
            continue;
        }
        if let Some(p) = parse_peer(sec, &general, &mut ctx) {
            if let Some(old) = peers.get(&p.name) {
                ctx.warnings.push(format!(
                    "{}: peer '{}' already defined at {} (this one replaces it)",
                    p.loc, p.name, old.loc
                ));
            }
            peers.insert(p.name.clone(), p);
        }
    }
    if ctx.errors.is_empty() {
        Ok((
            SipConfig {
                general,
                peers,
                registrations,
            },
            ctx.warnings,
        ))
    } else {
        Err(ctx.errors)
    }
}

/// Load and interpret `sip.conf` from `dir`.
pub fn load_sip_conf(
    dir: &Path,
    opts: &LoadOptions,
) -> Result<(SipConfig, Vec<String>), Vec<ConfigError>> {
    let cf = crate::config::load(dir, "sip.conf", opts).map_err(|e| vec![e])?;
    parse_sip_conf(&cf)
}

/// `callgroup=1,3-5`: group numbers 0..=63.
fn group_numbers(v: &str) -> Result<std::collections::BTreeSet<u8>, String> {
    let (n, bad) = crate::pbx::pickup::Groups::parse_numbers(v);
    if bad.is_empty() {
        Ok(n)
    } else {
        Err(format!(
            "expected group numbers 0-63 or ranges such as 1,3-5, got '{}'",
            bad.join(",")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    fn parse(text: &str) -> Result<(SipConfig, Vec<String>), Vec<ConfigError>> {
        let cf =
            load_str(Path::new("/tmp"), "sip.conf", text, &LoadOptions::default()).expect("loader");
        parse_sip_conf(&cf)
    }

    #[test]
    fn sipconf_call_and_pickup_groups() {
        let (c, w) = ok("[general]\n[p]\ntype=peer\nhost=dynamic\ncallgroup=1,3-4\n\
             pickupgroup=2\nnamedcallgroup=sales\nnamedpickupgroup=sales,support\n");
        assert!(w.is_empty(), "{w:?}");
        let p = &c.peers["p"];
        assert_eq!(
            p.callgroups.numbers.iter().copied().collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert_eq!(
            p.pickupgroups.numbers.iter().copied().collect::<Vec<_>>(),
            vec![2]
        );
        assert!(p.pickupgroups.intersects(&p.callgroups));
        let e = errs("[general]\n[p]\ntype=peer\nhost=dynamic\ncallgroup=1,99\n");
        assert!(
            e.iter()
                .any(|m| m.contains("sip.conf:5:") && m.contains("callgroup")),
            "{e:?}"
        );
    }

    fn ok(text: &str) -> (SipConfig, Vec<String>) {
        match parse(text) {
            Ok(r) => r,
            Err(e) => panic!("unexpected errors: {e:?}"),
        }
    }

    fn errs(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mwi_options() {
        let (c, w) = ok(
            "[general]\nvmexten=*97\nsubminexpiry=30\nsubmaxexpiry=600\n\
             [a]\ntype=friend\nhost=dynamic\nmailbox=100\n\
             [b]\ntype=friend\nhost=dynamic\nvmexten=8500\nsubscribemwi=yes\nallowsubscribe=no\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            (
                c.general.vmexten.as_str(),
                c.general.subminexpiry,
                c.general.submaxexpiry
            ),
            ("*97", 30, 600)
        );
        let (a, b) = (&c.peers["a"], &c.peers["b"]);
        assert_eq!(
            (a.vmexten.as_str(), a.subscribemwi, a.allowsubscribe),
            ("*97", false, true)
        );
        assert_eq!(
            (b.vmexten.as_str(), b.subscribemwi, b.allowsubscribe),
            ("8500", true, false)
        );
        let d = SipGeneral::default();
        assert_eq!(
            (d.vmexten.as_str(), d.subminexpiry, d.submaxexpiry),
            ("asterisk", 60, 3600)
        );
    }

    #[test]
    fn encryption_option_general_default_and_per_peer() {
        let (c, w) = ok("[general]\nencryption=yes\n\
             [a]\ntype=friend\nhost=dynamic\n\
             [b]\ntype=friend\nhost=dynamic\nencryption=no\n");
        assert!(w.is_empty(), "{w:?}");
        assert!(c.general.encryption);
        assert!(c.peers["a"].encryption);
        assert!(!c.peers["b"].encryption);
        let (c, _) = ok("[c]\ntype=peer\nhost=127.0.0.1\nencryption = yes\n");
        assert!(!c.general.encryption);
        assert!(c.peers["c"].encryption);
        assert!(!SipGeneral::default().encryption);
        let e = errs(
            "[general]\nencryption=maybe\n[d]\ntype=friend\nhost=dynamic\n  encryption=srtp\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].contains("sip.conf:2:1") && e[0].contains("expected yes or no, got 'maybe'"),
            "{e:?}"
        );
        assert!(
            e[1].contains("sip.conf:6:") && e[1].contains("'srtp'"),
            "{e:?}"
        );
        // A realtime sippeers row's `encryption` column, as chan_sip reads it.
        let row = |v: &str| {
            let f = [("name", "rt1"), ("secret", "x"), ("encryption", v)];
            let f: Vec<(String, String)> = f
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            peer_from_realtime(&f, &SipGeneral::default())
        };
        assert!(row("yes").unwrap().encryption);
        assert!(!row("no").unwrap().encryption);
        assert!(row("sometimes").unwrap_err().contains("encryption"));
    }

    #[test]
    fn sipconf_asterisk_sample_loads() {
        let cf = crate::config::load(&fixtures(), "sip.conf.sample", &LoadOptions::default())
            .expect("sample loads");
        let (c, warnings) = parse_sip_conf(&cf).expect("no errors");
        assert_eq!(c.general.context, "public");
        assert!(!c.general.tcpenable);
        assert_eq!(c.general.udpbindaddr, "0.0.0.0:5060".parse().unwrap());
        // Only templates and [authentication]: no peers.
        assert!(c.peers.is_empty());
        assert!(c.registrations.is_empty());
        // allowoverlap is a chan_sip option ferrisk does not know.
        assert!(warnings.iter().any(|w| w.contains("'allowoverlap'")));
        assert!(warnings.iter().all(|w| w.contains("sip.conf.sample:")));
    }

    #[test]
    fn sipconf_defaults() {
        let (c, w) = ok("[general]\n");
        let g = &c.general;
        assert!(w.is_empty());
        assert_eq!(g.bindport, 5060);
        assert_eq!(g.udpbindaddr, "0.0.0.0:5060".parse().unwrap());
        assert_eq!(g.tcpbindaddr, g.udpbindaddr);
        assert!(!g.tcpenable);
        assert_eq!(g.context, "default");
        assert!(g.allowguest && g.alwaysauthreject && g.auth_message_requests);
        assert!(!g.accept_outofcall_message);
        assert_eq!(g.realm, "asterisk");
        assert_eq!((g.defaultexpiry, g.minexpiry, g.maxexpiry), (120, 60, 3600));
        assert_eq!(g.qualifyfreq, 60);
        assert_eq!(g.nat, Nat::default());
        assert!(g.nat.auto_force_rport && !g.nat.auto_comedia);
        assert_eq!(g.max_contacts_per_aor, 10);
        assert_eq!(g.max_registers_per_second, 5);
        assert_eq!(g.codecs, ["ulaw", "alaw", "gsm", "h263"]);
        assert_eq!(g.dtmfmode, DtmfMode::Rfc2833);
        // No [general] at all is fine too.
        assert_eq!(ok("").0.general, SipGeneral::default());
    }

    #[test]
    fn sipconf_voximplant_seed() {
        let cf = crate::config::load(&fixtures(), "sip-voximplant.conf", &LoadOptions::default())
            .expect("fixture loads");
        let (c, w) = parse_sip_conf(&cf).expect("no errors");
        assert!(w.is_empty(), "{w:?}");
        let p = &c.peers["voximplant"];
        assert_eq!(p.kind, PeerType::Friend);
        assert!(p.is_user() && p.is_peer());
        assert_eq!(p.host, Host::Name("testapp.testuser.voximplant.com".into()));
        assert_eq!(p.secret.as_deref(), Some("asterisk-pass-for-vox"));
        assert_eq!(p.remotesecret.as_deref(), Some("vox-pass-for-asterisk"));
        assert_eq!(p.fromuser.as_deref(), Some("asterisk"));
        assert_eq!(
            p.fromdomain.as_deref(),
            Some("testapp.testuser.voximplant.com")
        );
        assert_eq!(p.context, "from-trunk");
        assert_eq!(p.codecs, ["ulaw", "alaw", "gsm", "h263"]);
        assert_eq!(c.registrations.len(), 1);
        let r = &c.registrations[0];
        assert_eq!(r.user, "asterisk");
        assert_eq!(r.secret.as_deref(), Some("asterisk-pass-for-vox"));
        assert_eq!(r.host, "testapp.testuser.voximplant.com");
        assert_eq!(r.port, None);
        assert_eq!(r.contact, "voximplant");
        assert_eq!(r.transport, Transport::Udp);
        assert_eq!(r.loc.line, 7);
    }

    #[test]
    fn sipconf_load_sip_conf_from_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sip.conf"),
            "[general]\nbindport=5070\n[a]\ntype=peer\nhost=10.0.0.1\n",
        )
        .unwrap();
        let (c, _) = load_sip_conf(dir.path(), &LoadOptions::default()).unwrap();
        assert_eq!(c.general.udpbindaddr.port(), 5070);
        assert_eq!(c.peers["a"].host, Host::Ip(ip("10.0.0.1")));
        let missing = tempfile::tempdir().unwrap();
        assert!(load_sip_conf(missing.path(), &LoadOptions::default()).is_err());
    }

    #[test]
    fn sipconf_templates() {
        let (c, w) = ok("[general]\ncontext=gen\n\
             [phone](!)\ntype=friend\nhost=dynamic\ncontext=phones\ndisallow=all\nallow=ulaw\n\
             [1000](phone)\nsecret=s1000\ncallerid=\"Alice\" <1000>\n\
             [1001](phone)\nsecret=s1001\ncontext=other\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.peers.len(), 2);
        assert!(!c.peers.contains_key("phone"));
        let p = &c.peers["1000"];
        assert_eq!(p.templates, ["phone"]);
        assert_eq!(p.host, Host::Dynamic);
        assert_eq!(p.context, "phones");
        assert_eq!(p.codecs, ["ulaw"]);
        assert_eq!(p.secret.as_deref(), Some("s1000"));
        assert_eq!(
            p.callerid,
            Some(CallerId {
                name: Some("Alice".into()),
                number: Some("1000".into())
            })
        );
        assert_eq!(c.peers["1001"].context, "other");
        assert_eq!(c.peers.keys().collect::<Vec<_>>(), ["1000", "1001"]);
    }

    #[test]
    fn sipconf_every_general_option() {
        let (c, w) = ok("[general]\n\
             bindaddr=192.168.1.2\nbindport=5070\nudpbindaddr=10.0.0.5:5080\n\
             tcpenable=yes\ntcpbindaddr=[::1]:5090\ncontext=incoming\nallowguest=no\n\
             alwaysauthreject=no\nrealm=example.org\nuseragent=MyPBX\n\
             defaultexpiry=300\nminexpiry=30\nmaxexpiry=7200\nexternip=203.0.113.7:5061\n\
             localnet=192.168.0.0/255.255.0.0\nlocalnet=10.0.0.0/8\nnat=force_rport,comedia\n\
             qualifyfreq=30\naccept_outofcall_message=yes\noutofcall_message_context=msgs\n\
             auth_message_requests=no\nmax_contacts_per_aor=3\nmax_registers_per_second=20\n\
             disallow=all\nallow=alaw,ulaw\ndtmfmode=info\nlanguage=fr\naccountcode=acct\n\
             qualify=yes\n\
             register => tls://u1:p1:auth1@sip.example.com:5061/1234~600\n\
             register => trunk?u2@example.net:pw@proxy.example.net\n\
             register => 3456@mydomain:5082::@mysipprovider.com\n\
             register => 2345:password@sip_proxy/1234\n\
             [p]\ntype=peer\nhost=dynamic\n");
        assert!(w.is_empty(), "{w:?}");
        let g = &c.general;
        assert_eq!(g.udpbindaddr, "10.0.0.5:5080".parse().unwrap());
        assert_eq!(g.bindport, 5070);
        assert!(g.tcpenable);
        assert_eq!(g.tcpbindaddr, "[::1]:5090".parse().unwrap());
        assert_eq!(g.context, "incoming");
        assert!(!g.allowguest && !g.alwaysauthreject && !g.auth_message_requests);
        assert_eq!(g.realm, "example.org");
        assert_eq!(g.useragent, "MyPBX");
        assert_eq!((g.defaultexpiry, g.minexpiry, g.maxexpiry), (300, 30, 7200));
        assert_eq!(
            g.externaddr,
            Some(ExternAddr {
                host: "203.0.113.7".into(),
                port: Some(5061)
            })
        );
        assert_eq!(g.localnet.len(), 2);
        assert!(g.localnet[0].contains(ip("192.168.44.1")));
        assert!(!g.localnet[0].contains(ip("192.169.0.1")));
        assert!(g.localnet[1].contains(ip("10.255.0.1")));
        assert_eq!(
            g.nat,
            Nat {
                force_rport: true,
                comedia: true,
                auto_force_rport: false,
                auto_comedia: false
            }
        );
        assert_eq!(g.qualifyfreq, 30);
        assert!(g.accept_outofcall_message);
        assert_eq!(g.outofcall_message_context.as_deref(), Some("msgs"));
        assert_eq!(
            (g.max_contacts_per_aor, g.max_registers_per_second),
            (3, 20)
        );
        assert_eq!(g.codecs, ["alaw", "ulaw"]);
        assert_eq!(g.dtmfmode, DtmfMode::Info);
        // General peer defaults reach the peer.
        let p = &c.peers["p"];
        assert_eq!(p.context, "incoming");
        assert_eq!(p.codecs, ["alaw", "ulaw"]);
        assert_eq!(p.dtmfmode, DtmfMode::Info);
        assert_eq!(p.nat, g.nat);
        assert_eq!(p.language.as_deref(), Some("fr"));
        assert_eq!(p.accountcode.as_deref(), Some("acct"));
        assert_eq!(p.qualify, Qualify::MaxMs(2000));
        assert_eq!(p.outofcall_message_context.as_deref(), Some("msgs"));

        let r = &c.registrations;
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].transport, Transport::Tls);
        assert_eq!(
            (
                r[0].user.as_str(),
                r[0].secret.as_deref(),
                r[0].authuser.as_deref()
            ),
            ("u1", Some("p1"), Some("auth1"))
        );
        assert_eq!(
            (r[0].host.as_str(), r[0].port),
            ("sip.example.com", Some(5061))
        );
        assert_eq!((r[0].contact.as_str(), r[0].expiry), ("1234", Some(600)));
        assert_eq!(r[1].peer.as_deref(), Some("trunk"));
        assert_eq!(r[1].domain.as_deref(), Some("example.net"));
        assert_eq!(r[1].secret.as_deref(), Some("pw"));
        assert_eq!(r[1].host, "proxy.example.net");
        assert_eq!(r[1].contact, "s");
        assert_eq!(r[2].user, "3456");
        assert_eq!(r[2].domain.as_deref(), Some("mydomain"));
        assert_eq!(r[2].domain_port, Some(5082));
        assert_eq!(
            (r[2].secret.as_deref(), r[2].authuser.as_deref()),
            (None, None)
        );
        assert_eq!(r[3].host, "sip_proxy");
        assert_eq!(r[3].contact, "1234");
    }

    #[test]
    fn sipconf_bindaddr_and_bindport() {
        let (c, _) = ok("[general]\nbindaddr=192.168.1.2\nbindport=5070\n");
        assert_eq!(c.general.udpbindaddr, "192.168.1.2:5070".parse().unwrap());
        assert_eq!(c.general.tcpbindaddr, "192.168.1.2:5070".parse().unwrap());
        let (c, _) = ok("[general]\nudpbindaddr=::\n");
        assert_eq!(c.general.udpbindaddr, "[::]:5060".parse().unwrap());
    }

    #[test]
    fn sipconf_every_peer_option() {
        let (c, w) = ok("[general]\n\
             [trunk]\ntype=peer\nhost=198.51.100.9\nport=5080\nsecret=s\nmd5secret=abc\n\
             remotesecret=r\ndefaultuser=du\nfromuser=fu\nfromdomain=fd.example\ncontext=ctx\n\
             callerid=Bob Smith <+15551234>\nmailbox=100@vm,200\nqualify=500\n\
             insecure=port,invite\npermit=10.0.0.0/8\ndeny=10.1.0.0/255.255.0.0\nacl=office\n\
             disallow=all\nallow=g722\ndtmfmode=inband\nnat=no\ncall-limit=2\n\
             outofcall_message_context=m\nlanguage=de\naccountcode=a1\n\
             [u]\ntype=user\nusername=legacy\ninsecure=very\nqualify=no\ndtmfmode=auto\n\
             callerid=5551000\n");
        assert!(w.is_empty(), "{w:?}");
        let p = &c.peers["trunk"];
        assert_eq!(p.kind, PeerType::Peer);
        assert!(p.is_peer() && !p.is_user());
        assert_eq!(p.host, Host::Ip(ip("198.51.100.9")));
        assert_eq!(p.port, Some(5080));
        assert_eq!(p.secret.as_deref(), Some("s"));
        assert_eq!(p.md5secret.as_deref(), Some("abc"));
        assert_eq!(p.remotesecret.as_deref(), Some("r"));
        assert_eq!(p.defaultuser.as_deref(), Some("du"));
        assert_eq!(p.fromuser.as_deref(), Some("fu"));
        assert_eq!(p.fromdomain.as_deref(), Some("fd.example"));
        assert_eq!(p.context, "ctx");
        assert_eq!(
            p.callerid,
            Some(CallerId {
                name: Some("Bob Smith".into()),
                number: Some("+15551234".into())
            })
        );
        assert_eq!(
            p.mailboxes,
            [
                Mailbox {
                    mailbox: "100".into(),
                    context: "vm".into()
                },
                Mailbox {
                    mailbox: "200".into(),
                    context: "default".into()
                }
            ]
        );
        assert_eq!(p.qualify, Qualify::MaxMs(500));
        assert_eq!(
            p.insecure,
            Insecure {
                port: true,
                invite: true
            }
        );
        assert_eq!(p.acl.len(), 2);
        assert_eq!(p.named_acls, ["office"]);
        assert_eq!(p.codecs, ["g722"]);
        assert_eq!(p.dtmfmode, DtmfMode::Inband);
        assert_eq!(p.nat, Nat::NO);
        assert_eq!(p.call_limit, Some(2));
        assert_eq!(p.outofcall_message_context.as_deref(), Some("m"));
        assert_eq!(p.language.as_deref(), Some("de"));
        assert_eq!(p.accountcode.as_deref(), Some("a1"));
        let u = &c.peers["u"];
        assert_eq!(u.kind, PeerType::User);
        assert_eq!(u.defaultuser.as_deref(), Some("legacy"));
        assert!(u.insecure.port && u.insecure.invite);
        assert_eq!(u.qualify, Qualify::Off);
        assert_eq!(u.dtmfmode, DtmfMode::Auto);
        assert_eq!(
            u.callerid,
            Some(CallerId {
                name: None,
                number: Some("5551000".into())
            })
        );
    }

    #[test]
    fn sipconf_nat_values() {
        let nat = |v: &str| {
            let (c, w) = ok(&format!("[general]\nnat={v}\n"));
            (c.general.nat, w.len())
        };
        assert_eq!(nat("no"), (Nat::NO, 0));
        assert_eq!(nat("never"), (Nat::NO, 0));
        assert_eq!(nat("auto_force_rport"), (Nat::default(), 0));
        let (n, _) = nat("auto_comedia,auto_force_rport");
        assert!(n.auto_comedia && n.auto_force_rport && !n.force_rport);
        let (n, w) = nat("yes");
        assert!(n.force_rport && n.comedia && w == 1);
        let (n, w) = nat("route");
        assert!(n.force_rport && !n.comedia && w == 1);
        let e = errs("[general]\nnat=sometimes\n");
        assert!(e[0].contains("sip.conf:2:1") && e[0].contains("expected no, force_rport"));
    }

    #[test]
    fn sipconf_insecure_values() {
        let ins = |v: &str| {
            ok(&format!("[p]\ntype=peer\nhost=h\ninsecure={v}\n"))
                .0
                .peers["p"]
                .insecure
        };
        assert_eq!(
            ins("port"),
            Insecure {
                port: true,
                invite: false
            }
        );
        assert_eq!(
            ins("invite"),
            Insecure {
                port: false,
                invite: true
            }
        );
        assert_eq!(
            ins("yes"),
            Insecure {
                port: true,
                invite: true
            }
        );
        assert_eq!(ins("no"), Insecure::default());
    }

    #[test]
    fn sipconf_identity_and_redirect_options() {
        let (c, w) = ok("[general]\npromiscredir=yes\nsendrpid=pai\n\
             [a]\ntype=peer\nhost=127.0.0.1\n\
             [b]\ntype=peer\nhost=127.0.0.1\nsendrpid=yes\ntrustrpid=yes\npromiscredir=no\nsend_diversion=no\n");
        assert!(w.is_empty(), "{w:?}");
        let (a, b) = (&c.peers["a"], &c.peers["b"]);
        assert!(a.party.promiscredir && !a.party.trustrpid && a.party.send_diversion);
        assert_eq!(a.party.sendrpid, SendRpid::Pai);
        assert_eq!(b.party.sendrpid, SendRpid::Rpid);
        assert!(!b.party.promiscredir && b.party.trustrpid && !b.party.send_diversion);
        let e = errs("[b]\ntype=peer\nhost=127.0.0.1\nsendrpid=maybe\n");
        assert!(
            e[0].starts_with("sip.conf:4:1") && e[0].contains("rpid or pai"),
            "{e:?}"
        );
    }

    #[test]
    fn sipconf_session_timers() {
        let (c, w) = ok("[general]\nsession-timers=originate\nsession-expires=600\n\
             [a]\ntype=peer\nhost=dynamic\n\
             [b]\ntype=peer\nhost=dynamic\nsession-timers=refuse\nsession-minse=120\nsession-refresher=uac\n");
        assert!(w.is_empty(), "{w:?}");
        let a = c.peers["a"].session;
        assert_eq!(
            (a.mode, a.expires, a.minse, a.refresher_uac),
            (StMode::Originate, 600, 90, false)
        );
        let b = c.peers["b"].session;
        assert_eq!(
            (b.mode, b.expires, b.minse, b.refresher_uac),
            (StMode::Refuse, 600, 120, true)
        );
        let e = errs("[general]\nsession-minse=30\n");
        assert!(
            e[0].starts_with("sip.conf:2:1") && e[0].contains("at least 90"),
            "{e:?}"
        );
        let e = errs("[general]\nsession-timers=always\n");
        assert!(e[0].contains("originate, accept or refuse"), "{e:?}");
    }

    #[test]
    fn sipconf_outboundproxy() {
        let (c, w) = ok("[general]\noutboundproxy=proxy.example:5070\n\
             [a]\ntype=peer\nhost=dynamic\n\
             [b]\ntype=peer\nhost=dynamic\noutboundproxy=udp://10.0.0.1,force\n");
        assert!(w.is_empty(), "{w:?}");
        let a = c.peers["a"].outboundproxy.clone().unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.force),
            ("proxy.example", Some(5070), false)
        );
        let b = c.peers["b"].outboundproxy.clone().unwrap();
        assert_eq!((b.host.as_str(), b.port, b.force), ("10.0.0.1", None, true));
        let e = errs("[b]\ntype=peer\nhost=dynamic\noutboundproxy=tls://p.example\n");
        assert!(
            e[0].starts_with("sip.conf:4:1") && e[0].contains("tls"),
            "{e:?}"
        );
        let e = errs("[b]\ntype=peer\nhost=dynamic\noutboundproxy=p.example,sometimes\n");
        assert!(e[0].contains("host[:port][,force]"), "{e:?}");
    }

    #[test]
    fn sipconf_unknown_options_warn() {
        let (c, w) =
            ok("[general]\nallowoverlap=no\n[p]\ntype=friend\nhost=dynamic\ndirectmedia=no\n");
        assert_eq!(c.peers.len(), 1);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("sip.conf:2:1:") && w[0].contains("'allowoverlap'"));
        assert!(w[1].starts_with("sip.conf:6:1:") && w[1].contains("'directmedia'"));
        // Missing type: skipped with a warning, like chan_sip.
        let (c, w) = ok("[notype]\nhost=dynamic\n");
        assert!(c.peers.is_empty());
        assert!(w[0].contains("lacks type"));
    }

    #[test]
    fn sipconf_call_completion_options() {
        let (c, w) = ok("[p]\ntype=friend\nhost=dynamic\ncc_agent_policy=generic\n\
             cc_monitor_policy=always\ncc_recall_timer=9\ncc_callback_sub=cb,s,1\n\
             cc_offer_timer=soon\ncc_monitor_policy=maybe\n");
        let p = &c.peers["p"];
        assert_eq!(p.cc.get("cc_agent_policy").as_deref(), Some("generic"));
        assert_eq!(p.cc.recall_timer, 9);
        assert_eq!(p.cc.callback_sub, "cb,s,1");
        assert_eq!(p.cc.offer_timer, 20);
        assert_eq!(p.cc.get("cc_monitor_policy").as_deref(), Some("never"));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("sip.conf:8:1:"), "{w:?}");
        assert!(w[1].contains("Switching to 'never'"), "{w:?}");
    }

    #[test]
    fn sipconf_tls_options() {
        let (c, w) = ok(
            "[general]\ntcpenable=yes\ntlsenable=yes\ntlsbindaddr=127.0.0.1\n\
             tlscertfile=/etc/ferrisk/keys/sip.pem\ntlscafile=/etc/ferrisk/keys/ca.pem\n\
             tlscapath=/etc/ssl/certs\ntlsverifyclient=yes\ntlsdontverifyserver=yes\n\
             tlsclientmethod=tlsv1_2\ntransport=tcp,udp\n\
             [a]\ntype=friend\nhost=dynamic\n\
             [b]\ntype=peer\nhost=192.0.2.1\ntransport=tls,udp,tls\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let t = &c.general.tls;
        assert!(t.enable && t.verifyclient && t.dontverifyserver);
        assert_eq!(t.bindaddr, "127.0.0.1:5061".parse().unwrap());
        assert_eq!(t.certfile, "/etc/ferrisk/keys/sip.pem");
        // No tlsprivatekey: the key is read from the certificate file.
        assert_eq!(t.privatekey, None);
        assert_eq!(t.cafile.as_deref(), Some("/etc/ferrisk/keys/ca.pem"));
        assert_eq!(t.capath.as_deref(), Some("/etc/ssl/certs"));
        assert_eq!(t.clientmethod, TlsClientMethod::Tls12);
        assert_eq!(c.general.transports, vec![Transport::Tcp, Transport::Udp]);
        // A peer without transport= takes [general]'s; a list is kept in order, once each.
        assert_eq!(
            c.peers["a"].transports,
            vec![Transport::Tcp, Transport::Udp]
        );
        assert_eq!(c.peers["a"].transport(), Transport::Tcp);
        assert_eq!(
            c.peers["b"].transports,
            vec![Transport::Tls, Transport::Udp]
        );

        // Defaults: off, port 5061 on the UDP address, asterisk.pem, UDP.
        let (c, w) = ok("[general]\nudpbindaddr=10.0.0.1:5070\ntlsbindaddr=10.0.0.2:5071\n");
        assert!(w.is_empty(), "{w:?}");
        assert!(!c.general.tls.enable);
        assert_eq!(c.general.tls.bindaddr, "10.0.0.2:5071".parse().unwrap());
        assert_eq!(c.general.transports, vec![Transport::Udp]);
        let (c, _) = ok("[general]\nudpbindaddr=10.0.0.1:5070\ntlsprivatekey=/k.pem\n");
        assert_eq!(c.general.tls.bindaddr, "10.0.0.1:5061".parse().unwrap());
        assert_eq!(c.general.tls.certfile, "asterisk.pem");
        assert_eq!(c.general.tls.privatekey.as_deref(), Some("/k.pem"));
    }

    #[test]
    fn sipconf_tls_warnings() {
        // What rustls cannot do is accepted with a warning naming the line.
        let (c, w) = ok(
            "[general]\ntlsclientmethod=tlsv1\ntlscipher=RC4-MD5:ALL:!aNULL\n\
             tlsverifyclient=yes\n[p]\ntype=peer\nhost=h\ntransport=tls\n\
             [q]\ntype=peer\nhost=h\ntransport=tcp\n",
        );
        assert_eq!(w.len(), 5, "{w:#?}");
        assert!(w[0].starts_with("sip.conf:2:1:") && w[0].contains("tlsclientmethod=tlsv1"));
        assert!(w[1].starts_with("sip.conf:3:1:") && w[1].contains("RC4-MD5 not a cipher suite"));
        assert!(w[2].starts_with("sip.conf:1:1:") && w[2].contains("tlsverifyclient"));
        assert!(w[3].starts_with("sip.conf:5:1:") && w[3].contains("tlsenable=no"));
        assert!(w[4].contains("tcpenable=no"));
        assert_eq!(c.general.tls.clientmethod, TlsClientMethod::Flexible);
        assert!(!c.general.tls.verifyclient);
        assert_eq!(c.general.tls.cipher.as_deref(), Some("RC4-MD5:ALL:!aNULL"));
        let (_, w) = ok("[general]\ntlsclientmethod=tlsv9\n");
        assert!(w[0].contains("unknown tlsclientmethod 'tlsv9'"), "{w:?}");
    }

    #[test]
    fn sipconf_transport_errors() {
        let e = errs(
            "[general]\ntransport=udp,sctp\ntlsenable=maybe\ntlsbindaddr=1.2.3:99\n\
             [p]\ntype=peer\nhost=h\n  transport = ws\n[q]\ntype=peer\nhost=h\ntransport=,\n",
        );
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(e[0].starts_with("sip.conf:2:1: transport:") && e[0].contains("'sctp'"));
        assert!(e[1].starts_with("sip.conf:3:1: tlsenable:"));
        assert!(e[2].starts_with("sip.conf:4:1: tlsbindaddr:"));
        assert!(e[3].starts_with("sip.conf:8:3: transport:") && e[3].contains("'ws'"));
        assert!(e[4].starts_with("sip.conf:12:1: transport:"));
    }

    #[test]
    fn sipconf_errors_have_locations() {
        let e = errs(
            "[general]\nbindport=fivethousand\nudpbindaddr=1.2.3:5060\n\
                      [p]\ntype=peer\nhost=h\nport=99999\n  permit = 10.0.0.300/8\n\
                      dtmfmode=morse\nqualify=maybe\ncall-limit=-1\n\
                      [q]\ntype=phone\n",
        );
        assert_eq!(e.len(), 8, "{e:#?}");
        assert!(e[0].starts_with("sip.conf:2:1: bindport:") && e[0].contains("port number"));
        assert!(e[1].starts_with("sip.conf:3:1: udpbindaddr:") && e[1].contains("ip[:port]"));
        assert!(e[2].starts_with("sip.conf:7:1: port:"));
        assert!(e[3].starts_with("sip.conf:8:3: permit:") && e[3].contains("IP address"));
        assert!(e[4].starts_with("sip.conf:9:1: dtmfmode:") && e[4].contains("rfc2833"));
        assert!(e[5].starts_with("sip.conf:10:1: qualify:"));
        assert!(e[6].starts_with("sip.conf:11:1: call-limit:"));
        assert!(e[7].starts_with("sip.conf:13:1: type:") && e[7].contains("friend, peer or user"));
        let e = errs("[general]\nregister => nohost\nregister => u@h~soon\n");
        assert!(e[0].starts_with("sip.conf:2:1: register:") && e[0].contains("@host"));
        assert!(e[1].starts_with("sip.conf:3:1: register:") && e[1].contains("expiry"));
    }

    #[test]
    fn sipconf_acl_order() {
        let peer = |rules: &str| {
            let (c, _) = ok(&format!("[p]\ntype=peer\nhost=h\n{rules}"));
            c.peers["p"].clone()
        };
        // No rules: allowed.
        assert!(peer("").permits(ip("8.8.8.8")));
        // Classic: deny all, then permit the LAN. The last matching rule wins.
        let p = peer("deny=0.0.0.0/0.0.0.0\npermit=192.168.1.0/255.255.255.0\n");
        assert!(p.permits(ip("192.168.1.20")));
        assert!(!p.permits(ip("192.168.2.20")));
        // Reversed order: the deny-all comes last and matches everything.
        let p = peer("permit=192.168.1.0/24\ndeny=0.0.0.0/0\n");
        assert!(!p.permits(ip("192.168.1.20")));
        // A host inside a permitted net denied afterwards.
        let p = peer("deny=0.0.0.0/0\npermit=10.0.0.0/8\ndeny=10.0.0.66\n");
        assert!(p.permits(ip("10.0.0.65")));
        assert!(!p.permits(ip("10.0.0.66")));
        assert!(!p.permits(ip("11.0.0.1")));
        // Comma lists and negation.
        let p = peer("deny=!10.0.0.0/8\n");
        assert!(p.permits(ip("10.1.1.1")));
        assert!(!p.permits(ip("172.16.0.1")));
        let p = peer("deny=0.0.0.0/0\npermit=10.0.0.1,10.0.0.2\n");
        assert!(p.permits(ip("10.0.0.2")) && !p.permits(ip("10.0.0.3")));
        // IPv6 rules do not match IPv4 addresses; v4-mapped v6 matches v4 rules.
        let p = peer("deny=::/0\npermit=2001:db8::/32\n");
        assert!(p.permits(ip("2001:db8::1")));
        assert!(!p.permits(ip("2001:db9::1")));
        assert!(p.permits(ip("1.2.3.4")));
        let p = peer("deny=1.2.3.4\n");
        assert!(!p.permits(ip("::ffff:1.2.3.4")));
    }

    #[test]
    fn sipconf_codec_ops() {
        let codecs = |general: &str, peer: &str| {
            let (c, w) = ok(&format!(
                "[general]\n{general}[p]\ntype=peer\nhost=h\n{peer}"
            ));
            (c.peers["p"].codecs.clone(), w)
        };
        let (c, _) = codecs("", "");
        assert_eq!(c, ["ulaw", "alaw", "gsm", "h263"]);
        let (c, _) = codecs("disallow=all\nallow=alaw\n", "allow=ulaw\n");
        assert_eq!(c, ["alaw", "ulaw"]);
        let (c, _) = codecs("", "disallow=all\nallow=g729,ulaw\nallow=alaw\n");
        assert_eq!(c, ["g729", "ulaw", "alaw"]);
        let (c, _) = codecs("", "disallow=gsm,h263\n");
        assert_eq!(c, ["ulaw", "alaw"]);
        let (c, _) = codecs("", "allow=ulaw\n"); // already present: keeps its place
        assert_eq!(c, ["ulaw", "alaw", "gsm", "h263"]);
        let (c, _) = codecs("", "disallow=all\nallow=ULAW:20\nallow=!ulaw,alaw\n");
        assert_eq!(c, ["alaw"]);
        let (c, _) = codecs("", "disallow=all\nallow=all\n");
        assert_eq!(c.len(), AUDIO_CODECS.len());
        assert_eq!(c[0], "g723");
        let (c, w) = codecs("", "disallow=all\nallow=ulaw,nosuchcodec\n");
        assert_eq!(c, ["ulaw"]);
        assert!(w[0].starts_with("sip.conf:6:1:") && w[0].contains("'nosuchcodec'"));
    }

    #[test]
    fn sipconf_host_and_misc() {
        let (c, w) = ok(
            "[a]\ntype=friend\nhost=[2001:db8::5]\n[b]\ntype=peer\n[b2]\ntype=peer\nhost=dynamic\n",
        );
        assert_eq!(c.peers["a"].host, Host::Ip(ip("2001:db8::5")));
        assert_eq!(c.peers["b"].host, Host::Dynamic);
        assert!(w.iter().any(|w| w.contains("'b' has no host")));
        let e = errs("[a]\ntype=peer\nhost=bad host!\n");
        assert!(e[0].starts_with("sip.conf:3:1: host:"));
        let e = errs("[general]\nminexpiry=100\nmaxexpiry=50\n");
        assert!(e[0].contains("minexpiry (100) must not exceed maxexpiry (50)"));
        assert_eq!(CallerId::parse("\"\" <100>").name, None);
        let (c, _) = ok(
            "[t]\ntype=peer\nhost=sip.example.com:5080\n[v6]\ntype=peer\nhost=[2001:db8::1]:5070\n",
        );
        assert_eq!(c.peers["t"].host, Host::Name("sip.example.com".into()));
        assert_eq!(c.peers["t"].port, Some(5080));
        assert_eq!(c.peers["v6"].host, Host::Ip(ip("2001:db8::1")));
        assert_eq!(c.peers["v6"].port, Some(5070));
        assert_eq!(c.peer("T").map(|p| p.name.as_str()), Some("t"));
        assert!(c.peer("nope").is_none());
        let e = errs("[a]\ntype=peer\nhost=h:notaport\n");
        assert!(e[0].starts_with("sip.conf:3:1: host:") && e[0].contains("port"));
        assert_eq!(
            CallerId::parse("Reception").name.as_deref(),
            Some("Reception")
        );
    }
}
