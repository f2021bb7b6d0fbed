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
    /// The report's version the choices were read at, for the form to send back.
    pub version: i64,
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
    let all_orgs = app.store.list_orgs().await?;
    let orgs_by_id: BTreeMap<OrgId, String> = all_orgs
        .iter()
        .map(|o| (o.id, o.org.name.clone()))
        .collect();
    // A disabled organisation is offered to nobody, but stays listed while chosen.
    let mut orgs: Vec<OrgChoice> = all_orgs
        .iter()
        .filter(|o| o.id != r.org_id)
        .filter(|o| (can_edit && o.active) || current.orgs.contains(&o.id))
        .map(|o| OrgChoice {
            id: o.id,
            name: o.org.name.clone(),
            chosen: current.orgs.contains(&o.id),
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
        version: r.version,
        tlp: r.details.tlp,
        can_edit,
        orgs,
        users,
    })
}

/// Replaces the report's sharing lists as a new version of the report. Unknown or disabled
/// organisations and inactive people are refused by field (`orgs[i]`, `users[i]`); the
/// report's own organisation needs no sharing and is dropped. With `expected_version`, a
/// report changed meanwhile is a conflict carrying the report as it is now.
pub async fn set(
    app: &App,
    p: &Principal,
    id: ReportId,
    expected_version: Option<i64>,
    orgs: &[OrgId],
    users: &[UserId],
) -> AppResult<Shared> {
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
        .filter(|o| o.active)
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
                format!("組織 {o} はないか無効です / there is no enabled organisation {o}"),
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
    let saved = app
        .store
        .set_report_sharing(id, expected_version, &out, Some(p.user_id), app.clock.now())
        .await?;
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("report:{id}"),
        serde_json::json!({"sharing": before}),
        serde_json::json!({"sharing": out}),
    )
    .await?;
    Ok(Shared {
        sharing: out,
        version: saved.version,
    })
}

/// Sharing as saved, with the report's version it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shared {
    #[serde(flatten)]
    pub sharing: ReportSharing,
    pub version: i64,
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
