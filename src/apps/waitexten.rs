//! WaitExten(): wait for the caller to dial a new extension; on timeout go to `t`.
//!
//! [`dial_extension`] is the digit collection Asterisk's PBX loop does after WaitExten or
//! BackGround returned a digit (`collect_digits` in pbx.c), shared by both.

use super::{args, basic::parse_seconds, App, AppResult};
use crate::funcs::channel::{digit_timeout_ms, response_timeout_ms};
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("pbx_builtins_waitexten", "Built-in dialplan applications").builtin(),
    register: register_pbx_builtins_waitexten,
}];

fn register_pbx_builtins_waitexten(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(WaitExten));
}

/// WaitExten's handling of a response timeout (pbx_builtins.c): continue with the next
/// priority if there is one, else `t`, else `e` with EXCEPTION, else hang up.
pub fn response_timeout(chan: &mut Channel) -> AppResult {
    let dp = chan.pbx.dialplan();
    let cid = chan.caller.num.clone();
    let ctx = chan.context.clone();
    let (exten, next) = (chan.exten.clone(), chan.priority + 1);
    if dp.exists(&ctx, &exten, next, cid.as_deref(), Utc::now()) {
        chan.pbx
            .verbose_line(3, &format!("Timeout on {}, continuing...", chan.name()));
        Ok(())
    } else if dp.exists(&ctx, "t", 1, cid.as_deref(), Utc::now()) {
        chan.pbx
            .verbose_line(3, &format!("Timeout on {}, going to 't'", chan.name()));
        chan.goto(&ctx, "t", 1);
        Ok(())
    } else if dp.exists(&ctx, "e", 1, cid.as_deref(), Utc::now()) {
        crate::pbx::exec::raise_exception(chan, "RESPONSETIMEOUT", 0);
        Ok(())
    } else {
        chan.pbx.warning(&format!(
            "pbx_builtins.c: Timeout but no rule 't' or 'e' in context '{ctx}'"
        ));
        Err(Hangup)
    }
}

struct WaitExten;

#[async_trait]
impl App for WaitExten {
    fn name(&self) -> &'static str {
        "WaitExten"
    }
    fn synopsis(&self) -> &'static str {
        "Waits for an extension to be entered."
    }
    fn syntax(&self) -> &'static str {
        "WaitExten([seconds[,options]])"
    }
    fn description(&self) -> &'static str {
        "This application waits for the user to enter a new extension for a specified number of seconds (fractions allowed; default: the channel's TIMEOUT(response), 10 s). Digits are collected while a longer extension could match (TIMEOUT(digit) apart); the call goes to the extension dialed, or i with INVALID_EXTEN. When the time runs out the call continues with the next priority if there is one, else at the t extension, or e with EXCEPTION(reason) RESPONSETIMEOUT, or is hung up."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let wait = parse_seconds(args::nth(&a, 0))
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| Duration::from_millis(response_timeout_ms(chan)));
        match wait_digit(chan, wait).await? {
            Some(d) => dial_extension(chan, d).await,
            None => response_timeout(chan),
        }
    }
}

/// Wait up to `max` for a DTMF digit (caller audio is dropped): `Ok(None)` on timeout.
pub async fn wait_digit(chan: &mut Channel, max: Duration) -> Result<Option<char>, Hangup> {
    let deadline = tokio::time::Instant::now() + max;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match chan.read_frame(Some(left)).await? {
            Some(Frame::Dtmf(d, _)) => return Ok(Some(d)),
            Some(Frame::Voice(_)) => continue,
            None => return Ok(None),
        }
    }
}

/// The caller pressed `first`: keep reading digits (TIMEOUT(digit) apart) while a longer
/// extension could still match, then go to the extension dialed, or to `i` (INVALID_EXTEN
/// set), or `e` with EXCEPTION(reason) INVALID; with neither the call is hung up.
pub async fn dial_extension(chan: &mut Channel, first: char) -> AppResult {
    dial_more(chan, first.to_string()).await
}

/// [`dial_extension`] from the digits in `exten` (Incomplete: the current extension).
pub async fn dial_more(chan: &mut Channel, mut exten: String) -> AppResult {
    let ctx = chan.context.clone();
    let cid = chan.caller.num.clone();
    let wait = Duration::from_millis(digit_timeout_ms(chan));
    while exten.len() < 256
        && chan
            .pbx
            .dialplan()
            .match_more(&ctx, &exten, cid.as_deref(), Utc::now())
    {
        match wait_digit(chan, wait).await? {
            Some(d) => exten.push(d),
            None => break,
        }
    }
    let dp = chan.pbx.dialplan();
    if dp.exists(&ctx, &exten, 1, cid.as_deref(), Utc::now()) {
        chan.goto(&ctx, &exten, 1);
        Ok(())
    } else if dp.exists(&ctx, "i", 1, cid.as_deref(), Utc::now()) {
        chan.pbx.verbose_line(
            3,
            &format!(
                "Invalid extension '{exten}' in context '{ctx}' on {}",
                chan.name()
            ),
        );
        chan.set_var("INVALID_EXTEN", &exten);
        chan.goto(&ctx, "i", 1);
        Ok(())
    } else if dp.exists(&ctx, "e", 1, cid.as_deref(), Utc::now()) {
        crate::pbx::exec::raise_exception(chan, "INVALID", 0);
        Ok(())
    } else {
        chan.pbx.warning(&format!(
            "pbx.c: Invalid extension '{exten}', but no rule 'i' or 'e' in context '{ctx}'"
        ));
        Err(Hangup)
    }
}
