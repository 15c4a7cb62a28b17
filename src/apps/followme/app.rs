//! `FollowMe(followmeid[,options])`: ring a profile's numbers step by step (each step's
//! extensions together, through `Local/exten@context` channels) while the caller hears
//! music on hold; a callee who answers hears "incoming call from" and the caller's
//! recorded name (or "you have an incoming call"), then the options prompt, and presses
//! `takecall` (1) to take the call or `declinecall` (2) to decline it. The first to accept
//! is bridged with the caller (Dial's bridge). When every step ran out the caller goes on
//! in the dialplan.
//!
//! Each answered callee is prompted by a task of its own (it owns the callee's channel
//! meanwhile and hands it back with its verdict), so any number of callees can be asked at
//! once while the caller's loop watches the legs, the caller and the step's timeout.

use super::config::{Number, Profile, Prompts};
use super::Profiles;
use crate::apps::dial::{self, Bridged, Src};
use crate::apps::dialfeatures::Options;
use crate::apps::record::{self, RecordOpts};
use crate::apps::{args, flow, playback, waitexten, App, AppResult};
use crate::channels;
use crate::pbx::bridge::AbortOnDrop;
use crate::pbx::channel::{cause, ChanEvent, PartyId};
use crate::pbx::exec;
use crate::pbx::module::ModuleContext;
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub fn register(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(FollowMe));
}

struct FollowMe;

#[async_trait]
impl App for FollowMe {
    app_meta!(
        "FollowMe",
        "Find-Me/Follow-Me application.",
        "FollowMe(followmeid[,options])",
        "This application performs Find-Me/Follow-Me functionality for the caller as defined in the profile matching the followmeid parameter in followme.conf. If the specified followmeid profile doesn't exist in followme.conf, execution will be returned to the dialplan and call execution will continue at the next priority. The numbers of a step are rung together through Local channels in the profile's context; a callee who answers hears who is calling and presses takecall (1) to accept or declinecall (2) to decline; the first to accept is bridged with the caller. Options: a (record the caller's name so it can be announced to the callee on each step), B(context^exten^priority[(arg1^...)]) (Gosub on the calling channel before the outgoing calls), b(context^exten^priority[(arg1^...)]) (Gosub on each new outgoing channel before it is called), d (disable the 'Please hold while we try to connect your call' announcement), I (ignore connected line updates), l (disable local call optimization: accepted, ferrisk never optimises Local channels away), N (don't answer the incoming call until we're ready to connect the caller or give up; ignored if the call is already answered, and 'a' and 's' are then ignored while 'd' is implied), n (playback the unreachable status message if we've run out of steps or the callee has elected not to be reachable), s (playback the incoming status message prior to starting the follow-me steps). Sets ANSWEREDTIME and DIALEDTIME after a bridged call. Returns -1 on hangup."
    );

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        followme(chan, data).await
    }
}

/// What one FollowMe() call runs with, copied out of the profile.
struct Run {
    profile: Profile,
    /// `featuredigittimeout`.
    digit_timeout: Duration,
    opts: Options,
    /// The caller's recorded name (`a`), without its extension.
    namerec: Option<String>,
}

