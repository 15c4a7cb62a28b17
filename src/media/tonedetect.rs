//! Tone detection on 8 kHz linear audio with the Goertzel algorithm, as Asterisk's `dsp.c`
//! does it for `ast_dsp_set_freqmode` (TONE_DETECT, WaitForTone) and, more simply, for its
//! call-progress detection (ToneScan): pure code, samples in, hits out; time is counted in
//! samples heard, never read from a clock.
//!
//! * [`ToneDetector`]: one frequency held for a minimum duration, `db` decibels above the
//!   rest of the signal (Parseval: the tone's energy against the whole block's).
//! * [`ProgressDetector`]: North American call-progress tones (dial, ringback, busy,
//!   reorder), the SIT tones, fax (CED 2100 Hz) and modem (2225 Hz) answer tones, and voice
//!   (energy that is none of those).

use std::f64::consts::PI;

/// Sample rate of ferrisk's audio.
const RATE: f64 = 8000.0;

/// Minimum tone energy per sample (amplitude ~ 30, about -60 dBm0) before anything counts.
const MIN_POWER: f64 = 900.0;

/// A running Goertzel filter at one frequency.
#[derive(Debug, Clone)]
pub struct Goertzel {
    coeff: f64,
    s1: f64,
    s2: f64,
}

impl Goertzel {
    pub fn new(freq: f64) -> Goertzel {
        Goertzel {
            coeff: 2.0 * (2.0 * PI * freq / RATE).cos(),
            s1: 0.0,
            s2: 0.0,
        }
    }

    pub fn sample(&mut self, x: i16) {
        let s0 = f64::from(x) + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
    }

    /// |X(f)|² of the samples since the last reset.
    pub fn power(&self) -> f64 {
        self.s1 * self.s1 + self.s2 * self.s2 - self.coeff * self.s1 * self.s2
    }

    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
    }
}

/// The energy of `freq` in a block of `n` samples, scaled to compare with the block's
/// time-domain energy Σx² (a pure sine of amplitude A gives about A²n/2 for both).
fn tone_energy(g: &Goertzel, n: usize) -> f64 {
    2.0 * g.power() / n as f64
}

/// Goertzel power of `freq` in `samples`, per sample² (for tests and one-off checks).
pub fn power_of(samples: &[i16], freq: f64) -> f64 {
    let mut g = Goertzel::new(freq);
    samples.iter().for_each(|&s| g.sample(s));
    tone_energy(&g, samples.len().max(1)) / samples.len().max(1) as f64
}

/// One frequency, held at least `duration_ms`, `db` above the rest of the signal.
#[derive(Debug, Clone)]
pub struct ToneDetector {
    freq: u32,
    g: Goertzel,
    block: usize,
    pending: usize,
    energy: f64,
    /// Tone energy must exceed this share of the block's energy.
    threshold: f64,
    hits_required: u32,
    hit_count: u32,
    last_hit: bool,
}

impl ToneDetector {
    /// A detector of `freq` Hz (1..4000) lasting `duration_ms`, `db` decibels above the
    /// rest of the signal (Asterisk's default 16).
    pub fn new(freq: u32, duration_ms: u32, db: i32) -> ToneDetector {
        let freq = freq.clamp(1, 3999);
        // 10% slack on the duration, in samples.
        let duration = (u64::from(duration_ms) * 8 * 9 / 10) as usize;
        // Blocks of about 20 ms holding a whole number of periods, at least five.
        let periods = (160 * freq as usize / 8000).max(5);
        let block = (periods * 8000 / freq as usize).max(1);
        // The first and last blocks of a tone are partial.
        let hits_required = (duration.saturating_sub(block - 1) / block).max(1) as u32;
        let x = 10f64.powf(f64::from(db) / 10.0);
        ToneDetector {
            freq,
            g: Goertzel::new(f64::from(freq)),
            block,
            pending: block,
            energy: 0.0,
            threshold: x / (x + 1.0),
            hits_required,
            hit_count: 0,
            last_hit: false,
        }
    }

    pub fn freq(&self) -> u32 {
        self.freq
    }

