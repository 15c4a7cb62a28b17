//! Conferences: `MeetMe()` and `ConfBridge()`, and their CLI commands (`meetme list|kick`,
//! `confbridge list|kick`).
//!
//! The rooms and the mixing live in [`crate::apps::conference::rooms`]; an application only joins
//! the room, waits until its channel hangs up or is made to leave (kicked, or the last marked
//! user left with `x` / `end_marked`), leaves, and sets the result variables. While a channel
//! is in a room its audio is read and written by the room's mixing task.
//!
//! Not done (see docs/compatibility.md): prompts (join/leave sounds, "you are the only
//! person", PIN prompts — `D` and a PIN argument are accepted without asking), the DTMF menus
//! (`s`, `p`, `X`, ConfBridge menus), recording, talker detection, music on hold while waiting
//! (members hear silence).

use self::rooms::{
    Conferences, JoinError, JoinRequest, Kind, LeaveReason, Member, MemberFlags, Room,
};
use super::{args, App, AppResult};
use crate::cli::format::{col, hms_colon};
use crate::cli::{filter_prefix, CliError, CliResult, CliState, Command, CommandRegistry, Ctx};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, SupportLevel};
use crate::pbx::{blocking, Channel, Hangup, Pbx};
use async_trait::async_trait;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `app_meetme.so`: MeetMe and the `meetme` commands.
pub struct AppMeetMe;

impl Module for AppMeetMe {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_meetme.so", "MeetMe conference bridge")
            .support(SupportLevel::Deprecated)
            .configs(&["meetme.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        ctx.register_app(Arc::new(MeetMe));
        ctx.register_app(Arc::new(admin::MeetMeAdmin));
        ctx.register_app(Arc::new(admin::MeetMeChannelAdmin));
        ctx.register_app(Arc::new(admin::MeetMeCount));
        ctx.register_func(Arc::new(admin::MeetMeInfo));
        ctx.register_cli_with(register_meetme_cli);
        Ok(())
    }
}

/// `app_confbridge.so`: ConfBridge and the `confbridge` commands.
pub struct AppConfBridge;

impl Module for AppConfBridge {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_confbridge.so", "Conference Bridge Application")
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        ctx.register_app(Arc::new(ConfBridge));
        ctx.register_app(Arc::new(admin::ConfKick));
        ctx.register_func(Arc::new(admin::ConfBridgeInfo));
        ctx.register_func(Arc::new(admin::ConfBridgeChannels));
        ctx.register_func(Arc::new(admin::ConfBridgeProfile));
        ctx.register_cli_with(register_confbridge_cli);
        Ok(())
    }
}

/// The rooms of both conference modules (MeetMe and ConfBridge rooms are separate
/// namespaces in one registry; it outlives either module, and rooms end with their members).
pub fn rooms(pbx: &Pbx) -> Arc<Conferences> {
    pbx.services
        .get_or_insert_with("conference rooms", Conferences::default)
}

/// How a stay in a room ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Hangup,
    Left(LeaveReason),
}

/// Join, stay until hangup or until made to leave, leave. Returns the outcome and the
/// seconds spent in the room.
async fn attend(
    chan: &mut Channel,
    kind: Kind,
    room: &str,
    create: Option<bool>,
    flags: MemberFlags,
    profiles: (String, String, String),
) -> Result<(Outcome, u64), JoinError> {
    if !chan.is_up() {
        chan.answer();
    }
    let req = JoinRequest {
        shared: chan.shared.clone(),
        caller: chan.caller.clone(),
        media: chan.media.clone(),
        flags,
        user_profile: profiles.0,
        bridge_profile: profiles.1,
        menu: profiles.2,
    };
    let pbx = chan.pbx.clone();
    let (room, member) = match rooms(&pbx).join(kind, room, create, req) {
        Ok(x) => x,
        Err(e) => {
            if e == JoinError::Locked {
                pbx.verbose_line(3, &format!("Conference '{room}' is locked"));
            }
            return Err(e);
        }
    };
    if let Some(m) = &chan.media {
        // Prompt audio still queued towards the caller would delay the conference.
        m.to_far.clear();
        m.from_far.clear();
    }
    let outcome = tokio::select! {
        _ = chan.wait_hangup(None) => Outcome::Hangup,
        r = member.left() => Outcome::Left(r),
    };
    let secs = member.joined.elapsed().as_secs();
    rooms(&pbx).leave(&room, &member);
    Ok((outcome, secs))
}

