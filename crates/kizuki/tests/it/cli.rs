//! The `kizuki` command as a user runs it: dates, init, check, backup and restore, survey
//! import and export, the secrets key.

use crate::kizuki;
use kizuki_store_sqlite::datadir::DB_FILE;
use kizuki_testkit::{TempDataDir, stderr, stdout};
use std::path::PathBuf;

#[test]
fn date_prints_all_forms() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["date", "R1.5.1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("2019-05-01\n"), "{out}");
    assert!(out.contains("和暦: 令和元年5月1日"), "{out}");
    assert!(out.contains("年度: 2019年度（令和元年度）"), "{out}");
    let o = kizuki(&d.path(), &["date", "１９８９年１月７日"]);
    assert!(
        stdout(&o).contains("和暦: 昭和64年1月7日"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn date_rejects_impossible_dates_with_a_reason() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["date", "令和元年4月30日"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("2019年5月1日"), "{}", stderr(&o));
    let o = kizuki(&d.path(), &["date", "平成32年1月1日"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("2020-01-01"));
    assert!(
        stderr(&o).contains("令和2年"),
        "lenient conversion is flagged: {}",
        stderr(&o)
    );
}

#[test]
fn init_seeds_demo_and_check_is_clean() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("analyst@centre.example.jp"), "{out}");
    assert!(out.contains("7事例"), "{out}");
    let o = kizuki(&d.path(), &["init"]);
    assert!(!o.status.success(), "a second init must refuse");
    let o = kizuki(&d.path(), &["check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = kizuki(&d.path(), &["user", "list"]);
    // 8 demo logins + the system actor that approved the 2019 cases of organisations
    // without an administrator in the demo directory.
    assert_eq!(stdout(&o).lines().count(), 9);
}

#[test]
fn init_no_demo_is_empty() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init", "--no-demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("@"), "no accounts: {}", stdout(&o));
    let o = kizuki(&d.path(), &["user", "list"]);
    assert_eq!(stdout(&o), "");
    let o = kizuki(&d.path(), &["check"]);
    assert!(o.status.success());
}

#[test]
fn commands_need_an_existing_data_dir() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["check"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("kizuki init"), "{}", stderr(&o));
    assert!(
        !d.path().join(DB_FILE).exists(),
        "check must not create a database"
    );
}

