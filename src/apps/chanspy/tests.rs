//! ChanSpy's pure parts and the spy driven through channels whose media the test controls.

use super::*;
use crate::pbx::channel::NullTech;
use crate::pbx::media::NativeFormat;

fn opts(s: &str) -> SpyOptions {
    SpyOptions::parse(&crate::modules::test_pbx(), s)
}

#[test]
fn volume_steps_like_audiohooks() {
    let mut v = vec![1000, -1000, 20000];
    adjust_volume(&mut v, 2);
    assert_eq!(v, vec![2000, -2000, i16::MAX]);
    let mut v = vec![1000, -1000];
    adjust_volume(&mut v, -4);
    assert_eq!(v, vec![250, -250]);
    let mut v = vec![7];
    adjust_volume(&mut v, 1);
    assert_eq!(v, vec![7]);
    let seq: Vec<i32> = std::iter::successors(Some(3), |v| Some(next_volume(*v)))
        .take(4)
        .collect();
    assert_eq!(seq, vec![3, 4, -4, -3]);
}

#[test]
fn options_parse() {
    let o = opts("qwc(5)x(#)v(3)g(sales:support)e(SIP/1000:SIP/2000)r");
    assert!(o.quiet && o.whisper && !o.private);
    assert_eq!((o.cycle, o.exit, o.volume), ('5', Some('#'), 3));
    assert_eq!(o.group.as_deref(), Some("sales:support"));
    assert_eq!(o.record.as_deref(), Some("chanspy"));
    let o = opts("Wv(9)c(z)n(1234@work)");
    assert!(o.private && o.whisper, "W implies whisper");
    assert_eq!((o.volume, o.cycle), (0, '*'), "bad values are ignored");
    assert_eq!(
        o.name,
        Some((Some("1234".to_string()), Some("work".to_string())))
    );
}

#[test]
fn digits_select_cycle_and_set_volume() {
    let o = opts("");
    let mut inp = String::new();
    assert_eq!(on_digit(&o, &mut inp, 0, '#'), DigitAction::Volume(1));
    assert_eq!(on_digit(&o, &mut inp, 4, '#'), DigitAction::Volume(-4));
    assert_eq!(
        on_digit(&o, &mut inp, 0, '*'),
        DigitAction::End(SpyEnd::Next)
    );
    assert_eq!(on_digit(&o, &mut inp, 0, '1'), DigitAction::None);
    assert_eq!(on_digit(&o, &mut inp, 0, '2'), DigitAction::None);
    assert_eq!(
        on_digit(&o, &mut inp, 0, '#'),
        DigitAction::End(SpyEnd::Number(12))
    );
    let o = opts("dx(9)");
    let mut inp = String::new();
    assert_eq!(on_digit(&o, &mut inp, 0, '5'), DigitAction::Mode('5'));
    assert!(
        inp.is_empty(),
        "d: digits switch modes, they build no number"
    );
    assert_eq!(
        on_digit(&o, &mut inp, 0, '9'),
        DigitAction::End(SpyEnd::Exit)
    );
}

#[test]
fn groups_enforced_lists_and_names() {
    assert!(group_matches("sales:support", Some("x:support")));
    assert!(!group_matches("sales", Some("support")));
    assert!(!group_matches("sales", None));
    assert!(enforced_allows("SIP/1000:SIP/2000", "SIP/2000-0000000a"));
    assert!(!enforced_allows("SIP/1000", "SIP/10001-0000000a"));
    assert_eq!(
        peer_name("SIP/1000-00000001"),
        ("spy-sip".to_string(), "1000".to_string())
    );
}

#[test]
fn whisper_adds_to_frames_and_stays_bounded() {
    let w = Whisper::default();
    w.add(&[5; 10]);
    let f = w.mix(Frame::voice(vec![100; 20]));
    let mut want = vec![105; 10];
    want.extend([100; 10]);
    assert_eq!(f, Frame::voice(want));
    w.add(&vec![1; WHISPER_MAX * 3]);
    assert_eq!(w.0.lock().len(), WHISPER_MAX);
}

/// A channel with media the test drives, registered and published like a live call.
fn live(pbx: &Arc<Pbx>, name: &str) -> (Channel, MediaHandle) {
    let mut c = Channel::new(pbx, name.into(), Arc::new(NullTech));
    let m = MediaHandle::new(NativeFormat::Ulaw);
    c.media = Some(m.clone());
    c.answer();
    c.publish("Wait", "");
    (c, m)
}

/// Push one frame each way on the spied channel until the spy sends a frame; returns it.
async fn next_heard(spied: &MediaHandle, spy: &MediaHandle, rx: i16, tx: i16) -> Vec<i16> {
    for _ in 0..500 {
        spied
            .from_far
            .push_lossy(Frame::voice(vec![rx; FRAME_SAMPLES]));
        spied
            .to_far
            .push_lossy(Frame::voice(vec![tx; FRAME_SAMPLES]));
        while spied.to_far.try_pop().is_some() {}
        tokio::time::sleep(Duration::from_millis(5)).await;
        if let Some(Frame::Voice(a)) = spy.to_far.try_pop() {
            return a.to_vec();
        }
    }
    panic!("the spy heard nothing");
}

