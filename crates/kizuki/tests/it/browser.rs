//! Browser tests in headless Chromium, driven over WebDriver (Debian's chromium-driver) with
//! the test kit's socket client, against the app served on a real socket: log in, file a first report with a 和暦 date, see a
//! validation error keep the input, add a follow-up, triage it, and two sessions editing one
//! case where the second save shows the conflict and loses nothing. Screenshots of the main
//! pages go to `target/tmp/screenshots`. Without Chromium the tests say so and pass.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kizuki_testkit::bin::spawn_announcing;
use kizuki_testkit::{ANALYST, EDITOR, FINANCE, RAIL, Socket, TestApp, TestServer};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The running chromedriver, stopped when dropped.
pub(crate) struct Driver {
    http: Socket,
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver runs in its own process group with the browsers it started; ending the
        // group also ends browsers a failed test never closed.
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(DRIVER).exists()
}

async fn wd(http: &Socket, method: &str, path: &str, body: Option<Value>) -> Value {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let h = [("Content-Type", "application/json".to_owned())];
    let r = http
        .try_send(method, path, &h, bytes.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
    let v: Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}: {}", r.body));
    assert!(
        r.status < 400,
        "webdriver {method} {path} failed: {}",
        r.body
    );
    v["value"].clone()
}

impl Driver {
    /// Starts chromedriver on a port of its choosing (`--port=0`), read from what it prints.
    pub(crate) async fn start() -> Driver {
        let mut cmd = Command::new(DRIVER);
        cmd.arg("--port=0").process_group(0).stderr(Stdio::null());
        let (child, port) = spawn_announcing(cmd, |line| {
            let port = line.strip_prefix("ChromeDriver was started successfully on port ")?;
            Some(port.trim_end_matches('.').to_owned())
        })
        .await;
        let http = Socket::new(&format!("http://127.0.0.1:{port}"));
        for _ in 0..100 {
            if http.try_send("GET", "/status", &[], b"").await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { http, child }
    }

    /// A fresh browser with its own profile (so two sessions share nothing).
    pub(crate) async fn browser(&self, profile: &Path) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1400", "--lang=ja",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let v = wd(&self.http, "POST", "/session", Some(caps)).await;
        Browser {
            http: self.http.clone(),
            id: v["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

pub(crate) struct Browser {
    http: Socket,
    id: String,
}

impl Browser {
    pub(crate) async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        wd(
            &self.http,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
        .await
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await;
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})))
            .await;
    }

