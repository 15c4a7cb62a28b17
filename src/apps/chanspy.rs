//! ChanSpy() and ExtenSpy() (`app_chanspy.so`): listen to a live channel — what it says and
//! what it hears, mixed — and optionally whisper into it or barge into its call.
//!
//! Live channels are found in the core's channel registry; each publishes its media queues
//! and `SPYGROUP` with its location ([`crate::pbx::channel::Snapshot`]), so a channel in a
//! Dial() bridge or playing a prompt can be spied on. The spy sees the spied channel's frames
//! through taps on its two queues ([`crate::media::frame::FrameQueue::add_tap`]): a tap only
//! offers a copy to a small bounded queue and drops it when the spy is behind, so spying never
//! slows the call. Whispering is a frame hook on the spied channel's outgoing queue that adds
//! the spy's voice to what the channel hears (from a small buffer: lossy too).
//!
//! This module must never wait on the spied channel, nor hold its queues' locks while waiting.

use super::mixmonitor::{Dir, Mixer};
use super::playback::{self, Played};
use super::record::Writer;
use super::{args, say, App, AppResult};
use crate::media::frame::{FrameTap, FRAME_SAMPLES};
use crate::media::sounds;
use crate::pbx::channel::ChannelShared;
use crate::pbx::media::{Frame, FrameHook, FrameQueue, MediaHandle};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup, Pbx};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_chanspy.so", "Listen to the audio of an active channel"),
    register: register_app_chanspy,
}];

fn register_app_chanspy(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ChanSpy));
    ctx.register_app(Arc::new(ExtenSpy));
}

/// Frames the tap queue holds (both directions) before copies are dropped: Asterisk's small
/// audiohook queue, or its long one with `l`.
const SHORT_QUEUE: usize = 8;
const LONG_QUEUE: usize = 100;
/// Samples of whisper audio kept for the spied channel before the oldest are dropped.
const WHISPER_MAX: usize = 6 * FRAME_SAMPLES;

/// Asterisk's audiohook volume: `v` > 0 multiplies, `v` < 0 divides, saturating.
pub fn adjust_volume(samples: &mut [i16], v: i32) {
    match v {
        -1..=1 => {}
        v if v > 0 => {
            for s in samples.iter_mut() {
                *s = (i32::from(*s) * v).clamp(i16::MIN.into(), i16::MAX.into()) as i16;
            }
        }
        v => {
            for s in samples.iter_mut() {
                *s = (i32::from(*s) / -v) as i16;
            }
        }
    }
}

/// The next volume after `#`: up by one, -4 after 4.
pub fn next_volume(v: i32) -> i32 {
    if v + 1 > 4 {
        -4
    } else {
        v + 1
    }
}

/// The channels currently spying (Asterisk's `AST_FLAG_SPYING`): never spied upon.
#[derive(Default)]
struct Spies(Mutex<HashSet<String>>);

fn spies(pbx: &Pbx) -> Arc<Spies> {
    pbx.services
        .get_or_insert_with("app_chanspy.so", Spies::default)
}

/// Marks a channel as spying while it lives.
struct Spying(Arc<Spies>, String);

impl Drop for Spying {
    fn drop(&mut self) {
        self.0 .0.lock().remove(&self.1);
    }
}

/// The parsed options of ChanSpy/ExtenSpy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpyOptions {
    pub bridged: bool,
    pub barge: bool,
    pub cycle: char,
    pub exit: Option<char>,
    pub volume_key: char,
    pub dtmf_modes: bool,
    pub enforced: Option<String>,
    pub exit_on_hangup: bool,
    pub group: Option<String>,
    pub long_queue: bool,
    /// `n`: say the recorded name (mailbox, context).
    pub name: Option<(Option<String>, Option<String>)>,
    pub no_answer: bool,
    pub read_only: bool,
    pub quiet: bool,
    pub record: Option<String>,
    pub no_tech: bool,
    pub stop: bool,
    pub uniqueid: bool,
    pub volume: i32,
    pub whisper: bool,
    pub private: bool,
    pub exit_to_ext: bool,
}

/// A valid DTMF digit option argument (`c(x)`, `x(x)`), with Asterisk's notice otherwise.
fn digit_arg(pbx: &Pbx, o: &BTreeMap<char, Option<String>>, key: char) -> Option<char> {
    let v = o.get(&key)?.as_deref()?;
    match v.chars().next() {
        Some(c) if "0123456789*#".contains(c) => Some(c),
        _ => {
            pbx.notice(&format!(
                "app_chanspy.c: Argument for option '{key}' must be a valid DTMF digit."
            ));
            None
        }
    }
}

