//! The manager's own actions (Asterisk's `manager.c` ones): each a small [`Action`]
//! registered into the core's action registry when the manager loads. Blocking work
//! (AstDB) goes to the blocking pool.

use crate::pbx::channel::ChannelShared;
use crate::pbx::manager::{class, Action, Caller, CommandRunner, Message, Reply};
use crate::pbx::originate::{self, Request, Target};
use crate::pbx::{blocking, CallerId, Pbx};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// An action's name, needed classes and synopsis (the [`Action`] methods that only
/// return a constant).
macro_rules! meta {
    ($name:literal, $privilege:expr, $synopsis:literal) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn privilege(&self) -> u32 {
            $privilege
        }
        fn synopsis(&self) -> &'static str {
            $synopsis
        }
    };
}

/// Every action of this file.
pub fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(Simple("Login", 0, "Login Manager")),
        Arc::new(Simple("Logoff", 0, "Logoff Manager")),
        Arc::new(Simple("Challenge", 0, "Generate Challenge for MD5 Auth")),
        Arc::new(Simple("Events", 0, "Control Event Flow")),
        Arc::new(Ping),
        Arc::new(CommandAction),
        Arc::new(Originate),
        Arc::new(HangupAction),
        Arc::new(Redirect),
        Arc::new(Getvar),
        Arc::new(Setvar),
        Arc::new(CoreShowChannels),
        Arc::new(ExtensionState),
        Arc::new(Mailbox { status: false }),
        Arc::new(Mailbox { status: true }),
        Arc::new(DbGet),
        Arc::new(DbPut),
        Arc::new(DbDel),
        Arc::new(DbDelTree),
        Arc::new(ReloadAction),
        Arc::new(ListCommands),
        Arc::new(CoreStatus),
        Arc::new(CoreSettings),
    ]
}

/// A list answer: the ack with `EventList: start`, the items (each with the ActionID),
/// and the `…Complete` event with `EventList: Complete` and `ListItems`.
pub fn list(req: &Message, text: &str, items: Vec<Message>, complete: &str) -> Reply {
    let mut ack = Message::response("Success", req, "");
    ack.push("EventList", "start");
    ack.push("Message", text);
    let n = items.len();
    let mut out = vec![ack];
    out.extend(items);
    out.push(
        Message::event(complete, Some(req))
            .with("EventList", "Complete")
            .with("ListItems", n.to_string()),
    );
    out
}

/// Actions the connection's state machine answers itself (listed by `ListCommands`).
struct Simple(&'static str, u32, &'static str);
#[async_trait]
impl Action for Simple {
    fn name(&self) -> &'static str {
        self.0
    }
    fn privilege(&self) -> u32 {
        self.1
    }
    fn synopsis(&self) -> &'static str {
        self.2
    }
    async fn run(&self, _: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        vec![Message::ack(req, "")]
    }
}

struct Ping;
#[async_trait]
impl Action for Ping {
    meta!("Ping", 0, "Keepalive command");
    async fn run(&self, _: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut m = Message::response("Success", req, "");
        m.push("Ping", "Pong");
        m.push(
            "Timestamp",
            format!("{}.{:06}", now.as_secs(), now.subsec_micros()),
        );
        vec![m]
    }
}

struct CommandAction;
#[async_trait]
impl Action for CommandAction {
    meta!("Command", class::COMMAND, "Execute Asterisk CLI Command");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let line = req.value("Command").trim();
        if line.is_empty() {
            return vec![Message::error(req, "No command provided")];
        }
        // Asterisk's check_blacklist.
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| w.to_ascii_lowercase())
            .collect();
        let black: &[&[&str]] = &[
            &["module", "load"],
            &["module", "unload"],
            &["restart", "gracefully"],
        ];
        if black
            .iter()
            .any(|b| words.len() >= b.len() && b.iter().zip(&words).all(|(a, w)| a == w))
        {
            return vec![Message::error(req, "Command blacklisted")];
        }
        let Some(text) = CommandRunner::run(pbx, line).await else {
            return vec![Message::error(req, "Command runner not available")];
        };
        let mut m = Message::ack(req, "Command output follows");
        for l in text.lines() {
            m.push("Output", l);
        }
        vec![m]
    }
}

