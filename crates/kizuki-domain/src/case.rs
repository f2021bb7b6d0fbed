//! A surveyed case (調査対象事例) in the fixed form of the annual report: overview, actors,
//! numbered incident steps and responses, the five narrative sections and named lessons.

use crate::error::{FieldError, FieldErrorKind, ValidationErrors, text};
use crate::ids::{CaseId, ReportId};
use crate::taxonomy::{Code, Taxonomy, Vocabulary};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// What kind of party an actor is; drives how a diagram draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The reporting operator (重要インフラ事業者) or another operator.
    Operator,
    /// A department or person inside an organisation.
    Department,
    Vendor,
    /// A system or piece of equipment.
    System,
    Store,
    Customer,
    Attacker,
    ThirdParty,
}

/// A party or system in the case. `group` names the actor that contains it (a department
/// inside the operator, a server inside a vendor's environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub key: String,
    pub label: String,
    pub kind: ActorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A numbered step of what happened ((1)(2)(3)) or a numbered response (対処1..n), placed at
/// the actors it involves. The first actor is the one it happens at (or who acts); further
/// actors are those it happens between or who take part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub number: u32,
    pub text: String,
    pub actors: Vec<String>,
    /// When it happened, as the report says it: a clock time (「10:30」), a date, or a time
    /// relative to the trouble (「3時間後」, 「1週間前から」). Shown in the diagram and the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// A named lesson (気付き・教訓): a short title and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub title: String,
    pub text: String,
}

/// Sections 1 to 5 of a case, each a list of points. Section 6 is `Case::lessons`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    /// 【1 背景】
    pub background: Vec<String>,
    /// 【2 検知】
    pub detection: Vec<String>,
    /// 【3 対処】
    pub response: Vec<String>,
    /// 【4 原因】
    pub cause: Vec<String>,
    /// 【5 再発に備えた対策】
    pub countermeasures: Vec<String>,
}

/// The six section headings in order, Japanese and English.
pub const SECTION_HEADINGS: [(&str, &str); 6] = [
    ("背景", "Background"),
    ("検知", "Detection"),
    ("対処", "Response"),
    ("原因", "Cause"),
    ("再発に備えた対策", "Countermeasures"),
    ("得られた気付き・教訓", "Lessons learned"),
];

impl Sections {
    /// Sections 1..=5 with their headings' index.
    pub fn numbered(&self) -> [(usize, &[String]); 5] {
        [
            (0, &self.background),
            (1, &self.detection),
            (2, &self.response),
            (3, &self.cause),
            (4, &self.countermeasures),
        ]
    }
}

/// The content of a case, as written by an analyst or read from the survey files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseContent {
    /// Number within its survey (1..n), as in 事例1.
    pub number: u32,
    pub category: Code,
    pub title: String,
    /// The overview table's 影響 column.
    pub impact: String,
    /// The overview table's 原因 column.
    pub cause: String,
    /// The three overview bullets at the head of the case.
    pub overview: Vec<String>,
    pub actors: Vec<Actor>,
    pub steps: Vec<Step>,
    pub responses: Vec<Step>,
    pub sections: Sections,
    pub lessons: Vec<Lesson>,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub version: i64,
    /// The survey it belongs to, by fiscal year.
    pub survey_year: Option<i32>,
    /// The report it was written from.
    pub report_id: Option<ReportId>,
    pub content: CaseContent,
}

const MAX_TITLE: usize = 120;
const MAX_POINT: usize = 2000;
const MAX_LABEL: usize = 60;
const MAX_STEP_ACTORS: usize = 4;
/// Enough for 「令和元年5月7日 9時30分ごろ」 or 「発覚の1週間前から」; a longer note belongs in
/// the step's text.
pub const MAX_STEP_TIME: usize = 30;

