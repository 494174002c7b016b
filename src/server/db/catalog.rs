//! Read queries for the catalogue: stats, listings, project pages.

use sqlx::FromRow;

use super::{Db, Pool, with_limit, with_limit_then};
use crate::domain::access::ProjectStatus;
use crate::model::Stats;

pub async fn stats(db: &Db) -> Result<Stats, sqlx::Error> {
    // `home`'s statement without the recent uploads: one copy of the SQL.
    Ok(home(db, 0).await?.0)
}

/// Changes with every write a page can show (triggers: SQLite migration
/// 0007, PostgreSQL's `catalog_changed`).
///
/// Asked before every cached answer, so it is cheap: on a SQLite file, when
/// no transaction was committed since it was last read (the WAL index says
/// so from shared memory), the last value; else read again, on the probe's
/// connection without a worker thread (or through the pool). On PostgreSQL,
/// the value read after the last change this instance was notified of (see
/// `changes`), else one read of 16 rows, shared by the requests waiting.
pub async fn generation(db: &Db) -> Result<i64, sqlx::Error> {
    if let Some(generation) = db.fresh_generation() {
        return Ok(generation);
    }
    match db.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_scalar("SELECT generation FROM catalog_counts WHERE id = 1")
                .fetch_one(pool)
                .await
        }
        Pool::Postgres(pool) => {
            // The key range lets the planner read the rows through the
            // primary key when the table has grown dead versions (bulk
            // writes update a shard many times in one transaction), rather
            // than scan every page (see postgres::compact).
            async fn read(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar("SELECT sum(generation)::BIGINT FROM catalog_counts WHERE shard BETWEEN 0 AND 15")
                    .fetch_one(pool)
                    .await
            }
            // Known since the last change (see `changes`): no round trip.
            let changes = db.changes();
            if let Some(generation) = changes.and_then(|c| c.current()) {
                return Ok(generation);
            }
            // Remembered only while listening: by default (not listening) a
            // read costs no lock.
            let mark = changes.filter(|c| c.is_live()).map(|c| c.mark());
            // One read in flight for all the requests of this instance
            // (see `gate`); when it failed, ask again to report why.
            if let Some(gate) = db.gate() {
                let shared = pool.clone();
                let counted = changes.cloned();
                let coalesced = gate
                    .generation(move || {
                        let pool = shared.clone();
                        if let Some(changes) = &counted {
                            changes.reading();
                        }
                        async move { read(&pool).await.ok() }
                    })
                    .await;
                if let Some(generation) = coalesced {
                    if let (Some(changes), Some(mark)) = (changes, mark) {
                        changes.remember(mark, generation);
                    }
                    return Ok(generation);
                }
            }
            read(pool).await
        }
    }
}

pub async fn is_empty(db: &Db) -> Result<bool, sqlx::Error> {
    let any: bool = each_backend!(db, pool => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projects)")
        .fetch_one(pool)
        .await)?;
    Ok(!any)
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct RecentProject {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    pub last_upload: Option<i64>,
}

/// Projects by most recent upload, newest first, with their latest version
/// (`home`'s subquery, limited there).
const RECENTLY_UPDATED: &str = "SELECT p.id, p.name, p.normalized_name, r.version, COALESCE(m.summary, '') AS summary, \
         p.last_upload \
     FROM projects p \
     JOIN releases r ON r.id = p.latest_release_id \
     LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id \
     ORDER BY p.last_upload DESC NULLS LAST, p.id DESC";

