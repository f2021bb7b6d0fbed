//! Every page of the route table as each role sees it, in Japanese and English, on a desk
//! (1280 px) and on a phone (390 px), in headless Chromium: the page never scrolls sideways,
//! no table cell is narrower than its words, an English page leaves none of its own words in
//! Japanese, and axe-core finds no serious or critical accessibility violation. axe-core comes
//! from npm: `.ci/browser.sh` fetches it and sets `KIZUKI_TEST_AXE` to its `axe.min.js`.
//! Without it, or without Chromium, the test says it was skipped and passes; it takes some
//! five minutes, so the plain `cargo test` does not run it twice.

use crate::browser::{Browser, Driver, run_flow};
use kizuki_testkit::{ANALYST, EDITOR, MINISTRY, RAIL, TestApp, TestServer};
use kizuki_web::routes::{RouteClass, route_table};
use serde_json::json;

const RAIL_ADMIN: &str = "admin@railway.example.jp";
const ADMIN: &str = "admin@centre.example.jp";

/// The pages a person opens: the route table's GET routes that answer HTML.
fn page_paths() -> Vec<&'static str> {
    route_table()
        .into_iter()
        .filter(|r| r.method == "GET" && !r.path.starts_with("/api/"))
        .filter(|r| r.class != RouteClass::LoginStep)
        .map(|r| r.path)
        .filter(|p| {
            !p.starts_with("/static")
                && !matches!(
                    *p,
                    "/healthz" | "/metrics" | "/reports.csv" | "/audit/export"
                )
                && ![
                    ".svg",
                    ".pdf",
                    ".md",
                    "/record.md",
                    "/record.pdf",
                    "/{format}",
                ]
                .iter()
                .any(|end| p.ends_with(end))
                && !p.starts_with("/attachments/")
                && *p != "/public/report.css"
        })
        .collect()
}

/// The ids the paths name: a GREEN report every member reads, the first 2019 case, an
/// interview of it, the railway operator.
struct Ids {
    report: i64,
    case: i64,
    interview: i64,
    org: i64,
}

fn fill(path: &str, ids: &Ids) -> String {
    let id = if path.starts_with("/reports/") {
        ids.report
    } else if path.contains("/interviews/{id}") {
        ids.interview
    } else if path.contains("orgs/{id}") {
        ids.org
    } else {
        ids.case
    };
    path.replace("{id}", &id.to_string())
        .replace("{year}", "2019")
        .replace("{category}", "system-failure")
        .replace("{other}", &ids.report.to_string())
        .replace(
            "{file}",
            if path.starts_with("/public/cases") {
                "2019-1"
            } else {
                "2019"
            },
        )
}

