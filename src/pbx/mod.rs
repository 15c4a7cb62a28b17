//! The PBX core: the running dialplan, globals, the channel list, the registries modules
//! fill (applications, functions, CLI commands, channel and message technologies, CDR
//! backends, services), the module loader, the event bus and the verbose/console output.
//!
//! `exec` is the interpreter that walks a channel through the dialplan. The core knows
//! traits and registries only: it never imports a module (`apps/`, `funcs/`, `channels/`,
//! `voicemail/`, `cdr/`, `pbx_config/`) or the console (`cli/`); see `docs/architecture.md`.
//! It never parses config text (that is `config`/`dialplan`) and never talks to a network
//! (that is the channel driver modules).

pub mod app;
pub mod blocking;
pub mod bridge;
pub mod ccss;
pub mod cdr;
pub mod channel;
pub mod cli;
pub mod devstate;
pub mod events;
pub mod exec;
pub mod extens;
pub mod features;
pub mod func;
pub mod hold;
pub mod manager;
pub mod media;
pub mod message;
pub mod module;
pub mod mwi;
pub mod originate;
pub mod parking;
pub mod pickup;
pub mod realtime;
pub mod tech;
pub mod vars;

use crate::astdb::AstDb;
use crate::config::settings::Settings;
use crate::dialplan::Dialplan;
use app::AppRegistry;
use arc_swap::ArcSwap;
use cdr::{Cdr, CdrEngine};
use channel::ChannelShared;
use func::FuncRegistry;
use indexmap::IndexMap;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::broadcast;

pub use crate::logger::{Level, Logger};

pub use channel::{CallerId, ChanEvent, ChanState, Channel, ChannelTech, Hangup};

/// Every live channel, by name.
#[derive(Default)]
pub struct ChannelRegistry {
    map: RwLock<IndexMap<String, Arc<ChannelShared>>>,
}

impl ChannelRegistry {
    pub fn insert(&self, c: Arc<ChannelShared>) {
        self.map.write().insert(c.name.clone(), c);
    }
    pub fn remove(&self, name: &str) {
        self.map.write().shift_remove(name);
    }
    pub fn get(&self, name: &str) -> Option<Arc<ChannelShared>> {
        self.map.read().get(name).cloned()
    }
    pub fn list(&self) -> Vec<Arc<ChannelShared>> {
        self.map.read().values().cloned().collect()
    }
    /// Asterisk's `ast_active_calls()`: the channels running the dialplan (a bridged call
    /// of two phones is one call: the leg Dial() placed runs no dialplan).
    pub fn active_calls(&self) -> usize {
        self.map
            .read()
            .values()
            .filter(|c| c.snapshot.lock().in_pbx)
            .count()
    }
    pub fn len(&self) -> usize {
        self.map.read().len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }
}

/// A line of console output: its log level, the verbose level it was logged at (0 for
/// the other levels), the call id (0: none) and the text as consoles print it.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub level: u8,
    pub kind: Level,
    pub callid: u32,
    pub text: String,
}

impl LogLine {
    /// Whether a console at `verbosity` shows this line, given the console channel of
    /// `logger.conf` (`logger`) and the levels this console turned off (`off`, bits of
    /// [`Level::bit`]).
    pub fn shown(&self, logger: &Logger, verbosity: u8, off: u32) -> bool {
        if off & self.kind.bit() != 0 {
            return false;
        }
        if self.kind == Level::Verbose {
            self.level <= verbosity
        } else {
            logger.console_takes(self.kind)
        }
    }
}

/// Asterisk's verbose prefixes by level.
pub fn verbose_prefix(level: u8) -> &'static str {
    match level {
        0 | 1 => " ",
        2 => "  == ",
        3 => "    -- ",
        _ => "       > ",
    }
}

