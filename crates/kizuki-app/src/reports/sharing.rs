//! Who else a report is shared with under its TLP label: the organisations a TLP:AMBER report
//! is shared with, and the people a TLP:RED report names (the centre's staff included, for
//! RED keeps even the centre out unless named). Set by whoever may edit the report; every
//! change is in the audit log and takes effect at once in lists, search and exports, which
//! all read the same sharing lists.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use kizuki_domain::access::Action;
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::taxonomy::Tlp;
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::ReportSharing;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An organisation that can be chosen, with whether it is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgChoice {
    pub id: OrgId,
    pub name: String,
    pub chosen: bool,
}

/// A person that can be named, with their organisation and whether they are named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserChoice {
    pub id: UserId,
    pub name: String,
    pub org: String,
    pub chosen: bool,
}

/// A report's sharing as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharingView {
    pub report_id: ReportId,
    pub tlp: Tlp,
    /// Whether the viewer may change it.
    pub can_edit: bool,
    /// Every other active organisation; the chosen ones first.
    pub orgs: Vec<OrgChoice>,
    /// Every active person; the named ones first.
    pub users: Vec<UserChoice>,
}

/// The report's sharing, for those who may read the report; the choices are offered only to
/// those who may change it.
pub async fn view(app: &App, p: &Principal, id: ReportId) -> AppResult<SharingView> {
    let r = crate::reports::get(app, p, id).await?;
    let can_edit = auth::decide_report(app, p, &r, Action::Edit)
        .await?
        .is_allowed();
    let current = app.store.report_sharing(id).await?;
    let orgs_by_id: BTreeMap<OrgId, String> =
        crate::reports::org_names(app).await?.into_iter().collect();
    let mut orgs: Vec<OrgChoice> = orgs_by_id
        .iter()
        .filter(|(o, _)| **o != r.org_id)
        .filter(|(o, _)| can_edit || current.orgs.contains(o))
        .map(|(o, name)| OrgChoice {
            id: *o,
            name: name.clone(),
            chosen: current.orgs.contains(o),
        })
        .collect();
    orgs.sort_by_key(|o| (!o.chosen, o.name.clone()));
    let mut users: Vec<UserChoice> = app
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.active && (can_edit || current.users.contains(&u.id)))
        .map(|u| UserChoice {
            id: u.id,
            name: u.user.display_name.clone(),
            org: orgs_by_id.get(&u.user.org_id).cloned().unwrap_or_default(),
            chosen: current.users.contains(&u.id),
        })
        .collect();
    users.sort_by_key(|u| (!u.chosen, u.org.clone(), u.name.clone()));
    Ok(SharingView {
        report_id: id,
        tlp: r.details.tlp,
        can_edit,
        orgs,
        users,
    })
}

/// Replaces the report's sharing lists. Unknown or inactive organisations and people are
/// refused by field (`orgs[i]`, `users[i]`); the report's own organisation needs no sharing
/// and is dropped.
pub async fn set(
    app: &App,
    p: &Principal,
    id: ReportId,
    orgs: &[OrgId],
    users: &[UserId],
) -> AppResult<ReportSharing> {
    let r = crate::reports::get(app, p, id).await?;
    if !auth::decide_report(app, p, &r, Action::Edit)
        .await?
        .is_allowed()
    {
        return Err(AppError::Forbidden(
            "sharing is set by the report's organisation and the centre's staff".into(),
        ));
    }
    let mut errs = ValidationErrors::default();
    let known_orgs: BTreeSet<OrgId> = app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let active_users: BTreeSet<UserId> = app
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| u.id)
        .collect();
    let mut out = ReportSharing::default();
    for (i, o) in orgs.iter().enumerate() {
        if !known_orgs.contains(o) {
            errs.push(FieldError::invalid(
                format!("orgs[{i}]"),
                format!("組織 {o} はありません / there is no organisation {o}"),
            ));
        } else if *o != r.org_id && !out.orgs.contains(o) {
            out.orgs.push(*o);
        }
    }
    for (i, u) in users.iter().enumerate() {
        if !active_users.contains(u) {
            errs.push(FieldError::invalid(
                format!("users[{i}]"),
                format!("利用者 {u} はいないか無効です / there is no active user {u}"),
            ));
        } else if !out.users.contains(u) {
            out.users.push(*u);
        }
    }
    if !errs.is_empty() {
        return Err(errs.into());
    }
    out.orgs.sort();
    out.users.sort();
    let before = app.store.report_sharing(id).await?;
    app.store.set_report_sharing(id, &out).await?;
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("report:{id}"),
        serde_json::json!({"sharing": before}),
        serde_json::json!({"sharing": out}),
    )
    .await?;
    Ok(out)
}

/// Reads ids from form or API values; a value that is not a number is refused by field.
pub fn ids<T>(field: &str, values: &[String], make: fn(i64) -> T) -> AppResult<Vec<T>> {
    let mut errs = ValidationErrors::default();
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v.trim().parse::<i64>() {
            Ok(n) => out.push(make(n)),
            Err(_) => errs.push(FieldError::invalid(
                format!("{field}[{i}]"),
                format!("「{v}」は番号ではありません / not an id"),
            )),
        }
    }
    errs.into_result(out).map_err(AppError::from)
}