/// MeetMe option letters.
fn meetme_flags(opts: &str) -> (MemberFlags, bool) {
    let o = args::options(opts);
    let has = |c: char| o.contains_key(&c);
    let flags = MemberFlags {
        marked: has('A'),
        admin: has('a'),
        wait_marked: has('w'),
        end_marked: has('x'),
        listen_only: has('l'),
        talk_only: has('t'),
        quiet: has('q'),
        start_muted: has('m'),
    };
    (flags, has('d') || has('D'))
}

/// Rooms configured in `meetme.conf` `[rooms]` (`conf => confno[,pin[,adminpin]]`). Reads
/// the file (each time, as app_meetme does): call it on the blocking pool.
fn static_meetme_room(pbx: &Pbx, room: &str) -> bool {
    let s = &pbx.settings;
    let Ok(cf) = crate::config::load(&s.astetcdir, "meetme.conf", &s.load_options()) else {
        return false;
    };
    cf.section("rooms").is_some_and(|sec| {
        sec.get_all("conf")
            .any(|e| e.value.split(',').next().map(str::trim) == Some(room))
    })
}

struct MeetMe;

#[async_trait]
impl App for MeetMe {
    fn name(&self) -> &'static str {
        "MeetMe"
    }
    fn synopsis(&self) -> &'static str {
        "MeetMe conference bridge."
    }
    fn syntax(&self) -> &'static str {
        "MeetMe([confno][,options[,pin]])"
    }
    fn description(&self) -> &'static str {
        "Enters the user into a specified MeetMe conference. Options: a (admin), A (marked user), d (dynamically add the conference), D (dynamic, PIN accepted without asking), l (listen only), m (start muted), q (quiet), t (talk only), w (wait until a marked user enters; hear silence meanwhile), x (leave, hanging up, when the last marked user leaves). Other options are accepted and ignored. Sets MEETMESECS to the seconds spent in the conference. The channel stays until it hangs up or is kicked (the dialplan then continues)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let room = args::nth(&a, 0).trim().to_string();
        if room.is_empty() {
            chan.pbx.warning(
                "app_meetme.c: MeetMe requires a conference number (asking for one is not supported)",
            );
            return Ok(());
        }
        let (flags, dynamic) = meetme_flags(args::nth(&a, 1));
        let create = if dynamic {
            Some(true)
        } else {
            let (pbx, r) = (chan.pbx.clone(), room.clone());
            let configured = blocking::run(move || static_meetme_room(&pbx, &r))
                .await
                .unwrap_or(false);
            configured.then_some(false)
        };
        match attend(chan, Kind::MeetMe, &room, create, flags, Default::default()).await {
            Err(JoinError::NoSuchRoom) => {
                chan.pbx.verbose_line(
                    3,
                    &format!("Conference {room} does not exist (use the d option to create it)"),
                );
                Ok(())
            }
            // As Asterisk (after its conf-locked prompt): the call ends.
            Err(JoinError::Locked) => Err(Hangup),
            Ok((outcome, secs)) => {
                chan.set_var("MEETMESECS", &secs.to_string());
                match outcome {
                    Outcome::Left(LeaveReason::Kicked) => Ok(()),
                    _ => Err(Hangup),
                }
            }
        }
    }
}

