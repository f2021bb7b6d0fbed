//! Information reports as services: filing a first report from a form, the API or in bulk
//! (`bulk`), editing, appending follow-up and final stages, listing with access applied,
//! triage, links between reports, sharing under the TLP label (`sharing`), and stage deadlines
//! (`deadlines`).

// Filing on an operator's behalf.
pub mod behalf;
pub mod bulk;
pub mod deadlines;
pub mod forwarding;
// Who else a report is shared with under its TLP label.
pub mod sharing;
pub mod when;

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::org::Organisation;
use kizuki_domain::report::{
    Report, ReportDetails, ReportInput, ReportStatus, StageKind, SystemRef, parse_stage_text,
};
use kizuki_domain::taxonomy::{Code, Severity, Taxonomy, Tlp, Vocabulary};
use kizuki_domain::{FieldError, FieldErrorKind, ValidationErrors};
use kizuki_store::{
    HistoryEntry, LinkKind, NewReport, NewStage, Page, Paged, ReportFilter, ReportLink, StoreError,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One row of the systems part of the form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemRow {
    pub name: String,
    pub vendor: String,
    pub shared: bool,
}

/// Rows the form always offers for systems; enough for the reports seen so far.
pub const SYSTEM_ROWS: usize = 3;

/// The report form exactly as typed, so it can be shown again with errors beside the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportForm {
    pub title: String,
    pub sector: String,
    pub region: String,
    pub affected_service: String,
    pub occurred_date: String,
    pub occurred_time: String,
    pub detected_date: String,
    pub detected_time: String,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: String,
    pub people_affected: String,
    pub duration_minutes: String,
    pub actual_harm: bool,
    pub impact_description: String,
    pub systems: Vec<SystemRow>,
    /// One vendor a line.
    pub vendors: String,
    pub tlp: String,
    pub summary: String,
}

fn number(errs: &mut ValidationErrors, field: &str, s: &str) -> Option<i64> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .map(|c| match c {
            '０'..='９' => kizuki_domain::text::halfwidth(c),
            _ => c,
        })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    match cleaned.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errs.push(FieldError::invalid(
                field,
                format!(
                    "「{}」は数値ではありません / '{}' is not a number",
                    s.trim(),
                    s.trim()
                ),
            ));
            None
        }
    }
}

impl ReportForm {
    /// The form filled from a stored report, for editing.
    pub fn from_details(d: &ReportDetails) -> ReportForm {
        let (occurred_date, occurred_time) = when::to_form(d.occurred_at);
        let (detected_date, detected_time) = when::to_form(d.detected_at);
        let mut systems: Vec<SystemRow> = d
            .systems
            .iter()
            .map(|s| SystemRow {
                name: s.name.clone(),
                vendor: s.vendor.clone().unwrap_or_default(),
                shared: s.shared,
            })
            .collect();
        systems.resize(systems.len().max(SYSTEM_ROWS), SystemRow::default());
        ReportForm {
            title: d.title.clone(),
            sector: d.sector.0.clone(),
            region: d.region.as_ref().map(|r| r.0.clone()).unwrap_or_default(),
            affected_service: d.affected_service.clone(),
            occurred_date,
            occurred_time,
            detected_date,
            detected_time,
            event_type: d.event_type.0.clone(),
            causes: d.causes.iter().map(|c| c.0.clone()).collect(),
            severity: d
                .severity
                .map(|s| s.level().to_string())
                .unwrap_or_default(),
            people_affected: d
                .impact
                .people_affected
                .map(|n| n.to_string())
                .unwrap_or_default(),
            duration_minutes: d
                .impact
                .duration_minutes
                .map(|n| n.to_string())
                .unwrap_or_default(),
            actual_harm: d.impact.actual_harm,
            impact_description: d.impact.description.clone(),
            systems,
            vendors: d.vendors.join("\n"),
            tlp: d.tlp.code().to_owned(),
            summary: d.summary.clone(),
        }
    }

    /// A blank first-report form for an operator, with its sector and region filled in.
    pub fn blank(sector: Option<&Code>, region: Option<&Code>) -> ReportForm {
        ReportForm {
            sector: sector.map(|c| c.0.clone()).unwrap_or_default(),
            region: region.map(|c| c.0.clone()).unwrap_or_default(),
            tlp: Tlp::Amber.code().to_owned(),
            systems: vec![SystemRow::default(); SYSTEM_ROWS],
            ..ReportForm::default()
        }
    }

