//! `cdr.conf`: `[general]` (the CDR engine) and `[csv]` (the CSV backend).
//!
//! - `[general] enable` (default yes): no backends at all when off.
//! - `[general] unanswered` (default no): as Asterisk's cdr.c, a record whose disposition
//!   is below ANSWERED and that has no destination channel is not posted.
//! - `[general] congestion` (default no): a CONGESTION disposition is posted as FAILED.
//! - `[csv] usegmtime, loguniqueid, loguserfield, accountlogs (default yes), newcdrcolumns`.
//!
//! A missing cdr.conf gives the CSV backend with its defaults. A cdr.conf without a `[csv]`
//! section leaves the CSV backend off, as Asterisk's cdr_csv declines to load then.

use super::csv::{CsvBackend, CsvOptions};
use super::{Cdr, CdrBackend, Disposition};
use crate::config::settings::Settings;
use crate::config::{is_false, is_true, ConfigError, ConfigFile};
use std::path::Path;
use std::sync::Arc;

/// `[general]` of cdr.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrGeneral {
    pub enable: bool,
    pub unanswered: bool,
    pub congestion: bool,
}

impl Default for CdrGeneral {
    fn default() -> Self {
        CdrGeneral {
            enable: true,
            unanswered: false,
            congestion: false,
        }
    }
}

/// Everything cdr.conf says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrConfig {
    pub general: CdrGeneral,
    /// `None`: the CSV backend is not loaded.
    pub csv: Option<CsvOptions>,
}

impl Default for CdrConfig {
    /// What applies without a cdr.conf.
    fn default() -> Self {
        CdrConfig {
            general: CdrGeneral::default(),
            csv: Some(CsvOptions::default()),
        }
    }
}

fn flag(loc: &crate::config::Location, key: &str, v: &str) -> Result<bool, ConfigError> {
    if is_true(v) {
        Ok(true)
    } else if is_false(v) {
        Ok(false)
    } else {
        Err(ConfigError::at(
            loc,
            format!("'{key}' expects yes or no, not '{v}'"),
        ))
    }
}

/// Interpret a loaded cdr.conf. Unknown keys are ignored (Asterisk has many that ferrisk
/// does not implement: batch, size, time, safeshutdown, endbeforehexten, …).
pub fn parse(cf: &ConfigFile) -> Result<CdrConfig, ConfigError> {
    let mut out = CdrConfig {
        general: CdrGeneral::default(),
        csv: None,
    };
    if let Some(g) = cf.section("general") {
        for e in &g.entries {
            match e.key.to_ascii_lowercase().as_str() {
                "enable" => out.general.enable = flag(&e.loc, &e.key, &e.value)?,
                "unanswered" => out.general.unanswered = flag(&e.loc, &e.key, &e.value)?,
                "congestion" => out.general.congestion = flag(&e.loc, &e.key, &e.value)?,
                _ => {}
            }
        }
    }
    if let Some(s) = cf.section("csv") {
        let mut o = CsvOptions::default();
        for e in &s.entries {
            match e.key.to_ascii_lowercase().as_str() {
                "usegmtime" => o.usegmtime = flag(&e.loc, &e.key, &e.value)?,
                "loguniqueid" => o.loguniqueid = flag(&e.loc, &e.key, &e.value)?,
                "loguserfield" => o.loguserfield = flag(&e.loc, &e.key, &e.value)?,
                "accountlogs" => o.accountlogs = flag(&e.loc, &e.key, &e.value)?,
                "newcdrcolumns" => o.newcdrcolumns = flag(&e.loc, &e.key, &e.value)?,
                _ => {}
            }
        }
        out.csv = Some(o);
    }
    Ok(out)
}

/// Read `astetcdir/cdr.conf` (missing → [`CdrConfig::default`]).
pub fn read_cdr_config(settings: &Settings) -> Result<CdrConfig, ConfigError> {
    if !settings.astetcdir.join("cdr.conf").exists() {
        return Ok(CdrConfig::default());
    }
    let cf = crate::config::load(&settings.astetcdir, "cdr.conf", &settings.load_options())?;
    parse(&cf)
}

/// Applies `[general]` to every record before a backend sees it.
pub struct GeneralFilter {
    pub general: CdrGeneral,
    pub inner: Arc<dyn CdrBackend>,
}

impl GeneralFilter {
    /// The record as it should be posted, or `None` when `[general]` drops it.
    pub fn apply(general: &CdrGeneral, cdr: &Cdr) -> Option<Cdr> {
        let disp = cdr.final_disposition();
        if !general.unanswered && disp != Disposition::Answered && cdr.dstchannel.is_empty() {
            return None;
        }
        let mut out = cdr.clone();
        out.disposition = disp;
        if disp == Disposition::Congestion && !general.congestion {
            out.disposition = Disposition::Failed;
            out.disposition_override = Some(Disposition::Failed);
        }
        Some(out)
    }
}

impl CdrBackend for GeneralFilter {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn post(&self, cdr: &Cdr) {
        if let Some(c) = Self::apply(&self.general, cdr) {
            self.inner.post(&c);
        }
    }
}

