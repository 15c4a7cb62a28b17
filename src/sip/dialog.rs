//! SIP dialogs (RFC 3261 §12) as pure state: no sockets, no clock, no randomness.
//!
//! ferrisk is a B2BUA: every call is two dialogs (one where ferrisk is UAS towards the caller,
//! one where it is UAC towards the callee) joined by the dialplan. This module keeps the
//! dialog state of one side and builds the messages that belong to it; transactions
//! ([`crate::sip::transaction`]) carry them, and session decisions (session timers, hold,
//! media) live above.
//!
//! * [`DialogId`] is Call-ID + local tag + remote tag (§12).
//! * [`Dialog::uas_from_request`] creates the UAS side from an INVITE (§12.1.1): route set =
//!   Record-Route **as received**, remote target = the Contact, remote CSeq = the INVITE's.
//!   [`Dialog::response_for`] builds its responses: To-tag on everything above 100, Contact and
//!   copied Record-Route on dialog-creating / target-refresh responses (1xx above 100 and 2xx to
//!   INVITE, UPDATE, SUBSCRIBE); a 2xx to INVITE confirms an early dialog, a final error to the
//!   initial INVITE terminates it.
//! * [`Dialog::uac_from_response`] creates the UAC side from a 1xx carrying a To-tag (Early) or a
//!   2xx (Confirmed) (§12.1.2): route set = Record-Route **reversed**, remote target = the
//!   response's Contact. [`Dialog::receive_response`] moves Early → Confirmed on a 2xx (route set
//!   recomputed from it, §12.2.1.2), refreshes the target, and terminates on 481/408 or a final
//!   error to the initial INVITE. A 2xx with a *different* To-tag is another dialog (forking,
//!   §12.2.1.2 / §13.2.2.4): see [`Dialog::is_fork`] and [`DialogSet::is_new_fork`]. The TU
//!   ACKs every 2xx and, as a B2BUA bridging one callee, sends BYE on the forks it does not keep.
//! * [`Dialog::request`] builds in-dialog requests (§12.2.1.1): Request-URI = remote target,
//!   Route = route set, From/To with tags, Call-ID, incremented local CSeq, `Max-Forwards: 70`,
//!   a Via whose branch the caller passes in (no randomness here), and Contact on
//!   target-refresh methods. [`Dialog::ack`] builds the ACK for a 2xx (CSeq number of the
//!   INVITE, method ACK, new branch); [`cancel`] builds a CANCEL from the original INVITE (§9.1:
//!   same Request-URI, top Via with the same branch, Route, From, To, Call-ID, CSeq number).
//! * [`Dialog::receive_request`] applies §12.2.2 to an incoming in-dialog request: a CSeq lower
//!   than the remote CSeq is answered `500` ([`RequestCheck::Reject`]), INVITE / UPDATE with a
//!   Contact refresh the remote target, BYE terminates.
//! * [`DialogSet`] is a small map from [`DialogId`] to [`Dialog`] that matches incoming requests
//!   (To-tag = local, From-tag = remote) and responses (From-tag = local, To-tag = remote).
//!
//! Routing: ferrisk supports **loose routing** (RFC 3261 `;lr`) only. When the first entry of
//! the route set has `;lr` (or the set is empty) the Request-URI is the remote target and the
//! route set goes in Route headers, as everyone does today. For an RFC 2543 strict router (first
//! route without `;lr`) the outgoing request is still built as §12.2.1.1 asks (Request-URI = that
//! route, remaining routes + remote target as Route), but nothing else is done for strict
//! routing: incoming strict-routed requests (§16.4 Request-URI recovery) are not handled.
//!
//! Simplifications, documented rather than hidden: the `secure` flag is set when the INVITE's
//! Request-URI is `sips:` (the transport is not known here); the local CSeq of a UAS dialog
//! starts at 1 (§8.1.1.5 only asks for a value below 2³¹, uniqueness comes from the tags); the
//! remote target is refreshed when a re-INVITE or UPDATE *arrives*, not only once it succeeds
//! (RFC 6141 nuance); RFC 2543 peers without tags are rejected ([`DialogError::MissingTag`]).

