//! The tamper-evident audit log: append-only entries, each committing to the one before it
//! through a SHA-256 hash, so an edited, removed or reordered entry breaks the chain at a
//! place [`verify_chain`] names.
//!
//! A chain alone only proves consistency: whoever can rewrite the whole table can rehash it.
//! What makes it evidence is a head (seq, hash) kept somewhere else — printed by
//! `kizuki audit verify`, shipped with each export, logged to syslog — and checked with
//! [`verify_with_anchors`].
//!
//! Retention removes the oldest entries without breaking verification: before deleting
//! entries up to `n`, a checkpoint entry recording `n` and entry `n`'s hash is appended (same
//! transaction), and the shortened chain is anchored by it.

use super::hex;
use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// `prev_hash` of the first entry ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of a retention checkpoint.
pub const CHECKPOINT: &str = "audit.checkpoint";

/// Action names, so every caller writes the same ones.
pub mod actions {
    pub const LOGIN: &str = "auth.login";
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    pub const LOGIN_LOCKED: &str = "auth.login_locked";
    pub const LOGOUT: &str = "auth.logout";
    pub const MFA_ENROLLED: &str = "auth.mfa_enrolled";
    pub const MFA_FAILED: &str = "auth.mfa_failed";
    pub const RECOVERY_CODE_USED: &str = "auth.recovery_code_used";
    /// New recovery codes replaced the old ones.
    pub const RECOVERY_CODES_RENEWED: &str = "auth.recovery_codes_renewed";
    /// The second factor was removed to be set up again.
    pub const MFA_RESET: &str = "auth.mfa_reset";
    pub const PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const IP_REFUSED: &str = "auth.ip_refused";
    pub const TOKEN_CREATED: &str = "token.created";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    /// The first request made with a token.
    pub const TOKEN_FIRST_USED: &str = "token.first_used";
    /// Kept secrets sealed under a new key, the old keys dropped.
    pub const SECRETS_ROTATED: &str = "secrets.rotated";
    /// Kept secrets found clear (a database from before sealing) and sealed at start-up.
    pub const SECRETS_SEALED: &str = "secrets.sealed";
    /// A read of a TLP:AMBER, AMBER+STRICT or RED record.
    pub const READ: &str = "record.read";
    /// A change, with before and after in the detail.
    pub const CHANGE: &str = "record.change";
    pub const EXPORT: &str = "record.export";
    pub const ADMIN: &str = "admin.action";
    /// A CLEAR or GREEN report forwarded to organisations.
    pub const FORWARD: &str = "record.forward";
}

pub const SYSTEM: &str = "system";
pub const ANONYMOUS: &str = "anonymous";

/// The actor string for a user.
pub fn actor_user(id: UserId) -> String {
    format!("user:{id}")
}

/// What a caller records; [`seal`] turns it into a chained entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// `user:ID`, `system` or `anonymous` (a failed login names the e-mail in `target`).
    pub actor: String,
    pub action: String,
    /// What it was done to: `report:12`, `user:ana@example.jp`, `org:3`.
    pub target: String,
    /// JSON text: source address, before/after, reasons. Hashed exactly as given.
    pub detail: String,
}

impl AuditEvent {
    pub fn new(
        at: DateTime<Utc>,
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        detail: &serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            at,
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            detail: detail.to_string(),
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Microsecond precision, which both databases store exactly.
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// Lower-case hex SHA-256 of the previous entry, [`GENESIS`] for the first.
    pub prev_hash: String,
    pub hash: String,
}

/// Databases keep microseconds; an entry hashed with nanoseconds would not verify once read
/// back, so time is cut to microseconds before hashing.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The hash of an entry: SHA-256 over a fixed tag, the sequence number, the time in
/// microseconds and each text field length-prefixed (so no two different entries encode
/// alike), ending with the previous hash.
pub fn entry_hash(
    seq: u64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"kizuki-audit-v1\0");
    h.update(seq.to_be_bytes());
    h.update(at.timestamp_micros().to_be_bytes());
    for field in [actor, action, target, detail, prev_hash] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(h.finalize())
}

impl AuditEntry {
    fn computed_hash(&self) -> String {
        entry_hash(
            self.seq,
            self.at,
            &self.actor,
            &self.action,
            &self.target,
            &self.detail,
            &self.prev_hash,
        )
    }

