//! The SIP endpoint's state and protocol decisions: what to do with each message received,
//! each timer and each channel request. It owns the transaction table, the registrar, the
//! authenticator, the call legs and the peers' runtime state, and never touches a socket:
//! everything to send is queued ([`Core::take_output`]) and everything the PBX must do
//! (start a channel's dialplan, route a message, write AstDB, log) is an [`Action`] the driver
//! performs after releasing the lock. So the whole flow (REGISTER with auth, INVITE → 200 →
//! ACK → BYE, CANCEL, forking to several contacts) is testable without the network.

use super::media::{self as legmedia, LegMedia, MediaAllocator, PortsOnly};
use super::util::{self, cause_to_sip, host_str, new_branch, new_tag, sip_to_cause};
use crate::channels::sipconf::{Host, Peer, PeerType, Qualify, SipConfig};
use crate::channels::RequestError;
use crate::pbx::channel::{cause, ChanEvent, ChannelShared};
use crate::pbx::events::{Event, Topic};
use crate::pbx::media::{Frame, MediaHandle};
use crate::pbx::message::Msg;
use crate::pbx::{CallerId, Channel, Pbx};
use crate::sip::auth::{AuthReply, DigestAuthenticator, DigestChallenge, Secret};
use crate::sip::dialog::{Dialog, RequestCheck};
use crate::sip::guard::{AuthGuard, GuardConfig, Lockout, Verdict};
use crate::sip::message::{response_to, Contacts, Method, SipMessage};
use crate::sip::regclient::{RegClient, RegClientParams};
use crate::sip::registrar::{Binding, ContactReq, RegisterOutcome, Registrar, RegistrarConfig};
use crate::sip::sdp::{self, MediaPrefs, Sdp, SessionIds};
use crate::sip::transaction::{Incoming, TimerConfig, TransactionKey, TransactionTable, TxEvent};
use crate::sip::transport::{Proto, Received};
use crate::sip::uri::{NameAddr, SipUri};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

mod mwi;
pub mod mwi_db;
pub mod names;
pub mod party;
mod realtime;
mod refer;
mod srtp;
pub mod timer;
pub use mwi::{MwiSub, MwiTarget, RESTORE_CSEQ_GAP};

/// AstDB family of registrations (`SIP/Registry/<peer>/<n>`).
pub const DB_FAMILY: &str = "SIP/Registry";
/// Methods we accept, for `Allow`.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE";

/// How long finished server transactions absorb retransmissions (see
/// [`TimerConfig::server_linger`]).
pub const SERVER_LINGER: Duration = Duration::from_secs(8);
/// Most transactions in flight; beyond it new requests get 503 + Retry-After.
pub const TABLE_CAP: usize = 262_144;

/// What the driver does for the core once the lock is released.
pub enum Action {
    /// Write a realtime peer's registration back (`rtupdate`): peer name, columns.
    RealtimeUpdate(String, Vec<(String, String)>),
    /// Start the dialplan of a new inbound channel.
    Spawn(Box<Channel>),
    /// Route an out-of-call message into the dialplan.
    Message(Msg, String, String),
    /// Console line at a verbose level (0 = always).
    Verbose(u8, String),
    Notice(String),
    Warning(String),
    DbPut(String, String, String),
    DbDel(String, String),
    /// Read the voicemail counts of the peer's mailboxes and call [`Core::send_mwi`].
    MwiRefresh(String, MwiTarget),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// INVITE sent or received, nothing more.
    Proceeding,
    /// A provisional response was sent or received.
    Early,
    Up,
    Done,
}

/// One SIP dialog (or attempt) of a call: inbound legs are the caller's INVITE, outbound
/// legs one INVITE each (a Dial to a peer with several contacts has one per contact).
#[derive(Debug)]
pub struct Leg {
    pub call_id: String,
    pub inbound: bool,
    pub chan_id: u64,
    pub peer: Option<String>,
    pub remote: SocketAddr,
    pub invite: SipMessage,
    pub invite_key: Option<TransactionKey>,
    pub local_tag: String,
    pub dialog: Option<Dialog>,
    pub state: LegState,
    pub remote_offer: Option<Sdp>,
    pub local_sdp: Option<Vec<u8>>,
    pub session: SessionIds,
    pub rtp_port: u16,
    pub codec: String,
    /// The leg's RTP session (dropped, and so stopped, with the leg).
    pub media: Option<Box<dyn LegMedia>>,
    /// Our 2xx to the INVITE and its retransmission schedule, until the ACK.
    retx: Option<Retx>,
    /// Our ACK of their 2xx (resent when the 2xx is retransmitted).
    ack: Option<(SocketAddr, Vec<u8>)>,
    pub auth_tries: u32,
    pub cancel_pending: bool,
    pub provisional: bool,
    pub last_msg: String,
    pub user: String,
    pub hold: bool,
    pub created: Instant,
    /// Credentials to answer a challenge with (outbound legs).
    creds: Option<(String, String)>,
    /// Further addresses of the same destination (DNS SRV targets or A records), tried in
    /// order when this one does not answer within [`FAILOVER_TIMEOUT`] or fails.
    fallback: Vec<SocketAddr>,
    /// Whether the destination answered anything (even 100 Trying).
    heard: bool,
    /// When the INVITE went to the current address.
    attempt: Instant,
    /// The call's session timer (RFC 4028), when one runs.
    st: Option<timer::SessionTimer>,
    /// A `422` was answered with a longer interval already.
    se_retried: bool,
    /// The far end's REFER waits for its outcome (NOTIFY with the final sipfrag).
    refer_pending: bool,
    /// Our REFER (`Transfer()`) waits for the far end's outcome.
    refer_out: bool,
}

/// How long an outbound INVITE with further addresses to try waits for any response
/// before the next address is tried (as carriers do for origination URIs).
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(4);

/// Final responses after which the next address of a destination is not tried: the
/// destination itself answered for the call (as seed 004's carrier documents).
pub fn fails_over(code: u16) -> bool {
    !matches!(
        code,
        200..=399 | 400 | 404 | 405 | 410 | 416 | 482 | 484 | 486 | 487 | 600..=699
    )
}

/// What an outgoing INVITE carries besides the caller: the channel's redirecting
/// information (for `Diversion`) and the headers `SIPAddHeader()` asked for.
#[derive(Debug, Clone, Default)]
pub struct CallExtras {
    pub redirecting: Option<crate::pbx::channel::Redirecting>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug)]
