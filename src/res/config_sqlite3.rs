//! `res_config_sqlite3`: the realtime engine `sqlite3`, on SQLite database files named in
//! `res_config_sqlite3.conf`.
//!
//! Each `[section]` of that file is a database; an `extconfig.conf` mapping names the section in
//! its database field (`sippeers => sqlite3,asterisk,sippeers` reads `[asterisk]`). Options, as
//! in Asterisk's sample:
//!
//! - `dbfile => path`: the SQLite file (a relative path is taken from `astdbdir`);
//! - `requirements => warn|createclose|createchar`: accepted and checked, but unused, since
//!   nothing in ferrisk declares realtime requirements yet (`ast_realtime_require_field`);
//! - `batch => 100`: accepted and checked, but every write is committed at once;
//! - `debug => yes`: every statement is logged at debug level (`DB: name SQL: …`).
//!
//! Tables and columns are quoted as identifiers and values are always bound parameters, so
//! nothing a caller passes is read as SQL; operators come only from
//! [`crate::pbx::realtime::parse_field`]. Every SQLite call runs on tokio's blocking pool,
//! one connection per database behind a mutex.

use crate::config::settings::Settings;
use crate::config::{is_false, is_true, ConfigError, ConfigFile, Location};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo};
use crate::pbx::realtime::{parse_field, CompareOp, Fields, RealtimeEngine, RealtimeError};
use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The module's configuration file.
pub const CONFIG_FILE: &str = "res_config_sqlite3.conf";

/// What to do when a realtime family requires a column the table lacks (unused for now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirements {
    Warn,
    CreateClose,
    CreateChar,
}

/// One `[section]` of `res_config_sqlite3.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub name: String,
    pub dbfile: PathBuf,
    pub requirements: Requirements,
    /// Transaction length in milliseconds (accepted, not used).
    pub batch_ms: u64,
    pub debug: bool,
    pub loc: Location,
}

/// Read `res_config_sqlite3.conf` from the config directory and open its databases: the
/// engine to register with [`crate::pbx::realtime::Realtime::register_engine`]. A missing file
/// gives an engine with no databases.
/// `res_config_sqlite3.so`: the `sqlite3` realtime engine, configured by
/// `res_config_sqlite3.conf`. A file with errors fails the load (file:line:column).
pub struct ResConfigSqlite3;

impl Module for ResConfigSqlite3 {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_config_sqlite3.so", "SQLite 3 realtime config engine")
            .configs(&[CONFIG_FILE])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let engine = load_engine(&ctx.pbx.settings)
            .map_err(|e| ModuleError::Failed(crate::config::join_errors(&e)))?;
        ctx.register_realtime_engine(engine);
        Ok(())
    }
}

pub fn load_engine(settings: &Settings) -> Result<Arc<dyn RealtimeEngine>, Vec<ConfigError>> {
    let dir = &settings.astetcdir;
    if !dir.join(CONFIG_FILE).exists() {
        return Ok(Arc::new(Sqlite3Engine::open(Vec::new())?));
    }
    let cf =
        crate::config::load(dir, CONFIG_FILE, &settings.load_options()).map_err(|e| vec![e])?;
    let dbs = parse_config(&cf, &settings.astdbdir)?;
    Ok(Arc::new(Sqlite3Engine::open(dbs)?))
}

