//! The logger: Asterisk's `logger.c` and `logger.conf`. Log lines have a level (VERBOSE
//! with its sublevel, NOTICE, WARNING, ERROR, DEBUG, DTMF, SECURITY), the source file
//! Asterisk names (`pbx.c`, `app_dial.c`) and the call id (`[C-0000002a]`) of the call
//! they were logged for. `[logfiles]` channels take the levels they list: files in
//! `astlogdir` (or absolute), syslog, and the console (whose lines the PBX prints itself).
//!
//! The PBX asks [`Logger::wants`] first (a few atomic loads), so a line nobody's file takes
//! costs nothing more; taken lines go to a writer thread through a queue bounded by
//! `logger_queue_limit` (lines beyond are dropped and counted, never buffered without
//! limit). This module never touches a channel, a module or the console; it never blocks
//! an async worker (files, syslog and `exec_after_rotate` belong to the writer thread).

pub mod config;
pub mod format;
pub mod rotate;
mod writer;

use crate::config::{ConfigError, LoadOptions};
use arc_swap::ArcSwap;
use config::{LoggerConfig, Target};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI16, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use writer::{Msg, Writer};

tokio::task_local! {
    /// The call id of the call the current task works for (set by the channel's task; the
    /// caller and its Dial legs share one, as in Asterisk).
    pub static CALLID: u32;
}

/// The call id of the current task (0: none).
pub fn current_callid() -> u32 {
    CALLID.try_with(|c| *c).unwrap_or(0)
}

/// The syslog socket; tests point it elsewhere with `FERRISK_TEST_SYSLOG_SOCKET`.
fn syslog_socket() -> PathBuf {
    std::env::var_os("FERRISK_TEST_SYSLOG_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/log"))
}

/// Asterisk's log levels (the numbers are Asterisk's: they order `logger show channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Debug,
    Trace,
    Notice,
    Warning,
    Error,
    Verbose,
    Dtmf,
    Security,
}

impl Level {
    /// Every level, in Asterisk's order.
    pub const ALL: [Level; 8] = [
        Level::Debug,
        Level::Trace,
        Level::Notice,
        Level::Warning,
        Level::Error,
        Level::Verbose,
        Level::Dtmf,
        Level::Security,
    ];

    fn index(self) -> u32 {
        match self {
            Level::Debug => 0,
            Level::Trace => 1,
            Level::Notice => 2,
            Level::Warning => 3,
            Level::Error => 4,
            Level::Verbose => 5,
            Level::Dtmf => 6,
            // A dynamic level in Asterisk (registered by res_security_log).
            Level::Security => 16,
        }
    }

    pub fn bit(self) -> u32 {
        1 << self.index()
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Verbose => "VERBOSE",
            Level::Dtmf => "DTMF",
            Level::Security => "SECURITY",
        }
    }

    /// A level by name (any case). `fax` is accepted as Asterisk's and never logged.
    pub fn from_name(s: &str) -> Option<Level> {
        if s.eq_ignore_ascii_case("fax") {
            return Some(Level::Trace);
        }
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
    }
}

/// One log line on its way to the writer.
#[derive(Debug, Clone)]
pub struct Record {
    pub level: Level,
    /// The verbose level of a VERBOSE line.
    pub sublevel: u8,
    /// The consoles' verbosity when it was logged (what plain `verbose` follows).
    pub sys_verbose: u8,
    /// The Asterisk source file it names (`pbx.c`).
    pub file: String,
    pub callid: u32,
    /// The message, without the console's verbose prefix.
    pub msg: String,
    pub time: SystemTime,
}

/// The logger of one PBX.
pub struct Logger {
    etcdir: PathBuf,
    logdir: PathBuf,
    opts: LoadOptions,
    active: ArcSwap<LoggerConfig>,
    /// Levels some file or syslog channel takes.
    file_mask: AtomicU32,
    /// Some file takes verbose lines up to the consoles' verbosity.
    verbose_follow: AtomicBool,
    /// The highest `verbose(N)` of a file (-1: none).
    verbose_max: AtomicI16,
    /// Levels the console channel takes.
    console_mask: AtomicU32,
    dateformat: ArcSwap<String>,
    pending: Arc<AtomicUsize>,
    limit: AtomicUsize,
    dropped: Arc<AtomicU64>,
    tx: OnceLock<mpsc::Sender<Msg>>,
    /// Serializes reloads (one `Apply` at a time).
    reloading: Mutex<()>,
    next_callid: AtomicU32,
    banner: Mutex<String>,
}

