//! `AELSub(routine[,args])` (pbx_ael.so): the entry point Asterisk gives other dialplan
//! languages into AEL subroutines. It is `Gosub(routine,~~s~~,1(args))`: AEL compiles
//! `macro routine(…)` into context `routine`, extension `~~s~~`. ferrisk has no AEL
//! compiler, so the routine is a context written in extensions.conf with a `~~s~~`
//! extension; the call goes through the registered Gosub, as in Asterisk.

use super::{App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::{exec, Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("pbx_ael.so", "Asterisk Extension Language Compiler")
        .support(SupportLevel::Extended),
    register: register_pbx_ael,
}];

fn register_pbx_ael(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(AelSub));
}

/// Gosub's argument for `AELSub(data)`: the routine, then everything after the first
/// comma as the subroutine's arguments (AST_STANDARD_RAW_ARGS keeps the rest whole).
pub fn gosub_target(data: &str) -> String {
    let (name, args) = data.split_once(',').unwrap_or((data, ""));
    format!("{name},~~s~~,1({args})")
}

struct AelSub;
#[async_trait]
impl App for AelSub {
    app_meta!(
        "AELSub",
        "Launch subroutine built with AEL",
        "AELSub(routine[,args])",
        "Execute the named subroutine, defined in AEL, from another dialplan language, such as extensions.conf, Realtime extensions, or Lua. The purpose of this application is to provide a sane entry point into AEL subroutines, the implementation of which may change from time to time. It runs Gosub(routine,~~s~~,1(args)); ferrisk has no AEL compiler, so the routine is a context with a ~~s~~ extension from extensions.conf."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if chan.pbx.apps.get("Gosub").is_none() {
            return Err(Hangup);
        }
        exec::exec_app(chan, "Gosub", &gosub_target(data)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::{get, pbx_with, run};

    #[test]
    fn target_keeps_all_the_arguments() {
        assert_eq!(gosub_target("sub"), "sub,~~s~~,1()");
        assert_eq!(gosub_target("sub,a,b c"), "sub,~~s~~,1(a,b c)");
    }

    #[tokio::test]
    async fn aelsub_runs_the_routine_with_its_arguments_and_returns() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,AELSub(myroutine,one,two)\n same => n,Set(AFTER=${GOSUB_RETVAL})\n\
             [myroutine]\nexten => ~~s~~,1,Set(GOT=${ARG1}-${ARG2}-${ARGC})\n same => n,Return(done)\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "GOT"), Some("one-two-2"));
        assert_eq!(get(&v, "AFTER"), Some("done"));
    }
}
