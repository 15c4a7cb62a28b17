//! `app_directed_pickup.so`: Pickup() and PickupChan() answer a channel Dial() is ringing
//! (through the core's ringing list, `pbx::pickup`): the picker talks to the caller, the
//! other ringing legs are cancelled, and the caller's DIALSTATUS is ANSWER.

use super::{args, App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::pickup::{self, Groups, Ringing, GROUPS_DATASTORE};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_directed_pickup.so", "Directed Call Pickup Application"),
    register,
}];

fn register(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Pickup));
    ctx.register_app(Arc::new(PickupChan));
}

/// Connect `chan` to the caller of `leg`; `Err(Hangup)` once done (the picker's call is
/// over, as after Asterisk's masquerade), `Ok` when the leg was gone already.
async fn do_pickup(chan: &mut Channel, leg: &Ringing) -> Result<bool, Hangup> {
    let shared = chan.shared.clone();
    if !pickup::take(
        leg,
        chan.name().to_string(),
        shared.clone(),
        chan.media.clone(),
    )
    .await
    {
        return Ok(false);
    }
    chan.pbx
        .verbose_line(3, &format!("{} pickup by {}", leg.target.name, chan.name()));
    if !chan.is_up() {
        chan.answer();
    }
    chan.bridged = Some(leg.caller.name.clone());
    chan.publish("Pickup", "");
    tokio::select! {
        _ = shared.hungup() => {}
        _ = leg.caller.hungup() => {}
    }
    chan.bridged = None;
    Err(Hangup)
}

/// A ringing leg `f` accepts (not the picker's own).
fn find(chan: &Channel, f: impl Fn(&Ringing) -> bool) -> Option<Arc<Ringing>> {
    pickup::candidates(&chan.pbx).into_iter().find(|l| {
        !Arc::ptr_eq(&l.target, &chan.shared) && !Arc::ptr_eq(&l.caller, &chan.shared) && f(l)
    })
}

struct Pickup;

#[async_trait]
impl App for Pickup {
    app_meta!(
        "Pickup",
        "Directed extension call pickup.",
        "Pickup([extension[@context][&extension2@[context]...]])",
        "This application can pickup a specified ringing channel. The channel to pickup can be specified in the following ways. 1) If no extension targets are specified, the application will pickup a channel matching the pickup group of the requesting channel. 2) If the extension is specified with a context of the special string PICKUPMARK (for example 10@PICKUPMARK), the application will pickup a channel which has defined the channel variable PICKUPMARK with the same value as extension (in this example, 10). 3) If the extension is specified with or without a context, the channel with a matching extension and context will be picked up. If no context is specified, the current context will be used. The extension is the one the ringing channel was dialed from, the context the ringing channel's own (a SIP peer's context)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            let mine = chan
                .datastores
                .get::<(Groups, Groups)>(GROUPS_DATASTORE)
                .map(|g| g.1.clone())
                .unwrap_or_default();
            // As Asterisk: a failed group pickup continues the dialplan.
            let Some(leg) = find(chan, |l| mine.intersects(&l.callgroups)) else {
                return Ok(());
            };
            chan.pbx.verbose_line(
                3,
                &format!("pickup {} attempt by {}", leg.target.name, chan.name()),
            );
            do_pickup(chan, &leg).await?;
            return Ok(());
        }
        for item in data.split('&').map(str::trim).filter(|i| !i.is_empty()) {
            let (exten, context) = match item.split_once('@') {
                Some((e, c)) if !c.is_empty() => (e.to_string(), c.to_string()),
                Some((e, _)) => (e.to_string(), chan.context.clone()),
                None => (item.to_string(), chan.context.clone()),
            };
            let leg = if context.eq_ignore_ascii_case("PICKUPMARK") {
                find(chan, |l| {
                    l.mark
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(&exten))
                })
            } else {
                find(chan, |l| {
                    l.exten.eq_ignore_ascii_case(&exten) && l.context.eq_ignore_ascii_case(&context)
                })
            };
            if let Some(leg) = leg {
                if do_pickup(chan, &leg).await? {
                    return Err(Hangup);
                }
            }
            chan.pbx.notice(&format!(
                "app_directed_pickup.c: No target channel found for {exten}@{context}."
            ));
        }
        Ok(())
    }
}

