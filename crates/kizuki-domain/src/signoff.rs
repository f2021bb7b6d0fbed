//! The operator's sign-off of a case's anonymised text: draft → sent_to_operator → approved
//! or changes_requested → publishable → published. Every step records who and when, and a
//! content fingerprint ties each approval to exactly the text the operator saw: any change
//! after sending sends the case back to draft.
//!
//! Only the history needs storing; [`SignOff::replay`] rebuilds (and re-checks) the state.

use crate::anonymise::Anonymisation;
use crate::case::{ActorKind, CaseContent, Step};
use crate::clock::Clock;
use crate::error::FieldError;
use crate::ids::UserId;
use crate::user::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

// ---------------------------------------------------------------- fingerprint

/// A stable digest of a case's content (FNV-1a, 128 bits, over a length-prefixed encoding of
/// every field). It detects change; it is not a defence against someone forging a collision,
/// which is not the threat here (the editor who could forge one can edit the text anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Fingerprint(u128);

const FNV_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
const PREFIX: &str = "fnv1a128:";

struct Fnv(u128);

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u128::from(x);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    fn len(&mut self, n: usize) {
        self.u64(u64::try_from(n).unwrap_or(u64::MAX));
    }

    // Length first, so ("ab", "c") and ("a", "bc") differ.
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.bytes(s.as_bytes());
    }

    fn strs(&mut self, v: &[String]) {
        self.len(v.len());
        v.iter().for_each(|s| self.str(s));
    }

    fn steps(&mut self, v: &[Step]) {
        self.len(v.len());
        for s in v {
            self.u64(u64::from(s.number));
            self.str(&s.text);
            self.strs(&s.actors);
        }
    }
}

// Spelled out rather than taken from serde so that renaming a variant cannot silently change
// every stored fingerprint; a new variant fails to compile here until given a code.
fn kind_code(k: ActorKind) -> &'static str {
    match k {
        ActorKind::Operator => "operator",
        ActorKind::Department => "department",
        ActorKind::Vendor => "vendor",
        ActorKind::System => "system",
        ActorKind::Store => "store",
        ActorKind::Customer => "customer",
        ActorKind::Attacker => "attacker",
        ActorKind::ThirdParty => "third_party",
    }
}

