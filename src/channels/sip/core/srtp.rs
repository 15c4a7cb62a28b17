//! chan_sip's SRTP rule for answers: a call whose offer was `RTP/SAVP` (a peer with
//! `encryption=yes`) but whose answer came back without usable SRTP (plain `RTP/AVP`, or no
//! crypto line matching ours) is hung up, as chan_sip does ("We are requesting SRTP for
//! audio, but they responded without it!"), instead of carrying on with no media or, worse,
//! in the clear. Offer/answer itself is `sip::sdp`'s; this only ends the dialog.

use super::{Action, Core, Owner};
use crate::sip::sdp::NegotiationError;
use std::time::Instant;

/// Whether a failed offer/answer failed for want of SRTP.
pub fn srtp_refused<T>(r: &Result<T, NegotiationError>) -> bool {
    matches!(
        r,
        Err(NegotiationError::SrtpRequired | NegotiationError::NoUsableCrypto)
    )
}

impl Core {
    /// The answer on leg `call_id` (already ACKed) refused the SRTP we asked for: send BYE and
    /// end the leg (an outbound one as a failed fork, so `Dial()` sees the call fail; an
    /// inbound one hangs its channel up).
    pub(super) fn refuse_unencrypted_answer(&mut self, call_id: &str, now: Instant) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let inbound = leg.inbound;
        let bye = leg.dialog.as_mut().map(|d| d.bye(&super::new_branch()));
        self.actions.push(Action::Warning(format!(
            "chan_sip.c: We are requesting SRTP for audio, but they responded without it! \
             ({call_id})"
        )));
        if let Some(mut bye) = bye {
            bye.headers_mut().push("User-Agent", self.useragent());
            let dest = match self.legs.get(call_id) {
                Some(l) => self.request_dest(l, &bye),
                None => return,
            };
            if let Ok(k) = self.txs.send_request(bye, dest, false, now) {
                self.owners.insert(k, Owner::InDialog);
            }
        }
        if inbound {
            self.far_end_gone(call_id, super::sip_to_cause(488));
        } else {
            self.fork_failed(call_id, 488, now);
        }
    }
}
