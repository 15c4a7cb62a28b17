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
    /// Ended early by `ForkCDR(e)`: its end, lastapp and variables no longer change.
    pub finalized: bool,
    /// The records `ForkCDR` forked this one from, oldest first: a channel's CDR chain is
    /// `earlier` followed by this (the current) record, and all of it is posted at hangup.
    pub earlier: Vec<Cdr>,
}

/// `ForkCDR`'s options (Asterisk 20's app_forkcdr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForkOptions {
    /// `a`: the fork's answer time is now (when the channel is answered).
    pub set_answer: bool,
    /// `e`: end (finalise) the records before the fork.
    pub finalize: bool,
    /// `r`: the fork's start (and answer, when answered) time is now; implies `a`.
    pub reset: bool,
    /// `v`: do not copy the CDR variables to the fork.
    pub no_vars: bool,
}

impl ForkOptions {
    /// Parse the option letters (unknown letters are ignored, as Asterisk does).
    pub fn parse(s: &str) -> ForkOptions {
        ForkOptions {
            set_answer: s.contains('a'),
            finalize: s.contains('e'),
            reset: s.contains('r'),
            no_vars: s.contains('v'),
        }
    }
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
            finalized: false,
            earlier: Vec::new(),
        }
    }

    pub fn mark_answered(&mut self) {
        let now = Local::now();
        for c in self.earlier.iter_mut().filter(|c| !c.finalized) {
            c.answer_at(now);
        }
        self.answer_at(now);
    }

    fn answer_at(&mut self, now: DateTime<Local>) {
        if self.answer.is_none() {
            self.answer = Some(now);
            self.disposition = Disposition::Answered;
        }
    }

    /// Set (or with an empty value remove) a CDR variable on every open record of the chain,
    /// as Asterisk's CDR() write does.
    pub fn set_var(&mut self, name: &str, value: &str) {
        let set = |c: &mut Cdr| {
            if value.is_empty() {
                c.vars.remove(name);
            } else {
                c.vars.insert(name.to_string(), value.to_string());
            }
        };
        self.earlier
            .iter_mut()
            .filter(|c| !c.finalized)
            .for_each(set);
        set(self);
    }

    /// Set the userfield on every open record of the chain.
    pub fn set_userfield(&mut self, value: &str) {
        for c in self.earlier.iter_mut().filter(|c| !c.finalized) {
            c.userfield = value.to_string();
        }
        self.userfield = value.to_string();
    }

    /// `ForkCDR`: append a new record to the chain, copied from the current one (times,
    /// destination, variables), adjusted by `opts`; with `e` the records before it end now.
    /// `up` says whether the channel is answered; `last` is the channel's application and
    /// its data now (what finalised records keep). A finalised chain is not forked.
    pub fn fork(
        &mut self,
        opts: ForkOptions,
        up: bool,
        last: (&str, &str),
        now: DateTime<Local>,
    ) -> bool {
        if self.finalized {
            return false;
        }
        let mut new = Cdr {
            earlier: Vec::new(),
            finalized: false,
            sequence: self.sequence + 1,
            ..self.clone()
        };
        if (opts.set_answer || opts.reset) && up {
            new.answer = Some(now);
            new.disposition = Disposition::Answered;
        }
        if opts.reset {
            new.start = now;
        }
        if opts.no_vars {
            new.vars.clear();
        }
        let mut old = std::mem::replace(self, new);
        self.earlier = std::mem::take(&mut old.earlier);
        self.earlier.push(old);
        if opts.finalize {
            for c in self.earlier.iter_mut().filter(|c| !c.finalized) {
                c.finish_one(last.0, last.1, now);
                c.finalized = true;
            }
        }
        true
    }

    /// End the record at `now` (keeps an end already set).
    fn close(&mut self, now: DateTime<Local>) {
        if self.end.is_none() {
            self.end = Some(now);
        }
        self.disposition = self.final_disposition();
    }

    /// The whole chain, oldest first, as the backends receive it.
    pub fn into_chain(mut self) -> Vec<Cdr> {
        let mut all = std::mem::take(&mut self.earlier);
        all.push(self);
        all
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

    /// Hangup: end every open record of the chain, with the channel's last application.
    pub fn finish(&mut self, lastapp: &str, lastdata: &str) {
        let now = Local::now();
        let mut earlier = std::mem::take(&mut self.earlier);
        for c in earlier.iter_mut().filter(|c| !c.finalized) {
            c.finish_one(lastapp, lastdata, now);
        }
        self.earlier = earlier;
        self.finish_one(lastapp, lastdata, now);
    }

    fn finish_one(&mut self, lastapp: &str, lastdata: &str, now: DateTime<Local>) {
        if !lastapp.is_empty() {
            self.lastapp = lastapp.to_string();
            self.lastdata = lastdata.to_string();
        }
        self.close(now);
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
    /// Hand a channel's finished records (its `ForkCDR` chain, oldest first) to the
    /// backends (on the writer thread).
    pub fn post(&self, cdr: Cdr) {
        for c in cdr.into_chain() {
            self.post_one(c);
        }
    }

    fn post_one(&self, cdr: Cdr) {
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

    fn t(s: i64) -> DateTime<Local> {
        use chrono::TimeZone;
        Local.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn fork_without_options_copies_times_and_both_records_follow_the_call() {
        let mut c = Cdr::new("SIP/a-1", "1.1");
        c.start = t(0);
        c.answer = Some(t(2));
        c.disposition = Disposition::Answered;
        c.set_var("x", "1");
        c.dstchannel = "SIP/b-2".into();
        assert!(c.fork(ForkOptions::parse(""), true, ("ForkCDR", ""), t(5)));
        assert_eq!(c.start, t(0), "the fork keeps the original start");
        assert_eq!(c.answer, Some(t(2)), "and answer");
        assert_eq!(c.vars.get("x").map(String::as_str), Some("1"));
        assert_eq!(c.dstchannel, "SIP/b-2");
        c.set_userfield("u");
        c.finish("Hangup", "");
        let chain = c.into_chain();
        assert_eq!(chain.len(), 2);
        assert!(chain.iter().all(|r| r.end.is_some() && r.userfield == "u"));
        assert!(chain.iter().all(|r| r.lastapp == "Hangup"));
    }

    #[test]
    fn fork_a_r_v_e_set_times_variables_and_end() {
        let mut c = Cdr::new("SIP/a-1", "1.1");
        c.start = t(0);
        c.answer = Some(t(2));
        c.set_var("x", "1");
        // a: the answer time is now when answered; the start is kept.
        c.fork(ForkOptions::parse("a"), true, ("", ""), t(5));
        assert_eq!((c.start, c.answer), (t(0), Some(t(5))));
        // a on a channel that is not up: no effect.
        c.answer = None;
        c.fork(ForkOptions::parse("a"), false, ("", ""), t(6));
        assert_eq!(c.answer, None);
        // r: start and (when answered) answer are now.
        c.fork(ForkOptions::parse("r"), false, ("", ""), t(7));
        assert_eq!((c.start, c.answer), (t(7), None));
        c.fork(ForkOptions::parse("r"), true, ("", ""), t(8));
        assert_eq!((c.start, c.answer), (t(8), Some(t(8))));
        // v: no variables on the fork; the originals keep theirs.
        c.fork(ForkOptions::parse("v"), true, ("", ""), t(9));
        assert!(c.vars.is_empty());
        assert_eq!(c.earlier.len(), 5);
        assert!(c.earlier.iter().all(|r| r.vars.contains_key("x")));
        // e: everything before the new fork ends now, with the app of the moment.
        c.fork(ForkOptions::parse("e"), true, ("ForkCDR", "e"), t(10));
        assert!(c
            .earlier
            .iter()
            .all(|r| r.finalized && r.end == Some(t(10))));
        assert!(c.earlier.iter().all(|r| r.lastapp == "ForkCDR"));
        c.set_var("late", "y");
        c.mark_answered();
        c.finish("Hangup", "");
        let chain = c.into_chain();
        assert_eq!(chain.len(), 7);
        assert!(chain[..6].iter().all(|r| r.end == Some(t(10))));
        assert!(chain[..6].iter().all(|r| !r.vars.contains_key("late")));
        assert_eq!(chain[6].lastapp, "Hangup");
        assert_eq!(chain[6].vars.get("late").map(String::as_str), Some("y"));
        assert_eq!(chain[0].billsec(), 8);
    }

    #[test]
    fn a_forked_chain_is_posted_oldest_first_and_disabled_records_are_skipped() {
        let e = CdrEngine::new();
        let b = Arc::new(Collect(parking_lot::Mutex::new(Vec::new())));
        e.add_backend("cdr_test.so", b.clone());
        let mut c = Cdr::new("SIP/a-1", "1.1");
        c.fork(ForkOptions::default(), false, ("", ""), t(1));
        c.channel = "SIP/forked".into();
        c.finish("", "");
        e.post(c);
        e.flush();
        assert_eq!(*b.0.lock(), vec!["SIP/a-1", "SIP/forked"]);
    }
}
