//! Asterisk's realtime API (`ast_load_realtime` and family): the engines that answer it, the
//! family mappings of `extconfig.conf`, and the failover between them.
//!
//! A *family* (`sippeers`, `voicemail`, …) is mapped in `extconfig.conf` to one or more
//! `engine,database,table` triples with priorities. [`Realtime`] asks the engine of priority 1,
//! then 2, … until one answers, exactly where Asterisk does (see each method). Engines
//! (`res_config_sqlite3`, later LDAP, PostgreSQL) implement [`RealtimeEngine`] and are
//! registered by name; the core never names one.
//!
//! This module never opens a database and never prints to a console: engines do the I/O, and
//! warnings go to a sink the daemon sets ([`Realtime::set_warning_sink`], or
//! [`log_to_console`]).
//!
//! Start-up: [`log_to_console`], register each engine (`res::config_sqlite3::load_engine`),
//! then [`load_extconfig`]; on reload, [`load_extconfig`] again.

use crate::config::{ConfigError, ConfigFile, LoadOptions, Location};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// One row: `(column, value)` pairs in the engine's column order.
pub type Fields = Vec<(String, String)>;

/// Why a realtime request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealtimeError {
    /// `extconfig.conf` maps nothing (usable) for this family.
    #[error("no realtime mapping for family '{0}'")]
    NoMapping(String),
    /// Every mapping of the family names an engine that is not registered.
    #[error("no realtime engine available for family '{0}'")]
    NoEngine(String),
    /// The engine does not know this database (Asterisk's wording).
    #[error("Could not find database: {0}")]
    UnknownDatabase(String),
    /// A field name carries an operator that is not supported (`"name ; DROP"`).
    #[error("unsupported operator '{op}' in realtime field '{field}'")]
    BadOperator { field: String, op: String },
    /// The request itself is malformed (no fields, an empty column name).
    #[error("{0}")]
    Invalid(String),
    /// The database refused the statement.
    #[error("{0}")]
    Backend(String),
}

/// The comparison a filter field asks for: `"name"` is `=`, `"name LIKE"` is `LIKE`, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    NotLike,
}

impl CompareOp {
    /// The SQL spelling.
    pub fn as_sql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Gt => ">",
            CompareOp::Le => "<=",
            CompareOp::Ge => ">=",
            CompareOp::Like => "LIKE",
            CompareOp::NotLike => "NOT LIKE",
        }
    }
}

/// Split a filter field name into the column and its operator, as Asterisk's engines read it:
/// the column ends at the first space and the rest is the operator (`"regseconds <"`).
/// Only the operators of [`CompareOp`] are accepted, so nothing else reaches a query.
pub fn parse_field(field: &str) -> Result<(&str, CompareOp), RealtimeError> {
    let field = field.trim();
    let (column, op) = match field.split_once(char::is_whitespace) {
        Some((c, o)) => (c, o.trim()),
        None => (field, ""),
    };
    if column.is_empty() {
        return Err(RealtimeError::Invalid("empty realtime column name".into()));
    }
    let norm: Vec<String> = op.split_whitespace().map(str::to_ascii_uppercase).collect();
    let op = match norm.join(" ").as_str() {
        "" | "=" | "==" => CompareOp::Eq,
        "!=" | "<>" => CompareOp::Ne,
        "<" => CompareOp::Lt,
        ">" => CompareOp::Gt,
        "<=" => CompareOp::Le,
        ">=" => CompareOp::Ge,
        "LIKE" => CompareOp::Like,
        "NOT LIKE" => CompareOp::NotLike,
        _ => {
            return Err(RealtimeError::BadOperator {
                field: field.to_string(),
                op: op.to_string(),
            })
        }
    };
    Ok((column, op))
}