pub struct Pbx {
    pub settings: Settings,
    dialplan: ArcSwap<Dialplan>,
    /// The dialplan as loaded (before the modules' extensions were merged in).
    base_dialplan: ArcSwap<Dialplan>,
    /// Extensions modules registered ([`extens`]).
    module_extens: Mutex<Vec<extens::ModuleExten>>,
    globals: RwLock<HashMap<String, String>>,
    /// Loaded dialplan applications.
    pub apps: AppRegistry,
    /// Loaded dialplan functions.
    pub funcs: FuncRegistry,
    /// CLI commands (the console's and the modules').
    pub cli: cli::CommandRegistry,
    /// Channel technologies (`SIP`, `Local`).
    pub techs: module::Registry<dyn tech::Driver>,
    /// Message technologies (`sip`).
    pub msg_techs: module::Registry<dyn tech::MessageTech>,
    /// Manager (AMI) actions, by name (`pbx/manager.rs`).
    pub manager_actions: manager::ActionRegistry,
    /// Services modules share by type.
    pub services: module::Services,
    /// The compiled-in modules and which of them run.
    pub modules: module::ModuleLoader,
    /// The event bus.
    pub events: events::EventBus,
    /// The voicemail side of message waiting (owner, provider), when a module installed one.
    pub mailboxes: RwLock<Option<(&'static str, Arc<dyn mwi::MailboxCounts>)>>,
    /// The realtime API: engines and the `extconfig.conf` family mappings.
    pub realtime: realtime::Realtime,
    pub channels: ChannelRegistry,
    pub astdb: AstDb,
    pub cdr: CdrEngine,
    verbose: AtomicU8,
    pub debug: AtomicU8,
    /// The logger (`logger.conf`): files, syslog, the console channel's levels.
    pub logger: Arc<Logger>,
    /// Console output: the foreground console and every remote console subscribe.
    pub log_tx: broadcast::Sender<LogLine>,
    /// Print verbose output to stdout (foreground / console mode).
    pub log_stdout: AtomicBool,
    pub started: Instant,
    pub started_wall: SystemTime,
    pub last_reload: Mutex<(Instant, SystemTime)>,
    uniqueid_seq: AtomicU64,
    tech_seq: Mutex<HashMap<&'static str, u32>>,
    pub calls_processed: AtomicU64,
    pub shutting_down: AtomicBool,
    /// Set once to stop the daemon (core stop …).
    pub stop_tx: tokio::sync::watch::Sender<bool>,
    /// Unknown applications/functions already warned about at load.
    pub warned_missing: Mutex<std::collections::HashSet<String>>,
    pub local_seq: AtomicU32,
    /// Upper-case names of the functions that wait ([`func::Func::is_async`]) ever
    /// registered: an argument string naming one is substituted with
    /// [`exec::substitute_async`]'s replay, every other one on the plain path.
    pub async_funcs: RwLock<Vec<String>>,
}

impl Pbx {
    /// A PBX with an empty dialplan and empty registries: nothing is loaded until the
    /// module loader loads modules.
    pub fn new(settings: Settings, astdb: AstDb) -> Arc<Pbx> {
        let (log_tx, _) = broadcast::channel(4096);
        let (stop_tx, _) = tokio::sync::watch::channel(false);
        let verbose = settings.verbose;
        let logger = Arc::new(Logger::new(
            &settings.astetcdir,
            &settings.astlogdir,
            settings.load_options(),
        ));
        Arc::new(Pbx {
            logger,
            dialplan: ArcSwap::from_pointee(Dialplan::default()),
            base_dialplan: ArcSwap::from_pointee(Dialplan::default()),
            module_extens: Mutex::new(Vec::new()),
            globals: RwLock::new(HashMap::new()),
            apps: AppRegistry::default(),
            funcs: FuncRegistry::default(),
            cli: cli::CommandRegistry::default(),
            techs: module::Registry::default(),
            msg_techs: module::Registry::default(),
            manager_actions: module::Registry::default(),
            services: module::Services::default(),
            modules: module::ModuleLoader::default(),
            events: events::EventBus::default(),
            mailboxes: RwLock::new(None),
            realtime: realtime::Realtime::new(),
            channels: ChannelRegistry::default(),
            astdb,
            cdr: CdrEngine::new(),
            verbose: AtomicU8::new(verbose),
            debug: AtomicU8::new(0),
            log_tx,
            log_stdout: AtomicBool::new(false),
            started: Instant::now(),
            started_wall: SystemTime::now(),
            last_reload: Mutex::new((Instant::now(), SystemTime::now())),
            uniqueid_seq: AtomicU64::new(0),
            tech_seq: Mutex::new(HashMap::new()),
            calls_processed: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            stop_tx,
            warned_missing: Mutex::new(Default::default()),
            local_seq: AtomicU32::new(0),
            async_funcs: RwLock::new(Vec::new()),
            settings,
        })
    }

    /// A bare PBX for tests (no module loaded): in-memory AstDB, settings for a throwaway
    /// dir. `crate::modules::test_pbx` gives one with the modules loaded.
    pub fn for_tests() -> Arc<Pbx> {
        let settings = Settings::defaults_for(std::path::Path::new("/nonexistent/ferrisk.conf"));
        let db = AstDb::open_in_memory().unwrap_or_else(|e| panic!("in-memory astdb: {e}"));
        Pbx::new(settings, db)
    }

    pub fn dialplan(&self) -> Arc<Dialplan> {
        self.dialplan.load_full()
    }

    /// The dialplan the files gave, without the modules' extensions (what `dialplan reload`
    /// compares a new file against: module contexts survive a reload).
    pub fn file_dialplan(&self) -> Arc<Dialplan> {
        self.base_dialplan.load_full()
    }