use std::collections::HashMap;

use crate::sip::message::{Contacts, Headers, Method, SipMessage};
use crate::sip::uri::{NameAddr, Scheme, SipUri};

/// Identifies a dialog (§12): Call-ID and the two tags, seen from this side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog an incoming request belongs to (we are the UAS of that request): local tag =
    /// To-tag, remote tag = From-tag. `None` without Call-ID, From-tag or To-tag.
    pub fn of_incoming_request(req: &SipMessage) -> Option<DialogId> {
        Some(DialogId {
            call_id: req.call_id()?.to_owned(),
            local_tag: req.to()?.tag()?.to_owned(),
            remote_tag: req.from()?.tag()?.to_owned(),
        })
    }

    /// The dialog an incoming response belongs to (we sent the request): local tag = From-tag,
    /// remote tag = To-tag.
    pub fn of_incoming_response(resp: &SipMessage) -> Option<DialogId> {
        Some(DialogId {
            call_id: resp.call_id()?.to_owned(),
            local_tag: resp.from()?.tag()?.to_owned(),
            remote_tag: resp.to()?.tag()?.to_owned(),
        })
    }
}

/// Dialog state (§12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// Why a dialog could not be created or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("not an INVITE request")]
    NotInvite,
    #[error("response cannot create a dialog")]
    NotDialogCreating,
    #[error("missing or unparseable {0}")]
    MissingHeader(&'static str),
    #[error("missing {0} tag")]
    MissingTag(&'static str),
    #[error("message does not belong to this dialog")]
    WrongDialog,
}

/// Outcome of [`Dialog::receive_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestCheck {
    /// Process the request.
    Accept,
    /// Answer with this status and reason, do not process (e.g. `500` for an out-of-order CSeq).
    Reject(u16, &'static str),
}

/// One dialog (one side of a call, seen from ferrisk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// True if ferrisk sent the dialog-creating INVITE.
    pub is_uac: bool,
    /// Local URI (From of our requests), without tag.
    pub local_uri: NameAddr,
    /// Remote URI (To of our requests), without tag.
    pub remote_uri: NameAddr,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: SipUri,
    /// Route set in the order of the Route headers we send.
    pub route_set: Vec<NameAddr>,
    /// Last CSeq number we used.
    pub local_cseq: u32,
    /// Highest CSeq number received from the peer, if any.
    pub remote_cseq: Option<u32>,
    /// `sips:` dialog.
    pub secure: bool,
    /// Our Contact, sent in target-refresh requests and dialog-creating responses.
    pub local_contact: NameAddr,
    /// `SIP/2.0/<TRANSPORT> <sent-by>` of our Via (the branch is added per request).
    pub via_base: String,
    /// CSeq number of the last INVITE we sent (for the ACK of its 2xx).
    pub invite_cseq: Option<u32>,
    /// CSeq number of the INVITE that created the dialog.
    pub initial_cseq: u32,
}

fn without_tag(mut na: NameAddr) -> NameAddr {
    na.params.retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
    na
}

fn with_tag(na: &NameAddr, tag: &str) -> String {
    let mut na = na.clone();
    na.params.push(("tag".to_owned(), Some(tag.to_owned())));
    na.to_string()
}

fn first_contact(msg: &SipMessage) -> Option<NameAddr> {
    match msg.contacts()? {
        Contacts::List(l) => l.into_iter().next(),
        Contacts::Wildcard => None,
    }
}

/// `SIP/2.0/<TRANSPORT> host:port` for a Via built from our Contact URI.
fn via_base_from_contact(uri: &SipUri) -> String {
    let transport = match uri.transport() {
        Some(t) => t.to_ascii_uppercase(),
        None if uri.scheme == Scheme::Sips => "TLS".to_owned(),
        None => "UDP".to_owned(),
    };
    format!("SIP/2.0/{transport} {}", uri.host_port())
}

