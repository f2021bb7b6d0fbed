//! kizuki's one integration-test binary: the real `kizuki` command and the real server on
//! port 0, each test on a fresh data dir.
#![allow(
    clippy::disallowed_methods,
    reason = "tests read the environment that says which services exist, and a few compare against the real time of a running server"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

// Accounts.
mod accounts;
mod api;
// The API's error shape for every refusal, and in the OpenAPI document.
mod api_errors;
mod authz;
mod browser;
mod cli;
// Refusals before the session layer follow the error conventions.
mod conventions;
mod crash;
mod harness;
mod http;
// Fair limits and metrics.
mod limits;
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
// Two app nodes on one PostgreSQL database.
mod two_nodes;
mod web;
