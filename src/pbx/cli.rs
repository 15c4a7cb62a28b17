//! The CLI command interface, as the core holds it: a registry of commands (words + usage +
//! summary + async handler) that modules fill at load and empty at unload, and what a
//! handler can reach ([`CliState`], [`Ctx`]). The console (`cli/`: dispatcher, tab
//! completion, the control socket) and the console's own commands build on this.

use super::Pbx;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// What a handler returns: the text to print, or a request to print the usage.
pub type CliResult = Result<String, CliError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// Wrong arguments: the dispatcher prints the command's usage (Asterisk's CLI_SHOWUSAGE).
    ShowUsage,
    /// A failure message to print as is.
    Failure(String),
}

pub type BoxFuture = Pin<Box<dyn Future<Output = CliResult> + Send>>;
pub type Handler = Arc<dyn Fn(Ctx) -> BoxFuture + Send + Sync>;
/// Argument completion: (state, arguments typed so far, partial word) → candidates.
pub type Completer = Arc<dyn Fn(&CliState, &[String], &str) -> Vec<String> + Send + Sync>;

/// One CLI command.
#[derive(Clone)]
pub struct Command {
    /// Fixed words, lowercase (`["core", "show", "channels"]`).
    pub words: Vec<String>,
    /// Full usage text shown by `help <command>` and on wrong arguments.
    pub usage: String,
    /// One line for `help`.
    pub summary: String,
    pub handler: Handler,
    pub completer: Option<Completer>,
    /// The module that registered it (`core` for the console's own commands).
    pub owner: &'static str,
}

impl Command {
    pub fn new<F, Fut>(words: &str, summary: &str, usage: &str, f: F) -> Command
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CliResult> + Send + 'static,
    {
        Command {
            words: words
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect(),
            usage: usage.to_string(),
            summary: summary.to_string(),
            handler: Arc::new(move |c| Box::pin(f(c))),
            completer: None,
            owner: "core",
        }
    }
    pub fn complete_with<F>(mut self, f: F) -> Command
    where
        F: Fn(&CliState, &[String], &str) -> Vec<String> + Send + Sync + 'static,
    {
        self.completer = Some(Arc::new(f));
        self
    }
    pub fn name(&self) -> String {
        self.words.join(" ")
    }
}

/// All registered commands.
#[derive(Default)]
pub struct CommandRegistry {
    cmds: parking_lot::RwLock<Vec<Command>>,
}

