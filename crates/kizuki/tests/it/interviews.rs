//! Interviews with the operator of a selected case, through the API and the pages: the request
//! and the operator's answer (into the cooperation record), written answers with drafts and
//! stale versions, files kept as bytes and typed from their content, minutes linked to steps,
//! consent and the anonymisation review's flag, the record as Markdown and PDF, the question
//! templates, the e-mails; and what another operator, an oversize or a mislabelled file meet.

use kizuki_app::interviews::notices;
use kizuki_testkit::sinks::{notify_through, smtp_sink};
use kizuki_testkit::{ANALYST, Client, EDITOR, FINANCE, MINISTRY, RAIL, Resp, TestApp};
use serde_json::{Value, json};

const RAIL_ADMIN: &str = "admin@railway.example.jp";

/// Case 1 of 2019 (filed by the demo railway operator): its id and content.
async fn case_one(srv: &TestApp, token: &str) -> (i64, Value) {
    let id = srv
        .app
        .store
        .case_by_number(2019, 1)
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    let r = srv
        .api("GET", &format!("/cases/{id}"), Some(token), &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (id, r.json()["content"].clone())
}

async fn request(srv: &TestApp, token: &str, case: i64) -> Value {
    let body = json!({"mode": "online", "proposed": ["2020-02-10 14:00", "令和2年2月12日 10:00"],
                      "place": "Web会議", "attendees": "分析担当", "note": "事例の経緯を伺います。",
                      "with_template": true, "due": "2020-02-07"});
    let r = srv
        .api(
            "POST",
            &format!("/cases/{case}/interviews"),
            Some(token),
            &[],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

async fn upload(srv: &TestApp, token: &str, interview: i64, name: &str, bytes: &[u8]) -> Resp {
    srv.anonymous()
        .send(
            "POST",
            &format!("/api/v1/interviews/{interview}/attachments?filename={name}"),
            &[
                ("authorization", format!("Bearer {token}")),
                ("content-type", "application/octet-stream".to_owned()),
            ],
            bytes,
        )
        .await
}

/// The first sentence of a text (up to and with 。).
fn first_sentence(s: &str) -> String {
    match s.find('。') {
        Some(i) => s[..i + '。'.len_utf8()].to_owned(),
        None => s.to_owned(),
    }
}

#[tokio::test]
async fn an_interview_through_the_api_from_request_to_the_reviews_flag() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let rail = srv.token(RAIL).await;
    let rail_admin = srv.token(RAIL_ADMIN).await;
    let (case, content) = case_one(&srv, &analyst).await;

    // Operators do not request interviews; the centre does, with the category's template.
    let body = json!({"mode": "online", "proposed": ["2020-02-10 14:00"]});
    let r = srv
        .api(
            "POST",
            &format!("/cases/{case}/interviews"),
            Some(&rail),
            &[],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let bad = json!({"mode": "phone", "proposed": ["来週"]});
    let r = srv
        .api(
            "POST",
            &format!("/cases/{case}/interviews"),
            Some(&analyst),
            &[],
            Some(&bad),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<String> = r.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        fields.contains(&"mode".to_owned()) && fields.contains(&"proposed".to_owned()),
        "{fields:?}"
    );
    let iv = request(&srv, &analyst, case).await;
    let id = iv["interview"]["id"].as_i64().unwrap();
    assert_eq!(iv["status"], "requested");
    let questions = iv["questions"].as_array().unwrap().clone();
    assert!(
        questions.len() >= 5,
        "the system-failure template: {questions:?}"
    );
    assert!(questions.iter().all(|q| q["due"] == "2020-02-07"));

    // The operator's reporter sees it in the inbox but may not answer; the admin accepts.
    let inbox = srv
        .api("GET", "/interviews", Some(&rail), &[], None)
        .await
        .json();
    assert_eq!(inbox["items"][0]["id"], id, "{inbox}");
    assert_eq!(
        inbox["items"][0]["action"], true,
        "questions await the reporter"
    );
    let accept = json!({"version": 1, "reply": "accepted", "on": "2020-02-12T10:00",
                        "attendees": "システム部 部長"});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&rail),
            &[],
            Some(&accept),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let wrong_day = json!({"version": 1, "reply": "accepted", "on": "2020-02-11 10:00"});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&rail_admin),
            &[],
            Some(&wrong_day),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&rail_admin),
            &[],
            Some(&accept),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["status"], "accepted");
    let coop = srv
        .api(
            "GET",
            &format!("/cases/{case}/cooperation"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(coop["status"], "agreed", "{coop}");
    assert!(
        coop["history"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("2020-02-12 10:00"),
        "{coop}"
    );

    // Written answers: a draft is the operator's (the centre sees only that one exists), a
    // submitted one is final, a stale version is 412.
    let q1 = &questions[0];
    let (qid, qv) = (q1["id"].as_i64().unwrap(), q1["version"].as_i64().unwrap());
    let draft =
        json!({"question": qid, "version": qv, "answer": "下書き: 夜間の当直が…", "submit": false});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answers"),
            Some(&rail),
            &[],
            Some(&draft),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "draft");
    let seen = srv
        .api(
            "GET",
            &format!("/interviews/{id}"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(seen["questions"][0]["state"], "draft");
    assert_eq!(
        seen["questions"][0]["answer"], "",
        "a draft is not the centre's yet"
    );
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answers"),
            Some(&rail),
            &[],
            Some(&draft),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.json()["current_version"], qv + 1);
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answers"),
            Some(&analyst),
            &[],
            Some(&json!({"question": qid, "version": qv + 1, "answer": "代筆", "submit": true})),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "the centre does not answer for the operator: {}",
        r.body
    );
    for (i, q) in questions.iter().take(3).enumerate() {
        let version = if i == 0 {
            qv + 1
        } else {
            q["version"].as_i64().unwrap()
        };
        let ans = json!({"question": q["id"], "version": version,
                         "answer": format!("回答{}: 監視の警告は夜間に出ていました。", i + 1), "submit": true});
        let r = srv
            .api(
                "POST",
                &format!("/interviews/{id}/answers"),
                Some(&rail),
                &[],
                Some(&ans),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["state"], "submitted");
    }
    let again = json!({"question": qid, "version": qv + 2, "answer": "書き直し", "submit": true});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answers"),
            Some(&rail),
            &[],
            Some(&again),
        )
        .await;
    assert_eq!(r.status, 400, "a submitted answer is final: {}", r.body);

    // Files: typed from their content, kept byte for byte, handed out only as downloads.
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
    let r = upload(&srv, &rail, id, "%E5%A0%B1%E5%91%8A.pdf", pdf).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = r.json();
    assert_eq!(a["media_type"], "application/pdf");
    assert_eq!(a["filename"], "報告.pdf");
    assert_eq!(a["size"], pdf.len());
    // A page of script named like a PDF, and bytes named like a Word file.
    let script = b"<html><script>alert(document.cookie)</script></html>";
    let r = upload(&srv, &rail, id, "minutes.pdf", script).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let fake = r.json();
    // Markup is recognised as such and kept as opaque bytes: never served as a page.
    assert_eq!(
        fake["media_type"], "application/octet-stream",
        "never text/html"
    );
    let junk: Vec<u8> = (0u8..=255).rev().cycle().take(3000).collect();
    let r = upload(&srv, &rail, id, "draft.docx", &junk).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["media_type"], "application/octet-stream");
    let r = srv
        .api(
            "GET",
            &format!("/attachments/{}", fake["id"]),
            Some(&analyst),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, script.to_vec(), "the bytes as given");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );
    let r = srv
        .api(
            "GET",
            &format!("/attachments/{}", a["id"]),
            Some(&rail),
            &[],
            None,
        )
        .await;
    assert_eq!(r.bytes, pdf.to_vec());
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf"),
        "{:?}",
        r.header("content-disposition")
    );
    let reads = srv
        .app
        .store
        .audit_range(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "record.read" && e.target.starts_with("attachment:"))
        .count();
    assert_eq!(reads, 2, "every read of a file is audited");

    // A backup carries the files: the bytes are in the copy, as uploaded.
    let dir = tempfile::tempdir().unwrap();
    let copy =
        kizuki_app::ops::backup::backup_now(srv.sqlite(), dir.path(), srv.app.clock.now(), 1)
            .await
            .unwrap();
    let db = rusqlite::Connection::open(&copy).unwrap();
    let kept: Vec<u8> = db
        .query_row(
            "SELECT content FROM interview_attachments WHERE id = ?1",
            [a["id"].as_i64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, pdf.to_vec());

    // Minutes: two statements linked to steps; a step the case lacks is refused by name.
    let steps = content["steps"].as_array().unwrap();
    assert!(steps.len() >= 2, "{content}");
    let (s1, s2) = (
        steps[0]["number"].as_u64().unwrap(),
        steps[1]["number"].as_u64().unwrap(),
    );
    let detection = first_sentence(content["sections"]["detection"][0].as_str().unwrap());
    let lesson = content["lessons"][0]["text"].as_str().unwrap().to_owned();
    let bad = json!({"version": 2, "statements": [{"text": "x", "step": "step:99"}]});
    let r = srv
        .api(
            "PUT",
            &format!("/interviews/{id}/minutes"),
            Some(&analyst),
            &[],
            Some(&bad),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "statements[0].step");
    let minutes = json!({"version": 2, "held_at": "2020-02-12 10:00", "place": "Web会議",
    "attendees": "システム部 部長、分析担当",
    "statements": [
        {"speaker": "システム部 部長", "text": format!("実は{detection}"), "part": "detection", "step": format!("step:{s1}")},
        {"speaker": "システム部 部長", "text": "共同利用の事業者とは月に一度、連絡会を開いています。", "part": "countermeasures", "step": format!("step:{s2}")},
    ]});
    let r = srv
        .api(
            "PUT",
            &format!("/interviews/{id}/minutes"),
            Some(&rail),
            &[],
            Some(&minutes),
        )
        .await;
    assert_eq!(r.status, 403, "the centre writes the minutes: {}", r.body);
    let r = srv
        .api(
            "PUT",
            &format!("/interviews/{id}/minutes"),
            Some(&analyst),
            &[],
            Some(&minutes),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "held");
    assert_eq!(v["statements"][0]["step_code"], format!("step:{s1}"));
    let version = v["interview"]["version"].as_i64().unwrap();

    // Consent: the operator's admin marks the first not for publication, the second quotable.
    let consent = json!({"version": version, "consent": [
        {"statement": 1, "usage": "not_for_publication"}, {"statement": 2, "usage": "quotation"}]});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/consent"),
            Some(&rail),
            &[],
            Some(&consent),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "a reporter does not consent for the operator: {}",
        r.body
    );
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/consent"),
            Some(&rail_admin),
            &[],
            Some(&consent),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["statements"][0]["usage"], "not_for_publication");
    assert!(v["statements"][0]["consent"]["at"].is_string());

    // The review flags the case's sentence that rests on the closed statement, only that.
    let review = srv
        .api(
            "GET",
            &format!("/cases/{case}/anonymisation"),
            Some(&analyst),
            &[],
            None,
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    let restricted = review.json()["restricted"].as_array().unwrap().clone();
    assert!(!restricted.is_empty(), "{}", review.body);
    assert!(
        restricted
            .iter()
            .all(|x| x["statement_id"] == 1 && x["interview_id"] == id),
        "{restricted:?}"
    );
    assert!(
        restricted
            .iter()
            .any(|x| x["field"] == "sections.detection[0]" && x["sentence"] == detection),
        "{restricted:?}"
    );
    assert!(
        !restricted
            .iter()
            .any(|x| x["sentence"].as_str().unwrap().contains(&lesson))
    );
    assert_eq!(review.json()["awaiting_consent"], 0);

    // Changing a statement's words needs consent again.
    let mut m2 = minutes.clone();
    m2["version"] = json!(version + 1);
    m2["statements"][1]["id"] = json!(2);
    m2["statements"][0]["id"] = json!(1);
    m2["statements"][1]["text"] = json!("共同利用の事業者とは毎月、連絡会を開いています。");
    let r = srv
        .api(
            "PUT",
            &format!("/interviews/{id}/minutes"),
            Some(&analyst),
            &[],
            Some(&m2),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        v["statements"][0]["usage"], "not_for_publication",
        "unchanged words keep it"
    );
    assert_eq!(
        v["statements"][1]["usage"],
        Value::Null,
        "changed words lose it"
    );

    // The record, in Japanese, as Markdown and as a PDF whose text says the same.
    let r = srv
        .api(
            "GET",
            &format!("/interviews/{id}/record?format=md"),
            Some(&rail),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let md = String::from_utf8(r.bytes.clone()).unwrap();
    for want in [
        "# ヒアリング記録",
        "受諾: 2020-02-12 10:00",
        "回答1: 監視の警告",
        "利用: 公表不可",
        "報告.pdf",
    ] {
        assert!(md.contains(want), "{want} in {md}");
    }
    let r = srv
        .api(
            "GET",
            &format!("/interviews/{id}/record?format=pdf"),
            Some(&analyst),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.bytes.starts_with(b"%PDF"));
    match crate::survey_year::pdf_text(&r.bytes) {
        Ok(text) => {
            let flat: String = text.split_whitespace().collect();
            for want in [
                "ヒアリング記録",
                "議事録",
                "公表不可",
                "回答1:監視の警告は夜間に出ていました。",
            ] {
                assert!(flat.contains(want), "{want} in {text}");
            }
        }
        Err(e) => eprintln!("skipped: the record's PDF text was not checked: {e}"),
    }
}

#[tokio::test]
async fn another_operator_is_told_nothing_exists() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let rail = srv.token(RAIL).await;
    let finance = srv.token(FINANCE).await;
    let (case, _) = case_one(&srv, &analyst).await;
    let iv = request(&srv, &analyst, case).await;
    let id = iv["interview"]["id"].as_i64().unwrap();
    let q = iv["questions"][0]["id"].as_i64().unwrap();
    let r = upload(&srv, &rail, id, "a.txt", "資料".as_bytes()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let att = r.json()["id"].as_i64().unwrap();

    let body = json!({"version": 1, "question": q, "answer": "x", "submit": false,
                      "reply": "accepted", "consent": [], "statements": [], "mode": "online",
                      "proposed": ["2020-02-10 14:00"]});
    let api: Vec<(&str, String)> = vec![
        ("GET", format!("/interviews/{id}")),
        ("GET", format!("/cases/{case}/interviews")),
        ("GET", format!("/interviews/{id}/record")),
        ("GET", format!("/attachments/{att}")),
        ("POST", format!("/interviews/{id}/answer")),
        ("POST", format!("/interviews/{id}/answers")),
        ("POST", format!("/interviews/{id}/consent")),
        ("POST", format!("/interviews/{id}/questions")),
        ("PUT", format!("/interviews/{id}/minutes")),
        ("PUT", format!("/interviews/{id}/request")),
        ("POST", format!("/interviews/{id}/attachments")),
    ];
    let mut wrong = Vec::new();
    for token in [&finance, &srv.token(MINISTRY).await] {
        for (m, path) in &api {
            let r = srv.api(m, path, Some(token), &[], Some(&body)).await;
            if r.status != 404 {
                wrong.push(format!("API {m} {path}: {} {}", r.status, r.body));
            }
        }
    }
    let inbox = srv
        .api("GET", "/interviews", Some(&finance), &[], None)
        .await
        .json();
    assert_eq!(inbox["items"], json!([]));

    // The operator's dashboard points at the request; another operator's does not.
    let mut admin = srv.client(RAIL_ADMIN).await;
    let home = admin.get("/").await;
    assert!(home.body.contains("id=\"interview-list\""), "{}", home.body);
    assert!(home.body.contains(&format!("href=\"/interviews/{id}\"")));
    let mut c = srv.client(FINANCE).await;
    assert!(!c.get("/").await.body.contains("interview-list"));
    for path in [
        format!("/interviews/{id}"),
        format!("/cases/{case}/interviews"),
        format!("/interviews/{id}/minutes"),
        format!("/interviews/{id}/record.md"),
        format!("/interviews/{id}/record.pdf"),
        format!("/attachments/{att}"),
    ] {
        let r = c.get(&path).await;
        if r.status != 404 {
            wrong.push(format!("page GET {path}: {}", r.status));
        }
    }
    let csrf = c.get("/").await.csrf();
    for path in [
        "answer",
        "answers",
        "consent",
        "questions",
        "minutes",
        "request",
    ] {
        let p = format!("/interviews/{id}/{path}");
        let r = c
            .post_raw(
                &p,
                &[
                    ("_csrf", &csrf),
                    ("version", "1"),
                    ("question", &q.to_string()),
                ],
            )
            .await;
        if r.status != 404 {
            wrong.push(format!("page POST {p}: {}", r.status));
        }
    }
    let r = multipart(
        &mut c,
        &format!("/interviews/{id}/attachments"),
        &csrf,
        "a.txt",
        b"x",
    )
    .await;
    if r.status != 404 {
        wrong.push(format!("page upload: {}", r.status));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        srv.app
            .store
            .attachments(kizuki_domain::ids::InterviewId(id))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn multipart(c: &mut Client, path: &str, csrf: &str, name: &str, bytes: &[u8]) -> Resp {
    let boundary = "kizukiBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    c.request(
        "POST",
        path,
        &[(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )],
        &body,
    )
    .await
}

#[tokio::test]
async fn an_oversize_file_is_refused_with_its_reason_and_nothing_is_kept() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let rail = srv.token(RAIL).await;
    let (case, _) = case_one(&srv, &analyst).await;
    let id = request(&srv, &analyst, case).await["interview"]["id"]
        .as_i64()
        .unwrap();
    let iid = kizuki_domain::ids::InterviewId(id);
    let audit_before = srv.app.store.audit_range(0, 1_000_000).await.unwrap().len();
    let big = vec![b'a'; 25 * 1024 * 1024];

    let r = upload(&srv, &rail, id, "big.txt", &big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.json()["message_ja"].as_str().unwrap().contains("20 MiB"),
        "{}",
        r.body
    );

    let mut c = srv.client(RAIL).await;
    let page = c.get(&format!("/interviews/{id}")).await;
    assert_eq!(page.status, 200);
    let r = multipart(
        &mut c,
        &format!("/interviews/{id}/attachments"),
        &page.csrf(),
        "big.pdf",
        &big,
    )
    .await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("20 MiB"), "the page says why");
    assert!(
        r.body.contains("id=\"upload-form\""),
        "and offers the form again"
    );

    // Just under the limit is kept; nothing of the refused ones is.
    let fits = vec![b'b'; 20 * 1024 * 1024];
    let r = multipart(
        &mut c,
        &format!("/interviews/{id}/attachments"),
        &page.csrf(),
        "fits.txt",
        &fits,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let kept = srv.app.store.attachments(iid).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].size, fits.len() as u64);
    let new_audit: Vec<_> = srv.app.store.audit_range(0, 1_000_000).await.unwrap()[audit_before..]
        .iter()
        .filter(|e| e.detail.contains("attachment"))
        .cloned()
        .collect();
    assert_eq!(
        new_audit.len(),
        1,
        "only the kept file is recorded: {new_audit:?}"
    );
}

