//! Strict RTP (`rtp.conf` `strictrtp`, `probation`): from which address a call's RTP is
//! accepted, as Asterisk's res_rtp_asterisk decides it, so that RTP sprayed at a media port
//! by a third party (the "RTP bleed" family, CVE-2017-14099) neither takes over a call's
//! audio nor interrupts it.
//!
//! A [`SourceGuard`] starts in a *learning* period (when the session opens, and again when
//! a renegotiation names a new far address). While learning:
//! * packets from the address the SDP named are accepted at once, and that address becomes
//!   the source; once it is, no other address can qualify (the far end is demonstrably
//!   there: ferrisk is stricter here than Asterisk, which lets another stream qualify while
//!   the SDP address is quiet);
//! * packets from the current source are accepted, and reset every other address's
//!   progress (a competing stream cannot replace a live one);
//! * any other address must *qualify*: `probation` packets in a row with consecutive
//!   sequence numbers and one SSRC after its first (with `strictrtp=yes` also spread over at
//!   least 9 ms a packet, less 5 ms: a burst is a flood, not a phone). The packet that
//!   qualifies it is accepted and its address becomes the source; the ones before are
//!   dropped. Addresses qualify independently, so one spraying address does not stop a
//!   phone behind NAT from qualifying.
//!
//! [`LEARNING_PERIOD`] after learning began, once a source is known, the source is locked:
//! only it (and the SDP address) are accepted until the next renegotiation. With
//! `strictrtp=no` every packet is accepted and the latest sender is the source.
//!
//! Pure: addresses, SSRCs, sequence numbers and instants in, a [`Verdict`] out. It never
//! touches a socket; the session applies the verdict.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `strictrtp=`: `yes` (sequence and timing), `seqno` (sequence only) or `no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrictMode {
    No,
    #[default]
    Yes,
    Seqno,
}

impl StrictMode {
    /// Asterisk's spellings: `seqno`, or a true/false word (`yes`, `true`, `on`, `1`, …).
    pub fn parse(s: &str) -> Option<StrictMode> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "seqno" => Some(StrictMode::Seqno),
            "yes" | "true" | "y" | "t" | "1" | "on" => Some(StrictMode::Yes),
            "no" | "false" | "n" | "f" | "0" | "off" => Some(StrictMode::No),
            _ => None,
        }
    }

    /// The `rtp.conf` word.
    pub fn name(self) -> &'static str {
        match self {
            StrictMode::No => "no",
            StrictMode::Yes => "yes",
            StrictMode::Seqno => "seqno",
        }
    }
}

/// `probation` when `rtp.conf` does not say.
pub const DEFAULT_PROBATION: u32 = 4;

/// How long after learning began a new address may still qualify (Asterisk's
/// `STRICT_RTP_LEARN_TIMEOUT`).
pub const LEARNING_PERIOD: Duration = Duration::from_secs(5);

/// Addresses tracked while they qualify; when full, the longest-quiet one without progress
/// makes room (then the longest-quiet one). A phone's address survives until its second
/// packet unless more than this many other addresses send in between.
pub const MAX_CANDIDATES: usize = 64;

/// The strict RTP settings of `rtp.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictConfig {
    pub mode: StrictMode,
    /// In-sequence packets after the first that qualify a new address (at least 1).
    pub probation: u32,
}

impl Default for StrictConfig {
    fn default() -> Self {
        StrictConfig {
            mode: StrictMode::Yes,
            probation: DEFAULT_PROBATION,
        }
    }
}

impl StrictConfig {
    /// With `strictrtp=yes`, the least time a qualifying run may take: 9 ms a packet, the
    /// last one 5 ms early (Asterisk's `CALC_LEARNING_MIN_DURATION`).
    pub fn min_duration(&self) -> Duration {
        let ms = u64::from(self.probation)
            .saturating_mul(9)
            .saturating_sub(5);
        Duration::from_millis(ms)
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
}

/// An address qualifying to become the source.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    addr: SocketAddr,
    ssrc: u32,
    last_seq: u16,
    /// In-sequence packets since the run began.
    run: u32,
    /// When the run began.
    run_start: Instant,
    last_seen: Instant,
}

/// Decides which source a session's RTP is accepted from (see the module docs).
#[derive(Debug, Clone)]
pub struct SourceGuard {
    cfg: StrictConfig,
    /// When the current learning period began; `None` once the source is locked.
    learning_since: Option<Instant>,
    source: Option<SocketAddr>,
    candidates: Vec<Candidate>,
    dropped: u64,
}

impl SourceGuard {
    /// A guard that starts learning at `now`.
    pub fn new(cfg: StrictConfig, now: Instant) -> SourceGuard {
        SourceGuard {
            cfg,
            learning_since: Some(now),
            source: None,
            candidates: Vec::new(),
            dropped: 0,
        }
    }

