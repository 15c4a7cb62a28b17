//! Variables, the dialplan and the system, as functions: `DELETE()`, `VARIABLE_EXISTS()`,
//! `IMPORT()` (func_logic.so), `GLOBAL_DELETE()`, `GLOBAL_EXISTS()`, `SHARED()`
//! (func_global.so), `EVAL()` (func_strings.so), `DIGIT_SUM()` (func_math.so),
//! `LOCAL_PEEK()` and `STACK_PEEK()` (app_stack.so), `DIALPLAN_EXISTS()` and
//! `VALID_EXTEN()` (func_dialplan.so), `EVAL_EXTEN()` and `EVAL_SUB()` (func_evalexten.so), `CHANNELS()`
//! and `CHANNEL_EXISTS()` (func_channel.so), `IFMODULE()` (func_module.so), `VERSION()`
//! (func_version.so), `SYSINFO()` (func_sysinfo.so) and `UUID()` (func_uuid.so).
//!
//! Each reads what it needs from the channel or the core; none does file or network I/O
//! (SYSINFO reads `/proc` files, which the kernel answers from memory).

use super::strings::{func, meta};
use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use chrono::Utc;
use std::sync::Arc;

/// The modules only this file registers into (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new(
            "func_export.so",
            "Set variables and functions on other channels",
        ),
        register: |ctx| ctx.register_func(Arc::new(Export)),
    },
    Family {
        info: ModuleInfo::new(
            "func_dialplan.so",
            "Dialplan Context/Extension/Priority Checking Functions",
        ),
        register: register_func_dialplan,
    },
    Family {
        info: ModuleInfo::new("func_evalexten.so", "Extension evaluation functions"),
        register: register_func_evalexten,
    },
    Family {
        info: ModuleInfo::new(
            "func_module.so",
            "Checks if Asterisk module is loaded in memory",
        ),
        register: register_func_module,
    },
    Family {
        info: ModuleInfo::new("func_version.so", "Get Asterisk Version/Build Info"),
        register: register_func_version,
    },
    Family {
        info: ModuleInfo::new("func_sysinfo.so", "System information related functions"),
        register: register_func_sysinfo,
    },
    Family {
        info: ModuleInfo::new("func_uuid.so", "UUID generation dialplan function"),
        register: register_func_uuid,
    },
];

fn register_func_dialplan(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(DialplanExists));
    ctx.register_func(Arc::new(ValidExten));
}

fn register_func_evalexten(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(EvalExten));
    ctx.register_func(Arc::new(EvalSub));
}

fn register_func_module(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(IfModule));
}

fn register_func_version(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Version));
}

fn register_func_sysinfo(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(SysInfo));
}

fn register_func_uuid(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Uuid));
}

/// What func_logic.so registers from this file.
pub fn register_logic_funcs(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Delete));
    ctx.register_func(Arc::new(VariableExists));
    ctx.register_func(Arc::new(Import));
}

/// What func_global.so registers from this file.
pub fn register_global_funcs(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(GlobalDelete));
    ctx.register_func(Arc::new(GlobalExists));
    ctx.register_func(Arc::new(Shared));
}

/// What func_channel.so registers from this file.
pub fn register_channel_funcs(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Channels));
    ctx.register_func(Arc::new(ChannelExists));
    ctx.register_func(Arc::new(MasterChannel));
}

/// What app_stack.so registers from this file (beside Gosub and LOCAL).
pub fn register_stack_funcs(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(LocalPeek));
    ctx.register_func(Arc::new(StackPeek));
}

fn bool_str(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

// ---------------------------------------------------------------------------------------
// func_logic: DELETE, VARIABLE_EXISTS

func!(
    Delete,
    "DELETE",
    "Deletes a specified channel variable.",
    "DELETE(varname)",
    "Delete the channel variable specified in varname. Will succeed if the channel \
     variable exists or not. Write only: Set(DELETE(var)=)."
);

impl Func for Delete {
    meta!();
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, _value: &str) -> Result<(), FuncError> {
        chan.vars.remove(a.trim());
        Ok(())
    }
}

func!(
    VariableExists,
    "VARIABLE_EXISTS",
    "Check if a dialplan variable exists or not.",
    "VARIABLE_EXISTS(varname)",
    "Returns 1 if channel variable exists or 0 otherwise (a global of that name counts, \
     as for ${varname})."
);

impl Func for VariableExists {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(bool_str(chan.get_var(a.trim()).is_some()))
    }
}

