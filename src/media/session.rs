//! One RTP session per call leg: a UDP socket on an even port of the `rtp.conf` range, a
//! receive task (RTP → [`Frame`]s into the channel's `from_far`) and a 20 ms send task (one
//! frame from `to_far` → RTP). The protocol decisions are the socket-free [`Depacketizer`],
//! [`Packetizer`] and [`send_target`]; [`RtpSession`] only moves datagrams.

use super::dtmf::{dtmf_packets, DtmfPacket, DtmfReceiver, TelephoneEvent};
use super::g711;
use super::rtp::{JitterBuffer, Playout, RtpPacket, RtpSender};
use crate::media::frame::{Frame, MediaHandle, NativeFormat, FRAME_SAMPLES, FRAME_TIME};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
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
}

impl Default for StreamParams {
    fn default() -> Self {
        StreamParams {
            remote: None,
            pt: 0,
            format: NativeFormat::Ulaw,
            dtmf_pt: None,
            hold: false,
        }
    }
}

fn encode(format: NativeFormat, samples: &[i16]) -> Vec<u8> {
    match format {
        NativeFormat::Alaw => g711::alaw_encode(samples),
        _ => g711::ulaw_encode(samples),
    }
}

/// Where to send RTP: with comedia (symmetric RTP) the address the peer's media comes from,
/// once known; otherwise (and until then) the SDP address.
pub fn send_target(
    sdp: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    comedia: bool,
) -> Option<SocketAddr> {
    if comedia {
        latched.or(sdp)
    } else {
        sdp
    }
}

