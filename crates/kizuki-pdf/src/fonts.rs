//! Finding and loading a Japanese font at run time. Fonts are not shipped with kizuki: they come
//! from the system's packages (Debian: `fonts-ipaexfont-gothic` or `fonts-noto-cjk`).

use crate::PdfError;
use std::path::{Path, PathBuf};
use typst::foundations::Bytes;
use typst::text::{Font, FontWeight};

/// The Debian package to install when no Japanese font is found.
pub const FONT_PACKAGE: &str = "fonts-ipaexfont-gothic";

/// Where Debian and Ubuntu packages put Japanese Gothic fonts, best first; the files of the
/// first set found are used. IPAex Gothic is small (3 MB) and complete for Japanese; Noto Sans
/// CJK (56 MB) adds a real bold face.
pub const FONT_CANDIDATES: &[&[&str]] = &[
    &["/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"],
    &["/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf"],
    &[
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ],
    &["/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"],
    &["/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"],
    &["/usr/share/fonts/truetype/takao-gothic/TakaoGothic.ttf"],
];

/// The setting that names extra font files (separated by `:`), tried before the candidates,
/// for systems that keep fonts elsewhere; kizuki's configuration reads it (or `[report] fonts`)
/// and hands the files to [`PdfFonts::discover_in`].
pub const FONT_ENV: &str = "KIZUKI_PDF_FONTS";

/// Loaded fonts and what the template needs to know about them.
#[derive(Debug, Clone)]
pub struct PdfFonts {
    pub(crate) fonts: Vec<Font>,
    /// Family names, in preference order, for the template's `text(font: …)`.
    pub(crate) families: Vec<String>,
    /// Whether some loaded face is bold; without one the template thickens strokes instead.
    pub(crate) has_bold: bool,
    /// The files the fonts came from.
    pub paths: Vec<PathBuf>,
}

impl PdfFonts {
    /// Finds Japanese fonts in the usual package locations. Fails with a message naming the
    /// package to install if there are none.
    pub fn discover() -> Result<PdfFonts, PdfError> {
        PdfFonts::discover_in(&[])
    }

    /// Finds Japanese fonts: the `preferred` files first (when they load and cover Japanese),
    /// then the usual package locations.
    pub fn discover_in(preferred: &[PathBuf]) -> Result<PdfFonts, PdfError> {
        if !preferred.is_empty()
            && let Ok(fonts) = PdfFonts::from_paths(preferred)
        {
            return Ok(fonts);
        }
        for set in FONT_CANDIDATES {
            let existing: Vec<PathBuf> = set
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .collect();
            if existing.is_empty() {
                continue;
            }
            if let Ok(fonts) = PdfFonts::from_paths(&existing) {
                return Ok(fonts);
            }
        }
        Err(PdfError::NoJapaneseFont {
            searched: paths_or_candidates(&[]),
        })
    }

    /// Loads the given font files (TrueType, OpenType or collections). At least one must
    /// cover Japanese.
    pub fn from_paths(paths: &[PathBuf]) -> Result<PdfFonts, PdfError> {
        let mut fonts = Vec::new();
        let mut used = Vec::new();
        for p in paths {
            let before = fonts.len();
            load_file(p, &mut fonts);
            if fonts.len() > before {
                used.push(p.clone());
            }
        }
        PdfFonts::from_fonts(fonts, used)
    }

    /// Uses fonts already in memory (e.g. bundled by the caller): (name for messages, bytes).
    pub fn from_bytes(files: Vec<(String, Vec<u8>)>) -> Result<PdfFonts, PdfError> {
        let mut fonts = Vec::new();
        let mut used = Vec::new();
        for (name, data) in files {
            let before = fonts.len();
            fonts.extend(Font::iter(Bytes::new(data)));
            if fonts.len() > before {
                used.push(PathBuf::from(name));
            }
        }
        PdfFonts::from_fonts(fonts, used)
    }

    fn from_fonts(fonts: Vec<Font>, paths: Vec<PathBuf>) -> Result<PdfFonts, PdfError> {
        // 'あ' and '事' stand for kana and kanji; a Latin-only font cannot typeset the report.
        let japanese: Vec<Font> = fonts
            .into_iter()
            .filter(|f| {
                let cov = &f.info().coverage;
                cov.contains('あ' as u32) && cov.contains('事' as u32)
            })
            .collect();
        if japanese.is_empty() {
            return Err(PdfError::NoJapaneseFont {
                searched: paths_or_candidates(&paths),
            });
        }
        let mut families: Vec<String> = Vec::new();
        for f in &japanese {
            let fam = &f.info().family;
            if !families.iter().any(|x| x == fam) {
                families.push(fam.clone());
            }
        }
        // A CJK collection holds Japanese, Chinese and Korean families; Japanese glyph forms
        // must win.
        families.sort_by_key(|f| !f.contains("JP"));
        let has_bold = japanese
            .iter()
            .any(|f| f.info().variant.weight >= FontWeight::BOLD);
        Ok(PdfFonts {
            fonts: japanese,
            families,
            has_bold,
            paths,
        })
    }

    /// The font families found, in preference order.
    pub fn families(&self) -> &[String] {
        &self.families
    }
}

fn load_file(path: &Path, out: &mut Vec<Font>) {
    // An unreadable file is skipped like a missing one: the next candidate may do.
    if let Ok(data) = std::fs::read(path) {
        out.extend(Font::iter(Bytes::new(data)));
    }
}

fn paths_or_candidates(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        FONT_CANDIDATES
            .iter()
            .flat_map(|s| s.iter())
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
