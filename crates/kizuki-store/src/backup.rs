//! Online backups as a capability of a backend: a store that can copy itself, whole and
//! consistent, to a file while writers go on. The embedded backend has it; a server database
//! is backed up with its own tools instead.

use crate::StoreResult;
use async_trait::async_trait;
use std::path::Path;

/// A store that can write a consistent copy of itself to `dest` while it keeps serving.
#[async_trait]
pub trait OnlineBackup: Send + Sync {
    /// Copies the live database to `dest` (created or replaced); the copy stands alone.
    async fn backup_to(&self, dest: &Path) -> StoreResult<()>;
}