async fn followme(chan: &mut Channel, data: &str) -> AppResult {
    let pbx = chan.pbx.clone();
    let a = args::split(data, ',');
    let id = args::nth(&a, 0).trim().to_string();
    if id.is_empty() {
        pbx.warning("app_followme.c: FollowMe requires an argument (followmeid)");
        return Err(Hangup);
    }
    let found = pbx.service::<Profiles>().and_then(|p| {
        let c = p.conf.read();
        c.profile(&id)
            .cloned()
            .map(|f| (f, c.general.featuredigittimeout))
    });
    let Some((profile, digit_timeout)) = found else {
        pbx.warning(&format!(
            "app_followme.c: Profile requested, {id}, not found in the configuration."
        ));
        return Ok(());
    };
    let opts = args::options(args::nth(&a, 1));
    let mut run = Run {
        profile,
        digit_timeout: Duration::from_millis(digit_timeout),
        opts,
        namerec: None,
    };
    // B(): a Gosub on the caller before anything is dialed.
    if let Some(Some(spec)) = run.opts.get(&'B').cloned() {
        predial(chan, &spec).await;
    }
    // N is forgotten when the call is already up.
    let noanswer = run.opts.contains_key(&'N') && !chan.is_up();
    let mut name = NameFile(None);
    let mut moh: Option<AbortOnDrop> = None;
    if noanswer {
        chan.indicate(ChanEvent::Ringing);
    } else {
        chan.answer();
        let p = run.profile.prompts.clone();
        if run.opts.contains_key(&'s') {
            playback::stream(chan, &p.status, "").await?;
        }
        if run.opts.contains_key(&'a') && p.enable_callee_prompt {
            name.0 = record_name(chan).await?;
            run.namerec = name.0.as_ref().map(|p| p.display().to_string());
        }
        if !run.opts.contains_key(&'d') {
            playback::stream(chan, &p.pls_hold, "").await?;
        }
        if let Some(tx) = chan.media.as_ref().map(|m| m.to_far.clone()) {
            chan.stop_background();
            moh = crate::pbx::hold::start(&pbx, &run.profile.musicclass, tx).await;
        }
    }

    let found = find(chan, &run).await?;
    let stop_waiting = |chan: &mut Channel, moh: &mut Option<AbortOnDrop>| {
        if noanswer {
            chan.answer();
        } else if moh.take().is_some() {
            if let Some(m) = &chan.media {
                m.to_far.clear();
            }
        }
    };
    let Some(w) = found else {
        stop_waiting(chan, &mut moh);
        if run.opts.contains_key(&'n') {
            playback::stream(chan, &run.profile.prompts.sorry, "").await?;
        }
        return Ok(());
    };
    let Winner {
        mut callee,
        rx,
        tx,
        src,
        connected,
    } = w;
    let connecting = run.profile.prompts.connecting.clone();
    if !connecting.is_empty() {
        // The caller keeps its music meanwhile; a callee who hangs up ends the bridge.
        let _ = playback::stream(&mut callee, &connecting, "").await;
    }
    stop_waiting(chan, &mut moh);
    chan.stop_background();
    if let Some(p) = connected {
        chan.connected = Some(Box::new(p));
    }
    chan.vars.set("DIALEDPEERNAME", callee.name());
    chan.cdr.dstchannel = callee.name().to_string();
    // As app_followme's bridge: the callee may transfer, both may one-touch record.
    let bridge_opts: Options = [('t', None), ('w', None), ('W', None)]
        .into_iter()
        .collect();
    let end = dial::bridge_call(chan, callee, rx, tx, src, ("FollowMe", data), &bridge_opts).await;
    let answered = chan.answered_at.map_or(0, |t| t.elapsed().as_secs());
    chan.vars.set("ANSWEREDTIME", answered.to_string());
    let dialed = chan.shared.created.elapsed().as_secs();
    chan.vars.set("DIALEDTIME", dialed.to_string());
    match end {
        Bridged::Transferred => Ok(()),
        Bridged::CallerGone | Bridged::CalleeGone => Err(Hangup),
    }
}

/// The recorded name, removed however FollowMe() ends (on the blocking pool).
struct NameFile(Option<PathBuf>);

impl Drop for NameFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let f = PathBuf::from(format!("{}.sln", p.display()));
            tokio::task::spawn_blocking(move || {
                let _ = std::fs::remove_file(f);
            });
        }
    }
}

/// `a`: "say your name" and up to 5 s of it into `astspooldir/followme.<uniqueid>.sln`.
/// `None` when nothing was recorded.
async fn record_name(chan: &mut Channel) -> Result<Option<PathBuf>, Hangup> {
    playback::stream(chan, "vm-rec-name", "").await?;
    playback::stream(chan, "beep", "").await?;
    let base = chan
        .pbx
        .settings
        .astspooldir
        .join(format!("followme.{}", chan.uniqueid()));
    let file = PathBuf::from(format!("{}.sln", base.display()));
    let o = RecordOpts {
        terminator: Some('#'),
        max: Some(Duration::from_secs(5)),
        silence: Some(Duration::from_secs(5)),
        ..RecordOpts::default()
    };
    match record::record_file(chan, &file, "sln", &o).await {
        Ok(r) if r.ended == record::Ended::Hangup => {
            drop(NameFile(Some(base)));
            Err(Hangup)
        }
        Ok(r) if r.samples > 0 => Ok(Some(base)),
        Ok(_) => {
            drop(NameFile(Some(base)));
            Ok(None)
        }
        Err(e) => {
            chan.pbx.warning(&format!(
                "app_followme.c: Unable to record the name to {}: {e}",
                file.display()
            ));
            Ok(None)
        }
    }
}

/// `B()`/`b()`: `[[context^]exten^]priority[(arg1^…)]` run as a Gosub on `chan`.
async fn predial(chan: &mut Channel, spec: &str) {
    let spec = spec.replace('^', ",");
    let (loc, sub_args) = flow::split_sub(spec.trim());
    let Some(t) = flow::resolve_goto(chan, loc) else {
        return;
    };
    exec::run_sub(chan, &t.context, &t.exten, t.priority, &sub_args).await;
}

