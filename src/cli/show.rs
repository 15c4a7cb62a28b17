//! Channel, application and function commands: `core show channels|calls|channel|
//! applications|application|functions|function`, `channel originate`,
//! `channel request hangup`.

use super::format::{col, ess, hms, hms_colon, uptime_str};
use super::{filter_prefix, CliError, CliResult, CliState, Command, CommandRegistry, Ctx};
use crate::pbx::channel::cause;
use crate::pbx::originate;
use crate::pbx::ChanState;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn channel_names(st: &CliState, args: &[String], p: &str, with_all: bool) -> Vec<String> {
    if !args.is_empty() {
        return vec![];
    }
    let mut v: Vec<String> = st
        .pbx
        .channels
        .list()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    if with_all {
        v.push("all".into());
    }
    filter_prefix(v, p)
}

pub fn register(r: &CommandRegistry) {
    r.register(
        Command::new(
            "core show channels",
            "Display information on channels",
            "Usage: core show channels [concise|verbose|count]\n       Lists currently defined channels and some information about them. If\n       'concise' is specified, the format is abridged and in a more easily\n       machine parsable format. If 'verbose' is specified, the output includes\n       more and longer fields. If 'count' is specified only the channel and call\n       count is output.",
            |c: Ctx| async move { channels(&c) },
        )
        .complete_with(|_, args, p| {
            if args.is_empty() {
                filter_prefix(["concise", "verbose", "count"].map(String::from), p)
            } else {
                vec![]
            }
        }),
    );
    r.register(
        Command::new(
            "core show calls",
            "Display information on calls",
            "Usage: core show calls [uptime [seconds]]\n       Lists number of currently active calls and total number of calls\n       processed through PBX since last restart. If 'uptime' is specified\n       the system uptime is also displayed. If 'seconds' is specified in\n       addition to 'uptime', the system uptime is displayed in seconds.",
            |c: Ctx| async move { calls(&c) },
        )
        .complete_with(|_, args, p| match args.len() {
            0 => filter_prefix(["uptime".to_string()], p),
            1 => filter_prefix(["seconds".to_string()], p),
            _ => vec![],
        }),
    );
    r.register(
        Command::new(
            "core show channel",
            "Display information on a specific channel",
            "Usage: core show channel <channel>\n       Shows lots of information about the specified channel.",
            |c: Ctx| async move {
                let name = c.args.first().map(String::as_str).unwrap_or("");
                let vars = match find_channel(c.pbx(), name) {
                    Some(ch) => ch.request_vars(std::time::Duration::from_millis(300)).await,
                    None => Vec::new(),
                };
                channel(&c, &vars)
            },
        )
        .complete_with(|st, a, p| channel_names(st, a, p, false)),
    );
    r.register(
        Command::new(
            "core show applications",
            "Shows registered dialplan applications",
            "Usage: core show applications [like <text>]\n       List applications which are currently available.\n       If 'like', <text> will be a substring of the app name",
            |c: Ctx| async move { applications(&c) },
        )
        .complete_with(complete_like),
    );
    r.register(
        Command::new(
            "core show application",
            "Describe a specific dialplan application",
            "Usage: core show application <application> [<application> [<application> [...]]]\n       Describes a particular application.",
            |c: Ctx| async move { application(&c) },
        )
        .complete_with(|st, _, p| {
            filter_prefix(st.pbx.apps.list().iter().map(|a| a.name().to_string()), p)
        }),
    );
    r.register(
        Command::new(
            "core show functions",
            "Shows registered dialplan functions",
            "Usage: core show functions [like <text>]\n       List builtin functions, optionally only those matching a given string",
            |c: Ctx| async move { functions(&c) },
        )
        .complete_with(complete_like),
    );
    r.register(
        Command::new(
            "core show function",
            "Describe a specific dialplan function",
            "Usage: core show function <function>\n       Describe a particular dialplan function.",
            |c: Ctx| async move { function(&c) },
        )
        .complete_with(|st, a, p| {
            if a.is_empty() {
                filter_prefix(st.pbx.funcs.list().iter().map(|f| f.name().to_string()), p)
            } else {
                vec![]
            }
        }),
    );
    r.register(
        Command::new(
            "channel originate",
            "Originate a call",
            "Usage: channel originate <tech/data> application <appname> [appdata]\n  There are two ways to use this command. A call can be originated between a\nchannel and a specific application, or between a channel and an extension in\nthe dialplan. This is similar to call files or the manager originate action.\nCalls originated with this command are given a timeout of 30 seconds.\n\nUsage1: channel originate <tech/data> application <appname> [appdata]\n  This will originate a call between the specified channel tech/data and the\ngiven application. Arguments to the application are optional. If the given\narguments to the application include spaces, all of the arguments to the\napplication need to be placed in quotation marks.\n\nUsage2: channel originate <tech/data> extension [exten@][context]\n  This will originate a call between the specified channel tech/data and the\ngiven extension. If no context is specified, the 'default' context will be\nused. If no extension is given, the 's' extension will be used.",
            |c: Ctx| async move { originate(&c).await },
        )
        .complete_with(|st, a, p| match a.len() {
            1 => filter_prefix(["application", "extension"].map(String::from), p),
            2 if a[1].eq_ignore_ascii_case("application") => {
                filter_prefix(st.pbx.apps.list().iter().map(|x| x.name().to_string()), p)
            }
            _ => vec![],
        }),
    );
    r.register(
        Command::new(
            "channel request hangup",
            "Request a hangup on a given channel",
            "Usage: channel request hangup <channel>|<all>\n       Request that a channel be hung up. The hangup takes effect\n       the next time the driver reads or writes from the channel.\n       If 'all' is specified instead of a channel name, all channels\n       will see the hangup request.",
            |c: Ctx| async move { hangup(&c) },
        )
        .complete_with(|st, a, p| channel_names(st, a, p, true)),
    );
}

