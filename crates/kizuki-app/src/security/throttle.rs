//! Login throttling per account and per source address, with lockout and a message that says
//! how long to wait.
//!
//! The order at login is: [`LoginThrottle::check`] before the password is even looked at
//! (a locked attempt is refused without it), then [`LoginThrottle::record_failure`] or
//! [`LoginThrottle::record_success`]. Unknown accounts are counted exactly like real ones, so
//! lockout behaviour does not reveal which e-mail addresses exist.
//!
//! Memory is bounded: entries whose failures have all left the window are dropped first, then
//! the least recently active ones that are not locked. IPv6 addresses are counted per /64,
//! the block one subscriber usually holds, so rotating through a prefix gains nothing.

use chrono::{DateTime, Duration, Utc};
use kizuki_domain::clock::Clock;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures within `window` that lock.
    pub max_failures: usize,
    pub window: Duration,
    pub lockout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub account: Limit,
    pub address: Limit,
    /// Entries kept per kind (accounts, addresses) before old ones are evicted.
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            account: Limit {
                max_failures: 5,
                window: Duration::minutes(15),
                lockout: Duration::minutes(15),
            },
            address: Limit {
                max_failures: 20,
                window: Duration::minutes(15),
                lockout: Duration::minutes(15),
            },
            max_entries: 100_000,
        }
    }
}

/// What was locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    Account,
    Address,
}

/// A refusal: which lock, until when, and how long is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub scope: LockScope,
    pub until: DateTime<Utc>,
    pub remaining: Duration,
}

impl Locked {
    /// Whole minutes left, rounded up, at least 1: "0 minutes" would invite a retry that fails.
    pub fn minutes_remaining(&self) -> i64 {
        let secs = self.remaining.num_seconds().max(1);
        (secs + 59) / 60
    }

    pub fn message_ja(&self) -> String {
        let n = self.minutes_remaining();
        match self.scope {
            LockScope::Account => format!(
                "ログインの失敗が続いたため、このアカウントへのログインを一時的に停止しています。約{n}分後にもう一度お試しください。"
            ),
            LockScope::Address => format!(
                "このネットワークからのログインの失敗が多いため、一時的にログインを停止しています。約{n}分後にもう一度お試しください。"
            ),
        }
    }

