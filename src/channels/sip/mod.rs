//! The SIP channel driver (chan_sip compatible): `sip.conf` peers register, call and are
//! called as `SIP/<peer>-0000000N` channels; trunks are peers with a host; out-of-call
//! MESSAGEs go into the dialplan and `MessageSend` sends them.
//!
//! Layers: [`crate::sip::transport`] does the socket I/O, [`core::Core`] holds all protocol
//! state and decisions (socket-free, unit-tested), and this module glues them together: one
//! mutex around the core, a timer task, the [`SipTech`] each SIP channel carries, the
//! [`SipDriver`] registered with the PBX for `Dial(SIP/…)` and `MessageSend(sip:…)`.
//! Everything the core asks the PBX to do ([`core::Action`]) runs after the lock is released,
//! so dialplan code never runs under it. Blocking work never runs under it or on an async
//! worker either: config files, AstDB reads and host name look-ups ([`core::names`]) go to
//! the blocking pool, AstDB writes (registrations, MWI subscriptions) to the `sip-astdb`
//! thread.

mod apps;
pub mod channelstats;
pub mod cli;
pub mod core;
mod dbwriter;
pub mod domains;
pub mod format;
mod funcs;
mod manager;
pub mod media;
mod show;
pub mod util;

use self::core::{Action, Core, DB_FAMILY};
use crate::channels::sipconf::{load_sip_conf, SipConfig};
use crate::channels::{Driver, MessageTech, Outbound, RequestError};
use crate::config::ConfigError;
use crate::pbx::channel::{ChanEvent, ChannelShared, ChannelTech};
use crate::pbx::events::{Event, Topic};
use crate::pbx::message::Msg;
use crate::pbx::{blocking, exec, Channel, Pbx};
use crate::sip::registrar::Binding;
use crate::sip::transport::{BindOptions, Proto, Received, Sink, Tap, Transport};
use parking_lot::Mutex;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// `sip set debug` scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugMode {
    Off,
    All,
    Ip(IpAddr, Option<u16>),
}

/// The running driver: core, transport and timer.
pub struct SipShared {
    pub core: Mutex<Core>,
    pub transport: Arc<Transport>,
    pbx: Weak<Pbx>,
    kick: Notify,
    /// The instant (as nanos after `base`) the timer task currently sleeps until.
    sleeping_until: AtomicU64,
    base: Instant,
    pub debug: Mutex<DebugMode>,
    me: Weak<SipShared>,
    /// The timer and MWI tasks, stopped at unload.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Registrations are written to AstDB by a writer thread, batched in transactions, so
    /// a burst of REGISTERs never waits on SQLite ([`dbwriter`]).
    db: OnceLock<dbwriter::DbWriter>,
    /// Realtime look-ups in flight, by peer name, with the requests waiting for them: a
    /// phone's retransmissions and its authenticated REGISTER do not start more look-ups.
    rt_inflight: Mutex<std::collections::HashMap<String, Vec<Received>>>,
    /// Names realtime did not have, and when: not asked again for [`RT_MISS_TTL`] (a flood
    /// of REGISTERs for made-up users does not reach the directory once each).
    rt_missing: Mutex<std::collections::HashMap<String, Instant>>,
    /// The `rtp.conf` settings in force (a reload that changes nothing keeps the port pool).
    rtp_conf: Mutex<media::RtpConf>,
}

/// How long a realtime miss is remembered.
const RT_MISS_TTL: Duration = Duration::from_secs(3);
/// At most this many misses are remembered (then the list starts again).
const RT_MISS_MAX: usize = 10_000;

impl SipShared {
    /// Run `f` on the core, then send what it queued and perform its actions.
    pub fn with<R>(&self, f: impl FnOnce(&mut Core, Instant) -> R) -> R {
        let now = Instant::now();
        let (r, out, actions, next) = {
            let mut c = self.core.lock();
            let r = f(&mut c, now);
            let out = c.take_output();
            let actions = c.take_actions();
            let next = c.next_timeout();
            (r, out, actions, next)
        };
        for (dest, bytes) in out {
            if let Err(e) = self.transport.send(dest, &bytes) {
                tracing::debug!("SIP send to {dest}: {e}");
            }
        }
        self.perform(actions);
        if let Some(n) = next {
            let at = self.nanos(n);
            if at < self.sleeping_until.load(Ordering::Relaxed) {
                self.kick.notify_one();
            }
        }
        r
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    fn perform(&self, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        let Some(pbx) = self.pbx.upgrade() else {
            return;
        };
        for a in actions {
            match a {
                Action::Spawn(chan) => {
                    tokio::spawn(exec::run_pbx(*chan));
                }
                Action::Message(msg, ctx, exten) => {
                    crate::pbx::message::dispatch(&pbx, msg, &ctx, &exten);
                }
                Action::Verbose(level, text) => pbx.verbose_line(level, &text),
                Action::Notice(t) => pbx.notice(&t),
                Action::Warning(t) => pbx.warning(&t),
                Action::DbPut(f, k, v) => self.db_write(&pbx, f, k, Some(v)),
                Action::RealtimeUpdate(peer, set) => {
                    let p = pbx.clone();
                    tokio::spawn(async move {
                        if let Err(e) = p.realtime.update("sippeers", "name", &peer, &set).await {
                            p.warning(&format!(
                                "chan_sip.c: could not write realtime peer '{peer}' back: {e}"
                            ));
                        }
                    });
                }
                Action::DbDel(f, k) => self.db_write(&pbx, f, k, None),
                Action::MwiRefresh(peer, target) => self.mwi_refresh(&pbx, peer, target),
            }
        }
    }

    /// Read the current voicemail counts of `peer`'s mailboxes (off the core lock) and send
    /// them to `target`.
    fn mwi_refresh(&self, pbx: &Arc<Pbx>, peer: String, target: core::MwiTarget) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let boxes = match self.core.lock().cfg.peer(&peer) {
            Some(p) => p.mailboxes.clone(),
            None => return,
        };
        let pbx = pbx.clone();
        let me = self.me();
        rt.spawn(async move {
            let mut states = Vec::with_capacity(boxes.len());
            for b in &boxes {
                states.push(pbx.mailbox_counts(&b.mailbox, &b.context).await);
            }
            if let Some(s) = me.upgrade() {
                s.with(|c, now| c.send_mwi(&peer, &target, &states, now));
            }
        });
    }

