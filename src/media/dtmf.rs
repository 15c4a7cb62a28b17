//! RFC 4733 telephone-events: DTMF digits carried in RTP.
//!
//! Payload: event (8 bits), E(nd) bit, reserved bit, volume (6 bits, -dBm0), duration (16 bits, in
//! RTP timestamp units). All packets of one key press share one RTP timestamp (the event start);
//! the end packet is sent three times.

use std::time::Duration;

/// Why a telephone-event payload is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("telephone-event payload too short ({0} bytes)")]
    TooShort(usize),
    #[error("not a DTMF digit: {0:?}")]
    NotADigit(char),
}

/// One RFC 4733 telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code; 0-15 are the DTMF digits.
    pub event: u8,
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parse the first 4 bytes of a payload (extra bytes, e.g. redundancy, are ignored).
    pub fn parse(buf: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        if buf.len() < 4 {
            return Err(DtmfError::TooShort(buf.len()));
        }
        Ok(TelephoneEvent {
            event: buf[0],
            end: buf[1] & 0x80 != 0,
            volume: buf[1] & 0x3F,
            duration: u16::from_be_bytes([buf[2], buf[3]]),
        })
    }

    /// Wire format (reserved bit zero).
    pub fn serialize(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (self.end as u8) << 7 | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// The DTMF digit of this event, if it is one.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

const DIGITS: &[u8; 16] = b"0123456789*#ABCD";

/// Event code 0-15 → '0'-'9', '*', '#', 'A'-'D'.
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(event as usize).map(|&b| b as char)
}

/// DTMF digit → event code (lowercase a-d accepted).
pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase() as u32;
    DIGITS.iter().position(|&b| b as u32 == d).map(|p| p as u8)
}

/// A completed key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    pub digit: char,
    /// RTP timestamp of the event start.
    pub timestamp: u32,
    /// Duration in timestamp units (as far as we saw it).
    pub duration: u16,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: u8,
    duration: u16,
    reported: bool,
}

/// Turns a stream of telephone-event packets into exactly one [`DtmfDigit`] per key press.
///
/// Packets with the same RTP timestamp belong to one event. A digit is reported on its first end
/// packet; retransmitted end packets and stale packets of older events are ignored. If all end
/// packets were lost, the digit is reported when the next event starts or on [`DtmfReceiver::flush`]
/// (call it when the stream has been quiet for a while). Non-DTMF events (16+) are ignored.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
    /// Sequence number of the last packet seen (see [`DtmfReceiver::on_packet_seq`]).
    last_seq: Option<u16>,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one packet (its RTP timestamp and parsed payload); returns digits completed by it
    /// (0, 1, or 2 when a previous unfinished press is closed by a new one that is already ending).
    pub fn on_packet(&mut self, timestamp: u32, ev: &TelephoneEvent) -> Vec<DtmfDigit> {
        self.on_packet_at(None, timestamp, ev)
    }

    /// [`DtmfReceiver::on_packet`] knowing the RTP sequence number: as Asterisk
    /// (res_rtp_asterisk's process_dtmf_rfc2833), an event with an older timestamp is a
    /// straggler only when its packet is also less than 50 packets behind the last one;
    /// further back it is a new press (a sender whose timestamps jumped back).
    pub fn on_packet_seq(
        &mut self,
        seq: u16,
        timestamp: u32,
        ev: &TelephoneEvent,
    ) -> Vec<DtmfDigit> {
        self.on_packet_at(Some(seq), timestamp, ev)
    }

    fn on_packet_at(
        &mut self,
        seq: Option<u16>,
        timestamp: u32,
        ev: &TelephoneEvent,
    ) -> Vec<DtmfDigit> {
        let behind = match (seq, self.last_seq) {
            (Some(s), Some(last)) => last.wrapping_sub(s),
            _ => 0,
        };
        if seq.is_some() {
            self.last_seq = seq;
        }
        let mut out = Vec::new();
        if event_to_digit(ev.event).is_none() {
            return out;
        }
        if let Some(cur) = &mut self.current {
            let age = timestamp.wrapping_sub(cur.timestamp) as i32;
            if age == 0 {
                cur.duration = cur.duration.max(ev.duration);
                if ev.end && !cur.reported {
                    cur.reported = true;
                    out.extend(Self::digit_of(cur));
                }
                return out;
            }
            if age < 0 && (seq.is_none() || behind < 50) {
                return out; // a straggler from an older event
            }
            if !cur.reported {
                cur.reported = true;
                out.extend(Self::digit_of(cur));
            }
        }
        let cur = Current {
            timestamp,
            event: ev.event,
            duration: ev.duration,
            reported: ev.end,
        };
        if ev.end {
            out.extend(Self::digit_of(&cur));
        }
        self.current = Some(cur);
        out
    }

    /// Report a press whose end packets never came (call after a quiet period).
    pub fn flush(&mut self) -> Option<DtmfDigit> {
        let cur = self.current.as_mut()?;
        if cur.reported {
            return None;
        }
        cur.reported = true;
        Self::digit_of(cur)
    }

    fn digit_of(cur: &Current) -> Option<DtmfDigit> {
        Some(DtmfDigit {
            digit: event_to_digit(cur.event)?,
            timestamp: cur.timestamp,
            duration: cur.duration,
        })
    }
}

