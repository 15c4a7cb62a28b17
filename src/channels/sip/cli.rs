//! `sip …` CLI commands: reload, debug, qualify, and the `sip show …` family.

use super::{DebugMode, SipShared};
use crate::cli::{CliError, CliState, Command, Ctx};
use crate::sip::transport::Proto;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A message as `sip set debug` prints it.
pub fn format_debug_message(
    outgoing: bool,
    proto: Proto,
    peer: SocketAddr,
    bytes: &[u8],
) -> String {
    let text = String::from_utf8_lossy(bytes);
    if outgoing {
        format!("<--- Transmitting (no NAT) to {peer} --->\n{text}\n<------------>")
    } else {
        format!(
            "\n<--- SIP read from {}:{peer} --->\n{text}\n<------------->",
            proto.as_str()
        )
    }
}

/// `sip reload` text (also used by `core reload` / `module reload chan_sip.so`).
pub fn reload_text(state: &CliState, sip: &Arc<SipShared>) -> String {
    match super::reload(&state.pbx, sip) {
        Ok(warnings) => {
            for w in warnings {
                state.pbx.warning(&format!("chan_sip.c: {w}"));
            }
            state.pbx.verbose_line(2, "SIP reloaded");
            String::new()
        }
        Err(errs) => {
            let mut out = String::new();
            for e in &errs {
                out.push_str(&format!("{e}\n"));
                state.pbx.error(&format!("chan_sip.c: {e}"));
            }
            out.push_str("sip.conf has errors: the running SIP configuration is kept.\n");
            out
        }
    }
}

/// Register the `sip` commands.
pub fn register(state: &Arc<CliState>, sip: Arc<SipShared>) {
    let r = &state.registry;
    {
        let sip = sip.clone();
        r.register(Command::new(
            "sip reload",
            "Reload SIP configuration",
            "Usage: sip reload\n       Reloads SIP configuration from sip.conf",
            move |c: Ctx| {
                let sip = sip.clone();
                async move { Ok(reload_text(&c.state, &sip)) }
            },
        ));
    }
    {
        let weak_state = Arc::downgrade(state);
        let sip = sip.clone();
        state.pbx.reloaders.write().push((
            "chan_sip",
            Arc::new(move || match weak_state.upgrade() {
                Some(st) => reload_text(&st, &sip),
                None => String::new(),
            }),
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
                        Ok(format!("Peer '{name}' not found\n"))
                    }
                }
            },
        ));
    }
    super::show::register(state, sip);
}

fn set_debug(c: &Ctx, sip: &Arc<SipShared>) -> Result<String, CliError> {
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["on"] => {
            *sip.debug.lock() = DebugMode::All;
            Ok("SIP Debugging enabled\n".into())
        }
        ["off"] => {
            *sip.debug.lock() = DebugMode::Off;
            Ok("SIP Debugging Disabled\n".into())
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
            Ok(format!("SIP Debugging Enabled for IP: {addr}\n"))
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
                    Ok(format!("SIP Debugging Enabled for IP: {sa}\n"))
                }
                None => Ok(format!("Unable to get IP address of peer '{name}'\n")),
            }
        }
        _ => Err(CliError::ShowUsage),
    }
}
