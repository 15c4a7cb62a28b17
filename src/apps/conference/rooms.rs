//! Conference rooms for `MeetMe()` and `ConfBridge()`: who is in which room, and the per-room
//! mixing task.
//!
//! Unlike the media library, this part runs on the tokio runtime: each room owns a task
//! that ticks every 20 ms ([`Room::tick`] is the whole of its work, and tests call it
//! directly). A tick takes at most one voice frame from every member's `from_far` queue,
//! mixes with [`crate::media::mixer`] (mix-minus) and pushes each member's mix into its `to_far`
//! queue with `push_lossy`, so a slow or stuck member never stalls the room.
//!
//! The registry ([`Conferences`], one per PBX) creates a room when its first member joins
//! and removes it, stopping its task, when the last member leaves. MeetMe and ConfBridge rooms
//! live in separate namespaces, as in Asterisk.

use crate::media::frame::{Audio, Frame, MediaHandle, FRAME_TIME};
use crate::media::mixer::{Mixer, Scaling};
use crate::pbx::channel::{CallerId, ChannelShared};
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::Notify;

/// Frames of a member's input kept before the oldest are skipped (bounds the delay a member
/// whose clock runs fast can add to the room).
pub const MAX_INPUT_BACKLOG: usize = 4;

/// Which application a room belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    MeetMe,
    ConfBridge,
}

/// How a member takes part (MeetMe options / ConfBridge user profile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFlags {
    /// `A` / `marked=yes`: a marked user.
    pub marked: bool,
    /// `a` / `admin=yes`.
    pub admin: bool,
    /// `w` / `wait_marked=yes`: not in the conversation until a marked user is present.
    pub wait_marked: bool,
    /// `x` / `end_marked=yes`: leave when the last marked user leaves.
    pub end_marked: bool,
    /// `l`: listen only (contributes nothing).
    pub listen_only: bool,
    /// `t`: talk only (hears nothing).
    pub talk_only: bool,
    /// `q` / `quiet=yes`: no join/leave sounds.
    pub quiet: bool,
    /// `m` / `startmuted=yes`: joins muted.
    pub start_muted: bool,
}

/// Why a member was made to leave (it otherwise stays until its channel hangs up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// `meetme kick` / `confbridge kick`.
    Kicked,
    /// The last marked user left and this member has `end_marked`.
    MarkedLeft,
}

/// One participant.
#[derive(Debug)]
pub struct Member {
    /// MeetMe's user number (1, 2, … in order of joining).
    pub user_no: u32,
    pub channel: String,
    pub caller: CallerId,
    pub shared: Arc<ChannelShared>,
    /// The channel's queues; `None` for a channel without media (it is listed but silent).
    pub media: Option<MediaHandle>,
    pub flags: MemberFlags,
    pub joined: Instant,
    /// ConfBridge profile names, shown by `confbridge list <room>`.
    pub user_profile: String,
    pub bridge_profile: String,
    pub menu: String,
    pub muted: AtomicBool,
    leave: Mutex<Option<LeaveReason>>,
    leave_notify: Notify,
}

impl Member {
    /// Ask the member to leave; its application returns.
    pub fn make_leave(&self, why: LeaveReason) {
        let mut l = self.leave.lock();
        if l.is_none() {
            *l = Some(why);
        }
        drop(l);
        self.leave_notify.notify_waiters();
        self.leave_notify.notify_one();
    }

    pub fn leave_reason(&self) -> Option<LeaveReason> {
        *self.leave.lock()
    }

    /// Resolves once [`Member::make_leave`] was called.
    pub async fn left(&self) -> LeaveReason {
        loop {
            let n = self.leave_notify.notified();
            if let Some(r) = self.leave_reason() {
                return r;
            }
            n.await;
        }
    }
}

/// What a new member brings.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub shared: Arc<ChannelShared>,
    pub caller: CallerId,
    pub media: Option<MediaHandle>,
    pub flags: MemberFlags,
    pub user_profile: String,
    pub bridge_profile: String,
    pub menu: String,
}

#[derive(Debug, Default)]
struct RoomState {
    members: Vec<Arc<Member>>,
    next_user_no: u32,
    marked: usize,
}

