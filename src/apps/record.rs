//! Record(): record the caller to a file (`app_record.c`).
//!
//! Audio is written as it arrives (8 kHz 16-bit mono WAV through [`WavWriter`], or raw
//! `.sln`/`.ulaw`/`.alaw`), except for a short tail held back so the end can be trimmed as
//! Asterisk does: ended by a key, the last 250 ms (the key's tone) are cut; ended by
//! silence, all but one second of the trailing silence is cut.
//!
//! The file is never touched from an async worker: each recording has a writer
//! ([`Writer`]) that has the blocking pool open and finish the file (header, fsync) and
//! the file-writing threads write what the task queues (a bounded queue, in 160 ms
//! batches).

use super::playback::{stream, Played};
use super::{args, App, AppResult};
use crate::media::g711;
use crate::media::wav::{Encoding, WavError, WavWriter};
use crate::pbx::media::{Frame, FRAME_SAMPLES};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{blocking, Channel, Hangup};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_record.so", "Trivial Record Application"),
    register: register_app_record,
}];

fn register_app_record(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Record));
    ctx.register_func(Arc::new(RecordingInfo));
}

/// What RECORDING_INFO() reads: the last Record()'s duration in milliseconds (a
/// datastore, present from the channel's first Record() on).
#[derive(Debug, Clone, Copy, Default)]
struct RecordingData {
    duration_ms: u64,
}

const RECORDING_STORE: &str = "RECORDING_INFO";

/// `RECORDING_INFO(duration)`: the last Record()'s length in milliseconds.
pub struct RecordingInfo;

impl crate::pbx::func::Func for RecordingInfo {
    fn name(&self) -> &'static str {
        "RECORDING_INFO"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve information about a recording previously created using the Record application"
    }
    fn syntax(&self) -> &'static str {
        "RECORDING_INFO(property)"
    }
    fn description(&self) -> &'static str {
        "property: duration, the length of the previous Record() in milliseconds. An error \
         when no Record() ran on the channel."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, crate::pbx::func::FuncError> {
        use crate::pbx::func::FuncError;
        if a.is_empty() {
            return Err(FuncError::Usage(
                "RECORDING_INFO() requires an argument".into(),
            ));
        }
        let Some(d) = chan
            .datastores
            .get::<RecordingData>(RECORDING_STORE)
            .copied()
        else {
            return Err(FuncError::Other(format!(
                "No recordings have completed on channel {}",
                chan.name()
            )));
        };
        if a.eq_ignore_ascii_case("duration") {
            Ok(d.duration_ms.to_string())
        } else {
            Err(FuncError::Other(format!("Invalid property type: {a}")))
        }
    }
}

pub use crate::media::silence::{is_silent, is_silent_below, SILENCE_THRESHOLD};
/// Samples cut when a key ends the recording (250 ms).
const KEY_TRIM: usize = 2000;

/// Where recorded samples go (used on the blocking pool only).
enum Sink {
    Wav(WavWriter),
    Raw(File, Encoding),
}

impl Sink {
    fn open(path: &Path, fmt: &str, append: bool) -> Result<Sink, WavError> {
        if fmt.eq_ignore_ascii_case("wav") {
            return Ok(Sink::Wav(if append {
                WavWriter::append(path)?
            } else {
                WavWriter::create(path)?
            }));
        }
        let enc = Encoding::from_extension(fmt)
            .ok_or_else(|| WavError::BadChunk(format!("unsupported format '{fmt}'")))?;
        let file = if append {
            OpenOptions::new().create(true).append(true).open(path)?
        } else {
            File::create(path)?
        };
        Ok(Sink::Raw(file, enc))
    }

