//! Resource modules: Asterisk's `res_*` modules that other modules build on (realtime engines
//! first). Each file (or folder: `xmpp/`) is one module and registers what it provides with the PBX's registries;
//! nothing in `pbx/` names a resource module.

pub mod agi;
pub mod config_ldap;
pub mod config_pgsql;
pub mod config_sqlite3;
pub mod parking;
pub mod pgsql;
pub mod security_log;
pub mod xmpp;
