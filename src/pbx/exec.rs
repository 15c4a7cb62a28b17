//! The interpreter: walks a channel through the dialplan, one priority at a time, with
//! Asterisk's rules (substitution, `i`/`h`/`T` extensions, autofallthrough, the verbose
//! `Executing [...]` line). Applications run through the [`super::app::App`] trait only,
//! looked up in the registry modules fill; a running application counts as a use of its
//! module (so `module unload` waits for it).

use super::channel::{cause, ChanEvent, Channel, Hangup};
use super::func::Func;
use crate::dialplan::subst::{self, Resolver};
use chrono::Utc;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a nested interpreter run knows it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nest {
    /// The channel's main dialplan run.
    Top,
    /// Inside `Macro()`: ends on MacroExit or when the macro extension runs out.
    Macro,
    /// A subroutine run from outside the dialplan (Dial `U()`): ends when the Gosub stack
    /// drops below this depth (Return).
    Sub(usize),
}

/// Why an interpreter run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// An application returned -1 or the channel was hung up.
    Hangup,
    /// Ran out of priorities (autofallthrough), or no such extension and no `i`.
    FellOff,
    /// MacroExit / Return ended a nested run.
    Returned,
}

/// Resolves `${}` names against a channel: built-ins, channel variables, globals, functions.
pub struct ChanResolver<'a> {
    pub chan: &'a mut Channel,
    /// Set while substituting with functions that wait ([`substitute_async`]).
    memo: Option<&'a mut Memo>,
}

/// What one pass of [`substitute_async`] saw, in evaluation order: every variable and
/// function result (replayed by the next pass, so nothing runs twice), and the first
/// waiting function not answered yet.
#[derive(Default)]
struct Memo {
    results: Vec<Option<String>>,
    next: usize,
    pending: Option<(Arc<dyn Func>, String, String)>,
}

impl Memo {
    /// Replay slot `next`, or `None` when this pass reached new ground.
    fn replay(&mut self) -> Option<Option<String>> {
        let r = self.results.get(self.next).cloned();
        if r.is_some() {
            self.next += 1;
        }
        r
    }
    fn record(&mut self, v: Option<String>) -> Option<String> {
        self.results.push(v.clone());
        self.next += 1;
        v
    }
}

/// Built-in variables Asterisk computes from the channel (they win over channel vars).
fn builtin_first(chan: &Channel, name: &str) -> Option<String> {
    Some(match name {
        "EXTEN" => chan.exten.clone(),
        "CONTEXT" => chan.context.clone(),
        "PRIORITY" => chan.priority.to_string(),
        "CHANNEL" => chan.name().to_string(),
        "UNIQUEID" => chan.uniqueid().to_string(),
        "HANGUPCAUSE" => chan.hangup_cause.to_string(),
        "CALLERID(num)" | "CALLERIDNUM" => chan.caller.num.clone().unwrap_or_default(),
        "CALLERID(name)" | "CALLERIDNAME" => chan.caller.name.clone().unwrap_or_default(),
        "CALLERID(all)" => chan.caller.all(),
        "LANGUAGE" => chan.language.clone(),
        "ACCOUNTCODE" => chan.accountcode.clone(),
        "DNID" => chan.caller.dnid.clone().unwrap_or_default(),
        "RDNIS" => chan.caller.rdnis.clone().unwrap_or_default(),
        _ => return None,
    })
}

/// Built-ins that a channel variable of the same name overrides.
fn builtin_last(chan: &Channel, name: &str) -> Option<String> {
    let now = chrono::Local::now();
    Some(match name {
        "EPOCH" => Utc::now().timestamp().to_string(),
        "DATETIME" => now.format("%d%m%Y-%H:%M:%S").to_string(),
        "TIMESTAMP" => now.format("%Y%m%d-%H%M%S").to_string(),
        "SYSTEMNAME" => chan.pbx.settings.systemname.clone(),
        "ENTITYID" => "00:00:00:00:00:00".to_string(),
        "ASTETCDIR" => chan.pbx.settings.astetcdir.display().to_string(),
        "ASTSPOOLDIR" => chan.pbx.settings.astspooldir.display().to_string(),
        "ASTDATADIR" => chan.pbx.settings.astdatadir.display().to_string(),
        "ASTAGIDIR" => chan.pbx.settings.astagidir.display().to_string(),
        "ASTLOGDIR" => chan.pbx.settings.astlogdir.display().to_string(),
        "ASTRUNDIR" => chan.pbx.settings.astrundir.display().to_string(),
        "ASTDBDIR" | "ASTVARLIBDIR" => chan.pbx.settings.astdbdir.display().to_string(),
        _ => return None,
    })
}

