//! AstDB functions: DB, DB_EXISTS, DB_DELETE, DB_KEYS (Asterisk 20's func_db.c).
//!
//! `family/key` splits at the first `/` (`AST_NONSTANDARD_APP_ARGS` with two fields), so
//! `DB(extension/100/device)` is family `extension`, key `100/device`.
//!
//! They are functions that wait ([`Func::is_async`]): in dialplan arguments and `Set()` the
//! SQLite work runs on the blocking pool, never on an async worker. The synchronous `read`
//! and `write` serve callers that cannot wait (mail templates).

use super::{Func, FuncError};
use crate::astdb::AstDb;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// Run `f` on the AstDB on the blocking pool.
async fn on_db<T: Send + 'static>(
    chan: &Channel,
    f: impl FnOnce(&AstDb) -> T + Send + 'static,
) -> Result<T, FuncError> {
    let pbx = chan.pbx.clone();
    tokio::task::spawn_blocking(move || f(&pbx.astdb))
        .await
        .map_err(|e| FuncError::Other(format!("database task failed: {e}")))
}

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("func_db.so", "Database (astdb) related dialplan functions"),
    register: register_func_db,
}];

fn register_func_db(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(DbFunc));
    ctx.register_func(Arc::new(DbExistsFunc));
    ctx.register_func(Arc::new(DbDeleteFunc));
    ctx.register_func(Arc::new(DbKeysFunc));
    ctx.register_func(Arc::new(DbKeyCountFunc));
}

/// Split `family/key` at the first `/`; `None` when there is no key part.
pub fn split_family_key(arg: &str) -> Option<(&str, &str)> {
    let (family, key) = arg.split_once('/')?;
    Some((family, key))
}

fn parse<'a>(arg: &'a str, usage: &str) -> Result<(&'a str, &'a str), FuncError> {
    if arg.is_empty() {
        return Err(FuncError::Usage(usage.to_string()));
    }
    split_family_key(arg).ok_or_else(|| FuncError::Usage(usage.to_string()))
}

const DB_USAGE: &str = "DB requires an argument, DB(<family>/<key>)";
const DB_WRITE_USAGE: &str = "DB requires an argument, DB(<family>/<key>)=<value>";
const EXISTS_USAGE: &str = "DB_EXISTS requires an argument, DB(<family>/<key>)";
const DELETE_USAGE: &str = "DB_DELETE requires an argument, DB_DELETE(<family>/<key>)";

pub struct DbFunc;

impl DbFunc {
    /// What `${DB(family/key)}` gives for the value found (and DB_RESULT).
    fn answer(chan: &mut Channel, family: &str, key: &str, v: Option<String>) -> String {
        match v {
            Some(v) => {
                chan.set_var("DB_RESULT", &v);
                v
            }
            None => {
                tracing::debug!("DB: {family}/{key} not found in database.");
                String::new()
            }
        }
    }
}

fn write_error<E>(_: E) -> FuncError {
    FuncError::Other("DB: Error writing value to database.".into())
}

#[async_trait]
impl Func for DbFunc {
    fn name(&self) -> &'static str {
        "DB"
    }
    fn synopsis(&self) -> &'static str {
        "Read from or write to the Asterisk database."
    }
    fn syntax(&self) -> &'static str {
        "DB(family/key)"
    }
    fn description(&self) -> &'static str {
        "This function will read from or write a value to the Asterisk database. On a read, \
         this function returns the corresponding value from the database, or blank if it does \
         not exist. Reading a database value will also set the variable DB_RESULT. If you \
         wish to find out if an entry exists, use the DB_EXISTS function."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (family, key) = parse(a, DB_USAGE)?;
        let v = chan.pbx.astdb.get(family, key);
        Ok(Self::answer(chan, family, key, v))
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let (family, key) = parse(a, DB_WRITE_USAGE)?;
        chan.pbx.astdb.put(family, key, value).map_err(write_error)
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (family, key) = parse(a, DB_USAGE)?;
        let (f, k) = (family.to_string(), key.to_string());
        let v = on_db(chan, move |db| db.get(&f, &k)).await?;
        Ok(Self::answer(chan, family, key, v))
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let (family, key) = parse(a, DB_WRITE_USAGE)?;
        let (f, k, v) = (family.to_string(), key.to_string(), value.to_string());
        on_db(chan, move |db| db.put(&f, &k, &v))
            .await?
            .map_err(write_error)
    }
}

pub struct DbExistsFunc;

impl DbExistsFunc {
    /// `1` (and DB_RESULT) when the key exists, `0` otherwise.
    fn answer(chan: &mut Channel, v: Option<String>) -> String {
        match v {
            Some(v) => {
                chan.set_var("DB_RESULT", &v);
                "1".into()
            }
            None => "0".into(),
        }
    }
}

