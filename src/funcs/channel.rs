//! Functions over channel state: CALLERID, CHANNEL, GLOBAL, LOCAL, HASH/HASHKEYS, ARRAY,
//! TIMEOUT, CDR and CDR_PROP, with Asterisk 20's semantics (func_callerid.c, func_channel.c,
//! func_global.c, app_stack.c, func_strings.c, func_timeout.c, func_cdr.c).
//!
//! State that Asterisk keeps in C structs ferrisk has no field for is kept in channel
//! variables whose names start with `~` (as Asterisk's own internal `~HASH~`/`~ODBCFIELDS~`
//! variables do), so no dialplan name can collide with them:
//!
//! | variable | meaning | read by |
//! | --- | --- | --- |
//! | [`VAR_DIGIT_TIMEOUT`] | `TIMEOUT(digit)` in milliseconds | [`digit_timeout_ms`] |
//! | [`VAR_RESPONSE_TIMEOUT`] | `TIMEOUT(response)` in milliseconds | [`response_timeout_ms`] |
//! | [`VAR_MUSICCLASS`] | `CHANNEL(musicclass)` | [`musicclass`] |
//! | [`VAR_PARKINGLOT`] | `CHANNEL(parkinglot)` | |
//! | [`VAR_CDR_PARTY_A`] | `CDR_PROP(party_a)` (`1` when set) | |

use super::{Func, FuncError};
use crate::apps::args;
use crate::cdr::{Cdr, Disposition};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{CallerId, Channel};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `TIMEOUT(digit)` in milliseconds (absent: Asterisk's default of 5 s).
pub const VAR_DIGIT_TIMEOUT: &str = "~TIMEOUT_DIGIT_MS~";
/// `TIMEOUT(response)` in milliseconds (absent: Asterisk's default of 10 s).
pub const VAR_RESPONSE_TIMEOUT: &str = "~TIMEOUT_RESPONSE_MS~";
/// `CHANNEL(musicclass)`.
pub const VAR_MUSICCLASS: &str = "~MUSICCLASS~";
/// `CHANNEL(parkinglot)`.
pub const VAR_PARKINGLOT: &str = "~PARKINGLOT~";
/// `CDR_PROP(party_a)`.
pub const VAR_CDR_PARTY_A: &str = "~CDR_PARTY_A~";

/// Asterisk's default digit timeout (`pbx->dtimeoutms`).
pub const DEFAULT_DIGIT_TIMEOUT_MS: u64 = 5000;
/// Asterisk's default response timeout (`pbx->rtimeoutms`).
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 10000;

/// The inter-digit timeout the channel's dialplan set with `TIMEOUT(digit)`.
pub fn digit_timeout_ms(chan: &Channel) -> u64 {
    chan.vars
        .get(VAR_DIGIT_TIMEOUT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_DIGIT_TIMEOUT_MS)
}

/// The response timeout the channel's dialplan set with `TIMEOUT(response)`.
pub fn response_timeout_ms(chan: &Channel) -> u64 {
    chan.vars
        .get(VAR_RESPONSE_TIMEOUT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RESPONSE_TIMEOUT_MS)
}

/// The channel's music-on-hold class (`CHANNEL(musicclass)`), empty for the default.
pub fn musicclass(chan: &Channel) -> String {
    chan.vars
        .get(VAR_MUSICCLASS)
        .map(str::to_string)
        .unwrap_or_default()
}

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new(
            "func_callerid.so",
            "Party ID related dialplan functions (Caller-ID, Connected-line, Redirecting)",
        ),
        register: register_func_callerid,
    },
    Family {
        info: ModuleInfo::new("func_channel.so", "Channel information dialplan functions"),
        register: register_func_channel,
    },
    Family {
        info: ModuleInfo::new("func_global.so", "Variable dialplan functions"),
        register: register_func_global,
    },
    Family {
        info: ModuleInfo::new("func_timeout.so", "Channel timeout dialplan functions"),
        register: register_func_timeout,
    },
    Family {
        info: ModuleInfo::new("func_cdr.so", "Call Detail Record (CDR) dialplan functions"),
        register: register_func_cdr,
    },
];

fn register_func_callerid(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(CallerIdFunc));
    ctx.register_func(Arc::new(super::party::ConnectedLineFunc));
    ctx.register_func(Arc::new(super::party::RedirectingFunc));
}

fn register_func_channel(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(ChannelFunc));
    super::vars::register_channel_funcs(ctx);
}

fn register_func_global(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(GlobalFunc));
    super::vars::register_global_funcs(ctx);
}

fn register_func_timeout(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(TimeoutFunc));
}

fn register_func_cdr(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(CdrFunc));
    ctx.register_func(Arc::new(CdrPropFunc));
}

