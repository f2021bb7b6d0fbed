//! Organisations in the directory: operators, ministries, the centre and vendors.

use crate::error::{FieldError, ValidationErrors, text};
use crate::ids::OrgId;
use crate::taxonomy::{Code, Taxonomy, Vocabulary};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 重要インフラ事業者
    Operator,
    /// 所管省庁
    Ministry,
    /// The coordinating centre.
    Centre,
    /// システムベンダ
    Vendor,
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [
        OrgKind::Operator,
        OrgKind::Ministry,
        OrgKind::Centre,
        OrgKind::Vendor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrgKind::Operator => "operator",
            OrgKind::Ministry => "ministry",
            OrgKind::Centre => "centre",
            OrgKind::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// An organisation as entered, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrganisation {
    /// A short stable key (e.g. `demo-rail`), unique in the directory.
    pub key: String,
    pub name: String,
    pub kind: OrgKind,
    /// Operators belong to one sector; a ministry lists the sectors it oversees.
    pub sectors: Vec<Code>,
    pub region: Option<Code>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: OrgId,
    pub version: i64,
    /// A disabled organisation keeps its reports but has no active accounts, is offered for
    /// no sharing or forwarding, and gets no new accounts.
    #[serde(default = "enabled")]
    pub active: bool,
    #[serde(flatten)]
    pub org: NewOrganisation,
}

fn enabled() -> bool {
    true
}

impl NewOrganisation {
    pub fn parse(self, tx: &Taxonomy) -> Result<NewOrganisation, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let key = self.key.trim().to_owned();
        if key.is_empty()
            || key.len() > 40
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            errs.push(FieldError::invalid(
                "key",
                "key must be 1-40 lower-case ASCII letters, digits or '-'",
            ));
        }
        let name = text(&mut errs, "name", &self.name, true, 120);
        for (i, s) in self.sectors.iter().enumerate() {
            tx.check(
                &mut errs,
                &format!("sectors[{i}]"),
                Vocabulary::Sector,
                s.as_str(),
            );
        }
        if self.kind == OrgKind::Operator && self.sectors.len() != 1 {
            errs.push(FieldError::invalid(
                "sectors",
                "an operator belongs to exactly one sector",
            ));
        }
        if let Some(r) = &self.region {
            tx.check(&mut errs, "region", Vocabulary::Region, r.as_str());
        }
        errs.into_result(NewOrganisation { key, name, ..self })
    }
}

/// When a point of contact can be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hours {
    /// 24時間365日
    AroundTheClock,
    /// 営業時間内
    OfficeHours,
}

impl Hours {
    pub const ALL: [Hours; 2] = [Hours::AroundTheClock, Hours::OfficeHours];

    pub fn code(self) -> &'static str {
        match self {
            Hours::AroundTheClock => "around_the_clock",
            Hours::OfficeHours => "office_hours",
        }
    }

    pub fn parse(s: &str) -> Option<Hours> {
        Hours::ALL.into_iter().find(|h| h.code() == s.trim())
    }
}

/// One point of contact of an organisation: who answers, when, how to reach them, who stands
/// in, and what they may decide on their own (the 判断権者 question an emergency route must
/// answer), with the day someone last confirmed it still holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// What the contact is for, e.g. 「CSIRT窓口」「システム部長」.
    pub role: String,
    pub name: String,
    pub hours: Hours,
    pub phone: String,
    pub email: String,
    /// Who stands in when the contact cannot be reached.
    pub deputy: String,
    /// What the contact may decide without asking anyone (stop a service, cut a network…).
    pub decides: String,
    pub confirmed_on: chrono::NaiveDate,
}

/// A point of contact as typed in a form or sent to the API: every field text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactInput {
    pub role: String,
    pub name: String,
    pub hours: String,
    pub phone: String,
    pub email: String,
    pub deputy: String,
    pub decides: String,
    /// ISO, `2026/12/7` or 和暦; empty means today.
    pub confirmed_on: String,
}