/// A realtime engine (Asterisk's `struct ast_config_engine`): one per backend, answering for
/// every database and table the mappings send it. `database` is the mapping's database field
/// (for `sqlite3`, a section of `res_config_sqlite3.conf`). Filter field names may carry an
/// operator (see [`parse_field`]). Counts are rows affected.
#[async_trait]
pub trait RealtimeEngine: Send + Sync {
    /// The name mappings use (`sqlite3`, `ldap`, `pgsql`).
    fn name(&self) -> &'static str;
    /// The first row matching every filter field (Asterisk's `realtime_func`).
    async fn load(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Option<Fields>, RealtimeError>;
    /// Every matching row (`realtime_multi_func`).
    async fn load_multi(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Vec<Fields>, RealtimeError>;
    /// Set `set` on the rows where `keyfield` matches `lookup` (`update_func`).
    async fn update(
        &self,
        database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError>;
    /// Set `set` on the rows matching every `lookup` field (`update2_func`).
    async fn update2(
        &self,
        database: &str,
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError>;
    /// Insert one row (`store_func`).
    async fn store(
        &self,
        database: &str,
        table: &str,
        fields: &[(String, String)],
    ) -> Result<usize, RealtimeError>;
    /// Delete the rows where `keyfield` matches `lookup` and every `filter` field matches
    /// (`destroy_func`).
    async fn destroy(
        &self,
        database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        filter: &[(String, String)],
    ) -> Result<usize, RealtimeError>;
}

// ------------------------------------------------------------------ extconfig.conf --

/// One `family => engine,database[,table[,priority]]` line of `[settings]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The family (`sippeers`) or, for a static mapping, the file (`queues.conf`).
    pub name: String,
    pub engine: String,
    pub database: String,
    /// The table; the family name when the line gives none.
    pub table: String,
    /// 1 unless the line gives one, as in Asterisk.
    pub priority: u32,
    pub loc: Location,
}

/// What `extconfig.conf` says. Static mappings (`queues.conf => odbc,asterisk,ast_config`) are
/// parsed and listed but not used yet: every `.conf` file is read from disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtConfig {
    /// Family mappings, in file order.
    pub families: Vec<Mapping>,
    /// Static file mappings, in file order (not used yet).
    pub static_files: Vec<Mapping>,
    /// Things Asterisk would accept with a warning (obsolete family names, unused priorities).
    pub warnings: Vec<ConfigError>,
}

/// Files that Asterisk refuses to take from a realtime engine.
const UNBINDABLE: &[&str] = &[
    "extconfig.conf",
    "asterisk.conf",
    "ferrisk.conf",
    "logger.conf",
];

impl ExtConfig {
    /// Read `extconfig.conf` from the config directory. A missing file means no mappings.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<ExtConfig, Vec<ConfigError>> {
        let path = dir.join("extconfig.conf");
        if !path.exists() {
            return Ok(ExtConfig::default());
        }
        let cf = crate::config::load(dir, "extconfig.conf", opts).map_err(|e| vec![e])?;
        let mut lines = SourceLines::default();
        ExtConfig::from_config(&cf, &mut |file, line| lines.get(file, line))
    }

    /// Parse text as `extconfig.conf` (`name` is used in errors).
    pub fn from_str(name: &str, text: &str) -> Result<ExtConfig, Vec<ConfigError>> {
        let cf = crate::config::load_str(Path::new("."), name, text, &LoadOptions::default())
            .map_err(|e| vec![e])?;
        let src: Vec<&str> = text.lines().collect();
        ExtConfig::from_config(&cf, &mut |file, line| {
            (file == name)
                .then(|| {
                    src.get(line.wrapping_sub(1) as usize)
                        .map(|s| s.to_string())
                })
                .flatten()
        })
    }

    /// Interpret a loaded file. `source_line(file, line)` gives the raw text of a line when it
    /// is known, so that errors inside a value point at the right column.
    fn from_config(
        cf: &ConfigFile,
        source_line: &mut dyn FnMut(&str, u32) -> Option<String>,
    ) -> Result<ExtConfig, Vec<ConfigError>> {
        let mut out = ExtConfig::default();
        let mut errors = Vec::new();
        for section in cf.sections.iter().filter(|s| !s.is_template) {
            if !section.name.eq_ignore_ascii_case("settings") {
                continue;
            }
            for e in &section.entries {
                let vcol = value_column(e, source_line(&e.loc.file, e.loc.line).as_deref());
                let at = |off: usize| {
                    let mut l = e.loc.clone();
                    l.col = vcol + u32::try_from(off).unwrap_or(0);
                    l
                };
                let name = e.key.trim();
                if UNBINDABLE.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                    errors.push(ConfigError::at(
                        &e.loc,
                        format!("Cannot bind '{name}': it is always read from its file"),
                    ));
                    continue;
                }
                let parsed = match parse_mapping_value(&e.value) {
                    Ok(p) => p,
                    Err((off, msg)) => {
                        errors.push(ConfigError::at(&at(off), msg));
                        continue;
                    }
                };
                let mk = |name: &str, table: Option<&str>| Mapping {
                    name: name.to_string(),
                    engine: parsed.engine.clone(),
                    database: parsed.database.clone(),
                    table: parsed
                        .table
                        .clone()
                        .or(table.map(str::to_string))
                        .unwrap_or_else(|| name.to_string()),
                    priority: parsed.priority,
                    loc: e.loc.clone(),
                };
                if name.to_ascii_lowercase().ends_with(".conf") {
                    out.static_files.push(mk(name, None));
                } else if name.eq_ignore_ascii_case("sipfriends") {
                    out.warnings.push(ConfigError::at(
                        &e.loc,
                        "The 'sipfriends' table is obsolete, update your config to use sippeers instead.",
                    ));
                    out.families.push(mk("sippeers", Some("sipfriends")));
                } else if name.eq_ignore_ascii_case("iaxfriends") {
                    out.warnings.push(ConfigError::at(
                        &e.loc,
                        "The 'iaxfriends' table is obsolete, update your config to use iaxusers and iaxpeers, though they can point to the same table.",
                    ));
                    out.families.push(mk("iaxusers", Some("iaxfriends")));
                    out.families.push(mk("iaxpeers", Some("iaxfriends")));
                } else {
                    out.families.push(mk(name, None));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        out.check_priorities();
        Ok(out)
    }

    /// Warn about lines Asterisk never uses: a priority repeated (the last line wins) or one
    /// after a gap (priorities must start at 1 and be sequential).
    fn check_priorities(&mut self) {
        let chains: Vec<(String, Vec<Mapping>)> = {
            let mut names: Vec<String> = Vec::new();
            for m in &self.families {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(&m.name)) {
                    names.push(m.name.clone());
                }
            }
            names
                .into_iter()
                .map(|n| {
                    let c = self.chain(&n).into_iter().cloned().collect();
                    (n, c)
                })
                .collect()
        };
        for (family, used) in chains {
            for m in self
                .families
                .iter()
                .filter(|m| m.name.eq_ignore_ascii_case(&family))
            {
                if used.contains(m) {
                    continue;
                }
                let why = if used.iter().any(|u| u.priority == m.priority) {
                    format!(
                        "priority {} of family '{}' is given again later; only the last line is used",
                        m.priority, m.name
                    )
                } else {
                    format!(
                        "priority {} of family '{}' is never used: priorities must start at 1 and be sequential",
                        m.priority, m.name
                    )
                };
                self.warnings.push(ConfigError::at(&m.loc, why));
            }
        }
    }

    /// The mappings Asterisk tries for `family`, in order: priority 1, 2, … up to the first
    /// missing number; of two lines with the same priority the later one counts.
    pub fn chain(&self, family: &str) -> Vec<&Mapping> {
        let mut out = Vec::new();
        for p in 1.. {
            match self
                .families
                .iter()
                .rev()
                .find(|m| m.priority == p && m.name.eq_ignore_ascii_case(family))
            {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }

    /// Asterisk's verbose lines for the mappings (`Binding sippeers to sqlite3/asterisk/sippeers`),
    /// for the loader to print at verbose level 2.
    pub fn binding_lines(&self) -> Vec<String> {
        self.static_files
            .iter()
            .chain(&self.families)
            .map(|m| {
                format!(
                    "Binding {} to {}/{}/{}",
                    m.name, m.engine, m.database, m.table
                )
            })
            .collect()
    }
}

/// The column (1-based) where an entry's value starts, found in the raw line when known.
fn value_column(e: &crate::config::Entry, line: Option<&str>) -> u32 {
    let fallback = e.loc.col;
    let Some(line) = line else { return fallback };
    let chars: Vec<char> = line.chars().collect();
    let start = (e.loc.col as usize).saturating_sub(1);
    let Some(eq) = (start..chars.len()).find(|&i| chars[i] == '=') else {
        return fallback;
    };
    let mut i = eq + 1;
    if chars.get(i) == Some(&'>') {
        i += 1;
    }
    while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
        i += 1;
    }
    u32::try_from(i + 1).unwrap_or(fallback)
}

/// Raw lines of the files an `extconfig.conf` was read from, loaded on demand.
#[derive(Default)]
struct SourceLines {
    files: std::collections::HashMap<String, Option<Vec<String>>>,
}

impl SourceLines {
    fn get(&mut self, file: &str, line: u32) -> Option<String> {
        let lines = self.files.entry(file.to_string()).or_insert_with(|| {
            std::fs::read_to_string(file)
                .ok()
                .map(|t| t.lines().map(str::to_string).collect())
        });
        lines
            .as_ref()?
            .get((line as usize).checked_sub(1)?)
            .cloned()
    }
}

struct ParsedValue {
    engine: String,
    database: String,
    table: Option<String>,
    priority: u32,
}

/// `engine,database[,table[,priority]]`; the database may be `"quoted, with commas"`.
/// Errors give the character offset in the value.
fn parse_mapping_value(v: &str) -> Result<ParsedValue, (usize, String)> {
    let chars: Vec<char> = v.chars().collect();
    let mut pos = 0;
    // One comma-separated piece starting at `pos`: (text, offset of its first character).
    let piece = |pos: &mut usize| -> (String, usize) {
        let start = *pos;
        while *pos < chars.len() && chars[*pos] != ',' {
            *pos += 1;
        }
        let s: String = chars[start..*pos].iter().collect();
        if *pos < chars.len() {
            *pos += 1;
        }
        let lead = s.chars().take_while(|c| c.is_whitespace()).count();
        (s.trim().to_string(), start + lead)
    };
    let (engine, _) = piece(&mut pos);
    if engine.is_empty() {
        return Err((
            0,
            "expected `engine,database[,table[,priority]]` (an engine name such as sqlite3 first)"
                .into(),
        ));
    }
    if pos >= chars.len() && !v.contains(',') {
        return Err((
            chars.len(),
            format!("expected `,database` after the engine `{engine}`"),
        ));
    }
    while chars.get(pos).is_some_and(|c| c.is_whitespace()) {
        pos += 1;
    }
    let db_at = pos;
    let database = if chars.get(pos) == Some(&'"') {
        let open = pos;
        pos += 1;
        let start = pos;
        while pos < chars.len() && chars[pos] != '"' {
            pos += 1;
        }
        if pos >= chars.len() {
            return Err((
                open,
                "expected a closing `\"` for the quoted database".into(),
            ));
        }
        let db: String = chars[start..pos].iter().collect();
        pos += 1;
        while chars.get(pos).is_some_and(|c| c.is_whitespace()) {
            pos += 1;
        }
        match chars.get(pos) {
            None => {}
            Some(',') => pos += 1,
            Some(_) => {
                return Err((
                    pos,
                    "expected `,` or the end of the line after the quoted database".into(),
                ))
            }
        }
        db
    } else {
        piece(&mut pos).0
    };
    if database.is_empty() {
        return Err((db_at, "expected a database name after the engine".into()));
    }
    let at_end = pos >= chars.len();
    let table = if at_end {
        None
    } else {
        Some(piece(&mut pos).0).filter(|t| !t.is_empty())
    };
    let mut priority = 1;
    if pos < chars.len() {
        let (p, at) = piece(&mut pos);
        if !p.is_empty() {
            priority = match p.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err((
                        at,
                        format!("expected a priority (a whole number from 1), found `{p}`"),
                    ))
                }
            };
        }
    }
    if pos < chars.len() {
        return Err((
            pos,
            "expected nothing after the priority (`engine,database,table,priority`)".into(),
        ));
    }
    Ok(ParsedValue {
        engine,
        database,
        table,
        priority,
    })
}

// ------------------------------------------------------------------------ Realtime --

/// Where warnings go (the daemon points it at the console log).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The realtime registry the PBX holds: engines by name and the current `extconfig.conf`.
pub struct Realtime {
    engines: RwLock<Vec<Arc<dyn RealtimeEngine>>>,
    config: ArcSwap<ExtConfig>,
    /// (family, engine) pairs already warned about as unavailable.
    warned: Mutex<HashSet<(String, String)>>,
    sink: RwLock<WarningSink>,
}

impl Default for Realtime {
    fn default() -> Self {
        Realtime::new()
    }
}

/// An engine to ask and the mapping that sends the request to it.
type Candidate = (Arc<dyn RealtimeEngine>, Mapping);

/// The outcome of one engine call while failing over.
type Attempt<T> = Result<T, RealtimeError>;

impl Realtime {
    /// No engines, no mappings; warnings go to `tracing` until a sink is set.
    pub fn new() -> Realtime {
        Realtime {
            engines: RwLock::new(Vec::new()),
            config: ArcSwap::from_pointee(ExtConfig::default()),
            warned: Mutex::new(HashSet::new()),
            sink: RwLock::new(Arc::new(|m: &str| tracing::warn!("{m}"))),
        }
    }