/// Asterisk's `strings_to_mask`-free check: applications that reach the system need the
/// `system` class too (Asterisk's `originate` restriction).
fn needs_system(app: &str) -> bool {
    let a = app.to_ascii_lowercase();
    [
        "system",
        "exec",
        "trysystem",
        "eval",
        "originate",
        "agi",
        "externalivr",
    ]
    .iter()
    .any(|x| a.contains(x))
}

/// `Variable:` lines: each `a=1` or `a=1,b=2`.
fn variables(req: &Message) -> Vec<(String, String)> {
    req.get_all("Variable")
        .flat_map(|v| v.split(','))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

struct Originate;
#[async_trait]
impl Action for Originate {
    meta!("Originate", class::ORIGINATE, "Originate a call");
    async fn run(&self, pbx: &Arc<Pbx>, caller: &Caller, req: &Message) -> Reply {
        let dest = req.value("Channel").trim().to_string();
        if dest.is_empty() {
            return vec![Message::error(req, "Channel not specified")];
        }
        if !dest.contains('/') {
            return vec![Message::error(req, "Invalid channel")];
        }
        let app = req.value("Application").trim().to_string();
        let target = if !app.is_empty() {
            if needs_system(&app) && caller.write & class::SYSTEM == 0 {
                return vec![Message::error(
                    req,
                    "Originate with certain 'Application' arguments requires the additional System privilege, which you do not have.",
                )];
            }
            Target::App {
                app,
                data: req.value("Data").to_string(),
            }
        } else {
            let prio = req.value("Priority").trim();
            let priority = if prio.is_empty() {
                1
            } else {
                match prio.parse::<i32>() {
                    Ok(p) if p > 0 => p,
                    _ => return vec![Message::error(req, "Invalid priority")],
                }
            };
            let ctx = req.value("Context").trim();
            let exten = req.value("Exten").trim();
            Target::Exten {
                context: if ctx.is_empty() { "default" } else { ctx }.to_string(),
                exten: if exten.is_empty() { "s" } else { exten }.to_string(),
                priority,
            }
        };
        let timeout = match req.value("Timeout").trim() {
            "" => Duration::from_secs(30),
            t => match t.parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms.max(1)),
                Err(_) => return vec![Message::error(req, "Invalid timeout")],
            },
        };
        let cid = req.value("CallerID");
        let r = Request {
            dest: dest.clone(),
            timeout: Some(timeout),
            vars: variables(req),
            caller: (!cid.trim().is_empty()).then(|| CallerId::parse(cid)),
        };
        let is_async = crate::config::is_true(req.value("Async"));
        if !is_async {
            let (status, _, _) = run_originate(pbx, r, target.clone()).await;
            return if status == "SUCCESS" {
                vec![Message::ack(req, "Originate successfully queued")]
            } else {
                vec![Message::error(req, "Originate failed")]
            };
        }
        let pbx = pbx.clone();
        let later = caller.later.clone();
        let req2 = req.clone();
        tokio::spawn(async move {
            let cid = r.caller.clone().unwrap_or_default();
            let (status, name, uid) = run_originate(&pbx, r, target.clone()).await;
            let mut ev = super::events::header("OriginateResponse", class::CALL, None);
            if let Some(id) = req2.get("ActionID") {
                ev.push("ActionID", id);
            }
            ev.push(
                "Response",
                if status == "SUCCESS" {
                    "Success"
                } else {
                    "Failure"
                },
            );
            ev.push("Channel", name.unwrap_or(dest));
            match &target {
                Target::Exten {
                    context,
                    exten,
                    priority: _,
                } => {
                    ev.push("Context", context.clone());
                    ev.push("Exten", exten.clone());
                }
                Target::App { app, data } => {
                    ev.push("Application", app.clone());
                    ev.push("Data", data.clone());
                }
            }
            // Asterisk's control frame numbers (AST_CONTROL_*) for the outcome.
            let reason = match status {
                "SUCCESS" => 4,
                "BUSY" => 5,
                "CONGESTION" => 8,
                "RINGING" => 3,
                "HANGUP" => 1,
                _ => 0,
            };
            ev.push("Reason", reason.to_string());
            ev.push("Uniqueid", uid.unwrap_or_else(|| "<null>".into()));
            ev.push("CallerIDNum", cid.num.unwrap_or_else(|| "<unknown>".into()));
            ev.push(
                "CallerIDName",
                cid.name.unwrap_or_else(|| "<unknown>".into()),
            );
            if let Some(tx) = later {
                let _ = tx.send(ev).await;
            }
        });
        vec![Message::ack(req, "Originate successfully queued")]
    }
}

