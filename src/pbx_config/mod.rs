//! `pbx_config.so`: the dialplan from `extensions.conf`. At load it reads and checks the
//! file (errors name file:line:column and decline the load), warns once about applications
//! and functions no loaded module provides, and registers the `dialplan …` commands;
//! `dialplan reload` / `module reload pbx_config.so` swap the dialplan atomically and keep
//! the running one when the new file has errors.

pub mod cli;

use crate::config::settings::Settings;
use crate::config::ConfigError;
use crate::dialplan::{parse_dialplan, Dialplan, LoadReport, PRIORITY_HINT};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::Pbx;
use std::sync::Arc;

/// The module.
pub struct PbxConfig;

impl Module for PbxConfig {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("pbx_config.so", "Text Extension Configuration")
            .configs(&["extensions.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        match load_dialplan(&pbx.settings) {
            Ok((dp, report)) => {
                for w in &report.warnings {
                    pbx.warning(w);
                }
                warn_unknown_apps(pbx, &dp);
                let (e, p, c) = cli::totals(&dp);
                pbx.set_dialplan(dp);
                pbx.verbose_line(
                    2,
                    &format!("pbx_config: loaded extensions.conf: {e} extensions ({p} priorities) in {c} contexts"),
                );
            }
            Err(errs) => {
                let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                return Err(text.join("\n").into());
            }
        }
        ctx.register_cli_with(cli::register);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let r = reload_dialplan(&ctx.pbx);
        if r.ok {
            Reload::Done(r.text)
        } else {
            Reload::Failed(r.text)
        }
    }
}

/// Read and parse `extensions.conf` from the config directory.
pub fn load_dialplan(settings: &Settings) -> Result<(Dialplan, LoadReport), Vec<ConfigError>> {
    let cf = crate::config::load(
        &settings.astetcdir,
        "extensions.conf",
        &settings.load_options(),
    )
    .map_err(|e| vec![e])?;
    parse_dialplan(&cf)
}

/// Dialplan function names called in `data` (`${NAME(`) or assigned (`NAME(...)=`).
pub fn functions_used(data: &str) -> Vec<&str> {
    static CALL: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = CALL
        .get_or_init(|| regex::Regex::new(r"(?:\$\{|^|[,(])\s*([A-Za-z][A-Za-z0-9_]*)\(").ok())
        .as_ref()
    else {
        return Vec::new();
    };
    re.captures_iter(data)
        .filter_map(|c| c.get(1))
        .filter(|m| {
            // `${NAME(` always; a bare `NAME(` only when it is assigned (`NAME(..)=`).
            data[..m.start()].ends_with("${") || {
                let rest = &data[m.end()..];
                rest.find(')')
                    .is_some_and(|i| rest[i + 1..].trim_start().starts_with('='))
            }
        })
        .map(|m| m.as_str())
        .collect()
}

/// Warn once per application or function name the dialplan uses that no module provides.
pub fn warn_unknown_apps(pbx: &Pbx, dp: &Dialplan) {
    for ctx in dp.contexts.values() {
        for sw in &ctx.switches {
            let key = format!("switch:{}:{}:{}", ctx.name, sw.module, sw.data);
            if pbx.warned_missing.lock().insert(key) {
                pbx.error(&format!(
                    "pbx_config: {}: switch => {}/{} in context '{}' is not supported (no switch modules in ferrisk); ignored",
                    sw.loc, sw.module, sw.data, ctx.name
                ));
            }
        }
        for e in &ctx.extensions {
            for p in e.priorities.values() {
                if p.priority == PRIORITY_HINT {
                    continue;
                }
                for f in functions_used(&p.data) {
                    if pbx.funcs.get(f).is_some() {
                        continue;
                    }
                    let key = format!("func:{}", f.to_ascii_uppercase());
                    if pbx.warned_missing.lock().insert(key) {
                        let file = p.loc.file.rsplit('/').next().unwrap_or(&p.loc.file);
                        pbx.warning(&format!(
                            "pbx_config: Function '{}' used in {}:{} is not implemented yet",
                            f, file, p.loc.line
                        ));
                    }
                }
                if p.app.contains('$') || pbx.apps.get(&p.app).is_some() {
                    continue;
                }
                let key = format!("app:{}", p.app.to_ascii_lowercase());
                if pbx.warned_missing.lock().insert(key) {
                    let file = p.loc.file.rsplit('/').next().unwrap_or(&p.loc.file);
                    pbx.warning(&format!(
                        "pbx_config: Application '{}' used in {}:{} is not implemented yet",
                        p.app, file, p.loc.line
                    ));
                }
            }
        }
    }
}

/// The result of `dialplan reload`.
pub struct ReloadOutcome {
    pub ok: bool,
    /// What to print (every line ends with `\n`).
    pub text: String,
}

static RELOAD_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Atomic dialplan reload: parse everything first; on any error keep the running dialplan.
pub fn reload_dialplan(pbx: &Arc<Pbx>) -> ReloadOutcome {
    let _g = RELOAD_LOCK.lock();
    // The files' dialplan: the modules' extensions (parking lots, PERIODIC_HOOK's context)
    // are merged in again after the swap, so they are neither removed nor counted here.
    let old = pbx.file_dialplan();
    match load_dialplan(&pbx.settings) {
        Err(errs) => {
            let mut text = String::new();
            for e in &errs {
                text.push_str(&format!("{e}\n"));
            }
            text.push_str(&format!(
                "Dialplan reload failed; keeping the current dialplan ({} context{}).\n",
                old.contexts.len(),
                crate::cli::format::ess(old.contexts.len() as u64)
            ));
            pbx.error(&format!(
                "pbx_config: dialplan reload failed with {} error{}; the current dialplan is kept",
                errs.len(),
                crate::cli::format::ess(errs.len() as u64)
            ));
            ReloadOutcome { ok: false, text }
        }
        Ok((dp, report)) => {
            for w in &report.warnings {
                pbx.warning(w);
            }
            warn_unknown_apps(pbx, &dp);
            let changes = cli::diff_dialplans(&old, &dp);
            let (e, p, c) = cli::totals(&dp);
            pbx.set_dialplan(dp);
            let mut text = String::new();
            if changes.is_empty() {
                text.push_str("No changes to the dialplan.\n");
            }
            for ch in &changes {
                text.push_str(&format!("  {ch}\n"));
            }
            text.push_str("Dialplan reloaded.\n");
            text.push_str(&cli::counts_line(e, p, c));
            pbx.verbose_line(2, "Dialplan reloaded.");
            ReloadOutcome { ok: true, text }
        }
    }
}
