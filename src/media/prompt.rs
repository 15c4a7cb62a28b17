//! A prompt being played: a cursor, never a copy.
//!
//! A sound file is decoded once into 8 kHz linear samples, encoded once for each codec (a
//! [`Clip`]), and kept in one process-wide cache shared by every call that plays it: 2,000
//! calls looping the same prompt hold one copy of its audio and 2,000 [`Prompt`] cursors,
//! and their frames are slices of it ([`Audio::shared`]) that the RTP sender sends as they
//! are, with no copy and no encoding per call. The cache counts bytes: at most
//! [`CACHE_BUDGET`] of decoded audio is kept, the least recently used files leave first (a
//! call still playing an evicted file keeps its copy until it finishes). A file's cache
//! entry is tied to its modification time, size and inode, so an edited or replaced file
//! is read again. Files larger than [`STREAM_ABOVE`] bytes (long recordings, voicemail
//! messages) are not cached: they are streamed from disk through a window of
//! [`WINDOW_SAMPLES`], each window read on the blocking pool.
//!
//! Frames are cut as they are sent ([`Prompt::next_frame`]); the last one is padded with
//! silence.

use super::frame::{Audio, Clip, Frame, FRAME_SAMPLES};
use super::sounds::SoundFormat;
use super::wav::{self, Layout, WavError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

/// Decoded and encoded audio kept in the cache, in bytes (32 MiB: about 17 minutes of
/// prompts at 32 KiB a second: linear, µ-law and A-law).
pub const CACHE_BUDGET: usize = 32 << 20;
/// Files larger than this (1 MiB: two minutes of µ-law, one of 16-bit WAV) are streamed.
pub const STREAM_ABOVE: u64 = 1 << 20;
/// Samples read from disk at a time when streaming (1 s, 16 KiB).
pub const WINDOW_SAMPLES: usize = 8000;

/// Audio a call plays, and how far it got.
#[derive(Debug)]
pub struct Prompt {
    src: Source,
    /// The next sample to send.
    pos: usize,
    /// Samples in all.
    len: usize,
}

#[derive(Debug)]
enum Source {
    /// Decoded audio, shared with every other call playing it.
    Shared(Arc<Clip>),
    /// A large file read a window at a time.
    Disk(Box<Disk>),
}

#[derive(Debug)]
struct Disk {
    /// `None` while a read is under way on the blocking pool (or after a read failed).
    file: Option<File>,
    layout: Layout,
    window: Vec<i16>,
    /// The sample index `window[0]` holds.
    window_start: usize,
}

impl Prompt {
    /// Play samples made at run time (a TTS waveform; encodes them: call it on the
    /// blocking pool for anything long).
    pub fn from_samples(samples: Vec<i16>) -> Prompt {
        Self::from_clip(Arc::new(Clip::new(samples)))
    }

    fn from_clip(clip: Arc<Clip>) -> Prompt {
        let len = clip.len();
        Prompt {
            src: Source::Shared(clip),
            pos: 0,
            len,
        }
    }

    /// Open a found sound file: from the cache (decoding it on first use), or streamed when
    /// it is larger than [`STREAM_ABOVE`]. Touches the disk: call it on the blocking pool.
    pub fn open(path: &Path, format: SoundFormat) -> Result<Prompt, WavError> {
        let md = std::fs::metadata(path)?;
        if md.len() > STREAM_ABOVE {
            return Self::stream(path, format);
        }
        let stamp = (
            md.modified().ok(),
            md.len(),
            std::os::unix::fs::MetadataExt::ino(&md),
        );
        Ok(Self::from_clip(cached(path, format, stamp)?))
    }

    /// Stream `path` from disk (see [`Prompt::open`]).
    fn stream(path: &Path, format: SoundFormat) -> Result<Prompt, WavError> {
        let mut file = File::open(path)?;
        let layout = match format {
            SoundFormat::Wav => wav::wav_layout(&mut file)?,
            SoundFormat::Raw(e) => wav::raw_layout(e, file.metadata()?.len()),
        };
        Ok(Prompt {
            len: usize::try_from(layout.samples).unwrap_or(usize::MAX),
            src: Source::Disk(Box::new(Disk {
                file: Some(file),
                layout,
                window: Vec::new(),
                window_start: 0,
            })),
            pos: 0,
        })
    }

    /// Whether the audio is shared through the cache (not streamed).
    pub fn is_shared(&self) -> bool {
        matches!(self.src, Source::Shared(_))
    }

    /// How many 20 ms frames the prompt has.
    pub fn frames(&self) -> usize {
        self.len.div_ceil(FRAME_SAMPLES)
    }

    /// The frame [`Prompt::next_frame`] gives next.
    pub fn frame_index(&self) -> usize {
        self.pos / FRAME_SAMPLES
    }

    /// Continue at frame `i` (past the end: nothing more to play).
    pub fn seek_frame(&mut self, i: usize) {
        self.pos = i.saturating_mul(FRAME_SAMPLES).min(self.len);
    }

    /// The next 20 ms, or `None` at the end (or when a streamed file cannot be read any
    /// more).
    pub async fn next_frame(&mut self) -> Option<Frame> {
        if self.pos >= self.len {
            return None;
        }
        let end = (self.pos + FRAME_SAMPLES).min(self.len);
        let mut v = Vec::with_capacity(FRAME_SAMPLES);
        match &mut self.src {
            Source::Shared(c) => {
                if let Some(a) = Audio::shared(c, self.pos) {
                    self.pos = end;
                    return Some(Frame::Voice(a));
                }
                // The last, short frame: padded below.
                v.extend_from_slice(c.samples().get(self.pos..end)?)
            }
            Source::Disk(d) => {
                while v.len() < end - self.pos {
                    let at = self.pos + v.len();
                    if !(d.window_start..d.window_start + d.window.len()).contains(&at) {
                        d.fill(at).await?;
                    }
                    let from = at - d.window_start;
                    let take = (end - at).min(d.window.len() - from);
                    v.extend_from_slice(&d.window[from..from + take]);
                }
            }
        }
        self.pos = end;
        v.resize(FRAME_SAMPLES, 0);
        Some(Frame::voice(v))
    }
}

impl Disk {
    /// Read the window starting at sample `at`, on the blocking pool. `None` when the file
    /// cannot be read (it is then given up).
    async fn fill(&mut self, at: usize) -> Option<()> {
        let mut file = self.file.take()?;
        let layout = self.layout;
        let mut buf = std::mem::take(&mut self.window);
        let (file, buf) = tokio::task::spawn_blocking(move || {
            let want = WINDOW_SAMPLES.min(layout.samples.saturating_sub(at as u64) as usize);
            let mut bytes = vec![0u8; want * layout.encoding.width() as usize];
            let at_byte = layout.offset + at as u64 * layout.encoding.width();
            let read = file
                .seek(SeekFrom::Start(at_byte))
                .and_then(|_| file.read_exact(&mut bytes));
            buf.clear();
            match read {
                Ok(()) => {
                    buf.extend(layout.encoding.decode_bytes(&bytes));
                    (Some(file), buf)
                }
                Err(_) => (None, buf),
            }
        })
        .await
        .ok()?;
        self.file = file;
        self.window = buf;
        self.window_start = at;
        (self.file.is_some() && !self.window.is_empty()).then_some(())
    }
}

/// What identifies a file's version: modification time, size and inode (voicemail renames
/// messages into each other's names, so the time alone is not enough).
type Stamp = (Option<SystemTime>, u64, u64);

/// One cached file. The map lock is not held while it is decoded: concurrent first plays
/// of the same file wait for one decode ([`OnceLock`]) instead of each decoding it.
#[derive(Debug)]
struct Slot {
    stamp: Stamp,
    audio: OnceLock<Result<Arc<Clip>, String>>,
    /// Whether its bytes were added to [`Cache::bytes`].
    counted: AtomicBool,
    /// [`Cache::clock`] at its last use (least recently used leaves first).
    used: AtomicU64,
}

impl Slot {
    fn bytes(&self) -> usize {
        match self.audio.get() {
            Some(Ok(a)) => a.bytes(),
            _ => 0,
        }
    }
}

#[derive(Debug, Default)]
struct Cache {
    slots: HashMap<PathBuf, Arc<Slot>>,
    /// Bytes (decoded and encoded) of the counted slots.
    bytes: usize,
    clock: u64,
}

impl Cache {
    fn remove(&mut self, path: &Path) {
        if let Some(old) = self.slots.remove(path) {
            if old.counted.load(Ordering::Relaxed) {
                self.bytes -= old.bytes();
            }
        }
    }

    /// Drop least recently used slots until the budget holds, sparing `keep`.
    fn evict(&mut self, keep: &Path) {
        while self.bytes > CACHE_BUDGET {
            let victim = self
                .slots
                .iter()
                .filter(|(p, s)| p.as_path() != keep && s.counted.load(Ordering::Relaxed))
                .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed))
                .map(|(p, _)| p.clone());
            match victim {
                Some(p) => self.remove(&p),
                None => break,
            }
        }
    }
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The audio of `path` at version `stamp`, decoding and encoding it on first use.
fn cached(path: &Path, format: SoundFormat, stamp: Stamp) -> Result<Arc<Clip>, WavError> {
    let slot = {
        let mut c = cache().lock();
        c.clock += 1;
        let now = c.clock;
        let slot = match c.slots.get(path) {
            Some(s) if s.stamp == stamp && stamp.0.is_some() => s.clone(),
            _ => {
                c.remove(path);
                let s = Arc::new(Slot {
                    stamp,
                    audio: OnceLock::new(),
                    counted: AtomicBool::new(false),
                    used: AtomicU64::new(0),
                });
                c.slots.insert(path.to_path_buf(), s.clone());
                s
            }
        };
        slot.used.store(now, Ordering::Relaxed);
        slot
    };
    let audio = slot.audio.get_or_init(|| {
        super::sounds::load(path, format)
            .map(|s| Arc::new(Clip::new(s)))
            .map_err(|e| e.to_string())
    });
    let mut c = cache().lock();
    let ours = c.slots.get(path).is_some_and(|s| Arc::ptr_eq(s, &slot));
    match audio {
        Ok(a) => {
            if ours && !slot.counted.swap(true, Ordering::Relaxed) {
                c.bytes += slot.bytes();
                c.evict(path);
            }
            Ok(a.clone())
        }
        Err(e) => {
            // Not kept: the next play reads the file again.
            if ours {
                c.remove(path);
            }
            Err(WavError::Io(std::io::Error::other(e.clone())))
        }
    }
}

