//! Waiting applications: `Signal` and `WaitForSignal` (app_signal.so: a named signal wakes
//! every channel waiting for it, with an optional payload) and `WaitForCondition`
//! (app_waitforcond.so: poll an expression until it is true).
//!
//! The signals live in a table shared by the module's two applications; an entry exists
//! while some channel waits on it (as Asterisk's, so a Signal nobody waits for fails).

use super::{args, App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("app_signal.so", "Channel Signaling Applications"),
        register: register_app_signal,
    },
    Family {
        info: ModuleInfo::new("app_waitforcond.so", "Wait until condition is true"),
        register: |ctx| ctx.register_app(Arc::new(WaitForCondition)),
    },
];

fn register_app_signal(ctx: &ModuleContext) {
    let table = Arc::new(Signals::default());
    ctx.register_app(Arc::new(Signal(table.clone())));
    ctx.register_app(Arc::new(WaitForSignal(table)));
}

/// Asterisk's limit on a signal name (AST_MAX_CONTEXT).
const MAX_NAME: usize = 80;

/// One signal being waited for: a counter bumped by each Signal, the last payload, and how
/// many channels wait.
struct Item {
    tx: watch::Sender<u64>,
    payload: Option<String>,
    watchers: usize,
}

/// The signals, by lower-cased name.
#[derive(Default)]
pub struct Signals(Mutex<HashMap<String, Item>>);

impl Signals {
    /// Start waiting on `name`.
    fn watch(&self, name: &str) -> watch::Receiver<u64> {
        let mut t = self.0.lock();
        let it = t.entry(name.to_lowercase()).or_insert_with(|| Item {
            tx: watch::channel(0).0,
            payload: None,
            watchers: 0,
        });
        it.watchers += 1;
        it.tx.subscribe()
    }

    /// Stop waiting on `name`: the payload (if any); the last watcher removes the signal.
    fn leave(&self, name: &str) -> Option<String> {
        let key = name.to_lowercase();
        let mut t = self.0.lock();
        let it = t.get_mut(&key)?;
        let payload = it.payload.clone();
        it.watchers = it.watchers.saturating_sub(1);
        if it.watchers == 0 {
            t.remove(&key);
        }
        payload
    }

    /// Wake every channel waiting on `name`; `false` when none waits.
    pub fn send(&self, name: &str, payload: &str) -> bool {
        let mut t = self.0.lock();
        let Some(it) = t.get_mut(&name.to_lowercase()) else {
            return false;
        };
        if !payload.is_empty() {
            it.payload = Some(payload.to_string());
        }
        it.tx.send_modify(|n| *n += 1);
        true
    }
}

fn check_name(chan: &Channel, app: &str, name: &str) -> AppResult {
    if name.is_empty() {
        chan.pbx
            .warning(&format!("app_signal.c: {app}: Missing signal name"));
        return Err(Hangup);
    }
    if name.len() >= MAX_NAME {
        chan.pbx
            .warning(&format!("app_signal.c: Signal name '{name}' is too long"));
        return Err(Hangup);
    }
    Ok(())
}

pub struct Signal(Arc<Signals>);

#[async_trait]
impl App for Signal {
    fn name(&self) -> &'static str {
        "Signal"
    }
    fn synopsis(&self) -> &'static str {
        "Sends a signal to any waiting channels."
    }
    fn syntax(&self) -> &'static str {
        "Signal(signalname[,payload])"
    }
    fn description(&self) -> &'static str {
        "Sends a named signal to any channels that may be waiting for one (WaitForSignal). \
         SIGNALSTATUS: SUCCESS (at least one listener), FAILURE (nobody was listening)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx
                .warning("app_signal.c: Signal() requires arguments");
            return Err(Hangup);
        }
        let v = args::split(data, ',');
        let name = args::nth(&v, 0);
        check_name(chan, "Signal", name)?;
        let ok = self.0.send(name, args::nth(&v, 1));
        chan.set_var("SIGNALSTATUS", if ok { "SUCCESS" } else { "FAILURE" });
        Ok(())
    }
}

pub struct WaitForSignal(Arc<Signals>);

