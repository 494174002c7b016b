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

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The server's database, for arranging what a test needs.
    pub db: Db,
    /// Where the server keeps uploaded files.
    pub storage_dir: PathBuf,
    /// The server's SQLite database file.
    pub db_path: PathBuf,
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
    spawn_at(Arc::new(dir), &path, configure).await
}

impl TestApp {
    /// A second server (another process, as far as the database and the
    /// storage can tell) on this one's database and storage directory.
    pub async fn spawn_beside(&self) -> TestApp {
        spawn_at(self._dir.clone(), &self.db_path, |_| {}).await
    }
}

/// A server on a free port over a fresh copy of the imported dataset.
pub async fn spawn_with_dataset() -> TestApp {
    let template = dataset_template().await;
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("cheeseshop.db");
    std::fs::copy(template, &path).expect("copy template");
    spawn_at(Arc::new(dir), &path, |_| {}).await
}

async fn spawn_at(dir: Arc<TempDir>, path: &Path, configure: impl FnOnce(&mut Shared)) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let db = Db::open(&sqlite_url(path), &DbOptions::pool(4)).await.expect("open db");
    let leptos_options = LeptosOptions::builder()
        .output_name("cheeseshop")
        .site_root("target/site")
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

/// Another API token for an existing user.
pub async fn token_for(app: &TestApp, user_id: i64, project_id: Option<i64>) -> String {
    use cheeseshop::server::{auth, db::index, now_micros};
    let (token, token_hash) = auth::new_api_token();
    index::create_token(&app.db, user_id, "test", &token_hash, project_id, now_micros())
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
