//! Asterisk's own extensions.conf.sample and every dialplan of the seed chapter load
//! through the real config loader with zero errors; what is not implemented yet is
//! reported once per name.

use ferrisk::config::{load, LoadOptions};
use ferrisk::dialplan::parse_dialplan;

#[test]
fn sample_and_seed_dialplans_load_with_zero_errors() {
    for path in ferrisk::dialplan::parser::fixture_paths() {
        let dir = path.parent().expect("fixture dir");
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let cf = load(dir, &name, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: config error: {e}"));
        let (dp, report) = parse_dialplan(&cf).unwrap_or_else(|errs| {
            panic!(
                "{name}: {}",
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(dp.contexts.len() > 3, "{name}: too few contexts");
        for w in &report.warnings {
            eprintln!("{name}: warning: {w}");
        }
        let pbx = ferrisk::modules::test_pbx();
        let mut rx = pbx.log_tx.subscribe();
        ferrisk::pbx_config::warn_unknown_apps(&pbx, &dp);
        let mut missing = Vec::new();
        while let Ok(l) = rx.try_recv() {
            missing.push(l.text);
        }
        // Each name once.
        let mut names: Vec<&str> = missing
            .iter()
            .filter_map(|l| l.split('\'').nth(1))
            .collect();
        let before = names.len();
        names.sort();
        names.dedup();
        assert_eq!(
            before,
            names.len(),
            "{name}: a missing name was reported twice"
        );
        eprintln!("{name}: not implemented yet: {}", names.join(", "));
    }
}

#[test]
fn seed_chapter_reports_its_future_apps() {
    let path = ferrisk::dialplan::parser::fixture_paths()
        .into_iter()
        .find(|p| p.ends_with("seed_chapter.conf"))
        .expect("seed fixture");
    let cf = load(
        path.parent().expect("dir"),
        "seed_chapter.conf",
        &LoadOptions::default(),
    )
    .expect("loads");
    let (dp, _) = parse_dialplan(&cf).expect("parses");
    let pbx = ferrisk::modules::test_pbx();
    let mut rx = pbx.log_tx.subscribe();
    ferrisk::pbx_config::warn_unknown_apps(&pbx, &dp);
    let mut all = String::new();
    while let Ok(l) = rx.try_recv() {
        all.push_str(&l.text);
        all.push('\n');
    }
    // XMPP and calendar pieces come with later issues.
    for future in ["JabberSend", "CALENDAR_BUSY"] {
        assert!(
            all.contains(&format!("'{future}'")),
            "{future} not reported:\n{all}"
        );
    }
    // Implemented ones are not reported.
    for done in [
        "'Dial'",
        "'Playback'",
        "'Set'",
        "'GotoIf'",
        "'FILTER'",
        "'CUT'",
        "'DB_EXISTS'",
        "'VoiceMail'",
    ] {
        assert!(!all.contains(done), "{done} wrongly reported");
    }
}

/// The sample configuration in etc/ (what README's first command runs) loads cleanly.
#[test]
fn etc_samples_load_with_zero_errors() {
    let etc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("etc");
    let opts = LoadOptions::default();
    let load_etc = |name: &str| load(&etc, name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (dp, _) = parse_dialplan(&load_etc("extensions.conf")).expect("extensions.conf");
    // Every module loaded with etc/'s own config files, as README's command runs them (a
    // module that needs its file, as app_queue does queues.conf, declines without it).
    let pbx = ferrisk::pbx::Pbx::new(
        ferrisk::config::settings::Settings::defaults_for(&etc.join("ferrisk.conf")),
        ferrisk::astdb::AstDb::open_in_memory().expect("in-memory astdb"),
    );
    ferrisk::modules::load_for_tests(&pbx);
    let mut rx = pbx.log_tx.subscribe();
    ferrisk::pbx_config::warn_unknown_apps(&pbx, &dp);
    if let Ok(l) = rx.try_recv() {
        panic!("etc/extensions.conf: {}", l.text);
    }
    let (sip, w) = ferrisk::channels::sipconf::parse_sip_conf(&load_etc("sip.conf"))
        .unwrap_or_else(|e| panic!("sip.conf: {e:?}"));
    assert!(w.is_empty(), "sip.conf warnings: {w:?}");
    let (vm, w) = ferrisk::voicemail::config::parse_voicemail_conf(&load_etc("voicemail.conf"))
        .unwrap_or_else(|e| panic!("voicemail.conf: {e:?}"));
    assert!(w.is_empty(), "voicemail.conf warnings: {w:?}");
    let mods = ferrisk::config::modules::ModulesConf::parse(&load_etc("modules.conf"))
        .unwrap_or_else(|e| panic!("modules.conf: {e}"));
    let names: Vec<&str> = pbx.modules.available().iter().map(|i| i.name).collect();
    let plan = mods
        .plan(&names)
        .unwrap_or_else(|e| panic!("modules.conf: {e}"));
    assert!(plan.iter().any(|p| p.name == "app_voicemail.so"));
    // Every phone's mailbox= names a mailbox.
    for p in sip.peers.values() {
        for m in &p.mailboxes {
            assert!(
                vm.mailbox(&format!("{}@{}", m.mailbox, m.context))
                    .is_some(),
                "sip.conf peer {} points at mailbox {}@{} which voicemail.conf lacks",
                p.name,
                m.mailbox,
                m.context
            );
        }
    }
}
