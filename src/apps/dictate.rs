//! Dictate() (`app_dictate.so`): a virtual dictation machine. The caller names a file
//! (or the dialplan does), then records into it, plays it back, pauses, winds and
//! truncates with the keypad, as app_dictate does. The file is signed linear 8 kHz,
//! `<base_dir>/<name>.raw` (base_dir defaults to `astspooldir/dictate`). Recording goes
//! through the recording writer (never on the async workers, fsync'd when recording
//! stops); playback reads the file on the blocking pool each time play mode starts.

use super::args;
use super::playback::{stream, Played, ANY_DIGIT};
use super::read::get_data;
use super::record::Writer;
use super::say::number_prompts_en;
use super::{App, AppResult};
use crate::pbx::media::{Frame, FRAME_SAMPLES};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{blocking, Channel, Hangup};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The module of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_dictate.so", "Virtual Dictation Machine"),
    register: register_app_dictate,
}];

fn register_app_dictate(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Dictate));
}

/// How far 7 and 8 wind in play mode: 25,600 samples (3.2 s), app_dictate's `ffactor`.
const WIND: usize = 320 * 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Play,
    Record,
}

/// The machine's state between frames.
struct Machine {
    mode: Mode,
    /// What the last voice frame did (None: nothing yet, or a mode change is pending).
    last: Option<Mode>,
    paused: bool,
    truncate: bool,
    speed: usize,
    /// The play position, in samples.
    pos: usize,
}

impl Machine {
    /// A new session: play mode, paused, at the start, speed 1.
    fn new() -> Machine {
        Machine {
            mode: Mode::Play,
            last: None,
            paused: true,
            truncate: false,
            speed: 1,
            pos: 0,
        }
    }
}

/// What a key does in `m`: app_dictate's key map. Returns the prompts to play.
fn key(m: &mut Machine, k: char) -> Keyed {
    match (m.mode, k) {
        (Mode::Play, '1') => {
            m.paused = true;
            m.mode = Mode::Record;
            Keyed::Prompts(vec![])
        }
        (Mode::Play, '2') => {
            m.speed = if m.speed >= 4 { 1 } else { m.speed + 1 };
            Keyed::Say(m.speed)
        }
        (Mode::Play, '7') => {
            m.pos = m.pos.saturating_sub(WIND);
            Keyed::Prompts(vec![])
        }
        (Mode::Play, '8') => {
            m.pos += WIND;
            Keyed::Prompts(vec![])
        }
        (Mode::Record, '1') => {
            m.paused = true;
            m.mode = Mode::Play;
            Keyed::Prompts(vec![])
        }
        (Mode::Record, '8') => {
            m.truncate = !m.truncate;
            m.last = None;
            Keyed::Prompts(vec![])
        }
        (_, '#') => Keyed::Done,
        (_, '*') => {
            m.paused = !m.paused;
            Keyed::Prompts(vec![if m.paused {
                "dictate/pause"
            } else if m.mode == Mode::Play {
                "dictate/playback"
            } else {
                "dictate/record"
            }])
        }
        (_, '0') => {
            m.paused = true;
            Keyed::Help
        }
        _ => Keyed::Prompts(vec![]),
    }
}

