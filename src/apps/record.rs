//! Record(): record the caller to a file (`app_record.c`).
//!
//! Audio is written as it arrives (8 kHz 16-bit mono WAV through [`WavWriter`], or raw
//! `.sln`/`.ulaw`/`.alaw`), except for a short tail held back so the end can be trimmed as
//! Asterisk does: ended by a key, the last 250 ms (the key's tone) are cut; ended by
//! silence, all but one second of the trailing silence is cut.

use super::playback::{stream, Played};
use super::{args, App, AppResult};
use crate::media::g711;
use crate::media::wav::{Encoding, WavError, WavWriter};
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_record.so", "Trivial Record Application"),
    register: register_app_record,
}];

fn register_app_record(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Record));
}

/// Asterisk's default `silencethreshold` (dsp.conf): average absolute amplitude below
/// which a frame counts as silence.
pub const SILENCE_THRESHOLD: u32 = 256;
/// Samples cut when a key ends the recording (250 ms).
const KEY_TRIM: usize = 2000;

/// Is this frame silence (`ast_dsp_silence`)?
pub fn is_silent(samples: &[i16]) -> bool {
    is_silent_below(samples, SILENCE_THRESHOLD)
}

/// [`is_silent`] with another threshold (voicemail.conf `silencethreshold`).
pub fn is_silent_below(samples: &[i16], threshold: u32) -> bool {
    if samples.is_empty() {
        return true;
    }
    let sum: u64 = samples.iter().map(|s| s.unsigned_abs() as u64).sum();
    sum / (samples.len() as u64) < threshold as u64
}

/// Where recorded samples go.
enum Sink {
    Wav(WavWriter, u64),
    Raw(File, Encoding, u64),
}

impl Sink {
    fn open(path: &Path, fmt: &str, append: bool) -> Result<Sink, WavError> {
        if fmt.eq_ignore_ascii_case("wav") {
            return Ok(Sink::Wav(
                if append {
                    WavWriter::append(path)?
                } else {
                    WavWriter::create(path)?
                },
                0,
            ));
        }
        let enc = Encoding::from_extension(fmt)
            .ok_or_else(|| WavError::BadChunk(format!("unsupported format '{fmt}'")))?;
        let file = if append {
            OpenOptions::new().create(true).append(true).open(path)?
        } else {
            File::create(path)?
        };
        Ok(Sink::Raw(file, enc, 0))
    }

    /// Samples written so far by this recording.
    fn written(&self) -> u64 {
        match self {
            Sink::Wav(_, n) | Sink::Raw(_, _, n) => *n,
        }
    }

    fn write(&mut self, s: &[i16]) -> Result<(), WavError> {
        match self {
            Sink::Wav(w, n) => {
                *n += s.len() as u64;
                w.write_samples(s)
            }
            Sink::Raw(f, enc, n) => {
                *n += s.len() as u64;
                let bytes = match enc {
                    Encoding::Slin => s.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    Encoding::Ulaw => g711::ulaw_encode(s),
                    Encoding::Alaw => g711::alaw_encode(s),
                };
                f.write_all(&bytes)?;
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), WavError> {
        match self {
            Sink::Wav(w, _) => w.finalize(),
            Sink::Raw(f, _, _) => Ok(f.sync_all()?),
        }
    }

    /// [`Sink::finish`] (the header and the fsync) on the blocking pool.
    async fn finish_off_worker(self) -> Result<(), WavError> {
        tokio::task::spawn_blocking(move || self.finish())
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e).into()))
    }
}

/// Why the recording stopped (RECORD_STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Dtmf,
    Operator,
    Silence,
    Timeout,
    Hangup,
}

impl Ended {
    pub fn status(self) -> &'static str {
        match self {
            Ended::Dtmf => "DTMF",
            Ended::Operator => "OPERATOR",
            Ended::Silence => "SILENCE",
            Ended::Timeout => "TIMEOUT",
            Ended::Hangup => "HANGUP",
        }
    }
}

/// Where a recording named `name` goes: absolute, or under `<astdatadir>/sounds`.
fn resolve(chan: &Channel, name: &str) -> PathBuf {
    if Path::new(name).is_absolute() {
        PathBuf::from(name)
    } else {
        chan.pbx.settings.astdatadir.join("sounds").join(name)
    }
}