    /// Whether the last whole block held the tone (to squelch it).
    pub fn in_tone(&self) -> bool {
        self.last_hit
    }

    /// Take samples; how many tones reached the required duration in them (normally 0 or
    /// 1: a tone counts once, however long it lasts after that).
    pub fn feed(&mut self, samples: &[i16]) -> u32 {
        let mut found = 0;
        for &s in samples {
            self.energy += f64::from(s) * f64::from(s);
            self.g.sample(s);
            self.pending -= 1;
            if self.pending > 0 {
                continue;
            }
            let tone = tone_energy(&self.g, self.block);
            let hit = tone >= MIN_POWER * self.block as f64 && tone > self.energy * self.threshold;
            if self.hit_count > 0 {
                self.hit_count += 1;
            }
            if hit == self.last_hit {
                if !hit {
                    // Two misses in a row: the tone ended.
                    self.hit_count = 0;
                } else if self.hit_count == 0 {
                    self.hit_count = 1;
                }
            }
            if self.hit_count == self.hits_required {
                found += 1;
            }
            self.last_hit = hit;
            self.g.reset();
            self.energy = 0.0;
            self.pending = self.block;
        }
        found
    }
}

/// What [`ProgressDetector`] recognised (ToneScan's `TONESCANSTATUS` words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Ringing,
    Busy,
    Sit,
    Voice,
    Fax,
    Modem,
    DialTone,
    /// Reorder (fast busy): Asterisk reports it as congestion; ToneScan has no word for
    /// it, TONE_DETECT's `a` matches it with SIT.
    Congestion,
}

impl Progress {
    /// The `TONESCANSTATUS` value.
    pub fn word(self) -> &'static str {
        match self {
            Progress::Ringing => "RINGING",
            Progress::Busy => "BUSY",
            Progress::Sit | Progress::Congestion => "SIT",
            Progress::Voice => "VOICE",
            Progress::Fax => "FAX",
            Progress::Modem => "MODEM",
            Progress::DialTone => "DIALTONE",
        }
    }
}

/// What one 20 ms block sounds like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Silence,
    Dial,
    Ring,
    /// 480 + 620 Hz: busy or reorder, told apart by cadence.
    Busy,
    Sit,
    Fax,
    Modem,
    Voice,
}

/// The frequencies looked at: dial 350+440, ringback 440+480, busy 480+620, SIT
/// (913.8/1370.6/1776.7), fax CED 2100, modem 2225.
const FREQS: [f64; 10] = [
    350.0, 440.0, 480.0, 620.0, 913.8, 1370.6, 1776.7, 2100.0, 2225.0, 1000.0,
];

/// Call-progress detection (North American tones; see the module docs). `threshold`
/// (ToneScan's, default 1) multiplies the durations each verdict needs.
#[derive(Debug, Clone)]
pub struct ProgressDetector {
    gs: Vec<Goertzel>,
    n: usize,
    energy: f64,
    threshold: u32,
    pub fax: bool,
    pub voice: bool,
    /// The current run: its kind and length in blocks.
    run: Option<(Block, u32)>,
    /// Busy-tone cadence: completed on-runs of 480+620 and their lengths.
    busy_bursts: Vec<u32>,
}

const BLOCK: usize = 160;

impl ProgressDetector {
    pub fn new(threshold: u32, fax: bool, voice: bool) -> ProgressDetector {
        ProgressDetector {
            gs: FREQS.iter().map(|&f| Goertzel::new(f)).collect(),
            n: 0,
            energy: 0.0,
            threshold: threshold.max(1),
            fax,
            voice,
            run: None,
            busy_bursts: Vec::new(),
        }
    }

    /// Take samples; the first verdict reached in them, if any.
    pub fn feed(&mut self, samples: &[i16]) -> Option<Progress> {
        let mut verdict = None;
        for &s in samples {
            self.energy += f64::from(s) * f64::from(s);
            self.gs.iter_mut().for_each(|g| g.sample(s));
            self.n += 1;
            if self.n < BLOCK {
                continue;
            }
            let b = self.classify();
            self.gs.iter_mut().for_each(Goertzel::reset);
            self.n = 0;
            self.energy = 0.0;
            if verdict.is_none() {
                verdict = self.step(b);
            }
        }
        verdict
    }

