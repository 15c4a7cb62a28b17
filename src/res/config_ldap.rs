//! `res_config_ldap.so`: the `ldap` realtime engine, configured by `res_ldap.conf` as
//! Asterisk's res_config_ldap.
//!
//! - `[_general]`: `url` (several, space separated, tried in order: failover), or `host` +
//!   `port`; `basedn`; `user` + `pass` (simple bind); `protocol`/`version` (3). Other keys of
//!   `[_general]` are attribute mappings every table inherits.
//! - Every other section is a *table* (`[sip]`, `[voicemail]`, …), named as the third field
//!   of an `extconfig.conf` line (`sippeers => ldap,"ou=people,dc=example,dc=com",sip`): its
//!   lines map Asterisk column names to LDAP attributes (`name = cn`,
//!   `context = AstAccountContext`; a column may map to several attributes), and
//!   `additionalFilter` is added to every search of the table.
//! - The `database` of a mapping is the search base (`|` stands for `,`, as Asterisk allows).
//!
//! Searches are `(&<additionalFilter><column=value>…)` with the columns mapped to attributes;
//! values are escaped (RFC 4515), except that a `name LIKE` field turns SQL's `%` into `*`.
//! Results map attributes back to column names (unmapped attributes keep their name);
//! `md5secret` loses a leading `{md5}`. `update`/`update2` modify every entry found;
//! `store`/`destroy` are not supported (as in Asterisk).
//!
//! Operations go in turn to a pool of [`POOL_SIZE`] connections, each made on first use and
//! made again after an error, with a time limit on every operation. While the directory is
//! down, connecting is retried with backoff (1 s doubling to 60 s): a look-up in between
//! fails at once. One warning when it goes down, one notice when it is back, not one per
//! request or per connection.

use crate::config::settings::Settings;
use crate::config::{ConfigError, ConfigFile};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload, SupportLevel};
use crate::pbx::realtime::{parse_field, CompareOp, Fields, RealtimeEngine, RealtimeError};
use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The config file.
pub const CONFIG_FILE: &str = "res_ldap.conf";

/// Time limit of one LDAP operation (connect, bind, search, modify).
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// `[_general]` keys that are not attribute mappings.
const GENERAL_KEYS: &[&str] = &[
    "url", "host", "port", "basedn", "user", "pass", "protocol", "version",
];

/// One table section: column → attribute mappings and the extra filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// (column, attribute) in file order.
    pub map: Vec<(String, String)>,
    pub additional_filter: Option<String>,
}

/// `res_ldap.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdapConfig {
    /// URLs to try in order.
    pub urls: Vec<String>,
    pub basedn: String,
    pub user: String,
    pub pass: String,
    pub version: u8,
    /// `[_general]`'s mappings and filter, inherited by every table.
    pub general: Table,
    pub tables: Vec<Table>,
}

