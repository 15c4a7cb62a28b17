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
pub mod format;
pub mod hints;
pub mod logger;
pub mod module;
pub mod realtime;
pub mod remote;
pub mod server;
pub mod show;

use crate::pbx::Pbx;
use std::sync::Arc;

pub use crate::pbx::cli::{
    filter_prefix, BoxFuture, CliError, CliResult, CliState, Command, CommandRegistry, Completer,
    Ctx, Handler, StopMode, Verbosity,
};

/// The console's own commands (`core …`, `database …`, `module …`, `help`), registered
/// into the PBX's command registry.
pub fn register_builtins(pbx: &Pbx) {
    let r = &pbx.cli;
    builtin::register(r);
    show::register(r);
    hints::register(r);
    db::register(r);
    module::register(r);
    logger::register(r);
    realtime::register(r);
}

/// A console state with the console's own commands registered (tests, the daemon).
pub fn new_state(pbx: Arc<Pbx>) -> Arc<CliState> {
    register_builtins(&pbx);
    let st = CliState::new(pbx);
    // The manager's `Command` action runs command lines through this (the core's
    // service; the state is held weakly: the PBX holds the service).
    let weak = Arc::downgrade(&st);
    let runner = crate::pbx::manager::CommandRunner(Arc::new(move |line: String| {
        let weak = weak.clone();
        Box::pin(async move {
            match weak.upgrade() {
                Some(st) => execute(&st, &line, None).await,
                None => String::new(),
            }
        })
    }));
    st.pbx.services.insert("core", Arc::new(runner));
    st
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
    let Some((cmd, n)) = state.pbx.cli.find(&words) else {
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
    for c in state.pbx.cli.list() {
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
    if let Some((cmd, n)) = state.pbx.cli.find(&words) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Arc<CliState> {
        crate::modules::test_state()
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
        let (c, n) = st.pbx.cli.find(&w).unwrap();
        assert_eq!(c.name(), "core show channels");
        assert_eq!(n, 3);
        let (c, _) = st.pbx.cli.find(&tokenize("CORE SHOW CHANNEL x")).unwrap();
        assert_eq!(c.name(), "core show channel");
        assert!(st.pbx.cli.find(&tokenize("core frobnicate")).is_none());
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
