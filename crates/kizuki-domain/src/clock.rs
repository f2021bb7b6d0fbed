//! The clock is injected so tests can stand on era boundaries and deadlines at will.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use std::sync::Mutex;

/// Japan Standard Time. Japan has no daylight saving, so a fixed offset is exact.
pub fn jst() -> FixedOffset {
    // 9 hours is always a valid offset; the fallback only satisfies the type.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The calendar date in Japan at an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&jst()).date_naive()
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    fn today_jst(&self) -> NaiveDate {
        jst_date(self.now())
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place the real time is read; everything else asks a `Clock`"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut g) = self.0.lock() {
            *g = at;
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut g) = self.0.lock() {
            *g += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
}