/// `core show calls`: the call counts, and the uptime after `uptime [seconds]`.
pub fn calls_text(calls: usize, processed: u64, uptime: Option<(u64, bool)>) -> String {
    let mut o = format!(
        "{calls} active call{}\n{processed} call{} processed\n",
        ess(calls as u64),
        ess(processed)
    );
    if let Some((secs, plain)) = uptime {
        if plain {
            let _ = writeln!(o, "System uptime: {secs}");
        } else {
            let _ = writeln!(o, "System uptime: {}", uptime_str(secs));
        }
    }
    o
}

fn calls(c: &Ctx) -> CliResult {
    let uptime = match c.args.as_slice() {
        [] => None,
        [u] if u.eq_ignore_ascii_case("uptime") => Some(false),
        [u, s] if u.eq_ignore_ascii_case("uptime") && s.eq_ignore_ascii_case("seconds") => {
            Some(true)
        }
        _ => return Err(CliError::ShowUsage),
    };
    let pbx = c.pbx();
    Ok(calls_text(
        pbx.channels.active_calls(),
        pbx.calls_processed.load(Ordering::Relaxed),
        uptime.map(|plain| (pbx.started.elapsed().as_secs(), plain)),
    ))
}

/// The three count lines that end `core show channels`.
pub fn channel_footer(chans: usize, calls: usize, processed: u64) -> String {
    format!(
        "{chans} active channel{}\n{calls} active call{}\n{processed} call{} processed\n",
        ess(chans as u64),
        ess(calls as u64),
        ess(processed)
    )
}