impl Logger {
    /// A logger with the no-`logger.conf` channels and no writer yet ([`Logger::start`]).
    pub fn new(etcdir: &Path, logdir: &Path, opts: LoadOptions) -> Logger {
        let cfg = LoggerConfig::without_file(logdir);
        let l = Logger {
            etcdir: etcdir.to_path_buf(),
            logdir: logdir.to_path_buf(),
            opts,
            active: ArcSwap::from_pointee(cfg.clone()),
            file_mask: AtomicU32::new(0),
            verbose_follow: AtomicBool::new(false),
            verbose_max: AtomicI16::new(-1),
            console_mask: AtomicU32::new(0),
            dateformat: ArcSwap::from_pointee(String::new()),
            pending: Arc::new(AtomicUsize::new(0)),
            limit: AtomicUsize::new(1000),
            dropped: Arc::new(AtomicU64::new(0)),
            tx: OnceLock::new(),
            reloading: Mutex::new(()),
            next_callid: AtomicU32::new(1),
            banner: Mutex::new(format!("ferrisk {}", env!("CARGO_PKG_VERSION"))),
        };
        // Nothing is written before the writer starts: only the console part applies.
        l.publish(&cfg, false);
        l
    }

    /// The line written at the top of each file when it is opened.
    pub fn set_banner(&self, banner: String) {
        *self.banner.lock() = banner;
    }

    /// Read `logger.conf` (or `alt`, relative to the config directory). No file: the
    /// channels Asterisk runs without one, plus `security`.
    pub fn read_config(&self, alt: Option<&str>) -> Result<LoggerConfig, ConfigError> {
        let name = alt.unwrap_or("logger.conf");
        let path = self.etcdir.join(name);
        if alt.is_none() && !path.exists() {
            return Ok(LoggerConfig::without_file(&self.logdir));
        }
        let dir = path.parent().unwrap_or(&self.etcdir).to_path_buf();
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        let cf = crate::config::load(&dir, &file, &self.opts)?;
        config::parse(&cf, &self.logdir, &hostname())
    }

    /// Start the writer with `logger.conf` (blocking: call at start-up or off the async
    /// workers). A broken file leaves the no-file channels running; the messages say why.
    pub fn start(&self) -> Vec<String> {
        let mut msgs = Vec::new();
        let cfg = match self.read_config(None) {
            Ok(c) => c,
            Err(e) => {
                msgs.push(e.to_string());
                msgs.push(
                    "logger.conf has errors: logging to the console and the security file only"
                        .into(),
                );
                LoggerConfig::without_file(&self.logdir)
            }
        };
        msgs.extend(self.apply(cfg, false));
        msgs
    }

    /// `logger reload [alt]` / `logger rotate` (blocking). A broken file keeps the running
    /// configuration (a rotate still rotates it): `Err` says where the file is wrong.
    pub fn reload(&self, alt: Option<&str>, rotate: bool) -> Result<Vec<String>, String> {
        match self.read_config(alt) {
            Ok(cfg) => Ok(self.apply(cfg, rotate)),
            Err(e) => {
                if rotate {
                    let cur = (*self.active.load_full()).clone();
                    let _ = self.apply(cur, true);
                }
                Err(e.to_string())
            }
        }
    }

    fn sender(&self) -> Option<&mpsc::Sender<Msg>> {
        if let Some(tx) = self.tx.get() {
            return Some(tx);
        }
        let (tx, rx) = mpsc::channel();
        let mut w = Writer::new(
            self.banner.lock().clone(),
            syslog_socket(),
            self.pending.clone(),
            self.dropped.clone(),
        );
        w.logdir = self.logdir.clone();
        let started = std::thread::Builder::new()
            .name("logger".into())
            .spawn(move || w.run(rx));
        if let Err(e) = started {
            eprintln!("ferrisk: cannot start the logger thread: {e}");
            return None;
        }
        let _ = self.tx.set(tx);
        self.tx.get()
    }

    fn apply(&self, cfg: LoggerConfig, rotate: bool) -> Vec<String> {
        let _one = self.reloading.lock();
        let cfg = Arc::new(cfg);
        let Some(tx) = self.sender() else {
            return vec!["the logger thread is not running".into()];
        };
        let (done, wait) = mpsc::sync_channel(1);
        if tx
            .send(Msg::Apply {
                cfg: cfg.clone(),
                rotate,
                done,
            })
            .is_err()
        {
            return vec!["the logger thread is gone".into()];
        }
        let problems = wait.recv().unwrap_or_default();
        self.publish(&cfg, true);
        self.active.store(cfg);
        problems
    }

