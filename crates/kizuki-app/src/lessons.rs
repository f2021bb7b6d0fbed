//! The lessons catalog: lesson themes kept by the centre's editors, lessons of cases and
//! survey years tagged with them, suggestions for tagging, and one page per theme with every
//! lesson the viewer may read across years.

use crate::auth::{self, Principal};
use crate::error::AppResult;
use crate::security::{audit, audit_log};
use crate::{App, survey::cases};
use kizuki_domain::access::{Action, Viewer};
use kizuki_domain::case::Case;
use kizuki_domain::lessons::{LessonRef, Suggestion, Theme, ThemeInput, ThemeKey, suggest};
use kizuki_domain::survey::Survey;
use kizuki_domain::taxonomy::Code;
use kizuki_domain::user::Role;
use kizuki_store::{StoreError, StoredTheme};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A theme with the number of lessons under it that the viewer may read.
#[derive(Debug, Clone, Serialize)]
pub struct ThemeSummary {
    pub stored: StoredTheme,
    pub case_lessons: usize,
    pub common_lessons: usize,
}

/// A case's lesson in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseLesson {
    pub lesson: String,
    pub case_id: i64,
    pub survey_year: Option<i32>,
    pub case_number: u32,
    pub case_title: String,
    pub category: Code,
    /// The sector of the report the case was written from, when the viewer may read that
    /// report.
    pub sector: Option<Code>,
    pub title: String,
    pub text: String,
    /// Every theme of the lesson, this one included.
    pub themes: Vec<String>,
}

/// A survey year's common lesson in the catalog, with the cases it draws on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearLesson {
    pub lesson: String,
    pub year: i32,
    pub number: u32,
    pub category: Code,
    pub title: String,
    pub text: String,
    /// The cases it cites, by number within its survey, with their titles where the viewer
    /// may read them.
    pub cases: Vec<(u32, Option<String>)>,
    pub themes: Vec<String>,
}

/// What the catalog page of a theme may be narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFilter {
    pub sector: Option<String>,
    pub category: Option<String>,
    pub year: Option<i32>,
}

/// One theme's page: its lessons across cases and years.
#[derive(Debug, Clone, Serialize)]
pub struct ThemeCatalog {
    pub theme: StoredTheme,
    pub case_lessons: Vec<CaseLesson>,
    pub common_lessons: Vec<YearLesson>,
    /// The survey years with a lesson under this theme, newest first (for the filter).
    pub years: Vec<i32>,
}

/// A lesson as it stands, for the tagging form.
#[derive(Debug, Clone, Serialize)]
pub struct TaggedLesson {
    pub lesson: String,
    pub title: String,
    pub text: String,
    pub themes: Vec<String>,
    pub suggestions: Vec<Suggestion>,
}

/// Why a case's lesson is shown beside a report or on an operator's dashboard: what the
/// report (or the organisation's reports) shares with the report the case was written from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Why {
    pub same_sector: Option<Code>,
    pub same_event_type: Option<Code>,
    pub shared_causes: Vec<Code>,
    /// Systems of the same name, named only when the viewer may read the case's report.
    pub shared_systems: Vec<String>,
}

impl Why {
    fn weight(&self) -> usize {
        usize::from(self.same_sector.is_some())
            + 2 * usize::from(self.same_event_type.is_some())
            + 2 * self.shared_causes.len()
            + 4 * self.shared_systems.len()
    }
}

/// A tagged lesson that applies, with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct Applying {
    pub lesson: CaseLesson,
    pub why: Why,
}

/// The most lessons shown beside one report or on a dashboard.
const MAX_APPLYING: usize = 8;
/// How many of an organisation's latest reports describe it for the dashboard's lessons.
const PROFILE_REPORTS: u32 = 50;

/// What lessons are matched against: one report, or an organisation and its latest reports.
#[derive(Debug, Clone, Default)]
struct Profile {
    /// The report itself, whose own case is not shown beside it.
    report: Option<kizuki_domain::ids::ReportId>,
    sectors: Vec<Code>,
    event_types: Vec<Code>,
    causes: Vec<Code>,
    systems: Vec<String>,
}

impl Profile {
    fn add(&mut self, d: &kizuki_domain::report::ReportDetails) {
        let push = |v: &mut Vec<Code>, c: &Code| {
            if !v.contains(c) {
                v.push(c.clone());
            }
        };
        push(&mut self.sectors, &d.sector);
        push(&mut self.event_types, &d.event_type);
        for c in &d.causes {
            push(&mut self.causes, c);
        }
        for s in &d.systems {
            let name = s.name.trim();
            if !name.is_empty() && !self.systems.iter().any(|x| x.eq_ignore_ascii_case(name)) {
                self.systems.push(name.to_owned());
            }
        }
    }

