//! Dial(): ring one or more channels in parallel (`&`), bridge the first that answers.
//!
//! Sets DIALSTATUS (ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL),
//! DIALEDPEERNAME, DIALEDPEERNUMBER, DIALEDTIME, ANSWEREDTIME. Options: `g` (continue
//! when the callee hangs up), `r` (indicate ringing), `m[(class)]` (music on hold to the
//! caller until an answer), `M(macro^args)` and `U(sub^args)`
//! (run on the called channel before bridging; MACRO_RESULT / GOSUB_RESULT honoured),
//! `i` (ignore call forwards), and the in-call features of features.conf: `t`/`T`
//! (transfer), `h`/`H` (disconnect), `w`/`W` and `x`/`X` (one-touch recording), `k`/`K`
//! (parkcall) and `DYNAMIC_FEATURES` ([`super::dialfeatures`]). A callee's call forward (a SIP 3xx) is followed, at most
//! [`MAX_FORWARDS`] times, and updates the caller's `REDIRECTING()`.

use super::dialfeatures::{self, Outcome};
use super::{args, flow, App, AppResult};
use crate::channels;
use crate::pbx::bridge::{self, AbortOnDrop};
use crate::pbx::ccss;
use crate::pbx::channel::{cause, ChanEvent, PartyId};
use crate::pbx::exec::{self, End};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::parking::ParkOptions;
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_dial.so", "Dialing Application"),
    register: register_app_dial,
}];

fn register_app_dial(ctx: &ModuleContext) {
    super::more::register_retrydial(ctx);
    ctx.register_app(Arc::new(Dial));
}

struct Leg {
    chan: Channel,
    interface: String,
    alive: bool,
    /// Which channel of this slot (a forwarded call replaces it): events of an earlier
    /// one are ignored.
    gen: u32,
}

/// Where an event comes from: the leg slot and its channel's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Src {
    pub(crate) idx: usize,
    pub(crate) gen: u32,
}

/// Pass `erx`'s events to the Dial loop, tagged with `src`.
pub(crate) fn forward_events(
    mut erx: mpsc::UnboundedReceiver<ChanEvent>,
    tx: mpsc::UnboundedSender<(Src, ChanEvent)>,
    src: Src,
) {
    tokio::spawn(async move {
        while let Some(ev) = erx.recv().await {
            if tx.send((src, ev)).is_err() {
                return;
            }
        }
        // The channel went away without a word: as a hang-up with no cause, so the loop
        // (which keeps a sender for forwarded legs) sees the leg end.
        let _ = tx.send((src, ChanEvent::Hangup(0)));
    });
}

/// What a MACRO_RESULT / GOSUB_RESULT asks for.
enum AfterAnswer {
    Bridge,
    Abort,
    Status(&'static str),
    Continue,
    Goto(String),
}

fn read_result(callee: &Channel, var: &str) -> AfterAnswer {
    let v = callee.vars.get(var).unwrap_or("").trim().to_string();
    let up = v.to_ascii_uppercase();
    match up.as_str() {
        "" => AfterAnswer::Bridge,
        "ABORT" => AfterAnswer::Abort,
        "CONGESTION" => AfterAnswer::Status("CONGESTION"),
        "BUSY" => AfterAnswer::Status("BUSY"),
        "CONTINUE" => AfterAnswer::Continue,
        _ if up.starts_with("GOTO:") => AfterAnswer::Goto(v[5..].replace('^', ",")),
        _ => AfterAnswer::Bridge,
    }
}

struct Dial;

#[async_trait]
impl App for Dial {
    fn name(&self) -> &'static str {
        "Dial"
    }
    fn synopsis(&self) -> &'static str {
        "Attempt to connect to another device or endpoint and bridge the call."
    }
    fn syntax(&self) -> &'static str {
        "Dial(Technology/Resource[&Technology2/Resource2[&...]][,timeout[,options[,URL]]])"
    }
    fn description(&self) -> &'static str {
        "This application will place calls to one or more specified channels. As soon as one of the requested channels answers, the originating channel will be answered, if it has not already been answered. These two channels will then be active in a bridged call. All other channels that were requested will then be hung up. Unless there is a timeout specified, the Dial application will wait indefinitely until one of the called channels answers, the user hangs up, or if all of the called channels are busy or unavailable. DIALSTATUS is set to one of CHANUNAVAIL, CONGESTION, NOANSWER, BUSY, ANSWER, CANCEL, DONTCALL, TORTURE, INVALIDARGS. Options: g, i (ignore call forwards: a 3xx from the called party is not followed), m([class]), r, M(macro[^arg[^...]]), U(x[^arg[^...]]); the features of features.conf: t/T (the called party/the caller may transfer with blindxfer or atxfer), h/H (may hang up with disconnect), w/W (automon), x/X (automixmon), k/K (parkcall: the other party is parked through res_parking, the presser hears the space and leaves); DYNAMIC_FEATURES enables applicationmap features per channel. A call forward (SIP 3xx) is followed: a bare extension is dialed through Local in FORWARD_CONTEXT (or the called peer's context), and REDIRECTING() is updated."
    }

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let recall = ccss::recall_begin(chan);
        let r = dial(chan, data).await;
        dial_events::end(chan);
        if let Some(core) = recall {
            let status = chan.get_var("DIALSTATUS").unwrap_or_default();
            ccss::recall_end(&chan.pbx, core, &status);
        }
        r
    }
}

