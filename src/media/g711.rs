//! G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711.
//!
//! Linear samples are 16-bit signed PCM. µ-law works on 14-bit magnitudes and A-law on 13-bit
//! magnitudes, so the low 2 (µ-law) or 3 (A-law) bits are dropped on encode; decode returns the
//! midpoint of the quantisation interval scaled back to 16 bits (the classic Sun `g711.c` values,
//! which Asterisk also uses).
//!
//! Decoding is a 256-entry table built at compile time with `const fn`. Encoding uses a segment
//! search (one `leading_zeros`, no table), which is exact and cheap.
//!
//! Conventions: µ-law 0xFF decodes to 0 and 0x7F to 0 too ("negative zero"); encoding 0 gives
//! 0xFF, so 0x7F is the one code that does not survive `encode(decode(c))`. A-law has no exact
//! zero: 0xD5 decodes to +8 and 0x55 to -8.
//!
//! Direct µ-law↔A-law transcoding uses the tables of G.711 itself (Tables 3 and 4, as in the
//! reference `ulaw2alaw`/`alaw2ulaw`), built at compile time from the runs of the standard's
//! table. They are sign-symmetric and differ from "decode, then re-encode" by at most one step.

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
///
/// G.711 quantises 14-bit samples; a 16-bit sample `x` is treated as the 14-bit value `x / 4`
/// (magnitude-based, so the encoding is exactly sign-symmetric, as in Asterisk's `AST_LIN2MU`).
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
///
/// G.711 quantises 13-bit samples: `x >> 3`, with negative values mapped by one's complement
/// (A-law has no zero level; its decision levels are symmetric about -0.5 in 13-bit units).
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

/// ITU-T G.711 Table 3 (µ-law → A-law), per magnitude: µ-law magnitude `j` (0 = smallest, i.e.
/// `!code & 0x7F`) → A-law magnitude (0 = smallest, i.e. `(code ^ 0x55) & 0x7F`). Written as the
/// runs of the standard's table.
const fn itu_u2a_mag(j: u8) -> u8 {
    match j {
        0..=15 => j / 2,
        16..=31 => j - 8,
        32..=35 => 24 + 2 * (j - 32),
        36..=47 => j - 4,
        48 => 45,
        49..=63 => j - 2,
        64..=79 => j - 1,
        _ => j,
    }
}

/// ITU-T G.711 Table 4 (A-law → µ-law), per magnitude (same conventions as [`itu_u2a_mag`]).
const fn itu_a2u_mag(i: u8) -> u8 {
    match i {
        0..=7 => 2 * i + 1,
        8..=23 => i + 8,
        24..=31 => 32 + (i - 24) / 2,
        32..=43 => i + 4,
        44..=47 => 48 + (i - 44) / 2,
        48..=61 => i + 2,
        62 | 63 => 64,
        64..=78 => i + 1,
        _ => i,
    }
}

const fn build_ulaw2alaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let u = i as u8;
        let mag = itu_u2a_mag(!u & 0x7F);
        // µ-law sign bit set = positive; A-law positive codes are 0x80 | … after the 0x55 mask.
        t[i] = if u & 0x80 != 0 {
            0xD5 ^ mag
        } else {
            0x55 ^ mag
        };
        i += 1;
    }
    t
}

const fn build_alaw2ulaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let a = i as u8;
        let mag = itu_a2u_mag((a ^ 0x55) & 0x7F);
        t[i] = if a & 0x80 != 0 {
            0xFF ^ mag
        } else {
            0x7F ^ mag
        };
        i += 1;
    }
    t
}

