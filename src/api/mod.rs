//! Server functions: what each page reads and does, as typed async calls.
//! On the server they run inside the request (SSR) or behind
//! `POST /api/...` (client-side navigation and forms); errors are
//! `AppError`s whose HTTP status is applied to the response either way.

pub mod accounts;
pub mod admin;
pub mod catalog;
pub mod manage;
pub mod search;

pub use accounts::*;
pub use admin::*;
pub use catalog::*;
pub use manage::*;
pub use search::*;

/// Applies an error's status to the HTTP response: the page's during SSR,
/// the server function's when called from script. A plain form post
/// (no JavaScript) is answered with a redirect back to the form carrying the
/// error, and that redirect must keep its status.
#[cfg(feature = "ssr")]
pub(crate) fn respond<T>(result: Result<T, crate::error::AppError>) -> Result<T, crate::error::AppError> {
    use leptos::prelude::use_context;
    if let Err(error) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && !use_context::<axum::http::request::Parts>().is_some_and(|p| is_plain_form_post(&p))
    {
        response.set_status(error.status());
    }
    result
}

#[cfg(feature = "ssr")]
pub(crate) fn is_plain_form_post(parts: &axum::http::request::Parts) -> bool {
    parts.method == axum::http::Method::POST
        && parts.uri.path().starts_with("/api/")
        && parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}