/// Replace the first `%d` with the lowest number giving a file that does not exist yet.
fn numbered(chan: &Channel, name: &str, fmt: &str) -> String {
    if !name.contains("%d") {
        return name.to_string();
    }
    for n in 0..100_000u32 {
        let cand = name.replacen("%d", &n.to_string(), 1);
        let p = resolve(chan, &cand);
        if !PathBuf::from(format!("{}.{fmt}", p.display())).exists() {
            return cand;
        }
    }
    name.replacen("%d", "0", 1)
}

/// Recording options.
#[derive(Debug, Clone, Default)]
pub struct RecordOpts {
    pub append: bool,
    pub keep_on_hangup: bool,
    /// `#` (or `*` with `t`) ends; `None`: no key ends (`x`).
    pub terminator: Option<char>,
    pub any_key: bool,
    pub operator: bool,
    pub trim_silence: bool,
    /// Trailing silence that ends the recording.
    pub silence: Option<Duration>,
    pub max: Option<Duration>,
    /// Average amplitude below which a frame is silence (default [`SILENCE_THRESHOLD`]).
    pub silence_threshold: Option<u32>,
}

/// How a [`record_file`] recording went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub ended: Ended,
    /// Samples in the file from this recording (8 kHz), after trimming.
    pub samples: u64,
}

impl Recorded {
    /// Length in whole seconds, rounded as app_voicemail reports durations.
    pub fn secs(&self) -> u32 {
        ((self.samples + 4000) / 8000) as u32
    }
}

/// Record from `chan` into `path` (`wav`: 8 kHz 16-bit WAV; `sln`/`ulaw`/`alaw`: raw) until
/// a key, silence, the maximum or a hangup; the file is finished (and synced) in every case,
/// a hangup included. No beep is played. Shared by Record(), VoiceMail() and VoiceMailMain().
pub async fn record_file(
    chan: &mut Channel,
    path: &Path,
    fmt: &str,
    o: &RecordOpts,
) -> Result<Recorded, WavError> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut sink = Sink::open(path, fmt, o.append)?;
    let res = record_loop(chan, &mut sink, o).await;
    let samples = sink.written();
    let fin = sink.finish_off_worker().await;
    let ended = res?;
    fin?;
    Ok(Recorded { ended, samples })
}

/// Record from `chan` into `sink` until a key, silence, the maximum duration or a hangup.
async fn record_loop(
    chan: &mut Channel,
    sink: &mut Sink,
    o: &RecordOpts,
) -> Result<Ended, WavError> {
    let silence_ms = o.silence.map(|d| d.as_millis() as usize).unwrap_or(0);
    // Held-back tail: enough for the key trim and the trailing-silence trim.
    let hold = KEY_TRIM.max(silence_ms.saturating_sub(1000) * 8);
    let max_samples = o.max.map(|d| (d.as_secs_f64() * 8000.0) as u64);
    let deadline = o.max.map(|d| tokio::time::Instant::now() + d);
    let mut tail: VecDeque<i16> = VecDeque::new();
    let mut total: u64 = 0;
    let mut silent_ms = 0usize;
    let ended = loop {
        let wait = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        if wait.is_some_and(|w| w.is_zero()) {
            break Ended::Timeout;
        }
        let f = match chan.read_frame(wait).await {
            Ok(Some(f)) => f,
            Ok(None) => break Ended::Timeout,
            Err(Hangup) => break Ended::Hangup,
        };
        match f {
            Frame::Dtmf(d, _) => {
                if o.operator && d == '0' {
                    break Ended::Operator;
                }
                if o.any_key || o.terminator == Some(d) {
                    break Ended::Dtmf;
                }
            }
            Frame::Voice(s) => {
                total += s.len() as u64;
                tail.extend(s.iter().copied());
                if tail.len() > hold {
                    let n = tail.len() - hold;
                    let out: Vec<i16> = tail.drain(..n).collect();
                    sink.write(&out)?;
                }
                if silence_ms > 0 {
                    if is_silent_below(&s, o.silence_threshold.unwrap_or(SILENCE_THRESHOLD)) {
                        silent_ms += s.len() / 8;
                    } else {
                        silent_ms = 0;
                    }
                    if silent_ms > silence_ms {
                        break Ended::Silence;
                    }
                }
                if max_samples.is_some_and(|m| total >= m) {
                    break Ended::Timeout;
                }
            }
        }
    };
    let cut = match ended {
        Ended::Dtmf | Ended::Operator => KEY_TRIM,
        Ended::Silence if o.trim_silence => silence_ms.saturating_sub(1000) * 8,
        _ => 0,
    };
    let keep = tail.len().saturating_sub(cut);
    let rest: Vec<i16> = tail.drain(..keep).collect();
    sink.write(&rest)?;
    Ok(ended)
}

