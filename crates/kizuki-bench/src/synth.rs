//! A deterministic synthetic corpus of incident reports for scale tests and benchmarks:
//! Japanese (about one in ten in English) reports across every sector, event type and
//! cause of the taxonomy, assembled from sector-specific systems and services, cause-
//! specific narratives, detection and response phrasings, numbers, places and a long tail
//! of rarer terms (malware families, CVEs, 閏秒…), so that term frequencies look like real
//! text rather than one sentence repeated.
//!
//! Report `i` of seed `s` depends only on `(s, i)`, so a corpus can be regenerated in
//! pieces (the benchmark streams it three times instead of holding a million reports).

use chrono::{DateTime, Duration, TimeZone, Utc};
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::report::{
    Impact, Report, ReportDetails, ReportStatus, Stage, StageKind, SystemRef,
};
use kizuki_domain::taxonomy::{Code, Severity, Taxonomy, Tlp, Vocabulary};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// Synthetic operators per sector.
pub const ORGS_PER_SECTOR: usize = 12;

/// One generated report, before it has an id.
#[derive(Debug, Clone)]
pub struct SynthReport {
    /// Index into [`Synth::orgs`].
    pub org: usize,
    pub details: ReportDetails,
    pub reported_at: DateTime<Utc>,
    /// The 第一報 first, then any 続報 / 最終報.
    pub stages: Vec<(StageKind, DateTime<Utc>, String)>,
}

/// A synthetic operator: its key and name, and its sector code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOrg {
    pub key: String,
    pub name: String,
    pub sector: String,
}

/// The generator for one seed and taxonomy.
#[derive(Debug, Clone)]
pub struct Synth {
    seed: u64,
    sectors: Vec<String>,
    event_types: Vec<String>,
    causes: Vec<String>,
    regions: Vec<String>,
    orgs: Vec<SynthOrg>,
}