#[async_trait]
impl App for WaitForSignal {
    fn name(&self) -> &'static str {
        "WaitForSignal"
    }
    fn synopsis(&self) -> &'static str {
        "Waits for a named signal on a channel."
    }
    fn syntax(&self) -> &'static str {
        "WaitForSignal(signalname[,signaltimeout])"
    }
    fn description(&self) -> &'static str {
        "Waits up to signaltimeout seconds (default: no limit) for a Signal of that name. \
         WAITFORSIGNALSTATUS: SIGNALED, TIMEOUT, HANGUP; WAITFORSIGNALPAYLOAD: the \
         signal's payload, if it has one."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx
                .warning("app_signal.c: Signal() requires arguments");
            return Err(Hangup);
        }
        let v = args::split(data, ',');
        let name = args::nth(&v, 0).to_string();
        check_name(chan, "WaitForSignal", &name)?;
        let t = args::nth(&v, 1).trim();
        let parsed = t.parse::<f64>().ok().filter(|s| *s >= 0.0 && s.is_finite());
        if parsed.is_none() && !t.is_empty() {
            chan.pbx.warning(&format!(
                "app_signal.c: Invalid timeout provided: {t}. Defaulting to no timeout."
            ));
        }
        let timeout = parsed.filter(|s| *s > 0.0).map(Duration::from_secs_f64);
        let mut rx = self.0.watch(&name);
        let signaled = tokio::select! {
            r = rx.changed() => r.is_ok(),
            _ = chan.wait_hangup(timeout) => false,
        };
        if let Some(p) = self.0.leave(&name) {
            chan.set_var("WAITFORSIGNALPAYLOAD", &p);
        }
        let cname = chan.name().to_string();
        if signaled {
            chan.pbx
                .verbose_line(3, &format!("Received signal '{name}' on channel '{cname}'"));
            chan.set_var("WAITFORSIGNALSTATUS", "SIGNALED");
            Ok(())
        } else if chan.check_hangup() {
            chan.set_var("WAITFORSIGNALSTATUS", "HANGUP");
            chan.pbx
                .verbose_line(3, &format!("Channel '{cname}' hung up"));
            Err(Hangup)
        } else {
            chan.pbx.verbose_line(
                3,
                &format!("Channel '{cname}' timed out, waiting for signal '{name}'"),
            );
            chan.set_var("WAITFORSIGNALSTATUS", "TIMEOUT");
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// WaitForCondition

/// The parts of WaitForCondition's argument: the expression with `$` put back, the
/// timeout and the polling interval. `Err`: what to log (status FAILURE).
pub fn parse_condition(data: &str) -> Result<(String, Option<Duration>, Duration), String> {
    if data.is_empty() {
        return Err("WaitForCondition requires a condition".into());
    }
    let open = data.find('[');
    if !open.is_some_and(|o| data[o..].contains(']')) {
        return Err("No expression detected. Did you forget to replace the $ signs?".into());
    }
    let mut it = data.char_indices();
    let (_, rep) = it.next().unwrap_or((0, ' '));
    if matches!(rep, '$' | '[' | ']' | '{' | '}') {
        return Err(format!("Dollar sign replacement cannot be {rep}."));
    }
    let rest = &data[rep.len_utf8()..];
    let Some(rest) = rest.strip_prefix(',') else {
        return Err(format!(
            "Invalid separator: {}",
            rest.chars().next().unwrap_or(' ')
        ));
    };
    if !rest.starts_with(rep) {
        return Err(format!(
            "Expression start does not match provided replacement: {}",
            rest.chars().next().unwrap_or(' ')
        ));
    }
    // Commas may appear inside: the expression ends where its brackets balance.
    let mut depth = 0i32;
    let mut end = None;
    for (i, c) in rest.char_indices().skip(1) {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            end = Some(i + 1);
            break;
        }
    }
    let Some(end) = end else {
        return Err("Could not parse end of expression.".into());
    };
    let expr: String = rest[..end]
        .chars()
        .map(|c| if c == rep { '$' } else { c })
        .collect();
    let opts = rest[end..].strip_prefix(',').unwrap_or("");
    let v = args::split(opts, ',');
    let secs = |s: &str, what: &str| -> Result<Option<f64>, String> {
        match s.trim() {
            "" => Ok(None),
            t => t
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("Invalid {what} provided: {t}.")),
        }
    };
    let timeout = secs(args::nth(&v, 0), "timeout")?
        .filter(|t| *t * 1000.0 >= 1.0 && t.is_finite())
        .map(Duration::from_secs_f64);
    let interval = match secs(args::nth(&v, 1), "polling interval")? {
        Some(p) if p < 0.001 || !p.is_finite() => {
            return Err("Polling interval cannot be less than 1ms. Default unchanged.".into())
        }
        Some(p) => Duration::from_secs_f64(p),
        None => Duration::from_millis(50),
    };
    Ok((expr, timeout, interval))
}

pub struct WaitForCondition;

