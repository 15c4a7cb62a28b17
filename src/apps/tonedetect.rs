//! `res_tonedetect.so`: `TONE_DETECT()` (a detector on the channel's frames that counts a
//! tone's hits in each direction and can send the channel elsewhere on a hit),
//! `WaitForTone()` (wait for a tone in what the caller sends) and `ToneScan()` (wait for a
//! call-progress verdict: ringing, busy, SIT, dial tone, fax, modem, voice, a DTMF digit).
//! The detection is `media::tonedetect` (Goertzel, pure); TONE_DETECT rides on
//! `funcs::dsp::hooked`'s frame filters.

use super::{args, App, AppResult};
use crate::funcs::dsp::{hooked, hooked_state, unhook, Dir};
use crate::media::tonedetect::{Progress, ProgressDetector, ToneDetector};
use crate::pbx::channel::ChannelShared;
use crate::pbx::func::{Func, FuncError};
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("res_tonedetect.so", "Tone detection module"),
    register: register_res_tonedetect,
}];

fn register_res_tonedetect(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(ToneDetect));
    ctx.register_app(Arc::new(WaitForTone));
    ctx.register_app(Arc::new(ToneScan));
}

/// A frequency argument: one integer ≥ 0 (Asterisk refuses a second `+freq` for now).
fn parse_freq(pbx: &crate::pbx::Pbx, s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() {
        pbx.error("res_tonedetect.c: No frequency specified");
        return None;
    }
    if s.contains('+') {
        pbx.warning("res_tonedetect.c: Sorry, currently only 1 frequency is supported");
        return None;
    }
    match s.parse::<i64>() {
        Ok(f) if f < 0 => {
            pbx.warning(&format!(
                "res_tonedetect.c: Sorry, no negative frequencies: {f}"
            ));
            None
        }
        Ok(f) => Some(f.min(3999) as u32),
        Err(_) => {
            pbx.warning(&format!(
                "res_tonedetect.c: Frequency must be an integer: {s}"
            ));
            None
        }
    }
}

/// An integer option argument (`d`, `n`) of at least 1, else `default` with a warning.
fn int_opt(
    chan: &Channel,
    opts: &std::collections::BTreeMap<char, Option<String>>,
    key: char,
    default: i32,
    what: &str,
) -> Result<i32, ()> {
    match opts.get(&key) {
        Some(Some(v)) => match v.trim().parse::<i32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => {
                chan.pbx
                    .warning(&format!("res_tonedetect.c: Invalid {what}: {}", v.trim()));
                Err(())
            }
        },
        _ => Ok(default),
    }
}

/// A `g`/`h` destination: `[[context,]exten,]priority` relative to where the channel is
/// now; a label is looked up now. `None` when it names nothing.
fn goto_target(chan: &Channel, loc: &str) -> Option<(String, String, i32)> {
    let parts: Vec<&str> = loc.split(',').map(str::trim).collect();
    let (ctx, exten, prio) = match parts.as_slice() {
        [c, e, p] => (c.to_string(), e.to_string(), p.to_string()),
        [e, p] => (chan.context.clone(), e.to_string(), p.to_string()),
        [p] => (chan.context.clone(), chan.exten.clone(), p.to_string()),
        _ => return None,
    };
    let exten = if exten.is_empty() {
        chan.exten.clone()
    } else {
        exten
    };
    let ctx = if ctx.is_empty() {
        chan.context.clone()
    } else {
        ctx
    };
    let prio = match prio.parse::<i32>() {
        Ok(p) => p,
        Err(_) => chan
            .pbx
            .dialplan()
            .find_label(&ctx, &exten, &prio, None, Utc::now())
            .unwrap_or(0),
    };
    (prio > 0).then_some((ctx, exten, prio))
}

/// Which call-progress signals TONE_DETECT matches (options a, b, c, p).
#[derive(Debug, Clone, Copy, Default)]
struct Signals {
    sit: bool,
    busy: bool,
    dial: bool,
    ringing: bool,
}

impl Signals {
    fn any(self) -> bool {
        self.sit || self.busy || self.dial || self.ringing
    }
    fn wants(self, p: Progress) -> bool {
        match p {
            Progress::Sit | Progress::Congestion => self.sit,
            Progress::Busy => self.busy,
            Progress::DialTone => self.dial,
            Progress::Ringing => self.ringing,
            _ => false,
        }
    }
}

