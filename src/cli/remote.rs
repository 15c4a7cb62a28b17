//! The client side of the control socket: `-rx "cmd"` and the interactive remote console.

use super::console::{editor, history_path, CompleteSource, Printer};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

fn connect(sock: &Path) -> Result<UnixStream, String> {
    UnixStream::connect(sock).map_err(|_| {
        format!(
            "Unable to connect to remote asterisk (does {} exist?)",
            sock.display()
        )
    })
}

/// `-x`: run one command, print the log lines logged while it ran (not the verbose ones,
/// as Asterisk) and its output. Returns the exit code.
pub fn run_command(sock: &Path, cmd: &str) -> i32 {
    let mut s = match connect(sock) {
        Ok(s) => s,
        Err(m) => {
            eprintln!("{m}");
            return 1;
        }
    };
    if writeln!(s, "cmd {}", cmd.replace('\n', " ")).is_err() {
        eprintln!("ferrisk: lost the connection to {}", sock.display());
        return 1;
    }
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else {
            return 1;
        };
        if let Some(t) = line.strip_prefix("o ").or_else(|| line.strip_prefix("l ")) {
            let _ = writeln!(out, "{t}");
        } else if line == "o" || line == "l" {
            let _ = writeln!(out);
        } else if let Some(st) = line.strip_prefix("e ") {
            let _ = out.flush();
            return if st.trim() == "0" { 0 } else { 1 };
        }
    }
    // The daemon went away mid-answer (e.g. `core stop now`): that is not an error.
    let _ = out.flush();
    0
}

enum Event {
    Done,
    Output(String),
    Disconnected,
}

/// A live connection of the remote console.
struct Session {
    stream: UnixStream,
    rx: mpsc::Receiver<Event>,
}

/// Connect, start the reader thread, register as a console at `verbose`.
fn open_session(sock: &Path, verbose: u8, printer: &Arc<Printer>) -> Result<Session, String> {
    let mut stream = connect(sock)?;
    let reader_stream = stream
        .try_clone()
        .map_err(|e| format!("ferrisk: cannot use the control socket: {e}"))?;
    let (tx, rx) = mpsc::channel::<Event>();
    let p2 = printer.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader_stream).lines() {
            let Ok(line) = line else { break };
            let (kind, text) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            let text = text.to_string();
            match kind {
                "l" => p2.line(&text),
                "o" => {
                    let _ = tx.send(Event::Output(text));
                }
                "e" => {
                    let _ = tx.send(Event::Done);
                }
                _ => {}
            }
        }
        let _ = tx.send(Event::Disconnected);
    });
    writeln!(stream, "verbose {verbose}")
        .map_err(|_| format!("ferrisk: lost the connection to {}", sock.display()))?;
    // The hello answer.
    if !wait_answer(&rx, |t| printer.line(&format!("Connected to {t}")), None) {
        return Err("Disconnected from ferrisk server".into());
    }
    Ok(Session { stream, rx })
}

/// `-R`: try to reconnect for a while after the daemon went away.
fn reconnect(sock: &Path, verbose: u8, printer: &Arc<Printer>) -> Option<Session> {
    printer.line("Attempting to reconnect for 30 seconds");
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        if let Ok(s) = open_session(sock, verbose, printer) {
            return Some(s);
        }
    }
    printer.line("Failed to reconnect for 30 seconds.  Quitting.");
    None
}

/// `-r` / `-R`: the interactive remote console.
pub fn run_console(sock: &Path, verbose: u8, auto_reconnect: bool) -> i32 {
    let printer = Arc::new(Printer::default());
    let mut session = match open_session(sock, verbose, &printer) {
        Ok(s) => s,
        Err(m) => {
            eprintln!("{m}");
            return 1;
        }
    };
    let mut rl = match editor(CompleteSource::Remote(sock.to_path_buf()), &printer) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("ferrisk: cannot start the console: {e}");
            return 1;
        }
    };
    let prompt = format!("{}*CLI> ", super::server::hostname());
    loop {
        match rl.readline(&prompt) {
            Ok(line) => {
                let line = line.trim().to_string();
                if line.is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line.as_str());
                if let Some(h) = history_path() {
                    let _ = rl.save_history(&h);
                }
                let lower = line.to_ascii_lowercase();
                if lower == "exit" || lower == "quit" {
                    break;
                }
                let pr = printer.clone();
                let linger = lower
                    .starts_with("core stop")
                    .then_some(Duration::from_secs(3));
                let alive = writeln!(session.stream, "cmd {line}").is_ok()
                    && wait_answer(&session.rx, |t| pr.line(t), linger);
                if !alive {
                    printer.line("Disconnected from ferrisk server");
                    if !auto_reconnect {
                        return 0;
                    }
                    match reconnect(sock, verbose, &printer) {
                        Some(s) => session = s,
                        None => return 1,
                    }
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    0
}

/// Print output until the end frame. With `linger`, keep waiting that long after the end
/// for the daemon to close the connection. False when the connection was lost.
fn wait_answer(
    rx: &mpsc::Receiver<Event>,
    mut out: impl FnMut(&str),
    linger: Option<Duration>,
) -> bool {
    loop {
        match rx.recv() {
            Ok(Event::Output(t)) => out(&t),
            Ok(Event::Done) => break,
            Ok(Event::Disconnected) | Err(_) => return false,
        }
    }
    if let Some(d) = linger {
        if let Ok(Event::Disconnected) | Err(mpsc::RecvTimeoutError::Disconnected) =
            rx.recv_timeout(d)
        {
            return false;
        }
    }
    true
}
