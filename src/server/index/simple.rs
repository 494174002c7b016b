//! The Simple Repository API: `/simple/` and `/simple/{project}/`, in HTML
//! (PEP 503, with PEP 592 yanks, PEP 658/714 metadata and `data-requires-python`)
//! and JSON (PEP 691, with PEP 700's `versions`, `size` and `upload-time`),
//! chosen by content negotiation.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::negotiate::{JSON_V1, negotiate};
use super::{IndexError, iso_micros, moved_permanently};
use crate::domain::escape::{html_attr, html_text, url_attr, url_segment};
use crate::domain::{ProjectName, normalize_project_name};
use crate::server::db::catalog;
use crate::server::db::index::{self, IndexFile};
use crate::server::state::AppState;

/// The Simple API version we implement: 1.1 is PEP 700's fields, 1.4 adds
/// PEP 792's project status (1.2 and 1.3 added only optional fields).
pub const API_VERSION: &str = "1.4";

#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// The negotiated content type, if any is acceptable.
fn content_type(headers: &HeaderMap, query: &FormatQuery) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    negotiate(accept, query.format.as_deref())
}

fn not_acceptable() -> Response {
    let mut response = IndexError::new(
        StatusCode::NOT_ACCEPTABLE,
        "Not Acceptable: this index serves text/html, application/vnd.pypi.simple.v1+html and \
         application/vnd.pypi.simple.v1+json.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    response
}

fn respond(content_type: &'static str, serial: impl Into<Option<i64>>, body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(super::API_CACHE_CONTROL),
    );
    if let Some(serial) = serial.into()
        && let Ok(value) = HeaderValue::from_str(&serial.to_string())
    {
        headers.insert("X-PyPI-Last-Serial", value);
    }
    response
}

pub async fn redirect_index() -> Response {
    moved_permanently("/simple/")
}

/// `/simple/Foo.Bar` and `/simple/Foo.Bar/` → `/simple/foo-bar/`.
pub async fn redirect_project(Path(name): Path<String>) -> Response {
    if ProjectName::parse(&name).is_err() {
        return IndexError::not_found().into_response();
    }
    moved_permanently(&format!("/simple/{}/", normalize_project_name(&name)))
}

pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, IndexError> {
    let Some(content_type) = content_type(&headers, &query) else {
        return Ok(not_acceptable());
    };
    let (projects, serial) = tokio::try_join!(catalog::all_projects(&state.db), index::last_serial(&state.db))?;
    let body = if content_type == JSON_V1 {
        let projects: Vec<_> = projects
            .iter()
            .map(|p| json!({"name": p.name, "_last-serial": p.last_serial}))
            .collect();
        json!({"meta": {"api-version": API_VERSION, "_last-serial": serial}, "projects": projects}).to_string()
    } else {
        let mut html = String::with_capacity(64 * projects.len() + 256);
        html.push_str(&page_head("Simple index"));
        for p in &projects {
            let _ = writeln!(
                html,
                "    <a href=\"/simple/{}/\">{}</a><br/>",
                html_attr(&url_segment(&p.normalized_name)),
                html_text(&p.name)
            );
        }
        html.push_str("  </body>\n</html>\n");
        html
    };
    Ok(respond(content_type, serial, body))
}

fn page_head(title: &str) -> String {
    page_head_with(title, None)
}

/// A project page's head, with its PEP 792 status when it is not active.
fn page_head_with(title: &str, status: Option<Status<'_>>) -> String {
    let mut meta = String::new();
    if let Some(status) = status {
        let _ = writeln!(
            meta,
            "    <meta name=\"pypi:project-status\" content=\"{}\">",
            html_attr(status.status)
        );
        if let Some(reason) = status.reason {
            let _ = writeln!(
                meta,
                "    <meta name=\"pypi:project-status-reason\" content=\"{}\">",
                html_attr(reason)
            );
        }
    }
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n\
         {meta}    <title>{}</title>\n  </head>\n  <body>\n",
        html_text(title)
    )
}

