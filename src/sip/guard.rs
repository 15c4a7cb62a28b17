//! Password-guessing defence for digest authentication, without I/O: failed attempts are
//! counted per source address and per account, and attempts that must not be judged are
//! refused before any password is checked.
//!
//! - **Per source**: after `source_failures` failed attempts the source is locked out for
//!   `lockout`; every further failure after a lockout locks it again for twice as long (up to
//!   `max_lockout`). The count is forgotten only after `forget` without a failure, or when
//!   the source authenticates. A guesser that stays under any rate limit therefore gets a
//!   handful of guesses, then one guess per growing lockout.
//! - **Per account**: after `account_failures` failures for one account within `forget`
//!   (from any number of sources), the account is *guarded* for `lockout` (doubling the
//!   same way): only sources that authenticated as it before may try; everyone else is
//!   refused. A phone that knows its password keeps registering while a botnet guesses.
//! - A refused attempt gets the answer a wrong password gets, without the password being
//!   checked: a locked-out guesser learns nothing, even when its guess is right.
//!
//! Memory is bounded: at most `max_entries` sources and accounts are remembered (the
//! oldest are forgotten first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The limits (sip.conf `[general]`, ferrisk's own options; see docs/sip.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failures from one source before it is locked out (0: no per-source limit).
    pub source_failures: u32,
    /// Failures for one account before it is guarded (0: no per-account limit).
    pub account_failures: u32,
    /// First lockout.
    pub lockout: Duration,
    /// Longest lockout.
    pub max_lockout: Duration,
    /// How long without failures before a source's or account's count is forgotten.
    pub forget: Duration,
    /// Sources or accounts remembered at most.
    pub max_entries: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            source_failures: 5,
            account_failures: 20,
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
            forget: Duration::from_secs(24 * 3600),
            max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
    /// The next lockout's length.
    next_lockout: Duration,
}

impl Record {
    fn new(now: Instant, first: Duration) -> Record {
        Record {
            failures: 0,
            last_failure: now,
            locked_until: None,
            next_lockout: first,
        }
    }

    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// Count a failure; `Some(lockout)` when it starts a lockout.
    fn fail(&mut self, limit: u32, cfg: &GuardConfig, now: Instant) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if limit == 0 || self.failures < limit || self.locked(now) {
            return None;
        }
        let d = self.next_lockout;
        self.locked_until = Some(now + d);
        self.next_lockout = (d * 2).min(cfg.max_lockout);
        Some(d)
    }
}

#[derive(Debug, Clone)]
struct Account {
    rec: Record,
    /// Sources that authenticated as this account, and when.
    trusted: Vec<(IpAddr, Instant)>,
}

/// What to do with an attempt that carries credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Judge,
    /// Answer as to a wrong password, without checking it.
    Refuse,
}

/// What a failure led to (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout {
    None,
    /// The source is now locked out for this long.
    Source(Duration),
    /// The account is now guarded for this long.
    Account(Duration),
}

/// The guard.
#[derive(Debug)]
pub struct AuthGuard {
    cfg: GuardConfig,
    sources: HashMap<IpAddr, Record>,
    accounts: HashMap<String, Account>,
}

/// Trusted sources kept per account.
const MAX_TRUSTED: usize = 8;

impl AuthGuard {
    pub fn new(cfg: GuardConfig) -> AuthGuard {
        AuthGuard {
            cfg,
            sources: HashMap::new(),
            accounts: HashMap::new(),
        }
    }

    pub fn config(&self) -> GuardConfig {
        self.cfg
    }

    /// New limits (a reload); what is remembered stays.
    pub fn set_config(&mut self, cfg: GuardConfig) {
        self.cfg = cfg;
    }

