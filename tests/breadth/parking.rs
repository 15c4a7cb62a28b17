//! parking: call parking (res_parking.so), directed pickup (app_directed_pickup.so) and the
//! bridge applications (Bridge, BridgeWait, BridgeAdd) against the real daemon. SIPp guests
//! do the signalling; the test sends and receives each leg's RTP itself (a daemon's RTP
//! sessions take `rtpstart`, +2, +4 … in call order), so what a party hears is checked by
//! content: the announced space as the Debian prompts' µ-law bytes, each party's tone at
//! the other end of a bridge.

use crate::common::rtp_tone::{hears, leg};
use crate::common::*;
use std::net::UdpSocket;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SOUNDS: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";

const RES_PARKING: &str = "[general]\n\n[default]\nparkext => 700\nparkpos => 701-720\n\
    context => parkedcalls\nparkingtime => 45\nparkinghints = yes\n";

struct Pbx {
    d: Daemon,
    sip: u16,
    rtp: u16,
}

/// A daemon taking guest calls into `[guests]`, RTP ports for `legs` sessions, `peers`
/// appended to sip.conf, the digit prompts in its sounds.
fn start(extensions: &str, res_parking: &str, peers: &str, legs: u16) -> Pbx {
    start_more(extensions, res_parking, peers, legs, &[])
}

/// [`start`] with more config files (`manager.conf`, `features.conf`).
fn start_more(
    extensions: &str,
    res_parking: &str,
    peers: &str,
    legs: u16,
    more: &[(&str, &str)],
) -> Pbx {
    let sip = free_port();
    let base = free_ports(2 * legs + 2);
    let rtp = base + (base & 1);
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n{peers}"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 2 * legs - 1);
    let dir = tempdir();
    let mut files = vec![
        ("ferrisk.conf", FERRISK_CONF_V3),
        ("extensions.conf", extensions),
        ("sip.conf", sip_conf.as_str()),
        ("rtp.conf", rtp_conf.as_str()),
        ("res_parking.conf", res_parking),
    ];
    files.extend_from_slice(more);
    write_configs(dir.path(), &files);
    let digits = dir.path().join("data/sounds/en/digits");
    std::fs::create_dir_all(&digits).expect("sounds dir");
    for d in ["0", "1", "7"] {
        let wav = Path::new(SOUNDS).join(format!("digits/{d}.wav"));
        assert!(
            wav.is_file(),
            "{} missing: apt-get install asterisk-core-sounds-en-wav",
            wav.display()
        );
        std::fs::copy(&wav, digits.join(format!("{d}.wav"))).expect("copy prompt");
    }
    Pbx {
        d: Daemon::launch(dir),
        sip,
        rtp,
    }
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    s
}

