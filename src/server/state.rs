//! Shared application state: reached by Axum handlers through `State` and by
//! server functions through Leptos context (`use_context::<AppState>()`).

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::*;

use crate::error::AppError;
use crate::server::db::Db;
use crate::server::page_cache::PageCache;
use crate::server::storage::Storage;

/// What every request shares, behind one `Arc`: axum clones the state for
/// each extractor and middleware that asks for it, and a clone must cost one
/// atomic increment, not a copy of every field (it was a third of the CPU
/// time of serving a cached page, make bench).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    /// Mark the session cookie `Secure` (the site is served over https).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (behind our own proxy).
    pub trust_proxy: bool,
    /// PostgreSQL: learn of writes from notifications (see `db::changes`).
    pub cache_notify: bool,
    /// Where uploaded files live.
    pub storage: Arc<dyn Storage>,
    /// The largest file an upload may carry.
    pub max_upload_bytes: u64,
    /// `CHEESESHOP_BASE_URL`: the public origin for absolute URLs (JSON API);
    /// without it, the request's host.
    pub base_url: Option<String>,
    /// How many pages and server functions may run at once; 0: no limit (see `http::router`).
    pub page_concurrency: usize,
    /// Rendered pages for visitors without a session.
    pub page_cache: Arc<PageCache>,
    /// Search results until the catalogue changes.
    pub search_cache: Arc<crate::server::search_cache::SearchCache>,
    /// Searches that may run at once (see `http::search_admission`).
    pub search_slots: Arc<tokio::sync::Semaphore>,
    /// Set when the server was told to stop: `/_health/ready` answers 503
    /// so that load balancers send no more requests (see `http::Server::run`).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// The pull-through cache of upstream indexes, when configured.
    pub upstream: Option<Arc<crate::server::upstream::Upstream>>,
    /// A private index (`CHEESESHOP_READ_ACCESS=authenticated`): reading
    /// needs a session or a token with the read scope.
    pub private: bool,
    /// The storage keys of quarantined projects, never served.
    pub quarantine: Arc<crate::server::quarantine::Quarantine>,
    /// How long a request may take to start its answer; `None`: no
    /// deadline (see `http::front`; uploads and `/simple/` have none).
    pub request_deadline: Option<std::time::Duration>,
}

impl AppState {
    /// The state with the defaults of [`Shared::new`].
    pub fn new(leptos_options: LeptosOptions, db: Db, storage: Arc<dyn Storage>) -> Self {
        Shared::new(leptos_options, db, storage).into()
    }
}

impl Shared {
    /// Defaults for everything but what must be given.
    pub fn new(leptos_options: LeptosOptions, db: Db, storage: Arc<dyn Storage>) -> Self {
        Self {
            leptos_options,
            db,
            secure_cookies: false,
            trust_proxy: false,
            cache_notify: false,
            storage,
            max_upload_bytes: crate::server::config::DEFAULT_MAX_UPLOAD_BYTES,
            base_url: None,
            page_concurrency: crate::server::config::DEFAULT_PAGE_CONCURRENCY,
            page_cache: Arc::new(PageCache::new(crate::server::config::DEFAULT_PAGE_CACHE_BYTES)),
            search_cache: Arc::new(crate::server::search_cache::SearchCache::new(
                crate::server::config::DEFAULT_SEARCH_CACHE_BYTES,
            )),
            search_slots: Arc::new(tokio::sync::Semaphore::new(search_concurrency(0))),
            draining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            upstream: None,
            quarantine: Arc::default(),
            private: false,
            request_deadline: Some(crate::server::config::DEFAULT_REQUEST_DEADLINE),
        }
    }
}

/// How many searches may run at once: `configured`, or by default one per
/// CPU. A search is CPU work in SQLite and runs its three queries in
/// parallel, so one per CPU keeps the cores busy; with twice as many, pages
/// queued behind search queries for a pooled connection (the home page's p99
/// during a search burst went from ~6 ms to ~40 ms, make bench).
pub fn search_concurrency(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl AppState {
    /// The site's origin for absolute URLs (JSON API, feeds):
    /// `CHEESESHOP_BASE_URL`, or the request's own host when it is a plain
    /// `host[:port]` (anything else in `Host` is not echoed back).
    pub fn origin(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(base) = &self.base_url {
            return base.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.len() <= 255
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
            })
            .unwrap_or("localhost");
        let scheme = if self.secure_cookies { "https" } else { "http" };
        format!("{scheme}://{host}")
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// The state inside a server function or a component rendering on the server.
    pub fn from_context() -> Result<Self, AppError> {
        use_context::<Self>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }
}
