//! kizuki's test kit, for tests only (every crate lists it under `[dev-dependencies]`): a fresh
//! application on SQLite or in a PostgreSQL schema of its own with a fixed clock and seeded
//! randomness ([`TestApp`]), one HTTP client that talks to the router in process or to a real
//! server over a socket ([`Client`]), the built `kizuki` binary ([`bin`]), local mail and
//! webhook receivers, plain or over TLS with a CA made at test time ([`sinks`], [`tls`]), and
//! the environment that says which services exist ([`mod@env`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failing helper stops the test at the line that failed"
)]

pub mod app;
pub mod bin;
pub mod env;
pub mod http;
pub mod pg;
pub mod server;
pub mod sinks;
pub mod store;
pub mod tls;

pub use app::{Builder, TestApp};
pub use bin::{Kizuki, Node, TempDataDir, stderr, stdout};
pub use http::{Client, Resp, Socket};
pub use pg::PgSchema;
pub use server::TestServer;
pub use tls::TestCa;

use chrono::{DateTime, Utc};

/// The demo's centre analyst (a second factor is required).
pub const ANALYST: &str = "analyst@centre.example.jp";
/// The demo's centre editor (a second factor is required).
pub const EDITOR: &str = "editor@centre.example.jp";
/// The demo railway operator's reporter.
pub const RAIL: &str = "reporter@railway.example.jp";
/// The demo bank's reporter.
pub const FINANCE: &str = "reporter@finance.example.jp";
/// The demo ministry's reader.
pub const MINISTRY: &str = "ministry@ministry.example.jp";

/// An instant written in RFC 3339; panics on a malformed one.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| d.to_utc())
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
}
