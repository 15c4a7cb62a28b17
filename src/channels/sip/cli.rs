//! `sip …` CLI commands: reload, debug, qualify, and the `sip show …` family.

use super::{DebugMode, SipShared};
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use crate::pbx::Pbx;
use crate::sip::transport::Proto;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A message as `sip set debug` prints it (chan_sip's frames: responses and requests we send
/// are framed differently).
pub fn format_debug_message(
    outgoing: bool,
    proto: Proto,
    peer: SocketAddr,
    bytes: &[u8],
) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\r', '\n']);
    let addr = peer.to_string();
    if !outgoing {
        return crate::channels::sip::format::format_debug_read(proto.as_str(), &addr, text);
    }
    if text.starts_with("SIP/2.0") {
        crate::channels::sip::format::format_debug_transmit(false, false, &addr, text)
    } else {
        crate::channels::sip::format::format_debug_transmit_request(false, false, &addr, text)
    }
}

/// `sip reload` text (also used by `core reload` / `module reload chan_sip.so`).
pub fn reload_text(pbx: &Arc<Pbx>, sip: &Arc<SipShared>) -> String {
    match super::reload(pbx, sip) {
        Ok(warnings) => {
            for w in warnings {
                pbx.warning(&format!("chan_sip.c: {w}"));
            }
            pbx.verbose_line(2, "SIP reloaded");
            String::new()
        }
        Err(errs) => {
            let mut out = String::new();
            for e in &errs {
                out.push_str(&format!("{e}\n"));
                pbx.error(&format!("chan_sip.c: {e}"));
            }
            out.push_str("sip.conf has errors: the running SIP configuration is kept.\n");
            out
        }
    }
}

/// `sip prune realtime …`, with chan_sip's messages.
fn prune_realtime(c: &Ctx, sip: &Arc<SipShared>) -> Result<String, CliError> {
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let (name, pattern) = match args.as_slice() {
        [] | ["all"] => (None, None),
        ["peer", "all"] => (None, None),
        ["peer", "like", pat] | ["like", pat] => (None, Some(*pat)),
        ["peer", n] if !n.eq_ignore_ascii_case("like") => (Some(*n), None),
        _ => return Err(CliError::ShowUsage),
    };
    if let Some(n) = name {
        return Ok(sip.with(|core, now| {
            if !core.knows_peer(n) {
                format!("Peer '{n}' not found.\n")
            } else if core.prune_realtime(Some(n), now) == 0 {
                format!("Peer '{n}' is not a Realtime peer, cannot be pruned.\n")
            } else {
                format!("Peer '{n}' pruned.\n")
            }
        }));
    }
    let re = match pattern {
        Some(p) => Some(regex::Regex::new(p).map_err(|_| CliError::ShowUsage)?),
        None => None,
    };
    let pruned = sip.with(|core, now| {
        let names: Vec<String> = core
            .cfg
            .peers
            .values()
            .filter(|p| p.realtime && re.as_ref().is_none_or(|r| r.is_match(&p.name)))
            .map(|p| p.name.clone())
            .collect();
        names
            .iter()
            .map(|n| core.prune_realtime(Some(n), now))
            .sum::<usize>()
    });
    Ok(if pruned > 0 {
        format!("{pruned} peers pruned.\n")
    } else {
        "No peers found to prune.\n".to_string()
    })
}

