//! The reminder planner: pure. Given the open reports, the deadline policy, the clock, the
//! accounts and what was already sent, it says which reminders to send now and to whom. The
//! runner (`super::run_once`) then claims each one in the store before delivering it.

use super::ReminderSettings;
use crate::reports::deadlines::owes_stages;
use chrono::{DateTime, TimeDelta, Utc};
use kizuki_domain::clock::Clock;
use kizuki_domain::deadlines::{DeadlinePolicy, DueStatus, schedule};
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::report::{Report, StageKind};
use kizuki_domain::user::{Email, Role, User};
use kizuki_store::{ReminderChannel, ReminderKey, ReminderKind};
use std::collections::HashSet;

/// Which channels are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channels {
    pub mail: bool,
    pub webhook: bool,
}

/// One stage of one report that deserves a reminder now, before channels are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub report: ReportId,
    pub org: OrgId,
    pub stage: StageKind,
    pub kind: ReminderKind,
    pub due: DateTime<Utc>,
}

/// One reminder to deliver: the key it is claimed under and, for e-mail, its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub key: ReminderKey,
    pub org: OrgId,
    pub due: DateTime<Utc>,
    /// Sorted, without duplicates; empty for the webhook.
    pub to: Vec<Email>,
}

/// The stages of `report` that call for a reminder at the clock's now: "due soon" while the
/// stage is pending and at most `lead` away; "overdue" once it has passed, for at most
/// `overdue_window` (so a first start on an old database does not mail about every
/// report that was ever late). A stage already filed, or a report that owes nothing any more
/// (closed or written up as a case), gets none.
pub fn due_now(
    report: &Report,
    policy: &DeadlinePolicy,
    clock: &dyn Clock,
    settings: &ReminderSettings,
) -> Vec<Due> {
    if !owes_stages(report) {
        return Vec::new();
    }
    let s = schedule(report, policy, clock);
    s.deadlines
        .iter()
        .filter_map(|d| {
            let kind = match d.status {
                DueStatus::Pending { remaining } if remaining <= settings.lead => {
                    ReminderKind::DueSoon
                }
                DueStatus::Overdue { overdue_by }
                    if overdue_by > TimeDelta::zero() && overdue_by <= settings.overdue_window =>
                {
                    ReminderKind::Overdue
                }
                _ => return None,
            };
            Some(Due {
                report: s.report,
                org: s.org,
                stage: d.stage,
                kind,
                due: d.due,
            })
        })
        .collect()
}

