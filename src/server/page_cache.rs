//! A cache of rendered pages for visitors without a session.
//!
//! Correct after writes, on every instance: each entry remembers the
//! catalogue generation it was rendered at (a number that database triggers
//! bump on every change a page can show, migration 0007), and a request
//! reads the current generation (one single-row query) before it trusts an
//! entry. A write on any app instance, or by `cheeseshop import` in another
//! process, is visible to the very next request. Entries also expire after
//! a few seconds, because pages say "3 minutes ago".
//!
//! Cached: `GET` pages without a query string, and the read-only server
//! functions that hydrated pages call (`POST /api/project`, ...: keyed by
//! their small form body), for requests without a session cookie; only
//! `200` HTML or JSON answers without `Set-Cookie`. Search is not cached:
//! its queries are too varied to share. Memory is bounded.
//!
//! When an entry's time is up but its generation still holds, one request
//! renders it again while the others keep getting the old copy for a few
//! seconds more: a popular page costs one render per interval, not a burst
//! of simultaneous renders when it expires.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;

use crate::server::auth::has_session_cookie;
use crate::server::db::catalog;
use crate::server::state::AppState;

/// How long a page may say "n minutes ago" without being rendered again.
const TTL: Duration = Duration::from_secs(10);
/// How long an expired entry is still served while one request renders it anew.
const GRACE: Duration = Duration::from_secs(5);
/// Server functions without side effects whose answers depend only on their
/// arguments and the catalogue.
const CACHED_SERVER_FNS: &[&str] = &["/api/home", "/api/project", "/api/user", "/api/classifiers"];
/// Larger server-function arguments are not worth a key.
const MAX_KEY_BODY: usize = 4 * 1024;
/// Larger pages are served (streamed as rendered) but not kept.
const MAX_ENTRY: usize = 1024 * 1024;

/// The headers a cached answer is served with: its type, and for a page
/// the Content-Security-Policy naming the nonce its scripts carry (one
/// render, one nonce: every copy of a cached page is the same response).
///
/// Serving one nonce to every visitor of a cached copy keeps what a nonce
/// is for: a script runs only if the server put it in that render. Markup
/// injected into a page was in it before its nonce was drawn, so it cannot
/// carry it; and what a visitor learns of a copy's nonce is useless for
/// the next render, which any write (the only way to change a page's
/// content) forces, with a new nonce. Pages that reflect the request (a
/// query string) and pages of logged-in users are never cached.
#[derive(Clone)]
struct Stored {
    content_type: HeaderValue,
    csp: Option<HeaderValue>,
}

struct Entry {
    body: Bytes,
    headers: Stored,
    stored: Instant,
    /// Set by the one request that renders the entry again after its TTL.
    refreshing: AtomicBool,
}

#[derive(Default)]
struct Inner {
    /// The newest generation stored; every entry belongs to it (generations
    /// only grow, so older entries could never be served again).
    generation: i64,
    entries: HashMap<String, Entry>,
    /// Insertion order, for evicting the oldest when over budget.
    order: VecDeque<String>,
    bytes: usize,
}

pub struct PageCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl PageCache {
    /// A cache of at most `max_bytes` of pages; 0 turns caching off.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    fn get(&self, key: &str, generation: i64) -> Option<(Bytes, Stored)> {
        let inner = self.inner.lock().ok()?;
        if inner.generation != generation {
            return None;
        }
        let entry = inner.entries.get(key)?;
        let age = entry.stored.elapsed();
        let serve = age < TTL
            // Expired: the first request to notice renders it again (a
            // miss), the others keep the old copy for a grace period.
            || (age < TTL + GRACE && entry.refreshing.swap(true, Ordering::AcqRel));
        serve.then(|| (entry.body.clone(), entry.headers.clone()))
    }

    fn put(&self, key: String, body: Bytes, headers: Stored, generation: i64) {
        if body.len() > MAX_ENTRY || body.len() > self.max_bytes {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        // A render that began before a write finished after it: already stale.
        if generation < inner.generation {
            return;
        }
        if generation > inner.generation {
            *inner = Inner {
                generation,
                ..Inner::default()
            };
        }
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.body.len();
            inner.order.retain(|k| k != &key);
        }
        while inner.bytes + body.len() > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(old) = inner.entries.remove(&oldest) {
                inner.bytes -= old.body.len();
            }
        }
        inner.bytes += body.len();
        inner.order.push_back(key.clone());
        inner.entries.insert(
            key,
            Entry {
                body,
                headers,
                stored: Instant::now(),
                refreshing: AtomicBool::new(false),
            },
        );
    }
}

fn cache_header(value: &'static str) -> (header::HeaderName, HeaderValue) {
    (
        header::HeaderName::from_static("x-cache"),
        HeaderValue::from_static(value),
    )
}

