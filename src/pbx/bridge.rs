//! Two-party bridging: relay two channels' media through ferrisk.
//!
//! Everything inside ferrisk is slin frames and DTMF digits (see [`super::media`]), so a bridge
//! only moves [`Frame`]s: what A's far end sends (`A.from_far`) goes to B's far end
//! (`B.to_far`) and the other way round. Each driver converts at its own edge — G.711 µ-law on
//! one leg and A-law on the other, or different telephone-event payload types, just work, and a
//! digit pressed on one leg is sent to the other as a digit.
//!
//! The relay works on [`MediaHandle`]s, not on `&mut Channel`s, so the owner of the channels
//! (Dial holds its callee) keeps them while the media flows. The two directions run
//! independently; frames are pushed with [`FrameQueue::push_lossy`], so a slow or stalled
//! receiver drops its own oldest audio instead of holding up the other direction (digits are
//! never dropped). Nothing is bridged natively: RTP always flows through ferrisk.

use super::channel::ChannelShared;
use super::features::{DtmfMatcher, Feature, Step};
use super::media::{Frame, FrameQueue, MediaHandle};
use std::future::Future;
use std::sync::Arc;

/// Which side of a bridge ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    A,
    B,
}

/// Move frames from `src` to `dst` until `src` is closed (then wait forever).
pub async fn forward(src: Arc<FrameQueue>, dst: Arc<FrameQueue>) {
    while let Some(f) = src.pop().await {
        if dst.is_closed() {
            break;
        }
        dst.push_lossy(f);
    }
    std::future::pending::<()>().await
}

/// Relay media between `a` and `b` (either may be absent: that direction carries nothing)
/// until `until` resolves, and return its output. Audio that queued up from either far end
/// before the bridge started is dropped, so the parties hear each other without delay.
pub async fn relay_until<T>(
    a: Option<MediaHandle>,
    b: Option<MediaHandle>,
    until: impl Future<Output = T>,
) -> T {
    let dir = |src: &Option<MediaHandle>, dst: &Option<MediaHandle>| {
        let pair = match (src, dst) {
            (Some(s), Some(d)) => {
                s.from_far.clear();
                Some((s.from_far.clone(), d.to_far.clone()))
            }
            _ => None,
        };
        async move {
            match pair {
                Some((s, d)) => forward(s, d).await,
                None => std::future::pending().await,
            }
        }
    };
    let ab = dir(&a, &b);
    let ba = dir(&b, &a);
    tokio::select! {
        out = until => out,
        _ = ab => unreachable!("forward never returns"),
        _ = ba => unreachable!("forward never returns"),
    }
}

/// Move frames from `src` to `dst`, watching the digits for feature codes with `m`: the
/// digits of a code that may still complete are held back from `dst`, released when the
/// code fails (or after the feature digit timeout), consumed when it completes. Returns
/// the feature triggered (a closed `src` waits forever).
pub async fn forward_detect(
    src: Arc<FrameQueue>,
    dst: Arc<FrameQueue>,
    m: &mut DtmfMatcher,
) -> Feature {
    let release = |dst: &FrameQueue, ds: Vec<(char, std::time::Duration)>| {
        for (d, len) in ds {
            dst.push_lossy(Frame::Dtmf(d, len));
        }
    };
    loop {
        let deadline = m.deadline();
        let f = tokio::select! {
            f = src.pop() => f,
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                release(&dst, m.expire(std::time::Instant::now()));
                continue;
            }
        };
        let Some(f) = f else {
            return std::future::pending().await;
        };
        if dst.is_closed() {
            return std::future::pending().await;
        }
        match f {
            Frame::Dtmf(d, len) if m.is_active() => {
                match m.digit(d, len, std::time::Instant::now()) {
                    Step::Pass(ds) => release(&dst, ds),
                    Step::Held => {}
                    Step::Trigger(feat) => return feat,
                }
            }
            f => dst.push_lossy(f),
        }
    }
}

