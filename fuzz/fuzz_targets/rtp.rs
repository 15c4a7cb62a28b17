//! Fuzz target `rtp`: `ferrisk::fuzzing::rtp` (see that function for what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrisk::fuzzing::rtp(data));