async fn dial(chan: &mut Channel, data: &str) -> AppResult {
    {
        let a = args::split(data, ',');
        let peers = args::nth(&a, 0).trim();
        if peers.is_empty() {
            chan.pbx
                .warning("app_dial.c: Dial requires an argument (technology/resource)");
            chan.vars.set("DIALSTATUS", "INVALIDARGS");
            return Err(Hangup);
        }
        let timeout = args::nth(&a, 1)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|t| *t > 0.0 && t.is_finite())
            .map(|t| Duration::from_secs_f64(t.min(1e7)));
        let opts = args::options(args::nth(&a, 2));
        chan.vars.remove("DIALSTATUS");
        chan.vars.remove("DIALEDPEERNAME");
        chan.vars.remove("DIALEDPEERNUMBER");
        let pbx = chan.pbx.clone();
        let started = Instant::now();

        let (tx, mut rx) = mpsc::unbounded_channel::<(Src, ChanEvent)>();
        let mut legs: Vec<Leg> = Vec::new();
        for peer in peers.split('&').map(str::trim).filter(|p| !p.is_empty()) {
            channels::prepare(&pbx, peer).await;
        }
        for peer in peers.split('&').map(str::trim).filter(|p| !p.is_empty()) {
            match channels::request(&pbx, peer, Some(chan)) {
                Ok(out) => {
                    let mut callee = out.chan;
                    // A dialed leg is the B party of the caller's CDR (dstchannel), not a
                    // record of its own, as in Asterisk 12+.
                    callee.cdr.disabled = true;
                    outgoing_line(&mut callee, chan);
                    if let Some(erx) = callee.events.take() {
                        let src = Src {
                            idx: legs.len(),
                            gen: 0,
                        };
                        forward_events(erx, tx.clone(), src);
                    }
                    (out.call)();
                    dial_events::begin(chan, &callee, peer);
                    pbx.verbose_line(3, &format!("Called {}", peer));
                    legs.push(Leg {
                        chan: callee,
                        interface: peer.to_string(),
                        alive: true,
                        gen: 0,
                    });
                }
                Err(e) => {
                    pbx.warning(&format!("app_dial.c: {}", e.msg));
                    // As ast_cc_call_failed: a busy device may offer generic CCBS.
                    if matches!(e.cause, cause::USER_BUSY | cause::NORMAL_CIRCUIT_CONGESTION) {
                        let device = cc_device(peer);
                        ccss::leg_offers(chan, &device, peer, None, ccss::Service::Ccbs);
                    }
                }
            }
        }
        // Forwarded legs (a 3xx) report through the same channel.
        let forward_tx = tx;
        if legs.is_empty() {
            chan.vars.set("DIALSTATUS", "CHANUNAVAIL");
            chan.cdr.disposition_override = Some(crate::cdr::Disposition::Failed);
            set_times(chan, started, None);
            return Ok(());
        }
        // The CDR names the channel this Dial reached (the first one until one answers).
        chan.cdr.dstchannel = legs[0].chan.name().to_string();
        if opts.contains_key(&'r') {
            chan.indicate(ChanEvent::Ringing);
        }
        // `m[(class)]`: the caller hears music on hold (as early media) until an answer.
        let caller_tx = chan.media.as_ref().map(|m| m.to_far.clone());
        let mut moh: Option<AbortOnDrop> = None;
        if let Some(class) = opts.get(&'m') {
            chan.stop_background();
            if let Some(tx) = &caller_tx {
                moh =
                    crate::pbx::hold::start(&pbx, class.as_deref().unwrap_or(""), tx.clone()).await;
            }
            if moh.is_some() && !chan.is_up() {
                chan.indicate(ChanEvent::Progress);
            }
        }
        // Early media: the audio of a callee that sent Progress goes to the caller (unless
        // `r` or `m` say what the caller hears).
        let pass_early = !opts.contains_key(&'r') && !opts.contains_key(&'m');
        let mut early: Option<(usize, AbortOnDrop)> = None;

        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let (mut busy, mut congestion, mut nochan) = (0usize, 0usize, 0usize);
        let mut forwards = 0usize;
        let numlines = legs.len();
        let caller_shared = chan.shared.clone();
        let mut pick = pickup::watch(chan, &legs);
        let winner: Option<usize> = loop {
            if legs.iter().all(|l| !l.alive) {
                break None;
            }
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                p = pick.next() => {
                    drop((moh.take(), early.take()));
                    let legs: Vec<&mut Channel> = legs.iter_mut().filter(|l| l.alive).map(|l| { l.alive = false; &mut l.chan }).collect();
                    ccss::dial_answered(chan);
                    let r = pickup::bridge_picker(chan, legs, p, opts.contains_key(&'g')).await;
                    set_times(chan, started, Some(Instant::now()));
                    return r;
                }
                _ = caller_shared.hungup() => {
                    chan.vars.set("DIALSTATUS", "CANCEL");
                    hangup_legs(&mut legs, None, cause::NORMAL_CLEARING);
                    set_times(chan, started, None);
                    return Err(Hangup);
                }
                _ = sleep_until(deadline) => {
                    pbx.verbose_line(3, &format!("Nobody picked up in {} ms", timeout.map(|t| t.as_millis()).unwrap_or(0)));
                    chan.vars.set("DIALSTATUS", "NOANSWER");
                    chan.cdr.disposition_override = Some(crate::cdr::Disposition::NoAnswer);
                    hangup_legs(&mut legs, None, cause::NO_ANSWER);
                    set_times(chan, started, None);
                    return Ok(());
                }
            };
            let Some((src, ev)) = ev else {
                break None;
            };
            let i = src.idx;
            let Some(leg) = legs.get_mut(i).filter(|l| l.alive && l.gen == src.gen) else {
                continue;
            };
            if matches!(
                ev,
                ChanEvent::Busy
                    | ChanEvent::Congestion
                    | ChanEvent::Hangup(_)
                    | ChanEvent::Forward(_)
            ) && early.as_ref().is_some_and(|(e, _)| *e == i)
            {
                early = None;
            }
            let name = leg.chan.name().to_string();
            match ev {
                ChanEvent::Answer => break Some(i),
                ChanEvent::Ringing => {
                    pbx.verbose_line(3, &format!("{name} is ringing"));
                    cc_offer(chan, leg, ccss::Service::Ccnr);
                    if !chan.is_up() && !opts.contains_key(&'r') && moh.is_none() {
                        chan.indicate(ChanEvent::Ringing);
                    }
                }
                ChanEvent::Progress => {
                    pbx.verbose_line(
                        3,
                        &format!("{name} is making progress passing it to {}", chan.name()),
                    );
                    if !chan.is_up() {
                        chan.indicate(ChanEvent::Progress);
                    }
                    if let (true, None, Some(tx), Some(m)) =
                        (pass_early, &early, &caller_tx, &leg.chan.media)
                    {
                        chan.stop_background();
                        early = Some((i, bridge::spawn_forward(m.from_far.clone(), tx.clone())));
                    }
                }
                ChanEvent::Busy => {
                    pbx.verbose_line(3, &format!("{name} is busy"));
                    cc_offer(chan, leg, ccss::Service::Ccbs);
                    busy += 1;
                    leg.alive = false;
                    leg.chan.hangup_cause = cause::USER_BUSY;
                    record_cause(chan, &leg.chan, cause::USER_BUSY);
                    leg.chan.destroy();
                }
                ChanEvent::Congestion => {
                    pbx.verbose_line(3, &format!("{name} is circuit-busy"));
                    cc_offer(chan, leg, ccss::Service::Ccbs);
                    congestion += 1;
                    leg.alive = false;
                    leg.chan.hangup_cause = cause::NORMAL_CIRCUIT_CONGESTION;
                    record_cause(chan, &leg.chan, cause::NORMAL_CIRCUIT_CONGESTION);
                    leg.chan.destroy();
                }
                ChanEvent::Connected(p) => {
                    chan.connected = Some(Box::new(p));
                }
                // Not before an answer.
                ChanEvent::Transfer(_) | ChanEvent::Transferred(_) => {}
                ChanEvent::Forward(f) => {
                    // The callee redirected the call (SIP 3xx): call where it says instead.
                    let dest = if f.dest.contains('/') {
                        f.dest.clone()
                    } else {
                        let ctx = leg
                            .chan
                            .get_var("FORWARD_CONTEXT")
                            .filter(|c| !c.is_empty())
                            .unwrap_or_else(|| {
                                if f.context.is_empty() {
                                    chan.context.clone()
                                } else {
                                    f.context.clone()
                                }
                            });
                        format!("Local/{}@{ctx}", f.dest)
                    };
                    let dialed = dialed_number(&leg.interface);
                    leg.alive = false;
                    leg.chan.hangup_cause = cause::NORMAL_CLEARING;
                    leg.chan.destroy();
                    if opts.contains_key(&'i') {
                        pbx.verbose_line(
                            3,
                            &format!("Forwarding {} to '{dest}' prevented.", chan.name()),
                        );
                        nochan += 1;
                        continue;
                    }
                    if forwards >= MAX_FORWARDS {
                        pbx.warning(&format!(
                            "app_dial.c: Too many forwards from {name}: not forwarding to '{dest}'"
                        ));
                        nochan += 1;
                        continue;
                    }
                    forwards += 1;
                    let mut r = chan.redirecting.as_deref().cloned().unwrap_or_default();
                    let from = PartyId {
                        name: None,
                        num: (!dialed.is_empty()).then_some(dialed),
                    };
                    if r.count == 0 {
                        r.orig = from.clone();
                        r.orig_reason.clone_from(&f.reason);
                    }
                    r.from = from;
                    r.to = f.to.clone();
                    r.reason.clone_from(&f.reason);
                    r.count = r.count.saturating_add(1);
                    chan.redirecting = Some(Box::new(r));
                    pbx.verbose_line(
                        3,
                        &format!(
                            "Now forwarding {} to '{dest}' (thanks to {name})",
                            chan.name()
                        ),
                    );
                    channels::prepare(&pbx, &dest).await;
                    match channels::request(&pbx, &dest, Some(chan)) {
                        Ok(out) => {
                            let mut callee = out.chan;
                            callee.cdr.disabled = true;
                            outgoing_line(&mut callee, chan);
                            let gen = leg.gen + 1;
                            if let Some(erx) = callee.events.take() {
                                forward_events(erx, forward_tx.clone(), Src { idx: i, gen });
                            }
                            (out.call)();
                            chan.cdr.dstchannel = callee.name().to_string();
                            *leg = Leg {
                                chan: callee,
                                interface: dest,
                                alive: true,
                                gen,
                            };
                        }
                        Err(e) => {
                            pbx.notice(&format!(
                                "app_dial.c: Forwarding failed to create channel to dial '{dest}' (cause = {})",
                                e.cause
                            ));
                            nochan += 1;
                        }
                    }
                }
                ChanEvent::Hangup(c) => {
                    match c {
                        cause::USER_BUSY => {
                            busy += 1;
                            cc_offer(chan, leg, ccss::Service::Ccbs);
                        }
                        cause::NORMAL_CIRCUIT_CONGESTION | cause::SWITCH_CONGESTION => {
                            congestion += 1;
                            cc_offer(chan, leg, ccss::Service::Ccbs);
                        }
                        cause::NO_ANSWER | cause::NORMAL_CLEARING | 0 => {}
                        _ => nochan += 1,
                    }
                    leg.alive = false;
                    leg.chan.hangup_cause = c;
                    record_cause(chan, &leg.chan, c);
                    leg.chan.destroy();
                }
            }
        };

        let Some(w) = winner else {
            let status = if numlines == busy + congestion + nochan {
                pbx.verbose_line(
                    2,
                    &format!(
                        "Everyone is busy/congested at this time ({numlines}:{busy}/{congestion}/{nochan})"
                    ),
                );
                if busy > 0 {
                    "BUSY"
                } else if congestion > 0 {
                    "CONGESTION"
                } else {
                    "CHANUNAVAIL"
                }
            } else {
                "CHANUNAVAIL"
            };
            chan.vars.set("DIALSTATUS", status);
            chan.cdr.disposition_override = Some(match status {
                "BUSY" => crate::cdr::Disposition::Busy,
                "CONGESTION" => crate::cdr::Disposition::Congestion,
                _ => crate::cdr::Disposition::Failed,
            });
            set_times(chan, started, None);
            return Ok(());
        };

        // Someone answered: stop the hold music / early media, hang up the rest, answer.
        ccss::dial_answered(chan);
        drop(early);
        chan.stop_background();
        if moh.take().is_some() {
            if let Some(tx) = &caller_tx {
                tx.clear();
            }
        }
        hangup_legs(&mut legs, Some(w), 26);
        let mut leg = legs.swap_remove(w);
        let wsrc = Src {
            idx: w,
            gen: leg.gen,
        };
        drop(legs);
        let callee = &mut leg.chan;
        callee.answer();
        pbx.verbose_line(3, &format!("{} answered {}", callee.name(), chan.name()));
        chan.vars.set("DIALSTATUS", "ANSWER");
        dial_events::answered(chan, callee.name());
        chan.vars.set("DIALEDPEERNAME", callee.name());
        let number = leg
            .interface
            .split_once('/')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        chan.vars.set("DIALEDPEERNUMBER", number);
        chan.cdr.dstchannel = callee.name().to_string();
        chan.answer();
        let answered = Instant::now();

        // M() / U() on the called channel.
        let mut after = AfterAnswer::Bridge;
        if let Some(Some(m)) = opts.get(&'M') {
            let mut parts = m.split('^').map(str::to_string);
            let name = parts.next().unwrap_or_default();
            let margs: Vec<String> = parts.collect();
            if flow::run_macro(callee, &name, &margs).await.is_err() {
                after = AfterAnswer::Continue;
                callee.shared.request_hangup(cause::NORMAL_CLEARING);
            } else {
                after = read_result(callee, "MACRO_RESULT");
            }
        }
        if matches!(after, AfterAnswer::Bridge) {
            if let Some(Some(u)) = opts.get(&'U') {
                let mut parts = u.split('^').map(str::to_string);
                let ctx = parts.next().unwrap_or_default();
                let uargs: Vec<String> = parts.collect();
                let end = exec::run_sub(callee, &ctx, "s", 1, &uargs).await;
                after = if end == End::Hangup {
                    AfterAnswer::Continue
                } else {
                    read_result(callee, "GOSUB_RESULT")
                };
            }
        }
        match after {
            AfterAnswer::Bridge => {}
            AfterAnswer::Abort => {
                callee.destroy();
                set_times(chan, started, Some(answered));
                return Err(Hangup);
            }
            AfterAnswer::Status(s) => {
                chan.vars.set("DIALSTATUS", s);
                callee.destroy();
                set_times(chan, started, Some(answered));
                return Ok(());
            }
            AfterAnswer::Continue => {
                callee.destroy();
                set_times(chan, started, Some(answered));
                return Ok(());
            }
            AfterAnswer::Goto(spec) => {
                callee.destroy();
                set_times(chan, started, Some(answered));
                return flow::do_goto(chan, &spec);
            }
        }

        // Bridge until one side hangs up: media relayed both ways (crate::pbx::bridge),
        // the parties' digits watched for the feature codes Dial's options enable.
        let end = bridge_call(chan, leg.chan, rx, forward_tx, wsrc, ("Dial", data), &opts).await;
        set_times(chan, started, Some(answered));
        match end {
            Bridged::CallerGone => Err(Hangup),
            Bridged::Transferred => Ok(()),
            Bridged::CalleeGone if opts.contains_key(&'g') => Ok(()),
            Bridged::CalleeGone => Err(Hangup),
        }
    }
}

