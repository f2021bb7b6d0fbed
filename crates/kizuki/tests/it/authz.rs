//! The authorisation matrix (security), generated from the router's own route table
//! (`kizuki_web::routes::route_table`): every route must be classified (and every route
//! registered in the router's source must be in the table); every report route, reads and
//! writes, is tried by every role on reports of the viewer's own and another organisation in
//! every TLP label; every other route is tried by every role. The expectations are written
//! here from docs/SECURITY.md, independently of `access.rs`.

use kizuki_testkit::{ANALYST, Client, EDITOR, FINANCE, MINISTRY, RAIL, TestApp};
use kizuki_web::routes::{RouteClass, route_table};
use std::collections::BTreeSet;

const ADMIN: &str = "admin@centre.example.jp";
const RAIL_ADMIN: &str = "admin@railway.example.jp";
const TLPS: [&str; 5] = ["clear", "green", "amber", "amber_strict", "red"];

/// One demo account per role (the public has none).
const VIEWERS: [(Role, Option<&str>); 7] = [
    (Role::Public, None),
    (Role::Reporter, Some(RAIL)),
    (Role::OperatorAdmin, Some(RAIL_ADMIN)),
    (Role::Ministry, Some(MINISTRY)),
    (Role::Analyst, Some(ANALYST)),
    (Role::Editor, Some(EDITOR)),
    (Role::Admin, Some(ADMIN)),
];