fn mix(seed: u64, i: u64) -> u64 {
    // splitmix64 of the pair, so neighbouring reports get unrelated streams.
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Synth {
    pub fn new(seed: u64, tx: &Taxonomy) -> Synth {
        let codes =
            |v: Vocabulary| -> Vec<String> { tx.terms(v).iter().map(|t| t.code.clone()).collect() };
        let sectors = codes(Vocabulary::Sector);
        let mut orgs = Vec::new();
        for s in &sectors {
            let label = tx.label(Vocabulary::Sector, s, kizuki_domain::taxonomy::Lang::Ja);
            let short = label.split('（').next().unwrap_or(label);
            for n in 1..=ORGS_PER_SECTOR {
                orgs.push(SynthOrg {
                    key: format!("gen-{s}-{n}"),
                    name: format!("{}{short}事業者{n}", pick_prefix(n)),
                    sector: s.clone(),
                });
            }
        }
        Synth {
            seed,
            sectors,
            event_types: codes(Vocabulary::EventType),
            causes: codes(Vocabulary::Cause),
            regions: codes(Vocabulary::Region),
            orgs,
        }
    }

    pub fn orgs(&self) -> &[SynthOrg] {
        &self.orgs
    }

    /// Report number `i` (0-based) of this corpus.
    pub fn report(&self, i: u64) -> SynthReport {
        let mut rng = StdRng::seed_from_u64(mix(self.seed, i));
        let sector_ix = rng.random_range(0..self.sectors.len().max(1));
        let sector = self.sectors.get(sector_ix).cloned().unwrap_or_default();
        let org = sector_ix * ORGS_PER_SECTOR + rng.random_range(0..ORGS_PER_SECTOR);
        let cause = self
            .causes
            .choose(&mut rng)
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let mut causes = vec![cause.clone()];
        if rng.random_bool(0.3)
            && let Some(c2) = self.causes.choose(&mut rng)
            && *c2 != cause
        {
            causes.push(c2.clone());
        }
        let event_type = event_for(&cause, &self.event_types, &mut rng);
        let english = rng.random_bool(0.1);
        let v = sector_vocab(&sector);
        let system = (*v.systems.choose(&mut rng).unwrap_or(&"業務システム")).to_owned();
        let service = (*v.services.choose(&mut rng).unwrap_or(&"サービス")).to_owned();
        let vendor = (*VENDORS.choose(&mut rng).unwrap_or(&"東和システム")).to_owned();
        let shared = rng.random_bool(0.15);
        let system_name = if shared {
            format!("共同利用型{system}")
        } else {
            system.clone()
        };
        let start = Utc
            .with_ymd_and_hms(2015, 4, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let reported_at = start + Duration::minutes(rng.random_range(0..(10 * 365 * 24 * 60)));
        let detected_at = reported_at - Duration::minutes(rng.random_range(30..(3 * 24 * 60)));
        let occurred_at = detected_at - Duration::minutes(rng.random_range(0..(24 * 60)));
        let people: u64 = match rng.random_range(0..4) {
            0 => 0,
            1 => rng.random_range(1..100),
            2 => rng.random_range(100..10_000),
            _ => rng.random_range(10_000..2_000_000),
        };
        let minutes: u64 = rng.random_range(5..(72 * 60));
        let rare = rare_term(&mut rng);
        let ctx = Ctx {
            system: &system_name,
            service: &service,
            vendor: &vendor,
            people,
            minutes,
            place: PLACES.choose(&mut rng).copied().unwrap_or("本社"),
            rare: rare.as_deref(),
        };
        let (title, summary, follow) = if english {
            english_text(&cause, &event_type, &ctx, &mut rng)
        } else {
            japanese_text(&cause, &event_type, &ctx, &mut rng)
        };
        let tlp = match rng.random_range(0..100) {
            0..10 => Tlp::Clear,
            10..50 => Tlp::Green,
            50..85 => Tlp::Amber,
            85..95 => Tlp::AmberStrict,
            _ => Tlp::Red,
        };
        let severity = Severity::new(match rng.random_range(0..100) {
            0..30 => 0,
            30..65 => 1,
            65..85 => 2,
            85..96 => 3,
            _ => 4,
        })
        .ok();
        let mut stages = vec![(StageKind::First, reported_at, summary.clone())];
        if let Some(f) = follow {
            stages.push((
                StageKind::FollowUp,
                reported_at + Duration::hours(rng.random_range(6..72)),
                f,
            ));
        }
        if rng.random_bool(0.3) {
            let fin = if english {
                "Final report: recovery confirmed and countermeasures in place.".to_owned()
            } else {
                (*FINALS
                    .choose(&mut rng)
                    .unwrap_or(&"最終報：復旧を確認した。"))
                .to_owned()
            };
            stages.push((
                StageKind::Final,
                reported_at + Duration::days(rng.random_range(5..30)),
                fin,
            ));
        }
        let region = self.regions.choose(&mut rng).map(|r| Code(r.clone()));
        SynthReport {
            org,
            details: ReportDetails {
                title,
                sector: Code(sector),
                region,
                affected_service: service.clone(),
                occurred_at: Some(occurred_at),
                detected_at: Some(detected_at),
                event_type: Code(event_type),
                causes: causes.into_iter().map(Code).collect(),
                severity,
                impact: Impact {
                    people_affected: (people > 0).then_some(people),
                    duration_minutes: Some(minutes),
                    actual_harm: people > 0 && rng.random_bool(0.6),
                    description: String::new(),
                },
                systems: vec![SystemRef {
                    name: system_name,
                    vendor: Some(vendor.clone()),
                    shared,
                }],
                vendors: vec![vendor],
                tlp,
                summary,
            },
            reported_at,
            stages,
        }
    }

    /// Report `i` as a stored report would look with id `i + 1` and its organisation
    /// numbered from `org_base` (for indexing without a database).
    pub fn stored_report(&self, i: u64, org_base: i64) -> Report {
        let s = self.report(i);
        Report {
            id: ReportId(i64::try_from(i).unwrap_or(i64::MAX) + 1),
            version: 1,
            org_id: OrgId(org_base + i64::try_from(s.org).unwrap_or(0)),
            status: ReportStatus::New,
            reported_at: s.reported_at,
            updated_at: s.reported_at,
            details: s.details,
            stages: s
                .stages
                .into_iter()
                .enumerate()
                .map(|(n, (kind, at, text))| Stage {
                    seq: u32::try_from(n + 1).unwrap_or(u32::MAX),
                    kind,
                    at,
                    text,
                    author: None,
                })
                .collect(),
            case_id: None,
        }
    }
}

fn pick_prefix(n: usize) -> &'static str {
    const P: [&str; 12] = [
        "東日本",
        "西日本",
        "北陸",
        "中央",
        "南海",
        "東海",
        "瀬戸内",
        "北斗",
        "太平洋",
        "関東",
        "九州",
        "みなと",
    ];
    P[(n - 1) % P.len()]
}

struct Ctx<'a> {
    system: &'a str,
    service: &'a str,
    vendor: &'a str,
    people: u64,
    minutes: u64,
    place: &'a str,
    rare: Option<&'a str>,
}