/// One direction's detectors.
struct Ears {
    tone: Option<ToneDetector>,
    progress: Option<ProgressDetector>,
}

struct Detect {
    shared: Arc<ChannelShared>,
    rx_ears: Ears,
    tx_ears: Ears,
    signals: Signals,
    rx: bool,
    tx: bool,
    squelch: bool,
    autoend: bool,
    matchmet: bool,
    hits_required: u32,
    rxcount: u32,
    txcount: u32,
    goto_rx: Option<(String, String, i32)>,
    goto_tx: Option<(String, String, i32)>,
}

impl Detect {
    fn go(&self, dir: Dir) {
        let target = match (dir, &self.goto_rx, &self.goto_tx) {
            (Dir::Rx, Some(g), _) => Some(g),
            (_, _, Some(g)) => Some(g),
            _ => None,
        };
        if let Some((c, e, p)) = target {
            self.shared.request_redirect(c, e, *p);
        }
    }
}

fn detect_hook(d: &mut Detect, dir: Dir, f: Frame) -> Option<Frame> {
    if (d.matchmet && d.autoend) || !(if dir == Dir::Rx { d.rx } else { d.tx }) {
        return Some(f);
    }
    let Frame::Voice(a) = &f else {
        return Some(f);
    };
    let ears = if dir == Dir::Rx {
        &mut d.rx_ears
    } else {
        &mut d.tx_ears
    };
    let (hits, in_tone) = match &mut ears.tone {
        Some(t) => (t.feed(a), t.in_tone()),
        None => (0, false),
    };
    let verdict = match &mut ears.progress {
        Some(p) => p.feed(a),
        _ => None,
    };
    let squelch = d.squelch && in_tone;
    let mut matched = false;
    {
        if hits > 0 {
            matched = true;
            let now = if dir == Dir::Rx {
                d.rxcount += hits;
                d.rxcount
            } else {
                d.txcount += hits;
                d.txcount
            };
            if now >= d.hits_required {
                d.matchmet = true;
                d.go(dir);
            }
        }
    }
    if !matched && verdict.is_some_and(|v| d.signals.wants(v)) {
        d.go(dir);
    }
    if squelch {
        return Some(Frame::voice(vec![0; a.len()]));
    }
    Some(f)
}

const DATASTORE: &str = "tonedetect";

struct ToneDetect;

