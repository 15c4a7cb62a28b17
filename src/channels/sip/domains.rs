//! chan_sip's local SIP domains: the `domain=domain[,context]` lines of sip.conf and, with
//! `autodomain=yes`, our own addresses and host name. `CHECKSIPDOMAIN()` asks whether a
//! domain is one of them; the core refuses INVITE and REFER to another domain when
//! `allowexternaldomains=no` (403), REGISTER to another domain whenever domains are
//! configured (404), and sends guest calls to a listed domain to its context.
//! Pure: the host name is an argument.

use crate::channels::sipconf::{SipDomain, SipGeneral};
use std::net::SocketAddr;

/// The domains of sip.conf's `[general]` with `autodomain`'s added (after them, as
/// chan_sip adds them after reading the file): the UDP bind address unless it is the
/// wildcard, the TCP one when it differs, the external address or host name, and
/// `hostname`. Also the notice chan_sip logs when the bind address is the wildcard.
pub fn local_domains(g: &SipGeneral, hostname: &str) -> (Vec<SipDomain>, Option<&'static str>) {
    let mut out = g.domains.clone();
    let mut notice = None;
    if !g.autodomain {
        return (out, notice);
    }
    let auto = |out: &mut Vec<SipDomain>, d: String| {
        if !d.is_empty() {
            out.push(SipDomain {
                domain: d,
                context: None,
            });
        }
    };
    let addr = |a: &SocketAddr| a.ip().to_string();
    if g.udpbindaddr.ip().is_unspecified() {
        notice = Some(
            "chan_sip.c: Can't add wildcard IP address to domain list, please add IP address \
             to domain manually.",
        );
    } else {
        auto(&mut out, addr(&g.udpbindaddr));
    }
    if g.tcpenable
        && !g.tcpbindaddr.ip().is_unspecified()
        && g.tcpbindaddr.ip() != g.udpbindaddr.ip()
    {
        auto(&mut out, addr(&g.tcpbindaddr));
    }
    if let Some(e) = &g.externaddr {
        auto(&mut out, e.host.clone());
    }
    auto(&mut out, hostname.to_string());
    (out, notice)
}

/// chan_sip's `check_sip_domain`: `Some(context)` (`None` inside when the line names no
/// context) if `domain` is local, case-insensitively; `None` if not.
pub fn check<'a>(domains: &'a [SipDomain], domain: &str) -> Option<Option<&'a str>> {
    domains
        .iter()
        .find(|d| d.domain.eq_ignore_ascii_case(domain))
        .map(|d| d.context.as_deref())
}

/// The host of a URI's host part, without a port (`[v6]:port` too).
pub fn host_only(hostport: &str) -> &str {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::sipconf::ExternAddr;

    fn dom(d: &str, c: Option<&str>) -> SipDomain {
        SipDomain {
            domain: d.into(),
            context: c.map(str::to_string),
        }
    }

    #[test]
    fn configured_domains_match_case_insensitively_with_their_context() {
        let d = vec![dom("pbx.example", None), dom("Customer.com", Some("cust"))];
        assert_eq!(check(&d, "PBX.example"), Some(None));
        assert_eq!(check(&d, "customer.com"), Some(Some("cust")));
        assert_eq!(check(&d, "other.example"), None);
        assert_eq!(check(&[], "pbx.example"), None);
    }

    #[test]
    fn autodomain_adds_our_addresses_and_host_name() {
        let mut g = SipGeneral {
            domains: vec![dom("a.example", None)],
            ..SipGeneral::default()
        };
        let (d, n) = local_domains(&g, "host1");
        assert_eq!(d, vec![dom("a.example", None)]);
        assert!(n.is_none());
        g.autodomain = true;
        let (d, n) = local_domains(&g, "host1");
        assert!(n.unwrap().contains("wildcard"));
        assert_eq!(d, vec![dom("a.example", None), dom("host1", None)]);
        g.udpbindaddr = "192.0.2.1:5060".parse().unwrap();
        g.externaddr = Some(ExternAddr {
            host: "pbx.public.example".into(),
            port: None,
        });
        let (d, n) = local_domains(&g, "host1");
        assert!(n.is_none());
        let names: Vec<&str> = d.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(
            names,
            ["a.example", "192.0.2.1", "pbx.public.example", "host1"]
        );
    }

    #[test]
    fn host_only_drops_the_port() {
        assert_eq!(host_only("a.example:5060"), "a.example");
        assert_eq!(host_only("a.example"), "a.example");
        assert_eq!(host_only("[::1]:5060"), "::1");
        assert_eq!(host_only("::1"), "::1");
    }
}
