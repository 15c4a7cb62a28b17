//! Small function modules: `DIALGROUP()` (func_dialgroup.so: named lists of interfaces for
//! Dial, kept in AstDB family `dialgroup` as Asterisk does, re-read at load) and
//! `AST_CONFIG()` (func_config.so: a variable from a config file, read through ferrisk's
//! config loader on the blocking pool).

use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::sync::Arc;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_dialgroup.so", "Dialgroup dialplan function"),
        register: register_func_dialgroup,
    },
    Family {
        info: ModuleInfo::new(
            "func_config.so",
            "Asterisk configuration file variable access",
        ),
        register: |ctx| ctx.register_func(Arc::new(AstConfig)),
    },
];

const DB_FAMILY: &str = "dialgroup";

/// Load the groups AstDB kept (each key a group, its value the interfaces joined by `&`).
fn register_func_dialgroup(ctx: &ModuleContext) {
    let mut groups = Groups::default();
    for (key, value) in ctx.pbx.astdb.show(Some(DB_FAMILY), None) {
        let name = key.trim_start_matches('/');
        let name = name.strip_prefix(DB_FAMILY).unwrap_or(name);
        let name = name.trim_start_matches('/');
        groups.write(name, "", &value);
    }
    ctx.register_func(Arc::new(DialGroup(Mutex::new(groups))));
}

/// The dial groups: names (case-sensitive) to interfaces, in the order they were added.
#[derive(Debug, Default)]
pub struct Groups(IndexMap<String, Vec<String>>);

impl Groups {
    /// The group's interfaces joined by `&`; `None` when there is no such group.
    pub fn read(&self, group: &str) -> Option<String> {
        self.0.get(group).map(|v| v.join("&"))
    }

    /// `Set(DIALGROUP(group[,op])=a&b)`: no op replaces the list, `add` adds (no
    /// duplicates), `del…` removes. Returns the warnings to log, and whether the group
    /// changed (an unknown op changes nothing).
    pub fn write(&mut self, group: &str, op: &str, value: &str) -> (Vec<String>, bool) {
        let list = self.0.entry(group.to_string()).or_default();
        let faces = value.split('&').take(100);
        let mut warn = Vec::new();
        let op = if op.is_empty() {
            list.clear();
            "add"
        } else {
            op
        };
        if op.eq_ignore_ascii_case("add") {
            for f in faces {
                if !list.iter().any(|x| x == f) {
                    list.push(f.to_string());
                }
            }
        } else if op.len() >= 3 && op[..3].eq_ignore_ascii_case("del") {
            for f in faces {
                match list.iter().position(|x| x == f) {
                    Some(i) => {
                        list.remove(i);
                    }
                    None => warn.push(format!("Interface '{f}' not found in dialgroup '{group}'")),
                }
            }
        } else {
            warn.push(format!("Unrecognized operation: {op}"));
            return (warn, false);
        }
        (warn, true)
    }
}

pub struct DialGroup(Mutex<Groups>);

