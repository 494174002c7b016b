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
    // Words as SQLite's tokenizer sees them: a hyphenated name is its parts,
    // not also the whole (which no query term could match, and which every
    // prefix search had to visit).
    let words: String =
        sqlx::query_scalar("SELECT to_tsvector('cheeseshop_search', 'Secure-Async-23 flask_login')::TEXT")
            .fetch_one(&pool)
            .await
            .expect("tokenize");
    assert_eq!(words, "'23':3 'async':2 'flask':4 'login':5 'secure':1");
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

/// A cluster of this test's own (so that restarting it disturbs no other
/// test), stopped and deleted when dropped.
struct OwnCluster {
    dir: String,
    admin_url: String,
}

impl OwnCluster {
    fn start() -> Self {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = format!(
            "/tmp/cheeseshop-pg-own-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        );
        let output = Self::script(&dir, "start");
        let admin_url = String::from_utf8(output).expect("a URL").trim().to_owned();
        Self { dir, admin_url }
    }

    fn script(dir: &str, verb: &str) -> Vec<u8> {
        let output = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh"))
            .arg(verb)
            .env("CHEESESHOP_PG_DIR", dir)
            .output()
            .expect("run scripts/pg.sh");
        assert!(
            output.status.success(),
            "scripts/pg.sh {verb}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh"))
            .arg("stop")
            .env("CHEESESHOP_PG_DIR", &self.dir)
            .output();
    }
}

impl OwnCluster {
    /// A database `cheeseshop` on the cluster, made as an operator would:
    /// its URL.
    async fn create_database(&self) -> String {
        let admin = PgPool::connect(&self.admin_url).await.expect("connect");
        sqlx::query("CREATE DATABASE cheeseshop")
            .execute(&admin)
            .await
            .expect("create");
        admin.close().await;
        format!("{}/cheeseshop", self.admin_url.rsplit_once('/').expect("url").0)
    }

    /// `scripts/pg.sh verb` on this cluster, off the async threads.
    async fn run(&self, verb: &'static str) {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || Self::script(&dir, verb))
            .await
            .expect(verb);
    }
}

/// What one request of the load saw.
struct Seen {
    started: std::time::Instant,
    /// How long its answer took (whole, body included).
    took: Duration,
    what: String,
    status: u16,
    /// The answer was `application/json`.
    json: bool,
}

/// How an outage begins and ends.
trait Disruption {
    async fn begin(&self);
    async fn end(&self);
}

/// `scripts/pg.sh` verbs on a cluster of the test's own: the one that
/// begins the outage, the one that ends it.
struct Verbs<'a>(&'a OwnCluster, &'static str, &'static str);

impl Disruption for Verbs<'_> {
    async fn begin(&self) {
        self.0.run(self.1).await;
    }

    async fn end(&self) {
        self.0.run(self.2).await;
    }
}

/// What a load saw through an outage of the database, and when the outage
/// began and ended.
struct Outage {
    seen: Vec<Seen>,
    began: std::time::Instant,
    ended: std::time::Instant,
}

/// `workers` clients, each making `request(worker, n)` (what to call it,
/// and the request) in a loop, 20 ms apart, while the database answers for
/// 1.5 s, then through `outage` (begun, held for `held`, ended), then 8 s
/// more.
async fn load_through_outage<F>(outage: &impl Disruption, workers: u32, request: F, held: Duration) -> Outage
where
    F: Fn(&reqwest::Client, u32, u32) -> (String, reqwest::RequestBuilder) + Send + Sync + 'static,
{
    use std::time::Instant;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let request = std::sync::Arc::new(request);
    let mut load = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let (stop, client, request) = (stop.clone(), client.clone(), request.clone());
        load.spawn(async move {
            let mut seen = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (what, builder) = request(&client, worker, n);
                let started = Instant::now();
                let (status, json) = match builder.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let json = response
                            .headers()
                            .get("content-type")
                            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                        let _ = response.bytes().await;
                        (status, json)
                    }
                    Err(_) => (0, false),
                };
                let took = started.elapsed();
                seen.push(Seen {
                    started,
                    took,
                    what,
                    status,
                    json,
                });
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let began = Instant::now();
    outage.begin().await;
    tokio::time::sleep(held).await;
    outage.end().await;
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = load.join_all().await.into_iter().flatten().collect();
    Outage { seen, began, ended }
}

