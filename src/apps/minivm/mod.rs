//! `app_minivm.so`: Mini-Voicemail, voicemail in small building blocks for the dialplan, as
//! Asterisk's app_minivm: `MinivmRecord` records a message into a file, `MinivmNotify`
//! mails it (templates, [`mail`]), `MinivmGreet` plays an account's greetings,
//! `MinivmAccMess` records them, `MinivmDelete` removes a message, `MinivmMWI` lights
//! message lamps ([`apps`]); `MINIVMACCOUNT` and `MINIVMCOUNTER` ([`funcs`]); the
//! `minivm …` commands ([`cli`]); `minivm.conf` ([`config`]).
//!
//! Files live under `<astspooldir>/voicemail/<domain>/<username>/` (greetings `busy`,
//! `unavailable`, `temp`, `greet`, counters `NAME.counter`); messages of accounts without a
//! `tmp` folder go to `voicemail/0000_minivm_temp/mediafiles/`. All file work runs on the
//! blocking pool. [`Minivm`] is the module's service: the config (swapped whole on reload,
//! a broken file keeps the running one) and the statistics.

pub mod apps;
pub mod cli;
pub mod config;
pub mod funcs;
pub mod mail;

use crate::config::ConfigError;
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload, SupportLevel};
use crate::pbx::Pbx;
use arc_swap::ArcSwap;
use chrono::{DateTime, Local};
use config::MinivmConfig;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Counters for `minivm show stats` (reset by every (re)load).
#[derive(Debug, Clone)]
pub struct Stats {
    pub reset: DateTime<Local>,
    pub received: u32,
    pub last_received: Option<DateTime<Local>>,
}

/// The module's service.
pub struct Minivm {
    config: ArcSwap<MinivmConfig>,
    stats: Mutex<Stats>,
    /// `<astspooldir>/voicemail`.
    spool: PathBuf,
}

impl Minivm {
    pub fn new(spool: PathBuf) -> Minivm {
        Minivm {
            config: ArcSwap::from_pointee(MinivmConfig::defaults()),
            stats: Mutex::new(Stats {
                reset: Local::now(),
                received: 0,
                last_received: None,
            }),
            spool,
        }
    }

    pub fn config(&self) -> Arc<MinivmConfig> {
        self.config.load_full()
    }

    /// Replace the config (and reset the statistics, as a reload does).
    pub fn set_config(&self, c: MinivmConfig) {
        self.config.store(Arc::new(c));
        *self.stats.lock() = Stats {
            reset: Local::now(),
            received: 0,
            last_received: None,
        };
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().clone()
    }

    /// Count a recorded message.
    pub fn received(&self) {
        let mut s = self.stats.lock();
        s.received += 1;
        s.last_received = Some(Local::now());
    }

    /// `<spool>/voicemail`.
    pub fn spool(&self) -> &Path {
        &self.spool
    }

    /// `<spool>/voicemail/<domain>/<username>[/<folder>]` (an empty part is left out).
    pub fn dir(&self, domain: &str, username: &str, folder: &str) -> PathBuf {
        let mut p = self.spool.join(domain);
        if !username.is_empty() {
            p.push(username);
        }
        if !folder.is_empty() {
            p.push(folder);
        }
        p
    }

    /// (Re)read `minivm.conf` (blocking: call on the blocking pool). A missing file gives
    /// the defaults; a broken one returns its errors and keeps the running config.
    pub fn reload(&self, pbx: &Pbx) -> Result<Vec<String>, Vec<ConfigError>> {
        let s = &pbx.settings;
        if !s.astetcdir.join(config::CONFIG_FILE).exists() {
            self.set_config(MinivmConfig::defaults());
            return Ok(vec![format!(
                "Failed to load configuration file {}. Module activated with default settings.",
                config::CONFIG_FILE
            )]);
        }
        let cf = crate::config::load(&s.astetcdir, config::CONFIG_FILE, &s.load_options())
            .map_err(|e| vec![e])?;
        let (c, warnings) = config::parse(&cf, &s.astetcdir, &s.astlogdir)?;
        self.set_config(c);
        Ok(warnings)
    }
}

/// The service of the loaded module, or one with the defaults when it is not loaded.
pub fn of(pbx: &Pbx) -> Arc<Minivm> {
    pbx.service::<Minivm>()
        .unwrap_or_else(|| Arc::new(Minivm::new(pbx.settings.astspooldir.join("voicemail"))))
}

/// Re-read the config and log what happened; the text for the CLI (empty: reloaded).
pub fn reload(pbx: &Pbx) -> Result<(), String> {
    match of(pbx).reload(pbx) {
        Ok(warnings) => {
            for w in warnings {
                pbx.warning(&format!("app_minivm.c: {w}"));
            }
            Ok(())
        }
        Err(errs) => {
            let mut out = String::new();
            for e in &errs {
                pbx.error(&format!("app_minivm.c: {e}"));
                out.push_str(&format!("{e}\n"));
            }
            pbx.error(&format!(
                "app_minivm.c: --- A total of {} errors found in mini-voicemail configuration: keeping the running configuration",
                errs.len()
            ));
            out.push_str("minivm.conf has errors: keeping the running configuration\n");
            Err(out)
        }
    }
}

/// `app_minivm.so`.
pub struct AppMinivm;

#[async_trait::async_trait]
impl Module for AppMinivm {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new(
            "app_minivm.so",
            "Mini VoiceMail (A minimal Voicemail e-mail System)",
        )
        .support(SupportLevel::Extended)
        .configs(&[config::CONFIG_FILE])
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        let mvm = Arc::new(Minivm::new(pbx.settings.astspooldir.join("voicemail")));
        ctx.provide(mvm);
        // As Asterisk: a file with errors is reported, the module runs with the defaults.
        let _ = reload(pbx);
        ctx.register_app(Arc::new(apps::MinivmRecord));
        ctx.register_app(Arc::new(apps::MinivmGreet));
        ctx.register_app(Arc::new(apps::MinivmNotify));
        ctx.register_app(Arc::new(apps::MinivmDelete));
        ctx.register_app(Arc::new(apps::MinivmAccMess));
        ctx.register_app(Arc::new(apps::MinivmMwi));
        ctx.register_func(Arc::new(funcs::MinivmAccount));
        ctx.register_func(Arc::new(funcs::MinivmCounter));
        ctx.register_cli_with(cli::register);
        Ok(())
    }

    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match reload(&ctx.pbx) {
            Ok(()) => Reload::Done(String::new()),
            Err(text) => Reload::Failed(text),
        }
    }
}
