//! Configuration from the environment (documented in README.md).

/// Default database: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cheeseshop.db";

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`, e.g. `sqlite://cheeseshop.db` or `sqlite::memory:`.
    pub database_url: String,
    /// `CHEESESHOP_DB_MAX_CONNECTIONS`: pool size (default 8).
    pub max_connections: u32,
    /// `CHEESESHOP_SECURE_COOKIES=1`: the site is served over https.
    pub secure_cookies: bool,
    /// `CHEESESHOP_TRUST_PROXY=1`: a reverse proxy of ours sets `X-Forwarded-For`.
    pub trust_proxy: bool,
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

impl Config {
    pub fn from_env() -> Self {
        Self {
            database_url: std::env::var("DATABASE_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            max_connections: std::env::var("CHEESESHOP_DB_MAX_CONNECTIONS")
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or(8),
            secure_cookies: flag("CHEESESHOP_SECURE_COOKIES"),
            trust_proxy: flag("CHEESESHOP_TRUST_PROXY"),
        }
    }
}