    fn expire(&mut self, now: Instant) {
        let forget = self.cfg.forget;
        let stale =
            |r: &Record| !r.locked(now) && now.saturating_duration_since(r.last_failure) >= forget;
        self.sources.retain(|_, r| !stale(r));
        self.accounts
            .retain(|_, a| !stale(&a.rec) || !a.trusted.is_empty());
        for a in self.accounts.values_mut() {
            if stale(&a.rec) {
                a.rec = Record::new(now, self.cfg.lockout);
            }
            a.trusted
                .retain(|(_, t)| now.saturating_duration_since(*t) < forget);
        }
        // Still too many: forget the oldest.
        let max = self.cfg.max_entries.max(1);
        if self.sources.len() > max {
            let mut v: Vec<(IpAddr, Instant)> = self
                .sources
                .iter()
                .map(|(k, r)| (*k, r.last_failure))
                .collect();
            v.sort_by_key(|(_, t)| *t);
            for (k, _) in v.into_iter().take(self.sources.len() - max) {
                self.sources.remove(&k);
            }
        }
        if self.accounts.len() > max {
            let mut v: Vec<(String, Instant)> = self
                .accounts
                .iter()
                .map(|(k, a)| (k.clone(), a.rec.last_failure))
                .collect();
            v.sort_by_key(|(_, t)| *t);
            for (k, _) in v.into_iter().take(self.accounts.len() - max) {
                self.accounts.remove(&k);
            }
        }
    }

    /// Whether an attempt from `src` as `account` may be judged.
    pub fn check(&mut self, src: IpAddr, account: &str, now: Instant) -> Verdict {
        if let Some(r) = self.sources.get(&src) {
            if r.locked(now) {
                return Verdict::Refuse;
            }
        }
        if let Some(a) = self.accounts.get(&account.to_ascii_lowercase()) {
            if a.rec.locked(now) && !a.trusted.iter().any(|(ip, _)| *ip == src) {
                return Verdict::Refuse;
            }
        }
        Verdict::Judge
    }

    /// A failed (or refused) attempt.
    pub fn failed(&mut self, src: IpAddr, account: &str, now: Instant) -> Lockout {
        if self.sources.len() >= self.cfg.max_entries || self.accounts.len() >= self.cfg.max_entries
        {
            self.expire(now);
        }
        let cfg = self.cfg;
        let key = account.to_ascii_lowercase();
        let a = self.accounts.entry(key).or_insert_with(|| Account {
            rec: Record::new(now, cfg.lockout),
            trusted: Vec::new(),
        });
        if now.saturating_duration_since(a.rec.last_failure) >= cfg.forget && !a.rec.locked(now) {
            a.rec = Record::new(now, cfg.lockout);
        }
        // A trusted source mistyping does not count against the account.
        let account_lock = if a.trusted.iter().any(|(ip, _)| *ip == src) {
            None
        } else {
            a.rec.fail(cfg.account_failures, &cfg, now)
        };
        let s = self
            .sources
            .entry(src)
            .or_insert_with(|| Record::new(now, cfg.lockout));
        if now.saturating_duration_since(s.last_failure) >= cfg.forget && !s.locked(now) {
            *s = Record::new(now, cfg.lockout);
        }
        match (s.fail(cfg.source_failures, &cfg, now), account_lock) {
            (Some(d), _) => Lockout::Source(d),
            (None, Some(d)) => Lockout::Account(d),
            (None, None) => Lockout::None,
        }
    }

    /// A successful attempt: the source's record is cleared and it becomes trusted for the
    /// account.
    pub fn succeeded(&mut self, src: IpAddr, account: &str, now: Instant) {
        self.sources.remove(&src);
        let key = account.to_ascii_lowercase();
        if let Some(a) = self.accounts.get_mut(&key) {
            a.trusted.retain(|(ip, _)| *ip != src);
            a.trusted.push((src, now));
            if a.trusted.len() > MAX_TRUSTED {
                a.trusted.remove(0);
            }
        } else if self.accounts.len() < self.cfg.max_entries {
            self.accounts.insert(
                key,
                Account {
                    rec: Record::new(now, self.cfg.lockout),
                    trusted: vec![(src, now)],
                },
            );
        }
    }

