//! Broadcast() (`app_broadcast.so`): send this channel's audio to many live channels at
//! once (`w`), and/or hear them all combined (`s`). Built like ChanSpy
//! ([`super::chanspy`]): frame hooks add the broadcast to what each target hears (or, with
//! `r`, to what it says), taps copy what the targets say and hear into small lossy buffers
//! that a 20 ms clock sums for this channel. Never waits on a target.

use super::chanspy::{next_id, Attached, Whisper};
use super::{args, App, AppResult};
use crate::media::frame::{FrameTap, FRAME_SAMPLES, FRAME_TIME};
use crate::pbx::media::{Frame, FrameHook, FrameQueue, MediaHandle};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Pbx};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_broadcast.so", "Channel Audio Broadcasting"),
    register: register_app_broadcast,
}];

fn register_app_broadcast(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Broadcast));
}

/// Samples kept per source before the oldest are dropped (the `l` long queue: more).
const SHORT: usize = 8 * FRAME_SAMPLES;
const LONG: usize = 100 * FRAME_SAMPLES;

/// One stream of audio copied from a target, summed by the clock.
struct Source(Mutex<VecDeque<i16>>, usize);

impl Source {
    fn push(&self, s: &[i16]) {
        let mut b = self.0.lock();
        b.extend(s);
        let extra = b.len().saturating_sub(self.1);
        b.drain(..extra);
    }
}

/// Sum one frame from every source (missing samples are silence); `None` when all are
/// empty.
fn mix_sources(sources: &[Arc<Source>]) -> Option<Vec<i16>> {
    let mut out = vec![0i16; FRAME_SAMPLES];
    let mut any = false;
    for s in sources {
        let mut b = s.0.lock();
        if b.is_empty() {
            continue;
        }
        any = true;
        for o in out.iter_mut() {
            match b.pop_front() {
                Some(v) => *o = o.saturating_add(v),
                None => break,
            }
        }
    }
    any.then_some(out)
}

/// A live channel's media and bridged peer, by its full name.
fn live(
    pbx: &Pbx,
    name: &str,
) -> Option<(
    Arc<crate::pbx::channel::ChannelShared>,
    MediaHandle,
    Option<String>,
)> {
    let c = pbx.channels.get(name)?;
    let s = c.snapshot.lock();
    let m = s.media.clone()?;
    let peer = s.bridged.clone();
    drop(s);
    Some((c, m, peer))
}

struct Broadcast;

