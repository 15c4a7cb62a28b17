//! Host names chan_sip sends to, looked up before the core needs them. The core runs under
//! the driver's lock on an async worker, so it never asks the system resolver itself (a slow
//! or dead DNS server would stall every SIP message and call behind it): it reads the
//! addresses here, and the glue (`channels/sip/mod.rs`) looks names up on the blocking pool
//! — the configured peers' hosts and the `register =>` servers at start and on reload and
//! again every [`REFRESH`], a name in a dial string or MessageSend destination just before
//! it is used. A name nobody looked up (a Contact of a stray response) is not resolved.
//!
//! A name may have several addresses: every IPv4 address of its A records, and with
//! `srvlookup` the targets of its `_sip._udp` SRV records (kept under that name, in RFC
//! 2782 order, each with its port). A call tries them in order ([`super::Leg::fallback`]).

use super::Core;
use crate::channels::sipconf::{Host, PeerType, SipConfig};
use crate::net::dns::Resolver;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How old a looked-up address may be before it is looked up again.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How soon a name that did not resolve is tried again.
pub const RETRY: Duration = Duration::from_secs(10);
/// At most this many names are kept (then the oldest goes).
const MAX_NAMES: usize = 4096;

/// An address a name resolved to, with the port an SRV record gave.
pub type Addr = (IpAddr, Option<u16>);

/// What looking up names found: each name and its addresses (none: it did not resolve).
pub type Found = Vec<(String, Vec<Addr>)>;

/// At most this many addresses are kept per name.
const MAX_ADDRS: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    /// Empty: the name did not resolve.
    addrs: Vec<Addr>,
    at: Instant,
}

/// Looked-up host names and their (IPv4) addresses.
#[derive(Debug, Default)]
pub struct Names {
    map: HashMap<String, Entry>,
}

