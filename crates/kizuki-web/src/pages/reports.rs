//! Report pages: the list with filters and CSV export, the first-report form, the detail
//! page with its timeline and stage form, and editing with conflict handling.

use super::{ReportRow, done, errors_json, org_name, render, report_row};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use crate::tables::csv_cell;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kizuki_app::AppError;
use kizuki_app::reports::{self, ReportForm, SYSTEM_ROWS, SystemRow, behalf};
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::report::{Report, ReportStatus, StageKind};
use kizuki_domain::taxonomy::{Lang, Taxonomy, Tlp, Vocabulary};
use kizuki_domain::wareki;
use kizuki_store::{Current, Page, ReportFilter, ReportSort, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const PAGE_SIZE: u32 = 25;

/// The list's filters as they appear in the query string; everything optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ListQuery {
    pub fy: String,
    /// `occurred` to take `fy` as the 年度 of occurrence; anything else, of reporting.
    pub fy_by: String,
    pub sector: String,
    pub event_type: String,
    pub cause: String,
    pub severity: String,
    pub status: String,
    pub tlp: String,
    pub org: String,
    pub sort: String,
    pub page: String,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

impl ListQuery {
    /// The store filter, and a message when the 年度 could not be read.
    pub fn filter(&self) -> (ReportFilter, Option<String>) {
        let mut problem = None;
        let fiscal_year = match opt(&self.fy) {
            None => None,
            Some(s) => match FiscalYear::parse(&s) {
                Ok(fy) => Some(fy.year()),
                Err(e) => {
                    problem = Some(e.message_ja());
                    None
                }
            },
        };
        let (fiscal_year, occurred_fiscal_year) = if self.fy_by.trim() == "occurred" {
            (None, fiscal_year)
        } else {
            (fiscal_year, None)
        };
        (
            ReportFilter {
                fiscal_year,
                occurred_fiscal_year,
                sector: opt(&self.sector),
                event_type: opt(&self.event_type),
                cause: opt(&self.cause),
                severity: self.severity.trim().parse().ok(),
                status: ReportStatus::parse(&self.status),
                tlp: Tlp::parse(&self.tlp),
                org_id: self.org.trim().parse().ok().map(OrgId),
                visible_orgs: None,
                visibility: None,
                sort: ReportSort::parse(&self.sort).unwrap_or_default(),
            },
            problem,
        )
    }

    pub fn page(&self) -> u32 {
        self.page.trim().parse().unwrap_or(1).max(1)
    }

    /// The query string for another page of the same list.
    fn with_page(&self, n: u32) -> String {
        let mut q = self.clone();
        q.page = n.to_string();
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("fy", &q.fy),
            ("fy_by", &q.fy_by),
            ("sector", &q.sector),
            ("event_type", &q.event_type),
            ("cause", &q.cause),
            ("severity", &q.severity),
            ("status", &q.status),
            ("tlp", &q.tlp),
            ("org", &q.org),
            ("sort", &q.sort),
            ("page", &q.page),
        ] {
            if !v.is_empty() {
                ser.append_pair(k, v);
            }
        }
        ser.finish()
    }
}

pub async fn list(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let (filter, fy_problem) = q.filter();
    let page = reports::list(&st.app, &s.p, filter, Page::new(q.page(), PAGE_SIZE)).await?;
    let orgs = reports::org_names(&st.app).await?;
    let orgs_offered = reports::org_filter_choices(&st.app, &s.p)
        .await?
        .into_iter()
        .map(|(id, name)| OrgChoice { id: id.0, name })
        .collect();
    let pages = page.pages();
    let n = page.page.number;
    let view = ListPage {
        fy_problem,
        rows: page
            .items
            .iter()
            .map(|r| report_row(&st, r, &orgs))
            .collect(),
        total: page.total,
        page: n,
        pages,
        prev_q: (n > 1).then(|| q.with_page(n - 1)),
        next_q: (u64::from(n) < pages).then(|| q.with_page(n + 1)),
        csv_q: q.with_page(1),
        orgs: orgs_offered,
        sorts: ReportSort::ALL.iter().map(|s| s.code()).collect(),
        statuses: ReportStatus::ALL.iter().map(|s| s.code()).collect(),
        q,
    };
    render(&st, &s.viewer, "reports/list.html", &view)
}

