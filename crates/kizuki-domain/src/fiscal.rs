//! 年度 (the Japanese fiscal year, April 1 to March 31): which fiscal year a
//! date falls in, its bounds, its labels (2019年度, 令和元年度), and parsing
//! the ways people write one.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::wareki::{self, Era};

/// A fiscal year (年度), named by the calendar year in which it starts:
/// `FiscalYear(2019)` runs from 2019-04-01 to 2020-03-31.
///
/// Serialized as a bare number, like `#[serde(transparent)]`, but
/// deserialization goes through [`FiscalYear::new`] so stored data cannot
/// smuggle in an out-of-range year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct FiscalYear(i32);

/// Why a fiscal year could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalYearError {
    #[error("no fiscal year was given")]
    Empty,
    #[error(
        "{input:?} is not a recognised fiscal year (try 2019, 2019年度, 令和元年度, R1年度 or FY2019)"
    )]
    Unrecognised { input: String },
    #[error(
        "year {year} is ambiguous: write a Western year with four digits, or put the era before a Japanese year"
    )]
    AmbiguousYear { year: u32 },
    #[error("fiscal year {year} is outside the supported range 1873 to 9999")]
    OutOfRange { year: i64 },
    #[error("era years start at 1 (元年); {era} 0 does not exist")]
    EraYearZero { era: Era },
    #[error("{} was not in force at any time during fiscal year {fiscal_year}", era.romaji())]
    EraNotInForce {
        era: Era,
        year: u32,
        fiscal_year: i32,
    },
}

impl FiscalYearError {
    /// The reason in Japanese, for showing to users.
    pub fn message_ja(&self) -> String {
        match self {
            FiscalYearError::Empty => "年度が入力されていません".to_string(),
            FiscalYearError::Unrecognised { input } => format!(
                "「{input}」は年度として認識できません（例: 2019年度、令和元年度、R1年度、FY2019）"
            ),
            FiscalYearError::AmbiguousYear { year } => format!(
                "{year}年度がどの年度か判断できません。西暦は4桁で、和暦は元号を付けて入力してください（例: 2019年度、令和元年度）"
            ),
            FiscalYearError::OutOfRange { year } => format!(
                "{year}年度は対応範囲外です（{}年度から{}年度まで対応しています）",
                FiscalYear::MIN.0,
                FiscalYear::MAX.0
            ),
            FiscalYearError::EraYearZero { era } => format!(
                "和暦に0年はありません（{}の最初の年度は{}度です）",
                era.kanji(),
                wareki::format_era_year(*era, 1)
            ),
            FiscalYearError::EraNotInForce {
                era,
                year,
                fiscal_year,
            } => {
                let label = format!("{}度", wareki::format_era_year(*era, *year));
                let reason = match era.last_day() {
                    Some(last) if FiscalYear(*fiscal_year).first_day() > last => format!(
                        "{}は{}に終わったため",
                        era.kanji(),
                        wareki::format_seireki(last)
                    ),
                    _ => format!(
                        "{}は{}に始まったため",
                        era.kanji(),
                        wareki::format_seireki(era.first_day())
                    ),
                };
                format!(
                    "{reason}、{label}（{fiscal_year}年4月1日〜{}年3月31日）は存在しません",
                    i64::from(*fiscal_year) + 1
                )
            }
        }
    }
}

/// The 年度 an instant falls in, by its date in Japan: January to March belong to the year
/// before. Plain arithmetic, so every instant has one (the store indexes it), while
/// [`FiscalYear::of`] also checks the range a user may type.
pub fn year_of(at: chrono::DateTime<chrono::Utc>) -> i32 {
    use chrono::Datelike;
    let day = crate::clock::jst_date(at);
    if day.month() >= 4 {
        day.year()
    } else {
        day.year() - 1
    }
}

impl FiscalYear {
    /// 1873年度 (明治6年度): the first whose days are all Gregorian. Japan's
    /// April-to-March fiscal year only began in 1886, so nothing real is lost.
    pub const MIN: FiscalYear = FiscalYear(1873);
    /// 9999年度, matching the four-digit years the date parser accepts.
    pub const MAX: FiscalYear = FiscalYear(9999);

