//! `modules.conf`, as Asterisk's loader reads it: `[modules]` with `autoload`, and
//! `load`, `noload`, `preload`, `require`, `preload-require` lines naming resources
//! (`app_dial.so`, with or without `.so`). This file only parses; the core's loader decides
//! what loads from it ([`ModulesConf::plan`]).

use super::{is_true, ConfigError, ConfigFile, Location};

/// What a line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    Load,
    NoLoad,
    Preload,
    Require,
    PreloadRequire,
}

/// One `load =>`-style line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLine {
    pub directive: Directive,
    pub name: String,
    pub loc: Location,
}

/// The parsed file. Without a `modules.conf`, ferrisk loads every module (`autoload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulesConf {
    pub autoload: bool,
    pub lines: Vec<ModuleLine>,
}

impl Default for ModulesConf {
    fn default() -> Self {
        ModulesConf {
            autoload: true,
            lines: Vec::new(),
        }
    }
}

/// One module to load, and whether start-up fails without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub required: bool,
}

/// Asterisk's comparison of resource names: base names (without `.so`), any case.
fn base(name: &str) -> String {
    let n = name.trim();
    n.strip_suffix(".so").unwrap_or(n).to_ascii_lowercase()
}

impl ModulesConf {
    /// Parse `[modules]`; an unknown option is an error naming its line, as Asterisk's
    /// "Unknown configuration option".
    pub fn parse(cf: &ConfigFile) -> Result<ModulesConf, ConfigError> {
        let mut out = ModulesConf {
            autoload: false,
            lines: Vec::new(),
        };
        let Some(sec) = cf.section("modules") else {
            return Ok(out);
        };
        for e in &sec.entries {
            let directive = match e.key.to_ascii_lowercase().as_str() {
                "autoload" => {
                    out.autoload = is_true(&e.value);
                    continue;
                }
                "load" => Directive::Load,
                "noload" => Directive::NoLoad,
                "preload" => Directive::Preload,
                "require" => Directive::Require,
                "preload-require" => Directive::PreloadRequire,
                other => {
                    return Err(ConfigError::at(
                        &e.loc,
                        format!("Unknown configuration option '{other}' in [modules] (expected autoload, load, noload, preload, require or preload-require)"),
                    ))
                }
            };
            out.lines.push(ModuleLine {
                directive,
                name: e.value.trim().to_string(),
                loc: e.loc.clone(),
            });
        }
        Ok(out)
    }

    /// The load order for the compiled-in modules `available` (Asterisk's resource names,
    /// in their default order): preloads first, then explicit loads, then (with autoload)
    /// everything else; `noload` removes a module, quietly when ferrisk has no such module
    /// (admins copy their Asterisk file). Errors: a required module ferrisk does not have,
    /// or one that is also `noload`.
    pub fn plan(&self, available: &[&str]) -> Result<Vec<Planned>, ConfigError> {
        let find = |n: &str| available.iter().find(|a| base(a) == base(n)).copied();
        let mut pre: Vec<Planned> = Vec::new();
        let mut explicit: Vec<Planned> = Vec::new();
        for l in &self.lines {
            let (required, preload) = match l.directive {
                Directive::NoLoad => continue,
                Directive::Load => (false, false),
                Directive::Preload => (false, true),
                Directive::Require => (true, false),
                Directive::PreloadRequire => (true, true),
            };
            let Some(name) = find(&l.name) else {
                if required {
                    return Err(ConfigError::at(
                        &l.loc,
                        format!("required module '{}' does not exist in ferrisk", l.name),
                    ));
                }
                // An explicit load of a module we do not have: Asterisk logs it and goes on.
                continue;
            };
            let p = Planned {
                name: name.to_string(),
                required,
            };
            let list = if preload { &mut pre } else { &mut explicit };
            match list.iter_mut().find(|x| x.name == p.name) {
                Some(x) => x.required |= p.required,
                None => list.push(p),
            }
        }
        let mut order: Vec<Planned> = Vec::new();
        for p in pre.into_iter().chain(explicit) {
            match order.iter_mut().find(|x| x.name == p.name) {
                Some(x) => x.required |= p.required,
                None => order.push(p),
            }
        }
        if self.autoload {
            // Autoloaded modules keep the default order, after the explicit ones only when
            // those are preloads; plain `load` lines do not reorder them.
            let mut rest: Vec<Planned> = available
                .iter()
                .filter(|a| !order.iter().any(|x| x.name == **a))
                .map(|a| Planned {
                    name: a.to_string(),
                    required: false,
                })
                .collect();
            order.append(&mut rest);
            let rank = |n: &str| available.iter().position(|a| *a == n).unwrap_or(usize::MAX);
            let npre = self
                .lines
                .iter()
                .filter(|l| matches!(l.directive, Directive::Preload | Directive::PreloadRequire))
                .count()
                .min(order.len());
            order[npre..].sort_by_key(|p| rank(&p.name));
        }
        for l in &self.lines {
            if l.directive != Directive::NoLoad {
                continue;
            }
            if let Some(pos) = order.iter().position(|p| base(&p.name) == base(&l.name)) {
                if order[pos].required {
                    return Err(ConfigError::at(
                        &l.loc,
                        format!(
                            "{} is configured with 'require' and 'noload', this is impossible.",
                            l.name
                        ),
                    ));
                }
                order.remove(pos);
            }
        }
        Ok(order)
    }
}