fn opt_str(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

fn some_nonempty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

// ---------------------------------------------------------------------------------------
// CALLERID

pub struct CallerIdFunc;

/// Read one CALLERID item from `c`; `None` for an unknown item.
fn callerid_item(c: &CallerId, item: &str) -> Option<String> {
    Some(match item.trim().to_ascii_lowercase().as_str() {
        // func_callerid always prints both halves for `all`, quoting the name.
        "all" => format!(
            "\"{}\" <{}>",
            c.name.as_deref().unwrap_or(""),
            c.num.as_deref().unwrap_or("")
        ),
        "name" => opt_str(&c.name),
        "num" | "number" => opt_str(&c.num),
        "name-valid" => if c.name.is_some() { "1" } else { "0" }.to_string(),
        "num-valid" | "number-valid" => if c.num.is_some() { "1" } else { "0" }.to_string(),
        "ani" | "ani-num" | "ani-number" => opt_str(&c.ani),
        "dnid" | "dnid-num" | "dnid-number" => opt_str(&c.dnid),
        "rdnis" => opt_str(&c.rdnis),
        "pres" | "name-pres" | "num-pres" | "number-pres" => "allowed_not_screened".to_string(),
        "ton" | "num-plan" | "number-plan" => "0".to_string(),
        "tag" | "subaddr" | "ani-tag" | "ani-name" | "ani2" | "name-charset" => String::new(),
        _ => return None,
    })
}

impl Func for CallerIdFunc {
    fn name(&self) -> &'static str {
        "CALLERID"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets Caller*ID data on the channel."
    }
    fn syntax(&self) -> &'static str {
        "CALLERID(datatype[,CID])"
    }
    fn description(&self) -> &'static str {
        "Gets or sets Caller*ID data on the channel. Data types: all, name, num (number), \
         ani, dnid, rdnis, name-valid, num-valid, pres, ton, tag. With CID, the item is taken \
         from that Caller*ID string instead of the channel. Writing `all` parses \
         `\"Name\" <number>`."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        let item = args::nth(&parts, 0).trim();
        if item.is_empty() {
            return Err(FuncError::Usage(
                "CALLERID requires an argument (datatype)".into(),
            ));
        }
        let cid = if parts.len() > 1 {
            CallerId::parse(args::nth(&parts, 1))
        } else {
            chan.caller.clone()
        };
        callerid_item(&cid, item)
            .ok_or_else(|| FuncError::Usage(format!("Unknown callerid data type '{item}'.")))
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        let item = args::nth(&parts, 0).trim().to_ascii_lowercase();
        let c = &mut chan.caller;
        match item.as_str() {
            "all" => {
                let p = CallerId::parse(value);
                c.name = p.name;
                c.num = p.num;
            }
            "name" => c.name = some_nonempty(value),
            "num" | "number" => c.num = some_nonempty(value),
            "ani" | "ani-num" | "ani-number" => c.ani = some_nonempty(value),
            "dnid" | "dnid-num" | "dnid-number" => c.dnid = some_nonempty(value),
            "rdnis" => c.rdnis = some_nonempty(value),
            // Presentation/type-of-number/tag have no storage here: accepted and ignored.
            "pres" | "name-pres" | "num-pres" | "number-pres" | "ton" | "num-plan"
            | "number-plan" | "tag" | "subaddr" | "name-charset" | "ani2" | "ani-tag"
            | "ani-name" | "name-valid" | "num-valid" | "number-valid" => {}
            "" => {
                return Err(FuncError::Usage(
                    "CALLERID requires an argument (datatype)".into(),
                ))
            }
            _ => {
                return Err(FuncError::Usage(format!(
                    "Unknown callerid data type '{}'.",
                    args::nth(&parts, 0).trim()
                )))
            }
        }
        let caller = chan.caller.clone();
        chan.shared.snapshot.lock().caller = caller;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// CHANNEL

pub struct ChannelFunc;

fn unknown_item(item: &str) -> FuncError {
    FuncError::Usage(format!("Unknown or unavailable item requested: '{item}'"))
}

/// AMA flag name to number (`ast_channel_string2amaflag`); 0 when unknown.
pub fn amaflag_from_str(s: &str) -> u32 {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return if (1..=3).contains(&n) { n } else { 0 };
    }
    match s.to_ascii_uppercase().as_str() {
        "OMIT" => 1,
        "BILLING" => 2,
        "DOCUMENTATION" => 3,
        _ => 0,
    }
}

/// AMA flag number to name (`ast_channel_amaflags2string`).
pub fn amaflag_to_str(n: u32) -> &'static str {
    match n {
        1 => "OMIT",
        2 => "BILLING",
        3 => "DOCUMENTATION",
        _ => "Unknown",
    }
}

fn set_amaflags(chan: &mut Channel, value: &str) -> Result<(), FuncError> {
    match amaflag_from_str(value) {
        0 => Err(FuncError::Usage(format!(
            "Invalid AMA flags value '{value}'"
        ))),
        n => {
            chan.cdr.amaflags = amaflag_to_str(n).to_string();
            Ok(())
        }
    }
}

fn set_accountcode(chan: &mut Channel, value: &str) {
    chan.accountcode = value.to_string();
    chan.cdr.accountcode = value.to_string();
    chan.shared.snapshot.lock().accountcode = value.to_string();
}

impl Func for ChannelFunc {
    fn name(&self) -> &'static str {
        "CHANNEL"
    }
    fn synopsis(&self) -> &'static str {
        "Gets/sets various pieces of information about the channel."
    }
    fn syntax(&self) -> &'static str {
        "CHANNEL(item)"
    }
    fn description(&self) -> &'static str {
        "Gets/sets various pieces of information about the channel. Readable: name, uniqueid, \
         linkedid, state, language, accountcode, peeraccount, amaflags, musicclass, parkinglot, \
         context, exten, priority, channeltype, checkhangup, hangupsource, userfield, callid. \
         Writable: language, accountcode, amaflags, musicclass, parkinglot, userfield."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let item = a.trim();
        Ok(match item.to_ascii_lowercase().as_str() {
            "name" => chan.name().to_string(),
            "uniqueid" => chan.uniqueid().to_string(),
            "linkedid" => chan.cdr.linkedid.clone(),
            "state" => chan.state.as_str().to_string(),
            "language" => chan.language.clone(),
            "accountcode" => chan.accountcode.clone(),
            "peeraccount" => chan.cdr.peeraccount.clone(),
            "amaflags" => chan.cdr.amaflags.clone(),
            "userfield" => chan.cdr.userfield.clone(),
            "musicclass" => musicclass(chan),
            "parkinglot" => chan.vars.get(VAR_PARKINGLOT).unwrap_or("").to_string(),
            "context" => chan.context.clone(),
            "exten" => chan.exten.clone(),
            "priority" => chan.priority.to_string(),
            "channeltype" => chan.tech.tech().to_string(),
            "checkhangup" => if chan.check_hangup() { "1" } else { "0" }.to_string(),
            "hangupsource" | "callid" | "tonezone" | "transfercapability" => String::new(),
            _ => return Err(unknown_item(item)),
        })
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let item = a.trim();
        match item.to_ascii_lowercase().as_str() {
            "language" => {
                chan.language = value.to_string();
                chan.shared.snapshot.lock().language = value.to_string();
            }
            "accountcode" => set_accountcode(chan, value),
            "amaflags" => set_amaflags(chan, value)?,
            "userfield" => chan.cdr.userfield = value.to_string(),
            "musicclass" => chan.vars.set_or_unset(VAR_MUSICCLASS, value),
            "parkinglot" => chan.vars.set_or_unset(VAR_PARKINGLOT, value),
            _ => return Err(unknown_item(item)),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// GLOBAL

pub struct GlobalFunc;

impl Func for GlobalFunc {
    fn name(&self) -> &'static str {
        "GLOBAL"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets the global variable specified."
    }
    fn syntax(&self) -> &'static str {
        "GLOBAL(varname)"
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(chan.pbx.get_global(a.trim()).unwrap_or_default())
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let name = a.trim();
        if name.is_empty() {
            return Err(FuncError::Usage("GLOBAL requires a variable name".into()));
        }
        chan.pbx.set_global(name, value);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// LOCAL

pub struct LocalFunc;

impl Func for LocalFunc {
    fn name(&self) -> &'static str {
        "LOCAL"
    }
    fn synopsis(&self) -> &'static str {
        "Manage variables local to the gosub stack frame."
    }
    fn syntax(&self) -> &'static str {
        "LOCAL(varname)"
    }
    fn description(&self) -> &'static str {
        "Read and write a variable local to the gosub stack frame, once we Return() it will \
         be lost (or it will go back to whatever value it had before the Gosub())."
    }
    fn writable(&self) -> bool {
        true
    }
    /// As app_stack's `local_read`: only a variable that is local to the current frame
    /// (including ARGn) reads; anything else is empty.
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let name = a.trim();
        let Some(frame) = chan.gosub.last() else {
            return Err(FuncError::Other(format!(
                "Tried to read LOCAL({name}), but we aren't within a Gosub routine"
            )));
        };
        if frame.saved.iter().any(|(n, _)| n == name) {
            Ok(chan.vars.get(name).unwrap_or("").to_string())
        } else {
            Ok(String::new())
        }
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let name = a.trim();
        if name.is_empty() {
            return Err(FuncError::Usage("LOCAL requires a variable name".into()));
        }
        let Some(frame) = chan.gosub.last_mut() else {
            return Err(FuncError::Other(format!(
                "Tried to set LOCAL({name}), but we aren't within a Gosub routine"
            )));
        };
        let (bare, _) = crate::pbx::vars::split_inherit(name);
        if !frame.saved.iter().any(|(n, _)| n == bare) {
            let old = chan
                .vars
                .iter()
                .find(|(k, _)| *k == bare)
                .map(|(_, v)| v.clone());
            frame.saved.push((bare.to_string(), old));
        }
        chan.vars.set_or_unset(name, value);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// HASH, HASHKEYS, ARRAY