/// Bytes held by the cache and the number of files (`core show sounds cache`-like
/// figures for tests and benchmarks).
pub fn cache_usage() -> (usize, usize) {
    let c = cache().lock();
    (c.bytes, c.slots.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::frame::NativeFormat;
    use crate::media::wav::Encoding;

    fn frames_of(p: &mut Prompt) -> Vec<Vec<i16>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut v = Vec::new();
            while let Some(Frame::Voice(f)) = p.next_frame().await {
                v.push(f.into_vec());
            }
            v
        })
    }

    #[test]
    fn whole_frames_are_slices_of_the_shared_clip() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut p = Prompt::from_samples(vec![500; 200]);
        rt.block_on(async {
            let Some(Frame::Voice(a)) = p.next_frame().await else {
                panic!("a frame")
            };
            let ulaw = crate::media::g711::ulaw_encode(&[500; 160]);
            assert_eq!(a.encoded(NativeFormat::Ulaw), Some(&ulaw[..]));
            let Some(Frame::Voice(tail)) = p.next_frame().await else {
                panic!("the tail")
            };
            assert_eq!(tail.encoded(NativeFormat::Ulaw), None, "padded: its own");
            assert_eq!((tail.len(), tail[39], tail[40]), (160, 500, 0));
        });
    }

    #[test]
    fn plays_pads_the_tail_and_seeks() {
        let mut p = Prompt::from_samples((0..400).map(|i| i as i16).collect());
        assert_eq!(p.frames(), 3);
        let f = frames_of(&mut p);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1][0], 160);
        assert_eq!(f[2][79], 399);
        assert_eq!(f[2][80], 0, "padded with silence");
        p.seek_frame(1);
        assert_eq!(p.frame_index(), 1);
        assert_eq!(frames_of(&mut p).len(), 2);
        p.seek_frame(99);
        assert!(frames_of(&mut p).is_empty());
    }

    #[test]
    fn one_decoded_copy_is_shared_and_a_changed_file_is_read_again() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("shared.sln");
        let bytes: Vec<u8> = (0..800i16).flat_map(|s| s.to_le_bytes()).collect();
        std::fs::write(&path, &bytes).unwrap();
        let fmt = SoundFormat::Raw(Encoding::Slin);
        let a = Prompt::open(&path, fmt).unwrap();
        let b = Prompt::open(&path, fmt).unwrap();
        match (&a.src, &b.src) {
            (Source::Shared(x), Source::Shared(y)) => assert!(Arc::ptr_eq(x, y)),
            other => panic!("{other:?}"),
        }
        // Replaced (another inode, another size): decoded again.
        let tmp = d.path().join("new.sln");
        std::fs::write(&tmp, &bytes[..800]).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let c = Prompt::open(&path, fmt).unwrap();
        assert_eq!(c.len, 400);
        assert_eq!(a.len, 800, "a call already playing keeps its audio");
    }

    #[test]
    fn large_files_stream_through_a_window() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("long.wav");
        let n = (STREAM_ABOVE / 2 + 12_345) as usize;
        let samples: Vec<i16> = (0..n).map(|i| (i % 30_000) as i16).collect();
        std::fs::write(&path, wav::wav_bytes(&samples)).unwrap();
        let mut p = Prompt::open(&path, SoundFormat::Wav).unwrap();
        assert!(!p.is_shared());
        assert_eq!(p.frames(), n.div_ceil(FRAME_SAMPLES));
        let got: Vec<i16> = frames_of(&mut p).concat();
        assert_eq!(&got[..n], &samples[..]);
        // Seeking back re-reads the window it needs.
        p.seek_frame(50);
        let again = frames_of(&mut p);
        assert_eq!(again[0][0], samples[50 * FRAME_SAMPLES]);
    }

    #[test]
    fn an_unreadable_file_is_an_error_and_not_kept() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("bad.wav");
        std::fs::write(&path, b"not a wave file at all").unwrap();
        assert!(Prompt::open(&path, SoundFormat::Wav).is_err());
        assert!(!cache().lock().slots.contains_key(&path));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used() {
        let mut c = Cache::default();
        let slot = |n: usize, used: u64| {
            let s = Slot {
                stamp: (None, 0, 0),
                audio: OnceLock::new(),
                counted: AtomicBool::new(true),
                used: AtomicU64::new(used),
            };
            s.audio.set(Ok(Arc::new(Clip::new(vec![0; n])))).unwrap();
            Arc::new(s)
        };
        // Samples: half the budget in bytes (2 linear, 1 µ-law, 1 A-law a sample).
        let half = CACHE_BUDGET / 8;
        c.slots.insert("old".into(), slot(half, 1));
        c.slots.insert("mid".into(), slot(half, 2));
        c.slots.insert("new".into(), slot(half, 3));
        c.bytes = 3 * half * 4;
        c.evict(Path::new("new"));
        assert!(!c.slots.contains_key(Path::new("old")));
        assert!(c.slots.contains_key(Path::new("mid")));
        assert_eq!(c.bytes, 2 * half * 4);
    }
}