/// The cache key of a request, or `None` when it is not cacheable; a
/// server-function request comes back with its body read into memory.
async fn cache_key(request: Request) -> (Option<String>, Request) {
    if has_session_cookie(request.headers()) {
        return (None, request);
    }
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && request.uri().query().is_none() && !path.starts_with("/api/") {
        return (Some(path), request);
    }
    let small = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len <= MAX_KEY_BODY);
    if request.method() != Method::POST || !CACHED_SERVER_FNS.contains(&path.as_str()) || !small {
        return (None, request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_KEY_BODY).await else {
        // Shorter than it said: let the server function report it.
        return (None, Request::from_parts(parts, Body::empty()));
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = format!("{path}\n{content_type}\n{accept}\n{}", String::from_utf8_lossy(&bytes));
    (Some(key), Request::from_parts(parts, Body::from(bytes)))
}

/// The middleware around pages and server functions (see `http::router`).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cache = &state.page_cache;
    if !cache.enabled() {
        return next.run(request).await;
    }
    let (key, request) = cache_key(request).await;
    let Some(key) = key else {
        return next.run(request).await;
    };
    // Read before rendering: a write during the render makes the entry
    // stale at once, never the other way round.
    let generation = match catalog::generation(&state.db).await {
        Ok(generation) => generation,
        Err(error) => {
            tracing::warn!(%error, "page cache: cannot read the generation");
            return next.run(request).await;
        }
    };
    if let Some((body, stored)) = cache.get(&key, generation) {
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, stored.content_type), cache_header("hit")],
            Body::from(body),
        )
            .into_response();
        if let Some(csp) = stored.csp {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        return response;
    }
    let response = next.run(request).await;
    let storable = response.status() == StatusCode::OK
        && !response.headers().contains_key(header::SET_COOKIE)
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"));
    if !storable {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let (name, value) = cache_header("miss");
    parts.headers.insert(name, value);
    let bytes = match collect_up_to(body, MAX_ENTRY.min(cache.max_bytes)).await {
        Ok(Collected::Whole(bytes)) => bytes,
        // Too large to keep: sent on as it is rendered, whatever its size.
        Ok(Collected::TooLarge(body)) => return Response::from_parts(parts, body),
        Err(error) => {
            tracing::error!(%error, "page cache: rendering the response failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE).cloned() {
        let stored = Stored {
            content_type,
            csp: parts.headers.get(header::CONTENT_SECURITY_POLICY).cloned(),
        };
        cache.put(key, bytes.clone(), stored, generation);
    }
    Response::from_parts(parts, Body::from(bytes))
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

    fn html() -> Stored {
        Stored {
            content_type: HeaderValue::from_static("text/html; charset=utf-8"),
            csp: None,
        }
    }

    #[test]
    fn entries_belong_to_their_generation() {
        let cache = PageCache::new(1024);
        cache.put("/".into(), Bytes::from_static(b"one"), html(), 1);
        assert_eq!(cache.get("/", 1).map(|(b, _)| b), Some(Bytes::from_static(b"one")));
        assert!(cache.get("/", 2).is_none(), "a newer generation misses");
        cache.put("/about".into(), Bytes::from_static(b"two"), html(), 2);
        assert!(cache.get("/", 1).is_none(), "older generations were dropped");
    }

    #[test]
    fn memory_is_bounded() {
        let cache = PageCache::new(10);
        cache.put("/a".into(), Bytes::from_static(b"123456"), html(), 1);
        cache.put("/b".into(), Bytes::from_static(b"123456"), html(), 1);
        assert!(cache.get("/a", 1).is_none(), "the oldest made room");
        assert!(cache.get("/b", 1).is_some());
        cache.put("/c".into(), Bytes::from(vec![0u8; 11]), html(), 1);
        assert!(cache.get("/c", 1).is_none(), "larger than the whole cache");
        let inner = cache.inner.lock().unwrap();
        assert!(inner.bytes <= 10);
        assert_eq!(inner.order.len(), inner.entries.len());
    }

    #[test]
    fn an_expired_entry_is_rendered_again_by_one_request() {
        let cache = PageCache::new(1024);
        cache.put("/".into(), Bytes::from_static(b"old"), html(), 1);
        {
            let mut inner = cache.inner.lock().unwrap();
            let entry = inner.entries.get_mut("/").unwrap();
            entry.stored = Instant::now() - TTL - Duration::from_secs(1);
        }
        assert!(cache.get("/", 1).is_none(), "the first one renders");
        assert!(cache.get("/", 1).is_some(), "the others get the old copy meanwhile");
        cache.put("/".into(), Bytes::from_static(b"new"), html(), 1);
        assert_eq!(cache.get("/", 1).map(|(b, _)| b), Some(Bytes::from_static(b"new")));
        {
            let mut inner = cache.inner.lock().unwrap();
            let entry = inner.entries.get_mut("/").unwrap();
            entry.stored = Instant::now() - TTL - GRACE;
        }
        assert!(cache.get("/", 1).is_none(), "past the grace period: nobody gets it");
    }

    #[test]
    fn disabled_when_empty() {
        let cache = PageCache::new(0);
        assert!(!cache.enabled());
        cache.put("/".into(), Bytes::from_static(b"x"), html(), 1);
        assert!(cache.get("/", 1).is_none());
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
