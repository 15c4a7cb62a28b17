//! `REALTIME()`, `REALTIME_STORE()`, `REALTIME_DESTROY()`, `REALTIME_FIELD()` and
//! `REALTIME_HASH()` (func_realtime.so), over the core's realtime API (`extconfig.conf`
//! families, whatever engine serves them: sqlite3, ldap, …). They wait for the engine.

use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "func_realtime.so",
        "Read/Write/Store/Destroy values from a RealTime repository",
    ),
    register: register_func_realtime,
}];

fn register_func_realtime(ctx: &ModuleContext) {
    for which in [
        Which::Read,
        Which::Store,
        Which::Destroy,
        Which::Field,
        Which::Hash,
    ] {
        ctx.register_func(Arc::new(RealtimeFunc(which)));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Read,
    Store,
    Destroy,
    Field,
    Hash,
}

pub struct RealtimeFunc(Which);

fn rt_err(e: impl std::fmt::Display) -> FuncError {
    FuncError::Other(e.to_string())
}

/// Commas inside a HASH key or value are escaped.
fn esc(s: &str) -> String {
    s.replace(',', "\\,")
}

#[async_trait]
impl Func for RealtimeFunc {
    fn name(&self) -> &'static str {
        match self.0 {
            Which::Read => "REALTIME",
            Which::Store => "REALTIME_STORE",
            Which::Destroy => "REALTIME_DESTROY",
            Which::Field => "REALTIME_FIELD",
            Which::Hash => "REALTIME_HASH",
        }
    }
    fn synopsis(&self) -> &'static str {
        match self.0 {
            Which::Read => "RealTime Read/Write Functions.",
            Which::Store => "RealTime Store Function.",
            Which::Destroy => "RealTime Destroy Function.",
            Which::Field | Which::Hash => "RealTime query function.",
        }
    }
    fn syntax(&self) -> &'static str {
        match self.0 {
            Which::Read => "REALTIME(family,fieldmatch[,matchvalue[,delim1|field[,delim2]]])",
            Which::Store => "REALTIME_STORE(family,field1,fieldN[,...])",
            Which::Destroy => "REALTIME_DESTROY(family,fieldmatch[,matchvalue[,delim1[,delim2]]])",
            Which::Field => "REALTIME_FIELD(family,fieldmatch,matchvalue,fieldname)",
            Which::Hash => "REALTIME_HASH(family,fieldmatch,matchvalue)",
        }
    }
    fn description(&self) -> &'static str {
        match self.0 {
            Which::Read => "Reads the record of family where fieldmatch is matchvalue as name=value pairs, each followed by delim1 (default ,), name and value separated by delim2 (default =); nothing if there is no match. Written to, REALTIME(family,fieldmatch,matchvalue,field)=value updates field of the matching records.",
            Which::Store => "Inserts a new record: Set(REALTIME_STORE(family,field1,field2)=value1,value2). Up to 30 field/value pairs.",
            Which::Destroy => "Acts as REALTIME(...) does on a read (returns the record) and also deletes the matched records; written to, deletes them.",
            Which::Field => "Retrieves a single item, fieldname, from the record where fieldmatch is matchvalue. Written to, acts as REALTIME().",
            Which::Hash => "Retrieves a single record where fieldmatch is matchvalue, formatted for the HASH() function: Set(HASH(r)=${REALTIME_HASH(sippeers,name,1001)}).",
        }
    }
    fn writable(&self) -> bool {
        self.0 != Which::Hash
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other(format!(
            "{}() waits for the realtime engine and cannot be used where nothing may wait",
            self.name()
        )))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let get = |i: usize| args::nth(&v, i).to_string();
        let (family, fieldmatch, value) = (get(0), get(1), get(2));
        if family.is_empty() || fieldmatch.is_empty() {
            return Err(FuncError::Usage(format!(
                "Syntax: {}(family,fieldmatch[,matchvalue[,delim1[,delim2]]]) - missing argument!",
                self.name()
            )));
        }
        match self.0 {
            Which::Store => {
                return Err(FuncError::WriteOnly);
            }
            Which::Field if v.len() != 4 => {
                return Err(FuncError::Usage(
                    "Syntax: REALTIME_FIELD(family,fieldmatch,matchvalue,fieldname) - missing argument!".into(),
                ))
            }
            Which::Hash if v.len() != 3 => {
                return Err(FuncError::Usage(
                    "Syntax: REALTIME_HASH(family,fieldmatch,matchvalue) - missing argument!".into(),
                ))
            }
            _ => {}
        }
        let rt = &chan.pbx.realtime;
        let filter = vec![(fieldmatch.clone(), value.clone())];
        let Some(row) = rt.load_all(&family, &filter).await.map_err(rt_err)? else {
            return Ok(String::new());
        };
        Ok(match self.0 {
            Which::Field => {
                let want = get(3);
                row.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&want))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            }
            Which::Hash => {
                let fields: Vec<String> = row.iter().map(|(k, _)| esc(k)).collect();
                let values: Vec<String> = row.iter().map(|(_, v)| esc(v)).collect();
                chan.vars.set_or_unset("~ODBCFIELDS~", &fields.join(","));
                values.join(",")
            }
            Which::Read | Which::Destroy => {
                let d1 = if v.len() > 3 { get(3) } else { ",".into() };
                let d2 = if v.len() > 4 { get(4) } else { "=".into() };
                let out: String = row.iter().map(|(k, v)| format!("{k}{d2}{v}{d1}")).collect();
                if self.0 == Which::Destroy {
                    rt.destroy(&family, &fieldmatch, &value, &[])
                        .await
                        .map_err(rt_err)?;
                }
                out
            }
            Which::Store => String::new(),
        })
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let v = args::split(a, ',');
        let get = |i: usize| args::nth(&v, i).to_string();
        let family = get(0);
        let pbx = chan.pbx.clone();
        let rt = &pbx.realtime;
        match self.0 {
            Which::Store => {
                let fields: Vec<String> = v[1.min(v.len())..].to_vec();
                let values = args::split(value, ',');
                if family.is_empty() || fields.is_empty() {
                    return Err(FuncError::Usage(
                        "Syntax: REALTIME_STORE(family,field1,field2,...)=val1,val2,... - missing argument!".into(),
                    ));
                }
                if fields.len() > 30 {
                    return Err(FuncError::Usage(
                        "REALTIME_STORE supports at most 30 field/value pairs".into(),
                    ));
                }
                let pairs: Vec<(String, String)> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.clone(), args::nth(&values, i).to_string()))
                    .collect();
                rt.store(&family, &pairs).await.map_err(rt_err)?;
                Ok(())
            }
            Which::Destroy => {
                if family.is_empty() || get(1).is_empty() {
                    return Err(FuncError::Usage(
                        "Syntax: REALTIME_DESTROY(family,fieldmatch[,matchvalue]) - missing argument!".into(),
                    ));
                }
                rt.destroy(&family, &get(1), &get(2), &[])
                    .await
                    .map_err(rt_err)?;
                Ok(())
            }
            Which::Hash => Err(FuncError::ReadOnly),
            Which::Read | Which::Field => {
                let field = get(3);
                if family.is_empty() || get(1).is_empty() || field.is_empty() {
                    return Err(FuncError::Usage(format!(
                        "Syntax: {}(family,fieldmatch,matchvalue,updatecol) - missing argument!",
                        self.name()
                    )));
                }
                rt.update(&family, &get(1), &get(2), &[(field, value.to_string())])
                    .await
                    .map_err(rt_err)?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::tests::{get, pbx_with, run};

    /// Through the sqlite3 engine, as an admin's extconfig.conf would map a family.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_write_store_destroy_through_sqlite3() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rt.sqlite3");
        {
            let c = rusqlite::Connection::open(&db).unwrap();
            c.execute_batch(
                "CREATE TABLE people (name TEXT, ext TEXT, city TEXT);\
                 INSERT INTO people VALUES ('alice','100','Paris');",
            )
            .unwrap();
        }
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(R=${REALTIME(people,name,alice)})\n\
             same => n,Set(R2=${REALTIME(people,name,alice,|,:)})\n\
             same => n,Set(F=${REALTIME_FIELD(people,name,alice,city)})\n\
             same => n,Set(HASH(h)=${REALTIME_HASH(people,name,alice)})\n same => n,Set(H=${HASH(h,ext)})\n\
             same => n,Set(REALTIME(people,name,alice,city)=Lyon)\n\
             same => n,Set(F2=${REALTIME_FIELD(people,name,alice,city)})\n\
             same => n,Set(REALTIME_STORE(people,name,ext,city)=bob,200,Oslo)\n\
             same => n,Set(B=${REALTIME_FIELD(people,name,bob,ext)})\n\
             same => n,Set(D=${REALTIME_DESTROY(people,name,bob)})\n\
             same => n,Set(B2=x${REALTIME_FIELD(people,name,bob,ext)})\n\
             same => n,Set(N=x${REALTIME(people,name,nobody)})\n",
        );
        let mut settings =
            crate::config::settings::Settings::defaults_for(&dir.path().join("ferrisk.conf"));
        settings.astdbdir = dir.path().to_path_buf();
        std::fs::write(
            dir.path().join("res_config_sqlite3.conf"),
            "[rtdb]\ndbfile => rt.sqlite3\n",
        )
        .unwrap();
        let engine = crate::res::config_sqlite3::load_engine(&settings).unwrap();
        pbx.realtime.register_engine(engine);
        pbx.realtime.set_config(
            crate::pbx::realtime::ExtConfig::from_str(
                "extconfig.conf",
                "[settings]\npeople => sqlite3,rtdb,people\n",
            )
            .unwrap(),
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "R"), Some("name=alice,ext=100,city=Paris,"));
        assert_eq!(get(&v, "R2"), Some("name:alice|ext:100|city:Paris|"));
        assert_eq!(get(&v, "F"), Some("Paris"));
        assert_eq!(get(&v, "H"), Some("100"));
        assert_eq!(get(&v, "F2"), Some("Lyon"));
        assert_eq!(get(&v, "B"), Some("200"));
        assert_eq!(get(&v, "D"), Some("name=bob,ext=200,city=Oslo,"));
        assert_eq!(get(&v, "B2"), Some("x"));
        assert_eq!(get(&v, "N"), Some("x"));
    }
}
