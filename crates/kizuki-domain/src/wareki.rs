//! 和暦 (Japanese era dates): conversion between Gregorian dates and era dates,
//! the Japanese date formats used in reports, and a forgiving parser for the
//! many ways people write dates when they file an incident.
//!
//! Only dates from 1873-01-01 (明治6年1月1日), the day Japan adopted the
//! Gregorian calendar, are supported: earlier Japanese dates were lunisolar,
//! so reading them as Gregorian would silently give the wrong day.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A Japanese era (元号) of the modern period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

struct EraInfo {
    era: Era,
    kanji: &'static str,
    letter: char,
    romaji: &'static str,
    /// The single-character form (e.g. ㋿) some input methods produce.
    ligature: char,
    first_day: NaiveDate,
}

// Only ever called in const items, so an invalid literal fails the build
// instead of reaching run time.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid date literal"),
    }
}

/// The one table every era fact comes from. Rows are indexed by the `Era`
/// discriminant (checked at compile time below) and so are chronological
/// (checked by a test, as dates cannot be compared in const code).
const ERAS: &[EraInfo] = &[
    EraInfo {
        era: Era::Meiji,
        kanji: "明治",
        letter: 'M',
        romaji: "Meiji",
        ligature: '㍾',
        first_day: ymd(1868, 10, 23),
    },
    EraInfo {
        era: Era::Taisho,
        kanji: "大正",
        letter: 'T',
        romaji: "Taisho",
        ligature: '㍽',
        first_day: ymd(1912, 7, 30),
    },
    EraInfo {
        era: Era::Showa,
        kanji: "昭和",
        letter: 'S',
        romaji: "Showa",
        ligature: '㍼',
        first_day: ymd(1926, 12, 25),
    },
    EraInfo {
        era: Era::Heisei,
        kanji: "平成",
        letter: 'H',
        romaji: "Heisei",
        ligature: '㍻',
        first_day: ymd(1989, 1, 8),
    },
    EraInfo {
        era: Era::Reiwa,
        kanji: "令和",
        letter: 'R',
        romaji: "Reiwa",
        ligature: '㋿',
        first_day: ymd(2019, 5, 1),
    },
];

// Build-time check of the table's invariants, so `Era::info` can index it.
const _: () = {
    let mut i = 0;
    while i < ERAS.len() {
        assert!(ERAS[i].era as usize == i, "ERAS must be indexed by Era");
        i += 1;
    }
};

const ALL_ERAS: [Era; ERAS.len()] = {
    let mut all = [Era::Meiji; ERAS.len()];
    let mut i = 0;
    while i < ERAS.len() {
        all[i] = ERAS[i].era;
        i += 1;
    }
    all
};

/// 1873-01-01 (明治6年1月1日): Japan's first Gregorian day and the earliest
/// date this module accepts.
pub const GREGORIAN_ADOPTION: NaiveDate = ymd(1873, 1, 1);

/// The latest date this module accepts; input years are at most four digits.
pub const LAST_SUPPORTED: NaiveDate = ymd(9999, 12, 31);

const MAX_YEAR: i64 = 9999;

impl Era {
    fn info(self) -> &'static EraInfo {
        &ERAS[self as usize]
    }

    /// Every era, oldest first.
    pub fn all() -> &'static [Era] {
        &ALL_ERAS
    }

    /// "明治", "大正", "昭和", "平成", "令和".
    pub fn kanji(self) -> &'static str {
        self.info().kanji
    }

    /// 'M', 'T', 'S', 'H', 'R' as in "R1.5.1".
    pub fn letter(self) -> char {
        self.info().letter
    }

    /// "Meiji", "Taisho", "Showa", "Heisei", "Reiwa".
    pub fn romaji(self) -> &'static str {
        self.info().romaji
    }

    /// The single-character ligature: ㍾ ㍽ ㍼ ㍻ ㋿.
    pub fn ligature(self) -> char {
        self.info().ligature
    }

    /// The day the era began. For 明治 this is 1868-10-23, which is before
    /// [`GREGORIAN_ADOPTION`]; conversions still reject dates before 1873.
    pub fn first_day(self) -> NaiveDate {
        self.info().first_day
    }

    /// The Gregorian year that is year 1 (元年) of the era.
    pub fn first_year(self) -> i32 {
        self.first_day().year()
    }

    /// The era's last day, or `None` for the current era.
    pub fn last_day(self) -> Option<NaiveDate> {
        self.next().and_then(|next| next.first_day().pred_opt())
    }

    /// The era that followed this one.
    pub fn next(self) -> Option<Era> {
        ALL_ERAS.get(self as usize + 1).copied()
    }

    /// The era that preceded this one.
    pub fn prev(self) -> Option<Era> {
        (self as usize)
            .checked_sub(1)
            .and_then(|i| ALL_ERAS.get(i).copied())
    }

    /// The era in force on `date`, or `None` outside the supported range.
    pub fn of(date: NaiveDate) -> Option<Era> {
        if !(GREGORIAN_ADOPTION..=LAST_SUPPORTED).contains(&date) {
            return None;
        }
        ALL_ERAS
            .iter()
            .rev()
            .copied()
            .find(|era| era.first_day() <= date)
    }

    /// Looks up an era by its letter, in either case.
    pub fn from_letter(letter: char) -> Option<Era> {
        let upper = letter.to_ascii_uppercase();
        ALL_ERAS.iter().copied().find(|era| era.letter() == upper)
    }

    /// Looks up an era by its kanji name.
    pub fn from_kanji(name: &str) -> Option<Era> {
        ALL_ERAS.iter().copied().find(|era| era.kanji() == name)
    }

    /// Looks up an era by its romaji name, in any case.
    pub fn from_romaji(name: &str) -> Option<Era> {
        ALL_ERAS
            .iter()
            .copied()
            .find(|era| era.romaji().eq_ignore_ascii_case(name))
    }

    /// Looks up an era by its ligature character.
    pub fn from_ligature(c: char) -> Option<Era> {
        ALL_ERAS.iter().copied().find(|era| era.ligature() == c)
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kanji())
    }
}

