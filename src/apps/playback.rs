//! Playback() and Background(), and the prompt streaming every media application shares
//! ([`stream`]): a file is found with [`crate::media::sounds`], opened as a shared
//! [`Prompt`] whose 20 ms frames are cut as they are written to the channel (the driver paces it); DTMF from the caller can interrupt it.

use super::{args, waitexten, App, AppResult};
use crate::media::prompt::Prompt;
use crate::media::sounds;
use crate::pbx::media::{Frame, NativeFormat};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("app_playback.so", "Sound File Playback Application"),
        register: register_app_playback,
    },
    Family {
        info: ModuleInfo::new("pbx_builtins_background", "Built-in dialplan applications")
            .builtin(),
        register: register_pbx_builtins_background,
    },
];

fn register_app_playback(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Playback));
}

fn register_pbx_builtins_background(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Background));
}

/// How playing one prompt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Played {
    /// Played to the end.
    Done,
    /// A digit from `breakon` interrupted it.
    Digit(char),
    /// No such file (a warning was logged).
    Missing,
}

/// Open `name` for `chan` (language, native codec) as a [`Prompt`]; warns like Asterisk's
/// file.c when it cannot. Finding and decoding the file run on the blocking pool, never on
/// an async worker; the decoded audio is shared with every other call playing the file.
pub async fn load_prompt(chan: &Channel, name: &str, lang: &str) -> Option<Prompt> {
    let native = chan
        .media
        .as_ref()
        .map(|m| m.format)
        .unwrap_or(NativeFormat::Slin);
    let data = chan.pbx.settings.astdatadir.clone();
    let (n, l) = (name.to_string(), lang.to_string());
    let found = tokio::task::spawn_blocking(move || {
        let dirs = sounds::sound_dirs(&data);
        let (path, fmt) = sounds::find(&dirs, &n, &l, native)?;
        let opened = Prompt::open(&path, fmt);
        Some((path, opened))
    })
    .await
    .ok()
    .flatten();
    let Some((path, opened)) = found else {
        chan.pbx
            .warning(&format!("file.c: File {name} does not exist in any format"));
        return None;
    };
    match opened {
        Ok(p) => {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            chan.pbx.verbose_line(
                3,
                &format!(
                    "<{}> Playing '{name}.{ext}' (language '{lang}')",
                    chan.name()
                ),
            );
            Some(p)
        }
        Err(e) => {
            chan.pbx
                .warning(&format!("file.c: Unable to open {}: {e}", path.display()));
            None
        }
    }
}

/// The next digit the caller already pressed, without waiting (audio is dropped).
pub fn poll_digit(chan: &Channel) -> Option<char> {
    let m = chan.media.as_ref()?;
    while let Some(f) = m.from_far.try_pop() {
        if let Frame::Dtmf(d, _) = f {
            return Some(d);
        }
    }
    None
}

/// Play one prompt; a digit in `breakon` stops it (other digits and caller audio are
/// dropped, as `ast_waitstream` does).
pub async fn stream(chan: &mut Channel, name: &str, breakon: &str) -> Result<Played, Hangup> {
    let lang = chan.language.clone();
    stream_lang(chan, name, &lang, breakon).await
}

/// [`stream`] with an explicit language.
pub async fn stream_lang(
    chan: &mut Channel,
    name: &str,
    lang: &str,
    breakon: &str,
) -> Result<Played, Hangup> {
    let Some(prompt) = load_prompt(chan, name, lang).await else {
        return Ok(Played::Missing);
    };
    play_prompt(chan, prompt, breakon).await
}

/// Play 8 kHz linear samples (a waveform made at run time: Festival); a digit in
/// `breakon` stops it.
pub async fn play_samples(
    chan: &mut Channel,
    samples: Vec<i16>,
    breakon: &str,
) -> Result<Played, Hangup> {
    play_prompt(chan, Prompt::from_samples(samples), breakon).await
}

/// Play `prompt` to its end; a digit in `breakon` stops it (other digits and caller audio
/// are dropped).
async fn play_prompt(
    chan: &mut Channel,
    mut prompt: Prompt,
    breakon: &str,
) -> Result<Played, Hangup> {
    while let Some(f) = prompt.next_frame().await {
        while let Some(d) = poll_digit(chan) {
            if breakon.contains(d) {
                return Ok(Played::Digit(d));
            }
        }
        chan.write_frame(f).await?;
    }
    chan.flush_output().await?;
    while let Some(d) = poll_digit(chan) {
        if breakon.contains(d) {
            return Ok(Played::Digit(d));
        }
    }
    Ok(Played::Done)
}

/// Every DTMF key.
pub const ANY_DIGIT: &str = "0123456789*#ABCD";

struct Playback;

