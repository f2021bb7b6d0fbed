//! Deadlines for the stages of a report (第一報, 続報, 最終報): configurable spans after the
//! incident was detected, what is due when given the stages filed and the injected clock, and
//! a Japanese description with 和暦 dates for the report page and reminder e-mails.
//!
//! Defaults follow NIS2: first report within 24 hours, follow-up (notification) within 72
//! hours, final report within one month.
//!
//! **What "one month" means.** A month is a calendar month in Japan time: the same time of
//! day on the same day of the month, one month later. When that day does not exist, the last
//! day of that month is used, at the same time: detection on 31 January 10:00 gives 28
//! February 10:00 (29 February in a leap year); 31 March gives 30 April; 31 December gives 31
//! January. So 28–31 January (in a common year) all fall due on 28 February. Japan time
//! matters: 1 March 01:00 JST is still 28 February in UTC, and one month from it is 1 April,
//! not 28 March.
//!
//! Deadlines run from when the incident was detected; if the report does not say, from when
//! it occurred; failing that, from when the first report arrived (the first report is then
//! on time by construction, which the description says).

use crate::clock::{Clock, jst, jst_date};
use crate::error::{FieldError, FieldErrorKind, ValidationErrors};
use crate::ids::{OrgId, ReportId};
use crate::report::{Report, StageKind};
use crate::wareki::format_both;
use chrono::{DateTime, Months, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A deadline span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    Hours(u32),
    Days(u32),
    /// Calendar months in Japan time, clamped to the month's last day (see the module docs).
    Months(u32),
}

const MAX_HOURS: u32 = 24 * 366;
const MAX_DAYS: u32 = 366;
const MAX_MONTHS: u32 = 12;

impl Span {
    /// `24h`, `72 hours`, `3d`, `1month`, `1か月`…
    pub fn parse(s: &str) -> Option<Span> {
        let s = s.trim().to_lowercase();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u32 = num.parse().ok()?;
        let span = match unit.trim() {
            "h" | "hour" | "hours" | "時間" => Span::Hours(n),
            "d" | "day" | "days" | "日" => Span::Days(n),
            "mo" | "month" | "months" | "か月" | "ヶ月" | "カ月" | "ケ月" => {
                Span::Months(n)
            }
            _ => return None,
        };
        let (v, max) = match span {
            Span::Hours(v) => (v, MAX_HOURS),
            Span::Days(v) => (v, MAX_DAYS),
            Span::Months(v) => (v, MAX_MONTHS),
        };
        (1..=max).contains(&v).then_some(span)
    }

    /// The deadline this span after `t`.
    pub fn after(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Span::Hours(h) => t.checked_add_signed(TimeDelta::hours(i64::from(h))),
            Span::Days(d) => t.checked_add_signed(TimeDelta::days(i64::from(d))),
            Span::Months(m) => {
                let local = t.with_timezone(&jst()).naive_local();
                local
                    .checked_add_months(Months::new(m))?
                    .and_local_timezone(jst())
                    .single()
                    .map(|d| d.to_utc())
            }
        }
    }

    // Shortest and longest the span can be, in hours, for checking the stages' order.
    fn bounds(self) -> (u64, u64) {
        match self {
            Span::Hours(h) => (u64::from(h), u64::from(h)),
            Span::Days(d) => (u64::from(d) * 24, u64::from(d) * 24),
            Span::Months(m) => (u64::from(m) * 28 * 24, u64::from(m) * 31 * 24),
        }
    }

    pub fn label_ja(self) -> String {
        match self {
            Span::Hours(h) => format!("{h}時間"),
            Span::Days(d) => format!("{d}日"),
            Span::Months(m) => format!("{m}か月"),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span::Hours(h) => write!(f, "{h}h"),
            Span::Days(d) => write!(f, "{d}d"),
            Span::Months(m) => write!(f, "{m}month"),
        }
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("'{s}' is not a span such as 24h, 3d or 1month"))
        })
    }
}

