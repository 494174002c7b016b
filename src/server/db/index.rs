//! Queries of the package index: the Simple and JSON APIs, uploads, API tokens.

use sqlx::FromRow;

use super::{Db, Pool};

/// The newest journal id: the index's serial.
pub async fn last_serial(db: &Db) -> Result<i64, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM journal")
        .fetch_one(pool)
        .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct IndexRelease {
    pub id: i64,
    pub version: String,
    pub yanked: bool,
    pub yanked_reason: Option<String>,
}

/// A project's releases, oldest first (PEP 440 order, legacy versions first).
pub async fn releases(db: &Db, project_id: i64) -> Result<Vec<IndexRelease>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT id, version, yanked, yanked_reason FROM releases WHERE project_id = $1 ORDER BY sort_key, id",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, PartialEq, FromRow, serde::Deserialize)]
pub struct IndexFile {
    pub release_id: i64,
    pub version: String,
    pub filename: String,
    pub packagetype: String,
    pub python_version: String,
    pub size: i64,
    pub sha256: String,
    pub md5: Option<String>,
    pub blake2b_256: Option<String>,
    pub upload_time: i64,
    pub url: String,
    pub requires_python: Option<String>,
    /// The file's or its release's yanked state (PEP 592 yanks releases).
    pub yanked: bool,
    pub yanked_reason: Option<String>,
    pub metadata_sha256: Option<String>,
}

macro_rules! file_columns {
    () => {
        "f.release_id, r.version, f.filename, f.packagetype, f.python_version, f.size, f.sha256, \
         f.md5, f.blake2b_256, f.upload_time, f.url, f.requires_python, (f.yanked OR r.yanked) AS yanked, \
         r.yanked_reason, f.metadata_sha256"
    };
}

/// A project's Simple API page: its names and serial, its versions (PEP 440
/// order) and its files (by filename).
#[derive(Debug, Clone)]
pub struct SimpleProject {
    pub name: String,
    pub normalized_name: String,
    pub last_serial: i64,
    pub versions: Vec<String>,
    pub files: Vec<IndexFile>,
    /// The owner lets the upstream's releases be served beside these.
    pub allow_upstream: bool,
    /// PEP 792 status and its reason.
    pub status: String,
    pub status_reason: Option<String>,
}

/// Everything the Simple API shows of one project, in one round trip: the
/// versions and the files come aggregated as JSON beside the project row
/// (`None`: no such project). A page built after a write costs one query.
/// The files are `file_columns!` as JSON objects keyed by `IndexFile`'s
/// field names.
pub async fn simple_project(db: &Db, normalized_name: &str) -> Result<Option<SimpleProject>, sqlx::Error> {
    #[allow(clippy::type_complexity)]
    let row: Option<(String, String, i64, String, String, bool, String, Option<String>)> = match db.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_as(concat!(
                "SELECT p.name, p.normalized_name, p.last_serial, \
                     (SELECT json_group_array(v.version) FROM \
                         (SELECT version FROM releases WHERE project_id = p.id ORDER BY sort_key, id) v), \
                     (SELECT json_group_array(json_object('release_id', x.release_id, 'version', x.version, \
                             'filename', x.filename, 'packagetype', x.packagetype, 'python_version', x.python_version, \
                             'size', x.size, 'sha256', x.sha256, 'md5', x.md5, 'blake2b_256', x.blake2b_256, \
                             'upload_time', x.upload_time, 'url', x.url, 'requires_python', x.requires_python, \
                             'yanked', json(CASE WHEN x.yanked THEN 'true' ELSE 'false' END), \
                             'yanked_reason', x.yanked_reason, 'metadata_sha256', x.metadata_sha256)) FROM \
                         (SELECT ",
                file_columns!(),
                " FROM files f JOIN releases r ON r.id = f.release_id \
                          WHERE r.project_id = p.id ORDER BY f.filename) x), \
                     p.allow_upstream, p.status, p.status_reason \
                 FROM projects p WHERE p.normalized_name = $1"
            ))
            .bind(normalized_name)
            .fetch_optional(pool)
            .await?
        }
        // json_agg keeps each subquery's order; `row_to_json` names the
        // fields after the columns, which are `IndexFile`'s field names.
        Pool::Postgres(pool) => {
            sqlx::query_as(concat!(
                "SELECT p.name, p.normalized_name, p.last_serial, \
                     (SELECT COALESCE(json_agg(v.version), '[]')::TEXT FROM \
                         (SELECT version FROM releases WHERE project_id = p.id ORDER BY sort_key, id) v), \
                     (SELECT COALESCE(json_agg(x), '[]')::TEXT FROM \
                         (SELECT ",
                file_columns!(),
                " FROM files f JOIN releases r ON r.id = f.release_id \
                          WHERE r.project_id = p.id ORDER BY f.filename) x), \
                     p.allow_upstream, p.status, p.status_reason \
                 FROM projects p WHERE p.normalized_name = $1"
            ))
            .bind(normalized_name)
            .fetch_optional(pool)
            .await?
        }
    };
    let Some((name, normalized_name, last_serial, versions, files, allow_upstream, status, status_reason)) = row else {
        return Ok(None);
    };
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    Ok(Some(SimpleProject {
        name,
        normalized_name,
        last_serial,
        versions: serde_json::from_str(&versions).map_err(decode)?,
        files: serde_json::from_str(&files).map_err(decode)?,
        allow_upstream,
        status,
        status_reason,
    }))
}

