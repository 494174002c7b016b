//! The data layer: every SQL statement of the application lives in this
//! module tree, behind functions that take and return plain Rust values.
//!
//! Pages and server functions never see SQL or the pool type: they call the
//! functions of `accounts`, `catalog`, `index`, `search` and `write` with a
//! [`Db`], which is SQLite or PostgreSQL as `DATABASE_URL` says.
//!
//! How the two backends share one API: a statement that both engines run
//! alike (most of them: `$n` placeholders, `ON CONFLICT`, `RETURNING`,
//! integer timestamps, `EXISTS` as a boolean) is written once inside
//! [`each_backend!`], which compiles it for each engine's pool, so each copy
//! is checked against its own engine's types. Where an engine has a better
//! form (full-text search, JSON aggregation, write locks, the sharded
//! counters) the function matches on the backend and each arm has its own
//! SQL. A trait with one implementation per backend (atuin's shape) would
//! repeat every one of the ~60 shared statements twice for no difference in
//! behaviour; the enum keeps one copy and still lets either engine differ
//! where it should. `tests/http/conformance.rs` runs one suite on both.

/// Runs `$body` with `$pool` bound to the pool of whichever backend `$db`
/// is on: the body is compiled once per backend.
macro_rules! each_backend {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::server::db::Pool::Sqlite($pool) => $body,
            $crate::server::db::Pool::Postgres($pool) => $body,
        }
    };
}

/// `sql` with `LIMIT n` written into it, for limits the code fixes (a
/// page's ten newest releases, a feed's items, a search's window).
///
/// SQLite (3.4x on) reads a bound LIMIT's value while planning, to size
/// the plan by it, and then marks the prepared statement to be prepared
/// again whenever that parameter is bound anew: every execution paid a
/// full prepare (callgrind: 12 % of the instructions of `/`, for one
/// statement). A literal gives the planner the same number and keeps the
/// prepared statement; sqlx caches one per text, so the limits stay few
/// (constants of the code, never a visitor's number). The number is an
/// `i64` written in decimal: nothing but digits and a sign joins the SQL.
pub(crate) fn with_limit(sql: &str, limit: i64) -> sqlx::AssertSqlSafe<String> {
    with_limit_then(sql, limit, "")
}

/// `with_limit` where more follows the limit: `head LIMIT n tail` (an
/// `OFFSET $k`, the rest of a statement whose subquery is limited).
pub(crate) fn with_limit_then(head: &str, limit: i64, tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{head} LIMIT {limit}{tail}"))
}

/// `with_limit` for a statement being built: writes `limit`, the number of
/// the `LIMIT` the builder has just written, as a literal instead of a bound
/// parameter, for the same reason and on the same terms.
pub(crate) fn push_limit<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, limit: i64) {
    q.push(limit);
}

/// The statement that appends `$event` (a `write::maintain::NewEvent`) to
/// the security history at `$now`, ready to execute on either backend.
macro_rules! insert_event {
    ($event:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO security_events (project_id, project_name, actor_id, actor, subject_id, kind, detail, address, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($event.project.map(|p| p.0))
        .bind($event.project.map(|p| p.1))
        .bind($event.actor.map(|a| a.0))
        .bind($event.actor.map(|a| a.1))
        .bind($event.subject_id)
        .bind($event.kind)
        .bind(&$event.detail)
        .bind($event.address.as_deref())
        .bind($now)
    };
}

pub mod accounts;
pub mod catalog;
pub mod changes;
pub mod copy;
pub mod gate;
pub mod index;
pub mod latency;
pub mod manage;
pub mod postgres;
pub mod probe;
pub mod search;
pub mod upstream;
pub mod write;

pub use latency::BenchLatency;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Embedded SQLite migrations from `migrations/sqlite/`, applied on every start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The connection pool of one backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which engine a [`Db`] is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// A handle to the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    /// Set only by the benchmark's latency mode (see [`DbOptions::bench_latency`]).
    bench: Option<Arc<BenchLatency>>,
    /// Reads the catalogue generation without a worker thread, and without
    /// a system call while nothing was committed (a file database, after
    /// migrations; see `probe`).
    freshness: Option<Arc<probe::Freshness>>,
    /// PostgreSQL: the generation's reads, coalesced (see `gate`).
    gate: Option<Arc<gate::GenerationGate>>,
    /// PostgreSQL: the generation known between changes, once a server
    /// listens for them (see `changes`).
    changes: Option<Arc<changes::Changes>>,
}

/// How to open the database.
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// Pool size (connections); 0 means the default (8 on SQLite, 16 on
    /// PostgreSQL).
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

/// Whether `error` means the database cannot be reached right now (down,
/// restarting, connections lost or all busy): the request should get a
/// 503 and may be retried, rather than a 500.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (class 08), shutting down or
        // starting up (57P01-57P03), too many connections (53300); SQLite:
        // the database stayed locked past the busy timeout.
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "5" | "6")
        }),
        _ => false,
    }
}

