//! Small applications of several Asterisk modules: `WaitUntil` (app_waituntil.so),
//! `DBdeltree` (app_db.so), `TryExec` (app_exec.so), `SoftHangup` (app_softhangup.so),
//! `ResetCDR` and `NoCDR` (app_cdr.so), `Reload` (app_reload.so), `DumpChan`
//! (app_dumpchan.so), `ChannelRedirect` (app_channelredirect.so), and the built-ins
//! `ExecIfTime`, `ImportVar`, `Incomplete`, `Proceeding`, `RaiseException`, `WaitDigit`
//! with the `EXCEPTION()` function.

use super::flow::split_app;
use super::{args, App, AppResult};
use crate::pbx::exec;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("pbx_builtins_misc", "Built-in dialplan applications").builtin(),
        register: register_builtins,
    },
    Family {
        info: ModuleInfo::new("app_waituntil.so", "Wait until specified time"),
        register: |ctx| ctx.register_app(Arc::new(WaitUntil)),
    },
    Family {
        info: ModuleInfo::new("app_db.so", "Database Access Functions"),
        register: |ctx| ctx.register_app(Arc::new(DbDeltree)),
    },
    Family {
        info: ModuleInfo::new("app_softhangup.so", "Hangs up the requested channel"),
        register: |ctx| ctx.register_app(Arc::new(SoftHangup)),
    },
    Family {
        info: ModuleInfo::new(
            "app_cdr.so",
            "Tell Asterisk to not maintain a CDR for the current call",
        ),
        register: register_app_cdr,
    },
    Family {
        info: ModuleInfo::new("app_reload.so", "Reload module(s)").support(SupportLevel::Extended),
        register: |ctx| ctx.register_app(Arc::new(Reload)),
    },
    Family {
        info: ModuleInfo::new("app_dumpchan.so", "Dump Info About The Calling Channel"),
        register: |ctx| ctx.register_app(Arc::new(DumpChan)),
    },
    Family {
        info: ModuleInfo::new(
            "app_channelredirect.so",
            "Redirects a given channel to a dialplan target",
        ),
        register: |ctx| ctx.register_app(Arc::new(ChannelRedirect)),
    },
];

fn register_builtins(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ExecIfTime));
    ctx.register_app(Arc::new(ImportVar));
    ctx.register_app(Arc::new(Incomplete));
    ctx.register_app(Arc::new(Proceeding));
    ctx.register_app(Arc::new(RaiseException));
    ctx.register_app(Arc::new(WaitDigit));
    ctx.register_func(Arc::new(ExceptionFunc));
    ctx.register_func(Arc::new(TestTime));
}

fn register_app_cdr(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ResetCdr));
    ctx.register_app(Arc::new(NoCdr));
}

// ---------------------------------------------------------------------------------------
// WaitUntil

struct WaitUntil;
#[async_trait]
impl App for WaitUntil {
    app_meta!(
        "WaitUntil",
        "Wait (sleep) until the current time is the given epoch.",
        "WaitUntil(epoch)",
        "Waits until the given epoch (fractions allowed). Sets WAITUNTILSTATUS to OK (wait succeeded), FAILURE (invalid argument), HANGUP (channel hungup before time elapsed) or PAST (time specified had already past)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Ok(epoch) = data.trim().parse::<f64>() else {
            chan.pbx
                .warning("app_waituntil.c: WaitUntil requires an argument(epoch)");
            chan.set_var("WAITUNTILSTATUS", "FAILURE");
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        if epoch <= now {
            chan.pbx.warning(&format!(
                "app_waituntil.c: Time has already passed (now={now:.6}, epoch={epoch:.6})"
            ));
            chan.set_var("WAITUNTILSTATUS", "PAST");
            return Ok(());
        }
        let ok = chan.sleep(Duration::from_secs_f64(epoch - now)).await;
        chan.set_var("WAITUNTILSTATUS", if ok.is_ok() { "OK" } else { "HANGUP" });
        ok
    }
}

// ---------------------------------------------------------------------------------------
// DBdeltree

