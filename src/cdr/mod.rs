//! `cdr_csv.so`: call detail records written to `cdr-csv/Master.csv` as Asterisk's
//! cdr_csv, configured by `cdr.conf` ([`config`]). The record itself and the engine that
//! fans records out live in the core ([`crate::pbx::cdr`]); this module registers its
//! backend at load and removes it at unload.

pub mod cli;
pub mod config;
pub mod csv;
pub mod pgsql;

pub use crate::pbx::cdr::{Cdr, CdrBackend, CdrEngine, Disposition};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};

/// The module.
pub struct CdrCsv;

impl Module for CdrCsv {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("cdr_csv.so", "Comma Separated Values CDR Backend").configs(&["cdr.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let status = std::sync::Arc::new(cli::CdrStatus::default());
        for b in load_backends(ctx, &status) {
            ctx.register_cdr_backend(b);
        }
        ctx.provide(status.clone());
        ctx.register_cli_with(|r| cli::register(r, status));
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        ctx.pbx.cdr.remove_owner(ctx.owner.name);
        let status = ctx.pbx.services.get::<cli::CdrStatus>().unwrap_or_default();
        for b in load_backends(ctx, &status) {
            ctx.register_cdr_backend(b);
        }
        Reload::Done(String::new())
    }
}

/// The backends `cdr.conf` asks for (a broken cdr.conf is reported and disables CDR
/// logging); `status` gets the `[general]` that now applies.
fn load_backends(
    ctx: &ModuleContext,
    status: &cli::CdrStatus,
) -> Vec<std::sync::Arc<dyn CdrBackend>> {
    match config::read_cdr_config(&ctx.pbx.settings) {
        Ok(cfg) => {
            *status.general.lock() = cfg.general.clone();
            config::backends_for(&cfg, &ctx.pbx.settings.astlogdir)
        }
        Err(e) => {
            eprintln!("ferrisk: {e}; CDR logging disabled");
            ctx.pbx.error(&format!("cdr.c: {e}; CDR logging disabled"));
            status.general.lock().enable = false;
            Vec::new()
        }
    }
}