    /// Send warnings (unavailable engines, failed queries) to `sink`.
    pub fn set_warning_sink(&self, sink: WarningSink) {
        *self.sink.write() = sink;
    }

    fn warn(&self, msg: &str) {
        let sink = self.sink.read().clone();
        sink(msg);
    }

    /// Add an engine, replacing one of the same name (case-insensitive).
    pub fn register_engine(&self, engine: Arc<dyn RealtimeEngine>) {
        let mut v = self.engines.write();
        v.retain(|e| !e.name().eq_ignore_ascii_case(engine.name()));
        v.push(engine);
        self.warned.lock().clear();
    }

    /// Remove an engine; false when none had that name.
    pub fn unregister_engine(&self, name: &str) -> bool {
        let mut v = self.engines.write();
        let before = v.len();
        v.retain(|e| !e.name().eq_ignore_ascii_case(name));
        before != v.len()
    }

    /// Registered engine names, in registration order.
    pub fn engine_names(&self) -> Vec<&'static str> {
        self.engines.read().iter().map(|e| e.name()).collect()
    }

    fn engine(&self, name: &str) -> Option<Arc<dyn RealtimeEngine>> {
        self.engines
            .read()
            .iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
            .cloned()
    }

    /// Swap in a new `extconfig.conf` whole (start-up and reload).
    pub fn set_config(&self, config: ExtConfig) {
        self.config.store(Arc::new(config));
        self.warned.lock().clear();
    }

