//! The 2019 survey rendered as HTML and Markdown: every case title, overview row, section
//! heading, diagram step and response, and common-lesson citation is there, in the reference
//! report's order, and the same input gives the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_annual_report::{
    DiagramLinks, ReportModel, diagram, diagram_files, render_html, render_html_fragment,
    render_markdown, render_markdown_with,
};
use kizuki_domain::case::CaseContent;
use kizuki_domain::survey::SurveyContent;
use kizuki_domain::taxonomy::Taxonomy;
use std::path::PathBuf;

fn load() -> (SurveyContent, Vec<CaseContent>, Taxonomy) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    let data = kizuki_dataset::load_survey_dir(&dir, &tx).unwrap();
    let cases = data.cases.into_iter().map(|c| c.case).collect();
    (data.survey, cases, tx)
}

fn model() -> (ReportModel, SurveyContent, Vec<CaseContent>) {
    let (survey, cases, tx) = load();
    (ReportModel::build(&survey, &cases, &tx), survey, cases)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("missing: {needle}"))
}

/// The part of `doc` from case `n`'s heading to the next case's (or the end).
fn case_chunk<'a>(doc: &'a str, starts: &[String], n: usize) -> &'a str {
    let from = position(doc, &starts[n]);
    let to = starts
        .get(n + 1)
        .map_or(doc.len(), |next| position(doc, next));
    &doc[from..to]
}

#[test]
fn the_model_follows_the_reference_report() {
    let (m, survey, cases) = model();
    assert_eq!(m.fiscal_year_label, "2019年度（令和元年度）");
    assert_eq!(
        m.criteria.period,
        "調査対象期間：2019年1月1日（平成31年1月1日）～2019年12月31日（令和元年12月31日）"
    );
    let main = survey.criteria.iter().filter(|c| c.main).count();
    assert_eq!(m.criteria.main.len(), main);
    assert!(m.criteria.also_considered.starts_with("※その他、"));
    assert!(m.criteria.also_considered.contains("地域性"));

    let groups: Vec<(&str, Vec<u32>)> = m
        .overview
        .groups
        .iter()
        .map(|g| {
            (
                g.label.as_str(),
                g.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                "システム故障に起因した重要インフラサービス障害",
                vec![1, 2, 3, 4]
            ),
            ("外部からのサイバー攻撃", vec![5, 6, 7]),
        ]
    );
    assert_eq!(m.cases.len(), cases.len());
    for c in &m.cases {
        assert_eq!(c.overview.len(), 3, "case {} has three bullets", c.number);
        let headings: Vec<&str> = c.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(
            headings,
            vec![
                "【1 背景】",
                "【2 検知】",
                "【3 対処】",
                "【4 原因】",
                "【5 再発に備えた対策】"
            ]
        );
        assert_eq!(c.lessons_heading, "【6 得られた気付き・教訓】");
    }
    let heads: Vec<&str> = m
        .common_lessons
        .groups
        .iter()
        .map(|g| g.heading.as_str())
        .collect();
    assert_eq!(
        heads,
        vec![
            "システム故障に起因した重要インフラサービス障害の事例（No. 1, 2, 3, 4）から",
            "外部からのサイバー攻撃の事例（No. 5, 6, 7）から",
        ]
    );
}

