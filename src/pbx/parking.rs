//! Call parking as the core offers it to every module (Asterisk's `ast_parking_*` API in
//! `parking.h`): the module that parks calls (`res_parking.so`) installs a
//! [`ParkingService`]; the in-call `parkcall` feature, a blind transfer to a lot's `parkext`
//! or any other module parks a channel through [`service`] without knowing res_parking.
//!
//! The core only defines the interface; lots, spaces and timeouts are the module's.

use super::{Channel, Pbx};
use std::sync::Arc;
use std::time::Duration;

/// How to park a channel (Park()'s options, as the features use them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParkOptions {
    /// The lot (empty: the channel's `PARKINGLOT`, then `default`).
    pub lot: String,
    /// The channel that parks the call (its name: `SIP/1000-00000001`): a timed-out call
    /// comes back to it (`comebacktoorigin`). Empty: the parked channel itself.
    pub parker: String,
    /// Instead of the lot's `parkingtime` (Park()'s `t`; zero: no timeout).
    pub timeout: Option<Duration>,
    /// Where a timed-out call goes instead of the lot's comeback (`[[context,]exten,]priority`,
    /// Park()'s `c`).
    pub comeback: Option<String>,
    /// Ringing instead of hold music (Park()'s `r`).
    pub ringing: bool,
    /// A random free space instead of the lot's `findslot` (Park()'s `R`).
    pub randomize: bool,
    /// Hold music class instead of the lot's `parkedmusicclass`.
    pub moh_class: Option<String>,
}

/// Where a call was parked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedAt {
    pub lot: String,
    pub space: u32,
}

/// Why a call could not be parked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkError {
    /// No such lot (and dynamic lots are off).
    NoLot(String),
    /// Every space of the lot is taken.
    Full(String),
}

impl std::fmt::Display for ParkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParkError::NoLot(l) => write!(f, "Could not find parking lot: '{l}'"),
            ParkError::Full(l) => write!(f, "Failed to get parking space in lot '{l}'. All full."),
        }
    }
}

/// What [`Parking::park_self`] returns: `true` to continue in the dialplan.
pub type ParkFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// What a parking module does for others.
pub trait Parking: Send + Sync {
    /// Park `chan`, which the caller owns and hands over (a bridged peer the `parkcall`
    /// feature parks): the lot keeps it (hold music, timeout, retrieval by ParkedCall)
    /// and hangs it up or sends it to its comeback place. The caller announces the space
    /// to the parker itself if it wants to (Asterisk says the digits to the parker).
    /// When it cannot be parked the channel comes back with the reason.
    fn park_channel(
        &self,
        chan: Channel,
        opts: ParkOptions,
    ) -> Result<ParkedAt, (ParkError, Box<Channel>)>;
    /// Park `chan` on the task that owns it (the `parkcall` feature parking the party
    /// whose task runs the bridge, the AMI `Park` action): `parked` gets the space as soon
    /// as it is taken (or why not), then the call stays parked. The future ends `false`
    /// when it was retrieved (and that bridge is over) or hung up — hang it up — and
    /// `true` when its time ran out: it stands at its comeback place, run the dialplan.
    fn park_self<'a>(
        &'a self,
        chan: &'a mut Channel,
        opts: ParkOptions,
        parked: tokio::sync::oneshot::Sender<Result<ParkedAt, ParkError>>,
    ) -> ParkFuture<'a>;
    /// The lot whose parking extension (`parkext`) is `exten@context`, if any: a blind
    /// transfer there parks the transferred call.
    fn parkext_lot(&self, context: &str, exten: &str) -> Option<String>;
    /// The parked calls of `lot` (empty: every lot): (lot, space, channel name).
    fn parked(&self, lot: &str) -> Vec<(String, u32, String)>;
    /// Whether `space@context` holds a parked call (the `park:` device state).
    fn space_in_use(&self, space_at_context: &str) -> bool;
}

/// The installed parking (a service, [`Pbx::service`]).
pub struct ParkingService(pub Arc<dyn Parking>);

/// The parking a loaded module provides (`None`: res_parking is not loaded).
pub fn service(pbx: &Pbx) -> Option<Arc<dyn Parking>> {
    pbx.service::<ParkingService>().map(|s| s.0.clone())
}
