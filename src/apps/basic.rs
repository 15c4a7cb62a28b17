//! Basic call-control applications: Answer, Hangup, NoOp, Verbose, Log, Progress, Ringing,
//! Busy, Congestion, Wait, System/TrySystem.

use super::{args, App, AppResult};
use crate::pbx::channel::{cause, ChanEvent};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("pbx_builtins", "Built-in dialplan applications").builtin(),
        register: register_pbx_builtins,
    },
    Family {
        info: ModuleInfo::new("app_verbose.so", "Send verbose output"),
        register: register_app_verbose,
    },
    Family {
        info: ModuleInfo::new("app_system.so", "Generic System() application"),
        register: register_app_system,
    },
];

fn register_pbx_builtins(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Answer));
    ctx.register_app(Arc::new(HangupApp));
    ctx.register_app(Arc::new(NoOp));
    ctx.register_app(Arc::new(Progress));
    ctx.register_app(Arc::new(Ringing));
    ctx.register_app(Arc::new(Busy));
    ctx.register_app(Arc::new(Congestion));
    ctx.register_app(Arc::new(Wait));
}

fn register_app_verbose(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Verbose));
    ctx.register_app(Arc::new(Log));
}

fn register_app_system(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(System {
        name: "System",
        fail_hangs_up: true,
    }));
    ctx.register_app(Arc::new(System {
        name: "TrySystem",
        fail_hangs_up: false,
    }));
}

/// Parse seconds as Asterisk does (`1.5` allowed); `None` for empty/invalid/negative.
pub fn parse_seconds(s: &str) -> Option<Duration> {
    let v: f64 = s.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(v.min(1e7)))
}

struct Answer;
#[async_trait]
impl App for Answer {
    fn name(&self) -> &'static str {
        "Answer"
    }
    fn synopsis(&self) -> &'static str {
        "Answer a channel if ringing."
    }
    fn syntax(&self) -> &'static str {
        "Answer([delay[,options]])"
    }
    fn description(&self) -> &'static str {
        "If the call has not been answered, this application will answer it. Otherwise, it has no effect on the call. delay is the number of milliseconds to wait after answering."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if chan.is_up() {
            return Ok(());
        }
        chan.answer();
        let a = args::split(data, ',');
        if let Some(ms) = a.first().and_then(|d| d.trim().parse::<u64>().ok()) {
            if ms > 0 {
                chan.sleep(Duration::from_millis(ms)).await?;
            }
        }
        Ok(())
    }
}

/// Q.850 cause from a number or an Asterisk cause name (`NORMAL_CLEARING`, `USER_BUSY`…).
pub fn parse_cause(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return Some(n);
    }
    Some(match s.to_ascii_uppercase().as_str() {
        "UNALLOCATED" => cause::UNALLOCATED,
        "NO_ROUTE_DESTINATION" => cause::NO_ROUTE_DESTINATION,
        "NORMAL_CLEARING" => cause::NORMAL_CLEARING,
        "USER_BUSY" | "BUSY" => cause::USER_BUSY,
        "NO_USER_RESPONSE" => cause::NO_USER_RESPONSE,
        "NO_ANSWER" => cause::NO_ANSWER,
        "CALL_REJECTED" => cause::CALL_REJECTED,
        "NORMAL_UNSPECIFIED" => cause::NORMAL_UNSPECIFIED,
        "NORMAL_CIRCUIT_CONGESTION" | "CONGESTION" => cause::NORMAL_CIRCUIT_CONGESTION,
        "SWITCH_CONGESTION" => cause::SWITCH_CONGESTION,
        "SUBSCRIBER_ABSENT" => cause::SUBSCRIBER_ABSENT,
        "INTERWORKING" => cause::INTERWORKING,
        _ => return None,
    })
}

struct HangupApp;
#[async_trait]
impl App for HangupApp {
    fn name(&self) -> &'static str {
        "Hangup"
    }
    fn synopsis(&self) -> &'static str {
        "Hang up the calling channel."
    }
    fn syntax(&self) -> &'static str {
        "Hangup([causecode])"
    }
    fn description(&self) -> &'static str {
        "This application will hang up the calling channel. If a causecode is given the channel's hangup cause will be set to the given value."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let d = data.trim();
        if !d.is_empty() {
            match parse_cause(d) {
                Some(c) if c > 0 => chan.hangup_cause = c,
                _ => chan
                    .pbx
                    .warning(&format!("pbx.c: Invalid cause given to Hangup(): \"{d}\"")),
            }
        }
        if chan.hangup_cause == 0 {
            chan.hangup_cause = cause::NORMAL_CLEARING;
        }
        Err(Hangup)
    }
}

