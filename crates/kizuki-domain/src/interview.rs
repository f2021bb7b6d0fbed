//! Interviews (ヒアリング) with the operator of a selected case: the centre's request and the
//! operator's answers, the minutes and their statements, and what the operator consents each
//! statement may be used for. Also the rule that finds case text drawn from a statement the
//! operator did not let the centre publish.

use crate::anonymise::text_fields;
use crate::case::{CaseContent, SECTION_HEADINGS};
use crate::error::{FieldError, ValidationErrors, text};
use crate::ids::UserId;
use crate::text::bigrams;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Where the interview takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    OnSite,
    Online,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::OnSite, Mode::Online];

    pub fn code(self) -> &'static str {
        match self {
            Mode::OnSite => "on_site",
            Mode::Online => "online",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.code() == s.trim())
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Mode::OnSite => "訪問",
            Mode::Online => "オンライン",
        }
    }
}

/// One of the six sections of a case a question or statement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Background,
    Detection,
    Response,
    Cause,
    Countermeasures,
    Lessons,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Background,
        Part::Detection,
        Part::Response,
        Part::Cause,
        Part::Countermeasures,
        Part::Lessons,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Part::Background => "background",
            Part::Detection => "detection",
            Part::Response => "response",
            Part::Cause => "cause",
            Part::Countermeasures => "countermeasures",
            Part::Lessons => "lessons",
        }
    }

    pub fn parse(s: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.code() == s.trim())
    }

    /// The section's heading as the annual report prints it (背景, 検知 …).
    pub fn label_ja(self) -> &'static str {
        SECTION_HEADINGS[self as usize].0
    }

    pub fn label_en(self) -> &'static str {
        SECTION_HEADINGS[self as usize].1
    }
}

/// How the operator lets the centre use a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// May be quoted as said.
    Quotation,
    /// May be used in the centre's own words.
    Paraphrase,
    /// Background for the centre only; nothing drawn from it may be published.
    NotForPublication,
}

impl Usage {
    pub const ALL: [Usage; 3] = [
        Usage::Quotation,
        Usage::Paraphrase,
        Usage::NotForPublication,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Usage::Quotation => "quotation",
            Usage::Paraphrase => "paraphrase",
            Usage::NotForPublication => "not_for_publication",
        }
    }

    pub fn parse(s: &str) -> Option<Usage> {
        Usage::ALL.into_iter().find(|u| u.code() == s.trim())
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Usage::Quotation => "引用可",
            Usage::Paraphrase => "要約して使用可",
            Usage::NotForPublication => "公表不可",
        }
    }
}

/// Which numbered list of the case timeline a statement rests under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepList {
    /// What happened ((1)(2)(3)).
    Steps,
    /// What was done about it (対処1..n).
    Responses,
}

/// A step or response of the case timeline, by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepRef {
    pub list: StepList,
    pub number: u32,
}

impl StepRef {
    /// `step:3` or `response:2`, as forms and the API carry it.
    pub fn code(self) -> String {
        let list = match self.list {
            StepList::Steps => "step",
            StepList::Responses => "response",
        };
        format!("{list}:{}", self.number)
    }

    pub fn parse(s: &str) -> Option<StepRef> {
        let (list, n) = s.trim().split_once(':')?;
        let list = match list {
            "step" => StepList::Steps,
            "response" => StepList::Responses,
            _ => return None,
        };
        let number = n.parse().ok().filter(|n| *n >= 1)?;
        Some(StepRef { list, number })
    }

    /// 「(3)」 for a step, 「対処2」 for a response, as the case text numbers them.
    pub fn label_ja(self) -> String {
        match self.list {
            StepList::Steps => format!("({})", self.number),
            StepList::Responses => format!("対処{}", self.number),
        }
    }

    /// Whether the case has this step or response.
    pub fn exists_in(self, c: &CaseContent) -> bool {
        let list = match self.list {
            StepList::Steps => &c.steps,
            StepList::Responses => &c.responses,
        };
        list.iter().any(|s| s.number == self.number)
    }
}

