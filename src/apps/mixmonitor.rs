//! MixMonitor(), StopMixMonitor() and `MIXMONITOR()` (`app_mixmonitor.so`): record what a
//! channel hears and says, mixed into one file, while the dialplan goes on (also through a
//! Dial() bridge). Frames are seen through taps on the channel's two frame queues
//! ([`crate::media::frame::FrameQueue::add_tap`]): the tap only queues a copy (never waits;
//! a full queue drops audio), a task mixes the two directions ([`Mixer`]) and hands blocks to
//! the recording writer of `apps/record.rs`, whose writes run on the file-writing threads.

use super::record::Writer;
use super::{args, App, AppResult};
use crate::media::frame::FRAME_SAMPLES;
use crate::pbx::func::{Func, FuncError};
use crate::pbx::media::{Frame, FrameQueue};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_mixmonitor.so", "Mixed Audio Monitoring Application"),
    register: register_app_mixmonitor,
}];

fn register_app_mixmonitor(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(MixMonitor));
    ctx.register_app(Arc::new(StopMixMonitor));
    ctx.register_func(Arc::new(MixMonitorFunc));
}

/// Frames a monitor's queue holds before the taps drop audio (2 s of both directions).
const TAP_QUEUE: usize = 200;
/// How far one direction may run ahead (in samples) before it is written mixed with
/// silence: the other direction carries nothing (nobody writes to the channel).
const MAX_LAG: usize = 10 * FRAME_SAMPLES;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the far end (what the channel says).
    Read,
    /// To the far end (what the channel hears).
    Write,
}

/// Mixes the two directions of a channel into one stream, frame by frame. Pure.
#[derive(Debug, Default)]
pub struct Mixer {
    read: VecDeque<i16>,
    write: VecDeque<i16>,
}

impl Mixer {
    /// Add samples of one direction; returns the mixed samples now complete.
    pub fn feed(&mut self, dir: Dir, samples: &[i16]) -> Vec<i16> {
        match dir {
            Dir::Read => self.read.extend(samples),
            Dir::Write => self.write.extend(samples),
        }
        let mut out = Vec::new();
        loop {
            let both = self.read.len().min(self.write.len());
            let lag = self.read.len().max(self.write.len());
            if both < FRAME_SAMPLES && lag <= MAX_LAG {
                break;
            }
            self.mix_out(FRAME_SAMPLES, &mut out);
        }
        out
    }

    /// Everything left, mixed (the recording ends).
    pub fn flush(&mut self) -> Vec<i16> {
        let mut out = Vec::new();
        let n = self.read.len().max(self.write.len());
        self.mix_out(n, &mut out);
        out
    }

    fn mix_out(&mut self, n: usize, out: &mut Vec<i16>) {
        for _ in 0..n {
            let a = self.read.pop_front().unwrap_or(0);
            let b = self.write.pop_front().unwrap_or(0);
            out.push(a.saturating_add(b));
        }
    }
}

/// One running MixMonitor on a channel.
struct Monitor {
    id: String,
    filename: String,
    /// Removes the taps when dropped (which ends the recording).
    taps: Taps,
    /// Fires when the file is finished.
    done: oneshot::Receiver<()>,
}

/// The taps a monitor installed; dropping it removes them.
struct Taps {
    id: u64,
    queues: Vec<Arc<FrameQueue>>,
}

impl Drop for Taps {
    fn drop(&mut self) {
        for q in &self.queues {
            q.remove_tap(self.id);
        }
    }
}

/// The channel's monitors (a datastore: they stop when the channel goes away).
#[derive(Default)]
struct Monitors(Mutex<Vec<Monitor>>);

const DATASTORE: &str = "mixmonitor";

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The recording's path: absolute as given, else under `<astspooldir>/monitor`.
fn monitor_path(chan: &Channel, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        chan.pbx.settings.astspooldir.join("monitor").join(p)
    }
}

/// The file format from the extension (`wav`, `sln`, `raw`, `ulaw`, `alaw`…).
fn format_of(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("wav")
        .to_ascii_lowercase()
}

/// Open a writer for `path`, warning as Asterisk when it cannot.
async fn open_writer(chan: &Channel, path: &Path, append: bool) -> Option<Writer> {
    match Writer::open(path, &format_of(path), append).await {
        Ok(w) => Some(w),
        Err(e) => {
            chan.pbx.error(&format!(
                "app_mixmonitor.c: Cannot open {}: {e}",
                path.display()
            ));
            None
        }
    }
}

/// Whether a MixMonitor records `chan` (Dial's automixmon toggles on this).
pub fn is_running(chan: &Channel) -> bool {
    chan.datastores
        .get::<Monitors>(DATASTORE)
        .is_some_and(|m| !m.0.lock().is_empty())
}