/// The fingerprint of everything that is published: texts, actors (keys, labels, kinds,
/// groups: the diagram), steps and their actors, sections and lessons.
pub fn fingerprint(c: &CaseContent) -> Fingerprint {
    let mut h = Fnv(FNV_OFFSET);
    h.str("kizuki-case-v1");
    h.u64(u64::from(c.number));
    h.str(c.category.as_str());
    h.str(&c.title);
    h.str(&c.impact);
    h.str(&c.cause);
    h.strs(&c.overview);
    h.len(c.actors.len());
    for a in &c.actors {
        h.str(&a.key);
        h.str(&a.label);
        h.str(kind_code(a.kind));
        match &a.group {
            Some(g) => {
                h.bytes(&[1]);
                h.str(g);
            }
            None => h.bytes(&[0]),
        }
    }
    h.steps(&c.steps);
    h.steps(&c.responses);
    for (_, pts) in c.sections.numbered() {
        h.strs(pts);
    }
    h.len(c.lessons.len());
    for l in &c.lessons {
        h.str(&l.title);
        h.str(&l.text);
    }
    Fingerprint(h.0)
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{:032x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .strip_prefix(PREFIX)
            .filter(|h| h.len() == 32)
            .and_then(|h| u128::from_str_radix(h, 16).ok())
            .map(Fingerprint)
            .ok_or_else(|| {
                FieldError::invalid(
                    "fingerprint",
                    format!("expected {PREFIX} and 32 hex digits"),
                )
            })
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.to_string()
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = FieldError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

// ---------------------------------------------------------------- states and actions

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOffState {
    #[default]
    Draft,
    SentToOperator,
    Approved,
    ChangesRequested,
    Publishable,
    Published,
}

impl SignOffState {
    pub const ALL: [SignOffState; 6] = [
        SignOffState::Draft,
        SignOffState::SentToOperator,
        SignOffState::Approved,
        SignOffState::ChangesRequested,
        SignOffState::Publishable,
        SignOffState::Published,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SignOffState::Draft => "draft",
            SignOffState::SentToOperator => "sent_to_operator",
            SignOffState::Approved => "approved",
            SignOffState::ChangesRequested => "changes_requested",
            SignOffState::Publishable => "publishable",
            SignOffState::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<SignOffState> {
        SignOffState::ALL.into_iter().find(|k| k.code() == s.trim())
    }

    /// The editor's actions that can follow this state (by [`Action::code`]), so a page offers
    /// only those; `apply` remains the rule.
    pub fn editor_actions(self) -> &'static [&'static str] {
        match self {
            SignOffState::Draft | SignOffState::ChangesRequested => &["send"],
            SignOffState::SentToOperator | SignOffState::Published => &["withdraw"],
            SignOffState::Approved => &["mark_publishable", "withdraw"],
            SignOffState::Publishable => &["publish", "withdraw"],
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            SignOffState::Draft => "作成中",
            SignOffState::SentToOperator => "事業者確認中",
            SignOffState::Approved => "事業者承認済み",
            SignOffState::ChangesRequested => "修正依頼あり",
            SignOffState::Publishable => "公開可",
            SignOffState::Published => "公開中",
        }
    }
}

impl fmt::Display for SignOffState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What someone did. Carries what the step is about: the fingerprint of the text concerned,
/// or the operator's comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Editor sends the anonymised text to the operator.
    Send {
        fingerprint: Fingerprint,
    },
    /// Operator approves the text they were shown.
    Approve {
        fingerprint: Fingerprint,
    },
    /// Operator asks for changes.
    RequestChanges {
        comments: String,
    },
    /// Editor confirms the approved text is fully anonymised and may go out.
    MarkPublishable {
        fingerprint: Fingerprint,
    },
    Publish {
        fingerprint: Fingerprint,
    },
    /// The anonymised content changed after it was sent: back to draft.
    Reopen {
        fingerprint: Fingerprint,
    },
    /// Editor takes the case back (off the portal, if it was there).
    Withdraw {
        reason: String,
    },
}

impl Action {
    pub fn code(&self) -> &'static str {
        match self {
            Action::Send { .. } => "send",
            Action::Approve { .. } => "approve",
            Action::RequestChanges { .. } => "request_changes",
            Action::MarkPublishable { .. } => "mark_publishable",
            Action::Publish { .. } => "publish",
            Action::Reopen { .. } => "reopen",
            Action::Withdraw { .. } => "withdraw",
        }
    }

    pub fn fingerprint(&self) -> Option<Fingerprint> {
        match self {
            Action::Send { fingerprint }
            | Action::Approve { fingerprint }
            | Action::MarkPublishable { fingerprint }
            | Action::Publish { fingerprint }
            | Action::Reopen { fingerprint } => Some(*fingerprint),
            Action::RequestChanges { .. } | Action::Withdraw { .. } => None,
        }
    }

    fn allowed(&self, role: Role) -> bool {
        match self {
            Action::Approve { .. } | Action::RequestChanges { .. } => {
                matches!(role, Role::Reporter | Role::OperatorAdmin)
            }
            // Analysts write cases too, and their edits reopen a sent case.
            Action::Reopen { .. } => matches!(role, Role::Editor | Role::Analyst),
            _ => role == Role::Editor,
        }
    }
}