    /// Whether the entry's content matches its own hash.
    pub fn is_intact(&self) -> bool {
        super::same_bytes(self.computed_hash().as_bytes(), self.hash.as_bytes())
    }

    /// The entry as one line of JSON, for archiving exports.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Chains `event` after `prev` (the newest stored entry, `None` for an empty log). The store
/// must insert the result only if `prev` is still the newest (unique `seq` does that).
pub fn seal(prev: Option<&AuditEntry>, event: AuditEvent) -> AuditEntry {
    let (seq, prev_hash) = match prev {
        Some(p) => (p.seq + 1, p.hash.clone()),
        None => (1, GENESIS.to_owned()),
    };
    let at = micros(event.at);
    let hash = entry_hash(
        seq,
        at,
        &event.actor,
        &event.action,
        &event.target,
        &event.detail,
        &prev_hash,
    );
    AuditEntry {
        seq,
        at,
        actor: event.actor,
        action: event.action,
        target: event.target,
        detail: event.detail,
        prev_hash,
        hash,
    }
}

/// What is wrong at the place the chain breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The entry's content does not match its hash: it was edited.
    Altered,
    /// The entry's `prev_hash` is not the previous entry's hash: the one before was edited
    /// and rehashed, or this one was put here from elsewhere.
    Unlinked,
    /// The entry with this seq is not where it belongs: removed, or moved.
    Sequence,
    /// The chain starts after 1 and no checkpoint vouches for where it starts.
    Unanchored,
    /// An anchor kept elsewhere disagrees with the entry, or names an entry past the end (the
    /// newest entries were removed).
    Anchor,
}

/// Where and how the chain breaks; `seq` is the first entry that cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct BrokenAt {
    pub seq: u64,
    pub problem: Break,
}

impl fmt::Display for BrokenAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            Break::Altered => "its content does not match its hash (edited)",
            Break::Unlinked => "it does not link to the entry before it",
            Break::Sequence => "it is missing or out of order",
            Break::Unanchored => {
                "the chain starts here and no checkpoint covers the entries before"
            }
            Break::Anchor => "it disagrees with a head recorded outside the database",
        };
        write!(f, "audit log broken at entry {}: {what}", self.seq)
    }
}

/// A verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub entries: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The newest hash, to keep outside the database as an [`Anchor`].
    pub head_hash: String,
}

/// A (seq, hash) recorded outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointDetail {
    purged_through: u64,
    hash: String,
}

/// The checkpoint to append before deleting every entry up to and including `through`.
pub fn checkpoint_event(through: &AuditEntry, at: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(
        at,
        SYSTEM,
        CHECKPOINT,
        "audit",
        &serde_json::json!({ "purged_through": through.seq, "hash": through.hash }),
    )
}

/// Which entries retention may delete: the longest run from the oldest whose time is before
/// `keep_from`, as the seq to delete through and the checkpoint to append first. `None` when
/// nothing is old enough.
pub fn plan_purge(
    entries: &[AuditEntry],
    keep_from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(u64, AuditEvent)> {
    let last_old = entries.iter().take_while(|e| e.at < keep_from).last()?;
    Some((last_old.seq, checkpoint_event(last_old, now)))
}

/// Checks a chain given oldest first, as read back from the store or an export.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<ChainSummary, BrokenAt> {
    let Some(first) = entries.first() else {
        return Ok(ChainSummary {
            entries: 0,
            first_seq: None,
            last_seq: None,
            head_hash: GENESIS.to_owned(),
        });
    };
    let broken = |seq, problem| BrokenAt { seq, problem };

    // Where the chain starts must be vouched for before anything after it means anything.
    if first.seq == 1 {
        if first.prev_hash != GENESIS {
            return Err(broken(1, Break::Unlinked));
        }
    } else {
        let anchored = entries.iter().any(|e| {
            e.action == CHECKPOINT
                && e.is_intact()
                && serde_json::from_str::<CheckpointDetail>(&e.detail)
                    .is_ok_and(|d| d.purged_through + 1 == first.seq && d.hash == first.prev_hash)
        });
        if !anchored {
            return Err(broken(first.seq, Break::Unanchored));
        }
    }

    verify_links(entries)
}

