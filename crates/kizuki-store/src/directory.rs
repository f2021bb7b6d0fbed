//! The directory beyond accounts as stored: organisations enabled or not, their points of
//! contact, and the record of CLEAR/GREEN reports forwarded to organisations of a sector.

use chrono::{DateTime, Utc};
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::org::Contact;
use serde::{Deserialize, Serialize};

/// An organisation's points of contact, versioned so two admins saving at once do not
/// overwrite each other. Version 0 means never saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgContacts {
    pub org_id: OrgId,
    pub version: i64,
    pub contacts: Vec<Contact>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

/// One report forwarded to one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    pub id: i64,
    pub report_id: ReportId,
    /// The organisation that forwarded it (a ministry, or the centre).
    pub from_org: OrgId,
    pub to_org: OrgId,
    pub by: UserId,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// A report forwarded to several organisations at once, with one note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewForward {
    pub report_id: ReportId,
    pub from_org: OrgId,
    pub to_orgs: Vec<OrgId>,
    pub by: UserId,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// What a report's history keeps when its sharing changes: the report as it became and who
/// it is shared with, so the history shows both.
#[derive(Debug, Clone, Serialize)]
pub struct SharingSnapshot<'a> {
    #[serde(flatten)]
    pub report: &'a kizuki_domain::report::Report,
    pub sharing: &'a crate::ReportSharing,
}
