//! What gets indexed: reports (with all their stages), cases (every section and lesson) and
//! each lesson on its own, flattened into [`IndexDoc`]s and then into tantivy documents.

use crate::access::{Audience, audience};
use crate::normalize::normalize;
use crate::schema::Fields;
use chrono::{DateTime, Utc};
use kizuki_domain::case::{Case, CaseContent, Lesson};
use kizuki_domain::clock::jst_date;
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::{OrgId, UserId};
use kizuki_domain::report::Report;
use kizuki_domain::taxonomy::Tlp;
use serde::{Deserialize, Serialize};
use tantivy::TantivyDocument;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Report,
    Case,
    Lesson,
}

impl DocKind {
    pub const ALL: [DocKind; 3] = [DocKind::Report, DocKind::Case, DocKind::Lesson];

    pub fn code(self) -> &'static str {
        match self {
            DocKind::Report => "report",
            DocKind::Case => "case",
            DocKind::Lesson => "lesson",
        }
    }

    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// One document as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDoc {
    pub kind: DocKind,
    /// Report id for reports, case id for cases and lessons.
    pub id: i64,
    /// 1-based lesson number, for lessons.
    pub lesson_no: Option<u32>,
    /// For a report, the case written from it; for a lesson, its case.
    pub case_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub fiscal_year: Option<i32>,
    pub occurred_year: Option<i32>,
    pub sector: String,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: Option<u8>,
    /// Owner organisation; `None` for the centre's own documents.
    pub org: Option<OrgId>,
    pub tlp: Tlp,
    pub status: String,
    /// Names of shared systems (共同利用型システム) involved.
    pub systems: Vec<String>,
    pub vendors: Vec<String>,
    pub at: Option<DateTime<Utc>>,
    /// For cases: their lessons.
    pub lessons: Vec<Lesson>,
    /// For reports: the organisations and people the owner shared it with.
    pub shared_with: Vec<OrgId>,
    pub recipients: Vec<UserId>,
    /// For cases and lessons: this is the published, anonymised snapshot, not the working
    /// text. The two are separate documents with separate audiences.
    pub published_copy: bool,
}

impl IndexDoc {
    /// The unique key of this document.
    pub fn key(&self) -> String {
        let key = match (self.kind, self.lesson_no) {
            (DocKind::Lesson, Some(n)) => format!("lesson:{}:{n}", self.id),
            (k, _) => format!("{}:{}", k.code(), self.id),
        };
        if self.published_copy {
            format!("pub:{key}")
        } else {
            key
        }
    }

    /// The group a change replaces: a report, or a case with its lessons.
    pub fn group(&self) -> String {
        match self.kind {
            DocKind::Report => report_group(self.id),
            DocKind::Case | DocKind::Lesson => case_group(self.id),
        }
    }

    /// A report with its stages.
    pub fn from_report(r: &Report) -> IndexDoc {
        let d = &r.details;
        let mut body: Vec<&str> = vec![&d.summary];
        if !d.affected_service.is_empty() {
            body.push(&d.affected_service);
        }
        if !d.impact.description.is_empty() {
            body.push(&d.impact.description);
        }
        for s in &r.stages {
            // The 第一報 often repeats the summary word for word; counting it twice would
            // only inflate those words' weight.
            if s.text.trim() != d.summary.trim() {
                body.push(&s.text);
            }
        }
        for s in &d.systems {
            body.push(&s.name);
        }
        for v in &d.vendors {
            body.push(v);
        }
        IndexDoc {
            kind: DocKind::Report,
            id: r.id.0,
            lesson_no: None,
            case_id: r.case_id.map(|c| c.0),
            title: d.title.clone(),
            body: body.join("\n"),
            fiscal_year: fiscal_year_of(r.reported_at),
            occurred_year: d.occurred_fiscal_year(),
            sector: d.sector.0.clone(),
            event_type: d.event_type.0.clone(),
            causes: d.causes.iter().map(|c| c.0.clone()).collect(),
            severity: d.severity.map(|s| s.level()),
            org: Some(r.org_id),
            tlp: d.tlp,
            status: r.status.code().to_owned(),
            systems: d
                .systems
                .iter()
                .filter(|s| s.shared)
                .map(|s| s.name.clone())
                .collect(),
            vendors: d
                .vendors
                .iter()
                .chain(d.systems.iter().filter_map(|s| s.vendor.as_ref()))
                .cloned()
                .collect(),
            at: Some(r.reported_at),
            lessons: Vec::new(),
            shared_with: Vec::new(),
            recipients: Vec::new(),
            published_copy: false,
        }
    }

    /// The same report with the sharing lists the store keeps beside it.
    pub fn with_sharing(self, orgs: &[OrgId], users: &[UserId]) -> IndexDoc {
        IndexDoc {
            shared_with: orgs.to_vec(),
            recipients: users.to_vec(),
            ..self
        }
    }

    /// A case and one document per lesson, as written (found by the centre only), and when
    /// `published` is given, the published snapshot as separate documents (found by everyone
    /// else). The case takes its sector, TLP and classification from the report it was
    /// written from; the published copy keeps no owner, system or vendor name, so neither a
    /// facet nor a filter can trace it back.
    pub fn from_case(
        c: &Case,
        report: Option<&Report>,
        published: Option<&CaseContent>,
    ) -> Vec<IndexDoc> {
        let mut out = Self::case_docs(c, &c.content, report, false);
        if let Some(p) = published {
            out.extend(Self::case_docs(c, p, report, true));
        }
        out
    }