/// Value of a variable as `${name}` sees it (without function calls).
pub fn get_var(chan: &Channel, name: &str) -> Option<String> {
    if let Some(v) = builtin_first(chan, name) {
        return Some(v);
    }
    if let Some(v) = chan.vars.get(name) {
        return Some(v.to_string());
    }
    if let Some(v) = builtin_last(chan, name) {
        return Some(v);
    }
    chan.pbx.get_global(name)
}

impl Resolver for ChanResolver<'_> {
    fn var(&mut self, name: &str) -> Option<String> {
        match self.memo.as_deref_mut() {
            None => get_var(self.chan, name),
            Some(m) if m.pending.is_some() => None,
            Some(m) => match m.replay() {
                Some(v) => v,
                None => {
                    let v = get_var(self.chan, name);
                    m.record(v)
                }
            },
        }
    }
    fn func(&mut self, name: &str, args: &str) -> Option<String> {
        if let Some(m) = self.memo.as_deref_mut() {
            if m.pending.is_some() {
                return Some(String::new());
            }
            if let Some(v) = m.replay() {
                return v;
            }
            if let Some(f) = self.chan.pbx.funcs.get(name).filter(|f| f.is_async()) {
                m.pending = Some((f, name.to_string(), args.to_string()));
                return Some(String::new());
            }
            let v = self.func_now(name, args);
            return self.memo.as_deref_mut().and_then(|m| m.record(v));
        }
        self.func_now(name, args)
    }
}

impl ChanResolver<'_> {
    /// Call a function synchronously (outside [`substitute_async`] a function that waits
    /// uses its synchronous `read`, which may refuse).
    fn func_now(&mut self, name: &str, args: &str) -> Option<String> {
        let pbx = self.chan.pbx.clone();
        match pbx.funcs.get(name) {
            Some(f) => match f.read(self.chan, args) {
                Ok(v) => Some(v),
                Err(e) => {
                    pbx.warning(&format!(
                        "func_{}: {}({}): {e}",
                        name.to_ascii_lowercase(),
                        name,
                        args
                    ));
                    Some(String::new())
                }
            },
            None => {
                pbx.error(&format!("pbx_functions.c: Function {name} not registered"));
                None
            }
        }
    }
}

/// Substitute `${}`/`$[]` in `s` on behalf of `chan`.
pub fn substitute(chan: &mut Channel, s: &str) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let mut r = ChanResolver { chan, memo: None };
    subst::substitute(s, &mut r)
}

/// At most this many waiting function calls in one argument string.
const MAX_ASYNC_CALLS: usize = 64;

/// Substitute as [`substitute`], awaiting functions that wait on the outside world
/// (`CALENDAR_BUSY`, `JABBER_RECEIVE`, realtime look-ups) instead of blocking a worker. Each
/// pass stops at the first such call not answered yet; after it is awaited the next pass
/// replays every earlier result, so every variable and function is evaluated once, in order.
pub async fn substitute_async(chan: &mut Channel, s: &str) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    if !chan.pbx.calls_async_func(s) {
        return substitute(chan, s);
    }
    let mut memo = Memo::default();
    for _ in 0..=MAX_ASYNC_CALLS {
        memo.next = 0;
        let out = {
            let mut r = ChanResolver {
                chan,
                memo: Some(&mut memo),
            };
            subst::substitute(s, &mut r)
        };
        let Some((f, name, args)) = memo.pending.take() else {
            return out;
        };
        let v = match f.read_async(chan, &args).await {
            Ok(v) => v,
            Err(e) => {
                chan.pbx.warning(&format!(
                    "func_{}: {}({}): {e}",
                    name.to_ascii_lowercase(),
                    name,
                    args
                ));
                String::new()
            }
        };
        memo.results.push(Some(v));
    }
    chan.pbx.warning(&format!(
        "pbx.c: more than {MAX_ASYNC_CALLS} waiting function calls in '{s}'; the rest are empty"
    ));
    substitute(chan, s)
}