    /// The mappings in force.
    pub fn config(&self) -> Arc<ExtConfig> {
        self.config.load_full()
    }

    /// Asterisk's `ast_check_realtime`: a mapping of `family` exists and its engine is
    /// registered.
    pub fn is_enabled(&self, family: &str) -> bool {
        let cfg = self.config();
        cfg.chain(family)
            .iter()
            .any(|m| self.engine(&m.engine).is_some())
    }

    /// The (engine, mapping) pairs to try for `family`, warning once about engines missing.
    fn candidates(&self, family: &str) -> Result<Vec<Candidate>, RealtimeError> {
        let cfg = self.config();
        let chain = cfg.chain(family);
        if chain.is_empty() {
            return Err(RealtimeError::NoMapping(family.to_string()));
        }
        let mut out = Vec::new();
        for m in chain {
            match self.engine(&m.engine) {
                Some(e) => out.push((e, m.clone())),
                None => {
                    let key = (m.name.to_ascii_lowercase(), m.engine.to_ascii_lowercase());
                    if self.warned.lock().insert(key) {
                        self.warn(&format!(
                            "Realtime mapping for '{}' found to engine '{}', but the engine is not available",
                            m.name, m.engine
                        ));
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(RealtimeError::NoEngine(family.to_string()));
        }
        Ok(out)
    }

    /// Note an engine failure on the warning sink and keep it as the latest error.
    fn failed(&self, e: RealtimeError) -> RealtimeError {
        self.warn(&e.to_string());
        e
    }

    fn need(fields: &[(String, String)], what: &str) -> Result<(), RealtimeError> {
        if fields.is_empty() {
            return Err(RealtimeError::Invalid(format!(
                "realtime {what} needs at least one field"
            )));
        }
        Ok(())
    }

    /// Asterisk's `ast_load_realtime_all`: the first matching row with every column. The next
    /// priority is tried when an engine fails or finds no row. `Ok(None)`: no row anywhere.
    pub async fn load_all(
        &self,
        family: &str,
        filter: &[(String, String)],
    ) -> Result<Option<Fields>, RealtimeError> {
        Self::need(filter, "load")?;
        let mut last: Attempt<Option<Fields>> = Ok(None);
        let mut any_answer = false;
        for (engine, m) in self.candidates(family)? {
            match engine.load(&m.database, &m.table, filter).await {
                Ok(Some(row)) => return Ok(Some(row)),
                Ok(None) => any_answer = true,
                Err(e) => last = Err(self.failed(e)),
            }
        }
        if any_answer {
            Ok(None)
        } else {
            last
        }
    }

    /// Asterisk's `ast_load_realtime`: as [`Realtime::load_all`], then columns with an empty
    /// value are dropped and a value of a single space becomes empty (Asterisk's convention
    /// for "set but blank").
    pub async fn load(
        &self,
        family: &str,
        filter: &[(String, String)],
    ) -> Result<Option<Fields>, RealtimeError> {
        Ok(self.load_all(family, filter).await?.map(|row| {
            row.into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| if v == " " { (k, String::new()) } else { (k, v) })
                .collect()
        }))
    }

    /// Asterisk's `ast_load_realtime_multientry`: every matching row from the first engine
    /// that answers. As in Asterisk, an engine that answers with no rows ends the search; only
    /// a failing engine passes the request to the next priority.
    pub async fn load_multi(
        &self,
        family: &str,
        filter: &[(String, String)],
    ) -> Result<Vec<Fields>, RealtimeError> {
        Self::need(filter, "load")?;
        let mut last = Err(RealtimeError::NoEngine(family.to_string()));
        for (engine, m) in self.candidates(family)? {
            match engine.load_multi(&m.database, &m.table, filter).await {
                Ok(rows) => return Ok(rows),
                Err(e) => last = Err(self.failed(e)),
            }
        }
        last
    }

    /// Asterisk's `ast_update_realtime`: set `set` where `keyfield` matches `lookup`. The next
    /// priority is tried only when an engine fails (0 rows updated is an answer).
    pub async fn update(
        &self,
        family: &str,
        keyfield: &str,
        lookup: &str,
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        Self::need(set, "update")?;
        let mut last = Err(RealtimeError::NoEngine(family.to_string()));
        for (engine, m) in self.candidates(family)? {
            match engine
                .update(&m.database, &m.table, keyfield, lookup, set)
                .await
            {
                Ok(n) => return Ok(n),
                Err(e) => last = Err(self.failed(e)),
            }
        }
        last
    }

    /// Asterisk's `ast_update2_realtime`: set `set` where every `lookup` field matches.
    /// Fails over like [`Realtime::update`].
    pub async fn update2(
        &self,
        family: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        Self::need(lookup, "update2 lookup")?;
        Self::need(set, "update2")?;
        let mut last = Err(RealtimeError::NoEngine(family.to_string()));
        for (engine, m) in self.candidates(family)? {
            match engine.update2(&m.database, &m.table, lookup, set).await {
                Ok(n) => return Ok(n),
                Err(e) => last = Err(self.failed(e)),
            }
        }
        last
    }

    /// Asterisk's `ast_store_realtime`: insert one row. Fails over like [`Realtime::update`].
    pub async fn store(
        &self,
        family: &str,
        fields: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        Self::need(fields, "store")?;
        let mut last = Err(RealtimeError::NoEngine(family.to_string()));
        for (engine, m) in self.candidates(family)? {
            match engine.store(&m.database, &m.table, fields).await {
                Ok(n) => return Ok(n),
                Err(e) => last = Err(self.failed(e)),
            }
        }
        last
    }

    /// Asterisk's `ast_destroy_realtime`: delete where `keyfield` matches `lookup` and every
    /// `filter` field matches. Fails over like [`Realtime::update`].
    pub async fn destroy(
        &self,
        family: &str,
        keyfield: &str,
        lookup: &str,
        filter: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let mut last = Err(RealtimeError::NoEngine(family.to_string()));
        for (engine, m) in self.candidates(family)? {
            match engine
                .destroy(&m.database, &m.table, keyfield, lookup, filter)
                .await
            {
                Ok(n) => return Ok(n),
                Err(e) => last = Err(self.failed(e)),
            }
        }
        last
    }
}

// ------------------------------------------------------------- start-up and reload --

/// Send the realtime warnings of `pbx` to its console log (`WARNING[pid]: …`). Call once at
/// start-up.
pub fn log_to_console(pbx: &Arc<super::Pbx>) {
    let weak = Arc::downgrade(pbx);
    pbx.realtime.set_warning_sink(Arc::new(move |m: &str| {
        if let Some(p) = weak.upgrade() {
            p.warning(m);
        }
    }));
}

/// Read `extconfig.conf` from the config directory and put its mappings in force, printing
/// Asterisk's `Binding … to …` lines at verbose level 2 and any warnings. On errors the
/// mappings in force are kept and the errors returned. Call at start-up and on reload.
pub fn load_extconfig(pbx: &super::Pbx) -> Result<(), Vec<ConfigError>> {
    let cfg = ExtConfig::load(&pbx.settings.astetcdir, &pbx.settings.load_options())?;
    for w in &cfg.warnings {
        pbx.warning(&w.to_string());
    }
    for line in cfg.binding_lines() {
        pbx.verbose_line(2, &line);
    }
    pbx.realtime.set_config(cfg);
    Ok(())
}

/// `[("a","1"),("b","2")]` from `&[("a","1"),("b","2")]`, for callers with literals.
pub fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn parses_mappings_quoting_defaults_and_static_files() {
        let text = "[settings]\n\
            sippeers => sqlite3,asterisk\n\
            example2 => ldap,\"ou=people,dc=example,dc=com\",sip,2\n\
            example2 => odbc, asterisk , alttable ,1\n\
            queues.conf => odbc,asterisk,ast_config\n\
            voicemail => sqlite3,\"a,b\"\n";
        let cfg = ExtConfig::from_str("extconfig.conf", text).unwrap();
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        let sp = &cfg.families[0];
        assert_eq!(
            (sp.name.as_str(), sp.engine.as_str(), sp.database.as_str()),
            ("sippeers", "sqlite3", "asterisk")
        );
        assert_eq!(sp.table, "sippeers");
        assert_eq!(sp.priority, 1);
        assert_eq!(sp.loc.line, 2);
        let ldap = &cfg.families[1];
        assert_eq!(ldap.database, "ou=people,dc=example,dc=com");
        assert_eq!((ldap.table.as_str(), ldap.priority), ("sip", 2));
        assert_eq!(cfg.families[2].database, "asterisk");
        assert_eq!(cfg.families[2].table, "alttable");
        assert_eq!(cfg.families[3].database, "a,b");
        assert_eq!(cfg.families[3].table, "voicemail");
        assert_eq!(cfg.static_files.len(), 1);
        assert_eq!(cfg.static_files[0].name, "queues.conf");
        assert_eq!(cfg.static_files[0].table, "ast_config");
        let chain: Vec<_> = cfg
            .chain("EXAMPLE2")
            .iter()
            .map(|m| m.engine.clone())
            .collect();
        assert_eq!(chain, vec!["odbc", "ldap"]);
        assert_eq!(
            cfg.binding_lines()[0],
            "Binding queues.conf to odbc/asterisk/ast_config"
        );
    }

    #[test]
    fn priorities_default_to_one_and_stop_at_a_gap() {
        let text = "[settings]\nf => a,db\nf => b,db\nf => c,db,t,3\n";
        let cfg = ExtConfig::from_str("extconfig.conf", text).unwrap();
        // Asterisk: both lines without a priority are priority 1 and the later one wins;
        // priority 3 follows a gap and is never used.
        let chain: Vec<_> = cfg.chain("f").iter().map(|m| m.engine.clone()).collect();
        assert_eq!(chain, vec!["b"]);
        let w: Vec<String> = cfg.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("extconfig.conf:2:1: priority 1 of family 'f' is given again"));
        assert!(w[1].starts_with("extconfig.conf:4:1: priority 3 of family 'f' is never used"));
    }

