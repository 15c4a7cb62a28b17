//! Running one AGI: start the script (`tokio::process`, stdin and stdout as the pipe) or
//! connect to the FastAGI server, send the environment, then serve command lines until
//! the script is done, telling it about a hangup (SIGHUP, or the `HANGUP` line) as
//! res_agi's `run_agi` does. The decisions are [`Session`]'s; this file only moves bytes.

use super::commands;
use super::protocol::{
    find_command, usage_reply, CmdResult, Environment, LineAction, Outcome, Session, Target, DEAD,
    INVALID,
};
use crate::pbx::app::AppResult;
use crate::pbx::bridge::AbortOnDrop;
use crate::pbx::{Channel, Hangup};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// How long a FastAGI connection may take (res_agi's `MAX_AGI_CONNECT`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(2000);

/// Longest command line kept; the rest of a longer line is dropped.
const MAX_LINE: u64 = 64 * 1024;

/// Both sides of the conversation: the writer (with `agi set debug` output) and the lines
/// read from the script.
pub struct Link {
    out: Box<dyn AsyncWrite + Send + Unpin>,
    debug: Arc<AtomicBool>,
    lines: mpsc::Receiver<String>,
    /// A line that arrived while a command was running.
    early: Option<String>,
}

impl Link {
    pub fn new(
        out: Box<dyn AsyncWrite + Send + Unpin>,
        debug: Arc<AtomicBool>,
        lines: mpsc::Receiver<String>,
    ) -> Link {
        Link {
            out,
            debug,
            lines,
            early: None,
        }
    }

    /// Wait until the script sends its next line (kept for the loop) or closes its side
    /// (the loop then sees the end: the channel is closed for good).
    pub async fn wait_command(&mut self) {
        if self.early.is_none() {
            self.early = self.lines.recv().await;
        }
    }

    /// Has the script sent its next command already (without waiting)?
    pub fn command_waiting(&mut self) -> bool {
        if self.early.is_none() {
            self.early = self.lines.try_recv().ok();
        }
        self.early.is_some()
    }

    /// Send `text` (one or more lines) to the script; a script that went away is noticed
    /// by the reader, so a failed write is only logged.
    pub async fn send(&mut self, chan: &Channel, text: &str) {
        if self.debug.load(Ordering::Relaxed) {
            chan.pbx.emit(
                0,
                format!(
                    "<{}>AGI Tx >> {}",
                    chan.name(),
                    text.strip_suffix('\n').unwrap_or(text)
                ),
            );
        }
        self.write(text).await;
    }

    /// Send without a channel (FastAGI's first lines).
    async fn send_raw(&mut self, chan: &Channel, text: &str) {
        if self.debug.load(Ordering::Relaxed) {
            chan.pbx.emit(
                0,
                format!("AGI Tx >> {}", text.strip_suffix('\n').unwrap_or(text)),
            );
        }
        self.write(text).await;
    }

    async fn write(&mut self, text: &str) {
        let r = async {
            self.out.write_all(text.as_bytes()).await?;
            self.out.flush().await
        }
        .await;
        if let Err(e) = r {
            tracing::debug!("AGI write failed: {e}");
        }
    }
}