/// Whether `error` is the database refusing a value the client sent (text
/// PostgreSQL cannot store, such as a NUL character): a 400, not a 500.
pub fn is_bad_input(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| matches!(&*code, "22021" | "22P05" | "54000")),
        sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL {url:?} (expected sqlite://PATH or postgres://USER@HOST/DATABASE): {source}")]
    BadUrl { url: String, source: sqlx::Error },
    #[error("could not open the database {url:?}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed, the server will not start: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// One round trip on a pooled connection (`/_health`).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        each_backend!(self, pool => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool).await)?;
        Ok(())
    }

    /// Opens (creating the file when missing) a SQLite database in WAL mode
    /// with a busy timeout, so readers never block the writer and a writer
    /// waits instead of failing when another holds the lock.
    /// Also gives the database file's path (`None` in memory).
    async fn connect_sqlite(url: &str, options: &DbOptions) -> Result<(Self, Option<std::path::PathBuf>), DbError> {
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
        let bench = bench_latency.map(BenchLatency::new);
        if let Some(bench) = &bench {
            let bench = Arc::clone(bench);
            pool_options = pool_options.before_acquire(move |_conn, _meta| Box::pin(bench.pay()));
        }
        let pool = pool_options
            .connect_with(connect_options)
            .await
            .map_err(connect_error)?;
        Ok((
            Self {
                pool: Pool::Sqlite(pool),
                bench,
                freshness: None,
                gate: None,
                changes: None,
            },
            path,
        ))
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The catalogue generation without the pool, when the file allows
    /// (`catalog::generation` asks the pool otherwise).
    pub(crate) fn fresh_generation(&self) -> Option<i64> {
        self.freshness.as_ref()?.generation()
    }

    /// The coalesced generation reads, on PostgreSQL.
    pub(crate) fn gate(&self) -> Option<&Arc<gate::GenerationGate>> {
        self.gate.as_ref()
    }

    /// What this instance knows of the generation between changes, on
    /// PostgreSQL.
    pub fn changes(&self) -> Option<&Arc<changes::Changes>> {
        self.changes.as_ref()
    }

    /// A server listens for catalogue changes while the guard lives, so
    /// that cached answers are checked without a round trip (PostgreSQL;
    /// nothing to do on SQLite, whose probe reads shared memory).
    pub fn listen_for_changes(&self) -> Option<changes::Listening> {
        match (&self.pool, &self.changes) {
            // The latency mode measures round trips: every one is made.
            (Pool::Postgres(pool), Some(changes)) if self.bench.is_none() => {
                Some(changes::listen(pool, Arc::clone(changes)))
            }
            _ => None,
        }
    }

    /// A write through this instance committed: whatever it changed is
    /// seen by the next request here, without waiting for its notification.
    pub(crate) fn wrote(&self) {
        if let Some(changes) = &self.changes {
            changes.changed();
        }
    }

    /// The benchmark's injected latency, when on.
    pub fn bench_latency(&self) -> Option<&BenchLatency> {
        self.bench.as_deref()
    }

    /// Applies pending migrations; an error here must stop start-up.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let pool = match &self.pool {
            Pool::Sqlite(pool) => pool,
            Pool::Postgres(pool) => return postgres::migrate(pool).await,
        };
        let applied_before = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await
            .unwrap_or(0);
        MIGRATOR.run(pool).await?;
        if MIGRATOR.iter().count() as i64 > applied_before {
            // A migration may rewrite whole tables into the WAL; fold it
            // into the database now rather than have every read search a
            // large WAL until the next write's checkpoint.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await {
                tracing::warn!(%error, "checkpoint after migrations failed");
            }
        }
        Ok(())
    }

    /// Connect and migrate: what every entry point does first. A file
    /// database also gets its generation probe (the schema exists now).
    pub async fn open(url: &str, options: &DbOptions) -> Result<Self, DbError> {
        if postgres::is_postgres_url(url) {
            let bench = options.bench_latency.map(BenchLatency::new);
            let pool = postgres::connect(url, options, bench.as_ref()).await?;
            let db = Self {
                pool: Pool::Postgres(pool),
                bench,
                freshness: None,
                gate: Some(Arc::new(gate::GenerationGate::new())),
                changes: Some(Arc::new(changes::Changes::default())),
            };
            db.migrate().await?;
            return Ok(db);
        }
        let (mut db, path) = Self::connect_sqlite(url, options).await?;
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

    /// Tidies up after a bulk load (see `postgres::compact`); nothing to do
    /// on SQLite.
    pub async fn after_bulk_load(&self) {
        if let Pool::Postgres(pool) = &self.pool {
            postgres::compact(pool).await;
        }
    }

    pub async fn close(&self) {
        // The probe first: the pool's last connection folds the WAL into the
        // file only when no other connection is open.
        if let Some(freshness) = &self.freshness {
            freshness.close();
        }
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// `text` as a `LIKE … ESCAPE '\'` pattern that finds it anywhere: its own
/// `%`, `_` and `\` match themselves, not as wildcards.
pub(crate) fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod like_tests {
    #[test]
    fn like_patterns_match_text_literally() {
        assert_eq!(super::like_contains("a_b%c\\"), "%a\\_b\\%c\\\\%");
        assert_eq!(super::like_contains(""), "%%");
    }
}
