//! The storage traits: everything kizuki keeps goes through [`Store`], the sum of one trait
//! per entity ([`OrgStore`], [`ReportStore`], …), so SQLite and PostgreSQL are
//! interchangeable and are held to one conformance suite.

mod backup;
#[cfg(feature = "conformance")]
pub mod conformance;
// Organisations enabled or not, their contacts, forwarded reports.
mod directory;
mod error;
mod filter;
// Interviews with the operators of selected cases.
mod interviews;
// Lesson themes and the lessons tagged with them.
mod lessons;
// Security.
mod security;
// Reminders.
mod reminders;
mod selection;
// Browser sessions in the database (shared by every node).
mod sessions;
pub mod sql;
// Cooperation records and published editions of a survey year.
mod year;

pub use backup::OnlineBackup;
pub use directory::{Forward, NewForward, OrgContacts, SharingSnapshot};
pub use error::{Current, StoreError, StoreResult};
pub use filter::{Page, Paged, ReportFilter, ReportSort};
// Security.
pub use security::{
    AuditQuery, AuditRecord, MfaRecord, OrgAllowlist, ReportSharing, SecretSlot, StoredSecret,
};
// Reminders.
pub use reminders::{
    ReminderChannel, ReminderClaim, ReminderKey, ReminderKind, ReminderRecord, sort_reminders,
};
pub use selection::{
    CaseDraft, NewSelection, ScoreOverrideRecord, SelectionMember, SelectionStatus, StoredSelection,
};
// Cooperation records and published editions of a survey year.
pub use lessons::{
    AssessmentRecord, LessonTag, NewFollowUp, StoredFollowUp, StoredTheme, ThemeWrite,
    assessment_conflict, tag_changes, theme_of_key, theme_set, theme_write,
};
pub use year::{CooperationRecord, CooperationStatus, Edition, NewCooperation, NewEdition};
// Interviews with the operators of selected cases.
pub use interviews::{
    AnswerState, Attachment, Interview, NewAttachment, NewQuestion, NoticeClaim, NoticeKey,
    NoticeOf, NoticeRecord, Question, QuestionTemplate, SaveAnswer,
};
// Browser sessions in the database (shared by every node).
pub use sessions::{PendingLogin, SessionKey, SessionRecord, SessionUpdate};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kizuki_domain::anonymise::{Decision, Disclosed, PseudonymMap};
use kizuki_domain::case::{Case, CaseContent};
use kizuki_domain::ids::{CaseId, OrgId, ReportId, UserId};
use kizuki_domain::org::{NewOrganisation, Organisation};
use kizuki_domain::report::{Report, ReportDetails, ReportStatus, StageKind};
use kizuki_domain::signoff::{Action, Transition};
use kizuki_domain::survey::{Survey, SurveyContent};
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::{Email, NewUser, Role, User};
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
    /// A saved case selection, by its id.
    Selection,
}

