//! `kizuki org …` and the account parts of `kizuki user …`: organisations and their
//! IP allowlists, users with one-time passwords, disabling accounts. The rules live in
//! `kizuki_app::accounts`; this file parses arguments and prints outcomes.

use anyhow::Result;
use clap::Subcommand;
use kizuki_app::App;
use kizuki_app::accounts::{self, OrgRequest};
use kizuki_domain::taxonomy::{Lang, Vocabulary};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Add an organisation (e.g. `kizuki org add --name 東日本電力 --kind operator --sector 電力`).
    Add {
        /// The organisation's name as shown everywhere; commands find it by this name.
        #[arg(long)]
        name: String,
        /// operator, ministry, centre or vendor.
        #[arg(long)]
        kind: String,
        /// Sector as its Japanese label or code (電力 / electricity). An operator has one; a
        /// ministry repeats --sector for each sector it oversees.
        #[arg(long = "sector")]
        sectors: Vec<String>,
        /// A short ASCII key for the directory; made from the name when left out.
        #[arg(long)]
        key: Option<String>,
        /// Region code from the taxonomy (e.g. kanto).
        #[arg(long)]
        region: Option<String>,
    },
    /// List organisations: key, kind, name, sectors, accounts, allowlist entries.
    List,
    /// Add a network to an organisation's IP allowlist (the first entry turns it on).
    Allow {
        /// Name or key of the organisation (the centre too).
        #[arg(long)]
        name: String,
        /// An address or CIDR block, IPv4 or IPv6 (e.g. 192.0.2.0/24).
        #[arg(long)]
        cidr: String,
    },
    /// Remove a network from an organisation's IP allowlist (removing the last lifts it).
    Disallow {
        #[arg(long)]
        name: String,
        #[arg(long)]
        cidr: String,
    },
    /// Show an organisation's IP allowlist.
    Allowlist {
        #[arg(long)]
        name: String,
    },
    /// Change an organisation's name, sectors or region (its key and kind stay).
    Edit {
        /// Name or key of the organisation.
        #[arg(long)]
        name: String,
        /// A new name.
        #[arg(long)]
        rename: Option<String>,
        /// The sectors, replacing the current ones (repeat for a ministry).
        #[arg(long = "sector")]
        sectors: Vec<String>,
        /// A region code from the taxonomy; `--region ""` removes it.
        #[arg(long)]
        region: Option<String>,
    },
    /// Disable an organisation: every account of it is disabled, its reports stay.
    Disable {
        /// Name or key of the organisation.
        #[arg(long)]
        name: String,
    },
    /// Enable a disabled organisation again (its accounts stay disabled until enabled).
    Enable {
        #[arg(long)]
        name: String,
    },
}

