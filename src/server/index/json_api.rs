//! PyPI's JSON API: `/pypi/{project}/json` and `/pypi/{project}/{version}/json`,
//! with PyPI's keys, so tools written against pypi.org work unchanged.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{iso_micros, moved_permanently};
use crate::domain::{ProjectName, normalize_project_name};
use crate::server::db::catalog::{self, MetadataRow, ProjectRow};
use crate::server::db::index::{self, IndexFile, IndexRelease};
use crate::server::state::AppState;

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response()
}

fn server_error(error: sqlx::Error) -> Response {
    let error = crate::error::AppError::from(error);
    (error.status(), Json(json!({"message": error.to_string()}))).into_response()
}

enum Canonical {
    /// The name is the normalized one: answer.
    Here,
    /// Another spelling: redirect to this URL.
    There(String),
    /// Not a project name at all.
    Invalid,
}

/// Where the document for `name` (and `version`) lives.
fn canonical(name: &str, version: Option<&str>) -> Canonical {
    if ProjectName::parse(name).is_err() {
        return Canonical::Invalid;
    }
    let normalized = normalize_project_name(name);
    if normalized == name {
        return Canonical::Here;
    }
    Canonical::There(match version {
        Some(v) => format!("/pypi/{normalized}/{v}/json"),
        None => format!("/pypi/{normalized}/json"),
    })
}

pub async fn project(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    match canonical(&name, None) {
        Canonical::Invalid => return not_found(),
        Canonical::There(location) => return moved_permanently(&location),
        Canonical::Here => {}
    }
    document(&state, &headers, &name, None)
        .await
        .unwrap_or_else(server_error)
}

pub async fn release(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match canonical(&name, Some(&version)) {
        Canonical::Invalid => return not_found(),
        Canonical::There(location) => return moved_permanently(&location),
        Canonical::Here => {}
    }
    document(&state, &headers, &name, Some(&version))
        .await
        .unwrap_or_else(server_error)
}

fn find_release<'a>(releases: &'a [IndexRelease], version: &str) -> Option<&'a IndexRelease> {
    releases.iter().find(|r| r.version == version).or_else(|| {
        let wanted = pep440_rs::Version::from_str(version).ok()?;
        releases
            .iter()
            .find(|r| pep440_rs::Version::from_str(&r.version).is_ok_and(|v| v == wanted))
    })
}

async fn document(
    state: &AppState,
    headers: &HeaderMap,
    normalized: &str,
    version: Option<&str>,
) -> Result<Response, sqlx::Error> {
    let db = &state.db;
    let Some(project) = catalog::project(db, normalized).await? else {
        // Not a local name: the upstream's document, when there is one.
        if let Some(upstream) = &state.upstream {
            return Ok(upstream_document(state, upstream, headers, normalized, version).await);
        }
        return Ok(not_found());
    };
    // A quarantined project offers nothing to install (PEP 792).
    if !project.status().serves_files() {
        return Ok(not_found());
    }
    // The project document's metadata is known from the project row: read
    // it beside releases and files (two round trips in all); a release
    // document's only once its release is found among them.
    let describing = match version {
        None => project.metadata_release_id.or(project.latest_release_id),
        Some(_) => None,
    };
    let (releases, files, described) = tokio::try_join!(
        index::releases(db, project.id),
        index::project_files(db, project.id),
        async {
            match describing {
                Some(id) => catalog::metadata(db, id).await,
                None => Ok(None),
            }
        }
    )?;
    let release = match version {
        Some(v) => find_release(&releases, v),
        None => project
            .latest_release_id
            .and_then(|id| releases.iter().find(|r| r.id == id)),
    };
    let Some(release) = release else {
        return Ok(not_found());
    };
    // The project document describes the project by its describing release;
    // a release document by that release's own metadata.
    let metadata = match (version, describing) {
        (None, Some(_)) => described,
        _ => catalog::metadata(db, release.id).await?,
    };
    let base = state.origin(headers);
    let file_json = |f: &IndexFile| file_object(f, &base);
    let urls: Vec<Value> = files
        .iter()
        .filter(|f| f.release_id == release.id)
        .map(file_json)
        .collect();
    let mut body = serde_json::Map::new();
    let mut info_value = info(&project, release, metadata.as_ref(), &base);
    info_value["project_status"] = json!({"status": project.status, "reason": project.status_reason});
    body.insert("info".into(), info_value);
    body.insert("last_serial".into(), json!(project.last_serial));
    if version.is_none() {
        // Every release, oldest first, each with its files (empty when none).
        let mut by_release: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        for f in &files {
            by_release.entry(f.release_id).or_default().push(file_json(f));
        }
        let mut map = serde_json::Map::new();
        for r in &releases {
            map.insert(
                r.version.clone(),
                Value::Array(by_release.remove(&r.id).unwrap_or_default()),
            );
        }
        body.insert("releases".into(), Value::Object(map));
    }
    body.insert("urls".into(), Value::Array(urls));
    body.insert("vulnerabilities".into(), json!([]));
    let mut response = Json(Value::Object(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&project.last_serial.to_string()) {
        response.headers_mut().insert("X-PyPI-Last-Serial", value);
    }
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static(super::API_CACHE_CONTROL),
    );
    Ok(response)
}

