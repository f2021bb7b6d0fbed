//! A fresh application for one test: a new database (SQLite in a temporary data dir by default,
//! or a PostgreSQL schema of its own), one fixed clock shared by the application and its store,
//! seeded randomness, and optionally the demo data, second factors for the centre's staff and
//! the search index. Its router answers in process; [`TestApp::serve`] puts it on a socket.

use crate::bin::TempDataDir;
use crate::http::{Client, Resp};
use crate::pg::PgSchema;
use crate::server::TestServer;
use axum::Router;
use chrono::{DateTime, Utc};
use kizuki_app::seed::IssuedCredential;
use kizuki_app::{App, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_domain::user::Email;
use kizuki_store::DynStore;
use kizuki_store_sqlite::SqliteStore;
use kizuki_store_sqlite::datadir::DataDir;
use kizuki_web::WebOptions;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// When a test app's clock starts unless told otherwise: 2026-11-27 09:00 JST.
pub const DEFAULT_START: &str = "2026-11-27T09:00:00+09:00";
/// The random seed unless told otherwise.
pub const DEFAULT_SEED: u64 = 7;
/// How often a test app's search index follows the change feed.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Where a test app's data lives: a data dir (the SQLite file, the search index) and, on
/// PostgreSQL, the schema. Shared by the apps reopened on it and the servers serving it; the
/// last one gone removes the directory and drops the schema.
pub(crate) struct Database {
    dir: Dir,
    schema: Option<PgSchema>,
}

enum Dir {
    Temp(TempDataDir),
    Given(PathBuf),
}

impl Database {
    fn path(&self) -> PathBuf {
        match &self.dir {
            Dir::Temp(t) => t.path(),
            Dir::Given(p) => p.clone(),
        }
    }

    /// A new store on this database, its timestamps from `clock`.
    async fn open(&self, clock: Arc<dyn Clock>) -> (DynStore, Option<SqliteStore>) {
        match &self.schema {
            Some(schema) => (Arc::new(schema.store().await.with_clock(clock)), None),
            None => {
                let path = self.path();
                let store = DataDir::new(&path)
                    .open()
                    .unwrap_or_else(|e| panic!("SQLite in {}: {e}", path.display()))
                    .with_clock(clock);
                (Arc::new(store.clone()), Some(store))
            }
        }
    }
}

/// What the clients of one test app share: the app, its demo logins and the unused recovery
/// codes of every user enrolled in a second factor.
pub(crate) struct Site {
    app: App,
    clock: Arc<FixedClock>,
    credentials: Vec<IssuedCredential>,
    mfa: Mutex<HashMap<String, Vec<String>>>,
}

impl Site {
    pub(crate) fn password(&self, email: &str) -> String {
        self.credentials
            .iter()
            .find(|c| c.email == email)
            .unwrap_or_else(|| panic!("no demo login {email}"))
            .password
            .clone()
    }

    /// Enrols `email` in TOTP through the application service (the first code computed from
    /// the fixed clock) and keeps its recovery codes for logins.
    pub(crate) async fn enrol_mfa(&self, email: &str) -> Vec<String> {
        let e = Email::parse(email).unwrap();
        let user = self
            .app
            .store
            .credentials(&e)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no user {email}"))
            .user;
        let en = kizuki_app::security::mfa::begin(&self.app, &user)
            .await
            .unwrap();
        let secret =
            kizuki_app::security::totp::TotpSecret::from_base32(&en.secret_base32).unwrap();
        let code = secret.code_at(self.clock.now());
        let codes = kizuki_app::security::mfa::confirm(&self.app, &user, &code)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("TOTP enrolment of {email} refused"));
        if let Ok(mut m) = self.mfa.lock() {
            m.insert(email.to_owned(), codes.clone());
        }
        codes
    }

    /// An unused recovery code of `email`; `None` if the user was not enrolled here. New codes
    /// are issued when the ten run out.
    pub(crate) async fn mfa_code(&self, email: &str) -> Option<String> {
        let next = {
            let mut m = self.mfa.lock().ok()?;
            m.get_mut(email)?.pop()
        };
        if next.is_some() {
            return next;
        }
        let e = Email::parse(email).ok()?;
        let user = self.app.store.credentials(&e).await.ok()??.user;
        let mut fresh = kizuki_app::security::mfa::new_recovery_codes(&self.app, user.id)
            .await
            .ok()?;
        let code = fresh.pop();
        if let Ok(mut m) = self.mfa.lock() {
            m.insert(email.to_owned(), fresh);
        }
        code
    }
}

