//! The application interface: what a dialplan application is to the core. Applications
//! live in modules (`apps/`, `voicemail/`, …) and reach the interpreter through
//! [`AppRegistry`], filled at module load.

use super::module::Registry;
use super::{Channel, Hangup};
use async_trait::async_trait;

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

/// Case-insensitive registry of the loaded applications.
pub type AppRegistry = Registry<dyn App>;
