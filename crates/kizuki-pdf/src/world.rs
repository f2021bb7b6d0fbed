//! The typst "world" the report is compiled in: the template as the main file, the model as
//! `/model.json`, the loaded fonts, and nothing else — no file system, no packages, no clock.

use crate::PdfError;
use crate::fonts::PdfFonts;
use std::fmt;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

const TEMPLATE: &str = include_str!("report.typ");
const MAIN_PATH: &str = "/report.typ";
const MODEL_PATH: &str = "/model.json";

/// What stays the same from one report to the next.
pub(crate) struct Base {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main_id: FileId,
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
            main_id: id(MAIN_PATH)?,
            model_id: id(MODEL_PATH)?,
        })
    }
}

/// One compilation: the base plus this report's model.
pub(crate) struct ReportWorld<'a> {
    base: &'a Base,
    main: Source,
    model: Bytes,
}

impl<'a> ReportWorld<'a> {
    pub(crate) fn new(base: &'a Base, model_json: Vec<u8>) -> ReportWorld<'a> {
        ReportWorld {
            base,
            main: Source::new(base.main_id, TEMPLATE.to_owned()),
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
        self.base.main_id
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.base.main_id {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.base.model_id {
            Ok(self.model.clone())
        } else if id == self.base.main_id {
            Ok(Bytes::from_string(self.main.text().to_owned()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.base.fonts.get(index).cloned()
    }

    /// No clock: a report must not depend on the day it is rendered.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}