/// Call a function for writing: `Set(FUNC(args)=value)`.
pub fn write_func(chan: &mut Channel, call: &str, value: &str) {
    let pbx = chan.pbx.clone();
    let Some((name, args)) = super::func::split_call(call) else {
        pbx.warning(&format!("pbx.c: Invalid function call '{call}'"));
        return;
    };
    match pbx.funcs.get(name) {
        Some(f) => {
            if let Err(e) = f.write(chan, args, value) {
                pbx.warning(&format!("pbx_functions.c: {name}({args}): {e}"));
            }
        }
        None => pbx.error(&format!("pbx_functions.c: Function {name} not registered")),
    }
}

/// [`write_func`] for the interpreter's applications (`Set`, `MSet`): a function that waits
/// is awaited ([`Func::write_async`]) instead of blocking a worker.
pub async fn write_func_async(chan: &mut Channel, call: &str, value: &str) {
    let pbx = chan.pbx.clone();
    let Some((name, args)) = super::func::split_call(call) else {
        pbx.warning(&format!("pbx.c: Invalid function call '{call}'"));
        return;
    };
    match pbx.funcs.get(name) {
        Some(f) if f.is_async() => {
            if let Err(e) = f.write_async(chan, args, value).await {
                pbx.warning(&format!("pbx_functions.c: {name}({args}): {e}"));
            }
        }
        Some(_) => write_func(chan, call, value),
        None => pbx.error(&format!("pbx_functions.c: Function {name} not registered")),
    }
}

/// Run application `name` with already-substituted `data` (Exec, ExecIf, Originate, `M()`).
pub fn exec_app<'a>(
    chan: &'a mut Channel,
    name: &'a str,
    data: &'a str,
) -> Pin<Box<dyn Future<Output = Result<(), Hangup>> + Send + 'a>> {
    Box::pin(async move {
        let pbx = chan.pbx.clone();
        let Some(entry) = pbx.apps.entry(name) else {
            pbx.warning(&format!(
                "pbx.c: No application '{}' for extension ({}, {}, {})",
                name, chan.context, chan.exten, chan.priority
            ));
            return Err(Hangup);
        };
        let _in_use = entry.owner.enter();
        let app = entry.item.clone();
        chan.last_app = app.name().to_string();
        chan.last_data = data.to_string();
        app.exec(chan, data).await
    })
}