/// Methods whose requests and 1xx/2xx responses carry Contact and refresh the target (the ones
/// ferrisk uses; §12.2, RFC 3311, RFC 6665).
fn is_target_refresh(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

impl Dialog {
    /// The UAS side of a dialog created by the incoming `invite` (§12.1.1) or SUBSCRIBE
    /// (RFC 6665). The dialog starts Early; [`Dialog::response_for`] with a 2xx confirms it.
    /// `local_tag` is the To-tag ferrisk puts in its responses.
    pub fn uas_from_request(
        invite: &SipMessage,
        local_tag: &str,
        local_contact: NameAddr,
    ) -> Result<Dialog, DialogError> {
        let SipMessage::Request { method, uri, .. } = invite else {
            return Err(DialogError::NotInvite);
        };
        // A SUBSCRIBE creates a dialog the same way (RFC 6665 §4.2.1).
        if *method != Method::Invite && *method != Method::Subscribe {
            return Err(DialogError::NotInvite);
        }
        let call_id = invite
            .call_id()
            .ok_or(DialogError::MissingHeader("Call-ID"))?;
        let from = invite.from().ok_or(DialogError::MissingHeader("From"))?;
        let to = invite.to().ok_or(DialogError::MissingHeader("To"))?;
        let remote_tag = from
            .tag()
            .ok_or(DialogError::MissingTag("From"))?
            .to_owned();
        let (cseq, _) = invite.cseq().ok_or(DialogError::MissingHeader("CSeq"))?;
        let contact = first_contact(invite).ok_or(DialogError::MissingHeader("Contact"))?;
        let route_set = invite
            .routes("Record-Route")
            .ok_or(DialogError::MissingHeader("Record-Route"))?;
        let via_base = via_base_from_contact(&local_contact.uri);
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag,
            },
            state: DialogState::Early,
            is_uac: false,
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact.uri,
            route_set,
            local_cseq: 0,
            remote_cseq: Some(cseq),
            secure: uri.scheme == Scheme::Sips,
            local_contact,
            via_base,
            invite_cseq: None,
            initial_cseq: cseq,
        })
    }

    /// The UAC side of a dialog created by `response` to our `invite_sent` (§12.1.2): a 101–199
    /// with a To-tag gives an Early dialog, a 2xx a Confirmed one. Route set = Record-Route of
    /// the response, reversed. A 1xx without Contact falls back to the INVITE's Request-URI as
    /// remote target (common in the wild); a 2xx must have one.
    pub fn uac_from_response(
        invite_sent: &SipMessage,
        response: &SipMessage,
    ) -> Result<Dialog, DialogError> {
        let SipMessage::Request {
            method,
            uri: ruri,
            headers,
            ..
        } = invite_sent
        else {
            return Err(DialogError::NotInvite);
        };
        if *method != Method::Invite {
            return Err(DialogError::NotInvite);
        }
        let SipMessage::Response { code, .. } = response else {
            return Err(DialogError::NotDialogCreating);
        };
        let state = match code {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NotDialogCreating),
        };
        let call_id = invite_sent
            .call_id()
            .ok_or(DialogError::MissingHeader("Call-ID"))?;
        if response.call_id() != Some(call_id) {
            return Err(DialogError::WrongDialog);
        }
        let from = invite_sent
            .from()
            .ok_or(DialogError::MissingHeader("From"))?;
        let local_tag = from
            .tag()
            .ok_or(DialogError::MissingTag("From"))?
            .to_owned();
        let to = response.to().ok_or(DialogError::MissingHeader("To"))?;
        let remote_tag = to.tag().ok_or(DialogError::MissingTag("To"))?.to_owned();
        let (cseq, _) = invite_sent
            .cseq()
            .ok_or(DialogError::MissingHeader("CSeq"))?;
        let remote_target = match first_contact(response) {
            Some(c) => c.uri,
            None if state == DialogState::Early => ruri.clone(),
            None => return Err(DialogError::MissingHeader("Contact")),
        };
        let mut route_set = response
            .routes("Record-Route")
            .ok_or(DialogError::MissingHeader("Record-Route"))?;
        route_set.reverse();
        let local_contact =
            first_contact(invite_sent).ok_or(DialogError::MissingHeader("Contact"))?;
        let via_base = match headers.elements("Via").first() {
            Some(v) => v.split(';').next().unwrap_or(v).trim().to_owned(),
            None => via_base_from_contact(&local_contact.uri),
        };
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_owned(),
                local_tag,
                remote_tag,
            },
            state,
            is_uac: true,
            local_uri: without_tag(from),
            remote_uri: without_tag(to),
            remote_target,
            route_set,
            local_cseq: cseq,
            remote_cseq: None,
            secure: ruri.scheme == Scheme::Sips,
            local_contact,
            via_base,
            invite_cseq: Some(cseq),
            initial_cseq: cseq,
        })
    }

    /// True if `response` is a dialog-creating response (101–299 with a To-tag) to the same
    /// INVITE (Call-ID and local tag) but with a different To-tag: a forked branch, which is a
    /// separate dialog (create it with [`Dialog::uac_from_response`]).
    pub fn is_fork(&self, response: &SipMessage) -> bool {
        let SipMessage::Response { code, .. } = response else {
            return false;
        };
        if !(101..300).contains(code) {
            return false;
        }
        match DialogId::of_incoming_response(response) {
            Some(id) => {
                id.call_id == self.id.call_id
                    && id.local_tag == self.id.local_tag
                    && id.remote_tag != self.id.remote_tag
            }
            None => false,
        }
    }

    /// Apply a response to a request we sent in (or to create) this dialog (UAC side):
    /// 1xx/2xx to INVITE or UPDATE with a Contact refresh the remote target; a 2xx to the
    /// INVITE confirms an Early dialog and recomputes its route set (§12.2.1.2); a final error
    /// to the initial INVITE of an Early dialog, or 481 / 408 to any request, terminates it.
    pub fn receive_response(&mut self, response: &SipMessage) -> Result<(), DialogError> {
        let SipMessage::Response { code, .. } = response else {
            return Err(DialogError::WrongDialog);
        };
        let code = *code;
        if DialogId::of_incoming_response(response).as_ref() != Some(&self.id) {
            // A final error to the initial INVITE may carry another (or no) To-tag.
            if self.state == DialogState::Early && code >= 300 && self.is_initial_invite(response) {
                self.state = DialogState::Terminated;
                return Ok(());
            }
            return Err(DialogError::WrongDialog);
        }
        let Some((_, method)) = response.cseq() else {
            return Err(DialogError::MissingHeader("CSeq"));
        };
        if code == 481 || code == 408 {
            self.state = DialogState::Terminated;
            return Ok(());
        }
        if code >= 300 {
            if self.state == DialogState::Early && self.is_initial_invite(response) {
                self.state = DialogState::Terminated;
            }
            return Ok(());
        }
        if code > 100 && is_target_refresh(&method) {
            if let Some(c) = first_contact(response) {
                self.remote_target = c.uri;
            }
        }
        if (200..300).contains(&code)
            && method == Method::Invite
            && self.state == DialogState::Early
        {
            self.state = DialogState::Confirmed;
            let mut rs = response
                .routes("Record-Route")
                .ok_or(DialogError::MissingHeader("Record-Route"))?;
            rs.reverse();
            self.route_set = rs;
        }
        Ok(())
    }

    fn is_initial_invite(&self, msg: &SipMessage) -> bool {
        msg.call_id() == Some(self.id.call_id.as_str())
            && msg.cseq() == Some((self.initial_cseq, Method::Invite))
    }

    /// Check and apply an incoming in-dialog request (§12.2.2). A CSeq lower than the remote
    /// CSeq → `Reject(500)`, any request but ACK / CANCEL in a terminated dialog → `Reject(481)`;
    /// otherwise the remote CSeq is raised, INVITE / UPDATE (and the other
    /// target-refresh methods) with a Contact refresh the remote target, and BYE terminates the
    /// dialog. ACK and CANCEL reuse the INVITE's CSeq and are not checked.
    pub fn receive_request(&mut self, req: &SipMessage) -> RequestCheck {
        let Some(method) = req.method() else {
            return RequestCheck::Reject(400, "Bad Request");
        };
        let Some((seq, _)) = req.cseq() else {
            return RequestCheck::Reject(400, "Bad CSeq");
        };
        if matches!(method, Method::Ack | Method::Cancel) {
            return RequestCheck::Accept;
        }
        if self.state == DialogState::Terminated {
            return RequestCheck::Reject(481, "Call/Transaction Does Not Exist");
        }
        if let Some(r) = self.remote_cseq {
            if seq < r {
                return RequestCheck::Reject(500, "Server Internal Error");
            }
        }
        self.remote_cseq = Some(seq);
        if is_target_refresh(method) {
            if let Some(c) = first_contact(req) {
                self.remote_target = c.uri;
            }
        }
        if *method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        RequestCheck::Accept
    }

    /// Request-URI and Route headers per §12.2.1.1.
    fn target_and_routes(&self) -> (SipUri, Vec<String>) {
        match self.route_set.first() {
            Some(first) if first.uri.param("lr").is_none() => {
                // Strict router: it becomes the Request-URI, the target goes last in Route.
                let mut ruri = first.uri.clone();
                ruri.params.retain(|(n, _)| {
                    !(n.eq_ignore_ascii_case("method")
                        || n.eq_ignore_ascii_case("maddr")
                        || n.eq_ignore_ascii_case("ttl")
                        || n.eq_ignore_ascii_case("transport")
                        || n.eq_ignore_ascii_case("lr"))
                });
                ruri.headers.clear();
                let mut routes: Vec<String> =
                    self.route_set[1..].iter().map(|r| r.to_string()).collect();
                routes.push(NameAddr::new(self.remote_target.clone()).to_string());
                (ruri, routes)
            }
            _ => (
                self.remote_target.clone(),
                self.route_set.iter().map(|r| r.to_string()).collect(),
            ),
        }
    }

    fn build(&self, method: Method, seq: u32, branch: &str) -> SipMessage {
        let (uri, routes) = self.target_and_routes();
        let mut h = Headers(Vec::with_capacity(10));
        h.push("Via", format!("{};branch={branch}", self.via_base));
        h.push("Max-Forwards", "70");
        for r in routes {
            h.push("Route", r);
        }
        h.push("From", with_tag(&self.local_uri, &self.id.local_tag));
        h.push("To", with_tag(&self.remote_uri, &self.id.remote_tag));
        h.push("Call-ID", self.id.call_id.clone());
        h.push("CSeq", format!("{seq} {}", method.as_str()));
        if is_target_refresh(&method) {
            h.push("Contact", self.local_contact.to_string());
        }
        h.push("Content-Length", "0");
        SipMessage::Request {
            method,
            uri,
            headers: h,
            body: Vec::new(),
        }
    }

    /// A new in-dialog request (§12.2.1.1) with the next local CSeq and a Via with `branch`
    /// (the caller generates it, `z9hG4bK…`). An INVITE is remembered for [`Dialog::ack`];
    /// a BYE terminates the dialog. For ACK of a 2xx use [`Dialog::ack`], for CANCEL
    /// [`cancel`]: both reuse a CSeq number instead of taking a new one.
    pub fn request(&mut self, method: Method, branch: &str) -> SipMessage {
        self.local_cseq = self.local_cseq.wrapping_add(1) & 0x7fff_ffff;
        let seq = self.local_cseq;
        if method == Method::Invite {
            self.invite_cseq = Some(seq);
        }
        if method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        self.build(method, seq, branch)
    }

    /// A BYE (terminates the dialog).
    pub fn bye(&mut self, branch: &str) -> SipMessage {
        self.request(Method::Bye, branch)
    }

    /// A re-INVITE carrying `body` of `content_type` (usually an SDP offer).
    pub fn reinvite(&mut self, branch: &str, content_type: &str, body: Vec<u8>) -> SipMessage {
        let mut m = self.request(Method::Invite, branch);
        if !body.is_empty() {
            m.headers_mut().push("Content-Type", content_type);
        }
        m.set_body(body);
        m
    }

    /// The ACK for a 2xx to our last INVITE (§13.2.2.4): CSeq number of that INVITE with method
    /// ACK, its own `branch` (a new transaction), optional body (an SDP answer for an offerless
    /// INVITE). `None` if we never sent an INVITE in this dialog.
    pub fn ack(&self, branch: &str, body: Option<(&str, Vec<u8>)>) -> Option<SipMessage> {
        let seq = self.invite_cseq?;
        let mut m = self.build(Method::Ack, seq, branch);
        if let Some((ct, b)) = body {
            m.headers_mut().push("Content-Type", ct);
            m.set_body(b);
        }
        Some(m)
    }

    /// A response to `req` (a request in, or creating, this dialog; we are its UAS), per §8.2.6
    /// and §12.1.1: our tag in To for codes above 100, and on 1xx (>100) and 2xx to
    /// target-refresh methods the Record-Route of the request copied and a Contact (`contact`,
    /// or the dialog's local one). `body` is `(content type, bytes)`. A 2xx to INVITE confirms an
    /// Early dialog; a final error to the initial INVITE terminates it. `None` if `req` is a
    /// response.
    pub fn response_for(
        &mut self,
        req: &SipMessage,
        code: u16,
        reason: &str,
        contact: Option<&NameAddr>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Option<SipMessage> {
        let method = req.method()?.clone();
        let tag = (code > 100).then_some(self.id.local_tag.as_str());
        let mut resp = crate::sip::message::response_to(req, code, reason, tag)?;
        if code > 100 && code < 300 && is_target_refresh(&method) {
            let h = resp.headers_mut();
            if method == Method::Invite || method == Method::Subscribe {
                for rr in req.headers().get_all("Record-Route") {
                    h.push("Record-Route", rr);
                }
            }
            let c = contact.unwrap_or(&self.local_contact);
            h.push("Contact", c.to_string());
        }
        if let Some((ct, b)) = body {
            resp.headers_mut().push("Content-Type", ct);
            resp.set_body(b);
        }
        if method == Method::Invite && self.state == DialogState::Early {
            if (200..300).contains(&code) {
                self.state = DialogState::Confirmed;
            } else if code >= 300 && self.is_initial_invite(req) {
                self.state = DialogState::Terminated;
            }
        }
        Some(resp)
    }
}

