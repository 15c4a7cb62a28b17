//! SIP transports: the I/O edge. A UDP socket and, with `tcpenable`, a TCP listener and its
//! connections. Everything received is parsed here and handed to one callback together with
//! where it came from; everything sent goes through [`Transport::send`], which picks the open
//! TCP connection to that address if there is one and UDP otherwise.
//!
//! Malformed datagrams are answered statelessly with the status [`ParseError::status`] gives
//! when enough of the request could be read to build a response, and dropped otherwise; a
//! TCP connection whose framing is lost is closed. Nothing here panics on input.

use crate::sip::message::{self, ParseError, SipMessage, StreamParse};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Largest datagram or TCP message accepted.
pub const MAX_MESSAGE: usize = 65_535;

/// Requested UDP socket buffer size (each direction).
pub const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// TCP connections at most (more are closed at once).
pub const TCP_MAX_CONNECTIONS: usize = 1024;
/// TCP connections from one address at most.
pub const TCP_MAX_PER_ADDRESS: usize = 32;
/// A new TCP connection must deliver a complete message within this (chan_sip's
/// `tcpauthtimeout` default).
pub const TCP_FIRST_MESSAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// A TCP connection silent this long is closed (longer than the longest registration, so
/// a phone that re-registers hourly keeps its connection).
pub const TCP_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3900);
/// Messages waiting to be written to one TCP connection at most: a peer that does not read
/// is disconnected instead of growing the queue.
pub const TCP_WRITE_QUEUE: usize = 256;
/// Datagrams waiting for a full UDP socket buffer at most (beyond, they are dropped: the
/// transaction layer retransmits).
pub const UDP_SEND_QUEUE: usize = 8192;

/// Which transport a message used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
        }
    }
    pub fn reliable(self) -> bool {
        self == Proto::Tcp
    }
}

/// A message as it arrived.
#[derive(Debug)]
pub struct Received {
    pub msg: SipMessage,
    pub src: SocketAddr,
    pub proto: Proto,
    /// The raw bytes (for `sip set debug`).
    pub raw: Vec<u8>,
}

/// Callback for every parsed message.
pub type Sink = Arc<dyn Fn(Received) + Send + Sync>;
/// Callback for every message sent or received raw, for debug output: (outgoing, proto, peer, bytes).
pub type Tap = Arc<dyn Fn(bool, Proto, SocketAddr, &[u8]) + Send + Sync>;