/// Interpret a loaded `res_config_sqlite3.conf`; relative `dbfile`s are taken from `data_dir`.
pub fn parse_config(
    cf: &ConfigFile,
    data_dir: &Path,
) -> Result<Vec<DatabaseConfig>, Vec<ConfigError>> {
    let mut out: Vec<DatabaseConfig> = Vec::new();
    let mut errors = Vec::new();
    for s in cf.sections.iter().filter(|s| !s.is_template) {
        if out.iter().any(|d| d.name.eq_ignore_ascii_case(&s.name)) {
            errors.push(ConfigError::at(
                &s.loc,
                format!("database [{}] is defined twice", s.name),
            ));
            continue;
        }
        let mut db = DatabaseConfig {
            name: s.name.clone(),
            dbfile: PathBuf::new(),
            requirements: Requirements::Warn,
            batch_ms: 100,
            debug: false,
            loc: s.loc.clone(),
        };
        for e in &s.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "dbfile" => {
                    let p = PathBuf::from(v);
                    db.dbfile = if p.is_absolute() || v.is_empty() {
                        p
                    } else {
                        data_dir.join(p)
                    };
                    db.loc = e.loc.clone();
                }
                "requirements" => match v.to_ascii_lowercase().as_str() {
                    "warn" => db.requirements = Requirements::Warn,
                    "createclose" => db.requirements = Requirements::CreateClose,
                    "createchar" => db.requirements = Requirements::CreateChar,
                    _ => errors.push(ConfigError::at(
                        &e.loc,
                        format!("expected requirements => warn, createclose or createchar, found `{v}`"),
                    )),
                },
                "batch" => match parse_timelen_ms(v) {
                    Some(ms) => db.batch_ms = ms,
                    None => errors.push(ConfigError::at(
                        &e.loc,
                        format!("expected batch => a time in milliseconds (such as 100 or 1s), found `{v}`"),
                    )),
                },
                "debug" => {
                    if is_true(v) {
                        db.debug = true;
                    } else if is_false(v) {
                        db.debug = false;
                    } else {
                        errors.push(ConfigError::at(
                            &e.loc,
                            format!("expected debug => yes or no, found `{v}`"),
                        ));
                    }
                }
                other => errors.push(ConfigError::at(
                    &e.loc,
                    format!(
                        "unknown option `{other}` in [{}]: expected dbfile, requirements, batch or debug",
                        s.name
                    ),
                )),
            }
        }
        if db.dbfile.as_os_str().is_empty() {
            errors.push(ConfigError::at(
                &s.loc,
                format!(
                    "Must specify dbfile in {CONFIG_FILE}: [{}] has no `dbfile => path`",
                    s.name
                ),
            ));
            continue;
        }
        out.push(db);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Asterisk's `ast_app_parse_timelen` with milliseconds as the default unit.
fn parse_timelen_ms(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    // Whole milliseconds, as Asterisk keeps them in an int.
    Some((n * factor).round() as u64)
}

/// One open database.
struct Database {
    name: String,
    debug: bool,
    conn: Mutex<Connection>,
}

/// The `sqlite3` realtime engine.
pub struct Sqlite3Engine {
    /// By lower-case section name.
    databases: HashMap<String, Arc<Database>>,
}

impl Sqlite3Engine {
    /// Open every configured database (as Asterisk does at load). An error names the
    /// `dbfile` line.
    pub fn open(configs: Vec<DatabaseConfig>) -> Result<Sqlite3Engine, Vec<ConfigError>> {
        let mut databases = HashMap::new();
        let mut errors = Vec::new();
        for c in configs {
            match Connection::open(&c.dbfile).and_then(|conn| {
                conn.busy_timeout(std::time::Duration::from_millis(1000))?;
                Ok(conn)
            }) {
                Ok(conn) => {
                    databases.insert(
                        c.name.to_ascii_lowercase(),
                        Arc::new(Database {
                            name: c.name,
                            debug: c.debug,
                            conn: Mutex::new(conn),
                        }),
                    );
                }
                Err(e) => errors.push(ConfigError::at(
                    &c.loc,
                    format!("Could not open {}: {e}", c.dbfile.display()),
                )),
            }
        }
        if errors.is_empty() {
            Ok(Sqlite3Engine { databases })
        } else {
            Err(errors)
        }
    }

