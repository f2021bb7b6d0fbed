//! Report-stage deadlines as services: what is due when for one report and the
//! overdue lists of the dashboards, with the configured [`DeadlinePolicy`] and the injected
//! clock. The rules themselves are `kizuki_domain::deadlines`.

use crate::App;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::reports;
use kizuki_domain::deadlines::{DeadlinePolicy, OverdueItem, Schedule, overdue, schedule};
use kizuki_domain::report::{Report, ReportStatus};
use kizuki_store::ReportFilter;

/// A closed report, or one already written up as a case, owes no further stage.
pub fn owes_stages(r: &Report) -> bool {
    r.status != ReportStatus::Closed && r.case_id.is_none()
}

/// The report's schedule; `None` when it owes nothing any more (closed or written up).
pub fn for_report(app: &App, r: &Report, policy: &DeadlinePolicy) -> Option<Schedule> {
    owes_stages(r).then(|| schedule(r, policy, app.clock.as_ref()))
}

/// Overdue stages for a dashboard, longest overdue first: an operator's own organisation's
/// open reports, or every open report the centre user may read.
pub async fn dashboard_overdue(
    app: &App,
    p: &Principal,
    policy: &DeadlinePolicy,
) -> AppResult<Vec<(OverdueItem, Report)>> {
    let filter = if p.is_operator() {
        ReportFilter {
            org_id: Some(p.org_id),
            ..ReportFilter::default()
        }
    } else {
        ReportFilter::default()
    };
    let open: Vec<Report> = reports::list_all(app, p, filter)
        .await?
        .into_iter()
        .filter(owes_stages)
        .collect();
    let items = overdue(&open, policy, app.clock.as_ref());
    Ok(items
        .into_iter()
        .filter_map(|i| {
            open.iter()
                .find(|r| r.id == i.report)
                .map(|r| (i, r.clone()))
        })
        .collect())
}
