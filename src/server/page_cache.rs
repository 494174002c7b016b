//! A cache of rendered responses: pages for visitors without a session,
//! the read-only server functions (the search box's suggestions, and any
//! client calling them over HTTP), and the index
//! APIs (Simple API in HTML and JSON, the JSON API, RSS) for everyone.
//!
//! **Current after any write, on every instance.** Each entry remembers the
//! catalogue generation it was rendered at (a number that database triggers
//! bump on every change a page or API can show, migration 0007); a request
//! reads the current generation before it trusts an entry. That read costs
//! about a microsecond and no thread hand-off (`db::probe`), and a write on
//! any app instance, or by `cheeseshop import` in another process, is
//! visible to the very next request. Pages also expire after a few seconds
//! ("3 minutes ago"); API answers hold until the generation moves.
//!
//! **Validators and encodings.** Every answer that passes through here (from
//! the cache or not) gets a strong `ETag` from its bytes; `If-None-Match`
//! with it is answered 304, without rendering when the entry is cached. A
//! cached entry is compressed once per encoding the clients ask for (zstd,
//! brotli, gzip, negotiated from `Accept-Encoding`) and kept beside it;
//! small bodies are sent as they are. Answers not kept here are compressed
//! per response by tower-http's layer outside.
//!
//! Cached: `GET` pages without a query string and read-only server
//! functions (`POST /api/project`, ...: keyed by their small form body)
//! without a session cookie; the index APIs with any cookie (they show the
//! same to everyone), keyed with `Accept` and the query string where they
//! negotiate. Only `200` answers without `Set-Cookie`. Search pages are not
//! cached here (their query strings are too varied to share a page); what
//! the database answered for a search is, in `search_cache`. Memory is
//! bounded.
//!
//! A cached page is served with the Content-Security-Policy of the render
//! it copies, naming the nonce its scripts carry (one render, one nonce).
//! That keeps what a nonce is for: a script runs only if the server put it
//! in that render. Markup injected into a page was in it before its nonce
//! was drawn, so it cannot carry it; and what a visitor learns of a copy's
//! nonce is useless for the next render, which any write (the only way to
//! change a page's content) forces, with a new nonce. Pages that reflect
//! the request (a query string) and pages of logged-in users are never
//! cached.
//!
//! When a page's time is up but its generation still holds, one request
//! renders it again while the others keep getting the old copy for a few
//! seconds more: a popular page costs one render per interval, not a burst
//! of simultaneous renders when it expires.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use tokio::sync::OnceCell;

use crate::server::auth::has_session_cookie;
use crate::server::db::catalog;
use crate::server::generation_cache::{Charge, GenerationCache};
use crate::server::state::AppState;

/// How long a page may say "n minutes ago" without being rendered again.
const TTL: Duration = Duration::from_secs(10);
/// How long an expired entry is still served while one request renders it anew.
const GRACE: Duration = Duration::from_secs(5);
/// Server functions without side effects whose answers depend only on their
/// arguments and the catalogue.
const CACHED_SERVER_FNS: &[&str] = &["/api/home", "/api/project", "/api/user", "/api/classifiers"];
/// Larger server-function arguments, `Accept` headers and query strings are
/// not worth a key.
const MAX_KEY_PART: usize = 4 * 1024;
/// Larger answers are served (streamed as rendered, without an ETag) but
/// not kept.
const MAX_ENTRY: usize = 1024 * 1024;
/// Smaller bodies are sent as they are: compression would save less than
/// its headers and time cost.
pub const MIN_COMPRESS: usize = 1024;

