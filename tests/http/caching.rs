//! The index APIs and pages as caches and clients see them: content codings
//! negotiated from real clients' headers, validators (ETag, 304), and
//! answers that are current right after any write from any process.

use std::io::Read as _;

use reqwest::header::HeaderMap;

use crate::helpers::{Package, spawn_empty, spawn_with_dataset, user_with_token};

const PIP_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
const UV_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// What pip 23 (requests), uv 0.13 (reqwest) and Chromium send.
const PIP_ENCODINGS: &str = "gzip, deflate";
const UV_ENCODINGS: &str = "gzip, deflate, zstd";
const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";

/// The body as the server meant it, whatever coding it was sent in.
fn decoded(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding(headers) {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("gzip");
        }
        Some("br") => {
            brotli::BrotliDecompress(&mut &body[..], &mut out).expect("brotli");
        }
        Some("zstd") => out = zstd::stream::decode_all(body).expect("zstd"),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

fn coding(headers: &HeaderMap) -> Option<&str> {
    headers.get("content-encoding").map(|v| v.to_str().expect("ascii"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codings_are_negotiated_with_real_clients_headers() {
    let app = spawn_with_dataset().await;
    // (path, Accept, Accept-Encoding, expected coding)
    let table: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("/simple/botocore/", PIP_ACCEPT, Some(PIP_ENCODINGS), Some("gzip")),
        ("/simple/botocore/", UV_ACCEPT, Some(UV_ENCODINGS), Some("zstd")),
        (
            "/simple/botocore/",
            BROWSER_ACCEPT,
            Some(BROWSER_ENCODINGS),
            Some("zstd"),
        ),
        ("/simple/botocore/", PIP_ACCEPT, None, None),
        ("/simple/botocore/", PIP_ACCEPT, Some("identity"), None),
        ("/simple/botocore/", PIP_ACCEPT, Some("br;q=1, gzip;q=0.5"), Some("br")),
        ("/simple/", BROWSER_ACCEPT, Some(BROWSER_ENCODINGS), Some("zstd")),
        (
            "/pypi/botocore/json",
            "application/json",
            Some(PIP_ENCODINGS),
            Some("gzip"),
        ),
        ("/rss/updates.xml", "*/*", Some("gzip"), Some("gzip")),
        (
            "/project/botocore/",
            BROWSER_ACCEPT,
            Some(BROWSER_ENCODINGS),
            Some("zstd"),
        ),
        ("/project/botocore/", BROWSER_ACCEPT, Some("gzip"), Some("gzip")),
        ("/about", BROWSER_ACCEPT, None, None),
        // Too small to be worth it.
        ("/simple/no-such-project/", PIP_ACCEPT, Some(PIP_ENCODINGS), None),
    ];
    for (path, accept, encodings, expected) in table {
        // Twice: the first answer is rendered, the second comes from the cache.
        for round in 0..2 {
            let mut headers = vec![("accept", *accept)];
            if let Some(encodings) = encodings {
                headers.push(("accept-encoding", encodings));
            }
            let (_, got, body) = app.get_with(path, &headers).await;
            let what = format!("{path} with {encodings:?} (round {round})");
            assert_eq!(coding(&got), *expected, "{what}");
            let (_, plain, identity) = app.get_with(path, &[("accept", accept)]).await;
            assert_eq!(coding(&plain), None);
            assert_eq!(decoded(&got, &body), identity, "{what}: the same content");
            if expected.is_some() {
                let vary = got["vary"].to_str().expect("vary");
                assert!(vary.contains("Accept-Encoding"), "{what}: {vary}");
                assert!(
                    body.len() < identity.len() / 2,
                    "{what}: {} of {}",
                    body.len(),
                    identity.len()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_files_are_never_recompressed() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let package = Package::new("plain-bytes", "1.0").describe(&"word ".repeat(5000), "text/plain");
    let (filename, wheel) = package.wheel();
    let (sdist_name, sdist) = package.sdist();
    for (name, bytes, kind) in [(&filename, &wheel, "bdist_wheel"), (&sdist_name, &sdist, "sdist")] {
        assert_eq!(
            app.upload(Some(&token), package.form(kind, name, bytes, &[])).await.0,
            200
        );
    }
    let doc = app.get_json("/pypi/plain-bytes/json").await;
    for file in doc["urls"].as_array().expect("urls") {
        let url = file["url"].as_str().expect("url");
        let path = url
            .split_once("/files/")
            .map(|(_, k)| format!("/files/{k}"))
            .expect("ours");
        for path in [path.clone(), format!("{path}.metadata")] {
            if path.ends_with(".tar.gz.metadata") {
                continue; // sdists have no metadata file
            }
            let (status, headers, body) = app.get_with(&path, &[("accept-encoding", BROWSER_ENCODINGS)]).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(coding(&headers), None, "{path} is sent as stored");
            if !path.ends_with(".metadata") {
                let original = if path.ends_with(".whl") { &wheel } else { &sdist };
                assert_eq!(&body, original);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_change_exactly_when_content_does_and_304_has_no_body() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let upload = |package: Package| {
        let (filename, wheel) = package.wheel();
        let form = package.form("bdist_wheel", &filename, &wheel, &[]);
        let token = token.clone();
        let app = &app;
        async move { app.upload(Some(&token), form).await.0 }
    };
    assert_eq!(upload(Package::new("tagged", "1.0")).await, 200);
    let routes = [
        "/simple/tagged/",
        "/pypi/tagged/json",
        "/rss/project/tagged/releases.xml",
        "/project/tagged/",
    ];
    let mut tags = Vec::new();
    for path in routes {
        let (status, first, _) = app.get_with(path, &[("accept", PIP_ACCEPT)]).await;
        assert_eq!(status, 200, "{path}");
        let etag = first["etag"].to_str().expect("etag").to_owned();
        assert!(
            etag.starts_with('"') && etag.len() > 10,
            "{path}: a strong validator: {etag}"
        );
        let (_, second, _) = app.get_with(path, &[("accept", PIP_ACCEPT)]).await;
        assert_eq!(second["x-cache"], "hit", "{path}");
        assert_eq!(
            second["etag"].to_str().expect("etag"),
            etag,
            "{path}: the same bytes, the same tag"
        );
        // Revalidation: 304, no body, the headers a cache needs.
        let (status, not_modified, body) = app
            .get_with(path, &[("accept", PIP_ACCEPT), ("if-none-match", etag.as_str())])
            .await;
        assert_eq!(status, 304, "{path}");
        assert!(body.is_empty(), "{path}: a 304 has no body");
        assert_eq!(not_modified["etag"].to_str().expect("etag"), etag);
        assert!(not_modified.contains_key("cache-control"), "{path}");
        if path.starts_with("/simple/") || path.starts_with("/pypi/") {
            assert!(not_modified.contains_key("x-pypi-last-serial"), "{path}");
        }
        tags.push(etag);
    }
    // Another project changes: these answers are rendered again, and their
    // tags stay (their bytes did not change), except the page (a new
    // nonce) ...
    assert_eq!(upload(Package::new("unrelated", "1.0")).await, 200);
    for (path, etag) in routes.iter().zip(&tags).take(3) {
        let (_, headers, _) = app.get_with(path, &[("accept", PIP_ACCEPT)]).await;
        assert_eq!(headers["x-cache"], "miss", "{path}: rendered again after a write");
        assert_eq!(
            headers["etag"].to_str().expect("etag"),
            etag,
            "{path}: same content, same tag"
        );
        let (status, _, _) = app
            .get_with(path, &[("accept", PIP_ACCEPT), ("if-none-match", etag.as_str())])
            .await;
        assert_eq!(status, 304, "{path}");
    }
    // ... and when this project changes, every tag does.
    let serial_before =
        app.get_with("/simple/tagged/", &[("accept", PIP_ACCEPT)]).await.1["x-pypi-last-serial"].clone();
    assert_eq!(upload(Package::new("tagged", "2.0")).await, 200);
    for (path, etag) in routes.iter().zip(&tags) {
        let (status, headers, body) = app
            .get_with(path, &[("accept", PIP_ACCEPT), ("if-none-match", etag.as_str())])
            .await;
        assert_eq!(status, 200, "{path}: changed content is sent in full");
        assert_ne!(headers["etag"].to_str().expect("etag"), etag, "{path}");
        assert!(
            String::from_utf8_lossy(&decoded(&headers, &body)).contains("2.0"),
            "{path}"
        );
    }
    let serial_after = app.get_with("/simple/tagged/", &[("accept", PIP_ACCEPT)]).await.1["x-pypi-last-serial"].clone();
    assert_ne!(
        serial_before, serial_after,
        "X-PyPI-Last-Serial follows the project, cached or not"
    );
    let json = app.get_json("/pypi/tagged/json").await;
    assert_eq!(
        serial_after.to_str().expect("serial"),
        json["last_serial"].to_string(),
        "the header agrees with the document"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_current_after_writes_from_other_processes() {
    let first = spawn_empty().await;
    let second = first.spawn_beside().await;
    let (_, token) = user_with_token(&first, "ada", None).await;
    let package = Package::new("shared-pkg", "1.0");
    let (filename, wheel) = package.wheel();
    assert_eq!(
        first
            .upload(Some(&token), package.form("bdist_wheel", &filename, &wheel, &[]))
            .await
            .0,
        200
    );
    let routes = [
        "/simple/",
        "/simple/shared-pkg/",
        "/pypi/shared-pkg/json",
        "/rss/updates.xml",
        "/rss/project/shared-pkg/releases.xml",
        "/project/shared-pkg/",
    ];
    // Both servers have every answer cached.
    for app in [&first, &second] {
        for path in routes {
            app.get_with(path, &[]).await;
            assert_eq!(
                app.get_with(path, &[]).await.1["x-cache"],
                "hit",
                "{path} on {}",
                app.addr
            );
        }
    }
    // An upload through the first server is seen by the second at once.
    let newer = Package::new("shared-pkg", "2.0");
    let (filename, wheel) = newer.wheel();
    assert_eq!(
        first
            .upload(Some(&token), newer.form("bdist_wheel", &filename, &wheel, &[]))
            .await
            .0,
        200
    );
    for path in &routes[1..] {
        let (_, headers, body) = second.get_with(path, &[]).await;
        assert!(
            String::from_utf8_lossy(&decoded(&headers, &body)).contains("2.0"),
            "{path}: the second server shows the new version"
        );
    }
    // An import by another process (the real binary) is seen by both at once.
    let dir = tempfile::TempDir::new().expect("tempdir");
    let doc = serde_json::json!({
        "info": {"name": "imported-elsewhere", "version": "3.0", "summary": "From another process"},
        "releases": {"3.0": [{
            "filename": "imported_elsewhere-3.0.tar.gz", "packagetype": "sdist", "python_version": "source",
            "size": 1, "upload_time": "2024-01-01T00:00:00", "url": "https://files.example/x.tar.gz",
            "digests": {"sha256": "b".repeat(64)}
        }]},
    });
    std::fs::write(dir.path().join("doc.json"), doc.to_string()).expect("write");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_cheeseshop"))
        .arg("import")
        .arg(dir.path())
        .env("DATABASE_URL", &first.db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the importer");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for app in [&first, &second] {
        let (_, headers, body) = app.get_with("/simple/", &[]).await;
        assert!(
            String::from_utf8_lossy(&decoded(&headers, &body)).contains("imported-elsewhere"),
            "/simple/ on {}",
            app.addr
        );
        let (status, _, _) = app.get_with("/simple/imported-elsewhere/", &[]).await;
        assert_eq!(status, 200);
        let (_, headers, body) = app.get_with("/rss/packages.xml", &[]).await;
        assert!(String::from_utf8_lossy(&decoded(&headers, &body)).contains("From another process"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hosts_answer_never_reaches_another() {
    let app = spawn_with_dataset().await;
    let (_, evil, body) = app.get_with("/pypi/flask/json", &[("host", "evil.example")]).await;
    assert!(String::from_utf8_lossy(&decoded(&evil, &body)).contains("http://evil.example/"));
    let (_, _, body) = app.get_with("/pypi/flask/json", &[]).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(!text.contains("evil.example"), "the cache keeps answers per host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yank_by_another_process_shows_at_once() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let package = Package::new("yanked-pkg", "1.0");
    let (filename, wheel) = package.wheel();
    assert_eq!(
        app.upload(Some(&token), package.form("bdist_wheel", &filename, &wheel, &[]))
            .await
            .0,
        200
    );
    let json_accept = [("accept", "application/vnd.pypi.simple.v1+json")];
    for _ in 0..2 {
        let (_, headers, body) = app.get_with("/simple/yanked-pkg/", &json_accept).await;
        let doc: serde_json::Value = serde_json::from_slice(&decoded(&headers, &body)).expect("json");
        assert_eq!(doc["files"][0]["yanked"], false);
    }
    // Another process (sqlite3, a script, a later `cheeseshop yank`) marks
    // the file yanked on its own connection.
    use crate::helpers::execute_sql;
    execute_sql(
        &app.db_url,
        "UPDATE files SET yanked = TRUE WHERE filename = $1",
        &[&filename],
    )
    .await;
    execute_sql(
        &app.db_url,
        "UPDATE releases SET yanked = TRUE, yanked_reason = 'broken' WHERE version = '1.0'",
        &[],
    )
    .await;
    let (_, headers, body) = app.get_with("/simple/yanked-pkg/", &json_accept).await;
    assert_eq!(headers["x-cache"], "miss", "the cached answer was not served");
    let doc: serde_json::Value = serde_json::from_slice(&decoded(&headers, &body)).expect("json");
    assert_ne!(doc["files"][0]["yanked"], false, "{doc}");
    let (_, headers, body) = app.get_with("/simple/yanked-pkg/", &[]).await;
    assert!(String::from_utf8_lossy(&decoded(&headers, &body)).contains("data-yanked"));
}

/// Another process opening the SQLite database while the server runs (the
/// `sqlite3` shell, a backup script, `cheeseshop import`) must find it in
/// use: SQLite tells by a shared lock on byte 128 of the `-shm` file (its
/// "DMS" lock), and a process that can take it exclusively believes it is
/// alone and rebuilds the WAL index under everyone. The server's generation
/// probe once dropped that lock by closing a descriptor of the file (POSIX
/// locks belong to the process, not the descriptor); a writer then died of
/// SIGBUS when a Python reader opened its database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stays_locked_as_in_use_for_other_processes() {
    if crate::helpers::backend() != crate::helpers::TestBackend::Sqlite {
        return;
    }
    let app = spawn_empty().await;
    let (_, token) = crate::helpers::user_with_token(&app, "locker", None).await;
    let package = crate::helpers::Package::new("locked-pkg", "1.0");
    app.publish(&token, &package).await;
    assert_eq!(app.get_with("/simple/locked-pkg/", &[]).await.0, 200);
    let shm = format!("{}-shm", app.db_path.display());
    let probe = r#"
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    print("free")
except OSError:
    print("in use")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", probe, &shm])
        .output()
        .expect("run python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "in use",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
