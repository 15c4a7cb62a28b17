//! Blind transfer by REFER (RFC 3515) from the far end of a call: `REFER` with
//! `Refer-To: <sip:exten@…>` in an answered dialog. As chan_sip does, ferrisk accepts it
//! (`202 Accepted`, `NOTIFY` with `SIP/2.0 100 Trying`), hands it to whoever holds the
//! channel in a bridge (`Dial()`), which sends the other party to `exten` in the
//! transferring channel's `TRANSFER_CONTEXT` or its peer's context, and reports the
//! outcome (`NOTIFY` with `SIP/2.0 200 OK`, or `503` when there was nobody to transfer).
//! Attended transfers (`Replaces`) are refused with `501`; `allowtransfer=no` with `603`.
//!
//! The other way, `Transfer(dest)` on an answered call sends the far end a REFER with
//! `Refer-To: <sip:dest@our-address>` and reports its outcome from the final sipfrag of
//! the NOTIFYs (or a refused REFER); a transfer done ends the call here.

use super::{Action, Core, LegState, Owner};
use crate::pbx::channel::{cause, ChanEvent, TransferResult, TransferTo};
use crate::sip::message::{Method, SipMessage};
use crate::sip::transaction::TransactionKey;
use crate::sip::uri::NameAddr;
use std::time::Instant;

impl Core {
    pub(super) fn on_refer(&mut self, key: &TransactionKey, req: &SipMessage, now: Instant) {
        let Some(call_id) = self.accept_in_dialog(key, req, "Call/Transaction Does Not Exist", now)
        else {
            return;
        };
        let Some(leg) = self.legs.get(&call_id) else {
            return;
        };
        let peer = leg.peer.as_deref().and_then(|p| self.cfg.peer(p));
        let allowed = peer.map_or(self.cfg.general.party.allowtransfer, |p| {
            p.party.allowtransfer
        });
        let context = peer.map_or_else(|| self.cfg.general.context.clone(), |p| p.context.clone());
        if !allowed {
            self.reply(key, req, 603, "Declined (policy)", now);
            return;
        }
        if leg.state != LegState::Up {
            self.reply(key, req, 603, "Declined", now);
            return;
        }
        let Some(target) = req
            .header("Refer-To")
            .and_then(|v| NameAddr::parse(v.trim()).ok())
        else {
            self.reply(
                key,
                req,
                400,
                "Bad Request (Refer-To missing or invalid)",
                now,
            );
            return;
        };
        if target
            .uri
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Replaces"))
        {
            self.actions.push(Action::Notice(format!(
                "chan_sip.c: Attended transfer (REFER with Replaces) of {call_id} is not supported"
            )));
            self.reply(key, req, 501, "Not Implemented (attended transfer)", now);
            return;
        }
        let Some(exten) = target.uri.user_decoded().filter(|u| !u.is_empty()) else {
            self.reply(
                key,
                req,
                400,
                "Bad Request (Refer-To has no extension)",
                now,
            );
            return;
        };
        let chan_id = leg.chan_id;
        let inbound = leg.inbound;
        self.reply(key, req, 202, "Accepted", now);
        if let Some(l) = self.legs.get_mut(&call_id) {
            l.refer_pending = true;
        }
        self.refer_notify(&call_id, "SIP/2.0 100 Trying", false, now);
        self.verbose(
            3,
            format!("Blind transfer of the party of {call_id} to {exten}@{context} (REFER)"),
        );
        let t = TransferTo { exten, context };
        let Some(ch) = self.chans.get(&chan_id) else {
            return;
        };
        // A called channel's owner reads its events; a calling channel's far end is
        // reached through the channel itself.
        match (&ch.events, &ch.shared, inbound) {
            (Some(tx), _, false) => {
                let _ = tx.send(ChanEvent::Transfer(Box::new(t)));
            }
            (_, Some(s), _) => s.request_transfer(t),
            _ => {}
        }
    }

    /// The outcome of the transfer channel `chan_id`'s far end asked for.
    pub(super) fn refer_done(&mut self, chan_id: u64, ok: bool, now: Instant) {
        let Some(call_id) = self.chans.get(&chan_id).and_then(|c| {
            c.legs
                .iter()
                .find(|l| self.legs.get(*l).is_some_and(|l| l.refer_pending))
                .cloned()
        }) else {
            return;
        };
        if let Some(l) = self.legs.get_mut(&call_id) {
            l.refer_pending = false;
        }
        let frag = if ok {
            "SIP/2.0 200 OK"
        } else {
            "SIP/2.0 503 Service Unavailable"
        };
        self.refer_notify(&call_id, frag, true, now);
    }

