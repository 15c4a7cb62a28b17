//! Fuzz target for the SIP driver's protocol core (`ferrisk::channels::sip::core::Core`): any
//! sequence of messages, timer ticks and channel requests must never panic, and everything the
//! core queues for the wire must be non-empty.
//!
//! Input: chunks separated by two NUL bytes. The first byte of a chunk is a control byte:
//! bits 0-1 pick the source address, bit 2 advances the clock by `(byte >> 3) * 100 ms` and
//! runs the timers first, bits 5-7 (when bit 2 is clear) ask the core to answer / ring /
//! hang up channel `1 + (byte & 3)`. The rest of the chunk is one SIP message.
#![no_main]

use ferrisk::channels::sip::core::Core;
use ferrisk::channels::sipconf::{parse_sip_conf, SipConfig};
use ferrisk::config::{load_str, LoadOptions};
use ferrisk::pbx::channel::ChanEvent;
use ferrisk::pbx::{dialplan_from_str, Pbx};
use ferrisk::sip::message::parse;
use ferrisk::sip::transport::{Proto, Received};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

const CONF: &str = "\
[general]
context=public
accept_outofcall_message=yes
max_registers_per_second=1000

[alice]
type=friend
host=dynamic
secret=alicepw
context=internal

[bob]
type=friend
host=dynamic
context=internal

[trunk]
type=peer
host=127.0.0.1
port=5099
secret=trunkpw
insecure=invite
context=from-trunk
";

const DIALPLAN: &str = "\
[internal]
exten => 100,1,Answer()
exten => _2XX,1,Answer()

[public]
exten => 100,1,Answer()

[from-trunk]
exten => _X.,1,Answer()
";

struct Env {
    pbx: Arc<Pbx>,
    cfg: Arc<SipConfig>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let pbx = Pbx::for_tests();
        let (dp, _) = dialplan_from_str("extensions.conf", DIALPLAN).expect("dialplan");
        pbx.set_dialplan(dp);
        let cf = load_str(
            std::path::Path::new("/tmp"),
            "sip.conf",
            CONF,
            &LoadOptions::default(),
        )
        .expect("sip.conf");
        let cfg = Arc::new(parse_sip_conf(&cf).expect("sip.conf parses").0);
        Env { pbx, cfg }
    })
}

const SOURCES: [&str; 4] = [
    "127.0.0.1:5070",
    "127.0.0.1:5099",
    "[::1]:5060",
    "203.0.113.5:40000",
];

fn split_chunks(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 {
            out.push(&data[start..i]);
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&data[start..]);
    out
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    let mut now = Instant::now();
    let mut core = Core::new(
        &env.pbx,
        env.cfg.clone(),
        "127.0.0.1:5060".parse().expect("addr"),
        Weak::new(),
        now,
    );
    for chunk in split_chunks(data).into_iter().take(64) {
        let Some((&ctl, msg)) = chunk.split_first() else {
            continue;
        };
        let src: SocketAddr = SOURCES[usize::from(ctl & 3)].parse().expect("addr");
        if ctl & 4 != 0 {
            now += Duration::from_millis(u64::from(ctl >> 3) * 100);
            core.on_timer(now);
        } else {
            let id = 1 + u64::from(ctl & 3);
            match ctl >> 5 {
                1 => core.answer(id, now),
                2 => core.indicate(id, &ChanEvent::Ringing, now),
                3 => core.indicate(id, &ChanEvent::Busy, now),
                4 => core.hangup(id, 16, now),
                _ => {}
            }
        }
        if let Ok(m) = parse(msg) {
            core.on_receive(
                Received {
                    msg: m,
                    src,
                    proto: Proto::Udp,
                    raw: msg.to_vec(),
                },
                now,
            );
        }
        for (_, bytes) in core.take_output() {
            assert!(!bytes.is_empty(), "the core queued an empty datagram");
        }
        // Spawned channels are dropped here (their dialplan never runs).
        drop(core.take_actions());
    }
    now += Duration::from_secs(40);
    core.on_timer(now);
    drop(core.take_output());
    drop(core.take_actions());
});