/// The centre's request for an interview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub mode: Mode,
    /// The dates and times the centre proposes (Japan time), earliest first.
    pub proposed: Vec<NaiveDateTime>,
    /// The place (on site) or how to join (online).
    pub place: String,
    /// Who comes from the centre.
    pub attendees: String,
    /// What the interview is for, what to prepare.
    pub note: String,
    pub sent_by: UserId,
    pub sent_at: DateTime<Utc>,
    /// 1 for the first request, one more each time the centre sends it again; an answer
    /// belongs to the round it answered.
    #[serde(default = "first_round")]
    pub round: u32,
}

fn first_round() -> u32 {
    1
}

/// The operator's reply to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reply")]
pub enum Reply {
    /// Agreed to one of the proposed dates.
    Accepted {
        on: NaiveDateTime,
    },
    /// Asked for other dates.
    Proposed {
        proposed: Vec<NaiveDateTime>,
    },
    Declined,
}

impl Reply {
    pub fn code(&self) -> &'static str {
        match self {
            Reply::Accepted { .. } => "accepted",
            Reply::Proposed { .. } => "proposed",
            Reply::Declined => "declined",
        }
    }
}

/// An answer as recorded: the reply, who will attend from the operator, and a note (the
/// reason of a decline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(flatten)]
    pub reply: Reply,
    pub attendees: String,
    pub note: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
    /// The request's round this answers.
    #[serde(default = "first_round")]
    pub round: u32,
}

/// What the operator agreed a statement may be used for, and who said so when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub usage: Usage,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// One statement of the minutes: who said what, and where in the case it belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Stable within the interview (1, 2, 3… never reused), so links and consent survive
    /// reordering.
    pub id: u32,
    pub speaker: String,
    pub text: String,
    pub part: Option<Part>,
    pub step: Option<StepRef>,
    /// `None` until the operator's consent is recorded (the review lists such statements as
    /// awaiting consent).
    pub consent: Option<Consent>,
}

impl Statement {
    /// What the operator agreed the statement may be used for, once recorded.
    pub fn usage(&self) -> Option<Usage> {
        self.consent.as_ref().map(|c| c.usage)
    }
}

/// The interview record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    pub held_at: Option<NaiveDateTime>,
    pub place: String,
    pub attendees: String,
    pub statements: Vec<Statement>,
}

/// Everything of an interview but its written questions and attachments, which the operator
/// edits on their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterviewBody {
    pub request: Request,
    /// Every reply, oldest first (a later request is answered again).
    pub answers: Vec<Answer>,
    pub minutes: Minutes,
}

/// Where an interview stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sent; the operator has not answered the latest request.
    Requested,
    /// The operator asked for other dates.
    Proposed,
    Accepted,
    Declined,
    /// Minutes are written.
    Held,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Proposed => "proposed",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Held => "held",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Status::Requested => "依頼中",
            Status::Proposed => "日程の再提案あり",
            Status::Accepted => "日程確定",
            Status::Declined => "辞退",
            Status::Held => "実施済み",
        }
    }
}

impl InterviewBody {
    /// The answer to the latest request, if any (answers to an earlier round are history).
    pub fn current_answer(&self) -> Option<&Answer> {
        self.answers
            .last()
            .filter(|a| a.round == self.request.round)
    }

    pub fn status(&self) -> Status {
        if self.minutes.held_at.is_some() || !self.minutes.statements.is_empty() {
            return Status::Held;
        }
        match self.current_answer().map(|a| &a.reply) {
            None => Status::Requested,
            Some(Reply::Accepted { .. }) => Status::Accepted,
            Some(Reply::Proposed { .. }) => Status::Proposed,
            Some(Reply::Declined) => Status::Declined,
        }
    }

    /// The next statement id.
    pub fn next_statement_id(&self) -> u32 {
        self.minutes
            .statements
            .iter()
            .map(|s| s.id)
            .max()
            .unwrap_or(0)
            + 1
    }
}

const MAX_SHORT: usize = 500;
const MAX_NOTE: usize = 4000;
/// A statement is a paragraph or two of what was said, not the whole minutes.
pub const MAX_STATEMENT: usize = 4000;
/// Proposed dates are a handful, not a calendar.
const MAX_DATES: usize = 10;

/// A date and time as typed: `2020-02-10 14:00`, `2020-02-10T14:00` (a browser's picker) or a
/// 和暦 date and a time (`令和2年2月10日 14:00`).
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Some(t);
    }
    let (day, time) = s.rsplit_once([' ', '\u{3000}'])?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M").ok()?;
    let day: NaiveDate = crate::wareki::parse_date_strict(day.trim()).ok()?;
    Some(day.and_time(time))
}

