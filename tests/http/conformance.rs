//! The data layer's conformance suite: every backend must pass it (the
//! shape of mCaptcha's `db-core` tests). `make test` runs it on SQLite and
//! again on PostgreSQL (`CHEESESHOP_TEST_BACKEND=postgres`), each test on a
//! fresh database. It calls `server::db` directly, so a difference between
//! the engines shows here by name, before any page shows it.

use std::sync::Arc;

use cheeseshop::domain::ReleaseVersion;
use cheeseshop::domain::search::{SearchOrder, SearchQuery};
use cheeseshop::server::db::accounts::{self, CreateUserError, NewUser};
use cheeseshop::server::db::write::{
    BulkFile, BulkProject, BulkRelease, InsertedFile, NewFile, NewRelease, ReleaseMetadata,
};
use cheeseshop::server::db::{Db, DbOptions, catalog, index, search, upstream};
use tempfile::TempDir;

use crate::helpers::TestDb;

/// A migrated database of the suite's backend, and what keeps it alive.
async fn fresh() -> (Db, Arc<TestDb>, TempDir) {
    let dir = TempDir::new().expect("tempdir");
    let test_db = TestDb::new(dir.path());
    let db = Db::open(&test_db.url, &DbOptions::pool(4)).await.expect("open");
    (db, test_db, dir)
}

fn user<'a>(name: &'a str, email: &'a str) -> NewUser<'a> {
    NewUser {
        username: name,
        username_normalized: name,
        name,
        email,
        email_normalized: email,
        password_hash: "$argon2id$not-a-real-hash",
        created: 1,
    }
}

fn release(version: &str, created: i64) -> (String, NewRelease<'_>) {
    let v = ReleaseVersion::parse(version);
    let sort_key = v.sort_key(created);
    (
        sort_key,
        NewRelease {
            version,
            sort_key: "",
            is_prerelease: v.is_prerelease(),
            is_legacy: v.is_legacy(),
            created: Some(created),
            yanked: false,
            yanked_reason: None,
        },
    )
}

fn file<'a>(filename: &'a str, packagetype: &'a str, sha256: &'a str, at: i64) -> NewFile<'a> {
    NewFile {
        filename,
        packagetype,
        python_version: "py3",
        size: 10,
        sha256,
        md5: None,
        blake2b_256: Some("b2"),
        upload_time: at,
        url: "https://files.example/x",
        requires_python: None,
        yanked: false,
        storage_key: None,
        metadata_sha256: None,
        uploaded_by: None,
    }
}

/// `search::search` with its request's parts as arguments.
async fn search_with(
    db: &Db,
    query: &SearchQuery,
    order: SearchOrder,
    classifiers: &[String],
    page: i64,
    facet_limit: i64,
) -> Result<search::Found, sqlx::Error> {
    let request = search::Request {
        query,
        order,
        classifiers,
        page,
        facet_limit,
    };
    search::search(db, request).await
}