/// A CANCEL for our `invite` (§9.1): same Request-URI, Call-ID, From, To (as sent, no tag),
/// Route headers, top Via (same branch) and CSeq number, method CANCEL. `None` if `invite` is
/// not an INVITE request or lacks the headers.
pub fn cancel(invite: &SipMessage) -> Option<SipMessage> {
    let SipMessage::Request {
        method: Method::Invite,
        uri,
        headers: ih,
        ..
    } = invite
    else {
        return None;
    };
    let (seq, _) = invite.cseq()?;
    let mut h = Headers(Vec::with_capacity(8));
    h.push("Via", *ih.elements("Via").first()?);
    h.push("Max-Forwards", "70");
    for r in ih.get_all("Route") {
        h.push("Route", r);
    }
    h.push("From", ih.get("From")?);
    h.push("To", ih.get("To")?);
    h.push("Call-ID", ih.get("Call-ID")?);
    h.push("CSeq", format!("{seq} CANCEL"));
    h.push("Content-Length", "0");
    Some(SipMessage::Request {
        method: Method::Cancel,
        uri: uri.clone(),
        headers: h,
        body: Vec::new(),
    })
}

/// The dialogs of one endpoint, by [`DialogId`].
#[derive(Debug, Clone, Default)]
pub struct DialogSet {
    dialogs: HashMap<DialogId, Dialog>,
}

