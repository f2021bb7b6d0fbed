//! Bulk intake of reports from CSV files through a column mapping (TOML), e.g. JPCERT/CC's
//! confirmed phishing-site lists as phishing reports.
//!
//! Every row is read and checked before the first write; an error names the file, the line,
//! the report field and the column it came from. URLs can be stored defanged
//! (`hxxps://example[.]com/`): inert text that no viewer, renderer or mail client turns into
//! a link, and that search still finds by its words (`example.com`). Nothing is ever fetched.
//! The reports are filed through [`reports::file_prepared`], the one way reports are stored,
//! and a missing organisation is added through [`accounts::add_org`], so the importer follows
//! the same rules (and leaves the same audit entry) as any other way in.
//!
//! ```toml
//! [organisation]            # whose reports these become; created when missing
//! key = "jpcert-phishurl"
//! name = "JPCERT/CC フィッシングサイト情報（取込）"
//! sector = "telecom"
//!
//! [report]                  # fixed values for every row
//! sector = "telecom"
//! event_type = "precursor"
//! causes = ["suspicious-site"]
//! tlp = "clear"
//! severity = 0
//!
//! [columns]                 # templates over the header's column names
//! reported_at = { column = "date", format = "%Y/%m/%d %H:%M:%S", utc_offset = "+09:00" }
//! title = "フィッシングサイト（{description}）"
//! summary = "なりすまし対象: {description}\nURL（無害化）: {URL:defang}"
//! ```

use crate::App;
use crate::accounts::{self, OrgRequest};
use crate::error::{AppError, AppResult};
use crate::reports;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use kizuki_domain::ids::OrgId;
use kizuki_domain::org::OrgKind;
use kizuki_domain::report::{ReportInput, StageKind};
use kizuki_domain::taxonomy::Taxonomy;
use kizuki_store::{NewReport, NewStage};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub organisation: OrgSpec,
    #[serde(default)]
    pub report: Fixed,
    pub columns: Columns,
    #[serde(default)]
    pub csv: CsvSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sector: Option<String>,
    /// Create the organisation when the directory lacks it (default true).
    #[serde(default = "yes")]
    pub create: bool,
}

fn yes() -> bool {
    true
}

/// Values every imported report gets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixed {
    #[serde(default)]
    pub sector: String,
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub tlp: String,
    #[serde(default)]
    pub severity: Option<i64>,
    #[serde(default)]
    pub region: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub reported_at: DateColumn,
    pub title: String,
    pub summary: String,
    #[serde(default)]
    pub affected_service: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateColumn {
    pub column: String,
    /// chrono format, e.g. `%Y/%m/%d %H:%M:%S`; a date-only format means midnight.
    pub format: String,
    /// The offset the times are written in (JST by default).
    #[serde(default = "jst_offset")]
    pub utc_offset: String,
}

fn jst_offset() -> String {
    "+09:00".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    #[serde(default = "comma")]
    pub delimiter: char,
}

impl Default for CsvSpec {
    fn default() -> Self {
        CsvSpec { delimiter: ',' }
    }
}

fn comma() -> char {
    ','
}

impl Mapping {
    pub fn load(path: &Path) -> AppResult<Mapping> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::io(format!("reading {}", path.display()), e))?;
        toml::from_str(&text)
            .map_err(|e| AppError::Refused(format!("{}: {}", path.display(), e.message())))
    }
}

/// One problem in the input, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// The report field.
    pub field: String,
    /// The CSV column it was read from, when there is one.
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: field {}", self.file, self.line, self.field)?;
        if let Some(c) = &self.column {
            write!(f, " (column \"{c}\")")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    Checked { rows: u64 },
    Written { rows: u64, of: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub files: usize,
    pub rows: u64,
    pub written: u64,
    /// Rows skipped (only with `skip_invalid`).
    pub skipped: Vec<RowError>,
    pub created_org: bool,
}

/// The CSV files under `paths` (a file, or every `*.csv` below a directory), sorted.
pub fn csv_files(paths: &[PathBuf]) -> AppResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect_csv(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    Ok(out)
}

fn collect_csv(dir: &Path, out: &mut Vec<PathBuf>) -> AppResult<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| AppError::io(format!("reading {}", dir.display()), e))?;
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            collect_csv(&p, out)?;
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Replaces the scheme and the dots of a URL's host so nothing treats it as a link:
/// `https://a.example.com/x.html` → `hxxps://a[.]example[.]com/x.html`.
pub fn defang(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    let mut out = String::with_capacity(url.len() + 8);
    if let Some(s) = scheme {
        out.push_str(&s.replacen("http", "hxxp", 1).replacen("HTTP", "hxxp", 1));
        out.push_str("://");
    }
    out.push_str(&host.replace('.', "[.]"));
    out.push_str(path);
    out
}

