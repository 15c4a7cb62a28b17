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

/// Fans finished records out to the registered backends. Backends write files (and later
/// databases), so records go to one writer thread in the order calls ended: a hangup never
/// waits on a disk. [`CdrEngine::flush`] waits until everything posted is written
/// (shutdown).
pub struct CdrEngine {
    /// (owner module, backend).
    backends: std::sync::Arc<parking_lot::RwLock<Vec<OwnedBackend>>>,
    pub enabled: std::sync::atomic::AtomicBool,
    writer: std::sync::OnceLock<parking_lot::Mutex<std::sync::mpsc::Sender<CdrJob>>>,
}

/// A backend and the module that registered it.
type OwnedBackend = (&'static str, std::sync::Arc<dyn CdrBackend>);

/// What the writer thread does next.
enum CdrJob {
    Post(Box<Cdr>),
    Flush(std::sync::mpsc::Sender<()>),
}

impl Default for CdrEngine {
    fn default() -> Self {
        CdrEngine::new()
    }
}

impl CdrEngine {
    pub fn new() -> CdrEngine {
        CdrEngine {
            backends: Default::default(),
            enabled: std::sync::atomic::AtomicBool::new(true),
            writer: std::sync::OnceLock::new(),
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
    /// Hand a finished record to the backends (on the writer thread).
    pub fn post(&self, cdr: Cdr) {
        if cdr.disabled
            || !self.enabled.load(std::sync::atomic::Ordering::Relaxed)
            || self.backends.read().is_empty()
        {
            return;
        }
        let job = CdrJob::Post(Box::new(cdr));
        if let Err(std::sync::mpsc::SendError(CdrJob::Post(c))) = self.sender().lock().send(job) {
            // No writer thread (it could not start): write here rather than lose it.
            for (_, b) in self.backends.read().iter() {
                b.post(&c);
            }
        }
    }
    /// Wait until every record posted so far is written.
    pub fn flush(&self) {
        if self.writer.get().is_none() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if self.sender().lock().send(CdrJob::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(std::time::Duration::from_secs(10));
        }
    }
    fn sender(&self) -> &parking_lot::Mutex<std::sync::mpsc::Sender<CdrJob>> {
        self.writer.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<CdrJob>();
            let backends = self.backends.clone();
            let _ = std::thread::Builder::new()
                .name("cdr-writer".into())
                .spawn(move || {
                    for job in rx {
                        match job {
                            CdrJob::Post(c) => {
                                for (_, b) in backends.read().iter() {
                                    b.post(&c);
                                }
                            }
                            CdrJob::Flush(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                });
            parking_lot::Mutex::new(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Collect(parking_lot::Mutex<Vec<String>>);
    impl CdrBackend for Collect {
        fn name(&self) -> &'static str {
            "collect"
        }
        fn post(&self, cdr: &Cdr) {
            self.0.lock().push(cdr.channel.clone());
        }
    }

    #[test]
    fn records_are_written_in_order_off_the_caller_and_flush_waits() {
        let e = CdrEngine::new();
        let b = Arc::new(Collect(parking_lot::Mutex::new(Vec::new())));
        e.add_backend("cdr_test.so", b.clone());
        for i in 0..100 {
            e.post(Cdr::new(&format!("SIP/{i}"), "1.1"));
        }
        let mut off = Cdr::new("SIP/off", "1.2");
        off.disabled = true;
        e.post(off);
        e.flush();
        let got = b.0.lock().clone();
        assert_eq!(got.len(), 100);
        assert_eq!(got[0], "SIP/0");
        assert_eq!(got[99], "SIP/99");
        e.remove_owner("cdr_test.so");
        assert!(e.backend_names().is_empty());
    }
}
