//! A pull-through cache of upstream indexes (`CHEESESHOP_UPSTREAM_URL`):
//! one index URL for the team's own packages and everything upstream.
//!
//! - **Link lists.** For a name with no local project, `/simple/{name}/`
//!   comes from the upstreams, in priority order (the first that knows the
//!   name answers; an error stops the search rather than let a lower one
//!   answer). PEP 691 JSON is asked for, HTML read as the fallback. The list
//!   is cached in the database, shared by every instance and kept across
//!   restarts, for `CHEESESHOP_UPSTREAM_TTL`, then revalidated with its
//!   ETag. A 404 is remembered for [`NEGATIVE_TTL`]. When the upstream errs
//!   or takes longer than `CHEESESHOP_UPSTREAM_TIMEOUT`, the stale list is
//!   served (marked with a `Warning` header) and the refresh goes on in the
//!   background.
//! - **Files.** Each listed file gets a URL of ours,
//!   `/files/upstream/{project}/{sha256}/{filename}` (and that with
//!   `.metadata` for its PEP 658 metadata). The first request streams the upstream's bytes to the client
//!   while writing them to a staging file and hashing them; only when the
//!   SHA-256 matches the listing's is the file put in storage and recorded,
//!   and a mismatch ends the client's response with an error (so it never
//!   gets a complete wrong file). Concurrent first requests on one instance
//!   fetch once: the others wait and are served from storage.
//! - **Dependency confusion.** A name that exists locally is served from
//!   local releases only: the upstream is never consulted for it.

pub mod document;
pub mod listing;
pub mod metrics;
pub mod page;
pub mod policy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest_for_object_store as reqwest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

pub use listing::{LinkedFile, Listing};
pub use metrics::Metrics;
pub use policy::{DenyRule, Policy};

use crate::server::db::{self, Db};
use crate::server::index::IndexError;
use crate::server::state::AppState;
use crate::server::storage::{Storage, file_key};

/// How long an upstream's "no such project" is believed.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// The largest link list read from an upstream (PyPI's biggest JSON pages
/// are a few MB).
const MAX_LIST_BYTES: usize = 32 * 1024 * 1024;
/// What we ask upstreams for: PEP 691 JSON first.
const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// The upstreams and the cache's settings.
pub struct Upstream {
    bases: Vec<reqwest::Url>,
    ttl: Duration,
    timeout: Duration,
    client: reqwest::Client,
    policy: Policy,
    offline: bool,
    max_bytes: Option<u64>,
    /// Hits, misses, upstream errors and bytes, for `/_metrics`.
    pub metrics: Metrics,
    /// Files being fetched by this instance, so that concurrent first
    /// requests fetch once.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Settings of the cache (from `Config`).
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// Simple API base URLs, in priority order.
    pub urls: Vec<String>,
    pub ttl: Duration,
    /// How long a request waits for an upstream's link list before the
    /// stale one is served.
    pub timeout: Duration,
    /// What may be offered (minimum age, deny list).
    pub policy: Policy,
    /// Serve only what is cached; never ask the upstreams.
    pub offline: bool,
    /// The most bytes of upstream files kept in storage; the least recently
    /// used go first when a new one makes it more.
    pub max_bytes: Option<u64>,
}

