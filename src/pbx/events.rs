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
    /// Dialplan execution (`Newexten` at every step, `VarSet`): hot, so a topic of its own.
    Dialplan = 5,
    /// Events the dialplan raises itself (`UserEvent`).
    User = 6,
    /// Events a module raises under its own name and class ([`Event::Module`]: app_queue's
    /// `QueueCallerJoin`, res_parking's `ParkedCall`, app_agent_pool's `AgentLogin`, …).
    Module = 7,
}

const TOPICS: usize = 8;

/// The standard channel fields of Asterisk's channel events
/// (`ast_manager_build_channel_state_string`), taken when the event happens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChanSnapshot {
    pub channel: String,
    pub state: u8,
    pub state_desc: &'static str,
    pub caller_num: String,
    pub caller_name: String,
    pub connected_num: String,
    pub connected_name: String,
    pub language: String,
    pub accountcode: String,
    pub context: String,
    pub exten: String,
    pub priority: i32,
    pub uniqueid: String,
    pub linkedid: String,
}

impl ChanSnapshot {
    pub fn of(c: &super::Channel) -> ChanSnapshot {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let (cn, cna) = c
            .connected
            .as_ref()
            .map(|p| (opt(&p.num), opt(&p.name)))
            .unwrap_or_default();
        ChanSnapshot {
            channel: c.name().to_string(),
            state: c.state as u8,
            state_desc: c.state.as_str(),
            caller_num: opt(&c.caller.num),
            caller_name: opt(&c.caller.name),
            connected_num: cn,
            connected_name: cna,
            language: c.language.clone(),
            accountcode: c.accountcode.clone(),
            context: c.context.clone(),
            exten: c.exten.clone(),
            priority: c.priority,
            uniqueid: c.uniqueid().to_string(),
            linkedid: c.uniqueid().to_string(),
        }
    }

    /// The fields in Asterisk's order, each name after `prefix` (`Dest` for a dialed
    /// channel). Empty caller and connected parties are `<unknown>`, as Asterisk's.
    pub fn fields(&self, prefix: &str, out: &mut Vec<(String, String)>) {
        let unk = |s: &str| {
            if s.is_empty() {
                "<unknown>".to_string()
            } else {
                s.to_string()
            }
        };
        let mut f = |k: &str, v: String| out.push((format!("{prefix}{k}"), v));
        f("Channel", self.channel.clone());
        f("ChannelState", self.state.to_string());
        f("ChannelStateDesc", self.state_desc.to_string());
        f("CallerIDNum", unk(&self.caller_num));
        f("CallerIDName", unk(&self.caller_name));
        f("ConnectedLineNum", unk(&self.connected_num));
        f("ConnectedLineName", unk(&self.connected_name));
        f("Language", self.language.clone());
        f("AccountCode", self.accountcode.clone());
        f("Context", self.context.clone());
        f("Exten", self.exten.clone());
        f("Priority", self.priority.to_string());
        f("Uniqueid", self.uniqueid.clone());
        f("Linkedid", self.linkedid.clone());
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    MessageWaiting(MwiState),
    DeviceStateChange {
        device: String,
        state: String,
    },
    Newchannel(ChanSnapshot),
    Newstate(ChanSnapshot),
    Hangup {
        chan: ChanSnapshot,
        cause: i32,
    },
    /// A dialed channel starts ringing (`Dial()`): the caller (if any), the dialed
    /// channel, what was dialed.
    DialBegin {
        caller: Option<ChanSnapshot>,
        dest: ChanSnapshot,
        dialstring: String,
    },
    /// Its outcome (`ANSWER`, `BUSY`, `NOANSWER`, `CANCEL`, `CONGESTION`, `CHANUNAVAIL`).
    DialEnd {
        caller: Option<ChanSnapshot>,
        dest: ChanSnapshot,
        status: String,
    },
    VarSet {
        chan: ChanSnapshot,
        variable: String,
        value: String,
    },
    /// A dialplan step starts: the channel (at the step's context, extension and
    /// priority), the application and its (substituted) data.
    Newexten {
        chan: ChanSnapshot,
        app: String,
        data: String,
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
    /// `UserEvent(name,key: value,…)` from the dialplan: the channel, the name, the
    /// headers in order.
    UserEvent {
        chan: ChanSnapshot,
        name: String,
        headers: Vec<(String, String)>,
    },
    /// Something about one channel a module reports under Asterisk's event name
    /// (`ChannelTalkingStart`, `ChannelTalkingStop`, `Hold`, `Unhold`, …): the channel, then
    /// the event's own headers in order.
    ChannelNotice {
        name: &'static str,
        chan: ChanSnapshot,
        headers: Vec<(String, String)>,
    },
    /// An event a module raises under Asterisk's name and class (`QueueCallerJoin` in
    /// `agent`, `ParkedCall` in `call`, …): each channel's fields under its prefix (`""`,
    /// `Dest`, `Parkee`, `Retriever`, …), then the event's own headers in order. Build it
    /// with [`EventBus::publish_module`], which skips the work when nobody listens.
    Module {
        name: &'static str,
        /// The `Privilege:` class bits (`pbx::manager::class`).
        class: u32,
        chans: Vec<(&'static str, ChanSnapshot)>,
        headers: Vec<(String, String)>,
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
            Event::Newchannel(_)
            | Event::Newstate(_)
            | Event::Hangup { .. }
            | Event::DialBegin { .. }
            | Event::DialEnd { .. }
            | Event::ChannelNotice { .. } => Topic::Channel,
            Event::VarSet { .. } | Event::Newexten { .. } => Topic::Dialplan,
            Event::PeerStatus { .. } | Event::Registry { .. } => Topic::Registration,
            Event::Security { .. } => Topic::Security,
            Event::UserEvent { .. } => Topic::User,
            Event::Module { .. } => Topic::Module,
        }
    }

    /// The AMI event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::MessageWaiting(_) => "MessageWaiting",
            Event::DeviceStateChange { .. } => "DeviceStateChange",
            Event::Newchannel(_) => "Newchannel",
            Event::Newstate(_) => "Newstate",
            Event::Hangup { .. } => "Hangup",
            Event::DialBegin { .. } => "DialBegin",
            Event::DialEnd { .. } => "DialEnd",
            Event::VarSet { .. } => "VarSet",
            Event::Newexten { .. } => "Newexten",
            Event::PeerStatus { .. } => "PeerStatus",
            Event::Registry { .. } => "Registry",
            Event::Security { name, .. }
            | Event::ChannelNotice { name, .. }
            | Event::Module { name, .. } => name,
            Event::UserEvent { .. } => "UserEvent",
        }
    }

