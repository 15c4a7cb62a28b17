//! A real Prosody XMPP server for the res_xmpp tests, and a real XMPP "person" (a
//! slixmpp client, tests/xmpp/person.py) driven over stdin/stdout.
//!
//! Prosody runs in the foreground from a from-scratch config under a temporary directory:
//! one c2s port (STARTTLS required, self-signed certificate), no s2s/HTTP, VirtualHost
//! `localhost` and the MUC component `conference.localhost`. Users are registered offline
//! with `prosodyctl` before it starts. Debian's `prosody` package and pip's `slixmpp`
//! (installed by contrib/test.sh); see shared/notes/peers.md for the gotchas.

use super::{free_port, require_bin, wait_for};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Prosody {
    child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
    /// The VirtualHost: "localhost".
    pub domain: String,
    /// The MUC component: "conference.localhost".
    pub muc: String,
    conf: PathBuf,
}

impl Prosody {
    /// Write the config under `dir/prosody`, register these `(user, password)` accounts
    /// on `localhost`, and start Prosody.
    pub fn start(dir: &Path, users: &[(&str, &str)]) -> Prosody {
        require_bin("prosody", "prosody");
        require_bin("prosodyctl", "prosody");
        require_bin("openssl", "openssl");
        let dir = dir.join("prosody");
        std::fs::create_dir_all(dir.join("data")).expect("prosody data dir");
        // An (empty) certificates dir: without it Prosody logs "Error indexing
        // certificate directory"; the key and cert are named explicitly below.
        std::fs::create_dir_all(dir.join("certs")).expect("prosody certs dir");
        let (cert, key) = super::self_signed_cert(&dir, "localhost");
        let port = free_port();
        let conf = dir.join("prosody.cfg.lua");
        std::fs::write(
            &conf,
            format!(
                "-- ferrisk test Prosody (tests/common/prosody.rs)\n\
                 run_as_root = true\n\
                 pidfile = \"{d}/prosody.pid\"\n\
                 data_path = \"{d}/data\"\n\
                 certificates = \"{d}/certs\"\n\
                 log = {{ {{ levels = {{ min = \"debug\" }}, to = \"file\", filename = \"{d}/prosody.log\" }} }}\n\
                 interfaces = {{ \"127.0.0.1\" }}\n\
                 c2s_ports = {{ {port} }}\n\
                 c2s_direct_tls_ports = {{}}\n\
                 legacy_ssl_ports = {{}}\n\
                 s2s_ports = {{}}\n\
                 http_ports = {{}}\n\
                 https_ports = {{}}\n\
                 c2s_require_encryption = true\n\
                 authentication = \"internal_plain\"\n\
                 ssl = {{ key = \"{key}\"; certificate = \"{cert}\" }}\n\
                 modules_enabled = {{ \"roster\"; \"saslauth\"; \"tls\"; \"disco\"; \"ping\"; \"presence\"; \"posix\" }}\n\
                 modules_disabled = {{ \"s2s\" }}\n\
                 VirtualHost \"localhost\"\n\
                 Component \"conference.localhost\" \"muc\"\n\
                 \x20   muc_room_locking = false\n",
                d = dir.display(),
                key = key.display(),
                cert = cert.display(),
            ),
        )
        .expect("prosody.cfg.lua");
        let mut p = Prosody {
            child: None,
            dir,
            port,
            domain: "localhost".into(),
            muc: "conference.localhost".into(),
            conf,
        };
        for (user, pass) in users {
            p.register(user, pass);
        }
        p.run();
        p
    }

    /// Register (or re-password) `user@localhost` with `prosodyctl` (works offline).
    pub fn register(&self, user: &str, pass: &str) {
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(&self.conf)
            .args(["register", user, &self.domain, pass])
            .stdin(Stdio::null())
            .output()
            .expect("prosodyctl");
        assert!(
            out.status.success(),
            "prosodyctl register {user}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `user@localhost`.
    pub fn jid(&self, user: &str) -> String {
        format!("{user}@{}", self.domain)
    }

    /// Start Prosody (again, after [`Prosody::stop`]) on the same port and data.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "prosody is already running");
        let open = |name: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let child = Command::new("prosody")
            .arg("--config")
            .arg(&self.conf)
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(open("stdout.log"))
            .stderr(open("stderr.log"))
            .spawn()
            .expect("spawn prosody");
        // Stored first: a failed wait unwinds through Drop, which kills it.
        self.child = Some(child);
        let port = self.port;
        let header = "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' \
                      xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
        let (child, dir) = (&mut self.child, &self.dir);
        wait_for(20, "prosody to answer on its c2s port", || {
            if let Some(st) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("prosody exited ({st}) at startup:\n{}", diagnostics(dir));
            }
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(header.as_bytes()).ok()?;
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).ok()?;
            String::from_utf8_lossy(&buf[..n])
                .contains("stream:stream")
                .then_some(())
        });
    }

    /// Stop abruptly (SIGKILL): clients just see the TCP connection drop.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop gracefully (SIGTERM): Prosody closes every stream with a `system-shutdown`
    /// stream error first. Killed after 10 s.
    pub fn shutdown(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Prosody's log file (debug level), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prosody.log")).unwrap_or_default()
    }
}

/// Prosody's stdout, stderr and log, for a failed start.
fn diagnostics(dir: &Path) -> String {
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
    format!(
        "--- stdout\n{}--- stderr\n{}--- prosody.log\n{}",
        read("stdout.log"),
        read("stderr.log"),
        read("prosody.log")
    )
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------
// A person with an XMPP client

/// Backslash, newline, CR and tab as `\\`, `\n`, `\r`, `\t` (person.py's line protocol).
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o
}