/// Dates one per line (blank lines ignored); errors name `field`.
pub fn parse_dates(
    errs: &mut ValidationErrors,
    field: &str,
    lines: &str,
    required: bool,
) -> Vec<NaiveDateTime> {
    let mut out = Vec::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_datetime(line) {
            Some(t) => out.push(t),
            None => errs.push(FieldError::invalid(
                field,
                format!(
                    "「{line}」は日時として読めません（例: 2020-02-10 14:00） / not a date and time like 2020-02-10 14:00"
                ),
            )),
        }
    }
    if out.len() > MAX_DATES {
        errs.push(FieldError::invalid(
            field,
            format!("候補は{MAX_DATES}件まで / at most {MAX_DATES} dates"),
        ));
    }
    if required && out.is_empty() && errs.for_field(field).is_none() {
        errs.push(FieldError::required(field));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A request as typed, before it is signed with who sent it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInput {
    pub mode: Mode,
    pub proposed: Vec<NaiveDateTime>,
    pub place: String,
    pub attendees: String,
    pub note: String,
}

impl RequestInput {
    /// Errors name `mode`, `proposed`, `place`, `attendees`, `note`.
    pub fn parse(
        mode: &str,
        proposed: &str,
        place: &str,
        attendees: &str,
        note: &str,
    ) -> Result<RequestInput, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let m = Mode::parse(mode);
        if m.is_none() {
            errs.push(FieldError::invalid(
                "mode",
                "訪問かオンラインかを選んでください / choose on_site or online",
            ));
        }
        let proposed = parse_dates(&mut errs, "proposed", proposed, true);
        let place = text(&mut errs, "place", place, false, MAX_SHORT);
        let attendees = text(&mut errs, "attendees", attendees, false, MAX_SHORT);
        let note = text(&mut errs, "note", note, false, MAX_NOTE);
        match m {
            Some(mode) if errs.is_empty() => Ok(RequestInput {
                mode,
                proposed,
                place,
                attendees,
                note,
            }),
            _ => Err(errs),
        }
    }

    /// The request as sent in `round` (1 for the first).
    pub fn signed(self, by: UserId, at: DateTime<Utc>, round: u32) -> Request {
        Request {
            round,
            mode: self.mode,
            proposed: self.proposed,
            place: self.place,
            attendees: self.attendees,
            note: self.note,
            sent_by: by,
            sent_at: at,
        }
    }
}

/// An operator's reply as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerInput {
    pub reply: Reply,
    pub attendees: String,
    pub note: String,
}

impl AnswerInput {
    /// `reply` is accepted / proposed / declined; an acceptance names one of `offered` in
    /// `on`, a proposal lists its own dates in `proposed`, a decline gives its reason in
    /// `note`. Errors name those fields.
    pub fn parse(
        reply: &str,
        on: &str,
        proposed: &str,
        attendees: &str,
        note: &str,
        offered: &[NaiveDateTime],
    ) -> Result<AnswerInput, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let attendees = text(&mut errs, "attendees", attendees, false, MAX_SHORT);
        let note = text(&mut errs, "note", note, false, MAX_NOTE);
        let reply = match reply.trim() {
            "accepted" => match parse_datetime(on) {
                Some(t) if offered.contains(&t) => Some(Reply::Accepted { on: t }),
                _ => {
                    errs.push(FieldError::invalid(
                        "on",
                        "提案された日時から一つ選んでください / choose one of the proposed dates",
                    ));
                    None
                }
            },
            "proposed" => {
                let dates = parse_dates(&mut errs, "proposed", proposed, true);
                Some(Reply::Proposed { proposed: dates })
            }
            "declined" => {
                if note.is_empty() {
                    errs.push(FieldError::invalid(
                        "note",
                        "辞退の理由を書いてください / a decline needs its reason",
                    ));
                }
                Some(Reply::Declined)
            }
            _ => {
                errs.push(FieldError::invalid(
                    "reply",
                    "受諾・日程の再提案・辞退のどれかを選んでください / choose accepted, proposed or declined",
                ));
                None
            }
        };
        match reply {
            Some(reply) if errs.is_empty() => Ok(AnswerInput {
                reply,
                attendees,
                note,
            }),
            _ => Err(errs),
        }
    }
}

