//! The real aiosmtpd SMTP sink (`python3 -m aiosmtpd … -c aiosmtpd.handlers.Mailbox
//! DIR/Maildir`): start, stop, restart on the same port, and the mails it received, parsed
//! enough for tests (headers, text, attachments). Fails (never skips) when aiosmtpd is not
//! importable: contrib/test.sh installs it.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Panic unless `python3 -m aiosmtpd` can run.
pub fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "aiosmtpd is not importable by python3: this test needs the real SMTP sink. \
         Run contrib/test.sh, or `python3 -m pip install aiosmtpd`."
    );
}

/// A running (or stopped) sink on a fixed port, storing mails under `dir/Maildir`.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    /// A sink on `port` (not started).
    pub fn new(dir: &Path, port: u16) -> SmtpSink {
        require_aiosmtpd();
        SmtpSink {
            port,
            dir: dir.to_path_buf(),
            child: None,
        }
    }

    /// Start a sink on a free port and wait until it greets.
    pub fn start_new(dir: &Path) -> SmtpSink {
        let mut s = SmtpSink::new(dir, super::free_port());
        s.start();
        s
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.join("Maildir")
    }

    /// Start (or restart) on the same port; returns once it answers with `220`.
    pub fn start(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.dir.join(format!("aiosmtpd-{}.log", self.port)))
            .expect("aiosmtpd log file");
        let err = log.try_clone().expect("log clone");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn python3 -m aiosmtpd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "aiosmtpd exited ({st}): {}",
                        std::fs::read_to_string(
                            self.dir.join(format!("aiosmtpd-{}.log", self.port))
                        )
                        .unwrap_or_default()
                    );
                }
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    if buf[..n].starts_with(b"220") {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the sink (the port then refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every mail received so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.maildir().join(d)).ok())
            .flat_map(|rd| rd.flatten())
            .map(|e| {
                let t = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read(&p).ok())
            .map(|b| Mail::parse(&b))
            .collect()
    }

    /// Wait (generously) until at least `n` mails arrived; returns them all.
    pub fn wait_mails(&self, n: usize, secs: u64) -> Vec<Mail> {
        super::wait_for(secs, &format!("{n} mail(s) in the SMTP sink"), || {
            let m = self.mails();
            (m.len() >= n).then_some(m)
        })
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One MIME part (or the whole mail): headers and the raw (undecoded) body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Mail {
    /// Parse RFC 5322 bytes (LF or CRLF line ends), unfolding headers.
    pub fn parse(bytes: &[u8]) -> Mail {
        let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Mail {
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A `Content-Type` parameter (`boundary`, `name`) or `Content-Disposition` `filename`.
    fn param(&self, header: &str, name: &str) -> Option<String> {
        let h = self.header(header)?;
        h.split(';').skip(1).find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"').to_string())
        })
    }

    /// The parts of a multipart mail (empty for a single part).
    pub fn parts(&self) -> Vec<Mail> {
        let Some(b) = self.param("Content-Type", "boundary") else {
            return Vec::new();
        };
        let body = String::from_utf8_lossy(&self.body).to_string();
        let delim = format!("--{b}");
        body.split(&delim)
            .skip(1)
            .take_while(|p| !p.starts_with("--"))
            .map(|p| Mail::parse(p.trim_start_matches('\n').as_bytes()))
            .collect()
    }

    /// The body decoded per `Content-Transfer-Encoding` (base64, or as is).
    pub fn decoded(&self) -> Vec<u8> {
        match self.header("Content-Transfer-Encoding") {
            Some(e) if e.eq_ignore_ascii_case("base64") => {
                let s: String = String::from_utf8_lossy(&self.body)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .expect("valid base64 attachment")
            }
            _ => self.body.clone(),
        }
    }

    /// The text: the first `text/plain` part, or the body of a single-part mail.
    pub fn text(&self) -> String {
        let parts = self.parts();
        let part = parts
            .iter()
            .find(|p| {
                p.header("Content-Type")
                    .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/plain"))
            })
            .unwrap_or(self);
        String::from_utf8_lossy(&part.decoded()).to_string()
    }

    /// Attachments: file name, content type and decoded bytes.
    pub fn attachments(&self) -> Vec<(String, String, Vec<u8>)> {
        self.parts()
            .into_iter()
            .filter_map(|p| {
                let name = p.param("Content-Disposition", "filename")?;
                let ct = p
                    .header("Content-Type")
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                Some((name, ct, p.decoded()))
            })
            .collect()
    }
}