#[async_trait]
impl Func for DialGroup {
    fn name(&self) -> &'static str {
        "DIALGROUP"
    }
    fn synopsis(&self) -> &'static str {
        "Manages a group of users for dialing."
    }
    fn syntax(&self) -> &'static str {
        "DIALGROUP(group[,op])"
    }
    fn description(&self) -> &'static str {
        "Read: the group's interfaces joined by & (for Dial). Written with no op, the list is \
         replaced by the value (interfaces joined by &); op add adds them, del removes them. \
         The groups are kept in AstDB family dialgroup and survive a restart."
    }
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        self.0
            .lock()
            .read(a)
            .ok_or_else(|| FuncError::Other(format!("No such dialgroup '{a}'")))
    }
    fn writable(&self) -> bool {
        true
    }
    fn write(&self, _chan: &mut Channel, _a: &str, _value: &str) -> Result<(), FuncError> {
        Err(FuncError::Other("DIALGROUP() writes AstDB".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let v = args::split(a, ',');
        let group = args::nth(&v, 0).to_string();
        let (warn, changed, now) = {
            let mut g = self.0.lock();
            let (warn, changed) = g.write(&group, args::nth(&v, 1), value);
            (warn, changed, g.read(&group).unwrap_or_default())
        };
        for w in &warn {
            chan.pbx.warning(&format!("func_dialgroup.c: {w}"));
        }
        if changed {
            let pbx = chan.pbx.clone();
            super::on_pool(move || {
                let r = if now.is_empty() {
                    pbx.astdb.del(DB_FAMILY, &group).map(|_| ())
                } else {
                    pbx.astdb.put(DB_FAMILY, &group, &now)
                };
                if let Err(e) = r {
                    pbx.warning(&format!("func_dialgroup.c: AstDB: {e}"));
                }
            })
            .await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// AST_CONFIG

pub struct AstConfig;

/// The `index`th `variable` (case-blind) of the first `[category]` of `cf`: 0 the first,
/// -1 the last (the effective value after templates).
pub fn config_value(
    cf: &crate::config::ConfigFile,
    category: &str,
    variable: &str,
    index: i64,
) -> Option<String> {
    let s = cf.section(category)?;
    let mut hits = s
        .entries
        .iter()
        .filter(|e| e.key.eq_ignore_ascii_case(variable));
    let e = if index == -1 {
        hits.next_back()
    } else {
        hits.nth(usize::try_from(index).ok()?)
    };
    e.map(|e| e.value.clone())
}

#[async_trait]
impl Func for AstConfig {
    fn name(&self) -> &'static str {
        "AST_CONFIG"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve a variable from a configuration file."
    }
    fn syntax(&self) -> &'static str {
        "AST_CONFIG(config_file,category,variable_name[,index])"
    }
    fn description(&self) -> &'static str {
        "Reads a variable from a configuration file (in the config directory). index: 0 for \
         the first of several (default), -1 for the last (the effective value of a template's \
         variable), or any other number."
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other("AST_CONFIG() reads a file".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage("AST_CONFIG() requires an argument".into()));
        }
        let v = args::split(a, ',');
        let (file, cat, var) = (args::nth(&v, 0), args::nth(&v, 1), args::nth(&v, 2));
        for (val, what) in [(file, "filename"), (cat, "category"), (var, "variable")] {
            if val.is_empty() {
                return Err(FuncError::Usage(format!("AST_CONFIG() requires a {what}")));
            }
        }
        let index = match args::nth(&v, 3).trim() {
            "" => 0,
            i => i
                .parse::<i64>()
                .map_err(|_| FuncError::Usage("AST_CONFIG() index must be an integer".into()))?,
        };
        let settings = chan.pbx.settings.clone();
        let (file, cat, var) = (file.to_string(), cat.to_string(), var.to_string());
        let found = super::on_pool(move || {
            let cf = crate::config::load(&settings.astetcdir, &file, &settings.load_options())
                .map_err(|e| FuncError::Other(e.to_string()))?;
            config_value(&cf, &cat, &var, index).ok_or_else(|| {
                FuncError::Other(format!(
                    "'{var}' not found at index {index} in [{cat}] of '{file}'"
                ))
            })
        })
        .await?;
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialgroup_ops() {
        let mut g = Groups::default();
        assert_eq!(g.read("x"), None);
        assert!(g.write("x", "add", "SIP/10&SIP/20&SIP/10").1);
        assert_eq!(g.read("x").unwrap(), "SIP/10&SIP/20");
        g.write("x", "add", "SIP/30");
        let (w, _) = g.write("x", "del", "SIP/20&SIP/99");
        assert_eq!(w, vec!["Interface 'SIP/99' not found in dialgroup 'x'"]);
        assert_eq!(g.read("x").unwrap(), "SIP/10&SIP/30");
        g.write("x", "", "IAX2/1");
        assert_eq!(g.read("x").unwrap(), "IAX2/1");
        assert!(!g.write("x", "bogus", "a").1);
        assert_eq!(g.read("X"), None);
        g.write("x", "delete", "IAX2/1");
        assert_eq!(g.read("x").unwrap(), "");
    }

    #[test]
    fn config_values_by_index() {
        let cf = crate::config::load_str(
            std::path::Path::new("/tmp"),
            "t.conf",
            "[tpl](!)\nallow=ulaw\n[peer](tpl)\nallow=alaw\nhost=dynamic\n",
            &Default::default(),
        )
        .unwrap();
        assert_eq!(config_value(&cf, "peer", "allow", 0).unwrap(), "ulaw");
        assert_eq!(config_value(&cf, "peer", "ALLOW", -1).unwrap(), "alaw");
        assert_eq!(config_value(&cf, "peer", "allow", 1).unwrap(), "alaw");
        assert_eq!(config_value(&cf, "peer", "allow", 2), None);
        assert_eq!(config_value(&cf, "peer", "host", 0).unwrap(), "dynamic");
        assert_eq!(config_value(&cf, "none", "host", 0), None);
    }
}
