//! SIP transports: the I/O edge. A UDP socket and, with `tcpenable`/`tlsenable`, TCP and TLS
//! listeners and their connections. Everything received is parsed here and handed to one
//! callback together with where it came from and over what; everything sent goes through
//! [`Transport::send`].
//!
//! How a message leaves ([`Transport::send`]): over the open connection to its destination if
//! there is one (inbound or outbound, TCP or TLS); else over the transport its top Via names
//! (RFC 3261 §18.1.1: the core writes `SIP/2.0/TCP` or `SIP/2.0/TLS` for a peer with
//! `transport=tcp|tls`), opening a connection to the destination in a task of its own — the
//! caller never waits; messages queue on that connection until it is up — else UDP. A
//! connection that cannot be opened, fails its TLS handshake or is lost is reported to the
//! failure hook ([`Transport::set_failure_hook`]) so the transaction layer ends what was sent
//! there. Connections we open send RFC 5626 double-CRLF keep-alive pings; a ping received is
//! answered with a single-CRLF pong, and pongs are tolerated anywhere between messages.
//!
//! Malformed datagrams are answered statelessly with the status [`ParseError::status`] gives
//! when enough of the request could be read to build a response, and dropped otherwise; a
//! stream connection whose framing is lost is closed. Nothing here panics on input.

use crate::sip::message::{self, ParseError, SipMessage, StreamParse};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::rustls;

/// Largest datagram or TCP message accepted.
pub const MAX_MESSAGE: usize = 65_535;

/// Requested UDP socket buffer size (each direction).
pub const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// TCP/TLS connections at most, both directions (more are closed at once).
pub const TCP_MAX_CONNECTIONS: usize = 1024;
/// TCP/TLS connections from one address at most.
pub const TCP_MAX_PER_ADDRESS: usize = 32;
/// A new TCP connection must deliver a complete message within this (chan_sip's
/// `tcpauthtimeout` default); a TLS connection's handshake counts.
pub const TCP_FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// A TCP connection silent this long is closed (longer than the longest registration, so
/// a phone that re-registers hourly keeps its connection).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3900);
/// Messages waiting to be written to one TCP connection at most: a peer that does not read
/// is disconnected instead of growing the queue.
pub const TCP_WRITE_QUEUE: usize = 256;
/// Datagrams waiting for a full UDP socket buffer at most (beyond, they are dropped: the
/// transaction layer retransmits).
pub const UDP_SEND_QUEUE: usize = 8192;
/// An outbound connection (TCP connect and TLS handshake) must be up within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of the double-CRLF pings on connections we open (RFC 5626 §4.4.1 suggests
/// 95–120 s for connection-oriented flows).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(90);

/// Which transport a message used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
}

