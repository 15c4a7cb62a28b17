//! Message-waiting indication as chan_sip does it: `SUBSCRIBE` to `Event: message-summary`
//! (a dialog with its own expiry) and the NOTIFYs carrying a peer's voicemail counts, either
//! in its subscriptions or, without one, unsolicited to every registered contact.
//!
//! The core never reads the voicemail store: when counts are needed (a REGISTER, a SUBSCRIBE,
//! a refresh, an unsubscribe, an expiry, a change reported by voicemail) it queues
//! [`Action::MwiRefresh`]; the driver reads the counts of the peer's mailboxes and calls
//! [`Core::send_mwi`]. NOTIFYs are client transactions (retransmitted over UDP until a final
//! response); a 481 or no answer ends the subscription.

use super::mwi_db::{sub_family, sub_key};
use super::{unix_now, Action, Core, Owner};
use crate::channels::sip::util::{self, host_str, new_branch, new_tag};
use crate::channels::sipconf::{Host, Peer};
use crate::pbx::mwi::MwiState;
use crate::sip::dialog::{Dialog, DialogState, RequestCheck};
use crate::sip::message::{response_to, Method, SipMessage};
use crate::sip::transaction::TransactionKey;
use crate::sip::uri::NameAddr;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// RFC 3842 §4: subscriptions without Expires last an hour.
pub const DEFAULT_SUB_EXPIRY: u32 = 3600;
/// How far a restored subscription's CSeq skips ahead (NOTIFYs sent after the last
/// write reached AstDB, before a crash).
pub const RESTORE_CSEQ_GAP: u32 = 100;
/// How long a subscription that ended waits for its final counts before it is dropped.
const FINAL_NOTIFY_GRACE: Duration = Duration::from_secs(32);

/// Where [`Core::send_mwi`] sends the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MwiTarget {
    /// Everywhere the peer listens: its active subscriptions or, without one (and unless
    /// `subscribemwi=yes`), every registered contact / its configured host.
    Peer,
    /// One subscription, by Call-ID (its first NOTIFY, a refresh, the final one).
    Sub(String),
}

/// One `message-summary` subscription (we are the notifier).
#[derive(Debug)]
pub struct MwiSub {
    pub peer: String,
    pub dialog: Dialog,
    /// Where NOTIFYs go: the address the SUBSCRIBE came from (NAT-safe).
    pub dest: SocketAddr,
    pub expires: u32,
    pub expires_at: Instant,
    /// The Request-URI user of the SUBSCRIBE (`sip show subscriptions` Extension).
    pub exten: String,
    /// `Some(reason)` once unsubscribed (`""`) or expired (`"timeout"`): the next NOTIFY is
    /// the final one (`Subscription-State: terminated`).
    pub ending: Option<&'static str>,
}

/// The summed counts of a peer's mailboxes.
fn sum(states: &[MwiState]) -> MwiState {
    let mut s = MwiState::default();
    for st in states {
        s.new += st.new;
        s.old += st.old;
        s.urgent_new += st.urgent_new;
        s.urgent_old += st.urgent_old;
    }
    s
}

impl Core {
    /// Voicemail reports `s` changed: every peer listing that mailbox (and able to hear it)
    /// gets fresh counts.
    pub fn mwi_changed(&mut self, s: &MwiState, now: Instant) {
        self.mwi_refresh_peers(
            |m| {
                m.mailbox.eq_ignore_ascii_case(&s.mailbox)
                    && m.context.eq_ignore_ascii_case(&s.context)
            },
            now,
        );
    }

    /// Changes were missed (the change feed overflowed): refresh every peer with a mailbox.
    pub fn mwi_changed_all(&mut self, now: Instant) {
        self.mwi_refresh_peers(|_| true, now);
    }

    /// Queue a refresh for every reachable (or subscribed) peer listing a mailbox that
    /// `wanted` accepts.
    fn mwi_refresh_peers(
        &mut self,
        wanted: impl Fn(&crate::channels::sipconf::Mailbox) -> bool,
        now: Instant,
    ) {
        let cfg = self.cfg.clone();
        for p in cfg.peers.values() {
            if !p.mailboxes.iter().any(&wanted) {
                continue;
            }
            let subscribed = self.mwi_subs.values().any(|x| x.peer == p.name);
            let reachable =
                p.host != Host::Dynamic || !self.registrar.contacts(&p.name, now).is_empty();
            if subscribed || (reachable && !p.subscribemwi) {
                self.actions
                    .push(Action::MwiRefresh(p.name.clone(), MwiTarget::Peer));
            }
        }
    }

