//! `cdr_pgsql.so`: call detail records inserted into a PostgreSQL table, configured by
//! `cdr_pgsql.conf` as Asterisk's cdr_pgsql.
//!
//! `[global]`: `hostname` (none: the Unix socket), `port`, `dbname`, `user`, `password`,
//! `appname`, `table` (`cdr`), `encoding` (accepted: ferrisk always talks UTF-8 and the
//! server converts to the database's encoding), `timezone` (dates in that zone instead of
//! local time).
//!
//! As Asterisk, the table's columns are read from the server and each record fills the
//! columns it has a value for, by name: `calldate` (the start), `clid`, `src`, `dst`,
//! `dcontext`, `channel`, `dstchannel`, `lastapp`, `lastdata`, `duration`, `billsec`,
//! `disposition`, `amaflags`, `accountcode`, `uniqueid`, `userfield`, `peeraccount`,
//! `linkedid`, `sequence`, `start`, `answer`, `end`, and any CDR variable
//! (`Set(CDR(myvar)=…)`). Integer columns get numbers (seconds since the epoch for dates,
//! Asterisk's codes for `disposition` and `amaflags`), other columns text.
//!
//! Unlike Asterisk (which drops a record when its reconnect fails), records never wait on
//! the database: [`CdrBackend::post`] queues them, and a task writes them in order. While
//! PostgreSQL is down the queue holds up to [`MAX_QUEUED`] records and the writer retries
//! with backoff (1 s doubling to 60 s); past the bound new records are dropped and counted,
//! with one warning per outage. A record the server refuses (a type error) is dropped with
//! an error naming its uniqueid, as Asterisk's.

use super::{Cdr, CdrBackend, Disposition};
use crate::config::settings::Settings;
use crate::config::{ConfigError, ConfigFile};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload, SupportLevel};
use crate::res::config_ldap::{LogKind, LogSink};
use crate::res::pgsql::sql::{table_ident, Statement, TextParam, COLUMNS_SQL};
use crate::res::pgsql::{
    is_connection_error, pool_error_text, Column, ConnSettings, Outage, OP_TIMEOUT,
};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The config file.
pub const CONFIG_FILE: &str = "cdr_pgsql.conf";

/// Records kept in memory while PostgreSQL is down (about 1 KiB each).
pub const MAX_QUEUED: usize = 100_000;

/// `cdr_pgsql.conf`.
#[derive(Debug, Clone, PartialEq)]
pub struct CdrPgsqlConfig {
    pub conn: ConnSettings,
    pub table: String,
    pub encoding: String,
    /// `timezone`: dates in this zone; `None` is local time.
    pub timezone: Option<chrono_tz::Tz>,
}

impl CdrPgsqlConfig {
    /// Parse `cdr_pgsql.conf`: `None` without a `[global]` section (the module declines, as
    /// Asterisk's), with Asterisk's warnings for what it assumes.
    pub fn parse(cf: &ConfigFile) -> Result<Option<(CdrPgsqlConfig, Vec<String>)>, ConfigError> {
        let Some(g) = cf.section("global") else {
            return Ok(None);
        };
        let mut w = Vec::new();
        let mut conn = ConnSettings {
            socket: "/var/run/postgresql".into(),
            ..Default::default()
        };
        let mut get = |key: &str, warning: &str| {
            let v = g.get(key).map(|v| v.trim().to_string());
            if v.is_none() && !warning.is_empty() {
                w.push(warning.to_string());
            }
            v
        };
        if let Some(h) = get(
            "hostname",
            "PostgreSQL server hostname not specified.  Assuming unix socket connection",
        ) {
            conn.host = h;
        }
        if let Some(d) = get(
            "dbname",
            "PostgreSQL database not specified.  Assuming asterisk",
        ) {
            conn.dbname = d;
        }
        if let Some(u) = get(
            "user",
            "PostgreSQL database user not specified.  Assuming asterisk",
        ) {
            conn.user = u;
        }
        if let Some(a) = get("appname", "") {
            conn.appname = a;
        }
        if let Some(p) = get(
            "password",
            "PostgreSQL database password not specified.  Assuming blank",
        ) {
            conn.password = p;
        }
        if let Some(p) = get(
            "port",
            "PostgreSQL database port not specified.  Using default 5432.",
        ) {
            conn.port = match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    let loc = g.get_all("port").last().map(|e| e.loc.clone());
                    return Err(ConfigError::at(
                        &loc.unwrap_or_else(|| g.loc.clone()),
                        format!("invalid port '{p}' (1 to 65535)"),
                    ));
                }
            };
        }
        let table = get("table", "CDR table not specified.  Assuming cdr").unwrap_or("cdr".into());
        let encoding =
            get("encoding", "Encoding not specified.  Assuming LATIN9").unwrap_or("LATIN9".into());
        let timezone = match get("timezone", "") {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) => Some(t.parse::<chrono_tz::Tz>().map_err(|_| {
                let loc = g.get_all("timezone").last().map(|e| e.loc.clone());
                ConfigError::at(
                    &loc.unwrap_or_else(|| g.loc.clone()),
                    format!("unknown timezone '{t}'"),
                )
            })?),
        };
        Ok(Some((
            CdrPgsqlConfig {
                conn,
                table,
                encoding,
                timezone,
            },
            w,
        )))
    }
}