/// What the home page shows: the catalogue's counts (`stats`) and its
/// `limit` projects uploaded to last (`RECENTLY_UPDATED`), in one statement.
/// Each statement is a round trip (on SQLite, a hand-off to the
/// connection's thread and back) and, on PostgreSQL, a pool connection held
/// for it: the uncached home page needs one, not two.
pub async fn home(db: &Db, limit: i64) -> Result<(Stats, Vec<RecentProject>), sqlx::Error> {
    // Kept current by triggers, not counted per view: one row on SQLite
    // (migration 0005), 16 shards summed on PostgreSQL.
    //
    // The rows come back as one JSON array, newest first: SQLite aggregates
    // a subquery's rows in the order it returns them; PostgreSQL promises
    // that only for an ordered aggregate.
    let (projects, releases, files, users, recent): (i64, i64, i64, i64, String) = match db.pool() {
        Pool::Sqlite(pool) => {
            let head = format!(
                "SELECT c.projects, c.releases, c.files, c.users, \
                     (SELECT json_group_array(json_object('name', x.name, 'normalized_name', x.normalized_name, \
                         'version', x.version, 'summary', x.summary, 'last_upload', x.last_upload)) \
                      FROM ({RECENTLY_UPDATED}"
            );
            let sql = with_limit_then(&head, limit, ") x) FROM catalog_counts c WHERE c.id = 1");
            sqlx::query_as(sql).fetch_one(pool).await?
        }
        Pool::Postgres(pool) => {
            let head = format!(
                "SELECT sum(projects)::BIGINT, sum(releases)::BIGINT, sum(files)::BIGINT, sum(users)::BIGINT, \
                     (SELECT COALESCE(json_agg(x ORDER BY x.last_upload DESC NULLS LAST, x.id DESC), '[]')::TEXT \
                      FROM ({RECENTLY_UPDATED}"
            );
            let sql = with_limit_then(&head, limit, ") x) FROM catalog_counts WHERE shard BETWEEN 0 AND 15");
            sqlx::query_as(sql).fetch_one(pool).await?
        }
    };
    let recent = serde_json::from_str(&recent).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((
        Stats {
            projects,
            releases,
            files,
            users,
        },
        recent,
    ))
}

#[derive(Debug, Clone, FromRow)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub normalized_name: String,
    pub latest_release_id: Option<i64>,
    pub metadata_release_id: Option<i64>,
    /// PyPI's serial: the id of the project's newest journal entry.
    pub last_serial: i64,
    /// PEP 792 status and its reason.
    pub status: String,
    pub status_reason: Option<String>,
}

impl ProjectRow {
    /// The project's PEP 792 status (the database allows only those).
    pub fn status(&self) -> ProjectStatus {
        ProjectStatus::parse(&self.status).unwrap_or_default()
    }
}

/// The columns of `ProjectRow`.
macro_rules! project_columns {
    () => {
        "SELECT id, name, normalized_name, latest_release_id, metadata_release_id, last_serial, status, status_reason \
         FROM projects"
    };
}

/// One project by its PEP 503 normalized name.
pub async fn project(db: &Db, normalized_name: &str) -> Result<Option<ProjectRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(concat!(project_columns!(), " WHERE normalized_name = $1"))
        .bind(normalized_name)
        .fetch_optional(pool)
        .await)
}

/// Every project, by normalized name (the `/simple/` listing).
pub async fn all_projects(db: &Db) -> Result<Vec<ProjectRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(concat!(project_columns!(), " ORDER BY normalized_name"))
        .fetch_all(pool)
        .await)
}

#[derive(Debug, Clone, FromRow, serde::Deserialize)]
pub struct ReleaseRow {
    pub id: i64,
    pub version: String,
    pub sort_key: String,
    pub created: Option<i64>,
    pub is_prerelease: bool,
    pub is_legacy: bool,
    pub yanked: bool,
    pub yanked_reason: Option<String>,
    pub has_metadata: bool,
}

/// Every release of a project, newest first (PEP 440 order, legacy last).
pub async fn releases(db: &Db, project_id: i64) -> Result<Vec<ReleaseRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT r.id, r.version, r.sort_key, r.created, r.is_prerelease, r.is_legacy, r.yanked, r.yanked_reason, \
                EXISTS (SELECT 1 FROM release_metadata m WHERE m.release_id = r.id) AS has_metadata \
         FROM releases r WHERE r.project_id = $1 ORDER BY r.sort_key DESC, r.id DESC",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await)
}