/// Checks a contiguous run of entries cut from a chain, such as an export covering a date
/// range: every entry intact, consecutive, each linked to the one before. Where the run
/// starts is taken as given (its first `prev_hash` is in the summary), so what the run
/// proves on its own is that nothing inside it was edited, removed or reordered; that it is
/// the genuine run is shown by comparing its end with a head kept elsewhere
/// ([`verify_with_anchors`] or the head `kizuki audit verify` printed).
pub fn verify_segment(entries: &[AuditEntry]) -> Result<ChainSummary, BrokenAt> {
    if let Some(first) = entries.first()
        && first.seq == 1
        && first.prev_hash != GENESIS
    {
        return Err(BrokenAt {
            seq: 1,
            problem: Break::Unlinked,
        });
    }
    verify_links(entries)
}

/// Sequence, content and links from the first entry on; where the run starts is the
/// caller's concern.
fn verify_links(entries: &[AuditEntry]) -> Result<ChainSummary, BrokenAt> {
    let Some(first) = entries.first() else {
        return Ok(ChainSummary {
            entries: 0,
            first_seq: None,
            last_seq: None,
            head_hash: GENESIS.to_owned(),
        });
    };
    let broken = |seq, problem| BrokenAt { seq, problem };
    let mut prev: Option<&AuditEntry> = None;
    for e in entries {
        if let Some(p) = prev {
            let expected = p.seq + 1;
            if e.seq != expected {
                return Err(broken(expected.min(e.seq), Break::Sequence));
            }
        }
        if !e.is_intact() {
            return Err(broken(e.seq, Break::Altered));
        }
        if let Some(p) = prev
            && e.prev_hash != p.hash
        {
            return Err(broken(e.seq, Break::Unlinked));
        }
        prev = Some(e);
    }
    let last = prev.unwrap_or(first);
    Ok(ChainSummary {
        entries: entries.len(),
        first_seq: Some(first.seq),
        last_seq: Some(last.seq),
        head_hash: last.hash.clone(),
    })
}