/// A ConfBridge user profile from `confbridge.conf` (`type=user`); defaults otherwise.
/// Reads the file: call it on the blocking pool.
fn confbridge_user_flags(pbx: &Pbx, profile: &str) -> MemberFlags {
    let s = &pbx.settings;
    let mut f = MemberFlags::default();
    let Ok(cf) = crate::config::load(&s.astetcdir, "confbridge.conf", &s.load_options()) else {
        return f;
    };
    let Some(sec) = cf.section(profile) else {
        return f;
    };
    if sec
        .get("type")
        .is_some_and(|t| !t.eq_ignore_ascii_case("user"))
    {
        return f;
    }
    let yes = |k: &str| sec.get(k).is_some_and(crate::config::is_true);
    f.admin = yes("admin");
    f.marked = yes("marked");
    f.wait_marked = yes("wait_marked");
    f.end_marked = yes("end_marked");
    f.quiet = yes("quiet");
    f.start_muted = yes("startmuted");
    f
}

struct ConfBridge;

#[async_trait]
impl App for ConfBridge {
    fn name(&self) -> &'static str {
        "ConfBridge"
    }
    fn synopsis(&self) -> &'static str {
        "Conference bridge application."
    }
    fn syntax(&self) -> &'static str {
        "ConfBridge(conference[,bridge_profile[,user_profile[,menu]]])"
    }
    fn description(&self) -> &'static str {
        "Enters the user into a specified conference bridge, created when the first user joins and destroyed when the last leaves. The user profile is read from confbridge.conf (admin, marked, wait_marked, end_marked, quiet, startmuted); without one the default user profile applies. Menus are not supported. Sets CONFBRIDGE_RESULT to HANGUP, KICKED or ENDMARKED; after KICKED and ENDMARKED the dialplan continues."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let room = args::nth(&a, 0).trim().to_string();
        if room.is_empty() {
            chan.pbx
                .warning("app_confbridge.c: ConfBridge requires an argument (conference name)");
            return Err(Hangup);
        }
        let bridge = match args::nth(&a, 1).trim() {
            "" => "default_bridge".to_string(),
            b => b.to_string(),
        };
        let user = match args::nth(&a, 2).trim() {
            "" => "default_user".to_string(),
            u => u.to_string(),
        };
        // Options set with CONFBRIDGE(user,…) replace the named profile: they change their
        // template (default_user unless `template` names one).
        let dynamic = chan
            .datastores
            .get::<admin::DynamicProfiles>(admin::DYNAMIC_PROFILES)
            .map(|p| p.user.clone())
            .filter(|u| !u.is_empty());
        let user = match &dynamic {
            Some(d) => d
                .get("template")
                .cloned()
                .unwrap_or_else(|| "default_user".into()),
            None => user,
        };
        let mut flags = {
            let (pbx, profile) = (chan.pbx.clone(), user.clone());
            blocking::run(move || confbridge_user_flags(&pbx, &profile))
                .await
                .unwrap_or_default()
        };
        if let Some(d) = &dynamic {
            admin::apply_user_options(&mut flags, d);
        }
        let res = attend(
            chan,
            Kind::ConfBridge,
            &room,
            Some(true),
            flags,
            (user, bridge, args::nth(&a, 3).trim().to_string()),
        )
        .await;
        let (result, ret) = match res.map(|r| r.0) {
            Ok(Outcome::Left(LeaveReason::Kicked)) => ("KICKED", Ok(())),
            Ok(Outcome::Left(LeaveReason::MarkedLeft)) => ("ENDMARKED", Ok(())),
            Ok(Outcome::Hangup) => ("HANGUP", Err(Hangup)),
            // A locked room: Asterisk hangs up without setting a result.
            Err(_) => return Err(Hangup),
        };
        chan.set_var("CONFBRIDGE_RESULT", result);
        ret
    }
}

// ---------------------------------------------------------------------------------------
// CLI

/// The `meetme …` commands.
fn register_meetme_cli(r: &CommandRegistry) {
    register_family_cli(r, "meetme");
}

/// The `confbridge …` commands.
fn register_confbridge_cli(r: &CommandRegistry) {
    register_family_cli(r, "confbridge");
}

fn register_family_cli(r: &CommandRegistry, first: &str) {
    let all = CommandRegistry::default();
    register_cli(&all);
    for c in all.list() {
        if c.words.first().is_some_and(|w| w == first) {
            r.register(c);
        }
    }
}

