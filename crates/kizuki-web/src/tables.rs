//! Table downloads: a header row and data rows sent as CSV (UTF-8 with a byte-order mark, so
//! Excel reads the Japanese, each cell made safe from formula injection) or as an XLSX
//! workbook (whole numbers as numbers, everything else as text, never as a formula).

use crate::error::WebError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// A table download's format, from the last segment of its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Xlsx,
}

impl TableFormat {
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Xlsx => "xlsx",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            TableFormat::Csv => "text/csv; charset=utf-8",
            TableFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// One CSV cell. A text a spreadsheet would read as a formula (leading `=`, `+`, `-`, `@`,
/// tab or carriage return: operators type titles and summaries) is prefixed with `'`, so the
/// reader's spreadsheet shows it as text instead of running it; quotes where the cell needs
/// them.
pub(crate) fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The rows as CSV text with a byte-order mark and CRLF line ends.
pub(crate) fn csv_text(rows: &[Vec<String>]) -> String {
    let mut body = String::from("\u{feff}");
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| csv_cell(c)).collect();
        body.push_str(&cells.join(","));
        body.push_str("\r\n");
    }
    body
}

/// A whole number written plainly (`42`, `-3`, `0`, not `007` or `1e3`), which a spreadsheet
/// should sum; anything else stays text.
fn whole_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let plain = !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    plain.then(|| s.parse::<f64>().ok()).flatten()
}

/// An XLSX workbook with a sheet per `(name, rows)`, each sheet's first row bold and frozen.
pub(crate) fn xlsx_book(sheets: &[(&str, &[Vec<String>])]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    for (name, rows) in sheets {
        let ws = book.add_worksheet();
        ws.set_name(*name)?;
        for (r, row) in rows.iter().enumerate() {
            let r = u32::try_from(r).map_err(|_| XlsxError::RowColumnLimitError)?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(|_| XlsxError::RowColumnLimitError)?;
                match (r, whole_number(cell)) {
                    (0, _) => ws.write_string_with_format(r, c, cell, &bold)?,
                    (_, Some(n)) => ws.write_number(r, c, n)?,
                    (_, None) => ws.write_string(r, c, cell)?,
                };
            }
        }
        ws.set_freeze_panes(1, 0)?;
        ws.autofit();
    }
    book.save_to_buffer()
}

fn workbook(stem: &str, sheets: &[(&str, &[Vec<String>])]) -> Result<Vec<u8>, WebError> {
    xlsx_book(sheets).map_err(|e| {
        WebError::from(kizuki_app::AppError::Internal(format!(
            "writing the {stem} workbook: {e}"
        )))
    })
}

fn respond(format: TableFormat, stem: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{}\"", format.extension()),
            ),
        ],
        body,
    )
        .into_response()
}

/// The rows as a download named `<stem>.<csv|xlsx>`, one sheet named `sheet`.
pub(crate) fn download(
    format: TableFormat,
    stem: &str,
    sheet: &str,
    rows: &[Vec<String>],
) -> Result<Response, WebError> {
    let body = match format {
        TableFormat::Csv => csv_text(rows).into_bytes(),
        TableFormat::Xlsx => workbook(stem, &[(sheet, rows)])?,
    };
    Ok(respond(format, stem, body))
}

/// Several tables as one download: an XLSX workbook with a sheet each, or one CSV file with
/// each table after a line naming it and a blank line between them.
pub(crate) fn download_sheets(
    format: TableFormat,
    stem: &str,
    sheets: &[(&str, &[Vec<String>])],
) -> Result<Response, WebError> {
    let body = match format {
        TableFormat::Csv => {
            let mut all: Vec<Vec<String>> = Vec::new();
            for (i, (name, rows)) in sheets.iter().enumerate() {
                if i > 0 {
                    all.push(Vec::new());
                }
                all.push(vec![(*name).to_owned()]);
                all.extend(rows.iter().cloned());
            }
            csv_text(&all).into_bytes()
        }
        TableFormat::Xlsx => workbook(stem, sheets)?,
    };
    Ok(respond(format, stem, body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_numbers_only_when_written_plainly() {
        assert_eq!(whole_number("42"), Some(42.0));
        assert_eq!(whole_number("-3"), Some(-3.0));
        assert_eq!(whole_number("0"), Some(0.0));
        for text in ["007", "1e3", "", "-", "2019年度", "1.5", "1234567890123456"] {
            assert_eq!(whole_number(text), None, "{text}");
        }
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        let text = csv_text(&[vec!["分野".into(), "x".into()]]);
        assert!(text.starts_with('\u{feff}'));
        assert!(text.ends_with("分野,x\r\n"));
    }
}
