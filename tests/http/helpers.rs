use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cheeseshop::server::db::{Db, DbOptions};
use cheeseshop::server::http::Server;
use cheeseshop::server::import;
use cheeseshop::server::state::{AppState, Shared};
use cheeseshop::server::storage::LocalStorage;
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

/// Which backend the suite runs on: `CHEESESHOP_TEST_BACKEND=postgres`
/// (set by `make test` for its second pass) or SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

pub fn backend() -> TestBackend {
    match std::env::var("CHEESESHOP_TEST_BACKEND").as_deref() {
        Ok("postgres") => TestBackend::Postgres,
        _ => TestBackend::Sqlite,
    }
}

/// The admin URL of the throwaway PostgreSQL cluster:
/// `CHEESESHOP_TEST_POSTGRES` (set by `make test`, which starts and stops
/// it), or one started here (left running; `scripts/pg.sh stop` stops it).
pub fn pg_admin_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("CHEESESHOP_TEST_POSTGRES") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
        let output = std::process::Command::new(script)
            .arg("start")
            .output()
            .expect("run scripts/pg.sh");
        assert!(
            output.status.success(),
            "scripts/pg.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("a URL").trim().to_owned()
    })
    .clone()
}

/// `admin`'s URL with another database name.
fn pg_url_of(name: &str) -> String {
    let admin = pg_admin_url();
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
}

/// Runs `work` to completion on a runtime of its own, on a thread of its
/// own: callable from sync tests, async tests and `Drop` alike.
fn block_on_side<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
    .join()
    .expect("side thread")
}

/// Statements on the cluster's admin database (CREATE/DROP DATABASE).
async fn pg_admin(statements: Vec<String>) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .expect("connect to the cluster");
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let _ = conn.close().await;
}

/// A database name unique to this process and call: digits, letters and
/// underscores only (so it needs no quoting).
fn unique_db_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos()
    )
}

/// A test's database: a file in its directory on SQLite; a database of its
/// own on the cluster on PostgreSQL, dropped (with its connections) when
/// the last handle goes.
pub struct TestDb {
    pub url: String,
    /// The database's name on the cluster (PostgreSQL).
    pg_name: Option<String>,
}

impl TestDb {
    /// A new, empty PostgreSQL database on the throwaway cluster, whatever
    /// the suite's backend; its URL.
    pub fn postgres() -> Arc<Self> {
        let name = unique_db_name("t");
        block_on_side(pg_admin(vec![format!("CREATE DATABASE {name}")]));
        Arc::new(Self {
            url: pg_url_of(&name),
            pg_name: Some(name),
        })
    }

    /// A new empty database (not migrated: `Db::open` migrates). `dir` holds
    /// it on SQLite.
    pub fn new(dir: &Path) -> Arc<Self> {
        match backend() {
            TestBackend::Sqlite => Arc::new(Self {
                url: sqlite_url(&dir.join("cheeseshop.db")),
                pg_name: None,
            }),
            TestBackend::Postgres => Self::postgres(),
        }
    }