/// Asterisk's numeric disposition (`AST_CDR_*`), for integer columns.
fn disposition_code(d: Disposition) -> u32 {
    match d {
        Disposition::NoAnswer => 0,
        Disposition::Failed => 2,
        Disposition::Busy => 4,
        Disposition::Answered => 8,
        Disposition::Congestion => 16,
    }
}

/// Asterisk's numeric AMA flags (`AST_AMA_*`), for integer columns.
fn amaflags_code(s: &str) -> u32 {
    match s.to_ascii_uppercase().as_str() {
        "OMIT" => 1,
        "BILLING" => 2,
        "DOCUMENTATION" => 3,
        _ => 0,
    }
}

/// The value of `col` for `cdr`, or `None` when the record has none.
pub fn column_value(cdr: &Cdr, col: &Column, tz: Option<chrono_tz::Tz>) -> Option<String> {
    let date = |d: Option<chrono::DateTime<chrono::Local>>| -> Option<String> {
        let d = d?;
        Some(if col.is_integer() {
            d.timestamp().to_string()
        } else if col.is_float() {
            format!("{:.6}", d.timestamp_micros() as f64 / 1e6)
        } else {
            match tz {
                Some(z) => d
                    .with_timezone(&z)
                    .format("%Y-%m-%d %H:%M:%S%:z")
                    .to_string(),
                None => d.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
            }
        })
    };
    let text = |s: &str| Some(s.to_string());
    let v = match col.name.as_str() {
        "calldate" | "start" => date(Some(cdr.start)),
        "answer" => date(cdr.answer),
        "end" => date(cdr.end),
        "duration" => Some(cdr.duration().to_string()),
        "billsec" => Some(cdr.billsec().to_string()),
        "disposition" if col.is_integer() => {
            Some(disposition_code(cdr.final_disposition()).to_string())
        }
        "disposition" => text(cdr.final_disposition().as_str()),
        "amaflags" if col.is_integer() => Some(amaflags_code(&cdr.amaflags).to_string()),
        "amaflags" => text(&cdr.amaflags),
        "clid" => text(&cdr.clid),
        "src" => text(&cdr.src),
        "dst" => text(&cdr.dst),
        "dcontext" => text(&cdr.dcontext),
        "channel" => text(&cdr.channel),
        "dstchannel" => text(&cdr.dstchannel),
        "lastapp" => text(&cdr.lastapp),
        "lastdata" => text(&cdr.lastdata),
        "accountcode" => text(&cdr.accountcode),
        "uniqueid" => text(&cdr.uniqueid),
        "userfield" => text(&cdr.userfield),
        "peeraccount" => text(&cdr.peeraccount),
        "linkedid" => text(&cdr.linkedid),
        "sequence" => Some(cdr.sequence.to_string()),
        other => cdr.vars.get(other).cloned(),
    }?;
    // As Asterisk: an integer column gets a number (0 when the value is none).
    if col.is_integer() && v.trim().parse::<i64>().is_err() {
        return Some("0".into());
    }
    Some(v)
}

