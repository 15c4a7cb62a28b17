//! The RTP ports of an `rtp.conf` range (`rtpstart`–`rtpend`): which even ports our
//! sessions hold, so a new session takes a free one in constant time and a full range is
//! answered at once, instead of trying every port with a `bind` (a few thousand system
//! calls) while the SIP core waits.
//!
//! A [`PortPool`] keeps the even ports no session of ours holds, least recently used first.
//! [`PortPool::bind`] takes ports from the front until one binds (a port another program
//! holds goes to the back, and at most [`MAX_BIND_TRIES`] are tried); the [`PortLease`] it
//! returns puts the port back when dropped. The lock is held only to take or return one
//! port, never while binding.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

/// Ports tried by one [`PortPool::bind`] before giving up (ports other programs hold).
pub const MAX_BIND_TRIES: usize = 32;

/// The free even ports of a range (see the module docs).
#[derive(Debug)]
pub struct PortPool {
    range: (u16, u16),
    free: Mutex<VecDeque<u16>>,
}

/// An even port taken from a [`PortPool`]; dropping it makes the port free again.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    port: u16,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.free.lock().push_back(self.port);
    }
}

impl PortPool {
    /// The even ports of `lo..=hi`, handed out in order from `lo` (a port given back goes
    /// to the end, so it is the last to be reused).
    pub fn new(lo: u16, hi: u16) -> Arc<PortPool> {
        let first = lo.saturating_add(lo & 1);
        let free: VecDeque<u16> = (first..=hi).step_by(2).collect();
        Arc::new(PortPool {
            range: (lo, hi),
            free: Mutex::new(free),
        })
    }

    /// The `rtp.conf` range this pool serves.
    pub fn range(&self) -> (u16, u16) {
        self.range
    }

    /// Ports no session of ours holds.
    pub fn available(&self) -> usize {
        self.free.lock().len()
    }

    /// Take a free port that binds on `ip`, with the odd port above it for RTCP when that
    /// binds too. `None` at once when our sessions hold every port, or after
    /// [`MAX_BIND_TRIES`] ports other programs hold.
    pub fn bind(self: &Arc<Self>, ip: IpAddr) -> Option<(PortLease, UdpSocket, Option<UdpSocket>)> {
        let tries = self.available().min(MAX_BIND_TRIES);
        for _ in 0..tries {
            let port = self.free.lock().pop_front()?;
            let lease = PortLease {
                pool: self.clone(),
                port,
            };
            if let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, port)) {
                let rtcp = port
                    .checked_add(1)
                    .and_then(|p| UdpSocket::bind(SocketAddr::new(ip, p)).ok());
                return Some((lease, rtp, rtcp));
            }
            // Held by another program: the lease puts it at the back.
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn localhost() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    /// `n` consecutive free even ports on 127.0.0.1 (with their odd neighbours).
    fn free_range(n: u16) -> u16 {
        let mut base = 42_000 + (std::process::id() % 1000) as u16 * 2;
        loop {
            let all_free = (base..base + 2 * n)
                .all(|p| UdpSocket::bind(SocketAddr::new(localhost(), p)).is_ok());
            if all_free {
                return base;
            }
            base = if base > 60_000 { 42_000 } else { base + 2 * n };
        }
    }

    #[test]
    fn hands_out_even_ports_and_takes_them_back() {
        let lo = free_range(3);
        let pool = PortPool::new(lo, lo + 5);
        assert_eq!(pool.available(), 3);
        let a = pool.bind(localhost()).unwrap();
        let b = pool.bind(localhost()).unwrap();
        let c = pool.bind(localhost()).unwrap();
        assert_eq!([a.0.port(), b.0.port(), c.0.port()], [lo, lo + 2, lo + 4]);
        assert!(a.2.is_some(), "the RTCP port is bound too");
        assert!(pool.bind(localhost()).is_none());
        let freed = b.0.port();
        drop(b);
        let d = pool.bind(localhost()).unwrap();
        assert_eq!(d.0.port(), freed);
        drop((a, c, d));
        assert_eq!(pool.available(), 3);
    }

    #[test]
    fn an_odd_start_is_rounded_up() {
        let lo = free_range(2);
        let pool = PortPool::new(lo + 1, lo + 3);
        assert_eq!(pool.available(), 1);
        assert_eq!(pool.bind(localhost()).unwrap().0.port(), lo + 2);
        assert_eq!(PortPool::new(lo + 1, lo + 1).available(), 0);
    }

    #[test]
    fn ports_other_programs_hold_are_skipped() {
        let lo = free_range(2);
        let _other = UdpSocket::bind(SocketAddr::new(localhost(), lo)).unwrap();
        let pool = PortPool::new(lo, lo + 2);
        let (lease, _, _) = pool.bind(localhost()).unwrap();
        assert_eq!(lease.port(), lo + 2);
        // Only the foreign-held port is left: refused, and it stays in the pool.
        assert!(pool.bind(localhost()).is_none());
        assert_eq!(pool.available(), 1);
    }

    #[test]
    fn a_full_range_is_answered_at_once() {
        // 5,000 ports all held by our sessions: the next bind is one lock, no system call.
        let pool = PortPool::new(10_000, 20_000);
        let held: Vec<u16> = std::iter::from_fn(|| pool.free.lock().pop_front()).collect();
        assert_eq!(held.len(), 5001);
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(pool.bind(localhost()).is_none());
        }
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
    }
}
