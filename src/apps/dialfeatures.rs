//! The in-call features of a Dial() bridge (options `t T h H w W x X k K` and
//! `DYNAMIC_FEATURES`): which codes each party may press, and what a pressed code does —
//! blind transfer, attended transfer, disconnect, one-touch recording, dynamic
//! applications. The codes come from features.conf through the core's
//! [`crate::pbx::features`] service (with each channel's FEATURE()/FEATUREMAP()
//! overrides); the bridge ([`crate::pbx::bridge::relay_features`]) detects them.

/// Dial's parsed options.
pub type Options = std::collections::BTreeMap<char, Option<String>>;

use crate::pbx::bridge::{AbortOnDrop, Ended, FeatureHit};
use crate::pbx::channel::{cause, ChanEvent, TransferTo};
use crate::pbx::features::{
    self, Builtin, DtmfMatcher, Feature, FeatureCodes, FeaturesConfig, PendingTransfer,
    PENDING_TRANSFER,
};
use crate::pbx::{exec, Channel, Hangup};
use std::time::Duration;
use tokio::sync::mpsc;

/// The built-ins a party may press, from Dial's options: lower case for the called
/// party, upper case for the caller.
pub fn enabled(opts: &Options, callee: bool) -> Vec<Builtin> {
    let table = [
        ('t', Builtin::BlindXfer),
        ('t', Builtin::AtXfer),
        ('h', Builtin::Disconnect),
        ('w', Builtin::AutoMon),
        ('x', Builtin::AutoMixMon),
        ('k', Builtin::ParkCall),
    ];
    table
        .into_iter()
        .filter(|(c, _)| {
            let c = if callee { *c } else { c.to_ascii_uppercase() };
            opts.contains_key(&c)
        })
        .map(|(_, b)| b)
        .collect()
}

/// The matcher for `chan`'s digits: its enabled built-ins and its `DYNAMIC_FEATURES`.
pub fn matcher(chan: &Channel, enabled: &[Builtin]) -> DtmfMatcher {
    let cfg = features::for_channel(chan);
    let dynamic = cfg.dynamic(&chan.get_var("DYNAMIC_FEATURES").unwrap_or_default());
    DtmfMatcher::new(
        FeatureCodes::new(&cfg, enabled, &dynamic),
        Duration::from_millis(u64::from(cfg.general.featuredigittimeout)),
    )
}

/// What Dial does after a feature ran.
pub enum Outcome {
    /// Back to the bridge.
    Resume,
    /// The feature's presser (or the one an application ran on) hung up.
    Gone(Ended),
    /// Disconnect: the bridge ends, the called party hangs up.
    Disconnect,
    /// Blind transfer of the party that did not press (`Ended` says who pressed).
    Transfer(Ended, TransferTo),
    /// Attended transfer done: the party that did not press is to be bridged with this
    /// target; the presser (`Ended`) leaves.
    Handoff(Ended, Box<Target>),
    /// `parkcall`: the party that did not press is to be parked; the presser (`Ended`)
    /// hears the space and leaves.
    Park(Ended),
}

/// An attended transfer's target channel, with its events.
pub struct Target {
    pub chan: Channel,
    pub events: Option<mpsc::UnboundedReceiver<ChanEvent>>,
}

/// The next event of an optional receiver (`None` when it closed; pending without one).
pub async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<ChanEvent>>) -> Option<ChanEvent> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// `(presser, other)` of a hit.
fn pair<'a>(
    side: Ended,
    caller: &'a mut Channel,
    callee: &'a mut Channel,
) -> (&'a mut Channel, &'a mut Channel) {
    match side {
        Ended::A => (caller, callee),
        Ended::B => (callee, caller),
    }
}

/// Hold music to `chan` while a feature runs on the other party.
async fn hold(chan: &Channel, class: &str) -> Option<AbortOnDrop> {
    let m = chan.media.as_ref()?;
    crate::pbx::hold::start(&chan.pbx, class, m.to_far.clone()).await
}

/// Play `sound` (if set) to `chan`, any digit stops it.
async fn play(chan: &mut Channel, sound: &str) -> Result<Option<char>, Hangup> {
    if sound.is_empty() {
        return Ok(None);
    }
    match super::playback::stream(chan, sound, super::playback::ANY_DIGIT).await? {
        super::playback::Played::Digit(d) => Ok(Some(d)),
        _ => Ok(None),
    }
}