fn channels(c: &Ctx) -> CliResult {
    let pbx = c.pbx();
    let mode = c.arg(0).map(str::to_ascii_lowercase);
    if c.args.len() > 1 {
        return Err(CliError::ShowUsage);
    }
    let list = pbx.channels.list();
    let footer = channel_footer(
        list.len(),
        pbx.channels.active_calls(),
        pbx.calls_processed.load(Ordering::Relaxed),
    );
    let mut o = String::new();
    match mode.as_deref() {
        None => {
            let _ = writeln!(
                o,
                "{} {} {} {}",
                col("Channel", 64),
                col("Location", 32),
                col("State", 7),
                col("Application(Data)", 30)
            );
            for ch in &list {
                let s = ch.snapshot.lock().clone();
                let loc = if s.context.is_empty() || s.exten.is_empty() {
                    "(None)".to_string()
                } else {
                    format!("{}@{}:{}", s.exten, s.context, s.priority)
                };
                let app = if s.app.is_empty() {
                    "(None)".to_string()
                } else {
                    format!("{}({})", s.app, s.data)
                };
                let state = s.state.unwrap_or(ChanState::Down).as_str();
                let _ = writeln!(
                    o,
                    "{} {} {} {}",
                    col(&ch.name, 64),
                    col(&loc, 32),
                    col(state, 7),
                    col(&app, 30)
                );
            }
            o.push_str(&footer);
        }
        Some("concise") => {
            for ch in &list {
                let s = ch.snapshot.lock().clone();
                let _ = writeln!(
                    o,
                    "{}!{}!{}!{}!{}!{}!{}!{}!{}!!3!{}!{}!{}",
                    ch.name,
                    s.context,
                    s.exten,
                    s.priority,
                    s.state.unwrap_or(ChanState::Down).as_str(),
                    if s.app.is_empty() { "(None)" } else { &s.app },
                    s.data,
                    s.caller.num.clone().unwrap_or_default(),
                    s.accountcode,
                    ch.created.elapsed().as_secs(),
                    s.bridged.clone().unwrap_or_else(|| "(None)".into()),
                    ch.uniqueid
                );
            }
        }
        Some("verbose") => {
            let _ = writeln!(
                o,
                "{} {} {} {:>4} {} {} {} {} {:>8} {} {} {}",
                col("Channel", 80),
                col("Context", 24),
                col("Extension", 24),
                "Prio",
                col("State", 7),
                col("Application", 12),
                col("Data", 25),
                col("CallerID", 15),
                "Duration",
                col("Accountcode", 11),
                col("PeerAccount", 11),
                col("BridgeID", 20)
            );
            for ch in &list {
                let s = ch.snapshot.lock().clone();
                let _ = writeln!(
                    o,
                    "{} {} {} {:>4} {} {} {} {} {:>8} {} {} {}",
                    col(&ch.name, 80),
                    col(&s.context, 24),
                    col(&s.exten, 24),
                    s.priority,
                    col(s.state.unwrap_or(ChanState::Down).as_str(), 7),
                    col(if s.app.is_empty() { "(None)" } else { &s.app }, 12),
                    col(
                        if s.data.is_empty() {
                            "(Empty)"
                        } else {
                            &s.data
                        },
                        25
                    ),
                    col(&s.caller.num.clone().unwrap_or_default(), 15),
                    hms_colon(ch.created.elapsed().as_secs()),
                    col(&s.accountcode, 11),
                    col("", 11),
                    col(&s.bridged.clone().unwrap_or_default(), 20)
                );
            }
            o.push_str(&footer);
        }
        Some("count") => o.push_str(&footer),
        Some(_) => return Err(CliError::ShowUsage),
    }
    Ok(o)
}

fn state_num(s: ChanState) -> u8 {
    s.code()
}

/// A channel by exact name, else case-insensitively or by unique prefix.
fn find_channel(
    pbx: &crate::pbx::Pbx,
    name: &str,
) -> Option<std::sync::Arc<crate::pbx::channel::ChannelShared>> {
    pbx.channels.get(name).or_else(|| {
        pbx.channels
            .list()
            .into_iter()
            .find(|x| x.name.eq_ignore_ascii_case(name) || x.name.starts_with(name))
    })
}