    /// The peer name to look up in realtime before `r` reaches the core: a REGISTER (To
    /// user), INVITE, SUBSCRIBE or MESSAGE (From user) of a peer sip.conf does not have,
    /// when `extconfig.conf` maps `sippeers`.
    fn realtime_candidate(&self, r: &Received) -> Option<String> {
        let method = r.msg.method()?;
        use crate::sip::message::Method;
        let party = match method {
            Method::Register => r.msg.to(),
            Method::Invite | Method::Subscribe | Method::Message => r.msg.from(),
            _ => return None,
        }?;
        let name = party.uri.user_decoded()?.to_string();
        if name.is_empty() {
            return None;
        }
        let pbx = self.pbx.upgrade()?;
        if !pbx.realtime.is_enabled("sippeers") {
            return None;
        }
        let core = self.core.lock();
        if !core.wants_realtime_read(&name) {
            return None;
        }
        // A temporary (uncached) peer is read again for each new request, not inside a dialog.
        let in_dialog = r.msg.to().is_some_and(|t| t.tag().is_some());
        if in_dialog && core.knows_peer(&name) {
            return None;
        }
        Some(name)
    }

    /// Load `name` from realtime `sippeers` and keep it (a row that cannot be read is skipped
    /// with a warning); then let the core handle `r`. A directory that does not answer
    /// leaves the peer unknown: the caller gets the answer of a wrong password.
    async fn realtime_then_receive(self: Arc<Self>, name: String, r: Received) {
        self.load_realtime_peer(&name, true).await;
        let waiting = self.rt_inflight.lock().remove(&name).unwrap_or_default();
        self.with(|c, now| {
            c.on_receive(r, now);
            for w in waiting {
                c.on_receive(w, now);
            }
        });
    }

    /// Load `name` from realtime `sippeers` and keep it (cached, or for the request at hand);
    /// whether it is known afterwards. A temporary peer storage no longer has, or cannot
    /// give, is dropped. With `skip_recent_miss`, a name realtime did not have a moment ago
    /// is not asked again.
    pub async fn load_realtime_peer(&self, name: &str, skip_recent_miss: bool) -> bool {
        let Some(pbx) = self.pbx.upgrade() else {
            return false;
        };
        if !pbx.realtime.is_enabled("sippeers") {
            return false;
        }
        {
            let mut missing = self.rt_missing.lock();
            match missing.get(name) {
                Some(t) if skip_recent_miss && t.elapsed() < RT_MISS_TTL => return false,
                Some(_) => {
                    missing.remove(name);
                }
                None => {}
            }
        }
        let filter = [("name".to_string(), name.to_string())];
        let row = pbx.realtime.load("sippeers", &filter).await;
        if let Ok(None) = row {
            let mut missing = self.rt_missing.lock();
            if missing.len() >= RT_MISS_MAX {
                missing.clear();
            }
            missing.insert(name.to_string(), Instant::now());
        }
        match row {
            Ok(Some(row)) => {
                let general = self.core.lock().cfg.general.clone();
                match crate::channels::sipconf::peer_from_realtime(&row, &general) {
                    Ok(peer) => {
                        if let crate::channels::sipconf::Host::Name(n) = &peer.host {
                            self.look_up_if_due(|c, now| c.names.due(n, now).then(|| n.clone()))
                                .await;
                        }
                        let contact = crate::channels::sipconf::realtime_contact(
                            &row,
                            core::unix_now(),
                            general.ignoreregexpire,
                            general.defaultexpiry,
                        );
                        self.with(|c, now| c.add_realtime_peer(peer, contact, now));
                    }
                    Err(e) => {
                        pbx.warning(&format!("chan_sip.c: realtime peer '{name}' skipped: {e}"));
                        self.with(|c, _| c.realtime_peer_gone(name));
                    }
                }
            }
            Ok(None) | Err(_) => self.with(|c, _| c.realtime_peer_gone(name)),
        }
        self.core.lock().knows_peer(name)
    }

