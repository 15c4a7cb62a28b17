//! The applications that bridge a channel with one already in the PBX: Bridge() (core
//! features: the target is pulled out of its dialplan through the core's join jobs,
//! `ChannelShared::request_join`), BridgeWait() (app_bridgewait.so: named holding bridges
//! with participants and announcers) and BridgeAdd() (app_bridgeaddchan.so: join the
//! holding bridge another channel waits in).

use super::{args, App, AppResult};
use crate::pbx::bridge::{self, AbortOnDrop};
use crate::pbx::channel::{ChanEvent, ChannelShared};
use crate::pbx::media::{Frame, MediaHandle};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup, Pbx};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("features_bridge", "Bridge() of the core features").builtin(),
        register: |ctx: &ModuleContext| ctx.register_app(Arc::new(BridgeApp)),
    },
    Family {
        info: ModuleInfo::new("app_bridgewait.so", "Place the channel in a holding bridge"),
        register: |ctx: &ModuleContext| ctx.register_app(Arc::new(BridgeWait)),
    },
    Family {
        info: ModuleInfo::new("app_bridgeaddchan.so", "Bridge Add Channel Application"),
        register: |ctx: &ModuleContext| ctx.register_app(Arc::new(BridgeAdd)),
    },
];

/// A channel by name, name prefix or unique id (Asterisk's `ast_channel_get_by_name_prefix`).
fn find_channel(pbx: &Pbx, want: &str) -> Option<Arc<ChannelShared>> {
    if let Some(c) = pbx.channels.get(want) {
        return Some(c);
    }
    let w = want.to_ascii_lowercase();
    let all = pbx.channels.list();
    all.iter()
        .find(|c| c.name.to_ascii_lowercase().starts_with(&w))
        .or_else(|| all.iter().find(|c| c.uniqueid == want))
        .cloned()
}

/// What the bridged party does after Bridge().
enum After {
    Hangup,
    Continue,
    Goto(String, String, i32),
}

/// The target's side, sent back by its join job.
struct Joined {
    name: String,
    shared: Arc<ChannelShared>,
    media: Option<MediaHandle>,
}

/// Pull `target` out of its dialplan; it waits, bridged to us, until `done` says what it
/// does next. `None` when it cannot be reached (it runs no dialplan).
async fn pull(
    target: &Arc<ChannelShared>,
    bridger: String,
    noanswer: bool,
) -> Option<(Joined, oneshot::Sender<After>)> {
    if !target.snapshot.lock().in_pbx {
        return None;
    }
    let (tx, rx) = oneshot::channel::<Joined>();
    let (done_tx, done_rx) = oneshot::channel::<After>();
    let job: crate::pbx::channel::JoinJob = Box::new(move |t: &mut Channel| {
        Box::pin(async move {
            let skip_answer =
                noanswer || t.get_var("BRIDGE_NOANSWER").is_some_and(|v| !v.is_empty());
            if !t.is_up() && !skip_answer {
                t.answer();
            }
            t.stop_background();
            let _ = tx.send(Joined {
                name: t.name().to_string(),
                shared: t.shared.clone(),
                media: t.media.clone(),
            });
            t.bridged = Some(bridger);
            t.publish("Bridge", "");
            let after = done_rx.await.unwrap_or(After::Hangup);
            t.bridged = None;
            match after {
                After::Hangup => false,
                After::Continue => true,
                After::Goto(c, e, p) => {
                    t.goto(&c, &e, p);
                    true
                }
            }
        })
    });
    if !target.request_join(job) {
        return None;
    }
    let j = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .ok()?
        .ok()?;
    Some((j, done_tx))
}

struct BridgeApp;