fn event_for(cause: &str, events: &[String], rng: &mut StdRng) -> String {
    let likely: &[&str] = match cause {
        "suspicious-mail" | "suspicious-file" => &["malware", "code-execution", "leak"],
        "suspicious-site" => &["malware", "leak", "precursor"],
        "impersonation" | "unauthorised-acquisition" => &["intrusion", "leak"],
        "ddos" => &["unavailability"],
        "insider" => &["leak", "destruction"],
        "user-error" | "user-mismanagement" => &["leak", "destruction", "unavailability"],
        "equipment-failure" | "spillover" | "disaster" => &["unavailability", "destruction"],
        "vulnerability" => &["intrusion", "code-execution", "unavailability"],
        "contractor-mismanagement" | "operation-not-done" => {
            &["unavailability", "leak", "intrusion"]
        }
        _ => &["other"],
    };
    // Mostly the likely kind; sometimes a 予兆 (caught before harm) or anything at all.
    let r: f64 = rng.random();
    let pick = if r < 0.12 {
        "precursor".to_owned()
    } else if r < 0.2 {
        events
            .choose(rng)
            .cloned()
            .unwrap_or_else(|| "other".into())
    } else {
        likely.choose(rng).copied().unwrap_or("other").to_owned()
    };
    if events.contains(&pick) {
        pick
    } else {
        events.first().cloned().unwrap_or(pick)
    }
}

/// A long tail of rarer terms: most reports have none, a few name a malware family, a CVE
/// or an unusual event.
fn rare_term(rng: &mut StdRng) -> Option<String> {
    let r: f64 = rng.random();
    if r < 0.7 {
        return None;
    }
    const COMMON: [&str; 6] = [
        "Emotet",
        "Qakbot",
        "IcedID",
        "AgentTesla",
        "Mirai",
        "LockBit",
    ];
    const RARER: [&str; 8] = [
        "BlackCat",
        "Conti",
        "Cobalt Strike",
        "Log4Shell",
        "ProxyLogon",
        "閏秒",
        "改元",
        "Y2K38",
    ];
    if r < 0.93 {
        COMMON.choose(rng).map(|s| (*s).to_owned())
    } else if r < 0.995 {
        RARER.choose(rng).map(|s| (*s).to_owned())
    } else {
        Some(format!(
            "CVE-20{}-{}",
            rng.random_range(15..25),
            rng.random_range(1000..50000)
        ))
    }
}

const VENDORS: [&str; 16] = [
    "東和システム",
    "北斗ソリューションズ",
    "日本データ技研",
    "さくら情報サービス",
    "中央計算センター",
    "みらいネットワークス",
    "大和テクノロジー",
    "関西システム開発",
    "Contoso",
    "Fabrikam",
    "Northwind Traders",
    "光和通信工業",
    "瑞穂エンジニアリング",
    "青葉ソフトウェア",
    "山城電子",
    "Tailspin",
];

const PLACES: [&str; 14] = [
    "本社",
    "データセンター",
    "第二データセンター",
    "東京支社",
    "大阪支社",
    "運用センター",
    "指令所",
    "制御室",
    "コールセンター",
    "営業所",
    "物流拠点",
    "監視センター",
    "バックアップセンター",
    "クラウド環境",
];

const FINALS: [&str; 6] = [
    "最終報：全システムの復旧を確認し、再発防止策の実施計画を策定した。",
    "最終報：原因の特定を完了し、監視項目を追加した。関係機関への報告も済んでいる。",
    "最終報：影響を受けた利用者への連絡と補償の手続きを終えた。",
    "最終報：委託先と合同で振り返りを行い、手順書を改訂した。",
    "最終報：フォレンジック調査の結果、情報の外部流出は確認されなかった。",
    "最終報：類似の設定が他のシステムにないことを点検で確認した。",
];

struct SectorVocab {
    systems: &'static [&'static str],
    services: &'static [&'static str],
}

