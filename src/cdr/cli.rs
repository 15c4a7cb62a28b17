//! The `cdr` CLI commands: `cdr show status` (cdr.c's engine status: cdr.conf's
//! `[general]` as running, and the registered backends). Not yet: `cdr set debug`,
//! `cdr show active`, `cdr submit` (ferrisk has no CDR debug output nor batch mode).
//!
//! In Asterisk these belong to the CDR engine in the core; ferrisk reads `cdr.conf` in
//! this module, so the module registers them and keeps the `[general]` it last loaded.

use super::config::CdrGeneral;
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use parking_lot::Mutex;
use std::fmt::Write;
use std::sync::Arc;

/// What the commands show: the running `[general]`.
#[derive(Default)]
pub struct CdrStatus {
    pub general: Mutex<CdrGeneral>,
}

pub fn register(r: &CommandRegistry, status: Arc<CdrStatus>) {
    r.register(Command::new(
        "cdr show status",
        "Display the CDR status",
        "Usage: cdr show status\n\tDisplays the Call Detail Record engine system status.",
        move |c: Ctx| {
            let status = status.clone();
            async move {
                if !c.args.is_empty() {
                    return Err(CliError::ShowUsage);
                }
                let general = status.general.lock().clone();
                Ok(status_text(&general, &c.pbx().cdr.backend_names()))
            }
        },
    ));
}

/// `cdr show status` for a `[general]` and the registered backends. ferrisk has no batch
/// mode (`Mode: Simple`), logs every channel by default and has no bridging/dial-change
/// or cancel-disposition options (Asterisk's defaults: No).
pub fn status_text(g: &CdrGeneral, backends: &[&str]) -> String {
    let yes = |b: bool| if b { "Yes" } else { "No" };
    let mut o =
        String::from("\nCall Detail Record (CDR) settings\n----------------------------------\n");
    let enabled = g.enable;
    let _ = writeln!(
        o,
        "  Logging:                    {}",
        if enabled { "Enabled" } else { "Disabled" }
    );
    let _ = writeln!(o, "  Mode:                       Simple");
    if enabled {
        let _ = writeln!(o, "  Log calls by default:       Yes");
        let _ = writeln!(o, "  Log unanswered calls:       {}", yes(g.unanswered));
        let _ = writeln!(o, "  Log congestion:             {}\n", yes(g.congestion));
        let _ = writeln!(o, "  Ignore bridging changes:    No\n");
        let _ = writeln!(o, "  Ignore dial state changes:  No\n");
        let _ = writeln!(o, "  Cancel disposition enabled: No\n");
        let _ = writeln!(o, "* Registered Backends\n  -------------------");
        if backends.is_empty() {
            let _ = writeln!(o, "    (none)");
        }
        for b in backends {
            let _ = writeln!(o, "    {b}");
        }
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_as_cdr_c() {
        let g = CdrGeneral::default();
        assert_eq!(
            status_text(&g, &["csv"]),
            "\nCall Detail Record (CDR) settings\n----------------------------------\n  Logging:                    Enabled\n  Mode:                       Simple\n  Log calls by default:       Yes\n  Log unanswered calls:       No\n  Log congestion:             No\n\n  Ignore bridging changes:    No\n\n  Ignore dial state changes:  No\n\n  Cancel disposition enabled: No\n\n* Registered Backends\n  -------------------\n    csv\n\n"
        );
        let off = CdrGeneral {
            enable: false,
            ..CdrGeneral::default()
        };
        assert_eq!(
            status_text(&off, &[]),
            "\nCall Detail Record (CDR) settings\n----------------------------------\n  Logging:                    Disabled\n  Mode:                       Simple\n"
        );
    }
}