    fn db_write(&self, pbx: &Pbx, family: String, key: String, value: Option<String>) {
        if let Some(w) = self.db.get() {
            w.write(family, key, value);
            return;
        }
        // No writer thread: write directly.
        let r = match value {
            Some(v) => pbx.astdb.put(&family, &key, &v),
            None => pbx.astdb.del(&family, &key).map(|_| ()),
        };
        if let Err(e) = r {
            pbx.warning(&format!("chan_sip.c: cannot store registration: {e}"));
        }
    }

    /// Wait (at most 10 s) until every registration change queued so far is in AstDB.
    pub async fn flush_db(&self) {
        if let Some(w) = self.db.get() {
            let _ = tokio::time::timeout(Duration::from_secs(10), w.flush()).await;
        }
    }

    /// Look `hosts` up on the blocking pool and give the core the addresses.
    async fn look_up(&self, hosts: Vec<String>) {
        if hosts.is_empty() {
            return;
        }
        let dns = self.core.lock().cfg.general.dnsservers.clone();
        let found = blocking::run(move || core::names::lookup_all(hosts, &dns))
            .await
            .unwrap_or_default();
        self.core.lock().learn_names(found, Instant::now());
    }

    /// Look up the host name `pick` chooses from the core, if any (the lock is released
    /// before the look-up).
    async fn look_up_if_due<I: IntoIterator<Item = String>>(
        &self,
        pick: impl FnOnce(&Core, Instant) -> I,
    ) {
        let due: Vec<String> = pick(&self.core.lock(), Instant::now())
            .into_iter()
            .collect();
        self.look_up(due).await;
    }

    /// Look up the configured host names that are due ([`core::Core::names_due`]).
    async fn refresh_names(&self) {
        let due = self.core.lock().names_due(Instant::now());
        self.look_up(due).await;
    }

    fn me(&self) -> Weak<SipShared> {
        self.me.clone()
    }
}

/// Every [`core::names::RETRY`], look up again the configured host names that are due.
async fn names_loop(sip: Weak<SipShared>) {
    loop {
        tokio::time::sleep(core::names::RETRY).await;
        let Some(s) = sip.upgrade() else {
            return;
        };
        s.refresh_names().await;
    }
}

async fn timer_loop(sip: Weak<SipShared>) {
    loop {
        let Some(s) = sip.upgrade() else {
            return;
        };
        let next = s.core.lock().next_timeout();
        let now = Instant::now();
        let at = next.unwrap_or(now + Duration::from_secs(1));
        s.sleeping_until.store(s.nanos(at), Ordering::Relaxed);
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(at));
        {
            let notified = s.kick.notified();
            tokio::select! {
                _ = sleep => {}
                _ = notified => {}
            }
        }
        s.with(|c, now| c.on_timer(now));
        drop(s);
    }
}

/// `MessageWaiting` events on the core's bus → NOTIFYs to the peers listing the mailbox.
async fn mwi_loop(mut rx: tokio::sync::broadcast::Receiver<Arc<Event>>, sip: Weak<SipShared>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let state = match rx.recv().await {
            Ok(ev) => match &*ev {
                Event::MessageWaiting(s) => Some(s.clone()),
                _ => continue,
            },
            // Changes were dropped: every peer with a mailbox gets its current counts.
            Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => return,
        };
        let Some(s) = sip.upgrade() else {
            return;
        };
        match state {
            Some(state) => s.with(|c, now| c.mwi_changed(&state, now)),
            None => s.with(|c, now| c.mwi_changed_all(now)),
        }
    }
}

/// The driver side of one SIP channel.
pub struct SipTech {
    id: u64,
    sip: Weak<SipShared>,
    shared: OnceLock<Arc<ChannelShared>>,
}

impl SipTech {
    pub fn new(id: u64, sip: Weak<SipShared>) -> SipTech {
        SipTech {
            id,
            sip,
            shared: OnceLock::new(),
        }
    }
    pub fn set_shared(&self, s: Arc<ChannelShared>) {
        let _ = self.shared.set(s);
    }
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl ChannelTech for SipTech {
    fn tech(&self) -> &'static str {
        "SIP"
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn transfer(&self, chan: &Channel, dest: &str) -> crate::pbx::channel::TransferResult {
        match self.sip.upgrade() {
            Some(s) => s.with(|c, now| c.transfer(self.id, dest, chan.redirecting.as_deref(), now)),
            None => crate::pbx::channel::TransferResult::Failure,
        }
    }
    fn send_text(&self, text: &str) -> crate::pbx::channel::TextResult {
        use crate::pbx::channel::TextResult;
        match self.sip.upgrade() {
            Some(s) if s.with(|c, now| c.chan_send_text(self.id, text, now)) => TextResult::Success,
            _ => TextResult::Failure,
        }
    }
    fn answer(&self, _chan: &Channel) {
        if let Some(s) = self.sip.upgrade() {
            s.with(|c, now| c.answer(self.id, now));
        }
    }
    fn indicate(&self, _chan: &Channel, ev: &ChanEvent) {
        if let Some(s) = self.sip.upgrade() {
            s.with(|c, now| c.indicate(self.id, ev, now));
        }
    }
    fn hangup(&self, _chan: &Channel, cause: i32) {
        if let Some(s) = self.sip.upgrade() {
            s.with(|c, now| c.hangup(self.id, cause, now));
        }
    }
}

/// Registered with the PBX as technology `SIP`.
pub struct SipDriver {
    pub sip: Arc<SipShared>,
}

impl Driver for SipDriver {
    fn tech(&self) -> &'static str {
        "SIP"
    }

