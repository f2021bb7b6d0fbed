//! Dates and times as people type them into forms: the date in any form the 和暦 parser
//! reads, an optional time of day, both meant as Japan time and stored as UTC.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use kizuki_domain::FieldError;
use kizuki_domain::clock::jst;
use kizuki_domain::wareki;

/// Reads `date` (2019-05-01, 令和元年5月1日, R1.5.1, …) and `time` (14:30, 1430, 14時30分) as
/// JST. Both empty means "not given". Errors are in Japanese and English, separated by " / ",
/// and name `field`.
pub fn parse_jst(field: &str, date: &str, time: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let (date, time) = (date.trim(), time.trim());
    if date.is_empty() {
        if time.is_empty() {
            return Ok(None);
        }
        return Err(FieldError::invalid(
            field,
            "時刻だけでなく日付も入力してください / give the date as well as the time",
        ));
    }
    let day = wareki::parse_date(date)
        .map_err(|e| FieldError::invalid(field, format!("{} / {e}", e.message_ja())))?
        .date;
    let t = if time.is_empty() {
        NaiveTime::MIN
    } else {
        parse_time(time).ok_or_else(|| {
            FieldError::invalid(
                field,
                format!(
                    "「{time}」は時刻として認識できません（例: 14:30） / '{time}' is not a time like 14:30"
                ),
            )
        })?
    };
    Ok(jst_to_utc(day, t))
}

fn jst_to_utc(day: NaiveDate, t: NaiveTime) -> Option<DateTime<Utc>> {
    jst()
        .from_local_datetime(&day.and_time(t))
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// Accepts full-width digits and the 時/分 and ：separators people type on Japanese keyboards.
fn parse_time(s: &str) -> Option<NaiveTime> {
    let ascii: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' => kizuki_domain::text::halfwidth(c),
            '：' | '時' => ':',
            _ => c,
        })
        .filter(|&c| c != '分')
        .collect();
    let (h, m) = match ascii.split_once(':') {
        Some((h, m)) => (h, if m.is_empty() { "0" } else { m }),
        None if ascii.len() == 4 => ascii.split_at(2),
        None if ascii.len() <= 2 => (ascii.as_str(), "0"),
        None => return None,
    };
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    NaiveTime::from_hms_opt(h, m, 0)
}

/// The date part of an instant in Japan, as it is shown in forms (ISO, which the parser reads
/// back), and the time of day as HH:MM.
pub fn to_form(at: Option<DateTime<Utc>>) -> (String, String) {
    match at {
        None => (String::new(), String::new()),
        Some(t) => {
            let local = t.with_timezone(&jst());
            (
                local.format("%Y-%m-%d").to_string(),
                local.format("%H:%M").to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wareki_date_and_time_are_jst() {
        let t = parse_jst("occurred_at", "令和元年5月1日", "9:30")
            .unwrap()
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2019-05-01T00:30:00+00:00");
        let t = parse_jst("x", "R1.5.1", "").unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2019-04-30T15:00:00+00:00");
        let t = parse_jst("x", "2019-05-01", "１４時０５分")
            .unwrap()
            .unwrap();
        assert_eq!(to_form(Some(t)), ("2019-05-01".into(), "14:05".into()));
        assert_eq!(parse_jst("x", "", "").unwrap(), None);
    }

    #[test]
    fn errors_name_the_field_and_explain() {
        let e = parse_jst("detected_at", "令和元年4月30日", "").unwrap_err();
        assert_eq!(e.field, "detected_at");
        assert!(
            e.message_ja().contains("2019年5月1日"),
            "{}",
            e.message_ja()
        );
        let e = parse_jst("detected_at", "2019-05-01", "25:00").unwrap_err();
        assert!(e.message_ja().contains("25:00"));
        assert!(parse_jst("x", "", "10:00").is_err());
    }
}
