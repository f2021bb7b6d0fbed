//! kizuki's one integration-test binary: the real `kizuki` command and the real server on
//! port 0, each test on a fresh data dir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod authz;
mod browser;
mod cli;
mod crash;
mod harness;
mod http;
mod publication;
mod search;
mod select;
mod selection_web;
mod web;
