//! Conference mixing with mix-minus: every participant hears everyone else, never itself.
//!
//! Pure and clock-free: the caller hands in each participant's latest 20 ms frame (or `None`
//! when it sent nothing, is muted, listen-only or waiting) and gets back one output frame per
//! participant. The work is O(n) per tick: all contributions are summed once into a 32-bit
//! accumulator and each participant's own contribution is subtracted from that total.
//!
//! Sums beyond the 16-bit range are either clipped ([`Scaling::Saturate`], what Asterisk's
//! `ast_slinear_saturated_add` does) or the whole output frame is scaled down so its peak
//! fits ([`Scaling::Normalize`]), which avoids the harsh distortion of clipping at the cost
//! of a momentary drop in level.

use crate::media::frame::FRAME_SAMPLES;

/// What to do when a mixed sample does not fit in an `i16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scaling {
    /// Clamp each sample to `i16::MIN..=i16::MAX`.
    #[default]
    Saturate,
    /// Scale the output frame down so that its loudest sample just fits.
    Normalize,
}

/// A reusable mixer (keeps its accumulator between ticks to avoid reallocating it).
#[derive(Debug, Default)]
pub struct Mixer {
    sum: Vec<i32>,
    pub scaling: Scaling,
}

impl Mixer {
    pub fn new(scaling: Scaling) -> Mixer {
        Mixer {
            sum: vec![0; FRAME_SAMPLES],
            scaling,
        }
    }

    /// One tick: `inputs[i]` is what participant `i` contributes. Returns `inputs.len()`
    /// frames of [`FRAME_SAMPLES`] samples; frame `i` is the sum of every input except
    /// `inputs[i]`. Shorter inputs are padded with silence, longer ones truncated.
    pub fn mix(&mut self, inputs: &[Option<&[i16]>]) -> Vec<Vec<i16>> {
        self.sum.clear();
        self.sum.resize(FRAME_SAMPLES, 0);
        for s in inputs.iter().flatten() {
            for (acc, &x) in self.sum.iter_mut().zip(s.iter()) {
                *acc += i32::from(x);
            }
        }
        let mut out = Vec::with_capacity(inputs.len());
        for own in inputs {
            let mut frame: Vec<i32> = self.sum.clone();
            if let Some(own) = own {
                for (acc, &x) in frame.iter_mut().zip(own.iter()) {
                    *acc -= i32::from(x);
                }
            }
            out.push(self.finish(&frame));
        }
        out
    }

    fn finish(&self, frame: &[i32]) -> Vec<i16> {
        match self.scaling {
            Scaling::Saturate => frame.iter().map(|&x| saturate(x)).collect(),
            Scaling::Normalize => {
                let peak = frame.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
                if peak <= i16::MAX as u32 {
                    frame.iter().map(|&x| x as i16).collect()
                } else {
                    let peak = i64::from(peak);
                    frame
                        .iter()
                        .map(|&x| saturate((i64::from(x) * i64::from(i16::MAX) / peak) as i32))
                        .collect()
                }
            }
        }
    }
}

/// Clamp to the `i16` range.
pub fn saturate(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Mix-minus with clipping, without keeping a [`Mixer`] around.
pub fn mix_minus(inputs: &[Option<&[i16]>]) -> Vec<Vec<i16>> {
    Mixer::new(Scaling::Saturate).mix(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(v: i16) -> Vec<i16> {
        vec![v; FRAME_SAMPLES]
    }

    #[test]
    fn three_participants_hear_the_other_two_and_not_themselves() {
        // Distinct per-sample patterns so a wrong sum cannot pass by accident.
        let a: Vec<i16> = (0..FRAME_SAMPLES as i16).collect();
        let b: Vec<i16> = (0..FRAME_SAMPLES as i16).map(|i| 1000 - i * 3).collect();
        let c = tone(-250);
        let out = mix_minus(&[Some(&a), Some(&b), Some(&c)]);
        assert_eq!(out.len(), 3);
        for i in 0..FRAME_SAMPLES {
            assert_eq!(out[0][i], b[i] + c[i]);
            assert_eq!(out[1][i], a[i] + c[i]);
            assert_eq!(out[2][i], a[i] + b[i]);
        }
    }

    #[test]
    fn silent_or_muted_participants_contribute_nothing() {
        let a = tone(100);
        let out = mix_minus(&[Some(&a), None, None]);
        assert_eq!(out[0], tone(0), "alone with listeners: hears silence");
        assert_eq!(out[1], tone(100));
        assert_eq!(out[2], tone(100));
        let out = mix_minus(&[None, None]);
        assert!(out.iter().all(|f| f == &tone(0)));
        assert!(mix_minus(&[]).is_empty());
        // A single participant never hears itself.
        assert_eq!(mix_minus(&[Some(&a)]), vec![tone(0)]);
    }

    #[test]
    fn short_frames_are_padded() {
        let a = vec![5i16; 10];
        let out = mix_minus(&[Some(&a), None]);
        assert_eq!(out[1].len(), FRAME_SAMPLES);
        assert_eq!(&out[1][..10], &[5; 10]);
        assert!(out[1][10..].iter().all(|&x| x == 0));
    }

    #[test]
    fn clipping_saturates_or_normalizes() {
        let loud = tone(30000);
        let neg = tone(-30000);
        let out = mix_minus(&[
            Some(&loud),
            Some(&loud),
            Some(&loud),
            Some(&neg),
            Some(&neg),
        ]);
        // 2×30000 + 2×(-30000) = 0 for the first three; 3×30000 - 30000 = 60000 for the rest.
        assert_eq!(out[0], tone(0));
        assert_eq!(out[3], tone(i16::MAX));
        let out = mix_minus(&[Some(&neg), Some(&neg), Some(&neg)]);
        assert_eq!(out[0], tone(i16::MIN));

        let mut m = Mixer::new(Scaling::Normalize);
        let mut wave = tone(0);
        wave[0] = 20000;
        wave[1] = -10000;
        let out = m.mix(&[Some(&wave), Some(&wave), None]);
        // The listener gets 40000/-20000 scaled so the peak is exactly i16::MAX.
        assert_eq!(out[2][0], i16::MAX);
        assert_eq!(out[2][1], -16383);
        // Within range nothing is scaled.
        assert_eq!(out[0], wave);
    }
}
