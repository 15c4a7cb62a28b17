//! res_parking through the interpreter: parking, retrieval (media both ways), timeouts as
//! the comeback steps, the lot's extensions, PARK_GET_CHANNEL and `parking show`. Also the
//! shared helper the Pickup/Bridge tests use: a channel with media running a dialplan.

use super::*;
use crate::pbx::channel::NullTech;
use crate::pbx::media::{Frame, NativeFormat};
use crate::pbx::tests::{get, pbx_with};

pub type Vars = Vec<(String, String)>;

/// A channel `name` running `exten@t` with media the test feeds and drains; its task
/// returns the variables at the end.
pub fn spawn_chan(
    pbx: &Arc<Pbx>,
    name: &str,
    exten: &str,
) -> (
    tokio::task::JoinHandle<Vars>,
    MediaHandle,
    Arc<ChannelShared>,
) {
    let mut chan = Channel::new(pbx, name.into(), Arc::new(NullTech));
    let m = MediaHandle::new(NativeFormat::Ulaw);
    chan.media = Some(m.clone());
    chan.context = "t".into();
    chan.exten = exten.into();
    chan.priority = 1;
    chan.shared.snapshot.lock().in_pbx = true;
    pbx.channels.insert(chan.shared.clone());
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

/// Wait (bounded) until `f` holds.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Push `n` from `a`'s far end until it comes out of `b`'s (audio crosses a bridge).
pub async fn crosses(a: &MediaHandle, b: &MediaHandle, n: i16) {
    for _ in 0..300 {
        a.from_far.push_lossy(Frame::voice(vec![n; 160]));
        if let Ok(Some(Frame::Voice(v))) =
            tokio::time::timeout(Duration::from_millis(20), b.to_far.pop()).await
        {
            if v.first() == Some(&n) {
                return;
            }
        }
    }
    panic!("audio {n} did not cross the bridge");
}

fn parked_count(pbx: &Pbx) -> usize {
    crate::pbx::parking::service(pbx)
        .map(|p| p.parked("").len())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_parked_call_is_retrieved_and_bridged_both_ways() {
    let pbx = pbx_with(
        "[t]\nexten => park,1,Park(,s)\nexten => get,1,Set(CH=${PARK_GET_CHANNEL(701,default)})\n same => n,ParkedCall(default,701)\n",
    );
    let (parked, pm, _ps) = spawn_chan(&pbx, "SIP/1000-00000001", "park");
    until("the call parked", || parked_count(&pbx) == 1).await;
    let lots = lots(&pbx).expect("res_parking loaded");
    let shown = show(&lots, Some("default"));
    assert!(shown.contains("  Space               :  701\n"), "{shown}");
    assert!(
        shown.contains("  Channel             :  SIP/1000-00000001\n"),
        "{shown}"
    );
    assert!(
        shown.contains("  Parker Dial String  :  SIP/1000\n"),
        "{shown}"
    );
    let (getter, gm, gs) = spawn_chan(&pbx, "SIP/1001-00000002", "get");
    crosses(&pm, &gm, 5).await;
    crosses(&gm, &pm, 6).await;
    assert_eq!(parked_count(&pbx), 0);
    // The retriever hangs up: both calls end.
    gs.request_hangup(16);
    let gv = getter.await.expect("getter");
    assert_eq!(get(&gv, "CH"), Some("SIP/1000-00000001"));
    let _ = tokio::time::timeout(Duration::from_secs(5), parked)
        .await
        .expect("the parked call ends with the bridge");
}

#[tokio::test]
async fn a_timed_out_call_comes_back_to_the_parker_through_park_dial() {
    let pbx = pbx_with("[t]\nexten => park,1,Park(,st(1))\n same => n,Set(NEVER=1)\n");
    let (task, _m, _s) = spawn_chan(&pbx, "Test/1000-00000001", "park");
    let v = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("times out")
        .expect("task");
    assert_eq!(get(&v, "PARKING_SPACE"), Some("701"));
    assert_eq!(get(&v, "PARKEDLOT"), Some("default"));
    assert_eq!(get(&v, "PARKER"), Some("Test/1000"));
    assert_eq!(get(&v, "PARKER_FLAT"), Some("Test_1000"));
    // park-dial,Test_1000,1 is Dial(Test/1000,30): no such technology here.
    assert_eq!(get(&v, "DIALSTATUS"), Some("CHANUNAVAIL"));
    assert_eq!(get(&v, "NEVER"), None);
    let dp = pbx.dialplan();
    let (_, _, p) = dp
        .find_priority("park-dial", "Test_1000", 1, None, chrono::Utc::now())
        .expect("park-dial extension");
    assert_eq!((p.app.as_str(), p.data.as_str()), ("Dial", "Test/1000,30"));
    assert_eq!(parked_count(&pbx), 0);
}

#[tokio::test]
async fn without_comebacktoorigin_the_call_goes_to_comebackcontext() {
    let pbx = pbx_with(
        "[t]\nexten => park,1,Park(,st(1))\n[parkedcallstimeout]\nexten => s,1,Set(BACK=s)\nexten => Test_1000,1,Set(BACK=${PARKER_FLAT}:${PARKING_SPACE})\n",
    );
    let lots = lots(&pbx).expect("loaded");
    let mut cfg = ParkingConfig::default();
    cfg.lots[0].comebacktoorigin = false;
    lots.set_config(cfg);
    let (task, _m, _s) = spawn_chan(&pbx, "Test/1000-00000001", "park");
    let v = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("times out")
        .expect("task");
    assert_eq!(get(&v, "BACK"), Some("Test_1000:701"));
    // c() overrides the lot's comeback.
    let pbx =
        pbx_with("[t]\nexten => park,1,Park(,st(1)c(t,back,1))\nexten => back,1,Set(BACK=c)\n");
    let (task, _m, _s) = spawn_chan(&pbx, "Test/1000-00000001", "park");
    let v = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("times out")
        .expect("task");
    assert_eq!(get(&v, "BACK"), Some("c"));
}

#[tokio::test]
async fn a_caller_that_hangs_up_leaves_its_space_and_parkingexten_picks_one() {
    let pbx = pbx_with(
        "[t]\nexten => park,1,Set(PARKINGEXTEN=705)\n same => n,Park(,s)\nexten => again,1,Set(PARKINGEXTEN=705)\n same => n,Park(,s)\n same => n,Set(TAKEN=1)\n",
    );
    let (task, _m, s) = spawn_chan(&pbx, "Test/a-1", "park");
    until("parked at 705", || {
        crate::pbx::parking::service(&pbx).is_some_and(|p| {
            p.parked("default") == vec![("default".into(), 705, "Test/a-1".into())]
        })
    })
    .await;
    assert!(
        crate::pbx::devstate::device_state(&pbx, "park:705@parkedcalls")
            == crate::pbx::devstate::DeviceState::InUse
    );
    // 705 is taken: the second call goes on at the next priority.
    let (t2, _m2, _s2) = spawn_chan(&pbx, "Test/b-2", "again");
    let v = tokio::time::timeout(Duration::from_secs(10), t2)
        .await
        .expect("continues")
        .expect("task");
    assert_eq!(get(&v, "TAKEN"), Some("1"));
    s.request_hangup(16);
    let _ = task.await;
    assert_eq!(parked_count(&pbx), 0);
    assert!(
        crate::pbx::devstate::device_state(&pbx, "park:705@parkedcalls")
            == crate::pbx::devstate::DeviceState::NotInUse
    );
}

#[test]
fn a_lot_adds_its_extensions_and_hints() {
    let mut l = LotConfig::new("default");
    l.parkext = "700".into();
    (l.start, l.stop) = (701, 702);
    l.parkinghints = true;
    let pbx = crate::modules::test_pbx();
    pbx.add_extensions(lot_extensions(&l));
    let dp = pbx.dialplan();
    let now = chrono::Utc::now();
    let (_, _, p) = dp
        .find_priority("parkedcalls", "700", 1, None, now)
        .expect("700");
    assert_eq!(p.app, "Park");
    let (_, _, p) = dp
        .find_priority("parkedcalls", "702", 1, None, now)
        .expect("702");
    assert_eq!(
        (p.app.as_str(), p.data.as_str()),
        ("ParkedCall", "default,702")
    );
    assert_eq!(
        dp.hint("parkedcalls", "701", now),
        Some("park:701@parkedcalls")
    );
    // They survive a dialplan reload and go with their registrar.
    pbx.set_dialplan(
        crate::pbx::dialplan_from_str("extensions.conf", "[x]\n")
            .expect("dp")
            .0,
    );
    assert!(pbx.dialplan().exists("parkedcalls", "701", 1, None, now));
    pbx.remove_extensions(|r| r.starts_with("res_parking"));
    assert!(!pbx.dialplan().exists("parkedcalls", "701", 1, None, now));
}

#[test]
fn parking_show_lists_the_lots() {
    let lots = Lots {
        general: Mutex::new(ParkingConfig::default()),
        lots: Mutex::new(BTreeMap::new()),
    };
    lots.set_config(ParkingConfig::default());
    let out = show(&lots, None);
    assert!(out.starts_with("\nParking General Options\n-----------------------\nDynamic Parking     :  no\n\nParking Lot: default\n"), "{out}");
    assert!(out.contains("Parking Spaces      :  701-750\n"), "{out}");
    assert!(
        out.contains(
            "Comeback Context    :  parkedcallstimeout (comebacktoorigin=yes, not used)\n"
        ),
        "{out}"
    );
    assert_eq!(
        show(&lots, Some("nope")),
        "\nCould not find parking lot 'nope'\n\n"
    );
    assert!(show(&lots, Some("default")).ends_with("Parked Calls\n------------\n  (none)\n\n\n"));
}