/// How to make a [`TestApp`]: `TestApp::builder()…build().await`.
#[must_use]
pub struct Builder {
    start: DateTime<Utc>,
    clock: Option<Arc<FixedClock>>,
    seed: u64,
    schema: Option<PgSchema>,
    dir: Option<PathBuf>,
    demo: bool,
    mfa: bool,
    search: bool,
    web: WebOptions,
}

impl Builder {
    /// The clock starts at `rfc3339` (default [`DEFAULT_START`]).
    pub fn at(mut self, rfc3339: &str) -> Builder {
        self.start = crate::at(rfc3339);
        self
    }

    /// Uses `clock` (shared with other apps of the test) instead of a new one.
    pub fn clock(mut self, clock: Arc<FixedClock>) -> Builder {
        self.clock = Some(clock);
        self
    }

    /// Seeds the randomness with `seed` (default [`DEFAULT_SEED`]).
    pub fn seed(mut self, seed: u64) -> Builder {
        self.seed = seed;
        self
    }

    /// Seeds the demo data; its logins are in [`TestApp::credentials`].
    pub fn demo(mut self) -> Builder {
        self.demo = true;
        self
    }

    /// Enrols every demo user whose role requires a second factor, so clients can sign them in.
    pub fn mfa(mut self) -> Builder {
        self.mfa = true;
        self
    }

    /// Builds the search index in the data dir and follows the change feed, as `serve` does.
    pub fn search(mut self) -> Builder {
        self.search = true;
        self
    }

    /// The web server's options (the search index is added by [`Builder::search`]).
    pub fn web(mut self, opts: WebOptions) -> Builder {
        self.web = opts;
        self
    }

    /// Opens the data dir at `dir` (made by the test, perhaps with `kizuki init`) instead of a
    /// fresh temporary one.
    pub fn in_dir(mut self, dir: &Path) -> Builder {
        self.dir = Some(dir.to_owned());
        self
    }

    /// Puts the database in a fresh PostgreSQL schema. Without `KIZUKI_TEST_POSTGRES_URL` it
    /// prints `skipped: …` and gives `None` for the test to return on; a server that is named
    /// but fails to open fails the test in [`Builder::build`].
    pub fn postgres(mut self) -> Option<Builder> {
        self.schema = Some(PgSchema::fresh()?);
        Some(self)
    }

    /// Opens the database and seeds what was asked for.
    pub async fn build(self) -> TestApp {
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(FixedClock::new(self.start)));
        let dir = match self.dir {
            Some(d) => Dir::Given(d),
            None => Dir::Temp(TempDataDir::new()),
        };
        let db = Arc::new(Database {
            dir,
            schema: self.schema,
        });
        let mut web = self.web;
        // As `serve` does: free space and the newest backup are the data dir's.
        if web.ops.data_dir.is_none() {
            web.ops.data_dir = Some(db.path());
        }
        let mut t = TestApp::open(db, clock, self.seed, Vec::new(), web).await;
        if self.demo {
            let outcome = kizuki_app::seed::seed_demo(&t.app)
                .await
                .unwrap_or_else(|e| panic!("seeding the demo: {e}"));
            t.credentials = outcome.credentials;
            t.site = t.new_site(HashMap::new());
        }
        if self.mfa {
            for c in &t.credentials {
                if kizuki_app::security::totp::mfa_required(c.role) {
                    t.site.enrol_mfa(&c.email).await;
                }
            }
        }
        if self.search {
            let search = kizuki_search::SearchService::open(&t.data_dir(), t.app.store.clone())
                .unwrap_or_else(|e| panic!("search index: {e}"));
            search.catch_up().await.unwrap();
            t.follower = Some(search.spawn_follower(FOLLOW_EVERY));
            t.web.search = Some(search);
        }
        t
    }
}

