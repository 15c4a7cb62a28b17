//! The daemon: startup (directories, AstDB, dialplan, CDR, pid file, control socket),
//! reload, and shutdown. `main.rs` only parses flags and calls [`run`] or the remote client.

use crate::astdb::AstDb;
use crate::cdr::CdrBackend;
use crate::cli::args::Args;
use crate::cli::console::Printer;
use crate::cli::{CliState, StopMode};
use crate::config::settings::Settings;
use crate::config::ConfigError;
use crate::dialplan::{parse_dialplan, Dialplan, LoadReport, PRIORITY_HINT};
use crate::pbx::Pbx;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub fn pid_path(s: &Settings) -> PathBuf {
    s.astrundir.join("ferrisk.pid")
}
pub fn ctl_path(s: &Settings) -> PathBuf {
    s.astrundir.join("ferrisk.ctl")
}
pub fn astdb_path(s: &Settings) -> PathBuf {
    s.astdbdir.join("astdb.sqlite3")
}

/// Read and parse `extensions.conf` from the config directory.
pub fn load_dialplan(settings: &Settings) -> Result<(Dialplan, LoadReport), Vec<ConfigError>> {
    let cf = crate::config::load(
        &settings.astetcdir,
        "extensions.conf",
        &settings.load_options(),
    )
    .map_err(|e| vec![e])?;
    parse_dialplan(&cf)
}

/// Dialplan function names called in `data` (`${NAME(`) or assigned (`NAME(...)=`).
pub fn functions_used(data: &str) -> Vec<&str> {
    static CALL: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = CALL
        .get_or_init(|| regex::Regex::new(r"(?:\$\{|^|[,(])\s*([A-Za-z][A-Za-z0-9_]*)\(").ok())
        .as_ref()
    else {
        return Vec::new();
    };
    re.captures_iter(data)
        .filter_map(|c| c.get(1))
        .filter(|m| {
            // `${NAME(` always; a bare `NAME(` only when it is assigned (`NAME(..)=`).
            data[..m.start()].ends_with("${") || {
                let rest = &data[m.end()..];
                rest.find(')')
                    .is_some_and(|i| rest[i + 1..].trim_start().starts_with('='))
            }
        })
        .map(|m| m.as_str())
        .collect()
}

/// Warn once per application or function name the dialplan uses that no module provides.
pub fn warn_unknown_apps(pbx: &Pbx, dp: &Dialplan) {
    for ctx in dp.contexts.values() {
        for sw in &ctx.switches {
            let key = format!("switch:{}:{}:{}", ctx.name, sw.module, sw.data);
            if pbx.warned_missing.lock().insert(key) {
                pbx.error(&format!(
                    "pbx_config: {}: switch => {}/{} in context '{}' is not supported (no switch modules in ferrisk); ignored",
                    sw.loc, sw.module, sw.data, ctx.name
                ));
            }
        }
        for e in &ctx.extensions {
            for p in e.priorities.values() {
                if p.priority == PRIORITY_HINT {
                    continue;
                }
                for f in functions_used(&p.data) {
                    if pbx.funcs.get(f).is_some() {
                        continue;
                    }
                    let key = format!("func:{}", f.to_ascii_uppercase());
                    if pbx.warned_missing.lock().insert(key) {
                        let file = p.loc.file.rsplit('/').next().unwrap_or(&p.loc.file);
                        pbx.warning(&format!(
                            "pbx_config: Function '{}' used in {}:{} is not implemented yet",
                            f, file, p.loc.line
                        ));
                    }
                }
                if p.app.contains('$') || pbx.apps.get(&p.app).is_some() {
                    continue;
                }
                let key = format!("app:{}", p.app.to_ascii_lowercase());
                if pbx.warned_missing.lock().insert(key) {
                    let file = p.loc.file.rsplit('/').next().unwrap_or(&p.loc.file);
                    pbx.warning(&format!(
                        "pbx_config: Application '{}' used in {}:{} is not implemented yet",
                        p.app, file, p.loc.line
                    ));
                }
            }
        }
    }
}

