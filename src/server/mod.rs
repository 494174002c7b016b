//! Everything that only exists on the server: configuration, the database
//! (all SQL lives under `db`), the HTTP router, and the command line.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod feeds;
pub mod http;
pub mod import;
pub mod index;
pub mod page_cache;
pub mod render;
pub mod state;
pub mod storage;

/// Current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
