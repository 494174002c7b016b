//! The project page of an upstream project, made from its JSON API
//! document (see `document`): the same page as a local project's, with a
//! "From upstream" badge and when it was last refreshed. The description
//! goes through the same bounded renderer and sanitizer as an upload's.

use std::sync::Arc;

use serde_json::Value;

use super::{Upstream, unix_now};
use crate::api::catalog::ssr::{human_date, iso};
use crate::domain::format::{human_size, time_ago};
use crate::domain::timeline::{Dated, layout};
use crate::domain::{normalize_project_name, safe_link};
use crate::error::AppError;
use crate::model::{
    FileEntry, HISTORY_PAGE, MAX_FILES_SHOWN, ProjectDetail, ProjectLink, UpstreamOrigin, VersionEntry,
};
use crate::server::render::render_off_thread;
use crate::server::state::AppState;

fn text(info: &Value, key: &str) -> String {
    info.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn list(info: &Value, key: &str) -> Vec<String> {
    info.get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn micros(iso: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(iso?)
        .ok()
        .map(|t| t.timestamp_micros())
        .or_else(|| {
            // PyPI's `upload_time` has no zone: UTC.
            chrono::NaiveDateTime::parse_from_str(iso?, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp_micros())
        })
}

fn upload_micros(file: &Value) -> Option<i64> {
    micros(file.get("upload_time_iso_8601").and_then(Value::as_str))
        .or_else(|| micros(file.get("upload_time").and_then(Value::as_str)))
}

struct Release<'a> {
    version: &'a str,
    parsed: Option<pep440_rs::Version>,
    files: &'a [Value],
    created: Option<i64>,
}

pub async fn project(
    state: &AppState,
    upstream: &Arc<Upstream>,
    name: &str,
    version: Option<&str>,
    history_page: usize,
) -> Result<ProjectDetail, AppError> {
    let normalized = normalize_project_name(name);
    let origin = state.base_url.clone().unwrap_or_default();
    let document = match upstream.document(&state.db, &normalized, &origin).await {
        Ok(Some(document)) => document,
        Ok(None) => return Err(AppError::project_not_found(name)),
        Err(super::UpstreamError::Database(e)) => return Err(e.into()),
        Err(error) => {
            tracing::warn!(project = %normalized, %error, "upstream project page unavailable");
            return Err(AppError::project_not_found(name));
        }
    };
    let doc = &document.value;
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    let mut releases: Vec<Release> = doc
        .get("releases")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(v, files)| {
                    let files = files.as_array().map(Vec::as_slice).unwrap_or_default();
                    Release {
                        version: v,
                        parsed: v.parse().ok(),
                        files,
                        created: files.iter().filter_map(upload_micros).min(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // Newest first, as a local project's history; unparsable versions last.
    releases.sort_by(|a, b| match (&a.parsed, &b.parsed) {
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.version.cmp(a.version),
    });
    let latest_version = text(&info, "version");
    let Some(latest) = releases
        .iter()
        .find(|r| r.version == latest_version)
        .or(releases.first())
    else {
        return Err(AppError::project_not_found(name));
    };
    let shown = match version.map(str::trim).filter(|v| !v.is_empty()) {
        None => latest,
        Some(v) => {
            let wanted: Option<pep440_rs::Version> = v.parse().ok();
            match releases
                .iter()
                .find(|r| r.version == v || (wanted.is_some() && r.parsed == wanted))
            {
                Some(r) => r,
                None => {
                    let v: String = v.chars().take(40).collect();
                    let shown_name = text(&info, "name");
                    return Err(AppError::NotFound(format!("{shown_name} has no version “{v}”.")));
                }
            }
        }
    };
    let history_pages = releases.len().div_ceil(HISTORY_PAGE).max(1);
    if history_page == 0 || history_page > history_pages {
        return Err(AppError::NotFound(format!(
            "The release history of {normalized} has {history_pages} page{}.",
            if history_pages == 1 { "" } else { "s" }
        )));
    }
    let window = &releases[(history_page - 1) * HISTORY_PAGE..(history_page * HISTORY_PAGE).min(releases.len())];
    let yanked_file = |f: &Value| f.get("yanked").and_then(Value::as_bool).unwrap_or(false);
    let all_yanked = |r: &Release| !r.files.is_empty() && r.files.iter().all(yanked_file);
    let yank_reason = |r: &Release| {
        r.files
            .iter()
            .find_map(|f| f.get("yanked_reason").and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    };
    let is_pre = |r: &Release| r.parsed.as_ref().is_some_and(|v| v.any_prerelease());

    // The description describes the version the document does (PyPI's
    // describes the newest); other versions show it too, as PyPI's pages do
    // for imported projects.
    let (_, description_html) =
        render_off_thread(text(&info, "description"), text(&info, "description_content_type")).await;
    let mut links: Vec<ProjectLink> = Vec::new();
    let mut add_link = |label: &str, url: &str| {
        if let Some(url) = safe_link(url)
            && !links.iter().any(|l| l.url == url)
        {
            links.push(ProjectLink {
                label: label.to_owned(),
                url,
            });
        }
    };
    add_link("Homepage", &text(&info, "home_page"));
    add_link("Documentation", &text(&info, "docs_url"));
    if let Some(urls) = info.get("project_urls").and_then(Value::as_object) {
        for (label, url) in urls.iter().take(32) {
            if let Some(url) = url.as_str() {
                add_link(label, url);
            }
        }
    }
    let files: Vec<FileEntry> = shown
        .files
        .iter()
        .take(MAX_FILES_SHOWN)
        .map(|f| {
            let field = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            let digest = |k: &str| {
                f.pointer(&format!("/digests/{k}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            FileEntry {
                filename: field("filename"),
                url: field("url"),
                kind: if field("packagetype") == "sdist" {
                    "Source"
                } else {
                    "Built Distribution"
                }
                .to_owned(),
                python_version: field("python_version"),
                size: f
                    .get("size")
                    .and_then(Value::as_i64)
                    .map(human_size)
                    .unwrap_or_default(),
                uploaded_on: human_date(upload_micros(f)),
                sha256: digest("sha256"),
                md5: digest("md5"),
                blake2b_256: digest("blake2b_256"),
            }
        })
        .collect();
    let timeline = layout(
        &window
            .iter()
            .filter_map(|r| {
                Some(Dated {
                    version: r.version,
                    at_micros: r.created?,
                    is_prerelease: is_pre(r),
                    yanked: all_yanked(r),
                    label: human_date(r.created),
                })
            })
            .collect::<Vec<_>>(),
    );
    let fetched = document.fetched_at;
    Ok(ProjectDetail {
        name: {
            let shown_name = text(&info, "name");
            if shown_name.is_empty() {
                normalized.clone()
            } else {
                shown_name
            }
        },
        normalized_name: normalized.clone(),
        version: shown.version.to_owned(),
        latest_version: latest.version.to_owned(),
        is_latest: shown.version == latest.version,
        is_prerelease: is_pre(shown),
        yanked: all_yanked(shown),
        yanked_reason: yank_reason(shown),
        released_on: human_date(shown.created),
        released_at: iso(shown.created),
        summary: text(&info, "summary"),
        description_html,
        license: text(&info, "license"),
        author: text(&info, "author"),
        author_email: text(&info, "author_email"),
        maintainer: text(&info, "maintainer"),
        maintainer_email: text(&info, "maintainer_email"),
        requires_python: text(&info, "requires_python"),
        keywords: text(&info, "keywords"),
        classifiers: list(&info, "classifiers"),
        requires_dist: list(&info, "requires_dist"),
        links,
        versions: window
            .iter()
            .map(|r| VersionEntry {
                version: r.version.to_owned(),
                released_on: human_date(r.created),
                is_prerelease: is_pre(r),
                is_legacy: r.parsed.is_none(),
                yanked: all_yanked(r),
                yanked_reason: yank_reason(r),
            })
            .collect(),
        release_count: releases.len(),
        history_page,
        history_pages,
        file_count: shown.files.len(),
        files,
        timeline,
        upstream: Some(UpstreamOrigin {
            fetched_ago: time_ago(unix_now(), fetched),
            fetched_at: iso(Some(fetched.saturating_mul(1_000_000))),
        }),
        status: "active".into(),
        status_reason: String::new(),
    })
}