impl Names {
    /// The address of `host` (an IP literal, or a name looked up before) at `port`.
    pub fn addr(&self, host: &str, port: u16) -> Option<SocketAddr> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Some(SocketAddr::new(ip, port));
        }
        let e = self.map.get(&host.to_ascii_lowercase())?;
        e.addrs
            .first()
            .map(|(ip, p)| SocketAddr::new(*ip, p.unwrap_or(port)))
    }

    /// Every address of `host` (an IP literal, or a name looked up before), at `port`
    /// unless an SRV record gave one.
    pub fn addrs(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return vec![SocketAddr::new(ip, port)];
        }
        self.map
            .get(&host.to_ascii_lowercase())
            .map(|e| {
                e.addrs
                    .iter()
                    .map(|(ip, p)| SocketAddr::new(*ip, p.unwrap_or(port)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Keep what a look-up of `host` found (its first address, or nothing).
    pub fn learn(&mut self, host: &str, ip: Option<IpAddr>, now: Instant) {
        self.learn_addrs(host, ip.map(|ip| (ip, None)).into_iter().collect(), now)
    }

    /// Keep the addresses a look-up of `host` found.
    pub fn learn_addrs(&mut self, host: &str, mut addrs: Vec<Addr>, now: Instant) {
        addrs.truncate(MAX_ADDRS);
        let key = host.to_ascii_lowercase();
        if self.map.len() >= MAX_NAMES && !self.map.contains_key(&key) {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        self.map.insert(key, Entry { addrs, at: now });
    }

    /// Whether `host` needs a look-up: a name not known yet, or known for longer than
    /// [`REFRESH`] ([`RETRY`] when it did not resolve). IP literals never do.
    pub fn due(&self, host: &str, now: Instant) -> bool {
        if host.is_empty() || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return false;
        }
        match self.map.get(&host.to_ascii_lowercase()) {
            None => true,
            Some(e) => {
                let max = if e.addrs.is_empty() { RETRY } else { REFRESH };
                now.saturating_duration_since(e.at) >= max
            }
        }
    }

    /// Forget names looked up for a single use (not in `keep`) once they are due again.
    pub fn expire(&mut self, keep: &[String], now: Instant) {
        self.map.retain(|k, e| {
            keep.iter().any(|n| n.eq_ignore_ascii_case(k))
                || now.saturating_duration_since(e.at) < REFRESH
        });
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Look `host` up through the system resolver: its first IPv4 address. Blocking: call it
/// on the blocking pool.
pub fn lookup(host: &str) -> Option<IpAddr> {
    system_addrs(host).into_iter().next()
}

/// Every IPv4 address the system resolver gives for `host`, in its order, each once.
fn system_addrs(host: &str) -> Vec<IpAddr> {
    use std::net::ToSocketAddrs;
    let mut out: Vec<IpAddr> = Vec::new();
    if let Ok(it) = (host, 0).to_socket_addrs() {
        for a in it.filter(|a| a.is_ipv4()) {
            if !out.contains(&a.ip()) {
                out.push(a.ip());
            }
        }
    }
    out
}

/// The SRV name chan_sip looks up for `host` (`_sip._udp.host`).
pub fn srv_name(host: &str) -> String {
    format!("_sip._udp.{host}")
}

/// IPv4 addresses of `host`: from `dns` when name servers are configured, else the system
/// resolver (which reads /etc/hosts).
fn host_addrs(host: &str, dns: Option<&Resolver>) -> Vec<IpAddr> {
    match dns {
        Some(r) => r
            .a(host)
            .unwrap_or_default()
            .into_iter()
            .map(IpAddr::V4)
            .collect(),
        None => system_addrs(host),
    }
}

/// Look one name up: an SRV name (`_sip._…`) gives its targets' addresses in RFC 2782
/// order with their ports; any other name its IPv4 addresses. Blocking.
pub fn lookup_addrs(name: &str, dns: Option<&Resolver>) -> Vec<Addr> {
    if name.starts_with("_sip._") {
        let system;
        let r = match dns {
            Some(r) => r,
            None => {
                system = Resolver::system();
                &system
            }
        };
        let recs = r.srv(name).unwrap_or_default();
        let mut out = Vec::new();
        for s in crate::net::dns::order_srv(recs, rand::random::<f64>) {
            for ip in host_addrs(&s.target, dns) {
                if out.len() < MAX_ADDRS {
                    out.push((ip, Some(s.port)));
                }
            }
        }
        return out;
    }
    host_addrs(name, dns)
        .into_iter()
        .map(|ip| (ip, None))
        .collect()
}

/// [`lookup_addrs`] each of `names`, through the configured name servers (`dnsservers`)
/// if any. Blocking.
pub fn lookup_all(names: Vec<String>, dnsservers: &[SocketAddr]) -> Found {
    let dns = (!dnsservers.is_empty()).then(|| Resolver {
        servers: dnsservers.to_vec(),
    });
    names
        .into_iter()
        .map(|h| {
            let a = lookup_addrs(&h, dns.as_ref());
            (h, a)
        })
        .collect()
}

/// The names looked up for an `outboundproxy`: its host (and SRV name, with `srvlookup`
/// and no port).
fn proxy_names(o: &crate::channels::sipconf::OutboundProxy, srv: bool) -> Vec<String> {
    if srv && o.port.is_none() {
        vec![o.host.clone(), srv_name(&o.host)]
    } else {
        vec![o.host.clone()]
    }
}

/// The names `cfg` sends to: peers' hosts (and their SRV names, with `srvlookup` and no
/// `port=`) and `register =>` servers, each once.
pub fn config_names(cfg: &SipConfig) -> Vec<String> {
    let srv = cfg.general.srvlookup;
    let mut v: Vec<String> = cfg
        .peers
        .values()
        .flat_map(|p| match &p.host {
            Host::Name(n) if srv && p.port.is_none() => vec![n.clone(), srv_name(n)],
            Host::Name(n) => vec![n.clone()],
            _ => Vec::new(),
        })
        .chain(cfg.registrations.iter().map(|r| r.host.clone()))
        .chain(
            cfg.peers
                .values()
                .filter_map(|p| p.outboundproxy.as_ref())
                .chain(cfg.general.outboundproxy.as_ref())
                .flat_map(|o| proxy_names(o, srv)),
        )
        .filter(|n| n.trim_matches(['[', ']']).parse::<IpAddr>().is_err())
        .collect();
    v.sort_unstable_by_key(|n| n.to_ascii_lowercase());
    v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    v
}

impl Core {
    /// The address of `host` at `port`, from [`Names`] (never the resolver).
    pub(super) fn host_addr(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.names.addr(host, port)
    }

    /// Every address a call to `host` tries, in order: with `srvlookup` and no explicit
    /// port, its SRV targets if it has any; else its A records at `port` (5060).
    pub(super) fn host_addrs(&self, host: &str, port: Option<u16>) -> Vec<SocketAddr> {
        let is_ip = host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok();
        if self.cfg.general.srvlookup && port.is_none() && !is_ip {
            let srv = self.names.addrs(&srv_name(host), 5060);
            if !srv.is_empty() {
                return srv;
            }
        }
        self.names.addrs(host, port.unwrap_or(5060))
    }

    /// The names `SIP/…` dial data needs looked up before the call (the host and, with
    /// `srvlookup` and no port, its SRV name), those due.
    pub fn dial_names_to_look_up(&self, data: &str, now: Instant) -> Vec<String> {
        let (part, _) = super::split_dial(data);
        let proxy = match self.cfg.peer(part).filter(|p| p.kind != PeerType::User) {
            Some(p) => p.outboundproxy.as_ref(),
            None => self.cfg.general.outboundproxy.as_ref(),
        };
        if let Some(o) = proxy {
            return proxy_names(o, self.cfg.general.srvlookup)
                .into_iter()
                .filter(|n| self.names.due(n, now))
                .collect();
        }
        let Some(host) = self.dial_name_to_look_up(data, now) else {
            return Vec::new();
        };
        let explicit_port = match self.cfg.peer(part).filter(|p| p.kind != PeerType::User) {
            Some(p) => p.port.is_some(),
            None => super::split_hostport(part).1.is_some(),
        };
        let mut v = vec![host.clone()];
        if self.cfg.general.srvlookup && !explicit_port {
            v.push(srv_name(&host));
        }
        v
    }

    /// Of the names the configuration sends to ([`config_names`]), those due for a look-up
    /// at `now`; names looked up for one call and due again are forgotten.
    pub fn names_due(&mut self, now: Instant) -> Vec<String> {
        let keep = config_names(&self.cfg);
        self.names.expire(&keep, now);
        keep.into_iter()
            .filter(|n| self.names.due(n, now))
            .collect()
    }

    /// The host name `SIP/…` dial data (`peer`, `peer/exten`, `exten@peer`,
    /// `exten@host[:port]`) sends to, when it is due for a look-up (as [`Core::resolve`]
    /// picks the destination).
    pub fn dial_name_to_look_up(&self, data: &str, now: Instant) -> Option<String> {
        let (part, _) = super::split_dial(data);
        let peer = self.cfg.peer(part).filter(|p| p.kind != PeerType::User);
        self.name_due_for(peer.map(|p| &p.host), part, now)
    }

    /// The host name a MessageSend destination (`peer`, `user@peer`, `user@host[:port]`)
    /// sends to, when it is due for a look-up (as [`Core::send_message`] picks it).
    pub fn message_name_to_look_up(&self, to: &str, now: Instant) -> Option<String> {
        let to = to
            .trim()
            .trim_start_matches("sip:")
            .trim_start_matches("SIP/");
        let part = to.split_once('@').map_or(to, |(_, h)| h);
        self.name_due_for(self.cfg.peer(part).map(|p| &p.host), part, now)
    }

    /// A peer's host name, or the host of `part` when there is no peer, if due.
    fn name_due_for(&self, peer_host: Option<&Host>, part: &str, now: Instant) -> Option<String> {
        let host = match peer_host {
            Some(Host::Name(n)) => n.clone(),
            Some(_) => return None,
            None => super::split_hostport(part).0,
        };
        self.names.due(&host, now).then_some(host)
    }

    /// Keep looked-up addresses (and the peers' source addresses that follow from them).
    pub fn learn_names(&mut self, found: Found, now: Instant) {
        if found.is_empty() {
            return;
        }
        for (host, addrs) in found {
            self.names.learn_addrs(&host, addrs, now);
        }
        self.resolve_peer_hosts();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_resolve_and_names_come_from_look_ups() {
        let now = Instant::now();
        let mut n = Names::default();
        assert_eq!(
            n.addr("192.0.2.1", 5080),
            Some("192.0.2.1:5080".parse().unwrap())
        );
        assert_eq!(n.addr("[::1]", 5060), Some("[::1]:5060".parse().unwrap()));
        assert_eq!(
            n.addr("sip.example.com", 5060),
            None,
            "never asks the resolver"
        );
        assert!(n.due("sip.example.com", now));
        assert!(!n.due("192.0.2.1", now));
        assert!(!n.due("", now));
        n.learn("SIP.example.com", Some([192, 0, 2, 7].into()), now);
        assert_eq!(
            n.addr("sip.example.COM", 5061),
            Some("192.0.2.7:5061".parse().unwrap())
        );
        assert!(!n.due("sip.example.com", now + REFRESH - Duration::from_secs(1)));
        assert!(n.due("sip.example.com", now + REFRESH));
        n.learn("gone.example.com", None, now);
        assert_eq!(n.addr("gone.example.com", 5060), None);
        assert!(!n.due("gone.example.com", now));
        assert!(n.due("gone.example.com", now + RETRY));
    }

    #[test]
    fn single_use_names_expire_and_the_table_is_bounded() {
        let now = Instant::now();
        let mut n = Names::default();
        n.learn("trunk.example.com", Some([192, 0, 2, 1].into()), now);
        n.learn("once.example.com", Some([192, 0, 2, 2].into()), now);
        n.expire(&["trunk.example.com".into()], now + REFRESH / 2);
        assert_eq!(n.len(), 2);
        n.expire(&["TRUNK.example.com".into()], now + REFRESH);
        assert_eq!(n.len(), 1);
        assert!(n.addr("trunk.example.com", 5060).is_some());
        for i in 0..MAX_NAMES + 10 {
            n.learn(
                &format!("h{i}.example.com"),
                None,
                now + Duration::from_millis(i as u64 + 1),
            );
        }
        assert_eq!(n.len(), MAX_NAMES);
        assert!(
            n.addr("trunk.example.com", 5060).is_none(),
            "the oldest went first"
        );
    }

    #[test]
    fn lookup_answers_ipv4_for_localhost_and_nothing_for_garbage() {
        assert_eq!(lookup("localhost"), Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(lookup("no such host.invalid"), None);
    }
}
