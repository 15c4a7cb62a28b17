//! Festival() end to end: the real `ferrisk` daemon, a real `festival --server`, and a real
//! baresip phone whose recording of what it heard (its `sndfile` dump) is checked for
//! speech: energy, and a duration that fits the text. Also the interrupt key, the cache
//! (second call with the server stopped), a server that is down or answers `ER`, and the
//! book's `System(… text2wave …)` + `Playback()` alternative.

mod common;

use common::audio::read_dump;
use common::festival::FestivalServer;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 203,1,Verbose(2,This is a Festival test)
 same => n,Answer()
 same => n,Festival(Hello World)
 same => n,Set(DB(test/after)=played)
 same => n,Hangup()
exten => 204,1,Answer()
 same => n,Festival(This is a long sentence that takes several seconds to say. Press five to stop it. It goes on and on for a good while longer than the test waits.,5)
 same => n,Set(DB(test/after)=not interrupted)
 same => n,Hangup()
exten => 5,1,Set(DB(test/key)=5)
 same => n,Hangup()
exten => 205,1,Answer()
 same => n,Festival(He said \"yes\" (and) left; 100% sure)
 same => n,Set(DB(test/after)=quoted)
 same => n,Hangup()
exten => 202,1,Verbose(2,Trying out Festival)
 same => n,Answer()
 same => n,System(echo \"This is a test of Festival\" | text2wave -scale 1.5 -F 8000 -o ${TTSFILE}.wav)
 same => n,Playback(${TTSFILE})
 same => n,System(rm -f ${TTSFILE}.wav)
 same => n,Hangup()
exten => h,1,Set(DB(test/h)=done)
";

struct Pbx {
    d: Daemon,
    sip: u16,
}

/// ferrisk with festival.conf pointing at `port` (+ `extra` lines), guests allowed.
fn start(dir: tempfile::TempDir, port: u16, extra: &str) -> Pbx {
    let sip = free_port();
    let rtp = free_ports(6);
    let rtp = rtp + (rtp & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n"
    );
    let festival = format!("[general]\nhost=127.0.0.1\nport={port}\n{extra}");
    let tts = dir.path().join("tts-test");
    let ext = EXTENSIONS.replace(
        "[guests]\n",
        &format!("[globals]\nTTSFILE={}\n\n[guests]\n", tts.display()),
    );
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_V3),
            ("extensions.conf", &ext),
            ("sip.conf", &sip_conf),
            (
                "rtp.conf",
                &format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 3),
            ),
            ("festival.conf", &festival),
        ],
    );
    std::fs::create_dir_all(dir.path().join("data/sounds/en")).expect("sounds dir");
    Pbx {
        d: Daemon::launch(dir),
        sip,
    }
}

