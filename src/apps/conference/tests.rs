//! MeetMe/ConfBridge with fake media handles; the tests drive the room's ticks themselves.

use super::*;
use crate::pbx::channel::ChannelShared;
use crate::pbx::channel::{CallerId, NullTech};
use crate::pbx::media::{Frame, MediaHandle, NativeFormat, FRAME_SAMPLES};
use std::time::Duration;
use tokio::task::JoinHandle;

struct Caller {
    shared: Arc<ChannelShared>,
    media: MediaHandle,
    task: JoinHandle<(AppResult, Option<String>, Option<String>)>,
}

fn pbx() -> Arc<Pbx> {
    let pbx = crate::modules::test_pbx();
    super::rooms(&pbx).set_manual_ticks(true);
    pbx
}

/// A channel named `name` running `app(data)`.
fn call(pbx: &Arc<Pbx>, name: &str, num: &str, app: &str, data: &str) -> Caller {
    let mut chan = Channel::new(pbx, name.to_string(), Arc::new(NullTech));
    let media = MediaHandle::new(NativeFormat::Ulaw);
    chan.media = Some(media.clone());
    chan.caller = CallerId::parse(num);
    let shared = chan.shared.clone();
    let app = pbx.apps.get(app).unwrap_or_else(|| panic!("{app}"));
    let data = data.to_string();
    let task = tokio::spawn(async move {
        let r = app.exec(&mut chan, &data).await;
        (
            r,
            chan.get_var("MEETMESECS"),
            chan.get_var("CONFBRIDGE_RESULT"),
        )
    });
    Caller {
        shared,
        media,
        task,
    }
}

/// Wait (bounded) until `f` holds.
async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("timed out waiting for {what}");
}

fn members(pbx: &Pbx, kind: Kind, room: &str) -> usize {
    super::rooms(pbx).get(kind, room).map_or(0, |r| r.len())
}

fn tone(v: i16) -> Frame {
    Frame::voice(vec![v; FRAME_SAMPLES])
}

fn last_out(h: &MediaHandle) -> Option<Frame> {
    let mut last = None;
    while let Some(f) = h.to_far.try_pop() {
        last = Some(f);
    }
    last
}

/// Everybody says their tone, one tick; what each then hears.
fn round(room: &Room, calls: &[(&Caller, i16)]) -> Vec<Option<Frame>> {
    for (c, v) in calls {
        c.media.from_far.push_lossy(tone(*v));
    }
    room.tick();
    calls.iter().map(|(c, _)| last_out(&c.media)).collect()
}

#[tokio::test]
async fn meetme_three_members_hear_the_other_two() {
    let pbx = pbx();
    let a = call(&pbx, "SIP/a-1", "100", "MeetMe", "1234,dA");
    let b = call(&pbx, "SIP/b-2", "200", "MeetMe", "1234,d");
    let c = call(&pbx, "SIP/c-3", "300", "MeetMe", "1234,dq");
    until("three members", || members(&pbx, Kind::MeetMe, "1234") == 3).await;
    let room = super::rooms(&pbx).get(Kind::MeetMe, "1234").unwrap();
    for _ in 0..3 {
        let heard = round(&room, &[(&a, 1), (&b, 20), (&c, 300)]);
        assert_eq!(
            heard,
            vec![Some(tone(320)), Some(tone(301)), Some(tone(21))]
        );
    }
    // b hangs up: it leaves the room, the others now hear only each other.
    b.shared.request_hangup(16);
    let (r, secs, _) = b.task.await.unwrap();
    assert_eq!(r, Err(Hangup));
    assert_eq!(secs.as_deref(), Some("0"));
    assert_eq!(members(&pbx, Kind::MeetMe, "1234"), 2);
    let heard = round(&room, &[(&a, 1), (&c, 300)]);
    assert_eq!(heard, vec![Some(tone(300)), Some(tone(1))]);
    a.shared.request_hangup(16);
    c.shared.request_hangup(16);
    let _ = a.task.await;
    let _ = c.task.await;
    assert!(super::rooms(&pbx).get(Kind::MeetMe, "1234").is_none());
    assert!(room.is_closed());
}

