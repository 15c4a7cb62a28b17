//! One RTP session per call leg: a UDP socket on an even port of the `rtp.conf` range (and
//! the odd one above for RTCP), one receive task for both ports (RTP → [`Frame`]s into the
//! channel's `from_far`; RTCP reports), reading into its worker thread's buffer, and a 20 ms
//! send step (one frame from `to_far` → RTP;
//! an RTCP report every `rtcpinterval`). The protocol decisions are socket-free: the
//! [`Receiver`] (strict RTP through [`SourceGuard`], reception statistics, the
//! [`Depacketizer`]), the [`Packetizer`], [`send_target`], [`rtcp_report`] and the
//! [`RtcpReceiver`]; [`RtpSession`] only moves datagrams. Every queue a session feeds is
//! bounded (the jitter buffer, the channel's [`crate::media::frame::FrameQueue`]s).
//!
//! With SRTP negotiated ([`StreamParams::srtp`]) the session holds one [`SrtpContext`] per
//! direction: RTP and RTCP are protected just before they are sent and unprotected just after
//! they are read, before anything else looks at them; a packet that fails (plain RTP, a wrong
//! tag, a replay) is dropped and counted ([`RtpStats::srtp_refused`]).

use super::dtmf::{dtmf_packets, DtmfPacket, DtmfReceiver, TelephoneEvent};
use super::g711;
use super::ports::{PortLease, PortPool};
use super::rtcp::RtcpReceiver;
use super::rtp::{JitterBuffer, Playout, ReceptionStats, ReportBlock, RtpPacket, RtpSender};
use super::srtp::{SrtpContext, SrtpKeys};
use super::strict::{SourceGuard, StrictConfig, StrictMode, Verdict};
use crate::media::frame::{Frame, MediaHandle, NativeFormat, FRAME_SAMPLES, FRAME_TIME};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// What SDP negotiated for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// Where to send (the SDP `c=`/`m=` address); `None`: nowhere (hold with 0.0.0.0, or not
    /// negotiated yet).
    pub remote: Option<SocketAddr>,
    /// Payload type of the audio codec.
    pub pt: u8,
    /// The audio codec (µ-law or A-law on the wire).
    pub format: NativeFormat,
    /// telephone-event payload type, if negotiated.
    pub dtmf_pt: Option<u8>,
    /// The call is on hold: send nothing.
    pub hold: bool,
    /// SRTP keys (SDES), when the stream is `RTP/SAVP`.
    pub srtp: Option<SrtpKeys>,
}

impl Default for StreamParams {
    fn default() -> Self {
        StreamParams {
            remote: None,
            pt: 0,
            format: NativeFormat::Ulaw,
            dtmf_pt: None,
            hold: false,
            srtp: None,
        }
    }
}

fn encode(format: NativeFormat, samples: &[i16]) -> Vec<u8> {
    match format {
        NativeFormat::Alaw => g711::alaw_encode(samples),
        _ => g711::ulaw_encode(samples),
    }
}

/// Where to send RTP: with comedia (symmetric RTP) the address the far end's accepted RTP
/// comes from (strict RTP decides which that is), once known; otherwise (and until then)
/// the SDP address.
pub fn send_target(
    sdp: Option<SocketAddr>,
    source: Option<SocketAddr>,
    comedia: bool,
) -> Option<SocketAddr> {
    if comedia {
        source.or(sdp)
    } else {
        sdp
    }
}

/// A key press whose end packets never came is reported after this much quiet.
pub const DTMF_QUIET: Duration = Duration::from_millis(300);

/// Received datagrams → frames.
#[derive(Debug, Default)]
pub struct Depacketizer {
    dtmf: DtmfReceiver,
    /// When the last telephone-event packet arrived (while a press may be open).
    last_event: Option<Instant>,
}

impl Depacketizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// `None`: not an RTP packet (ignored, does not count as activity). `Some(frames)`: a
    /// valid packet and what it carried (nothing for unknown payload types, comfort noise, or
    /// the non-final packets of a DTMF event).
    pub fn receive(&mut self, buf: &[u8], p: &StreamParams) -> Option<Vec<Frame>> {
        self.receive_at(buf, p, Instant::now())
    }

    /// [`Depacketizer::receive`] at a given time.
    pub fn receive_at(&mut self, buf: &[u8], p: &StreamParams, now: Instant) -> Option<Vec<Frame>> {
        let (mut frames, audio) = self.receive_split(buf, p, now)?;
        frames.extend(audio.and_then(|a| decode(&a, p)));
        Some(frames)
    }

    /// Like [`Depacketizer::receive_at`], but audio packets are returned undecoded (for the
    /// jitter buffer; [`decode`] them at playout), digits at once.
    pub fn receive_split(
        &mut self,
        buf: &[u8],
        p: &StreamParams,
        now: Instant,
    ) -> Option<(Vec<Frame>, Option<RtpPacket>)> {
        let pkt = RtpPacket::parse(buf).ok()?;
        Some(self.receive_packet(pkt, p, now))
    }

    /// [`Depacketizer::receive_split`] of a parsed packet.
    pub fn receive_packet(
        &mut self,
        pkt: RtpPacket,
        p: &StreamParams,
        now: Instant,
    ) -> (Vec<Frame>, Option<RtpPacket>) {
        if Some(pkt.payload_type) == p.dtmf_pt {
            self.last_event = Some(now);
            let Ok(ev) = TelephoneEvent::parse(&pkt.payload) else {
                return (Vec::new(), None);
            };
            let digits = self.dtmf.on_packet_seq(pkt.sequence, pkt.timestamp, &ev);
            let frames = digits
                .into_iter()
                .map(|d| Frame::Dtmf(d.digit, Duration::from_micros(u64::from(d.duration) * 125)))
                .collect();
            return (frames, None);
        }
        let audio = decode_format(pkt.payload_type, p).is_some() && !pkt.payload.is_empty();
        (Vec::new(), audio.then_some(pkt))
    }

    /// A digit whose end packets were lost, once the events have been quiet for
    /// [`DTMF_QUIET`].
    pub fn poll(&mut self, now: Instant) -> Option<Frame> {
        let last = self.last_event?;
        if now.saturating_duration_since(last) < DTMF_QUIET {
            return None;
        }
        self.last_event = None;
        let d = self.dtmf.flush()?;
        Some(Frame::Dtmf(
            d.digit,
            Duration::from_micros(u64::from(d.duration) * 125),
        ))
    }
}

fn decode_format(pt: u8, p: &StreamParams) -> Option<NativeFormat> {
    match pt {
        0 => Some(NativeFormat::Ulaw),
        8 => Some(NativeFormat::Alaw),
        x if x == p.pt && p.format != NativeFormat::Slin => Some(p.format),
        _ => None,
    }
}

/// An audio packet's samples (`None`: not G.711 or empty).
pub fn decode(pkt: &RtpPacket, p: &StreamParams) -> Option<Frame> {
    let format = decode_format(pkt.payload_type, p)?;
    if pkt.payload.is_empty() {
        return None;
    }
    Some(Frame::voice(match format {
        NativeFormat::Alaw => g711::alaw_decode(&pkt.payload),
        _ => g711::ulaw_decode(&pkt.payload),
    }))
}

/// Playout delay of the receive jitter buffer.
pub const JITTER_DEPTH: Duration = Duration::from_millis(40);