    /// The configured database (section) names.
    pub fn database_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.databases.values().map(|d| d.name.clone()).collect();
        v.sort();
        v
    }

    /// Run `f` with the database's connection on the blocking pool.
    async fn with_db<T, F>(&self, database: &str, f: F) -> Result<T, RealtimeError>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Connection) -> Result<T, RealtimeError> + Send + 'static,
    {
        let db = self
            .databases
            .get(&database.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| RealtimeError::UnknownDatabase(database.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let conn = db.conn.lock();
            f(&db, &conn)
        })
        .await
        .map_err(|e| RealtimeError::Backend(format!("sqlite3 worker failed: {e}")))?
    }

    async fn select(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
        limit_one: bool,
    ) -> Result<Vec<Fields>, RealtimeError> {
        let mut q = Statement::new();
        let sql = format!(
            "SELECT * FROM {} WHERE {}{}",
            table_ident(table)?,
            q.conditions(filter)?,
            if limit_one { " LIMIT 1" } else { "" }
        );
        q.sql = sql;
        self.with_db(database, move |db, c| q.rows(db, c)).await
    }

    async fn modify(&self, database: &str, q: Statement) -> Result<usize, RealtimeError> {
        self.with_db(database, move |db, c| q.execute(db, c)).await
    }
}

/// `"name"` with inner quotes doubled: an SQL identifier whatever the text.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn table_ident(table: &str) -> Result<String, RealtimeError> {
    if table.is_empty() {
        return Err(RealtimeError::Invalid("Must have a table to query!".into()));
    }
    Ok(ident(table))
}

fn column_ident(column: &str) -> Result<String, RealtimeError> {
    if column.trim().is_empty() {
        return Err(RealtimeError::Invalid("empty realtime column name".into()));
    }
    Ok(ident(column))
}

/// SQL text with its bound values.
struct Statement {
    sql: String,
    params: Vec<String>,
}

impl Statement {
    fn new() -> Statement {
        Statement {
            sql: String::new(),
            params: Vec::new(),
        }
    }

    fn bind(&mut self, value: &str) -> String {
        self.params.push(value.to_string());
        format!("?{}", self.params.len())
    }

    /// `"col" op ?n` for one filter field.
    fn condition(&mut self, field: &str, value: &str) -> Result<String, RealtimeError> {
        let (column, op) = parse_field(field)?;
        let p = self.bind(value);
        let mut s = format!("{} {} {p}", ident(column), op.as_sql());
        if matches!(op, CompareOp::Like | CompareOp::NotLike) {
            // As Asterisk: a backslash escapes `%` and `_` in LIKE patterns.
            s.push_str(" ESCAPE '\\'");
        }
        Ok(s)
    }

    /// Every filter field joined with AND.
    fn conditions(&mut self, filter: &[(String, String)]) -> Result<String, RealtimeError> {
        if filter.is_empty() {
            return Err(RealtimeError::Invalid(
                "realtime request without fields".into(),
            ));
        }
        let parts: Result<Vec<String>, _> =
            filter.iter().map(|(f, v)| self.condition(f, v)).collect();
        Ok(parts?.join(" AND "))
    }

    /// `"a" = ?1, "b" = ?2`.
    fn assignments(&mut self, set: &[(String, String)]) -> Result<String, RealtimeError> {
        if set.is_empty() {
            return Err(RealtimeError::Invalid(
                "realtime update without fields to set".into(),
            ));
        }
        let parts: Result<Vec<String>, _> = set
            .iter()
            .map(|(c, v)| Ok(format!("{} = {}", column_ident(c)?, self.bind(v))))
            .collect();
        Ok(parts?.join(", "))
    }

    fn trace(&self, db: &Database) {
        if db.debug {
            tracing::debug!(target: "ferrisk::res_config_sqlite3", "DB: {} SQL: {}", db.name, self.sql);
        }
    }

    fn failed(&self, e: rusqlite::Error) -> RealtimeError {
        RealtimeError::Backend(format!("Could not execute '{}': {e}", self.sql))
    }

