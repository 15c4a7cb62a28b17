//! Page() (`app_page.so`): call a list of devices at once and put every one that answers
//! into a new ConfBridge conference with the caller, as Asterisk 20 does: the paged phones
//! join muted (they only listen, unless `d`) and leave when the caller (the conference's
//! marked user) does. The profiles are set with `CONFBRIDGE()`'s dynamic profile datastore
//! ([`super::conference::admin::DynamicProfiles`]); the calls are placed through the core's
//! origination ([`crate::pbx::originate`]), each in its own task.

use super::conference::admin::{DynamicProfiles, DYNAMIC_PROFILES};
use super::{args, playback, App, AppResult};
use crate::pbx::devstate::{device_state, DeviceState};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::originate::{self, Request, Target};
use crate::pbx::{exec, Channel};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_page.so", "Page Multiple Phones"),
    register: register_app_page,
}];

fn register_app_page(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Page));
}

/// The dynamic user profile of a paged phone (`setup_profile_paged`).
pub fn paged_profile(duplex: bool) -> DynamicProfiles {
    let mut p = DynamicProfiles::default();
    p.user.insert("quiet".into(), "yes".into());
    p.user.insert("end_marked".into(), "yes".into());
    if !duplex {
        p.user.insert("startmuted".into(), "yes".into());
    }
    p
}

/// The dynamic user profile of the caller (`setup_profile_caller`).
pub fn caller_profile() -> DynamicProfiles {
    let mut p = DynamicProfiles::default();
    p.user.insert("quiet".into(), "yes".into());
    p.user.insert("marked".into(), "yes".into());
    p
}

/// The devices to page: `&`-separated, blanks and the caller's own device skipped, a
/// destination without `/` warned about and skipped.
pub fn destinations(devices: &str, originator: &str, warn: impl Fn(&str)) -> Vec<String> {
    devices
        .split('&')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case(originator))
        .filter(|d| {
            let ok = d.contains('/');
            if !ok {
                warn(&format!("Incomplete destination: '{d}' supplied."));
            }
            ok
        })
        .map(str::to_string)
        .collect()
}

struct Page;

#[async_trait]
impl App for Page {
    app_meta!(
        "Page",
        "Page series of phones",
        "Page(Technology/Resource[&Technology2/Resource2[&...]][,options[,timeout]])",
        "Places outbound calls to the given technology/resource and dumps them into a conference bridge as muted participants. The original caller is dumped into the conference as a speaker and the room is destroyed when the original caller leaves. Options: d (full duplex audio: the paged phones may talk), i (ignore attempts to forward the call), q (quiet, do not play beep to caller), s (only dial a channel if its device state says that it is NOT_INUSE). Accepted without effect: b(context^exten^priority) and B(...) (Gosub before the calls), r (record), A(x) (announcement) and n. timeout: seconds to wait for each phone to answer."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        if pbx.apps.get("ConfBridge").is_none() {
            pbx.warning("app_page.c: There is no ConfBridge application available!");
            return Err(crate::pbx::Hangup);
        }
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 1));
        let has = |c: char| opts.contains_key(&c);
        let timeout = args::nth(&a, 2)
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|t| *t > 0)
            .map(Duration::from_secs);
        let confid: u32 = rand::random();
        let room = confid.to_string();
        let originator = chan.name().split('-').next().unwrap_or("").to_string();
        let devices = destinations(args::nth(&a, 0), &originator, |m| {
            pbx.warning(&format!("app_page.c: {m}"))
        });
        for dev in devices {
            if has('s') {
                let state = device_state(&pbx, &dev);
                if state == DeviceState::Unknown {
                    pbx.verbose_line(
                        3,
                        &format!(
                            "Destination '{dev}' has device state '{}'. Paging anyway.",
                            state.as_str()
                        ),
                    );
                } else if state != DeviceState::NotInUse {
                    pbx.verbose_line(
                        3,
                        &format!("Destination '{dev}' has device state '{}'.", state.as_str()),
                    );
                    continue;
                }
            }
            crate::pbx::tech::prepare(&pbx, &dev).await;
            let req = Request {
                dest: dev.clone(),
                timeout: Some(timeout.unwrap_or(Duration::from_secs(60))),
                ..Request::default()
            };
            let Ok(mut leg) = originate::start(&pbx, &req, Some(chan)) else {
                continue;
            };
            leg.datastores
                .insert(DYNAMIC_PROFILES, paged_profile(has('d')));
            let target = Target::App {
                app: "ConfBridge".into(),
                data: room.clone(),
            };
            tokio::spawn(originate::answer_and_run(leg, req.timeout, target));
        }
        if !has('q') {
            playback::stream(chan, "beep", "").await?;
        }
        chan.datastores.insert(DYNAMIC_PROFILES, caller_profile());
        let r = exec::exec_app(chan, "ConfBridge", &room).await;
        chan.datastores.remove(DYNAMIC_PROFILES);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_skip_blanks_the_caller_and_incomplete_ones() {
        let warned = std::sync::Mutex::new(Vec::new());
        let d = destinations(" SIP/a & &SIP/me&bogus&SIP/b", "SIP/me", |m| {
            warned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(m.to_string())
        });
        assert_eq!(d, vec!["SIP/a".to_string(), "SIP/b".to_string()]);
        assert_eq!(
            warned.into_inner().unwrap_or_default(),
            vec!["Incomplete destination: 'bogus' supplied.".to_string()]
        );
    }

    #[test]
    fn profiles_make_the_caller_the_marked_talker() {
        let p = paged_profile(false);
        let mut f = crate::apps::conference::rooms::MemberFlags::default();
        crate::apps::conference::admin::apply_user_options(&mut f, &p.user);
        assert!(f.quiet && f.end_marked && f.start_muted && !f.marked);
        let mut f = crate::apps::conference::rooms::MemberFlags::default();
        crate::apps::conference::admin::apply_user_options(&mut f, &paged_profile(true).user);
        assert!(!f.start_muted, "d: full duplex");
        let mut f = crate::apps::conference::rooms::MemberFlags::default();
        crate::apps::conference::admin::apply_user_options(&mut f, &caller_profile().user);
        assert!(f.marked && f.quiet && !f.start_muted);
    }
}