impl Entity {
    pub fn code(self) -> &'static str {
        match self {
            Entity::Report => "report",
            Entity::Case => "case",
            Entity::Survey => "survey",
            Entity::Organisation => "organisation",
            Entity::User => "user",
            Entity::Selection => "selection",
        }
    }

    pub fn parse(s: &str) -> Option<Entity> {
        [
            Entity::Report,
            Entity::Case,
            Entity::Survey,
            Entity::Organisation,
            Entity::User,
            Entity::Selection,
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

impl Problem {
    /// What is wrong with a stored report, the same in every backend: it starts with its
    /// first report (第一報), its stages are numbered 1, 2, 3…, and the cause index the lists
    /// filter on (`stored_causes`, sorted) holds exactly the report's causes. `restore` is the
    /// backend's advice for damage a restore repairs.
    pub fn of_report(r: &Report, stored_causes: &[String], restore: &str) -> Vec<Problem> {
        let id = r.id;
        let mut out = Vec::new();
        let mut problem = |what: String, fix: &str| {
            out.push(Problem {
                what,
                fix: fix.to_owned(),
            })
        };
        if r.stages.first().map(|s| s.kind) != Some(kizuki_domain::report::StageKind::First) {
            problem(
                format!("report {id} does not start with a first report (第一報)"),
                restore,
            );
        }
        let seqs: Vec<u32> = r.stages.iter().map(|s| s.seq).collect();
        let want: Vec<u32> = (1..=u32::try_from(seqs.len()).unwrap_or(0)).collect();
        if seqs != want {
            problem(format!("report {id} stages are numbered {seqs:?}"), restore);
        }
        let mut want: Vec<String> = r.details.causes.iter().map(|c| c.0.clone()).collect();
        want.sort();
        want.dedup();
        if stored_causes != want.as_slice() {
            problem(
                format!("report {id} cause index disagrees with the report"),
                "run `kizuki check` again after restoring; report this as a bug",
            );
        }
        out
    }
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
    /// When the token was first presented; `None` until then.
    pub first_used_at: Option<DateTime<Utc>>,
}

/// A bearer token and everything an API call checks about who holds it.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub token: ApiToken,
    pub user: User,
    pub org: Organisation,
    pub allowlist: OrgAllowlist,
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

// Publication.

/// The editor's pseudonym map of a case and what its publication reveals (for the
/// re-identification check). `version` 0 means nothing was saved yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMap {
    pub version: i64,
    pub map: PseudonymMap,
    pub disclosed: Disclosed,
}

/// One stored decision on an anonymisation candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// `Candidate::id`, stable across edits.
    pub candidate: String,
    pub decision: Decision,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// What a `publish` transition puts on the portal: the anonymised case and its rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationSnapshot {
    pub content: CaseContent,
    /// The case as HTML when it was published, so later template changes cannot alter what
    /// was approved.
    pub html: String,
}

/// A published case as the portal serves it. Immutable: only a later publish replaces it and
/// only a withdrawal removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub case_id: CaseId,
    pub survey_year: Option<i32>,
    pub number: u32,
    pub fingerprint: String,
    pub content: CaseContent,
    pub html: String,
    pub published_at: DateTime<Utc>,
    pub published_by: UserId,
}

impl Publication {
    /// The stable public name: `2019-1` for case 1 of the 2019 survey.
    pub fn slug(&self) -> String {
        match self.survey_year {
            Some(y) => format!("{y}-{}", self.number),
            None => format!("case-{}", self.case_id.0),
        }
    }
}

/// How busy a backend's connections are: `in_use` connections out of `size`, and
/// callers `waiting` for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    pub in_use: usize,
    pub size: usize,
    pub waiting: usize,
}

/// Organisations: operators, the centre, ministries.
#[async_trait]
pub trait OrgStore: Send + Sync {
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
}

/// Accounts: users, their passwords and languages, enabled or not.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: NewUser, password_hash: &str) -> StoreResult<User>;

    async fn get_user(&self, id: UserId) -> StoreResult<User>;

    async fn credentials(&self, email: &Email) -> StoreResult<Option<Credentials>>;

    async fn list_users(&self) -> StoreResult<Vec<User>>;

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()>;

    /// The language the user's pages are shown in, remembered across sessions.
    async fn set_user_lang(&self, id: UserId, lang: Lang) -> StoreResult<User>;

    /// Enables or disables an account and returns it. A disabled user can neither sign in
    /// nor use a token, and the sessions they have stop working at their next request.
    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User>;

    /// Gives the account another role (the caller has checked that it may be granted).
    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<User>;

    /// Replaces the password hash and records, in the same transaction, whether the user must
    /// choose a new one before anything else (a one-time password from an administrator).
    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Whether the user still holds a one-time password that must be changed, and when the
    /// password last changed (sessions older than that end, on every node).
    async fn password_state(&self, id: UserId) -> StoreResult<PasswordState>;
}

