//! `kizuki audit verify`: walks the hash-chained audit log and prints its head (seq and
//! hash) to keep outside the database, or names the first entry that cannot be trusted.

use clap::Subcommand;
use kizuki_app::App;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every entry's hash and link; print the head (seq, hash) to keep elsewhere.
    Verify,
}

pub async fn run(app: &App, cmd: AuditCommand) -> Result<ExitCode, kizuki_app::AppError> {
    match cmd {
        AuditCommand::Verify => match kizuki_app::audit_log::verify(app).await? {
            Ok(s) => {
                println!(
                    "audit log ok: {} entries, head seq {} hash {}",
                    s.entries,
                    s.last_seq.unwrap_or(0),
                    s.head_hash
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(broken) => {
                eprintln!("{broken}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}