/// Asterisk's `find_by_channel`: `SIP/bob` matches `SIP/bob-…`; with `p` any name starting
/// with it; else the unique id.
fn name_matches(target: &str, uniqueid: &str, want: &str, partial: bool) -> bool {
    let lower = target.to_ascii_lowercase();
    let w = want.to_ascii_lowercase();
    let by_name = if partial || w.contains('-') {
        lower.starts_with(&w)
    } else {
        lower.starts_with(&format!("{w}-"))
    };
    by_name || uniqueid.eq_ignore_ascii_case(want)
}

struct PickupChan;

#[async_trait]
impl App for PickupChan {
    app_meta!(
        "PickupChan",
        "Pickup a ringing channel.",
        "PickupChan(channel[&channel2[&...]][,options])",
        "Pickup a specified channel if ringing. A channel name such as SIP/bob matches SIP/bob-00000000; a unique id matches too. Options: p (the names are prefixes: SIP/bob also matches SIP/bobby-00000000)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let chans = args::nth(&a, 0).trim().to_string();
        if chans.is_empty() {
            chan.pbx
                .warning("app_directed_pickup.c: PickupChan requires an argument (channel)!");
            return Ok(());
        }
        let partial = args::options(args::nth(&a, 1)).contains_key(&'p');
        for want in chans.split('&').map(str::trim).filter(|w| !w.is_empty()) {
            let leg = find(chan, |l| {
                name_matches(&l.target.name, &l.target.uniqueid, want, partial)
            });
            if let Some(leg) = leg {
                if do_pickup(chan, &leg).await? {
                    return Err(Hangup);
                }
            }
            chan.pbx.notice(&format!(
                "app_directed_pickup.c: No target channel found for {want}."
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_match_as_asterisk_finds_them() {
        assert!(name_matches("SIP/bob-00000001", "1.2", "SIP/bob", false));
        assert!(!name_matches("SIP/bobby-00000001", "1.2", "SIP/bob", false));
        assert!(name_matches("SIP/bobby-00000001", "1.2", "SIP/bob", true));
        assert!(name_matches(
            "SIP/bob-00000001",
            "1.2",
            "sip/bob-00000001",
            false
        ));
        assert!(name_matches("SIP/x-00000001", "1.2", "1.2", false));
    }
}

#[cfg(test)]
mod dial_tests {
    use crate::pbx::tests::{get, pbx_with};
    use crate::res::parking::tests::{crosses, spawn_chan, until};
    use std::time::Duration;

    /// Dial() rings two Local legs; PickupChan() takes one: the caller is answered with
    /// DIALSTATUS=ANSWER, talks to the picker both ways, and the other leg is cancelled.
    #[tokio::test]
    async fn a_ringing_dial_leg_is_picked_up() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Dial(Local/r@t&Local/q@t,,g)\n same => n,Set(AFTER=${DIALSTATUS})\nexten => r,1,Ringing()\n same => n,Wait(30)\nexten => q,1,Ringing()\n same => n,Wait(30)\nexten => pick,1,PickupChan(Local/r@t,p)\nexten => mark,1,Pickup(x@PICKUPMARK)\n same => n,Set(NONE=1)\n",
        );
        let (caller, cm, _cs) = spawn_chan(&pbx, "SIP/1000-00000001", "s");
        until("two ringing legs", || {
            crate::pbx::pickup::candidates(&pbx).len() == 2
        })
        .await;
        // No leg carries PICKUPMARK x: Pickup() finds none and continues.
        let (m, _mm, _ms) = spawn_chan(&pbx, "SIP/1003-00000003", "mark");
        let v = tokio::time::timeout(Duration::from_secs(5), m)
            .await
            .expect("no target")
            .expect("task");
        assert_eq!(get(&v, "NONE"), Some("1"));
        let (picker, pm, ps) = spawn_chan(&pbx, "SIP/1002-00000002", "pick");
        crosses(&cm, &pm, 3).await;
        crosses(&pm, &cm, 4).await;
        assert!(crate::pbx::pickup::candidates(&pbx).is_empty());
        // The picker hangs up: `g` continues the caller with DIALSTATUS=ANSWER.
        ps.request_hangup(16);
        let _ = picker.await;
        let v = tokio::time::timeout(Duration::from_secs(5), caller)
            .await
            .expect("caller continues")
            .expect("task");
        assert_eq!(get(&v, "AFTER"), Some("ANSWER"));
        assert!(get(&v, "DIALEDPEERNAME").is_some_and(|n| n.starts_with("Local/r@t-")));
    }
}