/// API bearer tokens, stored by the hash of their secret.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken>;

    /// The token with this hash, revoked or not (the caller decides what a revoked one means).
    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;

    /// The token with this hash together with its user, the user's organisation and that
    /// organisation's allowlist, revoked or inactive or not: every API call needs all four,
    /// so they are read at once.
    async fn token_holder(&self, hash: &str) -> StoreResult<Option<TokenHolder>>;

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>>;

    /// Marks the token revoked; revoking twice keeps the first time.
    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<ApiToken>;

    /// Records the token's first use at `at`; `true` only for the call that recorded it, so of
    /// two requests racing with a new token exactly one reports the first use.
    async fn note_token_first_use(&self, id: i64, at: DateTime<Utc>) -> StoreResult<bool>;
}

/// Information reports with their stages, history and links.
#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn create_report(&self, report: NewReport) -> StoreResult<Report>;

    /// Files many reports in one transaction (bulk import): all or none are stored, the
    /// change feed lists them in the order given, and the result is in that order too. An
    /// empty batch writes nothing.
    async fn create_reports(&self, reports: Vec<NewReport>) -> StoreResult<Vec<Report>>;

    async fn get_report(&self, id: ReportId) -> StoreResult<Report>;

    /// The reports with these ids that exist, in id order; an id with no report is left
    /// out. For readers of many reports at once (the search index following the feed).
    async fn get_reports(&self, ids: &[ReportId]) -> StoreResult<Vec<Report>>;

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
}

/// Cases in the survey's six-section form, with their history.
#[async_trait]
pub trait CaseStore: Send + Sync {
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

    /// Takes a case out of its survey (its `survey_year` becomes `None`; the number is kept,
    /// and the history records a `drop`), against `expected_version` like an update. The
    /// report stays free to become a case of the survey again. A case in no survey is
    /// [`StoreError::Invalid`].
    async fn drop_case(
        &self,
        id: CaseId,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case>;
}

/// Surveys, one per fiscal year.
#[async_trait]
pub trait SurveyStore: Send + Sync {
    async fn create_survey(&self, content: SurveyContent) -> StoreResult<Survey>;

    async fn get_survey(&self, fiscal_year: i32) -> StoreResult<Survey>;

    async fn update_survey(
        &self,
        expected_version: i64,
        content: SurveyContent,
    ) -> StoreResult<Survey>;

    async fn list_surveys(&self) -> StoreResult<Vec<Survey>>;
}

/// Case selection: analysts' scores, proposals and the confirmed decision.
#[async_trait]
pub trait SelectionStore: Send + Sync {
    /// Stores an analyst's score, replacing the one for the same survey, report and criterion.
    async fn put_score_override(&self, o: ScoreOverrideRecord) -> StoreResult<ScoreOverrideRecord>;

    /// Removes it; removing one that is not there is not an error.
    async fn delete_score_override(
        &self,
        survey_year: i32,
        report_id: ReportId,
        key: &str,
    ) -> StoreResult<()>;

    /// The survey's overrides by report id, then criterion key.
    async fn list_score_overrides(&self, survey_year: i32)
    -> StoreResult<Vec<ScoreOverrideRecord>>;

    /// Saves a draft selection (version 1).
    async fn save_selection(&self, s: NewSelection) -> StoreResult<StoredSelection>;

    /// The survey's selections, newest first.
    async fn list_selections(&self, survey_year: i32) -> StoreResult<Vec<StoredSelection>>;

    async fn get_selection(&self, id: i64) -> StoreResult<StoredSelection>;

    async fn confirmed_selection(&self, survey_year: i32) -> StoreResult<Option<StoredSelection>>;

    /// Confirms a draft in one transaction: creates `drafts` as the survey's cases (numbers
    /// from their content; a taken number fails the whole call with
    /// [`StoreError::Duplicate`]), records each chosen member's case (a new draft's, or the
    /// case its report already has in the survey), and marks the selection confirmed.
    /// A stale version is [`StoreError::Conflict`]; a survey that already has a confirmed
    /// selection, or a selection that is not a draft, is [`StoreError::Invalid`].
    async fn confirm_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
        drafts: Vec<CaseDraft>,
    ) -> StoreResult<StoredSelection>;

    /// Reopens the confirmed selection `id` (status `reopened`, version + 1), so a new
    /// proposal can be made and confirmed; the cases it created stay. A stale version is
    /// [`StoreError::Conflict`]; a selection that is not confirmed is [`StoreError::Invalid`].
    async fn reopen_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredSelection>;
}

