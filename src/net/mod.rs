//! Network helpers shared by the modules that connect to other servers.

pub mod dns;
pub mod tls;
