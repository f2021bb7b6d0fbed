//! Publication as services: the editor's anonymisation review, the operator's
//! sign-off of exactly the anonymised text and diagram, publishing an immutable snapshot, and
//! the public portal's reads, which only ever touch the publications table.
//!
//! The rules live in `kizuki_domain::{anonymise, signoff, access}`; this module loads what
//! they need, checks who is asking, and stores the outcome.

pub mod check;
// Publishing a survey year as editions of its annual report.
pub mod year;

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use kizuki_domain::FieldError;
use kizuki_domain::access::{self, CaseRef, Member, Resource, Viewer};
use kizuki_domain::anonymise::{
    Anonymisation, CandidateKind, Decision, Directory, Disclosed, OrgProfile, Pseudonym,
    PseudonymMap, ReidCheck, ReidPolicy, anonymise, check_reidentification,
};
use kizuki_domain::case::{Case, CaseContent};
use kizuki_domain::clock::Clock as _;
use kizuki_domain::ids::{CaseId, OrgId, UserId};
use kizuki_domain::signoff::{Fingerprint, SignOff, SignOffState, Signer, Transition, fingerprint};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_store::{DecisionRow, Publication, PublicationSnapshot, StoreError, StoredMap};
use std::collections::BTreeMap;

/// The re-identification threshold when none is configured.
pub const DEFAULT_K: usize = 3;

/// Everything the review and sign-off pages show, computed afresh from the stored case.
#[derive(Debug, Clone)]
pub struct Reviewed {
    pub case: Case,
    /// The operator whose report the case was written from; only its users may approve.
    pub source_org: Option<OrgId>,
    pub stored_map: StoredMap,
    pub decisions: Vec<DecisionRow>,
    pub anonymised: Anonymisation,
    pub reid: ReidCheck,
    pub signoff: SignOff,
    /// Fingerprint of `anonymised.output`: what the operator would approve now.
    pub current: Fingerprint,
}

impl Reviewed {
    /// The anonymised case as it would be published.
    pub fn output(&self) -> &CaseContent {
        &self.anonymised.output
    }

    /// Whether the text under sign-off is still the text computed now (an edit since sending
    /// that was not yet recorded shows as stale).
    pub fn is_current(&self) -> bool {
        self.signoff.fingerprint().is_none_or(|f| f == self.current)
    }

    fn case_ref(&self) -> CaseRef {
        let state = self.signoff.state();
        CaseRef {
            source_org: self.source_org,
            shown_to_source: state != SignOffState::Draft,
            awaiting_source: state == SignOffState::SentToOperator,
            published: state == SignOffState::Published,
        }
    }
}

async fn source_org(app: &App, case: &Case) -> AppResult<(Option<OrgId>, Vec<String>)> {
    match case.report_id {
        Some(r) => {
            let r = app.store.get_report(r).await?;
            let systems = r.details.systems.iter().map(|s| s.name.clone()).collect();
            Ok((Some(r.org_id), systems))
        }
        None => Ok((None, Vec::new())),
    }
}

/// Loads the case and runs the anonymisation with everything stored for it.
pub async fn load(app: &App, id: CaseId, k: usize) -> AppResult<Reviewed> {
    let case = app.store.get_case(id).await?;
    let (source_org, systems) = source_org(app, &case).await?;
    let orgs = app.store.list_orgs().await?;
    let users = app.store.list_users().await?;
    let directory = Directory::from_records(&orgs, &users, &systems, source_org);
    let stored_map = app.store.pseudonym_map(id).await?;
    let decisions = app.store.candidate_decisions(id).await?;
    let by_id: BTreeMap<String, Decision> = decisions
        .iter()
        .map(|d| (d.candidate.clone(), d.decision.clone()))
        .collect();
    let anonymised = anonymise(&case.content, &directory, &stored_map.map, by_id)?;
    let profiles: Vec<OrgProfile> = orgs.iter().filter_map(OrgProfile::from_org).collect();
    let policy = ReidPolicy::new(k).unwrap_or_default();
    let reid = check_reidentification(&stored_map.disclosed, &profiles, &policy);
    let signoff = SignOff::replay(app.store.signoff_history(id).await?)
        .map_err(|e| AppError::Internal(format!("case {id} sign-off history: {e}")))?;
    let current = fingerprint(&anonymised.output);
    Ok(Reviewed {
        case,
        source_org,
        stored_map,
        decisions,
        anonymised,
        reid,
        signoff,
        current,
    })
}

