//! kizuki's one integration-test binary: the real `kizuki` command and the real server on
//! port 0, each test on a fresh data dir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Accounts (issue 6).
mod accounts;
mod api;
// The API's error shape for every refusal, and in the OpenAPI document (task H).
mod api_errors;
mod authz;
mod browser;
mod cli;
// Refusals before the session layer in the error conventions (task K).
mod conventions;
mod crash;
mod harness;
mod http;
// Fair limits and metrics (issue 7).
mod limits;
mod publication;
// Deadline reminders by e-mail and webhook (issue 8).
mod reminders;
mod search;
// Search in the served application (issue 9).
mod search_web;
mod select;
// Two app nodes on one PostgreSQL database (issue 7).
mod selection_web;
// Browser sessions in the database (shared by every node).
mod sessions_db;
mod two_nodes;
mod web;