#[tokio::test]
async fn templates_are_edited_by_editors_and_used_by_the_next_request() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let editor = srv.token(EDITOR).await;
    let (case, _) = case_one(&srv, &analyst).await;
    let list = srv
        .api("GET", "/question-templates", Some(&analyst), &[], None)
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let sf = list.json()["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["category"] == "system-failure")
        .cloned()
        .unwrap();
    assert_eq!(sf["version"], 0, "the shipped template");

    let body = "[[question]]\nsection = \"detection\"\ntext = \"最初の兆候は何でしたか。\"\n\n[[question]]\nsection = \"where\"\ntext = \"x\"\n";
    let put = |token: String, body: &str, version: i64| {
        let b = json!({"version": version, "body": body});
        let srv = &srv;
        async move {
            srv.api(
                "PUT",
                "/question-templates/system-failure",
                Some(&token),
                &[],
                Some(&b),
            )
            .await
        }
    };
    let r = put(analyst.clone(), body, 0).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = put(editor.clone(), body, 0).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("where"), "{}", r.body);
    let good = "[[question]]\nsection = \"detection\"\ntext = \"最初の兆候は何でしたか。\"\n";
    let r = put(editor.clone(), good, 0).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], 1);
    let r = put(editor.clone(), good, 0).await;
    assert_eq!(r.status, 412, "{}", r.body);

    let iv = request(&srv, &analyst, case).await;
    let qs = iv["questions"].as_array().unwrap();
    assert_eq!(qs.len(), 1, "{qs:?}");
    assert_eq!(qs[0]["text"], "最初の兆候は何でしたか。");
    assert_eq!(qs[0]["part"], "detection");
}

