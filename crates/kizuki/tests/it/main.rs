//! kizuki's one integration-test binary: the real `kizuki` command, and the app on a fresh
//! database through kizuki-testkit (in process, or on a socket where a test needs a running
//! server).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

// Accounts.
mod accounts;
mod adoption;
mod api;
// The API's error shape for every refusal, and in the OpenAPI document.
mod api_errors;
mod authz;
mod browser;
mod cli;
// Refusals before the session layer follow the error conventions.
mod conventions;
mod crash;
mod directory;
mod http;
// Interviews with the operators of selected cases.
mod interviews;
// Fair limits and metrics.
// The lessons catalog: themes and tagged lessons.
mod lessons;
mod limits;
// Filing on an operator's behalf.
mod on_behalf;
mod polish;
mod publication;
// Deadline reminders by e-mail and webhook.
mod reminders;
mod search;
// Search in the served application.
mod search_web;
mod select;
mod selection_web;
// Browser sessions in the database (shared by every node).
mod sessions_db;
mod stats;
// Sharing under the TLP label.
mod sharing;
// A survey year run in the app.
mod survey_year;
mod sweep;
// Two app nodes on one PostgreSQL database.
mod two_nodes;
mod web;

/// The built `kizuki` binary.
fn bin() -> kizuki_testkit::Kizuki {
    kizuki_testkit::Kizuki::new(env!("CARGO_BIN_EXE_kizuki"))
}

/// Runs `kizuki --data-dir DIR ARGS…` to the end.
fn kizuki(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin().run(data_dir, args)
}
