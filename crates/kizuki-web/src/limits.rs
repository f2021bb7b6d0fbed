//! Fair limits: token buckets per organisation and per API token, and per signed-in
//! user for pages that write, charged after authentication so that one caller's flood empties
//! only its own buckets. A refusal is 429 with `Retry-After`, never a slower answer, so the
//! others are not kept waiting behind it (the reference's case 3: one user's burst exhausted
//! shared software).
//!
//! The buckets live in shards, each behind its own short lock, so callers of different
//! organisations rarely meet on a lock and nobody holds one across an `await`. Memory is
//! bounded: a shard that grows past its share forgets buckets that have refilled (a full
//! bucket is the same as none), and if every bucket is busy, the one idle longest.

use crate::error::WebError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kizuki_app::config::{LimitsConfig, Rate};
use kizuki_app::security::sessions::SessionData;
use kizuki_domain::ids::{OrgId, UserId};
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SHARDS: usize = 32;
/// Buckets kept per limiter before idle ones are forgotten.
const MAX_BUCKETS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Refills for the time since the last look, capped at `burst`.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let per_sec = f64::from(rate.per_minute) / 60.0;
        self.tokens = (self.tokens + elapsed * per_sec).min(f64::from(rate.burst));
        self.last = now;
    }
}

/// One kind of bucket (per organisation, per token, per user), keyed by a 64-bit hash.
#[derive(Debug)]
pub struct Buckets {
    rate: Rate,
    shards: Vec<Mutex<HashMap<u64, Bucket>>>,
    per_shard: usize,
}

impl Buckets {
    pub fn new(rate: Rate) -> Buckets {
        Buckets::with_capacity(rate, MAX_BUCKETS)
    }

    /// At most about `max` buckets are kept (at least one per shard).
    pub fn with_capacity(rate: Rate, max: usize) -> Buckets {
        Buckets {
            rate,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max.div_ceil(SHARDS).max(1),
        }
    }

    /// Takes one token for `key`; when there is none, how long until there is.
    pub fn take(&self, key: u64, now: Instant) -> Result<(), Duration> {
        // The low bits pick the shard; the key is already a hash.
        let shard = &self.shards[(key as usize) % SHARDS];
        let mut map = match shard.lock() {
            Ok(g) => g,
            // A panic elsewhere cannot leave a bucket half-updated: refill and take are plain
            // stores of whole values.
            Err(p) => p.into_inner(),
        };
        if !map.contains_key(&key) && map.len() >= self.per_shard {
            self.evict(&mut map, now);
        }
        let rate = self.rate;
        let b = map.entry(key).or_insert(Bucket {
            tokens: f64::from(rate.burst),
            last: now,
        });
        b.refill(rate, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let per_sec = f64::from(rate.per_minute) / 60.0;
        Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
    }

    /// Like [`take`](Self::take), only for a key that already has a bucket (`None` when it
    /// has none), so callers not yet authenticated cannot create buckets.
    pub fn take_existing(&self, key: u64, now: Instant) -> Option<Result<(), Duration>> {
        let present = self.shards[(key as usize) % SHARDS].lock().map_or_else(
            |p| p.into_inner().contains_key(&key),
            |g| g.contains_key(&key),
        );
        // Between the look and the take the bucket may be evicted and made anew, full: the
        // same as a bucket that refilled, so nothing is lost.
        present.then(|| self.take(key, now))
    }

    /// Forgets the buckets that have refilled; if none has, the one idle longest.
    fn evict(&self, map: &mut HashMap<u64, Bucket>, now: Instant) {
        let rate = self.rate;
        map.retain(|_, b| {
            let mut b = *b;
            b.refill(rate, now);
            b.tokens < f64::from(rate.burst)
        });
        if map.len() >= self.per_shard
            && let Some(oldest) = map.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
    }

    /// Buckets held now (for tests and `/metrics`).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or_else(|p| p.into_inner().len(), |g| g.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which bucket refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Org,
    Token,
    User,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Org => "org",
            Scope::Token => "token",
            Scope::User => "user",
        }
    }
}

/// A refusal: which limit, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub scope: Scope,
    pub retry_after: Duration,
}