/// A statement as typed in the minutes editor (its id and consent are kept by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInput {
    pub speaker: String,
    pub text: String,
    pub part: Option<Part>,
    pub step: Option<StepRef>,
}

impl StatementInput {
    /// Errors name `statements[i].speaker`, `.text`, `.part`, `.step`. A link to a step the
    /// case does not have is refused, so the case editor never shows a dangling one.
    pub fn parse(
        errs: &mut ValidationErrors,
        i: usize,
        speaker: &str,
        body: &str,
        part: &str,
        step: &str,
        case: &CaseContent,
    ) -> StatementInput {
        let f = |name: &str| format!("statements[{i}].{name}");
        let speaker = text(errs, &f("speaker"), speaker, false, MAX_SHORT);
        let body = text(errs, &f("text"), body, true, MAX_STATEMENT);
        let part = match part.trim() {
            "" => None,
            s => {
                let p = Part::parse(s);
                if p.is_none() {
                    errs.push(FieldError::invalid(
                        f("part"),
                        "章を選んでください / choose a section",
                    ));
                }
                p
            }
        };
        let step = match step.trim() {
            "" => None,
            s => match StepRef::parse(s) {
                Some(r) if r.exists_in(case) => Some(r),
                _ => {
                    errs.push(FieldError::invalid(
                        f("step"),
                        format!("事例に「{s}」の手順はありません / the case has no such step"),
                    ));
                    None
                }
            },
        };
        StatementInput {
            speaker,
            text: body,
            part,
            step,
        }
    }
}

/// A sentence of the case that rests on a statement the operator did not let the centre
/// publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restricted {
    /// The field as [`text_fields`] names it (`sections.detection[0]`, `steps[2].text`).
    pub field: String,
    pub sentence: String,
    /// Index into the statements handed to [`drawn_from`].
    pub statement: usize,
}