struct Retx {
    msg: Vec<u8>,
    dest: SocketAddr,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

impl Retx {
    /// A 2xx to retransmit from T1 (500 ms) on, doubling, until the ACK or 64·T1
    /// (RFC 3261 §13.3.1.4).
    fn start(msg: Vec<u8>, dest: SocketAddr, now: Instant) -> Retx {
        let t1 = Duration::from_millis(500);
        Retx {
            msg,
            dest,
            next: now + t1,
            interval: t1,
            give_up: now + t1 * 64,
        }
    }
}

/// A SIP channel as the core sees it.
struct SipChan {
    shared: Option<Arc<ChannelShared>>,
    events: Option<mpsc::UnboundedSender<ChanEvent>>,
    legs: Vec<String>,
    winner: Option<String>,
    outcomes: Vec<u16>,
    ringing: bool,
    progress: bool,
    peer: Option<String>,
    /// The channel's frame queues, and the leg whose session feeds them.
    media: Option<MediaHandle>,
    feeding: Option<String>,
    /// A fork was redirected (3xx): where the call goes if no other fork answers.
    forward: Option<Box<crate::pbx::channel::Forward>>,
    /// The far end's identity was passed on (`ChanEvent::Connected`).
    connected_sent: bool,
}

/// Who owns a client transaction.
#[derive(Debug, Clone)]
enum Owner {
    Invite(String),
    InDialog,
    Options(String, Instant),
    /// An out-of-call MESSAGE: the request and the credentials to answer one challenge.
    Message(Box<Option<(SipMessage, SocketAddr, String, String)>>),
    Register(usize),
    /// A message-waiting NOTIFY, in the subscription with this Call-ID or unsolicited.
    Mwi(Option<String>),
    /// A session refresh (re-INVITE) of the call with this Call-ID.
    Refresh(String),
    /// Our REFER in the call with this Call-ID.
    Refer(String),
}

/// Runtime state of a peer (qualify, last user agent).
#[derive(Debug, Clone, Default)]
pub struct PeerRt {
    /// Last qualify round trip; `None`: not answered yet / unreachable.
    pub latency_ms: Option<u32>,
    pub reachable: Option<bool>,
    pub next_qualify: Option<Instant>,
    pub useragent: String,
    pub inuse: u32,
    /// New/old message counts last sent in an MWI NOTIFY (`LastMsgsSent`).
    pub last_msgs: (u32, u32),
}

/// Why a peer has nowhere to send to.
#[derive(Debug)]
enum TargetError {
    NotRegistered,
    Unresolvable(String),
}

/// A destination of an outbound call.
#[derive(Debug, Clone)]
pub struct Target {
    pub ruri: SipUri,
    pub dest: SocketAddr,
    /// Further addresses of the same destination, tried in order ([`Leg::fallback`]).
    pub fallback: Vec<SocketAddr>,
    /// The transport requests to it use (the peer's `transport=`, or the registered
    /// contact's).
    pub proto: Proto,
}

pub struct Core {
    pbx: Weak<Pbx>,
    sip: Weak<super::SipShared>,
    pub cfg: Arc<SipConfig>,
    pub local: SocketAddr,
    pub txs: TransactionTable,
    auth: DigestAuthenticator,
    /// Failed digest attempts per source and account (password-guessing defence).
    guard: AuthGuard,
    /// Transport of the message being handled (for security events).
    rx_proto: Proto,
    /// Ports of the TCP and TLS listeners, for our Via and Contact over those transports
    /// (set by the driver after binding; the UDP port when there is no listener).
    pub tcp_port: Option<u16>,
    pub tls_port: Option<u16>,
    /// ACKs that matched no call, dropped (`sip show security`).
    pub stray_acks: u64,
    pub registrar: Registrar,
    /// Boxed: a `Leg` is 1.8 KiB, and the map's spare slots would hold that much each.
    pub legs: HashMap<String, Box<Leg>>,
    chans: HashMap<u64, SipChan>,
    next_chan_id: u64,
    owners: HashMap<TransactionKey, Owner>,
    leg_timers: BinaryHeap<Reverse<(Instant, String)>>,
    pub peers_rt: HashMap<String, PeerRt>,
    out: Vec<(SocketAddr, Vec<u8>)>,
    pub actions: Vec<Action>,
    /// Opens each leg's RTP session (real sockets in the daemon, port numbers in tests).
    pub media_alloc: Box<dyn MediaAllocator>,
    pub rtp_range: (u16, u16),
    next_housekeeping: Instant,
    pub regclients: Vec<RegClient>,
    reg_started: bool,
    local_ips: HashMap<IpAddr, IpAddr>,
    /// REGISTERs per AOR in the last second, counted before authentication for known and
    /// unknown accounts alike (so the limit cannot be used to find accounts).
    reg_rate: HashMap<String, std::collections::VecDeque<Instant>>,
    /// Set while a request is handled without a server transaction: responses go here.
    stateless_to: Option<SocketAddr>,
    /// Addresses of peers configured with a host name (looked up at load, reload and every
    /// minute), to match their requests by source address.
    peer_ips: HashMap<String, IpAddr>,
    /// `message-summary` subscriptions by Call-ID.
    pub mwi_subs: HashMap<String, MwiSub>,
    /// With `rtautoclear`: when each cached realtime peer is forgotten.
    rt_clear: HashMap<String, Instant>,
    /// Host names looked up off the lock ([`names`]): the core never calls the resolver.
    pub(super) names: names::Names,
    /// Our SIP domains: sip.conf's `domain=` lines and `autodomain`'s ([`super::domains`]).
    pub domains: Vec<crate::channels::sipconf::SipDomain>,
}

/// sip.conf's `transaction_memory` and `retransmission_memory` (MiB).
fn set_transaction_budgets(txs: &mut TransactionTable, cfg: &SipConfig) {
    let mib = |m: u32| (m as usize).saturating_mul(1 << 20);
    txs.set_byte_cap(mib(cfg.general.transaction_memory.max(1)));
    txs.set_finished_cap(mib(cfg.general.retransmission_memory));
}

fn guard_config(cfg: &SipConfig) -> GuardConfig {
    let g = &cfg.general;
    GuardConfig {
        source_failures: g.auth_failures_per_source,
        account_failures: g.auth_failures_per_account,
        lockout: Duration::from_secs(u64::from(g.auth_lockout.max(1))),
        max_lockout: Duration::from_secs(u64::from(g.auth_lockout_max.max(g.auth_lockout).max(1))),
        ..GuardConfig::default()
    }
}

fn reg_config(cfg: &SipConfig) -> RegistrarConfig {
    let g = &cfg.general;
    RegistrarConfig {
        default_expiry: g.defaultexpiry,
        min_expiry: g.minexpiry,
        max_expiry: g.maxexpiry,
        max_contacts: g.max_contacts_per_aor as usize,
        max_registers_per_sec: g.max_registers_per_second as usize,
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A dial string's peer (or host) and extension: `peer`, `peer/exten` or `exten@peer`
/// (options after a comma dropped).
pub fn split_dial(data: &str) -> (&str, Option<&str>) {
    let data = data.split_once(',').map(|(a, _)| a).unwrap_or(data).trim();
    if let Some((p, e)) = data.split_once('/') {
        (p, Some(e))
    } else if let Some((e, p)) = data.rsplit_once('@') {
        (p, Some(e))
    } else {
        (data, None)
    }
}

/// Short stable key for a contact URI in AstDB.
fn contact_key(uri: &str) -> String {
    use md5::{Digest, Md5};
    let d = Md5::digest(uri.as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl Core {
    pub fn new(
        pbx: &Arc<Pbx>,
        cfg: Arc<SipConfig>,
        local: SocketAddr,
        sip: Weak<super::SipShared>,
        now: Instant,
    ) -> Core {
        let auth = DigestAuthenticator::with_random_key(&cfg.general.realm, now);
        let registrar = Registrar::new(reg_config(&cfg));
        let guard = AuthGuard::new(guard_config(&cfg));
        let mut txs = TransactionTable::new(
            TimerConfig {
                server_linger: SERVER_LINGER,
                ..TimerConfig::default()
            },
            TABLE_CAP,
        );
        set_transaction_budgets(&mut txs, &cfg);
        Core {
            pbx: Arc::downgrade(pbx),
            sip,
            cfg,
            local,
            txs,
            auth,
            guard,
            rx_proto: Proto::Udp,
            tcp_port: None,
            tls_port: None,
            stray_acks: 0,
            registrar,
            legs: HashMap::new(),
            chans: HashMap::new(),
            next_chan_id: 1,
            owners: HashMap::new(),
            leg_timers: BinaryHeap::new(),
            peers_rt: HashMap::new(),
            out: Vec::new(),
            actions: Vec::new(),
            media_alloc: Box::new(PortsOnly::default()),
            rtp_range: (10000, 20000),
            next_housekeeping: now,
            rt_clear: HashMap::new(),
            regclients: Vec::new(),
            reg_started: false,
            local_ips: HashMap::new(),
            reg_rate: HashMap::new(),
            stateless_to: None,
            peer_ips: HashMap::new(),
            mwi_subs: HashMap::new(),
            names: names::Names::default(),
            domains: Vec::new(),
        }
        .with_domains()
    }

    /// Work out the local domains of the configuration in force.
    fn with_domains(mut self) -> Core {
        self.set_domains();
        self
    }

    fn set_domains(&mut self) {
        let (d, notice) =
            super::domains::local_domains(&self.cfg.general, &crate::logger::hostname());
        if let Some(n) = notice {
            self.actions.push(Action::Notice(n.to_string()));
        }
        self.domains = d;
    }

    /// chan_sip's `check_sip_domain` (`CHECKSIPDOMAIN()`): `Some(context)` if `domain` is
    /// one of ours.
    pub fn check_domain(&self, domain: &str) -> Option<Option<&str>> {
        super::domains::check(&self.domains, domain)
    }

    /// The addresses of peers configured with a host name (`host=sip.provider.example`),
    /// from the names looked up ([`Core::learn_names`]).
    pub fn resolve_peer_hosts(&mut self) {
        self.peer_ips.clear();
        let cfg = self.cfg.clone();
        for p in cfg.peers.values() {
            if let Host::Name(n) = &p.host {
                if let Some(a) = self.host_addr(n, p.port.unwrap_or(5060)) {
                    self.peer_ips.insert(p.name.clone(), a.ip());
                }
            }
        }
    }

    fn pbx(&self) -> Option<Arc<Pbx>> {
        self.pbx.upgrade()
    }

    /// Everything queued for the wire: (destination, bytes).
    pub fn take_output(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        while let Some(t) = self.txs.poll_transmit() {
            self.out.push((t.dest, t.bytes));
        }
        std::mem::take(&mut self.out)
    }

    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    fn verbose(&mut self, level: u8, s: String) {
        self.actions.push(Action::Verbose(level, s));
    }

    /// Publish on the core's event bus (non-blocking; skipped when nobody listens).
    fn publish(&self, ev: impl FnOnce() -> Event, topic: Topic) {
        if let Some(p) = self.pbx() {
            if p.events.wants(topic) {
                p.events.publish(ev());
            }
        }
    }

    fn peer_status(&self, peer: &str, status: &str, address: String) {
        // Registration decides a SIP device's availability (calls do not change it yet).
        let device_state = match status {
            "Registered" | "Reachable" => Some("NOT_INUSE"),
            "Unregistered" | "Unreachable" => Some("UNAVAILABLE"),
            _ => None,
        };
        if let Some(state) = device_state {
            self.publish(
                || Event::DeviceStateChange {
                    device: format!("SIP/{peer}"),
                    state: state.to_string(),
                },
                Topic::DeviceState,
            );
        }
        self.publish(
            || Event::PeerStatus {
                channel_type: "SIP",
                peer: format!("SIP/{peer}"),
                status: status.to_string(),
                address,
            },
            Topic::Registration,
        );
    }

    fn security_event(&self, name: &'static str, account: &str, src: SocketAddr) {
        let local = self.local;
        let proto = self.rx_proto.as_str();
        // Asterisk's ast_sockaddr form: IPV4/UDP/<address>/<port>.
        let addr = |a: SocketAddr| {
            let v = if a.is_ipv4() { "IPV4" } else { "IPV6" };
            format!("{v}/{proto}/{}/{}", a.ip(), a.port())
        };
        self.publish(
            || Event::Security {
                name,
                service: "SIP",
                account: account.to_string(),
                remote: addr(src),
                local: addr(local),
            },
            Topic::Security,
        );
    }

    /// Apply a reloaded sip.conf. Bindings, calls and the bound sockets are kept.
    pub fn set_config(&mut self, cfg: Arc<SipConfig>, now: Instant) {
        if cfg.general.realm != self.cfg.general.realm {
            self.auth = DigestAuthenticator::with_random_key(&cfg.general.realm, now);
        }
        // Registrations are restarted only when the `register =>` lines changed; the old ones
        // are unregistered first.
        let same = self.cfg.registrations.len() == cfg.registrations.len()
            && self
                .cfg
                .registrations
                .iter()
                .zip(&cfg.registrations)
                .all(|(a, b)| same_registration(a, b));
        self.registrar.set_config(reg_config(&cfg));
        self.guard.set_config(guard_config(&cfg));
        set_transaction_budgets(&mut self.txs, &cfg);
        self.cfg = cfg;
        self.set_domains();
        self.resolve_peer_hosts();
        for p in self.peers_rt.values_mut() {
            p.next_qualify = None;
        }
        if !same {
            self.stop_registrations(now);
            self.regclients.clear();
            self.owners.retain(|_, o| !matches!(o, Owner::Register(_)));
            self.reg_started = false;
            self.pump_regclients(now);
        }
    }

    // ---------------------------------------------------------------- addresses

    /// The IP we advertise to `dest` (Contact, Via, SDP).
    pub fn local_ip_for(&mut self, dest: IpAddr) -> IpAddr {
        if let Some(ext) = &self.cfg.general.externaddr {
            let local = self.cfg.general.localnet.iter().any(|n| n.contains(dest));
            if !local && !dest.is_loopback() {
                if let Ok(ip) = ext.host.parse::<IpAddr>() {
                    return ip;
                }
            }
        }
        if !self.local.ip().is_unspecified() {
            return self.local.ip();
        }
        *self
            .local_ips
            .entry(dest)
            .or_insert_with(|| util::local_ip_for(dest))
    }

    fn local_hostport(&mut self, dest: IpAddr) -> String {
        let ip = self.local_ip_for(dest);
        let port = match &self.cfg.general.externaddr {
            Some(ext) if ip.to_string() == ext.host => ext.port.unwrap_or(self.local.port()),
            _ => self.local.port(),
        };
        format!("{}:{port}", host_str(ip))
    }

    fn contact_for(&mut self, user: &str, dest: IpAddr) -> NameAddr {
        let hp = self.local_hostport(dest);
        let (host, port) = split_hostport(&hp);
        let user = (!user.is_empty()).then_some(user);
        NameAddr::new(SipUri::new_sip(user, &host, port))
    }

    /// `contact` for a dialog over `proto`: our listener's port and `;transport=tcp|tls`.
    fn contact_over(&self, mut contact: NameAddr, proto: Proto) -> NameAddr {
        let port = match proto {
            Proto::Udp => return contact,
            Proto::Tcp => self.tcp_port,
            Proto::Tls => self.tls_port,
        };
        if let Some(p) = port {
            contact.uri.port = Some(p);
        }
        contact
            .uri
            .params
            .retain(|(n, _)| !n.eq_ignore_ascii_case("transport"));
        contact
            .uri
            .params
            .push(("transport".into(), Some(proto.param().into())));
        contact
    }

    /// Send the new request `m` over `proto`: its Via names the transport (which the I/O
    /// edge follows, opening a connection if needed) and our listener's port, its Contact
    /// says `;transport=`. Nothing changes for UDP.
    fn use_transport(&mut self, m: &mut SipMessage, proto: Proto, dest: IpAddr) {
        if proto == Proto::Udp {
            return;
        }
        let port = match proto {
            Proto::Tcp => self.tcp_port,
            _ => self.tls_port,
        }
        .unwrap_or(self.local.port());
        let ip = self.local_ip_for(dest);
        let branch = m
            .top_via()
            .and_then(|v| v.branch)
            .unwrap_or_else(new_branch);
        let contact = m
            .header("Contact")
            .and_then(|c| NameAddr::parse(c).ok())
            .map(|c| self.contact_over(c, proto));
        let h = m.headers_mut();
        h.set(
            "Via",
            format!(
                "SIP/2.0/{} {}:{port};branch={branch};rport",
                proto.as_str(),
                host_str(ip)
            ),
        );
        if let Some(c) = contact {
            h.set("Contact", c.to_string());
        }
    }

    fn open_media(&mut self, comedia: bool) -> Option<Box<dyn LegMedia>> {
        let r = self.rtp_range;
        self.media_alloc.open(r, comedia)
    }

    fn useragent(&self) -> String {
        self.cfg.general.useragent.clone()
    }

    // ---------------------------------------------------------------- receiving

    /// A message from the transport.
    pub fn on_receive(&mut self, r: Received, now: Instant) {
        let Received {
            mut msg,
            src,
            proto,
            raw,
        } = r;
        self.rx_proto = proto;
        if msg.is_request() {
            if msg.call_id().is_none()
                || msg.from().is_none()
                || msg.to().is_none()
                || msg.cseq().is_none()
                || msg.top_via().is_none()
            {
                self.stateless(&msg, src, 400, "Bad Request");
                return;
            }
            if msg.cseq().map(|(_, m)| m) != msg.method().cloned() {
                self.stateless(&msg, src, 400, "Bad Request - CSeq method mismatch");
                return;
            }
            stamp_via(&mut msg, src);
            if msg.method() != Some(&Method::Ack) && msg.max_forwards() == Some(0) {
                self.stateless(&msg, src, 483, "Too Many Hops");
                return;
            }
        }
        let ruri_raw = util::raw_request_uri(&raw);
        // A REGISTER without credentials only earns a challenge (or a refusal): answer it
        // without keeping a transaction, so a registration storm costs half the state. A
        // retransmission simply gets a fresh challenge.
        if msg.method() == Some(&Method::Register)
            && msg.header("Authorization").is_none()
            && self.txs.get_server_key(&msg).is_none()
        {
            if let Some(key) = TransactionKey::of(&msg, crate::sip::transaction::Role::Server) {
                self.stateless_to = Some(src);
                let ruri = ruri_raw.clone().unwrap_or_default();
                self.on_register(&key, &msg, src, &ruri, now);
                self.stateless_to = None;
                return;
            }
        }
        match self.txs.handle_incoming(msg, src, proto.reliable(), now) {
            Incoming::NewServer(key) | Incoming::Matched(key) => {
                let _ = key;
            }
            Incoming::StrayAck(ack) => self.on_ack(&ack, now),
            Incoming::StrayResponse(resp) => self.on_stray_response(&resp),
            Incoming::Overloaded(r) => self.out.push((src, r.to_bytes())),
            Incoming::Invalid => {}
        }
        self.drain_events(Some((src, proto, ruri_raw)), now);
    }

    fn stateless(&mut self, req: &SipMessage, src: SocketAddr, code: u16, reason: &str) {
        if req.method() == Some(&Method::Ack) {
            return;
        }
        if let Some(r) = response_to(req, code, reason, Some(&new_tag())) {
            self.out.push((src, r.to_bytes()));
        }
    }

    /// The connection to `dest` could not be opened (refused, TLS failed) or was lost:
    /// what was sent there fails as a transport error (RFC 3261 §8.1.3.1).
    pub fn on_transport_failure(&mut self, dest: SocketAddr, now: Instant) {
        self.txs.transport_failed_to(dest, now);
        self.drain_events(None, now);
    }

    fn drain_events(&mut self, cur: Option<(SocketAddr, Proto, Option<String>)>, now: Instant) {
        while let Some((key, ev)) = self.txs.poll_event() {
            match ev {
                TxEvent::Request(req) => {
                    let (src, ruri) = match &cur {
                        Some((s, _, r)) => (*s, r.clone()),
                        None => match self.txs.get(&key) {
                            Some(t) => (t.peer(), None),
                            None => continue,
                        },
                    };
                    self.on_request(key, req, src, ruri, now);
                }
                TxEvent::Response(resp) => self.on_response(&key, resp, now),
                TxEvent::Timeout => self.on_client_timeout(&key, now),
                TxEvent::TransportError => self.on_transport_error(&key, now),
                TxEvent::Terminated => {
                    self.owners.remove(&key);
                }
            }
        }
    }

    fn respond(&mut self, key: &TransactionKey, resp: SipMessage, now: Instant) {
        if let Some(dest) = self.stateless_to {
            self.out.push((dest, resp.to_bytes()));
            return;
        }
        let _ = self.txs.send_response(key, resp, now);
    }

    fn reply(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        code: u16,
        reason: &str,
        now: Instant,
    ) {
        if let Some(mut r) = response_to(req, code, reason, Some(&new_tag())) {
            r.headers_mut().push("Server", self.useragent());
            self.respond(key, r, now);
        }
    }

    fn on_request(
        &mut self,
        key: TransactionKey,
        req: SipMessage,
        src: SocketAddr,
        ruri: Option<String>,
        now: Instant,
    ) {
        let Some(method) = req.method().cloned() else {
            return;
        };
        let ruri = ruri.unwrap_or_else(|| match &req {
            SipMessage::Request { uri, .. } => uri.to_string(),
            SipMessage::Response { .. } => String::new(),
        });
        let in_dialog = req.to().and_then(|t| t.tag().map(str::to_string)).is_some();
        match method {
            Method::Register => self.on_register(&key, &req, src, &ruri, now),
            Method::Invite if in_dialog => self.on_reinvite(&key, &req, src, now),
            Method::Invite => self.on_invite(&key, &req, src, &ruri, now),
            Method::Bye => self.on_bye(&key, &req, now),
            Method::Cancel => self.on_cancel(&key, &req, now),
            Method::Options => {
                if let Some(mut r) = response_to(&req, 200, "OK", Some(&new_tag())) {
                    let h = r.headers_mut();
                    h.push("Server", self.useragent());
                    h.push("Allow", ALLOW);
                    h.push("Accept", "application/sdp");
                    h.push("Supported", "replaces, timer");
                    self.respond(&key, r, now);
                }
            }
            Method::Message if !in_dialog => self.on_message(&key, &req, src, &ruri, now),
            Method::Info if in_dialog && self.info_dtmf(&req) => {
                self.reply(&key, &req, 200, "OK", now);
            }
            Method::Notify if in_dialog && self.on_refer_notify(&key, &req, now) => {}
            Method::Message if in_dialog => self.on_dialog_message(&key, &req, now),
            Method::Info | Method::Update | Method::Notify if in_dialog => {
                let ok = req.call_id().is_some_and(|c| self.legs.contains_key(c));
                if ok {
                    self.reply(&key, &req, 200, "OK", now);
                } else {
                    self.reply(&key, &req, 481, "Call/Transaction Does Not Exist", now);
                }
            }
            Method::Ack => {}
            Method::Subscribe => self.on_subscribe(&key, &req, src, &ruri, now),
            Method::Refer if in_dialog => self.on_refer(&key, &req, now),
            _ => {
                if let Some(mut r) = response_to(&req, 501, "Not Implemented", Some(&new_tag())) {
                    r.headers_mut().push("Allow", ALLOW);
                    self.respond(&key, r, now);
                }
            }
        }
    }

    // ---------------------------------------------------------------- auth

    /// Challenge/verify `req` for `peer`; `None` = authenticated, `Some(())` = answered.
    #[allow(clippy::too_many_arguments)]
    /// An in-dialog MESSAGE (chan_sip's `receive_message` with an owner): a `text/plain`
    /// body, its trailing line ends stripped, becomes a text frame of the call's channel
    /// and is answered 202 Accepted; another content type gets 415 Unsupported Media Type.
    fn on_dialog_message(&mut self, key: &TransactionKey, req: &SipMessage, now: Instant) {
        let Some(leg) = req.call_id().and_then(|c| self.legs.get(c)) else {
            self.reply(key, req, 481, "Call/Transaction Does Not Exist", now);
            return;
        };
        let ct = req.header("Content-Type").unwrap_or("").trim_start();
        if !ct.starts_with("text/plain") {
            self.reply(key, req, 415, "Unsupported Media Type", now);
            return;
        }
        let text = String::from_utf8_lossy(req.body());
        let text = text.trim_end_matches(['\r', '\n']).to_string();
        if let Some(shared) = self.chans.get(&leg.chan_id).and_then(|c| c.shared.clone()) {
            shared.queue_text(text);
        }
        self.reply(key, req, 202, "Accepted", now);
    }

    /// An in-dialog INFO with `application/dtmf-relay`: the digit goes to the channel.
    fn info_dtmf(&self, req: &SipMessage) -> bool {
        let ct = req
            .header("Content-Type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if !ct.trim_start().starts_with("application/dtmf-relay") {
            return false;
        }
        let Some(leg) = req.call_id().and_then(|c| self.legs.get(c)) else {
            return false;
        };
        if let Some((d, len)) = legmedia::dtmf_relay(req.body()) {
            if let Some(m) = self.chans.get(&leg.chan_id).and_then(|c| c.media.as_ref()) {
                m.from_far.push_lossy(Frame::Dtmf(d, len));
            }
        }
        true
    }

    fn authenticate(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        ruri: &str,
        expect_user: Option<&str>,
        src: SocketAddr,
        now: Instant,
    ) -> Option<()> {
        let method = req.method()?.as_str().to_string();
        let kind = crate::sip::auth::ChallengeKind::for_method(&method);
        let header = req.header(kind.credentials_header).map(str::to_string);
        let cfg = self.cfg.clone();
        // Who the credentials claim to be (the addressed account when they name none).
        let claimed = header
            .as_deref()
            .and_then(|h| crate::sip::auth::DigestCredentials::parse(h).ok())
            .map(|c| c.username)
            .or_else(|| expect_user.map(str::to_string))
            .unwrap_or_default();
        if header.is_some() && self.guard.check(src.ip(), &claimed, now) == Verdict::Refuse {
            // Locked out: the answer to a wrong password, the password unchecked.
            let l = self.guard.failed(src.ip(), &claimed, now);
            self.note_lockout(l, src, &claimed);
            self.security_event(Self::failure_event(&cfg, &claimed), &claimed, src);
            self.reply(key, req, 403, "Forbidden", now);
            return Some(());
        }
        let expect = expect_user.map(str::to_string);
        let reply = self.auth.authenticate(
            &method,
            ruri,
            header.as_deref(),
            |user| {
                if let Some(e) = &expect {
                    if !e.eq_ignore_ascii_case(user) {
                        // Credentials for a different account than the one addressed.
                        let p = cfg.peer(e)?;
                        let authuser = p.defaultuser.as_deref().unwrap_or(&p.name);
                        if !authuser.eq_ignore_ascii_case(user) {
                            return None;
                        }
                    }
                }
                let p = cfg
                    .peer(user)
                    .or_else(|| expect.as_deref().and_then(|e| cfg.peer(e)))?;
                match (&p.md5secret, &p.secret) {
                    (Some(h), _) => Some(Secret::Ha1(h.as_str())),
                    (None, Some(s)) => Some(Secret::Plain(s.as_str())),
                    (None, None) => Some(Secret::Plain("")),
                }
            },
            cfg.general.alwaysauthreject,
            now,
        );
        match reply {
            AuthReply::Accept => {
                self.guard.succeeded(src.ip(), &claimed, now);
                self.security_event("SuccessfulAuth", &claimed, src);
                None
            }
            AuthReply::Challenge {
                status,
                reason,
                header,
                value,
            } => {
                if let Some(mut r) = response_to(req, status, reason, Some(&new_tag())) {
                    let h = r.headers_mut();
                    h.push("Server", self.useragent());
                    h.push(header, value);
                    self.respond(key, r, now);
                }
                Some(())
            }
            other => {
                if matches!(other, AuthReply::Forbidden | AuthReply::NotFound) {
                    self.security_event(Self::failure_event(&cfg, &claimed), &claimed, src);
                    let l = self.guard.failed(src.ip(), &claimed, now);
                    self.note_lockout(l, src, &claimed);
                }
                let (code, reason) = other.status();
                self.reply(key, req, code, reason, now);
                Some(())
            }
        }
    }

    /// Log a lockout that a failure started.
    fn note_lockout(&mut self, l: Lockout, src: SocketAddr, account: &str) {
        let text = match l {
            Lockout::Source(d) => format!(
                "chan_sip.c: Too many failed authentications from '{}': refused for {} s",
                src.ip(),
                d.as_secs()
            ),
            Lockout::Account(d) => format!(
                "chan_sip.c: Too many failed authentications for '{account}': only its known addresses may try for {} s",
                d.as_secs()
            ),
            Lockout::None => return,
        };
        self.actions.push(Action::Notice(text));
    }

    /// Password-guessing defence figures: (sources locked out now, sources and accounts
    /// remembered).
    pub fn guard_stats(&self, now: Instant) -> (usize, usize) {
        (self.guard.locked_sources(now), self.guard.entries())
    }

    /// The security event of a failed attempt: `InvalidAccountID` for a name that is no
    /// account, else `InvalidPassword`.
    fn failure_event(cfg: &SipConfig, account: &str) -> &'static str {
        if cfg.peer(account).is_some() {
            "InvalidPassword"
        } else {
            "InvalidAccountID"
        }
    }

    /// An unknown caller is challenged like a real account, and its answer refused with 403,
    /// so accounts cannot be told apart from non-accounts.
    fn refuse_unknown(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        ruri: &str,
        src: SocketAddr,
        now: Instant,
    ) {
        if self.authenticate(key, req, ruri, None, src, now).is_none() {
            self.reply(key, req, 403, "Forbidden", now);
        }
    }

    /// chan_sip's `check_request_transport`: a peer's requests must come over one of its
    /// `transport=` transports (else 403, logged as chan_sip does).
    fn transport_allowed(&mut self, p: &Peer) -> bool {
        let proto = self.rx_proto;
        if p.transports.iter().any(|t| conf_proto(*t) == proto) {
            return true;
        }
        let ours: Vec<&str> = p
            .transports
            .iter()
            .map(|t| conf_proto(*t).as_str())
            .collect();
        self.actions.push(Action::Warning(format!(
            "chan_sip.c: '{}' is not a valid transport for '{}'. we only use '{}'! ending call.",
            proto.as_str(),
            p.name,
            ours.join(",")
        )));
        false
    }

    fn peer_needs_auth(p: &Peer) -> bool {
        p.secret.as_deref().is_some_and(|s| !s.is_empty()) || p.md5secret.is_some()
    }

    // ---------------------------------------------------------------- REGISTER

    fn on_register(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        src: SocketAddr,
        ruri: &str,
        now: Instant,
    ) {
        let aor_user = req
            .to()
            .and_then(|t| t.uri.user_decoded())
            .unwrap_or_default();
        let cfg = self.cfg.clone();
        // With domains configured, a REGISTER for another domain is refused (chan_sip's
        // register_verify).
        let to_host = req.to().map(|t| t.uri.host.clone()).unwrap_or_default();
        if !self.domains.is_empty() && self.check_domain(&to_host).is_none() {
            if cfg.general.alwaysauthreject {
                self.refuse_unknown(key, req, ruri, src, now);
            } else {
                self.reply(key, req, 404, "Not found (unknown domain)", now);
            }
            return;
        }
        if let Some(retry) = self.rate_limited(&aor_user, now) {
            if let Some(mut r) = response_to(req, 503, "Service Unavailable", Some(&new_tag())) {
                r.headers_mut().push("Server", self.useragent());
                r.headers_mut().push("Retry-After", retry.to_string());
                self.respond(key, r, now);
            }
            return;
        }
        let peer = cfg
            .peer(&aor_user)
            .filter(|p| p.host == Host::Dynamic && p.kind != PeerType::User);
        let Some(peer) = peer else {
            // Unknown account: with alwaysauthreject the same answers as a wrong password.
            if cfg.general.alwaysauthreject {
                self.refuse_unknown(key, req, ruri, src, now);
            } else {
                self.reply(key, req, 404, "Not found", now);
            }
            self.actions.push(Action::Notice(format!(
                "chan_sip.c: Registration from '{}' failed for '{}' - {}",
                req.header("From").unwrap_or(""),
                src.ip(),
                if cfg.general.alwaysauthreject {
                    "Wrong password"
                } else {
                    "No matching peer found"
                }
            )));
            return;
        };
        if !peer.permits(src.ip()) {
            self.reply(key, req, 403, "Forbidden", now);
            return;
        }
        if Self::peer_needs_auth(peer)
            && self
                .authenticate(key, req, ruri, Some(&peer.name), src, now)
                .is_some()
        {
            if req.header("Authorization").is_some() {
                self.actions.push(Action::Notice(format!(
                    "chan_sip.c: Registration from '{}' failed for '{}' - Wrong password",
                    req.header("From").unwrap_or(""),
                    src.ip()
                )));
            }
            return;
        }
        if !self.transport_allowed(peer) {
            self.reply(key, req, 403, "Forbidden", now);
            return;
        }
        let call_id = req.call_id().unwrap_or("").to_string();
        let cseq = req.cseq().map(|c| c.0).unwrap_or(0);
        let contacts = match req.contacts() {
            None => Vec::new(),
            Some(Contacts::Wildcard) => vec![ContactReq {
                uri: "*".into(),
                expires: None,
                q: None,
                call_id: call_id.clone(),
                cseq,
                source: Some(src),
            }],
            Some(Contacts::List(l)) => l
                .into_iter()
                .map(|na| ContactReq {
                    uri: na.uri.to_string(),
                    expires: na.expires(),
                    q: na.param("q").flatten().and_then(|q| q.parse::<f32>().ok()),
                    call_id: call_id.clone(),
                    cseq,
                    source: Some(src),
                })
                .collect(),
        };
        let ua = req.header("User-Agent").unwrap_or("").to_string();
        let name = peer.name.clone();
        let has_mailbox = !peer.mailboxes.is_empty();
        let is_realtime = peer.realtime;
        let write_back = is_realtime && cfg.general.rtupdate;
        let was = !self.registrar.contacts(&name, now).is_empty();
        let outcome = self.registrar.register(&name, contacts, req.expires(), now);
        let (code, reason) = outcome.status();
        let Some(mut r) = response_to(req, code, reason, Some(&new_tag())) else {
            return;
        };
        r.headers_mut().push("Server", self.useragent());
        match &outcome {
            RegisterOutcome::Ok {
                contacts,
                updated,
                removed,
            } => {
                let h = r.headers_mut();
                let mut max_exp = 0;
                for c in contacts {
                    max_exp = max_exp.max(c.expires);
                    h.push("Contact", format!("<{}>;expires={}", c.uri, c.expires));
                }
                h.push("Expires", max_exp.to_string());
                h.push(
                    "Date",
                    chrono::Utc::now()
                        .format("%a, %d %b %Y %H:%M:%S GMT")
                        .to_string(),
                );
                let nu = unix_now();
                for b in updated {
                    self.actions.push(Action::DbPut(
                        format!("{DB_FAMILY}/{name}"),
                        contact_key(&b.uri),
                        b.to_db_value(now, nu),
                    ));
                }
                for b in removed {
                    self.actions.push(Action::DbDel(
                        format!("{DB_FAMILY}/{name}"),
                        contact_key(&b.uri),
                    ));
                }
                let is = !contacts.is_empty();
                if is && !updated.is_empty() && has_mailbox {
                    // chan_sip sends the current counts after a registration.
                    self.actions
                        .push(Action::MwiRefresh(name.clone(), MwiTarget::Peer));
                }
                if is_realtime {
                    let longest = contacts.iter().map(|c| c.expires).max();
                    self.realtime_registered(&name, longest, now);
                }
                if write_back {
                    // chan_sip's realtime_update_peer: where the phone is, until when.
                    let newest = contacts.iter().max_by_key(|c| c.expires);
                    let mut set: Vec<(String, String)> = match newest {
                        Some(c) => vec![
                            ("ipaddr".into(), src.ip().to_string()),
                            ("port".into(), src.port().to_string()),
                            ("regseconds".into(), (nu + u64::from(c.expires)).to_string()),
                            ("useragent".into(), ua.clone()),
                            ("fullcontact".into(), c.uri.clone()),
                        ],
                        None => vec![
                            ("ipaddr".into(), String::new()),
                            ("port".into(), "0".into()),
                            ("regseconds".into(), "0".into()),
                            ("useragent".into(), String::new()),
                            ("fullcontact".into(), String::new()),
                        ],
                    };
                    if cfg.general.rtsavesysname {
                        if let Some(p) = self.pbx() {
                            set.push(("regserver".into(), p.settings.systemname.clone()));
                        }
                    }
                    self.actions.push(Action::RealtimeUpdate(name.clone(), set));
                }
                if !ua.is_empty() {
                    self.peers_rt.entry(name.clone()).or_default().useragent = ua;
                }
                if is && !was {
                    self.verbose(3, format!("Registered SIP '{name}' at {src}"));
                    self.peer_status(&name, "Registered", src.to_string());
                    if let Some(rt) = self.peers_rt.get_mut(&name) {
                        rt.next_qualify = Some(now);
                    }
                } else if !is && was {
                    self.verbose(3, format!("Unregistered SIP '{name}'"));
                    self.peer_status(&name, "Unregistered", src.to_string());
                }
            }
            RegisterOutcome::IntervalTooBrief { min_expires } => {
                r.headers_mut().push("Min-Expires", min_expires.to_string());
            }
            RegisterOutcome::RateLimited { retry_after } => {
                r.headers_mut().push("Retry-After", retry_after.to_string());
            }
            _ => {}
        }
        self.respond(key, r, now);
    }

    /// Count a REGISTER for `aor`; `Some(retry_after)` when over the per-second limit.
    fn rate_limited(&mut self, aor: &str, now: Instant) -> Option<u32> {
        let limit = self.cfg.general.max_registers_per_second as usize;
        if limit == 0 {
            return None;
        }
        let window = Duration::from_secs(1);
        if self.reg_rate.len() > 100_000 {
            self.reg_rate.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
        }
        let q = self.reg_rate.entry(aor.to_ascii_lowercase()).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            q.pop_front();
        }
        if q.len() >= limit {
            return Some(1);
        }
        q.push_back(now);
        None
    }

    /// Bindings restored from AstDB at start.
    pub fn restore_binding(&mut self, b: Binding, now: Instant) -> bool {
        self.registrar.restore(b, now)
    }

    // ---------------------------------------------------------------- inbound calls

    /// Find the peer an inbound request belongs to: by From user (friend/user) first, then by
    /// source address (peer).
    fn match_peer(&self, req: &SipMessage, src: SocketAddr) -> Option<&Peer> {
        let from_user = req.from().and_then(|f| f.uri.user_decoded());
        if let Some(u) = from_user {
            if let Some(p) = self.cfg.peer(&u).filter(|p| p.is_user()) {
                return Some(p);
            }
        }
        self.cfg.peers.values().find(|p| {
            p.kind != PeerType::User
                && match &p.host {
                    Host::Ip(ip) => {
                        *ip == src.ip() && (p.insecure.port || p.port.unwrap_or(5060) == src.port())
                    }
                    Host::Name(_) => {
                        self.peer_ips.get(&p.name) == Some(&src.ip())
                            && (p.insecure.port || p.port.unwrap_or(5060) == src.port())
                    }
                    Host::Dynamic => false,
                }
        })
    }

    fn on_invite(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        src: SocketAddr,
        ruri: &str,
        now: Instant,
    ) {
        let Some(call_id) = req.call_id().map(str::to_string) else {
            return;
        };
        if self.legs.contains_key(&call_id) {
            // A new INVITE (new branch) for a call we already have: a merged/looped request.
            self.reply(key, req, 482, "Loop Detected", now);
            return;
        }
        let cfg = self.cfg.clone();
        let peer = self.match_peer(req, src).cloned();
        let (mut context, peer_name, chan_base) = match &peer {
            Some(p) => {
                if !p.permits(src.ip()) {
                    self.reply(key, req, 403, "Forbidden", now);
                    return;
                }
                // insecure=invite: calls from this peer are not challenged.
                let needs = Self::peer_needs_auth(p) && !p.insecure.invite;
                if needs
                    && self
                        .authenticate(key, req, ruri, Some(&p.name), src, now)
                        .is_some()
                {
                    return;
                }
                if !self.transport_allowed(p) {
                    self.reply(key, req, 403, "Forbidden", now);
                    return;
                }
                (p.context.clone(), Some(p.name.clone()), p.name.clone())
            }
            None => {
                if cfg.general.allowguest
                    && !req.from().is_some_and(|f| {
                        f.uri.user.as_deref().is_some_and(|u| cfg.peer(u).is_some())
                    })
                {
                    (cfg.general.context.clone(), None, src.ip().to_string())
                } else {
                    // Unknown caller: challenge like a real account, then refuse.
                    self.refuse_unknown(key, req, ruri, src, now);
                    return;
                }
            }
        };
        let Some((ruri_parsed, exten)) = request_exten(req) else {
            return;
        };
        // Local domains (chan_sip's get_destination): an INVITE to another domain is
        // refused with allowexternaldomains=no; one to a listed domain with a context
        // goes there unless the peer has a context of its own.
        if !self.domains.is_empty() {
            match self.check_domain(&ruri_parsed.host) {
                None if !cfg.general.allowexternaldomains => {
                    self.reply(key, req, 403, "Forbidden", now);
                    return;
                }
                Some(Some(c)) if !peer.as_ref().is_some_and(|p| p.has_context) => {
                    context = c.to_string();
                }
                _ => {}
            }
        }
        let Some(pbx) = self.pbx() else {
            self.reply(key, req, 503, "Service Unavailable", now);
            return;
        };
        let from = req.from();
        let mut caller = CallerId::default();
        if let Some(f) = &from {
            caller.num = f.uri.user_decoded().filter(|u| !u.is_empty());
            caller.name = f.display_name().filter(|n| !n.is_empty());
        }
        // trustrpid: the caller the peer asserts (P-Asserted-Identity, Remote-Party-ID).
        let party_opts = peer.as_ref().map_or(cfg.general.party, |p| p.party);
        if party_opts.trustrpid {
            if let Some(id) = party::asserted_identity(req) {
                if id.num.is_some() {
                    caller.num = id.num;
                }
                if id.name.is_some() {
                    caller.name = id.name;
                }
            }
        }
        if let Some(p) = &peer {
            if let Some(cid) = &p.callerid {
                if cid.name.is_some() {
                    caller.name.clone_from(&cid.name);
                }
                if cid.number.is_some() {
                    caller.num.clone_from(&cid.number);
                }
            }
        }
        let dp = pbx.dialplan();
        let cid_num = caller.num.clone();
        let nowc = chrono::Utc::now();
        if !dp.exists(&context, &exten, 1, cid_num.as_deref(), nowc) {
            if dp.match_more(&context, &exten, cid_num.as_deref(), nowc) {
                self.reply(key, req, 484, "Address Incomplete", now);
            } else {
                self.actions.push(Action::Notice(format!(
                    "chan_sip.c: Call from '{}' ({src}) to extension '{exten}' rejected because extension not found in context '{context}'.",
                    peer_name.as_deref().unwrap_or("")
                )));
                self.reply(key, req, 404, "Not Found", now);
            }
            return;
        }
        if let Some(p) = &peer {
            if let Some(limit) = p.call_limit {
                let inuse = self.peers_rt.get(&p.name).map(|r| r.inuse).unwrap_or(0);
                if inuse >= limit {
                    self.actions.push(Action::Notice(format!(
                        "chan_sip.c: Call from peer '{}' rejected due to usage limit of {limit}",
                        p.name
                    )));
                    self.reply(key, req, 480, "Temporarily Unavailable", now);
                    return;
                }
            }
        }
        // Session timers (RFC 4028).
        let st_cfg = peer.as_ref().map_or(cfg.general.session, |p| p.session);
        let session_timer = match timer::uas_decide(&st_cfg, req, now) {
            timer::UasDecision::None => None,
            timer::UasDecision::Run(t) => Some(t),
            timer::UasDecision::TooSmall(min) => {
                if let Some(mut r) = response_to(req, 422, "Session Interval Too Small", None) {
                    r.headers_mut().push("Min-SE", min.to_string());
                    self.respond(key, r, now);
                }
                return;
            }
            timer::UasDecision::BadExtension => {
                if let Some(mut r) = response_to(req, 420, "Bad Extension", None) {
                    r.headers_mut().push("Unsupported", "timer");
                    self.respond(key, r, now);
                }
                return;
            }
        };
        // SDP offer (or none: we offer in the 200).
        let offer = if req.body().is_empty() {
            None
        } else {
            match Sdp::parse_bytes(req.body()) {
                Ok(s) => Some(s),
                Err(_) => {
                    self.reply(key, req, 400, "Bad Request - malformed SDP", now);
                    return;
                }
            }
        };
        let prefs = self.prefs_for(peer.as_ref());
        let comedia = peer
            .as_ref()
            .map_or(cfg.general.nat.comedia, |p| p.nat.comedia);
        let Some(media) = self.open_media(comedia) else {
            self.actions.push(Action::Warning(
                "chan_sip.c: No free RTP port in the rtp.conf range".into(),
            ));
            self.reply(key, req, 503, "Service Unavailable", now);
            return;
        };
        let rtp_port = media.port();
        let mut format = prefs
            .codecs
            .first()
            .map(legmedia::format_of)
            .unwrap_or_default();
        let local_ip = self.local_ip_for(src.ip());
        let session = SessionIds::new(rand::random::<u32>() as u64);
        let (local_sdp, codec) = match &offer {
            Some(o) => match sdp::answer(o, &prefs, local_ip, rtp_port, session) {
                Ok((a, n)) => {
                    media.set_params(legmedia::params_of(&n));
                    format = legmedia::format_of(&n.codec);
                    (a.render().into_bytes(), n.codec.encoding_name().to_string())
                }
                Err(_) => {
                    self.reply(key, req, 488, "Not Acceptable Here", now);
                    return;
                }
            },
            None => (
                sdp::offer(&prefs, local_ip, rtp_port, session)
                    .render()
                    .into_bytes(),
                String::new(),
            ),
        };
        // The channel.
        let seq = pbx.next_tech_seq("SIP");
        let name = format!("SIP/{chan_base}-{seq:08x}");
        let chan_id = self.next_chan_id;
        self.next_chan_id += 1;
        let tech = Arc::new(super::SipTech::new(chan_id, self.sip.clone()));
        let mut chan = Channel::new(&pbx, name, tech.clone());
        chan.context = context;
        chan.exten = exten;
        chan.priority = 1;
        chan.caller = caller;
        if let Some(p) = &peer {
            if let Some(l) = &p.language {
                chan.language.clone_from(l);
            }
            if let Some(a) = &p.accountcode {
                chan.accountcode.clone_from(a);
            }
            super::set_pickup_groups(&mut chan, p);
        }
        chan.caller.dnid = Some(chan.exten.clone());
        // Diversion: the call was redirected to us (REDIRECTING(), CALLERID(rdnis)).
        if let Some(r) = party::diversion_in(req, &chan.exten) {
            chan.caller.rdnis.clone_from(&r.from.num);
            chan.redirecting = Some(Box::new(r));
        }
        chan.set_state(crate::pbx::ChanState::Ring);
        let handle = MediaHandle::new(format);
        media.attach(handle.clone());
        chan.media = Some(handle.clone());
        tech.set_shared(chan.shared.clone());
        self.chans.insert(
            chan_id,
            SipChan {
                shared: Some(chan.shared.clone()),
                events: None,
                legs: vec![call_id.clone()],
                winner: Some(call_id.clone()),
                outcomes: Vec::new(),
                ringing: false,
                progress: false,
                peer: peer_name.clone(),
                media: Some(handle),
                feeding: Some(call_id.clone()),
                forward: None,
                connected_sent: false,
            },
        );
        if let Some(pn) = &peer_name {
            self.peers_rt.entry(pn.clone()).or_default().inuse += 1;
        }
        let local_tag = new_tag();
        let user = req
            .from()
            .and_then(|f| f.uri.user_decoded())
            .unwrap_or_default();
        self.legs.insert(
            call_id.clone(),
            Box::new(Leg {
                call_id: call_id.clone(),
                inbound: true,
                chan_id,
                peer: peer_name,
                remote: src,
                invite: req.clone(),
                invite_key: Some(key.clone()),
                local_tag,
                dialog: None,
                state: LegState::Proceeding,
                remote_offer: offer,
                local_sdp: Some(local_sdp),
                session,
                rtp_port,
                codec,
                media: Some(media),
                retx: None,
                ack: None,
                auth_tries: 0,
                cancel_pending: false,
                provisional: false,
                last_msg: "Rx: INVITE".into(),
                user,
                hold: false,
                created: now,
                creds: None,
                fallback: Vec::new(),
                heard: true,
                attempt: now,
                st: session_timer,
                se_retried: false,
                refer_pending: false,
                refer_out: false,
            }),
        );
        self.apply_dtmf_mode(&call_id);
        // 100 Trying at once, as chan_sip does.
        self.reply_trying(key, req, now);
        self.actions.push(Action::Spawn(Box::new(chan)));
    }

    fn reply_trying(&mut self, key: &TransactionKey, req: &SipMessage, now: Instant) {
        if let Some(mut r) = response_to(req, 100, "Trying", None) {
            r.headers_mut().push("Server", self.useragent());
            self.respond(key, r, now);
        }
    }

    fn prefs_for(&self, peer: Option<&Peer>) -> MediaPrefs {
        let names: &[String] = match peer {
            Some(p) if !p.codecs.is_empty() => &p.codecs,
            _ => &self.cfg.general.codecs,
        };
        let mut prefs = if names.is_empty() {
            MediaPrefs::from_names(&["ulaw", "alaw"])
        } else {
            MediaPrefs::from_names(names)
        };
        if prefs.codecs.is_empty() {
            prefs = MediaPrefs::from_names(&["ulaw", "alaw"]);
        }
        // encryption=yes: offer RTP/SAVP with SDES keys, refuse plain RTP/AVP.
        prefs.encryption = peer.map_or(self.cfg.general.encryption, |p| p.encryption);
        prefs
    }

    /// A response on an inbound leg's INVITE, built by its dialog (so To carries our tag).
    fn leg_response(
        &mut self,
        call_id: &str,
        code: u16,
        reason: &str,
        with_sdp: bool,
        now: Instant,
    ) -> Option<SipMessage> {
        let ua = self.useragent();
        let src_ip = self.legs.get(call_id)?.remote.ip();
        let user = self
            .legs
            .get(call_id)
            .and_then(|l| match &l.invite {
                SipMessage::Request { uri, .. } => uri.user_decoded(),
                _ => None,
            })
            .unwrap_or_default();
        let contact = self.contact_for(&user, src_ip);
        let proto = self
            .legs
            .get(call_id)
            .and_then(|l| l.invite.top_via())
            .and_then(|v| Proto::parse(&v.transport))
            .unwrap_or(Proto::Udp);
        let contact = self.contact_over(contact, proto);
        let leg = self.legs.get_mut(call_id)?;
        if leg.dialog.is_none() {
            leg.dialog = Dialog::uas_from_request(&leg.invite, &leg.local_tag, contact).ok();
        }
        let body = if with_sdp {
            leg.local_sdp.clone().map(|b| ("application/sdp", b))
        } else {
            None
        };
        let invite = leg.invite.clone();
        let mut r = match leg.dialog.as_mut() {
            Some(d) => d.response_for(&invite, code, reason, None, body)?,
            None => response_to(&invite, code, reason, Some(&leg.local_tag))?,
        };
        let st = leg.st;
        let h = r.headers_mut();
        h.push("Server", ua);
        if code < 300 {
            h.push("Allow", ALLOW);
            h.push("Supported", "replaces, timer");
        }
        if let (Some(t), 200..=299) = (st, code) {
            h.push("Session-Expires", t.header());
            if t.require {
                h.push("Require", "timer");
            }
        }
        let _ = now;
        Some(r)
    }

    /// The dialplan answered an inbound channel: 200 OK with our SDP, retransmitted until ACK.
    pub fn answer(&mut self, chan_id: u64, now: Instant) {
        let Some((call_id, key)) = self.unanswered_inbound(chan_id) else {
            return;
        };
        let Some(dest) = self.legs.get(&call_id).map(|l| l.remote) else {
            return;
        };
        let Some(r) = self.leg_response(&call_id, 200, "OK", true, now) else {
            return;
        };
        let retx = Retx::start(r.to_bytes(), dest, now);
        self.respond(&key, r, now);
        if let Some(leg) = self.legs.get_mut(&call_id) {
            leg.state = LegState::Up;
            if let Some(m) = &leg.media {
                m.reset_idle();
            }
            leg.last_msg = "Tx: 200".into();
            if let Some(t) = leg.st.as_mut() {
                t.restart(now);
                self.leg_timers.push(Reverse((t.next, call_id.clone())));
            }
            self.leg_timers.push(Reverse((retx.next, call_id)));
            leg.retx = Some(retx);
        }
    }

    /// The inbound leg of a channel that has not been answered (or refused) yet, with the
    /// server transaction of its INVITE.
    fn unanswered_inbound(&self, chan_id: u64) -> Option<(String, TransactionKey)> {
        let call_id = self.inbound_leg_of(chan_id)?;
        let leg = self.legs.get(&call_id)?;
        if leg.state == LegState::Up || leg.state == LegState::Done {
            return None;
        }
        let key = leg.invite_key.clone()?;
        Some((call_id, key))
    }

    fn inbound_leg_of(&self, chan_id: u64) -> Option<String> {
        let c = self.chans.get(&chan_id)?;
        c.legs
            .iter()
            .find(|l| self.legs.get(*l).is_some_and(|l| l.inbound))
            .cloned()
    }

    /// Ringing / progress / busy / congestion on an inbound channel.
    pub fn indicate(&mut self, chan_id: u64, ev: &ChanEvent, now: Instant) {
        if let ChanEvent::Transferred(ok) = ev {
            self.refer_done(chan_id, *ok, now);
            return;
        }
        let Some((call_id, key)) = self.unanswered_inbound(chan_id) else {
            return;
        };
        let (code, reason, sdp) = match ev {
            ChanEvent::Ringing => (180, "Ringing", false),
            ChanEvent::Progress => (183, "Session Progress", true),
            ChanEvent::Busy => (486, "Busy Here", false),
            ChanEvent::Congestion => (503, "Service Unavailable", false),
            _ => return,
        };
        if let Some(r) = self.leg_response(&call_id, code, reason, sdp, now) {
            self.respond(&key, r, now);
        }
        if let Some(leg) = self.legs.get_mut(&call_id) {
            leg.last_msg = format!("Tx: {code}");
            if code < 200 {
                leg.state = LegState::Early;
            } else {
                leg.state = LegState::Done;
            }
        }
        // As chan_sip: once the final 486/503 is sent the call is over, so the channel is
        // soft-hung-up (Busy()/Congestion() without a timeout return, `h` runs).
        if code >= 200 {
            let c = if code == 486 {
                cause::USER_BUSY
            } else {
                cause::NORMAL_CIRCUIT_CONGESTION
            };
            if let Some(s) = self.chans.get(&chan_id).and_then(|ch| ch.shared.as_ref()) {
                s.request_hangup(c);
            }
        }
    }

    /// Where `Transfer(dest)` on leg `call_id` sends the far end: `dest` itself when it is a
    /// SIP URI or has a host, else `dest` at our address; with our `host[:port]`.
    fn transfer_target(&mut self, call_id: &str, dest: &str) -> Option<(SipUri, String)> {
        let remote = self.legs.get(call_id)?.remote.ip();
        let local = self.local_hostport(remote);
        let dest = dest.trim();
        let target = if dest.starts_with("sip:") || dest.starts_with("sips:") {
            dest.to_string()
        } else if dest.contains('@') {
            format!("sip:{dest}")
        } else {
            format!("sip:{dest}@{local}")
        };
        Some((SipUri::parse(&target).ok()?, local))
    }

    /// `Transfer(dest)`: an inbound call not answered yet is redirected with a 302 whose
    /// Contact is `dest` at our address (or `dest` itself when it is a SIP URI or has a
    /// host), with a Diversion for the redirection; the channel then hangs up. An answered
    /// call would need a REFER, which is not supported yet.
    pub fn transfer(
        &mut self,
        chan_id: u64,
        dest: &str,
        redirecting: Option<&crate::pbx::channel::Redirecting>,
        now: Instant,
    ) -> crate::pbx::channel::TransferResult {
        use crate::pbx::channel::TransferResult;
        let Some((call_id, key)) = self.unanswered_inbound(chan_id) else {
            // Answered: ask the far end to go there (REFER).
            return self.send_refer(chan_id, dest, now);
        };
        let Some((uri, local)) = self.transfer_target(&call_id, dest) else {
            return TransferResult::Failure;
        };
        let Some(mut r) = self.leg_response(&call_id, 302, "Moved Temporarily", false, now) else {
            return TransferResult::Failure;
        };
        r.headers_mut()
            .push("Contact", NameAddr::new(uri).to_string());
        // The redirecting party is the number the caller dialed.
        let dialed = self
            .legs
            .get(&call_id)
            .and_then(|l| match &l.invite {
                SipMessage::Request { uri, .. } => uri.user_decoded(),
                _ => None,
            })
            .unwrap_or_default();
        let mut red = redirecting.cloned().unwrap_or_default();
        red.from = crate::pbx::channel::PartyId {
            name: None,
            num: (!dialed.is_empty()).then_some(dialed),
        };
        if red.reason.is_empty() {
            red.reason = "unknown".into();
        }
        red.count = red.count.max(1);
        let (host, _) = split_hostport(&local);
        if let Some(v) = party::diversion_out(&red, &host) {
            r.headers_mut().push("Diversion", v);
        }
        self.respond(&key, r, now);
        if let Some(leg) = self.legs.get_mut(&call_id) {
            leg.last_msg = "Tx: 302".into();
            leg.state = LegState::Done;
        }
        if let Some(s) = self.chans.get(&chan_id).and_then(|c| c.shared.clone()) {
            s.request_hangup(cause::NORMAL_CLEARING);
        }
        TransferResult::Success
    }

    fn on_ack(&mut self, ack: &SipMessage, _now: Instant) {
        let Some(call_id) = ack.call_id() else {
            return;
        };
        let mut refused = false;
        if !self.legs.contains_key(call_id) {
            // Never answered (RFC 3261 §17); counted.
            self.stray_acks += 1;
        }
        if let Some(leg) = self.legs.get_mut(call_id) {
            leg.retx = None;
            if let Some(d) = leg.dialog.as_mut() {
                let _ = d.receive_request(ack);
            }
            leg.last_msg = "Rx: ACK".into();
            // An ACK may carry the answer to an offer we made in the 200.
            if leg.remote_offer.is_none() && !ack.body().is_empty() {
                if let Ok(s) = Sdp::parse_bytes(ack.body()) {
                    let n = leg
                        .local_sdp
                        .as_ref()
                        .and_then(|b| Sdp::parse_bytes(b).ok())
                        .map(|o| sdp::apply_answer(&o, &s));
                    refused = n.as_ref().is_some_and(srtp::srtp_refused);
                    if let Some(Ok(n)) = n {
                        leg.codec = n.codec.encoding_name().to_string();
                        if let Some(m) = &leg.media {
                            m.set_params(legmedia::params_of(&n));
                        }
                    }
                    leg.remote_offer = Some(s);
                }
            }
        }
        if refused {
            let call_id = call_id.to_string();
            self.refuse_unencrypted_answer(&call_id, _now);
        }
    }

    /// An in-dialog request on a call leg: its Call-ID when the leg's dialog accepts it;
    /// otherwise the refusal is answered (481 with `no_leg` when there is no such leg).
    fn accept_in_dialog(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        no_leg: &'static str,
        now: Instant,
    ) -> Option<String> {
        let call_id = req.call_id()?.to_string();
        let check = match self.legs.get_mut(&call_id).and_then(|l| l.dialog.as_mut()) {
            Some(d) => d.receive_request(req),
            None => RequestCheck::Reject(481, no_leg),
        };
        if let RequestCheck::Reject(code, reason) = check {
            self.reply(key, req, code, reason, now);
            return None;
        }
        Some(call_id)
    }

    fn on_reinvite(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        src: SocketAddr,
        now: Instant,
    ) {
        let Some(call_id) = self.accept_in_dialog(key, req, "Call/Transaction Does Not Exist", now)
        else {
            return;
        };
        let prefs = {
            let peer = self
                .legs
                .get(&call_id)
                .and_then(|l| l.peer.clone())
                .and_then(|p| self.cfg.peer(&p).cloned());
            self.prefs_for(peer.as_ref())
        };
        let local_ip = self.local_ip_for(src.ip());
        let ua = self.useragent();
        let Some(leg) = self.legs.get_mut(&call_id) else {
            return;
        };
        let body = if req.body().is_empty() {
            leg.local_sdp.clone()
        } else {
            match Sdp::parse_bytes(req.body()) {
                Ok(offer) => {
                    leg.session.bump();
                    // An SRTP call keeps our key for the dialog.
                    let key = leg.media.as_ref().and_then(|m| m.params().srtp);
                    let key = key.map(|k| k.local);
                    let (port, ids) = (leg.rtp_port, leg.session);
                    match sdp::answer_keeping(&offer, &prefs, local_ip, port, ids, key) {
                        Ok((a, n)) => {
                            leg.hold = n.remote_hold;
                            if let Some(m) = &leg.media {
                                m.set_params(legmedia::params_of(&n));
                            }
                            leg.codec = n.codec.encoding_name().to_string();
                            let b = a.render().into_bytes();
                            leg.local_sdp = Some(b.clone());
                            leg.remote_offer = Some(offer);
                            Some(b)
                        }
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            }
        };
        let Some(body) = body else {
            self.reply(key, req, 488, "Not Acceptable Here", now);
            return;
        };
        let Some(d) = leg.dialog.as_mut() else {
            return;
        };
        if let Some(mut r) = d.response_for(req, 200, "OK", None, Some(("application/sdp", body))) {
            r.headers_mut().push("Server", ua);
            r.headers_mut().push("Allow", ALLOW);
            // A session refresh: the clock starts again (with the interval it asks for).
            if let Some(t) = leg.st.as_mut() {
                if let Some((n, _)) = req
                    .header("Session-Expires")
                    .and_then(timer::parse_session_expires)
                {
                    t.interval = n.max(90);
                }
                // The re-INVITE's sender refreshes from now on (it is this request's UAC).
                t.refresher = if leg.inbound {
                    timer::Refresher::Uac
                } else {
                    timer::Refresher::Uas
                };
                t.we_refresh = false;
                t.restart(now);
                r.headers_mut()
                    .push("Session-Expires", format!("{};refresher=uac", t.interval));
                if timer::has_tag(req, "Supported", "timer") {
                    r.headers_mut().push("Require", "timer");
                }
                self.leg_timers.push(Reverse((t.next, call_id.clone())));
            }
            let retx = Retx::start(r.to_bytes(), src, now);
            self.leg_timers.push(Reverse((retx.next, call_id)));
            leg.retx = Some(retx);
            leg.last_msg = "Rx: INVITE".into();
            self.respond(key, r, now);
        }
    }

    fn on_bye(&mut self, key: &TransactionKey, req: &SipMessage, now: Instant) {
        let Some(call_id) =
            self.accept_in_dialog(key, req, "Call Leg/Transaction Does Not Exist", now)
        else {
            return;
        };
        let ua = self.useragent();
        if let Some(leg) = self.legs.get_mut(&call_id) {
            leg.state = LegState::Done;
            leg.retx = None;
            let r = leg
                .dialog
                .as_mut()
                .and_then(|d| d.response_for(req, 200, "OK", None, None));
            if let Some(mut r) = r {
                r.headers_mut().push("Server", ua);
                self.respond(key, r, now);
            }
        }
        self.far_end_gone(&call_id, cause::NORMAL_CLEARING);
    }

    /// The far end of a leg ended the call: hang the channel up.
    fn far_end_gone(&mut self, call_id: &str, c: i32) {
        let Some(leg) = self.legs.remove(call_id) else {
            return;
        };
        self.release_peer(&leg);
        let Some(ch) = self.chans.get_mut(&leg.chan_id) else {
            return;
        };
        ch.legs.retain(|l| l != call_id);
        if let Some(tx) = &ch.events {
            let _ = tx.send(ChanEvent::Hangup(c));
        }
        if let Some(s) = &ch.shared {
            s.request_hangup(c);
        }
    }

    fn release_peer(&mut self, leg: &Leg) {
        if leg.inbound {
            if let Some(p) = &leg.peer {
                if let Some(rt) = self.peers_rt.get_mut(p) {
                    rt.inuse = rt.inuse.saturating_sub(1);
                }
            }
        }
    }

    fn on_cancel(&mut self, key: &TransactionKey, req: &SipMessage, now: Instant) {
        let Some(inv_key) = self.txs.find_cancelled_invite(req) else {
            self.reply(key, req, 481, "Call Leg/Transaction Does Not Exist", now);
            return;
        };
        self.reply(key, req, 200, "OK", now);
        let Some(call_id) = req.call_id().map(str::to_string) else {
            return;
        };
        let answered = self
            .legs
            .get(&call_id)
            .is_none_or(|l| l.state == LegState::Up || l.state == LegState::Done);
        if answered {
            return;
        }
        if let Some(r) = self.leg_response(&call_id, 487, "Request Terminated", false, now) {
            self.respond(&inv_key, r, now);
        }
        if let Some(l) = self.legs.get_mut(&call_id) {
            l.state = LegState::Done;
        }
        self.far_end_gone(&call_id, cause::NORMAL_CLEARING);
    }

    /// The channel is being destroyed: end every leg it has.
    pub fn hangup(&mut self, chan_id: u64, c: i32, now: Instant) {
        let Some(ch) = self.chans.remove(&chan_id) else {
            return;
        };
        // Outbound channels count towards their peer's call-limit until they are gone.
        if ch.events.is_some() {
            if let Some(rt) = ch.peer.as_ref().and_then(|p| self.peers_rt.get_mut(p)) {
                rt.inuse = rt.inuse.saturating_sub(1);
            }
        }
        for call_id in ch.legs {
            self.end_leg(&call_id, c, now);
        }
    }

    fn end_leg(&mut self, call_id: &str, c: i32, now: Instant) {
        let Some(leg) = self.legs.get(call_id) else {
            return;
        };
        match (leg.inbound, leg.state) {
            (_, LegState::Done) => {
                if let Some(l) = self.legs.remove(call_id) {
                    self.release_peer(&l);
                }
            }
            (true, LegState::Proceeding | LegState::Early) => {
                let key = leg.invite_key.clone();
                let (code, reason) = cause_to_sip(c);
                if let (Some(key), Some(r)) =
                    (key, self.leg_response(call_id, code, reason, false, now))
                {
                    self.respond(&key, r, now);
                }
                if let Some(l) = self.legs.remove(call_id) {
                    self.release_peer(&l);
                }
            }
            (_, LegState::Up) => self.send_bye(call_id, now),
            (false, LegState::Proceeding) => {
                if let Some(l) = self.legs.get_mut(call_id) {
                    l.cancel_pending = true;
                }
            }
            (false, LegState::Early) => self.send_cancel(call_id, now),
        }
    }

    fn send_bye(&mut self, call_id: &str, now: Instant) {
        let Some(mut leg) = self.legs.remove(call_id) else {
            return;
        };
        self.release_peer(&leg);
        let Some(d) = leg.dialog.as_mut() else {
            return;
        };
        let mut bye = d.bye(&new_branch());
        bye.headers_mut().push("User-Agent", self.useragent());
        let dest = self.request_dest(&leg, &bye);
        if let Ok(k) = self.txs.send_request(bye, dest, false, now) {
            self.owners.insert(k, Owner::InDialog);
        }
    }

    fn send_cancel(&mut self, call_id: &str, now: Instant) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        leg.cancel_pending = false;
        leg.state = LegState::Done;
        let Some(c) = crate::sip::dialog::cancel(&leg.invite) else {
            return;
        };
        let dest = leg.remote;
        if let Ok(k) = self.txs.send_request(c, dest, false, now) {
            self.owners.insert(k, Owner::InDialog);
        }
    }

    /// Where an in-dialog request goes: the leg's known address (NAT-safe) for our peers.
    fn request_dest(&self, leg: &Leg, _req: &SipMessage) -> SocketAddr {
        leg.remote
    }

    // ---------------------------------------------------------------- outbound calls

    /// A request of ours outside a dialog (or ending a stray one): Via with a new branch and
    /// `rport`, Max-Forwards, From, To, Call-ID, CSeq and User-Agent.
    #[allow(clippy::too_many_arguments)]
    fn new_request(
        &mut self,
        method: Method,
        ruri: SipUri,
        dest: IpAddr,
        from: String,
        to: String,
        call_id: String,
        cseq: u32,
    ) -> SipMessage {
        let hp = self.local_hostport(dest);
        let ua = self.useragent();
        let cseq = format!("{cseq} {}", method.as_str());
        let mut m = SipMessage::request(method, ruri);
        let h = m.headers_mut();
        h.push(
            "Via",
            format!("SIP/2.0/UDP {hp};branch={};rport", new_branch()),
        );
        h.push("Max-Forwards", "70");
        h.push("From", from);
        h.push("To", to);
        h.push("Call-ID", call_id);
        h.push("CSeq", cseq);
        h.push("User-Agent", ua);
        m
    }

    /// Where requests for peer `p` go: one target per live binding of a dynamic peer (to the
    /// address it registered from), or its configured host. `user` replaces the URI user
    /// (the dialed number); a static peer without one uses `defaultuser`.
    fn peer_targets(
        &self,
        p: &Peer,
        user: Option<&str>,
        now: Instant,
    ) -> Result<Vec<Target>, TargetError> {
        let mut targets = Vec::new();
        match &p.host {
            Host::Dynamic => {
                for b in self
                    .registrar
                    .bindings(&p.name)
                    .iter()
                    .filter(|b| b.expires_at > now)
                {
                    let Ok(mut uri) = SipUri::parse(&b.uri) else {
                        continue;
                    };
                    if let Some(u) = user {
                        uri.user = Some(u.to_string());
                    }
                    if let Some(dest) = b.source.or_else(|| self.uri_addr(&uri)) {
                        // The transport the phone registered with wins over transport=.
                        let proto = uri_proto(&uri).unwrap_or(conf_proto(p.transport()));
                        targets.push(Target {
                            ruri: uri,
                            dest,
                            fallback: Vec::new(),
                            proto,
                        });
                    }
                }
                if targets.is_empty() {
                    return Err(TargetError::NotRegistered);
                }
            }
            Host::Ip(_) | Host::Name(_) => {
                let host = match &p.host {
                    Host::Ip(ip) => host_str(*ip),
                    Host::Name(n) => n.clone(),
                    Host::Dynamic => String::new(),
                };
                let proto = conf_proto(p.transport());
                let default_port = if proto == Proto::Tls { 5061 } else { 5060 };
                let port = p.port.unwrap_or(default_port);
                let user = user.or(p.defaultuser.as_deref());
                let mut uri = SipUri::new_sip(user, &host, (port != default_port).then_some(port));
                if proto != Proto::Udp {
                    uri.params
                        .push(("transport".into(), Some(proto.param().into())));
                }
                if p.outboundproxy.is_some() {
                    // The proxy finds the host: it need not resolve here.
                    targets.push(Target {
                        ruri: uri,
                        dest: SocketAddr::from(([0, 0, 0, 0], 0)),
                        fallback: Vec::new(),
                        proto,
                    });
                } else {
                    // SRV (`_sip._udp`) only for UDP; TCP and TLS go to the port.
                    let explicit = if proto == Proto::Udp {
                        p.port
                    } else {
                        Some(port)
                    };
                    let mut addrs = self.host_addrs(&host, explicit).into_iter();
                    let dest = addrs.next().ok_or(TargetError::Unresolvable(host))?;
                    targets.push(Target {
                        ruri: uri,
                        dest,
                        fallback: addrs.collect(),
                        proto,
                    });
                }
            }
        }
        if let Some(proxy) = &p.outboundproxy {
            self.via_proxy(proxy, &mut targets)?;
        }
        Ok(targets)
    }

    /// Send every target through `proxy` (`outboundproxy`): its addresses replace the
    /// targets' own (the Request-URIs stay).
    fn via_proxy(
        &self,
        proxy: &crate::channels::sipconf::OutboundProxy,
        targets: &mut [Target],
    ) -> Result<(), TargetError> {
        let mut addrs = self.host_addrs(&proxy.host, proxy.port).into_iter();
        let dest = addrs
            .next()
            .ok_or_else(|| TargetError::Unresolvable(proxy.host.clone()))?;
        let fallback: Vec<SocketAddr> = addrs.collect();
        for t in targets {
            t.dest = dest;
            t.fallback.clone_from(&fallback);
            // ferrisk reaches proxies over UDP only (sip.conf refuses tcp:// and tls://).
            t.proto = Proto::Udp;
        }
        Ok(())
    }

    /// Resolve `SIP/…` dial data: `peer`, `peer/exten`, `exten@peer`, `exten@host[:port]`.
    pub fn resolve(
        &mut self,
        data: &str,
        now: Instant,
    ) -> Result<(Option<Peer>, Vec<Target>, String), RequestError> {
        let data = data.split_once(',').map(|(a, _)| a).unwrap_or(data).trim();
        let unavailable = |msg: String| RequestError {
            cause: cause::SUBSCRIBER_ABSENT,
            msg,
        };
        let (peer_part, exten) = split_dial(data);
        let (peer_part, exten) = (peer_part.to_string(), exten.map(str::to_string));
        if peer_part.is_empty() {
            return Err(RequestError {
                cause: cause::CHANNEL_UNACCEPTABLE,
                msg: format!("Unable to create channel of type 'SIP' (cause 6 - Channel unacceptable) for '{data}'"),
            });
        }
        let cfg = self.cfg.clone();
        if let Some(p) = cfg.peer(&peer_part).filter(|p| p.kind != PeerType::User) {
            if let Some(limit) = p.call_limit {
                let inuse = self.peers_rt.get(&p.name).map(|r| r.inuse).unwrap_or(0);
                if inuse >= limit {
                    return Err(RequestError {
                        cause: cause::USER_BUSY,
                        msg: format!(
                            "Call to peer '{}' rejected due to usage limit of {limit}",
                            p.name
                        ),
                    });
                }
            }
            if self
                .peers_rt
                .get(&p.name)
                .is_some_and(|r| r.reachable == Some(false))
            {
                // UNREACHABLE (no answer to qualify); LAGGED peers are still called.
                return Err(unavailable(
                    "Unable to create channel of type 'SIP' (cause 20 - Subscriber absent)"
                        .to_string(),
                ));
            }
            let targets = match self.peer_targets(p, exten.as_deref(), now) {
                Ok(t) => t,
                Err(TargetError::NotRegistered) => {
                    return Err(unavailable(
                        "Unable to create channel of type 'SIP' (cause 20 - Subscriber absent)"
                            .to_string(),
                    ))
                }
                Err(TargetError::Unresolvable(host)) => {
                    return Err(RequestError {
                        cause: cause::NO_ROUTE_DESTINATION,
                        msg: format!("Unable to create channel of type 'SIP' (cause 3 - No route to destination): cannot resolve '{host}'"),
                    })
                }
            };
            return Ok((Some(p.clone()), targets, p.name.clone()));
        }
        // Not a peer: a host.
        let (host, port) = split_hostport(&peer_part);
        if let Some(proxy) = self.cfg.general.outboundproxy.clone() {
            let uri = SipUri::new_sip(exten.as_deref(), &host, port);
            let mut t = [Target {
                ruri: uri,
                dest: SocketAddr::from(([0, 0, 0, 0], 0)),
                fallback: Vec::new(),
                proto: Proto::Udp,
            }];
            if self.via_proxy(&proxy, &mut t).is_err() {
                return Err(RequestError {
                    cause: cause::NO_ROUTE_DESTINATION,
                    msg: format!("Unable to create channel of type 'SIP' (cause 3 - No route to destination): cannot resolve outboundproxy '{}'", proxy.host),
                });
            }
            return Ok((None, t.to_vec(), peer_part));
        }
        let mut addrs = self.host_addrs(&host, port).into_iter();
        let Some(dest) = addrs.next() else {
            return Err(RequestError {
                cause: cause::NO_ROUTE_DESTINATION,
                msg: format!("Unable to create channel of type 'SIP' (cause 3 - No route to destination): no peer or host '{peer_part}'"),
            });
        };
        let uri = SipUri::new_sip(exten.as_deref(), &host, port);
        let target = Target {
            ruri: uri,
            dest,
            fallback: addrs.collect(),
            proto: Proto::Udp,
        };
        Ok((None, vec![target], peer_part))
    }

    /// A fresh channel id.
    pub fn alloc_chan_id(&mut self) -> u64 {
        let id = self.next_chan_id;
        self.next_chan_id += 1;
        id
    }

    /// Register an outbound channel under `id` (from [`Core::alloc_chan_id`]).
    pub fn new_outbound(
        &mut self,
        id: u64,
        shared: Arc<ChannelShared>,
        events: mpsc::UnboundedSender<ChanEvent>,
        peer: Option<String>,
    ) {
        if let Some(p) = &peer {
            self.peers_rt.entry(p.clone()).or_default().inuse += 1;
        }
        self.chans.insert(
            id,
            SipChan {
                shared: Some(shared),
                events: Some(events),
                legs: Vec::new(),
                winner: None,
                outcomes: Vec::new(),
                ringing: false,
                progress: false,
                peer,
                media: None,
                feeding: None,
                forward: None,
                connected_sent: false,
            },
        );
    }

    /// The frame queues of an outbound channel (from [`Core::new_outbound`]): the answering
    /// fork's RTP session (or the first with early media) feeds them.
    pub fn set_outbound_media(&mut self, id: u64, m: MediaHandle) {
        if let Some(ch) = self.chans.get_mut(&id) {
            ch.media = Some(m);
        }
    }

    /// Let `call_id`'s session feed its channel (`force`: even if another leg does).
    fn feed(&mut self, chan_id: u64, call_id: &str, force: bool) {
        let Some(ch) = self.chans.get_mut(&chan_id) else {
            return;
        };
        let Some(m) = ch.media.clone() else {
            return;
        };
        // A feeding fork that has ended since feeds nothing.
        if ch
            .feeding
            .as_ref()
            .is_some_and(|f| !self.legs.contains_key(f))
        {
            ch.feeding = None;
        }
        if ch.feeding.as_deref() == Some(call_id) || (ch.feeding.is_some() && !force) {
            return;
        }
        if let Some(old) = ch.feeding.replace(call_id.to_string()) {
            if let Some(lm) = self.legs.get(&old).and_then(|l| l.media.as_ref()) {
                lm.detach();
            }
        }
        if let Some(lm) = self.legs.get(call_id).and_then(|l| l.media.as_ref()) {
            lm.attach(m);
            lm.reset_idle();
        }
    }

    /// The SDP answer in a response to our INVITE; `true` if it negotiated.
    fn leg_answer_sdp(&mut self, call_id: &str, resp: &SipMessage) -> bool {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return false;
        };
        if resp.body().is_empty() {
            return false;
        }
        let Ok(s) = Sdp::parse_bytes(resp.body()) else {
            return false;
        };
        let Some(offer) = leg
            .local_sdp
            .as_ref()
            .and_then(|b| Sdp::parse_bytes(b).ok())
        else {
            return false;
        };
        let Ok(n) = sdp::apply_answer(&offer, &s) else {
            return false;
        };
        leg.codec = n.codec.encoding_name().to_string();
        if let Some(m) = &leg.media {
            m.set_params(legmedia::params_of(&n));
        }
        leg.remote_offer = Some(s);
        self.apply_dtmf_mode(call_id);
        true
    }

    /// Send the INVITEs of an outbound channel (one per target, in parallel).
    pub fn start_outbound(
        &mut self,
        chan_id: u64,
        peer: Option<Peer>,
        targets: Vec<Target>,
        caller: CallerId,
        extras: &CallExtras,
        now: Instant,
    ) {
        if !self.chans.contains_key(&chan_id) {
            return;
        }
        let prefs = self.prefs_for(peer.as_ref());
        let party_opts = peer.as_ref().map_or(self.cfg.general.party, |p| p.party);
        let st_cfg = peer
            .as_ref()
            .map_or(self.cfg.general.session, |p| p.session);
        for t in targets {
            let local_ip = self.local_ip_for(t.dest.ip());
            let call_id = util::new_call_id(&host_str(local_ip));
            let tag = new_tag();
            let from_user = peer
                .as_ref()
                .and_then(|p| p.fromuser.clone())
                .or_else(|| caller.num.clone())
                .unwrap_or_else(|| "asterisk".to_string());
            let from_host = peer
                .as_ref()
                .and_then(|p| p.fromdomain.clone())
                .unwrap_or_else(|| host_str(local_ip));
            let (fh, fp) = split_hostport(&from_host);
            let mut from = NameAddr::new(SipUri::new_sip(Some(&from_user), &fh, fp));
            if let Some(n) = caller.name.as_ref().filter(|n| !n.is_empty()) {
                from.display_raw = Some(format!("\"{}\"", n.replace('"', "")));
            }
            let mut to_uri = t.ruri.clone();
            to_uri.params.clear();
            to_uri.headers.clear();
            if let Some(fd) = peer.as_ref().and_then(|p| p.fromdomain.clone()) {
                if matches!(
                    peer.as_ref().map(|p| &p.host),
                    Some(Host::Ip(_) | Host::Name(_))
                ) {
                    let (h, p) = split_hostport(&fd);
                    to_uri.host = h;
                    to_uri.port = p;
                }
            }
            let contact = self.contact_for(&from_user, t.dest.ip());
            let comedia = peer
                .as_ref()
                .map_or(self.cfg.general.nat.comedia, |p| p.nat.comedia);
            let Some(media) = self.open_media(comedia) else {
                self.actions.push(Action::Warning(
                    "chan_sip.c: No free RTP port in the rtp.conf range".into(),
                ));
                continue;
            };
            let rtp_port = media.port();
            let session = SessionIds::new(rand::random::<u32>() as u64);
            let body = sdp::offer(&prefs, local_ip, rtp_port, session)
                .render()
                .into_bytes();
            let mut inv = self.new_request(
                Method::Invite,
                t.ruri.clone(),
                t.dest.ip(),
                format!("{from};tag={tag}"),
                NameAddr::new(to_uri).to_string(),
                call_id.clone(),
                102,
            );
            {
                let h = inv.headers_mut();
                h.push("Contact", contact.to_string());
                h.push(
                    "Date",
                    chrono::Utc::now()
                        .format("%a, %d %b %Y %H:%M:%S GMT")
                        .to_string(),
                );
                h.push("Allow", ALLOW);
                if st_cfg.mode == crate::channels::sipconf::StMode::Refuse {
                    h.push("Supported", "replaces");
                } else {
                    h.push("Supported", "replaces, timer");
                }
                if let Some((se, minse)) = timer::uac_request_headers(&st_cfg) {
                    h.push("Session-Expires", se);
                    h.push("Min-SE", minse);
                }
                // Identity and redirection headers name our side's host (the peer's
                // fromdomain when it has one), as From does.
                let id_host = fh.clone();
                let me = crate::pbx::channel::PartyId {
                    name: caller.name.clone(),
                    num: Some(from_user.clone()),
                };
                match party_opts.sendrpid {
                    crate::channels::sipconf::SendRpid::Pai => {
                        if let Some(v) = party::pai_out(&me, &id_host) {
                            h.push("P-Asserted-Identity", v);
                        }
                    }
                    crate::channels::sipconf::SendRpid::Rpid => {
                        if let Some(v) = party::rpid_out(&me, &id_host) {
                            h.push("Remote-Party-ID", v);
                        }
                    }
                    crate::channels::sipconf::SendRpid::No => {}
                }
                if party_opts.send_diversion {
                    if let Some(v) = extras
                        .redirecting
                        .as_ref()
                        .and_then(|r| party::diversion_out(r, &id_host))
                    {
                        h.push("Diversion", v);
                    }
                }
                for (n, v) in &extras.headers {
                    h.push(n, v.clone());
                }
                h.push("Content-Type", "application/sdp");
            }
            inv.set_body(body.clone());
            self.use_transport(&mut inv, t.proto, t.dest.ip());
            let creds = peer.as_ref().and_then(peer_credentials);
            let key = match self.txs.send_request(inv.clone(), t.dest, false, now) {
                Ok(k) => k,
                Err(_) => continue,
            };
            self.owners
                .insert(key.clone(), Owner::Invite(call_id.clone()));
            self.legs.insert(
                call_id.clone(),
                Box::new(Leg {
                    call_id: call_id.clone(),
                    inbound: false,
                    chan_id,
                    peer: peer.as_ref().map(|p| p.name.clone()),
                    remote: t.dest,
                    invite: inv,
                    invite_key: Some(key),
                    local_tag: tag,
                    dialog: None,
                    state: LegState::Proceeding,
                    remote_offer: None,
                    local_sdp: Some(body),
                    session,
                    rtp_port,
                    codec: String::new(),
                    media: Some(media),
                    retx: None,
                    ack: None,
                    auth_tries: 0,
                    cancel_pending: false,
                    provisional: false,
                    last_msg: "Tx: INVITE".into(),
                    user: t.ruri.user.clone().unwrap_or_default(),
                    hold: false,
                    created: now,
                    creds,
                    fallback: t.fallback.clone(),
                    heard: false,
                    attempt: now,
                    st: None,
                    se_retried: false,
                    refer_pending: false,
                    refer_out: false,
                }),
            );
            self.apply_dtmf_mode(&call_id);
            if !t.fallback.is_empty() {
                self.leg_timers
                    .push(Reverse((now + FAILOVER_TIMEOUT, call_id.clone())));
            }
            if let Some(ch) = self.chans.get_mut(&chan_id) {
                ch.legs.push(call_id);
            }
        }
        let empty = self.chans.get(&chan_id).is_some_and(|c| c.legs.is_empty());
        if empty {
            if let Some(ch) = self.chans.get(&chan_id) {
                if let Some(tx) = &ch.events {
                    let _ = tx.send(ChanEvent::Hangup(cause::CHANNEL_UNACCEPTABLE));
                }
            }
        }
    }

    fn on_response(&mut self, key: &TransactionKey, resp: SipMessage, now: Instant) {
        let Some(owner) = self.owners.get(key).cloned() else {
            return;
        };
        match owner {
            Owner::Invite(call_id) => self.on_invite_response(&call_id, key, resp, now),
            Owner::Options(peer, sent) => {
                if let SipMessage::Response { code, .. } = &resp {
                    if *code >= 200 {
                        self.owners.remove(key);
                        let ms = u32::try_from(now.saturating_duration_since(sent).as_millis())
                            .unwrap_or(u32::MAX);
                        self.qualify_result(&peer, Some(ms.max(1)), now);
                    }
                }
            }
            Owner::Register(i) => {
                if let Some(rc) = self.regclients.get_mut(i) {
                    let _ = rc.handle_response(&resp, now);
                }
                self.pump_regclients(now);
            }
            Owner::Message(retry) => {
                let code = match &resp {
                    SipMessage::Response { code, .. } => *code,
                    SipMessage::Request { .. } => 0,
                };
                if code == 401 || code == 407 {
                    if let Some((req, dest, user, secret)) = *retry {
                        if let Some(m) = with_credentials(&req, &resp, &user, &secret) {
                            if let Ok(k) = self.txs.send_request(m, dest, false, now) {
                                // One answer per challenge chain: no credentials this time.
                                self.owners.insert(k, Owner::Message(Box::new(None)));
                            }
                        }
                    }
                } else if code >= 300 {
                    self.actions.push(Action::Notice(format!(
                        "chan_sip.c: MESSAGE to {} failed: {code}",
                        resp.header("To").unwrap_or("")
                    )));
                }
            }
            Owner::Mwi(sub) => {
                if let SipMessage::Response { code, .. } = &resp {
                    if *code >= 200 {
                        self.owners.remove(key);
                        self.mwi_notify_done(sub.as_deref(), Some(*code));
                    }
                }
            }
            Owner::Refresh(call_id) => {
                if let SipMessage::Response { code, .. } = &resp {
                    if *code >= 200 {
                        self.owners.remove(key);
                        self.refresh_answered(&call_id, *code, now);
                    }
                }
            }
            Owner::Refer(call_id) => {
                if let SipMessage::Response { code, .. } = &resp {
                    if *code >= 300 {
                        self.owners.remove(key);
                        self.refer_out_done(&call_id, false);
                    } else if *code >= 200 {
                        self.owners.remove(key);
                    }
                }
            }
            Owner::InDialog => {}
        }
    }

    /// A request could not be delivered. An INVITE fails as chan_sip's does when it cannot
    /// send: the Dial sees CHANUNAVAIL (cause 27, destination out of order, as for a 502);
    /// everything else as a timeout.
    fn on_transport_error(&mut self, key: &TransactionKey, now: Instant) {
        if let Some(Owner::Invite(call_id)) = self.owners.get(key) {
            let call_id = call_id.clone();
            self.owners.remove(key);
            self.fork_failed(&call_id, 502, now);
            return;
        }
        self.on_client_timeout(key, now);
    }

    fn on_client_timeout(&mut self, key: &TransactionKey, now: Instant) {
        let Some(owner) = self.owners.remove(key) else {
            return;
        };
        match owner {
            Owner::Invite(call_id) => self.fork_failed(&call_id, 408, now),
            Owner::Options(peer, _) => self.qualify_result(&peer, None, now),
            Owner::Register(i) => {
                if let Some(rc) = self.regclients.get_mut(i) {
                    rc.handle_timeout(now);
                }
                self.pump_regclients(now);
            }
            Owner::Mwi(sub) => self.mwi_notify_done(sub.as_deref(), None),
            Owner::Refresh(call_id) => self.refresh_answered(&call_id, 408, now),
            Owner::Refer(call_id) => self.refer_out_done(&call_id, false),
            _ => {}
        }
    }

    fn on_invite_response(
        &mut self,
        call_id: &str,
        key: &TransactionKey,
        resp: SipMessage,
        now: Instant,
    ) {
        let SipMessage::Response { code, .. } = &resp else {
            return;
        };
        let code = *code;
        let Some(leg) = self.legs.get_mut(call_id) else {
            // The leg is gone (hung up): a late 2xx must still be ACKed and ended.
            if (200..300).contains(&code) {
                self.ack_and_bye_stray(&resp, now);
            }
            return;
        };
        leg.last_msg = format!("Rx: {code}");
        leg.heard = true;
        let chan_id = leg.chan_id;
        let peer_party = leg
            .peer
            .as_deref()
            .and_then(|p| self.cfg.peer(p))
            .map_or(self.cfg.general.party, |p| p.party);
        if (180..300).contains(&code) && peer_party.trustrpid {
            if let Some(id) = party::asserted_identity(&resp) {
                if let Some(ch) = self.chans.get_mut(&chan_id) {
                    if !std::mem::replace(&mut ch.connected_sent, true) {
                        if let Some(tx) = &ch.events {
                            let _ = tx.send(ChanEvent::Connected(id));
                        }
                    }
                }
            }
        }
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        match code {
            100 => {}
            101..=199 => {
                leg.provisional = true;
                if leg.state == LegState::Proceeding {
                    leg.state = LegState::Early;
                }
                if leg.cancel_pending {
                    self.send_cancel(call_id, now);
                    return;
                }
                if self.leg_answer_sdp(call_id, &resp) {
                    self.feed(chan_id, call_id, false);
                }
                let ev = if code == 180 || code == 181 || code == 182 {
                    ChanEvent::Ringing
                } else {
                    ChanEvent::Progress
                };
                if let Some(ch) = self.chans.get_mut(&chan_id) {
                    let first = match ev {
                        ChanEvent::Ringing => !std::mem::replace(&mut ch.ringing, true),
                        _ => !std::mem::replace(&mut ch.progress, true),
                    };
                    if first {
                        if let Some(tx) = &ch.events {
                            let _ = tx.send(ev);
                        }
                    }
                }
            }
            200..=299 => {
                let invite = leg.invite.clone();
                if leg.dialog.is_none() {
                    leg.dialog = Dialog::uac_from_response(&invite, &resp).ok();
                    if let Some(d) = leg.dialog.as_mut() {
                        d.invite_cseq = invite.cseq().map(|c| c.0);
                        d.local_cseq = d.invite_cseq.unwrap_or(d.local_cseq);
                    }
                } else if let Some(d) = leg.dialog.as_mut() {
                    let _ = d.receive_response(&resp);
                }
                let dest = leg.remote;
                let ack = leg.dialog.as_ref().and_then(|d| d.ack(&new_branch(), None));
                if let Some(a) = ack {
                    let b = a.to_bytes();
                    self.out.push((dest, b.clone()));
                    leg.ack = Some((dest, b));
                }
                let mut refused = false;
                if let Ok(s) = Sdp::parse_bytes(resp.body()) {
                    if let Some(offer) = leg
                        .local_sdp
                        .as_ref()
                        .and_then(|b| Sdp::parse_bytes(b).ok())
                    {
                        let answered = sdp::apply_answer(&offer, &s);
                        refused = srtp::srtp_refused(&answered);
                        if let Ok(n) = answered {
                            leg.codec = n.codec.encoding_name().to_string();
                            if let Some(m) = &leg.media {
                                m.set_params(legmedia::params_of(&n));
                            }
                        }
                    }
                    leg.remote_offer = Some(s);
                }
                if refused {
                    self.refuse_unencrypted_answer(call_id, now);
                    return;
                }
                let was_up = leg.state == LegState::Up;
                leg.state = LegState::Up;
                if was_up {
                    return;
                }
                let st_cfg = leg
                    .peer
                    .as_deref()
                    .and_then(|p| self.cfg.peer(p))
                    .map_or(self.cfg.general.session, |p| p.session);
                leg.st = timer::uac_from_answer(&st_cfg, &resp, now);
                if let Some(t) = leg.st {
                    self.leg_timers.push(Reverse((t.next, call_id.to_string())));
                }
                let cancel_pending = leg.cancel_pending;
                let won = match self.chans.get_mut(&chan_id) {
                    Some(ch) if ch.winner.is_none() && !cancel_pending => {
                        ch.winner = Some(call_id.to_string());
                        if let Some(tx) = &ch.events {
                            let _ = tx.send(ChanEvent::Answer);
                        }
                        let others: Vec<String> =
                            ch.legs.iter().filter(|l| *l != call_id).cloned().collect();
                        ch.legs.retain(|l| l == call_id);
                        Some(others)
                    }
                    _ => None,
                };
                match won {
                    Some(others) => {
                        self.feed(chan_id, call_id, true);
                        for o in others {
                            self.end_leg(&o, 26, now);
                        }
                    }
                    None => self.send_bye(call_id, now),
                }
            }
            300..=399 => match party::redirect_target(&resp, peer_party.promiscredir) {
                Some((dest, to)) => {
                    let reason = resp
                        .headers()
                        .elements("Diversion")
                        .into_iter()
                        .next()
                        .and_then(|d| crate::sip::uri::NameAddr::parse(d.trim()).ok())
                        .and_then(|na| na.param("reason").flatten().map(str::to_string))
                        .map(|r| crate::pbx::channel::redirecting_reason_from_sip(&r))
                        .unwrap_or_else(|| "unknown".into());
                    let peer_name = leg.peer.clone();
                    let remote = leg.remote;
                    let context = peer_name
                        .as_deref()
                        .and_then(|p| self.cfg.peer(p))
                        .map_or_else(|| self.cfg.general.context.clone(), |p| p.context.clone());
                    self.verbose(
                        3,
                        format!(
                            "Got SIP response {code} \"{}\" back from {remote}",
                            reason_of(&resp)
                        ),
                    );
                    if let Some(ch) = self.chans.get_mut(&chan_id) {
                        if ch.forward.is_none() {
                            ch.forward = Some(Box::new(crate::pbx::channel::Forward {
                                dest,
                                to,
                                reason,
                                context,
                            }));
                        }
                    }
                    self.fork_failed(call_id, code, now);
                }
                None => self.fork_failed(call_id, code, now),
            },
            422 if !leg.se_retried => {
                // Session Interval Too Small: once more with the interval it asks for.
                leg.se_retried = true;
                match timer::retry_interval(&resp) {
                    Some(min) => {
                        let mut inv = leg.invite.clone();
                        let r = inv
                            .header("Session-Expires")
                            .and_then(timer::parse_session_expires)
                            .and_then(|(_, r)| r)
                            .map(|r| format!(";refresher={}", r.as_str()))
                            .unwrap_or_default();
                        inv.headers_mut()
                            .set("Session-Expires", format!("{min}{r}"));
                        inv.headers_mut().set("Min-SE", min.to_string());
                        self.resend_invite(call_id, inv, now);
                    }
                    None => self.fork_failed(call_id, code, now),
                }
            }
            401 | 407 => {
                let tries = leg.auth_tries;
                let creds = leg.creds.clone();
                match creds {
                    Some((user, secret)) if tries == 0 => {
                        self.reinvite_with_auth(call_id, &resp, &user, &secret, now);
                    }
                    _ => self.fork_failed(call_id, code, now),
                }
            }
            _ => self.fork_failed(call_id, code, now),
        }
        let _ = key;
    }

    fn reinvite_with_auth(
        &mut self,
        call_id: &str,
        resp: &SipMessage,
        user: &str,
        secret: &str,
        now: Instant,
    ) {
        let code = match resp {
            SipMessage::Response { code, .. } => *code,
            SipMessage::Request { .. } => return,
        };
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let Some(inv) = with_credentials(&leg.invite, resp, user, secret) else {
            self.fork_failed(call_id, code, now);
            return;
        };
        leg.auth_tries += 1;
        let dest = leg.remote;
        leg.invite = inv.clone();
        leg.last_msg = "Tx: INVITE".into();
        if let Ok(k) = self.txs.send_request(inv, dest, false, now) {
            self.owners
                .insert(k.clone(), Owner::Invite(call_id.to_string()));
            if let Some(l) = self.legs.get_mut(call_id) {
                l.invite_key = Some(k);
            }
        }
    }

    /// Send `inv` (a changed copy of leg `call_id`'s INVITE) again: a new branch, the next
    /// CSeq, to the same address.
    fn resend_invite(&mut self, call_id: &str, inv: SipMessage, now: Instant) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let inv = next_invite(&inv);
        leg.invite = inv.clone();
        leg.last_msg = "Tx: INVITE".into();
        let dest = leg.remote;
        if let Some(k) = leg.invite_key.take() {
            self.owners.remove(&k);
        }
        if let Ok(k) = self.txs.send_request(inv, dest, false, now) {
            self.owners
                .insert(k.clone(), Owner::Invite(call_id.to_string()));
            if let Some(l) = self.legs.get_mut(call_id) {
                l.invite_key = Some(k);
            }
        }
    }

    /// Send the INVITE of outbound leg `call_id` to its next address (DNS SRV target or A
    /// record); `false` when it has none left.
    fn fail_over(&mut self, call_id: &str, now: Instant) -> bool {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return false;
        };
        if leg.inbound || leg.fallback.is_empty() || leg.cancel_pending || leg.dialog.is_some() {
            return false;
        }
        let next = leg.fallback.remove(0);
        let old = std::mem::replace(&mut leg.remote, next);
        let inv = next_invite(&leg.invite);
        leg.invite = inv.clone();
        leg.heard = false;
        leg.provisional = false;
        leg.attempt = now;
        leg.last_msg = "Tx: INVITE".into();
        let more = !leg.fallback.is_empty();
        if let Some(k) = leg.invite_key.take() {
            self.owners.remove(&k);
        }
        self.actions.push(Action::Notice(format!(
            "chan_sip.c: Call {call_id} to {old} failed, trying {next}"
        )));
        match self.txs.send_request(inv, next, false, now) {
            Ok(k) => {
                self.owners
                    .insert(k.clone(), Owner::Invite(call_id.to_string()));
                if let Some(l) = self.legs.get_mut(call_id) {
                    l.invite_key = Some(k);
                }
                if more {
                    self.leg_timers
                        .push(Reverse((now + FAILOVER_TIMEOUT, call_id.to_string())));
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Refresh leg `call_id`'s session (RFC 4028): a re-INVITE with the same SDP.
    fn send_refresh(&mut self, call_id: &str, now: Instant) {
        let ua = self.useragent();
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let Some(mut t) = leg.st else {
            return;
        };
        let body = leg.local_sdp.clone().unwrap_or_default();
        let Some(d) = leg.dialog.as_mut() else {
            return;
        };
        let mut m = d.reinvite(&new_branch(), "application/sdp", body);
        // We send this re-INVITE, so we are its UAC, and we go on refreshing.
        let h = m.headers_mut();
        h.push("Session-Expires", format!("{};refresher=uac", t.interval));
        h.push("Supported", "replaces, timer");
        h.push("User-Agent", ua);
        t.restart(now);
        leg.st = Some(t);
        leg.last_msg = "Tx: INVITE".into();
        let dest = leg.remote;
        self.leg_timers.push(Reverse((t.next, call_id.to_string())));
        if let Ok(k) = self.txs.send_request(m, dest, false, now) {
            self.owners.insert(k, Owner::Refresh(call_id.to_string()));
        }
    }

    /// The answer to our session refresh: a 2xx is ACKed; 408 or 481 (or no answer) mean
    /// the call is gone (RFC 4028 §10); 491 (glare) is tried again soon; other failures
    /// leave the session as it is.
    fn refresh_answered(&mut self, call_id: &str, code: u16, now: Instant) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        match code {
            200..=299 => {
                let dest = leg.remote;
                if let Some(a) = leg.dialog.as_ref().and_then(|d| d.ack(&new_branch(), None)) {
                    let b = a.to_bytes();
                    self.out.push((dest, b.clone()));
                    leg.ack = Some((dest, b));
                }
            }
            408 | 481 => {
                let chan_id = leg.chan_id;
                self.actions.push(Action::Warning(format!(
                    "chan_sip.c: Session refresh of {call_id} failed ({code}): hanging up"
                )));
                self.send_bye(call_id, now);
                if let Some(s) = self.chans.get(&chan_id).and_then(|c| c.shared.clone()) {
                    s.request_hangup(cause::NORMAL_CLEARING);
                }
            }
            491 => {
                if let Some(t) = leg.st.as_mut() {
                    t.next = now + Duration::from_secs(2);
                    let next = t.next;
                    self.leg_timers.push(Reverse((next, call_id.to_string())));
                }
            }
            _ => {}
        }
    }

    /// One fork of an outbound channel ended without an answer.
    fn fork_failed(&mut self, call_id: &str, code: u16, now: Instant) {
        if fails_over(code) && self.fail_over(call_id, now) {
            return;
        }
        let Some(leg) = self.legs.remove(call_id) else {
            return;
        };
        let Some(ch) = self.chans.get_mut(&leg.chan_id) else {
            return;
        };
        ch.legs.retain(|l| l != call_id);
        ch.outcomes.push(code);
        if !ch.legs.is_empty() || ch.winner.is_some() {
            return;
        }
        // Every fork failed: report the most telling outcome.
        let best = ch
            .outcomes
            .iter()
            .copied()
            .find(|c| matches!(c, 486 | 600))
            .or_else(|| ch.outcomes.iter().copied().find(|c| *c == 603))
            .unwrap_or(code);
        if let Some(f) = ch.forward.take() {
            if let Some(tx) = &ch.events {
                let _ = tx.send(ChanEvent::Forward(f));
            }
            return;
        }
        if let Some(sh) = &ch.shared {
            sh.set_tech_cause(
                format!("SIP {best} {}", reason_phrase(best))
                    .trim_end()
                    .to_string(),
            );
        }
        let ev = match best {
            486 | 600 => ChanEvent::Busy,
            503 | 500 => ChanEvent::Congestion,
            c => ChanEvent::Hangup(sip_to_cause(c)),
        };
        if let Some(tx) = &ch.events {
            let _ = tx.send(ev);
        }
    }

    /// A 2xx for a leg we no longer have (it was hung up meanwhile): ACK it and end the
    /// dialog with a BYE, both sent to the response's Contact.
    fn ack_and_bye_stray(&mut self, resp: &SipMessage, now: Instant) {
        let Some(Contacts::List(list)) = resp.contacts() else {
            return;
        };
        let Some(target) = list.into_iter().next().map(|c| c.uri) else {
            return;
        };
        let (Some(dest), Some((seq, _)), Some(call_id), Some(from), Some(to)) = (
            self.uri_addr(&target),
            resp.cseq(),
            resp.call_id().map(str::to_string),
            resp.header("From").map(str::to_string),
            resp.header("To").map(str::to_string),
        ) else {
            return;
        };
        for (method, cseq) in [(Method::Ack, seq), (Method::Bye, seq.saturating_add(1))] {
            let m = self.new_request(
                method.clone(),
                target.clone(),
                dest.ip(),
                from.clone(),
                to.clone(),
                call_id.clone(),
                cseq,
            );
            if method == Method::Ack {
                self.out.push((dest, m.to_bytes()));
            } else if let Ok(k) = self.txs.send_request(m, dest, false, now) {
                self.owners.insert(k, Owner::InDialog);
            }
        }
    }

    fn on_stray_response(&mut self, resp: &SipMessage) {
        // A retransmitted 2xx for an INVITE whose transaction is over: ACK again.
        let Some(call_id) = resp.call_id() else {
            return;
        };
        if let Some(leg) = self.legs.get(call_id) {
            if let Some((dest, b)) = &leg.ack {
                self.out.push((*dest, b.clone()));
            }
        }
    }

    // ---------------------------------------------------------------- MESSAGE

    fn on_message(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        src: SocketAddr,
        ruri: &str,
        now: Instant,
    ) {
        let cfg = self.cfg.clone();
        if !cfg.general.accept_outofcall_message {
            self.reply(key, req, 405, "Method Not Allowed", now);
            return;
        }
        let peer = self.match_peer(req, src).cloned();
        if peer.as_ref().is_some_and(|p| !p.permits(src.ip())) {
            self.reply(key, req, 403, "Forbidden", now);
            return;
        }
        if cfg.general.auth_message_requests {
            match &peer {
                Some(p) if Self::peer_needs_auth(p) => {
                    if self
                        .authenticate(key, req, ruri, Some(&p.name), src, now)
                        .is_some()
                    {
                        return;
                    }
                }
                Some(_) => {}
                None if cfg.general.allowguest => {}
                None => {
                    self.refuse_unknown(key, req, ruri, src, now);
                    return;
                }
            }
        }
        let ct = req
            .content_type()
            .unwrap_or("text/plain")
            .to_ascii_lowercase();
        if !ct.starts_with("text/plain") {
            self.reply(key, req, 415, "Unsupported Media Type", now);
            return;
        }
        let Some((uri, exten)) = request_exten(req) else {
            return;
        };
        let context = peer
            .as_ref()
            .and_then(|p| p.outofcall_message_context.clone())
            .or_else(|| cfg.general.outofcall_message_context.clone())
            .or_else(|| peer.as_ref().map(|p| p.context.clone()))
            .unwrap_or_else(|| cfg.general.context.clone());
        let body = String::from_utf8_lossy(req.body()).into_owned();
        let mut msg = Msg {
            to: uri.to_string(),
            from: req.header("From").unwrap_or("").to_string(),
            body,
            data: Vec::new(),
            tech: "SIP".into(),
            endpoint: peer.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        };
        for (n, v) in req.headers().iter() {
            msg.data.push((n.to_string(), v.to_string()));
        }
        self.reply(key, req, 202, "Accepted", now);
        self.actions.push(Action::Message(msg, context, exten));
    }

    /// Send an out-of-call MESSAGE (`MessageSend`): `to` is a peer name, `user@peer` or
    /// `user@host[:port]`.
    pub fn send_message(
        &mut self,
        msg: &Msg,
        to: &str,
        from: &str,
        now: Instant,
    ) -> Result<(), String> {
        let to = to
            .trim()
            .trim_start_matches("sip:")
            .trim_start_matches("SIP/");
        let (user, hostpart) = match to.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, to),
        };
        let cfg = self.cfg.clone();
        let creds = cfg.peer(hostpart).and_then(peer_credentials);
        let targets = match cfg.peer(hostpart) {
            Some(p) => self.peer_targets(p, user, now).map_err(|e| match e {
                TargetError::NotRegistered => format!("peer '{}' is not registered", p.name),
                TargetError::Unresolvable(h) => format!("cannot resolve {h}"),
            })?,
            None => {
                let (h, port) = split_hostport(hostpart);
                let dest = self
                    .host_addr(&h, port.unwrap_or(5060))
                    .ok_or(format!("no peer or host '{hostpart}'"))?;
                vec![Target {
                    ruri: SipUri::new_sip(user, &h, port),
                    dest,
                    fallback: Vec::new(),
                    proto: Proto::Udp,
                }]
            }
        };
        for t in targets {
            let local_ip = self.local_ip_for(t.dest.ip());
            let from_v = if from.is_empty() {
                msg.from.as_str()
            } else {
                from
            };
            let from_na = if from_v.contains('<') || from_v.starts_with("sip:") {
                NameAddr::parse(from_v).ok()
            } else {
                None
            }
            .unwrap_or_else(|| {
                let name = if from_v.is_empty() {
                    "asterisk"
                } else {
                    from_v
                };
                NameAddr::new(SipUri::new_sip(Some(name), &host_str(local_ip), None))
            });
            let mut from_na = from_na;
            from_na
                .params
                .retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
            let mut m = self.new_request(
                Method::Message,
                t.ruri.clone(),
                t.dest.ip(),
                format!("{from_na};tag={}", new_tag()),
                NameAddr::new(t.ruri.clone()).to_string(),
                util::new_call_id(&host_str(local_ip)),
                102,
            );
            m.headers_mut()
                .push("Content-Type", "text/plain;charset=UTF-8");
            m.set_body(msg.body.as_bytes().to_vec());
            self.use_transport(&mut m, t.proto, t.dest.ip());
            let retry = creds.clone().map(|(u, p)| (m.clone(), t.dest, u, p));
            match self.txs.send_request(m, t.dest, false, now) {
                Ok(k) => {
                    self.owners.insert(k, Owner::Message(Box::new(retry)));
                }
                Err(e) => return Err(format!("{e}")),
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- timers

    pub fn next_timeout(&mut self) -> Option<Instant> {
        let mut next = Some(self.next_housekeeping);
        let mut min = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        min(self.txs.next_timeout());
        min(self.leg_timers.peek().map(|Reverse((t, _))| *t));
        for rc in &self.regclients {
            min(rc.poll_timeout());
        }
        next
    }

    pub fn on_timer(&mut self, now: Instant) {
        self.txs.handle_timeout(now);
        while let Some(Reverse((at, _))) = self.leg_timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, call_id))) = self.leg_timers.pop() else {
                break;
            };
            self.leg_timer(&call_id, now);
        }
        self.pump_regclients(now);
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + Duration::from_secs(1);
            self.housekeeping(now);
        }
        self.drain_events(None, now);
    }

