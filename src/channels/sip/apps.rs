//! chan_sip's in-call applications: `SIPDtmfMode()` chooses how the digits written to the
//! channel from then on are sent (SIP INFO, RFC 2833 events or inband tones);
//! `SIPSendCustomINFO()` sends an in-dialog INFO with a `text/plain` body.

use super::SipShared;
use crate::apps::{App, AppResult};
use crate::media::session::DtmfSink;
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub fn register(ctx: &crate::pbx::module::ModuleContext, sip: &Arc<SipShared>) {
    ctx.register_app(Arc::new(SipDtmfMode {
        sip: Arc::downgrade(sip),
    }));
    ctx.register_app(Arc::new(SipSendCustomInfo {
        sip: Arc::downgrade(sip),
    }));
}

/// chan_sip's id of a SIP channel (`None` on another technology).
fn sip_id(chan: &Channel) -> Option<u64> {
    chan.tech
        .as_any()
        .and_then(|t| t.downcast_ref::<super::SipTech>())
        .map(|t| t.id)
}

/// The body of a DTMF INFO: `application/dtmf-relay` (`Signal=`, `Duration=` in ms) or,
/// for shortinfo, `application/dtmf` with the event number.
pub fn dtmf_info_body(digit: char, len: Duration, short: bool) -> (&'static str, String) {
    if short {
        let d = digit.to_ascii_uppercase();
        let event = match d {
            '0'..='9' => u32::from(d) - u32::from('0'),
            '*' => 10,
            '#' => 11,
            'A'..='D' => 12 + u32::from(d) - u32::from('A'),
            _ => 0,
        };
        ("application/dtmf", format!("{event}\r\n"))
    } else {
        (
            "application/dtmf-relay",
            format!("Signal={digit}\r\nDuration={}\r\n", len.as_millis()),
        )
    }
}

/// The digit sink of dtmfmode=info/shortinfo on channel `id`: each digit written to the
/// channel goes as an in-dialog INFO ([`dtmf_info_body`]).
pub fn info_sink(sip: Weak<SipShared>, id: u64, short: bool) -> DtmfSink {
    Arc::new(move |d: char, len: Duration| {
        if let Some(sip) = sip.upgrade() {
            let (ct, body) = dtmf_info_body(d, len, short);
            sip.with(|c, now| c.chan_send_info(id, ct, body.into_bytes(), &[], now));
        }
    })
}

/// What `SIPDtmfMode(mode)` sets: `Some((info, short, inband))`, `None` for an unknown mode.
pub fn parse_mode(mode: &str) -> Option<(bool, bool, bool)> {
    match mode.trim().to_ascii_lowercase().as_str() {
        "info" => Some((true, false, false)),
        "shortinfo" => Some((true, true, false)),
        "rfc2833" => Some((false, false, false)),
        "inband" => Some((false, false, true)),
        _ => None,
    }
}

struct SipDtmfMode {
    sip: Weak<SipShared>,
}

#[async_trait]
impl App for SipDtmfMode {
    fn name(&self) -> &'static str {
        "SIPDtmfMode"
    }
    fn synopsis(&self) -> &'static str {
        "Change the dtmfmode for a SIP call."
    }
    fn syntax(&self) -> &'static str {
        "SIPDtmfMode(inband|info|shortinfo|rfc2833)"
    }
    fn description(&self) -> &'static str {
        "Changes the dtmfmode for a SIP call: the digits sent to the phone from then on \
         (SendDTMF(), a bridged party's keys) go as SIP INFO (info: application/dtmf-relay; \
         shortinfo: application/dtmf), RFC 2833 events or inband tones."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx.warning(
                "chan_sip.c: This application requires the argument: info, inband, rfc2833",
            );
            return Ok(());
        }
        let Some(id) = sip_id(chan) else {
            chan.pbx
                .warning("chan_sip.c: Call this application only on SIP incoming calls");
            return Ok(());
        };
        let Some((info, short, inband)) = parse_mode(data) else {
            chan.pbx.warning(&format!(
                "chan_sip.c: I don't know about this dtmf mode: {}",
                data.trim()
            ));
            return Ok(());
        };
        let Some(sip) = self.sip.upgrade() else {
            return Ok(());
        };
        let sink = info.then(|| info_sink(self.sip.clone(), id, short));
        sip.core.lock().chan_set_dtmf_out(id, sink, inband);
        Ok(())
    }
}

struct SipSendCustomInfo {
    sip: Weak<SipShared>,
}

#[async_trait]
impl App for SipSendCustomInfo {
    fn name(&self) -> &'static str {
        "SIPSendCustomINFO"
    }
    fn synopsis(&self) -> &'static str {
        "Send a custom INFO frame on specified channels."
    }
    fn syntax(&self) -> &'static str {
        "SIPSendCustomINFO(Data[,UserAgent])"
    }
    fn description(&self) -> &'static str {
        "Sends an in-dialog SIP INFO with Data as its text/plain body on this SIP channel; \
         with UserAgent only when the phone's User-Agent contains it."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx
                .warning("chan_sip.c: You must provide data to be sent");
            return Ok(());
        }
        // As chan_sip: the data is everything before the first comma.
        let (body, ua) = match data.split_once(',') {
            Some((b, u)) => (b, u),
            None => (data, ""),
        };
        let sent = match (sip_id(chan), self.sip.upgrade()) {
            (Some(id), Some(sip)) => sip.with(|c, now| {
                let wanted =
                    ua.is_empty() || c.chan_user_agent(id).is_some_and(|have| have.contains(ua));
                !wanted || c.chan_send_info(id, "text/plain", body.as_bytes().to_vec(), &[], now)
            }),
            (None, _) => {
                chan.pbx.warning(&format!(
                    "chan_sip.c: Attempted to send a custom INFO on a non-SIP channel {}",
                    chan.name()
                ));
                false
            }
            _ => false,
        };
        if !sent {
            chan.pbx
                .warning("chan_sip.c: Failed to create payload for custom SIP INFO");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_bodies() {
        assert_eq!(
            dtmf_info_body('1', Duration::from_millis(250), false),
            (
                "application/dtmf-relay",
                "Signal=1\r\nDuration=250\r\n".into()
            )
        );
        assert_eq!(
            dtmf_info_body('#', Duration::ZERO, true),
            ("application/dtmf", "11\r\n".into())
        );
        assert_eq!(dtmf_info_body('c', Duration::ZERO, true).1, "14\r\n");
        assert_eq!(dtmf_info_body('x', Duration::ZERO, true).1, "0\r\n");
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("INFO"), Some((true, false, false)));
        assert_eq!(parse_mode("shortinfo"), Some((true, true, false)));
        assert_eq!(parse_mode("rfc2833"), Some((false, false, false)));
        assert_eq!(parse_mode(" inband "), Some((false, false, true)));
        // Asterisk's SIPDtmfMode() knows no "auto".
        assert_eq!(parse_mode("auto"), None);
        assert_eq!(parse_mode("morse"), None);
    }
}
