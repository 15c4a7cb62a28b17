//! A real Dovecot IMAP server for the voicemail-over-IMAP tests: its own config, users
//! (`passwd-file`, plain passwords), Maildirs, a plain IMAP port and an IMAPS port with a
//! self-signed certificate, all under a temporary directory. Debian's `dovecot-imapd`
//! (installed by contrib/test.sh); see shared/notes/peers.md for the gotchas (uid 65534,
//! traversable parents).

use super::{free_port, require_bin, wait_for};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Dovecot {
    child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
    pub tls_port: u16,
    conf: PathBuf,
}

impl Dovecot {
    /// Start with these `(user, password)` accounts.
    pub fn start(dir: &Path, users: &[(&str, &str)]) -> Dovecot {
        Dovecot::start_with_master(dir, users, None)
    }

    /// [`Dovecot::start`] with a master user (`(name, password)`) who may log in as any
    /// user (SASL PLAIN with an authorization identity).
    pub fn start_with_master(
        dir: &Path,
        users: &[(&str, &str)],
        master: Option<(&str, &str)>,
    ) -> Dovecot {
        let dovecot = require_bin("dovecot", "dovecot-imapd");
        require_bin("openssl", "openssl");
        let dir = dir.join("dovecot");
        std::fs::create_dir_all(dir.join("mail")).expect("mail dir");
        // Every parent must be traversable by the mail uid (65534).
        let mut p = dir.clone();
        loop {
            if let Ok(m) = std::fs::metadata(&p) {
                let mut perm = m.permissions();
                perm.set_mode(perm.mode() | 0o711);
                let _ = std::fs::set_permissions(&p, perm);
            }
            if !p.pop() || p.as_os_str().is_empty() || p == Path::new("/") {
                break;
            }
        }
        let chown = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(dir.join("mail"))
            .status()
            .expect("chown");
        assert!(chown.success(), "chown the mail dir");
        let passwd: String = users
            .iter()
            .map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n"))
            .collect();
        std::fs::write(dir.join("passwd"), passwd).expect("passwd");
        let master_db = match master {
            Some((u, p)) => {
                std::fs::write(dir.join("master"), format!("{u}:{{PLAIN}}{p}\n")).expect("master");
                format!(
                    "passdb {{\n  driver = passwd-file\n  master = yes\n  pass = yes\n  args = scheme=PLAIN {}/master\n}}\n",
                    dir.display()
                )
            }
            None => String::new(),
        };
        let (cert, key) = super::self_signed_cert(&dir, "127.0.0.1");
        let (port, tls_port) = (free_port(), free_port());
        let conf = dir.join("dovecot.conf");
        std::fs::write(
            &conf,
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
                 info_log_path = {d}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n\
                 disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
                 ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n\
                 mail_location = maildir:{d}/mail/%u\n{master_db}\
                 passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={d}/mail/%u\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n\
                   inet_listener imaps {{\n    port = {tls_port}\n    ssl = yes\n  }}\n}}\n\
                 namespace inbox {{\n  inbox = yes\n  separator = /\n}}\n",
                d = dir.display(),
                cert = cert.display(),
                key = key.display(),
            ),
        )
        .expect("dovecot.conf");
        let mut d = Dovecot {
            child: None,
            dir,
            port,
            tls_port,
            conf,
        };
        d.run_with(&dovecot);
        d
    }

    fn run_with(&mut self, bin: &Path) {
        self.child = Some(
            Command::new(bin)
                .arg("-F")
                .arg("-c")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dovecot"),
        );
        let port = self.port;
        wait_for(20, "dovecot to greet", || {
            let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line).ok()?;
            line.starts_with("* OK").then_some(())
        });
    }

    /// Start again on the same ports and mail.
    pub fn run(&mut self) {
        let bin = require_bin("dovecot", "dovecot-imapd");
        self.run_with(&bin);
    }

    pub fn stop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .status();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A logged-in plain IMAP session for checks (an "ordinary mail client").
    pub fn client(&self, user: &str, pass: &str) -> ImapClient {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect dovecot");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut c = ImapClient {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
            tag: 0,
        };
        let mut greet = String::new();
        c.r.read_line(&mut greet).expect("greeting");
        let (ok, out) = c.cmd(&format!("LOGIN {user} {pass}"));
        assert!(ok, "login {user}: {out}");
        c
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal IMAP client: one command at a time, literal-aware reading.
pub struct ImapClient {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

impl ImapClient {
    /// Send a command; (tagged OK?, everything the server answered).
    pub fn cmd(&mut self, c: &str) -> (bool, String) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        self.w
            .write_all(format!("{tag} {c}\r\n").as_bytes())
            .expect("send");
        let mut out = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read");
            assert!(n > 0, "dovecot closed the connection: {out}");
            // A literal {n}: read its bytes as they are.
            if let Some(len) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                out.push_str(&line);
                let mut buf = vec![0u8; len];
                self.r.read_exact(&mut buf).expect("literal");
                out.push_str(&String::from_utf8_lossy(&buf));
                continue;
            }
            out.push_str(&line);
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return (rest.starts_with("OK"), out);
            }
        }
    }

    /// `SELECT` and the message count.
    pub fn select(&mut self, mailbox: &str) -> u32 {
        let (ok, out) = self.cmd(&format!("SELECT \"{mailbox}\""));
        assert!(ok, "select {mailbox}: {out}");
        out.lines()
            .find_map(|l| l.strip_suffix(" EXISTS").and_then(|x| x.strip_prefix("* ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}
