//! `core show hints` and `core show hint <exten>`: the dialplan's hints with the state of
//! their devices, in Asterisk's five columns (extension, devices, extension state,
//! presence, watchers).
//!
//! ferrisk has no hint subscriptions (SIP dialog/presence SUBSCRIBE) and no presence
//! providers yet: Watchers is always 0 and Presence `not_set`, as Asterisk prints them for
//! a hint nobody watches and without a presence part.

use super::{filter_prefix, CliError, Command, CommandRegistry, Ctx};
use crate::dialplan::{Dialplan, PRIORITY_HINT};
use crate::pbx::devstate::{self, DeviceState};
use crate::pbx::Pbx;
use std::fmt::Write;
use std::sync::Arc;

const HINT_HELP: &str = "       List registered hint.\n       Hint details are shown in five columns. In order from left to right, they are:\n       1. Hint extension URI.\n       2. List of mapped device or presence state identifiers.\n       3. Current extension state. The aggregate of mapped device states.\n       4. Current presence state for the mapped presence state provider.\n       5. Watchers - number of subscriptions and other entities watching this hint.";

pub fn register(r: &CommandRegistry) {
    r.register(Command::new(
        "core show hints",
        "Show dialplan hints",
        &format!(
            "Usage: core show hints\n{}",
            HINT_HELP.replacen("hint.", "hints.", 1)
        ),
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            let rows = rows_of(c.pbx()).await;
            Ok(format_hints(&rows))
        },
    ));
    r.register(
        Command::new(
            "core show hint",
            "Show dialplan hint",
            &format!("Usage: core show hint <exten>\n{HINT_HELP}"),
            |c: Ctx| async move {
                let [exten] = c.args.as_slice() else {
                    return Err(CliError::ShowUsage);
                };
                let rows = rows_of(c.pbx()).await;
                Ok(format_hint(&rows, exten))
            },
        )
        .complete_with(|st, args, p| {
            if !args.is_empty() {
                return vec![];
            }
            let dp = st.pbx.dialplan();
            filter_prefix(hints(&dp).into_iter().map(|h| h.exten), p)
        }),
    );
}

/// One hint as `core show hints` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintRow {
    /// The extension as written (`100`, `_1XX`).
    pub exten: String,
    pub context: String,
    /// The hint's text after `hint,` (devices, and a presence part after a comma).
    pub app: String,
    /// `None` until the device states are read.
    pub state: Option<DeviceState>,
}

/// Every hint of the dialplan, context by context.
pub fn hints(dp: &Dialplan) -> Vec<HintRow> {
    let mut out = Vec::new();
    for c in dp.contexts.values() {
        for e in &c.extensions {
            if let Some(p) = e.priorities.get(&PRIORITY_HINT) {
                out.push(HintRow {
                    exten: e.name.clone(),
                    context: c.name.clone(),
                    app: p.app.clone(),
                    state: None,
                });
            }
        }
    }
    out
}

/// The hints with their devices' combined state (read off the async workers: `Custom:`
/// states live in AstDB).
async fn rows_of(pbx: &Arc<Pbx>) -> Vec<HintRow> {
    let pbx = pbx.clone();
    tokio::task::spawn_blocking(move || {
        let dp = pbx.dialplan();
        let mut rows = hints(&dp);
        for r in &mut rows {
            let devices = r.app.split(',').next().unwrap_or("");
            r.state = Some(devstate::devices_state(&pbx, devices));
        }
        rows
    })
    .await
    .unwrap_or_default()
}

/// `ast_extension_state2str` of the extension state a device state aggregates to
/// (`ast_devstate_to_extenstate`).
pub fn extension_state_name(s: Option<DeviceState>) -> &'static str {
    match s {
        None => "Unknown",
        Some(d) => match d {
            DeviceState::OnHold => "Hold",
            DeviceState::Busy => "Busy",
            DeviceState::Unknown | DeviceState::NotInUse => "Idle",
            DeviceState::Unavailable | DeviceState::Invalid => "Unavailable",
            DeviceState::RingInUse => "InUse&Ringing",
            DeviceState::Ringing => "Ringing",
            DeviceState::InUse => "InUse",
        },
    }
}

fn cut(s: &str, n: usize) -> String {
    super::format::col(s, n)
}

fn hint_line(o: &mut String, r: &HintRow) {
    // "%-30.30s: %-60.60s  State:%-15.15s Presence:%-15.15s Watchers %2zd"
    let _ = writeln!(
        o,
        "{}: {}  State:{} Presence:{} Watchers {:>2}",
        cut(&format!("{}@{}", r.exten, r.context), 30),
        cut(&r.app, 60),
        cut(extension_state_name(r.state), 15),
        cut("not_set", 15),
        0
    );
}

