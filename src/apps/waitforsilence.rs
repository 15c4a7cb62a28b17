//! WaitForSilence() and WaitForNoise() (`app_waitforsilence.so`), and BackgroundDetect()
//! (`app_talkdetect.so`): listen to the caller with the energy detector of
//! [`crate::media::silence`].

use super::playback::load_prompt;
use super::readexten::{exten_can_grow, exten_exists};
use super::{args, waitexten, App, AppResult};
use crate::media::silence::{SilenceDetector, TalkDetector, SILENCE_THRESHOLD};
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("app_waitforsilence.so", "Wait For Silence/Noise")
            .support(SupportLevel::Extended),
        register: register_app_waitforsilence,
    },
    Family {
        info: ModuleInfo::new("app_talkdetect.so", "Playback with Talk Detection")
            .support(SupportLevel::Extended),
        register: register_app_talkdetect,
    },
];

fn register_app_waitforsilence(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(WaitFor(Kind::Silence)));
    ctx.register_app(Arc::new(WaitFor(Kind::Noise)));
}

fn register_app_talkdetect(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(BackgroundDetect));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Silence,
    Noise,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Silence => "silence",
            Kind::Noise => "noise",
        }
    }
}

/// A non-negative integer argument (`sscanf("%d")`), `Err` with Asterisk's error otherwise.
fn int_arg(s: &str, default: i64, min: i64, err: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(default);
    }
    let digits: String = s
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
        .map(|(_, c)| c)
        .collect();
    match digits.parse::<i64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(err.to_string()),
    }
}

struct WaitFor(Kind);

#[async_trait]
impl App for WaitFor {
    fn name(&self) -> &'static str {
        match self.0 {
            Kind::Silence => "WaitForSilence",
            Kind::Noise => "WaitForNoise",
        }
    }
    fn synopsis(&self) -> &'static str {
        match self.0 {
            Kind::Silence => "Waits for a specified amount of silence.",
            Kind::Noise => "Waits for a specified amount of noise.",
        }
    }
    fn syntax(&self) -> &'static str {
        match self.0 {
            Kind::Silence => "WaitForSilence([silencerequired[,iterations[,timeout]]])",
            Kind::Noise => "WaitForNoise([noiserequired[,iterations[,timeout]]])",
        }
    }
    fn description(&self) -> &'static str {
        match self.0 {
            Kind::Silence => "Answers, then waits for silencerequired milliseconds (default 1000) of silence, iterations times (default 1). An optional timeout (seconds) returns even if the silence was not heard. A frame counts as silence when its average amplitude is below 256 (dsp.conf's default); no audio at all for silencerequired ms counts as silence. Sets WAITSTATUS: SILENCE, TIMEOUT or HANGUP.",
            Kind::Noise => "Answers, then waits for noiserequired milliseconds (default 1000) of noise, iterations times (default 1). An optional timeout (seconds) returns even if the noise was not heard. Sets WAITSTATUS: NOISE, TIMEOUT or HANGUP.",
        }
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let kind = self.0;
        let a = args::split(data, ',');
        let parsed = int_arg(
            args::nth(&a, 0),
            1000,
            0,
            &format!(
                "Argument '{}required' must be an integer greater than or equal to zero.",
                kind.word()
            ),
        )
        .and_then(|req| {
            let it = int_arg(
                args::nth(&a, 1),
                1,
                1,
                "Argument 'iterations' must be an integer greater than 0.",
            )?;
            let to = int_arg(
                args::nth(&a, 2),
                0,
                0,
                "Argument 'timeout' must be an integer greater than or equal to zero.",
            )?;
            Ok((req, it, to))
        });
        let (required, iterations, timeout) = match parsed {
            Ok(v) => v,
            Err(e) => {
                chan.pbx.error(&format!("app_waitforsilence.c: {e}"));
                return Err(Hangup);
            }
        };
        if !chan.is_up() {
            chan.answer();
        }
        chan.pbx.verbose_line(
            3,
            &format!(
                "Waiting {iterations} time(s) for {required}ms of {} with {timeout}s timeout",
                kind.word()
            ),
        );
        let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_secs(timeout as u64));
        for _ in 0..iterations {
            match wait_for(chan, kind, required as u64, deadline).await {
                Ok(true) => {}
                Ok(false) => {
                    chan.set_var("WAITSTATUS", "TIMEOUT");
                    return Ok(());
                }
                Err(Hangup) => {
                    chan.set_var("WAITSTATUS", "HANGUP");
                    return Err(Hangup);
                }
            }
        }
        Ok(())
    }
}