    /// A peer sip.conf does not have (or an uncached realtime one) is read from realtime
    /// storage before the call, with its registration; then the host name the call goes
    /// to, if any, is looked up (off the core's lock, on the blocking pool).
    fn prepare<'a>(&'a self, _pbx: &'a Arc<Pbx>, data: &'a str) -> crate::pbx::tech::Prepare<'a> {
        Box::pin(async move {
            let (peer, _) = core::split_dial(data);
            if peer.is_empty() || peer.parse::<std::net::IpAddr>().is_ok() {
                return;
            }
            if self.sip.core.lock().wants_realtime_read(peer) {
                self.sip.load_realtime_peer(peer, true).await;
            }
            self.sip
                .look_up_if_due(|c, now| c.dial_names_to_look_up(data, now))
                .await;
        })
    }

    /// chan_sip's `sip_devicestate`: a peer without an address (not registered) or one
    /// whose qualify fails is UNAVAILABLE; one with calls INUSE (BUSY at its call-limit),
    /// else NOT_INUSE; a name that is no peer is INVALID.
    fn cc_params(&self, _pbx: &Pbx, resource: &str) -> Option<crate::pbx::ccss::CcParams> {
        let name = resource.split(['@', '/']).next().unwrap_or(resource);
        let core = self.sip.core.lock();
        core.cfg.peer(name).map(|p| p.cc.clone())
    }
    fn device_state(
        &self,
        _pbx: &Pbx,
        resource: &str,
    ) -> Option<crate::pbx::devstate::DeviceState> {
        use crate::pbx::devstate::DeviceState as D;
        let name = resource.split(['@', '/']).next().unwrap_or(resource);
        let core = self.sip.core.lock();
        let Some(p) = core.cfg.peer(name) else {
            return Some(if name.parse::<std::net::IpAddr>().is_ok() {
                D::Unknown
            } else {
                D::Invalid
            });
        };
        if show::peer_addr(&core, p, std::time::Instant::now()).is_none() {
            return Some(D::Unavailable);
        }
        let status = show::status(&core, p);
        if matches!(
            status,
            format::PeerStatus::Unreachable | format::PeerStatus::Lagged(_)
        ) {
            return Some(D::Unavailable);
        }
        let inuse = core.peers_rt.get(&p.name).map(|r| r.inuse).unwrap_or(0);
        Some(match p.call_limit {
            Some(limit) if limit > 0 && inuse >= limit => D::Busy,
            _ if inuse > 0 => D::InUse,
            _ => D::NotInUse,
        })
    }

    fn request(
        &self,
        pbx: &Arc<Pbx>,
        data: &str,
        requester: Option<&Channel>,
    ) -> Result<Outbound, RequestError> {
        let (peer, targets, name) = self.sip.with(|c, now| c.resolve(data, now))?;
        let id = self.sip.with(|c, _| c.alloc_chan_id());
        let seq = pbx.next_tech_seq("SIP");
        let tech = Arc::new(SipTech::new(id, self.sip.me()));
        let mut chan = Channel::new(pbx, format!("SIP/{name}-{seq:08x}"), tech.clone());
        tech.set_shared(chan.shared.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        chan.events = Some(rx);
        let peer_name = peer.as_ref().map(|p| p.name.clone());
        // The channel's frame queues; the answering fork's RTP session feeds them.
        let format = {
            let names: &[String] = match &peer {
                Some(p) if !p.codecs.is_empty() => &p.codecs,
                _ => &self.sip.core.lock().cfg.general.codecs.clone(),
            };
            crate::sip::sdp::MediaPrefs::from_names(names)
                .codecs
                .first()
                .map(media::format_of)
                .unwrap_or_default()
        };
        let handle = crate::pbx::media::MediaHandle::new(format);
        chan.media = Some(handle.clone());
        self.sip.with(|c, _| {
            c.new_outbound(id, chan.shared.clone(), tx, peer_name);
            c.set_outbound_media(id, handle);
        });
        let caller = match requester {
            Some(r) => {
                chan.language.clone_from(&r.language);
                chan.accountcode.clone_from(&r.accountcode);
                for (k, v) in r.vars.inherited().iter() {
                    let name = crate::pbx::vars::Vars::display_name(k, v);
                    chan.vars.set(&name, v.value.clone());
                }
                // As app_dial does: the dialed channel carries the caller's redirecting
                // information (sent as Diversion).
                chan.redirecting.clone_from(&r.redirecting);
                r.caller.clone()
            }
            None => Default::default(),
        };
        // As chan_sip: the dialog's context is the peer's (else `[general] context`).
        chan.context = match &peer {
            Some(p) => p.context.clone(),
            None => self.sip.core.lock().cfg.general.context.clone(),
        };
        if let Some(p) = &peer {
            set_pickup_groups(&mut chan, p);
            if let Some(cid) = &p.callerid {
                chan.caller.name.clone_from(&cid.name);
                chan.caller.num.clone_from(&cid.number);
            }
        }
        let extras = core::CallExtras {
            redirecting: chan.redirecting.as_deref().cloned(),
            headers: core::party::added_headers(
                chan.vars.iter().map(|(k, v)| (k, v.value.as_str())),
            ),
        };
        let sip = self.sip.clone();
        let call = Box::new(move || {
            sip.with(|c, now| c.start_outbound(id, peer, targets, caller, &extras, now));
        });
        Ok(Outbound { chan, call })
    }
}