    pub(crate) async fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Presses keys on whatever has the focus, as a person at the keyboard would; `\u{e007}`
    /// is Enter, `\u{e004}` Tab.
    async fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let v = c.to_string();
                [
                    json!({"type": "keyDown", "value": v}),
                    json!({"type": "keyUp", "value": v}),
                ]
            })
            .collect();
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    /// The id of the element that has the focus.
    async fn focused(&self) -> String {
        self.js("return document.activeElement ? document.activeElement.id : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn value(&self, css: &str) -> String {
        let script = format!(
            "return document.querySelector({}).value;",
            serde_json::to_string(css).unwrap()
        );
        self.js(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) async fn text(&self) -> String {
        self.js("return document.body.innerText;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None).await;
        let png = B64.decode(b64.as_str().unwrap()).unwrap();
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub(crate) async fn login(&self, srv: &TestServer, email: &str) {
        let password = srv.password(email);
        self.goto(&srv.url("/login")).await;
        self.type_into("#email", email).await;
        self.type_into("#password", &password).await;
        self.click("form.stack button[type=submit]").await;
        // Security: centre staff pass a second factor (a recovery code here).
        if let Some(code) = srv.mfa_code(email).await {
            wait_for_text(self, "二要素認証").await;
            self.type_into("#code", &code).await;
            self.click("form.stack button[type=submit]").await;
        }
    }

    pub(crate) async fn quit(&self) {
        let _ = self
            .http
            .try_send("DELETE", &format!("/session/{}", self.id), &[], b"")
            .await;
    }
}

pub(crate) fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

/// Waits until the page's text contains `needle` (pages load and scripts run asynchronously).
pub(crate) async fn wait_for_text(b: &Browser, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        last = b.text().await;
        if last.contains(needle) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page never showed {needle:?}; it shows:\n{last}");
}

/// Runs a browser flow on a thread with a large stack: the flows are long async functions
/// whose unoptimised futures overflow a test thread's default 2 MiB.
pub(crate) fn run_flow<F: std::future::Future<Output = ()> + Send + 'static>(flow: F) {
    if !available() {
        println!("skipped: chromium not installed");
        return;
    }
    let t = std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(16 * 1024 * 1024)
                .enable_all()
                .build()
                .unwrap()
                .block_on(flow)
        })
        .unwrap();
    if let Err(p) = t.join() {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn report_flow_in_chromium() {
    run_flow(report_flow());
}

async fn report_flow() {
    let app = TestApp::demo().await;
    let srv = app.serve().await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let b = driver.browser(profile.path()).await;
    let base = srv.base.clone();

    b.goto(&format!("{base}/")).await;
    wait_for_text(&b, "改元に伴うシステム変更トラブルへの対応").await;
    b.screenshot("01-home").await;
    b.goto(&format!("{base}/login")).await;
    b.screenshot("02-login").await;
    b.login(&srv, RAIL).await;
    wait_for_text(&b, "自組織の対応中の報告").await;

    // A first report whose 和暦 date does not exist and with no title: errors, input kept.
    b.goto(&format!("{base}/reports/new")).await;
    b.type_into("#f-occurred_date", "令和元年4月30日").await;
    b.type_into("input[name=occurred_time]", "9:15").await;
    b.js("document.getElementById('f-event_type').value = 'unavailability';")
        .await;
    b.type_into("#f-summary", "改元後、予約画面の日付が1989年と表示された。")
        .await;
    b.click(".report-form button[type=submit]").await;
    let page = wait_for_text(&b, "入力内容に誤りがあります").await;
    assert!(
        page.contains("2019年5月1日"),
        "the era error explains: {page}"
    );
    assert_eq!(b.value("#f-occurred_date").await, "令和元年4月30日");
    assert_eq!(
        b.value("#f-summary").await,
        "改元後、予約画面の日付が1989年と表示された。"
    );
    b.screenshot("03-report-form-errors").await;

    b.type_into("#f-title", "改元後の日付誤表示").await;
    b.type_into("#f-occurred_date", "令和元年5月1日").await;
    b.click(".report-form button[type=submit]").await;
    let page = wait_for_text(&b, "第一報を受け付けました").await;
    assert!(
        page.contains("2019年5月1日（令和元年5月1日） 09:15"),
        "{page}"
    );
    let report_url = b.url().await;
    let id: i64 = report_url.rsplit('/').next().unwrap().parse().unwrap();

    // A follow-up.
    b.type_into("#f-stage-text", "原因はベンダの改修漏れと判明。")
        .await;
    b.click("#stage-form button[type=submit]").await;
    let page = wait_for_text(&b, "報告を追加しました").await;
    assert!(page.contains("原因はベンダの改修漏れと判明。"));
    assert!(page.contains("続報"));
    b.screenshot("04-report-detail").await;
    b.quit().await;

    // The analyst triages it.
    let profile2 = tempfile::tempdir().unwrap();
    let a = driver.browser(profile2.path()).await;
    a.login(&srv, ANALYST).await;
    wait_for_text(&a, "トリアージ待ちの報告").await;
    a.screenshot("05-dashboard-analyst").await;
    a.goto(&format!("{base}/reports")).await;
    a.screenshot("06-report-list").await;
    a.goto(&format!("{base}/reports/{id}/triage")).await;
    wait_for_text(&a, "分類").await;
    a.js("document.getElementById('f-severity').value = '2'; document.getElementById('f-tlp').value = 'green';")
        .await;
    a.click("input[name=causes][value=vulnerability]").await;
    a.screenshot("07-triage").await;
    a.click("form.stack button[type=submit]").await;
    let page = wait_for_text(&a, "分類を保存しました").await;
    assert!(
        page.contains("分類済み") && page.contains("TLP:GREEN"),
        "{page}"
    );
    assert!(page.contains("システムの脆弱性"), "{page}");
    a.goto(&format!("{base}/surveys/2019")).await;
    wait_for_text(&a, "共通する気付き・教訓").await;
    a.screenshot("08-survey").await;
    a.goto(&format!("{base}/cases/1")).await;
    a.screenshot("09-case").await;
    a.goto(&format!("{base}/lessons")).await;
    a.screenshot("10-lessons").await;
    // The language switch, remembered for the account.
    a.click("button[name=lang][value=en]").await;
    wait_for_text(&a, "Lessons learned").await;
    a.goto(&format!("{base}/reports/{id}")).await;
    let page = wait_for_text(&a, "Timeline").await;
    assert!(page.contains("2019-05-01 (令和元年5月1日) 09:15"), "{page}");
    a.screenshot("13-report-detail-en").await;
    a.quit().await;
}

#[test]
fn two_sessions_edit_one_case_and_nothing_is_lost() {
    run_flow(case_conflict_flow());
}

async fn case_conflict_flow() {
    let app = TestApp::demo().await;
    let srv = app.serve().await;
    let driver = Driver::start().await;
    let (p1, p2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let base = srv.base.clone();
    let analyst = driver.browser(p1.path()).await;
    let editor = driver.browser(p2.path()).await;
    analyst.login(&srv, ANALYST).await;
    editor.login(&srv, EDITOR).await;
    wait_for_text(&analyst, "トリアージ待ち").await;
    wait_for_text(&editor, "トリアージ待ち").await;

    analyst.goto(&format!("{base}/cases/1/edit")).await;
    wait_for_text(&analyst, "事例の編集").await;
    editor.goto(&format!("{base}/cases/1/edit")).await;
    // Presence: each sees the other (the analyst's page learns it from its heartbeat).
    wait_for_text(&editor, "分析 太郎 さんもこの記録を編集中です").await;
    analyst.js("location.reload();").await;
    wait_for_text(&analyst, "編集 花子 さんもこの記録を編集中です").await;

    // Live preview follows typing.
    analyst
        .type_into("#f-title", "改元に伴うシステム変更トラブル（分析者の修正）")
        .await;
    wait_for_text(&analyst, "改元に伴うシステム変更トラブル（分析者の修正）").await;
    let preview = analyst
        .js("return document.getElementById('case-preview').innerText;")
        .await;
    assert!(
        preview
            .as_str()
            .unwrap()
            .contains("改元に伴うシステム変更トラブル（分析者の修正）"),
        "{preview}"
    );
    analyst.screenshot("11-case-editor").await;

    // The editor adds a lesson row and saves first.
    let lessons = editor
        .js("return document.querySelectorAll('ol.rows[data-list=lessons] > li').length;")
        .await
        .as_u64()
        .unwrap();
    let add_lesson = async |b: &Browser| {
        // By keyboard: the sticky save bar may cover the button where a click would land.
        b.js("document.getElementById('lessons-add').focus();")
            .await;
        b.keys(ENTER).await;
        b.type_into(&format!("#f-lessons-{lessons}-title"), "編集者の教訓")
            .await;
        b.type_into(
            &format!("#f-lessons-{lessons}-text"),
            "編集者が追加した本文",
        )
        .await;
    };
    add_lesson(&editor).await;
    editor.click(".actions button.primary").await;
    wait_for_text(&editor, "保存しました").await;

    // The analyst saves on the old version: refused, both shown, nothing lost.
    analyst.click(".actions button.primary").await;
    let page = wait_for_text(&analyst, "ほかの人が先に保存しました").await;
    assert!(
        page.contains("編集者が追加した本文"),
        "their change is shown"
    );
    assert_eq!(
        analyst.value("#f-title").await,
        "改元に伴うシステム変更トラブル（分析者の修正）",
        "my input is still in the form"
    );
    analyst.screenshot("12-case-conflict").await;

    // Merge: take their lesson, keep my title, save.
    add_lesson(&analyst).await;
    analyst.click(".actions button.primary").await;
    let page = wait_for_text(&analyst, "保存しました").await;
    assert!(page.contains("改元に伴うシステム変更トラブル（分析者の修正）"));
    assert!(page.contains("編集者が追加した本文"));
    analyst.quit().await;
    editor.quit().await;
}

#[test]
fn a_case_step_row_is_added_and_moved_with_the_keyboard() {
    run_flow(case_rows_by_keyboard_flow());
}

const ENTER: &str = "\u{e007}";
const TAB: &str = "\u{e004}";

/// Waits until `script` returns true (the preview refreshes a moment after typing stops).
async fn wait_for_js(b: &Browser, script: &str) {
    for _ in 0..50 {
        if b.js(script).await.as_bool() == Some(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never true: {script}");
}

async fn case_rows_by_keyboard_flow() {
    let app = TestApp::demo().await;
    let srv = app.serve().await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let base = srv.base.clone();
    let b = driver.browser(profile.path()).await;
    b.login(&srv, ANALYST).await;
    wait_for_text(&b, "トリアージ待ち").await;
    b.goto(&format!("{base}/cases/1/edit")).await;
    wait_for_text(&b, "事例の編集").await;
    let steps = b
        .js("return document.querySelectorAll('ol.rows[data-list=steps] > li').length;")
        .await
        .as_u64()
        .unwrap();
    assert!(steps >= 2);

    // "Add a step" by keyboard: a new row, its first field focused, no page load.
    b.js("window.kzNoReload = true; document.getElementById('steps-add').focus();")
        .await;
    b.keys(ENTER).await;
    assert_eq!(b.focused().await, format!("f-steps-{steps}-actors"));
    b.keys(&format!("core-system{TAB}10:30{TAB}Keyboard step"))
        .await;
    assert_eq!(b.value(&format!("#f-steps-{steps}-time")).await, "10:30");
    // Tab reaches the row's "up" button, named after its row; Enter moves the row up and the
    // focus stays on the button, now of the row above.
    b.keys(TAB).await;
    assert_eq!(b.focused().await, format!("steps-{steps}-up"));
    b.keys(ENTER).await;
    let up = format!("steps-{}-up", steps - 1);
    assert_eq!(b.focused().await, up);
    let label = b
        .js(&format!(
            "return document.getElementById('{up}').getAttribute('aria-label');"
        ))
        .await;
    assert_eq!(label.as_str().unwrap(), format!("手順({steps})を上へ"));
    assert_eq!(
        b.value(&format!("[name='steps[{}][text]']", steps - 1))
            .await,
        "Keyboard step"
    );
    assert_eq!(
        b.js("return window.kzNoReload === true;").await,
        Value::Bool(true),
        "the row buttons worked without loading a page"
    );
    // The live preview's diagram shows the time.
    wait_for_js(
        &b,
        "var s = document.querySelector('#case-preview svg'); \
         return !!s && s.textContent.indexOf('10:30') >= 0;",
    )
    .await;
    b.screenshot("14-case-rows").await;

    // Enter in a field saves, as before rows had buttons of their own.
    b.js(&format!(
        "document.getElementById('f-steps-{}-text').focus();",
        steps - 1
    ))
    .await;
    b.keys(ENTER).await;
    let page = wait_for_text(&b, "保存しました").await;
    assert!(
        page.contains(&format!("({steps}) 10:30 Keyboard step")),
        "{page}"
    );
    wait_for_js(
        &b,
        "var i = document.querySelector('figure.case-diagram img'); \
         return !!i && i.complete && i.naturalWidth > 0;",
    )
    .await;
    b.goto(&format!("{base}/cases/1/diagram.svg")).await;
    let times = b
        .js("return Array.from(document.querySelectorAll('g.kz-time text')).map(function (t) { return t.textContent; });")
        .await;
    assert_eq!(times, json!(["10:30"]));
    b.quit().await;
}

#[test]
fn a_survey_year_runs_entirely_in_the_browser() {
    run_flow(survey_year_flow());
}

/// Files a first report through the form and returns its id.
async fn file_in_browser(b: &Browser, base: &str, title: &str) -> i64 {
    b.goto(&format!("{base}/reports/new")).await;
    if b.js("return !!document.getElementById('f-title');").await != Value::Bool(true) {
        panic!("no report form: {} at {}", b.text().await, b.url().await);
    }
    b.type_into("#f-title", title).await;
    b.js(
        "document.getElementById('f-event_type').value = 'unavailability'; \
          document.querySelector('input[name=causes][value=equipment-failure]').checked = true;",
    )
    .await;
    b.type_into(
        "#f-summary",
        &format!("{title}。共同利用型の予約システムが止まった。"),
    )
    .await;
    b.click(".report-form button[type=submit]").await;
    wait_for_text(b, "第一報を受け付けました").await;
    b.url().await.rsplit('/').next().unwrap().parse().unwrap()
}

/// Waits until the sign-off state badge shows `code`.
async fn wait_for_state(b: &Browser, code: &str) {
    wait_for_js(
        b,
        &format!(
            "var s = document.getElementById('signoff-state'); \
             return !!s && s.className.indexOf('signoff-{code}') >= 0;"
        ),
    )
    .await;
}

/// Records a cooperation answer on the case's page as whoever `b` is signed in as.
async fn cooperate(b: &Browser, base: &str, case: i64, status: &str, reason: &str) {
    b.goto(&format!("{base}/cases/{case}/cooperation")).await;
    wait_for_text(b, "事業者の協力").await;
    b.click(&format!("#coop-status-{status}")).await;
    b.type_into("#f-contact", "情報システム部 担当者").await;
    if !reason.is_empty() {
        b.type_into("#f-reason", reason).await;
    }
    b.click("#coop-save").await;
}

async fn survey_year_flow() {
    let app = TestApp::builder()
        .at("2020-11-20T09:00:00+09:00")
        .demo()
        .mfa()
        .search()
        .build()
        .await;
    // A fourth operator: the demo's water utility gets a reporter.
    let water_org = kizuki_app::accounts::org_with_key(&app.app, "demo-water")
        .await
        .unwrap()
        .unwrap();
    const WATER: &str = "reporter@water.example.jp";
    const WATER_PW: &str = "mizu-Nagare-kawa-2020-ryu";
    let (user, once) = kizuki_app::accounts::add_user(
        &app.app,
        None,
        &water_org,
        WATER,
        kizuki_domain::user::Role::Reporter,
        Some("水道 次郎"),
    )
    .await
    .unwrap();
    kizuki_app::accounts::change_password(
        &app.app,
        &kizuki_app::auth::Principal::from_user(&user),
        &once,
        WATER_PW,
        WATER_PW,
    )
    .await
    .unwrap();
    let srv = app.serve().await;
    let driver = Driver::start().await;
    let base = srv.base.clone();
    let profiles: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let analyst = driver.browser(profiles[0].path()).await;
    let editor = driver.browser(profiles[1].path()).await;
    analyst.login(&srv, ANALYST).await;
    editor.login(&srv, EDITOR).await;
    wait_for_text(&analyst, "トリアージ待ち").await;
    wait_for_text(&editor, "トリアージ待ち").await;

    // Open 2020 from 2019: the form comes prefilled with the copy.
    analyst.goto(&format!("{base}/surveys")).await;
    analyst.click("#survey-new-link").await;
    wait_for_text(&analyst, "補完調査の年度を開く").await;
    assert_eq!(analyst.value("#f-fiscal_year").await, "2020");
    assert_eq!(analyst.value("#f-period_start").await, "2020-01-01");
    assert_eq!(analyst.value("#f-title").await, "2020年度 補完調査 報告書");
    analyst.screenshot("20-survey-open").await;
    analyst.click("#survey-save").await;
    wait_for_text(&analyst, "調査の年度を開きました").await;

    // Twelve reports from four operators, three each.
    let mut operators = Vec::new();
    for (i, email) in [RAIL, FINANCE, "reporter@medical.example.jp", WATER]
        .into_iter()
        .enumerate()
    {
        let b = driver.browser(profiles[2 + i].path()).await;
        if email == WATER {
            b.goto(&format!("{base}/login")).await;
            b.type_into("#email", WATER).await;
            b.type_into("#password", WATER_PW).await;
            b.click("form.stack button[type=submit]").await;
        } else {
            b.login(&srv, email).await;
        }
        wait_for_text(&b, "自組織の対応中の報告").await;
        operators.push(b);
    }
    let mut filed_by = std::collections::HashMap::new();
    for round in 0..3 {
        for (i, b) in operators.iter().enumerate() {
            let id = file_in_browser(b, &base, &format!("予約システムの停止（{i}-{round}）")).await;
            filed_by.insert(id, i);
            app.clock.advance(chrono::Duration::minutes(1));
        }
    }
    assert_eq!(filed_by.len(), 12);

    // Propose three cases and confirm them.
    analyst
        .goto(&format!("{base}/surveys/2020/selection"))
        .await;
    analyst.type_into("#f-count", "3").await;
    analyst.click("#propose").await;
    wait_for_text(&analyst, "提案（未確定）").await;
    analyst.click("#confirm").await;
    wait_for_text(&analyst, "事業者の協力").await;
    let coop_links = analyst
        .js("return Array.from(document.querySelectorAll('#cooperation a[href$=\"/cooperation\"]')).map(function (a) { return a.getAttribute('href'); });")
        .await;
    let cases: Vec<i64> = coop_links
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            h.as_str()
                .unwrap()
                .split('/')
                .nth(2)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(cases.len(), 3, "{coop_links}");
    analyst.screenshot("21-selection-confirmed").await;

    // The centre asks each operator; the page says whose report each case is.
    let mut owner = std::collections::HashMap::new();
    for c in &cases {
        cooperate(&analyst, &base, *c, "requested", "").await;
        let page = wait_for_text(&analyst, "保存しました").await;
        let report: i64 = page
            .split("報告 #")
            .nth(1)
            .and_then(|t| t.split(|ch: char| !ch.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no report on the page: {page}"));
        owner.insert(*c, filed_by[&report]);
    }

    // One operator declines on its dashboard's link; the replacement is accepted.
    let declined = cases[1];
    let decliner = &operators[owner[&declined]];
    decliner.goto(&format!("{base}/")).await;
    wait_for_text(decliner, "協力の依頼が届いている事例").await;
    cooperate(
        decliner,
        &base,
        declined,
        "declined",
        "社内調査が続いているため",
    )
    .await;
    wait_for_text(decliner, "保存しました").await;
    analyst
        .goto(&format!("{base}/surveys/2020/selection"))
        .await;
    let page = wait_for_text(&analyst, "辞退された事例の代わりの候補").await;
    assert!(page.contains("辞退"), "{page}");
    analyst.type_into("#f-repl-contact", "総務部").await;
    analyst.click("#accept-replacement").await;
    wait_for_text(&analyst, "事例の下書きを作りました").await;
    let replacement: i64 = analyst
        .url()
        .await
        .split('/')
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    let report_of_replacement = app
        .app
        .store
        .get_case(kizuki_domain::ids::CaseId(replacement))
        .await
        .unwrap()
        .report_id
        .unwrap();
    owner.insert(replacement, filed_by[&report_of_replacement.0]);
    let kept = [cases[0], cases[2], replacement];
    for c in kept {
        let b = &operators[owner[&c]];
        cooperate(b, &base, c, "agreed", "").await;
        wait_for_text(b, "保存しました").await;
    }

    // Write the three cases from their reports: the steps came with their times.
    for (n, c) in kept.iter().enumerate() {
        analyst.goto(&format!("{base}/cases/{c}/edit")).await;
        wait_for_text(&analyst, "事例の編集").await;
        assert!(
            analyst.value("#f-steps-0-time").await.contains("11月20日"),
            "steps carry the report's times"
        );
        analyst
            .type_into("#f-overview", &format!("事例{n}の概要。予約が止まった。"))
            .await;
        for (field, text) in [
            ("background", "共同利用型の予約システムを使っていた。"),
            ("detection", "利用者からの問合せで気付いた。"),
            ("response", "手作業の受付に切り替えた。"),
            ("cause_points", "機器の故障。"),
            ("countermeasures", "予備機を用意する。"),
        ] {
            analyst.type_into(&format!("#f-{field}"), text).await;
        }
        analyst
            .type_into("[name='responses[0][text]']", "代替手段で業務を継続した。")
            .await;
        analyst
            .type_into("[name='responses[0][time]']", "3時間後")
            .await;
        analyst
            .type_into("#f-lessons-0-title", &format!("判断者を決める{n}"))
            .await;
        analyst
            .type_into("#f-lessons-0-text", "非常時に判断する人を決めておく。")
            .await;
        analyst.click(".actions button.primary").await;
        wait_for_text(&analyst, "保存しました").await;
    }
    analyst.screenshot("22-case-written").await;

    // Anonymise each case, the operator signs off, the editor publishes it.
    for c in kept {
        let review = format!("{base}/cases/{c}/anonymise");
        editor.goto(&review).await;
        wait_for_text(&editor, "匿名化").await;
        let ids = editor
            .js("return Array.from(document.querySelectorAll('tr[data-candidate]')).map(function (t) { return t.getAttribute('data-candidate'); });")
            .await;
        for id in ids.as_array().unwrap() {
            let id = id.as_str().unwrap();
            editor.goto(&review).await;
            let row = format!("tr[data-candidate=\"{id}\"]");
            if id.starts_with("date:") {
                editor
                    .type_into(
                        &format!("{row} form:nth-of-type(3) input[name=value]"),
                        "公表に差し支えない日付",
                    )
                    .await;
                editor
                    .click(&format!("{row} form:nth-of-type(3) button"))
                    .await;
            } else {
                editor
                    .click(&format!("{row} form:nth-of-type(1) button"))
                    .await;
            }
            wait_for_js(
                &editor,
                &format!(
                    "var r = document.querySelector({}); return !!r && !!r.querySelector('strong');",
                    serde_json::to_string(&row).unwrap()
                ),
            )
            .await;
        }
        editor.goto(&review).await;
        editor.click("button[name=action][value=send]").await;
        wait_for_state(&editor, "sent_to_operator").await;
        let op = &operators[owner[&c]];
        op.goto(&format!("{base}/cases/{c}/signoff")).await;
        op.click("button[name=answer][value=approve]").await;
        wait_for_state(op, "approved").await;
        editor.goto(&review).await;
        editor
            .click("button[name=action][value=mark_publishable]")
            .await;
        wait_for_state(&editor, "publishable").await;
        editor.click("button[name=action][value=publish]").await;
        wait_for_state(&editor, "published").await;
    }

    // Two common lessons citing the cases.
    analyst.goto(&format!("{base}/surveys/2020/lessons")).await;
    wait_for_text(&analyst, "共通する気付き・教訓").await;
    let numbers: Vec<u32> = analyst
        .js("return Array.from(document.querySelectorAll(\"input[name='lessons[0][cases]']\")).map(function (i) { return i.value; });")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3, "the declined case is no longer there");
    for (i, (title, text, cites)) in [
        (
            "判断権者を決める",
            "共同利用型システムの障害に備え、判断する人を決めておく。",
            vec![numbers[0], numbers[2]],
        ),
        (
            "代替手段を用意する",
            "手作業で業務を続けられる手順を整えておく。",
            vec![numbers[1]],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        analyst
            .type_into(&format!("#f-lesson-{i}-title"), title)
            .await;
        analyst
            .js(&format!(
                "document.getElementById('f-lesson-{i}-category').value = 'system-failure';"
            ))
            .await;
        analyst
            .type_into(&format!("#f-lesson-{i}-text"), text)
            .await;
        for n in cites {
            analyst
                .click(&format!("input[name='lessons[{i}][cases]'][value='{n}']"))
                .await;
        }
    }
    analyst.click("#lessons-save").await;
    wait_for_text(&analyst, "保存しました").await;

    // Approve and publish the year.
    editor.goto(&format!("{base}/surveys/2020/publish")).await;
    let page = wait_for_text(&editor, "年次報告書の承認と公開").await;
    assert!(page.contains("載る事例（3件）"), "{page}");
    editor.screenshot("23-publish-year").await;
    editor.click("#publish-year").await;
    wait_for_text(&editor, "年次報告書を公開しました").await;

    // The published PDF says what the year was.
    let pdf = srv.anonymous().get("/public/surveys/2020.pdf").await;
    assert_eq!(pdf.status, 200);
    match crate::survey_year::pdf_text(&pdf.bytes) {
        Ok(text) => {
            let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            for needle in [
                "2020年度補完調査報告書",
                "補完調査は、行動計画",
                "重要インフラサービス及びその周辺サービスへの実害の有無",
                "システム故障に起因した重要インフラサービス障害",
                "代替手段で業務を継続した。",
                "得られた気付き・教訓",
                "再発に備えた対策",
                "対処1",
                "3時間後",
            ] {
                assert!(flat.contains(needle), "the PDF lacks {needle}: {text}");
            }
            // Each of the three cases has its six sections and its labelled responses.
            for heading in [
                "背景",
                "検知",
                "原因",
                "再発に備えた対策",
                "得られた気付き・教訓",
            ] {
                assert!(
                    flat.matches(heading).count() >= 3,
                    "{heading} for each case: {text}"
                );
            }
            assert!(flat.matches("対処1").count() >= 3, "対処1 in each diagram");
            assert!(
                flat.contains("判断権者を決める"),
                "the common lesson's title"
            );
            // Numbers close up to 1..3; the first lesson cites the first and last case.
            let mut sorted = numbers.clone();
            sorted.sort_unstable();
            let at = |n: u32| sorted.iter().position(|x| *x == n).unwrap() + 1;
            let mut first = [at(numbers[0]), at(numbers[2])];
            first.sort_unstable();
            let cite = format!("（事例{},{}）", first[0], first[1]);
            assert!(flat.contains(&cite), "{cite} in {text}");
            assert!(!flat.contains("事例4"), "numbers close up: {text}");
        }
        Err(why) => println!("skipped: the PDF's text was not checked: {why}"),
    }

    // The public portal serves it, to a visitor who is not signed in (the operators' browsers
    // close first: six headless browsers at once are as many as a small machine runs).
    for b in &operators {
        b.quit().await;
    }
    let visitor = driver.browser(profiles[5].path()).await;
    visitor.goto(&format!("{base}/public")).await;
    wait_for_text(&visitor, "2020").await;
    visitor
        .click("#public-surveys a[href='/public/surveys/2020']")
        .await;
    wait_for_text(&visitor, "2020年度 補完調査 報告書").await;
    visitor.screenshot("24-public-2020").await;
    for b in [&analyst, &editor, &visitor] {
        b.quit().await;
    }
}

#[test]
fn an_interview_runs_in_the_browser_and_the_review_flags_what_may_not_be_published() {
    run_flow(interview_flow());
}

/// Sets a `<select>` (or any field) by script, as a person picking an option would.
async fn choose(b: &Browser, css: &str, value: &str) {
    let script = format!(
        "var e = document.querySelector({}); e.value = {}; e.dispatchEvent(new Event('change', {{bubbles: true}})); return e.value;",
        serde_json::to_string(css).unwrap(),
        serde_json::to_string(value).unwrap()
    );
    assert_eq!(
        b.js(&script).await,
        Value::String(value.to_owned()),
        "{css}"
    );
}

async fn interview_flow() {
    const RAIL_ADMIN: &str = "admin@railway.example.jp";
    let app = TestApp::builder()
        .at("2020-02-03T09:00:00+09:00")
        .demo()
        .mfa()
        .build()
        .await;
    let case = app
        .app
        .store
        .case_by_number(2019, 1)
        .await
        .unwrap()
        .unwrap();
    let detection = case.content.sections.detection[0].clone();
    let detection = match detection.find('。') {
        Some(i) => detection[..i + '。'.len_utf8()].to_owned(),
        None => detection,
    };
    let srv = app.serve().await;
    let driver = Driver::start().await;
    let base = srv.base.clone();
    let profiles: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let analyst = driver.browser(profiles[0].path()).await;
    let operator = driver.browser(profiles[1].path()).await;
    analyst.login(&srv, ANALYST).await;
    operator.login(&srv, RAIL_ADMIN).await;
    wait_for_text(&analyst, "トリアージ待ち").await;

    // The centre asks for an interview, with the category's questions due on the 7th.
    analyst
        .goto(&format!("{base}/cases/{}/interviews", case.id))
        .await;
    wait_for_text(&analyst, "ヒアリングの依頼").await;
    analyst
        .type_into("#f-proposed", "2020-02-10 14:00\n令和2年2月12日 10:00")
        .await;
    analyst.type_into("#f-place", "Web会議").await;
    analyst.type_into("#f-due", "2020-02-07").await;
    analyst.click("#interview-send").await;
    wait_for_text(&analyst, "ヒアリングを依頼しました").await;
    let interview = analyst.url().await;
    let path = interview.trim_start_matches(&base).to_owned();
    analyst.screenshot("30-interview-requested").await;

    // The operator's administrator finds it in the inbox and accepts the second date.
    operator.goto(&format!("{base}/interviews")).await;
    wait_for_text(&operator, "要対応").await;
    operator
        .click(&format!("#interview-inbox a[href='{path}']"))
        .await;
    wait_for_text(&operator, "回答を送る").await;
    operator.click("#reply-accepted").await;
    operator.click("#on-2").await;
    operator.type_into("#a-attendees", "システム部 部長").await;
    operator.click("#answer-send").await;
    wait_for_text(&operator, "日程確定").await;

    // Three written answers: the first saved as a draft before it is submitted.
    let first = operator
        .js("return document.querySelector('.answer-form textarea').id;")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    operator
        .type_into(&format!("#{first}"), "下書きの回答")
        .await;
    operator
        .click(&format!("#draft-{}", first.trim_start_matches("answer-")))
        .await;
    wait_for_text(&operator, "下書きを保存しました").await;
    assert_eq!(operator.value(&format!("#{first}")).await, "下書きの回答");
    for n in 1..=3 {
        let id = operator
            .js("return document.querySelector('.answer-form textarea').id;")
            .await
            .as_str()
            .unwrap()
            .to_owned();
        operator
            .type_into(
                &format!("#{id}"),
                &format!("回答{n}: 夜間の警告を朝の点検で確認しました。"),
            )
            .await;
        operator
            .click(&format!("#submit-{}", id.trim_start_matches("answer-")))
            .await;
        // The flash of the answer before is still on the page until this one loads.
        wait_for_js(
            &operator,
            &format!("return document.querySelectorAll('.answer-submitted').length === {n};"),
        )
        .await;
    }
    assert_eq!(
        operator
            .js("return document.querySelectorAll('.answer-submitted').length;")
            .await,
        json!(3)
    );

    // A file from the operator, chosen as a person would (the path typed into the picker).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("障害報告書.pdf");
    std::fs::write(
        &file,
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
    )
    .unwrap();
    let input = operator.find("#f-file").await;
    operator
        .cmd(
            "POST",
            &format!("/element/{input}/value"),
            Some(json!({"text": file.display().to_string()})),
        )
        .await;
    operator.click("#upload-send").await;
    wait_for_text(&operator, "ファイルを受け取りました").await;
    wait_for_text(&operator, "障害報告書.pdf").await;
    operator.screenshot("31-interview-operator").await;

    // The analyst writes the minutes: two statements, each linked to a step.
    analyst.goto(&format!("{base}{path}/minutes")).await;
    wait_for_text(&analyst, "発言").await;
    analyst.type_into("#f-held-at", "2020-02-12 10:00").await;
    analyst.type_into("#s-0-speaker", "システム部 部長").await;
    analyst
        .type_into("#s-0-text", &format!("実は{detection}"))
        .await;
    choose(&analyst, "#s-0-part", "detection").await;
    choose(&analyst, "#s-0-step", "step:1").await;
    analyst.type_into("#s-1-speaker", "システム部 部長").await;
    analyst
        .type_into(
            "#s-1-text",
            "共同利用の事業者とは月に一度、連絡会を開いています。",
        )
        .await;
    choose(&analyst, "#s-1-part", "countermeasures").await;
    choose(&analyst, "#s-1-step", "step:2").await;
    analyst.click("#minutes-save").await;
    wait_for_text(&analyst, "実施済み").await;

    // The operator consents: the first statement is not for publication, the second quotable.
    operator.goto(&format!("{base}{path}")).await;
    wait_for_text(&operator, "発言の利用への同意").await;
    choose(&operator, "#consent-1", "not_for_publication").await;
    choose(&operator, "#consent-2", "quotation").await;
    operator.click("#consent-save").await;
    wait_for_text(&operator, "公表不可").await;

    // The case editor shows each step's statements; the review flags the sentence that rests
    // on the one not for publication.
    analyst
        .goto(&format!("{base}/cases/{}/edit", case.id))
        .await;
    wait_for_text(&analyst, "ヒアリングでの発言").await;
    let beside = analyst
        .js("var a = document.querySelector('#steps-0 aside.sources'); return a ? a.innerText : '';")
        .await;
    assert!(
        beside.as_str().unwrap().contains(&detection),
        "step (1) shows its statement: {beside}"
    );
    analyst
        .goto(&format!("{base}/cases/{}/anonymise", case.id))
        .await;
    let text = wait_for_text(&analyst, "公表不可の発言に由来する記述").await;
    let flagged = analyst
        .js("return document.querySelector('#restricted').innerText;")
        .await;
    assert!(
        flagged.as_str().unwrap().contains(&detection),
        "the flagged sentence: {flagged} in {text}"
    );
    assert!(
        !flagged.as_str().unwrap().contains("連絡会を開いています"),
        "the quotable statement is not flagged: {flagged}"
    );
    analyst.screenshot("32-interview-review-flag").await;
    for b in [&analyst, &operator] {
        b.quit().await;
    }
}