    /// On PostgreSQL, a copy of the migrated, imported dataset (a template
    /// database built once per cluster and test binary); on SQLite, the
    /// file `path` (which the caller filled).
    async fn with_dataset(path: &Path) -> Arc<Self> {
        match backend() {
            TestBackend::Sqlite => Arc::new(Self {
                url: sqlite_url(path),
                pg_name: None,
            }),
            TestBackend::Postgres => {
                let template = pg_dataset_template().await;
                let name = unique_db_name("t");
                pg_admin(vec![format!("CREATE DATABASE {name} TEMPLATE {template}")]).await;
                Arc::new(Self {
                    url: pg_url_of(&name),
                    pg_name: Some(name),
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // A test database is thrown away with the cluster anyway; this
            // only keeps the disk small while the suite runs.
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = std::thread::spawn(move || {
                block_on_side(async move {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await;
                    }
                })
            })
            .join();
        }
    }
}

/// The name of the PostgreSQL template database holding the imported
/// dataset, made the first time any test asks (under an advisory lock, so
/// concurrent test processes make it once). Its name carries the test
/// binary's build time, so a rebuilt suite never uses a stale template.
async fn pg_dataset_template() -> String {
    use sqlx::Connection;
    let built = std::env::current_exe()
        .and_then(|exe| exe.metadata())
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |at| at.as_secs());
    let name = format!("template_dataset_{built}");
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .expect("connect to the cluster");
    sqlx::query("SELECT pg_advisory_lock(7263)")
        .execute(&mut conn)
        .await
        .expect("lock");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await
        .expect("query");
    if !exists {
        let building = unique_db_name("building");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut conn)
            .await
            .expect("create");
        let db = Db::open(&pg_url_of(&building), &DbOptions::pool(2))
            .await
            .expect("open the template");
        let inputs = import::collect_inputs(&[dataset_dir()]).expect("dataset");
        let report = import::import_files(&db, &inputs, false).await;
        assert!(
            report.skipped.is_empty(),
            "dataset imports cleanly: {:?}",
            report.skipped
        );
        db.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {name}"
        )))
        .execute(&mut conn)
        .await
        .expect("rename");
    }
    sqlx::query("SELECT pg_advisory_unlock(7263)")
        .execute(&mut conn)
        .await
        .expect("unlock");
    let _ = conn.close().await;
    name
}

/// The `DATABASE_URL` of a test directory's database (for the command
/// line): `dir/cheeseshop.db` on SQLite, a database made on first use on
/// PostgreSQL. The same directory always gets the same database.
pub fn db_url_for_dir(dir: &Path) -> String {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static MADE: Mutex<Option<HashMap<PathBuf, Arc<TestDb>>>> = Mutex::new(None);
    let mut made = MADE.lock().expect("lock");
    let db = made
        .get_or_insert_with(HashMap::new)
        .entry(dir.to_owned())
        .or_insert_with(|| TestDb::new(dir));
    db.url.clone()
}

