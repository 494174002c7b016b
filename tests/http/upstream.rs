//! The pull-through cache (`CHEESESHOP_UPSTREAM_URL`): link lists and files
//! of projects that are not local come from the upstream, cached and
//! verified; local names never do.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cheeseshop::server::upstream::{DenyRule, Policy, Upstream, UpstreamOptions};
use sha2::Digest as _;

use crate::helpers::{Package, TestApp, spawn_empty, spawn_empty_with, user_with_token};

/// How the fake upstream behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Healthy,
    /// Link lists answer 500.
    Failing,
    /// Link lists take 10 s.
    Slow,
    /// Files come with other bytes than the listing's hash.
    WrongBytes,
    /// Everything is cut off half-way: the connection ends mid-body.
    Truncated,
}

/// An upstream index of our own making: one project, `far-away`, with a
/// wheel, in PEP 691 JSON with an ETag; it counts what it is asked.
struct FakeUpstream {
    addr: std::net::SocketAddr,
    state: Arc<Fake>,
}

struct Fake {
    mode: std::sync::Mutex<Mode>,
    files: HashMap<String, Vec<u8>>,
    lists: AtomicUsize,
    not_modified: AtomicUsize,
    downloads: AtomicUsize,
}

const WHEEL: &str = "far_away-1.0-py3-none-any.whl";
const SDIST: &str = "far_away-1.0.tar.gz";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

