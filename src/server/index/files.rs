//! `GET`/`HEAD /files/{key}`: uploaded files and their `.metadata`, streamed
//! from storage with their length, an ETag, and single-range requests (uv
//! reads a wheel's METADATA out of its zip with ranges when no metadata file
//! is offered). Keys are content-addressed, so responses are immutable.

use std::ops::Range;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::IndexError;
use crate::server::state::AppState;
use crate::server::storage::valid_key;

pub fn content_type(key: &str) -> &'static str {
    if key.ends_with(".metadata") {
        "text/plain; charset=utf-8"
    } else if key.ends_with(".whl") || key.ends_with(".zip") {
        "application/zip"
    } else if key.ends_with(".tar.gz") {
        // Never `Content-Encoding: gzip`: clients must get the bytes we hashed.
        "application/gzip"
    } else {
        "application/octet-stream"
    }
}

/// A `Range` that no byte of the file satisfies (answer 416).
#[derive(Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The byte range a `Range` header asks for: `Ok(None)` for the whole file
/// (no header, or one we ignore, such as several ranges), `Err` when it
/// cannot be satisfied.
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<Range<u64>>, Unsatisfiable> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if size == 0 {
        // No byte of an empty file can be asked for (RFC 9110 14.1.1).
        return Err(Unsatisfiable);
    }
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // The last `end` bytes.
        let Ok(suffix) = end.parse::<u64>() else {
            return Ok(None);
        };
        if suffix == 0 {
            return Err(Unsatisfiable);
        }
        size.saturating_sub(suffix)..size
    } else {
        let Ok(start) = start.parse::<u64>() else {
            return Ok(None);
        };
        let end = if end.is_empty() {
            size
        } else {
            match end.parse::<u64>() {
                Ok(end) if end >= start => end.saturating_add(1).min(size),
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(Unsatisfiable);
        }
        start..end
    };
    Ok(Some(range))
}

pub async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, IndexError> {
    // Files of the pull-through cache (`server::upstream`).
    if let Some(path) = key.strip_prefix("upstream/") {
        let Some(upstream) = state.upstream.clone() else {
            return Err(IndexError::not_found());
        };
        return crate::server::upstream::download(&state, &upstream, path, method, headers).await;
    }
    serve(&state, &key, method, &headers).await
}

/// Serves the object at `key` (of `file_key`'s shape, or that plus
/// `.metadata`) from storage.
pub async fn serve(state: &AppState, key: &str, method: Method, headers: &HeaderMap) -> Result<Response, IndexError> {
    let key = key.to_owned();
    let base = key.strip_suffix(".metadata").unwrap_or(&key);
    if !valid_key(base) {
        return Err(IndexError::not_found());
    }
    if state.quarantine.blocks(&state.db, &key).await? {
        return Err(IndexError::not_found());
    }
    let Some(object) = state.storage.open(&key).await? else {
        return Err(IndexError::not_found());
    };
    // An object store serving downloads itself (CHEESESHOP_STORAGE_REDIRECT):
    // a redirect to a URL valid for a few minutes; the store answers Range
    // and conditional requests there.
    if method == Method::GET
        && let Some(url) = state.storage.presigned_url(&key).await?
        && let Ok(location) = HeaderValue::from_str(&url)
    {
        let mut response = StatusCode::FOUND.into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
        return Ok(response);
    }
    let size = object.size;
    // Content-addressed: the BLAKE2b-256 in the key names these bytes.
    let b2: String = base.split('/').take(3).collect();
    let etag = format!("\"{b2}{}\"", if key.ends_with(".metadata") { ".metadata" } else { "" });
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&key)));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response_headers.insert("X-Content-Type-Options", HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    let matches_etag = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    };
    if matches_etag(header::IF_NONE_MATCH) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    // `If-Range` with another validator: send the whole (new) file.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = if if_range_ok {
        match parse_range(range_header, size) {
            Ok(range) => range,
            Err(Unsatisfiable) => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response_headers.insert(header::CONTENT_RANGE, value);
                }
                return Ok((StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response());
            }
        }
    } else {
        None
    };
    let (status, length) = match &range {
        Some(r) => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1)) {
                response_headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, size),
    };
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if method == Method::HEAD {
        return Ok((status, response_headers).into_response());
    }
    let body = object.content.body(range).await?;
    Ok((status, response_headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::{Unsatisfiable, parse_range as r};

    #[test]
    fn ranges() {
        assert_eq!(r(None, 100), Ok(None));
        assert_eq!(r(Some("bytes=0-9"), 100), Ok(Some(0..10)));
        assert_eq!(r(Some("bytes=90-"), 100), Ok(Some(90..100)));
        assert_eq!(r(Some("bytes=-10"), 100), Ok(Some(90..100)));
        assert_eq!(r(Some("bytes=-1000"), 100), Ok(Some(0..100)));
        assert_eq!(r(Some("bytes=50-1000"), 100), Ok(Some(50..100)));
        assert_eq!(r(Some("bytes=100-"), 100), Err(Unsatisfiable));
        assert_eq!(r(Some("bytes=-0"), 100), Err(Unsatisfiable));
        assert_eq!(
            r(Some("bytes=0-1,5-6"), 100),
            Ok(None),
            "several ranges: the whole file"
        );
        assert_eq!(r(Some("bytes=9-1"), 100), Ok(None), "invalid: ignored");
        assert_eq!(r(Some("items=0-1"), 100), Ok(None));
        assert_eq!(
            r(Some("bytes=-1"), 0),
            Err(Unsatisfiable),
            "an empty file has no last byte"
        );
        assert_eq!(r(Some("bytes=0-"), 0), Err(Unsatisfiable));
        assert_eq!(r(None, 0), Ok(None));
    }
}