/// Originate, keeping the channel's name and unique id for `OriginateResponse`.
async fn run_originate(
    pbx: &Arc<Pbx>,
    r: Request,
    target: Target,
) -> (&'static str, Option<String>, Option<String>) {
    crate::pbx::tech::prepare(pbx, &r.dest).await;
    match originate::start(pbx, &r, None) {
        Err(s) => (s, None, None),
        Ok(chan) => {
            let (name, uid) = (chan.name().to_string(), chan.uniqueid().to_string());
            let status = originate::answer_and_run(chan, r.timeout, target).await;
            (status, Some(name), Some(uid))
        }
    }
}

/// `/regex/` names every channel matching; else the channel by name.
fn find_channels(pbx: &Pbx, spec: &str) -> Result<Vec<Arc<ChannelShared>>, String> {
    if spec.len() >= 2 && spec.starts_with('/') && spec.ends_with('/') {
        let re =
            regex::Regex::new(&spec[1..spec.len() - 1]).map_err(|_| "Invalid regex".to_string())?;
        return Ok(pbx
            .channels
            .list()
            .into_iter()
            .filter(|c| re.is_match(&c.name))
            .collect());
    }
    Ok(pbx.channels.get(spec).into_iter().collect())
}

struct HangupAction;
#[async_trait]
impl Action for HangupAction {
    meta!("Hangup", class::SYSTEM | class::CALL, "Hangup channel");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let spec = req.value("Channel").trim();
        if spec.is_empty() {
            return vec![Message::error(req, "No channel specified")];
        }
        let cause = match req.value("Cause").trim() {
            "" => crate::pbx::channel::cause::NORMAL_CLEARING,
            c => match c.parse::<i32>() {
                Ok(n) if n > 0 => n,
                _ => return vec![Message::error(req, "Invalid cause")],
            },
        };
        let regex = spec.starts_with('/') && spec.ends_with('/') && spec.len() >= 2;
        let chans = match find_channels(pbx, spec) {
            Ok(c) => c,
            Err(e) => return vec![Message::error(req, &e)],
        };
        for c in &chans {
            c.request_hangup(cause);
        }
        if !regex {
            return if chans.is_empty() {
                vec![Message::error(req, "No such channel")]
            } else {
                vec![Message::ack(req, "Channel Hungup")]
            };
        }
        let items = chans
            .iter()
            .map(|c| Message::event("ChannelHungup", Some(req)).with("Channel", c.name.clone()))
            .collect();
        list(
            req,
            "Channels hung up will follow",
            items,
            "ChannelsHungupListComplete",
        )
    }
}

struct Redirect;
#[async_trait]
impl Action for Redirect {
    meta!("Redirect", class::CALL, "Redirect (transfer) a call.");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let name = req.value("Channel").trim();
        if name.is_empty() {
            return vec![Message::error(req, "Channel not specified")];
        }
        let exten = req.value("Exten").trim();
        let ctx = req.value("Context").trim();
        let prio = match req.value("Priority").trim() {
            "" => 1,
            p => match p.parse::<i32>() {
                Ok(n) if n > 0 => n,
                _ => return vec![Message::error(req, &format!("Invalid priority '{p}'"))],
            },
        };
        let Some(c) = pbx.channels.get(name) else {
            return vec![Message::error(
                req,
                &format!("Channel does not exist: {name}"),
            )];
        };
        let extra = req.value("ExtraChannel").trim();
        let other = if extra.is_empty() {
            None
        } else {
            match pbx.channels.get(extra) {
                Some(o) => Some(o),
                None => {
                    return vec![Message::error(
                        req,
                        &format!("ExtraChannel does not exist: {extra}"),
                    )]
                }
            }
        };
        let target = |c: &ChannelShared, ctx: &str, exten: &str, prio: i32| {
            let s = c.snapshot.lock().clone();
            let ctx = if ctx.is_empty() {
                s.context
            } else {
                ctx.to_string()
            };
            let exten = if exten.is_empty() {
                s.exten
            } else {
                exten.to_string()
            };
            c.request_redirect(&ctx, &exten, prio);
        };
        target(&c, ctx, exten, prio);
        if let Some(o) = other {
            let (ec, ee) = (
                req.value("ExtraContext").trim(),
                req.value("ExtraExten").trim(),
            );
            let ep = req.value("ExtraPriority").trim().parse().unwrap_or(prio);
            target(
                &o,
                if ec.is_empty() { ctx } else { ec },
                if ee.is_empty() { exten } else { ee },
                ep,
            );
            return vec![Message::ack(req, "Dual Redirect successful")];
        }
        vec![Message::ack(req, "Redirect successful")]
    }
}