/// A link list as served: the listing, when it was fetched, and whether it
/// is stale (the upstream could not be asked).
#[derive(Debug, Clone)]
pub struct Served {
    pub listing: Listing,
    pub fetched_at: i64,
    pub stale: bool,
    /// The base URL of the upstream that answered.
    pub upstream: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream index could not be reached: {0}")]
    Unreachable(String),
    #[error("the upstream index answered {0}")]
    Status(u16),
    #[error("the upstream index's page could not be read: {0}")]
    Unreadable(String),
    #[error("{0} is not in the cache, and this index is offline")]
    Offline(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<UpstreamError> for IndexError {
    fn from(error: UpstreamError) -> Self {
        match error {
            UpstreamError::Database(e) => e.into(),
            UpstreamError::Offline(_) => IndexError::new(StatusCode::NOT_FOUND, format!("Not Found: {error}")),
            other => IndexError::new(StatusCode::BAD_GATEWAY, format!("Bad Gateway: {other}")),
        }
    }
}

fn unix_now() -> i64 {
    crate::server::now_micros() / 1_000_000
}

impl Upstream {
    /// Whether the policy hides the whole project (the deny list).
    pub fn hides_project(&self, normalized: &str) -> bool {
        self.policy.denies_project(normalized)
    }

    pub fn new(options: &UpstreamOptions) -> Result<Self, String> {
        let mut bases = Vec::new();
        for url in &options.urls {
            let with_slash = if url.ends_with('/') {
                url.clone()
            } else {
                format!("{url}/")
            };
            let parsed = reqwest::Url::parse(&with_slash).map_err(|e| format!("{url}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("{url}: not an http(s) URL"));
            }
            bases.push(parsed);
        }
        // reqwest is built without a TLS provider of its own: ring, as for
        // the object store.
        crate::server::object_storage::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A stalled transfer ends rather than hangs.
            .read_timeout(Duration::from_secs(30))
            .user_agent(concat!("cheeseshop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            bases,
            ttl: options.ttl,
            timeout: options.timeout,
            client,
            policy: options.policy.clone(),
            offline: options.offline,
            max_bytes: options.max_bytes,
            metrics: Metrics::default(),
            fetching: Mutex::new(HashMap::new()),
        })
    }

    /// The link list of `normalized` (a name with no local project), or
    /// `None` when no upstream has it.
    pub async fn project(self: &Arc<Self>, db: &Db, normalized: &str) -> Result<Option<Served>, UpstreamError> {
        if self.policy.denies_project(normalized) || db::upstream::is_reserved(db, normalized).await? {
            return Ok(None);
        }
        let served = self.unfiltered(db, normalized).await?;
        Ok(served.map(|s| self.filtered(normalized, s)))
    }

    /// The listing without what the policy hides; versions recomputed from
    /// the files left when any was hidden.
    fn filtered(&self, normalized: &str, mut served: Served) -> Served {
        if self.policy.is_empty() {
            return served;
        }
        let now = unix_now();
        let before = served.listing.files.len();
        served.listing.files.retain(|f| self.policy.admits(normalized, f, now));
        if served.listing.files.len() != before {
            served.listing.versions = versions_of(normalized, &served.listing.files);
        }
        served
    }

    /// The cached list while it is fresh (`Ok`), or what is cached, stale
    /// or missing (`Err`).
    async fn fresh(
        &self,
        db: &Db,
        normalized: &str,
    ) -> Result<Result<Option<Served>, Option<db::upstream::CachedProject>>, UpstreamError> {
        let cached = db::upstream::cached_project(db, normalized).await?;
        if self.offline {
            return match &cached {
                Some(c) => Ok(Ok(served(c, false))),
                None => Err(UpstreamError::Offline(normalized.to_owned())),
            };
        }
        if let Some(c) = &cached {
            let ttl = if c.found { self.ttl } else { NEGATIVE_TTL };
            if unix_now().saturating_sub(c.fetched_at) < ttl.as_secs() as i64 {
                self.metrics.count(&self.metrics.list_hits);
                return Ok(Ok(served(c, false)));
            }
        }
        Ok(Err(cached))
    }

    async fn unfiltered(self: &Arc<Self>, db: &Db, normalized: &str) -> Result<Option<Served>, UpstreamError> {
        if let Ok(fresh) = self.fresh(db, normalized).await? {
            return Ok(fresh);
        }
        // One refresh per list at a time on this instance: the requests that
        // waited find it fresh.
        let lock = self.lock(&format!("list:{normalized}"));
        let _guard = lock.lock().await;
        let cached = match self.fresh(db, normalized).await? {
            Ok(fresh) => return Ok(fresh),
            Err(cached) => cached,
        };
        // The refresh runs as a task of its own: when it takes too long, the
        // stale list is served and the task still finishes and stores.
        let task = {
            let this = Arc::clone(self);
            let db = db.clone();
            let name = normalized.to_owned();
            let cached = cached.clone();
            tokio::spawn(async move { this.refresh(&db, &name, cached.as_ref()).await })
        };
        let outcome = match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(UpstreamError::Unreachable(join.to_string())),
            Err(_) => Err(UpstreamError::Unreachable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        };
        match (outcome, cached) {
            (Ok(result), _) => Ok(result),
            (Err(UpstreamError::Database(e)), _) => Err(UpstreamError::Database(e)),
            (Err(error), Some(c)) => {
                self.metrics.count(&self.metrics.upstream_errors);
                self.metrics.count(&self.metrics.list_stale);
                tracing::warn!(project = normalized, %error, "upstream unavailable: serving the cached list");
                Ok(served(&c, true))
            }
            (Err(error), None) => {
                self.metrics.count(&self.metrics.upstream_errors);
                Err(error)
            }
        }
    }

    /// Asks the upstreams, stores their answer, and returns it.
    async fn refresh(
        &self,
        db: &Db,
        normalized: &str,
        cached: Option<&db::upstream::CachedProject>,
    ) -> Result<Option<Served>, UpstreamError> {
        for base in &self.bases {
            let page = base
                .join(&format!("{normalized}/"))
                .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
            let mut request = self.client.get(page.clone()).header(header::ACCEPT, ACCEPT);
            let revalidate = cached.filter(|c| c.found && c.upstream == base.as_str());
            if let Some(etag) = revalidate.and_then(|c| c.etag.as_deref()) {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            let response = request
                .send()
                .await
                .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
            let now = unix_now();
            match response.status().as_u16() {
                304 if let Some(c) = revalidate => {
                    self.metrics.count(&self.metrics.list_revalidated);
                    db::upstream::touch_project(db, normalized, now).await?;
                    let mut c = c.clone();
                    c.fetched_at = now;
                    return Ok(served(&c, false));
                }
                404 | 410 => continue,
                200 => {
                    let etag = response
                        .headers()
                        .get(header::ETAG)
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| v.len() <= 512)
                        .map(str::to_owned);
                    let json = response
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|t| t.contains("json"));
                    let body = read_bounded(response, MAX_LIST_BYTES).await?;
                    let listing = if json {
                        listing::from_json(&page, &body, normalized)
                    } else {
                        listing::from_html(&page, &body, normalized)
                    }
                    .map_err(|e| UpstreamError::Unreadable(e.0))?;
                    let answer = db::upstream::CachedProject {
                        found: true,
                        upstream: base.to_string(),
                        listing: serde_json::to_string(&listing)
                            .map_err(|e| UpstreamError::Unreadable(e.to_string()))?,
                        etag,
                        fetched_at: now,
                    };
                    db::upstream::store_project(db, normalized, &answer).await?;
                    self.metrics.count(&self.metrics.list_fetches);
                    return Ok(Some(Served {
                        listing,
                        fetched_at: now,
                        stale: false,
                        upstream: base.to_string(),
                    }));
                }
                status => return Err(UpstreamError::Status(status)),
            }
        }
        let missing = db::upstream::CachedProject {
            found: false,
            upstream: String::new(),
            listing: "{}".into(),
            etag: None,
            fetched_at: unix_now(),
        };
        db::upstream::store_project(db, normalized, &missing).await?;
        // Names nobody has are asked for by anyone (scanners too): the ones
        // remembered past their minute go, so the table does not grow
        // with them.
        db::upstream::forget_missing_before(db, missing.fetched_at - NEGATIVE_TTL.as_secs() as i64).await?;
        self.metrics.count(&self.metrics.list_fetches);
        Ok(None)
    }

    /// The lock that makes concurrent requests for one list or one file
    /// fetch it once on this instance.
    fn lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut fetching = self.fetching.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget locks nobody holds any more.
        fetching.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(fetching.entry(key.to_owned()).or_default())
    }
}

impl Upstream {
    /// How long an answer made from `served` may be reused as it is: what
    /// is left of its TTL, or a few seconds for a stale one (so that an
    /// upstream outage does not make every request wait for the timeout).
    pub fn fresh_for(&self, served_at: i64, stale: bool) -> Duration {
        if stale {
            return STALE_REUSE;
        }
        let age = u64::try_from(unix_now().saturating_sub(served_at)).unwrap_or(0);
        self.ttl.saturating_sub(Duration::from_secs(age))
    }
}

/// How long a stale answer is reused before the upstream is asked again.
const STALE_REUSE: Duration = Duration::from_secs(10);

fn served(cached: &db::upstream::CachedProject, stale: bool) -> Option<Served> {
    if !cached.found {
        return None;
    }
    let listing = serde_json::from_str(&cached.listing).ok()?;
    Some(Served {
        listing,
        fetched_at: cached.fetched_at,
        stale,
        upstream: cached.upstream.clone(),
    })
}

async fn read_bounded(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, UpstreamError> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(UpstreamError::Unreadable(format!(
                "the page is larger than {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Our URL for an upstream file; its PEP 658 metadata file, when listed,
/// is at the same URL with `.metadata` appended, as PEP 658 says.
pub fn file_url(normalized: &str, file: &LinkedFile) -> String {
    format!("/files/upstream/{normalized}/{}/{}", file.sha256, file.filename)
}

/// `GET`/`HEAD /files/upstream/{project}/{sha256}/{filename}`: from storage
/// once fetched; the first time from the upstream, streamed while stored.
pub async fn download(
    state: &AppState,
    upstream: &Arc<Upstream>,
    path: &str,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, IndexError> {
    let mut parts = path.splitn(3, '/');
    let (Some(project), Some(sha256), Some(filename)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(IndexError::not_found());
    };
    let (base_name, metadata) = match filename.strip_suffix(".metadata") {
        Some(base) => (base, true),
        None => (filename, false),
    };
    let hex64 = sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex64
        || crate::domain::normalize_project_name(project) != project
        || db::upstream::is_reserved(&state.db, project).await?
    {
        return Err(IndexError::not_found());
    }
    let key = {
        let key = file_key(sha256, base_name);
        if metadata { format!("{key}.metadata") } else { key }
    };
    if !crate::server::storage::valid_key(key.strip_suffix(".metadata").unwrap_or(&key)) {
        return Err(IndexError::not_found());
    }
    if let Some(answer) = serve_stored(state, upstream, &key, sha256, filename, &method, &headers).await? {
        return answer;
    }
    // Which upstream URL: the file must be in the project's cached list,
    // with this very digest.
    let Some(cached) = db::upstream::cached_project(&state.db, project).await? else {
        return Err(IndexError::not_found());
    };
    let Some(Served { listing, .. }) = served(&cached, false) else {
        return Err(IndexError::not_found());
    };
    let Some(file) = listing
        .files
        .iter()
        .find(|f| f.filename == base_name && f.sha256 == sha256)
    else {
        return Err(IndexError::not_found());
    };
    if !upstream.policy.admits(project, file, unix_now()) {
        return Err(IndexError::not_found());
    }
    if upstream.offline {
        return Err(UpstreamError::Offline(filename.to_owned()).into());
    }
    let (source, expected) = if metadata {
        let Some(digest) = &file.metadata_sha256 else {
            return Err(IndexError::not_found());
        };
        (format!("{}.metadata", file.url), digest.clone())
    } else {
        (file.url.clone(), file.sha256.clone())
    };

    let lock = upstream.lock(&key);
    let guard = lock.lock_owned().await;
    // Fetched by a request we waited for?
    if let Some(answer) = serve_stored(state, upstream, &key, sha256, filename, &method, &headers).await? {
        drop(guard);
        return answer;
    }
    upstream.metrics.count(&upstream.metrics.file_fetches);
    let response = upstream.client.get(&source).send().await.map_err(|e| {
        upstream.metrics.count(&upstream.metrics.upstream_errors);
        IndexError::new(
            StatusCode::BAD_GATEWAY,
            format!("Bad Gateway: the upstream index could not be reached: {e}"),
        )
    })?;
    if !response.status().is_success() {
        upstream.metrics.count(&upstream.metrics.upstream_errors);
        return Err(IndexError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "Bad Gateway: the upstream index answered {} for {filename}",
                response.status().as_u16()
            ),
        ));
    }
    let length = response.content_length();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let fetch = Fetch {
        upstream: Arc::clone(upstream),
        storage: Arc::clone(&state.storage),
        db: state.db.clone(),
        key: key.clone(),
        expected,
        sha256: sha256.to_owned(),
        filename: filename.to_owned(),
        project: project.to_owned(),
    };
    // The fetch finishes (and stores) even if this client goes away.
    tokio::spawn(async move {
        let _guard = guard;
        if let Err(error) = fetch.run(response, sender).await {
            tracing::warn!(file = %fetch.filename, %error, "upstream file not stored");
        }
    });
    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::server::index::files::content_type(&key)),
    );
    response_headers.insert("X-Content-Type-Options", HeaderValue::from_static("nosniff"));
    if let Some(length) = length {
        response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, response_headers).into_response());
    }
    let body = Body::from_stream(tokio_stream_from(receiver));
    Ok((StatusCode::OK, response_headers, body).into_response())
}

