//! Validation errors that name the field at fault, so forms and importers can point at it.

use serde::Serialize;
use std::fmt;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldErrorKind {
    Required,
    TooLong { max: usize },
    TooShort { min: usize },
    OutOfRange { min: i64, max: i64 },
    UnknownCode { code: String },
    Duplicate { value: String },
    Invalid { reason: String },
}

/// One field and what is wrong with it. `field` is a dotted path such as `steps[2].actors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    #[serde(flatten)]
    pub kind: FieldErrorKind,
}

impl FieldError {
    pub fn new(field: impl Into<String>, kind: FieldErrorKind) -> Self {
        Self {
            field: field.into(),
            kind,
        }
    }

    pub fn required(field: impl Into<String>) -> Self {
        Self::new(field, FieldErrorKind::Required)
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(
            field,
            FieldErrorKind::Invalid {
                reason: reason.into(),
            },
        )
    }

    /// The same error under a parent path, e.g. `title` inside `cases[3]`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }

    /// A Japanese sentence for a person filling in a form.
    pub fn message_ja(&self) -> String {
        match &self.kind {
            FieldErrorKind::Required => "入力してください".to_owned(),
            FieldErrorKind::TooLong { max } => format!("{max}文字以内で入力してください"),
            FieldErrorKind::TooShort { min } => format!("{min}文字以上で入力してください"),
            FieldErrorKind::OutOfRange { min, max } => {
                format!("{min}〜{max}の範囲で入力してください")
            }
            FieldErrorKind::UnknownCode { code } => format!("「{code}」は選択肢にありません"),
            FieldErrorKind::Duplicate { value } => format!("「{value}」が重複しています"),
            FieldErrorKind::Invalid { reason } => reason.clone(),
        }
    }

    /// An English sentence for the same problem.
    pub fn message_en(&self) -> String {
        match &self.kind {
            FieldErrorKind::Required => "is required".to_owned(),
            FieldErrorKind::TooLong { max } => format!("must be at most {max} characters"),
            FieldErrorKind::TooShort { min } => format!("must be at least {min} characters"),
            FieldErrorKind::OutOfRange { min, max } => format!("must be between {min} and {max}"),
            FieldErrorKind::UnknownCode { code } => format!("'{code}' is not a known value"),
            FieldErrorKind::Duplicate { value } => format!("'{value}' appears more than once"),
            FieldErrorKind::Invalid { reason } => reason.clone(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message_en())
    }
}

impl std::error::Error for FieldError {}

/// Every problem found in one input, so a form can show them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// The first error for a field, if any (used by forms to place a message).
    pub fn for_field(&self, field: &str) -> Option<&FieldError> {
        self.0.iter().find(|e| e.field == field)
    }

    pub fn extend_within(&mut self, parent: &str, other: ValidationErrors) {
        self.0.extend(other.0.into_iter().map(|e| e.within(parent)));
    }

    /// `Ok(v)` when nothing was pushed, otherwise the collected errors.
    pub fn into_result<T>(self, v: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() { Ok(v) } else { Err(self) }
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Shared text checks: trimmed, non-empty when required, bounded in characters (not bytes,
/// since Japanese text is three bytes a character in UTF-8).
pub fn text(
    errs: &mut ValidationErrors,
    field: &str,
    value: &str,
    required: bool,
    max_chars: usize,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        if required {
            errs.push(FieldError::required(field));
        }
        return String::new();
    }
    if v.chars().count() > max_chars {
        errs.push(FieldError::new(
            field,
            FieldErrorKind::TooLong { max: max_chars },
        ));
    }
    v.to_owned()
}
