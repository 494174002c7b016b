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
    /// Something failed on our side; details are in the server log (500).
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The browser could not talk to the server (network down, server gone).
    #[error("Could not reach the server ({0}). Check your connection and try again.")]
    Unreachable(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unreachable(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short heading for an error page.
    pub fn title(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "Not found",
            Self::BadRequest(_) => "Bad request",
            Self::Internal => "Server error",
            Self::Unreachable(_) => "Connection problem",
        }
    }

    pub fn project_not_found(name: &str) -> Self {
        Self::NotFound(format!("We couldn't find a project named “{name}”."))
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
        tracing::error!(%error, "database error");
        Self::Internal
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
    }

    #[test]
    fn internal_errors_say_nothing_about_internals() {
        assert!(!AppError::Internal.to_string().to_lowercase().contains("sql"));
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
