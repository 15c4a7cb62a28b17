//! Helpers shared by unit tests (compiled only for tests).

/// Deterministic xorshift64 generator for no-panic tests over pseudo-random input.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A string of fewer than `max_len` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[char], max_len: u64) -> String {
        let len = self.next_u64() % max_len;
        (0..len)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize])
            .collect()
    }
}
