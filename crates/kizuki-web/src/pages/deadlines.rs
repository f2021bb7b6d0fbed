//! Report-stage deadlines on pages: what is due when on a report's page, the
//! overdue badges of report rows, and the dashboards' overdue lists, all from the configured
//! policy and the injected clock.

use crate::state::WebState;
use kizuki_app::reports::deadlines;
use kizuki_domain::deadlines::DueStatus;
use kizuki_domain::report::Report;
use serde::Serialize;
use serde_json::{Value, json};

fn status_code(s: &DueStatus) -> &'static str {
    match s {
        DueStatus::Met { late_by, .. } if late_by.is_zero() => "met",
        DueStatus::Met { .. } => "met_late",
        DueStatus::Pending { .. } => "pending",
        DueStatus::Overdue { .. } => "overdue",
    }
}

/// The report page's schedule: what the deadlines run from, and per stage its deadline, its
/// status (for the wording and the styling) and the minutes that status counts (late by,
/// left, overdue by). The page words it in the viewer's language. `null` when the report
/// owes nothing any more.
pub fn schedule_json(st: &WebState, r: &Report) -> Value {
    let Some(s) = deadlines::for_report(&st.app, r, &st.deadlines) else {
        return Value::Null;
    };
    let stages: Vec<Value> = s
        .deadlines
        .iter()
        .map(|d| {
            let (at, minutes) = match d.status {
                DueStatus::Met { at, late_by } => (Some(at), late_by.num_minutes()),
                DueStatus::Pending { remaining } => (None, remaining.num_minutes()),
                DueStatus::Overdue { overdue_by } => (None, overdue_by.num_minutes()),
            };
            json!({"stage": d.stage.code(), "due": d.due, "status": status_code(&d.status),
                   "at": at, "minutes": minutes})
        })
        .collect();
    json!({"anchor": {"kind": s.anchor, "at": s.anchor_at}, "stages": stages})
}

/// Overdue stages of one report in the shape report rows have always used.
pub fn overdue_stages(st: &WebState, r: &Report) -> Vec<OverdueStage> {
    deadlines::for_report(&st.app, r, &st.deadlines)
        .map(|s| {
            s.overdue()
                .map(|d| OverdueStage {
                    kind: d.stage.code(),
                    due: d.due,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A stage past its deadline, as report rows show it.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueStage {
    pub kind: &'static str,
    pub due: chrono::DateTime<chrono::Utc>,
}

/// The dashboard's overdue list (own organisation's for operators, everything readable for
/// the centre), longest overdue first.
pub async fn dashboard_json(
    st: &WebState,
    p: &kizuki_app::auth::Principal,
) -> Result<Value, kizuki_app::AppError> {
    let items = deadlines::dashboard_overdue(&st.app, p, &st.deadlines).await?;
    Ok(json!(
        items
            .iter()
            .map(|(i, r)| json!({
                "id": r.id.0,
                "title": r.details.title,
                "stage": i.stage.code(),
                "stage_label": i.stage.label_ja(),
                "due": i.due,
                "overdue_by": i.overdue_by.num_minutes(),
            }))
            .collect::<Vec<_>>()
    ))
}