/// Carry out the feature `hit`: `caller` is Dial's channel, `callee` the answered one.
pub async fn run(
    caller: &mut Channel,
    callee: &mut Channel,
    hit: FeatureHit,
    opts: &Options,
) -> Outcome {
    let side = hit.side;
    let (presser, other) = pair(side, caller, callee);
    let pbx = presser.pbx.clone();
    match hit.feature {
        Feature::Builtin(Builtin::Disconnect) => {
            pbx.verbose_line(
                3,
                &format!("{} pressed the disconnect feature", presser.name()),
            );
            Outcome::Disconnect
        }
        Feature::Builtin(Builtin::BlindXfer) => blind(presser, other, side).await,
        Feature::Builtin(Builtin::AtXfer) => attended(presser, other, side, None).await,
        // Consultation codes outside a consultation: nothing to do.
        Feature::Consult(_) => Outcome::Resume,
        Feature::Builtin(b @ (Builtin::AutoMixMon | Builtin::AutoMon)) => {
            toggle_recording(presser, other, b == Builtin::AutoMon).await;
            Outcome::Resume
        }
        Feature::Builtin(Builtin::ParkCall) => {
            let _ = opts;
            if crate::pbx::parking::service(&pbx).is_some() {
                pbx.verbose_line(
                    3,
                    &format!("{} pressed the parkcall feature", presser.name()),
                );
                return Outcome::Park(side);
            }
            pbx.notice(&format!(
                "features: {} asked to park {}, but no parking module (res_parking.so) is loaded",
                presser.name(),
                other.name()
            ));
            let cfg = features::for_channel(presser);
            if play(presser, &cfg.general.xferfailsound).await.is_err() {
                return Outcome::Gone(side);
            }
            Outcome::Resume
        }
        Feature::Dynamic(item) => {
            let other_side = match side {
                Ended::A => Ended::B,
                Ended::B => Ended::A,
            };
            let (runner, waiter, runner_side) = if item.activate_on_self {
                (presser, other, side)
            } else {
                (other, presser, other_side)
            };
            pbx.verbose_line(
                3,
                &format!(
                    "{} activated dynamic feature '{}': {}({}) on {}",
                    if item.activate_on_self {
                        runner.name().to_string()
                    } else {
                        waiter.name().to_string()
                    },
                    item.name,
                    item.app,
                    item.app_data,
                    runner.name()
                ),
            );
            let moh = if item.moh_class.is_empty() {
                None
            } else {
                hold(waiter, &item.moh_class).await
            };
            let data = exec::substitute(runner, &item.app_data);
            let r = exec::exec_app(runner, &item.app, &data).await;
            drop(moh);
            if let Some(m) = waiter.media.as_ref() {
                m.to_far.clear();
            }
            if r.is_err() || runner.shared.hangup_requested() {
                return Outcome::Gone(runner_side);
            }
            let pending = runner
                .datastores
                .get::<PendingTransfer>(PENDING_TRANSFER)
                .cloned();
            if let Some(p) = pending {
                runner.datastores.remove(PENDING_TRANSFER);
                let status = if p.attended {
                    "ATTENDEDTRANSFERSTATUS"
                } else {
                    "BLINDTRANSFERSTATUS"
                };
                if !exists(runner, &p.context, &p.exten) {
                    pbx.warning(&format!(
                        "features: {}@{} does not exist: no transfer of {}",
                        p.exten,
                        p.context,
                        waiter.name()
                    ));
                    runner.set_var(status, "FAILURE");
                    return Outcome::Resume;
                }
                if p.attended {
                    let out =
                        attended(runner, waiter, runner_side, Some((p.exten, p.context))).await;
                    let ok = matches!(out, Outcome::Handoff(..));
                    runner.set_var(status, if ok { "SUCCESS" } else { "FAILURE" });
                    return out;
                }
                runner.set_var(status, "SUCCESS");
                return Outcome::Transfer(
                    runner_side,
                    TransferTo {
                        exten: p.exten,
                        context: p.context,
                    },
                );
            }
            Outcome::Resume
        }
    }
}