/// Who acted. Whether an operator user belongs to the case's operator is for the caller to
/// check; the domain checks the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    pub user: UserId,
    pub role: Role,
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: SignOffState,
    pub to: SignOffState,
    #[serde(flatten)]
    pub action: Action,
    pub by: Signer,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignOffError {
    #[error("cannot {action} a case in state {state}")]
    Illegal {
        action: &'static str,
        state: SignOffState,
    },
    #[error("a user with role {role} may not {action}")]
    Forbidden { action: &'static str, role: Role },
    #[error("the text changed since it was sent ({expected} was sent, {got} is current)")]
    Stale {
        expected: Fingerprint,
        got: Fingerprint,
    },
    #[error("not fully anonymised: {unresolved} candidate(s) undecided, {residual} still showing")]
    NotAnonymised { unresolved: usize, residual: usize },
    #[error("{0}")]
    Field(FieldError),
    #[error("history entry {index} does not replay: {reason}")]
    Replay { index: usize, reason: String },
}

impl SignOffError {
    pub fn message_ja(&self) -> String {
        match self {
            SignOffError::Illegal { action, state } => {
                format!("「{}」の状態では{action}できません", state.label_ja())
            }
            SignOffError::Forbidden { role, .. } => {
                format!("{}はこの操作を行えません", role.label_ja())
            }
            SignOffError::Stale { .. } => {
                "送付後に本文が変更されています。最新の本文を確認してください".into()
            }
            SignOffError::NotAnonymised {
                unresolved,
                residual,
            } => format!("匿名化が完了していません（未判断{unresolved}件、残存{residual}件）"),
            SignOffError::Field(e) => e.message_ja(),
            SignOffError::Replay { index, reason } => {
                format!("履歴{index}件目が再現できません: {reason}")
            }
        }
    }
}

const MAX_COMMENTS: usize = 5000;

fn checked(a: &Anonymisation) -> Result<Fingerprint, SignOffError> {
    if a.publishable() {
        Ok(fingerprint(&a.output))
    } else {
        Err(SignOffError::NotAnonymised {
            unresolved: a.review.unresolved().len(),
            residual: a.residual.len(),
        })
    }
}

/// The sign-off of one case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    history: Vec<Transition>,
}

impl SignOff {
    pub fn new() -> SignOff {
        SignOff::default()
    }

    /// Rebuilds from stored history, checking that every step was legal and that its recorded
    /// states are the ones the rules give (a hand-edited row is caught, not believed).
    pub fn replay(history: Vec<Transition>) -> Result<SignOff, SignOffError> {
        let mut s = SignOff::new();
        for (index, t) in history.into_iter().enumerate() {
            if t.from != s.state() {
                return Err(SignOffError::Replay {
                    index,
                    reason: format!("recorded from {} but the case was {}", t.from, s.state()),
                });
            }
            let to = s
                .apply(t.action, t.by, t.at)
                .map_err(|e| SignOffError::Replay {
                    index,
                    reason: e.to_string(),
                })?
                .to;
            if to != t.to {
                return Err(SignOffError::Replay {
                    index,
                    reason: format!("recorded to {} but the rules give {to}", t.to),
                });
            }
        }
        Ok(s)
    }

    pub fn state(&self) -> SignOffState {
        self.history.last().map(|t| t.to).unwrap_or_default()
    }

    pub fn history(&self) -> &[Transition] {
        &self.history
    }

