//! Call completion (CCSS) for the dialplan and the console, on the core's engine
//! (`pbx::ccss`). In Asterisk these are part of the core (`ccss.c`); here the built-in
//! module `ccss` reads `ccss.conf`, installs the service, and registers
//! CallCompletionRequest, CallCompletionCancel, `cc report status` and `cc cancel`.
//! `CALLCOMPLETION()` is `func_callcompletion.so` (`funcs/callcompletion.rs`).

use super::{flow, App, AppResult};
use crate::cli::{CliError, Command, CommandRegistry, Ctx};
use crate::pbx::ccss::{self, Ccss, General, RecallHooks};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::{Channel, Pbx};
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The built-in `ccss` module (Asterisk's core CCSS).
pub struct CcssModule;

impl Module for CcssModule {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("ccss", "Call Completion Supplementary Services")
            .configs(&["ccss.conf"])
            .builtin()
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let general = read_config(&ctx.pbx);
        ctx.provide(Arc::new(Ccss::new(general, Box::new(Callbacks))));
        ctx.register_app(Arc::new(CallCompletionRequest));
        ctx.register_app(Arc::new(CallCompletionCancel));
        ctx.register_cli_with(register_cli);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let general = read_config(&ctx.pbx);
        if let Some(cc) = ctx.pbx.service::<Ccss>() {
            cc.set_general(general);
        }
        Reload::Done(String::new())
    }
}

/// `ccss.conf` (missing: the defaults). Runs in `load`/`reload`, on the blocking pool.
fn read_config(pbx: &Pbx) -> General {
    let s = &pbx.settings;
    if !s.astetcdir.join("ccss.conf").exists() {
        return General::default();
    }
    match crate::config::load(&s.astetcdir, "ccss.conf", &s.load_options()) {
        Ok(cf) => {
            let (g, warnings) = ccss::parse_general(&cf);
            for w in warnings {
                pbx.warning(&format!("ccss.c: {w}"));
            }
            g
        }
        Err(e) => {
            pbx.warning(&format!("ccss.c: {e}"));
            General::default()
        }
    }
}

/// `cc_callback_macro` and `cc_callback_sub` on an answered recall, with app_macro's and
/// app_stack's own code.
struct Callbacks;

impl RecallHooks for Callbacks {
    fn run_callbacks<'a>(
        &'a self,
        chan: &'a mut Channel,
        macro_: &'a str,
        sub: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            if !macro_.is_empty() {
                let mut parts = macro_.split(',').map(str::to_string);
                let name = parts.next().unwrap_or_default();
                let margs: Vec<String> = parts.collect();
                if flow::run_macro(chan, &name, &margs).await.is_err() {
                    return false;
                }
            }
            if !sub.is_empty() {
                let (loc, args) = flow::split_sub(sub.trim());
                let Some(t) = flow::resolve_goto(chan, loc) else {
                    chan.pbx.warning(&format!(
                        "app_stack.c: Cannot run the CC callback subroutine '{sub}'"
                    ));
                    return false;
                };
                let end =
                    crate::pbx::exec::run_sub(chan, &t.context, &t.exten, t.priority, &args).await;
                if end == crate::pbx::exec::End::Hangup || chan.shared.hangup_requested() {
                    return false;
                }
            }
            true
        })
    }
}

/// `CallCompletionRequest()`.
pub struct CallCompletionRequest;

#[async_trait]
impl App for CallCompletionRequest {
    fn name(&self) -> &'static str {
        "CallCompletionRequest"
    }
    fn synopsis(&self) -> &'static str {
        "Request call completion service for previous call"
    }
    fn syntax(&self) -> &'static str {
        "CallCompletionRequest()"
    }
    fn description(&self) -> &'static str {
        "Request call completion service for a previously failed call attempt. This application sets the following channel variables: CC_REQUEST_RESULT (SUCCESS, FAIL): this is the returned status of the request; CC_REQUEST_REASON (NO_CORE_INSTANCE, NOT_GENERIC, TOO_MANY_REQUESTS, UNSPECIFIED): this is the reason the request failed."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        let device = ccss::device_name(chan.name()).to_string();
        let r = match ccss::service(&chan.pbx) {
            Some(cc) => cc.request(&chan.pbx, &device),
            None => Err(ccss::Refusal::NoCoreInstance),
        };
        set_result(chan, "CC_REQUEST", r);
        Ok(())
    }
}

/// `CallCompletionCancel()`.
pub struct CallCompletionCancel;

#[async_trait]
impl App for CallCompletionCancel {
    fn name(&self) -> &'static str {
        "CallCompletionCancel"
    }
    fn synopsis(&self) -> &'static str {
        "Cancel call completion service"
    }
    fn syntax(&self) -> &'static str {
        "CallCompletionCancel()"
    }
    fn description(&self) -> &'static str {
        "Cancel a Call Completion Request. This application sets the following channel variables: CC_CANCEL_RESULT (SUCCESS, FAIL): this is the returned status of the cancel; CC_CANCEL_REASON (NO_CORE_INSTANCE, NOT_GENERIC, UNSPECIFIED): this is the reason the cancel failed."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        let device = ccss::device_name(chan.name()).to_string();
        let r = match ccss::service(&chan.pbx) {
            Some(cc) => cc.cancel(&chan.pbx, &device),
            None => Err(ccss::Refusal::NoCoreInstance),
        };
        set_result(chan, "CC_CANCEL", r);
        Ok(())
    }
}

/// `<prefix>_RESULT` and, on failure, `<prefix>_REASON`.
fn set_result(chan: &mut Channel, prefix: &str, r: Result<u32, ccss::Refusal>) {
    match r {
        Ok(_) => chan.set_var(&format!("{prefix}_RESULT"), "SUCCESS"),
        Err(why) => {
            chan.set_var(&format!("{prefix}_RESULT"), "FAIL");
            chan.set_var(&format!("{prefix}_REASON"), why.as_str());
        }
    }
}

fn register_cli(r: &CommandRegistry) {
    r.register(Command::new(
        "cc report status",
        "Reports CC stats",
        "Usage: cc report status\n       Report the current status of any ongoing CC transactions\n",
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            Ok(ccss::service(c.pbx()).map_or_else(String::new, |cc| cc.report()))
        },
    ));
    r.register(Command::new(
        "cc cancel",
        "Kill a CC transaction",
        "Usage: cc cancel can be used in two ways.\n       1. 'cc cancel core [core ID]' will cancel the CC transaction with\n          core ID equal to the specified core ID.\n       2. 'cc cancel all' will cancel all active CC transactions.\n",
        |c: Ctx| async move {
            let which = match c.args.as_slice() {
                [all] if all.eq_ignore_ascii_case("all") => None,
                [core, id] if core.eq_ignore_ascii_case("core") => {
                    Some(id.trim().parse::<u32>().map_err(|_| CliError::ShowUsage)?)
                }
                _ => return Err(CliError::ShowUsage),
            };
            if let Some(cc) = ccss::service(c.pbx()) {
                cc.kill(which);
            }
            Ok(String::new())
        },
    ));
}
