//! Sound files: RIFF WAV (8 kHz mono; 16-bit PCM, or 8-bit µ-law/A-law as sox writes them) and
//! Asterisk's headerless `.ulaw`, `.alaw` and `.sln` formats. Samples are returned as 16-bit
//! linear PCM.
//!
//! [`WavWriter`] writes 16-bit PCM recordings. Its header sizes are patched on
//! [`WavWriter::finalize`] (and, best effort, on drop); if the process dies mid-recording,
//! [`repair`] fixes the sizes of the truncated file so the audio up to that point is usable.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::g711;

/// Why a sound file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("not a RIFF/WAVE file")]
    NotWave,
    #[error("no fmt chunk before the data chunk")]
    NoFmt,
    #[error("no data chunk")]
    NoData,
    #[error("malformed {0} chunk")]
    BadChunk(String),
    #[error(
        "unsupported WAV format (tag {tag:#06x}, {channels} channels, {rate} Hz, {bits} bits)"
    )]
    Unsupported {
        tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
    },
}

const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_ALAW: u16 = 6;
const WAVE_FORMAT_MULAW: u16 = 7;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Sample rate of everything here.
pub const SAMPLE_RATE: u32 = 8000;

/// Sample encoding of a WAV data chunk or raw file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Signed 16-bit little-endian linear PCM (`.sln`).
    Slin,
    /// G.711 µ-law (`.ulaw`).
    Ulaw,
    /// G.711 A-law (`.alaw`).
    Alaw,
}

impl Encoding {
    /// Asterisk file extension → raw encoding (`ulaw`/`ul`/`pcm`/`mu`, `alaw`/`al`, `sln`/`slin`/`raw`).
    pub fn from_extension(ext: &str) -> Option<Encoding> {
        match ext.to_ascii_lowercase().as_str() {
            "ulaw" | "ul" | "mu" | "pcm" => Some(Encoding::Ulaw),
            "alaw" | "al" => Some(Encoding::Alaw),
            "sln" | "slin" | "raw" => Some(Encoding::Slin),
            _ => None,
        }
    }

    fn decode(self, bytes: &[u8]) -> Vec<i16> {
        match self {
            Encoding::Slin => bytes
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect(),
            Encoding::Ulaw => g711::ulaw_decode(bytes),
            Encoding::Alaw => g711::alaw_decode(bytes),
        }
    }
}

/// Decode headerless audio (a trailing odd byte of `.sln` is ignored).
pub fn decode_raw(bytes: &[u8], encoding: Encoding) -> Vec<i16> {
    encoding.decode(bytes)
}

/// Read a headerless `.ulaw`, `.alaw` or `.sln` file.
pub fn read_raw(path: &Path, encoding: Encoding) -> Result<Vec<i16>, WavError> {
    Ok(decode_raw(&std::fs::read(path)?, encoding))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Parse a WAV file's bytes into linear samples.
///
/// Unknown chunks (LIST, fact, …) are skipped, odd-sized chunks honour the RIFF pad byte, and a
/// data chunk whose declared size runs past the end (a truncated recording) yields what is there.
pub fn parse_wav(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut encoding = None;
    for (id, body, whole) in chunks(bytes) {
        if id == b"fmt " {
            if !whole {
                return Err(WavError::BadChunk("fmt".into()));
            }
            encoding = Some(parse_fmt(body)?);
        } else if id == b"data" {
            let enc = encoding.ok_or(WavError::NoFmt)?;
            return Ok(enc.decode(body));
        }
    }
    Err(WavError::NoData)
}

/// The chunks of a RIFF file after its header: (id, body, whether the body is whole). A
/// body running past the end (a truncated recording) is cut at the end; odd sizes honour
/// the pad byte.
fn chunks(bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], bool)> {
    let mut pos = 12usize;
    std::iter::from_fn(move || {
        if pos + 8 > bytes.len() {
            return None;
        }
        let id = &bytes[pos..pos + 4];
        let size = le32(bytes, pos + 4)? as usize;
        let body_start = pos + 8;
        let body_end = body_start.saturating_add(size);
        let body = &bytes[body_start..body_end.min(bytes.len())];
        pos = body_end.saturating_add(size & 1);
        Some((id, body, body_end <= bytes.len()))
    })
}