impl FakeUpstream {
    async fn start() -> Self {
        // Big enough to come in many chunks.
        let wheel: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sdist: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
        let state = Arc::new(Fake {
            mode: std::sync::Mutex::new(Mode::Healthy),
            files: HashMap::from([(WHEEL.to_owned(), wheel), (SDIST.to_owned(), sdist)]),
            lists: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
            downloads: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/simple/{name}/", axum::routing::get(list))
            .route("/packages/{file}", axum::routing::get(file))
            .route("/pypi/{name}/json", axum::routing::get(json_api))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/simple/", self.addr)
    }

    fn set(&self, mode: Mode) {
        *self.state.mode.lock().expect("mode") = mode;
    }

    fn wheel(&self) -> &[u8] {
        &self.state.files[WHEEL]
    }
}

async fn list(State(fake): State<Arc<Fake>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    fake.lists.fetch_add(1, Ordering::SeqCst);
    let mode = *fake.mode.lock().expect("mode");
    match mode {
        Mode::Failing => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Truncated => return truncated(b"{\"meta\": {\"api-version\": \"1.1\"}, \"files\": [".to_vec()),
        Mode::Slow => tokio::time::sleep(Duration::from_secs(10)).await,
        _ => {}
    }
    if name != "far-away" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let etag = "\"v1\"";
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == etag) {
        fake.not_modified.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body = serde_json::json!({
        "meta": {"api-version": "1.1"},
        "name": "Far-Away",
        "versions": ["1.0"],
        "files": [{
            "filename": WHEEL,
            "url": format!("../../packages/{WHEEL}"),
            "hashes": {"sha256": sha256(&fake.files[WHEEL])},
            "requires-python": ">=3.8",
            "yanked": false,
            "size": fake.files[WHEEL].len(),
            "upload-time": "2024-05-01T12:00:00.000000Z",
        }, {
            "filename": SDIST,
            "url": format!("../../packages/{SDIST}"),
            "hashes": {"sha256": sha256(&fake.files[SDIST])},
            "upload-time": "2024-05-01T12:00:00.000000Z",
        }],
    });
    (
        [
            (header::CONTENT_TYPE, "application/vnd.pypi.simple.v1+json"),
            (header::ETAG, etag),
        ],
        body.to_string(),
    )
        .into_response()
}

/// PyPI's JSON API for far-away: a summary and a description, and the
/// files with PyPI's upstream URLs.
async fn json_api(State(fake): State<Arc<Fake>>, Path(name): Path<String>) -> Response {
    if name != "far-away" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = |filename: &str| {
        serde_json::json!({
            "filename": filename,
            "url": format!("https://files.example/{filename}"),
            "digests": {"sha256": sha256(&fake.files[filename])},
            "packagetype": if filename.ends_with(".whl") { "bdist_wheel" } else { "sdist" },
            "size": fake.files[filename].len(),
        })
    };
    axum::Json(serde_json::json!({
        "info": {
            "name": "Far-Away",
            "version": "1.0",
            "summary": "Cheese from far away",
            "description": "# Far away\n\nAged **long**.\n\n<script>alert(1)</script>\n",
            "description_content_type": "text/markdown",
            "license": "MIT",
            "requires_python": ">=3.8",
        },
        "releases": {"1.0": [file(WHEEL), file(SDIST)]},
        "urls": [file(WHEEL), file(SDIST)],
    }))
    .into_response()
}

async fn file(State(fake): State<Arc<Fake>>, Path(name): Path<String>) -> Response {
    fake.downloads.fetch_add(1, Ordering::SeqCst);
    let Some(bytes) = fake.files.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut bytes = bytes.clone();
    if *fake.mode.lock().expect("mode") == Mode::Truncated {
        return truncated(bytes);
    }
    if *fake.mode.lock().expect("mode") == Mode::WrongBytes {
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
    }
    // A little slow, so that concurrent requests overlap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    bytes.into_response()
}

/// The files in the proxy's storage once the count is `n` (a fetch stores
/// the file just after its last bytes reach the client), within 10 s.
async fn stored_eventually(app: &TestApp, n: usize) -> Vec<std::path::PathBuf> {
    stored_until(app, |stored| stored.len() == n).await
}

/// The published objects, once `done` holds for them (within 10 s).
/// Published only: a download still being stored sits in the staging
/// directory until its rename, and a test that removed that path raced the
/// rename (seen once in `make test`).
async fn stored_until(app: &TestApp, done: impl Fn(&[std::path::PathBuf]) -> bool) -> Vec<std::path::PathBuf> {
    let published = || {
        let mut stored = app.stored_files();
        stored.retain(|p| !p.components().any(|c| c.as_os_str() == ".staging"));
        stored
    };
    for _ in 0..200 {
        let stored = published();
        if done(&stored) {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = published();
    assert!(done(&stored), "{stored:?}");
    stored
}

/// A response that promises `bytes` but sends half, then breaks off.
fn truncated(bytes: Vec<u8>) -> Response {
    let length = bytes.len();
    let half = bytes[..length / 2].to_vec();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(half), Err(std::io::Error::other("cut off"))];
    (
        [(header::CONTENT_LENGTH, length.to_string())],
        axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response()
}

async fn proxy_of(upstreams: Vec<String>, ttl: Duration) -> TestApp {
    proxy_with(UpstreamOptions {
        urls: upstreams,
        ttl,
        timeout: Duration::from_secs(2),
        policy: Policy::default(),
        offline: false,
        max_bytes: None,
    })
    .await
}

async fn proxy_with(options: UpstreamOptions) -> TestApp {
    let upstream = Upstream::new(&options).expect("upstream");
    let upstream = Arc::new(upstream);
    spawn_empty_with(move |s| s.upstream = Some(upstream)).await
}

const JSON: &str = "application/vnd.pypi.simple.v1+json";

async fn simple_json(app: &TestApp, name: &str) -> (u16, HeaderMap, serde_json::Value) {
    let response = app
        .client
        .get(app.url(&format!("/simple/{name}/")))
        .header(header::ACCEPT, JSON)
        .send()
        .await
        .expect("get");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = if status == 200 {
        response.json().await.expect("json")
    } else {
        serde_json::Value::Null
    };
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_project_is_listed_with_our_urls_and_its_file_fetched_once_verified() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;

    let (status, _, body) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "far-away");
    assert_eq!(body["versions"], serde_json::json!(["1.0"]));
    let file = &body["files"][0];
    let digest = sha256(fake.wheel());
    assert_eq!(file["hashes"]["sha256"], digest.as_str());
    assert_eq!(file["requires-python"], ">=3.8");
    assert_eq!(file["size"], fake.wheel().len());
    assert_eq!(file["upload-time"], "2024-05-01T12:00:00.000000Z");
    let url = file["url"].as_str().expect("url");
    assert_eq!(url, format!("/files/upstream/far-away/{digest}/{WHEEL}"));

    // HTML too, with the same link and hash.
    let (status, html) = proxy.get_text("/simple/far-away/").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("href=\"{url}#sha256={digest}\"")), "{html}");
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");

    // The list was asked for once: the second answer came from the cache.
    assert_eq!(fake.state.lists.load(Ordering::SeqCst), 1);

    let first = proxy.client.get(proxy.url(url)).send().await.expect("download");
    assert_eq!(first.status(), 200);
    assert_eq!(first.bytes().await.expect("bytes").as_ref(), fake.wheel());
    let again = proxy.client.get(proxy.url(url)).send().await.expect("download");
    assert_eq!(again.status(), 200);
    assert!(again.headers().get(header::ETAG).is_some(), "served from storage");
    assert_eq!(again.bytes().await.expect("bytes").as_ref(), fake.wheel());
    assert_eq!(fake.state.downloads.load(Ordering::SeqCst), 1, "fetched once");

    // Unknown names: 404, remembered.
    let (status, _, _) = simple_json(&proxy, "nowhere-at-all").await;
    assert_eq!(status, 404);
    let (status, _, _) = simple_json(&proxy, "nowhere-at-all").await;
    assert_eq!(status, 404);
    assert_eq!(fake.state.lists.load(Ordering::SeqCst), 2, "the 404 is cached");
    // A file that is not in any list is not fetched.
    let made_up = format!("/files/upstream/far-away/{}/{WHEEL}", "0".repeat(64));
    assert_eq!(proxy.get(&made_up).await.status(), 404);

    // What happened, as Prometheus reads it.
    let response = proxy.get("/_metrics").await;
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/plain")
    );
    let metrics = response.text().await.expect("metrics");
    for line in [
        "cheeseshop_upstream_lists_total{outcome=\"hit\"} 2".to_owned(),
        "cheeseshop_upstream_lists_total{outcome=\"fetched\"} 2".to_owned(),
        "cheeseshop_upstream_files_total{outcome=\"fetched\"} 1".to_owned(),
        "cheeseshop_upstream_files_total{outcome=\"hit\"} 1".to_owned(),
        format!("cheeseshop_upstream_fetched_bytes_total {}", fake.wheel().len()),
        format!("cheeseshop_upstream_saved_bytes_total {}", fake.wheel().len()),
        "# TYPE cheeseshop_upstream_errors_total counter".to_owned(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_downloads_fetch_once() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let (_, _, body) = simple_json(&proxy, "far-away").await;
    let url = proxy.url(body["files"][0]["url"].as_str().expect("url"));
    let downloads = (0..32).map(|_| {
        let client = proxy.client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let response = client.get(url).send().await.expect("download");
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("bytes")
        })
    });
    for body in futures_util::future::join_all(downloads).await {
        assert_eq!(body.expect("task").as_ref(), fake.wheel());
    }
    assert_eq!(fake.state.downloads.load(Ordering::SeqCst), 1, "one upstream fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_the_wrong_hash_is_never_served_whole_nor_stored() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let (_, _, body) = simple_json(&proxy, "far-away").await;
    let url = proxy.url(body["files"][0]["url"].as_str().expect("url"));
    fake.set(Mode::WrongBytes);
    for _ in 0..2 {
        let response = proxy.client.get(&url).send().await.expect("response");
        let body = response.bytes().await;
        assert!(body.is_err(), "the body ends in an error, never complete and wrong");
    }
    assert_eq!(
        fake.state.downloads.load(Ordering::SeqCst),
        2,
        "nothing stored: fetched again"
    );
    assert!(proxy.stored_files().is_empty(), "nothing in storage");
    // Healthy again: the right bytes, stored.
    fake.set(Mode::Healthy);
    let response = proxy.client.get(&url).send().await.expect("response");
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), fake.wheel());
    stored_eventually(&proxy, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erring_or_slow_upstream_gets_the_stale_list_and_an_unknown_name_a_clean_error() {
    let fake = FakeUpstream::start().await;
    // Every request revalidates.
    let proxy = proxy_of(vec![fake.url()], Duration::ZERO).await;
    let (status, headers, _) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200);
    assert!(headers.get(header::WARNING).is_none());
    let (status, _, _) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.state.not_modified.load(Ordering::SeqCst),
        1,
        "revalidated with the ETag"
    );

    for mode in [Mode::Failing, Mode::Slow] {
        fake.set(mode);
        let started = std::time::Instant::now();
        let (status, headers, body) = simple_json(&proxy, "far-away").await;
        assert_eq!(status, 200, "{mode:?}: the stale list");
        assert!(started.elapsed() < Duration::from_secs(5), "{mode:?}: no hang");
        assert_eq!(body["files"][0]["filename"], WHEEL);
        let warning = headers.get(header::WARNING).expect("a Warning header");
        assert!(warning.to_str().expect("ascii").starts_with("110"), "{warning:?}");
        // A name never seen: a clean 502/504, soon.
        let started = std::time::Instant::now();
        let (status, _, _) = simple_json(&proxy, "never-seen").await;
        assert!(matches!(status, 502 | 504), "{mode:?}: {status}");
        assert!(started.elapsed() < Duration::from_secs(5), "{mode:?}: no hang");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_project_is_never_merged_with_an_upstream_one() {
    // The upstream: a cheeseshop with internal-lib 2.0.
    let upstream = spawn_empty().await;
    let (_, token) = user_with_token(&upstream, "them", None).await;
    let (filename, bytes) = Package::new("internal-lib", "2.0").wheel();
    let form = Package::new("internal-lib", "2.0").form("bdist_wheel", &filename, &bytes, &[]);
    assert_eq!(upstream.upload(Some(&token), form).await.0, 200);
    // Ours: internal-lib 1.0, and the upstream behind it.
    let proxy = proxy_of(vec![upstream.url("/simple/")], Duration::from_secs(600)).await;
    let (_, token) = user_with_token(&proxy, "us", None).await;
    let (filename, bytes) = Package::new("internal-lib", "1.0").wheel();
    let form = Package::new("internal-lib", "1.0").form("bdist_wheel", &filename, &bytes, &[]);
    assert_eq!(proxy.upload(Some(&token), form).await.0, 200);

    let (status, _, body) = simple_json(&proxy, "internal-lib").await;
    assert_eq!(status, 200);
    assert_eq!(body["versions"], serde_json::json!(["1.0"]), "local releases only");
    let (_, html) = proxy.get_text("/simple/internal-lib/").await;
    assert!(
        html.contains("internal_lib-1.0") && !html.contains("internal_lib-2.0"),
        "{html}"
    );
    // Another name comes through from the same upstream (a cheeseshop: HTML
    // and JSON alike).
    let (filename, bytes) = Package::new("public-lib", "3.0").wheel();
    let (_, their_token) = user_with_token(&upstream, "more", None).await;
    let form = Package::new("public-lib", "3.0").form("bdist_wheel", &filename, &bytes, &[]);
    assert_eq!(upstream.upload(Some(&their_token), form).await.0, 200);
    let (status, _, body) = simple_json(&proxy, "public-lib").await;
    assert_eq!(status, 200);
    let url = body["files"][0]["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/files/upstream/public-lib/"), "{url}");
    let downloaded = proxy.client.get(proxy.url(&url)).send().await.expect("get");
    assert_eq!(downloaded.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    // Its PEP 658 metadata too.
    let metadata = body["files"][0]["core-metadata"]["sha256"]
        .as_str()
        .expect("metadata digest");
    let metadata_url = format!("{url}.metadata");
    let (status, text) = proxy.get_text(&metadata_url).await;
    assert_eq!(status, 200);
    assert!(text.contains("Name: public-lib"), "{text}");
    assert_eq!(sha256(text.as_bytes()), metadata);
    // The JSON API: the upstream cheeseshop's document, our URLs.
    let doc = proxy.get_json("/pypi/public-lib/json").await;
    assert_eq!(doc["info"]["summary"], "A test package");
    let url = doc["urls"][0]["url"].as_str().expect("url");
    assert!(url.starts_with(&proxy.url("/files/upstream/public-lib/")), "{url}");
    let local = proxy.get_json("/pypi/internal-lib/json").await;
    assert_eq!(local["info"]["version"], "1.0", "the local project's own document");
}

/// pip and uv install through one URL: local projects, their dependencies
/// from the upstream (a cheeseshop here), and the local `internal-lib`
/// rather than the upstream's higher version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_and_uv_install_local_and_upstream_projects_through_one_url() {
    use crate::clients::{
        Package as Built, build, make_pip_venv, make_uv_venv, pip_install, python_in, run, twine_upload, uv_install,
    };

    let work = tempfile::TempDir::new().expect("tempdir");
    let w = work.path();
    let built = |name: &'static str, version: &'static str, dependencies: &'static [&'static str]| {
        let w = w.to_path_buf();
        async move {
            build(
                &w,
                &Built {
                    name,
                    version,
                    requires_python: ">=3.8",
                    dependencies,
                },
            )
            .await
        }
    };
    // Upstream: cheese-rind 1.0 and 2.0, and a public internal-lib 9.0.
    let upstream = spawn_empty().await;
    let (_, theirs) = user_with_token(&upstream, "public", None).await;
    for files in [
        built("cheese-rind", "1.0", &[]).await,
        built("cheese-rind", "2.0", &[]).await,
        built("internal-lib", "9.0", &[]).await,
    ] {
        twine_upload(&upstream, &theirs, &files).await;
    }
    // Ours: internal-lib 1.0, which needs cheese-rind<2 (from upstream).
    let proxy = proxy_of(vec![upstream.url("/simple/")], Duration::from_secs(600)).await;
    let (_, ours) = user_with_token(&proxy, "team", None).await;
    twine_upload(&proxy, &ours, &built("internal-lib", "1.0", &["cheese-rind<2"]).await).await;

    let index = proxy.url("/simple/");
    let check = "import internal_lib, cheese_rind; print(internal_lib.VERSION, cheese_rind.VERSION)";
    let pip_venv = w.join("venv-pip");
    make_pip_venv(&pip_venv).await;
    run(pip_install(&pip_venv, &index, "internal-lib")).await;
    assert_eq!(python_in(&pip_venv, check).await, "1.0 1.0");

    let uv_cache = w.join("uv-cache");
    let uv_venv = w.join("venv-uv");
    make_uv_venv(&uv_venv, &uv_cache).await;
    run(uv_install(&uv_venv, &index, &uv_cache, &["internal-lib"])).await;
    assert_eq!(python_in(&uv_venv, check).await, "1.0 1.0");
    // And the upstream's newest, on its own.
    run(uv_install(&uv_venv, &index, &uv_cache, &["--upgrade", "cheese-rind"])).await;
    assert_eq!(
        python_in(&uv_venv, "import cheese_rind; print(cheese_rind.VERSION)").await,
        "2.0"
    );
}