/// A project's PEP 792 status, as the Simple API shows it.
#[derive(Clone, Copy)]
struct Status<'a> {
    status: &'a str,
    reason: Option<&'a str>,
}

pub async fn project(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, IndexError> {
    if ProjectName::parse(&name).is_err() {
        return Err(IndexError::not_found());
    }
    let normalized = normalize_project_name(&name);
    if normalized != name {
        return Ok(moved_permanently(&format!("/simple/{normalized}/")));
    }
    let Some(content_type) = content_type(&headers, &query) else {
        return Ok(not_acceptable());
    };
    let Some(project) = index::simple_project(&state.db, &normalized).await? else {
        // Not a local name: the upstream's, when there is one. A local name
        // never reaches this (no dependency confusion).
        if let Some(upstream) = &state.upstream {
            return upstream_project(&state, upstream, &normalized, content_type).await;
        }
        return Err(IndexError::not_found());
    };
    let status = crate::domain::access::ProjectStatus::parse(&project.status).unwrap_or_default();
    // Its owner may let the upstream's releases be served beside the local
    // ones: never a version or a filename the project has here.
    let merged = match (&state.upstream, project.allow_upstream && status.serves_files()) {
        (Some(upstream), true) => match upstream.project(&state.db, &normalized).await {
            Ok(served) => served.map(|s| (upstream, s)),
            Err(crate::server::upstream::UpstreamError::Database(e)) => return Err(e.into()),
            Err(error) => {
                tracing::warn!(project = %normalized, %error, "upstream releases left out");
                None
            }
        },
        _ => None,
    };
    let mut versions = project.versions.clone();
    let extra: Vec<(&crate::server::upstream::LinkedFile, String)> = match &merged {
        Some((_, served)) => upstream_extra(&normalized, &project.versions, &project.files, &served.listing.files),
        None => Vec::new(),
    };
    // A quarantined project offers nothing to install (PEP 792).
    let mut files: Vec<LinkFile> = if status.serves_files() {
        project.files.iter().map(LinkFile::local).collect()
    } else {
        versions.clear();
        Vec::new()
    };
    if !extra.is_empty() {
        files.extend(extra.iter().map(|(f, url)| LinkFile::upstream(f, url)));
        files.sort_by(|a, b| a.filename.cmp(b.filename));
        for (f, _) in &extra {
            if let Some(v) = crate::server::upstream::version_in_filename(&normalized, &f.filename)
                && !versions.contains(&v)
            {
                versions.push(v);
            }
        }
        crate::server::upstream::sort_versions(&mut versions);
    }
    let body = project_page(
        content_type,
        &project.normalized_name,
        &project.name,
        &versions,
        &files,
        Some(project.last_serial),
        Some(Status {
            status: &project.status,
            reason: project.status_reason.as_deref(),
        }),
    );
    let mut response = respond(content_type, project.last_serial, body);
    if let Some((upstream, served)) = &merged {
        response.extensions_mut().insert(crate::server::page_cache::CacheFor(
            upstream.fresh_for(served.fetched_at, served.stale),
        ));
    }
    Ok(response)
}

/// The upstream's files to serve beside a local project's: none of a
/// version the project has here (by PEP 440 equality) or of a filename it
/// has, with our URLs.
fn upstream_extra<'a>(
    normalized: &str,
    local_versions: &[String],
    local_files: &[IndexFile],
    upstream_files: &'a [crate::server::upstream::LinkedFile],
) -> Vec<(&'a crate::server::upstream::LinkedFile, String)> {
    let parsed: Vec<pep440_rs::Version> = local_versions.iter().filter_map(|v| v.parse().ok()).collect();
    let local = |v: &str| {
        local_versions.iter().any(|l| l == v) || v.parse::<pep440_rs::Version>().is_ok_and(|v| parsed.contains(&v))
    };
    upstream_files
        .iter()
        .filter(|f| !local_files.iter().any(|l| l.filename == f.filename))
        .filter(|f| crate::server::upstream::version_in_filename(normalized, &f.filename).is_some_and(|v| !local(&v)))
        .map(|f| (f, crate::server::upstream::file_url(normalized, f)))
        .collect()
}

