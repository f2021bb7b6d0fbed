//! Filing on an operator's behalf: the centre enters a report phoned in; it is the operator's
//! own (listed, readable, updatable by its staff, not by another operator), the page says who
//! entered it, the audit log how it came in and from whom; mistakes are named and kept.

use kizuki_testkit::{ANALYST, FINANCE, RAIL, TestApp};
use serde_json::json;

fn phoned(tlp: &str) -> serde_json::Value {
    json!({"org": "demo-railway", "channel": "phone", "received_from": "運輸部 指令課 山田（03-0000-0000）",
           "report": {"title": "信号設備の故障", "sector": "railway", "event_type": "unavailability",
                      "causes": ["equipment-failure"], "summary": "信号設備が故障し、一部区間で運転を見合わせた。",
                      "tlp": tlp}})
}

#[tokio::test]
async fn a_report_phoned_in_is_the_operators_and_says_who_entered_it() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let rail = srv.token(RAIL).await;
    let finance = srv.token(FINANCE).await;

    let r = srv
        .api(
            "POST",
            "/reports/on-behalf",
            Some(&rail),
            &[],
            Some(&phoned("green")),
        )
        .await;
    assert_eq!(r.status, 403, "an operator files its own: {}", r.body);
    let r = srv
        .api(
            "POST",
            "/reports/on-behalf",
            Some(&analyst),
            &[],
            Some(&phoned("red")),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("\"tlp\""), "{}", r.body);
    let mut wrong = phoned("green");
    wrong["org"] = json!("centre");
    wrong["channel"] = json!("pigeon");
    wrong["report"]["sector"] = json!("finance");
    let r = srv
        .api(
            "POST",
            "/reports/on-behalf",
            Some(&analyst),
            &[],
            Some(&wrong),
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
        fields.contains(&"org".to_owned()) && fields.contains(&"channel".to_owned()),
        "{fields:?}"
    );

    // TLP:AMBER: the operator and the centre read it, another operator does not.
    let r = srv
        .api(
            "POST",
            "/reports/on-behalf",
            Some(&analyst),
            &[],
            Some(&phoned("amber")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let org = srv
        .app
        .store
        .get_report(kizuki_domain::ids::ReportId(id))
        .await
        .unwrap()
        .org_id;
    let rail_org = srv.org("demo-railway").await.id;
    assert_eq!(org, rail_org, "the operator owns it");

    // The operator lists it, reads it and adds the follow-up; another operator does not see it.
    let list = srv
        .api("GET", "/reports?per_page=200", Some(&rail), &[], None)
        .await
        .json();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == id)
    );
    let follow = json!({"kind": "follow_up", "text": "復旧見込みは15時。"});
    let r = srv
        .api(
            "POST",
            &format!("/reports/{id}/stages"),
            Some(&rail),
            &[],
            Some(&follow),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = srv
        .api("GET", &format!("/reports/{id}"), Some(&finance), &[], None)
        .await;
    assert_eq!(r.status, 404);

    // The page says the centre entered it; the audit log says how it came in and from whom.
    let mut c = srv.client(RAIL).await;
    let page = c.get(&format!("/reports/{id}")).await;
    assert!(page.body.contains("id=\"entered-by\""), "{}", page.body);
    let audit = srv.app.store.audit_range(0, 1_000_000).await.unwrap();
    let e = audit
        .iter()
        .find(|e| e.target == format!("report:{id}") && e.detail.contains("filed_on_behalf_of"))
        .expect("audited");
    assert!(
        e.detail.contains("demo-railway")
            && e.detail.contains("phone")
            && e.detail.contains("山田"),
        "{}",
        e.detail
    );
    assert!(e.actor.starts_with("user:"));
}

#[tokio::test]
async fn the_form_keeps_what_was_typed_and_files_for_the_chosen_operator() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(ANALYST).await;
    let form = c.get("/reports/on-behalf").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"demo-railway\""));
    let r = c
        .post(
            "/reports/on-behalf",
            "/reports/on-behalf",
            &[
                ("org", ""),
                ("channel", "phone"),
                ("received_from", "指令課 山田"),
                ("title", "踏切の故障"),
                ("sector", "railway"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("踏切の故障") && r.body.contains("指令課 山田"),
        "kept"
    );
    assert!(r.body.contains("id=\"err-org\""));
    let r = c
        .post(
            "/reports/on-behalf",
            "/reports/on-behalf",
            &[
                ("org", "demo-railway"),
                ("channel", "phone"),
                ("received_from", "指令課 山田"),
                ("title", "踏切の故障"),
                ("sector", "railway"),
                ("event_type", "unavailability"),
                ("causes", "equipment-failure"),
                ("summary", "踏切が閉じたままになった。"),
                ("tlp", "green"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_owned();
    let page = c.get(&to).await;
    assert!(page.body.contains("踏切の故障"));
    assert!(page.body.contains("id=\"entered-by\""));
    let mut rail = srv.client(RAIL).await;
    assert_eq!(
        rail.get(&to).await.status,
        200,
        "the operator reads its report"
    );
    assert!(
        !rail
            .get("/reports")
            .await
            .body
            .contains("id=\"file-on-behalf\"")
    );
}
