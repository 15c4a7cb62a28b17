//! `msgNNNN.txt`: a message's metadata, in app_voicemail's layout and field names, so
//! tools that read an Asterisk spool read ours.
//!
//! ```text
//! ;
//! ; Message Information file
//! ;
//! [message]
//! origmailbox=100
//! context=default
//! ...
//! duration=5
//! ```

use chrono::{DateTime, TimeZone, Utc};

/// One message's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageInfo {
    /// The mailbox the caller asked for (`origmailbox`).
    pub origmailbox: String,
    /// Dialplan context/extension/priority the caller was in.
    pub context: String,
    pub macrocontext: String,
    pub exten: String,
    /// Redirecting number, `unknown` when none.
    pub rdnis: String,
    pub priority: i32,
    /// The caller's channel name (`SIP/1001-00000001`).
    pub callerchan: String,
    /// `"Name" <number>`, `<number>`, `Name`, or `Unknown`.
    pub callerid: String,
    /// Seconds since the epoch when the message was left.
    pub origtime: i64,
    pub category: String,
    /// `origtime-xxxxxxxx`, unique per message.
    pub msg_id: String,
    /// `Urgent`, `PRIORITY` or empty.
    pub flag: String,
    /// Length in seconds.
    pub duration: u32,
}

impl MessageInfo {
    /// `origdate=`: app_voicemail writes `%a %b %e %r UTC %Y` in UTC.
    pub fn origdate(&self) -> String {
        let t: DateTime<Utc> = Utc
            .timestamp_opt(self.origtime, 0)
            .single()
            .unwrap_or_default();
        t.format("%a %b %e %r UTC %Y").to_string()
    }

    /// The caller's name and number split out of `callerid` (`None` when absent).
    pub fn caller_name_number(&self) -> (Option<String>, Option<String>) {
        let c = crate::pbx::CallerId::parse(&self.callerid);
        let nonempty = |s: Option<String>| s.filter(|v| !v.is_empty() && v != "Unknown");
        (nonempty(c.name), nonempty(c.num))
    }

    /// The file's text.
    pub fn render(&self) -> String {
        format!(
            ";\n; Message Information file\n;\n[message]\norigmailbox={}\ncontext={}\nmacrocontext={}\nexten={}\nrdnis={}\npriority={}\ncallerchan={}\ncallerid={}\norigdate={}\norigtime={}\ncategory={}\nmsg_id={}\nflag={}\nduration={}\n",
            self.origmailbox,
            self.context,
            self.macrocontext,
            self.exten,
            self.rdnis,
            self.priority,
            self.callerchan,
            self.callerid,
            self.origdate(),
            self.origtime,
            self.category,
            self.msg_id,
            self.flag,
            self.duration,
        )
    }

    /// Read a file's text. Unknown keys are ignored; missing ones stay empty/zero (Asterisk
    /// tolerates hand-edited files the same way).
    pub fn parse(text: &str) -> MessageInfo {
        let mut m = MessageInfo::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with(';') || line.starts_with('[') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().to_string();
            match k.trim() {
                "origmailbox" => m.origmailbox = v,
                "context" => m.context = v,
                "macrocontext" => m.macrocontext = v,
                "exten" => m.exten = v,
                "rdnis" => m.rdnis = v,
                "priority" => m.priority = v.parse().unwrap_or(0),
                "callerchan" => m.callerchan = v,
                "callerid" => m.callerid = v,
                "origtime" => m.origtime = v.parse().unwrap_or(0),
                "category" => m.category = v,
                "msg_id" => m.msg_id = v,
                "flag" => m.flag = v,
                "duration" => m.duration = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let m = MessageInfo {
            origmailbox: "100".into(),
            context: "default".into(),
            exten: "100".into(),
            rdnis: "unknown".into(),
            priority: 2,
            callerchan: "SIP/1001-00000001".into(),
            callerid: "\"Alice\" <1001>".into(),
            origtime: 1_795_466_000,
            msg_id: "1795466000-00000000".into(),
            duration: 5,
            ..Default::default()
        };
        let t = m.render();
        assert!(t.starts_with(";\n; Message Information file\n;\n[message]\norigmailbox=100\n"));
        assert!(t.contains("\ncallerid=\"Alice\" <1001>\n"));
        assert!(
            t.contains("\norigdate=Mon Nov 23 08:33:20 PM UTC 2026\n"),
            "{t}"
        );
        assert!(t.ends_with("flag=\nduration=5\n"));
        assert_eq!(MessageInfo::parse(&t), m);
        assert_eq!(
            m.caller_name_number(),
            (Some("Alice".into()), Some("1001".into()))
        );
    }
}
