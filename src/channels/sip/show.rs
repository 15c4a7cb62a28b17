//! `sip show peers|peer|users|inuse|registry|channels|settings`: views of the live core
//! state, printed by the formatters in [`crate::channels::sip::format`].

use super::core::Core;
use super::SipShared;
use crate::channels::sip::format::{
    format_channels, format_inuse, format_peer, format_peer_not_found, format_peers,
    format_registry, format_settings, format_users, InuseRow, NatSetting, PeerDetail, PeerRow,
    PeerStatus, RegistryRow, SettingsView, SipChannelRow, UserRow,
};
use crate::channels::sipconf::{DtmfMode, Host, Nat, Peer, PeerType, Qualify};
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

fn nat_force(n: &Nat) -> NatSetting {
    if n.force_rport {
        NatSetting::Yes
    } else if n.auto_force_rport {
        NatSetting::AutoNo
    } else {
        NatSetting::No
    }
}

fn nat_comedia(n: &Nat) -> NatSetting {
    if n.comedia {
        NatSetting::Yes
    } else if n.auto_comedia {
        NatSetting::AutoNo
    } else {
        NatSetting::No
    }
}

pub fn status(core: &Core, p: &Peer) -> PeerStatus {
    let Qualify::MaxMs(max) = p.qualify else {
        return PeerStatus::Unmonitored;
    };
    match core.peers_rt.get(&p.name) {
        Some(rt) => match (rt.reachable, rt.latency_ms) {
            (Some(true), Some(ms)) if ms > max => PeerStatus::Lagged(ms),
            (Some(true), Some(ms)) => PeerStatus::Ok(ms),
            (Some(false), _) => PeerStatus::Unreachable,
            _ => PeerStatus::Unknown,
        },
        None => PeerStatus::Unknown,
    }
}

/// Current address of a peer: the source of its freshest binding, or its static host.
pub fn peer_addr(core: &Core, p: &Peer, now: Instant) -> Option<(String, u16)> {
    match &p.host {
        Host::Dynamic => core
            .peer_contacts(&p.name, now)
            .into_iter()
            .find_map(|(_, src, _)| src)
            .map(|a| (a.ip().to_string(), a.port())),
        Host::Ip(ip) => Some((ip.to_string(), p.port.unwrap_or(5060))),
        Host::Name(n) => Some((n.clone(), p.port.unwrap_or(5060))),
    }
}

pub fn peers_view(core: &Core, now: Instant) -> Vec<PeerRow> {
    let rt = core.realtime_peers_enabled();
    core.cfg
        .peers
        .values()
        .filter(|p| p.kind != PeerType::User && !core.is_temporary_peer(p))
        .map(|p| {
            let addr = peer_addr(core, p, now);
            PeerRow {
                name: p.name.clone(),
                username: peer_username(core, p, now),
                host: addr.as_ref().map(|a| a.0.clone()),
                port: addr.map(|a| a.1).unwrap_or(0),
                dynamic: p.host == Host::Dynamic,
                force_rport: nat_force(&p.nat),
                comedia: nat_comedia(&p.nat),
                acl: !p.acl.is_empty() || !p.named_acls.is_empty(),
                status: status(core, p),
                description: String::new(),
                realtime: rt.then_some(p.realtime),
            }
        })
        .collect()
}

fn dtmf_str(d: &DtmfMode) -> String {
    format!("{d:?}").to_ascii_lowercase()
}

/// chan_sip's `get_transport_list`: `UDP,TLS`.
fn transports_str(t: &[crate::channels::sipconf::Transport]) -> String {
    use crate::channels::sipconf::Transport;
    let list: Vec<&str> = t
        .iter()
        .map(|t| match t {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        })
        .collect();
    if list.is_empty() {
        "UDP".into()
    } else {
        list.join(",")
    }
}

