//! Channel and message technologies, as the core sees them: a driver module (`chan_sip.so`,
//! `chan_local.so`) registers a [`Driver`] under its technology name, and [`request`] turns
//! `Tech/data` (from `Dial`, `Originate`, the CLI) into an outbound [`Channel`] through the
//! registry. The core never names a driver.

use super::channel::cause;
use super::message::Msg;
use super::{Channel, Pbx};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What [`Driver::prepare`] returns.
pub type Prepare<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Why a channel could not be created: a hangup cause and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub cause: i32,
    pub msg: String,
}

/// A channel technology that can create outbound legs (`Dial(SIP/…)`, `Local/…`).
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
    /// Make `data` ready before [`Driver::request`], off any lock: chan_sip reads a peer
    /// from realtime storage here. Most drivers have nothing to do.
    fn prepare<'a>(&'a self, _pbx: &'a Arc<Pbx>, _data: &'a str) -> Prepare<'a> {
        Box::pin(std::future::ready(()))
    }
    /// The state of the device `Tech/resource` (Asterisk's `devicestate` callback). `None`
    /// or `Unknown`: the core derives it from the device's channels.
    fn device_state(&self, _pbx: &Pbx, _resource: &str) -> Option<super::devstate::DeviceState> {
        None
    }
    /// The call completion options of the device `Tech/resource` (`cc_*` in sip.conf),
    /// `None` when the driver has none ([`super::ccss`]).
    fn cc_params(&self, _pbx: &Pbx, _resource: &str) -> Option<super::ccss::CcParams> {
        None
    }
}

/// A message technology (`MessageSend(sip:…)`, later `xmpp:`): Asterisk's `ast_msg_tech`.
pub trait MessageTech: Send + Sync {
    /// The URI scheme it handles (`sip`).
    fn name(&self) -> &'static str;
    /// Send `msg` to `to` (the destination after the `tech:` prefix, e.g. `1000` or
    /// `1000@host`, or a peer name) with `from` as the sender (empty: the message's own).
    fn send_message(&self, msg: &Msg, to: &str, from: &str) -> Result<(), String>;
    /// Make `to` ready before [`MessageTech::send_message`], off any lock: chan_sip looks a
    /// host name up here. Most technologies have nothing to do.
    fn prepare<'a>(&'a self, _to: &'a str) -> Prepare<'a> {
        Box::pin(std::future::ready(()))
    }
}

/// An outbound leg that has been created but not yet called.
pub struct Outbound {
    pub chan: Channel,
    /// Start the call (for Local: start the `;2` half's dialplan).
    pub call: Box<dyn FnOnce() + Send>,
}

/// Let the driver of `Tech/data` get ready for it (see [`Driver::prepare`]); call before
/// [`request`] where waiting is possible (Dial, Originate, the CLI).
pub async fn prepare(pbx: &Arc<Pbx>, dest: &str) {
    let Some((tech, data)) = dest.split_once('/') else {
        return;
    };
    if let Some(e) = pbx.techs.entry(tech) {
        e.item.prepare(pbx, data).await;
    }
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
    match pbx.techs.entry(tech) {
        Some(e) => e.item.request(pbx, data, requester),
        None => Err(RequestError {
            cause: 66,
            msg: format!(
                "Unable to create channel of type '{tech}' (cause 66 - Channel not implemented)"
            ),
        }),
    }
}