    /// Make `cfg` the one lines are routed by.
    fn publish(&self, cfg: &LoggerConfig, files: bool) {
        let mut file_mask = 0;
        let mut follow = false;
        let mut vmax: i16 = -1;
        let mut console = 0;
        for c in &cfg.channels {
            match c.target {
                Target::Console => console |= c.mask,
                _ if files => {
                    file_mask |= c.mask;
                    if c.takes(Level::Verbose) {
                        match c.verbosity {
                            Some(n) => vmax = vmax.max(i16::from(n)),
                            None => follow = true,
                        }
                    }
                }
                _ => {}
            }
        }
        self.file_mask.store(file_mask, Ordering::Relaxed);
        self.verbose_follow.store(follow, Ordering::Relaxed);
        self.verbose_max.store(vmax, Ordering::Relaxed);
        self.console_mask.store(console, Ordering::Relaxed);
        self.dateformat
            .store(Arc::new(cfg.general.dateformat.clone()));
        self.limit
            .store(cfg.general.logger_queue_limit, Ordering::Relaxed);
    }

    /// Whether some file or syslog channel takes a line of `level` (`sublevel` for VERBOSE
    /// lines; `sys_verbose` is the consoles' verbosity now).
    #[inline]
    pub fn wants(&self, level: Level, sublevel: u8, sys_verbose: u8) -> bool {
        if self.file_mask.load(Ordering::Relaxed) & level.bit() == 0 {
            return false;
        }
        if level != Level::Verbose {
            return true;
        }
        i16::from(sublevel) <= self.verbose_max.load(Ordering::Relaxed)
            || (sublevel <= sys_verbose && self.verbose_follow.load(Ordering::Relaxed))
    }

    /// The highest `verbose(N)` of the files (0: none): verbose messages up to it are
    /// generated whatever the consoles' verbosity.
    #[inline]
    pub fn verbose_floor(&self) -> u8 {
        self.verbose_max.load(Ordering::Relaxed).clamp(0, 255) as u8
    }

    /// Queue a line for the writer (dropped and counted beyond `logger_queue_limit`).
    pub fn submit(&self, r: Record) {
        let Some(tx) = self.tx.get() else { return };
        if self.pending.load(Ordering::Relaxed) >= self.limit.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        if tx.send(Msg::Line(r)).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Append one line to the queue log (`astlogdir/queue_log`, `queue_log_name`), as
    /// Asterisk's `ast_queue_log`: `epoch|callid|queue|agent|event|data`. Nothing happens
    /// with `queue_log = no` or before the writer runs; the file is written by the writer
    /// thread, never on the caller's thread.
    pub fn queue_log(&self, callid: &str, queue: &str, agent: &str, event: &str, data: &str) {
        if !self.active.load().general.queue_log {
            return;
        }
        let Some(tx) = self.tx.get() else { return };
        if self.pending.load(Ordering::Relaxed) >= self.limit.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let line = format!("{epoch}|{callid}|{queue}|{agent}|{event}|{data}\n");
        self.pending.fetch_add(1, Ordering::Relaxed);
        if tx.send(Msg::Queue(line)).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The queue log's path (`astlogdir/queue_log` unless `queue_log_name` says otherwise).
    pub fn queue_log_path(&self) -> PathBuf {
        self.logdir.join(&self.active.load().general.queue_log_name)
    }

    /// Whether the console channel takes `level` (VERBOSE: always).
    pub fn console_takes(&self, level: Level) -> bool {
        self.console_mask.load(Ordering::Relaxed) & level.bit() != 0
    }

    /// `dateformat`, for console lines too.
    pub fn dateformat(&self) -> Arc<String> {
        self.dateformat.load_full()
    }

    /// The running configuration.
    pub fn active(&self) -> Arc<LoggerConfig> {
        self.active.load_full()
    }

    pub fn queue_limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Lines dropped since the writer last caught up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// A new call id (Asterisk numbers them from 1).
    pub fn new_callid(&self) -> u32 {
        self.next_callid.fetch_add(1, Ordering::Relaxed)
    }
}

/// This machine's host name (for `appendhostname`).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname NUL-terminates or truncates.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests;