    fn write(&mut self, s: &[i16]) -> Result<(), WavError> {
        match self {
            Sink::Wav(w) => w.write_samples(s),
            Sink::Raw(f, enc) => {
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
            Sink::Wav(w) => w.finalize(),
            Sink::Raw(f, _) => Ok(f.sync_all()?),
        }
    }
}

/// Blocks of samples waiting for a recording's writer: about five seconds of 20 ms
/// frames. A disk that falls that far behind makes the recording wait for it.
const WRITER_QUEUE: usize = 256;

/// Samples a writer gathers before it writes them (160 ms): one blocking-pool job per
/// eight frames instead of one per frame. A process killed mid-recording loses at most
/// this much of the end (Asterisk's stdio buffer holds about as much).
const WRITE_BATCH: usize = 1280;

/// A recording's file, written off the async workers: the recording's task queues
/// samples (bounded) and never waits on the disk; a small writer task gathers them and
/// has the blocking pool create the directory and open the file, write each batch, and
/// finish the file (header, fsync) when the queue closes, also when the recording's task
/// is dropped midway. The batches are written by the few file-writing threads
/// ([`blocking::write`]): no thread per recording, 2,000 recordings cost 2,000 small tasks.
pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Vec<i16>>>,
    done: oneshot::Receiver<Result<(), WavError>>,
    /// Samples queued so far.
    written: u64,
}

fn writer_gone() -> WavError {
    WavError::Io(io::Error::other("the recording's writer stopped"))
}

/// Run `f` with the sink on the file-writing threads and get it back.
async fn on_writer<T: Send + 'static>(
    sink: Sink,
    f: impl FnOnce(&mut Sink) -> T + Send + 'static,
) -> Option<(Sink, T)> {
    blocking::write(move || {
        let mut sink = sink;
        let r = f(&mut sink);
        (sink, r)
    })
    .await
}

impl Writer {
    /// Open `path` (`fmt`: see [`Sink::open`]) on the blocking pool and start the writer.
    pub(crate) async fn open(path: &Path, fmt: &str, append: bool) -> Result<Writer, WavError> {
        let (tx, mut rx) = mpsc::channel::<Vec<i16>>(WRITER_QUEUE);
        let (done_tx, done) = oneshot::channel();
        let (path, fmt) = (path.to_path_buf(), fmt.to_string());
        let sink = blocking::run(move || {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            Sink::open(&path, &fmt, append)
        })
        .await
        .unwrap_or_else(|| Err(writer_gone()))?;
        tokio::spawn(async move {
            let mut sink = sink;
            let mut res = Ok(());
            let mut batch: Vec<i16> = Vec::with_capacity(WRITE_BATCH + FRAME_SAMPLES);
            let mut open = true;
            while open {
                match rx.recv().await {
                    Some(block) => batch.extend_from_slice(&block),
                    None => open = false,
                }
                if batch.len() < WRITE_BATCH && open {
                    continue;
                }
                if batch.is_empty() {
                    continue;
                }
                let b =
                    std::mem::replace(&mut batch, Vec::with_capacity(WRITE_BATCH + FRAME_SAMPLES));
                let Some((s, r)) = on_writer(sink, move |k| k.write(&b)).await else {
                    let _ = done_tx.send(Err(writer_gone()));
                    return;
                };
                sink = s;
                if let Err(e) = r {
                    res = Err(e);
                    break;
                }
            }
            // A write error closes the queue: the task's next block fails.
            drop(rx);
            let fin = blocking::run(move || sink.finish())
                .await
                .unwrap_or_else(|| Err(writer_gone()));
            let _ = done_tx.send(res.and(fin));
        });
        Ok(Writer {
            tx: Some(tx),
            done,
            written: 0,
        })
    }

    /// Queue `block` for the file (waits while the queue is full). An error means the
    /// writer stopped on a write error, which [`Writer::finish`] returns.
    pub(crate) async fn write(&mut self, block: Vec<i16>) -> Result<(), WavError> {
        if block.is_empty() {
            return Ok(());
        }
        self.written += block.len() as u64;
        match &self.tx {
            Some(tx) => tx.send(block).await.map_err(|_| writer_gone()),
            None => Err(writer_gone()),
        }
    }

    /// Close the queue and wait until the writer has written everything and finished the
    /// file; its first error, if any.
    pub(crate) async fn finish(mut self) -> Result<(), WavError> {
        self.tx = None;
        (&mut self.done)
            .await
            .unwrap_or_else(|_| Err(writer_gone()))
    }
}

