//! `app_festival.so`: `Festival(text[,intkeys])` speaks text to the caller through a
//! Festival server, as Asterisk's app_festival: festival.conf (read at every call, as
//! Asterisk does) names the server, the command and the cache; the server's waveform is
//! converted to 8 kHz and played; a key in `intkeys` (`any`: every key) stops it and the
//! call goes on at the extension dialed from that key, as after BackGround.
//!
//! - [`protocol`]: the command and the reply framing (no I/O).
//! - [`cache`]: `usecache=yes` keeps each reply in `cachedir` under the MD5 of the text, in
//!   app_festival's file layout; a cached text is spoken without contacting the server.
//! - A server that cannot be reached, answers `ER`, says nothing in time or sends no
//!   waveform: one warning, and the application fails as Asterisk's does (the call is
//!   hung up). The connection and every read have time limits: a channel never hangs on it.

pub mod cache;
pub mod protocol;

use super::playback::{play_samples, Played, ANY_DIGIT};
use super::{args, waitexten, App, AppResult};
use crate::config::is_true;
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, SupportLevel};
use crate::pbx::{Channel, Hangup, Pbx};
use async_trait::async_trait;
use protocol::Reply;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The config file.
pub const CONFIG_FILE: &str = "festival.conf";

/// Time limit for connecting to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time limit for the whole answer (synthesis of a long text takes a while).
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// festival.conf's `[general]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FestivalConfig {
    pub host: String,
    pub port: u16,
    pub usecache: bool,
    pub cachedir: PathBuf,
    /// The command template (`%s` = text), before its escapes are expanded.
    pub command: String,
}

impl Default for FestivalConfig {
    fn default() -> Self {
        FestivalConfig {
            host: "localhost".into(),
            port: 1314,
            usecache: false,
            cachedir: PathBuf::from("/tmp/"),
            command: protocol::DEFAULT_COMMAND.into(),
        }
    }
}

/// Read festival.conf (`None`: no such file; `Err`: unreadable or a bad value, with
/// file:line:column).
pub fn read_config(pbx: &Pbx) -> Result<Option<FestivalConfig>, String> {
    let s = &pbx.settings;
    if !s.astetcdir.join(CONFIG_FILE).exists() {
        return Ok(None);
    }
    let cf = crate::config::load(&s.astetcdir, CONFIG_FILE, &s.load_options())
        .map_err(|e| e.to_string())?;
    let mut c = FestivalConfig::default();
    if let Some(g) = cf.section("general") {
        for e in &g.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "host" => c.host = v.to_string(),
                "port" => {
                    c.port = v.parse().map_err(|_| {
                        format!(
                            "{}: port must be a number from 1 to 65535, not '{v}'",
                            e.loc
                        )
                    })?
                }
                "usecache" => c.usecache = is_true(v),
                "cachedir" => c.cachedir = PathBuf::from(v),
                "festivalcommand" => c.command = v.to_string(),
                k => pbx.warning(&format!(
                    "app_festival.c: {}: unknown option '{k}' in festival.conf, ignored",
                    e.loc
                )),
            }
        }
    }
    Ok(Some(c))
}

/// `app_festival.so`.
pub struct AppFestival;

#[async_trait]
impl Module for AppFestival {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_festival.so", "Simple Festival Interface")
            .support(SupportLevel::Extended)
            .configs(&[CONFIG_FILE])
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        match read_config(&ctx.pbx) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(ModuleError::Decline(format!(
                    "No such configuration file {CONFIG_FILE}"
                )))
            }
            Err(e) => return Err(ModuleError::Decline(e)),
        }
        ctx.register_app(Arc::new(Festival));
        Ok(())
    }
}

struct Festival;

/// Why no waveform could be had.
enum Failure {
    /// Already logged.
    Logged,
    Warn(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Warn(s)
    }
}

/// Ask the server: the whole reply (everything it sent until the first waveform's end,
/// `ER`, or the end of the stream).
async fn ask_server(cfg: &FestivalConfig, command: &str) -> Result<Vec<u8>, Failure> {
    let connect = tokio::net::TcpStream::connect((cfg.host.as_str(), cfg.port));
    let mut s = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(Failure::Warn(format!(
                "festival_client: connect to server failed ({}:{}: {e})",
                cfg.host, cfg.port
            )))
        }
        Err(_) => {
            return Err(Failure::Warn(format!(
                "festival_client: connect to server failed ({}:{}: timed out)",
                cfg.host, cfg.port
            )))
        }
    };
    let talk = async {
        s.write_all(command.as_bytes())
            .await
            .map_err(|e| format!("festival_client: write failed: {e}"))?;
        let mut raw = Vec::new();
        let mut parser = protocol::ReplyParser::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = s
                .read(&mut buf)
                .await
                .map_err(|e| format!("Unable to read from cache/festival fd ({e})"))?;
            if n == 0 {
                return Ok(raw);
            }
            raw.extend_from_slice(&buf[..n]);
            let replies = parser.feed(&buf[..n])?;
            // The reply ends with the server closing (the command's `(quit)`); do not
            // wait for that once a waveform or an error is in.
            if replies
                .iter()
                .any(|r| matches!(r, Reply::Wave(_) | Reply::Err))
            {
                // Read what else is there right now (the OK), for the cache.
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await
                {
                    raw.extend_from_slice(&buf[..n]);
                }
                return Ok(raw);
            }
        }
    };
    match tokio::time::timeout(REPLY_TIMEOUT, talk).await {
        Ok(r) => r.map_err(Failure::Warn),
        Err(_) => Err(Failure::Warn(format!(
            "the Festival server at {}:{} did not answer within {} s",
            cfg.host,
            cfg.port,
            REPLY_TIMEOUT.as_secs()
        ))),
    }
}