/// The lot a `parkcall` by `parker` parks in: its `PARKINGLOT`, else `default`.
pub fn parker_lot(parker: &Channel) -> String {
    parker
        .get_var("PARKINGLOT")
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// After `parkcall`: the parker hears where the call went (the space as digits, as
/// Asterisk's `say_parking_space`) or `pbx-parkingfailed`, then leaves.
pub async fn announce_park(
    parker: &mut Channel,
    at: Result<crate::pbx::parking::ParkedAt, crate::pbx::parking::ParkError>,
) {
    match at {
        Ok(at) => {
            let prompts = super::say::digits_prompts(&at.space.to_string());
            let _ = super::say::say_prompts(parker, &prompts, false).await;
        }
        Err(e) => {
            parker.pbx.notice(&format!("features: {e}"));
            let _ = super::playback::stream(parker, "pbx-parkingfailed", "").await;
        }
    }
    parker.hangup_cause = cause::NORMAL_CLEARING;
}

/// Whether `exten@context` exists for `chan` (priority 1).
fn exists(chan: &Channel, context: &str, exten: &str) -> bool {
    chan.pbx.dialplan().exists(
        context,
        exten,
        1,
        chan.caller.num.as_deref(),
        chrono::Utc::now(),
    )
}

/// The transfer context of `chan`: `TRANSFER_CONTEXT`, else its context.
pub fn transfer_context(chan: &Channel) -> String {
    chan.get_var("TRANSFER_CONTEXT")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| chan.context.clone())
}

/// Blind transfer: the presser is asked for a number while the other party hears hold
/// music; a valid number sends the other party there.
async fn blind(presser: &mut Channel, other: &mut Channel, side: Ended) -> Outcome {
    let cfg = features::for_channel(presser);
    let context = transfer_context(presser);
    let moh = hold(other, "").await;
    let got = grab_transfer(presser, &context, &cfg).await;
    drop(moh);
    if let Some(m) = other.media.as_ref() {
        m.to_far.clear();
    }
    match got {
        Err(Hangup) => Outcome::Gone(side),
        Ok(None) => failed(presser, &cfg, side).await,
        Ok(Some(exten)) => Outcome::Transfer(side, TransferTo { exten, context }),
    }
}

/// How a consultation ended.
enum Consulted {
    /// The transferer hung up (completes the transfer).
    Presser,
    /// The transferee hung up.
    Other,
    /// The target hung up.
    Target,
}

/// Empty `chan`'s queue towards its far end (hold music stopped).
fn clear(chan: &Channel) {
    if let Some(m) = chan.media.as_ref() {
        m.to_far.clear();
    }
}

