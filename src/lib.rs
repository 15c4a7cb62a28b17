//! ferrisk: an Asterisk-compatible PBX engine.
//!
//! The binary (`src/main.rs`) is a thin shell over this library. Parts, one folder each
//! (the layering rules are in `docs/architecture.md` and checked by a test):
//! - the composition root: `daemon` (start-up, shutdown) and `modules` (the module list);
//! - the core, `pbx`: channels executing the dialplan, the registries modules fill, the
//!   module loader and the event bus;
//! - modules (Asterisk's `.so` names): `apps` and `funcs` (application and function
//!   families), `channels` (`chan_local`, `chan_sip`), `voicemail` (`app_voicemail`),
//!   `cdr` (`cdr_csv`), `pbx_config` (the dialplan from `extensions.conf`), `res` (resource
//!   modules: `res_config_sqlite3`);
//! - the console, `cli`: the dispatcher, remote console and the core's own commands;
//! - pure dialplan and config: `dialplan`, `config`, `astdb`;
//! - protocol libraries: `sip`, `media`, `xmpp`; network helpers: `net` (TLS clients).

pub mod apps;
pub mod astdb;
pub mod calendar;
pub mod cdr;
pub mod channels;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dialplan;
pub mod funcs;
pub mod fuzzing;
pub mod logger;
pub mod manager;
pub mod media;
pub mod modules;
pub mod net;
pub mod pbx;
pub mod pbx_config;
pub mod res;
pub mod sip;
pub mod voicemail;
pub mod xmpp;

#[cfg(test)]
mod testutil;