struct Getvar;
#[async_trait]
impl Action for Getvar {
    meta!(
        "Getvar",
        class::CALL | class::REPORTING,
        "Gets a channel variable or function value."
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let var = req.value("Variable").trim();
        if var.is_empty() {
            return vec![Message::error(req, "No variable specified")];
        }
        let chan = req.value("Channel").trim();
        let value = if chan.is_empty() {
            pbx.get_global(var).unwrap_or_default()
        } else {
            let Some(c) = pbx.channels.get(chan) else {
                return vec![Message::error(req, "No such channel")];
            };
            let vars = c.request_vars(Duration::from_millis(300)).await;
            vars.iter()
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim_start_matches('_').eq_ignore_ascii_case(var))
                .map(|(_, v)| v.to_string())
                .or_else(|| pbx.get_global(var))
                .unwrap_or_default()
        };
        let mut m = Message::response("Success", req, "");
        m.push("Variable", var);
        m.push("Value", value);
        vec![m]
    }
}

struct Setvar;
#[async_trait]
impl Action for Setvar {
    meta!(
        "Setvar",
        class::CALL,
        "Sets a channel variable or function value."
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let var = req.value("Variable").trim();
        if var.is_empty() {
            return vec![Message::error(req, "No variable specified")];
        }
        let chan = req.value("Channel").trim();
        if chan.is_empty() {
            pbx.set_global(var, req.value("Value"));
        } else {
            // The channel's task applies it at its next wait or dialplan step.
            let Some(c) = pbx.channels.get(chan) else {
                return vec![Message::error(req, "No such channel")];
            };
            c.request_setvar(var, req.value("Value"));
        }
        vec![Message::ack(req, "Variable Set")]
    }
}