#[async_trait]
impl Func for DbExistsFunc {
    fn name(&self) -> &'static str {
        "DB_EXISTS"
    }
    fn synopsis(&self) -> &'static str {
        "Check to see if a key exists in the Asterisk database."
    }
    fn syntax(&self) -> &'static str {
        "DB_EXISTS(family/key)"
    }
    fn description(&self) -> &'static str {
        "This function will check to see if a key exists in the Asterisk database. If it \
         exists, the function will return 1. If not, it will return 0. Checking for \
         existence of a database key will also set the variable DB_RESULT to the key's \
         value if it exists."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (family, key) = parse(a, EXISTS_USAGE)?;
        let v = chan.pbx.astdb.get(family, key);
        Ok(Self::answer(chan, v))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (family, key) = parse(a, EXISTS_USAGE)?;
        let (f, k) = (family.to_string(), key.to_string());
        let v = on_db(chan, move |db| db.get(&f, &k)).await?;
        Ok(Self::answer(chan, v))
    }
}

pub struct DbDeleteFunc;

impl DbDeleteFunc {
    /// Read and delete `family/key`; the value, or empty.
    fn take(db: &AstDb, family: &str, key: &str) -> String {
        match db.get(family, key) {
            Some(v) => {
                if !matches!(db.del(family, key), Ok(true)) {
                    tracing::debug!(
                        "DB_DELETE: {family}/{key} could not be deleted from the database"
                    );
                }
                v
            }
            None => {
                tracing::debug!("DB_DELETE: {family}/{key} not found in database.");
                String::new()
            }
        }
    }
    fn delete(chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (family, key) = parse(a, DELETE_USAGE)?;
        let value = Self::take(&chan.pbx.astdb, family, key);
        chan.set_var("DB_RESULT", &value);
        Ok(value)
    }
    async fn delete_async(chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (family, key) = parse(a, DELETE_USAGE)?;
        let (f, k) = (family.to_string(), key.to_string());
        let value = on_db(chan, move |db| Self::take(db, &f, &k)).await?;
        chan.set_var("DB_RESULT", &value);
        Ok(value)
    }
}

#[async_trait]
impl Func for DbDeleteFunc {
    fn name(&self) -> &'static str {
        "DB_DELETE"
    }
    fn synopsis(&self) -> &'static str {
        "Return a value from the database and delete it."
    }
    fn syntax(&self) -> &'static str {
        "DB_DELETE(family/key)"
    }
    fn description(&self) -> &'static str {
        "This function will retrieve a value from the Asterisk database and then remove that \
         key from the database. DB_RESULT will be set to the key's value if it exists. It can \
         also be executed as a write operation (DB_DELETE(family/key)=ignored)."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Self::delete(chan, a)
    }
    fn write(&self, chan: &mut Channel, a: &str, _value: &str) -> Result<(), FuncError> {
        Self::delete(chan, a).map(|_| ())
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Self::delete_async(chan, a).await
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, _v: &str) -> Result<(), FuncError> {
        Self::delete_async(chan, a).await.map(|_| ())
    }
}

pub struct DbKeysFunc;

impl DbKeysFunc {
    /// The keys as DB_KEYS returns them: consecutive duplicates (any case) once, commas
    /// escaped.
    fn join(keys: &[String]) -> String {
        let mut out = String::new();
        let mut last: Option<&str> = None;
        for k in keys {
            // func_db skips consecutive duplicates case-insensitively.
            if last.is_some_and(|l| l.eq_ignore_ascii_case(k)) {
                continue;
            }
            if last.is_some() {
                out.push(',');
            }
            last = Some(k);
            for c in k.chars() {
                if c == ',' {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        out
    }
}

#[async_trait]
impl Func for DbKeysFunc {
    fn name(&self) -> &'static str {
        "DB_KEYS"
    }
    fn synopsis(&self) -> &'static str {
        "Obtain a list of keys within the Asterisk database."
    }
    fn syntax(&self) -> &'static str {
        "DB_KEYS([prefix])"
    }
    fn description(&self) -> &'static str {
        "This function will return a comma-separated list of keys existing at the prefix \
         specified within the Asterisk database. If no argument is provided, then a list of \
         key families will be returned. Commas inside key names are escaped with a backslash."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(Self::join(&chan.pbx.astdb.keys(a.trim_matches('/'))))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let prefix = a.trim_matches('/').to_string();
        let keys = on_db(chan, move |db| db.keys(&prefix)).await?;
        Ok(Self::join(&keys))
    }
}

/// The number of keys, consecutive duplicates in any case counted once (as DB_KEYS lists them).
fn count_keys(keys: &[String]) -> String {
    let mut n = 0;
    let mut last: Option<&str> = None;
    for k in keys {
        if last.is_some_and(|l| l.eq_ignore_ascii_case(k)) {
            continue;
        }
        last = Some(k);
        n += 1;
    }
    n.to_string()
}

pub struct DbKeyCountFunc;

