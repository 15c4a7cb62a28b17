//! The dialplan function interface (`${FUNC(args)}`, `Set(FUNC(args)=value)`). Functions
//! live in modules (`funcs/`, `voicemail/`, …) and reach the interpreter through
//! [`FuncRegistry`], filled at module load.

use super::module::Registry;
use super::Channel;
use async_trait::async_trait;

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

#[async_trait]
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
    /// Whether reading waits on the outside world (a database, a directory, a calendar, a
    /// chat). The interpreter then awaits [`Func::read_async`] / [`Func::write_async`]
    /// instead of calling [`Func::read`] / [`Func::write`], so no worker thread blocks.
    /// Where a caller cannot wait (mail templates), the synchronous methods are used: a
    /// function that cannot answer synchronously returns an error there.
    fn is_async(&self) -> bool {
        false
    }
    /// `${NAME(args)}` for functions that wait; the default is the synchronous `read`.
    async fn read_async(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        self.read(chan, args)
    }
    /// `Set(NAME(args)=value)` for functions that wait; the default is the synchronous
    /// `write`.
    async fn write_async(
        &self,
        chan: &mut Channel,
        args: &str,
        value: &str,
    ) -> Result<(), FuncError> {
        self.write(chan, args, value)
    }
}

/// Case-insensitive registry of the loaded functions.
pub type FuncRegistry = Registry<dyn Func>;

/// Split `NAME(args)` into name and args (the text between the first `(` and the last `)`).
pub fn split_call(s: &str) -> Option<(&str, &str)> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    if close < open {
        return None;
    }
    Some((s[..open].trim(), &s[open + 1..close]))
}