    /// Reads the typed text (dates in 和暦 or 西暦, numbers with separators) and checks the
    /// whole report, returning every error at once.
    pub fn parse(
        &self,
        tx: &Taxonomy,
        now: DateTime<Utc>,
    ) -> Result<ReportDetails, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let mut at = |field: &str, d: &str, t: &str| match when::parse_jst(field, d, t) {
            Ok(v) => v,
            Err(e) => {
                errs.push(e);
                None
            }
        };
        let occurred_at = at("occurred_at", &self.occurred_date, &self.occurred_time);
        let detected_at = at("detected_at", &self.detected_date, &self.detected_time);
        for (field, v) in [("occurred_at", occurred_at), ("detected_at", detected_at)] {
            if v.is_some_and(|v| v > now) {
                errs.push(FieldError::invalid(
                    field,
                    "未来の日時は入力できません / cannot be in the future",
                ));
            }
        }
        let severity = number(&mut errs, "severity", &self.severity);
        let people_affected = number(&mut errs, "people_affected", &self.people_affected);
        let duration_minutes = number(&mut errs, "duration_minutes", &self.duration_minutes);
        let input = ReportInput {
            title: self.title.clone(),
            sector: self.sector.clone(),
            region: self.region.clone(),
            affected_service: self.affected_service.clone(),
            occurred_at,
            detected_at,
            event_type: self.event_type.clone(),
            causes: self.causes.clone(),
            severity,
            people_affected,
            duration_minutes,
            actual_harm: self.actual_harm,
            impact_description: self.impact_description.clone(),
            systems: self
                .systems
                .iter()
                .map(|s| SystemRef {
                    name: s.name.clone(),
                    vendor: Some(s.vendor.clone()),
                    shared: s.shared,
                })
                .collect(),
            vendors: self
                .vendors
                .lines()
                .flat_map(|l| l.split(['、', ',']))
                .map(str::to_owned)
                .collect(),
            tlp: self.tlp.clone(),
            summary: self.summary.clone(),
        };
        match input.parse(tx) {
            Ok(d) if errs.is_empty() => Ok(d),
            Ok(_) => Err(errs),
            Err(more) => {
                errs.0.extend(more.0);
                Err(errs)
            }
        }
    }
}

/// Decides whether the principal may file `details` and makes the report to store: filed for
/// the principal's organisation, its first stage written now by the principal, with the
/// summary as its text. Every way of filing (a form, the API, a bulk or CSV import) goes
/// through this one decision.
pub async fn prepare(app: &App, p: &Principal, details: ReportDetails) -> AppResult<NewReport> {
    let new = kizuki_domain::access::ReportRef {
        org_id: p.org_id,
        sector: &details.sector,
        tlp: details.tlp,
        shared_with: &[],
        recipients: &[],
        published: false,
    };
    if !auth::decide(
        app,
        p,
        kizuki_domain::access::Action::Create,
        &kizuki_domain::access::Resource::Report(new),
    )
    .await?
    .is_allowed()
    {
        return Err(AppError::Forbidden(
            "reports are filed by an operator's staff".into(),
        ));
    }
    let first = NewStage {
        kind: StageKind::First,
        at: app.clock.now(),
        text: details.summary.clone(),
        author: Some(p.user_id),
    };
    Ok(NewReport {
        org_id: p.org_id,
        details,
        first,
    })
}

/// Stores reports that [`prepare`] accepted, all in one transaction: either every one is
/// filed or none is.
pub async fn file_prepared(app: &App, batch: Vec<NewReport>) -> AppResult<Vec<Report>> {
    Ok(app.store.create_reports(batch).await?)
}

/// Files a first report for the principal's organisation; its text is the summary.
pub async fn file(app: &App, p: &Principal, details: ReportDetails) -> AppResult<Report> {
    let new = prepare(app, p, details).await?;
    Ok(app.store.create_report(new).await?)
}

/// The principal's own organisation, whose sectors and region prefill a new report's form.
pub async fn filing_org(app: &App, p: &Principal) -> AppResult<Organisation> {
    p.require_operator()?;
    Ok(app.store.get_org(p.org_id).await?)
}

/// Parses the form and files it.
pub async fn file_form(app: &App, p: &Principal, form: &ReportForm) -> AppResult<Report> {
    p.require_operator()?;
    let details = form.parse(&app.taxonomy, app.clock.now())?;
    file(app, p, details).await
}