/// The inverse of [`escape`].
pub fn unescape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            o.push(c);
            continue;
        }
        match it.next() {
            Some('n') => o.push('\n'),
            Some('r') => o.push('\r'),
            Some('t') => o.push('\t'),
            Some('\\') => o.push('\\'),
            Some(x) => {
                o.push('\\');
                o.push(x);
            }
            None => o.push('\\'),
        }
    }
    o
}

/// tests/xmpp/person.py: a slixmpp client playing a human chat user. Its events are the
/// TAB-separated lines it prints (see the script's docstring): `ready`,
/// `message\t<from>\t<type>\t<body>`, `groupchat\t<from>\t<body>`,
/// `presence\t<from>\t<type>\t<show>\t<status>`, `subscribe\t<from>`, `joined\t<room>\t<nick>`,
/// `disconnected`, `error\t<text>`. Bodies are [`escape`]d.
pub struct Person {
    child: Child,
    stdin: Mutex<ChildStdin>,
    events: Arc<Mutex<Vec<String>>>,
    consumed: Mutex<usize>,
    pub jid: String,
    stderr: PathBuf,
}

impl Person {
    /// Log in as `user@localhost` and wait (20 s) until the session is up.
    pub fn start(prosody: &Prosody, user: &str, pass: &str) -> Person {
        require_bin("python3", "python3");
        let check = Command::new("python3")
            .args(["-c", "import slixmpp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("python3");
        assert!(
            check.success(),
            "python3 cannot import slixmpp: this test needs the real XMPP client. Run \
             contrib/test.sh, or `python3 -m pip install slixmpp`."
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xmpp/person.py");
        let jid = prosody.jid(user);
        let stderr = prosody.dir.join(format!("person-{user}.err"));
        let err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .expect("person stderr");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&jid)
            .arg(pass)
            .arg(prosody.port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn python3 person.py");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                ev.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let mut p = Person {
            child,
            stdin: Mutex::new(stdin),
            events,
            consumed: Mutex::new(0),
            jid,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !p.events().iter().any(|e| e == "ready") {
            if let Ok(Some(st)) = p.child.try_wait() {
                panic!(
                    "person.py {} exited ({st}) before `ready`; events {:?}\n--- stderr\n{}",
                    p.jid,
                    p.events(),
                    p.stderr_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "person {} not ready within 20 s; events {:?}\n--- stderr\n{}\n--- prosody.log\n{}",
                p.jid,
                p.events(),
                p.stderr_text(),
                prosody.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    fn cmd(&self, fields: &[&str]) {
        let mut w = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        let line = fields.join("\t") + "\n";
        w.write_all(line.as_bytes())
            .and_then(|_| w.flush())
            .unwrap_or_else(|e| panic!("person {}: write command: {e}", self.jid));
    }

    /// A chat message to `to` (a bare or full JID).
    pub fn send(&self, to: &str, body: &str) {
        self.cmd(&["send", to, &escape(body)]);
    }

    /// Presence: `show` is away, xa, dnd, chat or "" (available).
    pub fn presence(&self, show: &str, status: &str) {
        self.cmd(&["presence", show, &escape(status)]);
    }

    pub fn unavailable(&self) {
        self.cmd(&["unavailable"]);
    }

    /// Ask for `jid`'s presence (a subscription request).
    pub fn subscribe(&self, jid: &str) {
        self.cmd(&["subscribe", jid]);
    }

    /// Join a MUC room (`room@conference.localhost`); `joined\t<room>\t<nick>` follows.
    /// The person rejoins its rooms by itself after a reconnect.
    pub fn join(&self, room: &str, nick: &str) {
        self.cmd(&["join", room, nick]);
    }

    pub fn groupsend(&self, room: &str, body: &str) {
        self.cmd(&["groupsend", room, &escape(body)]);
    }

    /// Every event line so far.
    pub fn events(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The first event (of all so far) matching `pred`, waiting up to `secs`.
    pub fn wait_event(&self, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "person {}: no matching event within {secs} s; events {:?}\n--- stderr\n{}",
                self.jid,
                self.events(),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The next `message` event not returned before: (from full JID, unescaped body).
    pub fn wait_message(&self, secs: u64) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            {
                let mut consumed = self.consumed.lock().unwrap_or_else(|e| e.into_inner());
                let ev = self.events();
                for (i, e) in ev.iter().enumerate().skip(*consumed) {
                    if let Some(rest) = e.strip_prefix("message\t") {
                        *consumed = i + 1;
                        let mut f = rest.splitn(3, '\t');
                        let from = f.next().unwrap_or("").to_string();
                        let _type = f.next();
                        let body = unescape(f.next().unwrap_or(""));
                        return (from, body);
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "person {}: no new message within {secs} s; events {:?}\n--- stderr\n{}",
                self.jid,
                self.events(),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the session has started `n` times (1 = the first login; 2 = after one
    /// reconnect, …).
    pub fn wait_ready_count(&self, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.events().iter().filter(|e| *e == "ready").count() < n {
            assert!(
                Instant::now() < deadline,
                "person {}: not `ready` {n} times within {secs} s; events {:?}\n--- stderr\n{}",
                self.jid,
                self.events(),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        if let Ok(mut w) = self.stdin.lock() {
            let _ = w.write_all(b"quit\n");
            let _ = w.flush();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
