//! Accounts as an administrator and a user meet them: `kizuki org …`, `kizuki user
//! add/disable`, `kizuki token create`, allowlists, the audit log's retention and export
//! through the real binary; the forced password change and session endings through the
//! web app.

use crate::kizuki;
use kizuki_testkit::{Client, FINANCE, RAIL, TempDataDir, TestApp, stderr, stdout};
use std::path::Path;

/// Runs the command, asserts success, returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = kizuki(dir, args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs the command, asserts failure, returns stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let o = kizuki(dir, args);
    assert!(!o.status.success(), "{args:?} should fail: {}", stdout(&o));
    stderr(&o)
}

fn one_time_password(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("一時パスワード / one-time password: "))
        .unwrap_or_else(|| panic!("no one-time password in: {out}"))
        .trim()
        .to_owned()
}

#[test]
fn organisations_users_and_tokens_from_the_command_line() {
    let d = TempDataDir::new();
    let dir = d.path();
    ok(&dir, &["init", "--no-demo"]);

    let out = ok(
        &dir,
        &[
            "org",
            "add",
            "--name",
            "東日本電力",
            "--kind",
            "operator",
            "--sector",
            "電力",
        ],
    );
    assert!(out.contains("東日本電力"), "{out}");
    ok(
        &dir,
        &["org", "add", "--name", "調整センター", "--kind", "centre"],
    );
    // A ministry oversees several sectors, given by label or code.
    ok(
        &dir,
        &[
            "org",
            "add",
            "--name",
            "経済産業省",
            "--kind",
            "ministry",
            "--sector",
            "電力",
            "--sector",
            "gas",
        ],
    );
    ok(
        &dir,
        &["org", "add", "--name", "ベンダA", "--kind", "vendor"],
    );
    let list = ok(&dir, &["org", "list"]);
    assert_eq!(list.lines().count(), 4, "{list}");
    let ministry = list.lines().find(|l| l.contains("経済産業省")).unwrap();
    assert!(
        ministry.contains("ministry") && ministry.contains("電力,ガス"),
        "{ministry}"
    );

    // Errors name the field.
    let e = fails(
        &dir,
        &["org", "add", "--name", "西日本電力", "--kind", "operator"],
    );
    assert!(e.contains("sector"), "{e}");
    let e = fails(
        &dir,
        &[
            "org",
            "add",
            "--name",
            "西日本電力",
            "--kind",
            "operator",
            "--sector",
            "宇宙",
        ],
    );
    assert!(e.contains("sector") && e.contains("宇宙"), "{e}");
    let e = fails(&dir, &["org", "add", "--name", "X社", "--kind", "bank"]);
    assert!(e.contains("kind"), "{e}");
    let e = fails(
        &dir,
        &[
            "org",
            "add",
            "--name",
            "東日本電力",
            "--kind",
            "operator",
            "--sector",
            "電力",
        ],
    );
    assert!(e.contains("name"), "{e}");

    // Users: the role must fit the organisation's kind.
    let out = ok(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "東日本電力",
            "--email",
            "sato@east.example.jp",
            "--role",
            "reporter",
        ],
    );
    let pw = one_time_password(&out);
    assert!(pw.len() >= 16, "{pw}");
    let e = fails(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "東日本電力",
            "--email",
            "x@east.example.jp",
            "--role",
            "analyst",
        ],
    );
    assert!(e.contains("role") && e.contains("centre"), "{e}");
    let e = fails(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "ベンダA",
            "--email",
            "v@vendor.example.jp",
            "--role",
            "reporter",
        ],
    );
    assert!(e.contains("role") && e.contains("vendor"), "{e}");
    let e = fails(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "東日本電力",
            "--email",
            "sato@east.example.jp",
            "--role",
            "reporter",
        ],
    );
    assert!(e.contains("email"), "{e}");
    let e = fails(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "どこか",
            "--email",
            "a@b.example.jp",
            "--role",
            "reporter",
        ],
    );
    assert!(e.contains("org"), "{e}");
    let out = ok(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "調整センター",
            "--email",
            "admin@centre.example.jp",
            "--role",
            "admin",
        ],
    );
    assert!(out.contains("TOTP"), "{out}");
    ok(
        &dir,
        &[
            "user",
            "add",
            "--org",
            "経済産業省",
            "--email",
            "meti@example.go.jp",
            "--role",
            "ministry",
        ],
    );
    let users = ok(&dir, &["user", "list"]);
    assert_eq!(users.lines().count(), 3, "{users}");

    // Tokens by e-mail; disabling revokes them at once.
    let o = kizuki(
        &dir,
        &["token", "create", "--email", "sato@east.example.jp"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).trim().starts_with("kzk_"), "{}", stdout(&o));
    let out = ok(
        &dir,
        &["user", "disable", "--email", "sato@east.example.jp"],
    );
    assert!(out.contains("1"), "{out}");
    let tokens = ok(&dir, &["token", "list", "--email", "sato@east.example.jp"]);
    assert!(
        tokens.contains("revoked") && !tokens.contains("active"),
        "{tokens}"
    );
    let e = fails(
        &dir,
        &["token", "create", "--email", "sato@east.example.jp"],
    );
    assert!(e.contains("disabled"), "{e}");
    ok(&dir, &["user", "enable", "--email", "sato@east.example.jp"]);
    ok(
        &dir,
        &["token", "create", "--email", "sato@east.example.jp"],
    );

    // Every change above is in the audit log, which verifies.
    let out = ok(&dir, &["audit", "verify"]);
    assert!(out.starts_with("audit log ok"), "{out}");
}

