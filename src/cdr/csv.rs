//! The CSV CDR backend (Asterisk's cdr_csv): one line per record appended to
//! `astlogdir/cdr-csv/Master.csv`, and with `accountlogs` also to
//! `cdr-csv/<accountcode>.csv`.
//!
//! Columns, in order: accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
//! lastdata, start, answer, end, duration, billsec, disposition, amaflags, then uniqueid
//! (`loguniqueid`), userfield (`loguserfield`), and peeraccount, linkedid, sequence
//! (`newcdrcolumns`). Strings and dates are double-quoted with `"` doubled inside; duration,
//! billsec and sequence are bare integers; a date that is not set is an empty, unquoted
//! field. Each record is written with a single `write` on a file opened for appending, so
//! concurrent writers (and readers tailing the file) only ever see whole lines.

use super::{Cdr, CdrBackend};
use chrono::{DateTime, Local, Utc};
use parking_lot::Mutex;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `[csv]` options of cdr.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Dates in GMT instead of local time.
    pub usegmtime: bool,
    pub loguniqueid: bool,
    pub loguserfield: bool,
    /// Also write `cdr-csv/<accountcode>.csv` (default yes, as in Asterisk).
    pub accountlogs: bool,
    /// Append peeraccount, linkedid, sequence.
    pub newcdrcolumns: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            usegmtime: false,
            loguniqueid: false,
            loguserfield: false,
            accountlogs: true,
            newcdrcolumns: false,
        }
    }
}

pub struct CsvBackend {
    dir: PathBuf,
    opts: CsvOptions,
    /// Serialises appends from this process (each is still a single write).
    lock: Mutex<()>,
}

fn push_string(line: &mut String, s: &str) {
    line.push('"');
    for c in s.chars() {
        if c == '"' {
            line.push('"');
        }
        line.push(c);
    }
    line.push_str("\",");
}

fn push_int(line: &mut String, n: i64) {
    line.push_str(&n.to_string());
    line.push(',');
}

impl CsvBackend {
    /// A backend writing below `logdir/cdr-csv/`.
    pub fn new(logdir: &Path, opts: CsvOptions) -> CsvBackend {
        CsvBackend {
            dir: logdir.join("cdr-csv"),
            opts,
            lock: Mutex::new(()),
        }
    }

    pub fn options(&self) -> &CsvOptions {
        &self.opts
    }

    /// `cdr-csv/Master.csv`.
    pub fn master_path(&self) -> PathBuf {
        self.dir.join("Master.csv")
    }

    fn push_date(&self, line: &mut String, t: Option<&DateTime<Local>>) {
        match t {
            None => line.push(','),
            Some(t) => {
                let s = if self.opts.usegmtime {
                    t.with_timezone(&Utc)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                } else {
                    t.format("%Y-%m-%d %H:%M:%S").to_string()
                };
                push_string(line, &s);
            }
        }
    }

    /// The CSV line for `cdr`, with its trailing newline.
    pub fn format_record(&self, cdr: &Cdr) -> String {
        let mut l = String::with_capacity(256);
        push_string(&mut l, &cdr.accountcode);
        push_string(&mut l, &cdr.src);
        push_string(&mut l, &cdr.dst);
        push_string(&mut l, &cdr.dcontext);
        push_string(&mut l, &cdr.clid);
        push_string(&mut l, &cdr.channel);
        push_string(&mut l, &cdr.dstchannel);
        push_string(&mut l, &cdr.lastapp);
        push_string(&mut l, &cdr.lastdata);
        self.push_date(&mut l, Some(&cdr.start));
        self.push_date(&mut l, cdr.answer.as_ref());
        self.push_date(&mut l, cdr.end.as_ref());
        push_int(&mut l, cdr.duration());
        push_int(&mut l, cdr.billsec());
        push_string(&mut l, cdr.final_disposition().as_str());
        push_string(&mut l, &cdr.amaflags);
        if self.opts.loguniqueid {
            push_string(&mut l, &cdr.uniqueid);
        }
        if self.opts.loguserfield {
            push_string(&mut l, &cdr.userfield);
        }
        if self.opts.newcdrcolumns {
            push_string(&mut l, &cdr.peeraccount);
            push_string(&mut l, &cdr.linkedid);
            push_int(&mut l, i64::from(cdr.sequence));
        }
        // Trailing comma becomes the newline. A record can never contain a raw newline
        // that would split it: replace any with a space.
        l.pop();
        let mut l: String = l
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        l.push('\n');
        l
    }

