//! The search layer's one error type.

use kizuki_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text or a filter could not be understood; the message says which part.
    #[error("query: {0}")]
    Query(String),
    /// Another process holds the index for writing (e.g. a running server while the CLI
    /// tries to catch up); reading still works.
    #[error("the search index in {0} is being written by another kizuki process")]
    Busy(String),
    #[error("{0} is not in the search index (yet)")]
    NotIndexed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Internal(String),
}

impl SearchError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SearchError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type SearchResult<T> = Result<T, SearchError>;