/// The INSERT for one record: the columns with a value, and NOT NULL columns without a
/// default as empty text (as Asterisk).
pub fn insert_for(
    table: &str,
    columns: &[Column],
    cdr: &Cdr,
    tz: Option<chrono_tz::Tz>,
) -> Result<Statement, crate::pbx::realtime::RealtimeError> {
    let mut fields = Vec::new();
    for c in columns {
        match column_value(cdr, c, tz) {
            Some(v) => fields.push((c.name.clone(), v)),
            None if c.notnull && !c.hasdefault => fields.push((c.name.clone(), String::new())),
            None => {}
        }
    }
    Statement::insert(table, &fields)
}

/// Counters for `cdr show pgsql status`.
#[derive(Debug, Default)]
struct Counters {
    total: AtomicU64,
    since_reconnect: AtomicU64,
    dropped: AtomicU64,
}

/// The backend: a bounded queue and the task that drains it.
pub struct PgsqlCdr {
    cfg: CdrPgsqlConfig,
    pool: deadpool_postgres::Pool,
    queue: Mutex<VecDeque<Cdr>>,
    wake: tokio::sync::Notify,
    outage: Mutex<Outage>,
    /// The queue was full during this outage (logged once).
    full: AtomicBool,
    columns: Mutex<Option<Arc<Vec<Column>>>>,
    counters: Counters,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    log: LogSink,
}

impl PgsqlCdr {
    pub fn new(cfg: CdrPgsqlConfig, log: LogSink) -> PgsqlCdr {
        PgsqlCdr {
            pool: cfg.conn.pool(1),
            cfg,
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            outage: Mutex::new(Outage::default()),
            full: AtomicBool::new(false),
            columns: Mutex::new(None),
            counters: Counters::default(),
            task: Mutex::new(None),
            log,
        }
    }

    /// Records waiting to be written.
    pub fn queued(&self) -> usize {
        self.queue.lock().len()
    }

    /// Queue one record (never waits). Past [`MAX_QUEUED`] it is dropped and counted.
    fn enqueue(&self, cdr: Cdr) {
        let mut q = self.queue.lock();
        if q.len() >= MAX_QUEUED {
            drop(q);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.full.swap(true, Ordering::Relaxed) {
                (self.log)(
                    LogKind::Warning,
                    &format!("cdr_pgsql: {MAX_QUEUED} records are waiting for PostgreSQL at {}; new call records are DROPPED until it answers", self.cfg.conn.describe()),
                );
            }
            return;
        }
        q.push_back(cdr);
        drop(q);
        self.wake.notify_one();
    }

    fn went_down(&self, why: &str) {
        if self.outage.lock().failed(Instant::now()) {
            self.counters.since_reconnect.store(0, Ordering::Relaxed);
            (self.log)(
                LogKind::Warning,
                &format!(
                    "cdr_pgsql: Unable to connect to database server {} ({why}); call records are queued and retried with backoff",
                    self.cfg.conn.describe()
                ),
            );
        }
    }

    fn answered(&self) {
        if self.outage.lock().answered(Instant::now()) {
            self.full.store(false, Ordering::Relaxed);
            (self.log)(
                LogKind::Notice,
                &format!(
                    "cdr_pgsql: Connection to {} reestablished; writing {} queued call records",
                    self.cfg.conn.describe(),
                    self.queued()
                ),
            );
        }
    }