#[async_trait]
impl App for WaitForCondition {
    fn name(&self) -> &'static str {
        "WaitForCondition"
    }
    fn synopsis(&self) -> &'static str {
        "Wait (sleep) until the given condition is true."
    }
    fn syntax(&self) -> &'static str {
        "WaitForCondition(replacementchar,expression[,timeout[,interval]])"
    }
    fn description(&self) -> &'static str {
        "Waits until the expression (with replacementchar standing for $, so it reaches the \
         application unevaluated) is true, checking every interval seconds (default 0.05) for \
         up to timeout seconds (default: no limit). WAITFORCONDITIONSTATUS: TRUE, FAILURE \
         (invalid argument), TIMEOUT, HANGUP."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let (expr, timeout, interval) = match parse_condition(data) {
            Ok(p) => p,
            Err(m) => {
                chan.pbx.error(&format!("app_waitforcond.c: {m}"));
                // Bad numbers end the call in Asterisk; the rest sets FAILURE.
                if m.starts_with("Invalid timeout")
                    || m.starts_with("Invalid polling")
                    || m.starts_with("Polling interval")
                {
                    return Err(Hangup);
                }
                chan.set_var("WAITFORCONDITIONSTATUS", "FAILURE");
                return Ok(());
            }
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let cond = crate::pbx::exec::substitute_async(chan, &expr).await;
            if crate::funcs::logic::checkcondition(&cond) {
                chan.set_var("WAITFORCONDITIONSTATUS", "TRUE");
                return Ok(());
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                chan.set_var("WAITFORCONDITIONSTATUS", "TIMEOUT");
                return Ok(());
            }
            if chan.sleep(interval).await.is_err() {
                chan.set_var("WAITFORCONDITIONSTATUS", "HANGUP");
                return Err(Hangup);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::{get, pbx_with, run};

    #[test]
    fn condition_arguments() {
        let (e, t, i) = parse_condition("#,#[\"#{X}\"=\"1\"],40,0.5").unwrap();
        assert_eq!(e, "$[\"${X}\"=\"1\"]");
        assert_eq!(t, Some(Duration::from_secs(40)));
        assert_eq!(i, Duration::from_millis(500));
        let (e, t, i) = parse_condition("#,#[#{A},#{B}]").unwrap();
        assert_eq!(e, "$[${A},${B}]");
        assert_eq!((t, i), (None, Duration::from_millis(50)));
        assert!(parse_condition("").is_err());
        assert!(parse_condition("#,1")
            .unwrap_err()
            .starts_with("No expression"));
        assert!(parse_condition("$,$[1]").unwrap_err().starts_with("Dollar"));
        assert!(parse_condition("#;#[1]")
            .unwrap_err()
            .starts_with("Invalid separator"));
        assert!(parse_condition("#,%[1]")
            .unwrap_err()
            .starts_with("Expression start"));
        assert!(parse_condition("#,#[[1]")
            .unwrap_err()
            .starts_with("Could not"));
        assert!(parse_condition("#,#[1],x")
            .unwrap_err()
            .starts_with("Invalid timeout"));
        assert!(parse_condition("#,#[1],1,0")
            .unwrap_err()
            .starts_with("Polling"));
    }

    #[tokio::test]
    async fn waitforcondition_statuses() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(X=1)\n same => n,WaitForCondition(#,#[#{X}=1],2)\n\
             same => n,Set(A=${WAITFORCONDITIONSTATUS})\n\
             same => n,WaitForCondition(#,#[#{X}=2],0.2,0.05)\n\
             same => n,Set(B=${WAITFORCONDITIONSTATUS})\n\
             same => n,WaitForCondition(#,1)\n same => n,Set(C=${WAITFORCONDITIONSTATUS})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "A"), Some("TRUE"));
        assert_eq!(get(&v, "B"), Some("TIMEOUT"));
        assert_eq!(get(&v, "C"), Some("FAILURE"));
    }

    #[tokio::test]
    async fn signals_wake_every_waiter_with_the_payload() {
        let s = Arc::new(Signals::default());
        assert!(!s.send("work", "x"));
        let mut a = s.watch("work");
        let mut b = s.watch("WORK");
        assert!(s.send("Work", "done"));
        a.changed().await.unwrap();
        b.changed().await.unwrap();
        assert_eq!(s.leave("work").as_deref(), Some("done"));
        assert_eq!(s.leave("work").as_deref(), Some("done"));
        assert!(!s.send("work", ""));
        let pbx = pbx_with(
            "[t]\nexten => s,1,Signal(nobody,x)\n same => n,Set(S=${SIGNALSTATUS})\n\
             same => n,WaitForSignal(never,0.1)\n same => n,Set(W=${WAITFORSIGNALSTATUS})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "S"), Some("FAILURE"));
        assert_eq!(get(&v, "W"), Some("TIMEOUT"));
    }
}
