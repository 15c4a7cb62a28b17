//! `res_security_log.so`: security events (failed and successful logins) become SECURITY
//! log lines, which the logger writes to every channel of `logger.conf` that lists
//! `security` (the `security` file in the log directory, also when there is no
//! logger.conf), one line each in Asterisk's format, e.g.
//!
//! ```text
//! [Dec  7 02:04:43] SECURITY[4242] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2026-12-07T02:04:43.123456+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="1000",SessionID="0x1",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/203.0.113.9/5060"
//! ```
//!
//! fail2ban's stock `asterisk` filter matches these lines (docs/security.md). The logger's
//! writer thread writes them through its bounded queue (`src/logger/`).

use crate::pbx::events::{Event, Topic};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, SupportLevel};
use crate::pbx::Level;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The message of the SECURITY line for `ev`, starting with the source file
/// (`res_security_log.c: SecurityEvent="…",…`); None for events that are not security
/// events.
pub fn format_line(
    ev: &Event,
    session: u64,
    now: chrono::DateTime<chrono::Local>,
) -> Option<String> {
    let Event::Security {
        name,
        service,
        account,
        remote,
        local,
    } = ev
    else {
        return None;
    };
    let (severity, version) = match *name {
        "SuccessfulAuth" => ("Informational", "1"),
        "InvalidPassword" => ("Error", "2"),
        _ => ("Error", "1"),
    };
    let q = |s: &str| s.replace('"', "'");
    let mut line = format!(
        "res_security_log.c: SecurityEvent=\"{name}\",EventTV=\"{}\",Severity=\"{severity}\",Service=\"{service}\",EventVersion=\"{version}\",AccountID=\"{}\",SessionID=\"0x{session:x}\",LocalAddress=\"{}\",RemoteAddress=\"{}\"",
        now.format("%Y-%m-%dT%H:%M:%S%.6f%z"),
        q(account),
        q(local),
        q(remote),
    );
    if *name == "SuccessfulAuth" {
        line.push_str(",UsingPassword=\"1\"");
    }
    Some(line)
}

/// `res_security_log.so`.
#[derive(Default)]
pub struct ResSecurityLog {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Events lost because this module fell behind the event bus.
    pub dropped: Arc<AtomicU64>,
}

#[async_trait]
impl Module for ResSecurityLog {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_security_log.so", "Security Event Logging").support(SupportLevel::Core)
    }

    fn load(&self, _ctx: &ModuleContext) -> Result<(), ModuleError> {
        Ok(())
    }

    async fn start(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let mut events = ctx.pbx.events.subscribe(Topic::Security);
        let dropped = self.dropped.clone();
        let pbx = ctx.pbx.clone();
        let h = tokio::spawn(async move {
            let mut session = 0u64;
            loop {
                match events.recv().await {
                    Ok(ev) => {
                        session += 1;
                        if let Some(line) = format_line(&ev, session, chrono::Local::now()) {
                            pbx.log(Level::Security, &line);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        dropped.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(_) => return,
                }
            }
        });
        *self.task.lock() = Some(h);
        Ok(())
    }

    async fn stop(&self, _ctx: &ModuleContext) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_are_asterisks() {
        let ev = Event::Security {
            name: "InvalidPassword",
            service: "SIP",
            account: "1000".into(),
            remote: "IPV4/UDP/203.0.113.9/5070".into(),
            local: "IPV4/UDP/192.0.2.1/5060".into(),
        };
        let t = chrono::Local
            .with_ymd_and_hms(2026, 12, 7, 2, 4, 43)
            .unwrap();
        let l = format_line(&ev, 1, t).unwrap();
        assert!(l.starts_with("res_security_log.c: SecurityEvent=\"InvalidPassword\",EventTV=\"2026-12-07T02:04:43.000000"), "{l}");
        assert!(
            l.ends_with(",Severity=\"Error\",Service=\"SIP\",EventVersion=\"2\",AccountID=\"1000\",SessionID=\"0x1\",LocalAddress=\"IPV4/UDP/192.0.2.1/5060\",RemoteAddress=\"IPV4/UDP/203.0.113.9/5070\""),
            "{l}"
        );
        let ok = Event::Security {
            name: "SuccessfulAuth",
            service: "SIP",
            account: "a\"b".into(),
            remote: String::new(),
            local: String::new(),
        };
        let l = format_line(&ok, 2, t).unwrap();
        assert!(l.contains("Severity=\"Informational\""));
        assert!(l.contains("AccountID=\"a'b\""));
        assert!(l.ends_with(",UsingPassword=\"1\""));
    }
}