fn count(chan: &Channel) -> usize {
    chan.datastores
        .get::<Monitors>(DATASTORE)
        .map_or(0, |m| m.0.lock().len())
}

/// Start `MixMonitor(data)` on `chan` (Dial's automixmon); whether it started.
pub async fn start(chan: &mut Channel, data: &str) -> bool {
    let before = count(chan);
    let _ = MixMonitor.exec(chan, data).await;
    count(chan) > before
}

/// Stop every MixMonitor of `chan` and wait for their files (`StopMixMonitor()`).
pub async fn stop(chan: &mut Channel) {
    let _ = StopMixMonitor.exec(chan, "").await;
}

struct MixMonitor;

#[async_trait]
impl App for MixMonitor {
    fn name(&self) -> &'static str {
        "MixMonitor"
    }
    fn synopsis(&self) -> &'static str {
        "Record a call and mix the audio during the recording."
    }
    fn syntax(&self) -> &'static str {
        "MixMonitor(filename.extension[,options[,command]])"
    }
    fn description(&self) -> &'static str {
        "Records the audio on the current channel to the specified file: what it hears and what it says, mixed, while the dialplan goes on (also through Dial's bridge). If filename is an absolute path, uses that path, otherwise creates the file in the monitoring directory (<astspooldir>/monitor). The extension picks the format: wav, sln/raw, ulaw, alaw. Options: a — append to the file instead of overwriting it; r(file) — also record the receive audio feed to file; t(file) — also record the transmit audio feed to file; i(chanvar) — store the MixMonitor's ID on this channel variable. command will be executed (by /bin/sh) when the recording is over. Sets MIXMONITOR_FILENAME. This application does not automatically answer. Use of StopMixMonitor is required to guarantee the audio file is available for processing during dialplan execution."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let file = args::nth(&a, 0).trim().to_string();
        if file.is_empty() {
            chan.pbx
                .warning("app_mixmonitor.c: MixMonitor requires an argument (filename or ,t(filename) and/or r(filename)");
            return Ok(());
        }
        let opts = args::options(args::nth(&a, 1));
        let command = args::nth(&a, 2).trim().to_string();
        let Some(media) = chan.media.clone() else {
            chan.pbx.warning(&format!(
                "app_mixmonitor.c: MixMonitor: {} has no audio to record",
                chan.name()
            ));
            return Ok(());
        };
        let path = monitor_path(chan, &file);
        let append = opts.contains_key(&'a');
        let Some(mut mixed) = open_writer(chan, &path, append).await else {
            return Ok(());
        };
        let mut legs = Vec::new();
        for (key, dir) in [('r', Dir::Read), ('t', Dir::Write)] {
            if let Some(Some(f)) = opts.get(&key) {
                if !f.trim().is_empty() {
                    let p = monitor_path(chan, f.trim());
                    if let Some(w) = open_writer(chan, &p, append).await {
                        legs.push((dir, w));
                    }
                }
            }
        }
        let num = next_id();
        let id = format!("0x{num:x}");
        let (tx, mut rx) = mpsc::channel::<(Dir, Vec<i16>)>(TAP_QUEUE);
        let tap = |dir: Dir| {
            let tx = tx.clone();
            Arc::new(move |f: &Frame| {
                if let Frame::Voice(v) = f {
                    let _ = tx.try_send((dir, v.to_vec()));
                }
            }) as crate::media::frame::FrameTap
        };
        media.from_far.add_tap(num, tap(Dir::Read));
        media.to_far.add_tap(num, tap(Dir::Write));
        drop(tx);
        let (done_tx, done) = oneshot::channel();
        let pbx = chan.pbx.clone();
        let shown = path.display().to_string();
        tokio::spawn(async move {
            let mut mixer = Mixer::default();
            while let Some((dir, s)) = rx.recv().await {
                for (d, w) in legs.iter_mut() {
                    if *d == dir {
                        let _ = w.write(s.clone()).await;
                    }
                }
                let _ = mixed.write(mixer.feed(dir, &s)).await;
            }
            let _ = mixed.write(mixer.flush()).await;
            if let Err(e) = mixed.finish().await {
                pbx.error(&format!("app_mixmonitor.c: {shown}: {e}"));
            }
            for (_, w) in legs {
                let _ = w.finish().await;
            }
            pbx.verbose_line(2, &format!("End MixMonitor Recording {shown}"));
            if !command.is_empty() {
                pbx.verbose_line(2, &format!("Executing [{command}]"));
                let _ = tokio::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&command)
                    .status()
                    .await;
            }
            let _ = done_tx.send(());
        });
        if chan.datastores.get::<Monitors>(DATASTORE).is_none() {
            chan.datastores.insert(DATASTORE, Monitors::default());
        }
        if let Some(m) = chan.datastores.get::<Monitors>(DATASTORE) {
            m.0.lock().push(Monitor {
                id: id.clone(),
                filename: path.display().to_string(),
                taps: Taps {
                    id: num,
                    queues: vec![media.from_far.clone(), media.to_far.clone()],
                },
                done,
            });
        }
        if let Some(Some(var)) = opts.get(&'i') {
            if !var.trim().is_empty() {
                chan.set_var(var.trim(), &id);
            }
        }
        chan.set_var("MIXMONITOR_FILENAME", &path.display().to_string());
        Ok(())
    }
}