async fn member(app: &App, p: &Principal) -> AppResult<Viewer> {
    let user = app.store.get_user(p.user_id).await?;
    let org = app.store.get_org(p.org_id).await?;
    Member::new(&user, &org)
        .map(Viewer::Member)
        .ok_or_else(|| AppError::Forbidden("inactive user".into()))
}

async fn allow(app: &App, p: &Principal, action: access::Action, r: &Reviewed) -> AppResult<()> {
    let viewer = member(app, p).await?;
    if access::decide(&viewer, action, &Resource::Case(r.case_ref())).is_allowed() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "role {} may not {action:?} case {}",
            p.role.code(),
            r.case.id
        )))
    }
}

fn signer(p: &Principal) -> Signer {
    Signer {
        user: p.user_id,
        role: p.role,
    }
}

fn refused(e: kizuki_domain::signoff::SignOffError) -> AppError {
    AppError::Refused(e.message_ja())
}

async fn append(app: &App, id: CaseId, before: usize, t: Transition) -> AppResult<()> {
    app.store.append_signoff(id, before, t, None).await?;
    Ok(())
}

/// The editor's review screen (editors and analysts; they write cases).
pub async fn review(app: &App, p: &Principal, id: CaseId, k: usize) -> AppResult<Reviewed> {
    let r = load(app, id, k).await?;
    allow(app, p, access::Action::Edit, &r).await?;
    Ok(r)
}

/// After any change that can alter the anonymised text (the case itself, its map, a
/// decision): sends a case under sign-off back to draft when its text changed.
pub async fn content_changed(app: &App, p: &Principal, id: CaseId) -> AppResult<()> {
    let mut r = load(app, id, DEFAULT_K).await?;
    let before = r.signoff.history().len();
    let t = r
        .signoff
        .content_changed(signer(p), app.clock.as_ref(), r.current)
        .map_err(refused)?
        .cloned();
    if let Some(t) = t {
        append(app, id, before, t).await?;
    }
    Ok(())
}

/// Records the editor's decision on one candidate (`decision` = accepted / relabelled /
/// ignored / clear).
pub async fn decide(
    app: &App,
    p: &Principal,
    id: CaseId,
    candidate: &str,
    decision: &str,
    value: &str,
) -> AppResult<()> {
    let mut r = review(app, p, id, DEFAULT_K).await?;
    let d = if decision.trim() == "clear" {
        None
    } else {
        let d = Decision::parse(decision, value)?;
        // Validates against the current candidate (an accepted label must be the current
        // suggestion, a label may not contain what it replaces).
        r.anonymised.review.decide(candidate, d.clone())?;
        Some(d)
    };
    app.store
        .decide_candidate(id, candidate, d, p.user_id, app.clock.now())
        .await?;
    content_changed(app, p, id).await
}

/// Saves the manual map (`real → label` lines) and what the publication reveals.
pub async fn save_map(
    app: &App,
    p: &Principal,
    id: CaseId,
    expected_version: i64,
    entries: Vec<Pseudonym>,
    disclosed: Disclosed,
) -> AppResult<StoredMap> {
    review(app, p, id, DEFAULT_K).await?;
    let map = PseudonymMap::from_entries(entries)?;
    let saved = app
        .store
        .set_pseudonym_map(
            id,
            expected_version,
            map,
            disclosed,
            p.user_id,
            app.clock.now(),
        )
        .await?;
    content_changed(app, p, id).await?;
    Ok(saved)
}

/// Parses the map textarea: one `real => label` (or `real → label`) per line.
pub fn parse_map_lines(text: &str) -> Result<Vec<Pseudonym>, FieldError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((real, label)) = line.split_once("=>").or_else(|| line.split_once('→')) else {
            return Err(FieldError::invalid(
                "map",
                format!(
                    "{}行目: 「実名 => 仮名」の形で書いてください / line {}: write 'real => label'",
                    i + 1,
                    i + 1
                ),
            ));
        };
        out.push(Pseudonym {
            real: real.trim().to_owned(),
            label: label.trim().to_owned(),
        });
    }
    Ok(out)
}

