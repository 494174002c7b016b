//! Configuration from the environment (documented in README.md).

use std::path::PathBuf;
use std::time::Duration;

use crate::server::db::DbOptions;
use crate::server::object_storage::S3Location;

/// Default database: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cheeseshop.db";

/// Default storage of uploaded files: a directory in the working directory.
pub const DEFAULT_STORAGE_DIR: &str = "cheeseshop-files";
/// Default largest upload: 100 MiB, PyPI's default per-file limit.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Default size of the page cache: 16 MiB.
pub const DEFAULT_PAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// Search results: a few kilobytes a page, so thousands of searches.
pub const DEFAULT_SEARCH_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Default deadline of a request (uploads and `/simple/` have none): 30 s.
/// pip gives up after 15 s; nginx waits 60 s for an answer.
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// Default limit of pages and server functions running at once: none (0).
pub const DEFAULT_PAGE_CONCURRENCY: usize = 0;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`, e.g. `sqlite://cheeseshop.db`, `sqlite::memory:` or
    /// `postgres://user:password@host:5432/database?sslmode=require`.
    pub database_url: String,
    /// `CHEESESHOP_DB_MAX_CONNECTIONS`: pool size (0: `DbOptions`' default,
    /// 8 on SQLite and 16 on PostgreSQL).
    pub max_connections: u32,
    /// `CHEESESHOP_SECURE_COOKIES=1`: the site is served over https.
    pub secure_cookies: bool,
    /// `CHEESESHOP_CACHE_NOTIFY`: on PostgreSQL, cached answers learn of
    /// writes from `LISTEN/NOTIFY` instead of a read per batch (see
    /// `db::changes`).
    pub cache_notify: bool,
    /// `CHEESESHOP_TRUST_PROXY=1`: a reverse proxy of ours sets `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `CHEESESHOP_READ_ACCESS=authenticated`: a private index (the gate is
    /// `auth::with_session`); `public` (the default) otherwise.
    pub private: bool,
    /// `CHEESESHOP_BENCH_DB_LATENCY_MS`: benchmark only — delay every database
    /// round trip by this many milliseconds (see `make bench`).
    pub bench_db_latency: Option<Duration>,
    /// Where uploaded files are kept: `CHEESESHOP_STORAGE_URL`
    /// (`file:///path` or `s3://bucket/prefix`), else the directory
    /// `CHEESESHOP_STORAGE_DIR`.
    pub storage: StorageLocation,
    /// `CHEESESHOP_STORAGE_REDIRECT=1`: downloads from an object store are
    /// redirects to presigned URLs instead of passing through the server.
    pub storage_redirect: bool,
    /// `CHEESESHOP_STAGING_DIR`: where uploads to an object store are
    /// staged while they are received (default: the system's temporary
    /// directory). A local store stages inside its own directory.
    pub staging_dir: PathBuf,
    /// `CHEESESHOP_MAX_UPLOAD_MB`: the largest file an upload may carry.
    pub max_upload_bytes: u64,
    /// `CHEESESHOP_BASE_URL`, e.g. `https://pypi.example.org`.
    pub base_url: Option<String>,
    /// `CHEESESHOP_PAGE_CONCURRENCY`: pages and server functions running at once (0: no limit).
    pub page_concurrency: usize,
    /// `CHEESESHOP_PAGE_CACHE_MB`: memory for cached pages (0: no cache).
    pub page_cache_bytes: usize,
    /// `CHEESESHOP_SEARCH_CACHE_MB`: memory for search results (0: no cache).
    pub search_cache_bytes: usize,
    /// `CHEESESHOP_SEARCH_CONCURRENCY`: searches running at once (0: the default).
    pub search_concurrency: usize,
    /// `CHEESESHOP_DRAIN_SECONDS`: after SIGTERM, how long `/_health/ready`
    /// answers 503 before the listener closes (default 0).
    pub drain: Duration,
    /// `CHEESESHOP_SHUTDOWN_GRACE_SECONDS`: then how long requests in
    /// flight may take to finish (default 30).
    pub shutdown_grace: Duration,
    /// `CHEESESHOP_REQUEST_TIMEOUT_SECONDS`: how long a request may take to
    /// start its answer before it is answered 503 (default 30; 0: no
    /// deadline; uploads and `/simple/` have none: `http::without_deadline`).
    pub request_deadline: Option<Duration>,
    /// `CHEESESHOP_UPSTREAM_URL` and its settings: the pull-through cache.
    pub upstream: Option<crate::server::upstream::UpstreamOptions>,
}

