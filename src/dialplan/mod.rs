//! The dialplan: what `extensions.conf` says, as data, plus the pure logic that reads it.
//!
//! - `parser`: builds a [`Dialplan`] from a loaded [`crate::config::ConfigFile`]
//!   (`exten =>`, `same =>`, priorities, labels, includes, ignorepat, switch, hints).
//! - `pattern`: extension patterns (`_X.`, `[1-5]`, `!`) and Asterisk's match precedence.
//! - `timing`: time conditions (`09:00-17:00,mon-fri,*,*`) for includes, GotoIfTime, IFTIME.
//! - `subst`: `${VAR}`, `${VAR:off:len}`, `${FUNC(args)}` and `$[ ]` substitution.
//! - `expr`: the `$[ ]` expression language.
//!
//! Nothing here touches a channel, a socket or a clock of its own: time is passed in.

pub mod expr;
mod lookup;
pub mod parser;
pub mod pattern;
pub mod subst;
pub mod timing;

use crate::config::Location;
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::collections::HashMap;

pub use parser::{parse_dialplan, LoadReport};
pub use pattern::Pattern;
pub use timing::TimeSpec;

/// `[general]` of extensions.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralOptions {
    pub static_: bool,
    pub writeprotect: bool,
    /// Default yes since Asterisk 1.4.
    pub autofallthrough: bool,
    pub clearglobalvars: bool,
    pub extenpatternmatchnew: bool,
    pub userscontext: Option<String>,
}

impl Default for GeneralOptions {
    fn default() -> Self {
        GeneralOptions {
            static_: false,
            writeprotect: false,
            autofallthrough: true,
            clearglobalvars: false,
            extenpatternmatchnew: false,
            userscontext: None,
        }
    }
}

/// A whole dialplan. Immutable once built; reload swaps in a new one atomically.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    pub general: GeneralOptions,
    /// `[globals]` in file order (values unsubstituted, as Asterisk stores them).
    pub globals: Vec<(String, String)>,
    /// Contexts by name (case-sensitive, as in Asterisk), in file order.
    pub contexts: IndexMap<String, Context>,
    /// Cached answer of [`Dialplan::has_timed_includes`].
    timed_includes: std::sync::OnceLock<bool>,
}

impl Dialplan {
    /// Does any include carry a time condition? (If not, lookups need no clock.)
    pub fn has_timed_includes(&self) -> bool {
        *self.timed_includes.get_or_init(|| {
            self.contexts
                .values()
                .any(|c| c.includes.iter().any(|i| i.timing.is_some()))
        })
    }
}

#[derive(Debug, Clone)]
pub struct Context {
    pub name: String,
    pub loc: Location,
    /// Extensions sorted by Asterisk's match precedence (best first).
    pub extensions: Vec<Extension>,
    pub includes: Vec<Include>,
    pub ignorepats: Vec<String>,
    pub switches: Vec<Switch>,
    /// Registrar that created it ("pbx_config" for the file).
    pub registrar: String,
    /// Literal (non-pattern) extension name with `-` removed → indices into `extensions`
    /// (several when caller-ID variants exist), in precedence order. Filled by the parser
    /// (or [`Context::rebuild_index`]); lookups fall back to a scan when it is empty.
    pub literal_index: HashMap<String, Vec<usize>>,
}

#[derive(Debug, Clone)]
pub struct Include {
    pub context: String,
    /// Time condition, when the include was written as `ctx,times,weekdays,mdays,months[,tz]`.
    pub timing: Option<TimeSpec>,
    /// The text after `include =>` as written, for `dialplan show`.
    pub raw: String,
    pub loc: Location,
}

#[derive(Debug, Clone)]
pub struct Switch {
    pub module: String,
    pub data: String,
    pub loc: Location,
    /// `eswitch =>`: `data` is substituted at lookup time, not at load.
    pub eval: bool,
}

#[derive(Debug, Clone)]
pub struct Extension {
    /// As written, e.g. `_X.` or `100`.
    pub name: String,
    pub pattern: Pattern,
    /// `exten => 100/5551234,...`: caller-ID match (also a pattern when it starts with `_`).
    pub cidmatch: Option<Pattern>,
    pub priorities: BTreeMap<i32, Priority>,
    /// `n(label)` / `1(label)` labels to priority numbers.
    pub labels: HashMap<String, i32>,
    pub loc: Location,
}

/// Priority number used for hints (Asterisk uses -1 = PRIORITY_HINT).
pub const PRIORITY_HINT: i32 = -1;

#[derive(Debug, Clone)]
pub struct Priority {
    pub priority: i32,
    pub label: Option<String>,
    /// Application name as written (case preserved).
    pub app: String,
    /// The name lower-cased once at load: the key the interpreter looks the application
    /// up by on every step.
    pub app_key: String,
    /// Argument string, unsubstituted.
    pub data: String,
    pub loc: Location,
}
