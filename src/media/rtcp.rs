//! Reading RTCP (RFC 3550 §6): the sender and receiver reports of a compound packet, and
//! what the far end says about our stream in them (loss, jitter, round-trip time from
//! LSR/DLSR). Writing reports is in [`super::rtp`].
//!
//! Pure: bytes and instants in, values out. [`parse_compound`] never panics, whatever the
//! datagram holds; a malformed one is an [`RtcpError`].

use super::rtp::ReportBlock;
use std::time::{Duration, Instant};

/// Why a datagram is not a usable RTCP compound packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("unsupported RTCP version {0}")]
    BadVersion(u8),
    #[error("RTCP length field runs past the end of the datagram")]
    BadLength,
    #[error("RTCP report count {0} does not fit the packet")]
    BadCount(u8),
}

/// RTCP packet types read here.
pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;

/// The sender information of a sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp of the report.
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packets: u32,
    pub octets: u32,
}

/// One sender (PT 200) or receiver (PT 201) report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// SSRC of the reporter.
    pub ssrc: u32,
    /// Present in sender reports.
    pub sender: Option<SenderInfo>,
    pub blocks: Vec<ReportBlock>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(w) => u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
        None => 0,
    }
}

impl ReportBlock {
    /// A 24-byte reception report block (the caller checked the length).
    fn read(b: &[u8]) -> ReportBlock {
        let lost = be32(b, 4);
        // 24-bit two's complement.
        let cumulative = ((lost & 0xFF_FFFF) << 8) as i32 >> 8;
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost: cumulative,
            extended_highest_sequence: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }
}

/// The sender and receiver reports of a compound RTCP packet (other packet types, such as
/// SDES or BYE, are skipped). Every packet must be version 2 and the length fields must add
/// up to the datagram, as RFC 3550 A.2's validity check asks.
pub fn parse_compound(buf: &[u8]) -> Result<Vec<Report>, RtcpError> {
    if buf.len() < 8 {
        return Err(RtcpError::TooShort(buf.len()));
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let Some(head) = buf.get(pos..pos + 4) else {
            return Err(RtcpError::BadLength);
        };
        let version = head[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let count = head[0] & 0x1F;
        let pt = head[1];
        let len = (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1) * 4;
        let Some(pkt) = buf.get(pos..pos + len) else {
            return Err(RtcpError::BadLength);
        };
        // Padding (only allowed on the last packet) is not report data.
        let mut body_end = len;
        if head[0] & 0x20 != 0 && pos + len == buf.len() {
            let p = usize::from(pkt[len - 1]);
            if p == 0 || p > len - 4 {
                return Err(RtcpError::BadLength);
            }
            body_end = len - p;
        }
        if pt == PT_SR || pt == PT_RR {
            out.push(read_report(&pkt[..body_end], pt, count)?);
        }
        pos += len;
    }
    Ok(out)
}

fn read_report(pkt: &[u8], pt: u8, count: u8) -> Result<Report, RtcpError> {
    let fixed = if pt == PT_SR { 28 } else { 8 };
    let blocks_end = fixed + 24 * usize::from(count);
    if pkt.len() < blocks_end {
        return Err(RtcpError::BadCount(count));
    }
    let sender = (pt == PT_SR).then(|| SenderInfo {
        ntp: u64::from(be32(pkt, 8)) << 32 | u64::from(be32(pkt, 12)),
        rtp_timestamp: be32(pkt, 16),
        packets: be32(pkt, 20),
        octets: be32(pkt, 24),
    });
    Ok(Report {
        ssrc: be32(pkt, 4),
        sender,
        blocks: pkt[fixed..blocks_end]
            .chunks_exact(24)
            .map(ReportBlock::read)
            .collect(),
    })
}

/// The middle 32 bits of a 64-bit NTP timestamp (the LSR/DLSR time base, 1/65536 s).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Round-trip time from a report block received when the clock read `arrival_ntp`
/// (RFC 3550 §6.4.1: A − LSR − DLSR). `None` without an LSR (the far end has had no sender
/// report of ours yet) or when the clocks give a negative time.
pub fn round_trip(arrival_ntp: u64, last_sr: u32, delay_since_last_sr: u32) -> Option<Duration> {
    if last_sr == 0 {
        return None;
    }
    let rtt = ntp_middle(arrival_ntp)
        .wrapping_sub(last_sr)
        .wrapping_sub(delay_since_last_sr);
    if rtt > u32::MAX / 2 {
        return None;
    }
    Some(Duration::from_micros(u64::from(rtt) * 1_000_000 / 65_536))
}

/// What the far end last reported about our stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FarReport {
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    /// Interarrival jitter of our packets at the far end, in timestamp units.
    pub jitter: u32,
    pub rtt: Option<Duration>,
}

