//! The index itself: opening (and rebuilding when the schema changed), writing batches with
//! the change-feed position committed atomically beside them, and searching.

use crate::access::Viewer;
use crate::doc::{DocKind, IndexDoc};
use crate::error::{SearchError, SearchResult};
use crate::facets::{Facet, FacetCollector};
use crate::query::{self, MAX_LIMIT, ParsedText, Query, Sort};
use crate::schema::{Fields, SCHEMA_VERSION, build_schema, register_tokenizer};
use crate::snippet::{Highlighted, SNIPPET_CHARS, highlight_all, snippet};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tantivy::collector::TopDocs;
use tantivy::schema::Value;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};

/// What is committed with every batch, in tantivy's commit payload: the index and this
/// position in the store's change feed are on disk together or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    schema: u32,
    seq: i64,
}

/// How the index writes: worker threads and their shared memory budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    pub threads: usize,
    pub heap_bytes: usize,
}

impl Default for WriterOptions {
    /// One thread and 96 MB: the server keeps up with a feed of single edits easily and
    /// leaves the other core to requests. `kizuki reindex` asks for more.
    fn default() -> Self {
        WriterOptions {
            threads: 1,
            heap_bytes: 96 << 20,
        }
    }
}

struct Inner {
    dir: Option<PathBuf>,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
    seq: AtomicI64,
    options: Mutex<WriterOptions>,
}

/// The search index. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.inner.dir)
            .field("seq", &self.last_seq())
            .finish_non_exhaustive()
    }
}

/// Metadata of a document as stored in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMeta {
    pub fiscal_year: Option<i32>,
    pub sector: String,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: Option<u8>,
    pub org: Option<i64>,
    pub tlp: String,
    pub status: String,
    pub at: Option<DateTime<Utc>>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub kind: DocKind,
    /// Report id for reports, case id for cases and lessons.
    pub id: i64,
    pub lesson_no: Option<u32>,
    /// For a report, the case written from it; for a lesson, its case.
    pub case_id: Option<i64>,
    pub score: f32,
    pub title: Highlighted,
    pub snippet: Highlighted,
    pub meta: DocMeta,
}

