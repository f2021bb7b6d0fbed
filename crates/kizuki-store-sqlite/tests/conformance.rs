//! The shared conformance suite, run on a fresh SQLite file per test.

kizuki_store::conformance_suite!(kizuki_testkit::store::sqlite);