/// The span allowed for each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPolicy", into = "RawPolicy")]
pub struct DeadlinePolicy {
    first: Span,
    follow_up: Span,
    final_report: Span,
}

#[derive(Serialize, Deserialize)]
struct RawPolicy {
    first: Span,
    follow_up: Span,
    #[serde(rename = "final")]
    final_report: Span,
}

impl TryFrom<RawPolicy> for DeadlinePolicy {
    type Error = ValidationErrors;

    fn try_from(r: RawPolicy) -> Result<Self, Self::Error> {
        DeadlinePolicy::new(r.first, r.follow_up, r.final_report)
    }
}

impl From<DeadlinePolicy> for RawPolicy {
    fn from(p: DeadlinePolicy) -> Self {
        RawPolicy {
            first: p.first,
            follow_up: p.follow_up,
            final_report: p.final_report,
        }
    }
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            first: Span::Hours(24),
            follow_up: Span::Hours(72),
            final_report: Span::Months(1),
        }
    }
}

const FIELDS: [&str; 3] = ["first", "follow_up", "final"];

impl DeadlinePolicy {
    /// Each later stage must be allowed at least as long as the one before it.
    pub fn new(
        first: Span,
        follow_up: Span,
        final_report: Span,
    ) -> Result<DeadlinePolicy, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let spans = [first, follow_up, final_report];
        for i in 1..spans.len() {
            if spans[i].bounds().0 < spans[i - 1].bounds().1 {
                errs.push(FieldError::invalid(
                    FIELDS[i],
                    format!(
                        "{}の期限（{}）が{}の期限（{}）より短くなっています / must not be shorter than {}",
                        stage_ja(i),
                        spans[i].label_ja(),
                        stage_ja(i - 1),
                        spans[i - 1].label_ja(),
                        FIELDS[i - 1],
                    ),
                ));
            }
        }
        errs.into_result(DeadlinePolicy {
            first,
            follow_up,
            final_report,
        })
    }

    /// From configuration strings (`24h`, `72h`, `1month`); errors name `first`,
    /// `follow_up` or `final`.
    pub fn from_config(
        first: &str,
        follow_up: &str,
        final_report: &str,
    ) -> Result<DeadlinePolicy, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let spans: Vec<Option<Span>> = [first, follow_up, final_report]
            .iter()
            .zip(FIELDS)
            .map(|(s, field)| {
                let span = Span::parse(s);
                if span.is_none() {
                    errs.push(FieldError::new(
                        field,
                        FieldErrorKind::Invalid {
                            reason: format!(
                                "「{s}」は期限として読めません（例: 24h、72h、3d、1month。上限は{MAX_HOURS}h、{MAX_DAYS}d、{MAX_MONTHS}month）"
                            ),
                        },
                    ));
                }
                span
            })
            .collect();
        match spans[..] {
            [Some(a), Some(b), Some(c)] if errs.is_empty() => DeadlinePolicy::new(a, b, c),
            _ => Err(errs),
        }
    }

    pub fn span(&self, stage: StageKind) -> Span {
        match stage {
            StageKind::First => self.first,
            StageKind::FollowUp => self.follow_up,
            StageKind::Final => self.final_report,
        }
    }
}

fn stage_ja(i: usize) -> &'static str {
    StageKind::ALL.get(i).map_or("", |k| k.label_ja())
}

/// Which time the deadlines run from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    Detected,
    Occurred,
    /// Neither was given; the first report's arrival.
    Reported,
}

impl Anchor {
    pub fn label_ja(self) -> &'static str {
        match self {
            Anchor::Detected => "検知",
            Anchor::Occurred => "発生",
            Anchor::Reported => "第一報受付",
        }
    }
}

mod seconds {
    use chrono::TimeDelta;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }
}

