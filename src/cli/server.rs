//! The control socket (`astrundir/ferrisk.ctl`, a UNIX stream socket).
//!
//! # Protocol
//! Line based, UTF-8. The client sends one request per line:
//! - `cmd <command line>`: run a CLI command;
//! - `complete <partial line>`: tab-completion candidates for the last word;
//! - `verbose <level>`: become a remote console at that verbose level (log lines start
//!   flowing; may be sent again to change the level).
//!
//! The server answers each request with zero or more frames and a terminator:
//! `o <text>` (a line of command output), `c <word>` (a completion candidate),
//! `e <status>` (end of the answer; 0 = ok). A remote console also receives
//! `l <text>` frames (console log lines) at any time between answers.
//!
//! A connection that is not a console (`-rx`) gets, before the output of each `cmd`, the
//! non-verbose log lines (notices, warnings, errors the console channel takes) logged
//! while the command ran, as `l` frames: Asterisk's `-rx` prints those and skips verbose
//! lines.

use super::{complete, execute, CliState};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// Longest request line accepted (bigger lines close the connection).
const MAX_LINE: usize = 64 * 1024;

/// Frames waiting to be written to one console at most. A console that stops reading (a
/// suspended `ferrisk -r`) loses log lines beyond this instead of growing the queue;
/// answers to its commands are never dropped.
const MAX_PENDING: usize = 4096;

/// Turn text into frames of `kind`, one per line.
pub fn frames(kind: char, text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push(kind);
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Who may use the control socket: asterisk.conf's `[files]` `astctlpermissions`,
/// `astctlowner`, `astctlgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAccess {
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Default for SocketAccess {
    fn default() -> Self {
        SocketAccess {
            mode: 0o600,
            owner: None,
            group: None,
        }
    }
}

fn uid_of(name: &str) -> std::io::Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    let c = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: getpwnam is called at start-up, before anything else looks users up; the
    // record is read at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(std::io::Error::other(format!(
            "astctlowner: no user '{name}'"
        )));
    }
    // SAFETY: non-null, points at libc's static record.
    Ok(unsafe { (*pw).pw_uid })
}

fn gid_of(name: &str) -> std::io::Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    let c = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: as in uid_of.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        return Err(std::io::Error::other(format!(
            "astctlgroup: no group '{name}'"
        )));
    }
    // SAFETY: non-null, points at libc's static record.
    Ok(unsafe { (*gr).gr_gid })
}

/// Bind the control socket, removing a stale one (nobody answering on it). The socket is
/// made in a private directory, given its mode, owner and group there, and only then moved
/// to its name: it is never reachable with looser permissions.
pub fn bind(path: &Path, access: &SocketAccess) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use: ferrisk is already running", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let private = dir.join(format!(".ctl.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::create_dir(&private)?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
    let tmp = private.join("ctl");
    let r = (|| {
        let l = UnixListener::bind(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(access.mode))?;
        let uid = access.owner.as_deref().map(uid_of).transpose()?;
        let gid = access.group.as_deref().map(gid_of).transpose()?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&tmp, uid, gid)?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(l)
    })();
    let _ = std::fs::remove_dir_all(&private);
    r
}

/// Accept connections forever.
pub async fn serve(listener: UnixListener, state: Arc<CliState>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, state.clone()));
            }
            Err(e) => {
                state
                    .pbx
                    .warning(&format!("cli: accept on control socket failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

async fn connection(stream: UnixStream, state: Arc<CliState>) {
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<String>(MAX_PENDING);
    let writer = tokio::spawn(async move {
        while let Some(s) = rx.recv().await {
            if wr.write_all(s.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut console: Option<u64> = None;
    let mut log_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut reader = BufReader::new(rd);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64);
        match limited.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !buf.ends_with(b"\n") && buf.len() >= MAX_LINE {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let reply = match verb {
            "cmd" => {
                // A console gets log lines all along; `-rx` those of its command.
                let mut logs = console.is_none().then(|| state.pbx.log_tx.subscribe());
                let out = execute(&state, rest, console).await;
                let mut reply = String::new();
                if let Some(rx) = logs.as_mut() {
                    while let Ok(l) = rx.try_recv() {
                        if l.kind != crate::pbx::Level::Verbose && l.shown(&state.pbx.logger, 0, 0)
                        {
                            reply.push_str(&frames('l', &l.text));
                        }
                    }
                }
                format!("{reply}{}e 0\n", frames('o', &out))
            }
            "complete" => {
                let c = complete(&state, rest);
                format!("{}e 0\n", frames('c', &c.join("\n")))
            }
            "verbose" => {
                let level: u8 = rest.trim().parse().unwrap_or(0);
                match console {
                    Some(id) => state.verbosity.set_console(&state.pbx, id, level),
                    None => {
                        let id = state.verbosity.new_console(&state.pbx, level);
                        console = Some(id);
                        log_task = Some(tokio::spawn(forward_logs(state.clone(), id, tx.clone())));
                    }
                }
                let hello = format!(
                    "ferrisk {} currently running on {} (pid = {})",
                    env!("CARGO_PKG_VERSION"),
                    hostname(),
                    std::process::id()
                );
                format!("o {hello}\ne 0\n")
            }
            _ => "o Unknown request\ne 1\n".to_string(),
        };
        if tx.send(reply).await.is_err() {
            break;
        }
    }
    if let Some(id) = console {
        state.verbosity.drop_console(&state.pbx, id);
    }
    if let Some(t) = log_task {
        t.abort();
    }
    drop(tx);
    let _ = writer.await;
}

async fn forward_logs(state: Arc<CliState>, id: u64, tx: mpsc::Sender<String>) {
    let mut rx = state.pbx.log_tx.subscribe();
    loop {
        match rx.recv().await {
            Ok(l) => {
                let v = &state.verbosity;
                if !l.shown(&state.pbx.logger, v.console(id), v.levels_off(Some(id))) {
                    continue;
                }
                match tx.try_send(frames('l', &l.text)) {
                    // A console that does not read loses lines, never memory.
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        }
    }
}

/// This machine's host name (`localhost` when it has none).
pub fn hostname() -> String {
    let h = crate::logger::hostname();
    if h.is_empty() {
        "localhost".into()
    } else {
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        assert_eq!(frames('o', "a\nb\n"), "o a\no b\n");
        assert_eq!(frames('o', ""), "");
        assert_eq!(frames('o', "\n"), "o \n");
    }
}
