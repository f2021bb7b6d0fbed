//! The search index as a running service: opened in the data dir, kept up to date by a
//! background follower of the store's change feed, and queried from async code without
//! blocking the runtime. This is what the web server and the CLI hold.

use crate::access::Viewer;
use crate::error::{SearchError, SearchResult};
use crate::follow::{Progress, catch_up};
use crate::index::{SearchIndex, SearchResults};
use crate::query::Query;
use crate::similar::{SimilarOptions, SimilarResults, SimilarTo};
use kizuki_domain::ids::UserId;
use kizuki_domain::user::Email;
use kizuki_store::DynStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Index + store, cheap to clone.
#[derive(Clone)]
pub struct SearchService {
    index: SearchIndex,
    store: DynStore,
    wake: Arc<Notify>,
    /// One catch-up at a time; a second caller waits and then finds little to do.
    running: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for SearchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchService")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl SearchService {
    /// Opens (or creates) `<data_dir>/index`.
    pub fn open(data_dir: &Path, store: DynStore) -> SearchResult<SearchService> {
        let index = SearchIndex::open(&data_dir.join(crate::INDEX_DIR))?;
        Ok(Self::new(index, store))
    }

    pub fn new(index: SearchIndex, store: DynStore) -> SearchService {
        SearchService {
            index,
            store,
            wake: Arc::new(Notify::new()),
            running: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// Applies every change the index has not seen. Call it after a write when the next
    /// page must already find the new text (read-your-writes); otherwise the follower does.
    pub async fn catch_up(&self) -> SearchResult<Progress> {
        let _one = self.running.lock().await;
        catch_up(&self.index, &self.store, &mut |_| {}).await
    }

    /// Like [`SearchService::catch_up`], reporting progress (for a progress bar).
    pub async fn catch_up_with(
        &self,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> SearchResult<Progress> {
        let _one = self.running.lock().await;
        catch_up(&self.index, &self.store, progress).await
    }

    /// Asks the follower to look at the feed now instead of at its next tick.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Follows the change feed until the runtime stops: at start (catching up after a
    /// crash), every `every`, and whenever nudged. Errors are logged and retried.
    pub fn spawn_follower(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut warned_busy = false;
            loop {
                match this.catch_up().await {
                    Ok(p) if p.changes > 0 => {
                        tracing::debug!(
                            changes = p.changes,
                            docs = p.docs,
                            seq = p.seq,
                            "search index caught up"
                        );
                    }
                    Ok(_) => {}
                    Err(SearchError::Busy(dir)) => {
                        if !warned_busy {
                            tracing::warn!(%dir, "search index is held by another process; searching only");
                            warned_busy = true;
                        }
                        let _ = this.index.refresh();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "search index could not catch up; retrying")
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = this.wake.notified() => {}
                }
            }
        })
    }

    /// The viewer for a user, from their role and organisation.
    pub async fn viewer_for(&self, user: UserId) -> SearchResult<Viewer> {
        let u = self.store.get_user(user).await?;
        let org = self.store.get_org(u.user.org_id).await?;
        Ok(viewer_of(&u, &org))
    }

    /// The viewer for the user with this e-mail (`kizuki search --as`).
    pub async fn viewer_for_email(&self, email: &Email) -> SearchResult<Viewer> {
        let c = self
            .store
            .credentials(email)
            .await?
            .ok_or_else(|| SearchError::Query(format!("no user {email}")))?;
        let org = self.store.get_org(c.user.user.org_id).await?;
        Ok(viewer_of(&c.user, &org))
    }

    /// [`SearchIndex::search`] on a blocking thread.
    pub async fn search(&self, q: Query, viewer: Viewer) -> SearchResult<SearchResults> {
        let idx = self.index.clone();
        tokio::task::spawn_blocking(move || idx.search(&q, &viewer))
            .await
            .map_err(|e| SearchError::Internal(e.to_string()))?
    }

    /// [`SearchIndex::similar`] on a blocking thread.
    pub async fn similar(
        &self,
        target: SimilarTo,
        viewer: Viewer,
        opts: SimilarOptions,
    ) -> SearchResult<SimilarResults> {
        let idx = self.index.clone();
        tokio::task::spawn_blocking(move || idx.similar(&target, &viewer, &opts))
            .await
            .map_err(|e| SearchError::Internal(e.to_string()))?
    }
}

/// The access viewer of a user of `org`; a disabled user (or a mismatched organisation) gets
/// the public's view.
fn viewer_of(user: &kizuki_domain::user::User, org: &kizuki_domain::org::Organisation) -> Viewer {
    kizuki_domain::access::Member::new(user, org).map_or(Viewer::Public, Viewer::Member)
}