#[tokio::test]
async fn w_waits_for_a_marked_user_and_x_leaves_with_it() {
    let pbx = pbx();
    let w = call(&pbx, "SIP/w-1", "100", "MeetMe", "7,dwx");
    let v = call(&pbx, "SIP/v-2", "200", "MeetMe", "7,dw");
    until("two waiting", || members(&pbx, Kind::MeetMe, "7") == 2).await;
    let room = super::rooms(&pbx).get(Kind::MeetMe, "7").unwrap();
    let heard = round(&room, &[(&w, 5), (&v, 6)]);
    assert_eq!(
        heard,
        vec![Some(tone(0)), Some(tone(0))],
        "waiting: silence"
    );
    let lead = call(&pbx, "SIP/lead-3", "300", "MeetMe", "7,dA");
    until("leader", || room.marked() == 1).await;
    let heard = round(&room, &[(&w, 5), (&v, 6), (&lead, 100)]);
    assert_eq!(
        heard,
        vec![Some(tone(106)), Some(tone(105)), Some(tone(11))]
    );
    // The leader leaves: x hangs up, the plain w member waits again.
    lead.shared.request_hangup(16);
    let _ = lead.task.await;
    let (r, _, _) = w.task.await.unwrap();
    assert_eq!(r, Err(Hangup));
    assert_eq!(members(&pbx, Kind::MeetMe, "7"), 1);
    let heard = round(&room, &[(&v, 6)]);
    assert_eq!(heard, vec![Some(tone(0))]);
    v.shared.request_hangup(16);
    let _ = v.task.await;
}

#[tokio::test]
async fn without_d_a_missing_room_is_not_created() {
    let pbx = pbx();
    let c = call(&pbx, "SIP/a-1", "100", "MeetMe", "55,q");
    let (r, secs, _) = c.task.await.unwrap();
    assert_eq!(r, Ok(()), "the dialplan continues");
    assert_eq!(secs, None);
    assert!(super::rooms(&pbx).list(Kind::MeetMe).is_empty());
    // D also creates (the PIN is accepted without asking).
    let d = call(&pbx, "SIP/b-2", "200", "MeetMe", "56,D,1234");
    until("dynamic room", || members(&pbx, Kind::MeetMe, "56") == 1).await;
    d.shared.request_hangup(16);
    let _ = d.task.await;
}

#[tokio::test]
async fn cli_lists_and_kicks() {
    let pbx = pbx();
    let st = crate::cli::new_state(pbx.clone());
    let out = crate::cli::execute(&st, "meetme list", None).await;
    assert_eq!(out, "No active MeetMe conferences.\n");
    let a = call(&pbx, "SIP/alice-1", "\"Alice\" <100>", "MeetMe", "800,dA");
    let b = call(&pbx, "SIP/bob-2", "200", "MeetMe", "800,dl");
    until("two members", || members(&pbx, Kind::MeetMe, "800") == 2).await;
    let out = crate::cli::execute(&st, "meetme list", None).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Conf Num       Parties        Marked     Activity  Creation  Locked"
    );
    assert_eq!(
        lines[1],
        "800            0002\t      0001       00:00:00  Dynamic   No    "
    );
    assert_eq!(lines[2], "* Total number of MeetMe users: 2");
    let out = crate::cli::execute(&st, "meetme list 800", None).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "User #: 01          100 Alice                Channel: SIP/alice-1      00:00:00"
    );
    assert_eq!(
        lines[1],
        "User #: 02          200 <no name>            Channel: SIP/bob-2  (Listen only)    00:00:00"
    );
    assert_eq!(lines[2], "2 users in that conference.");
    let out = crate::cli::execute(&st, "meetme list 800 concise", None).await;
    assert!(
        out.starts_with("1!100!Alice!SIP/alice-1!!!!!-1!00:00:00\n"),
        "{out}"
    );
    let out = crate::cli::execute(&st, "meetme list 9", None).await;
    assert_eq!(out, "No such conference: 9.\n");

    // Kicked: the dialplan continues.
    crate::cli::execute(&st, "meetme kick 800 2", None).await;
    let (r, secs, _) = b.task.await.unwrap();
    assert_eq!(r, Ok(()));
    assert!(secs.is_some());
    crate::cli::execute(&st, "meetme kick 800 all", None).await;
    let (r, _, _) = a.task.await.unwrap();
    assert_eq!(r, Ok(()));
    assert!(super::rooms(&pbx).list(Kind::MeetMe).is_empty());
}

