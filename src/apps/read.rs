//! Read(): play prompts and collect digits into a variable (`app_read.c`, with
//! `ast_app_getdata` and `ast_readstring`'s timeouts).

use super::playback::{stream, Played, ANY_DIGIT};
use super::waitexten::wait_digit;
use super::{args, App, AppResult};
use crate::funcs::channel::{digit_timeout_ms, response_timeout_ms};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_read.so", "Read Variable Application"),
    register: register_app_read,
}];

fn register_app_read(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Read));
}

/// How collecting digits ended (`AST_GETDATA_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetData {
    /// maxdigits reached or a terminator after some digits.
    Complete,
    /// The terminator pressed before any digit.
    EmptyEndTerminated,
    /// Waited too long for a digit.
    Timeout,
}

/// `ast_readstring`: collect up to `max` digits; `first` waits for the first digit, `between`
/// for the following ones; `enders` end the input without being stored. `pending` is a digit
/// that already interrupted the prompt.
pub async fn read_digits(
    chan: &mut Channel,
    pending: Option<char>,
    max: usize,
    first: Duration,
    between: Duration,
    enders: &str,
) -> Result<(String, GetData), Hangup> {
    let mut s = String::new();
    let mut pending = pending;
    loop {
        let d = match pending.take() {
            Some(d) => d,
            None => {
                let wait = if s.is_empty() { first } else { between };
                match wait_digit(chan, wait).await? {
                    Some(d) => d,
                    None => return Ok((s, GetData::Timeout)),
                }
            }
        };
        if enders.contains(d) {
            let how = if s.is_empty() {
                GetData::EmptyEndTerminated
            } else {
                GetData::Complete
            };
            return Ok((s, how));
        }
        s.push(d);
        if s.len() >= max {
            return Ok((s, GetData::Complete));
        }
    }
}

/// `ast_app_getdata`: play each prompt (any digit interrupts it) and read digits after it;
/// a short 50 ms wait follows all but the last prompt. `timeout` overrides the dialplan's
/// response/digit timeouts when given.
pub async fn get_data(
    chan: &mut Channel,
    prompts: &str,
    max: usize,
    timeout: Option<Duration>,
    terminator: &str,
) -> Result<(String, GetData), Hangup> {
    let list: Vec<&str> = prompts.split('&').map(str::trim).collect();
    let mut res = (String::new(), GetData::Timeout);
    for (i, p) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let mut pending = None;
        if !p.is_empty() {
            match stream(chan, p, ANY_DIGIT).await? {
                Played::Digit(d) => pending = Some(d),
                Played::Done => {}
                Played::Missing => continue,
            }
        }
        let digit_to = Duration::from_millis(digit_timeout_ms(chan));
        let (first, between) = match (last, timeout) {
            (true, Some(t)) => (t, t),
            (true, None) => (Duration::from_millis(response_timeout_ms(chan)), digit_to),
            (false, _) => (Duration::from_millis(50), digit_to),
        };
        res = read_digits(chan, pending, max, first, between, terminator).await?;
        if res.1 == GetData::EmptyEndTerminated || !res.0.is_empty() {
            return Ok(res);
        }
    }
    Ok(res)
}

/// Read()'s `i`: play `tone` until the first digit, then read the rest; every digit waits
/// `timeout` (else TIMEOUT(response)).
async fn read_with_tone(
    chan: &mut Channel,
    tone: &str,
    max: usize,
    timeout: Option<Duration>,
) -> Result<(String, GetData), Hangup> {
    super::indications::play_tones(chan, tone);
    let to = timeout.unwrap_or_else(|| Duration::from_millis(response_timeout_ms(chan)));
    let first = wait_digit(chan, to).await;
    chan.stop_background();
    match first? {
        Some(d) => read_digits(chan, Some(d), max, to, to, "#").await,
        None => Ok((String::new(), GetData::Timeout)),
    }
}

struct Read;

#[async_trait]
impl App for Read {
    fn name(&self) -> &'static str {
        "Read"
    }
    fn synopsis(&self) -> &'static str {
        "Read a variable."
    }
    fn syntax(&self) -> &'static str {
        "Read(variable[,filename[&filename2[&...]][,maxdigits[,options[,attempts[,timeout]]]]])"
    }
    fn description(&self) -> &'static str {
        "Reads a #-terminated string of digits a certain number of times from the user in to the given variable. maxdigits: at most this many digits (0 or empty: up to 255, ended by #). Options: s — return immediately if the line is not up; i — play filename as an indication tone of indications.conf (dial, busy…) until the first digit (a file when there is no such tone); n — read digits even if the line is not up. attempts: tries when nothing is entered (default 1). timeout: seconds to wait for a digit (default: TIMEOUT(response) for the first, TIMEOUT(digit) between digits). Sets READSTATUS to OK, ERROR, HANGUP, INTERRUPTED, SKIPPED or TIMEOUT."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let var = args::nth(&a, 0).trim().to_string();
        if var.is_empty() {
            chan.pbx
                .warning("app_read.c: Read requires an argument (variable)");
            chan.set_var("READSTATUS", "ERROR");
            return Ok(());
        }
        let prompts = args::nth(&a, 1).to_string();
        let max = match args::nth(&a, 2).trim().parse::<i64>() {
            Ok(n) if (1..=255).contains(&n) => n as usize,
            Ok(n) if n > 255 => 255,
            _ => 255,
        };
        let opts = args::nth(&a, 3);
        let mut tries = match args::nth(&a, 4).trim().parse::<i64>() {
            Ok(n) if n > 0 => n,
            _ => 1,
        };
        let timeout = args::nth(&a, 5)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(|t| Duration::from_secs_f64(t.min(1e7)));
        if !chan.is_up() {
            if opts.contains('s') {
                chan.set_var(&var, "");
                chan.set_var("READSTATUS", "SKIPPED");
                return Ok(());
            }
            if !opts.contains('n') {
                chan.answer();
            }
        }
        // i: a tone of indications.conf plays until the first digit (a file otherwise).
        let tone = opts
            .contains('i')
            .then(|| super::indications::tone_of(&chan.pbx, prompts.trim()))
            .flatten();
        let mut status = "ERROR";
        while tries > 0 {
            let read = match &tone {
                Some(t) => read_with_tone(chan, t, max, timeout).await,
                None => get_data(chan, &prompts, max, timeout, "#").await,
            };
            let (digits, how) = match read {
                Ok(r) => r,
                Err(Hangup) => {
                    chan.set_var(&var, "");
                    chan.set_var("READSTATUS", "HANGUP");
                    chan.pbx.verbose_line(3, "User disconnected");
                    return Err(Hangup);
                }
            };
            status = match how {
                GetData::Complete | GetData::EmptyEndTerminated => "OK",
                GetData::Timeout => "TIMEOUT",
            };
            chan.set_var(&var, &digits);
            if !digits.is_empty() {
                chan.pbx
                    .verbose_line(3, &format!("User entered '{digits}'"));
                break;
            }
            tries -= 1;
            if tries > 0 {
                let s = if tries != 1 { "s" } else { "" };
                chan.pbx
                    .verbose_line(3, &format!("User entered nothing, {tries} chance{s} left"));
            } else {
                chan.pbx.verbose_line(3, "User entered nothing.");
            }
        }
        chan.set_var("READSTATUS", status);
        Ok(())
    }
}
