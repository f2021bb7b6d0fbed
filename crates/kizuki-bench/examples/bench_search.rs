//! The search benchmark without building the whole `kizuki` binary (its PDF stack takes
//! minutes to compile in release): same code as `kizuki bench search`.
//!
//! `cargo run --release -p kizuki-bench --example bench_search -- 100000 [ITERATIONS] [--no-fts5]`

use kizuki_bench::search::{BenchConfig, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<u64> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000]);
    let iterations = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let cfg = BenchConfig {
        sizes,
        seed: 1,
        work_dir: std::env::temp_dir().join(format!("kizuki-bench-{}", std::process::id())),
        iterations,
        similar_samples: 200,
        fts5: !args.iter().any(|a| a == "--no-fts5"),
        threads: 2,
    };
    let tx = kizuki_dataset::default_taxonomy()?;
    let report = run(&cfg, &tx, &mut |l| eprintln!("{l}"))?;
    println!("{report}");
    Ok(())
}
