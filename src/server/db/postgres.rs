//! The PostgreSQL backend: its connection pool and its migrations
//! (`migrations/postgres/`).
//!
//! The queries themselves are beside SQLite's in the other modules of
//! `db` (see its documentation).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use std::sync::Arc;

use super::{BenchLatency, DbError, DbOptions};

/// Embedded PostgreSQL migrations, applied on start. sqlx takes a
/// PostgreSQL advisory lock around them: instances that start together
/// apply each migration once, the others wait and then find nothing to do.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Whether `url` names a PostgreSQL database (both schemes libpq accepts).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A connection idle this long is checked (a round trip) before it is
/// handed out again.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long a request may wait for a connection before the pool gives up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection returned to the pool may wait for the answer to a
/// statement its request left unfinished before it is closed instead
/// (`finish_or_close`). As long as the pool lets a request wait for one.
const RELEASE_WAIT: Duration = ACQUIRE_TIMEOUT;

/// The pool's `after_release` check: whether a returned connection may be
/// used again.
///
/// A request dropped mid-statement (past its deadline, or its client gone)
/// hands its connection back with the statement's answer still to come.
/// sqlx then reads that answer before it pools the connection again (its
/// check after release), with no time limit: from a server that stops
/// answering without closing the connection (a host gone, a network
/// partition), never, and the connection stays taken until the kernel
/// gives up on it, about 15 minutes on Linux. A pool whose connections
/// were all in flight when its server went away then answers every
/// request with a 503 for that long, even once a standby has taken the
/// server's address. Here the unfinished answer is read first, for up to
/// `RELEASE_WAIT`: a connection whose server does not answer in that time
/// is closed (its slot is free at once: closing sends one message, which
/// the kernel buffers, and waits for nothing), and the pool opens a new
/// one when it needs it. A connection with nothing pending returns at
/// once, with no round trip (`Connection::flush` reads nothing then).
///
/// What this leaves: sqlx's own check comes after this one, a round trip
/// with no time limit. A connection whose check is under way when the
/// host goes is still lost until the kernel gives it up. Bounding that too
/// would take a check of our own before sqlx's, a round trip more per
/// statement, always (a third less a pool carries across a network), for
/// connections that are between two round trips at the moment a host
/// vanishes: some of those busy then, never all the pool.
///
/// `flush` is sqlx's own step for this (`ping` starts with it), public but
/// hidden from its documentation: sqlx is pinned to 0.9 in Cargo.toml, and
/// `postgres::connections_lost_mid_statement_are_closed_not_kept_from_the_pool`
/// fails without this check.
async fn finish_or_close(conn: &mut sqlx::PgConnection) -> bool {
    matches!(
        tokio::time::timeout(RELEASE_WAIT, sqlx::Connection::flush(conn)).await,
        Ok(Ok(()))
    )
}

/// A pool on the database at `url` (libpq's URL syntax, with `sslmode`,
/// `sslrootcert` and the rest). A connection that was idle for a second
/// or more is checked before it is handed out, so a restarted server costs
/// failed requests while it is down, not a pool of dead connections
/// afterwards (a connection whose query fails is closed, not reused).
/// Busy connections are not checked again before use: sqlx's
/// `test_before_acquire` pings on every acquisition, a round trip per
/// statement in the request's path, which was a third of an uncached
/// page's time with a network between (make bench, latency mode). sqlx
/// checks each connection returned to the pool anyway (a round trip after
/// the statement, off the request's path, that keeps the connection from
/// the next statement meanwhile: README, "Sizing"); one returned with a
/// statement unfinished is closed unless its answer comes within seconds
/// (`finish_or_close`). Waiting for a connection gives up after a few
/// seconds instead of hanging the request.
pub async fn connect(url: &str, options: &DbOptions, bench: Option<&Arc<BenchLatency>>) -> Result<PgPool, DbError> {
    let connect_options = PgConnectOptions::from_str(url)
        .map_err(|source| DbError::BadUrl {
            url: redacted(url),
            source,
        })?
        .application_name("cheeseshop");
    let max_connections = if options.max_connections == 0 {
        16
    } else {
        options.max_connections
    };
    let mut pool_options = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false);
    let bench = bench.cloned();
    let release_bench = bench.clone();
    pool_options = pool_options.after_release(move |conn, _meta| {
        let bench = release_bench.clone();
        Box::pin(async move {
            if let Some(bench) = bench {
                // sqlx checks each connection returned to the pool with a
                // round trip before any statement may use it again: across
                // a network, one more latency that the connection is held
                // for (latency.rs).
                bench.pay_release_check().await?;
            }
            // `false` closes the connection.
            Ok(finish_or_close(conn).await)
        })
    });
    pool_options = pool_options.before_acquire(move |conn, meta| {
        let bench = bench.clone();
        let check = meta.idle_for >= CHECK_AFTER_IDLE;
        Box::pin(async move {
            if let Some(bench) = bench {
                bench.pay().await?;
            }
            // `false` discards the connection; the pool opens another.
            Ok(!check || sqlx::Connection::ping(conn).await.is_ok())
        })
    });
    pool_options
        .connect_with(connect_options)
        .await
        .map_err(|source| DbError::Connect {
            url: redacted(url),
            source,
        })
}

/// Applies pending migrations; an error here must stop start-up.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Rewrites the counter shards' table after a bulk load (`import`,
/// `demo-data`, `copy`): each statement of a load updates its shard, and
/// the row versions one transaction leaves cannot be pruned in place, so
/// the 16 rows end up scattered over megabytes. VACUUM FULL gives them one
/// page again. It locks the table for the moment it takes (16 rows); should
/// a writer hold the table, it gives up after a second and leaves it to
/// autovacuum (readers go through the primary key either way).
pub async fn compact(pool: &PgPool) {
    let result = async {
        let mut conn = pool.acquire().await?;
        sqlx::query("SET lock_timeout = '1s'").execute(&mut *conn).await?;
        sqlx::query("VACUUM (FULL, ANALYZE) catalog_counts")
            .execute(&mut *conn)
            .await?;
        sqlx::query("RESET lock_timeout").execute(&mut *conn).await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "could not compact the counters (autovacuum will)");
    }
}

/// `url` without its password, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_apart() {
        assert!(is_postgres_url("postgres://db.example/cheeseshop"));
        assert!(is_postgres_url("postgresql://u@localhost:5433/x?sslmode=require"));
        assert!(!is_postgres_url("sqlite://cheeseshop.db"));
        assert!(!is_postgres_url("sqlite::memory:"));
    }

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redacted("postgres://app:s3cr@t@db.example:5432/idx?sslmode=verify-full"),
            "postgres://app:***@db.example:5432/idx?sslmode=verify-full"
        );
        assert_eq!(redacted("postgres://app@db/idx"), "postgres://app@db/idx");
        assert_eq!(redacted("postgresql://db/idx"), "postgresql://db/idx");
        assert_eq!(redacted("postgres://app:pw@db"), "postgres://app:***@db");
        assert_eq!(redacted("not a url"), "not a url");
    }
}