/// Where a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ringing,
    /// Answered; its prompting task holds the channel.
    Asking,
    Gone,
}

struct Leg {
    /// `None` while the prompting task holds it, or once gone.
    chan: Option<Channel>,
    state: State,
    connected: Option<PartyId>,
}

/// A callee's answer to the options prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Accept,
    Decline,
    /// Hung up, or a prompt could not be played.
    Gone,
}

/// The callee who took the call, with its leg's events (for the bridge).
struct Winner {
    callee: Channel,
    rx: mpsc::UnboundedReceiver<(Src, ChanEvent)>,
    tx: mpsc::UnboundedSender<(Src, ChanEvent)>,
    src: Src,
    connected: Option<PartyId>,
}

/// Every leg of one FollowMe() call (`findmeexec`): dropping it hangs up the legs still
/// ringing or being asked.
struct Finder {
    legs: Vec<Leg>,
    tx: mpsc::UnboundedSender<(Src, ChanEvent)>,
    rx: mpsc::UnboundedReceiver<(Src, ChanEvent)>,
    vtx: mpsc::UnboundedSender<(usize, Verdict, Box<Channel>)>,
    vrx: mpsc::UnboundedReceiver<(usize, Verdict, Box<Channel>)>,
    /// The prompting tasks (aborting one drops, so hangs up, its channel).
    tasks: Vec<AbortOnDrop>,
}

impl Finder {
    fn drop_leg(&mut self, i: usize, c: i32) {
        let l = &mut self.legs[i];
        l.state = State::Gone;
        if let Some(mut ch) = l.chan.take() {
            ch.hangup_cause = c;
            ch.destroy();
        }
    }
    fn live(&self) -> bool {
        self.legs.iter().any(|l| l.state != State::Gone)
    }
}

async fn find(chan: &mut Channel, run: &Run) -> Result<Option<Winner>, Hangup> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (vtx, vrx) = mpsc::unbounded_channel();
    let mut f = Finder {
        legs: Vec::new(),
        tx,
        rx,
        vtx,
        vrx,
        tasks: Vec::new(),
    };
    for order in 1u32.. {
        let Some(step) = run.profile.step(order) else {
            chan.pbx.verbose_line(3, "No more steps left.");
            break;
        };
        if call_step(chan, run, step, &mut f).await == 0 {
            continue;
        }
        if let Some(i) = wait_step(chan, run, step, &mut f).await? {
            let callee = f.legs[i].chan.take().expect("the winner's channel");
            let connected = f.legs[i].connected.take();
            f.legs[i].state = State::Gone;
            for j in 0..f.legs.len() {
                f.drop_leg(j, cause::NORMAL_CLEARING);
            }
            f.tasks.clear();
            return Ok(Some(Winner {
                callee,
                rx: std::mem::replace(&mut f.rx, mpsc::unbounded_channel().1),
                tx: f.tx.clone(),
                src: Src { idx: i, gen: 0 },
                connected,
            }));
        }
    }
    Ok(None)
}

/// Start the calls of one step; how many were started.
async fn call_step(chan: &mut Channel, run: &Run, step: &Number, f: &mut Finder) -> usize {
    let pbx = chan.pbx.clone();
    let context = if run.profile.context.is_empty() {
        "default".to_string()
    } else {
        run.profile.context.clone()
    };
    let flag = if run.opts.contains_key(&'l') {
        "n"
    } else {
        "m"
    };
    let cid = chan.caller.num.clone();
    let mut started = 0;
    for exten in step.extens() {
        if !pbx
            .dialplan()
            .exists(&context, exten, 1, cid.as_deref(), Utc::now())
        {
            pbx.error(&format!(
                "app_followme.c: Extension '{exten}@{context}' doesn't exist"
            ));
            continue;
        }
        let dialarg = if run.profile.context.is_empty() {
            format!("{exten}/{flag}")
        } else {
            format!("{exten}@{context}/{flag}")
        };
        let dest = format!("Local/{dialarg}");
        channels::prepare(&pbx, &dest).await;
        let out = match channels::request(&pbx, &dest, Some(chan)) {
            Ok(o) => o,
            Err(e) => {
                pbx.warning(&format!(
                    "app_followme.c: Unable to allocate a channel for Local/{dialarg} cause: {}",
                    e.msg
                ));
                continue;
            }
        };
        let mut callee = out.chan;
        callee.cdr.disabled = true;
        dial::outgoing_line(&mut callee, chan);
        if let Some(Some(spec)) = run.opts.get(&'b') {
            predial(&mut callee, spec).await;
        }
        let src = Src {
            idx: f.legs.len(),
            gen: 0,
        };
        if let Some(erx) = callee.events.take() {
            dial::forward_events(erx, f.tx.clone(), src);
        }
        pbx.verbose_line(3, &format!("calling Local/{dialarg}"));
        (out.call)();
        f.legs.push(Leg {
            chan: Some(callee),
            state: State::Ringing,
            connected: None,
        });
        started += 1;
    }
    started
}

