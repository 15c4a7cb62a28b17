//! SIP message layer speed: parse a typical digest-authenticated REGISTER and read the
//! typed headers a registrar needs (budget from docs/decisions/sip-stack.md: ≤ 5 µs).
//! `cargo bench --bench sip_parse`.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrisk::sip::message::parse;

const REGISTER: &str = "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK-524287-1---a3b9b2a5c4c3d2e1\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:1000@127.0.0.1:5070;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000000001>\";expires=3600\r\n\
To: <sip:1000@127.0.0.1>\r\n\
From: \"Alice\" <sip:1000@127.0.0.1>;tag=4a1b2c3d\r\n\
Call-ID: 8f1c3a5e7b9d1f2a4c6e8a0b2d4f6a8c@127.0.0.1\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
User-Agent: baresip v1.0.0 (x86_64/linux)\r\n\
Authorization: Digest username=\"1000\",realm=\"asterisk\",nonce=\"1a2b3c4d5e6f\",uri=\"sip:127.0.0.1\",response=\"6629fae49393a05397450978507c4ef1\",algorithm=MD5,cnonce=\"0a4f113b\",qop=auth,nc=00000001\r\n\
Content-Length: 0\r\n\r\n";

fn bench(c: &mut Criterion) {
    c.bench_function("typed_register_parse", |b| {
        b.iter(|| {
            let m = parse(REGISTER.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
            std::hint::black_box((m.vias(), m.from(), m.to(), m.contacts(), m.cseq()));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