/// The outcome of a recording loop and of finishing its file: the writer's own error
/// explains a loop that stopped because the writer had.
fn settle(res: Result<Ended, WavError>, fin: Result<(), WavError>) -> Result<Ended, WavError> {
    match (res, fin) {
        (_, Err(e)) | (Err(e), Ok(())) => Err(e),
        (Ok(ended), Ok(())) => Ok(ended),
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

/// Where a recording named `name` goes: absolute, or under `sounds` (`<astdatadir>/sounds`).
fn resolve(sounds: &Path, name: &str) -> PathBuf {
    if Path::new(name).is_absolute() {
        PathBuf::from(name)
    } else {
        sounds.join(name)
    }
}

/// Replace the first `%d` with the lowest number giving a file that does not exist yet
/// (up to 100,000 file look-ups: run it on the blocking pool).
fn numbered(sounds: &Path, name: &str, fmt: &str) -> String {
    if !name.contains("%d") {
        return name.to_string();
    }
    for n in 0..100_000u32 {
        let cand = name.replacen("%d", &n.to_string(), 1);
        let p = resolve(sounds, &cand);
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
    /// Further keys that end the recording (AGI's RECORD FILE escape digits).
    pub stop_digits: String,
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
    /// The key that ended it ([`Ended::Dtmf`], [`Ended::Operator`]).
    pub digit: Option<char>,
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
    let mut writer = Writer::open(path, fmt, o.append).await?;
    let mut digit = None;
    let res = record_loop(chan, &mut writer, o, &mut digit).await;
    let samples = writer.written;
    let ended = settle(res, writer.finish().await)?;
    Ok(Recorded {
        ended,
        samples,
        digit,
    })
}

/// Record from `chan` into `writer` until a key, silence, the maximum duration or a hangup.
async fn record_loop(
    chan: &mut Channel,
    writer: &mut Writer,
    o: &RecordOpts,
    digit: &mut Option<char>,
) -> Result<Ended, WavError> {
    let silence_ms = o.silence.map(|d| d.as_millis() as usize).unwrap_or(0);
    // Held-back tail: enough for the key trim and the trailing-silence trim.
    let hold = KEY_TRIM.max(silence_ms.saturating_sub(1000) * 8);
    let max_samples = o.max.map(|d| (d.as_secs_f64() * 8000.0) as u64);
    let deadline = o.max.map(|d| tokio::time::Instant::now() + d);
    let mut tail: VecDeque<i16> = VecDeque::with_capacity(hold + FRAME_SAMPLES);
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
                    *digit = Some(d);
                    break Ended::Operator;
                }
                if o.any_key || o.terminator == Some(d) || o.stop_digits.contains(d) {
                    *digit = Some(d);
                    break Ended::Dtmf;
                }
            }
            Frame::Voice(s) => {
                total += s.len() as u64;
                tail.extend(s.iter().copied());
                if tail.len() > hold {
                    let n = tail.len() - hold;
                    writer.write(tail.drain(..n).collect()).await?;
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
    writer.write(tail.drain(..keep).collect()).await?;
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
        // As app_record: the datastore exists (duration 0) from the start of every Record().
        chan.datastores
            .insert(RECORDING_STORE, RecordingData::default());
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
            stop_digits: String::new(),
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
        let sounds = chan.pbx.settings.astdatadir.join("sounds");
        let name = {
            let (s, n, f) = (sounds.clone(), name.to_string(), fmt.to_string());
            blocking::run(move || numbered(&s, &n, &f))
                .await
                .unwrap_or_else(|| name.replacen("%d", "0", 1))
        };
        let base = resolve(&sounds, &name);
        chan.set_var("RECORDED_FILE", &name);
        if !flags.contains('q') && stream(chan, "beep", "").await? == Played::Missing {
            chan.pbx.warning(&format!(
                "app_record.c: ast_streamfile failed on {}",
                chan.name()
            ));
        }
        let path = PathBuf::from(format!("{}.{fmt}", base.display()));
        let mut writer = match Writer::open(&path, fmt, o.append).await {
            Ok(w) => w,
            Err(e) => {
                chan.pbx.warning(&format!(
                    "app_record.c: Could not create file {}: {e}",
                    path.display()
                ));
                chan.set_var("RECORD_STATUS", "ERROR");
                return Err(Hangup);
            }
        };
        let started = std::time::Instant::now();
        let res = record_loop(chan, &mut writer, &o, &mut None).await;
        chan.datastores.insert(
            RECORDING_STORE,
            RecordingData {
                duration_ms: started.elapsed().as_millis() as u64,
            },
        );
        let ended = match settle(res, writer.finish().await) {
            Ok(e) => e,
            Err(e) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_info_reads_the_last_duration() {
        use crate::pbx::func::Func;
        let mut c = crate::testutil::test_channel();
        assert!(RecordingInfo.read(&mut c, "duration").is_err());
        c.datastores
            .insert(RECORDING_STORE, RecordingData { duration_ms: 1520 });
        assert_eq!(RecordingInfo.read(&mut c, "DURATION").unwrap(), "1520");
        assert!(RecordingInfo.read(&mut c, "size").is_err());
        assert!(RecordingInfo.read(&mut c, "").is_err());
    }

    #[tokio::test]
    async fn the_writer_writes_every_block_in_order_and_finishes_the_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/dir/take.wav");
        let mut w = Writer::open(&path, "wav", false).await.unwrap();
        let mut want = Vec::new();
        for i in 0..600i16 {
            let block = vec![i; 160];
            want.extend_from_slice(&block);
            w.write(block).await.unwrap();
        }
        w.write(Vec::new()).await.unwrap();
        assert_eq!(w.written, want.len() as u64);
        w.finish().await.unwrap();
        assert_eq!(crate::media::wav::read_wav(&path).unwrap(), want);
    }

    #[tokio::test]
    async fn raw_formats_append_through_the_writer() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("take.sln");
        for (append, v) in [(false, 7i16), (true, 8)] {
            let mut w = Writer::open(&path, "sln", append).await.unwrap();
            w.write(vec![v; 160]).await.unwrap();
            w.finish().await.unwrap();
        }
        let got = crate::media::wav::read_raw(&path, Encoding::Slin).unwrap();
        assert_eq!(got, [vec![7i16; 160], vec![8; 160]].concat());
    }

    #[tokio::test]
    async fn open_errors_come_back_from_the_pool() {
        let d = tempfile::tempdir().unwrap();
        let err = Writer::open(&d.path().join("x.mp3"), "mp3", false).await;
        assert!(matches!(err, Err(WavError::BadChunk(_))));
        // A directory where the file should be.
        let err = Writer::open(d.path(), "wav", false).await;
        assert!(matches!(err, Err(WavError::Io(_))));
    }

    #[tokio::test]
    async fn a_write_error_stops_the_writer_and_finish_reports_it() {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let mut w = Writer::open(Path::new("/dev/full"), "sln", true)
            .await
            .unwrap();
        let mut failed = false;
        for _ in 0..2 * WRITER_QUEUE {
            if w.write(vec![1; 160]).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "the queue closes once the writer has stopped");
        let e = w.finish().await.unwrap_err();
        assert!(
            e.to_string().contains("No space left"),
            "the disk's error, not the queue's: {e}"
        );
    }

    #[tokio::test]
    async fn a_dropped_writer_still_finishes_the_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("dropped.wav");
        let mut w = Writer::open(&path, "wav", false).await.unwrap();
        w.write(vec![3; 320]).await.unwrap();
        drop(w);
        for _ in 0..200 {
            if crate::media::wav::read_wav(&path).is_ok_and(|s| s.len() == 320) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the header was not finished after the writer was dropped");
    }

    #[test]
    fn settle_prefers_the_writers_error() {
        let gone = || Err(writer_gone());
        let disk = || Err(WavError::Io(io::Error::other("disk")));
        assert!(matches!(settle(Ok(Ended::Dtmf), Ok(())), Ok(Ended::Dtmf)));
        let e = settle(gone(), disk()).unwrap_err();
        assert_eq!(e.to_string(), "I/O error: disk");
        let e = settle(Ok(Ended::Hangup), disk()).unwrap_err();
        assert_eq!(e.to_string(), "I/O error: disk");
        assert!(settle(gone(), Ok(())).is_err());
    }

    #[test]
    fn numbered_skips_taken_names() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(numbered(d.path(), "plain", "wav"), "plain");
        std::fs::write(d.path().join("rec0.wav"), b"x").unwrap();
        std::fs::write(d.path().join("rec1.wav"), b"x").unwrap();
        std::fs::write(d.path().join("rec2.gsm"), b"x").unwrap();
        assert_eq!(numbered(d.path(), "rec%d", "wav"), "rec2");
        assert_eq!(numbered(d.path(), "rec%d", "gsm"), "rec0");
    }
}
