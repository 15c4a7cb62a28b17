//! ReadExten() (`app_readexten.so`): read digits until they make an extension of a context,
//! and say how it went in `READEXTENSTATUS`.

use super::indications::{start_tones, tone_of};
use super::playback::{stream, Played, ANY_DIGIT};
use super::waitexten::wait_digit;
use super::{args, App, AppResult};
use crate::funcs::channel::{digit_timeout_ms, response_timeout_ms};
use crate::media::tones;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_readexten.so", "Read and evaluate extension validity"),
    register: register_app_readexten,
}];

fn register_app_readexten(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ReadExten));
}

/// `exten` exists (priority 1) in `context` for the channel's caller.
pub fn exten_exists(chan: &Channel, context: &str, exten: &str) -> bool {
    chan.pbx
        .dialplan()
        .exists(context, exten, 1, chan.caller.num.as_deref(), Utc::now())
}

/// A longer extension than `exten` could still match in `context`.
pub fn exten_can_grow(chan: &Channel, context: &str, exten: &str) -> bool {
    chan.pbx
        .dialplan()
        .match_more(context, exten, chan.caller.num.as_deref(), Utc::now())
}

/// Start `what` as an indication: a tone of the zone, else a tone list; `false` when it is
/// neither (then it is played as a file).
pub fn start_indication(chan: &mut Channel, what: &str) -> bool {
    let list = tone_of(&chan.pbx, what).unwrap_or_else(|| what.to_string());
    match tones::parse(&list) {
        Ok((l, _)) => {
            start_tones(chan, l);
            true
        }
        Err(_) => false,
    }
}

struct ReadExten;

#[async_trait]
impl App for ReadExten {
    fn name(&self) -> &'static str {
        "ReadExten"
    }
    fn synopsis(&self) -> &'static str {
        "Read an extension into a variable."
    }
    fn syntax(&self) -> &'static str {
        "ReadExten(variable[,filename[,context[,option[,timeout]]]])"
    }
    fn description(&self) -> &'static str {
        "Reads a # terminated string of digits from the user into the given variable, stopping as soon as the digits make an extension of context (default: the current one) that no longer extension could match. filename is played first (a digit interrupts it). Options: s — return immediately if the channel is not answered; i — play filename as an indication tone from indications.conf or a tone list; n — read digits even if the channel is not answered; p — the extension is complete when # is entered. timeout: seconds to wait for the first digit (default TIMEOUT(response)); later digits wait TIMEOUT(digit). Sets READEXTENSTATUS: OK (a valid extension is in variable), TIMEOUT (nothing entered; variable is t), INVALID (variable is i, INVALID_EXTEN the digits), SKIP (not up with s), ERROR (invalid arguments), HANGUP."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .warning("app_readexten.c: ReadExten requires at least one argument");
            chan.set_var("READEXTENSTATUS", "ERROR");
            return Ok(());
        }
        let a = args::split(data, ',');
        let var = args::nth(&a, 0).trim().to_string();
        if var.is_empty() {
            chan.pbx.warning(
                "app_readexten.c: Usage: ReadExten(variable[,filename[,context[,options[,timeout]]]])",
            );
            chan.set_var("READEXTENSTATUS", "ERROR");
            return Ok(());
        }
        let file = args::nth(&a, 1).trim().to_string();
        let context = match args::nth(&a, 2).trim() {
            "" => chan.context.clone(),
            c => c.to_string(),
        };
        let opts = args::options(args::nth(&a, 3));
        let first = match args::nth(&a, 4).trim().parse::<i64>() {
            Ok(s) if s > 0 => Duration::from_secs(s.min(1 << 31) as u64),
            _ => Duration::from_millis(response_timeout_ms(chan)),
        };
        let between = Duration::from_millis(digit_timeout_ms(chan));
        let status = match read_exten(chan, &var, &file, &context, &opts, first, between).await {
            Ok(s) => s,
            Err(Hangup) => {
                chan.set_var("READEXTENSTATUS", "HANGUP");
                return Err(Hangup);
            }
        };
        chan.set_var("READEXTENSTATUS", status);
        Ok(())
    }
}

async fn read_exten(
    chan: &mut Channel,
    var: &str,
    file: &str,
    context: &str,
    opts: &std::collections::BTreeMap<char, Option<String>>,
    first: Duration,
    between: Duration,
) -> Result<&'static str, Hangup> {
    if !chan.is_up() {
        if opts.contains_key(&'s') {
            chan.set_var(var, "");
            return Ok("SKIP");
        }
        if !opts.contains_key(&'n') {
            chan.answer();
        }
    }
    let mut pending = None;
    let tone = !file.is_empty() && opts.contains_key(&'i') && start_indication(chan, file);
    if !file.is_empty() && !tone {
        if let Played::Digit(d) = stream(chan, file, ANY_DIGIT).await? {
            pending = Some(d);
        }
    }
    let mut exten = String::new();
    let mut wait = first;
    while exten.len() < 255 {
        let d = match pending.take() {
            Some(d) => Some(d),
            None => wait_digit(chan, wait).await?,
        };
        chan.stop_background();
        wait = between;
        let Some(d) = d else {
            if exten.is_empty() {
                chan.set_var(var, "t");
                return Ok("TIMEOUT");
            }
            break;
        };
        if d == '#' && opts.contains_key(&'p') {
            break;
        }
        exten.push(d);
        if !exten_can_grow(chan, context, &exten) {
            if d == '#' && !exten_exists(chan, context, &exten) {
                exten.pop();
            }
            break;
        }
    }
    if exten_exists(chan, context, &exten) {
        chan.set_var(var, &exten);
        Ok("OK")
    } else {
        chan.set_var(var, "i");
        chan.set_var("INVALID_EXTEN", &exten);
        Ok("INVALID")
    }
}