impl ContactInput {
    /// True when nothing was typed, so a blank row of a form is skipped rather than refused.
    pub fn is_blank(&self) -> bool {
        [
            &self.role,
            &self.name,
            &self.phone,
            &self.email,
            &self.deputy,
            &self.decides,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }

    /// A contact needs a role, a name and a way to reach them (phone or e-mail); an e-mail
    /// must look like one and a confirmation day cannot lie in the future.
    pub fn parse(&self, today: chrono::NaiveDate) -> Result<Contact, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let role = text(&mut errs, "role", &self.role, true, 80);
        let name = text(&mut errs, "name", &self.name, true, 80);
        let hours = match self.hours.trim() {
            "" => Hours::OfficeHours,
            h => Hours::parse(h).unwrap_or_else(|| {
                errs.push(FieldError::invalid(
                    "hours",
                    "around_the_clock か office_hours / around_the_clock or office_hours",
                ));
                Hours::OfficeHours
            }),
        };
        let phone = text(&mut errs, "phone", &self.phone, false, 40);
        if !phone.is_empty()
            && !phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
        {
            errs.push(FieldError::invalid(
                "phone",
                "数字と + - ( ) だけで書いてください / digits and + - ( ) only",
            ));
        }
        let email = match self.email.trim() {
            "" => String::new(),
            e => match crate::user::Email::parse(e) {
                Ok(e) => e.as_str().to_owned(),
                Err(err) => {
                    errs.push(err);
                    String::new()
                }
            },
        };
        if self.phone.trim().is_empty() && self.email.trim().is_empty() {
            errs.push(FieldError::invalid(
                "phone",
                "電話かメールのどちらかが必要です / a phone number or an e-mail address is needed",
            ));
        }
        let deputy = text(&mut errs, "deputy", &self.deputy, false, 120);
        let decides = text(&mut errs, "decides", &self.decides, false, 400);
        let confirmed_on = match self.confirmed_on.trim() {
            "" => today,
            s => match crate::wareki::parse_date_strict(s) {
                Ok(d) if d <= today => d,
                Ok(_) => {
                    errs.push(FieldError::invalid(
                        "confirmed_on",
                        "未来の日付です / the day lies in the future",
                    ));
                    today
                }
                Err(_) => {
                    errs.push(FieldError::invalid(
                        "confirmed_on",
                        "日付として読めません / not a date",
                    ));
                    today
                }
            },
        };
        errs.into_result(Contact {
            role,
            name,
            hours,
            phone,
            email,
            deputy,
            decides,
            confirmed_on,
        })
    }
}

/// Parses every non-blank row; errors name the row (`contacts[2].email`).
pub fn parse_contacts(
    rows: &[ContactInput],
    today: chrono::NaiveDate,
) -> Result<Vec<Contact>, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate().filter(|(_, r)| !r.is_blank()) {
        match row.parse(today) {
            Ok(c) => out.push(c),
            Err(e) => errs.extend_within(&format!("contacts[{i}]"), e),
        }
    }
    if out.len() > 30 {
        errs.push(FieldError::invalid(
            "contacts",
            "窓口は30件までです / at most 30 contacts",
        ));
    }
    errs.into_result(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default()
    }

    fn row(phone: &str, email: &str, confirmed_on: &str) -> ContactInput {
        ContactInput {
            role: "CSIRT窓口".into(),
            name: "鉄道 一郎".into(),
            hours: "around_the_clock".into(),
            phone: phone.into(),
            email: email.into(),
            deputy: String::new(),
            decides: "運行管理システムの切り離し".into(),
            confirmed_on: confirmed_on.into(),
        }
    }

    fn fields(e: &ValidationErrors) -> Vec<String> {
        e.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn a_contact_reads_with_a_wareki_date_and_defaults_to_today() {
        let c = row("03-1234-5678", "CSIRT@Railway.example.jp", "令和8年4月1日")
            .parse(today())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.hours, Hours::AroundTheClock);
        assert_eq!(c.email, "csirt@railway.example.jp");
        assert_eq!(
            c.confirmed_on,
            NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default()
        );
        let c = row("", "a@b.jp", "")
            .parse(today())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.confirmed_on, today());
    }

    #[test]
    fn a_contact_needs_a_way_to_reach_it_and_a_day_not_yet_to_come() {
        let e = row("", "", "").parse(today()).err().unwrap_or_default();
        assert_eq!(fields(&e), ["phone"]);
        let e = row("内線12", "not-mail", "2027-01-01")
            .parse(today())
            .err()
            .unwrap_or_default();
        assert_eq!(fields(&e), ["phone", "email", "confirmed_on"]);
    }

    #[test]
    fn errors_name_the_row_and_blank_rows_are_skipped() {
        let rows = [
            row("03-1", "", ""),
            ContactInput::default(),
            row("", "bad", ""),
        ];
        let e = parse_contacts(&rows, today()).err().unwrap_or_default();
        assert_eq!(fields(&e), ["contacts[2].email"]);
        let ok = parse_contacts(&rows[..2], today()).unwrap_or_default();
        assert_eq!(ok.len(), 1);
    }
}
