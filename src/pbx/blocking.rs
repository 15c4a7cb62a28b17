//! Blocking work, kept off tokio's async workers. Files, SQLite, fsync, processes and name
//! look-ups through std block the thread they run on; on one of the runtime's few workers
//! they would stall every call that worker serves. They run on the blocking pool through
//! these helpers, on the few file-writing threads ([`write`]: the batches of every
//! recording), or on a thread of their own fed through a bounded queue (the CDR writer,
//! chan_sip's AstDB writer). See docs/architecture.md, "Blocking work". Never call these
//! once per audio frame.

use parking_lot::Mutex;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Threads that run [`write`] jobs.
pub const FILE_WRITERS: usize = 2;
/// [`write`] jobs waiting for a thread; beyond that callers wait their turn.
const WRITE_QUEUE: usize = 4096;

type Job = Box<dyn FnOnce() + Send>;

fn writers() -> &'static mpsc::Sender<Job> {
    static WRITERS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    WRITERS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>(WRITE_QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..FILE_WRITERS {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("file-writer-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().blocking_recv();
                    let Some(job) = job else { return };
                    // A panicking job fails its caller, not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                });
        }
        tx
    })
}

/// Run the short file write `f` on one of [`FILE_WRITERS`] threads shared by every
/// recording, and wait for it: thousands of recordings writing a batch every 160 ms would
/// otherwise grow the blocking pool to a hundred threads. `None` when it panicked. Open,
/// fsync and other slow work belong on the blocking pool ([`io`], [`run`]).
pub async fn write<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    writers().send(job).await.ok()?;
    rx.await.ok()
}

/// Run the file work `f` on the blocking pool and wait for it. A job that could not run
/// (the runtime is stopping) or panicked is an I/O error.
pub async fn io<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// Run `f` on the blocking pool and wait for its result; `None` when it panicked or could
/// not run (the runtime is stopping).
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Whether `path` exists (a `stat` on the blocking pool); `false` when it cannot be told.
pub async fn exists(path: impl Into<PathBuf>) -> bool {
    let path = path.into();
    io(move || Ok(path.exists())).await.unwrap_or(false)
}

/// Remove `paths` on the blocking pool, best effort (one already gone is no error).
pub async fn remove_files(paths: Vec<PathBuf>) {
    let _ = io(move || {
        for p in paths {
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_on_a_blocking_thread_and_returns_the_result() {
        let has_runtime = io(|| Ok(tokio::runtime::Handle::try_current().is_ok()))
            .await
            .unwrap();
        // The blocking pool still sees the runtime (a job may spawn tasks).
        assert!(has_runtime);
        let e = io::<()>(|| Err(io::Error::other("nope")))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "nope");
        let e = io::<()>(|| panic!("boom")).await.unwrap_err();
        assert!(e.to_string().contains("panicked"), "{e}");
        assert_eq!(run(|| 6 * 7).await, Some(42));
        assert_eq!(run(|| -> u8 { panic!("boom") }).await, None);
    }

    #[tokio::test]
    async fn writes_run_on_the_writer_threads_and_survive_a_panic() {
        let name = write(|| std::thread::current().name().map(str::to_string)).await;
        assert!(name.flatten().unwrap().starts_with("file-writer-"));
        assert_eq!(write(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(write(|| 7).await, Some(7));
    }

    #[tokio::test]
    async fn exists_and_remove_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert!(exists(&f).await);
        remove_files(vec![f.clone(), d.path().join("never-there")]).await;
        assert!(!exists(&f).await);
        assert!(exists(d.path()).await);
    }
}
