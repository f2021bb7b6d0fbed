//! Pages as a demanding user reads them: an error page keeps the signed-in header, the
//! home page leads to the public portal, the administrator's menu reaches the audit log and
//! the log reads as names, phrases and Japan time; search shows its hits before its facets
//! and no timer; a published case offers the editor only what can still be done and tells
//! no reader to approve it; numbers carry separators, vendors are shown, the severity is
//! named once; the authenticator is set up from a QR code.

use crate::search_web::file;
use kizuki_testkit::{ANALYST, EDITOR, RAIL, TestApp};
use serde_json::json;

const ADMIN: &str = "admin@centre.example.jp";

#[tokio::test]
async fn error_pages_keep_the_header_and_the_menus_reach_every_page() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let missing = rail.get("/reports/987654").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("class=\"main\""), "{}", missing.body);
    assert!(
        missing.body.contains("/logout"),
        "signed in, with a way out"
    );
    let anonymous = srv.anonymous().get("/public/cases/1999-9").await;
    assert_eq!(anonymous.status, 404);
    assert!(!anonymous.body.contains("class=\"main\""));

    let home = srv.anonymous().get("/").await;
    assert!(home.body.contains("id=\"to-portal\""), "{}", home.body);
    let mut admin = srv.client(ADMIN).await;
    let dash = admin.get("/").await;
    assert!(dash.body.contains("href=\"/audit\""), "{}", dash.body);
    assert!(dash.body.contains("href=\"/contacts\""));
}

#[tokio::test]
async fn the_audit_log_reads_as_names_phrases_and_japan_time() {
    let srv = TestApp::demo().await;
    let analyst_name = srv.user(ANALYST).await.user.display_name;
    srv.client(ANALYST).await;
    let mut admin = srv.client(ADMIN).await;
    let page = admin.get("/audit?action=auth.login").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&analyst_name), "{}", page.body);
    assert!(page.body.contains("ログイン"), "the action's name");
    assert!(
        page.body.contains("auth.login"),
        "its code beside it, for the filter"
    );
    assert!(
        !page.body.contains("+00:00"),
        "no UTC instants: {}",
        page.body
    );
}

#[tokio::test]
async fn search_shows_hits_first_and_no_timer() {
    let srv = TestApp::builder().demo().mfa().search().build().await;
    let mut c = srv.client(ANALYST).await;
    let page = c.get("/search?q=%E6%94%B9%E5%85%83").await;
    assert_eq!(page.status, 200);
    let hits = page.body.find("id=\"search-hits\"").expect("hits");
    let facets = page.body.find("class=\"facets\"").expect("facets");
    assert!(hits < facets, "the hits come first");
    assert!(!page.body.contains(" ms<"), "no timer");
}

#[tokio::test]
async fn a_published_case_offers_only_what_can_still_be_done() {
    let srv = TestApp::demo().await;
    let case = srv.app.store.list_cases(Some(2019)).await.unwrap()[0].id.0;
    let mut editor = srv.client(EDITOR).await;
    let page = editor.get(&format!("/cases/{case}/anonymise")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains("value=\"publish\""),
        "already published"
    );
    assert!(!page.body.contains("value=\"send\""));
    assert!(page.body.contains("value=\"withdraw\""));
    // The disclosed sector is chosen by its name, not typed as a code.
    assert!(
        page.body.contains("<select name=\"sector\""),
        "{}",
        page.body
    );
    let mut analyst = srv.client(ANALYST).await;
    let page = analyst.get(&format!("/cases/{case}/anonymise")).await;
    assert!(
        page.body.contains("id=\"signoff-no-actions\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("value=\"withdraw\""));
    // The sign-off page of a published case asks nobody to approve it.
    let help = kizuki_web::i18n::catalogue()
        .get(
            kizuki_domain::taxonomy::Lang::Ja,
            "publication.operator_help",
        )
        .to_owned();
    let mut rail = srv.client(RAIL).await;
    let page = rail.get(&format!("/cases/{case}/signoff")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&help), "{}", page.body);
    // Its state and history read in the viewer's language.
    rail.post("/", "/lang", &[("lang", "en"), ("back", "/")])
        .await;
    let page = rail.get(&format!("/cases/{case}/signoff")).await;
    assert!(page.body.contains(">Published<"), "{}", page.body);
    assert!(!page.body.contains("公開済み") && !page.body.contains("公開中"));
}

#[tokio::test]
async fn numbers_vendors_and_severity_read_as_people_write_them() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let id = file(
        &srv,
        &rail,
        &json!({"title": "区切り試験", "sector": "railway", "event_type": "unavailability",
                "summary": "利用者への影響。", "tlp": "green", "people_affected": 12000,
                "vendors": ["かもめ情報システム"], "severity": 2}),
    )
    .await;
    let mut c = srv.client(RAIL).await;
    let page = c.get(&format!("/reports/{id}")).await;
    assert!(page.body.contains("12,000"), "{}", page.body);
    assert!(page.body.contains("かもめ情報システム"));
    let form = c.get("/reports/new").await;
    assert!(!form.body.contains("レベル2：レベル2"), "{}", form.body);
}

#[tokio::test]
async fn the_authenticator_is_set_up_from_a_qr_code() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let page = c.get("/account/mfa").await;
    let csrf = page.csrf();
    let r = c.post_raw("/account/mfa/start", &[("_csrf", &csrf)]).await;
    assert!(matches!(r.status, 200 | 303), "{}", r.body);
    let page = c.get("/account/mfa").await;
    assert!(page.body.contains("id=\"totp-qr\""), "{}", page.body);
    assert!(page.body.contains("<svg"));
}