/// Read `modules.conf` from the config directory; a missing file loads everything.
pub fn load_modules_conf(
    dir: &std::path::Path,
    opts: &super::LoadOptions,
) -> Result<Option<ModulesConf>, ConfigError> {
    if !dir.join("modules.conf").exists() {
        return Ok(None);
    }
    let cf = super::load(dir, "modules.conf", opts)?;
    ModulesConf::parse(&cf).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> ModulesConf {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            "modules.conf",
            text,
            &Default::default(),
        )
        .unwrap();
        ModulesConf::parse(&cf).unwrap()
    }

    const AVAIL: &[&str] = &[
        "func_strings.so",
        "app_dial.so",
        "chan_sip.so",
        "app_voicemail.so",
    ];

    fn names(p: &[Planned]) -> Vec<&str> {
        p.iter().map(|x| x.name.as_str()).collect()
    }

    #[test]
    fn autoload_with_noload_and_unknown_names() {
        let c =
            conf("[modules]\nautoload=yes\nnoload => app_voicemail.so\nnoload => chan_skinny.so\n");
        let p = c.plan(AVAIL).unwrap();
        assert_eq!(
            names(&p),
            vec!["func_strings.so", "app_dial.so", "chan_sip.so"]
        );
    }

    #[test]
    fn explicit_loads_without_autoload() {
        let c = conf("[modules]\nautoload=no\nload => app_dial\nrequire => chan_sip.so\nload => app_foo.so\n");
        let p = c.plan(AVAIL).unwrap();
        assert_eq!(names(&p), vec!["app_dial.so", "chan_sip.so"]);
        assert!(p[1].required && !p[0].required);
    }

    #[test]
    fn preload_comes_first() {
        let c = conf("[modules]\nautoload=yes\npreload => chan_sip.so\n");
        let p = c.plan(AVAIL).unwrap();
        assert_eq!(p[0].name, "chan_sip.so");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn required_missing_or_noloaded_is_an_error() {
        let c = conf("[modules]\nautoload=yes\nrequire => chan_pjsip.so\n");
        let e = c.plan(AVAIL).unwrap_err().to_string();
        assert!(
            e.contains("modules.conf:3:") && e.contains("chan_pjsip.so"),
            "{e}"
        );
        let c = conf("[modules]\nautoload=yes\nrequire => app_dial.so\nnoload => app_dial.so\n");
        let e = c.plan(AVAIL).unwrap_err().to_string();
        assert!(e.contains("impossible"), "{e}");
    }

    #[test]
    fn unknown_option_names_its_line() {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            "modules.conf",
            "[modules]\nautoload=yes\nloadd => x.so\n",
            &Default::default(),
        )
        .unwrap();
        let e = ModulesConf::parse(&cf).unwrap_err().to_string();
        assert!(e.contains("modules.conf:3:") && e.contains("loadd"), "{e}");
    }
}