/// "元年" for the first year of an era, "N年" otherwise, prefixed by the era
/// name: `format_era_year(Era::Reiwa, 1)` is "令和元年".
pub fn format_era_year(era: Era, year: u32) -> String {
    if year == 1 {
        format!("{}元年", era.kanji())
    } else {
        format!("{}{}年", era.kanji(), year)
    }
}

/// A date written in the Japanese era system. The fields are public so a
/// value may be built from user input; [`Wareki::to_date`] validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Wareki {
    pub era: Era,
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

/// Why a date cannot be converted to or from an era date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarekiError {
    #[error(
        "{date} is before 1873-01-01, when Japan adopted the Gregorian calendar; earlier dates are not supported"
    )]
    BeforeGregorian { date: NaiveDate },
    #[error("{date} is after 9999-12-31, the last supported date")]
    AfterSupportedRange { date: NaiveDate },
    #[error("era years start at 1 (元年); {era} 0 does not exist")]
    YearZero { era: Era },
    #[error("{era} {year} is after the year 9999, the last supported year")]
    YearOutOfRange { era: Era, year: u32 },
    #[error("month {month} does not exist; months are 1 to 12")]
    InvalidMonth { month: u32 },
    #[error("{}", invalid_day_en(*year, *month, *day))]
    InvalidDay { year: i32, month: u32, day: u32 },
    #[error("{wareki} does not exist: {} began on {}", wareki.era.romaji(), wareki.era.first_day())]
    BeforeEraStart { wareki: Wareki },
    #[error("{wareki} does not exist: {} ended before {date}", wareki.era.romaji())]
    AfterEraEnd { wareki: Wareki, date: NaiveDate },
}

impl WarekiError {
    /// The reason in Japanese, for showing to users.
    pub fn message_ja(&self) -> String {
        match self {
            WarekiError::BeforeGregorian { date } => before_gregorian_ja(*date),
            WarekiError::AfterSupportedRange { date } => {
                year_out_of_range_ja(i64::from(date.year()))
            }
            WarekiError::YearZero { era } => era_year_zero_ja(*era),
            WarekiError::YearOutOfRange { era, year } => {
                year_out_of_range_ja(i64::from(era.first_year()) + i64::from(*year) - 1)
            }
            WarekiError::InvalidMonth { month } => invalid_month_ja(*month),
            WarekiError::InvalidDay { year, month, day } => invalid_day_ja(*year, *month, *day),
            WarekiError::BeforeEraStart { wareki } => before_era_start_ja(wareki),
            WarekiError::AfterEraEnd { wareki, date } => after_era_end_ja(wareki, *date),
        }
    }
}

impl Wareki {
    /// Builds an era date, checking that it exists.
    pub fn new(era: Era, year: u32, month: u32, day: u32) -> Result<Wareki, WarekiError> {
        let wareki = Wareki {
            era,
            year,
            month,
            day,
        };
        wareki.to_date()?;
        Ok(wareki)
    }

    /// The era date of a Gregorian date.
    pub fn from_date(date: NaiveDate) -> Result<Wareki, WarekiError> {
        if date < GREGORIAN_ADOPTION {
            return Err(WarekiError::BeforeGregorian { date });
        }
        if date > LAST_SUPPORTED {
            return Err(WarekiError::AfterSupportedRange { date });
        }
        let era = Era::of(date).ok_or(WarekiError::BeforeGregorian { date })?;
        let year = u32::try_from(date.year() - era.first_year() + 1)
            .map_err(|_| WarekiError::BeforeGregorian { date })?;
        Ok(Wareki {
            era,
            year,
            month: date.month(),
            day: date.day(),
        })
    }

    /// The Gregorian date, rejecting era dates that never existed, both
    /// before the era began (令和元年4月30日) and after it ended (平成31年5月1日).
    pub fn to_date(&self) -> Result<NaiveDate, WarekiError> {
        let date = self.date_ignoring_era_end()?;
        if let Some(next) = self.era.next()
            && date >= next.first_day()
        {
            return Err(WarekiError::AfterEraEnd {
                wareki: *self,
                date,
            });
        }
        Ok(date)
    }

    // People keep writing the old era for a while after a change (平成32年),
    // so the parser needs the date such a year would mean.
    fn date_ignoring_era_end(&self) -> Result<NaiveDate, WarekiError> {
        if self.year == 0 {
            return Err(WarekiError::YearZero { era: self.era });
        }
        if !(1..=12).contains(&self.month) {
            return Err(WarekiError::InvalidMonth { month: self.month });
        }
        let gregorian = i64::from(self.era.first_year()) + i64::from(self.year) - 1;
        let out_of_range = WarekiError::YearOutOfRange {
            era: self.era,
            year: self.year,
        };
        if gregorian > MAX_YEAR {
            return Err(out_of_range);
        }
        let gregorian = i32::try_from(gregorian).map_err(|_| out_of_range)?;
        let date = NaiveDate::from_ymd_opt(gregorian, self.month, self.day).ok_or(
            WarekiError::InvalidDay {
                year: gregorian,
                month: self.month,
                day: self.day,
            },
        )?;
        if date < self.era.first_day() {
            return Err(WarekiError::BeforeEraStart { wareki: *self });
        }
        if date < GREGORIAN_ADOPTION {
            return Err(WarekiError::BeforeGregorian { date });
        }
        Ok(date)
    }

    /// "R1.5.1".
    pub fn format_short(&self) -> String {
        format!(
            "{}{}.{}.{}",
            self.era.letter(),
            self.year,
            self.month,
            self.day
        )
    }

    /// "令和元年五月一日", as in formal documents.
    pub fn format_kanji(&self) -> String {
        let year = if self.year == 1 {
            "元".to_string()
        } else {
            kanji_number(self.year)
        };
        format!(
            "{}{}年{}月{}日",
            self.era.kanji(),
            year,
            kanji_number(self.month),
            kanji_number(self.day)
        )
    }
}

impl fmt::Display for Wareki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}月{}日",
            format_era_year(self.era, self.year),
            self.month,
            self.day
        )
    }
}