/// Register `meetme list|kick|lock|unlock|mute|unmute` and
/// `confbridge list|kick|lock|unlock|mute|unmute`.
pub fn register_cli(r: &CommandRegistry) {
    register_admin_cli(r);
    r.register(
        Command::new(
            "meetme list",
            "List all conferences or a specific conference.",
            "Usage: meetme list [<confno>] [concise]\n       List all conferences or a specific conference.",
            |c: Ctx| async move { meetme_list(c.pbx(), &c.args) },
        )
        .complete_with(|st, a, p| room_names(st, a, p, Kind::MeetMe)),
    );
    r.register(
        Command::new(
            "meetme kick",
            "Kick a conference or a user in a conference.",
            "Usage: meetme kick <confno> all|<userno>\n       Kick a conference or a user in a conference.",
            |c: Ctx| async move { meetme_kick(c.pbx(), &c.args) },
        )
        .complete_with(|st, a, p| room_names(st, a, p, Kind::MeetMe)),
    );
    r.register(
        Command::new(
            "confbridge list",
            "List conference bridges and participants.",
            "Usage: confbridge list [<name>]\n       Lists all currently active conference bridges or a specific conference bridge.\n\n       When a conference bridge name is provided, flags may be shown for users. Below\n       are the flags and what they represent.\n\n       Flags:\n         A - The user is an admin\n         M - The user is a marked user\n         W - The user must wait for a marked user to join\n         E - The user will be kicked after the last marked user leaves the conference\n         m - The user is muted\n         w - The user is waiting for a marked user to join",
            |c: Ctx| async move { confbridge_list(c.pbx(), &c.args) },
        )
        .complete_with(|st, a, p| room_names(st, a, p, Kind::ConfBridge)),
    );
    r.register(
        Command::new(
            "confbridge kick",
            "Kick participants out of conference bridges.",
            "Usage: confbridge kick <conference> <channel>\n       Kicks a channel out of the conference bridge.\n             (all to kick everyone, participants to kick non-admins).",
            |c: Ctx| async move { confbridge_kick(c.pbx(), &c.args) },
        )
        .complete_with(|st, a, p| room_names(st, a, p, Kind::ConfBridge)),
    );
}

/// `meetme lock|unlock`, `meetme mute|unmute`, `confbridge lock|unlock|mute|unmute`.
fn register_admin_cli(r: &CommandRegistry) {
    for lock in [true, false] {
        let verb = if lock { "lock" } else { "unlock" };
        r.register(
            Command::new(
                &format!("meetme {verb}"),
                "Lock or unlock a conference to new users.",
                "Usage: meetme lock|unlock <confno>\n       Lock or unlock a conference to new users.",
                move |c: Ctx| async move { meetme_lock(c.pbx(), &c.args, lock) },
            )
            .complete_with(|st, a, p| room_names(st, a, p, Kind::MeetMe)),
        );
        r.register(
            Command::new(
                &format!("confbridge {verb}"),
                if lock {
                    "Lock a conference."
                } else {
                    "Unlock a conference."
                },
                &format!("Usage: confbridge {verb} <conference>\n"),
                move |c: Ctx| async move { confbridge_lock(c.pbx(), &c.args, lock) },
            )
            .complete_with(|st, a, p| room_names(st, a, p, Kind::ConfBridge)),
        );
    }
    for mute in [true, false] {
        let verb = if mute { "mute" } else { "unmute" };
        r.register(
            Command::new(
                &format!("meetme {verb}"),
                "Mute or unmute a conference or a user in a conference.",
                "Usage: meetme mute|unmute <confno> all|<userno>\n       Mute or unmute a conference or a user in a conference.",
                move |c: Ctx| async move { meetme_mute(c.pbx(), &c.args, mute) },
            )
            .complete_with(|st, a, p| room_names(st, a, p, Kind::MeetMe)),
        );
        r.register(
            Command::new(
                &format!("confbridge {verb}"),
                if mute {
                    "Mute participants."
                } else {
                    "Unmute participants."
                },
                &format!("Usage: confbridge {verb} <conference> <channel>\n       {} a channel in a conference.\n       (all to {verb} everyone, participants to {verb} non-admins)\n       If the specified channel is a prefix,\n       the action will be taken on the first\n       matching channel.", if mute { "Mute" } else { "Unmute" }),
                move |c: Ctx| async move { confbridge_mute(c.pbx(), &c.args, mute) },
            )
            .complete_with(|st, a, p| room_names(st, a, p, Kind::ConfBridge)),
        );
    }
}