/// Read lines into `tx` until end of file (then `tx` is dropped: the script is done).
async fn read_lines(r: impl AsyncRead + Unpin, tx: mpsc::Sender<String>) {
    let mut r = BufReader::new(r);
    loop {
        let mut buf = Vec::new();
        match (&mut r).take(MAX_LINE).read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if buf.last() != Some(&b'\n') {
            // Too long: drop the rest of the line.
            let mut rest = Vec::new();
            if buf.len() as u64 >= MAX_LINE && r.read_until(b'\n', &mut rest).await.is_err() {
                return;
            }
        }
        if tx
            .send(String::from_utf8_lossy(&buf).into_owned())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The far end of a running AGI.
enum Peer {
    Script(tokio::process::Child),
    Server,
}

static THREAD_IDS: AtomicU64 = AtomicU64::new(1);

fn environment(chan: &Channel, request: &str, args: &[String], enhanced: bool) -> Environment {
    let rdnis = chan
        .caller
        .rdnis
        .clone()
        .or_else(|| chan.redirecting.as_ref().and_then(|r| r.from.num.clone()));
    Environment {
        request: request.to_string(),
        channel: chan.name().to_string(),
        language: chan.language.clone(),
        tech: chan.tech.tech().to_string(),
        uniqueid: chan.uniqueid().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        callerid: chan.caller.num.clone(),
        calleridname: chan.caller.name.clone(),
        callingpres: 0,
        callingani2: 0,
        callington: 0,
        callingtns: 0,
        dnid: chan.caller.dnid.clone(),
        rdnis,
        context: chan.context.clone(),
        extension: chan.exten.clone(),
        priority: chan.priority,
        enhanced,
        accountcode: chan.accountcode.clone(),
        threadid: THREAD_IDS.fetch_add(1, Ordering::Relaxed),
        args: args.to_vec(),
    }
}

/// A started local script: the process, its stdin and stdout, and for EAGI the writing
/// end of its audio pipe (file descriptor 3 in the script).
struct Started {
    child: tokio::process::Child,
    stdin: Box<dyn AsyncWrite + Send + Unpin>,
    stdout: tokio::process::ChildStdout,
    audio: Option<tokio::net::unix::pipe::Sender>,
}

/// Give the child `fd` as its file descriptor 3 (EAGI's audio), between fork and exec.
fn audio_on_fd3(cmd: &mut tokio::process::Command, fd: std::os::fd::RawFd) {
    // SAFETY: the closure runs in the forked child before exec and only calls dup2(2) and
    // fcntl(2), which are async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            let r = if fd == 3 {
                // Already 3: only the close-on-exec flag must go.
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Start a local script: `Err(outcome)` when it cannot be.
async fn launch_script(
    chan: &Channel,
    script: &str,
    args: &[String],
    enhanced: bool,
) -> Result<Started, Outcome> {
    let s = &chan.pbx.settings;
    let path = if script.starts_with('/') {
        std::path::PathBuf::from(script)
    } else {
        s.astagidir.join(script)
    };
    if !crate::pbx::blocking::exists(path.clone()).await {
        chan.pbx.warning(&format!(
            "res_agi.c: Failed to execute '{}': File does not exist.",
            path.display()
        ));
        return Err(Outcome::NotFound);
    }
    let mut cmd = tokio::process::Command::new(&path);
    cmd.arg0(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("AST_CONFIG_DIR", &s.astetcdir)
        .env("AST_CONFIG_FILE", &s.config_file)
        .env("AST_SPOOL_DIR", &s.astspooldir)
        .env("AST_MONITOR_DIR", s.astspooldir.join("monitor"))
        .env("AST_VAR_DIR", &s.astdbdir)
        .env("AST_DATA_DIR", &s.astdatadir)
        .env("AST_LOG_DIR", &s.astlogdir)
        .env("AST_AGI_DIR", &s.astagidir)
        .env("AST_KEY_DIR", s.astdatadir.join("keys"))
        .env("AST_RUN_DIR", &s.astrundir);
    let pipe = if enhanced {
        match std::io::pipe() {
            Ok(p) => Some(p),
            Err(e) => {
                chan.pbx
                    .warning(&format!("res_agi.c: unable to create audio pipe: {e}"));
                return Err(Outcome::Failure);
            }
        }
    } else {
        None
    };
    if let Some((r, _)) = &pipe {
        audio_on_fd3(&mut cmd, std::os::fd::AsRawFd::as_raw_fd(r));
    }
    let spawned = cmd.spawn();
    // The child has its copy of the reading end now (or never will).
    let audio = pipe.and_then(|(_, w)| {
        tokio::net::unix::pipe::Sender::from_owned_fd(std::os::fd::OwnedFd::from(w)).ok()
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            chan.pbx.warning(&format!(
                "res_agi.c: Failed to execute '{}': {e}",
                path.display()
            ));
            return Err(Outcome::Failure);
        }
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Outcome::Failure);
    };
    chan.pbx
        .verbose_line(3, &format!("Launched AGI Script {}", path.display()));
    Ok(Started {
        child,
        stdin: Box::new(stdin),
        stdout,
        audio,
    })
}

/// Connect to a FastAGI server: the socket, or `Err` (warned).
async fn launch_network(
    chan: &Channel,
    url: &str,
    host: &str,
    port: u16,
) -> Result<tokio::net::TcpStream, Outcome> {
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(a) => a.collect(),
        Err(_) => Vec::new(),
    };
    if addrs.is_empty() {
        chan.pbx
            .warning(&format!("res_agi.c: Unable to locate host '{host}'"));
        return Err(Outcome::Failure);
    }
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => chan.pbx.warning(&format!(
                "res_agi.c: Connecting to '{addr}' failed for url '{url}': {e}"
            )),
            Err(_) => chan.pbx.warning(&format!(
                "res_agi.c: FastAGI connection to '{url}' timed out after MAX_AGI_CONNECT ({}) milliseconds.",
                CONNECT_TIMEOUT.as_millis()
            )),
        }
    }
    chan.pbx
        .warning("res_agi.c: Couldn't connect to any host.  FastAGI failed.");
    Err(Outcome::Failure)
}