    pub fn config(&self) -> StrictConfig {
        self.cfg
    }

    /// Learn again (the far address was renegotiated). The current source stays accepted
    /// while others may qualify.
    pub fn relearn(&mut self, now: Instant) {
        self.learning_since = Some(now);
        self.candidates.clear();
    }

    /// The accepted source: where the far end's RTP comes from.
    pub fn source(&self) -> Option<SocketAddr> {
        self.source
    }

    /// True while new addresses may still qualify.
    pub fn learning(&self) -> bool {
        self.learning_since.is_some()
    }

    /// Packets dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Judge a valid RTP packet from `from` carrying `ssrc` and `seq`, arriving at `now`;
    /// `sdp` is the address the SDP named (where we send).
    pub fn check(
        &mut self,
        from: SocketAddr,
        ssrc: u32,
        seq: u16,
        sdp: Option<SocketAddr>,
        now: Instant,
    ) -> Verdict {
        if self.cfg.mode == StrictMode::No {
            self.source = Some(from);
            return Verdict::Accept;
        }
        if let (Some(since), Some(_)) = (self.learning_since, self.source) {
            if now.saturating_duration_since(since) > LEARNING_PERIOD {
                self.learning_since = None;
                self.candidates.clear();
            }
        }
        if self.source == Some(from) {
            for c in &mut self.candidates {
                c.run = 0;
                c.run_start = now;
            }
            return Verdict::Accept;
        }
        if sdp == Some(from) {
            self.adopt(from);
            return Verdict::Accept;
        }
        let open = self.learning_since.is_some() && (self.source.is_none() || self.source != sdp);
        if open && self.qualifies(from, ssrc, seq, now) {
            self.adopt(from);
            return Verdict::Accept;
        }
        self.dropped += 1;
        Verdict::Drop
    }

    fn adopt(&mut self, from: SocketAddr) {
        self.source = Some(from);
        self.candidates.clear();
    }

    /// Count the packet towards `from`'s probation; true once it has qualified.
    fn qualifies(&mut self, from: SocketAddr, ssrc: u32, seq: u16, now: Instant) -> bool {
        let cfg = self.cfg;
        let Some(c) = self.candidates.iter_mut().find(|c| c.addr == from) else {
            self.add_candidate(Candidate {
                addr: from,
                ssrc,
                last_seq: seq,
                run: 0,
                run_start: now,
                last_seen: now,
            });
            return false;
        };
        c.last_seen = now;
        if ssrc == c.ssrc && seq == c.last_seq.wrapping_add(1) {
            c.run += 1;
        } else {
            c.run = 0;
            c.run_start = now;
            c.ssrc = ssrc;
        }
        c.last_seq = seq;
        if c.run < cfg.probation.max(1) {
            return false;
        }
        if cfg.mode == StrictMode::Yes
            && now.saturating_duration_since(c.run_start) < cfg.min_duration()
        {
            // Too fast to be a phone: a flood. Start over from this packet.
            c.run = 0;
            c.run_start = now;
            return false;
        }
        true
    }

    fn add_candidate(&mut self, c: Candidate) {
        if self.candidates.len() >= MAX_CANDIDATES {
            if let Some(i) = self
                .candidates
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| (c.run > 0, c.last_seen))
                .map(|(i, _)| i)
            {
                self.candidates.swap_remove(i);
            }
        }
        self.candidates.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const MS: Duration = Duration::from_millis(1);

    /// A guard with the default settings, learning from now.
    fn guard() -> (Instant, SourceGuard) {
        let t0 = Instant::now();
        (t0, SourceGuard::new(StrictConfig::default(), t0))
    }

    /// Feed `n` packets from `from` at 20 ms spacing, from `seq` on; the verdicts.
    fn stream(
        g: &mut SourceGuard,
        from: SocketAddr,
        ssrc: u32,
        seq: u16,
        n: u16,
        sdp: Option<SocketAddr>,
        t0: Instant,
    ) -> Vec<Verdict> {
        (0..n)
            .map(|i| {
                g.check(
                    from,
                    ssrc,
                    seq.wrapping_add(i),
                    sdp,
                    t0 + MS * 20 * u32::from(i),
                )
            })
            .collect()
    }

    use Verdict::{Accept as A, Drop as D};

    #[test]
    fn the_sdp_address_is_accepted_at_once() {
        let (t0, mut g) = guard();
        let phone = addr("10.0.0.1:4000");
        assert_eq!(g.check(phone, 1, 100, Some(phone), t0), A);
        assert_eq!(g.source(), Some(phone));
    }