impl MessageTech for SipDriver {
    fn name(&self) -> &'static str {
        "sip"
    }
    /// A host name the message goes to is looked up first, off the core's lock.
    fn prepare<'a>(&'a self, to: &'a str) -> crate::pbx::tech::Prepare<'a> {
        Box::pin(async move {
            self.sip
                .look_up_if_due(|c, now| c.message_name_to_look_up(to, now))
                .await;
        })
    }
    fn send_message(&self, msg: &Msg, to: &str, from: &str) -> Result<(), String> {
        self.sip.with(|c, now| c.send_message(msg, to, from, now))
    }
}

/// Read `rtp.conf` (its `[general]`: the RTP port range, strict RTP, the RTCP interval; see
/// [`media::parse_rtp_conf`]). Without the file, the defaults. Errors name file:line:column.
pub fn read_rtp_conf(pbx: &Pbx) -> Result<(media::RtpConf, Vec<String>), Vec<ConfigError>> {
    let dir = &pbx.settings.astetcdir;
    if !dir.join("rtp.conf").exists() {
        return Ok((media::RtpConf::default(), Vec::new()));
    }
    let cf =
        crate::config::load(dir, "rtp.conf", &pbx.settings.load_options()).map_err(|e| vec![e])?;
    media::parse_rtp_conf(&cf)
}

/// Install `rtp.conf`'s settings in the core: the port range, and an allocator whose
/// sessions follow them (calls in progress keep theirs).
fn apply_rtp_conf(core: &mut Core, conf: media::RtpConf) {
    core.rtp_range = conf.range;
    core.media_alloc = Box::new(media::RtpAllocator::new(conf));
}

/// Load `sip.conf` from the config directory.
pub fn load_config(pbx: &Pbx) -> Result<(SipConfig, Vec<String>), Vec<ConfigError>> {
    load_sip_conf(&pbx.settings.astetcdir, &pbx.settings.load_options())
}

/// Start the driver if `sip.conf` exists: bind, restore registrations, register with the
/// PBX. `Ok(None)`: no sip.conf (chan_sip declines to load).
pub async fn start(pbx: &Arc<Pbx>) -> Result<Option<Arc<SipShared>>, String> {
    // Reading sip.conf: on the blocking pool.
    let p = pbx.clone();
    let loaded = blocking::run(move || {
        p.settings
            .astetcdir
            .join("sip.conf")
            .exists()
            .then(|| load_config(&p))
    })
    .await
    .ok_or("chan_sip: reading sip.conf failed")?;
    let Some(loaded) = loaded else {
        return Ok(None);
    };
    let (cfg, warnings) = loaded.map_err(|e| crate::config::join_errors(&e))?;
    for w in warnings {
        pbx.warning(&format!("chan_sip.c: {w}"));
    }
    start_with(pbx, cfg).await.map(Some)
}