/// An organisation the list's filter offers.
#[derive(Debug, Serialize)]
struct OrgChoice {
    id: i64,
    name: String,
}

/// The report list: one page of rows with the filters as typed.
#[derive(Debug, Serialize)]
struct ListPage {
    /// The filters as typed, so the form shows them again.
    q: ListQuery,
    /// Why the 年度 filter was not understood, when it was not.
    fy_problem: Option<String>,
    rows: Vec<ReportRow>,
    /// Reports matching, on all pages.
    total: u64,
    page: u32,
    pages: u64,
    /// Query strings of the neighbouring pages and of the CSV download.
    prev_q: Option<String>,
    next_q: Option<String>,
    csv_q: String,
    orgs: Vec<OrgChoice>,
    sorts: Vec<&'static str>,
    statuses: Vec<&'static str>,
}

fn csv_rows(tx: &Taxonomy, lang: Lang, items: &[Report], orgs: &[(OrgId, String)]) -> String {
    let cat = i18n::catalogue();
    let head = [
        "csv.id",
        "csv.reported_at",
        "csv.reported_wareki",
        "csv.org",
        "csv.sector",
        "csv.event_type",
        "csv.causes",
        "csv.severity",
        "csv.tlp",
        "csv.status",
        "csv.stages",
        "csv.title",
    ];
    let mut out = String::new();
    out.push_str(
        &head
            .iter()
            .map(|k| csv_cell(cat.get(lang, k)))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in items {
        let local = r.reported_at.with_timezone(&kizuki_domain::clock::jst());
        let causes: Vec<&str> = r
            .details
            .causes
            .iter()
            .map(|c| tx.label(Vocabulary::Cause, c.as_str(), lang))
            .collect();
        let status_key = format!("status.{}", r.status.code());
        let cells = [
            r.id.to_string(),
            local.format("%Y-%m-%d %H:%M").to_string(),
            wareki::format_wareki(local.date_naive()),
            org_name(orgs, r.org_id),
            tx.label(Vocabulary::Sector, r.details.sector.as_str(), lang)
                .to_owned(),
            tx.label(Vocabulary::EventType, r.details.event_type.as_str(), lang)
                .to_owned(),
            causes.join("・"),
            r.details
                .severity
                .map(|s| s.level().to_string())
                .unwrap_or_default(),
            r.details.tlp.label().to_owned(),
            cat.get(lang, &status_key).to_owned(),
            r.stages.len().to_string(),
            r.details.title.clone(),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// The filtered list as CSV, UTF-8 with a byte-order mark so Excel reads Japanese correctly.
pub async fn csv(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let (filter, _) = q.filter();
    let items = reports::list_all(&st.app, &s.p, filter).await?;
    // Exports are recorded with what they contained, restricted labels or not.
    let ids: Vec<i64> = items.iter().map(|r| r.id.0).collect();
    kizuki_app::security::audit_log::note(
        &st.app,
        kizuki_app::security::audit::actor_user(s.p.user_id),
        kizuki_app::security::audit::actions::EXPORT,
        "reports.csv",
        &json!({"reports": ids}),
    )
    .await?;
    let orgs = reports::org_names(&st.app).await?;
    let body = format!(
        "\u{feff}{}",
        csv_rows(&st.app.taxonomy, s.viewer.lang, &items, &orgs)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"kizuki-annual-reports.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// Reads the report form's fields.
pub fn read_form(f: &FormData) -> ReportForm {
    ReportForm {
        title: f.get("title").to_owned(),
        sector: f.get("sector").to_owned(),
        region: f.get("region").to_owned(),
        affected_service: f.get("affected_service").to_owned(),
        occurred_date: f.get("occurred_date").to_owned(),
        occurred_time: f.get("occurred_time").to_owned(),
        detected_date: f.get("detected_date").to_owned(),
        detected_time: f.get("detected_time").to_owned(),
        event_type: f.get("event_type").to_owned(),
        causes: f.all("causes"),
        severity: f.get("severity").to_owned(),
        people_affected: f.get("people_affected").to_owned(),
        duration_minutes: f.get("duration_minutes").to_owned(),
        actual_harm: f.flag("actual_harm"),
        impact_description: f.get("impact_description").to_owned(),
        systems: (0..SYSTEM_ROWS)
            .map(|i| SystemRow {
                name: f.get(&format!("systems[{i}].name")).to_owned(),
                vendor: f.get(&format!("systems[{i}].vendor")).to_owned(),
                shared: f.flag(&format!("systems[{i}].shared")),
            })
            .collect(),
        vendors: vendor_lines(f),
        tlp: f.get("tlp").to_owned(),
        summary: f.get("summary").to_owned(),
    }
}

/// The vendors as typed, one per box (`vendors[i]`), as the one-per-line text the form model
/// keeps; a `vendors` text from an older page is read too.
fn vendor_lines(f: &FormData) -> String {
    let mut lines: Vec<String> = (0..)
        .map(|i| format!("vendors[{i}]"))
        .take_while(|k| f.has(k))
        .map(|k| f.get(&k).trim().to_owned())
        .collect();
    lines.extend(f.get("vendors").lines().map(|l| l.trim().to_owned()));
    lines.retain(|l| !l.is_empty());
    lines.join("\n")
}

/// A box for each vendor and at least two empty ones, so one more can always be typed.
fn vendor_rows(vendors: &str) -> Vec<&str> {
    let mut rows: Vec<&str> = vendors
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let want = (rows.len() + 1).max(2);
    rows.resize(want, "");
    rows
}

/// The report form (new, on behalf, edit; blank or refused), with the names to offer while
/// typing systems and vendors.
async fn form_page(st: &WebState, s: &SignedIn, mut ctx: Value) -> Result<Response, WebError> {
    let typed = ctx["form"]["vendors"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ctx["vendor_rows"] = json!(vendor_rows(&typed));
    ctx["suggest"] = json!(reports::name_suggestions(&st.app, &s.p).await?);
    render(st, &s.viewer, "reports/form.html", ctx)
}

pub async fn new_form(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let org = reports::filing_org(&st.app, &s.p).await?;
    let form = ReportForm::blank(org.org.sectors.first(), org.org.region.as_ref());
    form_page(
        &st,
        &s,
        json!({"mode": "new", "form": form, "errors": {}, "org": org.org.name}),
    )
    .await
}

pub async fn create(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    s.p.require_operator()?;
    let form = read_form(&f);
    match reports::file_form(&st.app, &s.p, &form).await {
        Ok(r) => Ok(done(
            &st,
            &s.viewer,
            "flash.filed",
            &format!("/reports/{}", r.id),
        )),
        Err(AppError::Validation(errs)) => {
            let org = reports::filing_org(&st.app, &s.p).await?;
            let mut res = form_page(
                &st,
                &s,
                json!({"mode": "new", "form": form, "errors": errors_json(&errs, s.viewer.lang),
                       "org": org.org.name}),
            )
            .await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- filing on behalf

fn behalf_ctx(
    operators: &[kizuki_domain::org::Organisation],
    form: &ReportForm,
    received: &behalf::Received,
) -> Value {
    json!({"mode": "behalf", "form": form, "errors": {}, "org": "",
           "operators": operators.iter().map(|o| json!({"key": o.org.key, "name": o.org.name})).collect::<Vec<_>>(),
           "channels": behalf::Channel::ALL.iter().map(|c| json!({"code": c.code(), "label": c.label_ja()})).collect::<Vec<_>>(),
           "received": {"org": received.org, "channel": received.channel, "from": received.from}})
}

pub async fn behalf_form(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let operators = behalf::operators(&st.app, &s.p).await?;
    let form = ReportForm::blank(None, None);
    let received = behalf::Received {
        channel: "phone".into(),
        ..Default::default()
    };
    form_page(&st, &s, behalf_ctx(&operators, &form, &received)).await
}

pub async fn behalf_create(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let operators = behalf::operators(&st.app, &s.p).await?;
    let form = read_form(&f);
    let received = behalf::Received {
        org: f.get("org").to_owned(),
        channel: f.get("channel").to_owned(),
        from: f.get("received_from").to_owned(),
    };
    match behalf::file_form(&st.app, &s.p, &received, &form).await {
        Ok(r) => Ok(done(
            &st,
            &s.viewer,
            "flash.filed_on_behalf",
            &format!("/reports/{}", r.id),
        )),
        Err(AppError::Validation(errs)) => {
            let mut ctx = behalf_ctx(&operators, &form, &received);
            ctx["errors"] = errors_json(&errs, s.viewer.lang);
            let mut res = form_page(&st, &s, ctx).await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

/// One entry of a report's history, newest first on the page.
#[derive(Debug, Serialize)]
struct HistoryRow {
    version: i64,
    at: DateTime<Utc>,
    action: String,
    detail: String,
    user: Option<String>,
}

fn history_rows(v: &reports::ReportView, users: &[(UserId, String)]) -> Vec<HistoryRow> {
    v.history
        .iter()
        .rev()
        .map(|h| {
            let (action, detail) = h.action.split_once(':').unwrap_or((h.action.as_str(), ""));
            HistoryRow {
                version: h.version,
                at: h.at,
                action: action.to_owned(),
                detail: detail.to_owned(),
                user: user_name(users, h.user_id),
            }
        })
        .collect()
}

fn user_name(users: &[(UserId, String)], id: Option<UserId>) -> Option<String> {
    let id = id?;
    users.iter().find(|(u, _)| *u == id).map(|(_, n)| n.clone())
}

/// One stage (第一報, 続報, 最終報) as the detail page lists it.
#[derive(Debug, Serialize)]
struct StageRow {
    seq: u32,
    kind: &'static str,
    at: DateTime<Utc>,
    text: String,
    author: Option<String>,
}

/// A link to another report, seen from this one.
#[derive(Debug, Serialize)]
struct LinkRow {
    kind: &'static str,
    /// Made from this report (rather than to it).
    outgoing: bool,
    other_id: i64,
    /// The other report, when the viewer may read it.
    other: Option<ReportRow>,
    at: DateTime<Utc>,
}

/// The report's details beyond what its row shows.
#[derive(Debug, Serialize)]
struct DetailFields {
    region: Option<String>,
    affected_service: String,
    occurred_at: Option<DateTime<Utc>>,
    detected_at: Option<DateTime<Utc>>,
    people_affected: Option<u64>,
    duration_minutes: Option<u64>,
    actual_harm: bool,
    impact_description: String,
    systems: Vec<kizuki_domain::report::SystemRef>,
    vendors: Vec<String>,
    summary: String,
}

/// Everything the report's detail page shows.
#[derive(Debug, Serialize)]
struct DetailPage {
    /// Similar past cases and reports with their lessons (`null` without a search index).
    similar: Value,
    /// Tagged lessons of cases like this report, each with why it is shown.
    applying: Vec<kizuki_app::lessons::Applying>,
    r: ReportRow,
    /// What is due when, from the configured stage deadlines.
    schedule: Value,
    d: DetailFields,
    org: String,
    stages: Vec<StageRow>,
    links: Vec<LinkRow>,
    /// Reports of the same incident, through same-incident links.
    incident: Vec<ReportRow>,
    history: Vec<HistoryRow>,
    can_edit: bool,
    can_add_stage: bool,
    /// The stage form as typed (`kind`, `text`), kept on a refusal.
    stage_form: Value,
    stage_errors: Value,
    /// Who else the report is shared with under its TLP label, and the choices to change it.
    sharing: reports::sharing::SharingView,
    /// Who at the centre entered it, when it was filed on the operator's behalf.
    entered_by: Option<String>,
    /// Set when a sharing change was refused: `conflict` (the report changed meanwhile, the
    /// choices shown are the ones just made) and the field errors.
    sharing_refused: Value,
    /// Forwards of the report the viewer may see, and the organisations it may forward to.
    forwarding: reports::forwarding::ForwardingView,
    /// Set when a forward was refused: the errors, the organisations ticked and the note.
    forward_refused: Value,
}

/// Everything the detail page shows, with the stage form's state.
async fn detail_page(
    st: &WebState,
    s: &SignedIn,
    id: ReportId,
    stage_form: Value,
    stage_errors: Value,
) -> Result<DetailPage, WebError> {
    let view = reports::view(&st.app, &s.p, id).await?;
    let orgs = reports::org_names(&st.app).await?;
    let users = reports::user_names(&st.app).await?;
    let r = &view.report;
    let stages = r
        .stages
        .iter()
        .map(|x| StageRow {
            seq: x.seq,
            kind: x.kind.code(),
            at: x.at,
            text: x.text.clone(),
            author: user_name(&users, x.author),
        })
        .collect();
    let links = view
        .links
        .iter()
        .map(|l| LinkRow {
            kind: l.link.kind.code(),
            outgoing: l.link.from == id,
            other_id: l.other_id.0,
            other: l.other.as_ref().map(|o| report_row(st, o, &orgs)),
            at: l.link.at,
        })
        .collect();
    let incident = view
        .incident
        .iter()
        .map(|o| report_row(st, o, &orgs))
        .collect();
    let d = &r.details;
    Ok(DetailPage {
        similar: similar_json(st, s, r).await,
        applying: kizuki_app::lessons::applying(&st.app, &s.p, r).await?,
        r: report_row(st, r, &orgs),
        schedule: super::deadlines::schedule_json(st, r),
        d: DetailFields {
            region: d.region.as_ref().map(|c| c.0.clone()),
            affected_service: d.affected_service.clone(),
            occurred_at: d.occurred_at,
            detected_at: d.detected_at,
            people_affected: d.impact.people_affected,
            duration_minutes: d.impact.duration_minutes,
            actual_harm: d.impact.actual_harm,
            impact_description: d.impact.description.clone(),
            systems: d.systems.clone(),
            vendors: d.vendors.clone(),
            summary: d.summary.clone(),
        },
        org: view.org_name.clone(),
        stages,
        links,
        incident,
        history: history_rows(&view, &users),
        can_edit: view.can_edit,
        can_add_stage: view.can_edit && !r.has_final(),
        stage_form,
        stage_errors,
        sharing: reports::sharing::view(&st.app, &s.p, id).await?,
        entered_by: behalf::entered_by(&st.app, r).await?,
        sharing_refused: Value::Null,
        forwarding: reports::forwarding::view(&st.app, &s.p, r).await?,
        forward_refused: Value::Null,
    })
}

/// Replaces the report's sharing lists from the checkboxes of its page. A refusal answers the
/// page again with the boxes as they were ticked: with the field errors, or, when the report
/// changed meanwhile, with a notice and the current version to save against.
pub async fn save_sharing(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let id = ReportId(id);
    let orgs = reports::sharing::ids("orgs", &f.all("orgs"), kizuki_domain::ids::OrgId)?;
    let users = reports::sharing::ids("users", &f.all("users"), kizuki_domain::ids::UserId)?;
    let version = f.i64("version");
    let (status, refused) =
        match reports::sharing::set(&st.app, &s.p, id, version, &orgs, &users).await {
            Ok(_) => {
                return Ok(done(
                    &st,
                    &s.viewer,
                    "flash.sharing_saved",
                    &format!("/reports/{id}#sharing"),
                ));
            }
            Err(AppError::Validation(errs)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"errors": errors_json(&errs, s.viewer.lang)}),
            ),
            Err(AppError::Store(StoreError::Conflict {
                current: Current::Report(cur),
                ..
            })) => (
                StatusCode::CONFLICT,
                json!({"conflict": {"updated_at": cur.updated_at, "version": cur.version}}),
            ),
            Err(e) => return Err(e.into()),
        };
    let mut ctx = detail_page(
        &st,
        &s,
        id,
        json!({"kind": "follow_up", "text": ""}),
        json!({}),
    )
    .await?;
    for o in &mut ctx.sharing.orgs {
        o.chosen = orgs.contains(&o.id);
    }
    for u in &mut ctx.sharing.users {
        u.chosen = users.contains(&u.id);
    }
    ctx.sharing_refused = refused;
    let mut res = render(&st, &s.viewer, "reports/detail.html", &ctx)?;
    *res.status_mut() = status;
    Ok(res)
}

/// The report's page answered again with 422 after a refused form of it, `extra` (the
/// refused form's state) laid over the page.
pub async fn detail_again(
    st: &WebState,
    s: &SignedIn,
    id: ReportId,
    extra: Value,
) -> Result<Response, WebError> {
    let ctx = detail_page(
        st,
        s,
        id,
        json!({"kind": "follow_up", "text": ""}),
        json!({}),
    )
    .await?;
    super::render_as(
        st,
        &s.viewer,
        "reports/detail.html",
        super::with(json!(ctx), extra),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// Similar past cases and reports with their lessons, for the report page. The page
/// still renders when search is unavailable: it then says nothing was found and logs why.
async fn similar_json(st: &WebState, s: &SignedIn, r: &Report) -> Value {
    if st.search.is_none() {
        return Value::Null;
    }
    let found = async {
        let viewer = kizuki_app::auth::viewer(&st.app, &s.p).await?;
        let res = crate::search::similar_to_report(st, &viewer, r).await?;
        let published =
            crate::search::published_slugs(st, crate::search::LinkFor::of(&viewer)).await?;
        Ok::<_, WebError>(crate::search::SimilarView::of(
            &res,
            crate::search::LinkFor::of(&viewer),
            &published,
        ))
    }
    .await;
    match found {
        Ok(v) => json!(v),
        Err(e) => {
            tracing::warn!(report = r.id.0, error = %e, "similar cases unavailable");
            json!({"items": [], "key_terms": []})
        }
    }
}

pub async fn detail(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let ctx = detail_page(
        &st,
        &s,
        ReportId(id),
        json!({"kind": "follow_up", "text": ""}),
        json!({}),
    )
    .await?;
    render(&st, &s.viewer, "reports/detail.html", &ctx)
}

pub async fn add_stage(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let id = ReportId(id);
    let kind = StageKind::parse(f.get("kind")).unwrap_or(StageKind::FollowUp);
    match reports::add_stage(&st.app, &s.p, id, kind, f.get("text")).await {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.stage_added",
            &format!("/reports/{id}"),
        )),
        Err(AppError::Validation(errs)) => {
            let ctx = detail_page(
                &st,
                &s,
                id,
                json!({"kind": kind.code(), "text": f.get("text")}),
                errors_json(&errs, s.viewer.lang),
            )
            .await?;
            let mut res = render(&st, &s.viewer, "reports/detail.html", &ctx)?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn edit_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (r, filer) = reports::get_for_edit_named(&st.app, &s.p, ReportId(id)).await?;
    let others = presence(&st, &s, &format!("report:{id}"));
    form_page(
        &st,
        &s,
        json!({"mode": "edit", "id": id, "version": r.version, "title": r.details.title,
               "form": ReportForm::from_details(&r.details), "errors": {}, "org": filer,
               "presence_key": format!("report:{id}"), "others": others}),
    )
    .await
}

pub fn presence(st: &WebState, s: &SignedIn, key: &str) -> Vec<Value> {
    st.presence
        .touch(key, s.p.user_id, &s.p.display_name, st.app.clock.now())
        .into_iter()
        .map(|e| json!({"name": e.name, "since": e.since}))
        .collect()
}

/// The form's fields as text, for showing two versions side by side.
fn form_lines(tx: &Taxonomy, lang: Lang, f: &ReportForm) -> Vec<(&'static str, String)> {
    let label = |v, c: &str| tx.label(v, c, lang).to_owned();
    vec![
        ("title", f.title.clone()),
        ("sector", label(Vocabulary::Sector, &f.sector)),
        ("region", label(Vocabulary::Region, &f.region)),
        ("affected_service", f.affected_service.clone()),
        (
            "occurred_at",
            format!("{} {}", f.occurred_date, f.occurred_time)
                .trim()
                .to_owned(),
        ),
        (
            "detected_at",
            format!("{} {}", f.detected_date, f.detected_time)
                .trim()
                .to_owned(),
        ),
        ("event_type", label(Vocabulary::EventType, &f.event_type)),
        (
            "causes",
            f.causes
                .iter()
                .map(|c| label(Vocabulary::Cause, c))
                .collect::<Vec<_>>()
                .join("、"),
        ),
        ("severity", f.severity.clone()),
        ("people_affected", f.people_affected.clone()),
        ("duration_minutes", f.duration_minutes.clone()),
        (
            "actual_harm",
            if f.actual_harm {
                "✓".into()
            } else {
                String::new()
            },
        ),
        ("impact_description", f.impact_description.clone()),
        (
            "systems",
            f.systems
                .iter()
                .filter(|s| !s.name.trim().is_empty())
                .map(|s| {
                    format!(
                        "{} / {}{}",
                        s.name,
                        s.vendor,
                        if s.shared { " ★" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("vendors", f.vendors.trim().to_owned()),
        (
            "tlp",
            Tlp::parse(&f.tlp).map_or_else(|| f.tlp.clone(), |t| t.label().to_owned()),
        ),
        ("summary", f.summary.clone()),
    ]
}

pub fn diff_rows(tx: &Taxonomy, lang: Lang, theirs: &ReportForm, mine: &ReportForm) -> Vec<Value> {
    form_lines(tx, lang, theirs)
        .into_iter()
        .zip(form_lines(tx, lang, mine))
        .filter(|((_, a), (_, b))| a.trim() != b.trim())
        .map(|((field, a), (_, b))| json!({"field": field, "theirs": a, "mine": b}))
        .collect()
}

pub async fn update(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let rid = ReportId(id);
    let (r, filer) = reports::get_for_edit_named(&st.app, &s.p, rid).await?;
    let form = read_form(&f);
    let version = f.i64("version").unwrap_or(0);
    let base = json!({"mode": "edit", "id": id, "title": r.details.title, "org": filer,
                      "presence_key": format!("report:{id}")});
    let outcome = match form.parse(&st.app.taxonomy, st.app.clock.now()) {
        Ok(details) => reports::update(&st.app, &s.p, rid, version, details).await,
        Err(errs) => Err(AppError::Validation(errs)),
    };
    let mut ctx = base;
    let status = match outcome {
        Ok(_) => {
            st.presence.leave(&format!("report:{id}"), s.p.user_id);
            return Ok(done(
                &st,
                &s.viewer,
                "flash.saved",
                &format!("/reports/{id}"),
            ));
        }
        Err(AppError::Validation(errs)) => {
            ctx["version"] = json!(version);
            ctx["errors"] = errors_json(&errs, s.viewer.lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Store(StoreError::Conflict {
            current: Current::Report(cur),
            ..
        })) => {
            // Keep what this user typed, show what changed meanwhile, and base the next save
            // on the current version so the merged text can be saved.
            let theirs = ReportForm::from_details(&cur.details);
            ctx["version"] = json!(cur.version);
            ctx["errors"] = json!({});
            ctx["conflict"] = json!({
                "rows": diff_rows(&st.app.taxonomy, s.viewer.lang, &theirs, &form),
                "updated_at": cur.updated_at,
                "version": cur.version,
            });
            StatusCode::CONFLICT
        }
        Err(e) => return Err(e.into()),
    };
    ctx["form"] = json!(form);
    ctx["others"] = json!(presence(&st, &s, &format!("report:{id}")));
    let mut res = form_page(&st, &s, ctx).await?;
    *res.status_mut() = status;
    Ok(res)
}

/// Marks the reports ticked in the list as one incident (analysts).
pub async fn incident(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    // Decided before the form is looked at.
    s.p.require_analyst()?;
    let ids: Vec<ReportId> = f
        .all("ids")
        .iter()
        .filter_map(|x| x.parse().ok())
        .map(ReportId)
        .collect();
    let Some((&primary, rest)) = ids.split_first() else {
        return Ok(done(&st, &s.viewer, "flash.choose_reports", "/reports"));
    };
    match kizuki_app::reports::mark_incident(&st.app, &s.p, primary, rest).await {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.incident_marked",
            &format!("/reports/{primary}"),
        )),
        Err(AppError::Validation(_)) => {
            Ok(done(&st, &s.viewer, "flash.choose_reports", "/reports"))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_a_spreadsheet_would_run_become_text() {
        for (typed, cell) in [
            (
                "=HYPERLINK(\"http://x.example\",\"x\")",
                "\"'=HYPERLINK(\"\"http://x.example\"\",\"\"x\"\")\"",
            ),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "\"'\r=1\""),
        ] {
            assert_eq!(csv_cell(typed), cell, "{typed:?}");
        }
        // Ordinary text and quoting are untouched.
        assert_eq!(csv_cell("運行管理システムの停止"), "運行管理システムの停止");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("2019-05-01 10:00"), "2019-05-01 10:00");
    }
}
