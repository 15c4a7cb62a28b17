//! Dialplan applications. Each application is one [`App`] implementation; families live in
//! one file each and register themselves in [`AppRegistry::with_builtins`]. Adding an
//! application never touches the interpreter.

pub mod args;
pub mod basic;
pub mod conference;
pub mod dial;
pub mod echo;
pub mod flow;
pub mod message;
pub mod moh;
pub mod originate;
pub mod playback;
pub mod read;
pub mod record;
pub mod say;
pub mod senddtmf;
pub mod setvar;
pub mod vmsay;
pub mod voicemail;
pub mod voicemailmain;
pub mod waitexten;

#[cfg(test)]
mod media_tests;

use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// `Ok(())` = continue (Asterisk returns 0); `Err(Hangup)` = stop and hang up (-1).
pub type AppResult = Result<(), Hangup>;

#[async_trait]
pub trait App: Send + Sync + 'static {
    /// Name as registered, e.g. `Answer` (lookups are case-insensitive).
    fn name(&self) -> &'static str;
    /// One line for `core show applications`.
    fn synopsis(&self) -> &'static str;
    /// `[Syntax]` for `core show application X`.
    fn syntax(&self) -> &'static str {
        ""
    }
    /// `[Description]` for `core show application X`.
    fn description(&self) -> &'static str {
        ""
    }
    /// Run with the already-substituted argument string.
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult;
}

/// Case-insensitive registry of applications.
#[derive(Default)]
pub struct AppRegistry {
    map: FxHashMap<String, Arc<dyn App>>,
}

impl AppRegistry {
    pub fn new() -> AppRegistry {
        AppRegistry::default()
    }

    /// All applications ferrisk ships.
    pub fn with_builtins() -> AppRegistry {
        let mut r = AppRegistry::new();
        register_builtins(&mut r);
        r
    }

    pub fn register(&mut self, app: Arc<dyn App>) {
        self.map.insert(app.name().to_ascii_lowercase(), app);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn App>> {
        if !name.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.map.get(name);
        }
        // Lower-case on the stack: this runs once per dialplan step.
        let mut buf = [0u8; 64];
        if name.len() <= buf.len() {
            let lower = &mut buf[..name.len()];
            lower.copy_from_slice(name.as_bytes());
            lower.make_ascii_lowercase();
            if let Ok(key) = std::str::from_utf8(lower) {
                return self.map.get(key);
            }
        }
        self.map.get(&name.to_ascii_lowercase())
    }

    /// Sorted by name, for `core show applications`.
    pub fn list(&self) -> Vec<&Arc<dyn App>> {
        let mut v: Vec<&Arc<dyn App>> = self.map.values().collect();
        v.sort_by_key(|a| a.name().to_ascii_lowercase());
        v
    }
}

fn register_builtins(r: &mut AppRegistry) {
    basic::register(r);
    setvar::register(r);
    flow::register(r);
    dial::register(r);
    echo::register(r);
    originate::register(r);
    waitexten::register(r);
    message::register(r);
    moh::register(r);
    conference::register(r);
    playback::register(r);
    read::register(r);
    record::register(r);
    say::register(r);
    senddtmf::register(r);
    voicemail::register(r);
    voicemailmain::register(r);
}
