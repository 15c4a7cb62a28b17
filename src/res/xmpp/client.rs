//! One xmpp.conf connection at run time: the socket task around the protocol
//! [`Session`], the queue of received messages JABBER_RECEIVE reads, and the hand-over of
//! incoming messages to the dialplan (`sendtodialplan`).
//!
//! The task connects (TCP, TLS at once with `forceoldssl`, STARTTLS when the session asks),
//! writes what the session produces and feeds it what arrives. When the connection drops
//! or cannot be made it tries again after 1 s, doubling to 60 s (res_xmpp's backoff), and
//! back to 1 s once a session was up. One warning when the server is lost, one notice when
//! it is back; what JabberSend tries meanwhile fails at once with a warning.

use super::config::ClientConfig;
use crate::net::tls::Conn;
use crate::pbx::message::{dispatch, Msg};
use crate::pbx::Pbx;
use crate::xmpp::session::split_jid;
use crate::xmpp::{Incoming, Output, Session};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};

/// A message waiting for JABBER_RECEIVE.
#[derive(Debug, Clone)]
pub struct Received {
    /// Full JID of the sender.
    pub from: String,
    pub body: String,
    pub arrived: Instant,
}

/// Time limit for connecting and for the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Received messages kept for JABBER_RECEIVE at most (the oldest go first).
const MAX_QUEUED: usize = 10_000;
/// The longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One connection.
pub struct Client {
    pub name: String,
    cfg: Mutex<Arc<ClientConfig>>,
    session: Mutex<Session>,
    /// The session has output to write.
    wake: Notify,
    stopping: AtomicBool,
    messages: Mutex<VecDeque<Received>>,
    /// Bumped for every received message (JABBER_RECEIVE waits on it).
    arrivals: watch::Sender<u64>,
    /// `xmpp set debug on` (shared by every client).
    global_debug: Arc<AtomicBool>,
    pbx: Weak<Pbx>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn nonce() -> String {
    use base64::Engine;
    let bytes: [u8; 18] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Client {
    pub fn new(pbx: &Arc<Pbx>, cfg: ClientConfig, global_debug: Arc<AtomicBool>) -> Arc<Client> {
        let session = Session::new(cfg.session(), &nonce(), Instant::now());
        Arc::new(Client {
            name: cfg.name.clone(),
            cfg: Mutex::new(Arc::new(cfg)),
            session: Mutex::new(session),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            messages: Mutex::new(VecDeque::new()),
            arrivals: watch::channel(0).0,
            global_debug,
            pbx: Arc::downgrade(pbx),
            task: Mutex::new(None),
        })
    }

    pub fn config(&self) -> Arc<ClientConfig> {
        self.cfg.lock().clone()
    }

    /// Run `f` on the session (state, buddies, sending). Never held across an await.
    pub fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> T {
        let r = f(&mut self.session.lock());
        self.wake.notify_one();
        r
    }

    /// Take a reloaded configuration. A changed server, account or transport reconnects;
    /// anything else is applied to the running session (presence, buddies).
    pub fn reconfigure(self: &Arc<Self>, cfg: ClientConfig) {
        let old = self.config();
        let reconnect = old.username != cfg.username
            || old.secret != cfg.secret
            || old.host() != cfg.host()
            || old.port != cfg.port
            || old.usetls != cfg.usetls
            || old.usesasl != cfg.usesasl
            || old.forceoldssl != cfg.forceoldssl;
        let sc = cfg.session();
        *self.cfg.lock() = Arc::new(cfg);
        if reconnect {
            *self.session.lock() = Session::new(sc, &nonce(), Instant::now());
            self.restart();
        } else {
            self.with_session(|s| s.reconfigure(sc));
        }
    }

    /// Start the connection task.
    pub fn start(self: &Arc<Self>) {
        self.stopping.store(false, Ordering::SeqCst);
        let me = self.clone();
        let h = tokio::spawn(async move { me.run().await });
        if let Some(old) = self.task.lock().replace(h) {
            old.abort();
        }
    }

    fn restart(self: &Arc<Self>) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
        self.session.lock().disconnected();
        self.start();
    }

    /// Say goodbye to the server and stop the task.
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.session.lock().close();
        self.wake.notify_one();
        let h = self.task.lock().take();
        if let Some(mut h) = h {
            if tokio::time::timeout(Duration::from_secs(2), &mut h)
                .await
                .is_err()
            {
                h.abort();
            }
        }
        self.session.lock().disconnected();
    }

