//! kizuki's search: a Japanese-first full-text index over reports, cases and lessons.
//!
//! - Text is normalised ([`normalize`]: NFKC, width, case, kana variants) and indexed as
//!   CJK character bigrams beside Latin words ([`analysis`]), so `ｅｍｏｔｅｔ`, `Emotet` and
//!   `EMOTET` are one word and `改元` finds the 2019 era-change case.
//! - [`SearchIndex::search`] takes a [`Query`] (words, "phrases", -exclusions, filters) and
//!   a [`Viewer`]; the viewer's access rule is part of the index query, so hits, totals,
//!   facet counts and snippets only ever come from documents the viewer may see.
//! - [`SearchIndex::similar`] finds similar past cases and reports with reasons and lessons.
//! - [`follow::catch_up`] applies the store's change feed; the position is committed with
//!   the index, so a restart resumes where the last commit left off.
//!
//! ```no_run
//! # async fn demo(store: kizuki_store::DynStore) -> Result<(), kizuki_search::SearchError> {
//! use kizuki_search::{Query, SearchIndex, Viewer};
//! let index = SearchIndex::open(std::path::Path::new("kizuki-data/index"))?;
//! kizuki_search::follow::catch_up(&index, &store, &mut |_| {}).await?;
//! let results = index.search(&Query::new("改元 sector:railway"), &Viewer::Public)?;
//! println!("{} hits", results.total);
//! # Ok(()) }
//! ```

pub mod access;
pub mod analysis;
pub mod doc;
pub mod error;
pub mod facets;
pub mod follow;
pub mod index;
pub mod normalize;
pub mod query;
pub mod schema;
pub mod service;
pub mod similar;
pub mod snippet;

pub use access::Viewer;
pub use doc::{DocKind, IndexDoc};
pub use error::{SearchError, SearchResult};
pub use facets::{Facet, FacetValue};
pub use index::{DocMeta, Hit, SearchIndex, SearchResults, WriterOptions};
pub use query::{Filters, Query, Sort};
pub use service::SearchService;
pub use similar::{LessonRef, Reasons, SimilarItem, SimilarOptions, SimilarResults, SimilarTo};
pub use snippet::Highlighted;

/// The index directory inside a data dir.
pub const INDEX_DIR: &str = "index";
