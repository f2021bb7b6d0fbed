//! The operators' cooperation with the selected cases: the centre asks the operator of each
//! selected case (requested), the operator agrees or declines (recorded by the operator in
//! the app or by the centre after a call); a declined case leaves the survey and the best
//! candidate that keeps the selection's balance rules is offered in its place.
//!
//! Who sees a case's record: the centre's content staff, and the users of the organisation
//! whose report the case was written from. Everyone else is told it does not exist.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use crate::selection::decisions::Decision;
use crate::selection::{SelectionRequest, propose};
use crate::survey::authoring::{self, CaseStart};
use chrono::NaiveDate;
use kizuki_domain::case::Case;
use kizuki_domain::clock::jst_date;
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_domain::selection::OverrideInput;
use kizuki_domain::taxonomy::Code;
use kizuki_domain::user::Role;
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{
    CooperationRecord, CooperationStatus, NewCooperation, SelectionStatus, StoreError,
};
use serde::Serialize;
use std::collections::BTreeSet;

const MAX_CONTACT: usize = 200;
const MAX_REASON: usize = 2000;

/// Who is looking at a case's cooperation record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The centre's analysts and editors.
    Centre,
    /// A user of the operator whose report the case is.
    Operator,
}

/// The side `p` is on for case `c`, or "not found" (of a thing called `what`, so the answer
/// names what was asked for).
pub(crate) async fn side_of(
    app: &App,
    p: &Principal,
    c: &Case,
    what: &'static str,
) -> AppResult<Side> {
    match side(app, p, c).await {
        Err(AppError::Store(StoreError::NotFound { .. })) => {
            Err(StoreError::not_found(what, c.id).into())
        }
        other => other,
    }
}

/// The side `p` is on for case `c`, or "not found".
async fn side(app: &App, p: &Principal, c: &Case) -> AppResult<Side> {
    if matches!(p.role, Role::Analyst | Role::Editor) {
        return Ok(Side::Centre);
    }
    if p.is_operator() {
        let source = auth::case_ref(app, c).await?.source_org;
        if source == Some(p.org_id) {
            return Ok(Side::Operator);
        }
    }
    Err(StoreError::not_found("cooperation", c.id).into())
}

/// A case's cooperation record as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CooperationView {
    pub case_id: CaseId,
    pub survey_year: Option<i32>,
    pub number: u32,
    pub title: String,
    pub report_id: Option<ReportId>,
    /// Oldest first.
    pub history: Vec<CooperationRecord>,
    /// The latest status; `None` before the centre has asked.
    pub status: Option<CooperationStatus>,
    /// Whether the viewer is the centre (who may also record a request).
    pub centre: bool,
}

/// The record of case `id`, for the centre or the case's own operator.
pub async fn view(app: &App, p: &Principal, id: CaseId) -> AppResult<CooperationView> {
    let c = match app.store.get_case(id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => {
            return Err(StoreError::not_found("cooperation", id).into());
        }
        Err(e) => return Err(e.into()),
    };
    let side = side(app, p, &c).await?;
    let history = app.store.cooperation_history(id).await?;
    Ok(CooperationView {
        case_id: c.id,
        survey_year: c.survey_year,
        number: c.content.number,
        title: c.content.title.clone(),
        report_id: c.report_id,
        status: history.last().map(|r| r.status),
        history,
        centre: side == Side::Centre,
    })
}

/// An entry as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub status: CooperationStatus,
    pub on: NaiveDate,
    pub contact: String,
    pub reason: String,
}