/// Runs one statement with binds (strings) on the database at `url`, as
/// another client would: SQLite or PostgreSQL by the URL.
pub async fn execute_sql(url: &str, sql: &'static str, binds: &[&str]) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(bind.to_string());
        }
        query.execute(&pool).await.expect(sql);
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(bind.to_string());
        }
        query.execute(&pool).await.expect(sql);
        pool.close().await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The server's database, for arranging what a test needs.
    pub db: Db,
    /// Where the server keeps uploaded files.
    pub storage_dir: PathBuf,
    /// The server's SQLite database file (SQLite only).
    pub db_path: PathBuf,
    /// The server's `DATABASE_URL`.
    pub db_url: String,
    test_db: Arc<TestDb>,
    _dir: Arc<TempDir>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.expect("a JSON body")
    }

    /// `POST path` without arguments (a server function call) as JSON.
    pub async fn post_json(&self, path: &str) -> serde_json::Value {
        let response = self.client.post(self.url(path)).send().await.expect("post");
        response.json().await.expect("a JSON body")
    }

    /// Asserts that each `from` answers `301` with `Location: to`.
    pub async fn assert_redirects(&self, pairs: &[(&str, &str)]) {
        for (from, to) in pairs {
            let response = self.get(from).await;
            assert_eq!(response.status().as_u16(), 301, "{from}");
            assert_eq!(response.headers()["location"], *to, "{from}");
        }
    }

    /// `GET path` with these request headers: the status, the headers and
    /// the body's bytes.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("get");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.expect("body").to_vec())
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// A database with the whole dataset imported, made once per test binary;
/// every test copies it, so tests never share a database.
pub async fn dataset_template() -> &'static Path {
    static TEMPLATE: OnceCell<(TempDir, PathBuf)> = OnceCell::const_new();
    let (_, path) = TEMPLATE
        .get_or_init(|| async {
            let dir = TempDir::new().expect("tempdir");
            let path = dir.path().join("template.db");
            let db = Db::open(&sqlite_url(&path), &DbOptions::pool(1))
                .await
                .expect("open template");
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
    spawn_empty_with(|_| {}).await
}

/// An empty server whose state `configure` adjusts first (e.g. the upload limit).
pub async fn spawn_empty_with(configure: impl FnOnce(&mut Shared)) -> TestApp {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("cheeseshop.db");
    let test_db = TestDb::new(dir.path());
    spawn_at(Arc::new(dir), &path, test_db, configure).await
}

/// An empty server on the database at `url` (which the caller made and
/// will throw away).
pub async fn spawn_on(url: &str) -> TestApp {
    spawn_on_with(url, |_| {}).await
}

/// A server on the database at `url`, configured by `configure`.
pub async fn spawn_on_with(url: &str, configure: impl FnOnce(&mut Shared)) -> TestApp {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("unused.db");
    let test_db = Arc::new(TestDb {
        url: url.to_owned(),
        pg_name: None,
    });
    spawn_at(Arc::new(dir), &path, test_db, configure).await
}

impl TestApp {
    /// Another server on the database at `url`, with this one's storage
    /// directory (the same package files).
    pub async fn spawn_beside_on(&self, url: &str) -> TestApp {
        let test_db = Arc::new(TestDb {
            url: url.to_owned(),
            pg_name: None,
        });
        spawn_at(self._dir.clone(), &self.db_path, test_db, |_| {}).await
    }

    /// A second server (another process, as far as the database and the
    /// storage can tell) on this one's database and storage directory.
    pub async fn spawn_beside(&self) -> TestApp {
        spawn_at(self._dir.clone(), &self.db_path, self.test_db.clone(), |_| {}).await
    }

    /// The same, configured differently.
    pub async fn spawn_beside_with(&self, configure: impl FnOnce(&mut Shared)) -> TestApp {
        spawn_at(self._dir.clone(), &self.db_path, self.test_db.clone(), configure).await
    }
}

/// A server on a free port over a fresh copy of the imported dataset.
pub async fn spawn_with_dataset() -> TestApp {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("cheeseshop.db");
    if backend() == TestBackend::Sqlite {
        let template = dataset_template().await;
        std::fs::copy(template, &path).expect("copy template");
    }
    let test_db = TestDb::with_dataset(&path).await;
    spawn_at(Arc::new(dir), &path, test_db, |_| {}).await
}

async fn spawn_at(
    dir: Arc<TempDir>,
    path: &Path,
    test_db: Arc<TestDb>,
    configure: impl FnOnce(&mut Shared),
) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let db = Db::open(&test_db.url, &DbOptions::pool(4)).await.expect("open db");
    let leptos_options = LeptosOptions::builder()
        .output_name("cheeseshop")
        // The static files a fresh checkout has: CI runs these tests before
        // cargo-leptos has built `target/site`.
        .site_root("public")
        .build();
    let storage_dir = dir.path().join("files");
    let storage = LocalStorage::open(&storage_dir).expect("storage");
    let mut state = Shared::new(leptos_options, db.clone(), Arc::new(storage));
    configure(&mut state);
    let state = AppState::from(state);
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
        db,
        storage_dir,
        db_path: path.to_owned(),
        db_url: test_db.url.clone(),
        test_db,
        _dir: dir,
    }
}

pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// A user made directly in the database, with an API token for uploads
/// (optionally limited to one project). Returns the user id and the token.
pub async fn user_with_token(app: &TestApp, username: &str, project_id: Option<i64>) -> (i64, String) {
    use cheeseshop::domain::{DisplayName, Email, Password, Username};
    use cheeseshop::server::auth;

    let user_id = auth::create_account(
        &app.db,
        &Username::parse(username).expect("username"),
        &Email::parse(&format!("{username}@example.org")).expect("email"),
        &DisplayName::parse(username).expect("name"),
        Password::parse(TEST_PASSWORD).expect("password"),
    )
    .await
    .unwrap_or_else(|e| panic!("create user {username}: {e:?}"));
    let token = token_for(app, user_id, project_id).await;
    (user_id, token)
}

