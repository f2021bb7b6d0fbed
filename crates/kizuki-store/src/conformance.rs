//! The conformance suite: behaviour every [`Store`] backend must show, written against the
//! trait only. Backends run it with [`conformance_suite!`](crate::conformance_suite), one
//! test per behaviour, each on a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::*;
use chrono::{Duration, TimeZone};
use kizuki_domain::case::{Actor, ActorKind, Lesson, Sections, Step};
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::org::OrgKind;
use kizuki_domain::report::{Impact, SystemRef};
use kizuki_domain::survey::{CommonLesson, Criterion};
use kizuki_domain::taxonomy::{Code, Lang, Severity, Tlp};
use kizuki_domain::user::Role;

// Selection.
mod selection;
pub use selection::{selection_overrides_round_trip, selections_save_confirm_and_conflict};

// Publication.
mod publication;
pub use publication::{
    pseudonym_map_is_versioned_and_decisions_round_trip, signoff_appends_publishes_and_withdraws,
};

// Write throughput.
mod batch;
pub use batch::{
    concurrent_creates_all_commit, concurrent_failure_spares_others, create_reports_in_one_batch,
    create_reports_is_all_or_none,
};

// Reminders.
mod reminders;
pub use reminders::{concurrent_reminder_claims_one_wins, reminders_are_claimed_once};
mod publication_check;
pub use publication_check::check_leaves_unapproved_publications_to_the_app;

// Security.
mod security;
pub use security::{
    audit_log_appends_only_in_chain, audit_purge_needs_a_checkpoint,
    kept_secrets_are_listed_and_replaced_only_if_unchanged, list_visibility_agrees_with_decide,
    mfa_enrol_confirm_and_step_cas, org_allowlist_is_versioned, recovery_codes_are_single_use,
    report_sharing_round_trip,
};

// Accounts.
mod accounts;
pub use accounts::users_disable_and_must_change_password;

// Browser sessions in the database (shared by every node).
mod sessions;
pub use sessions::{
    concurrent_instance_secret_calls_agree, delete_user_sessions_ends_signed_in_and_pending,
    instance_secret_is_made_once, purge_sessions_removes_idle_and_too_old,
    session_key_is_the_sha256_of_the_id, session_updates_change_only_named_fields,
    sessions_round_trip, shared_buckets_refill_cap_and_refuse,
};

// The survey year: dropped cases, reopened selections, cooperation records, editions.
mod year;
pub use year::{
    concurrent_cooperation_appends_one_wins, concurrent_publishes_get_their_own_numbers,
    cooperation_history_appends_in_order, drop_case_takes_it_out_of_its_survey,
    editions_are_numbered_and_kept_whole, reopened_selection_makes_way_for_another,
};

// Organisations enabled or not, their contacts, forwarded reports.
mod directory;
mod lessons;
pub use directory::{
    contacts_are_versioned, forwards_are_kept_per_report_and_recipient,
    orgs_are_disabled_and_enabled_as_versions,
};
pub use lessons::{
    followups_are_one_per_measure_and_versioned, lesson_tags_change_only_from_what_was_seen,
    lesson_themes_are_versioned_and_ordered,
    self_assessments_keep_history_and_refuse_stale_answers,
};

// Interviews with the operators of selected cases.
mod interviews;
pub use interviews::{
    added_questions_number_after_the_last, answers_go_from_draft_to_submitted_once,
    attachments_round_trip_byte_for_byte, concurrent_notice_claims_one_wins,
    interview_notices_are_claimed_once, interview_update_conflicts_on_a_stale_version,
    interviews_round_trip_with_questions_and_body, question_templates_are_versioned,
};

