//! The directory beyond accounts, through the API and the pages: a ministry forwards a GREEN
//! report to the operators of its sectors (and nothing else), the recipients find it in their
//! inbox; an organisation's points of contact are kept by its admins, read by the centre and
//! its ministry and by nobody else, with errors by row and stale saves shown; the system
//! administrator disables an organisation, which locks out its accounts and takes it out of
//! sharing; and every step is in an audit log that still verifies.

use crate::search_web::{file, report};
use crate::sharing::user_id;
use kizuki_testkit::{ANALYST, FINANCE, MINISTRY, RAIL, TestApp};
use serde_json::json;

const RAIL_ADMIN: &str = "admin@railway.example.jp";
const ADMIN: &str = "admin@centre.example.jp";
const MEDICAL: &str = "reporter@medical.example.jp";

async fn org_id(srv: &TestApp, key: &str) -> i64 {
    kizuki_app::accounts::org_with_key(&srv.app, key)
        .await
        .unwrap()
        .unwrap()
        .id
        .0
}

/// One API call as `token`, with an optional JSON body.
async fn call(
    srv: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> kizuki_testkit::Resp {
    srv.api(method, path, Some(token), &[], body.as_ref()).await
}

fn audited(
    entries: &[kizuki_app::security::audit::AuditEntry],
    action: &str,
    target: &str,
) -> usize {
    entries
        .iter()
        .filter(|e| e.action == action && e.target.contains(target))
        .count()
}

#[tokio::test]
async fn a_ministry_forwards_green_reports_to_its_sectors_operators_only() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let ministry = srv.token(MINISTRY).await;
    let finance = srv.token(FINANCE).await;
    let medical = srv.token(MEDICAL).await;
    let fin = org_id(&srv, "demo-finance").await;
    let rail_org = org_id(&srv, "demo-railway").await;
    let centre = org_id(&srv, "centre").await;

    let green = file(
        &srv,
        &rail,
        &report("転送試験", "ひばり系統の転送試験。", "green"),
    )
    .await;
    let amber = file(
        &srv,
        &rail,
        &report("転送不可試験", "琥珀の転送試験。", "amber"),
    )
    .await;

    // The ministry is offered the operators of its sectors, not the report's own.
    let v = call(
        &srv,
        "GET",
        &format!("/reports/{green}/forwards"),
        &ministry,
        None,
    )
    .await;
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.json()["can_forward"], true);
    let targets: Vec<i64> = v.json()["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert!(targets.contains(&fin), "{targets:?}");
    assert!(!targets.contains(&rail_org) && !targets.contains(&centre));

    // Refusals: not an operator, nothing chosen, an AMBER report, an operator forwarding.
    let r = call(
        &srv,
        "POST",
        &format!("/reports/{green}/forwards"),
        &ministry,
        Some(json!({"to": [fin, centre]})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "to[1]");
    let r = call(
        &srv,
        "POST",
        &format!("/reports/{green}/forwards"),
        &ministry,
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "to");
    let r = call(
        &srv,
        "POST",
        &format!("/reports/{amber}/forwards"),
        &ministry,
        Some(json!({"to": [fin]})),
    )
    .await;
    assert_eq!(r.status, 403, "AMBER does not travel on: {}", r.body);
    let r = call(
        &srv,
        "POST",
        &format!("/reports/{green}/forwards"),
        &rail,
        Some(json!({"to": [fin]})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        srv.app
            .store
            .report_forwards(kizuki_domain::ids::ReportId(green))
            .await
            .unwrap()
            .is_empty(),
        "a refusal keeps nothing"
    );

    // Forwarded: the bank finds it in its inbox, the hospital does not.
    let r = call(
        &srv,
        "POST",
        &format!("/reports/{green}/forwards"),
        &ministry,
        Some(json!({"to": [fin], "note": "同様の構成の事業者はご確認ください"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let inbox = call(&srv, "GET", "/forwarded", &finance, None).await;
    assert_eq!(inbox.status, 200);
    let rows = inbox.json()["forwarded"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["report_id"], green);
    assert_eq!(rows[0]["note"], "同様の構成の事業者はご確認ください");
    let none = call(&srv, "GET", "/forwarded", &medical, None).await;
    assert_eq!(none.json()["forwarded"], json!([]));
    // The filer sees no forward it was not part of; the centre sees them all.
    let seen = |token: String| {
        let srv = &srv;
        async move {
            call(
                srv,
                "GET",
                &format!("/reports/{green}/forwards"),
                &token,
                None,
            )
            .await
            .json()["forwards"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(seen(rail.clone()).await, 0);
    assert_eq!(seen(srv.token(ANALYST).await).await, 1);
    assert_eq!(seen(finance.clone()).await, 1);

    // On the page: the bank's inbox lists it; a refused forward keeps the note typed.
    let mut fin_page = srv.client(FINANCE).await;
    let page = fin_page.get("/forwarded").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("転送試験"), "{}", page.body);
    let mut min_page = srv.client(MINISTRY).await;
    let r = min_page
        .post(
            &format!("/reports/{green}"),
            &format!("/reports/{green}/forward"),
            &[("note", "宛先なしの添え書き")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"forward-errors\""), "{}", r.body);
    assert!(r.body.contains("宛先なしの添え書き"));

    let log = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    assert_eq!(
        audited(&log, "record.forward", &format!("report:{green}")),
        1
    );
    assert!(
        kizuki_app::security::audit_log::verify(&srv.app)
            .await
            .unwrap()
            .unwrap()
            .entries
            > 0
    );
}

#[tokio::test]
async fn contacts_are_kept_by_the_org_and_read_by_the_centre_and_its_ministry() {
    let srv = TestApp::demo().await;
    let rail_org = org_id(&srv, "demo-railway").await;
    let admin = srv.token(RAIL_ADMIN).await;
    let path = format!("/orgs/{rail_org}/contacts");
    let good = json!({"role": "CSIRT窓口", "name": "鉄道 一郎", "hours": "around_the_clock",
                      "phone": "03-1234-5678", "email": "csirt@railway.example.jp",
                      "deputy": "鉄道 二郎", "decides": "運行管理システムの切り離し",
                      "confirmed_on": "令和8年4月1日"});

    // A row that does not read is refused by its field; nothing is kept.
    let bad = json!({"version": 0, "contacts": [good, {"role": "夜間", "name": "当直",
                     "email": "not-an-address"}]});
    let r = call(&srv, "PUT", &path, &admin, Some(bad.clone())).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "contacts[1].email");
    let r = call(
        &srv,
        "PUT",
        &path,
        &admin,
        Some(json!({"version": 0, "contacts": [good]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], 1);
    assert_eq!(r.json()["contacts"][0]["confirmed_on"], "2026-04-01");
    // A save based on the old version is refused with the current one.
    let r = call(
        &srv,
        "PUT",
        &path,
        &admin,
        Some(json!({"version": 0, "contacts": []})),
    )
    .await;
    assert_eq!(r.status, 412, "{}", r.body);

    // Who reads them: the railway's own staff, its ministry and the centre; not the bank.
    for (email, status) in [(RAIL, 200), (MINISTRY, 200), (ANALYST, 200), (FINANCE, 404)] {
        let t = srv.token(email).await;
        let r = call(&srv, "GET", &path, &t, None).await;
        assert_eq!(r.status, status, "{email}: {}", r.body);
        if status == 200 {
            assert_eq!(r.json()["contacts"][0]["name"], "鉄道 一郎");
            assert_eq!(r.json()["can_edit"], false, "{email} reads only");
        }
    }
    // Changing them is the organisation's admins' (and the system administrator's).
    let reporter = srv.token(RAIL).await;
    let r = call(
        &srv,
        "PUT",
        &path,
        &reporter,
        Some(json!({"version": 1, "contacts": []})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // A ministry that oversees only water does not see a railway's contacts.
    let water = kizuki_app::accounts::add_org(
        &srv.app,
        &kizuki_app::accounts::OrgRequest {
            name: "水道所管省".into(),
            kind: "ministry".into(),
            sectors: vec!["water".into()],
            key: Some("water-ministry".into()),
            region: None,
        },
    )
    .await
    .unwrap();
    kizuki_app::accounts::add_user(
        &srv.app,
        None,
        &water,
        "reader@water.example.jp",
        kizuki_domain::user::Role::Ministry,
        None,
    )
    .await
    .unwrap();
    let water_token = srv.token("reader@water.example.jp").await;
    assert_eq!(
        call(&srv, "GET", &path, &water_token, None).await.status,
        404
    );
    let books = call(&srv, "GET", "/contacts", &water_token, None).await;
    assert!(
        !books.body.contains("demo-railway")
            && !books.body.contains(&format!("\"org_id\":{rail_org}")),
        "{}",
        books.body
    );

    // On the page: a refused row keeps everything typed; a stale save is shown as such.
    let mut page = srv.client(RAIL_ADMIN).await;
    let r = page
        .post(
            "/org/contacts",
            "/org/contacts",
            &[
                ("version", "1"),
                ("contacts[0][role]", "夜間窓口"),
                ("contacts[0][name]", "当直 三郎"),
                ("contacts[0][phone]", "電話してね"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("当直 三郎") && r.body.contains("電話してね"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"err-0-phone\""), "{}", r.body);
    let r = page
        .post(
            "/org/contacts",
            "/org/contacts",
            &[
                ("version", "0"),
                ("contacts[0][role]", "夜間窓口"),
                ("contacts[0][name]", "当直 三郎"),
                ("contacts[0][phone]", "03-9999-0000"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("id=\"contacts-conflict\""), "{}", r.body);
    assert!(r.body.contains("当直 三郎"), "what was typed stays");
    let r = page
        .post(
            "/org/contacts",
            "/org/contacts",
            &[
                ("version", "1"),
                ("contacts[0][role]", "夜間窓口"),
                ("contacts[0][name]", "当直 三郎"),
                ("contacts[0][hours]", "around_the_clock"),
                ("contacts[0][phone]", "03-9999-0000"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut min_page = srv.client(MINISTRY).await;
    let shown = min_page.get(&path).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("当直 三郎") && !shown.body.contains("id=\"contacts-form\""));
    let book = min_page.get("/contacts").await;
    assert!(
        book.body.contains(&format!("id=\"book-{rail_org}\"")),
        "{}",
        book.body
    );

    let log = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    assert_eq!(
        audited(&log, "record.change", &format!("org:{rail_org}:contacts")),
        2
    );
    assert!(
        kizuki_app::security::audit_log::verify(&srv.app)
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn a_disabled_organisation_locks_out_its_accounts_and_leaves_sharing() {
    let srv = TestApp::demo().await;
    let medical_org = org_id(&srv, "demo-medical").await;
    let centre = org_id(&srv, "centre").await;
    let medical = srv.token(MEDICAL).await;
    let admin = srv.token(ADMIN).await;
    let rail = srv.token(RAIL).await;
    assert_eq!(
        call(&srv, "GET", "/reports", &medical, None).await.status,
        200
    );

    // Only the system administrator, and not for its own organisation.
    let rail_admin = srv.token(RAIL_ADMIN).await;
    let path = format!("/orgs/{medical_org}/active");
    let r = call(
        &srv,
        "PUT",
        &path,
        &rail_admin,
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(
        &srv,
        "PUT",
        &format!("/orgs/{centre}/active"),
        &admin,
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    let r = call(&srv, "PUT", &path, &admin, Some(json!({"active": false}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["accounts_disabled"].as_i64().unwrap() >= 1,
        "{}",
        r.body
    );
    assert_eq!(r.json()["organisation"]["active"], false);
    // Its token no longer works and its people cannot sign in.
    assert_eq!(
        call(&srv, "GET", "/reports", &medical, None).await.status,
        401
    );
    let mut c = srv.anonymous();
    let login = c
        .post(
            "/login",
            "/login",
            &[
                ("email", MEDICAL),
                ("password", &srv.password(MEDICAL)),
                ("next", "/"),
            ],
        )
        .await;
    assert_ne!(login.header("location"), Some("/"), "{}", login.body);
    // It is offered for no sharing and refused when named.
    let amber = file(
        &srv,
        &rail,
        &report("無効組織試験", "無効な組織との共有。", "amber"),
    )
    .await;
    let choices = call(
        &srv,
        "GET",
        &format!("/reports/{amber}/sharing"),
        &rail,
        None,
    )
    .await;
    assert!(
        !choices.json()["orgs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == medical_org),
        "{}",
        choices.body
    );
    let r = call(
        &srv,
        "PUT",
        &format!("/reports/{amber}/sharing"),
        &rail,
        Some(json!({"orgs": [medical_org]})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "orgs[0]");
    // No account is added to it or enabled in it until it is enabled again.
    let org = srv
        .app
        .store
        .get_org(kizuki_domain::ids::OrgId(medical_org))
        .await
        .unwrap();
    assert!(
        kizuki_app::accounts::add_user(
            &srv.app,
            None,
            &org,
            "new@medical.example.jp",
            kizuki_domain::user::Role::Reporter,
            None
        )
        .await
        .is_err()
    );
    assert!(
        kizuki_app::accounts::enable_user(&srv.app, MEDICAL)
            .await
            .is_err()
    );

    // Enabled again from the admin page: the organisation, not its accounts.
    let mut page = srv.client(ADMIN).await;
    let listed = page.get("/admin/orgs").await;
    assert!(
        listed
            .body
            .contains(&format!("id=\"org-toggle-{medical_org}\"")),
        "{}",
        listed.body
    );
    let r = page
        .post(
            "/admin/orgs",
            &format!("/admin/orgs/{medical_org}/enable"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        srv.app
            .store
            .get_org(kizuki_domain::ids::OrgId(medical_org))
            .await
            .unwrap()
            .active
    );
    assert_eq!(
        call(&srv, "GET", "/reports", &medical, None).await.status,
        401,
        "its accounts stay disabled"
    );
    kizuki_app::accounts::enable_user(&srv.app, MEDICAL)
        .await
        .unwrap();

    let log = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    let toggles = log
        .iter()
        .filter(|e| e.action == "admin.action" && e.target == format!("org:{medical_org}"))
        .count();
    assert_eq!(toggles, 2, "disabled and enabled");
    assert!(
        kizuki_app::security::audit_log::verify(&srv.app)
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn the_administrator_changes_an_organisations_sectors_and_region_without_losing_edits() {
    let srv = TestApp::demo().await;
    let medical = org_id(&srv, "demo-medical").await;
    let admin = srv.token(ADMIN).await;
    let path = format!("/orgs/{medical}");
    let org = srv
        .app
        .store
        .get_org(kizuki_domain::ids::OrgId(medical))
        .await
        .unwrap();
    let v = org.version;

    // An operator keeps exactly one sector; an unknown region is named.
    let r = call(
        &srv,
        "PUT",
        &path,
        &admin,
        Some(json!({"version": v, "name": "医療法人 試験", "sectors": ["medical", "water"]})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "sector");
    let r = call(&srv, "PUT", &path, &admin, Some(json!({"version": v, "name": "医療法人 試験", "sectors": ["医療"], "region": "atlantis"}))).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "region");
    // Not the operator's admin's to change, even for its own organisation.
    let rail_admin = srv.token(RAIL_ADMIN).await;
    let rail = org_id(&srv, "demo-railway").await;
    let r = call(
        &srv,
        "PUT",
        &format!("/orgs/{rail}"),
        &rail_admin,
        Some(json!({"version": 1, "name": "x", "sectors": ["railway"]})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);

    let r = call(
        &srv,
        "PUT",
        &path,
        &admin,
        Some(
            json!({"version": v, "name": "医療法人 試験", "sectors": ["医療"], "region": "kanto"}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], v + 1);
    assert_eq!(r.json()["region"], "kanto");
    assert_eq!(r.json()["key"], "demo-medical", "the key stays");

    // The page, with a form read before that change: 409, what was typed kept.
    let mut page = srv.client(ADMIN).await;
    let form = page.get(&format!("/admin/orgs/{medical}")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("医療法人 試験"), "{}", form.body);
    let r = page
        .post(
            &format!("/admin/orgs/{medical}"),
            &format!("/admin/orgs/{medical}"),
            &[
                ("version", &v.to_string()),
                ("name", "医療法人 再試験"),
                ("sectors", "medical"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("id=\"org-conflict\"") && r.body.contains("医療法人 再試験"),
        "{}",
        r.body
    );
    let r = page
        .post(
            &format!("/admin/orgs/{medical}"),
            &format!("/admin/orgs/{medical}"),
            &[
                ("version", &(v + 1).to_string()),
                ("name", "医療法人 再試験"),
                ("sectors", "medical"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let now = srv
        .app
        .store
        .get_org(kizuki_domain::ids::OrgId(medical))
        .await
        .unwrap();
    assert_eq!(now.org.name, "医療法人 再試験");
    assert_eq!(now.org.region, None, "the form left the region empty");
    let log = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.target == format!("org:{medical}") && e.detail.contains("org.edit"))
            .count(),
        2
    );
}

#[tokio::test]
async fn administration_is_in_the_api_with_the_pages_rules() {
    let srv = TestApp::demo().await;
    let rail_org = org_id(&srv, "demo-railway").await;
    let fin_org = org_id(&srv, "demo-finance").await;
    let rail_admin = srv.token(RAIL_ADMIN).await;
    let admin = srv.token(ADMIN).await;

    // An operator admin manages its own organisation's accounts, and only those.
    let users = call(
        &srv,
        "GET",
        &format!("/orgs/{rail_org}/users"),
        &rail_admin,
        None,
    )
    .await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert_eq!(
        users.json()["grantable"],
        json!(["reporter", "operator_admin"])
    );
    for path in [
        format!("/orgs/{fin_org}/users"),
        format!("/orgs/{fin_org}/allowlist"),
        format!("/orgs/{fin_org}/tokens"),
    ] {
        let r = call(&srv, "GET", &path, &rail_admin, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let r = call(
        &srv,
        "POST",
        &format!("/orgs/{rail_org}/users"),
        &rail_admin,
        Some(json!({"email": "analyst2@railway.example.jp", "role": "analyst"})),
    )
    .await;
    assert!(matches!(r.status, 403 | 422), "no centre role: {}", r.body);
    let r = call(
        &srv,
        "POST",
        &format!("/orgs/{rail_org}/users"),
        &rail_admin,
        Some(json!({"email": "new@railway.example.jp", "role": "reporter", "name": "新人"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let new_id = r.json()["user"]["id"].as_i64().unwrap();
    assert!(r.json()["password"].as_str().unwrap().len() >= 12);

    // Its role: raised within the operator's roles, never to a centre role, never one's own.
    let r = call(
        &srv,
        "PUT",
        &format!("/users/{new_id}/role"),
        &rail_admin,
        Some(json!({"role": "editor"})),
    )
    .await;
    assert!(matches!(r.status, 403 | 422), "{}", r.body);
    let r = call(
        &srv,
        "PUT",
        &format!("/users/{new_id}/role"),
        &rail_admin,
        Some(json!({"role": "operator_admin"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["role"], "operator_admin");
    let me = user_id(&srv, RAIL_ADMIN).await;
    let r = call(
        &srv,
        "PUT",
        &format!("/users/{me}/role"),
        &rail_admin,
        Some(json!({"role": "reporter"})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Another organisation's account does not exist for it.
    let fin_user = user_id(&srv, FINANCE).await;
    for (method, path, body) in [
        (
            "PUT",
            format!("/users/{fin_user}/active"),
            json!({"active": false}),
        ),
        (
            "PUT",
            format!("/users/{fin_user}/role"),
            json!({"role": "operator_admin"}),
        ),
        (
            "POST",
            format!("/orgs/{rail_org}/tokens"),
            json!({"user": fin_user, "label": "x"}),
        ),
    ] {
        let r = srv
            .api(method, &path, Some(&rail_admin), &[], Some(&body))
            .await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }

    // Tokens of its users: issued once, listed without the secret, revoked.
    let r = call(
        &srv,
        "POST",
        &format!("/orgs/{rail_org}/tokens"),
        &rail_admin,
        Some(json!({"user": new_id, "label": "連携"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    let token_id = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        call(&srv, "GET", "/reports", &secret, None).await.status,
        200
    );
    let listed = call(
        &srv,
        "GET",
        &format!("/orgs/{rail_org}/tokens"),
        &rail_admin,
        None,
    )
    .await;
    assert!(listed.body.contains("連携") && !listed.body.contains(&secret));
    let r = call(
        &srv,
        "POST",
        &format!("/tokens/{token_id}/revoke"),
        &rail_admin,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        call(&srv, "GET", "/reports", &secret, None).await.status,
        401
    );

    // The allowlist: a bad network is named; the list is the organisation's own.
    let r = call(
        &srv,
        "POST",
        &format!("/orgs/{rail_org}/allowlist"),
        &rail_admin,
        Some(json!({"cidr": "192.0.2.300/24"})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "cidr");
    let r = call(
        &srv,
        "POST",
        &format!("/orgs/{fin_org}/allowlist"),
        &admin,
        Some(json!({"cidr": "198.51.100.0/24"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["entries"], json!(["198.51.100.0/24"]));

    // The centre's administrator: every organisation, adding one, the audit export.
    assert_eq!(
        call(&srv, "GET", "/orgs", &rail_admin, None).await.status,
        404
    );
    let all = call(&srv, "GET", "/orgs", &admin, None).await;
    assert!(
        all.json()["organisations"].as_array().unwrap().len() >= 8,
        "{}",
        all.body
    );
    let r = call(
        &srv,
        "POST",
        "/orgs",
        &admin,
        Some(
            json!({"name": "試験ガス", "kind": "operator", "sectors": ["ガス"], "key": "test-gas"}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = call(
        &srv,
        "POST",
        "/orgs",
        &admin,
        Some(json!({"name": "試験ガス", "kind": "operator", "sectors": ["ガス"]})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "name");
    let day = kizuki_domain::clock::jst_date(srv.app.clock.now()).to_string();
    let r = call(
        &srv,
        "GET",
        &format!("/audit/export?from={day}&to={day}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("user.role") && r.body.contains("org.add"),
        "{}",
        r.body
    );
    let r = call(
        &srv,
        "GET",
        &format!("/audit/export?from={day}&to={day}"),
        &rail_admin,
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        kizuki_app::security::audit_log::verify(&srv.app)
            .await
            .unwrap()
            .is_ok()
    );
}