fn sector_vocab(sector: &str) -> SectorVocab {
    match sector {
        "telecom" => SectorVocab {
            systems: &[
                "DNSサーバ",
                "認証基盤",
                "メールサーバ",
                "交換機",
                "顧客管理システム",
                "ネットワーク監視装置",
            ],
            services: &[
                "固定電話サービス",
                "インターネット接続サービス",
                "携帯電話の音声通話",
                "メールサービス",
                "データセンター接続",
            ],
        },
        "finance" => SectorVocab {
            systems: &[
                "勘定系システム",
                "インターネットバンキング",
                "ATM監視システム",
                "外為システム",
                "営業店端末",
                "決済ネットワーク",
            ],
            services: &[
                "ATMでの入出金",
                "振込サービス",
                "口座開設の受付",
                "窓口業務",
                "スマートフォンアプリ",
            ],
        },
        "aviation" => SectorVocab {
            systems: &[
                "予約発券システム",
                "運航管理システム",
                "搭乗手続きシステム",
                "整備記録システム",
                "貨物管理システム",
            ],
            services: &[
                "搭乗手続き",
                "航空券の予約",
                "国内線の運航",
                "手荷物の受託",
                "マイレージサービス",
            ],
        },
        "airport" => SectorVocab {
            systems: &[
                "手荷物搬送システム",
                "フライト情報表示装置",
                "保安検査システム",
                "駐車場管理システム",
                "ターミナル空調制御",
            ],
            services: &[
                "出発ロビーの案内表示",
                "手荷物の搬送",
                "保安検査",
                "空港駐車場",
                "ターミナルの入館",
            ],
        },
        "railway" => SectorVocab {
            systems: &[
                "運行管理システム",
                "座席予約システム",
                "自動改札機",
                "信号制御装置",
                "列車無線",
                "旅客案内表示装置",
            ],
            services: &[
                "列車の運行",
                "指定席の予約",
                "駅の改札",
                "運行情報の提供",
                "ICカード乗車券",
            ],
        },
        "electricity" => SectorVocab {
            systems: &[
                "需給管理システム",
                "変電所監視制御システム",
                "スマートメーター",
                "配電自動化システム",
                "発電所制御システム",
            ],
            services: &[
                "電力の供給",
                "検針業務",
                "料金の請求",
                "停電情報の提供",
                "託送業務",
            ],
        },
        "gas" => SectorVocab {
            systems: &[
                "ガス供給監視システム",
                "遠隔検針システム",
                "製造所制御システム",
                "保安指令システム",
                "顧客受付システム",
            ],
            services: &[
                "都市ガスの供給",
                "開栓受付",
                "検針業務",
                "保安点検の予約",
                "料金の請求",
            ],
        },
        "government" => SectorVocab {
            systems: &[
                "住民情報システム",
                "電子申請システム",
                "税務システム",
                "共通基盤システム",
                "庁内ネットワーク",
                "ホームページ管理システム",
            ],
            services: &[
                "住民票の発行",
                "電子申請の受付",
                "窓口業務",
                "税の証明書発行",
                "広報ページ",
            ],
        },
        "medical" => SectorVocab {
            systems: &[
                "電子カルテシステム",
                "医事会計システム",
                "検査部門システム",
                "画像診断システム",
                "予約システム",
            ],
            services: &[
                "外来診療",
                "救急の受け入れ",
                "検査の実施",
                "会計業務",
                "オンライン診療予約",
            ],
        },
        "water" => SectorVocab {
            systems: &[
                "浄水場監視制御システム",
                "配水管理システム",
                "水質監視装置",
                "料金システム",
                "ポンプ場遠隔監視",
            ],
            services: &[
                "水道水の供給",
                "水質の監視",
                "料金の収納",
                "漏水の受付",
                "給水車の手配",
            ],
        },
        "logistics" => SectorVocab {
            systems: &[
                "配送管理システム",
                "倉庫管理システム",
                "業務スケジュール管理システム",
                "荷物追跡システム",
                "車両運行管理",
            ],
            services: &[
                "宅配便の配達",
                "荷物の追跡",
                "集荷の受付",
                "倉庫からの出荷",
                "再配達の受付",
            ],
        },
        "chemical" => SectorVocab {
            systems: &[
                "プラント制御システム",
                "安全計装システム",
                "生産管理システム",
                "出荷管理システム",
                "DCS",
            ],
            services: &[
                "製品の製造",
                "製品の出荷",
                "原料の受け入れ",
                "プラントの運転",
                "品質検査",
            ],
        },
        "credit" => SectorVocab {
            systems: &[
                "オーソリゼーションシステム",
                "決済代行システム",
                "会員サイト",
                "不正検知システム",
                "加盟店端末",
            ],
            services: &[
                "カード決済",
                "会員サイトへのログイン",
                "利用明細の照会",
                "加盟店での支払い",
                "キャッシング",
            ],
        },
        "petroleum" => SectorVocab {
            systems: &[
                "出荷管理システム",
                "製油所制御システム",
                "タンク監視システム",
                "受発注システム",
                "ローリー配車システム",
            ],
            services: &[
                "石油製品の出荷",
                "製油所の操業",
                "給油所への配送",
                "受注業務",
                "タンクの在庫管理",
            ],
        },
        "port" => SectorVocab {
            systems: &[
                "ターミナル運営システム",
                "コンテナ管理システム",
                "荷役機械制御",
                "ゲート管理システム",
                "港湾物流情報システム",
            ],
            services: &[
                "コンテナの搬出入",
                "荷役作業",
                "ゲートの受付",
                "本船の荷役",
                "貨物情報の照会",
            ],
        },
        _ => SectorVocab {
            systems: &[
                "業務システム",
                "基幹システム",
                "社内ネットワーク",
                "顧客管理システム",
            ],
            services: &["主要サービス", "窓口業務", "顧客対応"],
        },
    }
}

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs.choose(rng).copied().unwrap_or("")
}