/// Offline, only what is cached is served: cached lists whatever their
/// age, stored files; anything else a clear 404 without asking anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_serves_what_is_cached_and_nothing_else() {
    let fake = FakeUpstream::start().await;
    let online = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let (_, _, body) = simple_json(&online, "far-away").await;
    let url = body["files"][0]["url"].as_str().expect("url").to_owned();
    let (status, _) = online.get_text(&url).await;
    assert_eq!(status, 200);
    let asked = (
        fake.state.lists.load(Ordering::SeqCst),
        fake.state.downloads.load(Ordering::SeqCst),
    );

    // Another instance on the same database and storage, offline, with a
    // TTL of zero: it would revalidate everything if it could.
    let options = UpstreamOptions {
        urls: vec![fake.url()],
        ttl: Duration::ZERO,
        timeout: Duration::from_secs(2),
        policy: Policy::default(),
        offline: true,
        max_bytes: None,
    };
    let upstream = Arc::new(Upstream::new(&options).expect("upstream"));
    let offline = online.spawn_beside_with(move |s| s.upstream = Some(upstream)).await;
    let (status, _, body) = simple_json(&offline, "far-away").await;
    assert_eq!(status, 200);
    assert_eq!(body["files"][0]["url"], url.as_str());
    let downloaded = offline.client.get(offline.url(&url)).send().await.expect("get");
    assert_eq!(downloaded.bytes().await.expect("bytes").as_ref(), fake.wheel());
    let (status, text) = offline.get_text("/simple/never-cached/").await;
    assert_eq!(status, 404);
    assert!(text.contains("offline"), "{text}");
    assert_eq!(
        (
            fake.state.lists.load(Ordering::SeqCst),
            fake.state.downloads.load(Ordering::SeqCst)
        ),
        asked,
        "the upstream was not asked"
    );
}

