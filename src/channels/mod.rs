//! Channel drivers. A driver turns `Tech/data` (from `Dial`, `Originate`, the CLI) into an
//! outbound [`Channel`] whose far side reports through [`crate::pbx::ChanEvent`]s.
//! `Local` is built in; other technologies (SIP, …) register a [`Driver`] with the PBX
//! ([`crate::pbx::Pbx::register_driver`]) so that adding one never touches `Dial()`.

pub mod local;
pub mod sip;
pub mod sipconf;

use crate::pbx::channel::cause;
use crate::pbx::message::Msg;
use crate::pbx::{Channel, Pbx};
use std::sync::Arc;

/// Why a channel could not be created: a hangup cause and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub cause: i32,
    pub msg: String,
}

/// A channel technology that can create outbound legs and, optionally, send out-of-call
/// messages (`MessageSend`).
pub trait Driver: Send + Sync {
    /// Technology name as used in dial strings (`SIP`).
    fn tech(&self) -> &'static str;
    /// Create an outbound leg for `data` (what followed `Tech/`).
    fn request(
        &self,
        pbx: &Arc<Pbx>,
        data: &str,
        requester: Option<&Channel>,
    ) -> Result<Outbound, RequestError>;
    /// Send `msg` to `to` (the destination after the `tech:` prefix, e.g. `1000` or
    /// `1000@host`, or a peer name) with `from` as the sender (empty: the message's own).
    fn send_message(&self, _msg: &Msg, to: &str, _from: &str) -> Result<(), String> {
        Err(format!("{} cannot send messages (to '{to}')", self.tech()))
    }
}

/// An outbound leg that has been created but not yet called.
pub struct Outbound {
    pub chan: Channel,
    /// Start the call (for Local: start the `;2` half's dialplan).
    pub call: Box<dyn FnOnce() + Send>,
}

/// Create an outbound channel for `Tech/data`. `requester` (the dialing channel) passes
/// on inheritable variables, language and account code.
pub fn request(
    pbx: &Arc<Pbx>,
    dest: &str,
    requester: Option<&Channel>,
) -> Result<Outbound, RequestError> {
    let (tech, data) = match dest.split_once('/') {
        Some((t, d)) => (t, d),
        None => {
            return Err(RequestError {
                cause: cause::CHANNEL_UNACCEPTABLE,
                msg: format!("Dial argument takes format (technology/resource), not '{dest}'"),
            })
        }
    };
    match tech.to_ascii_lowercase().as_str() {
        "local" => local::request(pbx, data, requester),
        t => match pbx.driver(t) {
            Some(d) => d.request(pbx, data, requester),
            None => Err(RequestError {
                cause: 66,
                msg: format!(
                "Unable to create channel of type '{tech}' (cause 66 - Channel not implemented)"
            ),
            }),
        },
    }
}