impl CaseContent {
    /// Checks a case as a whole: codes against the taxonomy, actor references, step numbering.
    pub fn parse(self, tx: &Taxonomy) -> Result<CaseContent, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        if self.number == 0 {
            errs.push(FieldError::new(
                "number",
                FieldErrorKind::OutOfRange {
                    min: 1,
                    max: i64::from(u32::MAX),
                },
            ));
        }
        tx.check(
            &mut errs,
            "category",
            Vocabulary::CaseCategory,
            self.category.as_str(),
        );
        let title = text(&mut errs, "title", &self.title, true, MAX_TITLE);
        let impact = text(&mut errs, "impact", &self.impact, true, MAX_POINT);
        let cause = text(&mut errs, "cause", &self.cause, true, MAX_POINT);
        let overview = points(&mut errs, "overview", &self.overview, true);

        let mut keys: HashMap<&str, usize> = HashMap::new();
        for (i, a) in self.actors.iter().enumerate() {
            let at = format!("actors[{i}]");
            if a.key.trim().is_empty() {
                errs.push(FieldError::required(format!("{at}.key")));
            } else if keys.insert(a.key.as_str(), i).is_some() {
                errs.push(FieldError::new(
                    format!("{at}.key"),
                    FieldErrorKind::Duplicate {
                        value: a.key.clone(),
                    },
                ));
            }
            text(&mut errs, &format!("{at}.label"), &a.label, true, MAX_LABEL);
        }
        for (i, a) in self.actors.iter().enumerate() {
            if let Some(g) = &a.group {
                if !keys.contains_key(g.as_str()) {
                    errs.push(FieldError::new(
                        format!("actors[{i}].group"),
                        FieldErrorKind::UnknownCode { code: g.clone() },
                    ));
                } else if in_cycle(&self.actors, &keys, i) {
                    errs.push(FieldError::invalid(
                        format!("actors[{i}].group"),
                        format!("actor '{}' is inside itself through its groups", a.key),
                    ));
                }
            }
        }
        if self.actors.is_empty() {
            errs.push(FieldError::required("actors"));
        }
        let steps = check_steps(&mut errs, "steps", self.steps, &keys);
        let responses = check_steps(&mut errs, "responses", self.responses, &keys);

        let s = &self.sections;
        let sections = Sections {
            background: points(&mut errs, "sections.background", &s.background, true),
            detection: points(&mut errs, "sections.detection", &s.detection, true),
            response: points(&mut errs, "sections.response", &s.response, true),
            cause: points(&mut errs, "sections.cause", &s.cause, true),
            countermeasures: points(
                &mut errs,
                "sections.countermeasures",
                &s.countermeasures,
                true,
            ),
        };
        if self.lessons.is_empty() {
            errs.push(FieldError::required("lessons"));
        }
        let mut titles = HashSet::new();
        let lessons = self
            .lessons
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let t = text(
                    &mut errs,
                    &format!("lessons[{i}].title"),
                    &l.title,
                    true,
                    MAX_TITLE,
                );
                if !t.is_empty() && !titles.insert(t.clone()) {
                    errs.push(FieldError::new(
                        format!("lessons[{i}].title"),
                        FieldErrorKind::Duplicate { value: t.clone() },
                    ));
                }
                Lesson {
                    title: t,
                    text: text(
                        &mut errs,
                        &format!("lessons[{i}].text"),
                        &l.text,
                        true,
                        MAX_POINT,
                    ),
                }
            })
            .collect();
        let parsed = CaseContent {
            number: self.number,
            category: self.category,
            title,
            impact,
            cause,
            overview,
            actors: self.actors,
            steps,
            responses,
            sections,
            lessons,
        };
        errs.into_result(parsed)
    }

    pub fn actor(&self, key: &str) -> Option<&Actor> {
        self.actors.iter().find(|a| a.key == key)
    }

    /// All text of the case in reading order, for search and similarity.
    pub fn full_text(&self) -> String {
        let mut out = vec![self.title.clone(), self.impact.clone(), self.cause.clone()];
        out.extend(self.overview.iter().cloned());
        out.extend(self.steps.iter().map(|s| s.text.clone()));
        out.extend(self.responses.iter().map(|s| s.text.clone()));
        for (_, pts) in self.sections.numbered() {
            out.extend(pts.iter().cloned());
        }
        for l in &self.lessons {
            out.push(l.title.clone());
            out.push(l.text.clone());
        }
        out.join("\n")
    }
}