/// "2019年5月1日".
pub fn format_seireki(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

/// "令和元年5月1日"; dates outside the supported range fall back to
/// [`format_seireki`] so that display never fails.
pub fn format_wareki(date: NaiveDate) -> String {
    match Wareki::from_date(date) {
        Ok(wareki) => wareki.to_string(),
        Err(_) => format_seireki(date),
    }
}

/// "2019年5月1日（令和元年5月1日）"; only the Gregorian part outside the
/// supported range.
pub fn format_both(date: NaiveDate) -> String {
    match Wareki::from_date(date) {
        Ok(wareki) => format!("{}（{}）", format_seireki(date), wareki),
        Err(_) => format_seireki(date),
    }
}

/// "R1.5.1"; "1872.12.31" outside the supported range.
pub fn format_short(date: NaiveDate) -> String {
    match Wareki::from_date(date) {
        Ok(wareki) => wareki.format_short(),
        Err(_) => format!("{}.{}.{}", date.year(), date.month(), date.day()),
    }
}

/// "令和元年五月一日"; falls back to [`format_seireki`] outside the supported
/// range.
pub fn format_kanji(date: NaiveDate) -> String {
    match Wareki::from_date(date) {
        Ok(wareki) => wareki.format_kanji(),
        Err(_) => format_seireki(date),
    }
}

const KANJI_DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

// 十-style below 100 (三十一) as in formal writing; there is no 百 in dates
// before 2118, so larger numbers use the positional style (一〇〇).
fn kanji_number(n: u32) -> String {
    let digit = |d: u32| KANJI_DIGITS[(d % 10) as usize];
    if n == 0 {
        return "〇".to_string();
    }
    if n >= 100 {
        return n
            .to_string()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .map(digit)
            .collect();
    }
    let (tens, ones) = (n / 10, n % 10);
    let mut out = String::new();
    if tens > 1 {
        out.push(digit(tens));
    }
    if tens >= 1 {
        out.push('十');
    }
    if ones > 0 {
        out.push(digit(ones));
    }
    out
}

/// A successfully parsed date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDate {
    pub date: NaiveDate,
    /// Set when the input named an era year after that era had ended and was
    /// read as the date it would have been; callers may want to confirm.
    pub lenient: Option<Lenient>,
}

/// The input named an era date after the era's end (平成32年1月1日,
/// 平成31年5月1日); the parser read it as the Gregorian date it would mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lenient {
    /// What was written, in canonical form ("平成32年1月1日").
    pub written: String,
    /// The era date actually meant ("令和2年1月1日").
    pub corrected: Wareki,
}

impl Lenient {
    /// A note for the user in Japanese.
    pub fn message_ja(&self) -> String {
        format!(
            "{}は存在しないため、{}として扱いました",
            self.written, self.corrected
        )
    }
}

impl fmt::Display for Lenient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not exist; read as {}",
            self.written, self.corrected
        )
    }
}

/// Why a string could not be read as a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateParseError {
    #[error("no date was given")]
    Empty,
    #[error(
        "{input:?} is not a recognised date format (try 2019-05-01, 2019年5月1日, 令和元年5月1日 or R1.5.1)"
    )]
    Unrecognised { input: String },
    #[error(
        "year {year} is ambiguous: write a Western year with four digits, or put the era before a Japanese year"
    )]
    AmbiguousYear { year: u32 },
    #[error("the year {year} is outside the supported range (up to 9999)")]
    YearOutOfRange { year: i64 },
    #[error("era years start at 1 (元年); {era} 0 does not exist")]
    EraYearZero { era: Era },
    #[error("month {month} does not exist; months are 1 to 12")]
    InvalidMonth { month: u32 },
    #[error("{}", invalid_day_en(*year, *month, *day))]
    InvalidDay { year: i32, month: u32, day: u32 },
    #[error(
        "{date} is before 1873-01-01, when Japan adopted the Gregorian calendar; earlier dates are not supported"
    )]
    BeforeGregorian { date: NaiveDate },
    #[error("{wareki} does not exist: {} began on {}", wareki.era.romaji(), wareki.era.first_day())]
    BeforeEraStart { wareki: Wareki },
    /// Only from [`parse_date_strict`]; [`parse_date`] reads such dates
    /// leniently.
    #[error("{wareki} does not exist: {} ended before {date}", wareki.era.romaji())]
    AfterEraEnd { wareki: Wareki, date: NaiveDate },
    #[error("the two dates given disagree: {first} and {second}")]
    Inconsistent { first: NaiveDate, second: NaiveDate },
}

impl DateParseError {
    /// The reason in Japanese, for showing to users.
    pub fn message_ja(&self) -> String {
        match self {
            DateParseError::Empty => "日付が入力されていません".to_string(),
            DateParseError::Unrecognised { input } => format!(
                "「{input}」は日付として認識できません（例: 2019年5月1日、令和元年5月1日、R1.5.1、2019-05-01）"
            ),
            DateParseError::AmbiguousYear { year } => format!(
                "{year}年がどの年か判断できません。西暦は4桁で、和暦は元号を付けて入力してください（例: 2019年、令和元年、R1）"
            ),
            DateParseError::YearOutOfRange { year } => year_out_of_range_ja(*year),
            DateParseError::EraYearZero { era } => era_year_zero_ja(*era),
            DateParseError::InvalidMonth { month } => invalid_month_ja(*month),
            DateParseError::InvalidDay { year, month, day } => invalid_day_ja(*year, *month, *day),
            DateParseError::BeforeGregorian { date } => before_gregorian_ja(*date),
            DateParseError::BeforeEraStart { wareki } => before_era_start_ja(wareki),
            DateParseError::AfterEraEnd { wareki, date } => after_era_end_ja(wareki, *date),
            DateParseError::Inconsistent { first, second } => format!(
                "入力された2つの日付（{}と{}）が一致しません",
                format_seireki(*first),
                format_seireki(*second)
            ),
        }
    }
}