/// What woke the step's loop.
enum Got {
    Event(Option<(Src, ChanEvent)>),
    Verdict(Option<(usize, Verdict, Box<Channel>)>),
    Caller(Result<(), Hangup>),
    Timeout,
}

/// Wait for a callee to accept (`wait_for_winner`): `Some(leg)` when one did, `None` when
/// the step timed out (the legs still ringing are hung up; callees being asked go on into
/// the next step) or no leg is left.
async fn wait_step(
    chan: &mut Channel,
    run: &Run,
    step: &Number,
    f: &mut Finder,
) -> Result<Option<usize>, Hangup> {
    let pbx = chan.pbx.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(step.timeout);
    loop {
        if !f.live() {
            pbx.verbose_line(3, "No live channels left for this step.");
            return Ok(None);
        }
        let got = tokio::select! {
            ev = f.rx.recv() => Got::Event(ev),
            v = f.vrx.recv() => Got::Verdict(v),
            r = chan.read_frame(None) => Got::Caller(r.map(|_| ())),
            _ = tokio::time::sleep_until(deadline) => Got::Timeout,
        };
        match got {
            Got::Caller(Ok(())) => {}
            Got::Caller(Err(Hangup)) => {
                pbx.verbose_line(3, "The calling channel hungup. Need to drop everyone.");
                return Err(Hangup);
            }
            Got::Timeout => {
                pbx.verbose_line(
                    3,
                    "We've hit our timeout for this step. Dropping unanswered calls and starting the next step.",
                );
                for i in 0..f.legs.len() {
                    if f.legs[i].state == State::Ringing {
                        f.drop_leg(i, cause::NO_ANSWER);
                    }
                }
                return Ok(None);
            }
            Got::Verdict(None) | Got::Event(None) => return Ok(None),
            Got::Verdict(Some((i, v, mut callee))) => {
                if f.legs[i].state != State::Asking {
                    callee.destroy();
                    continue;
                }
                match v {
                    Verdict::Accept => {
                        f.legs[i].chan = Some(*callee);
                        return Ok(Some(i));
                    }
                    Verdict::Decline | Verdict::Gone => {
                        f.legs[i].chan = Some(*callee);
                        f.drop_leg(i, cause::NORMAL_CLEARING);
                    }
                }
            }
            Got::Event(Some((src, ev))) => {
                if let Some(w) = leg_event(chan, run, f, src.idx, ev) {
                    return Ok(Some(w));
                }
            }
        }
    }
}

/// One event of leg `i`; `Some(i)` when it answered and nobody has to be asked.
fn leg_event(
    chan: &mut Channel,
    run: &Run,
    f: &mut Finder,
    i: usize,
    ev: ChanEvent,
) -> Option<usize> {
    let pbx = chan.pbx.clone();
    let leg = f.legs.get_mut(i)?;
    if leg.state == State::Gone {
        return None;
    }
    let name = leg
        .chan
        .as_ref()
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    match ev {
        ChanEvent::Answer if leg.state == State::Ringing => {
            pbx.verbose_line(3, &format!("{name} answered {}", chan.name()));
            let mut callee = leg.chan.take()?;
            callee.answer();
            let p = &run.profile.prompts;
            if !p.enable_callee_prompt {
                leg.chan = Some(callee);
                return Some(i);
            }
            let first = if run.namerec.is_some() {
                &p.call_from
            } else {
                &p.norecording
            };
            pbx.verbose_line(3, &format!("Starting playback of {first}"));
            leg.state = State::Asking;
            let ask = Ask {
                prompts: p.clone(),
                namerec: run.namerec.clone(),
                digit_timeout: run.digit_timeout,
            };
            let vtx = f.vtx.clone();
            let task = tokio::spawn(async move {
                let v = ask.run(&mut callee).await;
                let _ = vtx.send((i, v, Box::new(callee)));
            });
            f.tasks.push(AbortOnDrop(task));
        }
        ChanEvent::Answer => {}
        ChanEvent::Ringing => pbx.verbose_line(3, &format!("{name} is ringing")),
        ChanEvent::Progress => pbx.verbose_line(3, &format!("{name} is making progress")),
        ChanEvent::Busy => {
            pbx.verbose_line(3, &format!("{name} is busy"));
            f.drop_leg(i, cause::USER_BUSY);
        }
        ChanEvent::Congestion => {
            pbx.verbose_line(3, &format!("{name} is circuit-busy"));
            f.drop_leg(i, cause::NORMAL_CIRCUIT_CONGESTION);
        }
        ChanEvent::Hangup(c) => {
            if leg.state == State::Ringing {
                pbx.verbose_line(3, &format!("{name} received a hangup frame."));
                f.drop_leg(i, c);
            }
            // A callee being asked: its task sees the hang-up and reports it.
        }
        ChanEvent::Connected(p) => {
            if run.opts.contains_key(&'I') {
                pbx.verbose_line(3, &format!("Connected line update from {name} prevented."));
            } else {
                leg.connected = Some(p);
            }
        }
        // Redirections are masked from the caller, as app_followme does.
        ChanEvent::Forward(_) => f.drop_leg(i, cause::NORMAL_CLEARING),
        ChanEvent::Transfer(_) | ChanEvent::Transferred(_) => {}
    }
    None
}

