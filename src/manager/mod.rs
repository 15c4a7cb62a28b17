//! The Asterisk Manager Interface (`manager.conf`, TCP port 5038): AMI clients log in,
//! run actions and read events from the core's event bus, in Asterisk 20's framing.
//!
//! In Asterisk the manager is part of the core; here it is a module (`manager`, marked
//! built-in like the `pbx_builtins` families: always loaded, not listed by `module show`)
//! that registers its actions into the core's action registry (`pbx/manager.rs`), where
//! other modules register theirs (chan_sip its `SIPpeers`). It never names another module
//! to reach it: commands run through the core's command runner, calls through
//! `pbx::originate`, mailbox counts through `pbx.mailbox_counts()`.
//!
//! - `conf.rs`: manager.conf (pure);
//! - `proto.rs`: framing and one connection's state machine (no sockets, no clock);
//! - `events.rs`: bus events as AMI events, with their classes;
//! - `actions.rs`: the manager's own actions;
//! - `server.rs`: the TCP edge (tokio);
//! - `cli.rs`: `manager show …`, `manager reload`.
//!
//! It must never block an async worker (AstDB work goes to the blocking pool) and never
//! let a slow client hold up the bus (bounded per-client queues).

pub mod actions;
pub mod cli;
pub mod conf;
pub mod events;
pub mod proto;
pub mod server;

use crate::config::{join_errors, ConfigError};
use crate::pbx::bridge::AbortOnDrop;
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use async_trait::async_trait;
use conf::ManagerConf;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// One connected client, for `manager show connected`.
#[derive(Debug, Clone)]
pub struct Conn {
    pub user: Option<String>,
    pub addr: SocketAddr,
    pub since: Instant,
    pub since_wall: SystemTime,
    pub read: u32,
    pub write: u32,
}

/// What the module's parts share: the running configuration, the connections, the
/// listener.
#[derive(Default)]
pub struct Shared {
    conf: RwLock<Arc<ManagerConf>>,
    conns: Mutex<BTreeMap<u64, Conn>>,
    next: AtomicU64,
    listener: Mutex<Option<(SocketAddr, AbortOnDrop)>>,
}

impl Shared {
    pub fn conf(&self) -> Arc<ManagerConf> {
        self.conf.read().clone()
    }
    fn add_conn(&self, c: Conn) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().insert(id, c);
        id
    }
    fn logged_in(&self, id: u64, user: &str, read: u32, write: u32) {
        if let Some(c) = self.conns.lock().get_mut(&id) {
            c.user = Some(user.to_string());
            c.read = read;
            c.write = write;
        }
    }
    fn remove_conn(&self, id: u64) {
        self.conns.lock().remove(&id);
    }
    /// Connections not logged in yet (`authlimit`).
    pub fn unauthenticated(&self) -> usize {
        self.conns
            .lock()
            .values()
            .filter(|c| c.user.is_none())
            .count()
    }
    pub fn connections(&self) -> Vec<Conn> {
        self.conns.lock().values().cloned().collect()
    }
    /// The address the manager listens on, if it does.
    pub fn listening(&self) -> Option<SocketAddr> {
        self.listener.lock().as_ref().map(|(a, _)| *a)
    }
}

/// The `manager` module.
#[derive(Default)]
pub struct Manager {
    shared: Arc<Shared>,
}

/// Read and parse manager.conf: `Ok(None)` when there is none (the manager stays off).
fn read_conf(ctx: &ModuleContext) -> Result<Option<(ManagerConf, Vec<String>)>, Vec<ConfigError>> {
    let s = &ctx.pbx.settings;
    let dir = &s.astetcdir;
    if !dir.join("manager.conf").exists() {
        return Ok(None);
    }
    let cf = crate::config::load(dir, "manager.conf", &s.load_options()).map_err(|e| vec![e])?;
    conf::parse(&cf).map(Some)
}

impl Manager {
    /// (Re)start the listener if the configuration asks for a different one.
    async fn apply_listener(&self, ctx: &ModuleContext) {
        let conf = self.shared.conf();
        let want = conf
            .general
            .enabled
            .then(|| SocketAddr::new(conf.general.bindaddr, conf.general.port));
        if self.shared.listening() == want {
            return;
        }
        *self.shared.listener.lock() = None;
        let Some(addr) = want else {
            return;
        };
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                let task = tokio::spawn(server::serve(l, ctx.pbx.clone(), self.shared.clone()));
                *self.shared.listener.lock() = Some((addr, AbortOnDrop(task)));
                ctx.pbx
                    .verbose_line(2, &format!("Manager (AMI) listening on {addr}"));
            }
            Err(e) => ctx.pbx.error(&format!(
                "manager.c: Unable to bind the manager to {addr}: {e}"
            )),
        }
    }
}

#[async_trait]
impl Module for Manager {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("manager", "Asterisk Manager Interface")
            .configs(&["manager.conf"])
            .builtin()
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        match read_conf(ctx) {
            Ok(Some((c, warns))) => {
                for w in warns {
                    ctx.pbx.warning(&format!("manager.c: {w}"));
                }
                *self.shared.conf.write() = Arc::new(c);
            }
            Ok(None) => {}
            Err(errs) => return Err(ModuleError::Failed(join_errors(&errs))),
        }
        for a in actions::all() {
            ctx.register_manager_action(a);
        }
        cli::register(ctx, self.shared.clone());
        Ok(())
    }

    async fn start(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        self.apply_listener(ctx).await;
        Ok(())
    }

    async fn stop(&self, _ctx: &ModuleContext) {
        *self.shared.listener.lock() = None;
    }

    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match read_conf(ctx) {
            Ok(c) => {
                let mut text = String::new();
                let (c, warns) = c.unwrap_or_default();
                for w in warns {
                    ctx.pbx.warning(&format!("manager.c: {w}"));
                }
                *self.shared.conf.write() = Arc::new(c);
                // The listener follows enabled/port/bindaddr (the loader runs this on the
                // blocking pool, inside the runtime).
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => {
                        let (m, ctx) = (
                            Manager {
                                shared: self.shared.clone(),
                            },
                            ctx.clone(),
                        );
                        h.block_on(async move { m.apply_listener(&ctx).await });
                    }
                    Err(_) => text.push_str("manager: listener not restarted (no runtime)\n"),
                }
                Reload::Done(text)
            }
            Err(errs) => Reload::Failed(format!(
                "{}\nmanager.conf has errors: keeping the running configuration\n",
                join_errors(&errs)
            )),
        }
    }
}