/// Start the driver with an already parsed config.
pub async fn start_with(pbx: &Arc<Pbx>, cfg: SipConfig) -> Result<Arc<SipShared>, String> {
    let p = pbx.clone();
    let (rtp, rtp_warnings) = blocking::run(move || read_rtp_conf(&p))
        .await
        .ok_or("chan_sip: reading rtp.conf failed")?
        .map_err(|e| crate::config::join_errors(&e))?;
    for w in rtp_warnings {
        pbx.warning(&format!("chan_sip.c: {w}"));
    }
    let cell: Arc<OnceLock<Weak<SipShared>>> = Arc::new(OnceLock::new());
    let c2 = cell.clone();
    let sink: Sink = Arc::new(move |r: Received| {
        if let Some(s) = c2.get().and_then(Weak::upgrade) {
            // A request from a peer sip.conf does not know: look it up in realtime first
            // (off the core lock), then hand the request to the core as usual.
            if let Some(name) = s.realtime_candidate(&r) {
                {
                    let mut inflight = s.rt_inflight.lock();
                    if let Some(waiting) = inflight.get_mut(&name) {
                        // The same name is being looked up: wait for that answer.
                        waiting.push(r);
                        return;
                    }
                    inflight.insert(name.clone(), Vec::new());
                }
                tokio::spawn(async move { s.realtime_then_receive(name, r).await });
                return;
            }
            s.with(|c, now| c.on_receive(r, now));
        }
    });
    let udp = cfg.general.udpbindaddr;
    let mut opts = BindOptions::udp(udp);
    opts.tcp = cfg.general.tcpenable.then_some(cfg.general.tcpbindaddr);
    let (server, client) = tls_configs(pbx, &cfg.general.tls);
    opts.tls = server.map(|s| (cfg.general.tls.bindaddr, s));
    opts.tls_client = client;
    let transport = Transport::bind_with(opts, sink)
        .await
        .map_err(|e| format!("chan_sip: cannot bind SIP to {udp}: {e}"))?;
    let local = transport.udp_local();
    let now = Instant::now();
    let cfg = Arc::new(cfg);
    let sip = Arc::new_cyclic(|me: &Weak<SipShared>| {
        let mut core = Core::new(pbx, cfg.clone(), local, me.clone(), now);
        core.tcp_port = transport.tcp_local().map(|a| a.port());
        core.tls_port = transport.tls_local().map(|a| a.port());
        apply_rtp_conf(&mut core, rtp);
        SipShared {
            core: Mutex::new(core),
            transport: transport.clone(),
            pbx: Arc::downgrade(pbx),
            kick: Notify::new(),
            sleeping_until: AtomicU64::new(0),
            base: now,
            debug: Mutex::new(DebugMode::Off),
            me: me.clone(),
            tasks: Mutex::new(Vec::new()),
            db: OnceLock::new(),
            rt_inflight: Mutex::new(std::collections::HashMap::new()),
            rt_missing: Mutex::new(std::collections::HashMap::new()),
            rtp_conf: Mutex::new(rtp),
        }
    });
    {
        let p = Arc::downgrade(pbx);
        let writer = dbwriter::DbWriter::start(move |batch| {
            if let Some(p) = p.upgrade() {
                if let Err(e) = p.astdb.apply_batch(batch) {
                    p.warning(&format!("chan_sip.c: cannot store registrations: {e}"));
                }
            }
        });
        if let Some(w) = writer {
            let _ = sip.db.set(w);
        }
    }
    // Peers' and registration servers' host names, before anything is sent to them.
    sip.refresh_names().await;
    let _ = cell.set(Arc::downgrade(&sip));
    // Registrations survive a restart.
    let restored = restore_bindings(pbx, &sip).await;
    if restored > 0 {
        pbx.verbose_line(
            2,
            &format!("SIP Seeding peers from Astdb: {restored} contact(s)"),
        );
    }
    // So do MWI subscriptions (chan_sip forgets them): NOTIFYs stay in their dialogs.
    let subs = restore_subscriptions(pbx, &sip).await;
    if subs > 0 {
        pbx.verbose_line(
            2,
            &format!("SIP Restored {subs} MWI subscription(s) from Astdb"),
        );
    }
    install_tap(pbx, &sip);
    {
        // A connection that cannot be opened or is lost fails what was sent over it.
        let w = Arc::downgrade(&sip);
        transport.set_failure_hook(Some(Arc::new(move |dest: SocketAddr| {
            if let Some(s) = w.upgrade() {
                s.with(|c, now| c.on_transport_failure(dest, now));
            }
        })));
    }
    sip.with(|c, now| c.pump_regclients(now));
    let timer = tokio::spawn(timer_loop(Arc::downgrade(&sip))).abort_handle();
    let mwi = tokio::spawn(mwi_loop(
        pbx.events.subscribe(Topic::Mwi),
        Arc::downgrade(&sip),
    ))
    .abort_handle();
    let names = tokio::spawn(names_loop(Arc::downgrade(&sip))).abort_handle();
    let mut tasks = vec![timer, mwi, names];
    if subs > 0 {
        let first = tokio::spawn(restored_counts(Arc::downgrade(pbx), Arc::downgrade(&sip)));
        tasks.push(first.abort_handle());
    }
    *sip.tasks.lock() = tasks;
    let mut listening = format!("SIP Listening on {local} (UDP)");
    if let Some(t) = transport.tcp_local() {
        listening.push_str(&format!(", {t} (TCP)"));
    }
    if let Some(t) = transport.tls_local() {
        listening.push_str(&format!(", {t} (TLS)"));
    }
    pbx.verbose_line(2, &listening);
    Ok(sip)
}

