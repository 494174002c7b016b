//! The HTTP server: the Leptos app (pages + server functions), static files,
//! canonical-URL redirects, request tracing, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::{ListenerExt, TapIo};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tokio::net::{TcpListener, TcpStream};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::app::{App, shell};
use crate::domain::{ProjectName, normalize_project_name};
use crate::error::AppError;
use crate::server::state::AppState;
use crate::server::{auth, feeds, index, page_cache};

/// Leptos options from the environment cargo-leptos sets (`LEPTOS_*`), with
/// defaults that work for a binary started by hand from the repository
/// root. A variable that is set but cannot be used stops start-up.
pub fn leptos_options() -> Result<LeptosOptions, String> {
    if let Ok(addr) = std::env::var("LEPTOS_SITE_ADDR")
        && addr.trim().parse::<SocketAddr>().is_err()
    {
        return Err(format!(
            "LEPTOS_SITE_ADDR={addr:?} is not valid: expected an address and port such as 127.0.0.1:3000"
        ));
    }
    let mut options = get_configuration(None)
        .map(|conf| conf.leptos_options)
        .map_err(|e| format!("the LEPTOS_* configuration is not valid: {e}"))?;
    if options.output_name.is_empty() {
        options.output_name = "cheeseshop".into();
    }
    // A release build writes the bundle's hashed names beside the binary
    // (hash-files in Cargo.toml); use them unless told otherwise.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none()
        && let Ok(exe) = std::env::current_exe()
        && exe.with_file_name(options.hash_file.as_ref()).is_file()
    {
        options.hash_files = true;
    }
    Ok(options)
}

/// `/{pkg}/{output}.css`, or `/{pkg}/{output}.{hash}.css` with hashed file
/// names (the `css:` line of the hash file cargo-leptos writes beside the
/// binary). Without a readable hash file, the unhashed name.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    bundle_file(options, "css", "css")
}

/// The URL of a file of the bundle (`kind` as cargo-leptos names it in its
/// hash file: `css`, `js`, `wasm`), with its content hash in release builds.
pub fn bundle_file(options: &LeptosOptions, kind: &str, extension: &str) -> String {
    let hash = options
        .hash_files
        .then(|| std::env::current_exe().ok())
        .flatten()
        .and_then(|exe| std::fs::read_to_string(exe.with_file_name(options.hash_file.as_ref())).ok())
        .and_then(|hashes| {
            hashes.lines().find_map(|line| {
                let (file, hash) = line.split_once(':')?;
                (file.trim() == kind).then(|| hash.trim().to_owned())
            })
        });
    match hash {
        Some(hash) => format!("/{}/{}.{hash}.{extension}", options.site_pkg_dir, options.output_name),
        None => format!("/{}/{}.{extension}", options.site_pkg_dir, options.output_name),
    }
}

/// Axum matches paths exactly while the Leptos router ignores a trailing
/// slash. Our canonical project URLs end in `/` (as on pypi.org), so every
/// page route is registered in both spellings.
fn with_trailing_slash_variants(routes: Vec<AxumRouteListing>) -> Vec<AxumRouteListing> {
    let mut out = Vec::with_capacity(routes.len() * 2);
    for route in routes {
        let path = route.path().to_owned();
        if path != "/" && !path.ends_with('/') && !path.contains('*') {
            out.push(AxumRouteListing::new(
                format!("{path}/"),
                route.mode().clone(),
                route.methods(),
                vec![],
            ));
        }
        out.push(route);
    }
    out
}