impl Func for ToneDetect {
    fn name(&self) -> &'static str {
        "TONE_DETECT"
    }
    fn synopsis(&self) -> &'static str {
        "Asynchronously detects a tone"
    }
    fn syntax(&self) -> &'static str {
        "TONE_DETECT(freq[,duration_ms[,options]])"
    }
    fn description(&self) -> &'static str {
        "The TONE_DETECT function detects a single-frequency tone (freq Hz, 0 for signal \
         detection only, held at least duration_ms, default 500) and keeps track of how \
         many times the tone has been detected. Options: a — match immediately on Special \
         Information Tones; b — on a busy signal; c — on a dial tone; p — on audible \
         ringback; d(db) — custom decibel threshold (default 16); e — end detection after \
         the number of hits of n; g(context,exten,priority) — go there when the tone is \
         received on this channel; h(context,exten,priority) — go there when it is \
         transmitted; n(count) — hits before going (default 1); r — received frames only; \
         t — transmitted frames only; s — squelch the tone; x — destroy the detector. \
         Reading TONE_DETECT(rx) or TONE_DETECT(tx) gives the number of times the tone was \
         detected in that direction. Example: Set(TONE_DETECT(2600,1000,g(got-2600,s,1))=). \
         The call-progress signals are North American tones."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let Some(d) = hooked_state::<Detect>(chan, DATASTORE) else {
            chan.pbx.warning(&format!(
                "res_tonedetect.c: TONE_DETECT not enabled on {}",
                chan.name()
            ));
            return Err(FuncError::Other("TONE_DETECT not enabled".into()));
        };
        let d = d.lock();
        match a.trim().to_ascii_lowercase().as_str() {
            "rx" => Ok(d.rxcount.to_string()),
            "tx" => Ok(d.txcount.to_string()),
            other => {
                chan.pbx
                    .warning(&format!("res_tonedetect.c: Invalid direction: {other}"));
                Err(FuncError::Usage(other.into()))
            }
        }
    }
    fn write(&self, chan: &mut Channel, a: &str, _value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        let opts = args::options(args::nth(&parts, 2));
        if opts.contains_key(&'x') {
            if !unhook::<Detect>(chan, DATASTORE) {
                chan.pbx.warning(&format!(
                    "res_tonedetect.c: Cannot remove TONE_DETECT from {}: TONE_DETECT not currently enabled",
                    chan.name()
                ));
            }
            return Ok(());
        }
        let bad = || FuncError::Usage(a.to_string());
        let freq = parse_freq(&chan.pbx, args::nth(&parts, 0)).ok_or_else(bad)?;
        let duration = match args::nth(&parts, 1).trim() {
            "" => 500,
            s => match s.parse::<i32>() {
                Ok(n) if n >= 1 => n as u32,
                _ => {
                    chan.pbx
                        .warning(&format!("res_tonedetect.c: Invalid duration: {s}"));
                    return Err(bad());
                }
            },
        };
        let hits = int_opt(chan, &opts, 'n', 1, "number of hits").map_err(|_| bad())?;
        let db = int_opt(chan, &opts, 'd', 16, "decibel threshold").map_err(|_| bad())?;
        let signals = Signals {
            sit: opts.contains_key(&'a'),
            busy: opts.contains_key(&'b'),
            dial: opts.contains_key(&'c'),
            ringing: opts.contains_key(&'p'),
        };
        let dest = |k: char| -> Option<(String, String, i32)> {
            match opts.get(&k) {
                Some(Some(loc)) => {
                    let t = goto_target(chan, loc);
                    if t.is_none() {
                        chan.pbx
                            .warning(&format!("res_tonedetect.c: Invalid destination: {loc}"));
                    }
                    t
                }
                _ => None,
            }
        };
        let (goto_rx, goto_tx) = (dest('g'), dest('h'));
        let (r, t) = (opts.contains_key(&'r'), opts.contains_key(&'t'));
        let ears = || Ears {
            tone: (freq > 0).then(|| ToneDetector::new(freq, duration, db)),
            progress: signals
                .any()
                .then(|| ProgressDetector::new(1, false, false)),
        };
        let shared = chan.shared.clone();
        let init = || Detect {
            shared,
            rx_ears: ears(),
            tx_ears: ears(),
            signals,
            rx: false,
            tx: false,
            squelch: false,
            autoend: false,
            matchmet: false,
            hits_required: 1,
            rxcount: 0,
            txcount: 0,
            goto_rx: None,
            goto_tx: None,
        };
        let Some(d) = hooked(chan, DATASTORE, init, detect_hook) else {
            return Ok(());
        };
        let mut d = d.lock();
        d.rx_ears = ears();
        d.tx_ears = ears();
        d.signals = signals;
        // Both directions unless r or t narrows it.
        d.rx = r || !t;
        d.tx = t || !r;
        d.squelch = opts.contains_key(&'s');
        d.autoend = opts.contains_key(&'e');
        d.matchmet = false;
        d.hits_required = hits as u32;
        d.goto_rx = goto_rx;
        d.goto_tx = goto_tx;
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

/// Seconds (a whole number) from an argument; `None` when empty or zero (forever).
fn timeout_secs(s: &str) -> Result<Option<Duration>, ()> {
    match s.trim() {
        "" => Ok(None),
        s => match s.parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(n) if n > 0 => Ok(Some(Duration::from_secs(n as u64))),
            _ => Err(()),
        },
    }
}

