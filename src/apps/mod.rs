//! Dialplan applications, as Asterisk's modules split them (`app_dial.so`, `app_stack.so`,
//! …). Each application is one [`App`] implementation; each file declares the modules it
//! makes up in a `MODULES` table, whose register function registers its applications.
//! Adding an application to a module touches only that file; a new module adds one line to
//! [`modules`]. Applications reach the interpreter only through the core's registry.

/// An application's name, synopsis, syntax and description (`core show application`).
macro_rules! app_meta {
    ($name:literal, $syn:literal, $syntax:literal, $desc:literal) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn synopsis(&self) -> &'static str {
            $syn
        }
        fn syntax(&self) -> &'static str {
            $syntax
        }
        fn description(&self) -> &'static str {
            $desc
        }
    };
}

pub mod aelsub;
pub mod agent_pool;
pub mod args;
pub mod authenticate;
pub mod basic;
pub mod branch;
pub mod bridgeapps;
pub mod broadcast;
pub mod ccss;
pub mod chanspy;
pub mod conference;
pub mod controlplayback;
pub mod dial;
pub mod dialfeatures;
pub mod dictate;
pub mod directory;
pub mod dtmfstore;
pub mod echo;
pub mod features;
pub mod festival;
pub mod flow;
pub mod followme;
pub mod forkcdr;
pub mod indications;
pub mod message;
pub mod minivm;
pub mod misc;
pub mod mixmonitor;
pub mod moh;
pub mod monitor;
pub mod more;
pub mod morsecode;
pub mod originate;
pub mod page;
pub mod pickup;
pub mod playback;
pub mod privacy;
pub mod queue;
pub mod read;
pub mod readexten;
pub mod record;
pub mod say;
pub mod sayunixtime;
pub mod senddtmf;
pub mod sendtext;
pub mod setvar;
pub mod signal;
pub mod tonedetect;
pub mod transfer;
pub mod waitexten;
pub mod waitforsilence;

#[cfg(test)]
mod media_tests;

pub use crate::pbx::app::{App, AppRegistry, AppResult};
use crate::pbx::module::Module;
use std::sync::Arc;

/// Every application module of this folder, in load order.
pub fn modules() -> Vec<Arc<dyn Module>> {
    let tables = [
        basic::MODULES,
        setvar::MODULES,
        flow::MODULES,
        branch::MODULES,
        misc::MODULES,
        more::MODULES,
        waitexten::MODULES,
        message::MODULES,
        say::MODULES,
        sayunixtime::MODULES,
        playback::MODULES,
        dial::MODULES,
        pickup::MODULES,
        bridgeapps::MODULES,
        echo::MODULES,
        originate::MODULES,
        read::MODULES,
        record::MODULES,
        senddtmf::MODULES,
        sendtext::MODULES,
        transfer::MODULES,
        indications::MODULES,
        readexten::MODULES,
        authenticate::MODULES,
        waitforsilence::MODULES,
        controlplayback::MODULES,
        morsecode::MODULES,
        directory::MODULES,
        dictate::MODULES,
        mixmonitor::MODULES,
        features::MODULES,
        chanspy::MODULES,
        page::MODULES,
        broadcast::MODULES,
        signal::MODULES,
        monitor::MODULES,
        tonedetect::MODULES,
        dtmfstore::MODULES,
        forkcdr::MODULES,
        aelsub::MODULES,
        privacy::MODULES,
    ];
    let mut v: Vec<Arc<dyn Module>> = vec![Arc::new(features::FeaturesModule)];
    for t in tables {
        for f in t {
            v.push(Arc::new(*f));
        }
    }
    v.push(Arc::new(ccss::CcssModule));
    v.push(Arc::new(moh::ResMusicOnHold));
    v.push(Arc::new(indications::ResIndications));
    v.push(Arc::new(conference::AppMeetMe));
    v.push(Arc::new(conference::AppConfBridge));
    v.push(Arc::new(festival::AppFestival));
    v.push(Arc::new(queue::AppQueue));
    v.push(Arc::new(agent_pool::AppAgentPool));
    v.push(Arc::new(followme::AppFollowMe));
    v.push(Arc::new(minivm::AppMinivm));
    v
}