    /// The fiscal year starting in April of `year`.
    pub fn new(year: i32) -> Result<FiscalYear, FiscalYearError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&year) {
            Ok(FiscalYear(year))
        } else {
            Err(FiscalYearError::OutOfRange {
                year: i64::from(year),
            })
        }
    }

    /// The fiscal year `date` falls in: January to March belong to the
    /// fiscal year that started the previous April.
    pub fn of(date: NaiveDate) -> Result<FiscalYear, FiscalYearError> {
        use chrono::Datelike;
        let year = if date.month() >= 4 {
            date.year()
        } else {
            date.year() - 1
        };
        FiscalYear::new(year)
    }

    /// The calendar year in which this fiscal year starts.
    pub fn year(self) -> i32 {
        self.0
    }

    // `new` keeps the year within 1873..=9999, where April 1 and March 31
    // always exist; the fallbacks below are unreachable but avoid a panic.

    /// April 1 of [`FiscalYear::year`].
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0, 4, 1).unwrap_or(wareki::GREGORIAN_ADOPTION)
    }

    /// March 31 of the following calendar year (inclusive).
    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0 + 1, 3, 31).unwrap_or(NaiveDate::MAX)
    }

    /// Whether `date` lies within this fiscal year.
    pub fn contains(self, date: NaiveDate) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }

    /// The following fiscal year, if within range.
    pub fn next(self) -> Option<FiscalYear> {
        FiscalYear::new(self.0 + 1).ok()
    }

    /// The preceding fiscal year, if within range.
    pub fn prev(self) -> Option<FiscalYear> {
        FiscalYear::new(self.0 - 1).ok()
    }

    /// The era and era year used to name this fiscal year.
    ///
    /// Rule: the era in force on December 31 of the calendar year in which
    /// the fiscal year starts, with that calendar year's era year. So
    /// FY2019 is 令和元年度 (not 平成31年度), FY1988 is 昭和63年度 and FY1989
    /// is 平成元年度.
    ///
    /// Why: an era change inside a fiscal year leaves two candidate names.
    /// Era years are counted by calendar year, and a new era's 元年 is the
    /// calendar year of the change, so the name must be that calendar
    /// year's, and the era still in force at that year's end is the one that
    /// names it. This matches government usage: after the 2019 改元 the
    /// current fiscal year was called 令和元年度, while FY1988, whose 改元 fell
    /// in January 1989, stayed 昭和63年度. It also keeps the era year equal to
    /// `year() - era.first_year() + 1`, so labels and years convert cleanly.
    pub fn era_year(self) -> (Era, u32) {
        let reference = NaiveDate::from_ymd_opt(self.0, 12, 31).unwrap_or(wareki::LAST_SUPPORTED);
        let era = Era::of(reference).unwrap_or(Era::Meiji);
        let year = u32::try_from(self.0 - era.first_year() + 1).unwrap_or(1);
        (era, year)
    }

    /// "令和元年度"; see [`FiscalYear::era_year`] for which era is used.
    pub fn wareki_label(self) -> String {
        let (era, year) = self.era_year();
        format!("{}度", wareki::format_era_year(era, year))
    }

    /// Reads `2019`, `2019年度`, `FY2019`, `令和元年度`, `R1年度`, `令和1年度`,
    /// with full-width characters and spaces allowed.
    ///
    /// An era name is accepted when that era was in force during at least
    /// part of the fiscal year, so both 平成31年度 (used for FY2019 before
    /// May 2019) and 令和元年度 read as FY2019, while 昭和64年度 — a name
    /// never used, since 昭和 ended before FY1989 began — is an error.
    pub fn parse(input: &str) -> Result<FiscalYear, FiscalYearError> {
        let normalized = wareki::normalize(input);
        if normalized.is_empty() {
            return Err(FiscalYearError::Empty);
        }
        let unrecognised = || FiscalYearError::Unrecognised {
            input: input.trim().to_string(),
        };
        let body = normalized
            .strip_suffix("年度")
            .unwrap_or(normalized.as_str());
        let (era, rest) = match strip_fy_prefix(body) {
            Some(rest) => (None, rest),
            None => wareki::split_era(body),
        };
        let (num, rest) = wareki::take_number(rest).ok_or_else(unrecognised)?;
        if !rest.is_empty() {
            return Err(unrecognised());
        }
        let Some(era) = era else {
            if num.gan {
                return Err(unrecognised());
            }
            if num.width < 4 {
                return Err(FiscalYearError::AmbiguousYear { year: num.value });
            }
            let year = i32::try_from(num.value).map_err(|_| FiscalYearError::OutOfRange {
                year: i64::from(num.value),
            })?;
            return FiscalYear::new(year);
        };
        if num.value == 0 {
            return Err(FiscalYearError::EraYearZero { era });
        }
        let calendar_year = i64::from(era.first_year()) + i64::from(num.value) - 1;
        let fiscal = i32::try_from(calendar_year)
            .map_err(|_| FiscalYearError::OutOfRange {
                year: calendar_year,
            })
            .and_then(FiscalYear::new)?;
        let began_in_time = era.first_day() <= fiscal.last_day();
        let lasted_long_enough = era.last_day().is_none_or(|last| last >= fiscal.first_day());
        if began_in_time && lasted_long_enough {
            Ok(fiscal)
        } else {
            Err(FiscalYearError::EraNotInForce {
                era,
                year: num.value,
                fiscal_year: fiscal.0,
            })
        }
    }
}

