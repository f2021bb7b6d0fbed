//! The editor's review of the candidates: accept the suggested label, give another, or keep
//! the text with a reason. Nothing is publishable while a candidate is undecided or while the
//! anonymised text still shows anything that is not deliberately kept.

use super::fold::fold_compact;
use super::map::{MAX_LABEL, PseudonymMap};
use super::{Candidate, Directory, scan};
use crate::case::CaseContent;
use crate::error::{FieldError, FieldErrorKind, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the editor decided for one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Replace with the suggested label (recorded, so a later change of suggestion, e.g. a
    /// vendor's letter, does not silently change published text).
    Accepted(String),
    /// Replace with a label of the editor's choosing.
    Relabelled(String),
    /// Keep as written, for the stated reason (e.g. 改元日で全国共通のため).
    Ignored(String),
}

const MAX_REASON: usize = 500;

impl Decision {
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Accepted(_) => "accepted",
            Decision::Relabelled(_) => "relabelled",
            Decision::Ignored(_) => "ignored",
        }
    }

    /// The label or the reason.
    pub fn value(&self) -> &str {
        match self {
            Decision::Accepted(v) | Decision::Relabelled(v) | Decision::Ignored(v) => v,
        }
    }

    /// The replacement, unless the text is kept.
    pub fn label(&self) -> Option<&str> {
        match self {
            Decision::Accepted(l) | Decision::Relabelled(l) => Some(l),
            Decision::Ignored(_) => None,
        }
    }

    /// From a stored row or a form: `decision` is the code, `value` the label or reason.
    pub fn parse(decision: &str, value: &str) -> Result<Decision, FieldError> {
        let v = value.trim().to_owned();
        let d = match decision.trim() {
            "accepted" => Decision::Accepted(v),
            "relabelled" => Decision::Relabelled(v),
            "ignored" => Decision::Ignored(v),
            other => {
                return Err(FieldError::new(
                    "decision",
                    FieldErrorKind::UnknownCode { code: other.into() },
                ));
            }
        };
        d.check()?;
        Ok(d)
    }

    fn check(&self) -> Result<(), FieldError> {
        let (field, max) = match self {
            Decision::Ignored(_) => ("reason", MAX_REASON),
            _ => ("label", MAX_LABEL),
        };
        let v = self.value().trim();
        if v.is_empty() {
            return Err(FieldError::required(field));
        }
        if v.chars().count() > max {
            return Err(FieldError::new(field, FieldErrorKind::TooLong { max }));
        }
        Ok(())
    }
}

/// The candidates of one case and the decisions taken so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    candidates: Vec<Candidate>,
    decisions: BTreeMap<String, Decision>,
    /// Decisions for candidates no longer in the text (kept so the store can show or drop them).
    stale: BTreeMap<String, Decision>,
}

impl Review {
    /// Pairs freshly scanned candidates with stored decisions (keyed by candidate id).
    pub fn new(candidates: Vec<Candidate>, mut decisions: BTreeMap<String, Decision>) -> Review {
        let mut kept = BTreeMap::new();
        for c in &candidates {
            if let Some(d) = decisions.remove(&c.id) {
                kept.insert(c.id.clone(), d);
            }
        }
        Review {
            candidates,
            decisions: kept,
            stale: decisions,
        }
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    pub fn candidate(&self, id: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.id == id)
    }

    pub fn decision(&self, id: &str) -> Option<&Decision> {
        self.decisions.get(id)
    }

    pub fn decisions(&self) -> &BTreeMap<String, Decision> {
        &self.decisions
    }

    pub fn stale(&self) -> &BTreeMap<String, Decision> {
        &self.stale
    }

    /// Records a decision. Accepting must name the current suggestion (a form showing an
    /// outdated one fails rather than publishing a label nobody saw); a label may not contain
    /// what it replaces.
    pub fn decide(&mut self, id: &str, d: Decision) -> Result<(), FieldError> {
        let c = self.candidate(id).ok_or_else(|| {
            FieldError::new("candidate", FieldErrorKind::UnknownCode { code: id.into() })
        })?;
        d.check()?;
        if let Decision::Accepted(l) = &d
            && l.trim() != c.suggested
        {
            return Err(FieldError::invalid(
                "label",
                format!(
                    "提案は「{}」に変わっています / the suggestion is now '{}'",
                    c.suggested, c.suggested
                ),
            ));
        }
        if let Some(l) = d.label() {
            let l: String = fold_compact(l).into_iter().collect();
            for f in &c.forms {
                let f: String = fold_compact(f).into_iter().collect();
                if l.contains(&f) {
                    return Err(FieldError::invalid(
                        "label",
                        "置換後の表記に元の表記が含まれています / the label contains what it replaces",
                    ));
                }
            }
        }
        let d = match d {
            Decision::Accepted(v) => Decision::Accepted(v.trim().into()),
            Decision::Relabelled(v) => Decision::Relabelled(v.trim().into()),
            Decision::Ignored(v) => Decision::Ignored(v.trim().into()),
        };
        self.decisions.insert(id.to_owned(), d);
        Ok(())
    }

    pub fn unresolved(&self) -> Vec<&Candidate> {
        self.candidates
            .iter()
            .filter(|c| !self.decisions.contains_key(&c.id))
            .collect()
    }

    /// Every candidate decided.
    pub fn publishable(&self) -> bool {
        self.unresolved().is_empty()
    }

    /// The editor's manual entries plus every accepted or relabelled candidate, each of its
    /// spellings mapped to its label. Errors name `manual.entries[i]…` or `decisions[<id>]…`.
    pub fn pseudonym_map(&self, manual: &PseudonymMap) -> Result<PseudonymMap, ValidationErrors> {
        let mut map = manual.clone();
        let mut errs = ValidationErrors::default();
        for c in &self.candidates {
            let Some(label) = self.decisions.get(&c.id).and_then(Decision::label) else {
                continue;
            };
            for form in &c.forms {
                if let Err(e) = map.insert(form, label) {
                    errs.push(e.within(&format!("decisions[{}]", c.id)));
                }
            }
        }
        errs.into_result(map)
    }
}

/// Everything the review screen and the sign-off need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anonymisation {
    pub review: Review,
    pub map: PseudonymMap,
    /// The case with the map applied: what the operator approves and the public sees.
    pub output: CaseContent,
    /// Candidates still found in `output` and not deliberately kept: a label that itself looks
    /// like an identifier, a directory name inside a label, or a name glued together by a
    /// replacement. Fix with a manual entry or another label.
    pub residual: Vec<Candidate>,
}

impl Anonymisation {
    pub fn publishable(&self) -> bool {
        self.review.publishable() && self.residual.is_empty()
    }
}

/// Scans the raw case, pairs the candidates with stored decisions, builds the map and applies
/// it, then scans the result again. Decisions so far are applied even when some are missing
/// (the editor previews as they go); [`Anonymisation::publishable`] is the gate.
pub fn anonymise(
    content: &CaseContent,
    directory: &Directory,
    manual: &PseudonymMap,
    decisions: BTreeMap<String, Decision>,
) -> Result<Anonymisation, ValidationErrors> {
    let review = Review::new(scan(content, directory), decisions);
    let map = review.pseudonym_map(manual)?;
    let output = map.apply(content);
    let residual = scan(&output, directory)
        .into_iter()
        .filter(|c| match review.decision(&c.id) {
            Some(Decision::Ignored(_)) => false,
            Some(_) => true,
            // Undecided ones are already listed as unresolved.
            None => review.candidate(&c.id).is_none(),
        })
        .collect();
    Ok(Anonymisation {
        review,
        map,
        output,
        residual,
    })
}