enum Keyed {
    Prompts(Vec<&'static str>),
    /// Say the new speed.
    Say(usize),
    /// 0: "paused", the mode's help, then (if no key) the help for both.
    Help,
    /// #: the dictation ends.
    Done,
}

/// Play `name`; the key that stopped it, if any.
async fn prompt(chan: &mut Channel, name: &str) -> Result<Option<char>, Hangup> {
    Ok(match stream(chan, name, ANY_DIGIT).await? {
        Played::Digit(d) => Some(d),
        _ => None,
    })
}

/// Play `first`, and `then` when no key stopped it.
async fn prompts2(chan: &mut Channel, first: &str, then: &str) -> Result<Option<char>, Hangup> {
    match prompt(chan, first).await? {
        Some(d) => Ok(Some(d)),
        None => prompt(chan, then).await,
    }
}

/// The dictation file's samples (empty when it does not exist yet).
async fn read_all(path: &Path) -> Vec<i16> {
    let p = path.to_path_buf();
    blocking::run(move || std::fs::read(p).unwrap_or_default())
        .await
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// One dictation session on `path` until # or a hang-up.
async fn session(chan: &mut Channel, path: &Path) -> Result<(), Hangup> {
    let mut m = Machine::new();
    let mut writer: Option<Writer> = None;
    let mut audio: Vec<i16> = Vec::new();
    let mut pending = prompt(chan, "dictate/forhelp").await?;
    let res = async {
        loop {
            let frame = match pending.take() {
                Some(d) => Frame::Dtmf(d, Duration::from_millis(100)),
                None => match chan.read_frame(None).await? {
                    Some(f) => f,
                    None => continue,
                },
            };
            match frame {
                Frame::Dtmf(d, _) => match key(&mut m, d) {
                    Keyed::Done => return Ok(()),
                    Keyed::Prompts(ps) => {
                        for p in ps {
                            pending = prompt(chan, p).await?;
                        }
                    }
                    Keyed::Say(n) => {
                        for p in number_prompts_en(n as i64).unwrap_or_default() {
                            if prompt(chan, &p).await?.is_some() {
                                break;
                            }
                        }
                    }
                    Keyed::Help => {
                        let help = match m.mode {
                            Mode::Play => "dictate/play_help",
                            Mode::Record => "dictate/record_help",
                        };
                        pending = prompts2(chan, "dictate/paused", help).await?;
                        if pending.is_none() {
                            pending = prompt(chan, "dictate/both_help").await?;
                        }
                    }
                },
                Frame::Voice(samples) => match m.mode {
                    Mode::Play => {
                        if m.last != Some(Mode::Play) {
                            if m.paused {
                                pending = prompts2(chan, "dictate/playback_mode", "dictate/paused")
                                    .await?;
                            }
                            // Whatever was recorded is on disk before it is played.
                            if let Some(w) = writer.take() {
                                if let Err(e) = w.finish().await {
                                    chan.pbx.warning(&format!(
                                        "app_dictate.c: Unable to write {}: {e}",
                                        path.display()
                                    ));
                                }
                            }
                            audio = read_all(path).await;
                            m.last = Some(Mode::Play);
                        }
                        if !m.paused {
                            for _ in 0..m.speed {
                                if m.pos >= audio.len() {
                                    // The end: start over from the beginning.
                                    m.pos = 0;
                                    continue;
                                }
                                let end = (m.pos + FRAME_SAMPLES).min(audio.len());
                                let f = Frame::voice(audio[m.pos..end].to_vec());
                                m.pos = end;
                                chan.write_frame(f).await?;
                            }
                        }
                    }
                    Mode::Record => {
                        if m.last != Some(Mode::Record) {
                            if m.paused {
                                pending =
                                    prompts2(chan, "dictate/record_mode", "dictate/paused").await?;
                            }
                            m.last = Some(Mode::Record);
                            if let Some(w) = writer.take() {
                                let _ = w.finish().await;
                            }
                            let append = !m.truncate;
                            if m.truncate {
                                pending = prompt(chan, "dictate/truncating_audio").await?;
                                m.truncate = false;
                            }
                            match Writer::open(path, "raw", append).await {
                                Ok(w) => writer = Some(w),
                                Err(e) => {
                                    chan.pbx.warning(&format!(
                                        "app_dictate.c: Unable to open {}: {e}",
                                        path.display()
                                    ));
                                    return Ok(());
                                }
                            }
                        }
                        if !m.paused {
                            if let Some(w) = writer.as_mut() {
                                let _ = w.write(samples.to_vec()).await;
                            }
                        }
                    }
                },
            }
        }
    }
    .await;
    // Recorded audio is kept whatever ended the session.
    if let Some(w) = writer.take() {
        if let Err(e) = w.finish().await {
            chan.pbx.warning(&format!(
                "app_dictate.c: Unable to write {}: {e}",
                path.display()
            ));
        }
    }
    res
}

struct Dictate;

#[async_trait]
impl App for Dictate {
    fn name(&self) -> &'static str {
        "Dictate"
    }
    fn synopsis(&self) -> &'static str {
        "Virtual Dictation Machine."
    }
    fn syntax(&self) -> &'static str {
        "Dictate([base_dir[,filename]])"
    }
    fn description(&self) -> &'static str {
        "Start dictation machine using optional base_dir for files (default: the spool directory's dictate folder). Without filename the caller enters one (dictate/enter_filename); the dictation is base_dir/filename.raw (signed linear, 8 kHz). Keys: * pause/resume; # end; 0 help. In play mode (the start): 1 record mode, 2 speed 1-4, 7 back 3.2 s, 8 forward 3.2 s. In record mode: 1 play mode, 8 toggle truncating (the next recording replaces the file)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let base = match args::nth(&a, 0).trim() {
            "" => chan.pbx.settings.astspooldir.join("dictate"),
            b => PathBuf::from(b),
        };
        let mut filename = args::nth(&a, 1).trim().to_string();
        if !chan.is_up() {
            chan.answer();
        }
        chan.sleep(Duration::from_millis(200)).await?;
        let name = if filename.is_empty() {
            let (entered, _) = get_data(chan, "dictate/enter_filename", 255, None, "#").await?;
            if entered.is_empty() {
                return Ok(());
            }
            entered
        } else {
            std::mem::take(&mut filename)
        };
        let dir = base.clone();
        blocking::run(move || std::fs::create_dir_all(dir)).await;
        // # ends the dictation and the application, as in app_dictate.
        session(chan, &base.join(format!("{name}.raw"))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine::new()
    }

    #[test]
    fn keys_switch_modes_speed_and_wind() {
        let mut m = machine();
        assert!(matches!(key(&mut m, '2'), Keyed::Say(2)));
        key(&mut m, '2');
        key(&mut m, '2');
        assert!(matches!(key(&mut m, '2'), Keyed::Say(1)), "4 wraps to 1");
        key(&mut m, '8');
        key(&mut m, '8');
        assert_eq!(m.pos, 2 * WIND);
        key(&mut m, '7');
        key(&mut m, '7');
        key(&mut m, '7');
        assert_eq!(m.pos, 0, "never before the start");
        key(&mut m, '1');
        assert_eq!((m.mode, m.paused), (Mode::Record, true));
        key(&mut m, '8');
        assert!(m.truncate, "8 in record mode toggles truncating");
        assert!(matches!(key(&mut m, '*'), Keyed::Prompts(p) if p == ["dictate/record"]));
        assert!(!m.paused);
        assert!(matches!(key(&mut m, '*'), Keyed::Prompts(p) if p == ["dictate/pause"]));
        assert!(matches!(key(&mut m, '0'), Keyed::Help));
        assert!(matches!(key(&mut m, '#'), Keyed::Done));
    }
}
