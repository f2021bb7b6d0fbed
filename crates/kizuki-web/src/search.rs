//! Full-text search and similar cases as the pages and the API show them: turning request
//! parameters into a search query, asking the search service for the signed-in (or public)
//! viewer, and shaping hits, facets and similar items the same way for HTML and JSON.

use crate::error::WebError;
use crate::state::WebState;
use kizuki_domain::access::Viewer;
use kizuki_search::{
    DocKind, Hit, Query, SearchError, SearchResults, SearchService, SimilarItem, SimilarOptions,
    SimilarResults, SimilarTo,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// How long a request waits for the index to apply changes committed just before it, so a
/// report filed a moment ago is found. Past this the answer comes from the index as it is and
/// the follower finishes in the background.
const FRESHNESS_WAIT: Duration = Duration::from_millis(300);

/// Page size of the search page and the API's default.
pub const PAGE_SIZE: usize = 20;
const MAX_LIMIT: usize = 100;
/// The deepest page offered: deep pages cost the index more than they help a reader.
const MAX_OFFSET: usize = 1_000;

/// The search parameters of the page and `GET /api/v1/search`. Filters may also be written
/// in `q` (`sector:鉄道 改元`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words, "phrases" and -exclusions; `name:value` filters are understood too.
    #[serde(default)]
    pub q: String,
    /// 年度, e.g. 2019 or 令和元年度.
    pub fy: Option<String>,
    /// Sector code or label.
    pub sector: Option<String>,
    pub event_type: Option<String>,
    pub cause: Option<String>,
    /// 0 to 4.
    pub severity: Option<String>,
    /// Organisation number.
    pub org: Option<String>,
    /// clear, green, amber, amber-strict or red.
    pub tlp: Option<String>,
    /// report, case or lesson.
    pub kind: Option<String>,
    /// Hits per page (1 to 100).
    pub limit: Option<usize>,
    /// Hits to skip.
    pub offset: Option<usize>,
}

impl SearchParams {
    /// The query these parameters ask for; a filter that cannot be understood is an error
    /// naming it.
    pub fn to_query(&self, st: &WebState) -> Result<Query, SearchError> {
        let mut text = self.q.clone();
        for (name, value) in [
            ("fy", &self.fy),
            ("sector", &self.sector),
            ("event_type", &self.event_type),
            ("cause", &self.cause),
            ("severity", &self.severity),
            ("org", &self.org),
            ("tlp", &self.tlp),
            ("kind", &self.kind),
        ] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                if v.contains(char::is_whitespace) || v.contains('"') {
                    return Err(SearchError::Query(format!(
                        "{name}: {v}: one value, no spaces"
                    )));
                }
                text.push(' ');
                text.push_str(name);
                text.push(':');
                text.push_str(v);
            }
        }
        let mut q = Query::parse(&text, Some(&st.app.taxonomy))?;
        q.limit = self.limit.unwrap_or(PAGE_SIZE).clamp(1, MAX_LIMIT);
        q.offset = self.offset.unwrap_or(0).min(MAX_OFFSET);
        Ok(q)
    }

    /// Whether anything at all was asked.
    pub fn is_empty(&self) -> bool {
        self.q.trim().is_empty()
            && [
                &self.fy,
                &self.sector,
                &self.event_type,
                &self.cause,
                &self.severity,
                &self.org,
                &self.tlp,
                &self.kind,
            ]
            .iter()
            .all(|v| v.as_deref().is_none_or(|v| v.trim().is_empty()))
    }
}

/// The running search service, or a clear refusal when this server runs without one.
pub fn service(st: &WebState) -> Result<&SearchService, WebError> {
    st.search
        .as_ref()
        .ok_or_else(|| WebError::Internal("this server runs without a search index".into()))
}

/// Lets the index catch up with writes committed before this request, for at most
/// `FRESHNESS_WAIT`. The catch-up runs in its own task, so a request that stops waiting does
/// not cut it short.
pub async fn settle(svc: &SearchService) {
    let s = svc.clone();
    let task = tokio::spawn(async move { s.catch_up().await });
    match tokio::time::timeout(FRESHNESS_WAIT, task).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "search index could not catch up"),
        Ok(Err(e)) => tracing::warn!(error = %e, "search catch-up task failed"),
        Ok(Ok(Ok(_))) | Err(_) => {}
    }
}

/// A query that cannot be understood is a validation error of the field `q` (422, with the
/// part at fault named); a missing document is "not found"; the rest is the server's.
pub fn search_error(e: SearchError) -> WebError {
    match e {
        SearchError::Query(m) => WebError::App(kizuki_app::AppError::Validation(
            kizuki_domain::FieldError::invalid("q", m).into(),
        )),
        SearchError::NotIndexed(_) => WebError::NotFound,
        other => WebError::Internal(other.to_string()),
    }
}

