//! `kizuki audit …`: verify the hash-chained audit log (in the database or an exported
//! file) and print its head to keep outside the database; purge entries past the retention
//! period behind a checkpoint; export a date range as JSON Lines that verify on their own.

use clap::Subcommand;
use kizuki_app::App;
use kizuki_app::security::audit::{self, Anchor};
use kizuki_app::security::audit_log::{self, AuditRetention, AuditSection};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every entry's hash and link; print the head (seq, hash) to keep elsewhere.
    /// With --file, check an export made by `kizuki audit export` instead of the database.
    Verify {
        /// An export (JSON Lines) to verify on its own.
        #[arg(long)]
        file: Option<PathBuf>,
        /// A head recorded earlier, `SEQ:HASH`; the log (or file) must agree with it.
        #[arg(long)]
        anchor: Vec<String>,
    },
    /// Delete entries older than the retention period (`[audit] keep`, default 400 days),
    /// appending a checkpoint first so the chain still verifies. `serve` does this daily.
    Purge {
        /// Override `[audit] keep` for this run, e.g. "400d", "2y".
        #[arg(long)]
        keep: Option<String>,
        /// Accept a period shorter than a year.
        #[arg(long)]
        force: bool,
    },
    /// Write the entries of a date range (days in Japan, inclusive) as JSON Lines with each
    /// entry's hash, e.g. `kizuki audit export --from 2024-04-01 --to R7.3.31 --out a.jsonl`.
    Export {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_anchor(text: &str) -> anyhow::Result<Anchor> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--anchor: '{text}' is not SEQ:HASH"))?;
    let seq = seq
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--anchor: '{seq}' is not a sequence number"))?;
    Ok(Anchor {
        seq,
        hash: hash.trim().to_lowercase(),
    })
}

pub async fn run(
    app: &App,
    retention: AuditRetention,
    cmd: AuditCommand,
) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { file, anchor } => {
            let anchors = anchor
                .iter()
                .map(|a| parse_anchor(a))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (entries, from_file) = match &file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    let entries = audit_log::parse_lines(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    (entries, true)
                }
                None => (audit_log::all_entries(app).await?, false),
            };
            let checked = if from_file {
                // An export is a run cut from the chain: checked on its own, then against
                // any head recorded elsewhere that falls inside it or after it.
                audit::verify_segment(&entries)
                    .and_then(|s| anchors_agree(&entries, &anchors).map(|()| s))
            } else {
                audit::verify_with_anchors(&entries, &anchors)
            };
            match checked {
                Ok(s) => {
                    let what = match &file {
                        Some(p) => format!("audit export {} ok", p.display()),
                        None => "audit log ok".to_owned(),
                    };
                    println!(
                        "{what}: {} entries, seq {}..{}, head seq {} hash {}",
                        s.entries,
                        s.first_seq.unwrap_or(0),
                        s.last_seq.unwrap_or(0),
                        s.last_seq.unwrap_or(0),
                        s.head_hash
                    );
                    if let (true, Some(first)) = (from_file, entries.first()) {
                        println!(
                            "starts after hash {}; compare the head with one recorded elsewhere (--anchor SEQ:HASH)",
                            first.prev_hash
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(broken) => {
                    eprintln!("{broken}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::Purge { keep, force } => {
            let retention = match keep {
                Some(k) => AuditSection {
                    keep: Some(k),
                    force,
                }
                .retention()
                .map_err(|e| anyhow::anyhow!("--keep: {e}"))?,
                None => retention,
            };
            match audit_log::purge(app, retention.keep()).await? {
                Some(p) => println!(
                    "purged {} entries through seq {} (kept {} days); checkpoint seq {} hash {}",
                    p.deleted, p.through, retention.keep_days, p.checkpoint.seq, p.checkpoint.hash
                ),
                None => println!(
                    "nothing older than {} days; nothing purged",
                    retention.keep_days
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { from, to, out } => {
            // Dates as people write them here: 2024-04-01, 令和6年4月1日, R6.4.1.
            let parse_day = |flag: &str, text: &str| {
                kizuki_domain::wareki::parse_date_strict(text)
                    .map_err(|e| anyhow::anyhow!("{flag}: {} / {e}", e.message_ja()))
            };
            let from = parse_day("--from", &from)?;
            let to = parse_day("--to", &to)?;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .map_err(|e| {
                    anyhow::anyhow!("--out {}: {e} (choose a new file name)", out.display())
                })?;
            let mut w = std::io::BufWriter::new(file);
            let x = audit_log::export(app, from, to, &mut w).await?;
            w.flush()?;
            w.get_ref().sync_all()?;
            match (x.first_seq, x.last_seq, x.last_hash) {
                (Some(a), Some(b), Some(h)) => println!(
                    "exported {} entries (seq {a}..{b}, {from}..{to}) to {}; last hash {h}",
                    x.entries,
                    out.display()
                ),
                _ => println!(
                    "no entries between {from} and {to}; wrote an empty {}",
                    out.display()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Every anchor that falls inside the run must match its entry; one past the end means the
/// run (or the log it came from) lost its newest entries. Anchors before the run are about
/// entries it does not cover.
fn anchors_agree(entries: &[audit::AuditEntry], anchors: &[Anchor]) -> Result<(), audit::BrokenAt> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(());
    };
    for a in anchors {
        let bad = if a.seq > last.seq {
            Some(last.seq + 1)
        } else if a.seq >= first.seq {
            let e = &entries[(a.seq - first.seq) as usize];
            (e.hash != a.hash).then_some(a.seq)
        } else {
            None
        };
        if let Some(seq) = bad {
            return Err(audit::BrokenAt {
                seq,
                problem: audit::Break::Anchor,
            });
        }
    }
    Ok(())
}