/// The TLS listener's and the outbound connections' configurations from the `tls*`
/// settings (relative file names are read from the configuration directory). What cannot
/// be built is a warning, as chan_sip's "SIP TLS server did not load": the driver runs
/// without it.
fn tls_configs(
    pbx: &Pbx,
    tls: &crate::sip::tls::TlsSettings,
) -> (
    Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    Option<Arc<tokio_rustls::rustls::ClientConfig>>,
) {
    let dir = &pbx.settings.astetcdir;
    let abs = |f: &String| dir.join(f).display().to_string();
    let mut tls = tls.clone();
    tls.certfile = abs(&tls.certfile);
    tls.privatekey = tls.privatekey.as_ref().map(abs);
    tls.cafile = tls.cafile.as_ref().map(abs);
    tls.capath = tls.capath.as_ref().map(abs);
    let server = if tls.enable {
        match crate::sip::tls::server_config(&tls) {
            Ok(c) => Some(c),
            Err(e) => {
                pbx.warning(&format!(
                    "chan_sip.c: SIP TLS server did not load because of errors: {e}"
                ));
                None
            }
        }
    } else {
        None
    };
    let client = match crate::sip::tls::client_config(&tls) {
        Ok(c) => Some(c),
        Err(e) => {
            pbx.warning(&format!(
                "chan_sip.c: SIP TLS client configuration failed: {e}"
            ));
            None
        }
    };
    (server, client)
}

/// Restore the registrations stored in AstDB (read, and stale ones deleted, on the
/// blocking pool); how many.
async fn restore_bindings(pbx: &Arc<Pbx>, sip: &Arc<SipShared>) -> usize {
    restore_family(pbx, DB_FAMILY, Binding::from_db_value, |b: Binding| {
        if sip.core.lock().cfg.peer(&b.aor).is_none() {
            return Restored::Stale;
        }
        if sip.with(|c, now| c.restore_binding(b, now)) {
            Restored::Yes
        } else {
            Restored::No
        }
    })
    .await
}

/// Restore the MWI subscriptions stored in AstDB: each gets the current counts in its
/// dialog at once. Those of peers that are gone (or may not subscribe any more) are
/// deleted; how many were restored.
async fn restore_subscriptions(pbx: &Arc<Pbx>, sip: &Arc<SipShared>) -> usize {
    restore_family(
        pbx,
        core::mwi_db::SUB_DB_FAMILY,
        core::MwiSub::from_db_value,
        |s: core::MwiSub| {
            if sip.with(|c, now| c.restore_mwi_sub(s, now)) {
                Restored::Yes
            } else {
                Restored::Stale
            }
        },
    )
    .await
}