    /// Send the counts `states` (one per mailbox of `peer`, summed) to `target`.
    pub fn send_mwi(&mut self, peer: &str, target: &MwiTarget, states: &[MwiState], now: Instant) {
        let Some(p) = self.cfg.peer(peer).cloned() else {
            return;
        };
        let counts = sum(states);
        {
            let rt = self.peers_rt.entry(p.name.clone()).or_default();
            rt.last_msgs = (counts.new, counts.old);
        }
        match target {
            MwiTarget::Sub(call_id) => self.notify_sub(call_id, &p, &counts, now),
            MwiTarget::Peer => {
                let subs: Vec<String> = self
                    .mwi_subs
                    .iter()
                    .filter(|(_, s)| s.peer == p.name && s.ending.is_none())
                    .map(|(k, _)| k.clone())
                    .collect();
                if !subs.is_empty() {
                    for call_id in subs {
                        self.notify_sub(&call_id, &p, &counts, now);
                    }
                } else if !p.subscribemwi {
                    self.notify_unsolicited(&p, &counts, now);
                }
            }
        }
    }

    /// `sip:<vmexten>@<fromdomain or our address>`, chan_sip's `Message-Account`.
    fn mwi_account(&mut self, p: &Peer, dest: SocketAddr) -> String {
        let host = match &p.fromdomain {
            Some(d) => d.clone(),
            None => host_str(self.local_ip_for(dest.ip())),
        };
        format!("sip:{}@{host}", p.vmexten)
    }

    fn mwi_headers(&self, m: &mut SipMessage, body: String) {
        let ua = self.useragent();
        let h = m.headers_mut();
        h.push("User-Agent", ua);
        h.push("Event", "message-summary");
        h.push("Content-Type", "application/simple-message-summary");
        m.set_body(body.into_bytes());
    }

    fn notify_sub(&mut self, call_id: &str, p: &Peer, counts: &MwiState, now: Instant) {
        let Some(dest) = self.mwi_subs.get(call_id).map(|s| s.dest) else {
            return;
        };
        let body = counts.message_summary(&self.mwi_account(p, dest));
        let Some(sub) = self.mwi_subs.get_mut(call_id) else {
            return;
        };
        let state = match sub.ending {
            // Rounded up: a NOTIFY right after the 200 repeats the Expires granted.
            None => format!(
                "active;expires={}",
                sub.expires_at
                    .saturating_duration_since(now)
                    .as_millis()
                    .div_ceil(1000)
            ),
            Some("") => "terminated".to_string(),
            Some(reason) => format!("terminated;reason={reason}"),
        };
        let ending = sub.ending.is_some();
        let mut m = sub.dialog.request(Method::Notify, &new_branch());
        m.headers_mut().push("Subscription-State", state);
        self.mwi_headers(&mut m, body);
        if ending {
            self.mwi_subs.remove(call_id);
        }
        // The stored dialog follows our CSeq, so a NOTIFY after a restart continues it.
        self.mwi_store(&p.name, call_id, now);
        if let Ok(k) = self.txs.send_request(m, dest, false, now) {
            let owner = (!ending).then(|| call_id.to_string());
            self.owners.insert(k, Owner::Mwi(owner));
        }
    }

    fn notify_unsolicited(&mut self, p: &Peer, counts: &MwiState, now: Instant) {
        let Ok(targets) = self.peer_targets(p, None, now) else {
            return;
        };
        for t in targets {
            let ip = self.local_ip_for(t.dest.ip());
            let body = counts.message_summary(&self.mwi_account(p, t.dest));
            let from = format!(
                "\"asterisk\" <sip:asterisk@{}>;tag={}",
                host_str(ip),
                new_tag()
            );
            let to = NameAddr::new(t.ruri.clone()).to_string();
            let call_id = util::new_call_id(&host_str(ip));
            let mut m = self.new_request(
                Method::Notify,
                t.ruri.clone(),
                t.dest.ip(),
                from,
                to,
                call_id,
                102,
            );
            let contact = self.contact_for("asterisk", t.dest.ip());
            m.headers_mut().push("Contact", contact.to_string());
            self.mwi_headers(&mut m, body);
            self.use_transport(&mut m, t.proto, t.dest.ip());
            if let Ok(k) = self.txs.send_request(m, t.dest, false, now) {
                self.owners.insert(k, Owner::Mwi(None));
            }
        }
    }

    /// A final response (or none) to one of our NOTIFYs.
    pub(super) fn mwi_notify_done(&mut self, sub: Option<&str>, code: Option<u16>) {
        let Some(call_id) = sub else {
            return;
        };
        // 481: the subscriber forgot the dialog; no answer at all: it is gone.
        if matches!(code, None | Some(481)) {
            if let Some(s) = self.mwi_subs.remove(call_id) {
                self.mwi_forget(&s.peer, call_id);
                self.verbose(
                    3,
                    format!("SIP MWI subscription of '{}' ended ({call_id})", s.peer),
                );
            }
        }
    }