fn strip_fy_prefix(s: &str) -> Option<&str> {
    let head = s.get(..2)?;
    if head.eq_ignore_ascii_case("FY") {
        s.get(2..)
    } else {
        None
    }
}

impl fmt::Display for FiscalYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}年度", self.0)
    }
}

impl FromStr for FiscalYear {
    type Err = FiscalYearError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FiscalYear::parse(s)
    }
}

impl TryFrom<i32> for FiscalYear {
    type Error = FiscalYearError;

    fn try_from(year: i32) -> Result<Self, Self::Error> {
        FiscalYear::new(year)
    }
}

impl From<FiscalYear> for i32 {
    fn from(fiscal: FiscalYear) -> Self {
        fiscal.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn fy(year: i32) -> FiscalYear {
        FiscalYear::new(year).unwrap()
    }

    #[test]
    fn an_instant_takes_the_year_of_its_date_in_japan() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        // 2020-03-31 15:00 UTC is already 1 April in Japan.
        assert_eq!(year_of(at("2020-03-31T14:59:59Z")), 2019);
        assert_eq!(year_of(at("2020-03-31T15:00:00Z")), 2020);
        assert_eq!(year_of(at("2019-12-31T20:00:00Z")), 2019);
        assert_eq!(year_of(at("1800-02-01T00:00:00Z")), 1799);
    }

    #[test]
    fn of_and_bounds_at_april_and_march() {
        assert_eq!(FiscalYear::of(d(2019, 3, 31)).unwrap(), fy(2018));
        assert_eq!(FiscalYear::of(d(2019, 4, 1)).unwrap(), fy(2019));
        assert_eq!(FiscalYear::of(d(2020, 3, 31)).unwrap(), fy(2019));
        assert_eq!(FiscalYear::of(d(2020, 4, 1)).unwrap(), fy(2020));
        assert_eq!(FiscalYear::of(d(2019, 1, 1)).unwrap(), fy(2018));
        assert_eq!(FiscalYear::of(d(2019, 12, 31)).unwrap(), fy(2019));
        assert_eq!(fy(2019).first_day(), d(2019, 4, 1));
        assert_eq!(fy(2019).last_day(), d(2020, 3, 31));
        assert_eq!(fy(2019).year(), 2019);
        assert!(fy(2019).contains(d(2019, 4, 1)));
        assert!(fy(2019).contains(d(2020, 3, 31)));
        assert!(fy(2019).contains(d(2020, 2, 29)));
        assert!(!fy(2019).contains(d(2019, 3, 31)));
        assert!(!fy(2019).contains(d(2020, 4, 1)));
        assert_eq!(fy(2019).next(), Some(fy(2020)));
        assert_eq!(fy(2019).prev(), Some(fy(2018)));
        assert_eq!(FiscalYear::MAX.next(), None);
        assert_eq!(FiscalYear::MIN.prev(), None);
        for year in [1873, 1988, 2019, 2100, 9999] {
            let f = fy(year);
            assert_eq!(FiscalYear::of(f.first_day()).unwrap(), f);
            assert_eq!(FiscalYear::of(f.last_day()).unwrap(), f);
            assert_eq!(
                f.last_day().succ_opt().unwrap(),
                f.next().map_or(d(10000, 4, 1), |n| n.first_day())
            );
        }
    }

    #[test]
    fn range_checks() {
        assert_eq!(
            FiscalYear::new(1872),
            Err(FiscalYearError::OutOfRange { year: 1872 })
        );
        assert_eq!(
            FiscalYear::new(10000),
            Err(FiscalYearError::OutOfRange { year: 10000 })
        );
        assert_eq!(
            FiscalYear::of(d(1873, 3, 31)),
            Err(FiscalYearError::OutOfRange { year: 1872 })
        );
        assert_eq!(FiscalYear::of(d(1873, 4, 1)).unwrap(), fy(1873));
        assert!(FiscalYear::of(d(10000, 4, 1)).is_err());
    }