    /// Sources locked out now (for `sip show settings` and tests).
    pub fn locked_sources(&self, now: Instant) -> usize {
        self.sources.values().filter(|r| r.locked(now)).count()
    }

    /// How many sources and accounts are remembered.
    pub fn entries(&self) -> usize {
        self.sources.len() + self.accounts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn a_source_is_locked_out_after_a_few_failures_and_longer_each_time() {
        let mut g = AuthGuard::new(GuardConfig::default());
        let t = Instant::now();
        for i in 0..4 {
            assert_eq!(g.check(ip(1), "1000", t), Verdict::Judge, "attempt {i}");
            assert_eq!(g.failed(ip(1), "1000", t), Lockout::None);
        }
        assert_eq!(
            g.failed(ip(1), "1000", t),
            Lockout::Source(Duration::from_secs(60))
        );
        assert_eq!(g.check(ip(1), "1000", t), Verdict::Refuse);
        // Another account from the same source: refused too.
        assert_eq!(g.check(ip(1), "1001", t), Verdict::Refuse);
        // Another source for the same account: judged.
        assert_eq!(g.check(ip(2), "1000", t), Verdict::Judge);
        // After the lockout one more failure locks it again, twice as long.
        let t2 = t + Duration::from_secs(61);
        assert_eq!(g.check(ip(1), "1000", t2), Verdict::Judge);
        assert_eq!(
            g.failed(ip(1), "1000", t2),
            Lockout::Source(Duration::from_secs(120))
        );
        // A success clears the source.
        let t3 = t2 + Duration::from_secs(121);
        g.succeeded(ip(1), "1000", t3);
        assert_eq!(g.failed(ip(1), "1000", t3), Lockout::None);
    }

    #[test]
    fn a_slow_guesser_gets_few_guesses_a_day() {
        let mut g = AuthGuard::new(GuardConfig::default());
        let start = Instant::now();
        let mut t = start;
        let mut judged = 0;
        // One guess every 30 s for a day, whatever the answers.
        while t < start + Duration::from_secs(24 * 3600) {
            if g.check(ip(9), "1000", t) == Verdict::Judge {
                judged += 1;
            }
            g.failed(ip(9), "1000", t);
            t += Duration::from_secs(30);
        }
        // 5 free guesses, then one per lockout (1, 2, 4 … 60 min): about 30 a day, far
        // from the 5,000 a 4-digit secret needs on average.
        assert!(judged < 40, "{judged} guesses judged in a day");
    }

    #[test]
    fn many_sources_guard_the_account_but_its_phone_still_gets_in() {
        let mut g = AuthGuard::new(GuardConfig::default());
        let t = Instant::now();
        g.succeeded(ip(200), "1000", t);
        // A botnet: 20 sources, one guess each.
        for n in 1..=20 {
            let _ = g.failed(ip(n), "1000", t);
        }
        assert_eq!(g.check(ip(21), "1000", t), Verdict::Refuse);
        assert_eq!(g.check(ip(200), "1000", t), Verdict::Judge);
        // Other accounts are not affected.
        assert_eq!(g.check(ip(21), "1001", t), Verdict::Judge);
        // The guard ends.
        assert_eq!(
            g.check(ip(21), "1000", t + Duration::from_secs(61)),
            Verdict::Judge
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut g = AuthGuard::new(GuardConfig {
            max_entries: 100,
            ..GuardConfig::default()
        });
        let t = Instant::now();
        for n in 0..10_000u32 {
            let src = IpAddr::from(n.to_be_bytes());
            g.failed(
                src,
                &format!("u{n}"),
                t + Duration::from_millis(u64::from(n)),
            );
        }
        assert!(g.entries() <= 202, "{}", g.entries());
    }
}