/// baresip calls `exten`, the call runs until ferrisk hangs up; what baresip heard.
fn call(p: &Pbx, exten: &str, during: impl FnOnce(&mut Baresip)) -> (Vec<i16>, Duration) {
    let mut b = Baresip::start_with(
        free_ports(3),
        &[format!("<sip:guest@127.0.0.1:{}>;regint=0", p.sip)],
        None,
        true,
    );
    b.request("dial", &format!("sip:{exten}@127.0.0.1:{}", p.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    let t = Instant::now();
    during(&mut b);
    b.wait_event("CALL_CLOSED", 40);
    let took = t.elapsed();
    let dumps = b.dumped("dec");
    assert_eq!(
        dumps.len(),
        1,
        "one received-audio dump: {dumps:?}\n{}",
        b.log()
    );
    (read_dump(&dumps[0]), took)
}

/// Seconds of `s` (8 kHz) in 20 ms windows louder than an RMS of 300.
fn voiced_secs(s: &[i16]) -> f64 {
    let loud = s
        .chunks(160)
        .filter(|w| {
            let e: f64 = w.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
            (e / w.len() as f64).sqrt() > 300.0
        })
        .count();
    loud as f64 * 0.02
}

fn assert_speech(s: &[i16], min: f64, max: f64, what: &str) {
    let v = voiced_secs(s);
    assert!(
        v >= min && v <= max,
        "{what}: {v:.2} s of speech heard (expected {min}–{max} s) in {} samples",
        s.len()
    );
}

#[test]
fn festival_speaks_hello_world_to_a_sip_phone() {
    let dir = tempdir();
    let server = FestivalServer::start(dir.path());
    let p = start(dir, server.port, "");
    let (heard, _) = call(&p, "203", |_| {});
    // "Hello World" is a little over a second of speech.
    assert_speech(&heard, 0.5, 3.0, "Festival(Hello World)");
    assert_eq!(p.d.wait_db("test", "after"), "played");
    assert!(server.log().contains("accepted from"), "{}", server.log());
}

#[test]
fn a_key_in_intkeys_stops_the_speech_and_dials_it() {
    let dir = tempdir();
    let server = FestivalServer::start(dir.path());
    let p = start(dir, server.port, "");
    let (heard, took) = call(&p, "204", |b| {
        std::thread::sleep(Duration::from_millis(2500));
        b.request("sndcode", "5");
    });
    assert_eq!(p.d.wait_db("test", "key"), "5");
    assert!(
        took < Duration::from_secs(8),
        "the call went on for {took:?} after the key"
    );
    assert_speech(&heard, 0.5, 6.0, "the interrupted sentence");
    let out = p.d.rx_output("database get test after");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("not interrupted"),
        "the speech was not interrupted"
    );
}

#[test]
fn quotes_and_parentheses_in_the_text_are_spoken() {
    let dir = tempdir();
    let server = FestivalServer::start(dir.path());
    let p = start(dir, server.port, "");
    let (heard, _) = call(&p, "205", |_| {});
    assert_speech(&heard, 0.5, 6.0, "text with quotes");
    assert_eq!(p.d.wait_db("test", "after"), "quoted");
}

#[test]
fn the_cache_speaks_without_the_server() {
    let dir = tempdir();
    let cache = dir.path().join("fcache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut server = FestivalServer::start(dir.path());
    let p = start(
        dir,
        server.port,
        &format!("usecache=yes\ncachedir={}\n", cache.display()),
    );
    let (first, _) = call(&p, "203", |_| {});
    assert_speech(&first, 0.5, 3.0, "first call");
    // app_festival's file name: the MD5 of the text, each byte in hex without a 0 pad.
    let file = cache.join("B1A8DB164E075415B7A99BE72E3FE5");
    wait_for(5, "the cache file", || file.exists().then_some(()));
    server.stop();
    let _ = p.d.rx("database del test after");
    let (second, _) = call(&p, "203", |_| {});
    assert_speech(&second, 0.5, 3.0, "second call, from the cache");
    assert_eq!(p.d.wait_db("test", "after"), "played");
    assert!(
        !p.d.console().contains("connect to server failed"),
        "{}",
        p.d.console()
    );
}

#[test]
fn a_server_that_is_down_or_answers_er_ends_the_call_with_a_warning() {
    let dir = tempdir();
    let dead = free_port();
    let p = start(dir, dead, "");
    let (_, took) = call(&p, "203", |_| {});
    assert!(took < Duration::from_secs(8), "hung for {took:?}");
    p.d.wait_console("festival_client: connect to server failed", 1);
    assert_eq!(p.d.wait_db("test", "h"), "done");
    // Still running: the CLI answers.
    assert!(p
        .d
        .rx("core show application Festival")
        .contains("Festival(text"));

    let dir = tempdir();
    let server = FestivalServer::start(dir.path());
    let p = start(
        dir,
        server.port,
        "festivalcommand=(no_such_function \"%s\")(quit)\\n\n",
    );
    let (_, took) = call(&p, "203", |_| {});
    assert!(took < Duration::from_secs(8), "hung for {took:?}");
    p.d.wait_console("Festival returned ER", 1);
}

#[test]
fn the_books_text2wave_and_playback_alternative_works() {
    let dir = tempdir();
    require_bin("text2wave", "festival");
    let p = start(dir, free_port(), "");
    let (heard, _) = call(&p, "202", |_| {});
    assert_speech(&heard, 0.8, 4.0, "text2wave + Playback");
    assert!(!Path::new(&format!("{}/tts-test.wav", p.d.path().display())).exists());
}