/// The minimum age and the deny list, as pip and uv resolve: the upstream
/// (a cheeseshop) has cheese-whey 1.0 (a month old), 2.0 (denied) and 3.0
/// (uploaded today); through the proxy both install 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_and_uv_honour_the_minimum_age_and_the_deny_list() {
    use crate::clients::{
        Package as Built, build, make_pip_venv, make_uv_venv, pip_install, python_in, run, twine_upload, uv_install,
    };
    use crate::helpers::execute_sql;

    let work = tempfile::TempDir::new().expect("tempdir");
    let w = work.path();
    let upstream = spawn_empty().await;
    let (_, token) = user_with_token(&upstream, "public", None).await;
    for version in ["1.0", "2.0", "3.0"] {
        let files = build(
            w,
            &Built {
                name: "cheese-whey",
                version,
                requires_python: ">=3.8",
                dependencies: &[],
            },
        )
        .await;
        twine_upload(&upstream, &token, &files).await;
    }
    let month_ago = ((cheeseshop::server::now_micros() / 1_000_000 - 30 * 86_400) * 1_000_000).to_string();
    execute_sql(
        &upstream.db_url,
        "UPDATE files SET upload_time = CAST($1 AS BIGINT) WHERE filename LIKE '%-1.0%' OR filename LIKE '%-2.0%'",
        &[&month_ago],
    )
    .await;
    let proxy = proxy_with(UpstreamOptions {
        urls: vec![upstream.url("/simple/")],
        ttl: Duration::from_secs(600),
        timeout: Duration::from_secs(2),
        policy: Policy {
            min_age: Some(Duration::from_secs(7 * 86_400)),
            deny: vec![DenyRule::parse("cheese-whey==2.0").expect("rule")],
        },
        offline: false,
        max_bytes: None,
    })
    .await;
    let (_, _, body) = simple_json(&proxy, "cheese-whey").await;
    assert_eq!(body["versions"], serde_json::json!(["1.0"]), "{body:#}");
    // A hidden file is not served by its URL either.
    let (_, _, upstream_body) = simple_json(&upstream, "cheese-whey").await;
    let young = upstream_body["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["filename"].as_str().is_some_and(|n| n.contains("-3.0")))
        .expect("3.0")
        .clone();
    let hidden = format!(
        "/files/upstream/cheese-whey/{}/{}",
        young["hashes"]["sha256"].as_str().expect("digest"),
        young["filename"].as_str().expect("filename")
    );
    assert_eq!(proxy.get(&hidden).await.status(), 404);

    let index = proxy.url("/simple/");
    let check = "import cheese_whey; print(cheese_whey.VERSION)";
    let pip_venv = w.join("venv-pip");
    make_pip_venv(&pip_venv).await;
    run(pip_install(&pip_venv, &index, "cheese-whey")).await;
    assert_eq!(python_in(&pip_venv, check).await, "1.0");
    let uv_cache = w.join("uv-cache");
    let uv_venv = w.join("venv-uv");
    make_uv_venv(&uv_venv, &uv_cache).await;
    run(uv_install(&uv_venv, &index, &uv_cache, &["cheese-whey"])).await;
    assert_eq!(python_in(&uv_venv, check).await, "1.0");
}

/// Another index, run from `.tools/upstreams` (scripts/setup.sh) on a free
/// port for one test, killed when dropped.
struct Peer {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_tool(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/upstreams/bin")
        .join(name);
    assert!(path.exists(), "{} is missing: run scripts/setup.sh", path.display());
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn answers(url: &str, child: &mut std::process::Child) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{url}: the server exited ({status})");
        }
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer within 30 s");
}

/// pypiserver serving `files` from its directory.
async fn start_pypiserver(files: &[std::path::PathBuf]) -> Peer {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let packages = dir.path().join("packages");
    std::fs::create_dir_all(&packages).expect("mkdir");
    for f in files {
        std::fs::copy(f, packages.join(f.file_name().expect("name"))).expect("copy");
    }
    let port = free_port();
    let mut child = std::process::Command::new(peer_tool("pypi-server"))
        .args(["run", "-p", &port.to_string(), "-i", "127.0.0.1", "-a", ".", "-P", "."])
        .arg(&packages)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("pypi-server");
    let base = format!("http://127.0.0.1:{port}/simple/");
    answers(&base, &mut child).await;
    Peer { child, base, _dir: dir }
}