/// A digit being sent: its packets, the RTP timestamp they all carry, 20 ms ticks so far.
#[derive(Debug)]
struct DtmfOut {
    packets: VecDeque<DtmfPacket>,
    timestamp: u32,
    ticks: u32,
}

/// Frames → RTP packets, one call of [`Packetizer::tick`] per 20 ms.
#[derive(Debug)]
pub struct Packetizer {
    pub sender: RtpSender,
    pub format: NativeFormat,
    pub dtmf_pt: Option<u8>,
    dtmf: Option<DtmfOut>,
    /// Digits go as inband tones (dtmfmode=inband) instead of RFC 4733 events.
    pub inband: bool,
    /// The 20 ms frames of the inband digit being played.
    tone: VecDeque<Vec<i16>>,
}

/// Where the digits written to a channel go instead of RTP (dtmfmode=info: a SIP INFO).
pub type DtmfSink = Arc<dyn Fn(char, Duration) + Send + Sync>;

/// The row and column frequencies (Hz) of a DTMF digit.
fn dtmf_freqs(d: char) -> Option<(f32, f32)> {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let keys = ["123A", "456B", "789C", "*0#D"];
    let d = d.to_ascii_uppercase();
    keys.iter()
        .enumerate()
        .find_map(|(r, k)| k.chars().position(|c| c == d).map(|c| (ROWS[r], COLS[c])))
}

/// 8 kHz 20 ms frames of digit `d` sounding for `len` (then silence).
pub fn dtmf_tone_frames(d: char, len: Duration) -> Vec<Vec<i16>> {
    let Some((lo, hi)) = dtmf_freqs(d) else {
        return Vec::new();
    };
    let n = usize::try_from(len.as_millis() * 8).unwrap_or(0);
    let frames = n.div_ceil(FRAME_SAMPLES);
    let tau = std::f32::consts::TAU;
    (0..frames)
        .map(|f| {
            (0..FRAME_SAMPLES)
                .map(|i| {
                    let k = f * FRAME_SAMPLES + i;
                    if k >= n {
                        return 0;
                    }
                    let t = k as f32 / 8000.0;
                    let v = 6000.0 * ((tau * lo * t).sin() + (tau * hi * t).sin());
                    v as i16
                })
                .collect()
        })
        .collect()
}

/// How long a digit without a duration (or a very short one) is played.
pub const DEFAULT_DTMF: Duration = Duration::from_millis(100);

impl Packetizer {
    pub fn new(ssrc: u32, seq: u16, ts: u32, p: &StreamParams) -> Packetizer {
        Packetizer {
            sender: RtpSender::new(ssrc, p.pt, seq, ts),
            format: p.format,
            dtmf_pt: p.dtmf_pt,
            dtmf: None,
            inband: false,
            tone: VecDeque::new(),
        }
    }

    /// Follow a renegotiation (new codec / payload types).
    pub fn set_params(&mut self, p: &StreamParams) {
        if self.sender.payload_type != p.pt || self.format != p.format {
            self.sender.mark_next();
        }
        self.sender.payload_type = p.pt & 0x7f;
        self.format = p.format;
        self.dtmf_pt = p.dtmf_pt;
    }

    /// A digit is being sent: the next ticks must not take a frame.
    pub fn busy(&self) -> bool {
        self.dtmf.is_some() || !self.tone.is_empty()
    }

    /// One 20 ms tick with the frame taken from the queue (`None` when nothing was queued, or
    /// while [`Packetizer::busy`]). Returns the packets to send now.
    pub fn tick(&mut self, frame: Option<Frame>) -> Vec<RtpPacket> {
        let frame = match frame {
            Some(Frame::Dtmf(d, len)) if self.inband && self.dtmf.is_none() => {
                let len = if len < Duration::from_millis(40) {
                    DEFAULT_DTMF
                } else {
                    len.min(Duration::from_secs(5))
                };
                self.tone.extend(dtmf_tone_frames(d, len));
                None
            }
            f => f,
        };
        let frame = match self.tone.pop_front() {
            Some(samples) => Some(Frame::voice(samples)),
            None => frame,
        };
        if self.dtmf.is_none() {
            match frame {
                Some(Frame::Voice(a)) => {
                    // A prompt's frame comes encoded already (once per prompt and codec).
                    let payload = match a.encoded(self.format) {
                        Some(b) => b.to_vec(),
                        None => {
                            let mut s = a.into_vec();
                            s.resize(FRAME_SAMPLES, 0);
                            encode(self.format, &s)
                        }
                    };
                    return vec![self.sender.packet(payload)];
                }
                Some(Frame::Dtmf(d, len)) => {
                    let len = if len < Duration::from_millis(40) {
                        DEFAULT_DTMF
                    } else {
                        len.min(Duration::from_secs(5))
                    };
                    match (self.dtmf_pt, dtmf_packets(d, 8000, len)) {
                        (Some(_), Ok(p)) => {
                            self.dtmf = Some(DtmfOut {
                                packets: p.into(),
                                timestamp: self.sender.next_timestamp(),
                                ticks: 0,
                            });
                        }
                        _ => {
                            self.sender.silence(1);
                            return Vec::new();
                        }
                    }
                }
                None => {
                    self.sender.silence(1);
                    return Vec::new();
                }
            }
        }
        let (Some(pt), Some(out)) = (self.dtmf_pt, self.dtmf.as_mut()) else {
            self.dtmf = None;
            self.sender.silence(1);
            return Vec::new();
        };
        let elapsed = FRAME_TIME * out.ticks;
        out.ticks += 1;
        let mut pkts = Vec::new();
        while out.packets.front().is_some_and(|p| p.offset <= elapsed) {
            if let Some(p) = out.packets.pop_front() {
                let mut r = RtpPacket::new(
                    pt,
                    self.sender.next_sequence(),
                    out.timestamp,
                    self.sender.ssrc,
                    p.event.serialize().to_vec(),
                );
                r.marker = p.marker;
                self.sender.skip_sequence();
                pkts.push(r);
            }
        }
        if out.packets.is_empty() {
            // The event took `ticks` frames of time; audio resumes after it, marked.
            let ticks = out.ticks;
            self.dtmf = None;
            self.sender.silence(ticks);
        }
        pkts
    }
}

/// RTCP reports go out this often unless `rtp.conf` says otherwise (`rtcpinterval`).
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// How a session behaves, from `rtp.conf` and the peer's `nat=` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// `nat=comedia`: send to where the accepted RTP comes from, not to the SDP address.
    pub comedia: bool,
    /// `strictrtp`, `probation`.
    pub strict: StrictConfig,
    /// Between two RTCP reports.
    pub rtcp_interval: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            comedia: false,
            strict: StrictConfig::default(),
            rtcp_interval: RTCP_INTERVAL,
        }
    }
}

/// What a session counted, for `sip show channelstats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RtpStats {
    /// RTP packets accepted from the far end.
    pub rx_packets: u64,
    /// Packets of the far end's stream that never arrived.
    pub rx_lost: i64,
    /// Interarrival jitter of the far end's stream (RFC 3550 A.8).
    pub rx_jitter: Duration,
    /// RTP packets sent.
    pub tx_packets: u64,
    /// What the far end's last RTCP report said about our stream: packets lost, jitter.
    pub tx_lost: Option<i64>,
    pub tx_jitter: Option<Duration>,
    /// Round-trip time from the far end's last report with LSR/DLSR.
    pub rtt: Option<Duration>,
    /// Packets refused by strict RTP (from an address that is not the call's source).
    pub refused: u64,
    /// Digits dropped because too many waited in the channel's queue.
    pub digits_dropped: u64,
    /// RTP and RTCP packets dropped because SRTP could not unprotect them (not SRTP, wrong
    /// key or tag, replayed).
    pub srtp_refused: u64,
}

