//! Conformance for the security records: the audit log only ever extends its chain
//! and is purged only behind a checkpoint; MFA steps are compare-and-set; recovery codes are
//! single-use; allowlists are versioned; sharing lists round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{new_org, t0};
use crate::*;
use chrono::Duration;
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::Role;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry that links after `prev`; the store checks linkage, not the hash's content, so a
/// readable stand-in hash is enough here.
fn entry(prev: Option<&AuditRecord>, action: &str, detail: &str) -> AuditRecord {
    let (seq, prev_hash) = match prev {
        Some(p) => (p.seq + 1, p.hash.clone()),
        None => (1, GENESIS.to_owned()),
    };
    AuditRecord {
        seq,
        at: t0() + Duration::seconds(i64::try_from(seq).unwrap()),
        actor: "user:1".into(),
        action: action.into(),
        target: format!("report:{seq}"),
        detail: detail.into(),
        prev_hash,
        hash: format!("{seq:064x}"),
    }
}

async fn a_user(store: &dyn Store, key: &str) -> User {
    let org = store.create_org(new_org(key, "electricity")).await.unwrap();
    store
        .create_user(
            NewUser {
                org_id: org.id,
                email: Email::parse(&format!("{key}@example.jp")).unwrap(),
                display_name: key.into(),
                role: Role::Analyst,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap()
}

pub async fn audit_log_appends_only_in_chain(store: DynStore) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    let mut prev: Option<AuditRecord> = None;
    let mut all = Vec::new();
    for i in 0..5 {
        let action = if i % 2 == 0 {
            "auth.login"
        } else {
            "record.read"
        };
        let e = entry(prev.as_ref(), action, "{\"ip\":\"192.0.2.1\"}");
        store.audit_insert(e.clone()).await.unwrap();
        all.push(e.clone());
        prev = Some(e);
    }
    assert_eq!(store.audit_head().await.unwrap().as_ref(), all.last());
    assert_eq!(store.audit_range(1, 100).await.unwrap(), all);
    assert_eq!(store.audit_range(4, 1).await.unwrap(), vec![all[3].clone()]);

    // A second writer sealing on a stale head, or skipping a seq, is refused.
    let stale = entry(Some(&all[3]), "auth.login", "{}");
    assert!(matches!(
        store.audit_insert(stale).await,
        Err(StoreError::Duplicate { .. })
    ));
    let mut gap = entry(prev.as_ref(), "auth.login", "{}");
    gap.seq += 1;
    assert!(store.audit_insert(gap).await.is_err());
    let mut wrong_link = entry(prev.as_ref(), "auth.login", "{}");
    wrong_link.prev_hash = GENESIS.into();
    assert!(store.audit_insert(wrong_link).await.is_err());
    assert_eq!(store.audit_range(1, 100).await.unwrap(), all);

    // Newest first, filtered.
    let logins = store
        .audit_query(&AuditQuery {
            action: Some("auth.login".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        logins.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 3, 1]
    );
    let page = store
        .audit_query(&AuditQuery {
            before_seq: Some(5),
            limit: 2,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 3]);
    let by_target = store
        .audit_query(&AuditQuery {
            target: Some("report:2".into()),
            actor: Some("user:1".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_target, vec![all[1].clone()]);
}

pub async fn audit_purge_needs_a_checkpoint(store: DynStore) {
    let mut prev: Option<AuditRecord> = None;
    for _ in 0..4 {
        let e = entry(prev.as_ref(), "auth.login", "{}");
        store.audit_insert(e.clone()).await.unwrap();
        prev = Some(e);
    }
    let head = prev.unwrap();
    // A checkpoint covering only 1 cannot be used to delete through 2.
    let cp = entry(
        Some(&head),
        "audit.checkpoint",
        &format!("{{\"purged_through\":1,\"hash\":\"{:064x}\"}}", 1),
    );
    assert!(store.audit_purge(cp, 2).await.is_err());
    assert_eq!(store.audit_range(1, 100).await.unwrap().len(), 4);

    let cp = entry(
        Some(&head),
        "audit.checkpoint",
        &format!("{{\"purged_through\":2,\"hash\":\"{:064x}\"}}", 2),
    );
    store.audit_purge(cp.clone(), 2).await.unwrap();
    let left = store.audit_range(1, 100).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert_eq!(store.audit_head().await.unwrap(), Some(cp));
}

/// The app re-seals kept secrets (on upgrade, on key rotation) by listing them and replacing
/// each only if it still holds what was read, so a concurrent new enrolment wins.
pub async fn kept_secrets_are_listed_and_replaced_only_if_unchanged(store: DynStore) {
    let a = a_user(store.as_ref(), "kept-a").await;
    let b = a_user(store.as_ref(), "kept-b").await;
    store
        .mfa_begin(a.id, "JBSWY3DPEHPK3PXP", t0())
        .await
        .unwrap();
    store
        .mfa_begin(b.id, "GEZDGNBVGY3TQOJQ", t0())
        .await
        .unwrap();
    let csrf = store.instance_secret("csrf", &[1, 2, 3]).await.unwrap();
    assert_eq!(csrf, vec![1, 2, 3]);

    let kept = store.stored_secrets().await.unwrap();
    let slots: Vec<&SecretSlot> = kept.iter().map(|k| &k.slot).collect();
    assert!(slots.contains(&&SecretSlot::Totp(a.id)), "{slots:?}");
    assert!(slots.contains(&&SecretSlot::Totp(b.id)), "{slots:?}");
    assert!(
        slots.contains(&&SecretSlot::Instance("csrf".into())),
        "{slots:?}"
    );
    let of_a = kept
        .iter()
        .find(|k| k.slot == SecretSlot::Totp(a.id))
        .unwrap();
    assert_eq!(of_a.value, b"JBSWY3DPEHPK3PXP");
    assert!(!format!("{of_a:?}").contains("JBSW"), "secret in Debug");

    let slot = SecretSlot::Totp(a.id);
    assert!(
        store
            .replace_secret(&slot, b"JBSWY3DPEHPK3PXP", b"sealed:a")
            .await
            .unwrap()
    );
    assert_eq!(store.mfa(a.id).await.unwrap().unwrap().secret, "sealed:a");
    // Read before the first replacement: stale, so nothing changes.
    assert!(
        !store
            .replace_secret(&slot, b"JBSWY3DPEHPK3PXP", b"sealed:x")
            .await
            .unwrap()
    );
    assert_eq!(store.mfa(a.id).await.unwrap().unwrap().secret, "sealed:a");
    // The other user's secret is untouched.
    assert_eq!(
        store.mfa(b.id).await.unwrap().unwrap().secret,
        "GEZDGNBVGY3TQOJQ"
    );

    let slot = SecretSlot::Instance("csrf".into());
    assert!(
        store
            .replace_secret(&slot, &[1, 2, 3], b"sealed:c")
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_secret(&slot, &[1, 2, 3], b"sealed:y")
            .await
            .unwrap()
    );
    // Once stored, the instance secret is what every node reads, whatever it proposes.
    assert_eq!(
        store.instance_secret("csrf", &[9]).await.unwrap(),
        b"sealed:c".to_vec()
    );
    let gone = SecretSlot::Totp(kizuki_domain::ids::UserId(999_999));
    assert!(!store.replace_secret(&gone, b"x", b"y").await.unwrap());
}

pub async fn mfa_enrol_confirm_and_step_cas(store: DynStore) {
    let u = a_user(store.as_ref(), "mfa").await;
    assert!(store.mfa(u.id).await.unwrap().is_none());
    store
        .mfa_begin(u.id, "JBSWY3DPEHPK3PXP", t0())
        .await
        .unwrap();
    // Restarting an unconfirmed enrolment replaces the secret.
    store
        .mfa_begin(u.id, "GEZDGNBVGY3TQOJQ", t0())
        .await
        .unwrap();
    let m = store.mfa(u.id).await.unwrap().unwrap();
    assert_eq!(m.secret, "GEZDGNBVGY3TQOJQ");
    assert!(!m.is_confirmed());
    // Steps are not accepted before confirmation.
    assert!(!store.mfa_use_step(u.id, None, 10).await.unwrap());

    assert!(store.mfa_confirm(u.id, 100, t0()).await.unwrap());
    assert!(!store.mfa_confirm(u.id, 101, t0()).await.unwrap());
    let m = store.mfa(u.id).await.unwrap().unwrap();
    assert!(m.is_confirmed());
    assert_eq!(m.last_step, Some(100));
    assert!(!format!("{m:?}").contains("GEZDGNBV"), "secret in Debug");

    // A confirmed enrolment is not replaced by starting again.
    assert!(
        store
            .mfa_begin(u.id, "JBSWY3DPEHPK3PXP", t0())
            .await
            .is_err()
    );

    // Compare-and-set: the same step twice, an older one, or a stale expectation all fail.
    assert!(store.mfa_use_step(u.id, Some(100), 101).await.unwrap());
    assert!(!store.mfa_use_step(u.id, Some(100), 102).await.unwrap());
    assert!(!store.mfa_use_step(u.id, Some(101), 101).await.unwrap());
    assert!(!store.mfa_use_step(u.id, Some(101), 99).await.unwrap());
    assert!(!store.mfa_use_step(u.id, None, 200).await.unwrap());
    assert_eq!(store.mfa(u.id).await.unwrap().unwrap().last_step, Some(101));

    // Concurrent use of one step: exactly one wins.
    let (a, b) = tokio::join!(
        store.mfa_use_step(u.id, Some(101), 102),
        store.mfa_use_step(u.id, Some(101), 102)
    );
    assert_eq!(
        u8::from(a.unwrap()) + u8::from(b.unwrap()),
        1,
        "one step accepted twice"
    );

    store
        .set_recovery_codes(u.id, &["h1".into(), "h2".into()], t0())
        .await
        .unwrap();
    store.mfa_remove(u.id).await.unwrap();
    assert!(store.mfa(u.id).await.unwrap().is_none());
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 0);
}

pub async fn recovery_codes_are_single_use(store: DynStore) {
    let u = a_user(store.as_ref(), "rc").await;
    let hashes: Vec<String> = (0..10).map(|i| format!("hash{i}")).collect();
    store.set_recovery_codes(u.id, &hashes, t0()).await.unwrap();
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 10);
    assert!(store.use_recovery_code(u.id, "hash3", t0()).await.unwrap());
    assert!(!store.use_recovery_code(u.id, "hash3", t0()).await.unwrap());
    assert!(!store.use_recovery_code(u.id, "nope", t0()).await.unwrap());
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 9);
    // Another user's code does not work for this one.
    let other = a_user(store.as_ref(), "rc2").await;
    assert!(
        !store
            .use_recovery_code(other.id, "hash4", t0())
            .await
            .unwrap()
    );
    // New codes replace the old ones entirely.
    store
        .set_recovery_codes(u.id, &["new".into()], t0())
        .await
        .unwrap();
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 1);
    assert!(!store.use_recovery_code(u.id, "hash4", t0()).await.unwrap());
}

