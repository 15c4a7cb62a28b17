//! Dialplan functions (`${FUNC(args)}` and `Set(FUNC(args)=value)`). Each function is one
//! [`Func`] implementation registered in [`FuncRegistry::with_builtins`]; adding one never
//! touches the interpreter.

pub mod channel;
pub mod db;
pub mod encoding;
pub mod logic;
pub mod math;
pub mod message;
pub mod strings;
pub mod time;
pub mod voicemail;

use crate::pbx::Channel;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a function call failed; the interpreter logs it as Asterisk's WARNING and the
/// substitution yields an empty string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuncError {
    /// Wrong arguments: message for the admin.
    Usage(String),
    /// Write to a read-only function.
    ReadOnly,
    /// Read of a write-only function.
    WriteOnly,
    Other(String),
}

impl std::fmt::Display for FuncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FuncError::Usage(m) | FuncError::Other(m) => write!(f, "{m}"),
            FuncError::ReadOnly => write!(f, "function is read-only"),
            FuncError::WriteOnly => write!(f, "function is write-only"),
        }
    }
}

pub trait Func: Send + Sync + 'static {
    /// Registered name, e.g. `CUT`.
    fn name(&self) -> &'static str;
    fn synopsis(&self) -> &'static str;
    /// e.g. `CUT(varname,char-delim,range-spec)`.
    fn syntax(&self) -> &'static str {
        ""
    }
    fn description(&self) -> &'static str {
        ""
    }
    /// `${NAME(args)}` with `args` already substituted.
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError>;
    /// `Set(NAME(args)=value)`.
    fn write(&self, _chan: &mut Channel, _args: &str, _value: &str) -> Result<(), FuncError> {
        Err(FuncError::ReadOnly)
    }
    /// Whether `write` is implemented (for `core show function`).
    fn writable(&self) -> bool {
        false
    }
}

/// Case-insensitive registry of functions.
#[derive(Default)]
pub struct FuncRegistry {
    map: BTreeMap<String, Arc<dyn Func>>,
}

impl FuncRegistry {
    pub fn new() -> FuncRegistry {
        FuncRegistry::default()
    }
    pub fn with_builtins() -> FuncRegistry {
        let mut r = FuncRegistry::new();
        register_builtins(&mut r);
        r
    }
    pub fn register(&mut self, f: Arc<dyn Func>) {
        self.map.insert(f.name().to_ascii_uppercase(), f);
    }
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Func>> {
        if name.bytes().any(|b| b.is_ascii_lowercase()) {
            self.map.get(&name.to_ascii_uppercase())
        } else {
            self.map.get(name)
        }
    }
    pub fn list(&self) -> Vec<&Arc<dyn Func>> {
        self.map.values().collect()
    }
}

fn register_builtins(r: &mut FuncRegistry) {
    strings::register(r);
    logic::register(r);
    math::register(r);
    time::register(r);
    encoding::register(r);
    channel::register(r);
    db::register(r);
    message::register(r);
    voicemail::register(r);
}

/// Split `NAME(args)` into name and args (the text between the first `(` and the last `)`).
pub fn split_call(s: &str) -> Option<(&str, &str)> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    if close < open {
        return None;
    }
    Some((s[..open].trim(), &s[open + 1..close]))
}
