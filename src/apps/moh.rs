//! `MusicOnHold(class[,duration])`, the hold music Dial's `m` option plays, and the `moh`
//! CLI commands. Classes come from `musiconhold.conf` (see [`crate::media::moh`]), read when
//! the module loads and on `moh reload`; without the file there is one class, `default`,
//! playing `moh/` under astdatadir (or Debian's `/usr/share/asterisk/moh`). Reading the
//! config, listing a class's files and decoding them run on the blocking pool.

use super::{args, App, AppResult};
use crate::cli::{CliError, CommandRegistry, Ctx};
use crate::media::moh::{self, MohClass, MohClasses, MohPlayer};
use crate::pbx::bridge::AbortOnDrop;
use crate::pbx::hold::{HoldMusic, HoldMusicService};
use crate::pbx::media::{Frame, FrameQueue};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::{blocking, Channel, Pbx};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// `res_musiconhold.so`: the hold music classes (a service other modules use through
/// [`start`] and [`class`]), the applications and the `moh` commands.
pub struct ResMusicOnHold;

impl Module for ResMusicOnHold {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_musiconhold.so", "Music On Hold Resource")
            .configs(&["musiconhold.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        ctx.provide(Arc::new(MohClasses::default()));
        // `load` runs on the blocking pool: read musiconhold.conf now, not at the first call.
        reload(&ctx.pbx);
        ctx.provide(Arc::new(HoldMusicService(Arc::new(Player))));
        ctx.register_app(Arc::new(MusicOnHold));
        ctx.register_app(Arc::new(StartMusicOnHold));
        ctx.register_app(Arc::new(StopMusicOnHold));
        ctx.register_cli_with(register_cli);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        reload(&ctx.pbx);
        Reload::Done(String::new())
    }
}

/// What the core's `pbx::hold::start` calls (Dial's `m` option).
struct Player;

impl HoldMusic for Player {
    fn start<'a>(
        &'a self,
        pbx: &'a Arc<Pbx>,
        class: &'a str,
        to_far: Arc<FrameQueue>,
    ) -> crate::pbx::hold::Starting<'a> {
        Box::pin(start(pbx, class, to_far))
    }
}

/// The classes of the loaded `res_musiconhold.so` (empty when it is not loaded).
pub fn classes(pbx: &Pbx) -> Arc<MohClasses> {
    pbx.service::<MohClasses>().unwrap_or_default()
}

/// Read musiconhold.conf into the classes; returns the number of classes (0 when the
/// module is not loaded). File work: call it on the blocking pool.
pub fn reload(pbx: &Pbx) -> usize {
    let Some(store) = pbx.service::<MohClasses>() else {
        return 0;
    };
    let s = &pbx.settings;
    let classes = if s.astetcdir.join("musiconhold.conf").exists() {
        match crate::config::load(&s.astetcdir, "musiconhold.conf", &s.load_options()) {
            Ok(cf) => moh::parse(&cf, &s.astdatadir),
            Err(e) => {
                pbx.warning(&format!("res_musiconhold.c: {e}"));
                Vec::new()
            }
        }
    } else {
        vec![moh::builtin_default(&s.astdatadir)]
    };
    let n = classes.len();
    store.set(classes);
    n
}

/// [`reload`] on the blocking pool.
async fn reload_off_worker(pbx: &Arc<Pbx>) -> usize {
    let p = pbx.clone();
    blocking::run(move || reload(&p)).await.unwrap_or(0)
}

/// The class called `name` (`default` when empty); the classes are read when the module
/// loads.
pub fn class(pbx: &Pbx, name: &str) -> Option<MohClass> {
    let store = pbx.service::<MohClasses>()?;
    let name = if name.trim().is_empty() {
        "default"
    } else {
        name.trim()
    };
    store.class(name)
}

fn seed() -> u64 {
    rand::random::<u64>()
}

/// Play `class` into `to_far` (paced by whoever drains it) until the guard is dropped.
/// `None` (with a warning) when the class does not exist or has no playable files.
pub async fn start(
    pbx: &Arc<Pbx>,
    class_name: &str,
    to_far: Arc<FrameQueue>,
) -> Option<AbortOnDrop> {
    let mut player = player(pbx, class_name).await?;
    let pbx = pbx.clone();
    Some(AbortOnDrop(tokio::spawn(async move {
        let store = classes(&pbx);
        while let Some(f) = player.next_frame(&store) {
            if !to_far.push(Frame::Voice(f)).await {
                break;
            }
        }
    })))
}

