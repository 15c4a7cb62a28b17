//! SIP transactions (RFC 3261 §17, with the RFC 6026 "Accepted" state) as socket-free state
//! machines.
//!
//! Nothing here reads a clock, owns a socket or spawns a task (the str0m / quinn-proto style):
//! every input is a method call that takes `now: Instant`, and every output is polled.
//!
//! * [`Transaction::poll_transmit`] gives the next message to put on the wire ([`Transmit`]),
//! * [`Transaction::poll_event`] the next event for the transaction user ([`TxEvent`]),
//! * [`Transaction::poll_timeout`] the next instant at which [`Transaction::handle_timeout`]
//!   must be called.
//!
//! The four machines of §17 are one [`Transaction`] type with a [`Kind`]:
//!
//! * client INVITE (§17.1.1, Figure 5 as amended by RFC 6026): timers A (retransmit, doubling,
//!   unreliable transports only), B (64·T1 give-up in Calling) and D (wait for final response
//!   retransmissions, 32 s on UDP, 0 on TCP). A non-2xx final response is ACKed by the
//!   transaction itself, built from the original request (§17.1.1.3). A 2xx goes to the TU and
//!   moves to Accepted (timer M = 64·T1), where further 2xx are passed up too (the TU ACKs
//!   2xx, in its dialog layer);
//! * client non-INVITE (§17.1.2): timers E (retransmit, doubling up to T2, T2 in Proceeding),
//!   F (64·T1 give-up) and K (T4 on UDP, 0 on TCP);
//! * server INVITE (§17.2.1 + RFC 6026): `100 Trying` is sent on its own if the TU has not
//!   responded within [`TimerConfig::trying_delay`] (200 ms); retransmitted INVITEs get the last
//!   response again; a non-2xx final response is retransmitted by timer G (doubling up to T2)
//!   until the ACK (absorbed, moves to Confirmed, timer I = T4 / 0) or timer H (64·T1, then
//!   [`TxEvent::Timeout`]); a 2xx moves to Accepted (timer L = 64·T1), where retransmitted
//!   INVITEs are absorbed and 2xx retransmissions from the TU are sent;
//! * server non-INVITE (§17.2.2): retransmitted requests get the last response (none in
//!   Trying), timer J (64·T1 on UDP, 0 on TCP).
//!
//! On a reliable transport the retransmission timers (A, E, G) never run and the wait timers
//! D, K, I, J are zero, as §17 says; the give-up timers B, F, H still run.
//!
//! [`TransactionTable`] owns many transactions: it builds the [`TransactionKey`] of each incoming
//! message (§17.1.3 / §17.2.3: top Via branch + sent-by + method, ACK folded onto INVITE),
//! routes it to its transaction or reports a new server transaction, a stray response or a
//! stray ACK (the ACK of a 2xx, which belongs to the dialog layer), drives all timers, removes
//! terminated transactions, and is capped: at capacity a new request gets a ready-made `503`
//! with `Retry-After` to send statelessly instead of a transaction. CANCEL has its own server
//! transaction; [`TransactionTable::find_cancelled_invite`] finds the INVITE it cancels (§9.2).
//!
//! Not handled here: RFC 2543 transactions without the `z9hG4bK` magic cookie (any non-empty
//! branch is used as is, the §17.2.3 fallback comparison is not implemented), the Via
//! `received`/`rport` response routing of §18.2.2 (a server transaction answers to the source
//! address it was created with), and the merged-request check of §8.2.2.2.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::sip::message::{response_to, Headers, Method, SipMessage};

/// The RFC 3261 branch prefix (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Default cap of [`TransactionTable`].
pub const DEFAULT_TABLE_CAP: usize = 65_536;

/// Timer base values (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
    /// Server INVITE: send `100 Trying` if the TU has not responded within this, 200 ms.
    pub trying_delay: Duration,
    /// Timer D on unreliable transports (> 32 s).
    pub timer_d: Duration,
    /// How long a server transaction that has sent its final response stays to absorb
    /// retransmitted requests: timer J (non-INVITE, UDP) and timer L (INVITE answered with a
    /// 2xx). RFC 3261/6026 say 64·T1 = 32 s; a busy registrar keeps tens of thousands of
    /// finished transactions that long, so ferrisk's endpoint uses a shorter wait (as
    /// Kamailio's `wt_timer` does); a request retransmitted later is processed again, which
    /// SIP's CSeq rules make harmless.
    pub server_linger: Duration,
    /// `Retry-After` seconds in the 503 a full table advises.
    pub retry_after_secs: u32,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
            timer_d: Duration::from_secs(32),
            server_linger: Duration::from_secs(32),
            retry_after_secs: 5,
        }
    }
}

impl TimerConfig {
    fn t1_64(&self) -> Duration {
        self.t1 * 64
    }
}

