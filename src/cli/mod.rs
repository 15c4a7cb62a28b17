//! The console CLI: a registry of commands (words + usage + summary + async handler), the
//! dispatcher and tab completion shared by the foreground console (`-c`), the control
//! socket (`-r`, `-rx`) and tests.
//!
//! Other subsystems add commands with [`CommandRegistry::register`]; the dispatcher never
//! needs to know about them. Commands match word by word, case-insensitively; the longest
//! registered word sequence that prefixes the typed line wins and the rest are arguments.

pub mod args;
pub mod builtin;
pub mod console;
pub mod db;
pub mod dialplan;
pub mod format;
pub mod realtime;
pub mod remote;
pub mod server;
pub mod show;
pub mod sip;
pub mod voicemail;

use crate::pbx::Pbx;
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
    /// The commands ferrisk ships.
    pub fn with_builtins() -> CommandRegistry {
        let r = CommandRegistry::default();
        builtin::register(&r);
        show::register(&r);
        db::register(&r);
        voicemail::register(&r);
        dialplan::register(&r);
        realtime::register(&r);
        crate::apps::moh::register_cli(&r);
        crate::apps::conference::register_cli(&r);
        r
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
    pub fn drop_console(&self, pbx: &Pbx, id: u64) {
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

/// Everything a command can reach.
pub struct CliState {
    pub pbx: Arc<Pbx>,
    pub registry: CommandRegistry,
    pub verbosity: Verbosity,
    pub stop_mode: Mutex<Option<StopMode>>,
}

impl CliState {
    pub fn new(pbx: Arc<Pbx>) -> Arc<CliState> {
        let st = Arc::new(CliState {
            verbosity: Verbosity::default(),
            registry: CommandRegistry::with_builtins(),
            stop_mode: Mutex::new(None),
            pbx,
        });
        let v = st.pbx.verbose();
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

/// Split a command line into words; `"..."` groups words, `\` escapes the next character.
pub fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Run one command line and return everything it prints (each line ends with `\n`).
pub async fn execute(state: &Arc<CliState>, line: &str, console: Option<u64>) -> String {
    let words = tokenize(line);
    if words.is_empty() {
        return String::new();
    }
    let Some((cmd, n)) = state.registry.find(&words) else {
        return format!(
            "No such command '{}' (type 'core show help {}' for other possible commands)\n",
            words.join(" "),
            words[0]
        );
    };
    let ctx = Ctx {
        state: state.clone(),
        args: words[n..].to_vec(),
        console,
    };
    match (cmd.handler)(ctx).await {
        Ok(s) => s,
        Err(CliError::ShowUsage) => usage_text(&cmd),
        Err(CliError::Failure(m)) => {
            if m.ends_with('\n') {
                m
            } else {
                format!("{m}\n")
            }
        }
    }
}

pub fn usage_text(cmd: &Command) -> String {
    let mut u = cmd.usage.clone();
    if !u.ends_with('\n') {
        u.push('\n');
    }
    u
}

/// Candidates for the last word of `line` (the word being typed; empty after a space).
pub fn complete(state: &CliState, line: &str) -> Vec<String> {
    let mut words = tokenize(line);
    let partial = if line.is_empty() || line.ends_with(char::is_whitespace) {
        String::new()
    } else {
        words.pop().unwrap_or_default()
    };
    let lp = partial.to_ascii_lowercase();
    let mut out: Vec<String> = Vec::new();
    for c in state.registry.list() {
        if c.words.len() > words.len()
            && c.words
                .iter()
                .zip(&words)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        {
            let next = &c.words[words.len()];
            if next.starts_with(&lp) && !out.contains(next) {
                out.push(next.clone());
            }
        }
    }
    if let Some((cmd, n)) = state.registry.find(&words) {
        if let Some(f) = &cmd.completer {
            for cand in f(state, &words[n..], &partial) {
                if !out.contains(&cand) {
                    out.push(cand);
                }
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Arc<CliState> {
        CliState::new(Pbx::for_tests())
    }

    #[test]
    fn tokenize_quotes_and_escapes() {
        assert_eq!(
            tokenize("  core show  channels "),
            vec!["core", "show", "channels"]
        );
        assert_eq!(
            tokenize(r#"database put fam key "a value" x\ y"#),
            vec!["database", "put", "fam", "key", "a value", "x y"]
        );
        assert_eq!(
            tokenize(r#"database put f k """#),
            vec!["database", "put", "f", "k", ""]
        );
    }

    #[test]
    fn longest_command_wins() {
        let st = state();
        let w = tokenize("core show channels concise");
        let (c, n) = st.registry.find(&w).unwrap();
        assert_eq!(c.name(), "core show channels");
        assert_eq!(n, 3);
        let (c, _) = st.registry.find(&tokenize("CORE SHOW CHANNEL x")).unwrap();
        assert_eq!(c.name(), "core show channel");
        assert!(st.registry.find(&tokenize("core frobnicate")).is_none());
    }

    #[tokio::test]
    async fn unknown_command_message() {
        let st = state();
        let out = execute(&st, "core frob", None).await;
        assert_eq!(
            out,
            "No such command 'core frob' (type 'core show help core' for other possible commands)\n"
        );
    }

    #[test]
    fn completion_of_words_and_contexts() {
        let st = state();
        let c = complete(&st, "core sh");
        assert_eq!(c, vec!["show"]);
        let c = complete(&st, "core show chan");
        assert!(c.contains(&"channels".to_string()) && c.contains(&"channel".to_string()));
        let c = complete(&st, "database ");
        assert!(c.contains(&"put".to_string()) && c.contains(&"deltree".to_string()));
    }

    #[test]
    fn verbosity_is_max_of_consoles() {
        let st = state();
        st.verbosity.set_root(&st.pbx, 1);
        let id = st.verbosity.new_console(&st.pbx, 4);
        assert_eq!(st.pbx.verbose(), 4);
        st.verbosity.drop_console(&st.pbx, id);
        assert_eq!(st.pbx.verbose(), 1);
    }
}