func!(
    Import,
    "IMPORT",
    "Retrieve the value of a variable from another channel.",
    "IMPORT(channel,variable)",
    "Retrieve the value of variable (or an expression such as a function call) as it is \
     on the channel named channel (the full name)."
);

#[async_trait::async_trait]
impl Func for Import {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        // Where nothing may wait: only the channel itself can answer.
        let v = args::split(a, ',');
        let (source, var) = (args::nth(&v, 0).trim(), args::nth(&v, 1).trim());
        if source == chan.name() && !var.is_empty() {
            return Ok(crate::pbx::exec::substitute(chan, &format!("${{{var}}}")));
        }
        Ok(String::new())
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let (source, var) = (args::nth(&v, 0).trim(), args::nth(&v, 1).trim());
        Ok(crate::apps::misc::import_var(chan, source, var).await)
    }
}

// ---------------------------------------------------------------------------------------
// func_global: GLOBAL_DELETE, GLOBAL_EXISTS, SHARED

func!(
    GlobalDelete,
    "GLOBAL_DELETE",
    "Deletes a specified global variable.",
    "GLOBAL_DELETE(varname)",
    "Delete the global variable specified in varname. Will succeed if the global variable \
     exists or not. Write only."
);

impl Func for GlobalDelete {
    meta!();
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, _value: &str) -> Result<(), FuncError> {
        chan.pbx.set_global(a.trim(), "");
        Ok(())
    }
}

func!(
    GlobalExists,
    "GLOBAL_EXISTS",
    "Check if a global variable exists or not.",
    "GLOBAL_EXISTS(varname)",
    "Returns 1 if global variable exists or 0 otherwise."
);

impl Func for GlobalExists {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(bool_str(chan.pbx.get_global(a.trim()).is_some()))
    }
}

func!(
    Shared,
    "SHARED",
    "Gets or sets the shared variable specified.",
    "SHARED(varname[,channel])",
    "Implements a shared variable area, in which you may share variables between channels. \
     channel is the complete channel name (SIP/12-abcd1234) or its prefix (SIP/12); \
     without it, the current channel. SHARED(foo) and foo are different variables."
);

/// The channel `SHARED()` means: the current one, or the named one (full name, else
/// the first whose name starts with `name-`).
fn shared_target(chan: &Channel, name: &str) -> Option<Arc<crate::pbx::channel::ChannelShared>> {
    if name.is_empty() {
        return Some(chan.shared.clone());
    }
    if let Some(c) = chan.pbx.channels.get(name) {
        return Some(c);
    }
    let prefix = format!("{name}-");
    chan.pbx
        .channels
        .list()
        .into_iter()
        .find(|c| c.name.starts_with(&prefix))
}

impl Func for Shared {
    meta!();
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let var = v.first().map(|s| s.trim()).unwrap_or("");
        if var.is_empty() {
            return Err(FuncError::Usage(
                "SHARED() requires an argument: SHARED(<var>[,<chan>])".into(),
            ));
        }
        let target = v.get(1).map(|s| s.trim()).unwrap_or("");
        let Some(c) = shared_target(chan, target) else {
            return Err(FuncError::Other(format!(
                "Channel '{target}' not found!  Variable '{var}' will be blank."
            )));
        };
        Ok(c.shared_var(var).unwrap_or_default())
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let v = args::split(a, ',');
        let var = v.first().map(|s| s.trim()).unwrap_or("");
        if var.is_empty() {
            return Err(FuncError::Usage(
                "SHARED() requires an argument: SHARED(<var>[,<chan>])".into(),
            ));
        }
        let target = v.get(1).map(|s| s.trim()).unwrap_or("");
        let Some(c) = shared_target(chan, target) else {
            return Err(FuncError::Other(format!(
                "Channel '{target}' not found!  Variable '{var}' not set to '{value}'."
            )));
        };
        c.set_shared_var(var, value);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// func_strings: EVAL

func!(
    Eval,
    "EVAL",
    "Evaluate stored variables.",
    "EVAL(variable)",
    "Using EVAL basically causes a string to be evaluated twice: if MYVAR contains \
     ${OTHERVAR}, ${EVAL(${MYVAR})} is the contents of OTHERVAR."
);

impl Func for Eval {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "EVAL requires an argument: EVAL(<string>)".into(),
            ));
        }
        Ok(crate::pbx::exec::substitute(chan, a))
    }
}

// ---------------------------------------------------------------------------------------
// func_math: DIGIT_SUM