struct StopMixMonitor;

#[async_trait]
impl App for StopMixMonitor {
    fn name(&self) -> &'static str {
        "StopMixMonitor"
    }
    fn synopsis(&self) -> &'static str {
        "Stop recording a call through MixMonitor, and free the recording's file handle."
    }
    fn syntax(&self) -> &'static str {
        "StopMixMonitor([MixMonitorID])"
    }
    fn description(&self) -> &'static str {
        "Stops the audio recording that was started with a call to MixMonitor() on the current channel (the one with MixMonitorID, else all of them), and waits until its file is complete."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let id = args::nth(&args::split(data, ','), 0).trim().to_string();
        let stopped: Vec<Monitor> = match chan.datastores.get::<Monitors>(DATASTORE) {
            Some(m) => {
                let mut v = m.0.lock();
                let (stop, keep): (Vec<Monitor>, Vec<Monitor>) = std::mem::take(&mut *v)
                    .into_iter()
                    .partition(|m| id.is_empty() || m.id == id);
                *v = keep;
                stop
            }
            None => Vec::new(),
        };
        if stopped.is_empty() && !id.is_empty() {
            chan.pbx.warning(&format!(
                "app_mixmonitor.c: Could not find MixMonitor with ID '{id}' on {}",
                chan.name()
            ));
        }
        for m in stopped {
            drop(m.taps);
            let _ = m.done.await;
        }
        Ok(())
    }
}

/// `MIXMONITOR(id,key)`: `filename` of the MixMonitor with that ID.
struct MixMonitorFunc;

impl Func for MixMonitorFunc {
    fn name(&self) -> &'static str {
        "MIXMONITOR"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve data pertaining to specific instances of MixMonitor on a channel."
    }
    fn syntax(&self) -> &'static str {
        "MIXMONITOR(id,key)"
    }
    fn description(&self) -> &'static str {
        "id: the unique ID of the MixMonitor instance (MixMonitor's i option). key: filename — the name of the file being recorded."
    }
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let a = args::split(data, ',');
        let (id, key) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        if id.is_empty() || key.is_empty() {
            return Err(FuncError::Usage(
                "An ID and key must be provided".to_string(),
            ));
        }
        let found = chan
            .datastores
            .get::<Monitors>(DATASTORE)
            .and_then(|m| {
                m.0.lock()
                    .iter()
                    .find(|m| m.id == id)
                    .map(|m| m.filename.clone())
            })
            .ok_or_else(|| FuncError::Other(format!("Could not find MixMonitor with ID {id}")))?;
        if key.eq_ignore_ascii_case("filename") {
            Ok(found)
        } else {
            Err(FuncError::Other(format!(
                "Unrecognized MIXMONITOR key {key}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_both_directions_frame_by_frame() {
        let mut m = Mixer::default();
        assert!(
            m.feed(Dir::Read, &[100; 160]).is_empty(),
            "waits for the other side"
        );
        assert_eq!(m.feed(Dir::Write, &[20; 160]), vec![120; 160]);
        assert_eq!(m.feed(Dir::Write, &[i16::MAX; 160]), Vec::<i16>::new());
        assert_eq!(
            m.feed(Dir::Read, &[5; 160]),
            vec![i16::MAX; 160],
            "saturates"
        );
    }

    #[test]
    fn a_silent_direction_does_not_hold_the_other_back() {
        let mut m = Mixer::default();
        let mut out = Vec::new();
        for _ in 0..12 {
            out.extend(m.feed(Dir::Read, &[7; 160]));
        }
        assert_eq!(out.len(), 2 * 160, "written once 200 ms are waiting");
        assert!(out.iter().all(|&s| s == 7));
        assert_eq!(m.flush().len(), 10 * 160);
        assert!(m.flush().is_empty());
    }
}
