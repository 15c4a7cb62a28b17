//! How the (socket-free) SIP core gets RTP sessions: a [`MediaAllocator`] it holds as a trait
//! object. The daemon installs [`RtpAllocator`] (real [`RtpSession`]s, configured by
//! `rtp.conf`, read by [`parse_rtp_conf`]); the core's default, [`PortsOnly`], only hands
//! out port numbers, which is what the core's unit tests use.

use crate::config::{ConfigError, ConfigFile, Entry};
use crate::media::ports::PortPool;
use crate::media::session::{
    DtmfSink, RtpSession, RtpStats, SessionOptions, StreamParams, RTCP_INTERVAL,
};
use crate::media::strict::{StrictConfig, StrictMode};
use crate::pbx::media::{MediaHandle, NativeFormat};
use crate::sip::sdp::{Codec, Negotiated};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// The media of one leg, as the core drives it. Dropping it ends the session.
pub trait LegMedia: Send + std::fmt::Debug {
    fn port(&self) -> u16;
    /// New negotiated parameters (answer, re-INVITE, hold).
    fn set_params(&self, p: StreamParams);
    fn params(&self) -> StreamParams;
    /// Feed this channel's queues.
    fn attach(&self, m: MediaHandle);
    /// Stop feeding them (another fork won).
    fn detach(&self);
    /// Time since the last RTP packet arrived.
    fn idle(&self) -> Duration;
    fn reset_idle(&self);
    /// Packet counts and RTCP figures (`sip show channelstats`); `None` without real RTP.
    fn stats(&self) -> Option<RtpStats> {
        None
    }
    /// Where the digits written to the channel go (`SIPDtmfMode()`): a sink (SIP INFO),
    /// inband tones, or (neither) RFC 2833 events.
    fn set_dtmf_out(&self, _sink: Option<DtmfSink>, _inband: bool) {}
}

/// Opens leg media; `None` when no port is free.
pub trait MediaAllocator: Send {
    fn open(&mut self, range: (u16, u16), comedia: bool) -> Option<Box<dyn LegMedia>>;
}

/// Port numbers only, no sockets (the core's default; tests).
#[derive(Debug, Default)]
pub struct PortsOnly {
    next: u16,
}

#[derive(Debug)]
pub struct PortOnly {
    port: u16,
    params: parking_lot::Mutex<StreamParams>,
}

impl LegMedia for PortOnly {
    fn port(&self) -> u16 {
        self.port
    }
    fn set_params(&self, p: StreamParams) {
        *self.params.lock() = p;
    }
    fn params(&self) -> StreamParams {
        *self.params.lock()
    }
    fn attach(&self, _m: MediaHandle) {}
    fn detach(&self) {}
    fn idle(&self) -> Duration {
        Duration::ZERO
    }
    fn reset_idle(&self) {}
}

impl MediaAllocator for PortsOnly {
    fn open(&mut self, (lo, hi): (u16, u16), _comedia: bool) -> Option<Box<dyn LegMedia>> {
        let lo = lo + (lo & 1);
        if self.next < lo || self.next.saturating_add(1) > hi {
            self.next = lo;
        }
        let port = self.next;
        self.next = self.next.saturating_add(2);
        Some(Box::new(PortOnly {
            port,
            params: Default::default(),
        }))
    }
}

/// `rtp.conf` as chan_sip uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpConf {
    /// `rtpstart`, `rtpend`.
    pub range: (u16, u16),
    /// `strictrtp`, `probation`.
    pub strict: StrictConfig,
    /// `rtcpinterval`.
    pub rtcp_interval: Duration,
}

impl Default for RtpConf {
    fn default() -> Self {
        RtpConf {
            range: (10000, 20000),
            strict: StrictConfig::default(),
            rtcp_interval: RTCP_INTERVAL,
        }
    }
}

/// Lowest port `rtpstart`/`rtpend` may name (lower values are raised to it, as Asterisk).
const MIN_RTP_PORT: u32 = 1024;

/// The error for `e` when its value is not what the option takes.
fn expected(e: &Entry, what: &str) -> ConfigError {
    let v = e.value.trim();
    ConfigError::at(&e.loc, format!("{}: expected {what}, got '{v}'", e.key))
}

fn port_value(e: &Entry, warnings: &mut Vec<String>) -> Result<u16, ConfigError> {
    let n = e
        .value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= 65535)
        .ok_or_else(|| expected(e, "a port number 1024..65535"))?;
    if n < MIN_RTP_PORT {
        warnings.push(format!(
            "{}: {} {n} is below {MIN_RTP_PORT}; using {MIN_RTP_PORT}",
            e.loc, e.key
        ));
    }
    Ok(n.max(MIN_RTP_PORT) as u16)
}

