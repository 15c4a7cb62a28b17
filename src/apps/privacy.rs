//! PrivacyManager() (`app_privacy.so`): a caller without a caller ID number is asked to
//! enter one; an entry that is long enough (and, with a check context, matches an
//! extension there) becomes the channel's caller ID, PRIVACYMGRSTATUS says how it went.

use super::playback::{self, Played};
use super::read::read_digits;
use super::{args, App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "app_privacy.so",
        "Require phone number to be entered, if no CallerID sent",
    ),
    register: register_app_privacy,
}];

fn register_app_privacy(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(PrivacyManager));
}

struct PrivacyManager;

#[async_trait]
impl App for PrivacyManager {
    app_meta!(
        "PrivacyManager",
        "Require phone number to be entered, if no CallerID sent",
        "PrivacyManager([maxretries[,minlength[,options[,context]]]])",
        "If no Caller*ID is sent, PrivacyManager answers the channel and asks the caller to enter their phone number. The caller is given maxretries (default 3) attempts to do so; the number needs at least minlength (default 10) digits, and with context it must match an extension there. The application does nothing if Caller*ID was received on the channel. The options position is reserved. Sets PRIVACYMGRSTATUS to SUCCESS or FAILED; on success the caller ID number is the number entered and the name 'Privacy Manager'."
    );

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        privacy(chan, data).await
    }
}

/// Digits of one entry at most (`phone[30]` less the terminator).
const MAX_DIGITS: usize = 29;

/// A positive count argument, or the default (with Asterisk's warning for a bad one).
fn count(chan: &Channel, v: &str, what: &str, default: usize) -> usize {
    let v = v.trim();
    if v.is_empty() {
        return default;
    }
    // sscanf("%30d"): leading digits count.
    let digits: String = v
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
        .map(|(_, c)| c)
        .collect();
    match digits.parse::<i64>() {
        Ok(n) if n > 0 => n.min(1000) as usize,
        _ => {
            chan.pbx
                .warning(&format!("app_privacy.c: Invalid {what} argument: '{v}'"));
            default
        }
    }
}

async fn privacy(chan: &mut Channel, data: &str) -> AppResult {
    if chan.caller.num.as_deref().is_some_and(|n| !n.is_empty()) {
        chan.pbx
            .verbose_line(3, "CallerID number present: Skipping");
        return Ok(());
    }
    chan.answer();
    let a = args::split(data, ',');
    let maxretries = count(chan, args::nth(&a, 0), "max retries", 3);
    let minlength = count(chan, args::nth(&a, 1), "min length", 10);
    let checkcontext = args::nth(&a, 3).trim().to_string();

    // "Unidentified call": after a second's pause.
    chan.sleep(Duration::from_secs(1)).await?;
    play(chan, "privacy-unident").await?;
    let mut got: Option<String> = None;
    for _ in 0..maxretries {
        play(chan, "privacy-prompt").await?;
        let (phone, _) = read_digits(
            chan,
            None,
            MAX_DIGITS,
            Duration::from_millis(5000),
            Duration::from_millis(3200),
            "#",
        )
        .await?;
        let ok = phone.len() >= minlength
            && (checkcontext.is_empty()
                || chan
                    .pbx
                    .dialplan()
                    .exists(&checkcontext, &phone, 1, None, Utc::now()));
        if ok {
            got = Some(phone);
            break;
        }
        play(chan, "privacy-incorrect").await?;
    }
    match got {
        Some(phone) => {
            play(chan, "privacy-thankyou").await?;
            chan.caller.num = Some(phone.clone());
            chan.caller.name = Some("Privacy Manager".into());
            chan.pbx
                .verbose_line(3, &format!("Changed Caller*ID number to '{phone}'"));
            chan.vars.set("PRIVACYMGRSTATUS", "SUCCESS");
        }
        None => chan.vars.set("PRIVACYMGRSTATUS", "FAILED"),
    }
    Ok(())
}

/// Play a prompt to its end (no key interrupts it); a missing file was warned about and is
/// skipped.
async fn play(chan: &mut Channel, name: &str) -> Result<(), Hangup> {
    let _: Played = playback::stream(chan, name, "").await?;
    Ok(())
}