fn hash_var(hash: &str, key: &str) -> String {
    format!("~HASH~{hash}~{key}~")
}

/// Split a hash name into its inheritance prefix and bare name.
fn hash_prefix(hash: &str) -> (&str, &str) {
    if let Some(rest) = hash.strip_prefix("__") {
        ("__", rest)
    } else if let Some(rest) = hash.strip_prefix('_') {
        ("_", rest)
    } else {
        ("", hash)
    }
}

/// Keys of hash `name`, most recently created first (Asterisk walks its variable list,
/// where new variables go to the head).
fn hash_keys(chan: &Channel, name: &str) -> Vec<String> {
    let prefix = format!("~HASH~{name}~");
    let mut keys: Vec<String> = chan
        .vars
        .iter()
        .filter_map(|(k, _)| k.strip_prefix(prefix.as_str()))
        .filter_map(|rest| rest.strip_suffix('~'))
        .map(str::to_string)
        .collect();
    keys.reverse();
    keys
}

/// Set `vars` to `values` pairwise (the part of func_strings' `array()` both ARRAY and the
/// one-argument HASH write share); names without a value are emptied.
fn assign_list(chan: &mut Channel, names: &[String], value: &str) {
    let values = args::split(value, ',');
    for (i, n) in names.iter().enumerate() {
        let v = values.get(i).map(String::as_str).unwrap_or("");
        chan.vars.set_or_unset(n, v);
    }
}

pub struct HashFunc;

impl Func for HashFunc {
    fn name(&self) -> &'static str {
        "HASH"
    }
    fn synopsis(&self) -> &'static str {
        "Implementation of a dialplan associative array"
    }
    fn syntax(&self) -> &'static str {
        "HASH(hashname[,hashkey])"
    }
    fn description(&self) -> &'static str {
        "In two arguments mode, gets and sets values to corresponding keys within a named \
         associative array. The single-argument mode will only work when assigned to from a \
         function defined by func_odbc (or after reading HASH(hashname), which sets the key \
         list), and reading it returns the values of every key, comma-separated."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        match parts.len() {
            0 => Err(FuncError::Usage("HASH requires an argument".into())),
            1 => {
                let name = hash_prefix(parts[0].trim()).1;
                let keys = hash_keys(chan, name);
                chan.vars.set_or_unset("~ODBCFIELDS~", &keys.join(","));
                let vals: Vec<String> = keys
                    .iter()
                    .map(|k| chan.vars.get(&hash_var(name, k)).unwrap_or("").to_string())
                    .collect();
                Ok(vals.join(","))
            }
            _ => {
                let name = hash_prefix(parts[0].trim()).1;
                Ok(chan
                    .vars
                    .get(&hash_var(name, parts[1].trim()))
                    .unwrap_or("")
                    .to_string())
            }
        }
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        match parts.len() {
            0 => Err(FuncError::Usage("HASH requires an argument".into())),
            1 => {
                // Single-argument version: keys come from ~ODBCFIELDS~.
                let Some(fields) = chan.vars.get("~ODBCFIELDS~").map(str::to_string) else {
                    return Err(FuncError::Usage(
                        "HASH(hashname) can only be assigned after a key list is known (~ODBCFIELDS~)"
                            .into(),
                    ));
                };
                let (inherit, name) = hash_prefix(parts[0].trim());
                let names: Vec<String> = args::split(&fields, ',')
                    .iter()
                    .map(|k| format!("{inherit}{}", hash_var(name, k.trim())))
                    .collect();
                assign_list(chan, &names, value);
                Ok(())
            }
            _ => {
                let (inherit, name) = hash_prefix(parts[0].trim());
                let var = format!("{inherit}{}", hash_var(name, parts[1].trim()));
                chan.vars.set_or_unset(&var, value);
                Ok(())
            }
        }
    }
}

pub struct HashKeysFunc;

impl Func for HashKeysFunc {
    fn name(&self) -> &'static str {
        "HASHKEYS"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve the keys of the HASH() function."
    }
    fn syntax(&self) -> &'static str {
        "HASHKEYS(hashname)"
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(hash_keys(chan, hash_prefix(a.trim()).1).join(","))
    }
}

pub struct ArrayFunc;

impl Func for ArrayFunc {
    fn name(&self) -> &'static str {
        "ARRAY"
    }
    fn synopsis(&self) -> &'static str {
        "Allows setting multiple variables at once."
    }
    fn syntax(&self) -> &'static str {
        "ARRAY(var1[,var2[,...][,varN]])"
    }
    fn description(&self) -> &'static str {
        "The comma-delimited list passed as a value to which the function is set will be \
         interpreted as a set of values to which the comma-delimited list of variable names \
         in the argument should be set. Example: Set(ARRAY(var1,var2)=1,2) sets var1 to 1 \
         and var2 to 2."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let names: Vec<String> = args::split(a, ',')
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(FuncError::Usage(
                "ARRAY requires at least one variable name".into(),
            ));
        }
        assign_list(chan, &names, value);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// TIMEOUT