/// Runs a search for `viewer`.
pub async fn run(st: &WebState, viewer: &Viewer, q: Query) -> Result<SearchResults, WebError> {
    let svc = service(st)?;
    settle(svc).await;
    svc.search(q, viewer.clone()).await.map_err(search_error)
}

/// Similar cases and reports for `target`, as `viewer` may see them.
pub async fn similar(
    st: &WebState,
    viewer: &Viewer,
    target: SimilarTo,
) -> Result<SimilarResults, WebError> {
    let svc = service(st)?;
    settle(svc).await;
    svc.similar(target, viewer.clone(), SimilarOptions::default())
        .await
        .map_err(search_error)
}

/// Similar items for a report the caller has already been allowed to read. A report filed a
/// moment ago and not yet in the index is compared as it stands.
pub async fn similar_to_report(
    st: &WebState,
    viewer: &Viewer,
    report: &kizuki_domain::report::Report,
) -> Result<SimilarResults, WebError> {
    match similar(st, viewer, SimilarTo::Report(report.id)).await {
        Err(WebError::NotFound) => {
            let doc = kizuki_search::IndexDoc::from_report(report);
            similar(st, viewer, SimilarTo::Doc(Box::new(doc))).await
        }
        other => other,
    }
}

/// Who follows a link: it decides where a hit leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFor {
    /// No login: the portal only.
    Public,
    /// Operators and ministries: report pages, and published cases in the portal (they find
    /// only the published snapshot, so that is what the link shows).
    Member,
    /// Centre staff: report and case pages of the workspace.
    Centre,
}

impl LinkFor {
    pub fn of(viewer: &Viewer) -> LinkFor {
        match viewer.role() {
            None => LinkFor::Public,
            Some(r) if r.is_centre() => LinkFor::Centre,
            Some(_) => LinkFor::Member,
        }
    }
}

/// Where a hit lives, `published` mapping case ids to portal slugs such as `2019-1`.
pub fn url_of(
    kind: DocKind,
    id: i64,
    case_id: Option<i64>,
    lesson_no: Option<u32>,
    who: LinkFor,
    published: &HashMap<i64, String>,
) -> Option<String> {
    let case = match kind {
        DocKind::Report => return (who != LinkFor::Public).then(|| format!("/reports/{id}")),
        DocKind::Case => id,
        DocKind::Lesson => case_id.unwrap_or(id),
    };
    let anchor = lesson_no
        .map(|n| format!("#lesson-{n}"))
        .unwrap_or_default();
    match (who, published.get(&case)) {
        (LinkFor::Centre, _) => Some(format!("/cases/{case}{anchor}")),
        (_, Some(slug)) => Some(format!("/public/cases/{slug}{anchor}")),
        (_, None) => None,
    }
}

/// Case id → public slug of every published case, for readers whose case links lead to the
/// portal; centre staff link into the workspace, so nothing is read for them.
pub async fn published_slugs(
    st: &WebState,
    who: LinkFor,
) -> Result<HashMap<i64, String>, WebError> {
    if who == LinkFor::Centre {
        return Ok(HashMap::new());
    }
    Ok(kizuki_app::publication::public_cases(&st.app, None)
        .await?
        .into_iter()
        .map(|p| (p.case_id.0, p.slug()))
        .collect())
}

/// One hit as pages and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HitView {
    /// report, case or lesson.
    pub kind: String,
    /// Report id, or case id for cases and lessons.
    pub id: i64,
    pub case_id: Option<i64>,
    pub lesson_no: Option<u32>,
    pub title: String,
    /// The title, HTML-escaped, matches in `<mark>`.
    pub title_html: String,
    pub snippet: String,
    /// The snippet, HTML-escaped, matches in `<mark>`.
    pub snippet_html: String,
    pub score: f32,
    pub fiscal_year: Option<i32>,
    pub sector: String,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: Option<u8>,
    pub tlp: String,
    pub url: Option<String>,
}

impl HitView {
    pub fn of(h: &Hit, who: LinkFor, published: &HashMap<i64, String>) -> HitView {
        HitView {
            kind: h.kind.code().to_owned(),
            id: h.id,
            case_id: h.case_id,
            lesson_no: h.lesson_no,
            title: h.title.text.clone(),
            title_html: h.title.to_html(),
            snippet: h.snippet.text.clone(),
            snippet_html: h.snippet.to_html(),
            score: h.score,
            fiscal_year: h.meta.fiscal_year,
            sector: h.meta.sector.clone(),
            event_type: h.meta.event_type.clone(),
            causes: h.meta.causes.clone(),
            severity: h.meta.severity,
            tlp: h.meta.tlp.clone(),
            url: url_of(h.kind, h.id, h.case_id, h.lesson_no, who, published),
        }
    }
}

