//! `res_config_pgsql.so`: the `pgsql` realtime engine, configured by `res_pgsql.conf` as
//! Asterisk's res_config_pgsql.
//!
//! - `[general]`: `hostname` (or `dbhost`), `port` (`dbport`), `dbname`, `user` (`dbuser`),
//!   `password` (`dbpass`), `appname` (`dbappname`), `socket` (`dbsock`, the directory of
//!   the Unix socket when there is no host), `requirements` (`warn`, `createclose`,
//!   `createchar`: accepted, no ferrisk module declares requirements), and
//!   `order_multi_row_results_by_initial_column`.
//! - A mapping's database field (`sippeers => pgsql,general,sippeers`) is not used, as in
//!   Asterisk (one server per engine); the table may be `schema.table`.
//!
//! Requests run on a pool of async connections (see [`super::pgsql`]): a statement whose
//! connection turns out to be dead is tried once more on a new one; while the server is
//! down, requests fail at once (the family's next priority is tried) and connecting is
//! retried with backoff. One warning per outage, one notice when it is back.
//!
//! Writes (`update`, `update2`, `store`) leave out columns the table does not have, with a
//! notice once per column, as Asterisk's engine does with its column cache (chan_sip writes
//! `regserver`, `useragent`, `lastms`, … which older schemas lack).

use super::config_ldap::{LogKind, LogSink};
use super::pgsql::sql::{row_fields, table_ident, Statement, TextParam, COLUMNS_SQL};
use super::pgsql::{
    is_connection_error, pool_error_text, Column, ConnSettings, Outage, OP_TIMEOUT, POOL_SIZE,
};
use crate::config::settings::Settings;
use crate::config::{ConfigError, ConfigFile};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload, SupportLevel};
use crate::pbx::realtime::{parse_field, Fields, RealtimeEngine, RealtimeError};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// The config file (Asterisk's name).
pub const CONFIG_FILE: &str = "res_pgsql.conf";

/// `requirements`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirements {
    Warn,
    CreateClose,
    CreateChar,
}

/// `res_pgsql.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgsqlConfig {
    pub conn: ConnSettings,
    pub requirements: Requirements,
    pub order_multi_row_results_by_initial_column: bool,
}

impl PgsqlConfig {
    /// Parse `res_pgsql.conf`: the config and Asterisk's warnings for what it assumes.
    /// Errors name file:line:column.
    pub fn parse(cf: &ConfigFile) -> Result<(PgsqlConfig, Vec<String>), ConfigError> {
        let mut w = Vec::new();
        let Some(g) = cf.section("general") else {
            return Err(ConfigError::new(format!(
                "{}: no [general] section (hostname, port, dbname, user, password)",
                cf.path.display()
            )));
        };
        let get = |new: &str, old: &str| g.get(new).or_else(|| g.get(old)).map(str::trim);
        let mut conn = ConnSettings::default();
        match get("user", "dbuser") {
            Some(u) => conn.user = u.to_string(),
            None => w.push(
                "PostgreSQL RealTime: No database user found, using 'asterisk' as default.".into(),
            ),
        }
        match get("password", "dbpass") {
            Some(p) => conn.password = p.to_string(),
            None => {
                w.push(
                    "PostgreSQL RealTime: No database password found, using 'asterisk' as default."
                        .into(),
                );
                conn.password = "asterisk".into();
            }
        }
        match get("hostname", "dbhost") {
            Some(h) => conn.host = h.to_string(),
            None => w.push(
                "PostgreSQL RealTime: No database host found, using localhost via socket.".into(),
            ),
        }
        match g.get("dbname").map(str::trim) {
            Some(d) => conn.dbname = d.to_string(),
            None => w.push(
                "PostgreSQL RealTime: No database name found, using 'asterisk' as default.".into(),
            ),
        }
        match get("port", "dbport") {
            Some(p) => {
                conn.port = p.parse().map_err(|_| {
                    let e = g
                        .get_all("port")
                        .last()
                        .or_else(|| g.get_all("dbport").last())
                        .map(|e| e.loc.clone())
                        .unwrap_or_else(|| g.loc.clone());
                    ConfigError::at(&e, format!("invalid port '{p}' (1 to 65535)"))
                })?;
                if conn.port == 0 {
                    return Err(ConfigError::at(&g.loc, "invalid port 0 (1 to 65535)"));
                }
            }
            None => {
                w.push("PostgreSQL RealTime: No database port found, using 5432 as default.".into())
            }
        }
        if let Some(a) = get("appname", "dbappname") {
            conn.appname = a.to_string();
        }
        if conn.host.is_empty() {
            match get("socket", "dbsock") {
                Some(s) => conn.socket = s.to_string(),
                None => w.push(format!(
                    "PostgreSQL RealTime: No database socket found, using '/tmp/.s.PGSQL.{}' as default.",
                    conn.port
                )),
            }
        }
        let requirements = match g.get("requirements").map(str::trim) {
            None => {
                w.push(
                    "PostgreSQL RealTime: no requirements setting found, using 'warn' as default."
                        .into(),
                );
                Requirements::Warn
            }
            Some(r) if r.eq_ignore_ascii_case("createclose") => Requirements::CreateClose,
            Some(r) if r.eq_ignore_ascii_case("createchar") => Requirements::CreateChar,
            Some(r) if r.eq_ignore_ascii_case("warn") => Requirements::Warn,
            Some(r) => {
                w.push(format!(
                    "PostgreSQL RealTime: unknown requirements '{r}', using 'warn'."
                ));
                Requirements::Warn
            }
        };
        let order = g
            .get("order_multi_row_results_by_initial_column")
            .is_none_or(crate::config::is_true);
        Ok((
            PgsqlConfig {
                conn,
                requirements,
                order_multi_row_results_by_initial_column: order,
            },
            w,
        ))
    }
}