/// One iteration: `true` when `required` ms were heard, `false` at the deadline.
async fn wait_for(
    chan: &mut Channel,
    kind: Kind,
    required: u64,
    deadline: Option<Instant>,
) -> Result<bool, Hangup> {
    let mut det = SilenceDetector::new(SILENCE_THRESHOLD);
    let wait = Duration::from_millis(required.max(1));
    loop {
        let max = match deadline {
            Some(d) => wait.min(d.saturating_duration_since(Instant::now())),
            None => wait,
        };
        match chan.read_frame(Some(max)).await? {
            Some(Frame::Voice(v)) => {
                det.feed(&v);
            }
            Some(Frame::Dtmf(..)) => {}
            // No audio for the whole wait: digital silence, or a muted channel.
            None if max == wait && kind == Kind::Silence => det.add_silence_ms(required),
            None => {}
        }
        let heard = match kind {
            Kind::Silence => det.silence_ms(),
            Kind::Noise => det.noise_ms(),
        };
        if heard >= required {
            chan.pbx.verbose_line(
                3,
                &format!(
                    "Exiting with {heard}ms of {} >= {required}ms required",
                    kind.word()
                ),
            );
            chan.set_var(
                "WAITSTATUS",
                match kind {
                    Kind::Silence => "SILENCE",
                    Kind::Noise => "NOISE",
                },
            );
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
    }
}

struct BackgroundDetect;

#[async_trait]
impl App for BackgroundDetect {
    fn name(&self) -> &'static str {
        "BackgroundDetect"
    }
    fn synopsis(&self) -> &'static str {
        "Background a file with talk detect."
    }
    fn syntax(&self) -> &'static str {
        "BackgroundDetect(filename[,sil[,min[,max[,analysistime]]]])"
    }
    fn description(&self) -> &'static str {
        "Plays back filename, waiting for interruption from a given digit (the digit must start the beginning of a valid extension, or it will be ignored; the caller then dials the extension as with BackGround). During the playback of the file, audio is monitored in the receive direction, and if a period of non-silence which is greater than min ms (default 100) yet less than max ms (default infinity) is followed by silence for at least sil ms (default 1000), which occurs during the first analysistime ms (default infinity), then the audio playback is aborted and processing jumps to the talk extension, if available, with TALK_DETECTED set to the talk's length in ms."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let file = args::nth(&a, 0).trim().to_string();
        if file.is_empty() {
            chan.pbx
                .warning("app_talkdetect.c: BackgroundDetect requires an argument (filename)");
            return Err(Hangup);
        }
        let positive = |i: usize| {
            args::nth(&a, i)
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| n as u64)
        };
        let mut talk = TalkDetector::new(
            positive(1).unwrap_or(1000),
            positive(2).unwrap_or(100),
            positive(3),
            positive(4),
        );
        if !chan.is_up() {
            chan.answer();
        }
        let lang = chan.language.clone();
        let Some(mut prompt) = load_prompt(chan, &file, &lang).await else {
            chan.pbx.warning(&format!(
                "app_talkdetect.c: ast_streamfile failed on {} for {data}",
                chan.name()
            ));
            return Ok(());
        };
        let context = chan.context.clone();
        while let Some(out) = prompt.next_frame().await {
            while let Some(f) = chan.media.as_ref().and_then(|m| m.from_far.try_pop()) {
                match f {
                    Frame::Dtmf(d, _) => {
                        let s = d.to_string();
                        if exten_exists(chan, &context, &s) || exten_can_grow(chan, &context, &s) {
                            return waitexten::dial_extension(chan, d).await;
                        }
                    }
                    Frame::Voice(v) => {
                        if let Some(ms) = talk.feed(&v) {
                            chan.pbx.verbose_line(
                                3,
                                &format!("BackgroundDetect: Talk detected on {}", chan.name()),
                            );
                            chan.set_var("TALK_DETECTED", &ms.to_string());
                            if exten_exists(chan, &context, "talk") {
                                chan.goto(&context, "talk", 1);
                            }
                            return Ok(());
                        }
                    }
                }
            }
            chan.write_frame(out).await?;
        }
        Ok(())
    }
}