#[async_trait]
impl Func for DbKeyCountFunc {
    fn name(&self) -> &'static str {
        "DB_KEYCOUNT"
    }
    fn synopsis(&self) -> &'static str {
        "Obtain the number of keys at a prefix within the Asterisk database."
    }
    fn syntax(&self) -> &'static str {
        "DB_KEYCOUNT([prefix])"
    }
    fn description(&self) -> &'static str {
        "This function will return the number of keys that exist at the prefix specified \
         within the Asterisk database. If no argument is provided, then the number of all key \
         families will be returned."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(count_keys(&chan.pbx.astdb.keys(a.trim_matches('/'))))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let prefix = a.trim_matches('/').to_string();
        let keys = on_db(chan, move |db| db.keys(&prefix)).await?;
        Ok(count_keys(&keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan() -> Channel {
        crate::testutil::test_channel()
    }

    #[test]
    fn split_at_first_slash() {
        assert_eq!(
            split_family_key("extension/100/device"),
            Some(("extension", "100/device"))
        );
        assert_eq!(split_family_key("fam/"), Some(("fam", "")));
        assert_eq!(split_family_key("nokey"), None);
    }

    #[test]
    fn db_read_write() {
        let mut c = chan();
        DbFunc
            .write(&mut c, "extension/100/device", "SIP/100")
            .unwrap();
        assert_eq!(
            c.pbx.astdb.get("extension", "100/device").as_deref(),
            Some("SIP/100")
        );
        assert_eq!(
            DbFunc.read(&mut c, "extension/100/device").unwrap(),
            "SIP/100"
        );
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("SIP/100"));
        // Missing: empty, DB_RESULT untouched.
        assert_eq!(DbFunc.read(&mut c, "extension/999").unwrap(), "");
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("SIP/100"));
    }

    #[test]
    fn db_usage_errors() {
        let mut c = chan();
        assert_eq!(
            DbFunc.read(&mut c, ""),
            Err(FuncError::Usage(DB_USAGE.into()))
        );
        assert_eq!(
            DbFunc.read(&mut c, "family"),
            Err(FuncError::Usage(DB_USAGE.into()))
        );
        assert_eq!(
            DbFunc.write(&mut c, "family", "x"),
            Err(FuncError::Usage(DB_WRITE_USAGE.into()))
        );
        assert_eq!(
            DbExistsFunc.read(&mut c, ""),
            Err(FuncError::Usage(EXISTS_USAGE.into()))
        );
        assert_eq!(
            DbDeleteFunc.read(&mut c, "x"),
            Err(FuncError::Usage(DELETE_USAGE.into()))
        );
    }

    #[test]
    fn db_exists_sets_result() {
        let mut c = chan();
        c.pbx.astdb.put("cidname", "5551234", "Alice").unwrap();
        assert_eq!(DbExistsFunc.read(&mut c, "cidname/5551234").unwrap(), "1");
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("Alice"));
        assert_eq!(DbExistsFunc.read(&mut c, "cidname/000").unwrap(), "0");
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("Alice"));
        assert!(!DbExistsFunc.writable());
        assert_eq!(
            DbExistsFunc.write(&mut c, "a/b", "1"),
            Err(FuncError::ReadOnly)
        );
    }

    #[test]
    fn db_delete_read_and_write() {
        let mut c = chan();
        c.pbx.astdb.put("fam", "k1", "v1").unwrap();
        c.pbx.astdb.put("fam", "k2", "v2").unwrap();
        assert_eq!(DbDeleteFunc.read(&mut c, "fam/k1").unwrap(), "v1");
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("v1"));
        assert_eq!(c.pbx.astdb.get("fam", "k1"), None);
        // Missing: empty result, DB_RESULT cleared.
        assert_eq!(DbDeleteFunc.read(&mut c, "fam/k1").unwrap(), "");
        assert_eq!(c.get_var("DB_RESULT"), None);
        DbDeleteFunc.write(&mut c, "fam/k2", "ignored").unwrap();
        assert_eq!(c.pbx.astdb.get("fam", "k2"), None);
        assert_eq!(c.get_var("DB_RESULT").as_deref(), Some("v2"));
    }

    #[test]
    fn db_keys_levels() {
        let mut c = chan();
        let db = &c.pbx.astdb;
        db.put("extension/100", "device", "SIP/100").unwrap();
        db.put("extension/100", "calendar", "cal1").unwrap();
        db.put("extension/1000", "device", "SIP/1000").unwrap();
        db.put("cidname", "a,b", "x").unwrap();
        assert_eq!(DbKeysFunc.read(&mut c, "").unwrap(), "cidname,extension");
        assert_eq!(DbKeysFunc.read(&mut c, "extension").unwrap(), "100,1000");
        assert_eq!(DbKeysFunc.read(&mut c, "/extension/").unwrap(), "100,1000");
        assert_eq!(
            DbKeysFunc.read(&mut c, "extension/100").unwrap(),
            "calendar,device"
        );
        assert_eq!(DbKeysFunc.read(&mut c, "cidname").unwrap(), "a\\,b");
        assert_eq!(DbKeysFunc.read(&mut c, "nothing").unwrap(), "");
        assert_eq!(c.get_var("DB_RESULT"), None);
        assert_eq!(DbKeyCountFunc.read(&mut c, "").unwrap(), "2");
        assert_eq!(DbKeyCountFunc.read(&mut c, "/extension/").unwrap(), "2");
        assert_eq!(DbKeyCountFunc.read(&mut c, "extension/100").unwrap(), "2");
        assert_eq!(DbKeyCountFunc.read(&mut c, "nothing").unwrap(), "0");
    }
}