fn channel(c: &Ctx, vars: &[String]) -> CliResult {
    let [name] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let Some(ch) = find_channel(c.pbx(), name) else {
        return Ok(format!("{name} is not a known channel\n"));
    };
    let s = ch.snapshot.lock().clone();
    let st = s.state.unwrap_or(ChanState::Down);
    let na = |v: &Option<String>| {
        v.clone()
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| "(N/A)".into())
    };
    let mut o = String::new();
    let _ = writeln!(o, " -- General --");
    let row = |o: &mut String, k: &str, v: &str| {
        let _ = writeln!(o, "{k:>15}: {v}");
    };
    row(&mut o, "Name", &ch.name);
    row(&mut o, "Type", ch.name.split('/').next().unwrap_or(""));
    row(&mut o, "UniqueID", &ch.uniqueid);
    row(&mut o, "LinkedID", &ch.uniqueid);
    row(&mut o, "Caller ID", &na(&s.caller.num));
    row(&mut o, "Caller ID Name", &na(&s.caller.name));
    row(&mut o, "DNID Digits", &na(&s.caller.dnid));
    row(
        &mut o,
        "Language",
        if s.language.is_empty() {
            "en"
        } else {
            &s.language
        },
    );
    row(
        &mut o,
        "State",
        &format!("{} ({})", st.as_str(), state_num(st)),
    );
    row(&mut o, "Elapsed Time", &hms(ch.created.elapsed().as_secs()));
    row(
        &mut o,
        "Bridge ID",
        s.bridged.as_deref().unwrap_or("(Not bridged)"),
    );
    let _ = writeln!(o, " --   PBX   --");
    row(&mut o, "Context", &s.context);
    row(&mut o, "Extension", &s.exten);
    row(&mut o, "Priority", &s.priority.to_string());
    row(
        &mut o,
        "Application",
        if s.app.is_empty() { "(N/A)" } else { &s.app },
    );
    row(
        &mut o,
        "Data",
        if s.data.is_empty() {
            "(Empty)"
        } else {
            &s.data
        },
    );
    row(&mut o, "Variables", "");
    for v in vars {
        let _ = writeln!(o, "{v}");
    }
    if let Some(b) = &s.bridged {
        let _ = writeln!(o, "BRIDGEPEER={b}");
    }
    Ok(o)
}

/// Completion for `… [like <text>]`: offer `like` as the first argument.
fn complete_like(_: &CliState, args: &[String], partial: &str) -> Vec<String> {
    if args.is_empty() {
        filter_prefix(["like".to_string()], partial)
    } else {
        vec![]
    }
}

fn like_filter(c: &Ctx) -> Result<Option<String>, CliError> {
    match c.args.as_slice() {
        [] => Ok(None),
        [l, x] if l.eq_ignore_ascii_case("like") => Ok(Some(x.to_ascii_lowercase())),
        _ => Err(CliError::ShowUsage),
    }
}

fn applications(c: &Ctx) -> CliResult {
    let like = like_filter(c)?;
    let apps = c.pbx().apps.list();
    if apps.is_empty() {
        return Ok("There are no registered applications\n".into());
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "    -= {} Applications =-",
        if like.is_some() {
            "Matching"
        } else {
            "Registered"
        }
    );
    let mut n = 0;
    for a in apps {
        if let Some(l) = &like {
            if !a.name().to_ascii_lowercase().contains(l.as_str()) {
                continue;
            }
        }
        n += 1;
        let _ = writeln!(o, "  {:>20}: {}", a.name(), a.synopsis());
    }
    let _ = writeln!(
        o,
        "    -= {n} Applications {} =-",
        if like.is_some() {
            "Matching"
        } else {
            "Registered"
        }
    );
    Ok(o)
}

/// `core show application X` / `core show function X` body.
pub fn info_text(
    kind: &str,
    name: &str,
    synopsis: &str,
    description: &str,
    syntax: &str,
) -> String {
    let or_na = |s: &str| {
        if s.trim().is_empty() {
            "Not available".to_string()
        } else {
            s.trim_end().to_string()
        }
    };
    format!(
        "\n  -= Info about {kind} '{name}' =- \n\n[Synopsis]\n{}\n\n[Description]\n{}\n\n[Syntax]\n{}\n\n",
        or_na(synopsis),
        or_na(description),
        or_na(syntax)
    )
}

fn application(c: &Ctx) -> CliResult {
    if c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let mut o = String::new();
    for name in &c.args {
        if let Some(a) = c.pbx().apps.get(name) {
            o.push_str(&info_text(
                "application",
                a.name(),
                a.synopsis(),
                a.description(),
                a.syntax(),
            ));
        }
    }
    if o.is_empty() {
        o.push_str("Your application(s) is (are) not registered\n");
    }
    Ok(o)
}