    fn append(&self, path: &Path, line: &str) -> std::io::Result<()> {
        let _g = self.lock.lock();
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        };
        // Reopened per record like cdr_csv (log rotation keeps working); the directory is
        // only created when it is missing.
        let mut f = match open() {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(d) = path.parent() {
                    std::fs::create_dir_all(d)?;
                }
                open()?
            }
            Err(e) => return Err(e),
        };
        f.write_all(line.as_bytes())?;
        f.flush()
    }

    /// Write `cdr`; errors are returned for tests and logged by [`CdrBackend::post`].
    pub fn write(&self, cdr: &Cdr) -> std::io::Result<()> {
        let line = self.format_record(cdr);
        let master = self.master_path();
        let res = self.append(&master, &line);
        if let Err(e) = &res {
            tracing::error!("Unable to re-open master file {} : {e}", master.display());
        }
        if self.opts.accountlogs && !cdr.accountcode.is_empty() {
            let acc = &cdr.accountcode;
            if acc.contains('/') || acc.contains('\\') || acc.starts_with('.') {
                tracing::warn!("Account code '{acc}' insecure for writing file");
            } else {
                let p = self.dir.join(format!("{acc}.csv"));
                if let Err(e) = self.append(&p, &line) {
                    tracing::warn!("Unable to write CSV record to account file '{acc}' : {e}");
                }
            }
        }
        res
    }
}

