//! The HTML application through the router: every page's happy path and its main failure,
//! login and CSRF, role and organisation checks, and the no-lost-update conflict page.

use kizuki_domain::ids::ReportId;
use kizuki_testkit::{ANALYST, Client, EDITOR, FINANCE, MINISTRY, RAIL, Resp, TestApp};

/// Files a first report as the railway reporter and returns its id.
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
                ("systems[0].name", "共同利用型予約システム"),
                ("systems[0].shared", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.header("location").unwrap();
    loc.trim_start_matches("/reports/").parse().unwrap()
}

#[tokio::test]
async fn pages_need_login_and_say_where_to_go() {
    let srv = TestApp::demo().await;
    let mut anon = srv.anonymous();
    for path in [
        "/reports",
        "/reports/1",
        "/reports/new",
        "/cases",
        "/cases/1",
        "/cases/1/edit",
        "/surveys",
        "/surveys/2019",
        "/lessons",
        "/reports.csv",
        "/reports/1/triage",
    ] {
        let r = anon.get(path).await;
        assert_eq!(r.status, 303, "{path} must redirect to login");
        assert!(
            r.header("location").unwrap().starts_with("/login?next="),
            "{path}"
        );
    }
    let r = anon.get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("改元に伴うシステム変更トラブルへの対応"));
    assert!(r.header("content-security-policy").is_some());
    let r = anon.get("/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("見つかりません"), "{}", r.body);
}

