//! Asterisk-style `.conf` file loading, shared by every configuration file.
//!
//! One grammar (`grammar/conf.pest`) reads `[section]` headers, templates `[name](!)`,
//! inheritance `[name](a,b)`, `[name](+)` extensions, `key = value` / `key => value`
//! entries, comments, `#include`/`#tryinclude`/`#exec`. The loader resolves includes and
//! template inheritance and hands back a flat [`ConfigFile`]. Every error names
//! `file:line:column`. This module never interprets what a key means: that is the job of
//! the subsystem that owns the file.

mod loader;
pub mod modules;
pub mod settings;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use loader::{load, load_str};

/// `p` without `.` segments and with `dir/..` folded, by name only (no file system
/// access): `etc/./extensions.conf` → `etc/extensions.conf`. A leading `..` of a relative
/// path stays; `/..` is `/`. Paths in messages are printed cleaned.
pub fn clean_path(p: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().map(|c| c.as_os_str()).collect()
}

/// Where something came from: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Location {
    pub fn new(file: impl Into<Arc<str>>, line: u32, col: u32) -> Self {
        Location {
            file: file.into(),
            line,
            col,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A configuration error for admins: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub loc: Option<Location>,
    pub msg: String,
}

impl ConfigError {
    pub fn at(loc: &Location, msg: impl Into<String>) -> Self {
        ConfigError {
            loc: Some(loc.clone()),
            msg: msg.into(),
        }
    }
    pub fn new(msg: impl Into<String>) -> Self {
        ConfigError {
            loc: None,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loc {
            Some(l) => write!(f, "{}: {}", l, self.msg),
            None => write!(f, "{}", self.msg),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `key = value` or `key => value` (the "object" form; Asterisk treats both alike
/// for most files, but the distinction is kept for files that care).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Assign,
    Arrow,
}

/// One `key = value` line. `value` has comments removed, `\;` unescaped and
/// surrounding whitespace trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub op: Op,
    pub loc: Location,
}

/// A `[section]` after template inheritance and `(+)` merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub loc: Location,
    /// `[name](!)`: a template, not a real section. Consumers usually skip these.
    pub is_template: bool,
    /// Templates this section inherited from, in order (their entries come first in `entries`).
    pub templates: Vec<String>,
    pub entries: Vec<Entry>,
}

impl Section {
    /// Last value for `key` (case-insensitive), as Asterisk's variable retrieval does.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
            .map(|e| e.value.as_str())
    }
    /// Every value of `key` in order (for repeated keys such as `allow`, `register`).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.key.eq_ignore_ascii_case(key))
    }
}

/// A fully loaded configuration file (includes expanded, templates applied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub sections: Vec<Section>,
}

impl ConfigFile {
    /// First non-template section with this name (case-insensitive).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| !s.is_template && s.name.eq_ignore_ascii_case(name))
    }
}

/// Options that change how files are read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `execincludes = yes` in `[options]` of ferrisk.conf: allow `#exec`.
    pub exec_includes: bool,
}

/// Errors as one text, one per line (what a module that refuses its config reports).
pub fn join_errors(errs: &[ConfigError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asterisk's truth values: yes, true, y, t, 1, on.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "y" | "t" | "1" | "on"
    )
}

/// Asterisk's false values: no, false, n, f, 0, off.
pub fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "n" | "f" | "0" | "off"
    )
}