/// The waveform of a reply as app_festival reads it: LP values are logged, `ER` fails,
/// the first `WV` wins.
fn waveform(pbx: &Pbx, reply: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
    let replies = protocol::parse_all(reply)?;
    for r in replies {
        match r {
            Reply::Wave(w) => return Ok(Some(w)),
            Reply::Lisp(l) => pbx.warning(&format!("app_festival.c: Festival returned LP : {l}")),
            Reply::Err => {
                pbx.warning("app_festival.c: Festival returned ER");
                return Err(Failure::Logged);
            }
            Reply::Ok => {}
        }
    }
    Ok(None)
}

#[async_trait]
impl App for Festival {
    fn name(&self) -> &'static str {
        "Festival"
    }
    fn synopsis(&self) -> &'static str {
        "Say text to the user."
    }
    fn syntax(&self) -> &'static str {
        "Festival(text[,intkeys])"
    }
    fn description(&self) -> &'static str {
        "Connect to Festival, send the argument, get back the waveform, play it to the user, \
         allowing any given interrupt keys to immediately terminate and return the value, or \
         any to allow any number back (useful in dialplan). The key pressed starts the \
         extension dialed, as after BackGround. festival.conf: host, port, usecache, \
         cachedir, festivalcommand."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        if data.trim().is_empty() {
            pbx.warning("app_festival.c: festival requires an argument (text)");
            return Err(Hangup);
        }
        let a = args::split(data, ',');
        let text = args::nth(&a, 0).to_string();
        let intkeys = match args::nth(&a, 1).trim() {
            k if k.eq_ignore_ascii_case("any") => ANY_DIGIT.to_string(),
            k => k.to_string(),
        };
        let p2 = pbx.clone();
        let cfg = match tokio::task::spawn_blocking(move || read_config(&p2))
            .await
            .map_err(|_| Hangup)?
        {
            Ok(Some(c)) => c,
            Ok(None) => {
                pbx.warning(&format!(
                    "app_festival.c: No such configuration file {CONFIG_FILE}"
                ));
                return Err(Hangup);
            }
            Err(e) => {
                pbx.error(&format!(
                    "app_festival.c: Config file {CONFIG_FILE} is in an invalid format.  Aborting. ({e})"
                ));
                return Err(Hangup);
            }
        };
        let reply = match self.reply(&pbx, chan, &cfg, &text).await? {
            Ok(r) => r,
            Err(f) => {
                if let Failure::Warn(w) = f {
                    pbx.warning(&format!("app_festival.c: {w}"));
                }
                return Err(Hangup);
            }
        };
        let wave = match waveform(&pbx, &reply) {
            Ok(Some(w)) => w,
            Ok(None) => return Ok(()),
            Err(f) => {
                if let Failure::Warn(w) = f {
                    pbx.warning(&format!("app_festival.c: {w}"));
                }
                return Err(Hangup);
            }
        };
        if !chan.is_up() {
            chan.answer();
        }
        let samples = crate::media::wav::decode_any(&wave);
        match play_samples(chan, samples, &intkeys).await? {
            Played::Digit(d) => waitexten::dial_extension(chan, d).await,
            _ => Ok(()),
        }
    }
}

impl Festival {
    /// The server's reply for `text`: from the cache when there, else from the server
    /// (and then cached). The outer error is a hangup while waiting.
    async fn reply(
        &self,
        pbx: &Arc<Pbx>,
        chan: &mut Channel,
        cfg: &FestivalConfig,
        text: &str,
    ) -> Result<Result<Vec<u8>, Failure>, Hangup> {
        if cfg.usecache {
            let (dir, t) = (cfg.cachedir.clone(), text.to_string());
            let hit = tokio::task::spawn_blocking(move || cache::read(&dir, &t))
                .await
                .ok()
                .flatten();
            if let Some(r) = hit {
                return Ok(Ok(r));
            }
        }
        let command = protocol::command(&cfg.command, text);
        let shared = chan.shared.clone();
        let got = tokio::select! {
            r = ask_server(cfg, &command) => r,
            _ = shared.hungup() => return Err(Hangup),
        };
        if let (true, Ok(reply)) = (cfg.usecache, &got) {
            if reply.windows(3).any(|w| w == b"WV\n") {
                let (dir, t, r) = (cfg.cachedir.clone(), text.to_string(), reply.clone());
                let p = pbx.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = cache::write(&dir, &t, &r) {
                        p.warning(&format!("app_festival.c: cache: {e}"));
                    }
                });
            }
        }
        Ok(got)
    }
}
