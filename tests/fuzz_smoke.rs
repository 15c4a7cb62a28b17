//! The fuzz targets (`ferrisk::fuzzing`, also run by cargo-fuzz from `fuzz/`) on a fixed
//! budget, with stable Rust: each target gets its seeds from `fuzz/seeds/<target>/` and
//! then mutated inputs (bit flips, byte and chunk insertions, deletions, duplications,
//! splices of two seeds, boundary bytes) from a fixed random seed. Any panic fails the test
//! and the input is written to `target/fuzz-crashes/` (add it to the seeds once fixed: it
//! then stays a regression test). `FERRISK_FUZZ_ITERS` (default 3000 per target) and
//! `FERRISK_FUZZ_SEED` make longer or different runs.

use std::path::{Path, PathBuf};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\r', b'\n', b':', b';', b',', b'"', b'<', b'>', b'/', b'=', b' ',
    b'$', b'[', b']', b'(', b')', b'\\', b'%',
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], mut v: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(4) {
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let b = INTERESTING[rng.below(INTERESTING.len())];
                v.insert(i, b);
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(v.len() - i).min(64) + 1;
                v.drain(i..i + n);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = (rng.below(v.len() - i) + 1).min(256);
                let chunk: Vec<u8> = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            4 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            5 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            6 if v.len() > 1 => {
                let cut = rng.below(v.len());
                v.truncate(cut);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                let n = rng.below(16) + 1;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
        }
    }
    v.truncate(64 * 1024);
    v
}

fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(name);
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_file())
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v.push(Vec::new());
    v
}

fn crash_file(name: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    let _ = std::fs::create_dir_all(&dir);
    let h = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let p = dir.join(format!("{name}-{h:016x}"));
    let _ = std::fs::write(&p, input);
    p
}

#[test]
fn every_fuzz_target_survives_its_seeds_and_mutations() {
    let iters: usize = std::env::var("FERRISK_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("FERRISK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f00d);
    // Panics are the failure being looked for: keep their messages off the output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for (name, target) in ferrisk::fuzzing::TARGETS {
        let seeds = seeds(name);
        let mut rng = Rng(seed ^ name.len() as u64 ^ 0x9e37_79b9_7f4a_7c15);
        let mut run = |input: &[u8]| {
            if std::panic::catch_unwind(|| target(input)).is_err() {
                failures.push(format!(
                    "{name}: panicked; input in {}",
                    crash_file(name, input).display()
                ));
                false
            } else {
                true
            }
        };
        let mut ok = seeds.iter().all(|s| run(s));
        for i in 0..iters {
            if !ok {
                break;
            }
            let base = seeds[i % seeds.len()].clone();
            let input = mutate(&mut rng, &seeds, base);
            ok = run(&input);
        }
    }
    std::panic::set_hook(hook);
    assert!(failures.is_empty(), "{failures:#?}");
}