func!(
    DigitSum,
    "DIGIT_SUM",
    "Returns the sum of all the digits in a number.",
    "DIGIT_SUM(num)",
    "Returns the numeric sum of all the individual digits in a number: DIGIT_SUM(859) is 22."
);

impl Func for DigitSum {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage("DIGIT_SUM requires an argument".into()));
        }
        let sum: u64 = a
            .chars()
            .filter_map(|c| c.to_digit(10))
            .map(u64::from)
            .sum();
        Ok(sum.to_string())
    }
}

// ---------------------------------------------------------------------------------------
// app_stack: LOCAL_PEEK, STACK_PEEK

func!(
    LocalPeek,
    "LOCAL_PEEK",
    "Retrieve variables hidden by the local gosub stack frame.",
    "LOCAL_PEEK(n,varname)",
    "Read a variable varname hidden by n levels of gosub stack frames. LOCAL_PEEK(0,foo) is \
     the same as foo; if n exceeds the available number of stack frames, the result is empty."
);

impl Func for LocalPeek {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let (Some(n), Some(name)) = (v.first(), v.get(1)) else {
            return Err(FuncError::Usage(
                "LOCAL_PEEK requires parameters n and varname".into(),
            ));
        };
        let name = name.trim();
        let Ok(n) = n.trim().parse::<usize>() else {
            return Ok(String::new());
        };
        if n == 0 {
            return Ok(chan.vars.get(name).unwrap_or("").to_string());
        }
        // Each frame keeps the value its LOCAL()s hid; walk down n frames, the nearest
        // frame that saved the name is the one whose saved value shows through.
        let depth = chan.gosub.len();
        if n > depth {
            return Ok(String::new());
        }
        let mut value = chan.vars.get(name).map(str::to_string);
        for frame in chan.gosub.iter().rev().take(n) {
            if let Some((_, saved)) = frame.saved.iter().find(|(k, _)| k == name) {
                value = saved.as_ref().map(|v| v.value.clone());
            }
        }
        Ok(value.unwrap_or_default())
    }
}

func!(
    StackPeek,
    "STACK_PEEK",
    "View info about the location which called Gosub.",
    "STACK_PEEK(n,which[,suppress])",
    "Read the calling context, extension, priority, or label (which: c, e, p, l) by going \
     up n frames (1: the innermost Gosub) in the Gosub stack; l gives context,extension,priority. If suppress is true, no error is printed when the \
     number of available stack frames is exceeded."
);