#[tokio::test]
async fn confbridge_join_list_kick() {
    let pbx = pbx();
    let st = crate::cli::new_state(pbx.clone());
    // One at a time: each reads its profile on the blocking pool first, so joins started
    // together could land in any order (and the listing below is in order of joining).
    let a = call(&pbx, "SIP/a-1", "100", "ConfBridge", "room1");
    until("a", || members(&pbx, Kind::ConfBridge, "room1") == 1).await;
    let b = call(&pbx, "SIP/b-2", "200", "ConfBridge", "room1");
    until("b", || members(&pbx, Kind::ConfBridge, "room1") == 2).await;
    let c = call(
        &pbx,
        "SIP/c-3",
        "300",
        "ConfBridge",
        "room1,,default_user,sample_user_menu",
    );
    until("three members", || {
        members(&pbx, Kind::ConfBridge, "room1") == 3
    })
    .await;
    let room = super::rooms(&pbx).get(Kind::ConfBridge, "room1").unwrap();
    let heard = round(&room, &[(&a, 1), (&b, 20), (&c, 300)]);
    assert_eq!(
        heard,
        vec![Some(tone(320)), Some(tone(301)), Some(tone(21))]
    );
    // MeetMe and ConfBridge rooms are separate.
    assert!(super::rooms(&pbx).get(Kind::MeetMe, "room1").is_none());

    let out = crate::cli::execute(&st, "confbridge list", None).await;
    assert_eq!(
        out,
        "Conference Bridge Name           Users  Marked Locked Muted\n\
         ================================ ====== ====== ====== =====\n\
         room1                                 3      0 No     No\n"
    );
    let out = crate::cli::execute(&st, "confbridge list room1", None).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(
        lines[2],
        "SIP/a-1                               default_user     default_bridge                    100"
    );
    assert_eq!(
        lines[4],
        "SIP/c-3                               default_user     default_bridge   sample_user_menu 300"
    );
    let out = crate::cli::execute(&st, "confbridge list nope", None).await;
    assert_eq!(out, "No conference bridge named 'nope' found!\n");

    let out = crate::cli::execute(&st, "confbridge kick room1 SIP/b-2", None).await;
    assert_eq!(out, "Kicked 'SIP/b-2' out of conference 'room1'\n");
    let (r, _, res) = b.task.await.unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(res.as_deref(), Some("KICKED"));
    let out = crate::cli::execute(&st, "confbridge kick room1 SIP/zz", None).await;
    assert_eq!(out, "No participant named 'SIP/zz' found!\n");

    a.shared.request_hangup(16);
    let (r, _, res) = a.task.await.unwrap();
    assert_eq!(r, Err(Hangup));
    assert_eq!(res.as_deref(), Some("HANGUP"));
    crate::cli::execute(&st, "confbridge kick room1 all", None).await;
    let _ = c.task.await;
    assert!(super::rooms(&pbx).list(Kind::ConfBridge).is_empty());
}

#[tokio::test]
async fn mixing_task_runs_on_its_own() {
    // With the real 20 ms task: each member eventually hears the other's tone.
    let pbx = crate::modules::test_pbx();
    let a = call(&pbx, "SIP/a-1", "100", "ConfBridge", "live");
    let b = call(&pbx, "SIP/b-2", "200", "ConfBridge", "live");
    until("two members", || {
        members(&pbx, Kind::ConfBridge, "live") == 2
    })
    .await;
    let mut heard = false;
    for _ in 0..3000 {
        a.media.from_far.push_lossy(tone(11));
        b.media.from_far.push_lossy(tone(22));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let fa = last_out(&a.media);
        let fb = last_out(&b.media);
        if fa == Some(tone(22)) && fb == Some(tone(11)) {
            heard = true;
            break;
        }
    }
    assert!(heard);
    a.shared.request_hangup(16);
    b.shared.request_hangup(16);
    let _ = a.task.await;
    let _ = b.task.await;
    assert!(super::rooms(&pbx).list(Kind::ConfBridge).is_empty());
}

