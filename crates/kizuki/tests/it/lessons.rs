//! The lessons catalog through the pages and the API: the 2019 common lessons under their
//! themes with the right cases, the published part on the public portal, tagging from what
//! was seen (a stale save is shown, not applied), the theme form keeping what was typed, and
//! the centre's roles alone changing anything.

use kizuki_testkit::{ANALYST, EDITOR, RAIL, TestApp};
use serde_json::json;

#[tokio::test]
async fn the_2019_common_lessons_appear_under_their_themes_with_their_cases() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let list = rail.get("/lessons/themes").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body.matches("class=\"card\" id=\"theme-").count(), 11);
    let page = rail.get("/lessons/themes/delegation-of-authority").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("誰が判断するのかを前もってはっきりさせ"),
        "{}",
        page.body
    );
    // Common lesson 1 cites cases 1, 3 and 4 of 2019.
    let common = page
        .body
        .split("id=\"common-lessons\"")
        .nth(1)
        .and_then(|s| s.split("</ul>").next())
        .unwrap();
    for n in [1, 3, 4] {
        assert!(
            common.contains(&format!("#case-{n}\"")),
            "case {n}: {common}"
        );
    }
    assert!(!common.contains("#case-2\""), "{common}");
    assert!(page.body.contains("非常時に備えた権限移譲"));
    // An operator is not offered the tagging form.
    assert!(!page.body.contains("/lessons/tag/"));
    let cyber = rail
        .get("/lessons/themes/delegation-of-authority?category=cyber-attack")
        .await;
    assert!(cyber.body.contains("id=\"theme-empty\""), "{}", cyber.body);

    // The public portal shows the published lessons, linked to the published cases.
    let public = srv
        .anonymous()
        .get("/public/lessons/delegation-of-authority")
        .await;
    assert_eq!(public.status, 200, "{}", public.body);
    assert!(
        public.body.contains("/public/cases/2019-1\""),
        "{}",
        public.body
    );
    assert!(
        !public.body.contains("href=\"/cases/"),
        "no workspace links on the portal"
    );

    // The same through the API.
    let token = srv.token(RAIL).await;
    let r = srv
        .api(
            "GET",
            "/lesson-themes/delegation-of-authority",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["common_lessons"][0]["year"], 2019);
    assert_eq!(v["common_lessons"][0]["number"], 1);
    let cited: Vec<i64> = v["common_lessons"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_i64().unwrap())
        .collect();
    assert_eq!(cited, [1, 3, 4]);
    let r = srv
        .api("GET", "/lesson-themes", Some(&token), &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let themes = r.json()["themes"].as_array().unwrap().clone();
    assert_eq!(themes.len(), 11);
    assert_eq!(
        themes[0]["stored"]["theme"]["key"],
        "delegation-of-authority"
    );
    assert_eq!(themes[0]["common_lessons"], 1);
    let r = srv
        .api("GET", "/lesson-themes/nothing", Some(&token), &[], None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn tagging_shows_a_stale_save_and_suggests_from_the_wording() {
    let srv = TestApp::demo().await;
    let case4 = srv
        .app
        .store
        .case_by_number(2019, 4)
        .await
        .unwrap()
        .unwrap();
    let lesson = format!("case:{}:2", case4.id.0);
    let path = format!("/lessons/tag/{lesson}");
    let mut analyst = srv.client(ANALYST).await;
    let form = analyst.get(&path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("排他制御の確実な実施"));
    // Untag it, as the form would post with nothing ticked.
    let r = analyst
        .post(&path, &path, &[("expected", "exclusive-control")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let again = analyst.get(&path).await;
    let suggested = again
        .body
        .split("id=\"suggestions\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no suggestions: {}", again.body));
    assert!(
        suggested.contains("data-theme=\"exclusive-control\""),
        "{suggested}"
    );
    // A second analyst still holding the old form posts it: refused, the page says so and
    // shows the themes as they now are.
    let r = analyst
        .post(
            &path,
            &path,
            &[("expected", "exclusive-control"), ("themes", "mfa")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("id=\"tag-conflict\""));
    let tags = srv.app.store.lesson_tags(Some(&lesson)).await.unwrap();
    assert!(tags.is_empty(), "nothing applied: {tags:?}");

    // Over the API: an unknown theme names the field; a stale set is 409.
    let token = srv.token(ANALYST).await;
    let api = format!("/lessons/{lesson}/themes");
    let put = |token: &str, expected: &[&str], themes: &[&str]| {
        let body = json!({"expected": expected, "themes": themes});
        let (srv, api, token) = (&srv, api.clone(), token.to_owned());
        async move { srv.api("PUT", &api, Some(&token), &[], Some(&body)).await }
    };
    let r = put(&token, &[], &["nothing"]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("themes[0]"), "{}", r.body);
    let r = put(&token, &[], &["exclusive-control"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put(&token, &[], &["mfa"]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    // An operator may not tag.
    let rail = srv.token(RAIL).await;
    let r = put(&rail, &["exclusive-control"], &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn the_theme_form_keeps_what_was_typed() {
    let srv = TestApp::demo().await;
    let mut editor = srv.client(EDITOR).await;
    let new = "/lessons/themes/new";
    let r = editor
        .post(
            new,
            new,
            &[
                ("key", "Supply Chain"),
                ("name_ja", "サプライチェーン"),
                ("name_en", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("value=\"Supply Chain\""), "{}", r.body);
    assert!(r.body.contains("value=\"サプライチェーン\""));
    assert!(r.body.contains("id=\"err-key\""));
    assert!(r.body.contains("id=\"err-name_en\""));
    let r = editor
        .post(
            new,
            new,
            &[
                ("key", "supply-chain"),
                ("name_ja", "サプライチェーン"),
                ("name_en", "Supply chain"),
                ("keywords", "取引先、部品"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let edit = "/lessons/themes/supply-chain/edit";
    let form = editor.get(edit).await;
    assert_eq!(form.status, 200, "{}", form.body);
    // Another editor saves first; this one's save from version 1 is shown as a conflict
    // with its text kept.
    let token = srv.token(EDITOR).await;
    let r = srv
        .api(
            "PUT",
            "/lesson-themes/supply-chain",
            Some(&token),
            &[],
            Some(
                &json!({"key": "supply-chain", "name_ja": "供給網", "name_en": "Supply chain",
                         "version": 1}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = editor
        .post(
            edit,
            edit,
            &[
                ("version", "1"),
                ("name_ja", "取引先の管理"),
                ("name_en", "Suppliers"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("id=\"theme-conflict\""));
    assert!(r.body.contains("value=\"取引先の管理\""), "{}", r.body);
    assert!(
        r.body.contains("name=\"version\" value=\"2\""),
        "{}",
        r.body
    );
    // The analyst may read the list but not add to it.
    let mut analyst = srv.client(ANALYST).await;
    assert_eq!(analyst.get(new).await.status, 403);
}

#[tokio::test]
async fn a_tagged_lesson_appears_on_a_matching_report_page_with_the_reason() {
    let srv = TestApp::demo().await;
    let case7 = srv
        .app
        .store
        .case_by_number(2019, 7)
        .await
        .unwrap()
        .unwrap();
    let source = srv
        .app
        .store
        .get_report(case7.report_id.unwrap())
        .await
        .unwrap();
    let rail = srv.token(RAIL).await;
    let r = srv
        .api(
            "POST",
            "/reports",
            Some(&rail),
            &[],
            Some(&json!({
                "title": "メールサービスへの不正ログイン",
                "sector": "railway",
                "event_type": source.details.event_type.0,
                "summary": "外部から不正にログインされた。",
                "tlp": "green",
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let mut c = srv.client(RAIL).await;
    let page = c.get(&format!("/reports/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let section = page
        .body
        .split("id=\"lessons-applying\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_else(|| panic!("no lessons beside the report: {}", page.body));
    let key = format!("case:{}:0", case7.id.0);
    assert!(
        section.contains(&format!("id=\"applying-{key}\"")),
        "{section}"
    );
    assert!(section.contains("クラウド型メールサービスへのログイン強化"));
    assert!(
        section.contains("同じ事象"),
        "the reason is shown: {section}"
    );
    // Untagged by the centre, the lesson is no longer shown.
    let analyst = srv.token(ANALYST).await;
    let now = srv
        .api(
            "GET",
            &format!("/lessons/{key}/themes"),
            Some(&analyst),
            &[],
            None,
        )
        .await;
    let themes = now.json()["themes"].clone();
    let r = srv
        .api(
            "PUT",
            &format!("/lessons/{key}/themes"),
            Some(&analyst),
            &[],
            Some(&json!({"expected": themes, "themes": []})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = c.get(&format!("/reports/{id}")).await;
    assert!(!page.body.contains(&format!("id=\"applying-{key}\"")));
}

#[tokio::test]
async fn an_operators_dashboard_lists_lessons_of_cases_like_it_with_the_reason() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let home = rail.get("/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    let section = home
        .body
        .split("id=\"lessons-for-you\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_else(|| panic!("no lessons on the dashboard: {}", home.body));
    // The railway operator's sector is that of the first 2019 case's report.
    let case1 = srv
        .app
        .store
        .case_by_number(2019, 1)
        .await
        .unwrap()
        .unwrap();
    assert!(
        section.contains(&format!("href=\"/cases/{}\"", case1.id.0)),
        "{section}"
    );
    assert!(section.contains("同じ分野（鉄道）"), "{section}");
    // The centre's staff have no such list.
    let mut analyst = srv.client(ANALYST).await;
    let home = analyst.get("/").await;
    assert!(!home.body.contains("id=\"lessons-for-you\""));
}

#[tokio::test]
async fn a_themes_lessons_export_as_csv_with_the_pages_filters() {
    let srv = TestApp::demo().await;
    let mut analyst = srv.client(ANALYST).await;
    let r = analyst.get("/lessons/themes/log-retention/csv").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        r.body.starts_with('\u{feff}'),
        "a byte-order mark for Excel"
    );
    let lines: Vec<&str> = r.body.trim_end().split("\r\n").collect();
    assert!(
        lines[0].contains("見出し") && lines[0].contains("本文"),
        "{}",
        lines[0]
    );
    // One common lesson (5) and three case lessons (cases 6 and 7).
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("クラウド型メールサービスのログ保存期間の検討"))
    );
    let filtered = analyst
        .get("/lessons/themes/log-retention/csv?category=system-failure")
        .await;
    assert_eq!(
        filtered.body.trim_end().split("\r\n").count(),
        1,
        "the header alone"
    );
    let entries = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "record.export" && e.target == "theme:log-retention.csv")
            .count(),
        2
    );
}