/// devpi-server with a user and an index of no bases, `files` uploaded
/// with twine.
async fn start_devpi(files: &[std::path::PathBuf]) -> Peer {
    use crate::clients::{run, tool};
    let dir = tempfile::TempDir::new().expect("tempdir");
    let server_dir = dir.path().join("server");
    let client_dir = dir.path().join("client");
    let mut init = std::process::Command::new(peer_tool("devpi-init"));
    init.arg("--serverdir")
        .arg(&server_dir)
        .args(["--no-root-pypi", "--root-passwd", "root"]);
    run(init).await;
    let port = free_port();
    let mut child = std::process::Command::new(peer_tool("devpi-server"))
        .arg("--serverdir")
        .arg(&server_dir)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("devpi-server");
    let root = format!("http://127.0.0.1:{port}");
    answers(&format!("{root}/+api"), &mut child).await;
    let devpi = |args: &[&str]| {
        let mut cmd = std::process::Command::new(peer_tool("devpi"));
        cmd.arg("--clientdir").arg(&client_dir).args(args);
        cmd
    };
    run(devpi(&["use", &root])).await;
    run(devpi(&[
        "user",
        "-c",
        "team",
        "password=team",
        "email=team@example.org",
    ]))
    .await;
    run(devpi(&["login", "team", "--password", "team"])).await;
    run(devpi(&["index", "-c", "dev", "bases=", "volatile=False"])).await;
    let mut twine = tool("twine");
    twine
        .arg("upload")
        .args(["--repository-url", &format!("{root}/team/dev/")])
        .args(["-u", "team", "-p", "team", "--disable-progress-bar"])
        .args(files);
    run(twine).await;
    Peer {
        child,
        base: format!("{root}/team/dev/+simple/"),
        _dir: dir,
    }
}

/// pypiserver and devpi-server as upstreams: what they serve comes through
/// our URL, and pip and uv install it (with a local project that depends
/// on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypiserver_and_devpi_as_upstreams_for_pip_and_uv() {
    use crate::clients::{
        Package as Built, build, make_pip_venv, make_uv_venv, pip_install, python_in, run, twine_upload, uv_install,
    };
    let work = tempfile::TempDir::new().expect("tempdir");
    let w = work.path();
    let rind = build(
        w,
        &Built {
            name: "cheese-rind",
            version: "1.5",
            requires_python: ">=3.8",
            dependencies: &[],
        },
    )
    .await;
    let app = build(
        w,
        &Built {
            name: "cheese-plate",
            version: "1.0",
            requires_python: ">=3.8",
            dependencies: &["cheese-rind>=1"],
        },
    )
    .await;
    for (name, peer) in [
        ("pypiserver", start_pypiserver(&rind).await),
        ("devpi", start_devpi(&rind).await),
    ] {
        let proxy = proxy_of(vec![peer.base.clone()], Duration::from_secs(600)).await;
        let (_, token) = user_with_token(&proxy, "team", None).await;
        twine_upload(&proxy, &token, &app).await;
        let (status, _, body) = simple_json(&proxy, "cheese-rind").await;
        assert_eq!(status, 200, "{name}");
        let files = body["files"].as_array().expect("files");
        assert_eq!(files.len(), 2, "{name}: the sdist and the wheel: {body:#}");
        for f in files {
            assert!(
                f["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("/files/upstream/cheese-rind/")),
                "{name}: {f}"
            );
        }
        assert_eq!(body["versions"], serde_json::json!(["1.5"]), "{name}");
        // No JSON API there: a document made from the link list.
        let doc = proxy.get_json("/pypi/cheese-rind/json").await;
        assert_eq!(doc["info"]["version"], "1.5", "{name}: {doc:#}");
        assert_eq!(doc["urls"].as_array().map(Vec::len), Some(2), "{name}: {doc:#}");

        let index = proxy.url("/simple/");
        let check = "import cheese_plate, cheese_rind; print(cheese_rind.VERSION)";
        let pip_venv = w.join(format!("venv-pip-{name}"));
        make_pip_venv(&pip_venv).await;
        run(pip_install(&pip_venv, &index, "cheese-plate")).await;
        assert_eq!(python_in(&pip_venv, check).await, "1.5", "{name}: pip");
        let uv_cache = w.join(format!("uv-cache-{name}"));
        let uv_venv = w.join(format!("venv-uv-{name}"));
        make_uv_venv(&uv_venv, &uv_cache).await;
        run(uv_install(&uv_venv, &index, &uv_cache, &["cheese-plate"])).await;
        assert_eq!(python_in(&uv_venv, check).await, "1.5", "{name}: uv");
    }
}

/// Over `CHEESESHOP_UPSTREAM_CACHE_MAX`, the least recently used files go
/// (row, then object); `cheeseshop cache stats` and `cache purge` report
/// and forget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_under_its_cap_and_the_command_line_reports_and_purges() {
    use crate::helpers::execute_sql;

    let fake = FakeUpstream::start().await;
    let proxy = proxy_with(UpstreamOptions {
        urls: vec![fake.url()],
        ttl: Duration::from_secs(600),
        timeout: Duration::from_secs(2),
        policy: Policy::default(),
        offline: false,
        max_bytes: Some(3_500_000),
    })
    .await;
    let (_, _, body) = simple_json(&proxy, "far-away").await;
    let url_of = |i: usize| proxy.url(body["files"][i]["url"].as_str().expect("url"));
    let download = |url: String| {
        let client = proxy.client.clone();
        async move { client.get(url).send().await.expect("get").bytes().await.expect("bytes") }
    };
    assert_eq!(download(url_of(0)).await.len(), 3_000_000);
    stored_eventually(&proxy, 1).await;
    // The wheel was last used long ago; the sdist makes the cache too big.
    execute_sql(&proxy.db_url, "UPDATE upstream_files SET last_used = 1", &[]).await;
    assert_eq!(download(url_of(1)).await.len(), 1_000_000);
    // Stored, then the wheel evicted.
    stored_until(&proxy, |stored| stored.len() == 1 && stored[0].ends_with(SDIST)).await;
    // Asked for again, it is fetched again.
    assert_eq!(download(url_of(0)).await.as_ref(), fake.wheel());
    assert_eq!(fake.state.downloads.load(Ordering::SeqCst), 3);
    // Now the sdist is the least recently used: it went for the wheel.
    stored_until(&proxy, |stored| stored.len() == 1 && stored[0].ends_with(WHEEL)).await;

    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cheeseshop"))
            .args(args)
            .env("DATABASE_URL", &proxy.db_url)
            .env("CHEESESHOP_STORAGE_DIR", &proxy.storage_dir)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run cheeseshop");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let stats = cli(&["cache", "stats"]);
    assert!(stats.contains("Upstream projects cached: 1"), "{stats}");
    assert!(stats.contains("Upstream files stored: 1 "), "{stats}");
    let purged = cli(&["cache", "purge", "Far_Away"]);
    assert!(
        purged.contains("Forgot far-away: its list and 1 stored files"),
        "{purged}"
    );
    assert!(proxy.stored_files().is_empty(), "the objects went too");
    let stats = cli(&["cache", "stats"]);
    assert!(stats.contains("Upstream projects cached: 0"), "{stats}");
    assert!(cli(&["cache", "purge", "far-away"]).contains("not in the cache"));
    // Purged: the list is fetched again.
    let lists = fake.state.lists.load(Ordering::SeqCst);
    let (status, _, _) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200);
    assert_eq!(fake.state.lists.load(Ordering::SeqCst), lists + 1);
}

