//! followme.conf parsing (defaults, [general] inheritance, number lines, the spellings,
//! errors with file:line:column), the accept/decline keys, and a reload keeping the old
//! profiles when the file has errors.

use super::app::{decide, verdict_name};
use super::config::{parse, FollowMeConf, Prompts};
use crate::config::join_errors;

fn conf(text: &str) -> Result<FollowMeConf, String> {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("followme.conf"), text).expect("write");
    let cf = crate::config::load(d.path(), "followme.conf", &Default::default()).expect("load");
    parse(&cf).map_err(|e| join_errors(&e))
}

#[test]
fn defaults_and_general_inheritance() {
    let c = conf(
        "[sales]\nnumber => 101\n[general]\nfeaturedigittimeout => 3000\ntakecall => 5\n\
         declinecall=>#9\ncall-from-prompt => my/from\nnorecording_prompt=>\nconnecting_prompt => hello\n\
         enable_callee_prompt => no\n",
    )
    .expect("ok");
    assert_eq!(c.general.featuredigittimeout, 3000);
    let p = c.profile("SALES").expect("profile, case-insensitive");
    assert_eq!(p.musicclass, "default");
    assert_eq!(p.context, "");
    assert_eq!(p.prompts.takecall, "5");
    assert_eq!(p.prompts.declinecall, "#9");
    assert_eq!(p.prompts.call_from, "my/from");
    // An empty [general] value keeps the built-in default.
    assert_eq!(p.prompts.norecording, "followme/no-recording");
    assert_eq!(p.prompts.options, "followme/options");
    assert_eq!(p.prompts.pls_hold, "followme/pls-hold-while-try");
    assert_eq!(p.prompts.status, "followme/status");
    assert_eq!(p.prompts.sorry, "followme/sorry");
    assert_eq!(p.prompts.connecting, "hello");
    assert!(!p.prompts.enable_callee_prompt);
    let d = Prompts::default();
    assert_eq!((d.takecall.as_str(), d.declinecall.as_str()), ("1", "2"));
    assert!(d.enable_callee_prompt && d.connecting.is_empty());
    assert_eq!(conf("").expect("empty").general.featuredigittimeout, 5000);
}

#[test]
fn profile_numbers_orders_and_overrides() {
    let c = conf(
        "[default]\nmusiconhold=>jazz\ncontext=>fm\nnumber=>01233456,25\nnumber => 201&202 , 10\n\
         number=>300,-5,1\nnumber=>400\nnumber=>500,7,9\ntakecall=>*1\nfollowme-options-prompt=>opts\n\
         sorry_prompt=>gone\n[other]\nmusic=>rock\n",
    )
    .expect("ok");
    let p = c.profile("default").expect("default");
    assert_eq!(p.musicclass, "jazz");
    assert_eq!(p.context, "fm");
    let n: Vec<(String, u64, u32)> = p
        .numbers
        .iter()
        .map(|n| (n.number.clone(), n.timeout, n.order))
        .collect();
    assert_eq!(
        n,
        [
            ("01233456".to_string(), 25, 1),
            ("201&202".to_string(), 10, 2),
            ("300".to_string(), 25, 1),
            ("400".to_string(), 25, 4),
            ("500".to_string(), 7, 9),
        ]
    );
    // A step is the first line of its order; the extensions of a line ring together.
    assert_eq!(p.step(1).map(|n| n.number.as_str()), Some("01233456"));
    let s2: Vec<&str> = p.step(2).expect("step 2").extens().collect();
    assert_eq!(s2, ["201", "202"]);
    assert!(p.step(3).is_none());
    assert_eq!(p.prompts.takecall, "*1");
    assert_eq!(p.prompts.options, "opts");
    assert_eq!(p.prompts.sorry, "gone");
    assert_eq!(c.profile("other").expect("other").musicclass, "rock");
}

#[test]
fn errors_name_file_line_and_column() {
    let e = conf("[general]\nfeaturedigittimeout=>soon\n").unwrap_err();
    assert!(e.contains("followme.conf:2:"), "{e}");
    assert!(e.contains("featuredigittimeout"), "{e}");
    let e = conf("[p]\ncontext=>x\nnumber=>101,abc\n").unwrap_err();
    assert!(e.contains("followme.conf:3:"), "{e}");
    assert!(e.contains("timeout 'abc'"), "{e}");
    let e = conf("[p]\n\n\nbogus=>1\n").unwrap_err();
    assert!(e.contains("followme.conf:4:"), "{e}");
    assert!(e.contains("unknown keyword 'bogus' in profile 'p'"), "{e}");
    let e = conf("[p]\ntakecall=>x\n").unwrap_err();
    assert!(e.contains("followme.conf:2:") && e.contains("DTMF"), "{e}");
    let e = conf("[general]\nwhatever=>1\n").unwrap_err();
    assert!(e.contains("in [general]"), "{e}");
    let e = conf("[p]\nnumber=>,5\n").unwrap_err();
    assert!(e.contains("followme.conf:2:"), "{e}");
}

#[test]
fn keys_match_at_the_end_of_what_was_pressed() {
    let p = Prompts::default();
    assert_eq!(verdict_name(decide("1", &p)), "accept");
    assert_eq!(verdict_name(decide("2", &p)), "decline");
    assert_eq!(verdict_name(decide("3", &p)), "none");
    assert_eq!(verdict_name(decide("391", &p)), "accept");
    let p = Prompts {
        takecall: "*1".into(),
        declinecall: "#2".into(),
        ..Prompts::default()
    };
    assert_eq!(verdict_name(decide("1", &p)), "none");
    assert_eq!(verdict_name(decide("9*1", &p)), "accept");
    assert_eq!(verdict_name(decide("#2", &p)), "decline");
}

#[test]
fn reload_with_errors_keeps_the_profiles() {
    use crate::config::settings::Settings;
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("followme.conf"), "[a]\nnumber=>1\n").expect("write");
    let mut settings = Settings::defaults_for(std::path::Path::new("/nonexistent/ferrisk.conf"));
    settings.astetcdir = d.path().to_path_buf();
    let db = crate::astdb::AstDb::open_in_memory().expect("astdb");
    let pbx = crate::pbx::Pbx::new(settings, db);
    crate::modules::load_for_tests(&pbx);
    let p = pbx
        .service::<super::Profiles>()
        .expect("app_followme.so loaded");
    assert!(p.conf.read().profile("a").is_some());
    assert!(pbx.apps.get("FollowMe").is_some());
    std::fs::write(d.path().join("followme.conf"), "[b]\nnumber=>1,x\n").expect("write");
    let e = super::reload(&pbx).unwrap_err();
    assert!(e.contains("followme.conf:2:"), "{e}");
    assert!(p.conf.read().profile("a").is_some());
    std::fs::write(d.path().join("followme.conf"), "[b]\nnumber=>1\n").expect("write");
    super::reload(&pbx).expect("reload");
    assert!(p.conf.read().profile("a").is_none());
    assert!(p.conf.read().profile("b").is_some());
}