/// The bound sockets.
pub struct Transport {
    udp: Arc<UdpSocket>,
    udp_local: SocketAddr,
    tcp_local: Option<SocketAddr>,
    tcp_conns: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
    /// Datagrams the UDP socket could not take at once, sent by one task.
    udp_backlog: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    /// Messages dropped: malformed input, full queues, refused connections.
    pub dropped: std::sync::atomic::AtomicU64,
    tap: Mutex<Option<Tap>>,
    sink: Sink,
    /// The receive and accept tasks, stopped by [`Transport::close`].
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Transport {
    /// Stop receiving and release the sockets once the last sender is gone (module unload).
    pub fn close(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        self.tcp_conns.lock().clear();
    }

    /// Bind UDP on `udp` and, if given, TCP on `tcp`; start the receive tasks.
    pub async fn bind(
        udp: SocketAddr,
        tcp: Option<SocketAddr>,
        sink: Sink,
    ) -> io::Result<Arc<Transport>> {
        let sock = UdpSocket::bind(udp).await?;
        // Large socket buffers absorb bursts (thousands of messages per second) instead of
        // dropping datagrams; the kernel caps them at net.core.[rw]mem_max.
        let sr = socket2::SockRef::from(&sock);
        let _ = sr.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = sr.set_send_buffer_size(SOCKET_BUFFER);
        let udp_local = sock.local_addr()?;
        let listener = match tcp {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        let tcp_local = match &listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let (backlog_tx, mut backlog_rx) = mpsc::channel::<(SocketAddr, Vec<u8>)>(UDP_SEND_QUEUE);
        let udp = Arc::new(sock);
        let sender = {
            let udp = udp.clone();
            tokio::spawn(async move {
                while let Some((dest, b)) = backlog_rx.recv().await {
                    let _ = udp.send_to(&b, dest).await;
                }
            })
        };
        let t = Arc::new(Transport {
            udp,
            udp_local,
            tcp_local,
            tcp_conns: Mutex::new(HashMap::new()),
            udp_backlog: backlog_tx,
            dropped: std::sync::atomic::AtomicU64::new(0),
            tap: Mutex::new(None),
            sink,
            tasks: Mutex::new(Vec::new()),
        });
        let mut tasks = vec![
            tokio::spawn(udp_loop(t.clone())).abort_handle(),
            sender.abort_handle(),
        ];
        if let Some(l) = listener {
            tasks.push(tokio::spawn(accept_loop(t.clone(), l)).abort_handle());
        }
        *t.tasks.lock() = tasks;
        Ok(t)
    }

    pub fn udp_local(&self) -> SocketAddr {
        self.udp_local
    }
    pub fn tcp_local(&self) -> Option<SocketAddr> {
        self.tcp_local
    }

    /// Install (or remove) the debug tap.
    pub fn set_tap(&self, tap: Option<Tap>) {
        *self.tap.lock() = tap;
    }

    fn tap(&self, outgoing: bool, proto: Proto, peer: SocketAddr, bytes: &[u8]) {
        let t = self.tap.lock().clone();
        if let Some(t) = t {
            t(outgoing, proto, peer, bytes);
        }
    }

    /// Send `bytes` to `dest`: over its TCP connection when one is open, else UDP. Never
    /// blocks; a full socket buffer drops the datagram (the transaction layer retransmits).
    pub fn send(&self, dest: SocketAddr, bytes: &[u8]) -> io::Result<Proto> {
        let tcp = self.tcp_conns.lock().get(&dest).cloned();
        if let Some(tx) = tcp {
            match tx.try_send(bytes.to_vec()) {
                Ok(()) => {
                    self.tap(true, Proto::Tcp, dest, bytes);
                    return Ok(Proto::Tcp);
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // The peer does not read: drop the connection rather than the queue
                    // growing (its reader ends when the writer is gone).
                    self.count_drop();
                    self.tcp_conns.lock().remove(&dest);
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "TCP peer does not read; connection dropped",
                    ));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.tcp_conns.lock().remove(&dest);
                }
            }
        }
        self.tap(true, Proto::Udp, dest, bytes);
        match self.udp.try_send_to(bytes, dest) {
            Ok(_) => Ok(Proto::Udp),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // One task drains a bounded backlog rather than lose it under a burst.
                if self.udp_backlog.try_send((dest, bytes.to_vec())).is_err() {
                    self.count_drop();
                }
                Ok(Proto::Udp)
            }
            Err(e) => Err(e),
        }
    }

    fn count_drop(&self) {
        self.dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Is there an open TCP connection to `dest`?
    pub fn has_tcp(&self, dest: SocketAddr) -> bool {
        self.tcp_conns.lock().contains_key(&dest)
    }

    fn deliver(&self, raw: &[u8], src: SocketAddr, proto: Proto) {
        self.tap(false, proto, src, raw);
        match message::parse(raw) {
            Ok(msg) => (self.sink)(Received {
                msg,
                src,
                proto,
                raw: raw.to_vec(),
            }),
            Err(e) => {
                self.count_drop();
                tracing::debug!("dropping malformed SIP from {src}: {e:?}");
                if let Some(resp) = stateless_error(raw, &e) {
                    let _ = self.send(src, &resp);
                }
            }
        }
    }
}

/// A 4xx for a request that failed to parse, when its Via/From/To/Call-ID/CSeq can still be
/// read (so the client's transaction ends); `None` means drop it.
pub fn stateless_error(raw: &[u8], e: &ParseError) -> Option<Vec<u8>> {
    let (code, reason) = e.status()?;
    let text = std::str::from_utf8(raw).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    // Never answer a response or an ACK (RFC 3261 §17): a broken one is dropped.
    if first.starts_with("SIP/") || first.split(' ').next() == Some("ACK") {
        return None;
    }
    let mut wanted: Vec<(String, String)> = Vec::new();
    for l in lines {
        let Some((n, v)) = l.split_once(':') else {
            continue;
        };
        let n = n.trim();
        let full = match n.to_ascii_lowercase().as_str() {
            "via" | "v" => "Via",
            "from" | "f" => "From",
            "to" | "t" => "To",
            "call-id" | "i" => "Call-ID",
            "cseq" => "CSeq",
            _ => continue,
        };
        if v.len() > 1024 || v.contains(['\r', '\n']) {
            return None;
        }
        wanted.push((full.to_string(), v.trim().to_string()));
    }
    for need in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if !wanted.iter().any(|(n, _)| n == need) {
            return None;
        }
    }
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for (n, v) in &wanted {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

async fn udp_loop(t: Arc<Transport>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        match t.udp.recv_from(&mut buf).await {
            Ok((n, src)) => {
                let data = &buf[..n];
                // CRLF keep-alives (RFC 5626) and stray padding.
                if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
                    continue;
                }
                t.deliver(data, src, Proto::Udp);
            }
            Err(e) => {
                // ICMP port unreachable shows up as ConnectionReset on some systems: ignore.
                tracing::debug!("SIP UDP receive error: {e}");
                if Arc::strong_count(&t) == 1 {
                    return;
                }
            }
        }
    }
}

