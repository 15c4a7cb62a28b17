//! The composition root's list of compiled-in modules, in load order. `daemon.rs` hands it
//! to the core's module loader, and `modules.conf` decides which of them load. Adding a
//! module is one line here (plus its own folder or file).

use crate::pbx::module::Module;
use crate::pbx::Pbx;
use std::sync::Arc;

/// Every module ferrisk ships, in load order: realtime engines first (others may read
/// through them), functions and applications, resources, channel drivers, and the
/// dialplan last (so that its
/// "not implemented" warnings see every loaded application).
pub fn all() -> Vec<Arc<dyn Module>> {
    let mut v: Vec<Arc<dyn Module>> = vec![
        Arc::new(crate::res::config_sqlite3::ResConfigSqlite3),
        Arc::new(crate::res::config_ldap::ResConfigLdap),
        Arc::new(crate::res::config_pgsql::ResConfigPgsql),
        Arc::new(crate::res::security_log::ResSecurityLog::default()),
    ];
    v.extend(crate::funcs::modules());
    v.push(Arc::new(crate::voicemail::funcs::FUNC_VMCOUNT));
    v.extend(crate::apps::modules());
    v.push(Arc::new(crate::calendar::ResCalendar::new()));
    v.push(Arc::new(crate::calendar::RES_CALENDAR_CALDAV));
    v.push(Arc::new(crate::calendar::RES_CALENDAR_ICALENDAR));
    v.push(Arc::new(crate::res::xmpp::ResXmpp));
    v.push(Arc::new(crate::res::agi::ResAgi));
    v.push(Arc::new(crate::res::parking::ResParking));
    v.push(Arc::new(crate::cdr::CdrCsv));
    v.push(Arc::new(crate::cdr::pgsql::CdrPgsql));
    v.push(Arc::new(crate::manager::Manager::default()));
    v.push(Arc::new(crate::channels::local::ChanLocal));
    v.push(Arc::new(crate::channels::sip::ChanSip::default()));
    v.push(Arc::new(crate::voicemail::AppVoicemail));
    v.push(Arc::new(crate::pbx_config::PbxConfig));
    v
}

/// A PBX for tests with every module's registrations loaded (no sockets, no tasks, no
/// dialplan file): the applications, functions, commands and services.
pub fn test_pbx() -> Arc<Pbx> {
    let pbx = Pbx::for_tests();
    load_for_tests(&pbx);
    pbx
}

/// Load every module's registrations into `pbx` as [`test_pbx`] does.
pub fn load_for_tests(pbx: &Arc<Pbx>) {
    pbx.modules.set_available(all());
    for m in all() {
        let name = m.info().name;
        if name == "chan_sip.so" || name == "pbx_config.so" {
            continue;
        }
        let _ = pbx.modules.load_sync(pbx, name);
    }
}

/// A console state on [`test_pbx`] with the console's own commands.
pub fn test_state() -> Arc<crate::pbx::cli::CliState> {
    crate::cli::new_state(test_pbx())
}
