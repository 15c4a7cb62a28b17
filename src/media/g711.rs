//! G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711.
//!
//! Linear samples are 16-bit signed PCM. µ-law works on 14-bit magnitudes and A-law on 13-bit
//! magnitudes, so the low 2 (µ-law) or 3 (A-law) bits are dropped on encode; decode returns the
//! midpoint of the quantisation interval scaled back to 16 bits (the classic Sun `g711.c` values,
//! which Asterisk also uses).
//!
//! Decoding is a 256-entry table built at compile time. Encoding uses a segment search (a
//! `leading_zeros` computation, no table), which is exact and cheap.
//!
//! Conventions: µ-law 0xFF decodes to 0 and 0x7F to 0 too ("negative zero"); encoding 0 gives
//! 0xFF, so 0x7F is the one code that does not survive `encode(decode(c))`. A-law has no exact
//! zero: 0xD5 decodes to +8 and 0x55 to -8. Transcoding µ-law↔A-law uses tables built by going
//! through linear PCM, which matches the ITU reference `ulaw2alaw`/`alaw2ulaw` behaviour within
//! one quantisation step.

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Decode one µ-law byte to 16-bit linear PCM.
pub const fn ulaw_decode_one(code: u8) -> i16 {
    let u = !code;
    let t = ((((u & 0x0F) as i32) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

/// Decode one A-law byte to 16-bit linear PCM.
pub const fn alaw_decode_one(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_decode_one(i as u8);
        i += 1;
    }
    t
}

const fn build_alaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode_one(i as u8);
        i += 1;
    }
    t
}

/// µ-law code → linear sample.
pub static ULAW_TO_LINEAR: [i16; 256] = build_ulaw_table();
/// A-law code → linear sample.
pub static ALAW_TO_LINEAR: [i16; 256] = build_alaw_table();

/// Encode one linear sample to µ-law.
pub const fn ulaw_encode_one(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let mask: u8 = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    if pcm > ULAW_CLIP {
        pcm = ULAW_CLIP;
    }
    pcm += ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (pcm is in 0x84..=0x7FFF).
    let seg = (31 - (pcm as u32).leading_zeros()) as i32 - 7;
    let uval = ((seg << 4) | ((pcm >> (seg + 3)) & 0x0F)) as u8;
    uval ^ mask
}

/// Encode one linear sample to A-law.
pub const fn alaw_encode_one(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3; // 13-bit
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    if pcm > 0xFFF {
        pcm = 0xFFF;
    }
    let aval = if pcm < 32 {
        (pcm >> 1) as u8
    } else {
        let seg = (31 - (pcm as u32).leading_zeros()) as i32 - 4; // 1..=7
        ((seg << 4) | ((pcm >> seg) & 0x0F)) as u8
    };
    aval ^ mask
}

const fn build_ulaw2alaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_encode_one(ulaw_decode_one(i as u8));
        i += 1;
    }
    t
}

const fn build_alaw2ulaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_encode_one(alaw_decode_one(i as u8));
        i += 1;
    }
    t
}

/// µ-law code → A-law code (through linear PCM).
pub static ULAW_TO_ALAW: [u8; 256] = build_ulaw2alaw();
/// A-law code → µ-law code (through linear PCM).
pub static ALAW_TO_ULAW: [u8; 256] = build_alaw2ulaw();

/// Decode a µ-law buffer into linear samples.
pub fn ulaw_decode(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| ULAW_TO_LINEAR[c as usize]).collect()
}

/// Decode an A-law buffer into linear samples.
pub fn alaw_decode(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| ALAW_TO_LINEAR[c as usize]).collect()
}

/// Encode linear samples to µ-law.
pub fn ulaw_encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| ulaw_encode_one(s)).collect()
}

/// Encode linear samples to A-law.
pub fn alaw_encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| alaw_encode_one(s)).collect()
}

/// Transcode µ-law bytes to A-law bytes.
pub fn ulaw_to_alaw(codes: &[u8]) -> Vec<u8> {
    codes.iter().map(|&c| ULAW_TO_ALAW[c as usize]).collect()
}