/// A `{column}` / `{column:defang}` template, checked against the header.
#[derive(Debug, Clone)]
struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Column { index: usize, defang: bool },
}

impl Template {
    fn parse(field: &str, t: &str, header: &HashMap<String, usize>) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            parts.push(Part::Text(rest[..open].to_owned()));
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("mapping: {field}: '{{' without '}}'"))?
                + open;
            let spec = &rest[open + 1..close];
            let (name, filter) = match spec.rsplit_once(':') {
                Some((n, f)) => (n, Some(f)),
                None => (spec, None),
            };
            let index = *header.get(name).ok_or_else(|| {
                format!("mapping: {field}: column \"{name}\" is not in the header")
            })?;
            let defang = match filter {
                None => false,
                Some("defang") => true,
                Some(f) => {
                    return Err(format!(
                        "mapping: {field}: unknown filter \"{f}\" (only defang)"
                    ));
                }
            };
            parts.push(Part::Column { index, defang });
            rest = &rest[close + 1..];
        }
        parts.push(Part::Text(rest.to_owned()));
        Ok(Template { parts })
    }

    fn render(&self, row: &csv::StringRecord) -> Result<String, usize> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Column { index, defang: d } => {
                    let v = row.get(*index).ok_or(*index)?.trim();
                    if *d {
                        out.push_str(&defang(v));
                    } else {
                        out.push_str(v);
                    }
                }
            }
        }
        Ok(out)
    }

    fn columns<'a>(&'a self, names: &'a [String]) -> Vec<&'a str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Column { index, .. } => names.get(*index).map(String::as_str),
                Part::Text(_) => None,
            })
            .collect()
    }
}

/// Rows read and checked, ready to write.
#[derive(Debug)]
pub struct Prepared {
    pub reports: Vec<NewReport>,
    pub errors: Vec<RowError>,
    pub files: usize,
    pub rows: u64,
}

/// Reads and checks every row of `files`. Rows with errors are left out and listed.
pub fn prepare(
    files: &[PathBuf],
    m: &Mapping,
    tx: &Taxonomy,
    progress: &mut dyn FnMut(ImportProgress),
) -> AppResult<Prepared> {
    let offset: FixedOffset = m.columns.reported_at.utc_offset.parse().map_err(|_| {
        AppError::Refused(format!(
            "mapping: reported_at.utc_offset \"{}\" is not like +09:00",
            m.columns.reported_at.utc_offset
        ))
    })?;
    let mut out = Prepared {
        reports: Vec::new(),
        errors: Vec::new(),
        files: files.len(),
        rows: 0,
    };
    for path in files {
        let file = path.display().to_string();
        let mut rd =
            csv::ReaderBuilder::new()
                .delimiter(u8::try_from(m.csv.delimiter).map_err(|_| {
                    AppError::Refused("mapping: csv.delimiter must be ASCII".into())
                })?)
                .flexible(true)
                .from_path(path)
                .map_err(|e| AppError::Refused(format!("{file}: {e}")))?;
        let names: Vec<String> = rd
            .headers()
            .map_err(|e| AppError::Refused(format!("{file}:1: {e}")))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
            .collect();
        let header: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let located = |e: String| AppError::Refused(format!("{file}:1: {e}"));
        let date_ix = *header.get(&m.columns.reported_at.column).ok_or_else(|| {
            located(format!(
                "mapping: reported_at: column \"{}\" is not in the header ({})",
                m.columns.reported_at.column,
                names.join(", ")
            ))
        })?;
        let title = Template::parse("title", &m.columns.title, &header).map_err(located)?;
        let summary = Template::parse("summary", &m.columns.summary, &header).map_err(located)?;
        let service = m
            .columns
            .affected_service
            .as_deref()
            .map(|t| Template::parse("affected_service", t, &header))
            .transpose()
            .map_err(located)?;
        let mut record = csv::StringRecord::new();
        loop {
            let more = match rd.read_record(&mut record) {
                Ok(more) => more,
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line);
                    out.errors.push(RowError {
                        file: file.clone(),
                        line,
                        field: "row".into(),
                        column: None,
                        message: e.to_string(),
                    });
                    // A broken record cannot be resynchronised reliably; stop this file.
                    break;
                }
            };
            if !more {
                break;
            }
            out.rows += 1;
            let line = record.position().map_or(0, csv::Position::line);
            let err = |field: &str, column: Option<&str>, message: String| RowError {
                file: file.clone(),
                line,
                field: field.to_owned(),
                column: column.map(str::to_owned),
                message,
            };
            let date_text = record.get(date_ix).unwrap_or("").trim();
            let reported_at = match parse_time(date_text, &m.columns.reported_at.format, offset) {
                Some(t) => t,
                None => {
                    out.errors.push(err(
                        "reported_at",
                        Some(&m.columns.reported_at.column),
                        format!(
                            "\"{date_text}\" does not match {}",
                            m.columns.reported_at.format
                        ),
                    ));
                    continue;
                }
            };
            let render = |t: &Template, field: &str| {
                t.render(&record).map_err(|ix| {
                    err(
                        field,
                        names.get(ix).map(String::as_str),
                        "the row has no such column".into(),
                    )
                })
            };
            let (t, s, a) = match (
                render(&title, "title"),
                render(&summary, "summary"),
                service
                    .as_ref()
                    .map(|x| render(x, "affected_service"))
                    .transpose(),
            ) {
                (Ok(t), Ok(s), Ok(a)) => (t, s, a),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                    out.errors.push(e);
                    continue;
                }
            };
            let input = ReportInput {
                title: t,
                sector: m.report.sector.clone(),
                region: m.report.region.clone(),
                affected_service: a.unwrap_or_default(),
                event_type: m.report.event_type.clone(),
                causes: m.report.causes.clone(),
                severity: m.report.severity,
                tlp: m.report.tlp.clone(),
                summary: s.clone(),
                ..ReportInput::default()
            };
            match input.parse(tx) {
                Ok(details) => out.reports.push(NewReport {
                    // Filled in once the organisation is known.
                    org_id: OrgId(0),
                    details,
                    first: NewStage {
                        kind: StageKind::First,
                        at: reported_at,
                        text: s,
                        author: None,
                    },
                }),
                Err(errs) => {
                    for e in errs.iter() {
                        let column = match e.field.as_str() {
                            "title" => title.columns(&names).first().copied(),
                            "summary" => summary.columns(&names).first().copied(),
                            _ => None,
                        };
                        out.errors.push(err(&e.field, column, e.to_string()));
                    }
                }
            }
            if out.rows.is_multiple_of(10_000) {
                progress(ImportProgress::Checked { rows: out.rows });
            }
        }
    }
    progress(ImportProgress::Checked { rows: out.rows });
    Ok(out)
}

