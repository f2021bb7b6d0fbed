//! Conformance of interviews: the record and its questions read back whole, a stale version
//! conflicts (interview, question, template), questions number on after the last, an answer
//! goes from draft to submitted and then stays, attachments come back byte for byte, and an
//! interview notice is claimed once, by exactly one of many concurrent claimants.

use super::{a_user, an_org, case_content, t0};
use crate::*;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use kizuki_domain::ids::InterviewId;
use kizuki_domain::interview::{
    Answer, Consent, InterviewBody, Minutes, Mode, Part, Reply, Request, Statement, StepList,
    StepRef, Usage,
};

/// A time in Japan as the forms take it (2020-02-`day` `hour`:00).
fn jst(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 2, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

/// A body with every part filled: a request, an accepted answer and minutes whose statements
/// are linked to the case and consented to (one not yet).
fn body(centre: UserId, operator: UserId) -> InterviewBody {
    InterviewBody {
        request: Request {
            mode: Mode::Online,
            proposed: vec![jst(10, 14), jst(12, 10)],
            place: "Teams（URLは前日に送付）".into(),
            attendees: "分析担当 2名".into(),
            note: "検知の経緯について\n資料があればご用意ください".into(),
            sent_by: centre,
            sent_at: t0(),
            round: 1,
        },
        answers: vec![Answer {
            reply: Reply::Accepted { on: jst(10, 14) },
            attendees: "情報システム部長、担当者".into(),
            note: String::new(),
            by: operator,
            at: t0() + Duration::hours(5),
            round: 1,
        }],
        minutes: Minutes {
            held_at: Some(jst(10, 14)),
            place: "オンライン".into(),
            attendees: "部長、担当者、分析担当 2名".into(),
            statements: vec![
                Statement {
                    id: 1,
                    speaker: "部長".into(),
                    text: "夜間の警告は「見落として」いました。\n当直は別の作業中でした。".into(),
                    part: Some(Part::Detection),
                    step: Some(StepRef {
                        list: StepList::Steps,
                        number: 2,
                    }),
                    consent: Some(Consent {
                        usage: Usage::Quotation,
                        by: operator,
                        at: t0() + Duration::days(12),
                    }),
                },
                Statement {
                    id: 3,
                    speaker: "担当者".into(),
                    text: "ベンダーとの契約は年次で見直しています".into(),
                    part: None,
                    step: None,
                    consent: None,
                },
            ],
        },
    }
}

fn question(part: Part, text: &str, due: Option<NaiveDate>) -> NewQuestion {
    NewQuestion {
        part,
        text: text.to_owned(),
        due,
    }
}

/// An organisation, a centre user, an operator user and a case to interview about.
async fn setup(store: &dyn Store) -> (UserId, UserId, CaseId) {
    let org = an_org(store).await;
    let centre = a_user(store, org.id, "centre@example.jp").await;
    let operator = a_user(store, org.id, "operator@example.jp").await;
    let case = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await
        .unwrap();
    (centre.id, operator.id, case.id)
}

pub async fn interviews_round_trip_with_questions_and_body(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let due = NaiveDate::from_ymd_opt(2020, 2, 7).unwrap();
    let b = body(centre, operator);
    let iv = store
        .create_interview(
            case,
            b.clone(),
            vec![
                question(Part::Detection, "警告に気付いたのはいつですか", Some(due)),
                question(Part::Cause, "原因は\n何でしたか", None),
            ],
            centre,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        iv,
        Interview {
            id: iv.id,
            case_id: case,
            version: 1,
            body: b.clone(),
            created_by: centre,
            created_at: t0(),
            updated_by: centre,
            updated_at: t0(),
        }
    );
    let read = store.get_interview(iv.id).await.unwrap();
    assert_eq!(read, iv);
    assert_eq!(
        read.body.minutes.statements[0].consent,
        Some(Consent {
            usage: Usage::Quotation,
            by: operator,
            at: t0() + Duration::days(12),
        }),
        "consent is kept with its statement"
    );
    assert_eq!(read.body.minutes.statements[1].consent, None);

    let qs = store.questions(iv.id).await.unwrap();
    assert_eq!(
        qs.iter().map(|q| q.position).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_ne!(qs[0].id, qs[1].id);
    assert_eq!(
        qs[0],
        Question {
            id: qs[0].id,
            interview_id: iv.id,
            position: 1,
            part: Part::Detection,
            text: "警告に気付いたのはいつですか".into(),
            due: Some(due),
            answer: String::new(),
            state: AnswerState::Open,
            version: 1,
            answered_by: None,
            answered_at: None,
        }
    );
    assert_eq!(qs[1].part, Part::Cause);
    assert_eq!(qs[1].text, "原因は\n何でしたか");
    assert_eq!(qs[1].due, None);

    // Interviews are listed by case, oldest first.
    let case2 = store
        .create_case(Some(2019), None, case_content(2), None, t0())
        .await
        .unwrap()
        .id;
    let iv2 = store
        .create_interview(case2, b.clone(), Vec::new(), operator, t0())
        .await
        .unwrap();
    let iv3 = store
        .create_interview(case, b.clone(), Vec::new(), centre, t0())
        .await
        .unwrap();
    assert!(iv.id < iv2.id && iv2.id < iv3.id, "{iv:?} {iv2:?} {iv3:?}");
    assert_eq!(
        store.list_interviews(Some(case)).await.unwrap(),
        vec![iv.clone(), iv3.clone()]
    );
    assert_eq!(
        store.list_interviews(Some(case2)).await.unwrap(),
        vec![iv2.clone()]
    );
    assert_eq!(
        store.list_interviews(None).await.unwrap(),
        vec![iv.clone(), iv2.clone(), iv3.clone()]
    );
    assert!(store.questions(iv2.id).await.unwrap().is_empty());

    // An interview needs its case, and a refused one leaves nothing behind.
    let missing = store
        .create_interview(
            CaseId(987_654),
            b.clone(),
            vec![question(Part::Background, "x", None)],
            centre,
            t0(),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { entity: "case", .. })),
        "{missing:?}"
    );
    assert_eq!(store.list_interviews(None).await.unwrap().len(), 3);
    let nothing = store.get_interview(InterviewId(987_654)).await;
    assert!(
        matches!(
            nothing,
            Err(StoreError::NotFound {
                entity: "interview",
                ..
            })
        ),
        "{nothing:?}"
    );
    assert!(
        store
            .list_interviews(Some(CaseId(987_654)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.check().await.unwrap().is_empty());
}

pub async fn interview_update_conflicts_on_a_stale_version(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let iv = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    let mut changed = iv.body.clone();
    changed.minutes.statements[1].consent = Some(Consent {
        usage: Usage::NotForPublication,
        by: operator,
        at: t0() + Duration::days(13),
    });
    let later = t0() + Duration::days(13);
    let v2 = store
        .update_interview(iv.id, 1, changed.clone(), operator, later)
        .await
        .unwrap();
    assert_eq!(
        v2,
        Interview {
            id: iv.id,
            case_id: case,
            version: 2,
            body: changed.clone(),
            created_by: centre,
            created_at: t0(),
            updated_by: operator,
            updated_at: later,
        }
    );
    assert_eq!(store.get_interview(iv.id).await.unwrap(), v2);

    // A writer that saw another version conflicts and changes nothing.
    for stale in [1, 3] {
        match store
            .update_interview(iv.id, stale, body(centre, operator), centre, t0())
            .await
        {
            Err(StoreError::Conflict {
                entity: "interview",
                current: Current::Version(2),
            }) => {}
            other => panic!("expected a conflict at 2 for {stale}, got {other:?}"),
        }
    }
    assert_eq!(store.get_interview(iv.id).await.unwrap(), v2);
    let v3 = store
        .update_interview(iv.id, 2, iv.body.clone(), centre, later)
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(v3.body, iv.body);

    let missing = store
        .update_interview(InterviewId(987_654), 1, iv.body.clone(), centre, t0())
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

pub async fn added_questions_number_after_the_last(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let iv = store
        .create_interview(
            case,
            body(centre, operator),
            vec![
                question(Part::Background, "一", None),
                question(Part::Detection, "二", None),
            ],
            centre,
            t0(),
        )
        .await
        .unwrap();
    let empty = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    let due = NaiveDate::from_ymd_opt(2020, 3, 1).unwrap();
    let added = store
        .add_questions(
            iv.id,
            vec![
                question(Part::Response, "三", Some(due)),
                question(Part::Countermeasures, "四", None),
                question(Part::Lessons, "五", None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        added
            .iter()
            .map(|q| (q.position, q.text.as_str(), q.interview_id))
            .collect::<Vec<_>>(),
        vec![(3, "三", iv.id), (4, "四", iv.id), (5, "五", iv.id)]
    );
    assert_eq!(added[0].due, Some(due));
    assert_eq!(added[0].part, Part::Response);
    assert!(
        added
            .iter()
            .all(|q| q.state == AnswerState::Open && q.version == 1 && q.answer.is_empty())
    );
    let all = store.questions(iv.id).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|q| (q.position, q.text.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "一"), (2, "二"), (3, "三"), (4, "四"), (5, "五")]
    );
    assert_eq!(&all[2..], &added[..], "read back as returned");

    // Each interview counts on its own.
    assert!(store.questions(empty.id).await.unwrap().is_empty());
    let first = store
        .add_questions(empty.id, vec![question(Part::Cause, "別", None)])
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].position, 1);
    assert_eq!(store.questions(empty.id).await.unwrap(), first);
    assert_eq!(store.questions(iv.id).await.unwrap().len(), 5);
    assert!(
        store
            .add_questions(iv.id, Vec::new())
            .await
            .unwrap()
            .is_empty()
    );
    let six = store
        .add_questions(iv.id, vec![question(Part::Cause, "六", None)])
        .await
        .unwrap();
    assert_eq!(six[0].position, 6);

    let missing = store
        .add_questions(InterviewId(987_654), vec![question(Part::Cause, "x", None)])
        .await;
    assert!(
        matches!(
            missing,
            Err(StoreError::NotFound {
                entity: "interview",
                ..
            })
        ),
        "{missing:?}"
    );
}

pub async fn answers_go_from_draft_to_submitted_once(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let iv = store
        .create_interview(
            case,
            body(centre, operator),
            vec![
                question(Part::Detection, "いつ", None),
                question(Part::Cause, "なぜ", None),
            ],
            centre,
            t0(),
        )
        .await
        .unwrap();
    let qs = store.questions(iv.id).await.unwrap();
    let (q, other) = (&qs[0], &qs[1]);
    let save = |expected_version, answer: &str, submit, hours| SaveAnswer {
        question: q.id,
        expected_version,
        answer: answer.to_owned(),
        submit,
        by: operator,
        at: t0() + Duration::hours(hours),
    };

    let draft = store
        .save_answer(save(1, "午前6時ごろ（下書き）", false, 1))
        .await
        .unwrap();
    assert_eq!(
        draft,
        Question {
            answer: "午前6時ごろ（下書き）".into(),
            state: AnswerState::Draft,
            version: 2,
            answered_by: Some(operator),
            answered_at: Some(t0() + Duration::hours(1)),
            ..q.clone()
        }
    );
    assert_eq!(store.questions(iv.id).await.unwrap()[0], draft);

    // A writer that saw another version conflicts and changes nothing.
    for stale in [1, 3] {
        match store.save_answer(save(stale, "上書き", true, 2)).await {
            Err(StoreError::Conflict {
                entity: "question",
                current: Current::Version(2),
            }) => {}
            other => panic!("expected a conflict at 2 for {stale}, got {other:?}"),
        }
    }
    assert_eq!(store.questions(iv.id).await.unwrap()[0], draft);

    let redraft = store
        .save_answer(save(2, "午前6時10分", false, 3))
        .await
        .unwrap();
    assert_eq!(redraft.state, AnswerState::Draft);
    assert_eq!(redraft.version, 3);
    let submitted = store
        .save_answer(save(3, "午前6時10分に検知しました。", true, 4))
        .await
        .unwrap();
    assert_eq!(submitted.state, AnswerState::Submitted);
    assert_eq!(submitted.version, 4);
    assert_eq!(submitted.answer, "午前6時10分に検知しました。");
    assert_eq!(submitted.answered_at, Some(t0() + Duration::hours(4)));

    // Given to the centre, an answer stays as given: neither a draft nor another submit.
    for submit in [false, true] {
        match store.save_answer(save(4, "やはり変更", submit, 5)).await {
            Err(StoreError::Invalid(m)) => assert!(m.contains("submitted"), "{m}"),
            other => panic!("a submitted answer must be refused, got {other:?}"),
        }
    }
    let now = store.questions(iv.id).await.unwrap();
    assert_eq!(now[0], submitted);
    assert_eq!(&now[1], other, "the other question is untouched");

    let missing = store
        .save_answer(SaveAnswer {
            question: 987_654,
            ..save(1, "x", false, 1)
        })
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

pub async fn attachments_round_trip_byte_for_byte(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let iv = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    let other = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    // 3 MiB that is not one repeated byte, so a truncation or a shifted chunk shows.
    let big: Vec<u8> = (0..3 * 1024 * 1024_u32)
        .map(|i| u8::try_from((i * 31 + i / 4096) % 251).unwrap())
        .collect();
    // NULs, bytes that are not UTF-8, and a trailing NUL: stored as bytes, never as text.
    let odd: Vec<u8> = vec![
        0, 0xff, 0xfe, b'%', b'P', b'D', b'F', 0, 0x80, 0xc3, 0x28, 0,
    ];
    let new = |filename: &str, media_type: &str, content: &[u8], minutes| NewAttachment {
        interview_id: iv.id,
        filename: filename.to_owned(),
        media_type: media_type.to_owned(),
        sha256: format!("{:064x}", content.len()),
        content: content.to_vec(),
        by: operator,
        at: t0() + Duration::minutes(minutes),
    };

    let a = store
        .add_attachment(new("障害報告書（最終版）.pdf", "application/pdf", &big, 1))
        .await
        .unwrap();
    assert_eq!(
        a,
        Attachment {
            id: a.id,
            interview_id: iv.id,
            filename: "障害報告書（最終版）.pdf".into(),
            media_type: "application/pdf".into(),
            size: 3 * 1024 * 1024,
            sha256: format!("{:064x}", big.len()),
            uploaded_by: operator,
            uploaded_at: t0() + Duration::minutes(1),
        }
    );
    let b = store
        .add_attachment(new("odd.bin", "application/octet-stream", &odd, 2))
        .await
        .unwrap();
    assert_eq!(b.size, 12);
    assert!(a.id < b.id);

    assert_eq!(
        store.attachments(iv.id).await.unwrap(),
        vec![a.clone(), b.clone()],
        "oldest first, without bytes"
    );
    assert!(store.attachments(other.id).await.unwrap().is_empty());
    let (meta, bytes) = store.attachment(a.id).await.unwrap();
    assert_eq!(meta, a);
    assert_eq!(bytes.len(), big.len());
    assert!(
        bytes == big,
        "the 3 MiB payload must come back byte for byte"
    );
    let (meta, bytes) = store.attachment(b.id).await.unwrap();
    assert_eq!(meta, b);
    assert_eq!(bytes, odd);

    match store.attachment(987_654).await {
        Err(StoreError::NotFound {
            entity: "attachment",
            id,
        }) => assert_eq!(id, "987654"),
        other => panic!("expected not found, got {other:?}"),
    }
    let orphan = store
        .add_attachment(NewAttachment {
            interview_id: InterviewId(987_654),
            ..new("x.txt", "text/plain", b"x", 3)
        })
        .await;
    assert!(
        matches!(
            orphan,
            Err(StoreError::NotFound {
                entity: "interview",
                ..
            })
        ),
        "{orphan:?}"
    );
    assert_eq!(store.attachments(iv.id).await.unwrap().len(), 2);
}

pub async fn question_templates_are_versioned(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let editor = a_user(store.as_ref(), org.id, "ed@example.jp").await.id;
    let cat = "system-failure";
    let toml1 = "[[question]]\npart = \"detection\"\ntext = \"いつ気付きましたか\"\n";
    let toml2 = "[[question]]\npart = \"cause\"\ntext = \"原因は何でしたか\"\r\n";
    assert_eq!(store.question_template(cat).await.unwrap(), None);

    // Nothing stored is version 0: a save against any other version conflicts.
    match store
        .put_question_template(cat, toml1, 1, editor, t0())
        .await
    {
        Err(StoreError::Conflict {
            entity: "question template",
            current: Current::Version(0),
        }) => {}
        other => panic!("expected a conflict at 0, got {other:?}"),
    }
    assert_eq!(store.question_template(cat).await.unwrap(), None);

    let v1 = store
        .put_question_template(cat, toml1, 0, editor, t0())
        .await
        .unwrap();
    assert_eq!(
        v1,
        QuestionTemplate {
            category: cat.into(),
            body: toml1.into(),
            version: 1,
            updated_by: editor,
            updated_at: t0(),
        }
    );
    assert_eq!(
        store.question_template(cat).await.unwrap(),
        Some(v1.clone())
    );
    match store
        .put_question_template(cat, toml2, 0, editor, t0())
        .await
    {
        Err(StoreError::Conflict {
            entity: "question template",
            current: Current::Version(1),
        }) => {}
        other => panic!("a second first save must conflict at 1, got {other:?}"),
    }

    let later = t0() + Duration::days(1);
    let v2 = store
        .put_question_template(cat, toml2, 1, editor, later)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.body, toml2);
    assert_eq!(v2.updated_at, later);
    assert_eq!(
        store.question_template(cat).await.unwrap(),
        Some(v2.clone())
    );
    for stale in [1, 3] {
        match store
            .put_question_template(cat, toml1, stale, editor, later)
            .await
        {
            Err(StoreError::Conflict {
                entity: "question template",
                current: Current::Version(2),
            }) => {}
            other => panic!("expected a conflict at 2 for {stale}, got {other:?}"),
        }
    }
    assert_eq!(store.question_template(cat).await.unwrap(), Some(v2));

    // Each category is its own template.
    assert_eq!(store.question_template("cyber-attack").await.unwrap(), None);
    let other = store
        .put_question_template("cyber-attack", toml1, 0, editor, t0())
        .await
        .unwrap();
    assert_eq!(other.version, 1);
    assert_eq!(
        store.question_template(cat).await.unwrap().unwrap().version,
        2
    );
}

fn notice(interview: InterviewId, subject: &str) -> NoticeKey {
    NoticeKey {
        of: NoticeOf::Interview(interview),
        subject: subject.to_owned(),
    }
}

fn claim(key: &NoticeKey, token: &str, now: DateTime<Utc>) -> NoticeClaim {
    NoticeClaim {
        key: key.clone(),
        token: token.into(),
        now,
        lease_until: now + Duration::minutes(10),
        max_attempts: 3,
    }
}

pub async fn interview_notices_are_claimed_once(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let iv = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    let request = notice(iv.id, "request-1");
    let now = t0() + Duration::hours(1);

    assert!(
        store
            .claim_notice(&claim(&request, "a", now))
            .await
            .unwrap()
    );
    // Held: no other node claims it, nor marks it sent.
    assert!(
        !store
            .claim_notice(&claim(&request, "b", now))
            .await
            .unwrap()
    );
    assert!(
        !store.notice_sent(&request, "b", now).await.unwrap(),
        "only the holder marks it sent"
    );
    // A failed delivery hands it back with a retry time; until then nobody claims it.
    let retry = now + Duration::minutes(30);
    store
        .release_notice(&request, "a", retry, "接続拒否 / refused")
        .await
        .unwrap();
    assert!(
        !store
            .claim_notice(&claim(&request, "b", retry - Duration::minutes(1)))
            .await
            .unwrap(),
        "not before the retry time"
    );
    let released = store.notices(NoticeOf::Interview(iv.id)).await.unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].lease_until, retry);
    assert_eq!(
        released[0].last_error.as_deref(),
        Some("接続拒否 / refused")
    );
    assert!(
        store
            .claim_notice(&claim(&request, "b", retry))
            .await
            .unwrap()
    );
    assert!(
        !store.notice_sent(&request, "a", retry).await.unwrap(),
        "the first holder lost it"
    );
    // A holder that dies keeps it until its lease runs out; then another node takes over.
    assert!(
        !store
            .claim_notice(&claim(&request, "c", retry + Duration::minutes(9)))
            .await
            .unwrap()
    );
    let lapsed = retry + Duration::minutes(10);
    assert!(
        store
            .claim_notice(&claim(&request, "c", lapsed))
            .await
            .unwrap()
    );
    assert!(!store.notice_sent(&request, "b", lapsed).await.unwrap());
    assert!(store.notice_sent(&request, "c", lapsed).await.unwrap());
    assert!(
        !store.notice_sent(&request, "c", lapsed).await.unwrap(),
        "sent once"
    );
    // Once sent, never claimed again, however late.
    assert!(
        !store
            .claim_notice(&claim(&request, "d", lapsed + Duration::days(30)))
            .await
            .unwrap()
    );
    store
        .release_notice(&request, "c", lapsed, "too late")
        .await
        .unwrap();
    assert!(
        !store
            .claim_notice(&claim(&request, "d", lapsed + Duration::days(30)))
            .await
            .unwrap(),
        "a release after sending changes nothing"
    );

    // Each subject is its own notice, and the attempts are the limit.
    let due = notice(iv.id, "due_soon-2020-02-10");
    let mut t = now;
    for token in ["x1", "x2", "x3"] {
        assert!(store.claim_notice(&claim(&due, token, t)).await.unwrap());
        t += Duration::minutes(10);
    }
    assert!(
        !store.claim_notice(&claim(&due, "x4", t)).await.unwrap(),
        "three attempts were allowed"
    );

    let all = store.notices(NoticeOf::Interview(iv.id)).await.unwrap();
    assert_eq!(
        all,
        vec![
            NoticeRecord {
                key: due.clone(),
                attempts: 3,
                lease_until: now + Duration::minutes(30),
                sent_at: None,
                last_error: None,
            },
            NoticeRecord {
                key: request.clone(),
                attempts: 3,
                lease_until: lapsed + Duration::minutes(10),
                sent_at: Some(lapsed),
                last_error: None,
            },
        ],
        "by subject, the sent one without its old error"
    );
    let other = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    assert!(
        store
            .notices(NoticeOf::Interview(other.id))
            .await
            .unwrap()
            .is_empty()
    );
    // The same subject of another interview is another notice.
    assert!(
        store
            .claim_notice(&claim(&notice(other.id, "request-1"), "o", now))
            .await
            .unwrap()
    );

    // A notice must belong to an interview.
    assert!(
        store
            .claim_notice(&claim(&notice(InterviewId(987_654), "request-1"), "m", now))
            .await
            .is_err()
    );
}

pub async fn concurrent_notice_claims_one_wins(store: DynStore) {
    let (centre, operator, case) = setup(store.as_ref()).await;
    let iv = store
        .create_interview(case, body(centre, operator), Vec::new(), centre, t0())
        .await
        .unwrap();
    let k = notice(iv.id, "overdue-2020-02-20");
    let now = t0() + Duration::days(40);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let k = k.clone();
            tokio::spawn(async move {
                store
                    .claim_notice(&claim(&k, &format!("node-{i}"), now))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one node may send");
    let rec = store.notices(NoticeOf::Interview(iv.id)).await.unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].attempts, 1);
}
