//! `app_followme.so`: Asterisk's Find-Me/Follow-Me. `followme.conf` defines profiles whose
//! numbers are rung step by step (the extensions of one step together, through Local
//! channels in the profile's context) while the caller hears music on hold; a callee that
//! answers hears who is calling and accepts with `takecall` or declines with
//! `declinecall`; the first to accept is bridged with the caller (as Dial bridges).
//!
//! The parts: [`config`] (the file, pure), `app` (FollowMe()), and here the module: the
//! loaded configuration is a service ([`Profiles`]) that `module reload app_followme.so`
//! replaces, keeping the running one when the file has errors.

pub mod config;

mod app;
#[cfg(test)]
mod tests;

use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::Pbx;
use config::FollowMeConf;
use parking_lot::RwLock;
use std::sync::Arc;

/// `app_followme.so`.
pub struct AppFollowMe;

impl Module for AppFollowMe {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_followme.so", "Find-Me/Follow-Me Application")
            .configs(&["followme.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        if !pbx.settings.astetcdir.join("followme.conf").exists() {
            return Err(ModuleError::Decline(
                "No follow me config file (followme.conf), so no follow me".into(),
            ));
        }
        let conf = read_config(pbx).map_err(ModuleError::Failed)?;
        ctx.provide(Arc::new(Profiles {
            conf: RwLock::new(conf),
        }));
        app::register(ctx);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match reload(&ctx.pbx) {
            Ok(()) => Reload::Done(String::new()),
            Err(e) => Reload::Failed(e),
        }
    }
}

/// The loaded `followme.conf` (a service of `app_followme.so`).
pub struct Profiles {
    pub conf: RwLock<FollowMeConf>,
}

/// Read and check `followme.conf` (file work: call it where blocking is allowed).
fn read_config(pbx: &Pbx) -> Result<FollowMeConf, String> {
    let s = &pbx.settings;
    let cf = crate::config::load(&s.astetcdir, "followme.conf", &s.load_options())
        .map_err(|e| e.to_string())?;
    config::parse(&cf).map_err(|errs| crate::config::join_errors(&errs))
}

/// `module reload app_followme.so`: re-read the file; a file with errors keeps the running
/// profiles (and says why).
pub fn reload(pbx: &Pbx) -> Result<(), String> {
    let Some(p) = pbx.service::<Profiles>() else {
        return Err("app_followme.so is not loaded".into());
    };
    match read_config(pbx) {
        Ok(c) => {
            *p.conf.write() = c;
            Ok(())
        }
        Err(e) => {
            pbx.warning(&format!("app_followme.c: {e}"));
            Err(e)
        }
    }
}
