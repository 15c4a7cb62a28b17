//! RTP (RFC 3550): packet parse/serialize, a sender's sequence/timestamp state, and a small
//! fixed-depth jitter buffer. No sockets: bytes in, bytes out, time passed in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Why a datagram is not a usable RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("unsupported RTP version {0}")]
    BadVersion(u8),
    #[error("CSRC list runs past the end of the packet")]
    CsrcOverflow,
    #[error("header extension runs past the end of the packet")]
    ExtensionOverflow,
    #[error("invalid padding length {0}")]
    BadPadding(u8),
}

/// An RTP header extension (RFC 3550 §5.3.1): profile-defined 16 bits plus 32-bit words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpExtension {
    pub profile: u16,
    /// Extension body; its length is a multiple of 4 when serialized (padded with zeros).
    pub data: Vec<u8>,
}

/// One RTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: Vec<u32>,
    pub extension: Option<RtpExtension>,
    pub payload: Vec<u8>,
    /// Number of padding bytes to append on serialize (0 = no padding); set by parse.
    pub padding: u8,
}

impl RtpPacket {
    /// A plain packet without CSRCs, extension or padding.
    pub fn new(
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload: Vec<u8>,
    ) -> Self {
        RtpPacket {
            marker: false,
            payload_type: payload_type & 0x7F,
            sequence,
            timestamp,
            ssrc,
            csrcs: Vec::new(),
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Parse a datagram. Never panics; every malformed input is an [`RtpError`].
    pub fn parse(buf: &[u8]) -> Result<RtpPacket, RtpError> {
        if buf.len() < 12 {
            return Err(RtpError::TooShort(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let cc = (buf[0] & 0x0F) as usize;
        let marker = buf[1] & 0x80 != 0;
        let payload_type = buf[1] & 0x7F;
        let sequence = u16::from_be_bytes([buf[2], buf[3]]);
        let timestamp = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let mut pos = 12;
        let csrc_end = pos + 4 * cc;
        if csrc_end > buf.len() {
            return Err(RtpError::CsrcOverflow);
        }
        let csrcs = buf[pos..csrc_end]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        pos = csrc_end;
        let mut end = buf.len();
        let mut padding = 0u8;
        if has_padding {
            let p = buf[end - 1];
            // Padding count includes itself, so 0 is invalid; it may not eat into the header.
            if p == 0 || (p as usize) > end - pos {
                return Err(RtpError::BadPadding(p));
            }
            padding = p;
            end -= p as usize;
        }
        let extension = if has_extension {
            if pos + 4 > end {
                return Err(RtpError::ExtensionOverflow);
            }
            let profile = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
            let words = u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]) as usize;
            let ext_end = pos + 4 + 4 * words;
            if ext_end > end {
                return Err(RtpError::ExtensionOverflow);
            }
            let data = buf[pos + 4..ext_end].to_vec();
            pos = ext_end;
            Some(RtpExtension { profile, data })
        } else {
            None
        };
        Ok(RtpPacket {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension,
            payload: buf[pos..end].to_vec(),
            padding,
        })
    }

    /// Serialize to wire format. At most 15 CSRCs are written; the extension body is zero-padded
    /// to a multiple of 4 bytes (and truncated at 65535 words).
    pub fn serialize(&self) -> Vec<u8> {
        let cc = self.csrcs.len().min(15);
        let mut out = Vec::with_capacity(12 + 4 * cc + self.payload.len() + 4);
        let mut b0 = 2u8 << 6 | cc as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push((self.marker as u8) << 7 | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs[..cc] {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            let words = ext.data.len().div_ceil(4).min(u16::MAX as usize);
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            let mut body = ext.data.clone();
            body.resize(words * 4, 0);
            out.extend_from_slice(&body);
        }
        out.extend_from_slice(&self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, self.padding as usize - 1));
            out.push(self.padding);
        }
        out
    }
}

/// Signed distance `a - b` between two RTP timestamps, correct across the 2^32 wrap.
pub fn timestamp_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Signed distance `a - b` between two sequence numbers, correct across the 2^16 wrap.
pub fn sequence_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

/// Sender-side state of one RTP stream: SSRC, next sequence number and timestamp, marker logic.
#[derive(Debug, Clone)]
pub struct RtpSender {
    pub ssrc: u32,
    pub payload_type: u8,
    /// Samples per packet (160 = 20 ms at 8 kHz).
    pub samples_per_packet: u32,
    next_sequence: u16,
    next_timestamp: u32,
    mark_next: bool,
    /// Packets sent so far (for RTCP sender reports).
    pub packet_count: u32,
    /// Payload octets sent so far (for RTCP sender reports).
    pub octet_count: u32,
}

impl RtpSender {
    /// `ssrc`, `sequence` and `timestamp` should be random (RFC 3550 §5.1); they are arguments so
    /// the caller owns the randomness. 20 ms / 160-sample packets.
    pub fn new(ssrc: u32, payload_type: u8, sequence: u16, timestamp: u32) -> Self {
        RtpSender {
            ssrc,
            payload_type: payload_type & 0x7F,
            samples_per_packet: 160,
            next_sequence: sequence,
            next_timestamp: timestamp,
            mark_next: true,
            packet_count: 0,
            octet_count: 0,
        }
    }

    /// Sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// Timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// Build the next audio packet (one `samples_per_packet` step). The marker is set on the first
    /// packet and on the first packet after [`RtpSender::silence`].
    pub fn packet(&mut self, payload: Vec<u8>) -> RtpPacket {
        let mut p = RtpPacket::new(
            self.payload_type,
            self.next_sequence,
            self.next_timestamp,
            self.ssrc,
            payload,
        );
        p.marker = std::mem::take(&mut self.mark_next);
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.next_timestamp = self.next_timestamp.wrapping_add(self.samples_per_packet);
        self.packet_count = self.packet_count.wrapping_add(1);
        self.octet_count = self.octet_count.wrapping_add(p.payload.len() as u32);
        p
    }

    /// `packets` frames of silence were suppressed (not sent): time advances, the sequence number
    /// does not, and the next packet starts a talkspurt (marker set).
    pub fn silence(&mut self, packets: u32) {
        if packets > 0 {
            self.next_timestamp = self
                .next_timestamp
                .wrapping_add(packets.wrapping_mul(self.samples_per_packet));
            self.mark_next = true;
        }
    }

    /// A packet of another payload (an RFC 4733 event) was sent with the next sequence number:
    /// advance it, not the timestamp.
    pub fn skip_sequence(&mut self) {
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.packet_count = self.packet_count.wrapping_add(1);
        self.octet_count = self.octet_count.wrapping_add(4);
    }

    /// Force the marker bit on the next packet (e.g. a new talkspurt after a source change).
    pub fn mark_next(&mut self) {
        self.mark_next = true;
    }
}

/// What the jitter buffer plays out at one 20 ms tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Still filling up (before the first playout or after an underrun): play nothing/silence.
    Buffering,
    /// The next packet in sequence.
    Frame(RtpPacket),
    /// The packet with this sequence number never arrived (in time): conceal the gap.
    Missing { sequence: u16, timestamp: u32 },
}

/// Counters a jitter buffer keeps (for statistics and RTCP receiver reports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub duplicates: u64,
    pub late: u64,
    pub missing: u64,
    pub overflow: u64,
    pub resyncs: u64,
}