    /// The Expires a SUBSCRIBE gets, or `None` after answering 423.
    fn sub_expiry(&mut self, key: &TransactionKey, req: &SipMessage, now: Instant) -> Option<u32> {
        let g = &self.cfg.general;
        let (min, max) = (g.subminexpiry, g.submaxexpiry.max(1));
        let asked = req.expires().unwrap_or(DEFAULT_SUB_EXPIRY);
        if asked == 0 {
            return Some(0);
        }
        if asked < min {
            if let Some(mut r) = response_to(req, 423, "Interval Too Brief", Some(&new_tag())) {
                r.headers_mut().push("Server", self.useragent());
                r.headers_mut().push("Min-Expires", min.to_string());
                self.respond(key, r, now);
            }
            return None;
        }
        Some(asked.min(max))
    }

    /// SUBSCRIBE: `message-summary` only; everything else is 489 Bad Event.
    pub(super) fn on_subscribe(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        src: SocketAddr,
        ruri: &str,
        now: Instant,
    ) {
        let event = req
            .header("Event")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if event != "message-summary" {
            if let Some(mut r) = response_to(req, 489, "Bad Event", Some(&new_tag())) {
                r.headers_mut().push("Server", self.useragent());
                r.headers_mut().push("Allow-Events", "message-summary");
                self.respond(key, r, now);
            }
            return;
        }
        if req.to().and_then(|t| t.tag().map(str::to_string)).is_some() {
            self.resubscribe(key, req, src, now);
            return;
        }
        let cfg = self.cfg.clone();
        if !cfg.general.allowsubscribe {
            self.reply(key, req, 403, "Forbidden (policy)", now);
            return;
        }
        let from_user = req
            .from()
            .and_then(|f| f.uri.user_decoded())
            .unwrap_or_default();
        let Some(peer) = cfg.peer(&from_user) else {
            if cfg.general.alwaysauthreject {
                self.refuse_unknown(key, req, ruri, src, now);
            } else {
                self.reply(key, req, 404, "Not found", now);
            }
            return;
        };
        if !peer.permits(src.ip()) || !peer.allowsubscribe {
            self.reply(key, req, 403, "Forbidden", now);
            return;
        }
        if Self::peer_needs_auth(peer)
            && self
                .authenticate(key, req, ruri, Some(&peer.name), src, now)
                .is_some()
        {
            return;
        }
        if peer.mailboxes.is_empty() {
            self.reply(key, req, 404, "Not found (no mailbox)", now);
            return;
        }
        let Some(expires) = self.sub_expiry(key, req, now) else {
            return;
        };
        let exten = match req {
            SipMessage::Request { uri, .. } => uri.user_decoded().unwrap_or_default(),
            SipMessage::Response { .. } => String::new(),
        };
        let contact_user = if exten.is_empty() { "asterisk" } else { &exten };
        let contact = self.contact_for(contact_user, src.ip());
        let tag = new_tag();
        let Ok(mut dialog) = Dialog::uas_from_request(req, &tag, contact) else {
            self.reply(key, req, 400, "Bad Request", now);
            return;
        };
        dialog.state = DialogState::Confirmed;
        let Some(mut r) = dialog.response_for(req, 200, "OK", None, None) else {
            return;
        };
        r.headers_mut().push("Server", self.useragent());
        r.headers_mut().push("Expires", expires.to_string());
        self.respond(key, r, now);
        let call_id = dialog.id.call_id.clone();
        let name = peer.name.clone();
        if expires > 0 {
            self.verbose(
                3,
                format!("SIP MWI subscription from '{name}' at {src} for {expires}s"),
            );
        }
        // At most `max_contacts_per_aor` subscriptions per peer: the oldest give way.
        let limit = (self.cfg.general.max_contacts_per_aor as usize).max(1);
        let mut mine: Vec<(Instant, String)> = self
            .mwi_subs
            .iter()
            .filter(|(k, s)| s.peer == name && **k != call_id)
            .map(|(k, s)| (s.expires_at, k.clone()))
            .collect();
        if mine.len() >= limit {
            mine.sort();
            let extra = mine.len() + 1 - limit;
            for (_, k) in mine.into_iter().take(extra) {
                self.mwi_subs.remove(&k);
                self.mwi_forget(&name, &k);
            }
        }
        self.mwi_subs.insert(
            call_id.clone(),
            MwiSub {
                peer: name.clone(),
                dialog,
                dest: src,
                expires,
                expires_at: now + Duration::from_secs(u64::from(expires)),
                exten,
                ending: (expires == 0).then_some(""),
            },
        );
        self.mwi_store(&name, &call_id, now);
        self.actions
            .push(Action::MwiRefresh(name, MwiTarget::Sub(call_id)));
    }

