//! Statistics of information reports: the yearly tables the centre publishes — by event type
//! and sector, by cause (a report with several causes counts once under each), by severity,
//! by how far its stages got, by the time from occurrence to the first report, and by month —
//! for a 年度 (April to March) or a calendar year, counted from what a viewer may read.

use crate::report::{Report, StageKind};
use crate::taxonomy::Code;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The span the tables cover, in Japan dates of the first report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "year", rename_all = "snake_case")]
pub enum Period {
    /// 年度 `y`: 1 April y to 31 March y+1.
    FiscalYear(i32),
    /// 1 January to 31 December.
    Calendar(i32),
}

impl Period {
    /// The period a query names: `year` (a calendar year) if given, else `fy` (a 年度), else
    /// the 年度 `today_fy`. A year that does not read, or lies outside 1989–2200, names its
    /// field.
    pub fn from_query(fy: &str, year: &str, today_fy: i32) -> Result<Period, crate::FieldError> {
        let read = |field: &str, s: &str| checked_year(field, s.trim().parse::<i32>().ok());
        if !year.trim().is_empty() {
            Ok(Period::Calendar(read("year", year)?))
        } else if !fy.trim().is_empty() {
            Ok(Period::FiscalYear(read("fy", fy)?))
        } else {
            Ok(Period::FiscalYear(today_fy))
        }
    }

    /// The first and last day (both included).
    pub fn days(self) -> (NaiveDate, NaiveDate) {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
        match self {
            Period::FiscalYear(y) => (ymd(y, 4, 1), ymd(y + 1, 3, 31)),
            Period::Calendar(y) => (ymd(y, 1, 1), ymd(y, 12, 31)),
        }
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        let (a, b) = self.days();
        a <= day && day <= b
    }

    /// The twelve months in order, as (year, month).
    pub fn months(self) -> Vec<(i32, u32)> {
        let (start, _) = self.days();
        (0..12)
            .map(|i| {
                let m0 = start.month0() + i;
                (
                    start.year() + i32::try_from(m0 / 12).unwrap_or(0),
                    m0 % 12 + 1,
                )
            })
            .collect()
    }

    /// The period before, for the change from the previous year.
    pub fn previous(self) -> Period {
        match self {
            Period::FiscalYear(y) => Period::FiscalYear(y - 1),
            Period::Calendar(y) => Period::Calendar(y - 1),
        }
    }
}

/// A year statistics may ask about (1989–2200, from 平成 on), or the error naming `field`.
pub fn checked_year(field: &str, year: Option<i32>) -> Result<i32, crate::FieldError> {
    year.filter(|y| (1989..=2200).contains(y)).ok_or_else(|| {
        crate::FieldError::new(
            field,
            crate::FieldErrorKind::OutOfRange {
                min: 1989,
                max: 2200,
            },
        )
    })
}

/// How far a report's stages got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// 第一報のみ
    FirstOnly,
    /// 続報あり (no final report yet)
    FollowedUp,
    /// 最終報あり
    Final,
}

impl Completeness {
    pub const ALL: [Completeness; 3] = [
        Completeness::FirstOnly,
        Completeness::FollowedUp,
        Completeness::Final,
    ];

    pub fn of(r: &Report) -> Completeness {
        if r.stages.iter().any(|s| s.kind == StageKind::Final) {
            Completeness::Final
        } else if r.stages.iter().any(|s| s.kind == StageKind::FollowUp) {
            Completeness::FollowedUp
        } else {
            Completeness::FirstOnly
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Completeness::FirstOnly => "first_only",
            Completeness::FollowedUp => "followed_up",
            Completeness::Final => "final",
        }
    }
}

/// The time from occurrence to the first report, in bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delay {
    /// Within an hour.
    Hour,
    /// Within a day.
    Day,
    /// Within a week.
    Week,
    /// Later than a week.
    Longer,
    /// The time of occurrence is not known (or is after the report).
    Unknown,
}

impl Delay {
    pub const ALL: [Delay; 5] = [
        Delay::Hour,
        Delay::Day,
        Delay::Week,
        Delay::Longer,
        Delay::Unknown,
    ];

    pub fn of(r: &Report) -> Delay {
        let Some(occurred) = r.details.occurred_at else {
            return Delay::Unknown;
        };
        let d = r.reported_at - occurred;
        if d < chrono::TimeDelta::zero() {
            Delay::Unknown
        } else if d <= chrono::TimeDelta::hours(1) {
            Delay::Hour
        } else if d <= chrono::TimeDelta::days(1) {
            Delay::Day
        } else if d <= chrono::TimeDelta::days(7) {
            Delay::Week
        } else {
            Delay::Longer
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Delay::Hour => "hour",
            Delay::Day => "day",
            Delay::Week => "week",
            Delay::Longer => "longer",
            Delay::Unknown => "unknown",
        }
    }
}

