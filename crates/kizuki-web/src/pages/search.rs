//! The search page: words, "phrases", -exclusions and facet filters over everything the
//! signed-in user may see, with highlighted snippets and counts per facet.

use crate::error::WebError;
use crate::search::{SearchParams, SearchView, published_slugs, run};
use crate::session::SignedIn;
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// Facets offered as links, in this order.
const FACETS: [&str; 6] = [
    "kind",
    "fiscal_year",
    "sector",
    "event_type",
    "cause",
    "tlp",
];

/// `GET /search`.
pub async fn page(
    State(st): State<WebState>,
    s: SignedIn,
    Query(params): Query<SearchParams>,
) -> Result<Response, WebError> {
    let viewer = kizuki_app::auth::viewer(&st.app, &s.p).await?;
    let mut ctx = json!({"q": params, "facet_order": FACETS});
    if params.is_empty() {
        return super::render(&st, &s.viewer, "search.html", ctx);
    }
    let query = match params.to_query(&st) {
        Ok(q) => q,
        Err(e) => {
            // Keep what was typed and say what was not understood.
            ctx["problem"] = json!(e.to_string());
            let mut res = super::render(&st, &s.viewer, "search.html", ctx)?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let results = run(&st, &viewer, query.clone()).await?;
    // Results miss what the index has not taken in yet; say so, with how much.
    if let Some(search) = &st.search {
        let behind =
            kizuki_app::ops::health::changes_after(&st.app, search.index().last_seq()).await?;
        if behind > 0 {
            ctx["behind"] = json!(kizuki_domain::text::thousands(
                i64::try_from(behind).unwrap_or(i64::MAX)
            ));
        }
    }
    let published = published_slugs(&st, crate::search::LinkFor::of(&viewer)).await?;
    let view = SearchView::of(
        &results,
        &query,
        crate::search::LinkFor::of(&viewer),
        &published,
    );
    let next = (query.offset + query.limit < usize::try_from(view.total).unwrap_or(usize::MAX))
        .then(|| query.offset + query.limit);
    let prev = (query.offset > 0).then(|| query.offset.saturating_sub(query.limit));
    ctx["facets"] = json!(facet_links(&params, &view));
    ctx["results"] = json!(view);
    ctx["next"] = json!(next);
    ctx["prev"] = json!(prev);
    ctx["qs"] = json!(query_string(&params, None));
    super::render(&st, &s.viewer, "search.html", ctx)
}

/// The request parameter a facet filters on.
fn param_of(field: &str) -> &str {
    match field {
        "fiscal_year" => "fy",
        other => other,
    }
}

/// The parameters as a query string, without the page offset, with `set` replacing (or,
/// given an empty value, removing) one parameter.
fn query_string(p: &SearchParams, set: Option<(&str, &str)>) -> String {
    let mut pairs: Vec<(&str, String)> = vec![("q", p.q.clone())];
    for (name, v) in [
        ("fy", &p.fy),
        ("sector", &p.sector),
        ("event_type", &p.event_type),
        ("cause", &p.cause),
        ("severity", &p.severity),
        ("org", &p.org),
        ("tlp", &p.tlp),
        ("kind", &p.kind),
    ] {
        if set.is_some_and(|(n, _)| n == name) {
            continue;
        }
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            pairs.push((name, v.to_owned()));
        }
    }
    if let Some((n, v)) = set
        && !v.is_empty()
    {
        pairs.push((n, v.to_owned()));
    }
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

/// Each facet's values with the link that narrows the search to it (or, for the value in
/// force, widens it again).
fn facet_links(p: &SearchParams, view: &SearchView) -> Vec<serde_json::Value> {
    FACETS
        .iter()
        .filter_map(|field| view.facets.iter().find(|f| f.field == *field))
        .map(|f| {
            let param = param_of(&f.field);
            let current = match param {
                "fy" => p.fy.as_deref(),
                "sector" => p.sector.as_deref(),
                "event_type" => p.event_type.as_deref(),
                "cause" => p.cause.as_deref(),
                "tlp" => p.tlp.as_deref(),
                "kind" => p.kind.as_deref(),
                _ => None,
            };
            let values: Vec<serde_json::Value> = f
                .values
                .iter()
                .map(|v| {
                    let active = current == Some(v.value.as_str());
                    let href = format!(
                        "/search?{}",
                        query_string(p, Some((param, if active { "" } else { &v.value })))
                    );
                    json!({"value": v.value, "count": v.count, "active": active, "href": href})
                })
                .collect();
            json!({"field": f.field, "values": values})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_links_add_and_remove_one_filter() {
        let p = SearchParams {
            q: "改元 \"運行\"".into(),
            sector: Some("railway".into()),
            offset: Some(40),
            ..SearchParams::default()
        };
        let qs = query_string(&p, Some(("kind", "case")));
        assert_eq!(
            qs,
            "q=%E6%94%B9%E5%85%83+%22%E9%81%8B%E8%A1%8C%22&sector=railway&kind=case"
        );
        assert_eq!(
            query_string(&p, Some(("sector", ""))),
            "q=%E6%94%B9%E5%85%83+%22%E9%81%8B%E8%A1%8C%22"
        );
        assert!(!query_string(&p, None).contains("offset"));
    }
}