    fn debug_enabled(&self) -> bool {
        self.global_debug.load(Ordering::Relaxed) || self.config().debug
    }

    fn dump(&self, pbx: &Pbx, sent: bool, text: &str) {
        if !self.debug_enabled() {
            return;
        }
        // The password must not reach the console: hide SASL payloads.
        let shown = if text.starts_with("<auth") || text.starts_with("<response") {
            match text.find('>') {
                Some(i) if !text[..i].ends_with('/') => {
                    let tag = &text[..=i];
                    let close = text.rfind("</").unwrap_or(text.len());
                    format!("{tag}[hidden]{}", &text[close..])
                }
                _ => text.to_string(),
            }
        } else if text.contains("jabber:iq:auth") {
            "<iq type='set' id='auth'>[legacy authentication hidden]</iq>".to_string()
        } else {
            text.to_string()
        };
        let dir = if sent { "sent to" } else { "received from" };
        pbx.emit(
            0,
            format!(
                "\n<--- XMPP {dir} '{}' --->\n{shown}\n<------------->",
                self.name
            ),
        );
    }

    /// The connection loop: connect, serve, back off, again, until stopped.
    async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_secs(1);
        let mut down = false;
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let mut was_up = false;
            let r = self.serve(&mut was_up, &mut down).await;
            self.session.lock().disconnected();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if was_up {
                backoff = Duration::from_secs(1);
            }
            if let Err(why) = r {
                if let Some(pbx) = self.pbx.upgrade() {
                    if was_up {
                        pbx.warning(&format!(
                            "res_xmpp.c: [{}] Socket read error: {why}; reconnecting with backoff",
                            self.name
                        ));
                        down = true;
                    } else if !down {
                        pbx.error(&format!(
                            "res_xmpp.c: [{}] {why}; retrying with backoff",
                            self.name
                        ));
                        down = true;
                    } else {
                        tracing::debug!("xmpp [{}]: {why}", self.name);
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection, until it ends.
    async fn serve(&self, was_up: &mut bool, down: &mut bool) -> Result<(), String> {
        let cfg = self.config();
        let (host, port) = (cfg.host().to_string(), cfg.port);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| {
                format!(
                    "No XMPP connection available when trying to connect client '{}' ({host}:{port}: timed out)",
                    self.name
                )
            })?
            .map_err(|e| {
                format!(
                    "No XMPP connection available when trying to connect client '{}' ({host}:{port}: {e})",
                    self.name
                )
            })?;
        let _ = tcp.set_nodelay(true);
        let mut conn = if cfg.forceoldssl {
            tls(&cfg, tcp).await?
        } else {
            Conn::Plain(tcp)
        };
        self.session.lock().connect(Instant::now());
        let pbx = self.pbx.upgrade().ok_or("the PBX is gone")?;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            // Write what the session has to say, in order.
            loop {
                let Some(out) = self.session.lock().poll() else {
                    break;
                };
                match out {
                    Output::Send(text) => {
                        self.dump(&pbx, true, &text);
                        conn.write_all(text.as_bytes())
                            .await
                            .map_err(|e| format!("write: {e}"))?;
                        conn.flush().await.map_err(|e| format!("write: {e}"))?;
                    }
                    Output::StartTls => {
                        let Conn::Plain(tcp) = conn else {
                            return Err("STARTTLS on an encrypted stream".into());
                        };
                        conn = tls(&cfg, tcp).await?;
                        self.session.lock().tls_established();
                    }
                    Output::Connected => {
                        *was_up = true;
                        if *down {
                            pbx.notice(&format!(
                                "res_xmpp.c: [{}] Connected again to {host}:{port} as {}",
                                self.name,
                                self.session.lock().jid()
                            ));
                            *down = false;
                        }
                    }
                    Output::Message(m) => self.incoming(&pbx, m),
                    Output::Notice(n) => {
                        pbx.warning(&format!("res_xmpp.c: {n} on client '{}'", self.name))
                    }
                    Output::AuthFailed(c) => {
                        return Err(format!(
                            "Authentication of client '{}' failed ({c})",
                            self.name
                        ))
                    }
                    Output::Failed(why) => return Err(why),
                }
            }
            if self.stopping.load(Ordering::SeqCst) {
                let _ = conn.shutdown().await;
                return Ok(());
            }
            let next = self.session.lock().next_tick(Instant::now());
            tokio::select! {
                n = conn.read(&mut buf) => {
                    let n = n.map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("the server closed the connection".into());
                    }
                    if self.debug_enabled() {
                        self.dump(&pbx, false, &String::from_utf8_lossy(&buf[..n]));
                    }
                    self.session.lock().receive(&buf[..n], Instant::now());
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(next.into()) => {
                    self.session.lock().tick(Instant::now());
                }
            }
        }
    }

    /// A message arrived: keep it for JABBER_RECEIVE and, with `sendtodialplan`, run it.
    fn incoming(&self, pbx: &Arc<Pbx>, m: Incoming) {
        let cfg = self.config();
        if cfg.sendtodialplan {
            let mut msg = Msg::new(
                &format!("xmpp:{}", cfg.username),
                &format!("xmpp:{}", m.from),
                &m.body,
            );
            msg.tech = "XMPP".into();
            msg.endpoint = self.name.clone();
            let bare = split_jid(&m.from).0.to_string();
            let known = self
                .session
                .lock()
                .buddies()
                .iter()
                .any(|b| b.jid.eq_ignore_ascii_case(&bare));
            if known {
                msg.set_data("XMPP_BUDDY", &bare);
            }
            dispatch(pbx, msg, &cfg.context, "");
        }
        let now = Instant::now();
        let keep = Duration::from_secs(u64::from(cfg.timeout));
        let mut q = self.messages.lock();
        // Messages nobody read within `timeout` are dropped (res_xmpp's message stack).
        // Newest first: the old ones are at the back.
        while q
            .back()
            .is_some_and(|r| now.duration_since(r.arrived) >= keep || q.len() >= MAX_QUEUED)
        {
            q.pop_back();
        }
        q.push_front(Received {
            from: m.from,
            body: m.body,
            arrived: now,
        });
        drop(q);
        self.arrivals.send_modify(|n| *n += 1);
    }

    /// JABBER_RECEIVE: the newest message from `jid` (a bare JID matches every resource)
    /// that is not older than the connection's `timeout`, waiting up to `wait`; `None` on
    /// time-out or when `cancel` resolves first.
    pub async fn receive(
        &self,
        jid: &str,
        wait: Duration,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut rx = self.arrivals.subscribe();
        tokio::pin!(cancel);
        loop {
            rx.borrow_and_update();
            if let Some(body) = self.take(jid) {
                return Some(body);
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return None; },
                _ = tokio::time::sleep_until(deadline) => return None,
                _ = &mut cancel => return None,
            }
        }
    }

