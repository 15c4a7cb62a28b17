//! Who is calling and where a call was redirected, as SIP headers carry it: `Diversion`
//! (RFC 5806) in and out, `P-Asserted-Identity` (RFC 3325) and `Remote-Party-ID` (the
//! draft chan_sip speaks) in and out, the `Contact` of a 3xx, and the headers a dialplan
//! adds to an outgoing INVITE with `SIPAddHeader()` (channel variables `SIPADDHEADERnn`).
//! Pure functions over header values: the core decides when they apply.

use crate::pbx::channel::{
    redirecting_reason_from_sip, redirecting_reason_to_sip, PartyId, Redirecting,
};
use crate::sip::message::SipMessage;
use crate::sip::uri::NameAddr;

/// Prefix of the variables `SIPAddHeader()` sets (`__SIPADDHEADER01`, …).
pub const ADDHEADER_PREFIX: &str = "SIPADDHEADER";

/// Name and number of a `name-addr` header value (the URI's user is the number).
pub fn party_of(value: &str) -> Option<PartyId> {
    let na = NameAddr::parse(value.trim()).ok()?;
    let num = na.uri.user_decoded().filter(|u| !u.is_empty());
    let name = na.display_name().filter(|n| !n.is_empty());
    let p = PartyId { name, num };
    (!p.is_empty()).then_some(p)
}

/// The identity a request or response asserts: `P-Asserted-Identity` first, then
/// `Remote-Party-ID` (a `party=called` RPID in a request is not the caller), as chan_sip
/// reads them for `trustrpid` peers.
pub fn asserted_identity(m: &SipMessage) -> Option<PartyId> {
    if let Some(p) = m
        .headers()
        .elements("P-Asserted-Identity")
        .into_iter()
        .find_map(party_of)
    {
        return Some(p);
    }
    let rpid = m.header("Remote-Party-ID")?;
    let na = NameAddr::parse(rpid.trim()).ok()?;
    if m.is_request() && na.param("party").flatten() == Some("called") {
        return None;
    }
    party_of(rpid)
}

/// Redirecting information of an INVITE that carries `Diversion`: the topmost (latest)
/// diversion is `from`, the oldest is `orig`; `to` is the number the INVITE asks for; the
/// count is the sum of the counters (each 1 when absent).
pub fn diversion_in(m: &SipMessage, to: &str) -> Option<Redirecting> {
    let items = m.headers().elements("Diversion");
    let parsed: Vec<(PartyId, String, u32)> = items
        .iter()
        .filter_map(|v| {
            let na = NameAddr::parse(v.trim()).ok()?;
            let party = party_of(v)?;
            let reason = na
                .param("reason")
                .flatten()
                .map(redirecting_reason_from_sip)
                .unwrap_or_else(|| "unknown".into());
            let counter = na
                .param("counter")
                .flatten()
                .and_then(|c| c.trim_matches('"').parse::<u32>().ok())
                .unwrap_or(1)
                .max(1);
            Some((party, reason, counter))
        })
        .collect();
    let (from, reason, _) = parsed.first()?.clone();
    let (orig, orig_reason, _) = parsed.last()?.clone();
    let count = parsed.iter().map(|(_, _, c)| *c).sum::<u32>().min(255);
    Some(Redirecting {
        orig,
        from,
        to: PartyId {
            name: None,
            num: (!to.is_empty()).then(|| to.to_string()),
        },
        reason,
        orig_reason,
        count,
    })
}

/// `"name" <sip:num@host>`, the name left out when there is none.
fn name_addr(p: &PartyId, host: &str) -> Option<String> {
    let num = p.num.as_deref().filter(|n| !n.is_empty())?;
    let uri = format!("<sip:{}@{host}>", escape_user(num));
    Some(match p.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => format!("\"{}\" {uri}", n.replace(['"', '\\'], "")),
        None => uri,
    })
}

