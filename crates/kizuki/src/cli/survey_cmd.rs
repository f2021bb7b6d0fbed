//! `kizuki survey …`: opening a survey year from the command line, as the web page and the
//! API do, through the same application services.

use anyhow::Result;
use clap::Subcommand;
use kizuki_app::App;
use kizuki_app::auth::Principal;
use kizuki_app::survey::year;
use kizuki_domain::fiscal::FiscalYear;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Open a survey year (e.g. `kizuki survey new 2020 --from 2019`). Copying from an earlier
    /// year prefills the title, period, purpose, method, criteria and remarks; without it the
    /// title and the period (1 January to 31 December) are prefilled and --purpose,
    /// --method, --criteria-intro must be given, with criteria added in the web app.
    New {
        /// The fiscal year, e.g. 2020 or 令和2年度.
        year: String,
        /// The year to copy from.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        purpose: Option<String>,
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        criteria_intro: Option<String>,
        /// Who opens it, for the audit log (a centre analyst or editor); the service's system
        /// editor when absent.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
}

fn fiscal(text: &str, what: &str) -> Result<i32> {
    FiscalYear::parse(text)
        .map(FiscalYear::year)
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

async fn principal(app: &App, email: Option<&str>) -> Result<Principal> {
    let Some(email) = email else {
        return Ok(kizuki_app::publication::system_editor(app).await?);
    };
    super::principal_for(app, email).await
}

pub async fn run(app: &App, cmd: SurveyCommand) -> Result<ExitCode> {
    match cmd {
        SurveyCommand::New {
            year: y,
            from,
            title,
            purpose,
            method,
            criteria_intro,
            as_user,
        } => {
            let fy = fiscal(&y, "year")?;
            let from = from.as_deref().map(|f| fiscal(f, "--from")).transpose()?;
            let p = principal(app, as_user.as_deref()).await?;
            let mut content = year::prefill(app, &p, fy, from).await?;
            for (given, field) in [
                (title, &mut content.title),
                (purpose, &mut content.purpose),
                (method, &mut content.method),
                (criteria_intro, &mut content.criteria_intro),
            ] {
                if let Some(v) = given {
                    *field = v;
                }
            }
            let s = year::open(app, &p, content).await?;
            let c = &s.content;
            println!(
                "opened survey {} ({}): {} — period {} to {}, {} criteria{}",
                fy,
                c.fiscal_year.wareki_label(),
                c.title,
                c.period_start,
                c.period_end,
                c.criteria.len(),
                from.map_or_else(String::new, |f| format!(", copied from {f}")),
            );
            println!("edit it at /surveys/{fy}/edit");
            Ok(ExitCode::SUCCESS)
        }
    }
}