/// (method, path) pairs registered in the web crate's source: `.route("…", get(…).post(…))`
/// in the routers and `#[utoipa::path(get, path = "…")]` in the API.
fn registered_routes() -> BTreeSet<(String, String)> {
    let src = |f: &str| {
        std::fs::read_to_string(format!(
            "{}/../kizuki-web/src/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut out = BTreeSet::new();
    let lib = src("lib.rs");
    let api = src("api/mod.rs");
    for (text, prefix) in [(&lib, ""), (&api, "/api/v1")] {
        let parts: Vec<&str> = text.split(".route(").skip(1).collect();
        for part in parts {
            let Some(rest) = part.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((path, tail)) = rest.split_once('"') else {
                continue;
            };
            // Methods up to the end of this `.route(…)` call (the next builder call).
            let end = [
                ".fallback(",
                ".layer(",
                ".route_layer(",
                ".nest(",
                ".merge(",
                ";",
            ]
            .iter()
            .filter_map(|m| tail.find(m))
            .min()
            .unwrap_or(tail.len());
            for m in ["get", "post", "put", "delete"] {
                if tail[..end].contains(&format!("{m}(")) {
                    out.insert((m.to_uppercase(), format!("{prefix}{path}")));
                }
            }
        }
    }
    // Every API source file: a new file of `#[utoipa::path]` handlers is read without being
    // listed here.
    let api_dir = format!("{}/../kizuki-web/src/api", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&api_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs"))
        .map(|n| format!("api/{n}"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for f in &files {
        let text = src(f);
        for part in text.split("#[utoipa::path(").skip(1) {
            let part = part.trim_start();
            let method: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let Some((_, after)) = part.split_once("path = \"") else {
                continue;
            };
            let Some((path, _)) = after.split_once('"') else {
                continue;
            };
            out.insert((method.to_uppercase(), format!("/api/v1{path}")));
        }
    }
    out
}

#[test]
fn every_route_is_classified() {
    let table: BTreeSet<(String, String)> = route_table()
        .iter()
        .map(|s| (s.method.to_owned(), s.path.to_owned()))
        .collect();
    let registered = registered_routes();
    assert!(
        registered.len() > 40,
        "the source scan found {registered:?}"
    );
    let unclassified: Vec<_> = registered.difference(&table).collect();
    assert!(
        unclassified.is_empty(),
        "routes without a class in kizuki_web::routes::route_table: {unclassified:?}"
    );
    let stale: Vec<_> = table.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "classified routes the router no longer has: {stale:?}"
    );
    assert_eq!(table.len(), route_table().len(), "a route is listed twice");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Public,
    Reporter,
    OperatorAdmin,
    Ministry,
    Analyst,
    Editor,
    Admin,
}

/// The expectation for one report route, from docs/SECURITY.md §3 (not from `access.rs`).
/// `own`: filed by the viewer's organisation. The ministry oversees every demo sector and is
/// named nowhere; nobody is a named RED recipient.
fn expected(class: RouteClass, role: Role, own: bool, tlp: &str) -> bool {
    use Role::*;
    let read = match role {
        Public => false,
        Reporter | OperatorAdmin => own || matches!(tlp, "clear" | "green"),
        Ministry => matches!(tlp, "clear" | "green" | "amber"),
        Analyst | Editor | Admin => tlp != "red",
    };
    match class {
        RouteClass::ReportRead => read,
        RouteClass::ReportEdit => match role {
            Reporter | OperatorAdmin => own,
            Analyst | Editor => read,
            _ => false,
        },
        RouteClass::ReportTriage => matches!(role, Analyst | Editor) && read,
        // TLP 2.0 lets CLEAR and GREEN travel on; a ministry passes them to its sectors'
        // operators and the centre's content staff to any.
        RouteClass::ReportForward => {
            matches!(role, Ministry | Analyst | Editor) && matches!(tlp, "clear" | "green")
        }
        other => panic!("no expectation for {other:?} in the report matrix"),
    }
}

async fn file(c: &mut Client, sector: &str, tlp: &str) -> i64 {
    let r = c
        .post(
            "/reports/new",
            "/reports",
            &[
                ("title", &format!("権限試験 {tlp}")),
                ("sector", sector),
                ("event_type", "unavailability"),
                ("summary", "権限の試験"),
                ("tlp", tlp),
                ("systems[0].name", "試験システム"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.header("location").unwrap()["/reports/".len()..]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn report_routes_by_role_organisation_and_label() {
    // Every role tries every report route on ten reports: far more form posts than one user
    // makes, so the fair limits (tested in tests/it/limits.rs) are off for this matrix.
    let mut web = kizuki_web::WebOptions::default();
    web.ops.limits.enabled = false;
    let srv = TestApp::builder()
        .demo()
        .mfa()
        .search()
        .web(web)
        .build()
        .await;
    // Reports of the railway operator (the "own" organisation of RAIL and RAIL_ADMIN) and of
    // the bank (another organisation for them), one per label.
    let mut rail = srv.client(RAIL).await;
    let mut fin = srv.client(FINANCE).await;
    let mut reports = Vec::new();
    for tlp in TLPS {
        reports.push((file(&mut rail, "railway", tlp).await, true, tlp));
        reports.push((file(&mut fin, "finance", tlp).await, false, tlp));
    }
    let report_routes: Vec<_> = route_table()
        .into_iter()
        .filter(|s| {
            matches!(
                s.class,
                RouteClass::ReportRead
                    | RouteClass::ReportEdit
                    | RouteClass::ReportTriage
                    | RouteClass::ReportForward
            )
        })
        .collect();
    assert!(report_routes.len() >= 10, "{report_routes:?}");
    // Writes go with an empty form or body: the access decision comes first, so a denied
    // caller gets 403/404 whatever it sent, and an allowed one a complaint about the form.
    let other_report = reports[0].0.to_string();
    let mut failures = Vec::new();
    for (role, email) in VIEWERS {
        let mut c = match email {
            Some(e) => srv.client(e).await,
            None => srv.anonymous(),
        };
        let token = match email {
            Some(e) => Some(srv.token(e).await),
            None => None,
        };
        for spec in &report_routes {
            // A route naming no report (marking an incident from the list) is tried once, as
            // on a report everyone may read.
            let per_report = spec.path.contains("{id}");
            for &(id, railway, tlp) in &reports {
                if !per_report && tlp != "clear" {
                    continue;
                }
                let (railway, tlp) = if per_report {
                    (railway, tlp)
                } else {
                    (false, "clear")
                };
                // "Own" only means something for operator staff (the railway's).
                let own = railway && matches!(role, Role::Reporter | Role::OperatorAdmin);
                let path = spec
                    .path
                    .replace("{id}", &id.to_string())
                    .replace("{other}", &other_report);
                let allow = expected(spec.class, role, own, tlp);
                let readable = expected(RouteClass::ReportRead, role, own, tlp);
                let write = spec.method != "GET";
                let status = if let Some(p) = path.strip_prefix("/api/v1") {
                    let body = serde_json::json!({});
                    srv.api(
                        spec.method,
                        p,
                        token.as_deref(),
                        &[],
                        write.then_some(&body),
                    )
                    .await
                    .status
                } else if write {
                    let csrf = c.get("/").await.csrf();
                    c.post_raw(&path, &[("_csrf", &csrf)]).await.status
                } else {
                    c.get(&path).await.status
                };
                let ok = match (role, allow) {
                    (_, true) if write => status < 500 && !matches!(status, 401 | 403 | 404),
                    (_, true) => status == 200,
                    // The public is sent to sign in (pages) or refused (API); a form post
                    // without a session fails its CSRF check first.
                    (Role::Public, false) => matches!(status, 303 | 401 | 403),
                    // A record the viewer may not read does not exist for them.
                    (_, false) if !readable => status == 404,
                    (_, false) => status == 403,
                };
                if !ok {
                    failures.push(format!(
                        "{role:?} {} {path} ({tlp}, own={own}): got {status}, expected {}",
                        spec.method,
                        if allow { "allow" } else { "deny" }
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn the_audit_log_is_the_admins_alone() {
    let srv = TestApp::demo().await;
    for (email, allowed) in [
        (RAIL, false),
        (RAIL_ADMIN, false),
        (MINISTRY, false),
        (ANALYST, false),
        (EDITOR, false),
        (ADMIN, true),
    ] {
        let mut c = srv.client(email).await;
        let r = c.get("/audit").await;
        if allowed {
            assert_eq!(r.status, 200, "{email}: {}", r.body);
            assert!(r.body.contains("auth.login"), "logins are recorded");
            assert!(r.body.contains("audit-status"), "{}", r.body);
        } else {
            assert_eq!(r.status, 404, "{email}");
        }
    }
    assert_eq!(srv.anonymous().get("/audit").await.status, 303);
}

#[tokio::test]
async fn login_lockout_headers_allowlist_and_enrolment() {
    let srv = TestApp::demo().await;
    // Security headers: a CSP without inline code, no framing, no sniffing, no referrer.
    let mut anon = srv.anonymous();
    let r = anon.get("/login").await;
    let csp = r.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Five wrong passwords lock the account with a message saying for how long.
    for _ in 0..5 {
        let r = anon
            .post(
                "/login",
                "/login",
                &[("email", FINANCE), ("password", "wrong")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let pw = srv.password(FINANCE);
    let r = anon
        .post("/login", "/login", &[("email", FINANCE), ("password", &pw)])
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("分"), "{}", r.body);

    // An allowlist that does not include 127.0.0.1 refuses the railway's logins and tokens.
    let token = srv.token(RAIL).await;
    let org = srv.org("demo-railway").await;
    srv.app
        .store
        .set_org_allowlist(org.id, 0, "192.0.2.0/24", None, srv.app.clock.now())
        .await
        .unwrap();
    let mut c = srv.anonymous();
    let r = c
        .post(
            "/login",
            "/login",
            &[("email", RAIL), ("password", &srv.password(RAIL))],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("127.0.0.1"), "{}", r.body);
    assert_eq!(
        srv.api("GET", "/reports", Some(&token), &[], None)
            .await
            .status,
        403
    );

    // Enrolment at first login for a role that requires MFA.
    let analyst = srv
        .app
        .store
        .credentials(&kizuki_domain::user::Email::parse(ANALYST).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user;
    srv.app.store.mfa_remove(analyst.id).await.unwrap();
    let mut a = srv.anonymous();
    let r = a
        .post(
            "/login",
            "/login",
            &[
                ("email", ANALYST),
                ("password", &srv.password(ANALYST)),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), Some("/login/mfa/enrol"));
    assert_eq!(a.get("/reports").await.status, 303, "not signed in yet");
    let page = a.get("/login/mfa/enrol").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The URI is HTML-escaped in the page (`/` as `&#x2f;`); the browser shows it as typed.
    assert!(page.body.contains("otpauth:"), "{}", page.body);
    let secret = page
        .body
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let code = kizuki_app::security::totp::TotpSecret::from_base32(&secret)
        .unwrap()
        .code_at(srv.app.clock.now());
    let r = a
        .post("/login/mfa/enrol", "/login/mfa/enrol", &[("code", &code)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body.matches("<li><code>").count(),
        10,
        "ten recovery codes"
    );
    assert_eq!(
        a.get("/reports").await.status,
        200,
        "signed in after enrolment"
    );
}

/// Every route that is not about one report, tried by every role, with an expectation per
/// route class written from docs/SECURITY.md §4 (not from `access.rs`). The route table drives
/// it, so a new route is tried as soon as it is classified, and a new class fails here until
/// someone writes down who may use it.
fn expected_other(class: RouteClass, method: &str, role: Role) -> Option<bool> {
    use Role::*;
    let member = role != Public;
    Some(match class {
        RouteClass::Public => true,
        // Reachable only with a half-finished login, which none of these viewers has.
        RouteClass::LoginStep => return None,
        RouteClass::Member => member,
        RouteClass::ReportCreate => matches!(role, Reporter | OperatorAdmin),
        // A report phoned in to the centre is entered by its content staff.
        RouteClass::ReportOnBehalf => matches!(role, Analyst | Editor),
        // The 2019 cases and survey are published: every member reads them (the public reads
        // them in the portal, not in the workspace).
        RouteClass::CaseRead => member,
        RouteClass::CaseWrite => matches!(role, Analyst | Editor),
        // A published case's sign-off page (its text, diagram and history) is readable by
        // every member; answering is the source organisation's only while its answer is
        // awaited, which a published case's never is.
        RouteClass::CaseSignOff => member && method == "GET",
        RouteClass::AuditLog => role == Admin,
        RouteClass::SystemAdmin => role == Admin,
        // The first 2019 case was filed by the demo railway operator, whose reporter and
        // admin are its source; the centre's analysts and editors run the survey.
        RouteClass::CaseCooperation => matches!(role, Analyst | Editor | Reporter | OperatorAdmin),
        RouteClass::SurveyPublish => role == Editor,
        // An interview of that case: its operator's staff and the centre's content staff see
        // it and attach files; the operator's admin answers the request; its staff write the
        // answers; the admin (or the centre on their word) records consent.
        RouteClass::Interview => matches!(role, Analyst | Editor | Reporter | OperatorAdmin),
        RouteClass::InterviewReply => role == OperatorAdmin,
        RouteClass::InterviewAnswer => matches!(role, Reporter | OperatorAdmin),
        RouteClass::InterviewConsent => matches!(role, Analyst | Editor | OperatorAdmin),
        RouteClass::TemplateEdit => role == Editor,
        RouteClass::ThemeEdit => role == Editor,
        // The railway's self-assessment: its own staff and the centre read it; its
        // administrator answers.
        RouteClass::Assessment => {
            matches!(role, Reporter | OperatorAdmin | Analyst | Editor | Admin)
        }
        RouteClass::AssessmentAnswer => role == OperatorAdmin,
        // Follow-up: an operator's staff keep their items; the centre's analysts and editors
        // see completion; a railway item is read by the railway's staff and the centre.
        RouteClass::FollowUps => matches!(role, Reporter | OperatorAdmin | Analyst | Editor),
        RouteClass::FollowUpRead => {
            matches!(role, Reporter | OperatorAdmin | Analyst | Editor | Admin)
        }
        RouteClass::FollowUpKeep => matches!(role, Reporter | OperatorAdmin),
        RouteClass::OrgManage => matches!(role, OperatorAdmin | Admin),
        // The railway's contacts (the organisation these routes are tried on): its own staff,
        // the ministry overseeing railways, and the centre.
        RouteClass::ContactsRead => member,
        RouteClass::ReportRead
        | RouteClass::ReportEdit
        | RouteClass::ReportTriage
        | RouteClass::ReportForward => {
            panic!("report routes are tried by report_routes_by_role_organisation_and_label")
        }
        #[allow(
            unreachable_patterns,
            reason = "classes added later must be decided here"
        )]
        other => panic!("no expectation for {other:?}: write one from docs/SECURITY.md"),
    })
}

#[tokio::test]
async fn every_other_route_by_role() {
    let srv = TestApp::demo().await;
    let case = srv.app.store.list_cases(Some(2019)).await.unwrap()[0].id.0;
    // An interview of that case with a file, for the routes of one interview or file.
    let analyst = srv.token(ANALYST).await;
    let iv = srv
        .api(
            "POST",
            &format!("/cases/{case}/interviews"),
            Some(&analyst),
            &[],
            Some(&serde_json::json!({"mode": "online", "proposed": ["2020-02-10 14:00"]})),
        )
        .await;
    assert_eq!(iv.status, 201, "{}", iv.body);
    let interview = iv.json()["interview"]["id"].as_i64().unwrap();
    let file = srv
        .anonymous()
        .send(
            "POST",
            &format!("/api/v1/interviews/{interview}/attachments?filename=a.txt"),
            &[("authorization", format!("Bearer {analyst}"))],
            b"notes",
        )
        .await;
    assert_eq!(file.status, 201, "{}", file.body);
    let attachment = file.json()["id"].as_i64().unwrap();
    let railway = kizuki_app::accounts::org_with_key(&srv.app, "demo-railway")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    // A follow-up item of the railway's, for the routes of one item.
    let measured = srv
        .app
        .store
        .list_cases(Some(2019))
        .await
        .unwrap()
        .into_iter()
        .find(|c| !c.content.sections.countermeasures.is_empty())
        .unwrap()
        .id
        .0;
    let rail = srv.token(RAIL).await;
    let item = srv
        .api(
            "POST",
            &format!("/cases/{measured}/followups"),
            Some(&rail),
            &[],
            Some(&serde_json::json!({"measure": 0, "owner": "運用部"})),
        )
        .await;
    assert_eq!(item.status, 201, "{}", item.body);
    let followup = item.json()["id"].as_i64().unwrap();
    let fill = |path: &str| {
        let id = if path.contains("/orgs/{id}") {
            railway
        } else if path.contains("/followups/{id}") {
            followup
        } else if path.contains("/interviews/{id}") {
            interview
        } else if path.contains("/attachments/{id}") {
            attachment
        } else {
            case
        };
        path.replace("{id}", &id.to_string())
            .replace("{category}", "system-failure")
            .replace("{year}", "2019")
            .replace("{format}", "html")
            .replace("{key}", "mfa")
            .replace("{lesson}", "common:2019:0")
            .replace("{name}", "style.css")
            .replace(
                "{file}",
                if path.starts_with("/public/cases") {
                    "2019-1"
                } else {
                    "2019"
                },
            )
    };
    // Routes that end a session or count as failed logins go last.
    let last = |p: &str| matches!(p, "/logout" | "/login" | "/login/mfa" | "/login/mfa/enrol");
    let mut routes: Vec<_> = route_table()
        .into_iter()
        .filter(|s| {
            !matches!(
                s.class,
                RouteClass::ReportRead
                    | RouteClass::ReportEdit
                    | RouteClass::ReportTriage
                    | RouteClass::ReportForward
            )
        })
        .collect();
    routes.sort_by_key(|s| (last(s.path) && s.method != "GET", s.path == "/logout"));
    let mut failures = Vec::new();
    let mut tried = 0;
    for (role, email) in VIEWERS {
        let mut c = match email {
            Some(e) => srv.client(e).await,
            None => srv.anonymous(),
        };
        let token = match email {
            Some(e) => Some(srv.token(e).await),
            None => None,
        };
        for spec in &routes {
            let path = fill(spec.path);
            // A bulk-import job is its submitter's alone; tests/it/limits.rs tries it.
            if spec.path == "/api/v1/imports/{id}" {
                continue;
            }
            // Actions on one account or token by id would act on the demo's own logins (the
            // tokens this loop uses); tests/it/accounts.rs tries them with ids of their own.
            if matches!(
                spec.path,
                "/account/tokens/{id}/revoke"
                    | "/org/tokens/{id}/revoke"
                    | "/org/users/{id}/disable"
                    | "/org/users/{id}/enable"
                    | "/org/users/{id}/role"
                    // Disabling an organisation would lock the demo's own logins out;
                    // tests/it/directory.rs tries these.
                    | "/admin/orgs/{id}/disable"
                    | "/admin/orgs/{id}/enable"
                    | "/api/v1/orgs/{id}/active"
                    | "/api/v1/users/{id}/active"
                    | "/api/v1/users/{id}/role"
                    | "/api/v1/tokens/{id}/revoke"
            ) {
                continue;
            }
            let Some(allow) = expected_other(spec.class, spec.method, role) else {
                continue;
            };
            let r = if let Some(p) = path.strip_prefix("/api/v1") {
                let body = serde_json::json!({});
                let with_body = matches!(spec.method, "POST" | "PUT");
                srv.api(
                    spec.method,
                    p,
                    token.as_deref(),
                    &[],
                    with_body.then_some(&body),
                )
                .await
            } else if spec.method == "GET" {
                c.get(&path).await
            } else {
                // An empty form with a valid CSRF token: the access decision comes first,
                // the form's contents after.
                let csrf = c.get("/").await.csrf();
                c.post_raw(&path, &[("_csrf", &csrf)]).await
            };
            tried += 1;
            let to_login = r.status == 303
                && r.header("location")
                    .is_some_and(|l| l.starts_with("/login"));
            let denied = matches!(r.status, 401 | 403 | 404) || to_login;
            let ok = r.status < 500
                && match (allow, spec.class, spec.method) {
                    // Anyone may use a public route; what it answers (a failed login is 401)
                    // is not an access decision.
                    (_, RouteClass::Public, _) => true,
                    // An empty form may name a record that is not there: 404 after the
                    // access decision let the request through.
                    (true, _, "POST") => !matches!(r.status, 401 | 403) && !to_login,
                    (true, _, _) => !denied,
                    (false, _, _) => denied,
                };
            if !ok {
                failures.push(format!(
                    "{role:?} {} {path} ({:?}): got {}, expected {}",
                    spec.method,
                    spec.class,
                    r.status,
                    if allow { "allow" } else { "deny" }
                ));
            }
        }
    }
    assert!(tried > 200, "{tried}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