impl CdrBackend for CsvBackend {
    fn name(&self) -> &'static str {
        "csv"
    }
    fn post(&self, cdr: &Cdr) {
        let _ = self.write(cdr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::Disposition;
    use chrono::TimeZone;

    fn sample() -> Cdr {
        let mut c = Cdr::new("SIP/100-00000001", "1700000000.1");
        c.accountcode = "acct1".into();
        c.src = "100".into();
        c.dst = "200".into();
        c.dcontext = "internal".into();
        c.clid = "\"Alice \"A\"\" <100>".into();
        c.dstchannel = "SIP/200-00000002".into();
        c.lastapp = "Dial".into();
        c.lastdata = "SIP/200,30,tT".into();
        let start = Local.with_ymd_and_hms(2024, 3, 5, 10, 0, 0).unwrap();
        c.start = start;
        c.answer = Some(start + chrono::Duration::seconds(5));
        c.end = Some(start + chrono::Duration::seconds(65));
        c.disposition = Disposition::Answered;
        c.userfield = "uf".into();
        c.peeraccount = "peer".into();
        c.sequence = 7;
        c
    }

    #[test]
    fn default_columns_and_quoting() {
        let b = CsvBackend::new(Path::new("/tmp"), CsvOptions::default());
        let line = b.format_record(&sample());
        assert_eq!(
            line,
            "\"acct1\",\"100\",\"200\",\"internal\",\"\"\"Alice \"\"A\"\"\"\" <100>\",\
             \"SIP/100-00000001\",\"SIP/200-00000002\",\"Dial\",\"SIP/200,30,tT\",\
             \"2024-03-05 10:00:00\",\"2024-03-05 10:00:05\",\"2024-03-05 10:01:05\",65,60,\
             \"ANSWERED\",\"DOCUMENTATION\"\n"
        );
    }

    #[test]
    fn unanswered_has_empty_unquoted_answer() {
        let b = CsvBackend::new(Path::new("/tmp"), CsvOptions::default());
        let mut c = sample();
        c.answer = None;
        c.disposition = Disposition::Busy;
        let line = b.format_record(&c);
        assert!(
            line.contains("\"2024-03-05 10:00:00\",,\"2024-03-05 10:01:05\",65,0,\"BUSY\","),
            "{line}"
        );
    }

    #[test]
    fn optional_columns_in_order() {
        let b = CsvBackend::new(
            Path::new("/tmp"),
            CsvOptions {
                loguniqueid: true,
                loguserfield: true,
                newcdrcolumns: true,
                ..CsvOptions::default()
            },
        );
        let line = b.format_record(&sample());
        assert!(
            line.ends_with(
                "\"ANSWERED\",\"DOCUMENTATION\",\"1700000000.1\",\"uf\",\"peer\",\"1700000000.1\",7\n"
            ),
            "{line}"
        );
        let b = CsvBackend::new(
            Path::new("/tmp"),
            CsvOptions {
                loguserfield: true,
                ..CsvOptions::default()
            },
        );
        assert!(b
            .format_record(&sample())
            .ends_with("\"DOCUMENTATION\",\"uf\"\n"));
    }

    #[test]
    fn gmt_dates() {
        let b = CsvBackend::new(
            Path::new("/tmp"),
            CsvOptions {
                usegmtime: true,
                ..CsvOptions::default()
            },
        );
        let c = sample();
        let expect = c
            .start
            .with_timezone(&Utc)
            .format("\"%Y-%m-%d %H:%M:%S\"")
            .to_string();
        assert!(b.format_record(&c).contains(&expect));
    }

    #[test]
    fn newlines_never_split_a_record() {
        let b = CsvBackend::new(Path::new("/tmp"), CsvOptions::default());
        let mut c = sample();
        c.lastdata = "a\nb\r".into();
        let line = b.format_record(&c);
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.contains("\"a b \""));
    }

    #[test]
    fn writes_master_and_account_files() {
        let dir = tempfile::tempdir().unwrap();
        let b = CsvBackend::new(dir.path(), CsvOptions::default());
        let c = sample();
        b.post(&c);
        b.post(&c);
        let master = std::fs::read_to_string(dir.path().join("cdr-csv/Master.csv")).unwrap();
        assert_eq!(master.lines().count(), 2);
        assert_eq!(master, b.format_record(&c).repeat(2));
        let acct = std::fs::read_to_string(dir.path().join("cdr-csv/acct1.csv")).unwrap();
        assert_eq!(acct, master);

        // Insecure account codes never become file names; no account file without a code.
        let mut bad = sample();
        bad.accountcode = "../evil".into();
        b.post(&bad);
        bad.accountcode = String::new();
        b.post(&bad);
        let names: Vec<String> = std::fs::read_dir(dir.path().join("cdr-csv"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(!dir.path().join("evil.csv").exists());
        let master = std::fs::read_to_string(b.master_path()).unwrap();
        assert_eq!(master.lines().count(), 4);
    }

    #[test]
    fn accountlogs_off() {
        let dir = tempfile::tempdir().unwrap();
        let b = CsvBackend::new(
            dir.path(),
            CsvOptions {
                accountlogs: false,
                ..CsvOptions::default()
            },
        );
        b.post(&sample());
        assert!(b.master_path().exists());
        assert!(!dir.path().join("cdr-csv/acct1.csv").exists());
    }

    #[test]
    fn concurrent_appends_stay_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let b = std::sync::Arc::new(CsvBackend::new(dir.path(), CsvOptions::default()));
        let mut handles = Vec::new();
        for t in 0..4 {
            let b = b.clone();
            handles.push(std::thread::spawn(move || {
                for i in 0..50 {
                    let mut c = sample();
                    c.userfield = format!("{t}-{i}");
                    c.lastdata = "x".repeat(500);
                    b.post(&c);
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        let expect = b.format_record(&sample());
        let master = std::fs::read_to_string(b.master_path()).unwrap();
        assert_eq!(master.lines().count(), 200);
        let mut c = sample();
        c.lastdata = "x".repeat(500);
        let expect_long = b.format_record(&c);
        assert_ne!(expect, expect_long);
        for l in master.lines() {
            assert_eq!(format!("{l}\n"), expect_long);
        }
    }
}