/// A content coding of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    fn token(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    /// The best coding `Accept-Encoding` allows: the highest q-value, and
    /// among equals zstd, then brotli, then gzip (best ratio for the time).
    /// Identity when nothing else is accepted (or there is no header).
    pub fn negotiate(accept_encoding: Option<&str>) -> Self {
        let Some(accept) = accept_encoding else {
            return Self::Identity;
        };
        let mut wildcard = None;
        let mut best = (0.0_f32, Self::Identity);
        let mut consider = |q: f32, coding: Self| {
            let rank = |c: Self| match c {
                Self::Zstd => 3,
                Self::Brotli => 2,
                Self::Gzip => 1,
                Self::Identity => 0,
            };
            if q > best.0 || (q == best.0 && q > 0.0 && rank(coding) > rank(best.1)) {
                best = (q, coding);
            }
        };
        let mut named = Vec::new();
        for part in accept.split(',').take(32) {
            let mut pieces = part.split(';');
            let name = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next_back()
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            let coding = match name.as_str() {
                "zstd" => Self::Zstd,
                "br" => Self::Brotli,
                "gzip" | "x-gzip" => Self::Gzip,
                "*" => {
                    wildcard = Some(q);
                    continue;
                }
                _ => continue,
            };
            named.push(coding);
            consider(q, coding);
        }
        if let Some(q) = wildcard {
            for coding in [Self::Zstd, Self::Brotli, Self::Gzip] {
                if !named.contains(&coding) {
                    consider(q, coding);
                }
            }
        }
        best.1
    }

    /// `body` in this coding (levels that compress a large page in a few
    /// milliseconds, once per cached entry).
    pub fn encode(self, body: &[u8]) -> Bytes {
        let encoded = match self {
            Self::Identity => return Bytes::copy_from_slice(body),
            Self::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                encoder.write_all(body).and_then(|()| encoder.finish())
            }
            Self::Brotli => {
                let mut out = Vec::new();
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 6,
                    lgwin: 22,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &body[..], &mut out, &params).map(|_| out)
            }
            Self::Zstd => zstd::bulk::compress(body, 6),
        };
        // Writing into memory does not fail; the body as it is if it did.
        encoded
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::copy_from_slice(body))
    }
}

/// A strong validator for a body: the first 128 bits of its BLAKE3, in hex.
///
/// Every answer the cache does not keep is hashed as it leaves (a page
/// with a query string, a logged-in visitor's, every page with the cache
/// off), so the hash is on the request path: BLAKE3 hashes a 17 KB page
/// several times faster than BLAKE2b did, and stays collision resistant,
/// so a page cannot be made to share another's validator.
pub fn etag_of(body: &[u8]) -> HeaderValue {
    let hex = blake3::hash(body).to_hex();
    HeaderValue::from_str(&format!("\"{}\"", &hex[..32])).unwrap_or(HeaderValue::from_static("\"\""))
}

/// What a request asks of an answer's validator and coding: only these two
/// headers, taken out before the request goes on (no copy of the rest).
#[derive(Default)]
struct Conditions {
    if_none_match: Option<HeaderValue>,
    accept_encoding: Option<HeaderValue>,
}

impl Conditions {
    fn of(headers: &HeaderMap) -> Self {
        Self {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            accept_encoding: headers.get(header::ACCEPT_ENCODING).cloned(),
        }
    }

    /// Whether `If-None-Match` names `etag` (or is `*`).
    fn matches(&self, etag: &HeaderValue) -> bool {
        let (Some(given), Ok(etag)) = (&self.if_none_match, etag.to_str()) else {
            return false;
        };
        given
            .to_str()
            .unwrap_or("")
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    }

    fn encoding(&self) -> Encoding {
        Encoding::negotiate(self.accept_encoding.as_ref().and_then(|v| v.to_str().ok()))
    }
}

/// The headers an answer keeps when it is cached or answered 304.
const KEPT: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::CONTENT_SECURITY_POLICY,
    header::CACHE_CONTROL,
    header::VARY,
    HeaderName::from_static("x-pypi-last-serial"),
    // An upstream project's answer (`server::upstream`): stale or not, and
    // when fetched.
    header::WARNING,
    HeaderName::from_static("x-cheeseshop-upstream-fetched"),
];

