//! Call detail records, the core's part: one [`Cdr`] per channel that runs dialplan, posted
//! at hangup.
//!
//! The record is filled in as the call goes (answer, last application, Dial's destination
//! channel) and finalised by `Channel::destroy`, after the `h` extension has run. Backend
//! modules (`cdr_csv.so`) register a [`CdrBackend`] and receive finished records through
//! [`CdrEngine::post`].

use chrono::{DateTime, Local};
use std::collections::BTreeMap;

/// Asterisk's dispositions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    NoAnswer,
    Answered,
    Busy,
    Failed,
    Congestion,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::NoAnswer => "NO ANSWER",
            Disposition::Answered => "ANSWERED",
            Disposition::Busy => "BUSY",
            Disposition::Failed => "FAILED",
            Disposition::Congestion => "CONGESTION",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cdr {
    pub accountcode: String,
    pub src: String,
    pub dst: String,
    pub dcontext: String,
    pub clid: String,
    pub channel: String,
    pub dstchannel: String,
    pub lastapp: String,
    pub lastdata: String,
    pub start: DateTime<Local>,
    pub answer: Option<DateTime<Local>>,
    pub end: Option<DateTime<Local>>,
    pub disposition: Disposition,
    /// Explicitly set disposition (Dial outcome) that wins over "answered or not".
    pub disposition_override: Option<Disposition>,
    pub amaflags: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub userfield: String,
    pub peeraccount: String,
    pub sequence: u32,
    /// User-defined CDR variables (`Set(CDR(myvar)=x)`).
    pub vars: BTreeMap<String, String>,
    /// `CDR_PROP(disable)` / NoCDR.
    pub disabled: bool,
}

impl Cdr {
    pub fn new(channel: &str, uniqueid: &str) -> Cdr {
        Cdr {
            accountcode: String::new(),
            src: String::new(),
            dst: String::new(),
            dcontext: String::new(),
            clid: String::new(),
            channel: channel.to_string(),
            dstchannel: String::new(),
            lastapp: String::new(),
            lastdata: String::new(),
            start: Local::now(),
            answer: None,
            end: None,
            disposition: Disposition::NoAnswer,
            disposition_override: None,
            amaflags: "DOCUMENTATION".into(),
            uniqueid: uniqueid.to_string(),
            linkedid: uniqueid.to_string(),
            userfield: String::new(),
            peeraccount: String::new(),
            sequence: 0,
            vars: BTreeMap::new(),
            disabled: false,
        }
    }

    pub fn mark_answered(&mut self) {
        if self.answer.is_none() {
            self.answer = Some(Local::now());
            self.disposition = Disposition::Answered;
        }
    }

    /// Seconds from start to end (or now while the call is up).
    pub fn duration(&self) -> i64 {
        let end = self.end.unwrap_or_else(Local::now);
        (end - self.start).num_seconds().max(0)
    }

    /// Seconds from answer to end; 0 when never answered.
    pub fn billsec(&self) -> i64 {
        match self.answer {
            Some(a) => (self.end.unwrap_or_else(Local::now) - a)
                .num_seconds()
                .max(0),
            None => 0,
        }
    }

    pub fn final_disposition(&self) -> Disposition {
        if self.answer.is_some() {
            return Disposition::Answered;
        }
        self.disposition_override.unwrap_or(self.disposition)
    }

    pub fn finish(&mut self, lastapp: &str, lastdata: &str) {
        if self.end.is_none() {
            self.end = Some(Local::now());
        }
        if !lastapp.is_empty() {
            self.lastapp = lastapp.to_string();
            self.lastdata = lastdata.to_string();
        }
        self.disposition = self.final_disposition();
    }
}

/// Where finished records go (the CSV backend, tests).
pub trait CdrBackend: Send + Sync {
    fn name(&self) -> &'static str;
    fn post(&self, cdr: &Cdr);
}

/// Fans finished records out to the registered backends.
#[derive(Default)]
pub struct CdrEngine {
    /// (owner module, backend).
    backends: parking_lot::RwLock<Vec<(&'static str, std::sync::Arc<dyn CdrBackend>)>>,
    pub enabled: std::sync::atomic::AtomicBool,
}

impl CdrEngine {
    pub fn new() -> CdrEngine {
        CdrEngine {
            backends: parking_lot::RwLock::new(Vec::new()),
            enabled: std::sync::atomic::AtomicBool::new(true),
        }
    }
    /// Add a backend of module `owner`.
    pub fn add_backend(&self, owner: &'static str, b: std::sync::Arc<dyn CdrBackend>) {
        self.backends.write().push((owner, b));
    }
    /// Remove the backends of module `owner` (unload, reload).
    pub fn remove_owner(&self, owner: &str) {
        self.backends.write().retain(|(o, _)| *o != owner);
    }
    /// Names of the registered backends.
    pub fn backend_names(&self) -> Vec<&'static str> {
        self.backends.read().iter().map(|(_, b)| b.name()).collect()
    }
    pub fn post(&self, cdr: &Cdr) {
        if cdr.disabled || !self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        for (_, b) in self.backends.read().iter() {
            b.post(cdr);
        }
    }
}
