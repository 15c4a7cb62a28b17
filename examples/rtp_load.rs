//! Media load generator for contrib/bench/media_streams.sh: places N concurrent calls to a
//! ferrisk extension that plays audio, receives every call's RTP and reports how many packets
//! arrived late or never arrived, then hangs up.
//!
//! Usage: rtp_load <pbx ip:port> <extension> <calls> <seconds> [first local port] [send]
//!
//! With `send` every call also sends 20 ms PCMU frames of a 440 Hz tone towards the PBX
//! for the whole call (a caller speaking: voicemail and recording load).
//!
//! Each call is a plain UDP INVITE with a PCMU offer from its own SIP socket, answered by the
//! PBX (the bench config makes the load generator an address-whitelisted trunk, so no digest
//! is needed); ACK; then RTP is received for `seconds`; then BYE. A packet is *late* when it
//! arrives more than 60 ms (a typical jitter-buffer depth) after the time its sequence number
//! is due, counting from the call's first packet; *lost* packets are sequence gaps.

use ferrisk::sip::message::{self, SipMessage};
use ferrisk::sip::sdp::Sdp;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

#[derive(Default)]
struct Stats {
    answered: AtomicU64,
    failed: AtomicU64,
    packets: AtomicU64,
    late: AtomicU64,
    lost: AtomicU64,
    /// Packets whose RTP timestamp jumped more than one frame past the previous one (the
    /// sender had no audio for a tick: an audible gap, not a network loss).
    gaps: AtomicU64,
}

