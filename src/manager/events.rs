//! Core bus events as AMI events: the class each belongs to (its `Privilege:`) and the
//! message a client reads. Pure.

use crate::pbx::events::{Event, Topic};
use crate::pbx::manager::{class, Message};

/// Every topic the manager forwards.
pub const TOPICS: &[Topic] = &[
    Topic::Mwi,
    Topic::DeviceState,
    Topic::Channel,
    Topic::Registration,
    Topic::Security,
    Topic::Dialplan,
    Topic::User,
    Topic::Module,
];

/// The classes of a topic's events (what a client must be able to read).
pub fn topic_class(t: Topic) -> u32 {
    match t {
        Topic::Mwi | Topic::DeviceState | Topic::Channel => class::CALL,
        Topic::Registration => class::SYSTEM,
        Topic::Security => class::SECURITY,
        Topic::Dialplan => class::DIALPLAN,
        Topic::User => class::USER,
        // Each event carries its own class: subscribe whoever may read one of them.
        Topic::Module => class::ALL,
    }
}

/// The class of one event, as Asterisk publishes it.
pub fn event_class(ev: &Event) -> u32 {
    match ev {
        Event::Module { class, .. } => *class,
        _ => topic_class(ev.topic()),
    }
}

/// The AMI message: `Event`, `Privilege`, an optional `Timestamp`, then the fields.
pub fn to_message(ev: &Event, timestamp: Option<f64>) -> Message {
    let mut m = header(ev.name(), event_class(ev), timestamp);
    m.headers.extend(ev.fields());
    m
}

/// `Event: name`, `Privilege: …`, and `Timestamp:` when `timestampevents` is on.
pub fn header(name: &str, classes: u32, timestamp: Option<f64>) -> Message {
    let mut m = Message::new()
        .with("Event", name)
        .with("Privilege", class::to_str(classes));
    if let Some(t) = timestamp {
        m.push("Timestamp", format!("{t:.6}"));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::events::ChanSnapshot;

    #[test]
    fn hangup_has_the_channel_fields_and_cause_text() {
        let ev = Event::Hangup {
            chan: ChanSnapshot {
                channel: "Local/100@test-00000001;1".into(),
                state: 6,
                state_desc: "Up",
                caller_num: "100".into(),
                language: "en".into(),
                context: "test".into(),
                exten: "100".into(),
                priority: 2,
                uniqueid: "1700000000.1".into(),
                linkedid: "1700000000.1".into(),
                ..Default::default()
            },
            cause: 16,
        };
        let w = to_message(&ev, Some(1.5)).to_wire();
        assert_eq!(
            w,
            "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1.500000\r\n\
             Channel: Local/100@test-00000001;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n\
             CallerIDNum: 100\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\n\
             ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: test\r\n\
             Exten: 100\r\nPriority: 2\r\nUniqueid: 1700000000.1\r\nLinkedid: 1700000000.1\r\n\
             Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"
        );
    }

    #[test]
    fn a_module_event_has_its_own_class_and_prefixed_channels() {
        let ev = Event::Module {
            name: "UnParkedCall",
            class: class::CALL,
            chans: vec![
                (
                    "Parkee",
                    ChanSnapshot {
                        channel: "SIP/a-1".into(),
                        ..Default::default()
                    },
                ),
                (
                    "Retriever",
                    ChanSnapshot {
                        channel: "SIP/b-2".into(),
                        ..Default::default()
                    },
                ),
            ],
            headers: vec![("ParkingSpace".into(), "701".into())],
        };
        assert_eq!(event_class(&ev), class::CALL);
        let m = to_message(&ev, None);
        assert_eq!(m.value("Event"), "UnParkedCall");
        assert_eq!(m.value("Privilege"), "call,all");
        assert_eq!(m.value("ParkeeChannel"), "SIP/a-1");
        assert_eq!(m.value("RetrieverChannel"), "SIP/b-2");
        assert_eq!(m.value("ParkingSpace"), "701");
        let agent = Event::Module {
            name: "AgentLogin",
            class: class::AGENT,
            chans: Vec::new(),
            headers: Vec::new(),
        };
        assert_eq!(to_message(&agent, None).value("Privilege"), "agent,all");
    }

    #[test]
    fn dial_end_prefixes_the_dialed_channel() {
        let ev = Event::DialEnd {
            caller: None,
            dest: ChanSnapshot {
                channel: "SIP/1001-00000002".into(),
                ..Default::default()
            },
            status: "BUSY".into(),
        };
        let m = to_message(&ev, None);
        assert_eq!(m.get("DestChannel"), Some("SIP/1001-00000002"));
        assert_eq!(m.get("DialStatus"), Some("BUSY"));
        assert_eq!(m.get("Privilege"), Some("call,all"));
    }
}
