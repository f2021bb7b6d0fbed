//! Lesson themes as stored (each a versioned row) and the tags that link a lesson of a case or
//! a survey year's common lesson to its themes.

use chrono::{DateTime, Utc};
use kizuki_domain::adoption::{Assessment, FollowUp};
use kizuki_domain::ids::{CaseId, FollowUpId, OrgId, UserId};
use kizuki_domain::lessons::Theme;
use serde::{Deserialize, Serialize};

/// A theme with its place in the list and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTheme {
    pub theme: Theme,
    /// Order in the list: themes are shown by position, then key.
    pub position: i32,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<UserId>,
}

/// One lesson tagged with one theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonTag {
    /// `LessonRef::key` of the lesson (`case:12:0`, `common:2019:3`).
    pub lesson: String,
    pub theme: String,
    pub at: DateTime<Utc>,
    pub by: Option<UserId>,
}

/// What saving a theme does, decided the same way in every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeWrite {
    Insert,
    /// Replace, as this version.
    Update(i64),
}

/// Decides a theme save from the version now stored (`None`: no such theme) and the version
/// the editor started from (0: a new theme).
pub fn theme_write(
    key: &str,
    stored: Option<i64>,
    expected: i64,
) -> crate::StoreResult<ThemeWrite> {
    use crate::{Current, StoreError};
    match (stored, expected) {
        (Some(_), 0) => Err(StoreError::Duplicate {
            what: format!("theme {key}"),
        }),
        (None, 0) => Ok(ThemeWrite::Insert),
        (None, _) => Err(StoreError::not_found("theme", key)),
        (Some(v), e) if v != e => Err(StoreError::Conflict {
            entity: "theme",
            current: Current::Version(v),
        }),
        (Some(v), _) => Ok(ThemeWrite::Update(v + 1)),
    }
}

/// The themes to untag and to tag for a lesson whose themes are `now`, if they are still
/// `expected` as a set; otherwise a conflict.
pub fn tag_changes(
    now: &[String],
    expected: &[String],
    wanted: &[String],
) -> crate::StoreResult<(Vec<String>, Vec<String>)> {
    let (now, expected, wanted) = (theme_set(now), theme_set(expected), theme_set(wanted));
    if now != expected {
        return Err(crate::StoreError::Conflict {
            entity: "lesson themes",
            current: crate::Current::Version(i64::try_from(now.len()).unwrap_or(i64::MAX)),
        });
    }
    let gone = now.difference(&wanted).cloned().collect();
    let added = wanted.difference(&now).cloned().collect();
    Ok((gone, added))
}

/// A lesson's themes as a set (order and repeats do not count), as tags are compared.
pub fn theme_set(themes: &[String]) -> std::collections::BTreeSet<String> {
    themes.iter().map(|t| t.trim().to_owned()).collect()
}

/// A theme read from its row, checked against the row's key.
pub fn theme_of_key(key: &str, theme: Theme) -> crate::StoreResult<Theme> {
    if theme.key.as_str() == key {
        Ok(theme)
    } else {
        Err(crate::StoreError::Invalid(format!(
            "lesson_themes.body of {key} names {}",
            theme.key
        )))
    }
}

/// One self-assessment answer as recorded. Answers are never changed: a new answer is a new
/// record, so an organisation's history on a theme is its records newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentRecord {
    pub id: i64,
    pub org: OrgId,
    pub assessment: Assessment,
    pub at: DateTime<Utc>,
    pub by: Option<UserId>,
}

/// A new follow-up item of an operator for the `measure`-th countermeasure (from 0) of a
/// case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFollowUp {
    pub org: OrgId,
    pub case: CaseId,
    pub measure: u32,
    pub item: FollowUp,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// A follow-up item as stored, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFollowUp {
    pub id: FollowUpId,
    pub org: OrgId,
    pub case: CaseId,
    pub measure: u32,
    pub version: i64,
    pub item: FollowUp,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<UserId>,
}

/// The conflict when an answer was recorded since the one the editor started from
/// (`expected`, 0 for none): the latest record's id is the version shown.
pub fn assessment_conflict(latest: Option<i64>, expected: i64) -> crate::StoreResult<()> {
    let latest = latest.unwrap_or(0);
    if latest == expected {
        Ok(())
    } else {
        Err(crate::StoreError::Conflict {
            entity: "self-assessment",
            current: crate::Current::Version(latest),
        })
    }
}
