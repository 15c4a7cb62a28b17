//! Flow-control applications: Goto, GotoIf, GotoIfTime, Gosub, GosubIf, Return, Macro,
//! MacroExit, While/EndWhile/ExitWhile/ContinueWhile, ExecIf, Exec.

use super::{args, App, AppResult};
use crate::dialplan::TimeSpec;
use crate::pbx::channel::WhileFrame;
use crate::pbx::exec::{self, End, Nest};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("pbx_builtins_flow", "Built-in dialplan applications").builtin(),
        register: register_pbx_builtins_flow,
    },
    Family {
        info: ModuleInfo::new("app_stack.so", "Dialplan subroutines (Gosub, Return, etc)"),
        register: register_app_stack,
    },
    Family {
        info: ModuleInfo::new("app_macro.so", "Extension Macros").support(SupportLevel::Deprecated),
        register: register_app_macro,
    },
    Family {
        info: ModuleInfo::new("app_while.so", "While Loops and Conditional Execution"),
        register: register_app_while,
    },
    Family {
        info: ModuleInfo::new("app_exec.so", "Executes dialplan applications"),
        register: register_app_exec,
    },
];

fn register_pbx_builtins_flow(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Goto));
    ctx.register_app(Arc::new(GotoIf));
    ctx.register_app(Arc::new(GotoIfTime));
}

fn register_app_stack(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Gosub));
    ctx.register_app(Arc::new(GosubIf));
    ctx.register_app(Arc::new(Return));
    ctx.register_app(Arc::new(StackPop));
    ctx.register_func(Arc::new(crate::funcs::channel::LocalFunc));
    crate::funcs::vars::register_stack_funcs(ctx);
}

fn register_app_macro(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Macro));
    ctx.register_app(Arc::new(MacroExit));
    super::more::register_macro_apps(ctx);
}

fn register_app_while(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(While));
    ctx.register_app(Arc::new(EndWhile));
    ctx.register_app(Arc::new(ExitWhile));
    ctx.register_app(Arc::new(ContinueWhile));
}

fn register_app_exec(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ExecIf));
    ctx.register_app(Arc::new(Exec));
    super::misc::register_tryexec(ctx);
}

/// Asterisk's `pbx_checkcondition` (empty is false, a leading integer decides, other
/// text is true); shared with the IF() function.
pub use crate::funcs::logic::checkcondition as check_condition;

/// The time GotoIfTime tests: `${TESTTIME}` (epoch seconds, set by `TESTTIME()`) when it
/// parses, else now. An unparseable TESTTIME is warned about and removed, as Asterisk does.
fn test_time(chan: &mut Channel) -> chrono::DateTime<Utc> {
    if let Some(t) = chan.get_var("TESTTIME") {
        if let Some(d) = t
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        {
            return d;
        }
        chan.pbx
            .warning("pbx_builtins.c: Using current time to evaluate");
        chan.vars.remove("TESTTIME");
    }
    Utc::now()
}

/// A resolved dialplan location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub context: String,
    pub exten: String,
    pub priority: i32,
}

/// Parse `[[context,]exten,]priority` (priority may be a label or `+N`/`-N`) relative to
/// the channel's current location, as `ast_parseable_goto` does.
pub fn resolve_goto(chan: &Channel, spec: &str) -> Option<Target> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let (ctx, exten, prio) = match parts.as_slice() {
        [p] => (chan.context.as_str(), chan.exten.as_str(), *p),
        [e, p] => (chan.context.as_str(), *e, *p),
        [c, e, p] => (*c, *e, *p),
        _ => {
            chan.pbx.warning(&format!(
                "pbx.c: Goto requires an argument ([[context,]extension,]priority), got '{spec}'"
            ));
            return None;
        }
    };
    let exten = if exten.eq_ignore_ascii_case("BYEXTENSION") {
        chan.exten.as_str()
    } else {
        exten
    };
    let ctx = if ctx.is_empty() {
        chan.context.as_str()
    } else {
        ctx
    };
    let exten = if exten.is_empty() {
        chan.exten.as_str()
    } else {
        exten
    };
    let priority = if let Some(rel) = prio.strip_prefix('+') {
        rel.parse::<i32>().ok().map(|n| chan.priority + n)
    } else if prio.starts_with('-') {
        prio.parse::<i32>().ok().map(|n| chan.priority + n)
    } else if let Ok(n) = prio.parse::<i32>() {
        Some(n)
    } else {
        chan.pbx
            .dialplan()
            .find_label(ctx, exten, prio, chan.caller.num.as_deref(), Utc::now())
    };
    match priority {
        Some(p) if p > 0 => Some(Target {
            context: ctx.to_string(),
            exten: exten.to_string(),
            priority: p,
        }),
        _ => {
            chan.pbx.warning(&format!(
                "pbx.c: Priority '{prio}' must be a number > 0, or valid label"
            ));
            None
        }
    }
}

