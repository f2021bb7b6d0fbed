//! User accounts and the roles that decide what each may do.

use crate::error::{FieldError, ValidationErrors, text};
use crate::ids::{OrgId, UserId};
use crate::taxonomy::Lang;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Files and updates its organisation's reports.
    Reporter,
    /// Manages its organisation's users and settings.
    OperatorAdmin,
    /// Reads reports of the sectors it oversees.
    Ministry,
    /// Triages, classifies, links, runs surveys, writes cases.
    Analyst,
    /// Anonymises, sends for sign-off, publishes.
    Editor,
    /// Accounts, taxonomies, retention, backups.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Reporter,
        Role::OperatorAdmin,
        Role::Ministry,
        Role::Analyst,
        Role::Editor,
        Role::Admin,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::OperatorAdmin => "operator_admin",
            Role::Ministry => "ministry",
            Role::Analyst => "analyst",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s.trim().replace('-', "_"))
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Role::Reporter => "報告担当者",
            Role::OperatorAdmin => "事業者管理者",
            Role::Ministry => "所管省庁",
            Role::Analyst => "分析担当",
            Role::Editor => "編集担当",
            Role::Admin => "システム管理者",
        }
    }

    /// Staff of the coordinating centre.
    pub fn is_centre(self) -> bool {
        matches!(self, Role::Analyst | Role::Editor | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A lower-cased e-mail address with one `@` and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, FieldError> {
        let s = s.trim().to_lowercase();
        let ok = s.len() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(char::is_whitespace)
            });
        if ok {
            Ok(Email(s))
        } else {
            Err(FieldError::invalid(
                "email",
                "メールアドレスの形式が正しくありません / not a valid e-mail address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Email::parse(&s).map_err(|e| e.to_string())
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub org_id: OrgId,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub lang: Lang,
}

impl NewUser {
    pub fn parse(self) -> Result<NewUser, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let display_name = text(&mut errs, "display_name", &self.display_name, true, 80);
        errs.into_result(NewUser {
            display_name,
            ..self
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub version: i64,
    #[serde(flatten)]
    pub user: NewUser,
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Ana@Example.JP ").unwrap().as_str(),
            "ana@example.jp"
        );
        for bad in [
            "", "a", "a@b", "@b.jp", "a@@b.jp", "a b@c.jp", "a@.jp", "a@jp.",
        ] {
            let e = Email::parse(bad).unwrap_err();
            assert_eq!(e.field, "email", "{bad}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("operator-admin"), Some(Role::OperatorAdmin));
    }
}
