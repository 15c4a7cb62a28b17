//! Functions that watch or change a channel's audio through frame hooks on its two media
//! queues: `TALK_DETECT()` (func_talkdetect.so: ChannelTalkingStart/ChannelTalkingStop
//! on the event bus), `FRAME_DROP()` (func_frame_drop.so), `AGC()` and `DENOISE()`
//! (func_speex.so, ferrisk's own AGC and noise gate, `media::voicefx`), `PITCH_SHIFT()`
//! (func_pitchshift.so), and the two that only record their settings because ferrisk has
//! nothing for them to act on: `JITTERBUFFER()` (func_jitterbuffer.so) and
//! `HOLD_INTERCEPT()` (func_holdintercept.so).
//!
//! [`hooked`] is the shared plumbing: a function's state lives in the channel's datastore
//! behind a mutex, and one filter on each direction runs it on every frame (on the pushing
//! task: it never blocks). Other modules (res_tonedetect, app_dtmfstore, res_monitor) use it.

use super::strings::{func, meta};
use super::volume::next_hook_id;
use super::{Func, FuncError};
use crate::media::silence::SILENCE_THRESHOLD;
use crate::media::voicefx::{Agc, Denoiser, PitchShifter, Talk, TalkState};
use crate::pbx::channel::ChannelShared;
use crate::pbx::events::{ChanSnapshot, Event, EventBus};
use crate::pbx::media::{Frame, FrameQueue};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use parking_lot::Mutex;
use std::sync::Arc;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_talkdetect.so", "Talk detection dialplan function"),
        register: register_func_talkdetect,
    },
    Family {
        info: ModuleInfo::new(
            "func_frame_drop.so",
            "Function to drop frames on a channel.",
        ),
        register: register_func_frame_drop,
    },
    Family {
        info: ModuleInfo::new(
            "func_speex.so",
            "Noise reduction and Automatic Gain Control (AGC)",
        ),
        register: register_func_speex,
    },
    Family {
        info: ModuleInfo::new("func_pitchshift.so", "Audio Effects Dialplan Functions"),
        register: register_func_pitchshift,
    },
    Family {
        info: ModuleInfo::new(
            "func_jitterbuffer.so",
            "Jitter buffer for read side of channel.",
        ),
        register: register_func_jitterbuffer,
    },
    Family {
        info: ModuleInfo::new(
            "func_holdintercept.so",
            "Hold interception dialplan function",
        ),
        register: register_func_holdintercept,
    },
];

fn register_func_talkdetect(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(TalkDetect));
}

fn register_func_frame_drop(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(FrameDrop));
}

fn register_func_pitchshift(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(PitchShift));
}

fn register_func_jitterbuffer(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(JitterBuffer));
}

fn register_func_holdintercept(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(HoldIntercept));
}

fn register_func_speex(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(AgcFunc));
    ctx.register_func(Arc::new(DenoiseFunc));
}

/// Which way a frame goes: `Rx` what the channel says (its frames from the far end, an
/// audiohook's read direction), `Tx` what it hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Rx,
    Tx,
}

/// What [`hooked`] keeps in the channel's datastore.
pub(crate) struct Hooked<T> {
    id: u64,
    queues: [Arc<FrameQueue>; 2],
    state: Arc<Mutex<T>>,
}

/// What a hooked function does to one frame going `Dir`: the frame to pass on, or `None`
/// to drop it.
pub(crate) type DirHook<T> = fn(&mut T, Dir, Frame) -> Option<Frame>;

/// The state of the hooked function `name` on this channel, installing its hooks (with
/// `init()` as the state) the first time. `None` on a channel without media.
pub(crate) fn hooked<T: Send + 'static>(
    chan: &mut Channel,
    name: &str,
    init: impl FnOnce() -> T,
    hook: DirHook<T>,
) -> Option<Arc<Mutex<T>>> {
    if let Some(h) = chan.datastores.get::<Hooked<T>>(name) {
        return Some(h.state.clone());
    }
    let m = chan.media.as_ref()?;
    let id = next_hook_id();
    let state = Arc::new(Mutex::new(init()));
    for (q, dir) in [(&m.from_far, Dir::Rx), (&m.to_far, Dir::Tx)] {
        let s = state.clone();
        q.add_filter(id, Arc::new(move |f| hook(&mut s.lock(), dir, f)));
    }
    let queues = [m.from_far.clone(), m.to_far.clone()];
    chan.datastores.insert(
        name,
        Hooked {
            id,
            queues,
            state: state.clone(),
        },
    );
    Some(state)
}

