//! Who has a record open for editing. Kept in memory: it is a courtesy shown beside the
//! form, while the version check is what actually prevents lost updates.

use chrono::{DateTime, Duration, Utc};
use kizuki_domain::ids::UserId;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a page counts as open after its last heartbeat; pages beat every 15 seconds.
pub const TTL_SECONDS: i64 = 45;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub user_id: UserId,
    pub name: String,
    pub since: DateTime<Utc>,
    pub seen: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Presence {
    records: Mutex<HashMap<String, HashMap<UserId, Editor>>>,
}

impl Presence {
    pub fn new() -> Presence {
        Presence::default()
    }

    /// Records that `user` has `record` open at `now` and returns the others who do,
    /// longest-open first.
    pub fn touch(&self, record: &str, user: UserId, name: &str, now: DateTime<Utc>) -> Vec<Editor> {
        let mut all = match self.records.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let cutoff = now - Duration::seconds(TTL_SECONDS);
        all.retain(|_, eds| {
            eds.retain(|_, e| e.seen >= cutoff);
            !eds.is_empty()
        });
        let eds = all.entry(record.to_owned()).or_default();
        eds.entry(user)
            .and_modify(|e| e.seen = now)
            .or_insert_with(|| Editor {
                user_id: user,
                name: name.to_owned(),
                since: now,
                seen: now,
            });
        let mut others: Vec<Editor> = eds
            .values()
            .filter(|e| e.user_id != user)
            .cloned()
            .collect();
        others.sort_by_key(|e| (e.since, e.user_id));
        others
    }

    /// The user closed the page (or saved); others stop seeing them at once.
    pub fn leave(&self, record: &str, user: UserId) {
        let mut all = match self.records.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(eds) = all.get_mut(record) {
            eds.remove(&user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn others_are_seen_until_they_go_quiet() {
        let p = Presence::new();
        let t0 = Utc.with_ymd_and_hms(2019, 5, 1, 0, 0, 0).unwrap();
        assert!(p.touch("case:1", UserId(1), "甲", t0).is_empty());
        let seen = p.touch("case:1", UserId(2), "乙", t0 + Duration::seconds(5));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].name, "甲");
        assert!(
            p.touch("case:2", UserId(2), "乙", t0).is_empty(),
            "per record"
        );
        let later = t0 + Duration::seconds(TTL_SECONDS + 10);
        assert!(
            p.touch("case:1", UserId(2), "乙", later).is_empty(),
            "user 1 stopped beating"
        );
        p.touch("case:1", UserId(1), "甲", later);
        p.leave("case:1", UserId(1));
        assert!(p.touch("case:1", UserId(2), "乙", later).is_empty());
    }
}