impl SpyOptions {
    pub fn parse(pbx: &Pbx, s: &str) -> SpyOptions {
        let o = args::options(s);
        let has = |c: char| o.contains_key(&c);
        let arg = |c: char| o.get(&c).cloned().flatten().filter(|v| !v.is_empty());
        let mut volume = 0;
        if let Some(v) = arg('v') {
            match v.trim().parse::<i32>() {
                Ok(n) if (-4..=4).contains(&n) => volume = n,
                _ => pbx.notice("app_chanspy.c: Volume factor must be a number between -4 and 4"),
            }
        }
        let name = has('n').then(|| match arg('n') {
            Some(v) => match v.split_once('@') {
                Some((m, c)) => (Some(m.to_string()), Some(c.to_string())),
                None => (Some(v), None),
            },
            None => (None, None),
        });
        let private = has('W');
        SpyOptions {
            bridged: has('b'),
            barge: has('B'),
            cycle: digit_arg(pbx, &o, 'c').unwrap_or('*'),
            exit: digit_arg(pbx, &o, 'x'),
            volume_key: '#',
            dtmf_modes: has('d'),
            enforced: has('e').then(|| arg('e')).flatten(),
            exit_on_hangup: has('E'),
            group: has('g').then(|| arg('g')).flatten(),
            long_queue: has('l'),
            name,
            no_answer: has('N'),
            read_only: has('o'),
            quiet: has('q'),
            record: has('r').then(|| arg('r').unwrap_or_else(|| "chanspy".into())),
            no_tech: has('s'),
            stop: has('S'),
            uniqueid: has('u'),
            volume,
            whisper: has('w') || private,
            private,
            exit_to_ext: has('X'),
        }
    }
}

/// What a spy looks for.
#[derive(Debug, Clone)]
enum Spec {
    All,
    /// Channel names starting with this (case-insensitive), or exactly this channel (`u`).
    Prefix(String),
    Exten(String, String),
}

/// A channel that may be spied upon.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub shared: Arc<ChannelShared>,
    pub media: MediaHandle,
    pub bridged: Option<String>,
    pub spygroup: Option<String>,
}

/// Whether one of `mine` (`a:b:c`) is one of the channel's SPYGROUP groups.
pub fn group_matches(mine: &str, theirs: Option<&str>) -> bool {
    let theirs: Vec<&str> = theirs.unwrap_or("").split(':').collect();
    mine.split(':')
        .any(|g| theirs.iter().any(|t| !t.is_empty() && *t == g))
}

/// The `e(ext)` check: the channel name up to its `-` (`SIP/1000`) is in the `:` list.
pub fn enforced_allows(list: &str, channel: &str) -> bool {
    let base = channel.split('-').next().unwrap_or(channel);
    let buffer = format!(":{list}:").to_ascii_lowercase();
    buffer.contains(&format!(":{}:", base.to_ascii_lowercase()))
}

/// The live channels matching `spec`, in creation order (not `me`, not spying, with media).
fn candidates(pbx: &Pbx, me: &str, spec: &Spec) -> Vec<Target> {
    let spying = spies(pbx);
    let spying = spying.0.lock().clone();
    pbx.channels
        .list()
        .into_iter()
        .filter(|c| c.name != me && !spying.contains(&c.name) && !c.hangup_requested())
        .filter_map(|c| {
            let s = c.snapshot.lock();
            let ok = match spec {
                Spec::All => true,
                Spec::Prefix(p) => c
                    .name
                    .get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p)),
                Spec::Exten(e, ctx) => s.exten == *e && s.context.eq_ignore_ascii_case(ctx),
            };
            let media = s.media.clone()?;
            let (bridged, spygroup) = (s.bridged.clone(), s.spygroup.clone());
            drop(s);
            ok.then(|| Target {
                name: c.name.clone(),
                shared: c.clone(),
                media,
                bridged,
                spygroup,
            })
        })
        .collect()
}

/// Samples the spy says into a channel, taken frame by frame by a hook on its queue.
#[derive(Default)]
pub(crate) struct Whisper(Mutex<VecDeque<i16>>);

