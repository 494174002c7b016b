//! The catalogue: home page data and project pages.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{HomeData, ProjectDetail};

/// How many projects "New releases" on the home page lists.
pub const NEW_RELEASES: i64 = 10;

#[server(prefix = "/api", endpoint = "home")]
pub async fn get_home() -> Result<HomeData, AppError> {
    super::respond(ssr::home().await)
}

#[server(prefix = "/api", endpoint = "project")]
pub async fn get_project(name: String) -> Result<ProjectDetail, AppError> {
    super::respond(ssr::project(&name).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::DateTime;

    use super::NEW_RELEASES;
    use crate::domain::format::time_ago;
    use crate::domain::{MAX_PROJECT_NAME_LEN, normalize_project_name, safe_link};
    use crate::error::AppError;
    use crate::model::{HomeData, ProjectDetail, ProjectLink, ReleaseSummary, VersionEntry};
    use crate::server::db::catalog;
    use crate::server::state::AppState;

    pub fn iso(micros: Option<i64>) -> String {
        micros
            .and_then(DateTime::from_timestamp_micros)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    }

    pub fn human_date(micros: Option<i64>) -> String {
        micros
            .and_then(DateTime::from_timestamp_micros)
            .map(|t| t.format("%b %-d, %Y").to_string())
            .unwrap_or_default()
    }

    pub async fn home() -> Result<HomeData, AppError> {
        let state = AppState::from_context()?;
        let (stats, recent) = tokio::try_join!(
            catalog::stats(&state.db),
            catalog::recently_updated(&state.db, NEW_RELEASES)
        )?;
        let now = chrono::Utc::now().timestamp();
        let new_releases = recent
            .into_iter()
            .map(|p| ReleaseSummary {
                released_ago: p.last_upload.map(|t| time_ago(now, t / 1_000_000)).unwrap_or_default(),
                released_at: iso(p.last_upload),
                name: p.name,
                normalized_name: p.normalized_name,
                version: p.version,
                summary: p.summary,
            })
            .collect();
        Ok(HomeData { stats, new_releases })
    }

    fn json_list(raw: Option<&str>) -> Vec<String> {
        raw.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }

    pub async fn project(name: &str) -> Result<ProjectDetail, AppError> {
        if name.len() > MAX_PROJECT_NAME_LEN {
            return Err(AppError::project_not_found(&name.chars().take(40).collect::<String>()));
        }
        let state = AppState::from_context()?;
        let normalized = normalize_project_name(name);
        let Some(p) = catalog::project(&state.db, &normalized).await? else {
            return Err(AppError::project_not_found(name));
        };
        let releases = catalog::releases(&state.db, p.id).await?;

        let mut links = Vec::new();
        let mut add_link = |label: &str, url: Option<&str>| {
            if let Some(url) = url.and_then(safe_link)
                && !links.iter().any(|l: &ProjectLink| l.url == url)
            {
                links.push(ProjectLink {
                    label: label.to_owned(),
                    url,
                });
            }
        };
        add_link("Homepage", p.home_page.as_deref());
        add_link("Documentation", p.docs_url.as_deref());
        add_link("Download", p.download_url.as_deref());
        let project_urls: Vec<(String, String)> = p
            .project_urls
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        for (label, url) in &project_urls {
            add_link(label, Some(url));
        }

        let text = |s: Option<String>| s.unwrap_or_default();
        Ok(ProjectDetail {
            released_on: human_date(p.latest_created),
            released_at: iso(p.latest_created),
            classifiers: json_list(p.classifiers.as_deref()),
            requires_dist: json_list(p.requires_dist.as_deref()),
            versions: releases
                .into_iter()
                .map(|r| VersionEntry {
                    released_on: human_date(r.created),
                    version: r.version,
                    is_prerelease: r.is_prerelease,
                    is_legacy: r.is_legacy,
                    yanked: r.yanked,
                })
                .collect(),
            links,
            name: p.name,
            normalized_name: p.normalized_name,
            latest_version: p.latest_version,
            summary: text(p.summary),
            description: text(p.description),
            description_content_type: text(p.description_content_type),
            license: text(p.license),
            author: text(p.author),
            author_email: text(p.author_email),
            maintainer: text(p.maintainer),
            maintainer_email: text(p.maintainer_email),
            requires_python: text(p.requires_python),
            keywords: text(p.keywords),
        })
    }
}