#[test]
fn html_has_every_title_row_heading_and_citation_in_order() {
    let (m, survey, cases) = model();
    let html = render_html(&m);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<style>"));

    // Reference order: purpose, method, criteria, overview, common lessons, cases.
    let order = [
        "<h3>調査の目的</h3>",
        "<h3>調査の運営</h3>",
        "<h3>調査対象事例の選定基準</h3>",
        "<h2>2019年度 調査対象事例 概要</h2>",
        "<h2>得られた気付き・教訓 概要（各事案に共通する事項）</h2>",
        "<section class=\"kz-case\" id=\"case-1\">",
    ];
    let at: Vec<usize> = order.iter().map(|s| position(&html, s)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");

    for c in &cases {
        let row = format!(
            "<tr><td class=\"kz-no\">{n}</td><td class=\"kz-title\"><a href=\"#case-{n}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            html_escape(&c.title),
            html_escape(&c.impact),
            html_escape(&c.cause),
            n = c.number
        );
        assert!(html.contains(&row), "overview row of case {}", c.number);
    }
    let starts: Vec<String> = cases
        .iter()
        .map(|c| format!("<h2>事例{} {}</h2>", c.number, html_escape(&c.title)))
        .collect();
    for (i, c) in cases.iter().enumerate() {
        let chunk = case_chunk(&html, &starts, i);
        for h in [
            "【1 背景】",
            "【2 検知】",
            "【3 対処】",
            "【4 原因】",
            "【5 再発に備えた対策】",
            "【6 得られた気付き・教訓】",
        ] {
            assert!(
                chunk.contains(&format!("<h3>{h}</h3>")),
                "case {} lacks {h}",
                c.number
            );
        }
        for l in &c.lessons {
            assert!(chunk.contains(&format!("<h4>{}</h4>", html_escape(&l.title))));
        }
        for b in &c.overview {
            assert!(chunk.contains(&format!("<li>{}</li>", html_escape(b))));
        }
        assert!(chunk.contains("<svg "), "case {} has its diagram", c.number);
        assert!(chunk.contains(&format!("data-case=\"{}\"", c.number)));
    }
    for l in &survey.common_lessons {
        let mut cited = l.cases.clone();
        cited.sort_unstable();
        let citation = format!(
            "（事例{}）",
            cited
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let item = format!(
            "<li>{}<span class=\"kz-cite\">{citation}</span></li>",
            html_escape(l.text.trim())
        );
        assert!(html.contains(&item), "common lesson citing {citation}");
    }
    assert!(html.contains("（事例1, 3, 4）"));
}

#[test]
fn the_fragment_is_the_page_body() {
    let (m, _, _) = model();
    let frag = render_html_fragment(&m);
    assert!(frag.starts_with("<article class=\"kz-report\""));
    assert!(!frag.contains("<html"));
    assert!(render_html(&m).contains(&frag));
}

#[test]
fn markdown_has_every_title_row_heading_and_citation() {
    let (m, survey, cases) = model();
    let md = render_markdown(&m);
    for c in &cases {
        let row = format!(
            "| {} | {} | {} | {} |",
            c.number, c.title, c.impact, c.cause
        );
        assert!(md.contains(&row), "overview row of case {}", c.number);
    }
    let starts: Vec<String> = cases
        .iter()
        .map(|c| format!("## 事例{} {}\n", c.number, c.title))
        .collect();
    for (i, c) in cases.iter().enumerate() {
        let chunk = case_chunk(&md, &starts, i);
        for h in [
            "### 【1 背景】",
            "### 【2 検知】",
            "### 【3 対処】",
            "### 【4 原因】",
            "### 【5 再発に備えた対策】",
            "### 【6 得られた気付き・教訓】",
        ] {
            assert!(chunk.contains(h), "case {} lacks {h}", c.number);
        }
        for l in &c.lessons {
            assert!(chunk.contains(&format!("#### {}\n", l.title)));
        }
        assert!(chunk.contains("](data:image/svg+xml;base64,"));
    }
    for l in &survey.common_lessons {
        let first = l.cases.iter().min().unwrap();
        assert!(md.contains(&format!("- {}（事例{first}", l.text.trim())));
    }
    let headings = [
        "### 調査の目的",
        "### 調査の運営",
        "### 調査対象事例の選定基準",
        "## 2019年度 調査対象事例 概要",
        "## 得られた気付き・教訓 概要（各事案に共通する事項）",
        "## 事例1 ",
    ];
    let at: Vec<usize> = headings.iter().map(|s| position(&md, s)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    assert!(md.ends_with('\n') && !md.ends_with("\n\n"));
}

#[test]
fn markdown_can_link_diagrams_as_files() {
    let (m, _, _) = model();
    let md = render_markdown_with(
        &m,
        &DiagramLinks::Files {
            prefix: "diagrams/".into(),
        },
    );
    assert!(md.contains("](diagrams/case-1.svg)"));
    assert!(!md.contains("data:image"));
    let files = diagram_files(&m);
    assert_eq!(files.len(), 7);
    assert_eq!(files[0].0, "case-1.svg");
}

#[test]
fn every_diagram_shows_every_step_and_response() {
    let (_, cases, _) = load();
    for c in &cases {
        let svg = diagram::render_svg(c);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        for s in &c.steps {
            let at = position(
                &svg,
                &format!("<g class=\"kz-step\" data-number=\"{}\">", s.number),
            );
            let label = format!(">({})</text>", s.number);
            assert!(
                svg[at..].contains(&label),
                "case {} step {}",
                c.number,
                s.number
            );
        }
        for s in &c.responses {
            let at = position(
                &svg,
                &format!("<g class=\"kz-response\" data-number=\"{}\">", s.number),
            );
            let label = format!(">対処{}</text>", s.number);
            assert!(
                svg[at..].contains(&label),
                "case {} response {}",
                c.number,
                s.number
            );
        }
        for a in &c.actors {
            assert!(svg.contains(&format!("data-actor=\"{}\"", a.key)));
        }
    }
}

/// A text element of a generated SVG with its estimated box.
#[derive(Debug)]
struct TextBox {
    text: String,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

fn num_attr(tag: &str, name: &str) -> f64 {
    attr(tag, name).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

fn text_boxes(svg: &str) -> Vec<TextBox> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text ") {
        rest = &rest[i..];
        let tag_end = rest.find('>').unwrap();
        let tag = &rest[..tag_end];
        let close = rest.find("</text>").unwrap();
        let content = rest[tag_end + 1..close]
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'");
        let (x, y, size) = (
            num_attr(tag, "x"),
            num_attr(tag, "y"),
            num_attr(tag, "font-size"),
        );
        let w = kizuki_annual_report::text::text_width(&content, size);
        let x0 = match attr(tag, "text-anchor").as_deref() {
            Some("middle") => x - w / 2.0,
            Some("end") => x - w,
            _ => x,
        };
        out.push(TextBox {
            text: content,
            x0,
            y0: y - size * 0.88,
            x1: x0 + w,
            y1: y + size * 0.12,
        });
        rest = &rest[close..];
    }
    out
}

/// Horizontal event arrows (red or blue lines inside a step or response group).
fn event_lines(svg: &str) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<line ") {
        rest = &rest[i..];
        let end = rest.find("/>").unwrap();
        let tag = &rest[..end];
        let colour = attr(tag, "stroke").unwrap_or_default();
        let y1 = num_attr(tag, "y1");
        if (colour == "#c62828" || colour == "#1f5fa8")
            && (y1 - num_attr(tag, "y2")).abs() < 0.01
            && attr(tag, "stroke-dasharray").as_deref() != Some("1 3")
        {
            let (a, b) = (num_attr(tag, "x1"), num_attr(tag, "x2"));
            out.push((a.min(b), a.max(b), y1));
        }
        rest = &rest[end..];
    }
    out
}

fn crowded_case() -> CaseContent {
    use kizuki_domain::case::{Actor, ActorKind, Step};
    let (_, cases, _) = load();
    let mut c = cases[0].clone();
    let actor = |key: &str, label: &str, kind, group: Option<&str>| Actor {
        key: key.into(),
        label: label.into(),
        kind,
        group: group.map(Into::into),
    };
    c.actors = vec![
        actor(
            "op",
            "重要インフラ事業者（本社・情報システム統括本部）",
            ActorKind::Operator,
            None,
        ),
        actor(
            "d1",
            "情報セキュリティ推進部門の担当者",
            ActorKind::Department,
            Some("op"),
        ),
        actor("d2", "CSIRT", ActorKind::Department, Some("op")),
        actor("dc", "データセンター", ActorKind::System, Some("op")),
        actor(
            "s1",
            "基幹業務システム（メインフレーム、Ver.12）",
            ActorKind::System,
            Some("dc"),
        ),
        actor("s2", "バックアップサーバ", ActorKind::System, Some("dc")),
        actor("s3", "監視システム", ActorKind::System, Some("s2")),
        actor("v", "システムベンダA", ActorKind::Vendor, None),
        actor("v1", "保守担当", ActorKind::Department, Some("v")),
        actor("att", "攻撃者", ActorKind::Attacker, None),
        actor(
            "tp",
            "外部の第三者（取引先・利用者・報道機関など）",
            ActorKind::ThirdParty,
            None,
        ),
        actor("po", "警察", ActorKind::ThirdParty, None),
        actor("cu", "顧客", ActorKind::Customer, None),
        actor("st", "店舗", ActorKind::Store, None),
    ];
    let long = "非常に長い説明文がここに入り、折り返しが何度も必要になるような長さの文章であっても、\
                他の文字と重ならず枠からはみ出さないことを確かめる。（Emotet、CMS、DBMS 等を含む）";
    let step = |n: u32, actors: &[&str]| Step {
        number: n,
        text: long.into(),
        actors: actors.iter().map(|a| (*a).to_owned()).collect(),
        time: None,
    };
    c.steps = vec![
        step(1, &["att", "s1", "tp", "cu"]),
        step(2, &["s3"]),
        step(3, &["dc", "op", "st", "unknown"]),
        step(4, &["cu", "att"]),
    ];
    c.responses = (1..=12)
        .map(|n| {
            let all = [
                "d1", "d2", "s1", "s2", "s3", "v", "v1", "po", "tp", "cu", "st", "op",
            ];
            let i = n as usize % all.len();
            step(
                n,
                &[all[i], all[(i + 5) % all.len()], all[(i + 9) % all.len()]],
            )
        })
        .collect();
    c
}

#[test]
fn no_diagram_text_overlaps_or_leaves_the_picture() {
    let (_, mut cases, _) = load();
    cases.push(crowded_case());
    for c in &cases {
        assert_clean_layout(c);
    }
}

/// Every text inside the picture, no two texts overlapping, no arrow through a text.
fn assert_clean_layout(c: &CaseContent) {
    {
        let d = diagram::render(c);
        // To look at them: KIZUKI_DUMP_DIAGRAMS=/some/dir cargo test -p kizuki-annual-report
        if let Some(dir) = kizuki_testkit::env::dump_diagrams_dir() {
            let name = format!("test-case-{}-{}.svg", c.number, c.actors.len());
            std::fs::write(dir.join(name), &d.svg).unwrap();
        }
        let boxes = text_boxes(&d.svg);
        assert!(boxes.len() > c.steps.len() + c.responses.len());
        for b in &boxes {
            assert!(
                b.x0 >= 0.0 && b.y0 >= 0.0 && b.x1 <= d.width && b.y1 <= d.height,
                "case {}: '{}' leaves the picture",
                c.number,
                b.text
            );
        }
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let apart = a.x1 <= b.x0 + 0.5
                    || b.x1 <= a.x0 + 0.5
                    || a.y1 <= b.y0 + 0.5
                    || b.y1 <= a.y0 + 0.5;
                assert!(
                    apart,
                    "case {}: '{}' overlaps '{}'",
                    c.number, a.text, b.text
                );
            }
        }
        for (x0, x1, y) in event_lines(&d.svg) {
            for b in &boxes {
                let crosses =
                    y > b.y0 + 1.0 && y < b.y1 - 1.0 && x1 > b.x0 + 1.0 && x0 < b.x1 - 1.0;
                assert!(
                    !crosses,
                    "case {}: an arrow at y={y} crosses '{}'",
                    c.number, b.text
                );
            }
        }
    }
}

