//! Voice processing on 8 kHz linear audio, pure (samples in, samples out, time counted in
//! samples): what func_speex's AGC and DENOISE and func_pitchshift's PITCH_SHIFT do to a
//! channel's frames, and TALK_DETECT's talking/silent state. ferrisk's own algorithms, not
//! speex's: an automatic gain control that steers a speech frame's RMS level toward a
//! target, a noise gate that learns the noise floor and attenuates what stays near it, and
//! a two-tap delay-line pitch shifter.

use super::silence::is_silent_below;
use std::f32::consts::PI;

/// RMS level of `samples`.
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

fn scale(samples: &mut [i16], gain: f32) {
    for s in samples.iter_mut() {
        *s = (f32::from(*s) * gain).clamp(-32768.0, 32767.0) as i16;
    }
}

/// Automatic gain control (`AGC(rx)=8000`): speech frames are brought toward `level` RMS;
/// the gain moves a little each frame (no pumping), is at most [`Agc::MAX_GAIN`], and
/// stays where it is on frames too quiet to be speech.
#[derive(Debug, Clone)]
pub struct Agc {
    pub level: f32,
    gain: f32,
}

impl Agc {
    /// At most 30 dB of gain.
    pub const MAX_GAIN: f32 = 31.6;
    /// Frames below this RMS are not speech: the gain holds.
    pub const SPEECH_FLOOR: f32 = 60.0;

    pub fn new(level: f32) -> Agc {
        Agc {
            level: level.clamp(1.0, 32768.0),
            gain: 1.0,
        }
    }

    pub fn gain(&self) -> f32 {
        self.gain
    }

    pub fn process(&mut self, samples: &mut [i16]) {
        let r = rms(samples);
        if r >= Self::SPEECH_FLOOR {
            let want = (self.level / r).clamp(1.0 / Self::MAX_GAIN, Self::MAX_GAIN);
            // Down fast (no clipping), up slowly.
            let rate = if want < self.gain { 0.5 } else { 0.1 };
            self.gain += (want - self.gain) * rate;
        }
        scale(samples, self.gain);
    }
}

/// Noise suppression (`DENOISE(rx)=on`) as a noise gate: the noise floor is the quietest
/// recent frame level (rising slowly, falling at once); frames within 2× of it are
/// attenuated by up to [`Denoiser::ATTENUATION`], louder frames pass as they are, with the
/// gain smoothed between frames.
#[derive(Debug, Clone)]
pub struct Denoiser {
    floor: f32,
    gain: f32,
}

impl Default for Denoiser {
    fn default() -> Self {
        Denoiser {
            floor: 0.0,
            gain: 1.0,
        }
    }
}

impl Denoiser {
    /// Gain applied to noise (-20 dB).
    pub const ATTENUATION: f32 = 0.1;

    pub fn process(&mut self, samples: &mut [i16]) {
        let r = rms(samples);
        if self.floor == 0.0 || r < self.floor {
            self.floor = r.max(1.0);
        } else {
            // About +0.5 dB a frame: speech never becomes the floor, noise that rises does.
            self.floor *= 1.06;
        }
        let want = if r < self.floor * 2.0 || r < 30.0 {
            Self::ATTENUATION
        } else {
            1.0
        };
        // Open quickly for speech, close over a few frames.
        let rate = if want > self.gain { 0.8 } else { 0.3 };
        self.gain += (want - self.gain) * rate;
        scale(samples, self.gain);
    }
}

/// Length of the delay line's window (60 ms): the grain two taps crossfade over.
const WINDOW: f32 = 480.0;
const LINE: usize = 1024;

/// Pitch shifting by `factor` (PITCH_SHIFT: 0.1..4, 1 = unchanged; 2 = an octave up): two
/// taps read a delay line at `factor` times the write speed, half a window apart, each
/// faded in and out (sin² windows summing to one) as it wraps around the window.
#[derive(Debug, Clone)]
pub struct PitchShifter {
    factor: f32,
    line: Vec<f32>,
    w: usize,
    /// The first tap's delay in samples, in `[0, WINDOW)`.
    delay: f32,
}

impl PitchShifter {
    pub fn new(factor: f32) -> PitchShifter {
        PitchShifter {
            factor,
            line: vec![0.0; LINE],
            w: 0,
            delay: 0.0,
        }
    }

    pub fn factor(&self) -> f32 {
        self.factor
    }

    pub fn set_factor(&mut self, f: f32) {
        self.factor = f;
    }

    fn tap(&self, delay: f32) -> f32 {
        let pos = self.w as f32 - delay + LINE as f32;
        let i = pos.floor();
        let frac = pos - i;
        let a = self.line[i as usize % LINE];
        let b = self.line[(i as usize + 1) % LINE];
        a + (b - a) * frac
    }

    pub fn process(&mut self, samples: &mut [i16]) {
        if (self.factor - 1.0).abs() < f32::EPSILON {
            return;
        }
        for s in samples.iter_mut() {
            self.line[self.w] = f32::from(*s);
            let d1 = self.delay;
            let d2 = (d1 + WINDOW / 2.0) % WINDOW;
            let g1 = (PI * d1 / WINDOW).sin().powi(2);
            let g2 = 1.0 - g1;
            let out = self.tap(d1) * g1 + self.tap(d2) * g2;
            *s = out.clamp(-32768.0, 32767.0) as i16;
            // Reading `factor` samples per sample written: the delay shrinks by factor - 1.
            self.delay = (self.delay - (self.factor - 1.0)).rem_euclid(WINDOW);
            self.w = (self.w + 1) % LINE;
        }
    }
}