/// The seed's meeting dialplan (chapter 003), minus the calendar and Originate: the
/// participants run `_meetme-XXXX` and wait; the organiser's `MeetMe(…,dA)` starts the meeting.
#[tokio::test]
async fn seed_meeting_dialplan() {
    let pbx = pbx();
    let text = "[AutomatedMeetingSetup]\n\
        exten => start,1,Verbose(2,Calling multiple people and placing into a conference)\n\
        same => n,Set(_CalLocation=1234)\n\
        same => n,MeetMe(${CalLocation},dA)\n\
        same => n(hangup),Hangup()\n\
        exten => h,1,Set(GLOBAL(ORG_SECS)=${MEETMESECS})\n\
        [MeetingOriginator]\n\
        exten => _meetme-XXXX,1,Verbose(2,Joining a meeting)\n\
        same => n,Answer()\n\
        same => n,MeetMe(${EXTEN:7},dw)\n\
        same => n,Hangup()\n";
    match crate::pbx::dialplan_from_str("extensions.conf", text) {
        Ok((dp, _)) => pbx.set_dialplan(dp),
        Err(e) => panic!("{e:?}"),
    }
    let start = |name: &str, ctx: &str, exten: &str| {
        let mut chan = Channel::new(&pbx, name.to_string(), Arc::new(NullTech));
        let media = MediaHandle::new(NativeFormat::Ulaw);
        chan.media = Some(media.clone());
        chan.context = ctx.into();
        chan.exten = exten.into();
        let shared = chan.shared.clone();
        let task = tokio::spawn(crate::pbx::exec::run_pbx(chan));
        (shared, media, task)
    };
    let p1 = start("SIP/0000FFFF0001-1", "MeetingOriginator", "meetme-1234");
    let p2 = start("SIP/0000FFFF0002-2", "MeetingOriginator", "meetme-1234");
    until("participants", || members(&pbx, Kind::MeetMe, "1234") == 2).await;
    let room = super::rooms(&pbx).get(Kind::MeetMe, "1234").unwrap();
    let say = |v: &[(&MediaHandle, i16)]| {
        for (h, x) in v {
            h.from_far.push_lossy(tone(*x));
        }
        room.tick();
        v.iter().map(|(h, _)| last_out(h)).collect::<Vec<_>>()
    };
    assert_eq!(
        say(&[(&p1.1, 1), (&p2.1, 2)]),
        vec![Some(tone(0)), Some(tone(0))],
        "waiting for the organiser"
    );
    let org = start("SIP/organiser-3", "AutomatedMeetingSetup", "start");
    until("organiser", || room.marked() == 1).await;
    assert_eq!(
        say(&[(&p1.1, 1), (&p2.1, 2), (&org.1, 40)]),
        vec![Some(tone(42)), Some(tone(41)), Some(tone(3))]
    );
    org.0.request_hangup(16);
    org.2.await.unwrap();
    assert_eq!(pbx.get_global("ORG_SECS").as_deref(), Some("0"));
    assert_eq!(
        say(&[(&p1.1, 1), (&p2.1, 2)]),
        vec![Some(tone(0)), Some(tone(0))],
        "without a marked user they wait again"
    );
    p1.0.request_hangup(16);
    p2.0.request_hangup(16);
    p1.2.await.unwrap();
    p2.2.await.unwrap();
    assert!(super::rooms(&pbx).list(Kind::MeetMe).is_empty());
    assert!(pbx.channels.is_empty());
}