fn parse_time(text: &str, format: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    local
        .and_local_timezone(offset)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Reports written per store transaction by [`write()`]: large enough that the commit's fsync
/// is negligible, small enough that progress moves and memory per transaction stays small.
pub const IMPORT_CHUNK: usize = 2_000;

/// Writes prepared reports for the mapping's organisation (adding it when allowed), in
/// transactions of [`IMPORT_CHUNK`] reports.
pub async fn write(
    app: &App,
    m: &Mapping,
    prepared: Prepared,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> AppResult<ImportSummary> {
    write_chunked(app, m, prepared, IMPORT_CHUNK, progress).await
}

/// The mapping's organisation and whether it was added now. One that exists is found by its
/// key alone: the key is what the mapping names, and it never changes.
async fn organisation(app: &App, m: &Mapping) -> AppResult<(OrgId, bool)> {
    if let Some(o) = accounts::org_with_key(app, &m.organisation.key).await? {
        return Ok((o.id, false));
    }
    if !m.organisation.create {
        return Err(AppError::Refused(format!(
            "organisation \"{}\" does not exist (set organisation.create = true to create it)",
            m.organisation.key
        )));
    }
    let req = OrgRequest {
        name: m
            .organisation
            .name
            .clone()
            .unwrap_or_else(|| m.organisation.key.clone()),
        kind: OrgKind::Operator.code().to_owned(),
        sectors: vec![
            m.organisation
                .sector
                .clone()
                .unwrap_or_else(|| m.report.sector.clone()),
        ],
        key: Some(m.organisation.key.clone()),
        region: None,
    };
    match accounts::add_org(app, &req).await {
        Ok(o) => Ok((o.id, true)),
        Err(AppError::Validation(e)) => {
            Err(AppError::Refused(format!("mapping: organisation: {e}")))
        }
        Err(e) => Err(e),
    }
}

async fn write_chunked(
    app: &App,
    m: &Mapping,
    prepared: Prepared,
    chunk_size: usize,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> AppResult<ImportSummary> {
    let (org, created_org) = organisation(app, m).await?;
    let total = prepared.reports.len() as u64;
    let mut written = 0u64;
    let mut batch = prepared.reports;
    for r in &mut batch {
        r.org_id = org;
    }
    // One transaction (one fsync) per chunk instead of per report: the durable commit, not
    // the inserts, was what limited the import. A failing chunk stores nothing of itself;
    // the chunks before it stay, as single reports did before.
    let mut rest = batch.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<NewReport> = rest.by_ref().take(chunk_size.max(1)).collect();
        written += reports::file_prepared(app, chunk).await?.len() as u64;
        progress(ImportProgress::Written {
            rows: written,
            of: total,
        });
    }
    Ok(ImportSummary {
        files: prepared.files,
        rows: prepared.rows,
        written,
        skipped: prepared.errors,
        created_org,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_defanged_but_keep_their_words() {
        assert_eq!(
            defang("https://www2.amazon.co.jp.4a5f.online/a.php?x=1.2"),
            "hxxps://www2[.]amazon[.]co[.]jp[.]4a5f[.]online/a.php?x=1.2"
        );
        assert_eq!(defang("mysp.ac/4KL8k"), "mysp[.]ac/4KL8k");
        let words: Vec<String> =
            kizuki_search::analysis::index_tokens(&defang("http://www.amazon-verificationn.com/"))
                .into_iter()
                .map(|t| t.text)
                .collect();
        assert_eq!(words, vec!["hxxp", "www", "amazon", "verificationn", "com"]);
    }

    fn mapping() -> Mapping {
        toml::from_str(
            r#"
            [organisation]
            key = "phish"
            [report]
            sector = "telecom"
            event_type = "precursor"
            causes = ["suspicious-site"]
            tlp = "clear"
            [columns]
            reported_at = { column = "date", format = "%Y/%m/%d %H:%M:%S" }
            title = "フィッシングサイト（{description}）"
            summary = "対象: {description} URL: {URL:defang}"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn errors_name_line_field_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(
            &f,
            "date,URL,description\n\
             2019/01/04 10:12:00,http://a.example/,Netflix\n\
             2019/13/04 10:12:00,http://b.example/,Netflix\n\
             2019/01/05 10:12:00,\"http://c.example/,x\",\"Brand, Inc.\"\n",
        )
        .unwrap();
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let p = prepare(&[f], &mapping(), &tx, &mut |_| {}).unwrap();
        assert_eq!(p.rows, 3);
        assert_eq!(p.reports.len(), 2);
        assert_eq!(p.errors.len(), 1);
        let e = &p.errors[0];
        assert_eq!(
            (e.line, e.field.as_str(), e.column.as_deref()),
            (3, "reported_at", Some("date"))
        );
        assert!(e.to_string().contains("a.csv:3"), "{e}");
        let r = &p.reports[1];
        assert_eq!(r.details.title, "フィッシングサイト（Brand, Inc.）");
        assert!(
            r.details.summary.contains("hxxp://c[.]example/,x"),
            "{}",
            r.details.summary
        );
        assert_eq!(
            r.first.at.to_rfc3339(),
            "2019-01-05T01:12:00+00:00",
            "JST to UTC"
        );
    }

    #[tokio::test]
    async fn reports_are_written_in_chunks_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        let mut text = String::from("date,URL,description\n");
        for i in 0..5 {
            text.push_str(&format!(
                "2019/01/0{} 10:12:00,http://{i}.example/,B{i}\n",
                i + 1
            ));
        }
        std::fs::write(&f, text).unwrap();
        let (app, _db) = crate::test_support::empty("2020-02-01T09:00:00+09:00", 1).await;
        let mut m = mapping();
        m.organisation.create = true;
        let p = prepare(&[f], &m, &app.taxonomy, &mut |_| {}).unwrap();
        let mut seen = Vec::new();
        let s = write_chunked(&app, &m, p, 2, &mut |p| seen.push(p))
            .await
            .unwrap();
        assert_eq!(s.written, 5);
        assert!(s.created_org, "the mapping's organisation is added");
        let steps: Vec<u64> = seen
            .iter()
            .map(|p| match p {
                ImportProgress::Written { rows, of } => {
                    assert_eq!(*of, 5);
                    *rows
                }
                ImportProgress::Checked { .. } => 0,
            })
            .collect();
        assert_eq!(steps, vec![2, 4, 5], "one step per chunk of two");
        let mut titles = Vec::new();
        for c in app.store.changes_since(0, 100).await.unwrap() {
            if c.entity == kizuki_store::Entity::Report {
                let r = app
                    .store
                    .get_report(kizuki_domain::ids::ReportId(c.id))
                    .await
                    .unwrap();
                titles.push(r.details.title);
            }
        }
        let want: Vec<String> = (0..5)
            .map(|i| format!("フィッシングサイト（B{i}）"))
            .collect();
        assert_eq!(titles, want, "every row once, in file order");
    }

    #[test]
    fn a_mapping_naming_a_missing_column_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "when,URL,description\n2019/01/04 10:12:00,x,y\n").unwrap();
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let e = prepare(&[f], &mapping(), &tx, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("column \"date\""), "{e}");
    }
}