/// The 2019 cases with a time on every step and response, of every shape the survey
/// writes: a clock time, a date, elapsed time, a long relative one.
fn timed_cases() -> Vec<CaseContent> {
    let (_, mut cases, _) = load();
    cases.push(crowded_case());
    let times = [
        "10:30",
        "5月7日 9時",
        "3時間後",
        "1週間前から",
        "令和元年5月7日（火）午前9時30分ごろから",
    ];
    for c in &mut cases {
        for (i, s) in c.steps.iter_mut().chain(c.responses.iter_mut()).enumerate() {
            s.time = Some(times[i % times.len()].to_owned());
        }
    }
    cases
}

/// The part of an SVG that draws one step or response: from its group to the next event's.
fn event_chunk<'a>(svg: &'a str, class: &str, number: u32) -> &'a str {
    let at = position(
        svg,
        &format!("<g class=\"{class}\" data-number=\"{number}\">"),
    );
    let rest = &svg[at + 1..];
    let end = [
        "<g class=\"kz-step\"",
        "<g class=\"kz-response\"",
        "<g class=\"kz-legend\"",
    ]
    .iter()
    .filter_map(|m| rest.find(m))
    .min()
    .unwrap_or(rest.len());
    &svg[at..at + 1 + end]
}

#[test]
fn a_time_shows_beside_its_number_in_the_diagram() {
    let (_, cases, _) = load();
    let mut c = cases[0].clone();
    c.steps[0].time = Some("10:30".into());
    c.responses[1].time = Some("3時間後".into());
    let svg = diagram::render_svg(&c);
    let step = event_chunk(&svg, "kz-step", 1);
    assert!(step.contains(">(1)</text>"), "{step}");
    assert!(step.contains("<g class=\"kz-time\">"), "{step}");
    assert!(step.contains(">10:30</text>"), "{step}");
    let response = event_chunk(&svg, "kz-response", 2);
    assert!(response.contains(">3時間後</text>"), "{response}");
    // Only the events with a time carry one.
    assert_eq!(svg.matches("<g class=\"kz-time\">").count(), 2);
    assert!(!event_chunk(&svg, "kz-step", 2).contains("kz-time"));
    assert!(!event_chunk(&svg, "kz-response", 1).contains("kz-time"));
    // The time sits over its badge: centred on the same x unless the picture's edge is near.
    let time_x = step
        .split("<g class=\"kz-time\"><text x=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap();
    let badge_x = step
        .split("text-anchor=\"middle\" font-weight=\"bold\">(1)</text>")
        .next()
        .and_then(|t| t.rsplit("<text x=\"").next())
        .and_then(|t| t.split('"').next())
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap();
    assert!((time_x - badge_x).abs() < 0.05, "{time_x} vs {badge_x}");
    // Marked-up times are text, never markup.
    c.steps[0].time = Some("<b>9時</b>".into());
    assert!(diagram::render_svg(&c).contains(">&lt;b&gt;9時&lt;/b&gt;</text>"));
}

#[test]
fn timed_diagrams_keep_every_text_apart() {
    for c in &timed_cases() {
        assert_clean_layout(c);
        let svg = diagram::render_svg(c);
        assert_eq!(
            svg.matches("<g class=\"kz-time\">").count(),
            c.steps.len() + c.responses.len(),
            "case {}",
            c.number
        );
    }
}

#[test]
fn times_reach_the_html_and_markdown_reports() {
    let (survey, mut cases, tx) = load();
    let n = cases[2].number;
    cases[2].steps[0].time = Some("5月7日 9時".into());
    cases[2].responses[0].time = Some("1週間前から".into());
    let m = ReportModel::build(&survey, &cases, &tx);
    let starts: Vec<String> = m
        .cases
        .iter()
        .map(|c| format!("<h2>{}</h2>", html_escape(&c.heading)))
        .collect();
    let html = render_html(&m);
    let i = m.cases.iter().position(|c| c.number == n).unwrap();
    let chunk = case_chunk(&html, &starts, i);
    assert!(
        chunk.contains(">5月7日 9時</text>"),
        "the time is in case {n}'s figure"
    );
    assert!(chunk.contains(">1週間前から</text>"));
    assert_eq!(html.matches("<g class=\"kz-time\">").count(), 2);
    // Markdown carries the diagram as a file or a data: URI; either way the time is in it.
    let files = diagram_files(&m);
    let (_, svg) = files
        .iter()
        .find(|(f, _)| *f == format!("case-{n}.svg"))
        .unwrap();
    assert!(svg.contains(">5月7日 9時</text>"));
    let md = render_markdown(&m);
    let data = md
        .split("data:image/svg+xml;base64,")
        .nth(i + 1)
        .and_then(|d| d.split(')').next())
        .unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert!(
        String::from_utf8(decoded)
            .unwrap()
            .contains(">1週間前から</text>")
    );
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let (survey, cases, tx) = load();
    let a = ReportModel::build(&survey, &cases, &tx);
    let mut reversed = cases.clone();
    reversed.reverse();
    let b = ReportModel::build(&survey, &reversed, &tx);
    assert_eq!(render_html(&a), render_html(&b));
    assert_eq!(render_markdown(&a), render_markdown(&b));
    assert_eq!(render_html(&a), render_html(&a));
    assert_eq!(render_markdown(&a), render_markdown(&a));
    for c in &cases {
        assert_eq!(diagram::render_svg(c), diagram::render_svg(c));
    }
}

#[test]
fn text_in_the_data_is_escaped() {
    let (survey, mut cases, tx) = load();
    cases[0].title = "<script>alert('x')</script> & | * _ #".into();
    cases[0].actors[0].label = "A&B <C>".into();
    let m = ReportModel::build(&survey, &cases, &tx);
    let html = render_html(&m);
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;"));
    assert!(m.cases[0].diagram.svg.contains("A&amp;B &lt;C&gt;"));
    let md = render_markdown(&m);
    assert!(md.contains("\\<script\\>alert('x')\\</script\\> & \\| \\* \\_ \\#"));
}

#[test]
fn a_titled_common_lesson_prints_its_title_before_its_text() {
    let (mut survey, cases, tx) = load();
    survey.common_lessons[0].title = "判断権者をあらかじめ決める".into();
    let model = kizuki_annual_report::build_report(&survey, &cases, &tx);
    let md = kizuki_annual_report::render_markdown(&model);
    assert!(
        md.contains("- **判断権者をあらかじめ決める** システム故障が起きたときに"),
        "{md}"
    );
    let html = kizuki_annual_report::render_html(&model);
    assert!(
        html.contains("<strong class=\"kz-lesson-title\">判断権者をあらかじめ決める</strong>"),
        "titled lesson in HTML"
    );
    // The others, untitled as in the reference, read as before.
    assert_eq!(
        md.matches("kz-lesson-title").count() + html.matches("kz-lesson-title").count(),
        1
    );
}

#[test]
fn diagram_type_prints_at_eight_points_or_more() {
    let (_, cases, _) = load();
    assert!(
        (diagram::MIN_FONT - 16.2).abs() < 0.1,
        "{}",
        diagram::MIN_FONT
    );
    for case in &cases {
        let svg = diagram::render_svg(case);
        let sizes: Vec<f64> = svg
            .split("font-size=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(!sizes.is_empty());
        let smallest = sizes.iter().copied().fold(f64::MAX, f64::min);
        assert!(
            smallest >= diagram::MIN_FONT,
            "case {}: {smallest} units is under 8 pt at {} mm",
            case.number,
            diagram::PRINT_WIDTH_MM
        );
    }
}

fn is_katakana_letter(c: char) -> bool {
    matches!(c, '\u{30a1}'..='\u{30fa}' | 'ー')
}

/// Consecutive text lines of one box in a diagram, in order.
fn grouped_lines(svg: &str, class: &str) -> Vec<Vec<String>> {
    let open = format!("<g class=\"{class}");
    svg.split(&open)
        .skip(1)
        .map(|chunk| {
            let end = chunk.find("</g>").unwrap_or(chunk.len());
            text_boxes(&chunk[..end])
                .into_iter()
                .map(|b| b.text)
                .collect()
        })
        .collect()
}

#[test]
fn diagram_labels_never_break_inside_a_word() {
    // The crowded case has more actors than fit across a page at a readable size: there a word
    // breaks rather than the type shrinking below 8 pt, as `no_text_is_smaller…` requires.
    let (_, cases, _) = load();
    let mut broken = Vec::new();
    for c in &cases {
        let svg = diagram::render_svg(c);
        for class in ["kz-actor", "kz-step", "kz-response"] {
            for lines in grouped_lines(&svg, class) {
                for pair in lines.windows(2) {
                    let (a, b) = (pair[0].chars().last(), pair[1].chars().next());
                    let (Some(a), Some(b)) = (a, b) else { continue };
                    let split = (is_katakana_letter(a) && is_katakana_letter(b))
                        || (a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric());
                    if split {
                        broken.push(format!("case {}: 「{}/{}」", c.number, pair[0], pair[1]));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "words broken across lines: {broken:#?}");
}

/// The boxes of an event's callouts and badges, as (top, bottom).
fn event_rects(svg: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for class in ["kz-step", "kz-response"] {
        for chunk in svg.split(&format!("<g class=\"{class}\"")).skip(1) {
            for rect in chunk.split("<rect ").skip(1) {
                let tag = rect.split('>').next().unwrap_or_default();
                let y = num_attr(tag, "y");
                out.push((y, y + num_attr(tag, "height")));
            }
        }
    }
    out
}

#[test]
fn a_diagram_may_be_cut_between_rows_without_cutting_text() {
    let (_, mut cases, _) = load();
    cases.push(crowded_case());
    for c in &cases {
        let d = diagram::render(c);
        let rows = c.steps.len() + c.responses.len();
        assert!(d.cuts.len() > rows, "case {}: {:?}", c.number, d.cuts);
        assert!(d.cuts.windows(2).all(|w| w[0] < w[1]), "{:?}", d.cuts);
        assert!(d.cuts.iter().all(|y| *y > 0.0 && *y < d.height));
        let texts = text_boxes(&d.svg).into_iter().map(|b| (b.y0, b.y1, b.text));
        let rects = event_rects(&d.svg)
            .into_iter()
            .map(|(a, b)| (a, b, "a callout or badge".to_owned()));
        for (top, bottom, what) in texts.chain(rects) {
            for y in &d.cuts {
                assert!(
                    !(top + 0.5 < *y && *y < bottom - 0.5),
                    "case {}: the cut at {y} crosses {what} ({top}–{bottom})",
                    c.number
                );
            }
        }
    }
}