/// AGI() and EAGI(): run the script or server named by `data` on `chan`.
pub async fn agi(
    chan: &mut Channel,
    data: &str,
    enhanced: bool,
    debug: Arc<AtomicBool>,
) -> AppResult {
    if data.trim().is_empty() {
        chan.pbx
            .warning("res_agi.c: AGI requires an argument (script)");
        return Err(Hangup);
    }
    let dead = chan.check_hangup();
    let mut a = crate::apps::args::split(data, ',');
    a.truncate(super::protocol::MAX_ARGS);
    let request = a.first().cloned().unwrap_or_default();
    let args = a.get(1..).map(<[String]>::to_vec).unwrap_or_default();
    let outcome = match launch(chan, &request, &args, enhanced, dead, debug).await {
        Ok(o) | Err(o) => o,
    };
    chan.set_var("AGISTATUS", outcome.status());
    if outcome == Outcome::Hangup {
        return Err(Hangup);
    }
    Ok(())
}

async fn launch(
    chan: &mut Channel,
    request: &str,
    args: &[String],
    enhanced: bool,
    dead: bool,
    debug: Arc<AtomicBool>,
) -> Result<Outcome, Outcome> {
    match Target::parse(request) {
        Some(Target::Local(script)) => {
            let st = launch_script(chan, &script, args, enhanced).await?;
            let (tx, rx) = mpsc::channel(16);
            let reader = AbortOnDrop(tokio::spawn(read_lines(st.stdout, tx)));
            let far = Far {
                peer: Peer::Script(st.child),
                link: Link::new(st.stdin, debug, rx),
                _reader: reader,
                audio: st.audio,
            };
            Ok(serve(chan, request, args, enhanced, dead, far).await)
        }
        Some(Target::Fast { .. }) if enhanced => {
            // As res_agi: EAGI's audio cannot travel over a FastAGI socket.
            Err(Outcome::Failure)
        }
        Some(Target::Fast { host, port, script }) => {
            let sock = launch_network(chan, request, &host, port).await?;
            let (r, w) = sock.into_split();
            let (tx, rx) = mpsc::channel(16);
            let reader = AbortOnDrop(tokio::spawn(read_lines(r, tx)));
            let mut link = Link::new(Box::new(w), debug, rx);
            link.send_raw(chan, "agi_network: yes\n").await;
            if !script.is_empty() {
                link.send_raw(chan, &format!("agi_network_script: {script}\n"))
                    .await;
            }
            let far = Far {
                peer: Peer::Server,
                link,
                _reader: reader,
                audio: None,
            };
            Ok(serve(chan, request, args, enhanced, dead, far).await)
        }
        Some(Target::HighAvailability) => {
            chan.pbx.warning(&format!(
                "res_agi.c: hagi:// (FastAGI through DNS SRV records) is not supported by ferrisk: '{request}'"
            ));
            Err(Outcome::Failure)
        }
        Some(Target::Async) => {
            chan.pbx
                .warning("res_agi.c: AsyncAGI (agi:async) is not supported by ferrisk yet");
            Err(Outcome::Failure)
        }
        None => {
            chan.pbx.warning(&format!(
                "res_agi.c: An error occurred parsing the AGI URI: {request}"
            ));
            Err(Outcome::Failure)
        }
    }
}

/// The other side of a running AGI: who it is, the conversation, the reading task.
struct Far {
    peer: Peer,
    link: Link,
    _reader: AbortOnDrop,
    /// EAGI: the caller's audio goes here (16-bit signed linear, 8 kHz, native order).
    audio: Option<tokio::net::unix::pipe::Sender>,
}

