//! Command-line parsing and the subcommands. Each subcommand opens the data dir, calls the
//! application services and prints the outcome; errors go to stderr with a non-zero exit.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kizuki_app::config::{DEFAULT_DATA_DIR, Overrides};
use kizuki_app::datadir::DataDir;
use kizuki_app::seed::IssuedCredential;
use kizuki_app::{App, Config, os_rng};
use kizuki_domain::clock::SystemClock;
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::wareki;
use kizuki_store_sqlite::SqliteStore;
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
        format: crate::report_cmd::Format,
        #[arg(long)]
        out: PathBuf,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
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
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(&dir, args).await,
        Command::Init { no_demo } => init(&dir, no_demo).await,
        Command::Date { text } => Ok(date(&text)),
        Command::Import(ImportCommand::Survey { dir: from }) => {
            let app = app_for(dir.open_existing()?)?;
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
            let app = app_for(dir.open_existing()?)?;
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
            let store = dir.open_existing()?;
            if out.exists() {
                bail!("{} exists; choose a new file name", out.display());
            }
            store.backup_to(&out).await?;
            println!("backup written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, force } => {
            dir.restore(&file, force)?;
            println!(
                "restored {} into {}; run `kizuki check` to confirm",
                file.display(),
                dir.db_path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => check(&dir).await,
        Command::Report {
            survey,
            format,
            out,
        } => {
            let app = app_for(dir.open_existing()?)?;
            crate::report_cmd::run(&app, &survey, format, &out).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::ResetPassword { email }) => {
            let app = app_for(dir.open_existing()?)?;
            let email = kizuki_domain::user::Email::parse(&email)?;
            let creds = app
                .store
                .credentials(&email)
                .await?
                .with_context(|| format!("no user {email}"))?;
            let pw = kizuki_app::password::generate(&app, 16);
            let hash = kizuki_app::password::hash(&app, &pw)?;
            app.store.set_password_hash(creds.user.id, &hash).await?;
            println!("new password for {email}: {pw}");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::List) => {
            let app = app_for(dir.open_existing()?)?;
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

fn app_for(store: SqliteStore) -> Result<App> {
    let taxonomy = kizuki_dataset::default_taxonomy()?;
    Ok(App {
        store: Arc::new(store),
        taxonomy: Arc::new(taxonomy),
        clock: Arc::new(SystemClock),
        rng: os_rng(),
    })
}

/// Opens the data dir, creating it (with demo content unless `no_demo`) when new.
/// Returns the app and the logins created, if any.
async fn open_or_create(
    dir: &DataDir,
    no_demo: bool,
) -> Result<(App, Option<Vec<IssuedCredential>>)> {
    let fresh = !dir.is_initialised();
    let app = app_for(dir.open()?)?;
    if !fresh {
        return Ok((app, None));
    }
    if no_demo {
        return Ok((app, Some(Vec::new())));
    }
    let outcome = kizuki_app::seed::seed_demo(&app).await?;
    println!(
        "新しいデータディレクトリ {} を作成し、デモデータ（{}年度 補完調査 {}事例）を読み込みました。",
        dir.root().display(),
        outcome.survey.fiscal_year,
        outcome.survey.cases
    );
    Ok((app, Some(outcome.credentials)))
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
    println!();
}

async fn init(dir: &DataDir, no_demo: bool) -> Result<ExitCode> {
    if dir.is_initialised() {
        bail!(
            "{} already holds a kizuki database; nothing changed",
            dir.db_path().display()
        );
    }
    let (_, creds) = open_or_create(dir, no_demo).await?;
    if no_demo {
        println!(
            "created an empty data dir at {} (no demo content)",
            dir.root().display()
        );
    }
    print_credentials(creds.as_deref().unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

async fn serve(dir: &DataDir, args: ServeArgs) -> Result<ExitCode> {
    let config = Config::load(
        dir.root(),
        &Overrides {
            addr: args.addr,
            database_url: None,
        },
        &|k| std::env::var(k).ok(),
    )?;
    let (app, creds) = open_or_create(dir, false).await?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    match creds {
        Some(c) => print_credentials(&c),
        None => println!(
            "データディレクトリ {} を使用します。ログイン情報は作成時に表示済みです（再発行: kizuki user reset-password EMAIL）。",
            dir.root().display()
        ),
    }
    println!("kizuki を http://{addr} で起動しました（Ctrl+C で停止）");
    kizuki_web::serve(app, listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn check(dir: &DataDir) -> Result<ExitCode> {
    let store = dir.open_existing()?;
    let app = app_for(store)?;
    let problems = kizuki_app::survey::check(&app).await?;
    if problems.is_empty() {
        println!("ok: {} is sound", dir.db_path().display());
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