/// The `KEPT` headers of an answer, with its `etag`.
fn kept_headers(headers: &HeaderMap, etag: HeaderValue) -> HeaderMap {
    let mut kept = HeaderMap::with_capacity(KEPT.len() + 3);
    for name in &KEPT {
        for value in headers.get_all(name) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept.insert(header::ETAG, etag);
    kept
}

/// One answer, with its validator and the codings made of it so far.
struct Entry {
    body: Bytes,
    /// Everything an answer from this entry says but its coding: the kept
    /// headers, the ETag, `Vary` with `Accept-Encoding`, `X-Cache: hit`.
    /// Built once; each answer clones it.
    headers: HeaderMap,
    etag: HeaderValue,
    stored: Instant,
    /// Pages expire (they show relative times); API answers do not.
    ttl: Option<Duration>,
    /// Set by the one request that renders the entry again after its TTL.
    refreshing: AtomicBool,
    /// Made once each, on a blocking thread (brotli on a large page takes
    /// milliseconds); the requests that ask meanwhile wait without holding
    /// a runtime thread.
    gzip: OnceCell<Bytes>,
    brotli: OnceCell<Bytes>,
    zstd: OnceCell<Bytes>,
}

impl Entry {
    fn new(body: Bytes, headers: &HeaderMap, ttl: Option<Duration>) -> Self {
        let etag = etag_of(&body);
        let mut kept = kept_headers(headers, etag.clone());
        add_vary(&mut kept, "Accept-Encoding");
        kept.insert(HeaderName::from_static("x-cache"), HeaderValue::from_static("hit"));
        Self {
            etag,
            headers: kept,
            body,
            stored: Instant::now(),
            ttl,
            refreshing: AtomicBool::new(false),
            gzip: OnceCell::new(),
            brotli: OnceCell::new(),
            zstd: OnceCell::new(),
        }
    }

    /// The body in `encoding`, made the first time it is asked for.
    async fn body_in(&self, encoding: Encoding) -> (Bytes, Encoding) {
        if self.body.len() < MIN_COMPRESS {
            return (self.body.clone(), Encoding::Identity);
        }
        let slot = match encoding {
            Encoding::Identity => return (self.body.clone(), Encoding::Identity),
            Encoding::Gzip => &self.gzip,
            Encoding::Brotli => &self.brotli,
            Encoding::Zstd => &self.zstd,
        };
        let body = self.body.clone();
        let made = slot
            .get_or_try_init(|| tokio::task::spawn_blocking(move || encoding.encode(&body)))
            .await;
        match made {
            Ok(encoded) => (encoded.clone(), encoding),
            // The blocking pool is shutting down: send it as it is.
            Err(_) => (self.body.clone(), Encoding::Identity),
        }
    }

    /// The answer to a request: 304 when its validator matches, else the
    /// body in the best coding the client accepts. `fresh`: just rendered.
    async fn respond(&self, conditions: &Conditions, fresh: bool) -> Response {
        let (status, body, encoding) = if conditions.matches(&self.etag) {
            (StatusCode::NOT_MODIFIED, Bytes::new(), Encoding::Identity)
        } else {
            let (body, encoding) = self.body_in(conditions.encoding()).await;
            (StatusCode::OK, body, encoding)
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = self.headers.clone();
        if encoding != Encoding::Identity {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.token()));
        }
        if fresh {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-cache"), HeaderValue::from_static("miss"));
        }
        response
    }
}

impl Charge for Entry {
    /// Memory it is charged for: the body, and room for its codings.
    fn charge(&self) -> usize {
        self.body.len() * 2
    }
}

/// Adds `token` to `Vary` unless it is there already, as one header.
pub fn add_vary(headers: &mut HeaderMap, token: &str) {
    let mut tokens: Vec<String> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.iter().any(|t| t.eq_ignore_ascii_case(token) || t == "*") {
        return;
    }
    tokens.push(token.to_owned());
    if let Ok(value) = HeaderValue::from_str(&tokens.join(", ")) {
        headers.insert(header::VARY, value);
    }
}

pub struct PageCache {
    entries: GenerationCache<Entry>,
}

impl PageCache {
    /// A cache of at most `max_bytes` of answers; 0 turns caching off.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: GenerationCache::new(max_bytes),
        }
    }

    pub fn enabled(&self) -> bool {
        self.entries.enabled()
    }

    fn get(&self, key: &str, generation: i64) -> Option<Arc<Entry>> {
        self.entries.get_if(key, generation, |entry| match entry.ttl {
            None => true,
            Some(ttl) => {
                let age = entry.stored.elapsed();
                age < ttl
                    // Expired: the first request to notice renders it again
                    // (a miss), the others keep the old copy for a grace period.
                    || (age < ttl + GRACE && entry.refreshing.swap(true, Ordering::AcqRel))
            }
        })
    }

    fn put(&self, key: String, entry: Arc<Entry>, generation: i64) {
        if entry.body.len() <= MAX_ENTRY {
            self.entries.put(key, entry, generation);
        }
    }
}