/// The receiving half of a session, socket-free: strict RTP decides whether a datagram is
/// taken ([`SourceGuard`]), reception statistics are kept for RTCP, and the
/// [`Depacketizer`] turns what is taken into frames.
#[derive(Debug)]
pub struct Receiver {
    guard: SourceGuard,
    depack: Depacketizer,
    stats: ReceptionStats,
    /// SSRC of the stream taken; a new one starts new statistics.
    ssrc: Option<u32>,
    packets: u64,
    /// Losses of the streams before the current SSRC.
    lost_before: i64,
    /// Zero of the arrival clock (RTP timestamp units) used for jitter.
    origin: Instant,
}

impl Receiver {
    pub fn new(strict: StrictConfig, now: Instant) -> Receiver {
        Receiver {
            guard: SourceGuard::new(strict, now),
            depack: Depacketizer::new(),
            stats: ReceptionStats::new(),
            ssrc: None,
            packets: 0,
            lost_before: 0,
            origin: now,
        }
    }

    /// A datagram from `from` at `now`. `None`: not RTP, or refused by strict RTP (neither
    /// counts as activity). Otherwise the digits it completed and its audio packet (for the
    /// jitter buffer), as [`Depacketizer::receive_split`].
    pub fn on_datagram(
        &mut self,
        buf: &[u8],
        from: SocketAddr,
        p: &StreamParams,
        now: Instant,
    ) -> Option<(Vec<Frame>, Option<RtpPacket>)> {
        let pkt = RtpPacket::parse(buf).ok()?;
        if self
            .guard
            .check(from, pkt.ssrc, pkt.sequence, p.remote, now)
            == Verdict::Drop
        {
            return None;
        }
        if self.ssrc != Some(pkt.ssrc) {
            if self.ssrc.is_some() {
                self.lost_before += self.stats.cumulative_lost().max(0);
                self.stats = ReceptionStats::new();
            }
            self.ssrc = Some(pkt.ssrc);
        }
        self.packets += 1;
        // Arrival in timestamp units (8 kHz), wrapping like RTP timestamps.
        let arrival = (now.saturating_duration_since(self.origin).as_micros() * 8 / 1000) as u32;
        self.stats.on_packet(pkt.sequence, pkt.timestamp, arrival);
        Some(self.depack.receive_packet(pkt, p, now))
    }

    /// A digit whose end packets were lost (see [`Depacketizer::poll`]).
    pub fn poll(&mut self, now: Instant) -> Option<Frame> {
        self.depack.poll(now)
    }

    /// The far end's RTP comes from here (once a source was accepted).
    pub fn source(&self) -> Option<SocketAddr> {
        self.guard.source()
    }

    /// SSRC of the stream taken.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// The far address was renegotiated to `remote`: learn again unless it is where the
    /// RTP already comes from (as Asterisk does when the remote address is set).
    pub fn renegotiated(&mut self, remote: Option<SocketAddr>, now: Instant) {
        if remote.is_some() && remote != self.guard.source() {
            self.guard.relearn(now);
        }
    }

    /// Whether an RTCP datagram from `from` may be about this call: with strict RTP, only
    /// from the host the RTP comes from or the SDP named.
    pub fn rtcp_allowed(&self, from: SocketAddr, sdp: Option<SocketAddr>) -> bool {
        self.guard.config().mode == StrictMode::No
            || self.guard.source().is_some_and(|s| s.ip() == from.ip())
            || sdp.is_some_and(|s| s.ip() == from.ip())
    }

    /// Packets accepted, packets lost, jitter, packets refused.
    fn counts(&self) -> (u64, i64, Duration, u64) {
        let jitter = Duration::from_micros(u64::from(self.stats.jitter()) * 125);
        (
            self.packets,
            self.lost_before + self.stats.cumulative_lost().max(0),
            jitter,
            self.guard.dropped(),
        )
    }

    /// A reception report block on the stream taken (none before one was), with LSR/DLSR.
    fn report_block(&mut self, rtcp: &RtcpReceiver, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let mut b = self.stats.report_block(ssrc);
        (b.last_sr, b.delay_since_last_sr) = rtcp.lsr_dlsr(now);
        Some(b)
    }
}

/// Our RTCP report at `now` (`wall`: the time since the Unix epoch): a sender report once
/// we have sent RTP, a receiver report before; with a block on the far end's stream once
/// one was taken.
pub fn rtcp_report(
    sender: &RtpSender,
    rx: &mut Receiver,
    rtcp: &RtcpReceiver,
    now: Instant,
    wall: Duration,
) -> Vec<u8> {
    let blocks: Vec<ReportBlock> = rx.report_block(rtcp, now).into_iter().collect();
    if sender.packet_count > 0 {
        super::rtp::rtcp_sender_report(
            sender,
            super::rtp::ntp_timestamp(wall),
            sender.next_timestamp(),
            &blocks,
        )
    } else {
        super::rtp::rtcp_receiver_report(sender.ssrc, &blocks)
    }
}

/// The wall clock as a duration since the Unix epoch (for NTP timestamps).
fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

#[derive(Debug)]
struct State {
    params: StreamParams,
    comedia: bool,
    media: Option<MediaHandle>,
    last_rx: Instant,
    pack: Packetizer,
    rx: Receiver,
    rtcp: RtcpReceiver,
    /// Where the far end's accepted RTCP comes from (sent to with comedia).
    rtcp_source: Option<SocketAddr>,
    jitter: JitterBuffer,
    params_changed: bool,
    /// SRTP: protects what we send, unprotects what we receive (boxed: about 1 KiB each, which
    /// a plain-RTP session should not carry).
    srtp_tx: Option<Box<SrtpContext>>,
    srtp_rx: Option<Box<SrtpContext>>,
    srtp_refused: u64,
    /// dtmfmode=info: digits go here instead of RTP.
    dtmf_sink: Option<SinkSlot>,
}

/// A [`DtmfSink`] in the session state (which is `Debug`).
struct SinkSlot(DtmfSink);

impl std::fmt::Debug for SinkSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DtmfSink")
    }
}

impl State {
    /// Where RTP goes now.
    fn target(&self) -> Option<SocketAddr> {
        send_target(self.params.remote, self.rx.source(), self.comedia)
    }

    /// Where RTCP goes now: the port above the RTP target, or with comedia where the far
    /// end's RTCP comes from.
    fn rtcp_target(&self) -> Option<SocketAddr> {
        let rtp = self.target()?;
        match self.rtcp_source {
            Some(a) if self.comedia => Some(a),
            _ => Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
        }
    }
}

/// A session's sockets, and the port lease they hold: the port is free again only once
/// both sockets are closed (the receive task and the clock hold this).
#[derive(Debug)]
struct Sockets {
    rtp: UdpSocket,
    rtcp: Option<UdpSocket>,
    _lease: PortLease,
}

/// A running RTP session (see the module docs). Dropping it stops its task and frees the
/// ports.
#[derive(Debug)]
pub struct RtpSession {
    port: u16,
    state: Arc<Mutex<State>>,
    task: Option<JoinHandle<()>>,
    /// The send side, ticked by the shared [`MediaClock`] while this is alive.
    sender: Option<Arc<SendSide>>,
}

