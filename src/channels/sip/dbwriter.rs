//! chan_sip's AstDB writer: registrations (`SIP/Registry`) and MWI subscriptions
//! (`SIP/Subscriptions`) are written by one thread (`sip-astdb`), up to [`BATCH`] changes a
//! transaction, so a burst of REGISTERs never waits on SQLite and never runs it on an async
//! worker.
//!
//! Waiting changes are kept by key, newest value only: a phone that re-registers ten times
//! before the thread gets to it costs one entry and one row write. The queue therefore holds
//! at most one entry per registration (bounded by the peers, not by the REGISTER rate) and
//! nothing is dropped: the last value of every key reaches the database.

use indexmap::IndexMap;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

/// Changes written in one transaction at most.
pub const BATCH: usize = 10_000;

/// One change: family, key, new value (`None`: delete).
pub type Change = (String, String, Option<String>);

#[derive(Default)]
struct Pending {
    /// (family, key) → newest value, in the order the keys were first queued.
    writes: IndexMap<(String, String), Option<String>>,
    /// Told once every change queued before them is written.
    flushes: Vec<tokio::sync::oneshot::Sender<()>>,
    closed: bool,
}

#[derive(Default)]
struct Queue {
    st: Mutex<Pending>,
    wake: Condvar,
}

/// The writer: dropping it lets the thread write what is queued and stop.
pub struct DbWriter {
    q: Arc<Queue>,
}

impl DbWriter {
    /// Start the thread; `apply` writes one batch (in one transaction) and reports errors
    /// itself. `None` if the thread cannot start.
    pub fn start(apply: impl Fn(&[Change]) + Send + 'static) -> Option<DbWriter> {
        let q = Arc::new(Queue::default());
        let run_q = q.clone();
        std::thread::Builder::new()
            .name("sip-astdb".into())
            .spawn(move || run(&run_q, apply))
            .ok()?;
        Some(DbWriter { q })
    }

    /// Queue a change (replacing a waiting change of the same key).
    pub fn write(&self, family: String, key: String, value: Option<String>) {
        let mut st = self.q.st.lock();
        st.writes.insert((family, key), value);
        drop(st);
        self.q.wake.notify_one();
    }

    /// Told once everything queued so far is in the database.
    pub fn flush(&self) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.q.st.lock().flushes.push(tx);
        self.q.wake.notify_one();
        rx
    }

    /// Changes waiting for the thread.
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.q.st.lock().writes.len()
    }
}

impl Drop for DbWriter {
    fn drop(&mut self) {
        self.q.st.lock().closed = true;
        self.q.wake.notify_one();
    }
}

fn run(q: &Queue, apply: impl Fn(&[Change])) {
    loop {
        let (batch, flushes) = {
            let mut st = q.st.lock();
            while st.writes.is_empty() && st.flushes.is_empty() && !st.closed {
                q.wake.wait(&mut st);
            }
            if st.writes.is_empty() && st.flushes.is_empty() {
                return; // closed, all written
            }
            let n = st.writes.len().min(BATCH);
            let batch: Vec<Change> = st.writes.drain(..n).map(|((f, k), v)| (f, k, v)).collect();
            // A flush waits for every change queued before it.
            let flushes = if st.writes.is_empty() {
                std::mem::take(&mut st.flushes)
            } else {
                Vec::new()
            };
            (batch, flushes)
        };
        if !batch.is_empty() {
            apply(&batch);
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_of_a_key_coalesce_and_flush_waits_for_them() {
        let written: Arc<Mutex<Vec<Vec<Change>>>> = Arc::default();
        let gate = Arc::new(Mutex::new(()));
        let hold = gate.lock();
        let (w, g) = (written.clone(), gate.clone());
        let writer = DbWriter::start(move |b| {
            let _open = g.lock();
            w.lock().push(b.to_vec());
        })
        .unwrap();
        let s = |x: &str| x.to_string();
        // The first change is taken at once and the thread waits at the gate; the rest
        // queue behind it and coalesce.
        writer.write(s("SIP/Registry"), s("a"), Some(s("1")));
        while writer.pending() > 0 {
            std::thread::yield_now();
        }
        for i in 0..1000 {
            writer.write(s("SIP/Registry"), s("b"), Some(i.to_string()));
        }
        writer.write(s("SIP/Registry"), s("a"), Some(s("2")));
        writer.write(s("SIP/Registry"), s("c"), Some(s("x")));
        writer.write(s("SIP/Registry"), s("c"), None);
        assert_eq!(writer.pending(), 3, "one entry a key");
        let done = writer.flush();
        drop(hold);
        done.blocking_recv().unwrap();
        let got = written.lock().clone();
        assert_eq!(
            got,
            vec![
                vec![(s("SIP/Registry"), s("a"), Some(s("1")))],
                vec![
                    (s("SIP/Registry"), s("b"), Some(s("999"))),
                    (s("SIP/Registry"), s("a"), Some(s("2"))),
                    (s("SIP/Registry"), s("c"), None),
                ],
            ]
        );
    }

    #[test]
    fn dropping_the_writer_writes_what_is_queued_and_stops() {
        let written: Arc<Mutex<Vec<Change>>> = Arc::default();
        let w = written.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let writer = DbWriter::start(move |b| {
            w.lock().extend_from_slice(b);
            let _ = done_tx.send(());
        })
        .unwrap();
        for i in 0..5 {
            writer.write("f".into(), format!("k{i}"), Some("v".into()));
        }
        drop(writer);
        while written.lock().len() < 5 {
            done_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap();
        }
        assert_eq!(written.lock().len(), 5);
    }
}