/// A fixed-depth jitter buffer keyed by (wrap-extended) sequence number.
///
/// Call [`JitterBuffer::push`] for every arriving packet and [`JitterBuffer::pop`] once per
/// packet interval (20 ms). Playout starts `depth` after the first packet arrived, then yields one
/// [`Playout`] per call: the next packet, or `Missing` for a gap. Packets arriving after their
/// slot was played are dropped as late; duplicates are dropped. A jump of more than
/// [`JitterBuffer::RESYNC_GAP`] sequence numbers (restarted sender) resynchronises instead of
/// reporting thousands of missing frames.
#[derive(Debug)]
pub struct JitterBuffer {
    depth: Duration,
    max_packets: usize,
    samples_per_packet: u32,
    packets: BTreeMap<u64, RtpPacket>,
    /// Highest extended sequence number seen; the reference for unwrapping.
    highest: Option<u64>,
    /// Next extended sequence number to play; `None` while buffering.
    next: Option<u64>,
    /// Timestamp of the last played/concealed frame.
    last_timestamp: Option<u32>,
    /// When buffering began (first packet after start/underrun).
    fill_started: Option<Instant>,
    underrun: bool,
    pub stats: JitterStats,
}

impl JitterBuffer {
    /// Sequence jumps beyond this many packets resynchronise the buffer.
    pub const RESYNC_GAP: u64 = 100;

