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

/// `-x`: run one command, print its output. Returns the exit code.
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
        if let Some(t) = line.strip_prefix("o ") {
            let _ = writeln!(out, "{t}");
        } else if line == "o" {
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

/// `-r`: the interactive remote console.
pub fn run_console(sock: &Path, verbose: u8) -> i32 {
    let mut s = match connect(sock) {
        Ok(s) => s,
        Err(m) => {
            eprintln!("{m}");
            return 1;
        }
    };
    let printer = Arc::new(Printer::default());
    let Ok(reader_stream) = s.try_clone() else {
        eprintln!("ferrisk: cannot use the control socket");
        return 1;
    };
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
    if writeln!(s, "verbose {verbose}").is_err() {
        eprintln!("ferrisk: lost the connection to {}", sock.display());
        return 1;
    }
    // The hello answer.
    if !wait_answer(&rx, |t| println!("Connected to {t}"), None) {
        println!("Disconnected from ferrisk server");
        return 1;
    }
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
                if writeln!(s, "cmd {line}").is_err() {
                    println!("Disconnected from ferrisk server");
                    return 0;
                }
                let pr = printer.clone();
                let stopping = lower.starts_with("core stop");
                let linger = stopping.then_some(Duration::from_secs(3));
                if !wait_answer(&rx, |t| pr.line(t), linger) {
                    println!("Disconnected from ferrisk server");
                    return 0;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => {
                println!("\nUse EXIT or QUIT to exit the ferrisk console");
                break;
            }
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