/// How [`bridge_call`] ended, for the application that bridged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bridged {
    /// The caller hung up, or transferred the called party away (it leaves too).
    CallerGone,
    /// The called party hung up.
    CalleeGone,
    /// The called party transferred the caller: it goes on at the transfer's extension.
    Transferred,
}

/// Bridge `chan` with the answered `callee` (whose events arrive on `rx` tagged `wsrc`; `tx`
/// feeds `rx`, for a transfer target that replaces the callee) until one side hangs up or
/// transfers the other, watching both parties' digits for the feature codes `opts` enable
/// (Dial's and Queue's `t T h H w W x X k K`). `app` is what `core show channels` shows on
/// the caller meanwhile (`Dial`, `Queue` and its data). The called channel is gone (hung
/// up, or running the dialplan after a transfer) when this returns. Shared by Dial() and
/// Queue().
pub(crate) async fn bridge_call(
    chan: &mut Channel,
    mut callee: Channel,
    rx: mpsc::UnboundedReceiver<(Src, ChanEvent)>,
    tx: mpsc::UnboundedSender<(Src, ChanEvent)>,
    mut wsrc: Src,
    app: (&str, &str),
    opts: &dialfeatures::Options,
) -> Bridged {
    let pbx = chan.pbx.clone();
    let caller_shared = chan.shared.clone();
    let mut rx = rx;
    chan.bridged = Some(callee.name().to_string());
    callee.bridged = Some(chan.name().to_string());
    chan.publish(app.0, app.1);
    callee.publish("AppDial", "(Outgoing Line)");
    crate::pbx::features::inherit(chan, &mut callee);
    let mut fa = dialfeatures::matcher(chan, &dialfeatures::enabled(opts, false));
    let mut fb = dialfeatures::matcher(&callee, &dialfeatures::enabled(opts, true));
    let mut callee_slot = callee;
    let caller_tech = chan.tech.clone();
    let end = loop {
        let callee = &mut callee_slot;
        let callee_shared = callee.shared.clone();
        let callee_tech = callee.tech.clone();
        let (caller_media, callee_media) = (chan.media.clone(), callee.media.clone());
        let callee_cause = &mut callee.hangup_cause;
        let r = bridge::relay_features(caller_media, callee_media, &mut fa, &mut fb, async {
            loop {
                if caller_shared.hangup_requested() {
                    break BridgeEnd::CallerGone;
                }
                if callee_shared.hangup_requested() {
                    break BridgeEnd::CalleeGone;
                }
                tokio::select! {
                    _ = caller_shared.hungup() => break BridgeEnd::CallerGone,
                    _ = callee_shared.hungup() => break BridgeEnd::CalleeGone,
                    t = caller_shared.transfer_requested() => break BridgeEnd::CallerTransfers(t, true),
                    // Text frames pass between the legs, as in Asterisk's bridges.
                    t = caller_shared.next_text() => { callee_tech.send_text(&t); }
                    t = callee_shared.next_text() => { caller_tech.send_text(&t); }
                    ev = rx.recv() => match ev {
                        // Only the answered leg's hang-up ends the bridge: the legs that
                        // lost the race were hung up above and may still report it.
                        Some((src, ChanEvent::Hangup(c))) if src == wsrc => { *callee_cause = c; break BridgeEnd::CalleeGone; }
                        Some((src, ChanEvent::Transfer(t))) if src == wsrc => break BridgeEnd::CalleeTransfers(*t, true),
                        Some(_) => {}
                        None => break BridgeEnd::CalleeGone,
                    },
                }
            }
        })
        .await;
        match r {
            Ok(e) => break e,
            Err(hit) => match dialfeatures::run(chan, &mut callee_slot, hit, opts).await {
                Outcome::Resume => {}
                Outcome::Gone(bridge::Ended::A) => break BridgeEnd::CallerGone,
                Outcome::Gone(bridge::Ended::B) => break BridgeEnd::CalleeGone,
                Outcome::Disconnect => break BridgeEnd::CalleeGone,
                Outcome::Transfer(bridge::Ended::A, t) => {
                    break BridgeEnd::CallerTransfers(t, false)
                }
                Outcome::Transfer(bridge::Ended::B, t) => {
                    break BridgeEnd::CalleeTransfers(t, false)
                }
                Outcome::Handoff(bridge::Ended::B, t) => {
                    // The called party transferred the caller to `t`: the caller
                    // talks to the target from now on.
                    let t = *t;
                    let mut old = std::mem::replace(&mut callee_slot, t.chan);
                    dialfeatures::leave(&mut old);
                    wsrc.gen += 1;
                    if let Some(erx) = t.events {
                        forward_events(erx, tx.clone(), wsrc);
                    }
                    callee_slot.bridged = Some(chan.name().to_string());
                    chan.bridged = Some(callee_slot.name().to_string());
                    chan.cdr.dstchannel = callee_slot.name().to_string();
                    fb = dialfeatures::matcher(&callee_slot, &dialfeatures::enabled(opts, true));
                }
                Outcome::Handoff(bridge::Ended::A, t) => break BridgeEnd::CallerHandsOff(t),
                Outcome::Park(bridge::Ended::A) => break BridgeEnd::CallerParks,
                Outcome::Park(bridge::Ended::B) => break BridgeEnd::CalleeParks,
            },
        }
    };
    chan.bridged = None;
    let mut callee = callee_slot;
    match end {
        BridgeEnd::CallerGone => {
            callee.destroy();
            Bridged::CallerGone
        }
        BridgeEnd::CalleeGone => {
            callee.destroy();
            Bridged::CalleeGone
        }
        BridgeEnd::CallerHandsOff(t) => {
            // Attended transfer by the caller: the called party and the target talk
            // on their own; the caller hangs up.
            handoff(callee, t, rx, wsrc);
            chan.hangup_cause = cause::NORMAL_CLEARING;
            Bridged::CallerGone
        }
        BridgeEnd::CallerParks => {
            // The called party goes to the lot; the caller hears the space and hangs up.
            let Some(svc) = crate::pbx::parking::service(&pbx) else {
                callee.destroy();
                return Bridged::CallerGone;
            };
            callee.bridged = None;
            let opts = ParkOptions {
                lot: dialfeatures::parker_lot(chan),
                parker: chan.name().to_string(),
                ..Default::default()
            };
            let at = svc.park_channel(callee, opts).map_err(|(e, mut c)| {
                c.destroy();
                e
            });
            dialfeatures::announce_park(chan, at).await;
            Bridged::CallerGone
        }
        BridgeEnd::CalleeParks => {
            // The caller is parked on its own task (this one); the called party hears the
            // space and hangs up.
            let Some(svc) = crate::pbx::parking::service(&pbx) else {
                callee.destroy();
                return Bridged::CallerGone;
            };
            callee.bridged = None;
            let opts = ParkOptions {
                lot: dialfeatures::parker_lot(&callee),
                parker: callee.name().to_string(),
                ..Default::default()
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                if let Ok(at) = rx.await {
                    dialfeatures::announce_park(&mut callee, at).await;
                }
                callee.destroy();
            });
            if svc.park_self(chan, opts, tx).await {
                // Timed out: the caller stands at its comeback place.
                Bridged::Transferred
            } else {
                Bridged::CallerGone
            }
        }
        BridgeEnd::CalleeTransfers(t, by_refer) => {
            // The called party transferred the caller: the caller goes on at the
            // transfer's extension, the called party hangs up.
            let ctx = transfer_context(&callee, &t);
            chan.vars.set("BLINDTRANSFER", callee.name());
            dialfeatures::transferred(&mut callee, by_refer);
            dialfeatures::leave(&mut callee);
            pbx.verbose_line(
                3,
                &format!("Blind transfer of {} to {}@{ctx}", chan.name(), t.exten),
            );
            chan.goto(&ctx, &t.exten, 1);
            Bridged::Transferred
        }
        BridgeEnd::CallerTransfers(t, by_refer) => {
            // The caller transferred the called party: it runs the dialplan at the
            // transfer's extension on its own; the caller hangs up.
            let ctx = transfer_context(chan, &t);
            callee.vars.set("BLINDTRANSFER", chan.name());
            callee.bridged = None;
            callee.context = ctx.clone();
            callee.exten = t.exten.clone();
            callee.priority = 1;
            pbx.verbose_line(
                3,
                &format!("Blind transfer of {} to {}@{ctx}", callee.name(), t.exten),
            );
            dialfeatures::transferred(chan, by_refer);
            tokio::spawn(exec::run_pbx(callee));
            chan.hangup_cause = cause::NORMAL_CLEARING;
            Bridged::CallerGone
        }
    }
}