pub fn router(state: AppState) -> Router {
    let routes = with_trailing_slash_variants(generate_route_list(App));
    // Shared: axum clones each route's handler (and what it captures) per request.
    let options = Arc::new(state.leptos_options.clone());
    let mut router = Router::new();
    if state.db.bench_latency().is_some() {
        // Only in the benchmark's latency mode: how many database round
        // trips the requests so far made (the bench divides by requests).
        router = router.route("/__bench/db-round-trips", get(bench_round_trips));
    }
    // Pages and server functions hold their whole data and rendered HTML
    // while in flight (a big project page: over 1 MB). An optional shared
    // limit on how many run at once bounds the server's memory under any
    // number of connections; the rest wait their turn (FIFO), none is
    // refused. Off by default: while the limit is full of requests waiting
    // on the database, a fast page waits too (`make bench` shows both).
    // APIs, files and static assets are never limited.
    let mut pages = Router::new().leptos_routes_with_context(&state, routes, use_request_nonce, move || {
        shell(LeptosOptions::clone(&options))
    });
    if state.page_concurrency > 0 {
        pages = pages.layer(GlobalConcurrencyLimitLayer::new(state.page_concurrency));
    }
    // Inside the cache: what it keeps carries the CSP of its render.
    let pages = pages.layer(middleware::from_fn(page_headers));
    // Outside the limit: a cached page never waits for a render slot.
    let pages = pages.layer(middleware::from_fn_with_state(state.clone(), search_admission));
    // The index APIs and feeds: read-only, the same for everyone.
    let apis = index::api_routes()
        .route("/rss/updates.xml", get(feeds::updates))
        .route("/rss/packages.xml", get(feeds::packages))
        .route("/rss/project/{name}/releases.xml", get(feeds::project_releases));
    // Cached, validated (ETag) and compressed: whatever the cache keeps is
    // compressed there once per coding; the rest per response, here.
    let rendered = pages
        .merge(apis)
        .layer(middleware::from_fn_with_state(state.clone(), page_cache::layer))
        .layer(compression());
    // The site's files (the bundle under `/pkg/`, `public/`), served by
    // tower-http's `ServeDir` itself: conditional requests get their 304,
    // ranges their 206, and a file that cannot be read a 500 (logged). What
    // is not a file gets the app's 404 page. (leptos_axum's
    // `file_and_error_handler` forwards only `Accept-Encoding` to its
    // `ServeDir` and renders the 404 page for any answer but a 200.)
    // The 404 page only: `file_and_error_handler` would look for the file
    // again first.
    let not_found = leptos_axum::ErrorHandler::new_with_context(
        {
            let state = state.clone();
            move || {
                provide_context(state.clone());
                use_request_nonce();
            }
        },
        shell,
        state.leptos_options.clone(),
    );
    let site_files = ServeDir::new(state.leptos_options.site_root.as_ref())
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found);
    let static_files = Router::new()
        .fallback_service(site_files)
        .layer(middleware::from_fn(page_headers))
        .layer(middleware::from_fn_with_state(state.clone(), static_cache_control));
    router
        .route("/_health", get(health))
        .route("/_health/ready", get(ready))
        .route("/_metrics", get(metrics))
        .merge(index::file_routes(&state))
        .merge(rendered)
        .merge(static_files)
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// What every request goes through, in one middleware (each axum `from_fn`
/// layer costs a boxed clone of the service and of its future, per
/// request): on the way in, canonical project URLs, the cross-site check
/// and the session; on the way out, the status of server-function errors
/// and the security headers.
async fn front(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let early = canonical_redirect(&request).or_else(|| auth::cross_site_refusal(&request));
    let mut response = match early {
        Some(response) => response,
        None => {
            let path = request.uri().path();
            let server_fn = path.starts_with("/api/");
            let deadline = state.request_deadline.filter(|_| !without_deadline(path));
            let answer = async { server_fn_error_status(auth::with_session(&state, request, next).await).await };
            match deadline {
                Some(deadline) => tokio::time::timeout(deadline, answer)
                    .await
                    .unwrap_or_else(|_| past_deadline(deadline, server_fn)),
                None => answer.await,
            }
        }
    };
    add_security_headers(&mut response);
    response
}

/// Requests that take as long as they need: uploads (as long as the file
/// takes to arrive) and the Simple API's list of every project, which
/// reads the whole catalogue (the bench's million projects, by hand: 6 s,
/// 11 s with the system's file cache dropped, and once over 30 s beside a
/// build).
fn without_deadline(path: &str) -> bool {
    matches!(path, "/legacy" | "/legacy/" | "/simple/")
}

