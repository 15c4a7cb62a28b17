//! Channel drivers. A driver turns `Tech/data` (from `Dial`, `Originate`, the CLI) into an
//! outbound [`Channel`] whose far side reports through [`crate::pbx::ChanEvent`]s.
//! Only `Local` exists so far; SIP comes with its own issue.

pub mod local;
pub mod sipconf;

use crate::pbx::channel::cause;
use crate::pbx::{Channel, Pbx};
use std::sync::Arc;

/// Why a channel could not be created: a hangup cause and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub cause: i32,
    pub msg: String,
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
        _ => Err(RequestError {
            cause: 66,
            msg: format!(
                "Unable to create channel of type '{tech}' (cause 66 - Channel not implemented)"
            ),
        }),
    }
}
