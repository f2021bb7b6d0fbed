//! Follow-up of countermeasures (再発に備えた対策): an operator turns a countermeasure of a case
//! it may read into an item of its own, with an owner, a due date, a status and the evidence
//! that it is done; reminders go out before and after the due date; the centre sees how far
//! the items of each case have come. An item is read by its organisation and the centre, and
//! by nobody else, who is told it does not exist.

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::interviews::notices::{Notice, end_of, recipients, send_all};
use crate::notify::{NotifyConfig, RunSummary};
use crate::security::{audit, audit_log};
use crate::survey::cases;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use kizuki_domain::adoption::{FollowStatus, FollowUpInput};
use kizuki_domain::case::Case;
use kizuki_domain::clock::jst;
use kizuki_domain::ids::{CaseId, FollowUpId, OrgId};
use kizuki_domain::user::{Email, User};
use kizuki_store::{NewFollowUp, NoticeKey, NoticeOf, StoreError, StoredFollowUp};
use serde::Serialize;
use std::collections::BTreeMap;

/// "Due soon" goes out this long before the end of the due day: items take weeks, so a
/// day-scale warning, unlike the hours a report stage gets.
pub const DUE_SOON_LEAD: TimeDelta = TimeDelta::days(7);

/// A follow-up item with what its pages show beside it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub stored: StoredFollowUp,
    pub case_label: String,
    pub case_title: String,
    pub overdue: bool,
}

/// A case's countermeasures, each with the principal's organisation's item if it has one.
#[derive(Debug, Clone, Serialize)]
pub struct CaseMeasures {
    pub case_id: CaseId,
    pub case_label: String,
    pub case_title: String,
    /// Countermeasure text and the organisation's item for it.
    pub measures: Vec<(String, Option<StoredFollowUp>)>,
    /// Whether the principal may make and edit items (an operator's reporters and
    /// administrators).
    pub may_follow: bool,
}

/// How far the items of one case have come, for the centre.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseCompletion {
    pub case_id: i64,
    pub case_label: String,
    pub case_title: String,
    pub measures: usize,
    pub organisations: usize,
    pub items: usize,
    pub done: usize,
    pub dropped: usize,
    pub in_progress: usize,
    pub overdue: usize,
    /// Done or dropped, in percent of the items.
    pub closed_percent: Option<u32>,
}

/// The day it is in Japan, which due dates are counted in.
fn today(app: &App) -> NaiveDate {
    app.clock.now().with_timezone(&jst()).date_naive()
}

fn case_label(c: &Case) -> String {
    match c.survey_year {
        Some(y) => format!("{y}年度 事例{}", c.content.number),
        None => format!("事例{}", c.content.number),
    }
}

fn may_follow(p: &Principal) -> bool {
    p.is_operator()
}

/// Refuses anyone but an operator's staff, who keep follow-up items; decided before a body is
/// read.
pub fn require_keeper(p: &Principal) -> AppResult<()> {
    if may_follow(p) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "follow-up items are kept by operators".into(),
        ))
    }
}

/// The item, if the principal may edit it (its organisation's staff): "not found" to those
/// who may not read it, "forbidden" to the centre.
pub async fn require_editable(
    app: &App,
    p: &Principal,
    id: FollowUpId,
) -> AppResult<StoredFollowUp> {
    let item = readable(app, p, id).await?;
    if may_follow(p) && item.org == p.org_id {
        Ok(item)
    } else {
        Err(AppError::Forbidden(
            "only the organisation keeps its follow-up items".into(),
        ))
    }
}

/// The item, if the principal may read it: its organisation's members and the centre.
async fn readable(app: &App, p: &Principal, id: FollowUpId) -> AppResult<StoredFollowUp> {
    let not_found = || AppError::from(StoreError::not_found("follow-up", id));
    if !(p.is_centre() || p.is_operator()) {
        return Err(not_found());
    }
    let item = app.store.get_followup(id).await.map_err(|e| match e {
        StoreError::NotFound { .. } => not_found(),
        other => other.into(),
    })?;
    if p.is_centre() || item.org == p.org_id {
        Ok(item)
    } else {
        Err(not_found())
    }
}