/// Rooms from meetme.conf need no `d`; ConfBridge user profiles come from confbridge.conf.
#[tokio::test]
async fn static_rooms_and_user_profiles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("meetme.conf"),
        "[rooms]\nconf => 600,1234\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("confbridge.conf"),
        "[leader]\ntype=user\nmarked=yes\nadmin=yes\n[follower]\ntype=user\nwait_marked=yes\nend_marked=yes\n",
    )
    .unwrap();
    let settings =
        crate::config::settings::Settings::defaults_for(&dir.path().join("ferrisk.conf"));
    let pbx = Pbx::new(settings, crate::astdb::AstDb::open_in_memory().unwrap());
    crate::modules::load_for_tests(&pbx);
    super::rooms(&pbx).set_manual_ticks(true);

    let s = call(&pbx, "SIP/s-1", "100", "MeetMe", "600");
    until("static room", || members(&pbx, Kind::MeetMe, "600") == 1).await;
    assert!(!super::rooms(&pbx).get(Kind::MeetMe, "600").unwrap().dynamic);
    let st = crate::cli::new_state(pbx.clone());
    let out = crate::cli::execute(&st, "meetme list", None).await;
    assert!(out.contains("  Static  "), "{out}");
    s.shared.request_hangup(16);
    let _ = s.task.await;

    let f = call(&pbx, "SIP/f-1", "100", "ConfBridge", "9,,follower");
    until("follower", || members(&pbx, Kind::ConfBridge, "9") == 1).await;
    let out = crate::cli::execute(&st, "confbridge list 9", None).await;
    assert!(
        out.contains("SIP/f-1                        WEw    follower "),
        "{out}"
    );
    let l = call(&pbx, "SIP/l-2", "200", "ConfBridge", "9,,leader");
    until("leader", || {
        super::rooms(&pbx)
            .get(Kind::ConfBridge, "9")
            .map_or(0, |r| r.marked())
            == 1
    })
    .await;
    let out = crate::cli::execute(&st, "confbridge list 9", None).await;
    assert!(
        out.contains("SIP/l-2                        AM     leader "),
        "{out}"
    );
    assert!(
        out.contains("SIP/f-1                        WE     follower "),
        "{out}"
    );
    // The leader leaves: the end_marked follower continues in the dialplan with ENDMARKED.
    l.shared.request_hangup(16);
    let _ = l.task.await;
    let (r, _, res) = f.task.await.unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(res.as_deref(), Some("ENDMARKED"));
    assert!(super::rooms(&pbx).list(Kind::ConfBridge).is_empty());
}

#[tokio::test]
async fn cli_lock_and_mute() {
    let pbx = pbx();
    let st = crate::cli::new_state(pbx.clone());
    let a = call(&pbx, "SIP/a-1", "100", "ConfBridge", "r");
    let b = call(&pbx, "SIP/b-2", "200", "ConfBridge", "r");
    until("two members", || members(&pbx, Kind::ConfBridge, "r") == 2).await;
    let room = super::rooms(&pbx).get(Kind::ConfBridge, "r").unwrap();

    let out = crate::cli::execute(&st, "confbridge mute r SIP/a", None).await;
    assert_eq!(out, "Muting SIP/a from confbridge r\n");
    let heard = round(&room, &[(&a, 5), (&b, 7)]);
    assert_eq!(heard, vec![Some(tone(7)), Some(tone(0))], "a is muted");
    let out = crate::cli::execute(&st, "confbridge list r", None).await;
    assert!(out.contains("SIP/a-1                        m "), "{out}");
    let out = crate::cli::execute(&st, "confbridge unmute r all", None).await;
    assert_eq!(out, "Unmuting all from confbridge r\n");
    let heard = round(&room, &[(&a, 5), (&b, 7)]);
    assert_eq!(heard, vec![Some(tone(7)), Some(tone(5))]);
    let out = crate::cli::execute(&st, "confbridge mute r SIP/zz", None).await;
    assert_eq!(out, "No channel named 'SIP/zz' found in conference r\n");

    let out = crate::cli::execute(&st, "confbridge lock r", None).await;
    assert_eq!(out, "Conference r is locked.\n");
    let out = crate::cli::execute(&st, "confbridge list", None).await;
    assert!(
        out.ends_with("r                                     2      0 Yes    No\n"),
        "{out}"
    );
    let c = call(&pbx, "SIP/c-3", "300", "ConfBridge", "r");
    let (r, _, res) = c.task.await.unwrap();
    assert_eq!(r, Err(Hangup), "a locked room turns callers away");
    assert_eq!(res, None);
    let out = crate::cli::execute(&st, "confbridge unlock r", None).await;
    assert_eq!(out, "Conference r is unlocked.\n");
    let out = crate::cli::execute(&st, "confbridge lock nope", None).await;
    assert_eq!(out, "Conference nope is not found\n");

    // MeetMe: silent admin commands by user number.
    let m1 = call(&pbx, "SIP/m-1", "100", "MeetMe", "42,d");
    let m2 = call(&pbx, "SIP/m-2", "200", "MeetMe", "42,d");
    until("meetme pair", || members(&pbx, Kind::MeetMe, "42") == 2).await;
    let mroom = super::rooms(&pbx).get(Kind::MeetMe, "42").unwrap();
    assert_eq!(crate::cli::execute(&st, "meetme mute 42 2", None).await, "");
    let heard = round(&mroom, &[(&m1, 5), (&m2, 7)]);
    assert_eq!(heard, vec![Some(tone(0)), Some(tone(5))]);
    let out = crate::cli::execute(&st, "meetme list 42", None).await;
    assert!(
        out.contains("Channel: SIP/m-2   (Admin Muted)   00:00:00"),
        "{out}"
    );
    crate::cli::execute(&st, "meetme unmute 42 all", None).await;
    crate::cli::execute(&st, "meetme lock 42", None).await;
    let out = crate::cli::execute(&st, "meetme list", None).await;
    assert!(out.contains("Dynamic   Yes"), "{out}");
    let m3 = call(&pbx, "SIP/m-3", "300", "MeetMe", "42,d");
    assert_eq!(m3.task.await.unwrap().0, Err(Hangup));
    let admin = call(&pbx, "SIP/m-4", "400", "MeetMe", "42,da");
    until("admin joins a locked room", || {
        members(&pbx, Kind::MeetMe, "42") == 3
    })
    .await;
    crate::cli::execute(&st, "meetme kick 42 all", None).await;
    crate::cli::execute(&st, "confbridge kick r all", None).await;
    for c in [a, b, m1, m2, admin] {
        assert_eq!(c.task.await.unwrap().0, Ok(()));
    }
    assert!(super::rooms(&pbx).list(Kind::MeetMe).is_empty());
    assert!(super::rooms(&pbx).list(Kind::ConfBridge).is_empty());
}