/// [`verify_chain`], then checks every anchor kept outside: an anchor inside the chain must
/// match its entry, and none may lie past the end (that means the newest entries were
/// removed). Anchors older than the first entry were purged by retention and are skipped.
pub fn verify_with_anchors(
    entries: &[AuditEntry],
    anchors: &[Anchor],
) -> Result<ChainSummary, BrokenAt> {
    let summary = verify_chain(entries)?;
    let first = summary.first_seq.unwrap_or(1);
    let last = summary.last_seq.unwrap_or(0);
    let mut problems: Vec<u64> = Vec::new();
    for a in anchors {
        if a.seq > last {
            problems.push(last + 1);
        } else if a.seq >= first {
            let e = &entries[(a.seq - first) as usize];
            if e.hash != a.hash {
                problems.push(a.seq);
            }
        }
    }
    match problems.into_iter().min() {
        Some(seq) => Err(BrokenAt {
            seq,
            problem: Break::Anchor,
        }),
        None => Ok(summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap()
    }

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 1..=n {
            let e = seal(
                out.last(),
                AuditEvent::new(
                    t0() + Duration::days(i as i64) + Duration::nanoseconds(123_456_789),
                    actor_user(UserId(i as i64 % 3)),
                    actions::READ,
                    format!("report:{i}"),
                    &json!({"addr": "192.0.2.1", "tlp": "amber"}),
                ),
            );
            out.push(e);
        }
        out
    }

    fn rehash(e: &mut AuditEntry) {
        e.hash = e.computed_hash();
    }

    #[test]
    fn a_fresh_chain_verifies() {
        let c = chain(10);
        assert_eq!(c[0].prev_hash, GENESIS);
        assert_eq!(c[0].seq, 1);
        assert!(c.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        let s = verify_chain(&c).unwrap();
        assert_eq!(
            (s.entries, s.first_seq, s.last_seq),
            (10, Some(1), Some(10))
        );
        assert_eq!(s.head_hash, c[9].hash);
        assert!(verify_chain(&[]).is_ok());
    }

    #[test]
    fn time_is_kept_to_the_microsecond_so_a_database_round_trip_verifies() {
        let c = chain(2);
        assert_eq!(c[0].at.timestamp_subsec_nanos(), 123_456_000);
        // As read back from a database keeping microseconds: unchanged.
        let mut back = c.clone();
        back[0].at = DateTime::from_timestamp_micros(back[0].at.timestamp_micros()).unwrap();
        assert!(verify_chain(&back).is_ok());
    }

    #[test]
    fn an_edited_entry_is_found_at_its_seq() {
        for field in 0..6 {
            let mut c = chain(10);
            let other_hash = c[3].hash.clone();
            let e = &mut c[4];
            match field {
                0 => e.actor = "user:999".into(),
                1 => e.action = actions::CHANGE.into(),
                2 => e.target = "report:999".into(),
                3 => e.detail = json!({"addr": "203.0.113.66", "tlp": "amber"}).to_string(),
                4 => e.at += Duration::seconds(1),
                _ => e.hash = other_hash,
            }
            assert_eq!(
                verify_chain(&c),
                Err(BrokenAt {
                    seq: 5,
                    problem: Break::Altered
                }),
                "field {field}"
            );
        }
    }

    #[test]
    fn an_edited_and_rehashed_entry_breaks_the_link_after_it() {
        let mut c = chain(10);
        c[4].detail = "{}".into();
        rehash(&mut c[4]);
        assert_eq!(
            verify_chain(&c),
            Err(BrokenAt {
                seq: 6,
                problem: Break::Unlinked
            })
        );
        // Rewriting everything after it is undetectable by the chain alone; an anchor kept
        // outside catches it.
        let original_head = Anchor {
            seq: 10,
            hash: c[9].hash.clone(),
        };
        for i in 5..10 {
            c[i].prev_hash = c[i - 1].hash.clone();
            rehash(&mut c[i]);
        }
        assert!(verify_chain(&c).is_ok());
        assert_eq!(
            verify_with_anchors(&c, &[original_head]),
            Err(BrokenAt {
                seq: 10,
                problem: Break::Anchor
            })
        );
    }

    #[test]
    fn a_removed_entry_is_found_at_its_seq() {
        let mut c = chain(10);
        c.remove(6); // seq 7
        assert_eq!(
            verify_chain(&c),
            Err(BrokenAt {
                seq: 7,
                problem: Break::Sequence
            })
        );
        // Renumbering the rest to hide the gap breaks their hashes instead.
        for e in c.iter_mut().skip(6) {
            e.seq -= 1;
        }
        assert_eq!(
            verify_chain(&c),
            Err(BrokenAt {
                seq: 7,
                problem: Break::Altered
            })
        );
    }

    #[test]
    fn reordered_entries_are_found() {
        // Rows swapped in an export file.
        let mut c = chain(10);
        c.swap(3, 4); // seq 4 and 5
        assert_eq!(
            verify_chain(&c),
            Err(BrokenAt {
                seq: 4,
                problem: Break::Sequence
            })
        );
        // Seq values swapped in the database, so a read in seq order sees them moved.
        let mut c = chain(10);
        let (s3, s4) = (c[3].seq, c[4].seq);
        c[3].seq = s4;
        c[4].seq = s3;
        c.swap(3, 4);
        assert_eq!(
            verify_chain(&c),
            Err(BrokenAt {
                seq: 4,
                problem: Break::Altered
            })
        );
    }

    #[test]
    fn removing_the_oldest_entries_without_a_checkpoint_is_found() {
        let c = chain(10);
        assert_eq!(
            verify_chain(&c[3..]),
            Err(BrokenAt {
                seq: 4,
                problem: Break::Unanchored
            })
        );
        let mut first = c.clone();
        first[0].prev_hash = "ff".repeat(32);
        rehash(&mut first[0]);
        assert_eq!(
            verify_chain(&first),
            Err(BrokenAt {
                seq: 1,
                problem: Break::Unlinked
            })
        );
    }

    #[test]
    fn retention_with_a_checkpoint_keeps_the_chain_verifiable() {
        let mut c = chain(10);
        // Keep entries from day 5 on: days 1..=4 go.
        let (through, cp) =
            plan_purge(&c, t0() + Duration::days(5), t0() + Duration::days(11)).unwrap();
        assert_eq!(through, 4);
        let cp = seal(c.last(), cp);
        c.push(cp);
        let kept: Vec<AuditEntry> = c.into_iter().filter(|e| e.seq > through).collect();
        let s = verify_chain(&kept).unwrap();
        assert_eq!((s.first_seq, s.last_seq), (Some(5), Some(11)));

        // A second purge later, past the first checkpoint.
        let mut c = kept;
        for i in 0..3 {
            let e = seal(
                c.last(),
                AuditEvent::new(
                    t0() + Duration::days(20 + i),
                    SYSTEM,
                    actions::ADMIN,
                    "system",
                    &json!({}),
                ),
            );
            c.push(e);
        }
        let (through, cp) =
            plan_purge(&c, t0() + Duration::days(15), t0() + Duration::days(30)).unwrap();
        assert_eq!(through, 11);
        let cp = seal(c.last(), cp);
        c.push(cp);
        let kept: Vec<AuditEntry> = c.into_iter().filter(|e| e.seq > through).collect();
        assert_eq!(verify_chain(&kept).unwrap().first_seq, Some(12));

        // Deleting more than the checkpoint covers is found.
        assert_eq!(
            verify_chain(&kept[1..]),
            Err(BrokenAt {
                seq: 13,
                problem: Break::Unanchored
            })
        );
        // So is a checkpoint that was edited to cover more.
        let mut forged = kept[1..].to_vec();
        let last = forged.len() - 1;
        forged[last].detail = json!({"purged_through": 12, "hash": kept[0].hash}).to_string();
        assert_eq!(
            verify_chain(&forged),
            Err(BrokenAt {
                seq: 13,
                problem: Break::Unanchored
            })
        );
        assert!(plan_purge(&kept, t0(), t0()).is_none());
    }

    #[test]
    fn anchors() {
        let c = chain(10);
        let a = |seq: u64| Anchor {
            seq,
            hash: c[(seq - 1) as usize].hash.clone(),
        };
        assert!(verify_with_anchors(&c, &[a(3), a(10)]).is_ok());
        // The newest two entries removed.
        assert_eq!(
            verify_with_anchors(&c[..8], &[a(3), a(10)]),
            Err(BrokenAt {
                seq: 9,
                problem: Break::Anchor
            })
        );
        let wrong = Anchor {
            seq: 3,
            hash: c[4].hash.clone(),
        };
        assert_eq!(
            verify_with_anchors(&c, &[wrong]),
            Err(BrokenAt {
                seq: 3,
                problem: Break::Anchor
            })
        );
    }

    #[test]
    fn a_segment_verifies_on_its_own_and_shows_tampering() {
        let c = chain(12);
        let seg = &c[4..9]; // seq 5..=9
        let s = verify_segment(seg).unwrap();
        assert_eq!((s.first_seq, s.last_seq), (Some(5), Some(9)));
        assert_eq!(s.head_hash, c[8].hash);
        // The whole chain's rule would refuse it: nothing vouches for where it starts.
        assert_eq!(verify_chain(seg).unwrap_err().problem, Break::Unanchored);

        let mut edited = seg.to_vec();
        edited[2].detail = json!({"addr": "198.51.100.7"}).to_string();
        assert_eq!(
            verify_segment(&edited),
            Err(BrokenAt {
                seq: 7,
                problem: Break::Altered
            })
        );
        let mut dropped = seg.to_vec();
        dropped.remove(1);
        assert_eq!(
            verify_segment(&dropped),
            Err(BrokenAt {
                seq: 6,
                problem: Break::Sequence
            })
        );
        // Rewriting the rest consistently passes alone but not against the head kept.
        let mut rewritten = seg.to_vec();
        rewritten[2].detail = "{}".into();
        rehash(&mut rewritten[2]);
        for i in 3..rewritten.len() {
            rewritten[i].prev_hash = rewritten[i - 1].hash.clone();
            rehash(&mut rewritten[i]);
        }
        assert!(verify_segment(&rewritten).is_ok());
        let head = Anchor {
            seq: 9,
            hash: c[8].hash.clone(),
        };
        assert_eq!(
            verify_segment(&rewritten)
                .ok()
                .filter(|s| s.head_hash == head.hash),
            None
        );
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let a = entry_hash(1, t0(), "ab", "c", "t", "d", GENESIS);
        let b = entry_hash(1, t0(), "a", "bc", "t", "d", GENESIS);
        assert_ne!(a, b);
    }

    #[test]
    fn export_lines_round_trip() {
        let c = chain(3);
        let lines: Vec<String> = c.iter().map(AuditEntry::to_json_line).collect();
        let back: Vec<AuditEntry> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, c);
        assert!(verify_chain(&back).is_ok());
    }
}
