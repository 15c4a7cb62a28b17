//! Shared end-to-end helpers: the real `ferrisk` daemon on a temporary config, free
//! loopback ports, and runners for the real SIP test peers (SIPp, baresip).
//!
//! A test that needs `sipp` or `baresip` fails with a clear message when the binary is
//! missing (contrib/test.sh installs them); it never skips.
#![allow(dead_code)]

pub mod audio;
pub mod dovecot;
pub mod festival;
pub mod prosody;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod smtp;

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrisk");

/// The ferrisk.conf every test daemon uses: all directories inside the test's dir.
pub const FERRISK_CONF: &str = "[directories]\nastetcdir => .\nastdbdir => lib\nastlogdir => log\nastrundir => run\nastspooldir => spool\n\n[options]\nverbose = 0\n";

/// [`FERRISK_CONF`] with a data directory (`data/`, sounds under `data/sounds`) in the
/// test's dir too.
pub const FERRISK_CONF_DATA: &str = "[directories]\nastetcdir => .\nastdbdir => lib\n\
    astlogdir => log\nastrundir => run\nastspooldir => spool\nastdatadir => data\n\n\
    [options]\nverbose = 0\n";

/// [`FERRISK_CONF_DATA`] with `verbose = 3`: tests that wait for console lines
/// ([`Daemon::wait_console`]).
pub const FERRISK_CONF_V3: &str = "[directories]\nastetcdir => .\nastdbdir => lib\n\
    astlogdir => log\nastrundir => run\nastspooldir => spool\nastdatadir => data\n\n\
    [options]\nverbose = 3\n";

pub fn tempdir() -> tempfile::TempDir {
    // Short paths: UNIX socket names must stay under ~100 bytes.
    tempfile::Builder::new()
        .prefix("fk")
        .tempdir_in("/tmp")
        .expect("tempdir")
}

/// Write `ferrisk.conf` and `extensions.conf`; return the ferrisk.conf path.
pub fn write_config(dir: &Path, extensions: &str) -> PathBuf {
    write_configs(dir, &[("extensions.conf", extensions)])
}

/// Write `ferrisk.conf` (unless given) and every `(file name, text)`; return the
/// ferrisk.conf path.
pub fn write_configs(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let conf = dir.join("ferrisk.conf");
    if !files.iter().any(|(n, _)| *n == "ferrisk.conf") {
        std::fs::write(&conf, FERRISK_CONF).expect("write ferrisk.conf");
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }
    conf
}

// ---------------------------------------------------------------------------------------
// Ports

static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn port_free(p: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
}

/// `n` consecutive ports, each free for both UDP and TCP on 127.0.0.1, never handed out
/// before in this process. Chosen below the kernel's ephemeral range so outgoing sockets
/// do not take them meanwhile.
pub fn free_ports(n: u16) -> u16 {
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    // Start somewhere depending on the process, so parallel test binaries rarely collide.
    let mut base = 20000 + (std::process::id() % 500) as u16 * 20;
    for _ in 0..2000 {
        if base + n >= 32000 {
            base = 20000;
        }
        if (base..base + n).all(|p| !taken.contains(&p) && port_free(p)) {
            taken.extend(base..base + n);
            return base;
        }
        base += n.max(1);
    }
    panic!("no {n} free consecutive ports on 127.0.0.1");
}

/// One port free for UDP and TCP on 127.0.0.1.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// Panic (never skip) when a test peer binary is missing.
pub fn require_bin(bin: &str, package: &str) -> PathBuf {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(bin);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "`{bin}` is not installed (Debian package `{package}`): this test needs the real \
         peer. Run contrib/test.sh, or `apt-get install --no-install-recommends {package}`."
    );
}

/// A self-signed certificate for `cn` in `dir`: (`cert.pem`, `key.pem`).
pub fn self_signed_cert(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    self_signed_cert_with(dir, cn, &[])
}

/// As [`self_signed_cert`], with `-addext` extensions (`subjectAltName=IP:127.0.0.1`, …).
pub fn self_signed_cert_with(dir: &Path, cn: &str, addext: &[&str]) -> (PathBuf, PathBuf) {
    require_bin("openssl", "openssl");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={cn}"))
        .args(addext.iter().flat_map(|e| ["-addext", e]))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "self-signed certificate");
    (cert, key)
}

/// Poll `f` every 50 ms until it returns Some, or panic with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// The daemon

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
}