/// How a bridge ended.
enum BridgeEnd {
    CallerGone,
    CalleeGone,
    /// The caller asked to transfer the called party (its far end by a SIP REFER when
    /// the flag is set, else a feature code or BlindTransfer()).
    CallerTransfers(crate::pbx::channel::TransferTo, bool),
    /// The called party asked to transfer the caller (likewise).
    CalleeTransfers(crate::pbx::channel::TransferTo, bool),
    /// The caller completed an attended transfer of the called party to this target.
    CallerHandsOff(Box<dialfeatures::Target>),
    /// The caller pressed `parkcall` (`K`): the called party is parked.
    CallerParks,
    /// The called party pressed `parkcall` (`k`): the caller is parked.
    CalleeParks,
}

/// Bridge `callee` (whose events come through `rx`, tagged `src`) and an attended
/// transfer's target on their own until either hangs up.
fn handoff(
    mut callee: Channel,
    t: Box<dialfeatures::Target>,
    mut rx: mpsc::UnboundedReceiver<(Src, ChanEvent)>,
    src: Src,
) {
    let dialfeatures::Target {
        chan: mut target,
        events: mut tev,
    } = *t;
    tokio::spawn(async move {
        callee.bridged = Some(target.name().to_string());
        target.bridged = Some(callee.name().to_string());
        let (cs, ts) = (callee.shared.clone(), target.shared.clone());
        bridge::relay_until(callee.media.clone(), target.media.clone(), async {
            loop {
                tokio::select! {
                    _ = cs.hungup() => break,
                    _ = ts.hungup() => break,
                    ev = rx.recv() => match ev {
                        Some((s, ChanEvent::Hangup(_))) if s == src => break,
                        None => break,
                        Some(_) => {}
                    },
                    ev = dialfeatures::recv(&mut tev) => match ev {
                        Some(ChanEvent::Hangup(_)) | None => break,
                        Some(_) => {}
                    },
                }
            }
        })
        .await;
        dialfeatures::leave(&mut callee);
        dialfeatures::leave(&mut target);
    });
}