    fn leg_timer(&mut self, call_id: &str, now: Instant) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        // Failover: no response at all from this address in time.
        if !leg.inbound
            && !leg.heard
            && !leg.fallback.is_empty()
            && leg.state == LegState::Proceeding
            && now >= leg.attempt + FAILOVER_TIMEOUT
        {
            self.fail_over(call_id, now);
            return;
        }
        if let Some(t) = leg.st {
            if leg.state == LegState::Up && now >= t.next {
                if t.we_refresh {
                    self.send_refresh(call_id, now);
                } else {
                    self.actions.push(Action::Warning(format!(
                        "chan_sip.c: Session-Timer expired - {call_id}"
                    )));
                    let chan_id = leg.chan_id;
                    self.send_bye(call_id, now);
                    if let Some(s) = self.chans.get(&chan_id).and_then(|c| c.shared.clone()) {
                        s.request_hangup(cause::NORMAL_CLEARING);
                    }
                    return;
                }
            }
        }
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let Some(r) = leg.retx.as_mut() else {
            return;
        };
        if now < r.next {
            return;
        }
        if now >= r.give_up {
            // No ACK for our 2xx: the call is dead (RFC 3261 §13.3.1.4).
            leg.retx = None;
            self.actions.push(Action::Warning(format!(
                "chan_sip.c: Retransmission timeout reached on transmission {call_id} for seqno 1 (Critical Response) -- See https://wiki.asterisk.org/wiki/display/AST/SIP+Retransmissions"
            )));
            let chan_id = leg.chan_id;
            self.send_bye(call_id, now);
            if let Some(ch) = self.chans.get(&chan_id) {
                if let Some(s) = &ch.shared {
                    s.request_hangup(cause::NO_USER_RESPONSE);
                }
            }
            return;
        }
        self.out.push((r.dest, r.msg.clone()));
        r.interval = (r.interval * 2).min(Duration::from_secs(4));
        r.next = now + r.interval;
        let next = r.next;
        self.leg_timers.push(Reverse((next, call_id.to_string())));
    }

    fn housekeeping(&mut self, now: Instant) {
        self.rtp_timeouts();
        let window = Duration::from_secs(1);
        self.reg_rate.retain(|_, q| {
            q.back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
        for b in self.registrar.expire(now) {
            self.actions.push(Action::DbDel(
                format!("{DB_FAMILY}/{}", b.aor),
                contact_key(&b.uri),
            ));
            if self.registrar.contacts(&b.aor, now).is_empty() {
                self.verbose(3, format!("Registration for peer '{}' expired", b.aor));
            }
        }
        self.mwi_expire(now);
        self.qualify_tick(now);
        self.realtime_autoclear(now);
    }

    // ---------------------------------------------------------------- qualify

    /// `rtptimeout` / `rtpholdtimeout`: hang up answered calls whose RTP stopped.
    fn rtp_timeouts(&mut self) {
        let g = &self.cfg.general;
        let mut dead = Vec::new();
        for leg in self.legs.values() {
            let Some(m) = leg.media.as_ref().filter(|_| leg.state == LegState::Up) else {
                continue;
            };
            let (t, th) = match leg.peer.as_ref().and_then(|p| self.cfg.peer(p)) {
                Some(p) => (p.rtptimeout, p.rtpholdtimeout),
                None => (g.rtptimeout, g.rtpholdtimeout),
            };
            let limit = if leg.hold || m.params().hold { th } else { t };
            if limit == 0 {
                continue;
            }
            let idle = m.idle();
            if idle >= Duration::from_secs(u64::from(limit)) {
                m.reset_idle();
                dead.push((leg.chan_id, idle.as_secs()));
            }
        }
        for (chan_id, secs) in dead {
            let Some(s) = self.chans.get(&chan_id).and_then(|c| c.shared.clone()) else {
                continue;
            };
            self.actions.push(Action::Notice(format!(
                "chan_sip.c: Disconnecting call '{}' for lack of RTP activity in {secs} seconds",
                s.name
            )));
            s.request_hangup(cause::NORMAL_CLEARING);
        }
    }

    fn qualify_addr(&self, p: &Peer, now: Instant) -> Option<(SipUri, SocketAddr)> {
        let t = self.peer_targets(p, None, now).ok()?.into_iter().next()?;
        Some((t.ruri, t.dest))
    }

    fn qualify_proto(&self, p: &Peer, uri: &SipUri) -> Proto {
        uri_proto(uri).unwrap_or(conf_proto(p.transport()))
    }

    /// The transport requests to `p` use now (`sip show peer`'s Prim.Transp.): its live
    /// registration's, else its `transport=`.
    pub fn peer_transport(&self, p: &Peer, now: Instant) -> Proto {
        match self.peer_targets(p, None, now) {
            Ok(t) if !t.is_empty() => t[0].proto,
            _ => conf_proto(p.transport()),
        }
    }

    fn qualify_tick(&mut self, now: Instant) {
        let cfg = self.cfg.clone();
        let freq = Duration::from_secs(u64::from(cfg.general.qualifyfreq.max(1)));
        for p in cfg.peers.values() {
            if p.qualify == Qualify::Off {
                continue;
            }
            let rt = self.peers_rt.entry(p.name.clone()).or_default();
            if rt.next_qualify.is_some_and(|t| t > now) {
                continue;
            }
            rt.next_qualify = Some(now + freq);
            self.qualify_peer_now(p, now);
        }
    }

    /// Send one OPTIONS to `p` (`sip qualify peer`).
    pub fn qualify_peer_now(&mut self, p: &Peer, now: Instant) -> bool {
        let Some((uri, dest)) = self.qualify_addr(p, now) else {
            return false;
        };
        let proto = self.qualify_proto(p, &uri);
        let hp = self.local_hostport(dest.ip());
        let local_ip = self.local_ip_for(dest.ip());
        let mut m = self.new_request(
            Method::Options,
            uri.clone(),
            dest.ip(),
            format!(
                "\"asterisk\" <sip:asterisk@{}>;tag={}",
                host_str(local_ip),
                new_tag()
            ),
            NameAddr::new(uri).to_string(),
            util::new_call_id(&host_str(local_ip)),
            102,
        );
        {
            let h = m.headers_mut();
            h.push("Contact", format!("<sip:asterisk@{hp}>"));
            h.push("Accept", "application/sdp");
        }
        self.use_transport(&mut m, proto, dest.ip());
        match self.txs.send_request(m, dest, false, now) {
            Ok(k) => {
                self.owners.insert(k, Owner::Options(p.name.clone(), now));
                true
            }
            Err(_) => false,
        }
    }

    fn qualify_result(&mut self, peer: &str, ms: Option<u32>, _now: Instant) {
        let maxms = match self.cfg.peer(peer).map(|p| p.qualify) {
            Some(Qualify::MaxMs(m)) => m,
            _ => return,
        };
        let rt = self.peers_rt.entry(peer.to_string()).or_default();
        let was_ms = rt.latency_ms;
        let was = rt.reachable.map(|r| (r, was_ms.is_some_and(|m| m > maxms)));
        rt.latency_ms = ms;
        rt.reachable = Some(ms.is_some());
        let lagged = ms.is_some_and(|m| m > maxms);
        // Log changes of state only, as chan_sip does.
        let msg = match (was, ms) {
            (Some((true, was_lagged)), Some(_)) if was_lagged == lagged => None,
            (Some((false, _)), None) => None,
            (_, Some(m)) if lagged => Some(format!(
                "chan_sip.c: Peer '{peer}' is now Lagged. ({m}ms / {maxms}ms)"
            )),
            (_, Some(m)) => Some(format!(
                "chan_sip.c: Peer '{peer}' is now Reachable. ({m}ms / {maxms}ms)"
            )),
            (_, None) => Some(format!(
                "chan_sip.c: Peer '{peer}' is now UNREACHABLE!  Last qualify: {}",
                was_ms.unwrap_or(0)
            )),
        };
        if let Some(m) = msg {
            self.actions.push(Action::Notice(m));
            let status = match ms {
                Some(_) if lagged => "Lagged",
                Some(_) => "Reachable",
                None => "Unreachable",
            };
            self.peer_status(peer, status, String::new());
        }
    }

    // ---------------------------------------------------------------- outbound registration

    /// Build the clients for `register =>` lines (once per config).
    pub fn pump_regclients(&mut self, now: Instant) {
        if !self.reg_started {
            self.reg_started = true;
            let cfg = self.cfg.clone();
            for r in &cfg.registrations {
                let dest_ip = self
                    .host_addr(&r.host, r.port.unwrap_or(5060))
                    .map(|a| a.ip())
                    .unwrap_or(IpAddr::from([127, 0, 0, 1]));
                let local_ip = self.local_ip_for(dest_ip);
                let params = RegClientParams {
                    contact_host: host_str(local_ip),
                    contact_port: match conf_proto(r.transport) {
                        Proto::Tcp => self.tcp_port,
                        Proto::Tls => self.tls_port,
                        Proto::Udp => None,
                    }
                    .unwrap_or(self.local.port()),
                    default_expiry: cfg.general.defaultexpiry,
                    register_timeout: Duration::from_secs(u64::from(cfg.general.registertimeout)),
                    register_attempts: cfg.general.registerattempts,
                    user_agent: cfg.general.useragent.clone(),
                };
                let mut rc = RegClient::new(r, params);
                rc.start(now);
                self.regclients.push(rc);
            }
        }
        for i in 0..self.regclients.len() {
            while let Some(req) = self.regclients[i].poll_request(now) {
                let (host, port) = self.regclients[i].destination();
                let Some(dest) = self.host_addr(host, port) else {
                    self.regclients[i].handle_timeout(now);
                    continue;
                };
                if let Ok(k) = self.txs.send_request(req, dest, false, now) {
                    self.owners.insert(k, Owner::Register(i));
                }
            }
        }
    }

    /// Unregister every outbound registration (shutdown).
    pub fn stop_registrations(&mut self, now: Instant) {
        for rc in &mut self.regclients {
            let _ = rc.stop(now);
        }
        self.pump_regclients(now);
    }

    // ---------------------------------------------------------------- views

    /// Live registered contacts of a peer: (uri, source, seconds left).
    pub fn peer_contacts(
        &self,
        peer: &str,
        now: Instant,
    ) -> Vec<(String, Option<SocketAddr>, u32)> {
        self.registrar
            .bindings(peer)
            .iter()
            .filter(|b| b.expires_at > now)
            .map(|b| (b.uri.clone(), b.source, b.remaining(now)))
            .collect()
    }

    /// chan_sip's `ringing` and `onhold` counters of a peer (`sip show inuse`): its calls
    /// ringing and not yet answered, and its answered dialogs on hold.
    pub fn peer_ringing_onhold(&self, peer: &str) -> (u32, u32) {
        let ringing = self
            .chans
            .values()
            .filter(|c| {
                c.peer.as_deref() == Some(peer)
                    && c.ringing
                    && c.shared
                        .as_ref()
                        .is_some_and(|s| s.state() != crate::pbx::ChanState::Up)
            })
            .count();
        let onhold = self
            .legs
            .values()
            .filter(|l| l.peer.as_deref() == Some(peer) && l.hold && l.state == LegState::Up)
            .count();
        (ringing as u32, onhold as u32)
    }

    /// Legs for `sip show channels`.
    pub fn legs(&self) -> impl Iterator<Item = &Leg> {
        self.legs.values().map(|l| &**l)
    }

    /// Name of the channel a leg belongs to.
    pub fn leg_channel(&self, leg: &Leg) -> Option<String> {
        self.chans
            .get(&leg.chan_id)
            .and_then(|c| c.shared.as_ref().map(|s| s.name.clone()))
    }

    pub fn chan_peer(&self, chan_id: u64) -> Option<String> {
        self.chans.get(&chan_id).and_then(|c| c.peer.clone())
    }

    /// The `n`th (from 1) `name` header of the INVITE that set up channel `chan_id`'s
    /// call (the one received for an inbound call, ours for an outbound one: its answering
    /// fork, or its first), for `SIP_HEADER()`.
    /// The names of the INVITE's headers (each once, in order) that start with `prefix`
    /// (any case): SIP_HEADERS.
    pub fn chan_invite_header_names(&self, chan_id: u64, prefix: &str) -> Option<Vec<String>> {
        let ch = self.chans.get(&chan_id)?;
        let call_id = ch.winner.as_ref().or_else(|| ch.legs.first())?;
        let leg = self.legs.get(call_id)?;
        let mut out: Vec<String> = Vec::new();
        for (n, _) in leg.invite.headers().iter() {
            let starts = n.len() >= prefix.len() && n[..prefix.len()].eq_ignore_ascii_case(prefix);
            if starts && !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                out.push(n.to_string());
            }
        }
        Some(out)
    }

    /// The answered (or only) leg of channel `chan_id`.
    fn chan_leg_id(&self, chan_id: u64) -> Option<String> {
        let ch = self.chans.get(&chan_id)?;
        ch.winner.as_ref().or_else(|| ch.legs.first()).cloned()
    }

    /// sip.conf `dtmfmode` of the leg's peer (or `[general]`'s): how the digits written to
    /// its channel are sent, set when its media is set up (SIPDtmfMode() changes it later).
    /// `auto` sends RFC 2833 events when the far end negotiated telephone-event, inband
    /// tones otherwise.
    fn apply_dtmf_mode(&self, call_id: &str) {
        use crate::channels::sipconf::DtmfMode;
        let Some(leg) = self.legs.get(call_id) else {
            return;
        };
        let Some(m) = leg.media.as_ref() else {
            return;
        };
        let mode = leg
            .peer
            .as_deref()
            .and_then(|p| self.cfg.peer(p))
            .map_or(self.cfg.general.dtmfmode, |p| p.dtmfmode);
        let info = |short| Some(super::apps::info_sink(self.sip.clone(), leg.chan_id, short));
        let (sink, inband) = match mode {
            DtmfMode::Info => (info(false), false),
            DtmfMode::ShortInfo => (info(true), false),
            DtmfMode::Inband => (None, true),
            DtmfMode::Rfc2833 => (None, false),
            DtmfMode::Auto => (None, m.params().dtmf_pt.is_none()),
        };
        m.set_dtmf_out(sink, inband);
    }

    /// `SIPDtmfMode()`: where the digits written to channel `chan_id` go from now on.
    pub fn chan_set_dtmf_out(
        &self,
        chan_id: u64,
        sink: Option<crate::media::session::DtmfSink>,
        inband: bool,
    ) -> bool {
        let Some(m) = self
            .chan_leg_id(chan_id)
            .and_then(|c| self.legs.get(&c))
            .and_then(|l| l.media.as_ref())
        else {
            return false;
        };
        m.set_dtmf_out(sink, inband);
        true
    }

    /// The User-Agent of the far end of channel `chan_id`: its INVITE's (inbound), else the
    /// one its peer registered with.
    pub fn chan_user_agent(&self, chan_id: u64) -> Option<String> {
        let leg = self.legs.get(&self.chan_leg_id(chan_id)?)?;
        if leg.inbound {
            return leg.invite.header("User-Agent").map(str::to_string);
        }
        let p = self.peers_rt.get(leg.peer.as_ref()?)?;
        Some(p.useragent.clone())
    }

    /// An in-dialog INFO on channel `chan_id` carrying `body` of `content_type`, with the
    /// `extra` headers; false when the channel has no established dialog.
    pub fn chan_send_info(
        &mut self,
        chan_id: u64,
        content_type: &str,
        body: Vec<u8>,
        extra: &[(String, String)],
        now: Instant,
    ) -> bool {
        self.chan_request(chan_id, Method::Info, content_type, body, extra, now)
    }

    /// `SendText()` and a bridged party's text on channel `chan_id`: an in-dialog MESSAGE
    /// with a `text/plain;charset=UTF-8` body (chan_sip's `sip_sendtext`; an empty body is
    /// allowed, RFC 3428). False when the channel has no established dialog.
    pub fn chan_send_text(&mut self, chan_id: u64, text: &str, now: Instant) -> bool {
        let Some((call_id, mut m)) = self.chan_request_msg(chan_id, Method::Message) else {
            return false;
        };
        m.headers_mut()
            .push("Content-Type", "text/plain;charset=UTF-8");
        m.set_body(text.as_bytes().to_vec());
        self.send_in_dialog(&call_id, m, now)
    }

    /// An in-dialog `method` request of channel `chan_id`'s answered leg, with our
    /// User-Agent; `None` without an established dialog.
    fn chan_request_msg(&mut self, chan_id: u64, method: Method) -> Option<(String, SipMessage)> {
        let call_id = self.chan_leg_id(chan_id)?;
        let ua = self.useragent();
        let d = self.legs.get_mut(&call_id)?.dialog.as_mut()?;
        let mut m = d.request(method, &new_branch());
        m.headers_mut().push("User-Agent", ua);
        Some((call_id, m))
    }

    /// Send an in-dialog request built by [`Core::chan_request_msg`].
    fn send_in_dialog(&mut self, call_id: &str, m: SipMessage, now: Instant) -> bool {
        let Some(dest) = self.legs.get(call_id).map(|l| l.remote) else {
            return false;
        };
        match self.txs.send_request(m, dest, false, now) {
            Ok(k) => {
                self.owners.insert(k, Owner::InDialog);
                true
            }
            Err(_) => false,
        }
    }

    /// An in-dialog `method` request carrying `body` (typed `content_type` when not
    /// empty) and the `extra` headers.
    fn chan_request(
        &mut self,
        chan_id: u64,
        method: Method,
        content_type: &str,
        body: Vec<u8>,
        extra: &[(String, String)],
        now: Instant,
    ) -> bool {
        let Some((call_id, mut m)) = self.chan_request_msg(chan_id, method) else {
            return false;
        };
        let h = m.headers_mut();
        for (n, v) in extra {
            h.push(n.as_str(), v.as_str());
        }
        if !body.is_empty() {
            h.push("Content-Type", content_type);
        }
        m.set_body(body);
        self.send_in_dialog(&call_id, m, now)
    }

    pub fn chan_invite_header(&self, chan_id: u64, name: &str, n: usize) -> Option<String> {
        let ch = self.chans.get(&chan_id)?;
        let call_id = ch.winner.as_ref().or_else(|| ch.legs.first())?;
        let leg = self.legs.get(call_id)?;
        leg.invite
            .headers()
            .get_all(name)
            .nth(n.checked_sub(1)?)
            .map(str::to_string)
    }
}