fn functions(c: &Ctx) -> CliResult {
    let like = like_filter(c)?;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} Custom Functions:\n--------------------------------------------------------------------------------",
        if like.is_some() { "Matching" } else { "Installed" }
    );
    let mut n = 0;
    for f in c.pbx().funcs.list() {
        if let Some(l) = &like {
            if !f.name().to_ascii_lowercase().contains(l.as_str()) {
                continue;
            }
        }
        n += 1;
        let _ = writeln!(
            o,
            "{}  {}  {}",
            col(f.name(), 20),
            col(f.syntax(), 35),
            f.synopsis()
        );
    }
    let _ = writeln!(
        o,
        "{n} {}custom functions installed.",
        if like.is_some() { "matching " } else { "" }
    );
    Ok(o)
}

fn function(c: &Ctx) -> CliResult {
    let [name] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    Ok(match c.pbx().funcs.get(name) {
        Some(f) => info_text(
            "function",
            f.name(),
            f.synopsis(),
            f.description(),
            f.syntax(),
        ),
        None => "No function by that name registered.\n".into(),
    })
}

fn hangup(c: &Ctx) -> CliResult {
    let [name] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let pbx = c.pbx();
    let mut o = String::new();
    if name.eq_ignore_ascii_case("all") {
        for ch in pbx.channels.list() {
            let _ = writeln!(o, "Requested Hangup on channel '{}'", ch.name);
            ch.request_hangup(cause::NORMAL_CLEARING);
        }
        return Ok(o);
    }
    match pbx.channels.get(name) {
        Some(ch) => {
            ch.request_hangup(cause::NORMAL_CLEARING);
            Ok(format!("Requested Hangup on channel '{}'\n", ch.name))
        }
        None => Ok(format!("{name} is not a known channel\n")),
    }
}

/// What an originated call does once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateTarget {
    App { app: String, data: String },
    Exten { exten: String, context: String },
}

/// Parse the arguments after `channel originate`.
pub fn parse_originate(args: &[String]) -> Result<(String, OriginateTarget), CliError> {
    let (Some(dest), Some(kind)) = (args.first(), args.get(1)) else {
        return Err(CliError::ShowUsage);
    };
    let target = if kind.eq_ignore_ascii_case("application") {
        let app = args.get(2).ok_or(CliError::ShowUsage)?.clone();
        if args.len() > 4 {
            return Err(CliError::ShowUsage);
        }
        OriginateTarget::App {
            app,
            data: args.get(3).cloned().unwrap_or_default(),
        }
    } else if kind.eq_ignore_ascii_case("extension") {
        if args.len() > 3 {
            return Err(CliError::ShowUsage);
        }
        let spec = args.get(2).cloned().unwrap_or_default();
        let (e, ctx) = match spec.split_once('@') {
            Some((e, c)) => (e.to_string(), c.to_string()),
            None => (spec, String::new()),
        };
        OriginateTarget::Exten {
            exten: if e.is_empty() { "s".into() } else { e },
            context: if ctx.is_empty() {
                "default".into()
            } else {
                ctx
            },
        }
    } else {
        return Err(CliError::ShowUsage);
    };
    Ok((dest.clone(), target))
}