async fn with_case(app: &App, stored: StoredFollowUp) -> AppResult<Item> {
    let c = app.store.get_case(stored.case).await?;
    let overdue = stored.item.overdue_on(today(app));
    Ok(Item {
        case_label: case_label(&c),
        case_title: c.content.title,
        overdue,
        stored,
    })
}

/// One item, for its page.
pub async fn get(app: &App, p: &Principal, id: FollowUpId) -> AppResult<Item> {
    let stored = readable(app, p, id).await?;
    with_case(app, stored).await
}

/// A case's countermeasures with the principal's organisation's items; the case must be one
/// the principal may read.
pub async fn measures(app: &App, p: &Principal, case: CaseId) -> AppResult<CaseMeasures> {
    let c = cases::get(app, p, case).await?;
    let mine: BTreeMap<u32, StoredFollowUp> = if p.is_operator() {
        app.store
            .list_followups(Some(p.org_id), Some(case))
            .await?
            .into_iter()
            .map(|f| (f.measure, f))
            .collect()
    } else {
        BTreeMap::new()
    };
    let measures = c
        .content
        .sections
        .countermeasures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let item = u32::try_from(i).ok().and_then(|i| mine.get(&i)).cloned();
            (m.clone(), item)
        })
        .collect();
    Ok(CaseMeasures {
        case_id: case,
        case_label: case_label(&c),
        case_title: c.content.title.clone(),
        measures,
        may_follow: may_follow(p),
    })
}

/// Makes the `measure`-th countermeasure (from 0) of a case an item of the principal's
/// organisation. Audited.
pub async fn create(
    app: &App,
    p: &Principal,
    case: CaseId,
    measure: u32,
    input: &FollowUpInput,
) -> AppResult<StoredFollowUp> {
    require_keeper(p)?;
    let c = cases::get(app, p, case).await?;
    let text = usize::try_from(measure)
        .ok()
        .and_then(|i| c.content.sections.countermeasures.get(i))
        .ok_or_else(|| StoreError::not_found("countermeasure", format!("{case}:{measure}")))?;
    let item = input.parse(text)?;
    let saved = app
        .store
        .create_followup(&NewFollowUp {
            org: p.org_id,
            case,
            measure,
            item,
            by: p.user_id,
            at: app.clock.now(),
        })
        .await?;
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        audit::actions::CHANGE,
        format!("followup:{}", saved.id),
        &serde_json::json!({"after": saved.item, "case": case, "measure": measure}),
    )
    .await?;
    Ok(saved)
}

/// Saves an edit of an item still at `expected_version`; the organisation's reporters and
/// administrators only. Audited with the item before and after.
pub async fn update(
    app: &App,
    p: &Principal,
    id: FollowUpId,
    expected_version: i64,
    input: &FollowUpInput,
) -> AppResult<StoredFollowUp> {
    let before = require_editable(app, p, id).await?;
    let item = input.parse(&before.item.measure)?;
    let saved = app
        .store
        .update_followup(id, expected_version, &item, p.user_id, app.clock.now())
        .await?;
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        audit::actions::CHANGE,
        format!("followup:{id}"),
        &serde_json::json!({"before": before.item, "after": saved.item}),
    )
    .await?;
    Ok(saved)
}

/// The principal's organisation's items, open ones first by due date.
pub async fn mine(app: &App, p: &Principal) -> AppResult<Vec<Item>> {
    require_keeper(p)?;
    let mut out = Vec::new();
    for f in app.store.list_followups(Some(p.org_id), None).await? {
        out.push(with_case(app, f).await?);
    }
    out.sort_by_key(|i| {
        (
            i.stored.item.status.is_closed(),
            i.stored.item.due.is_none(),
            i.stored.item.due,
            i.stored.id,
        )
    });
    Ok(out)
}

