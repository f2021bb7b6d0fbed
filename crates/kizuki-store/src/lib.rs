//! The storage trait: everything kizuki keeps goes through [`Store`], so SQLite and
//! PostgreSQL are interchangeable and are held to one conformance suite.

#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod filter;

pub use error::{Current, StoreError, StoreResult};
pub use filter::{Page, Paged, ReportFilter, ReportSort};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kizuki_domain::case::{Case, CaseContent};
use kizuki_domain::ids::{CaseId, OrgId, ReportId, UserId};
use kizuki_domain::org::{NewOrganisation, Organisation};
use kizuki_domain::report::{Report, ReportDetails, ReportStatus, StageKind};
use kizuki_domain::survey::{Survey, SurveyContent};
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::{Email, NewUser, User};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A stage to append to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStage {
    pub kind: StageKind,
    pub at: DateTime<Utc>,
    pub text: String,
    pub author: Option<UserId>,
}

/// A report to file: the first stage comes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub org_id: OrgId,
    pub details: ReportDetails,
    pub first: NewStage,
}

/// One entry of a record's history: who changed what, when, and the record as it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<UserId>,
    pub action: String,
    /// The record after the change, as JSON.
    pub snapshot: String,
}

/// What kind of record changed, for the change feed that search indexes follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Report,
    Case,
    Survey,
    Organisation,
    User,
}

impl Entity {
    pub fn code(self) -> &'static str {
        match self {
            Entity::Report => "report",
            Entity::Case => "case",
            Entity::Survey => "survey",
            Entity::Organisation => "organisation",
            Entity::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Entity> {
        [
            Entity::Report,
            Entity::Case,
            Entity::Survey,
            Entity::Organisation,
            Entity::User,
        ]
        .into_iter()
        .find(|e| e.code() == s)
    }
}

/// One committed change, in commit order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub entity: Entity,
    pub id: i64,
    pub at: DateTime<Utc>,
}

/// A user with the hash needed to check a password; never serialised.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A problem found by [`Store::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub what: String,
    /// What to do about it.
    pub fix: String,
}

/// A bearer token for the API as stored: only a hash of its secret is kept, so a leaked
/// database does not leak working tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// A token to store; `hash` is the hex digest of the secret the user was shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub user_id: UserId,
    pub label: String,
    pub hash: String,
    pub at: DateTime<Utc>,
}

/// How two reports relate, as decided at triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// About related events.
    Related,
    /// `from` reports the same thing as `to` and adds nothing new.
    Duplicate,
    /// Several operators' reports of one failure (typically of a shared system).
    SameIncident,
}

impl LinkKind {
    pub const ALL: [LinkKind; 3] = [
        LinkKind::Related,
        LinkKind::Duplicate,
        LinkKind::SameIncident,
    ];

    pub fn code(self) -> &'static str {
        match self {
            LinkKind::Related => "related",
            LinkKind::Duplicate => "duplicate",
            LinkKind::SameIncident => "same_incident",
        }
    }

    pub fn parse(s: &str) -> Option<LinkKind> {
        LinkKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// A link between two reports. At most one link exists per pair, whichever its direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLink {
    pub from: ReportId,
    pub to: ReportId,
    pub kind: LinkKind,
    pub at: DateTime<Utc>,
    pub by: Option<UserId>,
}

impl ReportLink {
    /// The report at the other end, seen from `id`.
    pub fn other(&self, id: ReportId) -> ReportId {
        if self.from == id { self.to } else { self.from }
    }
}