/// `req` again, answering the 401/407 challenge in `resp` with `user`/`secret`: a new Via
/// branch, CSeq + 1, the matching (Proxy-)Authorization header. `None` if the challenge
/// cannot be answered.
fn with_credentials(
    req: &SipMessage,
    resp: &SipMessage,
    user: &str,
    secret: &str,
) -> Option<SipMessage> {
    let SipMessage::Response { code, .. } = resp else {
        return None;
    };
    let (hdr_in, hdr_out) = if *code == 407 {
        ("Proxy-Authenticate", "Proxy-Authorization")
    } else {
        ("WWW-Authenticate", "Authorization")
    };
    let ch = DigestChallenge::parse(resp.header(hdr_in)?).ok()?;
    let SipMessage::Request { uri, method, .. } = req else {
        return None;
    };
    let auth = crate::sip::auth::build_authorization(
        user,
        Secret::Plain(secret),
        method.as_str(),
        &uri.to_string(),
        &ch,
        &crate::sip::auth::new_cnonce(),
        1,
    )
    .ok()?;
    let mut out = req.clone();
    let cseq = out.cseq().map(|c| c.0).unwrap_or(102).saturating_add(1);
    let h = out.headers_mut();
    let via = h.get("Via").unwrap_or("").to_string();
    let new_via = match via.find(";branch=") {
        Some(i) => {
            let rest = &via[i + 8..];
            let end = rest.find(';').map(|e| &rest[e..]).unwrap_or("");
            format!("{};branch={}{}", &via[..i], new_branch(), end)
        }
        None => format!("{via};branch={}", new_branch()),
    };
    h.set("Via", new_via);
    h.set("CSeq", format!("{cseq} {}", method.as_str()));
    h.remove("Authorization");
    h.remove("Proxy-Authorization");
    h.push(hdr_out, auth);
    Some(out)
}