    #[test]
    fn labels() {
        assert_eq!(fy(2019).to_string(), "2019年度");
        assert_eq!(fy(2019).wareki_label(), "令和元年度");
        assert_eq!(fy(2018).wareki_label(), "平成30年度");
        assert_eq!(fy(2020).wareki_label(), "令和2年度");
        assert_eq!(fy(1988).wareki_label(), "昭和63年度");
        assert_eq!(fy(1989).wareki_label(), "平成元年度");
        assert_eq!(fy(1926).wareki_label(), "昭和元年度");
        assert_eq!(fy(1925).wareki_label(), "大正14年度");
        assert_eq!(fy(1912).wareki_label(), "大正元年度");
        assert_eq!(fy(1911).wareki_label(), "明治44年度");
        assert_eq!(fy(1873).wareki_label(), "明治6年度");
        assert_eq!(fy(2019).era_year(), (Era::Reiwa, 1));
    }

    #[test]
    fn parse_accepted() {
        for input in [
            "2019",
            "2019年度",
            "令和元年度",
            "令和1年度",
            "令和一年度",
            "R1年度",
            "r1年度",
            "R1",
            "㋿元年度",
            "FY2019",
            "fy2019",
            "FY 2019",
            "２０１９年度",
            "ＦＹ２０１９",
            "Ｒ１年度",
            " 令和 元 年度 ",
            "平成31年度",
            "H31年度",
        ] {
            assert_eq!(FiscalYear::parse(input), Ok(fy(2019)), "{input:?}");
        }
        assert_eq!(FiscalYear::parse("昭和63年度"), Ok(fy(1988)));
        assert_eq!(FiscalYear::parse("平成元年度"), Ok(fy(1989)));
        assert_eq!(FiscalYear::parse("明治45年度"), Ok(fy(1912)));
        assert_eq!(FiscalYear::parse("大正元年度"), Ok(fy(1912)));
        assert_eq!("2020年度".parse::<FiscalYear>(), Ok(fy(2020)));
        for year in [1873, 1926, 1988, 1989, 2019, 2100] {
            let f = fy(year);
            assert_eq!(FiscalYear::parse(&f.to_string()), Ok(f));
            assert_eq!(FiscalYear::parse(&f.wareki_label()), Ok(f));
        }
    }

    #[test]
    fn parse_rejected() {
        assert_eq!(FiscalYear::parse(""), Err(FiscalYearError::Empty));
        assert_eq!(FiscalYear::parse("  "), Err(FiscalYearError::Empty));
        for input in [
            "abc",
            "年度",
            "2019年",
            "2019-04",
            "FY",
            "元年度",
            "令和年度",
        ] {
            assert!(
                matches!(
                    FiscalYear::parse(input),
                    Err(FiscalYearError::Unrecognised { .. })
                ),
                "{input:?}: {:?}",
                FiscalYear::parse(input)
            );
        }
        assert_eq!(
            FiscalYear::parse("19年度"),
            Err(FiscalYearError::AmbiguousYear { year: 19 })
        );
        assert_eq!(
            FiscalYear::parse("1872年度"),
            Err(FiscalYearError::OutOfRange { year: 1872 })
        );
        assert_eq!(
            FiscalYear::parse("明治5年度"),
            Err(FiscalYearError::OutOfRange { year: 1872 })
        );
        assert_eq!(
            FiscalYear::parse("令和0年度"),
            Err(FiscalYearError::EraYearZero { era: Era::Reiwa })
        );
        let showa64 = FiscalYear::parse("昭和64年度").unwrap_err();
        assert_eq!(
            showa64,
            FiscalYearError::EraNotInForce {
                era: Era::Showa,
                year: 64,
                fiscal_year: 1989
            }
        );
        assert_eq!(
            showa64.message_ja(),
            "昭和は1989年1月7日に終わったため、昭和64年度（1989年4月1日〜1990年3月31日）は存在しません"
        );
        assert!(matches!(
            FiscalYear::parse("平成32年度"),
            Err(FiscalYearError::EraNotInForce { .. })
        ));
        for input in ["", "x", "19", "0年度", "令和0年度", "昭和64年度"] {
            let error = FiscalYear::parse(input).unwrap_err();
            assert!(!error.to_string().is_empty());
            assert!(!error.message_ja().is_empty());
        }
    }

    #[test]
    fn serde_is_a_bare_checked_number() {
        assert_eq!(serde_json::to_string(&fy(2019)).unwrap(), "2019");
        assert_eq!(
            serde_json::from_str::<FiscalYear>("2019").unwrap(),
            fy(2019)
        );
        assert!(serde_json::from_str::<FiscalYear>("1800").is_err());
    }
}
