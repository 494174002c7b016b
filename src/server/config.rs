//! Configuration from the environment (documented in README.md).

use std::time::Duration;

use crate::server::db::DbOptions;

/// Default database: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cheeseshop.db";

/// Default storage of uploaded files: a directory in the working directory.
pub const DEFAULT_STORAGE_DIR: &str = "cheeseshop-files";
/// Default largest upload: 100 MiB, PyPI's default per-file limit.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Default size of the page cache: 16 MiB.
pub const DEFAULT_PAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Default limit of pages and server functions running at once: none (0).
pub const DEFAULT_PAGE_CONCURRENCY: usize = 0;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`, e.g. `sqlite://cheeseshop.db` or `sqlite::memory:`.
    pub database_url: String,
    /// `CHEESESHOP_DB_MAX_CONNECTIONS`: pool size (0: `DbOptions`' default of 8).
    pub max_connections: u32,
    /// `CHEESESHOP_SECURE_COOKIES=1`: the site is served over https.
    pub secure_cookies: bool,
    /// `CHEESESHOP_TRUST_PROXY=1`: a reverse proxy of ours sets `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `CHEESESHOP_BENCH_DB_LATENCY_MS`: benchmark only — delay every database
    /// round trip by this many milliseconds (see `make bench`).
    pub bench_db_latency: Option<Duration>,
    /// `CHEESESHOP_STORAGE_DIR`: where uploaded files are kept.
    pub storage_dir: String,
    /// `CHEESESHOP_MAX_UPLOAD_MB`: the largest file an upload may carry.
    pub max_upload_bytes: u64,
    /// `CHEESESHOP_BASE_URL`, e.g. `https://pypi.example.org`.
    pub base_url: Option<String>,
    /// `CHEESESHOP_PAGE_CONCURRENCY`: pages and server functions running at once (0: no limit).
    pub page_concurrency: usize,
    /// `CHEESESHOP_PAGE_CACHE_MB`: memory for cached pages (0: no cache).
    pub page_cache_bytes: usize,
    /// `CHEESESHOP_SEARCH_CONCURRENCY`: searches running at once (0: the default).
    pub search_concurrency: usize,
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// A variable parsed as `T` (surrounding spaces ignored); `None` when unset or unparsable.
fn parsed<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}

/// A size given in MiB (fractions allowed), in bytes.
fn mebibytes(name: &str) -> Option<f64> {
    parsed::<f64>(name)
        .filter(|mb| mb.is_finite() && *mb >= 0.0)
        .map(|mb| mb * 1024.0 * 1024.0)
}

impl Config {
    pub fn from_env() -> Self {
        Self {
            database_url: std::env::var("DATABASE_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            max_connections: parsed("CHEESESHOP_DB_MAX_CONNECTIONS").unwrap_or(0),
            secure_cookies: flag("CHEESESHOP_SECURE_COOKIES"),
            trust_proxy: flag("CHEESESHOP_TRUST_PROXY"),
            bench_db_latency: parsed::<f64>("CHEESESHOP_BENCH_DB_LATENCY_MS")
                .filter(|ms| ms.is_finite() && *ms > 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            storage_dir: std::env::var("CHEESESHOP_STORAGE_DIR")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_STORAGE_DIR.to_owned()),
            max_upload_bytes: mebibytes("CHEESESHOP_MAX_UPLOAD_MB")
                .filter(|&bytes| bytes > 0.0)
                .map(|bytes| bytes as u64)
                .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            base_url: std::env::var("CHEESESHOP_BASE_URL")
                .ok()
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .filter(|s| s.starts_with("http://") || s.starts_with("https://")),
            page_concurrency: parsed("CHEESESHOP_PAGE_CONCURRENCY").unwrap_or(DEFAULT_PAGE_CONCURRENCY),
            page_cache_bytes: mebibytes("CHEESESHOP_PAGE_CACHE_MB")
                .map(|bytes| bytes as usize)
                .unwrap_or(DEFAULT_PAGE_CACHE_BYTES),
            search_concurrency: parsed("CHEESESHOP_SEARCH_CONCURRENCY").unwrap_or(0),
        }
    }

    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            max_connections: self.max_connections,
            bench_latency: self.bench_db_latency,
        }
    }
}