struct Record;

#[async_trait]
impl App for Record {
    fn name(&self) -> &'static str {
        "Record"
    }
    fn synopsis(&self) -> &'static str {
        "Record to a file."
    }
    fn syntax(&self) -> &'static str {
        "Record(filename.format[,silence[,maxduration[,options]]])"
    }
    fn description(&self) -> &'static str {
        "Records from the channel into a given filename (wav: 8 kHz 16-bit mono; sln, ulaw, alaw: raw). %d in the filename is replaced by a number so no existing file is overwritten; relative names go under the sounds directory. silence: seconds of silence that end the recording (0: off). maxduration: maximum seconds (0: no limit). Options: a — append; k — keep the file if the caller hangs up (ferrisk always keeps it; Asterisk deletes it without k); n — do not answer; o — 0 ends with RECORD_STATUS=OPERATOR; q — no beep; s — skip if not answered; t — * ends instead of #; u — do not trim silence; x — ignore all keys; y — any key ends. Sets RECORDED_FILE and RECORD_STATUS (DTMF, SILENCE, SKIP, TIMEOUT, HANGUP, ERROR, OPERATOR)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let spec = args::nth(&a, 0).trim().to_string();
        let Some((name, fmt)) = spec
            .rsplit_once('.')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty() && !f.contains('/'))
        else {
            chan.pbx
                .warning("app_record.c: No extension specified to filename!");
            chan.set_var("RECORD_STATUS", "ERROR");
            return Err(Hangup);
        };
        let secs = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .map(|v| Duration::from_secs_f64(v.min(1e7)))
        };
        let flags = args::nth(&a, 3);
        let mut o = RecordOpts {
            append: flags.contains('a'),
            keep_on_hangup: flags.contains('k'),
            terminator: if flags.contains('x') {
                None
            } else if flags.contains('t') {
                Some('*')
            } else {
                Some('#')
            },
            any_key: flags.contains('y'),
            operator: flags.contains('o'),
            trim_silence: !flags.contains('u'),
            silence: secs(args::nth(&a, 1)),
            max: secs(args::nth(&a, 2)),
            silence_threshold: None,
        };
        if flags.contains('x') {
            o.any_key = false;
            o.operator = false;
        }
        if !chan.is_up() {
            if flags.contains('s') {
                chan.set_var("RECORD_STATUS", "SKIP");
                return Ok(());
            }
            if !flags.contains('n') {
                chan.answer();
            }
        }
        let name = numbered(chan, name, fmt);
        let base = resolve(chan, &name);
        chan.set_var("RECORDED_FILE", &name);
        if !flags.contains('q') && stream(chan, "beep", "").await? == Played::Missing {
            chan.pbx.warning(&format!(
                "app_record.c: ast_streamfile failed on {}",
                chan.name()
            ));
        }
        let path = PathBuf::from(format!("{}.{fmt}", base.display()));
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut sink = match Sink::open(&path, fmt, o.append) {
            Ok(s) => s,
            Err(e) => {
                chan.pbx.warning(&format!(
                    "app_record.c: Could not create file {}: {e}",
                    path.display()
                ));
                chan.set_var("RECORD_STATUS", "ERROR");
                return Err(Hangup);
            }
        };
        let res = record_loop(chan, &mut sink, &o).await;
        let fin = sink.finish_off_worker().await;
        let ended = match (res, fin) {
            (Ok(e), Ok(())) => e,
            (Err(e), _) | (_, Err(e)) => {
                chan.pbx.warning(&format!(
                    "app_record.c: Problem writing frame to {}: {e}",
                    path.display()
                ));
                chan.set_var("RECORD_STATUS", "ERROR");
                return Err(Hangup);
            }
        };
        chan.set_var("RECORD_STATUS", ended.status());
        if ended == Ended::Hangup {
            // Asterisk deletes the file unless `k`; ferrisk never throws away what a caller
            // recorded (docs/compatibility.md), so the file is always kept.
            let _ = o.keep_on_hangup;
            return Err(Hangup);
        }
        Ok(())
    }
}