/// Flattened into `kizuki user …` beside `list` and `reset-password`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print its one-time password (to be changed at first login).
    Add {
        /// Name or key of the organisation.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// reporter, operator_admin, ministry, analyst, editor or admin; it must fit the
        /// organisation's kind.
        #[arg(long)]
        role: String,
        /// The name shown in the application; the e-mail's local part when left out.
        #[arg(long)]
        name: Option<String>,
    },
    /// Disable an account: logins, sessions and API tokens stop at once.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account again (its old tokens stay revoked).
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Give an account another role (it must fit the organisation's kind).
    Role {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
}

pub async fn org(app: &App, cmd: OrgCommand) -> Result<ExitCode> {
    match cmd {
        OrgCommand::Add {
            name,
            kind,
            sectors,
            key,
            region,
        } => {
            let o = accounts::add_org(
                app,
                &OrgRequest {
                    name,
                    kind,
                    sectors,
                    key,
                    region,
                },
            )
            .await?;
            println!(
                "組織を追加しました / added {} {}「{}」 sectors: {}",
                o.org.kind.code(),
                o.org.key,
                o.org.name,
                sector_labels(app, &o.org.sectors)
            );
        }
        OrgCommand::List => {
            let users = app.store.list_users().await?;
            for o in app.store.list_orgs().await? {
                let n = users.iter().filter(|u| u.user.org_id == o.id).count();
                let (_, list) = accounts::allowlist(app, &o).await?;
                println!(
                    "{}\t{}\t{}\t{}\t{} users\t{}{}",
                    o.org.key,
                    o.org.kind.code(),
                    o.org.name,
                    sector_labels(app, &o.org.sectors),
                    n,
                    if list.is_empty() {
                        "allowlist: off".to_owned()
                    } else {
                        format!("allowlist: {}", list.entries().len())
                    },
                    if o.active { "" } else { "\tdisabled" }
                );
            }
        }
        OrgCommand::Allow { name, cidr } => {
            let o = accounts::find_org(app, &name).await?;
            let list = accounts::allow(app, &o, &cidr).await?;
            println!(
                "「{}」の許可リスト / allowlist of {} ({} entries):",
                o.org.name,
                o.org.key,
                list.entries().len()
            );
            for c in list.entries() {
                println!("  {c}");
            }
        }
        OrgCommand::Disallow { name, cidr } => {
            let o = accounts::find_org(app, &name).await?;
            let list = accounts::disallow(app, &o, &cidr).await?;
            if list.is_empty() {
                println!(
                    "「{}」の許可リストは空になりました。どこからでもログインできます / the allowlist of {} is empty: no address restriction",
                    o.org.name, o.org.key
                );
            } else {
                println!("removed {cidr}; {} entries remain", list.entries().len());
            }
        }
        OrgCommand::Edit {
            name,
            rename,
            sectors,
            region,
        } => {
            let o = accounts::find_org(app, &name).await?;
            let edit = accounts::OrgEdit {
                name: rename.unwrap_or_else(|| o.org.name.clone()),
                // Left out, the sectors and region stay as they are.
                sectors: if sectors.is_empty() {
                    o.org.sectors.iter().map(|c| c.0.clone()).collect()
                } else {
                    sectors
                },
                region: region.or_else(|| o.org.region.as_ref().map(|c| c.0.clone())),
            };
            let saved = accounts::edit_org(app, &o, o.version, &edit, "cli".to_owned()).await?;
            println!(
                "{}\t{}\t{}\t{}",
                saved.org.key,
                saved.org.kind.code(),
                saved.org.name,
                sector_labels(app, &saved.org.sectors)
            );
        }
        OrgCommand::Disable { name } => {
            let o = accounts::find_org(app, &name).await?;
            let (_, n) = accounts::set_org_active(app, &o, false, "cli".to_owned()).await?;
            println!(
                "「{}」を無効にしました（アカウント {n} 件も無効） / disabled {} and {n} of its accounts",
                o.org.name, o.org.key
            );
        }
        OrgCommand::Enable { name } => {
            let o = accounts::find_org(app, &name).await?;
            accounts::set_org_active(app, &o, true, "cli".to_owned()).await?;
            println!(
                "「{}」を有効にしました。アカウントは個別に有効にしてください / enabled {}; enable its accounts one by one",
                o.org.name, o.org.key
            );
        }
        OrgCommand::Allowlist { name } => {
            let o = accounts::find_org(app, &name).await?;
            let (stored, list) = accounts::allowlist(app, &o).await?;
            if list.is_empty() {
                println!(
                    "「{}」に許可リストはありません（制限なし） / {} has no allowlist (no restriction)",
                    o.org.name, o.org.key
                );
            } else {
                for c in list.entries() {
                    println!("{c}");
                }
                eprintln!(
                    "version {}{}",
                    stored.version,
                    stored
                        .updated_at
                        .map(|t| format!(", updated {}", t.to_rfc3339()))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sector_labels(app: &App, sectors: &[kizuki_domain::taxonomy::Code]) -> String {
    if sectors.is_empty() {
        return "-".to_owned();
    }
    sectors
        .iter()
        .map(|c| {
            app.taxonomy
                .label(Vocabulary::Sector, c.as_str(), Lang::Ja)
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Prints a one-time password the way `user add` and `user reset-password` both do.
pub fn print_one_time_password(email: &str, pw: &str) {
    println!("一時パスワード / one-time password: {pw}");
    println!(
        "{email} は初回ログイン時にパスワードの変更が必要です（この一度だけ表示します） / \
         {email} must change it at first login (shown only now)"
    );
}

pub async fn user(app: &App, cmd: UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            org,
            email,
            role,
            name,
        } => {
            let o = accounts::find_org(app, &org).await?;
            let role = accounts::parse_role(&role)?;
            let (u, pw) = accounts::add_user(app, None, &o, &email, role, name.as_deref()).await?;
            println!(
                "アカウントを作成しました / created {} {} in {}「{}」",
                role.code(),
                u.user.email,
                o.org.key,
                o.org.name
            );
            print_one_time_password(u.user.email.as_str(), &pw);
            if kizuki_app::security::totp::mfa_required(role) {
                println!(
                    "この役割は初回ログイン時に二要素認証（TOTP）を登録します / this role enrols a TOTP authenticator at first login"
                );
            }
        }
        UserCommand::Disable { email } => {
            let (u, revoked) = accounts::disable_user(app, &email).await?;
            println!(
                "{} を無効にしました。セッションは次の操作で終了し、トークン{}件を失効させました / disabled {}: sessions end at their next request, {} token(s) revoked",
                u.user.email, revoked, u.user.email, revoked
            );
        }
        UserCommand::Role { email, role } => {
            let u = accounts::set_role_cli(app, &email, &role).await?;
            println!(
                "{} の役割を「{}」にしました / {} is now {}",
                u.user.email,
                u.user.role.label_ja(),
                u.user.email,
                u.user.role.code()
            );
        }
        UserCommand::Enable { email } => {
            let u = accounts::enable_user(app, &email).await?;
            println!(
                "{} を有効にしました / enabled {}",
                u.user.email, u.user.email
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