/// The RTCP a session received: the far end's reports on our stream, and its last sender
/// report (for the LSR/DLSR of our own reports).
#[derive(Debug, Clone, Default)]
pub struct RtcpReceiver {
    /// The latest report block about our stream.
    pub far: Option<FarReport>,
    /// The latest round-trip time measured.
    pub rtt: Option<Duration>,
    /// Middle 32 bits of the far end's last SR timestamp, and when it came.
    last_sr: Option<(u32, Instant)>,
    /// Compound packets used / refused.
    pub received: u64,
    pub invalid: u64,
}

impl RtcpReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take in a datagram. Only reports from `far_ssrc` (when known: the SSRC of the RTP
    /// stream we accept) are used, and only blocks about `our_ssrc`. `arrival_ntp` is the
    /// wall clock as an NTP timestamp, `now` the same moment on the monotonic clock.
    pub fn on_datagram(
        &mut self,
        buf: &[u8],
        our_ssrc: u32,
        far_ssrc: Option<u32>,
        arrival_ntp: u64,
        now: Instant,
    ) -> Result<(), RtcpError> {
        let reports = match parse_compound(buf) {
            Ok(r) => r,
            Err(e) => {
                self.invalid += 1;
                return Err(e);
            }
        };
        self.received += 1;
        for r in reports
            .iter()
            .filter(|r| far_ssrc.is_none_or(|s| s == r.ssrc))
        {
            if let Some(s) = r.sender {
                self.last_sr = Some((ntp_middle(s.ntp), now));
            }
            for b in r.blocks.iter().filter(|b| b.ssrc == our_ssrc) {
                let rtt = round_trip(arrival_ntp, b.last_sr, b.delay_since_last_sr);
                if rtt.is_some() {
                    self.rtt = rtt;
                }
                self.far = Some(FarReport {
                    fraction_lost: b.fraction_lost,
                    cumulative_lost: b.cumulative_lost,
                    jitter: b.jitter,
                    rtt,
                });
            }
        }
        Ok(())
    }

    /// LSR and DLSR for a report block we send at `now` (zeros before any sender report).
    pub fn lsr_dlsr(&self, now: Instant) -> (u32, u32) {
        match self.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                let dlsr = (d.as_micros() * 65_536 / 1_000_000).min(u128::from(u32::MAX));
                (lsr, dlsr as u32)
            }
            None => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{
        noise_byte, ntp_timestamp, rtcp_receiver_report, rtcp_sender_report, RtpSender,
    };

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 64,
            cumulative_lost: -3,
            extended_highest_sequence: 0x0001_0010,
            jitter: 80,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x0001_0000,
        }
    }

    #[test]
    fn reads_what_rtp_writes() {
        let mut s = RtpSender::new(0xAABB, 0, 0, 0);
        s.packet(vec![0; 160]);
        let ntp = ntp_timestamp(Duration::from_secs(1000));
        let sr = rtcp_sender_report(&s, ntp, 160, &[block(7)]);
        let rr = rtcp_receiver_report(0xCCDD, &[block(8), block(9)]);
        let compound = [sr, rr].concat();
        let got = parse_compound(&compound).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].ssrc, 0xAABB);
        assert_eq!(
            got[0].sender,
            Some(SenderInfo {
                ntp,
                rtp_timestamp: 160,
                packets: 1,
                octets: 160
            })
        );
        assert_eq!(got[0].blocks, vec![block(7)]);
        assert_eq!(got[1].sender, None);
        assert_eq!(got[1].blocks, vec![block(8), block(9)]);
    }

    #[test]
    fn skips_sdes_and_bye_but_checks_their_length() {
        let rr = rtcp_receiver_report(1, &[]);
        // SDES with one chunk: SSRC, CNAME "ab", end + padding.
        let sdes = [0x81, 202, 0, 3, 0, 0, 0, 1, 1, 2, b'a', b'b', 0, 0, 0, 0];
        let bye = [0x81, 203, 0, 1, 0, 0, 0, 1];
        let all = [rr.clone(), sdes.to_vec(), bye.to_vec()].concat();
        assert_eq!(parse_compound(&all).unwrap().len(), 1);
        let mut bad = all.clone();
        bad[rr.len() + 3] = 9; // SDES length past the end
        assert_eq!(parse_compound(&bad), Err(RtcpError::BadLength));
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        assert_eq!(parse_compound(&[]), Err(RtcpError::TooShort(0)));
        assert_eq!(
            parse_compound(&[0x40, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadVersion(1))
        );
        // RR claiming 2 blocks in 8 bytes.
        assert_eq!(
            parse_compound(&[0x82, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadCount(2))
        );
        // Trailing bytes that are not a packet header.
        let mut rr = rtcp_receiver_report(1, &[]);
        rr.extend_from_slice(&[0x80, 201]);
        assert_eq!(parse_compound(&rr), Err(RtcpError::BadLength));
        // Padding larger than the packet.
        assert_eq!(
            parse_compound(&[0xA0, 201, 0, 1, 0, 0, 0, 0xFF]),
            Err(RtcpError::BadLength)
        );
        let mut x: u32 = 99;
        for len in 0..4000usize {
            let buf: Vec<u8> = (0..len % 120)
                .map(|i| {
                    let b = noise_byte(&mut x);
                    match i % 4 {
                        // Mostly plausible headers, so the deeper paths are reached.
                        0 if len % 2 == 0 => 0x80 | (b & 0x3F),
                        1 if len % 2 == 0 => 200 + (b & 1),
                        2 if len % 2 == 0 => 0,
                        _ => b,
                    }
                })
                .collect();
            let _ = parse_compound(&buf);
        }
    }

    #[test]
    fn round_trip_from_lsr_and_dlsr() {
        // RFC 3550 §6.4.1's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
        // (46853.125 s), DLSR = 0x0005:4000 (5.250 s): RTT 6.125 s.
        let arrival = (0xb710_8000u64) << 16;
        let rtt = round_trip(arrival, 0xb705_2000, 0x0005_4000).unwrap();
        assert_eq!(rtt, Duration::from_millis(6125));
        assert_eq!(round_trip(arrival, 0, 0), None);
        // A report "from the future" (clock skew) gives nothing rather than 18 hours.
        assert_eq!(round_trip(arrival, 0xb711_0000, 0), None);
    }

    #[test]
    fn receiver_keeps_the_far_reports_about_our_stream() {
        let now = Instant::now();
        let mut r = RtcpReceiver::new();
        assert_eq!(r.lsr_dlsr(now), (0, 0));
        let mut far = RtpSender::new(0xFA, 0, 0, 0);
        far.packet(vec![0; 160]);
        let their_ntp = 0x0000_1234_5678_0000u64;
        let mut b = block(0x0E);
        b.last_sr = 0;
        let sr = rtcp_sender_report(&far, their_ntp, 0, &[b.clone(), block(0x99)]);
        r.on_datagram(&sr, 0x0E, Some(0xFA), 0, now).unwrap();
        let got = r.far.unwrap();
        assert_eq!(
            (got.fraction_lost, got.cumulative_lost, got.jitter),
            (64, -3, 80)
        );
        assert_eq!(got.rtt, None);
        // Half a second later our report names their SR: LSR its middle bits, DLSR 0.5 s.
        assert_eq!(
            r.lsr_dlsr(now + Duration::from_millis(500)),
            (0x1234_5678, 32_768)
        );
        // A report from another SSRC (not the stream we accept) is ignored.
        let stranger = rtcp_receiver_report(
            0x666,
            &[ReportBlock {
                cumulative_lost: 1000,
                ..block(0x0E)
            }],
        );
        r.on_datagram(&stranger, 0x0E, Some(0xFA), 0, now).unwrap();
        assert_eq!(r.far.unwrap().cumulative_lost, -3);
        assert!(r.on_datagram(b"junk", 0x0E, Some(0xFA), 0, now).is_err());
        assert_eq!((r.received, r.invalid), (2, 1));
        // With LSR/DLSR: round trip measured.
        let rr = rtcp_receiver_report(0xFA, &[block(0x0E)]);
        let arrival = 0x1236_5678u64 << 16; // LSR + DLSR + 1 s
        r.on_datagram(&rr, 0x0E, Some(0xFA), arrival, now).unwrap();
        assert_eq!(r.rtt, Some(Duration::from_secs(1)));
    }
}
