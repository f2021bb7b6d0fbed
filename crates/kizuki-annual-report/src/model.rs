//! The report model: everything the annual survey report shows, in the reference report's
//! order, already worded and ordered, so that every renderer (HTML, Markdown, PDF) only lays
//! it out and all of them say the same thing.

use crate::diagram;
use kizuki_domain::case::{CaseContent, SECTION_HEADINGS};
use kizuki_domain::survey::SurveyContent;
use kizuki_domain::taxonomy::{Lang, Taxonomy, Vocabulary};
use kizuki_domain::wareki;
use serde::{Deserialize, Serialize};

/// Fixed headings of the report, as in the reference.
pub const HEADING_ABOUT: &str = "補完調査とは";
pub const HEADING_PURPOSE: &str = "調査の目的";
pub const HEADING_METHOD: &str = "調査の運営";
pub const HEADING_CRITERIA: &str = "調査対象事例の選定基準";
pub const HEADING_COMMON_LESSONS: &str = "得られた気付き・教訓 概要（各事案に共通する事項）";
pub const OVERVIEW_COLUMNS: [&str; 4] = ["No.", "事例", "影響", "原因"];
pub const COMMON_LESSONS_NOTE: &str =
    "※ 個々の事例ごとの他の気付き・教訓については、各事例の項を参照。";

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportModel {
    /// "2019年度 補完調査 報告書"
    pub title: String,
    pub fiscal_year: i32,
    /// "2019年度（令和元年度）"
    pub fiscal_year_label: String,
    pub purpose: Vec<Paragraph>,
    pub method: Vec<Paragraph>,
    pub criteria: CriteriaModel,
    pub overview: OverviewModel,
    pub common_lessons: CommonLessonsModel,
    pub cases: Vec<CaseModel>,
    /// Who issues the report and when, for its cover; `None` gives no cover (the title opens
    /// the first page).
    pub imprint: Option<Imprint>,
    /// The statistics appendix, after the cases; left out of the model when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appendix: Option<Appendix>,
}

/// 付録 統計: tables of the year's reports, each a heading row and rows of text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appendix {
    pub heading: String,
    /// What was counted and what is withheld.
    pub note: String,
    pub tables: Vec<AppendixTable>,
}

/// One table of the appendix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendixTable {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The cover's imprint: the publisher, the day (`2020年5月29日（令和2年5月29日）`) and what
/// that day is (発行, or 作成 for a draft), and the edition when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Imprint {
    pub publisher: String,
    pub date_label: String,
    pub date: String,
    pub edition: Option<u32>,
}

/// A paragraph of running text; notes (lines starting with ※) are set smaller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paragraph {
    pub text: String,
    pub note: bool,
}

/// 調査対象事例の選定基準.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriteriaModel {
    pub intro: Vec<Paragraph>,
    /// "調査対象期間：2019年1月1日（平成31年1月1日）～2019年12月31日（令和元年12月31日）"
    pub period: String,
    /// The main criteria, in the survey's order.
    pub main: Vec<String>,
    /// "※その他、事案の対応の優劣、地域性、分野のバランスも考慮"; empty when there are none.
    pub also_considered: String,
}

