//! The data layer: every SQL statement of the application lives in this
//! module tree, behind functions that take and return plain Rust values.
//!
//! Pages and server functions never see SQL or the pool type, so adding a
//! PostgreSQL backend means re-implementing this tree, not touching pages.
//! The SQL is written to be portable already: `$n` placeholders (which SQLite
//! also understands), `ON CONFLICT`, `RETURNING`, integer timestamps.

pub mod accounts;
pub mod catalog;
pub mod search;
pub mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Embedded migrations from `migrations/`, applied on every start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle to the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
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
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| DbError::BadUrl {
                url: url.to_owned(),
                source,
            })?
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let connect_error = |source| DbError::Connect {
            url: url.to_owned(),
            source,
        };
        // An in-memory database exists once per connection: keep exactly one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            // WAL is a property of the file. Switching to it needs an
            // exclusive lock and fails at once (no busy wait) when another
            // connection is active, so do it on a lone connection before the
            // pool exists; pooled connections then find the file in WAL.
            let conn = options
                .clone()
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await
                .map_err(connect_error)?;
            sqlx::Connection::close(conn).await.map_err(connect_error)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { max_connections })
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(Self { pool })
    }

    /// Applies pending migrations; an error here must stop start-up.
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Connect and migrate: what every entry point does first.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let db = Self::connect(url, max_connections).await?;
        db.migrate().await?;
        Ok(db)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