/// Attended transfer: the presser dials a number (or `dest`, from AttendedTransfer()),
/// hears it ring and talks to the target while the other party hears hold music. Hanging
/// up or `atxfercomplete` connects the other party and the target; `atxferabort` or the
/// target hanging up brings the presser back; `atxferswap` toggles between the two.
async fn attended(
    presser: &mut Channel,
    other: &mut Channel,
    side: Ended,
    dest: Option<(String, String)>,
) -> Outcome {
    let cfg = features::for_channel(presser);
    let pbx = presser.pbx.clone();
    let mut moh = hold(other, "").await;
    let (exten, context) = match dest {
        Some(d) => d,
        None => {
            let context = transfer_context(presser);
            match grab_transfer(presser, &context, &cfg).await {
                Err(Hangup) => return Outcome::Gone(side),
                Ok(Some(e)) => (e, context),
                Ok(None) => {
                    drop(moh);
                    clear(other);
                    return failed(presser, &cfg, side).await;
                }
            }
        }
    };
    let dest = format!("Local/{exten}@{context}");
    crate::channels::prepare(&pbx, &dest).await;
    let out = match crate::channels::request(&pbx, &dest, Some(presser)) {
        Ok(o) => o,
        Err(e) => {
            pbx.warning(&format!("features: {}", e.msg));
            drop(moh);
            clear(other);
            return failed(presser, &cfg, side).await;
        }
    };
    let mut target = out.chan;
    target.cdr.disabled = true;
    let mut events = target.events.take();
    (out.call)();
    pbx.verbose_line(3, &format!("Called {dest}"));
    super::indications::play_tones(presser, "ring");
    let limit = Duration::from_secs(u64::from(cfg.general.atxfernoanswertimeout.max(1)));
    let deadline = tokio::time::Instant::now() + limit;
    let presser_shared = presser.shared.clone();
    let mut presser_gone = false;
    let answered = loop {
        let ev = tokio::select! {
            ev = recv(&mut events) => ev,
            _ = presser_shared.hungup(), if !presser_gone => { presser_gone = true; continue; }
            _ = tokio::time::sleep_until(deadline) => break false,
        };
        match ev {
            Some(ChanEvent::Answer) => break true,
            Some(ChanEvent::Busy | ChanEvent::Congestion | ChanEvent::Hangup(_)) | None => {
                break false
            }
            _ => {}
        }
    };
    presser.stop_background();
    if !answered {
        target.hangup_cause = cause::NO_ANSWER;
        target.destroy();
        if presser_gone {
            return Outcome::Gone(side);
        }
        drop(moh);
        clear(other);
        return failed(presser, &cfg, side).await;
    }
    target.answer();
    pbx.verbose_line(3, &format!("{} answered {}", target.name(), presser.name()));
    let mut done = presser_gone;
    let digit_timeout = Duration::from_millis(u64::from(cfg.general.featuredigittimeout));
    let mut m = DtmfMatcher::new(FeatureCodes::consult(&cfg), digit_timeout);
    let mut none = DtmfMatcher::new(FeatureCodes::default(), digit_timeout);
    let mut with_target = true;
    let mut target_moh: Option<AbortOnDrop> = None;
    while !done {
        let partner = if with_target {
            target.media.clone()
        } else {
            other.media.clone()
        };
        let (ps, os, ts) = (
            presser.shared.clone(),
            other.shared.clone(),
            target.shared.clone(),
        );
        let r = crate::pbx::bridge::relay_features(
            presser.media.clone(),
            partner,
            &mut m,
            &mut none,
            async {
                loop {
                    tokio::select! {
                        _ = ps.hungup() => break Consulted::Presser,
                        _ = os.hungup() => break Consulted::Other,
                        _ = ts.hungup() => break Consulted::Target,
                        ev = recv(&mut events) => match ev {
                            Some(ChanEvent::Hangup(_)) | None => break Consulted::Target,
                            _ => {}
                        },
                    }
                }
            },
        )
        .await;
        match r {
            Ok(Consulted::Presser) => done = true,
            Err(FeatureHit {
                feature: Feature::Consult(features::Consult::Complete),
                ..
            }) => done = true,
            Ok(Consulted::Other) => {
                target.destroy();
                let other_side = match side {
                    Ended::A => Ended::B,
                    Ended::B => Ended::A,
                };
                return Outcome::Gone(other_side);
            }
            Ok(Consulted::Target)
            | Err(FeatureHit {
                feature: Feature::Consult(features::Consult::Abort),
                ..
            }) => {
                pbx.verbose_line(
                    3,
                    &format!("Attended transfer to {} aborted", target.name()),
                );
                target.hangup_cause = cause::NORMAL_CLEARING;
                target.destroy();
                drop(moh);
                clear(other);
                return Outcome::Resume;
            }
            Err(FeatureHit {
                feature: Feature::Consult(features::Consult::Swap),
                ..
            }) => {
                with_target = !with_target;
                if with_target {
                    target_moh = None;
                    clear(&target);
                    moh = hold(other, "").await;
                } else {
                    moh = None;
                    clear(other);
                    target_moh = hold(&target, "").await;
                }
            }
            Err(_) => {
                pbx.notice("features: three-way calls (atxferthreeway) are not supported");
            }
        }
    }
    drop(moh);
    drop(target_moh);
    clear(other);
    clear(&target);
    let name = presser.name().to_string();
    other.set_var("ATTENDEDTRANSFER", &name);
    target.set_var("ATTENDEDTRANSFER", &name);
    pbx.verbose_line(
        3,
        &format!(
            "Attended transfer of {} to {} by {name}",
            other.name(),
            target.name()
        ),
    );
    Outcome::Handoff(
        side,
        Box::new(Target {
            chan: target,
            events,
        }),
    )
}

/// A transfer failed: `xferfailsound` to the presser, back to the bridge.
async fn failed(presser: &mut Channel, cfg: &FeaturesConfig, side: Ended) -> Outcome {
    if play(presser, &cfg.general.xferfailsound).await.is_err() {
        return Outcome::Gone(side);
    }
    Outcome::Resume
}