    #[test]
    fn obsolete_families_are_renamed_with_a_warning() {
        let cfg = ExtConfig::from_str("extconfig.conf", "[settings]\nsipfriends => sqlite3,ast\n")
            .unwrap();
        assert_eq!(cfg.families[0].name, "sippeers");
        assert_eq!(cfg.families[0].table, "sipfriends");
        assert!(cfg.warnings[0]
            .msg
            .contains("'sipfriends' table is obsolete"));
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = "[settings]\nsippeers => sqlite3\nvm =>  sqlite3,\"open\nx => a,db,t,zero\nlogger.conf => odbc,db\ny => a,\"db\"junk\n";
        let errs = ExtConfig::from_str("extconfig.conf", text).unwrap_err();
        let e: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(e.len(), 5, "{e:?}");
        assert_eq!(
            e[0],
            "extconfig.conf:2:20: expected `,database` after the engine `sqlite3`"
        );
        assert_eq!(
            e[1],
            "extconfig.conf:3:16: expected a closing `\"` for the quoted database"
        );
        assert_eq!(
            e[2],
            "extconfig.conf:4:13: expected a priority (a whole number from 1), found `zero`"
        );
        assert!(e[3].starts_with("extconfig.conf:5:1: Cannot bind 'logger.conf'"));
        assert_eq!(
            e[4],
            "extconfig.conf:6:12: expected `,` or the end of the line after the quoted database"
        );
    }

