//! `realtime load|update|update2|store|destroy` and `core show config mappings`, with
//! Asterisk's argument order and messages (res_realtime and main/config.c).

use super::format::ess;
use super::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use crate::pbx::realtime::Fields;
use std::fmt::Write;

const FAILED_UPDATE: &str =
    "Failed to update. Check the debug log for possible SQL related entries.";

pub fn register(r: &CommandRegistry) {
    let families = |st: &super::CliState, args: &[String], p: &str| {
        if args.is_empty() {
            let cfg = st.pbx.realtime.config();
            filter_prefix(cfg.families.iter().map(|m| m.name.clone()), p)
        } else {
            vec![]
        }
    };
    r.register(
        Command::new(
            "realtime load",
            "Used to print out RealTime variables.",
            "Usage: realtime load <family> <colmatch> <value>\n       Prints out a list of variables using the RealTime driver.\n       You must supply a family name, a column to match on, and a value to match to.",
            load,
        )
        .complete_with(families),
    );
    r.register(
        Command::new(
            "realtime update",
            "Used to update RealTime variables.",
            "Usage: realtime update <family> <colmatch> <valuematch> <colupdate> <newvalue>\n       Update a single variable using the RealTime driver.\n       You must supply a family name, a column and value to match, a column to update,\n       and its new value.\n       Ex: realtime update sippeers name bobsphone port 4343\n       will execute SQL as UPDATE sippeers SET port = 4343 WHERE name = bobsphone",
            update,
        )
        .complete_with(families),
    );
    r.register(
        Command::new(
            "realtime update2",
            "Used to test the RealTime update2 method",
            "Usage: realtime update2 <family> <colmatch> <valuematch> [... <colmatch5> <valuematch5>] <colupdate> <newvalue>\n   Update a single variable, requiring one or more fields to match using the\n   RealTime driver.  You must supply a family name, at least one column and value\n   to match, then the column to update and its new value (the last two words).\n   Ex: realtime update2 sippeers name bobsphone ipaddr 127.0.0.1 port 4343\n   will execute SQL as\n   UPDATE sippeers SET port='4343' WHERE name='bobsphone' and ipaddr='127.0.0.1'",
            update2,
        )
        .complete_with(families),
    );
    r.register(
        Command::new(
            "realtime store",
            "Store a new row into a RealTime database",
            "Usage: realtime store <family> <colname1> <value1> [<colname2> <value2> [... <colname5> <value5>]]\n       Create a stored row using the RealTime driver.\n       You must supply a family name and name/value pairs (up to 5).  If\n       you need to store more than 5 key/value pairs, start with the first\n       five, then use 'realtime update' or 'realtime update2' to add\n       additional columns.",
            store,
        )
        .complete_with(families),
    );
    r.register(
        Command::new(
            "realtime destroy",
            "Delete a row from a RealTime database",
            "Usage: realtime destroy <family> <colmatch1> <valuematch1> [<colmatch2> <valuematch2> [... <colmatch5> <valuematch5>]]\n       Remove a stored row using the RealTime driver.\n       You must supply a family name and name/value pairs (up to 5).",
            destroy,
        )
        .complete_with(families),
    );
    r.register(Command::new(
        "core show config mappings",
        "Display config mappings (file names to config engines)",
        "Usage: core show config mappings\n\tShows the filenames to config engines.",
        show_mappings,
    ));
}