async fn accept_loop(t: Arc<Transport>, l: TcpListener) {
    loop {
        match l.accept().await {
            Ok((s, peer)) => {
                let (total, same) = {
                    let c = t.tcp_conns.lock();
                    (c.len(), c.keys().filter(|a| a.ip() == peer.ip()).count())
                };
                if total >= TCP_MAX_CONNECTIONS || same >= TCP_MAX_PER_ADDRESS {
                    // Over the cap: closed at once (dropping the stream).
                    t.count_drop();
                    tracing::debug!("SIP TCP connection from {peer} refused: too many");
                    continue;
                }
                // Registered here, before the next accept, so the caps count it at once.
                let (tx, rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
                t.tcp_conns.lock().insert(peer, tx);
                tokio::spawn(tcp_conn(t.clone(), s, peer, rx));
            }
            Err(e) => {
                tracing::warn!("SIP TCP accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn tcp_conn(
    t: Arc<Transport>,
    s: TcpStream,
    peer: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    // Until the first complete message the connection gets TCP_FIRST_MESSAGE_TIMEOUT,
    // then TCP_IDLE_TIMEOUT between reads.
    let mut limit = TCP_FIRST_MESSAGE_TIMEOUT;
    let opened = tokio::time::Instant::now();
    'conn: loop {
        let wait = if limit == TCP_FIRST_MESSAGE_TIMEOUT {
            (opened + limit).saturating_duration_since(tokio::time::Instant::now())
        } else {
            limit
        };
        let n = match tokio::time::timeout(wait, rd.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => n,
            Err(_) => {
                tracing::debug!("SIP TCP connection from {peer} timed out");
                break;
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match message::parse_stream(&buf) {
                StreamParse::Complete(_, used) => {
                    limit = TCP_IDLE_TIMEOUT;
                    let raw: Vec<u8> = buf.drain(..used).collect();
                    let trimmed = trim_leading_crlf(&raw);
                    t.deliver(trimmed, peer, Proto::Tcp);
                }
                StreamParse::KeepAlive(used) => {
                    let ka: Vec<u8> = buf.drain(..used).collect();
                    if ka.len() >= 4 {
                        let _ = t.send(peer, b"\r\n");
                    }
                }
                StreamParse::Incomplete => {
                    if buf.len() > MAX_MESSAGE {
                        break 'conn;
                    }
                    break;
                }
                StreamParse::Error(e) => {
                    if let Some(resp) = stateless_error(&buf, &e) {
                        let _ = t.send(peer, &resp);
                    }
                    break 'conn;
                }
            }
        }
    }
    t.tcp_conns.lock().remove(&peer);
    writer.abort();
}

fn trim_leading_crlf(b: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < b.len() && (b[i] == b'\r' || b[i] == b'\n') {
        i += 1;
    }
    &b[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateless_400_needs_the_dialog_headers() {
        let raw = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 99\r\n\r\n";
        let e = message::parse(raw).expect_err("bad content-length");
        if e.status().is_some() {
            let r = stateless_error(raw, &e).expect("answerable");
            let s = String::from_utf8(r).expect("utf8");
            assert!(s.starts_with("SIP/2.0 400"), "{s}");
            assert!(s.contains("Call-ID: x\r\n"));
        }
        // A malformed ACK is never answered.
        let ack = b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 ACK\r\nContent-Length: 99\r\n\r\n";
        let e = message::parse(ack).expect_err("bad content-length");
        assert!(stateless_error(ack, &e).is_none());
        let no_callid =
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n\r\n";
        if let Err(e) = message::parse(no_callid) {
            assert!(stateless_error(no_callid, &e).is_none());
        }
    }

    #[tokio::test]
    async fn udp_roundtrip_and_garbage() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let sink: Sink = Arc::new(move |r: Received| g.lock().push((r.src, r.msg)));
        let t = Transport::bind("127.0.0.1:0".parse().expect("addr"), None, sink)
            .await
            .expect("bind");
        let c = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        c.send_to(b"\x00\xffgarbage", t.udp_local())
            .await
            .expect("send");
        c.send_to(b"OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", t.udp_local()).await.expect("send");
        for _ in 0..100 {
            if !got.lock().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let g = got.lock();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].1.call_id(), Some("c1"));
    }
}
