use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cheeseshop::server::db::Db;
use cheeseshop::server::http::Server;
use cheeseshop::server::import;
use cheeseshop::server::state::AppState;
use leptos::prelude::LeptosOptions;
use tempfile::TempDir;
use tokio::sync::OnceCell;

/// The shared dataset: 96 real PyPI JSON documents, beside the repository.
pub fn dataset_dir() -> PathBuf {
    std::env::var_os("CHEESESHOP_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pypi-top-100"))
}

/// Values of `attr="..."` in an HTML body, in document order.
pub fn attr_values<'a>(body: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    body.match_indices(&needle)
        .filter_map(|(at, _)| body[at + needle.len()..].split('"').next())
        .collect()
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    _dir: TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// A database with the whole dataset imported, made once per test binary;
/// every test copies it, so tests never share a database.
async fn dataset_template() -> &'static Path {
    static TEMPLATE: OnceCell<(TempDir, PathBuf)> = OnceCell::const_new();
    let (_, path) = TEMPLATE
        .get_or_init(|| async {
            let dir = TempDir::new().expect("tempdir");
            let path = dir.path().join("template.db");
            let db = Db::open(&sqlite_url(&path), 1).await.expect("open template");
            let inputs = import::collect_inputs(&[dataset_dir()]).expect("dataset");
            let report = import::import_files(&db, &inputs, false).await;
            assert!(
                report.skipped.is_empty(),
                "dataset imports cleanly: {:?}",
                report.skipped
            );
            db.close().await;
            (dir, path)
        })
        .await;
    path
}

/// A server on a free port over an empty database.
pub async fn spawn_empty() -> TestApp {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("cheeseshop.db");
    spawn_at(dir, &path).await
}

/// A server on a free port over a fresh copy of the imported dataset.
pub async fn spawn_with_dataset() -> TestApp {
    let template = dataset_template().await;
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("cheeseshop.db");
    std::fs::copy(template, &path).expect("copy template");
    spawn_at(dir, &path).await
}

async fn spawn_at(dir: TempDir, path: &Path) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let db = Db::open(&sqlite_url(path), 4).await.expect("open db");
    let leptos_options = LeptosOptions::builder()
        .output_name("cheeseshop")
        .site_root("target/site")
        .build();
    let state = AppState::new(leptos_options, db);
    let server = Server::bind("127.0.0.1:0".parse().expect("addr"), state)
        .await
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    tokio::spawn(server.run_forever());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        addr,
        client,
        _dir: dir,
    }
}