/// Interpret `[general]` of `rtp.conf`: `rtpstart`, `rtpend`, `strictrtp`, `probation`,
/// `rtcpinterval` (other options, such as `icesupport` or `stunaddr`, are ignored). A value
/// that is not what the option takes is an error naming file:line:column; an odd
/// `rtpstart` is rounded up, as Asterisk does. Returns the settings and warnings.
pub fn parse_rtp_conf(cf: &ConfigFile) -> Result<(RtpConf, Vec<String>), Vec<ConfigError>> {
    let mut conf = RtpConf::default();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let (mut start, mut end) = (None, None);
    let general = cf
        .sections
        .iter()
        .filter(|s| !s.is_template && s.name.eq_ignore_ascii_case("general"));
    for e in general.flat_map(|s| s.entries.iter()) {
        let v = e.value.trim();
        let r = match e.key.to_ascii_lowercase().as_str() {
            "rtpstart" => port_value(e, &mut warnings).map(|p| start = Some((p, e))),
            "rtpend" => port_value(e, &mut warnings).map(|p| end = Some((p, e))),
            "strictrtp" => StrictMode::parse(v)
                .map(|m| conf.strict.mode = m)
                .ok_or_else(|| expected(e, "yes, no or seqno")),
            "probation" => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| conf.strict.probation = n)
                .ok_or_else(|| expected(e, "a number of packets (1 or more)")),
            // Asterisk keeps it within 500..60000 ms.
            "rtcpinterval" => v
                .parse::<u64>()
                .map(|ms| conf.rtcp_interval = Duration::from_millis(ms.clamp(500, 60_000)))
                .map_err(|_| expected(e, "milliseconds (500..60000)")),
            _ => Ok(()),
        };
        if let Err(err) = r {
            errors.push(err);
        }
    }
    let lo = start.map_or(conf.range.0, |s| s.0);
    let hi = end.map_or(conf.range.1, |e| e.0);
    let even = lo.saturating_add(lo & 1);
    if errors.is_empty() && even >= hi {
        // Name the line that made the range empty.
        let at = end.or(start).map(|x| x.1);
        let msg = format!(
            "rtpend ({hi}) must be above rtpstart ({lo}{}): the range holds no RTP port",
            if even != lo {
                ", rounded up to even"
            } else {
                ""
            }
        );
        errors.push(match at {
            Some(e) => ConfigError::at(&e.loc, msg),
            None => ConfigError::new(msg),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    conf.range = (even, hi);
    Ok((conf, warnings))
}

/// Real RTP sessions bound on all addresses, their ports taken from one [`PortPool`] per
/// `rtp.conf` range.
#[derive(Debug, Default)]
pub struct RtpAllocator {
    conf: RtpConf,
    pool: Option<Arc<PortPool>>,
}

impl RtpAllocator {
    pub fn new(conf: RtpConf) -> RtpAllocator {
        RtpAllocator { conf, pool: None }
    }
}

impl MediaAllocator for RtpAllocator {
    fn open(&mut self, range: (u16, u16), comedia: bool) -> Option<Box<dyn LegMedia>> {
        let pool = match &self.pool {
            Some(p) if p.range() == range => p.clone(),
            _ => {
                let p = PortPool::new(range.0, range.1);
                self.pool = Some(p.clone());
                p
            }
        };
        let opts = SessionOptions {
            comedia,
            strict: self.conf.strict,
            rtcp_interval: self.conf.rtcp_interval,
        };
        let s = RtpSession::open(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &pool, opts)?;
        Some(Box::new(s))
    }
}

impl LegMedia for RtpSession {
    fn port(&self) -> u16 {
        RtpSession::port(self)
    }
    fn set_params(&self, p: StreamParams) {
        RtpSession::set_params(self, p)
    }
    fn params(&self) -> StreamParams {
        RtpSession::params(self)
    }
    fn attach(&self, m: MediaHandle) {
        RtpSession::attach(self, m)
    }
    fn detach(&self) {
        RtpSession::detach(self)
    }
    fn idle(&self) -> Duration {
        RtpSession::idle(self)
    }
    fn reset_idle(&self) {
        RtpSession::reset_idle(self)
    }
    fn stats(&self) -> Option<RtpStats> {
        Some(RtpSession::stats(self))
    }
    fn set_dtmf_out(&self, sink: Option<DtmfSink>, inband: bool) {
        RtpSession::set_dtmf_out(self, sink, inband)
    }
}

/// The wire format of a negotiated codec.
pub fn format_of(c: &Codec) -> NativeFormat {
    match c {
        Codec::Pcma => NativeFormat::Alaw,
        _ => NativeFormat::Ulaw,
    }
}

/// Stream parameters from an SDP negotiation.
pub fn params_of(n: &Negotiated) -> StreamParams {
    StreamParams {
        remote: n.remote,
        pt: n.pt,
        format: format_of(&n.codec),
        dtmf_pt: n.dtmf_pt,
        hold: n.remote_hold || !n.direction.sends(),
        srtp: n.srtp,
    }
}

/// `Signal=5` (or `Signal=#`, `Duration=250`) of an `application/dtmf-relay` INFO body.
pub fn dtmf_relay(body: &[u8]) -> Option<(char, Duration)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut digit = None;
    let mut dur = Duration::from_millis(100);
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "signal" => {
                digit = match v {
                    "10" => Some('*'),
                    "11" => Some('#'),
                    _ => v
                        .chars()
                        .next()
                        .map(|c| c.to_ascii_uppercase())
                        .filter(|c| c.is_ascii_digit() || "*#ABCD".contains(*c)),
                };
            }
            "duration" => {
                if let Ok(ms) = v.parse::<u64>() {
                    dur = Duration::from_millis(ms.min(10_000));
                }
            }
            _ => {}
        }
    }
    digit.map(|d| (d, dur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_dtmf_relay_bodies() {
        assert_eq!(
            dtmf_relay(b"Signal=5\r\nDuration=160\r\n"),
            Some(('5', Duration::from_millis(160)))
        );
        assert_eq!(
            dtmf_relay(b"Signal= #\r\n"),
            Some(('#', Duration::from_millis(100)))
        );
        assert_eq!(dtmf_relay(b"Signal=11\r\n").map(|d| d.0), Some('#'));
        assert_eq!(dtmf_relay(b"Signal=x\r\n"), None);
        assert_eq!(dtmf_relay(b"\xff\xfe"), None);
    }

    fn rtp_conf(text: &str) -> Result<(RtpConf, Vec<String>), Vec<String>> {
        let dir = std::path::Path::new("/nonexistent");
        let cf = crate::config::load_str(dir, "rtp.conf", text, &Default::default())
            .map_err(|e| vec![e.to_string()])?;
        parse_rtp_conf(&cf).map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn rtp_conf_values() {
        let (c, w) = rtp_conf("").unwrap();
        assert_eq!(c, RtpConf::default());
        assert!(w.is_empty());
        let (c, _) = rtp_conf(
            "[general]\nrtpstart=30001\nrtpend=30010\nstrictrtp=seqno\nprobation=8\n\
             rtcpinterval=100\nicesupport=false\n",
        )
        .unwrap();
        assert_eq!(c.range, (30002, 30010));
        assert_eq!(
            c.strict,
            StrictConfig {
                mode: StrictMode::Seqno,
                probation: 8
            }
        );
        assert_eq!(c.rtcp_interval, Duration::from_millis(500));
        let (c, w) = rtp_conf("[general]\nrtpstart=80\nstrictrtp=no\n").unwrap();
        assert_eq!((c.range, c.strict.mode), ((1024, 20000), StrictMode::No));
        assert!(
            w[0].contains("rtp.conf:2:1") && w[0].contains("using 1024"),
            "{w:?}"
        );
    }

    #[test]
    fn bad_rtp_conf_values_are_errors_with_their_place() {
        let e = rtp_conf("[general]\nrtpstart = ten\nrtpend=70000\n").unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(
            e[0].starts_with("rtp.conf:2:1: rtpstart: expected a port number"),
            "{e:?}"
        );
        assert!(e[1].starts_with("rtp.conf:3:1: rtpend:"), "{e:?}");
        let e = rtp_conf("[general]\nrtpstart=20000\nrtpend=10000\n").unwrap_err();
        assert!(
            e[0].starts_with("rtp.conf:3:1: rtpend (10000) must be above"),
            "{e:?}"
        );
        let e = rtp_conf("[general]\nrtpstart=10001\nrtpend=10002\n").unwrap_err();
        assert!(e[0].contains("rounded up to even"), "{e:?}");
        let e =
            rtp_conf("[general]\nstrictrtp=maybe\nprobation=four\nrtcpinterval=x\n").unwrap_err();
        assert!(e[0].starts_with("rtp.conf:2:1: strictrtp: expected yes, no or seqno"));
        assert!(e[1].starts_with("rtp.conf:3:1: probation: expected a number"));
        assert!(e[2].starts_with("rtp.conf:4:1: rtcpinterval:"));
        assert!(rtp_conf("[general]\nprobation=0\n").is_err());
        // Other sections are not chan_sip's business.
        assert!(rtp_conf("[ice_host_candidates]\nrtpstart=x\n").is_ok());
    }

    #[test]
    fn ports_only_hands_out_even_ports_in_range() {
        let mut a = PortsOnly::default();
        let p: Vec<u16> = (0..4)
            .filter_map(|_| a.open((10001, 10007), false))
            .map(|m| m.port())
            .collect();
        assert_eq!(p, vec![10002, 10004, 10006, 10002]);
    }
}