    #[test]
    fn missing_file_means_no_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ExtConfig::load(dir.path(), &LoadOptions::default()).unwrap();
        assert_eq!(cfg, ExtConfig::default());
        std::fs::write(
            dir.path().join("extconfig.conf"),
            "[settings]\nsippeers => sqlite3,\"x\"y\n",
        )
        .unwrap();
        let errs = ExtConfig::load(dir.path(), &LoadOptions::default()).unwrap_err();
        assert!(
            errs[0].to_string().ends_with("extconfig.conf:2:24: expected `,` or the end of the line after the quoted database"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn field_operators() {
        assert_eq!(parse_field("name").unwrap(), ("name", CompareOp::Eq));
        assert_eq!(parse_field("name LIKE").unwrap(), ("name", CompareOp::Like));
        assert_eq!(parse_field("name like").unwrap(), ("name", CompareOp::Like));
        assert_eq!(
            parse_field("regseconds <").unwrap(),
            ("regseconds", CompareOp::Lt)
        );
        assert_eq!(parse_field("x !=").unwrap(), ("x", CompareOp::Ne));
        assert_eq!(parse_field("x >=").unwrap().1, CompareOp::Ge);
        assert_eq!(parse_field("x <=").unwrap().1, CompareOp::Le);
        assert_eq!(parse_field("x >").unwrap().1, CompareOp::Gt);
        assert_eq!(parse_field("x NOT  LIKE").unwrap().1, CompareOp::NotLike);
        assert!(matches!(
            parse_field("x = 1; DROP TABLE t"),
            Err(RealtimeError::BadOperator { .. })
        ));
    }

    #[derive(Clone, Copy)]
    enum Behaviour {
        Fail,
        Empty,
        Answer,
    }

    struct Fake {
        name: &'static str,
        behaviour: Behaviour,
        calls: AtomicUsize,
    }

    impl Fake {
        fn new(name: &'static str, behaviour: Behaviour) -> Arc<Fake> {
            Arc::new(Fake {
                name,
                behaviour,
                calls: AtomicUsize::new(0),
            })
        }
        fn answer<T>(&self, db: &str, table: &str, ok: T, empty: T) -> Result<T, RealtimeError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.behaviour {
                Behaviour::Fail => Err(RealtimeError::Backend(format!(
                    "{} cannot reach {db}/{table}",
                    self.name
                ))),
                Behaviour::Empty => Ok(empty),
                Behaviour::Answer => Ok(ok),
            }
        }
    }

    #[async_trait]
    impl RealtimeEngine for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn load(
            &self,
            db: &str,
            table: &str,
            _f: &[(String, String)],
        ) -> Result<Option<Fields>, RealtimeError> {
            let row = fields(&[
                ("engine", self.name),
                ("db", db),
                ("blank", " "),
                ("none", ""),
            ]);
            self.answer(db, table, Some(row), None)
        }
        async fn load_multi(
            &self,
            db: &str,
            table: &str,
            _f: &[(String, String)],
        ) -> Result<Vec<Fields>, RealtimeError> {
            self.answer(db, table, vec![fields(&[("engine", self.name)])], vec![])
        }
        async fn update(
            &self,
            db: &str,
            table: &str,
            _k: &str,
            _l: &str,
            _s: &[(String, String)],
        ) -> Result<usize, RealtimeError> {
            self.answer(db, table, 1, 0)
        }
        async fn update2(
            &self,
            db: &str,
            table: &str,
            _l: &[(String, String)],
            _s: &[(String, String)],
        ) -> Result<usize, RealtimeError> {
            self.answer(db, table, 2, 0)
        }
        async fn store(
            &self,
            db: &str,
            table: &str,
            _f: &[(String, String)],
        ) -> Result<usize, RealtimeError> {
            self.answer(db, table, 1, 0)
        }
        async fn destroy(
            &self,
            db: &str,
            table: &str,
            _k: &str,
            _l: &str,
            _f: &[(String, String)],
        ) -> Result<usize, RealtimeError> {
            self.answer(db, table, 3, 0)
        }
    }