/// Where a blind transfer asked by `transferer`'s far end goes: its `TRANSFER_CONTEXT`
/// (a variable or global), else the context its driver gave.
/// What app_dial does to a channel it dialed: it inherits the caller's extension (the
/// macro's, inside a Macro) and shows `AppDial((Outgoing Line))` in `core show channels`.
/// Its context stays the one its technology gave it (a SIP peer's `context`).
pub(crate) fn outgoing_line(callee: &mut Channel, caller: &Channel) {
    callee.exten = caller
        .vars
        .get("MACRO_EXTEN")
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| caller.exten.clone());
    callee.publish("AppDial", "(Outgoing Line)");
}

fn transfer_context(transferer: &Channel, t: &crate::pbx::channel::TransferTo) -> String {
    transferer
        .get_var("TRANSFER_CONTEXT")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| t.context.clone())
}

/// Most call forwards (3xx) one `Dial()` follows.
pub const MAX_FORWARDS: usize = 20;

/// The number a `Tech/resource` dial string calls: `SIP/6001@trunk` and `SIP/trunk/6001`
/// give `6001`, `SIP/alice` gives `alice`.
fn dialed_number(interface: &str) -> String {
    let res = interface.split_once('/').map_or(interface, |(_, r)| r);
    let res = res.split(',').next().unwrap_or(res);
    if let Some((user, _)) = res.split_once('@') {
        return user.to_string();
    }
    res.rsplit('/').next().unwrap_or(res).to_string()
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending::<()>().await,
    }
}