fn fill(t: &str, c: &Ctx<'_>) -> String {
    t.replace("{system}", c.system)
        .replace("{service}", c.service)
        .replace("{vendor}", c.vendor)
        .replace("{place}", c.place)
        .replace("{people}", &c.people.to_string())
        .replace("{minutes}", &c.minutes.to_string())
        .replace("{hours}", &(c.minutes / 60).max(1).to_string())
        .replace("{rare}", c.rare.unwrap_or("不明"))
}

/// (title, first report, follow-up) in Japanese.
fn japanese_text(
    cause: &str,
    event: &str,
    c: &Ctx<'_>,
    rng: &mut StdRng,
) -> (String, String, Option<String>) {
    let (titles, what): (&[&str], &[&str]) = match cause {
        "suspicious-mail" => (
            &[
                "不審メールの添付ファイル開封による端末の{rare}感染",
                "取引先を装った不審メールの受信",
                "標的型メールによる{system}利用端末の感染",
            ],
            &[
                "取引先を装ったメールの添付ファイル（マクロ付きの文書）を職員が開封し、端末がマルウェアに感染した。",
                "件名に請求書と記載された不審メールが複数の職員宛てに届き、一部の職員が本文中のリンクを開いた。",
                "過去のメールのやり取りを引用した返信型の不審メールを受信し、添付のZIPファイルを展開した端末で不審な通信が発生した。",
            ],
        ),
        "impersonation" => (
            &[
                "{system}への不正ログイン",
                "管理者アカウントへのなりすましログイン",
                "利用者IDの不正利用による{service}の不正操作",
            ],
            &[
                "海外のIPアドレスから{system}の管理者アカウントに不正ログインが行われた。",
                "窃取されたとみられるIDとパスワードで{system}にログインされ、設定が変更された。",
                "パスワードリスト攻撃により複数の利用者アカウントへのログイン試行が行われ、一部で成功した。",
            ],
        ),
        "ddos" => (
            &[
                "DDoS攻撃による{service}の停止",
                "大量アクセスによる{system}の応答遅延",
                "{service}のWebサイトへのDDoS攻撃",
            ],
            &[
                "特定のIPアドレス群から{system}に大量の通信が送られ、{service}が利用しにくくなった。",
                "ボットネットからとみられる大量のアクセスが集中し、Webサイトが断続的に閲覧できなくなった。",
                "通常の数百倍の通信量が観測され、回線事業者と連携して通信の遮断を行った。",
            ],
        ),
        "unauthorised-acquisition" => (
            &[
                "{system}からの情報の不正取得",
                "顧客情報の不正な持ち出しの疑い",
                "Webサイトの脆弱性を突いた情報の窃取",
            ],
            &[
                "{system}のデータベースから顧客情報が外部に送信された形跡が見つかった。",
                "外部からの不正な要求により、会員情報の一部が閲覧された可能性がある。",
                "ログの確認で、通常とは異なる大量のデータ取得が深夜に行われていたことが判明した。",
            ],
        ),
        "insider" => (
            &[
                "元職員による情報の持ち出し",
                "委託先社員による不正操作",
                "内部不正による顧客データの流出",
            ],
            &[
                "退職予定の職員が業務上不要な顧客データを私物の記録媒体に複製していた。",
                "権限を持つ委託先社員が業務時間外に{system}の設定を不正に変更していた。",
                "内部監査で、職員が権限を越えて顧客情報を閲覧していたことが判明した。",
            ],
        ),
        "operation-not-done" => (
            &[
                "修正プログラム未適用による{system}の障害",
                "証明書の期限切れによる{service}の停止",
                "バックアップ未取得によるデータ復旧の遅延",
            ],
            &[
                "既知の不具合に対する修正プログラムが適用されておらず、{system}が停止した。",
                "サーバ証明書の有効期限が切れ、利用者が{service}に接続できなくなった。",
                "定期的なバックアップが取得されておらず、障害時のデータ復旧に時間を要した。",
            ],
        ),
        "user-error" => (
            &[
                "設定変更の誤りによる{service}の停止",
                "誤送信による個人情報の漏えい",
                "作業手順の誤りによる{system}のデータ削除",
            ],
            &[
                "作業者が設定変更の手順を誤り、{system}が停止した。",
                "メールの宛先を誤り、利用者の個人情報を含むファイルを外部に送信した。",
                "本番環境と検証環境を取り違え、{system}のデータを削除した。",
            ],
        ),
        "user-mismanagement" => (
            &[
                "記録媒体の紛失",
                "アクセス権限の設定不備による情報の閲覧",
                "共有フォルダの公開設定の誤り",
            ],
            &[
                "顧客情報を含むUSBメモリを移動中に紛失した。",
                "退職者のアカウントが削除されておらず、外部から{system}にアクセスできる状態だった。",
                "共有フォルダが誤って外部公開されており、内部資料が閲覧可能な状態になっていた。",
            ],
        ),
        "suspicious-file" => (
            &[
                "不審なファイルの実行による{rare}感染",
                "偽の請求書ファイルを開いたことによる感染",
                "不正なマクロの実行による端末の暗号化",
            ],
            &[
                "業務メールに添付された実行ファイルを開いたことで、端末のファイルが暗号化された。",
                "偽装されたショートカットファイルを実行し、不正なプログラムが起動した。",
                "マクロを有効にしたことで不正なスクリプトが実行され、社内ネットワークに感染が広がった。",
            ],
        ),
        "suspicious-site" => (
            &[
                "改ざんされたWebサイトの閲覧による感染",
                "フィッシングサイトへの認証情報の入力",
                "偽のサポート詐欺画面の表示",
            ],
            &[
                "職員が業務で閲覧したWebサイトが改ざんされており、不正なプログラムがダウンロードされた。",
                "金融機関を装ったフィッシングサイトに職員がIDとパスワードを入力した。",
                "Web閲覧中に偽の警告画面が表示され、遠隔操作ソフトをインストールさせられた。",
            ],
        ),
        "contractor-mismanagement" => (
            &[
                "委託先の作業ミスによる{system}の停止",
                "委託先の管理不備による情報漏えい",
                "委託先が運用する共同利用型システムの障害",
            ],
            &[
                "システムベンダの作業者が手順書にない操作を行い、{system}が停止した。",
                "委託先が保管していた作業用データが外部から閲覧可能な状態になっていた。",
                "委託先の運用するシステムでリソースが枯渇し、複数の事業者の{service}が止まった。",
            ],
        ),
        "equipment-failure" => (
            &[
                "{system}のハードウェア故障による{service}の停止",
                "ディスク障害によるデータベースの破損",
                "ネットワーク機器の故障による通信断",
            ],
            &[
                "{system}のサーバでディスクが故障し、冗長化されていた待機系への切り替えにも失敗した。",
                "ストレージ装置の障害でデータベースファイルが破損し、{service}が利用できなくなった。",
                "基幹ネットワークのスイッチが故障し、{place}との通信が途絶した。",
            ],
        ),
        "vulnerability" => (
            &[
                "{system}の脆弱性を突いた不正アクセス",
                "ソフトウェアの不具合による{service}の障害",
                "VPN装置の脆弱性の悪用",
            ],
            &[
                "{system}で使用しているソフトウェアの脆弱性が悪用され、不正なプログラムが設置された。",
                "プログラムの不具合により、特定の条件で{system}が処理を停止した。",
                "修正済みの脆弱性を持つVPN装置が狙われ、認証情報が窃取された。",
            ],
        ),
        "spillover" => (
            &[
                "通信障害の波及による{service}の停止",
                "停電による{system}の停止",
                "クラウドサービスの障害による業務停止",
            ],
            &[
                "通信事業者の広域障害の影響で、{system}と{place}の間の通信ができなくなった。",
                "電力会社の設備故障による停電が発生し、非常用発電機への切り替えまでの間{system}が停止した。",
                "利用しているクラウドサービスで大規模な障害が発生し、{service}が提供できなくなった。",
            ],
        ),
        "disaster" => (
            &[
                "地震による{system}の停止",
                "大雨による{place}の浸水",
                "台風に伴う停電による{service}の停止",
            ],
            &[
                "地震の揺れで{place}のサーバラックが損傷し、{system}が停止した。",
                "記録的な大雨で{place}が浸水し、設備の一部が使用できなくなった。",
                "台風による停電と回線断が重なり、{service}を一時停止した。",
            ],
        ),
        _ => (
            &[
                "{system}の原因不明の停止",
                "{service}の一時的な停止",
                "{system}の動作異常",
            ],
            &[
                "{system}が突然停止した。原因は調査中である。",
                "{service}で断続的にエラーが発生している。",
                "{system}で処理の遅延が発生し、原因を調べている。",
            ],
        ),
    };
    let detect = [
        "監視システムのアラートで異常を検知した。",
        "利用者からの問い合わせで事象が判明した。",
        "{vendor}のコールセンターから連絡を受けて確認した。",
        "夜間の定期点検で担当者が異常に気付いた。",
        "セキュリティ監視サービス（SOC）からの通報により把握した。",
        "所管省庁からの情報提供を受けて調査を始めた。",
        "取引先から不審なメールが届いているとの連絡があった。",
    ];
    let impact = [
        "約{people}人の利用者に影響が出た。",
        "{service}が約{hours}時間にわたり利用できなかった。",
        "影響は{place}に限られ、利用者への影響はなかった。",
        "約{minutes}分間、{service}の一部が停止した。",
        "現時点で利用者への実害は確認されていない。",
    ];
    let response: &[&str] = match event {
        "malware" | "code-execution" => &[
            "該当する端末をネットワークから切り離し、全端末のウイルススキャンを実施した。",
            "通信の遮断とログの保全を行い、フォレンジック調査を依頼した。",
            "感染端末を初期化し、不審な通信先をプロキシで遮断した。",
            "緊急対策本部を設置し、経営層に報告した。",
        ],
        "unavailability" | "destruction" => &[
            "待機系への切り替えを行い、{service}を再開した。",
            "{vendor}と協議のうえ、暫定対処として手作業での運用に切り替えた。",
            "ホームページで利用者に周知し、問い合わせ窓口を設けた。",
            "前日のバックアップからデータを復元し、差分を手作業で補った。",
        ],
        "leak" | "intrusion" => &[
            "パスワードを変更し、多要素認証を導入した。",
            "所管省庁と警察に届け出た。",
            "影響を受けた可能性のある利用者に個別に連絡した。",
            "通信の遮断とログの保全を行い、フォレンジック調査を依頼した。",
        ],
        _ => &[
            "関係部署で情報を共有し、監視を強化した。",
            "{vendor}に原因の調査を依頼した。",
            "緊急対策本部を設置し、経営層に報告した。",
        ],
    };
    // Titles and narratives are written in pairs, so a title never contradicts its text.
    let k = rng.random_range(0..titles.len().min(what.len()).max(1));
    let mut title = fill(titles.get(k).copied().unwrap_or(""), c);
    if event == "precursor" {
        title.push_str("（予兆）");
    }
    let mut parts = vec![
        fill(pick(rng, &detect), c),
        fill(what.get(k).copied().unwrap_or(""), c),
        fill(pick(rng, &impact), c),
        fill(pick(rng, response), c),
    ];
    if let Some(r) = c.rare
        && rng.random_bool(0.5)
    {
        parts.push(format!("{r}に関連する通信の有無を調査している。"));
    }
    if event == "precursor" {
        parts.push("実害が出る前に発見したため、サービスへの影響はなかった。".to_owned());
    }
    // Sentence order varies, as reports do.
    if rng.random_bool(0.3) {
        parts.swap(0, 1);
    }
    let summary = parts.concat();
    let follow = rng.random_bool(0.5).then(|| {
        fill(
            pick(
                rng,
                &[
                    "続報：{vendor}の調査で原因が特定され、恒久対策を検討している。",
                    "続報：影響範囲の調査を続けており、{people}件の記録を確認した。",
                    "続報：{system}は正常に稼働している。再発防止策を取りまとめ中である。",
                    "続報：同様の事象が他の拠点で起きていないか点検を行った。",
                ],
            ),
            c,
        )
    });
    (title, summary, follow)
}

