//! The Monitor family (`res_monitor.so`): Monitor(), StopMonitor(), ChangeMonitor(),
//! PauseMonitor(), UnpauseMonitor(). A channel's two directions are recorded to two files,
//! `<base>-in.<format>` (what it says) and `<base>-out.<format>` (what it hears), in
//! `<astspooldir>/monitor` unless the base is absolute. Frames are seen through taps on the
//! media queues (they only queue a copy); a task hands them to the recording writers of
//! `apps/record.rs` (the writes run on the file-writing threads). With `m` the two legs are
//! mixed into `<base>.<format>` and removed, or, when MONITOR_EXEC is set, that command
//! gets the three file names (and MONITOR_EXEC_ARGS) and the legs are kept.

use super::mixmonitor::{Dir as Leg, Mixer};
use super::record::Writer;
use super::{args, App, AppResult};
use crate::funcs::volume::next_hook_id;
use crate::pbx::media::{Frame, FrameQueue, FrameTap};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Pbx};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("res_monitor.so", "Call Monitoring Resource"),
    register: register_res_monitor,
}];

fn register_res_monitor(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Monitor));
    ctx.register_app(Arc::new(StopMonitor));
    ctx.register_app(Arc::new(ChangeMonitor));
    ctx.register_app(Arc::new(PauseMonitor(true)));
    ctx.register_app(Arc::new(PauseMonitor(false)));
}

const DATASTORE: &str = "monitor";
/// Frames the taps queue for the writer task before dropping audio (4 s).
const TAP_QUEUE: usize = 200;

/// A running monitor on a channel.
struct Running {
    tap_id: u64,
    queues: [Arc<FrameQueue>; 2],
    paused: Arc<AtomicBool>,
    /// The base the files get when the recording ends (ChangeMonitor changes it).
    base: Arc<Mutex<PathBuf>>,
    done: Option<oneshot::Receiver<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for q in &self.queues {
            q.remove_tap(self.tap_id);
        }
    }
}

/// `fname_base` as a path: relative ones in the monitor directory.
fn base_path(pbx: &Pbx, base: &str) -> PathBuf {
    let p = Path::new(base);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        pbx.settings.astspooldir.join("monitor").join(p)
    }
}

fn with_suffix(base: &Path, suffix: &str, fmt: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(format!("{suffix}.{fmt}"));
    PathBuf::from(s)
}

/// What to do with the legs when the recording ends.
enum Join {
    None,
    /// Mix them into `<base>.<fmt>` and remove them.
    Mix,
    /// Run this shell command line with the three names appended (then its arguments).
    Exec(String, String),
}

struct Monitor;

#[async_trait]
impl App for Monitor {
    fn name(&self) -> &'static str {
        "Monitor"
    }
    fn synopsis(&self) -> &'static str {
        "Monitor a channel."
    }
    fn syntax(&self) -> &'static str {
        "Monitor([file_format[:urlbase],[fname_base,[options]]])"
    }
    fn description(&self) -> &'static str {
        "Used to start monitoring a channel. The channel's input and output voice packets \
         are logged to files until the channel hangs up or monitoring is stopped by the \
         StopMonitor application. file_format: wav (default), sln/raw, ulaw, alaw; with \
         :urlbase the CDR userfield is set to urlbase/fname_base.wav. fname_base: the \
         files are fname_base-in and fname_base-out (in <astspooldir>/monitor unless \
         absolute); without it, <time>-<channel name with / as ->. Options: m — when the \
         recording ends mix the two leg files into one and delete the two leg files; if \
         MONITOR_EXEC is set, it is executed instead (handed the two leg files and the \
         mixed file name, then MONITOR_EXEC_ARGS) and the leg files are kept; b — don't \
         begin recording unless a call is bridged to another channel (sets AUTO_MONITOR); \
         B(interval) — play a periodic beep (not in ferrisk: a warning); i — skip \
         recording of the input stream; o — skip recording of the output stream (both \
         disable m). A second Monitor on a monitored channel changes its file name."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .error("res_monitor.c: Monitor requires an argument");
            return Ok(());
        }
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 2));
        let (fmt, urlbase) = match args::nth(&a, 0).split_once(':') {
            Some((f, u)) => (f.trim().to_string(), u.trim().to_string()),
            None => (args::nth(&a, 0).trim().to_string(), String::new()),
        };
        let fmt = if fmt.is_empty() {
            "wav".to_string()
        } else {
            fmt
        };
        let fname_base = args::nth(&a, 1).trim().to_string();
        if opts.contains_key(&'B') {
            chan.pbx.warning(
                "res_monitor.c: Unable to enable periodic beep, please ensure func_periodic_hook is loaded.",
            );
            return Err(crate::pbx::Hangup);
        }
        if !urlbase.is_empty() && !fname_base.is_empty() {
            let ext = if fmt == "gsm" { "gsm" } else { "wav" };
            chan.cdr.userfield = format!("{urlbase}/{fname_base}.{ext}");
        }
        if opts.contains_key(&'b') {
            // The bridge starts it (AUTO_MONITOR), with the b made harmless.
            if let Some(i) = data.rfind(',') {
                let (head, tail) = data.split_at(i);
                chan.set_var(
                    "AUTO_MONITOR",
                    &format!("{head}{}", tail.replacen('b', "X", 1)),
                );
            }
            return Ok(());
        }
        if chan.datastores.get::<Running>(DATASTORE).is_some() {
            change(chan, &fname_base);
            return Ok(());
        }
        let (rec_in, rec_out) = (!opts.contains_key(&'i'), !opts.contains_key(&'o'));
        let mut join = Join::None;
        if opts.contains_key(&'m') {
            if rec_in && rec_out {
                let exec = chan.get_var("MONITOR_EXEC").unwrap_or_default();
                join = if exec.is_empty() {
                    Join::Mix
                } else {
                    Join::Exec(exec, chan.get_var("MONITOR_EXEC_ARGS").unwrap_or_default())
                };
            } else {
                chan.pbx.warning(
                    "res_monitor.c: Won't mix streams unless both input and output streams are recorded",
                );
            }
        }
        let base = if fname_base.is_empty() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            base_path(
                &chan.pbx,
                &format!("{now}-{}", chan.name().replace('/', "-")),
            )
        } else {
            base_path(&chan.pbx, &fname_base)
        };
        start(chan, base, fmt, rec_in, rec_out, join).await
    }
}