    /// The fingerprint of the text currently under sign-off (sent, approved, publishable or
    /// published); `None` in draft.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        match self.state() {
            SignOffState::Draft => None,
            _ => self.history.iter().rev().find_map(|t| match t.action {
                Action::Send { fingerprint } => Some(fingerprint),
                _ => None,
            }),
        }
    }

    /// The operator's comments when changes were requested.
    pub fn comments(&self) -> Option<&str> {
        match (self.state(), self.history.last().map(|t| &t.action)) {
            (SignOffState::ChangesRequested, Some(Action::RequestChanges { comments })) => {
                Some(comments)
            }
            _ => None,
        }
    }

    /// The version that is on the public portal: the last one published and not withdrawn.
    /// It stays there while a later edit goes through sign-off again, since it was approved;
    /// the portal serves the snapshot with this fingerprint, never the live case.
    pub fn live(&self) -> Option<(Fingerprint, DateTime<Utc>)> {
        for t in self.history.iter().rev() {
            match t.action {
                Action::Withdraw { .. } => return None,
                Action::Publish { fingerprint } => return Some((fingerprint, t.at)),
                _ => {}
            }
        }
        None
    }

    /// Sends the anonymised text for approval. Only a fully anonymised text goes out, so
    /// what the operator approves is exactly what would be published.
    pub fn send(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        anonymised: &Anonymisation,
    ) -> Result<&Transition, SignOffError> {
        let fingerprint = checked(anonymised)?;
        self.apply(Action::Send { fingerprint }, by, clock.now())
    }

    /// `seen` is the fingerprint of the text the operator was shown (posted back by the form).
    pub fn approve(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        seen: Fingerprint,
    ) -> Result<&Transition, SignOffError> {
        self.apply(Action::Approve { fingerprint: seen }, by, clock.now())
    }

    pub fn request_changes(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        comments: &str,
    ) -> Result<&Transition, SignOffError> {
        self.apply(
            Action::RequestChanges {
                comments: comments.trim().to_owned(),
            },
            by,
            clock.now(),
        )
    }

    /// Needs the anonymisation of the current content: still fully decided with nothing
    /// showing (the directory may have grown since), and its output the text approved.
    pub fn mark_publishable(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        anonymised: &Anonymisation,
    ) -> Result<&Transition, SignOffError> {
        let fingerprint = checked(anonymised)?;
        self.apply(Action::MarkPublishable { fingerprint }, by, clock.now())
    }

    /// The same checks once more at the moment of publication.
    pub fn publish(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        anonymised: &Anonymisation,
    ) -> Result<&Transition, SignOffError> {
        let fingerprint = checked(anonymised)?;
        self.apply(Action::Publish { fingerprint }, by, clock.now())
    }

    /// Call after every save of a case (or of its pseudonym map or decisions) with the
    /// fingerprint of the new anonymised output. Sends the case back to draft when the text
    /// under sign-off changed; otherwise records nothing.
    pub fn content_changed(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        current: Fingerprint,
    ) -> Result<Option<&Transition>, SignOffError> {
        let reopen = match self.state() {
            SignOffState::Draft | SignOffState::ChangesRequested => false,
            _ => self.fingerprint() != Some(current),
        };
        if !reopen {
            return Ok(None);
        }
        self.apply(
            Action::Reopen {
                fingerprint: current,
            },
            by,
            clock.now(),
        )
        .map(Some)
    }

    pub fn withdraw(
        &mut self,
        by: Signer,
        clock: &dyn Clock,
        reason: &str,
    ) -> Result<&Transition, SignOffError> {
        self.apply(
            Action::Withdraw {
                reason: reason.trim().to_owned(),
            },
            by,
            clock.now(),
        )
    }

    /// The rules, in one place: every public method and [`SignOff::replay`] come through here.
    pub fn apply(
        &mut self,
        action: Action,
        by: Signer,
        at: DateTime<Utc>,
    ) -> Result<&Transition, SignOffError> {
        use SignOffState as S;
        let from = self.state();
        let name = action.code();
        let illegal = || SignOffError::Illegal {
            action: name,
            state: from,
        };
        let held = self.fingerprint();
        let same_text = |got: Fingerprint| match held {
            Some(expected) if expected != got => Err(SignOffError::Stale { expected, got }),
            _ => Ok(()),
        };
        let to = match (&action, from) {
            (Action::Send { .. }, S::Draft | S::ChangesRequested) => S::SentToOperator,
            (Action::Approve { fingerprint }, S::SentToOperator) => {
                same_text(*fingerprint)?;
                S::Approved
            }
            (Action::RequestChanges { comments }, S::SentToOperator) => {
                if comments.trim().is_empty() {
                    return Err(SignOffError::Field(FieldError::required("comments")));
                }
                if comments.chars().count() > MAX_COMMENTS {
                    return Err(SignOffError::Field(FieldError::new(
                        "comments",
                        crate::error::FieldErrorKind::TooLong { max: MAX_COMMENTS },
                    )));
                }
                S::ChangesRequested
            }
            (Action::MarkPublishable { fingerprint }, S::Approved) => {
                same_text(*fingerprint)?;
                S::Publishable
            }
            (Action::Publish { fingerprint }, S::Publishable) => {
                same_text(*fingerprint)?;
                S::Published
            }
            (
                Action::Reopen { fingerprint },
                S::SentToOperator | S::Approved | S::Publishable | S::Published,
            ) => {
                if held == Some(*fingerprint) {
                    // Nothing changed; reopening would throw away a valid approval.
                    return Err(illegal());
                }
                S::Draft
            }
            (
                Action::Withdraw { reason },
                S::SentToOperator | S::Approved | S::Publishable | S::Published,
            ) => {
                if reason.trim().is_empty() {
                    return Err(SignOffError::Field(FieldError::required("reason")));
                }
                S::Draft
            }
            _ => return Err(illegal()),
        };
        if !action.allowed(by.role) {
            return Err(SignOffError::Forbidden {
                action: name,
                role: by.role,
            });
        }
        self.history.push(Transition {
            from,
            to,
            action,
            by,
            at,
        });
        self.history.last().ok_or_else(illegal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymise::{Directory, PseudonymMap, anonymise};
    use crate::case::{Actor, Lesson, Sections};
    use crate::clock::FixedClock;
    use crate::taxonomy::Code;
    use std::collections::BTreeMap;

    fn content() -> CaseContent {
        CaseContent {
            number: 1,
            category: Code("system-failure".into()),
            title: "改元に伴うシステム変更トラブルへの対応".into(),
            impact: "提供日が誤って表示された。".into(),
            cause: "切り替え日の認識違い。".into(),
            overview: vec!["a".into(), "b".into(), "c".into()],
            actors: vec![
                Actor {
                    key: "op".into(),
                    label: "重要インフラ事業者".into(),
                    kind: ActorKind::Operator,
                    group: None,
                },
                Actor {
                    key: "sys".into(),
                    label: "基幹システム".into(),
                    kind: ActorKind::System,
                    group: Some("op".into()),
                },
            ],
            steps: vec![Step {
                number: 1,
                text: "誤表示".into(),
                actors: vec!["sys".into()],
                time: None,
            }],
            responses: vec![Step {
                number: 1,
                text: "周知".into(),
                actors: vec!["op".into()],
                time: None,
            }],
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

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    const EDITOR: Signer = Signer {
        user: UserId(2),
        role: Role::Editor,
    };
    const OPERATOR: Signer = Signer {
        user: UserId(5),
        role: Role::Reporter,
    };

    fn ready(c: &CaseContent) -> Anonymisation {
        anonymise(
            c,
            &Directory::default(),
            &PseudonymMap::new(),
            BTreeMap::new(),
        )
        .unwrap()
    }

    #[test]
    fn fnv1a_128_matches_the_published_test_vectors() {
        let h = |b: &[u8]| {
            let mut f = Fnv(FNV_OFFSET);
            f.bytes(b);
            f.0
        };
        assert_eq!(h(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(h(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
        assert_eq!(h(b"foobar"), 0x343e1662793c64bf6f0d3597ba446f18);
    }

    #[test]
    fn the_fingerprint_is_pinned_and_sees_every_field() {
        let c = content();
        // Pinned (and recomputed independently outside Rust when written): stored sign-offs
        // compare against it, so the encoding must never drift.
        assert_eq!(
            fingerprint(&c).to_string(),
            "fnv1a128:e5ac732e97ed8c07797a3773ebc32011"
        );
        let base = fingerprint(&c);
        type Change = Box<dyn Fn(&mut CaseContent)>;
        let changes: Vec<(&str, Change)> = vec![
            ("number", Box::new(|c| c.number = 2)),
            ("category", Box::new(|c| c.category = Code("x".into()))),
            ("title", Box::new(|c| c.title.push('。'))),
            ("impact", Box::new(|c| c.impact.clear())),
            ("cause", Box::new(|c| c.cause.push(' '))),
            ("overview", Box::new(|c| c.overview.swap(0, 1))),
            ("actor key", Box::new(|c| c.actors[1].key = "sys2".into())),
            (
                "actor label",
                Box::new(|c| c.actors[0].label = "事業者".into()),
            ),
            (
                "actor kind",
                Box::new(|c| c.actors[1].kind = ActorKind::Vendor),
            ),
            ("actor group", Box::new(|c| c.actors[1].group = None)),
            ("step text", Box::new(|c| c.steps[0].text.push('!'))),
            (
                "step actors",
                Box::new(|c| c.steps[0].actors.push("op".into())),
            ),
            ("responses", Box::new(|c| c.responses[0].number = 2)),
            ("section", Box::new(|c| c.sections.cause[0] = "C".into())),
            (
                "section moved",
                Box::new(|c| {
                    let d = c.sections.detection.remove(0);
                    c.sections.background.push(d);
                }),
            ),
            ("lesson", Box::new(|c| c.lessons[0].title = "T".into())),
        ];
        for (what, change) in changes {
            let mut d = content();
            change(&mut d);
            assert_ne!(fingerprint(&d), base, "{what}");
        }
        // Boundaries between fields are part of the encoding.
        let mut a = content();
        a.overview = vec!["ab".into(), "c".into()];
        let mut b = content();
        b.overview = vec!["a".into(), "bc".into()];
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(base.to_string().parse::<Fingerprint>().unwrap(), base);
        assert_eq!(
            "md5:00".parse::<Fingerprint>().unwrap_err().field,
            "fingerprint"
        );
    }

    #[test]
    fn the_happy_path_records_who_and_when_and_replays() {
        let clock = FixedClock::new(at("2020-01-10T01:00:00Z"));
        let c = content();
        let a = ready(&c);
        let fp = fingerprint(&c);
        let mut s = SignOff::new();
        assert_eq!(s.state(), SignOffState::Draft);
        assert_eq!(s.fingerprint(), None);
        // What a page offers the editor at each step is exactly the step the path takes next.
        assert_eq!(s.state().editor_actions(), ["send"]);
        assert!(s.publish(EDITOR, &clock, &a).is_err());
        s.send(EDITOR, &clock, &a).unwrap();
        assert!(!s.state().editor_actions().contains(&"publish"));
        assert!(s.mark_publishable(EDITOR, &clock, &a).is_err());
        assert_eq!(
            s.fingerprint(),
            Some(fp),
            "nothing to replace: output is the case"
        );
        clock.advance(chrono::Duration::days(3));
        s.approve(OPERATOR, &clock, fp).unwrap();
        clock.advance(chrono::Duration::hours(1));
        assert!(s.state().editor_actions().contains(&"mark_publishable"));
        s.mark_publishable(EDITOR, &clock, &a).unwrap();
        assert!(s.state().editor_actions().contains(&"publish"));
        s.publish(EDITOR, &clock, &a).unwrap();
        assert_eq!(s.state(), SignOffState::Published);
        assert_eq!(s.state().editor_actions(), ["withdraw"]);
        assert!(s.publish(EDITOR, &clock, &a).is_err());
        assert_eq!(s.live(), Some((fp, at("2020-01-13T02:00:00Z"))));
        let h = s.history();
        assert_eq!(h.len(), 4);
        assert_eq!(h[1].by, OPERATOR);
        assert_eq!(h[1].at, at("2020-01-13T01:00:00Z"));
        assert_eq!(
            (h[1].from, h[1].to),
            (SignOffState::SentToOperator, SignOffState::Approved)
        );
        let json = serde_json::to_string(h).unwrap();
        assert!(json.contains(r#""action":"approve""#), "{json}");
        let back: Vec<Transition> = serde_json::from_str(&json).unwrap();
        assert_eq!(SignOff::replay(back).unwrap(), s);
    }

    #[test]
    fn changes_requested_then_resent() {
        let clock = FixedClock::new(at("2020-01-10T01:00:00Z"));
        let mut s = SignOff::new();
        let c1 = content();
        let v1 = fingerprint(&c1);
        s.send(EDITOR, &clock, &ready(&c1)).unwrap();
        let e = s.request_changes(OPERATOR, &clock, "  ").unwrap_err();
        assert_eq!(e, SignOffError::Field(FieldError::required("comments")));
        s.request_changes(OPERATOR, &clock, "部署名を伏せてください")
            .unwrap();
        assert_eq!(s.comments(), Some("部署名を伏せてください"));
        // Editing while changes are requested is expected and records nothing.
        let mut c2 = content();
        c2.actors[1].label = "システム".into();
        let v2 = fingerprint(&c2);
        assert_eq!(s.content_changed(EDITOR, &clock, v2).unwrap(), None);
        s.send(EDITOR, &clock, &ready(&c2)).unwrap();
        assert_eq!(s.fingerprint(), Some(v2));
        assert_eq!(s.comments(), None);
        // Approving what was shown before the resend is refused.
        assert!(matches!(
            s.approve(OPERATOR, &clock, v1),
            Err(SignOffError::Stale { expected, got }) if expected == v2 && got == v1
        ));
        s.approve(OPERATOR, &clock, v2).unwrap();
        assert_eq!(s.state(), SignOffState::Approved);
    }

    #[test]
    fn any_change_after_sending_goes_back_to_draft_but_the_published_version_stays_live() {
        let clock = FixedClock::new(at("2020-01-10T01:00:00Z"));
        let c = content();
        let v1 = fingerprint(&c);
        let mut s = SignOff::new();
        s.send(EDITOR, &clock, &ready(&c)).unwrap();
        s.approve(OPERATOR, &clock, v1).unwrap();
        assert_eq!(s.content_changed(EDITOR, &clock, v1).unwrap(), None);
        s.mark_publishable(EDITOR, &clock, &ready(&c)).unwrap();
        s.publish(EDITOR, &clock, &ready(&c)).unwrap();

        let mut edited = c.clone();
        edited.lessons[0].text.push_str("追記");
        let v2 = fingerprint(&edited);
        let analyst = Signer {
            user: UserId(3),
            role: Role::Analyst,
        };
        let t = s.content_changed(analyst, &clock, v2).unwrap().unwrap();
        assert_eq!(
            (t.from, t.to, t.by),
            (SignOffState::Published, SignOffState::Draft, analyst)
        );
        assert_eq!(s.state(), SignOffState::Draft);
        assert_eq!(s.live().map(|l| l.0), Some(v1), "approved text stays up");
        s.send(EDITOR, &clock, &ready(&edited)).unwrap();
        s.withdraw(EDITOR, &clock, "事業者の要望により取り下げ")
            .unwrap();
        assert_eq!(s.live(), None);
        for approved in [false, true] {
            let mut s = SignOff::new();
            s.send(EDITOR, &clock, &ready(&c)).unwrap();
            if approved {
                s.approve(OPERATOR, &clock, v1).unwrap();
            }
            s.content_changed(EDITOR, &clock, v2).unwrap();
            assert_eq!(s.state(), SignOffState::Draft, "approved: {approved}");
        }
    }

    #[test]
    fn illegal_steps_name_the_state_and_wrong_roles_are_refused() {
        let clock = FixedClock::new(at("2020-01-10T01:00:00Z"));
        let c = content();
        let a = ready(&c);
        let fp = fingerprint(&c);
        let mut s = SignOff::new();
        let e = s.publish(EDITOR, &clock, &a).unwrap_err();
        assert_eq!(
            e,
            SignOffError::Illegal {
                action: "publish",
                state: SignOffState::Draft
            }
        );
        assert!(e.to_string().contains("draft"));
        assert!(e.message_ja().contains("作成中"));
        assert!(matches!(
            s.approve(OPERATOR, &clock, fp),
            Err(SignOffError::Illegal {
                state: SignOffState::Draft,
                ..
            })
        ));
        assert_eq!(
            s.send(OPERATOR, &clock, &a).unwrap_err(),
            SignOffError::Forbidden {
                action: "send",
                role: Role::Reporter
            }
        );
        s.send(EDITOR, &clock, &a).unwrap();
        assert!(matches!(
            s.approve(EDITOR, &clock, fp),
            Err(SignOffError::Forbidden { .. })
        ));
        assert!(matches!(
            s.send(EDITOR, &clock, &a),
            Err(SignOffError::Illegal {
                state: SignOffState::SentToOperator,
                ..
            })
        ));
        assert!(matches!(
            s.mark_publishable(EDITOR, &clock, &a),
            Err(SignOffError::Illegal {
                state: SignOffState::SentToOperator,
                ..
            })
        ));
        assert_eq!(s.history().len(), 1, "refused steps leave no trace");
    }

    #[test]
    fn only_fully_anonymised_text_is_sent_marked_or_published() {
        let clock = FixedClock::new(at("2020-01-10T01:00:00Z"));
        let mut c = content();
        c.sections.detection[0] = "4月26日に検知".into();
        let mut s = SignOff::new();
        assert_eq!(
            s.send(EDITOR, &clock, &ready(&c)).unwrap_err(),
            SignOffError::NotAnonymised {
                unresolved: 1,
                residual: 0
            }
        );
        let decided = |dir: &Directory| {
            anonymise(
                &c,
                dir,
                &PseudonymMap::new(),
                [(
                    "date:--04-26".to_owned(),
                    crate::anonymise::Decision::Accepted("4月下旬".into()),
                )]
                .into(),
            )
            .unwrap()
        };
        let a = decided(&Directory::default());
        s.send(EDITOR, &clock, &a).unwrap();
        let fp = fingerprint(&a.output);
        assert_ne!(
            fp,
            fingerprint(&c),
            "the operator approves the anonymised text"
        );
        s.approve(OPERATOR, &clock, fp).unwrap();
        // A name added to the directory after approval shows up in the text: not publishable.
        let grown = Directory::new(vec![
            crate::anonymise::KnownName::new(
                "user-1",
                crate::anonymise::NameKind::Person,
                vec!["検知".into()],
            )
            .unwrap(),
        ])
        .unwrap();
        assert!(matches!(
            s.mark_publishable(EDITOR, &clock, &decided(&grown)),
            Err(SignOffError::NotAnonymised { unresolved: 1, .. })
        ));
        // A content change the caller failed to report is still caught.
        let mut edited = c.clone();
        edited.title.push('。');
        let other = anonymise(
            &edited,
            &Directory::default(),
            &PseudonymMap::new(),
            a.review.decisions().clone(),
        )
        .unwrap();
        assert!(matches!(
            s.mark_publishable(EDITOR, &clock, &other),
            Err(SignOffError::Stale { .. })
        ));
        s.mark_publishable(EDITOR, &clock, &a).unwrap();
    }

    #[test]
    fn tampered_history_does_not_replay() {
        let clock = FixedClock::new(at("2020-01-10T01:00:00Z"));
        let c = content();
        let fp = fingerprint(&c);
        let mut s = SignOff::new();
        s.send(EDITOR, &clock, &ready(&c)).unwrap();
        s.approve(OPERATOR, &clock, fp).unwrap();
        let mut h = s.history().to_vec();
        h[1].to = SignOffState::Published;
        assert!(matches!(
            SignOff::replay(h),
            Err(SignOffError::Replay { index: 1, .. })
        ));
        let mut h = s.history().to_vec();
        h.remove(0);
        assert!(matches!(
            SignOff::replay(h),
            Err(SignOffError::Replay { index: 0, .. })
        ));
    }
}