impl Entry {
    /// Reads the form or API fields; errors name `status`, `on`, `contact`, `reason`.
    pub fn parse(status: &str, on: &str, contact: &str, reason: &str) -> AppResult<Entry> {
        let mut errs = ValidationErrors::default();
        let st = CooperationStatus::parse(status.trim());
        if st.is_none() {
            errs.push(FieldError::invalid(
                "status",
                "依頼・同意・辞退のどれかを選んでください / choose requested, agreed or declined",
            ));
        }
        let day = kizuki_domain::wareki::parse_date_strict(on.trim()).ok();
        if day.is_none() {
            errs.push(FieldError::invalid(
                "on",
                format!("日付「{on}」が読めません / not a date"),
            ));
        }
        let contact = contact.trim().to_owned();
        if contact.chars().count() > MAX_CONTACT {
            errs.push(FieldError::invalid(
                "contact",
                format!("{MAX_CONTACT}文字以内で / at most {MAX_CONTACT} characters"),
            ));
        }
        let reason = reason.trim().to_owned();
        if reason.chars().count() > MAX_REASON {
            errs.push(FieldError::invalid(
                "reason",
                format!("{MAX_REASON}文字以内で / at most {MAX_REASON} characters"),
            ));
        }
        if st == Some(CooperationStatus::Declined) && reason.is_empty() {
            errs.push(FieldError::invalid(
                "reason",
                "辞退の理由を書いてください / a decline needs its reason",
            ));
        }
        match (st, day) {
            (Some(status), Some(on)) if errs.is_empty() => Ok(Entry {
                status,
                on,
                contact,
                reason,
            }),
            _ => Err(errs.into()),
        }
    }
}

/// What recording an entry did.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub record: CooperationRecord,
    /// For a decline: the case left the survey, and this is offered in its place (`None`
    /// when no candidate keeps the rules, or the survey has no selection to keep).
    pub replacement: Option<Replacement>,
}

/// Records `entry` on case `id`, based on the `expected_seq` entries the writer saw. The
/// centre records any status; the operator answers (agree or decline) once asked. A decline
/// takes the case out of its survey — refused while a common lesson cites it.
pub async fn record(
    app: &App,
    p: &Principal,
    id: CaseId,
    expected_seq: u32,
    entry: Entry,
) -> AppResult<Recorded> {
    let v = view(app, p, id).await?;
    if !v.centre {
        if entry.status == CooperationStatus::Requested {
            return Err(AppError::Forbidden(
                "協力の依頼はセンターが記録します / the centre records requests".into(),
            ));
        }
        if v.status != Some(CooperationStatus::Requested) {
            return Err(AppError::Refused(
                "この事例への協力はまだ依頼されていないか、すでに回答済みです / nothing is awaiting your answer".into(),
            ));
        }
    }
    append(app, p, id, expected_seq, entry).await
}

/// Appends `entry` to case `id`'s history for a caller whose right to has been decided (the
/// answer to an interview request goes through here too). A decline takes the case out of its
/// survey — refused while a common lesson cites it or while it is published.
pub(crate) async fn append(
    app: &App,
    p: &Principal,
    id: CaseId,
    expected_seq: u32,
    entry: Entry,
) -> AppResult<Recorded> {
    let c = app.store.get_case(id).await?;
    let year = c.survey_year;
    if entry.status == CooperationStatus::Declined {
        refuse_unless_declinable(app, &c).await?;
    }
    let record = app
        .store
        .append_cooperation(NewCooperation {
            case_id: id,
            expected_seq,
            status: entry.status,
            on: entry.on,
            contact: entry.contact,
            reason: entry.reason,
            by: Some(p.user_id),
            at: app.clock.now(),
        })
        .await?;
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::CHANGE,
        format!("case:{id}"),
        &serde_json::json!({"cooperation": record}),
    )
    .await?;
    let mut replacement = None;
    if let (CooperationStatus::Declined, Some(y)) = (entry.status, year) {
        app.store
            .drop_case(id, c.version, Some(p.user_id), app.clock.now())
            .await?;
        replacement = offer(app, y).await?;
    }
    Ok(Recorded {
        record,
        replacement,
    })
}

/// Refuses a decline of case `c` the survey cannot take: the case is no longer in a survey,
/// a common lesson cites it, or it is published.
pub(crate) async fn refuse_unless_declinable(app: &App, c: &Case) -> AppResult<()> {
    let Some(y) = c.survey_year else {
        return Err(AppError::Refused(
            "この事例はすでに調査から外れています / the case is no longer in a survey".into(),
        ));
    };
    crate::survey::year::refuse_if_cited(app, y, c.content.number).await?;
    // A published case stays on the portal under its number; it is withdrawn through
    // sign-off first, so the portal and the survey never disagree.
    if auth::case_ref(app, c).await?.published {
        return Err(AppError::Refused(
            "公開済みの事例は、先に公開を取り下げてから辞退を記録してください / withdraw the publication first".into(),
        ));
    }
    Ok(())
}

/// A candidate offered in place of a declined case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replacement {
    pub report_id: ReportId,
    pub title: String,
    pub category: Option<Code>,
    /// Why the rules pick it: the selection's own explanation.
    pub why: String,
    /// The same in English.
    pub why_en: String,
}

