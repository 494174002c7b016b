//! Concurrent writers: clients retry uploads (twine, uv), CI jobs race, and
//! several servers share one database. The database decides; a published
//! file is never lost.

use serde_json::Value;
use sha2::Digest as _;

use crate::helpers::{Package, TestApp, spawn_empty, user_with_token};

const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";

/// Uploads `form()` from every app in turn, all at once; the statuses and bodies.
async fn race(apps: &[&TestApp], token: &str, forms: Vec<reqwest::multipart::Form>) -> Vec<(u16, String)> {
    let mut uploads = tokio::task::JoinSet::new();
    for (i, form) in forms.into_iter().enumerate() {
        let app = apps[i % apps.len()];
        let (client, url, token) = (app.client.clone(), app.url("/legacy/"), token.to_owned());
        uploads.spawn(async move {
            let response = client
                .post(url)
                .basic_auth("__token__", Some(token))
                .multipart(form)
                .send()
                .await
                .expect("upload");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        });
    }
    uploads.join_all().await
}

/// The simple index's files of `project`, as JSON.
async fn simple_files(app: &TestApp, project: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/simple/{project}/")))
        .header("accept", JSON_V1)
        .send()
        .await
        .expect("simple");
    let doc: Value = response.json().await.expect("json");
    doc["files"].as_array().cloned().unwrap_or_default()
}

/// Every file listed downloads from every app, with the digests listed.
async fn assert_files_download(apps: &[&TestApp], project: &str) -> usize {
    let files = simple_files(apps[0], project).await;
    for app in apps {
        for file in &files {
            let url = file["url"].as_str().expect("url");
            let response = app.get(url).await;
            assert_eq!(response.status().as_u16(), 200, "{url} from {}", app.addr);
            let bytes = response.bytes().await.expect("bytes");
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&bytes)),
                file["hashes"]["sha256"].as_str().expect("sha256"),
                "{url}"
            );
            if let Some(digest) = file["core-metadata"]["sha256"].as_str() {
                let metadata = app
                    .get(&format!("{url}.metadata"))
                    .await
                    .bytes()
                    .await
                    .expect("metadata");
                assert_eq!(hex::encode(sha2::Sha256::digest(&metadata)), digest);
            }
        }
    }
    files.len()
}

/// 16 identical uploads at once: all succeed (a retry is not an error),
/// one row, the bytes stored once. Then 16 different files under one new
/// filename at once: exactly one wins, the others are told the filename is
/// taken, and the winner's bytes are what is served.
async fn identical_then_conflicting(apps: &[&TestApp], token: &str, version: &str) {
    let package = Package::new("race-pkg", version);
    let (filename, wheel) = package.wheel();
    let forms = (0..16)
        .map(|_| package.form("bdist_wheel", &filename, &wheel, &[]))
        .collect();
    let results = race(apps, token, forms).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "identical uploads: {results:?}");

    let (sdist_name, _) = package.sdist();
    let variants: Vec<(Package, Vec<u8>)> = (0..16)
        .map(|i| {
            let variant = package.clone().describe(&format!("Variant {i}"), "text/plain");
            let (_, bytes) = variant.sdist();
            (variant, bytes)
        })
        .collect();
    let forms = variants
        .iter()
        .map(|(p, bytes)| p.form("sdist", &sdist_name, bytes, &[]))
        .collect();
    let results = race(apps, token, forms).await;
    let winners = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(winners, 1, "one of the conflicting uploads wins: {results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 400, "{body}");
        assert!(
            body.contains("File already exists") || body.contains("Only one sdist"),
            "{body}"
        );
    }
}

fn stored_objects_named(app: &TestApp, filename: &str) -> usize {
    app.stored_files()
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == filename))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_on_one_server_keep_every_published_file() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "racer", None).await;
    for (round, version) in ["1.0", "2.0"].into_iter().enumerate() {
        identical_then_conflicting(&[&app], &token, version).await;
        assert_eq!(assert_files_download(&[&app], "race-pkg").await, 2 * (round + 1));
        let (wheel_name, _) = Package::new("race-pkg", version).wheel();
        assert_eq!(stored_objects_named(&app, &wheel_name), 1, "the wheel's bytes, once");
    }
    let json: Value = app.get_json("/pypi/race-pkg/json").await;
    assert_eq!(json["releases"].as_object().expect("releases").len(), 2);
    assert!(
        app.stored_files()
            .iter()
            .all(|p| !p.to_string_lossy().contains(".staging")),
        "no staging files left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_across_two_servers_on_one_database() {
    let first = spawn_empty().await;
    let second = first.spawn_beside().await;
    let (_, token) = user_with_token(&first, "racer", None).await;
    identical_then_conflicting(&[&first, &second], &token, "1.0").await;
    assert_eq!(assert_files_download(&[&first, &second], "race-pkg").await, 2);
    let (wheel_name, _) = Package::new("race-pkg", "1.0").wheel();
    assert_eq!(stored_objects_named(&first, &wheel_name), 1);
    // Both servers see the same project at once (their page caches included).
    for app in [&first, &second] {
        let (status, page) = app.get_text("/project/race-pkg/").await;
        assert_eq!(status, 200);
        assert!(page.contains("race_pkg-1.0-py3-none-any.whl"), "{}", app.addr);
    }
}

/// 16 new versions of one new project uploaded at once, over two servers:
/// every one is published, the counters count each once, and the project's
/// latest version is the newest whichever upload committed last.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_new_versions_of_one_project_are_all_kept_and_counted() {
    let first = spawn_empty().await;
    let second = first.spawn_beside().await;
    let (_, token) = user_with_token(&first, "releaser", None).await;
    let forms = (1..=16)
        .map(|minor| {
            let package = Package::new("many-versions", &format!("1.{minor}"));
            let (filename, wheel) = package.wheel();
            package.form("bdist_wheel", &filename, &wheel, &[])
        })
        .collect();
    let results = race(&[&first, &second], &token, forms).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");

    let stats = cheeseshop::server::db::catalog::stats(&first.db).await.expect("stats");
    assert_eq!((stats.projects, stats.releases, stats.files), (1, 16, 16));
    for app in [&first, &second] {
        let doc = app.get_json("/pypi/many-versions/json").await;
        assert_eq!(doc["info"]["version"], "1.16", "{}", app.addr);
        assert_eq!(doc["releases"].as_object().expect("releases").len(), 16);
        assert_eq!(simple_files(app, "many-versions").await.len(), 16);
    }
    // The journal gave every upload its own serial, the last the project's.
    let doc = first.get_json("/pypi/many-versions/json").await;
    assert!(doc["last_serial"].as_i64().expect("serial") >= 16, "{doc}");
}
