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
    /// `astagidir`: where AGI() finds scripts named without a leading `/` (default
    /// `<astdatadir>/agi-bin`, as Asterisk's `/var/lib/asterisk/agi-bin`).
    pub astagidir: PathBuf,
    pub verbose: u8,
    pub debug: u8,
    pub exec_includes: bool,
    pub systemname: String,
    /// `[files]`: the control socket's name in astrundir (`astctl`, default ferrisk.ctl).
    pub astctl: String,
    /// `[files] astctlpermissions` (octal; default 0600: the owner only).
    pub astctl_permissions: u32,
    /// `[files] astctlowner` / `astctlgroup`: user and group names for the socket.
    pub astctl_owner: Option<String>,
    pub astctl_group: Option<String>,
}

/// `p` made absolute (against the current directory) and `.`/`..` resolved by name.
pub fn absolute(p: &Path) -> PathBuf {
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    super::clean_path(&full)
}

impl Settings {
    /// Defaults, as a packaged install lays them out (Asterisk's, with `ferrisk` for
    /// `asterisk`); the config directory is the one holding `config_file`.
    pub fn defaults_for(config_file: &Path) -> Settings {
        let config_file = absolute(config_file);
        let etc = config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        Settings {
            config_file: config_file.clone(),
            astetcdir: etc,
            astspooldir: PathBuf::from("/var/spool/ferrisk"),
            astdbdir: PathBuf::from("/var/lib/ferrisk"),
            astlogdir: PathBuf::from("/var/log/ferrisk"),
            astrundir: PathBuf::from("/var/run/ferrisk"),
            astdatadir: PathBuf::from("/var/lib/ferrisk"),
            astagidir: PathBuf::from("/var/lib/ferrisk/agi-bin"),
            verbose: 0,
            debug: 0,
            exec_includes: false,
            systemname: String::new(),
            astctl: "ferrisk.ctl".into(),
            astctl_permissions: 0o600,
            astctl_owner: None,
            astctl_group: None,
        }
    }

    /// Read `ferrisk.conf`/`asterisk.conf`. A missing file gives the defaults.
    pub fn load(config_file: &Path) -> Result<Settings, ConfigError> {
        let mut s = Settings::defaults_for(config_file);
        let config_file = s.config_file.clone();
        if !config_file.exists() {
            return Ok(s);
        }
        let dir = s.astetcdir.clone();
        let name = config_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ferrisk.conf".into());
        let cf = load(&dir, &name, &LoadOptions::default())?;
        // Every directory is absolute, without `.` or `..`, from here on: a relative
        // `-C etc/ferrisk.conf` and `astspooldir => ../var/spool` give the same paths as
        // absolute ones (prompt and message look-ups refuse names with `..`).
        let resolve = |v: &str| -> PathBuf { absolute(&dir.join(v.trim())) };
        // Asterisk's stock asterisk.conf declares `[directories](!)`; it is read all the same.
        let any = |name: &str| {
            cf.sections
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
        };
        let mut agidir = None;
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
                    "astagidir" => agidir = Some(p),
                    _ => {}
                }
            }
        }
        s.astagidir = agidir.unwrap_or_else(|| s.astdatadir.join("agi-bin"));
        if let Some(f) = any("files") {
            for e in &f.entries {
                let v = e.value.trim();
                match e.key.to_ascii_lowercase().as_str() {
                    "astctl" if !v.is_empty() && !v.contains('/') => s.astctl = v.to_string(),
                    "astctlpermissions" => {
                        s.astctl_permissions = u32::from_str_radix(v, 8)
                            .ok()
                            .filter(|m| *m <= 0o777)
                            .ok_or_else(|| {
                                ConfigError::at(
                                    &e.loc,
                                    format!("astctlpermissions must be octal permissions such as 0660, not '{v}'"),
                                )
                            })?
                    }
                    "astctlowner" if !v.is_empty() => s.astctl_owner = Some(v.to_string()),
                    "astctlgroup" if !v.is_empty() => s.astctl_group = Some(v.to_string()),
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
    /// The control socket (`astrundir/ferrisk.ctl`, or `[files] astctl`).
    pub fn ctl_path(&self) -> std::path::PathBuf {
        self.astrundir.join(&self.astctl)
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
    fn directories_become_absolute_without_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("ferrisk.conf"),
            "[directories]\nastetcdir => .\nastspooldir => ../var/spool\nastdatadir => ..\n",
        )
        .unwrap();
        // A relative -C, as README's command line: the config's own directory is the base.
        let rel = pathdiff(&etc.join("ferrisk.conf"));
        let s = Settings::load(&rel).unwrap();
        assert_eq!(s.astetcdir, etc);
        assert_eq!(s.astspooldir, dir.path().join("var/spool"));
        assert_eq!(s.astdatadir, dir.path().to_path_buf());
        assert_eq!(s.astagidir, dir.path().join("agi-bin"));
        assert!(s.config_file.is_absolute());
        assert_eq!(absolute(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    /// `p` relative to the current directory (`../../tmp/x/etc/ferrisk.conf`).
    fn pathdiff(p: &Path) -> PathBuf {
        let cwd = std::env::current_dir().unwrap();
        let up = cwd.components().count() - 1;
        let mut r = PathBuf::new();
        for _ in 0..up {
            r.push("..");
        }
        r.join(p.strip_prefix("/").unwrap())
    }

    #[test]
    fn missing_file_gives_packaged_defaults() {
        let s = Settings::load(Path::new("/nonexistent/x/ferrisk.conf")).unwrap();
        assert_eq!(s.astetcdir, PathBuf::from("/nonexistent/x"));
        assert_eq!(s.astrundir, PathBuf::from("/var/run/ferrisk"));
    }

    #[test]
    fn files_section_names_the_socket_and_its_access() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("asterisk.conf");
        std::fs::write(&f, "[files]\nastctlpermissions = 0660\nastctlowner = root\nastctlgroup = apache\nastctl = pbx.ctl\n").unwrap();
        let s = Settings::load(&f).unwrap();
        assert_eq!(s.astctl_permissions, 0o660);
        assert_eq!(s.astctl_owner.as_deref(), Some("root"));
        assert_eq!(s.astctl_group.as_deref(), Some("apache"));
        assert!(s.ctl_path().ends_with("pbx.ctl"));
        assert_eq!(Settings::defaults_for(&f).astctl_permissions, 0o600);
        std::fs::write(&f, "[files]\nastctlpermissions = 999\n").unwrap();
        let e = Settings::load(&f).unwrap_err().to_string();
        assert!(e.contains("asterisk.conf:2:"), "{e}");
    }
}
