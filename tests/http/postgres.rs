//! The PostgreSQL schema on a real cluster (scripts/pg.sh): migrations that
//! instances starting together apply once, counters and the catalogue
//! generation that follow every writer, NOTIFY only for committed changes,
//! and search words folded as SQLite's tokenizer folds them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cheeseshop::server::db::DbOptions;
use cheeseshop::server::db::postgres;
use sqlx::postgres::{PgListener, PgPool};

fn admin_url() -> String {
    crate::helpers::pg_admin_url()
}

/// A new, empty database of this test's own; its URL.
async fn fresh_database() -> String {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let admin = admin_url();
    let name = format!(
        "test_{}_{}_{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos()
    );
    let pool = PgPool::connect(&admin).await.expect("connect to the cluster");
    // `name` is ours: digits and underscores only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create a database");
    pool.close().await;
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
}

async fn migrated(url: &str) -> PgPool {
    let pool = postgres::connect(url, &DbOptions::pool(4), None)
        .await
        .expect("connect");
    postgres::migrate(&pool).await.expect("migrate");
    pool
}

async fn add_project(pool: &PgPool, name: &str) {
    sqlx::query("INSERT INTO projects (name, normalized_name, created) VALUES ($1, $1, 0)")
        .bind(name)
        .execute(pool)
        .await
        .expect("insert a project");
}

async fn counts(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as("SELECT sum(projects)::BIGINT, sum(generation)::BIGINT FROM catalog_counts")
        .fetch_one(pool)
        .await
        .expect("counts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    let url = fresh_database().await;
    let starts = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let pool = postgres::connect(&url, &DbOptions::pool(2), None).await?;
            postgres::migrate(&pool).await?;
            pool.close().await;
            Ok::<_, cheeseshop::server::db::DbError>(())
        })
    });
    for start in futures_util::future::join_all(starts).await {
        start.expect("task").expect("every instance starts");
    }
    let pool = migrated(&url).await;
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("the migrations table");
    let expected: Vec<(i64, bool)> = postgres::MIGRATOR.iter().map(|m| (m.version, true)).collect();
    assert_eq!(applied, expected, "each migration recorded once, successfully");
    let shards: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog_counts")
        .fetch_one(&pool)
        .await
        .expect("shards");
    assert_eq!(shards, 16, "the counter rows were created once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_migration_is_an_error_not_a_half_schema() {
    let url = fresh_database().await;
    let pool = migrated(&url).await;
    // A database whose recorded migration differs from ours must not be
    // served: the checksum check refuses it.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea")
        .execute(&pool)
        .await
        .expect("tamper");
    let error = postgres::migrate(&pool)
        .await
        .expect_err("a changed migration is refused");
    assert!(error.to_string().contains("migration"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_and_the_generation_follow_concurrent_writers() {
    let url = fresh_database().await;
    let pool = migrated(&url).await;
    let (projects, generation_before) = counts(&pool).await;
    assert_eq!(projects, 0);
    // 64 inserts from 8 connections at once, then 8 deletes.
    let writers = (0..8).map(|w| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for i in 0..8 {
                add_project(&pool, &format!("p-{w}-{i}")).await;
            }
        })
    });
    for writer in futures_util::future::join_all(writers).await {
        writer.expect("writer");
    }
    sqlx::query("DELETE FROM projects WHERE normalized_name LIKE 'p-3-%'")
        .execute(&pool)
        .await
        .expect("delete");
    let (projects, generation_after) = counts(&pool).await;
    assert_eq!(projects, 56, "64 inserted, 8 deleted");
    assert!(
        generation_after >= generation_before + 65,
        "every statement moved the generation: {generation_before} → {generation_after}"
    );
    let users: i64 = sqlx::query_scalar("SELECT sum(users)::BIGINT FROM catalog_counts")
        .fetch_one(&pool)
        .await
        .expect("users");
    assert_eq!(users, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listeners_hear_of_committed_changes_only() {
    let url = fresh_database().await;
    let pool = migrated(&url).await;
    let mut listener = PgListener::connect(&url).await.expect("listener");
    listener.listen("cheeseshop_catalog").await.expect("listen");

    // Rolled back: nothing is announced, and the generation did not move.
    let (_, generation) = counts(&pool).await;
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO projects (name, normalized_name, created) VALUES ('x', 'x', 0)")
        .execute(&mut *tx)
        .await
        .expect("insert");
    tx.rollback().await.expect("rollback");
    assert_eq!(counts(&pool).await.1, generation);
    let heard = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
    assert!(heard.is_err(), "a rolled-back change is not announced");

    // Committed: announced once, after the commit.
    let mut tx = pool.begin().await.expect("begin");
    for name in ["a", "b", "c"] {
        sqlx::query("INSERT INTO projects (name, normalized_name, created) VALUES ($1, $1, 0)")
            .bind(name)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    let early = tokio::time::timeout(Duration::from_millis(200), listener.recv()).await;
    assert!(early.is_err(), "nothing is announced before the commit");
    tx.commit().await.expect("commit");
    let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("announced after the commit")
        .expect("a notification");
    assert_eq!(notification.channel(), "cheeseshop_catalog");
    let again = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
    assert!(again.is_err(), "one transaction, one announcement");
    assert!(counts(&pool).await.1 > generation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_documents_fold_case_and_diacritics_and_weigh_names() {
    let url = fresh_database().await;
    let pool = migrated(&url).await;
    for (name, summary, description) in [
        ("creme", "Desserts", ""),
        ("tools", "Crème brûlée recipes", ""),
        ("other", "Nothing", "A long text that mentions CREME once."),
    ] {
        add_project(&pool, name).await;
        sqlx::query(
            "INSERT INTO project_search (project_id, name, summary, keywords, description) \
             SELECT id, name, $2, '', $3 FROM projects WHERE normalized_name = $1",
        )
        .bind(name)
        .bind(summary)
        .bind(description)
        .execute(&pool)
        .await
        .expect("index");
    }
    let ranked: Vec<String> = sqlx::query_scalar(
        "SELECT s.name FROM project_search s \
         WHERE s.document @@ to_tsquery('cheeseshop_search', 'crème:*') \
         ORDER BY ts_rank(s.document, to_tsquery('cheeseshop_search', 'crème:*')) DESC",
    )
    .fetch_all(&pool)
    .await
    .expect("search");
    assert_eq!(
        ranked,
        ["creme", "tools", "other"],
        "name over summary over description"
    );
    // Hostile query text is data: plainto_tsquery never fails on syntax.
    let hostile: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM project_search WHERE document @@ plainto_tsquery('cheeseshop_search', $1)",
    )
    .bind("')) OR 1=1; -- & | ! :* \\ x")
    .fetch_one(&pool)
    .await
    .expect("any text is a query");
    assert_eq!(hostile, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uniqueness_is_decided_by_named_constraints() {
    let url = fresh_database().await;
    let pool = migrated(&url).await;
    add_project(&pool, "flask").await;
    let error = sqlx::query("INSERT INTO projects (name, normalized_name, created) VALUES ('Flask', 'flask', 0)")
        .execute(&pool)
        .await
        .expect_err("a second flask");
    let constraint = error
        .as_database_error()
        .and_then(|e| e.constraint())
        .map(str::to_owned);
    assert_eq!(constraint.as_deref(), Some("projects_normalized_name_key"));
}