/// The next frame before `deadline`; `Ok(None)` at the deadline.
async fn next_frame(
    chan: &mut Channel,
    deadline: Option<Instant>,
) -> Result<Option<Frame>, Hangup> {
    loop {
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                left.min(Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        if let Some(f) = chan.read_frame(Some(wait)).await? {
            return Ok(Some(f));
        }
    }
}

struct WaitForTone;

#[async_trait]
impl App for WaitForTone {
    fn name(&self) -> &'static str {
        "WaitForTone"
    }
    fn synopsis(&self) -> &'static str {
        "Wait for tone"
    }
    fn syntax(&self) -> &'static str {
        "WaitForTone(freq[,duration_ms[,timeout[,times[,options]]]])"
    }
    fn description(&self) -> &'static str {
        "Waits for a single-frequency tone (freq Hz, held at least duration_ms, default 500) \
         to be detected before dialplan execution continues: times times (default 1) \
         within timeout seconds (default forever). Options: d(db) — custom decibel \
         threshold (default 16); s — squelch the tone. Sets WAITFORTONESTATUS: SUCCESS, \
         ERROR, TIMEOUT or HANGUP."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 4));
        let parsed = (|| {
            let freq = parse_freq(&chan.pbx, args::nth(&a, 0)).filter(|f| *f > 0)?;
            let duration = match args::nth(&a, 1).trim() {
                "" => 500,
                s => s.parse::<u32>().ok().filter(|d| *d > 0)?,
            };
            let timeout = timeout_secs(args::nth(&a, 2)).ok()?;
            let times = match args::nth(&a, 3).trim() {
                "" => 1,
                s => s.parse::<u32>().ok().filter(|t| *t > 0)?,
            };
            let db = int_opt(chan, &opts, 'd', 16, "decibel threshold").ok()?;
            Some((freq, duration, timeout, times, db))
        })();
        let Some((freq, duration, timeout, times, db)) = parsed else {
            chan.pbx.warning(&format!(
                "res_tonedetect.c: Invalid arguments to WaitForTone: {data}"
            ));
            chan.set_var("WAITFORTONESTATUS", "ERROR");
            return Ok(());
        };
        let mut det = ToneDetector::new(freq, duration, db);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut hits = 0;
        loop {
            match next_frame(chan, deadline).await {
                Err(Hangup) => {
                    chan.set_var("WAITFORTONESTATUS", "HANGUP");
                    return Err(Hangup);
                }
                Ok(None) => {
                    chan.set_var("WAITFORTONESTATUS", "TIMEOUT");
                    return Ok(());
                }
                Ok(Some(Frame::Voice(v))) => {
                    hits += det.feed(&v);
                    if hits >= times {
                        chan.set_var("WAITFORTONESTATUS", "SUCCESS");
                        return Ok(());
                    }
                }
                Ok(Some(Frame::Dtmf(..))) => {}
            }
        }
    }
}

struct ToneScan;

#[async_trait]
impl App for ToneScan {
    fn name(&self) -> &'static str {
        "ToneScan"
    }
    fn synopsis(&self) -> &'static str {
        "Wait for period of time while scanning for call progress tones"
    }
    fn syntax(&self) -> &'static str {
        "ToneScan([zone[,timeout[,threshold[,options]]]])"
    }
    fn description(&self) -> &'static str {
        "Waits for a distinguishable call progress tone and then exits: zone (the call \
         progress zone), timeout (seconds, default forever), threshold (a higher number \
         needs a longer match, default 1). Options: f — enable fax machine detection \
         (CED); v — enable voice detection. Sets TONESCANSTATUS: RINGING, BUSY, SIT, VOICE, \
         DTMF, FAX, MODEM, DIALTONE, NUT, TIMEOUT or HANGUP. ferrisk recognises the North \
         American tones whatever the zone, and never reports NUT."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 3));
        let Ok(timeout) = timeout_secs(args::nth(&a, 1)) else {
            chan.pbx.warning(&format!(
                "res_tonedetect.c: Invalid timeout: {}",
                args::nth(&a, 1).trim()
            ));
            return Ok(());
        };
        let threshold = match args::nth(&a, 2).trim() {
            "" => 1,
            s => match s.parse::<u32>() {
                Ok(t) if t > 0 => t,
                _ => {
                    chan.pbx
                        .warning(&format!("res_tonedetect.c: Invalid threshold: {s}"));
                    return Ok(());
                }
            },
        };
        let mut det =
            ProgressDetector::new(threshold, opts.contains_key(&'f'), opts.contains_key(&'v'));
        let deadline = timeout.map(|t| Instant::now() + t);
        let status = loop {
            match next_frame(chan, deadline).await {
                Err(Hangup) => {
                    chan.set_var("TONESCANSTATUS", "HANGUP");
                    return Err(Hangup);
                }
                Ok(None) => break "TIMEOUT",
                Ok(Some(Frame::Dtmf(..))) => break "DTMF",
                Ok(Some(Frame::Voice(v))) => {
                    if let Some(p) = det.feed(&v) {
                        break p.word();
                    }
                }
            }
        };
        chan.set_var("TONESCANSTATUS", status);
        Ok(())
    }
}
