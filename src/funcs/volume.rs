//! `VOLUME()` (func_volume.so): the gain of what a channel hears (TX) and of what it says
//! (RX), applied to its frames as they are queued (a frame hook on each direction), with
//! `p`: `*` and `#` from the caller raise and lower both gains by one. Only a channel with
//! media is changed; the gains live in the channel's datastore and go away with it.

use super::strings::{func, meta};
use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::media::{Frame, FrameHook};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("func_volume.so", "Technology independent volume control"),
    register: register_func_volume,
}];

fn register_func_volume(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Volume));
}

/// The channel datastore's name.
const DATASTORE: &str = "volume";

/// Hook ids for the frame queues (one pair per channel that sets VOLUME).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Put `rx` on what the channel says (its frames from the far end) and `tx` on what it
/// hears (its frames to the far end), as a manipulating audiohook of each direction.
/// Nothing happens on a channel without media.
pub(crate) fn add_hooks(chan: &Channel, rx: FrameHook, tx: FrameHook) {
    if let Some(m) = &chan.media {
        let id = next_hook_id();
        m.from_far.add_hook(id, rx);
        m.to_far.add_hook(id, tx);
    }
}

/// A fresh id for hooks and taps on a channel's frame queues (shared by every module
/// that adds them, so removing one never removes another's).
pub(crate) fn next_hook_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A gain as Asterisk applies it: above 0 multiplies, below 0 divides by its size,
/// saturating at the 16-bit range and truncating toward zero; 0 changes nothing.
pub fn adjust(samples: &mut [i16], gain: f32) {
    if gain == 0.0 {
        return;
    }
    let g = gain.abs();
    for s in samples.iter_mut() {
        let v = if gain > 0.0 {
            *s as f32 * g
        } else {
            *s as f32 / g
        };
        *s = v.clamp(i16::MIN as f32, i16::MAX as f32) as i16;
    }
}

/// One channel's gains.
#[derive(Default)]
struct Gains {
    tx: AtomicU32,
    rx: AtomicU32,
    /// `p`: `*`/`#` from the caller change both gains.
    dtmf: AtomicBool,
    /// The hooks are on the channel's media queues.
    hooked: AtomicBool,
}

impl Gains {
    fn get(a: &AtomicU32) -> f32 {
        f32::from_bits(a.load(Ordering::Relaxed))
    }
    fn set(a: &AtomicU32, v: f32) {
        a.store(v.to_bits(), Ordering::Relaxed);
    }
    fn add(&self, d: f32) {
        Gains::set(&self.tx, Gains::get(&self.tx) + d);
        Gains::set(&self.rx, Gains::get(&self.rx) + d);
    }
}

/// The hook for one direction: `rx` is the caller's side (where its keys come from).
fn hook(g: Arc<Gains>, rx: bool) -> FrameHook {
    Arc::new(move |f: Frame| match f {
        Frame::Voice(a) => {
            let gain = Gains::get(if rx { &g.rx } else { &g.tx });
            if gain == 0.0 {
                return Frame::Voice(a);
            }
            let mut v = a.to_vec();
            adjust(&mut v, gain);
            Frame::voice(v)
        }
        Frame::Dtmf(d, len) => {
            if rx && g.dtmf.load(Ordering::Relaxed) {
                match d {
                    '*' => g.add(1.0),
                    '#' => g.add(-1.0),
                    _ => {}
                }
            }
            Frame::Dtmf(d, len)
        }
    })
}

func!(
    Volume,
    "VOLUME",
    "Set or get the TX or RX volume of a channel.",
    "VOLUME(direction[,options])",
    "The VOLUME function can be used to increase or decrease the tx or rx gain of any \
     channel. direction must be TX (what the channel hears) or RX (what it says). A \
     positive value multiplies the audio by that much, a negative one divides it, 0 \
     resets it: Set(VOLUME(TX)=3), Set(VOLUME(RX)=-4), Set(VOLUME(RX)=0). Option p: \
     enable DTMF volume control (* raises, # lowers both gains by one). Reading gives the \
     gain set (as %f); reading before any was set is an error."
);

