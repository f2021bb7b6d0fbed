//! A PostgreSQL schema of a test's own on the server `KIZUKI_TEST_POSTGRES_URL` names, dropped
//! with everything in it when its value is dropped (at the end of the test, or while a failed
//! test unwinds).

use kizuki_store_postgres::PgStore;
use std::time::Duration;

/// How long dropping a schema may wait for the server (locks held by a test that failed
/// mid-transaction are released once its runtime ends).
const DROP_WITHIN: Duration = Duration::from_secs(30);

/// A fresh schema name on the test server. The schema is made by the first store connected in
/// it ([`PgSchema::store`]) and dropped when this value is.
#[derive(Debug)]
pub struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    /// A new schema on the test server, or `None` (after printing `skipped: …`) when
    /// `KIZUKI_TEST_POSTGRES_URL` is not set.
    pub fn fresh() -> Option<PgSchema> {
        crate::env::postgres_url().map(|url| PgSchema::on(&url))
    }

    /// A new schema on the server at `url`.
    pub fn on(url: &str) -> PgSchema {
        PgSchema {
            url: url.to_owned(),
            name: format!("kz_test_{:016x}", rand::random::<u64>()),
        }
    }

    /// The server's URL, as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name (`kz_test_` and 16 hex digits).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL whose every session uses this schema: for a `kizuki` process started by the test.
    pub fn url_in_schema(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }

    /// A store in the schema, made and migrated if new. A server that is named but cannot be
    /// reached fails the test: only a missing URL may skip.
    pub async fn store(&self) -> PgStore {
        PgStore::connect_in_schema(&self.url, Some(&self.name))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} in {}: {e}", self.server(), self.name))
    }

    /// The server, for messages: the URL without its user and password.
    fn server(&self) -> &str {
        self.url
            .rsplit_once('@')
            .map_or(self.url.as_str(), |(_, host)| host)
    }

    /// A plain connection in the schema, for SQL the store would never run.
    pub async fn raw_client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", self.server()));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("SET search_path = {}", self.name))
            .await
            .unwrap();
        client
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // On a runtime of its own: this may run inside the test's runtime, which cannot be
        // blocked on from within.
        let (url, name) = (self.url.clone(), self.name.clone());
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                tokio::time::timeout(DROP_WITHIN, PgStore::drop_schema(&url, &name)).await
            })
            .map_err(|_| format!("no answer within {DROP_WITHIN:?}"))?
            .map_err(|e| e.to_string())
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: schema {} not dropped: {e}", self.name),
            Err(_) => eprintln!("warning: schema {} not dropped: panicked", self.name),
        }
    }
}