fn points(errs: &mut ValidationErrors, field: &str, pts: &[String], required: bool) -> Vec<String> {
    if required && pts.iter().all(|p| p.trim().is_empty()) {
        errs.push(FieldError::required(field));
    }
    pts.iter()
        .enumerate()
        .filter(|(_, p)| !p.trim().is_empty())
        .map(|(i, p)| text(errs, &format!("{field}[{i}]"), p, false, MAX_POINT))
        .collect()
}

fn in_cycle(actors: &[Actor], keys: &HashMap<&str, usize>, start: usize) -> bool {
    let mut cur = start;
    for _ in 0..=actors.len() {
        match actors[cur].group.as_deref().and_then(|g| keys.get(g)) {
            Some(&next) if next == start => return true,
            Some(&next) => cur = next,
            None => return false,
        }
    }
    true
}

/// Checks numbering, text and actors of steps or responses; returns them with their times
/// trimmed (an empty time is no time, so a blank editor field stores nothing).
fn check_steps(
    errs: &mut ValidationErrors,
    field: &str,
    mut steps: Vec<Step>,
    keys: &HashMap<&str, usize>,
) -> Vec<Step> {
    if steps.is_empty() {
        errs.push(FieldError::required(field));
    }
    for (i, s) in steps.iter_mut().enumerate() {
        let at = format!("{field}[{i}]");
        let want = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if s.number != want {
            errs.push(FieldError::invalid(
                format!("{at}.number"),
                format!(
                    "numbers must run 1, 2, 3… in order; expected {want}, found {}",
                    s.number
                ),
            ));
        }
        text(errs, &format!("{at}.text"), &s.text, true, MAX_POINT);
        if s.actors.is_empty() || s.actors.len() > MAX_STEP_ACTORS {
            errs.push(FieldError::invalid(
                format!("{at}.actors"),
                format!("name between 1 and {MAX_STEP_ACTORS} actors: where it happens or who acts first"),
            ));
        }
        for (j, a) in s.actors.iter().enumerate() {
            if !keys.contains_key(a.as_str()) {
                errs.push(FieldError::new(
                    format!("{at}.actors[{j}]"),
                    FieldErrorKind::UnknownCode { code: a.clone() },
                ));
            }
        }
        s.time = step_time(errs, &format!("{at}.time"), s.time.take());
    }
    steps
}