/// Where package files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// A directory on this machine.
    Local(PathBuf),
    /// An S3-compatible bucket, configured further by the `AWS_*` variables.
    S3(S3Location),
}

impl StorageLocation {
    /// `file:///absolute/path` or `s3://bucket/prefix`; `None` for anything else.
    pub fn parse(url: &str) -> Option<Self> {
        match url.strip_prefix("file://") {
            Some(path) if path.starts_with('/') => Some(Self::Local(PathBuf::from(path))),
            Some(_) => None,
            None => S3Location::parse(url).map(Self::S3),
        }
    }
}

/// A variable whose value cannot be used: the server refuses to start
/// rather than run with something other than what it was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}={:?} is not valid: expected {}",
            self.variable,
            self.value.chars().take(200).collect::<String>(),
            self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Where configuration comes from: the process environment, or a map (tests).
trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

struct Environment;

impl Source for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl Source for &[(&str, &str)] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }
}

struct Reader<S> {
    source: S,
}

impl<S: Source> Reader<S> {
    /// The trimmed value, `None` when unset or empty.
    fn raw(&self, name: &str) -> Option<String> {
        self.source
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.raw(name) else {
            return Ok(None);
        };
        match value.parse::<T>() {
            Ok(parsed) if valid(&parsed) => Ok(Some(parsed)),
            _ => Err(ConfigError {
                variable: name,
                value,
                expected,
            }),
        }
    }

    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        let Some(value) = self.raw(name) else {
            return Ok(false);
        };
        match value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError {
                variable: name,
                value,
                expected: "1 or 0 (true/false, yes/no, on/off)",
            }),
        }
    }

    /// A duration: seconds, or a number with `s`, `m`, `h` or `d`.
    fn duration(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        let Some(value) = self.raw(name) else {
            return Ok(None);
        };
        match crate::domain::format::parse_duration(&value) {
            Some(duration) => Ok(Some(duration)),
            None => Err(ConfigError {
                variable: name,
                value,
                expected: "a duration such as 600, 30s, 10m, 12h or 7d",
            }),
        }
    }

    /// A number of seconds (fractions allowed) from 0 to `max`.
    fn seconds(&self, name: &'static str, expected: &'static str, max: f64) -> Result<Option<Duration>, ConfigError> {
        Ok(self
            .parsed::<f64>(name, expected, |s| s.is_finite() && (0.0..=max).contains(s))?
            .map(Duration::from_secs_f64))
    }

    /// A size in MiB (fractions allowed), in bytes.
    fn mebibytes(&self, name: &'static str, allow_zero: bool) -> Result<Option<f64>, ConfigError> {
        let expected = if allow_zero {
            "a size in MiB, 0 or more"
        } else {
            "a size in MiB, more than 0"
        };
        Ok(self
            .parsed::<f64>(name, expected, |mb| {
                mb.is_finite() && (*mb > 0.0 || (allow_zero && *mb == 0.0)) && *mb < 1e9
            })?
            .map(|mb| mb * 1024.0 * 1024.0))
    }
}