/// An API token of `user_id` for all its projects with just these scopes.
pub async fn token_with_scopes(app: &TestApp, user_id: i64, read: bool, upload: bool) -> String {
    use cheeseshop::domain::access::TokenScopes;
    use cheeseshop::server::{auth, db::index, now_micros};
    let (token, hash) = auth::new_api_token();
    index::create_token(
        &app.db,
        user_id,
        "scoped",
        &hash,
        None,
        TokenScopes { read, upload },
        now_micros(),
    )
    .await
    .expect("token");
    token
}

/// Another API token for an existing user.
pub async fn token_for(app: &TestApp, user_id: i64, project_id: Option<i64>) -> String {
    use cheeseshop::server::{auth, db::index, now_micros};
    let (token, token_hash) = auth::new_api_token();
    index::create_token(
        &app.db,
        user_id,
        "test",
        &token_hash,
        project_id,
        cheeseshop::domain::access::TokenScopes::ALL,
        now_micros(),
    )
    .await
    .expect("create token");
    token
}

/// A test package's core metadata, written alike into its archives
/// (METADATA, PKG-INFO) and its upload form, as twine and uv do: headers
/// in order, repeated ones (`Classifier`) repeated.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub description: String,
}

impl Package {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            headers: vec![
                ("Summary".into(), "A test package".into()),
                ("Description-Content-Type".into(), "text/markdown".into()),
            ],
            description: "# Hello\n\nA *test* package.".into(),
        }
    }

    /// Sets a header (replacing every earlier value).
    pub fn set(mut self, header: &str, value: &str) -> Self {
        self.headers.retain(|(h, _)| h != header);
        self.headers.push((header.to_owned(), value.to_owned()));
        self
    }

    /// Adds one more value of a repeatable header.
    pub fn add(mut self, header: &str, value: &str) -> Self {
        self.headers.push((header.to_owned(), value.to_owned()));
        self
    }

    pub fn describe(mut self, text: &str, content_type: &str) -> Self {
        self.description = text.to_owned();
        self.set("Description-Content-Type", content_type)
    }

    /// The distribution name in filenames: normalized, `-` as `_`.
    pub fn dist_name(&self) -> String {
        cheeseshop::domain::normalize_project_name(&self.name).replace('-', "_")
    }

    /// The METADATA / PKG-INFO text.
    pub fn metadata(&self) -> String {
        let mut text = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        for (header, value) in &self.headers {
            text.push_str(&format!("{header}: {value}\n"));
        }
        text.push('\n');
        text.push_str(&self.description);
        text
    }

    /// A minimal but real wheel: a module and its `.dist-info` (METADATA, WHEEL, RECORD).
    pub fn wheel(&self) -> (String, Vec<u8>) {
        self.wheel_with_metadata(&self.metadata())
    }

    /// The same wheel with other METADATA.
    pub fn wheel_with_metadata(&self, metadata: &str) -> (String, Vec<u8>) {
        use std::io::Write as _;
        let dist = self.dist_name();
        let version = &self.version;
        let filename = format!("{dist}-{version}-py3-none-any.whl");
        let info = format!("{dist}-{version}.dist-info");
        let files = [
            (format!("{dist}.py"), format!("VERSION = {version:?}\n")),
            (format!("{info}/METADATA"), metadata.to_owned()),
            (
                format!("{info}/WHEEL"),
                "Wheel-Version: 1.0\nGenerator: cheeseshop-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n".into(),
            ),
            (format!("{info}/RECORD"), String::new()),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (path, content) in files {
            zip.start_file(path, zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            zip.write_all(content.as_bytes()).expect("zip write");
        }
        (filename, zip.finish().expect("zip").into_inner())
    }

    /// A minimal but real sdist (PEP 625): `{name}-{version}/PKG-INFO` and a module.
    pub fn sdist(&self) -> (String, Vec<u8>) {
        let stem = format!("{}-{}", self.dist_name(), self.version);
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, content) in [
            (format!("{stem}/PKG-INFO"), self.metadata()),
            (format!("{stem}/{}.py", self.dist_name()), "VERSION = 1\n".to_owned()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, content.as_bytes())
                .expect("tar entry");
        }
        let gz = tar.into_inner().expect("tar");
        (format!("{stem}.tar.gz"), gz.finish().expect("gzip"))
    }

    /// The form fields twine sends for this package (without the file and digests).
    pub fn form_fields(&self) -> Vec<(String, String)> {
        let mut fields = vec![
            ("metadata_version".to_owned(), "2.1".to_owned()),
            ("name".to_owned(), self.name.clone()),
            ("version".to_owned(), self.version.clone()),
            ("description".to_owned(), self.description.clone()),
        ];
        for (header, value) in &self.headers {
            let field = match header.as_str() {
                "Classifier" => "classifiers".to_owned(),
                "Project-URL" => "project_urls".to_owned(),
                "Home-page" | "Home-Page" => "home_page".to_owned(),
                "Download-URL" => "download_url".to_owned(),
                other => other.to_ascii_lowercase().replace('-', "_"),
            };
            fields.push((field, value.clone()));
        }
        fields
    }

    /// The upload form for `bytes` named `filename`; `overrides` replace
    /// (or, with an empty value, remove) fields.
    pub fn form(
        &self,
        filetype: &str,
        filename: &str,
        bytes: &[u8],
        overrides: &[(&str, &str)],
    ) -> reqwest::multipart::Form {
        form_of(self.form_fields(), filetype, filename, bytes, overrides)
    }
}

