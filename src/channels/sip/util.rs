//! Small SIP helpers shared by the driver: identifiers, cause/response mappings, the local
//! address to advertise.

use crate::pbx::channel::cause;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// A fresh RFC 3261 branch (`z9hG4bK` + 16 hex digits).
pub fn new_branch() -> String {
    format!("z9hG4bK{:016x}", rand::random::<u64>())
}

/// A fresh tag.
pub fn new_tag() -> String {
    format!("as{:08x}", rand::random::<u32>())
}

/// A fresh Call-ID for requests we originate.
pub fn new_call_id(host: &str) -> String {
    format!("{:032x}@{host}", rand::random::<u128>())
}

/// The hangup cause a final SIP response means (chan_sip's `hangup_sip2cause`).
pub fn sip_to_cause(code: u16) -> i32 {
    match code {
        401 | 403 | 407 | 603 => cause::CALL_REJECTED,
        404 | 485 | 604 => cause::UNALLOCATED,
        408 => cause::NO_USER_RESPONSE,
        409 => 41, // NORMAL_TEMPORARY_FAILURE
        410 => 22, // NUMBER_CHANGED
        420 => cause::NO_ROUTE_DESTINATION,
        480 | 483 => cause::NO_ANSWER,
        484 => 28, // INVALID_NUMBER_FORMAT
        486 | 600 => cause::USER_BUSY,
        500 => cause::FAILURE,
        501 => 29, // FACILITY_REJECTED
        502 => 27, // DESTINATION_OUT_OF_ORDER
        503 => cause::NORMAL_CIRCUIT_CONGESTION,
        504 => 102, // RECOVERY_ON_TIMER_EXPIRE
        606 => cause::BEARERCAPABILITY_NOTAVAIL,
        405 | 411 | 413..=415 | 481 | 482 | 487 | 488 | 491 | 493 | 505 => cause::INTERWORKING,
        _ => cause::NORMAL_CLEARING,
    }
}

/// The final response an unanswered inbound call gets for a hangup cause (chan_sip's
/// `hangup_cause2sip`; anything else is `603 Declined`).
pub fn cause_to_sip(c: i32) -> (u16, &'static str) {
    match c {
        1..=3 => (404, "Not Found"),
        42 | 34 => (503, "Service Unavailable"),
        18 => (408, "Request Timeout"),
        19 | 20 => (480, "Temporarily Unavailable"),
        21 => (403, "Forbidden"),
        22 => (410, "Gone"),
        31 => (480, "Temporarily Unavailable"),
        28 => (484, "Address Incomplete"),
        17 => (486, "Busy Here"),
        38 => (500, "Server Internal Error"),
        29 | 66 => (501, "Not Implemented"),
        27 => (502, "Bad Gateway"),
        58 => (488, "Not Acceptable Here"),
        _ => (603, "Declined"),
    }
}

/// The local address a packet to `dest` would leave from (routing table lookup without
/// sending anything); loopback when it cannot be determined.
pub fn local_ip_for(dest: IpAddr) -> IpAddr {
    let bind: SocketAddr = if dest.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    UdpSocket::bind(bind)
        .and_then(|s| {
            s.connect(SocketAddr::new(dest, 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or_else(|_| {
            if dest.is_ipv4() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
            }
        })
}

/// Host part for a URI (IPv6 in brackets).
pub fn host_str(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The Request-URI exactly as the request's first line carries it (digest `uri` must match
/// it byte for byte).
pub fn raw_request_uri(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|b| *b == b'\r' || *b == b'\n')?;
    let line = std::str::from_utf8(raw.get(..end)?).ok()?;
    let mut parts = line.split(' ');
    parts.next()?;
    parts.next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_follow_chan_sip() {
        assert_eq!(sip_to_cause(486), 17);
        assert_eq!(sip_to_cause(404), 1);
        assert_eq!(sip_to_cause(503), 34);
        assert_eq!(cause_to_sip(17).0, 486);
        assert_eq!(cause_to_sip(16).0, 603);
        assert_eq!(cause_to_sip(1).0, 404);
    }

    #[test]
    fn raw_uri() {
        assert_eq!(
            raw_request_uri(b"REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n").as_deref(),
            Some("sip:127.0.0.1:5060")
        );
        assert!(raw_request_uri(b"garbage").is_none());
        assert!(new_branch().starts_with("z9hG4bK"));
    }
}