impl Whisper {
    pub(crate) fn add(&self, samples: &[i16]) {
        let mut b = self.0.lock();
        b.extend(samples);
        let extra = b.len().saturating_sub(WHISPER_MAX);
        b.drain(..extra);
    }

    /// Mix what is buffered into `f` (frames pass unchanged when nothing is).
    pub(crate) fn mix(&self, f: Frame) -> Frame {
        let Frame::Voice(a) = f else { return f };
        let mut b = self.0.lock();
        if b.is_empty() {
            return Frame::Voice(a);
        }
        let mut v = a.into_vec();
        for s in v.iter_mut() {
            match b.pop_front() {
                Some(w) => *s = s.saturating_add(w),
                None => break,
            }
        }
        Frame::voice(v)
    }
}

pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 40);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Taps and hooks installed on channels; removed when dropped.
pub(crate) struct Attached {
    pub(crate) id: u64,
    pub(crate) taps: Vec<Arc<FrameQueue>>,
    pub(crate) hooks: Vec<Arc<FrameQueue>>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        for q in &self.taps {
            q.remove_tap(self.id);
        }
        for q in &self.hooks {
            q.remove_hook(self.id);
        }
    }
}

/// How one spying session ended (Asterisk's `running`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpyEnd {
    /// The spy hung up.
    Hangup,
    /// Exit ChanSpy (`x` digit, or `X` to an extension).
    Exit,
    /// Go on to the next channel (`*`, or the spied channel went away).
    Next,
    /// Digits then `#`: this number.
    Number(i64),
}

/// What one digit pressed while spying does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitAction {
    None,
    End(SpyEnd),
    Volume(i32),
    Mode(char),
}

/// The spy's digit handling (app_chanspy's `channel_spy` loop), without `X`: `inp` holds
/// the digits typed so far.
pub fn on_digit(opts: &SpyOptions, inp: &mut String, vol: i32, d: char) -> DigitAction {
    if inp.len() == 24 {
        inp.clear();
    }
    let mut action = DigitAction::None;
    if d.is_ascii_digit() {
        if opts.dtmf_modes {
            action = DigitAction::Mode(d);
        } else {
            inp.push(d);
        }
    }
    if d == opts.cycle {
        DigitAction::End(SpyEnd::Next)
    } else if Some(d) == opts.exit {
        DigitAction::End(SpyEnd::Exit)
    } else if d == opts.volume_key {
        if !inp.is_empty() {
            let n = inp.parse::<i64>().unwrap_or(0);
            return DigitAction::End(SpyEnd::Number(n));
        }
        DigitAction::Volume(next_volume(vol))
    } else {
        action
    }
}