/// `meetme lock|unlock <confno>` (silent).
pub fn meetme_lock(pbx: &Pbx, args: &[String], lock: bool) -> CliResult {
    if args.len() != 1 {
        return Err(CliError::ShowUsage);
    }
    if let Some(room) = find_room(pbx, Kind::MeetMe, &args[0]) {
        room.locked.store(lock, Ordering::SeqCst);
    }
    Ok(String::new())
}

/// `meetme mute|unmute <confno> all|<userno>` (silent; `all` leaves admins alone).
pub fn meetme_mute(pbx: &Pbx, args: &[String], mute: bool) -> CliResult {
    if args.len() != 2 {
        return Err(CliError::ShowUsage);
    }
    let Some(room) = find_room(pbx, Kind::MeetMe, &args[0]) else {
        return Ok(String::new());
    };
    let all = args[1].eq_ignore_ascii_case("all");
    for m in room.members() {
        if (all && !m.flags.admin) || args[1].parse::<u32>().ok() == Some(m.user_no) {
            m.muted.store(mute, Ordering::SeqCst);
        }
    }
    Ok(String::new())
}

/// `confbridge lock|unlock <conference>`.
pub fn confbridge_lock(pbx: &Pbx, args: &[String], lock: bool) -> CliResult {
    if args.len() != 1 {
        return Err(CliError::ShowUsage);
    }
    let Some(room) = find_room(pbx, Kind::ConfBridge, &args[0]) else {
        return Ok(format!("Conference {} is not found\n", args[0]));
    };
    room.locked.store(lock, Ordering::SeqCst);
    Ok(format!(
        "Conference {} is {}.\n",
        args[0],
        if lock { "locked" } else { "unlocked" }
    ))
}

/// `confbridge mute|unmute <conference> <channel>|all|participants` (a channel name may be
/// a prefix: the first match is taken).
pub fn confbridge_mute(pbx: &Pbx, args: &[String], mute: bool) -> CliResult {
    if args.len() != 2 {
        return Err(CliError::ShowUsage);
    }
    let Some(room) = find_room(pbx, Kind::ConfBridge, &args[0]) else {
        return Ok(format!("No conference bridge named '{}' found!\n", args[0]));
    };
    let who = args[1].as_str();
    let all = who.eq_ignore_ascii_case("all");
    let participants = who.eq_ignore_ascii_case("participants");
    let members = room.members();
    let targets: Vec<&Arc<Member>> = if all || participants {
        members.iter().filter(|m| all || !m.flags.admin).collect()
    } else {
        members
            .iter()
            .find(|m| m.channel == who)
            .or_else(|| members.iter().find(|m| m.channel.starts_with(who)))
            .into_iter()
            .collect()
    };
    if targets.is_empty() {
        return Ok(if all || participants {
            format!("No participants found in conference {}\n", args[0])
        } else {
            format!("No channel named '{who}' found in conference {}\n", args[0])
        });
    }
    for m in targets {
        m.muted.store(mute, Ordering::SeqCst);
    }
    Ok(format!(
        "{} {who} from confbridge {}\n",
        if mute { "Muting" } else { "Unmuting" },
        args[0]
    ))
}

fn room_names(st: &CliState, args: &[String], p: &str, kind: Kind) -> Vec<String> {
    if !args.is_empty() {
        return vec![];
    }
    filter_prefix(rooms(&st.pbx).list(kind).iter().map(|r| r.name.clone()), p)
}

fn caller_num(m: &Member, unknown: &str) -> String {
    match &m.caller.num {
        Some(n) if !n.is_empty() => n.clone(),
        _ => unknown.to_string(),
    }
}