fn parse_fmt(body: &[u8]) -> Result<Encoding, WavError> {
    let bad = || WavError::BadChunk("fmt".into());
    let mut tag = le16(body, 0).ok_or_else(bad)?;
    let channels = le16(body, 2).ok_or_else(bad)?;
    let rate = le32(body, 4).ok_or_else(bad)?;
    let bits = le16(body, 14).ok_or_else(bad)?;
    if tag == WAVE_FORMAT_EXTENSIBLE {
        // The real format tag is the first two bytes of the sub-format GUID at offset 24.
        tag = le16(body, 24).ok_or_else(bad)?;
    }
    let unsupported = WavError::Unsupported {
        tag,
        channels,
        rate,
        bits,
    };
    if channels != 1 || rate != SAMPLE_RATE {
        return Err(unsupported);
    }
    match (tag, bits) {
        (WAVE_FORMAT_PCM, 16) => Ok(Encoding::Slin),
        (WAVE_FORMAT_MULAW, 8) => Ok(Encoding::Ulaw),
        (WAVE_FORMAT_ALAW, 8) => Ok(Encoding::Alaw),
        _ => Err(unsupported),
    }
}

/// A waveform made by another program (a TTS server), as 8 kHz linear samples: a WAV
/// file in any PCM rate and channel count (mixed down to mono, resampled linearly), or,
/// when it is no WAV, raw 16-bit 8 kHz samples in this machine's byte order (what
/// Asterisk's app_festival assumes).
pub fn decode_any(bytes: &[u8]) -> Vec<i16> {
    match parse_wav(bytes) {
        Ok(s) => s,
        Err(WavError::Unsupported {
            tag: WAVE_FORMAT_PCM,
            channels,
            rate,
            bits: 16,
        }) if channels > 0 && rate > 0 => match data_chunk(bytes) {
            Some(data) => {
                let frames: Vec<i16> = data
                    .chunks_exact(2 * channels as usize)
                    .map(|f| {
                        let sum: i32 = f
                            .chunks_exact(2)
                            .map(|c| i32::from(i16::from_le_bytes([c[0], c[1]])))
                            .sum();
                        (sum / i32::from(channels)) as i16
                    })
                    .collect();
                resample(&frames, rate, SAMPLE_RATE)
            }
            None => Vec::new(),
        },
        Err(WavError::NotWave) => bytes
            .chunks_exact(2)
            .map(|c| i16::from_ne_bytes([c[0], c[1]]))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The bytes of a WAV file's `data` chunk.
fn data_chunk(bytes: &[u8]) -> Option<&[u8]> {
    chunks(bytes)
        .find(|(id, _, _)| *id == b"data")
        .map(|(_, b, _)| b)
}

/// Linear-interpolation resampling from `from` Hz to `to` Hz.
pub fn resample(s: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || s.is_empty() {
        return s.to_vec();
    }
    let n = (s.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    (0..n)
        .map(|i| {
            let x = i as f64 * f64::from(from) / f64::from(to);
            let j = x as usize;
            let frac = x - j as f64;
            let a = f64::from(s[j.min(s.len() - 1)]);
            let b = f64::from(s[(j + 1).min(s.len() - 1)]);
            (a + (b - a) * frac).round() as i16
        })
        .collect()
}

/// Where a sound file's samples are: their encoding, the byte offset of the first one,
/// and how many there are. Read from the header alone, so a long file can be streamed
/// ([`crate::media::prompt`]) instead of read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub encoding: Encoding,
    pub offset: u64,
    pub samples: u64,
}

impl Encoding {
    /// Bytes per sample.
    pub fn width(self) -> u64 {
        match self {
            Encoding::Slin => 2,
            Encoding::Ulaw | Encoding::Alaw => 1,
        }
    }

    /// Decode whole samples (a trailing partial `.sln` sample is ignored).
    pub fn decode_bytes(self, bytes: &[u8]) -> Vec<i16> {
        self.decode(bytes)
    }
}

/// The [`Layout`] of a headerless file of `len` bytes.
pub fn raw_layout(encoding: Encoding, len: u64) -> Layout {
    Layout {
        encoding,
        offset: 0,
        samples: len / encoding.width(),
    }
}

/// The [`Layout`] of an open WAV file, walking its chunk headers (a data chunk declared
/// longer than the file, a truncated recording, ends at the end of the file).
pub fn wav_layout(f: &mut File) -> Result<Layout, WavError> {
    let len = f.metadata()?.len();
    let mut head = [0u8; 12];
    f.seek(SeekFrom::Start(0))?;
    if f.read_exact(&mut head).is_err() || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut pos = 12u64;
    let mut encoding = None;
    while pos + 8 <= len {
        let mut ch = [0u8; 8];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut ch)?;
        let size = u64::from(u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]));
        let body = pos + 8;
        if &ch[0..4] == b"fmt " {
            if body + size > len || size > 4096 {
                return Err(WavError::BadChunk("fmt".into()));
            }
            let mut b = vec![0u8; size as usize];
            f.read_exact(&mut b)?;
            encoding = Some(parse_fmt(&b)?);
        } else if &ch[0..4] == b"data" {
            let encoding = encoding.ok_or(WavError::NoFmt)?;
            let bytes = size.min(len - body);
            return Ok(Layout {
                encoding,
                offset: body,
                samples: bytes / encoding.width(),
            });
        }
        pos = body + size + (size & 1);
    }
    Err(WavError::NoData)
}

