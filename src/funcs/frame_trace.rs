//! `FRAME_TRACE(filter list type)` (func_frame_trace.so): print the frames read and written
//! on a channel, in Asterisk's shape (`<--Read on Channel …` / `--> Write on Channel …`,
//! then `FrameType: …` lines), filtered by a white or black list of frame types. A frame
//! hook on each direction of the channel's media; a new trace replaces the previous one.
//!
//! ferrisk's channel frames are linear voice and DTMF (delivered when the key is released:
//! Asterisk's DTMF_END); the other frame types never pass, so they are accepted in the list
//! and never printed.

use super::volume::next_hook_id;
use super::{Func, FuncError};
use crate::pbx::media::{Frame, FrameHook};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{Channel, Pbx};
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "func_frame_trace.so",
        "Frame Trace for internal ast_frame debugging.",
    ),
    register: |ctx: &ModuleContext| ctx.register_func(Arc::new(FrameTrace)),
}];

/// The channel datastore holding the current trace's hook id.
const DATASTORE: &str = "frame_trace";

/// Which frames a trace shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    black: bool,
    /// Frame type names listed (Asterisk matches them as substrings of the value).
    listed: Vec<&'static str>,
}

const TYPES: [&str; 13] = [
    "DTMF_BEGIN",
    "DTMF_END",
    "VOICE",
    "VIDEO",
    "CONTROL",
    "NULL",
    "IAX",
    "TEXT",
    "TEXT_DATA",
    "IMAGE",
    "HTML",
    "CNG",
    "MODEM",
];

impl Filter {
    /// `FRAME_TRACE(type)=list`: `black` makes a black list, anything else a white list.
    /// An empty white list shows everything (no arguments at all: all frames).
    pub fn parse(kind: &str, value: &str) -> Filter {
        let v = value.to_ascii_uppercase();
        Filter {
            black: kind.trim().eq_ignore_ascii_case("black"),
            listed: TYPES.iter().copied().filter(|t| v.contains(t)).collect(),
        }
    }

    pub fn shows(&self, frame_type: &str) -> bool {
        if !self.black && self.listed.is_empty() {
            return true;
        }
        self.listed.contains(&frame_type) != self.black
    }
}

/// The lines Asterisk prints for `f` (after the direction line).
pub fn describe(f: &Frame) -> (&'static str, Vec<String>) {
    match f {
        Frame::Voice(a) => {
            let n = a.len();
            (
                "VOICE",
                vec![
                    "FrameType: VOICE".into(),
                    "Codec: slin".into(),
                    format!("MS: {}", n / 8),
                    format!("Samples: {n}"),
                    format!("Bytes: {}", n * 2),
                ],
            )
        }
        Frame::Dtmf(d, _) => (
            "DTMF_END",
            vec![
                "FrameType: DTMF END".into(),
                format!("Digit: 0x{:02X} '{d}'", u32::from(*d)),
            ],
        ),
    }
}

fn tracer(pbx: Arc<Pbx>, chan: String, read: bool, filter: Arc<Filter>) -> FrameHook {
    Arc::new(move |f: Frame| {
        let (kind, lines) = describe(&f);
        if filter.shows(kind) {
            let dir = if read { "<--Read" } else { "--> Write" };
            pbx.emit(0, format!("{dir} on Channel {chan}"));
            for l in lines {
                pbx.emit(0, l);
            }
        }
        f
    })
}

pub struct FrameTrace;

impl Func for FrameTrace {
    fn name(&self) -> &'static str {
        "FRAME_TRACE"
    }
    fn synopsis(&self) -> &'static str {
        "View internal ast_frames as they are read and written on a channel."
    }
    fn syntax(&self) -> &'static str {
        "FRAME_TRACE(filter list type)"
    }
    fn description(&self) -> &'static str {
        "A filter can be applied to the trace to limit what frames are viewed. This filter can either be a white or black list of frame types. When no filter type is present, white is used. If no arguments are provided at all, all frames will be output. Frame types: DTMF_BEGIN, DTMF_END, VOICE, VIDEO, CONTROL, NULL, IAX, TEXT, TEXT_DATA, IMAGE, HTML, CNG, MODEM (ferrisk channels carry VOICE and DTMF_END). Examples: Set(FRAME_TRACE(white)=DTMF_BEGIN,DTMF_END) views only DTMF frames; Set(FRAME_TRACE(black)=DTMF_BEGIN,DTMF_END) views everything except DTMF frames."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let Some(m) = chan.media.clone() else {
            return Ok(());
        };
        if let Some(old) = chan.datastores.get::<u64>(DATASTORE).copied() {
            m.from_far.remove_hook(old);
            m.to_far.remove_hook(old);
        }
        let filter = Arc::new(Filter::parse(a, value));
        let id = next_hook_id();
        let name = chan.name().to_string();
        m.from_far.add_hook(
            id,
            tracer(chan.pbx.clone(), name.clone(), true, filter.clone()),
        );
        m.to_far
            .add_hook(id, tracer(chan.pbx.clone(), name, false, filter));
        chan.datastores.insert(DATASTORE, id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn white_black_and_empty_lists() {
        let all = Filter::parse("", "");
        assert!(all.shows("VOICE") && all.shows("DTMF_END"));
        let dtmf = Filter::parse("white", "DTMF_BEGIN,DTMF_END");
        assert!(dtmf.shows("DTMF_END") && !dtmf.shows("VOICE"));
        let no_dtmf = Filter::parse("black", "dtmf_begin,dtmf_end");
        assert!(!no_dtmf.shows("DTMF_END") && no_dtmf.shows("VOICE"));
    }

    #[test]
    fn frames_are_described_as_asterisk_prints_them() {
        let (k, l) = describe(&Frame::Dtmf('5', Duration::from_millis(100)));
        assert_eq!(k, "DTMF_END");
        assert_eq!(l, ["FrameType: DTMF END", "Digit: 0x35 '5'"]);
        let (k, l) = describe(&Frame::voice(vec![0; 160]));
        assert_eq!(k, "VOICE");
        assert_eq!(l[2..], ["MS: 20", "Samples: 160", "Bytes: 320"]);
    }
}
