//! The core's event bus: how modules tell each other (and, later, AMI clients) what
//! happened, without naming each other. Events carry Asterisk's AMI names and fields
//! ([`Event::name`], [`Event::fields`]); internal subscribers match on the typed variants.
//!
//! Events are split into topics, one broadcast channel each, so a busy topic (channel
//! lifecycle at thousands of calls a second) never makes a subscriber of a quiet one
//! (message waiting) lag. Publishing to a topic nobody listens to costs one atomic load:
//! the event is not even built ([`EventBus::wants`]).

use super::mwi::MwiState;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Which broadcast channel an event travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Mailbox counts changed (`MessageWaiting`).
    Mwi = 0,
    /// A device's state changed (`DeviceStateChange`).
    DeviceState = 1,
    /// Channels were created and hung up (`Newchannel`, `Hangup`).
    Channel = 2,
    /// Phones registered or went away, trunks registered (`PeerStatus`, `Registry`).
    Registration = 3,
    /// Authentication failures and successes (`InvalidPassword`, `ChallengeResponseFailed`,
    /// `InvalidAccountID`, `SuccessfulAuth`).
    Security = 4,
}

const TOPICS: usize = 5;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    MessageWaiting(MwiState),
    DeviceStateChange {
        device: String,
        state: String,
    },
    Newchannel {
        channel: String,
        uniqueid: String,
        caller_num: String,
        caller_name: String,
        context: String,
        exten: String,
    },
    Hangup {
        channel: String,
        uniqueid: String,
        cause: i32,
    },
    PeerStatus {
        /// `SIP`.
        channel_type: &'static str,
        /// `SIP/1001`.
        peer: String,
        /// `Registered`, `Unregistered`, `Reachable`, `Unreachable`, `Lagged`, `Rejected`.
        status: String,
        address: String,
    },
    Registry {
        channel_type: &'static str,
        username: String,
        domain: String,
        /// `Registered`, `Rejected`, `Failed`, …
        status: String,
    },
    /// A security event with Asterisk's event name (`InvalidPassword`,
    /// `ChallengeResponseFailed`, `InvalidAccountID`, `SuccessfulAuth`).
    Security {
        name: &'static str,
        service: &'static str,
        account: String,
        remote: String,
        local: String,
    },
}

impl Event {
    pub fn topic(&self) -> Topic {
        match self {
            Event::MessageWaiting(_) => Topic::Mwi,
            Event::DeviceStateChange { .. } => Topic::DeviceState,
            Event::Newchannel { .. } | Event::Hangup { .. } => Topic::Channel,
            Event::PeerStatus { .. } | Event::Registry { .. } => Topic::Registration,
            Event::Security { .. } => Topic::Security,
        }
    }

    /// The AMI event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::MessageWaiting(_) => "MessageWaiting",
            Event::DeviceStateChange { .. } => "DeviceStateChange",
            Event::Newchannel { .. } => "Newchannel",
            Event::Hangup { .. } => "Hangup",
            Event::PeerStatus { .. } => "PeerStatus",
            Event::Registry { .. } => "Registry",
            Event::Security { name, .. } => name,
        }
    }

    /// The AMI fields, in Asterisk's order.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Event::MessageWaiting(s) => vec![
                ("Mailbox", s.spec()),
                ("Waiting", u8::from(s.new > 0).to_string()),
                ("New", s.new.to_string()),
                ("Old", s.old.to_string()),
            ],
            Event::DeviceStateChange { device, state } => {
                vec![("Device", device.clone()), ("State", state.clone())]
            }
            Event::Newchannel {
                channel,
                uniqueid,
                caller_num,
                caller_name,
                context,
                exten,
            } => vec![
                ("Channel", channel.clone()),
                ("CallerIDNum", caller_num.clone()),
                ("CallerIDName", caller_name.clone()),
                ("Context", context.clone()),
                ("Exten", exten.clone()),
                ("Uniqueid", uniqueid.clone()),
            ],
            Event::Hangup {
                channel,
                uniqueid,
                cause,
            } => vec![
                ("Channel", channel.clone()),
                ("Uniqueid", uniqueid.clone()),
                ("Cause", cause.to_string()),
            ],
            Event::PeerStatus {
                channel_type,
                peer,
                status,
                address,
            } => vec![
                ("ChannelType", channel_type.to_string()),
                ("Peer", peer.clone()),
                ("PeerStatus", status.clone()),
                ("Address", address.clone()),
            ],
            Event::Registry {
                channel_type,
                username,
                domain,
                status,
            } => vec![
                ("ChannelType", channel_type.to_string()),
                ("Username", username.clone()),
                ("Domain", domain.clone()),
                ("Status", status.clone()),
            ],
            Event::Security {
                service,
                account,
                remote,
                local,
                ..
            } => vec![
                ("Service", service.to_string()),
                ("AccountID", account.clone()),
                ("LocalAddress", local.clone()),
                ("RemoteAddress", remote.clone()),
            ],
        }
    }
}

