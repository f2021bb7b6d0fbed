//! Storage errors: what the caller can act on (not found, conflict, duplicate) apart from
//! backend failures, whose cause is kept for the log but never shown to users.

use kizuki_domain::case::Case;
use kizuki_domain::org::Organisation;
use kizuki_domain::report::Report;
use kizuki_domain::survey::Survey;

/// The record as it is now, returned with a conflict so the caller can show both versions.
#[derive(Debug, Clone, PartialEq)]
pub enum Current {
    Report(Box<Report>),
    Case(Box<Case>),
    Survey(Box<Survey>),
    Organisation(Box<Organisation>),
    Selection(Box<crate::StoredSelection>),
    /// A record known only by its version or length (a pseudonym map, a sign-off history).
    Version(i64),
}

impl Current {
    pub fn version(&self) -> i64 {
        match self {
            Current::Report(r) => r.version,
            Current::Case(c) => c.version,
            Current::Survey(s) => s.version,
            Current::Organisation(o) => o.version,
            Current::Version(v) => *v,
            Current::Selection(s) => s.version,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{entity} was changed by someone else (now version {})", current.version())]
    Conflict {
        entity: &'static str,
        current: Current,
    },
    #[error("{what} already exists")]
    Duplicate { what: String },
    #[error("{0}")]
    Invalid(String),
    #[error("storage backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