/// Severity as counted: a level, or not given.
pub type SeverityKey = Option<u8>;

/// The tables of one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    pub total: u64,
    /// (event type, sector) → reports.
    pub event_sector: BTreeMap<(Code, Code), u64>,
    /// Cause → reports naming it; a report with several causes counts under each.
    pub causes: BTreeMap<Code, u64>,
    pub severity: BTreeMap<SeverityKey, u64>,
    pub completeness: BTreeMap<Completeness, u64>,
    pub delay: BTreeMap<Delay, u64>,
    /// (year, month) → reports, for the twelve months of the period.
    pub months: BTreeMap<(i32, u32), u64>,
}

impl Tables {
    /// Counts one report that lies in the period.
    pub fn add(&mut self, r: &Report) {
        let d = &r.details;
        self.total += 1;
        *self
            .event_sector
            .entry((d.event_type.clone(), d.sector.clone()))
            .or_default() += 1;
        let mut causes: Vec<&Code> = d.causes.iter().collect();
        causes.sort();
        causes.dedup();
        for c in causes {
            *self.causes.entry(c.clone()).or_default() += 1;
        }
        *self
            .severity
            .entry(d.severity.map(|s| s.level()))
            .or_default() += 1;
        *self.completeness.entry(Completeness::of(r)).or_default() += 1;
        *self.delay.entry(Delay::of(r)).or_default() += 1;
        let day = crate::clock::jst_date(r.reported_at);
        *self.months.entry((day.year(), day.month())).or_default() += 1;
    }

    /// The tables of `reports`, counting those whose first report fell in `period` (Japan
    /// date).
    pub fn of<'a>(period: Period, reports: impl IntoIterator<Item = &'a Report>) -> Tables {
        let mut t = Tables::default();
        for r in reports {
            if period.contains(crate::clock::jst_date(r.reported_at)) {
                t.add(r);
            }
        }
        t
    }

    /// The same tables with every count under `min` replaced by `None`, as shown to readers
    /// for whom a small count could point at one operator. The total is kept only when it is
    /// `min` or more.
    pub fn suppressed(&self, min: u64) -> SuppressedTables {
        fn keep<K: Ord + Clone>(m: &BTreeMap<K, u64>, min: u64) -> Vec<(K, Option<u64>)> {
            m.iter()
                .map(|(k, &n)| (k.clone(), (n >= min).then_some(n)))
                .collect()
        }
        SuppressedTables {
            total: (self.total >= min).then_some(self.total),
            event_sector: keep(&self.event_sector, min),
            causes: keep(&self.causes, min),
            severity: keep(&self.severity, min),
            completeness: keep(&self.completeness, min),
            delay: keep(&self.delay, min),
            months: keep(&self.months, min),
        }
    }
}

/// Tables with small counts withheld (`None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuppressedTables {
    pub total: Option<u64>,
    pub event_sector: Vec<((Code, Code), Option<u64>)>,
    pub causes: Vec<(Code, Option<u64>)>,
    pub severity: Vec<(SeverityKey, Option<u64>)>,
    pub completeness: Vec<(Completeness, Option<u64>)>,
    pub delay: Vec<(Delay, Option<u64>)>,
    pub months: Vec<((i32, u32), Option<u64>)>,
}

/// Cells under this are withheld on the public portal.
pub const PUBLIC_MIN_CELL: u64 = 3;

