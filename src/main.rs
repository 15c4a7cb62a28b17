//! `ferrisk`: the daemon and its remote console, with Asterisk's flags.

use ferrisk::cli::{args, remote};

// mimalloc: the SIP load profile spent ~17 % of its time in glibc malloc/free (many small,
// short-lived strings per message); see docs/performance.md. The `system-alloc` feature
// keeps the system allocator, for heap profilers that hook malloc (contrib/bench/heap.sh).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(feature = "system-alloc"))]
unsafe extern "C" {
    /// mimalloc's option setter (the library is linked by the `mimalloc` crate).
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// mimalloc v2's `mi_option_purge_delay` (its include/mimalloc.h).
#[cfg(not(feature = "system-alloc"))]
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;

/// Give freed memory back to the system at once instead of after mimalloc's default 10 ms
/// (issue 20: 8 MiB less at idle, 5 MiB less at the peak of 10,000 REGISTER/s, same CPU).
/// `MIMALLOC_PURGE_DELAY` in the environment still decides when set.
fn purge_freed_memory_at_once() {
    #[cfg(not(feature = "system-alloc"))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: a plain setter of an integer option, called before any thread starts.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

fn main() {
    purge_freed_memory_at_once();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = match args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ferrisk: {e}");
            eprint!("{}", args::usage());
            std::process::exit(1);
        }
    };
    if a.help {
        print!("{}", args::usage());
        return;
    }
    if a.version {
        println!("ferrisk {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    // Internal diagnostics (RUST_LOG=ferrisk=debug), separate from the Asterisk-style
    // console output; quiet unless asked for.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let code = if a.is_remote() {
        match ferrisk::daemon::ctl_path_for(&a.config_path()) {
            Ok(sock) => match &a.execute {
                Some(cmd) => remote::run_command(&sock, cmd),
                None => remote::run_console(&sock, a.verbose, a.reconnect),
            },
            Err(e) => {
                eprintln!("ferrisk: {e}");
                1
            }
        }
    } else {
        ferrisk::daemon::run(&a)
    };
    std::process::exit(code);
}