async fn originate(c: &Ctx) -> CliResult {
    let (dest, target) = parse_originate(&c.args)?;
    let pbx = c.pbx().clone();
    if pbx.shutting_down.load(Ordering::Relaxed) {
        return Err(CliError::Failure(
            "ferrisk is shutting down; not originating.".into(),
        ));
    }
    crate::pbx::tech::prepare(&pbx, &dest).await;
    let out = crate::pbx::tech::request(&pbx, &dest, None)
        .map_err(|e| CliError::Failure(format!("Unable to request channel {dest}: {}", e.msg)))?;
    let chan = out.chan;
    (out.call)();
    let target = match target {
        OriginateTarget::App { app, data } => originate::Target::App { app, data },
        OriginateTarget::Exten { exten, context } => originate::Target::Exten {
            context,
            exten,
            priority: 1,
        },
    };
    tokio::spawn(originate::answer_and_run(
        chan,
        Some(Duration::from_secs(30)),
        target,
    ));
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::execute;
    use crate::pbx::Pbx;
    use std::sync::Arc;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn originate_args() {
        let (d, t) = parse_originate(&s(&["Local/1@a", "application", "Wait", "5"])).unwrap();
        assert_eq!(d, "Local/1@a");
        assert_eq!(
            t,
            OriginateTarget::App {
                app: "Wait".into(),
                data: "5".into()
            }
        );
        let (_, t) = parse_originate(&s(&["Local/1@a", "extension", "100@internal"])).unwrap();
        assert_eq!(
            t,
            OriginateTarget::Exten {
                exten: "100".into(),
                context: "internal".into()
            }
        );
        let (_, t) = parse_originate(&s(&["Local/1@a", "extension"])).unwrap();
        assert_eq!(
            t,
            OriginateTarget::Exten {
                exten: "s".into(),
                context: "default".into()
            }
        );
        assert!(parse_originate(&s(&["Local/1@a", "bogus"])).is_err());
    }

    #[test]
    fn calls_text_as_asterisk() {
        assert_eq!(calls_text(1, 1, None), "1 active call\n1 call processed\n");
        assert_eq!(
            calls_text(0, 7, Some((3600, false))),
            "0 active calls\n7 calls processed\nSystem uptime: 60 minutes\n"
        );
        assert_eq!(
            calls_text(2, 2, Some((42, true))),
            "2 active calls\n2 calls processed\nSystem uptime: 42\n"
        );
    }

    /// A call counts once however many legs it has: only channels running the dialplan
    /// are calls (the dialed leg is not).
    #[tokio::test]
    async fn active_calls_count_dialplan_channels() {
        let pbx = crate::modules::test_pbx();
        let tech = Arc::new(crate::pbx::channel::NullTech);
        let caller = crate::pbx::Channel::new(&pbx, "SIP/1000-1".into(), tech.clone());
        let callee = crate::pbx::Channel::new(&pbx, "SIP/1001-2".into(), tech);
        caller.shared.snapshot.lock().in_pbx = true;
        callee.publish("AppDial", "(Outgoing Line)");
        assert_eq!(pbx.channels.active_calls(), 1);
        let st = crate::cli::new_state(pbx.clone());
        assert!(execute(&st, "core show calls", None)
            .await
            .starts_with("1 active call\n"));
        assert!(execute(&st, "core show calls uptime seconds", None)
            .await
            .contains("\nSystem uptime: "));
        assert!(execute(&st, "core show calls seconds", None)
            .await
            .starts_with("Usage: core show calls"));
        let out = execute(&st, "core show channels", None).await;
        assert!(
            out.ends_with("2 active channels\n1 active call\n0 calls processed\n"),
            "{out}"
        );
        assert!(out.contains("AppDial((Outgoing Line))"), "{out}");
    }

    #[test]
    fn footer_plurals() {
        assert_eq!(
            channel_footer(1, 0, 1),
            "1 active channel\n0 active calls\n1 call processed\n"
        );
        assert_eq!(
            channel_footer(2, 2, 7),
            "2 active channels\n2 active calls\n7 calls processed\n"
        );
    }

    /// Stand-in applications, registered only in this test's PBX (the real ones live in
    /// `apps` and are written separately).
    struct FakeAnswer;
    #[async_trait::async_trait]
    impl crate::apps::App for FakeAnswer {
        fn name(&self) -> &'static str {
            "Answer"
        }
        fn synopsis(&self) -> &'static str {
            "test"
        }
        async fn exec(&self, chan: &mut crate::pbx::Channel, _d: &str) -> crate::apps::AppResult {
            chan.answer();
            Ok(())
        }
    }
    struct FakeWait;
    #[async_trait::async_trait]
    impl crate::apps::App for FakeWait {
        fn name(&self) -> &'static str {
            "Wait"
        }
        fn synopsis(&self) -> &'static str {
            "test"
        }
        async fn exec(&self, chan: &mut crate::pbx::Channel, d: &str) -> crate::apps::AppResult {
            let secs: u64 = d.parse().unwrap_or(1);
            chan.sleep(Duration::from_secs(secs)).await
        }
    }
    /// `Mark(key)`: put `/mark/<key>` = `${EXTEN}@${CONTEXT}` into the AstDB.
    struct FakeMark;
    #[async_trait::async_trait]
    impl crate::apps::App for FakeMark {
        fn name(&self) -> &'static str {
            "Mark"
        }
        fn synopsis(&self) -> &'static str {
            "test"
        }
        async fn exec(&self, chan: &mut crate::pbx::Channel, d: &str) -> crate::apps::AppResult {
            let v = format!("{}@{}", chan.exten, chan.context);
            let _ = chan.pbx.astdb.put("mark", d, &v);
            Ok(())
        }
    }

    fn pbx_with_fakes(dialplan: &str) -> Arc<Pbx> {
        let pbx = crate::modules::test_pbx();
        {
            let ctx = crate::pbx::module::ModuleContext::new(&pbx, "test");
            ctx.register_app(Arc::new(FakeAnswer));
            ctx.register_app(Arc::new(FakeWait));
            ctx.register_app(Arc::new(FakeMark));
        }
        let cf = crate::config::load_str(
            std::path::Path::new("/tmp"),
            "/tmp/extensions.conf",
            dialplan,
            &crate::config::LoadOptions::default(),
        )
        .expect("load");
        pbx.set_dialplan(crate::dialplan::parse_dialplan(&cf).expect("parse").0);
        pbx
    }

    async fn wait_for_mark(pbx: &Pbx, key: &str) -> Option<String> {
        for _ in 0..100 {
            if let Some(v) = pbx.astdb.get("mark", key) {
                return Some(v);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    #[tokio::test]
    async fn originate_to_extension_and_application() {
        let pbx = pbx_with_fakes(
            "[wait]\nexten => 1,1,Answer()\n same => n,Wait(2)\n[test]\nexten => s,1,Mark(ext)\n same => n,Wait(2)\n",
        );
        let st = crate::cli::new_state(pbx.clone());
        assert_eq!(
            execute(&st, "channel originate Local/1@wait extension s@test", None).await,
            ""
        );
        assert_eq!(wait_for_mark(&pbx, "ext").await.as_deref(), Some("s@test"));
        assert_eq!(
            execute(
                &st,
                "channel originate Local/1@wait application Mark app",
                None
            )
            .await,
            ""
        );
        assert_eq!(wait_for_mark(&pbx, "app").await.as_deref(), Some("1@wait"));
        // While s@test waits, the channels are listed; then hang them all up.
        let c = execute(&st, "core show channels", None).await;
        assert!(c.contains("Local/1@wait-"), "{c}");
        let h = execute(&st, "channel request hangup all", None).await;
        assert!(
            h.starts_with("Requested Hangup on channel 'Local/1@wait-"),
            "{h}"
        );
        for _ in 0..100 {
            if pbx.channels.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(pbx.channels.is_empty());
        let bad = execute(&st, "channel originate Foo/1 application Mark x", None).await;
        assert!(bad.starts_with("Unable to request channel Foo/1"), "{bad}");
    }

    #[tokio::test]
    async fn empty_channel_list() {
        let st = crate::cli::new_state(crate::modules::test_pbx());
        let out = execute(&st, "core show channels", None).await;
        assert_eq!(
            out,
            format!(
                "{:<64} {:<32} {:<7} {:<30}\n0 active channels\n0 active calls\n0 calls processed\n",
                "Channel", "Location", "State", "Application(Data)"
            )
        );
        assert_eq!(
            execute(&st, "core show channel Foo/1", None).await,
            "Foo/1 is not a known channel\n"
        );
        assert_eq!(
            execute(&st, "core show function NOPE", None).await,
            "No function by that name registered.\n"
        );
    }
}