/// Execute from the channel's current location until `nest` says stop.
pub fn run_loop(chan: &mut Channel, nest: Nest) -> Pin<Box<dyn Future<Output = End> + Send + '_>> {
    Box::pin(async move {
        let pbx = chan.pbx.clone();
        // The applications this run has looked up, valid while the registry's generation
        // is unchanged (a loop runs the same few applications thousands of times).
        let mut apps = AppCache::default();
        loop {
            if !chan.in_hangup_handler && chan.check_hangup() {
                // A manager Redirect interrupts as a hangup; the top level jumps.
                if !(nest == Nest::Top && chan.take_redirect()) {
                    match take_join(chan, nest).await {
                        Some(true) => continue,
                        _ => return End::Hangup,
                    }
                }
            }
            if let Some(dl) = chan.absolute_deadline {
                if Instant::now() >= dl && !chan.in_hangup_handler {
                    chan.absolute_deadline = None;
                    let dp = pbx.dialplan();
                    if dp.exists(
                        &chan.context,
                        "T",
                        1,
                        chan.caller.num.as_deref(),
                        Utc::now(),
                    ) {
                        pbx.verbose_line(3, &format!("Timeout on {}, going to 'T'", chan.name()));
                        chan.goto(&chan.context.clone(), "T", 1);
                    } else {
                        pbx.verbose_line(3, &format!("Timeout on {}, continuing...", chan.name()));
                        return End::Hangup;
                    }
                }
            }
            match nest {
                Nest::Macro if chan.macro_exit || !chan.context.starts_with("macro-") => {
                    return End::Returned
                }
                Nest::Sub(depth) if chan.gosub.len() < depth => return End::Returned,
                _ => {}
            }
            let dp = pbx.dialplan();
            // The clock matters only to time-conditional includes.
            let now = if dp.has_timed_includes() {
                Utc::now()
            } else {
                chrono::DateTime::<Utc>::UNIX_EPOCH
            };
            let found = dp.find_priority(
                &chan.context,
                &chan.exten,
                chan.priority,
                chan.caller.num.as_deref(),
                now,
            );
            let Some((_ctx, _ext, prio)) = found else {
                // No such priority: an unknown extension goes to `i`, otherwise we ran out.
                if !dp.exists(
                    &chan.context,
                    &chan.exten,
                    1,
                    chan.caller.num.as_deref(),
                    now,
                ) {
                    if nest == Nest::Top
                        && !chan.in_hangup_handler
                        && dp.exists(&chan.context, "i", 1, chan.caller.num.as_deref(), now)
                    {
                        pbx.verbose_line(
                            3,
                            &format!(
                                "Sent into invalid extension '{}' in context '{}' on {}",
                                chan.exten,
                                chan.context,
                                chan.name()
                            ),
                        );
                        let ext = chan.exten.clone();
                        chan.vars.set("INVALID_EXTEN", ext);
                        let c = chan.context.clone();
                        chan.goto(&c, "i", 1);
                        continue;
                    }
                    if nest == Nest::Top && !chan.in_hangup_handler {
                        pbx.verbose_line(
                            3,
                            &format!(
                                "Channel '{}' sent to invalid extension but no invalid handler: context,exten,priority={},{},{}",
                                chan.name(),
                                chan.context,
                                chan.exten,
                                chan.priority
                            ),
                        );
                    }
                }
                return End::FellOff;
            };
            let app_name = prio.app.as_str();
            // The plain path unless the arguments call a function that waits (no future to
            // build, nothing to replay).
            let data = if pbx.calls_async_func(&prio.data) {
                substitute_async(chan, &prio.data).await
            } else {
                substitute(chan, &prio.data)
            };
            let Some(entry) = apps.get(&pbx, &prio.app_key) else {
                pbx.warning(&format!(
                    "pbx.c: No application '{}' for extension ({}, {}, {})",
                    app_name, chan.context, chan.exten, chan.priority
                ));
                spawn_exited(chan);
                return End::Hangup;
            };
            let app = &entry.item;
            if pbx.verbose() >= 3 {
                pbx.verbose_line(
                    3,
                    &format!(
                        "Executing [{}@{}:{}] {}(\"{}\", \"{}\") in new stack",
                        chan.exten,
                        chan.context,
                        chan.priority,
                        app.name(),
                        chan.name(),
                        data
                    ),
                );
            }
            chan.serve_requests();
            if pbx.events.wants(super::events::Topic::Dialplan) {
                pbx.events.publish(super::events::Event::Newexten {
                    chan: super::events::ChanSnapshot::of(chan),
                    app: app.name().to_string(),
                    data: data.clone(),
                });
            }
            chan.publish(app.name(), &data);
            chan.jumped = false;
            if chan.last_app != app.name() {
                chan.last_app = app.name().to_string();
            }
            chan.last_data.clear();
            chan.last_data.push_str(&data);
            drop(dp);
            let _in_use = entry.owner.enter();
            if app.exec(chan, &data).await.is_err() {
                if nest == Nest::Top && chan.take_redirect() {
                    continue;
                }
                if let Some(true) = take_join(chan, nest).await {
                    if !chan.jumped {
                        chan.priority += 1;
                    }
                    continue;
                }
                spawn_exited(chan);
                return End::Hangup;
            }
            if !chan.jumped {
                chan.priority += 1;
            }
        }
    })
}

/// Run the job another channel asked of this one ([`super::channel::ChannelShared::request_join`]), at
/// the top level only: `Some(continue?)`, `None` when there was none.
async fn take_join(chan: &mut Channel, nest: Nest) -> Option<bool> {
    if nest != Nest::Top {
        return None;
    }
    let job = chan.shared.take_join()?;
    chan.jumped = false;
    Some(job(chan).await)
}