/// Parses API input and files it.
pub async fn file_input(app: &App, p: &Principal, input: &ReportInput) -> AppResult<Report> {
    p.require_operator()?;
    let details = input.parse(&app.taxonomy)?;
    file(app, p, details).await
}

/// The report, if the principal may read it; otherwise "not found".
pub async fn get(app: &App, p: &Principal, id: ReportId) -> AppResult<Report> {
    let r = app.store.get_report(id).await?;
    if auth::can_read(app, p, &r).await? {
        Ok(r)
    } else {
        Err(StoreError::not_found("report", id).into())
    }
}

/// Refuses triage (classify, link, set status) unless `access::decide` allows it on `r`.
pub async fn require_triage(app: &App, p: &Principal, r: &Report) -> AppResult<()> {
    if auth::decide_report(app, p, r, kizuki_domain::access::Action::Triage)
        .await?
        .is_allowed()
    {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this report cannot be triaged by you".into(),
        ))
    }
}

/// Where a report is read of record: the detail page or the API's report resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadVia {
    Page,
    Api,
}

/// The report, read of record by the principal: as [`get`], and the read is audited when the
/// report's label calls for it (lists show titles only and are not reads of record).
pub async fn read(app: &App, p: &Principal, id: ReportId, via: ReadVia) -> AppResult<Report> {
    let r = get(app, p, id).await?;
    let via = match via {
        ReadVia::Page => "page",
        ReadVia::Api => "api",
    };
    crate::security::audit_log::record_read(app, p, &r, via).await?;
    Ok(r)
}

/// The report, if the principal may edit it.
pub async fn get_for_edit(app: &App, p: &Principal, id: ReportId) -> AppResult<Report> {
    let r = get(app, p, id).await?;
    if auth::can_edit(app, p, &r).await? {
        Ok(r)
    } else {
        Err(AppError::Forbidden(
            "this report cannot be edited by you".into(),
        ))
    }
}

/// The report, if the principal may edit it, with the name of the organisation that filed it
/// (the edit form shows whose report it is).
pub async fn get_for_edit_named(
    app: &App,
    p: &Principal,
    id: ReportId,
) -> AppResult<(Report, String)> {
    let r = get_for_edit(app, p, id).await?;
    let org = app.store.get_org(r.org_id).await?;
    Ok((r, org.org.name))
}

/// Replaces the report's details, refusing a stale `version` with the current record.
pub async fn update(
    app: &App,
    p: &Principal,
    id: ReportId,
    version: i64,
    details: ReportDetails,
) -> AppResult<Report> {
    let before = get_for_edit(app, p, id).await?;
    let after = app
        .store
        .update_report(id, version, details, Some(p.user_id), app.clock.now())
        .await?;
    audit_change(app, p, &before, &after).await?;
    Ok(after)
}

/// Records a change to a report with its details before and after.
async fn audit_change(app: &App, p: &Principal, before: &Report, after: &Report) -> AppResult<()> {
    let state = |r: &Report| serde_json::json!({"version": r.version, "status": r.status.code(), "details": r.details});
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("report:{}", after.id),
        state(before),
        state(after),
    )
    .await?;
    Ok(())
}

/// Appends a follow-up or the final report. Stages only append, so a stale page cannot
/// overwrite anything; nothing comes after a final report.
pub async fn add_stage(
    app: &App,
    p: &Principal,
    id: ReportId,
    kind: StageKind,
    text: &str,
) -> AppResult<Report> {
    let r = get_for_edit(app, p, id).await?;
    let mut errs = ValidationErrors::default();
    if kind == StageKind::First {
        errs.push(FieldError::invalid(
            "kind",
            "第一報は提出済みです。続報か最終報を選んでください / the first report was already filed; choose a follow-up or final report",
        ));
    }
    if r.has_final() {
        errs.push(FieldError::invalid(
            "kind",
            "最終報の提出後は追加できません / nothing can follow the final report",
        ));
    }
    let text = match parse_stage_text(text) {
        Ok(t) => Some(t),
        Err(e) => {
            errs.0.extend(e.0);
            None
        }
    };
    let text = match text {
        Some(t) if errs.is_empty() => t,
        _ => return Err(errs.into()),
    };
    let after = app
        .store
        .add_stage(
            id,
            NewStage {
                kind,
                at: app.clock.now(),
                text,
                author: Some(p.user_id),
            },
        )
        .await?;
    audit_change(app, p, &r, &after).await?;
    Ok(after)
}