/// Run `app(data)` on a fresh channel; returns the variables asked for.
async fn admin_run(pbx: &Arc<Pbx>, app: &str, data: &str, vars: &[&str]) -> Vec<Option<String>> {
    let mut chan = Channel::new(pbx, "SIP/admin-00000099".into(), Arc::new(NullTech));
    let a = pbx.apps.get(app).unwrap_or_else(|| panic!("{app}"));
    let _ = a.exec(&mut chan, data).await;
    vars.iter().map(|v| chan.get_var(v)).collect()
}

fn read_func(pbx: &Arc<Pbx>, f: &str, args: &str) -> String {
    let mut chan = Channel::new(pbx, "SIP/f-00000098".into(), Arc::new(NullTech));
    let func = pbx.funcs.get(f).unwrap_or_else(|| panic!("{f}"));
    func.read(&mut chan, args)
        .unwrap_or_else(|e| format!("ERR {e}"))
}

#[tokio::test]
async fn meetmeadmin_kicks_mutes_locks_and_reports_status() {
    let pbx = pbx();
    let a = call(&pbx, "SIP/a-00000001", "100", "MeetMe", "77,dq");
    let b = call(&pbx, "SIP/b-00000002", "200", "MeetMe", "77,dqa");
    until("both joined", || members(&pbx, Kind::MeetMe, "77") == 2).await;
    assert_eq!(read_func(&pbx, "MEETME_INFO", "parties,77"), "2");
    assert_eq!(read_func(&pbx, "MEETME_INFO", "dynamic,77"), "1");
    assert_eq!(read_func(&pbx, "MEETME_INFO", "lock,77"), "0");
    assert_eq!(read_func(&pbx, "MEETME_INFO", "parties,78"), "0");
    let st = |v: Vec<Option<String>>| v[0].clone().unwrap_or_default();
    assert_eq!(
        st(admin_run(&pbx, "MeetMeAdmin", "77,L", &["MEETMEADMINSTATUS"]).await),
        "OK"
    );
    assert_eq!(read_func(&pbx, "MEETME_INFO", "lock,77"), "1");
    assert_eq!(
        st(admin_run(&pbx, "MeetMeAdmin", "78,L", &["MEETMEADMINSTATUS"]).await),
        "NOTFOUND"
    );
    assert_eq!(
        st(admin_run(&pbx, "MeetMeAdmin", "77,M", &["MEETMEADMINSTATUS"]).await),
        "NOTFOUND",
        "M needs a user"
    );
    let room = super::rooms(&pbx).get(Kind::MeetMe, "77").expect("room");
    assert_eq!(
        st(admin_run(&pbx, "MeetMeAdmin", "77,N", &["MEETMEADMINSTATUS"]).await),
        "OK"
    );
    let muted: Vec<bool> = room
        .members()
        .iter()
        .map(|m| m.muted.load(Ordering::SeqCst))
        .collect();
    assert_eq!(muted, vec![true, false], "N leaves the admin alone");
    assert_eq!(
        st(admin_run(&pbx, "MeetMeAdmin", "77,e", &["MEETMEADMINSTATUS"]).await),
        "FAILED",
        "the last user is an admin"
    );
    assert_eq!(
        st(admin_run(&pbx, "MeetMeAdmin", "77,k,1", &["MEETMEADMINSTATUS"]).await),
        "OK"
    );
    let (r, _, _) = tokio::time::timeout(Duration::from_secs(5), a.task)
        .await
        .expect("kicked")
        .expect("task");
    assert!(r.is_ok(), "a kicked MeetMe user continues in the dialplan");
    assert_eq!(
        admin_run(&pbx, "MeetMeCount", "77,N", &["N"]).await[0].as_deref(),
        Some("1")
    );
    admin_run(&pbx, "MeetMeChannelAdmin", "SIP/b-00000002,k", &[]).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), b.task).await;
    assert_eq!(members(&pbx, Kind::MeetMe, "77"), 0);
}