impl Refusal {
    /// `Retry-After` in whole seconds, rounded up so a client that waits that long finds a
    /// token.
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// How long a refusal is held before it is sent. A client that ignores `Retry-After` and
/// asks again at once would otherwise make the server spend its CPU on refusals at whatever
/// rate it likes; holding each 429 a moment (a timer, no CPU) caps a flooding connection at
/// four requests a second and slows nobody else.
pub const REFUSAL_HOLD: Duration = Duration::from_millis(250);

impl Refusal {
    /// Waits out the hold, then turns the refusal into the 429 answer. The hold is the full
    /// [`REFUSAL_HOLD`] even when the next token is due sooner: `Retry-After` tells the
    /// client to wait at least a second, so one that follows it loses nothing, while one
    /// that does not would otherwise be let back each time a token comes due (with many
    /// connections, most of them only to be refused again).
    pub async fn held(self) -> WebError {
        let told = Duration::from_secs(self.retry_after_secs());
        tokio::time::sleep(told.min(REFUSAL_HOLD)).await;
        self.into()
    }
}

impl From<Refusal> for WebError {
    fn from(r: Refusal) -> Self {
        WebError::TooManyRequests {
            code: "rate_limited",
            retry_after_secs: r.retry_after_secs(),
        }
    }
}

/// What [`Limits::check_token_early`] already charged, for [`Limits::check_api`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EarlyCharge {
    token: bool,
    org: Option<OrgId>,
}

/// All the buckets of one server, as configured in `[limits]`.
#[derive(Debug)]
pub struct Limits {
    pub config: LimitsConfig,
    org: Buckets,
    token: Buckets,
    user: Buckets,
    /// The organisation each recently authenticated token belongs to, so a flood on a
    /// known token is refused before the database is asked who it is.
    token_org: Vec<Mutex<HashMap<u64, OrgId>>>,
    /// Keys are hashed with a per-process random key, so token secrets are never kept and
    /// nobody can aim keys at one shard.
    hasher: RandomState,
    refused: [AtomicU64; 3],
    /// When set, organisations' buckets are the database's, shared with every other node
    /// (`kizuki_app::shared_limits`); tokens and users keep this node's.
    shared: Option<kizuki_app::App>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Limits {
        Limits {
            org: Buckets::new(config.org),
            token: Buckets::new(config.token),
            user: Buckets::new(config.user_write),
            token_org: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            refused: Default::default(),
            shared: None,
            config,
        }
    }

    /// Organisations' buckets from now on in `app`'s database, shared by every node on it.
    pub fn shared_with(mut self, app: kizuki_app::App) -> Limits {
        self.shared = Some(app);
        self
    }

    /// One API call charged to `org`: this node's bucket, or the one every node shares.
    async fn take_org(&self, org: OrgId, now: Instant) -> Result<(), Refusal> {
        let Some(app) = &self.shared else {
            return self
                .org
                .take(self.org_key(org), now)
                .map_err(|d| self.refuse(Scope::Org, d));
        };
        match kizuki_app::shared_limits::take(app, &format!("org:{}", org.0), self.config.org).await
        {
            Ok(taken) => taken.map_err(|d| self.refuse(Scope::Org, d)),
            // The limit protects the database; when the database cannot answer, the request
            // meets the same failure on its own a moment later, so it is not refused here.
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limit unavailable; call let through");
                Ok(())
            }
        }
    }

    fn refuse(&self, scope: Scope, retry_after: Duration) -> Refusal {
        self.refused[scope as usize].fetch_add(1, Ordering::Relaxed);
        Refusal { scope, retry_after }
    }

    fn token_key(&self, token_secret: &str) -> u64 {
        self.hasher.hash_one(("token", token_secret))
    }

    fn org_key(&self, org: OrgId) -> u64 {
        self.hasher.hash_one(("org", org.0))
    }

    fn known_org(&self, tk: u64) -> Option<OrgId> {
        let shard = &self.token_org[(tk as usize) % SHARDS];
        shard.lock().map_or_else(
            |p| p.into_inner().get(&tk).copied(),
            |g| g.get(&tk).copied(),
        )
    }

    fn remember_org(&self, tk: u64, org: OrgId) {
        let shard = &self.token_org[(tk as usize) % SHARDS];
        let mut map = match shard.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if !map.contains_key(&tk) && map.len() >= MAX_BUCKETS / SHARDS {
            // Only a shortcut: forgetting costs a database look-up, never a wrong answer.
            map.clear();
        }
        map.insert(tk, org);
    }

    /// Before authentication, for a token that has been seen before: charges its bucket
    /// (and its organisation's, when known), so a flood on it is refused without a database
    /// look-up. A token never seen, or a forged secret, is charged nothing here and creates
    /// no bucket. A refusal here may answer 429 to a token revoked since it was last seen.
    pub fn check_token_early(
        &self,
        token_secret: &str,
        now: Instant,
    ) -> Result<EarlyCharge, Refusal> {
        if !self.config.enabled {
            return Ok(EarlyCharge::default());
        }
        let tk = self.token_key(token_secret);
        let Some(taken) = self.token.take_existing(tk, now) else {
            return Ok(EarlyCharge::default());
        };
        taken.map_err(|d| self.refuse(Scope::Token, d))?;
        let mut charge = EarlyCharge {
            token: true,
            org: None,
        };
        // A shared bucket is charged once the caller is known, with one database round trip.
        if self.shared.is_none()
            && let Some(org) = self.known_org(tk)
        {
            self.org
                .take(self.org_key(org), now)
                .map_err(|d| self.refuse(Scope::Org, d))?;
            charge.org = Some(org);
        }
        Ok(charge)
    }

    /// One API call by a token of `org`, once authenticated, with what
    /// [`check_token_early`](Self::check_token_early) already charged. The token's own bucket
    /// is asked first, so a token over its limit does not also drain its organisation's.
    pub async fn check_api(
        &self,
        org: OrgId,
        token_secret: &str,
        early: EarlyCharge,
        now: Instant,
    ) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        let tk = self.token_key(token_secret);
        if !early.token {
            self.token
                .take(tk, now)
                .map_err(|d| self.refuse(Scope::Token, d))?;
        }
        if early.org != Some(org) {
            self.remember_org(tk, org);
            self.take_org(org, now).await?;
        }
        Ok(())
    }

    /// One form post by a signed-in user.
    pub fn check_page_write(&self, user: UserId, now: Instant) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        let k = self.hasher.hash_one(("user", user.0));
        self.user
            .take(k, now)
            .map_err(|d| self.refuse(Scope::User, d))
    }

    /// Refusals so far, by scope (for `/metrics`).
    pub fn refused(&self) -> [(Scope, u64); 3] {
        [Scope::Org, Scope::Token, Scope::User]
            .map(|s| (s, self.refused[s as usize].load(Ordering::Relaxed)))
    }

    /// Buckets held now, all kinds together.
    pub fn buckets(&self) -> usize {
        self.org.len() + self.token.len() + self.user.len()
    }
}