/// A feature code one side of a bridge pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureHit {
    /// Who pressed it.
    pub side: Ended,
    pub feature: Feature,
}

/// [`relay_until`] with feature detection: `fa` watches what A's far end sends, `fb`
/// what B's sends. Returns `until`'s output, or the first feature code pressed (the relay
/// stops; the matchers keep their state for the next relay).
pub async fn relay_features<T>(
    a: Option<MediaHandle>,
    b: Option<MediaHandle>,
    fa: &mut DtmfMatcher,
    fb: &mut DtmfMatcher,
    until: impl Future<Output = T>,
) -> Result<T, FeatureHit> {
    async fn dir(
        src: &Option<MediaHandle>,
        dst: &Option<MediaHandle>,
        m: &mut DtmfMatcher,
    ) -> Feature {
        match (src, dst) {
            (Some(s), Some(d)) => forward_detect(s.from_far.clone(), d.to_far.clone(), m).await,
            _ => std::future::pending().await,
        }
    }
    for (s, d) in [(&a, &b), (&b, &a)] {
        if let (Some(s), Some(_)) = (s, d) {
            s.from_far.clear();
        }
    }
    tokio::select! {
        out = until => Ok(out),
        f = dir(&a, &b, fa) => Err(FeatureHit { side: Ended::A, feature: f }),
        f = dir(&b, &a, fb) => Err(FeatureHit { side: Ended::B, feature: f }),
    }
}

/// Bridge two channels until either hangs up; says which one did (A when both already had).
pub async fn bridge(
    a: Option<MediaHandle>,
    a_shared: &Arc<ChannelShared>,
    b: Option<MediaHandle>,
    b_shared: &Arc<ChannelShared>,
) -> Ended {
    if a_shared.hangup_requested() {
        return Ended::A;
    }
    if b_shared.hangup_requested() {
        return Ended::B;
    }
    relay_until(a, b, async {
        tokio::select! {
            _ = a_shared.hungup() => Ended::A,
            _ = b_shared.hungup() => Ended::B,
        }
    })
    .await
}

/// Spawn a task relaying `src` into `dst`; it stops when the returned guard is dropped.
pub fn spawn_forward(src: Arc<FrameQueue>, dst: Arc<FrameQueue>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(forward(src, dst)))
}

