//! AstDB: Asterisk's family/key database, on SQLite (WAL) at `astdbdir/astdb.sqlite3`.
//!
//! Keys are stored as `/family/key` in one table, exactly as Asterisk 10+ does, so
//! `database show`, `DB_KEYS` and `deltree` share its prefix semantics. Every write is its own
//! committed transaction: a `kill -9` loses nothing that was acknowledged.

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum AstDbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create database directory {0}: {1}")]
    Dir(String, std::io::Error),
}

pub struct AstDb {
    conn: Mutex<Connection>,
}

/// `/family/key` (family and key may themselves contain `/`).
fn full_key(family: &str, key: &str) -> String {
    format!("/{family}/{key}")
}

/// Prefix for family and optional key tree, as Asterisk builds it.
fn prefix(family: Option<&str>, keytree: Option<&str>) -> String {
    match (
        family.filter(|f| !f.is_empty()),
        keytree.filter(|k| !k.is_empty()),
    ) {
        (Some(f), Some(k)) => format!("/{f}/{k}"),
        (Some(f), None) => format!("/{f}"),
        _ => String::new(),
    }
}

impl AstDb {
    /// Open (creating) the database file at `path`.
    pub fn open(path: &Path) -> Result<AstDb, AstDbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AstDbError::Dir(dir.display().to_string(), e))?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> Result<AstDb, AstDbError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<AstDb, AstDbError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS astdb(key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key));",
        )?;
        Ok(AstDb {
            conn: Mutex::new(conn),
        })
    }

    pub fn get(&self, family: &str, key: &str) -> Option<String> {
        let c = self.conn.lock();
        c.query_row(
            "SELECT value FROM astdb WHERE key = ?1",
            params![full_key(family, key)],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .ok()
        .flatten()
    }

    pub fn put(&self, family: &str, key: &str, value: &str) -> Result<(), AstDbError> {
        let c = self.conn.lock();
        c.execute(
            "INSERT OR REPLACE INTO astdb (key, value) VALUES (?1, ?2)",
            params![full_key(family, key), value],
        )?;
        Ok(())
    }

    /// Apply many puts (`Some(value)`) and deletes (`None`) in one transaction, in order.
    pub fn apply_batch(&self, ops: &[(String, String, Option<String>)]) -> Result<(), AstDbError> {
        let mut c = self.conn.lock();
        let tx = c.transaction()?;
        {
            let mut put =
                tx.prepare_cached("INSERT OR REPLACE INTO astdb (key, value) VALUES (?1, ?2)")?;
            let mut del = tx.prepare_cached("DELETE FROM astdb WHERE key = ?1")?;
            for (family, key, value) in ops {
                match value {
                    Some(v) => {
                        put.execute(params![full_key(family, key), v])?;
                    }
                    None => {
                        del.execute(params![full_key(family, key)])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Delete one key; `Ok(false)` when it did not exist.
    pub fn del(&self, family: &str, key: &str) -> Result<bool, AstDbError> {
        let c = self.conn.lock();
        let n = c.execute(
            "DELETE FROM astdb WHERE key = ?1",
            params![full_key(family, key)],
        )?;
        Ok(n > 0)
    }

    /// Delete a family or a key tree below it; returns how many entries went.
    pub fn deltree(
        &self,
        family: Option<&str>,
        keytree: Option<&str>,
    ) -> Result<usize, AstDbError> {
        let p = prefix(family, keytree);
        let c = self.conn.lock();
        let n = if p.is_empty() {
            c.execute("DELETE FROM astdb", [])?
        } else {
            c.execute(
                "DELETE FROM astdb WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
                params![p, format!("{p}/"), format!("{p}0")],
            )?
        };
        Ok(n)
    }

    /// Entries at or below a family/key tree, sorted by key (for `database show`).
    pub fn show(&self, family: Option<&str>, keytree: Option<&str>) -> Vec<(String, String)> {
        let p = prefix(family, keytree);
        let c = self.conn.lock();
        let rows = if p.is_empty() {
            c.prepare("SELECT key, value FROM astdb ORDER BY key")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                })
        } else {
            c.prepare(
                "SELECT key, value FROM astdb WHERE key = ?1 OR (key >= ?2 AND key < ?3) ORDER BY key",
            )
            .and_then(|mut s| {
                s.query_map(params![p, format!("{p}/"), format!("{p}0")], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            })
        };
        rows.unwrap_or_default()
    }

    /// Entries whose last key component equals `key` (`database showkey`).
    pub fn showkey(&self, key: &str) -> Vec<(String, String)> {
        let suffix = format!("/{key}");
        let c = self.conn.lock();
        c.prepare("SELECT key, value FROM astdb WHERE key LIKE ?1 ORDER BY key")
            .and_then(|mut s| {
                s.query_map(params![format!("%{suffix}")], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .and_then(|it| it.collect::<Result<Vec<(String, String)>, _>>())
            })
            .map(|v| {
                v.into_iter()
                    .filter(|(k, _)| k.ends_with(&suffix))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The next-level key names directly below `/family[/keytree]` (DB_KEYS), unique, sorted.
    pub fn keys(&self, path: &str) -> Vec<String> {
        let path = path.trim_matches('/');
        let p = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        let all = if p.is_empty() {
            self.show(None, None)
        } else {
            let mut parts = path.splitn(2, '/');
            let fam = parts.next();
            let kt = parts.next();
            self.show(fam, kt)
        };
        let mut out: Vec<String> = Vec::new();
        for (k, _) in all {
            if let Some(rest) = k.strip_prefix(&format!("{p}/")) {
                let first = rest.split('/').next().unwrap_or("").to_string();
                if !first.is_empty() && out.last() != Some(&first) && !out.contains(&first) {
                    out.push(first);
                }
            }
        }
        out
    }

    /// Run a raw SQL statement (`database query`); rows as column/value pairs.
    pub fn query(&self, sql: &str) -> Result<Vec<Vec<(String, String)>>, AstDbError> {
        let c = self.conn.lock();
        let mut stmt = c.prepare(sql)?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::new();
            for (i, n) in names.iter().enumerate() {
                let v: rusqlite::types::Value = r.get(i)?;
                let s = match v {
                    rusqlite::types::Value::Null => "(null)".to_string(),
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Real(f) => f.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
                };
                row.push((n.clone(), s));
            }
            out.push(row);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_key_semantics() {
        let db = AstDb::open_in_memory().unwrap();
        db.put("cidname", "5551234", "Alice").unwrap();
        db.put("extension/100", "device", "SIP/100").unwrap();
        db.put("extension/100", "calendar", "cal1").unwrap();
        db.put("extension/1000", "device", "SIP/1000").unwrap();
        assert_eq!(db.get("cidname", "5551234").as_deref(), Some("Alice"));
        assert_eq!(
            db.get("extension", "100/device").as_deref(),
            Some("SIP/100")
        );
        assert_eq!(db.show(Some("extension"), Some("100")).len(), 2);
        assert_eq!(db.keys("extension"), vec!["100", "1000"]);
        assert_eq!(db.keys("extension/100"), vec!["calendar", "device"]);
        assert!(db.del("cidname", "5551234").unwrap());
        assert!(!db.del("cidname", "5551234").unwrap());
        assert_eq!(db.deltree(Some("extension"), Some("100")).unwrap(), 2);
        assert_eq!(db.show(None, None).len(), 1);
        assert_eq!(db.showkey("device").len(), 1);
    }
}
