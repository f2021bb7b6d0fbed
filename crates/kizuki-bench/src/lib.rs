//! Benchmark tooling: synthetic corpora and the FTS5 comparison.
//!
//! - [`synth`] generates a deterministic synthetic corpus of reports (`kizuki gen`, and the
//!   benchmark's rows).
//! - [`search`] runs `kizuki bench search`: the search index against SQLite FTS5 (trigram) on
//!   the same rows, with every engine's match counts checked against a brute-force scan.
//!
//! Kept apart from kizuki-search so that the index, which the app and the web server use,
//! depends on neither SQLite nor the generator.

pub mod search;
pub mod synth;
