//! Triage: classify a report (event type, causes, severity, TLP, status), link it to related
//! or duplicate reports, and mark several operators' reports of one failure as one incident.

use super::{done, errors_json, render, report_row};
use crate::error::WebError;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kizuki_app::AppError;
use kizuki_app::reports::{self, TriageInput};
use kizuki_domain::ids::ReportId;
use kizuki_domain::report::{Report, ReportStatus};
use kizuki_store::{Current, LinkKind, Page, ReportFilter, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

/// Reports that may be about the same failure: a shared system in common first, then the
/// same sector, newest first.
async fn candidates(st: &WebState, s: &SignedIn, r: &Report) -> Result<Vec<Report>, WebError> {
    let recent = reports::list(&st.app, &s.p, ReportFilter::default(), Page::new(1, 200)).await?;
    let names: Vec<String> = r
        .details
        .systems
        .iter()
        .map(|x| x.name.trim().to_lowercase())
        .collect();
    let shares = |o: &Report| {
        o.details
            .systems
            .iter()
            .any(|x| names.contains(&x.name.trim().to_lowercase()))
    };
    let mut out: Vec<Report> = recent
        .items
        .into_iter()
        .filter(|o| o.id != r.id && (shares(o) || o.details.sector == r.details.sector))
        .collect();
    out.sort_by_key(|o| (!shares(o), std::cmp::Reverse(o.reported_at)));
    out.truncate(10);
    Ok(out)
}

async fn page(
    st: &WebState,
    s: &SignedIn,
    id: ReportId,
    form: Option<(TriageInput, i64)>,
    errors: Value,
    conflict: Option<Value>,
) -> Result<Response, WebError> {
    let view = reports::view(&st.app, &s.p, id).await?;
    let r = &view.report;
    reports::require_triage(&st.app, &s.p, r).await?;
    let orgs = reports::org_names(&st.app).await?;
    let (input, version) = form.unwrap_or_else(|| (TriageInput::from_report(r), r.version));
    let cands = candidates(st, s, r).await?;
    let linked: Vec<i64> = view.links.iter().map(|l| l.other_id.0).collect();
    render(
        st,
        &s.viewer,
        "reports/triage.html",
        json!({
            "r": report_row(st, r, &orgs),
            "summary": r.details.summary,
            // Every stage, so the follow-up or final report being judged is on the page.
            "stages": r.stages.iter().map(|x| json!({"seq": x.seq, "kind": x.kind.code(),
                "at": x.at, "text": x.text})).collect::<Vec<_>>(),
            "systems": r.details.systems,
            "form": input,
            "version": version,
            "errors": errors,
            "conflict": conflict,
            "links": view.links.iter().map(|l| json!({
                "kind": l.link.kind.code(),
                "other_id": l.other_id.0,
                "other": l.other.as_ref().map(|o| report_row(st, o, &orgs)),
            })).collect::<Vec<_>>(),
            "candidates": cands.iter().map(|o| Candidate {
                row: report_row(st, o, &orgs),
                linked: linked.contains(&o.id.0),
                systems: o.details.systems.iter().map(|x| x.name.clone()).collect(),
            }).collect::<Vec<_>>(),
            "statuses": ReportStatus::ALL.iter().map(|s| s.code()).collect::<Vec<_>>(),
            "link_kinds": LinkKind::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
            "presence_key": format!("report:{id}"),
            "others": super::reports::presence(st, s, &format!("report:{id}")),
        }),
    )
}

pub async fn form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    page(&st, &s, ReportId(id), None, json!({}), None).await
}

pub async fn save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let rid = ReportId(id);
    let input = TriageInput {
        event_type: f.get("event_type").to_owned(),
        causes: f.all("causes"),
        severity: f.get("severity").to_owned(),
        tlp: f.get("tlp").to_owned(),
        status: f.get("status").to_owned(),
    };
    let version = f.i64("version").unwrap_or(0);
    match reports::triage(&st.app, &s.p, rid, version, &input).await {
        Ok(_) => {
            st.presence.leave(&format!("report:{id}"), s.p.user_id);
            Ok(done(
                &st,
                &s.viewer,
                "flash.triaged",
                &format!("/reports/{id}"),
            ))
        }
        Err(AppError::Validation(errs)) => {
            let mut res = page(
                &st,
                &s,
                rid,
                Some((input, version)),
                errors_json(&errs, s.viewer.lang),
                None,
            )
            .await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(AppError::Store(StoreError::Conflict {
            current: Current::Report(cur),
            ..
        })) => {
            let theirs = TriageInput::from_report(&cur);
            let mut rows = Vec::new();
            let pairs = [
                (
                    "event_type",
                    theirs.event_type.clone(),
                    input.event_type.clone(),
                ),
                ("causes", theirs.causes.join(","), input.causes.join(",")),
                ("severity", theirs.severity.clone(), input.severity.clone()),
                ("tlp", theirs.tlp.clone(), input.tlp.clone()),
                ("status", cur.status.code().to_owned(), input.status.clone()),
            ];
            for (field, a, b) in pairs {
                if a != b {
                    rows.push(json!({"field": field, "theirs": a, "mine": b}));
                }
            }
            let conflict =
                json!({"rows": rows, "updated_at": cur.updated_at, "version": cur.version});
            let mut res = page(
                &st,
                &s,
                rid,
                Some((input, cur.version)),
                json!({}),
                Some(conflict),
            )
            .await?;
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

/// Links this report to another by number, or marks ticked candidates as one incident.
pub async fn link(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let rid = ReportId(id);
    let ticked: Vec<ReportId> = f
        .all("incident")
        .iter()
        .filter_map(|x| x.parse().ok())
        .map(ReportId)
        .collect();
    let result = if !ticked.is_empty() {
        reports::mark_incident(&st.app, &s.p, rid, &ticked)
            .await
            .map(|_| ())
    } else {
        let to = f
            .get("to")
            .trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .map(ReportId)
            .unwrap_or(ReportId(0));
        let kind = LinkKind::parse(f.get("kind")).unwrap_or(LinkKind::Related);
        reports::link(&st.app, &s.p, rid, to, kind).await
    };
    match result {
        Ok(()) => Ok(done(
            &st,
            &s.viewer,
            "flash.linked",
            &format!("/reports/{id}/triage"),
        )),
        Err(AppError::Validation(errs)) => {
            let mut res = page(&st, &s, rid, None, errors_json(&errs, s.viewer.lang), None).await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn unlink(
    State(st): State<WebState>,
    s: SignedIn,
    Path((id, other)): Path<(i64, i64)>,
    Posted(_): Posted,
) -> Result<Response, WebError> {
    reports::unlink(&st.app, &s.p, ReportId(id), ReportId(other)).await?;
    Ok(done(
        &st,
        &s.viewer,
        "flash.unlinked",
        &format!("/reports/{id}/triage"),
    ))
}

/// A report the analyst may link this one to, with whether it is linked already and the
/// systems it names (a shared system is the usual reason to link).
#[derive(Debug, Serialize)]
struct Candidate {
    #[serde(flatten)]
    row: super::ReportRow,
    linked: bool,
    systems: Vec<String>,
}