/// Remember why a called channel failed, for `HANGUPCAUSE()`: the driver's own text
/// (`SIP 486 Busy Here`), else the cause's description.
/// The device a dial string names (`SIP/1002/200` → `SIP/1002`), for a leg that could
/// not be created.
fn cc_device(interface: &str) -> String {
    match interface.split_once('/') {
        Some((tech, rest)) => format!("{tech}/{}", rest.split('/').next().unwrap_or(rest)),
        None => interface.to_string(),
    }
}

/// A leg offered call completion (generic monitor: it rang, or was busy).
fn cc_offer(chan: &mut Channel, leg: &Leg, service: ccss::Service) {
    let device = ccss::device_name(leg.chan.name()).to_string();
    let params = ccss::params_of(&leg.chan);
    ccss::leg_offers(chan, &device, &leg.interface, Some(params), service);
}

pub(crate) fn record_cause(caller: &mut Channel, leg: &Channel, c: i32) {
    let tech = leg
        .shared
        .tech_cause()
        .unwrap_or_else(|| crate::pbx::channel::cause::description(c).to_string());
    caller.record_hangupcause(leg.name(), tech, c);
}

fn hangup_legs(legs: &mut [Leg], except: Option<usize>, c: i32) {
    for (i, l) in legs.iter_mut().enumerate() {
        if Some(i) == except || !l.alive {
            continue;
        }
        l.alive = false;
        l.chan.hangup_cause = c;
        l.chan.destroy();
    }
}