/// The answer from storage, when the file is recorded there; `None` when it
/// is not, or when its object went while its row stayed (another instance
/// evicted it as this one stored it again): then the row is forgotten, and
/// the file is fetched again.
async fn serve_stored(
    state: &AppState,
    upstream: &Upstream,
    key: &str,
    sha256: &str,
    filename: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Result<Response, IndexError>>, IndexError> {
    let Some(stored) = db::upstream::stored_file(&state.db, sha256, filename).await? else {
        return Ok(None);
    };
    match crate::server::index::files::serve(state, key, method.clone(), headers).await {
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            tracing::warn!(key, "upstream cache: a recorded object is missing; fetching it again");
            db::upstream::forget_file(&state.db, &stored).await?;
            Ok(None)
        }
        answer => {
            upstream.metrics.served_from_cache(method, stored.size);
            // Recently used, for eviction: written at most once a minute per
            // file.
            let now = crate::server::now_micros();
            if now.saturating_sub(stored.last_used) > 60_000_000
                && let Err(error) = db::upstream::touch_file(&state.db, sha256, filename, now).await
            {
                tracing::warn!(%error, "upstream cache: cannot mark a file as used");
            }
            Ok(Some(answer))
        }
    }
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// One upstream file on its way: to the client, to a staging file, through
/// the hash; stored only if the hash is the listing's.
struct Fetch {
    upstream: Arc<Upstream>,
    storage: Arc<dyn Storage>,
    db: Db,
    key: String,
    /// The SHA-256 the bytes must have (the metadata's, for a `.metadata`).
    expected: String,
    /// The listed file's SHA-256, which names it in our URL and our table.
    sha256: String,
    filename: String,
    project: String,
}

impl Fetch {
    async fn run(
        &self,
        response: reqwest::Response,
        client: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> Result<(), std::io::Error> {
        let staged = self
            .storage
            .staging_dir()
            .join(format!("upstream-{}.part", rand::random::<u64>()));
        let result = self.stream(response, &client, &staged).await;
        if result.is_err() {
            self.upstream.metrics.count(&self.upstream.metrics.file_failures);
            let _ = tokio::fs::remove_file(&staged).await;
            // The client's body ends with an error: it never sees a
            // complete response with the wrong bytes.
            let _ = client
                .send(Err(std::io::Error::other("the upstream file failed verification")))
                .await;
        }
        result
    }

    async fn stream(
        &self,
        response: reqwest::Response,
        client: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
        staged: &std::path::Path,
    ) -> Result<(), std::io::Error> {
        let mut file = tokio::fs::File::create(staged).await?;
        let mut hasher = Sha256::new();
        let mut size: i64 = 0;
        let mut stream = response.bytes_stream();
        let mut client_gone = false;
        // Each chunk goes to the client when the next one arrives: the last
        // is held back until the hash is known.
        let mut held: Option<Bytes> = None;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
            size += chunk.len() as i64;
            self.upstream
                .metrics
                .add(&self.upstream.metrics.bytes_fetched, chunk.len() as u64);
            if let Some(previous) = held.replace(chunk)
                && !client_gone
                && client.send(Ok(previous)).await.is_err()
            {
                client_gone = true;
            }
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let digest = hex::encode(hasher.finalize());
        if digest != self.expected {
            return Err(std::io::Error::other(format!(
                "SHA-256 {digest} is not the listed {}",
                self.expected
            )));
        }
        if let Some(last) = held
            && !client_gone
        {
            let _ = client.send(Ok(last)).await;
        }
        self.storage.put(&self.key, staged).await?;
        db::upstream::record_file(
            &self.db,
            &self.sha256,
            &self.filename,
            &self.project,
            &self.key,
            size,
            crate::server::now_micros(),
        )
        .await
        .map_err(std::io::Error::other)?;
        if let Some(max) = self.upstream.max_bytes
            && let Err(error) = evict(&self.db, &*self.storage, max).await
        {
            tracing::warn!(%error, "upstream cache: eviction failed");
        }
        Ok(())
    }
}

/// Forgets stored upstream files, least recently used first, until they
/// take at most `max` bytes. A row goes first; its object only once no
/// row refers to its key (nothing a committed row points to is deleted).
/// Returns the files and bytes forgotten.
pub async fn evict(db: &Db, storage: &dyn Storage, max: u64) -> Result<(u64, u64), sqlx::Error> {
    let mut total = u64::try_from(db::upstream::stats(db).await?.bytes).unwrap_or(0);
    let (mut files, mut bytes) = (0, 0);
    while total > max {
        let oldest = db::upstream::least_recently_used(db, 64).await?;
        if oldest.is_empty() {
            break;
        }
        for file in oldest {
            if total <= max {
                break;
            }
            if forget(db, storage, &file).await? {
                let size = u64::try_from(file.size).unwrap_or(0);
                total = total.saturating_sub(size);
                files += 1;
                bytes += size;
            }
        }
    }
    Ok((files, bytes))
}

/// Forgets one stored file: its row, then its object unless another row
/// refers to the key.
async fn forget(db: &Db, storage: &dyn Storage, file: &db::upstream::StoredFile) -> Result<bool, sqlx::Error> {
    if !db::upstream::forget_file(db, file).await? {
        return Ok(false);
    }
    if !db::upstream::key_in_use(db, &file.storage_key).await?
        && let Err(error) = storage.delete(&file.storage_key).await
    {
        tracing::warn!(%error, key = %file.storage_key, "upstream cache: an object could not be removed");
    }
    Ok(true)
}

/// `cheeseshop cache purge NAME`: forgets a project's list and its stored
/// files. Returns whether a list was cached, and the files and bytes
/// forgotten.
pub async fn purge(db: &Db, storage: &dyn Storage, normalized: &str) -> Result<(bool, u64, u64), sqlx::Error> {
    let listed = db::upstream::forget_project(db, normalized).await?;
    db::upstream::forget_document(db, normalized).await?;
    let (mut files, mut bytes) = (0, 0);
    for file in db::upstream::files_of(db, normalized).await? {
        if forget(db, storage, &file).await? {
            files += 1;
            bytes += u64::try_from(file.size).unwrap_or(0);
        }
    }
    Ok((listed, files, bytes))
}

/// The versions of an upstream project's files, in PEP 440 order, for an
/// upstream that did not list them (an HTML page has no PEP 700
/// `versions`): from wheel names, and from sdist names after the project's.
pub fn versions_of(normalized: &str, files: &[LinkedFile]) -> Vec<String> {
    let mut versions: Vec<String> = files
        .iter()
        .filter_map(|f| version_in_filename(normalized, &f.filename))
        .collect();
    sort_versions(&mut versions);
    versions.dedup();
    versions
}

/// PEP 440 order; versions that do not parse first (as local projects
/// list legacy versions).
pub fn sort_versions(versions: &mut [String]) {
    versions.sort_by_cached_key(|v| (v.parse::<pep440_rs::Version>().ok(), v.clone()));
}

pub fn version_in_filename(normalized: &str, filename: &str) -> Option<String> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        return stem.split('-').nth(1).map(str::to_owned);
    }
    let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    let name_len = normalized.len();
    let (name, rest) = (stem.get(..name_len)?, stem.get(name_len..)?);
    let version = rest.strip_prefix('-')?;
    (crate::domain::normalize_project_name(name) == normalized && !version.is_empty()).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(filename: &str) -> LinkedFile {
        LinkedFile {
            filename: filename.into(),
            url: String::new(),
            sha256: String::new(),
            requires_python: None,
            yanked: None,
            metadata_sha256: None,
            size: None,
            upload_time: None,
        }
    }

    #[test]
    fn versions_come_from_filenames_in_pep_440_order() {
        let files = [
            file("zope.interface-5.0.tar.gz"),
            file("zope_interface-4.10-cp311-cp311-linux_x86_64.whl"),
            file("zope.interface-4.9.zip"),
            file("zope_interface-5.0-py3-none-any.whl"),
            file("other-9.0.tar.gz"),
        ];
        assert_eq!(versions_of("zope-interface", &files), ["4.9", "4.10", "5.0"]);
    }
}