    /// The AMI fields, in Asterisk's order.
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        let mut kv = |k: &str, val: String| v.push((k.to_string(), val));
        match self {
            Event::MessageWaiting(s) => {
                kv("Mailbox", s.spec());
                kv("Waiting", u8::from(s.new > 0).to_string());
                kv("New", s.new.to_string());
                kv("Old", s.old.to_string());
            }
            Event::DeviceStateChange { device, state } => {
                kv("Device", device.clone());
                kv("State", state.clone());
            }
            Event::Newchannel(c) | Event::Newstate(c) => c.fields("", &mut v),
            Event::Hangup { chan, cause } => {
                chan.fields("", &mut v);
                v.push(("Cause".into(), cause.to_string()));
                v.push((
                    "Cause-txt".into(),
                    super::channel::cause::description(*cause).to_string(),
                ));
            }
            Event::DialBegin {
                caller,
                dest,
                dialstring,
            } => dial_fields(caller, dest, ("DialString", dialstring), &mut v),
            Event::DialEnd {
                caller,
                dest,
                status,
            } => dial_fields(caller, dest, ("DialStatus", status), &mut v),
            Event::VarSet {
                chan,
                variable,
                value,
            } => {
                chan.fields("", &mut v);
                v.push(("Variable".into(), variable.clone()));
                v.push(("Value".into(), value.clone()));
            }
            Event::UserEvent {
                chan,
                name,
                headers,
            } => {
                chan.fields("", &mut v);
                v.push(("UserEvent".into(), name.clone()));
                v.extend(headers.iter().cloned());
            }
            Event::ChannelNotice { chan, headers, .. } => {
                chan.fields("", &mut v);
                v.extend(headers.iter().cloned());
            }
            Event::Module { chans, headers, .. } => {
                for (prefix, c) in chans {
                    c.fields(prefix, &mut v);
                }
                v.extend(headers.iter().cloned());
            }
            Event::Newexten { chan, app, data } => {
                chan.fields("", &mut v);
                v.push(("Extension".into(), chan.exten.clone()));
                v.push(("Application".into(), app.clone()));
                v.push(("AppData".into(), data.clone()));
            }
            Event::PeerStatus {
                channel_type,
                peer,
                status,
                address,
            } => {
                kv("ChannelType", channel_type.to_string());
                kv("Peer", peer.clone());
                kv("PeerStatus", status.clone());
                kv("Address", address.clone());
            }
            Event::Registry {
                channel_type,
                username,
                domain,
                status,
            } => {
                kv("ChannelType", channel_type.to_string());
                kv("Username", username.clone());
                kv("Domain", domain.clone());
                kv("Status", status.clone());
            }
            Event::Security {
                service,
                account,
                remote,
                local,
                ..
            } => {
                kv("Service", service.to_string());
                kv("AccountID", account.clone());
                kv("LocalAddress", local.clone());
                kv("RemoteAddress", remote.clone());
            }
        }
        v
    }
}

/// DialBegin's and DialEnd's fields: the caller, the dialed channel (`Dest…`), and the
/// last field.
fn dial_fields(
    caller: &Option<ChanSnapshot>,
    dest: &ChanSnapshot,
    (k, val): (&str, &String),
    v: &mut Vec<(String, String)>,
) {
    if let Some(c) = caller {
        c.fields("", v);
    }
    dest.fields("Dest", v);
    v.push((k.to_string(), val.clone()));
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

    /// Publish a module's event ([`Event::Module`]) named `name` in `class`: `build` gives
    /// its channels (each under its prefix) and headers, and runs only when someone
    /// listens.
    pub fn publish_module(
        &self,
        name: &'static str,
        class: u32,
        build: impl FnOnce() -> (Vec<(&'static str, ChanSnapshot)>, Vec<(String, String)>),
    ) {
        if !self.wants(Topic::Module) {
            return;
        }
        let (chans, headers) = build();
        self.publish(Event::Module {
            name,
            class,
            chans,
            headers,
        });
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
            chan: ChanSnapshot::default(),
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
                ("Mailbox".to_string(), "1001@default".to_string()),
                ("Waiting".to_string(), "1".to_string()),
                ("New".to_string(), "2".to_string()),
                ("Old".to_string(), "1".to_string())
            ]
        );
        assert!(mwi.try_recv().is_err());
    }
}