/// A guest call to `exten` (PCMU only), SDP media at `sock`, in the background.
fn guest_call(p: &Pbx, exten: &str, sock: &UdpSocket) -> SippChild {
    Sipp::new("uac_media_codec.xml", Some(p.sip))
        .local_port(free_port())
        .service(exten)
        .key("from_user", "guest")
        .key("rtp_port", sock.local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(40)
        .spawn()
}

fn rtp(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 0];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&0x7a7a_u32.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// µ-law codes that decode to the same sample compare equal.
fn norm(p: &[u8]) -> Vec<u8> {
    p.iter()
        .map(|&b| if b == 0x7f { 0xff } else { b })
        .collect()
}

/// Whether the prompt `digits/d` arrived, byte for byte from its second frame on.
fn heard_prompt(got: &[u8], d: &str) -> bool {
    let wav = Path::new(SOUNDS).join(format!("digits/{d}.wav"));
    let s = ferrisk::media::wav::read_wav(&wav).expect("read prompt");
    let want = norm(&ferrisk::media::g711::ulaw_encode(&s));
    let got = norm(got);
    let Some(first) = want.get(160..320) else {
        return false;
    };
    got.windows(160).any(|w| w == first)
}

const PARK_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
include => parkedcalls
exten => 800,1,Answer()
 same => n,Set(BLINDTRANSFER=SIP/phone-00000009)
 same => n,Park(,st(2))

[parkedcalls]
";

/// A caller dials the lot's parkext (700, an extension res_parking added): it hears its
/// space (7-0-1 said as digits) and is parked; `parking show` lists it; another caller
/// dials 701 (ParkedCall, added too) and the two hear each other.
#[test]
fn a_parked_call_hears_its_space_and_is_retrieved_at_701() {
    let p = start(PARK_EXTENSIONS, RES_PARKING, "", 2);
    let shown = p.d.rx("dialplan show parkedcalls");
    assert!(
        shown.contains("'701' =>") && shown.contains("ParkedCall(default,701)"),
        "{shown}"
    );
    assert!(shown.contains("[res_parking/default]"), "{shown}");
    let (sa, sb) = (udp(), udp());
    let a = guest_call(&p, "700", &sa);
    let la = leg(sa, p.rtp, 500.0, 12_000);
    let lot = p.d.rx_until("parking show default", 15, |o| {
        o.contains("Space               :  701")
    });
    assert!(lot.contains("Parker Dial String  :  SIP/"), "{lot}");
    let hints = p.d.rx("core show hints");
    let hint = hints
        .lines()
        .find(|l| l.contains("701@parkedcalls"))
        .unwrap_or_else(|| panic!("no parking hint in\n{hints}"));
    assert!(
        hint.contains("park:701@parkedcalls") && hint.contains("InUse"),
        "{hint}"
    );
    // Let the announcement finish before the retrieval.
    std::thread::sleep(Duration::from_secs(3));
    let b = guest_call(&p, "701", &sb);
    let lb = leg(sb, p.rtp + 2, 900.0, 6_000);
    let (ha, hb) = (la.join().expect("leg a"), lb.join().expect("leg b"));
    p.d.rx("channel request hangup all");
    assert!(
        heard_prompt(&ha, "7") && heard_prompt(&ha, "0") && heard_prompt(&ha, "1"),
        "the parked caller did not hear 7-0-1\n{}",
        p.d.console()
    );
    assert!(
        hears(&ha, 900.0, 500.0),
        "the parked caller does not hear the retriever\n{}",
        p.d.console()
    );
    assert!(
        hears(&hb, 500.0, 900.0),
        "the retriever does not hear the parked caller\n{}",
        p.d.console()
    );
    let _ = a.wait();
    let _ = b.wait();
    let after = p.d.rx("parking show default");
    assert!(after.contains("  (none)"), "{after}");
}

/// Parked with t(2) after a blind transfer from SIP/phone: the time runs out, park-dial
/// dials the phone back (comebacktoorigin=yes) and the phone talks to the parked caller.
#[test]
fn a_parking_timeout_comes_back_to_the_parker() {
    let phone = free_port();
    let peers = format!(
        "[phone]\ntype=peer\nhost=127.0.0.1\nport={phone}\ncontext=guests\ndisallow=all\nallow=ulaw\n"
    );
    let p = start(PARK_EXTENSIONS, RES_PARKING, &peers, 2);
    let sp = udp();
    let uas = Sipp::new("uas_media_wait.xml", None)
        .local_port(phone)
        .service("phone")
        .key("rtp_port", sp.local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(40)
        .spawn();
    let sa = udp();
    let a = guest_call(&p, "800", &sa);
    let la = leg(sa, p.rtp, 500.0, 9_000);
    p.d.wait_console("timed out in lot default at space 701", 1);
    let lp = leg(sp, p.rtp + 2, 900.0, 5_000);
    let (ha, hp) = (la.join().expect("leg a"), lp.join().expect("phone"));
    let dp = p.d.rx("dialplan show park-dial");
    p.d.rx("channel request hangup all");
    assert!(
        dp.contains("'SIP_phone' =>") && dp.contains("Dial(SIP/phone,30)"),
        "{dp}"
    );
    assert!(
        hears(&hp, 500.0, 900.0),
        "the parker does not hear the parked caller\n{}",
        p.d.console()
    );
    assert!(
        hears(&ha, 900.0, 500.0),
        "the parked caller does not hear the parker\n{}",
        p.d.console()
    );
    let _ = a.wait();
    uas.wait()
        .assert_ok("the phone was called back and hung up");
}

const PICKUP_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 600,1,Dial(SIP/phone,30,g)
 same => n,Set(DB(test/dialstatus)=${DIALSTATUS})
 same => n,Hangup()
exten => 8,1,Pickup(600@guests)
exten => 9,1,Pickup()
";

/// Dial() rings SIP/phone (which never answers); another caller runs Pickup(600@guests):
/// the phone's INVITE is cancelled, the two callers talk, and the first one's DIALSTATUS
/// is ANSWER.
#[test]
fn a_ringing_dial_leg_is_picked_up() {
    pickup_case("8", false);
}

/// Group pickup: the phone is in callgroup 1, the picker (peer 1000, digest auth) in
/// pickupgroup 1; Pickup() without arguments takes the ringing leg.
#[test]
fn a_ringing_leg_of_the_pickup_group_is_picked_up() {
    pickup_case("9", true);
}

fn pickup_case(picker_exten: &str, picker_is_peer: bool) {
    let phone = free_port();
    let peers = format!(
        "[phone]\ntype=peer\nhost=127.0.0.1\nport={phone}\ncontext=guests\ndisallow=all\nallow=ulaw\n\
         callgroup=1\n\n[1000]\ntype=friend\nhost=dynamic\nsecret=s1000\ncontext=guests\n\
         disallow=all\nallow=ulaw\npickupgroup=1\n"
    );
    let p = start(PICKUP_EXTENSIONS, RES_PARKING, &peers, 3);
    let uas = Sipp::new("uas_noanswer.xml", None)
        .local_port(phone)
        .service("phone")
        .timeout(40)
        .spawn();
    let (sa, sb) = (udp(), udp());
    let a = guest_call(&p, "600", &sa);
    p.d.wait_console("is ringing", 1);
    let b = if picker_is_peer {
        Sipp::new("uac_media_codec.xml", Some(p.sip))
            .local_port(free_port())
            .service(picker_exten)
            .key("from_user", "1000")
            .key("rtp_port", sb.local_addr().expect("addr").port())
            .key("pt", 0)
            .key("codec", "PCMU")
            .auth("1000", "s1000")
            .timeout(40)
            .spawn()
    } else {
        guest_call(&p, picker_exten, &sb)
    };
    // Caller: the first session; the phone's leg: the second (its SDP offer); the picker:
    // the third.
    let la = leg(sa, p.rtp, 500.0, 5_000);
    let lb = leg(sb, p.rtp + 4, 900.0, 5_000);
    let (ha, hb) = (la.join().expect("a"), lb.join().expect("b"));
    uas.wait().assert_ok("the phone's INVITE was cancelled");
    assert!(
        hears(&ha, 900.0, 500.0),
        "the caller does not hear the picker\n{}",
        p.d.console()
    );
    assert!(
        hears(&hb, 500.0, 900.0),
        "the picker does not hear the caller\n{}",
        p.d.console()
    );
    // The picker hangs up: `g` goes on with DIALSTATUS=ANSWER.
    let chans = p.d.rx("core show channels concise");
    let picker = chans
        .lines()
        .find(|l| l.contains("!Pickup!"))
        .and_then(|l| l.split('!').next())
        .unwrap_or_else(|| panic!("no picker in\n{chans}"))
        .to_string();
    p.d.rx(&format!("channel request hangup {picker}"));
    assert_eq!(p.d.wait_db("test", "dialstatus"), "ANSWER");
    let _ = a.wait();
    let _ = b.wait();
}

const BRIDGE_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
exten => 50,1,Answer()
 same => n,Set(DB(test/a)=${CHANNEL})
 same => n,Wait(30)
exten => 51,1,Bridge(${DB(test/a)})
exten => 60,1,BridgeWait(hold,participant,e(s))
exten => 61,1,BridgeWait(hold,announcer)
";

/// Bridge() pulls a call out of Wait(): the two callers hear each other; BRIDGERESULT.
#[test]
fn bridge_joins_two_calls() {
    let p = start(BRIDGE_EXTENSIONS, RES_PARKING, "", 2);
    let (sa, sb) = (udp(), udp());
    let a = guest_call(&p, "50", &sa);
    let name = p.d.wait_db("test", "a");
    assert!(name.starts_with("SIP/"), "{name}");
    let b = guest_call(&p, "51", &sb);
    let la = leg(sa, p.rtp, 500.0, 5_000);
    let lb = leg(sb, p.rtp + 2, 900.0, 5_000);
    let (ha, hb) = (la.join().expect("a"), lb.join().expect("b"));
    let console = p.d.console();
    p.d.rx("channel request hangup all");
    assert!(
        console.contains(&format!("joined bridge with {name}")),
        "{console}"
    );
    assert!(hears(&ha, 900.0, 500.0), "a does not hear b\n{console}");
    assert!(hears(&hb, 500.0, 900.0), "b does not hear a\n{console}");
    let _ = a.wait();
    let _ = b.wait();
}

/// BridgeWait(): a participant waits in the holding bridge; the announcer's voice reaches it.
#[test]
fn bridgewait_holds_and_the_announcer_is_heard() {
    let p = start(BRIDGE_EXTENSIONS, RES_PARKING, "", 2);
    let (sa, sb) = (udp(), udp());
    let a = guest_call(&p, "60", &sa);
    p.d.wait_console("joined 'holding' base-bridge <hold>", 1);
    let b = guest_call(&p, "61", &sb);
    let la = leg(sa, p.rtp, 500.0, 5_000);
    let lb = leg(sb, p.rtp + 2, 900.0, 5_000);
    let (ha, _hb) = (la.join().expect("a"), lb.join().expect("b"));
    let console = p.d.console();
    p.d.rx("channel request hangup all");
    assert!(
        hears(&ha, 900.0, 500.0),
        "the participant does not hear the announcer\n{console}"
    );
    let _ = a.wait();
    let _ = b.wait();
}

const EVENT_EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[guests]
include => parkedcalls
exten => 800,1,Answer()
 same => n,Park(,st(1))
exten => 900,1,Answer()
 same => n,Wait(30)
exten => 810,1,Dial(SIP/phone,20,K)
exten => 811,1,Dial(SIP/phone,20,k)

[parkedcalls]
";

/// Parking seen from AMI: a call parked at 700 gives ParkedCall (Parkee…, space 701);
/// the Parkinglots and ParkedCalls actions list the lot and the call; retrieving it at
/// 701 gives UnParkedCall with the Retriever…; a Park() with t(1) times out
/// (ParkedCallTimeOut); the Park action parks a call running Wait() by its channel name
/// and its hang-up while parked is a ParkedCallGiveUp.
#[test]
fn parking_events_and_actions_reach_ami() {
    let ami = free_port();
    let manager = manager_conf(ami);
    let p = start_more(
        EVENT_EXTENSIONS,
        RES_PARKING,
        "",
        4,
        &[("manager.conf", &manager)],
    );
    let mut a = AmiSession::login(ami);
    let (sa, sb) = (udp(), udp());
    let ca = guest_call(&p, "700", &sa);
    let parked = a.event("ParkedCall", 30);
    assert!(
        ami_value(&parked, "ParkeeChannel").starts_with("SIP/127.0.0.1-"),
        "{parked}"
    );
    assert_eq!(ami_value(&parked, "ParkingSpace"), "701", "{parked}");
    assert_eq!(ami_value(&parked, "Parkinglot"), "default", "{parked}");
    assert_eq!(ami_value(&parked, "ParkingTimeout"), "45", "{parked}");
    assert_eq!(ami_value(&parked, "Privilege"), "call,all", "{parked}");
    let lots = a.list("Parkinglots", &[], "ParkinglotsComplete");
    let lot = lots
        .iter()
        .find(|m| m.starts_with("Event: Parkinglot\r\n"))
        .unwrap_or_else(|| panic!("no Parkinglot in {lots:?}"));
    assert_eq!(ami_value(lot, "Name"), "default", "{lot}");
    assert_eq!(ami_value(lot, "StartSpace"), "701", "{lot}");
    assert_eq!(ami_value(lot, "StopSpace"), "720", "{lot}");
    assert_eq!(ami_value(lot, "Timeout"), "45", "{lot}");
    let calls = a.list("ParkedCalls", &[], "ParkedCallsComplete");
    assert!(
        calls[0].contains("Message: Parked calls will follow"),
        "{calls:?}"
    );
    let call = calls
        .iter()
        .find(|m| m.starts_with("Event: ParkedCall\r\n"))
        .unwrap_or_else(|| panic!("no ParkedCall in {calls:?}"));
    assert_eq!(ami_value(call, "ParkingSpace"), "701", "{call}");
    assert!(
        calls.last().is_some_and(|m| m.contains("Total: 1")),
        "{calls:?}"
    );
    let r = a.list("ParkedCalls", &[("ParkingLot", "nosuch")], "");
    assert!(
        r[0].contains("Requested parking lot could not be found."),
        "{r:?}"
    );
    // Retrieval.
    let cb = guest_call(&p, "701", &sb);
    let unparked = a.event("UnParkedCall", 30);
    assert!(
        ami_value(&unparked, "RetrieverChannel").starts_with("SIP/127.0.0.1-"),
        "{unparked}"
    );
    assert_eq!(ami_value(&unparked, "ParkingSpace"), "701", "{unparked}");
    p.d.rx("channel request hangup all");
    let _ = ca.wait();
    let _ = cb.wait();
    // A timeout.
    let sc = udp();
    let cc = guest_call(&p, "800", &sc);
    let parked = a.event("ParkedCall", 30);
    assert_eq!(ami_value(&parked, "ParkingTimeout"), "1", "{parked}");
    let timeout = a.event("ParkedCallTimeOut", 30);
    assert!(
        ami_value(&timeout, "ParkeeChannel").starts_with("SIP/127.0.0.1-"),
        "{timeout}"
    );
    p.d.rx("channel request hangup all");
    let _ = cc.wait();
    // The Park action, then the parked call hangs up.
    let sd = udp();
    let cd = guest_call(&p, "900", &sd);
    let step = a.wait_for(
        |m| m.starts_with("Event: Newexten\r\n") && m.contains("Application: Wait\r\n"),
        30,
        "the Wait() step",
    );
    let chan = ami_value(&step, "Channel").to_string();
    let r = a.list("Park", &[("Channel", "SIP/nosuch-1")], "");
    assert!(
        r[0].contains("Message: Channel does not exist: SIP/nosuch-1"),
        "{r:?}"
    );
    let r = a.list("Park", &[("Channel", &chan), ("Timeout", "60000")], "");
    assert!(r[0].contains("Message: Park successful"), "{r:?}");
    let parkee = format!("ParkeeChannel: {chan}\r\n");
    let parked = a.wait_for(
        |m| m.starts_with("Event: ParkedCall\r\n") && m.contains(&parkee),
        30,
        "the Park action's ParkedCall",
    );
    assert_eq!(ami_value(&parked, "ParkingTimeout"), "60", "{parked}");
    p.d.rx(&format!("channel request hangup {chan}"));
    let gaveup = a.wait_for(
        |m| m.starts_with("Event: ParkedCallGiveUp\r\n") && m.contains(&parkee),
        30,
        "ParkedCallGiveUp",
    );
    assert_eq!(ami_value(&gaveup, "Parkinglot"), "default", "{gaveup}");
    let _ = cd.wait();
}

/// RFC 2833 packets for `digit` (payload type 101) from sequence `seq`, timestamp `ts`.
fn dtmf_packets(digit: char, seq: u16, ts: u32) -> Vec<Vec<u8>> {
    let event = match digit {
        '*' => 10,
        '#' => 11,
        d => d.to_digit(10).expect("a digit") as u8,
    };
    (0u16..8)
        .map(|i| {
            let end = i >= 5;
            let dur = 160 * (i.min(5) + 1);
            let mut v = vec![0x80, if i == 0 { 0x80 | 101 } else { 101 }];
            v.extend_from_slice(&(seq + i).to_be_bytes());
            v.extend_from_slice(&ts.to_be_bytes());
            v.extend_from_slice(&0x7a7a_u32.to_be_bytes());
            v.extend_from_slice(&[event, if end { 0x8a } else { 0x0a }]);
            v.extend_from_slice(&dur.to_be_bytes());
            v
        })
        .collect()
}

/// A leg that sends silence for a second, presses `digits` (RFC 2833), then sends silence
/// until `ms` have passed, keeping every µ-law payload received.
fn presser(sock: UdpSocket, to: u16, digits: &'static str, ms: u64) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        let silence = [0xffu8; 160];
        let mut seq: u16 = 0;
        let mut ts: u32 = 0;
        let mut pressed = false;
        let mut k: u64 = 0;
        while start.elapsed() < Duration::from_millis(ms) {
            if !pressed && start.elapsed() > Duration::from_secs(1) {
                pressed = true;
                for d in digits.chars() {
                    for pkt in dtmf_packets(d, seq, ts) {
                        let _ = sock.send_to(&pkt, ("127.0.0.1", to));
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    seq = seq.wrapping_add(8);
                    ts = ts.wrapping_add(160 * 8);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let _ = sock.send_to(&rtp(seq, ts, &silence), ("127.0.0.1", to));
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
            k += 1;
            let next = start + Duration::from_millis(20 * k);
            while Instant::now() < next {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    if n > 12 && buf[1] & 0x7f == 0 {
                        got.extend_from_slice(&buf[12..n]);
                    }
                }
            }
        }
        got
    })
}

/// Dial()'s `K` with features.conf's `parkcall => #72`: the caller presses #72 in the
/// bridge, the called phone is parked at 701 (ParkedCall on AMI), the caller hears 7-0-1
/// and is hung up; another caller dials 701 and talks to the parked phone.
#[test]
fn dial_k_parks_the_callee_the_parker_hears_the_space_and_701_retrieves_it() {
    park_feature_case("810", true);
}

/// Dial()'s `k`: the called phone presses #72, the caller is parked at 701 on its own
/// task, the phone hears 7-0-1 and is hung up; 701 retrieves the caller.
#[test]
fn dial_lower_k_lets_the_callee_park_the_caller() {
    park_feature_case("811", false);
}

/// One parkcall case: a guest dials `exten` (Dial(SIP/phone,…,K or k)); the caller (when
/// `caller_presses`) or the phone presses #72; the other one is parked at 701, the presser
/// hears 7-0-1; a second guest retrieves the parked party at 701 and they hear each other.
fn park_feature_case(exten: &str, caller_presses: bool) {
    let ami = free_port();
    let manager = manager_conf(ami);
    let phone = free_port();
    let peers = format!(
        "[phone]\ntype=peer\nhost=127.0.0.1\nport={phone}\ncontext=guests\ndisallow=all\nallow=ulaw\n"
    );
    let p = start_more(
        EVENT_EXTENSIONS,
        RES_PARKING,
        &peers,
        4,
        &[
            ("manager.conf", &manager),
            ("features.conf", "[featuremap]\nparkcall => #72\n"),
        ],
    );
    let mut a = AmiSession::login(ami);
    let sp = udp();
    let uas = Sipp::new("uas_media_wait.xml", None)
        .local_port(phone)
        .service("phone")
        .key("rtp_port", sp.local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(40)
        .spawn();
    let sa = udp();
    let ca = guest_call(&p, exten, &sa);
    // The caller's session is the first, the phone's the second. The presser presses and
    // listens; the parked party sends its 900 Hz tone until after the retrieval.
    let (parker, parked_leg, parkee_prefix) = if caller_presses {
        (
            presser(sa, p.rtp, "#72", 7_000),
            leg(sp, p.rtp + 2, 900.0, 16_000),
            "SIP/phone-",
        )
    } else {
        // The phone's session exists once it answered: give the call a moment.
        std::thread::sleep(Duration::from_millis(1500));
        (
            presser(sp, p.rtp + 2, "#72", 7_000),
            leg(sa, p.rtp, 900.0, 16_000),
            "SIP/127.0.0.1-",
        )
    };
    let parked = a.event("ParkedCall", 30);
    assert!(
        ami_value(&parked, "ParkeeChannel").starts_with(parkee_prefix),
        "{parked}"
    );
    assert_eq!(ami_value(&parked, "ParkingSpace"), "701", "{parked}");
    let heard = parker.join().expect("parker leg");
    assert!(
        heard_prompt(&heard, "7") && heard_prompt(&heard, "0") && heard_prompt(&heard, "1"),
        "the parker did not hear 7-0-1\n{}",
        p.d.console()
    );
    // Another caller retrieves the parked party.
    let sb = udp();
    let cb = guest_call(&p, "701", &sb);
    let unparked = a.event("UnParkedCall", 30);
    assert!(
        ami_value(&unparked, "ParkeeChannel").starts_with(parkee_prefix),
        "{unparked}"
    );
    let lb = leg(sb, p.rtp + 4, 500.0, 4_000);
    let hb = lb.join().expect("retriever leg");
    let hp = parked_leg.join().expect("parked leg");
    p.d.rx("channel request hangup all");
    assert!(
        hears(&hb, 900.0, 500.0),
        "the retriever does not hear the parked party\n{}",
        p.d.console()
    );
    assert!(
        hears(&hp, 500.0, 900.0),
        "the parked party does not hear the retriever\n{}",
        p.d.console()
    );
    let _ = ca.wait();
    let _ = cb.wait();
    let _ = uas.wait();
}