impl Func for StackPeek {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let (Some(n), Some(which)) = (v.first(), v.get(1)) else {
            return Err(FuncError::Usage(
                "STACK_PEEK requires parameters n and which".into(),
            ));
        };
        let n: i64 = n.trim().parse().unwrap_or(0);
        if n <= 0 {
            return Err(FuncError::Other(
                "STACK_PEEK must be called with a positive peek value".into(),
            ));
        }
        let suppress = v.get(2).is_some_and(|s| crate::config::is_true(s));
        let depth = chan.gosub.len();
        if n as usize > depth {
            if suppress {
                return Ok(String::new());
            }
            return Err(FuncError::Other(format!(
                "Stack peek of '{n}' is more stack frames than I have"
            )));
        }
        // Frame 1 is the innermost Gosub; it holds the priority to return to, the Gosub
        // itself ran one before it.
        let frame = &chan.gosub[depth - n as usize];
        let gosub_prio = frame.priority - 1;
        Ok(match which.trim().chars().next() {
            Some('c') => frame.context.clone(),
            Some('e') => frame.exten.clone(),
            Some('p') => gosub_prio.to_string(),
            Some('l') => format!("{},{},{}", frame.context, frame.exten, gosub_prio),
            _ => {
                return Err(FuncError::Other(format!(
                    "Unknown argument '{}' to STACK_PEEK",
                    which.trim()
                )))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// func_dialplan: DIALPLAN_EXISTS, VALID_EXTEN

func!(
    DialplanExists,
    "DIALPLAN_EXISTS",
    "Checks the existence of a dialplan target.",
    "DIALPLAN_EXISTS(context[,extension[,priority]])",
    "Returns 1 if the target exists (a priority may be a number or a label), 0 otherwise."
);

/// 1 if `context` (and `exten`, and `priority`: a number or a label) exists.
fn dialplan_exists(chan: &Channel, context: &str, exten: &str, priority: &str) -> bool {
    let dp = chan.pbx.dialplan();
    let cid = chan.caller.num.as_deref();
    let now = Utc::now();
    if !priority.is_empty() {
        match priority.parse::<i32>() {
            Ok(p) if p > 0 => dp.exists(context, exten, p, cid, now),
            _ => dp.find_label(context, exten, priority, cid, now).is_some(),
        }
    } else if !exten.is_empty() {
        dp.exists(context, exten, 1, cid, now)
    } else {
        dp.contexts.contains_key(context)
    }
}

impl Func for DialplanExists {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let get = |i: usize| v.get(i).map(|s| s.trim()).unwrap_or("");
        if a.is_empty() {
            return Err(FuncError::Usage(
                "DIALPLAN_EXISTS() requires an argument".into(),
            ));
        }
        if get(0).is_empty() && get(1).is_empty() && get(2).is_empty() {
            return Err(FuncError::Usage(
                "Invalid arguments provided to DIALPLAN_EXISTS".into(),
            ));
        }
        Ok(bool_str(dialplan_exists(chan, get(0), get(1), get(2))))
    }
}

func!(
    ValidExten,
    "VALID_EXTEN",
    "Determine whether an extension exists or not.",
    "VALID_EXTEN([context],extension[,priority])",
    "Returns a true value if the indicated context, extension, and priority exist. \
     context defaults to the current context, priority to 1."
);

impl Func for ValidExten {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let get = |i: usize| v.get(i).map(|s| s.trim()).unwrap_or("");
        if get(1).is_empty() {
            return Err(FuncError::Usage(
                "Syntax: VALID_EXTEN([<context>],<extension>[,<priority>]) - missing argument <extension>!".into(),
            ));
        }
        let context = if get(0).is_empty() {
            chan.context.clone()
        } else {
            get(0).to_string()
        };
        let prio = get(2).parse::<i32>().unwrap_or(1).max(1);
        let dp = chan.pbx.dialplan();
        Ok(bool_str(dp.exists(
            &context,
            get(1),
            prio,
            chan.caller.num.as_deref(),
            Utc::now(),
        )))
    }
}

// ---------------------------------------------------------------------------------------
// func_evalexten: EVAL_EXTEN

func!(
    EvalExten,
    "EVAL_EXTEN",
    "Evaluates the contents of a dialplan extension and returns it as a string.",
    "EVAL_EXTEN([[context,]extensions,]priority)",
    "Looks up a dialplan entry by context,extension,priority, evaluates the contents of its \
     application data (typically a Return statement) as if the channel were at that \
     location (${EXTEN} is the looked-up extension), and returns the result. The \
     application itself is not executed."
);

impl Func for EvalExten {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.trim().is_empty() {
            return Err(FuncError::Usage(
                "The EVAL_EXTEN function requires an extension".into(),
            ));
        }
        let Some(t) = crate::apps::flow::resolve_goto(chan, a) else {
            return Err(FuncError::Other(format!("Invalid location '{a}'")));
        };
        let dp = chan.pbx.dialplan();
        let Some((_, _, p)) = dp.find_priority(
            &t.context,
            &t.exten,
            t.priority,
            chan.caller.num.as_deref(),
            Utc::now(),
        ) else {
            return Err(FuncError::Other(format!(
                "No such extension: {}@{} priority {}",
                t.exten, t.context, t.priority
            )));
        };
        let data = p.data.clone();
        drop(dp);
        let saved = (
            std::mem::replace(&mut chan.context, t.context),
            std::mem::replace(&mut chan.exten, t.exten),
            std::mem::replace(&mut chan.priority, t.priority),
        );
        let out = crate::pbx::exec::substitute(chan, &data);
        chan.context = saved.0;
        chan.exten = saved.1;
        chan.priority = saved.2;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// func_evalexten: EVAL_SUB

func!(
    EvalSub,
    "EVAL_SUB",
    "Executes a Gosub and provides its return value as a string",
    "EVAL_SUB([[context,]extensions,]priority[(arg1[,...][,argN])])",
    "Runs the subroutine at context,extension,priority (arguments exactly like Gosub) and \
     returns what its Return gave (GOSUB_RETVAL). It always returns, even if the channel \
     is hung up."
);

#[async_trait::async_trait]
impl Func for EvalSub {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other("EVAL_SUB() runs dialplan".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.trim().is_empty() {
            return Err(FuncError::Usage(
                "The EVAL_SUB function requires an extension".into(),
            ));
        }
        let failed = || FuncError::Other(format!("Failed to execute Gosub({a})"));
        let (loc, sub_args) = crate::apps::flow::split_sub(a.trim());
        let t = crate::apps::flow::resolve_goto(chan, loc).ok_or_else(failed)?;
        let exists = chan.pbx.dialplan().exists(
            &t.context,
            &t.exten,
            t.priority,
            chan.caller.num.as_deref(),
            Utc::now(),
        );
        if !exists {
            return Err(failed());
        }
        // A stale GOSUB_RETVAL is never returned: the subroutine's Return sets it.
        chan.set_var("GOSUB_RETVAL", "");
        crate::pbx::exec::run_sub(chan, &t.context, &t.exten, t.priority, &sub_args).await;
        Ok(chan.get_var("GOSUB_RETVAL").unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------------
// func_channel: CHANNELS, CHANNEL_EXISTS

func!(
    Channels,
    "CHANNELS",
    "Gets the list of channels, optionally filtering by a regular expression.",
    "CHANNELS([regular_expression])",
    "Gets the list of channels, optionally filtering by a regular expression. If no \
     argument is provided, all known channels are returned. The list is space-delimited."
);

impl Func for Channels {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let re = if a.is_empty() {
            None
        } else {
            Some(regex::Regex::new(a).map_err(|e| {
                FuncError::Other(format!("Unable to compile regular expression: {a} ({e})"))
            })?)
        };
        let names: Vec<String> = chan
            .pbx
            .channels
            .list()
            .into_iter()
            .map(|c| c.name.clone())
            .filter(|n| re.as_ref().is_none_or(|r| r.is_match(n)))
            .collect();
        Ok(names.join(" "))
    }
}

func!(
    ChannelExists,
    "CHANNEL_EXISTS",
    "Checks if the specified channel exists.",
    "CHANNEL_EXISTS(name_or_uid)",
    "Returns 1 if the channel name_or_uid exists, 0 if not."
);

impl Func for ChannelExists {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let a = a.trim();
        if a.is_empty() {
            return Err(FuncError::Usage(
                "CHANNEL_EXISTS requires a channel name or unique ID".into(),
            ));
        }
        let found = chan.pbx.channels.get(a).is_some()
            || chan
                .pbx
                .channels
                .list()
                .iter()
                .any(|c| c.uniqueid == a || c.name.eq_ignore_ascii_case(a));
        Ok(bool_str(found))
    }
}

func!(
    MasterChannel,
    "MASTER_CHANNEL",
    "Gets or sets variables on the master channel.",
    "MASTER_CHANNEL(varname)",
    "Allows access to the oldest channel associated with the current channel (the one \
     identified by its linkedid) if it still exists; if the channel is the master channel \
     or the master no longer exists, the local channel's variables. In ferrisk every \
     channel is its own linkedid, so this is always the current channel."
);

impl Func for MasterChannel {
    meta!();
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(crate::pbx::exec::substitute(
            chan,
            &format!("${{{}}}", a.trim()),
        ))
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        super::strings::set_var_helper(chan, a.trim(), value);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// func_export: EXPORT

func!(
    Export,
    "EXPORT",
    "Set variables or dialplan functions on any arbitrary channel that exists.",
    "EXPORT(channel,var)",
    "Allows setting variables on any existing channel (its complete name: SIP/12-abcd1234). \
     The channel applies the value at its next dialplan step or wait."
);

impl Func for Export {
    meta!();
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let v = args::split(a, ',');
        let (target, var) = (args::nth(&v, 0).trim(), args::nth(&v, 1).trim());
        if target.is_empty() || var.is_empty() {
            return Err(FuncError::Usage(
                "EXPORT requires a channel name and variable: EXPORT(<channel>,<var>)".into(),
            ));
        }
        if target == chan.name() {
            super::strings::set_var_helper(chan, var, value);
            return Ok(());
        }
        let Some(other) = chan.pbx.channels.get(target) else {
            return Err(FuncError::Other(format!("Channel '{target}' not found")));
        };
        other.request_setvar(var, value);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// func_module: IFMODULE

func!(
    IfModule,
    "IFMODULE",
    "Checks if an Asterisk module is loaded in memory.",
    "IFMODULE(modulename.so)",
    "Checks if a module is loaded. Use the full module name as shown by module show. \
     Returns 1 if module exists in memory, otherwise 0."
);

impl Func for IfModule {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let a = a.trim();
        if a.is_empty() {
            return Ok("0".into());
        }
        Ok(bool_str(chan.pbx.modules.is_loaded(a)))
    }
}

// ---------------------------------------------------------------------------------------
// func_version: VERSION

/// The Asterisk release whose behaviour ferrisk follows, as `ASTERISK_VERSION_NUM` gives
/// it (dialplans compare it to pick features).
pub const ASTERISK_VERSION_NUM: &str = "200000";

func!(
    Version,
    "VERSION",
    "Return the Version info for this Asterisk.",
    "VERSION([info])",
    "Without an argument, ferrisk's version. info: ASTERISK_VERSION_NUM (200000: the \
     Asterisk release ferrisk follows), BUILD_USER, BUILD_HOSTNAME, BUILD_MACHINE, BUILD_OS, \
     BUILD_DATE, BUILD_KERNEL."
);

impl Func for Version {
    meta!();
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let info = a.trim();
        let os = if std::env::consts::OS == "linux" {
            "Linux"
        } else {
            std::env::consts::OS
        };
        Ok(match info.to_ascii_uppercase().as_str() {
            "ASTERISK_VERSION_NUM" => ASTERISK_VERSION_NUM.into(),
            "BUILD_USER" => env!("FERRISK_BUILD_USER").into(),
            "BUILD_HOSTNAME" => env!("FERRISK_BUILD_HOST").into(),
            "BUILD_MACHINE" => std::env::consts::ARCH.into(),
            "BUILD_OS" => os.into(),
            "BUILD_DATE" => env!("FERRISK_BUILD_DATE").into(),
            "BUILD_KERNEL" => std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            _ => env!("CARGO_PKG_VERSION").into(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// func_sysinfo: SYSINFO

func!(
    SysInfo,
    "SYSINFO",
    "Returns system information specified by parameter.",
    "SYSINFO(parameter)",
    "parameter: loadavg (load average of the past minute), numcalls (active calls), \
     uptime (system uptime in hours), totalram, freeram, bufferram, totalswap, freeswap \
     (KiB), numprocs (number of processes)."
);

/// One `Key: value kB` line of `/proc/meminfo`.
fn meminfo(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

impl Func for SysInfo {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let which = a.trim().to_ascii_lowercase();
        if which.is_empty() {
            return Err(FuncError::Usage("SYSINFO() requires an argument.".into()));
        }
        let proc = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
        let mem = |k: &str| meminfo(&proc("/proc/meminfo"), k).unwrap_or(0).to_string();
        Ok(match which.as_str() {
            "loadavg" => {
                let l = proc("/proc/loadavg");
                let v: f64 = l
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                format!("{v:.6}")
            }
            "numcalls" => chan.pbx.channels.active_calls().to_string(),
            "uptime" => {
                let secs: f64 = proc("/proc/uptime")
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                ((secs as u64) / 3600).to_string()
            }
            "totalram" => mem("MemTotal"),
            "freeram" => mem("MemFree"),
            "bufferram" => mem("Buffers"),
            "totalswap" => mem("SwapTotal"),
            "freeswap" => mem("SwapFree"),
            "numprocs" => std::fs::read_dir("/proc")
                .map(|d| {
                    d.flatten()
                        .filter(|e| {
                            e.file_name()
                                .to_string_lossy()
                                .bytes()
                                .all(|b| b.is_ascii_digit())
                        })
                        .count()
                })
                .unwrap_or(0)
                .to_string(),
            _ => {
                return Err(FuncError::Other(format!(
                    "Unknown sysinfo parameter type '{which}'."
                )))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// func_uuid: UUID

func!(
    Uuid,
    "UUID",
    "Generates a UUID.",
    "UUID()",
    "Returns a version 4 (random) Universally Unique Identifier (UUID) as a string."
);

/// A random (version 4, RFC 4122 variant) UUID in its 36-character form.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Func for Uuid {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Ok(uuid_v4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eval_sub_returns_the_subroutines_value() {
        use crate::pbx::tests::{get, pbx_with, run};
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(GOSUB_RETVAL=stale)\n\
             same => n,Set(R=${EVAL_SUB(sub,x,1(4,5))}-${ARG1})\n\
             same => n,Set(N=${EVAL_SUB(t,none,1)})\n\
             same => n,Set(E=${EVAL_SUB(nothing)})\n\
             same => n,Set(AFTER=${EXTEN}@${CONTEXT})\n\
             [sub]\nexten => x,1,Set(LOCAL(s)=$[${ARG1}+${ARG2}])\n same => n,Return(${s}:${EXTEN})\n\
             [t]\nexten => none,1,NoOp()\n same => n,Return()\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "R"), Some("9:x-"));
        assert_eq!(get(&v, "N").unwrap_or_default(), "");
        assert_eq!(get(&v, "E").unwrap_or_default(), "");
        assert_eq!(get(&v, "AFTER"), Some("s@t"));
    }

    #[test]
    fn digit_sum_uuid_version() {
        let mut c = crate::testutil::test_channel();
        assert_eq!(DigitSum.read(&mut c, "859").unwrap(), "22");
        assert_eq!(DigitSum.read(&mut c, "-1a2").unwrap(), "3");
        assert!(DigitSum.read(&mut c, "").is_err());
        let u = Uuid.read(&mut c, "").unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, Uuid.read(&mut c, "").unwrap());
        assert_eq!(
            Version.read(&mut c, "ASTERISK_VERSION_NUM").unwrap(),
            "200000"
        );
        assert_eq!(Version.read(&mut c, "").unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn sysinfo_reads_proc() {
        let mut c = crate::testutil::test_channel();
        for p in [
            "loadavg", "uptime", "totalram", "freeram", "numprocs", "numcalls",
        ] {
            let v = SysInfo.read(&mut c, p).unwrap();
            assert!(v.parse::<f64>().is_ok(), "{p}: {v}");
        }
        assert_ne!(SysInfo.read(&mut c, "totalram").unwrap(), "0");
        assert!(SysInfo.read(&mut c, "bogus").is_err());
        assert!(SysInfo.read(&mut c, "").is_err());
        assert_eq!(
            meminfo("MemTotal:  1024 kB\nMemFree: 12 kB\n", "MemFree"),
            Some(12)
        );
    }

    #[test]
    fn variables_globals_shared() {
        let mut c = crate::testutil::test_channel();
        c.vars.set("__A", "1");
        assert_eq!(VariableExists.read(&mut c, "A").unwrap(), "1");
        assert_eq!(VariableExists.read(&mut c, "B").unwrap(), "0");
        Delete.write(&mut c, "A", "").unwrap();
        assert_eq!(VariableExists.read(&mut c, "A").unwrap(), "0");
        c.pbx.set_global("G", "x");
        assert_eq!(GlobalExists.read(&mut c, "G").unwrap(), "1");
        assert_eq!(VariableExists.read(&mut c, "G").unwrap(), "1");
        GlobalDelete.write(&mut c, "G", "").unwrap();
        assert_eq!(GlobalExists.read(&mut c, "G").unwrap(), "0");
        Shared.write(&mut c, "S", "v").unwrap();
        assert_eq!(Shared.read(&mut c, "S").unwrap(), "v");
        assert_eq!(c.vars.get("S"), None, "SHARED(S) is not S");
        assert!(Shared.read(&mut c, "S,SIP/nobody").is_err());
        assert!(Shared.read(&mut c, "").is_err());
    }
}

#[cfg(test)]
mod dialplan_tests {
    use crate::pbx::tests::{get, pbx_with, run};

    #[tokio::test]
    async fn dialplan_lookups_and_eval() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(P=$)\n same => n,Set(X=${P}{Y})\n same => n,Set(Y=deep)\n\
             same => n,Set(E=${EVAL(${X})})\n same => n,Set(Z=outer)\n\
             same => n,Set(D1=${DIALPLAN_EXISTS(t)})\n same => n,Set(D2=${DIALPLAN_EXISTS(t,s,2)})\n\
             same => n,Set(D3=${DIALPLAN_EXISTS(t,s,99)})\n same => n,Set(D4=${DIALPLAN_EXISTS(t,s,lbl)})\n\
             same => n,Set(D5=${DIALPLAN_EXISTS(nope)})\n same => n,Set(D6=${DIALPLAN_EXISTS(t,200)})\n\
             same => n(lbl),Set(V1=${VALID_EXTEN(,200)})\n same => n,Set(V2=${VALID_EXTEN(t,201)})\n\
             same => n,Set(EV=${EVAL_EXTEN(types,2001,1)})\n same => n,Set(EV2=${EVAL_EXTEN(types,555,1)})\n\
             same => n,Gosub(sub,s,1(a))\n same => n,Set(CH=${CHANNELS(^Test/)})\n\
             same => n,Set(CE=${CHANNEL_EXISTS(Test/none)})\n same => n,Set(IM=${IFMODULE(func_uuid.so)})\n\
             same => n,Set(IM2=${IFMODULE(app_nothing.so)})\n\
             exten => 200,1,NoOp()\n\
             [types]\nexten => _2XXX,1,Return(internal-${EXTEN})\nexten => _XXX,1,Return(short)\n\
             [sub]\nexten => s,1,Set(LOCAL(Z)=inner)\n same => n,Set(PK=${LOCAL_PEEK(1,Z)})\n\
             same => n(here),Set(PK0=${LOCAL_PEEK(0,Z)})\n\
             same => n,Set(SP=${STACK_PEEK(1,c)}/${STACK_PEEK(1,e)}/${STACK_PEEK(1,p)})\n\
             same => n,Set(SPL=${STACK_PEEK(1,l)})\n same => n,Set(SPX=${STACK_PEEK(5,c,1)})\n\
             same => n,Set(__PK=${PK})\n same => n,Set(__PK0=${PK0})\n same => n,Set(__SP=${SP})\n\
             same => n,Set(__SPL=${SPL})\n same => n,Set(__SPX=x${SPX})\n same => n,Return()\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "E"), Some("deep"));
        for (k, want) in [
            ("D1", "1"),
            ("D2", "1"),
            ("D3", "0"),
            ("D4", "1"),
            ("D5", "0"),
            ("D6", "1"),
            ("V1", "1"),
            ("V2", "0"),
            ("CE", "0"),
            ("IM", "1"),
            ("IM2", "0"),
        ] {
            assert_eq!(get(&v, k), Some(want), "{k}");
        }
        assert_eq!(get(&v, "EV"), Some("internal-2001"));
        assert_eq!(get(&v, "EV2"), Some("short"));
        assert_eq!(
            get(&v, "PK"),
            Some("outer"),
            "the caller's Z under LOCAL(Z)"
        );
        assert_eq!(get(&v, "PK0"), Some("inner"));
        assert_eq!(get(&v, "SP"), Some("t/s/16"));
        assert_eq!(get(&v, "SPL"), Some("t,s,16"));
        assert_eq!(get(&v, "SPX"), Some("x"));
    }
}

#[cfg(test)]
mod import_tests {
    use super::*;

    #[tokio::test]
    async fn import_reads_another_channels_variable() {
        let pbx = crate::modules::test_pbx();
        let tech = Arc::new(crate::pbx::channel::NullTech);
        let mut other = Channel::new(&pbx, "SIP/o-1".into(), tech.clone());
        other.vars.set("_COLOR", "blue");
        let mut me = Channel::new(&pbx, "SIP/me-2".into(), tech);
        // The other channel's task answers variable requests while it waits.
        let t = tokio::spawn(async move {
            other.sleep(std::time::Duration::from_secs(5)).await.ok();
            other
        });
        let v = Import.read_async(&mut me, "SIP/o-1,COLOR").await.unwrap();
        assert_eq!(v, "blue");
        assert_eq!(
            Import.read_async(&mut me, "SIP/none,COLOR").await.unwrap(),
            ""
        );
        me.vars.set("MINE", "x");
        assert_eq!(
            Import.read_async(&mut me, "SIP/me-2,MINE").await.unwrap(),
            "x"
        );
        t.abort();
    }
}

#[cfg(test)]
mod export_tests {
    use super::*;

    #[tokio::test]
    async fn export_sets_on_another_channel_and_redirect_moves_it() {
        let pbx = crate::pbx::tests::pbx_with(
            "[t]\nexten => s,1,Set(EXPORT(SIP/o-1,_GIVEN)=gift)\n\
             same => n,Set(MASTER_CHANNEL(M)=m)\n same => n,Set(MC=${MASTER_CHANNEL(M)})\n\
             same => n,ChannelRedirect(SIP/o-1,t,there,1)\n\
             same => n,Set(S=${CHANNELREDIRECT_STATUS})\n\
             same => n,ChannelRedirect(SIP/none-9,t,there,1)\n\
             same => n,Set(S2=${CHANNELREDIRECT_STATUS})\n\
             exten => there,1,NoOp()\n",
        );
        let tech = Arc::new(crate::pbx::channel::NullTech);
        let mut other = Channel::new(&pbx, "SIP/o-1".into(), tech);
        let v = crate::pbx::tests::run(&pbx, "t", "s").await;
        let get = |k: &str| crate::pbx::tests::get(&v, k).map(str::to_string);
        assert_eq!(get("MC").as_deref(), Some("m"));
        assert_eq!(get("S").as_deref(), Some("SUCCESS"));
        assert_eq!(get("S2").as_deref(), Some("NOCHANNEL"));
        other.serve_requests();
        assert_eq!(other.vars.get("GIVEN"), Some("gift"));
        assert!(other.take_redirect());
        assert_eq!(
            (other.context.as_str(), other.exten.as_str()),
            ("t", "there")
        );
    }
}