/// What every outage test asserts of its load: each failure is a clean
/// 503 (a server function's is its JSON error) of a request started at
/// most `failing_from` before the outage began; with a `deadline`, no
/// request waits much past it; every request started 5 s after the outage
/// ended succeeds; and the load ran through it all.
fn assert_503s_then_full_service(outage: &Outage, failing_from: Duration, deadline: Option<Duration>) {
    let mut failed = 0;
    let mut after_recovery = 0;
    for s in &outage.seen {
        if let Some(deadline) = deadline {
            assert!(
                s.took <= deadline + Duration::from_millis(1500),
                "{} waited {:?}: no request waits much past its deadline",
                s.what,
                s.took
            );
        }
        let ok = (200..300).contains(&s.status);
        if s.started >= outage.ended + Duration::from_secs(5) {
            assert!(
                ok,
                "{} started 5 s after the database answered again: {}",
                s.what, s.status
            );
            after_recovery += 1;
        } else if !ok {
            assert_eq!(s.status, 503, "{}: a failure is a clean 503", s.what);
            assert!(
                s.started + failing_from >= outage.began,
                "{} failed before the database stopped answering",
                s.what
            );
            if s.what.starts_with("/api/") {
                assert!(s.json, "a server function's 503 is its JSON error");
            }
            failed += 1;
        }
    }
    assert!(failed > 0, "the load ran while the database was out");
    assert!(after_recovery > 20, "the load went on after recovery: {after_recovery}");
}

/// A load's requests that read `project`: its page, Simple and JSON
/// answers, the home page, a search for `word` and suggestions for
/// `prefix` (a server function), in turn.
fn reads_of(
    app: std::sync::Arc<crate::helpers::TestApp>,
    project: &'static str,
    word: &'static str,
    prefix: &'static str,
) -> impl Fn(&reqwest::Client, u32, u32) -> (String, reqwest::RequestBuilder) + Send + Sync + 'static {
    move |client, worker, n| {
        let path = match (worker + n) % 6 {
            0 => "/".to_owned(),
            1 => format!("/project/{project}/"),
            2 => format!("/simple/{project}/"),
            3 => format!("/pypi/{project}/json"),
            4 => format!("/search/?q={word}"),
            _ => "/api/suggest".to_owned(),
        };
        let request = if path == "/api/suggest" {
            client.post(app.url(&path)).form(&[("q", prefix)])
        } else {
            client.get(app.url(&path))
        };
        (path, request)
    }
}

/// Opens all `n` connections of `db`'s pool (`n` statements at once).
async fn open_connections(db: &cheeseshop::server::db::Db, n: usize) {
    let all = (0..n).map(|_| cheeseshop::server::db::catalog::stats(db));
    for counted in futures_util::future::join_all(all).await {
        counted.expect("stats");
    }
}