/// Where a stage stands at the clock's "now". Durations serialise as whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DueStatus {
    /// Filed at `at`; `late_by` is zero when on time.
    Met {
        at: DateTime<Utc>,
        #[serde(serialize_with = "seconds::serialize")]
        late_by: TimeDelta,
    },
    Pending {
        #[serde(serialize_with = "seconds::serialize")]
        remaining: TimeDelta,
    },
    Overdue {
        #[serde(serialize_with = "seconds::serialize")]
        overdue_by: TimeDelta,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub stage: StageKind,
    pub due: DateTime<Utc>,
    pub status: DueStatus,
}

impl Deadline {
    pub fn is_overdue(&self) -> bool {
        matches!(self.status, DueStatus::Overdue { .. })
    }

    /// Neither filed nor overdue yet.
    pub fn is_pending(&self) -> bool {
        matches!(self.status, DueStatus::Pending { .. })
    }
}

/// Every stage's deadline for one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub report: ReportId,
    pub org: OrgId,
    pub anchor: Anchor,
    pub anchor_at: DateTime<Utc>,
    /// 第一報, 続報, 最終報, in that order.
    pub deadlines: Vec<Deadline>,
}

/// When a stage counts as filed: the first report by the report's arrival (or any stage
/// before it); the follow-up by a 続報 *or* a 最終報, since a final report filed early also
/// tells the centre what a follow-up would have; the final report by a 最終報.
fn met_at(report: &Report, stage: StageKind) -> Option<DateTime<Utc>> {
    let filed = report.stages.iter().filter(|s| match stage {
        StageKind::First => true,
        StageKind::FollowUp => matches!(s.kind, StageKind::FollowUp | StageKind::Final),
        StageKind::Final => s.kind == StageKind::Final,
    });
    let earliest = filed.map(|s| s.at).min();
    match stage {
        StageKind::First => {
            Some(earliest.map_or(report.reported_at, |e| e.min(report.reported_at)))
        }
        _ => earliest,
    }
}

/// What is due when for one report, as of the clock's now. A stage whose deadline cannot be
/// computed (an anchor near the end of time) is left out rather than invented.
pub fn schedule(report: &Report, policy: &DeadlinePolicy, clock: &dyn Clock) -> Schedule {
    let now = clock.now();
    let d = &report.details;
    let (anchor, anchor_at) = match (d.detected_at, d.occurred_at) {
        (Some(t), _) => (Anchor::Detected, t),
        (None, Some(t)) => (Anchor::Occurred, t),
        (None, None) => (Anchor::Reported, report.reported_at),
    };
    let deadlines = StageKind::ALL
        .into_iter()
        .filter_map(|stage| {
            let due = policy.span(stage).after(anchor_at)?;
            let status = match met_at(report, stage) {
                Some(at) => DueStatus::Met {
                    at,
                    late_by: (at - due).max(TimeDelta::zero()),
                },
                None if now <= due => DueStatus::Pending {
                    remaining: due - now,
                },
                None => DueStatus::Overdue {
                    overdue_by: now - due,
                },
            };
            Some(Deadline { stage, due, status })
        })
        .collect();
    Schedule {
        report: report.id,
        org: report.org_id,
        anchor,
        anchor_at,
        deadlines,
    }
}

impl Schedule {
    pub fn overdue(&self) -> impl Iterator<Item = &Deadline> {
        self.deadlines.iter().filter(|d| d.is_overdue())
    }

    /// The earliest stage not yet filed (overdue or pending), for "next due" columns.
    pub fn next_due(&self) -> Option<&Deadline> {
        self.deadlines
            .iter()
            .filter(|d| !matches!(d.status, DueStatus::Met { .. }))
            .min_by_key(|d| d.due)
    }