    fn take(&self, jid: &str) -> Option<String> {
        let (want_bare, want_res) = split_jid(jid);
        let keep = Duration::from_secs(u64::from(self.config().timeout));
        let now = Instant::now();
        let mut q = self.messages.lock();
        let mut i = 0;
        while i < q.len() {
            let (bare, res) = split_jid(&q[i].from);
            let matches = bare.eq_ignore_ascii_case(want_bare)
                && match (want_res.filter(|r| !r.is_empty()), res) {
                    (None, _) => true,
                    (Some(w), Some(r)) => r.starts_with(w),
                    // A message without a resource matches on the bare JID.
                    (Some(_), None) => true,
                };
            if !matches {
                i += 1;
                continue;
            }
            let m = q.remove(i)?;
            if now.duration_since(m.arrived) >= keep {
                continue;
            }
            return Some(m.body);
        }
        None
    }

    /// The messages waiting (tests, `xmpp show connections`).
    pub fn queued(&self) -> usize {
        self.messages.lock().len()
    }
}

async fn tls(cfg: &ClientConfig, tcp: TcpStream) -> Result<Conn, String> {
    // res_xmpp does not check the server's certificate (self-signed servers are common on
    // a LAN); ferrisk does the same. The name sent is the JID's domain.
    let name = if cfg.domain().is_empty() {
        cfg.host()
    } else {
        cfg.domain()
    };
    tokio::time::timeout(CONNECT_TIMEOUT, crate::net::tls::connect(name, tcp, false))
        .await
        .map_err(|_| format!("TLS handshake with {} timed out", cfg.host()))?
        .map_err(|e| format!("TLS failure with {}: {e}", cfg.host()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn client(timeout: u32) -> (Arc<Pbx>, Arc<Client>) {
        let pbx = crate::modules::test_pbx();
        let cf = load_str(
            std::path::Path::new("/nonexistent"),
            "xmpp.conf",
            &format!("[asterisk]\nusername=pbx@localhost\ntimeout={timeout}\n"),
            &LoadOptions::default(),
        )
        .unwrap();
        let (cfg, _) = super::super::config::parse(&cf).unwrap();
        let c = Client::new(
            &pbx,
            cfg.clients[0].clone(),
            Arc::new(AtomicBool::new(false)),
        );
        (pbx, c)
    }

    fn msg(from: &str, body: &str) -> Incoming {
        Incoming {
            from: from.into(),
            to: "pbx@localhost".into(),
            id: String::new(),
            kind: "chat".into(),
            body: body.into(),
        }
    }

    /// JABBER_RECEIVE without waiting.
    async fn now(c: &Client, jid: &str) -> Option<String> {
        c.receive(jid, Duration::from_millis(10), std::future::pending())
            .await
    }

    #[tokio::test]
    async fn receive_takes_the_newest_message_of_that_jid() {
        let (pbx, c) = client(5);
        c.incoming(&pbx, msg("bob@localhost/x", "from bob"));
        c.incoming(&pbx, msg("alice@localhost/phone", "1"));
        c.incoming(&pbx, msg("Alice@localhost/desk", "2"));
        assert_eq!(now(&c, "alice@localhost").await.as_deref(), Some("2"));
        assert_eq!(now(&c, "alice@localhost/ph").await.as_deref(), Some("1"));
        assert_eq!(now(&c, "alice@localhost").await, None);
        assert_eq!(c.queued(), 1);
    }

    #[tokio::test]
    async fn receive_waits_for_a_message_and_stops_at_cancel() {
        let (pbx, c) = client(5);
        let c2 = c.clone();
        let p2 = pbx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            c2.incoming(&p2, msg("alice@localhost/phone", "later"));
        });
        let got = c
            .receive(
                "alice@localhost",
                Duration::from_secs(10),
                std::future::pending(),
            )
            .await;
        assert_eq!(got.as_deref(), Some("later"));
        let got = c
            .receive("alice@localhost", Duration::from_secs(10), async {})
            .await;
        assert_eq!(got, None);
    }

    #[tokio::test]
    async fn the_queue_is_bounded() {
        let (pbx, c) = client(60);
        for i in 0..MAX_QUEUED + 5 {
            c.incoming(&pbx, msg("alice@localhost/phone", &i.to_string()));
        }
        assert_eq!(c.queued(), MAX_QUEUED);
        let last = (MAX_QUEUED + 4).to_string();
        assert_eq!(
            now(&c, "alice@localhost").await.as_deref(),
            Some(last.as_str())
        );
    }

    #[tokio::test]
    async fn messages_older_than_the_timeout_are_not_returned() {
        let (pbx, c) = client(0);
        c.incoming(&pbx, msg("alice@localhost/phone", "stale"));
        assert_eq!(now(&c, "alice@localhost").await, None);
    }
}
