//! SIP session timers (RFC 4028), as chan_sip's `session-timers` options run them: what
//! an INVITE asks for, what we answer, who refreshes and when. Pure decisions over header
//! values; the core sends the refreshes and ends calls whose refreshes stop.

use crate::channels::sipconf::{SessionTimers, StMode};
use crate::sip::message::SipMessage;
use std::time::{Duration, Instant};

/// Who refreshes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    pub fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A call's running session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// Session interval, seconds.
    pub interval: u32,
    /// Which side of the dialog's initial INVITE refreshes.
    pub refresher: Refresher,
    /// We refresh (else we watch for the other side's refreshes).
    pub we_refresh: bool,
    /// Our answer says `Require: timer` (the caller supports it).
    pub require: bool,
    /// When we refresh next, or when the session expires without a refresh.
    pub next: Instant,
}

impl SessionTimer {
    /// (Re)start the clock at `now`: we refresh at half the interval; the other side must
    /// have refreshed by the interval minus a third of it (at most 32 s).
    pub fn restart(&mut self, now: Instant) {
        let i = u64::from(self.interval);
        self.next = if self.we_refresh {
            now + Duration::from_secs(i / 2)
        } else {
            now + Duration::from_secs(i - (i / 3).min(32))
        };
    }

    /// `Session-Expires` value for our messages.
    pub fn header(&self) -> String {
        format!("{};refresher={}", self.interval, self.refresher.as_str())
    }
}

/// `Session-Expires: N[;refresher=uac|uas]`.
pub fn parse_session_expires(v: &str) -> Option<(u32, Option<Refresher>)> {
    let mut parts = v.split(';');
    let n = parts.next()?.trim().parse::<u32>().ok()?;
    let mut r = None;
    for p in parts {
        if let Some((k, val)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("refresher") {
                r = match val.trim().to_ascii_lowercase().as_str() {
                    "uac" => Some(Refresher::Uac),
                    "uas" => Some(Refresher::Uas),
                    _ => None,
                };
            }
        }
    }
    Some((n, r))
}

/// Whether an option tag list header (`Supported`, `Require`) of `m` names `tag`.
pub fn has_tag(m: &SipMessage, header: &str, tag: &str) -> bool {
    m.headers()
        .elements(header)
        .iter()
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

fn session_expires(m: &SipMessage) -> Option<(u32, Option<Refresher>)> {
    m.header("Session-Expires").and_then(parse_session_expires)
}

fn min_se(m: &SipMessage) -> Option<u32> {
    m.header("Min-SE")
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.trim().parse().ok())
}

/// What to do with the timers of an INVITE we received (we are its UAS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UasDecision {
    /// No session timer.
    None,
    /// `422 Session Interval Too Small` with `Min-SE: n`.
    TooSmall(u32),
    /// `420 Bad Extension`, `Unsupported: timer` (we refuse timers, the caller requires them).
    BadExtension,
    /// Run one (not started: [`SessionTimer::restart`] when the call is answered).
    Run(SessionTimer),
}

pub fn uas_decide(cfg: &SessionTimers, req: &SipMessage, now: Instant) -> UasDecision {
    let supported = has_tag(req, "Supported", "timer") || has_tag(req, "Require", "timer");
    if cfg.mode == StMode::Refuse {
        return if has_tag(req, "Require", "timer") {
            UasDecision::BadExtension
        } else {
            UasDecision::None
        };
    }
    let (interval, asked) = match session_expires(req) {
        Some((n, r)) => {
            if n < cfg.minse {
                return UasDecision::TooSmall(cfg.minse);
            }
            // We may shorten it to our maximum, never below the caller's Min-SE.
            let floor = min_se(req).unwrap_or(90).max(90);
            (n.min(cfg.expires).max(floor), r)
        }
        None if cfg.mode == StMode::Originate => (cfg.expires.max(cfg.minse), None),
        None => return UasDecision::None,
    };
    let refresher = match (asked, supported) {
        (Some(r), true) => r,
        // A caller without timer support cannot refresh: we do.
        (_, false) => Refresher::Uas,
        (None, true) if cfg.refresher_uac => Refresher::Uac,
        (None, true) => Refresher::Uas,
    };
    UasDecision::Run(SessionTimer {
        interval,
        refresher,
        we_refresh: refresher == Refresher::Uas,
        require: supported,
        next: now,
    })
}

