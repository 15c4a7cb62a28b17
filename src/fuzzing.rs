//! Fuzz entry points: one function per input ferrisk takes from outside (SIP, SDP, RTP and
//! RTCP packets, WAV files, `.conf` files, `$[ ]` expressions, the XMPP stream, Festival
//! replies). Each takes arbitrary bytes and must never panic; where a value parses, it
//! also checks what must hold (a parsed SIP message serialises to bytes that parse again
//! identically). The cargo-fuzz targets in `fuzz/` call these, and so does the test suite's
//! fixed-budget run (`tests/fuzz_smoke.rs`), so both check the same properties.

/// A fuzz target: arbitrary bytes in, a panic is a bug.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `fuzz/fuzz_targets/*.rs` and `fuzz/seeds/*`).
pub const TARGETS: &[(&str, Target)] = &[
    ("sip_message", sip_message),
    ("sdp", sdp),
    ("rtp", rtp),
    ("wav", wav),
    ("conf", conf),
    ("expr", expr),
    ("xmpp_stream", xmpp_stream),
    ("festival_reply", festival_reply),
];

/// SIP message parsing: datagram and stream framing; round trip of what parses.
pub fn sip_message(data: &[u8]) {
    use crate::sip::message::{parse, parse_stream, response_to, StreamParse};
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
}

/// SDP parsing, and answering an offer that parses.
pub fn sdp(data: &[u8]) {
    use crate::sip::sdp::{self, MediaPrefs, Sdp, SessionIds};
    if let Ok(offer) = Sdp::parse_bytes(data) {
        let prefs = MediaPrefs {
            codecs: vec![sdp::Codec::Pcmu, sdp::Codec::Pcma],
            telephone_event: true,
            preferred_codec_only: false,
            encryption: false,
        };
        let _ = sdp::answer(
            &offer,
            &prefs,
            std::net::IpAddr::from([127, 0, 0, 1]),
            10000,
            SessionIds::new(1),
        );
        let _ = offer.to_string();
    }
}

/// RTP packet parsing.
pub fn rtp(data: &[u8]) {
    if let Ok(p) = crate::media::rtp::RtpPacket::parse(data) {
        let _ = (p.payload_type, p.sequence, p.timestamp, p.payload.len());
    }
}

/// WAV parsing and the any-format decoder.
pub fn wav(data: &[u8]) {
    let _ = crate::media::wav::parse_wav(data);
    let _ = crate::media::wav::decode_any(data);
}

/// The `.conf` loader (templates, `(+)`, `#include` of files that do not exist).
pub fn conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let opts = crate::config::LoadOptions::default();
    if let Ok(cf) = crate::config::load_str(
        std::path::Path::new("/nonexistent-fuzz-dir"),
        "fuzz.conf",
        &text,
        &opts,
    ) {
        let _ = cf.sections.len();
        let _ = crate::channels::sipconf::parse_sip_conf(&cf);
    }
}

/// `$[ ]` expressions.
pub fn expr(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::dialplan::expr::evaluate(&text);
}

/// The XMPP stream parser and a client session fed the bytes after a login.
pub fn xmpp_stream(data: &[u8]) {
    let mut p = crate::xmpp::xml::StreamParser::new();
    p.feed(data);
    for _ in 0..10_000 {
        match p.next_event() {
            Ok(Some(crate::xmpp::xml::StreamEvent::Stanza(e))) => {
                let _ = crate::xmpp::xml::parse_element(e.to_xml().as_bytes())
                    .expect("a serialised stanza must parse");
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let t = std::time::Instant::now();
    let cfg = crate::xmpp::SessionConfig {
        user: "pbx@localhost".into(),
        resource: "r".into(),
        password: "p".into(),
        use_tls: false,
        use_sasl: true,
        priority: 1,
        status: crate::xmpp::Show::Available,
        status_message: String::new(),
        buddies: vec!["a@localhost".into()],
        autoregister: true,
        autoprune: true,
        auth_accept: true,
        keepalive: true,
    };
    let mut s = crate::xmpp::Session::new(cfg, "n", t);
    s.connect(t);
    s.receive(data, t);
    while s.poll().is_some() {}
    let _ = s.status_of("a@localhost");
}

/// Festival server replies.
pub fn festival_reply(data: &[u8]) {
    let _ = crate::apps::festival::protocol::parse_all(data);
    let mut p = crate::apps::festival::protocol::ReplyParser::new();
    for chunk in data.chunks(7) {
        if p.feed(chunk).is_err() {
            break;
        }
    }
}