/// µ-law code → A-law code, ITU-T G.711 Table 3 (the `ulaw2alaw` of the reference code).
///
/// This is not the same as decoding to linear and re-encoding (what Asterisk's `codec_a_mu`
/// does): for 40 codes near segment boundaries and for small negative values the standard picks
/// the neighbouring code, one quantisation step away, so that the conversion is symmetric in sign.
pub static ULAW_TO_ALAW: [u8; 256] = build_ulaw2alaw();
/// A-law code → µ-law code, ITU-T G.711 Table 4 (the reference `alaw2ulaw`).
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
    fn encoders_are_sign_symmetric_on_their_native_grid() {
        for n in 1..=8191i32 {
            let x = (n * 4) as i16;
            assert_eq!(ulaw_encode_one(x) ^ 0x80, ulaw_encode_one(-x), "µ {x}");
        }
        for n in 0..=4095i32 {
            // 13-bit n ≥ 0 and its mirror -n-1 land on mirrored codes.
            let (p, m) = ((n * 8) as i16, (-(n + 1) * 8) as i16);
            assert_eq!(alaw_encode_one(p) ^ 0x80, alaw_encode_one(m), "A {n}");
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
    fn transcoding_known_values() {
        assert_eq!(ULAW_TO_ALAW[0xFF], 0xD5);
        assert_eq!(ULAW_TO_ALAW[0x7F], 0x55); // negative zero stays negative
        assert_eq!(ULAW_TO_ALAW[0x80], 0xAA);
        assert_eq!(ULAW_TO_ALAW[0x00], 0x2A);
        assert_eq!(ULAW_TO_ALAW[0xA0], 0x8A);
        assert_eq!(ULAW_TO_ALAW[0xDC], 0xCB);
        assert_eq!(ALAW_TO_ULAW[0xD5], 0xFE);
        assert_eq!(ALAW_TO_ULAW[0x55], 0x7E);
        assert_eq!(ALAW_TO_ULAW[0xAA], 0x80);
        assert_eq!(ALAW_TO_ULAW[0x2A], 0x00);
        assert_eq!(ALAW_TO_ULAW[0x8A], 0xA0);
        assert_eq!(ALAW_TO_ULAW[0xC9], 0xDD);
    }

    #[test]
    fn transcoding_consistency() {
        // One quantisation step of either law at this magnitude, with slack near zero.
        let step = |v: i32| v.abs() / 16 + 16;
        for c in 0..=255u8 {
            let a = ULAW_TO_ALAW[c as usize];
            let lin_u = ULAW_TO_LINEAR[c as usize] as i32;
            let lin_a = ALAW_TO_LINEAR[a as usize] as i32;
            // Sign preserved (µ-law ±0 → A-law ±8), within one step of the direct linear route.
            assert_eq!(c & 0x80 != 0, lin_a > 0, "u {c:#04x}");
            let via = ALAW_TO_LINEAR[alaw_encode_one(lin_u as i16) as usize] as i32;
            assert!(
                (lin_a - via).abs() <= step(lin_u),
                "u {c:#04x}: {lin_a} vs {via}"
            );
            assert!((lin_u - lin_a).abs() <= step(lin_u), "u {c:#04x}");
        }
        for c in 0..=255u8 {
            let u = ALAW_TO_ULAW[c as usize];
            let lin_a = ALAW_TO_LINEAR[c as usize] as i32;
            let lin_u = ULAW_TO_LINEAR[u as usize] as i32;
            assert_eq!(c & 0x80 != 0, u & 0x80 != 0, "a {c:#04x}");
            assert!(
                (lin_u - lin_a).abs() <= step(lin_a),
                "a {c:#04x}: {lin_a} → {lin_u}"
            );
        }
        // Symmetry: the tables treat positive and negative values alike.
        for c in 0..=127u8 {
            assert_eq!(
                ULAW_TO_ALAW[c as usize] ^ 0x80,
                ULAW_TO_ALAW[(c | 0x80) as usize]
            );
            assert_eq!(
                ALAW_TO_ULAW[c as usize] ^ 0x80,
                ALAW_TO_ULAW[(c | 0x80) as usize]
            );
        }
        // Tandem conversions are transparent except where one law is coarser: A→µ→A changes
        // exactly 16 codes, µ→A→µ the 16 smallest odd magnitudes (µ-law is finer near zero).
        let a_u_a: Vec<u8> = (0..=255u8)
            .filter(|&a| ULAW_TO_ALAW[ALAW_TO_ULAW[a as usize] as usize] != a)
            .collect();
        assert_eq!(
            a_u_a,
            [
                0x1A, 0x48, 0x4A, 0x4C, 0x4E, 0x6B, 0x79, 0x7B, 0x9A, 0xC8, 0xCA, 0xCC, 0xCE, 0xEB,
                0xF9, 0xFB
            ]
        );
        let u_a_u: Vec<u8> = (0..=255u8)
            .filter(|&u| ALAW_TO_ULAW[ULAW_TO_ALAW[u as usize] as usize] != u)
            .collect();
        assert_eq!(
            u_a_u,
            [
                0x71, 0x73, 0x75, 0x77, 0x79, 0x7B, 0x7D, 0x7F, 0xF1, 0xF3, 0xF5, 0xF7, 0xF9, 0xFB,
                0xFD, 0xFF
            ]
        );
        // Both tables are monotonic in the decoded value.
        for c in 0x80..=0xFEu8 {
            // Positive µ-law codes decrease in magnitude as the code grows.
            let (x, y) = (ULAW_TO_ALAW[c as usize], ULAW_TO_ALAW[c as usize + 1]);
            assert!(ALAW_TO_LINEAR[x as usize] >= ALAW_TO_LINEAR[y as usize]);
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