/// The credentials ferrisk answers a peer's challenges with: `remotesecret` (else `secret`)
/// as `defaultuser` (else `fromuser`, else the peer's name).
fn peer_credentials(p: &Peer) -> Option<(String, String)> {
    let secret = p.remotesecret.clone().or_else(|| p.secret.clone())?;
    let user = p
        .defaultuser
        .clone()
        .or_else(|| p.fromuser.clone())
        .unwrap_or_else(|| p.name.clone());
    Some((user, secret))
}

fn same_registration(
    a: &crate::channels::sipconf::Registration,
    b: &crate::channels::sipconf::Registration,
) -> bool {
    a.peer == b.peer
        && a.transport == b.transport
        && a.user == b.user
        && a.domain == b.domain
        && a.domain_port == b.domain_port
        && a.secret == b.secret
        && a.authuser == b.authuser
        && a.host == b.host
        && a.port == b.port
        && a.contact == b.contact
        && a.expiry == b.expiry
}

/// RFC 3581: note where a request really came from in its top Via.
fn stamp_via(msg: &mut SipMessage, src: SocketAddr) {
    let h = msg.headers_mut();
    let Some(first) = h.get("Via").map(str::to_string) else {
        return;
    };
    let parts = crate::sip::uri::split_commas(&first);
    let Some(top) = parts.first().map(|s| s.to_string()) else {
        return;
    };
    let rest: Vec<String> = parts.iter().skip(1).map(|s| s.to_string()).collect();
    let Some(via) = crate::sip::message::Via::parse(&top) else {
        return;
    };
    let mut new_top = top.clone();
    let ip = src.ip().to_string();
    if via.host != ip && via.received.is_none() {
        new_top.push_str(&format!(";received={ip}"));
    }
    if via.rport == Some(None) {
        new_top = replace_param(&new_top, "rport", &format!("rport={}", src.port()));
        if via.received.is_none() && via.host == ip {
            new_top.push_str(&format!(";received={ip}"));
        }
    }
    if new_top != top {
        let mut v = new_top;
        for r in rest {
            v.push_str(", ");
            v.push_str(&r);
        }
        // Replace only the first Via header line.
        if let Some(slot) = h.0.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case("Via")) {
            slot.1 = v;
        }
    }
}