/// A message for the transport to send, serialized once: a retransmission sends the same
/// bytes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Transmit {
    /// The message, parsed back (tests).
    #[cfg(test)]
    pub fn msg(&self) -> SipMessage {
        crate::sip::message::parse(&self.bytes).expect("a message we serialized")
    }
}

/// What a transaction tells its transaction user (TU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// Server: a new request (or, in Accepted, an ACK that reused the INVITE's branch).
    Request(SipMessage),
    /// Client: a response to pass up (1xx, every 2xx, the first non-2xx final).
    Response(SipMessage),
    /// Timer B, F or H fired.
    Timeout,
    /// The transport reported a failure ([`Transaction::handle_transport_error`]).
    TransportError,
    /// The transaction is over; it is the last event.
    Terminated,
}

/// Which side of the transaction we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

/// The four state machines of §17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// Transaction states (the union of Figures 5–8 and RFC 6026's Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// Why a call into a transaction or the table was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxError {
    /// A request was expected (or an ACK was given, which never starts a transaction).
    NotARequest,
    /// A response was expected.
    NotAResponse,
    /// The message has no top Via with a branch, or no CSeq.
    NoKey,
    /// A transaction with this key already exists.
    Exists,
    /// The table is at capacity.
    Full,
    /// No transaction with that key.
    NoSuchTransaction,
    /// The message is not allowed in the current state (e.g. a response after the final one).
    InvalidState,
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for TxError {}

/// Transaction identity (§17.1.3, §17.2.3): top Via branch, sent-by (lower-cased host and port,
/// default port filled in) and method, where ACK counts as INVITE so the ACK of a non-2xx final
/// response finds its INVITE server transaction. CANCEL keeps its own method: it is a separate
/// transaction with the same branch ([`TransactionKey::cancelled_invite`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    pub role: Role,
    pub branch: String,
    pub sent_by: String,
    pub method: Method,
}

impl TransactionKey {
    /// The key of `msg` as seen by `role` (requests: their method; responses: the CSeq method).
    pub fn of(msg: &SipMessage, role: Role) -> Option<TransactionKey> {
        let via = msg.top_via()?;
        let branch = via.branch.filter(|b| !b.is_empty())?;
        let method = match msg {
            SipMessage::Request { method, .. } => method.clone(),
            SipMessage::Response { .. } => msg.cseq()?.1,
        };
        let method = if method == Method::Ack {
            Method::Invite
        } else {
            method
        };
        let default_port = if via.transport == "TLS" { 5061 } else { 5060 };
        let host = via.host.to_ascii_lowercase();
        let sent_by = format!("{host}:{}", via.port.unwrap_or(default_port));
        Some(TransactionKey {
            role,
            branch,
            sent_by,
            method,
        })
    }

    /// For a CANCEL key, the key of the INVITE transaction it cancels (same branch and sent-by,
    /// §9.2). `None` for other methods.
    pub fn cancelled_invite(&self) -> Option<TransactionKey> {
        (self.method == Method::Cancel).then(|| TransactionKey {
            method: Method::Invite,
            ..self.clone()
        })
    }
}

/// One transaction. Create with [`Transaction::client`] or [`Transaction::server`].
#[derive(Debug)]
pub struct Transaction {
    kind: Kind,
    state: State,
    cfg: TimerConfig,
    reliable: bool,
    peer: SocketAddr,
    /// Kept only while needed: a client's until its final response (retransmissions, the
    /// ACK of a non-2xx), a server INVITE's until its first response (the automatic `100
    /// Trying`). A finished transaction holds no parsed message.
    request: Option<SipMessage>,
    /// The status of the last response sent (server) or received (client).
    last_code: Option<u16>,
    /// Server: the last response as sent, for retransmissions of the request.
    last_wire: Option<Vec<u8>>,
    /// Client INVITE: the ACK of the non-2xx final response, as sent.
    ack: Option<Vec<u8>>,
    /// Timer A, E or G, and its current interval.
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// Timer B, F or H.
    timeout_at: Option<Instant>,
    /// Timer D, K, I, J, L or M: entering Terminated.
    end_at: Option<Instant>,
    /// Server INVITE: automatic `100 Trying`.
    trying_at: Option<Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
}

fn is_invite(m: &SipMessage) -> bool {
    m.method() == Some(&Method::Invite)
}

fn status(m: &SipMessage) -> Option<u16> {
    match m {
        SipMessage::Response { code, .. } => Some(*code),
        SipMessage::Request { .. } => None,
    }
}