/// `Session-Expires` and `Min-SE` for an INVITE we send (originate mode only).
pub fn uac_request_headers(cfg: &SessionTimers) -> Option<(String, String)> {
    (cfg.mode == StMode::Originate).then(|| {
        let r = if cfg.refresher_uac {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        (
            format!("{};refresher={}", cfg.expires, r.as_str()),
            cfg.minse.to_string(),
        )
    })
}

/// The session timer of a call we placed, from the 2xx that answered it.
pub fn uac_from_answer(
    cfg: &SessionTimers,
    resp: &SipMessage,
    now: Instant,
) -> Option<SessionTimer> {
    if cfg.mode == StMode::Refuse {
        return None;
    }
    let (interval, refresher) = match session_expires(resp) {
        Some((n, r)) => (n.max(90), r.unwrap_or(Refresher::Uac)),
        // The callee does not run timers: in originate mode we refresh alone.
        None if cfg.mode == StMode::Originate => (cfg.expires, Refresher::Uac),
        None => return None,
    };
    let mut t = SessionTimer {
        interval,
        refresher,
        we_refresh: refresher == Refresher::Uac,
        require: false,
        next: now,
    };
    t.restart(now);
    Some(t)
}

/// The larger interval a `422` asks for (its `Min-SE`).
pub fn retry_interval(resp: &SipMessage) -> Option<u32> {
    min_se(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse;

    fn invite(extra: &str) -> SipMessage {
        parse(format!(
            "INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        ).as_bytes())
        .unwrap()
    }

    fn cfg(mode: StMode) -> SessionTimers {
        SessionTimers {
            mode,
            ..Default::default()
        }
    }

    #[test]
    fn uas_accepts_what_the_caller_asks_within_bounds() {
        let now = Instant::now();
        let acc = cfg(StMode::Accept);
        assert_eq!(uas_decide(&acc, &invite(""), now), UasDecision::None);
        let d = uas_decide(
            &acc,
            &invite("Supported: timer\r\nSession-Expires: 600;refresher=uac\r\n"),
            now,
        );
        let UasDecision::Run(t) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            (t.interval, t.refresher, t.we_refresh, t.require),
            (600, Refresher::Uac, false, true)
        );
        // Longer than our maximum: shortened.
        let UasDecision::Run(t) = uas_decide(&acc, &invite("Supported: timer\r\nx: 7200\r\n"), now)
        else {
            panic!()
        };
        assert_eq!((t.interval, t.refresher), (1800, Refresher::Uas));
        // Too small.
        assert_eq!(
            uas_decide(&acc, &invite("Session-Expires: 60\r\n"), now),
            UasDecision::TooSmall(90)
        );
        // No timer support: we refresh, no Require.
        let UasDecision::Run(t) = uas_decide(&acc, &invite("Session-Expires: 300\r\n"), now) else {
            panic!()
        };
        assert_eq!(
            (t.refresher, t.we_refresh, t.require),
            (Refresher::Uas, true, false)
        );
    }

    #[test]
    fn originate_and_refuse() {
        let now = Instant::now();
        let UasDecision::Run(t) = uas_decide(&cfg(StMode::Originate), &invite(""), now) else {
            panic!()
        };
        assert_eq!((t.interval, t.we_refresh), (1800, true));
        let refuse = cfg(StMode::Refuse);
        assert_eq!(
            uas_decide(&refuse, &invite("Session-Expires: 600\r\n"), now),
            UasDecision::None
        );
        assert_eq!(
            uas_decide(
                &refuse,
                &invite("Require: timer\r\nSession-Expires: 600\r\n"),
                now
            ),
            UasDecision::BadExtension
        );
        assert!(uac_request_headers(&cfg(StMode::Accept)).is_none());
        assert_eq!(
            uac_request_headers(&cfg(StMode::Originate)),
            Some(("1800;refresher=uas".to_string(), "90".to_string()))
        );
    }

    #[test]
    fn answers_and_clocks() {
        let now = Instant::now();
        let ok = |extra: &str| {
            parse(format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
            ).as_bytes())
            .unwrap()
        };
        let t = uac_from_answer(
            &cfg(StMode::Accept),
            &ok("Session-Expires: 120;refresher=uac\r\n"),
            now,
        )
        .unwrap();
        assert!(t.we_refresh);
        assert_eq!(t.next, now + Duration::from_secs(60));
        let t = uac_from_answer(
            &cfg(StMode::Accept),
            &ok("Session-Expires: 120;refresher=uas\r\n"),
            now,
        )
        .unwrap();
        assert!(!t.we_refresh);
        assert_eq!(t.next, now + Duration::from_secs(120 - 32));
        assert!(uac_from_answer(&cfg(StMode::Accept), &ok(""), now).is_none());
        assert!(
            uac_from_answer(&cfg(StMode::Originate), &ok(""), now).is_some_and(|t| t.we_refresh)
        );
        assert_eq!(parse_session_expires("90"), Some((90, None)));
        assert_eq!(parse_session_expires("x"), None);
        assert_eq!(
            retry_interval(&parse(b"SIP/2.0 422 Session Interval Too Small\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMin-SE: 300\r\nContent-Length: 0\r\n\r\n").unwrap()),
            Some(300)
        );
    }
}