/// Tell the far end the channel hung up.
async fn notify_hangup(peer: &mut Peer, link: &mut Link, chan: &Channel) {
    match peer {
        Peer::Script(child) => {
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) with a pid we started and have not reaped yet.
                let r = unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) };
                if r != 0 {
                    chan.pbx.warning(&format!(
                        "res_agi.c: unable to send SIGHUP to AGI process {pid}: {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
        }
        Peer::Server => link.send(chan, "HANGUP\n").await,
    }
}

async fn serve(
    chan: &mut Channel,
    request: &str,
    args: &[String],
    enhanced: bool,
    dead: bool,
    far: Far,
) -> Outcome {
    let Far {
        mut peer,
        mut link,
        _reader,
        audio,
    } = far;
    let mut sess = Session::new(
        dead,
        chan.get_var("AGISIGHUP").as_deref(),
        chan.get_var("AGIEXITONHANGUP").as_deref(),
    );
    let env = environment(chan, request, args, enhanced).text();
    link.send(chan, &env).await;
    let mut finished = false;
    loop {
        let line = if let Some(l) = link.early.take() {
            Some(l)
        } else if sess.dead {
            link.lines.recv().await
        } else {
            let got = tokio::select! {
                l = link.lines.recv() => Ok(l),
                // Idle: what the caller sends is dropped (EAGI: its audio goes to fd 3),
                // a hangup is told.
                f = chan.read_frame(None) => Err(f),
            };
            match got {
                Ok(l) => l,
                Err(Ok(f)) => {
                    if let (Some(a), Some(crate::pbx::media::Frame::Voice(v))) = (&audio, f) {
                        let bytes: Vec<u8> = v.iter().flat_map(|s| s.to_ne_bytes()).collect();
                        // As res_agi: a full pipe or a reader gone loses the audio.
                        let _ = a.try_write(&bytes);
                    }
                    continue;
                }
                Err(Err(Hangup)) => {
                    let h = sess.hangup();
                    if h.notify {
                        notify_hangup(&mut peer, &mut link, chan).await;
                    }
                    if h.stop {
                        break;
                    }
                    continue;
                }
            }
        };
        let raw = line.clone();
        match sess.line(line.as_deref()) {
            LineAction::Finished => {
                chan.pbx.verbose_line(
                    3,
                    &format!(
                        "<{}>AGI Script {request} completed, returning {}",
                        chan.name(),
                        sess.outcome().code()
                    ),
                );
                finished = true;
                break;
            }
            LineAction::Failed => break,
            LineAction::Command { argv, dead } => {
                if link.debug.load(Ordering::Relaxed) {
                    let l = raw.unwrap_or_default();
                    let l = l.strip_suffix('\n').unwrap_or(&l);
                    chan.pbx.emit(0, format!("<{}>AGI Rx << {l}", chan.name()));
                }
                let Some(spec) = find_command(&argv) else {
                    link.send(chan, INVALID).await;
                    continue;
                };
                if dead && !spec.dead {
                    link.send(chan, DEAD).await;
                    continue;
                }
                match commands::run(&mut link, chan, spec, &argv).await {
                    CmdResult::Success => {}
                    CmdResult::ShowUsage => link.send(chan, &usage_reply(spec)).await,
                    CmdResult::Failure => sess.command_failed(chan.check_hangup()),
                }
            }
        }
    }
    let mut outcome = sess.outcome();
    match &mut peer {
        Peer::Script(child) => {
            if finished {
                // The script closed its output: wait for it as res_agi's waitpid does.
                let st = child.wait().await;
                if outcome == Outcome::Success && !st.map(|s| s.success()).unwrap_or(false) {
                    outcome = Outcome::Failure;
                }
            } else {
                if sess.send_sighup {
                    notify_hangup(&mut peer, &mut link, chan).await;
                }
                if let Peer::Script(child) = &mut peer {
                    if let Ok(Some(st)) = child.try_wait() {
                        if outcome == Outcome::Success && !st.success() {
                            outcome = Outcome::Failure;
                        }
                    }
                }
                // Otherwise tokio reaps it in the background when it ends.
            }
        }
        Peer::Server => {
            if sess.send_sighup {
                link.send(chan, "HANGUP\n").await;
            }
        }
    }
    outcome
}
