//! Scale-out: three instances of the real binary on one PostgreSQL database
//! and one S3 bucket (moto), behind nginx from Debian, round-robin. Any
//! instance answers any request, and is current right after a write made
//! through another; losing one (`kill -9`) loses nothing; stopping one
//! (SIGTERM) lets its uploads finish.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cheeseshop::server::db::{Db, DbOptions, index};
use object_store::aws::AmazonS3;
use tempfile::TempDir;

use crate::clients::{Package, build, pip_install, python_in, run, tool, uv_install};
use crate::helpers::{TestDb, build_wheel, upload_form};
use crate::storage::{bucket, s3_endpoint};

const NGINX: &str = "/usr/sbin/nginx";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// One instance: the server binary as a deployment runs it.
struct Instance {
    child: Child,
    port: u16,
}

impl Instance {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

struct Cluster {
    instances: Vec<Instance>,
    /// Started once the instances answer.
    nginx: Option<Child>,
    port: u16,
    db: Db,
    store: Arc<AmazonS3>,
    client: reqwest::Client,
    dir: TempDir,
    _db: Arc<TestDb>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // TERM, not KILL: nginx's master stops its workers on the way out;
        // killed outright, it would leave them running.
        if let Some(nginx) = &mut self.nginx {
            let _ = Command::new("kill").args(["-TERM", &nginx.id().to_string()]).status();
            let _ = nginx.wait();
        }
        for instance in &mut self.instances {
            let _ = instance.child.kill();
            let _ = instance.child.wait();
        }
    }
}

impl Cluster {
    async fn start() -> Self {
        assert!(
            Path::new(NGINX).exists(),
            "nginx is missing: run scripts/setup.sh (apt: nginx)"
        );
        let test_db = TestDb::postgres();
        // Migrated once, here; the instances find nothing to do.
        let db = Db::open(&test_db.url, &DbOptions::pool(4)).await.expect("db");
        let (bucket, store) = bucket().await;
        let dir = TempDir::new().expect("tempdir");
        let mut cluster = Self {
            instances: Vec::new(),
            nginx: None,
            port: free_port(),
            db,
            store,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            _db: test_db,
            dir,
        };
        for i in 0..3 {
            let instance = cluster.spawn_instance(i, &bucket);
            cluster.instances.push(instance);
        }
        for i in 0..3 {
            cluster.wait_healthy(i).await;
        }
        cluster.nginx = Some(cluster.spawn_nginx());
        cluster.wait_for(&cluster.url("/_health")).await;
        cluster
    }

    fn spawn_instance(&self, i: usize, bucket: &str) -> Instance {
        let port = free_port();
        let log = std::fs::File::create(self.dir.path().join(format!("instance-{i}.log"))).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_cheeseshop"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self._db.url)
            .env("CHEESESHOP_STORAGE_URL", format!("s3://{bucket}"))
            .env("CHEESESHOP_STAGING_DIR", self.dir.path().join(format!("staging-{i}")))
            .env("AWS_ENDPOINT", s3_endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("CHEESESHOP_TRUST_PROXY", "1")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "LEPTOS_SITE_ROOT",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site"),
            )
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start an instance");
        Instance { child, port }
    }

