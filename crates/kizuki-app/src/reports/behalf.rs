//! Filing on an operator's behalf: a centre analyst enters a report the operator phoned in (or
//! e-mailed, faxed, brought). The report is the operator's from the start — it owns it, sees
//! it, its staff add the follow-ups — and who at the centre entered it, how it came in and from
//! whom are recorded: the first stage's author and history name the analyst, the audit log the
//! rest.

use crate::App;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::reports::ReportForm;
use kizuki_domain::org::{OrgKind, Organisation};
use kizuki_domain::report::{Report, ReportDetails, ReportInput, StageKind};
use kizuki_domain::taxonomy::Tlp;
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{NewReport, NewStage};
use serde::Serialize;

/// How the report reached the centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Email,
    Fax,
    InPerson,
    Other,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Phone,
        Channel::Email,
        Channel::Fax,
        Channel::InPerson,
        Channel::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Email => "email",
            Channel::Fax => "fax",
            Channel::InPerson => "in_person",
            Channel::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == s.trim())
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Channel::Phone => "電話",
            Channel::Email => "メール",
            Channel::Fax => "FAX",
            Channel::InPerson => "来所・対面",
            Channel::Other => "その他",
        }
    }
}

/// Who the report came from, as typed on the form or in the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// The operator's directory key (`demo-railway`).
    pub org: String,
    pub channel: String,
    /// The person who reported it (name, department, how to reach them).
    pub from: String,
}

const MAX_FROM: usize = 200;

/// The operators a report may be filed for (the form's choice), for the centre's content staff.
pub async fn operators(app: &App, p: &Principal) -> AppResult<Vec<Organisation>> {
    p.require_analyst()?;
    let mut v: Vec<Organisation> = app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.org.kind == OrgKind::Operator)
        .collect();
    v.sort_by(|a, b| a.org.key.cmp(&b.org.key));
    Ok(v)
}

/// Checks `received` and `details` together, so every mistake is named at once; errors name
/// `org`, `channel`, `received_from`, `tlp` and `sector` beside the report's own fields.
async fn check(
    app: &App,
    received: &Received,
    details: Result<ReportDetails, ValidationErrors>,
) -> AppResult<(Organisation, Channel, String, ReportDetails)> {
    let mut errs = match &details {
        Ok(_) => ValidationErrors::default(),
        Err(e) => e.clone(),
    };
    let org = app.store.org_by_key(received.org.trim()).await?;
    let org = match org {
        Some(o) if o.org.kind == OrgKind::Operator => Some(o),
        _ => {
            errs.push(FieldError::invalid(
                "org",
                "報告元の事業者を選んでください / choose the operator the report comes from",
            ));
            None
        }
    };
    let channel = Channel::parse(&received.channel);
    if channel.is_none() {
        errs.push(FieldError::invalid(
            "channel",
            "受付方法を選んでください / choose how the report came in",
        ));
    }
    let from =
        kizuki_domain::error::text(&mut errs, "received_from", &received.from, true, MAX_FROM);
    if let Ok(d) = &details {
        // A RED report names its readers; only the operator can decide who they are.
        if d.tlp == Tlp::Red {
            errs.push(FieldError::invalid(
                "tlp",
                "TLP:RED の報告は事業者自身が登録します / a TLP:RED report is filed by the operator itself",
            ));
        }
        if let Some(o) = &org
            && !o.org.sectors.is_empty()
            && !o.org.sectors.contains(&d.sector)
        {
            errs.push(FieldError::invalid(
                "sector",
                format!(
                    "{}の分野ではありません / not a sector of {}",
                    o.org.name, o.org.name
                ),
            ));
        }
    }
    match (details, org, channel) {
        (Ok(d), Some(o), Some(c)) if errs.is_empty() => Ok((o, c, from, d)),
        _ => Err(errs.into()),
    }
}

async fn file(
    app: &App,
    p: &Principal,
    received: &Received,
    details: Result<ReportDetails, ValidationErrors>,
) -> AppResult<Report> {
    p.require_analyst()?;
    let (org, channel, from, details) = check(app, received, details).await?;
    let first = NewStage {
        kind: StageKind::First,
        at: app.clock.now(),
        text: details.summary.clone(),
        author: Some(p.user_id),
    };
    let r = app
        .store
        .create_report(NewReport {
            org_id: org.id,
            details,
            first,
        })
        .await?;
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::CHANGE,
        format!("report:{}", r.id),
        &serde_json::json!({"filed_on_behalf_of": org.org.key, "channel": channel.code(),
                            "received_from": from}),
    )
    .await?;
    Ok(r)
}

/// Files the form for the operator `received` names.
pub async fn file_form(
    app: &App,
    p: &Principal,
    received: &Received,
    form: &ReportForm,
) -> AppResult<Report> {
    p.require_analyst()?;
    let details = form.parse(&app.taxonomy, app.clock.now());
    file(app, p, received, details).await
}

/// Files API input for the operator `received` names.
pub async fn file_input(
    app: &App,
    p: &Principal,
    received: &Received,
    input: &ReportInput,
) -> AppResult<Report> {
    p.require_analyst()?;
    let details = input.parse(&app.taxonomy);
    file(app, p, received, details).await
}

/// Whether report `r` was entered by someone outside the organisation that owns it (the centre,
/// on its behalf): the name of who entered it, for the report's page.
pub async fn entered_by(app: &App, r: &Report) -> AppResult<Option<String>> {
    let Some(author) = r.stages.first().and_then(|s| s.author) else {
        return Ok(None);
    };
    let u = app.store.get_user(author).await?;
    Ok((u.user.org_id != r.org_id).then_some(u.user.display_name))
}