/// The survey's selection that decides (the confirmed one, else the latest).
async fn deciding(app: &App, year: i32) -> AppResult<Option<Decision>> {
    let all = app.store.list_selections(year).await?;
    let s = all
        .iter()
        .find(|s| s.status == SelectionStatus::Confirmed)
        .or_else(|| all.first());
    match s {
        Some(s) => Ok(Some(serde_json::from_str(&s.snapshot).map_err(|e| {
            AppError::Internal(format!("selection {} snapshot: {e}", s.id))
        })?)),
        None => Ok(None),
    }
}

/// The best candidate to take the place of the cases that left: the selection's rules run
/// again with the survey's remaining cases pinned and every report whose case left excluded,
/// for as many cases as the selection chose. `None` when nothing is missing, there is no
/// selection, or no candidate keeps the rules.
async fn offer(app: &App, year: i32) -> AppResult<Option<Replacement>> {
    let Some(decision) = deciding(app, year).await? else {
        return Ok(None);
    };
    let in_survey: BTreeSet<ReportId> = app
        .store
        .list_cases(Some(year))
        .await?
        .iter()
        .filter_map(|c| c.report_id)
        .collect();
    let mut rules = decision.rules.clone();
    let candidates: BTreeSet<ReportId> = decision
        .ranking
        .candidates
        .iter()
        .map(|c| c.report_id)
        .collect();
    // Reports the selection chose that are no longer cases of the survey: declined.
    let gone: Vec<ReportId> = decision
        .selection
        .chosen
        .iter()
        .map(|c| c.report_id)
        .filter(|r| !in_survey.contains(r))
        .collect();
    if gone.is_empty() {
        return Ok(None);
    }
    rules.pinned = in_survey
        .iter()
        .filter(|r| candidates.contains(r))
        .map(|r| r.0)
        .collect();
    rules.excluded.extend(gone.iter().map(|r| r.0));
    rules.excluded.sort_unstable();
    rules.excluded.dedup();
    let req = SelectionRequest {
        fiscal_year: year,
        rules,
        overrides: decision
            .overrides
            .iter()
            .map(|o| OverrideInput {
                report_id: o.report_id.0,
                key: o.key.clone(),
                value: i64::from(o.value),
                reason: o.reason.clone(),
            })
            .collect(),
        category_map: None,
        options: decision.options,
    };
    let proposal = match propose(app, &req, None).await {
        Ok(p) => p,
        // No candidate keeps the rules: nothing to offer, the page says so.
        Err(AppError::Validation(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(pick) = proposal
        .selection
        .chosen
        .iter()
        .find(|c| !in_survey.contains(&c.report_id))
    else {
        return Ok(None);
    };
    let category = proposal
        .ranking
        .candidates
        .iter()
        .find(|c| c.report_id == pick.report_id)
        .and_then(|c| c.category.clone());
    let title = app.store.get_report(pick.report_id).await?.details.title;
    Ok(Some(Replacement {
        report_id: pick.report_id,
        title,
        category,
        why: pick.why.clone(),
        why_en: pick.why_en.clone(),
    }))
}

/// The replacement on offer for survey `year` now (analysts).
pub async fn replacement(app: &App, p: &Principal, year: i32) -> AppResult<Option<Replacement>> {
    p.require_analyst()?;
    app.store.get_survey(year).await?;
    offer(app, year).await
}

/// Accepts the replacement offered for `year`: its case is started from the report, and the
/// centre's request for cooperation recorded on it (dated today, Japan time). A report that
/// is not the one on offer is refused, so a stale page cannot add another.
pub async fn accept_replacement(
    app: &App,
    p: &Principal,
    year: i32,
    report: ReportId,
    contact: &str,
) -> AppResult<Case> {
    p.require_analyst()?;
    let Some(offered) = offer(app, year).await? else {
        return Err(AppError::Refused(
            "いま提示できる代わりの事例はありません / no replacement is on offer".into(),
        ));
    };
    if offered.report_id != report {
        return Err(FieldError::invalid(
            "report_id",
            format!(
                "提示中の代わりの事例は報告{}です / the replacement on offer is report {}",
                offered.report_id, offered.report_id
            ),
        )
        .into());
    }
    let c = authoring::create(
        app,
        p,
        year,
        CaseStart {
            reports: vec![report],
            category: offered.category,
        },
    )
    .await?;
    request(app, p, c.id, contact).await?;
    Ok(c)
}

/// Records the centre's request for cooperation on a new case (dated today, Japan time).
pub async fn request(
    app: &App,
    p: &Principal,
    id: CaseId,
    contact: &str,
) -> AppResult<CooperationRecord> {
    let seen = u32::try_from(app.store.cooperation_history(id).await?.len()).unwrap_or(u32::MAX);
    let entry = Entry {
        status: CooperationStatus::Requested,
        on: jst_date(app.clock.now()),
        contact: contact.trim().to_owned(),
        reason: String::new(),
    };
    Ok(record(app, p, id, seen, entry).await?.record)
}

/// The principal's organisation's cases whose cooperation the centre has asked for and that
/// await its answer, for the operator's dashboard.
pub async fn awaiting(app: &App, p: &Principal) -> AppResult<Vec<Case>> {
    if !p.is_operator() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for case in app.store.list_cases(None).await? {
        let Some(report) = case.report_id else {
            continue;
        };
        if case.survey_year.is_none() {
            continue;
        }
        let last = app.store.cooperation_history(case.id).await?.pop();
        if last.map(|r| r.status) != Some(CooperationStatus::Requested) {
            continue;
        }
        if app.store.get_report(report).await?.org_id == p.org_id {
            out.push(case);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_domain::case::CaseContent;

    async fn case_in(app: &App, year: i32, number: u32) -> Case {
        let mut content: CaseContent = app
            .store
            .list_cases(Some(2019))
            .await
            .unwrap()
            .remove(0)
            .content;
        content.number = number;
        app.store
            .create_case(Some(year), None, content, None, app.clock.now())
            .await
            .unwrap()
    }

    fn entry(status: CooperationStatus, reason: &str) -> Entry {
        Entry {
            status,
            on: NaiveDate::from_ymd_opt(2020, 2, 3).unwrap(),
            contact: "担当".into(),
            reason: reason.into(),
        }
    }

    #[tokio::test]
    async fn a_cited_case_cannot_be_declined_a_stale_entry_conflicts_and_a_decline_drops_the_case()
    {
        let (app, _t) = crate::test_support::demo(41).await;
        let p = crate::test_support::analyst_principal(&app).await;
        // Case 1 of 2019 is cited by a common lesson.
        let one = app.store.case_by_number(2019, 1).await.unwrap().unwrap();
        request(&app, &p, one.id, "").await.unwrap();
        let err = record(&app, &p, one.id, 1, entry(CooperationStatus::Declined, "x"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("事例1"), "{err}");
        // A case of its own: declined, it leaves the survey.
        let c = case_in(&app, 2019, 9).await;
        request(&app, &p, c.id, "総務部").await.unwrap();
        assert!(matches!(
            record(&app, &p, c.id, 0, entry(CooperationStatus::Agreed, "")).await,
            Err(AppError::Store(StoreError::Conflict { .. }))
        ));
        let done = record(
            &app,
            &p,
            c.id,
            1,
            entry(CooperationStatus::Declined, "多忙"),
        )
        .await
        .unwrap();
        assert_eq!(done.record.seq, 2);
        assert_eq!(app.store.get_case(c.id).await.unwrap().survey_year, None);
        let v = view(&app, &p, c.id).await.unwrap();
        assert_eq!(v.status, Some(CooperationStatus::Declined));
        assert_eq!(v.history.len(), 2);
    }

    #[test]
    fn a_decline_needs_a_reason_and_dates_may_be_wareki() {
        let e = Entry::parse("agreed", "令和2年2月3日", "", "").unwrap();
        assert_eq!(e.on, NaiveDate::from_ymd_opt(2020, 2, 3).unwrap());
        let Err(AppError::Validation(errs)) = Entry::parse("declined", "someday", "", "") else {
            panic!("bad entry");
        };
        assert!(errs.for_field("reason").is_some(), "{errs}");
        assert!(errs.for_field("on").is_some(), "{errs}");
        let Err(AppError::Validation(errs)) = Entry::parse("maybe", "2020-01-01", "", "") else {
            panic!("bad status");
        };
        assert!(errs.for_field("status").is_some(), "{errs}");
    }
}