/// What a project page reads: the project, every one of its releases
/// (`releases`' order) and the view of its latest release (`release_view`'s),
/// all in one statement: an uncached page view is mostly round trips to the
/// database, and on SQLite each statement is a hand-off to the connection's
/// thread and back (make bench, the uncached project page). A page of
/// another version reads that version's view after (`release_view`).
pub struct ProjectPage {
    pub project: ProjectRow,
    pub releases: Vec<ReleaseRow>,
    /// `release_view` of `project.latest_release_id`: the latest release's
    /// metadata (or the project's when it has none) and its files.
    pub latest_view: (Option<MetadataRow>, Vec<FileRow>),
}

/// The latest release's metadata, or the project's (`release_view`'s
/// rule), as `MetadataRow`'s columns: empty, with `release_id` 0, when
/// there is none.
macro_rules! latest_metadata_columns {
    () => {
        "COALESCE(m.release_id, 0) AS release_id, COALESCE(m.summary, '') AS summary, \
         COALESCE(m.description, '') AS description, \
         COALESCE(m.description_content_type, '') AS description_content_type, m.description_html, \
         COALESCE(m.author, '') AS author, COALESCE(m.author_email, '') AS author_email, \
         COALESCE(m.maintainer, '') AS maintainer, COALESCE(m.maintainer_email, '') AS maintainer_email, \
         COALESCE(m.license, '') AS license, COALESCE(m.keywords, '') AS keywords, \
         COALESCE(m.home_page, '') AS home_page, COALESCE(m.download_url, '') AS download_url, \
         COALESCE(m.docs_url, '') AS docs_url, COALESCE(m.requires_python, '') AS requires_python, \
         COALESCE(m.project_urls, '[]') AS project_urls, COALESCE(m.classifiers, '[]') AS classifiers, \
         COALESCE(m.requires_dist, '[]') AS requires_dist"
    };
}

/// Joins `m`: the metadata of the latest release when it has its own,
/// else the metadata describing the project.
macro_rules! latest_metadata_join {
    () => {
        " FROM projects p LEFT JOIN release_metadata m ON m.release_id = COALESCE( \
             (SELECT x.release_id FROM release_metadata x WHERE x.release_id = p.latest_release_id), \
             p.metadata_release_id) \
         WHERE p.normalized_name = $1"
    };
}

