//! The package index proper, as pip, uv and twine talk to it: the Simple API
//! (PEP 503/691/700, PEP 658/714 metadata files), the PyPI JSON API, file
//! downloads, and uploads (`POST /legacy/`). Thin views over `db::index`,
//! `storage` and the write path; pages are elsewhere.

pub mod files;
pub mod json_api;
pub mod metadata;
pub mod negotiate;
pub mod simple;
pub mod upload;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::server::state::AppState;

/// The read-only index APIs: the Simple API and the JSON API (cached,
/// validated and compressed by `http::router`).
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/simple", get(simple::redirect_index))
        .route("/simple/", get(simple::index))
        .route("/simple/{name}", get(simple::redirect_project))
        .route("/simple/{name}/", get(simple::project))
        .route("/pypi/{name}/json", get(json_api::project))
        .route("/pypi/{name}/{version}/json", get(json_api::release))
}

/// Files and uploads: bytes that are never recompressed or cached here.
pub fn file_routes(state: &AppState) -> Router<AppState> {
    // Files up to the configured limit, plus the form around them (axum's
    // default limit for extractors is 2 MB).
    let upload = post(upload::upload).layer(DefaultBodyLimit::max(upload::body_limit(state.max_upload_bytes)));
    Router::new()
        .route("/files/{*key}", get(files::download))
        .route("/legacy/", upload.clone())
        .route("/legacy", upload)
}

/// How long clients and proxies may reuse an index API answer without
/// asking again (pip asks every time anyway; PyPI says 10 minutes, a
/// private index wants new uploads seen sooner).
pub const API_CACHE_CONTROL: &str = "max-age=60, public";

/// An error of the index APIs: a status and a message that clients show.
/// The message goes into the body and, as PyPI does it, into the status
/// line's reason phrase, which is what twine prints.
#[derive(Debug)]
pub struct IndexError {
    pub status: StatusCode,
    pub message: String,
}

impl IndexError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The index is briefly unavailable; try again in a moment",
        )
    }
}

impl From<sqlx::Error> for IndexError {
    fn from(error: sqlx::Error) -> Self {
        match crate::error::AppError::from(error) {
            crate::error::AppError::Unavailable => Self::unavailable(),
            crate::error::AppError::BadRequest(message) => Self::bad_request(message),
            _ => Self::internal(),
        }
    }
}

impl From<std::io::Error> for IndexError {
    fn from(error: std::io::Error) -> Self {
        tracing::error!(%error, "storage error in the index API");
        Self::internal()
    }
}

/// A status line's reason phrase may hold only visible ASCII, spaces and tabs.
fn reason_phrase(message: &str) -> Option<hyper::ext::ReasonPhrase> {
    let phrase: String = message
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .take(300)
        .collect();
    hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()).ok()
}

impl IntoResponse for IndexError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            Body::from(format!("{}\n", self.message)),
        )
            .into_response();
        if let Some(phrase) = reason_phrase(&self.message) {
            response.extensions_mut().insert(phrase);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cheeseshop\""),
            );
        }
        response
    }
}

/// A permanent redirect (301, as PyPI answers) to a local path.
pub fn moved_permanently(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, value)]).into_response(),
        Err(_) => IndexError::not_found().into_response(),
    }
}

/// RFC 3339 UTC with microseconds, as PEP 700 and PyPI's JSON API write times.
pub fn iso_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}
