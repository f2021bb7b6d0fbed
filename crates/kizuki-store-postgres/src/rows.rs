//! Reading records back from rows, usable inside and outside transactions.

use crate::cached::Cached as _;
use crate::pg_err;
use deadpool_postgres::GenericClient;
use kizuki_domain::case::Case;
use kizuki_domain::ids::{CaseId, OrgId, ReportId, UserId};
use kizuki_domain::org::{NewOrganisation, OrgKind, Organisation};
use kizuki_domain::report::{Report, ReportStatus, Stage, StageKind};
use kizuki_domain::survey::Survey;
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role, User};
use kizuki_store::{StoreError, StoreResult};
use tokio_postgres::Row;

pub const USER_COLS: &str = "id, org_id, email, display_name, role, lang, active, version";
pub const ORG_COLS: &str = "id, key, name, kind, sectors, region, version, active";

fn bad(column: &str, value: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected value {value:?} in {column}"))
}

pub fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(StoreError::backend)
}

pub fn from_json<T: serde::de::DeserializeOwned>(column: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Invalid(format!("{column} does not decode: {e}")))
}

pub fn org_row(r: &Row) -> StoreResult<Organisation> {
    let kind: String = r.get("kind");
    let sectors: String = r.get("sectors");
    Ok(Organisation {
        id: OrgId(r.get("id")),
        version: r.get("version"),
        active: r.get("active"),
        org: NewOrganisation {
            key: r.get("key"),
            name: r.get("name"),
            kind: OrgKind::parse(&kind).ok_or_else(|| bad("organisations.kind", &kind))?,
            sectors: from_json::<Vec<Code>>("organisations.sectors", &sectors)?,
            region: r.get::<_, Option<String>>("region").map(Code),
        },
    })
}

pub fn user_row(r: &Row) -> StoreResult<User> {
    let role: String = r.get("role");
    let lang: String = r.get("lang");
    let email: String = r.get("email");
    Ok(User {
        id: UserId(r.get("id")),
        version: r.get("version"),
        user: NewUser {
            org_id: OrgId(r.get("org_id")),
            email: Email::parse(&email).map_err(|_| bad("users.email", &email))?,
            display_name: r.get("display_name"),
            role: Role::parse(&role).ok_or_else(|| bad("users.role", &role))?,
            lang: Lang::parse(&lang).unwrap_or_default(),
        },
        active: r.get("active"),
    })
}

pub async fn load_org<C: GenericClient + Sync>(c: &C, id: OrgId) -> StoreResult<Organisation> {
    c.cached_query_opt(
        &format!("SELECT {ORG_COLS} FROM organisations WHERE id = $1"),
        &[&id.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| org_row(&r))
    .transpose()?
    .ok_or_else(|| StoreError::not_found("organisation", id))
}

pub async fn load_report<C: GenericClient + Sync>(c: &C, id: ReportId) -> StoreResult<Report> {
    load_reports(c, &[id])
        .await?
        .pop()
        .ok_or_else(|| StoreError::not_found("report", id))
}

/// The reports with these ids that exist, in id order, in two statements sent together
/// whatever their number: the search index reads every new report this way.
pub async fn load_reports<C: GenericClient + Sync>(
    c: &C,
    ids: &[ReportId],
) -> StoreResult<Vec<Report>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ids];
    let reports = c.cached_query(
        "SELECT id, org_id, version, status, reported_at, updated_at, details,
                (SELECT MIN(id) FROM cases WHERE report_id = reports.id) AS case_id
         FROM reports WHERE id = ANY($1) ORDER BY id",
        &params,
    );
    let stages = c.cached_query(
        "SELECT report_id, seq, kind, at, text, author FROM report_stages
         WHERE report_id = ANY($1) ORDER BY report_id, seq",
        &params,
    );
    let (reports, stages) = tokio::join!(reports, stages);
    let mut stages = stages.map_err(pg_err)?.into_iter().peekable();
    let mut out = Vec::new();
    for row in reports.map_err(pg_err)? {
        let id: i64 = row.get("id");
        let mut own = Vec::new();
        // Both lists are in id order, so each report's stages are the next run of rows.
        while let Some(r) = stages.next_if(|r| r.get::<_, i64>(0) <= id) {
            if r.get::<_, i64>(0) < id {
                continue;
            }
            let kind: String = r.get(2);
            own.push(Stage {
                seq: u32::try_from(r.get::<_, i32>(1)).map_err(|_| bad("report_stages.seq", ""))?,
                kind: StageKind::parse(&kind).ok_or_else(|| bad("report_stages.kind", &kind))?,
                at: r.get(3),
                text: r.get(4),
                author: r.get::<_, Option<i64>>(5).map(UserId),
            });
        }
        let status: String = row.get("status");
        let details: String = row.get("details");
        out.push(Report {
            id: ReportId(id),
            version: row.get("version"),
            org_id: OrgId(row.get("org_id")),
            status: ReportStatus::parse(&status).ok_or_else(|| bad("reports.status", &status))?,
            reported_at: row.get("reported_at"),
            updated_at: row.get("updated_at"),
            details: from_json("reports.details", &details)?,
            stages: own,
            case_id: row.get::<_, Option<i64>>("case_id").map(CaseId),
        });
    }
    Ok(out)
}

pub fn case_row(r: &Row) -> StoreResult<Case> {
    let content: String = r.get(4);
    Ok(Case {
        id: CaseId(r.get(0)),
        survey_year: r.get(1),
        report_id: r.get::<_, Option<i64>>(2).map(ReportId),
        version: r.get(3),
        content: from_json("cases.content", &content)?,
    })
}

pub async fn load_case<C: GenericClient + Sync>(c: &C, id: CaseId) -> StoreResult<Case> {
    c.cached_query_opt(
        "SELECT id, survey_year, report_id, version, content FROM cases WHERE id = $1",
        &[&id.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| case_row(&r))
    .transpose()?
    .ok_or_else(|| StoreError::not_found("case", id))
}

pub async fn load_survey<C: GenericClient + Sync>(c: &C, fy: i32) -> StoreResult<Survey> {
    let row = c
        .cached_query_opt(
            "SELECT version, content FROM surveys WHERE fiscal_year = $1",
            &[&fy],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("survey", fy))?;
    let content: String = row.get(1);
    Ok(Survey {
        version: row.get(0),
        content: from_json("surveys.content", &content)?,
    })
}