/// Generates one `#[tokio::test]` per behaviour. `$factory` is an async fn returning
/// `Option<F>` with `F: Borrow<DynStore>`: a fresh empty store, or a value holding one together
/// with what it lives in (a directory, a schema), kept until the test ends; or `None` to skip
/// (it should say why).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@each $factory;
            orgs_round_trip,
            org_update_conflict,
            users_round_trip,
            report_round_trip,
            report_update_and_conflict,
            concurrent_updates_one_wins,
            stages_append_in_order,
            report_status_and_history,
            list_filters_and_pages,
            reports_are_found_by_the_year_they_occurred,
            the_feed_counts_what_comes_after,
            cases_round_trip_and_conflict,
            surveys_round_trip_and_conflict,
            change_feed_in_commit_order,
            a_follower_misses_nothing_while_many_write,
            not_found_is_reported,
            fresh_store_checks_clean,
            user_lang_is_remembered,
            user_role_is_changed,
            tokens_round_trip_and_revoke,
            token_holder_is_token_user_org_and_allowlist,
            many_reports_read_at_once,
            report_links_round_trip,
            // Selection.
            selection_overrides_round_trip,
            selections_save_confirm_and_conflict,
            // Security.
            audit_log_appends_only_in_chain,
            audit_purge_needs_a_checkpoint,
            mfa_enrol_confirm_and_step_cas,
            kept_secrets_are_listed_and_replaced_only_if_unchanged,
            recovery_codes_are_single_use,
            org_allowlist_is_versioned,
            report_sharing_round_trip,
            list_visibility_agrees_with_decide,
            // Publication.
            pseudonym_map_is_versioned_and_decisions_round_trip,
            signoff_appends_publishes_and_withdraws,
            // Reminders.
            reminders_are_claimed_once,
            concurrent_reminder_claims_one_wins,
            check_leaves_unapproved_publications_to_the_app,
            // Accounts.
            users_disable_and_must_change_password,
            // Browser sessions in the database (shared by every node).
            sessions_round_trip,
            session_key_is_the_sha256_of_the_id,
            session_updates_change_only_named_fields,
            delete_user_sessions_ends_signed_in_and_pending,
            purge_sessions_removes_idle_and_too_old,
            instance_secret_is_made_once,
            concurrent_instance_secret_calls_agree,
            shared_buckets_refill_cap_and_refuse,
            // Write throughput.
            create_reports_in_one_batch,
            create_reports_is_all_or_none,
            concurrent_creates_all_commit,
            concurrent_failure_spares_others,
            // The survey year.
            drop_case_takes_it_out_of_its_survey,
            reopened_selection_makes_way_for_another,
            cooperation_history_appends_in_order,
            concurrent_cooperation_appends_one_wins,
            editions_are_numbered_and_kept_whole,
            concurrent_publishes_get_their_own_numbers,
            // Interviews.
            interviews_round_trip_with_questions_and_body,
            interview_update_conflicts_on_a_stale_version,
            added_questions_number_after_the_last,
            answers_go_from_draft_to_submitted_once,
            attachments_round_trip_byte_for_byte,
            question_templates_are_versioned,
            interview_notices_are_claimed_once,
            concurrent_notice_claims_one_wins,
            // The directory beyond accounts.
            orgs_are_disabled_and_enabled_as_versions,
            contacts_are_versioned,
            forwards_are_kept_per_report_and_recipient,
            // Lesson themes.
            lesson_themes_are_versioned_and_ordered,
            lesson_tags_change_only_from_what_was_seen,
            // Self-assessments and countermeasure follow-up.
            self_assessments_keep_history_and_refuse_stale_answers,
            followups_are_one_per_measure_and_versioned
        );
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(fresh) = $factory().await else { return };
                let store: $crate::DynStore = ::std::clone::Clone::clone(
                    ::std::borrow::Borrow::<$crate::DynStore>::borrow(&fresh),
                );
                $crate::conformance::$name(store).await;
                drop(fresh);
            }
        )*
    };
}

/// A fixed instant with microseconds, the precision every backend keeps.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 4, 26, 1, 2, 3).unwrap() + Duration::microseconds(456_789)
}

fn code(s: &str) -> Code {
    Code(s.to_owned())
}

pub fn new_org(key: &str, sector: &str) -> NewOrganisation {
    NewOrganisation {
        key: key.to_owned(),
        name: format!("{key} 株式会社"),
        kind: OrgKind::Operator,
        sectors: vec![code(sector)],
        region: Some(code("kanto")),
    }
}

pub fn details(title: &str, sector: &str) -> ReportDetails {
    ReportDetails {
        title: title.to_owned(),
        sector: code(sector),
        region: Some(code("kanto")),
        affected_service: "予約サービス".to_owned(),
        occurred_at: Some(t0() - Duration::hours(3)),
        detected_at: Some(t0() - Duration::hours(2)),
        event_type: code("unavailability"),
        causes: vec![code("vulnerability"), code("equipment-failure")],
        severity: Some(Severity::new(2).unwrap()),
        impact: Impact {
            people_affected: Some(1200),
            duration_minutes: Some(90),
            actual_harm: true,
            description: "予約画面で日付が誤表示".to_owned(),
        },
        systems: vec![SystemRef {
            name: "共同利用型基幹システム".to_owned(),
            vendor: Some("システムベンダA".to_owned()),
            shared: true,
        }],
        vendors: vec!["システムベンダA".to_owned()],
        tlp: Tlp::Amber,
        summary: "改元後の日付が1989年と表示された。".to_owned(),
    }
}

pub fn first_stage(at: DateTime<Utc>) -> NewStage {
    NewStage {
        kind: StageKind::First,
        at,
        text: "第一報です。".to_owned(),
        author: None,
    }
}

async fn file(store: &dyn Store, org: OrgId, title: &str, at: DateTime<Utc>) -> Report {
    store
        .create_report(NewReport {
            org_id: org,
            details: details(title, "railway"),
            first: first_stage(at),
        })
        .await
        .unwrap()
}

pub fn case_content(number: u32) -> CaseContent {
    let actor = |key: &str, kind, group: Option<&str>| Actor {
        key: key.to_owned(),
        label: format!("{key}ラベル"),
        kind,
        group: group.map(str::to_owned),
    };
    let step = |n: u32, actors: &[&str]| Step {
        number: n,
        text: format!("手順{n}"),
        actors: actors.iter().map(|s| (*s).to_owned()).collect(),
        time: None,
    };
    CaseContent {
        number,
        category: code("system-failure"),
        title: format!("事例{number}の題名"),
        impact: "影響".to_owned(),
        cause: "原因".to_owned(),
        overview: vec!["概要1".into(), "概要2".into(), "概要3".into()],
        actors: vec![
            actor("op", ActorKind::Operator, None),
            actor("sys", ActorKind::Department, Some("op")),
            actor("vendor", ActorKind::Vendor, None),
        ],
        steps: vec![step(1, &["vendor"]), step(2, &["vendor", "op"])],
        responses: vec![step(1, &["sys"]), step(2, &["sys", "vendor"])],
        sections: Sections {
            background: vec!["背景".into()],
            detection: vec!["検知".into()],
            response: vec!["対処".into()],
            cause: vec!["原因".into()],
            countermeasures: vec!["対策".into()],
        },
        lessons: vec![Lesson {
            title: "教訓".into(),
            text: "本文".into(),
        }],
    }
}