#[async_trait]
impl App for BridgeApp {
    app_meta!(
        "Bridge",
        "Bridge two channels.",
        "Bridge(channel[,options])",
        "The current channel is bridged to the channel identified by the channel name, channel name prefix, or channel uniqueid; that channel leaves what its dialplan runs. BRIDGERESULT is SUCCESS, FAILURE, LOOP, NONEXISTENT. Options: p (play a courtesy tone to the bridged channel), F([context^extension^]priority) (when the bridger hangs up, the bridged party continues there; without argument the next priority of the bridger's extension), x (the bridged party hangs up after the bridge instead of continuing its dialplan), n (do not answer), S(x) (hang up x seconds after the bridge starts), L(x[:y][:z]) (limit to x ms). Without F or x the bridged party continues its dialplan at its next priority. The DTMF features (h, H, k, K, t, T, w, W) are not supported."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let want = args::nth(&a, 0).trim().to_string();
        if want.is_empty() {
            chan.pbx
                .warning("features.c: Bridge require at least 1 argument specifying the other end of the bridge");
            return Err(Hangup);
        }
        let opts = args::options(args::nth(&a, 1));
        let pbx = chan.pbx.clone();
        let Some(target) = find_channel(&pbx, &want) else {
            pbx.warning(&format!(
                "features.c: Channel {want} not found -- aborting bridge."
            ));
            chan.vars.set("BRIDGERESULT", "NONEXISTENT");
            return Ok(());
        };
        if Arc::ptr_eq(&target, &chan.shared) {
            pbx.warning(&format!(
                "features.c: Unable to bridge channel {} with itself",
                chan.name()
            ));
            chan.vars.set("BRIDGERESULT", "LOOP");
            return Ok(());
        }
        let noanswer = opts.contains_key(&'n');
        if !chan.is_up() && !noanswer {
            chan.answer();
        }
        let Some((j, done)) = pull(&target, chan.name().to_string(), noanswer).await else {
            pbx.warning(&format!(
                "features.c: Unable to bridge channel {} with {want}: it runs no dialplan",
                chan.name()
            ));
            chan.vars.set("BRIDGERESULT", "FAILURE");
            return Ok(());
        };
        pbx.verbose_line(
            3,
            &format!("Channel {} joined bridge with {}", chan.name(), j.name),
        );
        if opts.contains_key(&'p') {
            if let Some(m) = &j.media {
                courtesy_tone(m);
            }
        }
        chan.vars.set("BRIDGERESULT", "SUCCESS");
        let limit = opts
            .get(&'S')
            .and_then(|v| v.as_deref()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .or_else(|| {
                opts.get(&'L')
                    .and_then(|v| v.as_deref()?.split(':').next()?.trim().parse::<u64>().ok())
                    .map(Duration::from_millis)
            });
        chan.bridged = Some(j.name.clone());
        let mine = chan.shared.clone();
        let ended = bridge::relay_until(chan.media.clone(), j.media.clone(), async {
            let timer = async {
                match limit {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = mine.hungup() => Some(bridge::Ended::A),
                _ = j.shared.hungup() => Some(bridge::Ended::B),
                _ = timer => None,
            }
        })
        .await;
        chan.bridged = None;
        let after = if opts.contains_key(&'x') {
            After::Hangup
        } else if let Some(f) = opts.get(&'F') {
            match f.as_deref().filter(|f| !f.is_empty()) {
                Some(spec) => {
                    let p: Vec<&str> = spec.split('^').collect();
                    let (c, e, pr) = match p.as_slice() {
                        [pr] => (chan.context.clone(), chan.exten.clone(), *pr),
                        [e, pr] => (chan.context.clone(), e.to_string(), *pr),
                        [c, e, pr, ..] => (c.to_string(), e.to_string(), *pr),
                        [] => (chan.context.clone(), chan.exten.clone(), "1"),
                    };
                    After::Goto(c, e, pr.trim().parse().unwrap_or(1))
                }
                None => After::Goto(chan.context.clone(), chan.exten.clone(), chan.priority + 1),
            }
        } else {
            After::Continue
        };
        match ended {
            Some(bridge::Ended::B) => {
                let _ = done.send(After::Hangup);
                Ok(())
            }
            Some(bridge::Ended::A) => {
                let _ = done.send(after);
                Err(Hangup)
            }
            None => {
                // S()/L(): the time is up; both hang up, as Asterisk's duration limit.
                let _ = done.send(After::Hangup);
                Err(Hangup)
            }
        }
    }
}

/// A short courtesy tone (200 ms of 440 Hz) to the bridged party.
fn courtesy_tone(to: &MediaHandle) {
    for k in 0..10 {
        let f: Vec<i16> = (0..160)
            .map(|i| {
                let t = f64::from(k * 160 + i) / 8000.0;
                (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect();
        to.to_far.push_lossy(Frame::voice(f));
    }
}

/// A named holding bridge.
#[derive(Default)]
struct Holding {
    /// Participants: name → (shared, media).
    members: HashMap<String, (Arc<ChannelShared>, Option<MediaHandle>)>,
    /// Announcers present (participants' entertainment is suspended meanwhile).
    announcers: watch::Sender<usize>,
}

/// Every holding bridge by name (`default` when unnamed).
#[derive(Default)]
pub struct HoldingBridges(Mutex<HashMap<String, Arc<Mutex<Holding>>>>);

fn holding(pbx: &Pbx, name: &str) -> Arc<Mutex<Holding>> {
    let all = pbx
        .services
        .get_or_insert_with("app_bridgewait.so", HoldingBridges::default);
    let mut g = all.0.lock();
    g.entry(name.to_string()).or_default().clone()
}

/// The holding bridge `chan` waits in, if any.
fn holding_of(pbx: &Pbx, chan: &str) -> Option<String> {
    let all = pbx.service::<HoldingBridges>()?;
    let g = all.0.lock();
    g.iter()
        .find(|(_, h)| h.lock().members.contains_key(chan))
        .map(|(n, _)| n.clone())
}

/// Entertainment while on hold (`e(…)`): the first letter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entertain {
    Music,
    Ringing,
    Silence,
    None,
}

/// Wait in holding bridge `name` as a participant or announcer for `limit` (forever when
/// `None`): `Ok` when the time ran out (the dialplan continues), `Err` on hangup.
async fn wait_in(
    chan: &mut Channel,
    name: &str,
    announcer: bool,
    ent: Entertain,
    class: &str,
    limit: Option<Duration>,
) -> AppResult {
    let pbx = chan.pbx.clone();
    let h = holding(&pbx, name);
    let me = chan.name().to_string();
    let mut announcers = {
        let mut g = h.lock();
        if announcer {
            g.announcers.send_modify(|n| *n += 1);
        } else {
            g.members
                .insert(me.clone(), (chan.shared.clone(), chan.media.clone()));
        }
        g.announcers.subscribe()
    };
    chan.publish("BridgeWait", name);
    pbx.verbose_line(
        3,
        &format!("Channel {me} joined 'holding' base-bridge <{name}>"),
    );
    let shared = chan.shared.clone();
    let timer = async {
        match limit {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timer);
    let res = if announcer {
        // The announcer's audio goes to every participant.
        let from = chan.media.as_ref().map(|m| m.from_far.clone());
        loop {
            let next = async {
                match &from {
                    Some(q) => q.pop().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                f = next => {
                    let Some(f) = f else { break Err(Hangup) };
                    let targets: Vec<Arc<crate::pbx::media::FrameQueue>> = h.lock().members.values().filter_map(|(_, m)| m.as_ref().map(|m| m.to_far.clone())).collect();
                    for t in targets {
                        t.push_lossy(f.clone());
                    }
                }
                _ = shared.hungup() => break Err(Hangup),
                _ = &mut timer => break Ok(()),
            }
        }
    } else {
        if ent == Entertain::Ringing {
            chan.indicate(ChanEvent::Ringing);
        }
        let mut music: Option<AbortOnDrop> = None;
        loop {
            let suspended = *announcers.borrow() > 0;
            if ent == Entertain::Music && !suspended && music.is_none() {
                if let Some(m) = &chan.media {
                    music = crate::pbx::hold::start(&pbx, class, m.to_far.clone()).await;
                }
            } else if suspended && music.is_some() {
                music = None;
                if let Some(m) = &chan.media {
                    m.to_far.clear();
                }
            }
            tokio::select! {
                _ = shared.hungup() => break Err(Hangup),
                _ = &mut timer => break Ok(()),
                r = announcers.changed() => if r.is_err() { break Err(Hangup) },
            }
        }
    };
    {
        let mut g = h.lock();
        if announcer {
            g.announcers.send_modify(|n| *n = n.saturating_sub(1));
        } else {
            g.members.remove(&me);
        }
    }
    if let Some(m) = &chan.media {
        m.to_far.clear();
    }
    pbx.verbose_line(
        3,
        &format!("Channel {me} left 'holding' base-bridge <{name}>"),
    );
    res
}

struct BridgeWait;

#[async_trait]
impl App for BridgeWait {
    app_meta!(
        "BridgeWait",
        "Put a call into the holding bridge.",
        "BridgeWait([name[,role[,options]]])",
        "This application places the incoming channel into a holding bridge (name: default when not given). The channel waits there until some event removes it (Bridge() from another channel, a hangup, the S timeout). role: participant (default: on hold) or announcer (its audio goes to the participants; while an announcer is present their holding is suspended). Options: m(class) (music on hold class), e(m|r|s|h|n) (entertainment: music (default), ringing, silence, hold (as music), none), S(duration) (leave after duration seconds and continue the dialplan), n (do not answer)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let name = match args::nth(&a, 0).trim() {
            "" => "default",
            n => n,
        }
        .to_string();
        let role = args::nth(&a, 1).trim();
        let announcer = match role {
            "" | "participant" => false,
            "announcer" => true,
            other => {
                chan.pbx.error(&format!(
                    "app_bridgewait.c: Requested waitbridge role '{other}' is invalid."
                ));
                return Err(Hangup);
            }
        };
        let opts = args::options(args::nth(&a, 2));
        let ent = match opts
            .get(&'e')
            .and_then(|v| v.as_deref())
            .and_then(|v| v.chars().next())
        {
            None | Some('m') | Some('h') => Entertain::Music,
            Some('r') => Entertain::Ringing,
            Some('s') => Entertain::Silence,
            Some('n') => Entertain::None,
            Some(c) => {
                chan.pbx.error(&format!(
                    "app_bridgewait.c: Invalid value for the e option: '{c}'"
                ));
                return Err(Hangup);
            }
        };
        let class = opts.get(&'m').and_then(|v| v.clone()).unwrap_or_default();
        let limit = match opts.get(&'S') {
            Some(v) => match v.as_deref().unwrap_or("").trim().parse::<u64>() {
                Ok(n) if n > 0 => Some(Duration::from_secs(n)),
                _ => {
                    chan.pbx.error("app_bridgewait.c: Duration value provided for the timeout ('S') option must be greater than 0");
                    return Err(Hangup);
                }
            },
            None => None,
        };
        if !chan.is_up() && !opts.contains_key(&'n') {
            chan.answer();
        }
        wait_in(chan, &name, announcer, ent, &class, limit).await
    }
}

struct BridgeAdd;

#[async_trait]
impl App for BridgeAdd {
    app_meta!(
        "BridgeAdd",
        "Join a bridge that contains the specified channel.",
        "BridgeAdd(channel)",
        "The current channel joins the bridge containing the channel identified by the channel name, channel name prefix, or channel uniqueid. BRIDGERESULT is SUCCESS, FAILURE, LOOP, NONEXISTENT. In ferrisk the bridges another channel can be joined are the holding bridges of BridgeWait() (the current channel joins as a participant)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let want = data.trim();
        if want.is_empty() {
            chan.pbx
                .warning("app_bridgeaddchan.c: BridgeAdd requires an argument (channel name)");
            return Err(Hangup);
        }
        let pbx = chan.pbx.clone();
        let Some(target) = find_channel(&pbx, want) else {
            pbx.warning(&format!("app_bridgeaddchan.c: Channel {want} not found"));
            chan.vars.set("BRIDGERESULT", "NONEXISTENT");
            return Ok(());
        };
        if Arc::ptr_eq(&target, &chan.shared) {
            chan.vars.set("BRIDGERESULT", "LOOP");
            return Ok(());
        }
        let Some(name) = holding_of(&pbx, &target.name) else {
            pbx.warning(&format!(
                "app_bridgeaddchan.c: Channel {} is not in a bridge",
                target.name
            ));
            chan.vars.set("BRIDGERESULT", "FAILURE");
            return Ok(());
        };
        chan.vars.set("BRIDGERESULT", "SUCCESS");
        if !chan.is_up() {
            chan.answer();
        }
        wait_in(chan, &name, false, Entertain::Music, "", None).await
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::media::Frame;
    use crate::pbx::tests::{get, pbx_with};
    use crate::res::parking::tests::{crosses, spawn_chan, until};
    use std::time::Duration;

    /// Bridge() pulls a channel out of Wait(); the two talk; when the bridger hangs up
    /// the other continues at its next priority; results for missing and self.
    #[tokio::test]
    async fn bridge_joins_a_channel_running_the_dialplan() {
        let pbx = pbx_with(
            "[t]\nexten => w,1,Answer()\n same => n,Wait(30)\n same => n,Set(AFTER=1)\nexten => b,1,Bridge(SIP/200)\nexten => none,1,Bridge(SIP/nobody)\n same => n,Bridge(SIP/300)\n",
        );
        let (waiter, wm, _ws) = spawn_chan(&pbx, "SIP/200-00000001", "w");
        until("waiting", || pbx.channels.get("SIP/200-00000001").is_some()).await;
        let (bridger, bm, bs) = spawn_chan(&pbx, "SIP/100-00000002", "b");
        crosses(&bm, &wm, 1).await;
        crosses(&wm, &bm, 2).await;
        bs.request_hangup(16);
        let bv = bridger.await.expect("bridger");
        assert_eq!(get(&bv, "BRIDGERESULT"), Some("SUCCESS"));
        let wv = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("continues")
            .expect("task");
        assert_eq!(get(&wv, "AFTER"), Some("1"));

        let (t, _m, _s) = spawn_chan(&pbx, "SIP/300-00000003", "none");
        let v = tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("ends")
            .expect("task");
        assert_eq!(get(&v, "BRIDGERESULT"), Some("LOOP"));
    }

    /// BridgeWait(): an announcer's audio reaches the participants; S() ends the wait;
    /// BridgeAdd() joins the holding bridge of a channel in it.
    #[tokio::test]
    async fn holding_bridge_participants_hear_the_announcer() {
        let pbx = pbx_with(
            "[t]\nexten => p,1,BridgeWait(hold,participant,e(s)S(2))\n same => n,Set(LEFT=1)\nexten => a,1,BridgeWait(hold,announcer)\nexten => add,1,BridgeAdd(SIP/p1)\nexten => bad,1,BridgeWait(hold,boss)\n",
        );
        let (p, pm, _ps) = spawn_chan(&pbx, "SIP/p1-00000001", "p");
        until("participant in", || {
            super::holding_of(&pbx, "SIP/p1-00000001").is_some()
        })
        .await;
        let (add, am2, as2) = spawn_chan(&pbx, "SIP/p2-00000002", "add");
        until("added", || {
            super::holding_of(&pbx, "SIP/p2-00000002").is_some()
        })
        .await;
        let (a, am, as_) = spawn_chan(&pbx, "SIP/ann-00000003", "a");
        // The announcer speaks: both participants hear it.
        for q in [&pm, &am2] {
            let mut heard = false;
            for _ in 0..300 {
                am.from_far.push_lossy(Frame::voice(vec![9; 160]));
                if let Ok(Some(Frame::Voice(v))) =
                    tokio::time::timeout(Duration::from_millis(20), q.to_far.pop()).await
                {
                    if v[0] == 9 {
                        heard = true;
                        break;
                    }
                }
            }
            assert!(heard, "a participant hears the announcer");
        }
        let v = tokio::time::timeout(Duration::from_secs(10), p)
            .await
            .expect("S(2) ends the wait")
            .expect("task");
        assert_eq!(get(&v, "LEFT"), Some("1"));
        as_.request_hangup(16);
        as2.request_hangup(16);
        let _ = a.await;
        let av = add.await.expect("add");
        assert_eq!(get(&av, "BRIDGERESULT"), Some("SUCCESS"));
        let (b, _m, _s) = spawn_chan(&pbx, "SIP/x-00000004", "bad");
        assert!(tokio::time::timeout(Duration::from_secs(5), b)
            .await
            .is_ok());
    }
}