/// The answer to a request that did not start its answer within the
/// deadline (`CHEESESHOP_REQUEST_TIMEOUT_SECONDS`): 503, as for a database
/// that is down. Such a request waits on a database that holds its
/// connections open but does not answer (a hung server, a network that
/// drops packets): without a deadline it would wait until the kernel gives
/// the connection up, a quarter of an hour by default. Its work is dropped
/// where it stands (an open transaction is rolled back by the database); a
/// PostgreSQL connection it held goes back to the pool once the database
/// answers, or is closed after 5 s without an answer (`finish_or_close`).
/// Uploads and the list of every project have none (`without_deadline`).
fn past_deadline(deadline: Duration, server_fn: bool) -> Response {
    tracing::warn!(
        deadline_seconds = deadline.as_secs_f64(),
        "a request found no answer within its deadline (is the database answering?): 503"
    );
    if server_fn {
        // Encoded as the server function's own errors are (its client
        // decodes any 4xx or 5xx body so).
        let body = AppError::Unavailable.ser();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response()
    } else {
        index::IndexError::unavailable().into_response()
    }
}

/// The Content-Security-Policy of a Leptos page: everything from this site
/// only (`default-src`: styles, fonts, fetches), scripts from this site or
/// inline with the page's own nonce (Leptos puts it on its
/// hydration and streaming scripts), WebAssembly compiled from this site's
/// bundle, no plugins, no `<base>`, forms only to this site, and no framing
/// by other sites. Images in descriptions may come from anywhere on the web
/// (badges; one in twenty real READMEs still links them over http): an
/// image cannot run anything.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         img-src 'self' https: http: data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// For HTML that is not a Leptos page (the Simple API): nothing runs, nothing loads.
const STATIC_HTML_CSP: &str =
    "default-src 'none'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Around every Leptos page (and the 404 page of the fallback): draws the
/// render's nonce before it starts (`use_request_nonce` gives it to Leptos,
/// which puts it on its scripts) and, on an HTML answer, sets the CSP that
/// names it, and asks browsers to revalidate (a 304 from its ETag) rather
/// than store it for others: pages show who is logged in.
///
/// Not through Leptos' `ResponseOptions` from the shell, as before: now and
/// then (about one run in three of the Playwright suite, two workers) a
/// page left without those headers though the shell had set them, and
/// the fallback CSP then blocked its own stylesheet and scripts.
async fn page_headers(mut request: Request, next: Next) -> Response {
    let nonce = leptos::nonce::Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let html = content_type(response.headers()).is_some_and(|t| t.starts_with("text/html"));
    if html && let Ok(csp) = HeaderValue::from_str(&page_csp(&nonce)) {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    }
    response
}

/// A response's `Content-Type`, when it is text.
fn content_type(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// Leptos' additional context for a page: the nonce `page_headers` drew
/// for this request, in place of the one Leptos drew itself.
fn use_request_nonce() {
    if let Some(nonce) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<leptos::nonce::Nonce>().cloned())
    {
        leptos::prelude::provide_context(nonce);
    }
}

/// Headers every response gets: no MIME sniffing, referrers only as an
/// origin to other sites; and on HTML, a CSP (pages bring their own with
/// their nonce) and no framing.
fn add_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    let html = content_type(headers)
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/vnd.pypi.simple.v1+html"));
    if html {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(STATIC_HTML_CSP));
        headers
            .entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
    }
}

/// tower-http's compression for answers the response cache does not keep
/// (it compresses those it keeps itself, once): zstd, brotli or gzip as
/// the client accepts, only bodies of at least `MIN_COMPRESS` bytes, never
/// an answer that already has a coding or came from the cache.
fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
    let not_cached = |_: StatusCode,
                      _: axum::http::Version,
                      headers: &axum::http::HeaderMap,
                      _: &axum::http::Extensions| { !headers.contains_key("x-cache") };
    tower_http::compression::CompressionLayer::new()
        .no_deflate()
        .compress_when(
            SizeAbove::new(u16::try_from(page_cache::MIN_COMPRESS).unwrap_or(u16::MAX))
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::const_new("application/zip"))
                .and(NotForContentType::const_new("application/gzip"))
                .and(not_cached),
        )
}