pub struct TimeoutFunc;

/// `sscanf(value, "%ld%lf")` as func_timeout reads it: `1.5` is 1 s + 0.5 s; anything
/// unparsable or negative is 0 (clear).
fn parse_timeout(value: &str) -> Duration {
    let v = value.trim();
    let int_end = v
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map(|(i, _)| i)
        .unwrap_or(v.len());
    let Ok(sec) = v[..int_end].parse::<i64>() else {
        return Duration::ZERO;
    };
    if sec < 0 {
        return Duration::ZERO;
    }
    let frac = v[int_end..]
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.0e6)
        .unwrap_or(0.0);
    Duration::from_secs(sec.min(i64::from(u32::MAX)) as u64) + Duration::from_secs_f64(frac)
}

impl Func for TimeoutFunc {
    fn name(&self) -> &'static str {
        "TIMEOUT"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets timeouts on the channel. Timeout values are in seconds."
    }
    fn syntax(&self) -> &'static str {
        "TIMEOUT(timeouttype)"
    }
    fn description(&self) -> &'static str {
        "absolute: the absolute maximum amount of time permitted for a call (0 disables). \
         digit: the maximum amount of time permitted between digits when the user is typing \
         in an extension. response: the maximum amount of time permitted after falling \
         through a series of priorities for a channel in which the user may begin typing an \
         extension."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let kind = a.trim();
        match kind.chars().next().map(|c| c.to_ascii_lowercase()) {
            None => Err(FuncError::Usage(
                "Must specify type of timeout to get.".into(),
            )),
            Some('a') => Ok(match chan.absolute_deadline {
                None => "0".to_string(),
                Some(d) => {
                    let now = Instant::now();
                    let secs = if d >= now {
                        (d - now).as_secs_f64()
                    } else {
                        -(now - d).as_secs_f64()
                    };
                    format!("{secs:.3}")
                }
            }),
            Some('r') => Ok(format!("{:.3}", response_timeout_ms(chan) as f64 / 1000.0)),
            Some('d') => Ok(format!("{:.3}", digit_timeout_ms(chan) as f64 / 1000.0)),
            Some(_) => Err(FuncError::Usage("Unknown timeout type specified.".into())),
        }
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let when = parse_timeout(value);
        let pbx = chan.pbx.clone();
        match a.trim().chars().next().map(|c| c.to_ascii_lowercase()) {
            None => Err(FuncError::Usage(
                "Must specify type of timeout to set.".into(),
            )),
            Some('a') => {
                if when.is_zero() {
                    chan.absolute_deadline = None;
                    pbx.verbose_line(3, "Channel hangup cancelled.");
                } else {
                    chan.absolute_deadline = Some(Instant::now() + when);
                    let at = chrono::Local::now()
                        + chrono::Duration::from_std(when).unwrap_or(chrono::Duration::zero());
                    pbx.verbose_line(
                        3,
                        &format!(
                            "Channel will hangup at {}.",
                            at.format("%Y-%m-%d %H:%M:%S%.3f %Z")
                        ),
                    );
                }
                Ok(())
            }
            Some('r') => {
                let ms = when.as_millis();
                chan.vars.set(VAR_RESPONSE_TIMEOUT, ms.to_string());
                pbx.verbose_line(
                    3,
                    &format!("Response timeout set to {:.3}", ms as f64 / 1000.0),
                );
                Ok(())
            }
            Some('d') => {
                let ms = when.as_millis();
                chan.vars.set(VAR_DIGIT_TIMEOUT, ms.to_string());
                pbx.verbose_line(
                    3,
                    &format!("Digit timeout set to {:.3}", ms as f64 / 1000.0),
                );
                Ok(())
            }
            Some(_) => Err(FuncError::Usage("Unknown timeout type specified.".into())),
        }
    }
}

// ---------------------------------------------------------------------------------------
// CDR, CDR_PROP

/// CDR variables that `Set(CDR(x)=...)` may not change (cdr.c `cdr_readonly_vars`).
const CDR_READONLY: &[&str] = &[
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "linkedid",
    "userfield",
    "sequence",
];

/// `ast_cdr_disp2str`'s numeric values (`enum ast_cdr_disposition`).
pub fn disposition_code(d: Disposition) -> u32 {
    match d {
        Disposition::NoAnswer => 0,
        Disposition::Failed => 2,
        Disposition::Busy => 4,
        Disposition::Answered => 8,
        Disposition::Congestion => 16,
    }
}