#[async_trait]
impl App for Playback {
    fn name(&self) -> &'static str {
        "Playback"
    }
    fn synopsis(&self) -> &'static str {
        "Play a file."
    }
    fn syntax(&self) -> &'static str {
        "Playback(filename[&filename2[&...]][,options])"
    }
    fn description(&self) -> &'static str {
        "Plays back given filenames (do not put extension of wav/ulaw/alaw/sln). Options: skip — play nothing if the channel is not up; noanswer — do not answer the channel before playing. Sets PLAYBACKSTATUS to SUCCESS or FAILED (a file could not be played). Digits do not interrupt."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let files = args::nth(&a, 0).trim().to_string();
        if files.is_empty() {
            chan.pbx
                .warning("app_playback.c: Playback requires an argument (filename)");
            return Err(Hangup);
        }
        let opts = args::nth(&a, 1).to_ascii_lowercase();
        let skip = opts.split('&').any(|o| o.trim() == "skip");
        let noanswer = opts.split('&').any(|o| o.trim() == "noanswer");
        if !chan.is_up() {
            if skip {
                return Ok(());
            }
            if !noanswer {
                chan.answer();
            }
        }
        let mut status = "SUCCESS";
        for f in files.split('&').filter(|f| !f.trim().is_empty()) {
            if stream(chan, f.trim(), "").await? == Played::Missing {
                chan.pbx.warning(&format!(
                    "app_playback.c: Playback failed on {} for {files}",
                    chan.name()
                ));
                status = "FAILED";
                break;
            }
        }
        chan.set_var("PLAYBACKSTATUS", status);
        Ok(())
    }
}

struct Background;

#[async_trait]
impl App for Background {
    fn name(&self) -> &'static str {
        "BackGround"
    }
    fn synopsis(&self) -> &'static str {
        "Play an audio file while waiting for digits of an extension to go to."
    }
    fn syntax(&self) -> &'static str {
        "BackGround(filename1[&filename2[&...]][,options[,langoverride[,context]]])"
    }
    fn description(&self) -> &'static str {
        "Plays the given files while waiting for the caller to dial an extension. A digit stops the playback and the caller continues dialing: as soon as the digits can match no longer extension the call goes to that extension (or i with INVALID_EXTEN, after TIMEOUT(digit) between digits). With context, the single digit pressed is looked up in that context instead. Options: s — skip if the channel is not up; n — do not answer; m — only break if the digit is a one-digit extension in the context. Sets BACKGROUNDSTATUS to SUCCESS or FAILED."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let files = args::nth(&a, 0).trim().to_string();
        // Asterisk also accepts the words `skip` and `noanswer` here.
        let opts = match args::nth(&a, 1).trim() {
            o if o.eq_ignore_ascii_case("skip") => "s",
            o if o.eq_ignore_ascii_case("noanswer") => "n",
            o => o,
        }
        .to_string();
        let lang = match args::nth(&a, 2).trim() {
            "" => chan.language.clone(),
            l => l.to_string(),
        };
        let context = match args::nth(&a, 3).trim() {
            "" => chan.context.clone(),
            c => c.to_string(),
        };
        if files.is_empty() {
            chan.pbx
                .warning("pbx.c: Background requires an argument (filename)");
            chan.set_var("BACKGROUNDSTATUS", "FAILED");
            return Err(Hangup);
        }
        if !chan.is_up() {
            if opts.contains('s') {
                chan.set_var("BACKGROUNDSTATUS", "SUCCESS");
                return Ok(());
            }
            if !opts.contains('n') {
                chan.answer();
            }
        }
        let matchexten = opts.contains('m');
        let mut status = "SUCCESS";
        let mut digit = None;
        'files: for f in files.split('&').filter(|f| !f.trim().is_empty()) {
            let Some(mut prompt) = load_prompt(chan, f.trim(), &lang).await else {
                chan.pbx.warning(&format!(
                    "pbx.c: ast_streamfile failed on {} for {data}",
                    chan.name()
                ));
                status = "FAILED";
                break;
            };
            while let Some(fr) = prompt.next_frame().await {
                while let Some(d) = poll_digit(chan) {
                    if !matchexten || one_digit_exists(chan, &context, d) {
                        digit = Some(d);
                        break 'files;
                    }
                }
                chan.write_frame(fr).await?;
            }
        }
        chan.set_var("BACKGROUNDSTATUS", status);
        let Some(d) = digit else {
            return Ok(());
        };
        if context != chan.context {
            // Asterisk jumps straight to the one-digit extension in the given context.
            chan.goto(&context, &d.to_string(), 1);
            return Ok(());
        }
        waitexten::dial_extension(chan, d).await
    }
}

fn one_digit_exists(chan: &Channel, context: &str, d: char) -> bool {
    chan.pbx.dialplan().exists(
        context,
        &d.to_string(),
        1,
        chan.caller.num.as_deref(),
        Utc::now(),
    )
}