    /// Write the record at the head of the queue. `Err` = no server (retry later).
    async fn write_one(&self, cdr: &Cdr) -> Result<(), String> {
        let c = match tokio::time::timeout(OP_TIMEOUT, self.pool.get()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let (conn, why) = pool_error_text(&e);
                if conn {
                    return Err(why);
                }
                self.drop_record(cdr, &why);
                return Ok(());
            }
            Err(_) => return Err("connecting timed out".into()),
        };
        let cached = self.columns.lock().clone();
        let cols = match cached {
            Some(c) => c,
            None => {
                let t = table_ident(&self.cfg.table).map_err(|e| e.to_string())?;
                let r = tokio::time::timeout(OP_TIMEOUT, c.query(COLUMNS_SQL, &[&TextParam(t)]))
                    .await
                    .map_err(|_| "timed out".to_string())?;
                let rows = match r {
                    Ok(rows) => rows,
                    Err(e) if is_connection_error(&e) => return Err(e.to_string()),
                    Err(e) => {
                        self.drop_record(cdr, &e.to_string());
                        return Ok(());
                    }
                };
                let cols: Arc<Vec<Column>> = Arc::new(rows.iter().map(Column::from_row).collect());
                if cols.is_empty() {
                    self.drop_record(
                        cdr,
                        "Failed to query database columns. No columns found, does the table exist?",
                    );
                    return Ok(());
                }
                *self.columns.lock() = Some(cols.clone());
                cols
            }
        };
        let q = match insert_for(&self.cfg.table, &cols, cdr, self.cfg.timezone) {
            Ok(q) => q,
            Err(e) => {
                self.drop_record(cdr, &e.to_string());
                return Ok(());
            }
        };
        let params = q.param_refs();
        match tokio::time::timeout(OP_TIMEOUT, c.execute(q.sql.as_str(), &params)).await {
            Err(_) => Err("statement timed out".into()),
            Ok(Ok(_)) => {
                self.counters.total.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .since_reconnect
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) if is_connection_error(&e) => Err(e.to_string()),
            Ok(Err(e)) => {
                // The table may have changed: read its columns again for the next record.
                *self.columns.lock() = None;
                let why = e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string());
                self.drop_record(cdr, &why);
                Ok(())
            }
        }
    }

    fn drop_record(&self, cdr: &Cdr, why: &str) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        (self.log)(
            LogKind::Warning,
            &format!(
                "cdr_pgsql: Failed to insert call detail record {} into table {}: {why}. DROPPING CALL RECORD!",
                cdr.uniqueid, self.cfg.table
            ),
        );
    }

    /// The writer: drains the queue in order, waiting out outages.
    async fn run(self: Arc<Self>) {
        loop {
            let head = self.queue.lock().front().cloned();
            let Some(cdr) = head else {
                self.wake.notified().await;
                continue;
            };
            let blocked = self.outage.lock().retry_in(Instant::now());
            if !blocked.is_zero() {
                tokio::time::sleep(blocked).await;
            }
            match self.write_one(&cdr).await {
                Ok(()) => {
                    self.answered();
                    self.queue.lock().pop_front();
                }
                Err(why) => self.went_down(&why),
            }
        }
    }

    /// Wait up to `secs` for the queue to empty (shutdown).
    async fn drain(&self, secs: u64) {
        let until = Instant::now() + std::time::Duration::from_secs(secs);
        while self.queued() > 0 && Instant::now() < until && !self.outage.lock().is_down() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl CdrBackend for PgsqlCdr {
    fn name(&self) -> &'static str {
        "pgsql"
    }
    fn post(&self, cdr: &Cdr) {
        self.enqueue(cdr.clone());
    }
}

/// Read `cdr_pgsql.conf`: `None` when it is missing or has no `[global]`.
pub fn read_config(
    settings: &Settings,
) -> Result<Option<(CdrPgsqlConfig, Vec<String>)>, ConfigError> {
    if !settings.astetcdir.join(CONFIG_FILE).exists() {
        return Ok(None);
    }
    let cf = crate::config::load(&settings.astetcdir, CONFIG_FILE, &settings.load_options())?;
    CdrPgsqlConfig::parse(&cf)
}

/// The module. Without `cdr_pgsql.conf` (or its `[global]`) it declines, as Asterisk's.
pub struct CdrPgsql;

#[async_trait]
impl Module for CdrPgsql {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("cdr_pgsql.so", "PostgreSQL CDR Backend")
            .support(SupportLevel::Extended)
            .configs(&[CONFIG_FILE])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        let Some((cfg, warnings)) =
            read_config(&pbx.settings).map_err(|e| ModuleError::Failed(e.to_string()))?
        else {
            return Err(ModuleError::Decline(format!(
                "cdr_pgsql configuration contains no global section, skipping module {CONFIG_FILE}."
            )));
        };
        for w in warnings {
            pbx.warning(&format!("cdr_pgsql.c: {w}"));
        }
        let b = Arc::new(PgsqlCdr::new(
            cfg,
            crate::res::config_pgsql::pbx_log_sink(pbx),
        ));
        ctx.provide(b.clone());
        ctx.register_cdr_backend(b);
        ctx.register_cli(status_command());
        Ok(())
    }
    async fn start(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        if let Some(b) = ctx.pbx.service::<PgsqlCdr>() {
            let h = tokio::spawn(b.clone().run());
            *b.task.lock() = Some(h);
        }
        Ok(())
    }
    async fn stop(&self, ctx: &ModuleContext) {
        if let Some(b) = ctx.pbx.service::<PgsqlCdr>() {
            b.drain(5).await;
            if let Some(h) = b.task.lock().take() {
                h.abort();
            }
        }
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match read_config(&ctx.pbx.settings) {
            Ok(Some(_)) => Reload::Done(
                "cdr_pgsql.conf is read when cdr_pgsql.so loads: use 'module refresh cdr_pgsql.so'\n".into(),
            ),
            Ok(None) => Reload::Failed(format!("{CONFIG_FILE} is missing\n")),
            Err(e) => Reload::Failed(format!("{e}\n")),
        }
    }
}