/// `core show hints`.
pub fn format_hints(rows: &[HintRow]) -> String {
    if rows.is_empty() {
        return "There are no registered dialplan hints\n".into();
    }
    let mut o = String::from("\n    -= Registered Asterisk Dial Plan Hints =-\n");
    for r in rows {
        hint_line(&mut o, r);
    }
    let _ = writeln!(o, "----------------\n- {} hints registered", rows.len());
    o
}

/// `core show hint <exten>`: the hints whose `exten@context` starts with `<exten>`
/// (case-insensitively, as Asterisk compares).
pub fn format_hint(rows: &[HintRow], exten: &str) -> String {
    if rows.is_empty() {
        return "There are no registered dialplan hints\n".into();
    }
    let mut o = String::new();
    let mut n = 0;
    let want = exten.to_ascii_lowercase();
    for r in rows {
        let name = format!("{}@{}", r.exten, r.context).to_ascii_lowercase();
        if name.starts_with(&want) {
            hint_line(&mut o, r);
            n += 1;
        }
    }
    if n == 0 {
        let _ = writeln!(o, "No hints matching extension {exten}");
    } else {
        let _ = writeln!(
            o,
            "{n} hint{} matching extension {exten}",
            if n != 1 { "s" } else { "" }
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(exten: &str, ctx: &str, app: &str, s: DeviceState) -> HintRow {
        HintRow {
            exten: exten.into(),
            context: ctx.into(),
            app: app.into(),
            state: Some(s),
        }
    }

    #[test]
    fn hints_table_as_asterisk() {
        assert_eq!(
            format_hints(&[]),
            "There are no registered dialplan hints\n"
        );
        let rows = vec![
            row("1001", "internal", "SIP/1001", DeviceState::InUse),
            row(
                "1002",
                "internal",
                "SIP/1002&Custom:x",
                DeviceState::Unavailable,
            ),
        ];
        let out = format_hints(&rows);
        let first = format!(
            "{:<30}: {:<60}  State:{:<15} Presence:{:<15} Watchers  0",
            "1001@internal", "SIP/1001", "InUse", "not_set"
        );
        assert_eq!(
            out,
            format!(
                "\n    -= Registered Asterisk Dial Plan Hints =-\n{first}\n{:<30}: {:<60}  State:{:<15} Presence:{:<15} Watchers  0\n----------------\n- 2 hints registered\n",
                "1002@internal", "SIP/1002&Custom:x", "Unavailable", "not_set"
            )
        );
        let one = format_hint(&rows, "1001");
        assert_eq!(one, format!("{first}\n1 hint matching extension 1001\n"));
        assert!(format_hint(&rows, "10").ends_with("2 hints matching extension 10\n"));
        assert_eq!(format_hint(&rows, "9"), "No hints matching extension 9\n");
    }

    #[test]
    fn extension_state_names() {
        assert_eq!(extension_state_name(Some(DeviceState::NotInUse)), "Idle");
        assert_eq!(extension_state_name(Some(DeviceState::Unknown)), "Idle");
        assert_eq!(
            extension_state_name(Some(DeviceState::RingInUse)),
            "InUse&Ringing"
        );
        assert_eq!(extension_state_name(Some(DeviceState::OnHold)), "Hold");
        assert_eq!(
            extension_state_name(Some(DeviceState::Invalid)),
            "Unavailable"
        );
    }

    #[tokio::test]
    async fn hints_from_the_dialplan() {
        let pbx = crate::modules::test_pbx();
        let cf = crate::config::load_str(
            std::path::Path::new("/tmp"),
            "/tmp/extensions.conf",
            "[internal]\nexten => 1001,hint,Custom:lamp1\nexten => 1001,1,NoOp()\nexten => 1002,1,NoOp()\n",
            &crate::config::LoadOptions::default(),
        )
        .unwrap();
        pbx.set_dialplan(crate::dialplan::parse_dialplan(&cf).unwrap().0);
        let st = crate::cli::new_state(pbx.clone());
        let out = crate::cli::execute(&st, "core show hints", None).await;
        assert!(
            out.contains("1001@internal                 : Custom:lamp1"),
            "{out}"
        );
        assert!(out.contains("State:Idle "), "{out}");
        assert!(out.ends_with("- 1 hints registered\n"), "{out}");
        let one = crate::cli::execute(&st, "core show hint 1002", None).await;
        assert_eq!(one, "No hints matching extension 1002\n");
    }
}