/// What the editor may do next: send, mark publishable, publish, withdraw.
pub async fn editor_action(
    app: &App,
    p: &Principal,
    id: CaseId,
    action: &str,
    reason: &str,
) -> AppResult<SignOffState> {
    let mut r = review(app, p, id, DEFAULT_K).await?;
    let before = r.signoff.history().len();
    let by = signer(p);
    let clock = app.clock.as_ref();
    let mut snapshot = None;
    let t = match action {
        "send" => r.signoff.send(by, clock, &r.anonymised),
        "mark_publishable" => {
            if !r.is_current() {
                return Err(AppError::Refused(
                    "承認後に本文が変わっています。再送付してください".into(),
                ));
            }
            r.signoff.mark_publishable(by, clock, &r.anonymised)
        }
        "publish" => {
            if !r.is_current() {
                return Err(AppError::Refused(
                    "承認後に本文が変わっています。再送付してください".into(),
                ));
            }
            allow(app, p, access::Action::Publish, &r).await?;
            snapshot = Some(snapshot_of(&r.anonymised.output));
            r.signoff.publish(by, clock, &r.anonymised)
        }
        "withdraw" => r.signoff.withdraw(by, clock, reason),
        _ => return Err(FieldError::invalid("action", "unknown action").into()),
    }
    .map_err(refused)?
    .clone();
    let to = t.to;
    app.store.append_signoff(id, before, t, snapshot).await?;
    Ok(to)
}

/// The published snapshot: the anonymised case and its diagram as rendered now.
pub fn snapshot_of(output: &CaseContent) -> PublicationSnapshot {
    let svg = kizuki_annual_report::diagram::render_svg(output);
    PublicationSnapshot {
        content: output.clone(),
        html: format!("<figure class=\"kz-diagram\">{svg}</figure>"),
    }
}

/// The operator's sign-off page: exactly the anonymised text and diagram that was sent.
/// Readable by the source operator's users once sent, and by the centre.
pub async fn for_operator(app: &App, p: &Principal, id: CaseId) -> AppResult<Reviewed> {
    let r = load(app, id, DEFAULT_K).await?;
    // Access gives the source operator the text only while it is out of draft.
    allow(app, p, access::Action::Read, &r).await?;
    Ok(r)
}

/// Refuses unless the principal may answer case `id`'s sign-off now (its source operator,
/// while the answer is awaited); decided before a request's body is read.
pub async fn require_answer(app: &App, p: &Principal, id: CaseId) -> AppResult<()> {
    let r = load(app, id, DEFAULT_K).await?;
    allow(app, p, access::Action::Read, &r).await?;
    allow(app, p, access::Action::Approve, &r).await
}

/// The operator approves the text shown (`seen` is the fingerprint the page carried) or asks
/// for changes.
pub async fn operator_answer(
    app: &App,
    p: &Principal,
    id: CaseId,
    approve: bool,
    seen: &str,
    comments: &str,
) -> AppResult<SignOffState> {
    let mut r = load(app, id, DEFAULT_K).await?;
    allow(app, p, access::Action::Approve, &r).await?;
    let before = r.signoff.history().len();
    let by = signer(p);
    let clock = app.clock.as_ref();
    let t = if approve {
        let seen: Fingerprint = seen.parse()?;
        // The page showed text computed when it was rendered; if the case changed since,
        // that is not what is under sign-off any more.
        if seen != r.current {
            return Err(AppError::Refused(
                "表示後に本文が変更されています。ページを再読み込みしてください".into(),
            ));
        }
        r.signoff.approve(by, clock, seen)
    } else {
        r.signoff.request_changes(by, clock, comments)
    }
    .map_err(refused)?
    .clone();
    let to = t.to;
    append(app, id, before, t).await?;
    Ok(to)
}

/// Sign-off state per case id, for lists and dashboards.
pub async fn states(app: &App, ids: &[CaseId]) -> AppResult<Vec<(CaseId, SignOffState)>> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let h = app.store.signoff_history(id).await?;
        out.push((id, h.last().map(|t| t.to).unwrap_or_default()));
    }
    Ok(out)
}

// ---------------------------------------------------------------- the public portal

/// Published cases, optionally of one survey. No login: these are TLP:CLEAR by publication.
pub async fn public_cases(app: &App, year: Option<i32>) -> AppResult<Vec<Publication>> {
    Ok(app.store.list_publications(year).await?)
}

