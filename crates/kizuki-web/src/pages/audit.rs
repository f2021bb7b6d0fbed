//! The admin's audit view (security): whether the chain verifies, and the newest
//! entries, filtered by actor, action or target. Everyone else gets "not found".

use super::render;
use crate::error::WebError;
use crate::session::SignedIn;
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::response::Response;
use kizuki_app::security::audit_log;
use kizuki_store::AuditQuery;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditParams {
    actor: String,
    action: String,
    target: String,
    before: Option<u64>,
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub async fn view(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<AuditParams>,
) -> Result<Response, WebError> {
    const PAGE: usize = 100;
    // `search` decides first, so a non-admin learns nothing, not even the chain's state.
    let entries = audit_log::search(
        &st.app,
        &s.p,
        &AuditQuery {
            actor: non_empty(&q.actor),
            action: non_empty(&q.action),
            target: non_empty(&q.target),
            before_seq: q.before,
            limit: PAGE,
        },
    )
    .await?;
    let verified = audit_log::verify(&st.app).await?;
    let people: std::collections::BTreeMap<String, String> =
        kizuki_app::reports::user_names(&st.app)
            .await?
            .into_iter()
            .map(|(id, name)| (kizuki_app::security::audit::actor_user(id), name))
            .collect();
    let lang = s.viewer.lang;
    let catalogue = crate::i18n::catalogue();
    // A person reads a name and a phrase; the codes stay beside them for the filters.
    let actor_name = |actor: &str| match actor {
        "system" | "cli" | "anonymous" => catalogue
            .get(lang, &format!("audit_actor.{actor}"))
            .to_owned(),
        a => people.get(a).cloned().unwrap_or_else(|| a.to_owned()),
    };
    let orgs: std::collections::BTreeMap<String, String> = kizuki_app::reports::org_names(&st.app)
        .await?
        .into_iter()
        .map(|(id, name)| (format!("org:{}", id.0), name))
        .collect();
    // What an entry is about, named: a person, an organisation, a report, a case, a survey.
    // Anything else keeps its code, shown as code.
    let target_name = |target: &str| -> Option<String> {
        if let Some(name) = people.get(target).or_else(|| orgs.get(target)) {
            return Some(name.clone());
        }
        let (kind, id) = target.split_once(':')?;
        let key = match kind {
            "report" | "case" | "survey" | "interview" => format!("audit_target.{kind}"),
            _ => return None,
        };
        Some(catalogue.fmt(lang, &key, &[("id", id.to_owned())]))
    };
    let action_label = |action: &str| {
        let key = format!("audit_action.{}", action.replace('.', "_"));
        let label = catalogue.get(lang, &key);
        (label != key).then(|| label.to_owned())
    };
    let older = (entries.len() == PAGE)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    render(
        &st,
        &s.viewer,
        "audit.html",
        json!({
            "ok": verified.is_ok(),
            "count": verified.as_ref().map(|v| v.entries).unwrap_or(0),
            "head": verified.as_ref().ok().and_then(|v| v.last_seq).unwrap_or(0),
            "broken": verified.as_ref().err().map(ToString::to_string),
            "keep_days": st.audit_retention.keep_days,
            "purged_before": st.app.clock.now() - st.audit_retention.keep(),
            "entries": entries.iter().map(|e| json!({
                "seq": e.seq, "at": e.at.to_rfc3339(), "actor": e.actor,
                "actor_name": actor_name(&e.actor), "action": e.action,
                "action_label": action_label(&e.action),
                "target": e.target, "target_name": target_name(&e.target), "detail": e.detail,
            })).collect::<Vec<_>>(),
            "q": {"actor": q.actor, "action": q.action, "target": q.target},
            "older_q": older.map(|seq| {
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("before", &seq.to_string())
                    .append_pair("actor", &q.actor)
                    .append_pair("action", &q.action)
                    .append_pair("target", &q.target)
                    .finish()
            }),
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportParams {
    from: String,
    to: String,
}

/// `/audit/export?from=…&to=…`: the log's entries of those days (Japan time) as JSON Lines,
/// which `kizuki audit verify --file` checks on their own. The admin's alone; recorded.
pub async fn export(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<ExportParams>,
) -> Result<Response, WebError> {
    export_days(&st, &s.p, &q.from, &q.to).await
}

/// The log's entries of the days `from..=to` as a JSON Lines download named after them, for
/// the page and the API alike.
pub async fn export_days(
    st: &WebState,
    p: &kizuki_app::auth::Principal,
    from: &str,
    to: &str,
) -> Result<Response, WebError> {
    let (bytes, _) = audit_log::export_as(&st.app, p, from, to).await?;
    let name = format!("audit-{}-{}.jsonl", from.trim(), to.trim());
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(crate::render::attachment(
        bytes,
        "application/x-ndjson",
        &safe,
    ))
}