/// Completion of the items per case, for the centre's analysts and editors.
pub async fn completion(app: &App, p: &Principal) -> AppResult<Vec<CaseCompletion>> {
    p.require_analyst()?;
    let day = today(app);
    let mut per_case: BTreeMap<i64, (CaseCompletion, std::collections::BTreeSet<OrgId>)> =
        BTreeMap::new();
    for f in app.store.list_followups(None, None).await? {
        let (c, orgs) = per_case.entry(f.case.0).or_default();
        c.items += 1;
        orgs.insert(f.org);
        match f.item.status {
            FollowStatus::Done => c.done += 1,
            FollowStatus::Dropped => c.dropped += 1,
            FollowStatus::InProgress => c.in_progress += 1,
            FollowStatus::Planned => {}
        }
        if f.item.overdue_on(day) {
            c.overdue += 1;
        }
    }
    let mut out = Vec::new();
    for (id, (mut c, orgs)) in per_case {
        let case = app.store.get_case(CaseId(id)).await?;
        c.case_id = id;
        c.case_label = case_label(&case);
        c.case_title = case.content.title.clone();
        c.measures = case.content.sections.countermeasures.len();
        c.organisations = orgs.len();
        c.closed_percent = (c.items > 0)
            .then(|| u32::try_from((c.done + c.dropped) * 100 / c.items).unwrap_or(100));
        out.push(c);
    }
    Ok(out)
}

/// The reminders due now for one item (pure but for its inputs): "due soon" from
/// [`DUE_SOON_LEAD`] before the end of the due day, "overdue" for `overdue_window` after
/// it, each to the organisation's administrators and to the owner when the owner is written
/// as the address of one of its active users. Closed items and items without a due date get
/// none; a new due date gets its own.
pub fn plan(
    f: &StoredFollowUp,
    case_label: &str,
    users: &[User],
    now: DateTime<Utc>,
    overdue_window: TimeDelta,
    public_url: &str,
) -> Vec<Notice> {
    let Some(due) = f.item.due else {
        return Vec::new();
    };
    if f.item.status.is_closed() {
        return Vec::new();
    }
    let mut to = recipients(users, f.org, true);
    if let Some(owner) = users.iter().find(|u| {
        u.active && u.user.org_id == f.org && u.user.email.as_str() == f.item.owner.trim()
    }) {
        to.push(owner.user.email.clone());
    }
    let to = dedup(to);
    if to.is_empty() {
        return Vec::new();
    }
    let end = end_of(due);
    let link = format!("{}/followups/{}", public_url.trim_end_matches('/'), f.id);
    let (kind, subject, lead) = if now >= end && now < end + overdue_window {
        (
            "overdue",
            format!("【kizuki】対策の期限を過ぎています / Follow-up overdue: {case_label}"),
            "期限を過ぎた対策があります。 / A follow-up item is past its due date.",
        )
    } else if now < end && now >= end - DUE_SOON_LEAD {
        (
            "due_soon",
            format!("【kizuki】対策の期限が近づいています / Follow-up due soon: {case_label}"),
            "期限が近い対策があります。 / A follow-up item is due soon.",
        )
    } else {
        return Vec::new();
    };
    let body = format!(
        "{lead}\n\n{case_label}\n対策 / Countermeasure: {}\n担当 / Owner: {}\n期限 / Due: {due}\n状況 / Status: {} / {}\n\n{link}\n",
        f.item.measure,
        f.item.owner,
        f.item.status.label(kizuki_domain::taxonomy::Lang::Ja),
        f.item.status.label(kizuki_domain::taxonomy::Lang::En),
    );
    vec![Notice {
        key: NoticeKey {
            of: NoticeOf::FollowUp(f.id),
            subject: format!("{kind}-{due}"),
        },
        to,
        subject,
        body,
    }]
}

