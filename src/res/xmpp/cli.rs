//! res_xmpp's console commands, with its words and layout: `xmpp show connections`,
//! `xmpp show buddies`, `xmpp set debug {on|off}`, `xmpp purge nodes <connection> <node>`.

use super::Xmpp;
use crate::pbx::cli::{filter_prefix, CliError, Command, CommandRegistry, Ctx};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn xmpp(c: &Ctx) -> Option<Arc<Xmpp>> {
    super::of(c.pbx())
}

/// `xmpp show connections`.
pub fn connections_text(x: &Xmpp) -> String {
    let mut out = String::from("Jabber Users and their status:\n");
    let clients = x.clients();
    for c in &clients {
        let state = c.with_session(|s| s.state().label());
        out.push_str(&format!(
            "       [{}] {}     - {state}\n",
            c.name,
            c.config().username
        ));
    }
    out.push_str("----\n");
    out.push_str(&format!("   Number of clients: {}\n", clients.len()));
    out
}

/// `xmpp show buddies`.
pub fn buddies_text(x: &Xmpp) -> String {
    let mut out = String::from("XMPP buddy lists\n");
    for c in x.clients() {
        out.push_str(&format!("Client: {}\n", c.name));
        let buddies = c.with_session(|s| s.buddies().to_vec());
        for b in buddies {
            out.push_str(&format!("\tBuddy:\t{}\n", b.jid));
            for r in &b.resources {
                out.push_str(&format!("\t\tResource: {}\n", r.name));
                out.push_str(&format!("\t\t\tnode: {}\n", r.node));
                out.push_str(&format!("\t\t\tversion: {}\n", r.version));
                let google = r.node.contains("google.com") || r.node.contains("android.com");
                out.push_str(&format!(
                    "\t\t\tGoogle Talk capable: {}\n",
                    if google { "yes" } else { "no" }
                ));
                out.push_str("\t\t\tJingle capable: no\n");
            }
        }
    }
    out
}

fn client_names(x: Option<Arc<Xmpp>>) -> Vec<String> {
    x.map(|x| x.clients().iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

pub fn register(r: &CommandRegistry) {
    r.register(Command::new(
        "xmpp show connections",
        "Show state of clients and components",
        "Usage: xmpp show connections\n       Shows state of client and component connections",
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            Ok(xmpp(&c).map(|x| connections_text(&x)).unwrap_or_default())
        },
    ));
    r.register(Command::new(
        "xmpp show buddies",
        "Show buddy lists of our clients",
        "Usage: xmpp show buddies\n       Shows buddy lists of our clients",
        |c: Ctx| async move {
            if !c.args.is_empty() {
                return Err(CliError::ShowUsage);
            }
            Ok(xmpp(&c).map(|x| buddies_text(&x)).unwrap_or_default())
        },
    ));
    r.register(
        Command::new(
            "xmpp set debug",
            "Enable/Disable XMPP debugging",
            "Usage: xmpp set debug {on|off}\n       Enables/disables dumping of XMPP/Jabber packets for debugging purposes.",
            |c: Ctx| async move {
                let [v] = c.args.as_slice() else {
                    return Err(CliError::ShowUsage);
                };
                let Some(x) = xmpp(&c) else {
                    return Ok(String::new());
                };
                let v = v.to_ascii_lowercase();
                if v.starts_with("on") {
                    x.debug.store(true, Ordering::Relaxed);
                    Ok("XMPP Debugging Enabled.\n".into())
                } else if v.starts_with("off") {
                    x.debug.store(false, Ordering::Relaxed);
                    Ok("XMPP Debugging Disabled.\n".into())
                } else {
                    Err(CliError::ShowUsage)
                }
            },
        )
        .complete_with(|_, a, p| match a.len() {
            0 => filter_prefix(vec!["on".to_string(), "off".to_string()], p),
            _ => vec![],
        }),
    );
    r.register(
        Command::new(
            "xmpp purge nodes",
            "Purges PubSub nodes",
            "Usage: xmpp purge nodes <connection> <node>\n       Purges nodes on PubSub server\n       as configured in xmpp.conf.",
            |c: Ctx| async move {
                let [name, node] = c.args.as_slice() else {
                    return Err(CliError::ShowUsage);
                };
                let Some(cl) = xmpp(&c).and_then(|x| x.client(name)) else {
                    return Ok(format!("Unable to find client '{name}'!\n"));
                };
                let cfg = cl.config();
                let service = if cfg.pubsub_node.is_empty() {
                    format!("pubsub.{}", cfg.domain())
                } else {
                    cfg.pubsub_node.clone()
                };
                match cl.with_session(|s| s.delete_node(&service, node)) {
                    Ok(()) => Ok(String::new()),
                    Err(why) => Ok(format!("Unable to purge node '{node}' on '{service}': {why}\n")),
                }
            },
        )
        .complete_with(|st, a, p| match a.len() {
            0 => filter_prefix(client_names(super::of(&st.pbx)), p),
            _ => vec![],
        }),
    );
}
