//! Configuration: defaults, then `kizuki.toml` in the data dir, then `KIZUKI_*` environment
//! variables, then command-line flags. Secrets are never printed.

use crate::backup::{BackupPolicy, parse_interval};
use crate::error::{AppError, AppResult};
use kizuki_domain::deadlines::DeadlinePolicy;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./kizuki-data";

/// What `kizuki.toml` may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    database_url: Option<String>,
    backup: Option<BackupSection>,
    /// `[deadlines]`: `first = "24h"`, `follow_up = "72h"`, `final = "1month"` (issue 8).
    deadlines: Option<DeadlinePolicy>,
}

/// `[backup]`: `every = "6h"`, `keep = 28`, or `every = "off"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupSection {
    every: String,
    #[serde(default = "default_keep")]
    keep: usize,
}

fn default_keep() -> usize {
    DEFAULT_BACKUP.keep
}

/// Scheduled backups are on unless switched off: a database nobody backs up is the
/// reference's case 2 waiting to happen.
pub const DEFAULT_BACKUP: BackupPolicy = BackupPolicy {
    every: std::time::Duration::from_secs(6 * 3600),
    keep: 28,
};

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// A PostgreSQL URL; `None` means the embedded SQLite file in the data dir.
    pub database_url: Option<String>,
    /// `None` when scheduled backups are switched off.
    pub backup: Option<BackupPolicy>,
    /// How long after detection each report stage is due.
    pub deadlines: DeadlinePolicy,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("addr", &self.addr)
            .field("backup", &self.backup)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<set, not shown>"),
            )
            .finish()
    }
}

/// Values given on the command line (they win over everything else).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub addr: Option<String>,
    pub database_url: Option<String>,
}

impl Config {
    /// Layers the sources; `env` is injected so tests need not touch the process environment.
    pub fn load(
        data_dir: &Path,
        cli: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> AppResult<Config> {
        let file_path = data_dir.join("kizuki.toml");
        let file: FileConfig = match std::fs::read_to_string(&file_path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                AppError::Refused(format!("{}: {}", file_path.display(), e.message()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(e) => return Err(AppError::io(file_path.display().to_string(), e)),
        };
        let addr_text = cli
            .addr
            .clone()
            .or_else(|| env("KIZUKI_ADDR"))
            .or(file.addr)
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_text.parse().map_err(|_| {
            AppError::Refused(format!(
                "addr: '{addr_text}' is not an address like 127.0.0.1:8080"
            ))
        })?;
        let database_url = cli
            .database_url
            .clone()
            .or_else(|| env("KIZUKI_DATABASE_URL"))
            .or(file.database_url);
        let backup = match file.backup {
            None => Some(DEFAULT_BACKUP),
            Some(b) if b.every.trim() == "off" => None,
            Some(b) => {
                let every = parse_interval(&b.every).map_err(|e| {
                    AppError::Refused(format!("{}: backup.every: {e}", file_path.display()))
                })?;
                if b.keep == 0 {
                    return Err(AppError::Refused(format!(
                        "{}: backup.keep must be at least 1",
                        file_path.display()
                    )));
                }
                Some(BackupPolicy {
                    every,
                    keep: b.keep,
                })
            }
        };
        let deadlines = deadline_policy(file.deadlines.unwrap_or_default(), env)
            .map_err(|e| AppError::Refused(format!("{}: deadlines: {e}", file_path.display())))?;
        Ok(Config {
            data_dir: data_dir.to_owned(),
            addr,
            database_url,
            backup,
            deadlines,
        })
    }
}

/// The file's deadlines with `KIZUKI_DEADLINE_FIRST`, `_FOLLOW_UP` and `_FINAL` laid over
/// them; the three are checked together (a later stage may not be shorter).
fn deadline_policy(
    file: DeadlinePolicy,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DeadlinePolicy, kizuki_domain::ValidationErrors> {
    use kizuki_domain::report::StageKind;
    let pick =
        |var: &str, stage: StageKind| env(var).unwrap_or_else(|| file.span(stage).to_string());
    DeadlinePolicy::from_config(
        &pick("KIZUKI_DEADLINE_FIRST", StageKind::First),
        &pick("KIZUKI_DEADLINE_FOLLOW_UP", StageKind::FollowUp),
        &pick("KIZUKI_DEADLINE_FINAL", StageKind::Final),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let c = Config::load(dir.path(), &Overrides::default(), &none).unwrap();
        assert_eq!(c.addr.to_string(), DEFAULT_ADDR);
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "addr = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &none).unwrap();
        assert_eq!(c.addr.port(), 9000);
        let env = |k: &str| (k == "KIZUKI_ADDR").then(|| "127.0.0.1:9100".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(c.addr.port(), 9100);
        let cli = Overrides {
            addr: Some("127.0.0.1:9200".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(dir.path(), &cli, &env).unwrap().addr.port(),
            9200
        );
    }

    #[test]
    fn backup_section() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("kizuki.toml"), text).unwrap();
            Config::load(dir.path(), &Overrides::default(), &|_| None)
        };
        assert_eq!(load("").unwrap().backup, Some(DEFAULT_BACKUP));
        let b = load("[backup]\nevery = \"1d\"\nkeep = 7\n")
            .unwrap()
            .backup
            .unwrap();
        assert_eq!((b.every.as_secs(), b.keep), (86_400, 7));
        assert_eq!(load("[backup]\nevery = \"off\"\n").unwrap().backup, None);
        let err = load("[backup]\nevery = \"often\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("backup.every"), "{err}");
        assert!(load("[backup]\nevery = \"6h\"\nkeep = 0\n").is_err());
    }

    #[test]
    fn deadlines_section_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        assert_eq!(c.deadlines, DeadlinePolicy::default());
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "[deadlines]\nfirst = \"12h\"\nfollow_up = \"48h\"\nfinal = \"2month\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        let want = DeadlinePolicy::from_config("12h", "48h", "2month").unwrap();
        assert_eq!(c.deadlines, want);
        let env = |k: &str| (k == "KIZUKI_DEADLINE_FINAL").then(|| "1month".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(
            c.deadlines,
            DeadlinePolicy::from_config("12h", "48h", "1month").unwrap()
        );
        // A later stage shorter than an earlier one is refused, naming the section.
        let env = |k: &str| (k == "KIZUKI_DEADLINE_FOLLOW_UP").then(|| "6h".to_owned());
        let err = Config::load(dir.path(), &Overrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("deadlines"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kizuki.toml"), "adr = 1\n").unwrap();
        let err = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap_err();
        assert!(err.to_string().contains("kizuki.toml"), "{err}");
        let cli = Overrides {
            addr: Some("nowhere".into()),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path(), &cli, &|_| None).unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
    }

    #[test]
    fn debug_hides_the_database_url() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Overrides {
            database_url: Some("postgres://u:secret@h/db".into()),
            ..Default::default()
        };
        let c = Config::load(dir.path(), &cli, &|_| None).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