/// A project's page in the negotiated form.
fn project_page(
    content_type: &str,
    normalized: &str,
    name: &str,
    versions: &[String],
    files: &[LinkFile],
    serial: Option<i64>,
    status: Option<Status<'_>>,
) -> String {
    // Active is the default: said only when it is not.
    let status = status.filter(|s| s.status != "active");
    if content_type == JSON_V1 {
        // The same files as the HTML form: none whose URL could not be a link.
        let files: Vec<_> = files
            .iter()
            .filter(|f| url_attr(f.url).is_some())
            .map(json_file)
            .collect();
        let meta = match serial {
            Some(serial) => json!({"api-version": API_VERSION, "_last-serial": serial}),
            None => json!({"api-version": API_VERSION}),
        };
        let mut page = json!({
            "meta": meta,
            "name": normalized,
            "versions": versions,
            "files": files,
        });
        if let Some(status) = status {
            let mut marker = json!({"status": status.status});
            if let Some(reason) = status.reason {
                marker["reason"] = json!(reason);
            }
            page["project-status"] = marker;
        }
        page.to_string()
    } else {
        let mut html = String::with_capacity(256 * files.len() + 256);
        html.push_str(&page_head_with(&format!("Links for {name}"), status));
        let _ = writeln!(html, "    <h1>Links for {}</h1>", html_text(name));
        for f in files {
            html_file(&mut html, f);
        }
        html.push_str("  </body>\n</html>\n");
        html
    }
}

/// An upstream project's page (see `server::upstream`): its files under our
/// URLs, never kept by the response cache (the upstream cache has its own
/// lifetime), and marked when the upstream could not be asked.
async fn upstream_project(
    state: &AppState,
    upstream: &std::sync::Arc<crate::server::upstream::Upstream>,
    normalized: &str,
    content_type: &'static str,
) -> Result<Response, IndexError> {
    use crate::server::upstream;
    let Some(served) = upstream.project(&state.db, normalized).await? else {
        return Err(IndexError::not_found());
    };
    let urls: Vec<String> = served
        .listing
        .files
        .iter()
        .map(|f| upstream::file_url(normalized, f))
        .collect();
    let files: Vec<LinkFile> = served
        .listing
        .files
        .iter()
        .zip(&urls)
        .map(|(f, url)| LinkFile::upstream(f, url))
        .collect();
    let versions = if served.listing.versions.is_empty() {
        upstream::versions_of(normalized, &served.listing.files)
    } else {
        served.listing.versions.clone()
    };
    let body = project_page(
        content_type,
        normalized,
        &served.listing.name,
        &versions,
        &files,
        None,
        None,
    );
    let mut response = respond(content_type, None, body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60, public"));
    if let Ok(value) = HeaderValue::from_str(&iso_micros(served.fetched_at * 1_000_000)) {
        headers.insert("X-Cheeseshop-Upstream-Fetched", value);
    }
    if served.stale {
        headers.insert(
            header::WARNING,
            HeaderValue::from_static("110 cheeseshop \"Response is Stale: the upstream index did not answer\""),
        );
    }
    response.extensions_mut().insert(crate::server::page_cache::CacheFor(
        upstream.fresh_for(served.fetched_at, served.stale),
    ));
    Ok(response)
}

/// One file of a Simple API page, local or from an upstream.
struct LinkFile<'a> {
    filename: &'a str,
    url: &'a str,
    sha256: &'a str,
    md5: Option<&'a str>,
    blake2b_256: Option<&'a str>,
    requires_python: Option<&'a str>,
    /// `Some(reason)` (possibly empty) when yanked.
    yanked: Option<&'a str>,
    metadata_sha256: Option<&'a str>,
    size: Option<i64>,
    upload_time: Option<String>,
}

