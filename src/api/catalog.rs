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

/// A project as of `version`, or of its latest version, with page
/// `history` (from 1) of its release history.
#[server(prefix = "/api", endpoint = "project")]
pub async fn get_project(
    name: String,
    version: Option<String>,
    #[server(default)] history: Option<usize>,
) -> Result<ProjectDetail, AppError> {
    super::respond(ssr::project(&name, version.as_deref(), history.unwrap_or(1)).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::{DateTime, Datelike as _, Timelike as _};

    use super::NEW_RELEASES;
    use crate::domain::format::{human_size, time_ago};
    use crate::domain::timeline::{Dated, layout};
    use crate::domain::{MAX_PROJECT_NAME_LEN, ReleaseVersion, normalize_project_name, safe_link};
    use crate::error::AppError;
    use crate::model::{
        FileEntry, HISTORY_PAGE, HomeData, MAX_FILES_SHOWN, ProjectDetail, ProjectLink, ReleaseSummary, VersionEntry,
    };
    use crate::server::db::catalog;
    use crate::server::render::render_off_thread;
    use crate::server::state::AppState;

    // Both formatters run for every date on a page (a project page has
    // dozens: files, versions, the timeline's labels). chrono's `format`
    // parses its pattern on every call; these write the fields directly, as
    // `%Y-%m-%dT%H:%M:%SZ` and `%b %-d, %Y` would (`date_tests` compares
    // them with chrono's output).

    /// A UTC instant as ISO 8601, to the second (`2026-11-27T09:05:00Z`).
    pub fn iso(micros: Option<i64>) -> String {
        micros
            .and_then(DateTime::from_timestamp_micros)
            .map(|t| {
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_default()
    }

    /// A UTC date as people read it (`Nov 27, 2026`).
    pub fn human_date(micros: Option<i64>) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        micros
            .and_then(DateTime::from_timestamp_micros)
            .map(|t| {
                let month = MONTHS.get(t.month0() as usize).copied().unwrap_or_default();
                format!("{month} {}, {:04}", t.day(), t.year())
            })
            .unwrap_or_default()
    }

    pub async fn home() -> Result<HomeData, AppError> {
        let state = AppState::from_context()?;
        let (stats, recent) = catalog::home(&state.db, NEW_RELEASES).await?;
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

    fn json_list(raw: &str) -> Vec<String> {
        serde_json::from_str(raw).unwrap_or_default()
    }

    pub async fn project(name: &str, version: Option<&str>, history_page: usize) -> Result<ProjectDetail, AppError> {
        if name.len() > MAX_PROJECT_NAME_LEN {
            return Err(AppError::project_not_found(&name.chars().take(40).collect::<String>()));
        }
        let state = AppState::from_context()?;
        let db = &state.db;
        let Some(catalog::ProjectPage {
            project: p,
            releases,
            latest_view,
        }) = catalog::project_page(db, &normalize_project_name(name)).await?
        else {
            // Not a local name: the upstream's, when there is one.
            if let Some(upstream) = &state.upstream {
                return crate::server::upstream::page::project(&state, upstream, name, version, history_page).await;
            }
            return Err(AppError::project_not_found(name));
        };
        let latest = releases.iter().find(|r| Some(r.id) == p.latest_release_id);
        let shown = match version.map(str::trim).filter(|v| !v.is_empty()) {
            None => latest,
            Some(v) => releases.iter().find(|r| r.version == v).or_else(|| {
                // PEP 440 spellings of the same version (1.0 and 1.0.0) share a sort key.
                let parsed = ReleaseVersion::parse(v);
                (!parsed.is_legacy())
                    .then(|| parsed.sort_key(0))
                    .and_then(|k| releases.iter().find(|r| r.sort_key == k))
            }),
        };
        let (Some(shown), Some(latest)) = (shown, latest) else {
            let v: String = version.unwrap_or("").chars().take(40).collect();
            return Err(AppError::NotFound(format!("{} has no version “{v}”.", p.name)));
        };

        // The version's own metadata, or the project's when it has none
        // (imported documents carry metadata for one version only): the
        // latest's came with the project.
        let (metadata, files) = if shown.id == latest.id {
            latest_view
        } else {
            let metadata_id = if shown.has_metadata {
                Some(shown.id)
            } else {
                p.metadata_release_id
            };
            catalog::release_view(db, shown.id, metadata_id).await?
        };

        let mut links = Vec::new();
        let mut description_html = String::new();
        // No metadata at all: empty fields (empty JSON text reads as no items).
        let mut m = metadata.unwrap_or_default();
        if m.release_id != 0 {
            description_html = match m.description_html.take() {
                Some(html) => html,
                None => {
                    // Rows from before descriptions were rendered on write:
                    // rendered once, off the async threads, within the budget.
                    let (text, html) =
                        render_off_thread(std::mem::take(&mut m.description), m.description_content_type.clone()).await;
                    m.description = text;
                    catalog::store_description_html(db, m.release_id, &html).await?;
                    html
                }
            };
            let mut add_link = |label: &str, url: &str| {
                if let Some(url) = safe_link(url)
                    && !links.iter().any(|l: &ProjectLink| l.url == url)
                {
                    links.push(ProjectLink {
                        label: label.to_owned(),
                        url,
                    });
                }
            };
            add_link("Homepage", &m.home_page);
            add_link("Documentation", &m.docs_url);
            add_link("Download", &m.download_url);
            let project_urls: Vec<(String, String)> = serde_json::from_str(&m.project_urls).unwrap_or_default();
            for (label, url) in &project_urls {
                add_link(label, url);
            }
        }

        // One page of the history (and of the timeline): bounded however
        // many releases a project has.
        let history_pages = releases.len().div_ceil(HISTORY_PAGE).max(1);
        if history_page == 0 || history_page > history_pages {
            return Err(AppError::NotFound(format!(
                "The release history of {} has {history_pages} page{}.",
                p.name,
                if history_pages == 1 { "" } else { "s" }
            )));
        }
        let window = &releases[(history_page - 1) * HISTORY_PAGE..(history_page * HISTORY_PAGE).min(releases.len())];
        // A quarantined project's files are neither listed nor served.
        let quarantined = !p.status().serves_files();
        let files = if quarantined { Vec::new() } else { files };
        let file_count = files.len();
        let timeline = layout(
            &window
                .iter()
                .filter_map(|r| {
                    Some(Dated {
                        version: &r.version,
                        at_micros: r.created?,
                        is_prerelease: r.is_prerelease,
                        yanked: r.yanked,
                        label: human_date(r.created),
                    })
                })
                .collect::<Vec<_>>(),
        );
        Ok(ProjectDetail {
            version: shown.version.clone(),
            latest_version: latest.version.clone(),
            is_latest: shown.id == latest.id,
            is_prerelease: shown.is_prerelease,
            yanked: shown.yanked,
            yanked_reason: shown.yanked_reason.clone().unwrap_or_default(),
            released_on: human_date(shown.created),
            released_at: iso(shown.created),
            classifiers: json_list(&m.classifiers),
            requires_dist: json_list(&m.requires_dist),
            file_count,
            files: files
                .into_iter()
                .take(MAX_FILES_SHOWN)
                .map(|f| FileEntry {
                    kind: if f.packagetype == "sdist" {
                        "Source"
                    } else {
                        "Built Distribution"
                    }
                    .to_owned(),
                    size: human_size(f.size),
                    uploaded_on: human_date(Some(f.upload_time)),
                    md5: f.md5.unwrap_or_default(),
                    blake2b_256: f.blake2b_256.unwrap_or_default(),
                    filename: f.filename,
                    url: f.url,
                    python_version: f.python_version,
                    sha256: f.sha256,
                })
                .collect(),
            release_count: releases.len(),
            history_page,
            history_pages,
            versions: window
                .iter()
                .map(|r| VersionEntry {
                    version: r.version.clone(),
                    released_on: human_date(r.created),
                    is_prerelease: r.is_prerelease,
                    is_legacy: r.is_legacy,
                    yanked: r.yanked,
                    yanked_reason: r.yanked_reason.clone().unwrap_or_default(),
                })
                .collect(),
            timeline,
            links,
            description_html,
            name: p.name,
            normalized_name: p.normalized_name,
            summary: m.summary,
            license: m.license,
            author: m.author,
            author_email: m.author_email,
            maintainer: m.maintainer,
            maintainer_email: m.maintainer_email,
            requires_python: m.requires_python,
            keywords: m.keywords,
            upstream: None,
            status: p.status,
            status_reason: p.status_reason.unwrap_or_default(),
        })
    }
}

#[cfg(all(test, feature = "ssr"))]
mod date_tests {
    use super::ssr::{human_date, iso};

    /// chrono's own rendering of the patterns the formatters stand for.
    fn by_chrono(micros: i64, pattern: &str) -> String {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| t.format(pattern).to_string())
            .unwrap_or_default()
    }

    #[test]
    fn dates_read_as_chrono_writes_them() {
        let day = 86_400_000_000_i64;
        let mut instants = vec![
            0,                       // the epoch
            -1,                      // the last microsecond of 1969
            951_782_400_000_000,     // Feb 29, 2000
            1_798_761_599_999_999,   // Dec 31, 2026, a microsecond before midnight
            -62_135_596_800_000_000, // Jan 1 of year 1
            253_402_300_799_000_000, // Dec 31, 9999, 23:59:59
        ];
        // A day a month apart, and an hour and a second off, for 60 years.
        instants.extend((0..730).map(|i| i * 30 * day + i * 3_661_000_000));
        for micros in instants {
            assert_eq!(human_date(Some(micros)), by_chrono(micros, "%b %-d, %Y"), "{micros}");
            assert_eq!(iso(Some(micros)), by_chrono(micros, "%Y-%m-%dT%H:%M:%SZ"), "{micros}");
        }
        assert_eq!(human_date(Some(1_795_770_300_000_000)), "Nov 27, 2026");
        assert_eq!(iso(Some(1_795_770_300_000_000)), "2026-11-27T09:05:00Z");
        assert_eq!(human_date(None), "");
        // Past what chrono represents: no date, as before.
        assert_eq!(iso(Some(i64::MAX)), "");
        assert_eq!(human_date(Some(i64::MIN)), "");
    }
}