fn duration(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

struct CoreShowChannels;
#[async_trait]
impl Action for CoreShowChannels {
    meta!(
        "CoreShowChannels",
        class::SYSTEM | class::REPORTING,
        "List currently active channels."
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let mut chans = pbx.channels.list();
        chans.sort_by(|a, b| a.name.cmp(&b.name));
        let items = chans
            .iter()
            .map(|c| {
                let s = c.snapshot.lock().clone();
                let st = s.state.unwrap_or(crate::pbx::ChanState::Down);
                let snap = crate::pbx::events::ChanSnapshot {
                    channel: c.name.clone(),
                    state: st as u8,
                    state_desc: st.as_str(),
                    caller_num: s.caller.num.clone().unwrap_or_default(),
                    caller_name: s.caller.name.clone().unwrap_or_default(),
                    language: s.language.clone(),
                    accountcode: s.accountcode.clone(),
                    context: s.context.clone(),
                    exten: s.exten.clone(),
                    priority: s.priority,
                    uniqueid: c.uniqueid.clone(),
                    linkedid: c.uniqueid.clone(),
                    ..Default::default()
                };
                let mut m = Message::event("CoreShowChannel", Some(req));
                snap.fields("", &mut m.headers);
                m.push("BridgeId", "");
                m.push("Application", s.app.clone());
                m.push("ApplicationData", s.data.clone());
                m.push("Duration", duration(c.created.elapsed().as_secs()));
                m
            })
            .collect();
        list(
            req,
            "Channels will follow",
            items,
            "CoreShowChannelsComplete",
        )
    }
}

struct ExtensionState;
#[async_trait]
impl Action for ExtensionState {
    meta!(
        "ExtensionState",
        class::CALL | class::REPORTING,
        "Check Extension Status"
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let exten = req.value("Exten").trim();
        let ctx = match req.value("Context").trim() {
            "" => "default",
            c => c,
        };
        let dp = pbx.dialplan();
        let hint = dp.hint(ctx, exten, chrono::Utc::now()).map(str::to_string);
        // Asterisk's ast_devstate_to_extenstate and ast_extension_state2str.
        let (c, e) = (ctx.to_string(), exten.to_string());
        let state = blocking::run({
            let pbx = pbx.clone();
            move || crate::pbx::devstate::extension_state(&pbx, &c, &e)
        })
        .await
        .flatten();
        use crate::pbx::devstate::DeviceState as D;
        let (status, text) = match state {
            None => (-1, "Unknown"),
            Some(D::NotInUse | D::Unknown) => (0, "Idle"),
            Some(D::InUse) => (1, "InUse"),
            Some(D::Busy) => (2, "Busy"),
            Some(D::Unavailable | D::Invalid) => (4, "Unavailable"),
            Some(D::Ringing) => (8, "Ringing"),
            Some(D::RingInUse) => (9, "InUse&Ringing"),
            Some(D::OnHold) => (16, "Hold"),
        };
        let mut m = Message::ack(req, "Extension Status");
        m.push("Exten", exten);
        m.push("Context", ctx);
        m.push("Hint", hint.unwrap_or_default());
        m.push("Status", status.to_string());
        m.push("StatusText", text);
        vec![m]
    }
}

fn split_mailbox(spec: &str) -> (String, String) {
    match spec.trim().split_once('@') {
        Some((m, c)) => (m.to_string(), c.to_string()),
        None => (spec.trim().to_string(), "default".to_string()),
    }
}

/// `MailboxCount` (the counts) and `MailboxStatus` (`Waiting`): one look-up, two answers.
struct Mailbox {
    status: bool,
}
#[async_trait]
impl Action for Mailbox {
    fn name(&self) -> &'static str {
        if self.status {
            "MailboxStatus"
        } else {
            "MailboxCount"
        }
    }
    fn privilege(&self) -> u32 {
        class::CALL | class::REPORTING
    }
    fn synopsis(&self) -> &'static str {
        if self.status {
            "Check mailbox."
        } else {
            "Check Mailbox Message Count"
        }
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let spec = req.value("Mailbox").trim();
        if spec.is_empty() {
            return vec![Message::error(req, "Mailbox not specified")];
        }
        let (mb, ctx) = split_mailbox(spec);
        let s = pbx.mailbox_counts(&mb, &ctx).await;
        let mut m = if self.status {
            Message::ack(req, "Mailbox Status")
        } else {
            Message::ack(req, "Mailbox Message Count")
        };
        m.push("Mailbox", spec);
        if self.status {
            m.push("Waiting", (s.new + s.urgent_new).to_string());
        } else {
            m.push("UrgMessages", s.urgent_new.to_string());
            m.push("NewMessages", s.new.to_string());
            m.push("OldMessages", s.old.to_string());
        }
        vec![m]
    }
}

/// AstDB work on the blocking pool.
async fn db<T: Send + 'static>(
    pbx: &Arc<Pbx>,
    f: impl FnOnce(&Pbx) -> T + Send + 'static,
) -> Option<T> {
    let p = pbx.clone();
    blocking::run(move || f(&p)).await
}

/// `Family` and `Key` (a key is needed unless `need_key` is false), or the error reply.
fn family_key(req: &Message, need_key: bool) -> Result<(String, String), Reply> {
    let fam = req.value("Family").trim();
    if fam.is_empty() {
        return Err(vec![Message::error(req, "No family specified.")]);
    }
    let key = req.value("Key").trim();
    if need_key && key.is_empty() {
        return Err(vec![Message::error(req, "No key specified.")]);
    }
    Ok((fam.to_string(), key.to_string()))
}