/// A fresh application with its database, fixed clock and logins.
pub struct TestApp {
    /// The application, as the web server and the CLI get it.
    pub app: App,
    /// The clock of the application and its store.
    pub clock: Arc<FixedClock>,
    /// The demo's logins (empty without [`Builder::demo`]).
    pub credentials: Vec<IssuedCredential>,
    site: Arc<Site>,
    sqlite: Option<SqliteStore>,
    web: WebOptions,
    router: OnceLock<Router>,
    follower: Option<tokio::task::JoinHandle<()>>,
    db: Arc<Database>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("app", &self.app)
            .field("data_dir", &self.data_dir())
            .finish_non_exhaustive()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(f) = self.follower.take() {
            f.abort();
        }
    }
}

impl TestApp {
    /// Stops following the change feed, as a server whose index is catching up after a
    /// restore: what is written from now on stays out of the index.
    pub fn pause_search(&mut self) {
        if let Some(f) = self.follower.take() {
            f.abort();
        }
    }

    /// How to make one: SQLite, the clock at [`DEFAULT_START`], seed [`DEFAULT_SEED`], empty.
    pub fn builder() -> Builder {
        Builder {
            start: crate::at(DEFAULT_START),
            clock: None,
            seed: DEFAULT_SEED,
            schema: None,
            dir: None,
            demo: false,
            mfa: false,
            search: false,
            web: WebOptions::default(),
        }
    }

    /// The demo on SQLite with the centre's staff enrolled in a second factor and the search
    /// index following the change feed: what most web tests start from.
    pub async fn demo() -> TestApp {
        TestApp::builder().demo().mfa().search().build().await
    }

    async fn open(
        db: Arc<Database>,
        clock: Arc<FixedClock>,
        seed: u64,
        credentials: Vec<IssuedCredential>,
        web: WebOptions,
    ) -> TestApp {
        let (store, sqlite) = db.open(clock.clone() as Arc<dyn Clock>).await;
        let app = App {
            store,
            taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
            clock: clock.clone() as Arc<dyn Clock>,
            rng: seeded_rng(seed),
            secrets: test_sealer(),
        };
        let site = Arc::new(Site {
            app: app.clone(),
            clock: clock.clone(),
            credentials: credentials.clone(),
            mfa: Mutex::new(HashMap::new()),
        });
        TestApp {
            app,
            clock,
            credentials,
            site,
            sqlite,
            web,
            router: OnceLock::new(),
            follower: None,
            db,
        }
    }

    fn new_site(&self, mfa: HashMap<String, Vec<String>>) -> Arc<Site> {
        Arc::new(Site {
            app: self.app.clone(),
            clock: self.clock.clone(),
            credentials: self.credentials.clone(),
            mfa: Mutex::new(mfa),
        })
    }

    /// Another app on the same database and clock, as a restarted server or a second node
    /// has: a new store, randomness seeded with `seed`, no search index. Clients move to it
    /// with [`Client::move_to`]; the recovery codes enrolled here serve its logins too.
    pub async fn reopen(&self, seed: u64) -> TestApp {
        let mut t = TestApp::open(
            self.db.clone(),
            self.clock.clone(),
            seed,
            self.credentials.clone(),
            WebOptions {
                search: None,
                ..self.web.clone()
            },
        )
        .await;
        let codes = self.site.mfa.lock().map(|m| m.clone()).unwrap_or_default();
        t.site = t.new_site(codes);
        t
    }

    /// The data dir (the SQLite file, the search index).
    pub fn data_dir(&self) -> PathBuf {
        self.db.path()
    }

