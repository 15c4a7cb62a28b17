//! The daemon: startup (directories, AstDB, dialplan, CDR, pid file, control socket),
//! reload, and shutdown. `main.rs` only parses flags and calls [`run`] or the remote client.

use crate::astdb::AstDb;
use crate::cli::args::Args;
use crate::cli::console::Printer;
use crate::cli::{CliState, StopMode};
use crate::config::settings::Settings;
use crate::config::ConfigError;
use crate::pbx::module::LoadError;
use crate::pbx::Pbx;
use crate::pbx_config::load_dialplan;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Where a daemon's console output goes, in `astlogdir`.
pub const CONSOLE_LOG: &str = "console.log";

pub fn pid_path(s: &Settings) -> PathBuf {
    s.pid_path()
}
pub fn ctl_path(s: &Settings) -> PathBuf {
    s.ctl_path()
}
pub fn astdb_path(s: &Settings) -> PathBuf {
    s.astdb_path()
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
    // One worker per core (tokio's default), as many as the machine has.
    let rt = match tokio::runtime::Builder::new_multi_thread()
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
/// in a new session, its standard output and error to `astlogdir/console.log` (the log
/// files of logger.conf are the logger's); wait until the control socket answers.
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
        .open(settings.astlogdir.join(CONSOLE_LOG));
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
                settings.astlogdir.join(CONSOLE_LOG).display()
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
    pbx.modules.set_available(crate::modules::all());
    let state = crate::cli::new_state(pbx.clone());
    state.verbosity.set_root(&pbx, root_verbose);

    // Console output: every log line the root level admits goes to stdout (a terminal, or
    // a daemon's `messages` file), written by a thread of its own: a slow terminal or disk
    // never holds up an async worker.
    let printer = Arc::new(Printer::default());
    {
        let mut rx = pbx.log_tx.subscribe();
        let st = state.clone();
        let pr = printer.clone();
        let started = std::thread::Builder::new()
            .name("console-log".into())
            .spawn(move || loop {
                match rx.blocking_recv() {
                    Ok(l)
                        if l.shown(
                            &st.pbx.logger,
                            st.verbosity.root(),
                            st.verbosity.levels_off(None),
                        ) =>
                    {
                        pr.line(&l.text)
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            });
        if let Err(e) = started {
            eprintln!("ferrisk: no console output: {e}");
        }
    }

    // The logger (logger.conf) before the modules, so that their notices reach the files.
    pbx.logger.set_banner(crate::cli::builtin::version_line());
    let logger = pbx.logger.clone();
    let problems = tokio::task::spawn_blocking(move || logger.start())
        .await
        .unwrap_or_default();
    for p in problems {
        pbx.error(&format!("logger.c: {p}"));
    }

    if !load_modules(&pbx, &settings).await {
        return 1;
    }

    let pidfile = pid_path(&settings);
    if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
        pbx.warning(&format!("cannot write {}: {e}", pidfile.display()));
    }
    let access = crate::cli::server::SocketAccess {
        mode: settings.astctl_permissions,
        owner: settings.astctl_owner.clone(),
        group: settings.astctl_group.clone(),
    };
    let listener = match crate::cli::server::bind(&ctl, &access) {
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
    pbx.modules.stop_all(&pbx).await;
    server.abort();
    let _ = std::fs::remove_file(&ctl);
    let _ = std::fs::remove_file(&pidfile);
    println!("ferrisk ending (0).");
    0
}

/// Load the modules `modules.conf` asks for (every module without one), in order. A
/// required module that does not load, or a module whose config file has errors, stops
/// start-up with the reason; a module that declines (its config file is missing) is noted.
async fn load_modules(pbx: &Arc<Pbx>, settings: &Settings) -> bool {
    let conf = match crate::config::modules::load_modules_conf(
        &settings.astetcdir,
        &settings.load_options(),
    ) {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("ferrisk: not starting: modules.conf has errors");
            return false;
        }
    };
    // The core's built-in applications always load, whatever modules.conf says.
    let infos = pbx.modules.available();
    let available: Vec<&'static str> = infos
        .iter()
        .filter(|i| !i.builtin)
        .map(|i| i.name)
        .collect();
    let plan = match conf.plan(&available) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("ferrisk: not starting: modules.conf has errors");
            return false;
        }
    };
    // extconfig.conf: which realtime engine serves which family (engines register as
    // their modules load).
    crate::pbx::realtime::log_to_console(pbx);
    if let Err(errs) = crate::pbx::realtime::load_extconfig(pbx) {
        for e in &errs {
            eprintln!("{e}");
        }
        eprintln!("ferrisk: not starting: extconfig.conf has errors");
        return false;
    }
    pbx.verbose_line(1, "Asterisk Dynamic Loader Starting:");
    for b in infos.iter().filter(|i| i.builtin) {
        if let Err(e) = pbx.modules.load(pbx, b.name).await {
            eprintln!(
                "ferrisk: not starting: the core's {} did not load: {e:?}",
                b.name
            );
            return false;
        }
    }
    pbx.notice(&format!("loader.c: {} modules will be loaded.", plan.len()));
    let mut count = 0;
    for p in &plan {
        match pbx.modules.load(pbx, &p.name).await {
            Ok(()) => {
                count += 1;
                if let Some(m) = pbx.modules.find(&p.name) {
                    let i = m.info();
                    if !i.builtin {
                        pbx.verbose_line(2, &format!("Loaded {} => ({})", i.name, i.description));
                    }
                }
            }
            Err(LoadError::AlreadyLoaded) => {}
            Err(LoadError::Declined(why)) if !p.required => {
                pbx.notice(&format!("loader.c: {} declined to load: {why}", p.name));
            }
            Err(e) => {
                let why = match e {
                    LoadError::Declined(w) | LoadError::Failed(w) => w,
                    LoadError::NotFound => "no such module".into(),
                    LoadError::AlreadyLoaded => String::new(),
                };
                eprintln!("{why}");
                pbx.error(&format!(
                    "loader.c: *** Failed to load {}module {}",
                    if p.required { "required " } else { "" },
                    p.name
                ));
                eprintln!("ferrisk: not starting: {} did not load", p.name);
                return false;
            }
        }
    }
    pbx.verbose_line(1, &format!("{count} modules loaded."));
    true
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
    // Every call record posted is on disk before the process ends.
    let p = pbx.clone();
    let _ = tokio::task::spawn_blocking(move || p.cdr.flush()).await;
    // Let the log printers flush.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Control socket path for a config file (the remote client's view).
pub fn ctl_path_for(config: &Path) -> Result<PathBuf, ConfigError> {
    Settings::load(config).map(|s| ctl_path(&s))
}