#[tokio::test]
async fn login_logout_and_csrf() {
    let srv = TestApp::demo().await;
    let mut c = srv.anonymous();
    let page = c.get("/login").await;
    assert_eq!(page.status, 200);
    let anon_cookie = c.cookie.clone().unwrap();
    let csrf = page.csrf();
    // Without the token the form is refused, whatever the password.
    let r = c
        .post_raw(
            "/login",
            &[("email", ANALYST), ("password", &srv.password(ANALYST))],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post_raw(
            "/login",
            &[("_csrf", &csrf), ("email", ANALYST), ("password", "wrong")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("正しくありません"));
    assert!(r.body.contains(ANALYST), "the e-mail typed is kept");
    let pw = srv.password(ANALYST);
    let r = c
        .post_raw(
            "/login",
            &[
                ("_csrf", &csrf),
                ("email", ANALYST),
                ("password", &pw),
                ("next", "/reports"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    // Security: centre staff pass a second factor; the session rotates each step.
    assert_eq!(r.header("location"), Some("/login/mfa"));
    let code = srv.mfa_code(ANALYST).await.unwrap();
    let r = c.post("/login/mfa", "/login/mfa", &[("code", &code)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/reports"));
    let set = r.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert_ne!(
        c.cookie.clone().unwrap(),
        anon_cookie,
        "session id rotates at login"
    );
    let r = c.get("/").await;
    assert!(r.body.contains("分析 太郎"), "dashboard greets the user");
    assert!(r.body.contains("トリアージ待ちの報告"));
    let r = c.post("/", "/logout", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(c.get("/reports").await.status, 303, "signed out");
}

#[tokio::test]
async fn language_switch_is_remembered_per_user() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let r = c
        .post("/", "/lang", &[("lang", "en"), ("back", "/reports")])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/reports"));
    let r = c.get("/").await;
    assert!(
        r.body.contains("Your organisation&#x27;s open reports") || r.body.contains("open reports"),
        "{}",
        r.body
    );
    assert!(r.body.contains("lang=\"en\""));
    // A new session for the same user starts in English: it is stored with the account.
    let mut again = srv.client(RAIL).await;
    assert!(again.get("/").await.body.contains("lang=\"en\""));
    let r = c.post("/", "/lang", &[("lang", "xx")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn first_report_with_wareki_date_and_validation_keeps_input() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let page = c.get("/reports/new").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("第一報を提出"));
    // A bad 和暦 date and a missing title: both reported, everything typed kept.
    let r = c
        .post(
            "/reports/new",
            "/reports",
            &[
                ("title", ""),
                ("sector", "railway"),
                ("event_type", "unavailability"),
                ("occurred_date", "令和元年4月30日"),
                ("summary", "概要は入力済み"),
                ("people_affected", "千人"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("入力してください"), "title error");
    assert!(r.body.contains("令和元年4月30日"), "typed date kept");
    assert!(
        r.body.contains("2019年5月1日"),
        "the era error explains: {}",
        r.body
    );
    assert!(r.body.contains("概要は入力済み"));
    assert!(r.body.contains("千人"));
    // The summary above the form names each field as the form labels it, with a link to it.
    let summary = r
        .body
        .split("class=\"err-summary\"")
        .nth(1)
        .and_then(|s| s.split("</div>").next())
        .expect("an error summary");
    assert!(
        summary.contains("<a href=\"#f-title\">件名</a>"),
        "{summary}"
    );
    assert!(!summary.contains(">title<"), "{summary}");
    let id = file_report(&mut c, "改元後の日付誤表示").await;
    let r = c.get(&format!("/reports/{id}")).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("改元後の日付誤表示"));
    assert!(
        r.body.contains("2019年5月1日（令和元年5月1日） 09:15"),
        "occurred date shown in both calendars: {}",
        r.body
    );
    assert!(r.body.contains("第一報"));
    // The centre cannot file reports for operators.
    let mut a = srv.client(ANALYST).await;
    assert_eq!(a.get("/reports/new").await.status, 403);
}

#[tokio::test]
async fn follow_up_and_final_stages() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let id = file_report(&mut c, "段階の試験").await;
    let detail = format!("/reports/{id}");
    let stages = format!("/reports/{id}/stages");
    let r = c
        .post(&detail, &stages, &[("kind", "follow_up"), ("text", "")])
        .await;
    assert_eq!(r.status, 422);
    srv.clock.advance(chrono::Duration::hours(5));
    // Five idle hours end the session (30-minute idle timeout); sign in again.
    c.login(RAIL, &srv.password(RAIL)).await;
    let r = c
        .post(
            &detail,
            &stages,
            &[("kind", "follow_up"), ("text", "原因はベンダの改修漏れ。")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = c
        .post(
            &detail,
            &stages,
            &[("kind", "final"), ("text", "復旧済み。")],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = c.get(&detail).await;
    assert!(page.body.contains("原因はベンダの改修漏れ。"));
    assert!(page.body.contains("最終報"));
    assert!(
        !page.body.contains("id=\"stage-form\""),
        "nothing follows a final report"
    );
    let r = c
        .post(
            &detail,
            &stages,
            &[("kind", "follow_up"), ("text", "さらに")],
        )
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn reporters_see_only_their_organisation() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let id = file_report(&mut rail, "鉄道の報告").await;
    let mut fin = srv.client(FINANCE).await;
    assert_eq!(fin.get(&format!("/reports/{id}")).await.status, 404);
    assert_eq!(fin.get(&format!("/reports/{id}/edit")).await.status, 404);
    let list = fin.get("/reports").await;
    assert!(!list.body.contains("鉄道の報告"));
    let list = rail.get("/reports").await;
    assert!(list.body.contains("鉄道の報告"));
    // The ministry overseeing railways sees it; it cannot triage.
    let mut min = srv.client(MINISTRY).await;
    assert_eq!(min.get(&format!("/reports/{id}")).await.status, 200);
    assert_eq!(min.get(&format!("/reports/{id}/triage")).await.status, 403);
    // Reporters cannot triage or edit cases either.
    assert_eq!(rail.get(&format!("/reports/{id}/triage")).await.status, 403);
    assert_eq!(rail.get("/cases/1/edit").await.status, 403);
}

#[tokio::test]
async fn list_filters_sort_pages_and_csv() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    file_report(&mut rail, "フィルタ試験").await;
    let mut a = srv.client(ANALYST).await;
    let all = a.get("/reports").await;
    assert_eq!(all.status, 200);
    assert!(all.body.contains("フィルタ試験"));
    assert!(all.body.contains("改元"), "the survey's reports are listed");
    let r = a.get("/reports?status=new").await;
    assert!(r.body.contains("フィルタ試験"));
    assert!(
        !r.body.contains("改元に伴う"),
        "imported reports are triaged"
    );
    let r = a
        .get("/reports?fy=%E4%BB%A4%E5%92%8C%E5%85%83%E5%B9%B4%E5%BA%A6")
        .await;
    assert!(
        !r.body.contains("フィルタ試験"),
        "filed in FY2026, not 令和元年度"
    );
    // By the date it occurred, the same report is in 令和元年度, and no longer in the year
    // it was filed; the choice is kept on the form, the next pages and the CSV link.
    let r = a
        .get("/reports?fy=%E4%BB%A4%E5%92%8C%E5%85%83%E5%B9%B4%E5%BA%A6&fy_by=occurred")
        .await;
    assert!(
        r.body.contains("フィルタ試験"),
        "occurred on 令和元年5月1日"
    );
    assert!(
        !r.body.contains("改元後の提供日"),
        "the survey's reports record no occurrence date, so no 年度 of occurrence"
    );
    assert!(
        r.body.contains("発生日が分からない報告は含まれません"),
        "and the form says so"
    );
    assert!(r.body.contains("<option value=\"occurred\" selected>"));
    assert!(
        r.body.contains("fy_by=occurred"),
        "the CSV link keeps the choice"
    );
    let r = a.get("/reports?fy=2026&fy_by=occurred").await;
    assert!(!r.body.contains("フィルタ試験"));
    assert!(
        a.get("/reports?fy=2026")
            .await
            .body
            .contains("フィルタ試験")
    );
    let csv = a.get("/reports.csv?fy=2019&fy_by=occurred").await;
    assert!(
        csv.body.contains("フィルタ試験"),
        "the CSV follows the list"
    );
    let r = a.get("/reports?fy=nonsense").await;
    assert!(r.body.contains("年度として認識できません"));
    let r = a.get("/reports?sector=finance&sort=severity_desc").await;
    assert!(!r.body.contains("フィルタ試験"));
    let csv = a.get("/reports.csv?status=new").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv.body.starts_with('\u{feff}'), "UTF-8 BOM for Excel");
    assert!(csv.body.contains("報告日（和暦）"));
    assert!(csv.body.contains("フィルタ試験"));
    assert!(csv.body.contains("令和8年11月27日"));
    let mut fin = srv.client(FINANCE).await;
    assert!(!fin.get("/reports.csv").await.body.contains("フィルタ試験"));
}

#[tokio::test]
async fn stale_report_edit_shows_both_and_keeps_mine() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let id = file_report(&mut rail, "編集の競合").await;
    let edit = format!("/reports/{id}/edit");
    let form = rail.get(&edit).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"version\" value=\"1\""));
    // An analyst saves first.
    let mut admin = srv.client("admin@railway.example.jp").await;
    let base = [
        ("version", "1"),
        ("sector", "railway"),
        ("event_type", "unavailability"),
        ("summary", "概要"),
        ("tlp", "amber"),
    ];
    let mut theirs = base.to_vec();
    theirs.push(("title", "管理者が直した件名"));
    assert_eq!(admin.post(&edit, &edit, &theirs).await.status, 303);
    let mut mine = base.to_vec();
    mine.push(("title", "報告者が直した件名"));
    let r = rail.post(&edit, &edit, &mine).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("ほかの人が先に保存しました"));
    assert!(
        r.body.contains("管理者が直した件名"),
        "their change is shown"
    );
    assert!(r.body.contains("報告者が直した件名"), "mine is kept");
    assert!(
        r.body.contains("name=\"version\" value=\"2\""),
        "based on theirs now"
    );
    // Saving again on purpose wins.
    let mut again = base.to_vec();
    again[0] = ("version", "2");
    again.push(("title", "報告者が直した件名"));
    assert_eq!(rail.post(&edit, &edit, &again).await.status, 303);
    assert!(
        rail.get(&format!("/reports/{id}"))
            .await
            .body
            .contains("報告者が直した件名")
    );
}

#[tokio::test]
async fn triage_links_and_incidents() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let a = file_report(&mut rail, "共同利用システム障害A").await;
    let mut fin = srv.client(FINANCE).await;
    let r = fin
        .post(
            "/reports/new",
            "/reports",
            &[
                ("title", "共同利用システム障害B"),
                ("sector", "finance"),
                ("event_type", "unavailability"),
                ("summary", "同じシステムで障害"),
                ("systems[0].name", "共同利用型予約システム"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let b: i64 = r.header("location").unwrap()[9..].parse().unwrap();
    let mut an = srv.client(ANALYST).await;
    let triage = format!("/reports/{a}/triage");
    let page = an.get(&triage).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("共同利用システム障害B"),
        "shared system is a candidate"
    );
    let r = an
        .post(
            &triage,
            &triage,
            &[
                ("version", "1"),
                ("event_type", "unavailability"),
                ("causes", "vulnerability"),
                ("severity", "2"),
                ("tlp", "amber"),
                ("status", "triaged"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let detail = an.get(&format!("/reports/{a}")).await.body;
    // AMBER (TLP 2.0): other operators do not receive it unless named.
    assert!(detail.contains("TLP:AMBER") && detail.contains("分類済み"));
    // Stale triage is refused with both versions.
    let r = an
        .post(
            &triage,
            &triage,
            &[
                ("version", "1"),
                ("event_type", "malware"),
                ("tlp", "red"),
                ("status", "triaged"),
            ],
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("ほかの人が先に保存しました"));
    let links = format!("/reports/{a}/links");
    let r = an
        .post(
            &triage,
            &links,
            &[("to", &a.to_string()), ("kind", "related")],
        )
        .await;
    assert_eq!(r.status, 422, "a report cannot link to itself");
    let b_s = b.to_string();
    let r = an.post(&triage, &links, &[("incident", &b_s)]).await;
    assert_eq!(r.status, 303);
    let detail = an.get(&format!("/reports/{b}")).await.body;
    assert!(detail.contains("同一インシデントの報告"));
    assert!(detail.contains("共同利用システム障害A"));
    // The finance reporter sees the link but not the other operator's report.
    let fdetail = fin.get(&format!("/reports/{b}")).await.body;
    assert!(!fdetail.contains("共同利用システム障害A"));
    let r = an
        .post(&triage, &format!("/reports/{a}/links/{b}/delete"), &[])
        .await;
    assert_eq!(r.status, 303);
    // The links section no longer names it (the similar-cases list further down may, as it
    // shares the system).
    let page = an.get(&format!("/reports/{b}")).await.body;
    let links_part = page.split("id=\"similar\"").next().unwrap();
    assert!(!links_part.contains("共同利用システム障害A"));
    // Marking from the list.
    let r = an
        .post(
            "/reports",
            "/reports/incident",
            &[("ids", &a.to_string()), ("ids", &b_s)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").unwrap(), format!("/reports/{a}"));
    let r = rail
        .post(
            "/",
            "/reports/incident",
            &[("ids", &a.to_string()), ("ids", &b_s)],
        )
        .await;
    assert_eq!(r.status, 403, "reporters cannot link");
}

#[tokio::test]
async fn cases_surveys_and_lessons() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let list = c.get("/cases").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .contains("クラウド型メールサービスに対する不正ログイン")
    );
    let case = c.get("/cases/1").await;
    assert_eq!(case.status, 200);
    assert!(case.body.contains("【1 背景】") && case.body.contains("得られた気付き・教訓"));
    assert!(
        !case.body.contains("/cases/1/edit"),
        "reporters get no edit button"
    );
    assert_eq!(c.get("/cases/999").await.status, 404);
    let s = c.get("/surveys").await;
    assert!(s.body.contains("2019年度"));
    let s = c.get("/surveys/2019").await;
    assert_eq!(s.status, 200);
    assert!(s.body.contains("共通する気付き・教訓"));
    assert!(
        s.body.contains("（事例"),
        "common lessons cite case numbers"
    );
    assert_eq!(c.get("/surveys/1999").await.status, 404);
    // The survey page links the annual report in each format.
    for (format, needle) in [("html", "<!DOCTYPE html"), ("md", "# ")] {
        assert!(s.body.contains(&format!("/surveys/2019/report/{format}")));
        let r = c.get(&format!("/surveys/2019/report/{format}")).await;
        assert_eq!(r.status, 200, "{format}");
        assert!(
            r.header("content-disposition")
                .is_some_and(|d| d.contains("kizuki-survey-2019")),
            "{format} is a download"
        );
        assert!(
            r.body.to_lowercase().contains(&needle.to_lowercase()),
            "{format}"
        );
        assert!(
            r.body.contains("改元に伴うシステム変更トラブルへの対応"),
            "{format}"
        );
    }
    assert!(s.body.contains("/surveys/2019/report/pdf"));
    assert!(s.body.contains("/surveys/2019/report/pdf-landscape"));
    assert_eq!(c.get("/surveys/2019/report/docx").await.status, 404);
    if kizuki_pdf::PdfFonts::discover().is_ok() {
        let r = c.get("/surveys/2019/report/pdf-landscape").await;
        assert_eq!(r.status, 200);
        assert!(r.bytes.starts_with(b"%PDF"));
        let disposition = r.header("content-disposition").unwrap_or_default();
        assert!(disposition.contains("landscape.pdf"), "{disposition}");
    } else {
        eprintln!("skipped: the landscape PDF download — no Japanese font installed");
    }
    let all = c.get("/lessons").await;
    let cyber = c.get("/lessons?category=cyber-attack").await;
    assert_eq!(cyber.status, 200);
    let count = |b: &str| b.matches("<li class=\"card\">").count();
    assert!(count(&cyber.body) > 0);
    assert!(count(&cyber.body) < count(&all.body), "the filter narrows");
}

/// The case editor: a stale save shows the other change beside mine and loses nothing.
#[tokio::test]
async fn case_editor_preview_and_conflict() {
    let srv = TestApp::demo().await;
    let mut a = srv.client(ANALYST).await;
    let mut e = srv.client(EDITOR).await;
    let page = a.get("/cases/1/edit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"version\" value=\"1\""));
    // Presence: the editor opens the same case and is told the analyst has it open.
    let epage = e.get("/cases/1/edit").await;
    assert!(
        epage.body.contains("分析 太郎"),
        "presence shows the other editor"
    );
    let csrf = page.csrf();
    let r = a
        .post_raw("/presence", &[("_csrf", &csrf), ("key", "case:1")])
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["message"].as_str().unwrap().contains("編集 花子"));
    let r = a.post_raw("/presence", &[("key", "case:1")]).await;
    assert_eq!(r.status, 403, "heartbeats need the CSRF token too");

    // Read the form the way a browser would submit it.
    let mut base = editor_fields(&page.body);
    assert!(base.iter().any(|(k, _)| k == "steps[0][text]"), "{base:?}");
    base.retain(|(k, _)| k != "version");
    base.push(("version".into(), "1".into()));
    let lessons = base.iter().filter(|(k, _)| k.ends_with("][title]")).count();
    let with = |changes: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| {
                let nv = changes
                    .iter()
                    .find(|(ck, _)| ck == k)
                    .map_or(v.clone(), |(_, cv)| (*cv).to_owned());
                (k.clone(), nv)
            })
            .collect();
        // Fields the form did not have yet are new rows' fields.
        for (k, v) in changes {
            if !base.iter().any(|(bk, _)| bk == k) {
                out.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        out
    };
    // Live preview renders the typed case without saving.
    let preview = with(&[("title", "プレビューの題名")]);
    let refs: Vec<(&str, &str)> = preview
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = a.post("/cases/1/edit", "/cases/preview", &refs).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("プレビューの題名"));
    assert!(!a.get("/cases/1").await.body.contains("プレビューの題名"));
    assert!(r.body.contains("<svg"), "the preview draws the diagram");
    let broken = with(&[("steps[0][actors]", "ghost")]);
    let refs: Vec<(&str, &str)> = broken
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = a.post("/cases/1/edit", "/cases/preview", &refs).await;
    assert!(
        r.body.contains("手順(1) 関係者（キー）") && r.body.contains("ghost"),
        "errors name the row and field: {}",
        r.body
    );

    // The editor saves a new lesson first.
    let (title_key, text_key) = (
        format!("lessons[{lessons}][title]"),
        format!("lessons[{lessons}][text]"),
    );
    let new_lesson = [
        (title_key.as_str(), "編集者の教訓"),
        (text_key.as_str(), "編集者が追加した本文"),
    ];
    let theirs = with(&new_lesson);
    let refs: Vec<(&str, &str)> = theirs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = e.post("/cases/1/edit", "/cases/1/edit", &refs).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // The analyst, still on version 1, changes the title.
    let mine = with(&[("title", "分析者が直した題名")]);
    let refs: Vec<(&str, &str)> = mine.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = a.post("/cases/1/edit", "/cases/1/edit", &refs).await;
    assert_eq!(r.status, 409);
    assert!(
        r.body.contains("編集者が追加した本文"),
        "their change is shown"
    );
    assert!(
        r.body.contains("分析者が直した題名"),
        "my change is kept in the form"
    );
    assert!(r.body.contains("name=\"version\" value=\"2\""));
    // Merging both and saving keeps both.
    let merged = with(&[
        ("title", "分析者が直した題名"),
        new_lesson[0],
        new_lesson[1],
        ("version", "2"),
    ]);
    let refs: Vec<(&str, &str)> = merged
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = a.post("/cases/1/edit", "/cases/1/edit", &refs).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let view = a.get("/cases/1").await.body;
    assert!(view.contains("分析者が直した題名") && view.contains("編集者が追加した本文"));
    // Validation errors keep the input.
    let bad = with(&[
        ("title", ""),
        ("version", "3"),
        ("overview", "残すべき概要"),
    ]);
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = a.post("/cases/1/edit", "/cases/1/edit", &refs).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("残すべき概要"));
    assert!(
        r.body.contains("<li><a href=\"#f-title\">事例名</a>: "),
        "the summary names the field as the editor labels it"
    );
}

/// The value of attribute `name` in an opening tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(decode(&tag[start..end]))
}

/// Every field of the case editor as a browser posts it: inputs, textareas and selected
/// options in page order, without the CSRF token, buttons or the rows' `<template>`s.
fn editor_fields(body: &str) -> Vec<(String, String)> {
    let start = body.find("id=\"case-form\"").expect("the editor form");
    let end = start + body[start..].find("</form>").unwrap();
    let mut html = body[start..end].to_owned();
    while let Some(a) = html.find("<template") {
        let b = a + html[a..].find("</template>").unwrap() + "</template>".len();
        html.replace_range(a..b, "");
    }
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while let Some((i, tag)) = ["<input ", "<textarea ", "<select "]
        .iter()
        .filter_map(|t| rest.find(t).map(|i| (i, *t)))
        .min()
    {
        rest = &rest[i..];
        let open = &rest[..rest.find('>').unwrap()];
        let name = attr(open, "name");
        let value = match tag {
            "<input " => attr(open, "value").unwrap_or_default(),
            "<textarea " => {
                let close = rest.find("</textarea>").unwrap();
                decode(&rest[open.len() + 1..close])
            }
            _ => {
                let close = rest.find("</select>").unwrap();
                let options = &rest[open.len() + 1..close];
                let chosen = options
                    .split("<option")
                    .find(|o| o.contains(" selected"))
                    .or_else(|| options.split("<option").nth(1))
                    .unwrap_or_default();
                attr(chosen, "value").unwrap_or_default()
            }
        };
        if let Some(n) = name.filter(|n| n != "_csrf") {
            out.push((n, value));
        }
        rest = &rest[open.len()..];
    }
    out
}

/// The opening tag that contains `needle`.
fn opening_tag<'a>(body: &'a str, needle: &str) -> &'a str {
    let at = body.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    let start = body[..at].rfind('<').unwrap();
    let end = at + body[at..].find('>').unwrap();
    &body[start..=end]
}

/// Posts the case editor's fields (and a button's name and value) back to it.
async fn post_editor(a: &mut Client, fields: &[(String, String)], extra: &[(&str, &str)]) -> Resp {
    let mut all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    a.post("/cases/1/edit", "/cases/1/edit", &all).await
}

/// The row editor without a script: every row button is a submit that re-renders the form
/// with the change and saves nothing; saving then stores the rows, times included, which the
/// case page and its diagram show.
#[tokio::test]
async fn case_editor_rows_work_without_script() {
    let srv = TestApp::demo().await;
    let mut a = srv.client(ANALYST).await;
    let page = a.get("/cases/1/edit").await;
    let mut fields = editor_fields(&page.body);
    let steps = fields
        .iter()
        .filter(|(k, _)| k.starts_with("steps[") && k.ends_with("[text]"))
        .count();
    assert!(steps > 1);
    let first_actor = fields
        .iter()
        .find(|(k, _)| k == "actors[0][key]")
        .map(|(_, v)| v.clone())
        .unwrap();
    // Add: a blank row at the end, its first field focused, nothing saved.
    let r = post_editor(&mut a, &fields, &[("row_op", "steps:add")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let input = opening_tag(&r.body, &format!("id=\"f-steps-{steps}-actors\""));
    assert!(
        input.contains(&format!("name=\"steps[{steps}][actors]\"")),
        "{input}"
    );
    assert!(
        input.contains("value=\"\"") && input.contains(" autofocus"),
        "{input}"
    );
    fields = editor_fields(&r.body);
    let set = |fields: &mut Vec<(String, String)>, k: &str, v: &str| {
        fields.iter_mut().find(|(fk, _)| fk == k).unwrap().1 = v.to_owned();
    };
    set(
        &mut fields,
        &format!("steps[{steps}][actors]"),
        &first_actor,
    );
    set(
        &mut fields,
        &format!("steps[{steps}][text]"),
        "行で追加した手順",
    );
    set(&mut fields, &format!("steps[{steps}][time]"), " 10:30 ");
    // Move it up one: the row and its fields go together, the focus follows its button.
    let r = post_editor(&mut a, &fields, &[("row_op", &format!("steps:up:{steps}"))]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&format!("id=\"steps-{}-up\"", steps - 1)));
    assert!(r.body.contains("autofocus>上へ</button>"), "{}", r.body);
    fields = editor_fields(&r.body);
    let value = |fields: &[(String, String)], k: &str| {
        fields
            .iter()
            .find(|(fk, _)| fk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        value(&fields, &format!("steps[{}][text]", steps - 1)),
        "行で追加した手順"
    );
    assert_eq!(
        value(&fields, &format!("steps[{}][time]", steps - 1)),
        " 10:30 "
    );
    let last = value(&fields, &format!("steps[{steps}][text]"));
    assert_ne!(last, "行で追加した手順");
    assert!(
        !a.get("/cases/1").await.body.contains("行で追加した手順"),
        "nothing saved yet"
    );
    // Remove the first step: the rest move up.
    let second = value(&fields, "steps[1][text]");
    let r = post_editor(&mut a, &fields, &[("row_op", "steps:remove:0")]).await;
    fields = editor_fields(&r.body);
    assert_eq!(value(&fields, "steps[0][text]"), second);
    assert_eq!(
        value(&fields, &format!("steps[{}][text]", steps - 2)),
        "行で追加した手順"
    );
    // An unknown button is refused rather than guessed at.
    let r = post_editor(&mut a, &fields, &[("row_op", "steps:explode:1")]).await;
    assert_eq!(r.status, 400);

    // A time on two lines is refused on its row and field, and everything typed stays.
    let at = steps - 2;
    let time_key = format!("steps[{at}][time]");
    let mut bad = fields.clone();
    set(&mut bad, &time_key, "5月7日\n9時");
    let r = post_editor(&mut a, &bad, &[]).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains(&format!("id=\"err-steps-{at}-time\"")),
        "{}",
        r.body
    );
    let input = opening_tag(&r.body, &format!("id=\"f-steps-{at}-time\""));
    assert!(input.contains("aria-invalid=\"true\""), "{input}");
    assert!(input.contains(&format!("err-steps-{at}-time")), "{input}");
    assert_eq!(
        value(&editor_fields(&r.body), &format!("steps[{at}][text]")),
        "行で追加した手順"
    );

    // Saved: the case page and its diagram show the time, trimmed.
    let r = post_editor(&mut a, &fields, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let view = a.get("/cases/1").await;
    assert!(view.body.contains("行で追加した手順"));
    assert!(
        view.body.contains("<span class=\"time\">10:30</span>"),
        "{}",
        view.body
    );
    // The page shows the diagram from its own address (templates escape the slashes).
    let img = opening_tag(&view.body, "diagram.svg\"");
    assert!(
        img.starts_with("<img") && decode(img).contains("src=\"/cases/1/diagram.svg\""),
        "{img}"
    );
    let svg = a.get("/cases/1/diagram.svg").await;
    assert_eq!(svg.status, 200);
    assert!(
        svg.header("content-type")
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(svg.body.contains(">10:30</text>"), "{}", svg.body);
    // One step added, one removed: as many as before, the new one second to last.
    let step = |n: usize| format!("<g class=\"kz-step\" data-number=\"{n}\">");
    assert!(svg.body.contains(&step(steps)));
    assert!(!svg.body.contains(&step(steps + 1)));
    let new = svg.body.find(&step(steps - 1)).unwrap();
    assert!(svg.body[new..].find(">10:30</text>") < svg.body[new..].find(&step(steps)));
    // The editor's preview draws the same diagram inline.
    let edit = a.get("/cases/1/edit").await;
    assert!(
        edit.body.contains("<figure class=\"case-diagram\"><svg"),
        "{}",
        edit.body
    );
    assert!(edit.body.contains(">10:30</text>"));
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn static_assets_are_embedded() {
    let srv = TestApp::demo().await;
    let mut c = srv.anonymous();
    let css = c.get("/static/style.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    let js = c.get("/static/app.js").await;
    assert!(js.body.contains("presence"));
    assert_eq!(c.get("/static/nothing.js").await.status, 404);
}

/// The options of one `<datalist>` on a page.
fn datalist(body: &str, id: &str) -> Vec<String> {
    let open = format!("<datalist id=\"{id}\">");
    let Some(start) = body.find(&open) else {
        return Vec::new();
    };
    let rest = &body[start + open.len()..];
    let list = &rest[..rest.find("</datalist>").unwrap_or(0)];
    list.split("<option value=\"")
        .skip(1)
        .map(|o| o.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_report_form_offers_the_systems_and_vendors_its_user_may_read() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    file_report(&mut rail, "名前の候補").await;
    let form = rail.get("/reports/new").await;
    assert_eq!(form.status, 200);
    let systems = datalist(&form.body, "suggest-systems");
    assert!(
        systems.contains(&"共同利用型予約システム".to_owned()),
        "{systems:?}"
    );
    assert!(form.body.contains("list=\"suggest-systems\""));
    let vendors = datalist(&form.body, "suggest-vendors");
    assert!(
        vendors.contains(&"システムベンダA".to_owned()),
        "{vendors:?}"
    );
    // Another operator is offered what the public 2019 reports name, never the names in the
    // railway's TLP:AMBER report.
    let mut fin = srv.client(FINANCE).await;
    let form = fin.get("/reports/new").await;
    let systems = datalist(&form.body, "suggest-systems");
    assert!(
        systems.contains(&"共同利用型基幹システム".to_owned()),
        "{systems:?}"
    );
    assert!(
        !systems.contains(&"共同利用型予約システム".to_owned()),
        "{systems:?}"
    );
    // Vendors are typed one per box, each offered the same names; the edit form gives back a
    // box per vendor and an empty one.
    let r = rail
        .post(
            "/reports/new",
            "/reports",
            &[
                ("title", "ベンダ二社"),
                ("sector", "railway"),
                ("event_type", "unavailability"),
                ("summary", "二社が関わった。"),
                ("tlp", "amber"),
                ("vendors[0]", "システムベンダA"),
                ("vendors[1]", " 保守会社C "),
                ("vendors[2]", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id: i64 = r
        .header("location")
        .unwrap()
        .trim_start_matches("/reports/")
        .parse()
        .unwrap();
    let stored = srv.app.store.get_report(ReportId(id)).await.unwrap();
    assert_eq!(stored.details.vendors, vec!["システムベンダA", "保守会社C"]);
    let edit = rail.get(&format!("/reports/{id}/edit")).await;
    assert!(
        edit.body
            .contains("name=\"vendors[1]\" value=\"保守会社C\" list=\"suggest-vendors\"")
    );
    assert!(
        edit.body.contains("name=\"vendors[2]\" value=\"\""),
        "one empty box"
    );
    // A refused form keeps offering them.
    let r = fin
        .post(
            "/reports/new",
            "/reports",
            &[("title", ""), ("sector", "finance")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(!datalist(&r.body, "suggest-systems").is_empty());
}