fn dedup(mut v: Vec<Email>) -> Vec<Email> {
    v.sort();
    v.dedup();
    v
}

/// One pass over the open items with a due date: plan, claim, send, record. Nothing happens
/// without SMTP.
pub async fn run_once(app: &App, cfg: &NotifyConfig, public_url: &str) -> AppResult<RunSummary> {
    if cfg.smtp.is_none() {
        return Ok(RunSummary::default());
    }
    let open: Vec<StoredFollowUp> = app
        .store
        .list_followups(None, None)
        .await?
        .into_iter()
        .filter(|f| !f.item.status.is_closed() && f.item.due.is_some())
        .collect();
    if open.is_empty() {
        return Ok(RunSummary::default());
    }
    let users = app.store.list_users().await?;
    let now = app.clock.now();
    let mut planned = Vec::new();
    let mut records = Vec::new();
    let mut labels: BTreeMap<CaseId, String> = BTreeMap::new();
    for f in &open {
        let label = match labels.get(&f.case) {
            Some(l) => l.clone(),
            None => {
                let l = case_label(&app.store.get_case(f.case).await?);
                labels.insert(f.case, l.clone());
                l
            }
        };
        let due = plan(
            f,
            &label,
            &users,
            now,
            cfg.reminders.overdue_window,
            public_url,
        );
        if !due.is_empty() {
            records.extend(app.store.notices(NoticeOf::FollowUp(f.id)).await?);
            planned.extend(due);
        }
    }
    send_all(app, cfg, planned, &records).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::{analyst_principal, demo, operator_principal, principal};

    fn input(owner: &str, due: &str, status: &str, evidence: &str) -> FollowUpInput {
        FollowUpInput {
            owner: owner.into(),
            due: due.into(),
            status: status.into(),
            evidence: evidence.into(),
        }
    }

    #[tokio::test]
    async fn items_belong_to_their_organisation_and_add_up_for_the_centre() {
        let (app, _t) = demo(71).await;
        let reporter = operator_principal(&app).await;
        let other = principal(&app, "reporter@finance.example.jp").await;
        let ministry = principal(&app, "ministry@ministry.example.jp").await;
        let analyst = analyst_principal(&app).await;
        let case = app.store.case_by_number(2019, 2).await.unwrap().unwrap();
        let n = case.content.sections.countermeasures.len();
        assert!(n >= 2, "case 2 lists its countermeasures");

        let m = measures(&app, &reporter, case.id).await.unwrap();
        assert!(m.may_follow);
        assert_eq!(m.measures.len(), n);
        assert!(m.measures.iter().all(|(_, item)| item.is_none()));

        // Due in three weeks (令和 written), then closed without evidence: refused, field named.
        let item = create(
            &app,
            &reporter,
            case.id,
            0,
            &input("admin@railway.example.jp", "令和2年2月21日", "", ""),
        )
        .await
        .unwrap();
        assert_eq!(item.item.measure, case.content.sections.countermeasures[0]);
        assert_eq!(item.item.status, FollowStatus::Planned);
        let closed = update(
            &app,
            &reporter,
            item.id,
            item.version,
            &input("admin@railway.example.jp", "2020-02-21", "done", ""),
        )
        .await;
        assert!(
            matches!(closed, Err(AppError::Validation(ref e)) if e.for_field("evidence").is_some()),
            "{closed:?}"
        );
        // A countermeasure past the end of the list is not there.
        let beyond = u32::try_from(n).unwrap();
        assert!(matches!(
            create(&app, &reporter, case.id, beyond, &input("x", "", "", "")).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
        // Another organisation and a ministry are told the item does not exist; the centre
        // reads it but does not edit it.
        for p in [&other, &ministry] {
            assert!(matches!(
                get(&app, p, item.id).await,
                Err(AppError::Store(StoreError::NotFound { .. }))
            ));
        }
        assert_eq!(get(&app, &analyst, item.id).await.unwrap().stored, item);
        assert!(matches!(
            update(&app, &analyst, item.id, 1, &input("x", "", "", "")).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            update(&app, &other, item.id, 1, &input("x", "", "", "")).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));

        // The finance operator follows the same countermeasure and another one, closes one.
        let f1 = create(
            &app,
            &other,
            case.id,
            0,
            &input("佐藤", "2020-01-31", "", ""),
        )
        .await
        .unwrap();
        create(
            &app,
            &other,
            case.id,
            1,
            &input("佐藤", "", "dropped", "該当システムなし"),
        )
        .await
        .unwrap();
        let mine_now = mine(&app, &other).await.unwrap();
        assert_eq!(mine_now.len(), 2);
        assert!(mine_now[0].overdue, "due 2020-01-31, today 2020-02-01");
        assert_eq!(mine_now[0].stored.id, f1.id);

        let done = update(
            &app,
            &reporter,
            item.id,
            item.version,
            &input(
                "admin@railway.example.jp",
                "2020-02-21",
                "done",
                "設定変更済み",
            ),
        )
        .await
        .unwrap();
        assert_eq!(done.version, 2);
        let stale = update(
            &app,
            &reporter,
            item.id,
            item.version,
            &input("admin@railway.example.jp", "2020-02-21", "in_progress", ""),
        )
        .await;
        assert!(matches!(
            stale,
            Err(AppError::Store(StoreError::Conflict { .. }))
        ));

        let c = completion(&app, &analyst).await.unwrap();
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!(c.case_id, case.id.0);
        assert_eq!((c.items, c.organisations, c.measures), (3, 2, n));
        assert_eq!((c.done, c.dropped, c.overdue), (1, 1, 1));
        assert_eq!(c.closed_percent, Some(66));
        assert!(matches!(
            completion(&app, &reporter).await,
            Err(AppError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn reminders_are_planned_before_and_after_the_due_day() {
        let (app, _t) = demo(72).await;
        let reporter = operator_principal(&app).await;
        let case = app.store.case_by_number(2019, 2).await.unwrap().unwrap();
        let item = create(
            &app,
            &reporter,
            case.id,
            0,
            &input("admin@railway.example.jp", "2020-02-10", "in_progress", ""),
        )
        .await
        .unwrap();
        let users = app.store.list_users().await.unwrap();
        let window = TimeDelta::days(30);
        let at = crate::test_support::at;
        let plan_at = |t: &str| plan(&item, "2019年度 事例2", &users, at(t), window, "https://k");
        // Two weeks ahead: nothing yet. Within a week of the end of the due day (JST): due soon.
        assert!(plan_at("2020-01-27T09:00:00+09:00").is_empty());
        let soon = plan_at("2020-02-04T09:00:00+09:00");
        assert_eq!(soon.len(), 1);
        assert_eq!(soon[0].key.subject, "due_soon-2020-02-10");
        assert!(
            soon[0]
                .body
                .contains(&format!("https://k/followups/{}", item.id))
        );
        // The owner is one of the organisation's users: the mail goes to it and the admins.
        let to: Vec<&str> = soon[0].to.iter().map(Email::as_str).collect();
        assert_eq!(to, ["admin@railway.example.jp"]);
        // The due day itself is not late; the next morning is.
        assert_eq!(
            plan_at("2020-02-10T23:59:00+09:00")[0].key.subject,
            "due_soon-2020-02-10"
        );
        assert_eq!(
            plan_at("2020-02-11T00:00:00+09:00")[0].key.subject,
            "overdue-2020-02-10"
        );
        // Past the window, and for a closed item, nothing.
        assert!(plan_at("2020-03-20T09:00:00+09:00").is_empty());
        let mut closed = item.clone();
        closed.item.status = FollowStatus::Done;
        assert!(
            plan(
                &closed,
                "",
                &users,
                at("2020-02-11T09:00:00+09:00"),
                window,
                ""
            )
            .is_empty()
        );
    }
}