/// Charges every page request that writes (anything but GET and HEAD) by a signed-in user
/// to that user's bucket. Runs inside the session layer, which turns the refusal into a
/// page in the visitor's language (the `Retry-After` header is kept).
pub async fn page_layer(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    let user = req.extensions().get::<SessionData>().and_then(|s| s.user);
    if writes
        && let Some(u) = user
        && let Err(r) = limits.check_page_write(u, Instant::now())
    {
        tracing::info!(
            user = u.0,
            retry_after = r.retry_after_secs(),
            "page write rate-limited"
        );
        return WebError::from(r).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refusal_is_held_the_full_hold_even_when_a_token_is_due_sooner() {
        let r = Refusal {
            scope: Scope::Token,
            retry_after: Duration::from_millis(10),
        };
        let started = std::time::Instant::now();
        let e = r.held().await;
        assert!(started.elapsed() >= REFUSAL_HOLD, "{:?}", started.elapsed());
        assert!(matches!(
            e,
            WebError::TooManyRequests {
                retry_after_secs: 1,
                ..
            }
        ));
    }

    fn rate(per_minute: u32, burst: u32) -> Rate {
        Rate { per_minute, burst }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_it_refills() {
        let b = Buckets::new(rate(60, 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take(1, t0).is_ok());
        }
        let wait = b.take(1, t0).unwrap_err();
        // One token a second: the next one is a second away.
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert!(b.take(1, t0 + Duration::from_millis(500)).is_err());
        assert!(b.take(1, t0 + Duration::from_millis(1500)).is_ok());
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(1, later).is_ok());
        }
        assert!(b.take(1, later).is_err());
    }

    #[test]
    fn keys_do_not_share_a_bucket() {
        let b = Buckets::new(rate(1, 1));
        let t0 = Instant::now();
        assert!(b.take(7, t0).is_ok());
        assert!(b.take(7, t0).is_err());
        assert!(b.take(8, t0).is_ok(), "another key has its own bucket");
    }

    #[test]
    fn memory_is_bounded_and_full_buckets_are_forgotten_first() {
        let b = Buckets::with_capacity(rate(60, 2), SHARDS * 4);
        let t0 = Instant::now();
        // Drain key 0 (shard 0); then many idle keys of the same shard.
        assert!(b.take(0, t0).is_ok());
        assert!(b.take(0, t0).is_ok());
        for i in 1..100u64 {
            let _ = b.take(i * SHARDS as u64, t0 + Duration::from_millis(i));
        }
        assert!(b.len() <= SHARDS * 4, "{}", b.len());
        // Far later every bucket has refilled, and a flood of new keys replaces them.
        let later = t0 + Duration::from_secs(600);
        for i in 0..10_000u64 {
            let _ = b.take(1_000_000 + i, later);
        }
        assert!(b.len() <= SHARDS * 4, "{}", b.len());
    }

    #[test]
    fn a_drained_bucket_survives_eviction_of_refilled_ones() {
        let b = Buckets::with_capacity(rate(1, 1), SHARDS * 2);
        let t0 = Instant::now();
        assert!(b.take(0, t0).is_ok());
        // Another key of shard 0, drained too, then idle.
        assert!(b.take(SHARDS as u64, t0).is_ok());
        let t1 = t0 + Duration::from_secs(30);
        assert!(b.take(0, t1).is_err(), "still drained");
        // A new key in the full shard evicts, but the drained key stays drained.
        assert!(b.take(2 * SHARDS as u64, t1).is_ok());
        assert!(
            b.take(0, t1).is_err(),
            "eviction must not reset a drained bucket"
        );
    }

    #[tokio::test]
    async fn api_calls_are_charged_to_token_then_org_and_orgs_are_separate() {
        let cfg = LimitsConfig {
            org: rate(60, 5),
            token: rate(60, 3),
            ..LimitsConfig::default()
        };
        let l = Limits::new(cfg);
        let t0 = Instant::now();
        let a = OrgId(1);
        for _ in 0..3 {
            assert!(
                l.check_api(a, "kzk_one", EarlyCharge::default(), t0)
                    .await
                    .is_ok()
            );
        }
        let r = l
            .check_api(a, "kzk_one", EarlyCharge::default(), t0)
            .await
            .unwrap_err();
        assert_eq!(r.scope, Scope::Token);
        assert_eq!(r.retry_after_secs(), 1);
        // A second token of the same organisation has two calls left of the org's five.
        assert!(
            l.check_api(a, "kzk_two", EarlyCharge::default(), t0)
                .await
                .is_ok()
        );
        assert!(
            l.check_api(a, "kzk_two", EarlyCharge::default(), t0)
                .await
                .is_ok()
        );
        assert_eq!(
            l.check_api(a, "kzk_two", EarlyCharge::default(), t0)
                .await
                .unwrap_err()
                .scope,
            Scope::Org
        );
        // Another organisation is untouched.
        assert!(
            l.check_api(OrgId(2), "kzk_three", EarlyCharge::default(), t0)
                .await
                .is_ok()
        );
        let refused = l.refused();
        assert_eq!(refused[0], (Scope::Org, 1));
        assert_eq!(refused[1], (Scope::Token, 1));
    }

    #[tokio::test]
    async fn known_tokens_are_charged_before_authentication_and_only_once() {
        let l = Limits::new(LimitsConfig {
            org: rate(60, 100),
            token: rate(60, 3),
            ..LimitsConfig::default()
        });
        let t0 = Instant::now();
        let org = OrgId(4);
        // A token never seen (or a forged secret): nothing charged, no bucket made.
        let e = l.check_token_early("kzk_new", t0).unwrap();
        assert_eq!(e, EarlyCharge::default());
        assert_eq!(l.buckets(), 0);
        l.check_api(org, "kzk_new", e, t0).await.unwrap();
        // Seen now: the early check charges the token and its organisation, the later
        // one nothing more, so three calls spend the burst of three exactly.
        for _ in 0..2 {
            let e = l.check_token_early("kzk_new", t0).unwrap();
            assert_eq!(e.org, Some(org));
            l.check_api(org, "kzk_new", e, t0).await.unwrap();
        }
        let r = l.check_token_early("kzk_new", t0).unwrap_err();
        assert_eq!(r.scope, Scope::Token);
        assert_eq!(l.refused()[1], (Scope::Token, 1));
    }

    #[tokio::test]
    async fn a_spent_organisation_is_refused_early_for_its_known_tokens() {
        let l = Limits::new(LimitsConfig {
            org: rate(60, 2),
            token: rate(60, 100),
            ..LimitsConfig::default()
        });
        let t0 = Instant::now();
        let org = OrgId(9);
        l.check_api(org, "kzk_a", EarlyCharge::default(), t0)
            .await
            .unwrap();
        let e = l.check_token_early("kzk_a", t0).unwrap();
        l.check_api(org, "kzk_a", e, t0).await.unwrap();
        assert_eq!(
            l.check_token_early("kzk_a", t0).unwrap_err().scope,
            Scope::Org
        );
    }

    #[test]
    fn switched_off_limits_refuse_nothing() {
        let l = Limits::new(LimitsConfig {
            enabled: false,
            user_write: rate(1, 1),
            ..LimitsConfig::default()
        });
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.check_page_write(UserId(1), t0).is_ok());
        }
        assert_eq!(l.buckets(), 0);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = |ms| Refusal {
            scope: Scope::Org,
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(r(1).retry_after_secs(), 1);
        assert_eq!(r(1000).retry_after_secs(), 1);
        assert_eq!(r(1001).retry_after_secs(), 2);
        assert_eq!(r(59_500).retry_after_secs(), 60);
    }
}