/// Frames until the spy hears `want` (after a change, frames mixed before it may queue).
async fn wait_heard(spied: &MediaHandle, spy: &MediaHandle, rx: i16, tx: i16, want: i16) {
    let mut last = vec![];
    for _ in 0..50 {
        last = next_heard(spied, spy, rx, tx).await;
        if last.iter().all(|s| *s == want) {
            return;
        }
    }
    panic!("the spy never heard {want}: last {:?}", &last[..4]);
}

#[tokio::test]
async fn the_spy_hears_both_directions_mixed_and_cycles_volume() {
    let pbx = crate::modules::test_pbx();
    let (_spied, sm) = live(&pbx, "SIP/1000-00000001");
    let (mut spy, pm) = live(&pbx, "SIP/2000-00000002");
    let ps = spy.shared.clone();
    let app = pbx.apps.get("ChanSpy").expect("ChanSpy registered");
    let task = tokio::spawn(async move {
        let r = app.exec(&mut spy, "SIP/1000,q").await;
        (r, spy)
    });
    wait_heard(&sm, &pm, 100, 200, 300).await;
    pm.from_far
        .push_lossy(Frame::Dtmf('#', Duration::from_millis(80)));
    wait_heard(&sm, &pm, 100, 200, 300).await; // volume 1: unchanged
    pm.from_far
        .push_lossy(Frame::Dtmf('#', Duration::from_millis(80)));
    wait_heard(&sm, &pm, 100, 200, 600).await; // volume 2: doubled
    pm.close();
    ps.request_hangup(16);
    let (r, _) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("ChanSpy ends when the spy hangs up")
        .expect("task");
    assert!(r.is_err(), "the spy's hangup ends it as a hangup");
}

#[tokio::test]
async fn whisper_reaches_the_spied_channel_and_o_hears_one_side() {
    let pbx = crate::modules::test_pbx();
    let (_spied, sm) = live(&pbx, "SIP/1000-00000001");
    let (mut spy, pm) = live(&pbx, "SIP/2000-00000002");
    let ps = spy.shared.clone();
    let app = pbx.apps.get("ChanSpy").expect("ChanSpy registered");
    let task = tokio::spawn(async move {
        let r = app.exec(&mut spy, ",qow").await;
        (r, spy)
    });
    // `o`: only what the spied channel says.
    wait_heard(&sm, &pm, 100, 200, 100).await;
    // The spy talks: the spied channel hears it added to its audio.
    let mut heard = None;
    for _ in 0..500 {
        pm.from_far.push_lossy(Frame::voice(vec![7; FRAME_SAMPLES]));
        tokio::time::sleep(Duration::from_millis(5)).await;
        sm.to_far.push_lossy(Frame::voice(vec![200; FRAME_SAMPLES]));
        if let Some(Frame::Voice(a)) = sm.to_far.try_pop() {
            if a[0] == 207 {
                heard = Some(a.to_vec());
                break;
            }
        }
    }
    assert_eq!(heard, Some(vec![207; FRAME_SAMPLES]));
    pm.close();
    ps.request_hangup(16);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    // The hook is gone with the spy.
    sm.to_far.push_lossy(Frame::voice(vec![200; FRAME_SAMPLES]));
    let mut last = None;
    while let Some(f) = sm.to_far.try_pop() {
        last = Some(f);
    }
    assert_eq!(last, Some(Frame::voice(vec![200; FRAME_SAMPLES])));
}

#[tokio::test]
async fn digits_then_pound_select_a_channel_by_number() {
    let pbx = crate::modules::test_pbx();
    let (_a, am) = live(&pbx, "SIP/1000-00000001");
    let (_b, bm) = live(&pbx, "SIP/1001-00000002");
    let (mut spy, pm) = live(&pbx, "Local/spy-00000003");
    let ps = spy.shared.clone();
    let app = pbx.apps.get("ChanSpy").expect("ChanSpy registered");
    let task = tokio::spawn(async move {
        let r = app.exec(&mut spy, "SIP,q").await;
        (r, spy)
    });
    wait_heard(&am, &pm, 10, 0, 10).await;
    for d in "1001#".chars() {
        pm.from_far
            .push_lossy(Frame::Dtmf(d, Duration::from_millis(80)));
    }
    wait_heard(&bm, &pm, 20, 0, 20).await;
    pm.close();
    ps.request_hangup(16);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}

#[tokio::test]
async fn groups_and_stop_when_nothing_is_left() {
    let pbx = crate::modules::test_pbx();
    let (mut a, _am) = live(&pbx, "SIP/1000-00000001");
    a.set_var("SPYGROUP", "support");
    a.publish("Wait", "");
    let (mut spy, _pm) = live(&pbx, "SIP/2000-00000002");
    let app = pbx.apps.get("ChanSpy").expect("ChanSpy registered");
    // Not in the group: nothing to spy on, S stops.
    let r = tokio::time::timeout(Duration::from_secs(10), app.exec(&mut spy, ",qSg(sales)"))
        .await
        .expect("S stops when no channel matches");
    assert!(r.is_ok());
}
