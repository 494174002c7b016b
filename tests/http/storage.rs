//! Package files in an S3-compatible object store: moto in server mode
//! (`scripts/s3.sh`, started by `make test` or here on first use) behind
//! the `Storage` trait, the same checks as the local directory, then
//! through the server: uploads, downloads with `HEAD` and `Range`,
//! redirects to presigned URLs, a failed upload leaving nothing, `/_health`.

use std::path::Path;
use std::sync::Arc;

use cheeseshop::server::object_storage::ObjectStorage;
use cheeseshop::server::storage::{LocalStorage, Storage, file_key};
use object_store::ObjectStore as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use tempfile::TempDir;

use crate::helpers::{TestApp, build_wheel, spawn_empty_with, upload_form, user_with_token};

/// The endpoint of the test S3 server (`CHEESESHOP_TEST_S3`, else started).
pub fn s3_endpoint() -> String {
    if let Ok(url) = std::env::var("CHEESESHOP_TEST_S3") {
        return url;
    }
    let out = std::process::Command::new("scripts/s3.sh")
        .arg("start")
        .output()
        .expect("scripts/s3.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// A fresh bucket of its own on the test server, and a client for it.
pub async fn bucket() -> (String, Arc<AmazonS3>) {
    let endpoint = s3_endpoint();
    let name = format!("test-{:016x}", rand::random::<u64>());
    // moto makes a bucket on an unsigned PUT.
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .expect("create bucket");
    assert!(made.status().is_success(), "{}", made.status());
    cheeseshop::server::object_storage::install_crypto_provider();
    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(&name)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .expect("store");
    (name, Arc::new(store))
}

/// Every key in the bucket.
async fn keys(store: &AmazonS3) -> Vec<String> {
    use futures_util::TryStreamExt as _;
    let mut keys: Vec<String> = store
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("list");
    keys.sort();
    keys
}

async fn stage(storage: &dyn Storage, bytes: &[u8]) -> std::path::PathBuf {
    let path = storage.staging_dir().join(format!("{:016x}", rand::random::<u64>()));
    tokio::fs::write(&path, bytes).await.expect("stage");
    path
}

async fn read(storage: &dyn Storage, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let object = storage.open(key).await.expect("open").expect("present");
    let body = object.content.body(range).await.expect("body");
    axum::body::to_bytes(body, usize::MAX).await.expect("bytes").to_vec()
}

/// What every store must do, whatever it is.
async fn the_storage_contract(storage: &dyn Storage) {
    let key = file_key(&"ab".repeat(32), "demo-1.0-py3-none-any.whl");
    assert!(storage.open(&key).await.expect("open").is_none());
    storage.check().await.expect("the store answers");

    // A small file, whole and in ranges.
    let small: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let staged = stage(storage, &small).await;
    storage.put(&key, &staged).await.expect("put");
    assert!(!staged.exists(), "the staged copy is consumed");
    assert_eq!(storage.open(&key).await.expect("open").expect("present").size, 100_000);
    assert_eq!(read(storage, &key, None).await, small);
    assert_eq!(read(storage, &key, Some(10..20)).await, &small[10..20]);
    assert_eq!(read(storage, &key, Some(99_990..100_000)).await, &small[99_990..]);

    // A large one goes in parts; every byte where it belongs.
    let big_key = file_key(&"cd".repeat(32), "demo-1.0.tar.gz");
    let big: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let staged = stage(storage, &big).await;
    storage.put(&big_key, &staged).await.expect("put big");
    assert_eq!(
        storage.open(&big_key).await.expect("open").expect("present").size,
        big.len() as u64
    );
    let middle = 8 * 1024 * 1024 - 5..8 * 1024 * 1024 + 5;
    assert_eq!(
        read(storage, &big_key, Some(middle.start as u64..middle.end as u64)).await,
        &big[middle]
    );
    assert_eq!(read(storage, &big_key, None).await.len(), big.len());

    // Keys of any other shape are refused, never looked up.
    for bad in ["../../etc/passwd", "ab/ab/cd/x.whl", ""] {
        assert!(storage.open(bad).await.expect("open").is_none(), "{bad}");
    }
    storage.delete(&key).await.expect("delete");
    storage.delete(&key).await.expect("deleting twice is fine");
    assert!(storage.open(&key).await.expect("open").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_directory_keeps_the_storage_contract() {
    let dir = TempDir::new().expect("tempdir");
    let storage = LocalStorage::open(dir.path()).expect("storage");
    the_storage_contract(&storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_bucket_keeps_the_storage_contract() {
    let (_, store) = bucket().await;
    let staging = TempDir::new().expect("tempdir");
    let storage = ObjectStorage::with_store(store.clone(), "index/files", staging.path(), false).expect("storage");
    the_storage_contract(&storage).await;
    // Everything under the prefix; the deleted file gone.
    let keys = keys(&store).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("index/files/cd/cd/"), "{keys:?}");
}

/// A server whose files are in a fresh bucket.
async fn app_on_s3(redirect: bool) -> (TestApp, Arc<AmazonS3>, TempDir) {
    let (_, store) = bucket().await;
    let staging = TempDir::new().expect("tempdir");
    let storage = ObjectStorage::with_store(store.clone(), "", staging.path(), redirect).expect("storage");
    let app = spawn_empty_with(move |shared| shared.storage = Arc::new(storage)).await;
    (app, store, staging)
}

/// The `/files/...` URL of the only file of `project`.
async fn file_url(app: &TestApp, project: &str) -> String {
    let json = app.get_json(&format!("/pypi/{project}/json")).await;
    json["urls"][0]["url"]
        .as_str()
        .expect("url")
        .split_once("/files/")
        .map(|(_, key)| format!("/files/{key}"))
        .expect("a /files/ URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_land_in_the_bucket_and_download_with_head_and_range() {
    let (app, store, staging) = app_on_s3(false).await;
    let (_, token) = user_with_token(&app, "ada", None).await;

    // A failed upload (not a zip) leaves nothing in the bucket, nor staged.
    let (filename, wheel) = build_wheel("s3-demo", "1.0", None);
    let broken = b"PK\x03\x04 but not really a wheel".to_vec();
    let (status, _) = app
        .upload(
            Some(&token),
            upload_form("s3-demo", "1.0", "bdist_wheel", &filename, &broken, &[]),
        )
        .await;
    assert_eq!(status, 400);
    assert!(keys(&store).await.is_empty());
    assert_empty(staging.path());

    let form = upload_form("s3-demo", "1.0", "bdist_wheel", &filename, &wheel, &[]);
    assert_eq!(app.upload(Some(&token), form).await.0, 200);
    // The wheel and its core metadata (PEP 658), under content-addressed keys.
    let stored = keys(&store).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().any(|k| k.ends_with(&format!("/{filename}"))));
    assert!(stored.iter().any(|k| k.ends_with(&format!("/{filename}.metadata"))));
    assert_empty(staging.path());

    let url = file_url(&app, "s3-demo").await;
    let whole = app.get(&url).await;
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.bytes().await.expect("bytes").to_vec(), wheel);
    let head = app.client.head(app.url(&url)).send().await.expect("head");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().expect("length"),
        wheel.len().to_string()
    );
    let part = app
        .client
        .get(app.url(&url))
        .header("Range", "bytes=2-9")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().expect("range"),
        format!("bytes 2-9/{}", wheel.len())
    );
    assert_eq!(part.bytes().await.expect("bytes").to_vec(), &wheel[2..10]);
    let metadata = app.get(&format!("{url}.metadata")).await;
    assert_eq!(metadata.status().as_u16(), 200);
    assert!(metadata.text().await.expect("text").contains("Name: s3-demo"));
    assert_eq!(app.get(&format!("{url}x")).await.status().as_u16(), 404);
}

fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).expect("staging").collect();
    assert!(left.is_empty(), "staged files left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_can_redirect_to_presigned_urls() {
    let (app, _store, _staging) = app_on_s3(true).await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let (filename, wheel) = build_wheel("presigned", "1.0", None);
    let form = upload_form("presigned", "1.0", "bdist_wheel", &filename, &wheel, &[]);
    assert_eq!(app.upload(Some(&token), form).await.0, 200);

    let url = file_url(&app, "presigned").await;
    let redirect = app.get(&url).await;
    assert_eq!(redirect.status().as_u16(), 302);
    let location = redirect.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with(&s3_endpoint()), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    // The store serves the bytes at that URL, to anyone holding it.
    let fetched = reqwest::get(&location).await.expect("presigned get");
    assert_eq!(fetched.status().as_u16(), 200);
    assert_eq!(fetched.bytes().await.expect("bytes").to_vec(), wheel);
    // A missing file is still a 404 here, not a redirect.
    assert_eq!(app.get(&format!("{url}x")).await.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_whether_the_database_and_the_store_answer() {
    let (app, _store, _staging) = app_on_s3(false).await;
    let response = app.get("/_health").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "database": "ok", "storage": "ok"})
    );
    assert_eq!(app.get("/_health/ready").await.status().as_u16(), 200);

    // A bucket that does not exist: the store does not answer.
    cheeseshop::server::object_storage::install_crypto_provider();
    let missing = AmazonS3Builder::new()
        .with_endpoint(s3_endpoint())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name("no-such-bucket-here")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .expect("store");
    let staging = TempDir::new().expect("tempdir");
    let storage = ObjectStorage::with_store(Arc::new(missing), "", staging.path(), false).expect("storage");
    let broken = spawn_empty_with(move |shared| shared.storage = Arc::new(storage)).await;
    let response = broken.get("/_health").await;
    assert_eq!(response.status().as_u16(), 503);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_a_directory_into_a_bucket_resumably() {
    let dir = TempDir::new().expect("tempdir");
    let local = LocalStorage::open(dir.path()).expect("storage");
    let mut keys = Vec::new();
    for (i, name) in [
        "one-1.0.tar.gz",
        "two-2.0-py3-none-any.whl",
        "two-2.0-py3-none-any.whl.metadata",
    ]
    .into_iter()
    .enumerate()
    {
        let key = file_key(&format!("{i:064x}"), name.strip_suffix(".metadata").unwrap_or(name));
        let key = if name.ends_with(".metadata") {
            format!("{key}.metadata")
        } else {
            key
        };
        let staged = stage(&local, format!("bytes of {name}").as_bytes()).await;
        local.put(&key, &staged).await.expect("put");
        keys.push(key);
    }
    let (bucket, store) = bucket().await;
    let staging = TempDir::new().expect("tempdir");
    let copy = |extra: &'static str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cheeseshop"))
            .args(["copy", "--from", &format!("file://{}", dir.path().display())])
            .args(["--to", &format!("s3://{bucket}/{extra}")])
            .env("AWS_ENDPOINT", s3_endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("CHEESESHOP_STAGING_DIR", staging.path())
            .output()
            .expect("cheeseshop copy");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = copy("mirror");
    assert!(first.contains("Copied 3 files"), "{first}");
    let mut stored = keys_of(&store).await;
    stored.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| format!("mirror/{k}")).collect();
    expected.sort();
    assert_eq!(stored, expected);
    // Again: nothing to do; the source untouched.
    let second = copy("mirror");
    assert!(
        second.contains("Copied 0 files") && second.contains("3 were there already"),
        "{second}"
    );
    for key in &keys {
        assert!(local.open(key).await.expect("open").is_some());
    }
    assert!(std::fs::read_dir(staging.path()).expect("staging").next().is_none());
}

async fn keys_of(store: &AmazonS3) -> Vec<String> {
    keys(store).await
}
