//! A channel's media, as the dialplan sees it: a stream of [`Frame`]s from the far end and a
//! paced stream of frames to it.
//!
//! Inside ferrisk audio is 8 kHz signed 16-bit linear ("slin"), 20 ms (160 samples) a frame;
//! drivers convert at their edge (SIP: G.711 over RTP). A driver hands the channel a
//! [`MediaHandle`]: two [`FrameQueue`]s shared with the driver.
//!
//! * `from_far` — what the caller says and the digits it presses. The driver pushes with
//!   [`FrameQueue::push_lossy`]: when nobody reads, the oldest audio is dropped (at most
//!   [`RX_DEPTH`] frames are kept); digits are kept before audio, up to
//!   [`MAX_PENDING_DIGITS`] waiting ones: beyond that (a flood of key presses nobody reads)
//!   new digits are dropped and counted ([`FrameQueue::dropped_digits`]).
//! * `to_far` — what the channel sends. Applications push with [`FrameQueue::push`], which
//!   waits while [`TX_DEPTH`] frames are queued; the driver takes one frame per 20 ms
//!   ([`FrameQueue::pop`]), so the driver's clock paces every writer (Playback, a bridge, a
//!   conference) without them keeping time.
//!
//! A channel without a media handle (a test channel, an unanswered Local half) reads nothing
//! and its writes are paced by a 20 ms timer and discarded, so applications behave the same.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// One frame's duration.
pub const FRAME_TIME: Duration = Duration::from_millis(20);
/// Frames kept from the far end while nobody reads (1 s of audio).
pub const RX_DEPTH: usize = 50;
/// Frames queued towards the far end before a writer waits (120 ms: enough slack that a
/// busy machine does not starve the 20 ms send clock, short enough for prompt barge-in).
pub const TX_DEPTH: usize = 6;

/// Digits a queue keeps waiting for a reader; more are dropped (a flood, not a person).
pub const MAX_PENDING_DIGITS: usize = 64;

/// One unit of media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Linear audio, normally [`FRAME_SAMPLES`] samples.
    Voice(Audio),
    /// A DTMF digit (`0-9`, `*`, `#`, `A-D`), delivered once the key is released, with how long
    /// it was held.
    Dtmf(char, Duration),
}

impl Frame {
    /// 20 ms of silence.
    pub fn silence() -> Frame {
        Frame::voice(vec![0; FRAME_SAMPLES])
    }

    /// Audio of its own.
    pub fn voice(samples: Vec<i16>) -> Frame {
        Frame::Voice(samples.into())
    }
}

/// Audio many calls play at once (a prompt): decoded once, and encoded once for each codec
/// phones speak (G.711 µ-law and A-law), so a call playing it neither copies nor encodes
/// it. Frames of it are [`Audio::shared`] slices.
#[derive(Debug)]
pub struct Clip {
    samples: Vec<i16>,
    ulaw: Vec<u8>,
    alaw: Vec<u8>,
}

impl Clip {
    /// Encode `samples` for every codec (on the blocking pool for anything long).
    pub fn new(samples: Vec<i16>) -> Clip {
        Clip {
            ulaw: super::g711::ulaw_encode(&samples),
            alaw: super::g711::alaw_encode(&samples),
            samples,
        }
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Memory it holds: 2 bytes a sample linear, 1 for each encoding.
    pub fn bytes(&self) -> usize {
        self.samples.len() * 2 + self.ulaw.len() + self.alaw.len()
    }

    fn encoding(&self, format: NativeFormat) -> Option<&[u8]> {
        match format {
            NativeFormat::Ulaw => Some(&self.ulaw),
            NativeFormat::Alaw => Some(&self.alaw),
            NativeFormat::Slin => None,
        }
    }
}

/// A frame's samples: its own, or one [`FRAME_SAMPLES`] slice of a shared [`Clip`] (16
/// bytes, no copy). Reads as a slice of samples.
#[derive(Clone)]
pub struct Audio(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<i16>),
    /// `FRAME_SAMPLES` samples of the clip from the index.
    Shared(Arc<Clip>, u32),
}

