//! `queues.conf`: the `[general]` settings and one [`QueueConf`] per queue section, with
//! Asterisk 20's option names and defaults. Pure: it reads a parsed [`ConfigFile`] and
//! never touches the PBX. Bad values are errors naming file:line:column.

use crate::config::{is_true, ConfigError, ConfigFile, Entry};

/// How a queue picks the members it rings (`strategy =`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    RingAll,
    LeastRecent,
    FewestCalls,
    Random,
    RrMemory,
    Linear,
    WRandom,
    RrOrdered,
}

impl Strategy {
    pub fn parse(s: &str) -> Option<Strategy> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "ringall" => Strategy::RingAll,
            "leastrecent" => Strategy::LeastRecent,
            "fewestcalls" => Strategy::FewestCalls,
            "random" => Strategy::Random,
            "rrmemory" | "roundrobin" => Strategy::RrMemory,
            "linear" => Strategy::Linear,
            "wrandom" => Strategy::WRandom,
            "rrordered" => Strategy::RrOrdered,
            _ => return None,
        })
    }
    /// The name `queue show` prints (`int2strat`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RingAll => "ringall",
            Strategy::LeastRecent => "leastrecent",
            Strategy::FewestCalls => "fewestcalls",
            Strategy::Random => "random",
            Strategy::RrMemory => "rrmemory",
            Strategy::Linear => "linear",
            Strategy::WRandom => "wrandom",
            Strategy::RrOrdered => "rrordered",
        }
    }
}

/// `joinempty` / `leavewhenempty`: which member states count as "nobody there"
/// (Asterisk's `QUEUE_EMPTY_*` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyRules {
    pub penalty: bool,
    pub paused: bool,
    pub inuse: bool,
    pub ringing: bool,
    pub unavailable: bool,
    pub invalid: bool,
    pub unknown: bool,
    pub wrapup: bool,
}

impl EmptyRules {
    /// Whether any rule is set (`no`: none is).
    pub fn any(&self) -> bool {
        *self != EmptyRules::default()
    }

    /// `yes` (penalty,paused,invalid), `no`, `strict` (yes + unavailable), `loose`
    /// (penalty,invalid) or a comma list of states.
    pub fn parse(v: &str) -> Result<EmptyRules, String> {
        let mut r = EmptyRules::default();
        let v = v.trim();
        if is_true(v) {
            r.penalty = true;
            r.paused = true;
            r.invalid = true;
            return Ok(r);
        }
        match v.to_ascii_lowercase().as_str() {
            "" | "no" | "false" | "off" | "0" => return Ok(r),
            "strict" => {
                r.penalty = true;
                r.paused = true;
                r.invalid = true;
                r.unavailable = true;
                return Ok(r);
            }
            "loose" => {
                r.penalty = true;
                r.invalid = true;
                return Ok(r);
            }
            _ => {}
        }
        for w in v.split(',').map(|w| w.trim().to_ascii_lowercase()) {
            match w.as_str() {
                "penalty" => r.penalty = true,
                "paused" => r.paused = true,
                "inuse" => r.inuse = true,
                "ringing" => r.ringing = true,
                "unavailable" => r.unavailable = true,
                "invalid" => r.invalid = true,
                "unknown" => r.unknown = true,
                "wrapup" => r.wrapup = true,
                "" => {}
                _ => return Err(format!("unknown state '{w}' (expected penalty, paused, inuse, ringing, unavailable, invalid, unknown or wrapup)")),
            }
        }
        Ok(r)
    }
}

/// `announce-holdtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAnnounce {
    No,
    Yes,
    Once,
}

/// `announce-position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionAnnounce {
    No,
    Yes,
    /// Only up to `announce-position-limit`.
    Limit,
    /// Beyond the limit, "more than <limit>".
    More,
}

/// `autopause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPause {
    Off,
    /// Pause the member in this queue.
    On,
    /// Pause the member in every queue.
    All,
}

/// A `member =>` line: `Interface[,penalty[,membername[,state_interface[,ringinuse]]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConf {
    pub interface: String,
    pub penalty: i32,
    pub membername: String,
    pub state_interface: String,
    pub ringinuse: Option<bool>,
}