/// What TALK_DETECT reports as frames go by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Talk {
    Start,
    /// Talking stopped after this many ms of talk (the trailing silence not counted).
    Stop(u64),
}

/// TALK_DETECT's state: talking starts with the first frame at or above
/// `talking_threshold` (average magnitude), and stops after `silence_ms` of frames below.
#[derive(Debug, Clone)]
pub struct TalkState {
    pub silence_ms: u64,
    pub talking_threshold: u32,
    talking: bool,
    /// Samples since talking started, and samples of silence in a row.
    talk: u64,
    quiet: u64,
}

impl TalkState {
    pub fn new(silence_ms: u64, talking_threshold: u32) -> TalkState {
        TalkState {
            silence_ms,
            talking_threshold,
            talking: false,
            talk: 0,
            quiet: 0,
        }
    }

    pub fn talking(&self) -> bool {
        self.talking
    }

    pub fn feed(&mut self, samples: &[i16]) -> Option<Talk> {
        let n = samples.len() as u64;
        let silent = is_silent_below(samples, self.talking_threshold);
        if self.talking {
            self.talk += n;
        }
        if !silent {
            self.quiet = 0;
            if !self.talking {
                self.talking = true;
                self.talk = n;
                return Some(Talk::Start);
            }
            return None;
        }
        self.quiet += n;
        if self.talking && self.quiet / 8 >= self.silence_ms {
            self.talking = false;
            return Some(Talk::Stop((self.talk - self.quiet) / 8));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tonedetect::tests::tones;

    /// Frequency by zero crossings (upward) over `s`.
    fn freq(s: &[i16]) -> f32 {
        let ups = s.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        ups as f32 * 8000.0 / s.len() as f32
    }

    fn run(s: &[i16], mut f: impl FnMut(&mut [i16])) -> Vec<i16> {
        let mut out = Vec::new();
        for c in s.chunks(160) {
            let mut c = c.to_vec();
            f(&mut c);
            out.extend(c);
        }
        out
    }

    #[test]
    fn agc_brings_quiet_and_loud_speech_to_the_level() {
        let mut agc = Agc::new(8000.0);
        let out = run(&tones(&[440.0], 1000.0, 2000), |c| agc.process(c));
        let end = rms(&out[out.len() - 1600..]);
        assert!((end - 8000.0).abs() < 400.0, "quiet: {end}");
        let mut agc = Agc::new(4000.0);
        let out = run(&tones(&[440.0], 20000.0, 2000), |c| agc.process(c));
        let end = rms(&out[out.len() - 1600..]);
        assert!((end - 4000.0).abs() < 200.0, "loud: {end}");
        // Silence does not pump the gain up.
        let mut agc = Agc::new(8000.0);
        run(&[0; 16000], |c| agc.process(c));
        assert_eq!(agc.gain(), 1.0);
        let mut agc = Agc::new(8000.0);
        run(&tones(&[440.0], 1.0, 1000), |c| agc.process(c));
        assert!(agc.gain() <= Agc::MAX_GAIN);
    }

    #[test]
    fn denoise_gates_steady_noise_and_keeps_speech() {
        let mut d = Denoiser::default();
        // A steady hum at 200 RMS-ish, then speech at 20x that.
        let hum = tones(&[120.0], 300.0, 2000);
        let out = run(&hum, |c| d.process(c));
        let before = rms(&hum[hum.len() - 1600..]);
        let after = rms(&out[out.len() - 1600..]);
        assert!(after < before * 0.2, "hum {before} -> {after}");
        let speech = tones(&[700.0], 6000.0, 500);
        let out = run(&speech, |c| d.process(c));
        let r = rms(&out[800..]);
        assert!(r > rms(&speech[800..]) * 0.95, "speech kept: {r}");
    }

    #[test]
    fn pitch_shift_moves_the_frequency_by_the_factor() {
        let s = tones(&[500.0], 8000.0, 3000);
        for (factor, want) in [(2.0, 1000.0), (0.5, 250.0), (1.25, 625.0), (1.0, 500.0)] {
            let mut p = PitchShifter::new(factor);
            let out = run(&s, |c| p.process(c));
            let f = freq(&out[8000..]);
            assert!(
                (f - want).abs() < want * 0.05,
                "{factor}: {f} Hz, want {want}"
            );
        }
    }

    #[test]
    fn talk_starts_and_stops_after_the_silence_threshold() {
        let mut t = TalkState::new(1000, 256);
        let loud = vec![1000i16; 160];
        let quiet = vec![10i16; 160];
        assert_eq!(t.feed(&quiet), None);
        assert_eq!(t.feed(&loud), Some(Talk::Start));
        for _ in 0..49 {
            assert_eq!(t.feed(&loud), None);
        }
        // 1 s of talk, then 1 s of silence ends it.
        let mut ev = Vec::new();
        for _ in 0..50 {
            ev.extend(t.feed(&quiet));
        }
        assert_eq!(ev, [Talk::Stop(1000)]);
        assert!(!t.talking());
        // A pause shorter than the threshold does not.
        assert_eq!(t.feed(&loud), Some(Talk::Start));
        for _ in 0..40 {
            assert_eq!(t.feed(&quiet), None);
        }
        assert_eq!(t.feed(&loud), None);
    }
}