impl RtpSession {
    /// Take a port of `pool`, bind it and start. Must run inside a tokio runtime; `None` if
    /// no port is free (or there is no runtime).
    pub fn open(ip: IpAddr, pool: &Arc<PortPool>, opts: SessionOptions) -> Option<RtpSession> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (lease, sock, rtcp) = pool.bind(ip)?;
        let port = lease.port();
        sock.set_nonblocking(true).ok()?;
        let _guard = handle.enter();
        let rtcp = rtcp
            .filter(|r| r.set_nonblocking(true).is_ok())
            .and_then(|r| UdpSocket::from_std(r).ok());
        let socks = Arc::new(Sockets {
            rtp: UdpSocket::from_std(sock).ok()?,
            rtcp,
            _lease: lease,
        });
        let params = StreamParams::default();
        let now = Instant::now();
        let state = Arc::new(Mutex::new(State {
            params,
            comedia: opts.comedia,
            media: None,
            last_rx: now,
            pack: Packetizer::new(rand::random(), rand::random(), rand::random(), &params),
            rx: Receiver::new(opts.strict, now),
            rtcp: RtcpReceiver::new(),
            rtcp_source: None,
            jitter: JitterBuffer::new(JITTER_DEPTH),
            params_changed: false,
            srtp_tx: None,
            srtp_rx: None,
            srtp_refused: 0,
            dtmf_sink: None,
        }));
        let task = Some(handle.spawn(recv_loop(socks.clone(), state.clone())));
        let every = opts.rtcp_interval.as_millis() / FRAME_TIME.as_millis().max(1);
        let sender = Arc::new(SendSide {
            socks,
            state: state.clone(),
            ticks: Mutex::new(0),
            rtcp_every: u32::try_from(every).unwrap_or(u32::MAX).max(1),
        });
        MediaClock::global(&handle).add(&sender);
        Some(RtpSession {
            port,
            state,
            task,
            sender: Some(sender),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// New negotiated parameters (answer, re-INVITE, hold). A new far address starts
    /// strict RTP learning again; a new SRTP key starts that direction's SRTP state afresh
    /// (an unchanged one keeps it: rollover counter, replay window).
    pub fn set_params(&self, p: StreamParams) {
        let mut s = self.state.lock();
        if p.remote != s.params.remote {
            s.rx.renegotiated(p.remote, Instant::now());
        }
        let (old, new) = (s.params.srtp, p.srtp);
        if old.map(|k| (k.suite, k.local)) != new.map(|k| (k.suite, k.local)) {
            s.srtp_tx = new.map(|k| Box::new(k.sender()));
        }
        if old.map(|k| (k.suite, k.remote)) != new.map(|k| (k.suite, k.remote)) {
            s.srtp_rx = new.map(|k| Box::new(k.receiver()));
        }
        s.params = p;
        s.params_changed = true;
    }

    pub fn params(&self) -> StreamParams {
        self.state.lock().params
    }

    /// How digits written to the channel are sent from now on: to `sink` (SIP INFO), else
    /// as inband tones (`inband`) or RFC 4733 events.
    pub fn set_dtmf_out(&self, sink: Option<DtmfSink>, inband: bool) {
        let mut s = self.state.lock();
        s.dtmf_sink = sink.map(SinkSlot);
        s.pack.inband = inband;
    }

    /// Feed these queues: received frames go to `from_far`, `to_far` is sent.
    pub fn attach(&self, m: MediaHandle) {
        self.state.lock().media = Some(m);
    }

    /// Stop feeding the channel (another fork won).
    pub fn detach(&self) {
        self.state.lock().media = None;
    }

    /// Time since the last accepted RTP packet (or since [`RtpSession::reset_idle`]).
    pub fn idle(&self) -> Duration {
        self.state.lock().last_rx.elapsed()
    }

    pub fn reset_idle(&self) {
        self.state.lock().last_rx = Instant::now();
    }

    /// The address RTP is sent to now.
    pub fn target(&self) -> Option<SocketAddr> {
        self.state.lock().target()
    }

    /// What was received and sent, and what the far end's RTCP said.
    pub fn stats(&self) -> RtpStats {
        let s = self.state.lock();
        let (rx_packets, rx_lost, rx_jitter, refused) = s.rx.counts();
        let far = s.rtcp.far;
        RtpStats {
            rx_packets,
            rx_lost,
            rx_jitter,
            tx_packets: u64::from(s.pack.sender.packet_count),
            tx_lost: far.map(|f| i64::from(f.cumulative_lost)),
            tx_jitter: far.map(|f| Duration::from_micros(u64::from(f.jitter) * 125)),
            rtt: s.rtcp.rtt,
            refused,
            digits_dropped: s.media.as_ref().map_or(0, |m| m.from_far.dropped_digits()),
            srtp_refused: s.srtp_refused,
        }
    }

    /// Stop receiving and sending (also on drop).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        // The clock holds only a weak reference: dropping ours stops the sending.
        self.sender = None;
    }
}

impl Drop for RtpSession {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Datagrams a session reads in one go before it lets other tasks run.
const RECV_BURST: usize = 32;

thread_local! {
    /// Where this worker thread reads datagrams: sessions share their thread's buffer
    /// instead of holding 3.5 KiB each (issue 20); nothing is kept in it across awaits.
    static RECV_BUF: std::cell::RefCell<Box<[u8; 2048]>> =
        std::cell::RefCell::new(Box::new([0; 2048]));
}

/// Reads both of a session's ports (one task a session): waits until one is readable, then
/// reads what is there into the thread's buffer.
async fn recv_loop(socks: Arc<Sockets>, state: Arc<Mutex<State>>) {
    // Which port is looked at first, alternating so a flood on one does not starve the other.
    let mut rtcp_first = false;
    loop {
        // `poll_recv_ready` keeps one waker per socket (no waiter list to join and leave per
        // datagram, as `readable()` in a select would).
        let (sock, rtcp) = std::future::poll_fn(|cx| {
            rtcp_first = !rtcp_first;
            let order = if rtcp_first {
                [true, false]
            } else {
                [false, true]
            };
            for rtcp in order {
                let sock = if rtcp {
                    socks.rtcp.as_ref()
                } else {
                    Some(&socks.rtp)
                };
                if let Some(sock) = sock {
                    if let std::task::Poll::Ready(r) = sock.poll_recv_ready(cx) {
                        return std::task::Poll::Ready((r.map(|()| sock), rtcp));
                    }
                }
            }
            std::task::Poll::Pending
        })
        .await;
        let Ok(sock) = sock else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let mut failed = false;
        let mut drained = false;
        RECV_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            for _ in 0..RECV_BURST {
                match sock.try_recv_from(&mut buf[..]) {
                    Ok((n, from)) => {
                        let data = buf.get_mut(..n).unwrap_or(&mut []);
                        if rtcp {
                            on_rtcp(&state, data, from);
                        } else {
                            on_rtp(&state, data, from);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        drained = true;
                        return;
                    }
                    Err(_) => {
                        failed = true;
                        return;
                    }
                }
            }
        });
        if failed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        } else if !drained {
            tokio::task::yield_now().await;
        }
    }
}