impl MemberConf {
    /// Parse the value of a `member =>` line (also the arguments of AddQueueMember).
    pub fn parse(v: &str) -> Result<MemberConf, String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        let interface = parts.first().copied().unwrap_or("").to_string();
        if interface.is_empty() || !interface.contains('/') {
            return Err(format!(
                "member '{v}': expected Technology/Resource[,penalty[,membername[,state_interface]]]"
            ));
        }
        let penalty = match parts.get(1).copied().unwrap_or("") {
            "" => 0,
            p => p
                .parse::<i32>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| format!("member '{v}': penalty '{p}' is not a number >= 0"))?,
        };
        let membername = match parts.get(2).copied().unwrap_or("") {
            "" => interface.clone(),
            n => n.to_string(),
        };
        let state_interface = match parts.get(3).copied().unwrap_or("") {
            "" => interface.clone(),
            s => s.to_string(),
        };
        let ringinuse = parts.get(4).filter(|s| !s.is_empty()).map(|s| is_true(s));
        Ok(MemberConf {
            interface,
            penalty,
            membername,
            state_interface,
            ringinuse,
        })
    }
}

/// `[general]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct General {
    pub persistentmembers: bool,
    pub autofill: bool,
    pub shared_lastcall: bool,
    pub log_membername_as_agent: bool,
    pub monitor_type: String,
}

/// One queue section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConf {
    pub name: String,
    pub strategy: Strategy,
    /// Seconds a member rings (0: until the queue's own timeout).
    pub timeout: u32,
    /// Seconds to wait before trying the members again.
    pub retry: u32,
    pub wrapuptime: u32,
    pub maxlen: u32,
    pub joinempty: EmptyRules,
    pub leavewhenempty: EmptyRules,
    pub musicclass: String,
    pub announce: String,
    pub context: String,
    pub announce_frequency: u32,
    pub min_announce_frequency: u32,
    pub announce_holdtime: HoldAnnounce,
    pub announce_position: PositionAnnounce,
    pub announce_position_limit: u32,
    pub announce_round_seconds: u32,
    pub periodic_announce: Vec<String>,
    pub periodic_announce_frequency: u32,
    pub servicelevel: u32,
    pub weight: i32,
    pub ringinuse: bool,
    pub autopause: AutoPause,
    pub autofill: bool,
    pub setinterfacevar: bool,
    pub setqueuevar: bool,
    pub setqueueentryvar: bool,
    pub reportholdtime: bool,
    pub timeoutrestart: bool,
    pub memberdelay: u32,
    pub members: Vec<MemberConf>,
    /// The `queue-*` prompts (`queue-youarenext = …` overrides).
    pub sounds: Sounds,
}

/// The prompts a queue plays, Asterisk's `queue-*` defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sounds {
    pub youarenext: String,
    pub thereare: String,
    pub callswaiting: String,
    pub holdtime: String,
    pub minutes: String,
    pub minute: String,
    pub seconds: String,
    pub thankyou: String,
    pub reporthold: String,
    pub lessthan: String,
}

impl Default for Sounds {
    fn default() -> Self {
        Sounds {
            youarenext: "queue-youarenext".into(),
            thereare: "queue-thereare".into(),
            callswaiting: "queue-callswaiting".into(),
            holdtime: "queue-holdtime".into(),
            minutes: "queue-minutes".into(),
            minute: "queue-minute".into(),
            seconds: "queue-seconds".into(),
            thankyou: "queue-thankyou".into(),
            reporthold: "queue-reporthold".into(),
            lessthan: "queue-less-than".into(),
        }
    }
}