/// `%Y-%m-%d %H:%M:%S` local time as func_cdr and cdr_csv print dates.
pub fn format_cdr_date(t: &chrono::DateTime<chrono::Local>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn unparsed_date(t: &Option<chrono::DateTime<chrono::Local>>) -> String {
    match t {
        Some(t) => format!("{}.{:06}", t.timestamp(), t.timestamp_subsec_micros()),
        None => String::new(),
    }
}

fn float_secs(from: Option<chrono::DateTime<chrono::Local>>, cdr: &Cdr) -> String {
    let ms = match from {
        Some(f) => (cdr.end.unwrap_or_else(chrono::Local::now) - f)
            .num_milliseconds()
            .max(0),
        None => 0,
    };
    format!("{:.6}", ms as f64 / 1000.0)
}

pub struct CdrFunc;

impl Func for CdrFunc {
    fn name(&self) -> &'static str {
        "CDR"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets a CDR variable."
    }
    fn syntax(&self) -> &'static str {
        "CDR(name[,options])"
    }
    fn description(&self) -> &'static str {
        "All of the CDR field names are read-only, except for accountcode, userfield, and \
         amaflags. You may, however, supply a name not on the list, and it will be added to \
         the record as a user variable. Options: f - print duration and billsec as floats; \
         u - unparsed: dates as epoch.microseconds, disposition and amaflags as numbers."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        let field = args::nth(&parts, 0).trim();
        if field.is_empty() {
            return Err(FuncError::Usage(
                "CDR requires a variable (CDR(variable[,option]))".into(),
            ));
        }
        let opts = args::options(args::nth(&parts, 1));
        let float = opts.contains_key(&'f');
        let raw = opts.contains_key(&'u');
        let cdr = &chan.cdr;
        let lower = field.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "accountcode" => {
                if cdr.accountcode.is_empty() {
                    chan.accountcode.clone()
                } else {
                    cdr.accountcode.clone()
                }
            }
            "src" => cdr.src.clone(),
            "dst" => cdr.dst.clone(),
            "dcontext" => cdr.dcontext.clone(),
            "clid" => cdr.clid.clone(),
            "channel" => cdr.channel.clone(),
            "dstchannel" => cdr.dstchannel.clone(),
            // Live while the call runs; frozen once the h extension starts.
            "lastapp" if cdr.lastapp.is_empty() => chan.last_app.clone(),
            "lastdata" if cdr.lastapp.is_empty() => chan.last_data.clone(),
            "lastapp" => cdr.lastapp.clone(),
            "lastdata" => cdr.lastdata.clone(),
            "start" if raw => unparsed_date(&Some(cdr.start)),
            "start" => format_cdr_date(&cdr.start),
            "answer" if raw => unparsed_date(&cdr.answer),
            "answer" => cdr.answer.as_ref().map(format_cdr_date).unwrap_or_default(),
            "end" if raw => unparsed_date(&cdr.end),
            "end" => cdr.end.as_ref().map(format_cdr_date).unwrap_or_default(),
            "duration" if float => float_secs(Some(cdr.start), cdr),
            "duration" => cdr.duration().to_string(),
            "billsec" if float => float_secs(cdr.answer, cdr),
            "billsec" => cdr.billsec().to_string(),
            "disposition" if raw => disposition_code(cdr.final_disposition()).to_string(),
            "disposition" => cdr.final_disposition().as_str().to_string(),
            "amaflags" if raw => amaflag_from_str(&cdr.amaflags).to_string(),
            "amaflags" => cdr.amaflags.clone(),
            "uniqueid" => cdr.uniqueid.clone(),
            "linkedid" => cdr.linkedid.clone(),
            "userfield" => cdr.userfield.clone(),
            "peeraccount" => cdr.peeraccount.clone(),
            "sequence" => cdr.sequence.to_string(),
            _ => cdr.vars.get(field).cloned().unwrap_or_default(),
        })
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        let field = args::nth(&parts, 0).trim();
        if field.is_empty() {
            return Err(FuncError::Usage(
                "CDR requires a variable (CDR(variable)=value)".into(),
            ));
        }
        let pbx = chan.pbx.clone();
        match field.to_ascii_lowercase().as_str() {
            "accountcode" => {
                pbx.warning(
                    "func_cdr.c: Using the CDR function to set 'accountcode' is deprecated. \
                     Please use the CHANNEL function instead.",
                );
                set_accountcode(chan, value);
            }
            "peeraccount" => {
                return Err(FuncError::Other(
                    "The 'peeraccount' setting is not supported. Please set the 'accountcode' \
                     on the appropriate channel using the CHANNEL function."
                        .into(),
                ))
            }
            "userfield" => chan.cdr.set_userfield(value),
            "amaflags" => {
                pbx.warning(
                    "func_cdr.c: Using the CDR function to set 'amaflags' is deprecated. \
                     Please use the CHANNEL function instead.",
                );
                set_amaflags(chan, value)?;
            }
            lower if CDR_READONLY.contains(&lower) => {
                return Err(FuncError::Other(format!(
                    "Attempt to set the '{field}' read-only variable!"
                )))
            }
            _ => chan.cdr.set_var(field, value),
        }
        Ok(())
    }
}

pub struct CdrPropFunc;