/// A wheel of a package with the default metadata (and `Requires-Python`).
pub fn build_wheel(name: &str, version: &str, requires_python: Option<&str>) -> (String, Vec<u8>) {
    let mut package = Package::new(name, version);
    if let Some(rp) = requires_python {
        package = package.set("Requires-Python", rp);
    }
    package.wheel()
}

/// An sdist of a package with the default metadata.
pub fn build_sdist(name: &str, version: &str) -> (String, Vec<u8>) {
    Package::new(name, version).sdist()
}

/// The multipart form twine sends for `bytes` as `filename`, with the
/// default metadata of `Package::new(name, version)`; `overrides` replace
/// (or, with an empty value, remove) fields.
pub fn upload_form(
    name: &str,
    version: &str,
    filetype: &str,
    filename: &str,
    bytes: &[u8],
    overrides: &[(&str, &str)],
) -> reqwest::multipart::Form {
    Package::new(name, version).form(filetype, filename, bytes, overrides)
}

fn form_of(
    mut fields: Vec<(String, String)>,
    filetype: &str,
    filename: &str,
    bytes: &[u8],
    overrides: &[(&str, &str)],
) -> reqwest::multipart::Form {
    use sha2::Digest as _;
    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    let md5 = hex::encode(md5::Md5::digest(bytes));
    for (k, v) in [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("filetype", filetype),
        ("pyversion", if filetype == "sdist" { "source" } else { "py3" }),
        ("sha256_digest", &sha256),
        ("md5_digest", &md5),
    ] {
        fields.push((k.to_owned(), v.to_owned()));
    }
    for (key, value) in overrides {
        fields.retain(|(k, _)| k != key);
        if !value.is_empty() {
            fields.push(((*key).to_owned(), (*value).to_owned()));
        }
    }
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k, v);
    }
    form.part(
        "content",
        reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(filename.to_owned())
            .mime_str("application/octet-stream")
            .expect("mime"),
    )
}

impl TestApp {
    /// Uploads `package`'s wheel with `token`, which must be accepted.
    pub async fn publish(&self, token: &str, package: &Package) {
        let (filename, wheel) = package.wheel();
        let (status, body) = self
            .upload(Some(token), package.form("bdist_wheel", &filename, &wheel, &[]))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// `POST /legacy/` with HTTP Basic `__token__:token` (or no credentials).
    pub async fn upload(&self, token: Option<&str>, form: reqwest::multipart::Form) -> (u16, String) {
        let mut request = self.client.post(self.url("/legacy/")).multipart(form);
        if let Some(token) = token {
            request = request.basic_auth("__token__", Some(token));
        }
        let response = request.send().await.expect("upload");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Files in storage (not counting the staging area, which must be empty too).
    pub fn stored_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.storage_dir, &mut out);
        out
    }
}