impl LdapConfig {
    /// Parse `res_ldap.conf`; errors name file:line:column.
    pub fn parse(cf: &ConfigFile) -> Result<(LdapConfig, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        let mut c = LdapConfig {
            version: 3,
            ..Default::default()
        };
        let Some(g) = cf.section("_general") else {
            return Err(ConfigError::new(format!(
                "{}: no [_general] section (url, basedn, user, pass)",
                cf.path.display()
            )));
        };
        if let Some(u) = g.get("url") {
            c.urls = u.split_whitespace().map(str::to_string).collect();
        } else if let Some(h) = g.get("host") {
            let port = g
                .get("port")
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or(389);
            c.urls = vec![format!("ldap://{}:{port}", h.trim())];
        }
        if c.urls.is_empty() {
            return Err(ConfigError::at(
                &g.loc,
                "No directory URL or host found (url = ldap://host:port)",
            ));
        }
        for u in &c.urls {
            if !(u.starts_with("ldap://") || u.starts_with("ldaps://") || u.starts_with("ldapi://"))
            {
                let loc = g
                    .get_all("url")
                    .last()
                    .map(|e| e.loc.clone())
                    .unwrap_or_else(|| g.loc.clone());
                return Err(ConfigError::at(
                    &loc,
                    format!("'{u}' is not an ldap://, ldaps:// or ldapi:// URL"),
                ));
            }
        }
        c.basedn = g.get("basedn").unwrap_or("").trim().to_string();
        c.user = g.get("user").unwrap_or("").trim().to_string();
        c.pass = g.get("pass").unwrap_or("").to_string();
        if let Some(v) = g.get("protocol").or_else(|| g.get("version")) {
            match v.trim().parse::<u8>() {
                Ok(n) if (1..=6).contains(&n) => c.version = n,
                _ => warnings.push(format!("Invalid LDAP version '{v}', using 3 as default.")),
            }
        }
        for sec in &cf.sections {
            if sec.is_template {
                continue;
            }
            let is_general = sec.name.eq_ignore_ascii_case("_general");
            let mut t = Table {
                name: sec.name.clone(),
                ..Default::default()
            };
            for e in &sec.entries {
                if e.key.eq_ignore_ascii_case("additionalFilter") {
                    t.additional_filter = Some(e.value.trim().to_string());
                } else if is_general && GENERAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&e.key))
                {
                    continue;
                } else if !e.value.trim().is_empty() {
                    t.map
                        .push((e.key.trim().to_string(), e.value.trim().to_string()));
                }
            }
            if is_general {
                c.general = t;
            } else {
                c.tables.push(t);
            }
        }
        Ok((c, warnings))
    }

    fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The LDAP attribute for `column` in `table` (the table's first mapping, then
    /// `[_general]`'s, else the column's own name).
    pub fn attribute<'a>(&'a self, table: Option<&'a Table>, column: &'a str) -> &'a str {
        for t in table.into_iter().chain([&self.general]) {
            if let Some((_, a)) = t.map.iter().find(|(c, _)| c.eq_ignore_ascii_case(column)) {
                return a;
            }
        }
        column
    }

    /// The column for LDAP attribute `attr` (the reverse of [`LdapConfig::attribute`]).
    pub fn column<'a>(&'a self, table: Option<&'a Table>, attr: &'a str) -> &'a str {
        for t in table.into_iter().chain([&self.general]) {
            if let Some((c, _)) = t.map.iter().find(|(_, a)| a.eq_ignore_ascii_case(attr)) {
                return c;
            }
        }
        attr
    }

    /// The search filter for `filter` in `table` (Asterisk's create_lookup_filter).
    pub fn filter(
        &self,
        table: &str,
        fields: &[(String, String)],
    ) -> Result<String, RealtimeError> {
        let t = self.table(table);
        let mut f = String::from("(&");
        if let Some(extra) = t.and_then(|t| t.additional_filter.as_deref()) {
            f.push_str(extra);
        }
        if let Some(extra) = self.general.additional_filter.as_deref() {
            f.push_str(extra);
        }
        for (name, value) in fields {
            let (column, op) = parse_field(name)?;
            let attr = self.attribute(t, column);
            let v = match op {
                // SQL wildcards become LDAP's: `%` → `*`, `\_` → `_`; the rest is escaped.
                CompareOp::Like | CompareOp::NotLike => value
                    .replace("\\_", "_")
                    .split('%')
                    .map(|p| ldap3::ldap_escape(p).into_owned())
                    .collect::<Vec<_>>()
                    .join("*"),
                _ => ldap3::ldap_escape(value.as_str()).into_owned(),
            };
            let item = match op {
                CompareOp::Eq | CompareOp::Like => format!("({attr}={v})"),
                CompareOp::Ne | CompareOp::NotLike => format!("(!({attr}={v}))"),
                CompareOp::Ge => format!("({attr}>={v})"),
                CompareOp::Le => format!("({attr}<={v})"),
                CompareOp::Gt => format!("(!({attr}<={v}))"),
                CompareOp::Lt => format!("(!({attr}>={v}))"),
            };
            f.push_str(&item);
        }
        f.push(')');
        Ok(f)
    }

    /// A search result as columns. `md5secret` is normalised to the 32 hex digits chan_sip
    /// uses: a leading `{md5}`/`{MD5}` goes, and base64 of the 16-byte digest (as
    /// `userPassword: {MD5}…` stores it) becomes hex. An entry whose `md5secret` is neither
    /// is malformed: `Err` says why, naming its DN.
    pub fn to_fields(&self, table: &str, e: &SearchEntry) -> Result<Fields, String> {
        let t = self.table(table);
        let mut out = Fields::new();
        let mut attrs: Vec<(&String, &Vec<String>)> = e.attrs.iter().collect();
        attrs.sort_by(|a, b| a.0.cmp(b.0));
        for (attr, values) in attrs {
            if attr.eq_ignore_ascii_case("objectClass") {
                continue;
            }
            let column = self.column(t, attr).to_string();
            for v in values {
                let value = if column.eq_ignore_ascii_case("md5secret") {
                    md5_hex(v).ok_or_else(|| {
                        format!(
                            "dn:{} has a {attr} that is not an MD5 digest (hex or base64, optionally {{MD5}})",
                            e.dn
                        )
                    })?
                } else {
                    v.clone()
                };
                out.push((column.clone(), value));
            }
        }
        Ok(out)
    }
}