    fn why(&self, source: &kizuki_domain::report::ReportDetails, names: bool) -> Why {
        Why {
            same_sector: self
                .sectors
                .contains(&source.sector)
                .then(|| source.sector.clone()),
            same_event_type: self
                .event_types
                .contains(&source.event_type)
                .then(|| source.event_type.clone()),
            shared_causes: source
                .causes
                .iter()
                .filter(|c| self.causes.contains(c))
                .cloned()
                .collect(),
            shared_systems: if names {
                self.systems
                    .iter()
                    .filter(|x| {
                        source
                            .systems
                            .iter()
                            .any(|y| y.name.trim().eq_ignore_ascii_case(x))
                    })
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The tagged lessons of cases the principal may read whose source report shares the
/// report's sector, event type, causes or systems, best match first, each with why. The
/// case written from this report itself is left out. System names count only where the
/// principal may read the case's source report; the classification codes of a case the
/// principal may read are shown as they are on the case's own page.
pub async fn applying(
    app: &App,
    p: &Principal,
    report: &kizuki_domain::report::Report,
) -> AppResult<Vec<Applying>> {
    let mut profile = Profile {
        report: Some(report.id),
        ..Profile::default()
    };
    profile.add(&report.details);
    matching(app, p, &profile).await
}

/// For an operator's dashboard: the tagged lessons whose cases are like its organisation (its
/// sectors) and its latest reports (their event types, causes and systems), with why. Empty
/// for anyone but an operator's staff.
pub async fn for_organisation(app: &App, p: &Principal) -> AppResult<Vec<Applying>> {
    if !p.is_operator() {
        return Ok(Vec::new());
    }
    let org = app.store.get_org(p.org_id).await?;
    let mut profile = Profile::default();
    for s in &org.org.sectors {
        if !profile.sectors.contains(s) {
            profile.sectors.push(s.clone());
        }
    }
    let own = crate::reports::list(
        app,
        p,
        kizuki_store::ReportFilter {
            org_id: Some(p.org_id),
            sort: kizuki_store::ReportSort::UpdatedDesc,
            ..kizuki_store::ReportFilter::default()
        },
        kizuki_store::Page::new(1, PROFILE_REPORTS),
    )
    .await?;
    for r in &own.items {
        profile.add(&r.details);
    }
    matching(app, p, &profile).await
}

async fn matching(app: &App, p: &Principal, profile: &Profile) -> AppResult<Vec<Applying>> {
    let v = auth::viewer(app, p).await?;
    let readable = Readable::load(app, &v, true).await?;
    let mut by_lesson: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in app.store.lesson_tags(None).await? {
        by_lesson.entry(t.lesson).or_default().push(t.theme);
    }
    let mut sources: HashMap<i64, kizuki_domain::report::Report> = HashMap::new();
    let mut out = Vec::new();
    for (lesson, themes) in by_lesson {
        let Ok(r @ LessonRef::Case { case, .. }) = LessonRef::parse(&lesson) else {
            continue;
        };
        let Some(c) = readable.case_lesson(r) else {
            continue;
        };
        let Some(source_id) = c.report_id.filter(|id| Some(*id) != profile.report) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(e) = sources.entry(source_id.0) {
            match app.store.get_report(source_id).await {
                Ok(s) => {
                    e.insert(s);
                }
                Err(StoreError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        let Some(src) = sources.get(&source_id.0) else {
            continue;
        };
        let why = profile.why(&src.details, readable.sectors.contains_key(&case.0));
        if why.weight() == 0 {
            continue;
        }
        let Some(row) = readable.case_lesson_row(r, lesson, themes) else {
            continue;
        };
        out.push(Applying { lesson: row, why });
    }
    out.sort_by(|a, b| {
        b.why
            .weight()
            .cmp(&a.why.weight())
            .then(b.lesson.survey_year.cmp(&a.lesson.survey_year))
            .then(a.lesson.lesson.cmp(&b.lesson.lesson))
    });
    out.truncate(MAX_APPLYING);
    Ok(out)
}

/// Every theme, retired ones last, each with the lessons the principal may read.
pub async fn themes(app: &App, p: &Principal) -> AppResult<Vec<ThemeSummary>> {
    themes_as(app, &auth::viewer(app, p).await?).await
}

/// Every theme, as [`themes`], for any viewer (the public portal passes `Viewer::Public`).
pub async fn themes_as(app: &App, v: &Viewer) -> AppResult<Vec<ThemeSummary>> {
    let readable = Readable::load(app, v, false).await?;
    let tags = app.store.lesson_tags(None).await?;
    let mut out: Vec<ThemeSummary> = app
        .store
        .list_themes()
        .await?
        .into_iter()
        .map(|stored| ThemeSummary {
            stored,
            case_lessons: 0,
            common_lessons: 0,
        })
        .collect();
    for t in &tags {
        let Some(s) = out
            .iter_mut()
            .find(|s| s.stored.theme.key.as_str() == t.theme)
        else {
            continue;
        };
        match LessonRef::parse(&t.lesson) {
            Ok(r @ LessonRef::Case { .. }) if readable.case_lesson(r).is_some() => {
                s.case_lessons += 1;
            }
            Ok(r @ LessonRef::Common { .. }) if readable.common_lesson(r).is_some() => {
                s.common_lessons += 1;
            }
            _ => {}
        }
    }
    out.sort_by_key(|s| s.stored.theme.retired);
    Ok(out)
}

/// Refuses anyone but the centre's editors, who keep the theme list; decided before a body
/// is read.
pub fn may_edit_themes(p: &Principal) -> AppResult<()> {
    p.require(&[Role::Editor])
}

/// Refuses anyone but the centre's analysts and editors, who tag lessons; decided before a
/// body is read.
pub fn may_tag(p: &Principal) -> AppResult<()> {
    p.require_analyst()
}

/// One theme, for its edit form; editors only.
pub async fn theme(app: &App, p: &Principal, key: &str) -> AppResult<StoredTheme> {
    may_edit_themes(p)?;
    find_theme(app, key).await
}

pub(crate) async fn find_theme(app: &App, key: &str) -> AppResult<StoredTheme> {
    app.store
        .list_themes()
        .await?
        .into_iter()
        .find(|t| t.theme.key.as_str() == key)
        .ok_or_else(|| StoreError::not_found("theme", key).into())
}

/// Adds a theme (`expected_version` 0) or saves an edit of one; the centre's editors keep
/// the list. Audited with the theme before and after.
pub async fn save_theme(
    app: &App,
    p: &Principal,
    input: &ThemeInput,
    expected_version: i64,
) -> AppResult<StoredTheme> {
    may_edit_themes(p)?;
    let theme = input.parse()?;
    let before = if expected_version == 0 {
        None
    } else {
        Some(find_theme(app, theme.key.as_str()).await?.theme)
    };
    let saved = app
        .store
        .save_theme(&theme, expected_version, Some(p.user_id), app.clock.now())
        .await?;
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        audit::actions::CHANGE,
        format!("theme:{}", theme.key),
        &serde_json::json!({"before": before, "after": saved.theme}),
    )
    .await?;
    Ok(saved)
}

/// A lesson with its themes and the themes its wording suggests; the centre's analysts and
/// editors tag lessons.
pub async fn lesson_for_tagging(app: &App, p: &Principal, lesson: &str) -> AppResult<TaggedLesson> {
    may_tag(p)?;
    let r = LessonRef::parse(lesson)?;
    let readable = Readable::load(app, &auth::viewer(app, p).await?, false).await?;
    let (title, text) = readable
        .lesson_text(r)
        .ok_or_else(|| StoreError::not_found("lesson", r))?;
    let themes: Vec<Theme> = app
        .store
        .list_themes()
        .await?
        .into_iter()
        .map(|t| t.theme)
        .collect();
    let current: Vec<String> = app
        .store
        .lesson_tags(Some(&r.key()))
        .await?
        .into_iter()
        .map(|t| t.theme)
        .collect();
    let suggestions = suggest(&themes, &format!("{title}\n{text}"))
        .into_iter()
        .filter(|s| !current.iter().any(|c| c == s.key.as_str()))
        .collect();
    Ok(TaggedLesson {
        lesson: r.key(),
        title,
        text,
        themes: current,
        suggestions,
    })
}

/// Makes `themes` the lesson's themes, if they are still `expected` (what the editor saw):
/// otherwise a conflict, and nothing changes. A retired theme may be kept but not added.
/// Audited with the themes before and after.
pub async fn tag(
    app: &App,
    p: &Principal,
    lesson: &str,
    expected: &[String],
    themes: &[String],
) -> AppResult<Vec<String>> {
    may_tag(p)?;
    let r = LessonRef::parse(lesson)?;
    let readable = Readable::load(app, &auth::viewer(app, p).await?, false).await?;
    if readable.lesson_text(r).is_none() {
        return Err(StoreError::not_found("lesson", r).into());
    }
    let known = app.store.list_themes().await?;
    for (i, k) in themes.iter().enumerate() {
        let key = ThemeKey::parse(k).map_err(|e| e.within(&format!("themes[{i}]")))?;
        match known.iter().find(|t| t.theme.key == key) {
            None => {
                return Err(kizuki_domain::FieldError::new(
                    format!("themes[{i}]"),
                    kizuki_domain::FieldErrorKind::UnknownCode { code: k.clone() },
                )
                .into());
            }
            Some(t) if t.theme.retired && !expected.contains(k) => {
                return Err(kizuki_domain::FieldError::invalid(
                    format!("themes[{i}]"),
                    "this theme is retired and takes no new lessons",
                )
                .into());
            }
            Some(_) => {}
        }
    }
    let saved = app
        .store
        .set_lesson_themes(&r.key(), expected, themes, Some(p.user_id), app.clock.now())
        .await?;
    let after: Vec<String> = saved.into_iter().map(|t| t.theme).collect();
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        audit::actions::CHANGE,
        format!("lesson:{}", r.key()),
        &serde_json::json!({"before": expected, "after": after}),
    )
    .await?;
    Ok(after)
}

/// One theme's lessons that the principal may read, narrowed by `filter`.
pub async fn catalog(
    app: &App,
    p: &Principal,
    key: &str,
    filter: &CatalogFilter,
) -> AppResult<ThemeCatalog> {
    catalog_as(app, &auth::viewer(app, p).await?, key, filter).await
}

/// One theme's lessons, as [`catalog`], for any viewer (the public portal passes
/// `Viewer::Public` and sees published cases and published years only).
pub async fn catalog_as(
    app: &App,
    v: &Viewer,
    key: &str,
    filter: &CatalogFilter,
) -> AppResult<ThemeCatalog> {
    let theme = find_theme(app, key).await?;
    let readable = Readable::load(app, v, true).await?;
    let tags = app.store.lesson_tags(None).await?;
    let mut by_lesson: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in tags {
        by_lesson.entry(t.lesson).or_default().push(t.theme);
    }
    let mut case_lessons = Vec::new();
    let mut common_lessons = Vec::new();
    let mut years = Vec::new();
    for (lesson, themes) in by_lesson {
        if !themes.iter().any(|t| t == key) {
            continue;
        }
        match LessonRef::parse(&lesson) {
            Ok(r @ LessonRef::Case { .. }) => {
                let Some(row) = readable.case_lesson_row(r, lesson, themes) else {
                    continue;
                };
                years.extend(row.survey_year);
                if filter.admits(row.survey_year, &row.category, row.sector.as_ref()) {
                    case_lessons.push(row);
                }
            }
            Ok(r @ LessonRef::Common { year, index }) => {
                let Some(s) = readable.common_lesson(r) else {
                    continue;
                };
                let Some(l) = usize::try_from(index)
                    .ok()
                    .and_then(|i| s.content.common_lessons.get(i))
                else {
                    continue;
                };
                years.push(year);
                // A common lesson has no sector of its own: a sector filter keeps it when one
                // of its cases is of that sector.
                let sectors: Vec<&Code> = l
                    .cases
                    .iter()
                    .filter_map(|n| readable.case_by_number(year, *n))
                    .filter_map(|c| readable.sectors.get(&c.id.0))
                    .collect();
                let admitted = filter.admits(Some(year), &l.category, None)
                    && filter
                        .sector
                        .as_deref()
                        .is_none_or(|s| sectors.iter().any(|c| c.as_str() == s));
                if admitted {
                    common_lessons.push(YearLesson {
                        lesson,
                        year,
                        number: index + 1,
                        category: l.category.clone(),
                        title: l.title.clone(),
                        text: l.text.clone(),
                        cases: l
                            .cases
                            .iter()
                            .map(|n| {
                                (
                                    *n,
                                    readable
                                        .case_by_number(year, *n)
                                        .map(|c| c.content.title.clone()),
                                )
                            })
                            .collect(),
                        themes,
                    });
                }
            }
            Err(_) => {}
        }
    }
    case_lessons.sort_by(|a, b| {
        b.survey_year
            .cmp(&a.survey_year)
            .then(a.case_number.cmp(&b.case_number))
            .then(a.lesson.cmp(&b.lesson))
    });
    common_lessons.sort_by(|a, b| b.year.cmp(&a.year).then(a.number.cmp(&b.number)));
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    Ok(ThemeCatalog {
        theme,
        case_lessons,
        common_lessons,
        years,
    })
}

impl CatalogFilter {
    /// The filter as a form or query string gives it: blank text filters nothing.
    pub fn from_text(sector: &str, category: &str, year: Option<i32>) -> CatalogFilter {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        CatalogFilter {
            sector: some(sector),
            category: some(category),
            year,
        }
    }

    fn admits(&self, year: Option<i32>, category: &Code, sector: Option<&Code>) -> bool {
        self.year.is_none_or(|y| year == Some(y))
            && self
                .category
                .as_deref()
                .is_none_or(|c| c == category.as_str())
            && self
                .sector
                .as_deref()
                .is_none_or(|s| sector.is_some_and(|own| own.as_str() == s))
    }
}

/// The cases and surveys a viewer may read, read once per request, with the sectors of the
/// cases whose reports the viewer may read too.
struct Readable {
    cases: HashMap<i64, Case>,
    surveys: HashMap<i32, Survey>,
    sectors: HashMap<i64, Code>,
}

impl Readable {
    /// `sectors`: also read each case's source report for its sector (the catalog and the
    /// matching need them; counting and tagging do not).
    async fn load(app: &App, v: &Viewer, sectors: bool) -> AppResult<Readable> {
        let cases: HashMap<i64, Case> = cases::list_as(app, v, None)
            .await?
            .into_iter()
            .map(|c| (c.id.0, c))
            .collect();
        let surveys = cases::surveys_as(app, v)
            .await?
            .into_iter()
            .map(|s| (s.content.fiscal_year.year(), s))
            .collect();
        let wanted = sectors;
        let mut sectors = HashMap::new();
        if wanted && !v.is_public() {
            for c in cases.values() {
                let Some(rid) = c.report_id else { continue };
                let r = match app.store.get_report(rid).await {
                    Ok(r) => r,
                    Err(StoreError::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                if auth::decide_report_as(app, v, &r, Action::Read)
                    .await?
                    .is_allowed()
                {
                    sectors.insert(c.id.0, r.details.sector.clone());
                }
            }
        }
        Ok(Readable {
            cases,
            surveys,
            sectors,
        })
    }

    fn case_lesson(&self, r: LessonRef) -> Option<&Case> {
        let LessonRef::Case { case, index } = r else {
            return None;
        };
        self.cases
            .get(&case.0)
            .filter(|c| usize::try_from(index).is_ok_and(|i| i < c.content.lessons.len()))
    }

    /// A readable case's lesson as the catalog and a report page show it.
    fn case_lesson_row(
        &self,
        r: LessonRef,
        lesson: String,
        themes: Vec<String>,
    ) -> Option<CaseLesson> {
        let LessonRef::Case { index, .. } = r else {
            return None;
        };
        let c = self.case_lesson(r)?;
        let l = c.content.lessons.get(usize::try_from(index).ok()?)?;
        Some(CaseLesson {
            lesson,
            case_id: c.id.0,
            survey_year: c.survey_year,
            case_number: c.content.number,
            case_title: c.content.title.clone(),
            category: c.content.category.clone(),
            sector: self.sectors.get(&c.id.0).cloned(),
            title: l.title.clone(),
            text: l.text.clone(),
            themes,
        })
    }

    fn common_lesson(&self, r: LessonRef) -> Option<&Survey> {
        let LessonRef::Common { year, index } = r else {
            return None;
        };
        self.surveys
            .get(&year)
            .filter(|s| usize::try_from(index).is_ok_and(|i| i < s.content.common_lessons.len()))
    }

    fn case_by_number(&self, year: i32, number: u32) -> Option<&Case> {
        self.cases
            .values()
            .find(|c| c.survey_year == Some(year) && c.content.number == number)
    }

    /// A lesson's title and text (a common lesson's title may be empty).
    fn lesson_text(&self, r: LessonRef) -> Option<(String, String)> {
        match r {
            LessonRef::Case { index, .. } => {
                let c = self.case_lesson(r)?;
                let l = c.content.lessons.get(usize::try_from(index).ok()?)?;
                Some((l.title.clone(), l.text.clone()))
            }
            LessonRef::Common { index, .. } => {
                let s = self.common_lesson(r)?;
                let l = s.content.common_lessons.get(usize::try_from(index).ok()?)?;
                Some((l.title.clone(), l.text.clone()))
            }
        }
    }
}

/// What seeding the themes did: the lessons tagged, and the seed tags left out because their
/// survey, case or lesson is not in this store (named, for the log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    pub tagged: usize,
    pub skipped: Vec<String>,
}

/// Loads the shipped themes and the tags of the loaded survey years into a store that has no
/// theme yet (a new installation, or one from before themes); does nothing otherwise. A seed
/// tag whose survey, case or lesson is not here is left out and named in the result.
pub async fn seed(app: &App, seed: &kizuki_dataset::ThemeSeed) -> AppResult<Seeded> {
    let mut out = Seeded::default();
    if !app.store.list_themes().await?.is_empty() {
        return Ok(out);
    }
    let at = app.clock.now();
    for t in &seed.themes {
        match app.store.save_theme(t, 0, None, at).await {
            Ok(_) => {}
            // Another node starting at the same time is seeding: it finishes the job.
            Err(StoreError::Duplicate { .. }) => return Ok(out),
            Err(e) => return Err(e.into()),
        }
    }
    for t in &seed.tags {
        let Some(lesson) = seed_lesson(app, t).await? else {
            out.skipped.push(format!("{} {:?}", t.year, t.lesson));
            continue;
        };
        let key = lesson.key();
        let current: Vec<String> = app
            .store
            .lesson_tags(Some(&key))
            .await?
            .into_iter()
            .map(|t| t.theme)
            .collect();
        let mut wanted = current.clone();
        wanted.extend(t.themes.iter().cloned());
        app.store
            .set_lesson_themes(&key, &current, &wanted, None, at)
            .await?;
        out.tagged += 1;
    }
    Ok(out)
}

/// The lesson a seed tag names, if its survey, case and lesson are in the store.
async fn seed_lesson(app: &App, t: &kizuki_dataset::SeedTag) -> AppResult<Option<LessonRef>> {
    Ok(match &t.lesson {
        kizuki_dataset::SeedLesson::Common { number } => {
            let s = match app.store.get_survey(t.year).await {
                Ok(s) => s,
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let index = number.saturating_sub(1);
            usize::try_from(index)
                .is_ok_and(|i| i < s.content.common_lessons.len())
                .then_some(LessonRef::Common {
                    year: t.year,
                    index,
                })
        }
        kizuki_dataset::SeedLesson::Case { number, title } => {
            let Some(c) = app.store.case_by_number(t.year, *number).await? else {
                return Ok(None);
            };
            c.content
                .lessons
                .iter()
                .position(|l| l.title == *title)
                .and_then(|i| u32::try_from(i).ok())
                .map(|index| LessonRef::Case { case: c.id, index })
        }
    })
}

/// At start-up: the shipped themes for a store that has none yet (one from before themes),
/// with the tags of whichever of their survey years it holds; left-out tags are logged.
pub async fn ensure_themes(app: &App) -> AppResult<()> {
    let done = seed(app, &kizuki_dataset::default_themes()?).await?;
    if !done.skipped.is_empty() {
        tracing::warn!(skipped = ?done.skipped, "lesson themes: seed tags whose lesson is not here");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::error::AppError;
    use crate::test_support::{analyst_principal, demo, operator_principal, principal};

    fn keys(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[tokio::test]
    async fn the_2019_common_lessons_sit_under_their_themes_with_their_cases() {
        let (app, _t) = demo(41).await;
        let analyst = analyst_principal(&app).await;
        let all = themes(&app, &analyst).await.unwrap();
        assert_eq!(all.len(), 11);
        let common: usize = all.iter().map(|s| s.common_lessons).sum();
        assert_eq!(
            common, 9,
            "six common lessons, three of them under two or three themes"
        );
        let cat = catalog(
            &app,
            &analyst,
            "delegation-of-authority",
            &CatalogFilter::default(),
        )
        .await
        .unwrap();
        assert_eq!(cat.years, [2019]);
        assert_eq!(cat.common_lessons.len(), 1);
        let c = &cat.common_lessons[0];
        assert_eq!((c.year, c.number), (2019, 1));
        let cited: Vec<u32> = c.cases.iter().map(|(n, _)| *n).collect();
        assert_eq!(cited, [1, 3, 4]);
        assert!(c.cases.iter().all(|(_, title)| title.is_some()));
        let from_cases: Vec<(u32, &str)> = cat
            .case_lessons
            .iter()
            .map(|l| (l.case_number, l.title.as_str()))
            .collect();
        assert_eq!(
            from_cases,
            [
                (1, "非常時に備えた権限移譲"),
                (3, "緊急時の連絡体制整備"),
                (4, "障害発生時の迅速な判断")
            ]
        );
        // The centre sees where each case's report came from.
        assert!(cat.case_lessons.iter().all(|l| l.sector.is_some()));

        // The 2019 cases and year are published: the public sees the same lessons, without
        // the sectors of reports it may not read.
        let public = catalog_as(
            &app,
            &Viewer::Public,
            "delegation-of-authority",
            &CatalogFilter::default(),
        )
        .await
        .unwrap();
        assert_eq!(public.common_lessons, cat.common_lessons);
        assert_eq!(public.case_lessons.len(), 3);
        assert!(public.case_lessons.iter().all(|l| l.sector.is_none()));
        assert!(matches!(
            catalog(&app, &analyst, "nothing", &CatalogFilter::default()).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
    }

    #[tokio::test]
    async fn tagged_lessons_apply_to_reports_like_their_cases_with_the_reason() {
        let (app, _t) = demo(45).await;
        let analyst = analyst_principal(&app).await;
        let case4 = app.store.case_by_number(2019, 4).await.unwrap().unwrap();
        let source = app
            .store
            .get_report(case4.report_id.unwrap())
            .await
            .unwrap();
        let s = &source.details;
        let mut input = crate::test_support::sample_input();
        input.sector = "medical".into();
        input.event_type = s.event_type.0.clone();
        input.causes = s.causes.iter().take(1).map(|c| c.0.clone()).collect();
        let new =
            crate::test_support::file(&app, "demo-railway", "2020-02-01T10:00:00+09:00", input)
                .await;
        let shown = applying(&app, &analyst, &new).await.unwrap();
        let of_case4: Vec<&Applying> = shown
            .iter()
            .filter(|a| a.lesson.case_id == case4.id.0)
            .collect();
        assert!(!of_case4.is_empty(), "{shown:?}");
        for a in &of_case4 {
            assert_eq!(a.why.same_event_type.as_ref(), Some(&s.event_type), "{a:?}");
            assert_eq!(a.why.shared_causes.len(), usize::from(!s.causes.is_empty()));
            assert!(!a.lesson.themes.is_empty(), "only tagged lessons");
        }
        // Best match first.
        assert!(
            shown
                .windows(2)
                .all(|w| w[0].why.weight() >= w[1].why.weight())
        );
        // Untagged, case 4's lessons no longer apply.
        for (i, _) in case4.content.lessons.iter().enumerate() {
            let key = LessonRef::Case {
                case: case4.id,
                index: u32::try_from(i).unwrap(),
            }
            .key();
            let now: Vec<String> = app
                .store
                .lesson_tags(Some(&key))
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.theme)
                .collect();
            tag(&app, &analyst, &key, &now, &[]).await.unwrap();
        }
        let shown = applying(&app, &analyst, &new).await.unwrap();
        assert!(shown.iter().all(|a| a.lesson.case_id != case4.id.0));
        // The case written from a report is not shown beside that report.
        let own = applying(&app, &analyst, &source).await.unwrap();
        assert!(own.iter().all(|a| a.lesson.case_id != case4.id.0));
    }

    #[tokio::test]
    async fn seeding_skips_lessons_this_store_lacks_and_runs_once() {
        let (app, _t) = demo(46).await;
        // A file naming a year and a lesson this store does not have.
        let text = r#"
[[theme]]
key = "only"
name_ja = "唯一"
name_en = "Only"

[[tag]]
year = 2030
common = 1
themes = ["only"]

[[tag]]
year = 2019
case = 1
lesson = "ない教訓"
themes = ["only"]

[[tag]]
year = 2019
common = 2
themes = ["only"]
"#;
        let file = kizuki_dataset::parse_themes("t.toml", text).unwrap();
        // The demo already has themes: nothing happens.
        assert_eq!(seed(&app, &file).await.unwrap(), Seeded::default());
        // A store with the 2019 survey but no themes (from before them).
        let fresh = crate::test_support::empty("2020-02-01T09:00:00+09:00", 47).await;
        let dir = kizuki_dataset::default_demo(&fresh.0.taxonomy).unwrap();
        crate::seed::ensure_directory(&fresh.0, &dir).await.unwrap();
        let files: Vec<(String, String)> = kizuki_dataset::SURVEY_2019
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        let data = kizuki_dataset::parse_survey_files(&files, &fresh.0.taxonomy).unwrap();
        crate::survey::import_survey(&fresh.0, &data).await.unwrap();
        let done = seed(&fresh.0, &file).await.unwrap();
        assert_eq!(done.tagged, 1);
        assert_eq!(done.skipped.len(), 2, "{:?}", done.skipped);
        let tags = fresh.0.store.lesson_tags(None).await.unwrap();
        let got: Vec<(&str, &str)> = tags
            .iter()
            .map(|t| (t.lesson.as_str(), t.theme.as_str()))
            .collect();
        assert_eq!(got, [("common:2019:1", "only")]);
        // Once themes exist, seeding again does nothing.
        assert_eq!(seed(&fresh.0, &file).await.unwrap(), Seeded::default());
    }

    #[tokio::test]
    async fn the_catalog_narrows_by_category_year_and_sector() {
        let (app, _t) = demo(42).await;
        let analyst = analyst_principal(&app).await;
        let all = catalog(&app, &analyst, "log-retention", &CatalogFilter::default())
            .await
            .unwrap();
        let numbers: Vec<u32> = all.case_lessons.iter().map(|l| l.case_number).collect();
        assert_eq!(numbers, [6, 7, 7]);
        let f = |category: Option<&str>, year: Option<i32>, sector: Option<&str>| CatalogFilter {
            category: category.map(str::to_owned),
            year,
            sector: sector.map(str::to_owned),
        };
        let none = catalog(
            &app,
            &analyst,
            "log-retention",
            &f(Some("system-failure"), None, None),
        )
        .await
        .unwrap();
        assert!(none.case_lessons.is_empty() && none.common_lessons.is_empty());
        let later = catalog(&app, &analyst, "log-retention", &f(None, Some(2020), None))
            .await
            .unwrap();
        assert!(later.case_lessons.is_empty() && later.common_lessons.is_empty());
        let sector = all.case_lessons[0].sector.clone().unwrap();
        let by_sector = catalog(
            &app,
            &analyst,
            "log-retention",
            &f(None, None, Some(sector.as_str())),
        )
        .await
        .unwrap();
        assert!(!by_sector.case_lessons.is_empty());
        assert!(
            by_sector
                .case_lessons
                .iter()
                .all(|l| l.sector.as_ref() == Some(&sector))
        );
        let nowhere = catalog(
            &app,
            &analyst,
            "log-retention",
            &f(None, None, Some("space")),
        )
        .await
        .unwrap();
        assert!(nowhere.case_lessons.is_empty() && nowhere.common_lessons.is_empty());
    }

    #[tokio::test]
    async fn tagging_starts_from_what_was_seen_and_is_the_centres() {
        let (app, _t) = demo(43).await;
        let analyst = analyst_principal(&app).await;
        let case4 = app.store.case_by_number(2019, 4).await.unwrap().unwrap();
        let lesson = LessonRef::Case {
            case: case4.id,
            index: 2,
        }
        .key();
        let seen = lesson_for_tagging(&app, &analyst, &lesson).await.unwrap();
        assert_eq!(seen.title, "排他制御の確実な実施");
        assert_eq!(keys(&seen.themes), ["exclusive-control"]);
        assert!(
            seen.suggestions
                .iter()
                .all(|s| s.key.as_str() != "exclusive-control"),
            "a theme already given is not suggested again"
        );
        let after = tag(&app, &analyst, &lesson, &seen.themes, &[])
            .await
            .unwrap();
        assert!(after.is_empty());
        let again = lesson_for_tagging(&app, &analyst, &lesson).await.unwrap();
        assert_eq!(
            again.suggestions.first().map(|s| s.key.as_str()),
            Some("exclusive-control"),
            "the wording suggests the theme: {:?}",
            again.suggestions
        );
        // A second editor who still saw the old themes is refused, and nothing changes.
        assert!(matches!(
            tag(&app, &analyst, &lesson, &seen.themes, &["mfa".to_owned()]).await,
            Err(AppError::Store(StoreError::Conflict { .. }))
        ));
        match tag(&app, &analyst, &lesson, &[], &["no-such".to_owned()]).await {
            Err(AppError::Validation(e)) => assert!(e.for_field("themes[0]").is_some()),
            other => panic!("{other:?}"),
        }
        let operator = operator_principal(&app).await;
        assert!(matches!(
            tag(&app, &operator, &lesson, &[], &["mfa".to_owned()]).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            tag(&app, &analyst, "case:999999:0", &[], &["mfa".to_owned()]).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
        let entries = crate::security::audit_log::all_entries(&app).await.unwrap();
        let target = format!("lesson:{lesson}");
        assert_eq!(entries.iter().filter(|e| e.target == target).count(), 1);
    }

    #[tokio::test]
    async fn editors_keep_the_theme_list_and_retired_themes_take_no_new_lessons() {
        let (app, _t) = demo(44).await;
        let editor = principal(&app, "editor@centre.example.jp").await;
        let analyst = analyst_principal(&app).await;
        let input = ThemeInput {
            key: "supply-chain".into(),
            name_ja: "サプライチェーン".into(),
            name_en: "Supply chain".into(),
            keywords: "取引先、部品".into(),
            ..ThemeInput::default()
        };
        assert!(matches!(
            save_theme(&app, &analyst, &input, 0).await,
            Err(AppError::Forbidden(_))
        ));
        let saved = save_theme(&app, &editor, &input, 0).await.unwrap();
        assert_eq!(saved.version, 1);
        let bad = ThemeInput {
            name_ja: String::new(),
            ..input.clone()
        };
        match save_theme(&app, &editor, &bad, 1).await {
            Err(AppError::Validation(e)) => assert!(e.for_field("name_ja").is_some()),
            other => panic!("{other:?}"),
        }
        let retire = ThemeInput {
            retired: true,
            ..input.clone()
        };
        save_theme(&app, &editor, &retire, 1).await.unwrap();
        assert!(matches!(
            save_theme(&app, &editor, &retire, 1).await,
            Err(AppError::Store(StoreError::Conflict { .. }))
        ));
        let listed = themes(&app, &analyst).await.unwrap();
        assert_eq!(
            listed.last().map(|s| s.stored.theme.key.as_str()),
            Some("supply-chain"),
            "retired themes come last"
        );
        let case1 = app.store.case_by_number(2019, 1).await.unwrap().unwrap();
        let lesson = LessonRef::Case {
            case: case1.id,
            index: 0,
        }
        .key();
        match tag(&app, &analyst, &lesson, &[], &["supply-chain".to_owned()]).await {
            Err(AppError::Validation(e)) => assert!(e.for_field("themes[0]").is_some()),
            other => panic!("{other:?}"),
        }
    }
}