/// Goto to `spec`, with Asterisk's verbose line; `Err` (hang up) when it cannot be parsed.
pub fn do_goto(chan: &mut Channel, spec: &str) -> AppResult {
    let t = resolve_goto(chan, spec).ok_or(Hangup)?;
    chan.goto(&t.context, &t.exten, t.priority);
    chan.pbx.verbose_line(
        3,
        &format!("Goto ({},{},{})", t.context, t.exten, t.priority),
    );
    Ok(())
}

/// Split `cond?a:b` into (cond, a, b) on the first `?` and the first `:` after it.
fn split_cond(data: &str) -> Option<(&str, &str, &str)> {
    let (cond, branches) = data.split_once('?')?;
    let (a, b) = branches.split_once(':').unwrap_or((branches, ""));
    Some((cond, a, b))
}

struct Goto;
#[async_trait]
impl App for Goto {
    fn name(&self) -> &'static str {
        "Goto"
    }
    fn synopsis(&self) -> &'static str {
        "Jump to a particular priority, extension, or context."
    }
    fn syntax(&self) -> &'static str {
        "Goto([[context,]extensions,]priority)"
    }
    fn description(&self) -> &'static str {
        "This application will set the current context, extension, and priority in the channel structure. After it completes, the pbx engine will continue dialplan execution at the specified location."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .warning("pbx.c: Goto requires an argument ([[context,]extension,]priority)");
            return Err(Hangup);
        }
        do_goto(chan, data)
    }
}

struct GotoIf;
#[async_trait]
impl App for GotoIf {
    fn name(&self) -> &'static str {
        "GotoIf"
    }
    fn synopsis(&self) -> &'static str {
        "Conditional goto."
    }
    fn syntax(&self) -> &'static str {
        "GotoIf(condition?[labeliftrue][:labeliffalse])"
    }
    fn description(&self) -> &'static str {
        "This application will set the current context, extension, and priority in the channel structure based on the evaluation of the given condition."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((cond, a, b)) = split_cond(data) else {
            chan.pbx
                .warning("pbx.c: GotoIf requires an argument (condition?label1:label2)");
            return Ok(());
        };
        let branch = if check_condition(cond) { a } else { b };
        if branch.trim().is_empty() {
            return Ok(());
        }
        do_goto(chan, branch)
    }
}

struct GotoIfTime;
#[async_trait]
impl App for GotoIfTime {
    fn name(&self) -> &'static str {
        "GotoIfTime"
    }
    fn synopsis(&self) -> &'static str {
        "Conditional Goto based on the current time."
    }
    fn syntax(&self) -> &'static str {
        "GotoIfTime(times,weekdays,mdays,months[,timezone]?[labeliftrue][:labeliffalse])"
    }
    fn description(&self) -> &'static str {
        "This application will set the context, extension, and priority in the channel structure based on the evaluation of the given time specification."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((spec, a, b)) = split_cond(data) else {
            chan.pbx.warning(
                "pbx.c: GotoIfTime requires an argument: <time range>,<days of week>,<days of month>,<months>[,<timezone>]?'labeliftrue':'labeliffalse'",
            );
            return Ok(());
        };
        let hit = match TimeSpec::parse(spec.trim()) {
            Ok(t) => t.matches(test_time(chan)),
            Err(e) => {
                chan.pbx.warning(&format!(
                    "pbx_timing.c: Invalid time specification '{spec}': {e}"
                ));
                false
            }
        };
        let branch = if hit { a } else { b };
        if branch.trim().is_empty() {
            return Ok(());
        }
        do_goto(chan, branch)
    }
}

