//! Tone lists as `indications.conf` writes them, and a generator of their 20 ms frames
//! (Asterisk's `ast_playtones_start`). Pure: no clock, no channel; whoever pulls frames paces
//! them.
//!
//! ```text
//! element  = [!]freq[+freq2|*freq2][/duration]     (a leading M: MIDI note numbers)
//! tonelist = element[,element]*                    ('|' also separates)
//! ```
//!
//! `f1+f2` mixes two sines, `f1*f2` modulates f1 by f2 (90 % depth). A duration in ms (none
//! or 0: forever). Elements starting with `!` are played once; the list repeats from the
//! first element without `!`, and a list whose elements all start with `!` ends.

use super::frame::FRAME_SAMPLES;

/// One element of a tone list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TonePart {
    pub freq1: f64,
    pub freq2: f64,
    /// `f1*f2`: amplitude modulation instead of a mix.
    pub modulate: bool,
    /// Milliseconds; 0 plays forever.
    pub ms: u32,
}

/// A parsed tone list.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneList {
    pub parts: Vec<TonePart>,
    /// Where the list starts again after its last element (`None`: it ends).
    pub repeat_from: Option<usize>,
}

/// Each sine's peak: Asterisk's default volume (7219 of 32767, about -13 dBFS).
pub const TONE_AMPLITUDE: f64 = 7219.0;

/// MIDI note `n` in Hz (A4 = note 69 = 440 Hz); 0 above 127.
fn midi_hz(n: u32) -> f64 {
    if n > 127 {
        return 0.0;
    }
    440.0 * 2f64.powf((n as f64 - 69.0) / 12.0)
}

/// Parse one element (without its `!`).
pub fn parse_part(s: &str) -> Option<TonePart> {
    let s = s.trim();
    let (body, ms) = match s.split_once('/') {
        Some((b, t)) => (b, t.trim().parse::<u32>().ok()?),
        None => (s, 0),
    };
    let (f1, f2, modulate) = if let Some((a, b)) = body.split_once('+') {
        (a, Some(b), false)
    } else if let Some((a, b)) = body.split_once('*') {
        (a, Some(b), true)
    } else {
        (body, None, false)
    };
    let freq = |t: &str| -> Option<f64> {
        let t = t.trim();
        match t.strip_prefix('M') {
            Some(n) => n.parse::<u32>().ok().map(midi_hz),
            None => t.parse::<u32>().ok().map(f64::from),
        }
    };
    let freq1 = freq(f1)?;
    let freq2 = match f2 {
        Some(f) => freq(f)?,
        None => 0.0,
    };
    Some(TonePart {
        freq1,
        freq2,
        modulate,
        ms,
    })
}

/// Parse a tone list. Elements that do not parse are left out, each with Asterisk's error
/// (`Failed to parse tone part '…'`); `Err` when no element is left ("No valid tone parts").
pub fn parse(list: &str) -> Result<(ToneList, Vec<String>), Vec<String>> {
    let sep = if list.contains('|') { '|' } else { ',' };
    let mut parts = Vec::new();
    let mut repeat_from = None;
    let mut errors = Vec::new();
    for el in list.split(sep) {
        let el = el.trim();
        if el.is_empty() {
            // Asterisk stops at the first empty element.
            break;
        }
        let (once, body) = match el.strip_prefix('!') {
            Some(b) => (true, b),
            None => (false, el),
        };
        if !once && repeat_from.is_none() {
            repeat_from = Some(parts.len());
        }
        match parse_part(body) {
            Some(p) => parts.push(p),
            None => errors.push(format!("Failed to parse tone part '{body}'")),
        }
    }
    if parts.is_empty() {
        errors.push("No valid tone parts".into());
        return Err(errors);
    }
    // A repeat point past the last element (its element did not parse) restarts at the end.
    let repeat_from = repeat_from.map(|r| r.min(parts.len() - 1));
    Ok((ToneList { parts, repeat_from }, errors))
}

/// Frames of a tone list, one 20 ms frame at a time. An element lasts whole frames (its
/// duration rounded up to 20 ms); each element starts its sines at phase 0.
#[derive(Debug, Clone)]
pub struct ToneGen {
    list: ToneList,
    part: usize,
    /// Samples of the current element played so far.
    pos: u64,
    done: bool,
}

impl ToneGen {
    pub fn new(list: ToneList) -> ToneGen {
        ToneGen {
            list,
            part: 0,
            pos: 0,
            done: false,
        }
    }

