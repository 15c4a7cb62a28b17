//! Fuzz target `sip_message`, for the SIP message layer (`ferrisk::sip::message`): parsing
//! arbitrary bytes must never panic, as a datagram or as a stream, and every message that
//! parses must serialise to bytes that parse again and serialise identically (round-trip
//! stability).
#![no_main]

use ferrisk::sip::message::{parse, parse_stream, response_to, StreamParse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse(data) {
        let _ = (msg.vias(), msg.from(), msg.to(), msg.contacts(), msg.cseq());
        let out = msg.to_bytes();
        let again = parse(&out).expect("serialised message must parse");
        assert_eq!(again.to_bytes(), out, "round trip must be stable");
        let _ = response_to(&msg, 400, "Bad Request", Some("fuzz"));
    }
    let mut rest = data;
    while let StreamParse::Complete(_, used) | StreamParse::KeepAlive(used) = parse_stream(rest) {
        if used == 0 {
            break;
        }
        rest = &rest[used..];
    }
});