/// An upstream that breaks off mid-body: the stale list is served, a file
/// download errs (never a short file taken for whole), and nothing is
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_upstream_answer_is_never_taken_for_whole() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::ZERO).await;
    let (_, _, body) = simple_json(&proxy, "far-away").await;
    let url = proxy.url(body["files"][0]["url"].as_str().expect("url"));
    fake.set(Mode::Truncated);
    let (status, headers, body) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200, "the stale list");
    assert!(headers.get(header::WARNING).is_some());
    assert_eq!(body["files"][0]["filename"], WHEEL);
    let response = proxy.client.get(&url).send().await.expect("response");
    assert!(response.bytes().await.is_err(), "the download errs");
    assert!(proxy.stored_files().is_empty(), "nothing stored");
    let (status, _, _) = simple_json(&proxy, "never-seen").await;
    assert!(matches!(status, 502 | 504), "{status}");
}

/// A TCP relay to another server, which can be cut: then new and open
/// connections alike fail, as when the upstream goes down.
struct Relay {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
    /// Milliseconds each request waits before it is relayed.
    delay: Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    async fn to(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let delay = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let wait = Arc::clone(&delay);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let wait = Arc::clone(&wait);
                connections.spawn(async move {
                    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    // Requests are held for the delay of the moment (kept-alive
                    // connections too); answers flow back as they come.
                    let requests = async move {
                        let mut buffer = vec![0u8; 64 * 1024];
                        while let Ok(n) = in_read.read(&mut buffer).await {
                            if n == 0 {
                                break;
                            }
                            let pause = wait.load(Ordering::Relaxed);
                            if pause > 0 {
                                tokio::time::sleep(Duration::from_millis(pause)).await;
                            }
                            if out_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = out_write.shutdown().await;
                    };
                    let answers = async move {
                        let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
                        let _ = in_write.shutdown().await;
                    };
                    tokio::join!(requests, answers);
                });
            }
        });
        Self { addr, task, delay }
    }

    /// From now on the upstream answers only after `pause`.
    fn slow_down(&self, pause: Duration) {
        self.delay.store(pause.as_millis() as u64, Ordering::Relaxed);
    }

    fn cut(&self) {
        self.task.abort();
    }
}

/// With the upstream slow (answering after the proxy's timeout) and then
/// gone, pip and uv still install what was installed through the proxy
/// before (stale lists, stored files), and an uncached project fails soon
/// with an error, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_of_cached_projects_survive_a_slow_or_absent_upstream() {
    use crate::clients::{
        Package as Built, build, make_pip_venv, make_uv_venv, pip_install, python_in, run, twine_upload, uv_install,
    };

    let work = tempfile::TempDir::new().expect("tempdir");
    let w = work.path();
    let upstream = spawn_empty().await;
    let (_, token) = user_with_token(&upstream, "public", None).await;
    for name in ["cheese-wax", "cheese-cloth"] {
        let files = build(
            w,
            &Built {
                name,
                version: "1.0",
                requires_python: ">=3.8",
                dependencies: &[],
            },
        )
        .await;
        twine_upload(&upstream, &token, &files).await;
    }
    let relay = Relay::to(upstream.addr).await;
    // Every list is revalidated: the upstream's absence is felt at once.
    let proxy = proxy_of(vec![format!("http://{}/simple/", relay.addr)], Duration::ZERO).await;
    let index = proxy.url("/simple/");
    let first = w.join("venv-first");
    make_pip_venv(&first).await;
    run(pip_install(&first, &index, "cheese-wax")).await;
    let check = "import cheese_wax; print(cheese_wax.VERSION)";
    let cache = w.join("uv-cache");

    // Slow: every list is asked for, and the stale one served after the
    // proxy's timeout (2 s).
    relay.slow_down(Duration::from_secs(10));
    let (status, headers, _) = simple_json(&proxy, "cheese-wax").await;
    assert_eq!(status, 200);
    assert!(
        headers
            .get("warning")
            .is_some_and(|w| w.to_str().is_ok_and(|w| w.starts_with("110"))),
        "served stale, and says so: {headers:?}"
    );
    let slow_pip = w.join("venv-slow-pip");
    make_pip_venv(&slow_pip).await;
    run(pip_install(&slow_pip, &index, "cheese-wax")).await;
    assert_eq!(python_in(&slow_pip, check).await, "1.0");
    let slow_uv = w.join("venv-slow-uv");
    make_uv_venv(&slow_uv, &cache).await;
    run(uv_install(&slow_uv, &index, &cache, &["--no-cache", "cheese-wax"])).await;
    assert_eq!(python_in(&slow_uv, check).await, "1.0");

    relay.cut();
    let second = w.join("venv-second");
    make_pip_venv(&second).await;
    run(pip_install(&second, &index, "cheese-wax")).await;
    assert_eq!(python_in(&second, check).await, "1.0");
    let gone_uv = w.join("venv-gone-uv");
    make_uv_venv(&gone_uv, &cache).await;
    run(uv_install(&gone_uv, &index, &cache, &["--no-cache", "cheese-wax"])).await;
    assert_eq!(python_in(&gone_uv, check).await, "1.0");

    let started = std::time::Instant::now();
    let mut uncached = pip_install(&second, &index, "cheese-cloth");
    let output = tokio::task::spawn_blocking(move || uncached.output())
        .await
        .expect("join")
        .expect("pip");
    assert!(!output.status.success(), "an uncached project cannot be installed");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "no hang: {:?}",
        started.elapsed()
    );
    let (status, _, _) = simple_json(&proxy, "cheese-cloth").await;
    assert!(matches!(status, 502 | 504), "a clean error: {status}");
}

