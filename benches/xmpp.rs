//! XMPP: what a connection costs per received chat message (stream cut into stanzas,
//! parsed, turned into an incoming message) and per sent one (stanza built and
//! serialised). 10,000 messages arriving in 4 KiB reads, as TCP delivers them.
//! `cargo bench --bench xmpp`; the whole-daemon figure with a real Prosody comes from
//! `contrib/bench/xmpp_messages.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrisk::xmpp::{Output, Session, SessionConfig, Show};
use std::time::Instant;

fn cfg() -> SessionConfig {
    SessionConfig {
        user: "pbx@localhost".into(),
        resource: "asterisk-xmpp".into(),
        password: "secret".into(),
        use_tls: false,
        use_sasl: true,
        priority: 1,
        status: Show::Available,
        status_message: "Online".into(),
        buddies: vec![],
        autoregister: false,
        autoprune: false,
        auth_accept: true,
        keepalive: true,
    }
}

/// A session logged in (PLAIN, bind, roster) on a scripted server.
fn connected() -> Session {
    let t = Instant::now();
    let mut s = Session::new(cfg(), "n", t);
    s.connect(t);
    let hdr = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s' version='1.0'>";
    s.receive(format!("{hdr}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>").as_bytes(), t);
    s.receive(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", t);
    s.receive(format!("{hdr}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>").as_bytes(), t);
    s.receive(b"<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>pbx@localhost/asterisk-xmpp</jid></bind></iq>", t);
    s.receive(
        b"<iq type='result' id='roster'><query xmlns='jabber:iq:roster'/></iq>",
        t,
    );
    while s.poll().is_some() {}
    s
}

const N: usize = 10_000;

fn incoming(c: &mut Criterion) {
    let mut stream = Vec::new();
    for i in 0..N {
        stream.extend_from_slice(
            format!(
                "<message from='alice@localhost/phone' to='pbx@localhost/asterisk-xmpp' type='chat' id='m{i}'>\
                 <body>Incoming call from &quot;Bob&quot; &lt;1000&gt;: press 1 or 2 ({i})</body>\
                 <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
            )
            .as_bytes(),
        );
    }
    let mut g = c.benchmark_group("xmpp");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("receive 10k chat messages (4 KiB reads)", |b| {
        b.iter_batched(
            connected,
            |mut s| {
                let t = Instant::now();
                let mut got = 0;
                for chunk in stream.chunks(4096) {
                    s.receive(chunk, t);
                    while let Some(o) = s.poll() {
                        if matches!(o, Output::Message(_)) {
                            got += 1;
                        }
                    }
                }
                assert_eq!(got, N);
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("send 10k chat messages", |b| {
        b.iter_batched(
            connected,
            |mut s| {
                let mut bytes = 0;
                for i in 0..N {
                    s.send_message(
                        "alice@localhost",
                        &format!("Incoming call from <1000> ({i})"),
                        false,
                    )
                    .expect("connected");
                    while let Some(Output::Send(t)) = s.poll() {
                        bytes += t.len();
                    }
                }
                assert!(bytes > 0);
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, incoming);
criterion_main!(benches);