/// The state of `name` if its hooks are on the channel.
pub(crate) fn hooked_state<T: Send + 'static>(chan: &Channel, name: &str) -> Option<Arc<Mutex<T>>> {
    chan.datastores
        .get::<Hooked<T>>(name)
        .map(|h| h.state.clone())
}

/// Take `name`'s hooks off the channel; `false` when there were none.
pub(crate) fn unhook<T: Send + 'static>(chan: &mut Channel, name: &str) -> bool {
    let Some(h) = chan.datastores.get::<Hooked<T>>(name) else {
        return false;
    };
    for q in &h.queues {
        q.remove_hook(h.id);
    }
    chan.datastores.remove(name)
}

/// Events about one channel published from a frame hook (which has no `Channel`): the
/// channel's fields as they were when the hook was set, with its state and dialplan
/// location as they are now.
pub(crate) struct ChanEvents {
    bus: EventBus,
    shared: Arc<ChannelShared>,
    base: ChanSnapshot,
}

impl ChanEvents {
    pub(crate) fn of(chan: &Channel) -> ChanEvents {
        ChanEvents {
            bus: chan.pbx.events.clone(),
            shared: chan.shared.clone(),
            base: ChanSnapshot::of(chan),
        }
    }

    pub(crate) fn publish(&self, name: &'static str, headers: Vec<(String, String)>) {
        if !self.bus.wants(crate::pbx::events::Topic::Channel) {
            return;
        }
        let mut chan = self.base.clone();
        let st = self.shared.state();
        chan.state = st as u8;
        chan.state_desc = st.as_str();
        {
            let s = self.shared.snapshot.lock();
            if !s.context.is_empty() {
                chan.context.clone_from(&s.context);
                chan.exten.clone_from(&s.exten);
                chan.priority = s.priority;
            }
        }
        self.bus.publish(Event::ChannelNotice {
            name,
            chan,
            headers,
        });
    }
}

