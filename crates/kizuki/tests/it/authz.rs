//! The authorisation matrix (security, issue 6), generated from the router's own route table
//! (`kizuki_web::routes::route_table`): every route must be classified (and every route
//! registered in the router's source must be in the table), and every report route is tried
//! by every role, on reports of the viewer's own and another organisation, in every TLP
//! label, against an expectation table written here independently of `access.rs`.

use crate::harness::{ANALYST, Client, EDITOR, FINANCE, MINISTRY, RAIL, TestServer};
use kizuki_web::routes::{RouteClass, route_table};
use std::collections::BTreeSet;

const ADMIN: &str = "admin@centre.example.jp";
const RAIL_ADMIN: &str = "admin@railway.example.jp";
const TLPS: [&str; 5] = ["clear", "green", "amber", "amber_strict", "red"];

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
    for f in ["api/mod.rs", "api/selection.rs"] {
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
    let srv = TestServer::start_demo().await;
    // Reports of the railway operator (the "own" organisation of RAIL and RAIL_ADMIN) and of
    // the bank (another organisation for them), one per label.
    let mut rail = srv.client(RAIL).await;
    let mut fin = srv.client(FINANCE).await;
    let mut reports = Vec::new();
    for tlp in TLPS {
        reports.push((file(&mut rail, "railway", tlp).await, true, tlp));
        reports.push((file(&mut fin, "finance", tlp).await, false, tlp));
    }
    let viewers = [
        (Role::Public, None),
        (Role::Reporter, Some(RAIL)),
        (Role::OperatorAdmin, Some(RAIL_ADMIN)),
        (Role::Ministry, Some(MINISTRY)),
        (Role::Analyst, Some(ANALYST)),
        (Role::Editor, Some(EDITOR)),
        (Role::Admin, Some(ADMIN)),
    ];
    let report_routes: Vec<_> = route_table()
        .into_iter()
        .filter(|s| {
            s.method == "GET"
                && matches!(
                    s.class,
                    RouteClass::ReportRead | RouteClass::ReportEdit | RouteClass::ReportTriage
                )
        })
        .collect();
    assert!(report_routes.len() >= 4, "{report_routes:?}");
    let mut failures = Vec::new();
    for (role, email) in viewers {
        let mut c = match email {
            Some(e) => srv.client(e).await,
            None => Client::new(&srv),
        };
        let token = match email {
            Some(e) => Some(srv.token(e).await),
            None => None,
        };
        for spec in &report_routes {
            for &(id, railway, tlp) in &reports {
                // "Own" only means something for operator staff (the railway's).
                let own = railway && matches!(role, Role::Reporter | Role::OperatorAdmin);
                let path = spec.path.replace("{id}", &id.to_string());
                let allow = expected(spec.class, role, own, tlp);
                let readable = expected(RouteClass::ReportRead, role, own, tlp);
                let status = if let Some(p) = path.strip_prefix("/api/v1") {
                    srv.api("GET", p, token.as_deref(), &[], None).await.status
                } else {
                    c.get(&path).await.status
                };
                let ok = match (role, allow) {
                    (_, true) => status == 200,
                    // The public is sent to sign in (pages) or refused (API).
                    (Role::Public, false) => matches!(status, 303 | 401),
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
    let srv = TestServer::start_demo().await;
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
    assert_eq!(Client::new(&srv).get("/audit").await.status, 303);
}

#[tokio::test]
async fn login_lockout_headers_allowlist_and_enrolment() {
    let srv = TestServer::start_demo().await;
    // Security headers: a CSP without inline code, no framing, no sniffing, no referrer.
    let mut anon = Client::new(&srv);
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
    let org = srv
        .app
        .store
        .org_by_key("demo-railway")
        .await
        .unwrap()
        .unwrap();
    srv.app
        .store
        .set_org_allowlist(org.id, 0, "192.0.2.0/24", None, srv.app.clock.now())
        .await
        .unwrap();
    let mut c = Client::new(&srv);
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
    let mut a = Client::new(&srv);
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
