//! The XMPP client protocol (RFC 6120/6121) without I/O, for `res_xmpp.so`: [`xml`] cuts
//! the stream into stanzas and builds them, [`sasl`] authenticates (SCRAM-SHA-1, PLAIN,
//! legacy digest), [`session`] is the client state machine (login, roster, presence,
//! pings, messages). Nothing here opens a socket, reads a clock or knows the PBX.

pub mod sasl;
pub mod session;
pub mod xml;

pub use session::{Incoming, Output, Session, SessionConfig, Show, State};
