//! Forwarding: a ministry passes a CLEAR or GREEN report on to the operators of the sectors it
//! oversees (the centre's staff to any operator), with a note. TLP 2.0 allows onward sharing
//! only for those two labels, so anything else is refused; the report becomes no more visible
//! than its label already makes it — forwarding puts it in front of the recipients, in their
//! inbox, and records who sent what to whom.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use kizuki_domain::access::Action;
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::org::{OrgKind, Organisation};
use kizuki_domain::report::Report;
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{Forward, NewForward};
use serde::Serialize;
use std::collections::BTreeMap;

/// An organisation a report may be forwarded to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub id: OrgId,
    pub name: String,
    pub sector: Option<String>,
    /// Whether the report was already forwarded to it.
    pub already: bool,
}

/// One forward as a page or the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardRow {
    pub id: i64,
    pub report_id: ReportId,
    pub title: String,
    pub from: String,
    pub to: String,
    pub by: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// The forwarding part of a report's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardingView {
    pub can_forward: bool,
    /// Empty unless the viewer may forward.
    pub targets: Vec<Target>,
    /// The forwards the viewer may see: all of them at the centre, those it sent for a
    /// ministry, those to its own organisation for an operator.
    pub forwards: Vec<ForwardRow>,
}

async fn may_forward(app: &App, p: &Principal, r: &Report) -> AppResult<bool> {
    Ok(auth::decide_report(app, p, r, Action::Forward)
        .await?
        .is_allowed())
}

/// The organisations `p` may forward `r` to: enabled operators other than the report's own,
/// and for a ministry only those of the sectors it oversees.
async fn targets(app: &App, p: &Principal, r: &Report) -> AppResult<Vec<Organisation>> {
    let own = app.store.get_org(p.org_id).await?;
    let oversees = (own.org.kind == OrgKind::Ministry).then_some(own.org.sectors);
    Ok(app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.active && o.org.kind == OrgKind::Operator && o.id != r.org_id)
        .filter(|o| {
            oversees
                .as_ref()
                .is_none_or(|s| o.org.sectors.iter().any(|x| s.contains(x)))
        })
        .collect())
}

fn visible_to(p: &Principal, f: &Forward) -> bool {
    p.is_centre() || f.from_org == p.org_id || f.to_org == p.org_id
}

async fn rows(app: &App, forwards: Vec<(Forward, String)>) -> AppResult<Vec<ForwardRow>> {
    let orgs: BTreeMap<OrgId, String> = crate::reports::org_names(app).await?.into_iter().collect();
    let users: BTreeMap<_, String> = crate::reports::user_names(app).await?.into_iter().collect();
    Ok(forwards
        .into_iter()
        .map(|(f, title)| ForwardRow {
            id: f.id,
            report_id: f.report_id,
            title,
            from: orgs.get(&f.from_org).cloned().unwrap_or_default(),
            to: orgs.get(&f.to_org).cloned().unwrap_or_default(),
            by: users.get(&f.by).cloned().unwrap_or_default(),
            note: f.note,
            at: f.at,
        })
        .collect())
}

/// The forwarding part of the page of a report `p` has already been allowed to read.
pub async fn view(app: &App, p: &Principal, r: &Report) -> AppResult<ForwardingView> {
    let can_forward = may_forward(app, p, r).await?;
    let forwards: Vec<Forward> = app
        .store
        .report_forwards(r.id)
        .await?
        .into_iter()
        .filter(|f| visible_to(p, f))
        .collect();
    let targets = if can_forward {
        let taxonomy_sector = |o: &Organisation| o.org.sectors.first().map(|c| c.0.clone());
        targets(app, p, r)
            .await?
            .iter()
            .map(|o| Target {
                id: o.id,
                name: o.org.name.clone(),
                sector: taxonomy_sector(o),
                already: forwards.iter().any(|f| f.to_org == o.id),
            })
            .collect()
    } else {
        Vec::new()
    };
    let titled = forwards
        .into_iter()
        .map(|f| (f, r.details.title.clone()))
        .collect();
    Ok(ForwardingView {
        can_forward,
        targets,
        forwards: rows(app, titled).await?,
    })
}

/// The report, if `p` may forward it: "not found" when `p` cannot read it, forbidden when it
/// can but may not forward it. Callers with a body to parse decide with this first.
pub async fn check(app: &App, p: &Principal, id: ReportId) -> AppResult<Report> {
    let r = crate::reports::get(app, p, id).await?;
    if may_forward(app, p, &r).await? {
        Ok(r)
    } else {
        Err(AppError::Forbidden(
            "CLEAR と GREEN の報告だけを、所管省庁とセンターが転送できます / only CLEAR and \
             GREEN reports are forwarded, by a ministry or the centre"
                .into(),
        ))
    }
}

/// Forwards a report to organisations with a note. Refused (403) unless `p` may forward it —
/// a ministry or the centre's staff, a CLEAR or GREEN label; each organisation must be one of
/// the targets (`to[i]`), at least one is needed (`to`), and the note is at most 1,000
/// characters (`note`). Recorded in the store and the audit log.
pub async fn forward(
    app: &App,
    p: &Principal,
    id: ReportId,
    to: &[OrgId],
    note: &str,
) -> AppResult<Vec<Forward>> {
    let r = check(app, p, id).await?;
    let allowed: Vec<OrgId> = targets(app, p, &r).await?.iter().map(|o| o.id).collect();
    let mut errs = ValidationErrors::default();
    let mut chosen = Vec::new();
    for (i, o) in to.iter().enumerate() {
        if !allowed.contains(o) {
            errs.push(FieldError::invalid(
                format!("to[{i}]"),
                "転送できる相手ではありません / not an organisation this report can be forwarded to",
            ));
        } else if !chosen.contains(o) {
            chosen.push(*o);
        }
    }
    if to.is_empty() {
        errs.push(FieldError::required("to"));
    }
    let note = kizuki_domain::error::text(&mut errs, "note", note, false, 1000);
    if !errs.is_empty() {
        return Err(errs.into());
    }
    let own = app.store.get_org(p.org_id).await?;
    let saved = app
        .store
        .forward_report(NewForward {
            report_id: id,
            from_org: own.id,
            to_orgs: chosen.clone(),
            by: p.user_id,
            note: note.clone(),
            at: app.clock.now(),
        })
        .await?;
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::FORWARD,
        format!("report:{id}"),
        &serde_json::json!({
            "from": own.id.0,
            "to": chosen.iter().map(|o| o.0).collect::<Vec<_>>(),
            "tlp": r.details.tlp.code(),
            "note": note,
        }),
    )
    .await?;
    Ok(saved)
}

/// What was forwarded to `p`'s organisation lately, newest first, leaving out reports it can
/// no longer read (a label raised since).
pub async fn inbox(app: &App, p: &Principal) -> AppResult<Vec<ForwardRow>> {
    let mut out = Vec::new();
    for f in app.store.forwards_to(p.org_id, 200).await? {
        let Ok(r) = app.store.get_report(f.report_id).await else {
            continue;
        };
        if auth::can_read(app, p, &r).await? {
            out.push((f, r.details.title));
        }
    }
    rows(app, out).await
}