/// Name/value pairs from `args` (an even number of words).
fn pairs(args: &[String]) -> Fields {
    args.chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

/// `family` followed by 1 to 5 name/value pairs (Asterisk's argc 5, 7, … 13).
fn family_and_pairs(args: &[String]) -> Result<(&str, Fields), CliError> {
    match args {
        [family, rest @ ..] if !rest.is_empty() && rest.len() % 2 == 0 && rest.len() <= 10 => {
            Ok((family.as_str(), pairs(rest)))
        }
        _ => Err(CliError::ShowUsage),
    }
}

fn row_line(o: &mut String, name: &str, value: &str) {
    let _ = writeln!(o, "{name:>30}  {value:<30}");
}

async fn load(c: Ctx) -> CliResult {
    let [family, col, value, ..] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let filter = vec![(col.clone(), value.clone())];
    match c.pbx().realtime.load_all(family, &filter).await {
        Ok(Some(row)) => {
            let mut o = String::new();
            row_line(&mut o, "Column Name", "Column Value");
            row_line(&mut o, "--------------------", "--------------------");
            for (k, v) in &row {
                row_line(&mut o, k, v);
            }
            Ok(o)
        }
        _ => Ok("No rows found matching search criteria.\n".into()),
    }
}

fn updated(res: Result<usize, crate::pbx::realtime::RealtimeError>) -> CliResult {
    match res {
        Ok(n) => Ok(format!("Updated {n} RealTime record{}.\n", ess(n as u64))),
        Err(_) => Err(CliError::Failure(FAILED_UPDATE.into())),
    }
}

async fn update(c: Ctx) -> CliResult {
    let [family, colmatch, valuematch, colupdate, newvalue, ..] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let set = vec![(colupdate.clone(), newvalue.clone())];
    updated(
        c.pbx()
            .realtime
            .update(family, colmatch, valuematch, &set)
            .await,
    )
}

async fn update2(c: Ctx) -> CliResult {
    let (family, mut all) = family_and_pairs(&c.args)?;
    if all.len() < 2 {
        return Err(CliError::ShowUsage);
    }
    let set = vec![all.pop().unwrap_or_default()];
    updated(c.pbx().realtime.update2(family, &all, &set).await)
}

async fn store(c: Ctx) -> CliResult {
    let (family, fields) = family_and_pairs(&c.args)?;
    match c.pbx().realtime.store(family, &fields).await {
        Ok(_) => Ok("Stored RealTime record.\n".into()),
        Err(_) => Err(CliError::Failure(
            "Failed to store record. Check the debug log for possible SQL related entries.".into(),
        )),
    }
}

async fn destroy(c: Ctx) -> CliResult {
    let (family, mut fields) = family_and_pairs(&c.args)?;
    let (keyfield, lookup) = fields.remove(0);
    match c
        .pbx()
        .realtime
        .destroy(family, &keyfield, &lookup, &fields)
        .await
    {
        Ok(n) => Ok(format!("Removed {n} RealTime record{}.\n", ess(n as u64))),
        Err(_) => Err(CliError::Failure(
            "Failed to remove record. Check the debug log for possible SQL related entries.".into(),
        )),
    }
}

async fn show_mappings(c: Ctx) -> CliResult {
    let rt = &c.pbx().realtime;
    let engines = rt.engine_names();
    if engines.is_empty() {
        return Ok("No config mappings found.\n".into());
    }
    let cfg = rt.config();
    let mut o = String::new();
    for eng in engines {
        let _ = writeln!(o, "Config Engine: {eng}");
        // Asterisk keeps its mappings newest first and lists them so.
        for m in cfg.static_files.iter().chain(&cfg.families).rev() {
            if m.engine.eq_ignore_ascii_case(eng) {
                let _ = writeln!(o, "===> {} (db={}, table={})", m.name, m.database, m.table);
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use crate::cli::execute;
    use crate::config::settings::Settings;
    use crate::pbx::realtime::ExtConfig;
    use crate::pbx::Pbx;

    #[tokio::test]
    async fn realtime_commands_on_a_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults_for(&dir.path().join("ferrisk.conf"));
        settings.astdbdir = dir.path().to_path_buf();
        let conn = rusqlite::Connection::open(dir.path().join("realtime.sqlite3")).unwrap();
        conn.execute_batch(
            "CREATE TABLE sippeers (name TEXT, host TEXT, port TEXT);
             INSERT INTO sippeers VALUES ('1001', 'dynamic', NULL);",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("res_config_sqlite3.conf"),
            "[asterisk]\ndbfile => realtime.sqlite3\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("extconfig.conf"),
            "[settings]\nqueues.conf => sqlite3,asterisk,ast_config\nsippeers => sqlite3,asterisk\nvoicemail => odbc,asterisk,vm\n",
        )
        .unwrap();

        let st = crate::cli::new_state(Pbx::for_tests());
        let ex = |l: &'static str| {
            let st = st.clone();
            async move { execute(&st, l, None).await }
        };
        assert_eq!(
            ex("core show config mappings").await,
            "No config mappings found.\n"
        );
        let pbx = &st.pbx;
        pbx.realtime
            .register_engine(crate::res::config_sqlite3::load_engine(&settings).unwrap());
        pbx.realtime
            .set_config(ExtConfig::load(dir.path(), &Default::default()).unwrap());

        let line = |a: &str, b: &str| format!("{a:>30}  {b:<30}\n");
        assert_eq!(
            ex("realtime load sippeers name 1001").await,
            [
                line("Column Name", "Column Value"),
                line("--------------------", "--------------------"),
                line("name", "1001"),
                line("host", "dynamic"),
                line("port", ""),
            ]
            .concat()
        );
        assert_eq!(
            ex("realtime load sippeers name 9999").await,
            "No rows found matching search criteria.\n"
        );
        assert_eq!(
            ex("realtime load voicemail mailbox 1").await,
            "No rows found matching search criteria.\n"
        );
        assert_eq!(
            ex("realtime update sippeers name 1001 port 5060").await,
            "Updated 1 RealTime record.\n"
        );
        assert_eq!(
            ex("realtime update sippeers name nobody port 5060").await,
            "Updated 0 RealTime records.\n"
        );
        assert_eq!(
            ex("realtime update sippeers name 1001 \"no such\" 5060").await,
            "Failed to update. Check the debug log for possible SQL related entries.\n"
        );
        assert_eq!(
            ex("realtime store sippeers name 1002 host dynamic port 5062").await,
            "Stored RealTime record.\n"
        );
        assert_eq!(
            ex("realtime update2 sippeers host dynamic port 5062 host static").await,
            "Updated 1 RealTime record.\n"
        );
        assert!(ex("realtime load sippeers host static")
            .await
            .contains(&line("name", "1002")));
        assert_eq!(
            ex("realtime destroy sippeers host static name 1002").await,
            "Removed 1 RealTime record.\n"
        );
        assert_eq!(
            ex("realtime destroy sippeers host static").await,
            "Removed 0 RealTime records.\n"
        );
        assert!(ex("realtime update2 sippeers name 1001")
            .await
            .starts_with("Usage: realtime update2"));
        assert!(ex("realtime store sippeers name")
            .await
            .starts_with("Usage: realtime store"));
        assert!(ex("realtime load sippeers")
            .await
            .starts_with("Usage: realtime load"));
        assert_eq!(
            ex("core show config mappings").await,
            "Config Engine: sqlite3\n===> sippeers (db=asterisk, table=sippeers)\n===> queues.conf (db=asterisk, table=ast_config)\n"
        );
        let c = crate::cli::complete(&st, "realtime load sip");
        assert_eq!(c, vec!["sippeers"]);
    }
}