/// One packet of an outgoing digit: send `event` at `offset` after the press began, all with the
/// same RTP timestamp (the event start), marker set on the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    pub offset: Duration,
    pub marker: bool,
    pub event: TelephoneEvent,
}

/// Interval between update packets while a digit is held.
pub const DTMF_UPDATE_INTERVAL: Duration = Duration::from_millis(50);

/// Default volume (-10 dBm0), as Asterisk sends.
pub const DTMF_DEFAULT_VOLUME: u8 = 10;

fn samples(d: Duration, clock_rate: u32) -> u16 {
    let s = d.as_micros() * clock_rate as u128 / 1_000_000;
    s.min(u16::MAX as u128) as u16
}

/// The packet sequence for one digit held for `duration` at `clock_rate` Hz: a start packet
/// (marker) at 0, updates every 50 ms, and three end packets at `duration`. The duration field
/// is the time elapsed when each packet is sent (at least one 20 ms frame) and saturates at
/// 65535 timestamp units (RFC 4733 long-event segmentation is not needed for DTMF key presses).
pub fn dtmf_packets(
    digit: char,
    clock_rate: u32,
    duration: Duration,
) -> Result<Vec<DtmfPacket>, DtmfError> {
    let event = digit_to_event(digit).ok_or(DtmfError::NotADigit(digit))?;
    let frame = samples(Duration::from_millis(20), clock_rate);
    let mut out = Vec::new();
    let mut offset = Duration::ZERO;
    while offset < duration {
        out.push(DtmfPacket {
            offset,
            marker: offset.is_zero(),
            event: TelephoneEvent {
                event,
                end: false,
                volume: DTMF_DEFAULT_VOLUME,
                duration: samples(offset, clock_rate).max(frame.min(samples(duration, clock_rate))),
            },
        });
        offset += DTMF_UPDATE_INTERVAL;
    }
    let end = TelephoneEvent {
        event,
        end: true,
        volume: DTMF_DEFAULT_VOLUME,
        duration: samples(duration, clock_rate),
    };
    for _ in 0..3 {
        out.push(DtmfPacket {
            offset: duration,
            marker: out.is_empty(),
            event: end,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let bytes = [0x05, 0x8A, 0x03, 0x20];
        let ev = TelephoneEvent::parse(&bytes).unwrap();
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 5,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(ev.serialize(), bytes);
        assert_eq!(ev.digit(), Some('5'));
        // Reserved bit is ignored on parse.
        assert_eq!(TelephoneEvent::parse(&[11, 0x4A, 0, 0]).unwrap().volume, 10);
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(DtmfError::TooShort(3))
        );
    }

    #[test]
    fn digit_mapping() {
        let all: String = (0..16).filter_map(event_to_digit).collect();
        assert_eq!(all, "0123456789*#ABCD");
        assert_eq!(event_to_digit(16), None);
        for (i, c) in all.chars().enumerate() {
            assert_eq!(digit_to_event(c), Some(i as u8));
        }
        assert_eq!(digit_to_event('d'), Some(15));
        assert_eq!(digit_to_event('x'), None);
    }

    #[test]
    fn an_older_timestamp_far_behind_in_sequence_is_a_new_press() {
        let ev = |event, end| TelephoneEvent {
            event,
            end,
            volume: 10,
            duration: 800,
        };
        let mut rx = DtmfReceiver::new();
        let mut got = String::new();
        for (seq, ts, e, end) in [
            (8293u16, 67840u32, 9u8, false),
            (8300, 67840, 9, true),
            // A late end packet of an earlier press (a few packets back): ignored.
            (8295, 60000, 7, true),
            // Timestamps and sequence jump back far (pcaps replayed out of capture order).
            (8087, 31040, 3, false),
            (8094, 31040, 3, true),
        ] {
            got.extend(
                rx.on_packet_seq(seq, ts, &ev(e, end))
                    .iter()
                    .map(|d| d.digit),
            );
        }
        assert_eq!(got, "93");
    }

    fn feed(rx: &mut DtmfReceiver, pkts: &[(u32, u8, bool, u16)]) -> String {
        pkts.iter()
            .flat_map(|&(ts, e, end, d)| {
                rx.on_packet(
                    ts,
                    &TelephoneEvent {
                        event: e,
                        end,
                        volume: 10,
                        duration: d,
                    },
                )
            })
            .map(|d| d.digit)
            .collect()
    }

    #[test]
    fn receiver_one_digit_per_press() {
        let mut rx = DtmfReceiver::new();
        let s = feed(
            &mut rx,
            &[
                (1000, 1, false, 160),
                (1000, 1, false, 400),
                (1000, 1, true, 800),
                (1000, 1, true, 800),
                (1000, 1, true, 800),
                // Same digit pressed again: new timestamp, new digit.
                (3000, 1, false, 160),
                (3000, 1, true, 640),
                (3000, 1, true, 640),
                // Late retransmission from the first press.
                (1000, 1, true, 800),
                (5000, 11, true, 480),
                (5000, 11, true, 480),
            ],
        );
        assert_eq!(s, "11#");
        assert_eq!(rx.flush(), None);
    }

    #[test]
    fn receiver_lost_end_packets() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            feed(
                &mut rx,
                &[
                    (u32::MAX - 10, 2, false, 160),
                    (u32::MAX - 10, 2, false, 400)
                ]
            ),
            ""
        );
        // Next press (timestamp wrapped) closes the previous one.
        assert_eq!(feed(&mut rx, &[(500, 3, false, 160)]), "2");
        let d = rx.flush().unwrap();
        assert_eq!((d.digit, d.timestamp, d.duration), ('3', 500, 160));
        assert_eq!(rx.flush(), None);
        // Non-DTMF events are ignored.
        assert_eq!(feed(&mut rx, &[(900, 32, true, 160)]), "");
    }

    #[test]
    fn sender_sequence() {
        let p = dtmf_packets('#', 8000, Duration::from_millis(120)).unwrap();
        assert_eq!(p.len(), 3 + 3);
        assert!(p[0].marker && p.iter().skip(1).all(|p| !p.marker));
        let offs: Vec<u128> = p.iter().map(|p| p.offset.as_millis()).collect();
        assert_eq!(offs, vec![0, 50, 100, 120, 120, 120]);
        let durs: Vec<u16> = p.iter().map(|p| p.event.duration).collect();
        assert_eq!(durs, vec![160, 400, 800, 960, 960, 960]);
        assert!(p.iter().all(|p| p.event.event == 11));
        assert_eq!(p.iter().filter(|p| p.event.end).count(), 3);
        // Round trip through the receiver yields exactly one digit.
        let mut rx = DtmfReceiver::new();
        let digits: Vec<_> = p.iter().flat_map(|p| rx.on_packet(42, &p.event)).collect();
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].digit, '#');
        assert_eq!(digits[0].duration, 960);
        // Wideband clock and saturation.
        let p = dtmf_packets('1', 16000, Duration::from_secs(10)).unwrap();
        assert_eq!(p.last().unwrap().event.duration, u16::MAX);
        assert_eq!(
            dtmf_packets('Z', 8000, Duration::from_millis(100)),
            Err(DtmfError::NotADigit('Z'))
        );
    }
}
