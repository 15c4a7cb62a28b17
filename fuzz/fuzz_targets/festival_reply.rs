//! Fuzz target `festival_reply`: `ferrisk::fuzzing::festival_reply` (see that function for what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrisk::fuzzing::festival_reply(data));