    /// The SQLite database file; panics on PostgreSQL.
    pub fn db_path(&self) -> PathBuf {
        assert!(self.sqlite.is_some(), "the test app is not on SQLite");
        DataDir::new(self.data_dir()).db_path()
    }

    /// The SQLite store itself (backups, the read pool); panics on PostgreSQL.
    pub fn sqlite(&self) -> &SqliteStore {
        self.sqlite
            .as_ref()
            .unwrap_or_else(|| panic!("the test app is not on SQLite"))
    }

    /// The PostgreSQL schema, when the app is on PostgreSQL.
    pub fn schema(&self) -> Option<&PgSchema> {
        self.db.schema.as_ref()
    }

    /// The web server's options this app is served with.
    pub fn web_options(&self) -> &WebOptions {
        &self.web
    }

    /// The router, built on first use (so tests that never make a request build none).
    pub fn router(&self) -> Router {
        self.router
            .get_or_init(|| {
                kizuki_web::router_with(self.app.clone(), self.web.clone())
                    .unwrap_or_else(|e| panic!("router: {e}"))
            })
            .clone()
    }

    /// The demo password of `email`.
    pub fn password(&self, email: &str) -> String {
        self.site.password(email)
    }

    /// The account of `email`, as stored.
    pub async fn user(&self, email: &str) -> kizuki_domain::user::User {
        let e = kizuki_domain::user::Email::parse(email).unwrap_or_else(|e| panic!("{email}: {e}"));
        match self.app.store.credentials(&e).await {
            Ok(Some(c)) => c.user,
            other => panic!("no account {email}: {other:?}"),
        }
    }

    /// The organisation with directory key `key`, as stored.
    pub async fn org(&self, key: &str) -> kizuki_domain::org::Organisation {
        match self.app.store.org_by_key(key).await {
            Ok(Some(o)) => o,
            other => panic!("no organisation {key}: {other:?}"),
        }
    }

    /// A bearer token for `email`, made through the application service.
    pub async fn token(&self, email: &str) -> String {
        kizuki_app::security::tokens::create(&self.app, email, "test")
            .await
            .unwrap_or_else(|e| panic!("token for {email}: {e}"))
            .1
    }

    /// Enrols `email` in a second factor and returns its recovery codes (logins through a
    /// client use them too).
    pub async fn enrol_mfa(&self, email: &str) -> Vec<String> {
        self.site.enrol_mfa(email).await
    }

    /// An unused recovery code of `email`; `None` if it has no second factor enrolled here.
    pub async fn mfa_code(&self, email: &str) -> Option<String> {
        self.site.mfa_code(email).await
    }

    /// An anonymous in-process client.
    pub fn anonymous(&self) -> Client {
        Client::in_process(self.router(), Some(self.site.clone()))
    }

    /// An in-process client signed in as demo user `email`.
    pub async fn client(&self, email: &str) -> Client {
        let mut c = self.anonymous();
        c.login(email, &self.password(email)).await;
        c
    }

    /// An anonymous GET.
    pub async fn get(&self, path: &str) -> Resp {
        self.anonymous().send("GET", path, &[], b"").await
    }

    /// A JSON API call under `/api/v1` (see [`Client::api`]).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Resp {
        self.anonymous().api(method, path, token, extra, body).await
    }

    /// Serves this app (with its options and logins) on a socket on 127.0.0.1.
    pub async fn serve(&self) -> TestServer {
        TestServer::start(
            self.app.clone(),
            self.web.clone(),
            self.site.clone(),
            self.db.clone(),
        )
        .await
    }
}

/// One key for every test app, whatever its seed: an app reopened over the same database with
/// another seed opens what the first sealed.
pub fn test_sealer() -> Arc<kizuki_app::security::sealing::Sealer> {
    Arc::new(kizuki_app::security::sealing::Sealer::ephemeral(
        &seeded_rng(0x5EA1),
    ))
}
