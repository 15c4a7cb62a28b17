//! SRTP cost per call: protecting and unprotecting one 20 ms G.711 packet (12-byte header,
//! 160-byte payload) with `AES_CM_128_HMAC_SHA1_80`. One call-second of an SRTP leg is 50
//! packets each way, so its SRTP CPU cost is 50 × (protect + unprotect), plus 1 SRTCP
//! report in 5 s. `cargo bench --bench srtp`.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrisk::media::srtp::{MasterKey, SrtpContext, Suite};

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0x55; 160]);
    p
}

fn bench(c: &mut Criterion) {
    let key = MasterKey::random();
    let suite = Suite::AesCm128HmacSha1_80;
    let mut tx = SrtpContext::new(suite, &key);
    let mut seq = 0u16;
    c.bench_function("srtp_protect_g711_20ms", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let mut p = packet(seq);
            tx.protect_rtp(&mut p).unwrap_or_else(|e| panic!("{e}"));
            std::hint::black_box(p);
        })
    });
    // Unprotect needs fresh sequence numbers (replays are refused): protect a run first.
    let mut tx = SrtpContext::new(suite, &key);
    let protected: Vec<Vec<u8>> = (0..u16::MAX)
        .map(|s| {
            let mut p = packet(s);
            tx.protect_rtp(&mut p).unwrap_or_else(|e| panic!("{e}"));
            p
        })
        .collect();
    let mut rx = SrtpContext::new(suite, &key);
    let mut i = 0usize;
    c.bench_function("srtp_unprotect_g711_20ms", |b| {
        b.iter(|| {
            if i == protected.len() {
                rx = SrtpContext::new(suite, &key);
                i = 0;
            }
            let mut p = protected[i].clone();
            i += 1;
            std::hint::black_box(rx.unprotect_rtp(&mut p).unwrap_or_else(|e| panic!("{e}")));
        })
    });
    c.bench_function("plain_packet_copy_g711_20ms", |b| {
        b.iter(|| std::hint::black_box(packet(7)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