/// Spy on `t` until a digit, a hangup or the spied channel's end says otherwise.
async fn channel_spy(
    chan: &mut Channel,
    t: &Target,
    vol: &mut i32,
    opts: &SpyOptions,
    flags: &mut (bool, bool),
    exitcontext: &str,
    rec: &mut Option<Writer>,
) -> Result<SpyEnd, Hangup> {
    let pbx = chan.pbx.clone();
    if t.shared.hangup_requested() {
        return Ok(SpyEnd::Next);
    }
    pbx.verbose_line(2, &format!("Spying on channel {}", t.name));
    pbx.verbose_line(
        3,
        &format!("Attaching spy channel {} to {}", chan.name(), t.name),
    );
    let id = next_id();
    let cap = if opts.long_queue {
        LONG_QUEUE
    } else {
        SHORT_QUEUE
    };
    let (tx, mut rx) = mpsc::channel::<(Dir, Vec<i16>)>(cap * 2);
    let tap = |dir: Dir| -> FrameTap {
        let tx = tx.clone();
        Arc::new(move |f: &Frame| {
            if let Frame::Voice(v) = f {
                let _ = tx.try_send((dir, v.to_vec()));
            }
        })
    };
    let mut att = Attached {
        id,
        taps: vec![],
        hooks: vec![],
    };
    t.media.from_far.add_tap(id, tap(Dir::Read));
    att.taps.push(t.media.from_far.clone());
    // What the channel hears is seen before the whisper is added to it (as Asterisk's spy
    // audiohooks see a frame before its whisper ones): one hook does both.
    let whisper = Arc::new(Whisper::default());
    let whispers = opts.whisper || opts.barge || opts.dtmf_modes;
    if whispers || !opts.read_only {
        let copy = (!opts.read_only).then(|| tap(Dir::Write));
        let w = whisper.clone();
        t.media.to_far.add_hook(
            id,
            Arc::new(move |f: Frame| {
                if let Some(c) = &copy {
                    c(&f);
                }
                w.mix(f)
            }) as FrameHook,
        );
        att.hooks.push(t.media.to_far.clone());
    }
    drop(tx);
    let peer_whisper = Arc::new(Whisper::default());
    let mut peer_attached = false;
    let mut mixer = Mixer::default();
    let mut inp = String::new();
    let my = chan.media.clone();
    let mut pending: Vec<i16> = Vec::new();
    let end = loop {
        tokio::select! {
            f = chan.read_frame(None) => match f? {
                Some(Frame::Voice(a)) => {
                    let (whispering, barging) = *flags;
                    if barging {
                        if !peer_attached {
                            if let Some(peer) = t.bridged.as_ref().and_then(|b| pbx.channels.get(b))
                                .and_then(|p| p.snapshot.lock().media.clone()) {
                                let w = peer_whisper.clone();
                                peer.to_far.add_hook(id, Arc::new(move |f| w.mix(f)) as FrameHook);
                                att.hooks.push(peer.to_far.clone());
                                peer_attached = true;
                            }
                        }
                        whisper.add(&a);
                        if peer_attached {
                            peer_whisper.add(&a);
                        }
                    } else if whispering {
                        whisper.add(&a);
                    }
                }
                Some(Frame::Dtmf(d, _)) => {
                    if opts.exit_to_ext {
                        if exit_to(chan, exitcontext, d) {
                            chan.set_var("SPY_CHANNEL", &t.name);
                            break SpyEnd::Exit;
                        }
                        continue;
                    }
                    match on_digit(opts, &mut inp, *vol, d) {
                        DigitAction::None => {}
                        DigitAction::End(e) => break e,
                        DigitAction::Mode(m) => match m {
                            '4' => *flags = (false, false),
                            '5' => *flags = (true, false),
                            '6' => *flags = (false, true),
                            _ => {}
                        },
                        DigitAction::Volume(v) => {
                            *vol = v;
                            pbx.verbose_line(3, &format!("Setting spy volume on {} to {v}", chan.name()));
                        }
                    }
                }
                None => {}
            },
            got = rx.recv() => {
                let Some((dir, s)) = got else { break SpyEnd::Next };
                if opts.read_only {
                    pending.extend(s);
                } else {
                    pending.extend(mixer.feed(dir, &s));
                }
                while pending.len() >= FRAME_SAMPLES {
                    let mut out: Vec<i16> = pending.drain(..FRAME_SAMPLES).collect();
                    adjust_volume(&mut out, *vol);
                    if let Some(w) = rec.as_mut() {
                        let _ = w.write(out.clone()).await;
                    }
                    if opts.private {
                        continue;
                    }
                    if let Some(m) = &my {
                        m.to_far.push_lossy(Frame::voice(out));
                    }
                }
            }
            _ = t.shared.hungup() => break SpyEnd::Next,
        }
    };
    drop(att);
    pbx.verbose_line(2, &format!("Done Spying on channel {}", t.name));
    Ok(end)
}

/// Whether a prompt exists (no warning when it does not).
async fn prompt_exists(chan: &Channel, name: &str) -> bool {
    let data = chan.pbx.settings.astdatadir.clone();
    let (n, l) = (name.to_string(), chan.language.clone());
    let native = chan.media.as_ref().map(|m| m.format).unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        sounds::find(&sounds::sound_dirs(&data), &n, &l, native).is_some()
    })
    .await
    .unwrap_or(false)
}

/// `spy-<tech>` and the number of a channel name (`SIP/1000-0000001` → `spy-sip`, `1000`).
pub fn peer_name(channel: &str) -> (String, String) {
    match channel.split_once('/') {
        Some((tech, rest)) => (
            format!("spy-{}", tech.to_ascii_lowercase()),
            rest.split('-').next().unwrap_or("").to_string(),
        ),
        None => (format!("spy-{channel}"), String::new()),
    }
}