    /// Swap in a new dialplan atomically; globals are (re)applied as Asterisk does.
    pub fn set_dialplan(&self, dp: Dialplan) {
        {
            let mut g = self.globals.write();
            if dp.general.clearglobalvars {
                g.clear();
            }
            for (k, v) in &dp.globals {
                g.insert(k.clone(), v.clone());
            }
        }
        let base = Arc::new(dp);
        self.base_dialplan.store(base.clone());
        self.remerge(&base);
        *self.last_reload.lock() = (Instant::now(), SystemTime::now());
    }

    /// Swap in `base` with the modules' extensions merged into it.
    fn remerge(&self, base: &Arc<Dialplan>) {
        let exts = self.module_extens.lock().clone();
        if exts.is_empty() {
            self.dialplan.store(base.clone());
        } else {
            let mut dp = (**base).clone();
            extens::merge(&mut dp, &exts);
            self.dialplan.store(Arc::new(dp));
        }
    }

    /// Add extensions on behalf of a module (Asterisk's `ast_add_extension` with a
    /// registrar): a priority the module already registered at the same place is replaced.
    pub fn add_extensions(&self, exts: Vec<extens::ModuleExten>) {
        {
            let mut m = self.module_extens.lock();
            for e in exts {
                m.retain(|o| {
                    !(o.context == e.context && o.exten == e.exten && o.priority == e.priority)
                });
                m.push(e);
            }
        }
        self.remerge(&self.base_dialplan.load_full());
    }

    /// Remove the extensions registrars matching `which` added.
    pub fn remove_extensions(&self, which: impl Fn(&str) -> bool) {
        let changed = {
            let mut m = self.module_extens.lock();
            let n = m.len();
            m.retain(|e| !which(&e.registrar));
            n != m.len()
        };
        if changed {
            self.remerge(&self.base_dialplan.load_full());
        }
    }

    pub fn get_global(&self, name: &str) -> Option<String> {
        self.globals.read().get(name).cloned()
    }
    pub fn set_global(&self, name: &str, value: &str) {
        let mut g = self.globals.write();
        if value.is_empty() {
            g.remove(name);
        } else {
            g.insert(name.to_string(), value.to_string());
        }
    }
    pub fn globals(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .globals
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort();
        v
    }

    /// The level verbose messages are generated up to (Asterisk's `ast_verb_sys_level`):
    /// the highest of the consoles' verbosity and the `verbose(N)` of the log files.
    pub fn verbose(&self) -> u8 {
        self.verbose
            .load(Ordering::Relaxed)
            .max(self.logger.verbose_floor())
    }

    /// The highest verbosity of the consoles (what plain `verbose` log channels follow).
    pub fn console_verbose(&self) -> u8 {
        self.verbose.load(Ordering::Relaxed)
    }
    pub fn set_verbose(&self, v: u8) {
        self.verbose.store(v, Ordering::Relaxed);
    }

    /// Emit a verbose message at `level` with Asterisk's prefix (`    -- ` for 3). Log
    /// files get the message without the prefix, naming the Asterisk source file of the
    /// caller (`src/apps/dial.rs` → `app_dial.c`).
    #[track_caller]
    pub fn verbose_line(&self, level: u8, msg: &str) {
        let src = std::panic::Location::caller().file();
        let text = format!("{}{}", verbose_prefix(level), msg);
        self.dispatch(Level::Verbose, level, src, msg, text);
    }