impl Transaction {
    /// Start a client transaction: `request` is sent to `dest` at once (see
    /// [`Transaction::poll_transmit`]). ACK is refused ([`TxError::NotARequest`]): it is
    /// sent by the INVITE transaction (non-2xx) or by the dialog (2xx).
    pub fn client(
        request: SipMessage,
        dest: SocketAddr,
        reliable: bool,
        cfg: TimerConfig,
        now: Instant,
    ) -> Result<Transaction, TxError> {
        match request.method() {
            None | Some(Method::Ack) => return Err(TxError::NotARequest),
            Some(_) => {}
        }
        let invite = is_invite(&request);
        let mut t = Transaction {
            kind: if invite {
                Kind::ClientInvite
            } else {
                Kind::ClientNonInvite
            },
            state: if invite {
                State::Calling
            } else {
                State::Trying
            },
            cfg,
            reliable,
            peer: dest,
            request: None,
            last_code: None,
            last_wire: None,
            ack: None,
            retransmit_at: (!reliable).then(|| now + cfg.t1),
            interval: cfg.t1,
            timeout_at: Some(now + cfg.t1_64()),
            end_at: None,
            trying_at: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        t.send(&request);
        t.request = Some(request);
        Ok(t)
    }

    /// Start a server transaction for a request received from `source`; the request is
    /// queued as [`TxEvent::Request`] for the TU. ACK is refused.
    pub fn server(
        request: SipMessage,
        source: SocketAddr,
        reliable: bool,
        cfg: TimerConfig,
        now: Instant,
    ) -> Result<Transaction, TxError> {
        match request.method() {
            None | Some(Method::Ack) => return Err(TxError::NotARequest),
            Some(_) => {}
        }
        let invite = is_invite(&request);
        let mut t = Transaction {
            kind: if invite {
                Kind::ServerInvite
            } else {
                Kind::ServerNonInvite
            },
            state: if invite {
                State::Proceeding
            } else {
                State::Trying
            },
            cfg,
            reliable,
            peer: source,
            request: invite.then(|| request.clone()),
            last_code: None,
            last_wire: None,
            ack: None,
            retransmit_at: None,
            interval: cfg.t1,
            timeout_at: None,
            end_at: None,
            trying_at: invite.then(|| now + cfg.trying_delay),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        t.events.push_back(TxEvent::Request(request));
        Ok(t)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The request that created the transaction, while it is kept (see the field).
    pub fn request(&self) -> Option<&SipMessage> {
        self.request.as_ref()
    }

    /// The status of the last response sent (server) or received (client).
    pub fn last_code(&self) -> Option<u16> {
        self.last_code
    }

    /// Where this transaction sends to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// The earliest pending timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.trying_at,
            self.retransmit_at,
            self.timeout_at,
            self.end_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn send(&mut self, msg: &SipMessage) {
        self.send_bytes(msg.to_bytes());
    }

    fn send_bytes(&mut self, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            dest: self.peer,
            bytes,
        });
    }

    /// Send a response and keep its bytes for retransmissions (server).
    fn send_response_wire(&mut self, resp: &SipMessage, code: u16) {
        let wire = resp.to_bytes();
        self.last_code = Some(code);
        self.last_wire = Some(wire.clone());
        self.request = None;
        self.send_bytes(wire);
    }

    fn terminate(&mut self) {
        if self.state == State::Terminated {
            return;
        }
        self.state = State::Terminated;
        self.retransmit_at = None;
        self.timeout_at = None;
        self.end_at = None;
        self.trying_at = None;
        self.events.push_back(TxEvent::Terminated);
    }

    /// Start the "linger" timer (D, K, I, J, L, M); zero means terminate now.
    fn linger(&mut self, now: Instant, d: Duration) {
        self.retransmit_at = None;
        self.timeout_at = None;
        self.trying_at = None;
        if d.is_zero() {
            self.terminate();
        } else {
            self.end_at = Some(now + d);
        }
    }

    /// The wait timer value: `d` on unreliable transports, 0 on reliable ones.
    fn unreliable(&self, d: Duration) -> Duration {
        if self.reliable {
            Duration::ZERO
        } else {
            d
        }
    }

    /// What the table keeps of a server transaction that now only absorbs retransmissions
    /// (non-INVITE Completed, INVITE Accepted or Confirmed, its linger timer running, its
    /// output collected); `None` for any other.
    fn finished(&mut self) -> Option<Finished> {
        let until = self.end_at?;
        let absorbing = matches!(
            (self.kind, self.state),
            (Kind::ServerNonInvite, State::Completed)
                | (Kind::ServerInvite, State::Accepted | State::Confirmed)
        );
        if !absorbing || !self.transmits.is_empty() || !self.events.is_empty() {
            return None;
        }
        Some(Finished {
            dest: self.peer,
            // An INVITE's 2xx is retransmitted by the TU, not by the transaction.
            wire: match self.kind {
                Kind::ServerNonInvite => self.last_wire.take().map(Vec::into_boxed_slice),
                _ => None,
            },
            until,
            ack_to_tu: self.state == State::Accepted,
        })
    }

    /// The transport failed to send (§17.1.4, §17.2.4): tell the TU and terminate.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state == State::Terminated {
            return;
        }
        self.events.push_back(TxEvent::TransportError);
        self.terminate();
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.trying_at.is_some_and(|t| t <= now) {
            self.trying_at = None;
            if self.kind == Kind::ServerInvite
                && self.state == State::Proceeding
                && self.last_code.is_none()
            {
                let trying = self
                    .request
                    .as_ref()
                    .and_then(|r| response_to(r, 100, "Trying", None));
                if let Some(r) = trying {
                    self.send_response_wire(&r, 100);
                }
            }
        }
        if let Some(t) = self.retransmit_at.filter(|t| *t <= now) {
            self.on_retransmit_timer(t, now);
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.timeout_at = None;
            self.events.push_back(TxEvent::Timeout);
            self.terminate();
        }
        if self.end_at.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    /// Timer A, E or G fired (it was due at `fired`). The next one is due an interval after
    /// `fired`, so the schedule does not drift with late calls; if that is already past (the
    /// caller stalled), an interval after `now`, so a stall never bursts retransmissions.
    fn on_retransmit_timer(&mut self, fired: Instant, now: Instant) {
        let msg = match (self.kind, self.state) {
            (Kind::ClientInvite, State::Calling) => {
                self.interval *= 2;
                self.request.as_ref().map(SipMessage::to_bytes)
            }
            (Kind::ClientNonInvite, State::Trying) => {
                self.interval = (self.interval * 2).min(self.cfg.t2);
                self.request.as_ref().map(SipMessage::to_bytes)
            }
            (Kind::ClientNonInvite, State::Proceeding) => {
                self.interval = self.cfg.t2;
                self.request.as_ref().map(SipMessage::to_bytes)
            }
            (Kind::ServerInvite, State::Completed) => {
                self.interval = (self.interval * 2).min(self.cfg.t2);
                self.last_wire.clone()
            }
            _ => None,
        };
        match msg {
            Some(m) => {
                self.send_bytes(m);
                let next = fired + self.interval;
                self.retransmit_at = Some(if next > now {
                    next
                } else {
                    now + self.interval
                });
            }
            None => self.retransmit_at = None,
        }
    }