fn set_times(chan: &mut Channel, started: Instant, answered: Option<Instant>) {
    chan.vars
        .set("DIALEDTIME", started.elapsed().as_secs().to_string());
    match answered {
        Some(a) => chan
            .vars
            .set("ANSWEREDTIME", a.elapsed().as_secs().to_string()),
        None => {
            chan.vars.remove("ANSWEREDTIME");
        }
    }
}

/// Pickup() of a ringing leg (`pbx::pickup`): the picker answers for the leg.
mod pickup {
    use super::Leg;
    use crate::pbx::bridge;
    use crate::pbx::channel::cause;
    use crate::pbx::pickup::{Groups, LegInfo, PickupRequest, Watch, GROUPS_DATASTORE};
    use crate::pbx::{Channel, Hangup};

    /// List the ringing legs for Pickup() while Dial waits.
    pub fn watch(chan: &Channel, legs: &[Leg]) -> Watch {
        let w = Watch::new(&chan.pbx, &chan.shared);
        for l in legs {
            let groups = l
                .chan
                .datastores
                .get::<(Groups, Groups)>(GROUPS_DATASTORE)
                .map(|g| g.0.clone())
                .unwrap_or_default();
            w.ringing(
                &l.chan.shared,
                LegInfo {
                    exten: l.chan.exten.clone(),
                    context: l.chan.context.clone(),
                    mark: l.chan.get_var("PICKUPMARK").filter(|m| !m.is_empty()),
                    callgroups: groups,
                },
            );
        }
        w
    }

