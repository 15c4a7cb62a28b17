//! Transfer(): ask the channel's driver to send the caller elsewhere (`app_transfer.so`).
//! For SIP before the call is answered this is a 302 redirect. Sets `TRANSFERSTATUS`
//! (`SUCCESS`, `FAILURE`, `UNSUPPORTED`).

use super::{args, App, AppResult};
use crate::pbx::channel::TransferResult;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_transfer.so", "Transfers a caller to another extension"),
    register: register_app_transfer,
}];

fn register_app_transfer(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Transfer));
}

/// How long `Transfer()` waits for the far end's outcome of an answered call's transfer.
pub const TRANSFER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

struct Transfer;

#[async_trait]
impl App for Transfer {
    fn name(&self) -> &'static str {
        "Transfer"
    }
    fn synopsis(&self) -> &'static str {
        "Transfer caller to remote extension."
    }
    fn syntax(&self) -> &'static str {
        "Transfer([Tech/]destination)"
    }
    fn description(&self) -> &'static str {
        "Requests the remote caller be transferred to a given destination. If TECH (SIP, \
         IAX2, etc) is used, only an incoming call with the same channel technology will \
         be transferred. Note that for SIP, if you transfer before call is setup, a 302 \
         redirect SIP message will be returned to the caller; after the answer, a REFER \
         is sent and the application waits (at most 30 s) for the far end's outcome. The \
         result of the application will be reported in the TRANSFERSTATUS channel \
         variable: SUCCESS, FAILURE or UNSUPPORTED."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let dest = args::nth(&a, 0).trim().to_string();
        if dest.is_empty() {
            chan.pbx
                .warning("app_transfer.c: Transfer requires an argument ([Tech/]destination)");
            chan.vars.set("TRANSFERSTATUS", "FAILURE");
            return Ok(());
        }
        // `Tech/dest`: only a channel of that technology is transferred.
        let dest = match dest.split_once('/') {
            Some((tech, rest)) => {
                if !tech.eq_ignore_ascii_case(chan.tech.tech()) {
                    chan.vars.set("TRANSFERSTATUS", "FAILURE");
                    return Ok(());
                }
                rest.to_string()
            }
            None => dest,
        };
        let tech = chan.tech.clone();
        let status = match tech.transfer(chan, &dest) {
            TransferResult::Success => "SUCCESS",
            TransferResult::Failure => "FAILURE",
            TransferResult::Unsupported => "UNSUPPORTED",
            // An answered call: the far end was asked (a SIP REFER) and reports back.
            TransferResult::Pending => {
                let shared = chan.shared.clone();
                // Biased: a transfer done hangs the channel up right after reporting it.
                tokio::select! {
                    biased;
                    ok = shared.transfer_finished() => if ok { "SUCCESS" } else { "FAILURE" },
                    _ = shared.hungup() => "FAILURE",
                    _ = tokio::time::sleep(TRANSFER_WAIT) => "FAILURE",
                }
            }
        };
        chan.vars.set("TRANSFERSTATUS", status);
        Ok(())
    }
}
