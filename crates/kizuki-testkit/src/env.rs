//! The test suite's settings from the environment, read in this one place: which services
//! exist (PostgreSQL, CI) and how the slow or diagnostic tests run.

/// A setting the tests read from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `KIZUKI_TEST_POSTGRES_URL`: the PostgreSQL server the PostgreSQL tests use; without
    /// it they print `skipped: …` and pass.
    PostgresUrl,
    /// `CI`: set on CI, where a PostgreSQL test may not skip.
    Ci,
    /// `KIZUKI_CRASH_CYCLES`: how many kill-and-restart cycles the crash test runs.
    CrashCycles,
    /// `KIZUKI_DUMP_DIAGRAMS`: a directory the report tests write their case diagrams to.
    DumpDiagrams,
    /// `KIZUKI_TEST_AXE`: axe-core's `axe.min.js`, for the page sweep (`.ci/browser.sh`
    /// fetches it from npm); without it the sweep prints `skipped: …`.
    Axe,
    /// `KIZUKI_SWEEP_ONLY`: one role (`analyst`, `public`, …) for a quicker page sweep.
    SweepOnly,
}

impl Setting {
    /// The environment variable's name.
    pub fn name(self) -> &'static str {
        match self {
            Setting::PostgresUrl => "KIZUKI_TEST_POSTGRES_URL",
            Setting::Ci => "CI",
            Setting::CrashCycles => "KIZUKI_CRASH_CYCLES",
            Setting::DumpDiagrams => "KIZUKI_DUMP_DIAGRAMS",
            Setting::Axe => "KIZUKI_TEST_AXE",
            Setting::SweepOnly => "KIZUKI_SWEEP_ONLY",
        }
    }
}

/// The setting's value; `None` when it is unset or empty.
#[allow(
    clippy::disallowed_methods,
    reason = "the test kit's one read of the environment: which services the tests may use and how the slow ones run"
)]
pub fn get(setting: Setting) -> Option<String> {
    std::env::var(setting.name())
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// The PostgreSQL server's URL. Without one, prints `skipped: …` for the caller to return
/// on; on CI (`CI` set) a missing URL fails the test instead, since the suite may not skip there.
pub fn postgres_url() -> Option<String> {
    let url = get(Setting::PostgresUrl);
    if url.is_none() {
        assert!(
            get(Setting::Ci).is_none(),
            "CI must set KIZUKI_TEST_POSTGRES_URL: the PostgreSQL tests may not skip there"
        );
        eprintln!("skipped: KIZUKI_TEST_POSTGRES_URL not set, PostgreSQL test not run");
    }
    url
}

/// The crash test's cycle count (default 50).
pub fn crash_cycles() -> u64 {
    get(Setting::CrashCycles)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(50)
}

/// Where to write diagrams for a look by eye, when asked.
pub fn dump_diagrams_dir() -> Option<std::path::PathBuf> {
    get(Setting::DumpDiagrams).map(std::path::PathBuf::from)
}