/// Static assets: with hashed file names (`hash-files`), the bundle under
/// `/pkg/` never changes at its URL and is cached for a year; other files
/// for an hour. The bundle is precompressed at build time and `ServeDir`
/// sends the coding the client accepts. Pages rendered by this fallback
/// (404s) keep their own headers.
async fn static_cache_control(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let options = &state.leptos_options;
    let immutable = options.hash_files
        && request
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(options.site_pkg_dir.as_ref()))
            .is_some_and(|rest| rest.starts_with('/'));
    let mut response = next.run(request).await;
    // A 304 carries the caching rules its 200 would have had (RFC 9111).
    let is_file = matches!(
        response.status(),
        StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::PARTIAL_CONTENT
    ) && !response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if is_file {
        let value = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// Searches (and the suggestions typed into a search box, which are
/// searches too) are CPU work in the database (ranking thousands of
/// matches), never cached, and under a burst each queued one would hold a
/// whole page render in memory. Only a few run at once (one per CPU); the rest wait
/// here, before any work, holding nothing but their request. Other pages
/// never wait for searches.
async fn search_admission(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !matches!(path, "/search" | "/search/" | "/api/search" | "/api/suggest") {
        return next.run(request).await;
    }
    let Ok(_permit) = state.search_slots.acquire().await else {
        return next.run(request).await;
    };
    next.run(request).await
}

/// `{round trips} {their mean wait in µs} {release checks}`: how many
/// statements' round trips paid the injected latency, how long each round
/// trip waited (the nominal latency plus the timer's slack), and how many
/// checks of connections returned to the pool paid it too (PostgreSQL:
/// each holds its connection one more round trip).
async fn bench_round_trips(State(state): State<AppState>) -> String {
    state.db.bench_latency().map_or_else(
        || "0 0 0".to_owned(),
        |bench| {
            format!(
                "{} {} {}",
                bench.round_trips(),
                bench.mean_wait().as_micros(),
                bench.release_checks()
            )
        },
    )
}

/// The canonical form of a `/project/...` path, when the given one is not:
/// the PEP 503 normalized name and a trailing slash (`/project/Flask` →
/// `/project/flask/`, `/project/Zope.Interface/` → `/project/zope-interface/`).
pub fn canonical_project_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/project/")?;
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    // Not a valid name: no redirect; the page answers 404 for it.
    ProjectName::parse(name).ok()?;
    let tail = if tail.is_empty() || tail.ends_with('/') {
        tail.to_owned()
    } else {
        format!("{tail}/")
    };
    let canonical = format!("/project/{}/{tail}", normalize_project_name(name));
    (canonical != path).then_some(canonical)
}

/// A 301 to the canonical form of a `/project/...` URL that is not in it.
fn canonical_redirect(request: &Request) -> Option<Response> {
    let uri = request.uri();
    let mut location = canonical_project_path(uri.path())?;
    if let Some(query) = uri.query() {
        location.push('?');
        location.push_str(query);
    }
    // 301, as pypi.org answers (axum's `Redirect::permanent` would be 308).
    Some(match HeaderValue::from_str(&location) {
        Ok(value) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, value)],
            Body::empty(),
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    })
}