pub fn survey_content(year: i32) -> SurveyContent {
    SurveyContent {
        fiscal_year: FiscalYear::new(year).unwrap(),
        title: format!("{year}年度 補完調査"),
        period_start: chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap(),
        period_end: chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap(),
        purpose: "目的".into(),
        method: "運営".into(),
        criteria_intro: "選定基準".into(),
        criteria: vec![Criterion {
            key: "actual-harm".into(),
            label: "実害の有無".into(),
            label_en: "Actual harm".into(),
            description: String::new(),
            main: true,
            weight: 1.0,
        }],
        remarks: vec![],
        common_lessons: vec![CommonLesson {
            title: "共通".into(),
            category: code("system-failure"),
            text: "共通の教訓".into(),
            cases: vec![1],
        }],
    }
}

async fn an_org(store: &dyn Store) -> Organisation {
    store.create_org(new_org("op-a", "railway")).await.unwrap()
}

pub async fn orgs_round_trip(store: DynStore) {
    let a = store.create_org(new_org("op-a", "railway")).await.unwrap();
    let b = store.create_org(new_org("op-b", "finance")).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.version, 1);
    assert_eq!(store.get_org(a.id).await.unwrap(), a);
    assert_eq!(store.org_by_key("op-b").await.unwrap(), Some(b.clone()));
    assert_eq!(store.org_by_key("nope").await.unwrap(), None);
    let all = store.list_orgs().await.unwrap();
    assert_eq!(all, vec![a.clone(), b]);
    let dup = store.create_org(new_org("op-a", "gas")).await;
    assert!(
        matches!(dup, Err(StoreError::Duplicate { .. })),
        "duplicate key must be refused: {dup:?}"
    );
}

pub async fn org_update_conflict(store: DynStore) {
    let a = an_org(store.as_ref()).await;
    let mut changed = a.org.clone();
    changed.name = "改名後".into();
    let a2 = store.update_org(a.id, 1, changed.clone()).await.unwrap();
    assert_eq!(a2.version, 2);
    assert_eq!(a2.org.name, "改名後");
    let mut stale = a.org.clone();
    stale.name = "古い編集".into();
    match store.update_org(a.id, 1, stale).await {
        Err(StoreError::Conflict {
            current: Current::Organisation(cur),
            ..
        }) => assert_eq!(*cur, a2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get_org(a.id).await.unwrap().org.name, "改名後");
}

pub async fn users_round_trip(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let email = Email::parse("Ana@Example.jp").unwrap();
    let nu = NewUser {
        org_id: org.id,
        email: email.clone(),
        display_name: "報告 アナ".into(),
        role: Role::Reporter,
        lang: Lang::Ja,
    };
    let u = store
        .create_user(nu.clone(), "$argon2id$hash1")
        .await
        .unwrap();
    assert!(u.active);
    assert_eq!(u.user, nu);
    assert_eq!(store.get_user(u.id).await.unwrap(), u);
    let c = store.credentials(&email).await.unwrap().unwrap();
    assert_eq!(c.user, u);
    assert_eq!(c.password_hash, "$argon2id$hash1");
    store
        .set_password_hash(u.id, "$argon2id$hash2")
        .await
        .unwrap();
    let c = store.credentials(&email).await.unwrap().unwrap();
    assert_eq!(c.password_hash, "$argon2id$hash2");
    let other = Email::parse("nobody@example.jp").unwrap();
    assert!(store.credentials(&other).await.unwrap().is_none());
    let dup = store.create_user(nu, "x").await;
    assert!(matches!(dup, Err(StoreError::Duplicate { .. })), "{dup:?}");
    let bad_org = NewUser {
        org_id: OrgId(987_654),
        email: Email::parse("x@example.jp").unwrap(),
        display_name: "x".into(),
        role: Role::Reporter,
        lang: Lang::En,
    };
    assert!(store.create_user(bad_org, "x").await.is_err());
    let listed = store.list_users().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user, u.user);
}

pub async fn report_round_trip(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "日付の誤表示", t0()).await;
    assert_eq!(r.version, 1);
    assert_eq!(r.org_id, org.id);
    assert_eq!(r.status, ReportStatus::New);
    assert_eq!(r.reported_at, t0());
    assert_eq!(r.details, details("日付の誤表示", "railway"));
    assert_eq!(r.stages.len(), 1);
    assert_eq!(r.stages[0].seq, 1);
    assert_eq!(r.stages[0].kind, StageKind::First);
    assert_eq!(r.stages[0].at, t0());
    assert_eq!(r.case_id, None);
    assert_eq!(store.get_report(r.id).await.unwrap(), r);
    let missing_org = store
        .create_report(NewReport {
            org_id: OrgId(424_242),
            details: details("x", "railway"),
            first: first_stage(t0()),
        })
        .await;
    assert!(
        missing_org.is_err(),
        "a report needs an existing organisation"
    );
}

