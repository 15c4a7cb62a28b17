//! Audio helpers for end-to-end tests: test signals and correlation.

/// Deterministic white noise, ±8000.
pub fn noise(seed: u32, n: usize) -> Vec<i16> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i32 % 8000) as i16
        })
        .collect()
}

pub fn corr(a: &[i16], b: &[i16]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

/// Correlation of `got` with `sent` at their best alignment: an 800-sample window of `got`
/// (starting where it first has energy, plus 400) is located in `sent`, then the next
/// `len` samples (or fewer if either ends) are compared.
pub fn aligned_corr(sent: &[i16], got: &[i16], len: usize) -> f64 {
    let Some(first) = got
        .chunks(160)
        .position(|c| c.iter().map(|x| u64::from(x.unsigned_abs())).sum::<u64>() > 160 * 1000)
    else {
        return 0.0;
    };
    let g0 = first * 160 + 400;
    let Some(win) = got.get(g0..g0 + 800) else {
        return 0.0;
    };
    let Some((lag, _)) = (0..sent.len().saturating_sub(800))
        .map(|s| (s, corr(win, &sent[s..s + 800])))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return 0.0;
    };
    let n = len.min(got.len() - g0).min(sent.len() - lag);
    corr(&got[g0..g0 + n], &sent[lag..lag + n])
}

/// Speech-like test audio: noise whose loudness varies like syllables (4 Hz).
pub fn speechlike(seed: u32, n: usize) -> Vec<i16> {
    noise(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            let env = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 4.0 * i as f64 / 8000.0).sin();
            (f64::from(x) * env) as i16
        })
        .collect()
}

/// The samples of a WAV written by libsndfile: the `data` chunk to the end of the file
/// (its size field may still be 0 if the writer was not closed), 8 kHz mono 16-bit asserted.
pub fn read_dump(path: &std::path::Path) -> Vec<i16> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "not a WAV"
    );
    let mut i = 12;
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        if id == b"fmt " {
            let ch = u16::from_le_bytes([b[i + 10], b[i + 11]]);
            let rate = u32::from_le_bytes([b[i + 12], b[i + 13], b[i + 14], b[i + 15]]);
            let bits = u16::from_le_bytes([b[i + 22], b[i + 23]]);
            assert_eq!((ch, rate, bits), (1, 8000, 16), "{}", path.display());
        }
        if id == b"data" {
            return b[i + 8..]
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
        }
        i += 8 + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

/// Best normalized cross-correlation of `got` (its first and last 0.5 s trimmed) with
/// `sent`: a 100 ms window of `got` locates the alignment in `sent`, then up to `len`
/// samples from there are compared. Returns the correlation and how many samples.
pub fn trimmed_corr(sent: &[i16], got: &[i16], len: usize) -> (f64, usize) {
    const TRIM: usize = 4000;
    if got.len() < 2 * TRIM + 800 {
        return (0.0, 0);
    }
    let got = &got[TRIM..got.len() - TRIM];
    let win = &got[..800];
    let Some((lag, _)) = (0..sent.len().saturating_sub(800))
        .map(|s| (s, corr(win, &sent[s..s + 800])))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return (0.0, 0);
    };
    let n = len.min(got.len()).min(sent.len() - lag);
    (corr(&got[..n], &sent[lag..lag + n]), n)
}

/// How many 100 ms windows of `s` (8 kHz) hold a strong tone of `hz` that dominates `other`
/// (Goertzel energies).
pub fn dominant_windows(s: &[i16], hz: f64, other: f64) -> usize {
    fn energy(s: &[i16], hz: f64) -> f64 {
        let c = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in s {
            let s0 = f64::from(x) + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - c * s1 * s2
    }
    s.chunks_exact(800)
        .filter(|w| {
            let e = energy(w, hz);
            e > 1e9 && e > 20.0 * energy(w, other)
        })
        .count()
}