impl Config {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Reader { source: Environment })
    }

    /// The configuration from `pairs` as if they were the environment.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::read(Reader { source: pairs })
    }

    fn read<S: Source>(env: Reader<S>) -> Result<Self, ConfigError> {
        let database_url = env
            .raw("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !database_url.starts_with("sqlite:") && !crate::server::db::postgres::is_postgres_url(&database_url) {
            return Err(ConfigError {
                variable: "DATABASE_URL",
                value: crate::server::db::postgres::redacted(&database_url),
                expected: "a SQLite URL such as sqlite://cheeseshop.db or a PostgreSQL URL such as \
                           postgres://cheeseshop@db.example/cheeseshop?sslmode=verify-full",
            });
        }
        let base_url = match env.raw("CHEESESHOP_BASE_URL") {
            None => None,
            Some(value) => {
                let trimmed = value.trim_end_matches('/');
                let host = trimmed
                    .strip_prefix("https://")
                    .or_else(|| trimmed.strip_prefix("http://"))
                    .unwrap_or("");
                let host_ok = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'/'));
                if !host_ok {
                    return Err(ConfigError {
                        variable: "CHEESESHOP_BASE_URL",
                        value,
                        expected: "an http:// or https:// origin such as https://pypi.example.org",
                    });
                }
                Some(trimmed.to_owned())
            }
        };
        let storage = match env.raw("CHEESESHOP_STORAGE_URL") {
            None => StorageLocation::Local(PathBuf::from(
                env.raw("CHEESESHOP_STORAGE_DIR")
                    .unwrap_or_else(|| DEFAULT_STORAGE_DIR.to_owned()),
            )),
            Some(value) => match StorageLocation::parse(&value) {
                Some(location) => location,
                None => {
                    return Err(ConfigError {
                        variable: "CHEESESHOP_STORAGE_URL",
                        value,
                        expected: "file:///absolute/path or s3://bucket/optional/prefix",
                    });
                }
            },
        };
        // Read (and checked) even when no upstream is set.
        let upstream_ttl = env
            .duration("CHEESESHOP_UPSTREAM_TTL")?
            .unwrap_or(Duration::from_secs(600));
        let upstream_timeout = env
            .duration("CHEESESHOP_UPSTREAM_TIMEOUT")?
            .unwrap_or(Duration::from_secs(5));
        let upstream_policy = crate::server::upstream::Policy {
            min_age: env.duration("CHEESESHOP_UPSTREAM_MIN_AGE")?,
            deny: match env.raw("CHEESESHOP_UPSTREAM_DENY") {
                None => Vec::new(),
                Some(value) => match crate::server::upstream::policy::parse_deny_list(&value) {
                    Some(rules) => rules,
                    None => {
                        return Err(ConfigError {
                            variable: "CHEESESHOP_UPSTREAM_DENY",
                            value,
                            expected: "project names or name==version, comma-separated",
                        });
                    }
                },
            },
        };
        let upstream_offline = env.flag("CHEESESHOP_UPSTREAM_OFFLINE")?;
        let upstream_max_bytes = match env.raw("CHEESESHOP_UPSTREAM_CACHE_MAX") {
            None => None,
            Some(value) => match crate::domain::format::parse_size(&value) {
                Some(bytes) => Some(bytes),
                None => {
                    return Err(ConfigError {
                        variable: "CHEESESHOP_UPSTREAM_CACHE_MAX",
                        value,
                        expected: "a size such as 50GB, 500MiB or 1073741824 (bytes)",
                    });
                }
            },
        };
        let upstream = match env.raw("CHEESESHOP_UPSTREAM_URL") {
            None => None,
            Some(value) => {
                let urls: Vec<String> = value
                    .split([',', ' ', '\n', '\t'])
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                let valid = !urls.is_empty()
                    && urls
                        .iter()
                        .all(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() > "https://".len());
                if !valid {
                    return Err(ConfigError {
                        variable: "CHEESESHOP_UPSTREAM_URL",
                        value,
                        expected: "Simple API URLs such as https://pypi.org/simple/, comma-separated, in priority order",
                    });
                }
                Some(crate::server::upstream::UpstreamOptions {
                    urls,
                    ttl: upstream_ttl,
                    timeout: upstream_timeout,
                    policy: upstream_policy,
                    offline: upstream_offline,
                    max_bytes: upstream_max_bytes,
                })
            }
        };
        Ok(Self {
            upstream,
            database_url,
            max_connections: env
                .parsed(
                    "CHEESESHOP_DB_MAX_CONNECTIONS",
                    "a number of connections from 1 to 1000",
                    |n: &u32| (1..=1000).contains(n),
                )?
                .unwrap_or(0),
            secure_cookies: env.flag("CHEESESHOP_SECURE_COOKIES")?,
            cache_notify: env.flag("CHEESESHOP_CACHE_NOTIFY")?,
            trust_proxy: env.flag("CHEESESHOP_TRUST_PROXY")?,
            private: match env.raw("CHEESESHOP_READ_ACCESS").map(|v| v.trim().to_ascii_lowercase()) {
                None => false,
                Some(v) if v == "public" => false,
                Some(v) if v == "authenticated" => true,
                Some(value) => {
                    return Err(ConfigError {
                        variable: "CHEESESHOP_READ_ACCESS",
                        value,
                        expected: "public or authenticated",
                    });
                }
            },
            bench_db_latency: env
                .parsed::<f64>("CHEESESHOP_BENCH_DB_LATENCY_MS", "milliseconds, more than 0", |ms| {
                    ms.is_finite() && *ms > 0.0 && *ms < 1e6
                })?
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            storage,
            storage_redirect: env.flag("CHEESESHOP_STORAGE_REDIRECT")?,
            staging_dir: env
                .raw("CHEESESHOP_STAGING_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("cheeseshop-staging")),
            max_upload_bytes: env
                .mebibytes("CHEESESHOP_MAX_UPLOAD_MB", false)?
                .map(|bytes| bytes as u64)
                .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            base_url,
            page_concurrency: env
                .parsed(
                    "CHEESESHOP_PAGE_CONCURRENCY",
                    "a number, 0 for no limit",
                    |_: &usize| true,
                )?
                .unwrap_or(DEFAULT_PAGE_CONCURRENCY),
            page_cache_bytes: env
                .mebibytes("CHEESESHOP_PAGE_CACHE_MB", true)?
                .map(|bytes| bytes as usize)
                .unwrap_or(DEFAULT_PAGE_CACHE_BYTES),
            search_cache_bytes: env
                .mebibytes("CHEESESHOP_SEARCH_CACHE_MB", true)?
                .map(|bytes| bytes as usize)
                .unwrap_or(DEFAULT_SEARCH_CACHE_BYTES),
            search_concurrency: env
                .parsed(
                    "CHEESESHOP_SEARCH_CONCURRENCY",
                    "a number, 0 for one per CPU",
                    |_: &usize| true,
                )?
                .unwrap_or(0),
            drain: env
                .seconds("CHEESESHOP_DRAIN_SECONDS", "seconds, 0 or more", 3600.0)?
                .unwrap_or(Duration::ZERO),
            shutdown_grace: env
                .seconds("CHEESESHOP_SHUTDOWN_GRACE_SECONDS", "seconds, 0 or more", 86400.0)?
                .unwrap_or(Duration::from_secs(30)),
            request_deadline: match env.seconds(
                "CHEESESHOP_REQUEST_TIMEOUT_SECONDS",
                "seconds, 0 for no deadline",
                86400.0,
            )? {
                None => Some(DEFAULT_REQUEST_DEADLINE),
                Some(Duration::ZERO) => None,
                deadline => deadline,
            },
        })
    }

    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            max_connections: self.max_connections,
            bench_latency: self.bench_db_latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = Config::from_pairs(&[]).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
        assert_eq!(config.page_cache_bytes, DEFAULT_PAGE_CACHE_BYTES);
        assert_eq!(config.search_cache_bytes, DEFAULT_SEARCH_CACHE_BYTES);
        assert_eq!(config.base_url, None);
        assert!(!config.secure_cookies);
        assert_eq!(config.request_deadline, Some(DEFAULT_REQUEST_DEADLINE));
        assert_eq!(
            config.storage,
            StorageLocation::Local(PathBuf::from(DEFAULT_STORAGE_DIR))
        );
        assert!(!config.storage_redirect);
    }

    #[test]
    fn storage_locations() {
        let at = |pairs: &[(&str, &str)]| Config::from_pairs(pairs).unwrap().storage;
        assert_eq!(
            at(&[("CHEESESHOP_STORAGE_DIR", "files")]),
            StorageLocation::Local(PathBuf::from("files"))
        );
        assert_eq!(
            at(&[
                ("CHEESESHOP_STORAGE_URL", "file:///srv/files"),
                ("CHEESESHOP_STORAGE_DIR", "x")
            ]),
            StorageLocation::Local(PathBuf::from("/srv/files"))
        );
        assert_eq!(
            at(&[("CHEESESHOP_STORAGE_URL", "s3://packages/index/")]),
            StorageLocation::S3(S3Location {
                bucket: "packages".into(),
                prefix: "index".into()
            })
        );
    }

    #[test]
    fn good_values_are_used() {
        let config = Config::from_pairs(&[
            ("CHEESESHOP_MAX_UPLOAD_MB", " 1.5 "),
            ("CHEESESHOP_BASE_URL", "https://pypi.example.org/"),
            ("CHEESESHOP_PAGE_CACHE_MB", "0"),
            ("CHEESESHOP_SEARCH_CACHE_MB", "2"),
            ("CHEESESHOP_SECURE_COOKIES", "yes"),
            ("CHEESESHOP_DB_MAX_CONNECTIONS", "16"),
            ("CHEESESHOP_REQUEST_TIMEOUT_SECONDS", "2.5"),
            (
                "CHEESESHOP_UPSTREAM_URL",
                "https://pypi.org/simple/, http://mirror.internal/simple",
            ),
            ("CHEESESHOP_UPSTREAM_TTL", "1h"),
            ("CHEESESHOP_UPSTREAM_MIN_AGE", "7d"),
            ("CHEESESHOP_UPSTREAM_DENY", "evil-pkg, requests==2.32.0"),
        ])
        .unwrap();
        let upstream = config.upstream.as_ref().expect("an upstream");
        assert_eq!(
            upstream.urls,
            ["https://pypi.org/simple/", "http://mirror.internal/simple"]
        );
        assert_eq!(upstream.ttl, Duration::from_secs(3600));
        assert_eq!(upstream.timeout, Duration::from_secs(5));
        assert_eq!(upstream.policy.min_age, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(upstream.policy.deny.len(), 2);
        assert!(!upstream.offline);
        assert_eq!(config.max_upload_bytes, 1_572_864);
        assert_eq!(config.base_url.as_deref(), Some("https://pypi.example.org"));
        assert_eq!(config.page_cache_bytes, 0);
        assert_eq!(config.search_cache_bytes, 2 * 1024 * 1024);
        assert!(config.secure_cookies);
        assert_eq!(config.max_connections, 16);
        assert_eq!(config.request_deadline, Some(Duration::from_millis(2500)));
        let off = Config::from_pairs(&[("CHEESESHOP_REQUEST_TIMEOUT_SECONDS", "0")]).unwrap();
        assert_eq!(off.request_deadline, None, "0: no deadline");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("CHEESESHOP_MAX_UPLOAD_MB", "abc"),
            ("CHEESESHOP_MAX_UPLOAD_MB", "0"),
            ("CHEESESHOP_MAX_UPLOAD_MB", "-5"),
            ("CHEESESHOP_MAX_UPLOAD_MB", "NaN"),
            ("CHEESESHOP_BASE_URL", "pypi.example.org"),
            ("CHEESESHOP_BASE_URL", "javascript:alert(1)"),
            ("CHEESESHOP_BASE_URL", "https://"),
            ("CHEESESHOP_BASE_URL", "https://a b"),
            ("CHEESESHOP_PAGE_CACHE_MB", "lots"),
            ("CHEESESHOP_SEARCH_CACHE_MB", "-1"),
            ("CHEESESHOP_SECURE_COOKIES", "maybe"),
            ("CHEESESHOP_TRUST_PROXY", "2"),
            ("CHEESESHOP_DB_MAX_CONNECTIONS", "0"),
            ("CHEESESHOP_DB_MAX_CONNECTIONS", "many"),
            ("CHEESESHOP_SEARCH_CONCURRENCY", "-1"),
            ("CHEESESHOP_PAGE_CONCURRENCY", "x"),
            ("CHEESESHOP_BENCH_DB_LATENCY_MS", "slow"),
            ("CHEESESHOP_REQUEST_TIMEOUT_SECONDS", "-1"),
            ("CHEESESHOP_REQUEST_TIMEOUT_SECONDS", "soon"),
            ("DATABASE_URL", "mysql://localhost/db"),
            ("DATABASE_URL", "postgre://localhost/db"),
            ("CHEESESHOP_STORAGE_URL", "file://relative/path"),
            ("CHEESESHOP_STORAGE_URL", "s3://"),
            ("CHEESESHOP_STORAGE_URL", "gs://bucket"),
            ("CHEESESHOP_STORAGE_REDIRECT", "sometimes"),
            ("CHEESESHOP_UPSTREAM_URL", "pypi.org/simple/"),
            ("CHEESESHOP_UPSTREAM_URL", "https://pypi.org/simple/, ftp://mirror/"),
            ("CHEESESHOP_UPSTREAM_TTL", "soon"),
            ("CHEESESHOP_UPSTREAM_TIMEOUT", "-1"),
            ("CHEESESHOP_UPSTREAM_MIN_AGE", "a week"),
            ("CHEESESHOP_UPSTREAM_DENY", "good, bad/name"),
            ("CHEESESHOP_UPSTREAM_OFFLINE", "perhaps"),
            ("CHEESESHOP_UPSTREAM_CACHE_MAX", "lots"),
        ] {
            let error = Config::from_pairs(&[(variable, value)]).expect_err(value);
            assert_eq!(error.variable, variable);
            assert!(error.to_string().starts_with(variable), "{error}");
        }
    }
}