impl From<WarekiError> for DateParseError {
    fn from(error: WarekiError) -> Self {
        match error {
            WarekiError::BeforeGregorian { date } => DateParseError::BeforeGregorian { date },
            WarekiError::AfterSupportedRange { date } => DateParseError::YearOutOfRange {
                year: i64::from(date.year()),
            },
            WarekiError::YearZero { era } => DateParseError::EraYearZero { era },
            WarekiError::YearOutOfRange { era, year } => DateParseError::YearOutOfRange {
                year: i64::from(era.first_year()) + i64::from(year) - 1,
            },
            WarekiError::InvalidMonth { month } => DateParseError::InvalidMonth { month },
            WarekiError::InvalidDay { year, month, day } => {
                DateParseError::InvalidDay { year, month, day }
            }
            WarekiError::BeforeEraStart { wareki } => DateParseError::BeforeEraStart { wareki },
            WarekiError::AfterEraEnd { wareki, date } => {
                DateParseError::AfterEraEnd { wareki, date }
            }
        }
    }
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

fn invalid_day_en(year: i32, month: u32, day: u32) -> String {
    if day == 0 {
        "day 0 does not exist; days start at 1".to_string()
    } else if month == 2 && day == 29 {
        format!("{year} is not a leap year, so February 29 does not exist")
    } else {
        format!(
            "{year}-{month:02} has only {} days, so day {day} does not exist",
            days_in_month(year, month)
        )
    }
}

fn invalid_day_ja(year: i32, month: u32, day: u32) -> String {
    if day == 0 {
        "0日は存在しません（日は1日から始まります）".to_string()
    } else if month == 2 && day == 29 {
        format!("{year}年は閏年ではないため、2月29日は存在しません")
    } else {
        format!(
            "{year}年{month}月は{}日までのため、{day}日は存在しません",
            days_in_month(year, month)
        )
    }
}

fn invalid_month_ja(month: u32) -> String {
    format!("{month}月は存在しません（月は1〜12で入力してください）")
}

fn era_year_zero_ja(era: Era) -> String {
    format!(
        "和暦に0年はありません（{}の最初の年は{}です）",
        era.kanji(),
        format_era_year(era, 1)
    )
}

fn year_out_of_range_ja(year: i64) -> String {
    format!("{year}年は対応範囲外です（9999年まで対応しています）")
}

fn before_gregorian_ja(date: NaiveDate) -> String {
    format!(
        "日本がグレゴリオ暦を採用した1873年（明治6年）1月1日より前の日付（{}）には対応していません",
        format_seireki(date)
    )
}

fn before_era_start_ja(wareki: &Wareki) -> String {
    format!(
        "{}は{}に始まったため、{}は存在しません",
        wareki.era.kanji(),
        format_seireki(wareki.era.first_day()),
        wareki
    )
}

fn after_era_end_ja(wareki: &Wareki, date: NaiveDate) -> String {
    let ended = match wareki.era.last_day() {
        Some(last) => format!(
            "{}は{}に終わったため、",
            wareki.era.kanji(),
            format_seireki(last)
        ),
        None => String::new(),
    };
    format!(
        "{ended}{wareki}は存在しません（{}のことであれば、そのように入力してください）",
        format_wareki(date)
    )
}

/// Reads a date written in any of the usual Japanese or ISO forms:
/// `2019-05-01`, `2019/5/1`, `2019.5.1`, `2019年5月1日`, `令和元年5月1日`,
/// `R1.5.1`, `R01/05/01`, `㋿1年5月1日`, `令和元年五月一日`, full-width
/// characters, spaces anywhere, a trailing weekday (`（水）`), and the
/// [`format_both`] output.
///
/// An era year past the era's end (平成32年1月1日) is read as the date it
/// would mean and flagged in [`ParsedDate::lenient`]; a date before the era
/// began is an error.
pub fn parse_date(input: &str) -> Result<ParsedDate, DateParseError> {
    let normalized = normalize(input);
    if normalized.is_empty() {
        return Err(DateParseError::Empty);
    }
    let unrecognised = || DateParseError::Unrecognised {
        input: input.trim().to_string(),
    };
    let body = strip_weekday(&normalized);
    if let Some((outer, inner)) = split_parenthesised(body) {
        // "2019年5月1日（令和元年5月1日）": both halves must name one day.
        let first = parse_single(outer).map_err(|e| e.or_input(unrecognised))?;
        let second = parse_single(inner).map_err(|e| e.or_input(unrecognised))?;
        if first.date != second.date {
            return Err(DateParseError::Inconsistent {
                first: first.date,
                second: second.date,
            });
        }
        return Ok(ParsedDate {
            date: first.date,
            lenient: first.lenient.or(second.lenient),
        });
    }
    parse_single(body).map_err(|e| e.or_input(unrecognised))
}

/// Like [`parse_date`], but an era date after the era's end is an error
/// ([`DateParseError::AfterEraEnd`]) instead of being read leniently.
pub fn parse_date_strict(input: &str) -> Result<NaiveDate, DateParseError> {
    let parsed = parse_date(input)?;
    match parsed.lenient {
        None => Ok(parsed.date),
        Some(lenient) => {
            let written = parse_written_wareki(&lenient.written);
            Err(match written {
                Some(wareki) => DateParseError::AfterEraEnd {
                    wareki,
                    date: parsed.date,
                },
                None => DateParseError::Unrecognised {
                    input: input.trim().to_string(),
                },
            })
        }
    }
}

// `Lenient::written` is produced by `Wareki`'s Display, so it always reads
// back; this recovers the structured form for the strict error.
fn parse_written_wareki(written: &str) -> Option<Wareki> {
    let (era, rest) = split_era(written);
    let era = era?;
    let (fields, rest) = scan_fields(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(Wareki {
        era,
        year: fields.year.value,
        month: fields.month.value,
        day: fields.day.value,
    })
}

/// A failure inside `parse_single`: either a structural mismatch (reported
/// with the caller's original input) or a definite reason.
enum SingleError {
    Unrecognised,
    Reason(DateParseError),
}

impl SingleError {
    fn or_input(self, unrecognised: impl FnOnce() -> DateParseError) -> DateParseError {
        match self {
            SingleError::Unrecognised => unrecognised(),
            SingleError::Reason(reason) => reason,
        }
    }
}

impl From<DateParseError> for SingleError {
    fn from(error: DateParseError) -> Self {
        SingleError::Reason(error)
    }
}

impl From<WarekiError> for SingleError {
    fn from(error: WarekiError) -> Self {
        SingleError::Reason(error.into())
    }
}

struct Fields {
    year: Num,
    month: Num,
    day: Num,
}

// Either "Y年M月D日" (日 optional) or "Y<sep>M<sep>D" with one separator.
fn scan_fields(s: &str) -> Option<(Fields, &str)> {
    let (year, rest) = take_number(s)?;
    let mut chars = rest.chars();
    let separator = chars.next()?;
    let rest = chars.as_str();
    let (month, day, rest) = match separator {
        '年' => {
            let (month, rest) = take_number(rest)?;
            let rest = rest.strip_prefix('月')?;
            let (day, rest) = take_number(rest)?;
            (month, day, rest.strip_prefix('日').unwrap_or(rest))
        }
        '.' | '/' | '-' => {
            let (month, rest) = take_number(rest)?;
            let rest = rest.strip_prefix(separator)?;
            let (day, rest) = take_number(rest)?;
            (month, day, rest)
        }
        _ => return None,
    };
    if month.gan || day.gan {
        return None;
    }
    Some((Fields { year, month, day }, rest))
}

fn parse_single(s: &str) -> Result<ParsedDate, SingleError> {
    let (era, rest) = split_era(s);
    let (fields, rest) = scan_fields(rest).ok_or(SingleError::Unrecognised)?;
    if !rest.is_empty() {
        return Err(SingleError::Unrecognised);
    }
    let (month, day) = (fields.month.value, fields.day.value);
    let Some(era) = era else {
        if fields.year.gan {
            return Err(SingleError::Unrecognised);
        }
        // "19-05-01" could be 2019 or 令和19年; refuse to guess.
        if fields.year.width < 4 {
            return Err(DateParseError::AmbiguousYear {
                year: fields.year.value,
            }
            .into());
        }
        return Ok(ParsedDate {
            date: gregorian_date(fields.year.value, month, day)?,
            lenient: None,
        });
    };
    let written = Wareki {
        era,
        year: fields.year.value,
        month,
        day,
    };
    let date = written.date_ignoring_era_end()?;
    let lenient = match era.next() {
        Some(next) if date >= next.first_day() => Some(Lenient {
            written: written.to_string(),
            corrected: Wareki::from_date(date)?,
        }),
        _ => None,
    };
    Ok(ParsedDate { date, lenient })
}

fn gregorian_date(year: u32, month: u32, day: u32) -> Result<NaiveDate, DateParseError> {
    if i64::from(year) > MAX_YEAR {
        return Err(DateParseError::YearOutOfRange {
            year: i64::from(year),
        });
    }
    if !(1..=12).contains(&month) {
        return Err(DateParseError::InvalidMonth { month });
    }
    let year = i32::try_from(year).map_err(|_| DateParseError::YearOutOfRange {
        year: i64::from(year),
    })?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(DateParseError::InvalidDay {
        year,
        month,
        day,
    })?;
    if date < GREGORIAN_ADOPTION {
        return Err(DateParseError::BeforeGregorian { date });
    }
    Ok(date)
}

/// Folds the character variants people type into one form: full-width ASCII
/// to ASCII, era ligatures to kanji, dash look-alikes to '-', and drops all
/// whitespace (inputs often have spaces between every part).
pub(crate) fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if let Some(era) = Era::from_ligature(c) {
            out.push_str(era.kanji());
            continue;
        }
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => crate::text::halfwidth(c),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '○' => '〇',
            _ => c,
        };
        if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

const JA_WEEKDAYS: [char; 7] = ['日', '月', '火', '水', '木', '金', '土'];
const EN_WEEKDAYS: [&str; 14] = [
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn is_weekday(s: &str) -> bool {
    let core = s
        .strip_suffix("曜日")
        .or_else(|| s.strip_suffix('曜'))
        .unwrap_or(s);
    let mut chars = core.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => JA_WEEKDAYS.contains(&c),
        _ => EN_WEEKDAYS.iter().any(|w| core.eq_ignore_ascii_case(w)),
    }
}

// The weekday is redundant with the date, so it is dropped rather than
// checked: a mismatch is more likely a typo in the weekday than in the date.
fn strip_weekday(s: &str) -> &str {
    if let Some((outer, inner)) = split_parenthesised(s) {
        return if is_weekday(inner) { outer } else { s };
    }
    for suffix in ["曜日", "曜"] {
        if let Some(head) = s.strip_suffix(suffix) {
            let mut chars = head.chars();
            if chars.next_back().is_some_and(|c| JA_WEEKDAYS.contains(&c)) {
                return chars.as_str();
            }
        }
    }
    s
}

fn split_parenthesised(s: &str) -> Option<(&str, &str)> {
    let head = s.strip_suffix(')')?;
    let (outer, inner) = head.rsplit_once('(')?;
    (!outer.is_empty() && !inner.is_empty()).then_some((outer, inner))
}

fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Splits a leading era name (kanji, romaji or letter) off normalized input.
pub(crate) fn split_era(s: &str) -> (Option<Era>, &str) {
    for &era in Era::all() {
        if let Some(rest) = s.strip_prefix(era.kanji()) {
            return (Some(era), rest);
        }
        if let Some(rest) = strip_prefix_ignore_ascii_case(s, era.romaji()) {
            return (Some(era), rest);
        }
    }
    let mut chars = s.chars();
    if let Some(era) = chars.next().and_then(Era::from_letter) {
        return (Some(era), chars.as_str());
    }
    (None, s)
}

/// A number as written: its value, how many characters it took (to tell a
/// four-digit Western year from an era year) and whether it was 元.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num {
    pub(crate) value: u32,
    pub(crate) width: usize,
    pub(crate) gan: bool,
}