/// Split `true-branch:false-branch` on the first `:` outside parentheses.
fn split_branches(rest: &str) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth <= 0 => return (&rest[..i], Some(&rest[i + 1..])),
            _ => {}
        }
    }
    (rest, None)
}

/// Split `ctx,exten,prio(arg1,arg2)` into the location and its arguments.
pub fn split_sub(spec: &str) -> (&str, Vec<String>) {
    match spec.find('(') {
        Some(open) => {
            // As app_stack: the last `)` ends the arguments, which are split raw
            // (quotes and backslashes stay).
            let inner = &spec[open + 1..];
            let inner = inner.rfind(')').map_or(inner, |c| &inner[..c]);
            (&spec[..open], args::split_raw(inner, ','))
        }
        None => (spec, Vec::new()),
    }
}

/// Push a frame and jump to the subroutine. `Err` when the destination does not exist.
fn gosub(chan: &mut Channel, app: &str, spec: &str) -> AppResult {
    let (loc, sub_args) = split_sub(spec.trim());
    let Some(t) = resolve_goto(chan, loc) else {
        return Err(Hangup);
    };
    let dp = chan.pbx.dialplan();
    if !dp.exists(
        &t.context,
        &t.exten,
        t.priority,
        chan.caller.num.as_deref(),
        Utc::now(),
    ) {
        chan.pbx.error(&format!(
            "app_stack.c: {app}: Attempt to reach a non-existent destination for Gosub: (Context:{}, Extension:{}, Priority:{})",
            t.context, t.exten, t.priority
        ));
        return Err(Hangup);
    }
    if chan.gosub.len() >= 1000 {
        chan.pbx
            .error("app_stack.c: Gosub stack is too deep (1000 frames)");
        return Err(Hangup);
    }
    let (ctx, exten, ret) = (chan.context.clone(), chan.exten.clone(), chan.priority + 1);
    exec::push_gosub(chan, &ctx, &exten, ret, &sub_args, false);
    chan.goto(&t.context, &t.exten, t.priority);
    Ok(())
}

struct Gosub;
#[async_trait]
impl App for Gosub {
    fn name(&self) -> &'static str {
        "Gosub"
    }
    fn synopsis(&self) -> &'static str {
        "Jump to label, saving return address."
    }
    fn syntax(&self) -> &'static str {
        "Gosub([[context,]exten,]priority[(arg1[,...][,argN])])"
    }
    fn description(&self) -> &'static str {
        "Jumps to the label specified, saving the return address. Arguments are available as ${ARG1}..${ARGn} and are restored on Return."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .error("app_stack.c: Gosub requires an argument: Gosub([[context,]exten,]priority[(arg1[,...][,argN])])");
            return Err(Hangup);
        }
        gosub(chan, "Gosub", data)
    }
}

struct GosubIf;
#[async_trait]
impl App for GosubIf {
    fn name(&self) -> &'static str {
        "GosubIf"
    }
    fn synopsis(&self) -> &'static str {
        "Conditionally jump to label, saving return address."
    }
    fn syntax(&self) -> &'static str {
        "GosubIf(condition?[labeliftrue[(args)]][:labeliffalse[(args)]])"
    }
    fn description(&self) -> &'static str {
        "If the condition is true, then jump to labeliftrue. If false, jumps to labeliffalse, if specified. In either case, a jump saves the return point in the dialplan, to be returned to with a Return."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((cond, rest)) = data.split_once('?') else {
            chan.pbx.warning(
                "app_stack.c: GosubIf requires an argument: GosubIf(cond?label1(args):label2(args)",
            );
            return Ok(());
        };
        let (a, b) = split_branches(rest);
        let b = b.unwrap_or("");
        let branch = if check_condition(cond) { a } else { b };
        if branch.trim().is_empty() {
            return Ok(());
        }
        gosub(chan, "GosubIf", branch)
    }
}

