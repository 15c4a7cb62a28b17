//! `voicemail …` commands, shaped like app_voicemail's: `voicemail show users [for ctx]`,
//! `voicemail show zones`, `voicemail reload`.

use crate::pbx::cli::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use crate::voicemail::box_id;
use crate::voicemail::config::VoicemailConfig;
use crate::voicemail::store::Folder;
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    r.register(
        Command::new(
            "voicemail show users",
            "List defined voicemail boxes",
            "Usage: voicemail show users [for <context>]\n       Lists all mailboxes currently set up",
            show_users,
        )
        .complete_with(|st, args, p| match args.len() {
            0 => filter_prefix(vec!["for".to_string()], p),
            1 => {
                let c = crate::voicemail::of(&st.pbx).config();
                let mut ctxs: Vec<String> = c.mailboxes.keys().map(|(c, _)| c.clone()).collect();
                ctxs.dedup();
                filter_prefix(ctxs, p)
            }
            _ => vec![],
        }),
    );
    r.register(Command::new(
        "voicemail show zones",
        "List zone message formats",
        "Usage: voicemail show zones\n       Lists zone message formats",
        show_zones,
    ));
    r.register(Command::new(
        "voicemail reload",
        "Reload voicemail configuration",
        "Usage: voicemail reload\n       Reload voicemail configuration",
        reload,
    ));
}

/// The `voicemail show users` table; `new_count` gives a mailbox's INBOX count.
pub fn users_table(
    c: &VoicemailConfig,
    context: Option<&str>,
    new_count: impl Fn(&crate::voicemail::config::Mailbox) -> u32,
) -> Result<String, String> {
    if c.mailboxes.is_empty() {
        return Err("There are no voicemail users currently defined\n".into());
    }
    if let Some(ctx) = context {
        if !c.mailboxes.keys().any(|(cx, _)| cx == ctx) {
            return Err(format!("No such voicemail context \"{ctx}\"\n"));
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<5} {:<25} {:<10} {:>6}",
        "Context", "Mbox", "User", "Zone", "NewMsg"
    );
    let mut n = 0;
    for m in c.mailboxes.values() {
        if context.is_some_and(|ctx| ctx != m.context) {
            continue;
        }
        n += 1;
        let _ = writeln!(
            out,
            "{:<10} {:<5} {:<25} {:<10} {:>6}",
            m.context,
            m.mailbox,
            m.fullname,
            c.opt(m, "tz").unwrap_or(""),
            new_count(m)
        );
    }
    let _ = writeln!(out, "{n} voicemail users configured.");
    Ok(out)
}

async fn show_users(c: Ctx) -> CliResult {
    let context = match c.args.as_slice() {
        [] => None,
        [f, ctx] if f.eq_ignore_ascii_case("for") => Some(ctx.clone()),
        _ => return Err(CliError::ShowUsage),
    };
    let vm = crate::voicemail::of(c.pbx());
    // A folder listing per mailbox: on the blocking pool.
    let table = tokio::task::spawn_blocking(move || {
        let cfg = vm.config();
        users_table(&cfg, context.as_deref(), |m| {
            vm.store().count_now(&box_id(m), Folder::Inbox).unwrap_or(0)
        })
    })
    .await
    .map_err(|e| CliError::Failure(format!("{e}\n")))?;
    match table {
        Ok(t) => Ok(t),
        Err(msg) => Ok(msg),
    }
}

/// The `voicemail show zones` table.
pub fn zones_table(c: &VoicemailConfig) -> String {
    if c.zones.is_empty() {
        return "There are no voicemail zones currently defined\n".into();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:<20} {:<45}",
        "Zone", "Timezone", "Message Format"
    );
    for z in &c.zones {
        let _ = writeln!(out, "{:<15} {:<20} {:<45}", z.name, z.timezone, z.format);
    }
    out
}

async fn show_zones(c: Ctx) -> CliResult {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    Ok(zones_table(&crate::voicemail::of(c.pbx()).config()))
}

async fn reload(c: Ctx) -> CliResult {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let mut out = String::from("Reloading voicemail configuration...\n");
    let p = c.pbx().clone();
    out.push_str(
        &tokio::task::spawn_blocking(move || super::reload(&p))
            .await
            .unwrap_or_default(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> VoicemailConfig {
        crate::voicemail::config::parse_voicemail_str(text)
            .expect("parses")
            .0
    }

    #[test]
    fn users_and_zones() {
        let c = cfg(
            "[zonemessages]\neastern=America/New_York|'vm-received' Q 'digits/at' IMp\n\
                     [default]\n100 => 0107,Leif Madsen,leif@example.com,,tz=eastern\n\
                     [shifteight]\n101 => 0108,Jim Van Meggelen\n",
        );
        let t = users_table(&c, None, |m| if m.mailbox == "100" { 2 } else { 0 }).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "Context    Mbox  User                      Zone       NewMsg"
        );
        assert_eq!(
            lines[1],
            "default    100   Leif Madsen               eastern         2"
        );
        assert_eq!(
            lines[2],
            "shifteight 101   Jim Van Meggelen                          0"
        );
        assert_eq!(lines[3], "2 voicemail users configured.");
        let t = users_table(&c, Some("shifteight"), |_| 0).unwrap();
        assert!(t.ends_with("1 voicemail users configured.\n"));
        assert_eq!(
            users_table(&c, Some("nope"), |_| 0).unwrap_err(),
            "No such voicemail context \"nope\"\n"
        );
        let z = zones_table(&c);
        assert!(z.starts_with("Zone            Timezone             Message Format"));
        assert!(z.contains("eastern         America/New_York     'vm-received' Q 'digits/at' IMp"));
        assert_eq!(
            zones_table(&VoicemailConfig::default()),
            "There are no voicemail zones currently defined\n"
        );
    }
}