/// PostgreSQL goes down for 7 s under a load of page views, searches, API
/// reads and uploads, then comes back: the server keeps running; requests
/// wait for a connection up to the pool's 5 s, so those that cannot get one
/// in time fail, only those and only with 503 (none hangs);
/// within 5 s of its return every request succeeds again; and every upload
/// that was answered 200 is there whole, counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_costs_only_503s_while_it_is_down() {
    use crate::helpers::{Package, spawn_on_with, user_with_token};

    let cluster = OwnCluster::start();
    let url = cluster.create_database().await;
    // With notifications on: after the restart it must listen again.
    let app = std::sync::Arc::new(spawn_on_with(&url, |s| s.cache_notify = true).await);
    let (_, token) = user_with_token(&app, "loader", None).await;
    let package = Package::new("load-pkg", "0.1");
    app.publish(&token, &package).await;

    let requests = {
        let app = app.clone();
        move |client: &reqwest::Client, worker: u32, n: u32| {
            if worker < 3 {
                let path = ["/", "/project/load-pkg/", "/simple/load-pkg/", "/search/?q=load"][(n % 4) as usize];
                (path.to_owned(), client.get(app.url(path)))
            } else {
                let version = format!("1.{worker}.{n}");
                let package = Package::new("load-pkg", &version);
                let (filename, wheel) = package.wheel();
                let form = package.form("bdist_wheel", &filename, &wheel, &[]);
                (
                    format!("upload {version}"),
                    client
                        .post(app.url("/legacy/"))
                        .basic_auth("__token__", Some(&token))
                        .multipart(form),
                )
            }
        }
    };
    let outage = load_through_outage(&Verbs(&cluster, "down", "up"), 6, requests, Duration::from_secs(7)).await;
    assert_503s_then_full_service(&outage, Duration::from_secs(6), None);
    let seen = outage.seen;

    // Every upload answered 200 is there, whole; the counters agree.
    let doc = app.get_json("/pypi/load-pkg/json").await;
    let releases = doc["releases"].as_object().expect("releases");
    for s in seen.iter().filter(|s| s.status == 200) {
        if let Some(version) = s.what.strip_prefix("upload ") {
            assert_eq!(releases[version].as_array().map(Vec::len), Some(1), "{version}");
        }
    }
    for (version, files) in releases {
        let files = files.as_array().expect("files");
        assert_eq!(files.len(), 1, "{version}: a release with its file");
        let response = app
            .client
            .get(files[0]["url"].as_str().expect("url"))
            .send()
            .await
            .expect("download");
        assert_eq!(response.status().as_u16(), 200, "{version}: its file downloads");
    }
    let stats = cheeseshop::server::db::catalog::stats(&app.db).await.expect("stats");
    assert_eq!(stats.releases as usize, releases.len());
    assert_eq!(stats.files as usize, releases.len());
    // Listening for changes again (cached answers without a round trip).
    let changes = app.db.changes().expect("PostgreSQL").clone();
    assert!(
        eventually(Duration::from_secs(10), || changes.is_live()).await,
        "the server listens for changes again after the restart"
    );
    app.db.close().await;
    drop(cluster);
}

/// PostgreSQL stops answering without closing its connections (its
/// processes stopped, as a hung host or a network that drops packets leaves
/// them) for 9 s under a load of pages, API reads, searches and server
/// functions: no request waits past its deadline (2 s here), each failure
/// is a clean 503 (JSON for a server function), and within 5 s of the
/// database answering again every request succeeds. Without the deadline,
/// the requests in flight waited for the whole freeze.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_stops_answering_costs_503s_within_the_deadline_never_a_hung_request() {
    use crate::helpers::{Package, spawn_on_with, user_with_token};

    const DEADLINE: Duration = Duration::from_secs(2);
    let cluster = OwnCluster::start();
    let url = cluster.create_database().await;
    let app = std::sync::Arc::new(spawn_on_with(&url, |s| s.request_deadline = Some(DEADLINE)).await);
    let (_, token) = user_with_token(&app, "freezer", None).await;
    let package = Package::new("frozen-pkg", "0.1");
    app.publish(&token, &package).await;

    let outage = load_through_outage(
        &Verbs(&cluster, "freeze", "thaw"),
        6,
        reads_of(app.clone(), "frozen-pkg", "frozen", "froz"),
        Duration::from_secs(9),
    )
    .await;
    assert_503s_then_full_service(&outage, DEADLINE + Duration::from_secs(1), Some(DEADLINE));
    app.db.close().await;
    drop(cluster);
}

/// A bulk load updates the counter shards thousands of times; afterwards
/// they are one page again, and reading them does not depend on it.
/// A TCP relay in front of PostgreSQL that loses its server the way a host
/// that vanishes (or a network partition) does: every connection it
/// carries stops carrying bytes, and none is closed; connections made while
/// it is down are accepted and never answered. Once it is up again, new
/// connections reach the server, as when a standby has taken over the
/// vanished host's address; the old ones stay dead.
struct Relay {
    addr: std::net::SocketAddr,
    /// How many times the host vanished, and whether it is gone now.
    state: tokio::sync::watch::Sender<(u32, bool)>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(server: std::net::SocketAddr) -> Self {
        use std::sync::{Arc, Mutex};
        use tokio::net::{TcpListener, TcpStream};

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (state, _) = tokio::sync::watch::channel((0u32, false));
        // Connections lost with the host, kept open until the relay goes.
        let lost: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let states = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut watch = states.subscribe();
                let (vanished, gone) = *watch.borrow_and_update();
                let lost = lost.clone();
                tokio::spawn(async move {
                    if gone {
                        lost.lock().expect("lost").push(client);
                        return;
                    }
                    let Ok(mut upstream) = TcpStream::connect(server).await else {
                        return;
                    };
                    let cut = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => false,
                        _ = watch.wait_for(|(n, _)| *n != vanished) => true,
                    };
                    if cut {
                        lost.lock().expect("lost").extend([client, upstream]);
                    }
                });
            }
            drop(lost);
        });
        Self { addr, state, accept }
    }

    /// `url` (a PostgreSQL URL on 127.0.0.1) through the relay.
    fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').expect("a database");
        let (user, _) = authority.rsplit_once('@').expect("a user");
        format!("{scheme}://{user}@{}/{path}", self.addr)
    }

    fn server_of(url: &str) -> std::net::SocketAddr {
        let rest = url.split_once('@').expect("a user").1;
        rest.split_once('/').expect("a database").0.parse().expect("host:port")
    }
}

