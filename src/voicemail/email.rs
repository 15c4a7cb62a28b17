//! Email notification of new messages (being written: issue 5).

use super::config::{Mailbox, VoicemailConfig};
use super::metadata::MessageInfo;
use super::store::Folder;
use crate::pbx::Pbx;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A message that was just stored.
pub struct NewMessage<'a> {
    pub mailbox: &'a Mailbox,
    pub folder: Folder,
    pub msgnum: u32,
    pub info: &'a MessageInfo,
    /// The stored audio file (`…/INBOX/msg0000.wav`).
    pub audio: &'a Path,
}

/// The on-disk mail queue and its sender.
pub struct Mailer {
    dir: PathBuf,
}

impl Mailer {
    pub fn new(dir: PathBuf) -> Mailer {
        Mailer { dir }
    }

    pub fn queue_dir(&self) -> &Path {
        &self.dir
    }

    /// Render the notification(s) for `msg` and queue them on disk; the sender delivers them.
    pub fn notify(
        &self,
        _pbx: &Arc<Pbx>,
        _cfg: &VoicemailConfig,
        _msg: &NewMessage<'_>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Start the background sender (delivers the queue, retries until delivered).
    pub fn start(self: &Arc<Self>, _pbx: &Arc<Pbx>) {}
}
