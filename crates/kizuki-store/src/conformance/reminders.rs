//! Conformance for reminders: a reminder is claimed once, only its holder can mark
//! it sent or hand it back, a lapsed or handed-back claim can be taken over until the attempts
//! run out, and of many concurrent claims exactly one wins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{an_org, file, t0};
use crate::*;
use chrono::Duration;

fn key(report: ReportId, channel: ReminderChannel) -> ReminderKey {
    ReminderKey {
        report,
        stage: StageKind::FollowUp,
        kind: ReminderKind::Overdue,
        channel,
    }
}

fn claim(key: ReminderKey, token: &str, now: DateTime<Utc>) -> ReminderClaim {
    ReminderClaim {
        key,
        token: token.into(),
        now,
        lease_until: now + Duration::minutes(10),
        max_attempts: 2,
    }
}

pub async fn reminders_are_claimed_once(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "通知の確認", t0()).await;
    let mail = key(r.id, ReminderChannel::MailOperator);
    let now = t0() + Duration::hours(80);

    assert!(store.claim_reminder(&claim(mail, "a", now)).await.unwrap());
    // Another node, even after the lease, cannot claim a reminder that was sent.
    assert!(!store.claim_reminder(&claim(mail, "b", now)).await.unwrap());
    assert!(
        !store.reminder_sent(&mail, "b", now).await.unwrap(),
        "only the holder marks it sent"
    );
    assert!(store.reminder_sent(&mail, "a", now).await.unwrap());
    assert!(
        !store.reminder_sent(&mail, "a", now).await.unwrap(),
        "sent once"
    );
    let later = now + Duration::days(2);
    assert!(
        !store
            .claim_reminder(&claim(mail, "c", later))
            .await
            .unwrap()
    );

    // Each channel and kind is its own reminder.
    let hook = key(r.id, ReminderChannel::Webhook);
    assert!(store.claim_reminder(&claim(hook, "h1", now)).await.unwrap());
    // A holder that dies keeps it until its lease runs out; then another node takes over.
    assert!(
        !store
            .claim_reminder(&claim(hook, "h2", now + Duration::minutes(5)))
            .await
            .unwrap()
    );
    let lapsed = now + Duration::minutes(11);
    assert!(
        store
            .claim_reminder(&claim(hook, "h2", lapsed))
            .await
            .unwrap()
    );
    assert!(
        !store.reminder_sent(&hook, "h1", lapsed).await.unwrap(),
        "the first holder lost it"
    );
    // A failed delivery hands it back with a retry time; the attempts are the limit.
    store
        .release_reminder(
            &hook,
            "h2",
            lapsed + Duration::minutes(30),
            "接続拒否 / refused",
        )
        .await
        .unwrap();
    assert!(
        !store
            .claim_reminder(&claim(hook, "h3", lapsed + Duration::minutes(29)))
            .await
            .unwrap(),
        "not before the retry time"
    );
    let failed = store.failed_reminders(2).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].key, hook);
    assert_eq!(failed[0].attempts, 2);
    assert_eq!(failed[0].last_error.as_deref(), Some("接続拒否 / refused"));
    assert!(
        !store
            .claim_reminder(&claim(hook, "h3", lapsed + Duration::hours(1)))
            .await
            .unwrap(),
        "two attempts were allowed"
    );
    assert!(store.failed_reminders(3).await.unwrap().is_empty());

    let due_soon = ReminderKey {
        kind: ReminderKind::DueSoon,
        ..mail
    };
    assert!(
        store
            .claim_reminder(&claim(due_soon, "d", now))
            .await
            .unwrap()
    );

    let all = store.reminders_for(r.id).await.unwrap();
    let keys: Vec<ReminderKey> = all.iter().map(|x| x.key).collect();
    assert_eq!(keys, vec![due_soon, mail, hook]);
    assert_eq!(all[1].sent_at, Some(now));
    assert_eq!(all[1].attempts, 1);
    assert_eq!(all[1].claimed_at, now);
    assert_eq!(all[0].sent_at, None);
    assert_eq!(all[0].lease_until, now + Duration::minutes(10));
    assert_eq!(all[2].sent_at, None);
    let other = file(store.as_ref(), org.id, "別件", t0()).await;
    assert!(store.reminders_for(other.id).await.unwrap().is_empty());

    // A reminder must belong to a report.
    let missing = key(ReportId(424_242), ReminderChannel::MailCentre);
    assert!(
        store
            .claim_reminder(&claim(missing, "m", now))
            .await
            .is_err()
    );
}

pub async fn concurrent_reminder_claims_one_wins(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "同時送信", t0()).await;
    let k = key(r.id, ReminderChannel::MailCentre);
    let now = t0() + Duration::days(40);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .claim_reminder(&claim(k, &format!("node-{i}"), now))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one node may send");
    let rec = store.reminders_for(r.id).await.unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].attempts, 1);
}
