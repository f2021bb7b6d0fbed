//! The typst "world" a PDF is compiled in: one of the fixed templates as the main file, its
//! input as `/model.json`, the loaded fonts, and nothing else — no file system, no packages,
//! no clock.

use crate::PdfError;
use crate::fonts::PdfFonts;
use std::fmt;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

const MODEL_PATH: &str = "/model.json";

/// The templates compiled into the crate; each reads `/model.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Template {
    /// The annual report (`report.typ`), input `{ model: ReportModel, fonts, fake_bold }`.
    Report,
    /// A plain document (`document.typ`), input `{ model: Document, fonts, fake_bold }`.
    Document,
}

impl Template {
    fn text(self) -> &'static str {
        match self {
            Template::Report => include_str!("report.typ"),
            Template::Document => include_str!("document.typ"),
        }
    }

    /// Each template has a path of its own, so typst's diagnostics name the right file.
    fn path(self) -> &'static str {
        match self {
            Template::Report => "/report.typ",
            Template::Document => "/document.typ",
        }
    }
}

/// What stays the same from one report to the next.
pub(crate) struct Base {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    report_id: FileId,
    document_id: FileId,
    model_id: FileId,
}

impl fmt::Debug for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Base")
            .field("fonts", &self.fonts.len())
            .finish_non_exhaustive()
    }
}

fn file_id(path: &str) -> Option<FileId> {
    let vpath = VirtualPath::new(path).ok()?;
    Some(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

impl Base {
    pub(crate) fn new(fonts: &PdfFonts) -> Result<Base, PdfError> {
        let id =
            |p: &str| file_id(p).ok_or_else(|| PdfError::Typeset(format!("bad template path {p}")));
        Ok(Base {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts.fonts)),
            fonts: fonts.fonts.clone(),
            report_id: id(Template::Report.path())?,
            document_id: id(Template::Document.path())?,
            model_id: id(MODEL_PATH)?,
        })
    }

    fn main_id(&self, template: Template) -> FileId {
        match template {
            Template::Report => self.report_id,
            Template::Document => self.document_id,
        }
    }
}

/// One compilation: the base, the template to typeset, and its input.
pub(crate) struct ReportWorld<'a> {
    base: &'a Base,
    main_id: FileId,
    main: Source,
    model: Bytes,
}

impl<'a> ReportWorld<'a> {
    pub(crate) fn new(base: &'a Base, template: Template, model_json: Vec<u8>) -> ReportWorld<'a> {
        let main_id = base.main_id(template);
        ReportWorld {
            base,
            main_id,
            main: Source::new(main_id, template.text().to_owned()),
            model: Bytes::new(model_json),
        }
    }
}

impl World for ReportWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.base.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.base.book
    }

    fn main(&self) -> FileId {
        self.main_id
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main_id {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.base.model_id {
            Ok(self.model.clone())
        } else if id == self.main_id {
            Ok(Bytes::from_string(self.main.text().to_owned()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.base.fonts.get(index).cloned()
    }

    /// No clock: a PDF must not depend on the day it is rendered.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}