fn kanji_digit(c: char) -> Option<u32> {
    KANJI_DIGITS
        .iter()
        .position(|&d| d == c)
        .and_then(|i| u32::try_from(i).ok())
}

// Either 十-style (十, 二十, 三十一) or positional (二〇一九).
fn parse_kanji_number(run: &[char]) -> Option<u32> {
    match run.iter().position(|&c| c == '十') {
        Some(at) => {
            let tens = match &run[..at] {
                [] => 1,
                [c] => kanji_digit(*c).filter(|&d| d > 0)?,
                _ => return None,
            };
            let ones = match &run[at + 1..] {
                [] => 0,
                [c] => kanji_digit(*c).filter(|&d| d > 0)?,
                _ => return None,
            };
            Some(tens * 10 + ones)
        }
        None => run.iter().try_fold(0u32, |acc, &c| {
            Some(acc.saturating_mul(10).saturating_add(kanji_digit(c)?))
        }),
    }
}

/// Reads a leading number in Arabic digits, kanji numerals or 元. Values too
/// large for `u32` saturate, which the range checks then reject.
pub(crate) fn take_number(s: &str) -> Option<(Num, &str)> {
    if let Some(rest) = s.strip_prefix('元') {
        let num = Num {
            value: 1,
            width: 1,
            gan: true,
        };
        return Some((num, rest));
    }
    let ascii_len = s.chars().take_while(char::is_ascii_digit).count();
    if ascii_len > 0 {
        let (digits, rest) = s.split_at(ascii_len);
        let value = digits
            .chars()
            .filter_map(|c| c.to_digit(10))
            .fold(0u32, |acc, d| acc.saturating_mul(10).saturating_add(d));
        let num = Num {
            value,
            width: ascii_len,
            gan: false,
        };
        return Some((num, rest));
    }
    let run: Vec<char> = s
        .chars()
        .take_while(|&c| c == '十' || kanji_digit(c).is_some())
        .collect();
    if run.is_empty() {
        return None;
    }
    let value = parse_kanji_number(&run)?;
    let byte_len: usize = run.iter().map(|c| c.len_utf8()).sum();
    let num = Num {
        value,
        width: run.len(),
        gan: false,
    };
    Some((num, s.get(byte_len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn w(era: Era, year: u32, month: u32, day: u32) -> Wareki {
        Wareki {
            era,
            year,
            month,
            day,
        }
    }

    fn parses_to(input: &str, expected: NaiveDate) {
        let parsed = parse_date(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(parsed.date, expected, "{input:?}");
        assert_eq!(parsed.lenient, None, "{input:?}");
    }

    #[test]
    fn era_table_accessors() {
        assert_eq!(
            Era::all(),
            &[Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa]
        );
        let kanji: Vec<_> = Era::all().iter().map(|e| e.kanji()).collect();
        assert_eq!(kanji, ["明治", "大正", "昭和", "平成", "令和"]);
        let letters: String = Era::all().iter().map(|e| e.letter()).collect();
        assert_eq!(letters, "MTSHR");
        let romaji: Vec<_> = Era::all().iter().map(|e| e.romaji()).collect();
        assert_eq!(romaji, ["Meiji", "Taisho", "Showa", "Heisei", "Reiwa"]);
        assert_eq!(Era::Meiji.first_day(), d(1868, 10, 23));
        assert_eq!(Era::Taisho.first_day(), d(1912, 7, 30));
        assert_eq!(Era::Showa.first_day(), d(1926, 12, 25));
        assert_eq!(Era::Heisei.first_day(), d(1989, 1, 8));
        assert_eq!(Era::Reiwa.first_day(), d(2019, 5, 1));
        assert_eq!(Era::Heisei.last_day(), Some(d(2019, 4, 30)));
        assert_eq!(Era::Reiwa.last_day(), None);
        assert_eq!(Era::Reiwa.next(), None);
        assert_eq!(Era::Meiji.prev(), None);
        assert_eq!(Era::Reiwa.prev(), Some(Era::Heisei));
        assert_eq!(Era::from_letter('h'), Some(Era::Heisei));
        assert_eq!(Era::from_kanji("昭和"), Some(Era::Showa));
        assert_eq!(Era::from_romaji("TAISHO"), Some(Era::Taisho));
        assert_eq!(Era::from_ligature('㋿'), Some(Era::Reiwa));
        assert_eq!(Era::of(d(1872, 12, 31)), None);
        assert_eq!(Era::of(d(1873, 1, 1)), Some(Era::Meiji));
        assert_eq!(serde_json::to_string(&Era::Reiwa).unwrap(), "\"Reiwa\"");
        assert!(
            Era::all()
                .windows(2)
                .all(|p| p[0].first_day() < p[1].first_day())
        );
    }

    #[test]
    fn display_and_formats() {
        assert_eq!(w(Era::Reiwa, 1, 5, 1).to_string(), "令和元年5月1日");
        assert_eq!(w(Era::Heisei, 31, 4, 30).to_string(), "平成31年4月30日");
        let day = d(2019, 5, 1);
        assert_eq!(format_seireki(day), "2019年5月1日");
        assert_eq!(format_wareki(day), "令和元年5月1日");
        assert_eq!(format_both(day), "2019年5月1日（令和元年5月1日）");
        assert_eq!(format_short(day), "R1.5.1");
        assert_eq!(format_kanji(day), "令和元年五月一日");
        assert_eq!(format_kanji(d(2019, 4, 30)), "平成三十一年四月三十日");
        assert_eq!(format_kanji(d(2020, 10, 20)), "令和二年十月二十日");
        assert_eq!(format_kanji(d(2118, 1, 1)), "令和一〇〇年一月一日");
        // Outside the supported range display still works.
        assert_eq!(format_wareki(d(1872, 12, 31)), "1872年12月31日");
        assert_eq!(format_both(d(1872, 12, 31)), "1872年12月31日");
        assert_eq!(format_short(d(1872, 12, 31)), "1872.12.31");
        assert_eq!(format_kanji(d(1872, 12, 31)), "1872年12月31日");
        assert_eq!(format_era_year(Era::Showa, 64), "昭和64年");
    }

    #[test]
    fn from_date_and_to_date() {
        assert_eq!(
            Wareki::from_date(d(1873, 1, 1)).unwrap(),
            w(Era::Meiji, 6, 1, 1)
        );
        assert_eq!(
            Wareki::from_date(d(1872, 12, 31)),
            Err(WarekiError::BeforeGregorian {
                date: d(1872, 12, 31)
            })
        );
        assert!(matches!(
            Wareki::from_date(d(10000, 1, 1)),
            Err(WarekiError::AfterSupportedRange { .. })
        ));
        assert_eq!(
            w(Era::Reiwa, 1, 4, 30).to_date(),
            Err(WarekiError::BeforeEraStart {
                wareki: w(Era::Reiwa, 1, 4, 30)
            })
        );
        assert_eq!(
            w(Era::Heisei, 31, 5, 1).to_date(),
            Err(WarekiError::AfterEraEnd {
                wareki: w(Era::Heisei, 31, 5, 1),
                date: d(2019, 5, 1)
            })
        );
        assert_eq!(
            w(Era::Heisei, 0, 1, 1).to_date(),
            Err(WarekiError::YearZero { era: Era::Heisei })
        );
        assert_eq!(
            w(Era::Meiji, 5, 12, 31).to_date(),
            Err(WarekiError::BeforeGregorian {
                date: d(1872, 12, 31)
            })
        );
        assert!(Wareki::new(Era::Reiwa, 1, 5, 1).is_ok());
        assert!(Wareki::new(Era::Reiwa, 1, 2, 30).is_err());
        assert_eq!(
            WarekiError::BeforeEraStart {
                wareki: w(Era::Reiwa, 1, 4, 30)
            }
            .message_ja(),
            "令和は2019年5月1日に始まったため、令和元年4月30日は存在しません"
        );
    }

    #[test]
    fn era_boundaries() {
        let cases = [
            (
                d(1912, 7, 29),
                w(Era::Meiji, 45, 7, 29),
                w(Era::Taisho, 1, 7, 30),
            ),
            (
                d(1926, 12, 24),
                w(Era::Taisho, 15, 12, 24),
                w(Era::Showa, 1, 12, 25),
            ),
            (
                d(1989, 1, 7),
                w(Era::Showa, 64, 1, 7),
                w(Era::Heisei, 1, 1, 8),
            ),
            (
                d(2019, 4, 30),
                w(Era::Heisei, 31, 4, 30),
                w(Era::Reiwa, 1, 5, 1),
            ),
        ];
        for (last, before, after) in cases {
            let first = last.succ_opt().unwrap();
            assert_eq!(Wareki::from_date(last).unwrap(), before);
            assert_eq!(Wareki::from_date(first).unwrap(), after);
            assert_eq!(before.to_date().unwrap(), last);
            assert_eq!(after.to_date().unwrap(), first);
            assert_eq!(Era::of(first), Some(after.era));
            assert_eq!(after.era.prev(), Some(before.era));
            for day in [last, first] {
                for text in [
                    format_wareki(day),
                    format_short(day),
                    format_kanji(day),
                    format_seireki(day),
                    format_both(day),
                ] {
                    parses_to(&text, day);
                }
            }
            // The new era's first day written in the old era is lenient.
            let old = Wareki {
                month: first.month(),
                day: first.day(),
                year: if first.year() == last.year() {
                    before.year
                } else {
                    before.year + 1
                },
                ..before
            };
            let parsed = parse_date(&old.to_string()).unwrap();
            assert_eq!(parsed.date, first);
            assert_eq!(parsed.lenient.unwrap().corrected, after);
            // The old era's last day written in the new era is an error.
            let new = Wareki {
                month: last.month(),
                day: last.day(),
                year: 1,
                ..after
            };
            assert_eq!(
                parse_date(&new.to_string()),
                Err(DateParseError::BeforeEraStart { wareki: new })
            );
        }
    }

    #[test]
    fn accepted_forms() {
        let reiwa1 = d(2019, 5, 1);
        for input in [
            "令和元年5月1日",
            "令和1年5月1日",
            "令和01年05月01日",
            "R1.5.1",
            "R01/05/01",
            "r1-5-1",
            "R1年5月1日",
            "Reiwa 1.5.1",
            "㋿1年5月1日",
            "㋿元年5月1日",
            "令和元年五月一日",
            "令和一年五月一日",
            "令和１年５月１日",
            "Ｒ１．５．１",
            "ｒ１／５／１",
            "  令和 元年 5月 1日  ",
            "\u{3000}令和元年\u{3000}5月1日\u{3000}",
            "2019-05-01",
            "2019/5/1",
            "2019.5.1",
            "2019年5月1日",
            "2019年5月1",
            "２０１９－０５－０１",
            "2019 - 05 - 01",
            "2019−05−01",
            "二〇一九年五月一日",
            "2019年5月1日（水）",
            "2019年5月1日(水)",
            "2019年5月1日 (水曜日)",
            "2019年5月1日水曜日",
            "令和元年5月1日（水）",
            "R1.5.1 (Wed)",
            "2019年5月1日（令和元年5月1日）",
            "2019年5月1日（令和元年5月1日）（水）",
        ] {
            parses_to(input, reiwa1);
        }
        let heisei_last = d(2019, 4, 30);
        for input in [
            "H31.4.30",
            "h31/04/30",
            "平成31年4月30日",
            "平成三十一年四月三十日",
            "㍻31年4月30日",
        ] {
            parses_to(input, heisei_last);
        }
        parses_to("㍼64年1月7日", d(1989, 1, 7));
        parses_to("㍽15年12月24日", d(1926, 12, 24));
        parses_to("㍾45年7月29日", d(1912, 7, 29));
        parses_to("明治6年1月1日", d(1873, 1, 1));
        parses_to("M6.1.1", d(1873, 1, 1));
        parses_to("S20.8.15", d(1945, 8, 15));
        parses_to("昭和二十年八月十五日", d(1945, 8, 15));
        parses_to("平成十年十月十日", d(1998, 10, 10));
        parses_to("令和九十九年十二月三十一日", d(2117, 12, 31));
        parses_to("2020-02-29", d(2020, 2, 29));
        parses_to("2000/2/29", d(2000, 2, 29));
    }

    #[test]
    fn lenient_forms() {
        let parsed = parse_date("平成32年1月1日").unwrap();
        assert_eq!(parsed.date, d(2020, 1, 1));
        let lenient = parsed.lenient.unwrap();
        assert_eq!(lenient.written, "平成32年1月1日");
        assert_eq!(lenient.corrected, w(Era::Reiwa, 2, 1, 1));
        assert_eq!(
            lenient.message_ja(),
            "平成32年1月1日は存在しないため、令和2年1月1日として扱いました"
        );

        let parsed = parse_date("平成31年5月1日").unwrap();
        assert_eq!(parsed.date, d(2019, 5, 1));
        assert_eq!(parsed.lenient.unwrap().corrected, w(Era::Reiwa, 1, 5, 1));

        let parsed = parse_date("H32.1.1").unwrap();
        assert_eq!(parsed.lenient.unwrap().written, "平成32年1月1日");
        let parsed = parse_date("昭和64年1月8日").unwrap();
        assert_eq!(parsed.lenient.unwrap().corrected, w(Era::Heisei, 1, 1, 8));
        let parsed = parse_date("明治80年1月1日").unwrap();
        assert_eq!(parsed.date, d(1947, 1, 1));
        assert_eq!(parsed.lenient.unwrap().corrected, w(Era::Showa, 22, 1, 1));

        assert_eq!(
            parse_date_strict("平成31年5月1日"),
            Err(DateParseError::AfterEraEnd {
                wareki: w(Era::Heisei, 31, 5, 1),
                date: d(2019, 5, 1)
            })
        );
        assert_eq!(parse_date_strict("令和元年5月1日"), Ok(d(2019, 5, 1)));
        let strict = parse_date_strict("平成31年5月1日").unwrap_err();
        assert_eq!(
            strict.message_ja(),
            "平成は2019年4月30日に終わったため、平成31年5月1日は存在しません（令和元年5月1日のことであれば、そのように入力してください）"
        );
    }

    #[test]
    fn rejections_with_reasons() {
        use DateParseError as E;
        assert_eq!(parse_date(""), Err(E::Empty));
        assert_eq!(parse_date(" \u{3000} "), Err(E::Empty));
        for input in [
            "hello",
            "2019",
            "2019-05",
            "2019-05-01-01",
            "2019/05-01",
            "令和元年",
            "元年5月1日",
            "令和元年元月1日",
            "R1.5.1x",
            "2019年5月1日（火曜）extra",
            "十十年一月一日",
            "令和二十二十年一月一日",
        ] {
            assert!(
                matches!(parse_date(input), Err(E::Unrecognised { .. })),
                "{input:?}: {:?}",
                parse_date(input)
            );
        }
        assert_eq!(
            parse_date("令和元年4月30日"),
            Err(E::BeforeEraStart {
                wareki: w(Era::Reiwa, 1, 4, 30)
            })
        );
        assert_eq!(
            parse_date("令和元年4月30日").unwrap_err().message_ja(),
            "令和は2019年5月1日に始まったため、令和元年4月30日は存在しません"
        );
        assert_eq!(
            parse_date("平成0年1月1日"),
            Err(E::EraYearZero { era: Era::Heisei })
        );
        assert_eq!(
            parse_date("令和元年13月1日"),
            Err(E::InvalidMonth { month: 13 })
        );
        assert_eq!(parse_date("2019-00-10"), Err(E::InvalidMonth { month: 0 }));
        assert_eq!(
            parse_date("2019-01-32"),
            Err(E::InvalidDay {
                year: 2019,
                month: 1,
                day: 32
            })
        );
        assert_eq!(
            parse_date("令和2年2月30日"),
            Err(E::InvalidDay {
                year: 2020,
                month: 2,
                day: 30
            })
        );
        let leap = parse_date("2019-02-29").unwrap_err();
        assert_eq!(
            leap,
            E::InvalidDay {
                year: 2019,
                month: 2,
                day: 29
            }
        );
        assert_eq!(
            leap.message_ja(),
            "2019年は閏年ではないため、2月29日は存在しません"
        );
        assert!(leap.to_string().contains("not a leap year"));
        assert!(matches!(
            parse_date("1900-02-29"),
            Err(E::InvalidDay { year: 1900, .. })
        ));
        assert!(matches!(
            parse_date("2019-04-00"),
            Err(E::InvalidDay { day: 0, .. })
        ));
        assert_eq!(
            parse_date("1872-12-31"),
            Err(E::BeforeGregorian {
                date: d(1872, 12, 31)
            })
        );
        assert!(matches!(
            parse_date("明治5年12月2日"),
            Err(E::BeforeGregorian { .. })
        ));
        assert!(
            parse_date("1868-01-01")
                .unwrap_err()
                .message_ja()
                .contains("グレゴリオ暦")
        );
        assert!(matches!(
            parse_date("明治元年1月1日"),
            Err(E::BeforeEraStart { .. })
        ));
        assert_eq!(parse_date("19-05-01"), Err(E::AmbiguousYear { year: 19 }));
        assert_eq!(
            parse_date("10000-01-01"),
            Err(E::YearOutOfRange { year: 10000 })
        );
        assert_eq!(
            parse_date("R7982.1.1"),
            Err(E::YearOutOfRange { year: 10000 })
        );
        assert!(matches!(
            parse_date("R99999999999999.1.1"),
            Err(E::YearOutOfRange { .. })
        ));
        assert_eq!(
            parse_date("2019年5月1日（令和元年5月2日）"),
            Err(E::Inconsistent {
                first: d(2019, 5, 1),
                second: d(2019, 5, 2)
            })
        );
        // Every reason reads as a sentence in both languages.
        for input in [
            "",
            "x",
            "19-1-1",
            "令和元年4月30日",
            "2019-13-01",
            "1800-01-01",
        ] {
            let error = parse_date(input).unwrap_err();
            assert!(!error.to_string().is_empty());
            assert!(!error.message_ja().is_empty());
        }
    }

    // The proptest samples; this walks every day once, boundaries included.
    #[test]
    fn every_day_round_trips() {
        let mut day = d(1873, 1, 1);
        while day <= d(2100, 12, 31) {
            for text in [
                format_wareki(day),
                format_short(day),
                format_kanji(day),
                format_seireki(day),
            ] {
                assert_eq!(
                    parse_date(&text),
                    Ok(ParsedDate {
                        date: day,
                        lenient: None
                    }),
                    "{text}"
                );
            }
            day = day.succ_opt().unwrap();
        }
    }

    fn supported_range_days() -> i64 {
        (d(2100, 12, 31) - d(1873, 1, 1)).num_days()
    }

    proptest! {
        #[test]
        fn formats_round_trip(offset in 0..=supported_range_days()) {
            let day = d(1873, 1, 1) + chrono::Duration::days(offset);
            for text in [format_wareki(day), format_short(day), format_kanji(day), format_seireki(day)] {
                let parsed = parse_date(&text);
                prop_assert_eq!(parsed, Ok(ParsedDate { date: day, lenient: None }), "{}", text);
            }
            let wareki = Wareki::from_date(day).unwrap();
            prop_assert_eq!(wareki.to_date(), Ok(day));
        }
    }
}
