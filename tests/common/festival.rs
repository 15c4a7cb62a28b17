//! A real Festival speech server (`festival --server`, Debian's `festival` with the
//! `festvox-kallpc16k` voice; contrib/test.sh installs them) on a free port, for the
//! app_festival tests. Debian's tts.scm already defines `tts_textasterisk`, the function
//! app_festival's default command calls. The server listens on every address: its access
//! list limits it to this machine. See shared/notes/peers.md.

use super::{free_port, require_bin, wait_for};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct FestivalServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    script: PathBuf,
}

impl FestivalServer {
    pub fn start(dir: &Path) -> FestivalServer {
        require_bin("festival", "festival festvox-kallpc16k");
        let dir = dir.join("festival");
        std::fs::create_dir_all(&dir).expect("festival dir");
        let port = free_port();
        let script = dir.join("server.scm");
        std::fs::write(
            &script,
            format!(
                "(set! server_port {port})\n\
                 (set! server_access_list '(\"127\\\\.0\\\\.0\\\\.1\" \"localhost.*\"))\n\
                 (set! server_log_file \"{}\")\n\
                 (voice_kal_diphone)\n",
                dir.join("server.log").display()
            ),
        )
        .expect("server.scm");
        let mut f = FestivalServer {
            child: None,
            port,
            dir,
            script,
        };
        f.run();
        f
    }

    /// Start (again) on the same port.
    pub fn run(&mut self) {
        let log = std::fs::File::create(self.dir.join("stdout.log")).expect("festival log");
        self.child = Some(
            Command::new("festival")
                .arg("--server")
                .arg(&self.script)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("festival --server"),
        );
        let port = self.port;
        wait_for(30, "festival --server to listen", || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's log (one line per client and request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for FestivalServer {
    fn drop(&mut self) {
        self.stop();
    }
}