fn emails<'a>(users: impl Iterator<Item = &'a User>) -> Vec<Email> {
    let mut v: Vec<Email> = users
        .filter(|u| u.active)
        .map(|u| u.user.email.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Everything to send now. The reporting organisation's reporters and operator admins get
/// both kinds; the centre's analysts only "overdue" (a stage that is merely due soon is the
/// operator's business). A channel with nobody to write to is left out, and so is every key
/// in `settled` (already sent, given up, or held by a claim).
pub fn plan(
    reports: &[Report],
    users: &[User],
    policy: &DeadlinePolicy,
    clock: &dyn Clock,
    settings: &ReminderSettings,
    channels: Channels,
    settled: &HashSet<ReminderKey>,
) -> Vec<Planned> {
    let analysts = emails(users.iter().filter(|u| u.user.role == Role::Analyst));
    let mut out = Vec::new();
    for r in reports {
        for d in due_now(r, policy, clock, settings) {
            let operator = || {
                emails(users.iter().filter(|u| {
                    u.user.org_id == d.org
                        && matches!(u.user.role, Role::Reporter | Role::OperatorAdmin)
                }))
            };
            let mut wanted: Vec<(ReminderChannel, Vec<Email>)> = Vec::new();
            if channels.mail {
                wanted.push((ReminderChannel::MailOperator, operator()));
                if d.kind == ReminderKind::Overdue {
                    wanted.push((ReminderChannel::MailCentre, analysts.clone()));
                }
            }
            if channels.webhook {
                wanted.push((ReminderChannel::Webhook, Vec::new()));
            }
            for (channel, to) in wanted {
                let key = ReminderKey {
                    report: d.report,
                    stage: d.stage,
                    kind: d.kind,
                    channel,
                };
                let nobody = channel != ReminderChannel::Webhook && to.is_empty();
                if nobody || settled.contains(&key) {
                    continue;
                }
                out.push(Planned {
                    key,
                    org: d.org,
                    due: d.due,
                    to,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use kizuki_domain::clock::FixedClock;
    use kizuki_domain::ids::{CaseId, UserId};
    use kizuki_domain::report::{ReportInput, ReportStatus, Stage};
    use kizuki_domain::taxonomy::Lang;
    use kizuki_domain::user::NewUser;

    fn detected() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn report(id: i64, org: i64) -> Report {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let details = ReportInput {
            title: "停止".into(),
            sector: "railway".into(),
            event_type: "other".into(),
            summary: "停止した。".into(),
            detected_at: Some(detected()),
            ..Default::default()
        }
        .parse(&tx)
        .unwrap();
        Report {
            id: ReportId(id),
            version: 1,
            org_id: OrgId(org),
            status: ReportStatus::New,
            reported_at: detected(),
            updated_at: detected(),
            details,
            stages: vec![Stage {
                seq: 1,
                kind: StageKind::First,
                at: detected(),
                text: String::new(),
                author: None,
            }],
            case_id: None,
        }
    }

    fn user(id: i64, org: i64, email: &str, role: Role, active: bool) -> User {
        User {
            id: UserId(id),
            version: 1,
            user: NewUser {
                org_id: OrgId(org),
                email: Email::parse(email).unwrap(),
                display_name: "利用者".into(),
                role,
                lang: Lang::Ja,
            },
            active,
        }
    }

    fn run(reports: &[Report], users: &[User], at: DateTime<Utc>) -> Vec<Planned> {
        let clock = FixedClock::new(at);
        plan(
            reports,
            users,
            &DeadlinePolicy::default(),
            &clock,
            &ReminderSettings::default(),
            Channels {
                mail: true,
                webhook: false,
            },
            &HashSet::new(),
        )
    }

    #[test]
    fn recipients_follow_kind_org_role_and_activity() {
        let users = [
            user(1, 10, "r@op.example.jp", Role::Reporter, true),
            user(2, 10, "gone@op.example.jp", Role::Reporter, false),
            user(3, 10, "m@op.example.jp", Role::Ministry, true),
            user(4, 11, "r@other.example.jp", Role::Reporter, true),
            user(5, 1, "a@centre.example.jp", Role::Analyst, true),
            user(6, 1, "e@centre.example.jp", Role::Editor, true),
        ];
        let r = [report(7, 10)];
        let soon = run(&r, &users, detected() + TimeDelta::hours(70));
        assert_eq!(soon.len(), 1);
        assert_eq!(soon[0].key.kind, ReminderKind::DueSoon);
        assert_eq!(soon[0].key.stage, StageKind::FollowUp);
        assert_eq!(soon[0].to, [Email::parse("r@op.example.jp").unwrap()]);
        let late = run(&r, &users, detected() + TimeDelta::hours(73));
        let to: Vec<(ReminderChannel, Vec<&str>)> = late
            .iter()
            .map(|p| (p.key.channel, p.to.iter().map(Email::as_str).collect()))
            .collect();
        assert_eq!(
            to,
            [
                (ReminderChannel::MailOperator, vec!["r@op.example.jp"]),
                (ReminderChannel::MailCentre, vec!["a@centre.example.jp"]),
            ]
        );
    }

    #[test]
    fn old_closed_and_written_up_reports_get_nothing() {
        let users = [user(1, 10, "r@op.example.jp", Role::Reporter, true)];
        let mut r = report(7, 10);
        // Both open stages overdue for longer than the 30-day window (the 最終報 was due on
        // 1 December): the backlog is not mailed; ten days after that deadline it is.
        assert!(run(&[r.clone()], &users, detected() + TimeDelta::days(70)).is_empty());
        let final_late = run(&[r.clone()], &users, detected() + TimeDelta::days(40));
        assert_eq!(final_late[0].key.stage, StageKind::Final);
        let at = detected() + TimeDelta::hours(73);
        assert_eq!(run(&[r.clone()], &users, at).len(), 1);
        r.case_id = Some(CaseId(1));
        assert!(run(&[r.clone()], &users, at).is_empty());
        r.case_id = None;
        r.status = ReportStatus::Closed;
        assert!(run(&[r], &users, at).is_empty());
    }
}
