//! `MUTEAUDIO()` (res_mutestream.so) and `SCRAMBLE()` (func_scramble.so): frame hooks on a
//! channel's media that replace its audio with silence, or invert its spectrum (every
//! other sample negated, as func_scramble does), in one or both directions. The settings
//! live in the channel's datastore; the hooks go away with the channel's media.

use super::strings::{func, meta};
use super::volume::add_hooks;
use super::{Func, FuncError};
use crate::pbx::media::{Frame, FrameHook};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("res_mutestream.so", "Mute audio stream resources"),
        register: register_res_mutestream,
    },
    Family {
        info: ModuleInfo::new("func_scramble.so", "Frequency inverting voice scrambler"),
        register: register_func_scramble,
    },
];

fn register_res_mutestream(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(MuteAudio));
}

fn register_func_scramble(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Scramble));
}

/// Which directions a hook acts on; `rx` is what the channel says, `tx` what it hears.
#[derive(Default)]
struct Directions {
    rx: AtomicBool,
    tx: AtomicBool,
}

/// A channel's hook state under `name`, installing the hooks (`change` on voice frames of
/// the enabled directions) the first time.
fn directions(chan: &mut Channel, name: &str, change: fn(&mut [i16])) -> Arc<Directions> {
    if let Some(d) = chan.datastores.get::<Arc<Directions>>(name) {
        return d.clone();
    }
    let d = Arc::new(Directions::default());
    chan.datastores.insert(name, d.clone());
    let hook = |rx: bool| -> FrameHook {
        let d = d.clone();
        Arc::new(move |f: Frame| match f {
            Frame::Voice(a) if (if rx { &d.rx } else { &d.tx }).load(Ordering::Relaxed) => {
                let mut v = a.to_vec();
                change(&mut v);
                Frame::voice(v)
            }
            f => f,
        })
    };
    add_hooks(chan, hook(true), hook(false));
    d
}

/// func_scramble's whole-spectrum inversion: every other sample, from the first, negated.
pub fn invert(samples: &mut [i16]) {
    for s in samples.iter_mut().step_by(2) {
        *s = s.saturating_neg();
    }
}

fn silence(samples: &mut [i16]) {
    samples.fill(0);
}

func!(
    MuteAudio,
    "MUTEAUDIO",
    "Muting audio streams in the channel",
    "MUTEAUDIO(direction)",
    "The MUTEAUDIO function can be used to mute inbound (to the PBX) or outbound audio in \
     a call. direction: in (the audio the channel sends to the PBX), out (the audio the PBX \
     sends it) or all. Set(MUTEAUDIO(in)=on) mutes, Set(MUTEAUDIO(in)=off) unmutes. Muted \
     audio is replaced with silence."
);

impl Func for MuteAudio {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let (rx, tx) = match a.trim().to_ascii_lowercase().as_str() {
            "in" => (true, false),
            "out" => (false, true),
            "all" => (true, true),
            _ => {
                return Err(FuncError::Usage(format!(
                    "Invalid direction '{}': in, out or all",
                    a.trim()
                )))
            }
        };
        let on = crate::config::is_true(value.trim());
        let d = directions(chan, "mutestream", silence);
        if rx {
            d.rx.store(on, Ordering::Relaxed);
        }
        if tx {
            d.tx.store(on, Ordering::Relaxed);
        }
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

func!(
    Scramble,
    "SCRAMBLE",
    "Scrambles audio on a channel.",
    "SCRAMBLE([direction])",
    "Scrambles audio on a channel using whole spectrum inversion. This is not intended to \
     be used for securely scrambling audio. It merely obfuscates audio on a channel to \
     render it unintelligible, as a privacy enhancement. The value written is the \
     direction: TX (what the channel hears), RX (what it says), both, or remove to remove \
     an existing scrambler: Set(SCRAMBLE()=both)."
);

impl Func for Scramble {
    meta!();
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, _a: &str, value: &str) -> Result<(), FuncError> {
        let (rx, tx) = match value.trim().to_ascii_lowercase().as_str() {
            "remove" => (false, false),
            "tx" => (false, true),
            "rx" => (true, false),
            "both" => (true, true),
            _ => {
                chan.pbx
                    .error("func_scramble.c: Direction must be either RX, TX, both, or remove");
                return Ok(());
            }
        };
        let d = directions(chan, "scramble", invert);
        d.rx.store(rx, Ordering::Relaxed);
        d.tx.store(tx, Ordering::Relaxed);
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::media::{MediaHandle, NativeFormat, FRAME_SAMPLES};

    fn frame(v: i16) -> Frame {
        Frame::voice(vec![v; FRAME_SAMPLES])
    }

    fn chan() -> (Channel, MediaHandle) {
        let mut chan = crate::testutil::test_channel();
        let m = MediaHandle::new(NativeFormat::Ulaw);
        chan.media = Some(m.clone());
        (chan, m)
    }

    fn through(q: &crate::pbx::media::FrameQueue, f: Frame) -> Frame {
        q.push_lossy(f);
        q.try_pop().expect("frame")
    }

    #[test]
    fn inversion_negates_every_other_sample() {
        let mut v = vec![100, 100, -5, -5, i16::MIN];
        invert(&mut v);
        assert_eq!(v, [-100, 100, 5, -5, i16::MAX]);
    }

    #[test]
    fn muteaudio_silences_the_chosen_direction() {
        let (mut chan, m) = chan();
        let f = chan.pbx.funcs.get("MUTEAUDIO").expect("MUTEAUDIO");
        f.write(&mut chan, "in", "on").expect("write");
        assert_eq!(through(&m.from_far, frame(7)), frame(0));
        assert_eq!(through(&m.to_far, frame(7)), frame(7));
        f.write(&mut chan, "all", "on").expect("write");
        assert_eq!(through(&m.to_far, frame(7)), frame(0));
        f.write(&mut chan, "in", "off").expect("write");
        assert_eq!(through(&m.from_far, frame(7)), frame(7));
        assert!(f.write(&mut chan, "sideways", "on").is_err());
        // Digits pass untouched.
        let key = Frame::Dtmf('5', std::time::Duration::from_millis(80));
        assert_eq!(through(&m.to_far, key.clone()), key);
    }

    #[test]
    fn scramble_directions_and_remove() {
        let (mut chan, m) = chan();
        let f = chan.pbx.funcs.get("SCRAMBLE").expect("SCRAMBLE");
        let mut inverted = vec![9; FRAME_SAMPLES];
        invert(&mut inverted);
        f.write(&mut chan, "", "TX").expect("write");
        assert_eq!(through(&m.to_far, frame(9)), Frame::voice(inverted.clone()));
        assert_eq!(through(&m.from_far, frame(9)), frame(9));
        f.write(&mut chan, "", "both").expect("write");
        assert_eq!(through(&m.from_far, frame(9)), Frame::voice(inverted));
        f.write(&mut chan, "", "remove").expect("write");
        assert_eq!(through(&m.to_far, frame(9)), frame(9));
        assert_eq!(through(&m.from_far, frame(9)), frame(9));
    }
}