    /// Client: a response matched this transaction.
    pub fn handle_response(&mut self, resp: SipMessage, now: Instant) -> Result<(), TxError> {
        let code = status(&resp).ok_or(TxError::NotAResponse)?;
        match self.kind {
            Kind::ClientInvite => self.client_invite_response(resp, code, now),
            Kind::ClientNonInvite => {
                match self.state {
                    State::Trying | State::Proceeding => {
                        self.last_code = Some(code);
                        self.events.push_back(TxEvent::Response(resp));
                        if code < 200 {
                            self.state = State::Proceeding;
                        } else {
                            self.state = State::Completed;
                            self.request = None;
                            let k = self.unreliable(self.cfg.t4);
                            self.linger(now, k);
                        }
                    }
                    // Completed: retransmitted finals are absorbed.
                    _ => {}
                }
                Ok(())
            }
            _ => Err(TxError::InvalidState),
        }
    }

    fn client_invite_response(
        &mut self,
        resp: SipMessage,
        code: u16,
        now: Instant,
    ) -> Result<(), TxError> {
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.retransmit_at = None;
                self.timeout_at = None;
                self.last_code = Some(code);
                self.events.push_back(TxEvent::Response(resp));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.last_code = Some(code);
                self.request = None;
                self.events.push_back(TxEvent::Response(resp));
                self.linger(now, self.cfg.t1_64()); // timer M
            }
            (State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                let ack = self.request.take().and_then(|r| build_ack(&r, &resp));
                if let Some(ack) = ack {
                    let wire = ack.to_bytes();
                    self.ack = Some(wire.clone());
                    self.send_bytes(wire);
                }
                self.last_code = Some(code);
                self.events.push_back(TxEvent::Response(resp));
                let d = self.unreliable(self.cfg.timer_d);
                self.linger(now, d);
            }
            (State::Accepted, 200..=299) => self.events.push_back(TxEvent::Response(resp)),
            (State::Completed, 300..) => {
                if let Some(ack) = self.ack.clone() {
                    self.send_bytes(ack);
                }
            }
            // Late 1xx, or a stray final after the other kind: absorbed.
            _ => {}
        }
        Ok(())
    }

    /// Server: a request matched this transaction (a retransmission, or the ACK of an
    /// INVITE's non-2xx final response).
    pub fn handle_request(&mut self, req: SipMessage, now: Instant) -> Result<(), TxError> {
        let method = req.method().ok_or(TxError::NotARequest)?.clone();
        match (self.kind, method, self.state) {
            (Kind::ServerInvite, Method::Ack, State::Completed) => {
                self.state = State::Confirmed;
                let i = self.unreliable(self.cfg.t4);
                self.linger(now, i);
            }
            (Kind::ServerInvite, Method::Ack, State::Accepted) => {
                self.events.push_back(TxEvent::Request(req));
            }
            (Kind::ServerInvite, Method::Ack, _) => {}
            (Kind::ServerInvite, _, State::Proceeding | State::Completed)
            | (Kind::ServerNonInvite, _, State::Proceeding | State::Completed) => {
                if let Some(r) = self.last_wire.clone() {
                    self.send_bytes(r);
                }
            }
            // Server INVITE Accepted/Confirmed, non-INVITE Trying: absorbed.
            _ => {}
        }
        Ok(())
    }

    /// Server: the TU sends a response through this transaction.
    pub fn send_response(&mut self, resp: SipMessage, now: Instant) -> Result<(), TxError> {
        let code = status(&resp).ok_or(TxError::NotAResponse)?;
        match (self.kind, self.state) {
            (Kind::ServerInvite, State::Proceeding) => {
                self.trying_at = None;
                self.send_response_wire(&resp, code);
                if (200..300).contains(&code) {
                    self.state = State::Accepted;
                    self.linger(now, self.cfg.server_linger); // timer L
                } else if code >= 300 {
                    self.state = State::Completed;
                    self.retransmit_at = (!self.reliable).then(|| now + self.cfg.t1);
                    self.interval = self.cfg.t1;
                    self.timeout_at = Some(now + self.cfg.t1_64()); // timer H
                }
            }
            (Kind::ServerInvite, State::Accepted) if (200..300).contains(&code) => {
                self.send_response_wire(&resp, code);
            }
            (Kind::ServerNonInvite, State::Trying | State::Proceeding) => {
                self.send_response_wire(&resp, code);
                if code < 200 {
                    self.state = State::Proceeding;
                } else {
                    self.state = State::Completed;
                    let j = self.unreliable(self.cfg.server_linger);
                    self.linger(now, j);
                }
            }
            _ => return Err(TxError::InvalidState),
        }
        Ok(())
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From, the top Via
/// (same branch) and Route headers of the original request, To of the response (with its tag),
/// CSeq number of the request with method ACK.
pub fn build_ack(req: &SipMessage, resp: &SipMessage) -> Option<SipMessage> {
    let SipMessage::Request {
        uri, headers: rh, ..
    } = req
    else {
        return None;
    };
    let (seq, _) = req.cseq()?;
    let mut h = Headers::default();
    h.push("Via", *rh.elements("Via").first()?);
    for r in rh.get_all("Route") {
        h.push("Route", r);
    }
    h.push("Max-Forwards", "70");
    h.push("From", rh.get("From")?);
    h.push("To", resp.header("To")?);
    h.push("Call-ID", rh.get("Call-ID")?);
    h.push("CSeq", format!("{seq} ACK"));
    h.push("Content-Length", "0");
    Some(SipMessage::Request {
        method: Method::Ack,
        uri: uri.clone(),
        headers: h,
        body: Vec::new(),
    })
}

/// Where an incoming message went ([`TransactionTable::handle_incoming`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// It matched an existing transaction (retransmission, ACK, response).
    Matched(TransactionKey),
    /// A new server transaction was created; its [`TxEvent::Request`] is queued.
    NewServer(TransactionKey),
    /// An ACK matching no transaction: the ACK of a 2xx, for the dialog layer.
    StrayAck(SipMessage),
    /// A response matching no client transaction (§17.1.3): drop it (a proxy would forward it).
    StrayResponse(SipMessage),
    /// The table is full: send this 503 (with `Retry-After`) statelessly to the source.
    Overloaded(SipMessage),
    /// No top Via branch or no CSeq: cannot be matched; drop (or answer 400 upstream).
    Invalid,
}

