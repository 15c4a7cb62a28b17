//! The loader's commands, with Asterisk's verbs and output: `module show [like X]`,
//! `module load|unload|reload|refresh`, `core reload`. They talk to the core's module
//! loader only, never to a module.

use super::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use crate::pbx::module::{LoadError, Reload, UnloadError};
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    r.register(
        Command::new(
            "module show",
            "List modules and info",
            "Usage: module show [like keyword]\n       Shows Asterisk modules currently in use, and usage statistics.",
            |c: Ctx| async move { module_show(&c) },
        )
        .complete_with(|st, a, p| {
            if a.is_empty() {
                filter_prefix(["like".to_string()], p)
            } else {
                loaded(st, p)
            }
        }),
    );
    r.register(
        Command::new(
            "module load",
            "Load a module by name",
            "Usage: module load <module name>\n       Loads the specified module into Asterisk.",
            |c: Ctx| async move {
                let [name] = c.args.as_slice() else {
                    return Err(CliError::ShowUsage);
                };
                let pbx = c.pbx();
                match pbx.modules.load(pbx, name).await {
                    Ok(()) => Ok(format!("Loaded {name}\n")),
                    Err(e) => {
                        log_load_error(&c, name, &e);
                        Err(CliError::Failure(format!("Unable to load module {name}\n")))
                    }
                }
            },
        )
        .complete_with(|st, _, p| {
            let loaded = st.pbx.modules.loaded_names();
            filter_prefix(
                st.pbx
                    .modules
                    .available()
                    .iter()
                    .filter(|i| !i.builtin && !loaded.contains(&i.name))
                    .map(|i| i.name.to_string()),
                p,
            )
        }),
    );
    r.register(
        Command::new(
            "module unload",
            "Unload a module by name",
            "Usage: module unload [-f|-h] <module_1> [<module_2> ... ]\n       Unloads the specified module from Asterisk. The -f\n       option causes the module to be unloaded even if it is\n       in use (may cause a crash) and the -h module causes the\n       module to be unloaded even if the module says it cannot, \n       which almost always will cause a crash.",
            |c: Ctx| async move {
                let mut args = c.args.as_slice();
                let mut force = false;
                if let Some(first) = args.first() {
                    if let Some(flag) = first.strip_prefix('-') {
                        match flag {
                            "f" | "h" => force = true,
                            _ => return Err(CliError::ShowUsage),
                        }
                        args = &args[1..];
                    }
                }
                if args.is_empty() {
                    return Err(CliError::ShowUsage);
                }
                let pbx = c.pbx();
                let mut out = String::new();
                for name in args {
                    match pbx.modules.unload(pbx, name, force).await {
                        Ok(()) => {
                            let _ = writeln!(out, "Unloaded {name}");
                        }
                        Err(e) => {
                            match e {
                                UnloadError::NotLoaded => pbx.warning(&format!(
                                    "loader.c: Unload failed, '{name}' could not be found"
                                )),
                                UnloadError::Builtin => pbx.warning(&format!(
                                    "loader.c: '{name}' is built into the core and cannot be unloaded"
                                )),
                                UnloadError::Required(by) => pbx.notice(&format!(
                                    "loader.c: Can't unload {name} right now because {by} is dependent on it"
                                )),
                                UnloadError::InUse(_) => {}
                            }
                            let _ = writeln!(out, "Unable to unload resource {name}");
                            return Err(CliError::Failure(out));
                        }
                    }
                }
                Ok(out)
            },
        )
        .complete_with(|st, _, p| loaded(st, p)),
    );
    r.register(
        Command::new(
            "module reload",
            "Reload configuration for a module",
            "Usage: module reload [module ...]\n       Reloads configuration files for all listed modules which support\n       reloading, or for all supported modules if none are listed.",
            |c: Ctx| async move {
                if c.args.is_empty() {
                    return Ok(reload_all(&c).await);
                }
                let mut out = String::new();
                for name in &c.args {
                    match c.pbx().modules.reload(name).await {
                        None => {
                            let _ = writeln!(out, "No such module '{name}'");
                        }
                        Some(Reload::NotSupported) => {
                            let _ = writeln!(out, "The module '{name}' does not support reloads");
                        }
                        Some(Reload::Failed(text)) => {
                            out.push_str(&text);
                            let _ = writeln!(out, "The module '{name}' reported a reload failure");
                        }
                        Some(Reload::Done(text)) => {
                            out.push_str(&text);
                            let _ = writeln!(out, "Module '{name}' reloaded successfully.");
                        }
                    }
                }
                Ok(out)
            },
        )
        .complete_with(|st, _, p| loaded(st, p)),
    );
    r.register(
        Command::new(
            "module refresh",
            "Completely unloads and loads a module by name",
            "Usage: module refresh <module name> [recursively]\n       Unloads and loads the specified module into Asterisk.\n       'recursively' will attempt to unload any modules with\n       dependencies on this module for you and load them again\n       afterwards.",
            |c: Ctx| async move {
                let name = match c.args.as_slice() {
                    [n] => n,
                    [n, r] if r.eq_ignore_ascii_case("recursively") => n,
                    _ => return Err(CliError::ShowUsage),
                };
                let pbx = c.pbx();
                if pbx.modules.unload(pbx, name, false).await.is_err() {
                    return Err(CliError::Failure(format!("Unable to unload resource {name}\n")));
                }
                if let Err(e) = pbx.modules.load(pbx, name).await {
                    log_load_error(&c, name, &e);
                    return Err(CliError::Failure(format!("Unable to load resource {name}\n")));
                }
                Ok(format!("Unloaded and loaded {name}\n"))
            },
        )
        .complete_with(|st, _, p| loaded(st, p)),
    );
    r.register(Command::new(
        "core reload",
        "Global reload",
        "Usage: core reload\n       Execute a global reload.",
        |c: Ctx| async move { Ok(reload_all(&c).await) },
    ));
}