/// A number as a URI user part (characters outside RFC 3261's user set escaped).
fn escape_user(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `Diversion` header for a call redirected as `r` (none without a `from` number):
/// `"name" <sip:num@host>;reason=…`, with `;counter=N` when redirected more than once.
pub fn diversion_out(r: &Redirecting, host: &str) -> Option<String> {
    let mut v = name_addr(&r.from, host)?;
    v.push_str(";reason=");
    v.push_str(&redirecting_reason_to_sip(&r.reason));
    if r.count > 1 {
        v.push_str(&format!(";counter={}", r.count));
    }
    Some(v)
}

/// `P-Asserted-Identity` value for `p`.
pub fn pai_out(p: &PartyId, host: &str) -> Option<String> {
    name_addr(p, host)
}

/// `Remote-Party-ID` value for `p` on an outgoing INVITE (`party=calling`).
pub fn rpid_out(p: &PartyId, host: &str) -> Option<String> {
    Some(format!(
        "{};party=calling;privacy=off;screen=no",
        name_addr(p, host)?
    ))
}

/// Where a 3xx sends the call: the first `Contact`'s URI user (the extension) and, with
/// `promiscredir`, the whole `SIP/user@host[:port]` destination. `None` without a
/// usable contact.
pub fn redirect_target(resp: &SipMessage, promiscredir: bool) -> Option<(String, PartyId)> {
    let contact = resp.headers().elements("Contact").into_iter().next()?;
    let na = NameAddr::parse(contact.trim()).ok()?;
    let user = na.uri.user_decoded().filter(|u| !u.is_empty());
    let to = PartyId {
        name: na.display_name().filter(|n| !n.is_empty()),
        num: user.clone(),
    };
    let dest = if promiscredir {
        let host = match na.uri.port {
            Some(p) => format!("{}:{p}", na.uri.host),
            None => na.uri.host.clone(),
        };
        match &user {
            Some(u) => format!("SIP/{u}@{host}"),
            None => format!("SIP/{host}"),
        }
    } else {
        user?
    };
    Some((dest, to))
}

/// The headers `SIPAddHeader()` asked for, from a channel's variables (name, value), in
/// the order of their numbers: each variable holds `Header: value`.
pub fn added_headers<'a>(vars: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut v: Vec<(&str, &str)> = vars
        .filter(|(k, _)| {
            k.len() > ADDHEADER_PREFIX.len()
                && k[..ADDHEADER_PREFIX.len()].eq_ignore_ascii_case(ADDHEADER_PREFIX)
        })
        .collect();
    v.sort_by_key(|(k, _)| {
        k[ADDHEADER_PREFIX.len()..]
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    v.into_iter()
        .filter_map(|(_, val)| {
            let (n, h) = val.split_once(':')?;
            let n = n.trim();
            let valid = !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                && !h.contains(['\r', '\n']);
            valid.then(|| (n.to_string(), h.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse;

    fn msg(extra: &str) -> SipMessage {
        parse(format!(
            "INVITE sip:6001@pbx SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:100@carrier>;tag=1\r\nTo: <sip:6001@pbx>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        ).as_bytes())
        .unwrap()
    }

    #[test]
    fn diversion_in_latest_first_counts_and_reasons() {
        let m = msg("Diversion: \"Reception\" <sip:+14155550000@twilio.com>;reason=user-busy;counter=2\r\nDiversion: <sip:200@pbx>;reason=unconditional\r\n");
        let r = diversion_in(&m, "6001").unwrap();
        assert_eq!(r.from.num.as_deref(), Some("+14155550000"));
        assert_eq!(r.from.name.as_deref(), Some("Reception"));
        assert_eq!(r.reason, "cfb");
        assert_eq!(r.orig.num.as_deref(), Some("200"));
        assert_eq!(r.orig_reason, "cfu");
        assert_eq!(r.to.num.as_deref(), Some("6001"));
        assert_eq!(r.count, 3);
        // Twilio's form: no reason, no counter.
        let r = diversion_in(&msg("Diversion: <sip:+14155550000@twilio.com>\r\n"), "x").unwrap();
        assert_eq!((r.reason.as_str(), r.count), ("unknown", 1));
        assert!(diversion_in(&msg(""), "x").is_none());
        assert!(diversion_in(&msg("Diversion: garbage <<\r\n"), "x").is_none());
    }

    #[test]
    fn asserted_identity_prefers_pai() {
        let m = msg("Remote-Party-ID: \"R\" <sip:222@h>;party=calling\r\nP-Asserted-Identity: \"Alice\" <sip:+331234@carrier>\r\n");
        let p = asserted_identity(&m).unwrap();
        assert_eq!(
            (p.name.as_deref(), p.num.as_deref()),
            (Some("Alice"), Some("+331234"))
        );
        let m = msg("Remote-Party-ID: \"R\" <sip:222@h>;party=calling;privacy=off\r\n");
        assert_eq!(asserted_identity(&m).unwrap().num.as_deref(), Some("222"));
        let m = msg("Remote-Party-ID: <sip:222@h>;party=called\r\n");
        assert!(asserted_identity(&m).is_none());
        assert!(asserted_identity(&msg("")).is_none());
    }

    #[test]
    fn outgoing_identity_headers() {
        let r = Redirecting {
            from: PartyId {
                name: Some("Bob \"B\"".into()),
                num: Some("6001".into()),
            },
            reason: "cfnr".into(),
            count: 2,
            ..Default::default()
        };
        assert_eq!(
            diversion_out(&r, "192.0.2.1").unwrap(),
            "\"Bob B\" <sip:6001@192.0.2.1>;reason=no-answer;counter=2"
        );
        let r1 = Redirecting {
            from: PartyId {
                name: None,
                num: Some("6001".into()),
            },
            count: 1,
            ..Default::default()
        };
        assert_eq!(
            diversion_out(&r1, "h").unwrap(),
            "<sip:6001@h>;reason=unknown"
        );
        assert!(diversion_out(&Redirecting::default(), "h").is_none());
        let p = PartyId {
            name: Some("Alice".into()),
            num: Some("+1 555".into()),
        };
        assert_eq!(pai_out(&p, "h").unwrap(), "\"Alice\" <sip:+1%20555@h>");
        assert_eq!(
            rpid_out(&p, "h").unwrap(),
            "\"Alice\" <sip:+1%20555@h>;party=calling;privacy=off;screen=no"
        );
    }

    #[test]
    fn redirect_targets() {
        let r = parse(b"SIP/2.0 302 Moved Temporarily\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:6001@pbx>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: \"Mobile\" <sip:+33612345678@192.0.2.7:5070>, <sip:other@x>\r\nContent-Length: 0\r\n\r\n").unwrap();
        let (d, to) = redirect_target(&r, false).unwrap();
        assert_eq!(d, "+33612345678");
        assert_eq!(to.name.as_deref(), Some("Mobile"));
        let (d, _) = redirect_target(&r, true).unwrap();
        assert_eq!(d, "SIP/+33612345678@192.0.2.7:5070");
        let none = parse(b"SIP/2.0 302 Moved Temporarily\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:6001@pbx>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(redirect_target(&none, true).is_none());
    }

    #[test]
    fn added_headers_in_number_order_and_checked() {
        let vars = [
            ("SIPADDHEADER02", "X-Second: 2"),
            ("SIPADDHEADER01", "X-First: one: more"),
            ("SIPADDHEADER03", "bad header line"),
            ("SIPADDHEADER04", "X-Inject: a\r\nVia: x"),
            ("OTHER", "X-No: 1"),
        ];
        let h = added_headers(vars.iter().copied());
        assert_eq!(
            h,
            vec![
                ("X-First".to_string(), "one: more".to_string()),
                ("X-Second".to_string(), "2".to_string())
            ]
        );
    }
}
