//! `VoiceMailPlayMsg(mailbox[@context],msg_id)`: play the message whose `msg_id` (kept in
//! its `.txt`, or the IMAP message's `X-Asterisk-VM-Message-ID`) is given, from whichever
//! folder holds it, and set `VOICEMAIL_PLAYBACKSTATUS` to SUCCESS or FAILED.
//!
//! As app_voicemail's `play_message_by_id`, a new (INBOX/Urgent) message that was played
//! to the end moves to Old (unless `moveheard=no`); a message is never marked heard when
//! it was not played (missing audio, hang-up while it plays).

use crate::apps::playback::{stream, Played};
use crate::apps::{App, AppResult};
use crate::pbx::{Channel, Hangup};
use crate::voicemail::store::{BoxId, Folder, MessageStore};
use async_trait::async_trait;

pub struct VoiceMailPlayMsg;

/// Where the message with `msg_id` is: the first folder (in app_voicemail's order) and
/// number whose metadata carries it.
pub async fn find_message(
    store: &dyn MessageStore,
    mb: &BoxId,
    msg_id: &str,
) -> Option<(Folder, u32)> {
    for f in Folder::ALL {
        let count = store.count(mb, f).await.unwrap_or(0);
        for n in 0..count {
            if store.info(mb, f, n).await.is_ok_and(|i| i.msg_id == msg_id) {
                return Some((f, n));
            }
        }
    }
    None
}

#[async_trait]
impl App for VoiceMailPlayMsg {
    fn name(&self) -> &'static str {
        "VoiceMailPlayMsg"
    }
    fn synopsis(&self) -> &'static str {
        "Play a single voice mail msg from a mailbox by msg id."
    }
    fn syntax(&self) -> &'static str {
        "VoiceMailPlayMsg(mailbox[@context],msg_id)"
    }
    fn description(&self) -> &'static str {
        "This application sets the following channel variable upon completion: VOICEMAIL_PLAYBACKSTATUS — the status of the playback attempt as a text string: SUCCESS or FAILED. A new message that was played moves to the Old folder (unless moveheard=no)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if !chan.is_up() {
            chan.answer();
        }
        let (spec, msg_id) = data.split_once(',').unwrap_or((data, ""));
        let (spec, msg_id) = (spec.trim(), msg_id.trim());
        if spec.is_empty() || msg_id.is_empty() {
            return Err(Hangup);
        }
        let played = play_by_id(chan, spec, msg_id).await?;
        chan.vars.set(
            "VOICEMAIL_PLAYBACKSTATUS",
            if played { "SUCCESS" } else { "FAILED" },
        );
        Ok(())
    }
}

/// Play the message; true when it was found and played to the end.
async fn play_by_id(chan: &mut Channel, spec: &str, msg_id: &str) -> Result<bool, Hangup> {
    let vm = crate::voicemail::of(&chan.pbx);
    let Some(mb) = vm.mailbox(spec) else {
        return Ok(false);
    };
    let id = crate::voicemail::box_id(&mb);
    let store = vm.store();
    let Some((folder, n)) = find_message(store.as_ref(), &id, msg_id).await else {
        return Ok(false);
    };
    let path = match store.audio(&id, folder, n).await {
        Ok(p) => p,
        Err(e) => {
            chan.pbx
                .warning(&format!("app_voicemail.c: Unable to play message: {e}"));
            return Ok(false);
        }
    };
    // A hang-up while it plays returns here: the message stays unheard.
    if stream(chan, &path.to_string_lossy(), "").await? == Played::Missing {
        chan.pbx.warning(&format!(
            "app_voicemail.c: Playback of message {} failed",
            path.display()
        ));
        return Ok(false);
    }
    let cfg = vm.config();
    if matches!(folder, Folder::Inbox | Folder::Urgent) && cfg.flag(&mb, "moveheard", true) {
        let maxmsg = cfg.num(&mb, "maxmsg");
        match store.move_to(&id, folder, n, Folder::Old, maxmsg).await {
            Ok(_) => vm.changed(&id).await,
            Err(e) => chan.pbx.warning(&format!(
                "app_voicemail.c: Unable to move message {n} of {id}/{} to Old: {e}",
                folder.name()
            )),
        }
    }
    Ok(true)
}
