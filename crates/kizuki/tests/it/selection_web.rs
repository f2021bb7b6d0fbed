//! Case selection in the web app: the page for analysts only, proposing and
//! confirming over the API with If-Match, and a confirmed decision that reads the same after
//! the reports change.

use kizuki_domain::ids::ReportId;
use kizuki_domain::report::{ReportInput, StageKind};
use kizuki_store::{NewReport, NewStage};
use kizuki_testkit::{ANALYST, RAIL, TestApp};
use serde_json::json;

async fn new_2019_report(srv: &TestApp) -> ReportId {
    let org = srv
        .app
        .store
        .org_by_key("demo-finance")
        .await
        .unwrap()
        .unwrap();
    let details = ReportInput {
        title: "選定後に追加された報告".into(),
        sector: "finance".into(),
        event_type: "unavailability".into(),
        causes: vec!["equipment-failure".into()],
        summary: "勘定系システムが停止した。".into(),
        actual_harm: true,
        severity: Some(3),
        ..Default::default()
    }
    .parse(&srv.app.taxonomy)
    .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2019-09-01T10:00:00+09:00")
        .unwrap()
        .to_utc();
    srv.app
        .store
        .create_report(NewReport {
            org_id: org.id,
            details,
            first: NewStage {
                kind: StageKind::First,
                at,
                text: "第一報".into(),
                author: None,
            },
        })
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn the_page_is_for_analysts_and_proposes_from_the_rules() {
    let srv = TestApp::demo().await;
    let mut analyst = srv.client(ANALYST).await;
    let survey = analyst.get("/surveys/2019").await;
    assert!(survey.body.contains("/surveys/2019/selection"), "linked");
    let r = analyst.get("/surveys/2019/selection").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("事例の選定"));
    assert!(r.body.contains("まだ提案がありません"));
    // A 2019 report without a case: choosing all eight makes it the survey's eighth case,
    // numbered after the seven the survey has.
    let fresh = new_2019_report(&srv).await;
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection",
            &[("count", "8"), ("min.cyber-attack", "1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = analyst.get("/surveys/2019/selection").await;
    assert!(r.body.contains("選定した事例と理由"), "{}", r.body);
    assert!(r.body.contains("主な理由"), "why-in explanations shown");
    assert!(r.body.contains("選ばれなかった有力な報告と理由"));
    assert!(r.body.contains("この選定を確定"));
    assert!(r.body.contains("実害"), "per-criterion scores shown");
    assert!(
        r.body.contains("最適（") && !r.body.contains("探索ノード"),
        "how good the choice is, without the search's internals"
    );
    // A rule that cannot hold comes back on the page, named.
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection",
            &[("count", "0")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // An analyst's score with its reason.
    let first = srv
        .app
        .store
        .case_by_number(2019, 1)
        .await
        .unwrap()
        .unwrap();
    let rid = first.report_id.unwrap().0.to_string();
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection/overrides",
            &[
                ("report_id", rid.as_str()),
                ("key", "lesson-usefulness"),
                ("value", "3"),
                ("reason", "公表された教訓が他事業者にも有用"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = analyst.get("/surveys/2019/selection").await;
    assert!(r.body.contains("公表された教訓が他事業者にも有用"));
    // Weights are the survey's, changed against its version.
    let v = srv
        .app
        .store
        .get_survey(2019)
        .await
        .unwrap()
        .version
        .to_string();
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection/weights",
            &[("survey_version", v.as_str()), ("weight.novelty", "2.5")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let s = srv.app.store.get_survey(2019).await.unwrap();
    let w = s
        .content
        .criteria
        .iter()
        .find(|c| c.key == "novelty")
        .unwrap();
    assert_eq!(w.weight, 2.5);
    // Confirm the latest proposal from the page.
    let latest = srv.app.store.list_selections(2019).await.unwrap();
    let (id, ver) = (latest[0].id.to_string(), latest[0].version.to_string());
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection/confirm",
            &[("id", id.as_str()), ("version", ver.as_str())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = analyst.get("/surveys/2019/selection").await;
    assert!(r.body.contains("確定した選定"), "{}", r.body);
    assert!(!r.body.contains("この選定を確定"));
    let draft = srv
        .app
        .store
        .case_by_number(2019, 8)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(draft.report_id, Some(fresh));
    let r = analyst.get(&format!("/cases/{}", draft.id)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("（未記入）"));
    assert!(r.body.contains("選定後に追加された報告"));

    let mut reporter = srv.client(RAIL).await;
    let r = reporter.get("/surveys/2019/selection").await;
    assert!(r.status == 403 || r.status == 404, "{}", r.status);
    let survey = reporter.get("/surveys/2019").await;
    assert!(
        !survey.body.contains("/surveys/2019/selection"),
        "not linked"
    );
}

#[tokio::test]
async fn api_proposes_confirms_with_if_match_and_keeps_the_decision() {
    let srv = TestApp::demo().await;
    let token = srv.token(ANALYST).await;
    let t = Some(token.as_str());
    let r = srv
        .api("GET", "/surveys/2019/selection", t, &[], None)
        .await;
    assert_eq!(r.status, 404, "nothing proposed yet");

    let rules = json!({"rules": {"count": 3, "min_per_category": {"cyber-attack": 1}}});
    let first = srv
        .api("POST", "/surveys/2019/selection", t, &[], Some(&rules))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let old_tag = first.header("etag").unwrap().to_owned();
    let body = first.json();
    assert_eq!(body["status"], "draft");
    assert_eq!(
        body["decision"]["selection"]["chosen"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let second = srv
        .api("POST", "/surveys/2019/selection", t, &[], Some(&rules))
        .await;
    assert_eq!(second.status, 201);
    let tag = second.header("etag").unwrap().to_owned();
    assert_ne!(tag, old_tag);
    let got = srv
        .api("GET", "/surveys/2019/selection", t, &[], None)
        .await;
    assert_eq!(
        got.header("etag"),
        Some(tag.as_str()),
        "the latest proposal"
    );

    let confirm = json!({"confirm": true});
    let r = srv
        .api("POST", "/surveys/2019/selection", t, &[], Some(&confirm))
        .await;
    assert_eq!(r.status, 428, "confirming needs If-Match");
    let r = srv
        .api(
            "POST",
            "/surveys/2019/selection",
            t,
            &[("If-Match", old_tag.clone())],
            Some(&confirm),
        )
        .await;
    assert_eq!(r.status, 412, "a replaced proposal: {}", r.body);
    let done = srv
        .api(
            "POST",
            "/surveys/2019/selection",
            t,
            &[("If-Match", tag.clone())],
            Some(&confirm),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let decided = done.json();
    assert_eq!(decided["status"], "confirmed");
    assert!(decided["confirmed_at"].is_string());
    assert!(decided["confirmed_by"].is_string());
    // The demo's 2019 reports all have their reference case: they are kept, none is added.
    assert_eq!(srv.app.store.list_cases(Some(2019)).await.unwrap().len(), 7);
    for m in decided["members"].as_array().unwrap() {
        assert_eq!(
            m["chosen"].as_bool().unwrap(),
            m["case_id"].is_number(),
            "{m}"
        );
    }
    let r = srv
        .api(
            "POST",
            "/surveys/2019/selection",
            t,
            &[("If-Match", tag.clone())],
            Some(&confirm),
        )
        .await;
    assert_eq!(r.status, 412, "the draft's tag is stale now: {}", r.body);
    let confirmed_tag = done.header("etag").unwrap().to_owned();
    let r = srv
        .api(
            "POST",
            "/surveys/2019/selection",
            t,
            &[("If-Match", confirmed_tag)],
            Some(&confirm),
        )
        .await;
    assert_eq!(r.status, 400, "confirmed once: {}", r.body);
    let r = srv
        .api("POST", "/surveys/2019/selection", t, &[], Some(&rules))
        .await;
    assert_eq!(r.status, 400, "no new proposals after the decision");

    // Editing a chosen report afterwards changes nothing in the decision.
    let chosen_id = decided["decision"]["selection"]["chosen"][0]["report_id"]
        .as_i64()
        .unwrap();
    let report = srv.app.store.get_report(ReportId(chosen_id)).await.unwrap();
    let old_title = report.details.title.clone();
    let mut details = report.details.clone();
    details.title = "後から書き換えた題名".into();
    details.impact.actual_harm = !details.impact.actual_harm;
    srv.app
        .store
        .update_report(
            report.id,
            report.version,
            details,
            None,
            srv.app.clock.now(),
        )
        .await
        .unwrap();
    let later = srv
        .api("GET", "/surveys/2019/selection", t, &[], None)
        .await;
    assert_eq!(later.status, 200);
    assert_eq!(later.json(), decided, "shown unchanged");
    let mut analyst = srv.client(ANALYST).await;
    let page = analyst.get("/surveys/2019/selection").await;
    assert!(page.body.contains("確定した選定"));
    assert!(page.body.contains(&old_title));
    assert!(!page.body.contains("後から書き換えた題名"));
    assert!(!page.body.contains("この選定を確定"), "no confirm button");

    let reporter = srv.token(RAIL).await;
    let r = srv
        .api("GET", "/surveys/2019/selection", Some(&reporter), &[], None)
        .await;
    assert_eq!(r.status, 403);
    let doc = srv
        .api("GET", "/openapi.json", None, &[], None)
        .await
        .json();
    let path = &doc["paths"]["/surveys/{year}/selection"];
    assert!(
        path["get"].is_object() && path["post"].is_object(),
        "{path}"
    );
    assert!(path["post"]["responses"]["412"].is_object());
}

#[tokio::test]
async fn the_form_takes_every_balance_rule_and_keeps_what_was_typed() {
    let srv = TestApp::demo().await;
    let mut analyst = srv.client(ANALYST).await;
    let report = |n: u32| {
        let srv = &srv;
        async move {
            srv.app
                .store
                .case_by_number(2019, n)
                .await
                .unwrap()
                .unwrap()
                .report_id
                .unwrap()
        }
    };
    let (r1, r5, r7) = (report(1).await, report(5).await, report(7).await);
    // Case 1 pinned, case 5 (the top attack) excluded, one per organisation.
    let pinned = format!("#{}", r1.0);
    let excluded = r5.0.to_string();
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection",
            &[
                ("count", "3"),
                ("max_per_org", "1"),
                ("pinned", pinned.as_str()),
                ("excluded", excluded.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = analyst.get("/surveys/2019/selection").await;
    assert!(
        page.body.contains("全文検索索引"),
        "the ranking names the index as the similarity used"
    );
    assert!(page.body.contains("1組織あたり1件まで"), "{}", page.body);
    let token = srv.token(ANALYST).await;
    let got = srv
        .api("GET", "/surveys/2019/selection", Some(&token), &[], None)
        .await
        .json();
    let chosen: Vec<i64> = got["decision"]["selection"]["chosen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["report_id"].as_i64().unwrap())
        .collect();
    assert!(chosen.contains(&r1.0), "pinned: {chosen:?}");
    assert!(!chosen.contains(&r5.0), "excluded: {chosen:?}");
    assert_eq!(got["decision"]["rules"]["max_per_org"], 1);
    assert_eq!(
        got["decision"]["ranking"]["similarity"],
        "全文検索索引（特徴語＋分類の一致）"
    );
    // The 2019 data's analyst ratings are in force.
    assert!(
        got["decision"]["overrides"].as_array().unwrap().len() >= 14,
        "{}",
        got["decision"]["overrides"]
    );
    // The form shows the rules of the proposal on show.
    assert!(
        page.body
            .contains(&format!("name=\"pinned\" value=\"{}\"", r1.0)),
        "pinned shown"
    );

    // Bad input comes back with what was typed, and the error names the field.
    let both = format!("{} {}", r7.0, r7.0);
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection",
            &[
                ("count", "3"),
                ("max_per_org", "1"),
                ("pinned", "12x"),
                ("excluded", both.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("「12x」は報告IDではありません"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"err-rules.pinned\""), "{}", r.body);
    assert!(
        r.body.contains("name=\"pinned\" value=\"12x\""),
        "typed text kept"
    );
    assert!(
        r.body
            .contains(&format!("name=\"excluded\" value=\"{both}\"")),
        "typed text kept"
    );
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection",
            &[("count", "3"), ("excluded", both.as_str())],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"err-rules.excluded\""), "{}", r.body);
    assert!(
        r.body
            .contains(&format!("name=\"excluded\" value=\"{both}\"")),
        "typed text kept"
    );

    // The API takes the same rules, and names the field of a bad one.
    let rules = json!({"rules": {"count": 2, "max_per_org": 0}});
    let r = srv
        .api(
            "POST",
            "/surveys/2019/selection",
            Some(&token),
            &[],
            Some(&rules),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("rules.max_per_org"), "{}", r.body);
    let rules = json!({"rules": {"count": 2, "pinned": [r7.0], "excluded": [r1.0]}});
    let r = srv
        .api(
            "POST",
            "/surveys/2019/selection",
            Some(&token),
            &[],
            Some(&rules),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let chosen: Vec<i64> = r.json()["decision"]["selection"]["chosen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["report_id"].as_i64().unwrap())
        .collect();
    assert!(
        chosen.contains(&r7.0) && !chosen.contains(&r1.0),
        "{chosen:?}"
    );
}

#[tokio::test]
async fn a_refused_weight_is_named_and_every_typed_weight_kept() {
    let srv = TestApp::demo().await;
    let mut analyst = srv.client(ANALYST).await;
    let before = srv.app.store.get_survey(2019).await.unwrap();
    let v = before.version.to_string();
    let novelty = before
        .content
        .criteria
        .iter()
        .find(|c| c.key == "novelty")
        .unwrap()
        .clone();
    let other = before
        .content
        .criteria
        .iter()
        .find(|c| c.key != "novelty")
        .unwrap()
        .clone();
    let other_name = format!("weight.{}", other.key);
    for (typed, message) in [
        ("abc", "数値を入力してください"),
        ("-1", "0〜10の範囲で入力してください"),
        ("11", "0〜10の範囲で入力してください"),
    ] {
        let r = analyst
            .post(
                "/surveys/2019/selection",
                "/surveys/2019/selection/weights",
                &[
                    ("survey_version", v.as_str()),
                    ("weight.novelty", typed),
                    (other_name.as_str(), "3.5"),
                ],
            )
            .await;
        assert_eq!(r.status, 422, "{typed}: {}", r.body);
        // The error sits beside the box and names the criterion.
        assert!(
            r.body.contains(&format!(
                "<p class=\"err\" id=\"err-weights.novelty\">「{}」の重み: {message}</p>",
                novelty.label
            )),
            "{typed}: {}",
            r.body
        );
        assert!(
            !r.body
                .contains(&format!("id=\"err-weights.{}\"", other.key)),
            "no error on the good weight"
        );
        assert!(
            r.body
                .contains(&format!("name=\"weight.novelty\" value=\"{typed}\"")),
            "{typed}: refused value kept"
        );
        assert!(
            r.body
                .contains(&format!("name=\"{other_name}\" value=\"3.5\"")),
            "{typed}: other typed value kept"
        );
    }
    // Nothing was saved by the refused posts.
    let after = srv.app.store.get_survey(2019).await.unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(after.content.criteria, before.content.criteria);
}

#[tokio::test]
async fn an_english_reader_gets_the_reasons_in_english() {
    let srv = TestApp::demo().await;
    let mut analyst = srv.client(ANALYST).await;
    let r = analyst
        .post("/", "/lang", &[("lang", "en"), ("back", "/")])
        .await;
    assert!(r.status < 400, "{}", r.body);
    // Five of the seven 2019 reports, so that some strong ones are left out and say why.
    let r = analyst
        .post(
            "/surveys/2019/selection",
            "/surveys/2019/selection",
            &[
                ("count", "5"),
                ("min.cyber-attack", "2"),
                ("max_per_sector", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = analyst.get("/surveys/2019/selection").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let reasons: Vec<&str> = page
        .body
        .split("<p class=\"why\">")
        .skip(1)
        .map(|p| p.split("</p>").next().unwrap_or_default())
        .collect();
    assert!(
        reasons.len() >= 6,
        "chosen and left-out reasons: {reasons:?}"
    );
    for why in &reasons {
        assert!(why.starts_with("Total "), "{why}");
        assert!(
            !why.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
            "kana in an English reason: {why}"
        );
    }
    assert!(
        reasons.iter().any(|w| w.contains("Main reasons: ")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|w| w.contains("at most 1 per sector") || w.contains("at least 2 of")),
        "the rules are named in English: {reasons:?}"
    );
    assert!(page.body.contains("at most 1 per sector"), "the rules list");
    // Every computed score's evidence and every category's reason is worded in English too;
    // only what the data names (“…”) and an analyst's own reasons stay as written.
    let has_kana = |s: &str| s.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c));
    let outside_quotes = |s: &str| {
        s.split('“')
            .map(|part| part.split_once('”').map_or(part, |(_, rest)| rest))
            .collect::<String>()
    };
    let mut lines = Vec::new();
    for cell in page.body.split("<td class=\"score score-").skip(1) {
        let cell = cell.split("</td>").next().unwrap_or_default();
        if cell.starts_with("analyst") {
            continue;
        }
        lines.extend(
            cell.split("<small>")
                .skip(1)
                .map(|s| s.split("</small>").next().unwrap_or_default().to_owned()),
        );
    }
    assert!(lines.len() >= 20, "evidence lines: {lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("similar report")),
        "{lines:?}"
    );
    for line in &lines {
        assert!(
            !has_kana(&outside_quotes(line)),
            "untranslated evidence: {line}"
        );
    }
    let categories: Vec<&str> = page
        .body
        .split("<span class=\"muted category-why\">")
        .skip(1)
        .filter_map(|s| s.split("</span>").next())
        .collect();
    assert!(categories.len() >= 7, "{categories:?}");
    for c in &categories {
        assert!(
            !has_kana(&outside_quotes(c)),
            "untranslated category reason: {c}"
        );
    }
    assert!(
        page.body.contains("(rank 6, "),
        "rank and total worded in English"
    );
    // The same selection reads in Japanese for a Japanese reader.
    let r = analyst
        .post("/", "/lang", &[("lang", "ja"), ("back", "/")])
        .await;
    assert!(r.status < 400, "{}", r.body);
    let page = analyst.get("/surveys/2019/selection").await;
    assert!(page.body.contains("主な理由"), "{}", page.body);
    assert!(page.body.contains("（6位・"), "{}", page.body);
}