/// The change from `before` to `now` in percent, rounded toward zero; `None` when there was
/// nothing before.
pub fn change_percent(before: u64, now: u64) -> Option<i64> {
    if before == 0 {
        return None;
    }
    let (b, n) = (i128::from(before), i128::from(now));
    i64::try_from((n - b) * 100 / b).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::{OrgId, ReportId};
    use crate::report::{Impact, ReportDetails, ReportStatus, Stage};
    use crate::taxonomy::{Severity, Tlp};
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use proptest::prelude::*;

    #[allow(clippy::too_many_arguments, reason = "a test's report in one line")]
    fn report(
        id: i64,
        at: DateTime<Utc>,
        sector: &str,
        event: &str,
        causes: &[&str],
        severity: Option<u8>,
        stages: &[StageKind],
        occurred_before: Option<i64>,
    ) -> Report {
        Report {
            id: ReportId(id),
            version: 1,
            org_id: OrgId(1),
            status: ReportStatus::New,
            reported_at: at,
            updated_at: at,
            details: ReportDetails {
                title: "t".into(),
                sector: Code(sector.into()),
                region: None,
                affected_service: String::new(),
                occurred_at: occurred_before.map(|m| at - TimeDelta::minutes(m)),
                detected_at: None,
                event_type: Code(event.into()),
                causes: causes.iter().map(|c| Code((*c).into())).collect(),
                severity: severity.map(|s| Severity::new(s).unwrap()),
                impact: Impact::default(),
                systems: Vec::new(),
                vendors: Vec::new(),
                tlp: Tlp::Green,
                summary: String::new(),
            },
            stages: stages
                .iter()
                .zip(1..)
                .map(|(k, seq)| Stage {
                    seq,
                    kind: *k,
                    at,
                    text: String::new(),
                    author: None,
                })
                .collect(),
            case_id: None,
        }
    }

    #[test]
    fn a_fiscal_year_runs_april_to_march_in_japan_time() {
        let fy = Period::FiscalYear(2019);
        assert_eq!(fy.months()[0], (2019, 4));
        assert_eq!(fy.months()[11], (2020, 3));
        // 31 March 2020 23:30 JST is still 年度 2019; 1 April 00:30 JST is not.
        let late = Utc.with_ymd_and_hms(2020, 3, 31, 14, 30, 0).unwrap();
        let next = Utc.with_ymd_and_hms(2020, 3, 31, 15, 30, 0).unwrap();
        let rs = [
            report(
                1,
                late,
                "railway",
                "unavailability",
                &["a", "b", "a"],
                Some(2),
                &[StageKind::First],
                Some(30),
            ),
            report(
                2,
                next,
                "railway",
                "unavailability",
                &[],
                None,
                &[StageKind::First, StageKind::Final],
                None,
            ),
        ];
        let t = Tables::of(fy, &rs);
        assert_eq!(t.total, 1);
        assert_eq!(
            t.causes.get(&Code("a".into())),
            Some(&1),
            "a cause named twice counts once"
        );
        assert_eq!(t.delay.get(&Delay::Hour), Some(&1));
        assert_eq!(t.months.get(&(2020, 3)), Some(&1));
        let next_year = Tables::of(Period::FiscalYear(2020), &rs);
        assert_eq!(next_year.completeness.get(&Completeness::Final), Some(&1));
        assert_eq!(next_year.delay.get(&Delay::Unknown), Some(&1));
        assert_eq!(change_percent(4, 5), Some(25));
        assert_eq!(change_percent(4, 2), Some(-50));
        assert_eq!(change_percent(0, 2), None);
    }

    proptest! {
        /// Every cell equals a count made the plain way, over any mix of reports.
        #[test]
        fn cells_equal_a_brute_force_count(
            raw in proptest::collection::vec(
                (0i64..800, 0usize..3, 0usize..3, proptest::collection::vec(0usize..4, 0..4),
                 proptest::option::of(0u8..=4), 0usize..3, proptest::option::of(0i64..20_000)),
                0..60,
            ),
            calendar in any::<bool>(),
        ) {
            let sectors = ["railway", "finance", "water"];
            let events = ["unavailability", "leak", "tamper"];
            let cause_codes = ["a", "b", "c", "d"];
            let start = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap();
            let reports: Vec<Report> = raw.iter().enumerate().map(|(i, (day, s, e, cs, sev, st, occ))| {
                let stages: &[StageKind] = match st {
                    0 => &[StageKind::First],
                    1 => &[StageKind::First, StageKind::FollowUp],
                    _ => &[StageKind::First, StageKind::FollowUp, StageKind::Final],
                };
                let causes: Vec<&str> = cs.iter().map(|c| cause_codes[*c]).collect();
                report(i64::try_from(i).unwrap(), start + TimeDelta::hours(day * 13), sectors[*s], events[*e], &causes, *sev, stages, *occ)
            }).collect();
            let period = if calendar { Period::Calendar(2019) } else { Period::FiscalYear(2019) };
            let t = Tables::of(period, &reports);
            let inside: Vec<&Report> = reports.iter()
                .filter(|r| period.contains(crate::clock::jst_date(r.reported_at)))
                .collect();
            prop_assert_eq!(t.total, inside.len() as u64);
            for e in events { for s in sectors {
                let n = inside.iter().filter(|r| r.details.event_type.0 == e && r.details.sector.0 == s).count() as u64;
                prop_assert_eq!(t.event_sector.get(&(Code(e.into()), Code(s.into()))).copied().unwrap_or(0), n);
            }}
            for c in cause_codes {
                let n = inside.iter().filter(|r| r.details.causes.iter().any(|x| x.0 == c)).count() as u64;
                prop_assert_eq!(t.causes.get(&Code(c.into())).copied().unwrap_or(0), n);
            }
            for k in Completeness::ALL {
                let n = inside.iter().filter(|r| Completeness::of(r) == k).count() as u64;
                prop_assert_eq!(t.completeness.get(&k).copied().unwrap_or(0), n);
            }
            let months: u64 = t.months.values().sum();
            prop_assert_eq!(months, t.total);
            prop_assert!(t.months.keys().all(|m| period.months().contains(m)));
            let s = t.suppressed(PUBLIC_MIN_CELL);
            prop_assert!(s.causes.iter().all(|(_, n)| n.is_none_or(|n| n >= PUBLIC_MIN_CELL)));
        }
    }
}
