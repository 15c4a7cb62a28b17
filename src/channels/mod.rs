//! Channel drivers: the modules `chan_local.so` ([`local`]) and `chan_sip.so` ([`sip`]).
//! Each registers a [`Driver`] (and chan_sip a [`MessageTech`]) with the core at load, so
//! that adding one never touches `Dial()`; the interface lives in [`crate::pbx::tech`].

pub mod local;
pub mod sip;
pub mod sipconf;

pub use crate::pbx::tech::{prepare, request, Driver, MessageTech, Outbound, RequestError};