pub async fn report_update_and_conflict(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "初報", t0()).await;
    let mut d = r.details.clone();
    d.title = "更新後".into();
    d.causes = vec![code("user-error")];
    d.severity = None;
    let later = t0() + Duration::minutes(5);
    let r2 = store
        .update_report(r.id, 1, d.clone(), None, later)
        .await
        .unwrap();
    assert_eq!(r2.version, 2);
    assert_eq!(r2.details, d);
    assert_eq!(r2.updated_at, later);
    let mut stale = r.details.clone();
    stale.title = "古い画面からの保存".into();
    match store.update_report(r.id, 1, stale, None, later).await {
        Err(StoreError::Conflict {
            current: Current::Report(cur),
            ..
        }) => assert_eq!(*cur, r2, "the conflict carries the current record"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.get_report(r.id).await.unwrap(),
        r2,
        "nothing was overwritten"
    );
}

pub async fn concurrent_updates_one_wins(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "同時編集", t0()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        let mut d = r.details.clone();
        d.title = format!("編集{i}");
        tasks.push(tokio::spawn(async move {
            s.update_report(r.id, 1, d, None, t0()).await
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(
        (ok, conflicts),
        (1, 7),
        "exactly one stale-version writer may win"
    );
    assert_eq!(store.get_report(r.id).await.unwrap().version, 2);
}

pub async fn stages_append_in_order(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "段階", t0()).await;
    let follow = NewStage {
        kind: StageKind::FollowUp,
        at: t0() + Duration::hours(5),
        text: "続報".into(),
        author: None,
    };
    let r2 = store.add_stage(r.id, follow).await.unwrap();
    let fin = NewStage {
        kind: StageKind::Final,
        at: t0() + Duration::days(20),
        text: "最終報".into(),
        author: None,
    };
    let r3 = store.add_stage(r.id, fin).await.unwrap();
    assert_eq!(r2.version, 2);
    assert_eq!(r3.version, 3);
    let kinds: Vec<_> = r3.stages.iter().map(|s| (s.seq, s.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (1, StageKind::First),
            (2, StageKind::FollowUp),
            (3, StageKind::Final)
        ]
    );
    assert_eq!(r3.stages[2].at, t0() + Duration::days(20));
    assert!(r3.has_final());
    assert!(
        store
            .add_stage(ReportId(999_999), first_stage(t0()))
            .await
            .is_err()
    );
}

pub async fn report_status_and_history(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "履歴", t0()).await;
    let r2 = store
        .set_report_status(r.id, 1, ReportStatus::Triaged, None, t0())
        .await
        .unwrap();
    assert_eq!(r2.status, ReportStatus::Triaged);
    assert!(matches!(
        store
            .set_report_status(r.id, 1, ReportStatus::Closed, None, t0())
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let mut d = r2.details.clone();
    d.title = "履歴2".into();
    store.update_report(r.id, 2, d, None, t0()).await.unwrap();
    let h = store.report_history(r.id).await.unwrap();
    let versions: Vec<i64> = h.iter().map(|e| e.version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert!(
        h[2].snapshot.contains("履歴2"),
        "snapshot holds the new state"
    );
}

pub async fn list_filters_and_pages(store: DynStore) {
    let a = store.create_org(new_org("op-a", "railway")).await.unwrap();
    let b = store.create_org(new_org("op-b", "finance")).await.unwrap();
    // FY2018 ends 2019-03-31 JST; 2019-03-31T15:00Z is 2019-04-01 JST, so FY2019.
    let fy18 = Utc.with_ymd_and_hms(2019, 3, 31, 14, 0, 0).unwrap();
    let fy19 = Utc.with_ymd_and_hms(2019, 3, 31, 15, 0, 0).unwrap();
    let r1 = file(store.as_ref(), a.id, "r1", fy18).await;
    let r2 = file(store.as_ref(), a.id, "r2", fy19).await;
    let mut d = details("r3", "finance");
    d.causes = vec![code("suspicious-mail")];
    d.event_type = code("malware");
    d.severity = Some(Severity::new(4).unwrap());
    d.tlp = Tlp::Red;
    let r3 = store
        .create_report(NewReport {
            org_id: b.id,
            details: d,
            first: first_stage(fy19 + Duration::days(1)),
        })
        .await
        .unwrap();
    store
        .set_report_status(r2.id, 1, ReportStatus::Closed, None, fy19)
        .await
        .unwrap();

    let ids = |p: Paged<Report>| p.items.iter().map(|r| r.id).collect::<Vec<_>>();
    let all = store
        .list_reports(&ReportFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        ids(all),
        vec![r3.id, r2.id, r1.id],
        "newest first by default"
    );

    let q = |f: ReportFilter| {
        let s = store.clone();
        async move { ids(s.list_reports(&f, Page::default()).await.unwrap()) }
    };
    assert_eq!(
        q(ReportFilter {
            fiscal_year: Some(2018),
            ..Default::default()
        })
        .await,
        vec![r1.id]
    );
    assert_eq!(
        q(ReportFilter {
            fiscal_year: Some(2019),
            ..Default::default()
        })
        .await,
        vec![r3.id, r2.id]
    );
    assert_eq!(
        q(ReportFilter {
            sector: Some("finance".into()),
            ..Default::default()
        })
        .await,
        vec![r3.id]
    );
    assert_eq!(
        q(ReportFilter {
            cause: Some("vulnerability".into()),
            ..Default::default()
        })
        .await,
        vec![r2.id, r1.id]
    );
    assert_eq!(
        q(ReportFilter {
            event_type: Some("malware".into()),
            ..Default::default()
        })
        .await,
        vec![r3.id]
    );
    assert_eq!(
        q(ReportFilter {
            severity: Some(4),
            ..Default::default()
        })
        .await,
        vec![r3.id]
    );
    assert_eq!(
        q(ReportFilter {
            status: Some(ReportStatus::Closed),
            ..Default::default()
        })
        .await,
        vec![r2.id]
    );
    assert_eq!(
        q(ReportFilter {
            tlp: Some(Tlp::Red),
            ..Default::default()
        })
        .await,
        vec![r3.id]
    );
    assert_eq!(
        q(ReportFilter {
            org_id: Some(a.id),
            sort: ReportSort::ReportedAsc,
            ..Default::default()
        })
        .await,
        vec![r1.id, r2.id]
    );
    assert_eq!(
        q(ReportFilter {
            visible_orgs: Some(vec![b.id]),
            ..Default::default()
        })
        .await,
        vec![r3.id]
    );
    assert_eq!(
        q(ReportFilter {
            visible_orgs: Some(vec![]),
            ..Default::default()
        })
        .await,
        Vec::<ReportId>::new(),
        "an empty visibility list shows nothing"
    );
    assert_eq!(
        q(ReportFilter {
            sort: ReportSort::SeverityDesc,
            ..Default::default()
        })
        .await[0],
        r3.id
    );
    let p2 = store
        .list_reports(&ReportFilter::default(), Page::new(2, 2))
        .await
        .unwrap();
    assert_eq!(p2.total, 3);
    assert_eq!(p2.pages(), 2);
    assert_eq!(ids(p2), vec![r1.id]);
}

pub async fn reports_are_found_by_the_year_they_occurred(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let filed = Utc.with_ymd_and_hms(2019, 5, 1, 0, 0, 0).unwrap();
    let occurred = |title: &str, at: Option<DateTime<Utc>>| {
        let mut d = details(title, "railway");
        d.occurred_at = at;
        NewReport {
            org_id: org.id,
            details: d,
            first: first_stage(filed),
        }
    };
    // 23:30 on 31 March and 00:30 on 1 April 2019 in Japan: either side of the 年度 boundary.
    let last_of_fy18 = Utc.with_ymd_and_hms(2019, 3, 31, 14, 30, 0).unwrap();
    let first_of_fy19 = Utc.with_ymd_and_hms(2019, 3, 31, 15, 30, 0).unwrap();
    let r1 = store
        .create_report(occurred("before", Some(last_of_fy18)))
        .await
        .unwrap();
    let r2 = store
        .create_report(occurred("after", Some(first_of_fy19)))
        .await
        .unwrap();
    let r3 = store
        .create_report(occurred("unknown", None))
        .await
        .unwrap();
    let bulk = store
        .create_reports(vec![occurred("bulk", Some(last_of_fy18))])
        .await
        .unwrap();
    let q = |filed_in: Option<i32>, occurred_in: Option<i32>| {
        let s = store.clone();
        async move {
            let f = ReportFilter {
                fiscal_year: filed_in,
                occurred_fiscal_year: occurred_in,
                ..Default::default()
            };
            let mut ids: Vec<ReportId> = s
                .list_reports(&f, Page::default())
                .await
                .unwrap()
                .items
                .iter()
                .map(|r| r.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(q(Some(2019), None).await.len(), 4, "all filed in FY2019");
    assert_eq!(q(None, Some(2018)).await, vec![r1.id, bulk[0].id]);
    assert_eq!(q(None, Some(2019)).await, vec![r2.id]);
    assert_eq!(q(Some(2018), Some(2018)).await, Vec::<ReportId>::new());
    // An edit moves a report between years, or out of all of them.
    let mut d = r2.details.clone();
    d.occurred_at = None;
    store.update_report(r2.id, 1, d, None, filed).await.unwrap();
    let mut d = r3.details.clone();
    d.occurred_at = Some(Utc.with_ymd_and_hms(2020, 1, 10, 0, 0, 0).unwrap());
    store.update_report(r3.id, 1, d, None, filed).await.unwrap();
    assert_eq!(q(None, Some(2019)).await, vec![r3.id]);
    assert_eq!(q(None, Some(2018)).await, vec![r1.id, bulk[0].id]);
}

pub async fn the_feed_counts_what_comes_after(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let all = store.changes_since(0, 100_000).await.unwrap();
    let head = all.last().map_or(0, |c| c.seq);
    assert_eq!(
        store.count_changes_after(0).await.unwrap(),
        all.len() as u64
    );
    assert_eq!(store.count_changes_after(head).await.unwrap(), 0);
    for n in 0..3 {
        file(store.as_ref(), org.id, &format!("feed {n}"), t0()).await;
    }
    let since = store.changes_since(head, 100_000).await.unwrap();
    assert!(since.len() >= 3, "{since:?}");
    assert_eq!(
        store.count_changes_after(head).await.unwrap(),
        since.len() as u64
    );
    assert_eq!(
        store.count_changes_after(since[0].seq).await.unwrap(),
        since.len() as u64 - 1
    );
    assert_eq!(store.count_changes_after(i64::MAX).await.unwrap(), 0);
}

pub async fn cases_round_trip_and_conflict(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "事例の元", t0()).await;
    let c1 = store
        .create_case(Some(2019), Some(r.id), case_content(1), None, t0())
        .await
        .unwrap();
    let c2 = store
        .create_case(Some(2019), None, case_content(2), None, t0())
        .await
        .unwrap();
    assert_eq!(c1.version, 1);
    assert_eq!(c1.content, case_content(1));
    assert_eq!(store.get_case(c1.id).await.unwrap(), c1);
    assert_eq!(
        store.case_by_number(2019, 2).await.unwrap(),
        Some(c2.clone())
    );
    assert_eq!(store.case_by_number(2019, 3).await.unwrap(), None);
    assert_eq!(
        store.get_report(r.id).await.unwrap().case_id,
        Some(c1.id),
        "the report knows its case"
    );
    let dup = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await;
    assert!(matches!(dup, Err(StoreError::Duplicate { .. })), "{dup:?}");
    let unnumbered = store
        .create_case(None, None, case_content(1), None, t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .list_cases(Some(2019))
            .await
            .unwrap()
            .iter()
            .map(|c| c.content.number)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(store.list_cases(None).await.unwrap().len(), 3);
    let mut edited = c1.content.clone();
    edited.title = "編集後".into();
    let c1b = store
        .update_case(c1.id, 1, edited, None, t0())
        .await
        .unwrap();
    assert_eq!(c1b.version, 2);
    let mut stale = c1.content.clone();
    stale.lessons.push(Lesson {
        title: "別の教訓".into(),
        text: "古い版から".into(),
    });
    match store.update_case(c1.id, 1, stale, None, t0()).await {
        Err(StoreError::Conflict {
            current: Current::Case(cur),
            ..
        }) => assert_eq!(*cur, c1b),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let h = store.case_history(c1.id).await.unwrap();
    assert_eq!(h.len(), 2);
    drop(unnumbered);
}

pub async fn surveys_round_trip_and_conflict(store: DynStore) {
    let s = store.create_survey(survey_content(2019)).await.unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(s.content, survey_content(2019));
    assert_eq!(store.get_survey(2019).await.unwrap(), s);
    assert!(matches!(
        store.create_survey(survey_content(2019)).await,
        Err(StoreError::Duplicate { .. })
    ));
    store.create_survey(survey_content(2020)).await.unwrap();
    let mut c = s.content.clone();
    c.purpose = "新しい目的".into();
    let s2 = store.update_survey(1, c).await.unwrap();
    assert_eq!(s2.version, 2);
    match store.update_survey(1, survey_content(2019)).await {
        Err(StoreError::Conflict {
            current: Current::Survey(cur),
            ..
        }) => assert_eq!(*cur, s2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let years: Vec<i32> = store
        .list_surveys()
        .await
        .unwrap()
        .iter()
        .map(|s| s.content.fiscal_year.year())
        .collect();
    assert_eq!(years, vec![2019, 2020]);
}

pub async fn change_feed_in_commit_order(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let start = store
        .changes_since(0, 1000)
        .await
        .unwrap()
        .last()
        .map_or(0, |c| c.seq);
    let r = file(store.as_ref(), org.id, "変更", t0()).await;
    store
        .add_stage(
            r.id,
            NewStage {
                kind: StageKind::FollowUp,
                at: t0(),
                text: "続報".into(),
                author: None,
            },
        )
        .await
        .unwrap();
    let c = store
        .create_case(None, None, case_content(1), None, t0())
        .await
        .unwrap();
    let ch = store.changes_since(start, 1000).await.unwrap();
    let seen: Vec<(Entity, i64)> = ch.iter().map(|c| (c.entity, c.id)).collect();
    assert_eq!(
        seen,
        vec![
            (Entity::Report, r.id.0),
            (Entity::Report, r.id.0),
            (Entity::Case, c.id.0)
        ]
    );
    assert!(ch.windows(2).all(|w| w[0].seq < w[1].seq));
    let limited = store.changes_since(start, 2).await.unwrap();
    assert_eq!(limited.len(), 2);
    let rest = store.changes_since(limited[1].seq, 1000).await.unwrap();
    assert_eq!(rest.len(), 1);
}

/// A follower that polls the feed while eight writers file reports at once must see every
/// change exactly once, in the same order a later full read gives: a number that became
/// visible only after a larger one would be skipped by the follower and found by the re-read.
pub async fn a_follower_misses_nothing_while_many_write(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let start = store
        .changes_since(0, 100_000)
        .await
        .unwrap()
        .last()
        .map_or(0, |c| c.seq);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = {
        let (s, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = Vec::new();
            loop {
                // Read the flag before polling: a poll that starts after the writers finished
                // and comes back empty means the feed is drained.
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let batch = s.changes_since(cursor, 17).await.unwrap();
                for c in &batch {
                    assert!(c.seq > cursor, "feed went back from {cursor} to {}", c.seq);
                    cursor = c.seq;
                    seen.push((c.seq, c.entity, c.id));
                }
                if batch.is_empty() {
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8 {
        let s = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                ids.push(
                    file(s.as_ref(), org.id, &format!("並行{w}-{i}"), t0())
                        .await
                        .id
                        .0,
                );
            }
            ids
        }));
    }
    let mut filed = Vec::new();
    for w in writers {
        filed.extend(w.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = follower.await.unwrap();
    let reread: Vec<(i64, Entity, i64)> = store
        .changes_since(start, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.seq, c.entity, c.id))
        .collect();
    assert_eq!(seen, reread, "the follower and a later full read disagree");
    let mut reported: Vec<i64> = seen
        .iter()
        .filter(|(_, e, _)| *e == Entity::Report)
        .map(|(_, _, id)| *id)
        .collect();
    reported.sort_unstable();
    filed.sort_unstable();
    assert_eq!(
        reported, filed,
        "each filed report is one change, seen once"
    );
}

pub async fn not_found_is_reported(store: DynStore) {
    assert!(matches!(
        store.get_report(ReportId(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_case(CaseId(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_survey(2019).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_org(OrgId(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_user(UserId(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .update_report(ReportId(1), 1, details("x", "railway"), None, t0())
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn fresh_store_checks_clean(store: DynStore) {
    let problems = store.check().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let org = an_org(store.as_ref()).await;
    file(store.as_ref(), org.id, "x", t0()).await;
    assert!(store.check().await.unwrap().is_empty());
}

async fn a_user(store: &dyn Store, org: OrgId, email: &str) -> User {
    store
        .create_user(
            NewUser {
                org_id: org,
                email: Email::parse(email).unwrap(),
                display_name: "利用者".into(),
                role: Role::Analyst,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap()
}

pub async fn user_lang_is_remembered(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let u = a_user(store.as_ref(), org.id, "lang@example.jp").await;
    assert_eq!(u.user.lang, Lang::Ja);
    let u2 = store.set_user_lang(u.id, Lang::En).await.unwrap();
    assert_eq!(u2.user.lang, Lang::En);
    assert_eq!(store.get_user(u.id).await.unwrap().user.lang, Lang::En);
    let c = store
        .credentials(&Email::parse("lang@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c.user.user.lang,
        Lang::En,
        "credentials see the new language"
    );
    assert!(matches!(
        store.set_user_lang(UserId(987_654), Lang::En).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn user_role_is_changed(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let u = a_user(store.as_ref(), org.id, "role@example.jp").await;
    assert_eq!(u.user.role, Role::Analyst);
    let u2 = store.set_user_role(u.id, Role::Editor).await.unwrap();
    assert_eq!(u2.user.role, Role::Editor);
    assert!(u2.version > u.version);
    assert_eq!(store.get_user(u.id).await.unwrap().user.role, Role::Editor);
    assert!(matches!(
        store.set_user_role(UserId(987_654), Role::Editor).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn token_holder_is_token_user_org_and_allowlist(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let u = a_user(store.as_ref(), org.id, "holder@example.jp").await;
    let t = store
        .create_token(NewToken {
            user_id: u.id,
            label: "holder".into(),
            hash: "dd44".into(),
            at: t0(),
        })
        .await
        .unwrap();
    assert!(store.token_holder("ee55").await.unwrap().is_none());
    let h = store.token_holder("dd44").await.unwrap().unwrap();
    assert_eq!(h.token, t);
    assert_eq!(h.user, u);
    assert_eq!(h.org, store.get_org(org.id).await.unwrap());
    assert_eq!(h.allowlist, store.org_allowlist(org.id).await.unwrap());
    assert_eq!(h.allowlist.entries, "", "no allowlist yet");
    store
        .set_org_allowlist(org.id, 0, "192.0.2.0/24", Some(u.id), t0())
        .await
        .unwrap();
    let h = store.token_holder("dd44").await.unwrap().unwrap();
    assert_eq!(h.allowlist.entries, "192.0.2.0/24");
    assert_eq!(h.allowlist.org_id, org.id);
    // The caller judges revoked tokens and inactive users: they are still given back.
    store.set_user_active(u.id, false).await.unwrap();
    store.revoke_token(t.id, t0()).await.unwrap();
    let h = store.token_holder("dd44").await.unwrap().unwrap();
    assert!(!h.user.active);
    assert!(!h.token.is_active());
}

pub async fn many_reports_read_at_once(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    assert!(store.get_reports(&[]).await.unwrap().is_empty());
    let mut made = Vec::new();
    for (i, title) in ["一", "二", "三"].into_iter().enumerate() {
        let mut d = details(title, "railway");
        if i == 1 {
            d.causes.clear();
        }
        let r = store
            .create_report(NewReport {
                org_id: org.id,
                details: d,
                first: first_stage(t0() + Duration::minutes(i as i64)),
            })
            .await
            .unwrap();
        made.push(r);
    }
    let r = store
        .add_stage(
            made[2].id,
            NewStage {
                kind: StageKind::FollowUp,
                at: t0() + Duration::hours(1),
                text: "続報".into(),
                author: None,
            },
        )
        .await
        .unwrap();
    made[2] = r;
    let missing = ReportId(made[2].id.0 + 1000);
    // Asked out of order, with a repeat and an id that has no report.
    let ids = [made[2].id, missing, made[0].id, made[1].id, made[0].id];
    let got = store.get_reports(&ids).await.unwrap();
    assert_eq!(got, made, "the existing reports once each, in id order");
    for r in &made {
        assert_eq!(store.get_report(r.id).await.unwrap(), *r);
        // The first history entry is the report as filed, under its own id.
        let first = &store.report_history(r.id).await.unwrap()[0];
        assert_eq!(first.action, "create");
        let own_id = format!("{{\"id\":{},\"version\":1,", r.id.0);
        assert!(first.snapshot.starts_with(&own_id), "{}", first.snapshot);
        assert!(
            first.snapshot.contains(&r.details.title),
            "{}",
            first.snapshot
        );
        assert!(
            first.snapshot.contains("第一報です。"),
            "{}",
            first.snapshot
        );
    }
}

pub async fn tokens_round_trip_and_revoke(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let u = a_user(store.as_ref(), org.id, "tok@example.jp").await;
    let t = store
        .create_token(NewToken {
            user_id: u.id,
            label: "CI".into(),
            hash: "aa11".into(),
            at: t0(),
        })
        .await
        .unwrap();
    assert_eq!(t.user_id, u.id);
    assert_eq!(t.label, "CI");
    assert_eq!(t.created_at, t0());
    assert!(t.is_active());
    assert_eq!(store.token_by_hash("aa11").await.unwrap(), Some(t.clone()));
    assert_eq!(store.token_by_hash("bb22").await.unwrap(), None);
    let dup = store
        .create_token(NewToken {
            user_id: u.id,
            label: "again".into(),
            hash: "aa11".into(),
            at: t0(),
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Duplicate { .. })), "{dup:?}");
    let t2 = store
        .create_token(NewToken {
            user_id: u.id,
            label: "second".into(),
            hash: "cc33".into(),
            at: t0() + Duration::minutes(1),
        })
        .await
        .unwrap();
    assert_eq!(t2.first_used_at, None);
    let used = t0() + Duration::minutes(5);
    assert!(store.note_token_first_use(t2.id, used).await.unwrap());
    assert!(
        !store
            .note_token_first_use(t2.id, used + Duration::minutes(1))
            .await
            .unwrap(),
        "only the first use is the first"
    );
    assert_eq!(
        store
            .token_by_hash("cc33")
            .await
            .unwrap()
            .unwrap()
            .first_used_at,
        Some(used)
    );
    let later = t0() + Duration::hours(1);
    let r = store.revoke_token(t.id, later).await.unwrap();
    assert_eq!(r.revoked_at, Some(later));
    let again = store
        .revoke_token(t.id, later + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(later), "the first revocation stands");
    assert!(
        !store
            .token_by_hash("aa11")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    let listed = store.list_tokens(u.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![t.id, t2.id]
    );
    assert!(matches!(
        store.revoke_token(987_654, later).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn report_links_round_trip(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let a = file(store.as_ref(), org.id, "a", t0()).await;
    let b = file(store.as_ref(), org.id, "b", t0()).await;
    let c = file(store.as_ref(), org.id, "c", t0()).await;
    let link = |from: ReportId, to: ReportId, kind| ReportLink {
        from,
        to,
        kind,
        at: t0(),
        by: None,
    };
    store
        .link_reports(link(a.id, b.id, LinkKind::Related))
        .await
        .unwrap();
    store
        .link_reports(link(c.id, a.id, LinkKind::SameIncident))
        .await
        .unwrap();
    let la = store.report_links(a.id).await.unwrap();
    assert_eq!(la.len(), 2);
    assert_eq!(la[0].other(a.id), b.id);
    assert_eq!(la[1].other(a.id), c.id);
    assert_eq!(la[1].kind, LinkKind::SameIncident);
    // Re-linking the pair the other way round replaces the link rather than adding one.
    store
        .link_reports(link(b.id, a.id, LinkKind::Duplicate))
        .await
        .unwrap();
    let lb = store.report_links(b.id).await.unwrap();
    assert_eq!(lb.len(), 1);
    assert_eq!(
        (lb[0].from, lb[0].to, lb[0].kind),
        (b.id, a.id, LinkKind::Duplicate)
    );
    assert!(matches!(
        store
            .link_reports(link(a.id, a.id, LinkKind::Related))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .link_reports(link(a.id, ReportId(987_654), LinkKind::Related))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    store.unlink_reports(a.id, b.id).await.unwrap();
    assert_eq!(store.report_links(b.id).await.unwrap(), vec![]);
    assert_eq!(store.report_links(a.id).await.unwrap().len(), 1);
}