/// Server functions answer every error with 500 unless the function itself
/// set a status; errors raised before it runs (undecodable arguments) would
/// stay 500. The body of a server function error is an encoded `AppError`:
/// give the response that error's own status, so bad input is a 4xx.
async fn server_fn_error_status(response: Response) -> Response {
    const MAX_ERROR_BODY: usize = 64 * 1024;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (parts, Body::empty()).into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.status();
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `/_metrics`: counters in Prometheus' text format (the pull-through
/// cache's, when it is on; empty otherwise).
async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.upstream.as_ref().map(|u| u.metrics.render()).unwrap_or_default();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// How long the database and the store may take to answer `/_health`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// `/_health`: 200 when the database and the file store answer, else 503;
/// a JSON body says which did not. For a load balancer's health check and
/// for monitoring; no detail of either (a host, an error text) is shown.
async fn health(State(state): State<AppState>) -> Response {
    health_report(&state, false).await
}

/// `/_health/ready`: as `/_health`, and 503 once the server was told to
/// stop (SIGTERM), so that a balancer that polls it sends no new requests
/// while the ones in flight finish.
async fn ready(State(state): State<AppState>) -> Response {
    health_report(&state, true).await
}

async fn health_report(state: &AppState, readiness: bool) -> Response {
    let draining = readiness && state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let (database, storage) = tokio::join!(
        tokio::time::timeout(HEALTH_TIMEOUT, state.db.ping()),
        tokio::time::timeout(HEALTH_TIMEOUT, state.storage.check()),
    );
    let database_ok = matches!(database, Ok(Ok(())));
    let storage_ok = matches!(storage, Ok(Ok(())));
    if let Ok(Err(error)) = &database {
        tracing::warn!(%error, "health: the database did not answer");
    }
    if let Ok(Err(error)) = &storage {
        tracing::warn!(%error, "health: the file store did not answer");
    }
    let ok = database_ok && storage_ok && !draining;
    let word = |up: bool| if up { "ok" } else { "unavailable" };
    let body = serde_json::json!({
        "status": if draining { "draining" } else { word(ok) },
        "database": word(database_ok),
        "storage": word(storage_ok),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A server bound to its socket, not yet serving.
pub struct Server {
    listener: TcpListener,
    router: Router,
    draining: Arc<std::sync::atomic::AtomicBool>,
    db: crate::server::db::Db,
    cache_notify: bool,
}

/// What stopping the server waits for (`Server::run`).
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    /// After the signal, how long `/_health/ready` says 503 while the
    /// server still accepts requests (for balancers that poll it).
    pub drain: Duration,
    /// Then how long requests in flight (an upload) may take to finish
    /// before the process exits anyway.
    pub grace: Duration,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port, as the tests do).
    pub async fn bind(addr: SocketAddr, state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            draining: state.draining.clone(),
            db: state.db.clone(),
            cache_notify: state.cache_notify,
            router: router(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process receives Ctrl-C or SIGTERM; then says it is
    /// draining for `shutdown.drain`, stops accepting connections, lets the
    /// requests in flight finish (for at most `shutdown.grace`) and returns.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let draining = self.draining.clone();
        let signal = async move {
            shutdown_signal().await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            if !shutdown.drain.is_zero() {
                tracing::info!("draining for {:?} before closing the listener", shutdown.drain);
                tokio::time::sleep(shutdown.drain).await;
            }
            let _ = stopping.send(true);
        };
        let serve = self.run_until(signal);
        tokio::pin!(serve);
        let deadline = async {
            if stopped.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(shutdown.grace).await;
        };
        tokio::select! {
            result = &mut serve => result,
            () = deadline => {
                tracing::warn!("requests still in flight after {:?}: exiting anyway", shutdown.grace);
                Ok(())
            }
        }
    }

    /// Serves until the returned future is dropped (used by tests).
    pub async fn run_forever(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        // While serving, cached answers may learn of writes from
        // notifications (PostgreSQL, `CHEESESHOP_CACHE_NOTIFY`; see
        // `db::changes`).
        let _listening = if self.cache_notify {
            self.db.listen_for_changes()
        } else {
            None
        };
        axum::serve(
            no_delay(self.listener),
            self.router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Every accepted connection with `TCP_NODELAY`. Without it a response
/// written in two parts (headers, then a body, as static files are) waits
/// for the client's delayed ACK: 40 ms per request on Linux, which `make
/// bench` showed on `/about` and on static files.
fn no_delay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn set_nodelay(stream: &mut TcpStream) {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    }
    listener.tap_io(set_nodelay as fn(&mut TcpStream))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::canonical_project_path as c;

    #[test]
    fn canonical_project_paths() {
        assert_eq!(c("/project/flask/"), None);
        assert_eq!(c("/project/flask"), Some("/project/flask/".into()));
        assert_eq!(c("/project/Flask"), Some("/project/flask/".into()));
        assert_eq!(c("/project/Flask/"), Some("/project/flask/".into()));
        assert_eq!(c("/project/Zope.Interface"), Some("/project/zope-interface/".into()));
        assert_eq!(c("/project/flask/1.0.2"), Some("/project/flask/1.0.2/".into()));
        assert_eq!(c("/project/flask/1.0.2/"), None);
        assert_eq!(c("/project/"), None);
        assert_eq!(c("/project/%27%20OR%201=1--/"), None, "not a name: no redirect, a 404");
        assert_eq!(c("/about"), None);
    }
}