    fn classify(&self) -> Block {
        let total = self.energy;
        if total < MIN_POWER * BLOCK as f64 {
            return Block::Silence;
        }
        let e: Vec<f64> = self.gs.iter().map(|g| tone_energy(g, BLOCK)).collect();
        // A tone is present when it holds a fair share of the block's energy.
        let on = |i: usize| e[i] > total * 0.15;
        let pair = |a: usize, b: usize| on(a) && on(b) && e[a] + e[b] > total * 0.6;
        let single = |i: usize| e[i] > total * 0.6;
        if pair(0, 1) {
            Block::Dial
        } else if pair(1, 2) {
            Block::Ring
        } else if pair(2, 3) {
            Block::Busy
        } else if single(4) || single(5) || single(6) {
            Block::Sit
        } else if single(7) {
            Block::Fax
        } else if single(8) {
            Block::Modem
        } else {
            Block::Voice
        }
    }

    /// Blocks (of 20 ms) a verdict needs.
    fn need(&self, ms: u32) -> u32 {
        ms / 20 * self.threshold
    }

    fn step(&mut self, b: Block) -> Option<Progress> {
        let len = match self.run {
            Some((p, l)) if p == b => l + 1,
            Some((p, l)) => {
                if p == Block::Busy {
                    self.busy_bursts.push(l);
                    if let Some(v) = self.busy_verdict() {
                        return Some(v);
                    }
                }
                1
            }
            None => 1,
        };
        self.run = Some((b, len));
        match b {
            Block::Dial if len >= self.need(1000) => Some(Progress::DialTone),
            Block::Ring if len >= self.need(800) => Some(Progress::Ringing),
            Block::Sit if len >= self.need(200) => Some(Progress::Sit),
            Block::Fax if self.fax && len >= self.need(500) => Some(Progress::Fax),
            Block::Modem if len >= self.need(400) => Some(Progress::Modem),
            Block::Voice if self.voice && len >= self.need(1000) => Some(Progress::Voice),
            _ => None,
        }
    }