struct Return;
#[async_trait]
impl App for Return {
    fn name(&self) -> &'static str {
        "Return"
    }
    fn synopsis(&self) -> &'static str {
        "Return from gosub routine."
    }
    fn syntax(&self) -> &'static str {
        "Return([value])"
    }
    fn description(&self) -> &'static str {
        "Jumps to the last label on the stack, removing it. The return value, if any, is saved in the channel variable GOSUB_RETVAL."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some(frame) = exec::pop_gosub(chan) else {
            chan.pbx
                .error("app_stack.c: Return without Gosub: stack is empty");
            return Err(Hangup);
        };
        chan.set_var("GOSUB_RETVAL", data);
        chan.goto(&frame.context, &frame.exten, frame.priority);
        Ok(())
    }
}

/// `StackPop()`: drop the newest Gosub return address without returning (its LOCAL()
/// variables are restored as on Return).
struct StackPop;
#[async_trait]
impl App for StackPop {
    fn name(&self) -> &'static str {
        "StackPop"
    }
    fn synopsis(&self) -> &'static str {
        "Remove one address from gosub stack."
    }
    fn syntax(&self) -> &'static str {
        "StackPop()"
    }
    fn description(&self) -> &'static str {
        "Removes last label on the stack, discarding it."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        if exec::pop_gosub(chan).is_none() {
            chan.pbx
                .warning("app_stack.c: StackPop called with no gosub stack allocated.");
        }
        Ok(())
    }
}

const MACRO_VARS: [&str; 5] = [
    "MACRO_EXTEN",
    "MACRO_CONTEXT",
    "MACRO_PRIORITY",
    "MACRO_DEPTH",
    "MACRO_OFFSET",
];

/// Run `macro-NAME` on `chan` with `args` (also used by Dial's `M()` option).
pub async fn run_macro(chan: &mut Channel, name: &str, margs: &[String]) -> AppResult {
    let ctx = format!("macro-{name}");
    let pbx = chan.pbx.clone();
    if !pbx.dialplan().contexts.contains_key(&ctx) {
        pbx.warning(&format!(
            "app_macro.c: No such context '{ctx}' for macro '{name}'. Was called by {}@{}",
            chan.exten, chan.context
        ));
        return Ok(());
    }
    let depth = chan
        .vars
        .get("MACRO_DEPTH")
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(0);
    if depth >= 7 {
        pbx.error("app_macro.c: Macro():  possible infinite loop detected.  Returning early.");
        return Ok(());
    }
    // Save what the macro overwrites.
    let saved_vars: Vec<(String, Option<String>)> = MACRO_VARS
        .iter()
        .map(|v| (v.to_string(), chan.vars.get(v).map(str::to_string)))
        .collect();
    let mut saved_args = Vec::new();
    let mut i = 1;
    loop {
        let n = format!("ARG{i}");
        let old = chan.vars.get(&n).map(str::to_string);
        if old.is_none() && i > margs.len() {
            break;
        }
        saved_args.push((n, old));
        i += 1;
    }
    let (octx, oexten, oprio) = (chan.context.clone(), chan.exten.clone(), chan.priority);
    chan.vars.set("MACRO_EXTEN", oexten.clone());
    chan.vars.set("MACRO_CONTEXT", octx.clone());
    chan.vars.set("MACRO_PRIORITY", oprio.to_string());
    chan.vars.set("MACRO_DEPTH", (depth + 1).to_string());
    chan.vars.remove("MACRO_OFFSET");
    for (idx, (n, _)) in saved_args.iter().enumerate() {
        match margs.get(idx) {
            Some(v) => chan.vars.set(n, v.as_str()),
            None => {
                chan.vars.remove(n);
            }
        }
    }
    chan.goto(&ctx, "s", 1);
    chan.macro_depth += 1;
    let end = exec::run_loop(chan, Nest::Macro).await;
    chan.macro_depth -= 1;
    chan.macro_exit = false;
    let offset = chan
        .vars
        .get("MACRO_OFFSET")
        .and_then(|o| o.trim().parse::<i32>().ok());
    let jumped_out = !chan.context.starts_with("macro-") && chan.context != ctx;
    for (n, old) in saved_args.into_iter().chain(saved_vars) {
        match old {
            Some(v) => chan.vars.set(&n, v),
            None => {
                chan.vars.remove(&n);
            }
        }
    }
    if end == End::Hangup {
        return Err(Hangup);
    }
    if jumped_out {
        // A Goto left the macro: continue there.
        chan.jumped = true;
        return Ok(());
    }
    chan.context = octx;
    chan.exten = oexten;
    chan.priority = oprio;
    chan.jumped = false;
    if let Some(off) = offset {
        let target = oprio + off + 1;
        if pbx.dialplan().exists(
            &chan.context,
            &chan.exten,
            target,
            chan.caller.num.as_deref(),
            Utc::now(),
        ) {
            chan.priority = target;
            chan.jumped = true;
        }
    }
    Ok(())
}

