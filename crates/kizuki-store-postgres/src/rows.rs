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
    let row = c
        .cached_query_opt(
            "SELECT org_id, version, status, reported_at, updated_at, details,
                    (SELECT MIN(id) FROM cases WHERE report_id = reports.id) AS case_id
             FROM reports WHERE id = $1",
            &[&id.0],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("report", id))?;
    let status: String = row.get("status");
    let details: String = row.get("details");
    let stages = c
        .cached_query(
            "SELECT seq, kind, at, text, author FROM report_stages
             WHERE report_id = $1 ORDER BY seq",
            &[&id.0],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| {
            let kind: String = r.get(1);
            Ok(Stage {
                seq: u32::try_from(r.get::<_, i32>(0)).map_err(|_| bad("report_stages.seq", ""))?,
                kind: StageKind::parse(&kind).ok_or_else(|| bad("report_stages.kind", &kind))?,
                at: r.get(2),
                text: r.get(3),
                author: r.get::<_, Option<i64>>(4).map(UserId),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Report {
        id,
        version: row.get("version"),
        org_id: OrgId(row.get("org_id")),
        status: ReportStatus::parse(&status).ok_or_else(|| bad("reports.status", &status))?,
        reported_at: row.get("reported_at"),
        updated_at: row.get("updated_at"),
        details: from_json("reports.details", &details)?,
        stages,
        case_id: row.get::<_, Option<i64>>("case_id").map(CaseId),
    })
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