pub async fn org_allowlist_is_versioned(store: DynStore) {
    let u = a_user(store.as_ref(), "al").await;
    let org = u.user.org_id;
    let empty = store.org_allowlist(org).await.unwrap();
    assert_eq!((empty.version, empty.entries.as_str()), (0, ""));
    let v1 = store
        .set_org_allowlist(org, 0, "192.0.2.0/24\n2001:db8::/32", Some(u.id), t0())
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.updated_by, Some(u.id));
    assert_eq!(v1.updated_at, Some(t0()));
    assert_eq!(store.org_allowlist(org).await.unwrap(), v1);
    // A stale version is refused and nothing changes.
    assert!(
        store
            .set_org_allowlist(org, 0, "0.0.0.0/0", None, t0())
            .await
            .is_err()
    );
    assert_eq!(store.org_allowlist(org).await.unwrap(), v1);
    let v2 = store
        .set_org_allowlist(org, 1, "", None, t0())
        .await
        .unwrap();
    assert_eq!((v2.version, v2.entries.as_str()), (2, ""));
    assert!(matches!(
        store.org_allowlist(OrgId(999_999)).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn report_sharing_round_trip(store: DynStore) {
    let u = a_user(store.as_ref(), "sh").await;
    let other = store.create_org(new_org("sh2", "gas")).await.unwrap();
    let r = store
        .create_report(NewReport {
            org_id: u.user.org_id,
            details: super::details("共有", "electricity"),
            first: super::first_stage(t0()),
        })
        .await
        .unwrap();
    assert_eq!(
        store.report_sharing(r.id).await.unwrap(),
        ReportSharing::default()
    );
    let s = ReportSharing {
        orgs: vec![other.id],
        users: vec![u.id],
    };
    let shared = store
        .set_report_sharing(r.id, Some(r.version), &s, Some(u.id), t0())
        .await
        .unwrap();
    assert_eq!(shared.version, r.version + 1);
    assert_eq!(store.report_sharing(r.id).await.unwrap(), s);
    // A change based on the version before is refused with the report as it is now, and
    // leaves the sharing as it was.
    match store
        .set_report_sharing(r.id, Some(r.version), &ReportSharing::default(), None, t0())
        .await
    {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(current.version(), shared.version),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.report_sharing(r.id).await.unwrap(), s);
    store
        .set_report_sharing(r.id, None, &ReportSharing::default(), None, t0())
        .await
        .unwrap();
    assert_eq!(
        store.report_sharing(r.id).await.unwrap(),
        ReportSharing::default()
    );
    // Each change is a version in the report's history, with who it was shared with.
    let history = store.report_history(r.id).await.unwrap();
    let shares: Vec<_> = history.iter().filter(|h| h.action == "share").collect();
    assert_eq!(shares.len(), 2, "{history:?}");
    assert_eq!(shares[0].user_id, Some(u.id));
    let want = format!(
        "\"sharing\":{{\"orgs\":[{}],\"users\":[{}]}}",
        other.id.0, u.id.0
    );
    assert!(shares[0].snapshot.contains(&want), "{}", shares[0].snapshot);
    assert!(shares[0].snapshot.contains(&format!("\"id\":{}", r.id.0)));
    assert!(matches!(
        store.report_sharing(ReportId(999_999)).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The visibility filter applied by the backend lists exactly the reports `decide(Read)`
/// allows, for every kind of viewer, label and sharing.
pub async fn list_visibility_agrees_with_decide(store: DynStore) {
    use kizuki_domain::access::{Action, Resource};
    use kizuki_domain::access::{Member, ReportRef, Viewer, decide, report_visibility};
    use kizuki_domain::org::{NewOrganisation, OrgKind};
    use kizuki_domain::taxonomy::{Code, Tlp};

    let mk_org = |key: &str, kind: OrgKind, sector: &str| NewOrganisation {
        key: key.to_owned(),
        name: key.to_owned(),
        kind,
        sectors: vec![Code(sector.to_owned())],
        region: None,
    };
    let own = store
        .create_org(mk_org("own", OrgKind::Operator, "electricity"))
        .await
        .unwrap();
    let other = store
        .create_org(mk_org("other", OrgKind::Operator, "gas"))
        .await
        .unwrap();
    let ministry = store
        .create_org(mk_org("meti", OrgKind::Ministry, "electricity"))
        .await
        .unwrap();
    let centre = store
        .create_org(mk_org("nisc", OrgKind::Centre, "electricity"))
        .await
        .unwrap();
    let mut users = Vec::new();
    for (i, (org, role)) in [
        (&own, Role::Reporter),
        (&other, Role::OperatorAdmin),
        (&ministry, Role::Ministry),
        (&centre, Role::Analyst),
        (&centre, Role::Admin),
    ]
    .into_iter()
    .enumerate()
    {
        let u = store
            .create_user(
                NewUser {
                    org_id: org.id,
                    email: Email::parse(&format!("u{i}@example.jp")).unwrap(),
                    display_name: format!("u{i}"),
                    role,
                    lang: Lang::Ja,
                },
                "$argon2id$x",
            )
            .await
            .unwrap();
        users.push((u, org.clone()));
    }
    // Every label, with and without naming the other organisation and one user.
    let mut reports = Vec::new();
    for tlp in Tlp::ALL {
        for (sector, named) in [("electricity", false), ("electricity", true), ("gas", true)] {
            let mut d = super::details("可視性", sector);
            d.tlp = tlp;
            let r = store
                .create_report(NewReport {
                    org_id: own.id,
                    details: d,
                    first: super::first_stage(t0()),
                })
                .await
                .unwrap();
            let sharing = if named {
                ReportSharing {
                    orgs: vec![other.id, ministry.id],
                    users: vec![users[1].0.id, users[3].0.id],
                }
            } else {
                ReportSharing::default()
            };
            store
                .set_report_sharing(r.id, None, &sharing, None, t0())
                .await
                .unwrap();
            reports.push((r, sharing));
        }
    }
    let mut viewers = vec![Viewer::Public];
    viewers.extend(
        users
            .iter()
            .map(|(u, o)| Viewer::Member(Member::new(u, o).unwrap())),
    );
    for v in &viewers {
        let mut expected: Vec<ReportId> = reports
            .iter()
            .filter(|(r, s)| {
                let rr = ReportRef::of(r).shared(&s.orgs, &s.users);
                decide(v, Action::Read, &Resource::Report(rr)).is_allowed()
            })
            .map(|(r, _)| r.id)
            .collect();
        expected.sort();
        let listed = store
            .list_reports(
                &ReportFilter {
                    visibility: Some(report_visibility(v)),
                    ..ReportFilter::default()
                },
                Page::new(1, 500),
            )
            .await
            .unwrap();
        let mut got: Vec<ReportId> = listed.items.iter().map(|r| r.id).collect();
        got.sort();
        assert_eq!(got, expected, "viewer {v:?}");
        assert_eq!(listed.total, expected.len() as u64);
    }
}