/// What [`DialogSet::handle_uac_response`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UacUpdate {
    /// A new dialog (the first one for this INVITE).
    Created(DialogId),
    /// A new dialog for an INVITE that already has one: a forked branch.
    Forked(DialogId),
    /// An existing dialog was updated.
    Updated(DialogId),
    /// The response creates nothing (100, or no To-tag) and matches no dialog.
    Ignored,
}

impl DialogSet {
    pub fn new() -> DialogSet {
        DialogSet::default()
    }

    pub fn len(&self) -> usize {
        self.dialogs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dialogs.is_empty()
    }

    /// Add (or replace) a dialog; returns the one it replaced.
    pub fn insert(&mut self, d: Dialog) -> Option<Dialog> {
        self.dialogs.insert(d.id.clone(), d)
    }

    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.dialogs.get(id)
    }

    pub fn get_mut(&mut self, id: &DialogId) -> Option<&mut Dialog> {
        self.dialogs.get_mut(id)
    }

    pub fn remove(&mut self, id: &DialogId) -> Option<Dialog> {
        self.dialogs.remove(id)
    }

    /// The dialog an incoming in-dialog request belongs to (Call-ID, To-tag = local tag,
    /// From-tag = remote tag). `None` for an out-of-dialog request or an unknown dialog (answer
    /// 481 if the request has a To-tag).
    pub fn match_request(&mut self, req: &SipMessage) -> Option<&mut Dialog> {
        let id = DialogId::of_incoming_request(req)?;
        self.dialogs.get_mut(&id)
    }

    /// The dialog an incoming response belongs to (Call-ID, From-tag = local, To-tag = remote).
    pub fn match_response(&mut self, resp: &SipMessage) -> Option<&mut Dialog> {
        let id = DialogId::of_incoming_response(resp)?;
        self.dialogs.get_mut(&id)
    }

    /// True if `response` would create a dialog (101–299 with a To-tag) for an INVITE that
    /// already has a dialog here (same Call-ID and local tag) but none with this To-tag.
    pub fn is_new_fork(&self, response: &SipMessage) -> bool {
        let Some(id) = DialogId::of_incoming_response(response) else {
            return false;
        };
        if self.dialogs.contains_key(&id) {
            return false;
        }
        self.dialogs.values().any(|d| d.is_fork(response))
    }

    /// Apply a response to our `invite_sent` (UAC): update the matching dialog, or create one
    /// (first or forked) if the response can create a dialog.
    pub fn handle_uac_response(
        &mut self,
        invite_sent: &SipMessage,
        response: &SipMessage,
    ) -> Result<UacUpdate, DialogError> {
        if let Some(d) = self.match_response(response) {
            d.receive_response(response)?;
            return Ok(UacUpdate::Updated(d.id.clone()));
        }
        let code = match response {
            SipMessage::Response { code, .. } => *code,
            SipMessage::Request { .. } => return Err(DialogError::NotDialogCreating),
        };
        let has_tag = response.to().is_some_and(|t| t.tag().is_some());
        if !(101..300).contains(&code) || !has_tag {
            if code >= 300 {
                // A final error ends every early dialog of this INVITE.
                let call_id = response.call_id();
                let local = response.from().and_then(|f| f.tag().map(str::to_owned));
                for d in self.dialogs.values_mut() {
                    if Some(d.id.call_id.as_str()) == call_id
                        && local.as_deref() == Some(d.id.local_tag.as_str())
                    {
                        let _ = d.receive_response(response);
                    }
                }
            }
            return Ok(UacUpdate::Ignored);
        }
        let forked = self.is_new_fork(response);
        let d = Dialog::uac_from_response(invite_sent, response)?;
        let id = d.id.clone();
        self.insert(d);
        Ok(if forked {
            UacUpdate::Forked(id)
        } else {
            UacUpdate::Created(id)
        })
    }

    /// Drop terminated dialogs.
    pub fn purge_terminated(&mut self) {
        self.dialogs
            .retain(|_, d| d.state != DialogState::Terminated);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.dialogs.values()
    }
}

#[cfg(test)]
mod tests;