    fn rows(&self, db: &Database, c: &Connection) -> Result<Vec<Fields>, RealtimeError> {
        self.trace(db);
        let mut st = c.prepare(&self.sql).map_err(|e| self.failed(e))?;
        let names: Vec<String> = st.column_names().into_iter().map(String::from).collect();
        let mut rows = st
            .query(rusqlite::params_from_iter(self.params.iter()))
            .map_err(|e| self.failed(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.failed(e))? {
            let mut row = Vec::with_capacity(names.len());
            for (i, n) in names.iter().enumerate() {
                let v = r.get_ref(i).map_err(|e| self.failed(e))?;
                row.push((n.clone(), text(v)));
            }
            out.push(row);
        }
        Ok(out)
    }

    fn execute(&self, db: &Database, c: &Connection) -> Result<usize, RealtimeError> {
        self.trace(db);
        c.execute(&self.sql, rusqlite::params_from_iter(self.params.iter()))
            .map_err(|e| self.failed(e))
    }
}

/// A column value as the text Asterisk hands on (NULL is empty).
fn text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

#[async_trait]
impl RealtimeEngine for Sqlite3Engine {
    fn name(&self) -> &'static str {
        "sqlite3"
    }

    async fn load(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Option<Fields>, RealtimeError> {
        Ok(self
            .select(database, table, filter, true)
            .await?
            .into_iter()
            .next())
    }

    async fn load_multi(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Vec<Fields>, RealtimeError> {
        self.select(database, table, filter, false).await
    }

    async fn update(
        &self,
        database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let mut q = Statement::new();
        let t = table_ident(table)?;
        let assignments = q.assignments(set)?;
        let cond = q.condition(keyfield, lookup)?;
        q.sql = format!("UPDATE {t} SET {assignments} WHERE {cond}");
        self.modify(database, q).await
    }

    async fn update2(
        &self,
        database: &str,
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let mut q = Statement::new();
        let t = table_ident(table)?;
        let assignments = q.assignments(set)?;
        let cond = q.conditions(lookup)?;
        q.sql = format!("UPDATE {t} SET {assignments} WHERE {cond}");
        self.modify(database, q).await
    }

    async fn store(
        &self,
        database: &str,
        table: &str,
        fields: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        if fields.is_empty() {
            return Err(RealtimeError::Invalid(
                "realtime store without fields".into(),
            ));
        }
        let mut q = Statement::new();
        let t = table_ident(table)?;
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for (c, v) in fields {
            cols.push(column_ident(c)?);
            vals.push(q.bind(v));
        }
        q.sql = format!(
            "INSERT INTO {t} ({}) VALUES ({})",
            cols.join(", "),
            vals.join(", ")
        );
        self.modify(database, q).await
    }

    async fn destroy(
        &self,
        database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        filter: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let mut q = Statement::new();
        let t = table_ident(table)?;
        let mut cond = q.condition(keyfield, lookup)?;
        if !filter.is_empty() {
            cond = format!("{cond} AND {}", q.conditions(filter)?);
        }
        q.sql = format!("DELETE FROM {t} WHERE {cond}");
        self.modify(database, q).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::realtime::fields;

    /// A config dir and data dir with `rt.sqlite3` holding a `sippeers` table.
    fn setup() -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults_for(&dir.path().join("ferrisk.conf"));
        settings.astdbdir = dir.path().join("data");
        std::fs::create_dir_all(&settings.astdbdir).unwrap();
        let c = Connection::open(settings.astdbdir.join("rt.sqlite3")).unwrap();
        c.execute_batch(
            "CREATE TABLE sippeers (name TEXT, secret TEXT, host TEXT, regseconds INTEGER, ipaddr TEXT);
             INSERT INTO sippeers VALUES ('1001', 's1', 'dynamic', 100, NULL);
             INSERT INTO sippeers VALUES ('1002', 's2', 'dynamic', 300, '10.0.0.2');
             INSERT INTO sippeers VALUES ('2001', 's3', 'static', 500, '10.0.0.3');",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[asterisk]\ndbfile => rt.sqlite3\nrequirements => createclose\nbatch => 1s\ndebug => yes\n",
        )
        .unwrap();
        (dir, settings)
    }

    fn names(rows: &[Fields]) -> Vec<String> {
        rows.iter().map(|r| r[0].1.clone()).collect()
    }

    #[tokio::test]
    async fn load_and_load_multi_with_operators() {
        let (_dir, settings) = setup();
        let e = load_engine(&settings).unwrap();
        assert_eq!(e.name(), "sqlite3");
        let row = e
            .load("asterisk", "sippeers", &fields(&[("name", "1001")]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row,
            fields(&[
                ("name", "1001"),
                ("secret", "s1"),
                ("host", "dynamic"),
                ("regseconds", "100"),
                ("ipaddr", ""),
            ])
        );
        // Database names are section names, any case.
        assert!(e
            .load("ASTERISK", "sippeers", &fields(&[("name", "9")]))
            .await
            .unwrap()
            .is_none());
        let rows = e
            .load_multi("asterisk", "sippeers", &fields(&[("name LIKE", "10%")]))
            .await
            .unwrap();
        assert_eq!(names(&rows), vec!["1001", "1002"]);
        let rows = e
            .load_multi(
                "asterisk",
                "sippeers",
                &fields(&[("regseconds >", "100"), ("host !=", "dynamic")]),
            )
            .await
            .unwrap();
        assert_eq!(names(&rows), vec!["2001"]);
        let rows = e
            .load_multi(
                "asterisk",
                "sippeers",
                &fields(&[("regseconds <=", "300"), ("regseconds >=", "300")]),
            )
            .await
            .unwrap();
        assert_eq!(names(&rows), vec!["1002"]);
        let rows = e
            .load_multi("asterisk", "sippeers", &fields(&[("regseconds <", "0")]))
            .await
            .unwrap();
        assert!(rows.is_empty());
        assert_eq!(
            e.load("nodb", "sippeers", &fields(&[("name", "1")])).await,
            Err(RealtimeError::UnknownDatabase("nodb".into()))
        );
    }

    #[tokio::test]
    async fn update_update2_store_destroy() {
        let (_dir, settings) = setup();
        let e = load_engine(&settings).unwrap();
        let n = e
            .update(
                "asterisk",
                "sippeers",
                "name",
                "1001",
                &fields(&[("ipaddr", "10.0.0.1"), ("regseconds", "150")]),
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let n = e
            .update2(
                "asterisk",
                "sippeers",
                &fields(&[("host", "dynamic"), ("regseconds <", "200")]),
                &fields(&[("secret", "new")]),
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let row = e
            .load("asterisk", "sippeers", &fields(&[("secret", "new")]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row[0].1, "1001");
        assert_eq!(row[3].1, "150");
        assert_eq!(row[4].1, "10.0.0.1");
        let n = e
            .store(
                "asterisk",
                "sippeers",
                &fields(&[("name", "3001"), ("host", "dynamic")]),
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let n = e
            .destroy(
                "asterisk",
                "sippeers",
                "host",
                "dynamic",
                &fields(&[("name LIKE", "%1")]),
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "1001 and 3001");
        let left = e
            .load_multi("asterisk", "sippeers", &fields(&[("name LIKE", "%")]))
            .await
            .unwrap();
        assert_eq!(names(&left), vec!["1002", "2001"]);
        // Nothing matched is an answer, not an error.
        let n = e
            .update(
                "asterisk",
                "sippeers",
                "name",
                "nobody",
                &fields(&[("host", "x")]),
            )
            .await;
        assert_eq!(n, Ok(0));
    }

    #[tokio::test]
    async fn names_and_values_cannot_inject_sql() {
        let (_dir, settings) = setup();
        let e = load_engine(&settings).unwrap();
        let all = fields(&[("name LIKE", "%")]);
        // A value is data, even with quotes.
        let r = e
            .load(
                "asterisk",
                "sippeers",
                &fields(&[("name", "1001' OR '1'='1")]),
            )
            .await
            .unwrap();
        assert!(r.is_none());
        // A table or column name is one identifier, whatever it holds.
        let r = e
            .load(
                "asterisk",
                "sippeers\"; DROP TABLE sippeers; --",
                &fields(&[("name", "1001")]),
            )
            .await;
        assert!(
            matches!(r, Err(RealtimeError::Backend(ref m)) if m.contains("no such table")),
            "{r:?}"
        );
        let r = e
            .update(
                "asterisk",
                "sippeers",
                "name",
                "1001",
                &fields(&[("secret\" = 'x', \"host", "y")]),
            )
            .await;
        assert!(
            matches!(r, Err(RealtimeError::Backend(ref m)) if m.contains("no such column")),
            "{r:?}"
        );
        // An operator outside the list never reaches SQLite.
        let r = e
            .load_multi(
                "asterisk",
                "sippeers",
                &fields(&[("name = '1' OR 1=1 --", "")]),
            )
            .await;
        assert!(matches!(r, Err(RealtimeError::BadOperator { .. })), "{r:?}");
        let r = e
            .destroy("asterisk", "sippeers", "name IS NOT", "x", &[])
            .await;
        assert!(matches!(r, Err(RealtimeError::BadOperator { .. })), "{r:?}");
        // A value with LIKE wildcards escaped by a backslash matches literally.
        e.store("asterisk", "sippeers", &fields(&[("name", "a_b")]))
            .await
            .unwrap();
        e.store("asterisk", "sippeers", &fields(&[("name", "axb")]))
            .await
            .unwrap();
        let rows = e
            .load_multi("asterisk", "sippeers", &fields(&[("name LIKE", "a\\_b")]))
            .await
            .unwrap();
        assert_eq!(names(&rows), vec!["a_b"]);
        assert_eq!(
            e.load_multi("asterisk", "sippeers", &all)
                .await
                .unwrap()
                .len(),
            5
        );
    }

    #[test]
    fn config_options_and_errors() {
        let (dir, settings) = setup();
        let cf = crate::config::load(dir.path(), CONFIG_FILE, &Default::default()).unwrap();
        let dbs = parse_config(&cf, &settings.astdbdir).unwrap();
        assert_eq!(dbs.len(), 1);
        assert_eq!(dbs[0].name, "asterisk");
        assert_eq!(dbs[0].dbfile, settings.astdbdir.join("rt.sqlite3"));
        assert_eq!(dbs[0].requirements, Requirements::CreateClose);
        assert_eq!(dbs[0].batch_ms, 1000);
        assert!(dbs[0].debug);
        let text = "[a]\ndbfile => /tmp/x.db\nrequirements => maybe\nbatch => soon\ncolor = red\n[b]\ndebug = yes\n";
        let cf =
            crate::config::load_str(dir.path(), CONFIG_FILE, text, &Default::default()).unwrap();
        let errs: Vec<String> = parse_config(&cf, Path::new("/data"))
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            vec![
                "res_config_sqlite3.conf:3:1: expected requirements => warn, createclose or createchar, found `maybe`",
                "res_config_sqlite3.conf:4:1: expected batch => a time in milliseconds (such as 100 or 1s), found `soon`",
                "res_config_sqlite3.conf:5:1: unknown option `color` in [a]: expected dbfile, requirements, batch or debug",
                "res_config_sqlite3.conf:6:1: Must specify dbfile in res_config_sqlite3.conf: [b] has no `dbfile => path`",
            ]
        );
        let bad = DatabaseConfig {
            dbfile: dir.path().join("missing/dir/x.db"),
            ..dbs[0].clone()
        };
        let errs = Sqlite3Engine::open(vec![bad]).err().unwrap();
        assert!(
            errs[0].to_string().contains(":2:1: Could not open"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn missing_config_file_gives_an_engine_without_databases() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::defaults_for(&dir.path().join("ferrisk.conf"));
        assert!(load_engine(&settings).is_ok());
        assert_eq!(parse_timelen_ms("250"), Some(250));
        assert_eq!(parse_timelen_ms("1.5s"), Some(1500));
        assert_eq!(parse_timelen_ms("2 m"), Some(120_000));
        assert_eq!(parse_timelen_ms("x"), None);
    }
}