fn arg(i: usize) -> Option<String> {
    std::env::args().nth(i)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let (Some(pbx), Some(exten), Some(calls), Some(secs)) = (arg(1), arg(2), arg(3), arg(4)) else {
        eprintln!("usage: rtp_load <pbx ip:port> <extension> <calls> <seconds> [first port]");
        std::process::exit(2);
    };
    let pbx: SocketAddr = match pbx.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bad address {pbx}: {e}");
            std::process::exit(2);
        }
    };
    let calls: u32 = calls.parse().unwrap_or(100);
    let secs: u64 = secs.parse().unwrap_or(10);
    let first_port: u16 = arg(5).and_then(|p| p.parse().ok()).unwrap_or(40000);
    let send = arg(6).is_some_and(|a| a == "send");
    let stats = Arc::new(Stats::default());
    let mut tasks = Vec::new();
    let started = Instant::now();
    for i in 0..calls {
        let stats = stats.clone();
        let exten = exten.clone();
        // Ramp up: 200 calls per second.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let sip_port = first_port + (i as u16) * 2;
        tasks.push(tokio::spawn(async move {
            if call(pbx, &exten, sip_port, secs, send, &stats)
                .await
                .is_err()
            {
                stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let p = stats.packets.load(Ordering::Relaxed);
    let late = stats.late.load(Ordering::Relaxed);
    let lost = stats.lost.load(Ordering::Relaxed);
    let gaps = stats.gaps.load(Ordering::Relaxed);
    let pct = |n: u64| {
        if p + lost == 0 {
            0.0
        } else {
            100.0 * n as f64 / (p + lost) as f64
        }
    };
    println!(
        "calls: {} answered, {} failed; packets: {p} received, {late} late ({:.3} %), {lost} lost ({:.3} %), {gaps} after a sender gap ({:.3} %); {:.1} s",
        stats.answered.load(Ordering::Relaxed),
        stats.failed.load(Ordering::Relaxed),
        pct(late),
        pct(lost),
        pct(gaps),
        started.elapsed().as_secs_f64()
    );
}

async fn recv_response(sock: &UdpSocket, buf: &mut [u8]) -> Result<SipMessage, ()> {
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(buf))
            .await
            .map_err(|_| ())?
            .map_err(|_| ())?;
        if let Ok(m) = message::parse(&buf[..n]) {
            if !m.is_request() {
                return Ok(m);
            }
        }
    }
}

fn code(m: &SipMessage) -> u16 {
    match m {
        SipMessage::Response { code, .. } => *code,
        SipMessage::Request { .. } => 0,
    }
}

async fn call(
    pbx: SocketAddr,
    exten: &str,
    sip_port: u16,
    secs: u64,
    send: bool,
    stats: &Stats,
) -> Result<(), ()> {
    let sip = UdpSocket::bind(("127.0.0.1", sip_port))
        .await
        .map_err(|_| ())?;
    let rtp = UdpSocket::bind(("127.0.0.1", sip_port + 1))
        .await
        .map_err(|_| ())?;
    let rtp_port = sip_port + 1;
    let call_id = format!("load-{sip_port}-{}", std::process::id());
    let sdp = format!(
        "v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    );
    let head = |method: &str, cseq: u32, to_tag: &str, branch: &str| {
        format!(
            "{method} sip:{exten}@{pbx} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{sip_port};branch=z9hG4bK{branch};rport\r\n\
             From: <sip:load@127.0.0.1:{sip_port}>;tag=l{sip_port}\r\nTo: <sip:{exten}@{pbx}>{to_tag}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:load@127.0.0.1:{sip_port}>\r\nMax-Forwards: 70\r\n"
        )
    };
    let invite = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        head("INVITE", 1, "", "inv"),
        sdp.len()
    );
    sip.send_to(invite.as_bytes(), pbx).await.map_err(|_| ())?;
    let mut buf = vec![0u8; 65535];
    let ok = loop {
        let r = recv_response(&sip, &mut buf).await?;
        match code(&r) {
            100..=199 => continue,
            200 => break r,
            _ => return Err(()),
        }
    };
    let to_tag = ok
        .to()
        .and_then(|t| t.tag().map(|t| format!(";tag={t}")))
        .unwrap_or_default();
    let ack = format!(
        "{}Content-Length: 0\r\n\r\n",
        head("ACK", 1, &to_tag, "ack")
    );
    sip.send_to(ack.as_bytes(), pbx).await.map_err(|_| ())?;
    let Ok(answer) = Sdp::parse_bytes(ok.body()) else {
        return Err(());
    };
    stats.answered.fetch_add(1, Ordering::Relaxed);
    let rtp = Arc::new(rtp);
    let sender = send
        .then(|| {
            let port = answer.media.first()?.port;
            Some(tokio::spawn(speak(
                rtp.clone(),
                SocketAddr::new(pbx.ip(), port),
                secs,
            )))
        })
        .flatten();
    // Receive RTP.
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut first: Option<(Instant, u32)> = None;
    let mut last_seq: Option<u16> = None;
    let mut last_ts: Option<u32> = None;
    let mut rbuf = [0u8; 2048];
    loop {
        let r = tokio::time::timeout_at(end, rtp.recv(&mut rbuf)).await;
        let Ok(Ok(n)) = r else { break };
        if n < 12 {
            continue;
        }
        let now = Instant::now();
        let seq = u16::from_be_bytes([rbuf[2], rbuf[3]]);
        let ts = u32::from_be_bytes([rbuf[4], rbuf[5], rbuf[6], rbuf[7]]);
        stats.packets.fetch_add(1, Ordering::Relaxed);
        // Due time from the RTP timestamp (8 kHz): a sender that skips a tick advances the
        // timestamp, so its next packet is not counted late.
        match first {
            None => first = Some((now, ts)),
            Some((t0, ts0)) => {
                let ms = u64::from(ts.wrapping_sub(ts0)) / 8;
                let due = t0 + Duration::from_millis(ms);
                if now > due + Duration::from_millis(60) {
                    stats.late.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(lt) = last_ts {
            let d = ts.wrapping_sub(lt);
            if d > 160 && d < 8000 * 60 {
                stats.gaps.fetch_add(1, Ordering::Relaxed);
            }
        }
        last_ts = Some(ts);
        if let Some(l) = last_seq {
            let gap = seq.wrapping_sub(l);
            if gap > 1 && gap < 1000 {
                stats.lost.fetch_add(u64::from(gap - 1), Ordering::Relaxed);
            }
        }
        last_seq = Some(seq);
    }
    if let Some(s) = sender {
        s.abort();
    }
    let bye = format!(
        "{}Content-Length: 0\r\n\r\n",
        head("BYE", 2, &to_tag, "bye")
    );
    sip.send_to(bye.as_bytes(), pbx).await.map_err(|_| ())?;
    let _ = recv_response(&sip, &mut buf).await;
    Ok(())
}

/// Send a 440 Hz tone as PCMU, one 20 ms packet per tick, for `secs`.
async fn speak(rtp: Arc<UdpSocket>, to: SocketAddr, secs: u64) {
    let tone: Vec<i16> = (0..8000)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let payload = ferrisk::media::g711::ulaw_encode(&tone);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let ssrc: u32 = 0x1234_5678 ^ u32::from(to.port());
    for k in 0..(secs * 50) as u32 {
        tick.tick().await;
        let mut pkt = vec![0x80u8, 0];
        pkt.extend_from_slice(&(k as u16).to_be_bytes());
        pkt.extend_from_slice(&(k * 160).to_be_bytes());
        pkt.extend_from_slice(&ssrc.to_be_bytes());
        let off = (k as usize % 50) * 160;
        pkt.extend_from_slice(&payload[off..off + 160]);
        let _ = rtp.send_to(&pkt, to).await;
    }
}
