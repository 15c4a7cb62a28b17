//! Fuzz target `xmpp_stream`: `ferrisk::fuzzing::xmpp_stream` (see that function for what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrisk::fuzzing::xmpp_stream(data));
