//! Records the security layer keeps: the hash-chained audit log as stored, MFA
//! enrolment, recovery codes, per-organisation IP allowlists and report sharing lists.
//!
//! The store only persists these; sealing, verifying and deciding live in `kizuki-app`'s
//! `security` modules and `kizuki_domain::access`, so both backends stay thin.

use chrono::{DateTime, Utc};
use kizuki_domain::ids::{OrgId, UserId};
use serde::{Deserialize, Serialize};

/// One audit-log entry as stored. Backends refuse UPDATE, refuse DELETE unless a checkpoint
/// covers the entry, and refuse an INSERT that does not extend the chain (seq = head + 1 and
/// prev_hash = head's hash), reported as [`crate::StoreError::Duplicate`] so the caller
/// re-reads the head and seals again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A filter over the audit log, newest first. `None` means "any"; text fields match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// Only entries older than this seq (for paging backwards).
    pub before_seq: Option<u64>,
    pub limit: usize,
}

/// A user's TOTP enrolment. Until `confirmed_at` is set the user has only started enrolling
/// and the secret does not count as a second factor.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaRecord {
    pub user_id: UserId,
    /// As the app gave it: sealed under the app's key (clear only in databases from before).
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The TOTP step of the last accepted code, so a code cannot be replayed.
    pub last_step: Option<u64>,
}

impl MfaRecord {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

// The secret must never reach a log line through `{:?}`.
impl std::fmt::Debug for MfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// An organisation's IP allowlist as typed (one entry a line), versioned so two admins
/// editing it at once do not overwrite each other. Version 0 means never set (no restriction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAllowlist {
    pub org_id: OrgId,
    pub entries: String,
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

/// Who a report is shared with beyond its organisation: named organisations (count for
/// TLP:AMBER) and named users (count for TLP:RED).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSharing {
    pub orgs: Vec<OrgId>,
    pub users: Vec<UserId>,
}

/// Where the app keeps a secret it must read back (rather than only compare with a hash).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretSlot {
    /// `user_mfa.secret`: the user's TOTP secret.
    Totp(UserId),
    /// `instance_secrets.value` of this name.
    Instance(String),
}

/// One kept secret as stored, for sealing what is still clear and for rotating keys.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub slot: SecretSlot,
    pub value: Vec<u8>,
}

impl StoredSecret {
    /// The bytes for a column that holds text (a TOTP secret); sealed values are ASCII.
    pub fn text(b: &[u8]) -> crate::StoreResult<String> {
        String::from_utf8(b.to_vec())
            .map_err(|_| crate::StoreError::Invalid("user_mfa.secret must be UTF-8 text".into()))
    }
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("slot", &self.slot)
            .field("bytes", &self.value.len())
            .finish_non_exhaustive()
    }
}