struct Macro;
#[async_trait]
impl App for Macro {
    fn name(&self) -> &'static str {
        "Macro"
    }
    fn synopsis(&self) -> &'static str {
        "Macro Implementation."
    }
    fn syntax(&self) -> &'static str {
        "Macro(name[,arg1[,arg2[,...]]])"
    }
    fn description(&self) -> &'static str {
        "Executes a macro using the context macro-name, jumping to the s extension of that context and executing each step, then returning when the steps end. The calling extension, context, and priority are stored in MACRO_EXTEN, MACRO_CONTEXT and MACRO_PRIORITY; arguments become ARG1, ARG2, etc. in the macro context. Deprecated in Asterisk: prefer Gosub."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let Some(name) = a.first().filter(|n| !n.trim().is_empty()) else {
            chan.pbx.warning("app_macro.c: Macro() requires arguments. See \"core show application macro\" for help.");
            return Ok(());
        };
        let name = name.trim().to_string();
        run_macro(chan, &name, &a[1..]).await
    }
}

struct MacroExit;
#[async_trait]
impl App for MacroExit {
    fn name(&self) -> &'static str {
        "MacroExit"
    }
    fn synopsis(&self) -> &'static str {
        "Exit from Macro."
    }
    fn syntax(&self) -> &'static str {
        "MacroExit()"
    }
    fn description(&self) -> &'static str {
        "Causes the currently running macro to exit as if it had ended normally by running out of priorities to execute."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        if chan.macro_depth > 0 {
            chan.macro_exit = true;
            chan.jumped = true;
        }
        Ok(())
    }
}

/// Find the priority of the EndWhile matching the While at `while_prio` in the current
/// extension (nested While/EndWhile pairs are skipped).
fn find_matching_endwhile(chan: &Channel, while_prio: i32) -> Option<i32> {
    let dp = chan.pbx.dialplan();
    let (_, ext) = dp.find_extension(
        &chan.context,
        &chan.exten,
        chan.caller.num.as_deref(),
        Utc::now(),
    )?;
    let mut depth = 0;
    for (&n, p) in ext.priorities.range(while_prio + 1..) {
        if p.app.eq_ignore_ascii_case("While") {
            depth += 1;
        } else if p.app.eq_ignore_ascii_case("EndWhile") {
            if depth == 0 {
                return Some(n);
            }
            depth -= 1;
        }
    }
    None
}

fn here(chan: &Channel) -> WhileFrame {
    WhileFrame {
        context: chan.context.clone(),
        exten: chan.exten.clone(),
        priority: chan.priority,
    }
}

fn is_here(f: &WhileFrame, chan: &Channel) -> bool {
    f.priority == chan.priority && f.exten == chan.exten && f.context == chan.context
}