struct DbGet;
#[async_trait]
impl Action for DbGet {
    meta!("DBGet", class::SYSTEM | class::REPORTING, "Get DB Entry.");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (f, k) = match family_key(req, true) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let (f2, k2) = (f.clone(), k.clone());
        match db(pbx, move |p| p.astdb.get(&f2, &k2)).await.flatten() {
            None => vec![Message::error(req, "Database entry not found")],
            Some(v) => list(
                req,
                "Result will follow",
                vec![Message::event("DBGetResponse", Some(req))
                    .with("Family", f)
                    .with("Key", k)
                    .with("Val", v)],
                "DBGetComplete",
            ),
        }
    }
}

struct DbPut;
#[async_trait]
impl Action for DbPut {
    meta!("DBPut", class::SYSTEM, "Put DB entry.");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (f, k) = match family_key(req, true) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let v = req.value("Val").to_string();
        match db(pbx, move |p| p.astdb.put(&f, &k, &v).is_ok()).await {
            Some(true) => vec![Message::ack(req, "Updated database successfully")],
            _ => vec![Message::error(req, "Failed to update entry")],
        }
    }
}

struct DbDel;
#[async_trait]
impl Action for DbDel {
    meta!("DBDel", class::SYSTEM, "Delete DB entry.");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (f, k) = match family_key(req, true) {
            Ok(x) => x,
            Err(r) => return r,
        };
        match db(pbx, move |p| p.astdb.del(&f, &k)).await {
            Some(Ok(true)) => vec![Message::ack(req, "Key deleted successfully")],
            _ => vec![Message::error(req, "Database entry not found")],
        }
    }
}

struct DbDelTree;
#[async_trait]
impl Action for DbDelTree {
    meta!("DBDelTree", class::SYSTEM, "Delete DB Tree.");
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (f, k) = match family_key(req, false) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let r = db(pbx, move |p| {
            p.astdb
                .deltree(Some(&f), (!k.is_empty()).then_some(k.as_str()))
                .map(|n| n > 0)
        })
        .await;
        match r {
            Some(Ok(true)) => vec![Message::ack(req, "Key tree deleted successfully")],
            _ => vec![Message::error(req, "Database entry not found")],
        }
    }
}

struct ReloadAction;
#[async_trait]
impl Action for ReloadAction {
    meta!(
        "Reload",
        class::SYSTEM | class::CONFIG,
        "Send a reload event."
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        use crate::pbx::module::Reload;
        let module = req.value("Module").trim();
        if module.is_empty() {
            for (_, r) in pbx.modules.reload_all().await {
                if let Reload::Failed(t) = r {
                    pbx.warning(t.trim_end());
                }
            }
            *pbx.last_reload.lock() = (std::time::Instant::now(), std::time::SystemTime::now());
            return vec![Message::ack(req, "Module Reloaded")];
        }
        match pbx.modules.reload(module).await {
            None => vec![Message::error(req, "No such module")],
            Some(Reload::NotSupported) => {
                vec![Message::error(req, "Module does not support reloading")]
            }
            Some(Reload::Failed(_)) => vec![Message::error(req, "An unknown error occurred")],
            Some(Reload::Done(_)) => vec![Message::ack(req, "Module Reloaded")],
        }
    }
}

struct ListCommands;
#[async_trait]
impl Action for ListCommands {
    meta!("ListCommands", 0, "List available manager commands.");
    async fn run(&self, pbx: &Arc<Pbx>, caller: &Caller, req: &Message) -> Reply {
        let mut m = Message::response("Success", req, "");
        for a in pbx.manager_actions.list() {
            if a.privilege() & caller.write == a.privilege() {
                m.push(
                    a.name(),
                    format!("{} (Priv: {})", a.synopsis(), class::to_str(a.privilege())),
                );
            }
        }
        vec![m]
    }
}

fn date_time(t: std::time::SystemTime) -> (String, String) {
    let d: chrono::DateTime<chrono::Local> = t.into();
    (
        d.format("%Y-%m-%d").to_string(),
        d.format("%H:%M:%S").to_string(),
    )
}