    /// One line per stage, plus the anchor, in Japanese with Gregorian and 和暦 dates in
    /// Japan time, e.g. `続報: 期限 2019年4月29日（平成31年4月29日）10:00 — 期限超過（1日2時間）`.
    pub fn describe_ja(&self) -> Vec<String> {
        let mut out = vec![format!(
            "起点: {} {}（日本時間）",
            self.anchor.label_ja(),
            when_ja(self.anchor_at)
        )];
        for d in &self.deadlines {
            let state = match d.status {
                DueStatus::Met { at, late_by } if late_by.is_zero() => {
                    format!("提出済み {}（期限内）", when_ja(at))
                }
                DueStatus::Met { at, late_by } => {
                    format!("提出済み {}（{}超過）", when_ja(at), duration_ja(late_by))
                }
                DueStatus::Pending { remaining } => {
                    format!("未提出（残り{}）", duration_ja(remaining))
                }
                DueStatus::Overdue { overdue_by } => {
                    format!("期限超過（{}）", duration_ja(overdue_by))
                }
            };
            out.push(format!(
                "{}: 期限 {} — {state}",
                d.stage.label_ja(),
                when_ja(d.due)
            ));
        }
        out
    }
}

/// "2019年5月1日（令和元年5月1日）09:30", in Japan time.
pub fn when_ja(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&jst());
    format!(
        "{} {:02}:{:02}",
        format_both(jst_date(t)),
        local.hour(),
        local.minute()
    )
}

/// "2日3時間", "3時間15分", "45分", "1分未満".
pub fn duration_ja(d: TimeDelta) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / (24 * 60), (mins / 60) % 24, mins % 60);
    let mut s = String::new();
    if days > 0 {
        s.push_str(&format!("{days}日"));
    }
    if hours > 0 {
        s.push_str(&format!("{hours}時間"));
    }
    // Minutes only matter while the deadline is less than a day away.
    if m > 0 && days == 0 {
        s.push_str(&format!("{m}分"));
    }
    if s.is_empty() {
        s.push_str("1分未満");
    }
    s
}

/// "2 d 3 h", "3 h 15 min", "45 min", "under a minute": [`duration_ja`] in English.
pub fn duration_en(d: TimeDelta) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / (24 * 60), (mins / 60) % 24, mins % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if m > 0 && days == 0 {
        parts.push(format!("{m} min"));
    }
    if parts.is_empty() {
        "under a minute".to_owned()
    } else {
        parts.join(" ")
    }
}

/// One overdue stage, for dashboards and reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OverdueItem {
    pub report: ReportId,
    pub org: OrgId,
    pub stage: StageKind,
    pub due: DateTime<Utc>,
    #[serde(serialize_with = "seconds::serialize")]
    pub overdue_by: TimeDelta,
}