impl Func for CdrPropFunc {
    fn name(&self) -> &'static str {
        "CDR_PROP"
    }
    fn synopsis(&self) -> &'static str {
        "Set a property on a channel's CDR."
    }
    fn syntax(&self) -> &'static str {
        "CDR_PROP(name)"
    }
    fn description(&self) -> &'static str {
        "This function sets a property on a channel's CDR. Properties are set to true with \
         a true value (yes, 1, on, ...) and cleared otherwise. party_a: make this channel \
         the Party A of its CDRs. disable: do not post a CDR for this channel."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let prop = a.trim();
        let on = crate::config::is_true(value);
        match prop.to_ascii_lowercase().as_str() {
            "disable" => chan.cdr.disabled = on,
            "party_a" => chan
                .vars
                .set_or_unset(VAR_CDR_PARTY_A, if on { "1" } else { "" }),
            "" => return Err(FuncError::Usage("CDR_PROP requires a property name".into())),
            _ => {
                return Err(FuncError::Usage(format!(
                    "Unknown option {prop} used with CDR_PROP"
                )))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::exec::{pop_gosub, push_gosub};

    fn chan() -> Channel {
        crate::testutil::test_channel()
    }

    fn rd(f: &dyn Func, c: &mut Channel, a: &str) -> String {
        f.read(c, a)
            .unwrap_or_else(|e| panic!("{}({a}): {e}", f.name()))
    }

    #[test]
    fn registered() {
        let pbx = crate::modules::test_pbx();
        let r = &pbx.funcs;
        for n in [
            "CALLERID",
            "CHANNEL",
            "GLOBAL",
            "LOCAL",
            "HASH",
            "HASHKEYS",
            "ARRAY",
            "TIMEOUT",
            "CDR",
            "CDR_PROP",
            "DB",
            "DB_EXISTS",
            "DB_DELETE",
            "DB_KEYS",
        ] {
            assert!(r.get(n).is_some(), "{n}");
        }
    }

    #[test]
    fn callerid_read_write() {
        let mut c = chan();
        assert_eq!(rd(&CallerIdFunc, &mut c, "all"), "\"\" <>");
        CallerIdFunc
            .write(&mut c, "all", "\"Alice Smith\" <5551234>")
            .unwrap();
        assert_eq!(rd(&CallerIdFunc, &mut c, "name"), "Alice Smith");
        assert_eq!(rd(&CallerIdFunc, &mut c, "num"), "5551234");
        assert_eq!(rd(&CallerIdFunc, &mut c, "number"), "5551234");
        assert_eq!(rd(&CallerIdFunc, &mut c, "NUM"), "5551234");
        assert_eq!(
            rd(&CallerIdFunc, &mut c, "all"),
            "\"Alice Smith\" <5551234>"
        );
        assert_eq!(rd(&CallerIdFunc, &mut c, "num-valid"), "1");
        CallerIdFunc.write(&mut c, "num", "100").unwrap();
        CallerIdFunc.write(&mut c, "name", "Bob").unwrap();
        assert_eq!(rd(&CallerIdFunc, &mut c, "all"), "\"Bob\" <100>");
        assert_eq!(c.shared.snapshot.lock().caller.num.as_deref(), Some("100"));
        for (item, v) in [("ani", "200"), ("dnid", "300"), ("rdnis", "400")] {
            CallerIdFunc.write(&mut c, item, v).unwrap();
            assert_eq!(rd(&CallerIdFunc, &mut c, item), v);
        }
        CallerIdFunc.write(&mut c, "name", "").unwrap();
        assert_eq!(rd(&CallerIdFunc, &mut c, "name"), "");
        assert_eq!(rd(&CallerIdFunc, &mut c, "all"), "\"\" <100>");
        // Explicit CID argument.
        assert_eq!(rd(&CallerIdFunc, &mut c, "name,\"Carol\" <123>"), "Carol");
        assert_eq!(rd(&CallerIdFunc, &mut c, "num,<999>"), "999");
        assert_eq!(
            CallerIdFunc.read(&mut c, "bogus"),
            Err(FuncError::Usage(
                "Unknown callerid data type 'bogus'.".into()
            ))
        );
        assert!(CallerIdFunc.read(&mut c, "").is_err());
        assert!(CallerIdFunc.write(&mut c, "bogus", "1").is_err());
    }

    #[test]
    fn channel_items() {
        let mut c = chan();
        assert_eq!(rd(&ChannelFunc, &mut c, "name"), "Test/1");
        assert_eq!(
            rd(&ChannelFunc, &mut c, "uniqueid"),
            c.uniqueid().to_string()
        );
        assert_eq!(
            rd(&ChannelFunc, &mut c, "linkedid"),
            c.uniqueid().to_string()
        );
        assert_eq!(rd(&ChannelFunc, &mut c, "state"), "Down");
        c.answer();
        assert_eq!(rd(&ChannelFunc, &mut c, "state"), "Up");
        assert_eq!(rd(&ChannelFunc, &mut c, "channeltype"), "Null");
        assert_eq!(rd(&ChannelFunc, &mut c, "language"), "en");
        assert_eq!(rd(&ChannelFunc, &mut c, "context"), "default");
        assert_eq!(rd(&ChannelFunc, &mut c, "exten"), "s");
        assert_eq!(rd(&ChannelFunc, &mut c, "priority"), "1");
        assert_eq!(rd(&ChannelFunc, &mut c, "checkhangup"), "0");
        ChannelFunc.write(&mut c, "language", "fr").unwrap();
        assert_eq!(c.language, "fr");
        assert_eq!(rd(&ChannelFunc, &mut c, "language"), "fr");
        ChannelFunc.write(&mut c, "accountcode", "sales").unwrap();
        assert_eq!(c.accountcode, "sales");
        assert_eq!(c.cdr.accountcode, "sales");
        assert_eq!(rd(&ChannelFunc, &mut c, "accountcode"), "sales");
        ChannelFunc.write(&mut c, "musicclass", "jazz").unwrap();
        assert_eq!(rd(&ChannelFunc, &mut c, "musicclass"), "jazz");
        assert_eq!(musicclass(&c), "jazz");
        ChannelFunc.write(&mut c, "amaflags", "billing").unwrap();
        assert_eq!(rd(&ChannelFunc, &mut c, "amaflags"), "BILLING");
        ChannelFunc.write(&mut c, "amaflags", "1").unwrap();
        assert_eq!(c.cdr.amaflags, "OMIT");
        assert!(ChannelFunc.write(&mut c, "amaflags", "nonsense").is_err());
        assert_eq!(
            ChannelFunc.read(&mut c, "nonsense"),
            Err(FuncError::Usage(
                "Unknown or unavailable item requested: 'nonsense'".into()
            ))
        );
        assert!(ChannelFunc.write(&mut c, "name", "x").is_err());
        c.shared.request_hangup(16);
        assert_eq!(rd(&ChannelFunc, &mut c, "checkhangup"), "1");
    }

    #[test]
    fn global_read_write() {
        let mut c = chan();
        GlobalFunc.write(&mut c, "G1", "v").unwrap();
        assert_eq!(c.pbx.get_global("G1").as_deref(), Some("v"));
        assert_eq!(rd(&GlobalFunc, &mut c, "G1"), "v");
        // A channel variable of the same name does not shadow GLOBAL().
        c.set_var("G1", "chan");
        assert_eq!(rd(&GlobalFunc, &mut c, "G1"), "v");
        GlobalFunc.write(&mut c, "G1", "").unwrap();
        assert_eq!(c.pbx.get_global("G1"), None);
        assert_eq!(rd(&GlobalFunc, &mut c, "missing"), "");
        assert!(GlobalFunc.write(&mut c, "", "x").is_err());
    }

    #[test]
    fn local_saves_and_restores() {
        let mut c = chan();
        c.set_var("X", "outer");
        assert!(LocalFunc.write(&mut c, "X", "1").is_err());
        assert_eq!(c.get_var("X").as_deref(), Some("outer"));
        push_gosub(&mut c, "default", "s", 2, &["a1".to_string()], false);
        assert_eq!(rd(&LocalFunc, &mut c, "ARG1"), "a1");
        assert_eq!(rd(&LocalFunc, &mut c, "X"), "");
        LocalFunc.write(&mut c, "X", "inner").unwrap();
        LocalFunc.write(&mut c, "X", "inner2").unwrap();
        LocalFunc.write(&mut c, "Y", "new").unwrap();
        assert_eq!(c.get_var("X").as_deref(), Some("inner2"));
        assert_eq!(rd(&LocalFunc, &mut c, "X"), "inner2");
        // Nested frame: its own LOCAL of X, restored to the first frame's value.
        push_gosub(&mut c, "default", "s", 3, &[], false);
        LocalFunc.write(&mut c, "X", "deeper").unwrap();
        pop_gosub(&mut c);
        assert_eq!(c.get_var("X").as_deref(), Some("inner2"));
        pop_gosub(&mut c);
        assert_eq!(c.get_var("X").as_deref(), Some("outer"));
        assert_eq!(c.get_var("Y"), None);
        assert_eq!(c.get_var("ARG1"), None);
    }

    #[test]
    fn local_keeps_inheritance_on_restore() {
        let mut c = chan();
        c.vars.set("__INH", "keep");
        push_gosub(&mut c, "default", "s", 2, &[], false);
        LocalFunc.write(&mut c, "INH", "tmp").unwrap();
        pop_gosub(&mut c);
        assert_eq!(c.vars.get("INH"), Some("keep"));
        assert_eq!(c.vars.inherited().get("INH"), Some("keep"));
    }

    #[test]
    fn hash_functions() {
        let mut c = chan();
        HashFunc.write(&mut c, "h,k1", "v1").unwrap();
        HashFunc.write(&mut c, "h,k2", "v2").unwrap();
        HashFunc.write(&mut c, "other,k", "o").unwrap();
        assert_eq!(c.get_var("~HASH~h~k1~").as_deref(), Some("v1"));
        assert_eq!(rd(&HashFunc, &mut c, "h,k1"), "v1");
        assert_eq!(rd(&HashFunc, &mut c, "h,nokey"), "");
        // Newest first, as Asterisk's variable list.
        assert_eq!(rd(&HashKeysFunc, &mut c, "h"), "k2,k1");
        assert_eq!(rd(&HashFunc, &mut c, "h"), "v2,v1");
        assert_eq!(c.get_var("~ODBCFIELDS~").as_deref(), Some("k2,k1"));
        // Single-argument write uses the key list.
        HashFunc.write(&mut c, "copy", "a,b").unwrap();
        assert_eq!(rd(&HashFunc, &mut c, "copy,k2"), "a");
        assert_eq!(rd(&HashFunc, &mut c, "copy,k1"), "b");
        // Inheritance prefix on the hash name.
        HashFunc.write(&mut c, "_inh,k", "x").unwrap();
        assert_eq!(rd(&HashFunc, &mut c, "inh,k"), "x");
        assert_eq!(c.vars.inherited().get("~HASH~inh~k~"), Some("x"));
        // Empty value deletes the key.
        HashFunc.write(&mut c, "h,k1", "").unwrap();
        assert_eq!(rd(&HashKeysFunc, &mut c, "h"), "k2");
        assert_eq!(rd(&HashKeysFunc, &mut c, "none"), "");
        let mut fresh = chan();
        assert!(HashFunc.write(&mut fresh, "x", "1").is_err());
    }

    #[test]
    fn array_sets_pairwise() {
        let mut c = chan();
        c.set_var("C", "old");
        ArrayFunc.write(&mut c, "A,B,C", "1,2").unwrap();
        assert_eq!(c.get_var("A").as_deref(), Some("1"));
        assert_eq!(c.get_var("B").as_deref(), Some("2"));
        assert_eq!(c.get_var("C"), None);
        ArrayFunc.write(&mut c, "_D", "\"x,y\",z").unwrap();
        assert_eq!(c.get_var("D").as_deref(), Some("x,y"));
        assert_eq!(ArrayFunc.read(&mut c, "A"), Err(FuncError::WriteOnly));
        assert!(ArrayFunc.write(&mut c, "", "1").is_err());
    }

    #[test]
    fn timeouts() {
        let mut c = chan();
        assert_eq!(rd(&TimeoutFunc, &mut c, "absolute"), "0");
        assert_eq!(rd(&TimeoutFunc, &mut c, "digit"), "5.000");
        assert_eq!(rd(&TimeoutFunc, &mut c, "response"), "10.000");
        TimeoutFunc.write(&mut c, "absolute", "60").unwrap();
        let d = c.absolute_deadline.expect("deadline set");
        let left = d - Instant::now();
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60));
        let r: f64 = rd(&TimeoutFunc, &mut c, "absolute").parse().unwrap();
        assert!(r > 59.0 && r <= 60.0, "{r}");
        TimeoutFunc.write(&mut c, "absolute", "0").unwrap();
        assert_eq!(c.absolute_deadline, None);
        TimeoutFunc.write(&mut c, "absolute", "30").unwrap();
        TimeoutFunc.write(&mut c, "absolute", "-5").unwrap();
        assert_eq!(c.absolute_deadline, None);
        TimeoutFunc.write(&mut c, "digit", "1.5").unwrap();
        assert_eq!(digit_timeout_ms(&c), 1500);
        assert_eq!(rd(&TimeoutFunc, &mut c, "d"), "1.500");
        TimeoutFunc.write(&mut c, "RESPONSE", "3").unwrap();
        assert_eq!(response_timeout_ms(&c), 3000);
        TimeoutFunc.write(&mut c, "response", "junk").unwrap();
        assert_eq!(response_timeout_ms(&c), 0);
        assert!(TimeoutFunc.read(&mut c, "").is_err());
        assert!(TimeoutFunc.read(&mut c, "x").is_err());
        assert!(TimeoutFunc.write(&mut c, "", "1").is_err());
        assert!(TimeoutFunc.write(&mut c, "x", "1").is_err());
        for v in [
            "1e400",
            "99999999999999999999",
            ".5",
            "1.9999999",
            "1.5e300",
            "+3",
        ] {
            let _ = TimeoutFunc.write(&mut c, "digit", v);
        }
    }

    #[test]
    fn parse_timeout_like_sscanf() {
        assert_eq!(parse_timeout("10"), Duration::from_secs(10));
        assert_eq!(parse_timeout("1.25"), Duration::from_millis(1250));
        assert_eq!(parse_timeout(" 2 "), Duration::from_secs(2));
        assert_eq!(parse_timeout("-1"), Duration::ZERO);
        assert_eq!(parse_timeout(""), Duration::ZERO);
        assert_eq!(parse_timeout("abc"), Duration::ZERO);
    }

    #[test]
    fn cdr_read_fields() {
        let mut c = chan();
        c.cdr.src = "100".into();
        c.cdr.dst = "200".into();
        c.cdr.dcontext = "internal".into();
        c.cdr.clid = "\"A\" <100>".into();
        c.cdr.lastapp = "Dial".into();
        c.cdr.lastdata = "SIP/200".into();
        c.cdr.dstchannel = "SIP/200-1".into();
        for (f, v) in [
            ("src", "100"),
            ("dst", "200"),
            ("dcontext", "internal"),
            ("clid", "\"A\" <100>"),
            ("channel", "Test/1"),
            ("dstchannel", "SIP/200-1"),
            ("lastapp", "Dial"),
            ("lastdata", "SIP/200"),
            ("disposition", "NO ANSWER"),
            ("amaflags", "DOCUMENTATION"),
            ("sequence", "0"),
            ("answer", ""),
            ("end", ""),
            ("billsec", "0"),
            ("userfield", ""),
        ] {
            assert_eq!(rd(&CdrFunc, &mut c, f), v, "{f}");
        }
        let uid = c.uniqueid().to_string();
        assert_eq!(rd(&CdrFunc, &mut c, "uniqueid"), uid);
        assert_eq!(rd(&CdrFunc, &mut c, "linkedid"), uid);
        assert_eq!(rd(&CdrFunc, &mut c, "disposition,u"), "0");
        assert_eq!(rd(&CdrFunc, &mut c, "amaflags,u"), "3");
        assert_eq!(rd(&CdrFunc, &mut c, "answer,u"), "");
        assert_eq!(rd(&CdrFunc, &mut c, "billsec,f"), "0.000000");
        let start = rd(&CdrFunc, &mut c, "start");
        assert_eq!(start, format_cdr_date(&c.cdr.start));
        assert_eq!(start.len(), 19);
        let raw = rd(&CdrFunc, &mut c, "start,u");
        assert_eq!(
            raw,
            format!(
                "{}.{:06}",
                c.cdr.start.timestamp(),
                c.cdr.start.timestamp_subsec_micros()
            )
        );

        let t0 = chrono::Local::now() - chrono::Duration::seconds(30);
        c.cdr.start = t0;
        c.cdr.answer = Some(t0 + chrono::Duration::seconds(10));
        c.cdr.end = Some(t0 + chrono::Duration::milliseconds(30_500));
        assert_eq!(rd(&CdrFunc, &mut c, "duration"), "30");
        assert_eq!(rd(&CdrFunc, &mut c, "billsec"), "20");
        assert_eq!(rd(&CdrFunc, &mut c, "duration,f"), "30.500000");
        assert_eq!(rd(&CdrFunc, &mut c, "billsec,f"), "20.500000");
        assert_eq!(rd(&CdrFunc, &mut c, "disposition"), "ANSWERED");
        assert_eq!(rd(&CdrFunc, &mut c, "disposition,u"), "8");
        assert_eq!(
            rd(&CdrFunc, &mut c, "answer"),
            format_cdr_date(&(t0 + chrono::Duration::seconds(10)))
        );
        assert!(CdrFunc.read(&mut c, "").is_err());
    }

    #[test]
    fn cdr_write() {
        let mut c = chan();
        CdrFunc.write(&mut c, "userfield", "note").unwrap();
        assert_eq!(c.cdr.userfield, "note");
        assert_eq!(rd(&CdrFunc, &mut c, "userfield"), "note");
        CdrFunc.write(&mut c, "myvar", "42").unwrap();
        assert_eq!(rd(&CdrFunc, &mut c, "myvar"), "42");
        assert_eq!(c.cdr.vars.get("myvar").map(String::as_str), Some("42"));
        CdrFunc.write(&mut c, "myvar", "").unwrap();
        assert!(c.cdr.vars.is_empty());
        CdrFunc.write(&mut c, "accountcode", "acc").unwrap();
        assert_eq!(c.accountcode, "acc");
        assert_eq!(rd(&CdrFunc, &mut c, "accountcode"), "acc");
        CdrFunc.write(&mut c, "amaflags", "BILLING").unwrap();
        assert_eq!(rd(&CdrFunc, &mut c, "amaflags,u"), "2");
        for ro in ["src", "DST", "billsec", "disposition", "uniqueid", "start"] {
            assert_eq!(
                CdrFunc.write(&mut c, ro, "x"),
                Err(FuncError::Other(format!(
                    "Attempt to set the '{ro}' read-only variable!"
                ))),
            );
        }
        assert_eq!(c.cdr.src, "");
        assert!(CdrFunc.write(&mut c, "peeraccount", "x").is_err());
        assert!(CdrFunc.write(&mut c, "", "x").is_err());
    }

    #[test]
    fn cdr_accountcode_falls_back_to_channel() {
        let mut c = chan();
        c.accountcode = "fromchan".into();
        assert_eq!(rd(&CdrFunc, &mut c, "accountcode"), "fromchan");
    }

    #[test]
    fn cdr_prop() {
        let mut c = chan();
        CdrPropFunc.write(&mut c, "disable", "1").unwrap();
        assert!(c.cdr.disabled);
        CdrPropFunc.write(&mut c, "disable", "no").unwrap();
        assert!(!c.cdr.disabled);
        CdrPropFunc.write(&mut c, "party_a", "yes").unwrap();
        assert_eq!(c.get_var(VAR_CDR_PARTY_A).as_deref(), Some("1"));
        CdrPropFunc.write(&mut c, "party_a", "0").unwrap();
        assert_eq!(c.get_var(VAR_CDR_PARTY_A), None);
        assert!(CdrPropFunc.write(&mut c, "bogus", "1").is_err());
        assert_eq!(
            CdrPropFunc.read(&mut c, "disable"),
            Err(FuncError::WriteOnly)
        );
    }

    /// Through the PBX's registry and the interpreter's write path, as `Set()` and
    /// `${FUNC()}` reach them.
    #[test]
    fn through_the_registry() {
        use crate::pbx::exec::write_func;
        fn call(c: &mut Channel, name: &str, a: &str) -> String {
            let pbx = c.pbx.clone();
            let f = pbx.funcs.get(name).expect("registered");
            f.read(c, a).unwrap_or_default()
        }
        let mut c = chan();
        write_func(&mut c, "DB(cidname/5551234)", "Alice");
        assert_eq!(call(&mut c, "db_exists", "cidname/5551234"), "1");
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("Alice"));
        write_func(&mut c, "CALLERID(all)", "\"Bob\" <200>");
        assert_eq!(call(&mut c, "CALLERID", "name"), "Bob");
        assert_eq!(call(&mut c, "CALLERID", "num"), "200");
        write_func(&mut c, "HASH(h,a)", "1");
        assert_eq!(call(&mut c, "HASHKEYS", "h"), "a");
        write_func(&mut c, "ARRAY(x,y)", "1,2");
        assert_eq!(c.get_var("y").as_deref(), Some("2"));
        write_func(&mut c, "CDR(userfield)", "uf");
        assert_eq!(call(&mut c, "CDR", "userfield"), "uf");
        // Errors are warnings, never panics.
        write_func(&mut c, "CDR(src)", "x");
        write_func(&mut c, "LOCAL(x)", "x");
        assert_eq!(c.get_var("x").as_deref(), Some("1"));
    }

    #[test]
    fn no_panics_on_odd_input() {
        let mut c = chan();
        let pbx = crate::modules::test_pbx();
        let r = &pbx.funcs;
        let inputs = [
            "",
            ",",
            ",,",
            "(",
            ")",
            "\"",
            "\\",
            "/",
            "//",
            "a/",
            "/a",
            "~",
            "é,ü",
            "\u{0}",
            "a,b,c,d,e",
            "x\"y,z",
            "all,\"<",
            "999999999999999999999999",
        ];
        for f in r.list() {
            // FILE() would write those names into the file system.
            let writes = !f.name().eq_ignore_ascii_case("FILE");
            for a in inputs {
                for v in inputs {
                    let _ = f.read(&mut c, a);
                    if writes {
                        let _ = f.write(&mut c, a, v);
                    }
                }
            }
        }
        // A Gosub frame makes LOCAL take its other branch.
        push_gosub(&mut c, "default", "s", 1, &[], false);
        for a in inputs {
            let _ = LocalFunc.write(&mut c, a, "v");
            let _ = LocalFunc.read(&mut c, a);
        }
    }
}
