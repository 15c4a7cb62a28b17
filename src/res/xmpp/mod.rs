//! `res_xmpp.so`: the PBX as an XMPP (Jabber) client, as Asterisk's res_xmpp. Every
//! connection of `xmpp.conf` ([`config`]) logs in (STARTTLS, SASL, resource binding),
//! fetches its roster, sends presence and stays connected ([`client`], reconnecting with
//! backoff). The dialplan talks through it with JabberSend, JabberSendGroup, JabberJoin,
//! JabberLeave, JabberStatus, `JABBER_STATUS` and `JABBER_RECEIVE` ([`apps`]); it is the
//! `xmpp` message technology of MessageSend, and with `sendtodialplan` incoming chat
//! messages run in the dialplan. CLI: `xmpp show connections|buddies`, `xmpp set debug`,
//! `xmpp purge nodes` ([`cli`]).
//!
//! The protocol itself (XML stream, SASL, the session state machine) is `crate::xmpp`;
//! this module owns the sockets, the configuration and the PBX side. Jingle/Motif calls,
//! components and PubSub event distribution are not supported (docs/xmpp.md).

pub mod apps;
pub mod cli;
pub mod client;
pub mod config;

use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload, SupportLevel};
use crate::pbx::Pbx;
use async_trait::async_trait;
use client::Client;
use config::XmppConfig;
use parking_lot::RwLock;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The config file.
pub const CONFIG_FILE: &str = "xmpp.conf";

/// The running connections of `res_xmpp.so`.
pub struct Xmpp {
    cfg: RwLock<Arc<XmppConfig>>,
    clients: RwLock<Vec<Arc<Client>>>,
    /// `xmpp set debug on|off`.
    pub debug: Arc<AtomicBool>,
}

impl Xmpp {
    fn new(cfg: XmppConfig) -> Xmpp {
        Xmpp {
            debug: Arc::new(AtomicBool::new(cfg.general.debug)),
            cfg: RwLock::new(Arc::new(cfg)),
            clients: RwLock::new(Vec::new()),
        }
    }

    /// The connection called `name` (case-insensitive, as res_xmpp).
    pub fn client(&self, name: &str) -> Option<Arc<Client>> {
        self.clients
            .read()
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
            .cloned()
    }

    /// Every connection, in xmpp.conf order.
    pub fn clients(&self) -> Vec<Arc<Client>> {
        self.clients.read().clone()
    }

    pub fn config(&self) -> Arc<XmppConfig> {
        self.cfg.read().clone()
    }

    /// Take a configuration: new connections start, removed ones stop, the others are
    /// reconfigured in place. Must run inside the runtime.
    async fn apply(&self, pbx: &Arc<Pbx>, cfg: XmppConfig) {
        self.debug
            .store(cfg.general.debug, std::sync::atomic::Ordering::Relaxed);
        let old = self.clients();
        let mut next = Vec::new();
        for c in &cfg.clients {
            match old.iter().find(|o| o.name.eq_ignore_ascii_case(&c.name)) {
                Some(o) => {
                    o.reconfigure(c.clone());
                    next.push(o.clone());
                }
                None => {
                    let n = Client::new(pbx, c.clone(), self.debug.clone());
                    n.start();
                    next.push(n);
                }
            }
        }
        for o in &old {
            if !next.iter().any(|n| Arc::ptr_eq(n, o)) {
                o.stop().await;
            }
        }
        *self.clients.write() = next;
        *self.cfg.write() = Arc::new(cfg);
    }

    async fn stop_all(&self) {
        let all = std::mem::take(&mut *self.clients.write());
        for c in all {
            c.stop().await;
        }
    }
}

/// The service of the loaded `res_xmpp.so`.
pub fn of(pbx: &Pbx) -> Option<Arc<Xmpp>> {
    pbx.service::<Xmpp>()
}

/// Read xmpp.conf: the configuration (warnings logged), or the errors (file:line:column).
fn read_config(pbx: &Pbx) -> Result<XmppConfig, String> {
    let s = &pbx.settings;
    let cf = crate::config::load(&s.astetcdir, CONFIG_FILE, &s.load_options())
        .map_err(|e| e.to_string())?;
    let (cfg, warnings) = config::parse(&cf).map_err(|e| crate::config::join_errors(&e))?;
    for w in warnings {
        pbx.warning(&format!("res_xmpp.c: {w}"));
    }
    Ok(cfg)
}

/// `res_xmpp.so`.
pub struct ResXmpp;

#[async_trait]
impl Module for ResXmpp {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_xmpp.so", "Asterisk XMPP Interface")
            .support(SupportLevel::Core)
            .configs(&[CONFIG_FILE])
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        if !pbx.settings.astetcdir.join(CONFIG_FILE).exists() {
            return Err(ModuleError::Decline(format!(
                "Unable to load config {CONFIG_FILE}"
            )));
        }
        let cfg = read_config(pbx).map_err(ModuleError::Failed)?;
        ctx.provide(Arc::new(Xmpp::new(cfg)));
        apps::register(ctx);
        ctx.register_cli_with(cli::register);
        Ok(())
    }

    async fn start(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        if let Some(x) = of(&ctx.pbx) {
            let cfg = (*x.config()).clone();
            x.apply(&ctx.pbx, cfg).await;
        }
        Ok(())
    }

    async fn stop(&self, ctx: &ModuleContext) {
        if let Some(x) = of(&ctx.pbx) {
            x.stop_all().await;
        }
    }

    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let Some(x) = of(&ctx.pbx) else {
            return Reload::NotSupported;
        };
        match read_config(&ctx.pbx) {
            Ok(cfg) => {
                let pbx = ctx.pbx.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => {
                        h.spawn(async move { x.apply(&pbx, cfg).await });
                    }
                    Err(_) => return Reload::Failed("no runtime".into()),
                }
                Reload::Done(String::new())
            }
            Err(e) => Reload::Failed(e),
        }
    }
}