#[tokio::test]
async fn triage_shows_the_follow_up_being_judged() {
    let srv = TestApp::builder().demo().mfa().build().await;
    let rail = srv.token(RAIL).await;
    let id = file(
        &srv,
        &rail,
        &json!({"title": "続報の試験", "sector": "railway", "event_type": "unavailability",
                "summary": "第一報の内容。", "tlp": "green"}),
    )
    .await;
    let r = srv
        .api(
            "POST",
            &format!("/reports/{id}/stages"),
            Some(&rail),
            &[],
            Some(&json!({"kind": "follow_up", "text": "原因は設定誤りと判明した。"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let mut analyst = srv.client(ANALYST).await;
    let page = analyst.get(&format!("/reports/{id}/triage")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"triage-stages\""), "{}", page.body);
    assert!(page.body.contains("原因は設定誤りと判明した。"));
}

#[tokio::test]
async fn deadlines_are_worded_in_the_viewers_language() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let id = file(
        &srv,
        &rail,
        &json!({"title": "期限の英語表示", "sector": "railway", "event_type": "unavailability",
                "summary": "期限の試験。", "tlp": "green", "occurred_at": "2019-05-01T00:15:00Z"}),
    )
    .await;
    let mut c = srv.client(RAIL).await;
    let r = c.post("/", "/lang", &[("lang", "en"), ("back", "/")]).await;
    assert!(r.status < 400, "{}", r.body);
    let page = c.get(&format!("/reports/{id}")).await;
    assert!(
        page.body.contains("Counted from: occurrence"),
        "{}",
        page.body
    );
    assert!(page.body.contains("overdue ("), "{}", page.body);
    assert!(!page.body.contains("期限超過") && !page.body.contains("起点"));
    let dash = c.get("/").await;
    assert!(dash.body.contains("id=\"overdue-list\""), "{}", dash.body);
    assert!(
        !dash.body.contains("日超過") && !dash.body.contains("時間"),
        "{}",
        dash.body
    );
}

#[tokio::test]
async fn the_published_report_opens_with_a_cover_naming_the_centre_and_the_edition() {
    let srv = TestApp::demo().await;
    let pdf = srv.get("/public/surveys/2019.pdf").await;
    assert_eq!(pdf.status, 200);
    let text = match crate::survey_year::pdf_text(&pdf.bytes) {
        Ok(t) => t,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let cover: String = text
        .split('\u{c}')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(
        cover.contains("重要インフラ情報共有センター（デモ）"),
        "{cover}"
    );
    assert!(cover.contains("発行") && cover.contains("第1版"), "{cover}");
}

#[tokio::test]
async fn the_anonymisation_review_names_places_as_the_editor_shows_them() {
    let srv = TestApp::demo().await;
    let mut ed = srv.client(EDITOR).await;
    let page = ed.get("/cases/1/anonymise").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains(">sections.") && !page.body.contains("sections.background["),
        "field paths shown: {}",
        page.body
    );
    assert!(page.body.contains("【1 背景】 1行目"), "{}", page.body);
    assert!(page.body.contains("日付（日単位）"), "{}", page.body);
    let r = ed
        .post("/", "/lang", &[("lang", "en"), ("back", "/")])
        .await;
    assert!(r.status < 400, "{}", r.body);
    let page = ed.get("/cases/1/anonymise").await;
    assert!(!page.body.contains("sections.background["), "{}", page.body);
    assert!(
        !page.body.contains("日付（日単位）"),
        "kind labels in English: {}",
        page.body
    );
    assert!(page.body.contains("date (to the day)"), "{}", page.body);
}

/// The items of a page's error summary, as text.
fn summary_items(body: &str) -> Vec<String> {
    let Some(start) = body.find("<div class=\"err-summary\"") else {
        return Vec::new();
    };
    let summary = &body[start..];
    let summary = &summary[..summary.find("</div>").unwrap_or(summary.len())];
    summary
        .split("<li>")
        .skip(1)
        .map(|li| {
            let li = li.split("</li>").next().unwrap_or_default();
            let mut text = String::new();
            let mut in_tag = false;
            for c in li.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

#[tokio::test]
async fn refused_forms_list_their_errors_by_the_labels_the_form_shows() {
    const RAIL_ADMIN: &str = "admin@railway.example.jp";
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL_ADMIN).await;
    let mut centre = srv.client(ADMIN).await;
    let refused = [
        (
            rail.post(
                "/org/contacts",
                "/org/contacts",
                &[
                    ("version", "1"),
                    ("contacts[0][role]", "夜間窓口"),
                    ("contacts[0][name]", "当直 三郎"),
                    ("contacts[0][phone]", "電話してね"),
                ],
            )
            .await,
            "連絡先 1: 電話: ",
        ),
        (
            rail.post(
                "/org/users",
                "/org/users",
                &[
                    ("email", "not-an-address"),
                    ("name", "新人 花子"),
                    ("role", "reporter"),
                ],
            )
            .await,
            "メールアドレス: ",
        ),
        (
            rail.post(
                "/org/allowlist",
                "/org/allowlist",
                &[("cidr", "300.1.1.1/8")],
            )
            .await,
            "ネットワーク: ",
        ),
        (
            centre
                .post(
                    "/admin/orgs",
                    "/admin/orgs",
                    &[("name", "北陸ガス株式会社"), ("kind", "operator")],
                )
                .await,
            "分野: ",
        ),
    ];
    for (r, expected) in &refused {
        assert_eq!(r.status, 422, "{}", r.body);
        let items = summary_items(&r.body);
        assert!(
            items.iter().any(|i| i.starts_with(expected)),
            "{expected}… in {items:?}"
        );
        for item in &items {
            assert!(
                !item.contains('[') && !item.contains('_'),
                "a code in the summary: {item}"
            );
        }
    }
}
