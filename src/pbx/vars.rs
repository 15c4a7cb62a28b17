//! Channel variables with Asterisk's inheritance levels.
//!
//! `Set(_X=1)` stores `X` with one level of inheritance (copied once into channels this
//! channel creates, where it becomes a plain variable); `Set(__X=1)` stores `X` inherited
//! forever. Lookups ignore the underscores; names are case-sensitive as in Asterisk.

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub value: String,
    /// 0 = not inherited, 1 = `_X`, 2 = `__X`.
    pub inherit: u8,
}

#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// Fx hashing: variable lookups happen on every dialplan step.
    map: IndexMap<String, Var, FxBuildHasher>,
}

/// Split `__NAME` into (`NAME`, 2), `_NAME` into (`NAME`, 1).
pub fn split_inherit(name: &str) -> (&str, u8) {
    if let Some(rest) = name.strip_prefix("__") {
        (rest, 2)
    } else if let Some(rest) = name.strip_prefix('_') {
        (rest, 1)
    } else {
        (name, 0)
    }
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        let (bare, _) = split_inherit(name);
        self.map.get(bare).map(|v| v.value.as_str())
    }
    /// Set a variable; `name` may carry `_`/`__`. An empty value is stored (Asterisk
    /// deletes the variable on `Set(X=)`, use [`Vars::set_or_unset`] for that).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let (bare, inherit) = split_inherit(name);
        let value = value.into();
        if let Some(v) = self.map.get_mut(bare) {
            v.value = value;
            v.inherit = inherit;
        } else {
            self.map.insert(bare.to_string(), Var { value, inherit });
        }
    }
    /// Asterisk's `pbx_builtin_setvar_helper`: an empty value removes the variable.
    pub fn set_or_unset(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.remove(name);
        } else {
            self.set(name, value);
        }
    }
    pub fn remove(&mut self, name: &str) -> Option<Var> {
        let (bare, _) = split_inherit(name);
        self.map.shift_remove(bare)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// The variables a new channel inherits: `_X` becomes plain `X`, `__X` stays `__X`.
    pub fn inherited(&self) -> Vars {
        let mut out = Vars::new();
        for (k, v) in &self.map {
            match v.inherit {
                1 => {
                    out.map.insert(
                        k.clone(),
                        Var {
                            value: v.value.clone(),
                            inherit: 0,
                        },
                    );
                }
                2 => {
                    out.map.insert(k.clone(), v.clone());
                }
                _ => {}
            }
        }
        out
    }
    /// Name as Asterisk displays it (with its underscores).
    pub fn display_name(name: &str, v: &Var) -> String {
        match v.inherit {
            1 => format!("_{name}"),
            2 => format!("__{name}"),
            _ => name.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inheritance_levels() {
        let mut v = Vars::new();
        v.set("_ONE", "1");
        v.set("__TWO", "2");
        v.set("NONE", "0");
        assert_eq!(v.get("ONE"), Some("1"));
        assert_eq!(v.get("_ONE"), Some("1"));
        let child = v.inherited();
        assert_eq!(child.get("ONE"), Some("1"));
        assert_eq!(child.get("TWO"), Some("2"));
        assert_eq!(child.get("NONE"), None);
        let grandchild = child.inherited();
        assert_eq!(grandchild.get("ONE"), None);
        assert_eq!(grandchild.get("TWO"), Some("2"));
    }

    #[test]
    fn empty_value_unsets() {
        let mut v = Vars::new();
        v.set("A", "x");
        v.set_or_unset("A", "");
        assert_eq!(v.get("A"), None);
    }
}
