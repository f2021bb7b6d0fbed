//! The shared conformance suite on PostgreSQL, each test in a schema of its own (dropped when
//! the test ends). Needs `KIZUKI_TEST_POSTGRES_URL`; without it every test says it skipped (and
//! fails under CI, where the server must be there).

kizuki_store::conformance_suite!(kizuki_testkit::store::postgres);
