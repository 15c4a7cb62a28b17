//! Fuzz target `sip_message`, for the SIP message layer (`ferrisk::sip::message`): parsing
//! arbitrary bytes must never panic, as a datagram or as a stream, and every message that
//! parses must serialise to bytes that parse again and serialise identically (round-trip
//! stability). The body is `ferrisk::fuzzing::sip_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrisk::fuzzing::sip_message(data));