pub async fn public_case(app: &App, year: i32, number: u32) -> AppResult<Publication> {
    app.store
        .publication(year, number)
        .await?
        .ok_or_else(|| StoreError::not_found("publication", format!("{year}-{number}")).into())
}

/// Normalised substring search over published text: NFKC/width/case folding through the
/// search crate's normaliser, every whitespace-separated term required.
pub fn search(pubs: &[Publication], q: &str) -> Vec<Publication> {
    let terms: Vec<String> = q
        .split_whitespace()
        .map(kizuki_domain_fold)
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() {
        return pubs.to_vec();
    }
    pubs.iter()
        .filter(|p| {
            let text = kizuki_domain_fold(&p.content.full_text());
            terms.iter().all(|t| text.contains(t.as_str()))
        })
        .cloned()
        .collect()
}

// Width and case folding without pulling the whole search engine into the app layer:
// full-width ASCII to half-width, ideographic space to space, then lower case.
fn kizuki_domain_fold(s: &str) -> String {
    s.chars()
        .map(kizuki_domain::text::halfwidth)
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

// ---------------------------------------------------------------- demo seeding

const SYSTEM_EDITOR: &str = "system-editor@kizuki.invalid";
const SYSTEM_OPERATOR: &str = "system-operator@kizuki.invalid";
/// Not a password hash: no password verifies against it, so the system actors cannot log in.
const NO_LOGIN: &str = "!system-actor-no-login";

/// The reason stored for case 1's two dates of 2019 (docs/PUBLICATION.md §2).
pub const GW_REASON: &str = "公表済み。改元前の大型連休直前の日で、分野を問わず共通";

/// The reason stored for the 2019 reports' system names, which the report published as is.
pub const SYSTEM_REASON: &str =
    "公表済み。システムの種類を表す一般的な名称で、製品や事業者を特定しない";

async fn system_user(app: &App, email: &str, name: &str, role: Role) -> AppResult<UserId> {
    let e = Email::parse(email)?;
    if let Some(c) = app.store.credentials(&e).await? {
        return Ok(c.user.id);
    }
    let centre = crate::directory::centre_org(app)
        .await?
        .ok_or_else(|| AppError::Refused("no centre organisation to hold system actors".into()))?;
    let nu = NewUser {
        org_id: centre.id,
        email: e,
        display_name: name.into(),
        role,
        lang: Lang::Ja,
    }
    .parse()?;
    Ok(app.store.create_user(nu, NO_LOGIN).await?.id)
}

/// The service's own editor, for work done from the command line without a named user; it
/// cannot log in, and the audit log names it.
pub async fn system_editor(app: &App) -> AppResult<crate::auth::Principal> {
    let id = system_user(app, SYSTEM_EDITOR, "kizuki（編集・システム）", Role::Editor).await?;
    let user = app.store.get_user(id).await?;
    Ok(crate::auth::Principal::from_user(&user))
}

/// When a year loaded from files was published: the last day of its 年度, at 10:00 JST. The
/// files do not say, and a reader expects the sign-offs of a past year to be dated in it
/// rather than on the day the data was loaded.
pub fn loaded_year_published_at(year: i32) -> chrono::DateTime<chrono::Utc> {
    let day = chrono::NaiveDate::from_ymd_opt(year + 1, 3, 31).unwrap_or_default();
    let at = day.and_hms_opt(10, 0, 0).unwrap_or_default();
    at.and_local_timezone(kizuki_domain::clock::jst())
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

/// Who publishes a past year loaded from files: the centre's first active editor, or the
/// service's own editor when the directory has none.
pub async fn loaded_year_editor(app: &App) -> AppResult<Principal> {
    let users = app.store.list_users().await?;
    let centre = crate::directory::centre_org(app).await?.map(|o| o.id);
    match centre.and_then(|c| first_signer(&users, c, Role::Editor)) {
        Some(s) => Ok(Principal::from_user(&app.store.get_user(s.user).await?)),
        None => system_editor(app).await,
    }
}

/// The first active account with `role` in `org`, by id: who signs for a past year's
/// publication when its data is loaded. `None` when the organisation has no such account.
fn first_signer(users: &[kizuki_domain::user::User], org: OrgId, role: Role) -> Option<Signer> {
    users
        .iter()
        .filter(|u| u.active && u.user.org_id == org && u.user.role == role)
        .min_by_key(|u| u.id)
        .map(|u| Signer { user: u.id, role })
}

/// The cases of a year that was published in reality (the 2019 survey): record their
/// sign-off (send, approve, mark publishable, publish) and put them on the portal. The steps
/// are signed by the centre's first editor and the operator's first administrator where the
/// directory has them (system actors otherwise), and dated in the weeks before
/// [`loaded_year_published_at`]. Idempotent: a case that already has a history is left alone.
pub async fn seed_published(app: &App, year: i32) -> AppResult<usize> {
    let users = app.store.list_users().await?;
    let editor = Signer {
        user: loaded_year_editor(app).await?.user_id,
        role: Role::Editor,
    };
    let published = loaded_year_published_at(year);
    let clock = kizuki_domain::clock::FixedClock::new(published);
    let clock = &clock;
    let mut n = 0;
    for case in app.store.list_cases(Some(year)).await? {
        if !app.store.signoff_history(case.id).await?.is_empty() {
            continue;
        }
        let report_org = match case.report_id {
            Some(r) => Some(app.store.get_report(r).await?.org_id),
            None => None,
        };
        let operator = match report_org.and_then(|o| first_signer(&users, o, Role::OperatorAdmin)) {
            Some(s) => s,
            None => Signer {
                user: system_user(
                    app,
                    SYSTEM_OPERATOR,
                    "kizuki（事業者承認・システム）",
                    Role::OperatorAdmin,
                )
                .await?,
                role: Role::OperatorAdmin,
            },
        };
        // Sent four weeks before publication, approved a week later, then a week per step.
        clock.set(published - chrono::Duration::days(28));
        let mut r = load(app, case.id, DEFAULT_K).await?;
        for c in r.anonymised.review.unresolved() {
            // Only the era-change dates and the reports' system names (already generic in the
            // published report, e.g. 共同利用型基幹システム) are expected here; anything else
            // stays unresolved and the case stays off the portal, the safe outcome.
            let reason = match c.kind {
                CandidateKind::Date => GW_REASON,
                CandidateKind::System => SYSTEM_REASON,
                _ => continue,
            };
            app.store
                .decide_candidate(
                    case.id,
                    &c.id,
                    Some(Decision::Ignored(reason.into())),
                    editor.user,
                    clock.now(),
                )
                .await?;
        }
        r = load(app, case.id, DEFAULT_K).await?;
        if !r.anonymised.publishable() {
            tracing::warn!(case = %case.id, "2019 case not publishable; left unpublished");
            continue;
        }
        let mut s = SignOff::new();
        let week = || clock.advance(chrono::Duration::days(7));
        let sent = s
            .send(editor, clock, &r.anonymised)
            .map_err(refused)?
            .clone();
        week();
        let approved = s
            .approve(operator, clock, r.current)
            .map_err(refused)?
            .clone();
        week();
        let publishable = s
            .mark_publishable(editor, clock, &r.anonymised)
            .map_err(refused)?
            .clone();
        clock.set(published);
        let publish = s
            .publish(editor, clock, &r.anonymised)
            .map_err(refused)?
            .clone();
        let steps: [Transition; 4] = [sent, approved, publishable, publish];
        for (i, t) in steps.into_iter().enumerate() {
            let snap = (i == 3).then(|| snapshot_of(&r.anonymised.output));
            app.store.append_signoff(case.id, i, t, snap).await?;
        }
        n += 1;
    }
    Ok(n)
}

/// Parses the disclosed attributes from the review form (empty = not revealed).
pub fn disclosed_from(sector: &str, region: &str) -> Disclosed {
    let code = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| Code(s.to_owned()))
    };
    // Without a period `new` cannot fail.
    Disclosed::new(code(sector), code(region), None).unwrap_or_default()
}

/// Cases whose anonymised text awaits the principal's organisation's answer, for the
/// operator's dashboard.
pub async fn awaiting_operator(app: &App, p: &Principal) -> AppResult<Vec<Case>> {
    if !p.is_operator() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for case in app.store.list_cases(None).await? {
        let Some(report) = case.report_id else {
            continue;
        };
        let history = app.store.signoff_history(case.id).await?;
        if history.last().map(|t| t.to) != Some(SignOffState::SentToOperator) {
            continue;
        }
        if app.store.get_report(report).await?.org_id == p.org_id {
            out.push(case);
        }
    }
    Ok(out)
}