async fn ids(srv: &TestServer, app: &TestApp) -> Ids {
    let rail = app.token(RAIL).await;
    let r = app
        .api(
            "POST",
            "/reports",
            Some(&rail),
            &[],
            Some(&json!({"title": "画面巡回の報告", "sector": "railway",
                         "event_type": "unavailability", "summary": "全画面の確認用。",
                         "tlp": "green", "people_affected": 12000})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let case = app.app.store.list_cases(Some(2019)).await.unwrap()[0].id.0;
    let analyst = app.token(ANALYST).await;
    let iv = app
        .api(
            "POST",
            &format!("/cases/{case}/interviews"),
            Some(&analyst),
            &[],
            Some(&json!({"mode": "online", "proposed": ["2020-02-10 14:00"]})),
        )
        .await;
    assert_eq!(iv.status, 201, "{}", iv.body);
    let _ = srv;
    Ids {
        report: r.json()["id"].as_i64().unwrap(),
        case,
        interview: iv.json()["interview"]["id"].as_i64().unwrap(),
        org: kizuki_app::accounts::org_with_key(&app.app, "demo-railway")
            .await
            .unwrap()
            .unwrap()
            .id
            .0,
    }
}

/// What one page showed that it should not.
#[derive(Debug)]
struct Finding {
    who: &'static str,
    lang: &'static str,
    width: u32,
    path: String,
    what: String,
}

async fn set_width(b: &Browser, width: u32) {
    b.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": width, "height": 900})),
    )
    .await;
}

async fn switch_to_english(b: &Browser, base: &str) {
    b.goto(&format!("{base}/")).await;
    b.js("var f = document.querySelector('form[action=\"/lang\"] button[value=\"en\"]'); if (f) { f.click(); }")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

/// Checks the page on screen: sideways scrolling, table cells too narrow for what they hold,
/// internal codes shown as text, interface text left in Japanese on an English page, and
/// axe-core when it was given.
async fn check(b: &Browser, axe: Option<&str>, english: bool) -> Vec<String> {
    let mut out = Vec::new();
    let cramped = b
        .js("return Array.from(document.querySelectorAll('td, th')).filter(c => c.scrollWidth > c.clientWidth + 1 && getComputedStyle(c.closest('table')).display !== 'block').slice(0, 3).map(c => c.innerText.slice(0, 20));")
        .await;
    if let Some(cells) = cramped.as_array().filter(|a| !a.is_empty()) {
        out.push(format!("cells narrower than their words: {cells:?}"));
    }
    if english {
        // The interface's own words: labels, buttons, headings of tables and fieldsets, the
        // menu, hints — their own text, not what they wrap (names, titles people wrote) and
        // not the language switch (lang=ja). A 和暦 date or a Japanese example beside English
        // words is meant; text that is Japanese through and through is not.
        let japanese = b
            .js("return Array.from(document.querySelectorAll('label, button, th, legend, nav a, .hint')).filter(e => !e.closest('[lang=ja]') && (t => /[\\u3040-\\u30ff\\u4e00-\\u9fff]/.test(t) && !/[A-Za-z]/.test(t))(Array.from(e.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join(''))).slice(0, 4).map(e => e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 40));")
            .await;
        if let Some(items) = japanese.as_array().filter(|a| !a.is_empty()) {
            out.push(format!("untranslated: {items:?}"));
        }
    }
    // Internals a person should never have to read: a field path with an index
    // (`sections.background[0]`), an id as the store writes it (`user:3`), a timestamp in ISO
    // form, a snake_case code. Code the page shows on purpose is in <code> (a token prefix,
    // an audit action beside its phrase) and is left alone, as is what people typed into forms.
    let raw = b
        .js("var re = /[a-z_]+(?:\\.[a-z_]+)*\\[\\d+\\]|\\b(?:user|org|report|case):\\d+\\b|\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d|\\b[a-z]+_[a-z0-9_]+\\b/; var w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); var out = []; var n; while ((n = w.nextNode()) && out.length < 4) { var e = n.parentElement; if (!e || e.closest('code, pre, kbd, samp, textarea, script, style, [hidden]') || !e.offsetParent) continue; var m = n.textContent.match(re); if (m) out.push(e.tagName.toLowerCase() + ': ' + m[0]); } return out;")
        .await;
    if let Some(items) = raw.as_array().filter(|a| !a.is_empty()) {
        out.push(format!("raw codes: {items:?}"));
    }
    let overflow = b
        .js("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    let (scroll, inner) = (
        overflow[0].as_i64().unwrap_or(0),
        overflow[1].as_i64().unwrap_or(0),
    );
    if scroll > inner + 1 {
        // Name the widest elements, so the finding says where to look.
        let culprits = b
            .js("var w = window.innerWidth; return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 4).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '')).join(', ');")
            .await;
        out.push(format!("scrolls sideways: {scroll} > {inner} ({culprits})"));
    }
    if let Some(src) = axe {
        let script = format!(
            "{src}\nvar done = arguments[arguments.length - 1];\naxe.run(document, {{resultTypes: ['violations']}}).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ' (' + v.nodes.length + '): ' + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join(' | ')))).catch(e => done(['axe failed: ' + e]));"
        );
        let v = b
            .cmd(
                "POST",
                "/execute/async",
                Some(json!({"script": script, "args": []})),
            )
            .await;
        for s in v.as_array().into_iter().flatten() {
            out.push(format!("axe: {}", s.as_str().unwrap_or_default()));
        }
    }
    out
}

#[test]
fn every_page_fits_a_phone_and_passes_axe_as_every_role_in_both_languages() {
    run_flow(sweep());
}

async fn sweep() {
    let axe = match kizuki_testkit::env::get(kizuki_testkit::env::Setting::Axe) {
        Some(path) => std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
        None => {
            println!("skipped: the page sweep needs KIZUKI_TEST_AXE (axe.min.js; .ci/browser.sh)");
            return;
        }
    };
    let app = TestApp::demo().await;
    let srv = app.serve().await;
    let ids = ids(&srv, &app).await;
    let driver = Driver::start().await;
    let base = srv.base.clone();
    let paths = page_paths();
    assert!(paths.len() > 30, "{paths:?}");
    let only = kizuki_testkit::env::get(kizuki_testkit::env::Setting::SweepOnly);
    let mut findings = Vec::new();
    let mut visited = 0;
    let roles: [(&str, Option<&str>); 7] = [
        ("public", None),
        ("reporter", Some(RAIL)),
        ("operator_admin", Some(RAIL_ADMIN)),
        ("ministry", Some(MINISTRY)),
        ("analyst", Some(ANALYST)),
        ("editor", Some(EDITOR)),
        ("admin", Some(ADMIN)),
    ];
    for (who, email) in roles {
        if only.as_deref().is_some_and(|o| o != who) {
            continue;
        }
        for lang in ["ja", "en"] {
            let profile = tempfile::tempdir().unwrap();
            let b = driver.browser(profile.path()).await;
            if let Some(e) = email {
                b.login(&srv, e).await;
            }
            if lang == "en" {
                switch_to_english(&b, &base).await;
            }
            for width in [1280, 390] {
                set_width(&b, width).await;
                for p in &paths {
                    let path = fill(p, &ids);
                    b.goto(&format!("{base}{path}")).await;
                    visited += 1;
                    // Accessibility does not depend on the width; axe runs once per page.
                    let axe_here = (width == 1280).then_some(axe.as_str());
                    for what in check(&b, axe_here, lang == "en").await {
                        findings.push(Finding {
                            who,
                            lang,
                            width,
                            path: path.clone(),
                            what,
                        });
                    }
                }
            }
            if who == "analyst" && lang == "ja" {
                set_width(&b, 390).await;
                b.goto(&format!("{base}/reports/{}", ids.report)).await;
                b.screenshot("sweep-390-report").await;
            }
            b.quit().await;
        }
    }
    println!("sweep: {visited} page views, {} findings", findings.len());
    for f in &findings {
        println!(
            "  {} {} {}px {}: {}",
            f.who, f.lang, f.width, f.path, f.what
        );
    }
    assert!(
        findings.is_empty(),
        "{} findings (listed above)",
        findings.len()
    );
}