/// All persistence. Every write is one transaction, durable when the call returns. Editable
/// records carry a version; an update against a stale version fails with
/// [`StoreError::Conflict`] carrying the current record, so nothing is silently overwritten.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name for logs and `kizuki check` (e.g. `sqlite`).
    fn backend(&self) -> &'static str;

    // Organisations.
    async fn create_org(&self, org: NewOrganisation) -> StoreResult<Organisation>;
    async fn get_org(&self, id: OrgId) -> StoreResult<Organisation>;
    async fn org_by_key(&self, key: &str) -> StoreResult<Option<Organisation>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>>;
    async fn update_org(
        &self,
        id: OrgId,
        expected_version: i64,
        org: NewOrganisation,
    ) -> StoreResult<Organisation>;

    // Users.
    async fn create_user(&self, user: NewUser, password_hash: &str) -> StoreResult<User>;
    async fn get_user(&self, id: UserId) -> StoreResult<User>;
    async fn credentials(&self, email: &Email) -> StoreResult<Option<Credentials>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()>;
    /// The language the user's pages are shown in, remembered across sessions.
    async fn set_user_lang(&self, id: UserId, lang: Lang) -> StoreResult<User>;

    // API tokens.
    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken>;
    /// The token with this hash, revoked or not (the caller decides what a revoked one means).
    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;
    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>>;
    /// Marks the token revoked; revoking twice keeps the first time.
    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<ApiToken>;

    // Reports.
    async fn create_report(&self, report: NewReport) -> StoreResult<Report>;
    async fn get_report(&self, id: ReportId) -> StoreResult<Report>;
    async fn update_report(
        &self,
        id: ReportId,
        expected_version: i64,
        details: ReportDetails,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report>;
    async fn set_report_status(
        &self,
        id: ReportId,
        expected_version: i64,
        status: ReportStatus,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report>;
    /// Appends a stage. Stages only ever append, so this needs no version; it does bump it,
    /// so a form opened before the stage arrived will see the conflict.
    async fn add_stage(&self, id: ReportId, stage: NewStage) -> StoreResult<Report>;
    async fn list_reports(&self, filter: &ReportFilter, page: Page) -> StoreResult<Paged<Report>>;
    async fn report_history(&self, id: ReportId) -> StoreResult<Vec<HistoryEntry>>;
    /// Links two reports, replacing any link the pair already has. A report cannot link to
    /// itself ([`StoreError::Invalid`]).
    async fn link_reports(&self, link: ReportLink) -> StoreResult<()>;
    /// Removes the link between the pair, in whichever direction it was made.
    async fn unlink_reports(&self, a: ReportId, b: ReportId) -> StoreResult<()>;
    /// Every link touching the report, oldest first.
    async fn report_links(&self, id: ReportId) -> StoreResult<Vec<ReportLink>>;

    // Cases.
    async fn create_case(
        &self,
        survey_year: Option<i32>,
        report_id: Option<ReportId>,
        content: CaseContent,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case>;
    async fn get_case(&self, id: CaseId) -> StoreResult<Case>;
    async fn case_by_number(&self, survey_year: i32, number: u32) -> StoreResult<Option<Case>>;
    async fn update_case(
        &self,
        id: CaseId,
        expected_version: i64,
        content: CaseContent,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case>;
    /// Cases of one survey in number order, or all cases when `survey_year` is `None`.
    async fn list_cases(&self, survey_year: Option<i32>) -> StoreResult<Vec<Case>>;
    async fn case_history(&self, id: CaseId) -> StoreResult<Vec<HistoryEntry>>;

    // Surveys.
    async fn create_survey(&self, content: SurveyContent) -> StoreResult<Survey>;
    async fn get_survey(&self, fiscal_year: i32) -> StoreResult<Survey>;
    async fn update_survey(
        &self,
        expected_version: i64,
        content: SurveyContent,
    ) -> StoreResult<Survey>;
    async fn list_surveys(&self) -> StoreResult<Vec<Survey>>;

    /// Committed changes after `after`, oldest first, at most `limit`.
    async fn changes_since(&self, after: i64, limit: usize) -> StoreResult<Vec<Change>>;

    /// Integrity of the storage itself and of the application's invariants.
    async fn check(&self) -> StoreResult<Vec<Problem>>;
}

pub type DynStore = Arc<dyn Store>;