impl Proto {
    /// As in a Via (`SIP/2.0/TLS`) and in chan_sip's output.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
        }
    }
    /// As in a URI's `transport=` parameter.
    pub fn param(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
        }
    }
    /// A Via's transport token or a URI's `transport=` value (any case).
    pub fn parse(s: &str) -> Option<Proto> {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => Some(Proto::Udp),
            "tcp" => Some(Proto::Tcp),
            "tls" => Some(Proto::Tls),
            _ => None,
        }
    }
    /// Connection-oriented: no retransmissions (RFC 3261 §17.1.1.2).
    pub fn reliable(self) -> bool {
        self != Proto::Udp
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
/// Callback when a connection to an address could not be opened or was lost.
pub type FailureHook = Arc<dyn Fn(SocketAddr) + Send + Sync>;

/// What to bind and how to speak TLS.
#[derive(Clone)]
pub struct BindOptions {
    pub udp: SocketAddr,
    /// TCP listener (`tcpenable`).
    pub tcp: Option<SocketAddr>,
    /// TLS listener (`tlsenable`) with its server configuration.
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// For TLS connections we open; without it, sending over TLS fails.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// Ping interval on connections we open.
    pub keepalive: Duration,
}

impl BindOptions {
    pub fn udp(udp: SocketAddr) -> BindOptions {
        BindOptions {
            udp,
            tcp: None,
            tls: None,
            tls_client: None,
            keepalive: KEEPALIVE_INTERVAL,
        }
    }
}

/// An open (or opening) stream connection: its write queue and transport.
struct Conn {
    tx: mpsc::Sender<Vec<u8>>,
    proto: Proto,
}

/// The bound sockets.
pub struct Transport {
    udp: Arc<UdpSocket>,
    udp_local: SocketAddr,
    tcp_local: Option<SocketAddr>,
    tls_local: Option<SocketAddr>,
    conns: Mutex<HashMap<SocketAddr, Conn>>,
    tls_client: Option<Arc<rustls::ClientConfig>>,
    keepalive: Duration,
    /// Datagrams the UDP socket could not take at once, sent by one task.
    udp_backlog: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    /// Messages dropped: malformed input, full queues, refused connections.
    pub dropped: std::sync::atomic::AtomicU64,
    tap: Mutex<Option<Tap>>,
    failure: Mutex<Option<FailureHook>>,
    sink: Sink,
    /// The receive and accept tasks, stopped by [`Transport::close`].
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Where connection tasks are started ([`Transport::send`] may run outside the runtime).
    rt: tokio::runtime::Handle,
    me: Weak<Transport>,
}

impl Transport {
    /// Stop receiving and release the sockets once the last sender is gone (module unload).
    pub fn close(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        self.conns.lock().clear();
    }

    /// Bind UDP on `udp` and, if given, TCP on `tcp`; start the receive tasks.
    pub async fn bind(
        udp: SocketAddr,
        tcp: Option<SocketAddr>,
        sink: Sink,
    ) -> io::Result<Arc<Transport>> {
        let mut o = BindOptions::udp(udp);
        o.tcp = tcp;
        Transport::bind_with(o, sink).await
    }

    /// Bind what `o` asks for; start the receive and accept tasks.
    pub async fn bind_with(o: BindOptions, sink: Sink) -> io::Result<Arc<Transport>> {
        let sock = UdpSocket::bind(o.udp).await?;
        // Large socket buffers absorb bursts (thousands of messages per second) instead of
        // dropping datagrams; the kernel caps them at net.core.[rw]mem_max.
        let sr = socket2::SockRef::from(&sock);
        let _ = sr.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = sr.set_send_buffer_size(SOCKET_BUFFER);
        let udp_local = sock.local_addr()?;
        let listener = match o.tcp {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        let tcp_local = match &listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let tls_listener = match &o.tls {
            Some((a, cfg)) => Some((TcpListener::bind(a).await?, cfg.clone())),
            None => None,
        };
        let tls_local = match &tls_listener {
            Some((l, _)) => Some(l.local_addr()?),
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
        let t = Arc::new_cyclic(|me| Transport {
            udp,
            udp_local,
            tcp_local,
            tls_local,
            conns: Mutex::new(HashMap::new()),
            tls_client: o.tls_client.clone(),
            keepalive: o.keepalive,
            udp_backlog: backlog_tx,
            dropped: std::sync::atomic::AtomicU64::new(0),
            tap: Mutex::new(None),
            failure: Mutex::new(None),
            sink,
            tasks: Mutex::new(Vec::new()),
            rt: tokio::runtime::Handle::current(),
            me: me.clone(),
        });
        let mut tasks = vec![
            tokio::spawn(udp_loop(t.clone())).abort_handle(),
            sender.abort_handle(),
        ];
        if let Some(l) = listener {
            tasks.push(tokio::spawn(accept_loop(t.clone(), l, None)).abort_handle());
        }
        if let Some((l, cfg)) = tls_listener {
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
            tasks.push(tokio::spawn(accept_loop(t.clone(), l, Some(acceptor))).abort_handle());
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
    pub fn tls_local(&self) -> Option<SocketAddr> {
        self.tls_local
    }

    /// Install (or remove) the debug tap.
    pub fn set_tap(&self, tap: Option<Tap>) {
        *self.tap.lock() = tap;
    }

    /// Install the callback told when a connection to an address fails or is lost.
    pub fn set_failure_hook(&self, hook: Option<FailureHook>) {
        *self.failure.lock() = hook;
    }

    fn tap(&self, outgoing: bool, proto: Proto, peer: SocketAddr, bytes: &[u8]) {
        let t = self.tap.lock().clone();
        if let Some(t) = t {
            t(outgoing, proto, peer, bytes);
        }
    }

    fn failed(&self, dest: SocketAddr) {
        let h = self.failure.lock().clone();
        if let Some(h) = h {
            h(dest);
        }
    }

    /// Send `bytes` to `dest`: over its open connection if there is one, else over the
    /// transport the message's top Via names (opening a connection in the background for
    /// TCP/TLS), else UDP. Never blocks; a full socket buffer drops the datagram (the
    /// transaction layer retransmits).
    pub fn send(&self, dest: SocketAddr, bytes: &[u8]) -> io::Result<Proto> {
        let conn = self
            .conns
            .lock()
            .get(&dest)
            .map(|c| (c.tx.clone(), c.proto));
        if let Some((tx, proto)) = conn {
            match tx.try_send(bytes.to_vec()) {
                Ok(()) => {
                    self.tap(true, proto, dest, bytes);
                    return Ok(proto);
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // The peer does not read: drop the connection rather than the queue
                    // growing (its reader ends when the writer is gone).
                    self.count_drop();
                    self.remove_conn(dest, &tx);
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "TCP peer does not read; connection dropped",
                    ));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.remove_conn(dest, &tx);
                }
            }
        }
        if let Some(p @ (Proto::Tcp | Proto::Tls)) = via_proto(bytes) {
            return self.open(dest, p, bytes);
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

    /// Open a `proto` connection to `dest` with `first` queued on it; the connecting runs in
    /// a task, failures go to the failure hook.
    fn open(&self, dest: SocketAddr, proto: Proto, first: &[u8]) -> io::Result<Proto> {
        let Some(me) = self.me.upgrade() else {
            return Err(io::Error::other("transport closed"));
        };
        let tls = match proto {
            Proto::Tls => match &self.tls_client {
                Some(c) => Some(tokio_rustls::TlsConnector::from(c.clone())),
                None => {
                    self.count_drop();
                    me.fail_later(dest);
                    return Err(io::Error::other("no TLS client configuration"));
                }
            },
            _ => None,
        };
        let (tx, rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
        let _ = tx.try_send(first.to_vec());
        {
            let mut c = self.conns.lock();
            if c.len() >= TCP_MAX_CONNECTIONS {
                drop(c);
                self.count_drop();
                me.fail_later(dest);
                return Err(io::Error::other("too many connections"));
            }
            c.insert(
                dest,
                Conn {
                    tx: tx.clone(),
                    proto,
                },
            );
        }
        self.tap(true, proto, dest, first);
        let name = server_name(first, dest);
        self.rt.spawn(async move {
            let up = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let s = TcpStream::connect(dest).await?;
                let _ = s.set_nodelay(true);
                Ok::<_, io::Error>(s)
            })
            .await;
            let s = match up {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return me.connect_failed(dest, &tx, proto, &e.to_string()),
                Err(_) => return me.connect_failed(dest, &tx, proto, "timed out"),
            };
            match tls {
                None => run_conn(me, s, dest, proto, rx, true).await,
                Some(c) => match tokio::time::timeout(CONNECT_TIMEOUT, c.connect(name, s)).await {
                    Ok(Ok(s)) => run_conn(me, s, dest, proto, rx, true).await,
                    Ok(Err(e)) => me.connect_failed(dest, &tx, proto, &e.to_string()),
                    Err(_) => me.connect_failed(dest, &tx, proto, "TLS handshake timed out"),
                },
            }
        });
        Ok(proto)
    }

    /// Report `dest` failed from a task: never from inside [`Transport::send`], whose caller
    /// may be handling the failure's consequences.
    fn fail_later(self: Arc<Self>, dest: SocketAddr) {
        let rt = self.rt.clone();
        rt.spawn(async move { self.failed(dest) });
    }

    fn connect_failed(
        &self,
        dest: SocketAddr,
        tx: &mpsc::Sender<Vec<u8>>,
        proto: Proto,
        why: &str,
    ) {
        tracing::info!("SIP {} connection to {dest} failed: {why}", proto.as_str());
        self.count_drop();
        self.remove_conn(dest, tx);
        self.failed(dest);
    }

    /// Forget `dest`'s connection if it is still the one `tx` writes to.
    fn remove_conn(&self, dest: SocketAddr, tx: &mpsc::Sender<Vec<u8>>) {
        let mut c = self.conns.lock();
        if c.get(&dest).is_some_and(|c| c.tx.same_channel(tx)) {
            c.remove(&dest);
        }
    }

    fn count_drop(&self) {
        self.dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Is there an open TCP or TLS connection to `dest`?
    pub fn has_tcp(&self, dest: SocketAddr) -> bool {
        self.conns.lock().contains_key(&dest)
    }

    /// The transport of the open connection to `dest`, if any.
    pub fn conn_proto(&self, dest: SocketAddr) -> Option<Proto> {
        self.conns.lock().get(&dest).map(|c| c.proto)
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

/// The transport the top Via of a serialized message names (`SIP/2.0/TLS …`), read without
/// parsing the message: the header section up to the first Via line.
pub fn via_proto(bytes: &[u8]) -> Option<Proto> {
    let head = &bytes[..bytes.len().min(4096)];
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if !(name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v")) {
            continue;
        }
        // `SIP / 2.0 / TLS host` with optional spaces around the slashes.
        let value: Vec<u8> = line[colon + 1..]
            .iter()
            .copied()
            .skip_while(|b| b.is_ascii_whitespace())
            .collect();
        let mut parts = value.splitn(3, |&b| b == b'/');
        let (_, _, rest) = (parts.next()?, parts.next()?, parts.next()?);
        let rest = std::str::from_utf8(rest).ok()?.trim_start();
        let token = rest.split(|c: char| c.is_ascii_whitespace()).next()?;
        return Proto::parse(token);
    }
    None
}

/// The name a TLS server's certificate must carry: the Request-URI's host of the first
/// request (a trunk's domain), else the address we connect to.
fn server_name(first: &[u8], dest: SocketAddr) -> rustls::pki_types::ServerName<'static> {
    let ip = rustls::pki_types::ServerName::IpAddress(dest.ip().into());
    let Some(line) = first.split(|&b| b == b'\n').next() else {
        return ip;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return ip;
    };
    let mut parts = line.split(' ');
    let (Some(_method), Some(uri)) = (parts.next(), parts.next()) else {
        return ip;
    };
    if line.starts_with("SIP/") {
        return ip;
    }
    match crate::sip::uri::SipUri::parse(uri) {
        Ok(u) if u.host.parse::<std::net::IpAddr>().is_err() => {
            rustls::pki_types::ServerName::try_from(u.host.clone()).unwrap_or(ip)
        }
        _ => ip,
    }
}

/// What the bytes at the front of a stream buffer are.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete message (leading CRLFs removed), taken from the buffer.
    Message(Vec<u8>),
    /// A double-CRLF keep-alive ping (RFC 5626 §4.4.1), taken from the buffer: answer
    /// with a single CRLF.
    Ping,
    /// A single-CRLF pong (the answer to our ping), taken from the buffer.
    Pong,
    /// Need more bytes.
    More,
    /// Framing is lost or the message too large: close the connection after sending the
    /// stateless answer, if one could be built.
    Close(Option<Vec<u8>>),
}

/// Take the next frame from a stream buffer.
pub fn next_frame(buf: &mut Vec<u8>) -> Frame {
    match message::parse_stream(buf) {
        StreamParse::Complete(_, used) => {
            let raw: Vec<u8> = buf.drain(..used).collect();
            Frame::Message(trim_leading_crlf(&raw).to_vec())
        }
        StreamParse::KeepAlive(used) => {
            buf.drain(..used);
            if used >= 4 {
                Frame::Ping
            } else {
                Frame::Pong
            }
        }
        StreamParse::Incomplete => {
            if buf.len() > MAX_MESSAGE {
                Frame::Close(None)
            } else {
                Frame::More
            }
        }
        StreamParse::Error(e) => Frame::Close(stateless_error(buf, &e)),
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

async fn accept_loop(t: Arc<Transport>, l: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) {
    let proto = if tls.is_some() {
        Proto::Tls
    } else {
        Proto::Tcp
    };
    loop {
        match l.accept().await {
            Ok((s, peer)) => {
                let (total, same) = {
                    let c = t.conns.lock();
                    (c.len(), c.keys().filter(|a| a.ip() == peer.ip()).count())
                };
                if total >= TCP_MAX_CONNECTIONS || same >= TCP_MAX_PER_ADDRESS {
                    // Over the cap: closed at once (dropping the stream).
                    t.count_drop();
                    tracing::debug!(
                        "SIP {} connection from {peer} refused: too many",
                        proto.as_str()
                    );
                    continue;
                }
                // Registered here, before the next accept, so the caps count it at once;
                // what is sent before a TLS handshake ends waits in the queue.
                let (tx, rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
                t.conns.lock().insert(
                    peer,
                    Conn {
                        tx: tx.clone(),
                        proto,
                    },
                );
                let t = t.clone();
                match &tls {
                    None => {
                        tokio::spawn(run_conn(t, s, peer, proto, rx, false));
                    }
                    Some(acc) => {
                        let acc = acc.clone();
                        tokio::spawn(async move {
                            match tokio::time::timeout(TCP_FIRST_MESSAGE_TIMEOUT, acc.accept(s))
                                .await
                            {
                                Ok(Ok(s)) => run_conn(t, s, peer, proto, rx, false).await,
                                Ok(Err(e)) => {
                                    tracing::info!("SIP TLS handshake with {peer} failed: {e}");
                                    t.count_drop();
                                    t.remove_conn(peer, &tx);
                                }
                                Err(_) => {
                                    tracing::info!("SIP TLS handshake with {peer} timed out");
                                    t.remove_conn(peer, &tx);
                                }
                            }
                        });
                    }
                }
            }
            Err(e) => {
                tracing::warn!("SIP {} accept: {e}", proto.as_str());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One stream connection, either direction: a writer task drains the queue (and, on
/// connections we opened, sends keep-alive pings), this task reads and frames.
async fn run_conn<S>(
    t: Arc<Transport>,
    s: S,
    peer: SocketAddr,
    proto: Proto,
    mut rx: mpsc::Receiver<Vec<u8>>,
    outbound: bool,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(s);
    let keepalive = t.keepalive;
    let my_tx = t.conns.lock().get(&peer).map(|c| c.tx.clone());
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        loop {
            let b = tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => b,
                    None => break,
                },
                _ = ping.tick(), if outbound => b"\r\n\r\n".to_vec(),
            };
            if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    // Until the first complete message an inbound connection gets
    // TCP_FIRST_MESSAGE_TIMEOUT, then TCP_IDLE_TIMEOUT between reads.
    let mut limit = if outbound {
        TCP_IDLE_TIMEOUT
    } else {
        TCP_FIRST_MESSAGE_TIMEOUT
    };
    let opened = tokio::time::Instant::now();
    let mut writer = writer;
    'conn: loop {
        let wait = if limit == TCP_FIRST_MESSAGE_TIMEOUT {
            (opened + limit).saturating_duration_since(tokio::time::Instant::now())
        } else {
            limit
        };
        let n = tokio::select! {
            r = tokio::time::timeout(wait, rd.read(&mut chunk)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => n,
                Err(_) => {
                    tracing::debug!("SIP {} connection with {peer} timed out", proto.as_str());
                    break;
                }
            },
            // The writer ended: the peer stopped reading or the queue was dropped.
            _ = &mut writer => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match next_frame(&mut buf) {
                Frame::Message(raw) => {
                    limit = TCP_IDLE_TIMEOUT;
                    t.deliver(&raw, peer, proto);
                }
                Frame::Ping => {
                    let _ = t.send(peer, b"\r\n");
                }
                Frame::Pong => {}
                Frame::More => break,
                Frame::Close(resp) => {
                    if let Some(resp) = resp {
                        let _ = t.send(peer, &resp);
                    }
                    break 'conn;
                }
            }
        }
    }
    match &my_tx {
        Some(tx) => t.remove_conn(peer, tx),
        None => {
            t.conns.lock().remove(&peer);
        }
    }
    writer.abort();
    tracing::debug!("SIP {} connection with {peer} closed", proto.as_str());
    t.failed(peer);
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

    const OPTIONS_TCP: &str = "OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn keepalive_framing() {
        // A double-CRLF ping is taken whole and answered; a single CRLF is a pong, taken
        // and ignored; CRLFs before a message are skipped.
        let mut b = b"\r\n\r\n".to_vec();
        assert_eq!(next_frame(&mut b), Frame::Ping);
        assert!(b.is_empty());
        let mut b = b"\r\n".to_vec();
        assert_eq!(next_frame(&mut b), Frame::Pong);
        assert!(b.is_empty());
        assert_eq!(next_frame(&mut b), Frame::More);
        let mut b = b"\r\n".to_vec();
        b.extend_from_slice(OPTIONS_TCP.as_bytes());
        b.extend_from_slice(b"\r\n\r\n");
        match next_frame(&mut b) {
            Frame::Message(m) => assert!(m.starts_with(b"OPTIONS "), "{m:?}"),
            f => panic!("{f:?}"),
        }
        assert_eq!(next_frame(&mut b), Frame::Ping);
        assert_eq!(next_frame(&mut b), Frame::More);
        // Half a message waits; framing lost closes with an answer when one can be built.
        let mut b = OPTIONS_TCP.as_bytes()[..40].to_vec();
        assert_eq!(next_frame(&mut b), Frame::More);
        let mut b = b"\x00\x01garbage\r\n\r\n".to_vec();
        assert!(matches!(next_frame(&mut b), Frame::Close(_)));
    }

    #[test]
    fn via_names_the_transport() {
        assert_eq!(via_proto(OPTIONS_TCP.as_bytes()), Some(Proto::Tcp));
        assert_eq!(
            via_proto(b"INVITE sip:a@b SIP/2.0\r\nMax-Forwards: 70\r\nv: SIP / 2.0 / tls h;branch=x\r\n\r\n"),
            Some(Proto::Tls)
        );
        assert_eq!(
            via_proto(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n"),
            Some(Proto::Udp)
        );
        assert_eq!(
            via_proto(b"INVITE sip:a@b SIP/2.0\r\n\r\nVia: SIP/2.0/TCP h\r\n"),
            None
        );
        assert_eq!(via_proto(b"\r\n"), None);
    }

    #[test]
    fn tls_server_name_from_the_request_uri() {
        let d: SocketAddr = "192.0.2.1:5061".parse().expect("addr");
        let n = server_name(
            b"INVITE sip:100@sip.example.com;transport=tls SIP/2.0\r\n",
            d,
        );
        assert_eq!(n.to_str(), "sip.example.com");
        let n = server_name(b"INVITE sip:100@192.0.2.1:5061 SIP/2.0\r\n", d);
        assert_eq!(n.to_str(), "192.0.2.1");
        let n = server_name(b"SIP/2.0 200 OK\r\n", d);
        assert_eq!(n.to_str(), "192.0.2.1");
    }

    /// A request whose Via says TCP opens a connection, later messages reuse it, the
    /// server's answer comes back through the sink; a refused connection reaches the
    /// failure hook.
    #[tokio::test]
    async fn outbound_tcp_connection_and_refusal() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let sink: Sink = Arc::new(move |r: Received| g.lock().push((r.src, r.proto)));
        let mut o = BindOptions::udp("127.0.0.1:0".parse().expect("addr"));
        o.keepalive = Duration::from_millis(50);
        let t = Transport::bind_with(o, sink).await.expect("bind");
        let failed = Arc::new(Mutex::new(Vec::new()));
        let f = failed.clone();
        t.set_failure_hook(Some(Arc::new(move |a| f.lock().push(a))));

        let server = TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let dest = server.local_addr().expect("addr");
        assert_eq!(
            t.send(dest, OPTIONS_TCP.as_bytes()).expect("send"),
            Proto::Tcp
        );
        assert_eq!(
            t.send(dest, OPTIONS_TCP.as_bytes()).expect("send"),
            Proto::Tcp
        );
        let (mut s, _) = tokio::time::timeout(Duration::from_secs(5), server.accept())
            .await
            .expect("connected")
            .expect("accept");
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        // Both requests, then a keep-alive ping (50 ms interval).
        let requests = |b: &[u8]| b.windows(11).filter(|w| w == b"OPTIONS sip").count();
        while !(requests(&seen) == 2 && seen.ends_with(b"\r\n\r\n\r\n\r\n")) {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
                .await
                .expect("data")
                .expect("read");
            assert!(n > 0, "closed");
            seen.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(requests(&seen), 2, "{}", String::from_utf8_lossy(&seen));
        // Our ping is answered with a pong by a server; a ping from it gets our pong.
        s.write_all(b"\r\n\r\n").await.expect("ping");
        let n = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let n = s.read(&mut chunk).await.expect("read");
                if chunk[..n] == b"\r\n"[..] {
                    return n;
                }
            }
        })
        .await
        .expect("pong");
        assert_eq!(n, 2);
        let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        s.write_all(resp.as_bytes()).await.expect("respond");
        for _ in 0..200 {
            if !got.lock().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(got.lock().as_slice(), &[(dest, Proto::Tcp)]);
        assert_eq!(t.conn_proto(dest), Some(Proto::Tcp));

        // Nothing listens: refused, reported, forgotten.
        drop(server);
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        assert_eq!(
            t.send(dead, OPTIONS_TCP.as_bytes()).expect("queued"),
            Proto::Tcp
        );
        for _ in 0..200 {
            if failed.lock().contains(&dead) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(failed.lock().contains(&dead));
        assert!(!t.has_tcp(dead));
        // The closed connection is reported too once the server side goes away.
        drop(s);
        for _ in 0..200 {
            if failed.lock().contains(&dest) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(failed.lock().contains(&dest));
        assert!(!t.has_tcp(dest));
    }
}