async fn open(chan: &Channel, path: &Path, fmt: &str) -> Option<Writer> {
    match Writer::open(path, fmt, false).await {
        Ok(w) => Some(w),
        Err(_) => {
            chan.pbx.warning(&format!(
                "res_monitor.c: Could not create file {}",
                path.display()
            ));
            None
        }
    }
}

async fn start(
    chan: &mut Channel,
    base: PathBuf,
    fmt: String,
    rec_in: bool,
    rec_out: bool,
    join: Join,
) -> AppResult {
    let Some(media) = chan.media.clone() else {
        chan.pbx.warning(&format!(
            "res_monitor.c: {} has no audio to monitor",
            chan.name()
        ));
        return Ok(());
    };
    let mut legs: Vec<(Leg, Writer)> = Vec::new();
    for (on, leg, suffix) in [(rec_in, Leg::Read, "-in"), (rec_out, Leg::Write, "-out")] {
        if on {
            let Some(w) = open(chan, &with_suffix(&base, suffix, &fmt), &fmt).await else {
                return Err(crate::pbx::Hangup);
            };
            legs.push((leg, w));
        }
    }
    let mut mixed = match join {
        Join::Mix => open(chan, &with_suffix(&base, "", &fmt), &fmt).await,
        _ => None,
    };
    let paused = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::channel::<(Leg, Vec<i16>)>(TAP_QUEUE);
    let tap = |leg: Leg| -> FrameTap {
        let (tx, paused) = (tx.clone(), paused.clone());
        Arc::new(move |f: &Frame| {
            if let Frame::Voice(v) = f {
                if !paused.load(Ordering::Relaxed) {
                    let _ = tx.try_send((leg, v.to_vec()));
                }
            }
        })
    };
    let tap_id = next_hook_id();
    media.from_far.add_tap(tap_id, tap(Leg::Read));
    media.to_far.add_tap(tap_id, tap(Leg::Write));
    drop(tx);
    let final_base = Arc::new(Mutex::new(base.clone()));
    let (done_tx, done) = oneshot::channel();
    let pbx = chan.pbx.clone();
    let fb = final_base.clone();
    tokio::spawn(async move {
        let mut mixer = Mixer::default();
        while let Some((leg, s)) = rx.recv().await {
            if let Some(m) = &mut mixed {
                let _ = m.write(mixer.feed(leg, &s)).await;
            }
            for (l, w) in legs.iter_mut() {
                if *l == leg {
                    let _ = w.write(s.clone()).await;
                }
            }
        }
        for (_, w) in legs {
            let _ = w.finish().await;
        }
        if let Some(mut m) = mixed {
            let _ = m.write(mixer.flush()).await;
            let _ = m.finish().await;
        }
        let end = fb.lock().clone();
        finish(&pbx, &base, &end, &fmt, join).await;
        let _ = done_tx.send(());
    });
    chan.datastores.insert(
        DATASTORE,
        Running {
            tap_id,
            queues: [media.from_far.clone(), media.to_far.clone()],
            paused,
            base: final_base,
            done: Some(done),
        },
    );
    chan.set_var("__MONITORED", "true");
    Ok(())
}