/// Read a WAV file into linear samples (see [`parse_wav`]).
pub fn read_wav(path: &Path) -> Result<Vec<i16>, WavError> {
    parse_wav(&std::fs::read(path)?)
}

const HEADER_LEN: u64 = 44;

fn header(data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&WAVE_FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

/// Serialize samples as a complete 8 kHz 16-bit mono WAV file.
pub fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2).min(u32::MAX as usize - 36) as u32;
    let mut out = header(data_len).to_vec();
    for s in samples.iter().take(data_len as usize / 2) {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// An 8 kHz 16-bit mono PCM WAV being recorded.
#[derive(Debug)]
pub struct WavWriter {
    file: Option<File>,
    data_bytes: u32,
}

impl WavWriter {
    /// Create (truncate) `path` and write a header with zero sizes.
    pub fn create(path: &Path) -> Result<WavWriter, WavError> {
        let mut file = File::create(path)?;
        file.write_all(&header(0))?;
        Ok(WavWriter {
            file: Some(file),
            data_bytes: 0,
        })
    }

    /// Open an existing WAV written by us (or repairable by [`repair`]) to append to it, like
    /// Record's `a` option. A missing file is created.
    pub fn append(path: &Path) -> Result<WavWriter, WavError> {
        if !path.exists() {
            return Self::create(path);
        }
        let data_bytes = repair(path)?;
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut head = [0u8; 44];
        file.read_exact(&mut head)?;
        if &head[36..40] != b"data" || parse_fmt(&head[20..36])? != Encoding::Slin {
            return Err(WavError::BadChunk(
                "append target is not a plain 16-bit PCM wav".into(),
            ));
        }
        file.seek(SeekFrom::Start(HEADER_LEN + data_bytes as u64))?;
        Ok(WavWriter {
            file: Some(file),
            data_bytes,
        })
    }

    /// Append samples (the header is not touched until [`WavWriter::finalize`]).
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer finalized"))?;
        let room = (u32::MAX - 36 - self.data_bytes) as usize / 2;
        let samples = &samples[..samples.len().min(room)];
        let mut buf = Vec::with_capacity(samples.len() * 2);
        for s in samples {
            buf.extend_from_slice(&s.to_le_bytes());
        }
        file.write_all(&buf)?;
        self.data_bytes += buf.len() as u32;
        Ok(())
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u32 {
        self.data_bytes / 2
    }

    /// Patch the header sizes so the file is valid now (recording may continue afterwards).
    pub fn flush_header(&mut self) -> Result<(), WavError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer finalized"))?;
        let pos = file.stream_position()?;
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&self.data_bytes.saturating_add(36).to_le_bytes())?;
        file.seek(SeekFrom::Start(40))?;
        file.write_all(&self.data_bytes.to_le_bytes())?;
        file.seek(SeekFrom::Start(pos))?;
        file.flush()?;
        Ok(())
    }

    /// Patch the header sizes, sync and close.
    pub fn finalize(mut self) -> Result<(), WavError> {
        self.flush_header()?;
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = self.flush_header();
        }
    }
}