    /// `depth` of buffering before playout (e.g. 60 ms), 160-sample packets.
    pub fn new(depth: Duration) -> Self {
        let frames = (depth.as_millis() / 20).max(1) as usize;
        JitterBuffer {
            depth,
            max_packets: frames * 4 + 8,
            samples_per_packet: 160,
            packets: BTreeMap::new(),
            highest: None,
            next: None,
            last_timestamp: None,
            fill_started: None,
            underrun: false,
            stats: JitterStats::default(),
        }
    }

    /// Packets currently held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn extend(&self, seq: u16) -> u64 {
        match self.highest {
            None => (1u64 << 16) | seq as u64, // start one cycle in so we can go backwards
            Some(h) => {
                let base = h & !0xFFFF;
                let cand = base | seq as u64;
                let mut best = cand;
                for c in [cand.wrapping_add(1 << 16), cand.wrapping_sub(1 << 16)] {
                    if c.abs_diff(h) < best.abs_diff(h) {
                        best = c;
                    }
                }
                best
            }
        }
    }

    /// Accept an arriving packet.
    pub fn push(&mut self, packet: RtpPacket, arrival: Instant) {
        self.stats.received += 1;
        let ext = self.extend(packet.sequence);
        if let Some(h) = self.highest {
            if ext.abs_diff(h) > Self::RESYNC_GAP {
                // The sender restarted or jumped: drop everything and start over from here.
                self.stats.resyncs += 1;
                self.packets.clear();
                self.next = None;
                self.fill_started = None;
                self.underrun = false;
                self.last_timestamp = None;
                self.highest = Some(ext);
            }
        }
        if let Some(next) = self.next {
            if ext < next {
                self.stats.late += 1;
                return;
            }
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(ext, packet);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        if self.fill_started.is_none() {
            self.fill_started = Some(arrival);
        }
        while self.packets.len() > self.max_packets {
            // Overflow: drop the oldest and move the playout point past it.
            if let Some((k, _)) = self.packets.pop_first() {
                self.stats.overflow += 1;
                if self.next.is_some_and(|n| n <= k) {
                    self.next = Some(k + 1);
                }
            }
        }
    }

    /// One playout tick at `now`.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let filled = self
            .fill_started
            .is_some_and(|s| now.saturating_duration_since(s) >= self.depth);
        let first = self.packets.keys().next().copied();
        match (self.next, first) {
            // Initial buffering.
            (None, Some(first)) if filled => self.play(first),
            (None, _) => Playout::Buffering,
            // After an underrun, wait for the buffer to refill; frames lost meanwhile are skipped.
            (Some(next), Some(first)) if self.underrun => {
                if filled {
                    self.underrun = false;
                    self.play(first.max(next))
                } else {
                    Playout::Buffering
                }
            }
            // Nothing at all held: underrun. Keep our place so stale packets still count as late.
            (Some(_), None) => {
                self.underrun = true;
                self.fill_started = None;
                Playout::Buffering
            }
            (Some(next), Some(_)) => self.play(next),
        }
    }

    fn play(&mut self, slot: u64) -> Playout {
        self.next = Some(slot + 1);
        match self.packets.remove(&slot) {
            Some(p) => {
                self.last_timestamp = Some(p.timestamp);
                Playout::Frame(p)
            }
            None => {
                self.stats.missing += 1;
                let timestamp = match self.last_timestamp {
                    Some(t) => t.wrapping_add(self.samples_per_packet),
                    None => self.packets.values().next().map_or(0, |p| p.timestamp),
                };
                self.last_timestamp = Some(timestamp);
                Playout::Missing {
                    sequence: slot as u16,
                    timestamp,
                }
            }
        }
    }
}