/// Leave the loop whose While is `frame`: continue after its EndWhile.
fn exit_loop(chan: &mut Channel, frame: &WhileFrame) -> AppResult {
    let (ctx, exten) = (chan.context.clone(), chan.exten.clone());
    chan.context.clone_from(&frame.context);
    chan.exten.clone_from(&frame.exten);
    match find_matching_endwhile(chan, frame.priority) {
        Some(end) => {
            chan.goto(&frame.context.clone(), &frame.exten.clone(), end + 1);
            Ok(())
        }
        None => {
            chan.context = ctx;
            chan.exten = exten;
            chan.pbx.warning(&format!(
                "app_while.c: Couldn't find matching EndWhile? (While at {}@{} priority {})",
                frame.exten, frame.context, frame.priority
            ));
            Err(Hangup)
        }
    }
}

/// Jump back to the innermost While (it re-evaluates its condition).
fn back_to_while(chan: &mut Channel, no_loop_warning: &str) {
    match chan.whiles.last().cloned() {
        Some(f) => chan.goto(&f.context, &f.exten, f.priority),
        None => chan.pbx.warning(&format!("app_while.c: {no_loop_warning}")),
    }
}

struct While;
#[async_trait]
impl App for While {
    fn name(&self) -> &'static str {
        "While"
    }
    fn synopsis(&self) -> &'static str {
        "Start a while loop."
    }
    fn syntax(&self) -> &'static str {
        "While(expr)"
    }
    fn description(&self) -> &'static str {
        "Start a While Loop. Execution will return to this point when EndWhile() is called until expr is no longer true."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        // Re-entry from EndWhile/ContinueWhile: the frame is already there.
        let pos = chan.whiles.iter().rposition(|f| is_here(f, chan));
        match pos {
            Some(i) => chan.whiles.truncate(i + 1),
            None => {
                let f = here(chan);
                chan.whiles.push(f);
            }
        }
        if check_condition(data) {
            return Ok(());
        }
        let frame = chan.whiles.pop().unwrap_or_else(|| here(chan));
        exit_loop(chan, &frame)
    }
}

struct EndWhile;
#[async_trait]
impl App for EndWhile {
    fn name(&self) -> &'static str {
        "EndWhile"
    }
    fn synopsis(&self) -> &'static str {
        "End a while loop."
    }
    fn syntax(&self) -> &'static str {
        "EndWhile()"
    }
    fn description(&self) -> &'static str {
        "Return to the previous called While()."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        back_to_while(chan, "EndWhile without a matching While");
        Ok(())
    }
}

struct ExitWhile;
#[async_trait]
impl App for ExitWhile {
    fn name(&self) -> &'static str {
        "ExitWhile"
    }
    fn synopsis(&self) -> &'static str {
        "End a While loop."
    }
    fn syntax(&self) -> &'static str {
        "ExitWhile()"
    }
    fn description(&self) -> &'static str {
        "Exits a While() loop, whether or not the conditional has been satisfied."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        match chan.whiles.pop() {
            Some(f) => exit_loop(chan, &f),
            None => {
                chan.pbx
                    .warning("app_while.c: ExitWhile called outside of a While loop");
                Ok(())
            }
        }
    }
}

struct ContinueWhile;
#[async_trait]
impl App for ContinueWhile {
    fn name(&self) -> &'static str {
        "ContinueWhile"
    }
    fn synopsis(&self) -> &'static str {
        "Restart a While loop."
    }
    fn syntax(&self) -> &'static str {
        "ContinueWhile()"
    }
    fn description(&self) -> &'static str {
        "Returns to the top of the while loop and re-evaluates the conditional."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        back_to_while(chan, "ContinueWhile called outside of a While loop");
        Ok(())
    }
}

/// `App(args)` → (`App`, `args`).
pub(crate) fn split_app(s: &str) -> (&str, &str) {
    match s.find('(') {
        Some(open) => {
            let inner = &s[open + 1..];
            let inner = match inner.rfind(')') {
                Some(close) => &inner[..close],
                None => inner,
            };
            (s[..open].trim(), inner)
        }
        None => (s.trim(), ""),
    }
}

