//! The one error type that crosses the server/browser boundary.
//!
//! Every server function returns `Result<_, AppError>`. Each variant knows its
//! HTTP status and carries a message written for people; internal details
//! (SQL errors, I/O) are logged on the server and never sent to the browser.

use http::StatusCode;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong; the message says how (400).
    #[error("{0}")]
    BadRequest(String),
    /// Form input that does not pass validation, field by field (422).
    #[error("{}", .0.summary())]
    Invalid(FormErrors),
    /// Not logged in, or the credentials are wrong (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in but not allowed, or a cross-site request (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; the message says when to try again (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// Something failed on our side; details are in the server log (500).
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The server cannot answer right now (its database is down or
    /// restarting); trying again shortly will work (503).
    #[error("The index is briefly unavailable. Please try again in a moment.")]
    Unavailable,
    /// The browser could not talk to the server (network down, server gone).
    #[error("Could not reach the server ({0}). Check your connection and try again.")]
    Unreachable(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unreachable(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short heading for an error page.
    pub fn title(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "Not found",
            Self::BadRequest(_) | Self::Invalid(_) => "Bad request",
            Self::Unauthorized(_) => "Not logged in",
            Self::Forbidden(_) => "Forbidden",
            Self::TooManyRequests(_) => "Too many requests",
            Self::Internal => "Server error",
            Self::Unavailable => "Briefly unavailable",
            Self::Unreachable(_) => "Connection problem",
        }
    }

    pub fn project_not_found(name: &str) -> Self {
        Self::NotFound(format!("We couldn't find a project named “{name}”."))
    }
}

/// Field-level validation messages, and the (non-secret) values that were
/// submitted so a form re-rendered without JavaScript keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormErrors {
    pub fields: Vec<(String, String)>,
    pub values: Vec<(String, String)>,
}

impl FormErrors {
    /// Longest value echoed back; longer input is not worth keeping.
    const MAX_ECHO: usize = 256;

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.push((field.to_owned(), message.into()));
    }

    pub fn keep(&mut self, field: &str, value: &str) {
        if value.len() <= Self::MAX_ECHO {
            self.values.push((field.to_owned(), value.to_owned()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    pub fn value(&self, field: &str) -> Option<&str> {
        self.values.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn summary(&self) -> String {
        match self.fields.as_slice() {
            [] => "Please check the form.".to_owned(),
            [(_, only)] => only.clone(),
            _ => "Please correct the highlighted fields.".to_owned(),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) | ServerFnErrorErr::Response(e) => Self::Unreachable(e),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::Deserialization(e) => {
                Self::BadRequest(format!("The request could not be understood: {e}"))
            }
            ServerFnErrorErr::MissingArg(e) => Self::BadRequest(format!("A required value is missing: {e}")),
            _ => Self::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        use crate::server::db::{is_bad_input, is_unavailable};
        if is_unavailable(&error) {
            tracing::warn!(%error, "database unavailable");
            Self::Unavailable
        } else if is_bad_input(&error) {
            tracing::info!(%error, "the database refused a value");
            Self::BadRequest("The request holds text the index cannot store (such as a NUL character).".into())
        } else {
            tracing::error!(%error, "database error");
            Self::Internal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_variants() {
        assert_eq!(AppError::project_not_found("x").status(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::BadRequest("no".into()).status(), StatusCode::BAD_REQUEST);
        assert_eq!(AppError::Internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(AppError::Unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            AppError::Invalid(FormErrors::default()).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            AppError::TooManyRequests("x".into()).status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn internal_errors_say_nothing_about_internals() {
        assert!(!AppError::Internal.to_string().to_lowercase().contains("sql"));
    }

    #[test]
    fn form_errors_do_not_echo_long_values() {
        let mut form = FormErrors::default();
        form.keep("name", &"n".repeat(1_000_000));
        form.keep("email", "a@b.org");
        form.add("name", "too long");
        assert_eq!(form.value("name"), None);
        assert_eq!(form.value("email"), Some("a@b.org"));
        assert_eq!(form.get("name"), Some("too long"));
        assert_eq!(AppError::Invalid(form).to_string(), "too long");
    }

    #[test]
    fn round_trips_through_json() {
        let e = AppError::project_not_found("flask");
        let json = serde_json_roundtrip(&e);
        assert_eq!(json, e);
    }

    fn serde_json_roundtrip(e: &AppError) -> AppError {
        use leptos::server_fn::{Decodes, Encodes};
        let bytes = <JsonEncoding as Encodes<AppError>>::encode(e).expect("encode");
        <JsonEncoding as Decodes<AppError>>::decode(bytes).expect("decode")
    }
}