/// One RTCP reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// Cumulative packets lost, a signed 24-bit value on the wire (clamped).
    pub cumulative_lost: i32,
    pub extended_highest_sequence: u32,
    pub jitter: u32,
    pub last_sr: u32,
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0xFF_FFFF;
        out.extend_from_slice(&((self.fraction_lost as u32) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&self.extended_highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// Receiver-side statistics of one source for RTCP reception reports (RFC 3550 A.3, A.8):
/// extended highest sequence number, cumulative and fractional loss, interarrival jitter.
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    base_seq: u64,
    max_seq: Option<u64>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Previous (arrival − RTP timestamp) transit, in timestamp units.
    transit: Option<i64>,
    /// Jitter estimate ×16 (RFC 3550 A.8 fixed-point form).
    jitter_q4: u64,
}

impl ReceptionStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record one packet. `arrival` is the arrival time in RTP timestamp units (e.g. elapsed
    /// microseconds × clock rate / 10^6 since any fixed origin), wrapping allowed.
    pub fn on_packet(&mut self, sequence: u16, timestamp: u32, arrival: u32) {
        let ext = match self.max_seq {
            None => {
                self.base_seq = (1 << 16) | sequence as u64;
                self.base_seq
            }
            Some(max) => {
                let cand = (max & !0xFFFF) | sequence as u64;
                [cand, cand + (1 << 16), cand.saturating_sub(1 << 16)]
                    .into_iter()
                    .min_by_key(|c| c.abs_diff(max))
                    .unwrap_or(cand)
            }
        };
        self.max_seq = Some(self.max_seq.map_or(ext, |m| m.max(ext)));
        self.received += 1;
        let transit = arrival.wrapping_sub(timestamp) as i32 as i64;
        if let Some(prev) = self.transit {
            let d = (transit - prev).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16.
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4).min(u32::MAX as u64) as u32
    }

    /// Packets expected so far (from the first to the highest sequence number).
    pub fn expected(&self) -> u64 {
        self.max_seq.map_or(0, |m| m - self.base_seq + 1)
    }

    /// Packets lost so far (negative when duplicates outnumber losses).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// A report block for `ssrc`; also starts a new interval for the fraction lost.
    /// `last_sr`/`delay_since_last_sr` are left for the caller to fill in.
    pub fn report_block(&mut self, ssrc: u32) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self
                .cumulative_lost()
                .clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            extended_highest_sequence: self.max_seq.map_or(0, |m| (m - (1 << 16)) as u32),
            jitter: self.jitter(),
            last_sr: 0,
            delay_since_last_sr: 0,
        }
    }
}

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// 64-bit NTP timestamp for a time since the Unix epoch (the caller reads the clock).
pub fn ntp_timestamp(since_unix_epoch: Duration) -> u64 {
    let secs = since_unix_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET) & 0xFFFF_FFFF;
    let frac = ((since_unix_epoch.subsec_nanos() as u64) << 32) / 1_000_000_000;
    secs << 32 | frac
}

fn rtcp_header(out: &mut Vec<u8>, count: usize, packet_type: u8) {
    out.push(2 << 6 | count as u8);
    out.push(packet_type);
    out.extend_from_slice(&[0, 0]); // length, patched by rtcp_finish
}

fn rtcp_finish(out: &mut [u8]) {
    let words = (out.len() / 4).saturating_sub(1) as u16;
    out[2..4].copy_from_slice(&words.to_be_bytes());
}

/// Serialize an RTCP sender report (PT 200). At most 31 report blocks are written.
pub fn rtcp_sender_report(
    sender: &RtpSender,
    ntp: u64,
    rtp_timestamp: u32,
    blocks: &[ReportBlock],
) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut out = Vec::with_capacity(28 + 24 * blocks.len());
    rtcp_header(&mut out, blocks.len(), 200);
    out.extend_from_slice(&sender.ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&sender.packet_count.to_be_bytes());
    out.extend_from_slice(&sender.octet_count.to_be_bytes());
    for b in blocks {
        b.write(&mut out);
    }
    rtcp_finish(&mut out);
    out
}

/// Serialize an RTCP receiver report (PT 201). At most 31 report blocks are written.
pub fn rtcp_receiver_report(ssrc: u32, blocks: &[ReportBlock]) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut out = Vec::with_capacity(8 + 24 * blocks.len());
    rtcp_header(&mut out, blocks.len(), 201);
    out.extend_from_slice(&ssrc.to_be_bytes());
    for b in blocks {
        b.write(&mut out);
    }
    rtcp_finish(&mut out);
    out
}