/// After the writers finished: move the files to the base ChangeMonitor gave, then mix
/// (remove the legs) or run MONITOR_EXEC.
async fn finish(pbx: &Arc<Pbx>, started: &Path, base: &Path, fmt: &str, join: Join) {
    let suffixes = ["-in", "-out", ""];
    let moves: Vec<(PathBuf, PathBuf)> = suffixes
        .iter()
        .map(|s| (with_suffix(started, s, fmt), with_suffix(base, s, fmt)))
        .filter(|(a, b)| a != b)
        .collect();
    let remove_legs = matches!(join, Join::Mix);
    let (legs_in, legs_out) = (
        with_suffix(base, "-in", fmt),
        with_suffix(base, "-out", fmt),
    );
    let _ = crate::pbx::blocking::run(move || {
        for (from, to) in moves {
            if from.exists() {
                if let Some(d) = to.parent() {
                    let _ = std::fs::create_dir_all(d);
                }
                let _ = std::fs::rename(from, to);
            }
        }
        if remove_legs {
            let _ = std::fs::remove_file(legs_in);
            let _ = std::fs::remove_file(legs_out);
        }
    })
    .await;
    if let Join::Exec(cmd, extra) = join {
        let q = |p: PathBuf| format!("\"{}\"", p.display());
        let line = format!(
            "{cmd} {} {} {} {extra}",
            q(with_suffix(base, "-in", fmt)),
            q(with_suffix(base, "-out", fmt)),
            q(with_suffix(base, "", fmt)),
        );
        match tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .status()
            .await
        {
            Ok(_) => {}
            Err(_) => pbx.warning(&format!("res_monitor.c: Execute of {line} failed.")),
        }
    }
}

/// ChangeMonitor (and a second Monitor): the files get `fname_base` when the recording ends.
fn change(chan: &mut Channel, fname_base: &str) {
    if fname_base.trim().is_empty() {
        chan.pbx.warning(&format!(
            "res_monitor.c: Cannot change monitor filename of channel {} to null",
            chan.name()
        ));
        return;
    }
    let path = base_path(&chan.pbx, fname_base.trim());
    match chan.datastores.get::<Running>(DATASTORE) {
        Some(r) => *r.base.lock() = path,
        None => chan.pbx.warning(&format!(
            "res_monitor.c: Cannot change monitor filename of channel {} to {}, monitoring not started",
            chan.name(),
            fname_base.trim()
        )),
    }
}

struct StopMonitor;

#[async_trait]
impl App for StopMonitor {
    fn name(&self) -> &'static str {
        "StopMonitor"
    }
    fn synopsis(&self) -> &'static str {
        "Stop monitoring a channel."
    }
    fn description(&self) -> &'static str {
        "Stops monitoring a channel. Has no effect if the channel is not monitored. Returns \
         once the files are complete (moved, mixed or handed to MONITOR_EXEC)."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        let done = match chan.datastores.get_mut::<Running>(DATASTORE) {
            Some(r) => r.done.take(),
            None => return Ok(()),
        };
        // Dropping it removes the taps: the writer task drains and finishes the files.
        chan.datastores.remove(DATASTORE);
        if let Some(d) = done {
            let _ = d.await;
        }
        chan.set_var("MONITORED", "");
        chan.set_var("AUTO_MONITOR", "");
        Ok(())
    }
}

struct ChangeMonitor;

#[async_trait]
impl App for ChangeMonitor {
    fn name(&self) -> &'static str {
        "ChangeMonitor"
    }
    fn synopsis(&self) -> &'static str {
        "Change monitoring filename of a channel."
    }
    fn syntax(&self) -> &'static str {
        "ChangeMonitor(filename_base)"
    }
    fn description(&self) -> &'static str {
        "Changes monitoring filename of a channel. Has no effect if the channel is not \
         monitored. The files are moved to the new name when the recording ends."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        change(chan, data);
        Ok(())
    }
}

/// PauseMonitor (`true`) and UnpauseMonitor.
struct PauseMonitor(bool);

#[async_trait]
impl App for PauseMonitor {
    fn name(&self) -> &'static str {
        if self.0 {
            "PauseMonitor"
        } else {
            "UnpauseMonitor"
        }
    }
    fn synopsis(&self) -> &'static str {
        if self.0 {
            "Pause monitoring of a channel."
        } else {
            "Unpause monitoring of a channel."
        }
    }
    fn description(&self) -> &'static str {
        if self.0 {
            "Pauses monitoring of a channel until it is re-enabled by a call to UnpauseMonitor."
        } else {
            "Unpauses monitoring of a channel on which monitoring had previously been paused \
             with PauseMonitor."
        }
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        if let Some(r) = chan.datastores.get::<Running>(DATASTORE) {
            r.paused.store(self.0, Ordering::Relaxed);
        }
        Ok(())
    }
}