/// Loaded module names (tab completion).
fn loaded(st: &super::CliState, p: &str) -> Vec<String> {
    let names: Vec<String> = st
        .pbx
        .modules
        .loaded_names()
        .into_iter()
        .filter(|n| st.pbx.modules.find(n).is_some_and(|m| !m.info().builtin))
        .map(str::to_string)
        .collect();
    filter_prefix(names, p)
}

fn log_load_error(c: &Ctx, name: &str, e: &LoadError) {
    let pbx = c.pbx();
    match e {
        LoadError::NotFound => {
            pbx.warning(&format!("loader.c: Module '{name}' could not be loaded."))
        }
        LoadError::AlreadyLoaded => pbx.warning(&format!(
            "loader.c: Module '{name}' already loaded and running."
        )),
        LoadError::Declined(why) => {
            pbx.notice(&format!("loader.c: {name} declined to load: {why}"))
        }
        LoadError::Failed(why) => {
            for line in why.lines() {
                pbx.error(&format!("loader.c: {line}"));
            }
            pbx.error(&format!("loader.c: *** Failed to load module {name}"));
        }
    }
}

/// `module show [like X]`: Asterisk's columns and closing count.
fn module_show(c: &Ctx) -> CliResult {
    let like = match c.args.as_slice() {
        [] => "",
        [kw, x] if kw.eq_ignore_ascii_case("like") => x.as_str(),
        _ => return Err(CliError::ShowUsage),
    };
    let pbx = c.pbx();
    let rows = pbx.modules.rows(pbx, like);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<30} {:<40.40} {:<10} {:<11} {:>13}",
        "Module", "Description", "Use Count", "Status", "Support Level"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<30} {:<40.40} {:<10} {:<11} {:>13}",
            r.name,
            r.description,
            r.use_count,
            if r.running { "Running" } else { "Not Running" },
            r.support.as_str()
        );
    }
    let _ = writeln!(out, "{} modules loaded", rows.len());
    Ok(out)
}