/// The answer to a search: the page of hits, how many match in all, and facet counts over
/// everything that matches (all of it visible to the viewer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub total: u64,
    pub hits: Vec<Hit>,
    pub facets: Vec<Facet>,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing. An index written by another schema
    /// version is emptied (it is rebuilt from the store by following the change feed from 0).
    pub fn open(dir: &Path) -> SearchResult<SearchIndex> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SearchError::io(format!("creating {}", dir.display()), e))?;
        let (schema, fields) = build_schema();
        let index = if dir.join("meta.json").exists() {
            let index = Index::open_in_dir(dir)?;
            let payload = read_payload(&index);
            if index.schema() == schema && payload.is_none_or(|p| p.schema == SCHEMA_VERSION) {
                index
            } else {
                tracing::warn!(
                    dir = %dir.display(),
                    "search index was built by another version; rebuilding from the database"
                );
                // Taking the writer first proves no other process is using the index.
                let w = index
                    .writer_with_num_threads::<TantivyDocument>(1, 15_000_000)
                    .map_err(|e| busy_or(e, dir))?;
                drop(w);
                drop(index);
                clear_dir(dir)?;
                Index::create_in_dir(dir, schema)?
            }
        } else {
            Index::create_in_dir(dir, schema)?
        };
        Self::from_index(index, fields, Some(dir.to_owned()))
    }

    /// An index in memory, for tests and evaluations.
    pub fn in_ram() -> SearchResult<SearchIndex> {
        let (schema, fields) = build_schema();
        Self::from_index(Index::create_in_ram(schema), fields, None)
    }

    fn from_index(index: Index, fields: Fields, dir: Option<PathBuf>) -> SearchResult<SearchIndex> {
        register_tokenizer(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let seq = read_payload(&index).map_or(0, |p| p.seq);
        Ok(SearchIndex {
            inner: Arc::new(Inner {
                dir,
                index,
                reader,
                fields,
                writer: Mutex::new(None),
                seq: AtomicI64::new(seq),
                options: Mutex::new(WriterOptions::default()),
            }),
        })
    }

    /// Sets how the next writer is made (takes effect when no writer is open).
    pub fn set_writer_options(&self, o: WriterOptions) {
        match self.inner.options.lock() {
            Ok(mut g) => *g = o,
            Err(p) => *p.into_inner() = o,
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    pub fn fields(&self) -> &Fields {
        &self.inner.fields
    }

    /// The last change-feed position whose changes are committed in the index.
    pub fn last_seq(&self) -> i64 {
        self.inner.seq.load(Ordering::SeqCst)
    }

    /// Documents in the index (all kinds, visible or not).
    pub fn num_docs(&self) -> u64 {
        self.searcher().num_docs()
    }

    /// Bytes the index takes on disk (0 in memory).
    pub fn size_on_disk(&self) -> u64 {
        let Some(dir) = &self.inner.dir else { return 0 };
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .filter(std::fs::Metadata::is_file)
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Reads every index file once, so the operating system holds it in its page cache and
    /// the first searches do not wait for the disk (tantivy reads the index through `mmap`; a
    /// page touched for the first time is a disk read, which made the slowest similar-items
    /// lookups slow). Returns the bytes read; an index in memory reads nothing.
    pub fn warm(&self) -> SearchResult<u64> {
        use std::io::Read;
        let Some(dir) = &self.inner.dir else {
            return Ok(0);
        };
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        let entries = std::fs::read_dir(dir)
            .map_err(|e| SearchError::io(format!("reading {}", dir.display()), e))?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            // A file merged away meanwhile is simply skipped.
            let Ok(mut f) = std::fs::File::open(&path) else {
                continue;
            };
            loop {
                match f.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n as u64,
                }
            }
        }
        Ok(total)
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.inner.reader.searcher()
    }

    /// Picks up commits made by another process holding this index (e.g. the server).
    pub fn refresh(&self) -> SearchResult<()> {
        self.inner.reader.reload()?;
        if let Some(p) = read_payload(&self.inner.index) {
            self.inner.seq.store(p.seq, Ordering::SeqCst);
        }
        Ok(())
    }

    fn writer(&self) -> SearchResult<MutexGuard<'_, Option<IndexWriter<TantivyDocument>>>> {
        let mut g = match self.inner.writer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.is_none() {
            let o = match self.inner.options.lock() {
                Ok(o) => *o,
                Err(p) => *p.into_inner(),
            };
            let w = self
                .inner
                .index
                .writer_with_num_threads(
                    o.threads.max(1),
                    o.heap_bytes.max(15_000_000 * o.threads.max(1)),
                )
                .map_err(|e| {
                    busy_or(e, self.inner.dir.as_deref().unwrap_or(Path::new("memory")))
                })?;
            *g = Some(w);
        }
        Ok(g)
    }

    /// Queues documents, first removing the groups (a report, or a case with its lessons)
    /// they replace. Nothing is visible or durable until [`SearchIndex::commit`].
    pub fn add(&self, docs: &[IndexDoc], replace_groups: &[String]) -> SearchResult<()> {
        let g = self.writer()?;
        let w = g
            .as_ref()
            .ok_or_else(|| SearchError::Internal("index writer missing".into()))?;
        let f = &self.inner.fields;
        for group in replace_groups {
            w.delete_term(Term::from_field_text(f.group, group));
        }
        for d in docs {
            w.add_document(d.to_tantivy(f))?;
        }
        Ok(())
    }

    /// Makes queued changes durable and visible, together with the change-feed position
    /// `seq` they bring the index up to.
    pub fn commit(&self, seq: i64) -> SearchResult<()> {
        let mut g = self.writer()?;
        let w = g
            .as_mut()
            .ok_or_else(|| SearchError::Internal("index writer missing".into()))?;
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            seq,
        })
        .map_err(|e| SearchError::Internal(e.to_string()))?;
        let mut pc = w.prepare_commit()?;
        pc.set_payload(&payload);
        pc.commit()?;
        drop(g);
        self.inner.reader.reload()?;
        self.inner.seq.store(seq, Ordering::SeqCst);
        Ok(())
    }

    /// Drops everything queued since the last commit (after a failed catch-up, so a retry
    /// starts from what is on disk).
    pub fn rollback(&self) -> SearchResult<()> {
        let mut g = match self.inner.writer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(w) = g.as_mut() {
            w.rollback()?;
        }
        Ok(())
    }

    /// Removes every document (for a rebuild); durable with the next commit.
    pub fn clear(&self) -> SearchResult<()> {
        let g = self.writer()?;
        if let Some(w) = g.as_ref() {
            w.delete_all_documents()?;
        }
        Ok(())
    }

    /// Closes the writer after letting background merges finish, so a freshly built index
    /// is left in few segments. Later writes open a new writer.
    pub fn finish_writes(&self) -> SearchResult<()> {
        let w = match self.inner.writer.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(w) = w {
            w.wait_merging_threads()?;
        }
        self.inner.reader.reload()?;
        Ok(())
    }

    /// Runs a search for `viewer`. Filters written in `q.text` (`sector:railway`) are
    /// honoured as well as those in `q.filters`.
    pub fn search(&self, q: &Query, viewer: &Viewer) -> SearchResult<SearchResults> {
        let extracted = Query::parse(&q.text, None)?;
        let mut filters = q.filters.clone();
        merge_filters(&mut filters, extracted.filters);
        let mut kinds = q.kinds.clone();
        kinds.extend(extracted.kinds);
        let parsed = ParsedText::new(&extracted.text);
        let f = &self.inner.fields;
        let tq = query::build(f, &parsed, &filters, &kinds, viewer)?;
        let searcher = self.searcher();
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let top = TopDocs::with_limit(limit).and_offset(q.offset);
        let sort = match q.sort {
            Sort::Relevance if parsed.include.is_empty() => Sort::Newest,
            s => s,
        };
        let (addrs, fruit): (Vec<(f32, DocAddress)>, _) = match sort {
            Sort::Relevance => {
                let (top, fruit) = searcher.search(&tq, &(top.order_by_score(), FacetCollector))?;
                (top, fruit)
            }
            Sort::Newest | Sort::Oldest => {
                let order = if sort == Sort::Newest {
                    Order::Desc
                } else {
                    Order::Asc
                };
                let (top, fruit) = searcher.search(
                    &tq,
                    &(top.order_by_fast_field::<i64>("at", order), FacetCollector),
                )?;
                (top.into_iter().map(|(_, a)| (0.0, a)).collect(), fruit)
            }
        };
        let mut hits = Vec::with_capacity(addrs.len());
        for (score, addr) in addrs {
            let doc: TantivyDocument = searcher.doc(addr)?;
            hits.push(hit_from(&doc, f, score, &parsed));
        }
        Ok(SearchResults {
            total: fruit.total,
            hits,
            facets: fruit.into_facets(),
        })
    }

    /// The stored document with this key (`report:12`, `case:3`), if indexed.
    pub(crate) fn stored(&self, key: &str) -> SearchResult<Option<TantivyDocument>> {
        let searcher = self.searcher();
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.inner.fields.key, key),
            tantivy::schema::IndexRecordOption::Basic,
        );
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, addr)) => Ok(Some(searcher.doc(*addr)?)),
            None => Ok(None),
        }
    }
}