/// A survey year's cooperation records and published editions.
#[async_trait]
pub trait YearStore: Send + Sync {
    /// Appends to a case's cooperation history (see [`NewCooperation::expected_seq`]).
    async fn append_cooperation(&self, c: NewCooperation) -> StoreResult<CooperationRecord>;

    /// A case's cooperation history, oldest first (empty when none).
    async fn cooperation_history(&self, case: CaseId) -> StoreResult<Vec<CooperationRecord>>;

    /// Publishes a new edition of the year's annual report, numbered after the last.
    async fn publish_edition(&self, e: NewEdition) -> StoreResult<Edition>;

    /// The year's editions, oldest first.
    async fn editions(&self, survey_year: i32) -> StoreResult<Vec<Edition>>;

    /// One edition; [`StoreError::NotFound`] when the year has no such edition.
    async fn edition(&self, survey_year: i32, number: u32) -> StoreResult<Edition>;
}

/// Interviews with the operators of selected cases.
#[async_trait]
pub trait InterviewStore: Send + Sync {
    /// A new interview of `case` (version 1) with its first questions.
    async fn create_interview(
        &self,
        case: CaseId,
        body: kizuki_domain::interview::InterviewBody,
        questions: Vec<NewQuestion>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<Interview>;

    async fn get_interview(&self, id: kizuki_domain::ids::InterviewId) -> StoreResult<Interview>;

    /// The interviews of `case`, or every interview, oldest first.
    async fn list_interviews(&self, case: Option<CaseId>) -> StoreResult<Vec<Interview>>;

    /// Replaces the interview's body; a stale `expected_version` is
    /// [`StoreError::Conflict`] with [`Current::Version`].
    async fn update_interview(
        &self,
        id: kizuki_domain::ids::InterviewId,
        expected_version: i64,
        body: kizuki_domain::interview::InterviewBody,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<Interview>;

    /// Adds questions after the interview's last one.
    async fn add_questions(
        &self,
        id: kizuki_domain::ids::InterviewId,
        questions: Vec<NewQuestion>,
    ) -> StoreResult<Vec<Question>>;

    /// The interview's questions in order.
    async fn questions(&self, id: kizuki_domain::ids::InterviewId) -> StoreResult<Vec<Question>>;

    /// Saves a written answer (see [`SaveAnswer`]); a submitted answer is
    /// [`StoreError::Invalid`].
    async fn save_answer(&self, a: SaveAnswer) -> StoreResult<Question>;

    /// Stores an attachment whole, in one transaction.
    async fn add_attachment(&self, a: NewAttachment) -> StoreResult<Attachment>;

    /// The interview's attachments without their bytes, oldest first.
    async fn attachments(
        &self,
        id: kizuki_domain::ids::InterviewId,
    ) -> StoreResult<Vec<Attachment>>;

    /// One attachment with its bytes.
    async fn attachment(&self, id: i64) -> StoreResult<(Attachment, Vec<u8>)>;

    /// The stored template of a case category, if an editor saved one.
    async fn question_template(&self, category: &str) -> StoreResult<Option<QuestionTemplate>>;

    /// Saves a category's template against the version the editor saw (0 for none yet).
    async fn put_question_template(
        &self,
        category: &str,
        body: &str,
        expected_version: i64,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<QuestionTemplate>;

    /// Claims a notice: true for exactly one of several claimants, as with reminders.
    async fn claim_notice(&self, claim: &NoticeClaim) -> StoreResult<bool>;

    /// Marks a notice sent, if `token` still holds its claim.
    async fn notice_sent(
        &self,
        key: &NoticeKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Hands a failed notice's claim back, to be retried from `retry_at`.
    async fn release_notice(
        &self,
        key: &NoticeKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()>;

    /// The notices recorded for a record (an interview, a follow-up item), by subject.
    async fn notices(&self, of: NoticeOf) -> StoreResult<Vec<NoticeRecord>>;
}

/// The change feed every write appends to, which search indexes follow.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Committed changes after `after`, oldest first, at most `limit`.
    async fn changes_since(&self, after: i64, limit: usize) -> StoreResult<Vec<Change>>;

    /// How many committed changes come after `after`: what a follower has still to take in.
    /// Counted exactly, without reading them.
    async fn count_changes_after(&self, after: i64) -> StoreResult<u64>;
}

/// Publication: pseudonym maps, candidate decisions, sign-off and public snapshots.
#[async_trait]
pub trait PublicationStore: Send + Sync {
    /// The case's pseudonym map; an empty one at version 0 when none was saved.
    async fn pseudonym_map(&self, case: CaseId) -> StoreResult<StoredMap>;

    /// Replaces the map; `expected_version` is the one the editor saw (0 for the first save).
    async fn set_pseudonym_map(
        &self,
        case: CaseId,
        expected_version: i64,
        map: PseudonymMap,
        disclosed: Disclosed,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredMap>;

    /// Stored decisions in candidate-id order.
    async fn candidate_decisions(&self, case: CaseId) -> StoreResult<Vec<DecisionRow>>;

    /// `None` clears a decision. Decisions are independent, so the last write wins.
    async fn decide_candidate(
        &self,
        case: CaseId,
        candidate: &str,
        decision: Option<Decision>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Every sign-off transition of the case, oldest first.
    async fn signoff_history(&self, case: CaseId) -> StoreResult<Vec<Transition>>;

    /// Appends transition number `expected_len + 1`; if someone appended first it fails with
    /// [`StoreError::Conflict`]. A `publish` must carry the snapshot, written to the
    /// publications in the same transaction; a `withdraw` removes the publication.
    async fn append_signoff(
        &self,
        case: CaseId,
        expected_len: usize,
        t: Transition,
        snapshot: Option<PublicationSnapshot>,
    ) -> StoreResult<()>;

    async fn publication(&self, survey_year: i32, number: u32) -> StoreResult<Option<Publication>>;

    /// Publications of one survey (or all) in year and number order.
    async fn list_publications(&self, survey_year: Option<i32>) -> StoreResult<Vec<Publication>>;
}

/// Security records: the audit chain, MFA, recovery codes, IP allowlists and report sharing.
#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// The newest audit entry; `None` for an empty log.
    async fn audit_head(&self) -> StoreResult<Option<AuditRecord>>;

    /// Appends a sealed entry. It must extend the chain (seq = head + 1, prev_hash = head's
    /// hash); otherwise [`StoreError::Duplicate`], and the caller seals again on the new head.
    async fn audit_insert(&self, entry: AuditRecord) -> StoreResult<()>;

    /// Entries from `from_seq` on, oldest first, at most `limit`.
    async fn audit_range(&self, from_seq: u64, limit: usize) -> StoreResult<Vec<AuditRecord>>;

    /// Entries matching the query, newest first.
    async fn audit_query(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;

    /// Retention: appends `checkpoint` (which must extend the chain and cover `through`) and
    /// deletes every entry up to `through`, in one transaction.
    async fn audit_purge(&self, checkpoint: AuditRecord, through: u64) -> StoreResult<()>;

    /// The user's TOTP enrolment, confirmed or not.
    async fn mfa(&self, user: UserId) -> StoreResult<Option<MfaRecord>>;

    /// Starts (or restarts) enrolment with a new secret. Refused with
    /// [`StoreError::Invalid`] when the user has a confirmed enrolment (remove it first).
    async fn mfa_begin(&self, user: UserId, secret: &str, at: DateTime<Utc>) -> StoreResult<()>;

    /// Confirms a pending enrolment with the step of the first accepted code; `false` when
    /// there is nothing pending (already confirmed, or never begun).
    async fn mfa_confirm(&self, user: UserId, step: u64, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Compare-and-set of the last accepted step: stores `step` only if the stored value is
    /// still `expected_last` and `step` is later, so a code is accepted once even under races.
    async fn mfa_use_step(
        &self,
        user: UserId,
        expected_last: Option<u64>,
        step: u64,
    ) -> StoreResult<bool>;

    /// Removes the enrolment and its recovery codes (an admin reset).
    async fn mfa_remove(&self, user: UserId) -> StoreResult<()>;

    /// Every secret the app keeps and reads back: each user's TOTP secret and each instance
    /// secret, as stored.
    async fn stored_secrets(&self) -> StoreResult<Vec<StoredSecret>>;

    /// Replaces one kept secret if it still holds `old`; `false` when it changed meanwhile (a
    /// new enrolment), so re-sealing never overwrites something newer.
    async fn replace_secret(&self, slot: &SecretSlot, old: &[u8], new: &[u8]) -> StoreResult<bool>;

    /// Replaces the user's recovery codes with these hashes.
    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Marks the unused code with this hash used; `false` if there is none.
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<usize>;

    /// The organisation's allowlist; version 0 and no entries when never set.
    async fn org_allowlist(&self, org: OrgId) -> StoreResult<OrgAllowlist>;

    /// Replaces the allowlist if it is still at `expected_version`; otherwise
    /// [`StoreError::Invalid`] saying it was changed by someone else.
    async fn set_org_allowlist(
        &self,
        org: OrgId,
        expected_version: i64,
        entries: &str,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<OrgAllowlist>;

    async fn report_sharing(&self, report: ReportId) -> StoreResult<ReportSharing>;

    /// The sharing of each of these reports, in the order asked (an id with no report has
    /// none): what the search index reads for a batch of new reports.
    async fn reports_sharing(&self, reports: &[ReportId]) -> StoreResult<Vec<ReportSharing>>;

    /// Replaces the report's sharing lists as a new version of the report (history action
    /// `share`, its snapshot the report with its sharing), checked against
    /// `expected_version` when one is given ([`StoreError::Conflict`] with the report).
    async fn set_report_sharing(
        &self,
        report: ReportId,
        expected_version: Option<i64>,
        sharing: &ReportSharing,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report>;
}

/// The directory beyond accounts: organisations enabled or not, their points of contact, and
/// reports forwarded to organisations.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Enables or disables an organisation (a new version of it, in the change feed).
    async fn set_org_active(&self, id: OrgId, active: bool) -> StoreResult<Organisation>;

    /// The organisation's contacts; version 0 and none when never saved.
    async fn org_contacts(&self, org: OrgId) -> StoreResult<OrgContacts>;

    /// Replaces the contacts if still at `expected_version`; otherwise
    /// [`StoreError::Conflict`] with the current version.
    async fn set_org_contacts(
        &self,
        org: OrgId,
        expected_version: i64,
        contacts: &[kizuki_domain::org::Contact],
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<OrgContacts>;

    /// Records a report forwarded to each organisation of `to_orgs`, in one transaction.
    async fn forward_report(&self, f: NewForward) -> StoreResult<Vec<Forward>>;

    /// Every forward of a report, oldest first.
    async fn report_forwards(&self, report: ReportId) -> StoreResult<Vec<Forward>>;

    /// The latest forwards to an organisation, newest first.
    async fn forwards_to(&self, org: OrgId, limit: usize) -> StoreResult<Vec<Forward>>;
}

/// Lesson themes and the tags linking lessons to them.
#[async_trait]
pub trait LessonStore: Send + Sync {
    /// Every theme, retired ones too, by position then key.
    async fn list_themes(&self) -> StoreResult<Vec<StoredTheme>>;

    /// Adds a theme (`expected_version` 0; [`StoreError::Duplicate`] if the key is taken, at
    /// the end of the list) or replaces one still at `expected_version` (otherwise
    /// [`StoreError::Conflict`] with the current version).
    async fn save_theme(
        &self,
        theme: &kizuki_domain::lessons::Theme,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredTheme>;

    /// Every tag, or those of one lesson, by lesson then theme.
    async fn lesson_tags(&self, lesson: Option<&str>) -> StoreResult<Vec<LessonTag>>;

    /// Makes `themes` the lesson's themes if its themes are still `expected` (as a set);
    /// otherwise [`StoreError::Conflict`] and nothing changes. Tags kept keep their time and
    /// author. An unknown theme is [`StoreError::NotFound`].
    async fn set_lesson_themes(
        &self,
        lesson: &str,
        expected: &[String],
        themes: &[String],
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<LessonTag>>;

    /// Records an organisation's answer on a theme if its latest answer there is still the
    /// record `expected` (0: none yet); otherwise [`StoreError::Conflict`] with the latest
    /// record's id. An unknown theme is [`StoreError::NotFound`].
    async fn record_assessment(
        &self,
        org: OrgId,
        answer: &kizuki_domain::adoption::Assessment,
        expected: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<AssessmentRecord>;

    /// The latest answer of each organisation (or of one) on each theme, by organisation then
    /// theme.
    async fn current_assessments(&self, org: Option<OrgId>) -> StoreResult<Vec<AssessmentRecord>>;

    /// Every answer of an organisation on a theme, newest first.
    async fn assessment_history(
        &self,
        org: OrgId,
        theme: &str,
    ) -> StoreResult<Vec<AssessmentRecord>>;

    /// Adds a follow-up item (version 1); [`StoreError::Duplicate`] if the organisation
    /// already follows that countermeasure of the case.
    async fn create_followup(&self, new: &NewFollowUp) -> StoreResult<StoredFollowUp>;

    async fn get_followup(&self, id: kizuki_domain::ids::FollowUpId)
    -> StoreResult<StoredFollowUp>;

    /// Replaces an item still at `expected_version`; otherwise [`StoreError::Conflict`] with
    /// the current version.
    async fn update_followup(
        &self,
        id: kizuki_domain::ids::FollowUpId,
        expected_version: i64,
        item: &kizuki_domain::adoption::FollowUp,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredFollowUp>;

    /// The items of one organisation, of one case, of both or of all, by case, measure and
    /// organisation.
    async fn list_followups(
        &self,
        org: Option<OrgId>,
        case: Option<CaseId>,
    ) -> StoreResult<Vec<StoredFollowUp>>;
}

/// Stage-deadline reminders, each claimed once across nodes.
#[async_trait]
pub trait ReminderStore: Send + Sync {
    /// Claims a stage-deadline reminder for sending, atomically: inserts it if absent, or
    /// takes over a claim that was never sent, whose lease ran out and that was tried fewer
    /// than `max_attempts` times. `true` means the caller holds it and should deliver it; of
    /// several nodes claiming at once exactly one gets `true`.
    async fn claim_reminder(&self, claim: &ReminderClaim) -> StoreResult<bool>;

    /// Records the held reminder as sent; `false` when `token` no longer holds it.
    async fn reminder_sent(
        &self,
        key: &ReminderKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Hands a held reminder back after a failed delivery: nobody claims it before
    /// `retry_at`, and `error` is kept for `kizuki check`.
    async fn release_reminder(
        &self,
        key: &ReminderKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()>;

    /// Every reminder recorded for the report (sent, held or failed), in [`sort_reminders`] order.
    async fn reminders_for(&self, report: ReportId) -> StoreResult<Vec<ReminderRecord>>;

    /// Unsent reminders whose delivery failed `min_attempts` or more times, for `kizuki check`,
    /// in [`sort_reminders`] order.
    async fn failed_reminders(&self, min_attempts: u32) -> StoreResult<Vec<ReminderRecord>>;
}

/// Milliseconds until a bucket holding `tokens` and refilled at `per_minute` has a whole one.
pub fn millis_until_token(tokens: f64, per_minute: u32) -> u64 {
    if per_minute == 0 {
        return u64::MAX;
    }
    let missing = (1.0 - tokens).max(0.0);
    // Whole milliseconds, rounded up so the caller never comes back a moment too early.
    (missing * 60_000.0 / f64::from(per_minute)).ceil() as u64
}

/// Browser sessions, shared by every node, and instance-wide secrets.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session under `key`; [`StoreError::Duplicate`] if the key is taken.
    async fn insert_session(&self, key: &SessionKey, session: &SessionRecord) -> StoreResult<()>;

    /// The session stored under `key`, expired or not (the caller applies its limits).
    async fn session(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>>;

    /// Changes the fields `update` names; `false` when there is no such session.
    async fn update_session(&self, key: &SessionKey, update: &SessionUpdate) -> StoreResult<bool>;

    /// Clears the session's one-time notice and returns it, atomically: of two requests at
    /// once, one gets it.
    async fn take_session_flash(&self, key: &SessionKey) -> StoreResult<Option<String>>;

    /// Removes the session; removing one that is not there is not an error.
    async fn delete_session(&self, key: &SessionKey) -> StoreResult<()>;

    /// Takes one token from the bucket `key` that every node shares, refilled at
    /// `per_minute` and holding at most `burst` (a new bucket starts full), as of `now_ms`
    /// (milliseconds since the epoch). `None` when a token was taken; otherwise how many
    /// milliseconds until there is one. One statement, so racing nodes never both take the
    /// last token.
    async fn take_shared_token(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
        now_ms: i64,
    ) -> StoreResult<Option<u64>>;

    /// Removes every session of `user`, signed in or halfway through a login; how many.
    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64>;

    /// Removes sessions last seen before `seen_before` or created before `created_before`
    /// (idle or past their absolute limit); how many.
    async fn purge_sessions(
        &self,
        seen_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The instance-wide secret called `name`, the same on every node: the stored one, or
    /// `candidate` stored first when there is none yet (of nodes racing to create it, all get
    /// the value that was stored). The caller draws `candidate` from its own random source.
    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>>;
}

/// All persistence: the sum of the entity stores. Every write is one transaction, durable
/// when the call returns. Editable records carry a version; an update against a stale version
/// fails with [`StoreError::Conflict`] carrying the current record, so nothing is silently
/// overwritten.
#[async_trait]
pub trait Store:
    OrgStore
    + UserStore
    + TokenStore
    + ReportStore
    + CaseStore
    + SurveyStore
    + SelectionStore
    + ChangeFeed
    + PublicationStore
    + SecurityStore
    + ReminderStore
    + SessionStore
    + YearStore
    + InterviewStore
    + DirectoryStore
    + LessonStore
    + Send
    + Sync
    + 'static
{
    /// A short name for logs and `kizuki check` (e.g. `sqlite`).
    fn backend(&self) -> &'static str;

    /// Connection-pool use for `/metrics` and the pool warning; `None` when the
    /// backend has no pool to report.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// Integrity of the storage itself and of the application's invariants.
    async fn check(&self) -> StoreResult<Vec<Problem>>;
}

/// Accounts: what [`UserStore::password_state`] answers; the default (no mark, never
/// changed) for a user never given a one-time password or unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordState {
    pub must_change: bool,
    pub changed_at: Option<DateTime<Utc>>,
}

pub type DynStore = Arc<dyn Store>;

/// The entity stores, for callers of [`Store`]'s methods: `use kizuki_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CaseStore, ChangeFeed, DirectoryStore, InterviewStore, LessonStore, OrgStore,
        PublicationStore, ReminderStore, ReportStore, SecurityStore, SelectionStore, SessionStore,
        Store, SurveyStore, TokenStore, UserStore, YearStore,
    };
}

/// Checks what `append_signoff` is handed, the same way in every backend: a publish needs
/// its snapshot (and the snapshot's fingerprint must be the one published), nothing else
/// may carry one.
pub fn check_snapshot(t: &Transition, snapshot: Option<&PublicationSnapshot>) -> StoreResult<()> {
    match (&t.action, snapshot) {
        (Action::Publish { fingerprint }, Some(s)) => {
            let got = kizuki_domain::signoff::fingerprint(&s.content);
            if got == *fingerprint {
                Ok(())
            } else {
                Err(StoreError::Invalid(format!(
                    "publication snapshot is {got}, the transition publishes {fingerprint}"
                )))
            }
        }
        (Action::Publish { .. }, None) => Err(StoreError::Invalid(
            "a publish transition needs its snapshot".into(),
        )),
        (_, Some(_)) => Err(StoreError::Invalid(format!(
            "a {} transition carries no snapshot",
            t.action.code()
        ))),
        (_, None) => Ok(()),
    }
}