/// Fix the RIFF and data chunk sizes of a WAV file whose writer never finalised (or which was
/// truncated). The data chunk is taken to run to the end of the file; a trailing partial sample
/// is cut off. Returns the data size in bytes. The data chunk header must lie within the first
/// 64 KiB of the file.
pub fn repair(path: &Path) -> Result<u32, WavError> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut head = vec![0u8; len.min(64 * 1024) as usize];
    file.read_exact(&mut head)?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut pos = 12usize;
    let mut block_align = None;
    loop {
        let (Some(size), Some(id)) = (le32(&head, pos + 4), head.get(pos..pos + 4)) else {
            return Err(WavError::NoData);
        };
        if id == b"fmt " {
            let body = head
                .get(pos + 8..pos + 8 + size as usize)
                .ok_or_else(|| WavError::BadChunk("fmt".into()))?;
            block_align = Some(
                le16(body, 12)
                    .ok_or_else(|| WavError::BadChunk("fmt".into()))?
                    .max(1),
            );
        } else if id == b"data" {
            let align = block_align.ok_or(WavError::NoFmt)? as u64;
            let start = pos as u64 + 8;
            let data = (len - start) / align * align;
            let data = data.min(u32::MAX as u64 - start) as u32;
            file.set_len(start + data as u64)?;
            file.seek(SeekFrom::Start(4))?;
            file.write_all(&((start - 8) as u32 + data).to_le_bytes())?;
            file.seek(SeekFrom::Start(pos as u64 + 4))?;
            file.write_all(&data.to_le_bytes())?;
            file.sync_all()?;
            return Ok(data);
        }
        pos = pos
            .saturating_add(8)
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f64 * 0.3).sin() * 12000.0) as i16)
            .collect()
    }

    #[test]
    fn bytes_round_trip() {
        let s = tone(1000);
        let b = wav_bytes(&s);
        assert_eq!(b.len(), 44 + 2000);
        assert_eq!(le32(&b, 4), Some(36 + 2000));
        assert_eq!(parse_wav(&b).unwrap(), s);
    }

    #[test]
    fn writer_round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rec.wav");
        let s = tone(800);
        let mut w = WavWriter::create(&p).unwrap();
        w.write_samples(&s[..300]).unwrap();
        w.write_samples(&s[300..]).unwrap();
        assert_eq!(w.samples_written(), 800);
        w.finalize().unwrap();
        assert_eq!(read_wav(&p).unwrap(), s);
        assert_eq!(std::fs::read(&p).unwrap(), wav_bytes(&s));
        let mut w = WavWriter::append(&p).unwrap();
        w.write_samples(&[1, 2, 3]).unwrap();
        drop(w); // drop patches the header too
        let got = read_wav(&p).unwrap();
        assert_eq!(got.len(), 803);
        assert_eq!(&got[800..], &[1, 2, 3]);
    }

    #[test]
    fn repair_truncated_recording() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.wav");
        // A header with zero sizes (writer never finalised) plus data plus half a sample.
        let mut b = header(0).to_vec();
        for s in tone(500) {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b.push(0x12);
        std::fs::write(&p, &b).unwrap();
        assert_eq!(read_wav(&p).unwrap().len(), 0);
        assert_eq!(repair(&p).unwrap(), 1000);
        let fixed = std::fs::read(&p).unwrap();
        assert_eq!(fixed.len(), 1044);
        assert_eq!(le32(&fixed, 4), Some(1036));
        assert_eq!(read_wav(&p).unwrap(), tone(500));
        // Sizes claiming more than is there are also fixed (and read tolerantly before that).
        let mut b = wav_bytes(&tone(500));
        b.truncate(44 + 600);
        std::fs::write(&p, &b).unwrap();
        assert_eq!(read_wav(&p).unwrap().len(), 300);
        assert_eq!(repair(&p).unwrap(), 600);
        assert_eq!(le32(&std::fs::read(&p).unwrap(), 40), Some(600));
    }

    fn wav_with(tag: u16, bits: u16, extra_chunks: &[(&[u8; 4], &[u8])], data: &[u8]) -> Vec<u8> {
        let mut body = b"WAVE".to_vec();
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&8000u32.to_le_bytes());
        fmt.extend_from_slice(&(8000 * bits as u32 / 8).to_le_bytes());
        fmt.extend_from_slice(&(bits / 8).to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&0u16.to_le_bytes()); // cbSize, fmt size 18 like sox
        let mut chunks: Vec<(&[u8; 4], &[u8])> = extra_chunks.to_vec();
        chunks.insert(1.min(chunks.len()), (b"fmt ", &fmt));
        chunks.push((b"data", data));
        for (id, c) in chunks {
            body.extend_from_slice(id);
            body.extend_from_slice(&(c.len() as u32).to_le_bytes());
            body.extend_from_slice(c);
            if c.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn skips_list_and_odd_chunks_and_reads_g711() {
        let list: &[u8] = b"INFOISFT\x05\x00\x00\x00sox\x00\x00"; // 17 bytes: odd, padded
        let b = wav_with(
            WAVE_FORMAT_MULAW,
            8,
            &[(b"LIST", list), (b"fact", &[0, 0, 0, 0])],
            &[0xFF, 0x80, 0x00],
        );
        assert_eq!(parse_wav(&b).unwrap(), vec![0, 32124, -32124]);
        let b = wav_with(WAVE_FORMAT_ALAW, 8, &[(b"LIST", list)], &[0xD5, 0x55]);
        assert_eq!(parse_wav(&b).unwrap(), vec![8, -8]);
        let b = wav_with(
            WAVE_FORMAT_PCM,
            16,
            &[(b"junk", b"abc")],
            &[1, 0, 0xFF, 0xFF],
        );
        assert_eq!(parse_wav(&b).unwrap(), vec![1, -1]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(parse_wav(b""), Err(WavError::NotWave)));
        assert!(matches!(
            parse_wav(b"RIFF\0\0\0\0AVI LIST"),
            Err(WavError::NotWave)
        ));
        assert!(matches!(
            parse_wav(b"RIFF\0\0\0\0WAVE"),
            Err(WavError::NoData)
        ));
        let b = wav_with(WAVE_FORMAT_PCM, 8, &[], &[1, 2]);
        assert!(matches!(
            parse_wav(&b),
            Err(WavError::Unsupported { bits: 8, .. })
        ));
        let mut b = wav_with(WAVE_FORMAT_PCM, 16, &[], &[1, 2]);
        b[16] = 0xFF; // fmt chunk size runs past the end
        assert!(matches!(parse_wav(&b), Err(WavError::BadChunk(_))));
        // Truncations at every length and random bytes never panic.
        let full = wav_with(WAVE_FORMAT_MULAW, 8, &[(b"LIST", b"xyz")], &[1, 2, 3, 4]);
        for n in 0..full.len() {
            let _ = parse_wav(&full[..n]);
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.wav");
        std::fs::write(&p, b"hello, this is not audio").unwrap();
        assert!(matches!(read_wav(&p), Err(WavError::NotWave)));
        assert!(matches!(repair(&p), Err(WavError::NotWave)));
        std::fs::write(&p, &full[..30]).unwrap();
        assert!(repair(&p).is_err());
    }

    #[test]
    fn raw_formats() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sln");
        std::fs::write(&p, [1, 0, 0xFF, 0xFF, 7]).unwrap();
        assert_eq!(read_raw(&p, Encoding::Slin).unwrap(), vec![1, -1]);
        assert_eq!(decode_raw(&[0xFF, 0x7F], Encoding::Ulaw), vec![0, 0]);
        assert_eq!(decode_raw(&[0xD5], Encoding::Alaw), vec![8]);
        assert_eq!(Encoding::from_extension("ULAW"), Some(Encoding::Ulaw));
        assert_eq!(Encoding::from_extension("sln"), Some(Encoding::Slin));
        assert_eq!(Encoding::from_extension("gsm"), None);
    }

    #[test]
    fn other_rates_and_raw_samples_decode_to_8k() {
        // 16 kHz stereo: mixed down and halved.
        let mut b = wav_bytes(&[]);
        b.truncate(44);
        b[22..24].copy_from_slice(&2u16.to_le_bytes());
        b[24..28].copy_from_slice(&16000u32.to_le_bytes());
        let frames: Vec<i16> = (0..1600).flat_map(|i| [i as i16, i as i16 + 2]).collect();
        let data: Vec<u8> = frames.iter().flat_map(|s| s.to_le_bytes()).collect();
        b[40..44].copy_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        let got = decode_any(&b);
        assert_eq!(got.len(), 800);
        assert_eq!(&got[..3], &[1, 3, 5]);
        // 8 kHz mono is taken as is; no WAV at all is raw native-endian samples.
        assert_eq!(decode_any(&wav_bytes(&[7, -7])), vec![7, -7]);
        let raw: Vec<u8> = [5i16, -5].iter().flat_map(|s| s.to_ne_bytes()).collect();
        assert_eq!(decode_any(&raw), vec![5, -5]);
    }
}