struct ExecIf;
#[async_trait]
impl App for ExecIf {
    fn name(&self) -> &'static str {
        "ExecIf"
    }
    fn synopsis(&self) -> &'static str {
        "Executes dialplan application, conditionally."
    }
    fn syntax(&self) -> &'static str {
        "ExecIf(expression?appiftrue(args)[:appiffalse(args)])"
    }
    fn description(&self) -> &'static str {
        "If expr is true, execute and return the result of appiftrue(args). If expr is true, but appiftrue is not found, then the application will return a non-zero value."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((cond, rest)) = data.split_once('?') else {
            // Legacy form: ExecIf(expr,app,args)
            let parts = args::split_raw(data, ',');
            if parts.len() >= 2 && check_condition(&parts[0]) {
                let rest = parts[2..].join(",");
                let app = parts[1].trim().to_string();
                return exec::exec_app(chan, &app, &rest).await;
            }
            return Ok(());
        };
        let (a, b) = split_branches(rest);
        let chosen = if check_condition(cond) { Some(a) } else { b };
        let Some(call) = chosen.filter(|c| !c.trim().is_empty()) else {
            return Ok(());
        };
        let (app, app_args) = split_app(call);
        let (app, app_args) = (app.to_string(), app_args.to_string());
        if chan.pbx.apps.get(&app).is_none() {
            chan.pbx
                .warning(&format!("pbx.c: Could not find application! ({app})"));
            return Err(Hangup);
        }
        exec::exec_app(chan, &app, &app_args).await
    }
}

struct Exec;
#[async_trait]
impl App for Exec {
    fn name(&self) -> &'static str {
        "Exec"
    }
    fn synopsis(&self) -> &'static str {
        "Executes dialplan application."
    }
    fn syntax(&self) -> &'static str {
        "Exec(appname(arguments))"
    }
    fn description(&self) -> &'static str {
        "Allows an arbitrary application to be invoked even when not hard coded into the dialplan. If the underlying application terminates the dialplan, or if the application cannot be found, Exec will terminate the dialplan."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            return Ok(());
        }
        let (app, app_args) = split_app(data);
        let (app, app_args) = (app.to_string(), app_args.to_string());
        if chan.pbx.apps.get(&app).is_none() {
            chan.pbx
                .warning(&format!("app_exec.c: Could not find application ({app})"));
            return Err(Hangup);
        }
        exec::exec_app(chan, &app, &app_args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stackpop_drops_the_return_address_and_restores_locals() {
        use crate::pbx::tests::{pbx_with, run};
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(X=outer)\n same => n,Gosub(sub,1)\n same => n,Set(BACK=yes)\n\
             exten => sub,1,Set(LOCAL(X)=inner)\n same => n,StackPop()\n same => n,Set(SEEN=${X})\n\
             same => n,StackPop()\n same => n,Return()\n same => n,Set(AFTER_RETURN=no)\n",
        );
        let v = run(&pbx, "t", "s").await;
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, x)| x.as_str());
        // The frame is gone: X is the caller's again, and Return finds no address.
        assert_eq!(get("SEEN"), Some("outer"));
        assert_eq!(get("BACK"), None);
        assert_eq!(get("AFTER_RETURN"), None);
    }

    #[test]
    fn conditions_like_pbx_checkcondition() {
        assert!(!check_condition(""));
        assert!(!check_condition("0"));
        assert!(!check_condition(" 0"));
        assert!(!check_condition("00"));
        assert!(!check_condition("0.5"));
        assert!(check_condition("1"));
        assert!(check_condition("-1"));
        assert!(check_condition("abc"));
        assert!(check_condition("12abc"));
    }

    #[test]
    fn split_app_args() {
        assert_eq!(split_app("Set(a=(b))"), ("Set", "a=(b)"));
        assert_eq!(split_app("NoOp"), ("NoOp", ""));
    }
}