#[test]
fn survey_export_import_round_trip() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    let original = kizuki_dataset::load_survey_dir(&repo, &tx).unwrap();

    // Import the repository's files into an empty data dir, export, compare.
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init", "--no-demo"]).status.success());
    let o = kizuki(&d.path(), &["import", "survey", repo.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("7 cases"), "{}", stdout(&o));
    let out = d.dir.path().join("export");
    let o = kizuki(
        &d.path(),
        &["export", "survey", "2019", "--out", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let exported = kizuki_dataset::load_survey_dir(&out, &tx).unwrap();
    assert_eq!(exported, original, "import then export changes nothing");

    // Importing the exported folder again gives byte-identical files on export.
    let d2 = TempDataDir::new();
    assert!(kizuki(&d2.path(), &["init", "--no-demo"]).status.success());
    assert!(
        kizuki(&d2.path(), &["import", "survey", out.to_str().unwrap()])
            .status
            .success()
    );
    let out2 = d2.dir.path().join("export");
    assert!(
        kizuki(
            &d2.path(),
            &[
                "export",
                "survey",
                "令和元年度",
                "--out",
                out2.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    for (name, _) in kizuki_dataset::survey_files(&exported).unwrap() {
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(out2.join(&name)).unwrap(),
            "{name} differs"
        );
    }
    // A second import of the same survey is refused, not duplicated.
    let o = kizuki(&d.path(), &["import", "survey", repo.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
}

#[test]
fn import_reports_file_case_and_field() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let d = TempDataDir::new();
    let bad = d.dir.path().join("bad");
    std::fs::create_dir_all(bad.join("cases")).unwrap();
    std::fs::copy(repo.join("survey.toml"), bad.join("survey.toml")).unwrap();
    for n in 1..=7 {
        let name = format!("cases/case-{n}.toml");
        let mut text = std::fs::read_to_string(repo.join(&name)).unwrap();
        if n == 2 {
            text = text.replacen("event_type = \"", "event_type = \"no-such-", 1);
        }
        std::fs::write(bad.join(&name), text).unwrap();
    }
    assert!(kizuki(&d.path(), &["init", "--no-demo"]).status.success());
    let o = kizuki(&d.path(), &["import", "survey", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("case-2.toml"), "{err}");
    assert!(err.contains("case 2"), "{err}");
    assert!(err.contains("report.event_type"), "{err}");
    let o = kizuki(&d.path(), &["check"]);
    assert!(
        o.status.success(),
        "a refused import leaves the database sound"
    );
}

#[test]
fn backup_restore_and_corruption_detection() {
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init"]).status.success());
    let backup = d.dir.path().join("b.db");
    let o = kizuki(&d.path(), &["backup", "--out", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Damage a copy of the database: check must notice and say to restore.
    let db = d.path().join(DB_FILE);
    let damaged_dir = TempDataDir::new();
    std::fs::create_dir_all(damaged_dir.path()).unwrap();
    let mut bytes = std::fs::read(&backup).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 3..len / 3 + 4096] {
        *b ^= 0x5a;
    }
    std::fs::write(damaged_dir.path().join(DB_FILE), &bytes).unwrap();
    let o = kizuki(&damaged_dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("restore"), "{}", stderr(&o));

    // Restore refuses to overwrite without --force, then brings the backup back.
    let o = kizuki(&damaged_dir.path(), &["restore", backup.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    let o = kizuki(
        &damaged_dir.path(),
        &["restore", "--force", backup.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = kizuki(&damaged_dir.path(), &["check"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A damaged file is refused as a backup.
    let junk = d.dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let o = kizuki(&d.path(), &["restore", "--force", junk.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(db.exists());
}

#[test]
fn report_in_three_formats() {
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init"]).status.success());
    let dir = d.dir.path();
    for (format, file) in [("html", "r.html"), ("md", "r.md")] {
        let out = dir.join(file);
        let o = kizuki(
            &d.path(),
            &[
                "report",
                "--survey",
                "2019",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        for needle in [
            "改元に伴うシステム変更トラブルへの対応",
            "調査対象事例の選定基準",
            "得られた気付き・教訓",
        ] {
            assert!(text.contains(needle), "{format} lacks {needle}");
        }
    }
    let o = kizuki(
        &d.path(),
        &[
            "report",
            "--survey",
            "2020",
            "--format",
            "html",
            "--out",
            dir.join("x").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success(), "no survey 2020");

    let pdf = dir.join("r.pdf");
    let o = kizuki(
        &d.path(),
        &[
            "report",
            "--survey",
            "令和元年度",
            "--format",
            "pdf",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    if !o.status.success() {
        let err = stderr(&o);
        // Without a Japanese font the command must say which package brings one.
        assert!(err.contains("fonts-ipaexfont-gothic"), "{err}");
        eprintln!("skipped: PDF report check (no Japanese font installed)");
        return;
    }
    let Ok(text) = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
    else {
        eprintln!("skipped: PDF text check (pdftotext not installed)");
        return;
    };
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("クラウド型メールサービスに対する不正ログイン"),
        "{text}"
    );
}

#[test]
fn survey_new_copies_a_year_and_refuses_an_open_one() {
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init"]).status.success());
    let o = kizuki(&d.path(), &["survey", "new", "令和2年度", "--from", "2019"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("opened survey 2020"), "{out}");
    assert!(out.contains("2020-01-01 to 2020-12-31"), "{out}");
    assert!(out.contains("10 criteria"), "{out}");
    // The same year again is refused and nothing changes.
    let o = kizuki(&d.path(), &["survey", "new", "2020", "--from", "2019"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("survey 2020 already exists"),
        "{}",
        stderr(&o)
    );
    // Without a year to copy, the missing texts are named.
    let o = kizuki(&d.path(), &["survey", "new", "2021"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    for field in ["purpose", "method", "criteria"] {
        assert!(err.contains(field), "{field} not named: {err}");
    }
    // The opened year is a survey like any other: export it.
    let out_dir = tempfile::tempdir().unwrap();
    let o = kizuki(
        &d.path(),
        &[
            "export",
            "survey",
            "2020",
            "--out",
            out_dir.path().to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let toml = std::fs::read_to_string(out_dir.path().join("survey.toml")).unwrap();
    assert!(toml.contains("fiscal_year = 2020"), "{toml}");
}

/// The ids in a key ring file, first (sealing) first.
fn key_ids(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(':').next().unwrap().to_owned())
        .collect()
}

#[test]
fn init_makes_an_owner_only_key_and_rotate_replaces_it() {
    use kizuki_app::security::sealing::{KEY_ENV, KEY_FILE};
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init"]).status.success());
    let key = d.path().join(KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is the owner's alone");
    }
    let before = key_ids(&key);
    assert_eq!(before.len(), 1, "{before:?}");

    let o = kizuki(&d.path(), &["secrets", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = key_ids(&key);
    assert_eq!(after.len(), 1, "the old key is dropped: {after:?}");
    assert_ne!(after, before);
    assert!(stdout(&o).contains(&after[0]), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&before[0]),
        "names the dropped key: {}",
        stdout(&o)
    );
    let o = kizuki(&d.path(), &["check"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Keys from the environment: the file is left alone and the new value is printed.
    let ring = format!("{}:{}", "envkey1", "A".repeat(43) + "=");
    let o = crate::bin()
        .env(KEY_ENV, &ring)
        .run(&d.path(), &["secrets", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{KEY_ENV}=")),
        "{}",
        stdout(&o)
    );
    assert_eq!(key_ids(&key), after, "the key file is not the source here");
    // A key ring that does not read is refused with the line.
    let o = crate::bin()
        .env(KEY_ENV, "not-a-key")
        .run(&d.path(), &["check"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains(KEY_ENV), "{}", stderr(&o));
}