/// Put in a response's extensions by a handler whose answer may be kept
/// only so long (an upstream index's list, which has a lifetime of its
/// own, besides the catalogue generation); `Duration::ZERO`: not kept, but
/// still validated (ETag, 304).
#[derive(Debug, Clone, Copy)]
pub struct CacheFor(pub Duration);

/// What may be cached of a request, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A page or a read-only server function: anonymous visitors only, TTL.
    Page,
    /// The Simple API, the JSON API, RSS: everyone, until the next write.
    Api,
}

fn kind(path: &str) -> Kind {
    if path.starts_with("/simple") || path.starts_with("/pypi/") || path.starts_with("/rss/") {
        Kind::Api
    } else {
        Kind::Page
    }
}

/// The cache key of a request, or `None` when it is not cacheable; a
/// server-function request comes back with its body read into memory.
async fn cache_key(request: Request) -> (Option<(String, Kind)>, Request) {
    let path = request.uri().path();
    let kind = kind(path);
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    if kind == Kind::Api {
        if !get {
            return (None, request);
        }
        // The Simple API negotiates on `Accept` and `?format=`; the JSON API
        // and feeds write absolute URLs with the request's `Host` (unless a
        // base URL is configured), so one host's answer never reaches another.
        let query = request.uri().query().unwrap_or("");
        let header = |name| request.headers().get(name).map(|v| v.as_bytes()).unwrap_or_default();
        let (accept, host) = (header(header::ACCEPT), header(header::HOST));
        if query.len() > MAX_KEY_PART || accept.len() > MAX_KEY_PART || host.len() > MAX_KEY_PART {
            return (None, request);
        }
        let key = format!(
            "{path}?{query}\n{}\n{}",
            String::from_utf8_lossy(accept),
            String::from_utf8_lossy(host)
        );
        return (Some((key, kind)), request);
    }
    if has_session_cookie(request.headers()) {
        return (None, request);
    }
    if get && request.uri().query().is_none() && !path.starts_with("/api/") {
        let key = path.to_owned();
        return (Some((key, kind)), request);
    }
    let small = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len <= MAX_KEY_PART);
    if request.method() != Method::POST || !CACHED_SERVER_FNS.contains(&path) || !small {
        return (None, request);
    }
    let path = path.to_owned();
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_KEY_PART).await else {
        // Shorter than it said: let the server function report it.
        return (None, Request::from_parts(parts, Body::empty()));
    };
    let text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let key = format!(
        "{path}\n{}\n{}\n{}",
        text(header::CONTENT_TYPE),
        text(header::ACCEPT),
        String::from_utf8_lossy(&bytes)
    );
    (Some((key, kind)), Request::from_parts(parts, Body::from(bytes)))
}

/// Whether an answer's type is one this layer validates (and may keep).
fn validated_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("text/html")
                || t.starts_with("application/json")
                || t.starts_with("application/vnd.pypi.simple")
                || t.starts_with("application/rss+xml")
        })
}