#[test]
fn allowlists_from_the_command_line() {
    let d = TempDataDir::new();
    let dir = d.path();
    ok(&dir, &["init", "--no-demo"]);
    ok(
        &dir,
        &["org", "add", "--name", "調整センター", "--kind", "centre"],
    );
    let out = ok(&dir, &["org", "allowlist", "--name", "調整センター"]);
    assert!(out.contains("no allowlist"), "{out}");
    ok(
        &dir,
        &[
            "org",
            "allow",
            "--name",
            "調整センター",
            "--cidr",
            "192.0.2.0/24",
        ],
    );
    ok(
        &dir,
        &[
            "org",
            "allow",
            "--name",
            "調整センター",
            "--cidr",
            "2001:db8::/32",
        ],
    );
    let out = ok(&dir, &["org", "allowlist", "--name", "調整センター"]);
    assert_eq!(out, "192.0.2.0/24\n2001:db8::/32\n");
    // A block with host bits set is refused with the network meant.
    let e = fails(
        &dir,
        &[
            "org",
            "allow",
            "--name",
            "調整センター",
            "--cidr",
            "192.0.2.1/24",
        ],
    );
    assert!(e.contains("cidr") && e.contains("192.0.2.0/24"), "{e}");
    let e = fails(
        &dir,
        &[
            "org",
            "allow",
            "--name",
            "調整センター",
            "--cidr",
            "nowhere",
        ],
    );
    assert!(e.contains("cidr"), "{e}");
    ok(
        &dir,
        &[
            "org",
            "disallow",
            "--name",
            "調整センター",
            "--cidr",
            "192.0.2.0/24",
        ],
    );
    let out = ok(&dir, &["org", "allowlist", "--name", "調整センター"]);
    assert_eq!(out, "2001:db8::/32\n");
    let list = ok(&dir, &["org", "list"]);
    assert!(list.contains("allowlist: 1"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_purge_export_and_verify_a_file() {
    let d = TempDataDir::new();
    let dir = d.path();
    ok(&dir, &["init", "--no-demo"]);
    // Entries from 2020, written through the service with a clock set then.
    {
        let t = TestApp::builder()
            .in_dir(&dir)
            .at("2020-04-01T09:00:00+09:00")
            .seed(3)
            .build()
            .await;
        let (app, clock) = (&t.app, &t.clock);
        for i in 0..5 {
            kizuki_app::security::audit_log::note(
                app,
                "user:1",
                "record.read",
                format!("report:{i}"),
                &serde_json::json!({"tlp": "amber"}),
            )
            .await
            .unwrap();
            clock.advance(chrono::Duration::days(1));
        }
    }
    // And today's, from the commands.
    ok(
        &dir,
        &["org", "add", "--name", "調整センター", "--kind", "centre"],
    );
    ok(
        &dir,
        &[
            "org",
            "allow",
            "--name",
            "調整センター",
            "--cidr",
            "192.0.2.0/24",
        ],
    );

    // Less than a year needs --force.
    let e = fails(&dir, &["audit", "purge", "--keep", "30d"]);
    assert!(e.contains("force"), "{e}");
    let out = ok(&dir, &["audit", "purge"]);
    assert!(out.starts_with("purged 5 entries through seq 5"), "{out}");
    let out = ok(&dir, &["audit", "verify"]);
    assert!(out.contains("audit log ok: 3 entries"), "{out}");
    let out = ok(&dir, &["audit", "purge"]);
    assert!(out.contains("nothing purged"), "{out}");

    // Export today's entries and verify the file on its own.
    let file = d.dir.path().join("audit.jsonl");
    let file_s = file.to_str().unwrap();
    let out = ok(
        &dir,
        &[
            "audit",
            "export",
            "--from",
            "2021-01-01",
            "--to",
            "2100-12-31",
            "--out",
            file_s,
        ],
    );
    assert!(out.contains("exported 3 entries (seq 6..8"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 3);
    let out = ok(&dir, &["audit", "verify", "--file", file_s]);
    assert!(out.contains("ok: 3 entries, seq 6..8"), "{out}");
    // The head printed for the database is the one the file ends with.
    let head = ok(&dir, &["audit", "verify"]);
    let hash = head.trim().rsplit(' ').next().unwrap().to_owned();
    ok(
        &dir,
        &[
            "audit",
            "verify",
            "--file",
            file_s,
            "--anchor",
            &format!("8:{hash}"),
        ],
    );
    // An existing file is never overwritten.
    let e = fails(
        &dir,
        &[
            "audit",
            "export",
            "--from",
            "2021-01-01",
            "--to",
            "2100-12-31",
            "--out",
            file_s,
        ],
    );
    assert!(e.contains("--out"), "{e}");

    // Tampering: an edited detail, a removed line.
    let tampered = d.dir.path().join("tampered.jsonl");
    std::fs::write(
        &tampered,
        text.replacen("192.0.2.0/24", "198.51.100.0/24", 1),
    )
    .unwrap();
    let o = kizuki(
        &dir,
        &["audit", "verify", "--file", tampered.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("broken at entry"), "{}", stderr(&o));
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&tampered, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let o = kizuki(
        &dir,
        &["audit", "verify", "--file", tampered.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("entry 7"), "{}", stderr(&o));
    // The newest line dropped passes alone but not against the recorded head.
    std::fs::write(&tampered, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    ok(
        &dir,
        &["audit", "verify", "--file", tampered.to_str().unwrap()],
    );
    let o = kizuki(
        &dir,
        &[
            "audit",
            "verify",
            "--file",
            tampered.to_str().unwrap(),
            "--anchor",
            &format!("8:{hash}"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

async fn location(c: &mut Client, path: &str) -> (u16, String) {
    let r = c.get(path).await;
    (r.status, r.header("location").unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_password_must_be_changed_first() {
    let srv = TestApp::demo().await;
    let rail = srv
        .app
        .store
        .credentials(&kizuki_domain::user::Email::parse(RAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    let org = srv.app.store.get_org(rail.user.user.org_id).await.unwrap();
    let email = "suzuki.ichiro@railway.example.jp";
    let (_, pw) = kizuki_app::accounts::add_user(
        &srv.app,
        None,
        &org,
        email,
        kizuki_domain::user::Role::Reporter,
        Some("Suzuki Ichiro"),
    )
    .await
    .unwrap();

    let mut other = srv.anonymous();
    other.login(email, &pw).await;
    // A second node on the same database: sessions live in the database, so a password
    // changed through this node must end the session signed in through that one too.
    let node2_app = srv.reopen(8).await;
    let mut node2 = node2_app.anonymous();
    node2.login(email, &pw).await;
    assert_eq!(
        location(&mut node2, "/reports").await,
        (303, "/account/password".to_owned())
    );
    srv.clock.advance(chrono::Duration::minutes(1));
    let mut c = srv.anonymous();
    c.login(email, &pw).await;
    // Every page leads to the change form first.
    for path in ["/", "/reports", "/cases"] {
        assert_eq!(
            location(&mut c, path).await,
            (303, "/account/password".to_owned()),
            "{path}"
        );
    }
    let form = c.get("/account/password").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("id=\"forced\""), "{}", form.body);

    // Errors sit beside their fields, in Japanese by default.
    let r = c
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not-the-password"),
                ("new_password", "short"),
                ("confirm_password", "different"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"err-current_password\""), "{}", r.body);
    assert!(r.body.contains("id=\"err-new_password\""), "{}", r.body);
    assert!(r.body.contains("id=\"err-confirm_password\""), "{}", r.body);
    assert!(
        r.body.contains("現在のパスワードが正しくありません"),
        "{}",
        r.body
    );
    for (new, what) in [
        ("password1234", "漏えい"),
        ("suzuki.ichiro-2026", "メールアドレス"),
        ("spring-Ichiro-garden", "利用者名"),
        (pw.as_str(), "現在と異なる"),
    ] {
        let r = c
            .post(
                "/account/password",
                "/account/password",
                &[
                    ("current_password", &pw),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await;
        assert_eq!(r.status, 422, "{new}");
        assert!(r.body.contains("id=\"err-new_password\""), "{new}");
        assert!(r.body.contains(what), "{new}: {}", r.body);
        assert!(!r.body.contains("id=\"err-current_password\""), "{new}");
    }

    // In English, the same errors in English only.
    let switch = |lang: &'static str| [("lang", lang), ("back", "/account/password")];
    let r = c.post("/account/password", "/lang", &switch("en")).await;
    assert_eq!(r.status, 303);
    let r = c
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", &pw),
                ("new_password", "a long enough phrase"),
                ("confirm_password", "a long enough phrasE"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("the confirmation does not match"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("確認用のパスワードが一致しません"),
        "{}",
        r.body
    );
    let r = c.post("/account/password", "/lang", &switch("ja")).await;
    assert_eq!(r.status, 303);

    let before = c.cookie.clone();
    let new = "水曜日の朝に鉄道の点検をする";
    let r = c
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", &pw),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    assert_ne!(c.cookie, before, "the session id rotates");
    let home = c.get("/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains("パスワードを変更しました"),
        "{}",
        home.body
    );
    // The other session ended; the old password no longer works, the new one does.
    let (status, to) = location(&mut other, "/reports").await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/login"), "{to}");
    // So did the one signed in through the other node: its row went with the user's others.
    let (status, to) = location(&mut node2, "/account/password").await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/login"), "{to}");
    let mut again = srv.anonymous();
    let r = again
        .post(
            "/login",
            "/login",
            &[("email", email), ("password", &pw), ("next", "/")],
        )
        .await;
    assert_ne!(r.status, 303, "the one-time password is spent");
    again.login(email, new).await;
    assert_eq!(again.get("/reports").await.status, 200);

    // A reset by the administrator ends open sessions; the new one-time password leads to
    // the change form again.
    srv.clock.advance(chrono::Duration::minutes(1));
    let (_, reset) = kizuki_app::accounts::reset_password(&srv.app, email)
        .await
        .unwrap();
    let (status, to) = location(&mut again, "/reports").await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/login"), "{to}");
    let mut after = srv.anonymous();
    after.login(email, &reset).await;
    assert_eq!(
        location(&mut after, "/reports").await,
        (303, "/account/password".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_ends_sessions_and_tokens_at_once() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    assert_eq!(c.get("/reports").await.status, 200);
    let token = srv.token(RAIL).await;
    assert_eq!(
        srv.api("GET", "/reports", Some(&token), &[], None)
            .await
            .status,
        200
    );
    let (_, revoked) = kizuki_app::accounts::disable_user(&srv.app, RAIL)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    let (status, to) = location(&mut c, "/reports").await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/login"), "{to}");
    assert_eq!(
        srv.api("GET", "/reports", Some(&token), &[], None)
            .await
            .status,
        401
    );
    // Enabling again does not bring the token back.
    kizuki_app::accounts::enable_user(&srv.app, RAIL)
        .await
        .unwrap();
    assert_eq!(
        srv.api("GET", "/reports", Some(&token), &[], None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn users_create_and_revoke_their_own_api_tokens_on_their_page() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let page = rail.get("/account/tokens").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("トークンはありません"), "{}", page.body);
    let r = rail
        .post(
            "/account/tokens",
            "/account/tokens",
            &[("label", "監視スクリプト")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let secret = r
        .body
        .split("<code id=\"secret\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("the secret, once")
        .to_owned();
    assert!(secret.starts_with("kzk_"));
    assert_eq!(
        srv.api("GET", "/taxonomy", Some(&secret), &[], None)
            .await
            .status,
        200
    );
    let listed = rail.get("/account/tokens").await.body;
    assert!(listed.contains("監視スクリプト"));
    assert!(!listed.contains(&secret), "never shown again");
    let id: i64 = listed
        .split("/account/tokens/")
        .nth(1)
        .and_then(|t| t.split('/').next())
        .and_then(|n| n.parse().ok())
        .expect("a revoke form");
    // Someone else's token is not there for another user.
    let mut fin = srv.client(FINANCE).await;
    let r = fin
        .post(
            "/account/tokens",
            &format!("/account/tokens/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        srv.api("GET", "/taxonomy", Some(&secret), &[], None)
            .await
            .status,
        200
    );
    let r = rail
        .post(
            "/account/tokens",
            &format!("/account/tokens/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        srv.api("GET", "/taxonomy", Some(&secret), &[], None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn an_operator_admin_adds_and_disables_users_of_its_own_organisation_only() {
    let srv = TestApp::demo().await;
    let mut admin = srv.client("admin@railway.example.jp").await;
    let page = admin.get("/org/users").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("reporter@railway.example.jp"));
    assert!(!page.body.contains("reporter@finance.example.jp"));
    // Another organisation's page is not there.
    let fin = kizuki_app::accounts::org_with_key(&srv.app, "demo-finance")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        admin
            .get(&format!("/org/users?org={}", fin.id))
            .await
            .status,
        404
    );
    // A bad address keeps what was typed.
    let r = admin
        .post(
            "/org/users",
            "/org/users",
            &[
                ("email", "not-an-address"),
                ("name", "新人 花子"),
                ("role", "reporter"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("新人 花子"));
    let r = admin
        .post(
            "/org/users",
            "/org/users",
            &[
                ("email", "shinjin@railway.example.jp"),
                ("name", "新人 花子"),
                ("role", "reporter"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.body.contains("id=\"password\""));
    let id: i64 = r
        .body
        .split("/org/users/")
        .filter_map(|t| t.split('/').next()?.parse().ok())
        .last()
        .expect("a disable form");
    let mut fin_admin_less = srv.client(FINANCE).await;
    let r = fin_admin_less
        .post("/", &format!("/org/users/{id}/disable"), &[])
        .await;
    assert_eq!(r.status, 404, "a reporter of another organisation");
    let r = admin
        .post("/org/users", &format!("/org/users/{id}/disable"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let shown = admin.get("/org/users").await.body;
    assert!(shown.contains(&format!("id=\"enable-{id}\"")), "{shown}");
}

/// The text between `id="{id}">` and the next `<`, from a page.
fn element_text(body: &str, id: &str) -> String {
    let start = body
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in {body}"))
        + id.len()
        + 6;
    body[start..].split('<').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_sets_up_renews_and_moves_their_own_second_factor() {
    use kizuki_app::security::totp::TotpSecret;
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let page = c.get("/account/mfa").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"mfa-start\""),
        "an operator chooses to"
    );
    let r = c.post("/account/mfa", "/account/mfa/start", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let first_secret = element_text(&r.body, "totp-secret");
    let secret = TotpSecret::from_base32(&first_secret).unwrap();
    let code = |srv: &TestApp| secret.code_at(srv.app.clock.now());

    // A wrong code keeps it pending; the right one shows the recovery codes once.
    let r = c
        .post(
            "/account/mfa",
            "/account/mfa/confirm",
            &[("code", "000000")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"mfa-failed\""));
    let r = c
        .post(
            "/account/mfa",
            "/account/mfa/confirm",
            &[("code", &code(&srv))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first_codes = r.body.matches("<li><code>").count();
    assert_eq!(first_codes, 10, "{}", r.body);
    let page = c.get("/account/mfa").await;
    assert!(page.body.contains("id=\"mfa-enrolled\""));

    // Renewing takes a fresh code (the one just used is refused: each code once).
    let used = code(&srv);
    let r = c
        .post(
            "/account/mfa",
            "/account/mfa/recovery-codes",
            &[("code", &used)],
        )
        .await;
    assert_eq!(r.status, 422, "a replayed code");
    srv.clock.advance(chrono::Duration::seconds(30));
    let r = c
        .post(
            "/account/mfa",
            "/account/mfa/recovery-codes",
            &[("code", &code(&srv))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.matches("<li><code>").count(), 10);

    // Moving to a new phone: after a current code, a new secret to confirm.
    srv.clock.advance(chrono::Duration::seconds(30));
    let r = c
        .post(
            "/account/mfa",
            "/account/mfa/reset",
            &[("code", &code(&srv))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = TotpSecret::from_base32(&element_text(&r.body, "totp-secret")).unwrap();
    assert_ne!(
        second.code_at(srv.app.clock.now()),
        code(&srv),
        "a new secret"
    );

    let audit = srv.app.store.audit_range(0, 1_000_000).await.unwrap();
    for action in [
        "auth.mfa_enrolled",
        "auth.recovery_codes_renewed",
        "auth.mfa_reset",
    ] {
        assert!(audit.iter().any(|e| e.action == action), "{action} audited");
    }
}

#[tokio::test]
async fn an_operator_admin_keeps_its_allowlist_and_cannot_shut_itself_out() {
    const RAIL_ADMIN: &str = "admin@railway.example.jp";
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL_ADMIN).await;
    let page = c.get("/org/allowlist").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"allowlist-empty\""));
    assert!(
        page.body.contains("127.0.0.1"),
        "shows the viewer's address"
    );

    // A first entry that leaves out the admin's own address is refused, and the text kept.
    let r = c
        .post(
            "/org/allowlist",
            "/org/allowlist",
            &[("cidr", "10.0.0.0/8")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let body = r.body.replace("&#x2f;", "/");
    assert!(
        body.contains("127.0.0.1") && body.contains("value=\"10.0.0.0/8\""),
        "{body}"
    );
    let r = c
        .post(
            "/org/allowlist",
            "/org/allowlist",
            &[("cidr", "300.1.1.1/8")],
        )
        .await;
    assert_eq!(r.status, 422);
    for cidr in ["127.0.0.0/8", "10.0.0.0/8"] {
        let r = c
            .post("/org/allowlist", "/org/allowlist", &[("cidr", cidr)])
            .await;
        assert_eq!(r.status, 303, "{cidr}: {}", r.body);
    }
    let page = c.get("/org/allowlist").await.body.replace("&#x2f;", "/");
    assert!(
        page.contains("<code>10.0.0.0/8</code>") && page.contains("<code>127.0.0.0/8</code>"),
        "{page}"
    );
    // Removing the entry that lets the admin in is refused; the other goes.
    let r = c
        .post(
            "/org/allowlist",
            "/org/allowlist/remove",
            &[("cidr", "127.0.0.0/8")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = c
        .post(
            "/org/allowlist",
            "/org/allowlist/remove",
            &[("cidr", "10.0.0.0/8")],
        )
        .await;
    assert_eq!(r.status, 303);

    // Another organisation's list does not exist for this admin, nor for a reporter.
    let finance = srv
        .app
        .store
        .org_by_key("demo-finance")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    assert_eq!(
        c.get(&format!("/org/allowlist?org={finance}")).await.status,
        404
    );
    let r = c
        .post(
            "/org/allowlist",
            "/org/allowlist",
            &[("org", &finance.to_string()), ("cidr", "10.0.0.0/8")],
        )
        .await;
    assert_eq!(r.status, 404);
    let mut reporter = srv.client(RAIL).await;
    assert_eq!(reporter.get("/org/allowlist").await.status, 404);

    let audit = srv.app.store.audit_range(0, 1_000_000).await.unwrap();
    let edits: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "admin.action" && e.detail.contains("allowlist."))
        .collect();
    assert_eq!(edits.len(), 3, "two added, one removed: {edits:?}");
    assert!(
        edits.iter().all(|e| e.actor.starts_with("user:")),
        "{edits:?}"
    );
}

#[tokio::test]
async fn an_operator_admin_issues_and_revokes_its_users_tokens_only() {
    const RAIL_ADMIN: &str = "admin@railway.example.jp";
    let srv = TestApp::demo().await;
    let rail_user = srv
        .app
        .store
        .credentials(&kizuki_domain::user::Email::parse(RAIL).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let mut c = srv.client(RAIL_ADMIN).await;
    let page = c.get("/org/tokens").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let r = c
        .post(
            "/org/tokens",
            "/org/tokens",
            &[
                ("user", &rail_user.0.to_string()),
                ("label", "連携スクリプト"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let start = r.body.find("id=\"secret\">").unwrap() + "id=\"secret\">".len();
    let secret = r.body[start..].split('<').next().unwrap().to_owned();
    assert_eq!(
        srv.api("GET", "/reports", Some(&secret), &[], None)
            .await
            .status,
        200,
        "the token works"
    );
    let listed = c.get("/org/tokens").await.body;
    assert!(listed.contains("連携スクリプト"));
    assert!(!listed.contains(&secret), "the secret is shown once");

    // Another organisation's users and tokens do not exist for this admin.
    let finance = srv
        .app
        .store
        .org_by_key("demo-finance")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    assert_eq!(
        c.get(&format!("/org/tokens?org={finance}")).await.status,
        404
    );
    let (finance_token, _) = kizuki_app::security::tokens::create(&srv.app, FINANCE, "bank")
        .await
        .unwrap();
    let finance_user = finance_token.user_id.0.to_string();
    let r = c
        .post(
            "/org/tokens",
            "/org/tokens",
            &[("user", &finance_user), ("label", "x")],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = c
        .post(
            "/org/tokens",
            &format!("/org/tokens/{}/revoke", finance_token.id),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);
    let mut reporter = srv.client(RAIL).await;
    assert_eq!(reporter.get("/org/tokens").await.status, 404);

    // Revoking the rail token stops it at once.
    let id = kizuki_app::security::tokens::list(&srv.app, RAIL)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.label == "連携スクリプト")
        .unwrap()
        .id;
    let r = c
        .post("/org/tokens", &format!("/org/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        srv.api("GET", "/reports", Some(&secret), &[], None)
            .await
            .status,
        401
    );
    let audit = srv.app.store.audit_range(0, 1_000_000).await.unwrap();
    let admin_id = srv
        .app
        .store
        .credentials(&kizuki_domain::user::Email::parse(RAIL_ADMIN).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    for action in ["token.created", "token.revoked"] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor == format!("user:{admin_id}")),
            "{action} by the admin"
        );
    }
}

#[tokio::test]
async fn the_administrator_adds_an_organisation_in_the_web_with_the_clis_rules() {
    const ADMIN: &str = "admin@centre.example.jp";
    let srv = TestApp::demo().await;
    let mut c = srv.client(ADMIN).await;
    let page = c.get("/admin/orgs").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("demo-railway"));

    // An operator needs exactly one sector: refused by field, with what was typed kept.
    let r = c
        .post(
            "/admin/orgs",
            "/admin/orgs",
            &[("name", "北陸ガス株式会社"), ("kind", "operator")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("北陸ガス株式会社") && r.body.contains("id=\"err-sector\""));
    let r = c
        .post(
            "/admin/orgs",
            "/admin/orgs",
            &[
                ("name", "北陸ガス株式会社"),
                ("key", "hokuriku-gas"),
                ("kind", "operator"),
                ("sectors", "gas"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let o = srv
        .app
        .store
        .org_by_key("hokuriku-gas")
        .await
        .unwrap()
        .expect("added");
    assert_eq!(o.org.sectors.len(), 1);
    assert!(c.get("/admin/orgs").await.body.contains("hokuriku-gas"));
    let audit = srv.app.store.audit_range(0, 1_000_000).await.unwrap();
    assert!(
        audit.iter().any(|e| e.detail.contains("org.add")
            && e.detail.contains("hokuriku-gas")
            && e.actor.starts_with("user:")),
        "audited with the administrator"
    );

    // Nobody else has the page.
    for who in [
        RAIL,
        "admin@railway.example.jp",
        "analyst@centre.example.jp",
    ] {
        let mut other = srv.client(who).await;
        assert_eq!(other.get("/admin/orgs").await.status, 404, "{who}");
    }
}

#[tokio::test]
async fn the_administrator_exports_the_audit_log_and_the_file_verifies() {
    const ADMIN: &str = "admin@centre.example.jp";
    let srv = TestApp::demo().await;
    let mut c = srv.client(ADMIN).await;
    let today = kizuki_domain::clock::jst_date(srv.app.clock.now()).to_string();
    let r = c
        .get(&format!("/audit/export?from=2019-01-01&to={today}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    let summary = kizuki_app::security::audit_log::verify_lines(&r.body)
        .expect("JSON Lines")
        .expect("the chain verifies on its own");
    assert!(summary.entries > 0);
    // The export itself is recorded.
    let after = srv.app.store.audit_range(0, 1_000_000).await.unwrap();
    assert_eq!(after.last().unwrap().action, "record.export");
    assert_eq!(
        c.get("/audit/export?from=someday&to=2020-01-01")
            .await
            .status,
        422
    );
    let mut rail = srv.client(RAIL).await;
    assert_eq!(
        rail.get(&format!("/audit/export?from=2019-01-01&to={today}"))
            .await
            .status,
        404
    );
}