/// Asking one callee (the states of app_followme's `findme_user`).
struct Ask {
    prompts: Prompts,
    namerec: Option<String>,
    digit_timeout: Duration,
}

/// The keys a callee may press.
const DIGITS: &str = "0123456789*#ABCD";

impl Ask {
    /// Who is calling, then the options prompt and the keys; the prompts start over when
    /// no decision came within `featuredigittimeout`.
    async fn run(&self, callee: &mut Channel) -> Verdict {
        self.ask(callee).await.unwrap_or(Verdict::Gone)
    }

    async fn ask(&self, callee: &mut Channel) -> Result<Verdict, Hangup> {
        let p = &self.prompts;
        loop {
            if let Some(name) = &self.namerec {
                if !self.play(callee, &p.call_from, "").await? {
                    return Ok(Verdict::Gone);
                }
                if playback::stream(callee, name, "").await? == playback::Played::Missing {
                    callee.pbx.notice(&format!(
                        "app_followme.c: <{}> Unable to playback {name}. Maybe the caller didn't record their name?",
                        callee.name()
                    ));
                }
            } else if !self.play(callee, &p.norecording, "").await? {
                return Ok(Verdict::Gone);
            }
            let mut yn = String::new();
            match playback::stream(callee, &p.options, DIGITS).await? {
                playback::Played::Missing => {
                    self.cannot_play(callee, &p.options);
                    return Ok(Verdict::Gone);
                }
                playback::Played::Digit(d) => yn.push(d),
                playback::Played::Done => {
                    callee.pbx.verbose_line(
                        3,
                        &format!(
                            "<{}> Playback of the next step file appears to be done.",
                            callee.name()
                        ),
                    );
                }
            }
            loop {
                if let Some(v) = decide(&yn, p) {
                    return Ok(v);
                }
                match waitexten::wait_digit(callee, self.digit_timeout).await? {
                    Some(d) => {
                        yn.push(d);
                        if yn.len() > 19 {
                            yn.remove(0);
                        }
                    }
                    None => {
                        callee.pbx.verbose_line(
                            3,
                            &format!(
                                "<{}> We've been waiting for digits longer than we should have.",
                                callee.name()
                            ),
                        );
                        break;
                    }
                }
            }
        }
    }

    /// Play a prompt the callee must hear; `false` (and a warning) when it cannot be.
    async fn play(&self, callee: &mut Channel, name: &str, breakon: &str) -> Result<bool, Hangup> {
        if playback::stream(callee, name, breakon).await? == playback::Played::Missing {
            self.cannot_play(callee, name);
            return Ok(false);
        }
        Ok(true)
    }

    fn cannot_play(&self, callee: &Channel, name: &str) {
        callee
            .pbx
            .warning(&format!("app_followme.c: Unable to playback {name}."));
    }
}

/// Whether the keys pressed so far end with the accept or the decline keys.
pub(super) fn decide(yn: &str, p: &Prompts) -> Option<Verdict> {
    let yn = yn.to_ascii_uppercase();
    if !p.takecall.is_empty() && yn.ends_with(&p.takecall) {
        Some(Verdict::Accept)
    } else if !p.declinecall.is_empty() && yn.ends_with(&p.declinecall) {
        Some(Verdict::Decline)
    } else {
        None
    }
}

#[cfg(test)]
pub(super) fn verdict_name(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Accept) => "accept",
        Some(Verdict::Decline) => "decline",
        Some(Verdict::Gone) => "gone",
        None => "none",
    }
}