/// The engine.
pub struct PgsqlEngine {
    cfg: PgsqlConfig,
    pool: deadpool_postgres::Pool,
    outage: Mutex<Outage>,
    /// Table → its columns (read on the first write to it).
    columns: Mutex<HashMap<String, Arc<Vec<Column>>>>,
    /// (table, column) already reported missing.
    missing: Mutex<HashSet<(String, String)>>,
    log: LogSink,
}

impl PgsqlEngine {
    pub fn new(cfg: PgsqlConfig, log: LogSink) -> PgsqlEngine {
        PgsqlEngine {
            pool: cfg.conn.pool(POOL_SIZE),
            cfg,
            outage: Mutex::new(Outage::default()),
            columns: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashSet::new()),
            log,
        }
    }

    pub fn config(&self) -> &PgsqlConfig {
        &self.cfg
    }

    fn went_down(&self, why: &str) {
        if self.outage.lock().failed(Instant::now()) {
            (self.log)(
                LogKind::Warning,
                &format!(
                    "PostgreSQL RealTime: Couldn't establish connection to {} ({why}); retrying with backoff",
                    self.cfg.conn.describe()
                ),
            );
        }
    }

    fn answered(&self) {
        if self.outage.lock().answered(Instant::now()) {
            (self.log)(
                LogKind::Notice,
                &format!(
                    "PostgreSQL RealTime: Connection to {} is back",
                    self.cfg.conn.describe()
                ),
            );
        }
    }

    /// A pooled connection, or why there is none.
    async fn client(&self) -> Result<deadpool_postgres::Object, RealtimeError> {
        if self.outage.lock().blocked(Instant::now()) {
            return Err(RealtimeError::Backend(
                "PostgreSQL RealTime: server unreachable".into(),
            ));
        }
        match tokio::time::timeout(OP_TIMEOUT, self.pool.get()).await {
            Ok(Ok(c)) => {
                self.answered();
                Ok(c)
            }
            Ok(Err(e)) => {
                let (conn, why) = pool_error_text(&e);
                if conn {
                    self.went_down(&why);
                }
                Err(RealtimeError::Backend(format!(
                    "PostgreSQL RealTime: {why}"
                )))
            }
            Err(_) => {
                self.went_down("connecting timed out");
                Err(RealtimeError::Backend(
                    "PostgreSQL RealTime: connecting timed out".into(),
                ))
            }
        }
    }

    /// Run `q`: its rows, or with `execute` the number of rows changed. A connection found
    /// dead is replaced once (the pool may still hold ones from before an outage).
    async fn run(
        &self,
        q: &Statement,
        execute: bool,
    ) -> Result<(Vec<tokio_postgres::Row>, u64), RealtimeError> {
        for attempt in 0..2 {
            let c = self.client().await?;
            let params = q.param_refs();
            let fut = async {
                let st = c.prepare_cached(&q.sql).await?;
                if execute {
                    c.execute(&st, &params).await.map(|n| (Vec::new(), n))
                } else {
                    c.query(&st, &params).await.map(|r| (r, 0))
                }
            };
            match tokio::time::timeout(OP_TIMEOUT, fut).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) if is_connection_error(&e) => {
                    if attempt == 1 {
                        self.went_down(&e.to_string());
                        return Err(RealtimeError::Backend(format!("PostgreSQL RealTime: {e}")));
                    }
                }
                Ok(Err(e)) => {
                    let why = e
                        .as_db_error()
                        .map(|d| d.message().to_string())
                        .unwrap_or_else(|| e.to_string());
                    return Err(RealtimeError::Backend(format!(
                        "PostgreSQL RealTime: Query Failed because: {why} ({})",
                        q.sql
                    )));
                }
                Err(_) => {
                    self.went_down("statement timed out");
                    return Err(RealtimeError::Backend(
                        "PostgreSQL RealTime: statement timed out".into(),
                    ));
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    async fn select(
        &self,
        table: &str,
        filter: &[(String, String)],
        one: bool,
    ) -> Result<Vec<Fields>, RealtimeError> {
        let q = Statement::select(
            table,
            filter,
            one,
            self.cfg.order_multi_row_results_by_initial_column,
        )?;
        let (rows, _) = self.run(&q, false).await?;
        rows.iter()
            .map(|r| {
                let json: String = r
                    .try_get(0)
                    .map_err(|e| RealtimeError::Backend(e.to_string()))?;
                row_fields(&json)
            })
            .collect()
    }

    /// The columns of `table` (cached after the first read).
    pub async fn columns(&self, table: &str) -> Result<Arc<Vec<Column>>, RealtimeError> {
        if let Some(c) = self.columns.lock().get(table) {
            return Ok(c.clone());
        }
        let q = Statement {
            sql: COLUMNS_SQL.to_string(),
            params: vec![TextParam(table_ident(table)?)],
        };
        let (rows, _) = self.run(&q, false).await?;
        let cols: Vec<Column> = rows.iter().map(Column::from_row).collect();
        if cols.is_empty() {
            return Err(RealtimeError::Backend(format!(
                "Table '{table}' does not exist!!"
            )));
        }
        let cols = Arc::new(cols);
        self.columns.lock().insert(table.to_string(), cols.clone());
        Ok(cols)
    }

    /// The tables whose columns are cached.
    pub fn cached_tables(&self) -> Vec<String> {
        let mut v: Vec<String> = self.columns.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// `set` without the columns `table` lacks (each reported once).
    async fn existing(
        &self,
        table: &str,
        set: &[(String, String)],
    ) -> Result<Vec<(String, String)>, RealtimeError> {
        let cols = self.columns(table).await?;
        let mut out = Vec::new();
        for (c, v) in set {
            let name = c.trim();
            if cols.iter().any(|k| k.name == name) {
                out.push((name.to_string(), v.clone()));
            } else if self
                .missing
                .lock()
                .insert((table.to_string(), name.to_string()))
            {
                (self.log)(
                    LogKind::Notice,
                    &format!("PostgreSQL RealTime: Attempted to update column '{name}' in table '{table}', but column does not exist!"),
                );
            }
        }
        Ok(out)
    }

    /// Whether the server answers now (connecting if nothing is open), and for how long.
    pub async fn status(&self) -> Option<std::time::Duration> {
        if self.outage.lock().up_for().is_none() {
            let _ = self.client().await;
        }
        self.outage.lock().up_for()
    }

    async fn write(
        &self,
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let set = self.existing(table, set).await?;
        if set.is_empty() {
            return Err(RealtimeError::Invalid(format!(
                "PostgreSQL RealTime: none of the columns to update exist in table '{table}'"
            )));
        }
        let q = Statement::update(table, lookup, &set)?;
        let (_, n) = self.run(&q, true).await?;
        Ok(n as usize)
    }
}

#[async_trait]
impl RealtimeEngine for PgsqlEngine {
    fn name(&self) -> &'static str {
        "pgsql"
    }

    async fn load(
        &self,
        _database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Option<Fields>, RealtimeError> {
        Ok(self.select(table, filter, true).await?.into_iter().next())
    }

    async fn load_multi(
        &self,
        _database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Vec<Fields>, RealtimeError> {
        self.select(table, filter, false).await
    }

    async fn update(
        &self,
        _database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        self.write(table, &[(keyfield.to_string(), lookup.to_string())], set)
            .await
    }

    async fn update2(
        &self,
        _database: &str,
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        self.write(table, lookup, set).await
    }

    async fn store(
        &self,
        _database: &str,
        table: &str,
        fields: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let fields = self.existing(table, fields).await?;
        let q = Statement::insert(table, &fields)?;
        let (_, n) = self.run(&q, true).await?;
        Ok(n as usize)
    }

    async fn destroy(
        &self,
        _database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        filter: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let mut all = vec![(keyfield.to_string(), lookup.to_string())];
        all.extend(filter.iter().cloned());
        for (f, _) in &all {
            parse_field(f)?;
        }
        let q = Statement::delete(table, &all)?;
        let (_, n) = self.run(&q, true).await?;
        Ok(n as usize)
    }
}

/// Read `res_pgsql.conf` (errors name file:line:column); `None` when it is missing.
pub fn read_config(settings: &Settings) -> Result<Option<(PgsqlConfig, Vec<String>)>, ConfigError> {
    if !settings.astetcdir.join(CONFIG_FILE).exists() {
        return Ok(None);
    }
    let cf = crate::config::load(&settings.astetcdir, CONFIG_FILE, &settings.load_options())?;
    PgsqlConfig::parse(&cf).map(Some)
}

/// A log sink writing to the PBX's log (weakly held).
pub fn pbx_log_sink(pbx: &Arc<crate::pbx::Pbx>) -> LogSink {
    let weak = Arc::downgrade(pbx);
    Arc::new(move |k, m| {
        if let Some(p) = weak.upgrade() {
            match k {
                LogKind::Warning => p.warning(m),
                LogKind::Notice => p.notice(m),
            }
        }
    })
}

/// The module. Without `res_pgsql.conf` it declines, as Asterisk's.
pub struct ResConfigPgsql;

impl Module for ResConfigPgsql {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new(
            "res_config_pgsql.so",
            "PostgreSQL RealTime Configuration Driver",
        )
        .support(SupportLevel::Extended)
        .configs(&[CONFIG_FILE])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        let Some((cfg, warnings)) =
            read_config(&pbx.settings).map_err(|e| ModuleError::Failed(e.to_string()))?
        else {
            return Err(ModuleError::Decline(format!(
                "Unable to load config {CONFIG_FILE}"
            )));
        };
        for w in warnings {
            pbx.warning(&w);
        }
        let engine = Arc::new(PgsqlEngine::new(cfg, pbx_log_sink(pbx)));
        ctx.provide(engine.clone());
        ctx.register_realtime_engine(engine);
        ctx.register_cli(status_command());
        ctx.register_cli(cache_command());
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match read_config(&ctx.pbx.settings) {
            Ok(Some(_)) => Reload::Done(
                "res_pgsql.conf is read when res_config_pgsql.so loads: use 'module refresh res_config_pgsql.so'\n".into(),
            ),
            Ok(None) => Reload::Failed(format!("{CONFIG_FILE} is missing\n")),
            Err(e) => Reload::Failed(format!("{e}\n")),
        }
    }
}

fn engine(c: &crate::pbx::cli::Ctx) -> Result<Arc<PgsqlEngine>, crate::pbx::cli::CliError> {
    c.pbx().service::<PgsqlEngine>().ok_or_else(|| {
        crate::pbx::cli::CliError::Failure("PostgreSQL realtime is not loaded\n".into())
    })
}

/// `realtime show pgsql status`, as Asterisk prints it.
fn status_command() -> crate::pbx::cli::Command {
    crate::pbx::cli::Command::new(
        "realtime show pgsql status",
        "Shows connection information for the PostgreSQL RealTime driver",
        "Usage: realtime show pgsql status\n       Shows connection information for the PostgreSQL RealTime driver\n",
        |c: crate::pbx::cli::Ctx| async move {
            if !c.args.is_empty() {
                return Err(crate::pbx::cli::CliError::ShowUsage);
            }
            let e = engine(&c)?;
            let conn = &e.config().conn;
            let mut who = conn.describe();
            if !conn.user.is_empty() {
                who.push_str(&format!(" with username {}", conn.user));
            }
            match e.status().await {
                Some(up) => Ok(format!(
                    "Connected to {who} for {}\n",
                    crate::cli::format::uptime_str(up.as_secs())
                )),
                None => Err(crate::pbx::cli::CliError::Failure(format!(
                    "Unable to connect {who}\n"
                ))),
            }
        },
    )
}

/// `realtime show pgsql cache [table]`: the tables whose columns are cached, or one
/// table's columns.
fn cache_command() -> crate::pbx::cli::Command {
    crate::pbx::cli::Command::new(
        "realtime show pgsql cache",
        "Shows cached tables within the PostgreSQL realtime driver",
        "Usage: realtime show pgsql cache [<table>]\n       Shows table cache for the PostgreSQL RealTime driver\n",
        |c: crate::pbx::cli::Ctx| async move {
            let e = engine(&c)?;
            match c.args.as_slice() {
                [] => Ok(e
                    .cached_tables()
                    .iter()
                    .map(|t| format!("{t}\n"))
                    .collect()),
                [t] => {
                    let Some(cols) = e.columns.lock().get(t.as_str()).cloned() else {
                        return Ok(format!("No such table '{t}'\n"));
                    };
                    let mut s = format!("Columns for Table Cache '{t}':\n");
                    s.push_str(&format!(
                        "{:<20.20} {:<20.20} {:<3.3} {:<8.8}\n",
                        "Name", "Type", "Len", "Nullable"
                    ));
                    for col in cols.iter() {
                        let len = col
                            .ty
                            .split_once('(')
                            .and_then(|(_, r)| r.trim_end_matches(')').parse::<i32>().ok())
                            .unwrap_or(-1);
                        s.push_str(&format!(
                            "{:<20.20} {:<20.20} {:>3} {:<8.8}\n",
                            col.name,
                            col.ty,
                            len,
                            if col.notnull { "NOT NULL" } else { "" }
                        ));
                    }
                    Ok(s)
                }
                _ => Err(crate::pbx::cli::CliError::ShowUsage),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(PgsqlConfig, Vec<String>), ConfigError> {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            CONFIG_FILE,
            text,
            &crate::config::LoadOptions::default(),
        )
        .expect("parses");
        PgsqlConfig::parse(&cf)
    }

    #[test]
    fn options_with_old_and_new_names() {
        let (c, w) = parse(
            "[general]\ndbhost=db1\ndbport=5433\ndbname=pbx\ndbuser=ast\ndbpass=secret\ndbappname=node1\nrequirements=createchar\n",
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.conn.host, "db1");
        assert_eq!(c.conn.port, 5433);
        assert_eq!(c.conn.dbname, "pbx");
        assert_eq!(c.conn.user, "ast");
        assert_eq!(c.conn.password, "secret");
        assert_eq!(c.conn.appname, "node1");
        assert_eq!(c.requirements, Requirements::CreateChar);
        assert!(c.order_multi_row_results_by_initial_column);
        // The new names win over the legacy ones.
        let (c, _) = parse(
            "[general]\nhostname=db2\ndbhost=db1\nport=6000\nuser=u\npassword=p\nrequirements=warn\norder_multi_row_results_by_initial_column=no\n",
        )
        .unwrap();
        assert_eq!((c.conn.host.as_str(), c.conn.port), ("db2", 6000));
        assert!(!c.order_multi_row_results_by_initial_column);
    }

    #[test]
    fn defaults_warn_as_asterisk() {
        let (c, w) = parse("[general]\n").unwrap();
        assert_eq!(c.conn.user, "asterisk");
        assert_eq!(c.conn.password, "asterisk");
        assert_eq!(c.conn.host, "");
        assert_eq!(c.conn.socket, "/tmp");
        assert_eq!(c.conn.port, 5432);
        assert!(w.iter().any(|l| l.contains("using 'asterisk' as default")));
        assert!(w.iter().any(|l| l.contains("/tmp/.s.PGSQL.5432")));
        let (c, _) = parse("[general]\ndbsock=/run/postgresql\n").unwrap();
        assert_eq!(c.conn.socket, "/run/postgresql");
        assert_eq!(c.conn.describe(), "asterisk on socket file /run/postgresql");
    }

    #[test]
    fn bad_port_names_the_line() {
        let e = parse("[general]\nhostname=x\nport=many\n").unwrap_err();
        assert!(e.to_string().contains("res_pgsql.conf:3"), "{e}");
        assert!(parse("[nothing]\n").is_err());
    }
}