/// Adds a project with its releases (each with a wheel) and metadata on
/// the last; returns its id.
async fn add_project(db: &Db, name: &str, summary: &str, keywords: &str, versions: &[&str]) -> i64 {
    let mut tx = db.begin_write().await.expect("begin");
    let (id, created) = tx.ensure_project(name, name, 1).await.expect("project");
    assert!(created);
    for (n, version) in versions.iter().enumerate() {
        let (sort_key, mut new) = release(version, 1_000 + n as i64);
        new.sort_key = &sort_key;
        let (release_id, _) = tx.ensure_release(id, &new).await.expect("release");
        let filename = format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"));
        let sha = format!("{:064}", n);
        tx.insert_file(release_id, &file(&filename, "bdist_wheel", &sha, 2_000 + n as i64))
            .await
            .expect("file");
        if n + 1 == versions.len() {
            let metadata = ReleaseMetadata {
                summary: summary.into(),
                keywords: keywords.into(),
                description: format!("All about {name}."),
                classifiers_json: r#"["Framework :: Flask", "Topic :: Utilities"]"#.into(),
                ..ReleaseMetadata::default()
            };
            tx.upsert_metadata(release_id, &metadata).await.expect("metadata");
        }
    }
    tx.refresh_project(id).await.expect("refresh");
    tx.journal(id, "create", None, None, 3).await.expect("journal");
    tx.commit().await.expect("commit");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_unique_by_name_and_email_and_sessions_expire() {
    let (db, _keep, _dir) = fresh().await;
    let id = accounts::create_user(&db, &user("ada", "ada@example.org"))
        .await
        .expect("create");
    assert!(matches!(
        accounts::create_user(&db, &user("ada", "other@example.org")).await,
        Err(CreateUserError::UsernameTaken)
    ));
    assert!(matches!(
        accounts::create_user(&db, &user("grace", "ada@example.org")).await,
        Err(CreateUserError::EmailTaken)
    ));
    assert_eq!(
        accounts::taken(&db, "ada", "nobody@x").await.expect("taken"),
        (true, false)
    );
    assert_eq!(
        accounts::taken(&db, "x", "ada@example.org").await.expect("taken"),
        (false, true)
    );
    for identifier in ["ada", "ada@example.org"] {
        let found = accounts::credentials(&db, identifier)
            .await
            .expect("query")
            .expect("found");
        assert_eq!(found.id, id);
    }
    assert_eq!(
        accounts::user_by_username(&db, "ada")
            .await
            .expect("q")
            .expect("u")
            .email,
        "ada@example.org"
    );
    assert_eq!(catalog::stats(&db).await.expect("stats").users, 1);

    for (token, expires) in [("s1", 100), ("s2", 100), ("s3", 10)] {
        accounts::create_session(&db, token, id, 5, expires)
            .await
            .expect("session");
    }
    assert_eq!(
        accounts::session_user(&db, "s1", 50)
            .await
            .expect("q")
            .expect("live")
            .username,
        "ada"
    );
    assert!(
        accounts::session_user(&db, "s3", 50).await.expect("q").is_none(),
        "expired"
    );
    accounts::touch_session(&db, "s1", 60, 500).await.expect("touch");
    assert_eq!(accounts::delete_expired_sessions(&db, 200).await.expect("sweep"), 2);
    assert!(
        accounts::session_user(&db, "s1", 200).await.expect("q").is_some(),
        "kept alive"
    );
    accounts::create_session(&db, "s4", id, 5, 900).await.expect("session");
    accounts::set_password(&db, id, "new-hash", "s4")
        .await
        .expect("password");
    assert!(
        accounts::session_user(&db, "s1", 200).await.expect("q").is_none(),
        "others ended"
    );
    assert!(
        accounts::session_user(&db, "s4", 200).await.expect("q").is_some(),
        "this one kept"
    );
    assert_eq!(
        accounts::password_hash(&db, id).await.expect("q").as_deref(),
        Some("new-hash")
    );
    accounts::delete_session(&db, "s4").await.expect("logout");
    assert!(accounts::session_user(&db, "s4", 200).await.expect("q").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_counts_locks_and_forgives() {
    let (db, _keep, _dir) = fresh().await;
    let lock = |count: i64, limit: i64| (count >= limit).then_some(100);
    let keys = [("ip:1", 3), ("user:ada", 5)];
    for now in [10, 11] {
        assert_eq!(
            accounts::count_attempt(&db, &keys, now, 1_000, lock)
                .await
                .expect("count"),
            None
        );
    }
    // The third reaches the ip's limit and locks it at once...
    assert_eq!(
        accounts::count_attempt(&db, &keys, 12, 1_000, lock)
            .await
            .expect("count"),
        None
    );
    // ...so the fourth is refused unchecked, and nothing is counted.
    assert_eq!(
        accounts::count_attempt(&db, &keys, 13, 1_000, lock)
            .await
            .expect("count"),
        Some(112)
    );
    // A good password takes its attempt back and lifts the lock it set.
    accounts::forgive_attempt(&db, "ip:1", 3).await.expect("forgive");
    assert_eq!(
        accounts::count_attempt(&db, &keys, 14, 1_000, lock)
            .await
            .expect("count"),
        None
    );
    accounts::clear_attempts(&db, "ip:1").await.expect("clear");
    accounts::clear_attempts(&db, "user:ada").await.expect("clear");
    // Concurrent attempts are counted one after another: exactly `limit`
    // of 20 pass before the lock.
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let db = db.clone();
        attempts.spawn(async move {
            accounts::count_attempt(&db, &[("ip:2", 5)], 20, 1_000, lock)
                .await
                .expect("count")
        });
    }
    let passed = attempts.join_all().await.into_iter().filter(Option::is_none).count();
    assert_eq!(passed, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_idempotent_and_a_rollback_leaves_nothing() {
    let (db, _keep, _dir) = fresh().await;
    let generation = catalog::generation(&db).await.expect("generation");
    let owner = accounts::create_user(&db, &user("owner", "o@example.org"))
        .await
        .expect("user");
    assert!(catalog::is_empty(&db).await.expect("empty"));

    let mut tx = db.begin_write().await.expect("begin");
    let (id, created) = tx.ensure_project("Demo.Pkg", "demo-pkg", 1).await.expect("project");
    assert!(created);
    assert_eq!(
        tx.ensure_project("demo_pkg", "demo-pkg", 1).await.expect("again"),
        (id, false)
    );
    let (sort_key, mut new) = release("1.0", 5);
    new.sort_key = &sort_key;
    let (release_id, created) = tx.ensure_release(id, &new).await.expect("release");
    assert!(created);
    assert_eq!(tx.ensure_release(id, &new).await.expect("again"), (release_id, false));
    let sha = "a".repeat(64);
    let sdist = file("demo_pkg-1.0.tar.gz", "sdist", &sha, 7);
    assert_eq!(
        tx.insert_file(release_id, &sdist).await.expect("file"),
        InsertedFile::Added
    );
    let other = "b".repeat(64);
    assert_eq!(
        tx.insert_file(release_id, &file("demo_pkg-1.0.tar.gz", "sdist", &other, 8))
            .await
            .expect("file"),
        InsertedFile::Exists { sha256: sha.clone() }
    );
    assert!(tx.release_has_sdist(release_id).await.expect("sdist"));
    assert!(!tx.release_has_metadata(release_id).await.expect("metadata"));
    assert_eq!(
        tx.release_by_sort_key(id, &sort_key).await.expect("by key"),
        Some(release_id)
    );
    tx.add_role(owner, id, "Owner").await.expect("role");
    tx.add_role(owner, id, "Owner").await.expect("role again");
    assert!(tx.has_role(owner, id).await.expect("role"));
    let first = tx.journal(id, "create", None, Some(owner), 9).await.expect("journal");
    let second = tx
        .journal(id, "add file", Some("1.0"), Some(owner), 9)
        .await
        .expect("journal");
    assert!(second > first);
    tx.refresh_project(id).await.expect("refresh");
    tx.commit().await.expect("commit");

    let stats = catalog::stats(&db).await.expect("stats");
    assert_eq!((stats.projects, stats.releases, stats.files, stats.users), (1, 1, 1, 1));
    let after_commit = catalog::generation(&db).await.expect("generation");
    assert!(after_commit > generation, "a commit moves the generation");
    let project = catalog::project(&db, "demo-pkg").await.expect("q").expect("project");
    assert_eq!(project.last_serial, second);
    assert_eq!(index::last_serial(&db).await.expect("serial"), second);
    assert!(index::has_role(&db, owner, id).await.expect("role"));
    assert_eq!(
        accounts::own_project_id(&db, owner, "demo-pkg").await.expect("own"),
        Some(id)
    );
    let version: pep440_rs::Version = "1.0.0".parse().expect("version");
    assert!(index::release_has_sdist(&db, id, &version).await.expect("sdist"));

    // A transaction dropped without commit leaves no row, no count, no
    // generation change.
    let mut tx = db.begin_write().await.expect("begin");
    let (other_id, _) = tx.ensure_project("gone", "gone", 1).await.expect("project");
    let (sort_key, mut new) = release("2.0", 5);
    new.sort_key = &sort_key;
    tx.ensure_release(other_id, &new).await.expect("release");
    drop(tx);
    assert!(catalog::project(&db, "gone").await.expect("q").is_none());
    assert_eq!(catalog::stats(&db).await.expect("stats").projects, 1);
    assert_eq!(catalog::generation(&db).await.expect("generation"), after_commit);
}

/// An upload creating a project and an administrator reserving its name, at
/// once: one of them goes first, whole. Either the reservation finds the
/// project (which keeps it), or the creation finds the reservation and
/// rolls back. Never both a reservation that saw no project and a project
/// committed under the reserved name.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_is_either_reserved_or_created_never_both_at_once() {
    let (db, _keep, _dir) = fresh().await;
    for round in 0..40 {
        let name = format!("contested-{round}");
        let creating = {
            let (db, name) = (db.clone(), name.clone());
            tokio::spawn(async move {
                let mut tx = db.begin_write().await.expect("begin");
                let (_, created) = tx.ensure_project(&name, &name, 1).await.expect("project");
                assert!(created);
                // As an upload does: more work between the insert and the check.
                tokio::task::yield_now().await;
                if tx.name_is_reserved(&name).await.expect("reserved?") {
                    drop(tx);
                    false
                } else {
                    tx.commit().await.expect("commit");
                    true
                }
            })
        };
        let reserving = {
            let (db, name) = (db.clone(), name.clone());
            tokio::spawn(async move { upstream::reserve(&db, &name, 1).await.expect("reserve") })
        };
        let created = creating.await.expect("task");
        let reserved = reserving.await.expect("task");
        assert!(reserved.newly, "{name}");
        assert_eq!(
            created, reserved.project_exists,
            "{name}: created {created}, the reservation saw a project: {}",
            reserved.project_exists
        );
        assert_eq!(catalog::project(&db, &name).await.expect("q").is_some(), created);
        assert!(upstream::is_reserved(&db, &name).await.expect("reserved"));
    }
    // A name reserved first refuses every creation after it.
    let mut tx = db.begin_write().await.expect("begin");
    tx.ensure_project("contested-0", "contested-0", 1)
        .await
        .expect("exists");
    assert!(tx.name_is_reserved("contested-0").await.expect("q"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_version_and_the_index_views_follow_the_rules() {
    let (db, _keep, _dir) = fresh().await;
    let id = add_project(
        &db,
        "rules",
        "Rules",
        "",
        &["1.0", "1.10", "1.9", "2.0rc1", "not-a-version"],
    )
    .await;
    let project = catalog::project(&db, "rules").await.expect("q").expect("project");
    let releases = catalog::releases(&db, id).await.expect("releases");
    let order: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(
        order,
        ["2.0rc1", "1.10", "1.9", "1.0", "not-a-version"],
        "PEP 440 order, legacy last"
    );
    let latest = releases
        .iter()
        .find(|r| Some(r.id) == project.latest_release_id)
        .expect("latest");
    assert_eq!(latest.version, "1.10", "a final release before a pre-release");
    assert!(
        releases
            .iter()
            .find(|r| r.version == "not-a-version")
            .expect("legacy")
            .has_metadata
    );

    let simple = index::simple_project(&db, "rules").await.expect("q").expect("simple");
    assert_eq!(simple.versions, ["not-a-version", "1.0", "1.9", "1.10", "2.0rc1"]);
    assert_eq!(simple.files.len(), 5);
    assert!(
        simple
            .files
            .iter()
            .all(|f| f.md5.is_none() && f.requires_python.is_none() && !f.yanked)
    );
    assert_eq!(
        simple.files,
        index::project_files(&db, id).await.expect("files").as_slice().to_vec()
    );
    let one = index::file_by_name(&db, "rules-1.9-py3-none-any.whl")
        .await
        .expect("q")
        .expect("file");
    assert_eq!((one.version.as_str(), one.size), ("1.9", 10));
    assert!(index::simple_project(&db, "nothing").await.expect("q").is_none());
    assert_eq!(catalog::all_projects(&db).await.expect("all").len(), 1);
    let (stats, recent) = catalog::home(&db, 5).await.expect("home");
    assert_eq!(
        (recent.len(), recent[0].version.as_str(), recent[0].summary.as_str()),
        (1, "1.10", "Rules")
    );
    assert_eq!(stats, catalog::stats(&db).await.expect("stats"));
    assert_eq!(catalog::recent_releases(&db, 2).await.expect("feed").len(), 2);
    assert_eq!(
        catalog::project_releases_feed(&db, id, 10).await.expect("feed").len(),
        5
    );
    assert_eq!(catalog::newest_projects(&db, 10).await.expect("feed")[0].name, "rules");
    let metadata = catalog::metadata(&db, latest.id).await.expect("q");
    assert!(metadata.is_none(), "metadata is on the last release written");
    catalog::store_description_html(&db, releases[4].id, "<p>x</p>")
        .await
        .expect("store");
    let stored = catalog::metadata(&db, releases[4].id)
        .await
        .expect("q")
        .expect("metadata");
    assert_eq!(stored.description_html.as_deref(), Some("<p>x</p>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_found_by_hash_used_and_revoked() {
    let (db, _keep, _dir) = fresh().await;
    let owner = accounts::create_user(&db, &user("tok", "t@example.org"))
        .await
        .expect("user");
    let project = add_project(&db, "scoped", "S", "", &["1.0"]).await;
    let id = index::create_token(
        &db,
        owner,
        "ci",
        "hash-1",
        Some(project),
        cheeseshop::domain::access::TokenScopes::ALL,
        10,
    )
    .await
    .expect("token");
    let found = index::token_owner(&db, "hash-1").await.expect("q").expect("owner");
    assert_eq!(
        (found.token_id, found.user_id, found.project_id),
        (id, owner, Some(project))
    );
    index::touch_token(&db, id, 20).await.expect("touch");
    let listed = index::tokens(&db, owner).await.expect("tokens");
    assert_eq!(
        (listed[0].project.as_deref(), listed[0].last_used),
        (Some("scoped"), Some(20))
    );
    assert!(
        !index::revoke_token(&db, owner + 1, id).await.expect("revoke"),
        "not theirs"
    );
    assert!(index::revoke_token(&db, owner, id).await.expect("revoke"));
    assert!(index::token_owner(&db, "hash-1").await.expect("q").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ranks_by_the_same_rules_and_filters_by_classifier() {
    let (db, _keep, _dir) = fresh().await;
    add_project(&db, "flask", "A web framework", "wsgi", &["3.0"]).await;
    add_project(&db, "flask-login", "User sessions for Flask", "", &["0.6"]).await;
    add_project(&db, "quart", "Flask-like async framework", "flask", &["0.19"]).await;
    add_project(&db, "werkzeug", "The toolkit flask is built on", "", &["3.0"]).await;
    add_project(&db, "unrelated", "Nothing here", "", &["1.0"]).await;

    let find = |q: &str, classifiers: Vec<String>| {
        let db = db.clone();
        let q = SearchQuery::parse(q);
        async move {
            search_with(&db, &q, SearchOrder::Relevance, &classifiers, 1, 10)
                .await
                .expect("search")
        }
    };
    let found = find("flask", vec![]).await;
    let names: Vec<&str> = found.hits.iter().map(|h| h.name.as_str()).collect();
    // Exact name, then the name prefix, then a word of the summary and the
    // keywords (5 + 5) before one of the summary only (5).
    assert_eq!(names, ["flask", "flask-login", "quart", "werkzeug"]);
    assert_eq!(found.total, 4);
    assert!(found.facets.contains(&("Framework :: Flask".to_owned(), 4)));
    // Prefixes and several words.
    assert_eq!(find("wer", vec![]).await.hits[0].name, "werkzeug");
    assert_eq!(find("web framework", vec![]).await.total, 1);
    // A classifier filter matches it and its children.
    assert_eq!(find("", vec!["Framework".into()]).await.total, 5);
    assert_eq!(find("flask", vec!["Framework :: Flask".into()]).await.total, 4);
    assert_eq!(find("", vec!["Framework :: Django".into()]).await.total, 0);
    // Hostile input is only words.
    for hostile in [
        "' OR 1=1 --",
        "a:* & !b",
        "\"unbalanced",
        "((((",
        "a\u{0}b",
        "😀 'quote'",
    ] {
        find(hostile, vec![]).await;
    }
    assert_eq!(search::classifiers(&db).await.expect("classifiers").len(), 2);
    // Suggestions: names that start with the text, in name order; then
    // full-text hits.
    let suggest = |q: &str| {
        let db = db.clone();
        let q = SearchQuery::parse(q);
        async move {
            search::suggest(&db, &q, 3)
                .await
                .expect("suggest")
                .into_iter()
                .map(|h| h.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(suggest("flas").await, ["flask", "flask-login", "quart"]);
    assert_eq!(suggest("Flask Login").await, ["flask-login"]);
    assert_eq!(suggest("toolkit").await, ["werkzeug"]);
    assert!(suggest("zzz").await.is_empty());
    // Newest first by date.
    let newest = search_with(&db, &SearchQuery::parse(""), SearchOrder::Newest, &[], 1, 0)
        .await
        .expect("search");
    assert_eq!(newest.total, 5);
}

/// Both engines index the words that punctuation joins (a dotted name, a
/// URL, `module_name.function`): SQLite's tokenizer splits at every
/// character that is not a letter or a digit, and PostgreSQL's parser,
/// which reads such strings as one host, url or file token, is given the
/// fields with punctuation made spaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_the_words_that_punctuation_joins() {
    let (db, _keep, _dir) = fresh().await;
    add_project(
        &db,
        "zope.quux",
        "Reads https://docs.example.org/guidebook?page=2 and me@mailhost.example",
        "frob_nicate.run,v3.9",
        &["1.0"],
    )
    .await;
    add_project(&db, "unrelated", "Nothing here", "", &["1.0"]).await;
    for (word, field) in [
        ("quux", "the name"),
        ("zope", "the name"),
        ("guidebook", "a URL path"),
        ("docs", "a URL's host"),
        ("mailhost", "an address"),
        ("nicate", "a module name"),
        ("run", "a function"),
        ("zope.quux", "the name, whole"),
    ] {
        let found = search_with(&db, &SearchQuery::parse(word), SearchOrder::Relevance, &[], 1, 10)
            .await
            .expect("search");
        let names: Vec<&str> = found.hits.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["zope.quux"], "{word}: a word of {field}");
    }
}

/// `count` projects named `{stem}-00000`… with one release and one file
/// each, in one bulk transaction per thousand.
pub(crate) async fn add_many(db: &Db, stem: &str, count: usize) {
    let project = |i: usize| {
        let name = format!("{stem}-{i:05}");
        let (sort_key, _) = release("1.0", 10 + i as i64);
        BulkProject {
            normalized_name: name.clone(),
            releases: vec![BulkRelease {
                version: "1.0".into(),
                sort_key,
                is_prerelease: false,
                is_legacy: false,
                created: 10 + i as i64,
                files: vec![BulkFile {
                    filename: format!("{}-1.0.tar.gz", name.replace('-', "_")),
                    packagetype: "sdist".into(),
                    python_version: "source".into(),
                    size: 1,
                    sha256: format!("{i:064}"),
                    md5: format!("{i:032}"),
                    blake2b_256: format!("{i:064}"),
                    upload_time: 10 + i as i64,
                    url: format!("https://files.example.org/{name}.tar.gz"),
                    requires_python: None,
                }],
            }],
            metadata: ReleaseMetadata {
                summary: format!("A {stem} for testing"),
                classifiers_json: r#"["Topic :: Utilities"]"#.into(),
                ..ReleaseMetadata::default()
            },
            name,
        }
    };
    for start in (0..count).step_by(1_000) {
        let batch: Vec<BulkProject> = (start..(start + 1_000).min(count)).map(project).collect();
        let mut tx = db.begin_write().await.expect("begin");
        tx.add_projects(&batch, 5).await.expect("bulk");
        tx.commit().await.expect("commit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broad_queries_rank_a_window_after_the_closest_names_and_cap_the_count() {
    let (db, _keep, _dir) = fresh().await;
    add_many(&db, "widget", search::COUNT_CAP as usize + 50).await;
    // The exact name comes last, far beyond the window of the first matches.
    add_project(&db, "widget", "The widget", "", &["1.0"]).await;
    add_project(&db, "gadget", "Not a match", "", &["1.0"]).await;

    let find = |q: &str, order: SearchOrder, page: i64| {
        let db = db.clone();
        let q = SearchQuery::parse(q);
        async move { search_with(&db, &q, order, &[], page, 10).await.expect("search") }
    };
    let names_of = |found: &search::Found| found.hits.iter().map(|h| h.name.clone()).collect::<Vec<_>>();
    let first = find("widget", SearchOrder::Relevance, 1).await;
    assert_eq!(
        (first.total, first.total_is_lower_bound, first.windowed),
        (search::COUNT_CAP, true, true)
    );
    let names: Vec<&str> = first.hits.iter().map(|h| h.name.as_str()).collect();
    // The exact name, then the closest completions, then the window.
    assert_eq!(names[0], "widget");
    assert_eq!(names[1], "widget-00000");
    assert_eq!(first.hits.len(), search::PAGE_SIZE as usize);
    // Eight names first (one outside the window); the window's other 493.
    assert_eq!(first.ranked, 8 + search::WINDOW - 7);
    // Facets count the window only.
    assert_eq!(first.facets, [("Topic :: Utilities".to_owned(), search::WINDOW)]);
    // A filter every match passes (a parent of their classifier) changes
    // nothing: the closest names and the window test it row by row, the
    // count against the classifier's whole set.
    for filter in ["Topic :: Utilities", "Topic"] {
        let filtered = search_with(
            &db,
            &SearchQuery::parse("widget"),
            SearchOrder::Relevance,
            &[filter.to_owned()],
            1,
            10,
        )
        .await
        .expect("filtered search");
        let filtered_names: Vec<&str> = filtered.hits.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(filtered_names, names, "{filter}");
        assert_eq!(
            (filtered.total, filtered.ranked, filtered.windowed),
            (first.total, first.ranked, true),
            "{filter}"
        );
    }
    // Filtered text searches look at the newest projects first (SQLite): all
    // of them with the classifier, the count probes each match; hardly any
    // (two of 2,000 have Flask), it tests the classifier's set. Either way
    // the counts, and every match in another order, are exact.
    let filtered = |classifier: &str, order| {
        let db = db.clone();
        let classifiers = vec![classifier.to_owned()];
        async move {
            search_with(&db, &SearchQuery::parse("widget"), order, &classifiers, 1, 10)
                .await
                .expect("filtered search")
        }
    };
    let all_newest = find("widget", SearchOrder::Newest, 1).await;
    let probed = filtered("Topic :: Utilities", SearchOrder::Newest).await;
    assert_eq!(names_of(&probed), names_of(&all_newest));
    assert_eq!((probed.total, probed.total_is_lower_bound), (search::COUNT_CAP, true));
    for order in [SearchOrder::Relevance, SearchOrder::Newest] {
        let flask = filtered("Framework :: Flask", order).await;
        assert_eq!(names_of(&flask), ["widget"]);
        assert_eq!(
            (flask.total, flask.total_is_lower_bound, flask.windowed),
            (1, false, false)
        );
    }
    // Pages go on where the last one stopped, without repeats, to the end.
    let second = find("widget", SearchOrder::Relevance, 2).await;
    assert!(second.hits.iter().all(|h| !names.contains(&h.name.as_str())));
    assert_eq!(second.hits.len(), search::PAGE_SIZE as usize);
    let last_page = (first.ranked + search::PAGE_SIZE - 1) / search::PAGE_SIZE;
    let last = find("widget", SearchOrder::Relevance, last_page).await;
    assert_eq!(
        last.hits.len() as i64,
        first.ranked - (last_page - 1) * search::PAGE_SIZE
    );
    // Other orders see every match, not the window: the newest upload.
    let newest = find("widget", SearchOrder::Newest, 1).await;
    assert_eq!(newest.hits[0].name, format!("widget-{:05}", search::COUNT_CAP + 49));
    assert!(newest.total_is_lower_bound);
    // Its facets count the window all the same, the first matches by id.
    assert_eq!(newest.facets, [("Topic :: Utilities".to_owned(), search::WINDOW)]);
    assert!(newest.windowed);
    // A narrower query is ranked whole and counted exactly.
    let narrow = find("widget 00012", SearchOrder::Relevance, 1).await;
    assert!(!narrow.windowed && !narrow.total_is_lower_bound);
    assert_eq!(narrow.hits[0].name, "widget-00012");
    // Browsing counts to the cap too, pages end there, and facets count
    // the first window by id (every one a widget with its classifier).
    let browsing = find("", SearchOrder::Name, 1).await;
    assert_eq!(
        (
            browsing.total,
            browsing.total_is_lower_bound,
            browsing.windowed,
            browsing.ranked
        ),
        (search::COUNT_CAP, true, true, search::COUNT_CAP)
    );
    assert_eq!(browsing.facets, [("Topic :: Utilities".to_owned(), search::WINDOW)]);
    let names: Vec<&str> = browsing.hits.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names[..3], ["gadget", "widget", "widget-00000"]);
    let last = find("", SearchOrder::Name, search::COUNT_CAP / search::PAGE_SIZE).await;
    assert_eq!(last.hits.len() as i64, search::PAGE_SIZE);
    assert_eq!(
        last.hits[0].name,
        format!("widget-{:05}", search::COUNT_CAP - search::PAGE_SIZE - 2)
    );
    let newest = find("", SearchOrder::Newest, 1).await;
    assert_eq!(newest.hits[0].name, format!("widget-{:05}", search::COUNT_CAP + 49));
    // Browsing a classifier that every project here has (or a child of its
    // parent): counted to the cap from the classifier's index, the first
    // pages and the facets' window read in order and probed, deeper pages
    // from the classifier's set (SQLite's forms; page 10 is the last that
    // probes). Every form gives the unfiltered pages and facets.
    for filter in ["Topic :: Utilities", "Topic"] {
        for (order, page) in [
            (SearchOrder::Name, 1),
            (SearchOrder::Name, 10),
            (SearchOrder::Name, 11),
            (SearchOrder::Name, search::COUNT_CAP / search::PAGE_SIZE),
            (SearchOrder::Newest, 1),
            (SearchOrder::Newest, 11),
        ] {
            let all = find("", order, page).await;
            let filtered = search_with(&db, &SearchQuery::parse(""), order, &[filter.to_owned()], page, 10)
                .await
                .expect("browse");
            let what = format!("{filter}, page {page}");
            assert_eq!(filtered.hits.len() as i64, search::PAGE_SIZE, "{what}");
            assert_eq!(names_of(&filtered), names_of(&all), "{what}");
            assert_eq!(
                (filtered.total, filtered.total_is_lower_bound, filtered.windowed),
                (search::COUNT_CAP, true, true),
                "{what}"
            );
            assert_eq!(filtered.facets, all.facets, "{what}");
        }
    }
    // Two classifiers, one that every project has and one that only the
    // two named projects have: counted from both sets, exactly.
    let both = search_with(
        &db,
        &SearchQuery::parse(""),
        SearchOrder::Name,
        &["Topic :: Utilities".to_owned(), "Framework :: Flask".to_owned()],
        1,
        10,
    )
    .await
    .expect("browse");
    assert_eq!(names_of(&both), ["gadget", "widget"]);
    assert_eq!((both.total, both.total_is_lower_bound), (2, false));
    // A filter that few projects pass is counted and faceted exactly.
    let filtered = search_with(
        &db,
        &SearchQuery::parse(""),
        SearchOrder::Name,
        &["Topic :: Nothing".to_owned()],
        1,
        10,
    )
    .await
    .expect("browse");
    assert_eq!(
        (filtered.total, filtered.total_is_lower_bound, filtered.windowed),
        (0, false, false)
    );
}
