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
    /// Defaults, as a packaged install lays them out (Asterisk's, with `ferrisk` for
    /// `asterisk`); the config directory is the one holding `config_file`.
    pub fn defaults_for(config_file: &Path) -> Settings {
        let etc = config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Settings {
            config_file: config_file.to_path_buf(),
            astetcdir: etc,
            astspooldir: PathBuf::from("/var/spool/ferrisk"),
            astdbdir: PathBuf::from("/var/lib/ferrisk"),
            astlogdir: PathBuf::from("/var/log/ferrisk"),
            astrundir: PathBuf::from("/var/run/ferrisk"),
            astdatadir: PathBuf::from("/var/lib/ferrisk"),
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
        // Asterisk's stock asterisk.conf declares `[directories](!)`; it is read all the same.
        let any = |name: &str| {
            cf.sections
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
        };
        if let Some(d) = any("directories") {
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
        if let Some(o) = any("options") {
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

    /// The pid file (`astrundir/ferrisk.pid`).
    pub fn pid_path(&self) -> std::path::PathBuf {
        self.astrundir.join("ferrisk.pid")
    }
    /// The control socket (`astrundir/ferrisk.ctl`).
    pub fn ctl_path(&self) -> std::path::PathBuf {
        self.astrundir.join("ferrisk.ctl")
    }
    /// The AstDB file (`astdbdir/astdb.sqlite3`).
    pub fn astdb_path(&self) -> std::path::PathBuf {
        self.astdbdir.join("astdb.sqlite3")
    }

    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            exec_includes: self.exec_includes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directories_relative_and_template_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("asterisk.conf"),
            "[directories](!)\nastdbdir => db\nastlogdir => /tmp/abs\n[options]\nverbose = 3\nexecincludes = yes\nsystemname = pbx1\n",
        )
        .unwrap();
        let s = Settings::load(&dir.path().join("asterisk.conf")).unwrap();
        assert_eq!(s.astdbdir, dir.path().join("db"));
        assert_eq!(s.astlogdir, PathBuf::from("/tmp/abs"));
        assert_eq!(s.verbose, 3);
        assert!(s.exec_includes);
        assert_eq!(s.systemname, "pbx1");
    }

    #[test]
    fn missing_file_gives_packaged_defaults() {
        let s = Settings::load(Path::new("/nonexistent/x/ferrisk.conf")).unwrap();
        assert_eq!(s.astetcdir, PathBuf::from("/nonexistent/x"));
        assert_eq!(s.astrundir, PathBuf::from("/var/run/ferrisk"));
    }
}