impl<'a> LinkFile<'a> {
    fn local(f: &'a IndexFile) -> Self {
        Self {
            filename: &f.filename,
            url: &f.url,
            sha256: &f.sha256,
            md5: f.md5.as_deref(),
            blake2b_256: f.blake2b_256.as_deref(),
            requires_python: f.requires_python.as_deref(),
            yanked: f.yanked.then(|| f.yanked_reason.as_deref().unwrap_or("")),
            metadata_sha256: f.metadata_sha256.as_deref(),
            size: Some(f.size),
            upload_time: Some(iso_micros(f.upload_time)),
        }
    }

    fn upstream(f: &'a crate::server::upstream::LinkedFile, url: &'a str) -> Self {
        Self {
            filename: &f.filename,
            url,
            sha256: &f.sha256,
            md5: None,
            blake2b_256: None,
            requires_python: f.requires_python.as_deref(),
            yanked: f.yanked.as_deref(),
            metadata_sha256: f.metadata_sha256.as_deref(),
            size: f.size,
            upload_time: f.upload_time.clone(),
        }
    }
}

/// One file's anchor. Every value is escaped for its attribute (PEP 503
/// wants `>=3.8` as `&gt;=3.8`); a URL that is neither `http(s)` nor a path
/// on this site leaves the file out rather than becoming a link.
fn html_file(html: &mut String, f: &LinkFile) {
    let Some(url) = url_attr(f.url) else {
        tracing::warn!(filename = %f.filename, "file with an unusable URL left out of the Simple API");
        return;
    };
    let _ = write!(html, "    <a href=\"{url}#sha256={}\"", html_attr(f.sha256));
    if let Some(requires_python) = f.requires_python.filter(|s| !s.is_empty()) {
        let _ = write!(html, " data-requires-python=\"{}\"", html_attr(requires_python));
    }
    if let Some(reason) = f.yanked {
        let _ = write!(html, " data-yanked=\"{}\"", html_attr(reason));
    }
    if let Some(digest) = f.metadata_sha256 {
        // PEP 714's name, and PEP 658's for older clients.
        let digest = html_attr(digest);
        let _ = write!(
            html,
            " data-core-metadata=\"sha256={digest}\" data-dist-info-metadata=\"sha256={digest}\""
        );
    }
    let _ = writeln!(html, ">{}</a><br/>", html_text(f.filename));
}

fn json_file(f: &LinkFile) -> serde_json::Value {
    let mut hashes = serde_json::Map::new();
    hashes.insert("sha256".into(), f.sha256.into());
    if let Some(md5) = f.md5 {
        hashes.insert("md5".into(), md5.into());
    }
    if let Some(b2) = f.blake2b_256 {
        hashes.insert("blake2b_256".into(), b2.into());
    }
    let yanked = match f.yanked {
        Some(reason) if !reason.is_empty() => json!(reason),
        Some(_) => json!(true),
        None => json!(false),
    };
    let core_metadata = match f.metadata_sha256 {
        Some(digest) => json!({"sha256": digest}),
        None => json!(false),
    };
    let mut file = json!({
        "filename": f.filename,
        "url": f.url,
        "hashes": hashes,
        "requires-python": f.requires_python.filter(|s| !s.is_empty()),
        "yanked": yanked,
        "core-metadata": core_metadata,
        "dist-info-metadata": core_metadata,
    });
    // PEP 700: `size` and `upload-time` when known (an HTML upstream does
    // not say).
    if let Some(map) = file.as_object_mut() {
        if let Some(size) = f.size {
            map.insert("size".into(), size.into());
        }
        if let Some(time) = &f.upload_time {
            map.insert("upload-time".into(), time.clone().into());
        }
    }
    file
}
