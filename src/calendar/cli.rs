//! `calendar show calendars`, `calendar show types`, `calendar show calendar <name>`, with
//! res_calendar's columns and words.

use super::event::Event;
use super::{Calendar, Calendars};
use crate::pbx::cli::{filter_prefix, CliError, Command, CommandRegistry, Ctx};
use chrono::TimeZone;
use std::sync::Arc;

fn cals(c: &Ctx) -> Option<Arc<Calendars>> {
    super::of(c.pbx())
}

/// `calendar show calendars`.
pub fn calendars_text(cals: &Calendars, now: i64) -> String {
    let row = |a: &str, b: &str, c: &str| format!("{a:<20.20} {b:<10.10} {c:<6.6}\n");
    let mut out = row("Calendar", "Type", "Status");
    out.push_str(&row("--------", "----", "------"));
    for cal in cals.list().iter() {
        let status = if cal.busy_at(now) { "busy" } else { "free" };
        out.push_str(&row(&cal.cfg.name, &cal.cfg.kind, status));
    }
    out
}

/// `calendar show types`.
pub fn types_text(cals: &Calendars) -> String {
    let mut out = format!("{:<10.10} {:<30.30}\n", "Type", "Description");
    for (t, d) in cals.types() {
        out.push_str(&format!("{t:<10.10} {d:<30.30}\n"));
    }
    out
}

/// Asterisk's `epoch_to_string`: `%F %r %z` in local time, empty for 0 / none.
pub fn epoch_text(t: Option<i64>) -> String {
    match t.filter(|t| *t != 0) {
        Some(t) => chrono::Local
            .timestamp_opt(t, 0)
            .single()
            .map(|d| d.format("%F %r %z").to_string())
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// `calendar show calendar <name>`.
pub fn calendar_text(cal: &Calendar) -> String {
    let c = &cal.cfg;
    let kv = |k: &str, v: &str| format!("{k:<18.18} : {v:<20.20}\n");
    let mut out = String::new();
    out.push_str(&kv("Name", &c.name));
    out.push_str(&kv("Notify channel", &c.channel));
    out.push_str(&kv("Notify context", &c.context));
    out.push_str(&kv("Notify extension", &c.extension));
    out.push_str(&kv("Notify application", &c.app));
    out.push_str(&kv("Notify appdata", &c.appdata));
    out.push_str(&format!("{:<17.17} : {}\n", "Refresh time", c.refresh));
    out.push_str(&format!("{:<17.17} : {}\n", "Timeframe", c.timeframe));
    if c.autoreminder > 0 {
        out.push_str(&format!(
            "{:<17.17} : {} minutes before event\n",
            "Autoreminder", c.autoreminder
        ));
    } else {
        out.push_str(&format!("{:<17.17} : None\n", "Autoreminder"));
    }
    out.push_str("Events\n------\n");
    for e in cal.events().iter() {
        out.push_str(&event_text(e));
    }
    out
}

fn event_text(e: &Event) -> String {
    let f = |k: &str, v: &str| format!("{k:<12.12}: {v:<40.60}\n");
    let mut out = String::new();
    out.push_str(&f("Summary", &e.summary));
    out.push_str(&f("Description", &e.description));
    out.push_str(&f("Organizer", &e.organizer));
    out.push_str(&f("Location", &e.location));
    out.push_str(&f("Categories", &e.categories));
    out.push_str(&format!("{:<12.12}: {}\n", "Priority", e.priority));
    out.push_str(&f("UID", &e.uid));
    out.push_str(&f("Start", &epoch_text(Some(e.start))));
    out.push_str(&f("End", &epoch_text(Some(e.end))));
    out.push_str(&f("Alarm", &epoch_text(e.alarm)));
    out.push_str(&f("Busy State", e.busy.describe()));
    out.push('\n');
    out
}

pub fn register(r: &CommandRegistry) {
    r.register(Command::new(
        "calendar show calendars",
        "Display information about configured calendars",
        "Usage: calendar show calendars\n       Lists all registered calendars.",
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            Ok(cals(&c)
                .map(|k| calendars_text(&k, super::unix_now()))
                .unwrap_or_default())
        },
    ));
    r.register(Command::new(
        "calendar show types",
        "Display information about calendar types",
        "Usage: calendar show types\n       Lists all registered calendars types.",
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            Ok(cals(&c).map(|k| types_text(&k)).unwrap_or_default())
        },
    ));
    r.register(
        Command::new(
            "calendar show calendar",
            "Display information about a calendar",
            "Usage: calendar show calendar <calendar name>\n       Displays information about a calendar",
            |c: Ctx| async move {
                let [name] = c.args.as_slice() else {
                    return Err(CliError::ShowUsage);
                };
                // An unknown calendar prints nothing, as in Asterisk.
                Ok(cals(&c)
                    .and_then(|k| k.find(name))
                    .map(|cal| calendar_text(&cal))
                    .unwrap_or_default())
            },
        )
        .complete_with(|st, a, p| match a.len() {
            0 => filter_prefix(
                super::of(&st.pbx)
                    .map(|k| k.list().iter().map(|c| c.cfg.name.clone()).collect::<Vec<_>>())
                    .unwrap_or_default(),
                p,
            ),
            _ => vec![],
        }),
    );
}
