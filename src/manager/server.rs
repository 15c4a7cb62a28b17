//! The TCP edge: accept connections, feed bytes to the protocol state machine
//! (`proto.rs`), perform the steps it returns, and forward bus events to logged-in
//! clients through a bounded queue per connection (a client that cannot keep up loses
//! events, with a warning, and never holds up the bus).

use super::events::{event_class, header, to_message, topic_class, TOPICS};
use super::proto::{banner, Level, Out, Parser, Session};
use super::{Conn, Shared};
use crate::pbx::bridge::AbortOnDrop;
use crate::pbx::events::Event;
use crate::pbx::manager::{class, Caller, Message};
use crate::pbx::Pbx;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};

/// Messages waiting for one client at most (events beyond are dropped).
pub const QUEUE: usize = 1024;

/// Accept connections until aborted.
pub async fn serve(listener: TcpListener, pbx: Arc<Pbx>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let limit = shared.conf().general.authlimit;
                if shared.unauthenticated() >= limit {
                    pbx.warning(&format!(
                        "manager.c: {} refused: {limit} unauthenticated sessions already (authlimit)",
                        addr.ip()
                    ));
                    drop(stream);
                    continue;
                }
                let (pbx, sh) = (pbx.clone(), shared.clone());
                tokio::spawn(async move { connection(stream, addr, pbx, sh).await });
            }
            Err(e) => {
                pbx.warning(&format!("manager.c: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn ast_addr(a: SocketAddr) -> String {
    let v = if a.is_ipv4() { "IPV4" } else { "IPV6" };
    format!("{v}/TCP/{}/{}", a.ip(), a.port())
}

async fn write(w: &mut OwnedWriteHalf, text: &str, timeout_ms: u64) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(timeout_ms.max(100)),
            w.write_all(text.as_bytes())
        )
        .await,
        Ok(Ok(()))
    )
}

/// Start forwarding the bus to this client (one task per topic it may read).
fn forwarders(
    pbx: &Arc<Pbx>,
    shared: &Arc<Shared>,
    user: &str,
    read: u32,
    mask: &Arc<AtomicU32>,
    tx: &mpsc::Sender<Message>,
    addr: SocketAddr,
) -> Vec<AbortOnDrop> {
    let dropped = Arc::new(AtomicU64::new(0));
    TOPICS
        .iter()
        .filter(|t| topic_class(**t) & read != 0)
        .map(|t| {
            let mut rx = pbx.events.subscribe(*t);
            let (pbx, sh, mask, tx) = (pbx.clone(), shared.clone(), mask.clone(), tx.clone());
            let (user, dropped) = (user.to_string(), dropped.clone());
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    let ev: Arc<Event> = match rx.recv().await {
                        Ok(ev) => ev,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            pbx.warning(&format!(
                                "manager.c: manager session {} ({user}) fell {n} events behind; they are lost",
                                addr.ip()
                            ));
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    let c = event_class(&ev);
                    if c & read == 0 || c & mask.load(Ordering::Relaxed) == 0 {
                        continue;
                    }
                    let conf = sh.conf();
                    let ts = conf.general.timestampevents.then(now_secs);
                    let m = to_message(&ev, ts);
                    if let Some(u) = conf.user(&user) {
                        if !u.eventfilters.is_empty() && !u.filter_passes(&m.to_wire()) {
                            continue;
                        }
                    }
                    if tx.try_send(m).is_err() {
                        // Asterisk drops events for a client that does not read them.
                        if dropped.fetch_add(1, Ordering::Relaxed) % 1000 == 0 {
                            pbx.warning(&format!(
                                "manager.c: manager session {} ({user}) is not reading; events dropped",
                                addr.ip()
                            ));
                        }
                    }
                }
            }))
        })
        .collect()
}

