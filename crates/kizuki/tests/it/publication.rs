//! Publication through the web app: the review blocks sign-off and publication until
//! every candidate is decided, the operator sees exactly the anonymised text, a change after
//! approval sends the case back, and the public portal shows the demo's 2019 cases without
//! login while hiding everything unpublished.

use kizuki_app::auth::Principal;
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_domain::signoff::SignOffState;
use kizuki_testkit::{Client, EDITOR, FINANCE, RAIL, Resp, TestApp};

const SECRET_TITLE: &str = "未公開の社内報告ｚｚｑ";

/// Files a TLP:AMBER first report as the railway reporter and returns its id.
async fn file_report(c: &mut Client, title: &str) -> i64 {
    let r = c
        .post(
            "/reports/new",
            "/reports",
            &[
                ("title", title),
                ("sector", "railway"),
                ("event_type", "unavailability"),
                ("occurred_date", "令和元年5月1日"),
                ("occurred_time", "9:15"),
                ("summary", "改元後に日付が1989年と表示された。"),
                ("tlp", "amber"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.header("location").unwrap();
    loc.trim_start_matches("/reports/").parse().unwrap()
}

/// A new case 8 of the 2019 survey written from a railway report, with identifiers put back
/// into the published case 1: the operator's name, an e-mail address, a phone number, a host.
async fn case_with_identifiers(srv: &TestApp, report: i64) -> CaseId {
    let one = srv
        .app
        .store
        .case_by_number(2019, 1)
        .await
        .unwrap()
        .unwrap();
    let mut content = one.content.clone();
    content.number = 8;
    content.title = "改元対応の確認漏れ（匿名化テスト）".into();
    content.overview[0] = format!(
        "{}（デモ旅客鉄道株式会社、連絡先 taro@rail-demo.co.jp、03-1234-5678、srv01.rail-demo.co.jp）",
        content.overview[0]
    );
    srv.app
        .store
        .create_case(
            Some(2019),
            Some(ReportId(report)),
            content,
            None,
            srv.app.clock.now(),
        )
        .await
        .unwrap()
        .id
}

/// Percent-encodes a query value (every non-alphanumeric byte).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn state(srv: &TestApp, id: CaseId) -> SignOffState {
    srv.app
        .store
        .signoff_history(id)
        .await
        .unwrap()
        .last()
        .map(|t| t.to)
        .unwrap_or_default()
}

async fn editor_action(c: &mut Client, id: CaseId, action: &str) {
    let page = format!("/cases/{}/anonymise", id.0);
    let r = c
        .post(
            &page,
            &format!("/cases/{}/signoff/action", id.0),
            &[("action", action)],
        )
        .await;
    assert_eq!(r.status, 303, "{action}: {}", r.body);
}

#[tokio::test]
async fn review_signoff_and_publication() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let report = file_report(&mut rail, "匿名化テストの元報告").await;
    let id = case_with_identifiers(&srv, report).await;
    let mut ed = srv.client(EDITOR).await;
    let review = format!("/cases/{}/anonymise", id.0);

    // The review lists the candidates and says they block publication.
    let page = ed.get(&review).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"unresolved\""), "{}", page.body);
    assert!(page.body.contains("taro@rail-demo.co.jp"));

    // Nothing can be sent or published while a candidate is undecided.
    editor_action(&mut ed, id, "send").await;
    editor_action(&mut ed, id, "publish").await;
    assert_eq!(state(&srv, id).await, SignOffState::Draft);
    assert!(srv.app.store.signoff_history(id).await.unwrap().is_empty());
    assert!(srv.app.store.publication(2019, 8).await.unwrap().is_none());

    // Decide every candidate through the page: dates kept, everything else replaced.
    let r = kizuki_app::publication::load(&srv.app, id, 3)
        .await
        .unwrap();
    let cands: Vec<_> = r.anonymised.review.candidates().to_vec();
    assert!(cands.len() >= 4, "{cands:?}");
    for c in &cands {
        let (decision, value) = if c.kind == kizuki_domain::anonymise::CandidateKind::Date {
            ("ignored", "公表済みの日付")
        } else {
            ("accepted", c.suggested.as_str())
        };
        let resp = ed
            .post(
                &review,
                &format!("/cases/{}/anonymise/decisions", id.0),
                &[
                    ("candidate", &c.id),
                    ("decision", decision),
                    ("value", value),
                ],
            )
            .await;
        assert_eq!(resp.status, 303, "{}", resp.body);
    }
    let r = kizuki_app::publication::load(&srv.app, id, 3)
        .await
        .unwrap();
    assert!(r.anonymised.publishable(), "{:?}", r.anonymised.residual);
    assert!(!ed.get(&review).await.body.contains("id=\"unresolved\""));

    editor_action(&mut ed, id, "send").await;
    assert_eq!(state(&srv, id).await, SignOffState::SentToOperator);
    let dash = rail.get("/").await;
    assert!(
        dash.body.contains(&format!("/cases/{}/signoff", id.0)),
        "{}",
        dash.body
    );

    // The operator sees exactly the anonymised text: labels, no names or addresses.
    let signoff = format!("/cases/{}/signoff", id.0);
    let page = rail.get(&signoff).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("重要インフラ事業者"), "{}", page.body);
    for leak in [
        "デモ旅客鉄道株式会社（",
        "taro@rail-demo.co.jp",
        "03-1234-5678",
        "srv01.rail-demo.co.jp",
    ] {
        assert!(!page.body.contains(leak), "operator page shows {leak}");
    }
    assert!(page.body.contains(&r.current.to_string()));
    let svg = rail.get(&format!("/cases/{}/anonymised.svg", id.0)).await;
    assert_eq!(svg.status, 200);
    assert!(!svg.body.contains("taro@rail-demo.co.jp"));

    // Another operator may neither read nor approve it.
    let mut fin = srv.client(FINANCE).await;
    let other = fin.get(&signoff).await;
    assert!(matches!(other.status, 403 | 404), "{}", other.status);

    let fp = r.current.to_string();
    let resp = rail
        .post(
            &signoff,
            &signoff,
            &[("answer", "approve"), ("fingerprint", &fp)],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(state(&srv, id).await, SignOffState::Approved);

    // A change after approval sends it back to draft, recorded with who and when.
    let editor_user = srv
        .app
        .store
        .credentials(&kizuki_domain::user::Email::parse(EDITOR).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user;
    let p = Principal::from_user(&editor_user);
    let case = srv.app.store.get_case(id).await.unwrap();
    let mut changed = case.content.clone();
    changed.lessons[0].text.push_str("（追記）");
    kizuki_app::survey::cases::update(&srv.app, &p, id, case.version, changed)
        .await
        .unwrap();
    assert_eq!(state(&srv, id).await, SignOffState::Draft);
    let history = srv.app.store.signoff_history(id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.action.code(), "reopen");
    assert_eq!(last.by.user, editor_user.id);
    editor_action(&mut ed, id, "publish").await;
    assert!(srv.app.store.publication(2019, 8).await.unwrap().is_none());

    // The operator's old approval no longer counts: send, approve, then publish.
    editor_action(&mut ed, id, "send").await;
    let r = kizuki_app::publication::load(&srv.app, id, 3)
        .await
        .unwrap();
    let fp = r.current.to_string();
    let resp = rail
        .post(
            &signoff,
            &signoff,
            &[
                ("answer", "changes"),
                ("comments", "部署名も伏せてください"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    assert_eq!(state(&srv, id).await, SignOffState::ChangesRequested);
    assert!(
        ed.get(&review)
            .await
            .body
            .contains("部署名も伏せてください")
    );
    editor_action(&mut ed, id, "send").await;
    rail.post(
        &signoff,
        &signoff,
        &[("answer", "approve"), ("fingerprint", &fp)],
    )
    .await;
    assert_eq!(state(&srv, id).await, SignOffState::Approved);
    editor_action(&mut ed, id, "mark_publishable").await;
    editor_action(&mut ed, id, "publish").await;
    assert_eq!(state(&srv, id).await, SignOffState::Published);

    // Public, without login, and anonymised.
    let Resp { status, body, .. } = srv.get("/public/cases/2019-8").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("改元対応の確認漏れ（匿名化テスト）"));
    assert!(!body.contains("taro@rail-demo.co.jp"));
    assert!(!body.contains("srv01.rail-demo.co.jp"));
    let Resp { body: md, .. } = srv.get("/public/cases/2019-8.md").await;
    assert!(md.contains("（追記）"), "{md}");
}

#[tokio::test]
async fn public_portal_shows_only_published_2019_cases() {
    let srv = TestApp::demo().await;
    // Unpublished material: an AMBER report and a case written from it, never signed off.
    let mut rail = srv.client(RAIL).await;
    let report = file_report(&mut rail, SECRET_TITLE).await;
    let id = case_with_identifiers(&srv, report).await;
    srv.app
        .store
        .update_case(
            id,
            1,
            {
                let mut c = srv.app.store.get_case(id).await.unwrap().content;
                c.title = SECRET_TITLE.into();
                c
            },
            None,
            srv.app.clock.now(),
        )
        .await
        .unwrap();

    let Resp { status, body, .. } = srv.get("/public").await;
    assert_eq!(status, 200, "{body}");
    let published = srv.app.store.list_publications(Some(2019)).await.unwrap();
    assert_eq!(
        published.len(),
        7,
        "every 2019 case is published in the demo"
    );
    let orgs = srv.app.store.list_orgs().await.unwrap();
    for p in &published {
        assert!(
            body.contains(&p.content.title),
            "missing {}",
            p.content.title
        );
        let Resp {
            status: s,
            body: page,
            ..
        } = srv.get(&format!("/public/cases/{}", p.slug())).await;
        assert_eq!(s, 200, "{page}");
        // No directory name in the published page.
        for o in &orgs {
            assert!(
                !page.contains(&o.org.name),
                "{} shows {}",
                p.slug(),
                o.org.name
            );
        }
    }
    assert!(!body.contains(SECRET_TITLE));

    // Unpublished and non-existent look the same: 404.
    assert_eq!(srv.get("/public/cases/2019-8").await.status, 404);
    assert_eq!(srv.get("/public/cases/2019-99").await.status, 404);
    assert_eq!(srv.get("/public/cases/nonsense").await.status, 404);

    // Search finds published text (width-insensitive) and never the unpublished case.
    let first = &published[0].content.title;
    let q: String = first.chars().take(4).collect();
    let url = format!("/public?q={}", encode(&q));
    let Resp { body: hits, .. } = srv.get(&url).await;
    assert!(hits.contains(first.as_str()), "{hits}");
    let url = format!("/public?q={}", encode("ｚｚｑ"));
    let Resp { body: none, .. } = srv.get(&url).await;
    assert!(!none.contains(SECRET_TITLE));
    assert!(none.contains("id=\"no-hits\""), "{none}");

    // An unpublished case 8 does not withhold the year's published edition, nor appear in it.
    let report = srv.get("/public/surveys/2019").await;
    assert_eq!(report.status, 200);
    assert!(report.body.contains("事例7"), "the seven published cases");
    assert!(!report.body.contains(SECRET_TITLE));
}

#[tokio::test]
async fn the_2019_sign_offs_are_dated_in_their_year_and_signed_by_the_directory() {
    let srv = TestApp::demo().await;
    let editor = srv.user(EDITOR).await.id;
    let rail_admin = srv.user("admin@railway.example.jp").await.id;
    let rail = srv.org("demo-railway").await;
    let first = chrono::DateTime::parse_from_rfc3339("2020-03-01T00:00:00+09:00").unwrap();
    let published = chrono::DateTime::parse_from_rfc3339("2020-03-31T10:00:00+09:00").unwrap();
    let cases = srv.app.store.list_cases(Some(2019)).await.unwrap();
    assert_eq!(cases.len(), 7);
    let mut rail_approved = false;
    for case in &cases {
        let history = srv.app.store.signoff_history(case.id).await.unwrap();
        assert_eq!(history.len(), 4, "case {}", case.content.number);
        assert!(
            history.windows(2).all(|w| w[0].at < w[1].at),
            "steps in order: {history:?}"
        );
        assert!(history.iter().all(|t| t.at >= first), "{history:?}");
        assert_eq!(history[3].at, published, "published on the 年度's last day");
        for t in [&history[0], &history[2], &history[3]] {
            assert_eq!(
                t.by.user, editor,
                "the centre's editor signs the editor's steps"
            );
        }
        let report = srv
            .app
            .store
            .get_report(case.report_id.unwrap())
            .await
            .unwrap();
        if report.org_id == rail.id {
            assert_eq!(
                history[1].by.user, rail_admin,
                "the railway's admin approves"
            );
            rail_approved = true;
        }
    }
    assert!(rail_approved, "one 2019 case is the railway's");
    let editions = srv.app.store.editions(2019).await.unwrap();
    assert_eq!(editions[0].published_at, published);
    // The sign-off page shows the dates as a reader expects them.
    let mut ed = srv.client(EDITOR).await;
    let page = ed.get(&format!("/cases/{}/signoff", cases[0].id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("令和2年3月31日"), "{}", page.body);
}

#[tokio::test]
async fn public_annual_report_downloads() {
    let srv = TestApp::demo().await;
    let Resp {
        status, body: html, ..
    } = srv.get("/public/surveys/2019").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("kz-report"));
    let Resp {
        status, body: md, ..
    } = srv.get("/public/surveys/2019.md").await;
    assert_eq!(status, 200);
    assert!(md.contains("事例1"), "{md}");
    assert_eq!(srv.get("/public/report.css").await.status, 200);

    if kizuki_pdf::PdfFonts::discover().is_err() {
        eprintln!(
            "SKIPPED: PDF download — no Japanese font installed (apt-get install fonts-ipaexfont)"
        );
        return;
    }
    let Resp {
        status, body: pdf, ..
    } = srv.get("/public/surveys/2019.pdf").await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with("%PDF"), "not a PDF");
}

#[tokio::test]
async fn report_page_and_dashboards_show_stage_deadlines() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    // Occurred 2019-05-01 09:15 JST; the test clock is in 2026, so the follow-up and final
    // report are long overdue.
    let id = file_report(&mut rail, "期限表示の確認").await;
    let page = rail.get(&format!("/reports/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"deadlines\""), "{}", page.body);
    assert!(
        page.body
            .contains("続報: 期限 2019年5月4日（令和元年5月4日） 09:15 — 期限超過"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("最終報: 期限 2019年6月1日（令和元年6月1日） 09:15")
    );
    let dash = rail.get("/").await;
    assert!(dash.body.contains("id=\"overdue-list\""), "{}", dash.body);
    assert!(dash.body.contains("期限表示の確認"));
    let mut ed = srv.client(EDITOR).await;
    assert!(ed.get("/").await.body.contains("期限表示の確認"));
    // Another operator's dashboard does not list it.
    let mut fin = srv.client(FINANCE).await;
    assert!(!fin.get("/").await.body.contains("期限表示の確認"));
}