/// The backends a parsed configuration asks for, writing below `logdir`.
pub fn backends_for(cfg: &CdrConfig, logdir: &Path) -> Vec<Arc<dyn CdrBackend>> {
    if !cfg.general.enable {
        return Vec::new();
    }
    let mut out: Vec<Arc<dyn CdrBackend>> = Vec::new();
    if let Some(o) = &cfg.csv {
        out.push(Arc::new(GeneralFilter {
            general: cfg.general.clone(),
            inner: Arc::new(CsvBackend::new(logdir, o.clone())),
        }));
    }
    out
}

/// Load cdr.conf and build the configured backends (for [`super::CdrEngine::set_backends`]).
pub fn load_cdr_config(settings: &Settings) -> Result<Vec<Arc<dyn CdrBackend>>, ConfigError> {
    let cfg = read_cdr_config(settings)?;
    Ok(backends_for(&cfg, &settings.astlogdir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn settings(dir: &Path) -> Settings {
        let mut s = Settings::defaults_for(&dir.join("ferrisk.conf"));
        s.astetcdir = dir.join("etc");
        s.astlogdir = dir.join("log");
        std::fs::create_dir_all(&s.astetcdir).unwrap();
        s
    }

    fn answered() -> Cdr {
        let mut c = Cdr::new("Test/1", "1.1");
        c.mark_answered();
        c.finish("Hangup", "");
        c
    }

    fn parse_text(t: &str) -> Result<CdrConfig, ConfigError> {
        let cf = load_str(Path::new("/tmp"), "cdr.conf", t, &LoadOptions::default())?;
        parse(&cf)
    }

    #[test]
    fn missing_file_gives_csv_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        assert_eq!(read_cdr_config(&s).unwrap(), CdrConfig::default());
        let b = load_cdr_config(&s).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].name(), "csv");
        b[0].post(&answered());
        let master = std::fs::read_to_string(dir.path().join("log/cdr-csv/Master.csv")).unwrap();
        assert_eq!(master.lines().count(), 1);
        assert!(master.contains("\"ANSWERED\""));
    }

    #[test]
    fn parses_sections() {
        let c = parse_text(
            "[general]\nenable=yes\nunanswered=yes\ncongestion=yes\nbatch=no\n\
             [csv]\nusegmtime=yes\nloguniqueid=yes\nloguserfield=yes\naccountlogs=no\n",
        )
        .unwrap();
        assert!(c.general.unanswered && c.general.congestion && c.general.enable);
        assert_eq!(
            c.csv,
            Some(CsvOptions {
                usegmtime: true,
                loguniqueid: true,
                loguserfield: true,
                accountlogs: false,
                newcdrcolumns: false,
            })
        );
    }

    #[test]
    fn no_csv_section_or_disabled_means_no_backend() {
        let c = parse_text("[general]\nenable=yes\n").unwrap();
        assert_eq!(c.csv, None);
        assert!(backends_for(&c, Path::new("/tmp")).is_empty());
        let c = parse_text("[general]\nenable=no\n[csv]\n").unwrap();
        assert!(backends_for(&c, Path::new("/tmp")).is_empty());
    }

    #[test]
    fn bad_boolean_names_the_line() {
        let e = parse_text("[csv]\n\nloguniqueid=maybe\n").unwrap_err();
        assert!(e.to_string().contains("cdr.conf:3"), "{e}");
        assert!(e.msg.contains("loguniqueid"));
    }

    #[test]
    fn config_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        std::fs::write(
            s.astetcdir.join("cdr.conf"),
            "[general]\nenable=yes\n[csv]\nloguniqueid=yes\naccountlogs=no\n",
        )
        .unwrap();
        let b = load_cdr_config(&s).unwrap();
        let mut c = answered();
        c.accountcode = "acc".into();
        b[0].post(&c);
        let master = std::fs::read_to_string(dir.path().join("log/cdr-csv/Master.csv")).unwrap();
        assert!(
            master.trim_end().ends_with("\"DOCUMENTATION\",\"1.1\""),
            "{master}"
        );
        assert!(!dir.path().join("log/cdr-csv/acc.csv").exists());
    }

    #[test]
    fn general_filters() {
        let g = CdrGeneral::default();
        // Unanswered without a destination channel: dropped unless unanswered=yes.
        let mut c = Cdr::new("Test/1", "1.1");
        c.finish("Playback", "x");
        assert!(GeneralFilter::apply(&g, &c).is_none());
        let yes = CdrGeneral {
            unanswered: true,
            ..g.clone()
        };
        assert!(GeneralFilter::apply(&yes, &c).is_some());
        // Unanswered Dial (has dstchannel) is kept.
        c.dstchannel = "Test/2".into();
        c.disposition_override = Some(Disposition::Busy);
        c.disposition = Disposition::Busy;
        let out = GeneralFilter::apply(&g, &c).unwrap();
        assert_eq!(out.disposition, Disposition::Busy);
        // Congestion is FAILED unless congestion=yes.
        c.disposition_override = Some(Disposition::Congestion);
        c.disposition = Disposition::Congestion;
        let out = GeneralFilter::apply(&g, &c).unwrap();
        assert_eq!(out.final_disposition(), Disposition::Failed);
        let cong = CdrGeneral {
            congestion: true,
            ..g
        };
        let out = GeneralFilter::apply(&cong, &c).unwrap();
        assert_eq!(out.final_disposition(), Disposition::Congestion);
    }
}