    /// Two (times the threshold) bursts of 480+620 Hz of the same length: busy (0.5 s
    /// on) or reorder (0.25 s on).
    fn busy_verdict(&self) -> Option<Progress> {
        let want = 2 * self.threshold as usize;
        let bursts = &self.busy_bursts;
        if bursts.len() < want {
            return None;
        }
        let last = &bursts[bursts.len() - want..];
        let (lo, hi) = (last.iter().min()?, last.iter().max()?);
        if hi - lo > 3 || *lo < 5 {
            return None;
        }
        Some(if *lo >= 18 {
            Progress::Busy
        } else {
            Progress::Congestion
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `ms` of a sum of sines (each amplitude `amp`) starting at sample `from`.
    pub fn tones(freqs: &[f64], amp: f64, ms: u32) -> Vec<i16> {
        (0..ms as usize * 8)
            .map(|i| {
                let t = i as f64 / RATE;
                let v: f64 = freqs.iter().map(|f| amp * (2.0 * PI * f * t).sin()).sum();
                v as i16
            })
            .collect()
    }

    fn noise(n: usize, amp: i32) -> Vec<i16> {
        let mut x: u32 = 12345;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (((x >> 16) as i32 % (2 * amp + 1)) - amp) as i16
            })
            .collect()
    }

    fn feed_frames(d: &mut ToneDetector, s: &[i16]) -> u32 {
        s.chunks(160).map(|c| d.feed(c)).sum()
    }

    #[test]
    fn goertzel_power_peaks_at_the_tone() {
        let s = tones(&[1000.0], 8000.0, 100);
        assert!(power_of(&s, 1000.0) > 100.0 * power_of(&s, 1200.0));
        // A sine of amplitude A: about A²/2 per sample.
        let p = power_of(&s, 1000.0);
        assert!((p - 32e6).abs() < 3e6, "{p}");
    }

    #[test]
    fn a_long_enough_tone_is_detected_once() {
        let mut d = ToneDetector::new(2600, 500, 16);
        let mut s = tones(&[2600.0], 6000.0, 1000);
        s.extend(vec![0; 1600]);
        assert_eq!(feed_frames(&mut d, &s), 1);
        // Two tones with a gap: two hits.
        let mut d = ToneDetector::new(1000, 200, 16);
        let mut s = tones(&[1000.0], 6000.0, 400);
        s.extend(vec![0; 1600]);
        s.extend(tones(&[1000.0], 6000.0, 400));
        assert_eq!(feed_frames(&mut d, &s), 2);
    }

    #[test]
    fn short_tones_other_frequencies_noise_and_quiet_are_not() {
        let mut d = ToneDetector::new(2600, 500, 16);
        assert_eq!(feed_frames(&mut d, &tones(&[2600.0], 6000.0, 200)), 0);
        let mut d = ToneDetector::new(2600, 500, 16);
        assert_eq!(feed_frames(&mut d, &tones(&[2000.0], 6000.0, 1000)), 0);
        let mut d = ToneDetector::new(1000, 100, 16);
        assert_eq!(feed_frames(&mut d, &noise(16000, 8000)), 0);
        let mut d = ToneDetector::new(1000, 100, 16);
        assert_eq!(feed_frames(&mut d, &tones(&[1000.0], 10.0, 1000)), 0);
        // A tone buried in as much noise fails 16 dB but passes 1 dB.
        let t = tones(&[1000.0], 4000.0, 1000);
        let n = noise(8000, 3000);
        let mixed: Vec<i16> = t
            .iter()
            .zip(&n)
            .map(|(a, b)| a.saturating_add(*b))
            .collect();
        assert_eq!(
            feed_frames(&mut ToneDetector::new(1000, 500, 16), &mixed),
            0
        );
        assert_eq!(feed_frames(&mut ToneDetector::new(1000, 500, 1), &mixed), 1);
    }

    fn cadence(freqs: &[f64], on: u32, off: u32, times: u32) -> Vec<i16> {
        let mut s = Vec::new();
        for _ in 0..times {
            s.extend(tones(freqs, 3000.0, on));
            s.extend(vec![0; off as usize * 8]);
        }
        s
    }

    fn scan(s: &[i16]) -> Option<Progress> {
        let mut d = ProgressDetector::new(1, true, true);
        s.chunks(160).find_map(|c| d.feed(c))
    }

    #[test]
    fn progress_tones_are_told_apart() {
        assert_eq!(
            scan(&cadence(&[440.0, 480.0], 2000, 4000, 1)),
            Some(Progress::Ringing)
        );
        assert_eq!(
            scan(&cadence(&[480.0, 620.0], 500, 500, 3)),
            Some(Progress::Busy)
        );
        assert_eq!(
            scan(&cadence(&[480.0, 620.0], 250, 250, 4)),
            Some(Progress::Congestion)
        );
        assert_eq!(
            scan(&tones(&[350.0, 440.0], 3000.0, 1500)),
            Some(Progress::DialTone)
        );
        let mut sit = tones(&[913.8], 3000.0, 276);
        sit.extend(tones(&[1370.6], 3000.0, 276));
        sit.extend(tones(&[1776.7], 3000.0, 380));
        assert_eq!(scan(&sit), Some(Progress::Sit));
        assert_eq!(scan(&tones(&[2100.0], 3000.0, 1000)), Some(Progress::Fax));
        assert_eq!(scan(&tones(&[2225.0], 3000.0, 1000)), Some(Progress::Modem));
        assert_eq!(scan(&noise(16000, 6000)), Some(Progress::Voice));
        assert_eq!(scan(&vec![0; 16000]), None);
        // Fax and voice only when asked for.
        let mut d = ProgressDetector::new(1, false, false);
        let s = tones(&[2100.0], 3000.0, 1000);
        assert_eq!(s.chunks(160).find_map(|c| d.feed(c)), None);
    }
}