    /// A NOTIFY of the REFER's implicit subscription with `frag` as the sipfrag body.
    fn refer_notify(&mut self, call_id: &str, frag: &str, last: bool, now: Instant) {
        let ua = self.useragent();
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let dest = leg.remote;
        let Some(d) = leg.dialog.as_mut() else {
            return;
        };
        let mut m = d.request(Method::Notify, &super::new_branch());
        let h = m.headers_mut();
        h.push("Event", "refer");
        h.push(
            "Subscription-State",
            if last {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        h.push("Content-Type", "message/sipfrag;version=2.0");
        h.push("User-Agent", ua);
        m.set_body(format!("{frag}\r\n").into_bytes());
        if let Ok(k) = self.txs.send_request(m, dest, false, now) {
            self.owners.insert(k, Owner::InDialog);
        }
    }

    /// `Transfer(dest)` of an answered call: REFER to the far end of channel `chan_id`'s
    /// call. `Pending` when sent (the outcome comes with the NOTIFYs).
    pub(super) fn send_refer(&mut self, chan_id: u64, dest: &str, now: Instant) -> TransferResult {
        let Some(call_id) = self.chans.get(&chan_id).and_then(|c| {
            c.winner
                .clone()
                .or_else(|| c.legs.first().cloned())
                .filter(|l| self.legs.get(l).is_some_and(|l| l.state == LegState::Up))
        }) else {
            return TransferResult::Failure;
        };
        let ua = self.useragent();
        let Some((uri, _)) = self.transfer_target(&call_id, dest) else {
            return TransferResult::Failure;
        };
        let Some(leg) = self.legs.get_mut(&call_id) else {
            return TransferResult::Failure;
        };
        let dest_addr = leg.remote;
        let Some(d) = leg.dialog.as_mut() else {
            return TransferResult::Failure;
        };
        let mut m = d.request(Method::Refer, &super::new_branch());
        let contact = NameAddr::new(d.local_contact.uri.clone()).to_string();
        let h = m.headers_mut();
        h.push("Refer-To", NameAddr::new(uri).to_string());
        h.push("Referred-By", contact);
        h.push("User-Agent", ua);
        leg.refer_out = true;
        leg.last_msg = "Tx: REFER".into();
        match self.txs.send_request(m, dest_addr, false, now) {
            Ok(k) => {
                self.owners.insert(k, Owner::Refer(call_id));
                TransferResult::Pending
            }
            Err(_) => TransferResult::Failure,
        }
    }

    /// A NOTIFY of our REFER's subscription: answered `200`; its sipfrag's final status
    /// is the transfer's outcome. `false` when it is not one (another NOTIFY).
    pub(super) fn on_refer_notify(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        now: Instant,
    ) -> bool {
        let is_refer = req.header("Event").is_some_and(|e| {
            e.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("refer")
        });
        let Some(call_id) = req.call_id().map(str::to_string) else {
            return false;
        };
        if !is_refer || !self.legs.get(&call_id).is_some_and(|l| l.refer_out) {
            return false;
        }
        self.reply(key, req, 200, "OK", now);
        // "SIP/2.0 200 OK": the status of the transferred call.
        let status = std::str::from_utf8(req.body())
            .ok()
            .and_then(|b| b.lines().next())
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse::<u16>().ok());
        match status {
            Some(100..=199) | None => {}
            Some(c) => self.refer_out_done(&call_id, (200..300).contains(&c)),
        }
        true
    }

    /// Our REFER's outcome: tell the channel; a transfer done ends our side of the call.
    pub(super) fn refer_out_done(&mut self, call_id: &str, ok: bool) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        if !std::mem::replace(&mut leg.refer_out, false) {
            return;
        }
        let chan_id = leg.chan_id;
        if let Some(s) = self.chans.get(&chan_id).and_then(|c| c.shared.clone()) {
            s.transfer_outcome(ok);
            if ok {
                s.request_hangup(cause::NORMAL_CLEARING);
            }
        }
        if !ok {
            self.actions.push(Action::Notice(format!(
                "chan_sip.c: Transfer of {call_id} (REFER) failed"
            )));
        }
    }
}