#[tokio::test]
async fn the_request_and_late_answers_are_mailed_once() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let (case, _) = case_one(&srv, &analyst).await;
    // Due yesterday (Japan time): overdue now.
    let today = kizuki_domain::clock::jst_date(srv.app.clock.now());
    let due = today.pred_opt().unwrap().to_string();
    let body = json!({"mode": "on_site", "proposed": ["2020-02-10 14:00"], "with_template": true, "due": due});
    let r = srv
        .api(
            "POST",
            &format!("/cases/{case}/interviews"),
            Some(&analyst),
            &[],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["interview"]["id"].as_i64().unwrap();

    let (port, sink) = smtp_sink(1).await;
    let cfg = notify_through(port);
    // The sink refuses the first delivery: it is handed back, not lost.
    let first = notices::run_once(&srv.app, &cfg, "https://kizuki.example.jp")
        .await
        .unwrap();
    assert_eq!(first.planned, 2, "{first:?}");
    assert_eq!((first.sent, first.failed), (1, 1), "{first:?}");
    // The retry waits; then it goes.
    srv.clock.advance(chrono::Duration::minutes(30));
    let second = notices::run_once(&srv.app, &cfg, "https://kizuki.example.jp")
        .await
        .unwrap();
    assert_eq!(second.sent, 1, "{second:?}");
    let third = notices::run_once(&srv.app, &cfg, "https://kizuki.example.jp")
        .await
        .unwrap();
    assert_eq!(third.planned, 0, "each goes once: {third:?}");
    let mails = sink.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2);
    let request_mail = mails
        .iter()
        .find(|m| m.subject().contains("ヒアリングのお願い"))
        .unwrap();
    assert_eq!(
        request_mail.to,
        vec!["<admin@railway.example.jp>".to_owned()],
        "the operator's admins"
    );
    assert!(
        request_mail
            .body()
            .contains(&format!("https://kizuki.example.jp/interviews/{id}"))
    );
    let late = mails
        .iter()
        .find(|m| m.subject().contains("期限を過ぎています"))
        .unwrap();
    assert!(
        late.to
            .contains(&"<reporter@railway.example.jp>".to_owned()),
        "{:?}",
        late.to
    );
    assert!(
        !late.to.iter().any(|t| t.contains("centre")),
        "{:?}",
        late.to
    );
}