pub async fn project_page(db: &Db, normalized_name: &str) -> Result<Option<ProjectPage>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        project: ProjectRow,
        releases: String,
        #[sqlx(flatten)]
        metadata: MetadataRow,
        files: String,
    }
    let row: Option<Row> = match db.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_as(concat!(
                "SELECT p.id, p.name, p.normalized_name, p.latest_release_id, p.metadata_release_id, p.last_serial, \
                     p.status, p.status_reason, \
                     (SELECT json_group_array(json_object('id', r.id, 'version', r.version, 'sort_key', r.sort_key, \
                             'created', r.created, 'is_prerelease', json(CASE WHEN r.is_prerelease THEN 'true' ELSE 'false' END), \
                             'is_legacy', json(CASE WHEN r.is_legacy THEN 'true' ELSE 'false' END), \
                             'yanked', json(CASE WHEN r.yanked THEN 'true' ELSE 'false' END), \
                             'yanked_reason', r.yanked_reason, \
                             'has_metadata', json(CASE WHEN EXISTS (SELECT 1 FROM release_metadata m WHERE m.release_id = r.id) \
                                 THEN 'true' ELSE 'false' END))) \
                      FROM (SELECT * FROM releases WHERE project_id = p.id ORDER BY sort_key DESC, id DESC) r) AS releases, \
                     (SELECT json_group_array(json_object('filename', f.filename, 'packagetype', f.packagetype, \
                             'python_version', f.python_version, 'size', f.size, 'sha256', f.sha256, 'md5', f.md5, \
                             'blake2b_256', f.blake2b_256, 'upload_time', f.upload_time, 'url', f.url)) \
                      FROM (SELECT * FROM files WHERE release_id = p.latest_release_id \
                            ORDER BY packagetype <> 'sdist', filename) f) AS files, ",
                latest_metadata_columns!(),
                latest_metadata_join!()
            ))
            .bind(normalized_name)
            .fetch_optional(pool)
            .await?
        }
        Pool::Postgres(pool) => {
            sqlx::query_as(concat!(
                "SELECT p.id, p.name, p.normalized_name, p.latest_release_id, p.metadata_release_id, p.last_serial, \
                     p.status, p.status_reason, \
                     (SELECT COALESCE(json_agg(r), '[]')::TEXT FROM \
                         (SELECT r.id, r.version, r.sort_key, r.created, r.is_prerelease, r.is_legacy, r.yanked, \
                                 r.yanked_reason, EXISTS (SELECT 1 FROM release_metadata m WHERE m.release_id = r.id) AS has_metadata \
                          FROM releases r WHERE r.project_id = p.id ORDER BY r.sort_key DESC, r.id DESC) r) AS releases, \
                     (SELECT COALESCE(json_agg(f), '[]')::TEXT FROM \
                         (SELECT filename, packagetype, python_version, size, sha256, md5, blake2b_256, upload_time, url \
                          FROM files WHERE release_id = p.latest_release_id \
                          ORDER BY packagetype <> 'sdist', filename) f) AS files, ",
                latest_metadata_columns!(),
                latest_metadata_join!()
            ))
            .bind(normalized_name)
            .fetch_optional(pool)
            .await?
        }
    };
    let Some(row) = row else { return Ok(None) };
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let releases = serde_json::from_str(&row.releases).map_err(decode)?;
    let files = serde_json::from_str(&row.files).map_err(decode)?;
    let metadata = (row.metadata.release_id != 0).then_some(row.metadata);
    Ok(Some(ProjectPage {
        project: row.project,
        releases,
        latest_view: (metadata, files),
    }))
}

/// The columns of `MetadataRow`.
macro_rules! metadata_columns {
    () => {
        "SELECT release_id, summary, description, description_content_type, description_html, author, author_email, \
                maintainer, maintainer_email, license, keywords, home_page, download_url, docs_url, requires_python, \
                project_urls, classifiers, requires_dist"
    };
}

/// What a release's page shows: the metadata of `metadata_id` (the release's
/// own, or its project's) and the files of `release_id` (`files`' order),
/// in one statement when there is metadata.
pub async fn release_view(
    db: &Db,
    release_id: i64,
    metadata_id: Option<i64>,
) -> Result<(Option<MetadataRow>, Vec<FileRow>), sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        metadata: MetadataRow,
        files: String,
    }
    let Some(metadata_id) = metadata_id else {
        return Ok((None, files(db, release_id).await?));
    };
    let row: Option<Row> = match db.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_as(concat!(
                metadata_columns!(),
                ", (SELECT json_group_array(json_object('filename', f.filename, 'packagetype', f.packagetype, \
                        'python_version', f.python_version, 'size', f.size, 'sha256', f.sha256, 'md5', f.md5, \
                        'blake2b_256', f.blake2b_256, 'upload_time', f.upload_time, 'url', f.url)) \
                    FROM (SELECT * FROM files WHERE release_id = $2 ORDER BY packagetype <> 'sdist', filename) f) AS files \
                 FROM release_metadata WHERE release_id = $1"
            ))
            .bind(metadata_id)
            .bind(release_id)
            .fetch_optional(pool)
            .await?
        }
        Pool::Postgres(pool) => {
            sqlx::query_as(concat!(
                metadata_columns!(),
                ", (SELECT COALESCE(json_agg(f), '[]')::TEXT FROM \
                     (SELECT filename, packagetype, python_version, size, sha256, md5, blake2b_256, upload_time, url \
                      FROM files WHERE release_id = $2 ORDER BY packagetype <> 'sdist', filename) f) AS files \
                 FROM release_metadata WHERE release_id = $1"
            ))
            .bind(metadata_id)
            .bind(release_id)
            .fetch_optional(pool)
            .await?
        }
    };
    match row {
        Some(row) => {
            let files = serde_json::from_str(&row.files).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((Some(row.metadata), files))
        }
        None => Ok((None, files(db, release_id).await?)),
    }
}