/// The next of a reproducible run of pseudo-random bytes (never-panics tests).
#[cfg(test)]
pub(crate) fn noise_byte(state: &mut u32) -> u8 {
    *state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
    (*state >> 16) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16) -> RtpPacket {
        RtpPacket::new(
            0,
            seq,
            (seq as u32).wrapping_mul(160),
            0x1234,
            vec![seq as u8; 4],
        )
    }

    #[test]
    fn round_trip_full_packet() {
        let mut p = RtpPacket::new(8, 65535, 0xFFFF_FF00, 0xDEADBEEF, vec![1, 2, 3, 4, 5]);
        p.marker = true;
        p.csrcs = vec![1, 2, 3];
        p.extension = Some(RtpExtension {
            profile: 0xBEDE,
            data: vec![9, 9, 9, 9, 8, 8, 8, 8],
        });
        p.padding = 3;
        let bytes = p.serialize();
        assert_eq!(bytes[0], 0x80 | 0x20 | 0x10 | 3);
        assert_eq!(bytes[1], 0x80 | 8);
        assert_eq!(bytes.len(), 12 + 12 + 4 + 8 + 5 + 3);
        assert_eq!(RtpPacket::parse(&bytes), Ok(p));
    }

    #[test]
    fn parse_known_bytes() {
        let bytes = [0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 7, 0xFF, 0xFF];
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(
            (p.marker, p.payload_type, p.sequence, p.timestamp, p.ssrc),
            (false, 0, 1, 160, 7)
        );
        assert_eq!(p.payload, vec![0xFF, 0xFF]);
        assert_eq!(p.serialize(), bytes);
    }

    #[test]
    fn extension_is_skipped() {
        // X bit, one extension word, then payload.
        let bytes = [
            0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 1, 2, 3, 4, 0xAA,
        ];
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.payload, vec![0xAA]);
        assert_eq!(p.extension.unwrap().data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn errors_on_garbage() {
        assert_eq!(RtpPacket::parse(&[0x80; 5]), Err(RtpError::TooShort(5)));
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(RtpError::BadVersion(1)));
        let mut b = vec![0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::CsrcOverflow));
        b[0] = 0x90;
        b.extend_from_slice(&[0, 0, 0, 5]);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::ExtensionOverflow));
        let b = [0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding(0)));
        let b = [0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding(9)));
        // Pseudo-random garbage never panics.
        let mut x: u32 = 12345;
        for len in 0..2000usize {
            let buf: Vec<u8> = (0..len % 64)
                .map(|_| {
                    let b = noise_byte(&mut x);
                    if len % 3 == 0 {
                        (b | 0x80) & !0x40
                    } else {
                        b
                    }
                })
                .collect();
            let _ = RtpPacket::parse(&buf);
        }
    }

    #[test]
    fn sender_sequence_timestamp_marker() {
        let mut s = RtpSender::new(42, 0, 65534, u32::MAX - 100);
        let a = s.packet(vec![0; 160]);
        let b = s.packet(vec![0; 160]);
        let c = s.packet(vec![0; 160]);
        assert!(a.marker && !b.marker && !c.marker);
        assert_eq!((a.sequence, b.sequence, c.sequence), (65534, 65535, 0));
        assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
        assert_eq!(timestamp_diff(c.timestamp, a.timestamp), 320);
        s.silence(10);
        let d = s.packet(vec![0; 160]);
        assert!(d.marker);
        assert_eq!(d.sequence, 1);
        assert_eq!(timestamp_diff(d.timestamp, c.timestamp), 160 * 11);
        assert_eq!((s.packet_count, s.octet_count), (4, 640));
        assert_eq!(sequence_diff(0, 65535), 1);
    }

    fn drain(jb: &mut JitterBuffer, t: Instant, from_ms: u64, n: u64) -> Vec<Playout> {
        (0..n)
            .map(|i| jb.pop(t + Duration::from_millis(from_ms + 20 * i)))
            .collect()
    }

    fn seqs(out: &[Playout]) -> Vec<Option<u16>> {
        out.iter()
            .filter_map(|p| match p {
                Playout::Frame(p) => Some(Some(p.sequence)),
                Playout::Missing { .. } => Some(None),
                Playout::Buffering => None,
            })
            .collect()
    }

    #[test]
    fn jitter_buffer_reorders_and_wraps() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_millis(60));
        assert_eq!(jb.pop(t), Playout::Buffering);
        for s in [65534u16, 0, 65535, 1, 1, 2] {
            jb.push(pkt(s), t);
        }
        assert_eq!(jb.stats.duplicates, 1);
        assert_eq!(jb.pop(t + Duration::from_millis(40)), Playout::Buffering);
        let out = drain(&mut jb, t, 60, 5);
        assert_eq!(
            seqs(&out),
            vec![Some(65534), Some(65535), Some(0), Some(1), Some(2)]
        );
    }

    #[test]
    fn jitter_buffer_reports_gap_and_late() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_millis(60));
        for s in [10u16, 11, 13, 14] {
            jb.push(pkt(s), t);
        }
        let out = drain(&mut jb, t, 60, 3);
        assert_eq!(seqs(&out), vec![Some(10), Some(11), None]);
        assert_eq!(
            out[2],
            Playout::Missing {
                sequence: 12,
                timestamp: 12 * 160
            }
        );
        jb.push(pkt(12), t); // too late now
        assert_eq!(jb.stats.late, 1);
        let out = drain(&mut jb, t, 120, 2);
        assert_eq!(seqs(&out), vec![Some(13), Some(14)]);
        assert_eq!(jb.stats.missing, 1);
        // Underrun: buffer empty → buffering until refilled for `depth`.
        assert_eq!(jb.pop(t + Duration::from_millis(160)), Playout::Buffering);
        jb.push(pkt(17), t + Duration::from_millis(200));
        assert_eq!(jb.pop(t + Duration::from_millis(220)), Playout::Buffering);
        let out = drain(&mut jb, t, 260, 1);
        assert_eq!(seqs(&out), vec![Some(17)]);
    }

    #[test]
    fn jitter_buffer_timestamp_wrap_in_missing() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_millis(20));
        let mut a = pkt(1);
        a.timestamp = u32::MAX - 100;
        let mut c = pkt(3);
        c.timestamp = a.timestamp.wrapping_add(320);
        jb.push(a, t);
        jb.push(c, t);
        let out = drain(&mut jb, t, 20, 3);
        assert_eq!(
            out[1],
            Playout::Missing {
                sequence: 2,
                timestamp: 59
            }
        );
        assert!(matches!(&out[2], Playout::Frame(p) if p.timestamp == 219));
    }

    #[test]
    fn jitter_buffer_resyncs_on_jump() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_millis(40));
        jb.push(pkt(100), t);
        jb.push(pkt(30000), t);
        assert_eq!(jb.stats.resyncs, 1);
        let out = drain(&mut jb, t, 40, 1);
        assert_eq!(seqs(&out), vec![Some(30000)]);
    }

    #[test]
    fn reception_stats_loss_wrap_and_jitter() {
        let mut st = ReceptionStats::new();
        // Perfectly paced stream: no jitter.
        for seq in [65533u16, 65534, 65535, 0, 2, 3] {
            let ts = (u32::MAX - 300).wrapping_add(160 * seq.wrapping_sub(65533) as u32); // wraps too
            st.on_packet(seq, ts, ts.wrapping_add(5000));
        }
        assert_eq!(st.expected(), 7);
        assert_eq!(st.cumulative_lost(), 1);
        assert_eq!(st.jitter(), 0);
        let rb = st.report_block(77);
        assert_eq!(rb.extended_highest_sequence, (1 << 16) | 3);
        assert_eq!((rb.cumulative_lost, rb.fraction_lost), (1, 36)); // 1/7 × 256
        let rb = st.report_block(77);
        assert_eq!(rb.fraction_lost, 0);
        // Arrivals alternating 80 units early/late converge towards a jitter of 160.
        let mut st = ReceptionStats::new();
        for i in 0..400u32 {
            let off = if i % 2 == 0 { 0 } else { 160 };
            st.on_packet(i as u16, i * 160, i * 160 + off);
        }
        assert!((150..=160).contains(&st.jitter()), "{}", st.jitter());
    }

    #[test]
    fn rtcp_reports() {
        let mut s = RtpSender::new(0x01020304, 0, 0, 0);
        s.packet(vec![0; 160]);
        let ntp = ntp_timestamp(Duration::from_millis(1500));
        assert_eq!(ntp >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(ntp & 0xFFFF_FFFF, 1 << 31);
        let sr = rtcp_sender_report(&s, ntp, 160, &[]);
        assert_eq!(sr.len(), 28);
        assert_eq!(&sr[..4], &[0x80, 200, 0, 6]);
        assert_eq!(&sr[20..28], &[0, 0, 0, 1, 0, 0, 0, 160]);
        let block = ReportBlock {
            ssrc: 9,
            fraction_lost: 1,
            cumulative_lost: -1,
            ..Default::default()
        };
        let rr = rtcp_receiver_report(7, &[block]);
        assert_eq!(rr.len(), 32);
        assert_eq!(&rr[..4], &[0x81, 201, 0, 7]);
        assert_eq!(&rr[12..16], &[1, 0xFF, 0xFF, 0xFF]);
    }
}