/// Every overdue stage across the reports, longest overdue first.
pub fn overdue(reports: &[Report], policy: &DeadlinePolicy, clock: &dyn Clock) -> Vec<OverdueItem> {
    let mut out: Vec<OverdueItem> = reports
        .iter()
        .flat_map(|r| {
            let s = schedule(r, policy, clock);
            s.deadlines
                .iter()
                .filter_map(|d| match d.status {
                    DueStatus::Overdue { overdue_by } => Some(OverdueItem {
                        report: s.report,
                        org: s.org,
                        stage: d.stage,
                        due: d.due,
                        overdue_by,
                    }),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|o| (o.due, o.report, o.stage as u8));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::report::{Impact, ReportDetails, ReportStatus, Stage};
    use crate::taxonomy::{Code, Tlp};
    use chrono::{NaiveDate, TimeZone};

    /// An instant given in Japan time.
    fn jst_at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        jst()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .to_utc()
    }

    fn report(detected: Option<DateTime<Utc>>, stages: &[(StageKind, DateTime<Utc>)]) -> Report {
        let reported_at = stages.first().map(|s| s.1).unwrap();
        Report {
            id: ReportId(9),
            version: 1,
            org_id: OrgId(4),
            status: ReportStatus::New,
            reported_at,
            updated_at: reported_at,
            details: ReportDetails {
                title: "t".into(),
                sector: Code("railway".into()),
                region: None,
                affected_service: String::new(),
                occurred_at: None,
                detected_at: detected,
                event_type: Code("other".into()),
                causes: vec![],
                severity: None,
                impact: Impact::default(),
                systems: vec![],
                vendors: vec![],
                tlp: Tlp::Amber,
                summary: "s".into(),
            },
            stages: stages
                .iter()
                .enumerate()
                .map(|(i, (kind, at))| Stage {
                    seq: u32::try_from(i + 1).unwrap(),
                    kind: *kind,
                    at: *at,
                    text: "x".into(),
                    author: None,
                })
                .collect(),
            case_id: None,
        }
    }

    fn month_after(y: i32, m: u32, d: u32) -> NaiveDate {
        let due = Span::Months(1).after(jst_at(y, m, d, 10, 0)).unwrap();
        let local = due.with_timezone(&jst());
        assert_eq!((local.hour(), local.minute()), (10, 0), "time of day kept");
        local.date_naive()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn one_month_is_a_calendar_month_clamped_to_the_months_end() {
        assert_eq!(month_after(2019, 1, 31), ymd(2019, 2, 28));
        assert_eq!(month_after(2019, 1, 28), ymd(2019, 2, 28));
        assert_eq!(month_after(2020, 1, 31), ymd(2020, 2, 29), "leap year");
        assert_eq!(month_after(2020, 1, 30), ymd(2020, 2, 29));
        assert_eq!(month_after(2019, 3, 31), ymd(2019, 4, 30));
        assert_eq!(
            month_after(2019, 12, 31),
            ymd(2020, 1, 31),
            "into a new year"
        );
        assert_eq!(
            month_after(2019, 2, 28),
            ymd(2019, 3, 28),
            "not to the month's end"
        );
        assert_eq!(month_after(2019, 4, 15), ymd(2019, 5, 15));
        assert_eq!(
            Span::Months(2).after(jst_at(2019, 12, 31, 10, 0)),
            Some(jst_at(2020, 2, 29, 10, 0))
        );
    }

    #[test]
    fn months_are_counted_in_japan_time() {
        // 1 March 01:00 JST is 28 February 16:00 UTC; counting in UTC would give 28 March.
        let t = jst_at(2019, 3, 1, 1, 0);
        assert_eq!(t.date_naive(), ymd(2019, 2, 28));
        assert_eq!(Span::Months(1).after(t), Some(jst_at(2019, 4, 1, 1, 0)));
    }

    #[test]
    fn defaults_and_what_is_due_when() {
        let detected = jst_at(2019, 4, 26, 10, 0);
        let r = report(
            Some(detected),
            &[(StageKind::First, jst_at(2019, 4, 26, 15, 0))],
        );
        let clock = FixedClock::new(jst_at(2019, 4, 28, 9, 0));
        let s = schedule(&r, &DeadlinePolicy::default(), &clock);
        assert_eq!(s.anchor, Anchor::Detected);
        let due: Vec<_> = s.deadlines.iter().map(|d| (d.stage, d.due)).collect();
        assert_eq!(
            due,
            vec![
                (StageKind::First, jst_at(2019, 4, 27, 10, 0)),
                (StageKind::FollowUp, jst_at(2019, 4, 29, 10, 0)),
                (StageKind::Final, jst_at(2019, 5, 26, 10, 0)),
            ]
        );
        assert_eq!(
            s.deadlines[0].status,
            DueStatus::Met {
                at: jst_at(2019, 4, 26, 15, 0),
                late_by: TimeDelta::zero()
            }
        );
        assert_eq!(
            s.deadlines[1].status,
            DueStatus::Pending {
                remaining: TimeDelta::hours(25)
            }
        );
        assert_eq!(s.next_due().map(|d| d.stage), Some(StageKind::FollowUp));
        assert_eq!(s.overdue().count(), 0);

        clock.set(jst_at(2019, 4, 30, 12, 30));
        let s = schedule(&r, &DeadlinePolicy::default(), &clock);
        assert_eq!(
            s.deadlines[1].status,
            DueStatus::Overdue {
                overdue_by: TimeDelta::minutes(26 * 60 + 30)
            }
        );
        let lines = s.describe_ja();
        assert_eq!(
            lines,
            vec![
                "起点: 検知 2019年4月26日（平成31年4月26日） 10:00（日本時間）",
                "第一報: 期限 2019年4月27日（平成31年4月27日） 10:00 — 提出済み 2019年4月26日（平成31年4月26日） 15:00（期限内）",
                "続報: 期限 2019年4月29日（平成31年4月29日） 10:00 — 期限超過（1日2時間）",
                "最終報: 期限 2019年5月26日（令和元年5月26日） 10:00 — 未提出（残り25日21時間）",
            ]
        );
    }

    #[test]
    fn deadlines_across_the_era_change_are_written_in_the_new_era() {
        // Detected in the last hour of 平成; the first report falls due on 令和元年5月1日.
        let detected = jst_at(2019, 4, 30, 23, 30);
        let r = report(
            Some(detected),
            &[(StageKind::First, jst_at(2019, 5, 1, 23, 31))],
        );
        let clock = FixedClock::new(jst_at(2019, 5, 2, 0, 0));
        let s = schedule(&r, &DeadlinePolicy::default(), &clock);
        assert_eq!(s.deadlines[0].due, jst_at(2019, 5, 1, 23, 30));
        assert_eq!(
            s.deadlines[0].status,
            DueStatus::Met {
                at: jst_at(2019, 5, 1, 23, 31),
                late_by: TimeDelta::minutes(1)
            }
        );
        let lines = s.describe_ja();
        assert!(lines[0].contains("平成31年4月30日"), "{lines:?}");
        assert_eq!(
            lines[1],
            "第一報: 期限 2019年5月1日（令和元年5月1日） 23:30 — 提出済み 2019年5月1日（令和元年5月1日） 23:31（1分超過）"
        );
        assert!(
            lines[3].contains("2019年5月30日（令和元年5月30日）"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_final_report_also_answers_the_follow_up_and_on_the_dot_is_on_time() {
        let detected = jst_at(2019, 1, 31, 10, 0);
        let r = report(
            Some(detected),
            &[
                (StageKind::First, jst_at(2019, 2, 1, 10, 0)),
                (StageKind::Final, jst_at(2019, 2, 28, 10, 0)),
            ],
        );
        let clock = FixedClock::new(jst_at(2019, 6, 1, 0, 0));
        let s = schedule(&r, &DeadlinePolicy::default(), &clock);
        let late: Vec<TimeDelta> = s
            .deadlines
            .iter()
            .map(|d| match d.status {
                DueStatus::Met { late_by, .. } => late_by,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            late,
            vec![TimeDelta::zero(), TimeDelta::days(25), TimeDelta::zero()],
            "first exactly at 24 h; follow-up only by the final report; final exactly on 28 Feb"
        );
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn without_a_detection_time_the_anchor_falls_back_and_says_so() {
        let mut r = report(None, &[(StageKind::First, jst_at(2019, 7, 1, 9, 0))]);
        let clock = FixedClock::new(jst_at(2019, 7, 1, 9, 0));
        let s = schedule(&r, &DeadlinePolicy::default(), &clock);
        assert_eq!(
            (s.anchor, s.anchor_at),
            (Anchor::Reported, jst_at(2019, 7, 1, 9, 0))
        );
        r.details.occurred_at = Some(jst_at(2019, 6, 30, 8, 0));
        let s = schedule(&r, &DeadlinePolicy::default(), &clock);
        assert_eq!(s.anchor, Anchor::Occurred);
        assert!(s.describe_ja()[0].starts_with("起点: 発生 2019年6月30日"));
    }

    #[test]
    fn overdue_lists_every_late_stage_oldest_first() {
        let a = report(
            Some(jst_at(2019, 5, 1, 0, 0)),
            &[(StageKind::First, jst_at(2019, 5, 1, 1, 0))],
        );
        let mut b = report(
            Some(jst_at(2019, 4, 1, 0, 0)),
            &[(StageKind::First, jst_at(2019, 4, 3, 0, 0))],
        );
        b.id = ReportId(10);
        let clock = FixedClock::new(jst_at(2019, 5, 10, 0, 0));
        let list = overdue(&[a, b], &DeadlinePolicy::default(), &clock);
        let got: Vec<(i64, StageKind)> = list.iter().map(|o| (o.report.0, o.stage)).collect();
        // b's first report came late but did come: late, not overdue.
        assert_eq!(
            got,
            vec![
                (10, StageKind::FollowUp),
                (10, StageKind::Final),
                (9, StageKind::FollowUp)
            ]
        );
        assert_eq!(list[2].overdue_by, TimeDelta::days(6));
        let json = serde_json::to_value(list[2]).unwrap();
        assert_eq!(json["overdue_by"], 6 * 86_400);
        assert_eq!(json["stage"], "follow_up");
    }

    #[test]
    fn policies_are_configurable_and_checked_by_field() {
        let p = DeadlinePolicy::from_config("12h", "3d", "2month").unwrap();
        assert_eq!(p.span(StageKind::First), Span::Hours(12));
        assert_eq!(p.span(StageKind::FollowUp), Span::Days(3));
        assert_eq!(p.span(StageKind::Final), Span::Months(2));
        assert_eq!(Span::parse(" 1 か月 "), Some(Span::Months(1)));
        assert_eq!(Span::parse("72 hours"), Some(Span::Hours(72)));
        for bad in ["", "0h", "h", "24", "1 fortnight", "13month", "-1d"] {
            assert_eq!(Span::parse(bad), None, "{bad}");
        }
        let errs = DeadlinePolicy::from_config("24x", "72h", "").unwrap_err();
        assert!(errs.for_field("first").is_some() && errs.for_field("final").is_some());
        assert!(errs.for_field("follow_up").is_none());
        let errs = DeadlinePolicy::from_config("72h", "24h", "30d").unwrap_err();
        assert!(errs.for_field("follow_up").is_some(), "{errs}");
        // A month can be 31 days, so it may not follow a 30-day stage... but 28 days may precede it.
        assert!(DeadlinePolicy::from_config("24h", "1month", "30d").is_err());
        assert!(DeadlinePolicy::from_config("24h", "28d", "1month").is_ok());
        let json = serde_json::to_string(&DeadlinePolicy::default()).unwrap();
        assert_eq!(
            json,
            r#"{"first":"24h","follow_up":"72h","final":"1month"}"#
        );
        let back: DeadlinePolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, DeadlinePolicy::default());
        assert!(
            serde_json::from_str::<DeadlinePolicy>(
                r#"{"first":"72h","follow_up":"24h","final":"1month"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ja(TimeDelta::seconds(30)), "1分未満");
        assert_eq!(duration_ja(TimeDelta::minutes(45)), "45分");
        assert_eq!(duration_ja(TimeDelta::minutes(195)), "3時間15分");
        assert_eq!(duration_ja(TimeDelta::minutes(2 * 1440 + 190)), "2日3時間");
        assert_eq!(duration_ja(TimeDelta::days(3)), "3日");
        assert_eq!(duration_en(TimeDelta::seconds(30)), "under a minute");
        assert_eq!(duration_en(TimeDelta::minutes(195)), "3 h 15 min");
        assert_eq!(duration_en(TimeDelta::minutes(2 * 1440 + 190)), "2 d 3 h");
    }
}