#[derive(Debug, Clone, Default, FromRow)]
pub struct MetadataRow {
    pub release_id: i64,
    pub summary: String,
    pub description: String,
    pub description_content_type: String,
    pub description_html: Option<String>,
    pub author: String,
    pub author_email: String,
    pub maintainer: String,
    pub maintainer_email: String,
    pub license: String,
    pub keywords: String,
    pub home_page: String,
    pub download_url: String,
    pub docs_url: String,
    pub requires_python: String,
    pub project_urls: String,
    pub classifiers: String,
    pub requires_dist: String,
}

pub async fn metadata(db: &Db, release_id: i64) -> Result<Option<MetadataRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(concat!(metadata_columns!(), " FROM release_metadata WHERE release_id = $1"))
    .bind(release_id)
    .fetch_optional(pool)
    .await)
}

/// Caches a description rendered on first view (rows written before
/// descriptions were rendered at write time).
pub async fn store_description_html(db: &Db, release_id: i64, html: &str) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("UPDATE release_metadata SET description_html = $2 WHERE release_id = $1")
        .bind(release_id)
        .bind(html)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, serde::Deserialize)]
pub struct FileRow {
    pub filename: String,
    pub packagetype: String,
    pub python_version: String,
    pub size: i64,
    pub sha256: String,
    pub md5: Option<String>,
    pub blake2b_256: Option<String>,
    pub upload_time: i64,
    pub url: String,
}

/// The files of a release: the source distribution first, then wheels by name.
pub async fn files(db: &Db, release_id: i64) -> Result<Vec<FileRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT filename, packagetype, python_version, size, sha256, md5, blake2b_256, upload_time, url \
         FROM files WHERE release_id = $1 ORDER BY packagetype <> 'sdist', filename",
    )
    .bind(release_id)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct FeedItem {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    pub author_email: String,
    pub at: Option<i64>,
}

/// Releases with the summary and author of their own metadata, else of the
/// metadata describing their project: the feeds' common select.
macro_rules! feed_releases {
    () => {
        "SELECT p.name, p.normalized_name, r.version, COALESCE(m.summary, d.summary, '') AS summary, \
                COALESCE(m.author_email, d.author_email, '') AS author_email, r.created AS at \
         FROM releases r JOIN projects p ON p.id = r.project_id \
         LEFT JOIN release_metadata m ON m.release_id = r.id \
         LEFT JOIN release_metadata d ON d.release_id = p.metadata_release_id "
    };
}

/// The most recent releases of the whole index (PyPI's "updates" feed).
pub async fn recent_releases(db: &Db, limit: i64) -> Result<Vec<FeedItem>, sqlx::Error> {
    let sql = with_limit(
        concat!(
            feed_releases!(),
            "WHERE r.created IS NOT NULL ORDER BY r.created DESC, r.id DESC"
        ),
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)
}

/// The newest projects (by their first release).
pub async fn newest_projects(db: &Db, limit: i64) -> Result<Vec<FeedItem>, sqlx::Error> {
    let sql = with_limit(
        "SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, COALESCE(d.summary, '') AS summary, \
                COALESCE(d.author_email, '') AS author_email, p.created AS at \
         FROM projects p LEFT JOIN releases r ON r.id = p.latest_release_id \
         LEFT JOIN release_metadata d ON d.release_id = p.metadata_release_id \
         ORDER BY p.created DESC, p.id DESC",
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)
}

/// The latest releases of one project, by upload time.
pub async fn project_releases_feed(db: &Db, project_id: i64, limit: i64) -> Result<Vec<FeedItem>, sqlx::Error> {
    let sql = with_limit(
        concat!(
            feed_releases!(),
            "WHERE r.project_id = $1 ORDER BY r.created DESC NULLS LAST, r.sort_key DESC"
        ),
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql).bind(project_id).fetch_all(pool).await)
}