pub fn peer_detail(core: &Core, p: &Peer, now: Instant) -> PeerDetail {
    let addr = peer_addr(core, p, now);
    let contacts = core.peer_contacts(&p.name, now);
    let rt = core.peers_rt.get(&p.name);
    PeerDetail {
        name: p.name.clone(),
        realtime: core.realtime_peers_enabled().then_some(p.realtime),
        secret_set: p.secret.as_deref().is_some_and(|s| !s.is_empty()),
        md5secret_set: p.md5secret.is_some(),
        remote_secret_set: p.remotesecret.is_some(),
        context: p.context.clone(),
        language: p.language.clone().unwrap_or_else(|| "en".into()),
        accountcode: p.accountcode.clone().unwrap_or_default(),
        fromuser: p.fromuser.clone().unwrap_or_default(),
        fromdomain: p.fromdomain.clone().unwrap_or_default(),
        mailbox: p
            .mailboxes
            .iter()
            .map(|m| format!("{}@{}", m.mailbox, m.context))
            .collect::<Vec<_>>()
            .join(","),
        call_limit: p.call_limit.map(|c| c as i32).unwrap_or(0),
        dynamic: p.host == Host::Dynamic,
        callerid_name: p
            .callerid
            .as_ref()
            .and_then(|c| c.name.clone())
            .unwrap_or_default(),
        callerid_num: p
            .callerid
            .as_ref()
            .and_then(|c| c.number.clone())
            .unwrap_or_default(),
        expire: contacts.first().map(|c| i64::from(c.2)).unwrap_or(-1),
        insecure: match (p.insecure.port, p.insecure.invite) {
            (false, false) => "no".into(),
            (true, false) => "port".into(),
            (false, true) => "invite".into(),
            (true, true) => "port,invite".into(),
        },
        force_rport: nat_force(&p.nat),
        symmetric_rtp: nat_comedia(&p.nat),
        acl: !p.acl.is_empty() || !p.named_acls.is_empty(),
        dtmf_mode: dtmf_str(&p.dtmfmode),
        addr: addr
            .as_ref()
            .map(|a| format!("{}:{}", a.0, a.1))
            .unwrap_or_else(|| "(null)".into()),
        defaddr: "(null)".into(),
        primary_transport: core.peer_transport(p, now).as_str().into(),
        allowed_transports: transports_str(&p.transports),
        default_username: peer_username(core, p, now),
        codecs: if p.codecs.is_empty() {
            core.cfg.general.codecs.join("|")
        } else {
            p.codecs.join("|")
        },
        status: status(core, p),
        useragent: rt.map(|r| r.useragent.clone()).unwrap_or_default(),
        reg_contact: contacts.first().map(|c| c.0.clone()).unwrap_or_default(),
        qualify_freq_ms: i32::try_from(core.cfg.general.qualifyfreq.saturating_mul(1000))
            .unwrap_or(i32::MAX),
        vm_extension: p.vmexten.clone(),
        last_msgs_sent_new: rt.map(|r| r.last_msgs.0).unwrap_or(0),
        last_msgs_sent_old: rt.map(|r| r.last_msgs.1).unwrap_or(0),
        subscriptions: p.allowsubscribe,
        promisc_redir: p.party.promiscredir,
        trust_rpid: p.party.trustrpid,
        send_rpid: p.party.sendrpid != crate::channels::sipconf::SendRpid::No,
        encryption: p.encryption,
        ..PeerDetail::default()
    }
}

pub fn registry_view(core: &Core, now: Instant) -> Vec<RegistryRow> {
    let wall = SystemTime::now();
    core.regclients
        .iter()
        .map(|rc| {
            let (host, port) = rc.destination();
            let reg_time = rc
                .registered_at()
                .map(|t| {
                    let when = wall - now.saturating_duration_since(t);
                    chrono::DateTime::<chrono::Local>::from(when)
                        .format("%a, %d %b %Y %T")
                        .to_string()
                })
                .unwrap_or_default();
            let domain = rc.domain();
            RegistryRow {
                hostname: host.to_string(),
                port,
                dnsmgr: host.parse::<std::net::IpAddr>().is_err(),
                username: rc.username().to_string(),
                regdomain: if domain != host {
                    domain.to_string()
                } else {
                    String::new()
                },
                regdomain_port: 0,
                refresh: i32::try_from(rc.refresh()).unwrap_or(i32::MAX),
                state: rc.state(),
                reg_time,
            }
        })
        .collect()
}

/// The user part of a Contact URI (`<sip:1002-0x5562@10.0.0.2:5060;ob>` → `1002-0x5562`).
pub fn contact_user(contact: &str) -> Option<&str> {
    let c = contact.trim().trim_start_matches('<');
    let rest = c
        .strip_prefix("sips:")
        .or_else(|| c.strip_prefix("sip:"))
        .unwrap_or(c);
    rest.split_once('@')
        .map(|(u, _)| u)
        .filter(|u| !u.is_empty())
}