/// Asterisk's `grab_transfer`: announce (`transferannouncesound`), then collect an
/// extension of `context` to dial tone (`ast_app_dtget`), `transferdialattempts` times,
/// with `transferretrysound` between attempts and `transferinvalidsound` after the last.
async fn grab_transfer(
    chan: &mut Channel,
    context: &str,
    cfg: &FeaturesConfig,
) -> Result<Option<String>, Hangup> {
    let g = &cfg.general;
    let mut first = play(chan, &g.transferannouncesound).await?;
    let timeout = Duration::from_secs(u64::from(g.transferdigittimeout.max(1)));
    let attempts = g.transferdialattempts.max(1);
    for attempt in 1..=attempts {
        let exten = dtget(chan, context, first.take(), timeout).await?;
        if !exten.is_empty() && exists(chan, context, &exten) {
            return Ok(Some(exten));
        }
        chan.pbx.verbose_line(
            3,
            &format!(
                "{} dialed '{exten}' to transfer, but no such extension exists in context '{context}'",
                chan.name()
            ),
        );
        let sound = if attempt < attempts {
            &g.transferretrysound
        } else {
            &g.transferinvalidsound
        };
        if !sound.is_empty() {
            super::playback::stream(chan, sound, "").await?;
        }
    }
    Ok(None)
}

/// `ast_app_dtget`: dial tone until the first digit; digits until the extension cannot
/// be longer, `#`, or `timeout` without a digit.
async fn dtget(
    chan: &mut Channel,
    context: &str,
    first: Option<char>,
    timeout: Duration,
) -> Result<String, Hangup> {
    let mut exten = String::new();
    let mut pending = first;
    if pending.is_none() {
        super::indications::play_tones(chan, "dial");
    }
    loop {
        let d = match pending.take() {
            Some(d) => Some(d),
            None => super::waitexten::wait_digit(chan, timeout).await?,
        };
        chan.stop_background();
        let Some(d) = d else { break };
        if d == '#' {
            break;
        }
        exten.push(d);
        if !chan.pbx.dialplan().match_more(
            context,
            &exten,
            chan.caller.num.as_deref(),
            chrono::Utc::now(),
        ) {
            break;
        }
        if exten.len() >= 255 {
            break;
        }
    }
    chan.stop_background();
    Ok(exten)
}

/// One-touch recording (automixmon, and automon through the same mixed recorder): start
/// recording the other party, or stop it. Asterisk's file name:
/// `<PREFIX>-<time>-<presser id>-<other id>.<format>` (`auto` and `wav` by default) from
/// the `TOUCH_MIXMONITOR*` (automon: `TOUCH_MONITOR*`) variables of the presser, else
/// of the other party.
async fn toggle_recording(presser: &mut Channel, other: &mut Channel, automon: bool) {
    let cfg = features::for_channel(presser);
    let var = if automon {
        "TOUCH_MONITOR"
    } else {
        "TOUCH_MIXMONITOR"
    };
    if super::mixmonitor::is_running(other) {
        super::mixmonitor::stop(other).await;
        presser
            .pbx
            .verbose_line(4, "AutoMixMonitor used to stop recording call.");
        let _ = play(presser, &cfg.general.courtesytone).await;
        return;
    }
    let v = |name: &str| -> Option<String> {
        presser
            .get_var(name)
            .filter(|v| !v.is_empty())
            .or_else(|| other.get_var(name).filter(|v| !v.is_empty()))
    };
    let format = v(&format!("{var}_FORMAT")).unwrap_or_else(|| "wav".into());
    let prefix = v(&format!("{var}_PREFIX")).unwrap_or_else(|| "auto".into());
    let now = chrono::Utc::now().timestamp();
    let id = |c: &Channel| {
        c.caller
            .num
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| c.name().to_string())
    };
    let file = match v(var) {
        Some(m) => format!("{prefix}-{now}-{m}.{format}"),
        None => format!("{prefix}-{now}-{}-{}.{format}", id(presser), id(other)),
    }
    .replace('/', "-");
    presser.pbx.verbose_line(
        4,
        &format!("AutoMixMonitor used to record call. Filename: {file}"),
    );
    if super::mixmonitor::start(other, &file).await {
        let _ = play(presser, &cfg.general.courtesytone).await;
        presser.set_var(&format!("{var}_OUTPUT"), &file);
        other.set_var(&format!("{var}_OUTPUT"), &file);
    } else {
        presser.pbx.verbose_line(
            4,
            &format!(
                "AutoMixMonitor feature was tried by '{}' but MixMonitor failed to start.",
                presser.name()
            ),
        );
        let _ = play(presser, &cfg.general.recordingfailsound).await;
    }
}

/// Hang up a channel a transfer took away from its bridge.
pub fn leave(chan: &mut Channel) {
    chan.hangup_cause = cause::NORMAL_CLEARING;
    chan.destroy();
}

/// Indicate a REFER's outcome only to a channel whose far end asked for it.
pub fn transferred(chan: &mut Channel, by_refer: bool) {
    if by_refer {
        chan.indicate(ChanEvent::Transferred(true));
    }
}