    /// Log a WARNING line. A message starting with an Asterisk source file
    /// (`loader.c: …`) names that file in log files; otherwise the caller's.
    #[track_caller]
    pub fn warning(&self, msg: &str) {
        self.log(Level::Warning, msg);
    }
    #[track_caller]
    pub fn notice(&self, msg: &str) {
        self.log(Level::Notice, msg);
    }
    #[track_caller]
    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg);
    }

    /// Log a line of `level` (not VERBOSE: [`Pbx::verbose_line`]). Consoles print
    /// `[date] LEVEL[pid]: msg`.
    #[track_caller]
    pub fn log(&self, level: Level, msg: &str) {
        let src = std::panic::Location::caller().file();
        let fmt = self.logger.dateformat();
        let date = crate::logger::format::date(&fmt, &chrono::Local::now());
        let text = format!("[{date}] {}[{}]: {msg}", level.name(), std::process::id());
        self.dispatch(level, 0, src, msg, text);
    }

    /// Emit a console line as is (no prefix), shown at `level` and above.
    #[track_caller]
    pub fn emit(&self, level: u8, text: String) {
        let src = std::panic::Location::caller().file();
        let msg = text.trim_start().to_string();
        self.dispatch(Level::Verbose, level, src, &msg, text);
    }

    /// Send a line to the consoles and, when some log channel takes it, to the logger.
    fn dispatch(&self, kind: Level, level: u8, src: &'static str, msg: &str, text: String) {
        let callid = crate::logger::current_callid();
        let sys = self.console_verbose();
        if self.log_stdout.load(Ordering::Relaxed)
            && (if kind == Level::Verbose {
                level <= sys
            } else {
                self.logger.console_takes(kind)
            })
        {
            println!("{text}");
        }
        tracing::debug!(target: "ferrisk::console", "{}", text);
        if self.logger.wants(kind, level, sys) {
            let (file, body) = match crate::logger::format::split_file_prefix(msg) {
                Some((f, rest)) if kind != Level::Verbose => (f.to_string(), rest),
                _ => (crate::logger::format::asterisk_file(src), msg),
            };
            self.logger.submit(crate::logger::Record {
                level: kind,
                sublevel: level,
                sys_verbose: sys,
                file,
                callid,
                msg: body.to_string(),
                time: SystemTime::now(),
            });
        }
        let _ = self.log_tx.send(LogLine {
            level,
            kind,
            callid,
            text,
        });
    }

    /// `epoch.seq` as Asterisk builds UNIQUEID (with `systemname-` in front when set).
    pub fn next_uniqueid(&self) -> String {
        let n = self.uniqueid_seq.fetch_add(1, Ordering::Relaxed);
        let epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if self.settings.systemname.is_empty() {
            format!("{epoch}.{n}")
        } else {
            format!("{}-{epoch}.{n}", self.settings.systemname)
        }
    }

    /// Next per-technology channel sequence number (`SIP/100-00000003`).
    pub fn next_tech_seq(&self, tech: &'static str) -> u32 {
        let mut m = self.tech_seq.lock();
        let e = m.entry(tech).or_insert(0);
        let n = *e;
        *e = e.wrapping_add(1);
        n
    }

    /// Whether any function that waits was ever registered.
    pub fn has_async_funcs(&self) -> bool {
        !self.async_funcs.read().is_empty()
    }

    /// Whether `data` calls a function that waits: some `NAME(` in it is one (any case).
    /// Names built at run time (`${${F}(x)}`) are not seen: such a call takes the
    /// synchronous path.
    pub fn calls_async_func(&self, data: &str) -> bool {
        if !data.contains('(') {
            return false;
        }
        let names = self.async_funcs.read();
        if names.is_empty() {
            return false;
        }
        let b = data.as_bytes();
        for (i, _) in data.match_indices('(') {
            let start = b[..i]
                .iter()
                .rposition(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .map_or(0, |p| p + 1);
            let word = &data[start..i];
            if !word.is_empty() && names.iter().any(|n| n.eq_ignore_ascii_case(word)) {
                return true;
            }
        }
        false
    }

    /// The driver for technology `tech` (any case).
    pub fn driver(&self, tech: &str) -> Option<Arc<dyn tech::Driver>> {
        self.techs.get(tech)
    }

    /// The message technology for scheme `name` (any case).
    pub fn msg_tech(&self, name: &str) -> Option<Arc<dyn tech::MessageTech>> {
        self.msg_techs.get(name)
    }

    /// The service of type `T` a loaded module provides.
    pub fn service<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.services.get::<T>()
    }

    /// The current counts of `mailbox@context` (zeros when no voicemail module is loaded).
    pub async fn mailbox_counts(&self, mailbox: &str, context: &str) -> mwi::MwiState {
        if let Some(s) = self
            .service::<mwi::PublishedStates>()
            .and_then(|p| p.get(mailbox, context))
        {
            return s;
        }
        let provider = self.mailboxes.read().as_ref().map(|(_, p)| p.clone());
        match provider {
            Some(p) => p.counts(mailbox, context).await,
            None => mwi::MwiState {
                mailbox: mailbox.to_string(),
                context: context.to_string(),
                ..Default::default()
            },
        }
    }

    pub fn post_cdr(&self, cdr: Cdr) {
        self.cdr.post(cdr);
    }

    /// Ask the daemon to stop.
    pub fn request_stop(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let _ = self.stop_tx.send(true);
    }
}

/// Parse dialplan text (as extensions.conf) into a dialplan; errors carry file:line:column.
pub fn dialplan_from_str(
    name: &str,
    text: &str,
) -> Result<(Dialplan, crate::dialplan::LoadReport), Vec<crate::config::ConfigError>> {
    let cf = crate::config::load_str(
        std::path::Path::new("."),
        name,
        text,
        &crate::config::LoadOptions::default(),
    )
    .map_err(|e| vec![e])?;
    crate::dialplan::parse_dialplan(&cf)
}

#[cfg(test)]
pub(crate) mod tests;