/// chan_sip's `peer->username`: `defaultuser`, else the user of the Contact the peer
/// registered (so a baresip phone's `1002-0x5562…`); empty when neither.
pub fn peer_username(core: &Core, p: &Peer, now: Instant) -> String {
    if let Some(u) = p.defaultuser.as_ref().filter(|u| !u.is_empty()) {
        return u.clone();
    }
    core.peer_contacts(&p.name, now)
        .iter()
        .find_map(|(c, _, _)| contact_user(c).map(str::to_string))
        .unwrap_or_default()
}

pub fn channels_view(core: &Core, now: Instant) -> Vec<SipChannelRow> {
    let mut rows: Vec<(Instant, SipChannelRow)> = core
        .legs()
        .map(|l| {
            // chan_sip's dialog username: an outbound dialog's is the user it calls (the
            // peer's username, or the extension of `SIP/peer/exten`); an inbound one's
            // is the matched peer's username, else empty (then the caller's number shows).
            let username = if l.inbound {
                l.peer
                    .as_ref()
                    .and_then(|n| core.cfg.peer(n))
                    .map(|p| peer_username(core, p, now))
                    .unwrap_or_default()
            } else {
                l.user.clone()
            };
            (
                l.created,
                SipChannelRow {
                    peer_addr: l.remote.ip().to_string(),
                    username,
                    cid_num: if l.inbound {
                        l.user.clone()
                    } else {
                        String::new()
                    },
                    call_id: l.call_id.clone(),
                    format: core.leg_channel(l).map(|_| {
                        let c = match l.codec.to_ascii_uppercase().as_str() {
                            "PCMU" => "ulaw",
                            "PCMA" => "alaw",
                            "" => "nothing",
                            _ => "unknown",
                        };
                        format!("({c})")
                    }),
                    on_hold: l.hold,
                    need_destroy: false,
                    last_message: l.last_msg.clone(),
                    refer_status: String::new(),
                    peer_name: l.peer.clone(),
                },
            )
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|r| r.1).collect()
}

/// `sip show users`: the peers that take calls by user name (`type=user`, `type=friend`).
pub fn users_view(core: &Core) -> Vec<UserRow> {
    core.cfg
        .peers
        .values()
        .filter(|p| p.kind != PeerType::Peer && !core.is_temporary_peer(p))
        .map(|p| UserRow {
            name: p.name.clone(),
            secret: p.secret.clone().unwrap_or_default(),
            accountcode: p.accountcode.clone().unwrap_or_default(),
            context: p.context.clone(),
            acl: !p.acl.is_empty() || !p.named_acls.is_empty(),
            force_rport: p.nat.force_rport,
        })
        .collect()
}

/// `sip show inuse`: chan_sip keeps the counters of peers with a `call-limit` only.
pub fn inuse_view(core: &Core) -> Vec<InuseRow> {
    core.cfg
        .peers
        .values()
        .filter(|p| !core.is_temporary_peer(p))
        .map(|p| {
            let limited = p.call_limit.is_some_and(|n| n > 0);
            let (ringing, onhold) = if limited {
                core.peer_ringing_onhold(&p.name)
            } else {
                (0, 0)
            };
            InuseRow {
                name: p.name.clone(),
                inuse: if limited {
                    core.peers_rt.get(&p.name).map(|r| r.inuse).unwrap_or(0)
                } else {
                    0
                },
                ringing,
                onhold,
                call_limit: p.call_limit,
            }
        })
        .collect()
}

pub fn settings_view(core: &Core, sip: &SipShared) -> SettingsView {
    let g = &core.cfg.general;
    SettingsView {
        udp_bindaddr: sip.transport.udp_local().to_string(),
        tcp_bindaddr: sip.transport.tcp_local().map(|a| a.to_string()),
        tls_bindaddr: sip.transport.tls_local().map(|a| a.to_string()),
        allow_guest: g.allowguest,
        realm: g.realm.clone(),
        always_auth_reject: g.alwaysauthreject,
        accept_outofcall_message: g.accept_outofcall_message,
        outofcall_message_context: g.outofcall_message_context.clone().unwrap_or_default(),
        auth_message_requests: g.auth_message_requests,
        user_agent: g.useragent.clone(),
        qualify_freq_ms: i32::try_from(g.qualifyfreq.saturating_mul(1000)).unwrap_or(i32::MAX),
        localnet: g
            .localnet
            .iter()
            .map(|n| (n.addr.to_string(), n.mask.to_string()))
            .collect(),
        externaddr: g.externaddr.as_ref().map(|e| match e.port {
            Some(p) => format!("{}:{p}", e.host),
            None => e.host.clone(),
        }),
        codecs: if g.codecs.is_empty() {
            "(ulaw|alaw)".into()
        } else {
            format!("({})", g.codecs.join("|"))
        },
        min_expiry: i32::try_from(g.minexpiry).unwrap_or(i32::MAX),
        max_expiry: i32::try_from(g.maxexpiry).unwrap_or(i32::MAX),
        default_expiry: i32::try_from(g.defaultexpiry).unwrap_or(i32::MAX),
        max_contacts_per_aor: g.max_contacts_per_aor,
        max_register_per_sec_per_aor: g.max_registers_per_second,
        allowed_transports: transports_str(&g.transports),
        outbound_transport: transports_str(&g.transports[..g.transports.len().min(1)]),
        context: g.context.clone(),
        force_rport: nat_force(&g.nat),
        dtmf_mode: dtmf_str(&g.dtmfmode),
        language: g.language.clone().unwrap_or_default(),
        allow_subscribe: g.allowsubscribe,
        vm_exten: g.vmexten.clone(),
        mwi_mime_type: "application/simple-message-summary".into(),
        min_subexpiry: i32::try_from(g.subminexpiry).unwrap_or(i32::MAX),
        max_subexpiry: i32::try_from(g.submaxexpiry).unwrap_or(i32::MAX),
        rt_peers: core.realtime_peers_enabled(),
        rt_regs: core.realtime_regs_enabled(),
        rt_cache_friends: g.rtcachefriends,
        rt_update: g.rtupdate,
        rt_ignore_regexpire: g.ignoreregexpire,
        rt_save_sysname: g.rtsavesysname,
        rt_autoclear: g
            .rtautoclear
            .map_or(120, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        rt_autoclear_enabled: g.rtautoclear.is_some(),
        promisc_redir: g.party.promiscredir,
        trust_rpid: g.party.trustrpid,
        send_rpid: g.party.sendrpid != crate::channels::sipconf::SendRpid::No,
        send_diversion: g.party.send_diversion,
        ..SettingsView::default()
    }
}

/// `sip show subscriptions`: chan_sip's table of active subscriptions (ours are all `mwi`).
pub fn subscriptions_text(core: &Core, now: Instant) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    let mut out = format!(
        "{:<15}  {:<15}  {:<15}  {:<15}  {:<13}  {:<15} {:<10} {:<6}\n",
        "Peer", "User", "Call ID", "Extension", "Last state", "Type", "Mailbox", "Expiry"
    );
    let mut subs: Vec<_> = core
        .mwi_subs
        .values()
        .filter(|s| s.ending.is_none())
        .collect();
    subs.sort_by(|a, b| {
        a.peer
            .cmp(&b.peer)
            .then(a.dialog.id.call_id.cmp(&b.dialog.id.call_id))
    });
    for s in &subs {
        let mailbox = core
            .cfg
            .peer(&s.peer)
            .map(|p| {
                p.mailboxes
                    .iter()
                    .map(|m| format!("{}@{}", m.mailbox, m.context))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let mailbox = if mailbox.is_empty() {
            "<none>".to_string()
        } else {
            mailbox
        };
        out.push_str(&format!(
            "{:<15}  {:<15}  {:<15}  {:<15}  {:<13}  {:<15} {:<10} {:06}\n",
            cut(&s.dest.ip().to_string(), 15),
            cut(&s.peer, 15),
            cut(&s.dialog.id.call_id, 15),
            cut(&s.exten, 15),
            "Unknown",
            "mwi",
            cut(&mailbox, 10),
            s.expires_at
                .saturating_duration_since(now)
                .as_secs()
                .min(999_999)
        ));
    }
    out.push_str(&format!(
        "{} active SIP subscription{}\n",
        subs.len(),
        if subs.len() == 1 { "" } else { "s" }
    ));
    out
}

/// The `[like <pattern>]` of `sip show peers|users` (a regular expression).
fn like_pattern(args: &[String]) -> Result<Option<regex::Regex>, CliError> {
    match args {
        [] => Ok(None),
        [like, pat] if like.eq_ignore_ascii_case("like") => regex::Regex::new(pat)
            .map(Some)
            .map_err(|_| CliError::ShowUsage),
        _ => Err(CliError::ShowUsage),
    }
}

macro_rules! sip_cmd {
    ($state:expr, $sip:expr, $words:expr, $summary:expr, $usage:expr, $f:expr) => {{
        let sip = $sip.clone();
        $state.register(Command::new($words, $summary, $usage, move |c: Ctx| {
            let sip = sip.clone();
            async move { $f(&c, &sip) }
        }));
    }};
}

pub fn register(state: &CommandRegistry, sip: Arc<SipShared>) {
    sip_cmd!(
        state,
        sip,
        "sip show peers",
        "List defined SIP peers",
        "Usage: sip show peers [like <pattern>]\n       Lists all known SIP peers.\n       Optional regular expression pattern is used to filter the peer list.",
        |c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            let like = like_pattern(&c.args)?;
            let mut rows = sip.with(|core, now| peers_view(core, now));
            rows.retain(|r| like.as_ref().is_none_or(|re| re.is_match(&r.name)));
            Ok(format_peers(&rows))
        }
    );
    {
        // Async: `load` may read realtime storage first.
        let sip = sip.clone();
        state.register(Command::new(
            "sip show peer",
            "Show details on specific SIP peer",
            "Usage: sip show peer <name> [load]\n       Shows all details on one SIP peer and the current status.\n       Option \"load\" forces lookup of peer in realtime storage.",
            move |c: Ctx| {
                let sip = sip.clone();
                async move {
                    let (name, load) = match c.args.as_slice() {
                        [n] => (n.clone(), false),
                        [n, l] if l.eq_ignore_ascii_case("load") => (n.clone(), true),
                        _ => return Err(CliError::ShowUsage),
                    };
                    if load && sip.core.lock().wants_realtime_read(&name) {
                        sip.load_realtime_peer(&name, false).await;
                    }
                    Ok(sip.with(|core, now| {
                        let cfg = core.cfg.clone();
                        // An uncached realtime peer is only seen when just loaded.
                        match cfg.peer(&name).filter(|p| load || !core.is_temporary_peer(p)) {
                            Some(p) => format_peer(&peer_detail(core, p, now)),
                            None => format_peer_not_found(&name),
                        }
                    }))
                }
            },
        ));
    }
    sip_cmd!(
        state,
        sip,
        "sip show users",
        "List defined SIP users",
        "Usage: sip show users [like <pattern>]\n       Lists all known SIP users.\n       Optional regular expression pattern is used to filter the user list.",
        |c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            let like = like_pattern(&c.args)?;
            let mut rows = sip.with(|core, _| users_view(core));
            rows.retain(|r| like.as_ref().is_none_or(|re| re.is_match(&r.name)));
            Ok(format_users(&rows))
        }
    );
    sip_cmd!(
        state,
        sip,
        "sip show inuse",
        "List all inuse/limits",
        "Usage: sip show inuse [all]\n       List all SIP devices usage counters and limits.\n       Add option \"all\" to show all devices, not only those with a limit.",
        |c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            // As chan_sip: only `all` (exactly) adds the peers without a limit.
            let all = matches!(c.args.as_slice(), [a] if a == "all");
            Ok(format_inuse(&sip.with(|core, _| inuse_view(core)), all))
        }
    );
    sip_cmd!(
        state,
        sip,
        "sip show registry",
        "List SIP registration status",
        "Usage: sip show registry\n       Lists all registration requests and status.",
        |_c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            Ok(format_registry(
                &sip.with(|core, now| registry_view(core, now)),
            ))
        }
    );
    sip_cmd!(
        state,
        sip,
        "sip show channels",
        "List active SIP channels or subscriptions",
        "Usage: sip show channels\n       Lists all currently active SIP calls (dialogs).",
        |_c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            Ok(format_channels(
                &sip.with(|core, now| channels_view(core, now)),
            ))
        }
    );
    sip_cmd!(
        state,
        sip,
        "sip show subscriptions",
        "List active SIP subscriptions",
        "Usage: sip show subscriptions\n       Lists active SIP subscriptions.",
        |_c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            Ok(sip.with(|core, now| subscriptions_text(core, now)))
        }
    );
    sip_cmd!(
        state,
        sip,
        "sip show settings",
        "Show SIP global settings",
        "Usage: sip show settings\n       Provides detailed list of the configuration of the SIP channel.",
        |_c: &Ctx, sip: &Arc<SipShared>| -> Result<String, CliError> {
            let view = {
                let core = sip.core.lock();
                settings_view(&core, sip)
            };
            Ok(format_settings(&view))
        }
    );
}

#[cfg(test)]
mod tests {
    use super::contact_user;

    #[test]
    fn contact_users() {
        assert_eq!(
            contact_user("<sip:1002-0x5562@10.0.0.2:5060;ob>"),
            Some("1002-0x5562")
        );
        assert_eq!(contact_user("sips:alice@h"), Some("alice"));
        assert_eq!(contact_user("sip:10.0.0.2:5060"), None);
    }
}