/// The overview table (概要), grouped by case category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverviewModel {
    /// "2019年度 調査対象事例 概要"
    pub heading: String,
    pub columns: [String; 4],
    pub groups: Vec<OverviewGroup>,
    /// Remarks under the table.
    pub remarks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverviewGroup {
    pub category: String,
    pub label: String,
    pub rows: Vec<OverviewRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverviewRow {
    pub number: u32,
    pub title: String,
    pub impact: String,
    pub cause: String,
}

/// 得られた気付き・教訓 概要, grouped by case category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommonLessonsModel {
    pub heading: String,
    pub groups: Vec<CommonLessonGroup>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommonLessonGroup {
    pub category: String,
    /// "システム故障に起因した重要インフラサービス障害の事例（No. 1, 2, 3, 4）から"
    pub heading: String,
    pub lessons: Vec<CommonLessonItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommonLessonItem {
    /// A heading written in the app (empty for the 2019 lessons, which have none).
    pub title: String,
    pub text: String,
    pub cases: Vec<u32>,
    /// "（事例1, 3, 4）"
    pub citation: String,
}

/// One case's pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseModel {
    pub number: u32,
    /// "事例1 改元に伴うシステム変更トラブルへの対応"
    pub heading: String,
    pub title: String,
    pub category_label: String,
    /// The three overview bullets.
    pub overview: Vec<String>,
    pub diagram: DiagramModel,
    /// 【1 背景】 … 【5 再発に備えた対策】
    pub sections: Vec<SectionModel>,
    /// "【6 得られた気付き・教訓】"
    pub lessons_heading: String,
    pub lessons: Vec<LessonModel>,
}

/// A generated case diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagramModel {
    /// A standalone SVG document.
    pub svg: String,
    /// Size in SVG user units; the renderers keep the aspect ratio.
    pub width: f64,
    pub height: f64,
    /// Where the picture may be cut into slices when it is too tall for a page.
    pub cuts: Vec<f64>,
    /// The narrowest print that keeps its type at 8 pt, in millimetres.
    pub min_width_mm: f64,
    /// "事例1 概要図"
    pub caption: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionModel {
    pub number: usize,
    /// "【1 背景】"
    pub heading: String,
    pub points: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LessonModel {
    pub title: String,
    pub paragraphs: Vec<String>,
}

/// "【1 背景】" for a section index 0..=5.
pub fn section_heading(index: usize) -> String {
    let name = SECTION_HEADINGS.get(index).map_or("", |(ja, _)| *ja);
    format!("【{} {}】", index + 1, name)
}

/// "（事例1, 3, 4）"
pub fn case_citation(cases: &[u32]) -> String {
    format!("（事例{}）", join_numbers(cases))
}

fn join_numbers(ns: &[u32]) -> String {
    ns.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

fn paragraphs(text: &str) -> Vec<Paragraph> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Paragraph {
            text: l.to_owned(),
            note: l.starts_with('※'),
        })
        .collect()
}

/// Case categories in taxonomy order, then any the taxonomy does not know, by code.
fn category_order(tx: &Taxonomy, used: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut used: Vec<String> = used.into_iter().collect();
    used.sort();
    used.dedup();
    let mut out: Vec<String> = tx
        .terms(Vocabulary::CaseCategory)
        .iter()
        .map(|t| t.code.clone())
        .filter(|c| used.contains(c))
        .collect();
    for c in used {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

impl ReportModel {
    /// The same report with a cover naming its publisher and date.
    pub fn with_imprint(mut self, imprint: Imprint) -> ReportModel {
        self.imprint = Some(imprint);
        self
    }

    /// The report with its statistics appendix.
    pub fn with_appendix(mut self, appendix: Appendix) -> ReportModel {
        self.appendix = Some(appendix);
        self
    }

    /// Builds the report from a survey and its cases. Cases are shown in number order whatever
    /// order they are given in; category labels come from the taxonomy (an unknown code shows
    /// as itself rather than failing the report).
    pub fn build(survey: &SurveyContent, cases: &[CaseContent], tx: &Taxonomy) -> ReportModel {
        let mut cases: Vec<&CaseContent> = cases.iter().collect();
        cases.sort_by_key(|c| c.number);
        let fy = survey.fiscal_year;
        let cat_label = |code: &str| {
            tx.label(Vocabulary::CaseCategory, code, Lang::Ja)
                .to_owned()
        };

        let also: Vec<&str> = survey
            .criteria
            .iter()
            .filter(|c| !c.main)
            .map(|c| c.label.as_str())
            .collect();
        let criteria = CriteriaModel {
            intro: paragraphs(&survey.criteria_intro),
            period: format!(
                "調査対象期間：{}～{}",
                wareki::format_both(survey.period_start),
                wareki::format_both(survey.period_end)
            ),
            main: survey
                .criteria
                .iter()
                .filter(|c| c.main)
                .map(|c| c.label.clone())
                .collect(),
            also_considered: if also.is_empty() {
                String::new()
            } else {
                format!("※その他、{}も考慮", also.join("、"))
            },
        };

        let order = category_order(
            tx,
            cases.iter().map(|c| c.category.as_str().to_owned()).chain(
                survey
                    .common_lessons
                    .iter()
                    .map(|l| l.category.as_str().to_owned()),
            ),
        );
        let groups = order
            .iter()
            .map(|code| OverviewGroup {
                category: code.clone(),
                label: cat_label(code),
                rows: cases
                    .iter()
                    .filter(|c| c.category.as_str() == code)
                    .map(|c| OverviewRow {
                        number: c.number,
                        title: c.title.clone(),
                        impact: c.impact.clone(),
                        cause: c.cause.clone(),
                    })
                    .collect(),
            })
            .filter(|g| !g.rows.is_empty())
            .collect();

        let lesson_groups = order
            .iter()
            .map(|code| {
                let in_category: Vec<u32> = cases
                    .iter()
                    .filter(|c| c.category.as_str() == code)
                    .map(|c| c.number)
                    .collect();
                let heading = if in_category.is_empty() {
                    format!("{}の事例から", cat_label(code))
                } else {
                    format!(
                        "{}の事例（No. {}）から",
                        cat_label(code),
                        join_numbers(&in_category)
                    )
                };
                CommonLessonGroup {
                    category: code.clone(),
                    heading,
                    lessons: survey
                        .common_lessons
                        .iter()
                        .filter(|l| l.category.as_str() == code)
                        .map(|l| {
                            let mut cited = l.cases.clone();
                            cited.sort_unstable();
                            cited.dedup();
                            CommonLessonItem {
                                title: l.title.trim().to_owned(),
                                text: l.text.trim().to_owned(),
                                citation: case_citation(&cited),
                                cases: cited,
                            }
                        })
                        .collect(),
                }
            })
            .filter(|g| !g.lessons.is_empty())
            .collect();

        ReportModel {
            title: survey.title.trim().to_owned(),
            fiscal_year: fy.year(),
            fiscal_year_label: format!("{}年度（{}）", fy.year(), fy.wareki_label()),
            imprint: None,
            appendix: None,
            purpose: paragraphs(&survey.purpose),
            method: paragraphs(&survey.method),
            criteria,
            overview: OverviewModel {
                heading: format!("{}年度 調査対象事例 概要", fy.year()),
                columns: OVERVIEW_COLUMNS.map(str::to_owned),
                groups,
                remarks: survey.remarks.iter().map(|r| r.trim().to_owned()).collect(),
            },
            common_lessons: CommonLessonsModel {
                heading: HEADING_COMMON_LESSONS.to_owned(),
                groups: lesson_groups,
                note: COMMON_LESSONS_NOTE.to_owned(),
            },
            cases: cases.iter().map(|c| case_model(c, &cat_label)).collect(),
        }
    }
}

fn case_model(c: &CaseContent, cat_label: &dyn Fn(&str) -> String) -> CaseModel {
    let d = diagram::render(c);
    let min_width_mm = d.min_print_width_mm();
    CaseModel {
        number: c.number,
        heading: format!("事例{} {}", c.number, c.title),
        title: c.title.clone(),
        category_label: cat_label(c.category.as_str()),
        overview: c.overview.iter().map(|p| p.trim().to_owned()).collect(),
        diagram: DiagramModel {
            svg: d.svg,
            width: d.width,
            height: d.height,
            min_width_mm,
            cuts: d.cuts,
            caption: format!("事例{} 概要図", c.number),
        },
        sections: c
            .sections
            .numbered()
            .iter()
            .map(|(i, pts)| SectionModel {
                number: i + 1,
                heading: section_heading(*i),
                points: pts.iter().map(|p| p.trim().to_owned()).collect(),
            })
            .collect(),
        lessons_heading: section_heading(5),
        lessons: c
            .lessons
            .iter()
            .map(|l| LessonModel {
                title: l.title.trim().to_owned(),
                paragraphs: l
                    .text
                    .lines()
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
            .collect(),
    }
}