impl Audio {
    /// The frame of `clip` starting at sample `start`; `None` unless a whole frame is there.
    pub fn shared(clip: &Arc<Clip>, start: usize) -> Option<Audio> {
        let end = start.checked_add(FRAME_SAMPLES)?;
        (end <= clip.len())
            .then(|| u32::try_from(start).ok())
            .flatten()
            .map(|s| Audio(Repr::Shared(clip.clone(), s)))
    }

    /// The samples encoded for `format`, when they come ready-made from a clip.
    pub fn encoded(&self, format: NativeFormat) -> Option<&[u8]> {
        match &self.0 {
            Repr::Owned(_) => None,
            Repr::Shared(c, s) => {
                let s = *s as usize;
                c.encoding(format)?.get(s..s + FRAME_SAMPLES)
            }
        }
    }

    /// The samples as a vector of their own (copied from a clip).
    pub fn into_vec(self) -> Vec<i16> {
        match self.0 {
            Repr::Owned(v) => v,
            Repr::Shared(..) => self.to_vec(),
        }
    }
}

impl std::ops::Deref for Audio {
    type Target = [i16];
    fn deref(&self) -> &[i16] {
        match &self.0 {
            Repr::Owned(v) => v,
            Repr::Shared(c, s) => {
                let s = *s as usize;
                &c.samples[s..s + FRAME_SAMPLES]
            }
        }
    }
}

impl From<Vec<i16>> for Audio {
    fn from(v: Vec<i16>) -> Audio {
        Audio(Repr::Owned(v))
    }
}

impl PartialEq for Audio {
    fn eq(&self, other: &Audio) -> bool {
        **self == **other
    }
}

impl Eq for Audio {}

impl PartialEq<Vec<i16>> for Audio {
    fn eq(&self, other: &Vec<i16>) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// The queued frames and how many of them are digits.
#[derive(Debug, Default)]
struct Frames {
    q: VecDeque<Frame>,
    digits: usize,
}

impl Frames {
    fn push_back(&mut self, f: Frame) {
        self.digits += usize::from(matches!(f, Frame::Dtmf(..)));
        self.q.push_back(f);
    }

    fn pop_front(&mut self) -> Option<Frame> {
        let f = self.q.pop_front()?;
        self.digits -= usize::from(matches!(f, Frame::Dtmf(..)));
        Some(f)
    }