/// A step's time: one short line, shown beside its number in the diagram and the text.
fn step_time(errs: &mut ValidationErrors, field: &str, time: Option<String>) -> Option<String> {
    let t = time?;
    let t = t.trim();
    if t.is_empty() {
        return None;
    }
    // A line break would split the diagram's time label, which is laid out as one line.
    if t.contains(['\n', '\r']) {
        errs.push(FieldError::invalid(
            field,
            "時刻は1行で入力してください / the time must be one line",
        ));
    } else if t.chars().count() > MAX_STEP_TIME {
        errs.push(FieldError::new(
            field,
            FieldErrorKind::TooLong { max: MAX_STEP_TIME },
        ));
    }
    Some(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::{RawTaxonomy, Term, Tlp};

    fn tx() -> Taxonomy {
        let t = |code: &str| Term {
            code: code.into(),
            ja: code.into(),
            en: code.into(),
            group: None,
            description: String::new(),
            maps: Default::default(),
        };
        let mut cause = t("c");
        cause.group = Some("g".into());
        Taxonomy::parse(RawTaxonomy {
            sectors: vec![t("railway")],
            regions: vec![t("kanto")],
            event_types: vec![t("other")],
            cause_groups: vec![t("g")],
            causes: vec![cause],
            severities: ["0", "1", "2", "3", "4"].map(t).to_vec(),
            case_categories: vec![t("system-failure")],
            tlp: Tlp::ALL.map(|x| t(x.code())).to_vec(),
        })
        .unwrap()
    }

    fn actor(key: &str, group: Option<&str>) -> Actor {
        Actor {
            key: key.into(),
            label: key.into(),
            kind: ActorKind::Department,
            group: group.map(Into::into),
        }
    }

    fn step(n: u32, actors: &[&str]) -> Step {
        Step {
            number: n,
            text: format!("step {n}"),
            actors: actors.iter().map(|a| (*a).to_owned()).collect(),
            time: None,
        }
    }

    fn good() -> CaseContent {
        CaseContent {
            number: 1,
            category: Code("system-failure".into()),
            title: "改元に伴うシステム変更トラブルへの対応".into(),
            impact: "i".into(),
            cause: "c".into(),
            overview: vec!["a".into(), "b".into(), "c".into()],
            actors: vec![actor("op", None), actor("sys", Some("op"))],
            steps: vec![step(1, &["op"]), step(2, &["op", "sys"])],
            responses: vec![step(1, &["sys"])],
            sections: Sections {
                background: vec!["b".into()],
                detection: vec!["d".into()],
                response: vec!["r".into()],
                cause: vec!["c".into()],
                countermeasures: vec!["m".into()],
            },
            lessons: vec![Lesson {
                title: "t".into(),
                text: "x".into(),
            }],
        }
    }

    #[test]
    fn a_complete_case_parses() {
        let c = good().parse(&tx()).unwrap();
        assert_eq!(c.actor("sys").unwrap().group.as_deref(), Some("op"));
        assert!(c.full_text().contains("改元"));
    }

    #[test]
    fn broken_structure_is_named_by_field() {
        let mut c = good();
        c.category = Code("meteor".into());
        c.actors.push(actor("op", None));
        c.actors.push(actor("lost", Some("nowhere")));
        c.steps[1].number = 5;
        c.responses[0].actors = vec!["ghost".into()];
        c.sections.cause = vec![" ".into()];
        c.lessons.push(Lesson {
            title: "t".into(),
            text: "dup".into(),
        });
        let errs = c.parse(&tx()).unwrap_err();
        for field in [
            "category",
            "actors[2].key",
            "actors[3].group",
            "steps[1].number",
            "responses[0].actors[0]",
            "sections.cause",
            "lessons[1].title",
        ] {
            assert!(
                errs.for_field(field).is_some(),
                "{field} not named in {errs}"
            );
        }
    }

    #[test]
    fn group_cycles_are_refused() {
        let mut c = good();
        c.actors = vec![actor("a", Some("b")), actor("b", Some("a"))];
        c.steps = vec![step(1, &["a"])];
        c.responses = vec![step(1, &["b"])];
        let errs = c.parse(&tx()).unwrap_err();
        assert!(errs.for_field("actors[0].group").is_some(), "{errs}");
    }

    #[test]
    fn step_times_are_trimmed_short_and_one_line() {
        let mut c = good();
        c.steps[0].time = Some("  10:30 ".into());
        c.steps[1].time = Some("   ".into());
        c.responses[0].time = Some("3時間後".into());
        let ok = c.clone().parse(&tx()).unwrap();
        assert_eq!(ok.steps[0].time.as_deref(), Some("10:30"));
        assert_eq!(ok.steps[1].time, None);
        assert_eq!(ok.responses[0].time.as_deref(), Some("3時間後"));

        c.steps[0].time = Some("5月7日\n9時".into());
        c.responses[0].time = Some("あ".repeat(MAX_STEP_TIME + 1));
        let errs = c.clone().parse(&tx()).unwrap_err();
        assert!(errs.for_field("steps[0].time").is_some(), "{errs}");
        assert_eq!(
            errs.for_field("responses[0].time").map(|e| &e.kind),
            Some(&FieldErrorKind::TooLong { max: MAX_STEP_TIME })
        );
        c.responses[0].time = Some("あ".repeat(MAX_STEP_TIME));
        let errs = c.parse(&tx()).unwrap_err();
        assert!(errs.for_field("responses[0].time").is_none(), "{errs}");
    }

    #[test]
    fn a_step_needs_an_actor() {
        let mut c = good();
        c.steps[0].actors.clear();
        let errs = c.parse(&tx()).unwrap_err();
        assert!(errs.for_field("steps[0].actors").is_some(), "{errs}");
    }
}
