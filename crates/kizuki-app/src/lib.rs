//! kizuki's application services: everything the CLI and the web server do, above the store
//! and below the transport. Callers hand in an [`App`] (store, taxonomy, clock, randomness).

pub mod accounts;
pub mod adoption;
pub mod auth;
pub mod config;
// An organisation's own administration: its users.
pub mod directory;
pub mod error;
pub mod followups;
pub mod imports;
// Interviews with the operators of selected cases.
pub mod interviews;
pub mod lessons;
pub mod notify;
pub mod ops;
pub mod presence;
pub mod publication;
pub mod reports;
pub mod security;
pub mod seed;
pub mod selection;
pub mod shared_limits;
pub mod stats;
pub mod survey;

#[cfg(test)]
mod test_support;

pub use config::Config;
pub use error::AppError;

use kizuki_domain::clock::Clock;
use kizuki_domain::taxonomy::Taxonomy;
use kizuki_store::DynStore;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::{Arc, Mutex};

/// Randomness is injected so tests can fix passwords and salts.
pub type SharedRng = Arc<Mutex<StdRng>>;

/// A random source seeded from the operating system.
pub fn os_rng() -> SharedRng {
    Arc::new(Mutex::new(StdRng::from_os_rng()))
}

/// A reproducible random source for tests.
pub fn seeded_rng(seed: u64) -> SharedRng {
    Arc::new(Mutex::new(StdRng::seed_from_u64(seed)))
}

/// Fills `buf` from `rng`, also before an [`App`] exists (a new key for its secrets).
pub fn fill_random(rng: &SharedRng, buf: &mut [u8]) {
    use rand::RngCore;
    match rng.lock() {
        Ok(mut r) => r.fill_bytes(buf),
        Err(p) => p.into_inner().fill_bytes(buf),
    }
}

/// What every service needs.
#[derive(Clone)]
pub struct App {
    pub store: DynStore,
    pub taxonomy: Arc<Taxonomy>,
    pub clock: Arc<dyn Clock>,
    pub rng: SharedRng,
    /// Seals the secrets kept in the database under keys kept outside it.
    pub secrets: Arc<security::sealing::Sealer>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Fills `buf` from the injected random source.
    pub fn fill_random(&self, buf: &mut [u8]) {
        fill_random(&self.rng, buf);
    }
}