struct DbDeltree;
#[async_trait]
impl App for DbDeltree {
    app_meta!(
        "DBdeltree",
        "Delete a family or keytree from the asterisk database.",
        "DBdeltree(family[/keytree])",
        "This application will delete a family or keytree from the Asterisk database."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let path = data.trim().trim_matches('/').to_string();
        if path.is_empty() {
            chan.pbx
                .warning("app_db.c: DBdeltree requires an argument (family/keytree)");
            return Ok(());
        }
        let (family, keytree) = match path.split_once('/') {
            Some((f, k)) => (f.to_string(), Some(k.to_string())),
            None => (path.clone(), None),
        };
        chan.pbx
            .verbose_line(3, &format!("DBdeltree: family={family}"));
        let pbx = chan.pbx.clone();
        let n =
            crate::pbx::blocking::run(move || pbx.astdb.deltree(Some(&family), keytree.as_deref()))
                .await;
        if !matches!(n, Some(Ok(_))) {
            chan.pbx
                .verbose_line(3, "DBdeltree: Error deleting key from database.");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// TryExec, ExecIfTime

/// TryExec's application registry entry (shared with app_exec.so's Exec and ExecIf).
pub fn register_tryexec(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(TryExec));
}

struct TryExec;
#[async_trait]
impl App for TryExec {
    app_meta!(
        "TryExec",
        "Executes dialplan application, always returning.",
        "TryExec(appname(arguments))",
        "Allows an arbitrary application to be invoked even when not hard coded into the dialplan. Always returns to the dialplan. The channel variable TRYSTATUS will be set to SUCCESS (the application returned zero), FAILED (the application returned non-zero) or NOAPP (the application was not found or was not specified)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let (app, app_args) = split_app(data);
        if app.is_empty() || chan.pbx.apps.get(app).is_none() {
            if !app.is_empty() {
                chan.pbx
                    .warning(&format!("app_exec.c: Could not find application ({app})"));
            }
            chan.set_var("TRYSTATUS", "NOAPP");
            return Ok(());
        }
        let (app, app_args) = (app.to_string(), app_args.to_string());
        let r = exec::exec_app(chan, &app, &app_args).await;
        chan.set_var("TRYSTATUS", if r.is_ok() { "SUCCESS" } else { "FAILED" });
        // A hang-up is still a hang-up.
        if chan.check_hangup() {
            return Err(Hangup);
        }
        Ok(())
    }
}

struct ExecIfTime;
#[async_trait]
impl App for ExecIfTime {
    app_meta!(
        "ExecIfTime",
        "Conditional application execution based on the current time.",
        "ExecIfTime(times,weekdays,mdays,months[,timezone]?appname[(appargs)])",
        "This application will execute the specified dialplan application, with optional arguments, if the current time matches the given time specification."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((spec, app)) = data.split_once('?') else {
            chan.pbx.warning(
                "pbx_builtins.c: ExecIfTime requires an argument:\n  <time range>,<days of week>,<days of month>,<months>[,<timezone>]?<appname>[(<appargs>)]",
            );
            return Ok(());
        };
        let spec = match crate::dialplan::TimeSpec::parse(spec) {
            Ok(s) => s,
            Err(e) => {
                chan.pbx
                    .warning(&format!("pbx_builtins.c: Invalid Time Spec: {e}"));
                return Ok(());
            }
        };
        if !spec.matches(Utc::now()) {
            return Ok(());
        }
        let (app, app_args) = split_app(app);
        if chan.pbx.apps.get(app).is_none() {
            chan.pbx
                .warning(&format!("pbx_builtins.c: Cannot locate application {app}"));
            return Err(Hangup);
        }
        let (app, app_args) = (app.to_string(), app_args.to_string());
        exec::exec_app(chan, &app, &app_args).await
    }
}

// ---------------------------------------------------------------------------------------
// SoftHangup

struct SoftHangup;
#[async_trait]
impl App for SoftHangup {
    app_meta!(
        "SoftHangup",
        "Hangs up the requested channel.",
        "SoftHangup(Technology/Resource[,options])",
        "Hangs up the requested channel (its full name, any case). Option a: hang up all channels on a specified device (Technology/Resource without the -suffix) instead of a single resource."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let target = args::nth(&a, 0).trim().to_string();
        if target.is_empty() {
            chan.pbx
                .warning("app_softhangup.c: SoftHangup requires an argument (Technology/resource)");
            return Ok(());
        }
        let all = args::nth(&a, 1).contains('a');
        for c in chan.pbx.channels.list() {
            if c.name.len() < target.len() || !c.name[..target.len()].eq_ignore_ascii_case(&target)
            {
                continue;
            }
            let name = if all {
                c.name.rsplit_once('-').map_or(c.name.as_str(), |(d, _)| d)
            } else {
                c.name.as_str()
            };
            if name.eq_ignore_ascii_case(&target) {
                chan.pbx
                    .verbose_line(4, &format!("Soft hanging {} up.", c.name));
                c.request_hangup(16);
                if !all {
                    break;
                }
            }
        }
        // The channel may have hung itself up.
        if chan.check_hangup() {
            return Err(Hangup);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// ResetCDR, NoCDR

struct ResetCdr;
#[async_trait]
impl App for ResetCdr {
    app_meta!(
        "ResetCDR",
        "Resets the Call Data Record.",
        "ResetCDR([options])",
        "This application causes the Call Data Record to be reset: the start time is set to the current time, if the channel is answered the answer time is set to the current time, and all variables are wiped from the CDR. Options: v — save the CDR variables during the reset; e — enable the CDRs for this channel only (negate effects of NoCDR; deprecated, use CDR_PROP)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let now = chrono::Local::now();
        chan.cdr.start = now;
        if chan.cdr.answer.is_some() {
            chan.cdr.answer = Some(now);
        }
        if !data.contains('v') {
            chan.cdr.vars.clear();
        }
        if data.contains('e') {
            chan.cdr.disabled = false;
        }
        Ok(())
    }
}

struct NoCdr;
#[async_trait]
impl App for NoCdr {
    app_meta!(
        "NoCDR",
        "Tell Asterisk to not maintain a CDR for this channel.",
        "NoCDR()",
        "This application will tell Asterisk not to maintain a CDR for the current channel: if the channel is hung up no CDRs will be created for it. A later ResetCDR(e) enables them again. Deprecated: use CDR_PROP(disable)."
    );
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        chan.cdr.disabled = true;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Reload

struct Reload;
#[async_trait]
impl App for Reload {
    app_meta!(
        "Reload",
        "Reloads an Asterisk module, blocking the channel until the reload has completed.",
        "Reload([module])",
        "Reloads the specified (or all) modules (full names, & separated, e.g. chan_sip&pbx_config) and reports success or failure in RELOADSTATUS: SUCCESS if every reload succeeded, FAILURE otherwise."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let names: Vec<String> = data
            .split('&')
            .map(|s| s.trim().trim_end_matches(".so").to_string())
            .filter(|s| !s.is_empty())
            .collect();
        use crate::pbx::module::Reload as R;
        let pbx = chan.pbx.clone();
        let ok = if names.is_empty() {
            pbx.modules
                .reload_all()
                .await
                .iter()
                .all(|(_, r)| !matches!(r, R::Failed(_)))
        } else {
            let mut ok = true;
            for n in names {
                ok &= matches!(pbx.modules.reload(&n).await, Some(R::Done(_)));
            }
            ok
        };
        chan.set_var("RELOADSTATUS", if ok { "SUCCESS" } else { "FAILURE" });
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// DumpChan

struct DumpChan;

/// `serialize_showchan`'s lines for `chan`.
fn channel_info(chan: &Channel) -> String {
    let or_na = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("(N/A)").to_string();
    let elapsed = chan.shared.created.elapsed().as_secs();
    let state = chan.state;
    let tech = chan.name().split('/').next().unwrap_or("").to_string();
    let linkedid = chan.cdr.linkedid.clone();
    let fmt = if chan.media.is_some() {
        "(ulaw)"
    } else {
        "(nothing)"
    };
    let raw = if chan.media.is_some() {
        "ulaw"
    } else {
        "(nothing)"
    };
    let data = if chan.last_data.is_empty() {
        "(Empty)".to_string()
    } else {
        chan.last_data.clone()
    };
    let lines = [
        ("Name=", chan.name().to_string()),
        ("Type=", tech),
        ("UniqueID=", chan.uniqueid().to_string()),
        ("LinkedID=", linkedid),
        ("CallerIDNum=", or_na(chan.caller.num.as_deref())),
        ("CallerIDName=", or_na(chan.caller.name.as_deref())),
        (
            "ConnectedLineIDNum=",
            or_na(chan.connected.as_ref().and_then(|p| p.num.as_deref())),
        ),
        (
            "ConnectedLineIDName=",
            or_na(chan.connected.as_ref().and_then(|p| p.name.as_deref())),
        ),
        ("DNIDDigits=", or_na(chan.caller.dnid.as_deref())),
        ("RDNIS=", or_na(chan.caller.rdnis.as_deref())),
        ("Parkinglot=", String::new()),
        ("Language=", chan.language.clone()),
        ("State=", format!("{} ({})", state.as_str(), state as u32)),
        ("Rings=", "0".into()),
        ("NativeFormat=", fmt.into()),
        ("WriteFormat=", raw.into()),
        ("ReadFormat=", raw.into()),
        ("RawWriteFormat=", raw.into()),
        ("RawReadFormat=", raw.into()),
        ("WriteTranscode=", "No ".into()),
        ("ReadTranscode=", "No ".into()),
        ("1stFileDescriptor=", "-1".into()),
        ("Framesin=", "0 ".into()),
        ("Framesout=", "0 ".into()),
        ("TimetoHangup=", "0".into()),
        (
            "ElapsedTime=",
            format!("{}h{}m{}s", elapsed / 3600, elapsed / 60 % 60, elapsed % 60),
        ),
        (
            "BridgeID=",
            chan.bridged
                .clone()
                .unwrap_or_else(|| "(Not bridged)".into()),
        ),
        ("Context=", chan.context.clone()),
        ("Extension=", chan.exten.clone()),
        ("Priority=", chan.priority.to_string()),
        ("CallGroup=", String::new()),
        ("PickupGroup=", String::new()),
        ("Application=", "DumpChan".into()),
        ("Data=", data),
        ("Blocking_in=", "(Not Blocking)".into()),
    ];
    lines.iter().map(|(k, v)| format!("{k:<20}{v}\n")).collect()
}

#[async_trait]
impl App for DumpChan {
    app_meta!(
        "DumpChan",
        "Dump Info About The Calling Channel.",
        "DumpChan([level])",
        "Displays information on channel and listing of all channel variables. If level is specified, output is only displayed when the verbose level is currently set to that number or greater."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let level: u8 = data.trim().parse().unwrap_or(0);
        if chan.pbx.verbose() < level {
            return Ok(());
        }
        let line = "=".repeat(80);
        let vars: String = chan
            .vars
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}\n",
                    crate::pbx::vars::Vars::display_name(k, v),
                    v.value
                )
            })
            .collect();
        let text = format!(
            "\nDumping Info For Channel: {}:\n{line}\nInfo:\n{}\nVariables:\n{vars}{line}\n",
            chan.name(),
            channel_info(chan)
        );
        chan.pbx.verbose_line(level, &text);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// ChannelRedirect

struct ChannelRedirect;
#[async_trait]
impl App for ChannelRedirect {
    app_meta!(
        "ChannelRedirect",
        "Redirects given channel to a dialplan target.",
        "ChannelRedirect(channel,[[context,]extension,]priority)",
        "Sends the specified channel to the specified extension priority (relative to where that channel is; a priority may be a label). Sets CHANNELREDIRECT_STATUS to NOCHANNEL or SUCCESS."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let target = args::nth(&a, 0).trim();
        if target.is_empty() || a.len() < 2 {
            chan.pbx.warning(
                "app_channelredirect.c: ChannelRedirect(channel,[[context,]extension,]priority)",
            );
            return Ok(());
        }
        let Some(other) = chan.pbx.channels.get(target) else {
            chan.pbx
                .warning(&format!("app_channelredirect.c: No such channel: {target}"));
            chan.set_var("CHANNELREDIRECT_STATUS", "NOCHANNEL");
            return Ok(());
        };
        // Relative to the target's own position, as ast_parseable_goto on it.
        let (cur_ctx, cur_exten) = {
            let s = other.snapshot.lock();
            (s.context.clone(), s.exten.clone())
        };
        let place: Vec<&str> = a[1..].iter().map(|s| s.trim()).collect();
        let (ctx, exten, prio) = match place.as_slice() {
            [c, e, p] => (c.to_string(), e.to_string(), p.to_string()),
            [e, p] => (cur_ctx, e.to_string(), p.to_string()),
            [p] => (cur_ctx, cur_exten, p.to_string()),
            _ => return Ok(()),
        };
        let prio = match prio.parse::<i32>() {
            Ok(p) => p,
            Err(_) => chan
                .pbx
                .dialplan()
                .find_label(&ctx, &exten, &prio, None, Utc::now())
                .unwrap_or(0),
        };
        if prio <= 0 {
            chan.pbx.warning(&format!(
                "app_channelredirect.c: Priority '{}' must be a number > 0, or valid label",
                args::nth(&a, a.len() - 1)
            ));
            return Ok(());
        }
        other.request_redirect(&ctx, &exten, prio);
        chan.set_var("CHANNELREDIRECT_STATUS", "SUCCESS");
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// ImportVar

struct ImportVar;
#[async_trait]
impl App for ImportVar {
    app_meta!(
        "ImportVar",
        "Import a variable from a channel into a new variable.",
        "ImportVar(newvar=channelname,variable)",
        "This application imports a variable from the specified channel (as opposed to the current one) and stores it as a variable (newvar) in the current channel (the channel that is calling this application). Variables created by this application have the same inheritance properties as those created with the Set application."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((newvar, rest)) = data.split_once('=') else {
            chan.pbx
                .warning("pbx_builtins.c: Ignoring, since there is no variable to set");
            return Ok(());
        };
        let (source, var) = rest.split_once(',').unwrap_or((rest, ""));
        let value = import_var(chan, source.trim(), var.trim()).await;
        chan.pbx.verbose_line(
            4,
            &format!(
                "{}: Importing variable '{}' from channel '{}' with value '{}'",
                chan.name(),
                var.trim(),
                source.trim(),
                value
            ),
        );
        chan.vars.set_or_unset(newvar.trim(), &value);
        Ok(())
    }
}

/// `${var}` on channel `source` (empty when there is no such channel). The current
/// channel answers itself; another is asked for a copy of its variables.
pub async fn import_var(chan: &mut Channel, source: &str, var: &str) -> String {
    if var.is_empty() {
        return String::new();
    }
    if source == chan.name() {
        return exec::substitute(chan, &format!("${{{var}}}"));
    }
    let Some(other) = chan.pbx.channels.get(source) else {
        return String::new();
    };
    let vars = other.request_vars(Duration::from_millis(500)).await;
    let (bare, _) = crate::pbx::vars::split_inherit(var);
    vars.iter()
        .find_map(|nv| {
            let (n, v) = nv.split_once('=')?;
            (crate::pbx::vars::split_inherit(n).0 == bare).then(|| v.to_string())
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Incomplete, Proceeding

struct Incomplete;
#[async_trait]
impl App for Incomplete {
    app_meta!(
        "Incomplete",
        "Returns AST_PBX_INCOMPLETE value.",
        "Incomplete([n])",
        "Signals the PBX routines that the previous matched extension is incomplete and that further input should be allowed before matching can be considered to be complete. With n, the channel is not answered first. ferrisk waits for more digits (TIMEOUT(digit)) and goes to the extension dialed, or i."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if !data.trim().eq_ignore_ascii_case("n") && !chan.is_up() {
            chan.answer();
        }
        let prefix = chan.exten.clone();
        super::waitexten::dial_more(chan, prefix).await
    }
}

struct Proceeding;
#[async_trait]
impl App for Proceeding {
    app_meta!(
        "Proceeding",
        "Indicate proceeding.",
        "Proceeding()",
        "This application will request that a proceeding message be provided to the calling channel (for SIP, the 100 Trying every call already got)."
    );
    async fn exec(&self, _chan: &mut Channel, _data: &str) -> AppResult {
        // SIP: the 100 Trying every INVITE already got is the proceeding indication.
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// RaiseException, EXCEPTION()

struct RaiseException;
#[async_trait]
impl App for RaiseException {
    app_meta!(
        "RaiseException",
        "Handle an exceptional condition.",
        "RaiseException(reason)",
        "This application will jump to the e extension in the current context, setting the dialplan function EXCEPTION(). If the e extension does not exist, the call will hangup."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let reason = data.trim();
        if reason.is_empty() {
            chan.pbx
                .warning("pbx_builtins.c: RaiseException requires a reason.");
            return Err(Hangup);
        }
        exec::raise_exception(chan, reason, 0);
        Ok(())
    }
}

struct ExceptionFunc;
impl crate::pbx::func::Func for ExceptionFunc {
    fn name(&self) -> &'static str {
        "EXCEPTION"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve the details of the current dialplan exception."
    }
    fn syntax(&self) -> &'static str {
        "EXCEPTION(field)"
    }
    fn description(&self) -> &'static str {
        "Retrieve the details (specified field) of the current dialplan exception: reason (INVALID, ERROR, RESPONSETIMEOUT, ABSOLUTETIMEOUT, or a custom value set by RaiseException), context, exten, priority."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, crate::pbx::func::FuncError> {
        let Some(e) = exec::exception(chan) else {
            return Err(crate::pbx::func::FuncError::Other(
                "No exception has been raised".into(),
            ));
        };
        let f = a.trim().to_ascii_lowercase();
        Ok(match f.as_str() {
            "reason" => e.reason.clone(),
            "context" => e.context.clone(),
            "priority" => e.priority.to_string(),
            f if f.starts_with("exten") => e.exten.clone(),
            _ => {
                return Err(crate::pbx::func::FuncError::Usage(format!(
                    "Unknown EXCEPTION field '{a}'"
                )))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// TESTTIME()

struct TestTime;
impl crate::pbx::func::Func for TestTime {
    fn name(&self) -> &'static str {
        "TESTTIME"
    }
    fn synopsis(&self) -> &'static str {
        "Sets a time to be used with the channel to test logical conditions."
    }
    fn syntax(&self) -> &'static str {
        "TESTTIME(date time[,zone])"
    }
    fn description(&self) -> &'static str {
        "To test dialplan timing conditions at times other than the current time, use this \
         function to set an alternate date and time: Set(TESTTIME()=2006/07/04 12:00:00 \
         America/New_York) makes GotoIfTime() evaluate as if it were then (the channel \
         variable TESTTIME holds the epoch, inherited by called channels). A false value \
         turns testing off."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, crate::pbx::func::FuncError> {
        Err(crate::pbx::func::FuncError::WriteOnly)
    }
    fn write(
        &self,
        chan: &mut Channel,
        _a: &str,
        value: &str,
    ) -> Result<(), crate::pbx::func::FuncError> {
        if !crate::funcs::logic::checkcondition(value) {
            chan.vars.remove("TESTTIME");
            return Ok(());
        }
        let v = value.trim();
        let (date, rest) = match v.match_indices(' ').nth(1) {
            Some((i, _)) => (&v[..i], v[i..].trim()),
            None => (v, ""),
        };
        let naive = chrono::NaiveDateTime::parse_from_str(date, "%Y/%m/%d %H:%M:%S")
            .map_err(|_| crate::pbx::func::FuncError::Usage(format!("Invalid TESTTIME '{v}'")))?;
        let zone = rest.split_whitespace().next().unwrap_or("");
        let epoch = match zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => naive
                .and_local_timezone(tz)
                .earliest()
                .map(|t| t.timestamp()),
            Err(_) => naive
                .and_local_timezone(crate::funcs::time::local_tz())
                .earliest()
                .map(|t| t.timestamp()),
        }
        .ok_or_else(|| crate::pbx::func::FuncError::Usage(format!("Invalid TESTTIME '{v}'")))?;
        chan.vars.set("__TESTTIME", epoch.to_string());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// WaitDigit

struct WaitDigit;
#[async_trait]
impl App for WaitDigit {
    app_meta!(
        "WaitDigit",
        "Waits for a digit to be entered.",
        "WaitDigit([seconds[,digits]])",
        "This application waits for the user to press one of the accepted digits (all when digits is empty) for a specified number of seconds (fractions allowed; without it, forever). Sets WAITDIGITSTATUS to ERROR (parameters are invalid), DTMF (an accepted digit was received), TIMEOUT (the timeout passed before any acceptable digits were received) or CANCEL (the channel has hungup or was redirected), and WAITDIGITRESULT to the digit received."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let secs = args::nth(&a, 0).trim();
        let accept = args::nth(&a, 1).to_string();
        let deadline = if secs.is_empty() {
            None
        } else {
            match secs.parse::<f64>() {
                Ok(s) if s >= 0.0 && s.is_finite() => {
                    Some(tokio::time::Instant::now() + Duration::from_secs_f64(s))
                }
                _ => {
                    chan.pbx.warning(&format!(
                        "pbx_builtins.c: Invalid timeout provided for WaitDigit ({secs})"
                    ));
                    chan.set_var("WAITDIGITSTATUS", "ERROR");
                    return Ok(());
                }
            }
        };
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            if left == Some(Duration::ZERO) {
                chan.set_var("WAITDIGITSTATUS", "TIMEOUT");
                return Ok(());
            }
            match chan.read_frame(left).await {
                Err(Hangup) => {
                    chan.set_var("WAITDIGITSTATUS", "CANCEL");
                    return Err(Hangup);
                }
                Ok(None) => {
                    chan.set_var("WAITDIGITSTATUS", "TIMEOUT");
                    return Ok(());
                }
                Ok(Some(crate::media::frame::Frame::Dtmf(d, _)))
                    if accept.is_empty() || accept.contains(d) =>
                {
                    chan.set_var("WAITDIGITSTATUS", "DTMF");
                    chan.set_var("WAITDIGITRESULT", &d.to_string());
                    return Ok(());
                }
                Ok(Some(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::{get, pbx_with, run};

    #[tokio::test]
    async fn waituntil_tryexec_execiftime_exceptions() {
        let soon = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            + 0.05;
        let pbx = pbx_with(&format!(
            "[t]\nexten => s,1,WaitUntil(1000)\n same => n,Set(W1=${{WAITUNTILSTATUS}})\n\
             same => n,WaitUntil(x)\n same => n,Set(W2=${{WAITUNTILSTATUS}})\n\
             same => n,WaitUntil({soon:.3})\n same => n,Set(W3=${{WAITUNTILSTATUS}})\n\
             same => n,TryExec(Set(T=1))\n same => n,Set(T1=${{TRYSTATUS}})\n\
             same => n,TryExec(NoSuchApp(x))\n same => n,Set(T2=${{TRYSTATUS}})\n\
             same => n,TryExec()\n same => n,Set(T3=${{TRYSTATUS}})\n\
             same => n,ExecIfTime(*,*,*,*?Set(E1=yes))\n\
             same => n,ExecIfTime(00:00-00:00,*,*,*?Set(E2=yes))\n\
             same => n,Proceeding()\n same => n,NoCDR()\n same => n,ResetCDR(e)\n\
             same => n,RaiseException(MYREASON)\n same => n,Set(NOT=reached)\n\
             exten => e,1,Set(R=${{EXCEPTION(reason)}})\n\
             same => n,Set(L=${{EXCEPTION(context)}},${{EXCEPTION(exten)}},${{EXCEPTION(priority)}})\n"
        ));
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "W1"), Some("PAST"));
        assert_eq!(get(&v, "W2"), Some("FAILURE"));
        assert_eq!(get(&v, "W3"), Some("OK"));
        assert_eq!(get(&v, "T"), Some("1"));
        assert_eq!(get(&v, "T1"), Some("SUCCESS"));
        assert_eq!(get(&v, "T2"), Some("NOAPP"));
        assert_eq!(get(&v, "T3"), Some("NOAPP"));
        assert_eq!(get(&v, "E1"), Some("yes"));
        assert_eq!(get(&v, "E2"), None);
        assert_eq!(get(&v, "NOT"), None);
        assert_eq!(get(&v, "R"), Some("MYREASON"));
        assert_eq!(get(&v, "L"), Some("t,s,18"));
    }

    #[tokio::test]
    async fn dbdeltree_removes_a_family_or_a_tree() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(DB(fam/a)=1)\n same => n,Set(DB(fam/b/c)=2)\n\
             same => n,Set(DB(fam/b/d)=3)\n same => n,Set(DB(keep/x)=4)\n\
             same => n,DBdeltree(fam/b)\n same => n,Set(A=${DB_EXISTS(fam/a)}${DB_EXISTS(fam/b/c)})\n\
             same => n,DBdeltree(fam)\n same => n,Set(B=${DB_EXISTS(fam/a)}${DB_EXISTS(keep/x)})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "A"), Some("10"));
        assert_eq!(get(&v, "B"), Some("01"));
    }

    #[tokio::test]
    async fn softhangup_one_or_all_of_a_device() {
        let pbx =
            pbx_with("[t]\nexten => s,1,SoftHangup(SIP/a,a)\n same => n,SoftHangup(SIP/b-0002)\n");
        let tech = Arc::new(crate::pbx::channel::NullTech);
        let a1 = Channel::new(&pbx, "SIP/a-0001".into(), tech.clone());
        let a2 = Channel::new(&pbx, "SIP/a-0003".into(), tech.clone());
        let ab = Channel::new(&pbx, "SIP/ab-0004".into(), tech.clone());
        let b = Channel::new(&pbx, "SIP/b-0002".into(), tech.clone());
        let b2 = Channel::new(&pbx, "SIP/b-0005".into(), tech);
        run(&pbx, "t", "s").await;
        assert!(a1.shared.hangup_requested());
        assert!(a2.shared.hangup_requested());
        assert!(!ab.shared.hangup_requested(), "another device");
        assert!(b.shared.hangup_requested());
        assert!(!b2.shared.hangup_requested());
    }

    #[tokio::test]
    async fn cdr_apps_and_importvar_and_dumpchan() {
        let pbx = pbx_with("[t]\nexten => s,1,NoOp()\n");
        let mut c = Channel::new(
            &pbx,
            "SIP/c-0001".into(),
            Arc::new(crate::pbx::channel::NullTech),
        );
        NoCdr.exec(&mut c, "").await.unwrap();
        assert!(c.cdr.disabled);
        c.cdr.vars.insert("k".into(), "v".into());
        ResetCdr.exec(&mut c, "v").await.unwrap();
        assert!(c.cdr.disabled, "without e NoCDR stays");
        assert_eq!(c.cdr.vars.len(), 1);
        ResetCdr.exec(&mut c, "e").await.unwrap();
        assert!(!c.cdr.disabled);
        assert!(c.cdr.vars.is_empty());
        c.vars.set("__SECRET", "42");
        ImportVar
            .exec(&mut c, "MINE=SIP/c-0001,SECRET")
            .await
            .unwrap();
        assert_eq!(c.vars.get("MINE"), Some("42"));
        ImportVar
            .exec(&mut c, "NONE=SIP/gone-1,SECRET")
            .await
            .unwrap();
        assert_eq!(c.vars.get("NONE"), None);
        let info = channel_info(&c);
        assert!(
            info.starts_with("Name=               SIP/c-0001\nType=               SIP\n"),
            "{info}"
        );
        assert!(info.contains("BridgeID=           (Not bridged)\n"));
        let mut rx = pbx.log_tx.subscribe();
        DumpChan.exec(&mut c, "").await.unwrap();
        let line = rx.try_recv().unwrap().text;
        assert!(
            line.contains("Dumping Info For Channel: SIP/c-0001:"),
            "{line}"
        );
        assert!(line.contains("__SECRET=42\n"), "{line}");
    }

    #[tokio::test]
    async fn waitdigit_statuses() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,WaitDigit(0.01)\n same => n,Set(A=${WAITDIGITSTATUS})\n\
             same => n,WaitDigit(abc)\n same => n,Set(B=${WAITDIGITSTATUS})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "A"), Some("TIMEOUT"));
        assert_eq!(get(&v, "B"), Some("ERROR"));
    }

    #[tokio::test]
    async fn reload_reports_its_status() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Reload(no_such_module)\n same => n,Set(A=${RELOADSTATUS})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "A"), Some("FAILURE"));
    }

    #[tokio::test]
    async fn testtime_drives_gotoiftime() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(TESTTIME()=2006/07/04 12:00:00 UTC)\n\
             same => n,Set(T=${TESTTIME})\n\
             same => n,GotoIfTime(11:00-13:00,tue,4,jul?noon)\n same => n,Set(R=other)\n\
             same => n,Goto(off)\n same => n(noon),Set(R=noon)\n\
             same => n(off),Set(TESTTIME()=0)\n same => n,Set(T2=x${TESTTIME})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "T"), Some("1152014400"));
        assert_eq!(get(&v, "R"), Some("noon"));
        assert_eq!(get(&v, "T2"), Some("x"));
    }
}
