//! ControlPlayback() (`app_controlplayback.so`): play a file the caller can fast-forward,
//! rewind, pause, restart and stop with DTMF keys (`ast_control_streamfile`). Positions move
//! in whole 20 ms frames.

use super::playback::{load_prompt, poll_digit};
use super::waitexten::wait_digit;
use super::{args, App, AppResult};
use crate::media::prompt::Prompt;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_controlplayback.so", "Control Playback Application"),
    register: register_app_controlplayback,
}];

fn register_app_controlplayback(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ControlPlayback));
}

/// The keys ControlPlayback reacts to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys {
    pub ff: String,
    pub rew: String,
    pub stop: String,
    pub pause: String,
    pub restart: String,
}

fn on_phonepad(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '#')
}

/// The keys from the arguments: a key string not starting with a phone key is none; `ff`
/// defaults to `#` and `rew` to `*` unless another control uses that key.
pub fn keys(ff: &str, rew: &str, stop: &str, pause: &str, restart: &str) -> Keys {
    let keep = |s: &str| {
        if on_phonepad(s) {
            s.to_string()
        } else {
            String::new()
        }
    };
    let (stop, pause, restart) = (keep(stop), keep(pause), keep(restart));
    let others = |k: char, other: &str| {
        !other.contains(k) && !stop.contains(k) && !pause.contains(k) && !restart.contains(k)
    };
    let ff = if on_phonepad(ff) {
        ff.to_string()
    } else if others('#', rew) {
        "#".into()
    } else {
        String::new()
    };
    let rew = if on_phonepad(rew) {
        rew.to_string()
    } else if others('*', &ff) {
        "*".into()
    } else {
        String::new()
    };
    Keys {
        ff,
        rew,
        stop,
        pause,
        restart,
    }
}

/// How the playing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Played to the end of the file.
    Done,
    /// A stop key, at this frame.
    Stopped(char, usize),
}

struct ControlPlayback;

#[async_trait]
impl App for ControlPlayback {
    fn name(&self) -> &'static str {
        "ControlPlayback"
    }
    fn synopsis(&self) -> &'static str {
        "Play a file with fast forward and rewind."
    }
    fn syntax(&self) -> &'static str {
        "ControlPlayback(filename[,skipms[,ff[,rew[,stop[,pause[,restart[,options]]]]]]])"
    }
    fn description(&self) -> &'static str {
        "This application will play back the given filename. skipms: milliseconds to skip when rewinding or fast-forwarding (default 3000). ff: fast-forward when this DTMF digit is received (default #). rew: rewind when this DTMF digit is received (default *). stop: stop playback when this DTMF digit is received. pause: pause playback when this DTMF digit is received (a pause key again resumes, a stop key stops). restart: restart playback when this DTMF digit is received. Options: o(time) — start at time ms from the beginning of the file. It sets the following channel variables upon completion: CPLAYBACKSTATUS (SUCCESS, USERSTOPPED or ERROR), CPLAYBACKOFFSET (the offset in ms into the file where playback was at when it stopped, -1 at the end of the file), CPLAYBACKSTOPKEY (the key that stopped the playback)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let file = args::nth(&a, 0).trim().to_string();
        if file.is_empty() {
            chan.pbx
                .warning("app_controlplayback.c: ControlPlayback requires an argument (filename)");
            return Err(Hangup);
        }
        let skipms = match args::nth(&a, 1).trim().parse::<i64>() {
            Ok(n) if n != 0 => n.unsigned_abs(),
            _ => 3000,
        };
        let k = keys(
            args::nth(&a, 2),
            args::nth(&a, 3),
            args::nth(&a, 4),
            args::nth(&a, 5),
            args::nth(&a, 6),
        );
        let opts = args::options(args::nth(&a, 7));
        let offset_ms = opts
            .get(&'o')
            .and_then(|o| o.as_deref())
            .and_then(|o| o.trim().parse::<i64>().ok())
            .unwrap_or(0)
            .max(0) as u64;
        let lang = chan.language.clone();
        let Some(mut prompt) = load_prompt(chan, &file, &lang).await else {
            chan.set_var("CPLAYBACKSTATUS", "ERROR");
            chan.set_var("CPLAYBACKOFFSET", "-1");
            return Ok(());
        };
        prompt.seek_frame((offset_ms / 20) as usize);
        let end = match control(chan, &mut prompt, &k, (skipms / 20).max(1) as usize).await {
            Ok(e) => e,
            Err(Hangup) => {
                chan.set_var("CPLAYBACKSTATUS", "ERROR");
                chan.set_var("CPLAYBACKOFFSET", &(prompt.frame_index() * 20).to_string());
                return Err(Hangup);
            }
        };
        match end {
            End::Done => {
                chan.set_var("CPLAYBACKSTATUS", "SUCCESS");
                chan.set_var("CPLAYBACKOFFSET", "-1");
            }
            End::Stopped(key, at) => {
                chan.set_var("CPLAYBACKSTATUS", "USERSTOPPED");
                chan.set_var("CPLAYBACKSTOPKEY", &key.to_string());
                chan.set_var("CPLAYBACKOFFSET", &(at * 20).to_string());
            }
        }
        Ok(())
    }
}

/// Play `prompt`, obeying the keys; `skip` frames for fast-forward and rewind.
async fn control(
    chan: &mut Channel,
    prompt: &mut Prompt,
    k: &Keys,
    skip: usize,
) -> Result<End, Hangup> {
    loop {
        while let Some(d) = poll_digit(chan) {
            let at = prompt.frame_index();
            if k.stop.contains(d) {
                return Ok(End::Stopped(d, at));
            } else if k.restart.contains(d) {
                prompt.seek_frame(0);
            } else if k.pause.contains(d) {
                chan.flush_output().await?;
                // Paused: a pause key resumes, a stop key stops; others are ignored.
                loop {
                    match wait_digit(chan, Duration::from_secs(1)).await? {
                        Some(p) if k.stop.contains(p) => return Ok(End::Stopped(p, at)),
                        Some(p) if k.pause.contains(p) => break,
                        _ => {}
                    }
                }
            } else if k.ff.contains(d) {
                prompt.seek_frame(at.saturating_add(skip).min(prompt.frames()));
            } else if k.rew.contains(d) {
                prompt.seek_frame(at.saturating_sub(skip));
            }
        }
        let Some(f) = prompt.next_frame().await else {
            chan.flush_output().await?;
            return Ok(End::Done);
        };
        chan.write_frame(f).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_unless_taken() {
        let k = keys("", "", "", "", "");
        assert_eq!((k.ff.as_str(), k.rew.as_str()), ("#", "*"));
        let k = keys("", "", "#", "5", "x");
        assert_eq!(
            (k.ff.as_str(), k.rew.as_str(), k.stop.as_str()),
            ("", "*", "#")
        );
        assert_eq!((k.pause.as_str(), k.restart.as_str()), ("5", ""));
        let k = keys("3", "1", "", "", "");
        assert_eq!((k.ff.as_str(), k.rew.as_str()), ("3", "1"));
        let k = keys("*", "", "", "", "");
        assert_eq!(
            (k.ff.as_str(), k.rew.as_str()),
            ("*", ""),
            "* is fast-forward's"
        );
    }
}
