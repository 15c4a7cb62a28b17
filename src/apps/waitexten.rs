//! WaitExten(): wait for the caller to dial a new extension; on timeout go to `t`.
//!
//! Digit collection needs DTMF, which arrives with the media issue; until then no channel
//! can deliver digits, so WaitExten always ends in its timeout handling, exactly as
//! Asterisk does when the caller presses nothing.

use super::{args, basic::parse_seconds, App, AppRegistry, AppResult};
use crate::funcs::channel::response_timeout_ms;
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

pub fn register(r: &mut AppRegistry) {
    r.register(Arc::new(WaitExten));
}

/// Asterisk's handling of a response timeout: `t`, else `e` with EXCEPTION, else hang up.
pub fn response_timeout(chan: &mut Channel) -> AppResult {
    let dp = chan.pbx.dialplan();
    let cid = chan.caller.num.clone();
    let ctx = chan.context.clone();
    if dp.exists(&ctx, "t", 1, cid.as_deref(), Utc::now()) {
        chan.pbx
            .verbose_line(3, &format!("Timeout on {}, continuing...", chan.name()));
        chan.goto(&ctx, "t", 1);
        Ok(())
    } else if dp.exists(&ctx, "e", 1, cid.as_deref(), Utc::now()) {
        chan.vars.set("EXCEPTION", "RESPONSETIMEOUT");
        chan.goto(&ctx, "e", 1);
        Ok(())
    } else {
        chan.pbx.warning(&format!(
            "pbx.c: Timeout, but no rule 't' or 'e' in context '{ctx}'"
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
        "This application waits for the user to enter a new extension for a specified number of seconds (fractions allowed; default: the channel's TIMEOUT(response), 10 s). When the time runs out the call continues at the t extension, or e with EXCEPTION=RESPONSETIMEOUT, or is hung up."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let wait = parse_seconds(args::nth(&a, 0))
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| Duration::from_millis(response_timeout_ms(chan)));
        chan.sleep(wait).await?;
        response_timeout(chan)
    }
}