/// Register the `sip` commands.
pub fn register(r: &CommandRegistry, sip: Arc<SipShared>) {
    {
        let sip = sip.clone();
        r.register(Command::new(
            "sip reload",
            "Reload SIP configuration",
            "Usage: sip reload\n       Reloads SIP configuration from sip.conf",
            move |c: Ctx| {
                let sip = sip.clone();
                async move {
                    let p = c.pbx().clone();
                    Ok(tokio::task::spawn_blocking(move || reload_text(&p, &sip))
                        .await
                        .unwrap_or_default())
                }
            },
        ));
    }
    {
        let sip = sip.clone();
        r.register(Command::new(
            "sip prune realtime",
            "Prune cached Realtime users/peers",
            "Usage: sip prune realtime [peer [<name>|all|like <pattern>]|all]\n       Prunes object(s) from the cache.\n       Optional regular expression pattern is used to filter the objects.",
            move |c: Ctx| {
                let sip = sip.clone();
                async move { prune_realtime(&c, &sip) }
            },
        ));
    }
    {
        let sip = sip.clone();
        r.register(Command::new(
            "sip set debug",
            "Enable/Disable SIP debugging",
            "Usage: sip set debug {on|off|ip addr[:port]|peer peername}\n       Globally disables dumping of SIP packets,\n       or enables it either globally or for a (single)\n       IP address or registered peer.",
            move |c: Ctx| {
                let sip = sip.clone();
                async move { set_debug(&c, &sip) }
            },
        ));
    }
    {
        let sip = sip.clone();
        r.register(Command::new(
            "sip qualify peer",
            "Send an OPTIONS packet to a peer",
            "Usage: sip qualify peer <name> [load]\n       Requests a response from one SIP peer and the current status.\n       Option \"load\" forces lookup of peer in realtime storage.",
            move |c: Ctx| {
                let sip = sip.clone();
                async move {
                    let Some(name) = c.args.first() else {
                        return Err(CliError::ShowUsage);
                    };
                    let ok = sip.with(|core, now| {
                        let cfg = core.cfg.clone();
                        match cfg.peer(name) {
                            Some(p) => {
                                core.qualify_peer_now(p, now);
                                true
                            }
                            None => false,
                        }
                    });
                    if ok {
                        Ok(String::new())
                    } else {
                        Ok(crate::channels::sip::format::format_qualify_not_found(name))
                    }
                }
            },
        ));
    }
    {
        let sip = sip.clone();
        r.register(Command::new(
            "sip show security",
            "Show password-guessing lockouts and dropped SIP messages",
            "Usage: sip show security
       Shows the sources locked out after failed logins, and how many malformed,
       unanswerable or over-limit SIP messages and connections were dropped.
       (ferrisk; Asterisk has no such command.)",
            move |c: Ctx| {
                let sip = sip.clone();
                async move {
                    if !c.args.is_empty() {
                        return Err(CliError::ShowUsage);
                    }
                    let (locked, known, stray) = sip.with(|core, now| {
                        let (l, k) = core.guard_stats(now);
                        (l, k, core.stray_acks)
                    });
                    let dropped = sip
                        .transport
                        .dropped
                        .load(std::sync::atomic::Ordering::Relaxed);
                    Ok(format!(
                        "Sources locked out now:        {locked}\n\
                         Sources/accounts remembered:   {known}\n\
                         Messages/connections dropped:  {dropped}\n\
                         ACKs matching no call:         {stray}\n"
                    ))
                }
            },
        ));
    }
    super::channelstats::register(r, sip.clone());
    super::show::register(r, sip);
}

fn set_debug(c: &Ctx, sip: &Arc<SipShared>) -> Result<String, CliError> {
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["on"] => {
            let was = std::mem::replace(&mut *sip.debug.lock(), DebugMode::All);
            Ok(crate::channels::sip::format::format_debug_on(
                was != DebugMode::Off,
            ))
        }
        ["off"] => {
            *sip.debug.lock() = DebugMode::Off;
            Ok(crate::channels::sip::format::format_debug_off())
        }
        ["ip", addr] => {
            let (ip, port) = match addr.parse::<SocketAddr>() {
                Ok(sa) => (sa.ip(), Some(sa.port())),
                Err(_) => match addr.parse::<IpAddr>() {
                    Ok(ip) => (ip, None),
                    Err(_) => return Err(CliError::ShowUsage),
                },
            };
            *sip.debug.lock() = DebugMode::Ip(ip, port);
            Ok(crate::channels::sip::format::format_debug_ip(addr))
        }
        ["peer", name] => {
            let found = sip.with(|core, now| {
                core.peer_contacts(name, now)
                    .into_iter()
                    .find_map(|(_, src, _)| src)
                    .or_else(|| {
                        let cfg = core.cfg.clone();
                        cfg.peer(name).and_then(|p| match &p.host {
                            crate::channels::sipconf::Host::Ip(ip) => {
                                Some(SocketAddr::new(*ip, p.port.unwrap_or(5060)))
                            }
                            _ => None,
                        })
                    })
            });
            match found {
                Some(sa) => {
                    *sip.debug.lock() = DebugMode::Ip(sa.ip(), Some(sa.port()));
                    Ok(crate::channels::sip::format::format_debug_ip(
                        &sa.to_string(),
                    ))
                }
                None => Ok(crate::channels::sip::format::format_debug_no_such_peer(
                    name,
                )),
            }
        }
        _ => Err(CliError::ShowUsage),
    }
}