/// An MD5 digest as 32 lower-case hex digits, from hex or base64, with or without `{md5}`.
pub fn md5_hex(v: &str) -> Option<String> {
    let v = v.trim();
    let v = match v.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("{md5}") => &v[5..],
        _ => v,
    };
    if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(v.to_ascii_lowercase());
    }
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    (raw.len() == 16).then(|| raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// A search base from an `extconfig.conf` database field (`|` → `,`), or the config's.
fn base_dn(cfg: &LdapConfig, database: &str) -> String {
    let d = database.trim();
    if d.is_empty() {
        cfg.basedn.clone()
    } else {
        d.replace('|', ",")
    }
}

/// How many connections the engine keeps to the directory. Operations go to them in turn
/// (each connection also carries several operations at once), so a connection that breaks
/// or stalls holds up a quarter of the look-ups, not all of them.
pub const POOL_SIZE: usize = 4;

/// One pooled connection.
#[derive(Default)]
struct Slot {
    ldap: Option<Ldap>,
    /// Which URL answered.
    url: String,
    since: Option<Instant>,
}

/// Whether the directory answers, shared by the pool: one log line per outage, and the
/// backoff between connection attempts while it is down.
struct Health {
    /// While down: no new connection attempt before this instant.
    retry_at: Option<Instant>,
    backoff: Duration,
    down: bool,
}

/// The engine.
pub struct LdapEngine {
    cfg: LdapConfig,
    pool: Vec<tokio::sync::Mutex<Slot>>,
    next: std::sync::atomic::AtomicUsize,
    health: parking_lot::Mutex<Health>,
    log: LogSink,
}

/// Where the engine's log lines go (the PBX's warning/notice in the module).
pub type LogSink = Arc<dyn Fn(LogKind, &str) + Send + Sync>;

/// What kind of log line the engine writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Warning,
    Notice,
}

impl LdapEngine {
    pub fn new(cfg: LdapConfig, log: LogSink) -> LdapEngine {
        LdapEngine {
            cfg,
            pool: (0..POOL_SIZE)
                .map(|_| tokio::sync::Mutex::new(Slot::default()))
                .collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
            health: parking_lot::Mutex::new(Health {
                retry_at: None,
                backoff: Duration::from_secs(1),
                down: false,
            }),
            log,
        }
    }

    pub fn config(&self) -> &LdapConfig {
        &self.cfg
    }

    /// An entry's columns, or `None` with a warning naming its DN when it is malformed.
    fn readable(&self, table: &str, e: &SearchEntry) -> Option<Fields> {
        match self.cfg.to_fields(table, e) {
            Ok(f) => Some(f),
            Err(why) => {
                (self.log)(
                    LogKind::Warning,
                    &format!("res_config_ldap.c: skipping {why}"),
                );
                None
            }
        }
    }

    /// `realtime show ldap status`: the URL of the oldest open connection and its age.
    pub async fn status(&self) -> Option<(String, Duration)> {
        let mut best: Option<(String, Duration)> = None;
        for slot in &self.pool {
            let c = slot.lock().await;
            if c.ldap.is_none() {
                continue;
            }
            let age = c.since.map(|s| s.elapsed()).unwrap_or_default();
            if best.as_ref().is_none_or(|(_, a)| age > *a) {
                best = Some((c.url.clone(), age));
            }
        }
        best
    }

    /// How many pooled connections are open.
    pub async fn open_connections(&self) -> usize {
        let mut n = 0;
        for slot in &self.pool {
            n += usize::from(slot.lock().await.ldap.is_some());
        }
        n
    }