fn text(value: Option<&str>) -> Value {
    match value {
        Some(s) if !s.is_empty() => json!(s),
        _ => Value::Null,
    }
}

fn info(project: &ProjectRow, release: &IndexRelease, m: Option<&MetadataRow>, base: &str) -> Value {
    let field = |f: fn(&MetadataRow) -> &str| text(m.map(f));
    let project_urls: Option<serde_json::Map<String, Value>> = m
        .and_then(|m| serde_json::from_str::<Vec<(String, String)>>(&m.project_urls).ok())
        .filter(|urls| !urls.is_empty())
        .map(|urls| urls.into_iter().map(|(label, url)| (label, json!(url))).collect());
    let list =
        |raw: Option<&str>| -> Vec<String> { raw.and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default() };
    let classifiers = list(m.map(|m| m.classifiers.as_str()));
    let requires_dist = list(m.map(|m| m.requires_dist.as_str()));
    let package_url = format!("{base}/project/{}/", project.normalized_name);
    json!({
        "author": field(|m| &m.author),
        "author_email": field(|m| &m.author_email),
        "bugtrack_url": null,
        "classifiers": classifiers,
        "description": field(|m| &m.description),
        "description_content_type": field(|m| &m.description_content_type),
        "docs_url": field(|m| &m.docs_url),
        "download_url": field(|m| &m.download_url),
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": null,
        "home_page": field(|m| &m.home_page),
        "keywords": field(|m| &m.keywords),
        "license": field(|m| &m.license),
        "license_expression": null,
        "license_files": null,
        "maintainer": field(|m| &m.maintainer),
        "maintainer_email": field(|m| &m.maintainer_email),
        "name": project.name,
        "package_url": package_url,
        "platform": null,
        "project_url": package_url,
        "project_urls": project_urls,
        "provides_extra": null,
        "release_url": format!("{base}/project/{}/{}/", project.normalized_name, release.version),
        "requires_dist": if requires_dist.is_empty() { Value::Null } else { json!(requires_dist) },
        "requires_python": field(|m| &m.requires_python),
        "summary": field(|m| &m.summary),
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": text(release.yanked_reason.as_deref()),
    })
}

fn file_object(f: &IndexFile, base: &str) -> Value {
    // Uploaded files have our own path (`/files/...`), imported ones their original URL.
    let url = if f.url.starts_with('/') {
        format!("{base}{}", f.url)
    } else {
        f.url.clone()
    };
    let upload_time = chrono::DateTime::from_timestamp_micros(f.upload_time)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    json!({
        "comment_text": "",
        "digests": {
            "blake2b_256": f.blake2b_256,
            "md5": f.md5,
            "sha256": f.sha256,
        },
        "downloads": -1,
        "filename": f.filename,
        "has_sig": false,
        "md5_digest": f.md5,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python.as_deref().filter(|s| !s.is_empty()),
        "size": f.size,
        "upload_time": upload_time,
        "upload_time_iso_8601": iso_micros(f.upload_time),
        "url": url,
        "yanked": f.yanked,
        "yanked_reason": if f.yanked { text(f.yanked_reason.as_deref()) } else { Value::Null },
    })
}

/// An upstream project's document (see `server::upstream::document`), or
/// one release of it; never kept by the response cache.
async fn upstream_document(
    state: &AppState,
    upstream: &std::sync::Arc<crate::server::upstream::Upstream>,
    headers: &HeaderMap,
    normalized: &str,
    version: Option<&str>,
) -> Response {
    let origin = state.origin(headers);
    let document = match upstream.document(&state.db, normalized, &origin).await {
        Ok(Some(document)) => document,
        Ok(None) => return not_found(),
        Err(error) => {
            let error = super::IndexError::from(error);
            return (error.status, Json(json!({"message": error.message}))).into_response();
        }
    };
    let mut value = document.value;
    if let Some(wanted) = version {
        let Some(found) = value
            .get("releases")
            .and_then(Value::as_object)
            .and_then(|releases| {
                releases.keys().find(|v| {
                    *v == wanted
                        || pep440_rs::Version::from_str(v)
                            .ok()
                            .zip(pep440_rs::Version::from_str(wanted).ok())
                            .is_some_and(|(a, b)| a == b)
                })
            })
            .cloned()
        else {
            return not_found();
        };
        let files = value
            .pointer(&format!("/releases/{}", found.replace('~', "~0").replace('/', "~1")))
            .cloned();
        if let Some(object) = value.as_object_mut() {
            object.remove("releases");
            object.insert("urls".into(), files.unwrap_or_else(|| json!([])));
            if let Some(info) = object.get_mut("info").and_then(Value::as_object_mut) {
                info.insert("version".into(), json!(found));
            }
        }
    }
    let mut response = Json(value).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60, public"),
    );
    if document.stale {
        headers.insert(
            axum::http::header::WARNING,
            HeaderValue::from_static("110 cheeseshop \"Response is Stale: the upstream index did not answer\""),
        );
    }
    response.extensions_mut().insert(crate::server::page_cache::CacheFor(
        upstream.fresh_for(document.fetched_at, document.stale),
    ));
    response
}