#[tokio::test]
async fn confbridge_info_channels_kick_and_dynamic_profiles() {
    let pbx = pbx();
    // An admin through CONFBRIDGE(user,admin).
    let mut chan = Channel::new(&pbx, "SIP/adm-00000001".into(), Arc::new(NullTech));
    chan.media = Some(MediaHandle::new(NativeFormat::Ulaw));
    let f = pbx.funcs.get("CONFBRIDGE").expect("CONFBRIDGE");
    f.write(&mut chan, "user,admin", "yes")
        .expect("admin option");
    assert!(f.write(&mut chan, "user,bogus", "yes").is_err());
    assert!(f.write(&mut chan, "nope,admin", "yes").is_err());
    let app = pbx.apps.get("ConfBridge").expect("ConfBridge");
    let adm = tokio::spawn(async move { app.exec(&mut chan, "9").await });
    // Joined in this order, so CONFBRIDGE_CHANNELS lists them so.
    until("the admin joined", || {
        members(&pbx, Kind::ConfBridge, "9") == 1
    })
    .await;
    let p = call(&pbx, "SIP/p-00000002", "200", "ConfBridge", "9");
    until("both joined", || members(&pbx, Kind::ConfBridge, "9") == 2).await;
    assert_eq!(read_func(&pbx, "CONFBRIDGE_INFO", "parties,9"), "2");
    assert_eq!(read_func(&pbx, "CONFBRIDGE_INFO", "admins,9"), "1");
    assert_eq!(read_func(&pbx, "CONFBRIDGE_INFO", "locked,9"), "0");
    assert_eq!(read_func(&pbx, "CONFBRIDGE_INFO", "parties,none"), "0");
    assert!(
        read_func(&pbx, "CONFBRIDGE_CHANNELS", "all,9").is_empty(),
        "all is no type"
    );
    assert_eq!(
        read_func(&pbx, "CONFBRIDGE_CHANNELS", "parties,9"),
        "SIP/adm-00000001,SIP/p-00000002"
    );
    assert_eq!(
        read_func(&pbx, "CONFBRIDGE_CHANNELS", "admins,9"),
        "SIP/adm-00000001"
    );
    let st = admin_run(&pbx, "ConfKick", "9,participants", &["CONFKICKSTATUS"]).await;
    assert_eq!(st[0].as_deref(), Some("SUCCESS"));
    let (r, _, res) = tokio::time::timeout(Duration::from_secs(5), p.task)
        .await
        .expect("kicked")
        .expect("task");
    assert!(r.is_ok());
    assert_eq!(res.as_deref(), Some("KICKED"));
    let st = admin_run(&pbx, "ConfKick", "9,SIP/nobody", &["CONFKICKSTATUS"]).await;
    assert_eq!(st[0].as_deref(), Some("FAILURE"));
    let st = admin_run(&pbx, "ConfKick", "9", &["CONFKICKSTATUS"]).await;
    assert_eq!(st[0].as_deref(), Some("SUCCESS"));
    let _ = tokio::time::timeout(Duration::from_secs(5), adm).await;
    let st = admin_run(&pbx, "ConfKick", "9", &["CONFKICKSTATUS"]).await;
    assert_eq!(st[0].as_deref(), Some("FAILURE"), "the room is gone");
}