/// Every file of a project, by filename (the Simple API's order).
pub async fn project_files(db: &Db, project_id: i64) -> Result<Vec<IndexFile>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(concat!(
        "SELECT ",
        file_columns!(),
        " FROM files f JOIN releases r ON r.id = f.release_id WHERE r.project_id = $1 ORDER BY f.filename"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await)
}

/// A file by filename (filenames are unique across the index).
pub async fn file_by_name(db: &Db, filename: &str) -> Result<Option<IndexFile>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(concat!(
        "SELECT ",
        file_columns!(),
        " FROM files f JOIN releases r ON r.id = f.release_id WHERE f.filename = $1"
    ))
    .bind(filename)
    .fetch_optional(pool)
    .await)
}

/// Whether the project's release equal (PEP 440) to `version` has a source
/// distribution already.
pub async fn release_has_sdist(db: &Db, project_id: i64, version: &pep440_rs::Version) -> Result<bool, sqlx::Error> {
    let sort_key = crate::domain::ReleaseVersion::Pep440(version.clone()).sort_key(0);
    each_backend!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM files f JOIN releases r ON r.id = f.release_id \
         WHERE r.project_id = $1 AND r.sort_key = $2 AND f.packagetype = 'sdist')",
    )
    .bind(project_id)
    .bind(sort_key)
    .fetch_one(pool)
    .await)
}

/// Whether `user_id` holds any role on the project.
pub async fn has_role(db: &Db, user_id: i64, project_id: i64) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(ROLE_EXISTS)
        .bind(user_id)
        .bind(project_id)
        .fetch_one(pool)
        .await)
}

/// The one query behind `has_role` and `WriteTx::has_role`.
pub(super) const ROLE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM roles WHERE user_id = $1 AND project_id = $2)";

/// An API token found by its hash: whose it is and what it may touch.
#[derive(Debug, Clone, FromRow)]
pub struct TokenOwner {
    pub token_id: i64,
    pub user_id: i64,
    pub username: String,
    pub project_id: Option<i64>,
    pub token_name: String,
    /// `TokenScopes` in the database's text form.
    pub scopes: String,
    /// When the token was last used (microseconds), if ever.
    pub last_used: Option<i64>,
}

pub async fn token_owner(db: &Db, token_hash: &str) -> Result<Option<TokenOwner>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT t.id AS token_id, t.user_id, u.username, t.project_id, t.name AS token_name, t.scopes, \
                t.last_used \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND NOT u.locked",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await)
}

pub async fn touch_token(db: &Db, token_id: i64, now: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("UPDATE api_tokens SET last_used = $2 WHERE id = $1")
        .bind(token_id)
        .bind(now)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(())
}

/// Records a read with the token when its last use is older than `every`
/// (or unknown): whether it did. Reads of a private index come one per
/// file; a use an hour is what the token's owner needs to know.
pub async fn touch_token_if_older(db: &Db, token_id: i64, now: i64, every: i64) -> Result<bool, sqlx::Error> {
    let done = each_backend!(db, pool => sqlx::query(
        "UPDATE api_tokens SET last_used = $2 WHERE id = $1 AND (last_used IS NULL OR last_used < $3)",
    )
    .bind(token_id)
    .bind(now)
    .bind(now - every)
    .execute(pool)
    .await.map(|done| done.rows_affected()))?;
    Ok(done > 0)
}

pub async fn create_token(
    db: &Db,
    user_id: i64,
    name: &str,
    token_hash: &str,
    project_id: Option<i64>,
    scopes: crate::domain::access::TokenScopes,
    now: i64,
) -> Result<i64, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, project_id, created, scopes) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(project_id)
    .bind(now)
    .bind(scopes.to_db())
    .fetch_one(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub project: Option<String>,
    pub created: i64,
    pub last_used: Option<i64>,
    pub scopes: String,
}

pub async fn tokens(db: &Db, user_id: i64) -> Result<Vec<TokenRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT t.id, t.name, p.name AS project, t.created, t.last_used, t.scopes \
         FROM api_tokens t LEFT JOIN projects p ON p.id = t.project_id \
         WHERE t.user_id = $1 ORDER BY t.created DESC, t.id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// Revokes (deletes) one of the user's tokens. Returns whether it existed.
pub async fn revoke_token(db: &Db, user_id: i64, token_id: i64) -> Result<bool, sqlx::Error> {
    let result = each_backend!(db, pool => sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
        .bind(token_id)
        .bind(user_id)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(result == 1)
}

/// Whether a file of this name was ever deleted (its name is never used again).
pub async fn filename_was_deleted(db: &Db, filename: &str) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_filenames WHERE filename = $1)")
        .bind(filename)
        .fetch_one(pool)
        .await)
}