/// One client, from banner to close.
async fn connection(stream: TcpStream, addr: SocketAddr, pbx: Arc<Pbx>, shared: Arc<Shared>) {
    let local = stream.local_addr().ok();
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let id = shared.add_conn(Conn {
        user: None,
        addr,
        since: Instant::now(),
        since_wall: std::time::SystemTime::now(),
        read: 0,
        write: 0,
    });
    let (tx, mut rx) = mpsc::channel::<Message>(QUEUE);
    let mut sess = Session::new(addr.ip());
    let mask = Arc::new(AtomicU32::new(class::ALL));
    let mut parser = Parser::default();
    let mut _fw: Vec<AbortOnDrop> = Vec::new();
    let mut warned_cut = 0;
    let mut said_goodbye = false;
    let auth_deadline =
        tokio::time::Instant::now() + Duration::from_secs(shared.conf().general.authtimeout);
    let mut buf = vec![0u8; 8192];
    let mut open = write(&mut wr, &banner(), 1000).await;
    while open {
        let wt = shared
            .conf()
            .user(sess.user.as_deref().unwrap_or(""))
            .map_or(100, |u| u.writetimeout);
        tokio::select! {
            n = rd.read(&mut buf) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                parser.feed(&buf[..n]);
                if parser.cut_lines > warned_cut {
                    warned_cut = parser.cut_lines;
                    pbx.warning(&format!("manager.c: Dumping long line with no return from {}", addr.ip()));
                }
                while let Some(req) = parser.next_message() {
                    let conf = shared.conf();
                    let privilege = |a: &str| pbx.manager_actions.get(a).map(|x| x.privilege());
                    let mut nonce = || format!("{}", rand::random::<u32>());
                    let was_authed = sess.authenticated();
                    let outs = sess.handle(req, &conf, &privilege, &mut nonce);
                    mask.store(sess.event_mask, Ordering::Relaxed);
                    if !was_authed && sess.authenticated() {
                        // Counted as logged in before the client reads the answer
                        // (authlimit counts the others).
                        let user = sess.user.clone().unwrap_or_default();
                        shared.logged_in(id, &user, sess.read, sess.write);
                    }
                    for o in outs {
                        match o {
                            Out::Send(m) => open &= write(&mut wr, &m.to_wire(), wt).await,
                            Out::Log(Level::Notice, t) => pbx.notice(&format!("manager.c: {t}")),
                            Out::Log(Level::Verbose(v), t) => {
                                said_goodbye |= t.contains("logged off");
                                pbx.verbose_line(v, &t)
                            }
                            Out::Security(name, account) => {
                                if pbx.events.wants(crate::pbx::events::Topic::Security) {
                                    pbx.events.publish(Event::Security {
                                        name,
                                        service: "AMI",
                                        account,
                                        remote: ast_addr(addr),
                                        local: local.map(ast_addr).unwrap_or_default(),
                                    });
                                }
                            }
                            Out::FailedLogin(m) => {
                                // Asterisk sleeps a second before refusing a login, and
                                // then ends the session.
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                let _ = write(&mut wr, &m.to_wire(), wt).await;
                                open = false;
                            }
                            Out::LoggedIn => {
                                let user = sess.user.clone().unwrap_or_default();
                                _fw = forwarders(&pbx, &shared, &user, sess.read, &mask, &tx, addr);
                                if sess.wants_event(class::SYSTEM, None, "") {
                                    let ts = conf.general.timestampevents.then(now_secs);
                                    let reload = pbx.last_reload.lock().0;
                                    let m = header("FullyBooted", class::SYSTEM, ts)
                                        .with("Uptime", pbx.started.elapsed().as_secs().to_string())
                                        .with("LastReload", reload.elapsed().as_secs().to_string())
                                        .with("Status", "Fully Booted");
                                    open &= write(&mut wr, &m.to_wire(), wt).await;
                                }
                            }
                            Out::Run(name, req) => {
                                let Some(action) = pbx.manager_actions.get(&name) else {
                                    continue;
                                };
                                let caller = Caller {
                                    user: sess.user.clone().unwrap_or_default(),
                                    addr: addr.ip().to_string(),
                                    write: sess.write,
                                    later: Some(tx.clone()),
                                };
                                let mut text = String::new();
                                for m in action.run(&pbx, &caller, &req).await {
                                    text.push_str(&m.to_wire());
                                }
                                open &= write(&mut wr, &text, wt.max(1000)).await;
                            }
                            Out::Close => open = false,
                        }
                        if !open {
                            break;
                        }
                    }
                    if !open {
                        break;
                    }
                }
            }
            Some(m) = rx.recv() => {
                if !write(&mut wr, &m.to_wire(), wt).await {
                    pbx.warning(&format!(
                        "manager.c: Failed to write to manager session {}: timeout, closing it",
                        addr.ip()
                    ));
                    break;
                }
            }
            _ = tokio::time::sleep_until(auth_deadline), if !sess.authenticated() => break,
        }
    }
    if let Some(u) = &sess.user {
        let shows = shared.conf().user(u).is_none_or(|c| c.displayconnects);
        if shows && !said_goodbye {
            pbx.verbose_line(2, &format!("Manager '{u}' logged off from {}", addr.ip()));
        }
    }
    // Forgotten before the client sees the close (authlimit counts the others).
    shared.remove_conn(id);
    let _ = wr.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::events::{ChanSnapshot, Topic};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_does_not_read_loses_events_and_never_holds_up_the_bus() {
        let pbx = Pbx::for_tests();
        let shared = Arc::new(Shared::default());
        let cf = crate::config::load_str(
            std::path::Path::new("/nonexistent"),
            "manager.conf",
            "[admin]\nsecret=pw\n",
            &Default::default(),
        )
        .unwrap();
        *shared.conf.write() = Arc::new(super::super::conf::parse(&cf).unwrap().0);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = AbortOnDrop(tokio::spawn(serve(l, pbx.clone(), shared.clone())));
        let mut logs = pbx.log_tx.subscribe();
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: pw\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("Authentication accepted") {
            let n = c.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the login answer");
            got.extend_from_slice(&buf[..n]);
        }
        while !pbx.events.wants(Topic::Channel) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Far more than the socket buffers and the queue hold; the client reads nothing.
        let snap = ChanSnapshot {
            channel: "Local/x-00000001;1".into(),
            ..Default::default()
        };
        for i in 0..100_000 {
            pbx.events.publish(Event::Hangup {
                chan: snap.clone(),
                cause: 16,
            });
            if i % 500 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // The publisher never waited; the client lost events (or was dropped), with a
        // warning, as Asterisk does.
        let warned = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match logs.recv().await {
                    Ok(l) if l.text.contains("manager session") => return l.text,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("log closed: {e}"),
                }
            }
        })
        .await
        .expect("a warning about the client that does not read");
        assert!(warned.contains("WARNING"), "{warned}");
        drop(server);
    }
}