/// Run `ferrisk -f -C conf`, expecting it to refuse to start: its stderr once it exits
/// (non-zero), or a panic when it keeps running for 20 s or exits 0.
pub fn start_must_fail(conf: &Path) -> String {
    let mut child = Command::new(BIN)
        .arg("-f")
        .arg("-C")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferrisk kept running although its configuration should stop it");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let out = child.wait_with_output().expect("output");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Daemon {
    pub fn start(extensions: &str) -> Daemon {
        Daemon::start_in(tempdir(), extensions)
    }

    pub fn start_in(dir: tempfile::TempDir, extensions: &str) -> Daemon {
        write_config(dir.path(), extensions);
        Daemon::launch(dir)
    }

    /// Start on a fresh dir holding these config files (ferrisk.conf is added if absent).
    pub fn start_with(files: &[(&str, &str)]) -> Daemon {
        let dir = tempdir();
        write_configs(dir.path(), files);
        Daemon::launch(dir)
    }

    /// Start ferrisk -f on a dir already holding its configuration.
    pub fn launch(dir: tempfile::TempDir) -> Daemon {
        let conf = dir.path().join("ferrisk.conf");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr.log");
        let out = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout.log");
        let child = Command::new(BIN)
            .arg("-f")
            .arg("-C")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .spawn()
            .expect("spawn ferrisk");
        let mut d = Daemon {
            child: Some(child),
            dir,
        };
        let sock = d.dir.path().join("run/ferrisk.ctl");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            if let Some(Ok(Some(st))) = d.child.as_mut().map(|c| c.try_wait()) {
                panic!("ferrisk exited at startup ({st}): {}", d.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "control socket never appeared: {}",
                d.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// What the daemon's console printed so far (`verbose` in ferrisk.conf decides how much).
    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Wait (up to 40 s) until the console shows `needle` at least `n` times.
    pub fn wait_console(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let c = self.console();
            if c.matches(needle).count() >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "console never showed {needle:?} {n} times:\n{c}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("ferrisk.conf")
    }

    /// What the daemon wrote on stderr so far (for assertion messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn rx_output(&self, cmd: &str) -> Output {
        Command::new(BIN)
            .arg("-C")
            .arg(self.conf())
            .arg("-rx")
            .arg(cmd)
            .output()
            .expect("run ferrisk -rx")
    }

    /// Run a command; assert it succeeded; return stdout.
    pub fn rx(&self, cmd: &str) -> String {
        let o = self.rx_output(cmd);
        assert!(o.status.success(), "`{cmd}` failed: {o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Poll a CLI command until its output satisfies `ok`; return that output.
    pub fn rx_until(&self, cmd: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let o = self.rx_output(cmd);
            let s = String::from_utf8_lossy(&o.stdout).into_owned();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "`{cmd}` never gave the expected output; last:\n{s}\nferrisk stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn write_extensions(&self, text: &str) {
        std::fs::write(self.dir.path().join("extensions.conf"), text).expect("write");
    }

    /// `kill -9` the daemon and hand back its directory (for a restart on the same data).
    pub fn kill9(mut self) -> tempfile::TempDir {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
        std::mem::replace(&mut self.dir, tempdir())
    }

    /// Poll `database get family key` until it answers, return the value.
    pub fn wait_db(&self, family: &str, key: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self.rx_output(&format!("database get {family} {key}"));
            let s = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some(v) = s.strip_prefix("Value: ") {
                return v.trim_end().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "{family}/{key} never written: {s}\nferrisk stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// SIPp

/// The scenario directory, tests/sipp/.
pub fn sipp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

/// One SIPp run: `sipp [remote] -sf tests/sipp/<scenario> -i 127.0.0.1 -mi 127.0.0.1
/// -nostdin -m N -timeout T -timeout_error -trace_err -trace_msg -trace_logs …`.
pub struct Sipp {
    scenario: String,
    remote: Option<String>,
    args: Vec<String>,
    calls: u32,
    timeout: u32,
    dir: tempfile::TempDir,
    /// -i/-mi: the local address (another loopback address plays another machine).
    ip: String,
}

/// A finished SIPp run: exit status and its log files.
pub struct SippResult {
    pub scenario: String,
    pub status: ExitStatus,
    /// -trace_err: errors and unexpected messages.
    pub errors: String,
    /// -trace_msg: every SIP message sent and received.
    pub messages: String,
    /// -trace_logs: the scenario's <log> actions.
    pub logs: String,
    /// SIPp's screen output.
    pub screen: String,
}

impl Sipp {
    /// `scenario` is a file name in tests/sipp/; `remote` the port on 127.0.0.1 to send
    /// to (None for a pure UAS).
    pub fn new(scenario: &str, remote: Option<u16>) -> Sipp {
        require_bin("sipp", "sip-tester");
        let path = sipp_dir().join(scenario);
        assert!(path.is_file(), "no SIPp scenario {}", path.display());
        Sipp {
            scenario: scenario.to_string(),
            remote: remote.map(|p| format!("127.0.0.1:{p}")),
            args: Vec::new(),
            calls: 1,
            timeout: 10,
            dir: tempdir(),
            ip: "127.0.0.1".into(),
        }
    }

    /// Send from this local address (`127.0.0.2`: another machine on loopback).
    pub fn local_ip(mut self, ip: &str) -> Sipp {
        self.ip = ip.to_string();
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Sipp {
        self.args.push(a.into());
        self
    }

    fn arg2(self, a: &str, b: impl ToString) -> Sipp {
        self.arg(a).arg(b.to_string())
    }

    /// -p: the local SIP port.
    pub fn local_port(self, p: u16) -> Sipp {
        self.arg2("-p", p)
    }
    /// -s: the [service] keyword (Request-URI / AOR user).
    pub fn service(self, s: &str) -> Sipp {
        self.arg2("-s", s)
    }
    /// -au/-ap: digest credentials for [authentication].
    pub fn auth(self, user: &str, pass: &str) -> Sipp {
        self.arg2("-au", user).arg2("-ap", pass)
    }
    /// -key name value: the [name] keyword in messages.
    pub fn key(self, name: &str, value: impl ToString) -> Sipp {
        self.arg("-key").arg(name).arg(value.to_string())
    }
    /// -set name value: a global variable the scenario compares against.
    pub fn set(self, name: &str, value: impl ToString) -> Sipp {
        self.arg("-set").arg(name).arg(value.to_string())
    }
    /// -oocsf: the scenario for out-of-call requests (e.g. the INVITE to a registered phone).
    pub fn oocsf(self, scenario: &str) -> Sipp {
        let p = sipp_dir().join(scenario);
        self.arg2("-oocsf", p.display())
    }
    /// -inf: a CSV injection file.
    pub fn inf(self, csv: &Path) -> Sipp {
        self.arg2("-inf", csv.display())
    }
    /// -m: how many calls before exiting (default 1).
    pub fn calls(mut self, m: u32) -> Sipp {
        self.calls = m;
        self
    }
    /// -r/-rp: call rate, `r` calls every `period_ms`.
    pub fn rate(self, r: u32, period_ms: u32) -> Sipp {
        self.arg2("-r", r).arg2("-rp", period_ms)
    }
    /// -l: at most this many simultaneous calls.
    pub fn limit(self, l: u32) -> Sipp {
        self.arg2("-l", l)
    }
    /// -timeout in seconds (default 10), a failure when hit.
    pub fn timeout(mut self, secs: u32) -> Sipp {
        self.timeout = secs;
        self
    }

    fn command(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("sipp");
        if let Some(r) = &self.remote {
            c.arg(r);
        }
        c.arg("-sf")
            .arg(sipp_dir().join(&self.scenario))
            .args(["-i", &self.ip, "-mi", &self.ip, "-nostdin"])
            .arg("-m")
            .arg(self.calls.to_string())
            .arg("-timeout")
            .arg(self.timeout.to_string())
            .args(["-timeout_error", "-trace_err", "-trace_msg", "-trace_logs"])
            .arg("-error_file")
            .arg(d.join("errors.log"))
            .arg("-message_file")
            .arg(d.join("messages.log"))
            .arg("-log_file")
            .arg(d.join("logs.log"))
            .args(&self.args)
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(d.join("screen.log")).expect("screen.log"))
            .stderr(Stdio::null());
        c
    }

    /// Run to the end.
    pub fn run(self) -> SippResult {
        let status = self.command().status().expect("run sipp");
        self.result(status)
    }

    /// Start in the background (a UAS, a registered phone).
    pub fn spawn(self) -> SippChild {
        let child = self.command().spawn().expect("spawn sipp");
        // Let it bind its port before the test sends it anything.
        std::thread::sleep(Duration::from_millis(200));
        SippChild {
            child: Some(child),
            sipp: Some(self),
        }
    }

    fn result(&self, status: ExitStatus) -> SippResult {
        let d = self.dir.path();
        let read = |n: &str| std::fs::read_to_string(d.join(n)).unwrap_or_default();
        SippResult {
            scenario: self.scenario.clone(),
            status,
            errors: read("errors.log"),
            messages: read("messages.log"),
            logs: read("logs.log"),
            screen: read("screen.log"),
        }
    }
}

/// A SIPp in the background; killed when dropped.
pub struct SippChild {
    child: Option<Child>,
    sipp: Option<Sipp>,
}

impl SippChild {
    /// Wait for it to finish (bounded by its -timeout plus a margin).
    pub fn wait(mut self) -> SippResult {
        let mut child = self.child.take().expect("child");
        let sipp = self.sipp.take().expect("sipp");
        let deadline = Instant::now() + Duration::from_secs(u64::from(sipp.timeout) + 10);
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait sipp") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().expect("wait sipp");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        sipp.result(status)
    }

    /// Kill it now and return what it did so far (a phone that should receive nothing).
    pub fn stop(mut self) -> SippResult {
        let mut child = self.child.take().expect("child");
        let sipp = self.sipp.take().expect("sipp");
        let _ = child.kill();
        let status = child.wait().expect("wait sipp");
        sipp.result(status)
    }

    /// True while it runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One SIP message from a SIPp message log.
#[derive(Debug, Clone)]
pub struct SipMsg {
    pub received: bool,
    pub start_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl SipMsg {
    /// Status code of a response.
    pub fn status(&self) -> Option<u16> {
        let rest = self.start_line.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }
    /// "403 Forbidden" of a response.
    pub fn status_line(&self) -> &str {
        self.start_line.strip_prefix("SIP/2.0 ").unwrap_or("")
    }
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// All values of a header, comma-separated lists split (for Contact).
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }
    /// The set of header names, lower-cased and sorted.
    pub fn header_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Split a header value on commas outside <…> and quotes.
fn split_list(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut angle, mut quote) = (String::new(), false, false);
    for ch in v.chars() {
        match ch {
            '"' => quote = !quote,
            '<' if !quote => angle = true,
            '>' if !quote => angle = false,
            ',' if !quote && !angle => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

impl SippResult {
    /// What tests/sipp/mwi_notify_uas.xml logged for each NOTIFY, in order:
    /// `"<new>/<old> waiting=<yes|no>"`.
    pub fn mwi_notifies(&self) -> Vec<String> {
        self.logs
            .lines()
            .filter_map(|l| l.split("NOTIFY vm=").nth(1))
            .map(|s| s.split(" event=").next().unwrap_or("").trim().to_string())
            .collect()
    }

    /// Index of the NOTIFY `want` in [`SippResult::mwi_notifies`]; panics when absent.
    pub fn mwi_notify_position(&self, want: &str) -> usize {
        let seen = self.mwi_notifies();
        seen.iter()
            .position(|s| s == want)
            .unwrap_or_else(|| panic!("no NOTIFY {want}: {seen:?}\n{}", self.describe()))
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Everything worth showing when an assertion fails.
    pub fn describe(&self) -> String {
        let msgs = &self.messages;
        let tail = if msgs.len() > 6000 {
            &msgs[msgs.len() - 6000..]
        } else {
            msgs
        };
        format!(
            "SIPp {} exited with {}\n--- errors:\n{}\n--- logs:\n{}\n--- messages (tail):\n{}",
            self.scenario, self.status, self.errors, self.logs, tail
        )
    }

    /// Assert SIPp exited 0.
    pub fn assert_ok(&self, what: &str) -> &SippResult {
        assert!(self.success(), "{what}: {}", self.describe());
        self
    }

    /// Every message in the message log, in order.
    pub fn all_messages(&self) -> Vec<SipMsg> {
        let mut out = Vec::new();
        for block in self
            .messages
            .split("\n-----------------------------------------------")
        {
            let mut lines = block.lines();
            // Block header: " <date>" then "UDP message received…/sent…".
            let mut dir = None;
            for l in lines.by_ref() {
                if l.contains("message received") {
                    dir = Some(true);
                    break;
                }
                if l.contains("message sent") {
                    dir = Some(false);
                    break;
                }
            }
            let Some(received) = dir else { continue };
            let mut lines = lines
                .map(|l| l.trim_end_matches('\r'))
                .skip_while(|l| l.is_empty());
            let Some(start) = lines.next() else { continue };
            let mut headers = Vec::new();
            for l in lines.by_ref() {
                if l.is_empty() {
                    break;
                }
                if let Some((n, v)) = l.split_once(':') {
                    headers.push((n.trim().to_string(), v.trim().to_string()));
                }
            }
            let body: Vec<&str> = lines.collect();
            out.push(SipMsg {
                received,
                start_line: start.to_string(),
                headers,
                body: body.join("\n").trim().to_string(),
            });
        }
        out
    }

    /// Responses SIPp received, in order.
    pub fn responses(&self) -> Vec<SipMsg> {
        self.all_messages()
            .into_iter()
            .filter(|m| m.received && m.start_line.starts_with("SIP/2.0 "))
            .collect()
    }

    /// The last response received.
    pub fn last_response(&self) -> SipMsg {
        self.responses()
            .pop()
            .unwrap_or_else(|| panic!("no response received: {}", self.describe()))
    }

    /// Requests SIPp received with this method.
    pub fn requests(&self, method: &str) -> Vec<SipMsg> {
        self.all_messages()
            .into_iter()
            .filter(|m| m.received && m.start_line.starts_with(&format!("{method} ")))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// baresip

/// Write an 8 kHz 16-bit mono WAV: `secs` seconds of a 440 Hz tone.
pub fn write_tone_wav(path: &Path, secs: u32) {
    let n = 8000 * secs;
    let mut data = Vec::with_capacity(44 + 2 * n as usize);
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes()); // PCM
    data.extend_from_slice(&1u16.to_le_bytes()); // mono
    data.extend_from_slice(&8000u32.to_le_bytes());
    data.extend_from_slice(&16000u32.to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let v = (f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
        data.extend_from_slice(&(v as i16).to_le_bytes());
    }
    std::fs::write(path, data).expect("write wav");
}

/// A headless baresip with its own config dir, driven over ctrl_tcp.
pub struct Baresip {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub sip_port: u16,
    pub ctrl_port: u16,
    ctrl: Option<TcpStream>,
    buf: Vec<u8>,
    /// Every event and response seen so far (JSON text).
    pub seen: Vec<String>,
}

impl Baresip {
    /// Start baresip listening on 127.0.0.1:`sip_port` (it also binds sip_port+1 for TLS:
    /// keep instances two ports apart; `free_ports(3)` gives SIP, TLS and ctrl ports)
    /// with these accounts lines, e.g.
    /// `<sip:1000@127.0.0.1:5060>;auth_pass=secret;answermode=auto;regint=60`.
    pub fn start(ports: u16, accounts: &[String]) -> Baresip {
        Baresip::start_with(ports, accounts, None, false)
    }

    /// As `start`, sending `source` (an 8 kHz mono WAV) instead of a 440 Hz tone, and with
    /// `dump` loading the `sndfile` filter: every call's sent and received audio is saved
    /// as `dump/dump-<time>-enc.wav` and `…-dec.wav` in its dir (see `dumped`).
    pub fn start_with(
        ports: u16,
        accounts: &[String],
        source: Option<&Path>,
        dump: bool,
    ) -> Baresip {
        Baresip::start_modules(ports, accounts, source, dump, &[])
    }

    /// As `start_with`, loading these extra modules too (e.g. `srtp.so`, which fails
    /// the test when baresip has no such module), before every other module (so `mwi.so`
    /// starts well before the first REGISTER: see docs/phones.md).
    pub fn start_modules(
        ports: u16,
        accounts: &[String],
        source: Option<&Path>,
        dump: bool,
        modules: &[&str],
    ) -> Baresip {
        require_bin("baresip", "baresip-core");
        for m in modules {
            let path = Path::new("/usr/lib/baresip/modules").join(m);
            assert!(
                path.exists(),
                "baresip module {} is missing",
                path.display()
            );
        }
        let extra: String = modules
            .iter()
            .map(|m| format!("module\t\t\t{m}\n"))
            .collect();
        let dir = tempdir();
        let (sip_port, ctrl_port) = (ports, ports + 2);
        let wav = match source {
            Some(p) => p.to_path_buf(),
            None => {
                let wav = dir.path().join("tone.wav");
                write_tone_wav(&wav, 10);
                wav
            }
        };
        let dump_dir = dir.path().join("dump");
        let dump_conf = if dump {
            std::fs::create_dir_all(&dump_dir).expect("dump dir");
            format!(
                "module\t\t\tsndfile.so\nsnd_path\t\t{}\n",
                dump_dir.display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{sip_port}\n\
             net_interface\t\t127.0.0.1\n\
             audio_path\t\t/usr/share/baresip\n\
             audio_source\t\taufile,{wav}\n\
             audio_player\t\taubridge,sink\n\
             audio_alert\t\taubridge,sink\n\
             audio_srate\t\t8000\n\
             audio_channels\t\t1\n\
             rtp_ports\t\t{lo}-{hi}\n\
             module_path\t\t/usr/lib/baresip/modules\n{extra}\
             module\t\t\tg711.so\n\
             module\t\t\taufile.so\n\
             module\t\t\taubridge.so\n\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             module_app\t\tctrl_tcp.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n{dump_conf}",
            wav = wav.display(),
            lo = 40000 + (sip_port % 1000) * 20,
            hi = 40000 + (sip_port % 1000) * 20 + 19,
        );
        std::fs::write(dir.path().join("config"), config).expect("baresip config");
        std::fs::write(dir.path().join("accounts"), accounts.join("\n") + "\n")
            .expect("baresip accounts");
        std::fs::write(dir.path().join("contacts"), "").expect("baresip contacts");
        let log = std::fs::File::create(dir.path().join("baresip.log")).expect("log");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn baresip");
        let mut b = Baresip {
            child: Some(child),
            dir,
            sip_port,
            ctrl_port,
            ctrl: None,
            buf: Vec::new(),
            seen: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl_port)) {
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .expect("timeout");
                b.ctrl = Some(s);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "baresip ctrl_tcp never listened: {}",
                b.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The `sndfile` dumps (started with `dump`) whose name ends in `-<kind>.wav`, kind
    /// "dec" (received, decoded) or "enc" (sent), oldest first.
    pub fn dumped(&self, kind: &str) -> Vec<PathBuf> {
        let suffix = format!("-{kind}.wav");
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("dump"))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().ends_with(&suffix))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Send a ctrl_tcp command, e.g. ("dial", "sip:1001@127.0.0.1:5060"), ("hangup", "").
    pub fn command(&mut self, command: &str, params: &str) {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let json = format!(
            "{{\"command\":\"{}\",\"params\":\"{}\",\"token\":\"t\"}}",
            esc(command),
            esc(params)
        );
        let ns = format!("{}:{},", json.len(), json);
        self.ctrl
            .as_mut()
            .expect("ctrl")
            .write_all(ns.as_bytes())
            .expect("ctrl_tcp write");
    }

    fn read_netstrings(&mut self) {
        let mut tmp = [0u8; 4096];
        if let Some(s) = self.ctrl.as_mut() {
            match s.read(&mut tmp) {
                Ok(n) if n > 0 => self.buf.extend_from_slice(&tmp[..n]),
                _ => {}
            }
        }
        loop {
            let Some(colon) = self.buf.iter().position(|&c| c == b':') else {
                return;
            };
            let Ok(len) = std::str::from_utf8(&self.buf[..colon])
                .unwrap_or("")
                .parse::<usize>()
            else {
                self.buf.clear();
                return;
            };
            if self.buf.len() < colon + 1 + len + 1 {
                return;
            }
            let msg = String::from_utf8_lossy(&self.buf[colon + 1..colon + 1 + len]).into_owned();
            self.buf.drain(..colon + 1 + len + 1);
            self.seen.push(msg);
        }
    }

    /// Send a command and wait for its response (the JSON text).
    pub fn request(&mut self, command: &str, params: &str) -> String {
        let before = self.seen.len();
        self.command(command, params);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(r) = self.seen[before..]
                .iter()
                .find(|m| m.contains("\"response\":true"))
            {
                return r.clone();
            }
            assert!(
                Instant::now() < deadline,
                "baresip never answered `{command}`: {}",
                self.log()
            );
            self.read_netstrings();
        }
    }

    /// Wait until `reginfo` shows the account registered (the REGISTER_OK event may
    /// come before the test connects to ctrl_tcp).
    pub fn wait_registered(&mut self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.request("reginfo", "");
            if r.contains("OK") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "baresip never registered: {r}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait for an event whose JSON contains `"type":"<kind>"` (e.g. REGISTER_OK,
    /// CALL_ESTABLISHED, CALL_CLOSED); return it.
    pub fn wait_event(&mut self, kind: &str, secs: u64) -> String {
        let needle = format!("\"type\":\"{kind}\"");
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut checked = 0;
        loop {
            while checked < self.seen.len() {
                checked += 1;
                if self.seen[checked - 1].contains(&needle) {
                    return self.seen[checked - 1].clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "baresip never reported {kind}; events: {:#?}\nlog:\n{}",
                self.seen,
                self.log()
            );
            self.read_netstrings();
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGKILL: its SIGTERM handling may hang while it un-registers.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// dnsmasq

/// A dnsmasq on a free loopback port answering only the records it is given
/// (`--naptr-record=…`, `--txt-record=…`, `--srv-host=…`, `--host-record=…`).
pub struct Dnsmasq {
    child: Child,
    pub port: u16,
}

impl Dnsmasq {
    pub fn start(records: &[String]) -> Dnsmasq {
        let bin = require_bin("dnsmasq", "dnsmasq-base");
        let port = free_port();
        let child = Command::new(bin)
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--conf-file=/dev/null",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                "--pid-file=",
            ])
            .arg(format!("--port={port}"))
            .args(records)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        wait_for(10, "dnsmasq answers", || {
            let s = UdpSocket::bind("127.0.0.1:0").ok()?;
            s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
            // A query for "x." type A.
            let q = [
                0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1,
            ];
            s.send_to(&q, ("127.0.0.1", port)).ok()?;
            let mut b = [0u8; 512];
            s.recv(&mut b).ok().map(|_| ())
        });
        Dnsmasq { child, port }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SippChild {
    /// What a SIPp still running logged so far (its status reads as success meanwhile):
    /// the SDP of a call that is up, for the test to send its media there.
    pub fn so_far(&self) -> SippResult {
        use std::os::unix::process::ExitStatusExt;
        let sipp = self.sipp.as_ref().expect("sipp");
        sipp.result(ExitStatus::from_raw(0))
    }

    /// The scenario's `<log>` lines written so far (-trace_logs), while it still runs.
    pub fn logs_so_far(&self) -> String {
        self.sipp
            .as_ref()
            .map(|s| std::fs::read_to_string(s.dir.path().join("logs.log")).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// RTP played and recorded by the test itself (a leg's media through a UDP socket):
/// µ-law tones out, µ-law payloads in, and whether a recording holds a tone.
pub mod rtp_tone {
    use std::net::UdpSocket;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    /// A socket on 127.0.0.1 with a short read timeout.
    pub fn udp() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        s
    }

    fn packet(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x80, 0];
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&0x7a7a_u32.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn tone(hz: f64, ms: u64) -> Vec<i16> {
        (0..(ms * 8) as usize)
            .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    /// In a thread: send `hz` (PCMU, 20 ms pace) to 127.0.0.1:`to` for `ms`, keep every
    /// PCMU payload received.
    pub fn leg(sock: UdpSocket, to: u16, hz: f64, ms: u64) -> JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let signal = ferrisk::media::g711::ulaw_encode(&tone(hz, ms));
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            let start = Instant::now();
            for (k, f) in signal.chunks(160).enumerate() {
                let k = k as u32;
                let _ = sock.send_to(&packet(k as u16, k * 160, f), ("127.0.0.1", to));
                let next = start + Duration::from_millis(20 * u64::from(k + 1));
                while Instant::now() < next {
                    if let Ok((n, _)) = sock.recv_from(&mut buf) {
                        if n > 12 && buf[1] & 0x7f == 0 {
                            got.extend_from_slice(&buf[12..n]);
                        }
                    }
                }
            }
            got
        })
    }

    fn goertzel(s: &[i16], hz: f64) -> f64 {
        let c = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in s {
            let s0 = f64::from(x) + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - c * s1 * s2
    }

    /// Whether `ulaw` holds a clear `hz` tone (stronger than `other`) for at least 1 s.
    pub fn hears(ulaw: &[u8], hz: f64, other: f64) -> bool {
        let pcm = ferrisk::media::g711::ulaw_decode(ulaw);
        pcm.chunks(800)
            .filter(|w| {
                w.len() == 800
                    && goertzel(w, hz) > 1e9
                    && goertzel(w, hz) > 20.0 * goertzel(w, other)
            })
            .count()
            >= 10
    }
}
/// manager.conf enabling AMI on `port` for user `admin` (secret `adminpw`, read and write
/// `all`).
pub fn manager_conf(port: u16) -> String {
    format!(
        "[general]\nenabled = yes\nport = {port}\nbindaddr = 127.0.0.1\n\n\
         [admin]\nsecret = adminpw\nread = all\nwrite = all\nwritetimeout = 10000\n"
    )
}

/// A raw AMI session (a TCP connection) logged in as [`manager_conf`]'s `admin`: send
/// actions, read messages (blocks up to a blank line) as they come.
pub struct AmiSession {
    r: std::io::BufReader<TcpStream>,
    w: TcpStream,
    /// Messages read but not asked for yet, oldest first.
    pending: std::collections::VecDeque<String>,
}

impl AmiSession {
    pub fn login(port: u16) -> AmiSession {
        let deadline = Instant::now() + Duration::from_secs(15);
        let s = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "AMI never listened: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut a = AmiSession {
            r: std::io::BufReader::new(s.try_clone().expect("clone")),
            w: s,
            pending: std::collections::VecDeque::new(),
        };
        a.send("Login", &[("Username", "admin"), ("Secret", "adminpw")]);
        a.wait_for(|m| m.contains("Response: Success"), 10, "a login response");
        a
    }

    /// Send `action` with `headers`.
    pub fn send(&mut self, action: &str, headers: &[(&str, &str)]) {
        let mut m = format!("Action: {action}\r\n");
        for (k, v) in headers {
            m.push_str(&format!("{k}: {v}\r\n"));
        }
        m.push_str("\r\n");
        self.w.write_all(m.as_bytes()).expect("AMI write");
    }

    /// The oldest message for which `ok` holds, within `secs`. The others stay for later
    /// calls (an event may arrive before the response of the action that caused it).
    pub fn wait_for(&mut self, ok: impl Fn(&str) -> bool, secs: u64, what: &str) -> String {
        use std::io::BufRead;
        if let Some(i) = self.pending.iter().position(|m| ok(m)) {
            return self.pending.remove(i).expect("pending message");
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut msg = String::new();
        loop {
            if Instant::now() >= deadline {
                let last: Vec<&String> = self.pending.iter().rev().take(40).collect();
                panic!("no {what} on AMI; the last messages (newest first): {last:#?}");
            }
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) => panic!("AMI closed waiting for {what}"),
                Ok(_) if line.trim().is_empty() => {
                    if ok(&msg) {
                        return msg;
                    }
                    self.pending.push_back(std::mem::take(&mut msg));
                }
                Ok(_) => msg.push_str(&line),
                Err(_) => {}
            }
        }
    }

    /// The next event `name` (`Event: name`), within `secs`.
    pub fn event(&mut self, name: &str, secs: u64) -> String {
        let want = format!("Event: {name}\r\n");
        self.wait_for(|m| m.starts_with(&want), secs, name)
    }

    /// Send `action` and collect its answer: the response, and for a list every message
    /// up to the `complete` event (empty: the response alone).
    pub fn list(&mut self, action: &str, headers: &[(&str, &str)], complete: &str) -> Vec<String> {
        let id = format!("t{}", free_port());
        let mut h = headers.to_vec();
        h.push(("ActionID", &id));
        self.send(action, &h);
        let tag = format!("ActionID: {id}\r\n");
        let mut out = Vec::new();
        loop {
            let m = self.wait_for(|m| m.contains(&tag), 15, &format!("{action}'s answer"));
            let done = complete.is_empty()
                || m.starts_with(&format!("Event: {complete}\r\n"))
                || m.contains("Response: Error");
            out.push(m);
            if done {
                return out;
            }
        }
    }
}

/// The value of `header` in an AMI message (`""` when absent).
pub fn ami_value<'a>(msg: &'a str, header: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(header).and_then(|r| r.strip_prefix(": ")))
        .map_or("", str::trim_end)
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

use std::os::unix::process::CommandExt as _;

/// Where Debian's `postgresql` package (15) puts the server programs.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 cluster of its own on 127.0.0.1 and a free port: `initdb` into a temp
/// dir owned by the `postgres` user, and `postgres` run as that user (the tests run as
/// root, which PostgreSQL refuses), with `trust` authentication for user `postgres`.
/// [`Postgres::shared`] starts one per test binary (use a database of your own in it:
/// [`Postgres::create_db`]); [`Postgres::start`] gives a private one a test may stop and
/// start again. The server dies with the test process (`PR_SET_PDEATHSIG`).
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    /// Keeps the directory (the shared one's is removed at exit).
    _dir: Option<tempfile::TempDir>,
    pid: Mutex<Option<u32>>,
    uid: u32,
    gid: u32,
}

static PG_SHARED: std::sync::OnceLock<Postgres> = std::sync::OnceLock::new();
static PG_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn pg_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id postgres");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no 'postgres' user: install the postgresql package"))
    };
    (id("-u"), id("-g"))
}

impl Postgres {
    /// The cluster shared by the tests of this binary (started on first use).
    pub fn shared() -> &'static Postgres {
        PG_SHARED.get_or_init(|| {
            let pg = Postgres::start();
            // Stop it and remove its files when the test binary exits.
            extern "C" fn cleanup() {
                if let Some(pg) = PG_SHARED.get() {
                    pg.stop();
                    let _ = std::fs::remove_dir_all(pg.data.parent().unwrap_or(&pg.data));
                }
            }
            unsafe { libc::atexit(cleanup) };
            pg
        })
    }

    /// A private cluster.
    pub fn start() -> Postgres {
        let initdb = Path::new(PG_BIN).join("initdb");
        assert!(
            initdb.is_file(),
            "{} is missing: install the 'postgresql' package (contrib/test.sh does)",
            initdb.display()
        );
        let (uid, gid) = pg_ids();
        let dir = tempfile::Builder::new()
            .prefix("ferrisk-pg")
            .tempdir()
            .expect("tempdir");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        let data = dir.path().join("data");
        let out = Command::new(&initdb)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .current_dir(dir.path())
            .uid(uid)
            .gid(gid)
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Postgres {
            port: free_port(),
            data,
            _dir: Some(dir),
            pid: Mutex::new(None),
            uid,
            gid,
        };
        pg.run();
        pg
    }

    /// Start the server (again) on its port and wait until it answers.
    pub fn run(&self) {
        let mut cmd = Command::new(Path::new(PG_BIN).join("postgres"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .current_dir(&self.data)
            .uid(self.uid)
            .gid(self.gid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        unsafe {
            // Runs after the uid change (which would clear it): the server gets SIGINT (fast
            // shutdown) when the thread that started it ends.
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
                Ok(())
            });
        }
        // A thread that lives as long as the process starts it, so that the death signal
        // comes with the process, not with the test's thread.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = cmd.spawn();
            let _ = tx.send(child.map(|c| c.id()));
            loop {
                std::thread::park();
            }
        });
        let pid = rx.recv().expect("spawner").expect("start postgres");
        *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = Some(pid);
        wait_for(30, "PostgreSQL to answer", || {
            let out = Command::new(Path::new(PG_BIN).join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .output()
                .ok()?;
            out.status.success().then_some(())
        });
    }

    /// Stop the server (fast shutdown) and wait until it is gone.
    pub fn stop(&self) {
        let Some(pid) = self.pid.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until && unsafe { libc::kill(pid as i32, 0) } == 0 {
            // Reap it if it is our child.
            unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), libc::WNOHANG) };
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Run SQL with psql as `postgres` in database `db`; its output (`-At`: bare values,
    /// `|` between columns). Panics when psql fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run an SQL file with psql in database `db`.
    pub fn psql_file(&self, db: &str, file: &Path) {
        let out = Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", db, "-f"])
            .arg(file)
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql -f {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new, empty database with a unique name starting with `prefix`.
    pub fn create_db(&self, prefix: &str) -> String {
        let n = PG_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{prefix}_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