    /// A SUBSCRIBE inside a subscription: refresh, or `Expires: 0` to end it.
    fn resubscribe(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        src: SocketAddr,
        now: Instant,
    ) {
        let call_id = req.call_id().unwrap_or("").to_string();
        let to_tag = req.to().and_then(|t| t.tag().map(str::to_string));
        let from_tag = req.from().and_then(|t| t.tag().map(str::to_string));
        let ours = self.mwi_subs.get(&call_id).is_some_and(|s| {
            s.ending.is_none()
                && to_tag.as_deref() == Some(s.dialog.id.local_tag.as_str())
                && from_tag.as_deref() == Some(s.dialog.id.remote_tag.as_str())
        });
        if !ours {
            self.reply(key, req, 481, "Call/Transaction Does Not Exist", now);
            return;
        }
        let check = match self.mwi_subs.get_mut(&call_id) {
            Some(s) => s.dialog.receive_request(req),
            None => return,
        };
        if let RequestCheck::Reject(code, reason) = check {
            self.reply(key, req, code, reason, now);
            return;
        }
        let Some(expires) = self.sub_expiry(key, req, now) else {
            return;
        };
        let ua = self.useragent();
        let Some(sub) = self.mwi_subs.get_mut(&call_id) else {
            return;
        };
        sub.dest = src;
        sub.expires = expires;
        sub.expires_at = now + Duration::from_secs(u64::from(expires));
        if expires == 0 {
            sub.ending = Some("");
        }
        let Some(mut r) = sub.dialog.response_for(req, 200, "OK", None, None) else {
            return;
        };
        r.headers_mut().push("Server", ua);
        r.headers_mut().push("Expires", expires.to_string());
        let peer = sub.peer.clone();
        self.respond(key, r, now);
        self.mwi_store(&peer, &call_id, now);
        self.actions
            .push(Action::MwiRefresh(peer, MwiTarget::Sub(call_id)));
    }

    /// Once a second: subscriptions past their expiry get a final NOTIFY; ended ones whose
    /// final counts never came are dropped.
    pub(super) fn mwi_expire(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (k, s) in self.mwi_subs.iter_mut() {
            if s.ending.is_none() && s.expires_at <= now {
                s.ending = Some("timeout");
                due.push((s.peer.clone(), k.clone()));
            }
        }
        for (peer, call_id) in due {
            self.mwi_forget(&peer, &call_id);
            self.actions
                .push(Action::MwiRefresh(peer, MwiTarget::Sub(call_id)));
        }
        self.mwi_subs
            .retain(|_, s| s.ending.is_none() || now < s.expires_at + FINAL_NOTIFY_GRACE);
    }

    /// Write subscription `call_id` of `peer` to AstDB (its dialog as it stands now), or
    /// delete it there once it is gone or ending.
    fn mwi_store(&mut self, peer: &str, call_id: &str, now: Instant) {
        match self.mwi_subs.get(call_id) {
            Some(s) if s.ending.is_none() => {
                let v = s.to_db_value(now, unix_now());
                self.actions
                    .push(Action::DbPut(sub_family(peer), sub_key(call_id), v));
            }
            _ => self.mwi_forget(peer, call_id),
        }
    }

    /// Delete subscription `call_id` of `peer` from AstDB.
    fn mwi_forget(&mut self, peer: &str, call_id: &str) {
        self.actions
            .push(Action::DbDel(sub_family(peer), sub_key(call_id)));
    }

    /// A subscription read back from AstDB at start-up: kept if its peer still exists and
    /// may subscribe to a mailbox; `false` otherwise (the caller deletes the record). Its
    /// current counts follow with [`Core::mwi_refresh_subs`] once voicemail is loaded.
    pub fn restore_mwi_sub(&mut self, sub: MwiSub, now: Instant) -> bool {
        let ok = self.cfg.peer(&sub.peer).is_some_and(|p| {
            p.allowsubscribe && self.cfg.general.allowsubscribe && !p.mailboxes.is_empty()
        });
        if !ok || sub.expires_at <= now {
            return false;
        }
        let mut sub = sub;
        // The record of the last NOTIFY may not have reached the disk before the stop:
        // skip ahead so our CSeq still grows.
        sub.dialog.local_cseq =
            sub.dialog.local_cseq.saturating_add(RESTORE_CSEQ_GAP) & 0x7fff_ffff;
        self.mwi_subs.insert(sub.dialog.id.call_id.clone(), sub);
        true
    }

    /// Every active subscription gets its current counts (in its dialog).
    pub fn mwi_refresh_subs(&mut self) {
        for (call_id, s) in &self.mwi_subs {
            if s.ending.is_none() {
                self.actions.push(Action::MwiRefresh(
                    s.peer.clone(),
                    MwiTarget::Sub(call_id.clone()),
                ));
            }
        }
    }
}