struct NoOp;
#[async_trait]
impl App for NoOp {
    fn name(&self) -> &'static str {
        "NoOp"
    }
    fn synopsis(&self) -> &'static str {
        "Do Nothing (No Operation)."
    }
    fn syntax(&self) -> &'static str {
        "NoOp([text])"
    }
    fn description(&self) -> &'static str {
        "This application does nothing. However, it is useful for debugging purposes: its argument shows in the verbose output."
    }
    async fn exec(&self, _chan: &mut Channel, _data: &str) -> AppResult {
        Ok(())
    }
}

struct Verbose;
#[async_trait]
impl App for Verbose {
    fn name(&self) -> &'static str {
        "Verbose"
    }
    fn synopsis(&self) -> &'static str {
        "Send arbitrary text to verbose output."
    }
    fn syntax(&self) -> &'static str {
        "Verbose([level,]message)"
    }
    fn description(&self) -> &'static str {
        "Sends an arbitrary text message to verbose output. level must be an integer value (0 when left out)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let (level, msg) = match data.split_once(',') {
            Some((l, m)) if l.trim().parse::<u8>().is_ok() => {
                (l.trim().parse::<u8>().unwrap_or(0), m)
            }
            Some((l, m)) if l.trim().is_empty() => (0, m),
            _ => (0, data),
        };
        if level <= chan.pbx.verbose() {
            chan.pbx.verbose_line(level, msg);
        }
        Ok(())
    }
}

struct Log;
#[async_trait]
impl App for Log {
    fn name(&self) -> &'static str {
        "Log"
    }
    fn synopsis(&self) -> &'static str {
        "Send arbitrary text to a selected log level."
    }
    fn syntax(&self) -> &'static str {
        "Log(level,message)"
    }
    fn description(&self) -> &'static str {
        "Sends an arbitrary text message to a selected log level: ERROR, WARNING, NOTICE, DEBUG, VERBOSE or DTMF."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((level, msg)) = data.split_once(',') else {
            chan.pbx
                .warning("app_verbose.c: Log requires an argument (level,message)");
            return Ok(());
        };
        let line = format!(
            "Ext. {}:{} @ {}: {}",
            chan.exten, chan.priority, chan.context, msg
        );
        match level.trim().to_ascii_uppercase().as_str() {
            "ERROR" => chan.pbx.error(&line),
            "WARNING" => chan.pbx.warning(&line),
            "NOTICE" => chan.pbx.notice(&line),
            "DEBUG" => tracing::debug!("{line}"),
            "VERBOSE" => chan.pbx.verbose_line(1, &line),
            "DTMF" => chan.pbx.verbose_line(1, &line),
            other => chan
                .pbx
                .warning(&format!("app_verbose.c: Unknown log level '{other}'")),
        }
        Ok(())
    }
}

struct Progress;
#[async_trait]
impl App for Progress {
    fn name(&self) -> &'static str {
        "Progress"
    }
    fn synopsis(&self) -> &'static str {
        "Indicate progress."
    }
    fn syntax(&self) -> &'static str {
        "Progress()"
    }
    fn description(&self) -> &'static str {
        "Request that the channel indicate in-band progress is available to the user."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        chan.indicate(ChanEvent::Progress);
        Ok(())
    }
}

struct Ringing;
#[async_trait]
impl App for Ringing {
    fn name(&self) -> &'static str {
        "Ringing"
    }
    fn synopsis(&self) -> &'static str {
        "Indicate ringing tone."
    }
    fn syntax(&self) -> &'static str {
        "Ringing()"
    }
    fn description(&self) -> &'static str {
        "Request that the channel indicate a ringing tone to the user."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        chan.indicate(ChanEvent::Ringing);
        Ok(())
    }
}