/// Narrows `filter` to what the principal may see.
pub async fn scoped(app: &App, p: &Principal, mut filter: ReportFilter) -> AppResult<ReportFilter> {
    // The TLP rule from `access`, applied inside the query so counts and pages agree.
    filter.visibility = Some(auth::visibility(app, p).await?);
    Ok(filter)
}

pub async fn list(
    app: &App,
    p: &Principal,
    filter: ReportFilter,
    page: Page,
) -> AppResult<Paged<Report>> {
    let filter = scoped(app, p, filter).await?;
    Ok(app.store.list_reports(&filter, page).await?)
}

/// Names offered while typing a report's systems and vendors, most used first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NameSuggestions {
    pub systems: Vec<String>,
    pub vendors: Vec<String>,
}

/// The systems and vendors named in the newest reports the principal may read, so the same
/// shared system is written the same way by every operator (which is what links their
/// reports) and nobody is offered a name from a report they could not open.
pub async fn name_suggestions(app: &App, p: &Principal) -> AppResult<NameSuggestions> {
    const MOST: usize = 200;
    let filter = scoped(app, p, ReportFilter::default()).await?;
    let newest = app
        .store
        .list_reports(&filter, Page::new(1, Page::MAX_SIZE))
        .await?;
    let mut systems: HashMap<&str, usize> = HashMap::new();
    let mut vendors: HashMap<&str, usize> = HashMap::new();
    for r in &newest.items {
        for s in &r.details.systems {
            *systems.entry(s.name.trim()).or_default() += 1;
            if let Some(v) = &s.vendor {
                *vendors.entry(v.trim()).or_default() += 1;
            }
        }
        for v in &r.details.vendors {
            *vendors.entry(v.trim()).or_default() += 1;
        }
    }
    let ranked = |counts: HashMap<&str, usize>| {
        let mut names: Vec<(&str, usize)> =
            counts.into_iter().filter(|(n, _)| !n.is_empty()).collect();
        names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        names
            .into_iter()
            .take(MOST)
            .map(|(n, _)| n.to_owned())
            .collect()
    };
    Ok(NameSuggestions {
        systems: ranked(systems),
        vendors: ranked(vendors),
    })
}

/// Every matching report, for export; capped so one request cannot exhaust the server.
pub async fn list_all(app: &App, p: &Principal, filter: ReportFilter) -> AppResult<Vec<Report>> {
    const CAP: u32 = 20;
    let filter = scoped(app, p, filter).await?;
    let mut out = Vec::new();
    for n in 1..=CAP {
        let page = app
            .store
            .list_reports(&filter, Page::new(n, Page::MAX_SIZE))
            .await?;
        let done = u64::from(n) >= page.pages();
        out.extend(page.items);
        if done {
            break;
        }
    }
    Ok(out)
}

/// The reports the principal may read that reached the centre between `start` and `end`
/// (Japan dates, both included), newest first: a survey's candidates for a new case.
pub async fn in_period(
    app: &App,
    p: &Principal,
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
) -> AppResult<Vec<Report>> {
    let mut out: Vec<Report> = list_all(app, p, ReportFilter::default())
        .await?
        .into_iter()
        .filter(|r| {
            let d = kizuki_domain::clock::jst_date(r.reported_at);
            start <= d && d <= end
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.reported_at));
    Ok(out)
}

/// The organisations with at least one report the principal may read, for the list's
/// organisation filter (offering others would only ever give empty pages).
async fn visible_report_orgs(app: &App, p: &Principal) -> AppResult<Vec<OrgId>> {
    let mut orgs: Vec<OrgId> = list_all(app, p, ReportFilter::default())
        .await?
        .into_iter()
        .map(|r| r.org_id)
        .collect();
    orgs.sort();
    orgs.dedup();
    Ok(orgs)
}

/// The operators offered by the list's organisation filter: those with at least one report
/// the principal may read, by id with their names.
pub async fn org_filter_choices(app: &App, p: &Principal) -> AppResult<Vec<(OrgId, String)>> {
    let visible = visible_report_orgs(app, p).await?;
    Ok(app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.org.kind == kizuki_domain::org::OrgKind::Operator)
        .filter(|o| visible.contains(&o.id))
        .map(|o| (o.id, o.org.name))
        .collect())
}

/// What an analyst decides at triage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriageInput {
    pub event_type: String,
    pub causes: Vec<String>,
    /// Empty for "not yet assessed".
    pub severity: String,
    pub tlp: String,
    pub status: String,
}