/// Announce the channel about to be spied on (not with `q`): the recorded name (`n`),
/// else the technology (`spy-sip`, or spelled) and the number as digits.
async fn announce(chan: &mut Channel, opts: &SpyOptions, t: &Target) -> Result<(), Hangup> {
    let (peer, num) = peer_name(&t.name);
    if let Some((mailbox, context)) = &opts.name {
        let mailbox = mailbox.clone().unwrap_or_else(|| num.clone());
        let context = context.clone().unwrap_or_else(|| "default".into());
        let greet = chan
            .pbx
            .settings
            .astspooldir
            .join("voicemail")
            .join(&context)
            .join(&mailbox)
            .join("greet");
        let greet = greet.display().to_string();
        if !mailbox.is_empty() && prompt_exists(chan, &greet).await {
            playback::stream(chan, &greet, "").await?;
            return Ok(());
        }
    }
    if !opts.no_tech {
        if prompt_exists(chan, &peer).await {
            if let Played::Digit(_) = playback::stream(chan, &peer, "").await? {
                return Ok(());
            }
        } else {
            say::say_prompts(chan, &say::alpha_prompts(&peer), false).await?;
        }
    }
    if num.parse::<i64>().is_ok_and(|n| n != 0) {
        let n = num.parse::<i64>().unwrap_or(0).to_string();
        say::say_prompts(chan, &say::digits_prompts(&n), false).await?;
    }
    Ok(())
}

/// app_chanspy's `common_exec`: the loop over candidate channels.
async fn common_exec(chan: &mut Channel, opts: &SpyOptions, spec: Spec) -> AppResult {
    let pbx = chan.pbx.clone();
    let exitcontext = if opts.exit_to_ext {
        chan.get_var("SPY_EXIT_CONTEXT")
            .unwrap_or_else(|| chan.context.clone())
    } else {
        String::new()
    };
    if !opts.no_answer && !chan.is_up() {
        chan.answer();
    }
    let registry = spies(&pbx);
    registry.0.lock().insert(chan.name().to_string());
    let _spying = Spying(registry, chan.name().to_string());
    let mut rec = match &opts.record {
        Some(base) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let path = pbx
                .settings
                .astspooldir
                .join("monitor")
                .join(format!("{base}.{now}.raw"));
            match Writer::open(&path, "sln", false).await {
                Ok(w) => Some(w),
                Err(_) => {
                    pbx.warning(&format!(
                        "app_chanspy.c: Cannot open '{}' for recording",
                        path.display()
                    ));
                    None
                }
            }
        }
        None => None,
    };
    let mut vol = opts.volume;
    let mut flags = (opts.whisper, opts.barge);
    let mut num_spied_upon = 1;
    let res = 'outer: loop {
        if !opts.quiet && num_spied_upon > 0 {
            playback::stream(chan, "beep", "").await?;
        }
        let list = match &spec {
            Spec::Prefix(p) if opts.uniqueid => {
                // A uniqueid or a full channel name.
                let found = pbx
                    .channels
                    .list()
                    .into_iter()
                    .find(|c| c.uniqueid == *p || c.name.eq_ignore_ascii_case(p));
                match found {
                    Some(c) => candidates(&pbx, chan.name(), &Spec::Prefix(c.name.clone()))
                        .into_iter()
                        .filter(|t| t.name == c.name)
                        .collect(),
                    None => break 'outer Ok(()),
                }
            }
            s => candidates(&pbx, chan.name(), s),
        };
        if let Some(Frame::Dtmf(d, _)) = chan.read_frame(Some(Duration::from_millis(100))).await? {
            if opts.exit_to_ext && exit_to(chan, &exitcontext, d) {
                break Ok(());
            }
        }
        num_spied_upon = 0;
        let mut next: Option<Target> = None;
        let mut i = 0;
        loop {
            let t = match next.take() {
                Some(t) => t,
                None => match list.get(i) {
                    Some(t) => {
                        i += 1;
                        t.clone()
                    }
                    None => break,
                },
            };
            if chan.check_hangup() {
                return Err(Hangup);
            }
            if opts.bridged && t.bridged.is_none() {
                continue;
            }
            if t.shared.hangup_requested() {
                continue;
            }
            if let Some(g) = &opts.group {
                if !group_matches(g, t.spygroup.as_deref()) {
                    continue;
                }
            }
            if let Some(e) = &opts.enforced {
                if !enforced_allows(e, &t.name) {
                    continue;
                }
            }
            if !opts.quiet {
                announce(chan, opts, &t).await?;
            }
            let end =
                channel_spy(chan, &t, &mut vol, opts, &mut flags, &exitcontext, &mut rec).await?;
            num_spied_upon += 1;
            match end {
                SpyEnd::Hangup => return Err(Hangup),
                SpyEnd::Exit => break 'outer Ok(()),
                SpyEnd::Number(n) if n > 1 && !opts.uniqueid => {
                    if let Spec::Prefix(p) = &spec {
                        let want = Spec::Prefix(format!("{p}/{n}"));
                        next = candidates(&pbx, chan.name(), &want).into_iter().next();
                        if next.is_none() && !t.shared.hangup_requested() {
                            next = Some(t.clone());
                        }
                    }
                }
                SpyEnd::Next if opts.exit_on_hangup && t.shared.hangup_requested() => {
                    break 'outer Ok(());
                }
                _ => {}
            }
        }
        if chan.check_hangup() {
            return Err(Hangup);
        }
        if opts.stop {
            break Ok(());
        }
    };
    if let Some(w) = rec.take() {
        let _ = w.finish().await;
    }
    if opts.exit_on_hangup {
        pbx.verbose_line(3, "Stopped spying due to the spied-on channel hanging up.");
    }
    res
}

