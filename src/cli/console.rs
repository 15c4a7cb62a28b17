//! Line editing shared by the root console (`-c`) and the remote console (`-r`):
//! rustyline with tab completion, and a printer that writes log lines above the prompt.

use super::CliState;
use parking_lot::Mutex;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{ExternalPrinter, Helper};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

/// Where completions come from.
pub enum CompleteSource {
    /// In-process (root console).
    Local(Arc<CliState>),
    /// Asked over the control socket (remote console).
    Remote(PathBuf),
}

pub struct CliHelper {
    pub source: CompleteSource,
}

/// Ask the daemon at `sock` for completions of `line`.
pub fn remote_complete(sock: &std::path::Path, line: &str) -> Vec<String> {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return vec![];
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    if writeln!(s, "complete {}", line.replace('\n', " ")).is_err() {
        return vec![];
    }
    let mut out = Vec::new();
    for l in BufReader::new(s).lines() {
        let Ok(l) = l else { break };
        if let Some(c) = l.strip_prefix("c ") {
            out.push(c.to_string());
        } else if l.starts_with('e') {
            break;
        }
    }
    out
}

impl Completer for CliHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let head = &line[..pos];
        let start = head.rfind(char::is_whitespace).map(|i| i + 1).unwrap_or(0);
        let cands = match &self.source {
            CompleteSource::Local(st) => super::complete(st, head),
            CompleteSource::Remote(p) => remote_complete(p, head),
        };
        let cands = cands
            .into_iter()
            .map(|c| {
                // A completed word is followed by a space, as in Asterisk's console.
                if cands_need_space(&c) {
                    format!("\"{c}\" ")
                } else {
                    format!("{c} ")
                }
            })
            .collect();
        Ok((start, cands))
    }
}

fn cands_need_space(c: &str) -> bool {
    c.contains(char::is_whitespace)
}

impl Hinter for CliHelper {
    type Hint = String;
}
impl Highlighter for CliHelper {}
impl Validator for CliHelper {}
impl Helper for CliHelper {}

/// Prints log lines without breaking the prompt being edited.
#[derive(Default)]
pub struct Printer {
    inner: Mutex<Option<Box<dyn ExternalPrinter + Send>>>,
}

impl Printer {
    pub fn set(&self, p: Box<dyn ExternalPrinter + Send>) {
        *self.inner.lock() = Some(p);
    }
    pub fn line(&self, s: &str) {
        if let Some(p) = self.inner.lock().as_mut() {
            if p.print(format!("{s}\n")).is_ok() {
                return;
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }
}

/// `~/.ferrisk_history`.
pub fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ferrisk_history"))
}

pub type Editor = rustyline::Editor<CliHelper, rustyline::history::DefaultHistory>;

/// An editor with completion from `source`; its external printer goes into `printer`.
pub fn editor(source: CompleteSource, printer: &Printer) -> rustyline::Result<Editor> {
    let mut rl = Editor::new()?;
    rl.set_helper(Some(CliHelper { source }));
    if let Some(h) = history_path() {
        let _ = rl.load_history(&h);
    }
    if let Ok(p) = rl.create_external_printer() {
        printer.set(Box::new(p));
    }
    Ok(rl)
}

/// The root console (`-c`): read commands and run them in-process until the daemon stops
/// or the input ends. `exit`/`quit` stop the daemon, as on Asterisk's root console.
pub fn run_root_console(state: Arc<CliState>, rt: tokio::runtime::Handle, printer: Arc<Printer>) {
    let mut rl = match editor(CompleteSource::Local(state.clone()), &printer) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("ferrisk: cannot start the console: {e}");
            return;
        }
    };
    loop {
        if state
            .pbx
            .shutting_down
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            break;
        }
        match rl.readline("*CLI> ") {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line);
                if let Some(h) = history_path() {
                    let _ = rl.save_history(&h);
                }
                if line.eq_ignore_ascii_case("exit") || line.eq_ignore_ascii_case("quit") {
                    state.stop(super::StopMode::Now);
                    break;
                }
                let out = rt.block_on(super::execute(&state, line, None));
                print!("{out}");
                let _ = std::io::stdout().flush();
            }
            Err(rustyline::error::ReadlineError::Interrupted) => {
                printer.line("Use 'core stop now' or EXIT to stop ferrisk");
            }
            Err(_) => break,
        }
    }
}