/// A player for `class_name`, its files listed and decoded on the blocking pool (once:
/// they stay cached until a reload), so playing it reads no file. `None` (with a warning)
/// when the class does not exist or has no playable files.
async fn player(pbx: &Arc<Pbx>, class_name: &str) -> Option<MohPlayer> {
    let Some(c) = class(pbx, class_name) else {
        pbx.warning(&format!(
            "res_musiconhold.c: Music class {} not found",
            if class_name.is_empty() {
                "default"
            } else {
                class_name
            }
        ));
        return None;
    };
    let store = classes(pbx);
    let class = c.clone();
    let p = blocking::run(move || {
        let mut p = MohPlayer::new(&class, seed());
        p.preload(&store);
        p
    })
    .await?;
    if p.files().is_empty() {
        pbx.warning(&format!(
            "res_musiconhold.c: No files for class '{}' in {}",
            c.name,
            c.dir.display()
        ));
        return None;
    }
    Some(p)
}

struct MusicOnHold;

#[async_trait]
impl App for MusicOnHold {
    fn name(&self) -> &'static str {
        "MusicOnHold"
    }
    fn synopsis(&self) -> &'static str {
        "Play Music On Hold indefinitely."
    }
    fn syntax(&self) -> &'static str {
        "MusicOnHold([class[,duration]])"
    }
    fn description(&self) -> &'static str {
        "Plays hold music specified by class. If omitted, the default music source for the channel will be used. If duration is given, hold music will be played specified number of seconds. If duration is omitted, music plays indefinitely. Returns 0 when done, -1 on hangup."
    }

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let class_name = args::nth(&a, 0).trim().to_string();
        let duration = args::nth(&a, 1)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|d| *d > 0.0 && d.is_finite())
            .map(|d| Duration::from_secs_f64(d.min(1e7)));
        let pbx = chan.pbx.clone();
        let Some(mut player) = player(&pbx, &class_name).await else {
            pbx.warning(&format!(
                "res_musiconhold.c: Unable to start music on hold class '{}' on channel {}",
                if class_name.is_empty() {
                    "default"
                } else {
                    &class_name
                },
                chan.name()
            ));
            return Ok(());
        };
        pbx.verbose_line(
            3,
            &format!(
                "Started music on hold, class '{}', on {}",
                if class_name.is_empty() {
                    "default"
                } else {
                    &class_name
                },
                chan.name()
            ),
        );
        let deadline = duration.map(|d| tokio::time::Instant::now() + d);
        let store = classes(&pbx);
        loop {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break;
            }
            let Some(f) = player.next_frame(&store) else {
                break;
            };
            chan.write_frame(Frame::Voice(f)).await?;
            // What the caller says while on hold is not kept.
            if let Some(m) = &chan.media {
                while m.from_far.try_pop().is_some() {}
            }
        }
        pbx.verbose_line(3, &format!("Stopped music on hold on {}", chan.name()));
        Ok(())
    }
}

struct StartMusicOnHold;

#[async_trait]
impl App for StartMusicOnHold {
    fn name(&self) -> &'static str {
        "StartMusicOnHold"
    }
    fn synopsis(&self) -> &'static str {
        "Play Music On Hold."
    }
    fn syntax(&self) -> &'static str {
        "StartMusicOnHold([class])"
    }
    fn description(&self) -> &'static str {
        "Starts playing music on hold, uses default music class for channel. Starts playing music specified by class. If omitted, the default music source for the channel will be used. Always returns 0."
    }

    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let class_name = args::nth(&args::split(data, ','), 0).trim().to_string();
        chan.stop_background();
        let Some(tx) = chan.media.as_ref().map(|m| m.to_far.clone()) else {
            return Ok(());
        };
        let pbx = chan.pbx.clone();
        match start(&pbx, &class_name, tx).await {
            Some(h) => chan.background = Some(h),
            None => pbx.warning(&format!(
                "res_musiconhold.c: Unable to start music on hold class '{}' on channel {}",
                if class_name.is_empty() {
                    "default"
                } else {
                    &class_name
                },
                chan.name()
            )),
        }
        Ok(())
    }
}