/// The default byte budget of a [`TransactionTable`]'s live transactions: 256 MiB of
/// messages (a flood is answered 503 before it can take more).
pub const DEFAULT_BYTE_CAP: usize = 256 << 20;

/// The default byte budget of finished server transactions kept to absorb retransmissions
/// (8 MiB: 8 s of 1,700 answered requests a second, 4 s of 3,400; beyond it the oldest are
/// forgotten early, and a retransmission arriving after that is processed as a new
/// request).
pub const DEFAULT_FINISHED_CAP: usize = 8 << 20;

/// What a finished server transaction costs besides its response bytes: its map slot
/// (key hash, address, deadline) with the map's spare room, and its expiry entry.
const FINISHED_OVERHEAD: usize = 160;

/// A finished server transaction (see [`TransactionTable`]): the request's retransmissions
/// get `wire` again (or are absorbed when there is none) until `until`.
#[derive(Debug)]
struct Finished {
    dest: SocketAddr,
    wire: Option<Box<[u8]>>,
    until: Instant,
    /// An INVITE answered 2xx: an ACK reusing its branch goes to the TU.
    ack_to_tu: bool,
}

/// The size of a finished transaction's map value (for `src/sizes.rs`).
#[cfg(test)]
pub(crate) const FINISHED_SIZE: usize = std::mem::size_of::<Finished>();