fn parse_dir(s: &str) -> Option<Dir> {
    match s.trim().to_ascii_lowercase().as_str() {
        "rx" => Some(Dir::Rx),
        "tx" => Some(Dir::Tx),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// TALK_DETECT
// ---------------------------------------------------------------------------------------

struct Talking {
    talk: TalkState,
    events: ChanEvents,
}

fn talk_hook(t: &mut Talking, dir: Dir, f: Frame) -> Option<Frame> {
    if let (Dir::Rx, Frame::Voice(v)) = (dir, &f) {
        match t.talk.feed(v) {
            Some(Talk::Start) => t.events.publish("ChannelTalkingStart", Vec::new()),
            Some(Talk::Stop(ms)) => t.events.publish(
                "ChannelTalkingStop",
                vec![("Duration".into(), ms.to_string())],
            ),
            None => {}
        }
    }
    Some(f)
}

const TALK_DETECT: &str = "talk_detect";

func!(
    TalkDetect,
    "TALK_DETECT",
    "Raises notifications when Asterisk detects silence or talking on a channel.",
    "TALK_DETECT(action)",
    "The TALK_DETECT function enables events on the channel it is applied to: \
     ChannelTalkingStart when the channel starts talking, ChannelTalkingStop (with the \
     Duration of the talk in ms) when it stops, on AMI. action: set (enable, or change the \
     parameters) or remove. The value written with set is \
     dsp_silence_threshold,dsp_talking_threshold: the ms of silence after which a user is \
     considered to stop talking (default 2500, 1 through 2^31), and the minimum average \
     magnitude per sample in a frame for the DSP to consider talking present (default \
     256, 1 through 32768). Examples: Set(TALK_DETECT(set)=), Set(TALK_DETECT(set)=1200), \
     Set(TALK_DETECT(set)=,128), Set(TALK_DETECT(remove)=)."
);

impl Func for TalkDetect {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        match a.trim().to_ascii_lowercase().as_str() {
            "remove" => {
                if !unhook::<Talking>(chan, TALK_DETECT) {
                    chan.pbx.warning(&format!(
                        "func_talkdetect.c: Unable to remove TALK_DETECT from {}: TALK_DETECT not currently enabled",
                        chan.name()
                    ));
                    return Err(FuncError::Other("TALK_DETECT not enabled".into()));
                }
                Ok(())
            }
            "set" => {
                let v = crate::apps::args::split(value, ',');
                let silence = crate::apps::args::nth(&v, 0).trim();
                let talking = crate::apps::args::nth(&v, 1).trim();
                let silence = match silence {
                    "" => 2500,
                    s => match s.parse::<u64>() {
                        Ok(n) if (1..=i32::MAX as u64).contains(&n) => n,
                        _ => {
                            chan.pbx.warning(&format!(
                                "func_talkdetect.c: Invalid value {s} for dsp_silence_threshold"
                            ));
                            return Err(FuncError::Usage(s.into()));
                        }
                    },
                };
                let talking = match talking {
                    "" => SILENCE_THRESHOLD,
                    s => match s.parse::<u32>() {
                        Ok(n) if (1..=32768).contains(&n) => n,
                        _ => {
                            chan.pbx.warning(&format!(
                                "func_talkdetect.c: Invalid value {s} for dsp_talking_threshold"
                            ));
                            return Err(FuncError::Usage(s.into()));
                        }
                    },
                };
                let events = ChanEvents::of(chan);
                let init = || Talking {
                    talk: TalkState::new(silence, talking),
                    events,
                };
                if let Some(t) = hooked(chan, TALK_DETECT, init, talk_hook) {
                    let mut t = t.lock();
                    t.talk.silence_ms = silence;
                    t.talk.talking_threshold = talking;
                }
                Ok(())
            }
            other => {
                chan.pbx.warning(&format!(
                    "func_talkdetect.c: TALK_DETECT: unknown action '{other}': set or remove"
                ));
                Err(FuncError::Usage(other.into()))
            }
        }
    }
    fn writable(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// FRAME_DROP
// ---------------------------------------------------------------------------------------

/// What FRAME_DROP drops in one direction (the frame kinds ferrisk's queues carry).
#[derive(Debug, Default, Clone, Copy)]
struct Drops {
    voice: bool,
    dtmf: bool,
}

#[derive(Default)]
struct Dropping {
    rx: Drops,
    tx: Drops,
}

fn drop_hook(d: &mut Dropping, dir: Dir, f: Frame) -> Option<Frame> {
    let k = if dir == Dir::Rx { d.rx } else { d.tx };
    match f {
        Frame::Voice(_) if k.voice => None,
        Frame::Dtmf(..) if k.dtmf => None,
        f => Some(f),
    }
}

/// FRAME_DROP's frame type names (frame types and control frame types).
const FRAME_TYPES: &[&str] = &[
    "DTMF_BEGIN",
    "DTMF_END",
    "VOICE",
    "VIDEO",
    "CONTROL",
    "NULL",
    "IAX",
    "TEXT",
    "TEXT_DATA",
    "IMAGE",
    "HTML",
    "CNG",
    "MODEM",
    "RING",
    "RINGING",
    "ANSWER",
    "BUSY",
    "TAKEOFFHOOK",
    "OFFHOOK",
    "CONGESTION",
    "FLASH",
    "WINK",
    "PROGRESS",
    "PROCEEDING",
    "HOLD",
    "UNHOLD",
    "VIDUPDATE",
    "CONNECTED_LINE",
    "REDIRECTING",
];

/// The kinds a FRAME_DROP list names: only VOICE and DTMF_END change what ferrisk's
/// queues carry (its digits are whole key presses, sent when the key is released).
fn parse_drops(value: &str) -> Drops {
    let mut d = Drops::default();
    for name in value.split(',').map(|n| n.trim().to_ascii_uppercase()) {
        match name.as_str() {
            "VOICE" => d.voice = true,
            "DTMF_END" => d.dtmf = true,
            n if FRAME_TYPES.contains(&n) => {}
            _ => {}
        }
    }
    d
}

func!(
    FrameDrop,
    "FRAME_DROP",
    "Drops specific frame types in the TX or RX direction on a channel.",
    "FRAME_DROP(direction)",
    "Drops the frame types listed in the value in the TX (what the channel hears) or RX \
     (what it says) direction, replacing an earlier list for that direction: \
     Set(FRAME_DROP(TX)=DTMF_BEGIN,DTMF_END), Set(FRAME_DROP(RX)=VOICE). Frame types: \
     DTMF_BEGIN, DTMF_END, VOICE, VIDEO, CONTROL, NULL, IAX, TEXT, TEXT_DATA, IMAGE, HTML, \
     CNG, MODEM; control frames: RING, RINGING, ANSWER, BUSY, TAKEOFFHOOK, OFFHOOK, \
     CONGESTION, FLASH, WINK, PROGRESS, PROCEEDING, HOLD, UNHOLD, VIDUPDATE, \
     CONNECTED_LINE, REDIRECTING. In ferrisk a channel's media carries voice and whole \
     DTMF digits only: VOICE drops audio, DTMF_END drops digits, the other names are \
     accepted and have nothing to drop."
);

impl Func for FrameDrop {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let Some(dir) = parse_dir(a) else {
            chan.pbx
                .warning("func_frame_drop.c: TX or RX must be specified.  Ignoring.");
            return Err(FuncError::Usage(a.into()));
        };
        let drops = parse_drops(value);
        if let Some(d) = hooked(chan, "framedrop", Dropping::default, drop_hook) {
            let mut d = d.lock();
            match dir {
                Dir::Rx => d.rx = drops,
                Dir::Tx => d.tx = drops,
            }
        }
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// AGC / DENOISE
// ---------------------------------------------------------------------------------------

/// Asterisk's default AGC level.
const DEFAULT_AGC_LEVEL: f32 = 8000.0;

#[derive(Default)]
struct Fx {
    agc: Option<Agc>,
    denoise: Option<Denoiser>,
}

#[derive(Default)]
struct Speex {
    rx: Fx,
    tx: Fx,
}

fn speex_hook(s: &mut Speex, dir: Dir, f: Frame) -> Option<Frame> {
    let fx = if dir == Dir::Rx { &mut s.rx } else { &mut s.tx };
    if fx.agc.is_none() && fx.denoise.is_none() {
        return Some(f);
    }
    let Frame::Voice(a) = f else {
        return Some(f);
    };
    let mut v = a.into_vec();
    if let Some(d) = &mut fx.denoise {
        d.process(&mut v);
    }
    if let Some(g) = &mut fx.agc {
        g.process(&mut v);
    }
    Some(Frame::voice(v))
}

const SPEEX: &str = "speex";

/// C's `sscanf("%f")`: the leading number, if any.
fn leading_f32(s: &str) -> Option<f32> {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && "+-".contains(*c)))
        .map(|(i, c)| i + c.len_utf8())
        .last()?;
    s[..end].parse().ok()
}

/// AGC and DENOISE share this: check the direction, change its settings.
fn speex_write(
    chan: &mut Channel,
    cmd: &str,
    a: &str,
    change: impl FnOnce(&mut Fx),
) -> Result<(), FuncError> {
    let Some(dir) = parse_dir(a) else {
        chan.pbx.error(&format!(
            "func_speex.c: Invalid argument provided to the {cmd} function"
        ));
        return Err(FuncError::Usage(a.into()));
    };
    if let Some(s) = hooked(chan, SPEEX, Speex::default, speex_hook) {
        let mut s = s.lock();
        change(if dir == Dir::Rx { &mut s.rx } else { &mut s.tx });
        if s.rx.agc.is_none()
            && s.rx.denoise.is_none()
            && s.tx.agc.is_none()
            && s.tx.denoise.is_none()
        {
            drop(s);
            unhook::<Speex>(chan, SPEEX);
        }
    }
    Ok(())
}

/// AGC and DENOISE reads: the direction's settings, `None` (a failed read) when the
/// functions were never set.
fn speex_read(
    chan: &mut Channel,
    cmd: &str,
    a: &str,
    show: impl FnOnce(&Fx) -> String,
) -> Result<String, FuncError> {
    let Some(s) = hooked_state::<Speex>(chan, SPEEX) else {
        return Ok(String::new());
    };
    let Some(dir) = parse_dir(a) else {
        chan.pbx.error(&format!(
            "func_speex.c: {cmd}({a}) must either \"tx\" or \"rx\""
        ));
        return Err(FuncError::Usage(a.into()));
    };
    let s = s.lock();
    Ok(show(if dir == Dir::Rx { &s.rx } else { &s.tx }))
}

func!(
    AgcFunc,
    "AGC",
    "Apply automatic gain control to audio on a channel.",
    "AGC(channeldirection)",
    "The AGC function will apply automatic gain control to the audio on the channel that \
     it is executed on. Using rx for audio received and tx for audio transmitted to the \
     channel. The value is the target level (a number: 8000 by default when a true value \
     is given; at most 32768); 0 or a false value turns it off: Set(AGC(rx)=8000), \
     Set(AGC(tx)=off). Reading gives the level (%.1f). ferrisk's AGC is its own (no \
     speex): it steers each speech frame's RMS level toward the target, by at most 30 dB."
);

impl Func for AgcFunc {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        speex_read(chan, "AGC", a, |fx| {
            format!("{:.1}", fx.agc.as_ref().map_or(0.0, |g| g.level))
        })
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let mut level = leading_f32(value).unwrap_or(if crate::config::is_true(value.trim()) {
            DEFAULT_AGC_LEVEL
        } else {
            0.0
        });
        if level > 32768.0 {
            chan.pbx.warning(&format!(
                "func_speex.c: AGC({})={level:.1} is greater than 32768... setting to 32768 instead",
                a.trim().to_ascii_lowercase()
            ));
            level = 32768.0;
        }
        speex_write(chan, "AGC", a, |fx| {
            fx.agc = (level > 0.0).then(|| match fx.agc.take() {
                Some(mut g) => {
                    g.level = level;
                    g
                }
                None => Agc::new(level),
            });
        })
    }
    fn writable(&self) -> bool {
        true
    }
}

func!(
    DenoiseFunc,
    "DENOISE",
    "Apply noise reduction to audio on a channel.",
    "DENOISE(channeldirection)",
    "The DENOISE function will apply noise reduction to audio on the channel that it is \
     executed on. It is very useful for noisy analog lines, especially when adjusting \
     gains or using AGC. Use rx for audio received from the channel and tx to apply the \
     filter to the audio being sent to the channel: Set(DENOISE(rx)=on), \
     Set(DENOISE(tx)=off). Reading gives 1 or 0. ferrisk's denoiser is a noise gate (no \
     speex spectral suppression): it learns the noise floor and attenuates frames near it \
     by 20 dB, passing speech unchanged."
);

impl Func for DenoiseFunc {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        speex_read(chan, "DENOISE", a, |fx| {
            u8::from(fx.denoise.is_some()).to_string()
        })
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let on = crate::config::is_true(value.trim());
        speex_write(chan, "DENOISE", a, |fx| {
            if !on {
                fx.denoise = None;
            } else if fx.denoise.is_none() {
                fx.denoise = Some(Denoiser::default());
            }
        })
    }
    fn writable(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// PITCH_SHIFT
// ---------------------------------------------------------------------------------------

struct Shifts {
    rx: PitchShifter,
    tx: PitchShifter,
}

fn pitch_hook(s: &mut Shifts, dir: Dir, f: Frame) -> Option<Frame> {
    let p = if dir == Dir::Rx { &mut s.rx } else { &mut s.tx };
    match f {
        Frame::Voice(a) if p.factor() != 1.0 => {
            let mut v = a.into_vec();
            p.process(&mut v);
            Some(Frame::voice(v))
        }
        f => Some(f),
    }
}

/// PITCH_SHIFT's amount: a name or a number in (0, 4].
pub fn pitch_amount(value: &str) -> Option<f32> {
    let named = match value.trim().to_ascii_lowercase().as_str() {
        "highest" => Some(2.0),
        "higher" => Some(1.5),
        "high" => Some(1.25),
        "low" => Some(0.85),
        "lower" => Some(0.7),
        "lowest" => Some(0.5),
        _ => None,
    };
    named.or_else(|| leading_f32(value).filter(|a| *a > 0.0 && *a <= 4.0))
}

func!(
    PitchShift,
    "PITCH_SHIFT",
    "Pitch shift both tx and rx audio streams on a channel.",
    "PITCH_SHIFT(channel direction)",
    "Pitch shifts the audio of the channel: direction tx (what it hears), rx (what it \
     says) or both. The value is a number between 0.1 and 4.0 (1.0 has no effect, greater \
     than 1 raises the pitch, lower than 1 lowers it) or one of highest (2.0, an octave \
     up), higher (1.5), high (1.25), low (0.85), lower (0.7), lowest (0.5, an octave \
     down): Set(PITCH_SHIFT(tx)=highest), Set(PITCH_SHIFT(rx)=0.8). ferrisk shifts with a \
     delay-line (two crossfaded taps), not Asterisk's FFT phase vocoder."
);

impl Func for PitchShift {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let dirs = match a.trim().to_ascii_lowercase().as_str() {
            "rx" => (true, false),
            "tx" => (false, true),
            "both" => (true, true),
            _ => (false, false),
        };
        let amount = pitch_amount(value);
        let (Some(amount), true) = (amount, dirs.0 || dirs.1) else {
            chan.pbx
                .error("func_pitchshift.c: Invalid argument provided to the PITCH_SHIFT function");
            return Err(FuncError::Usage(format!("{a}={value}")));
        };
        let init = || Shifts {
            rx: PitchShifter::new(1.0),
            tx: PitchShifter::new(1.0),
        };
        if let Some(s) = hooked(chan, "pitch_shift", init, pitch_hook) {
            let mut s = s.lock();
            if dirs.0 {
                s.rx.set_factor(amount);
            }
            if dirs.1 {
                s.tx.set_factor(amount);
            }
        }
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// JITTERBUFFER / HOLD_INTERCEPT
// ---------------------------------------------------------------------------------------

/// JITTERBUFFER's settings as written (kept on the channel: `Some(None)` is disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JbSettings {
    pub kind: String,
    pub max_size: u32,
    pub resync_threshold: i64,
    pub target_extra: i64,
}

func!(
    JitterBuffer,
    "JITTERBUFFER",
    "Add a Jitterbuffer to the Read side of the channel. This dejitters the audio stream \
     before it reaches the Asterisk core. This is a write only function.",
    "JITTERBUFFER(jitterbuffer type)",
    "Jitterbuffer type: fixed, adaptive or disabled. The value is \
     max_size,resync_threshold,target_extra (defaults 200, 1000, 40): \
     Set(JITTERBUFFER(adaptive)=default), Set(JITTERBUFFER(fixed)=200,1500), \
     Set(JITTERBUFFER(disabled)=). In ferrisk every RTP stream already passes through \
     the SIP driver's fixed-depth jitter buffer (reordering, loss concealment); this \
     function checks and records the settings on the channel but does not change that \
     buffer."
);

impl Func for JitterBuffer {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let kind = a.trim().to_ascii_lowercase();
        if kind == "disabled" {
            chan.datastores.insert("jitterbuffer", None::<JbSettings>);
            return Ok(());
        }
        if kind != "fixed" && kind != "adaptive" {
            chan.pbx.warning(&format!(
                "func_jitterbuffer.c: Invalid jitterbuffer type {}. Using default type.",
                a.trim()
            ));
        }
        let mut s = JbSettings {
            kind: if kind == "fixed" {
                kind
            } else {
                "adaptive".into()
            },
            max_size: 200,
            resync_threshold: 1000,
            target_extra: 40,
        };
        if !value.trim().is_empty() && !value.trim().eq_ignore_ascii_case("default") {
            let v = crate::apps::args::split(value, ',');
            let num = |i: usize| crate::apps::args::nth(&v, i).trim().parse::<i64>().ok();
            if let Some(n) = num(0) {
                s.max_size = n.clamp(0, u32::MAX as i64) as u32;
            }
            if let Some(n) = num(1) {
                s.resync_threshold = n;
            }
            if let Some(n) = num(2) {
                s.target_extra = n;
            }
        }
        chan.datastores.insert("jitterbuffer", Some(s));
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

func!(
    HoldIntercept,
    "HOLD_INTERCEPT",
    "Intercepts hold frames on a channel and raises an event instead of passing the frame \
     on",
    "HOLD_INTERCEPT(action)",
    "action: set (enable interception of hold and unhold on the channel) or remove. In \
     ferrisk a phone's SIP hold (a re-INVITE with sendonly/inactive) never starts music on \
     hold: there is no hold frame to intercept, so set and remove only mark the channel."
);

impl Func for HoldIntercept {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, _value: &str) -> Result<(), FuncError> {
        match a.trim().to_ascii_lowercase().as_str() {
            "set" => {
                chan.datastores.insert("hold_intercept", true);
                Ok(())
            }
            "remove" => {
                if !chan.datastores.remove("hold_intercept") {
                    chan.pbx.warning(&format!(
                        "func_holdintercept.c: Cannot remove HOLD_INTERCEPT from {}: HOLD_INTERCEPT not currently enabled",
                        chan.name()
                    ));
                }
                Ok(())
            }
            other => {
                chan.pbx.warning(&format!(
                    "func_holdintercept.c: Unknown option {other} to HOLD_INTERCEPT"
                ));
                Err(FuncError::Usage(other.into()))
            }
        }
    }
    fn writable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tonedetect::tests::tones;
    use crate::media::voicefx::rms;
    use crate::pbx::media::{MediaHandle, NativeFormat};
    use std::time::Duration;

    fn chan() -> (Channel, MediaHandle) {
        let mut chan = crate::testutil::test_channel();
        let m = MediaHandle::new(NativeFormat::Ulaw);
        chan.media = Some(m.clone());
        (chan, m)
    }

    fn set(chan: &mut Channel, call: &str, value: &str) -> Result<(), FuncError> {
        let (name, args) = crate::pbx::func::split_call(call).expect("call");
        let f = chan.pbx.funcs.get(name).expect("function");
        f.write(chan, args, value)
    }

    fn get(chan: &mut Channel, call: &str) -> String {
        let (name, args) = crate::pbx::func::split_call(call).expect("call");
        let f = chan.pbx.funcs.get(name).expect("function");
        f.read(chan, args).unwrap_or_default()
    }

    fn through(q: &FrameQueue, f: Frame) -> Option<Frame> {
        q.push_lossy(f);
        q.try_pop()
    }

    fn key() -> Frame {
        Frame::Dtmf('5', Duration::from_millis(80))
    }

    #[test]
    fn frame_drop_drops_the_listed_kinds_per_direction() {
        let (mut c, m) = chan();
        set(&mut c, "FRAME_DROP(TX)", "DTMF_BEGIN,DTMF_END").expect("set");
        assert_eq!(through(&m.to_far, key()), None);
        assert_eq!(through(&m.from_far, key()), Some(key()));
        assert!(through(&m.to_far, Frame::silence()).is_some());
        set(&mut c, "FRAME_DROP(RX)", "VOICE,ANSWER").expect("set");
        assert_eq!(through(&m.from_far, Frame::silence()), None);
        assert_eq!(through(&m.from_far, key()), Some(key()));
        // A new list replaces the direction's old one.
        set(&mut c, "FRAME_DROP(TX)", "ANSWER").expect("set");
        assert_eq!(through(&m.to_far, key()), Some(key()));
        assert!(set(&mut c, "FRAME_DROP(up)", "VOICE").is_err());
    }

    #[test]
    fn agc_and_denoise_set_read_and_change_audio() {
        let (mut c, m) = chan();
        assert_eq!(get(&mut c, "AGC(rx)"), "");
        set(&mut c, "AGC(rx)", "on").expect("set");
        assert_eq!(get(&mut c, "AGC(rx)"), "8000.0");
        assert_eq!(get(&mut c, "AGC(tx)"), "0.0");
        set(&mut c, "AGC(tx)", "40000").expect("set");
        assert_eq!(get(&mut c, "AGC(tx)"), "32768.0");
        set(&mut c, "AGC(tx)", "0").expect("set");
        let quiet = tones(&[440.0], 1000.0, 2000);
        let mut out = Vec::new();
        for f in quiet.chunks(160) {
            if let Some(Frame::Voice(v)) = through(&m.from_far, Frame::voice(f.to_vec())) {
                out.extend(v.to_vec());
            }
        }
        let end = rms(&out[out.len() - 800..]);
        assert!((end - 8000.0).abs() < 500.0, "{end}");
        // TX untouched.
        let f = Frame::voice(quiet[..160].to_vec());
        assert_eq!(through(&m.to_far, f.clone()), Some(f));
        set(&mut c, "DENOISE(tx)", "on").expect("set");
        assert_eq!(get(&mut c, "DENOISE(tx)"), "1");
        assert!(set(&mut c, "DENOISE(up)", "on").is_err());
        // Everything off: the hooks go.
        set(&mut c, "DENOISE(tx)", "off").expect("set");
        set(&mut c, "AGC(rx)", "off").expect("set");
        assert_eq!(get(&mut c, "AGC(rx)"), "");
        let f = Frame::voice(quiet[..160].to_vec());
        assert_eq!(through(&m.from_far, f.clone()), Some(f));
    }

    #[test]
    fn pitch_shift_values_and_directions() {
        assert_eq!(pitch_amount("highest"), Some(2.0));
        assert_eq!(pitch_amount("LOWER"), Some(0.7));
        assert_eq!(pitch_amount("1.5"), Some(1.5));
        assert_eq!(pitch_amount("4.5"), None);
        assert_eq!(pitch_amount("0"), None);
        assert_eq!(pitch_amount("loud"), None);
        let (mut c, m) = chan();
        assert!(set(&mut c, "PITCH_SHIFT(up)", "high").is_err());
        assert!(set(&mut c, "PITCH_SHIFT(tx)", "9").is_err());
        set(&mut c, "PITCH_SHIFT(tx)", "highest").expect("set");
        let f = Frame::voice(tones(&[500.0], 4000.0, 20));
        assert_eq!(through(&m.from_far, f.clone()), Some(f.clone()));
        assert_ne!(through(&m.to_far, f.clone()), Some(f));
    }

    #[tokio::test]
    async fn talk_detect_publishes_start_and_stop() {
        let (mut c, m) = chan();
        let mut rx = c.pbx.events.subscribe(crate::pbx::events::Topic::Channel);
        assert!(set(&mut c, "TALK_DETECT(remove)", "").is_err());
        assert!(set(&mut c, "TALK_DETECT(set)", "0").is_err());
        assert!(set(&mut c, "TALK_DETECT(set)", ",40000").is_err());
        set(&mut c, "TALK_DETECT(set)", "200").expect("set");
        let loud = Frame::voice(vec![2000; 160]);
        for _ in 0..25 {
            through(&m.from_far, loud.clone());
        }
        for _ in 0..10 {
            through(&m.from_far, Frame::silence());
        }
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let Event::ChannelNotice { name, .. } = &*ev {
                seen.push((name.to_string(), ev.fields().last().cloned()));
            }
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].0, "ChannelTalkingStart");
        assert_eq!(seen[1].0, "ChannelTalkingStop");
        assert_eq!(seen[1].1, Some(("Duration".to_string(), "500".to_string())));
        set(&mut c, "TALK_DETECT(remove)", "").expect("remove");
        for _ in 0..5 {
            through(&m.from_far, loud.clone());
        }
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn jitterbuffer_and_hold_intercept_record_their_settings() {
        let (mut c, _m) = chan();
        set(&mut c, "JITTERBUFFER(fixed)", "300,1500").expect("set");
        let jb = c
            .datastores
            .get::<Option<JbSettings>>("jitterbuffer")
            .cloned()
            .flatten()
            .expect("settings");
        assert_eq!(
            (
                jb.kind.as_str(),
                jb.max_size,
                jb.resync_threshold,
                jb.target_extra
            ),
            ("fixed", 300, 1500, 40)
        );
        set(&mut c, "JITTERBUFFER(disabled)", "").expect("set");
        assert_eq!(
            c.datastores.get::<Option<JbSettings>>("jitterbuffer"),
            Some(&None)
        );
        set(&mut c, "HOLD_INTERCEPT(set)", "").expect("set");
        set(&mut c, "HOLD_INTERCEPT(remove)", "").expect("remove");
        assert!(set(&mut c, "HOLD_INTERCEPT(maybe)", "").is_err());
    }
}