/// One datagram on the RTP port (unprotected in place first with SRTP).
fn on_rtp(state: &Mutex<State>, data: &mut [u8], from: SocketAddr) {
    let mut s = state.lock();
    let data = match s.srtp_rx.as_mut().map(|c| c.unprotect_rtp(data)) {
        None => &*data,
        Some(Ok(n)) => &data[..n],
        Some(Err(_)) => {
            s.srtp_refused += 1;
            return;
        }
    };
    let params = s.params;
    let now = Instant::now();
    let Some((frames, audio)) = s.rx.on_datagram(data, from, &params, now) else {
        return;
    };
    if let Some(a) = audio {
        s.jitter.push(a, now);
    }
    s.last_rx = now;
    if let Some(m) = &s.media {
        for f in frames {
            m.from_far.push_lossy(f);
        }
    }
}

/// One datagram on the RTCP port: the far end's reports on our stream (only from the host
/// the call's RTP comes from, and only its stream's SSRC, with strict RTP).
fn on_rtcp(state: &Mutex<State>, data: &mut [u8], from: SocketAddr) {
    let arrival = super::rtp::ntp_timestamp(wall_clock());
    let mut s = state.lock();
    if !s.rx.rtcp_allowed(from, s.params.remote) {
        return;
    }
    let data = match s.srtp_rx.as_mut().map(|c| c.unprotect_rtcp(data)) {
        None => &*data,
        Some(Ok(n)) => &data[..n],
        Some(Err(_)) => {
            s.srtp_refused += 1;
            return;
        }
    };
    let (ours, theirs) = (s.pack.sender.ssrc, s.rx.ssrc());
    if s.rtcp
        .on_datagram(data, ours, theirs, arrival, Instant::now())
        .is_ok()
    {
        s.rtcp_source = Some(from);
    }
}

/// The sending half of a session, ticked every 20 ms by the [`MediaClock`].
#[derive(Debug)]
struct SendSide {
    socks: Arc<Sockets>,
    state: Arc<Mutex<State>>,
    ticks: Mutex<u32>,
    /// Ticks between two RTCP reports.
    rtcp_every: u32,
}

/// Something the [`MediaClock`] steps every 20 ms (an RTP session's sending half, a Local
/// channel pair's pacer). The clock holds it weakly: dropping the last `Arc` unregisters it.
pub trait Tick: Send + Sync {
    fn tick(&self);
}

impl Tick for SendSide {
    /// One 20 ms step: play out one received frame to the channel, take one frame from the
    /// channel and send it (non-blocking: a full socket buffer drops the packet, as a
    /// late packet would be useless anyway); every `rtcp_every` ticks an RTCP report.
    fn tick(&self) {
        let ticks = {
            let mut t = self.ticks.lock();
            *t = t.wrapping_add(1);
            *t
        };
        if let Some(r) = self
            .socks
            .rtcp
            .as_ref()
            .filter(|_| ticks.is_multiple_of(self.rtcp_every))
        {
            let mut guard = self.state.lock();
            let s = &mut *guard;
            if let Some(to) = s.rtcp_target() {
                let mut report = rtcp_report(
                    &s.pack.sender,
                    &mut s.rx,
                    &s.rtcp,
                    Instant::now(),
                    wall_clock(),
                );
                let protected = s.srtp_tx.as_mut().map(|c| c.protect_rtcp(&mut report));
                if !matches!(protected, Some(Err(_))) {
                    let _ = r.try_send_to(&report, to);
                }
            }
        }
        let mut to_sink = None;
        let (pkts, protected, target) = {
            let mut s = self.state.lock();
            if std::mem::take(&mut s.params_changed) {
                let p = s.params;
                s.pack.set_params(&p);
            }
            let Some(m) = s.media.clone() else {
                return;
            };
            let now = Instant::now();
            if let Some(f) = s.rx.poll(now) {
                m.from_far.push_lossy(f);
            }
            // One 20 ms frame out of the jitter buffer; a lost one becomes silence.
            match s.jitter.pop(now) {
                Playout::Frame(p) => {
                    if let Some(f) = decode(&p, &s.params) {
                        m.from_far.push_lossy(f);
                    }
                }
                Playout::Missing { .. } => m.from_far.push_lossy(Frame::silence()),
                Playout::Buffering => {}
            }
            let mut frame = if s.pack.busy() {
                None
            } else {
                m.to_far.try_pop()
            };
            if let (Some(Frame::Dtmf(d, len)), Some(sink)) = (&frame, &s.dtmf_sink) {
                to_sink = Some((sink.0.clone(), *d, *len));
                frame = None;
            }
            let target = s.target();
            if s.params.hold || target.is_none() {
                // On hold: what is written is dropped, time goes on.
                s.pack.sender.silence(1);
                drop(s);
                if let Some((sink, d, len)) = to_sink {
                    sink(d, len);
                }
                return;
            }
            let pkts = s.pack.tick(frame);
            // With SRTP the packets are protected here, under the lock that holds the
            // context; plain ones are serialized after it is released, as before.
            let protected = s.srtp_tx.as_mut().map(|c| {
                pkts.iter()
                    .filter_map(|p| {
                        let mut b = p.serialize();
                        // Our own packets always protect; one that would not is not sent.
                        c.protect_rtp(&mut b).ok().map(|()| b)
                    })
                    .collect::<Vec<Vec<u8>>>()
            });
            (pkts, protected, target)
        };
        // Outside the session lock: the sink sends a SIP request.
        if let Some((sink, d, len)) = to_sink {
            sink(d, len);
        }
        if let Some(t) = target {
            match protected {
                Some(wire) => {
                    for b in wire {
                        let _ = self.socks.rtp.try_send_to(&b, t);
                    }
                }
                None => {
                    for p in pkts {
                        let _ = self.socks.rtp.try_send_to(&p.serialize(), t);
                    }
                }
            }
        }
    }
}

/// One 20 ms clock for every RTP session (and every other [`Tick`]) instead of a timer
/// each: a few tasks ("shards") each tick their share in one go, so 2,000 calls cost 100
/// task wake-ups a second instead of 100,000. One clock per runtime: when its runtime goes
/// away (tests create many), the next user starts a new one.
pub struct MediaClock {
    shards: Vec<Shard>,
    next: std::sync::atomic::AtomicUsize,
    alive: Arc<std::sync::atomic::AtomicBool>,
}

/// Clock shards (tasks ticking sessions).
const CLOCK_SHARDS: usize = 2;

type Shard = Arc<Mutex<Vec<std::sync::Weak<dyn Tick>>>>;

static CLOCK: Mutex<Option<Arc<MediaClock>>> = Mutex::new(None);

/// Marks the clock dead when its task is dropped (its runtime shut down).
struct AliveGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl MediaClock {
    /// The clock running on `handle`'s runtime (started at first use). A current-thread
    /// runtime (a test's) runs only on its own thread, so it gets a clock of that thread:
    /// ticks registered by one test never land on another test's runtime, which may end
    /// first.
    pub fn global(handle: &tokio::runtime::Handle) -> Arc<MediaClock> {
        thread_local! {
            static LOCAL: std::cell::RefCell<Option<Arc<MediaClock>>> =
                const { std::cell::RefCell::new(None) };
        }
        let get = |slot: &mut Option<Arc<MediaClock>>| {
            if let Some(c) = slot.as_ref() {
                if c.alive.load(std::sync::atomic::Ordering::SeqCst) {
                    return c.clone();
                }
            }
            let c = Arc::new(MediaClock::start(handle));
            *slot = Some(c.clone());
            c
        };
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread {
            LOCAL.with(|l| get(&mut l.borrow_mut()))
        } else {
            get(&mut CLOCK.lock())
        }
    }

