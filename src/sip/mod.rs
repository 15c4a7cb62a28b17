//! SIP channel driver (issue 3), built bottom-up from socket-free pieces.
//!
//! This module speaks SIP for ferrisk: digest authentication ([`auth`]) and the contact
//! registrar ([`registrar`]) so far; transports, transactions, dialogs and the channel driver
//! proper come next. Protocol logic is written as plain state machines without I/O: time is
//! always an argument (`std::time::Instant` passed in, never read inside), there are no sockets
//! and no async runtime here, so every rule is unit-testable.
//!
//! The sip module never evaluates dialplan. It decides protocol outcomes (who is authenticated,
//! which contacts are bound, which response code to send); running the dialplan for a call is the
//! PBX core's job, reached through the channel driver interface.

pub mod auth;
pub mod dialog;
pub mod guard;
pub mod message;
pub mod regclient;
pub mod registrar;
pub mod sdp;
pub mod tls;
pub mod transaction;
pub mod transport;
pub mod uri;