impl TriageInput {
    pub fn from_report(r: &Report) -> TriageInput {
        TriageInput {
            event_type: r.details.event_type.0.clone(),
            causes: r.details.causes.iter().map(|c| c.0.clone()).collect(),
            severity: r
                .details
                .severity
                .map(|s| s.level().to_string())
                .unwrap_or_default(),
            tlp: r.details.tlp.code().to_owned(),
            status: if r.status == ReportStatus::New {
                ReportStatus::Triaged.code().to_owned()
            } else {
                r.status.code().to_owned()
            },
        }
    }

    fn apply(
        &self,
        tx: &Taxonomy,
        current: &ReportDetails,
    ) -> Result<(ReportDetails, ReportStatus), ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let event_type = tx.check(
            &mut errs,
            "event_type",
            Vocabulary::EventType,
            &self.event_type,
        );
        let mut causes: Vec<Code> = Vec::new();
        for (i, c) in self.causes.iter().enumerate() {
            if c.trim().is_empty() {
                continue;
            }
            let code = tx.check(&mut errs, &format!("causes[{i}]"), Vocabulary::Cause, c);
            if !causes.contains(&code) {
                causes.push(code);
            }
        }
        let severity = if self.severity.trim().is_empty() {
            None
        } else {
            match self.severity.trim().parse::<u8>().ok().map(Severity::new) {
                Some(Ok(s)) => Some(s),
                _ => {
                    errs.push(FieldError::new(
                        "severity",
                        FieldErrorKind::OutOfRange { min: 0, max: 4 },
                    ));
                    None
                }
            }
        };
        let tlp = Tlp::parse(&self.tlp).unwrap_or_else(|| {
            errs.push(FieldError::new(
                "tlp",
                FieldErrorKind::UnknownCode {
                    code: self.tlp.clone(),
                },
            ));
            current.tlp
        });
        let status = ReportStatus::parse(&self.status).unwrap_or_else(|| {
            errs.push(FieldError::new(
                "status",
                FieldErrorKind::UnknownCode {
                    code: self.status.clone(),
                },
            ));
            ReportStatus::Triaged
        });
        errs.into_result((
            ReportDetails {
                event_type,
                causes,
                severity,
                tlp,
                ..current.clone()
            },
            status,
        ))
    }
}

/// Classifies a report: event type, causes, severity, TLP and status, against `version`.
pub async fn triage(
    app: &App,
    p: &Principal,
    id: ReportId,
    version: i64,
    input: &TriageInput,
) -> AppResult<Report> {
    let r = get(app, p, id).await?;
    require_triage(app, p, &r).await?;
    if r.version != version {
        return Err(StoreError::Conflict {
            entity: "report",
            current: kizuki_store::Current::Report(Box::new(r)),
        }
        .into());
    }
    let (details, status) = input.apply(&app.taxonomy, &r.details)?;
    let now = app.clock.now();
    let mut out = app
        .store
        .update_report(id, version, details, Some(p.user_id), now)
        .await?;
    if out.status != status {
        out = app
            .store
            .set_report_status(id, out.version, status, Some(p.user_id), now)
            .await?;
    }
    audit_change(app, p, &r, &out).await?;
    Ok(out)
}

/// Links two reports (both must be readable by the analyst).
pub async fn link(
    app: &App,
    p: &Principal,
    from: ReportId,
    to: ReportId,
    kind: LinkKind,
) -> AppResult<()> {
    if from == to {
        return Err(FieldError::invalid(
            "to",
            "同じ報告どうしは関連付けできません / a report cannot be linked to itself",
        )
        .into());
    }
    let r = get(app, p, from).await?;
    require_triage(app, p, &r).await?;
    let target = match get(app, p, to).await {
        Ok(t) => t,
        Err(_) => {
            return Err(FieldError::invalid(
                "to",
                format!("報告 #{to} は見つかりません / report #{to} was not found"),
            )
            .into());
        }
    };
    require_triage(app, p, &target).await?;
    Ok(app
        .store
        .link_reports(ReportLink {
            from,
            to,
            kind,
            at: app.clock.now(),
            by: Some(p.user_id),
        })
        .await?)
}

pub async fn unlink(app: &App, p: &Principal, a: ReportId, b: ReportId) -> AppResult<()> {
    let r = get(app, p, a).await?;
    require_triage(app, p, &r).await?;
    Ok(app.store.unlink_reports(a, b).await?)
}