impl Finished {
    fn bytes(&self) -> usize {
        FINISHED_OVERHEAD + self.wire.as_ref().map_or(0, |w| w.len())
    }
}

/// An estimate of the memory a message held by a transaction costs: its header names and
/// values, its body, and a fixed overhead for the parsed structure.
pub fn message_bytes(m: &SipMessage) -> usize {
    256 + m.body().len()
        + m.headers()
            .iter()
            .map(|(n, v)| n.len() + v.len() + 48)
            .sum::<usize>()
}

/// All transactions of an endpoint, keyed by [`TransactionKey`], with polled output.
///
/// A server transaction that has sent its final response and only waits to absorb
/// retransmissions (non-INVITE Completed, INVITE Accepted or Confirmed) is finished: it is
/// reported [`TxEvent::Terminated`] to the TU, and the table keeps only what answering a
/// retransmission needs: a 128-bit keyed hash of its key, the peer, the bytes of the last
/// response, and the deadline (about 600 bytes instead of the parsed request and response).
/// Finished transactions have their own byte budget ([`TransactionTable::set_finished_cap`]).
///
/// Timers are kept in a min-heap of `(instant, transaction id)` with lazy invalidation: an
/// entry counts only while it equals the transaction's currently scheduled instant, so
/// [`TransactionTable::next_timeout`] and [`TransactionTable::handle_timeout`] cost
/// O(log n) per timer instead of a scan of every transaction.
#[derive(Debug)]
pub struct TransactionTable {
    cfg: TimerConfig,
    cap: usize,
    /// Most bytes of messages held (requests and the last response of each transaction).
    byte_cap: usize,
    /// Bytes of messages held now (estimated, see [`message_bytes`]).
    bytes: usize,
    txs: HashMap<TransactionKey, Slot>,
    ids: HashMap<u64, TransactionKey>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Finished server transactions by key hash, their expiry heap, bytes and budget.
    finished: HashMap<u128, Finished>,
    finished_heap: BinaryHeap<Reverse<(Instant, u128)>>,
    finished_bytes: usize,
    finished_cap: usize,
    /// Two independently keyed hashers: a key's 128-bit hash (unpredictable to peers).
    hashers: (RandomState, RandomState),
    next_id: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<(TransactionKey, TxEvent)>,
}

#[derive(Debug)]
struct Slot {
    tx: Transaction,
    id: u64,
    /// Estimated bytes of the request and of the last response sent.
    req_bytes: usize,
    resp_bytes: usize,
    /// The instant of this transaction's live heap entry.
    scheduled: Option<Instant>,
}