/// Sentences end at 。！？!? or a line break.
fn sentences(s: &str) -> impl Iterator<Item = &str> {
    s.split_inclusive(['。', '！', '？', '!', '?', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Below this many bigrams a sentence or statement is too short to tell use from chance.
const MIN_BIGRAMS: usize = 4;
/// The share of a sentence's bigrams found in a statement (or of a short statement's found in
/// a sentence) from which the sentence counts as drawn from it.
const SHARE: f64 = 0.5;

/// Every sentence of the case that shares most of its wording with one of `statements` (a
/// quotation, a light paraphrase, or a statement quoted inside a longer sentence).
pub fn drawn_from(content: &CaseContent, statements: &[&str]) -> Vec<Restricted> {
    let grams: Vec<HashSet<(char, char)>> = statements.iter().map(|s| bigrams(s)).collect();
    let mut out = Vec::new();
    for (field, value) in text_fields(content) {
        if field.starts_with("actors[") {
            continue;
        }
        for sentence in sentences(value) {
            let own = bigrams(sentence);
            if own.len() < MIN_BIGRAMS {
                continue;
            }
            for (i, st) in grams.iter().enumerate() {
                if st.len() < MIN_BIGRAMS {
                    continue;
                }
                let shared = own.intersection(st).count() as f64;
                let of_sentence = shared / own.len() as f64;
                let of_statement = shared / st.len() as f64;
                if of_sentence >= SHARE || of_statement >= SHARE {
                    out.push(Restricted {
                        field: field.clone(),
                        sentence: sentence.to_owned(),
                        statement: i,
                    });
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test stops at the line that failed")]

    use super::*;
    use crate::case::{Sections, Step};
    use crate::taxonomy::Code;

    fn case() -> CaseContent {
        CaseContent {
            number: 1,
            category: Code("system-failure".into()),
            title: "基幹システムの障害".into(),
            impact: String::new(),
            cause: String::new(),
            overview: vec![],
            actors: vec![],
            steps: vec![Step {
                number: 1,
                text: "夜間バッチの遅延を監視担当者が朝の点検で検知した。".into(),
                actors: vec![],
                time: None,
            }],
            responses: vec![],
            sections: Sections {
                detection: vec![
                    "監視画面の警告は夜間に出ていたが、当直は別の作業中だった。利用者からの問い合わせで影響範囲が分かった。"
                        .into(),
                ],
                ..Sections::default()
            },
            lessons: vec![],
        }
    }

    #[test]
    fn a_sentence_drawn_from_a_statement_is_found_and_an_unrelated_one_is_not() {
        let c = case();
        let said = "実は監視画面の警告は夜間に出ていたのですが、当直は別の作業中でした";
        let unrelated = "ベンダーとの契約は年次で見直しています";
        let found = drawn_from(&c, &[unrelated, said]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].field, "sections.detection[0]");
        assert_eq!(found[0].statement, 1);
        assert!(found[0].sentence.starts_with("監視画面の警告"));
        assert!(drawn_from(&c, &[unrelated]).is_empty());
    }

    #[test]
    fn dates_read_iso_picker_and_wareki_and_name_the_field() {
        let want = NaiveDate::from_ymd_opt(2020, 2, 10)
            .unwrap()
            .and_hms_opt(14, 0, 0)
            .unwrap();
        assert_eq!(parse_datetime("2020-02-10 14:00"), Some(want));
        assert_eq!(parse_datetime("2020-02-10T14:00"), Some(want));
        assert_eq!(parse_datetime("令和2年2月10日 14:00"), Some(want));
        assert_eq!(parse_datetime("来週"), None);
        let errs = RequestInput::parse("online", "来週\n", "", "", "").unwrap_err();
        assert!(errs.for_field("proposed").is_some(), "{errs}");
        let errs = RequestInput::parse("phone", "2020-02-10 14:00", "", "", "").unwrap_err();
        assert!(errs.for_field("mode").is_some(), "{errs}");
    }

    #[test]
    fn an_acceptance_must_pick_an_offered_date_and_a_decline_needs_a_reason() {
        let offered = [parse_datetime("2020-02-10 14:00").unwrap()];
        let ok = AnswerInput::parse("accepted", "2020-02-10T14:00", "", "", "", &offered).unwrap();
        assert_eq!(ok.reply, Reply::Accepted { on: offered[0] });
        let errs =
            AnswerInput::parse("accepted", "2020-02-11 14:00", "", "", "", &offered).unwrap_err();
        assert!(errs.for_field("on").is_some());
        let errs = AnswerInput::parse("declined", "", "", "", "", &offered).unwrap_err();
        assert!(errs.for_field("note").is_some());
    }

    #[test]
    fn an_answer_belongs_to_its_round_even_at_the_same_instant() {
        let at = chrono::DateTime::<Utc>::from_timestamp(1_580_000_000, 0).unwrap();
        let input = RequestInput::parse("online", "2020-02-10 14:00", "", "", "").unwrap();
        let mut body = InterviewBody {
            request: input.clone().signed(UserId(1), at, 1),
            answers: vec![Answer {
                reply: Reply::Proposed {
                    proposed: vec![parse_datetime("2020-02-20 15:00").unwrap()],
                },
                attendees: String::new(),
                note: String::new(),
                by: UserId(2),
                at,
                round: 1,
            }],
            minutes: Minutes::default(),
        };
        assert_eq!(body.status(), Status::Proposed);
        body.request = input.signed(UserId(1), at, 2);
        assert_eq!(
            body.status(),
            Status::Requested,
            "asked again: awaiting the answer"
        );
        body.minutes.statements.push(Statement {
            id: body.next_statement_id(),
            speaker: String::new(),
            text: "x".into(),
            part: None,
            step: None,
            consent: None,
        });
        assert_eq!(body.status(), Status::Held);
        assert_eq!(body.next_statement_id(), 2);
    }

    #[test]
    fn step_links_round_trip_and_must_exist() {
        let r = StepRef::parse("step:1").unwrap();
        assert_eq!(r.code(), "step:1");
        assert!(r.exists_in(&case()));
        assert!(!StepRef::parse("response:1").unwrap().exists_in(&case()));
        assert_eq!(StepRef::parse("step:0"), None);
        let mut errs = ValidationErrors::default();
        StatementInput::parse(&mut errs, 2, "", "x", "", "step:9", &case());
        assert!(errs.for_field("statements[2].step").is_some(), "{errs}");
    }
}