impl QueueConf {
    /// A queue with Asterisk's defaults (`init_queue`).
    pub fn new(name: &str, autofill: bool) -> QueueConf {
        QueueConf {
            name: name.to_string(),
            strategy: Strategy::RingAll,
            timeout: 15,
            retry: 5,
            wrapuptime: 0,
            maxlen: 0,
            joinempty: EmptyRules::default(),
            leavewhenempty: EmptyRules::default(),
            musicclass: String::new(),
            announce: String::new(),
            context: String::new(),
            announce_frequency: 0,
            min_announce_frequency: 15,
            announce_holdtime: HoldAnnounce::Yes,
            announce_position: PositionAnnounce::Yes,
            announce_position_limit: 10,
            announce_round_seconds: 0,
            periodic_announce: Vec::new(),
            periodic_announce_frequency: 0,
            servicelevel: 0,
            weight: 0,
            ringinuse: true,
            autopause: AutoPause::Off,
            autofill,
            setinterfacevar: false,
            setqueuevar: false,
            setqueueentryvar: false,
            reportholdtime: false,
            timeoutrestart: false,
            memberdelay: 0,
            members: Vec::new(),
            sounds: Sounds::default(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuesConf {
    pub general: General,
    pub queues: Vec<QueueConf>,
}

fn number<T: std::str::FromStr>(e: &Entry) -> Result<T, ConfigError> {
    e.value.trim().parse::<T>().map_err(|_| {
        ConfigError::at(
            &e.loc,
            format!("{} '{}': expected a number", e.key, e.value),
        )
    })
}

/// Options ferrisk reads but does nothing with (monitoring, rules, realtime tuning, …):
/// accepted so an Asterisk file loads unchanged.
const ACCEPTED: &[&str] = &[
    "monitor-format",
    "monitor-type",
    "membermacro",
    "membergosub",
    "defaultrule",
    "queue-callerannounce",
    "periodic-announce-startdelay",
    "random-periodic-announce",
    "relative-periodic-announce",
    "announce-to-first-user",
    "announce-position-only-up",
    "autopausebusy",
    "autopauseunavail",
    "autopausedelay",
    "penaltymemberslimit",
    "timeoutpriority",
    "eventwhencalled",
    "eventmemberstatus",
    "log-restricted-caller-id",
];

/// Read `queues.conf`. Every error is collected (file:line:column).
pub fn parse(cf: &ConfigFile) -> Result<QueuesConf, Vec<ConfigError>> {
    let mut out = QueuesConf::default();
    let mut errs = Vec::new();
    if let Some(g) = cf.section("general") {
        for e in &g.entries {
            match e.key.to_ascii_lowercase().as_str() {
                "persistentmembers" => out.general.persistentmembers = is_true(&e.value),
                "autofill" => out.general.autofill = is_true(&e.value),
                "shared_lastcall" => out.general.shared_lastcall = is_true(&e.value),
                "log_membername_as_agent" => {
                    out.general.log_membername_as_agent = is_true(&e.value)
                }
                "monitor-type" => out.general.monitor_type = e.value.clone(),
                _ => {}
            }
        }
    }
    for sec in &cf.sections {
        if sec.is_template
            || sec.name.eq_ignore_ascii_case("general")
            || sec.name.eq_ignore_ascii_case("globals")
        {
            continue;
        }
        let mut q = QueueConf::new(&sec.name, out.general.autofill);
        for e in &sec.entries {
            if let Err(err) = apply(&mut q, e) {
                errs.push(err);
            }
        }
        out.queues.push(q);
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn apply(q: &mut QueueConf, e: &Entry) -> Result<(), ConfigError> {
    let v = e.value.trim();
    let key = e.key.to_ascii_lowercase();
    let bad = |m: String| ConfigError::at(&e.loc, m);
    match key.as_str() {
        "member" => q.members.push(MemberConf::parse(v).map_err(bad)?),
        "strategy" => {
            q.strategy = Strategy::parse(v).ok_or_else(|| {
                bad(format!("strategy '{v}': expected ringall, leastrecent, fewestcalls, random, rrmemory, linear, wrandom or rrordered"))
            })?
        }
        "timeout" => q.timeout = number(e)?,
        "retry" => {
            // Asterisk: a retry of 0 or less means the default.
            let r: i64 = number(e)?;
            q.retry = if r <= 0 { 5 } else { r.min(86_400) as u32 };
        }
        "wrapuptime" => q.wrapuptime = number(e)?,
        "maxlen" => q.maxlen = number(e)?,
        "joinempty" => q.joinempty = EmptyRules::parse(v).map_err(|m| bad(format!("joinempty: {m}")))?,
        "leavewhenempty" => {
            q.leavewhenempty =
                EmptyRules::parse(v).map_err(|m| bad(format!("leavewhenempty: {m}")))?
        }
        "musicclass" | "music" | "musiconhold" => q.musicclass = v.to_string(),
        "announce" => q.announce = v.to_string(),
        "context" => q.context = v.to_string(),
        "announce-frequency" => q.announce_frequency = number(e)?,
        "min-announce-frequency" => q.min_announce_frequency = number(e)?,
        "announce-holdtime" => {
            q.announce_holdtime = if v.eq_ignore_ascii_case("once") {
                HoldAnnounce::Once
            } else if is_true(v) {
                HoldAnnounce::Yes
            } else {
                HoldAnnounce::No
            }
        }
        "announce-position" => {
            q.announce_position = match v.to_ascii_lowercase().as_str() {
                "limit" => PositionAnnounce::Limit,
                "more" => PositionAnnounce::More,
                _ if is_true(v) => PositionAnnounce::Yes,
                _ => PositionAnnounce::No,
            }
        }
        "announce-position-limit" => q.announce_position_limit = number(e)?,
        "announce-round-seconds" => q.announce_round_seconds = number(e)?,
        "periodic-announce" => {
            q.periodic_announce = v
                .split([',', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
        "periodic-announce-frequency" => q.periodic_announce_frequency = number(e)?,
        "servicelevel" => q.servicelevel = number(e)?,
        "weight" => q.weight = number(e)?,
        "ringinuse" => q.ringinuse = is_true(v),
        "autopause" => {
            q.autopause = if v.eq_ignore_ascii_case("all") {
                AutoPause::All
            } else if is_true(v) {
                AutoPause::On
            } else {
                AutoPause::Off
            }
        }
        "autofill" => q.autofill = is_true(v),
        "setinterfacevar" => q.setinterfacevar = is_true(v),
        "setqueuevar" => q.setqueuevar = is_true(v),
        "setqueueentryvar" => q.setqueueentryvar = is_true(v),
        "reportholdtime" => q.reportholdtime = is_true(v),
        "timeoutrestart" => q.timeoutrestart = is_true(v),
        "memberdelay" => q.memberdelay = number(e)?,
        "queue-youarenext" => q.sounds.youarenext = v.to_string(),
        "queue-thereare" => q.sounds.thereare = v.to_string(),
        "queue-callswaiting" => q.sounds.callswaiting = v.to_string(),
        "queue-holdtime" => q.sounds.holdtime = v.to_string(),
        "queue-minutes" => q.sounds.minutes = v.to_string(),
        "queue-minute" => q.sounds.minute = v.to_string(),
        "queue-seconds" => q.sounds.seconds = v.to_string(),
        "queue-thankyou" => q.sounds.thankyou = v.to_string(),
        "queue-reporthold" => q.sounds.reporthold = v.to_string(),
        "queue-lessthan" => q.sounds.lessthan = v.to_string(),
        k if ACCEPTED.contains(&k) => {}
        _ => {
            return Err(bad(format!(
                "unknown option '{}' in queue '{}'",
                e.key, q.name
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf(text: &str) -> ConfigFile {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("queues.conf"), text).expect("write");
        crate::config::load(d.path(), "queues.conf", &Default::default()).expect("load")
    }

    #[test]
    fn reads_general_queues_and_members_with_asterisk_defaults() {
        let c = parse(&cf("[general]\npersistentmembers=yes\nautofill=yes\n\n[support]\nstrategy=rrmemory\ntimeout=20\nwrapuptime=3\nmaxlen=4\njoinempty=paused,unavailable\nleavewhenempty=yes\nmusicclass=jazz\nannounce-frequency=30\nannounce-holdtime=once\nperiodic-announce=queue-periodic-announce,custom/x\nmember => SIP/1001,2,Alice,Custom:alice\nmember => SIP/1002\n\n[sales]\n")).expect("parse");
        assert!(c.general.persistentmembers && c.general.autofill);
        let q = &c.queues[0];
        assert_eq!(q.name, "support");
        assert_eq!(q.strategy, Strategy::RrMemory);
        assert_eq!((q.timeout, q.retry, q.wrapuptime, q.maxlen), (20, 5, 3, 4));
        assert!(q.joinempty.paused && q.joinempty.unavailable && !q.joinempty.penalty);
        assert!(q.leavewhenempty.penalty && q.leavewhenempty.paused && q.leavewhenempty.invalid);
        assert_eq!(q.announce_holdtime, HoldAnnounce::Once);
        assert_eq!(q.periodic_announce, ["queue-periodic-announce", "custom/x"]);
        assert_eq!(
            q.members[0],
            MemberConf {
                interface: "SIP/1001".into(),
                penalty: 2,
                membername: "Alice".into(),
                state_interface: "Custom:alice".into(),
                ringinuse: None,
            }
        );
        assert_eq!(q.members[1].membername, "SIP/1002");
        let s = &c.queues[1];
        assert_eq!(
            (s.strategy, s.timeout, s.retry, s.ringinuse),
            (Strategy::RingAll, 15, 5, true)
        );
        assert!(s.autofill);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let errs = parse(&cf(
            "[q]\nstrategy=sometimes\ntimeout=abc\nmember => nobody\nfrobnicate=1\n",
        ))
        .expect_err("errors");
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(
            text[0].contains("queues.conf:2:") && text[0].contains("strategy 'sometimes'"),
            "{text:?}"
        );
        assert!(text[1].contains("queues.conf:3:") && text[1].contains("expected a number"));
        assert!(text[2].contains("queues.conf:4:") && text[2].contains("Technology/Resource"));
        assert!(
            text[3].contains("queues.conf:5:") && text[3].contains("unknown option 'frobnicate'")
        );
    }

    #[test]
    fn empty_rules_words() {
        assert_eq!(EmptyRules::parse("no"), Ok(EmptyRules::default()));
        let s = EmptyRules::parse("strict").expect("strict");
        assert!(s.unavailable && s.paused);
        assert!(EmptyRules::parse("inuse,sleepy").is_err());
    }
}
