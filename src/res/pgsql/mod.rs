//! What `res_config_pgsql.so` and `cdr_pgsql.so` share: the connection settings as both
//! Asterisk modules read them, a pool of async connections (tokio-postgres + deadpool) that
//! tells outages apart from bad statements, and the SQL text built from realtime requests
//! with every value bound as a parameter ([`sql`]).
//!
//! Outage rules (as `res_config_ldap`): while the server does not answer, connecting is
//! retried with backoff (1 s doubling to 60 s) and requests in between fail at once; one
//! warning when it goes down, one notice when it is back ([`Outage`]).

pub mod sql;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::{Duration, Instant};

/// Time limit of one step (connect, statement).
pub const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections kept per module.
pub const POOL_SIZE: usize = 4;

/// Where to connect and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSettings {
    /// Host name or address; empty for the Unix socket in `socket`.
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: String,
    /// `application_name` (empty: none).
    pub appname: String,
    /// The directory of the Unix socket, used when `host` is empty.
    pub socket: String,
}

impl Default for ConnSettings {
    fn default() -> Self {
        ConnSettings {
            host: String::new(),
            port: 5432,
            dbname: "asterisk".into(),
            user: "asterisk".into(),
            password: String::new(),
            appname: String::new(),
            socket: "/tmp".into(),
        }
    }
}

impl ConnSettings {
    /// `dbname@host, port N` or `dbname on socket file DIR`, as Asterisk's status commands.
    pub fn describe(&self) -> String {
        if !self.host.is_empty() {
            format!("{}@{}, port {}", self.dbname, self.host, self.port)
        } else {
            format!("{} on socket file {}", self.dbname, self.socket)
        }
    }

    /// The driver's settings.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        if self.host.is_empty() {
            c.host_path(&self.socket);
        } else {
            c.host(&self.host);
        }
        c.port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .connect_timeout(OP_TIMEOUT);
        if !self.password.is_empty() {
            c.password(&self.password);
        }
        if !self.appname.is_empty() {
            c.application_name(&self.appname);
        }
        c
    }

    /// A pool of up to `size` connections, each made on first use. deadpool-postgres
    /// spawns each connection's driver task on the current runtime and drops a connection
    /// that has closed before handing it out again.
    pub fn pool(&self, size: usize) -> Pool {
        let mgr = Manager::from_config(
            self.pg_config(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(mgr)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(OP_TIMEOUT))
            .wait_timeout(Some(OP_TIMEOUT))
            .recycle_timeout(Some(OP_TIMEOUT))
            .build()
            .expect("a pool with a runtime and no hooks builds")
    }
}

/// Whether a server answers, shared by all the connections of a module: the backoff
/// between connection attempts while it is down, and one log line per outage.
#[derive(Debug)]
pub struct Outage {
    /// While down: no new attempt before this instant.
    retry_at: Option<Instant>,
    backoff: Duration,
    down: bool,
    /// When the server last came up (for the status commands).
    since: Option<Instant>,
}

impl Default for Outage {
    fn default() -> Self {
        Outage {
            retry_at: None,
            backoff: Duration::from_secs(1),
            down: false,
            since: None,
        }
    }
}

impl Outage {
    /// While down and inside the backoff: requests fail at once.
    pub fn blocked(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|t| now < t)
    }

    /// A connection attempt or a statement failed for want of a server. `true` when this
    /// starts an outage (log it), `false` when one is already going on.
    pub fn failed(&mut self, now: Instant) -> bool {
        let first = !self.down;
        self.down = true;
        self.since = None;
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(60));
        first
    }

    /// The server answered. `true` when this ends an outage (log it).
    pub fn answered(&mut self, now: Instant) -> bool {
        let was_down = self.down;
        self.down = false;
        self.retry_at = None;
        self.backoff = Duration::from_secs(1);
        if self.since.is_none() {
            self.since = Some(now);
        }
        was_down
    }

    pub fn is_down(&self) -> bool {
        self.down
    }

    /// How long it has answered, if it does.
    pub fn up_for(&self) -> Option<Duration> {
        if self.down {
            return None;
        }
        self.since.map(|s| s.elapsed())
    }

    /// The wait before the next attempt (the CDR writer sleeps this long).
    pub fn retry_in(&self, now: Instant) -> Duration {
        self.retry_at
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or_default()
    }
}

/// One column of a table (read with [`sql::COLUMNS_SQL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `format_type` (`character varying(80)`, `bigint`, …).
    pub ty: String,
    pub notnull: bool,
    pub hasdefault: bool,
}

impl Column {
    pub fn from_row(r: &tokio_postgres::Row) -> Column {
        Column {
            name: r.try_get(0).unwrap_or_default(),
            ty: r.try_get(1).unwrap_or_default(),
            notnull: r.try_get(2).unwrap_or_default(),
            hasdefault: r.try_get(3).unwrap_or_default(),
        }
    }

    /// `smallint`, `integer`, `bigint`.
    pub fn is_integer(&self) -> bool {
        matches!(self.ty.as_str(), "smallint" | "integer" | "bigint")
    }

    /// `real`, `double precision`, `numeric…`.
    pub fn is_float(&self) -> bool {
        self.ty == "real" || self.ty == "double precision" || self.ty.starts_with("numeric")
    }
}

/// Whether a driver error means "no server" (connection refused, closed, timed out) rather
/// than "the server refused this statement".
pub fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_none() || e.is_closed()
}

/// Whether a pool error means "no server".
pub fn pool_error_text(e: &deadpool_postgres::PoolError) -> (bool, String) {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(b) => (is_connection_error(b), b.to_string()),
        PoolError::Timeout(_) => (true, "timed out".into()),
        other => (true, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_logs_once_and_backs_off() {
        let mut o = Outage::default();
        let t0 = Instant::now();
        assert!(!o.blocked(t0));
        assert!(o.failed(t0), "the first failure starts the outage");
        assert!(o.blocked(t0));
        assert!(!o.blocked(t0 + Duration::from_secs(1)));
        assert!(
            !o.failed(t0 + Duration::from_secs(1)),
            "one line per outage"
        );
        // 1 s, then 2 s, then 4 s … up to 60 s.
        assert!(o.blocked(t0 + Duration::from_millis(2900)));
        for _ in 0..10 {
            o.failed(t0);
        }
        assert_eq!(o.retry_in(t0), Duration::from_secs(60));
        assert!(o.is_down() && o.up_for().is_none());
        assert!(o.answered(t0), "recovery is logged");
        assert!(!o.answered(t0), "once");
        assert!(!o.blocked(t0) && o.up_for().is_some());
    }

    #[test]
    fn settings_describe_as_asterisk() {
        let mut s = ConnSettings {
            host: "db1".into(),
            ..Default::default()
        };
        assert_eq!(s.describe(), "asterisk@db1, port 5432");
        s.host.clear();
        assert_eq!(s.describe(), "asterisk on socket file /tmp");
    }
}
