//! ferrisk: an Asterisk-compatible PBX engine.
//!
//! The binary (`src/main.rs`) is a thin shell over this library. Subsystems, one folder each:
//! `config` (the .conf loader), `dialplan` (data + pure logic), `pbx` (channels executing the
//! dialplan), `apps` and `funcs` (one trait implementation each), `channels` (channel drivers),
//! `astdb`, `cdr`, `cli` (console commands, remote console), `res` (resource modules such as
//! realtime engines).

pub mod apps;
pub mod astdb;
pub mod cdr;
pub mod channels;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dialplan;
pub mod funcs;
pub mod media;
pub mod pbx;
pub mod res;
pub mod sip;
pub mod voicemail;

#[cfg(test)]
mod testutil;