impl Disruption for Relay {
    async fn begin(&self) {
        self.state.send_modify(|(vanished, gone)| {
            *vanished += 1;
            *gone = true;
        });
    }

    async fn end(&self) {
        self.state.send_modify(|(_, gone)| *gone = false);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Four statements are sent on the pool's four connections, then the
/// server's host vanishes (`Relay`) and the statements are dropped, as a
/// request's are at its deadline; then a new server answers at the address.
/// Each lost connection is closed once its answer has not come for a few
/// seconds, and the pool carries statements again. Before
/// `finish_or_close`, sqlx's check of each returned connection waited for
/// an answer that never came: the four stayed taken, and every statement
/// after was refused for want of a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_lost_mid_statement_are_closed_not_kept_from_the_pool() {
    use cheeseshop::server::db::{Db, catalog};

    let url = fresh_database().await;
    drop(crate::helpers::spawn_on(&url).await);
    let relay = Relay::start(Relay::server_of(&url)).await;
    let db = Db::open(&relay.url(&url), &DbOptions::pool(4)).await.expect("open");
    open_connections(&db, 4).await;
    let stats = || catalog::stats(&db);
    // Sent on the four connections just pooled (used again at once, so not
    // checked first); the host is gone before any answer comes.
    relay.begin().await;
    let cut = tokio::time::timeout(Duration::from_millis(500), async {
        tokio::join!(stats(), stats(), stats(), stats())
    })
    .await;
    assert!(cut.is_err(), "no answer comes from a vanished host");
    relay.end().await;
    let since = std::time::Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(6), stats()).await {
            Ok(Ok(_)) => break,
            _ if since.elapsed() > Duration::from_secs(12) => {
                panic!(
                    "the pool still has no connection {:?} after the new server answered",
                    since.elapsed()
                )
            }
            _ => {}
        }
    }
    // Not `close`: it waits for every connection, and one whose check
    // after release was under way when the host went waits for ever
    // (see `finish_or_close`).
    drop(db);
}

