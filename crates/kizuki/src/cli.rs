//! Command-line parsing and the subcommands. Each subcommand opens the data dir, calls the
//! application services and prints the outcome; errors go to stderr with a non-zero exit.

// Accounts.
mod accounts;
mod search_cmd;
// Survey years.
mod survey_cmd;
// Intake throughput benchmark.
mod bench_intake;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kizuki_app::config::{DEFAULT_DATA_DIR, Overrides};
use kizuki_app::security::sealing::{self, Sealer};
use kizuki_app::seed::IssuedCredential;
use kizuki_app::{App, Config, os_rng};
use kizuki_domain::clock::SystemClock;
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::wareki;
use kizuki_store::DynStore;
use kizuki_store_sqlite::SqliteStore;
use kizuki_store_sqlite::datadir::DataDir;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "kizuki",
    version,
    about = "kizuki (気付き): incident reports and case studies for critical infrastructure",
    long_about = "kizuki serves the incident-sharing web application (the default when no \
                  subcommand is given) and runs its administrative tasks."
)]
struct Cli {
    /// Where the database, backups and settings live.
    #[arg(long, global = true, env = "KIZUKI_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,

    /// Use PostgreSQL (postgres://…) instead of the SQLite file in the data dir.
    #[arg(
        long,
        global = true,
        env = "KIZUKI_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web application (default). A new data dir is set up with demo content.
    Serve(ServeArgs),
    /// Create a data dir. With --no-demo it is empty, for production.
    Init {
        /// Create an empty database: no demo organisations, users or survey.
        #[arg(long)]
        no_demo: bool,
    },
    /// Show a date in 西暦 and 和暦 with its 年度 (e.g. `kizuki date 令和元年5月1日`).
    Date {
        /// The date, e.g. 2019-05-01, 令和元年5月1日, R1.5.1, H31.4.30.
        text: String,
    },
    /// Import data files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export data files.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Copy the live database to FILE (safe while the server runs).
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the database with a backup. Stop the server first.
    Restore {
        file: PathBuf,
        /// Overwrite an existing database.
        #[arg(long)]
        force: bool,
    },
    /// Check the database and the application's invariants; exit 1 on any problem.
    Check,
    /// Write a survey's annual report (e.g. `kizuki report --survey 2019 --format pdf --out r.pdf`).
    Report {
        /// Fiscal year of the survey, e.g. 2019 or 令和元年度.
        #[arg(long)]
        survey: String,
        #[arg(long, value_enum)]
        format: crate::annual_report_cmd::Format,
        #[arg(long)]
        out: PathBuf,
    },
    /// Survey years: open one.
    #[command(subcommand)]
    Survey(survey_cmd::SurveyCommand),
    /// Rank a survey's candidate reports and propose the cases, with reasons
    /// (e.g. `kizuki select --survey 2019 --count 7 --min-category cyber-attack=2`).
    Select(crate::select_cmd::SelectArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Organisations and their IP allowlists.
    #[command(subcommand)]
    Org(accounts::OrgCommand),
    /// Manage API bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The key sealing the secrets kept in the database (TOTP secrets, the CSRF key).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(crate::audit_cmd::AuditCommand),
    /// Full-text search (e.g. `kizuki search 改元 sector:railway --as reporter@example.jp`).
    Search(search_cmd::SearchArgs),
    /// Rebuild the search index from the database, with a progress bar.
    Reindex,
    /// Write a deterministic synthetic corpus of reports (for scale tests).
    Gen(search_cmd::GenArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench_intake::BenchCommand),
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Seal every kept secret under a new key and drop the old ones. With the key file, the
    /// file is rewritten (other nodes re-read it); with KIZUKI_SECRETS_KEY, the new value is
    /// printed for the operator to set on every node.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print it once (only its hash is stored).
    Create {
        #[arg(long)]
        email: String,
        /// What the token is for, shown in `token list`.
        #[arg(long, default_value = "api")]
        label: String,
    },
    /// List a user's tokens (never the secrets).
    List {
        #[arg(long)]
        email: String,
    },
    /// Revoke a token by its id; it stops working at once.
    Revoke { id: i64 },
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KIZUKI_ADDR")]
    addr: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a survey folder (survey.toml and cases/*.toml).
    Survey { dir: PathBuf },
    /// Import reports from CSV files through a column mapping (e.g. JPCERT/CC phishing URLs).
    Csv(search_cmd::ImportCsvArgs),
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Export a survey, by fiscal year, as a survey folder.
    Survey {
        /// Fiscal year, e.g. 2019 or 令和元年度.
        year: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Give a user a new random password and print it once.
    ResetPassword { email: String },
    /// List user accounts.
    List,
    // Accounts: add, disable, enable.
    #[command(flatten)]
    Account(accounts::UserCommand),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse_from(search_cmd::exclusions_as_values(
        std::env::args_os().collect(),
    ));
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The user named by `--as EMAIL`, as the principal a command acts for.
pub(crate) async fn principal_for(app: &App, email: &str) -> Result<kizuki_app::auth::Principal> {
    let parsed =
        kizuki_domain::user::Email::parse(email).map_err(|e| anyhow::anyhow!("--as: {e}"))?;
    let user = app
        .store
        .credentials(&parsed)
        .await?
        .with_context(|| format!("--as: no user {email}"))?
        .user;
    Ok(kizuki_app::auth::Principal::from_user(&user))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KIZUKI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let dir = DataDir::new(&cli.data_dir);
    let config = Config::load(
        dir.root(),
        &Overrides {
            addr: None,
            database_url: cli.database_url.clone(),
        },
        &process_env,
    )?;
    let db = Db {
        dir: dir.clone(),
        url: config.database_url.clone(),
        sqlite: kizuki_store_sqlite::SqliteOptions {
            max_batch: config.sqlite.max_batch,
            checkpoints_on_writer: config.sqlite.checkpoints_on_writer,
        },
    };
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(&db, args).await,
        Command::Init { no_demo } => init(&db, no_demo).await,
        Command::Date { text } => Ok(date(&text)),
        Command::Import(ImportCommand::Survey { dir: from }) => {
            let app = db.existing_app().await?;
            let data = kizuki_dataset::load_survey_dir(&from, &app.taxonomy)?;
            let s = kizuki_app::survey::import_survey(&app, &data).await?;
            println!(
                "imported survey {} ({}): {} cases, {} reports",
                s.fiscal_year,
                FiscalYear::new(s.fiscal_year).map_or_else(|_| String::new(), |f| f.wareki_label()),
                s.cases,
                s.reports
            );
            for key in s.created_orgs {
                println!("  created operator '{key}' (not in the directory; rename it later)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportCommand::Survey { year, out }) => {
            let fy = FiscalYear::parse(&year).map_err(|e| anyhow::anyhow!("{e}"))?;
            let app = db.existing_app().await?;
            let data = kizuki_app::survey::export_survey(&app, fy.year()).await?;
            kizuki_dataset::write_survey_dir(&data, &out)?;
            println!(
                "exported survey {} with {} cases to {}",
                fy.year(),
                data.cases.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => {
            db.sqlite_only("backup")?;
            let store = dir.open_existing(db.sqlite)?;
            if out.exists() {
                bail!("{} exists; choose a new file name", out.display());
            }
            store.backup_to(&out).await?;
            println!("backup written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, force } => {
            db.sqlite_only("restore")?;
            dir.restore(&file, force)?;
            println!(
                "restored {} into {}; run `kizuki check` to confirm",
                file.display(),
                dir.db_path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => check(&db, &config).await,
        Command::Survey(cmd) => survey_cmd::run(&db.existing_app().await?, cmd).await,
        Command::Report {
            survey,
            format,
            out,
        } => {
            let app = db.existing_app().await?;
            crate::annual_report_cmd::run(&app, &survey, format, &out, &config.pdf_fonts).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::ResetPassword { email }) => {
            // A one-time password, to be changed at the next login.
            let app = db.existing_app().await?;
            let (u, pw) = kizuki_app::accounts::reset_password(&app, &email).await?;
            println!("new password for {}: {pw}", u.user.email);
            accounts::print_one_time_password(u.user.email.as_str(), &pw);
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Account(cmd)) => {
            accounts::user(&db.existing_app().await?, cmd).await
        }
        Command::Org(cmd) => accounts::org(&db.existing_app().await?, cmd).await,
        Command::Select(args) => {
            let app = db.existing_app().await?;
            crate::select_cmd::run(&app, dir.root(), args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(cmd) => token(&db, cmd).await,
        Command::Secrets(SecretsCommand::Rotate) => rotate_secrets(&db.existing_app().await?).await,
        Command::Audit(cmd) => {
            crate::audit_cmd::run(&db.existing_app().await?, config.audit, cmd).await
        }
        Command::Search(a) => search_cmd::search(&db.existing_app().await?, dir.root(), a).await,
        Command::Reindex => search_cmd::reindex(&db.existing_app().await?, dir.root()).await,
        Command::Gen(a) => search_cmd::gen_reports(&db.existing_app().await?, a).await,
        Command::Bench(cmd) => bench_intake::run(cmd, db.url.clone()).await,
        Command::Import(ImportCommand::Csv(a)) => {
            search_cmd::import_csv(&db.existing_app().await?, a).await
        }
        Command::User(UserCommand::List) => {
            let app = db.existing_app().await?;
            for u in app.store.list_users().await? {
                let org = app.store.get_org(u.user.org_id).await?;
                println!(
                    "{}\t{}\t{}\t{}",
                    u.user.email,
                    u.user.role.code(),
                    org.org.key,
                    u.user.display_name
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn token(db: &Db, cmd: TokenCommand) -> Result<ExitCode> {
    let app = db.existing_app().await?;
    match cmd {
        TokenCommand::Create { email, label } => {
            let (t, secret) = kizuki_app::security::tokens::create(&app, &email, &label).await?;
            // The secret alone on stdout, so scripts can capture it; the note goes to stderr.
            println!("{secret}");
            eprintln!(
                "token {} for {email} ({}) created; it is shown only now",
                t.id, t.label
            );
        }
        TokenCommand::List { email } => {
            for t in kizuki_app::security::tokens::list(&app, &email).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.label,
                    t.created_at.to_rfc3339(),
                    t.revoked_at.map_or_else(
                        || "active".to_owned(),
                        |r| format!("revoked {}", r.to_rfc3339())
                    )
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let t = kizuki_app::security::tokens::revoke(&app, id).await?;
            println!("token {} revoked", t.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn rotate_secrets(app: &App) -> Result<ExitCode> {
    let r = sealing::rotate(app).await?;
    println!(
        "秘密情報 {} 件を新しい鍵 {} で封印し直し、古い鍵 {} を破棄しました / resealed {} secrets under key {}, dropped {}",
        r.resealed.resealed + r.resealed.current,
        r.new_id,
        r.dropped.join(", "),
        r.resealed.resealed + r.resealed.current,
        r.new_id,
        r.dropped.join(", ")
    );
    if let Some(v) = r.env_value {
        println!(
            "鍵は環境変数から読んでいます。全ノードで次の値に設定してから再起動してください / the keys come from the environment; set this on every node and restart:"
        );
        println!("{}={v}", sealing::KEY_ENV);
    }
    Ok(ExitCode::SUCCESS)
}

/// The process environment as the configuration's `KIZUKI_*` layer sees it.
#[allow(
    clippy::disallowed_methods,
    reason = "the configuration's environment layer: settings are read here and nowhere else"
)]
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Where the records live: the SQLite file in the data dir, or PostgreSQL when a URL is set.
struct Db {
    dir: DataDir,
    url: Option<String>,
    /// The writer's tuning from `[sqlite]` (unused on PostgreSQL).
    sqlite: kizuki_store_sqlite::SqliteOptions,
}

impl Db {
    fn describe(&self) -> String {
        match &self.url {
            Some(_) => "PostgreSQL".to_owned(),
            None => self.dir.db_path().display().to_string(),
        }
    }

    fn sqlite_only(&self, what: &str) -> Result<()> {
        if self.url.is_some() {
            bail!(
                "`kizuki {what}` works on the SQLite file; for PostgreSQL use pg_dump / pg_restore (docs/OPERATIONS.md)"
            );
        }
        Ok(())
    }

    /// The app over `store`, its kept secrets sealed with the key ring from
    /// `KIZUKI_SECRETS_KEY` or the data dir's key file (made on first use).
    fn app_for(&self, store: DynStore) -> Result<App> {
        let taxonomy = kizuki_dataset::default_taxonomy()?;
        let rng = os_rng();
        let secrets = Sealer::load(self.dir.root(), &process_env, &rng)?;
        Ok(App {
            store,
            taxonomy: Arc::new(taxonomy),
            clock: Arc::new(SystemClock),
            rng,
            secrets: Arc::new(secrets),
        })
    }

    async fn connect_pg(url: &str) -> Result<DynStore> {
        let store = kizuki_store_postgres::PgStore::connect(url)
            .await
            .context("cannot open the PostgreSQL database")?;
        Ok(Arc::new(store))
    }

    /// An app over the existing database; refuses to create one.
    async fn existing_app(&self) -> Result<App> {
        match &self.url {
            Some(url) => self.app_for(Self::connect_pg(url).await?),
            None => self.app_for(Arc::new(self.dir.open_existing(self.sqlite)?)),
        }
    }

    /// Opens the database, creating and seeding it (demo content unless `no_demo`) when new.
    /// Returns the app, the SQLite store when that is the backend, and the logins created.
    async fn open_or_create(
        &self,
        no_demo: bool,
    ) -> Result<(App, Option<SqliteStore>, Option<Vec<IssuedCredential>>)> {
        let (app, sqlite, fresh) = match &self.url {
            Some(url) => {
                let app = self.app_for(Self::connect_pg(url).await?)?;
                let fresh = app.store.list_orgs().await?.is_empty();
                (app, None, fresh)
            }
            None => {
                let fresh = !self.dir.is_initialised();
                let store = self.dir.open_with(self.sqlite)?;
                (self.app_for(Arc::new(store.clone()))?, Some(store), fresh)
            }
        };
        if !fresh {
            return Ok((app, sqlite, None));
        }
        if no_demo {
            return Ok((app, sqlite, Some(Vec::new())));
        }
        let outcome = kizuki_app::seed::seed_demo(&app).await?;
        println!(
            "新しいデータベース（{}）を作成し、デモデータ（{}年度 補完調査 {}事例）を読み込みました。",
            self.describe(),
            outcome.survey.fiscal_year,
            outcome.survey.cases
        );
        Ok((app, sqlite, Some(outcome.credentials)))
    }
}

fn print_credentials(creds: &[IssuedCredential]) {
    if creds.is_empty() {
        return;
    }
    println!();
    println!("ログイン情報（この一度だけ表示します / shown only once）:");
    let width = creds.iter().map(|c| c.email.len()).max().unwrap_or(0);
    for c in creds {
        println!(
            "  {:<width$}  {:<16}  {:<15} ({})",
            c.email,
            c.password,
            c.role.code(),
            c.organisation
        );
    }
    println!("パスワードを忘れたら / to reset: kizuki user reset-password EMAIL");
    println!(
        "analyst・editor・admin は初回ログイン時に二要素認証（TOTP）を登録します。表示される秘密鍵を認証アプリに登録してください。"
    );
    println!("Centre accounts (analyst, editor, admin) enrol a TOTP authenticator at first login.");
    println!();
}

async fn init(db: &Db, no_demo: bool) -> Result<ExitCode> {
    if db.url.is_none() && db.dir.is_initialised() {
        bail!(
            "{} already holds a kizuki database; nothing changed",
            db.dir.db_path().display()
        );
    }
    let (_, _, creds) = db.open_or_create(no_demo).await?;
    let Some(creds) = creds else {
        bail!(
            "{} already holds kizuki data; nothing changed",
            db.describe()
        );
    };
    if no_demo {
        println!(
            "created an empty kizuki database in {} (no demo content)",
            db.describe()
        );
    }
    print_credentials(&creds);
    Ok(ExitCode::SUCCESS)
}

/// How often the search index looks at the change feed without being nudged: the bound on
/// how long a report filed through another node takes to become searchable here.
const SEARCH_FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

async fn serve(db: &Db, args: ServeArgs) -> Result<ExitCode> {
    let dir = &db.dir;
    let config = Config::load(
        dir.root(),
        &Overrides {
            addr: args.addr,
            database_url: db.url.clone(),
        },
        &process_env,
    )?;
    let (app, sqlite, creds) = db.open_or_create(false).await?;
    // Before serving: seals what an older kizuki kept clear, and refuses to start with a key
    // that does not open what is stored.
    sealing::seal_at_start(&app)
        .await
        .context("the secrets kept in the database")?;
    // A database from before lesson themes gets the shipped ones.
    kizuki_app::lessons::ensure_themes(&app)
        .await
        .context("the lesson themes")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Audit retention, at start and then daily.
    tokio::spawn(kizuki_app::security::audit_log::run_retention(
        app.clone(),
        config.audit,
        stop_rx.clone(),
    ));
    if let (Some(store), Some(policy)) = (sqlite, config.backup) {
        tokio::spawn(kizuki_app::ops::backup::run_schedule(
            Arc::new(store),
            dir.backups_dir(),
            policy,
            app.clock.clone(),
            stop_rx,
        ));
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    // Reminders: stage deadlines by e-mail and webhook, once each across nodes.
    if config.notify.is_enabled() {
        let public_url = config
            .notify
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        tokio::spawn(kizuki_app::notify::run_loop(
            app.clone(),
            config.notify.clone(),
            public_url,
            config.deadlines,
            stop_tx.subscribe(),
        ));
    }
    match creds {
        Some(c) => print_credentials(&c),
        None => println!(
            "データベース {} を使用します。ログイン情報は作成時に表示済みです（再発行: kizuki user reset-password EMAIL）。",
            db.describe()
        ),
    }
    println!("kizuki を http://{addr} で起動しました（Ctrl+C で停止）");
    // This node's search index follows the database's change feed (after a crash
    // it resumes where its last commit left off; with several nodes each keeps its own).
    let search = kizuki_search::SearchService::open(dir.root(), app.store.clone())
        .context("cannot open the search index")?;
    let follower = search.spawn_follower(SEARCH_FOLLOW_EVERY);
    // Read the index into the page cache in the background, so the first searches and
    // similar-case lists do not wait for the disk.
    let warming = search.index().clone();
    tokio::task::spawn_blocking(move || match warming.warm() {
        Ok(bytes) => tracing::debug!(mib = bytes >> 20, "search index warmed"),
        Err(e) => tracing::warn!(error = %e, "could not warm the search index"),
    });
    let opts = kizuki_web::WebOptions {
        search: Some(search),
        ..kizuki_web::WebOptions::from_config(&config)
    };
    kizuki_web::serve_with_options(app, listener, shutdown_signal(), opts).await?;
    follower.abort();
    let _ = stop_tx.send(true);
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn check(db: &Db, config: &Config) -> Result<ExitCode> {
    let app = match db.existing_app().await {
        Ok(app) => app,
        // Damage where opening reads (the schema, the instance's secrets) is still damage
        // to report, with the way back, rather than a failure of the check itself.
        Err(e) if kizuki_store_sqlite::is_corruption(e.as_ref()) => {
            eprintln!(
                "problem: {} cannot be read: {e:#}\n  fix: {}",
                db.describe(),
                kizuki_store_sqlite::RESTORE_ADVICE
            );
            eprintln!("1 problem(s) found");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    // Reminders are judged against the limit the delivery loop uses, not the default.
    let opts = kizuki_app::survey::CheckOptions {
        reminder_max_attempts: config.notify.reminders.max_attempts,
    };
    let problems = kizuki_app::survey::check(&app, &opts).await?;
    if problems.is_empty() {
        println!("ok: {} is sound", db.describe());
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("problem: {}\n  fix: {}", p.what, p.fix);
    }
    eprintln!("{} problem(s) found", problems.len());
    Ok(ExitCode::FAILURE)
}

fn date(text: &str) -> ExitCode {
    match wareki::parse_date(text) {
        Ok(parsed) => {
            let d = parsed.date;
            println!("{d}");
            println!("西暦: {}", wareki::format_seireki(d));
            println!("和暦: {}", wareki::format_wareki(d));
            match FiscalYear::of(d) {
                Ok(fy) => println!("年度: {fy}（{}）", fy.wareki_label()),
                Err(e) => println!("年度: -（{}）", e.message_ja()),
            }
            if let Some(l) = parsed.lenient {
                eprintln!("注意: {}", l.message_ja());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.message_ja());
            eprintln!("       {e}");
            ExitCode::FAILURE
        }
    }
}
