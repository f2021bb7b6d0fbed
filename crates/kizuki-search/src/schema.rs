//! The index schema: one tantivy document per report, per case and per lesson, with the
//! text fields that are searched, the keyword fields that filter and count, and the
//! audience tokens that decide who may see the document.

use crate::analysis::{KizukiTokenizer, TOKENIZER};
use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

/// Bumped whenever the schema, the analysis or the audience rules change; an index built by
/// another version is rebuilt from the store on open.
pub const SCHEMA_VERSION: u32 = 7;

/// Handles to every field, looked up once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `report:12`, `case:3`, `lesson:3:1`; unique per document.
    pub key: Field,
    /// What a change replaces as a whole: `report:12`, or `case:3` for a case and its lessons.
    pub group: Field,
    pub kind: Field,
    /// The report or case id.
    pub id: Field,
    /// For lessons, the 1-based number within the case.
    pub lesson_no: Field,
    /// The case a report was written up as, or a lesson belongs to.
    pub case_id: Field,
    pub title: Field,
    pub body: Field,
    pub fiscal_year: Field,
    /// 年度 of the incident's occurrence (reports, and cases through their report).
    pub occurred_year: Field,
    pub sector: Field,
    pub event_type: Field,
    pub cause: Field,
    pub severity: Field,
    pub org: Field,
    pub tlp: Field,
    pub status: Field,
    /// Normalised names of shared systems (共同利用型システム).
    pub system: Field,
    /// Normalised vendor names (anonymised labels such as システムベンダA are left out).
    pub vendor: Field,
    /// Who may see the document; see [`crate::access`].
    pub audience: Field,
    /// Unix seconds: when the report reached the centre (cases: when their report did).
    pub at: Field,
    /// JSON of the case's lessons, for showing beside similar items.
    pub lessons: Field,
}

/// Keyword fields that are counted as facets, in display order, with the names used in
/// query syntax and in results.
pub const FACET_FIELDS: [&str; 8] = [
    "fiscal_year",
    "sector",
    "event_type",
    "cause",
    "severity",
    "org",
    "tlp",
    "kind",
];

pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let keyword = STRING | FAST | STORED;
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        group: b.add_text_field("group", STRING),
        kind: b.add_text_field("kind", keyword.clone()),
        id: b.add_i64_field("id", INDEXED | FAST | STORED),
        lesson_no: b.add_u64_field("lesson_no", STORED),
        case_id: b.add_i64_field("case_id", INDEXED | STORED),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
        fiscal_year: b.add_text_field("fiscal_year", keyword.clone()),
        occurred_year: b.add_text_field("occurred_year", keyword.clone()),
        sector: b.add_text_field("sector", keyword.clone()),
        event_type: b.add_text_field("event_type", keyword.clone()),
        cause: b.add_text_field("cause", keyword.clone()),
        severity: b.add_text_field("severity", keyword.clone()),
        org: b.add_text_field("org", keyword.clone()),
        tlp: b.add_text_field("tlp", keyword.clone()),
        status: b.add_text_field("status", keyword),
        system: b.add_text_field("system", STRING | FAST | STORED),
        vendor: b.add_text_field("vendor", STRING | FAST | STORED),
        audience: b.add_text_field("audience", STRING),
        at: b.add_i64_field("at", FAST | STORED),
        lessons: b.add_text_field("lessons", STORED),
    };
    (b.build(), fields)
}

impl Fields {
    /// The keyword field behind a facet or filter name.
    pub fn by_facet(&self, name: &str) -> Option<Field> {
        Some(match name {
            "fiscal_year" => self.fiscal_year,
            "occurred_year" => self.occurred_year,
            "sector" => self.sector,
            "event_type" => self.event_type,
            "cause" => self.cause,
            "severity" => self.severity,
            "org" => self.org,
            "tlp" => self.tlp,
            "kind" => self.kind,
            "status" => self.status,
            _ => return None,
        })
    }
}

/// Registers kizuki's analyser on an opened or created index (tantivy does not persist
/// tokenizers, so every open must do this).
pub fn register_tokenizer(index: &Index) {
    index
        .tokenizers()
        .register(TOKENIZER, KizukiTokenizer::default());
}
