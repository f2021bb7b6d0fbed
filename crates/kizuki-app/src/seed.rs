//! Seeding a new data dir: the demo directory (organisations and users with one-time random
//! passwords) and the 2019 survey, so `cargo run --release` opens on real content.

use crate::error::{AppError, AppResult};
use crate::survey::{ImportSummary, import_survey};
use crate::{App, security::password};
use kizuki_dataset::{DemoDirectory, SURVEY_2019, default_demo, parse_survey_files};
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::{Email, NewUser, Role};
use std::collections::HashMap;

/// A login created during seeding; the password exists only here and is shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredential {
    pub email: String,
    pub role: Role,
    pub organisation: String,
    pub password: String,
}

#[derive(Debug)]
pub struct DemoOutcome {
    pub credentials: Vec<IssuedCredential>,
    pub survey: ImportSummary,
}

const DEMO_PASSWORD_LEN: usize = 16;

/// Creates the organisations and users of `dir` that do not exist yet.
pub async fn ensure_directory(app: &App, dir: &DemoDirectory) -> AppResult<Vec<IssuedCredential>> {
    let mut ids = HashMap::new();
    for o in &dir.organisations {
        let org = match app.store.org_by_key(&o.key).await? {
            Some(org) => org,
            None => {
                app.store
                    .create_org(o.clone().parse(&app.taxonomy)?)
                    .await?
            }
        };
        ids.insert(org.org.key.clone(), org.id);
    }
    let mut issued = Vec::new();
    for u in &dir.users {
        let email = Email::parse(&u.email)?;
        if app.store.credentials(&email).await?.is_some() {
            continue;
        }
        let Some(&org_id) = ids.get(&u.organisation) else {
            continue;
        };
        let pw = password::generate(app, DEMO_PASSWORD_LEN);
        let hash = password::hash(app, &pw)?;
        let nu = NewUser {
            org_id,
            email,
            display_name: u.display_name.clone(),
            role: u.role,
            lang: Lang::Ja,
        }
        .parse()?;
        app.store.create_user(nu, &hash).await?;
        issued.push(IssuedCredential {
            email: u.email.clone(),
            role: u.role,
            organisation: u.organisation.clone(),
            password: pw,
        });
    }
    Ok(issued)
}

/// Loads the demo directory and the built-in 2019 survey into an empty store.
pub async fn seed_demo(app: &App) -> AppResult<DemoOutcome> {
    let demo = default_demo(&app.taxonomy)?;
    let credentials = ensure_directory(app, &demo).await?;
    let files: Vec<(String, String)> = SURVEY_2019
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let data = parse_survey_files(&files, &app.taxonomy)?;
    let survey = import_survey(app, &data).await?;
    // Publication: the 2019 cases were published in reality, so they are signed
    // off and on the public portal in the demo too.
    crate::publication::seed_published(app, data.survey.fiscal_year.year()).await?;
    // …and the 2019 annual report was published whole: its first edition, dated with them.
    let year = data.survey.fiscal_year.year();
    let editor = crate::publication::loaded_year_editor(app).await?;
    let at = crate::publication::loaded_year_published_at(year);
    crate::publication::year::publish_dated(app, &editor, year, at).await?;
    // The lesson themes, with the 2019 lessons under theirs.
    let themes = crate::lessons::seed(app, &kizuki_dataset::default_themes()?).await?;
    // The shipped file and the shipped survey must agree.
    if !themes.skipped.is_empty() {
        return Err(AppError::Refused(format!(
            "data/lessons/themes.toml names lessons the 2019 survey lacks: {:?}",
            themes.skipped
        )));
    }
    Ok(DemoOutcome {
        credentials,
        survey,
    })
}