impl TransactionTable {
    /// A table holding at most `cap` transactions and [`DEFAULT_BYTE_CAP`] bytes of messages.
    pub fn new(cfg: TimerConfig, cap: usize) -> TransactionTable {
        TransactionTable {
            cfg,
            cap,
            byte_cap: DEFAULT_BYTE_CAP,
            bytes: 0,
            txs: HashMap::new(),
            ids: HashMap::new(),
            heap: BinaryHeap::new(),
            finished: HashMap::new(),
            finished_heap: BinaryHeap::new(),
            finished_bytes: 0,
            finished_cap: DEFAULT_FINISHED_CAP,
            hashers: (RandomState::new(), RandomState::new()),
            next_id: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Estimated bytes of the messages held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Set the byte budget: beyond it new requests get `503` and new client transactions
    /// are refused, as at the count cap.
    pub fn set_byte_cap(&mut self, cap: usize) {
        self.byte_cap = cap;
    }

    /// Set the byte budget of finished server transactions: beyond it the oldest are
    /// forgotten before their time.
    pub fn set_finished_cap(&mut self, cap: usize) {
        self.finished_cap = cap;
        self.shed_finished();
    }

    /// Finished server transactions kept, and their estimated bytes.
    pub fn finished(&self) -> (usize, usize) {
        (self.finished.len(), self.finished_bytes)
    }

    fn hash(&self, key: &TransactionKey) -> u128 {
        let a = self.hashers.0.hash_one(key);
        let b = self.hashers.1.hash_one(key);
        (u128::from(a) << 64) | u128::from(b)
    }

    fn add_finished(&mut self, key: &TransactionKey, f: Finished) {
        let h = self.hash(key);
        self.finished_bytes += f.bytes();
        self.finished_heap.push(Reverse((f.until, h)));
        if let Some(old) = self.finished.insert(h, f) {
            self.finished_bytes -= old.bytes();
        }
        self.shed_finished();
    }

    /// Drop the finished entry `h` if its deadline is `at` (else the heap entry is stale).
    fn expire_finished(&mut self, at: Instant, h: u128) {
        if self.finished.get(&h).is_some_and(|f| f.until == at) {
            if let Some(f) = self.finished.remove(&h) {
                self.finished_bytes -= f.bytes();
            }
        }
    }

    fn shed_finished(&mut self) {
        while self.finished_bytes > self.finished_cap {
            let Some(Reverse((at, h))) = self.finished_heap.pop() else {
                break;
            };
            self.expire_finished(at, h);
        }
        self.release_finished_if_empty();
    }

    /// Once no finished transaction is left, give the maps' memory (a burst's) back.
    fn release_finished_if_empty(&mut self) {
        if self.finished.is_empty() && self.finished.capacity() > 0 {
            self.finished = HashMap::new();
            self.finished_heap = BinaryHeap::new();
        }
    }

    fn full(&self) -> bool {
        self.txs.len() >= self.cap || self.bytes >= self.byte_cap
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub fn get(&self, key: &TransactionKey) -> Option<&Transaction> {
        self.txs.get(key).map(|s| &s.tx)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next TU event, with the transaction it belongs to.
    pub fn poll_event(&mut self) -> Option<(TransactionKey, TxEvent)> {
        self.events.pop_front()
    }

    /// Is this heap entry the live timer of a live transaction?
    fn live(&self, at: Instant, id: u64) -> bool {
        self.ids
            .get(&id)
            .and_then(|k| self.txs.get(k))
            .is_some_and(|s| s.scheduled == Some(at))
    }

    /// The earliest timer of any transaction (stale heap entries are dropped on the way),
    /// or the earliest expiry of a finished one.
    pub fn next_timeout(&mut self) -> Option<Instant> {
        let finished = self.finished_heap.peek().map(|Reverse((at, _))| *at);
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if self.live(at, id) {
                return Some(finished.map_or(at, |f| f.min(at)));
            }
            self.heap.pop();
        }
        finished
    }

    fn insert(&mut self, key: TransactionKey, tx: Transaction, req_bytes: usize) {
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(id, key.clone());
        self.bytes += req_bytes;
        self.txs.insert(
            key.clone(),
            Slot {
                tx,
                id,
                scheduled: None,
                req_bytes,
                resp_bytes: 0,
            },
        );
        self.drain(&key);
    }

    /// Move a transaction's output to the table queues, reschedule its timer, and drop it once
    /// terminated.
    fn drain(&mut self, key: &TransactionKey) {
        let Some(s) = self.txs.get_mut(key) else {
            return;
        };
        while let Some(x) = s.tx.poll_transmit() {
            self.transmits.push_back(x);
        }
        while let Some(e) = s.tx.poll_event() {
            self.events.push_back((key.clone(), e));
        }
        if s.tx.is_terminated() {
            let id = s.id;
            self.bytes = self.bytes.saturating_sub(s.req_bytes + s.resp_bytes);
            self.txs.remove(key);
            self.ids.remove(&id);
            return;
        }
        if let Some(f) = s.tx.finished() {
            let id = s.id;
            self.bytes = self.bytes.saturating_sub(s.req_bytes + s.resp_bytes);
            self.txs.remove(key);
            self.ids.remove(&id);
            self.events.push_back((key.clone(), TxEvent::Terminated));
            self.add_finished(key, f);
            return;
        }
        let next = s.tx.poll_timeout();
        if next != s.scheduled {
            s.scheduled = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, s.id)));
            }
        }
    }

    /// Fire all timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, h))) = self.finished_heap.peek() {
            if at > now {
                break;
            }
            self.finished_heap.pop();
            self.expire_finished(at, h);
        }
        self.release_finished_if_empty();
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if !self.live(at, id) {
                continue;
            }
            let Some(key) = self.ids.get(&id).cloned() else {
                continue;
            };
            if let Some(s) = self.txs.get_mut(&key) {
                s.scheduled = None;
                s.tx.handle_timeout(now);
            }
            self.drain(&key);
        }
    }

    /// Route a message received from `source` over a transport (`reliable` for TCP/TLS).
    pub fn handle_incoming(
        &mut self,
        msg: SipMessage,
        source: SocketAddr,
        reliable: bool,
        now: Instant,
    ) -> Incoming {
        let role = if msg.is_request() {
            Role::Server
        } else {
            Role::Client
        };
        let Some(key) = TransactionKey::of(&msg, role) else {
            return Incoming::Invalid;
        };
        if let Some(s) = self.txs.get_mut(&key) {
            let r = match role {
                Role::Server => s.tx.handle_request(msg, now),
                Role::Client => s.tx.handle_response(msg, now),
            };
            self.drain(&key);
            return match r {
                Ok(()) => Incoming::Matched(key),
                Err(_) => Incoming::Invalid,
            };
        }
        if role == Role::Server {
            if let Some(f) = self.finished.get(&self.hash(&key)) {
                if msg.method() == Some(&Method::Ack) {
                    return if f.ack_to_tu {
                        Incoming::StrayAck(msg)
                    } else {
                        Incoming::Matched(key)
                    };
                }
                if let Some(w) = &f.wire {
                    self.transmits.push_back(Transmit {
                        dest: f.dest,
                        bytes: w.to_vec(),
                    });
                }
                return Incoming::Matched(key);
            }
        }
        match role {
            Role::Client => Incoming::StrayResponse(msg),
            Role::Server if msg.method() == Some(&Method::Ack) => Incoming::StrayAck(msg),
            Role::Server => {
                if self.full() {
                    return match response_to(&msg, 503, "Service Unavailable", None) {
                        Some(mut r) => {
                            r.headers_mut()
                                .push("Retry-After", self.cfg.retry_after_secs.to_string());
                            Incoming::Overloaded(r)
                        }
                        None => Incoming::Invalid,
                    };
                }
                let size = message_bytes(&msg);
                match Transaction::server(msg, source, reliable, self.cfg, now) {
                    Ok(t) => {
                        self.insert(key.clone(), t, size);
                        Incoming::NewServer(key)
                    }
                    Err(_) => Incoming::Invalid,
                }
            }
        }
    }

    /// Start a client transaction sending `request` to `dest`. A request whose top Via
    /// names a connection-oriented transport (TCP, TLS) is sent as `reliable` whatever the
    /// caller says: no retransmissions (§17.1.1.2).
    pub fn send_request(
        &mut self,
        request: SipMessage,
        dest: SocketAddr,
        reliable: bool,
        now: Instant,
    ) -> Result<TransactionKey, TxError> {
        let reliable = reliable
            || request
                .top_via()
                .is_some_and(|v| matches!(v.transport.as_str(), "TCP" | "TLS"));
        let key = TransactionKey::of(&request, Role::Client).ok_or(TxError::NoKey)?;
        if self.txs.contains_key(&key) {
            return Err(TxError::Exists);
        }
        if self.full() {
            return Err(TxError::Full);
        }
        let size = message_bytes(&request);
        let t = Transaction::client(request, dest, reliable, self.cfg, now)?;
        self.insert(key.clone(), t, size);
        Ok(key)
    }

    /// Whether a server transaction `key` exists, live or finished.
    fn has_server(&self, key: &TransactionKey) -> bool {
        self.txs.contains_key(key) || self.finished.contains_key(&self.hash(key))
    }

    /// The key of the server transaction an incoming request belongs to, if it exists
    /// (live or finished).
    pub fn get_server_key(&self, req: &SipMessage) -> Option<TransactionKey> {
        let key = TransactionKey::of(req, Role::Server)?;
        self.has_server(&key).then_some(key)
    }

    /// The TU answers the server transaction `key`.
    pub fn send_response(
        &mut self,
        key: &TransactionKey,
        resp: SipMessage,
        now: Instant,
    ) -> Result<(), TxError> {
        let s = self.txs.get_mut(key).ok_or(TxError::NoSuchTransaction)?;
        // The transaction keeps the last response (to answer retransmissions).
        let size = message_bytes(&resp);
        self.bytes = self.bytes - s.resp_bytes + size;
        s.resp_bytes = size;
        let r = s.tx.send_response(resp, now);
        self.drain(key);
        r
    }

    /// The connection to `dest` could not be opened or was lost: every live client
    /// transaction sending there gets [`TxEvent::TransportError`] (§17.1.4).
    pub fn transport_failed_to(&mut self, dest: SocketAddr, now: Instant) {
        let keys: Vec<TransactionKey> = self
            .txs
            .iter()
            .filter(|(k, s)| k.role == Role::Client && s.tx.peer() == dest && !s.tx.is_terminated())
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.transport_error(&k, now);
        }
    }

    /// The transport failed to send for `key`.
    pub fn transport_error(&mut self, key: &TransactionKey, now: Instant) {
        if let Some(s) = self.txs.get_mut(key) {
            s.tx.handle_transport_error(now);
        }
        self.drain(key);
    }

    /// For an incoming CANCEL, the INVITE server transaction it cancels, if still present.
    pub fn find_cancelled_invite(&self, cancel: &SipMessage) -> Option<TransactionKey> {
        if cancel.method() != Some(&Method::Cancel) {
            return None;
        }
        let key = TransactionKey::of(cancel, Role::Server)?.cancelled_invite()?;
        self.has_server(&key).then_some(key)
    }
}

#[cfg(test)]
mod tests;