    /// The next frame; `None` once a list that does not repeat has ended.
    pub fn next_frame(&mut self) -> Option<Vec<i16>> {
        if self.done {
            return None;
        }
        let p = *self.list.parts.get(self.part)?;
        let rate = 8000.0;
        let w1 = 2.0 * std::f64::consts::PI * p.freq1 / rate;
        let w2 = 2.0 * std::f64::consts::PI * p.freq2 / rate;
        let frame = (0..FRAME_SAMPLES as u64)
            .map(|i| {
                let n = (self.pos + i) as f64;
                let s1 = if p.freq1 > 0.0 { (w1 * n).sin() } else { 0.0 };
                let s2 = if p.freq2 > 0.0 { (w2 * n).sin() } else { 0.0 };
                let v = if p.modulate {
                    TONE_AMPLITUDE * s1 * (1.0 + 0.9 * s2) / 1.9
                } else {
                    TONE_AMPLITUDE * (s1 + s2)
                };
                v.round().clamp(-32768.0, 32767.0) as i16
            })
            .collect();
        self.pos += FRAME_SAMPLES as u64;
        if p.ms > 0 && self.pos >= u64::from(p.ms) * 8 {
            self.pos = 0;
            self.part += 1;
            if self.part >= self.list.parts.len() {
                match self.list.repeat_from {
                    Some(r) => self.part = r,
                    None => self.done = true,
                }
            }
        }
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(list: &str, max: usize) -> Vec<Vec<i16>> {
        let (l, _) = parse(list).unwrap_or_else(|e| panic!("{e:?}"));
        let mut g = ToneGen::new(l);
        std::iter::from_fn(|| g.next_frame()).take(max).collect()
    }

    /// The strength of `hz` in `x` (Goertzel), relative to the signal's energy.
    fn power_at(x: &[i16], hz: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &s) in x.iter().enumerate() {
            re += s as f64 * (w * n as f64).cos();
            im += s as f64 * (w * n as f64).sin();
        }
        let e: f64 = x.iter().map(|&s| (s as f64).powi(2)).sum();
        (re * re + im * im) / (e.max(1.0) * x.len() as f64)
    }

    #[test]
    fn parses_asterisks_element_forms() {
        let (l, errs) =
            parse("!350+440/100,!0/100,480*620/500,1000, M69").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(errs.is_empty());
        assert_eq!(l.parts.len(), 5);
        assert_eq!(l.repeat_from, Some(2));
        assert_eq!(
            l.parts[0],
            TonePart {
                freq1: 350.0,
                freq2: 440.0,
                modulate: false,
                ms: 100
            }
        );
        assert!(l.parts[2].modulate);
        assert_eq!(l.parts[3].ms, 0);
        assert!((l.parts[4].freq1 - 440.0).abs() < 1e-9);
        let (l, _) = parse("440|0/200").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(l.parts.len(), 2);
    }

    #[test]
    fn bad_parts_are_left_out_with_errors() {
        let (l, errs) = parse("abc,440/100").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(l.parts.len(), 1);
        assert_eq!(errs, ["Failed to parse tone part 'abc'"]);
        assert_eq!(
            parse("x/y").err(),
            Some(vec![
                "Failed to parse tone part 'x/y'".to_string(),
                "No valid tone parts".to_string()
            ])
        );
        assert!(parse("").is_err());
    }

    #[test]
    fn cadence_and_end() {
        // US busy: 500 ms on (25 frames), 500 ms off, repeating.
        let f = frames("480+620/500,0/500", 100);
        assert_eq!(f.len(), 100);
        assert!(f[..25].iter().all(|fr| fr.iter().any(|&s| s != 0)));
        assert!(f[25..50].iter().all(|fr| fr.iter().all(|&s| s == 0)));
        assert!(f[50].iter().any(|&s| s != 0), "repeats");
        // All elements once-only: the list ends (100 ms = 5 frames, 330 ms = 17).
        assert_eq!(frames("!440/100,!0/330", 1000).len(), 22);
        // A tone without duration plays forever.
        assert_eq!(frames("!440/100,350+440", 500).len(), 500);
    }

    #[test]
    fn frequencies_are_there() {
        let f: Vec<i16> = frames("350+440", 10).concat();
        assert!(power_at(&f, 350.0) > 0.2, "{}", power_at(&f, 350.0));
        assert!(power_at(&f, 440.0) > 0.2);
        assert!(power_at(&f, 1000.0) < 0.01);
        let peak = f.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak as f64 <= 2.0 * TONE_AMPLITUDE + 1.0);
    }
}