/// The result of `dialplan reload`.
pub struct ReloadOutcome {
    pub ok: bool,
    /// What to print (every line ends with `\n`).
    pub text: String,
}

static RELOAD_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Atomic dialplan reload: parse everything first; on any error keep the running dialplan.
pub fn reload_dialplan(pbx: &Arc<Pbx>) -> ReloadOutcome {
    let _g = RELOAD_LOCK.lock();
    let old = pbx.dialplan();
    match load_dialplan(&pbx.settings) {
        Err(errs) => {
            let mut text = String::new();
            for e in &errs {
                text.push_str(&format!("{e}\n"));
            }
            text.push_str(&format!(
                "Dialplan reload failed; keeping the current dialplan ({} context{}).\n",
                old.contexts.len(),
                crate::cli::format::ess(old.contexts.len() as u64)
            ));
            pbx.error(&format!(
                "pbx_config: dialplan reload failed with {} error{}; the current dialplan is kept",
                errs.len(),
                crate::cli::format::ess(errs.len() as u64)
            ));
            ReloadOutcome { ok: false, text }
        }
        Ok((dp, report)) => {
            for w in &report.warnings {
                pbx.warning(w);
            }
            warn_unknown_apps(pbx, &dp);
            let changes = crate::cli::dialplan::diff_dialplans(&old, &dp);
            let (e, p, c) = crate::cli::dialplan::totals(&dp);
            pbx.set_dialplan(dp);
            let mut text = String::new();
            if changes.is_empty() {
                text.push_str("No changes to the dialplan.\n");
            }
            for ch in &changes {
                text.push_str(&format!("  {ch}\n"));
            }
            text.push_str("Dialplan reloaded.\n");
            text.push_str(&crate::cli::dialplan::counts_line(e, p, c));
            pbx.verbose_line(2, "Dialplan reloaded.");
            ReloadOutcome { ok: true, text }
        }
    }
}

/// CDR backends from cdr.conf (a broken cdr.conf is reported and disables CDR logging).
/// Load `voicemail.conf` at start. A broken file is reported and leaves voicemail without
/// mailboxes; the PBX still starts (calls work, VoiceMail() fails with VMSTATUS=FAILED).
fn load_voicemail(pbx: &Arc<Pbx>) {
    match pbx.voicemail.reload(&pbx.settings) {
        Ok(warnings) => {
            for w in warnings {
                pbx.warning(&format!("app_voicemail.c: {w}"));
            }
            let n = pbx.voicemail.config().mailboxes.len();
            pbx.verbose_line(2, &format!("app_voicemail: loaded {n} mailboxes"));
        }
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
                pbx.error(&format!("app_voicemail.c: {e}"));
            }
            pbx.error("app_voicemail.c: voicemail.conf has errors: no mailboxes loaded");
        }
    }
}

/// `voicemail reload`: re-read `voicemail.conf`; on errors keep the running config and
/// return them (file:line:column).
pub fn reload_voicemail(pbx: &Arc<Pbx>) -> String {
    match pbx.voicemail.reload(&pbx.settings) {
        Ok(warnings) => {
            for w in warnings {
                pbx.warning(&format!("app_voicemail.c: {w}"));
            }
            pbx.verbose_line(2, "app_voicemail: voicemail.conf reloaded");
            String::new()
        }
        Err(errs) => {
            let mut out = String::new();
            for e in &errs {
                pbx.error(&format!("app_voicemail.c: {e}"));
                out.push_str(&format!("{e}\n"));
            }
            out.push_str("voicemail.conf has errors: keeping the running configuration\n");
            out
        }
    }
}

pub fn load_cdr_backends(settings: &Settings) -> Vec<Arc<dyn CdrBackend>> {
    match crate::cdr::config::load_cdr_config(settings) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ferrisk: {e}; CDR logging disabled");
            Vec::new()
        }
    }
}

