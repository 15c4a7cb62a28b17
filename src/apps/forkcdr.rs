//! `ForkCDR([options])` (app_forkcdr.so): start a new CDR on the channel, linked after the
//! ones it has; every record of the chain is posted at hangup. The chain lives in the
//! core's [`crate::pbx::cdr::Cdr`]; this file only parses the options.

use super::{App, AppResult};
use crate::pbx::cdr::ForkOptions;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_forkcdr.so", "Fork The CDR into 2 separate entities"),
    register: register_app_forkcdr,
}];

fn register_app_forkcdr(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ForkCdr));
}

struct ForkCdr;
#[async_trait]
impl App for ForkCdr {
    app_meta!(
        "ForkCDR",
        "Forks the current Call Data Record for this channel.",
        "ForkCDR([options])",
        "Causes the Call Data Record engine to fork a new CDR starting from the time the application is executed. The forked CDR will be linked to the end of the CDRs associated with the channel. Options: a — if the channel is answered, set the answer time on the forked CDR to the current time (otherwise it keeps the original's answer time); e — end (finalize) the original CDR; r — reset the start and answer times (if the channel is answered) on the forked CDR to the current time (implies a); v — do not copy CDR variables and attributes from the original CDR to the forked CDR."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let opts = ForkOptions::parse(data.trim());
        let up = chan.is_up();
        let (app, appdata) = (chan.last_app.clone(), chan.last_data.clone());
        if !chan
            .cdr
            .fork(opts, up, (&app, &appdata), chrono::Local::now())
        {
            chan.pbx.warning(&format!(
                "app_forkcdr.c: Failed to fork CDR for channel {}",
                chan.name()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::pbx_with;

    #[tokio::test]
    async fn forkcdr_e_ends_the_original_and_the_fork_is_posted_after_it() {
        let pbx = pbx_with("[t]\nexten => s,1,NoOp()\n");
        let mut c = Channel::new(
            &pbx,
            "SIP/c-0001".into(),
            Arc::new(crate::pbx::channel::NullTech),
        );
        c.cdr.set_var("keep", "1");
        c.last_app = "ForkCDR".into();
        c.last_data = "ev".into();
        ForkCdr.exec(&mut c, "ev").await.unwrap();
        assert_eq!(c.cdr.earlier.len(), 1);
        assert!(c.cdr.earlier[0].finalized);
        assert!(c.cdr.earlier[0].end.is_some());
        assert_eq!(c.cdr.earlier[0].lastapp, "ForkCDR");
        assert!(c.cdr.vars.is_empty(), "v: variables not copied");
        assert_eq!(
            c.cdr.earlier[0].vars.get("keep").map(String::as_str),
            Some("1")
        );
        c.cdr.set_var("late", "x");
        assert!(!c.cdr.earlier[0].vars.contains_key("late"), "finalized");
        c.cdr.finish("Hangup", "");
        let chain = c.cdr.clone().into_chain();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].lastapp, "ForkCDR");
        assert_eq!(chain[1].lastapp, "Hangup");
        assert_eq!(chain[1].sequence, chain[0].sequence + 1);
    }
}
