//! Read queries for the catalogue: stats, listings, project pages.

use sqlx::FromRow;

use super::Db;
use crate::model::Stats;

pub async fn stats(db: &Db) -> Result<Stats, sqlx::Error> {
    let (projects, releases, files, users): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM releases), \
                (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM users)",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(Stats {
        projects,
        releases,
        files,
        users,
    })
}

pub async fn is_empty(db: &Db) -> Result<bool, sqlx::Error> {
    let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM projects LIMIT 1")
        .fetch_optional(db.pool())
        .await?;
    Ok(any.is_none())
}

#[derive(Debug, Clone, FromRow)]
pub struct RecentProject {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    pub last_upload: Option<i64>,
}

/// Projects by most recent upload, newest first, with their latest version.
pub async fn recently_updated(db: &Db, limit: i64) -> Result<Vec<RecentProject>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.name, p.normalized_name, r.version, COALESCE(m.summary, '') AS summary, p.last_upload \
         FROM projects p \
         JOIN releases r ON r.id = p.latest_release_id \
         LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id \
         ORDER BY p.last_upload DESC NULLS LAST, p.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub normalized_name: String,
    pub latest_version: String,
    pub latest_created: Option<i64>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub description_content_type: Option<String>,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub maintainer: Option<String>,
    pub maintainer_email: Option<String>,
    pub license: Option<String>,
    pub keywords: Option<String>,
    pub home_page: Option<String>,
    pub download_url: Option<String>,
    pub docs_url: Option<String>,
    pub requires_python: Option<String>,
    pub project_urls: Option<String>,
    pub classifiers: Option<String>,
    pub requires_dist: Option<String>,
}

/// One project by its PEP 503 normalized name, with the metadata that describes it.
pub async fn project(db: &Db, normalized_name: &str) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.id, p.name, p.normalized_name, r.version AS latest_version, r.created AS latest_created, \
                m.summary, m.description, m.description_content_type, m.author, m.author_email, \
                m.maintainer, m.maintainer_email, m.license, m.keywords, m.home_page, m.download_url, \
                m.docs_url, m.requires_python, m.project_urls, m.classifiers, m.requires_dist \
         FROM projects p \
         JOIN releases r ON r.id = p.latest_release_id \
         LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id \
         WHERE p.normalized_name = $1",
    )
    .bind(normalized_name)
    .fetch_optional(db.pool())
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct ReleaseRow {
    pub version: String,
    pub created: Option<i64>,
    pub is_prerelease: bool,
    pub is_legacy: bool,
    pub yanked: bool,
}

/// Every release of a project, newest first (PEP 440 order, legacy last).
pub async fn releases(db: &Db, project_id: i64) -> Result<Vec<ReleaseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, created, is_prerelease, is_legacy, yanked FROM releases \
         WHERE project_id = $1 ORDER BY sort_key DESC, id DESC",
    )
    .bind(project_id)
    .fetch_all(db.pool())
    .await
}