/// The bus: cheap to clone, shared by the PBX and the modules.
#[derive(Clone)]
pub struct EventBus {
    txs: Arc<[broadcast::Sender<Arc<Event>>; TOPICS]>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            txs: Arc::new(std::array::from_fn(|_| broadcast::channel(1024).0)),
        }
    }
}

impl EventBus {
    /// Whether anyone listens on `topic` (build the event only then).
    pub fn wants(&self, topic: Topic) -> bool {
        self.txs[topic as usize].receiver_count() > 0
    }

    pub fn publish(&self, ev: Event) {
        let tx = &self.txs[ev.topic() as usize];
        if tx.receiver_count() > 0 {
            let _ = tx.send(Arc::new(ev));
        }
    }

    /// Every later event of `topic`. A subscriber that falls more than 1024 events behind
    /// gets `RecvError::Lagged` and must resynchronise (chan_sip then re-sends every lamp).
    pub fn subscribe(&self, topic: Topic) -> broadcast::Receiver<Arc<Event>> {
        self.txs[topic as usize].subscribe()
    }
}

/// A receiver of `MessageWaiting` events only (the others of the topic are skipped).
pub struct MwiReceiver(broadcast::Receiver<Arc<Event>>);

impl MwiReceiver {
    pub async fn recv(&mut self) -> Result<MwiState, broadcast::error::RecvError> {
        loop {
            if let Event::MessageWaiting(s) = &*self.0.recv().await? {
                return Ok(s.clone());
            }
        }
    }
    pub fn try_recv(&mut self) -> Result<MwiState, broadcast::error::TryRecvError> {
        loop {
            if let Event::MessageWaiting(s) = &*self.0.try_recv()? {
                return Ok(s.clone());
            }
        }
    }
}

impl EventBus {
    /// Every later `MessageWaiting`.
    pub fn subscribe_mwi(&self) -> MwiReceiver {
        MwiReceiver(self.subscribe(Topic::Mwi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn topics_are_separate_and_fields_are_amis() {
        let bus = EventBus::default();
        assert!(!bus.wants(Topic::Mwi));
        let mut mwi = bus.subscribe(Topic::Mwi);
        assert!(bus.wants(Topic::Mwi));
        bus.publish(Event::Hangup {
            channel: "SIP/a-1".into(),
            uniqueid: "1.1".into(),
            cause: 16,
        });
        let s = MwiState {
            mailbox: "1001".into(),
            context: "default".into(),
            new: 2,
            old: 1,
            ..Default::default()
        };
        bus.publish(Event::MessageWaiting(s));
        let ev = mwi.recv().await.unwrap();
        assert_eq!(ev.name(), "MessageWaiting");
        assert_eq!(
            ev.fields(),
            vec![
                ("Mailbox", "1001@default".to_string()),
                ("Waiting", "1".to_string()),
                ("New", "2".to_string()),
                ("Old", "1".to_string())
            ]
        );
        assert!(mwi.try_recv().is_err());
    }
}