fn caller_name(m: &Member, unknown: &str) -> String {
    match &m.caller.name {
        Some(n) if !n.is_empty() => n.clone(),
        _ => unknown.to_string(),
    }
}

/// `%-N.Ns` / `%N.Ns`.
fn left(s: &str, n: usize) -> String {
    col(s, n)
}
fn right(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    format!("{t:>n$}")
}

/// `meetme list [<confno>] [concise]` (app_meetme's `meetme_show_cmd`).
pub fn meetme_list(pbx: &Pbx, args: &[String]) -> CliResult {
    let concise_only = args.len() == 1 && args[0].eq_ignore_ascii_case("concise");
    let rooms = self::rooms(pbx).list(Kind::MeetMe);
    let mut out = String::new();
    if args.is_empty() || concise_only {
        let concise = concise_only;
        if rooms.is_empty() {
            if !concise {
                out.push_str("No active MeetMe conferences.\n");
            }
            return Ok(out);
        }
        if !concise {
            let _ = writeln!(
                out,
                "{:<14} {:<14} {:<10} {:<8}  {:<8}  {:<6}",
                "Conf Num", "Parties", "Marked", "Activity", "Creation", "Locked"
            );
        }
        let mut total = 0;
        for r in &rooms {
            let members = r.len();
            total += members;
            let marked = r.marked();
            let age = hms_colon(r.created.elapsed().as_secs());
            let locked = r.locked.load(Ordering::Relaxed);
            if concise {
                let _ = writeln!(
                    out,
                    "{}!{}!{}!{}!{}!{}",
                    r.name, members, marked, age, r.dynamic as u8, locked as u8
                );
            } else {
                let marked = if marked == 0 {
                    "N/A ".to_string()
                } else {
                    format!("{marked:04}")
                };
                let _ = writeln!(
                    out,
                    "{}   {:04}\t      {}       {}  {:<8}  {:<6}",
                    left(&r.name, 12),
                    members,
                    right(&marked, 4),
                    age,
                    if r.dynamic { "Dynamic" } else { "Static" },
                    if locked { "Yes" } else { "No" }
                );
            }
        }
        if !concise {
            let _ = writeln!(out, "* Total number of MeetMe users: {total}");
        }
        return Ok(out);
    }
    let concise = match args.len() {
        1 => false,
        2 if args[1].eq_ignore_ascii_case("concise") => true,
        _ => return Err(CliError::ShowUsage),
    };
    if rooms.is_empty() {
        if !concise {
            out.push_str("No active MeetMe conferences.\n");
        }
        return Ok(out);
    }
    let Some(room) = rooms.iter().find(|r| r.name == args[0]) else {
        if !concise {
            let _ = writeln!(out, "No such conference: {}.", args[0]);
        }
        return Ok(out);
    };
    for m in room.members() {
        let since = hms_colon(m.joined.elapsed().as_secs());
        let muted = m.muted.load(Ordering::Relaxed);
        // No talk requests or talker detection: Asterisk's empty flag and `talking` of -1.
        let request_to_talk = "";
        let talking = if concise { "-1" } else { "" };
        if concise {
            let _ = writeln!(
                out,
                "{}!{}!{}!{}!{}!{}!{}!{}!{}!{}",
                m.user_no,
                caller_num(&m, ""),
                caller_name(&m, ""),
                m.channel,
                if m.flags.admin { "1" } else { "" },
                if m.flags.listen_only { "1" } else { "" },
                if muted { "1" } else { "" },
                request_to_talk,
                talking,
                since
            );
        } else {
            let _ = writeln!(
                out,
                "User #: {:02} {} {} Channel: {} {} {} {} {} {} {}",
                m.user_no,
                right(&caller_num(&m, "<unknown>"), 12),
                left(&caller_name(&m, "<no name>"), 20),
                m.channel,
                if m.flags.admin { "(Admin)" } else { "" },
                if m.flags.listen_only {
                    "(Listen only)"
                } else {
                    ""
                },
                if muted { "(Admin Muted)" } else { "" },
                request_to_talk,
                talking,
                since
            );
        }
    }
    if !concise {
        let _ = writeln!(out, "{} users in that conference.", room.len());
    }
    Ok(out)
}