    /// Open a connection, trying every URL in order; bind when a user is configured.
    async fn connect(&self) -> Result<(Ldap, String), String> {
        let mut last = String::from("no URL");
        for url in &self.cfg.urls {
            let settings = LdapConnSettings::new().set_conn_timeout(OP_TIMEOUT);
            match LdapConnAsync::with_settings(settings, url).await {
                Ok((conn, mut ldap)) => {
                    ldap3::drive!(conn);
                    if !self.cfg.user.is_empty() {
                        let bind = tokio::time::timeout(
                            OP_TIMEOUT,
                            ldap.simple_bind(&self.cfg.user, &self.cfg.pass),
                        )
                        .await;
                        match bind {
                            Ok(Ok(r)) if r.rc == 0 => {}
                            Ok(Ok(r)) => {
                                last = format!("{url}: bind as {} refused ({})", self.cfg.user, r);
                                continue;
                            }
                            Ok(Err(e)) => {
                                last = format!("{url}: {e}");
                                continue;
                            }
                            Err(_) => {
                                last = format!("{url}: bind timed out");
                                continue;
                            }
                        }
                    }
                    return Ok((ldap, url.clone()));
                }
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        Err(last)
    }

    /// The next pooled connection (made now if needed) and its slot, or why there is none.
    async fn ldap(&self) -> Result<(usize, Ldap), RealtimeError> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.pool.len();
        let mut c = self.pool[i].lock().await;
        if let Some(l) = &c.ldap {
            return Ok((i, l.clone()));
        }
        if self
            .health
            .lock()
            .retry_at
            .is_some_and(|t| Instant::now() < t)
        {
            return Err(RealtimeError::Backend("LDAP server unreachable".into()));
        }
        match self.connect().await {
            Ok((l, url)) => {
                let mut h = self.health.lock();
                if h.down {
                    (self.log)(
                        LogKind::Notice,
                        &format!("res_config_ldap.c: Connection to {url} is back"),
                    );
                }
                h.down = false;
                h.retry_at = None;
                h.backoff = Duration::from_secs(1);
                drop(h);
                c.ldap = Some(l.clone());
                c.url = url;
                c.since = Some(Instant::now());
                Ok((i, l))
            }
            Err(why) => {
                let mut h = self.health.lock();
                if !h.down {
                    (self.log)(
                        LogKind::Warning,
                        &format!("res_config_ldap.c: Couldn't establish connection to LDAP directory ({why}); retrying with backoff"),
                    );
                }
                h.down = true;
                h.retry_at = Some(Instant::now() + h.backoff);
                h.backoff = (h.backoff * 2).min(Duration::from_secs(60));
                Err(RealtimeError::Backend(format!("LDAP: {why}")))
            }
        }
    }

    /// Forget the connection of `slot`, which failed (the next use reconnects). The first
    /// connection lost says so; the others of the pool fail quietly until one is back.
    async fn drop_conn(&self, slot: usize, why: &str) {
        let mut c = self.pool[slot].lock().await;
        if c.ldap.take().is_some() {
            let mut h = self.health.lock();
            if !h.down {
                h.down = true;
                (self.log)(
                    LogKind::Warning,
                    &format!(
                        "res_config_ldap.c: LDAP connection to {} lost ({why}); reconnecting",
                        c.url
                    ),
                );
            }
        }
    }

    /// Run one LDAP operation with the time limit; a failure drops the connection (the next
    /// call makes a new one).
    async fn timed<T>(
        &self,
        slot: usize,
        what: &str,
        op: impl std::future::Future<Output = ldap3::result::Result<T>>,
    ) -> Result<T, RealtimeError> {
        match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.drop_conn(slot, &e.to_string()).await;
                Err(RealtimeError::Backend(format!("LDAP {what} failed: {e}")))
            }
            Err(_) => {
                self.drop_conn(slot, &format!("{what} timed out")).await;
                Err(RealtimeError::Backend(format!("LDAP {what} timed out")))
            }
        }
    }

    async fn search(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Vec<SearchEntry>, RealtimeError> {
        if filter.is_empty() {
            return Err(RealtimeError::Invalid(
                "realtime retrieval requires at least 1 parameter".into(),
            ));
        }
        let f = self.cfg.filter(table, filter)?;
        let base = base_dn(&self.cfg, database);
        let (slot, mut ldap) = self.ldap().await?;
        let r = self
            .timed(
                slot,
                "search",
                ldap.search(&base, Scope::Subtree, &f, vec!["*"]),
            )
            .await?;
        let (entries, result) = (r.0, r.1);
        // 32: no such object (the base does not exist) means no rows.
        if result.rc != 0 && result.rc != 32 {
            return Err(RealtimeError::Backend(format!(
                "LDAP search {f} under {base}: {result}"
            )));
        }
        Ok(entries.into_iter().map(SearchEntry::construct).collect())
    }

    async fn modify(
        &self,
        database: &str,
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        let t = self.cfg.table(table);
        let entries = self.search(database, table, lookup).await?;
        let (slot, mut ldap) = self.ldap().await?;
        let mods_for = |only_mapped: bool| -> Vec<Mod<String>> {
            set.iter()
                .filter(|(col, _)| {
                    !only_mapped
                        || !self
                            .cfg
                            .attribute(t, col.trim())
                            .eq_ignore_ascii_case(col.trim())
                })
                .map(|(col, v)| {
                    let attr = self.cfg.attribute(t, col.trim()).to_string();
                    if v.is_empty() {
                        Mod::Replace(attr, HashSet::new())
                    } else {
                        Mod::Replace(attr, HashSet::from([v.clone()]))
                    }
                })
                .collect()
        };
        let mut n = 0;
        for e in entries {
            let mut only_mapped = false;
            loop {
                let mods = mods_for(only_mapped);
                if mods.is_empty() {
                    break;
                }
                let r = self.timed(slot, "modify", ldap.modify(&e.dn, mods)).await?;
                match r.rc {
                    0 => {
                        n += 1;
                        break;
                    }
                    // undefinedAttributeType / objectClassViolation: a column the table does
                    // not map (chan_sip writes lastms, regserver, …): write the mapped ones.
                    17 | 65 if !only_mapped => only_mapped = true,
                    _ => {
                        (self.log)(
                            LogKind::Warning,
                            &format!("res_config_ldap.c: Couldn't modify dn:{} because {r}", e.dn),
                        );
                        break;
                    }
                }
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl RealtimeEngine for LdapEngine {
    fn name(&self) -> &'static str {
        "ldap"
    }

    async fn load(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Option<Fields>, RealtimeError> {
        let entries = self.search(database, table, filter).await?;
        // The first entry that can be read (malformed ones are skipped with a warning).
        Ok(entries.iter().find_map(|e| self.readable(table, e)))
    }

    async fn load_multi(
        &self,
        database: &str,
        table: &str,
        filter: &[(String, String)],
    ) -> Result<Vec<Fields>, RealtimeError> {
        let entries = self.search(database, table, filter).await?;
        Ok(entries
            .iter()
            .filter_map(|e| self.readable(table, e))
            .collect())
    }

    async fn update(
        &self,
        database: &str,
        table: &str,
        keyfield: &str,
        lookup: &str,
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        self.modify(
            database,
            table,
            &[(keyfield.to_string(), lookup.to_string())],
            set,
        )
        .await
    }

    async fn update2(
        &self,
        database: &str,
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        self.modify(database, table, lookup, set).await
    }

    async fn store(
        &self,
        _database: &str,
        _table: &str,
        _fields: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        Err(RealtimeError::Backend(
            "the LDAP realtime engine does not store new entries (as Asterisk's)".into(),
        ))
    }

    async fn destroy(
        &self,
        _database: &str,
        _table: &str,
        _keyfield: &str,
        _lookup: &str,
        _filter: &[(String, String)],
    ) -> Result<usize, RealtimeError> {
        Err(RealtimeError::Backend(
            "the LDAP realtime engine does not delete entries (as Asterisk's)".into(),
        ))
    }
}

/// Read `res_ldap.conf` (errors name file:line:column).
pub fn read_config(settings: &Settings) -> Result<Option<(LdapConfig, Vec<String>)>, ConfigError> {
    if !settings.astetcdir.join(CONFIG_FILE).exists() {
        return Ok(None);
    }
    let cf = crate::config::load(&settings.astetcdir, CONFIG_FILE, &settings.load_options())?;
    LdapConfig::parse(&cf).map(Some)
}

/// The module. Without `res_ldap.conf` it declines, as Asterisk's.
pub struct ResConfigLdap;

impl Module for ResConfigLdap {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_config_ldap.so", "LDAP realtime interface")
            .support(SupportLevel::Extended)
            .configs(&[CONFIG_FILE])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        let Some((cfg, warnings)) =
            read_config(&pbx.settings).map_err(|e| ModuleError::Failed(e.to_string()))?
        else {
            return Err(ModuleError::Decline(format!(
                "Cannot load configuration file: {CONFIG_FILE}"
            )));
        };
        for w in warnings {
            pbx.warning(&format!("res_config_ldap.c: {w}"));
        }
        let weak = Arc::downgrade(pbx);
        let log: LogSink = Arc::new(move |k, m| {
            if let Some(p) = weak.upgrade() {
                match k {
                    LogKind::Warning => p.warning(m),
                    LogKind::Notice => p.notice(m),
                }
            }
        });
        let engine = Arc::new(LdapEngine::new(cfg, log));
        ctx.provide(engine.clone());
        ctx.register_realtime_engine(engine);
        ctx.register_cli(status_command());
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match read_config(&ctx.pbx.settings) {
            Ok(Some(_)) => Reload::Done(
                "res_ldap.conf is read when res_config_ldap.so loads: use 'module refresh res_config_ldap.so'\n".into(),
            ),
            Ok(None) => Reload::Failed(format!("{CONFIG_FILE} is missing\n")),
            Err(e) => Reload::Failed(format!("{e}\n")),
        }
    }
}

/// `realtime show ldap status`.
fn status_command() -> crate::pbx::cli::Command {
    crate::pbx::cli::Command::new(
        "realtime show ldap status",
        "Shows connection information for the LDAP RealTime driver",
        "Usage: realtime show ldap status\n\t       Shows connection information for the LDAP RealTime driver\n",
        |c: crate::pbx::cli::Ctx| async move {
            let Some(engine) = c.pbx().service::<LdapEngine>() else {
                return Err(crate::pbx::cli::CliError::Failure("LDAP realtime is not loaded".into()));
            };
            match engine.status().await {
                Some((url, up)) => {
                    let mut s = format!("Connected to '{url}', baseDN {}", engine.config().basedn);
                    if !engine.config().user.is_empty() {
                        s.push_str(&format!(" with username {}", engine.config().user));
                    }
                    Ok(format!(
                        "{s} for {}\n",
                        crate::cli::format::uptime_str(up.as_secs())
                    ))
                }
                None => Err(crate::pbx::cli::CliError::Failure(String::new())),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> LdapConfig {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            CONFIG_FILE,
            text,
            &Default::default(),
        )
        .unwrap();
        LdapConfig::parse(&cf).unwrap().0
    }

    const SAMPLE: &str = "[_general]\nurl = ldap://127.0.0.1:3890 ldap://127.0.0.1:3891\nbasedn = dc=example,dc=com\nuser = cn=admin,dc=example,dc=com\npass = secret\naccountcode = AstAccountAccountCode\n\n[sip]\nname = cn\nmd5secret = AstAccountRealmedPassword\ncontext = AstAccountContext\nfullcontact = AstAccountFullContact\nfullcontact = gecos\nadditionalFilter=(objectClass=AsteriskSIPUser)\n";

    #[test]
    fn parses_urls_mappings_and_filters() {
        let c = cfg(SAMPLE);
        assert_eq!(
            c.urls,
            vec!["ldap://127.0.0.1:3890", "ldap://127.0.0.1:3891"]
        );
        assert_eq!(c.basedn, "dc=example,dc=com");
        let t = c.table("SIP");
        assert_eq!(c.attribute(t, "name"), "cn");
        assert_eq!(c.attribute(t, "fullcontact"), "AstAccountFullContact");
        assert_eq!(c.attribute(t, "accountcode"), "AstAccountAccountCode");
        assert_eq!(c.attribute(t, "host"), "host");
        assert_eq!(c.column(t, "gecos"), "fullcontact");
        assert_eq!(c.column(t, "astaccountcontext"), "context");
        let f = c.filter("sip", &[("name".into(), "1001".into())]).unwrap();
        assert_eq!(f, "(&(objectClass=AsteriskSIPUser)(cn=1001))");
        let f = c
            .filter(
                "sip",
                &[
                    ("name LIKE".into(), "10%".into()),
                    ("context !=".into(), "x)(y".into()),
                ],
            )
            .unwrap();
        assert_eq!(
            f,
            "(&(objectClass=AsteriskSIPUser)(cn=10*)(!(AstAccountContext=x\\29\\28y)))"
        );
        let f = c
            .filter("voicemail", &[("mailbox".into(), "*".into())])
            .unwrap();
        assert_eq!(f, "(&(mailbox=\\2a))");
    }

    #[test]
    fn config_errors_name_the_file() {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            CONFIG_FILE,
            "[_general]\nurl = http://x\n",
            &Default::default(),
        )
        .unwrap();
        let e = LdapConfig::parse(&cf).unwrap_err().to_string();
        assert!(
            e.contains("res_ldap.conf:2:") && e.contains("http://x"),
            "{e}"
        );
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            CONFIG_FILE,
            "[sip]\nname = cn\n",
            &Default::default(),
        )
        .unwrap();
        assert!(LdapConfig::parse(&cf)
            .unwrap_err()
            .to_string()
            .contains("[_general]"));
        let c = cfg("[_general]\nhost = 10.0.0.1\nbasedn = dc=x\n");
        assert_eq!(c.urls, vec!["ldap://10.0.0.1:389"]);
    }

    #[test]
    fn results_map_back_and_md5_prefix_goes() {
        let c = cfg(SAMPLE);
        let mut e = SearchEntry {
            dn: "cn=1001,ou=people,dc=example,dc=com".into(),
            attrs: Default::default(),
            bin_attrs: Default::default(),
        };
        e.attrs.insert("cn".into(), vec!["1001".into()]);
        e.attrs.insert(
            "AstAccountRealmedPassword".into(),
            vec!["{MD5}0123456789ABCDEF0123456789abcdef".into()],
        );
        e.attrs
            .insert("objectClass".into(), vec!["AsteriskSIPUser".into()]);
        e.attrs
            .insert("AstAccountHost".into(), vec!["dynamic".into()]);
        let f = c.to_fields("sip", &e).unwrap();
        assert!(f.contains(&("name".into(), "1001".into())));
        assert!(f.contains(&(
            "md5secret".into(),
            "0123456789abcdef0123456789abcdef".into()
        )));
        assert!(f.contains(&("AstAccountHost".into(), "dynamic".into())));
        assert!(!f.iter().any(|(k, _)| k == "objectClass"));
        // A malformed password makes the entry unreadable, naming its DN.
        e.attrs.insert(
            "AstAccountRealmedPassword".into(),
            vec!["plain-text".into()],
        );
        let why = c.to_fields("sip", &e).unwrap_err();
        assert!(why.contains("dn:cn=1001,ou=people"), "{why}");
    }

    #[test]
    fn md5_in_hex_or_base64() {
        // md5("secret") = 5ebe2294ecd0e0f08eab7690d2a6ee69 (base64 Xr4ilOzQ4PCOq3aQ0qbuaQ==).
        let hex = "5ebe2294ecd0e0f08eab7690d2a6ee69";
        assert_eq!(md5_hex(hex).as_deref(), Some(hex));
        assert_eq!(
            md5_hex("{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==").as_deref(),
            Some(hex)
        );
        assert_eq!(
            md5_hex("{md5}5EBE2294ECD0E0F08EAB7690D2A6EE69").as_deref(),
            Some(hex)
        );
        assert_eq!(md5_hex("secret"), None);
        assert_eq!(md5_hex("{MD5}"), None);
    }

    #[tokio::test]
    async fn a_directory_that_is_down_fails_fast_and_logs_once() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = cfg(&format!(
            "[_general]\nurl = ldap://127.0.0.1:{port}\nbasedn = dc=x\n[sip]\nname = cn\n"
        ));
        let lines = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let l2 = lines.clone();
        let e = LdapEngine::new(c, Arc::new(move |_, m| l2.lock().push(m.to_string())));
        for _ in 0..5 {
            let r = e.load("", "sip", &[("name".into(), "1001".into())]).await;
            assert!(matches!(r, Err(RealtimeError::Backend(_))), "{r:?}");
        }
        assert_eq!(lines.lock().len(), 1, "{:?}", lines.lock());
        assert!(e.status().await.is_none());
    }
}
