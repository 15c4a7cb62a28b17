//! Conference administration from the dialplan: MeetMeAdmin(), MeetMeChannelAdmin(),
//! MeetMeCount() and `MEETME_INFO()` (`app_meetme.so`); ConfKick(), `CONFBRIDGE()`,
//! `CONFBRIDGE_INFO()` and `CONFBRIDGE_CHANNELS()` (`app_confbridge.so`). They act on the
//! shared room registry ([`super::rooms`]) as the CLI commands do.

use super::rooms::{Kind, LeaveReason, Member, Room};
use super::{find_room, rooms, MemberFlags};
use crate::apps::{args, say, App, AppResult};
use crate::funcs::strings::{func, meta};
use crate::pbx::func::{Func, FuncError};
use crate::pbx::{Channel, Pbx};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What MeetMeAdmin did (`MEETMEADMINSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminStatus {
    NoParse,
    NotFound,
    Failed,
    Ok,
}

impl AdminStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminStatus::NoParse => "NOPARSE",
            AdminStatus::NotFound => "NOTFOUND",
            AdminStatus::Failed => "FAILED",
            AdminStatus::Ok => "OK",
        }
    }
}

/// Run MeetMeAdmin's `command` on room `confno` (app_meetme's `admin_exec`).
pub fn meetme_admin(pbx: &Pbx, confno: &str, command: &str, user: Option<&str>) -> AdminStatus {
    let Some(cmd) = command.chars().next() else {
        pbx.warning("app_meetme.c: MeetmeAdmin requires a command!");
        return AdminStatus::NoParse;
    };
    let Some(room) = find_room(pbx, Kind::MeetMe, confno) else {
        pbx.warning(&format!(
            "app_meetme.c: Conference number '{confno}' not found!"
        ));
        return AdminStatus::NotFound;
    };
    let members = room.members();
    let target = match user {
        Some(u) => {
            let found = u
                .trim()
                .parse::<u32>()
                .ok()
                .and_then(|n| members.iter().find(|m| m.user_no == n).cloned());
            if found.is_none() {
                pbx.notice("app_meetme.c: Specified User not found!");
                return AdminStatus::NotFound;
            }
            found
        }
        None if "mMtTuUrk".contains(cmd) => {
            pbx.notice("app_meetme.c: No user specified!");
            return AdminStatus::NotFound;
        }
        None => None,
    };
    let mute_all = |on: bool, admins_too: bool| {
        for m in &members {
            if admins_too || !m.flags.admin {
                m.muted.store(on, Ordering::SeqCst);
            }
        }
    };
    match cmd {
        'L' => room.locked.store(true, Ordering::SeqCst),
        'l' => room.locked.store(false, Ordering::SeqCst),
        'K' => members
            .iter()
            .for_each(|m| m.make_leave(LeaveReason::Kicked)),
        'e' => match members.iter().max_by_key(|m| m.user_no) {
            None => {
                pbx.notice("app_meetme.c: No last user to kick!");
                return AdminStatus::Failed;
            }
            Some(m) if m.flags.admin => {
                pbx.notice("app_meetme.c: Not kicking last user, is an Admin!");
                return AdminStatus::Failed;
            }
            Some(m) => m.make_leave(LeaveReason::Kicked),
        },
        'M' | 'm' | 'k' => {
            if let Some(m) = &target {
                match cmd {
                    'k' => m.make_leave(LeaveReason::Kicked),
                    c => m.muted.store(c == 'M', Ordering::SeqCst),
                }
            }
        }
        'N' => mute_all(true, false),
        'n' => mute_all(false, true),
        // Scheduled (realtime) conferences only: none here.
        'E' => return AdminStatus::Failed,
        // Volume commands (r R s S t T u U v V): accepted, no effect (see the compat notes).
        _ => {}
    }
    AdminStatus::Ok
}

/// The MeetMe member on `channel`, in whichever room.
fn meetme_member(pbx: &Pbx, channel: &str) -> Option<Arc<Member>> {
    rooms(pbx)
        .list(Kind::MeetMe)
        .into_iter()
        .find_map(|r| r.members().into_iter().find(|m| m.channel == channel))
}

pub struct MeetMeAdmin;

#[async_trait]
impl App for MeetMeAdmin {
    app_meta!(
        "MeetMeAdmin",
        "MeetMe conference administration.",
        "MeetMeAdmin(confno,command[,user])",
        "Run admin command for conference confno. Commands: e (eject last user that joined), E (extend conference end time, if scheduled: FAILED, no scheduled conferences), k (kick one user), K (kick all users), l (unlock), L (lock), m (unmute one user), M (mute one user), n (unmute all users), N (mute all non-admin users), r R s S t T u U v V (volume commands: accepted without effect). Sets MEETMEADMINSTATUS to NOPARSE (invalid arguments), NOTFOUND (conference or user not found), FAILED or OK."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .warning("app_meetme.c: MeetMeAdmin requires an argument!");
            chan.set_var("MEETMEADMINSTATUS", "NOPARSE");
            return Err(crate::pbx::Hangup);
        }
        let a = args::split(data, ',');
        let status = meetme_admin(
            &chan.pbx,
            args::nth(&a, 0).trim(),
            args::nth(&a, 1).trim(),
            a.get(2).map(|s| s.as_str()).filter(|s| !s.is_empty()),
        );
        chan.set_var("MEETMEADMINSTATUS", status.as_str());
        if status == AdminStatus::NoParse {
            return Err(crate::pbx::Hangup);
        }
        Ok(())
    }
}

pub struct MeetMeChannelAdmin;

#[async_trait]
impl App for MeetMeChannelAdmin {
    app_meta!(
        "MeetMeChannelAdmin",
        "MeetMe conference Administration (channel specific).",
        "MeetMeChannelAdmin(channel,command)",
        "Run admin command for a specific channel in any conference. Commands: k (kick the specified user out of the conference he is in), m (unmute the specified user), M (mute the specified user)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let (channel, command) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        let pbx = chan.pbx.clone();
        if data.trim().is_empty() {
            pbx.warning("app_meetme.c: MeetMeChannelAdmin requires two arguments!");
            return Err(crate::pbx::Hangup);
        }
        if channel.is_empty() || command.is_empty() {
            pbx.warning(&format!(
                "app_meetme.c: MeetMeChannelAdmin requires a {}!",
                if channel.is_empty() {
                    "channel name"
                } else {
                    "command"
                }
            ));
            return Err(crate::pbx::Hangup);
        }
        let Some(m) = meetme_member(&pbx, channel) else {
            pbx.notice(&format!(
                "app_meetme.c: Specified user ({channel}) not found"
            ));
            return Ok(());
        };
        match command.chars().next() {
            Some('M') => m.muted.store(true, Ordering::SeqCst),
            Some('m') => m.muted.store(false, Ordering::SeqCst),
            Some('k') => m.make_leave(LeaveReason::Kicked),
            _ => pbx.warning(&format!(
                "app_meetme.c: Unknown MeetMeChannelAdmin command '{command}'"
            )),
        }
        Ok(())
    }
}

pub struct MeetMeCount;

#[async_trait]
impl App for MeetMeCount {
    app_meta!(
        "MeetMeCount",
        "MeetMe participant count.",
        "MeetMeCount(confno[,var])",
        "Plays back the number of users in the specified MeetMe conference. If var is specified, playback will be skipped and the value will be returned in the variable. Upon application completion, MeetMeCount will hangup the channel, unless priority n+1 exists, in which case priority progress will continue."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let confno = args::nth(&a, 0).trim();
        if confno.is_empty() {
            chan.pbx
                .warning("app_meetme.c: MeetMeCount requires an argument (conference number)");
            return Err(crate::pbx::Hangup);
        }
        let count = find_room(&chan.pbx, Kind::MeetMe, confno).map_or(0, |r| r.len());
        let var = args::nth(&a, 1).trim();
        if !var.is_empty() {
            chan.set_var(var, &count.to_string());
            return Ok(());
        }
        if !chan.is_up() {
            chan.answer();
        }
        let prompts = say::number_prompts_en(count as i64).unwrap_or_default();
        say::say_prompts(chan, &prompts, false).await
    }
}

func!(
    MeetMeInfo,
    "MEETME_INFO",
    "Query a given conference of various properties.",
    "MEETME_INFO(keyword,confno)",
    "keyword: lock (whether the conference is locked), parties (number of parties), activity (duration of the conference in seconds), dynamic (whether the conference is dynamic). confno: the conference number. An unknown conference or keyword gives 0."
);

impl Func for MeetMeInfo {
    meta!();
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let a = args::split(data, ',');
        let (keyword, confno) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        if data.trim().is_empty() {
            return Err(FuncError::Usage(
                "Syntax: MEETME_INFO() requires two arguments".into(),
            ));
        }
        if keyword.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: MEETME_INFO() requires a keyword".into(),
            ));
        }
        if confno.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: MEETME_INFO() requires a conference number".into(),
            ));
        }
        let pbx = &chan.pbx;
        let Some(room) = find_room(pbx, Kind::MeetMe, confno) else {
            pbx.notice(&format!(
                "app_meetme.c: Error: conference ({confno}) not found"
            ));
            return Ok("0".into());
        };
        let v = match keyword.to_ascii_lowercase().as_str() {
            "lock" => u64::from(room.locked.load(Ordering::SeqCst)),
            "parties" => room.len() as u64,
            "activity" => room.created.elapsed().as_secs(),
            "dynamic" => u64::from(room.dynamic),
            _ => {
                pbx.notice(&format!(
                    "app_meetme.c: Error: invalid keyword: '{keyword}'"
                ));
                0
            }
        };
        Ok(v.to_string())
    }
}

/// Kick `who` (`all`, `participants` — the non-admins — or a channel name) out of `room`;
/// returns how many were kicked.
pub fn kick(room: &Room, who: &str) -> usize {
    let all = who.eq_ignore_ascii_case("all");
    let participants = who.eq_ignore_ascii_case("participants");
    let mut n = 0;
    for m in room.members() {
        if all || (participants && !m.flags.admin) || m.channel == who {
            m.make_leave(LeaveReason::Kicked);
            n += 1;
        }
    }
    n
}

pub struct ConfKick;

#[async_trait]
impl App for ConfKick {
    app_meta!(
        "ConfKick",
        "Kicks channel(s) from the requested ConfBridge.",
        "ConfKick([conference[,channel]])",
        "Kicks the requested channel(s) from a conference bridge. channel: the channel to kick, all to kick all users, or participants to kick all non-admin participants (default: all). Sets CONFKICKSTATUS to SUCCESS or FAILURE."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let (conf, who) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        let pbx = chan.pbx.clone();
        if conf.is_empty() {
            pbx.warning("app_confbridge.c: No conference bridge specified.");
            chan.set_var("CONFKICKSTATUS", "FAILURE");
            return Ok(());
        }
        let Some(room) = find_room(&pbx, Kind::ConfBridge, conf) else {
            pbx.warning(&format!(
                "app_confbridge.c: No conference bridge named '{conf}' found!"
            ));
            chan.set_var("CONFKICKSTATUS", "FAILURE");
            return Ok(());
        };
        let target = if who.is_empty() { "all" } else { who };
        if kick(&room, target) == 0 {
            if who.is_empty()
                || who.eq_ignore_ascii_case("all")
                || who.eq_ignore_ascii_case("participants")
            {
                pbx.warning(&format!(
                    "app_confbridge.c: No participants found in conference bridge '{conf}'!"
                ));
            } else {
                pbx.warning(&format!(
                    "app_confbridge.c: No participant named '{who}' found in conference bridge '{conf}'!"
                ));
            }
            chan.set_var("CONFKICKSTATUS", "FAILURE");
            return Ok(());
        }
        chan.set_var("CONFKICKSTATUS", "SUCCESS");
        Ok(())
    }
}

/// The ConfBridge room's members `which` selects (`CONFBRIDGE_CHANNELS` and `_INFO` types).
fn members_of(room: &Room, which: &str) -> Option<Vec<Arc<Member>>> {
    let all = room.members();
    let active = |m: &Arc<Member>| room.is_active(m);
    Some(match which.to_ascii_lowercase().as_str() {
        "parties" => {
            let (mut a, w): (Vec<_>, Vec<_>) = all.into_iter().partition(active);
            a.extend(w);
            a
        }
        "active" => all.into_iter().filter(active).collect(),
        "waiting" => all.into_iter().filter(|m| !active(m)).collect(),
        "admins" => all
            .into_iter()
            .filter(|m| active(m) && m.flags.admin)
            .collect(),
        "marked" => all
            .into_iter()
            .filter(|m| active(m) && m.flags.marked)
            .collect(),
        _ => return None,
    })
}

func!(
    ConfBridgeInfo,
    "CONFBRIDGE_INFO",
    "Get information about a ConfBridge conference.",
    "CONFBRIDGE_INFO(type,conf)",
    "type: parties (number of users), admins (admin users), marked (marked users), locked (whether the conference is locked), muted (whether the conference is muted: always 0, muting a whole conference is not supported). conf: the conference name. An unknown conference gives 0."
);

impl Func for ConfBridgeInfo {
    meta!();
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let a = args::split(data, ',');
        let (ty, conf) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        if ty.is_empty() || conf.is_empty() {
            return Err(FuncError::Usage("Usage: CONFBRIDGE_INFO(type,conf)".into()));
        }
        let Some(room) = find_room(&chan.pbx, Kind::ConfBridge, conf) else {
            return Ok("0".into());
        };
        let n = match ty.to_ascii_lowercase().as_str() {
            "locked" => usize::from(room.locked.load(Ordering::SeqCst)),
            "muted" => 0,
            t @ ("parties" | "admins" | "marked") => members_of(&room, t).map_or(0, |v| v.len()),
            _ => {
                chan.pbx.error(&format!(
                    "app_confbridge.c: Invalid keyword '{ty}' passed to CONFBRIDGE_INFO."
                ));
                0
            }
        };
        Ok(n.to_string())
    }
}

func!(
    ConfBridgeChannels,
    "CONFBRIDGE_CHANNELS",
    "Get a list of channels in a ConfBridge conference.",
    "CONFBRIDGE_CHANNELS(type,conf)",
    "Returns a comma-separated list of channels in a ConfBridge conference, filtered by type: admins, marked, parties (all users: the active ones, then those waiting), active, waiting. An unknown conference is an error."
);

impl Func for ConfBridgeChannels {
    meta!();
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let a = args::split(data, ',');
        let (ty, conf) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        if ty.is_empty() || conf.is_empty() {
            return Err(FuncError::Usage(
                "Usage: CONFBRIDGE_CHANNELS(category,confno)".into(),
            ));
        }
        let Some(room) = find_room(&chan.pbx, Kind::ConfBridge, conf) else {
            return Err(FuncError::Other(format!("No such conference: {conf}")));
        };
        match members_of(&room, ty) {
            Some(v) => Ok(v
                .iter()
                .map(|m| m.channel.as_str())
                .collect::<Vec<_>>()
                .join(",")),
            None => {
                chan.pbx.error(&format!(
                    "app_confbridge.c: Invalid keyword '{ty}' passed to CONFBRIDGE_CHANNELS."
                ));
                Ok(String::new())
            }
        }
    }
}

/// Profile options set with `CONFBRIDGE()` for the channel's next ConfBridge (a datastore).
#[derive(Debug, Clone, Default)]
pub struct DynamicProfiles {
    pub user: BTreeMap<String, String>,
    pub bridge: BTreeMap<String, String>,
    pub menu: BTreeMap<String, String>,
}

/// The datastore name of [`DynamicProfiles`].
pub const DYNAMIC_PROFILES: &str = "confbridge";

/// The user profile options ferrisk's ConfBridge acts on (others are kept, unused).
const USER_OPTIONS: &[&str] = &[
    "admin",
    "marked",
    "startmuted",
    "quiet",
    "wait_marked",
    "end_marked",
    "music_on_hold_when_empty",
    "music_on_hold_class",
    "announce_user_count",
    "announce_user_count_all",
    "announce_only_user",
    "announce_join_leave",
    "announce_join_leave_review",
    "announcement",
    "dsp_drop_silence",
    "dsp_talking_threshold",
    "dsp_silence_threshold",
    "talk_detection_events",
    "denoise",
    "jitterbuffer",
    "pin",
    "dtmf_passthrough",
    "timeout",
    "text_messaging",
    "answer_channel",
    "send_events",
    "echo_events",
    "template",
];

const BRIDGE_OPTIONS: &[&str] = &[
    "max_members",
    "record_conference",
    "record_file",
    "record_options",
    "record_command",
    "record_file_append",
    "record_file_timestamp",
    "internal_sample_rate",
    "mixing_interval",
    "maximum_sample_rate",
    "binaural_active",
    "video_mode",
    "video_update_discard",
    "remb_send_interval",
    "remb_behavior",
    "remb_estimated_bitrate",
    "enable_events",
    "language",
    "regcontext",
    "sound_join",
    "sound_leave",
    "sound_only_person",
    "sound_has_joined",
    "sound_has_left",
    "sound_kicked",
    "sound_muted",
    "sound_unmuted",
    "sound_there_are",
    "sound_other_in_party",
    "sound_place_into_conference",
    "sound_wait_for_leader",
    "sound_leader_has_left",
    "sound_get_pin",
    "sound_invalid_pin",
    "sound_locked",
    "sound_locked_now",
    "sound_unlocked_now",
    "sound_error_menu",
    "sound_participants_muted",
    "sound_participants_unmuted",
    "sound_begin",
    "sound_binaural_on",
    "sound_binaural_off",
    "template",
];

func!(
    ConfBridgeProfile,
    "CONFBRIDGE",
    "Set a custom dynamic bridge, user, or menu profile on a channel for the ConfBridge application using the same options available in confbridge.conf.",
    "CONFBRIDGE(type,option)",
    "Write-only. type: bridge, user or menu; option: a confbridge.conf option of that profile type (template names the profile the others change; clear forgets the type's options). The next ConfBridge() on the channel uses the dynamic profile instead of the named one. Example: Set(CONFBRIDGE(user,admin)=yes). Of the user options ferrisk acts on admin, marked, startmuted, quiet, wait_marked and end_marked; the others and the bridge and menu options are kept but have no effect."
);

impl Func for ConfBridgeProfile {
    meta!();
    fn read(&self, _chan: &mut Channel, _data: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn writable(&self) -> bool {
        true
    }
    fn write(&self, chan: &mut Channel, data: &str, value: &str) -> Result<(), FuncError> {
        let a = args::split(data, ',');
        let (ty, opt) = (
            args::nth(&a, 0).trim().to_ascii_lowercase(),
            args::nth(&a, 1).trim().to_ascii_lowercase(),
        );
        let invalid = || {
            FuncError::Usage(format!(
                "CONFBRIDGE({ty},{opt}) cannot be set to '{value}'. Invalid option, type, or value."
            ))
        };
        if chan
            .datastores
            .get::<DynamicProfiles>(DYNAMIC_PROFILES)
            .is_none()
        {
            chan.datastores
                .insert(DYNAMIC_PROFILES, DynamicProfiles::default());
        }
        let Some(p) = chan.datastores.get_mut::<DynamicProfiles>(DYNAMIC_PROFILES) else {
            return Err(invalid());
        };
        let (map, known): (&mut BTreeMap<String, String>, Option<&[&str]>) = match ty.as_str() {
            "user" => (&mut p.user, Some(USER_OPTIONS)),
            "bridge" => (&mut p.bridge, Some(BRIDGE_OPTIONS)),
            "menu" => (&mut p.menu, None),
            _ => return Err(invalid()),
        };
        if opt == "clear" {
            map.clear();
            return Ok(());
        }
        if opt.is_empty() || known.is_some_and(|k| !k.contains(&opt.as_str())) {
            return Err(invalid());
        }
        map.insert(opt, value.trim().to_string());
        Ok(())
    }
}

/// Apply `CONFBRIDGE(user,…)` options to `flags` (the template's flags).
pub fn apply_user_options(flags: &mut MemberFlags, user: &BTreeMap<String, String>) {
    let yes = |k: &str| user.get(k).map(|v| crate::config::is_true(v));
    let set = |f: &mut bool, k: &str| {
        if let Some(v) = yes(k) {
            *f = v;
        }
    };
    set(&mut flags.admin, "admin");
    set(&mut flags.marked, "marked");
    set(&mut flags.start_muted, "startmuted");
    set(&mut flags.quiet, "quiet");
    set(&mut flags.wait_marked, "wait_marked");
    set(&mut flags.end_marked, "end_marked");
}