#[tokio::test]
async fn other_dates_then_a_decline_take_the_case_out_and_a_cited_case_cannot_be_declined() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let rail = srv.token(RAIL).await;
    let admin = srv.token(RAIL_ADMIN).await;
    // A case of the 2019 survey from a new railway report; nothing cites it.
    let report = json!({"title": "券売機の停止", "sector": "railway", "event_type": "unavailability",
        "causes": ["equipment-failure"], "summary": "券売機が一斉に停止した。"});
    let r = srv
        .api("POST", "/reports", Some(&rail), &[], Some(&report))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rid = r.json()["id"].as_i64().unwrap();
    let r = srv
        .api(
            "POST",
            "/surveys/2019/cases",
            Some(&analyst),
            &[],
            Some(&json!({"reports": [rid]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let case = r.json()["id"].as_i64().unwrap();
    let iv = request(&srv, &analyst, case).await;
    let id = iv["interview"]["id"].as_i64().unwrap();

    // Other dates: the request stays open in the cooperation record, the centre is told.
    let other = json!({"version": 1, "reply": "proposed", "proposed": ["2020-02-20 15:00"]});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&admin),
            &[],
            Some(&other),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["status"], "proposed");
    let coop = srv
        .api(
            "GET",
            &format!("/cases/{case}/cooperation"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(coop["status"], "requested", "{coop}");
    assert!(
        coop["history"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("2020-02-20 15:00"),
        "{coop}"
    );
    let inbox = srv
        .api("GET", "/interviews", Some(&analyst), &[], None)
        .await
        .json();
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id && i["action"] == true),
        "{inbox}"
    );
    // The centre asks again on the proposed date; the operator answers afresh.
    let again =
        json!({"version": 2, "mode": "on_site", "proposed": ["2020-02-20 15:00"], "place": "本社"});
    let r = srv
        .api(
            "PUT",
            &format!("/interviews/{id}/request"),
            Some(&analyst),
            &[],
            Some(&again),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "requested");

    // A decline needs its reason; with it, the case leaves the survey.
    let bare = json!({"version": 3, "reply": "declined"});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&admin),
            &[],
            Some(&bare),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let decline = json!({"version": 3, "reply": "declined", "note": "社内調査中のため"});
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&admin),
            &[],
            Some(&decline),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["status"], "declined");
    let c = srv
        .api("GET", &format!("/cases/{case}"), Some(&analyst), &[], None)
        .await
        .json();
    assert_eq!(c["survey_year"], Value::Null, "{c}");

    // Case 1 is cited by a common lesson: its decline is refused and nothing is written.
    let (one, _) = case_one(&srv, &analyst).await;
    let iv = request(&srv, &analyst, one).await;
    let id = iv["interview"]["id"].as_i64().unwrap();
    let before = srv
        .api(
            "GET",
            &format!("/cases/{one}/cooperation"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json()["history"]
        .as_array()
        .unwrap()
        .len();
    let r = srv
        .api(
            "POST",
            &format!("/interviews/{id}/answer"),
            Some(&admin),
            &[],
            Some(&json!({
            "version": 1, "reply": "declined", "note": "多忙"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let after = srv
        .api(
            "GET",
            &format!("/interviews/{id}"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(after["status"], "requested", "the answer was not kept");
    let coop = srv
        .api(
            "GET",
            &format!("/cases/{one}/cooperation"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(coop["history"].as_array().unwrap().len(), before);
}

#[tokio::test]
async fn refused_forms_keep_what_was_typed() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let (case, _) = case_one(&srv, &analyst).await;
    let id = request(&srv, &analyst, case).await["interview"]["id"]
        .as_i64()
        .unwrap();

    // A template that does not read: the editor sees the line and keeps the text.
    let mut editor = srv.client(EDITOR).await;
    let page = editor.get("/interview-templates").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"body-cyber-attack\""));
    let broken = "[[question]]\nsection = \"detection\"\ntext = \"攻撃に気付いた経緯\n";
    let r = editor
        .post(
            "/interview-templates",
            "/interview-templates/cyber-attack",
            &[("version", "0"), ("body", broken)],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("3行目"), "names the line");
    assert!(r.body.contains("攻撃に気付いた経緯"), "keeps the text");
    // An analyst reads the questions but has no form.
    let mut a = srv.client(ANALYST).await;
    let page = a.get("/interview-templates").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"body-cyber-attack\""));

    // Minutes with a step the case lacks: refused by name, every row as typed.
    let form = format!("/interviews/{id}/minutes");
    let r = a
        .post(
            &form,
            &form,
            &[
                ("version", "1"),
                ("held_at", "来週の月曜"),
                ("statements[0][speaker]", "部長"),
                ("statements[0][text]", "夜間の警告に気付くのが遅れました。"),
                ("statements[0][step]", "step:99"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("来週の月曜"));
    assert!(r.body.contains("夜間の警告に気付くのが遅れました。"));
    assert!(r.body.contains("id=\"err-held_at\""), "{}", r.body);

    // A stale answer form: the conflict is shown and the text kept.
    let iv = srv
        .api(
            "GET",
            &format!("/interviews/{id}"),
            Some(&analyst),
            &[],
            None,
        )
        .await
        .json();
    let q = iv["questions"][0]["id"].as_i64().unwrap().to_string();
    let mut rail = srv.client(RAIL).await;
    let show = format!("/interviews/{id}");
    let r = rail
        .post(
            &show,
            &format!("/interviews/{id}/answers"),
            &[
                ("question", &q),
                ("version", "1"),
                ("answer", "最初の下書き"),
                ("submit", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = rail
        .post(
            &show,
            &format!("/interviews/{id}/answers"),
            &[
                ("question", &q),
                ("version", "1"),
                ("answer", "古い画面からの書き直し"),
                ("submit", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("id=\"interview-stale\""));
    assert!(r.body.contains("古い画面からの書き直し"));
}