struct StopMusicOnHold;

#[async_trait]
impl App for StopMusicOnHold {
    fn name(&self) -> &'static str {
        "StopMusicOnHold"
    }
    fn synopsis(&self) -> &'static str {
        "Stop playing Music On Hold."
    }
    fn syntax(&self) -> &'static str {
        "StopMusicOnHold()"
    }
    fn description(&self) -> &'static str {
        "Stops playing music on hold."
    }

    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        chan.stop_background();
        Ok(())
    }
}

/// `moh reload`, `moh show classes`, `moh show files`.
pub fn register_cli(r: &CommandRegistry) {
    use crate::cli::Command;
    r.register(Command::new(
        "moh reload",
        "Reload MusicOnHold",
        "Usage: moh reload\n    Reloads the MusicOnHold module.\n    Alias for 'module reload res_musiconhold.so'",
        |c: Ctx| async move {
            reload_off_worker(&c.state.pbx).await;
            Ok(String::new())
        },
    ));
    r.register(Command::new(
        "moh show classes",
        "List MusicOnHold classes",
        "Usage: moh show classes\n       Lists all MusicOnHold classes.",
        |c: Ctx| async move {
            let pbx = &c.state.pbx;
            if classes(pbx).get().is_none() {
                reload_off_worker(pbx).await;
            }
            let mut out = String::new();
            for cl in classes(pbx).get().unwrap_or_default().iter() {
                out.push_str(&format!(
                    "Class: {}\n\tMode: {}\n\tDirectory: {}\n",
                    cl.name,
                    cl.mode,
                    cl.dir.display()
                ));
            }
            Ok(out)
        },
    ));
    r.register(Command::new(
        "moh show files",
        "List MusicOnHold file-based classes",
        "Usage: moh show files [class]\n       Lists all loaded file-based MusicOnHold classes and their\n       files.",
        |c: Ctx| async move {
            if c.args.len() > 1 {
                return Err(CliError::ShowUsage);
            }
            // Directory listings: on the blocking pool.
            let pbx = c.state.pbx.clone();
            let want = c.args.first().cloned();
            let out = blocking::run(move || {
                if classes(&pbx).get().is_none() {
                    reload(&pbx);
                }
                let mut out = String::new();
                for cl in classes(&pbx).get().unwrap_or_default().iter() {
                    if cl.mode != "files"
                        || want.as_ref().is_some_and(|w| !w.eq_ignore_ascii_case(&cl.name))
                    {
                        continue;
                    }
                    out.push_str(&format!("Class: {}\n", cl.name));
                    for f in moh::list_files(&cl.dir) {
                        out.push_str(&format!("\tFile: {}\n", f.with_extension("").display()));
                    }
                }
                out
            })
            .await
            .unwrap_or_default();
            Ok(out)
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::execute;
    use crate::media::moh::Sort;

    #[tokio::test]
    async fn cli_lists_classes_and_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("tune.wav"),
            crate::media::wav::wav_bytes(&[0; 160]),
        )
        .unwrap();
        let pbx = crate::modules::test_pbx();
        classes(&pbx).set(vec![MohClass {
            name: "lounge".into(),
            mode: "files".into(),
            directory: String::new(),
            dir: d.path().to_path_buf(),
            sort: Sort::Alpha,
        }]);
        let st = crate::cli::new_state(pbx.clone());
        let out = execute(&st, "moh show classes", None).await;
        assert_eq!(
            out,
            format!(
                "Class: lounge\n\tMode: files\n\tDirectory: {}\n",
                d.path().display()
            )
        );
        let out = execute(&st, "moh show files", None).await;
        assert_eq!(
            out,
            format!(
                "Class: lounge\n\tFile: {}\n",
                d.path().join("tune").display()
            )
        );
        // Without musiconhold.conf a reload gives the built-in default class.
        execute(&st, "moh reload", None).await;
        assert!(class(&pbx, "").is_some());
        assert!(class(&pbx, "lounge").is_none());
    }
}