/// Marks several operators' reports of one failure as one incident: each is linked to
/// `primary` as [`LinkKind::SameIncident`].
pub async fn mark_incident(
    app: &App,
    p: &Principal,
    primary: ReportId,
    others: &[ReportId],
) -> AppResult<usize> {
    p.require_analyst()?;
    let mut n = 0;
    for &o in others {
        if o != primary {
            link(app, p, o, primary, LinkKind::SameIncident).await?;
            n += 1;
        }
    }
    if n == 0 {
        return Err(FieldError::invalid(
            "reports",
            "ほかの報告を1件以上選んでください / choose at least one other report",
        )
        .into());
    }
    Ok(n)
}

/// A linked report as shown on the detail page: `None` when the viewer may not read it.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub link: ReportLink,
    pub other_id: ReportId,
    pub other: Option<Report>,
}

/// Everything the detail page shows.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub report: Report,
    pub org_name: String,
    pub links: Vec<LinkView>,
    /// Reports of the same incident, reached through same-incident links in any number of hops.
    pub incident: Vec<Report>,
    pub history: Vec<HistoryEntry>,
    pub can_edit: bool,
}

pub async fn view(app: &App, p: &Principal, id: ReportId) -> AppResult<ReportView> {
    let report = read(app, p, id, ReadVia::Page).await?;
    let org_name = app.store.get_org(report.org_id).await?.org.name;
    let mut links = Vec::new();
    for l in app.store.report_links(id).await? {
        let other_id = l.other(id);
        let other = get(app, p, other_id).await.ok();
        links.push(LinkView {
            link: l,
            other_id,
            other,
        });
    }
    let incident = incident_of(app, p, id).await?;
    let history = app.store.report_history(id).await?;
    let can_edit = auth::can_edit(app, p, &report).await?;
    Ok(ReportView {
        report,
        org_name,
        links,
        incident,
        history,
        can_edit,
    })
}

/// The readable reports joined to `id` by same-incident links, `id` excluded.
async fn incident_of(app: &App, p: &Principal, id: ReportId) -> AppResult<Vec<Report>> {
    const MAX: usize = 200;
    let mut seen = vec![id];
    let mut queue = vec![id];
    while let Some(cur) = queue.pop() {
        for l in app.store.report_links(cur).await? {
            let o = l.other(cur);
            if l.kind == LinkKind::SameIncident && !seen.contains(&o) && seen.len() < MAX {
                seen.push(o);
                queue.push(o);
            }
        }
    }
    let mut out = Vec::new();
    for o in seen.into_iter().skip(1) {
        if let Ok(r) = get(app, p, o).await {
            out.push(r);
        }
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// Names of organisations and users for display, looked up once per page.
pub async fn org_names(app: &App) -> AppResult<Vec<(OrgId, String)>> {
    Ok(app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id, o.org.name))
        .collect())
}

pub async fn user_names(app: &App) -> AppResult<Vec<(UserId, String)>> {
    Ok(app
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.user.display_name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()
    }

    fn taxonomy() -> Taxonomy {
        kizuki_dataset::default_taxonomy().unwrap()
    }

    #[test]
    fn form_reads_wareki_and_keeps_every_error() {
        let tx = taxonomy();
        let mut f = ReportForm::blank(None, None);
        f.title = "改元後の日付誤表示".into();
        f.sector = "railway".into();
        f.event_type = "unavailability".into();
        f.summary = "概要".into();
        f.occurred_date = "令和元年5月1日".into();
        f.occurred_time = "9:00".into();
        f.people_affected = "１,２００".into();
        let d = f.parse(&tx, now()).unwrap();
        assert_eq!(
            d.occurred_at.unwrap().to_rfc3339(),
            "2019-05-01T00:00:00+00:00"
        );
        assert_eq!(d.impact.people_affected, Some(1200));
        assert_eq!(d.tlp, Tlp::Amber);

        f.title = String::new();
        f.detected_date = "令和元年4月30日".into();
        f.duration_minutes = "たくさん".into();
        let errs = f.parse(&tx, now()).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"title"), "{fields:?}");
        assert!(fields.contains(&"detected_at"), "{fields:?}");
        assert!(fields.contains(&"duration_minutes"), "{fields:?}");
    }

    #[test]
    fn future_dates_are_refused() {
        let mut f = ReportForm::blank(None, None);
        f.occurred_date = "2030-01-01".into();
        let errs = f.parse(&taxonomy(), now()).unwrap_err();
        assert!(errs.for_field("occurred_at").is_some());
    }
}