#[async_trait]
impl App for Broadcast {
    app_meta!(
        "Broadcast",
        "Transmit or receive audio to or from multiple channels simultaneously",
        "Broadcast([options,]channels)",
        "Broadcasts this channel's audio to the listed channels (full channel names, comma separated), or receives their audio combined. Options: b (barge: also broadcast to the channels the targets are bridged to), l (long frame queue), o (with s: only what the targets say, not what they hear), r (feed the broadcast into the targets' received audio instead, so their bridged peers hear it), s (receive the combined audio of the targets), w (broadcast the audio received on this channel to the targets). Runs until this channel hangs up or all targets have hung up."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 0));
        let has = |c: char| opts.contains_key(&c);
        let names: Vec<String> = a
            .iter()
            .skip(1)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let pbx = chan.pbx.clone();
        if names.is_empty() {
            pbx.warning("app_broadcast.c: Missing channels");
            return Err(crate::pbx::Hangup);
        }
        if !has('w') && !has('s') {
            pbx.warning(
                "app_broadcast.c: Broadcast requires at least one of the 'w' or 's' options",
            );
            return Err(crate::pbx::Hangup);
        }
        let cap = if has('l') { LONG } else { SHORT };
        let id = next_id();
        let mut att = Attached {
            id,
            taps: vec![],
            hooks: vec![],
        };
        let mut whispers: Vec<Arc<Whisper>> = Vec::new();
        let mut sources: Vec<Arc<Source>> = Vec::new();
        let mut targets = Vec::new();
        let inject = |q: &Arc<FrameQueue>, att: &mut Attached, ws: &mut Vec<Arc<Whisper>>| {
            let w = Arc::new(Whisper::default());
            let h = w.clone();
            q.add_hook(id, Arc::new(move |f| h.mix(f)) as FrameHook);
            att.hooks.push(q.clone());
            ws.push(w);
        };
        let copy = |q: &Arc<FrameQueue>, att: &mut Attached, srcs: &mut Vec<Arc<Source>>| {
            let s = Arc::new(Source(Mutex::new(VecDeque::new()), cap));
            let t = s.clone();
            q.add_tap(
                id,
                Arc::new(move |f: &Frame| {
                    if let Frame::Voice(v) = f {
                        t.push(v);
                    }
                }) as FrameTap,
            );
            att.taps.push(q.clone());
            srcs.push(s);
        };
        for name in &names {
            if name == chan.name() {
                pbx.warning(&format!(
                    "app_broadcast.c: Refusing to broadcast to ourself: {name}"
                ));
                continue;
            }
            let Some((shared, m, peer)) = live(&pbx, name) else {
                pbx.warning(&format!("app_broadcast.c: No such channel: {name}"));
                continue;
            };
            let peer = peer
                .filter(|_| has('b'))
                .and_then(|p| live(&pbx, &p))
                .map(|(_, pm, _)| pm);
            if has('w') || has('b') {
                let q = if has('r') { &m.from_far } else { &m.to_far };
                inject(q, &mut att, &mut whispers);
                if let (Some(pm), false) = (&peer, has('r')) {
                    inject(&pm.to_far, &mut att, &mut whispers);
                }
            }
            if has('s') {
                copy(&m.from_far, &mut att, &mut sources);
                if !has('o') {
                    copy(&m.to_far, &mut att, &mut sources);
                } else if let Some(pm) = &peer {
                    copy(&pm.from_far, &mut att, &mut sources);
                }
            }
            targets.push(shared);
        }
        if targets.is_empty() {
            return Ok(());
        }
        let my = chan.media.clone();
        let mut clock = tokio::time::interval(FRAME_TIME);
        loop {
            if targets.iter().all(|t| t.hangup_requested()) {
                break;
            }
            tokio::select! {
                f = chan.read_frame(Some(FRAME_TIME * 5)) => {
                    if let Some(Frame::Voice(v)) = f? {
                        for w in &whispers {
                            w.add(&v);
                        }
                    }
                }
                _ = clock.tick(), if !sources.is_empty() => {
                    if let (Some(out), Some(m)) = (mix_sources(&sources), &my) {
                        m.to_far.push_lossy(Frame::voice(out));
                    }
                }
            }
        }
        drop(att);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::channel::NullTech;
    use crate::pbx::media::NativeFormat;
    use std::time::Duration;

    fn live_chan(pbx: &Arc<Pbx>, name: &str) -> (Channel, MediaHandle) {
        let mut c = Channel::new(pbx, name.into(), Arc::new(NullTech));
        let m = MediaHandle::new(NativeFormat::Ulaw);
        c.media = Some(m.clone());
        c.answer();
        c.publish("Wait", "");
        (c, m)
    }

    #[test]
    fn sources_sum_with_silence_for_the_missing() {
        let a = Arc::new(Source(Mutex::new(VecDeque::new()), SHORT));
        let b = Arc::new(Source(Mutex::new(VecDeque::new()), SHORT));
        assert_eq!(mix_sources(&[a.clone(), b.clone()]), None);
        a.push(&[10; FRAME_SAMPLES]);
        b.push(&[5; 80]);
        let mut want = vec![15; 80];
        want.extend([10; 80]);
        assert_eq!(mix_sources(&[a.clone(), b]), Some(want));
        a.push(&vec![1; SHORT * 2]);
        assert_eq!(a.0.lock().len(), SHORT);
    }

    #[tokio::test]
    async fn broadcasts_to_every_target_and_hears_them_combined() {
        let pbx = crate::modules::test_pbx();
        let (_x, xm) = live_chan(&pbx, "SIP/x-00000001");
        let (_y, ym) = live_chan(&pbx, "SIP/y-00000002");
        let (mut me, mm) = live_chan(&pbx, "SIP/me-00000003");
        let shared = me.shared.clone();
        let app = pbx.apps.get("Broadcast").expect("Broadcast registered");
        let task =
            tokio::spawn(
                async move { app.exec(&mut me, "wso,SIP/x-00000001,SIP/y-00000002").await },
            );
        let (mut x_heard, mut me_heard) = (None, None);
        for _ in 0..500 {
            mm.from_far.push_lossy(Frame::voice(vec![3; FRAME_SAMPLES]));
            xm.from_far
                .push_lossy(Frame::voice(vec![100; FRAME_SAMPLES]));
            ym.from_far
                .push_lossy(Frame::voice(vec![20; FRAME_SAMPLES]));
            tokio::time::sleep(Duration::from_millis(5)).await;
            for m in [&xm, &ym] {
                m.to_far.push_lossy(Frame::voice(vec![1000; FRAME_SAMPLES]));
            }
            while let Some(Frame::Voice(v)) = xm.to_far.try_pop() {
                if v[0] == 1003 {
                    x_heard = Some(v[0]);
                }
            }
            while ym.to_far.try_pop().is_some() {}
            while let Some(Frame::Voice(v)) = mm.to_far.try_pop() {
                if v[0] == 120 {
                    me_heard = Some(v[0]);
                }
            }
            if x_heard.is_some() && me_heard.is_some() {
                break;
            }
        }
        assert_eq!(x_heard, Some(1003), "a target hears the broadcast");
        assert_eq!(me_heard, Some(120), "the broadcaster hears both targets");
        shared.request_hangup(16);
        mm.close();
        let r = tokio::time::timeout(Duration::from_secs(5), task).await;
        assert!(r.is_ok(), "Broadcast ends with the broadcaster");
    }
}