fn find_room(pbx: &Pbx, kind: Kind, name: &str) -> Option<Arc<Room>> {
    rooms(pbx).get(kind, name)
}

/// `meetme kick <confno> all|<userno>` (silent, as Asterisk's admin command).
pub fn meetme_kick(pbx: &Pbx, args: &[String]) -> CliResult {
    if args.len() != 2 {
        return Err(CliError::ShowUsage);
    }
    let Some(room) = find_room(pbx, Kind::MeetMe, &args[0]) else {
        return Ok(String::new());
    };
    for m in room.members() {
        if args[1].eq_ignore_ascii_case("all") || args[1].parse::<u32>().ok() == Some(m.user_no) {
            m.make_leave(LeaveReason::Kicked);
        }
    }
    Ok(String::new())
}

/// `confbridge list [<name>]` (app_confbridge's `handle_cli_confbridge_list`).
pub fn confbridge_list(pbx: &Pbx, args: &[String]) -> CliResult {
    let mut out = String::new();
    match args.len() {
        0 => {
            out.push_str("Conference Bridge Name           Users  Marked Locked Muted\n");
            out.push_str("================================ ====== ====== ====== =====\n");
            // Muting a whole conference is not supported.
            let muted = "No";
            for r in rooms(pbx).list(Kind::ConfBridge) {
                let _ = writeln!(
                    out,
                    "{:<32} {:>6} {:>6} {:<6} {muted}",
                    r.name,
                    r.len(),
                    r.marked(),
                    if r.locked.load(Ordering::Relaxed) {
                        "Yes"
                    } else {
                        "No"
                    },
                );
            }
        }
        1 => {
            let Some(room) = find_room(pbx, Kind::ConfBridge, &args[0]) else {
                let _ = writeln!(out, "No conference bridge named '{}' found!", args[0]);
                return Ok(out);
            };
            out.push_str("Channel                        Flags  User Profile     Bridge Profile   Menu             CallerID\n");
            out.push_str("============================== ====== ================ ================ ================ ================\n");
            for m in room.members() {
                let mut fl = String::new();
                if m.flags.admin {
                    fl.push('A');
                }
                if m.flags.marked {
                    fl.push('M');
                }
                if m.flags.wait_marked {
                    fl.push('W');
                }
                if m.flags.end_marked {
                    fl.push('E');
                }
                if !room.is_active(&m) {
                    fl.push('w');
                }
                if m.muted.load(Ordering::Relaxed) {
                    fl.push('m');
                }
                let _ = writeln!(
                    out,
                    "{:<30} {:<6} {:<16} {:<16} {:<16} {}",
                    m.channel,
                    fl,
                    m.user_profile,
                    m.bridge_profile,
                    m.menu,
                    caller_num(&m, "<unknown>")
                );
            }
        }
        _ => return Err(CliError::ShowUsage),
    }
    Ok(out)
}

/// `confbridge kick <conference> <channel>|all|participants`.
pub fn confbridge_kick(pbx: &Pbx, args: &[String]) -> CliResult {
    if args.len() != 2 {
        return Err(CliError::ShowUsage);
    }
    let Some(room) = find_room(pbx, Kind::ConfBridge, &args[0]) else {
        return Ok(format!("No conference bridge named '{}' found!\n", args[0]));
    };
    let who = args[1].as_str();
    let (all, participants) = (
        who.eq_ignore_ascii_case("all"),
        who.eq_ignore_ascii_case("participants"),
    );
    let n = admin::kick(&room, who);
    if n == 0 {
        return Ok(if all || participants {
            "No participants found!\n".to_string()
        } else {
            format!("No participant named '{who}' found!\n")
        });
    }
    Ok(format!("Kicked '{who}' out of conference '{}'\n", args[0]))
}

pub mod admin;
pub mod rooms;
#[cfg(test)]
mod tests;