/// `X`: a single-digit extension in the exit context; jumps there when it exists.
fn exit_to(chan: &mut Channel, context: &str, d: char) -> bool {
    let e = d.to_string();
    let exists = chan.pbx.dialplan().exists(
        context,
        &e,
        1,
        chan.caller.num.as_deref(),
        chrono::Utc::now(),
    );
    if exists {
        chan.goto(context, &e, 1);
    }
    exists
}

struct ChanSpy;

#[async_trait]
impl App for ChanSpy {
    app_meta!(
        "ChanSpy",
        "Listen to a channel, and optionally whisper into it.",
        "ChanSpy([chanprefix][,options])",
        "This application is used to listen to the audio from an Asterisk channel. This includes the audio coming in and out of the channel being spied on. If the chanprefix parameter is specified, only channels beginning with this string will be spied upon. While spying: # cycles the volume level (-4..4); * stops spying and looks for another channel; a series of digits followed by # builds a channel name to append to chanprefix (ChanSpy(SIP) then 1234# spies on SIP/1234). Options: b (only bridged channels), B (barge: talk to both parties), c(digit) (next channel key), d (4 spy, 5 whisper, 6 barge modes by DTMF), e(ext) (enforced: only these : separated extensions), E (exit when the spied-on channel hangs up), g(grp) (only channels whose SPYGROUP has one of these : separated groups), l (long frame queue), n([mailbox][@context]) (say the recorded name), N (do not answer), o (only audio from the channel), q (no beep, no name), r([basename]) (record to the monitor spool, default chanspy), s (skip the technology when saying the name), S (stop when no more channels), u (chanprefix is a uniqueid or full channel name), v(value) (initial volume -4..4), w (whisper), W (private whisper: talk without listening), x(digit) (exit key), X (exit to a single digit extension in SPY_EXIT_CONTEXT or the current context; sets SPY_CHANNEL)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let spec = match args::nth(&a, 0).trim() {
            "" | "all" => Spec::All,
            p => Spec::Prefix(p.to_string()),
        };
        let opts = SpyOptions::parse(&chan.pbx, args::nth(&a, 1));
        common_exec(chan, &opts, spec).await
    }
}

struct ExtenSpy;

#[async_trait]
impl App for ExtenSpy {
    app_meta!(
        "ExtenSpy",
        "Listen to a channel, and optionally whisper into it.",
        "ExtenSpy(exten[@context][,options])",
        "This application is used to listen to the audio from an Asterisk channel. This includes the audio coming in and out of the channel being spied on. Only channels created by outgoing calls for the specified extension will be selected for spying (channels whose current extension and context are exten@context; the context defaults to the current one). While spying: # cycles the volume level, * stops spying and looks for another channel. Options as ChanSpy (b, B, c, d, e, E, g, l, n, N, o, q, r, s, S, v, w, W, x, X)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let first = args::nth(&a, 0).trim();
        let (exten, context) = match first.split_once('@') {
            Some((e, c)) if !c.is_empty() => (e.to_string(), c.to_string()),
            Some((e, _)) => (e.to_string(), chan.context.clone()),
            None => (String::new(), chan.context.clone()),
        };
        let spec = if exten.is_empty() {
            Spec::All
        } else {
            Spec::Exten(exten, context)
        };
        let opts = SpyOptions::parse(&chan.pbx, args::nth(&a, 1));
        common_exec(chan, &opts, spec).await
    }
}

#[cfg(test)]
mod tests;