/// `cdr show pgsql status`, as Asterisk prints it, plus the queue when records wait.
fn status_command() -> crate::pbx::cli::Command {
    crate::pbx::cli::Command::new(
        "cdr show pgsql status",
        "Show connection status of the PostgreSQL CDR driver (cdr_pgsql)",
        "Usage: cdr show pgsql status\n       Shows current connection status for cdr_pgsql\n",
        |c: crate::pbx::cli::Ctx| async move {
            if !c.args.is_empty() {
                return Err(crate::pbx::cli::CliError::ShowUsage);
            }
            let Some(b) = c.pbx().service::<PgsqlCdr>() else {
                return Err(crate::pbx::cli::CliError::Failure(
                    "cdr_pgsql is not loaded\n".into(),
                ));
            };
            let mut out = match b.outage.lock().up_for() {
                Some(up) => {
                    let conn = &b.cfg.conn;
                    let who = if !b.cfg.table.is_empty() {
                        format!(" using table {}", b.cfg.table)
                    } else if !conn.user.is_empty() {
                        format!(" with username {}", conn.user)
                    } else {
                        String::new()
                    };
                    let at = if conn.host.is_empty() {
                        format!("{}@{}", conn.dbname, conn.socket)
                    } else {
                        format!("{}@{}", conn.dbname, conn.host)
                    };
                    let mut s = format!(
                        "Connected to {at}, port {}{who} for {}\n",
                        conn.port,
                        crate::cli::format::uptime_str(up.as_secs())
                    );
                    let total = b.counters.total.load(Ordering::Relaxed);
                    let since = b.counters.since_reconnect.load(Ordering::Relaxed);
                    if total == since {
                        s.push_str(&format!("  Wrote {total} records since last restart.\n"));
                    } else {
                        s.push_str(&format!("  Wrote {total} records since last restart and {since} records since last reconnect.\n"));
                    }
                    s
                }
                None => "Not currently connected to a PgSQL server.\n".to_string(),
            };
            let queued = b.queued();
            let dropped = b.counters.dropped.load(Ordering::Relaxed);
            if queued > 0 || dropped > 0 {
                out.push_str(&format!(
                    "  {queued} records queued, {dropped} records dropped.\n"
                ));
            }
            Ok(out)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
            notnull: false,
            hasdefault: false,
        }
    }

    fn parse(text: &str) -> Result<Option<(CdrPgsqlConfig, Vec<String>)>, ConfigError> {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            CONFIG_FILE,
            text,
            &crate::config::LoadOptions::default(),
        )
        .expect("parses");
        CdrPgsqlConfig::parse(&cf)
    }

    #[test]
    fn config_as_the_sample() {
        let (c, w) = parse(
            "[global]\nhostname=db\nport=5433\ndbname=pbx\nuser=ast\npassword=pw\nappname=node1\ntable=calls\nencoding=UTF8\ntimezone=UTC\n",
        )
        .unwrap()
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.conn.describe(), "pbx@db, port 5433");
        assert_eq!((c.table.as_str(), c.encoding.as_str()), ("calls", "UTF8"));
        assert_eq!(c.timezone, Some(chrono_tz::UTC));
        let (c, w) = parse("[global]\n").unwrap().unwrap();
        assert_eq!(c.table, "cdr");
        assert!(w.iter().any(|l| l.contains("Assuming cdr")), "{w:?}");
        assert!(parse("[other]\n").unwrap().is_none());
        let e = parse("[global]\nport=x\n").unwrap_err();
        assert!(e.to_string().contains("cdr_pgsql.conf:2"), "{e}");
        assert!(parse("[global]\ntimezone=Mars/Base\n").is_err());
    }

    fn record() -> Cdr {
        let mut c = Cdr::new("SIP/1001-00000001", "1700000000.1");
        c.src = "1001".into();
        c.dst = "1002".into();
        c.clid = "\"Alice\" <1001>".into();
        c.dcontext = "internal".into();
        c.lastapp = "Dial".into();
        c.lastdata = "SIP/1002,10".into();
        c.userfield = "it's".into();
        c.vars.insert("custom".into(), "x".into());
        c.mark_answered();
        c.finish("", "");
        c
    }

    #[test]
    fn values_by_column_name_and_type() {
        let c = record();
        let utc = Some(chrono_tz::UTC);
        assert_eq!(
            column_value(&c, &col("src", "character varying(80)"), utc).as_deref(),
            Some("1001")
        );
        assert_eq!(
            column_value(&c, &col("disposition", "character varying(45)"), utc).as_deref(),
            Some("ANSWERED")
        );
        assert_eq!(
            column_value(&c, &col("disposition", "integer"), utc).as_deref(),
            Some("8")
        );
        assert_eq!(
            column_value(&c, &col("amaflags", "bigint"), utc).as_deref(),
            Some("3")
        );
        assert_eq!(
            column_value(&c, &col("amaflags", "text"), utc).as_deref(),
            Some("DOCUMENTATION")
        );
        assert_eq!(
            column_value(&c, &col("billsec", "bigint"), utc).as_deref(),
            Some("0")
        );
        assert_eq!(
            column_value(&c, &col("calldate", "bigint"), utc),
            Some(c.start.timestamp().to_string())
        );
        let d = column_value(&c, &col("calldate", "timestamp with time zone"), utc).unwrap();
        assert!(d.ends_with("+00:00") && d.len() == 25, "{d}");
        assert_eq!(
            column_value(&c, &col("custom", "text"), utc).as_deref(),
            Some("x")
        );
        assert_eq!(column_value(&c, &col("id", "integer"), utc), None);
        // An integer column with a value that is no number gets 0, as Asterisk's.
        assert_eq!(
            column_value(&c, &col("userfield", "integer"), utc).as_deref(),
            Some("0")
        );
    }

    #[test]
    fn insert_fills_known_columns_and_binds_values() {
        let c = record();
        let mut cols = vec![
            col("id", "integer"),
            col("calldate", "timestamp with time zone"),
            col("src", "character varying(80)"),
            col("userfield", "character varying(255)"),
            col("answer", "timestamp"),
        ];
        cols[0].hasdefault = true;
        cols[0].notnull = true;
        let mut unanswered = c.clone();
        unanswered.answer = None;
        let mut must = col("note", "text");
        must.notnull = true;
        cols.push(must);
        let q = insert_for("cdr", &cols, &unanswered, None).unwrap();
        assert_eq!(
            q.sql,
            "INSERT INTO \"cdr\" (\"calldate\", \"src\", \"userfield\", \"note\") VALUES ($1, $2, $3, $4)"
        );
        assert_eq!(q.params[2].0, "it's");
        assert_eq!(q.params[3].0, "");
    }

    #[test]
    fn the_queue_is_bounded_and_counts_what_it_drops() {
        let logged = Arc::new(Mutex::new(Vec::<String>::new()));
        let l = logged.clone();
        let b = PgsqlCdr::new(
            CdrPgsqlConfig::parse(
                &crate::config::load_str(
                    std::path::Path::new("."),
                    CONFIG_FILE,
                    "[global]\nhostname=127.0.0.1\nport=1\n",
                    &crate::config::LoadOptions::default(),
                )
                .unwrap(),
            )
            .unwrap()
            .unwrap()
            .0,
            Arc::new(move |_, m| l.lock().push(m.to_string())),
        );
        for _ in 0..MAX_QUEUED + 3 {
            b.post(&record());
        }
        assert_eq!(b.queued(), MAX_QUEUED);
        assert_eq!(b.counters.dropped.load(Ordering::Relaxed), 3);
        let logged = logged.lock();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("DROPPED"), "{logged:?}");
    }
}