/// The JSON API of an upstream project: the upstream's own document (here
/// PyPI's form), with our URLs; one release of it; and, for a cheeseshop
/// upstream, its document with our URLs, which download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_of_upstream_projects_has_our_urls() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let doc = proxy.get_json("/pypi/far-away/json").await;
    assert_eq!(doc["info"]["summary"], "Cheese from far away");
    assert_eq!(doc["info"]["version"], "1.0");
    let origin = proxy.url("");
    let origin = origin.trim_end_matches('/');
    assert_eq!(doc["info"]["package_url"], format!("{origin}/project/far-away/"));
    let wheel_url = format!("{origin}/files/upstream/far-away/{}/{WHEEL}", sha256(fake.wheel()));
    assert_eq!(doc["releases"]["1.0"][0]["url"], wheel_url.as_str());
    assert_eq!(doc["urls"][0]["url"], wheel_url.as_str());
    let release = proxy.get_json("/pypi/far-away/1.0.0/json").await;
    assert_eq!(release["info"]["version"], "1.0");
    assert!(release.get("releases").is_none());
    assert_eq!(release["urls"].as_array().map(Vec::len), Some(2));
    assert_eq!(proxy.get("/pypi/far-away/9.9/json").await.status(), 404);
    assert_eq!(proxy.get("/pypi/nowhere-at-all/json").await.status(), 404);
    let downloaded = proxy.client.get(&wheel_url).send().await.expect("get");
    assert_eq!(downloaded.bytes().await.expect("bytes").as_ref(), fake.wheel());
}

/// An upstream project has a project page: its data from the upstream's
/// JSON API, its description sanitized, its files with our URLs, a "From
/// upstream" badge; version pages too; a local project's page is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_projects_have_pages_with_a_badge() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let (status, page) = proxy.get_text("/project/far-away/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-test-upstream"), "the badge");
    assert!(page.contains("Cheese from far away"), "the summary");
    assert!(page.contains("Aged <strong>long</strong>"), "the description, rendered");
    assert!(!page.contains("<script>alert"), "and sanitized");
    let digest = sha256(fake.wheel());
    assert!(
        page.contains(&format!("/files/upstream/far-away/{digest}/{WHEEL}")),
        "our file URL"
    );
    assert!(!page.contains("files.example"), "never the upstream's URL");
    let (status, version_page) = proxy.get_text("/project/far-away/1.0/").await;
    assert_eq!(status, 200);
    assert!(version_page.contains("data-test-upstream"));
    let (status, _) = proxy.get_text("/project/far-away/7.0/").await;
    assert_eq!(status, 404);
    let (status, _) = proxy.get_text("/project/nowhere-at-all/").await;
    assert_eq!(status, 404);

    // A local project: no badge.
    let (_, token) = user_with_token(&proxy, "team", None).await;
    let (filename, bytes) = Package::new("home-made", "1.0").wheel();
    let form = Package::new("home-made", "1.0").form("bdist_wheel", &filename, &bytes, &[]);
    assert_eq!(proxy.upload(Some(&token), form).await.0, 200);
    let (status, local) = proxy.get_text("/project/home-made/").await;
    assert_eq!(status, 200);
    assert!(!local.contains("data-test-upstream"));
}

/// A name reserved with `cheeseshop name reserve` never comes from the
/// upstream: not its list, document, page or files; released, it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_names_never_come_from_upstream() {
    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let (_, _, body) = simple_json(&proxy, "far-away").await;
    let file = body["files"][0]["url"].as_str().expect("url").to_owned();
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cheeseshop"))
            .args(args)
            .env("DATABASE_URL", &proxy.db_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run cheeseshop");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(cli(&["name", "reserve", "Far_Away", "internal-thing"]).contains("Reserved far-away."));
    assert_eq!(cli(&["name", "list"]), "far-away\ninternal-thing\n");
    for path in [
        "/simple/far-away/",
        "/pypi/far-away/json",
        "/project/far-away/",
        file.as_str(),
    ] {
        assert_eq!(proxy.get(path).await.status(), 404, "{path}");
    }
    // Nobody may create a project of a reserved name; a project that has
    // the name already keeps it.
    let (_, token) = crate::helpers::user_with_token(&proxy, "taker", None).await;
    let (status, body, _) = crate::manage::upload(&proxy, &token, "internal-thing", "1.0").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("reserved by the index"), "{body}");
    let (status, body, _) = crate::manage::upload(&proxy, &token, "local-thing", "1.0").await;
    assert_eq!(status, 200, "{body}");
    assert!(cli(&["name", "reserve", "local_thing"]).contains("A project of that name exists"));
    let (status, body, _) = crate::manage::upload(&proxy, &token, "local-thing", "1.1").await;
    assert_eq!(status, 200, "{body}");
    assert!(cli(&["name", "release", "far-away"]).contains("Released far-away."));
    let (status, _, _) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200);
    assert_eq!(proxy.get(&file).await.status(), 200);
}

/// Logs in with the test password; the session cookie's value.
async fn session_of(app: &TestApp, username: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/login"))
        .form(&[("identifier", username), ("password", crate::helpers::TEST_PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200, "login");
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("cheeseshop_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// An owner may let the upstream's releases of a local name be served
/// beside the local ones (never a version or a file it has here); nobody
/// else may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_may_let_upstream_releases_be_served_beside_local_ones() {
    let upstream = spawn_empty().await;
    let (_, theirs) = user_with_token(&upstream, "public", None).await;
    for version in ["1.0", "2.0"] {
        let (filename, bytes) = Package::new("internal-lib", version).set("Summary", "theirs").wheel();
        let form = Package::new("internal-lib", version).form("bdist_wheel", &filename, &bytes, &[]);
        assert_eq!(upstream.upload(Some(&theirs), form).await.0, 200);
    }
    let proxy = proxy_of(vec![upstream.url("/simple/")], Duration::from_secs(600)).await;
    let (_, ours) = user_with_token(&proxy, "owner", None).await;
    let (filename, bytes) = Package::new("internal-lib", "1.0").wheel();
    let local_sha = sha256(&bytes);
    let form = Package::new("internal-lib", "1.0").form("bdist_wheel", &filename, &bytes, &[]);
    assert_eq!(proxy.upload(Some(&ours), form).await.0, 200);
    user_with_token(&proxy, "stranger", None).await;

    let set = |cookie: Option<String>, allow: &'static str| {
        let mut request = proxy
            .client
            .post(proxy.url("/api/set_upstream_merge"))
            .form(&[("project", "internal-lib"), ("allow", allow)]);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, format!("cheeseshop_session={cookie}"));
        }
        async move { request.send().await.expect("post").status().as_u16() }
    };
    let versions = || async { simple_json(&proxy, "internal-lib").await.2["versions"].clone() };
    assert_eq!(versions().await, serde_json::json!(["1.0"]));
    assert_eq!(set(None, "true").await, 401, "anonymous");
    assert_eq!(
        set(Some(session_of(&proxy, "stranger").await), "true").await,
        403,
        "not an owner"
    );
    assert_eq!(versions().await, serde_json::json!(["1.0"]), "nothing changed");

    let owner = session_of(&proxy, "owner").await;
    let account = proxy
        .client
        .get(proxy.url("/account"))
        .header(header::COOKIE, format!("cheeseshop_session={owner}"))
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("page");
    assert!(
        account.contains("data-test-upstream-merge=\"internal-lib\""),
        "the owner's form"
    );
    assert_eq!(set(Some(owner.clone()), "true").await, 200);
    let (_, _, body) = simple_json(&proxy, "internal-lib").await;
    assert_eq!(body["versions"], serde_json::json!(["1.0", "2.0"]));
    let files = body["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{body:#}");
    let one = files
        .iter()
        .find(|f| f["filename"] == "internal_lib-1.0-py3-none-any.whl")
        .expect("1.0");
    assert_eq!(
        one["hashes"]["sha256"],
        local_sha.as_str(),
        "1.0 is ours, not the upstream's"
    );
    let two = files
        .iter()
        .find(|f| f["filename"] == "internal_lib-2.0-py3-none-any.whl")
        .expect("2.0");
    let url = two["url"].as_str().expect("url");
    assert!(url.starts_with("/files/upstream/internal-lib/"), "{url}");
    assert_eq!(proxy.get(url).await.status(), 200);

    assert_eq!(set(Some(owner), "false").await, 200);
    assert_eq!(versions().await, serde_json::json!(["1.0"]), "local only again");
}

