//! Silence and talk detection on linear audio, as Asterisk's `dsp.c` does it for
//! `ast_dsp_silence`: a frame is silent when its average absolute amplitude is below a
//! threshold (dsp.conf's `silencethreshold`, 256); a detector counts how long the current
//! run of silence or of noise lasts. Time is counted in samples heard (8 kHz), never read
//! from a clock. Pure: Record(), WaitForSilence(), WaitForNoise() and BackgroundDetect()
//! feed it frames.

/// Asterisk's default `silencethreshold` (dsp.conf): average absolute amplitude below
/// which a frame counts as silence.
pub const SILENCE_THRESHOLD: u32 = 256;

/// Is this frame silence (`ast_dsp_silence`)?
pub fn is_silent(samples: &[i16]) -> bool {
    is_silent_below(samples, SILENCE_THRESHOLD)
}

/// [`is_silent`] with another threshold (voicemail.conf `silencethreshold`).
pub fn is_silent_below(samples: &[i16], threshold: u32) -> bool {
    if samples.is_empty() {
        return true;
    }
    let sum: u64 = samples.iter().map(|s| s.unsigned_abs() as u64).sum();
    sum / (samples.len() as u64) < threshold as u64
}

/// Milliseconds in `samples` at 8 kHz.
fn ms(samples: u64) -> u64 {
    samples / 8
}

/// How long the current run of silence, or of noise, has lasted.
#[derive(Debug, Clone, Default)]
pub struct SilenceDetector {
    threshold: u32,
    silence: u64,
    noise: u64,
}

impl SilenceDetector {
    pub fn new(threshold: u32) -> SilenceDetector {
        SilenceDetector {
            threshold,
            ..Default::default()
        }
    }

    /// Take one frame; whether it was silent.
    pub fn feed(&mut self, samples: &[i16]) -> bool {
        let n = samples.len() as u64;
        let silent = is_silent_below(samples, self.threshold);
        if silent {
            self.silence += n;
            self.noise = 0;
        } else {
            self.noise += n;
            self.silence = 0;
        }
        silent
    }

    /// Count `ms` of no audio at all (no frame arrived) as silence.
    pub fn add_silence_ms(&mut self, ms: u64) {
        self.silence += ms * 8;
        self.noise = 0;
    }

    /// The current run of silence, in ms (0 while there is noise).
    pub fn silence_ms(&self) -> u64 {
        ms(self.silence)
    }

    /// The current run of noise, in ms (0 while it is silent).
    pub fn noise_ms(&self) -> u64 {
        ms(self.noise)
    }
}

/// BackgroundDetect's talk detector: a stretch of noise longer than `min` ms (and shorter
/// than `max`, when given) followed by more than `sil` ms of silence, heard within the first
/// `analysis` ms (when given).
#[derive(Debug, Clone)]
pub struct TalkDetector {
    pub sil: u64,
    pub min: u64,
    pub max: Option<u64>,
    pub analysis: Option<u64>,
    det: SilenceDetector,
    /// Samples heard so far.
    heard: u64,
    /// Where the talk being heard started (samples), if any.
    talk_from: Option<u64>,
}

impl TalkDetector {
    pub fn new(sil: u64, min: u64, max: Option<u64>, analysis: Option<u64>) -> TalkDetector {
        TalkDetector {
            sil,
            min,
            max,
            analysis,
            det: SilenceDetector::new(SILENCE_THRESHOLD),
            heard: 0,
            talk_from: None,
        }
    }

    /// Take one frame of the caller's audio; `Some(ms)` when talk of `ms` milliseconds (the
    /// talk without the silence after it) was detected.
    pub fn feed(&mut self, samples: &[i16]) -> Option<u64> {
        if self.analysis.is_some_and(|a| ms(self.heard) >= a) {
            return None;
        }
        let start = self.heard;
        self.heard += samples.len() as u64;
        if !self.det.feed(samples) {
            self.talk_from.get_or_insert(start);
            return None;
        }
        if self.det.silence_ms() <= self.sil {
            return None;
        }
        let from = self.talk_from.take()?;
        let talk = ms(self.heard - from).saturating_sub(self.sil);
        (talk > self.min && self.max.is_none_or(|m| talk < m)).then_some(talk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loud() -> Vec<i16> {
        (0..160)
            .map(|i| if i % 2 == 0 { 3000 } else { -3000 })
            .collect()
    }

    fn quiet() -> Vec<i16> {
        vec![100; 160]
    }

    #[test]
    fn threshold_is_the_average_amplitude() {
        assert!(is_silent(&[255; 160]));
        assert!(!is_silent(&[256; 160]));
        assert!(!is_silent(&[-300; 160]));
        assert!(is_silent(&[]));
        assert!(is_silent_below(&[300; 160], 400));
    }

    #[test]
    fn runs_of_silence_and_noise() {
        let mut d = SilenceDetector::new(SILENCE_THRESHOLD);
        for _ in 0..10 {
            assert!(d.feed(&quiet()));
        }
        assert_eq!((d.silence_ms(), d.noise_ms()), (200, 0));
        assert!(!d.feed(&loud()));
        assert_eq!((d.silence_ms(), d.noise_ms()), (0, 20));
        d.add_silence_ms(500);
        assert_eq!((d.silence_ms(), d.noise_ms()), (500, 0));
    }

    fn talk(t: &mut TalkDetector, talk_frames: usize, quiet_frames: usize) -> Option<u64> {
        let mut got = None;
        for _ in 0..talk_frames {
            got = got.or(t.feed(&loud()));
        }
        for _ in 0..quiet_frames {
            got = got.or(t.feed(&quiet()));
        }
        got
    }

    #[test]
    fn talk_between_min_and_max_then_silence() {
        // 500 ms of talk, then silence: detected once more than 1000 ms are quiet.
        let mut t = TalkDetector::new(1000, 100, None, None);
        assert_eq!(
            talk(&mut t, 25, 50),
            None,
            "1000 ms of silence is not more than sil"
        );
        assert_eq!(t.feed(&quiet()), Some(520));
        // Too short a word (60 ms < min 100) is forgotten.
        let mut t = TalkDetector::new(300, 100, None, None);
        assert_eq!(talk(&mut t, 3, 20), None);
        assert_eq!(talk(&mut t, 10, 20), Some(220));
        // Longer than max: not talk (a machine's greeting).
        let mut t = TalkDetector::new(300, 100, Some(1000), None);
        assert_eq!(talk(&mut t, 100, 20), None);
    }

    #[test]
    fn analysis_time_limits_detection() {
        let mut t = TalkDetector::new(300, 100, None, Some(400));
        assert_eq!(talk(&mut t, 10, 20), None, "the silence ended after 400 ms");
    }
}
