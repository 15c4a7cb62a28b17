//! The writer thread: owns the open log files and the syslog socket, takes records from
//! [`super::Logger::submit`] and configurations from reloads, in order. Files are opened
//! in append mode, written through a buffer flushed whenever the queue is empty (so
//! `tail -f` sees each burst at once), closed and reopened on reload and rotate.

use super::config::{ChannelSpec, LoggerConfig, Target};
use super::{format, rotate, Level, Record};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;

pub(super) enum Msg {
    Line(Record),
    /// A finished queue_log line (`epoch|callid|queue|agent|event|data\n`).
    Queue(String),
    /// Close (and with `rotate`, archive) the files, then open `cfg`'s; the answer is the
    /// list of problems (files that could not be opened or renamed).
    Apply {
        cfg: Arc<LoggerConfig>,
        rotate: bool,
        done: SyncSender<Vec<String>>,
    },
}

struct Out {
    spec: ChannelSpec,
    file: Option<BufWriter<File>>,
}

pub(super) struct Writer {
    pub cfg: Arc<LoggerConfig>,
    outs: Vec<Out>,
    syslog: Option<UnixDatagram>,
    pub syslog_path: PathBuf,
    pub banner: String,
    pub pending: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicU64>,
    pid: u32,
    /// `astlogdir`: where the queue log goes.
    pub logdir: PathBuf,
    /// The open queue log (`queue_log = yes`), opened at the first line.
    queue: Option<BufWriter<File>>,
}

impl Writer {
    pub fn new(
        banner: String,
        syslog_path: PathBuf,
        pending: Arc<AtomicUsize>,
        dropped: Arc<AtomicU64>,
    ) -> Writer {
        Writer {
            cfg: Arc::new(LoggerConfig::default()),
            outs: Vec::new(),
            syslog: None,
            syslog_path,
            banner,
            pending,
            dropped,
            pid: std::process::id(),
            logdir: PathBuf::new(),
            queue: None,
        }
    }

    pub fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(m) = rx.recv() {
            self.handle(m);
            loop {
                match rx.try_recv() {
                    Ok(m) => self.handle(m),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush();
                        return;
                    }
                }
            }
            self.flush();
        }
        self.flush();
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Line(r) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                let lost = self.dropped.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let note = Record {
                        level: Level::Warning,
                        sublevel: 0,
                        sys_verbose: 0,
                        file: "logger".into(),
                        callid: 0,
                        msg: format!(
                            "Logging resumed.  {lost} message{} discarded.",
                            if lost == 1 { "" } else { "s" }
                        ),
                        time: r.time,
                    };
                    self.write(&note);
                }
                self.write(&r);
            }
            Msg::Queue(line) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                self.write_queue(&line);
            }
            Msg::Apply { cfg, rotate, done } => {
                let problems = self.apply(cfg, rotate);
                let _ = done.send(problems);
            }
        }
    }

    fn queue_path(&self) -> PathBuf {
        self.logdir.join(&self.cfg.general.queue_log_name)
    }

    fn write_queue(&mut self, line: &str) {
        if !self.cfg.general.queue_log {
            return;
        }
        if self.queue.is_none() {
            let path = self.queue_path();
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            {
                Ok(f) => self.queue = Some(BufWriter::new(f)),
                Err(e) => {
                    eprintln!(
                        "Logger Warning: Unable to open queue log '{}': {e}",
                        path.display()
                    );
                    return;
                }
            }
        }
        if let Some(f) = self.queue.as_mut() {
            if f.write_all(line.as_bytes()).is_err() {
                self.queue = None;
            }
        }
    }

    fn flush(&mut self) {
        if let Some(f) = self.queue.as_mut() {
            if f.flush().is_err() {
                self.queue = None;
            }
        }
        for o in &mut self.outs {
            if let Some(f) = o.file.as_mut() {
                if f.flush().is_err() {
                    o.file = None;
                }
            }
        }
    }

    fn write(&mut self, r: &Record) {
        let mut local = None;
        let mut date = None;
        let show = self.cfg.general.use_callids;
        for o in &mut self.outs {
            if !o.spec.takes(r.level) {
                continue;
            }
            if r.level == Level::Verbose && r.sublevel > o.spec.verbosity.unwrap_or(r.sys_verbose) {
                continue;
            }
            let t = *local.get_or_insert_with(|| chrono::DateTime::<chrono::Local>::from(r.time));
            match &o.spec.target {
                Target::Console => {}
                Target::File(path) => {
                    let Some(f) = o.file.as_mut() else { continue };
                    let d =
                        date.get_or_insert_with(|| format::date(&self.cfg.general.dateformat, &t));
                    let line = format::file_line(d, r, self.pid, show);
                    if let Err(e) = f.write_all(line.as_bytes()) {
                        eprintln!(
                            "Logger Warning: Unable to write to log file '{}': {e} (disabled)",
                            path.display()
                        );
                        o.file = None;
                    }
                }
                Target::Syslog { facility, .. } => {
                    let pkt = format::syslog_packet(*facility, r, &t, self.pid, show);
                    if self.syslog.is_none() {
                        self.syslog = UnixDatagram::unbound().ok();
                    }
                    if let Some(s) = &self.syslog {
                        let _ = s.send_to(&pkt, &self.syslog_path);
                    }
                }
            }
        }
    }

    fn apply(&mut self, cfg: Arc<LoggerConfig>, rotate: bool) -> Vec<String> {
        let mut problems = Vec::new();
        self.flush();
        let old = std::mem::take(&mut self.outs);
        let strategy = self.cfg.general.rotatestrategy;
        let exec = self.cfg.general.exec_after_rotate.clone();
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for o in old {
            let Target::File(path) = &o.spec.target else {
                continue;
            };
            let Some(f) = o.file else { continue };
            let big = f.get_ref().metadata().is_ok_and(|m| m.len() > 0x4000_0000);
            drop(f);
            if rotate || (big && strategy != super::config::RotateStrategy::None) {
                match rotate::rotate_file(path, strategy, epoch) {
                    Ok(name) => {
                        if !exec.is_empty() {
                            rotate::run_after(rotate::substitute(&exec, &name));
                        }
                    }
                    Err(e) => problems.push(e),
                }
            }
        }
        // The queue log closes too (reopened at its next line, perhaps under a new name);
        // a rotate archives it like the other files.
        if self.queue.take().is_some() && rotate && strategy != super::config::RotateStrategy::None
        {
            let path = self.queue_path();
            match rotate::rotate_file(&path, strategy, epoch) {
                Ok(name) => {
                    if !exec.is_empty() {
                        rotate::run_after(rotate::substitute(&exec, &name));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        self.syslog = None;
        let now = chrono::Local::now();
        let date = format::date(&cfg.general.dateformat, &now);
        for spec in &cfg.channels {
            let file = match &spec.target {
                Target::File(path) => {
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    match std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                    {
                        Ok(f) => {
                            let mut w = BufWriter::new(f);
                            let _ = writeln!(w, "[{date}] {}", self.banner);
                            Some(w)
                        }
                        Err(e) => {
                            problems
                                .push(format!("Unable to open log file '{}': {e}", path.display()));
                            continue;
                        }
                    }
                }
                _ => None,
            };
            self.outs.push(Out {
                spec: spec.clone(),
                file,
            });
        }
        self.cfg = cfg;
        self.flush();
        problems
    }
}