    pub fn message_en(&self) -> String {
        let n = self.minutes_remaining();
        let unit = if n == 1 { "minute" } else { "minutes" };
        match self.scope {
            LockScope::Account => format!(
                "Too many failed sign-ins for this account. Sign-in is paused; try again in about {n} {unit}."
            ),
            LockScope::Address => format!(
                "Too many failed sign-ins from this network. Sign-in is paused; try again in about {n} {unit}."
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddrKey {
    V4([u8; 4]),
    /// The first 64 bits.
    V6([u8; 8]),
}

fn addr_key(ip: IpAddr) -> AddrKey {
    match ip {
        IpAddr::V4(v4) => AddrKey::V4(v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
            Some(v4) => AddrKey::V4(v4.octets()),
            None => {
                let o = v6.octets();
                AddrKey::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
            }
        },
    }
}

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

#[derive(Debug, Clone)]
struct Entry {
    /// Failure times inside the window, oldest first; never longer than the limit.
    failures: VecDeque<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
    last: DateTime<Utc>,
}

impl Entry {
    fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|u| *u > now)
    }

    fn prune(&mut self, now: DateTime<Utc>, limit: &Limit) {
        while self
            .failures
            .front()
            .is_some_and(|t| now - *t >= limit.window)
        {
            self.failures.pop_front();
        }
        if self.locked_until.is_some_and(|u| u <= now) {
            // A lock that has run out starts the count afresh.
            self.locked_until = None;
            self.failures.clear();
        }
    }

    fn is_stale(&self, now: DateTime<Utc>, limit: &Limit) -> bool {
        self.locked_at(now).is_none()
            && self
                .failures
                .back()
                .is_none_or(|t| now - *t >= limit.window)
    }
}

#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entry>,
    limit: Limit,
    /// Stale entries are also swept once a window, so a quiet server does not hold on to a
    /// burst's worth of memory until the next burst.
    last_sweep: Option<DateTime<Utc>>,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(limit: Limit) -> Self {
        Table {
            map: HashMap::new(),
            limit,
            last_sweep: None,
        }
    }

    fn locked(&mut self, key: &K, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let limit = self.limit;
        let e = self.map.get_mut(key)?;
        e.prune(now, &limit);
        e.locked_at(now)
    }

    /// Counts a failure; returns the lock end if this failure locks.
    fn fail(&mut self, key: K, now: DateTime<Utc>, max_entries: usize) -> Option<DateTime<Utc>> {
        if self.last_sweep.is_none_or(|t| now - t >= self.limit.window) {
            let limit = self.limit;
            self.map.retain(|_, e| !e.is_stale(now, &limit));
            self.last_sweep = Some(now);
        }
        if !self.map.contains_key(&key) && self.map.len() >= max_entries {
            self.evict(now, max_entries);
        }
        let limit = self.limit;
        let e = self.map.entry(key).or_insert_with(|| Entry {
            failures: VecDeque::new(),
            locked_until: None,
            last: now,
        });
        e.prune(now, &limit);
        e.last = now;
        if e.locked_at(now).is_some() {
            // Attempts during a lock are refused before the password is checked; one that
            // slips through does not extend the lock, so the wait shown stays true.
            return None;
        }
        e.failures.push_back(now);
        if e.failures.len() >= limit.max_failures {
            let until = now + limit.lockout;
            e.locked_until = Some(until);
            e.failures.clear();
            return Some(until);
        }
        None
    }

    fn clear(&mut self, key: &K) {
        self.map.remove(key);
    }

    /// Makes room for at least an eighth of `max_entries`, so a flood pays for one sweep every
    /// many insertions rather than one per insertion.
    fn evict(&mut self, now: DateTime<Utc>, max_entries: usize) {
        let limit = self.limit;
        self.map.retain(|_, e| !e.is_stale(now, &limit));
        let target = max_entries.saturating_sub(max_entries / 8 + 1);
        if self.map.len() <= target {
            return;
        }
        // Unlocked entries go first, oldest activity first; locks are kept as long as
        // anything else can go, and then the ones ending soonest go.
        let mut order: Vec<(bool, DateTime<Utc>, K)> = self
            .map
            .iter()
            .map(|(k, e)| match e.locked_at(now) {
                Some(until) => (true, until, k.clone()),
                None => (false, e.last, k.clone()),
            })
            .collect();
        order.sort_by_key(|(locked, at, _)| (*locked, *at));
        let excess = self.map.len() - target;
        for (_, _, k) in order.into_iter().take(excess) {
            self.map.remove(&k);
        }
    }
}

#[derive(Debug)]
struct State {
    accounts: Table<String>,
    addresses: Table<AddrKey>,
}

/// Shared by every request; cheap to call.
pub struct LoginThrottle {
    cfg: ThrottleConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    pub fn new(cfg: ThrottleConfig, clock: Arc<dyn Clock>) -> Self {
        LoginThrottle {
            state: Mutex::new(State {
                accounts: Table::new(cfg.account),
                addresses: Table::new(cfg.address),
            }),
            cfg,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn refusal(&self, scope: LockScope, until: DateTime<Utc>, now: DateTime<Utc>) -> Locked {
        Locked {
            scope,
            until,
            remaining: until - now,
        }
    }

    /// Whether a login for `account` from `addr` may be attempted now. The address lock is
    /// reported first: it is the wider one, and says nothing about the account.
    pub fn check(&self, account: &str, addr: IpAddr) -> Result<(), Locked> {
        let now = self.clock.now();
        let mut st = self.lock();
        if let Some(until) = st.addresses.locked(&addr_key(addr), now) {
            return Err(self.refusal(LockScope::Address, until, now));
        }
        if let Some(until) = st.accounts.locked(&account_key(account), now) {
            return Err(self.refusal(LockScope::Account, until, now));
        }
        Ok(())
    }

    /// Counts a failed login (wrong password, unknown account, wrong second factor). Returns
    /// the lock this failure started, if any, so the page can say so at once.
    pub fn record_failure(&self, account: &str, addr: IpAddr) -> Option<Locked> {
        let now = self.clock.now();
        let max = self.cfg.max_entries;
        let mut st = self.lock();
        let by_addr = st.addresses.fail(addr_key(addr), now, max);
        let by_account = st.accounts.fail(account_key(account), now, max);
        by_addr
            .map(|u| self.refusal(LockScope::Address, u, now))
            .or_else(|| by_account.map(|u| self.refusal(LockScope::Account, u, now)))
    }

    /// Forgets the account's failures after a successful login. The address keeps its count:
    /// otherwise an attacker with one valid account could reset it between guesses at others.
    pub fn record_success(&self, account: &str, _addr: IpAddr) {
        self.lock().accounts.clear(&account_key(account));
    }

    /// Lifts a lock by hand (an administrator who has checked with the user).
    pub fn unlock_account(&self, account: &str) {
        self.lock().accounts.clear(&account_key(account));
    }

    /// Entries held (accounts, addresses), for metrics.
    pub fn len(&self) -> (usize, usize) {
        let st = self.lock();
        (st.accounts.map.len(), st.addresses.map.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use kizuki_domain::clock::FixedClock;

    fn setup() -> (Arc<FixedClock>, LoginThrottle) {
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2024, 4, 1, 9, 0, 0).unwrap(),
        ));
        let t = LoginThrottle::new(ThrottleConfig::default(), clock.clone());
        (clock, t)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mins(n: i64) -> Duration {
        Duration::minutes(n)
    }

    #[test]
    fn five_failures_lock_the_account_for_fifteen_minutes() {
        let (clock, t) = setup();
        let a = ip("192.0.2.1");
        for i in 0..4 {
            assert_eq!(t.check("ana@example.jp", a), Ok(()), "attempt {i}");
            assert_eq!(t.record_failure("ana@example.jp", a), None);
            clock.advance(mins(1));
        }
        let lock = t.record_failure("Ana@Example.jp ", a).unwrap();
        assert_eq!(lock.scope, LockScope::Account);
        assert_eq!(lock.remaining, mins(15));
        let err = t.check("ana@example.jp", a).unwrap_err();
        assert_eq!(err.scope, LockScope::Account);
        assert_eq!(err.minutes_remaining(), 15);
        // Another address does not help: the lock is on the account.
        assert!(t.check("ana@example.jp", ip("198.51.100.7")).is_err());
        // Other accounts from the same address are unaffected.
        assert_eq!(t.check("bob@example.jp", a), Ok(()));

        clock.advance(mins(14) + Duration::seconds(1));
        let err = t.check("ana@example.jp", a).unwrap_err();
        assert_eq!(err.minutes_remaining(), 1);
        assert_eq!(err.remaining, Duration::seconds(59));
        clock.advance(Duration::seconds(59));
        assert_eq!(t.check("ana@example.jp", a), Ok(()));
        // The count starts afresh after a lock: one more failure does not re-lock.
        assert_eq!(t.record_failure("ana@example.jp", a), None);
        assert_eq!(t.check("ana@example.jp", a), Ok(()));
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let (clock, t) = setup();
        let a = ip("192.0.2.1");
        for _ in 0..4 {
            assert_eq!(t.record_failure("ana@example.jp", a), None);
        }
        clock.advance(mins(15));
        // The four are now exactly 15 minutes old, outside the window.
        assert_eq!(t.record_failure("ana@example.jp", a), None);
        for _ in 0..3 {
            assert_eq!(t.record_failure("ana@example.jp", a), None);
        }
        assert!(t.record_failure("ana@example.jp", a).is_some());
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let (_clock, t) = setup();
        let a = ip("192.0.2.1");
        for _ in 0..4 {
            t.record_failure("ana@example.jp", a);
        }
        t.record_success("ana@example.jp", a);
        for _ in 0..4 {
            assert_eq!(t.record_failure("ana@example.jp", a), None);
        }
        // 8 failures from the address so far; spraying other accounts reaches 20.
        for i in 0..11 {
            assert_eq!(
                t.record_failure(&format!("u{i}@example.jp"), a),
                None,
                "{i}"
            );
        }
        let lock = t.record_failure("zed@example.jp", a).unwrap();
        assert_eq!(lock.scope, LockScope::Address);
        let err = t.check("nobody@example.jp", a).unwrap_err();
        assert_eq!(err.scope, LockScope::Address);
        assert!(err.message_ja().contains("ネットワーク") && err.message_ja().contains("15分"));
        assert!(err.message_en().contains("15 minutes"));
        assert_eq!(t.check("nobody@example.jp", ip("192.0.2.2")), Ok(()));
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let (_clock, t) = setup();
        for i in 0..20u16 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, i, i, i));
            t.record_failure(&format!("u{i}@example.jp"), addr);
        }
        assert!(t.check("x@example.jp", ip("2001:db8:1:2::ffff")).is_err());
        assert_eq!(t.check("x@example.jp", ip("2001:db8:1:3::1")), Ok(()));