    fn realtime(text: &str) -> (Realtime, Arc<Mutex<Vec<String>>>) {
        let rt = Realtime::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        rt.set_warning_sink(Arc::new(move |m: &str| l.lock().push(m.to_string())));
        rt.set_config(ExtConfig::from_str("extconfig.conf", text).unwrap());
        (rt, log)
    }

    const CHAIN: &str = "[settings]\nsippeers => ldap,\"dc=x,dc=y\",peers,1\nsippeers => broken,db1,peers,2\nsippeers => good,db2,peers,3\n";

    #[tokio::test]
    async fn failover_skips_missing_and_failing_engines() {
        let (rt, log) = realtime(CHAIN);
        let broken = Fake::new("broken", Behaviour::Fail);
        let good = Fake::new("good", Behaviour::Answer);
        rt.register_engine(broken.clone());
        rt.register_engine(good.clone());
        assert_eq!(rt.engine_names(), vec!["broken", "good"]);
        assert!(rt.is_enabled("SIPPEERS"));
        assert!(!rt.is_enabled("voicemail"));
        let filter = fields(&[("name", "1001")]);
        let row = rt.load_all("sippeers", &filter).await.unwrap().unwrap();
        assert_eq!(row[0], (s("engine"), s("good")));
        assert_eq!(row[1], (s("db"), s("db2")));
        // ast_load_realtime drops empty columns and turns " " into "".
        let row = rt.load("sippeers", &filter).await.unwrap().unwrap();
        assert_eq!(
            row,
            fields(&[("engine", "good"), ("db", "db2"), ("blank", "")])
        );
        assert_eq!(rt.load_multi("sippeers", &filter).await.unwrap().len(), 1);
        assert_eq!(rt.update("sippeers", "name", "1001", &filter).await, Ok(1));
        assert_eq!(rt.update2("sippeers", &filter, &filter).await, Ok(2));
        assert_eq!(rt.store("sippeers", &filter).await, Ok(1));
        assert_eq!(rt.destroy("sippeers", "name", "1001", &[]).await, Ok(3));
        assert_eq!(broken.calls.load(Ordering::SeqCst), 7);
        assert_eq!(good.calls.load(Ordering::SeqCst), 7);
        let log = log.lock();
        let unavailable: Vec<_> = log.iter().filter(|m| m.contains("not available")).collect();
        assert_eq!(
            unavailable,
            vec!["Realtime mapping for 'sippeers' found to engine 'ldap', but the engine is not available"]
        );
        assert!(log.iter().any(|m| m == "broken cannot reach db1/peers"));
    }