/// The database's host vanishes for 6 s under a load of pages, API reads,
/// searches and server functions (`Relay`: no connection answers again,
/// none is closed), then a new server answers at its address. The pool
/// has 4 connections, all of them open when the host goes: each failure is
/// a clean 503 within the deadline (2 s here), and within 5 s of the new
/// server answering every request succeeds. Before the generation gate
/// bounded its reads (`gate::READ_LIMIT`), the read in flight when the
/// host went waited for ever, and every cached answer after it was a 503,
/// new server or not. (That the lost connections are given back to the
/// pool is `connections_lost_mid_statement_are_closed_not_kept_from_the_pool`:
/// under this load, whether all four are lost mid-statement is chance.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_host_that_vanishes_costs_503s_until_a_new_one_answers_not_a_pool_of_lost_connections() {
    use crate::helpers::{Package, spawn_on, user_with_token};
    use cheeseshop::server::db::Db;

    const DEADLINE: Duration = Duration::from_secs(2);
    let url = fresh_database().await;
    let direct = spawn_on(&url).await;
    let (_, token) = user_with_token(&direct, "vanisher", None).await;
    let package = Package::new("lost-pkg", "0.1");
    direct.publish(&token, &package).await;

    let relay = Relay::start(Relay::server_of(&url)).await;
    let relayed = Db::open(&relay.url(&url), &DbOptions::pool(4)).await.expect("open");
    // All four connections open, so that the host takes every one with it
    // (the load alone keeps one or two busy).
    open_connections(&relayed, 4).await;
    let app = std::sync::Arc::new(
        direct
            .spawn_beside_with(move |s| {
                s.db = relayed;
                s.request_deadline = Some(DEADLINE);
            })
            .await,
    );
    let outage = load_through_outage(
        &relay,
        6,
        reads_of(app.clone(), "lost-pkg", "lost", "los"),
        Duration::from_secs(6),
    )
    .await;
    assert_503s_then_full_service(&outage, DEADLINE + Duration::from_secs(1), Some(DEADLINE));
    // Not `close` (see the test above).
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_counters_stay_small_after_a_bulk_load() {
    use cheeseshop::server::db::{Db, catalog};
    use cheeseshop::server::import;

    let test_db = crate::helpers::TestDb::postgres();
    let db = Db::open(&test_db.url, &DbOptions::pool(2)).await.expect("open");
    let mut inputs = import::collect_inputs(&[crate::helpers::dataset_dir()]).expect("dataset");
    inputs.truncate(8);
    let report = import::import_files(&db, &inputs, false).await;
    assert!(report.skipped.is_empty());
    let pool = PgPool::connect(&test_db.url).await.expect("connect");
    let size = || async {
        sqlx::query_scalar::<_, i64>("SELECT pg_relation_size('catalog_counts')")
            .fetch_one(&pool)
            .await
            .expect("size")
    };
    let before = size().await;
    assert!(before > 8192, "the load left dead versions: {before}");
    db.after_bulk_load().await;
    assert_eq!(size().await, 8192);
    let stats = catalog::stats(&db).await.expect("stats");
    assert_eq!((stats.projects, stats.releases as usize), (8, report.releases));
    pool.close().await;
    db.close().await;
}

/// Waits up to `limit` for `done`, polling.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// With `CHEESESHOP_CACHE_NOTIFY`, a serving instance learns of changes
/// from `LISTEN/NOTIFY`: it reads the
/// generation once per change, not once per cached answer; a write through
/// another connection (another instance) is seen as soon as its
/// notification is; and a lost listening connection means reading every
/// time again, until it listens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cached_answers_read_the_generation_once_per_change() {
    use crate::helpers::spawn_on_with;

    let url = fresh_database().await;
    // The first project is committed before the server listens: its
    // notification cannot arrive after the baseline below is taken.
    let other = migrated(&url).await;
    add_project(&other, "first-cheese").await;
    let app = spawn_on_with(&url, |s| s.cache_notify = true).await;
    let changes = app.db.changes().expect("PostgreSQL").clone();
    assert!(
        eventually(Duration::from_secs(10), || changes.is_live()).await,
        "the server listens for changes"
    );
    let simple = |app: &crate::helpers::TestApp| {
        let url = app.url("/simple/");
        let client = app.client.clone();
        async move { client.get(url).send().await.expect("get").text().await.expect("body") }
    };
    assert!(simple(&app).await.contains("first-cheese"));

    let before = changes.reads();
    for _ in 0..50 {
        assert!(simple(&app).await.contains("first-cheese"));
    }
    assert_eq!(changes.reads(), before, "nothing changed: no reads of the generation");

    // Another instance's write: its notification makes the next request read.
    add_project(&other, "second-cheese").await;
    let mut seen_after = None;
    for attempt in 0..100 {
        if simple(&app).await.contains("second-cheese") {
            seen_after = Some(attempt);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_after.is_some(), "the change was seen");
    let after_change = changes.reads();
    assert!(after_change > before, "the change was read");
    for _ in 0..50 {
        simple(&app).await;
    }
    assert_eq!(changes.reads(), after_change, "one read per change");

    // The listening connection dies: every request reads until it listens again.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .execute(&other)
    .await
    .expect("terminate the listener");
    assert!(
        eventually(Duration::from_secs(5), || !changes.is_live()).await,
        "the lost connection is noticed"
    );
    add_project(&other, "third-cheese").await;
    assert!(
        simple(&app).await.contains("third-cheese"),
        "without notifications, the next request reads the generation"
    );
    assert!(
        eventually(Duration::from_secs(10), || changes.is_live()).await,
        "it listens again"
    );
    add_project(&other, "fourth-cheese").await;
    let mut seen = false;
    for _ in 0..100 {
        if simple(&app).await.contains("fourth-cheese") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "notifications arrive again");
    other.close().await;
    app.db.close().await;
}