impl CommandRegistry {
    /// Remove every command `owner` registered (module unload).
    pub fn remove_owner(&self, owner: &str) {
        self.cmds.write().retain(|c| c.owner != owner);
    }
    /// Add (or replace, same words) a command.
    pub fn register(&self, c: Command) {
        let mut v = self.cmds.write();
        v.retain(|o| o.words != c.words);
        v.push(c);
        v.sort_by(|a, b| a.words.cmp(&b.words));
    }
    pub fn list(&self) -> Vec<Command> {
        self.cmds.read().clone()
    }
    /// The command with the longest word list prefixing `words`, and how many words it took.
    pub fn find(&self, words: &[String]) -> Option<(Command, usize)> {
        let cmds = self.cmds.read();
        cmds.iter()
            .filter(|c| {
                c.words.len() <= words.len()
                    && c.words
                        .iter()
                        .zip(words)
                        .all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
            .max_by_key(|c| c.words.len())
            .map(|c| (c.clone(), c.words.len()))
    }
}

/// Verbosity: the root console's level and every remote console's. The PBX generates
/// messages up to the highest of them (as Asterisk's `ast_verb_sys_level`); each console
/// only shows what its own level admits.
#[derive(Default)]
pub struct Verbosity {
    root: AtomicU8,
    consoles: Mutex<HashMap<u64, u8>>,
    next_id: AtomicU64,
    /// Levels each console turned off with `logger set level … off` (`None`: the root
    /// console), as [`crate::logger::Level::bit`]s.
    levels_off: Mutex<HashMap<Option<u64>, u32>>,
}

impl Verbosity {
    pub fn root(&self) -> u8 {
        self.root.load(Ordering::Relaxed)
    }
    pub fn set_root(&self, pbx: &Pbx, v: u8) {
        self.root.store(v, Ordering::Relaxed);
        self.apply(pbx);
    }
    pub fn new_console(&self, pbx: &Pbx, level: u8) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.consoles.lock().insert(id, level);
        self.apply(pbx);
        id
    }
    pub fn console(&self, id: u64) -> u8 {
        self.consoles.lock().get(&id).copied().unwrap_or(0)
    }
    pub fn set_console(&self, pbx: &Pbx, id: u64, level: u8) {
        self.consoles.lock().insert(id, level);
        self.apply(pbx);
    }
    /// The levels `console` turned off.
    pub fn levels_off(&self, console: Option<u64>) -> u32 {
        self.levels_off.lock().get(&console).copied().unwrap_or(0)
    }
    /// `logger set level <level> on|off` for `console`.
    pub fn set_level(&self, console: Option<u64>, level: crate::logger::Level, on: bool) {
        let mut m = self.levels_off.lock();
        let e = m.entry(console).or_insert(0);
        if on {
            *e &= !level.bit();
        } else {
            *e |= level.bit();
        }
    }
    /// `logger mute`: every level off for `console` (`u32::MAX`), or back on (0).
    pub fn set_levels_off(&self, console: Option<u64>, off: u32) {
        self.levels_off.lock().insert(console, off);
    }
    pub fn drop_console(&self, pbx: &Pbx, id: u64) {
        self.levels_off.lock().remove(&Some(id));
        self.consoles.lock().remove(&id);
        self.apply(pbx);
    }
    fn apply(&self, pbx: &Pbx) {
        let max = self
            .consoles
            .lock()
            .values()
            .copied()
            .fold(self.root(), u8::max);
        pbx.set_verbose(max);
    }
}

/// How `core stop` asked the daemon to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Hang up every channel and exit.
    Now,
    /// Refuse new calls, wait for the active ones to end.
    Gracefully,
    /// Wait until no call is active.
    WhenConvenient,
}

/// Everything a command can reach. The commands themselves are in the PBX's registry
/// (`pbx.cli`), where modules add theirs at load.
pub struct CliState {
    pub pbx: Arc<Pbx>,
    pub verbosity: Verbosity,
    pub stop_mode: Mutex<Option<StopMode>>,
}

impl CliState {
    /// The command registry.
    pub fn registry(&self) -> &CommandRegistry {
        &self.pbx.cli
    }

    /// The console state for `pbx` (the console's own commands are registered by
    /// `cli::register_builtins`).
    pub fn new(pbx: Arc<Pbx>) -> Arc<CliState> {
        let st = Arc::new(CliState {
            verbosity: Verbosity::default(),
            stop_mode: Mutex::new(None),
            pbx,
        });
        let v = st.pbx.console_verbose();
        st.verbosity.set_root(&st.pbx, v);
        st
    }
    /// Ask the daemon to stop in `mode`.
    pub fn stop(&self, mode: StopMode) {
        *self.stop_mode.lock() = Some(mode);
        self.pbx.request_stop();
    }
}

/// A command invocation.
pub struct Ctx {
    pub state: Arc<CliState>,
    /// Arguments after the command words.
    pub args: Vec<String>,
    /// The remote console that typed it (None: root console or `-rx`).
    pub console: Option<u64>,
}

impl Ctx {
    pub fn pbx(&self) -> &Arc<Pbx> {
        &self.state.pbx
    }
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// Keep the candidates starting with `partial` (case-insensitive), sorted.
pub fn filter_prefix(cands: impl IntoIterator<Item = String>, partial: &str) -> Vec<String> {
    let lp = partial.to_ascii_lowercase();
    let mut v: Vec<String> = cands
        .into_iter()
        .filter(|c| c.to_ascii_lowercase().starts_with(&lp))
        .collect();
    v.sort();
    v.dedup();
    v
}