/// Transcode A-law bytes to µ-law bytes.
pub fn alaw_to_ulaw(codes: &[u8]) -> Vec<u8> {
    codes.iter().map(|&c| ALAW_TO_ULAW[c as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ULAW_TO_LINEAR[0xFF], 0);
        assert_eq!(ULAW_TO_LINEAR[0x7F], 0);
        assert_eq!(ulaw_encode_one(0), 0xFF);
        assert_eq!(ULAW_TO_LINEAR[0x00], -32124);
        assert_eq!(ULAW_TO_LINEAR[0x80], 32124);
        assert_eq!(ulaw_encode_one(i16::MAX), 0x80);
        assert_eq!(ulaw_encode_one(i16::MIN), 0x00);
        assert_eq!(ALAW_TO_LINEAR[0xD5], 8);
        assert_eq!(ALAW_TO_LINEAR[0x55], -8);
        assert_eq!(alaw_encode_one(0), 0xD5);
        assert_eq!(alaw_encode_one(-1), 0x55);
        assert_eq!(ALAW_TO_LINEAR[0xAA], 32256);
        assert_eq!(ALAW_TO_LINEAR[0x2A], -32256);
        assert_eq!(alaw_encode_one(i16::MAX), 0xAA);
        assert_eq!(alaw_encode_one(i16::MIN), 0x2A);
    }

    #[test]
    fn ulaw_error_bounds_all_i16() {
        for x in i16::MIN..=i16::MAX {
            let y = ULAW_TO_LINEAR[ulaw_encode_one(x) as usize] as i32;
            let x = (x as i32).clamp(-ULAW_CLIP, ULAW_CLIP);
            let err = (y - x).abs();
            // Step size in segment s is 8 << s; error is at most half a step (+ rounding).
            let bound = ((x.abs() + ULAW_BIAS) >> 4).max(4) + 4;
            assert!(err <= bound, "x={x} y={y} err={err} bound={bound}");
        }
    }

    #[test]
    fn alaw_error_bounds_all_i16() {
        for x in i16::MIN..=i16::MAX {
            let y = ALAW_TO_LINEAR[alaw_encode_one(x) as usize] as i32;
            let x = x as i32;
            let err = (y - x).abs();
            let bound = (x.abs() >> 4).max(16) + 8;
            assert!(err <= bound, "x={x} y={y} err={err}");
        }
    }

    #[test]
    fn ulaw_codes_round_trip() {
        for c in 0..=255u8 {
            let back = ulaw_encode_one(ULAW_TO_LINEAR[c as usize]);
            if c == 0x7F {
                // Negative zero decodes to 0, which encodes as positive zero.
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "code {c:#04x}");
            }
        }
    }

    #[test]
    fn alaw_codes_round_trip() {
        for c in 0..=255u8 {
            assert_eq!(
                alaw_encode_one(ALAW_TO_LINEAR[c as usize]),
                c,
                "code {c:#04x}"
            );
        }
    }

    #[test]
    fn decode_is_monotonic() {
        // Sorting codes by decoded value must give strictly increasing values (except the µ-law zero pair).
        let mut u: Vec<i16> = ULAW_TO_LINEAR.to_vec();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 255);
        let mut a: Vec<i16> = ALAW_TO_LINEAR.to_vec();
        a.sort();
        a.dedup();
        assert_eq!(a.len(), 256);
    }

    #[test]
    fn transcoding_consistency() {
        for c in 0..=255u8 {
            let a = ULAW_TO_ALAW[c as usize];
            let lin_u = ULAW_TO_LINEAR[c as usize] as i32;
            let lin_a = ALAW_TO_LINEAR[a as usize] as i32;
            assert!(
                (lin_u - lin_a).abs() <= (lin_u.abs() >> 4).max(16) + 8,
                "u {c:#04x}"
            );
            // Sign is preserved.
            assert!(lin_u == 0 || (lin_u > 0) == (lin_a > 0));
        }
        for c in 0..=255u8 {
            let u = ALAW_TO_ULAW[c as usize];
            let lin_a = ALAW_TO_LINEAR[c as usize] as i32;
            let lin_u = ULAW_TO_LINEAR[u as usize] as i32;
            assert!(
                (lin_u - lin_a).abs() <= (lin_a.abs() >> 4).max(8) + 8,
                "a {c:#04x}"
            );
        }
        // Silence maps to silence.
        assert_eq!(ULAW_TO_ALAW[0xFF], 0xD5);
        assert_eq!(ALAW_TO_ULAW[0xD5], 0xFE); // A-law has no zero: +8 → µ-law +8
                                              // µ-law → A-law → µ-law is stable after one round (idempotent projection).
        for c in 0..=255u8 {
            let once = ALAW_TO_ULAW[ULAW_TO_ALAW[c as usize] as usize];
            let twice = ALAW_TO_ULAW[ULAW_TO_ALAW[once as usize] as usize];
            assert_eq!(once, twice);
        }
    }

    #[test]
    fn buffer_helpers() {
        let s = [0i16, 1000, -1000, 32767, -32768];
        assert_eq!(ulaw_decode(&ulaw_encode(&s)).len(), 5);
        assert_eq!(ulaw_to_alaw(&ulaw_encode(&s)).len(), 5);
        assert_eq!(
            alaw_to_ulaw(&alaw_encode(&s)),
            ulaw_encode(&alaw_decode(&alaw_encode(&s)))
        );
    }
}