    #[tokio::test]
    async fn empty_answers_and_missing_mappings() {
        let (rt, _log) = realtime(CHAIN);
        let filter = fields(&[("name", "1001")]);
        assert_eq!(
            rt.load("voicemail", &filter).await,
            Err(RealtimeError::NoMapping(s("voicemail")))
        );
        assert_eq!(
            rt.load("sippeers", &filter).await,
            Err(RealtimeError::NoEngine(s("sippeers")))
        );
        // No row from the first engine: the next priority is asked (ast_load_realtime).
        let empty = Fake::new("broken", Behaviour::Empty);
        let good = Fake::new("good", Behaviour::Answer);
        rt.register_engine(empty.clone());
        rt.register_engine(good.clone());
        assert!(rt.load("sippeers", &filter).await.unwrap().is_some());
        // An empty answer to a multi-row load or an update ends the search, as in Asterisk.
        assert!(rt.load_multi("sippeers", &filter).await.unwrap().is_empty());
        assert_eq!(rt.update("sippeers", "name", "x", &filter).await, Ok(0));
        assert_eq!(good.calls.load(Ordering::SeqCst), 1);
        // Only an engine that cannot answer: every call fails with its error.
        assert!(rt.unregister_engine("good"));
        rt.unregister_engine("broken");
        rt.register_engine(Fake::new("broken", Behaviour::Fail));
        assert_eq!(
            rt.store("sippeers", &filter).await,
            Err(RealtimeError::Backend(s("broken cannot reach db1/peers")))
        );
        assert_eq!(
            rt.load("sippeers", &filter).await.map(|_| ()),
            Err(RealtimeError::Backend(s("broken cannot reach db1/peers")))
        );
        assert!(matches!(
            rt.load("sippeers", &[]).await,
            Err(RealtimeError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn start_up_helpers_load_extconfig_and_log_to_the_console() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings =
            crate::config::settings::Settings::defaults_for(&dir.path().join("ferrisk.conf"));
        settings.verbose = 2;
        let pbx = super::super::Pbx::new(settings, crate::astdb::AstDb::open_in_memory().unwrap());
        let mut rx = pbx.log_tx.subscribe();
        log_to_console(&pbx);
        // No file: no mappings.
        load_extconfig(&pbx).unwrap();
        assert!(pbx.realtime.config().families.is_empty());
        std::fs::write(
            dir.path().join("extconfig.conf"),
            "[settings]\nsipfriends => sqlite3,asterisk\n",
        )
        .unwrap();
        load_extconfig(&pbx).unwrap();
        assert_eq!(pbx.realtime.config().families[0].name, "sippeers");
        assert!(!pbx.realtime.is_enabled("sippeers"));
        let _ = pbx
            .realtime
            .load("sippeers", &fields(&[("name", "1")]))
            .await;
        // A bad file keeps the mappings in force.
        std::fs::write(
            dir.path().join("extconfig.conf"),
            "[settings]\nx => sqlite3\n",
        )
        .unwrap();
        assert!(load_extconfig(&pbx).is_err());
        assert_eq!(pbx.realtime.config().families.len(), 1);
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l.text);
        }
        assert!(
            lines[0].contains("WARNING[") && lines[0].contains("'sipfriends' table is obsolete"),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            "  == Binding sippeers to sqlite3/asterisk/sipfriends"
        );
        assert!(lines[2].ends_with(
            "Realtime mapping for 'sippeers' found to engine 'sqlite3', but the engine is not available"
        ));
        assert_eq!(lines.len(), 3);
    }
}