/// The middleware around pages, server functions and the index APIs (see
/// `http::router`).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cache = &state.page_cache;
    let conditions = Conditions::of(request.headers());
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    let (key, request) = if cache.enabled() {
        cache_key(request).await
    } else {
        (None, request)
    };
    // Read before rendering: a write during the render makes the entry
    // stale at once, never the other way round.
    let generation = match &key {
        Some(_) => match catalog::generation(&state.db).await {
            Ok(generation) => Some(generation),
            Err(error) => {
                tracing::warn!(%error, "page cache: cannot read the generation");
                None
            }
        },
        None => None,
    };
    let key = key.filter(|_| generation.is_some());
    if let (Some((key, _)), Some(generation)) = (&key, generation)
        && let Some(entry) = cache.get(key, generation)
    {
        return entry.respond(&conditions, false).await;
    }

    let response = next.run(request).await;
    if response.status() != StatusCode::OK || !validated_type(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match collect_up_to(body, MAX_ENTRY).await {
        Ok(Collected::Whole(bytes)) => bytes,
        // Too large to keep or validate: sent on as it is rendered.
        Ok(Collected::TooLarge(body)) => return Response::from_parts(parts, body),
        Err(error) => {
            tracing::error!(%error, "page cache: rendering the response failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let cache_for = parts.extensions.get::<CacheFor>().map(|c| c.0);
    let storable = !parts.headers.contains_key(header::SET_COOKIE) && cache_for != Some(Duration::ZERO);
    match (key, generation) {
        (Some((key, kind)), Some(generation)) if storable => {
            let ttl = match (kind, cache_for) {
                (Kind::Page, Some(limit)) => Some(limit.min(TTL)),
                (Kind::Page, None) => Some(TTL),
                (Kind::Api, limit) => limit,
            };
            let entry = Arc::new(Entry::new(bytes, &parts.headers, ttl));
            cache.put(key, Arc::clone(&entry), generation);
            entry.respond(&conditions, true).await
        }
        _ => {
            // Not kept (a logged-in visitor's page, a query string): still
            // validated; compressed outside, per response.
            let etag = etag_of(&bytes);
            if get && conditions.matches(&etag) {
                let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
                *not_modified.headers_mut() = kept_headers(&parts.headers, etag);
                return not_modified;
            }
            let mut response = Response::from_parts(parts, Body::from(bytes));
            response.headers_mut().insert(header::ETAG, etag);
            response
        }
    }
}

/// A body read into memory, or, once it is larger than the limit, the
/// part read so far chained with the rest, unread.
enum Collected {
    Whole(Bytes),
    TooLarge(Body),
}

async fn collect_up_to(mut body: Body, limit: usize) -> Result<Collected, axum::Error> {
    use http_body_util::BodyExt as _;
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers: pages have none
        };
        buffer.extend_from_slice(&data);
        if buffer.len() > limit {
            let head = futures_util::stream::once(std::future::ready(Ok::<Bytes, axum::Error>(buffer.freeze())));
            let rest = body.into_data_stream();
            return Ok(Collected::TooLarge(Body::from_stream(futures_util::StreamExt::chain(
                head, rest,
            ))));
        }
    }
    Ok(Collected::Whole(buffer.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers
    }

    fn entry(body: &'static [u8], ttl: Option<Duration>) -> Arc<Entry> {
        Arc::new(Entry::new(Bytes::from_static(body), &html(), ttl))
    }

    fn body_of(entry: &Option<Arc<Entry>>) -> Option<Bytes> {
        entry.as_ref().map(|e| e.body.clone())
    }

    #[test]
    fn entries_belong_to_their_generation() {
        let cache = PageCache::new(1024);
        cache.put("/".into(), entry(b"one", Some(TTL)), 1);
        assert_eq!(body_of(&cache.get("/", 1)), Some(Bytes::from_static(b"one")));
        assert!(cache.get("/", 2).is_none(), "a newer generation misses");
        cache.put("/about".into(), entry(b"two", Some(TTL)), 2);
        assert!(cache.get("/", 1).is_none(), "older generations were dropped");
    }

    #[test]
    fn memory_is_bounded() {
        let cache = PageCache::new(24);
        cache.put("/a".into(), entry(b"123456", None), 1);
        cache.put("/b".into(), entry(b"123456", None), 1);
        cache.put("/c".into(), entry(b"123456", None), 1);
        assert!(cache.get("/a", 1).is_none(), "the oldest made room");
        assert!(cache.get("/c", 1).is_some());
        cache.put("/d".into(), entry(b"1234567890123", None), 1);
        assert!(cache.get("/d", 1).is_none(), "larger than the whole cache");
        let (bytes, _) = cache.entries.usage();
        assert!(bytes <= 24);
    }

    #[test]
    fn an_expired_page_is_rendered_again_by_one_request() {
        let cache = PageCache::new(1024);
        let mut old = Entry::new(Bytes::from_static(b"old"), &html(), Some(TTL));
        old.stored = Instant::now() - TTL - Duration::from_secs(1);
        cache.put("/".into(), Arc::new(old), 1);
        assert!(cache.get("/", 1).is_none(), "the first one renders");
        assert!(cache.get("/", 1).is_some(), "the others get the old copy meanwhile");
        cache.put("/".into(), entry(b"new", Some(TTL)), 1);
        assert_eq!(body_of(&cache.get("/", 1)), Some(Bytes::from_static(b"new")));
        let mut gone = Entry::new(Bytes::from_static(b"gone"), &html(), Some(TTL));
        gone.stored = Instant::now() - TTL - GRACE;
        cache.put("/".into(), Arc::new(gone), 1);
        assert!(cache.get("/", 1).is_none(), "past the grace period: nobody gets it");
        let mut api = Entry::new(Bytes::from_static(b"api"), &html(), None);
        api.stored = Instant::now() - Duration::from_secs(3600);
        cache.put("/simple/".into(), Arc::new(api), 1);
        assert!(
            cache.get("/simple/", 1).is_some(),
            "API answers wait for a write, not a clock"
        );
    }

    #[test]
    fn disabled_when_empty() {
        let cache = PageCache::new(0);
        assert!(!cache.enabled());
        cache.put("/".into(), entry(b"x", None), 1);
        assert!(cache.get("/", 1).is_none());
    }

    #[test]
    fn encodings_are_negotiated_by_q_value_then_ratio() {
        use Encoding::*;
        let table: &[(Option<&str>, Encoding)] = &[
            (None, Identity),
            (Some(""), Identity),
            (Some("identity"), Identity),
            (Some("gzip"), Gzip),
            (Some("gzip, deflate"), Gzip),
            (Some("gzip, deflate, br"), Brotli),
            (Some("gzip, deflate, br, zstd"), Zstd),
            (Some("br;q=1.0, gzip;q=0.8, *;q=0.1"), Brotli),
            (Some("zstd;q=0.5, gzip"), Gzip),
            (Some("gzip;q=0, br;q=0"), Identity),
            (Some("*"), Zstd),
            (Some("*;q=0, gzip"), Gzip),
            (Some("deflate, compress"), Identity),
        ];
        for (header, expected) in table {
            assert_eq!(Encoding::negotiate(*header), *expected, "{header:?}");
        }
    }

    #[test]
    fn codings_round_trip_and_small_bodies_stay_as_they_are() {
        use std::io::Read as _;
        let body: Vec<u8> = b"<a href=\"/simple/x/\">x</a>\n".repeat(200);
        let gzip = Encoding::Gzip.encode(&body);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, body);
        let br = Encoding::Brotli.encode(&body);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).unwrap();
        assert_eq!(out, body);
        let zstd = Encoding::Zstd.encode(&body);
        assert_eq!(zstd::bulk::decompress(&zstd, body.len()).unwrap(), body);
        assert!(br.len() < body.len() / 10);

        let small = entry(b"tiny", None);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(runtime.block_on(small.body_in(Encoding::Brotli)).1, Encoding::Identity);
    }

    #[tokio::test]
    async fn etags_follow_the_bytes_and_if_none_match_gives_304() {
        let one = entry(b"one", None);
        assert_eq!(one.etag, entry(b"one", None).etag, "same bytes, same tag");
        assert_ne!(one.etag, entry(b"two", None).etag);
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, one.etag.clone());
        let response = one.respond(&Conditions::of(&request), false).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], one.etag);
        assert_eq!(response.headers()["x-cache"], "hit");
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\", W/\"x\""));
        let response = one.respond(&Conditions::of(&request), true).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-cache"], "miss");
    }

    #[tokio::test]
    async fn large_bodies_are_passed_on_whole() {
        let chunks: Vec<Result<Bytes, axum::Error>> =
            (0..10).map(|i| Ok(Bytes::from(vec![b'a' + i as u8; 1000]))).collect();
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let Ok(Collected::TooLarge(body)) = collect_up_to(body, 2500).await else {
            panic!("over the limit");
        };
        let all = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(all.len(), 10_000);
        assert_eq!(&all[..1000], &[b'a'; 1000][..]);
        assert_eq!(&all[9000..], &[b'j'; 1000][..]);
        let Ok(Collected::Whole(small)) = collect_up_to(Body::from("tiny"), 2500).await else {
            panic!("under the limit");
        };
        assert_eq!(small, "tiny");
    }
}
