//! Media test applications: `Echo()` and `Milliwatt([o])` (app_echo, app_milliwatt).

use super::{App, AppResult};
use crate::media::g711;
use crate::pbx::media::{Frame, FRAME_SAMPLES};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("app_echo.so", "Simple Echo Application"),
        register: register_app_echo,
    },
    Family {
        info: ModuleInfo::new(
            "app_milliwatt.so",
            "Digital Milliwatt (mu-law) Test Application",
        ),
        register: register_app_milliwatt,
    },
];

fn register_app_echo(ctx: &ModuleContext) {
    super::more::register_streamecho(ctx);
    ctx.register_app(Arc::new(Echo));
}

fn register_app_milliwatt(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Milliwatt));
}

struct Echo;
#[async_trait]
impl App for Echo {
    fn name(&self) -> &'static str {
        "Echo"
    }
    fn synopsis(&self) -> &'static str {
        "Echo media, DTMF back to the calling party"
    }
    fn syntax(&self) -> &'static str {
        "Echo()"
    }
    fn description(&self) -> &'static str {
        "Echos back any media or DTMF frames read from the calling channel back to itself. \
         This will not echo CONTROL, MODEM, or NULL frames. Note: If '#' detected application exits."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        loop {
            match chan.read_frame(None).await? {
                Some(Frame::Dtmf('#', _)) => return Ok(()),
                Some(f) => chan.write_frame(f).await?,
                None => {}
            }
        }
    }
}

/// Peak amplitude of the 1004 Hz tone (Asterisk's `ast_playtones_start(chan, 23255, …)`).
pub const MILLIWATT_VOLUME: f64 = 23255.0;

/// The old digital milliwatt: 1000 Hz, 8 µ-law codes a cycle.
const DIGITAL_MILLIWATT: [u8; 8] = [0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e];

/// 20 ms of the 1004 Hz tone starting at sample `n`.
pub fn tone_frame(n: u64) -> Vec<i16> {
    (0..FRAME_SAMPLES as u64)
        .map(|i| {
            let t = (n + i) as f64 / 8000.0;
            (MILLIWATT_VOLUME * (2.0 * std::f64::consts::PI * 1004.0 * t).sin()) as i16
        })
        .collect()
}

/// 20 ms of the old digital milliwatt.
pub fn old_frame() -> Vec<i16> {
    (0..FRAME_SAMPLES)
        .map(|i| g711::ulaw_decode_one(DIGITAL_MILLIWATT[i % DIGITAL_MILLIWATT.len()]))
        .collect()
}

struct Milliwatt;
#[async_trait]
impl App for Milliwatt {
    fn name(&self) -> &'static str {
        "Milliwatt"
    }
    fn synopsis(&self) -> &'static str {
        "Generates a 1004 Hz test tone at 0dbm (mu-law)."
    }
    fn syntax(&self) -> &'static str {
        "Milliwatt([options])"
    }
    fn description(&self) -> &'static str {
        "Previous versions of this application generated the tone at 1000Hz.  If for some reason \
         you would prefer that behavior, supply the 'o' option to get the old behavior.\n\
         o - Generate the tone at 1000Hz like previous version."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let old = data.contains('o');
        if old {
            chan.answer();
        }
        let mut n = 0u64;
        loop {
            let f = if old { old_frame() } else { tone_frame(n) };
            n = (n + FRAME_SAMPLES as u64) % 8000;
            chan.write_frame(Frame::voice(f)).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_is_1004_hz_at_milliwatt_level() {
        // One second of tone: 1004 cycles → 2008 zero crossings, peak near 23255.
        let s: Vec<i16> = (0..50).flat_map(|k| tone_frame(k * 160)).collect();
        let crossings = s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((2000..=2016).contains(&crossings), "{crossings}");
        let peak = s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        assert!((23000..=23255).contains(&peak), "{peak}");
        // The old tone: a 1000 Hz cycle of 8 samples.
        let o = old_frame();
        assert_eq!(o[0], o[8]);
        assert!(o[0] != 0 && o[0] == -o[4]);
    }
}
