//! `database …` commands (AstDB), with Asterisk's messages.

use super::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    r.register(
        Command::new(
            "database show",
            "Shows database contents",
            "Usage: database show [family [keytree]]\n   OR: database show [family[/keytree]]\n       Shows ferrisk database contents, optionally restricted\n       to a given family, or family and keytree. The two arguments\n       may be separated by either a space or a slash.",
            show,
        )
        .complete_with(|st, args, p| {
            if args.is_empty() {
                filter_prefix(st.pbx.astdb.keys(""), p)
            } else {
                vec![]
            }
        }),
    );
    r.register(Command::new(
        "database showkey",
        "Shows database contents",
        "Usage: database showkey <keytree>\n       Shows ferrisk database contents, restricted to a given key.",
        showkey,
    ));
    r.register(Command::new(
        "database put",
        "Adds/updates database value",
        "Usage: database put <family> <key> <value>\n       Adds or updates an entry in the ferrisk database for\n       a given family, key, and value.",
        put,
    ));
    r.register(Command::new(
        "database get",
        "Gets database value",
        "Usage: database get <family> <key>\n       Retrieves an entry in the ferrisk database for a given\n       family and key.",
        get,
    ));
    r.register(Command::new(
        "database del",
        "Removes database key/value",
        "Usage: database del <family> <key>\n       Deletes an entry in the ferrisk database for a given\n       family and key.",
        del,
    ));
    r.register(Command::new(
        "database deltree",
        "Removes database keytree/values",
        "Usage: database deltree <family> [keytree]\n   OR: database deltree <family>[/keytree]\n       Deletes a family or specific keytree within a family\n       in the ferrisk database.  The two arguments may be\n       separated by either a space or a slash.",
        deltree,
    ));
    r.register(Command::new(
        "database query",
        "Run a user-specified query on the astdb",
        "Usage: database query \"<SQL Statement>\"\n       Run a user-specified SQL query on the database. Be careful.",
        query,
    ));
}

/// `family keytree` or `family/keytree`.
fn family_keytree(args: &[String]) -> Result<(Option<String>, Option<String>), CliError> {
    match args {
        [] => Ok((None, None)),
        [f] => match f.trim_start_matches('/').split_once('/') {
            Some((fam, kt)) => Ok((Some(fam.to_string()), Some(kt.to_string()))),
            None => Ok((Some(f.trim_start_matches('/').to_string()), None)),
        },
        [f, k] => Ok((Some(f.clone()), Some(k.clone()))),
        _ => Err(CliError::ShowUsage),
    }
}

/// Rows as `database show` prints them, with the count line.
pub fn format_rows(rows: &[(String, String)]) -> String {
    let mut o = String::new();
    for (k, v) in rows {
        let _ = writeln!(o, "{k:<50}: {v:<25}");
    }
    let n = rows.len();
    let _ = writeln!(o, "{n} results found.");
    o
}

/// Run `f` on the AstDB on the blocking pool (SQLite never runs on an async worker).
async fn on_db<T: Send + 'static>(
    c: &Ctx,
    f: impl FnOnce(&crate::astdb::AstDb) -> T + Send + 'static,
) -> T {
    let pbx = c.pbx().clone();
    match tokio::task::spawn_blocking(move || f(&pbx.astdb)).await {
        Ok(v) => v,
        // The closure panicked: that is a bug; let the command fail as loudly.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

async fn show(c: Ctx) -> CliResult {
    let (f, k) = family_keytree(&c.args)?;
    Ok(format_rows(
        &on_db(&c, move |d| d.show(f.as_deref(), k.as_deref())).await,
    ))
}

async fn showkey(c: Ctx) -> CliResult {
    let [k] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let k = k.clone();
    Ok(format_rows(&on_db(&c, move |d| d.showkey(&k)).await))
}

async fn put(c: Ctx) -> CliResult {
    let [f, k, v] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let (f, k, v) = (f.clone(), k.clone(), v.clone());
    Ok(match on_db(&c, move |d| d.put(&f, &k, &v)).await {
        Ok(()) => "Updated database successfully\n".into(),
        Err(_) => "Failed to update entry\n".into(),
    })
}

async fn get(c: Ctx) -> CliResult {
    let [f, k] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let (f, k) = (f.clone(), k.clone());
    Ok(match on_db(&c, move |d| d.get(&f, &k)).await {
        Some(v) => format!("Value: {v}\n"),
        None => "Database entry not found.\n".into(),
    })
}

async fn del(c: Ctx) -> CliResult {
    let [f, k] = c.args.as_slice() else {
        return Err(CliError::ShowUsage);
    };
    let (f, k) = (f.clone(), k.clone());
    Ok(match on_db(&c, move |d| d.del(&f, &k)).await {
        Ok(true) => "Database entry removed.\n".into(),
        Ok(false) => "Database entry does not exist.\n".into(),
        Err(e) => format!("Database unavailable: {e}\n"),
    })
}

async fn deltree(c: Ctx) -> CliResult {
    if c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let (f, k) = family_keytree(&c.args)?;
    Ok(
        match on_db(&c, move |d| d.deltree(f.as_deref(), k.as_deref())).await {
            Ok(0) => "Database entries do not exist.\n".into(),
            Ok(n) => format!("{n} database entries removed.\n"),
            Err(e) => format!("Database unavailable: {e}\n"),
        },
    )
}

async fn query(c: Ctx) -> CliResult {
    if c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let sql = c.args.join(" ");
    match on_db(&c, move |d| d.query(&sql)).await {
        Ok(rows) => {
            let mut o = String::new();
            for row in rows {
                for (name, v) in row {
                    let _ = writeln!(o, "{name:<5}: {v:<50}");
                }
                o.push('\n');
            }
            Ok(o)
        }
        Err(e) => Err(CliError::Failure(format!("Failed to execute query: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::execute;

    #[tokio::test]
    async fn database_commands() {
        let st = crate::cli::new_state(crate::modules::test_pbx());
        let ex = |l: &'static str| {
            let st = st.clone();
            async move { execute(&st, l, None).await }
        };
        assert_eq!(
            ex("database put fam key \"a b\"").await,
            "Updated database successfully\n"
        );
        assert_eq!(ex("database get fam key").await, "Value: a b\n");
        assert_eq!(
            ex("database get fam nope").await,
            "Database entry not found.\n"
        );
        let s = ex("database show fam").await;
        assert_eq!(
            s,
            format!("{:<50}: {:<25}\n1 results found.\n", "/fam/key", "a b")
        );
        assert_eq!(
            ex("database del fam key").await,
            "Database entry removed.\n"
        );
        assert_eq!(
            ex("database del fam key").await,
            "Database entry does not exist.\n"
        );
        ex("database put fam/sub a 1").await;
        ex("database put fam/sub b 2").await;
        assert!(ex("database show fam/sub")
            .await
            .ends_with("2 results found.\n"));
        assert_eq!(
            ex("database deltree fam sub").await,
            "2 database entries removed.\n"
        );
        assert_eq!(
            ex("database deltree fam").await,
            "Database entries do not exist.\n"
        );
        assert!(ex("database put x")
            .await
            .starts_with("Usage: database put"));
    }
}