/// A run's cache of application look-ups (see [`run_loop`]).
#[derive(Default)]
struct AppCache {
    generation: u64,
    entries: Vec<(String, Arc<super::module::Entry<dyn super::app::App>>)>,
}

impl AppCache {
    fn get(
        &mut self,
        pbx: &super::Pbx,
        key: &str,
    ) -> Option<Arc<super::module::Entry<dyn super::app::App>>> {
        let g = pbx.apps.generation();
        if g != self.generation || self.entries.len() > 32 {
            self.entries.clear();
            self.generation = g;
        }
        if let Some((_, e)) = self.entries.iter().find(|(k, _)| k == key) {
            return Some(e.clone());
        }
        let e = pbx.apps.entry_lower(key)?;
        self.entries.push((key.to_string(), e.clone()));
        Some(e)
    }
}

fn spawn_exited(chan: &Channel) {
    chan.pbx.verbose_line(
        2,
        &format!(
            "Spawn extension ({}, {}, {}) exited non-zero on '{}'",
            chan.context,
            chan.exten,
            chan.priority,
            chan.name()
        ),
    );
}

/// A channel's whole life in the dialplan: run, autofallthrough, `h`, hang up. Its log
/// lines carry its call id (a new one unless it was made for a call that has one).
pub async fn run_pbx(chan: Channel) {
    use std::sync::atomic::Ordering;
    let mut id = chan.shared.callid.load(Ordering::Relaxed);
    if id == 0 {
        id = chan.pbx.logger.new_callid();
        chan.shared.callid.store(id, Ordering::Relaxed);
    }
    crate::logger::CALLID.scope(id, run_pbx_call(chan)).await
}

async fn run_pbx_call(mut chan: Channel) {
    chan.pbx
        .calls_processed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    chan.shared.snapshot.lock().in_pbx = true;
    if chan.cdr.dst.is_empty() {
        chan.cdr.dst.clone_from(&chan.exten);
        chan.cdr.dcontext.clone_from(&chan.context);
        chan.cdr.src = chan.caller.num.clone().unwrap_or_default();
        chan.cdr.clid = chan.caller.all();
    }
    let end = run_loop(&mut chan, Nest::Top).await;
    if end == End::FellOff && !chan.check_hangup() {
        let status = chan
            .vars
            .get("DIALSTATUS")
            .map(str::to_string)
            .unwrap_or_else(|| "UNKNOWN".to_string());
        let autofall = chan.pbx.dialplan().general.autofallthrough;
        if autofall {
            chan.pbx.verbose_line(
                2,
                &format!(
                    "Auto fallthrough, channel '{}' status is '{}'",
                    chan.name(),
                    status
                ),
            );
            match status.as_str() {
                "BUSY" => {
                    chan.indicate(ChanEvent::Busy);
                    chan.hangup_cause = cause::USER_BUSY;
                    chan.wait_hangup(Some(Duration::from_secs(10))).await;
                }
                "CONGESTION" | "CHANUNAVAIL" => {
                    chan.indicate(ChanEvent::Congestion);
                    chan.hangup_cause = cause::NORMAL_CIRCUIT_CONGESTION;
                    chan.wait_hangup(Some(Duration::from_secs(10))).await;
                }
                _ => {}
            }
        }
    }
    run_h_exten(&mut chan).await;
    chan.shared.snapshot.lock().in_pbx = false;
    chan.destroy();
}

/// Run the `h` extension of the current context, if there is one.
pub async fn run_h_exten(chan: &mut Channel) {
    if chan.in_hangup_handler {
        return;
    }
    let dp = chan.pbx.dialplan();
    if !dp.exists(
        &chan.context,
        "h",
        1,
        chan.caller.num.as_deref(),
        Utc::now(),
    ) {
        return;
    }
    drop(dp);
    chan.in_hangup_handler = true;
    if chan.hangup_cause == 0 {
        let c = chan.shared.requested_cause();
        chan.hangup_cause = if c == 0 { cause::NORMAL_CLEARING } else { c };
    }
    let ctx = chan.context.clone();
    chan.goto(&ctx, "h", 1);
    // As in Asterisk 12+, the h extension does not become the CDR's lastapp/lastdata.
    chan.cdr.lastapp.clone_from(&chan.last_app);
    chan.cdr.lastdata.clone_from(&chan.last_data);
    let last = (
        std::mem::take(&mut chan.last_app),
        std::mem::take(&mut chan.last_data),
    );
    let _ = run_loop(chan, Nest::Top).await;
    chan.last_app = last.0;
    chan.last_data = last.1;
}