    #[test]
    fn a_new_address_qualifies_after_probation_sequential_packets() {
        let (t0, mut g) = guard();
        let nat = addr("192.0.2.7:31000");
        let v = stream(&mut g, nat, 9, 65534, 7, Some(addr("10.0.0.1:4000")), t0);
        // The first and 3 more are dropped; the 5th (4 in sequence, across the wrap) is
        // accepted, and the stream from then on.
        assert_eq!(v, vec![D, D, D, D, A, A, A]);
        assert_eq!(g.source(), Some(nat));
        assert_eq!(g.dropped(), 4);
    }

    #[test]
    fn probation_is_configurable() {
        let t0 = Instant::now();
        let nat = addr("192.0.2.7:31000");
        let cfg = StrictConfig {
            probation: 2,
            ..Default::default()
        };
        let mut g = SourceGuard::new(cfg, t0);
        assert_eq!(stream(&mut g, nat, 9, 10, 4, None, t0), vec![D, D, A, A]);
    }

    #[test]
    fn random_ssrc_or_sequence_never_qualifies() {
        let (t0, mut g) = guard();
        let spray = addr("203.0.113.5:5000");
        let mut x: u32 = 7;
        for i in 0..1000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // Random SSRC, sequential sequence numbers.
            let v = g.check(spray, x, i as u16, None, t0 + MS * 20 * i);
            assert_eq!(v, D);
            // One SSRC, random sequence numbers.
            let v = g.check(spray, 1, (x >> 8) as u16, None, t0 + MS * 20 * i);
            assert_eq!(v, D);
        }
        assert_eq!(g.source(), None);
    }

    #[test]
    fn a_burst_is_a_flood_with_yes_but_not_with_seqno() {
        let (t0, mut g) = guard();
        let a = addr("203.0.113.5:5000");
        // Five sequential packets within 1 ms: too fast.
        let v: Vec<Verdict> = (0..5).map(|i| g.check(a, 1, i, None, t0)).collect();
        assert_eq!(v, vec![D; 5]);
        let mut g = SourceGuard::new(
            StrictConfig {
                mode: StrictMode::Seqno,
                probation: 4,
            },
            t0,
        );
        let v: Vec<Verdict> = (0..5).map(|i| g.check(a, 1, i, None, t0)).collect();
        assert_eq!(v, vec![D, D, D, D, A]);
    }

    #[test]
    fn spraying_before_the_first_packet_does_not_take_over() {
        let (t0, mut g) = guard();
        let phone = addr("10.0.0.1:4000");
        let spray = addr("203.0.113.5:5000");
        for i in 0..50u32 {
            assert_eq!(
                g.check(spray, i * 7919, i as u16, Some(phone), t0 + MS * i),
                D
            );
        }
        // The phone's first packet (from the SDP address) is accepted.
        assert_eq!(g.check(phone, 5, 1, Some(phone), t0 + MS * 60), A);
        // And the spray keeps being dropped, sequential or not, while learning and after.
        let v = stream(&mut g, spray, 3, 500, 300, Some(phone), t0 + MS * 61);
        assert!(v.iter().all(|v| *v == D));
        assert_eq!(g.source(), Some(phone));
    }

    #[test]
    fn behind_nat_the_phone_qualifies_amid_a_spray() {
        // comedia: the phone's packets do not come from the SDP address.
        let (t0, mut g) = guard();
        let sdp = addr("192.168.1.10:4000");
        let phone = addr("198.51.100.1:31000");
        let spray = addr("203.0.113.5:5000");
        let mut got = Vec::new();
        for i in 0..10u16 {
            let t = t0 + MS * 20 * u32::from(i);
            // Two sprayed packets with random SSRCs between the phone's packets.
            for k in 0..2u32 {
                let v = g.check(spray, u32::from(i) * 31 + k, i, Some(sdp), t);
                assert_eq!(v, D);
            }
            got.push(g.check(phone, 77, 1000 + i, Some(sdp), t));
        }
        assert_eq!(got, vec![D, D, D, D, A, A, A, A, A, A]);
        assert_eq!(g.source(), Some(phone));
    }

    #[test]
    fn a_live_source_cannot_be_replaced_while_learning() {
        let t0 = Instant::now();
        let phone = addr("198.51.100.1:31000");
        let other = addr("203.0.113.5:5000");
        let cfg = StrictConfig {
            mode: StrictMode::Seqno,
            probation: 4,
        };
        let mut g = SourceGuard::new(cfg, t0);
        assert_eq!(stream(&mut g, phone, 1, 0, 5, None, t0)[4], A);
        // A sequential stream from another address, interleaved with the phone's.
        for i in 0..20u16 {
            let t = t0 + MS * (200 + 20 * u32::from(i));
            assert_eq!(g.check(other, 2, i, None, t), D);
            assert_eq!(g.check(phone, 1, 5 + i, None, t), A);
        }
        assert_eq!(g.source(), Some(phone));
    }

    #[test]
    fn a_nat_rebind_while_learning_switches_after_probation() {
        let (t0, mut g) = guard();
        let old = addr("198.51.100.1:31000");
        let new = addr("198.51.100.1:31002");
        stream(&mut g, old, 1, 0, 5, None, t0);
        assert_eq!(g.source(), Some(old));
        // The phone's mapping changes: same stream, new source port.
        let v = stream(&mut g, new, 1, 5, 6, None, t0 + MS * 100);
        assert_eq!(v, vec![D, D, D, D, A, A]);
        assert_eq!(g.source(), Some(new));
    }

    #[test]
    fn after_learning_only_the_source_and_the_sdp_address_are_accepted() {
        let (t0, mut g) = guard();
        let sdp = addr("192.168.1.10:4000");
        let phone = addr("198.51.100.1:31000");
        let other = addr("198.51.100.1:31002");
        stream(&mut g, phone, 1, 0, 5, Some(sdp), t0);
        let late = t0 + LEARNING_PERIOD + MS * 100;
        assert_eq!(g.check(phone, 1, 5, Some(sdp), late), A);
        assert!(!g.learning());
        // Even a perfect stream from elsewhere is refused now.
        let v = stream(&mut g, other, 1, 6, 50, Some(sdp), late + MS);
        assert!(v.iter().all(|v| *v == D));
        // The SDP address is the far end itself: accepted, and the source from then on.
        assert_eq!(g.check(sdp, 1, 60, Some(sdp), late + MS * 2000), A);
        assert_eq!(g.source(), Some(sdp));
        // While the SDP address is the source, nothing else qualifies, even in learning.
        g.relearn(late + MS * 3000);
        assert!(g.learning());
        let v = stream(&mut g, other, 1, 100, 10, Some(sdp), late + MS * 3000);
        assert!(v.iter().all(|v| *v == D));
        // A renegotiation to a new (private) address: a NATed stream qualifies again.
        let sdp2 = addr("192.168.1.10:4002");
        g.relearn(late + MS * 4000);
        let v = stream(&mut g, other, 1, 200, 5, Some(sdp2), late + MS * 4000);
        assert_eq!(v, vec![D, D, D, D, A]);
    }

    #[test]
    fn without_a_source_learning_goes_on_past_the_period() {
        let (t0, mut g) = guard();
        let phone = addr("198.51.100.1:31000");
        let late = t0 + LEARNING_PERIOD * 3;
        assert_eq!(stream(&mut g, phone, 1, 0, 5, None, late)[4], A);
        // Locked at the next packet (the period is long over).
        let other = addr("198.51.100.1:31002");
        assert_eq!(g.check(phone, 1, 5, None, late + MS * 100), A);
        assert!(!g.learning());
        assert!(stream(&mut g, other, 1, 6, 10, None, late + MS * 120)
            .iter()
            .all(|v| *v == D));
    }

    #[test]
    fn strictrtp_no_accepts_everything_and_follows_the_latest_sender() {
        let t0 = Instant::now();
        let cfg = StrictConfig {
            mode: StrictMode::No,
            probation: 4,
        };
        let mut g = SourceGuard::new(cfg, t0);
        let a = addr("198.51.100.1:31000");
        let b = addr("203.0.113.5:5000");
        assert_eq!(g.check(a, 1, 0, None, t0), A);
        assert_eq!(g.check(b, 99, 7, None, t0), A);
        assert_eq!(g.source(), Some(b));
    }

    #[test]
    fn many_spraying_addresses_do_not_evict_a_qualifying_phone() {
        let (t0, mut g) = guard();
        let phone = addr("198.51.100.1:31000");
        let mut got = Vec::new();
        for i in 0..6u16 {
            let t = t0 + MS * 20 * u32::from(i);
            for k in 0..50u16 {
                let spray = SocketAddr::new(addr("203.0.113.5:1").ip(), 2000 + i * 50 + k);
                assert_eq!(g.check(spray, 1, 0, None, t), D);
            }
            got.push(g.check(phone, 5, 40 + i, None, t));
        }
        assert_eq!(got, vec![D, D, D, D, A, A]);
        assert!(g.candidates.len() <= MAX_CANDIDATES);
    }

    #[test]
    fn parse_strictrtp_words() {
        assert_eq!(StrictMode::parse("YES"), Some(StrictMode::Yes));
        assert_eq!(StrictMode::parse("on"), Some(StrictMode::Yes));
        assert_eq!(StrictMode::parse("seqno"), Some(StrictMode::Seqno));
        assert_eq!(StrictMode::parse("0"), Some(StrictMode::No));
        assert_eq!(StrictMode::parse("maybe"), None);
        assert_eq!(StrictConfig::default().min_duration(), MS * 31);
    }
}
