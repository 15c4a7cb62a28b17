//! Realtime peers (`sippeers` in `extconfig.conf`) as chan_sip keeps them.
//!
//! The driver reads storage off the core lock and hands the row's peer here. With
//! `rtcachefriends=yes` a realtime peer stays like a sip.conf peer ("Cached RT") until
//! `sip prune realtime`, a reload, or `rtautoclear`; with `rtcachefriends=no` (Asterisk's
//! default) it is a temporary peer: every new request of it reads storage again, so a changed
//! password or a removed user applies at once, and `sip show peers` does not list it.
//!
//! The registration a row carries (`rtupdate` wrote it: `fullcontact`, `ipaddr`, `port`,
//! `regseconds`) is where a call to a peer goes when this node has no binding of its own:
//! after a restart, or when another node took the REGISTER.

use super::Core;
use crate::channels::sipconf::{Host, Peer, RealtimeContact};
use crate::sip::registrar::Binding;
use std::time::{Duration, Instant};

impl Core {
    /// Whether `extconfig.conf` maps `sippeers` to a loaded engine.
    pub fn realtime_peers_enabled(&self) -> bool {
        self.pbx()
            .is_some_and(|p| p.realtime.is_enabled("sippeers"))
    }

    /// Whether `extconfig.conf` maps `sipregs` (Asterisk's separate registration table).
    pub fn realtime_regs_enabled(&self) -> bool {
        self.pbx().is_some_and(|p| p.realtime.is_enabled("sipregs"))
    }

    /// Whether `name` is a peer of sip.conf or one loaded from realtime.
    pub fn knows_peer(&self, name: &str) -> bool {
        self.cfg.peer(name).is_some()
    }

    /// Whether a request of `name` must read realtime storage first: a peer nobody knows, or
    /// a realtime peer that is not cached (`rtcachefriends=no`).
    pub fn wants_realtime_read(&self, name: &str) -> bool {
        match self.cfg.peer(name) {
            None => true,
            Some(p) => p.realtime && !self.cfg.general.rtcachefriends,
        }
    }

    /// Whether `name` is a realtime peer held only for the request at hand (not cached):
    /// `sip show peers` and `sip show peer` (without `load`) do not see it.
    pub fn is_temporary_peer(&self, p: &Peer) -> bool {
        p.realtime && !self.cfg.general.rtcachefriends
    }

    /// Keep (or refresh) a peer read from realtime: it registers and calls like a sip.conf
    /// peer. A sip.conf peer of the same name wins. `contact` (the row's registration) is
    /// used when this node has no binding for the peer.
    pub fn add_realtime_peer(
        &mut self,
        peer: Peer,
        contact: Option<RealtimeContact>,
        now: Instant,
    ) {
        if self.cfg.peer(&peer.name).is_some_and(|p| !p.realtime) {
            return;
        }
        if let Host::Name(n) = &peer.host {
            if let Some(a) = self.host_addr(n, peer.port.unwrap_or(5060)) {
                self.peer_ips.insert(peer.name.clone(), a.ip());
            }
        }
        let name = peer.name.clone();
        if let Some(c) = contact {
            if self.registrar.contacts(&name, now).is_empty() {
                let binding = Binding {
                    aor: name.clone(),
                    uri: c.uri,
                    q: None,
                    call_id: format!("realtime-{name}"),
                    cseq: 0,
                    expires: c.expires_in,
                    expires_at: now + Duration::from_secs(u64::from(c.expires_in)),
                    source: c.source,
                };
                self.registrar.restore(binding, now);
                if !c.useragent.is_empty() {
                    self.peers_rt.entry(name.clone()).or_default().useragent = c.useragent;
                }
            }
        }
        let cached = self.cfg.general.rtcachefriends;
        if let (true, Some(secs)) = (cached, self.cfg.general.rtautoclear) {
            self.rt_clear
                .entry(name.clone())
                .or_insert(now + Duration::from_secs(u64::from(secs)));
        }
        // In place: nobody else holds the config between two calls into the core, so this
        // does not copy the (possibly large) peer table.
        std::sync::Arc::make_mut(&mut self.cfg)
            .peers
            .insert(name, peer);
    }

    /// Storage no longer has `name` (or cannot be asked): forget it unless it is cached.
    pub fn realtime_peer_gone(&mut self, name: &str) {
        let temporary = self
            .cfg
            .peer(name)
            .filter(|p| self.is_temporary_peer(p))
            .map(|p| p.name.clone());
        if let Some(n) = temporary {
            std::sync::Arc::make_mut(&mut self.cfg)
                .peers
                .swap_remove(&n);
            self.peer_ips.remove(&n);
        }
    }

    /// A realtime peer registered (`longest` = its longest binding, `None` = no binding
    /// left): with `rtautoclear` it is forgotten 10 s after the registration ends, as
    /// chan_sip reschedules its expiry.
    pub(super) fn realtime_registered(&mut self, name: &str, longest: Option<u32>, now: Instant) {
        if !self.cfg.general.rtcachefriends || self.cfg.general.rtautoclear.is_none() {
            return;
        }
        let at = match longest {
            Some(e) => now + Duration::from_secs(u64::from(e) + 10),
            None => now,
        };
        self.rt_clear.insert(name.to_string(), at);
    }

    /// `rtautoclear`: forget cached realtime peers whose time is up.
    pub(super) fn realtime_autoclear(&mut self, now: Instant) {
        if self.rt_clear.is_empty() {
            return;
        }
        let due: Vec<String> = self
            .rt_clear
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let cfg = std::sync::Arc::make_mut(&mut self.cfg);
        for n in due {
            self.rt_clear.remove(&n);
            if cfg.peers.get(&n).is_some_and(|p| p.realtime) {
                cfg.peers.swap_remove(&n);
                self.peer_ips.remove(&n);
            }
        }
    }

    /// Forget realtime peers (`name`, or all); returns how many.
    pub fn prune_realtime(&mut self, name: Option<&str>, now: Instant) -> usize {
        let mut cfg = (*self.cfg).clone();
        let before = cfg.peers.len();
        cfg.peers
            .retain(|n, p| !(p.realtime && name.is_none_or(|x| x.eq_ignore_ascii_case(n))));
        let n = before - cfg.peers.len();
        match name {
            Some(x) => {
                self.rt_clear.retain(|k, _| !k.eq_ignore_ascii_case(x));
            }
            None => self.rt_clear.clear(),
        }
        if n > 0 {
            self.set_config(std::sync::Arc::new(cfg), now);
        }
        n
    }
}
