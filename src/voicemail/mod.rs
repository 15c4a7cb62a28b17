//! Voicemail (issue 5): mailboxes, the message spool, VoiceMail()/VoiceMailMain(), MWI and
//! email notification. So far: the typed `voicemail.conf` loader ([`config`]).

pub mod config;