struct CoreStatus;
#[async_trait]
impl Action for CoreStatus {
    meta!(
        "CoreStatus",
        class::SYSTEM | class::REPORTING,
        "Show PBX core status variables."
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let (sd, st) = date_time(pbx.started_wall);
        let (rd, rt) = date_time(pbx.last_reload.lock().1);
        let mut m = Message::response("Success", req, "");
        m.push("CoreStartupDate", sd);
        m.push("CoreStartupTime", st);
        m.push("CoreReloadDate", rd);
        m.push("CoreReloadTime", rt);
        m.push("CoreCurrentCalls", pbx.channels.len().to_string());
        vec![m]
    }
}

struct CoreSettings;
#[async_trait]
impl Action for CoreSettings {
    meta!(
        "CoreSettings",
        class::SYSTEM | class::REPORTING,
        "Show PBX core settings (version etc)."
    );
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let mut m = Message::response("Success", req, "");
        m.push("AMIversion", super::proto::AMI_VERSION);
        m.push("AsteriskVersion", env!("CARGO_PKG_VERSION"));
        m.push("SystemName", pbx.settings.systemname.clone());
        m.push("CoreMaxCalls", "0");
        m.push("CoreMaxLoadAvg", "0.000000");
        m.push("CoreRunUser", "");
        m.push("CoreRunGroup", "");
        m.push("CoreMaxFilehandles", "0");
        m.push("CoreRealTimeEnabled", "No");
        m.push("CoreCDRenabled", "Yes");
        m.push("CoreHTTPenabled", "No");
        vec![m]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Message {
        let mut m = Message::new();
        for (k, v) in pairs {
            m.push(k, *v);
        }
        m
    }

    #[tokio::test]
    async fn db_actions_and_list_framing() {
        let pbx = Pbx::for_tests();
        let c = Caller::default();
        let r = DbPut
            .run(
                &pbx,
                &c,
                &req(&[("Family", "f"), ("Key", "k"), ("Val", "v")]),
            )
            .await;
        assert_eq!(r[0].get("Message"), Some("Updated database successfully"));
        let r = DbGet
            .run(
                &pbx,
                &c,
                &req(&[("Family", "f"), ("Key", "k"), ("ActionID", "9")]),
            )
            .await;
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].get("EventList"), Some("start"));
        assert_eq!(r[1].get("Val"), Some("v"));
        assert_eq!(r[1].get("ActionID"), Some("9"));
        assert_eq!(r[2].get("Event"), Some("DBGetComplete"));
        assert_eq!(r[2].get("ListItems"), Some("1"));
        let r = DbDel
            .run(&pbx, &c, &req(&[("Family", "f"), ("Key", "k")]))
            .await;
        assert_eq!(r[0].get("Response"), Some("Success"));
        let r = DbGet
            .run(&pbx, &c, &req(&[("Family", "f"), ("Key", "k")]))
            .await;
        assert_eq!(r[0].get("Message"), Some("Database entry not found"));
    }

    #[tokio::test]
    async fn globals_and_bad_input() {
        let pbx = Pbx::for_tests();
        let c = Caller::default();
        Setvar
            .run(&pbx, &c, &req(&[("Variable", "G"), ("Value", "1")]))
            .await;
        let r = Getvar.run(&pbx, &c, &req(&[("Variable", "G")])).await;
        assert_eq!(r[0].get("Value"), Some("1"));
        let r = HangupAction
            .run(&pbx, &c, &req(&[("Channel", "/([/")]))
            .await;
        assert_eq!(r[0].get("Response"), Some("Error"));
        let r = HangupAction
            .run(&pbx, &c, &req(&[("Channel", "SIP/none")]))
            .await;
        assert_eq!(r[0].get("Message"), Some("No such channel"));
        let r = Originate.run(&pbx, &c, &req(&[("Channel", "x")])).await;
        assert_eq!(r[0].get("Response"), Some("Error"));
        let r = Originate
            .run(
                &pbx,
                &c,
                &req(&[("Channel", "Local/1@x"), ("Application", "System")]),
            )
            .await;
        assert!(r[0].value("Message").contains("System privilege"));
        let r = CoreShowChannels.run(&pbx, &c, &req(&[])).await;
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].get("ListItems"), Some("0"));
    }
}