/// Latch onto a packet's source address? Only with comedia, only once.
pub fn should_latch(comedia: bool, latched: Option<SocketAddr>) -> bool {
    comedia && latched.is_none()
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
        if Some(pkt.payload_type) == p.dtmf_pt {
            self.last_event = Some(now);
            let Ok(ev) = TelephoneEvent::parse(&pkt.payload) else {
                return Some((Vec::new(), None));
            };
            let digits = self.dtmf.on_packet_seq(pkt.sequence, pkt.timestamp, &ev);
            let frames = digits
                .into_iter()
                .map(|d| Frame::Dtmf(d.digit, Duration::from_micros(u64::from(d.duration) * 125)))
                .collect();
            return Some((frames, None));
        }
        let audio = decode_format(pkt.payload_type, p).is_some() && !pkt.payload.is_empty();
        Some((Vec::new(), audio.then_some(pkt)))
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
    Some(Frame::Voice(match format {
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
        self.dtmf.is_some()
    }

    /// One 20 ms tick with the frame taken from the queue (`None` when nothing was queued, or
    /// while [`Packetizer::busy`]). Returns the packets to send now.
    pub fn tick(&mut self, frame: Option<Frame>) -> Vec<RtpPacket> {
        if self.dtmf.is_none() {
            match frame {
                Some(Frame::Voice(s)) => {
                    let mut s = s;
                    s.resize(FRAME_SAMPLES, 0);
                    return vec![self.sender.packet(encode(self.format, &s))];
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

/// Next port to try, shared by all sessions (round robin through the range).
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// Bind an even port in `lo..=hi` (and port+1 for RTCP when free), skipping ports in use.
pub fn bind_pair(ip: IpAddr, lo: u16, hi: u16) -> Option<(StdUdpSocket, Option<StdUdpSocket>)> {
    let lo = lo + (lo & 1);
    if hi < lo {
        return None;
    }
    let count = u32::from((hi - lo) / 2 + 1);
    let start = u32::from(NEXT_PORT.fetch_add(1, Ordering::Relaxed)) % count;
    for i in 0..count {
        let idx = (start + i) % count;
        let Ok(port) = u16::try_from(u32::from(lo) + idx * 2) else {
            continue;
        };
        if let Ok(s) = StdUdpSocket::bind(SocketAddr::new(ip, port)) {
            let rtcp = port
                .checked_add(1)
                .and_then(|p| StdUdpSocket::bind(SocketAddr::new(ip, p)).ok());
            return Some((s, rtcp));
        }
    }
    None
}

#[derive(Debug)]
struct State {
    params: StreamParams,
    comedia: bool,
    latched: Option<SocketAddr>,
    media: Option<MediaHandle>,
    last_rx: Instant,
    pack: Packetizer,
    depack: Depacketizer,
    jitter: JitterBuffer,
    params_changed: bool,
}

/// A running RTP session (see the module docs). Dropping it stops both tasks and frees the
/// ports.
#[derive(Debug)]
pub struct RtpSession {
    port: u16,
    state: Arc<Mutex<State>>,
    tasks: Vec<JoinHandle<()>>,
    /// The send side, ticked by the shared [`MediaClock`] while this is alive.
    sender: Option<Arc<SendSide>>,
}

impl RtpSession {
    /// Bind and start. Must run inside a tokio runtime; `None` if no port is free (or there
    /// is no runtime).
    pub fn open(ip: IpAddr, range: (u16, u16), comedia: bool) -> Option<RtpSession> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (sock, rtcp) = bind_pair(ip, range.0, range.1)?;
        let port = sock.local_addr().ok()?.port();
        sock.set_nonblocking(true).ok()?;
        let _guard = handle.enter();
        let sock = Arc::new(UdpSocket::from_std(sock).ok()?);
        let params = StreamParams::default();
        let state = Arc::new(Mutex::new(State {
            params,
            comedia,
            latched: None,
            media: None,
            last_rx: Instant::now(),
            pack: Packetizer::new(rand::random(), rand::random(), rand::random(), &params),
            depack: Depacketizer::new(),
            jitter: JitterBuffer::new(JITTER_DEPTH),
            params_changed: false,
        }));
        let rtcp = rtcp.and_then(|r| r.set_nonblocking(true).ok().map(|_| r));
        let rx = handle.spawn(recv_loop(sock.clone(), state.clone()));
        let sender = Arc::new(SendSide {
            sock,
            rtcp,
            state: state.clone(),
            ticks: Mutex::new(0),
        });
        MediaClock::global(&handle).add(&sender);
        Some(RtpSession {
            port,
            state,
            tasks: vec![rx],
            sender: Some(sender),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// New negotiated parameters (answer, re-INVITE, hold).
    pub fn set_params(&self, p: StreamParams) {
        let mut s = self.state.lock();
        s.params = p;
        s.params_changed = true;
    }

    pub fn params(&self) -> StreamParams {
        self.state.lock().params
    }

    /// Feed these queues: received frames go to `from_far`, `to_far` is sent.
    pub fn attach(&self, m: MediaHandle) {
        self.state.lock().media = Some(m);
    }

    /// Stop feeding the channel (another fork won).
    pub fn detach(&self) {
        self.state.lock().media = None;
    }

    /// Time since the last valid RTP packet (or since [`RtpSession::reset_idle`]).
    pub fn idle(&self) -> Duration {
        self.state.lock().last_rx.elapsed()
    }

    pub fn reset_idle(&self) {
        self.state.lock().last_rx = Instant::now();
    }

    /// The address RTP is sent to now.
    pub fn target(&self) -> Option<SocketAddr> {
        let s = self.state.lock();
        send_target(s.params.remote, s.latched, s.comedia)
    }

    /// Stop receiving and sending (also on drop).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
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

async fn recv_loop(sock: Arc<UdpSocket>, state: Arc<Mutex<State>>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let data = buf.get(..n).unwrap_or(&[]);
        let mut s = state.lock();
        let params = s.params;
        let now = Instant::now();
        let Some((frames, audio)) = s.depack.receive_split(data, &params, now) else {
            continue;
        };
        if let Some(a) = audio {
            s.jitter.push(a, now);
        }
        s.last_rx = Instant::now();
        if should_latch(s.comedia, s.latched) {
            s.latched = Some(from);
        }
        if let Some(m) = &s.media {
            for f in frames {
                m.from_far.push_lossy(f);
            }
        }
    }
}

/// RTCP sender reports go out this often (RFC 3550's 5 s minimum interval).
pub const RTCP_INTERVAL_TICKS: u32 = 250;

/// An RTCP sender report for what `sender` sent so far, stamped now.
pub fn sender_report(sender: &RtpSender) -> Vec<u8> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    super::rtp::rtcp_sender_report(
        sender,
        super::rtp::ntp_timestamp(since),
        sender.next_timestamp(),
        &[],
    )
}

/// The sending half of a session, ticked every 20 ms by the [`MediaClock`].
#[derive(Debug)]
struct SendSide {
    sock: Arc<UdpSocket>,
    rtcp: Option<StdUdpSocket>,
    state: Arc<Mutex<State>>,
    ticks: Mutex<u32>,
}

impl SendSide {
    /// One 20 ms step: play out one received frame to the channel, take one frame from the
    /// channel and send it (non-blocking: a full socket buffer drops the packet, as a
    /// late packet would be useless anyway).
    fn tick(&self) {
        let ticks = {
            let mut t = self.ticks.lock();
            *t = t.wrapping_add(1);
            *t
        };
        if let Some(r) = self
            .rtcp
            .as_ref()
            .filter(|_| ticks.is_multiple_of(RTCP_INTERVAL_TICKS))
        {
            let s = self.state.lock();
            let target = send_target(s.params.remote, s.latched, s.comedia);
            if let (Some(t), true) = (target, s.pack.sender.packet_count > 0) {
                let to = SocketAddr::new(t.ip(), t.port().wrapping_add(1));
                let _ = r.send_to(&sender_report(&s.pack.sender), to);
            }
        }
        let (pkts, target) = {
            let mut s = self.state.lock();
            if std::mem::take(&mut s.params_changed) {
                let p = s.params;
                s.pack.set_params(&p);
            }
            let Some(m) = s.media.clone() else {
                return;
            };
            let now = Instant::now();
            if let Some(f) = s.depack.poll(now) {
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
            let frame = if s.pack.busy() {
                None
            } else {
                m.to_far.try_pop()
            };
            let target = send_target(s.params.remote, s.latched, s.comedia);
            if s.params.hold || target.is_none() {
                // On hold: what is written is dropped, time goes on.
                s.pack.sender.silence(1);
                return;
            }
            (s.pack.tick(frame), target)
        };
        if let Some(t) = target {
            for p in pkts {
                let _ = self.sock.try_send_to(&p.serialize(), t);
            }
        }
    }
}

/// One 20 ms clock for every RTP session instead of a timer per session: a few tasks
/// ("shards") each tick their share of the sessions in one go, so 2,000 calls cost 100 task
/// wake-ups a second instead of 100,000. One clock per runtime: when its runtime goes away
/// (tests create many), the next session starts a new one.
#[derive(Debug)]
pub struct MediaClock {
    shards: Vec<Arc<Mutex<Vec<std::sync::Weak<SendSide>>>>>,
    next: std::sync::atomic::AtomicUsize,
    alive: Arc<std::sync::atomic::AtomicBool>,
}

/// Clock shards (tasks ticking sessions).
const CLOCK_SHARDS: usize = 2;

static CLOCK: Mutex<Option<Arc<MediaClock>>> = Mutex::new(None);

/// Marks the clock dead when its task is dropped (its runtime shut down).
struct AliveGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl MediaClock {
    /// The clock running on `handle`'s runtime (started at first use).
    fn global(handle: &tokio::runtime::Handle) -> Arc<MediaClock> {
        let mut g = CLOCK.lock();
        if let Some(c) = g.as_ref() {
            if c.alive.load(std::sync::atomic::Ordering::SeqCst) {
                return c.clone();
            }
        }
        let c = Arc::new(MediaClock::start(handle));
        *g = Some(c.clone());
        c
    }

    fn start(handle: &tokio::runtime::Handle) -> MediaClock {
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let shards: Vec<Arc<Mutex<Vec<std::sync::Weak<SendSide>>>>> = (0..CLOCK_SHARDS)
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
                    let live: Vec<Arc<SendSide>> = {
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

    fn add(&self, s: &Arc<SendSide>) {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.shards.len();
        if let Some(shard) = self.shards.get(i) {
            shard.lock().push(Arc::downgrade(s));
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
        }
    }

    #[test]
    fn voice_packets_carry_seq_timestamp_and_marker_after_silence() {
        let mut p = Packetizer::new(0x1234, 100, 1000, &params());
        let a = p.tick(Some(Frame::Voice(vec![100; 160])));
        let b = p.tick(Some(Frame::Voice(vec![100; 160])));
        assert!(p.tick(None).is_empty());
        let c = p.tick(Some(Frame::Voice(vec![100; 160])));
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
        let d = p.tick(Some(Frame::Voice(vec![7; 80])));
        assert_eq!(d[0].payload_type, 8);
        assert_eq!(d[0].payload.len(), 160);
        assert_eq!(
            d[0].payload,
            g711::alaw_encode(&[[7i16; 80], [0; 80]].concat())
        );
    }

    #[test]
    fn dtmf_is_sent_over_its_duration_with_one_timestamp_then_audio_resumes() {
        let mut p = Packetizer::new(1, 0, 0, &params());
        p.tick(Some(Frame::Voice(vec![0; 160])));
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
        let v = p.tick(Some(Frame::Voice(vec![0; 160])));
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
            Some(vec![Frame::Voice(g711::ulaw_decode(&g711::ulaw_encode(
                &[1000; 160]
            )))])
        );
        let al = RtpPacket::new(8, 2, 160, 9, g711::alaw_encode(&[-500; 160])).serialize();
        assert_eq!(
            d.receive(&al, &p),
            Some(vec![Frame::Voice(g711::alaw_decode(&g711::alaw_encode(
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
        assert_eq!(decode(&pkt, &p), Some(Frame::Voice(vec![0; 160])));
        // Unknown payload types and empty payloads are not audio.
        let cn = RtpPacket::new(13, 8, 1280, 9, vec![40]).serialize();
        assert_eq!(d.receive_split(&cn, &p, now), Some((vec![], None)));
        let empty = RtpPacket::new(0, 9, 1440, 9, vec![]).serialize();
        assert_eq!(d.receive_split(&empty, &p, now), Some((vec![], None)));
    }

    #[test]
    fn sender_report_counts_what_was_sent() {
        let mut p = Packetizer::new(0xabcd, 0, 0, &params());
        for _ in 0..3 {
            p.tick(Some(Frame::silence()));
        }
        let sr = sender_report(&p.sender);
        assert_eq!(sr.len(), 28);
        assert_eq!((sr[0] >> 6, sr[1]), (2, 200));
        assert_eq!(&sr[4..8], &0xabcd_u32.to_be_bytes());
        assert_eq!(&sr[16..20], &480u32.to_be_bytes());
        assert_eq!(&sr[20..24], &3u32.to_be_bytes());
        assert_eq!(&sr[24..28], &480u32.to_be_bytes());
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
    fn latching_only_with_comedia_and_only_once() {
        let sdp: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let src: SocketAddr = "1.2.3.4:5555".parse().unwrap();
        assert_eq!(send_target(Some(sdp), None, true), Some(sdp));
        assert_eq!(send_target(Some(sdp), Some(src), true), Some(src));
        assert_eq!(send_target(Some(sdp), Some(src), false), Some(sdp));
        assert_eq!(send_target(None, Some(src), true), Some(src));
        assert!(should_latch(true, None));
        assert!(!should_latch(true, Some(src)));
        assert!(!should_latch(false, None));
    }

    #[tokio::test]
    async fn session_echoes_through_queues_and_frees_its_port() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut s = RtpSession::open(ip, (41000, 41100), true).unwrap();
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
        peer.send_to(
            &RtpPacket::new(0, 1, 0, 7, payload.clone()).serialize(),
            dest,
        )
        .await
        .unwrap();
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
        s.stop();
        drop(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(StdUdpSocket::bind(dest).is_ok(), "port freed");
    }
}
