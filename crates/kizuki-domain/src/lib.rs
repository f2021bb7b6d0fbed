//! kizuki's domain: the records the centre and operators share, their rules and the calendar.
//!
//! Nothing here knows about HTTP, SQL or files: callers hand in values (already read from
//! wherever they live) and get back parsed, validated types or errors that name the field.

pub mod access;
pub mod adoption;
pub mod anonymise;
pub mod case;
pub mod clock;
pub mod deadlines;
pub mod error;
pub mod fiscal;
pub mod ids;
pub mod interview;
pub mod lessons;
pub mod org;
pub mod report;
pub mod selection;
pub mod signoff;
pub mod stats;
pub mod survey;
pub mod taxonomy;
pub mod text;
pub mod user;
pub mod wareki;

pub use error::{FieldError, FieldErrorKind, ValidationErrors};
pub use fiscal::FiscalYear;
pub use ids::{CaseId, OrgId, ReportId, UserId};