/// One conference room.
#[derive(Debug)]
pub struct Room {
    pub name: String,
    pub kind: Kind,
    /// Created on demand (MeetMe `d`/`D`, every ConfBridge) rather than from meetme.conf.
    pub dynamic: bool,
    pub created: Instant,
    pub created_wall: SystemTime,
    pub locked: AtomicBool,
    state: Mutex<RoomState>,
    mixer: Mutex<Mixer>,
    /// Set when the room was removed from the registry: its task stops.
    closed: AtomicBool,
    /// Signalled when members join or leave (tests and waiters watch it).
    pub changed: Notify,
}

impl Room {
    fn new(name: &str, kind: Kind, dynamic: bool) -> Room {
        Room {
            name: name.to_string(),
            kind,
            dynamic,
            created: Instant::now(),
            created_wall: SystemTime::now(),
            locked: AtomicBool::new(false),
            state: Mutex::new(RoomState {
                next_user_no: 1,
                ..RoomState::default()
            }),
            mixer: Mutex::new(Mixer::new(Scaling::Saturate)),
            closed: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    /// The members, in order of joining.
    pub fn members(&self) -> Vec<Arc<Member>> {
        self.state.lock().members.clone()
    }

    pub fn len(&self) -> usize {
        self.state.lock().members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marked users present.
    pub fn marked(&self) -> usize {
        self.state.lock().marked
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Is `m` in the conversation (not waiting for a marked user)?
    pub fn is_active(&self, m: &Member) -> bool {
        !m.flags.wait_marked || self.state.lock().marked > 0
    }

    fn add(&self, req: JoinRequest) -> Arc<Member> {
        let mut st = self.state.lock();
        let user_no = st.next_user_no;
        st.next_user_no += 1;
        let m = Arc::new(Member {
            user_no,
            channel: req.shared.name.clone(),
            caller: req.caller,
            shared: req.shared,
            media: req.media,
            muted: AtomicBool::new(req.flags.start_muted),
            flags: req.flags,
            joined: Instant::now(),
            user_profile: req.user_profile,
            bridge_profile: req.bridge_profile,
            menu: req.menu,
            leave: Mutex::new(None),
            leave_notify: Notify::new(),
        });
        if m.flags.marked {
            st.marked += 1;
        }
        st.members.push(m.clone());
        drop(st);
        self.changed.notify_waiters();
        m
    }

    /// Remove member `user_no`; returns how many are left.
    fn remove(&self, user_no: u32) -> usize {
        let mut st = self.state.lock();
        let Some(i) = st.members.iter().position(|m| m.user_no == user_no) else {
            return st.members.len();
        };
        let m = st.members.remove(i);
        if m.flags.marked {
            st.marked -= 1;
            if st.marked == 0 {
                for o in st.members.iter().filter(|o| o.flags.end_marked) {
                    o.make_leave(LeaveReason::MarkedLeft);
                }
            }
        }
        let left = st.members.len();
        drop(st);
        self.changed.notify_waiters();
        left
    }

    /// One 20 ms step: read one frame from every member, mix, and send each its mix.
    pub fn tick(&self) {
        let st = self.state.lock();
        let marked = st.marked > 0;
        let mut frames: Vec<Option<Audio>> = Vec::with_capacity(st.members.len());
        let mut active = Vec::with_capacity(st.members.len());
        for m in &st.members {
            let is_active = !m.flags.wait_marked || marked;
            active.push(is_active);
            let input = m.media.as_ref().and_then(next_voice);
            let talks = is_active && !m.flags.listen_only && !m.muted.load(Ordering::Relaxed);
            frames.push(if talks { input } else { None });
        }
        let inputs: Vec<Option<&[i16]>> = frames.iter().map(|f| f.as_deref()).collect();
        let mixes = self.mixer.lock().mix(&inputs);
        for ((m, mix), is_active) in st.members.iter().zip(mixes).zip(active) {
            let Some(h) = &m.media else { continue };
            if is_active && !m.flags.talk_only {
                h.to_far.push_lossy(Frame::voice(mix));
            } else {
                h.to_far.push_lossy(Frame::silence());
            }
        }
    }
}

/// The next voice frame a member sent, skipping digits and any backlog beyond
/// [`MAX_INPUT_BACKLOG`] frames.
fn next_voice(h: &MediaHandle) -> Option<Audio> {
    while h.from_far.len() > MAX_INPUT_BACKLOG {
        h.from_far.try_pop();
    }
    while let Some(f) = h.from_far.try_pop() {
        if let Frame::Voice(v) = f {
            return Some(v);
        }
    }
    None
}

/// Why [`Conferences::join`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    NoSuchRoom,
    Locked,
}

/// Every room of one PBX.
#[derive(Debug, Default)]
pub struct Conferences {
    rooms: Mutex<IndexMap<(Kind, String), Arc<Room>>>,
    /// Rooms get no mixing task (tests drive [`Room::tick`] themselves).
    manual_ticks: AtomicBool,
}

impl Conferences {
    /// For tests: do not start mixing tasks; call [`Room::tick`] instead.
    pub fn set_manual_ticks(&self, on: bool) {
        self.manual_ticks.store(on, Ordering::SeqCst);
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<Arc<Room>> {
        self.rooms.lock().get(&(kind, name.to_string())).cloned()
    }

    /// Rooms of one kind, in order of creation.
    pub fn list(&self, kind: Kind) -> Vec<Arc<Room>> {
        self.rooms
            .lock()
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Join room `name`, creating it when `create` allows (`Some(dynamic)`). Fails when the
    /// room does not exist and may not be created, or is locked (admins may still join).
    pub fn join(
        &self,
        kind: Kind,
        name: &str,
        create: Option<bool>,
        req: JoinRequest,
    ) -> Result<(Arc<Room>, Arc<Member>), JoinError> {
        let mut rooms = self.rooms.lock();
        let key = (kind, name.to_string());
        let room = match rooms.get(&key) {
            Some(r) if r.locked.load(Ordering::SeqCst) && !req.flags.admin => {
                return Err(JoinError::Locked)
            }
            Some(r) => r.clone(),
            None => {
                let dynamic = create.ok_or(JoinError::NoSuchRoom)?;
                let r = Arc::new(Room::new(name, kind, dynamic));
                rooms.insert(key, r.clone());
                if !self.manual_ticks.load(Ordering::SeqCst) {
                    spawn_mixer(r.clone());
                }
                r
            }
        };
        let m = room.add(req);
        Ok((room, m))
    }

    /// `member` leaves `room`; an empty room is removed and its task stops.
    pub fn leave(&self, room: &Arc<Room>, member: &Member) {
        let mut rooms = self.rooms.lock();
        if room.remove(member.user_no) == 0 {
            let key = (room.kind, room.name.clone());
            if rooms.get(&key).is_some_and(|r| Arc::ptr_eq(r, room)) {
                rooms.shift_remove(&key);
            }
            room.closed.store(true, Ordering::SeqCst);
            room.changed.notify_waiters();
        }
    }
}

fn spawn_mixer(room: Arc<Room>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        let mut iv = tokio::time::interval(FRAME_TIME);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            iv.tick().await;
            if room.is_closed() {
                break;
            }
            room.tick();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::frame::{NativeFormat, FRAME_SAMPLES};

    fn req(name: &str, flags: MemberFlags) -> (JoinRequest, MediaHandle) {
        let h = MediaHandle::new(NativeFormat::Slin);
        let r = JoinRequest {
            shared: ChannelShared::new(name.into(), name.into()),
            caller: CallerId::default(),
            media: Some(h.clone()),
            flags,
            user_profile: String::new(),
            bridge_profile: String::new(),
            menu: String::new(),
        };
        (r, h)
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

    #[test]
    fn three_members_hear_the_other_two() {
        let c = Conferences::default();
        c.set_manual_ticks(true);
        let mut hs = Vec::new();
        for (i, n) in ["A", "B", "C"].iter().enumerate() {
            let (r, h) = req(n, MemberFlags::default());
            let (_, m) = c.join(Kind::ConfBridge, "1", Some(true), r).unwrap();
            assert_eq!(m.user_no, i as u32 + 1);
            hs.push(h);
        }
        let room = c.get(Kind::ConfBridge, "1").unwrap();
        for _ in 0..3 {
            hs[0].from_far.push_lossy(tone(1));
            hs[1].from_far.push_lossy(tone(20));
            hs[1]
                .from_far
                .push_lossy(Frame::Dtmf('5', std::time::Duration::ZERO));
            hs[2].from_far.push_lossy(tone(300));
            room.tick();
        }
        assert_eq!(last_out(&hs[0]), Some(tone(320)));
        assert_eq!(last_out(&hs[1]), Some(tone(301)));
        assert_eq!(last_out(&hs[2]), Some(tone(21)));
        // Nothing sent: everybody hears silence.
        room.tick();
        assert!(hs.iter().all(|h| last_out(h) == Some(tone(0))));
    }

    #[test]
    fn waiting_members_join_the_conversation_with_a_marked_user() {
        let c = Conferences::default();
        c.set_manual_ticks(true);
        let w = MemberFlags {
            wait_marked: true,
            end_marked: true,
            ..Default::default()
        };
        let (r1, h1) = req("W1", w.clone());
        let (r2, h2) = req("W2", w);
        let (room, m1) = c.join(Kind::MeetMe, "5", Some(true), r1).unwrap();
        let (_, m2) = c.join(Kind::MeetMe, "5", None, r2).unwrap();
        h1.from_far.push_lossy(tone(7));
        h2.from_far.push_lossy(tone(9));
        room.tick();
        assert!(!room.is_active(&m1));
        assert_eq!(last_out(&h1), Some(tone(0)), "waiting: hears silence");
        assert_eq!(last_out(&h2), Some(tone(0)));
        let (ra, ha) = req(
            "Lead",
            MemberFlags {
                marked: true,
                ..Default::default()
            },
        );
        let (_, lead) = c.join(Kind::MeetMe, "5", None, ra).unwrap();
        assert!(room.is_active(&m1));
        h1.from_far.push_lossy(tone(7));
        h2.from_far.push_lossy(tone(9));
        ha.from_far.push_lossy(tone(100));
        room.tick();
        assert_eq!(last_out(&h1), Some(tone(109)));
        assert_eq!(last_out(&ha), Some(tone(16)));
        // The leader leaves: the x members are asked to leave too.
        c.leave(&room, &lead);
        assert_eq!(m1.leave_reason(), Some(LeaveReason::MarkedLeft));
        assert_eq!(m2.leave_reason(), Some(LeaveReason::MarkedLeft));
        c.leave(&room, &m1);
        assert!(c.get(Kind::MeetMe, "5").is_some());
        c.leave(&room, &m2);
        assert!(c.get(Kind::MeetMe, "5").is_none(), "empty rooms disappear");
        assert!(room.is_closed());
    }

    #[test]
    fn rooms_need_creating_and_kinds_are_separate() {
        let c = Conferences::default();
        c.set_manual_ticks(true);
        let (r, _) = req("X", MemberFlags::default());
        assert_eq!(
            c.join(Kind::MeetMe, "9", None, r.clone()).err(),
            Some(JoinError::NoSuchRoom)
        );
        let (room, _) = c
            .join(Kind::ConfBridge, "9", Some(true), r.clone())
            .unwrap();
        assert!(c.join(Kind::MeetMe, "9", None, r.clone()).is_err());
        assert_eq!(c.list(Kind::ConfBridge).len(), 1);
        assert!(c.list(Kind::MeetMe).is_empty());
        room.locked.store(true, Ordering::SeqCst);
        assert_eq!(
            c.join(Kind::ConfBridge, "9", None, r.clone()).err(),
            Some(JoinError::Locked)
        );
        let mut admin = r;
        admin.flags.admin = true;
        assert!(c.join(Kind::ConfBridge, "9", None, admin).is_ok());
    }

    #[test]
    fn muted_listen_only_and_talk_only() {
        let c = Conferences::default();
        c.set_manual_ticks(true);
        let (r1, h1) = req(
            "L",
            MemberFlags {
                listen_only: true,
                ..Default::default()
            },
        );
        let (r2, h2) = req(
            "T",
            MemberFlags {
                talk_only: true,
                ..Default::default()
            },
        );
        let (r3, h3) = req("N", MemberFlags::default());
        let (room, _) = c.join(Kind::MeetMe, "1", Some(true), r1).unwrap();
        c.join(Kind::MeetMe, "1", None, r2).unwrap();
        let (_, n) = c.join(Kind::MeetMe, "1", None, r3).unwrap();
        h1.from_far.push_lossy(tone(1));
        h2.from_far.push_lossy(tone(10));
        h3.from_far.push_lossy(tone(100));
        room.tick();
        assert_eq!(last_out(&h1), Some(tone(110)));
        assert_eq!(last_out(&h2), Some(tone(0)), "talk only hears nothing");
        assert_eq!(last_out(&h3), Some(tone(10)), "listen only is not heard");
        n.muted.store(true, Ordering::SeqCst);
        h3.from_far.push_lossy(tone(100));
        room.tick();
        assert_eq!(last_out(&h1), Some(tone(0)));
    }

    #[test]
    fn backlog_is_bounded() {
        let h = MediaHandle::new(NativeFormat::Slin);
        for i in 0..10 {
            h.from_far.push_lossy(tone(i));
        }
        assert_eq!(next_voice(&h), Some(vec![6; FRAME_SAMPLES].into()));
    }
}
