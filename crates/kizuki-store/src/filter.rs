//! Report list filters and pagination, shared by every backend and every caller.

use kizuki_domain::access::ReportVisibility;
use kizuki_domain::ids::OrgId;
use kizuki_domain::report::ReportStatus;
use kizuki_domain::taxonomy::Tlp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportSort {
    /// Newest first.
    #[default]
    ReportedDesc,
    ReportedAsc,
    SeverityDesc,
    UpdatedDesc,
}

impl ReportSort {
    pub const ALL: [ReportSort; 4] = [
        ReportSort::ReportedDesc,
        ReportSort::ReportedAsc,
        ReportSort::SeverityDesc,
        ReportSort::UpdatedDesc,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReportSort::ReportedDesc => "reported_desc",
            ReportSort::ReportedAsc => "reported_asc",
            ReportSort::SeverityDesc => "severity_desc",
            ReportSort::UpdatedDesc => "updated_desc",
        }
    }

    pub fn parse(s: &str) -> Option<ReportSort> {
        ReportSort::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// Every field narrows the list; `None` or empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportFilter {
    /// 年度 of the date the report was filed (JST).
    pub fiscal_year: Option<i32>,
    /// 年度 of the date the incident occurred (JST); reports whose occurrence is unknown
    /// are not in any.
    pub occurred_fiscal_year: Option<i32>,
    pub sector: Option<String>,
    pub event_type: Option<String>,
    pub cause: Option<String>,
    pub severity: Option<u8>,
    pub status: Option<ReportStatus>,
    pub tlp: Option<Tlp>,
    pub org_id: Option<OrgId>,
    /// Restricts to these organisations (access control); `None` means no restriction.
    pub visible_orgs: Option<Vec<OrgId>>,
    /// Security: the TLP rule from `access::report_visibility`, applied by the
    /// backend as a query filter so lists, counts and exports match single-record reads.
    /// Never taken from a request (skipped by serde); `None` means no restriction.
    #[serde(skip)]
    pub visibility: Option<ReportVisibility>,
    pub sort: ReportSort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based.
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub const MAX_SIZE: u32 = 500;

    pub fn new(number: u32, size: u32) -> Page {
        Page {
            number: number.max(1),
            size: size.clamp(1, Self::MAX_SIZE),
        }
    }

    pub fn offset(self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(1, 50)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: Page,
}

impl<T> Paged<T> {
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.page.size.max(1)))
    }
}