/// Concurrent requests for a list nobody has fetched yet ask the upstream
/// once; a file whose object went missing behind its row is fetched
/// again; remembered 404s past their minute are forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_are_fetched_once_missing_objects_again_and_old_404s_forgotten() {
    use crate::helpers::execute_sql;

    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let lists = (0..16).map(|_| {
        let client = proxy.client.clone();
        let url = proxy.url("/simple/far-away/");
        tokio::spawn(async move {
            client
                .get(url)
                .header(header::ACCEPT, JSON)
                .send()
                .await
                .expect("get")
                .status()
        })
    });
    for status in futures_util::future::join_all(lists).await {
        assert_eq!(status.expect("task"), 200);
    }
    assert_eq!(fake.state.lists.load(Ordering::SeqCst), 1, "one upstream request");

    let (_, _, body) = simple_json(&proxy, "far-away").await;
    let url = proxy.url(body["files"][1]["url"].as_str().expect("url"));
    let get = || async {
        proxy
            .client
            .get(&url)
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes")
    };
    assert_eq!(get().await.len(), 1_000_000);
    for path in stored_eventually(&proxy, 1).await {
        std::fs::remove_file(path).expect("remove the object");
    }
    let again = proxy.client.get(&url).send().await.expect("get");
    let status = again.status();
    let again = again.bytes().await.expect("bytes");
    assert_eq!(
        again.len(),
        1_000_000,
        "fetched again: {status} {:?}",
        String::from_utf8_lossy(&again[..again.len().min(200)])
    );
    assert_eq!(fake.state.downloads.load(Ordering::SeqCst), 2);
    stored_eventually(&proxy, 1).await;

    let (status, _, _) = simple_json(&proxy, "nowhere-at-all").await;
    assert_eq!(status, 404);
    execute_sql(
        &proxy.db_url,
        "UPDATE upstream_projects SET fetched_at = 1 WHERE NOT found",
        &[],
    )
    .await;
    let (status, _, _) = simple_json(&proxy, "nowhere-else").await;
    assert_eq!(status, 404);
    let stats = cheeseshop::server::db::upstream::stats(&proxy.db).await.expect("stats");
    assert_eq!(stats.missing, 1, "the old 404 went, the new one stays");
}

/// Cached upstream projects appear in search, by name, apart from the
/// index's own projects: not before they are cached, with their summary
/// once their JSON API document is, never when the name is local or
/// reserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_upstream_projects_appear_in_search() {
    use crate::helpers::execute_sql;

    let fake = FakeUpstream::start().await;
    let proxy = proxy_of(vec![fake.url()], Duration::from_secs(600)).await;
    let search = |q: &'static str| {
        let proxy = &proxy;
        async move {
            let response = proxy
                .client
                .post(proxy.url("/api/search"))
                .form(&[("q", q)])
                .send()
                .await
                .expect("search");
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.expect("json")
        }
    };
    assert_eq!(
        search("far").await["upstream"],
        serde_json::json!([]),
        "nothing cached yet"
    );
    let (_, page) = proxy.get_text("/search?q=away").await;
    assert!(!page.contains("data-test-upstream-hit"), "{page}");

    let (status, _, _) = simple_json(&proxy, "far-away").await;
    assert_eq!(status, 200);
    let found = search("far").await;
    assert_eq!(found["upstream"][0]["normalized_name"], "far-away", "{found}");
    assert_eq!(found["upstream"][0]["summary"], "", "no document cached yet");
    assert_eq!(found["hits"], serde_json::json!([]), "not among the index's own");
    assert_eq!(proxy.get("/pypi/far-away/json").await.status(), 200);
    let found = search("far").await;
    assert_eq!(found["upstream"][0]["summary"], "Cheese from far away", "{found}");
    assert_eq!(found["upstream"][0]["version"], "1.0");
    // The results page shows them apart, with the badge; a page cached
    // before the project was shows it too (caching it moved the generation).
    let (_, page) = proxy.get_text("/search?q=away").await;
    assert!(page.contains("data-test-upstream-hit=\"far-away\""), "{page}");
    let (_, page) = proxy.get_text("/search?q=far").await;
    assert!(page.contains("data-test-upstream-hit=\"far-away\""), "{page}");
    // A wildcard is text.
    assert_eq!(search("f%r").await["upstream"], serde_json::json!([]));

    // Reserved: gone from search too.
    execute_sql(
        &proxy.db_url,
        "INSERT INTO reserved_names (normalized_name, reserved_at) VALUES ('far-away', 1)",
        &[],
    )
    .await;
    assert_eq!(search("far").await["upstream"], serde_json::json!([]));
    execute_sql(&proxy.db_url, "DELETE FROM reserved_names", &[]).await;
    assert_eq!(search("far").await["upstream"][0]["normalized_name"], "far-away");
    // Local now: the index's own, and not the upstream's.
    let (_, token) = user_with_token(&proxy, "team", None).await;
    let (filename, bytes) = Package::new("far-away", "9.0").wheel();
    let form = Package::new("far-away", "9.0").form("bdist_wheel", &filename, &bytes, &[]);
    assert_eq!(proxy.upload(Some(&token), form).await.0, 200);
    let found = search("far").await;
    assert_eq!(found["upstream"], serde_json::json!([]), "{found}");
    assert_eq!(found["hits"][0]["normalized_name"], "far-away");
}
