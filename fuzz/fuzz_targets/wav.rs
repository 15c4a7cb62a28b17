//! Fuzz target `wav`: `ferrisk::fuzzing::wav` (see that function for what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrisk::fuzzing::wav(data));
