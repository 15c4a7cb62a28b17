//! Tests for [`super`]: the regression list of `docs/decisions/sip-stack.md`, malformed input
//! classification and a bounded randomized no-panic test.

use super::*;

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:john.doe@example.com>\r\n\
From: <sip:john.doe@example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:john.doe@10.0.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";expires=3600\r\n\
Authorization: Digest username=\"john.doe\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5\r\n\
User-Agent: Yealink SIP-T46S 66.86.0.15\r\n\
X-Custom:   Weird  ,value ; kept\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n";

fn p(s: &str) -> SipMessage {
    parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// parse → serialise → parse is stable, and unknown headers come out byte-identical.
/// (`to_bytes` always writes a Content-Length, so that header is compared separately.)
fn stable(m: &SipMessage) {
    let b = m.to_bytes();
    let m2 = parse(&b).expect("reparse");
    assert_eq!(without_cl(&m2), without_cl(m));
    assert_eq!(m2.content_length(), Some(m.body().len()));
    assert_eq!(m2.to_bytes(), b);
}

fn without_cl(m: &SipMessage) -> SipMessage {
    let mut m = m.clone();
    m.headers_mut().remove("Content-Length");
    m
}

fn contact0(m: &SipMessage) -> NameAddr {
    match m.contacts() {
        Some(Contacts::List(mut l)) => l.remove(0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn register_typed() {
    let m = p(REGISTER);
    assert_eq!(m.method(), Some(&Method::Register));
    let v = m.vias();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].transport, "UDP");
    assert_eq!(v[0].host, "10.0.0.1");
    assert_eq!(v[0].port, Some(5060));
    assert_eq!(v[0].branch.as_deref(), Some("z9hG4bK776asdhds"));
    assert_eq!(v[0].rport, Some(None));
    assert_eq!(m.from().unwrap().tag(), Some("456248"));
    assert_eq!(m.to().unwrap().uri.user.as_deref(), Some("john.doe"));
    assert_eq!(m.call_id(), Some("843817637684230@998sdasdh09"));
    assert_eq!(m.cseq(), Some((1826, Method::Register)));
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.expires(), Some(3600));
    assert_eq!(m.content_length(), Some(0));
    let c = contact0(&m);
    assert_eq!(c.uri.user.as_deref(), Some("john.doe"));
    assert_eq!(c.uri.port, Some(5060));
    assert_eq!(c.uri.transport(), Some("udp"));
    assert_eq!(
        c.param("+sip.instance"),
        Some(Some("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""))
    );
    assert_eq!(c.expires(), Some(3600));
    let cred = m.authorization(false).unwrap().unwrap();
    assert_eq!(cred.username, "john.doe");
    assert_eq!(m.header("x-custom"), Some("Weird  ,value ; kept"));
    stable(&m);
    let out = String::from_utf8(m.to_bytes()).unwrap();
    assert!(out.contains("\r\nX-Custom: Weird  ,value ; kept\r\n"));
}

#[test]
fn contact_variants() {
    let m = p(&REGISTER.replace(
        "Contact: <sip:john.doe@10.0.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";expires=3600",
        "Contact: <sip:1002@10.0.0.3:5060;transport=tcp;ob>;expires=600",
    ));
    let c = contact0(&m);
    assert_eq!(c.uri.transport(), Some("tcp"));
    assert_eq!(c.uri.param("ob"), Some(None));
    assert_eq!(c.expires(), Some(600));
    stable(&m);

    let m = p(&REGISTER.replace(
        "Contact: <sip:john.doe@10.0.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";expires=3600",
        "Contact: <sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>;expires=60, \"Mr. Watson\" <sip:watson@worcester.example.com>;q=0.7;expires=3600;+sip.rendering=\"no\"",
    ));
    let Some(Contacts::List(l)) = m.contacts() else {
        panic!()
    };
    assert_eq!(l.len(), 2);
    assert_eq!(
        l[0].uri.param("gr"),
        Some(Some("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"))
    );
    assert_eq!(l[0].expires(), Some(60));
    assert_eq!(l[1].display_name().as_deref(), Some("Mr. Watson"));
    assert_eq!(l[1].param("q"), Some(Some("0.7")));
    assert_eq!(l[1].param("+sip.rendering"), Some(Some("\"no\"")));
    stable(&m);

    let m = p(&REGISTER.replace(
        "Contact: <sip:john.doe@10.0.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";expires=3600",
        "Contact: *",
    ));
    assert_eq!(m.contacts(), Some(Contacts::Wildcard));
}

#[test]
fn quoted_display_names_in_from_to() {
    let m = p(&REGISTER
        .replace(
            "To: <sip:john.doe@example.com>",
            r#"To: "Doe, John \"JD\" \\ Jr." <sip:john.doe@chicago.example.com>"#,
        )
        .replace(
            "From: <sip:john.doe@example.com>;tag=456248",
            r#"From: "Anonymous; <not a uri>" <sip:anonymous@anonymous.invalid>;tag=hyh8"#,
        ));
    let to = m.to().unwrap();
    assert_eq!(
        to.display_name().as_deref(),
        Some(r#"Doe, John "JD" \ Jr."#)
    );
    let from = m.from().unwrap();
    assert_eq!(from.uri.host, "anonymous.invalid");
    assert_eq!(from.tag(), Some("hyh8"));
    stable(&m);
}

#[test]
fn compact_headers_match_long_forms() {
    let compact = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
t: Bob <sip:bob@biloxi.example.com>\r\n\
i: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
m: <sip:alice@pc33.atlanta.example.com>\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\r\n";
    let long = compact
        .replace("\nv:", "\nVia:")
        .replace("\nf:", "\nFrom:")
        .replace("\nt:", "\nTo:")
        .replace("\ni:", "\nCall-ID:")
        .replace("\nm:", "\nContact:")
        .replace("\nc:", "\nContent-Type:")
        .replace("\nl:", "\nContent-Length:");
    let a = p(compact);
    let b = p(&long);
    assert_eq!(a, b);
    assert_eq!(a.vias()[0].branch.as_deref(), Some("z9hG4bKnashds8"));
    assert_eq!(a.content_type(), Some("application/sdp"));
    assert_eq!(a.body(), b"v=0\r");
    assert_eq!(a.call_id(), Some("a84b4c76e66710"));
    stable(&a);
}

#[test]
fn folded_lines() {
    let m = p("OPTIONS sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example\r\n  ;branch=z9hG4bK1\r\n\
From: <sip:alice@a.example>\r\n\t;tag=77\r\n\
To: <sip:bob@b.example>\r\n\
Subject: I know you're there,\r\n   pick up the phone\r\n\tand talk to me!\r\n\
Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_eq!(m.vias()[0].branch.as_deref(), Some("z9hG4bK1"));
    assert_eq!(m.from().unwrap().tag(), Some("77"));
    assert_eq!(
        m.header("s"),
        Some("I know you're there, pick up the phone and talk to me!")
    );
    stable(&m);
}

const THREE_VIAS: &str = "INVITE sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP p0.example:5070;branch=z9hG4bK0;received=192.0.2.1;rport=5071\r\n\
Via: SIP/2.0/TCP p1.example;branch=z9hG4bKA, SIP / 2.0 / UDP p2.example;branch=z9hG4bKB;rport=5066\r\n\
From: <sip:a@a.example>;tag=1\r\nTo: <sip:bob@b.example>\r\nCall-ID: c\r\nCSeq: 2 INVITE\r\nMax-Forwards: 70\r\n\r\n";

#[test]
fn comma_joined_vias_and_response() {
    let m = p(THREE_VIAS);
    let v = m.vias();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].received.as_deref(), Some("192.0.2.1"));
    assert_eq!(v[0].rport, Some(Some(5071)));
    assert_eq!(v[0].port, Some(5070));
    assert_eq!(
        (
            v[1].transport.as_str(),
            v[1].host.as_str(),
            v[1].branch.as_deref(),
            v[1].rport
        ),
        ("TCP", "p1.example", Some("z9hG4bKA"), None)
    );
    assert_eq!(
        (v[2].transport.as_str(), v[2].branch.as_deref(), v[2].rport),
        ("UDP", Some("z9hG4bKB"), Some(Some(5066)))
    );
    stable(&m);
    let r = response_to(&m, 200, "OK", Some("srv1")).unwrap();
    assert_eq!(r.vias(), v);
    assert_eq!(r.to().unwrap().tag(), Some("srv1"));
    assert_eq!(r.from().unwrap().tag(), Some("1"));
    assert_eq!(r.cseq(), Some((2, Method::Invite)));
    let r2 = parse(&r.to_bytes()).unwrap();
    assert_eq!(r2, r);
    assert!(matches!(r2, SipMessage::Response { code: 200, .. }));
    // An existing To tag is kept, not doubled.
    let r3 = response_to(&r2, 200, "OK", Some("x"));
    assert!(r3.is_none());
    let s = String::from_utf8(r.to_bytes()).unwrap();
    assert!(s.starts_with("SIP/2.0 200 OK\r\n"));
    assert!(s.ends_with("Content-Length: 0\r\n\r\n"));
}

const INVITE_SDP: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK74bf9\r\n\
From: <sip:alice@a.example>;tag=9fxced76sl\r\nTo: <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 1 INVITE\r\n\
Content-Type: application/sdp\r\nContent-Length: CL\r\n\r\n\
v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";

#[test]
fn content_length_rules() {
    let body_len = INVITE_SDP.split("\r\n\r\n").nth(1).unwrap().len();
    let m = p(&INVITE_SDP.replace("CL", &body_len.to_string()));
    assert_eq!(m.body().len(), body_len);
    stable(&m);
    let m = p(&INVITE_SDP.replace("CL", "3"));
    assert_eq!(m.body(), b"v=0");
    let e = parse(INVITE_SDP.replace("CL", "500").as_bytes()).unwrap_err();
    assert_eq!(e.status().map(|s| s.0), Some(400));
    let e = parse(INVITE_SDP.replace("CL", "abc").as_bytes()).unwrap_err();
    assert_eq!(e.status(), Some((400, "Bad Content-Length")));
    let e = parse(INVITE_SDP.replace("CL", "-1").as_bytes()).unwrap_err();
    assert_eq!(e.status().map(|s| s.0), Some(400));
}

#[test]
fn ipv6_and_uri_forms_in_request_line() {
    let base = THREE_VIAS.replace("sip:bob@b.example SIP/2.0", "URI SIP/2.0");
    for uri in [
        "sips:bob@[2001:db8::1]:5061;transport=tls",
        "sip:%61lice@atlanta.example.com",
        "sip:100@pbx.example.com?Subject=hi&Priority=urgent",
        "sip:alice;day=tuesday@atlanta.example.com",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    ] {
        let m = p(&base.replace("URI", uri));
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            out.starts_with(&format!("INVITE {uri} SIP/2.0\r\n")),
            "{out}"
        );
        stable(&m);
    }
    let m = p(&base
        .replace("URI", "sip:bob@[2001:db8::1]")
        .replace("p0.example:5070", "[2001:db8::9]:5070"));
    assert_eq!(m.vias()[0].host, "2001:db8::9");
    assert_eq!(m.vias()[0].port, Some(5070));
}

fn err(s: &[u8]) -> ParseError {
    match parse(s) {
        Ok(m) => panic!("parsed: {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn malformed_requests_get_400() {
    let cases: &[(&str, &str)] = &[
        (
            "Call-ID: 843817637684230@998sdasdh09\r\n",
            "Missing Call-ID",
        ),
        (
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n",
            "Missing Via",
        ),
        ("CSeq: 1826 REGISTER\r\n", "Missing CSeq"),
        ("To: <sip:john.doe@example.com>\r\n", "Missing To"),
        (
            "From: <sip:john.doe@example.com>;tag=456248\r\n",
            "Missing From",
        ),
    ];
    for (remove, reason) in cases {
        let e = err(REGISTER.replace(remove, "").as_bytes());
        assert_eq!(e.status(), Some((400, *reason)), "{remove}");
    }
    let swaps: &[(&str, &str, &str)] = &[
        (
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport",
            "Via: garbage",
            "Bad Via",
        ),
        ("CSeq: 1826 REGISTER", "CSeq: x REGISTER", "Bad CSeq"),
        (
            "CSeq: 1826 REGISTER",
            "CSeq: 1 INVITE",
            "CSeq method does not match",
        ),
        (
            "From: <sip:john.doe@example.com>;tag=456248",
            "From: \"unterminated <sip:a@b>",
            "Bad From",
        ),
        ("To: <sip:john.doe@example.com>", "To: <sip:a@b", "Bad To"),
        ("Max-Forwards: 70", "Max-Forwards: lots", "Bad Max-Forwards"),
        (
            "REGISTER sip:example.com",
            "REGISTER sip:exa<mple.com",
            "Bad Request-URI",
        ),
        (
            "Max-Forwards: 70",
            "No colon here",
            "header line without colon",
        ),
    ];
    for (from, to, reason) in swaps {
        let e = err(REGISTER.replace(from, to).as_bytes());
        assert_eq!(e.status(), Some((400, *reason)), "{to}");
    }
    let e = err(REGISTER
        .replace("REGISTER sip:", "REGISTER mailto:")
        .as_bytes());
    assert_eq!(e.status(), Some((416, "Unsupported URI Scheme")));
    let e = err(REGISTER
        .replace("REGISTER sip:", "REGISTER mailto:")
        .as_bytes());
    assert_eq!(e.status(), Some((416, "Unsupported URI Scheme")));
    // No blank line after the headers.
    let e = err(REGISTER.trim_end().as_bytes());
    assert_eq!(e.status().map(|s| s.0), Some(400));
    // 200 KB header.
    let big = REGISTER.replace(
        "User-Agent: Yealink",
        &format!("X-Big: {}\r\nUser-Agent: Yealink", "a".repeat(200 * 1024)),
    );
    assert_eq!(
        err(big.as_bytes()).status(),
        Some((400, "Header section too large"))
    );
    // Too many headers.
    let many = REGISTER.replace("Expires: 3600\r\n", &"X-A: 1\r\n".repeat(MAX_HEADERS + 1));
    assert_eq!(err(many.as_bytes()).status().map(|s| s.0), Some(400));
}

#[test]
fn not_sip_is_dropped() {
    for b in [
        &b""[..],
        b"\r\n\r\n",
        b"\x00\x01\x02\xff\xfe binary",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"hello",
        b"SIP/2.0 99 Too Low\r\n\r\n",
        b"INVITE sip:a@b SIP/3.0\r\n\r\n",
        b"INV ITE sip:a@b SIP/2.0\r\n\r\n",
    ] {
        let e = err(b);
        assert!(matches!(e, ParseError::NotSip(_)), "{e:?}");
        assert_eq!(e.status(), None);
    }
    // A broken response is never answered.
    let e = err(b"SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n");
    assert!(matches!(
        e,
        ParseError::Malformed {
            is_request: false,
            ..
        }
    ));
    assert_eq!(e.status(), None);
}

#[test]
fn lf_only_line_ends_are_tolerated() {
    let m = p(&REGISTER.replace("\r\n", "\n"));
    assert_eq!(m, p(REGISTER));
}

#[test]
fn stream_framing() {
    let one = INVITE_SDP.replace("CL", "3");
    let one = &one[..one.find("\r\n\r\n").unwrap() + 4 + 3];
    let mut buf = Vec::new();
    buf.extend_from_slice(b"\r\n\r\n");
    assert!(matches!(parse_stream(&buf), StreamParse::KeepAlive(4)));
    buf.extend_from_slice(one.as_bytes());
    buf.extend_from_slice(one.as_bytes());
    for cut in [5, 10, 30, 4 + one.len() - 1] {
        assert!(
            matches!(parse_stream(&buf[..cut]), StreamParse::Incomplete),
            "{cut}"
        );
    }
    let StreamParse::Complete(m, used) = parse_stream(&buf) else {
        panic!()
    };
    assert_eq!(used, 4 + one.len());
    assert_eq!(m.body(), b"v=0");
    let StreamParse::Complete(_, used2) = parse_stream(&buf[used..]) else {
        panic!()
    };
    assert_eq!(used2, one.len());
    // Content-Length is mandatory on streams.
    let no_cl = REGISTER.replace("Content-Length: 0\r\n", "");
    assert!(matches!(
        parse_stream(no_cl.as_bytes()),
        StreamParse::Error(ParseError::Malformed {
            is_request: true,
            ..
        })
    ));
    // Endless header section.
    let mut big = b"INVITE sip:a@b SIP/2.0\r\nX: ".to_vec();
    big.resize(MAX_HEADER_BYTES + 10, b'a');
    assert!(matches!(parse_stream(&big), StreamParse::Error(_)));
    assert!(matches!(
        parse_stream(b"\x16\x03\x01\x02\x00"),
        StreamParse::Error(ParseError::NotSip(_))
    ));
}

/// Bounded randomized mutation of valid messages: parsing must never panic, and whatever
/// parses must round-trip stably.
#[test]
fn mutations_never_panic() {
    let seeds = [
        REGISTER.to_owned(),
        THREE_VIAS.to_owned(),
        INVITE_SDP.replace("CL", "3"),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let specials = b"\r\n \t:;,<>\"\\@[]%=?&/\x00\xff";
    for i in 0..3000 {
        let mut b = seeds[i % seeds.len()].as_bytes().to_vec();
        for _ in 0..(1 + rnd() % 4) {
            let pos = (rnd() as usize) % (b.len() + 1);
            match rnd() % 4 {
                0 if pos < b.len() => b[pos] = specials[(rnd() as usize) % specials.len()],
                1 if pos < b.len() => {
                    b.remove(pos);
                }
                2 => b.insert(pos, specials[(rnd() as usize) % specials.len()]),
                _ => b.truncate(pos),
            }
        }
        if let Ok(m) = parse(&b) {
            let _ = (
                m.vias(),
                m.from(),
                m.to(),
                m.contacts(),
                m.cseq(),
                m.routes("Route"),
            );
            let out = m.to_bytes();
            let m2 =
                parse(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
            assert_eq!(m2.to_bytes(), out);
            let _ = response_to(&m, 400, "Bad Request", Some("t"));
        }
        let _ = parse_stream(&b);
    }
}

#[test]
fn headers_api() {
    let mut m = p(REGISTER);
    let h = m.headers_mut();
    h.set("expires", "60");
    h.push("Route", "<sip:p1.example;lr>, <sip:p2.example;lr>");
    h.remove("User-Agent");
    assert_eq!(m.expires(), Some(60));
    assert_eq!(m.routes("Route").unwrap().len(), 2);
    assert_eq!(m.header("User-Agent"), None);
    assert_eq!(m.header("i"), m.call_id());
    stable(&m);
}

#[test]
fn fuzz_seeds_parse() {
    for seed in [
        &include_bytes!("../../../fuzz/seeds/sip_message/register.sip")[..],
        include_bytes!("../../../fuzz/seeds/sip_message/three_vias.sip"),
        include_bytes!("../../../fuzz/seeds/sip_message/invite_sdp.sip"),
    ] {
        stable(&parse(seed).unwrap());
    }
}

/// Simplified RFC 4475 torture cases (§3.1.1.x valid, §3.1.2.x invalid).
#[test]
fn rfc4475_selection() {
    // intmeth: extension method and a URI whose userinfo holds '?', ',', ';' and ':'.
    let uri = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
    let meth = "!interesting-Method0123456789_*+`.%indeed'~";
    let m = p(&format!(
        "{meth} {uri} SIP/2.0\r\nVia: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n\
To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r\n\
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.\r\n\
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}}{{\r\nCSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n\
Max-Forwards: 255\r\nextensionHeader-!.%*+_`'~: \u{ef}\u{bb}\u{bf}\u{5927}\u{505c}\u{96fb}\r\nContent-Length: 0\r\n\r\n"
    ));
    let SipMessage::Request {
        method, uri: ruri, ..
    } = &m
    else {
        panic!()
    };
    assert_eq!(method.as_str(), meth);
    assert_eq!(ruri.to_string(), uri);
    assert_eq!(
        ruri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        m.from().unwrap().display_name().as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(m.from().unwrap().tag(), Some("_token~1'+`*%!-."));
    assert_eq!(m.to().unwrap().uri.host, "example.com");
    stable(&m);

    // lwsdisp: no space between display name and '<'.
    let m = p(&REGISTER.replace(
        "From: <sip:john.doe@example.com>;tag=456248",
        "From: caller<sip:caller@example.com>;tag=323",
    ));
    assert_eq!(m.from().unwrap().display_name().as_deref(), Some("caller"));

    // escnull: escaped NUL in the user part is kept verbatim.
    let m = p(&REGISTER.replace(
        "To: <sip:john.doe@example.com>",
        "To: sip:null-%00-null@example.com",
    ));
    assert_eq!(m.to().unwrap().uri.user.as_deref(), Some("null-%00-null"));
    stable(&m);

    // mcl01: conflicting Content-Length values.
    let e = err(REGISTER
        .replace(
            "Content-Length: 0\r\n",
            "Content-Length: 0\r\nl: 5\r\n\r\nhello",
        )
        .as_bytes());
    assert_eq!(e.status(), Some((400, "Conflicting Content-Length")));

    // dblreq-like: two messages in one datagram; the Content-Length ends the first.
    let two = format!("{REGISTER}{REGISTER}");
    let m = p(&two);
    assert!(m.body().is_empty());

    // Negative / huge Content-Length and Max-Forwards overflow.
    for (a, b) in [
        ("Content-Length: 0", "Content-Length: 9999999999999"),
        ("Max-Forwards: 70", "Max-Forwards: 99999999999999"),
    ] {
        assert_eq!(
            err(REGISTER.replace(a, b).as_bytes()).status().map(|s| s.0),
            Some(400)
        );
    }
}

#[test]
fn an_overlong_header_is_a_400() {
    let long = "a".repeat(MAX_HEADER_VALUE + 1);
    let raw = format!(
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nX-Long: {long}\r\n\r\n"
    );
    let e = parse(raw.as_bytes()).expect_err("too long");
    assert_eq!(e.status().map(|s| s.0), Some(400));
    // Folded lines count after unfolding.
    let half = "b".repeat(MAX_HEADER_VALUE / 2 + 8);
    let raw = format!(
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nX-Long: {half}\r\n {half}\r\n\r\n"
    );
    assert!(parse(raw.as_bytes()).is_err());
}
