//! The application layer's one error type; the web layer maps it to HTTP in one place.

use kizuki_dataset::DatasetError;
use kizuki_domain::ValidationErrors;
use kizuki_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Refused(String),
    /// No valid login or token; deliberately says nothing about which part was wrong.
    #[error("not signed in")]
    Unauthenticated,
    /// Signed in, but the role may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A kept secret that does not open, or a key ring that does not read.
    #[error(transparent)]
    Sealing(#[from] crate::security::sealing::SealError),
    #[error("{0}")]
    Internal(String),
}

impl From<kizuki_domain::FieldError> for AppError {
    fn from(e: kizuki_domain::FieldError) -> Self {
        AppError::Validation(e.into())
    }
}

impl AppError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        AppError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