/// The restored subscriptions get their current counts once voicemail (loaded after
/// chan_sip) answers for mailboxes; without it within [`VOICEMAIL_WAIT`], they wait for
/// the next change.
async fn restored_counts(pbx: Weak<Pbx>, sip: Weak<SipShared>) {
    let until = Instant::now() + VOICEMAIL_WAIT;
    while Instant::now() < until {
        let Some(p) = pbx.upgrade() else {
            return;
        };
        if p.mailboxes.read().is_some() {
            if let Some(s) = sip.upgrade() {
                s.with(|c, _| c.mwi_refresh_subs());
            }
            return;
        }
        drop(p);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long restored subscriptions wait for voicemail to load.
const VOICEMAIL_WAIT: Duration = Duration::from_secs(30);

/// What became of one stored record.
enum Restored {
    Yes,
    /// Valid, but not taken (kept in AstDB).
    No,
    /// Deleted from AstDB.
    Stale,
}

/// Read `family` (on the blocking pool), `decode` each value and hand it to `restore`;
/// values that do not decode (malformed, expired) or that `restore` calls stale are
/// deleted, on the blocking pool too. How many were restored.
async fn restore_family<T, E>(
    pbx: &Arc<Pbx>,
    family: &'static str,
    decode: impl Fn(&str, Instant, u64) -> Result<T, E>,
    mut restore: impl FnMut(T) -> Restored,
) -> usize {
    let p = pbx.clone();
    let rows = blocking::run(move || p.astdb.show(Some(family), None))
        .await
        .unwrap_or_default();
    let now = Instant::now();
    let unix = core::unix_now();
    let mut n = 0;
    let mut stale = Vec::new();
    for (key, value) in rows {
        match decode(&value, now, unix).map(&mut restore) {
            Ok(Restored::Yes) => n += 1,
            Ok(Restored::No) => {}
            Ok(Restored::Stale) | Err(_) => stale.push(key),
        }
    }
    if !stale.is_empty() {
        let p = pbx.clone();
        blocking::run(move || {
            for key in stale {
                let _ = del_path(&p, &key);
            }
        })
        .await;
    }
    n
}

fn del_path(pbx: &Pbx, path: &str) -> bool {
    let p = path.trim_start_matches('/');
    match p.rsplit_once('/') {
        Some((f, k)) => pbx.astdb.del(f, k).unwrap_or(false),
        None => false,
    }
}

fn install_tap(pbx: &Arc<Pbx>, sip: &Arc<SipShared>) {
    let w = Arc::downgrade(sip);
    let p = Arc::downgrade(pbx);
    let tap: Tap = Arc::new(
        move |outgoing: bool, proto: Proto, peer: SocketAddr, bytes: &[u8]| {
            let (Some(s), Some(pbx)) = (w.upgrade(), p.upgrade()) else {
                return;
            };
            let mode = *s.debug.lock();
            let show = match mode {
                DebugMode::Off => false,
                DebugMode::All => true,
                DebugMode::Ip(ip, port) => peer.ip() == ip && port.is_none_or(|p| p == peer.port()),
            };
            if show {
                pbx.emit(0, cli::format_debug_message(outgoing, proto, peer, bytes));
            }
        },
    );
    sip.transport.set_tap(Some(tap));
}

/// `sip reload`: parse rtp.conf and sip.conf and look up the host names the new config
/// sends to; on error keep the running config and return the errors. Blocking: call it on
/// the blocking pool.
pub fn reload(pbx: &Arc<Pbx>, sip: &Arc<SipShared>) -> Result<Vec<String>, Vec<ConfigError>> {
    let ((rtp, mut warnings), (cfg, sip_warnings)) = match (read_rtp_conf(pbx), load_config(pbx)) {
        (Ok(r), Ok(s)) => (r, s),
        (r, s) => {
            let mut errors = r.err().unwrap_or_default();
            errors.extend(s.err().unwrap_or_default());
            return Err(errors);
        }
    };
    warnings.extend(sip_warnings);
    let found = core::names::lookup_all(core::names::config_names(&cfg), &cfg.general.dnsservers);
    let cfg = Arc::new(cfg);
    let rtp_changed = *sip.rtp_conf.lock() != rtp;
    sip.with(|c, now| {
        if rtp_changed {
            apply_rtp_conf(c, rtp);
        }
        c.learn_names(found, now);
        c.set_config(cfg, now)
    });
    *sip.rtp_conf.lock() = rtp;
    Ok(warnings)
}

/// Stop: unregister outbound registrations (best effort) and wait for the AstDB writer.
pub async fn shutdown(sip: &Arc<SipShared>) {
    sip.with(|c, now| c.stop_registrations(now));
    sip.flush_db().await;
}

/// `chan_sip.so`: reads `sip.conf`, binds the SIP sockets and registers the `SIP`
/// technology, the `sip:` message technology and the `sip …` commands. Without a
/// `sip.conf` it declines, as chan_sip does.
#[derive(Default)]
pub struct ChanSip {
    running: Mutex<Option<Arc<SipShared>>>,
}

#[async_trait::async_trait]
impl crate::pbx::module::Module for ChanSip {
    fn info(&self) -> crate::pbx::module::ModuleInfo {
        crate::pbx::module::ModuleInfo::new("chan_sip.so", "Session Initiation Protocol (SIP)")
            .support(crate::pbx::module::SupportLevel::Deprecated)
            .configs(&["sip.conf"])
    }
    fn load(
        &self,
        _ctx: &crate::pbx::module::ModuleContext,
    ) -> Result<(), crate::pbx::module::ModuleError> {
        Ok(())
    }
    async fn start(
        &self,
        ctx: &crate::pbx::module::ModuleContext,
    ) -> Result<(), crate::pbx::module::ModuleError> {
        let Some(sip) = start(&ctx.pbx).await? else {
            return Err(crate::pbx::module::ModuleError::Decline(
                "Unable to load config sip.conf".into(),
            ));
        };
        let driver = Arc::new(SipDriver { sip: sip.clone() });
        ctx.register_tech(driver.clone());
        ctx.register_msg_tech(driver);
        let s = sip.clone();
        ctx.register_cli_with(move |r| cli::register(r, s));
        funcs::register(ctx, &sip);
        apps::register(ctx, &sip);
        manager::register(ctx, &sip);
        *self.running.lock() = Some(sip);
        Ok(())
    }
    async fn stop(&self, _ctx: &crate::pbx::module::ModuleContext) {
        let Some(sip) = self.running.lock().take() else {
            return;
        };
        shutdown(&sip).await;
        // Let the un-REGISTERs leave before the sockets close.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for t in sip.tasks.lock().drain(..) {
            t.abort();
        }
        sip.transport.close();
    }
    fn reload(&self, ctx: &crate::pbx::module::ModuleContext) -> crate::pbx::module::Reload {
        let Some(sip) = self.running.lock().clone() else {
            return crate::pbx::module::Reload::NotSupported;
        };
        let text = cli::reload_text(&ctx.pbx, &sip);
        if text.is_empty() {
            crate::pbx::module::Reload::Done(text)
        } else {
            crate::pbx::module::Reload::Failed(text)
        }
    }
}

#[cfg(test)]
mod tests;

/// A peer's call and pickup groups go with its channels (Pickup()'s group pickup).
fn set_pickup_groups(chan: &mut Channel, p: &crate::channels::sipconf::Peer) {
    if !p.callgroups.is_empty() || !p.pickupgroups.is_empty() {
        chan.datastores.insert(
            crate::pbx::pickup::GROUPS_DATASTORE,
            (p.callgroups.clone(), p.pickupgroups.clone()),
        );
    }
}