fn merge_filters(into: &mut query::Filters, from: query::Filters) {
    // Taken apart whole, so a filter added to `Filters` cannot be left out here.
    let query::Filters {
        fiscal_year,
        occurred_year,
        sector,
        event_type,
        cause,
        severity,
        org,
        tlp,
        status,
        exclude,
    } = from;
    into.fiscal_year.extend(fiscal_year);
    into.occurred_year.extend(occurred_year);
    into.sector.extend(sector);
    into.event_type.extend(event_type);
    into.cause.extend(cause);
    into.severity.extend(severity);
    into.org.extend(org);
    into.tlp.extend(tlp);
    into.status.extend(status);
    into.exclude.extend(exclude);
}

pub(crate) fn text_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn texts_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> Vec<String> {
    doc.get_all(field)
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

pub(crate) fn meta_of(doc: &TantivyDocument, f: &Fields) -> DocMeta {
    DocMeta {
        fiscal_year: text_of(doc, f.fiscal_year).parse().ok(),
        sector: text_of(doc, f.sector),
        event_type: text_of(doc, f.event_type),
        causes: texts_of(doc, f.cause),
        severity: text_of(doc, f.severity).parse().ok(),
        org: text_of(doc, f.org).parse().ok(),
        tlp: text_of(doc, f.tlp),
        status: text_of(doc, f.status),
        at: doc
            .get_first(f.at)
            .and_then(|v| v.as_i64())
            .and_then(|s| DateTime::from_timestamp(s, 0)),
    }
}

pub(crate) fn kind_of(doc: &TantivyDocument, f: &Fields) -> DocKind {
    DocKind::parse(&text_of(doc, f.kind)).unwrap_or(DocKind::Report)
}

fn hit_from(doc: &TantivyDocument, f: &Fields, score: f32, parsed: &ParsedText) -> Hit {
    let title = text_of(doc, f.title);
    let body = text_of(doc, f.body);
    Hit {
        kind: kind_of(doc, f),
        id: doc.get_first(f.id).and_then(|v| v.as_i64()).unwrap_or(0),
        lesson_no: doc
            .get_first(f.lesson_no)
            .and_then(|v| v.as_u64())
            .and_then(|n| u32::try_from(n).ok()),
        case_id: doc.get_first(f.case_id).and_then(|v| v.as_i64()),
        score,
        title: highlight_all(&title, &parsed.include),
        snippet: snippet(&body, &parsed.include, SNIPPET_CHARS),
        meta: meta_of(doc, f),
    }
}

fn read_payload(index: &Index) -> Option<Payload> {
    index
        .load_metas()
        .ok()
        .and_then(|m| m.payload)
        .and_then(|p| serde_json::from_str(&p).ok())
}

fn busy_or(e: tantivy::TantivyError, dir: &Path) -> SearchError {
    match e {
        tantivy::TantivyError::LockFailure(..) => SearchError::Busy(dir.display().to_string()),
        e => SearchError::Index(e),
    }
}

/// Empties an index directory. Only called on a directory holding a tantivy index.
fn clear_dir(dir: &Path) -> SearchResult<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| SearchError::io(format!("reading {}", dir.display()), e))?;
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|e| SearchError::io(format!("removing {}", p.display()), e))?;
    }
    Ok(())
}