    fn case_docs(
        c: &Case,
        content: &CaseContent,
        report: Option<&Report>,
        published_copy: bool,
    ) -> Vec<IndexDoc> {
        let full = content.full_text();
        // full_text starts with the title, which has its own field.
        let body = full
            .split_once('\n')
            .map_or(String::new(), |(_, rest)| rest.to_owned());
        let base = match report {
            Some(r) => IndexDoc::from_report(r),
            None => IndexDoc {
                kind: DocKind::Case,
                id: c.id.0,
                lesson_no: None,
                case_id: None,
                title: String::new(),
                body: String::new(),
                fiscal_year: None,
                occurred_year: None,
                sector: String::new(),
                event_type: String::new(),
                causes: Vec::new(),
                severity: None,
                org: None,
                tlp: Tlp::Amber,
                status: String::new(),
                systems: Vec::new(),
                vendors: Vec::new(),
                at: None,
                lessons: Vec::new(),
                shared_with: Vec::new(),
                recipients: Vec::new(),
                published_copy: false,
            },
        };
        let base = if published_copy {
            IndexDoc {
                org: None,
                systems: Vec::new(),
                vendors: Vec::new(),
                ..base
            }
        } else {
            base
        };
        let case = IndexDoc {
            kind: DocKind::Case,
            id: c.id.0,
            lesson_no: None,
            case_id: None,
            title: content.title.clone(),
            body,
            fiscal_year: c.survey_year.or(base.fiscal_year),
            status: "case".to_owned(),
            lessons: content.lessons.clone(),
            shared_with: Vec::new(),
            recipients: Vec::new(),
            published_copy,
            ..base
        };
        let mut out = Vec::with_capacity(1 + content.lessons.len());
        for (i, l) in content.lessons.iter().enumerate() {
            out.push(IndexDoc {
                kind: DocKind::Lesson,
                lesson_no: Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                case_id: Some(c.id.0),
                title: l.title.clone(),
                body: l.text.clone(),
                status: "lesson".to_owned(),
                lessons: Vec::new(),
                ..case.clone()
            });
        }
        out.insert(0, case);
        out
    }

    /// The audience tokens of this document (see [`crate::access`]).
    pub fn audience(&self) -> Vec<String> {
        let a = match (self.kind, self.org) {
            (DocKind::Report, Some(org)) => Audience::Report {
                org,
                sector: &self.sector,
                tlp: self.tlp,
                shared_with: &self.shared_with,
                recipients: &self.recipients,
                // No report is released to the public yet.
                published: false,
            },
            // A report always has an owner; without one nobody but the centre may find it.
            (DocKind::Report, None) => Audience::WorkingCase,
            _ if self.published_copy => Audience::PublishedCase,
            _ => Audience::WorkingCase,
        };
        audience(&a)
    }

    pub(crate) fn to_tantivy(&self, f: &Fields) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(f.key, self.key());
        d.add_text(f.group, self.group());
        d.add_text(f.kind, self.kind.code());
        d.add_i64(f.id, self.id);
        if let Some(n) = self.lesson_no {
            d.add_u64(f.lesson_no, u64::from(n));
        }
        if let Some(c) = self.case_id {
            d.add_i64(f.case_id, c);
        }
        d.add_text(f.title, &self.title);
        d.add_text(f.body, &self.body);
        if let Some(fy) = self.fiscal_year {
            d.add_text(f.fiscal_year, fy.to_string());
        }
        if let Some(fy) = self.occurred_year {
            d.add_text(f.occurred_year, fy.to_string());
        }
        let mut keyword = |field, v: &str| {
            if !v.is_empty() {
                d.add_text(field, v);
            }
        };
        keyword(f.sector, &self.sector);
        keyword(f.event_type, &self.event_type);
        for c in &self.causes {
            keyword(f.cause, c);
        }
        if let Some(s) = self.severity {
            keyword(f.severity, &s.to_string());
        }
        if let Some(o) = self.org {
            keyword(f.org, &o.0.to_string());
        }
        keyword(f.tlp, self.tlp.code());
        keyword(f.status, &self.status);
        for s in &self.systems {
            keyword(f.system, &normalize(s));
        }
        for v in &self.vendors {
            if !is_anonymised_label(v) {
                keyword(f.vendor, &normalize(v));
            }
        }
        for a in self.audience() {
            keyword(f.audience, &a);
        }
        if let Some(at) = self.at {
            d.add_i64(f.at, at.timestamp());
        }
        if !self.lessons.is_empty()
            && let Ok(json) = serde_json::to_string(&self.lessons)
        {
            d.add_text(f.lessons, json);
        }
        d
    }
}

pub(crate) fn report_group(id: i64) -> String {
    format!("report:{id}")
}

pub(crate) fn case_group(id: i64) -> String {
    format!("case:{id}")
}

pub(crate) fn fiscal_year_of(at: DateTime<Utc>) -> Option<i32> {
    FiscalYear::of(jst_date(at)).ok().map(FiscalYear::year)
}

/// Anonymised vendor labels (システムベンダA, 委託先B) name a different company in every
/// case, so two cases sharing one says nothing.
pub fn is_anonymised_label(name: &str) -> bool {
    let n = normalize(name);
    let mut chars = n.chars().rev();
    match (chars.next(), chars.next()) {
        (Some(last), Some(before)) => last.is_ascii_alphabetic() && !before.is_ascii(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymised_vendor_labels() {
        assert!(is_anonymised_label("システムベンダA"));
        assert!(is_anonymised_label("委託先Ｂ"));
        assert!(!is_anonymised_label("東和システム"));
        assert!(!is_anonymised_label("Contoso"));
    }
}