/// `module reload cdr`: re-read cdr.conf.
pub fn reload_cdr(pbx: &Arc<Pbx>) {
    pbx.cdr.set_backends(load_cdr_backends(&pbx.settings));
}

/// Start the daemon as the flags say. Returns the process exit code.
pub fn run(args: &Args) -> i32 {
    let config = args.config_path();
    let settings = match Settings::load(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ferrisk: {e}");
            return 1;
        }
    };
    if !args.foreground {
        return daemonize(&settings);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrisk: cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(main_loop(settings, args.clone()));
    rt.shutdown_timeout(Duration::from_millis(500));
    code
}

/// Check the dialplan here (errors reach the terminal), then re-run ourselves with `-f`
/// in a new session, output to `astlogdir/messages`; wait until the control socket answers.
fn daemonize(settings: &Settings) -> i32 {
    if let Err(errs) = load_dialplan(settings) {
        for e in &errs {
            eprintln!("{e}");
        }
        eprintln!("ferrisk: not starting: extensions.conf has errors");
        return 1;
    }
    let ctl = ctl_path(settings);
    if std::os::unix::net::UnixStream::connect(&ctl).is_ok() {
        eprintln!(
            "ferrisk: already running on {}. Use 'ferrisk -r' to connect.",
            ctl.display()
        );
        return 1;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ferrisk: cannot find my own executable: {e}");
            return 1;
        }
    };
    let _ = std::fs::create_dir_all(&settings.astlogdir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(settings.astlogdir.join("messages"));
    let (out, err) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
        Ok((a, b)) => (std::process::Stdio::from(a), std::process::Stdio::from(b)),
        Err(_) => (std::process::Stdio::null(), std::process::Stdio::null()),
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args().skip(1))
        .arg("-f")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrisk: cannot start the daemon: {e}");
            return 1;
        }
    };
    for _ in 0..100 {
        if std::os::unix::net::UnixStream::connect(&ctl).is_ok() {
            return 0;
        }
        if let Ok(Some(st)) = child.try_wait() {
            eprintln!(
                "ferrisk: the daemon exited during startup ({st}); see {}",
                settings.astlogdir.join("messages").display()
            );
            return 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("ferrisk: the daemon did not open {} in time", ctl.display());
    1
}

fn create_dirs(s: &Settings) -> Result<(), String> {
    for d in [&s.astrundir, &s.astlogdir, &s.astdbdir, &s.astspooldir] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    Ok(())
}

async fn main_loop(settings: Settings, args: Args) -> i32 {
    if let Err(e) = create_dirs(&settings) {
        eprintln!("ferrisk: {e}");
        return 1;
    }
    let ctl = ctl_path(&settings);
    if std::os::unix::net::UnixStream::connect(&ctl).is_ok() {
        eprintln!(
            "ferrisk: already running on {}. Use 'ferrisk -r' to connect.",
            ctl.display()
        );
        return 1;
    }
    let db = match AstDb::open(&astdb_path(&settings)) {
        Ok(db) => db,
        Err(e) => {
            eprintln!(
                "ferrisk: cannot open {}: {e}",
                astdb_path(&settings).display()
            );
            return 1;
        }
    };
    let root_verbose = args.verbose.max(settings.verbose);
    let pbx = Pbx::new(settings.clone(), db);
    let state = CliState::new(pbx.clone());
    state.verbosity.set_root(&pbx, root_verbose);

    // Console output: every log line the root level admits goes to stdout.
    let printer = Arc::new(Printer::default());
    {
        let mut rx = pbx.log_tx.subscribe();
        let st = state.clone();
        let pr = printer.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(l) if l.level <= st.verbosity.root() => pr.line(&l.text),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
    }

    match load_dialplan(&settings) {
        Ok((dp, report)) => {
            for w in &report.warnings {
                pbx.warning(w);
            }
            warn_unknown_apps(&pbx, &dp);
            let (e, p, c) = crate::cli::dialplan::totals(&dp);
            pbx.set_dialplan(dp);
            pbx.verbose_line(
                2,
                &format!("pbx_config: loaded extensions.conf: {e} extensions ({p} priorities) in {c} contexts"),
            );
        }
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
            }
            eprintln!("ferrisk: not starting: extensions.conf has errors");
            return 1;
        }
    }
    pbx.cdr.set_backends(load_cdr_backends(&settings));

    let sip = match crate::channels::sip::start(&pbx).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("ferrisk: not starting: sip.conf has errors");
            return 1;
        }
    };
    if let Some(s) = &sip {
        crate::channels::sip::cli::register(&state, s.clone());
    }
    load_voicemail(&pbx);
    pbx.voicemail.mailer.start(&pbx);
    crate::voicemail::poll::start(&pbx);
    {
        // Recordings a crash interrupted are delivered (nothing a caller recorded is lost).
        let p = pbx.clone();
        tokio::spawn(async move {
            crate::apps::voicemail::recover(&p).await;
        });
    }
    {
        // `module reload app_voicemail.so`, `voicemail reload` and `core reload`.
        let weak = Arc::downgrade(&pbx);
        pbx.reloaders.write().push((
            "app_voicemail",
            Arc::new(move || match weak.upgrade() {
                Some(p) => reload_voicemail(&p),
                None => String::new(),
            }),
        ));
    }
    {
        // `module reload res_musiconhold.so` and `core reload` re-read musiconhold.conf.
        let weak = Arc::downgrade(&pbx);
        pbx.reloaders.write().push((
            "res_musiconhold",
            Arc::new(move || {
                if let Some(p) = weak.upgrade() {
                    crate::apps::moh::reload(&p);
                }
                String::new()
            }),
        ));
    }

    let pidfile = pid_path(&settings);
    if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
        pbx.warning(&format!("cannot write {}: {e}", pidfile.display()));
    }
    let listener = match crate::cli::server::bind(&ctl) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ferrisk: cannot listen on {}: {e}", ctl.display());
            let _ = std::fs::remove_file(&pidfile);
            return 1;
        }
    };
    let server = tokio::spawn(crate::cli::server::serve(listener, state.clone()));
    println!("ferrisk Ready.");

    if args.console {
        let st = state.clone();
        let h = tokio::runtime::Handle::current();
        let pr = printer.clone();
        std::thread::spawn(move || crate::cli::console::run_root_console(st, h, pr));
    }

    wait_for_stop(&state).await;
    let mode = state.stop_mode.lock().unwrap_or(StopMode::Now);
    shutdown(&state, mode).await;
    if let Some(s) = &sip {
        crate::channels::sip::shutdown(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.abort();
    let _ = std::fs::remove_file(&ctl);
    let _ = std::fs::remove_file(&pidfile);
    println!("ferrisk ending (0).");
    0
}

async fn wait_for_stop(state: &CliState) {
    let mut stop = state.pbx.stop_tx.subscribe();
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let int = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = async { while !*stop.borrow_and_update() { if stop.changed().await.is_err() { break; } } } => {}
        _ = term => state.stop(StopMode::Now),
        _ = int => state.stop(StopMode::Now),
    }
}

async fn shutdown(state: &CliState, mode: StopMode) {
    let pbx = &state.pbx;
    pbx.shutting_down.store(true, Ordering::SeqCst);
    match mode {
        StopMode::Now => {}
        StopMode::Gracefully | StopMode::WhenConvenient => {
            pbx.verbose_line(0, "Waiting for active calls to end before stopping");
            while !pbx.channels.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    for c in pbx.channels.list() {
        c.request_hangup(crate::pbx::channel::cause::NORMAL_CLEARING);
    }
    for _ in 0..20 {
        if pbx.channels.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pbx.verbose_line(0, "Executing last minute cleanups");
    // Let the log printers flush.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Control socket path for a config file (the remote client's view).
pub fn ctl_path_for(config: &Path) -> Result<PathBuf, ConfigError> {
    Settings::load(config).map(|s| ctl_path(&s))
}