/// Aborts a task when dropped (media tasks tied to a scope, e.g. early media during Dial).
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::media::{Frame, NativeFormat};
    use std::time::Duration;

    fn voice(n: i16) -> Frame {
        Frame::voice(vec![n; 160])
    }

    #[tokio::test]
    async fn frames_and_digits_cross_both_ways_until_a_hangup() {
        let (a, b) = (
            MediaHandle::new(NativeFormat::Ulaw),
            MediaHandle::new(NativeFormat::Alaw),
        );
        let (sa, sb) = (
            ChannelShared::new("A".into(), "1".into()),
            ChannelShared::new("B".into(), "2".into()),
        );
        let task = {
            let (a, b, sa, sb) = (a.clone(), b.clone(), sa.clone(), sb.clone());
            tokio::spawn(async move { bridge(Some(a), &sa, Some(b), &sb).await })
        };
        tokio::task::yield_now().await;
        a.from_far.push_lossy(voice(1));
        a.from_far
            .push_lossy(Frame::Dtmf('5', Duration::from_millis(80)));
        b.from_far.push_lossy(voice(2));
        b.from_far.push_lossy(Frame::Dtmf('#', Duration::ZERO));
        assert_eq!(b.to_far.pop().await, Some(voice(1)));
        assert_eq!(
            b.to_far.pop().await,
            Some(Frame::Dtmf('5', Duration::from_millis(80)))
        );
        assert_eq!(a.to_far.pop().await, Some(voice(2)));
        assert_eq!(a.to_far.pop().await, Some(Frame::Dtmf('#', Duration::ZERO)));
        sb.request_hangup(16);
        assert_eq!(task.await.ok(), Some(Ended::B));

        // The other side hanging up ends it too.
        let task = {
            let (a, b, sa) = (a.clone(), b.clone(), sa.clone());
            let sb2 = ChannelShared::new("B2".into(), "3".into());
            tokio::spawn(async move { bridge(Some(a), &sa, Some(b), &sb2).await })
        };
        tokio::task::yield_now().await;
        sa.request_hangup(16);
        assert_eq!(task.await.ok(), Some(Ended::A));
    }

    #[tokio::test]
    async fn feature_digits_are_held_back_and_others_flushed() {
        use crate::pbx::features::{Builtin, FeatureCodes, FeaturesConfig};
        let (a, b) = (
            MediaHandle::new(NativeFormat::Ulaw),
            MediaHandle::new(NativeFormat::Ulaw),
        );
        let mut cfg = FeaturesConfig::default();
        cfg.featuremap.set(Builtin::AutoMixMon, "*3");
        let codes = FeatureCodes::new(&cfg, &[Builtin::BlindXfer, Builtin::AutoMixMon], &[]);
        let mut fa = DtmfMatcher::new(codes, Duration::from_millis(50));
        let mut fb = DtmfMatcher::new(FeatureCodes::default(), Duration::from_millis(50));
        let d = |c| Frame::Dtmf(c, Duration::from_millis(80));
        let run = {
            let (a, b) = (a.clone(), b.clone());
            tokio::spawn(async move {
                relay_features(
                    Some(a),
                    Some(b),
                    &mut fa,
                    &mut fb,
                    std::future::pending::<()>(),
                )
                .await
            })
        };
        tokio::task::yield_now().await;
        // `*` then `7`: no code, both pass in order.
        a.from_far.push_lossy(d('*'));
        a.from_far.push_lossy(d('7'));
        assert_eq!(b.to_far.pop().await, Some(d('*')));
        assert_eq!(b.to_far.pop().await, Some(d('7')));
        // `*` alone is released after the feature digit timeout.
        a.from_far.push_lossy(d('*'));
        assert_eq!(b.to_far.pop().await, Some(d('*')));
        // B has no codes: its `#` passes.
        b.from_far.push_lossy(d('#'));
        assert_eq!(a.to_far.pop().await, Some(d('#')));
        // A's `*3` triggers automixmon; neither digit reaches B.
        a.from_far.push_lossy(voice(4));
        a.from_far.push_lossy(d('*'));
        a.from_far.push_lossy(d('3'));
        let hit = run.await.expect("task").expect_err("a feature");
        assert_eq!(hit.side, Ended::A);
        assert_eq!(
            hit.feature,
            crate::pbx::features::Feature::Builtin(Builtin::AutoMixMon)
        );
        assert_eq!(b.to_far.pop().await, Some(voice(4)));
        assert!(b.to_far.is_empty(), "the code's digits never reach B");
    }

    #[tokio::test]
    async fn a_stalled_receiver_does_not_stop_the_other_direction() {
        let (a, b) = (
            MediaHandle::new(NativeFormat::Ulaw),
            MediaHandle::new(NativeFormat::Ulaw),
        );
        let (a2, b2) = (a.clone(), b.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(relay_until(Some(a2), Some(b2), async move {
            let _ = rx.await;
        }));
        tokio::task::yield_now().await;
        // Nobody drains B's to_far: A's audio piles up there (lossily) while B's audio
        // still reaches A.
        for i in 0..20 {
            a.from_far.push_lossy(voice(i));
        }
        for i in 0..5 {
            b.from_far.push_lossy(voice(100 + i));
            assert_eq!(a.to_far.pop().await, Some(voice(100 + i)));
        }
        let _ = tx.send(());
        let _ = task.await;
        assert!(b.to_far.len() <= crate::pbx::media::TX_DEPTH);
    }

    // ---- Dial, Local and music on hold, end to end through the interpreter ----

    use crate::media::moh::{MohClass, MohClasses, Sort};
    use crate::pbx::app::{App, AppResult};
    use crate::pbx::channel::NullTech;
    use crate::pbx::{exec, Channel, Hangup, Pbx};

    /// Echoes what it hears; records the last digit in GLOBAL(ECHO_DIGIT); `#` hangs up.
    struct TestEcho;
    #[async_trait::async_trait]
    impl App for TestEcho {
        fn name(&self) -> &'static str {
            "TestEcho"
        }
        fn synopsis(&self) -> &'static str {
            "test"
        }
        async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
            loop {
                let Some(f) = chan.read_frame(None).await? else {
                    continue;
                };
                if let Frame::Dtmf(d, _) = f {
                    chan.pbx.set_global("ECHO_DIGIT", &d.to_string());
                    if d == '#' {
                        return Err(Hangup);
                    }
                }
                chan.write_frame(f).await?;
            }
        }
    }

    /// A PBX running `text`, with TestEcho and a `test` hold class playing `a.wav` (two
    /// frames of 1) then `b.wav` (one frame of 2).
    fn pbx(text: &str) -> (Arc<Pbx>, tempfile::TempDir) {
        let pbx = crate::pbx::tests::pbx_with(text);
        crate::pbx::module::ModuleContext::new(&pbx, "test").register_app(Arc::new(TestEcho));
        let d = tempfile::tempdir().expect("tempdir");
        let w = |n: &str, s: Vec<i16>| {
            std::fs::write(d.path().join(n), crate::media::wav::wav_bytes(&s)).expect("wav");
        };
        w("b.wav", vec![2; 160]);
        w("a.wav", vec![1; 320]);
        pbx.service::<MohClasses>()
            .expect("res_musiconhold.so loaded")
            .set(vec![MohClass {
                name: "test".into(),
                mode: "files".into(),
                directory: String::new(),
                dir: d.path().to_path_buf(),
                sort: Sort::Alpha,
            }]);
        (pbx, d)
    }

    type Vars = Vec<(String, String)>;

    /// Run `exten@t` on a caller whose media a fake driver (the test) feeds and drains.
    fn media_caller(
        pbx: &Arc<Pbx>,
        exten: &str,
    ) -> (
        tokio::task::JoinHandle<Vars>,
        MediaHandle,
        Arc<ChannelShared>,
    ) {
        let mut chan = Channel::new(pbx, "SIP/caller-00000001".into(), Arc::new(NullTech));
        let m = MediaHandle::new(NativeFormat::Ulaw);
        chan.media = Some(m.clone());
        chan.context = "t".into();
        chan.exten = exten.into();
        let shared = chan.shared.clone();
        let task = tokio::spawn(async move {
            let _ = exec::run_loop(&mut chan, exec::Nest::Top).await;
            chan.vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.value.clone()))
                .collect()
        });
        (task, m, shared)
    }

    /// The next frame the caller is sent (bounded wait so a broken test fails, not hangs).
    async fn heard(m: &MediaHandle) -> Frame {
        tokio::time::timeout(Duration::from_secs(10), m.to_far.pop())
            .await
            .ok()
            .flatten()
            .expect("a frame for the caller")
    }

    fn var<'a>(v: &'a Vars, k: &str) -> Option<&'a str> {
        v.iter().find(|(n, _)| n == k).map(|(_, x)| x.as_str())
    }

    #[tokio::test]
    async fn dial_local_carries_audio_and_digits_both_ways() {
        let (pbx, _d) = pbx("[t]\nexten => s,1,Dial(Local/e@t,,g)\n same => n,Set(ST=${DIALSTATUS})\nexten => e,1,Answer()\n same => n,TestEcho()\n");
        let (task, m, _shared) = media_caller(&pbx, "s");
        // Talk until the echo comes back through Dial, the bridge and both Local halves.
        let mut back = false;
        for _ in 0..500 {
            m.from_far.push_lossy(voice(7));
            if let Ok(Some(f)) =
                tokio::time::timeout(Duration::from_millis(20), m.to_far.pop()).await
            {
                assert_eq!(f, voice(7));
                back = true;
                break;
            }
        }
        assert!(back, "the callee's echo reaches the caller");
        m.from_far
            .push_lossy(Frame::Dtmf('5', Duration::from_millis(90)));
        loop {
            if let Frame::Dtmf(d, len) = heard(&m).await {
                assert_eq!((d, len), ('5', Duration::from_millis(90)));
                break;
            }
        }
        assert_eq!(pbx.get_global("ECHO_DIGIT").as_deref(), Some("5"));
        // The callee hanging up ends the bridge; `g` continues the caller's dialplan.
        m.from_far.push_lossy(Frame::Dtmf('#', Duration::ZERO));
        let vars = task.await.expect("caller task");
        assert_eq!(var(&vars, "ST"), Some("ANSWER"));
    }

    #[tokio::test]
    async fn music_on_hold_plays_the_class_files_in_order_and_loops() {
        let (pbx, _d) = pbx("[t]\nexten => s,1,MusicOnHold(test)\n");
        let (task, m, shared) = media_caller(&pbx, "s");
        let want = [1, 1, 2, 1, 1, 2, 1];
        for w in want {
            assert_eq!(heard(&m).await, voice(w));
        }
        shared.request_hangup(16);
        assert!(task.await.is_ok());
    }

    #[tokio::test]
    async fn dial_m_plays_hold_music_while_ringing() {
        let (pbx, _d) = pbx("[t]\nexten => s,1,Dial(Local/r@t,,m(test))\nexten => r,1,Ringing()\n same => n,Wait(30)\n");
        let (task, m, shared) = media_caller(&pbx, "s");
        for w in [1, 1, 2, 1] {
            assert_eq!(heard(&m).await, voice(w));
        }
        shared.request_hangup(16);
        let vars = task.await.expect("caller task");
        assert_eq!(var(&vars, "DIALSTATUS"), Some("CANCEL"));
    }

    #[tokio::test]
    async fn dial_passes_early_media_to_the_caller() {
        let (pbx, _d) = pbx("[t]\nexten => s,1,Dial(Local/p@t)\nexten => p,1,Progress()\n same => n,MusicOnHold(test)\n");
        let (task, m, shared) = media_caller(&pbx, "s");
        // Through the Local pacer: the first frames may race the Progress, so look for the
        // pattern rather than the very first frame.
        let mut got = Vec::new();
        while got.len() < 8 {
            if let Frame::Voice(v) = heard(&m).await {
                got.push(v[0]);
            }
        }
        assert!(got.windows(3).any(|w| w == [1, 1, 2]), "{got:?}");
        shared.request_hangup(16);
        let vars = task.await.expect("caller task");
        assert_eq!(var(&vars, "DIALSTATUS"), Some("CANCEL"));
    }

    #[tokio::test]
    async fn start_music_on_hold_plays_in_the_background_until_stopped() {
        let (pbx, _d) = pbx("[t]\nexten => s,1,StartMusicOnHold(test)\n same => n,TestEcho()\nexten => stop,1,StartMusicOnHold(test)\n same => n,StopMusicOnHold()\n same => n,Set(DONE=1)\n");
        let (task, m, shared) = media_caller(&pbx, "s");
        // The music plays while the next application runs...
        for w in [1, 1, 2] {
            assert_eq!(heard(&m).await, voice(w));
        }
        // ...and stops when that application sends audio of its own.
        m.from_far.push_lossy(voice(9));
        loop {
            if heard(&m).await == voice(9) {
                break;
            }
        }
        // No more music after that: the next frame is the echo again.
        m.from_far.push_lossy(voice(8));
        assert_eq!(heard(&m).await, voice(8));
        shared.request_hangup(16);
        let _ = task.await;

        let (task, m, _shared) = media_caller(&pbx, "stop");
        let vars = task.await.expect("caller task");
        assert_eq!(var(&vars, "DONE"), Some("1"));
        // Stopping drops what was queued; the task is gone, so nothing more arrives.
        tokio::task::yield_now().await;
        assert!(m.to_far.is_empty());
    }
}