impl Func for Volume {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        // Nothing set yet: Asterisk's read fails quietly (an empty value).
        let Some(g) = chan.datastores.get::<Arc<Gains>>(DATASTORE) else {
            return Ok(String::new());
        };
        match args::nth(&parts, 0).trim().to_ascii_lowercase().as_str() {
            "" => {
                chan.pbx
                    .error("func_volume.c: Direction must be specified for VOLUME function");
                Ok(String::new())
            }
            "tx" => Ok(format!("{:.6}", Gains::get(&g.tx))),
            "rx" => Ok(format!("{:.6}", Gains::get(&g.rx))),
            _ => {
                chan.pbx
                    .error("func_volume.c: Direction must be either RX or TX");
                Ok(String::new())
            }
        }
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        if chan.datastores.get::<Arc<Gains>>(DATASTORE).is_none() {
            chan.datastores
                .insert(DATASTORE, Arc::new(Gains::default()));
        }
        let Some(g) = chan.datastores.get::<Arc<Gains>>(DATASTORE).cloned() else {
            return Ok(());
        };
        let gain = atof(value);
        match args::nth(&parts, 0).trim().to_ascii_lowercase().as_str() {
            "" => {
                chan.pbx
                    .error("func_volume.c: Direction must be specified for VOLUME function");
                return Ok(());
            }
            "tx" => Gains::set(&g.tx, gain),
            "rx" => Gains::set(&g.rx, gain),
            _ => chan
                .pbx
                .error("func_volume.c: Direction must be either RX or TX"),
        }
        g.dtmf
            .store(args::nth(&parts, 1).contains('p'), Ordering::Relaxed);
        if chan.media.is_some() && !g.hooked.swap(true, Ordering::Relaxed) {
            add_hooks(chan, hook(g.clone(), true), hook(g, false));
        }
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

/// C's atof: the longest leading number (0 when there is none).
fn atof(s: &str) -> f32 {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    s[..end].parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::media::{MediaHandle, NativeFormat};

    #[test]
    fn gains_multiply_divide_and_saturate() {
        let mut v = vec![100, -100, 20000, -20000, 7];
        adjust(&mut v, 2.0);
        assert_eq!(v, [200, -200, 32767, -32768, 14]);
        let mut v = vec![100, -100, 7];
        adjust(&mut v, -4.0);
        assert_eq!(v, [25, -25, 1]);
        let mut v = vec![5];
        adjust(&mut v, 0.0);
        assert_eq!(v, [5]);
        assert_eq!(atof("3"), 3.0);
        assert_eq!(atof(" -4.5x"), -4.5);
        assert_eq!(atof("x"), 0.0);
    }

    #[test]
    fn volume_changes_both_directions_and_dtmf_steps_it() {
        let mut chan = crate::testutil::test_channel();
        let pbx = chan.pbx.clone();
        let m = MediaHandle::new(NativeFormat::Ulaw);
        chan.media = Some(m.clone());
        let f = pbx.funcs.get("VOLUME").expect("VOLUME");
        assert_eq!(
            f.read(&mut chan, "TX").as_deref(),
            Ok(""),
            "nothing set yet"
        );
        f.write(&mut chan, "TX", "3").expect("write");
        f.write(&mut chan, "RX,p", "-2").expect("write");
        assert_eq!(f.read(&mut chan, "TX").as_deref(), Ok("3.000000"));
        assert_eq!(f.read(&mut chan, "RX").as_deref(), Ok("-2.000000"));
        m.to_far.push_lossy(Frame::voice(vec![100; 4]));
        m.from_far.push_lossy(Frame::voice(vec![100; 4]));
        assert_eq!(m.to_far.try_pop(), Some(Frame::voice(vec![300; 4])));
        assert_eq!(m.from_far.try_pop(), Some(Frame::voice(vec![50; 4])));
        // p: * from the caller raises both gains by one, and the key still arrives.
        m.from_far
            .push_lossy(Frame::Dtmf('*', std::time::Duration::from_millis(100)));
        assert!(matches!(m.from_far.try_pop(), Some(Frame::Dtmf('*', _))));
        assert_eq!(f.read(&mut chan, "TX").as_deref(), Ok("4.000000"));
        assert_eq!(f.read(&mut chan, "RX").as_deref(), Ok("-1.000000"));
        // 0 resets.
        f.write(&mut chan, "TX", "0").expect("write");
        m.to_far.push_lossy(Frame::voice(vec![100; 4]));
        assert_eq!(m.to_far.try_pop(), Some(Frame::voice(vec![100; 4])));
    }
}