/// (title, first report, follow-up) in English, for operators who report in English.
fn english_text(
    cause: &str,
    _event: &str,
    c: &Ctx<'_>,
    rng: &mut StdRng,
) -> (String, String, Option<String>) {
    let (titles, what): (&[&str], &[&str]) = match cause {
        "suspicious-mail" | "suspicious-file" => (
            &[
                "Malware infection after opening a phishing attachment",
                "{rare} infection via spoofed invoice email",
            ],
            &[
                "An employee opened a macro-enabled attachment from a spoofed business partner and the workstation was infected.",
                "Several staff received phishing emails quoting earlier threads; one opened the attached archive.",
            ],
        ),
        "ddos" => (
            &[
                "DDoS attack disrupts online services",
                "Traffic flood against the public website",
            ],
            &[
                "A volumetric DDoS attack saturated the uplink and the public website became unreachable.",
                "Botnet traffic peaked at several hundred times the normal level.",
            ],
        ),
        "equipment-failure" | "disaster" | "spillover" => (
            &[
                "Power outage takes down the data centre",
                "Storage failure corrupts the production database",
            ],
            &[
                "A utility power outage and a failed generator transfer caused a complete outage of the primary site.",
                "A storage controller failure corrupted database files and the service was unavailable until restore.",
            ],
        ),
        "impersonation" | "unauthorised-acquisition" => (
            &[
                "Unauthorised login to the administrator account",
                "Credential stuffing against customer accounts",
            ],
            &[
                "Stolen credentials were used to log in to the administrator console from an overseas address.",
                "A credential stuffing campaign succeeded against a small number of customer accounts.",
            ],
        ),
        "vulnerability" | "operation-not-done" => (
            &[
                "Unpatched VPN appliance exploited",
                "Software defect halts batch processing",
            ],
            &[
                "An unpatched vulnerability in the VPN appliance was exploited to implant a web shell.",
                "A latent software bug caused the batch scheduler to stop under a rare timing condition.",
            ],
        ),
        _ => (
            &[
                "Configuration error causes service outage",
                "Misdirected email leaks personal data",
            ],
            &[
                "An operator applied a configuration change to the production system by mistake.",
                "A file containing customer data was sent to the wrong recipient.",
            ],
        ),
    };
    let k = rng.random_range(0..titles.len().min(what.len()).max(1));
    let title = fill(titles.get(k).copied().unwrap_or(""), c);
    let detect = pick(
        rng,
        &[
            "Monitoring alerted the on-call engineer.",
            "Customers reported errors to the call centre.",
            "The managed SOC notified us of suspicious traffic.",
        ],
    );
    let respond = pick(
        rng,
        &[
            "We failed over to the standby site and restored service.",
            "Affected hosts were isolated and a forensic investigation was started.",
            "Passwords were reset and multi-factor authentication was enforced.",
        ],
    );
    let summary = format!(
        "{detect} {} About {} users were affected for {} minutes at the {}. {respond}",
        fill(what.get(k).copied().unwrap_or(""), c),
        c.people,
        c.minutes,
        match c.place {
            "データセンター" => "data centre",
            "本社" => "head office",
            _ => "operations centre",
        }
    );
    let follow = rng
        .random_bool(0.4)
        .then(|| "Follow-up: root cause confirmed; permanent fix scheduled.".to_owned());
    (title, summary, follow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> Taxonomy {
        kizuki_dataset::default_taxonomy().unwrap()
    }

    #[test]
    fn deterministic_and_varied() {
        let tx = tx();
        let s = Synth::new(7, &tx);
        let a = s.report(12345);
        let b = Synth::new(7, &tx).report(12345);
        assert_eq!(a.details, b.details);
        assert_ne!(s.report(1).details, s.report(2).details);
        let mut sectors = std::collections::HashSet::new();
        let mut events = std::collections::HashSet::new();
        let mut causes = std::collections::HashSet::new();
        let mut summaries = std::collections::HashSet::new();
        let mut english = 0;
        for i in 0..3000 {
            let r = s.report(i);
            sectors.insert(r.details.sector.0.clone());
            events.insert(r.details.event_type.0.clone());
            causes.extend(r.details.causes.iter().map(|c| c.0.clone()));
            summaries.insert(r.details.summary.clone());
            if r.details.summary.is_ascii() {
                english += 1;
            }
            // Every generated report passes the same validation as a typed one.
            kizuki_domain::report::ReportInput::from(&r.details)
                .parse(&tx)
                .unwrap();
        }
        assert_eq!(sectors.len(), tx.terms(Vocabulary::Sector).len());
        assert_eq!(events.len(), tx.terms(Vocabulary::EventType).len());
        assert_eq!(causes.len(), tx.terms(Vocabulary::Cause).len());
        assert!(
            summaries.len() > 2900,
            "not the same sentence repeated: {}",
            summaries.len()
        );
        assert!(
            (150..500).contains(&english),
            "about one in ten in English: {english}"
        );
    }
}