/// Run a subroutine on `chan` from outside its dialplan (Dial `U()`, `Originate` helpers):
/// Gosub to `context,exten,priority` with `args`, return when it Returns.
pub async fn run_sub(
    chan: &mut Channel,
    context: &str,
    exten: &str,
    priority: i32,
    args: &[String],
) -> End {
    let saved = (chan.context.clone(), chan.exten.clone(), chan.priority);
    let depth = chan.gosub.len();
    push_gosub(chan, &saved.0, &saved.1, saved.2, args, true);
    chan.goto(context, exten, priority);
    let end = run_loop(chan, Nest::Sub(depth + 1)).await;
    // Unwind anything the subroutine left on the stack.
    while chan.gosub.len() > depth {
        pop_gosub(chan);
    }
    chan.context = saved.0;
    chan.exten = saved.1;
    chan.priority = saved.2;
    end
}

/// Push a Gosub frame returning to `ctx,exten,ret_priority`, setting ARG1..ARGn as LOCALs.
pub fn push_gosub(
    chan: &mut Channel,
    ctx: &str,
    exten: &str,
    ret_priority: i32,
    args: &[String],
    nested: bool,
) {
    let mut frame = super::channel::GosubFrame {
        context: ctx.to_string(),
        exten: exten.to_string(),
        priority: ret_priority,
        saved: Vec::new(),
        args: args.len(),
        nested,
    };
    // Save every ARGn that the caller's frame had (up to the larger count) so nesting restores.
    let prev_args = chan.gosub.last().map(|f| f.args).unwrap_or(0);
    let n = args.len().max(prev_args);
    for i in 1..=n {
        let name = format!("ARG{i}");
        frame.saved.push((name.clone(), chan.vars.remove(&name)));
        // The caller's extra ARGn are hidden (set empty, as app_stack does).
        chan.vars
            .set(&name, args.get(i - 1).map_or("", String::as_str));
    }
    // ARGC: how many arguments this Gosub passed (a LOCAL too).
    frame
        .saved
        .push(("ARGC".to_string(), chan.vars.remove("ARGC")));
    chan.vars.set("ARGC", args.len().to_string());
    chan.gosub.push(frame);
}

/// Pop the top Gosub frame, restoring LOCAL variables; returns it.
pub fn pop_gosub(chan: &mut Channel) -> Option<super::channel::GosubFrame> {
    let frame = chan.gosub.pop()?;
    for (name, old) in frame.saved.iter().rev() {
        chan.vars.remove(name);
        if let Some(v) = old {
            let display = crate::pbx::vars::Vars::display_name(name, v);
            chan.vars.set(&display, v.value.clone());
        }
    }
    Some(frame)
}

/// The dialplan exception a channel last raised (`EXCEPTION()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub reason: String,
    pub context: String,
    pub exten: String,
    pub priority: i32,
}

const EXCEPTION_STORE: &str = "exception";

/// Asterisk's `raise_exception`: remember `reason` and where the channel is, then go to
/// the `e` extension of the current context at `priority + 1` (RaiseException passes 0).
pub fn raise_exception(chan: &mut Channel, reason: &str, priority: i32) {
    let e = Exception {
        reason: reason.to_string(),
        context: chan.context.clone(),
        exten: chan.exten.clone(),
        priority: chan.priority,
    };
    chan.datastores.insert(EXCEPTION_STORE, e);
    let ctx = chan.context.clone();
    chan.goto(&ctx, "e", priority + 1);
}

/// The exception [`raise_exception`] stored, if any.
pub fn exception(chan: &Channel) -> Option<&Exception> {
    chan.datastores.get::<Exception>(EXCEPTION_STORE)
}