    fn len(&self) -> usize {
        self.q.len()
    }
}

/// A bounded queue of frames shared by a channel and its driver (see the module docs).
pub struct FrameQueue {
    q: Mutex<Frames>,
    cap: usize,
    /// Digits dropped by [`FrameQueue::push_lossy`] because [`MAX_PENDING_DIGITS`] waited.
    dropped_digits: AtomicU64,
    /// Signalled when a frame is added.
    readable: Notify,
    /// Signalled when a frame is taken.
    writable: Notify,
    closed: AtomicBool,
    /// Whether [`FrameQueue::add_tap`] installed taps: one atomic load per push when none.
    tapped: AtomicBool,
    taps: Mutex<Vec<(u64, FrameTap)>>,
    /// Whether [`FrameQueue::add_hook`] installed hooks: one atomic load per push when none.
    hooked: AtomicBool,
    hooks: Mutex<Vec<(u64, FrameFilter)>>,
}

impl std::fmt::Debug for FrameQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameQueue")
            .field("len", &self.len())
            .field("cap", &self.cap)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Sees every frame added to a queue (MixMonitor's recording of a channel): called on the
/// pushing task, so it must not block (queue the frame and return).
pub type FrameTap = Arc<dyn Fn(&Frame) + Send + Sync>;

/// Changes every frame added to a queue before anyone sees it (Asterisk's manipulating
/// audiohooks: VOLUME's gain): called on the pushing task, so it must not block.
pub type FrameHook = Arc<dyn Fn(Frame) -> Frame + Send + Sync>;

/// A [`FrameHook`] that may also drop the frame (`None`: nobody sees it; FRAME_DROP).
pub type FrameFilter = Arc<dyn Fn(Frame) -> Option<Frame> + Send + Sync>;

impl FrameQueue {
    pub fn new(cap: usize) -> Arc<FrameQueue> {
        Arc::new(FrameQueue {
            // Grows as frames queue up: most queues hold one or two frames, so reserving
            // `cap` up front cost 1.6 KiB a channel for nothing (issue 20).
            q: Mutex::new(Frames {
                q: VecDeque::new(),
                digits: 0,
            }),
            cap: cap.max(1),
            dropped_digits: AtomicU64::new(0),
            readable: Notify::new(),
            writable: Notify::new(),
            closed: AtomicBool::new(false),
            tapped: AtomicBool::new(false),
            taps: Mutex::new(Vec::new()),
            hooked: AtomicBool::new(false),
            hooks: Mutex::new(Vec::new()),
        })
    }

    /// Change every frame added from now on with `hook`, under `id` (see [`FrameHook`]);
    /// hooks run in the order they were added, before the taps.
    pub fn add_hook(&self, id: u64, hook: FrameHook) {
        self.add_filter(id, Arc::new(move |f| Some(hook(f))));
    }

    /// Like [`FrameQueue::add_hook`], with a hook that may drop frames ([`FrameFilter`]).
    pub fn add_filter(&self, id: u64, hook: FrameFilter) {
        let mut h = self.hooks.lock();
        h.push((id, hook));
        self.hooked.store(true, Ordering::Release);
    }

    /// Remove the hook `id`.
    pub fn remove_hook(&self, id: u64) {
        let mut h = self.hooks.lock();
        h.retain(|(i, _)| *i != id);
        self.hooked.store(!h.is_empty(), Ordering::Release);
    }

    fn hook(&self, f: Frame) -> Option<Frame> {
        if !self.hooked.load(Ordering::Acquire) {
            return Some(f);
        }
        let hooks: Vec<FrameFilter> = self.hooks.lock().iter().map(|(_, h)| h.clone()).collect();
        hooks.iter().try_fold(f, |f, h| h(f))
    }

    /// Show every frame added from now on to `tap`, under `id` (see [`FrameTap`]).
    pub fn add_tap(&self, id: u64, tap: FrameTap) {
        let mut t = self.taps.lock();
        t.push((id, tap));
        self.tapped.store(true, Ordering::Release);
    }

    /// Remove the tap `id`.
    pub fn remove_tap(&self, id: u64) {
        let mut t = self.taps.lock();
        t.retain(|(i, _)| *i != id);
        self.tapped.store(!t.is_empty(), Ordering::Release);
    }

    fn tap(&self, f: &Frame) {
        if self.tapped.load(Ordering::Acquire) {
            let taps: Vec<FrameTap> = self.taps.lock().iter().map(|(_, t)| t.clone()).collect();
            for t in taps {
                t(f);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.q.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.lock().q.is_empty()
    }

    /// Digits dropped so far because [`MAX_PENDING_DIGITS`] were waiting.
    pub fn dropped_digits(&self) -> u64 {
        self.dropped_digits.load(Ordering::Relaxed)
    }

    /// Add without waiting; when full, drop the oldest audio frame (or, if the queue holds
    /// only digits, the new audio frame). Digits are kept, up to [`MAX_PENDING_DIGITS`]
    /// waiting ones; a digit beyond that is dropped and counted. The queue never holds more
    /// than its capacity plus [`MAX_PENDING_DIGITS`] frames.
    pub fn push_lossy(&self, f: Frame) {
        let Some(f) = self.hook(f) else {
            return;
        };
        self.tap(&f);
        {
            let mut q = self.q.lock();
            let digit = matches!(f, Frame::Dtmf(..));
            if digit && q.digits >= MAX_PENDING_DIGITS {
                drop(q);
                self.dropped_digits.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if q.len() >= self.cap {
                match q.q.iter().position(|x| matches!(x, Frame::Voice(_))) {
                    Some(i) => {
                        q.q.remove(i);
                    }
                    None if !digit => return,
                    None => {}
                }
            }
            q.push_back(f);
        }
        self.readable.notify_one();
    }

    /// Add, waiting while the queue is full. Returns `false` if the queue was closed. A frame
    /// a hook drops takes one frame's time.
    pub async fn push(&self, f: Frame) -> bool {
        let Some(f) = self.hook(f) else {
            // Dropped by a hook: the writer still keeps real time, as if the driver took it.
            tokio::time::sleep(FRAME_TIME).await;
            return !self.is_closed();
        };
        self.tap(&f);
        let mut f = Some(f);
        loop {
            let notified = self.writable.notified();
            if self.is_closed() {
                return false;
            }
            {
                let mut q = self.q.lock();
                if q.len() < self.cap {
                    if let Some(f) = f.take() {
                        q.push_back(f);
                    }
                    drop(q);
                    self.readable.notify_one();
                    return true;
                }
            }
            notified.await;
        }
    }

    /// Take the oldest frame, if any. A waiting writer is woken once the queue is down to
    /// half its capacity, so a paced writer refills several frames per wake-up instead of
    /// one (fewer task switches per stream).
    pub fn try_pop(&self) -> Option<Frame> {
        let (f, left) = {
            let mut q = self.q.lock();
            let f = q.pop_front();
            (f, q.len())
        };
        if f.is_some() && left <= self.cap / 2 {
            self.writable.notify_one();
        }
        f
    }

    /// Take the oldest frame, waiting for one; `None` once closed and empty.
    pub async fn pop(&self) -> Option<Frame> {
        loop {
            let notified = self.readable.notified();
            if let Some(f) = self.try_pop() {
                return Some(f);
            }
            if self.is_closed() {
                return None;
            }
            notified.await;
        }
    }

    /// Drop everything queued (e.g. pending prompt audio when a bridge starts).
    pub fn clear(&self) {
        *self.q.lock() = Frames::default();
        self.writable.notify_waiters();
    }

    /// No more frames will be added or taken: wakes every waiter.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.readable.notify_waiters();
        self.writable.notify_waiters();
        self.readable.notify_one();
        self.writable.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// The audio codec a channel uses on the wire (prompt format choice, `CHANNEL(audionativeformat)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NativeFormat {
    #[default]
    Ulaw,
    Alaw,
    Slin,
}

impl NativeFormat {
    /// Asterisk's format name (`ulaw`, `alaw`, `slin`).
    pub fn name(self) -> &'static str {
        match self {
            NativeFormat::Ulaw => "ulaw",
            NativeFormat::Alaw => "alaw",
            NativeFormat::Slin => "slin",
        }
    }
}

/// A channel's two frame queues, shared with its driver.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    pub from_far: Arc<FrameQueue>,
    pub to_far: Arc<FrameQueue>,
    pub format: NativeFormat,
}

impl MediaHandle {
    /// A fresh pair of queues with the standard depths.
    pub fn new(format: NativeFormat) -> MediaHandle {
        MediaHandle {
            from_far: FrameQueue::new(RX_DEPTH),
            to_far: FrameQueue::new(TX_DEPTH),
            format,
        }
    }

    /// The same queues seen from the other side (what one end writes, the other reads):
    /// used to join two channels back to back (Local channels).
    pub fn crossed(&self) -> MediaHandle {
        MediaHandle {
            from_far: self.to_far.clone(),
            to_far: self.from_far.clone(),
            format: self.format,
        }
    }

    /// Close both directions (the channel is gone).
    pub fn close(&self) {
        self.from_far.close();
        self.to_far.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_frames_are_shared_slices_with_their_encodings() {
        let samples: Vec<i16> = (0..400).map(|i| (i * 37) as i16).collect();
        let clip = Arc::new(Clip::new(samples.clone()));
        assert_eq!(clip.bytes(), 400 * 4);
        let a = Audio::shared(&clip, 160).unwrap();
        assert_eq!(&*a, &samples[160..320]);
        assert_eq!(
            a.encoded(NativeFormat::Ulaw).unwrap(),
            &super::super::g711::ulaw_encode(&samples[160..320])[..]
        );
        assert_eq!(
            a.encoded(NativeFormat::Alaw).unwrap(),
            &super::super::g711::alaw_encode(&samples[160..320])[..]
        );
        assert_eq!(a.encoded(NativeFormat::Slin), None);
        assert!(Audio::shared(&clip, 320).is_none(), "no whole frame left");
        assert_eq!(a.clone().into_vec(), samples[160..320].to_vec());
        // Equal by samples, whatever holds them.
        assert_eq!(Frame::Voice(a), Frame::voice(samples[160..320].to_vec()));
        let own: Audio = vec![1, 2].into();
        assert_eq!(own.encoded(NativeFormat::Ulaw), None);
        assert_eq!(std::mem::size_of::<Audio>(), 24);
    }

    #[test]
    fn lossy_push_keeps_digits_and_the_newest_audio() {
        let q = FrameQueue::new(3);
        q.push_lossy(Frame::voice(vec![1]));
        q.push_lossy(Frame::Dtmf('5', Duration::from_millis(100)));
        q.push_lossy(Frame::voice(vec![2]));
        q.push_lossy(Frame::voice(vec![3]));
        assert_eq!(q.len(), 3);
        assert_eq!(
            q.try_pop(),
            Some(Frame::Dtmf('5', Duration::from_millis(100)))
        );
        assert_eq!(q.try_pop(), Some(Frame::voice(vec![2])));
        assert_eq!(q.try_pop(), Some(Frame::voice(vec![3])));
        // Only digits queued: new audio is dropped, new digits are kept.
        let q = FrameQueue::new(1);
        q.push_lossy(Frame::Dtmf('1', Duration::ZERO));
        q.push_lossy(Frame::voice(vec![9]));
        q.push_lossy(Frame::Dtmf('2', Duration::ZERO));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn a_digit_flood_is_bounded_and_counted() {
        let q = FrameQueue::new(RX_DEPTH);
        for i in 0..10_000u32 {
            q.push_lossy(Frame::voice(vec![i as i16]));
            q.push_lossy(Frame::Dtmf('5', Duration::from_millis(40)));
        }
        // Only digits are left (the newest audio could not push one out), and no more of them
        // than the allowance.
        assert_eq!(q.len(), RX_DEPTH.max(MAX_PENDING_DIGITS));
        assert_eq!(q.dropped_digits(), 10_000 - MAX_PENDING_DIGITS as u64);
        // Once a reader takes digits, new ones are kept again.
        let mut digits = 0;
        while let Some(f) = q.try_pop() {
            digits += usize::from(matches!(f, Frame::Dtmf(..)));
        }
        assert_eq!(digits, MAX_PENDING_DIGITS);
        q.push_lossy(Frame::Dtmf('6', Duration::ZERO));
        assert_eq!(q.try_pop(), Some(Frame::Dtmf('6', Duration::ZERO)));
        assert_eq!(q.dropped_digits(), 10_000 - MAX_PENDING_DIGITS as u64);
        // Whatever the mix, the queue stays within its capacity plus the digit allowance.
        let q = FrameQueue::new(3);
        for i in 0..1000 {
            if i % 3 == 0 {
                q.push_lossy(Frame::voice(vec![1]));
            } else {
                q.push_lossy(Frame::Dtmf('1', Duration::ZERO));
            }
            assert!(q.len() <= 3 + MAX_PENDING_DIGITS);
        }
    }

    #[tokio::test]
    async fn push_waits_for_room_and_close_wakes_everyone() {
        let q = FrameQueue::new(1);
        assert!(q.push(Frame::silence()).await);
        let q2 = q.clone();
        let writer = tokio::spawn(async move { q2.push(Frame::voice(vec![7])).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !writer.is_finished(),
            "the writer waits while the queue is full"
        );
        assert_eq!(q.pop().await, Some(Frame::silence()));
        assert!(writer.await.unwrap_or(false));
        assert_eq!(q.pop().await, Some(Frame::voice(vec![7])));
        let q3 = q.clone();
        let reader = tokio::spawn(async move { q3.pop().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.close();
        assert_eq!(reader.await.ok().flatten(), None);
        assert!(!q.push(Frame::silence()).await);
    }
}
