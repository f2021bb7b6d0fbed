//! `kizuki select` as an analyst runs it on the demo data dir: the JSON proposal, the Japanese
//! text and a rule that cannot hold.

use crate::kizuki;
use kizuki_testkit::{TempDataDir, stderr, stdout};

fn demo() -> TempDataDir {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    d
}

#[test]
fn select_proposes_the_top_three_as_json() {
    let d = demo();
    let o = kizuki(
        &d.path(),
        &["select", "--survey", "2019", "--count", "3", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["fiscal_year"], 2019);
    assert_eq!(v["period_start"], "2019-01-01");
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 7, "the seven demo reports of 2019");
    let totals: Vec<i64> = candidates
        .iter()
        .map(|c| c["total_milli"].as_i64().unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    let harm = candidates[0]["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "actual-harm")
        .unwrap();
    assert_eq!(harm["source"], "computed");
    assert!(!harm["evidence"].as_str().unwrap().is_empty());

    let sel = &v["selection"];
    assert_eq!(sel["optimality"]["status"], "proven");
    let chosen = sel["chosen"].as_array().unwrap();
    let ranks: Vec<i64> = chosen.iter().map(|c| c["rank"].as_i64().unwrap()).collect();
    assert_eq!(ranks, [1, 2, 3], "without rules the top three are chosen");
    let sum: i64 = chosen
        .iter()
        .map(|c| c["total_milli"].as_i64().unwrap())
        .sum();
    assert_eq!(sel["total_milli"].as_i64().unwrap(), sum);
    for c in chosen {
        assert!(c["why"].as_str().unwrap().contains("主な理由"), "{c}");
    }
    let first_out = &sel["left_out"][0];
    assert_eq!(first_out["rank"], 4);
    let kind = first_out["reason"]["kind"].as_str().unwrap();
    assert!(kind == "lower_total" || kind == "tie", "{first_out}");
}

#[test]
fn select_prints_japanese_and_names_a_rule_that_cannot_hold() {
    let d = demo();
    let o = kizuki(
        &d.path(),
        &[
            "select",
            "--survey",
            "令和元年度",
            "--count",
            "3",
            "--min-category",
            "cyber-attack=2",
            "--max-per-sector",
            "1",
            "--min-regions",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("■ 選定（3件"), "{out}");
    assert!(out.contains("「外部からのサイバー攻撃」2件以上"), "{out}");
    assert!(out.contains("最適解"), "{out}");
    assert!(out.contains("■ 選ばれなかった上位の候補"), "{out}");

    let o = kizuki(
        &d.path(),
        &[
            "select",
            "--survey",
            "2019",
            "--count",
            "3",
            "--min-category",
            "internal-incident=1",
        ],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("rules.min_per_category.internal-incident"),
        "{err}"
    );
    let o = kizuki(
        &d.path(),
        &[
            "select",
            "--survey",
            "2019",
            "--min-category",
            "cyber-attack",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("CATEGORY=N"), "{}", stderr(&o));
}

fn score<'a>(candidate: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    candidate["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap()
}

#[test]
fn select_counts_with_the_index_applies_the_2019_ratings_and_saves() {
    let d = demo();
    let o = kizuki(
        &d.path(),
        &["select", "--survey", "2019", "--count", "7", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["similarity"], "全文検索索引（特徴語＋分類の一致）");
    let candidates = v["candidates"].as_array().unwrap();
    // Every reference case carries the analysts' ratings from the 2019 data.
    for c in candidates {
        for key in ["lesson-usefulness", "response-quality"] {
            let s = score(c, key);
            assert_eq!(s["source"], "analyst", "{c}");
            assert!(!s["evidence"].as_str().unwrap().is_empty(), "{s}");
        }
        let similar = score(c, "similar-cases");
        assert_eq!(similar["source"], "computed");
    }
    let emotet = candidates
        .iter()
        .find(|c| c["title"].as_str().unwrap().contains("Emotet"))
        .unwrap();
    assert!(
        score(emotet, "response-quality")["evidence"]
            .as_str()
            .unwrap()
            .contains("続報"),
        "{emotet}"
    );
    assert_eq!(v["selection"]["chosen"].as_array().unwrap().len(), 7);

    let o = kizuki(
        &d.path(),
        &[
            "select",
            "--survey",
            "2019",
            "--count",
            "3",
            "--json",
            "--no-index",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["similarity"], "分類・語句の一致（内蔵）");

    // --save records a draft decision, as the page's 提案 does.
    let save = |d: &TempDataDir| {
        kizuki(
            &d.path(),
            &[
                "select",
                "--survey",
                "2019",
                "--count",
                "3",
                "--save",
                "--as",
                "analyst@centre.example.jp",
            ],
        )
    };
    let o = save(&d);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let id_of = |out: &str| -> i64 {
        let rest = out.split("選定案 ").nth(1).unwrap();
        rest.split('、').next().unwrap().parse().unwrap()
    };
    assert!(out.contains("提案を保存しました"), "{out}");
    let first = id_of(&out);
    let o = save(&d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(id_of(&stdout(&o)), first + 1, "a new draft each time");
    let o = kizuki(&d.path(), &["select", "--survey", "2019", "--save"]);
    assert!(!o.status.success(), "--save needs --as");
    let o = kizuki(
        &d.path(),
        &[
            "select",
            "--survey",
            "2019",
            "--save",
            "--as",
            "nobody@example.jp",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--as"), "{}", stderr(&o));
}
