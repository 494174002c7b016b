//! The data layer: every SQL statement of the application lives in this
//! module tree, behind functions that take and return plain Rust values.
//!
//! Pages and server functions never see SQL or the pool type, so adding a
//! PostgreSQL backend means re-implementing this tree, not touching pages.
//! The SQL is written to be portable already: `$n` placeholders (which SQLite
//! also understands), `ON CONFLICT`, `RETURNING`, integer timestamps.

pub mod accounts;
pub mod catalog;
pub mod index;
pub mod postgres;
pub mod probe;
pub mod search;
pub mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Embedded SQLite migrations from `migrations/sqlite/`, applied on every start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A handle to the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
    /// Set only by the benchmark's latency mode (see [`DbOptions::bench_latency`]).
    bench: Option<Arc<BenchLatency>>,
    /// Reads the catalogue generation without a worker thread, and without
    /// a system call while nothing was committed (a file database, after
    /// migrations; see `probe`).
    freshness: Option<Arc<probe::Freshness>>,
}

/// How to open the database.
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// Pool size (connections); 0 means the default of 8.
    pub max_connections: u32,
    /// Benchmark only (`make bench`): wait this long before every database
    /// round trip, as a network database would. The wait is a pool
    /// `before_acquire` hook, installed only when this is set, so the normal
    /// request path runs no code for it: not even a branch.
    pub bench_latency: Option<Duration>,
}

impl DbOptions {
    /// A pool of `max_connections`, nothing else changed.
    pub fn pool(max_connections: u32) -> Self {
        Self {
            max_connections,
            ..Self::default()
        }
    }
}

/// The injected latency, and how many round trips paid it.
#[derive(Debug)]
pub struct BenchLatency {
    pub latency: Duration,
    round_trips: AtomicU64,
}

impl BenchLatency {
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL {url:?}: {source}")]
    BadUrl { url: String, source: sqlx::Error },
    #[error("could not open the database {url:?}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed, the server will not start: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens (creating the file when missing) a SQLite database in WAL mode
    /// with a busy timeout, so readers never block the writer and a writer
    /// waits instead of failing when another holds the lock.
    /// Also gives the database file's path (`None` in memory).
    async fn connect(url: &str, options: &DbOptions) -> Result<(Self, Option<std::path::PathBuf>), DbError> {
        let max_connections = if options.max_connections == 0 {
            8
        } else {
            options.max_connections
        };
        let bench_latency = options.bench_latency;
        let connect_options = SqliteConnectOptions::from_str(url)
            .map_err(|source| DbError::BadUrl {
                url: url.to_owned(),
                source,
            })?
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 512 KiB of page cache per connection instead of SQLite's 2 MiB:
            // the OS page cache already holds the file, and each pooled
            // connection otherwise keeps its own copy of the hot pages. At
            // 100k projects this cut the server's peak memory under a search
            // burst by a third with no measurable cost to search (make bench);
            // bulk imports get ~8 % slower.
            .pragma("cache_size", "-512");
        let connect_error = |source| DbError::Connect {
            url: url.to_owned(),
            source,
        };
        // An in-memory database exists once per connection: keep exactly one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let path = (!in_memory).then(|| connect_options.get_filename().to_path_buf());
        if !in_memory {
            // WAL is a property of the file. Switching to it needs an
            // exclusive lock and fails at once (no busy wait) when another
            // connection is active, so do it on a lone connection before the
            // pool exists; pooled connections then find the file in WAL.
            let conn = connect_options
                .clone()
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await
                .map_err(connect_error)?;
            sqlx::Connection::close(conn).await.map_err(connect_error)?;
        }
        let mut pool_options = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { max_connections })
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            // sqlx pings every idle connection before handing it out. A
            // SQLite connection is a file handle on a worker thread: it cannot
            // be "hung up", and the ping costs a thread round trip per query.
            .test_before_acquire(false);
        let bench = bench_latency.map(|latency| {
            Arc::new(BenchLatency {
                latency,
                round_trips: AtomicU64::new(0),
            })
        });
        if let Some(bench) = &bench {
            tracing::warn!(latency = ?bench.latency, "benchmark mode: every database round trip is delayed");
            let bench = Arc::clone(bench);
            pool_options = pool_options.before_acquire(move |_conn, _meta| {
                let bench = Arc::clone(&bench);
                Box::pin(async move {
                    bench.round_trips.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(bench.latency).await;
                    Ok(true)
                })
            });
        }
        let pool = pool_options
            .connect_with(connect_options)
            .await
            .map_err(connect_error)?;
        Ok((
            Self {
                pool,
                bench,
                freshness: None,
            },
            path,
        ))
    }

    /// The catalogue generation without the pool, when the file allows
    /// (`catalog::generation` asks the pool otherwise).
    pub(crate) fn fresh_generation(&self) -> Option<i64> {
        self.freshness.as_ref()?.generation()
    }

    /// The benchmark's injected latency, when on.
    pub fn bench_latency(&self) -> Option<&BenchLatency> {
        self.bench.as_deref()
    }

    /// Applies pending migrations; an error here must stop start-up.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let applied_before = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await
            .unwrap_or(0);
        MIGRATOR.run(&self.pool).await?;
        if MIGRATOR.iter().count() as i64 > applied_before {
            // A migration may rewrite whole tables into the WAL; fold it
            // into the database now rather than have every read search a
            // large WAL until the next write's checkpoint.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await {
                tracing::warn!(%error, "checkpoint after migrations failed");
            }
        }
        Ok(())
    }

    /// Connect and migrate: what every entry point does first. A file
    /// database also gets its generation probe (the schema exists now).
    pub async fn open(url: &str, options: &DbOptions) -> Result<Self, DbError> {
        let (mut db, path) = Self::connect(url, options).await?;
        db.migrate().await?;
        // The benchmark's latency mode measures round trips: no probe there.
        if db.bench.is_none()
            && let Some(path) = path
        {
            db.freshness = probe::Freshness::open(&path).map(Arc::new);
            if db.freshness.is_none() {
                tracing::warn!(path = %path.display(), "no generation probe: cached pages ask the database each time");
            }
        }
        Ok(db)
    }

    pub async fn close(&self) {
        // The probe first: the pool's last connection folds the WAL into the
        // file only when no other connection is open.
        if let Some(freshness) = &self.freshness {
            freshness.close();
        }
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
