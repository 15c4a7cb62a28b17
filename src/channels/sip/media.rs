//! How the (socket-free) SIP core gets RTP sessions: a [`MediaAllocator`] it holds as a trait
//! object. The daemon installs [`RtpAllocator`] (real [`RtpSession`]s); the core's default,
//! [`PortsOnly`], only hands out port numbers, which is what the core's unit tests use.

use crate::media::session::{RtpSession, StreamParams};
use crate::pbx::media::{MediaHandle, NativeFormat};
use crate::sip::sdp::{Codec, Negotiated};
use std::net::{IpAddr, Ipv4Addr};
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

/// Real RTP sessions bound on all addresses.
#[derive(Debug, Default)]
pub struct RtpAllocator;

impl MediaAllocator for RtpAllocator {
    fn open(&mut self, range: (u16, u16), comedia: bool) -> Option<Box<dyn LegMedia>> {
        let s = RtpSession::open(IpAddr::V4(Ipv4Addr::UNSPECIFIED), range, comedia)?;
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
