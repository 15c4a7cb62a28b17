//! Message-waiting state, as the core carries it between modules: the counts of a mailbox
//! ([`MwiState`]), published on the event bus after every change by the voicemail module,
//! and [`MailboxCounts`], which the voicemail module installs so that others (chan_sip's
//! NOTIFY when a phone registers or subscribes) can ask for the current counts.

/// A mailbox's counts, as `ast_app_inboxcount2` reports them: `new` counts INBOX and
/// Urgent, `old` the Old folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MwiState {
    /// The mailbox number.
    pub mailbox: String,
    /// Its voicemail context.
    pub context: String,
    pub new: u32,
    pub old: u32,
    pub urgent_new: u32,
    pub urgent_old: u32,
}

impl MwiState {
    /// `mailbox@context`.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.mailbox, self.context)
    }

    /// The RFC 3842 `application/simple-message-summary` body chan_sip sends.
    pub fn message_summary(&self, account: &str) -> String {
        format!(
            "Messages-Waiting: {}\r\nMessage-Account: {account}\r\nVoice-Message: {}/{} ({}/{})\r\n",
            if self.new > 0 { "yes" } else { "no" },
            self.new,
            self.old,
            self.urgent_new,
            self.urgent_old
        )
    }
}

/// The voicemail side of message waiting, installed by the voicemail module (Asterisk's
/// `ast_install_vm_functions`): the current counts of a mailbox. Changes are published on
/// the event bus as [`super::events::Event::MessageWaiting`].
#[async_trait::async_trait]
pub trait MailboxCounts: Send + Sync {
    async fn counts(&self, mailbox: &str, context: &str) -> MwiState;
}

/// Message-waiting states published by applications that keep no mailboxes of their own
/// (MinivmMWI, as Asterisk's `ast_publish_mwi_state`): the core's cache of the last state
/// of each such mailbox, which [`super::Pbx::mailbox_counts`] answers before asking the
/// voicemail provider. A shared service (`pbx.services`, owner `core`).
#[derive(Default)]
pub struct PublishedStates {
    states: parking_lot::Mutex<std::collections::HashMap<String, MwiState>>,
}

impl PublishedStates {
    fn key(mailbox: &str, context: &str) -> String {
        format!("{}@{}", mailbox, context).to_ascii_lowercase()
    }

    /// Remember `s` as the mailbox's current state.
    pub fn set(&self, s: MwiState) {
        self.states
            .lock()
            .insert(Self::key(&s.mailbox, &s.context), s);
    }

    pub fn get(&self, mailbox: &str, context: &str) -> Option<MwiState> {
        self.states
            .lock()
            .get(&Self::key(mailbox, context))
            .cloned()
    }
}

/// Split a `mailbox=` style list (`100@default,101`) into (mailbox, context) pairs.
pub fn parse_mailbox_list(list: &str) -> Vec<(String, String)> {
    list.split([',', '&'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('@') {
            Some((m, c)) if !c.is_empty() => (m.to_string(), c.to_string()),
            Some((m, _)) => (m.to_string(), "default".to_string()),
            None => (s.to_string(), "default".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_body() {
        let s = MwiState {
            mailbox: "100".into(),
            context: "default".into(),
            new: 2,
            old: 1,
            ..Default::default()
        };
        assert_eq!(
            s.message_summary("sip:100@127.0.0.1"),
            "Messages-Waiting: yes\r\nMessage-Account: sip:100@127.0.0.1\r\nVoice-Message: 2/1 (0/0)\r\n"
        );
        assert_eq!(
            parse_mailbox_list("100@vm, 200"),
            vec![
                ("100".to_string(), "vm".to_string()),
                ("200".to_string(), "default".to_string())
            ]
        );
    }
}