        for i in 0..20 {
            t.record_failure(&format!("v{i}@example.jp"), ip("::ffff:203.0.113.9"));
        }
        assert!(t.check("x@example.jp", ip("203.0.113.9")).is_err());
    }

    #[test]
    fn attempts_during_a_lock_do_not_extend_it() {
        let (clock, t) = setup();
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            t.record_failure("ana@example.jp", a);
        }
        clock.advance(mins(10));
        assert_eq!(t.record_failure("ana@example.jp", a), None);
        assert_eq!(
            t.check("ana@example.jp", a)
                .unwrap_err()
                .minutes_remaining(),
            5
        );
    }

    #[test]
    fn memory_is_bounded_and_locks_outlive_idle_entries() {
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2024, 4, 1, 9, 0, 0).unwrap(),
        ));
        let cfg = ThrottleConfig {
            max_entries: 64,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(cfg, clock.clone());
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            t.record_failure("locked@example.jp", a);
        }
        for i in 0..500 {
            clock.advance(Duration::seconds(1));
            t.record_failure(&format!("spray{i}@example.jp"), ip("198.51.100.1"));
            let (accounts, addrs) = t.len();
            assert!(accounts <= 64 && addrs <= 64, "{accounts} {addrs}");
        }
        // 500 s have passed (under the 15 min lock) and the locked account survived eviction.
        assert_eq!(
            t.check("locked@example.jp", ip("203.0.113.1"))
                .unwrap_err()
                .scope,
            LockScope::Account
        );
        // Once everything is old, the next sweep drops it all.
        clock.advance(mins(16));
        t.record_failure("late@example.jp", ip("203.0.113.2"));
        assert_eq!(t.len().0, 1);
        assert_eq!(t.check("locked@example.jp", a), Ok(()));
    }

    #[test]
    fn messages() {
        let l = Locked {
            scope: LockScope::Account,
            until: Utc.with_ymd_and_hms(2024, 4, 1, 9, 15, 0).unwrap(),
            remaining: Duration::seconds(61),
        };
        assert_eq!(l.minutes_remaining(), 2);
        assert!(l.message_ja().contains("約2分後"));
        assert!(l.message_en().contains("about 2 minutes"));
        let l = Locked {
            remaining: Duration::seconds(1),
            ..l
        };
        assert!(l.message_en().contains("about 1 minute."));
    }
}
