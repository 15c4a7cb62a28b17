//! chan_sip's manager (AMI) actions, registered into the core's action registry while
//! chan_sip runs (as Asterisk's chan_sip registers them): `SIPpeers` (a list of
//! `PeerEntry` events) and `SIPshowpeer`. The manager never names chan_sip.

use super::format::NatSetting;
use super::show::{peer_detail, peers_view};
use super::SipShared;
use crate::pbx::manager::{class, Action, Caller, Message, Reply};
use crate::pbx::module::ModuleContext;
use crate::pbx::Pbx;
use async_trait::async_trait;
use std::sync::Arc;

pub fn register(ctx: &ModuleContext, sip: &Arc<SipShared>) {
    ctx.register_manager_action(Arc::new(SipPeers(sip.clone())));
    ctx.register_manager_action(Arc::new(SipShowPeer(sip.clone())));
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// (automatic, on) as chan_sip's `AutoForcerport`/`Forcerport` pairs.
fn nat(n: NatSetting) -> (&'static str, &'static str) {
    match n {
        NatSetting::No => ("no", "no"),
        NatSetting::Yes => ("no", "yes"),
        NatSetting::AutoNo => ("yes", "no"),
        NatSetting::AutoYes => ("yes", "yes"),
    }
}

struct SipPeers(Arc<SipShared>);
#[async_trait]
impl Action for SipPeers {
    fn name(&self) -> &'static str {
        "SIPpeers"
    }
    fn privilege(&self) -> u32 {
        class::SYSTEM | class::REPORTING
    }
    fn synopsis(&self) -> &'static str {
        "List SIP peers (text format)."
    }
    async fn run(&self, _: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let mut rows = self.0.with(|core, now| peers_view(core, now));
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let mut ack = Message::response("Success", req, "");
        ack.push("EventList", "start");
        ack.push("Message", "Peer status list will follow");
        let mut out = vec![ack];
        for r in &rows {
            let (af, f) = nat(r.force_rport);
            let (ac, c) = nat(r.comedia);
            out.push(
                Message::event("PeerEntry", Some(req))
                    .with("Channeltype", "SIP")
                    .with("ObjectName", r.name.clone())
                    .with("ChanObjectType", "peer")
                    .with(
                        "IPaddress",
                        r.host.clone().unwrap_or_else(|| "-none-".into()),
                    )
                    .with("IPport", r.port.to_string())
                    .with("Dynamic", yes_no(r.dynamic))
                    .with("AutoForcerport", af)
                    .with("Forcerport", f)
                    .with("AutoComedia", ac)
                    .with("Comedia", c)
                    .with("VideoSupport", "no")
                    .with("TextSupport", "no")
                    .with("ACL", yes_no(r.acl))
                    .with("Status", r.status.text())
                    .with("RealtimeDevice", yes_no(r.realtime == Some(true)))
                    .with("Description", r.description.clone()),
            );
        }
        out.push(
            Message::event("PeerlistComplete", Some(req))
                .with("EventList", "Complete")
                .with("ListItems", rows.len().to_string()),
        );
        out
    }
}

struct SipShowPeer(Arc<SipShared>);
#[async_trait]
impl Action for SipShowPeer {
    fn name(&self) -> &'static str {
        "SIPshowpeer"
    }
    fn privilege(&self) -> u32 {
        class::SYSTEM | class::REPORTING
    }
    fn synopsis(&self) -> &'static str {
        "show SIP peer (text format)."
    }
    async fn run(&self, _: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let name = req.value("Peer").trim().to_string();
        if name.is_empty() {
            return vec![Message::error(req, "Peer: <name> missing.")];
        }
        let d = self.0.with(|core, now| {
            let cfg = core.cfg.clone();
            cfg.peer(&name)
                .filter(|p| !core.is_temporary_peer(p))
                .map(|p| peer_detail(core, p, now))
        });
        let Some(d) = d else {
            return vec![Message::error(req, "Peer not found")];
        };
        let yn = |b: bool| if b { "Y" } else { "N" };
        let (addr_ip, addr_port) = d.addr.rsplit_once(':').unwrap_or(("(null)", "0"));
        let mut m = Message::response("Success", req, "");
        for (k, v) in [
            ("Channeltype", "SIP".to_string()),
            ("ObjectName", d.name.clone()),
            ("ChanObjectType", "peer".into()),
            ("SecretExist", yn(d.secret_set).into()),
            ("RemoteSecretExist", yn(d.remote_secret_set).into()),
            ("MD5SecretExist", yn(d.md5secret_set).into()),
            ("Context", d.context.clone()),
            ("Language", d.language.clone()),
            ("AccountCode", d.accountcode.clone()),
            ("VoiceMailbox", d.mailbox.clone()),
            ("Call-limit", d.call_limit.to_string()),
            ("Dynamic", yn(d.dynamic).into()),
            (
                "Callerid",
                format!("\"{}\" <{}>", d.callerid_name, d.callerid_num),
            ),
            ("RegExpire", format!("{} seconds", d.expire)),
            ("SIP-AuthInsecure", d.insecure.clone()),
            ("ACL", yn(d.acl).into()),
            ("SIP-DTMFmode", d.dtmf_mode.clone()),
            ("ToHost", d.to_host.clone()),
            ("Address-IP", addr_ip.to_string()),
            ("Address-Port", addr_port.to_string()),
            ("Default-Username", d.default_username.clone()),
            ("Codecs", d.codecs.clone()),
            ("Status", d.status.text()),
            ("SIP-Useragent", d.useragent.clone()),
            ("Reg-Contact", d.reg_contact.clone()),
            ("QualifyFreq", format!("{} ms", d.qualify_freq_ms)),
            ("Description", d.description.clone()),
        ] {
            m.push(k, v);
        }
        vec![m]
    }
}