    fn spawn_nginx(&self) -> Child {
        // The one configuration of scripts/nginx.sh, as `make cluster` and
        // the bench use it.
        let dir = self.dir.path().join("nginx");
        let written = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/nginx.sh"))
            .arg(&dir)
            .arg(format!("127.0.0.1:{}", self.port))
            .args(self.instances.iter().map(|i| i.port.to_string()))
            .output()
            .expect("scripts/nginx.sh");
        assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
        let path = String::from_utf8_lossy(&written.stdout).trim().to_owned();
        Command::new(NGINX)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("logs/stderr.log")).expect("log"))
            .spawn()
            .expect("start nginx")
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_for(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = self.client.get(url).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "{url} did not come up:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_healthy(&self, i: usize) {
        self.wait_for(&self.instances[i].url("/_health")).await;
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in walk(self.dir.path()) {
            if entry.extension().is_some_and(|e| e == "log") {
                out += &format!(
                    "--- {}\n{}\n",
                    entry.display(),
                    std::fs::read_to_string(&entry).unwrap_or_default()
                );
            }
        }
        out
    }

    /// A user with an upload token, made in the shared database.
    async fn token(&self, username: &str) -> String {
        use cheeseshop::domain::{DisplayName, Email, Password, Username};
        use cheeseshop::server::{auth, now_micros};
        let user_id = auth::create_account(
            &self.db,
            &Username::parse(username).expect("username"),
            &Email::parse(&format!("{username}@example.org")).expect("email"),
            &DisplayName::parse(username).expect("name"),
            Password::parse(crate::helpers::TEST_PASSWORD).expect("password"),
        )
        .await
        .expect("user");
        let (token, hash) = auth::new_api_token();
        index::create_token(
            &self.db,
            user_id,
            "cluster",
            &hash,
            None,
            cheeseshop::domain::access::TokenScopes::ALL,
            now_micros(),
        )
        .await
        .expect("token");
        token
    }

    async fn upload(&self, url: &str, token: &str, form: reqwest::multipart::Form) -> u16 {
        match self
            .client
            .post(url)
            .basic_auth("__token__", Some(token))
            .multipart(form)
            .send()
            .await
        {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// `path` on every live instance directly, not through the balancer.
    async fn on_every_instance(&self, path: &str) -> Vec<(u16, String)> {
        let mut out = Vec::new();
        for instance in &self.instances {
            let response = self.client.get(instance.url(path)).send().await.expect("get");
            out.push((response.status().as_u16(), response.text().await.expect("body")));
        }
        out
    }

    async fn object_keys(&self) -> Vec<String> {
        use futures_util::TryStreamExt as _;
        use object_store::ObjectStore as _;
        self.store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .expect("list")
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Asserts that every instance shows `version` of `project` in the Simple
/// API, the JSON API and the project page.
async fn current_everywhere(cluster: &Cluster, project: &str, version: &str) {
    for (path, needle) in [
        (format!("/simple/{project}/"), format!("-{version}")),
        (format!("/pypi/{project}/json"), format!("\"version\":\"{version}\"")),
        (format!("/project/{project}/"), version.to_owned()),
    ] {
        for (i, (status, body)) in cluster.on_every_instance(&path).await.into_iter().enumerate() {
            assert_eq!(status, 200, "{path} on instance {i}");
            assert!(body.contains(&needle), "{path} on instance {i} lacks {needle}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_behind_nginx_serve_one_index() {
    let cluster = Cluster::start().await;
    let token = cluster.token("publisher").await;
    let work = TempDir::new().expect("tempdir");
    let w = work.path();

    // twine uploads through the balancer; every instance is current at once.
    let mut built = Vec::new();
    for version in ["1.0", "2.0"] {
        built.push(
            build(
                w,
                &Package {
                    name: "cluster-cheese",
                    version,
                    requires_python: ">=3.8",
                    dependencies: &[],
                },
            )
            .await,
        );
    }
    for (files, version) in built.iter().zip(["1.0", "2.0"]) {
        let mut cmd = tool("twine");
        cmd.arg("upload")
            .args(["--repository-url", &cluster.url("/legacy/")])
            .args(["-u", "__token__", "-p", &token])
            .arg("--disable-progress-bar")
            .args(files);
        run(cmd).await;
        current_everywhere(&cluster, "cluster-cheese", version).await;
    }

    // pip and uv install through the balancer, at once.
    let index = cluster.url("/simple/");
    let pip_venv = w.join("venv-pip");
    let uv_venv = w.join("venv-uv");
    let uv_cache = w.join("uv-cache");
    crate::clients::make_pip_venv(&pip_venv).await;
    crate::clients::make_uv_venv(&uv_venv, &uv_cache).await;
    let pip = pip_install(&pip_venv, &index, "cluster-cheese==1.0");
    let uv = uv_install(&uv_venv, &index, &uv_cache, &["cluster-cheese"]);
    tokio::join!(run(pip), run(uv));
    assert_eq!(
        python_in(&pip_venv, "import cluster_cheese; print(cluster_cheese.VERSION)").await,
        "1.0"
    );
    assert_eq!(
        python_in(&uv_venv, "import cluster_cheese; print(cluster_cheese.VERSION)").await,
        "2.0"
    );

    // Round robin: every instance answered.
    let mut upstreams = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let response = cluster.client.get(cluster.url("/simple/")).send().await.expect("get");
        upstreams.insert(response.headers()["x-upstream"].to_str().expect("upstream").to_owned());
    }
    assert_eq!(upstreams.len(), 3, "{upstreams:?}");

    // 16 identical uploads at once, spread over the instances: all 200, one object.
    let (filename, wheel) = build_wheel("same-bytes", "1.0", None);
    let legacy = cluster.url("/legacy/");
    let uploads = (0..16).map(|_| {
        let form = upload_form("same-bytes", "1.0", "bdist_wheel", &filename, &wheel, &[]);
        cluster.upload(&legacy, &token, form)
    });
    let statuses = futures_util::future::join_all(uploads).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let keys = cluster.object_keys().await;
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(&format!("/{filename}"))).count(),
        1,
        "{keys:?}"
    );
    current_everywhere(&cluster, "same-bytes", "1.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_and_the_login_limit_hold_across_instances() {
    let cluster = Cluster::start().await;
    let form = |username: &str| {
        vec![
            ("name", "Ada Lovelace".to_owned()),
            ("username", username.to_owned()),
            ("email", format!("{username}@example.org")),
            ("password", crate::helpers::TEST_PASSWORD.to_owned()),
            ("password_confirm", crate::helpers::TEST_PASSWORD.to_owned()),
        ]
    };
    let post = |instance: usize, path: &str, form: Vec<(&'static str, String)>, from: &str| {
        cluster
            .client
            .post(cluster.instances[instance].url(path))
            .header("x-forwarded-for", from)
            .form(&form)
            .send()
    };
    let registered = post(0, "/api/register", form("ada"), "10.9.0.1")
        .await
        .expect("register");
    assert_eq!(registered.status().as_u16(), 200);
    let login = vec![
        ("identifier", "ada".to_owned()),
        ("password", crate::helpers::TEST_PASSWORD.to_owned()),
    ];
    let response = post(1, "/api/login", login.clone(), "10.9.0.2").await.expect("login");
    assert_eq!(response.status().as_u16(), 200);
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            line.strip_prefix("cheeseshop_session=")?
                .split(';')
                .next()
                .map(str::to_owned)
        })
        .expect("a session cookie");
    // The session made by instance 1 works on all three.
    for instance in &cluster.instances {
        let page = cluster
            .client
            .get(instance.url("/account"))
            .header("accept", "text/html")
            .header("cookie", format!("cheeseshop_session={session}"))
            .send()
            .await
            .expect("account");
        assert_eq!(page.status().as_u16(), 200, "instance {}", instance.port);
        assert!(page.text().await.expect("body").contains("ada"));
    }
    // Wrong passwords spread over the instances count together: after the
    // limit, even the right one is refused, on any instance.
    for i in 0..5 {
        let wrong = vec![("identifier", "ada".to_owned()), ("password", format!("wrong {i}"))];
        let status = post(i % 3, "/api/login", wrong, &format!("10.9.1.{i}"))
            .await
            .expect("login");
        assert_eq!(status.status().as_u16(), 401);
    }
    for i in 0..3 {
        let status = post(i, "/api/login", login.clone(), "10.9.2.1").await.expect("login");
        assert_eq!(status.status().as_u16(), 429, "instance {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_an_instance_loses_nothing_and_stopping_one_finishes_its_uploads() {
    let mut cluster = Cluster::start().await;
    let token = cluster.token("loader").await;
    let cluster_ref = &cluster;
    let token_ref = token.as_str();
    let (filename, wheel) = build_wheel("load-test", "0.1", None);
    let first = upload_form("load-test", "0.1", "bdist_wheel", &filename, &wheel, &[]);
    assert_eq!(cluster.upload(&cluster.url("/legacy/"), token_ref, first).await, 200);

    // A mixed load through the balancer for 60 s: browsing, searching,
    // installing (the Simple API and files) and uploading new versions.
    // At 15 s one instance is killed outright.
    let started = Instant::now();
    let run_for = Duration::from_secs(60);
    let killed_at = Duration::from_secs(15);
    let load = |kind: usize| async move {
        let mut results: Vec<(Duration, u16, Option<String>)> = Vec::new();
        let mut n = 0;
        while started.elapsed() < run_for {
            n += 1;
            let at = started.elapsed();
            let (status, uploaded) = match kind {
                0 => (get_status(cluster_ref, "/").await, None),
                1 => (get_status(cluster_ref, "/search?q=load").await, None),
                2 => (get_status(cluster_ref, "/simple/load-test/").await, None),
                _ => {
                    let version = format!("{kind}.{n}");
                    let (filename, wheel) = build_wheel("load-test", &version, None);
                    let form = upload_form("load-test", &version, "bdist_wheel", &filename, &wheel, &[]);
                    (
                        cluster_ref.upload(&cluster_ref.url("/legacy/"), token_ref, form).await,
                        Some(filename),
                    )
                }
            };
            // A steady load, not a flood: uploads every 200 ms per task.
            let pause = if uploaded.is_some() { 200 } else { 10 };
            results.push((at, status, uploaded));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        results
    };
    let killer = async {
        tokio::time::sleep(killed_at).await;
        // SAFETY-free: a plain SIGKILL to our own child.
        let pid = cluster_ref.instances[2].child.id();
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    };
    let (results, ()) = tokio::join!(futures_util::future::join_all((0..6).map(load)), killer);
    let results: Vec<_> = results.into_iter().flatten().collect();
    assert!(results.len() > 200, "the load ran: {} requests", results.len());
    // The balancer notices a refused connection at once and retries
    // elsewhere: no 5xx at all beyond the requests in flight at the kill.
    let after_kill: Vec<_> = results
        .iter()
        .filter(|(at, status, _)| *at > killed_at + Duration::from_secs(1) && *status >= 500)
        .collect();
    assert!(after_kill.is_empty(), "5xx after the kill: {after_kill:?}");
    let failed = results.iter().filter(|(_, s, _)| *s != 200).count();
    assert!(failed <= 6, "{failed} requests failed (6 were in flight at most)");
    // Every upload that was answered 200 is listed and has its object;
    // nothing listed lacks its bytes (no half-written upload).
    let json: serde_json::Value = cluster
        .client
        .get(cluster.url("/pypi/load-test/json"))
        .send()
        .await
        .expect("json")
        .json()
        .await
        .expect("json");
    let listed: std::collections::HashSet<String> = json["releases"]
        .as_object()
        .expect("releases")
        .values()
        .flat_map(|files| files.as_array().cloned().unwrap_or_default())
        .filter_map(|file| file["filename"].as_str().map(str::to_owned))
        .collect();
    let stored: std::collections::HashSet<String> = cluster
        .object_keys()
        .await
        .into_iter()
        .filter_map(|key| key.rsplit('/').next().map(str::to_owned))
        .collect();
    let accepted: Vec<&String> = results
        .iter()
        .filter_map(|(_, status, filename)| filename.as_ref().filter(|_| *status == 200))
        .collect();
    assert!(!accepted.is_empty());
    for filename in accepted {
        assert!(listed.contains(filename), "{filename} was accepted but is not listed");
    }
    for filename in &listed {
        assert!(stored.contains(filename), "{filename} is listed without its bytes");
    }

    // SIGTERM during slow uploads to instance 1: they finish, then it exits.
    let slow_uploads = (0..3).map(|i| {
        let version = format!("9.{i}");
        let (filename, wheel) = build_wheel("load-test", &version, None);
        slow_upload(cluster_ref, 1, &token, version, filename, wheel)
    });
    let terminate = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pid = cluster_ref.instances[1].child.id();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    };
    let (statuses, ()) = tokio::join!(futures_util::future::join_all(slow_uploads), terminate);
    assert!(
        statuses.iter().all(|&s| s == 200),
        "uploads in flight at SIGTERM: {statuses:?}"
    );
    let exit = tokio::task::block_in_place(|| cluster.instances[1].child.wait()).expect("wait");
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
    current_everywhere_but(&cluster, &[1, 2], "load-test", "9.2").await;
}

async fn get_status(cluster: &Cluster, path: &str) -> u16 {
    match cluster.client.get(cluster.url(path)).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

/// An upload whose body trickles in over about two seconds.
async fn slow_upload(
    cluster: &Cluster,
    instance: usize,
    token: &str,
    version: String,
    filename: String,
    wheel: Vec<u8>,
) -> u16 {
    use sha2::Digest as _;
    let sha256 = hex::encode(sha2::Sha256::digest(&wheel));
    let md5 = hex::encode(md5::Md5::digest(&wheel));
    let chunks: Vec<Vec<u8>> = wheel
        .chunks(wheel.len().div_ceil(20).max(1))
        .map(<[u8]>::to_vec)
        .collect();
    let stream = futures_util::stream::unfold(chunks.into_iter(), |mut chunks| async move {
        let chunk = chunks.next()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(chunk), chunks))
    });
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), wheel.len() as u64)
        .file_name(filename.clone())
        .mime_str("application/octet-stream")
        .expect("mime");
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in crate::helpers::Package::new("load-test", &version).form_fields() {
        form = form.text(k, v);
    }
    for (k, v) in [
        (":action", "file_upload".to_owned()),
        ("protocol_version", "1".to_owned()),
        ("filetype", "bdist_wheel".to_owned()),
        ("pyversion", "py3".to_owned()),
        ("sha256_digest", sha256),
        ("md5_digest", md5),
    ] {
        form = form.text(k, v);
    }
    let form = form.part("content", part);
    cluster
        .upload(&cluster.instances[instance].url("/legacy/"), token, form)
        .await
}

async fn current_everywhere_but(cluster: &Cluster, gone: &[usize], project: &str, version: &str) {
    for (i, instance) in cluster.instances.iter().enumerate() {
        if gone.contains(&i) {
            continue;
        }
        let body = cluster
            .client
            .get(instance.url(&format!("/simple/{project}/")))
            .send()
            .await
            .expect("simple")
            .text()
            .await
            .expect("body");
        assert!(body.contains(&format!("-{version}-")), "instance {i} lacks {version}");
    }
}