/// One facet value with its count.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FacetValueView {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FacetView {
    /// fiscal_year, sector, event_type, cause, severity, org, tlp or kind.
    pub field: String,
    pub values: Vec<FacetValueView>,
}

/// A search answer: only what the caller may see, counts included.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchView {
    pub total: u64,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<HitView>,
    pub facets: Vec<FacetView>,
}

impl SearchView {
    pub fn of(
        r: &SearchResults,
        q: &Query,
        who: LinkFor,
        published: &HashMap<i64, String>,
    ) -> SearchView {
        SearchView {
            total: r.total,
            offset: q.offset,
            limit: q.limit,
            hits: r
                .hits
                .iter()
                .map(|h| HitView::of(h, who, published))
                .collect(),
            facets: r
                .facets
                .iter()
                .map(|f| FacetView {
                    field: f.field.clone(),
                    values: f
                        .values
                        .iter()
                        .map(|v| FacetValueView {
                            value: v.value.clone(),
                            count: v.count,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Why an item is similar.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReasonsView {
    /// Distinctive words both share, most distinctive first.
    pub key_terms: Vec<String>,
    pub same_event_type: bool,
    pub shared_causes: Vec<String>,
    /// Shared systems (共同利用型システム) both name.
    pub shared_systems: Vec<String>,
    pub shared_vendors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LessonView {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimilarItemView {
    pub kind: String,
    pub id: i64,
    pub case_id: Option<i64>,
    pub title: String,
    pub score: f32,
    pub reasons: ReasonsView,
    /// The similar case's lessons (気付き・教訓).
    pub lessons: Vec<LessonView>,
    pub fiscal_year: Option<i32>,
    pub sector: String,
    pub event_type: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimilarView {
    /// The source's distinctive words the search used.
    pub key_terms: Vec<String>,
    /// The ten most similar past cases and reports the caller may see, best first.
    pub items: Vec<SimilarItemView>,
}

impl SimilarView {
    pub fn of(r: &SimilarResults, who: LinkFor, published: &HashMap<i64, String>) -> SimilarView {
        SimilarView {
            key_terms: r.key_terms.clone(),
            items: r
                .items
                .iter()
                .map(|i| item_view(i, who, published))
                .collect(),
        }
    }
}

fn item_view(i: &SimilarItem, who: LinkFor, published: &HashMap<i64, String>) -> SimilarItemView {
    SimilarItemView {
        kind: i.kind.code().to_owned(),
        id: i.id,
        case_id: i.case_id,
        title: i.title.clone(),
        score: i.score,
        reasons: ReasonsView {
            key_terms: i.reasons.key_terms.clone(),
            same_event_type: i.reasons.same_event_type,
            shared_causes: i.reasons.shared_causes.clone(),
            shared_systems: i.reasons.shared_systems.clone(),
            shared_vendors: i.reasons.shared_vendors.clone(),
        },
        lessons: i
            .lessons
            .iter()
            .map(|l| LessonView {
                title: l.title.clone(),
                text: l.text.clone(),
            })
            .collect(),
        fiscal_year: i.meta.fiscal_year,
        sector: i.meta.sector.clone(),
        event_type: i.meta.event_type.clone(),
        url: url_of(i.kind, i.id, i.case_id, None, who, published),
    }
}

/// The search index's similarity when the server has an index, brought up to date first so
/// reports filed a moment ago count; `None` (the built-in comparison) without one.
pub async fn selection_oracle(
    st: &WebState,
) -> Option<kizuki_app::selection::index::IndexSimilarity> {
    let svc = st.search.as_ref()?;
    Some(kizuki_app::selection::index::index_oracle(svc, &st.app.taxonomy).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_send_the_public_into_the_workspace() {
        let mut published = HashMap::new();
        published.insert(3, "2019-3".to_owned());
        let url = |kind, id, case, lesson, who| url_of(kind, id, case, lesson, who, &published);
        assert_eq!(url(DocKind::Report, 9, None, None, LinkFor::Public), None);
        assert_eq!(
            url(DocKind::Case, 3, None, None, LinkFor::Public).as_deref(),
            Some("/public/cases/2019-3")
        );
        assert_eq!(
            url(DocKind::Lesson, 3, Some(3), Some(2), LinkFor::Member).as_deref(),
            Some("/public/cases/2019-3#lesson-2")
        );
        assert_eq!(url(DocKind::Case, 4, None, None, LinkFor::Public), None);
        assert_eq!(url(DocKind::Case, 4, None, None, LinkFor::Member), None);
        assert_eq!(
            url(DocKind::Case, 3, None, None, LinkFor::Centre).as_deref(),
            Some("/cases/3")
        );
        assert_eq!(
            url(DocKind::Report, 9, None, None, LinkFor::Member).as_deref(),
            Some("/reports/9")
        );
    }
}