struct Busy;
#[async_trait]
impl App for Busy {
    fn name(&self) -> &'static str {
        "Busy"
    }
    fn synopsis(&self) -> &'static str {
        "Indicate the Busy condition."
    }
    fn syntax(&self) -> &'static str {
        "Busy([timeout])"
    }
    fn description(&self) -> &'static str {
        "This application will indicate the busy condition to the calling channel, then wait for the caller to hang up or for the optional timeout (seconds) to expire."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if !chan.is_up() {
            chan.hangup_cause = cause::USER_BUSY;
        }
        chan.indicate(ChanEvent::Busy);
        chan.wait_hangup(parse_seconds(data).filter(|d| !d.is_zero()))
            .await;
        Err(Hangup)
    }
}

struct Congestion;
#[async_trait]
impl App for Congestion {
    fn name(&self) -> &'static str {
        "Congestion"
    }
    fn synopsis(&self) -> &'static str {
        "Indicate the Congestion condition."
    }
    fn syntax(&self) -> &'static str {
        "Congestion([timeout])"
    }
    fn description(&self) -> &'static str {
        "This application will indicate the congestion condition to the calling channel, then wait for the caller to hang up or for the optional timeout (seconds) to expire."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if !chan.is_up() {
            chan.hangup_cause = cause::NORMAL_CIRCUIT_CONGESTION;
        }
        chan.indicate(ChanEvent::Congestion);
        chan.wait_hangup(parse_seconds(data).filter(|d| !d.is_zero()))
            .await;
        Err(Hangup)
    }
}

struct Wait;
#[async_trait]
impl App for Wait {
    fn name(&self) -> &'static str {
        "Wait"
    }
    fn synopsis(&self) -> &'static str {
        "Waits for some time."
    }
    fn syntax(&self) -> &'static str {
        "Wait(seconds)"
    }
    fn description(&self) -> &'static str {
        "This application waits for a specified number of seconds (fractions allowed). Audio and digits the caller sends meanwhile are discarded."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        match parse_seconds(data) {
            Some(d) if !d.is_zero() => {
                chan.sleep(d).await?;
                // Asterisk's ast_safe_sleep reads and drops what arrives meanwhile.
                chan.discard_input();
                Ok(())
            }
            Some(_) => Ok(()),
            None => {
                if !data.trim().is_empty() {
                    chan.pbx.warning(&format!(
                        "pbx.c: Invalid timeout provided to Wait: '{data}'"
                    ));
                }
                Ok(())
            }
        }
    }
}

struct System {
    name: &'static str,
    fail_hangs_up: bool,
}
#[async_trait]
impl App for System {
    fn name(&self) -> &'static str {
        self.name
    }
    fn synopsis(&self) -> &'static str {
        if self.fail_hangs_up {
            "Execute a system command."
        } else {
            "Try executing a system command."
        }
    }
    fn syntax(&self) -> &'static str {
        if self.fail_hangs_up {
            "System(command)"
        } else {
            "TrySystem(command)"
        }
    }
    fn description(&self) -> &'static str {
        "Executes a command through /bin/sh. The result is returned in SYSTEMSTATUS: FAILURE (could not execute), SUCCESS (exit 0) or APPERROR (non-zero exit)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let status_var = if self.fail_hangs_up {
            "SYSTEMSTATUS"
        } else {
            "TRYSTATUS"
        };
        if data.trim().is_empty() {
            chan.pbx.warning(&format!(
                "app_system.c: {} requires an argument(command)",
                self.name
            ));
            chan.vars.set(status_var, "FAILURE");
            return if self.fail_hangs_up {
                Err(Hangup)
            } else {
                Ok(())
            };
        }
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(data).stdin(std::process::Stdio::null());
        // Set(ENV(x)=…) values reach the command (func_env.so keeps them).
        crate::funcs::env::apply_env(&mut cmd);
        let out = cmd.status().await;
        match out {
            Ok(st) if st.success() => {
                chan.vars.set(status_var, "SUCCESS");
                Ok(())
            }
            Ok(st) => {
                chan.pbx.verbose_line(
                    3,
                    &format!("Command '{}' returned {}", data, st.code().unwrap_or(-1)),
                );
                chan.vars.set(status_var, "APPERROR");
                Ok(())
            }
            Err(e) => {
                chan.pbx
                    .warning(&format!("app_system.c: Unable to execute '{data}': {e}"));
                chan.vars.set(status_var, "FAILURE");
                if self.fail_hangs_up {
                    Err(Hangup)
                } else {
                    Ok(())
                }
            }
        }
    }
}