/// `inv` as a new transaction of the same call: a new Via branch and the next CSeq.
fn next_invite(inv: &SipMessage) -> SipMessage {
    let mut inv = inv.clone();
    if let Some(v) = inv.header("Via").map(str::to_string) {
        let via: Vec<String> = v
            .split(';')
            .map(|part| {
                if part.trim().to_ascii_lowercase().starts_with("branch=") {
                    format!("branch={}", new_branch())
                } else {
                    part.to_string()
                }
            })
            .collect();
        inv.headers_mut().set("Via", via.join(";"));
    }
    if let Some(n) = inv.cseq().map(|(n, _)| n) {
        inv.headers_mut().set("CSeq", format!("{} INVITE", n + 1));
    }
    inv
}

/// RFC 3261's reason phrase for a failure code (HANGUPCAUSE's `SIP 486 Busy Here`).
fn reason_phrase(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "",
    }
}

/// The reason phrase of a response.
fn reason_of(m: &SipMessage) -> &str {
    match m {
        SipMessage::Response { reason, .. } => reason,
        SipMessage::Request { .. } => "",
    }
}

fn replace_param(via: &str, name: &str, with: &str) -> String {
    let mut out = String::new();
    for (i, part) in via.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        if i > 0 && part.trim().eq_ignore_ascii_case(name) {
            out.push_str(with);
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The Request-URI and the extension it addresses: its user part, `s` when empty.
fn request_exten(req: &SipMessage) -> Option<(&SipUri, String)> {
    let SipMessage::Request { uri, .. } = req else {
        return None;
    };
    let exten = uri
        .user_decoded()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "s".to_string());
    Some((uri, exten))
}

/// `host[:port]` (IPv6 in brackets).
pub fn split_hostport(s: &str) -> (String, Option<u16>) {
    match crate::sip::uri::parse_hostport(s) {
        Ok((h, p)) => (h.to_string(), p),
        Err(_) => (s.to_string(), None),
    }
}

impl Core {
    /// Where a URI's host (an IP literal or a name looked up before) points.
    fn uri_addr(&self, uri: &SipUri) -> Option<SocketAddr> {
        let default = if uri_proto(uri) == Some(Proto::Tls) {
            5061
        } else {
            5060
        };
        self.host_addr(&uri.host, uri.port.unwrap_or(default))
    }
}

/// The transport a URI asks for: `;transport=`, or TLS for `sips:`.
fn uri_proto(uri: &SipUri) -> Option<Proto> {
    match uri.transport() {
        Some(t) => Proto::parse(t),
        None if uri.scheme == crate::sip::uri::Scheme::Sips => Some(Proto::Tls),
        None => None,
    }
}

/// A `transport=` setting as the transport layer names it.
fn conf_proto(t: crate::channels::sipconf::Transport) -> Proto {
    match t {
        crate::channels::sipconf::Transport::Udp => Proto::Udp,
        crate::channels::sipconf::Transport::Tcp => Proto::Tcp,
        crate::channels::sipconf::Transport::Tls => Proto::Tls,
    }
}
