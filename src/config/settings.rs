//! `ferrisk.conf` (also accepted as `asterisk.conf`): `[directories]` and `[options]`.
//!
//! Relative directories are resolved against the directory that holds the config file,
//! so a fresh clone runs from `etc/` without touching the system.

use super::{is_true, load, ConfigError, LoadOptions};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The main config file that was read (ferrisk.conf / asterisk.conf).
    pub config_file: PathBuf,
    pub astetcdir: PathBuf,
    pub astspooldir: PathBuf,
    pub astdbdir: PathBuf,
    pub astlogdir: PathBuf,
    pub astrundir: PathBuf,
    pub astdatadir: PathBuf,
    pub verbose: u8,
    pub debug: u8,
    pub exec_includes: bool,
    pub systemname: String,
}

impl Settings {
    /// Defaults used when no ferrisk.conf exists: everything below `etcdir`'s parent `var/`.
    pub fn defaults_for(config_file: &Path) -> Settings {
        let etc = config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let var = etc.join("..").join("var");
        Settings {
            config_file: config_file.to_path_buf(),
            astetcdir: etc.clone(),
            astspooldir: var.join("spool"),
            astdbdir: var.join("lib"),
            astlogdir: var.join("log"),
            astrundir: var.join("run"),
            astdatadir: etc.join(".."),
            verbose: 0,
            debug: 0,
            exec_includes: false,
            systemname: String::new(),
        }
    }

    /// Read `ferrisk.conf`/`asterisk.conf`. A missing file gives the defaults.
    pub fn load(config_file: &Path) -> Result<Settings, ConfigError> {
        let mut s = Settings::defaults_for(config_file);
        if !config_file.exists() {
            return Ok(s);
        }
        let dir = s.astetcdir.clone();
        let name = config_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ferrisk.conf".into());
        let cf = load(&dir, &name, &LoadOptions::default())?;
        let resolve = |v: &str| -> PathBuf {
            let p = PathBuf::from(v.trim());
            if p.is_absolute() {
                p
            } else {
                dir.join(p)
            }
        };
        if let Some(d) = cf.section("directories") {
            for e in &d.entries {
                let p = resolve(&e.value);
                match e.key.to_ascii_lowercase().as_str() {
                    "astetcdir" => s.astetcdir = p,
                    "astspooldir" => s.astspooldir = p,
                    "astdbdir" | "astvarlibdir" => s.astdbdir = p,
                    "astlogdir" => s.astlogdir = p,
                    "astrundir" => s.astrundir = p,
                    "astdatadir" => s.astdatadir = p,
                    _ => {}
                }
            }
        }
        if let Some(o) = cf.section("options") {
            for e in &o.entries {
                match e.key.to_ascii_lowercase().as_str() {
                    "verbose" => s.verbose = e.value.trim().parse().unwrap_or(0),
                    "debug" => s.debug = e.value.trim().parse().unwrap_or(0),
                    "execincludes" => s.exec_includes = is_true(&e.value),
                    "systemname" => s.systemname = e.value.trim().to_string(),
                    _ => {}
                }
            }
        }
        Ok(s)
    }

    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            exec_includes: self.exec_includes,
        }
    }
}