    /// The picker took a ringing leg: the other legs are cancelled (answered elsewhere),
    /// the caller is answered (DIALSTATUS=ANSWER) and talks to the picker until one hangs up.
    pub async fn bridge_picker(
        chan: &mut Channel,
        legs: Vec<&mut Channel>,
        p: PickupRequest,
        continue_after: bool,
    ) -> Result<(), Hangup> {
        for l in legs {
            l.hangup_cause = cause::ANSWERED_ELSEWHERE;
            l.destroy();
        }
        if let Some(m) = &chan.media {
            m.to_far.clear();
        }
        chan.stop_background();
        chan.pbx
            .verbose_line(3, &format!("{} answered {}", p.picker, chan.name()));
        chan.vars.set("DIALSTATUS", "ANSWER");
        chan.vars.set("DIALEDPEERNAME", &p.target);
        chan.answer();
        let _ = p.accepted.send(true);
        chan.bridged = Some(p.picker.clone());
        let caller_shared = chan.shared.clone();
        let end = bridge::bridge(chan.media.clone(), &caller_shared, p.media, &p.shared).await;
        chan.bridged = None;
        match end {
            bridge::Ended::A => Err(Hangup),
            bridge::Ended::B if continue_after => Ok(()),
            bridge::Ended::B => Err(Hangup),
        }
    }
}

/// AMI's `DialBegin` and `DialEnd` (only built when someone listens to channel events):
/// the dialed legs are remembered on the caller until the outcome is known.
mod dial_events {
    use crate::pbx::events::{ChanSnapshot, Event, Topic};
    use crate::pbx::Channel;

    const KEY: &str = "app_dial:dialed";

    pub fn begin(chan: &mut Channel, callee: &Channel, dialstring: &str) {
        if !chan.pbx.events.wants(Topic::Channel) {
            return;
        }
        let (caller, dest) = (ChanSnapshot::of(chan), ChanSnapshot::of(callee));
        let mut dialed: Vec<ChanSnapshot> = chan
            .datastores
            .get::<Vec<ChanSnapshot>>(KEY)
            .cloned()
            .unwrap_or_default();
        dialed.push(dest.clone());
        chan.datastores.insert(KEY, dialed);
        chan.pbx.events.publish(Event::DialBegin {
            caller: Some(caller),
            dest,
            dialstring: dialstring
                .split_once('/')
                .map_or(dialstring, |(_, r)| r)
                .to_string(),
        });
    }

    /// `winner` answered: ANSWER for it, CANCEL for the others.
    pub fn answered(chan: &mut Channel, winner: &str) {
        publish(chan, |d| {
            if d.channel == winner {
                "ANSWER"
            } else {
                "CANCEL"
            }
        });
    }

    /// Dial() ended without an answer: every leg gets DIALSTATUS.
    pub fn end(chan: &mut Channel) {
        let status = chan.vars.get("DIALSTATUS").unwrap_or("").to_string();
        publish(chan, |_| &status);
    }

    fn publish<'a>(chan: &mut Channel, status: impl Fn(&ChanSnapshot) -> &'a str) {
        let Some(dialed) = chan.datastores.get::<Vec<ChanSnapshot>>(KEY).cloned() else {
            return;
        };
        chan.datastores.remove(KEY);
        let caller = ChanSnapshot::of(chan);
        for d in dialed {
            chan.pbx.events.publish(Event::DialEnd {
                caller: Some(caller.clone()),
                status: status(&d).to_string(),
                dest: d,
            });
        }
    }
}