    fn start(handle: &tokio::runtime::Handle) -> MediaClock {
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let shards: Vec<Shard> = (0..CLOCK_SHARDS)
            .map(|_| Arc::new(Mutex::new(Vec::new())))
            .collect();
        for shard in &shards {
            let shard = shard.clone();
            let guard = AliveGuard(alive.clone());
            handle.spawn(async move {
                let _guard = guard;
                let mut iv = tokio::time::interval(FRAME_TIME);
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                loop {
                    iv.tick().await;
                    let live: Vec<Arc<dyn Tick>> = {
                        let mut v = shard.lock();
                        v.retain(|w| w.strong_count() > 0);
                        v.iter().filter_map(std::sync::Weak::upgrade).collect()
                    };
                    for s in live {
                        s.tick();
                    }
                }
            });
        }
        MediaClock {
            shards,
            next: std::sync::atomic::AtomicUsize::new(0),
            alive,
        }
    }

    /// Tick `s` every 20 ms from now on, as long as it is alive.
    pub fn add<T: Tick + 'static>(&self, s: &Arc<T>) {
        let w: std::sync::Weak<T> = Arc::downgrade(s);
        let w: std::sync::Weak<dyn Tick> = w;
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.shards.len();
        if let Some(shard) = self.shards.get(i) {
            shard.lock().push(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> StreamParams {
        StreamParams {
            remote: Some("127.0.0.1:4000".parse().unwrap()),
            pt: 0,
            format: NativeFormat::Ulaw,
            dtmf_pt: Some(101),
            hold: false,
            srtp: None,
        }
    }

    #[test]
    fn voice_packets_carry_seq_timestamp_and_marker_after_silence() {
        let mut p = Packetizer::new(0x1234, 100, 1000, &params());
        let a = p.tick(Some(Frame::voice(vec![100; 160])));
        let b = p.tick(Some(Frame::voice(vec![100; 160])));
        assert!(p.tick(None).is_empty());
        let c = p.tick(Some(Frame::voice(vec![100; 160])));
        let (a, b, c) = (&a[0], &b[0], &c[0]);
        assert_eq!((a.sequence, a.timestamp, a.marker), (100, 1000, true));
        assert_eq!((b.sequence, b.timestamp, b.marker), (101, 1160, false));
        assert_eq!((c.sequence, c.timestamp, c.marker), (102, 1480, true));
        assert_eq!(a.ssrc, 0x1234);
        assert_eq!(a.payload, g711::ulaw_encode(&[100; 160]));
        // A-law after renegotiation, short frames padded to 20 ms.
        p.set_params(&StreamParams {
            pt: 8,
            format: NativeFormat::Alaw,
            ..params()
        });
        let d = p.tick(Some(Frame::voice(vec![7; 80])));
        assert_eq!(d[0].payload_type, 8);
        assert_eq!(d[0].payload.len(), 160);
        // A prompt's frame goes out as encoded when the prompt was loaded.
        let clip = Arc::new(crate::media::frame::Clip::new(vec![-900; 320]));
        let shared = crate::media::frame::Audio::shared(&clip, 160).unwrap();
        let e = p.tick(Some(Frame::Voice(shared)));
        assert_eq!(e[0].payload, g711::alaw_encode(&[-900; 160]));
        assert_eq!(
            d[0].payload,
            g711::alaw_encode(&[[7i16; 80], [0; 80]].concat())
        );
    }

    #[test]
    fn inband_dtmf_is_sent_as_tone_frames_of_the_audio_codec() {
        let mut p = Packetizer::new(1, 0, 0, &params());
        p.inband = true;
        let mut all = p.tick(Some(Frame::Dtmf('5', Duration::from_millis(100))));
        while p.busy() {
            all.extend(p.tick(None));
        }
        // 100 ms = five 20 ms audio frames, none a telephone-event.
        assert_eq!(all.len(), 5);
        assert!(all.iter().all(|x| x.payload_type != 101));
        let tone = dtmf_tone_frames('5', Duration::from_millis(100));
        assert_eq!(tone.len(), 5);
        assert!(tone[0].iter().any(|s| s.unsigned_abs() > 3000));
        assert!(dtmf_tone_frames('x', Duration::from_millis(100)).is_empty());
        assert_eq!(dtmf_freqs('d'), Some((941.0, 1633.0)));
    }

    #[test]
    fn dtmf_is_sent_over_its_duration_with_one_timestamp_then_audio_resumes() {
        let mut p = Packetizer::new(1, 0, 0, &params());
        p.tick(Some(Frame::voice(vec![0; 160])));
        let mut all = Vec::new();
        let mut ticks = 0;
        all.extend(p.tick(Some(Frame::Dtmf('#', Duration::from_millis(100)))));
        ticks += 1;
        while p.busy() {
            all.extend(p.tick(None));
            ticks += 1;
        }
        // 100 ms: packets at 0, 50 ms, then 3 end packets at 100 ms (tick 5).
        assert_eq!(ticks, 6);
        assert_eq!(all.len(), 5);
        assert!(all
            .iter()
            .all(|x| x.payload_type == 101 && x.timestamp == 160));
        assert!(all[0].marker && !all[1].marker);
        let seqs: Vec<u16> = all.iter().map(|x| x.sequence).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        let ends: Vec<TelephoneEvent> = all
            .iter()
            .map(|x| TelephoneEvent::parse(&x.payload).unwrap())
            .collect();
        assert!(ends[2..]
            .iter()
            .all(|e| e.end && e.duration == 800 && e.event == 11));
        assert!(!ends[0].end);
        let v = p.tick(Some(Frame::voice(vec![0; 160])));
        assert_eq!(v[0].timestamp, 160 + 6 * 160);
        assert_eq!(v[0].sequence, 6);
        assert!(v[0].marker);
    }

    #[test]
    fn digits_without_telephone_event_are_dropped() {
        let mut p = Packetizer::new(
            1,
            0,
            0,
            &StreamParams {
                dtmf_pt: None,
                ..params()
            },
        );
        assert!(p.tick(Some(Frame::Dtmf('1', Duration::ZERO))).is_empty());
        assert!(!p.busy());
    }

    #[test]
    fn receive_decodes_by_payload_type_and_reports_one_digit_per_press() {
        let mut d = Depacketizer::new();
        let p = params();
        assert_eq!(d.receive(b"garbage", &p), None);
        assert_eq!(d.receive(&[], &p), None);
        let ul = RtpPacket::new(0, 1, 0, 9, g711::ulaw_encode(&[1000; 160])).serialize();
        assert_eq!(
            d.receive(&ul, &p),
            Some(vec![Frame::voice(g711::ulaw_decode(&g711::ulaw_encode(
                &[1000; 160]
            )))])
        );
        let al = RtpPacket::new(8, 2, 160, 9, g711::alaw_encode(&[-500; 160])).serialize();
        assert_eq!(
            d.receive(&al, &p),
            Some(vec![Frame::voice(g711::alaw_decode(&g711::alaw_encode(
                &[-500; 160]
            )))])
        );
        let unknown = RtpPacket::new(18, 3, 320, 9, vec![1, 2]).serialize();
        assert_eq!(d.receive(&unknown, &p), Some(vec![]));
        let mut got = Vec::new();
        for pk in dtmf_packets('5', 8000, Duration::from_millis(120)).unwrap() {
            let r = RtpPacket::new(101, 4, 480, 9, pk.event.serialize().to_vec()).serialize();
            got.extend(d.receive(&r, &p).unwrap());
        }
        assert_eq!(got, vec![Frame::Dtmf('5', Duration::from_millis(120))]);
    }

    #[test]
    fn split_receive_keeps_audio_for_the_jitter_buffer() {
        let mut d = Depacketizer::new();
        let p = params();
        let now = Instant::now();
        let pkt = RtpPacket::new(0, 7, 1120, 9, vec![0xff; 160]);
        let (frames, audio) = d.receive_split(&pkt.serialize(), &p, now).unwrap();
        assert!(frames.is_empty());
        assert_eq!(audio.as_ref(), Some(&pkt));
        assert_eq!(decode(&pkt, &p), Some(Frame::voice(vec![0; 160])));
        // Unknown payload types and empty payloads are not audio.
        let cn = RtpPacket::new(13, 8, 1280, 9, vec![40]).serialize();
        assert_eq!(d.receive_split(&cn, &p, now), Some((vec![], None)));
        let empty = RtpPacket::new(0, 9, 1440, 9, vec![]).serialize();
        assert_eq!(d.receive_split(&empty, &p, now), Some((vec![], None)));
    }

    #[test]
    fn rtcp_report_counts_what_was_sent_and_received() {
        let t0 = Instant::now();
        let mut p = Packetizer::new(0xabcd, 0, 0, &params());
        let mut rx = Receiver::new(StrictConfig::default(), t0);
        let rtcp = RtcpReceiver::new();
        // Nothing sent or received yet: an empty receiver report.
        let rr = rtcp_report(&p.sender, &mut rx, &rtcp, t0, Duration::from_secs(1));
        assert_eq!(rr, super::super::rtp::rtcp_receiver_report(0xabcd, &[]));
        for _ in 0..3 {
            p.tick(Some(Frame::silence()));
        }
        let far = params().remote.unwrap();
        for seq in [1u16, 2, 4] {
            let pkt = RtpPacket::new(0, seq, u32::from(seq) * 160, 0x77, vec![0xff; 160]);
            assert!(rx
                .on_datagram(&pkt.serialize(), far, &params(), t0)
                .is_some());
        }
        let sr = rtcp_report(&p.sender, &mut rx, &rtcp, t0, Duration::from_secs(1));
        assert_eq!(sr.len(), 28 + 24);
        assert_eq!((sr[0], sr[1]), (0x81, 200));
        assert_eq!(&sr[4..8], &0xabcd_u32.to_be_bytes());
        assert_eq!(&sr[16..20], &480u32.to_be_bytes());
        assert_eq!(&sr[20..24], &3u32.to_be_bytes());
        assert_eq!(&sr[24..28], &480u32.to_be_bytes());
        // The block: their SSRC, 1 of 4 lost (64/256), highest sequence 4.
        let reports = crate::media::rtcp::parse_compound(&sr).unwrap();
        let b = &reports[0].blocks[0];
        assert_eq!((b.ssrc, b.fraction_lost, b.cumulative_lost), (0x77, 64, 1));
        assert_eq!(b.extended_highest_sequence & 0xffff, 4);
    }

    #[test]
    fn a_press_without_end_packets_is_reported_after_quiet() {
        let mut d = Depacketizer::new();
        let p = params();
        let t0 = Instant::now();
        let ev = TelephoneEvent {
            event: 1,
            end: false,
            volume: 10,
            duration: 400,
        };
        let r = RtpPacket::new(101, 1, 800, 9, ev.serialize().to_vec()).serialize();
        assert_eq!(d.receive_at(&r, &p, t0), Some(vec![]));
        assert_eq!(d.poll(t0 + Duration::from_millis(100)), None);
        assert_eq!(
            d.poll(t0 + DTMF_QUIET),
            Some(Frame::Dtmf('1', Duration::from_millis(50)))
        );
        assert_eq!(d.poll(t0 + DTMF_QUIET * 2), None);
    }

    #[test]
    fn comedia_sends_to_the_accepted_source() {
        let sdp: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let src: SocketAddr = "1.2.3.4:5555".parse().unwrap();
        assert_eq!(send_target(Some(sdp), None, true), Some(sdp));
        assert_eq!(send_target(Some(sdp), Some(src), true), Some(src));
        assert_eq!(send_target(Some(sdp), Some(src), false), Some(sdp));
        assert_eq!(send_target(None, Some(src), true), Some(src));
    }

    /// A receiver with the default strict RTP, the standard params and their far address.
    fn receiver() -> (Instant, StreamParams, SocketAddr, Receiver) {
        let t0 = Instant::now();
        let p = params();
        (
            t0,
            p,
            p.remote.unwrap(),
            Receiver::new(StrictConfig::default(), t0),
        )
    }

    fn voice(seq: u16, ssrc: u32) -> Vec<u8> {
        RtpPacket::new(0, seq, u32::from(seq) * 160, ssrc, vec![seq as u8; 160]).serialize()
    }

    #[test]
    fn receiver_refuses_a_spray_and_keeps_the_callers_stream() {
        let t0 = Instant::now();
        let p = params();
        let caller = p.remote.unwrap();
        let spray: SocketAddr = "127.0.0.1:6666".parse().unwrap();
        let mut rx = Receiver::new(StrictConfig::default(), t0);
        let ms = Duration::from_millis(1);
        // Before the caller's first packet, and mid-call: random SSRCs, valid headers.
        for i in 0..100u32 {
            let bytes = voice(i as u16, i.wrapping_mul(2_654_435_761));
            assert_eq!(rx.on_datagram(&bytes, spray, &p, t0 + ms * i), None);
        }
        for i in 0..400u16 {
            let t = t0 + ms * (100 + 20 * u32::from(i));
            let (_, audio) = rx.on_datagram(&voice(i, 0x5eed), caller, &p, t).unwrap();
            assert_eq!(audio.map(|a| a.ssrc), Some(0x5eed));
            let bytes = voice(i ^ 0x5555, u32::from(i) * 7 + 1);
            assert_eq!(rx.on_datagram(&bytes, spray, &p, t), None);
        }
        assert_eq!(rx.source(), Some(caller));
        let (packets, lost, _, refused) = rx.counts();
        assert_eq!((packets, lost, refused), (400, 0, 500));
        // Its RTCP is not taken either.
        assert!(!rx.rtcp_allowed("192.0.2.1:7777".parse().unwrap(), p.remote));
        assert!(rx.rtcp_allowed("127.0.0.1:4001".parse().unwrap(), p.remote));
    }

    #[test]
    fn comedia_latches_only_after_probation() {
        // The SDP names a private address; the phone's packets come from its NAT.
        let t0 = Instant::now();
        let p = StreamParams {
            remote: Some("192.168.1.10:4000".parse().unwrap()),
            ..params()
        };
        let nat: SocketAddr = "198.51.100.1:31000".parse().unwrap();
        let mut rx = Receiver::new(StrictConfig::default(), t0);
        let got: Vec<bool> = (0..6u16)
            .map(|i| {
                let t = t0 + Duration::from_millis(20 * u64::from(i));
                rx.on_datagram(&voice(i, 9), nat, &p, t).is_some()
            })
            .collect();
        assert_eq!(got, vec![false, false, false, false, true, true]);
        assert_eq!(send_target(p.remote, rx.source(), true), Some(nat));
    }

    #[test]
    fn a_dtmf_flood_stays_bounded() {
        let (t0, p, caller, mut rx) = receiver();
        let m = MediaHandle::new(NativeFormat::Ulaw);
        // 5,000 separate key presses (each its own timestamp, end bit set), nobody reading.
        for i in 0..5000u32 {
            let ev = TelephoneEvent {
                event: (i % 10) as u8,
                end: true,
                volume: 10,
                duration: 800,
            };
            let pkt = RtpPacket::new(101, i as u16, i * 1000, 1, ev.serialize().to_vec());
            let t = t0 + Duration::from_millis(u64::from(i));
            let (frames, _) = rx.on_datagram(&pkt.serialize(), caller, &p, t).unwrap();
            for f in frames {
                m.from_far.push_lossy(f);
            }
        }
        assert_eq!(m.from_far.len(), crate::media::frame::MAX_PENDING_DIGITS);
        assert_eq!(
            m.from_far.dropped_digits(),
            5000 - crate::media::frame::MAX_PENDING_DIGITS as u64
        );
    }

    #[test]
    fn a_new_far_address_starts_learning_again() {
        let (t0, p, caller, mut rx) = receiver();
        let late = t0 + Duration::from_secs(10);
        assert!(rx.on_datagram(&voice(1, 1), caller, &p, late).is_some());
        assert!(rx.on_datagram(&voice(2, 1), caller, &p, late).is_some());
        let moved: SocketAddr = "127.0.0.1:4100".parse().unwrap();
        // Locked: a stream from elsewhere is refused...
        assert!((3..10u16).all(|i| rx
            .on_datagram(
                &voice(i, 1),
                moved,
                &p,
                late + Duration::from_millis(20 * u64::from(i))
            )
            .is_none()));
        // ...until a re-INVITE names it.
        let p2 = StreamParams {
            remote: Some(moved),
            ..p
        };
        rx.renegotiated(p2.remote, late + Duration::from_secs(1));
        assert!(rx
            .on_datagram(&voice(20, 1), moved, &p2, late + Duration::from_secs(1))
            .is_some());
        // The same address again changes nothing.
        rx.renegotiated(p2.remote, late + Duration::from_secs(2));
        assert_eq!(rx.source(), Some(moved));
    }

    #[tokio::test]
    async fn session_echoes_through_queues_and_frees_its_port() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let pool = PortPool::new(41000, 41100);
        // No SDP address: the sender qualifies as the source after probation (2 here).
        let opts = SessionOptions {
            comedia: true,
            strict: StrictConfig {
                mode: StrictMode::Seqno,
                probation: 2,
            },
            ..Default::default()
        };
        let mut s = RtpSession::open(ip, &pool, opts).unwrap();
        let port = s.port();
        assert_eq!(port % 2, 0);
        s.set_params(StreamParams {
            remote: None,
            ..params()
        });
        let m = MediaHandle::new(NativeFormat::Ulaw);
        s.attach(m.clone());
        let dest: SocketAddr = SocketAddr::new(ip, port);
        let payload = g711::ulaw_encode(&[2000; 160]);
        for seq in 1..=3 {
            peer.send_to(
                &RtpPacket::new(0, seq, 0, 7, payload.clone()).serialize(),
                dest,
            )
            .await
            .unwrap();
        }
        let f = tokio::time::timeout(Duration::from_secs(2), m.from_far.pop())
            .await
            .unwrap()
            .unwrap();
        // Latched onto the sender: what the channel writes goes back there.
        assert!(m.to_far.push(f).await);
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), peer.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let back = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(back.payload, payload);
        assert!(back.marker);
        let st = s.stats();
        // The first and the next in sequence were the probation; the third was taken.
        assert_eq!((st.rx_packets, st.refused), (1, 2));
        assert!(st.tx_packets >= 1);
        s.stop();
        drop(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(std::net::UdpSocket::bind(dest).is_ok(), "port freed");
        assert_eq!(pool.available(), 51, "and back in the pool");
    }

    #[tokio::test]
    async fn srtp_session_unprotects_what_it_reads_and_protects_what_it_sends() {
        use crate::media::srtp::{MasterKey, SrtpContext, SrtpKeys, Suite};
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let pool = PortPool::new(41200, 41300);
        let opts = SessionOptions {
            comedia: true,
            strict: StrictConfig {
                mode: StrictMode::No,
                probation: 1,
            },
            ..Default::default()
        };
        let mut s = RtpSession::open(ip, &pool, opts).unwrap();
        let keys = SrtpKeys::new(
            Suite::AesCm128HmacSha1_80,
            MasterKey::random(),
            MasterKey::random(),
        );
        s.set_params(StreamParams {
            remote: Some(peer.local_addr().unwrap()),
            srtp: Some(keys),
            ..params()
        });
        // The far end protects with its key (our `remote`), unprotects with ours.
        let mut far_tx = SrtpContext::new(keys.suite, &keys.remote);
        let mut far_rx = SrtpContext::new(keys.suite, &keys.local);
        let m = MediaHandle::new(NativeFormat::Ulaw);
        s.attach(m.clone());
        let dest = SocketAddr::new(ip, s.port());
        let payload = g711::ulaw_encode(&[2000; 160]);
        // A plain packet and a forged one are refused; the protected ones are taken.
        let plain = RtpPacket::new(0, 1, 0, 7, payload.clone()).serialize();
        peer.send_to(&plain, dest).await.unwrap();
        let mut forged = plain.clone();
        forged.extend_from_slice(&[0; 10]);
        peer.send_to(&forged, dest).await.unwrap();
        for seq in 2..=4 {
            let mut p = RtpPacket::new(0, seq, 0, 7, payload.clone()).serialize();
            far_tx.protect_rtp(&mut p).unwrap();
            peer.send_to(&p, dest).await.unwrap();
        }
        let f = tokio::time::timeout(Duration::from_secs(2), m.from_far.pop())
            .await
            .unwrap()
            .unwrap();
        assert!(m.to_far.push(f).await);
        let mut buf = [0u8; 2048];
        let back = loop {
            let (n, from) = tokio::time::timeout(Duration::from_secs(2), peer.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            // RTP only (RTCP would come from the port above).
            if from.port() == dest.port() {
                break n;
            }
        };
        // What we sent is SRTP: not readable as is, readable with our key.
        assert_ne!(
            RtpPacket::parse(&buf[..back]).map(|p| p.payload).ok(),
            Some(payload.clone())
        );
        let n = far_rx.unprotect_rtp(&mut buf[..back]).unwrap();
        assert_eq!(RtpPacket::parse(&buf[..n]).unwrap().payload, payload);
        let st = s.stats();
        assert_eq!((st.rx_packets, st.srtp_refused), (3, 2));
        // New parameters with the same keys (a hold) keep the SRTP state: a replay of a
        // packet already taken is still refused.
        s.set_params(StreamParams {
            hold: true,
            ..s.params()
        });
        // The same key and stream again from the start: packet 2 is a replay.
        let mut replay_tx = SrtpContext::new(keys.suite, &keys.remote);
        let mut again = RtpPacket::new(0, 2, 0, 7, payload.clone()).serialize();
        replay_tx.protect_rtp(&mut again).unwrap();
        peer.send_to(&again, dest).await.unwrap();
        for _ in 0..100 {
            if s.stats().srtp_refused == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!((s.stats().rx_packets, s.stats().srtp_refused), (3, 3));
        s.stop();
    }
}