/// Reload every module that supports it (`core reload`, `module reload`).
async fn reload_all(c: &Ctx) -> String {
    let mut out = String::new();
    // extconfig.conf first: a broken file keeps the running mappings.
    let pbx = c.pbx().clone();
    if let Ok(Err(errs)) =
        tokio::task::spawn_blocking(move || crate::pbx::realtime::load_extconfig(&pbx)).await
    {
        for e in errs {
            let _ = writeln!(out, "{e}");
        }
        out.push_str("extconfig.conf has errors: keeping the running mappings\n");
    }
    for (_, r) in c.pbx().modules.reload_all().await {
        match r {
            Reload::Done(t) | Reload::Failed(t) => out.push_str(&t),
            Reload::NotSupported => {}
        }
    }
    *c.pbx().last_reload.lock() = (std::time::Instant::now(), std::time::SystemTime::now());
    out
}

#[cfg(test)]
mod tests {
    use crate::cli::execute;

    #[tokio::test]
    async fn unload_removes_the_application_and_load_brings_it_back() {
        let st = crate::modules::test_state();
        let has =
            |st: &std::sync::Arc<crate::cli::CliState>| st.pbx.apps.get("VoiceMail").is_some();
        assert!(has(&st));
        let out = execute(&st, "module unload app_voicemail.so", None).await;
        assert_eq!(out, "Unloaded app_voicemail.so\n");
        assert!(!has(&st));
        assert!(st.pbx.funcs.get("VM_INFO").is_none());
        assert!(st
            .pbx
            .cli
            .find(&["voicemail".into(), "show".into(), "users".into()])
            .is_none());
        let apps = execute(&st, "core show applications like Voice", None).await;
        assert!(!apps.contains("VoiceMail"), "{apps}");
        let out = execute(&st, "module load app_voicemail.so", None).await;
        assert_eq!(out, "Loaded app_voicemail.so\n");
        assert!(has(&st));
        let out = execute(&st, "module unload app_voicemail.so", None).await;
        assert_eq!(out, "Unloaded app_voicemail.so\n");
        let out = execute(&st, "module unload app_voicemail.so", None).await;
        assert_eq!(out, "Unable to unload resource app_voicemail.so\n");
        let out = execute(&st, "module load app_nosuch.so", None).await;
        assert_eq!(out, "Unable to load module app_nosuch.so\n");
    }

    #[tokio::test]
    async fn module_show_has_asterisks_shape() {
        let st = crate::modules::test_state();
        let out = execute(&st, "module show like app_dial", None).await;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Module                         Description                              Use Count  Status      Support Level"
        );
        assert_eq!(
            lines[1],
            "app_dial.so                    Dialing Application                      0          Running              core"
        );
        assert_eq!(lines[2], "1 modules loaded");
        let all = execute(&st, "module show", None).await;
        for m in [
            "app_voicemail.so",
            "func_strings.so",
            "res_musiconhold.so",
            "chan_local.so",
            "cdr_csv.so",
        ] {
            assert!(all.contains(m), "{m} missing: {all}");
        }
        assert!(!all.contains("pbx_builtins"), "{all}");
    }

    #[tokio::test]
    async fn a_module_in_use_is_not_unloaded_without_force() {
        let st = crate::modules::test_state();
        let e = st.pbx.apps.entry("Echo").expect("Echo");
        let guard = e.owner.enter();
        let out = execute(&st, "module unload app_echo.so", None).await;
        assert_eq!(out, "Unable to unload resource app_echo.so\n");
        assert!(execute(&st, "module show like echo", None).await.contains(
            "app_echo.so                    Simple Echo Application                  1 "
        ));
        let out = execute(&st, "module unload -f app_echo.so", None).await;
        assert_eq!(out, "Unloaded app_echo.so\n");
        drop(guard);
        let out = execute(&st, "module reload app_dial.so", None).await;
        assert_eq!(out, "The module 'app_dial.so' does not support reloads\n");
        let out = execute(&st, "module reload nosuchmodule", None).await;
        assert_eq!(out, "No such module 'nosuchmodule'\n");
    }
}
