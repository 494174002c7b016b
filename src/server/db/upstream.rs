//! The pull-through cache's tables (migration `*_upstream.sql`): link lists
//! of upstream projects, and the upstream files kept in storage. A cache,
//! not a table of record: `cheeseshop copy` leaves it out, and anything in
//! it can be fetched again.

use sqlx::FromRow;

use super::Db;

/// A cached answer of the upstream for one project.
#[derive(Debug, Clone, FromRow)]
pub struct CachedProject {
    pub found: bool,
    pub upstream: String,
    /// `upstream::Listing` as JSON (`{}` for a remembered 404).
    pub listing: String,
    pub etag: Option<String>,
    pub fetched_at: i64,
}

pub async fn cached_project(db: &Db, normalized: &str) -> Result<Option<CachedProject>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT found, upstream, listing, etag, fetched_at FROM upstream_projects WHERE normalized_name = $1",
    )
    .bind(normalized)
    .fetch_optional(pool)
    .await)
}

/// Stores (or replaces) the upstream's answer for a project.
pub async fn store_project(db: &Db, normalized: &str, answer: &CachedProject) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "INSERT INTO upstream_projects (normalized_name, found, upstream, listing, etag, fetched_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (normalized_name) DO UPDATE SET found = excluded.found, upstream = excluded.upstream, \
         listing = excluded.listing, etag = excluded.etag, fetched_at = excluded.fetched_at",
    )
    .bind(normalized)
    .bind(answer.found)
    .bind(&answer.upstream)
    .bind(&answer.listing)
    .bind(&answer.etag)
    .bind(answer.fetched_at)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// Forgets remembered 404s older than `before` (Unix seconds).
pub async fn forget_missing_before(db: &Db, before: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "DELETE FROM upstream_projects WHERE NOT found AND fetched_at < $1",
    )
    .bind(before)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// The upstream said "not modified": the cached list is current again.
pub async fn touch_project(db: &Db, normalized: &str, fetched_at: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "UPDATE upstream_projects SET fetched_at = $2 WHERE normalized_name = $1",
    )
    .bind(normalized)
    .bind(fetched_at)
    .execute(pool)
    .await
    .map(|_| ()))
}

#[derive(Debug, Clone, FromRow)]
pub struct StoredFile {
    pub sha256: String,
    pub filename: String,
    pub storage_key: String,
    pub size: i64,
    pub last_used: i64,
}

/// Where a verified upstream file is kept, if it is.
pub async fn stored_file(db: &Db, sha256: &str, filename: &str) -> Result<Option<StoredFile>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT sha256, filename, storage_key, size, last_used FROM upstream_files \
         WHERE sha256 = $1 AND filename = $2",
    )
    .bind(sha256)
    .bind(filename)
    .fetch_optional(pool)
    .await)
}

/// Records a verified file once it is in storage. Idempotent: the key is
/// the content's, so a second instance storing the same file agrees.
pub async fn record_file(
    db: &Db,
    sha256: &str,
    filename: &str,
    normalized: &str,
    storage_key: &str,
    size: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "INSERT INTO upstream_files (sha256, filename, normalized_name, storage_key, size, stored_at, last_used) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (sha256, filename) DO NOTHING",
    )
    .bind(sha256)
    .bind(filename)
    .bind(normalized)
    .bind(storage_key)
    .bind(size)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// Marks a stored file as used now.
pub async fn touch_file(db: &Db, sha256: &str, filename: &str, now: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "UPDATE upstream_files SET last_used = $3 WHERE sha256 = $1 AND filename = $2",
    )
    .bind(sha256)
    .bind(filename)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// Projects cached (with a list, and remembered 404s), files stored, and
/// their bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow)]
pub struct CacheStats {
    pub projects: i64,
    pub missing: i64,
    pub files: i64,
    pub bytes: i64,
}

pub async fn stats(db: &Db) -> Result<CacheStats, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM upstream_projects WHERE found) AS projects, \
           (SELECT COUNT(*) FROM upstream_projects WHERE NOT found) AS missing, \
           (SELECT COUNT(*) FROM upstream_files) AS files, \
           (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM upstream_files) AS bytes",
    )
    .fetch_one(pool)
    .await)
}

/// The least recently used stored files, oldest first.
pub async fn least_recently_used(db: &Db, limit: i64) -> Result<Vec<StoredFile>, sqlx::Error> {
    let sql = super::with_limit(
        "SELECT sha256, filename, storage_key, size, last_used FROM upstream_files \
         ORDER BY last_used, sha256, filename",
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql)
    .fetch_all(pool)
    .await)
}

/// A project's stored files.
pub async fn files_of(db: &Db, normalized: &str) -> Result<Vec<StoredFile>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT sha256, filename, storage_key, size, last_used FROM upstream_files WHERE normalized_name = $1",
    )
    .bind(normalized)
    .fetch_all(pool)
    .await)
}

/// Forgets a stored file, if it was not used since `last_used`. Returns
/// whether the row went (and the object may go, once nothing else refers
/// to its key).
pub async fn forget_file(db: &Db, file: &StoredFile) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "DELETE FROM upstream_files WHERE sha256 = $1 AND filename = $2 AND last_used = $3",
    )
    .bind(&file.sha256)
    .bind(&file.filename)
    .bind(file.last_used)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() > 0))
}

/// Whether any row (an uploaded file, or an upstream file) still refers to
/// the storage key.
pub async fn key_in_use(db: &Db, key: &str) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM files WHERE storage_key = $1) \
             OR EXISTS (SELECT 1 FROM upstream_files WHERE storage_key = $1)",
    )
    .bind(key)
    .fetch_one(pool)
    .await)
}

/// Forgets a project's cached list (its files are forgotten one by one).
pub async fn forget_project(db: &Db, normalized: &str) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query("DELETE FROM upstream_projects WHERE normalized_name = $1")
        .bind(normalized)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() > 0))
}

/// A cached JSON API document of an upstream project.
#[derive(Debug, Clone, FromRow)]
pub struct CachedDocument {
    pub document: Option<String>,
    pub etag: Option<String>,
    pub fetched_at: i64,
}

pub async fn cached_document(db: &Db, normalized: &str) -> Result<Option<CachedDocument>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT document, etag, fetched_at FROM upstream_documents WHERE normalized_name = $1",
    )
    .bind(normalized)
    .fetch_optional(pool)
    .await)
}

pub async fn store_document(db: &Db, normalized: &str, document: &CachedDocument) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "INSERT INTO upstream_documents (normalized_name, document, etag, fetched_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (normalized_name) DO UPDATE SET document = excluded.document, etag = excluded.etag, \
         fetched_at = excluded.fetched_at",
    )
    .bind(normalized)
    .bind(&document.document)
    .bind(&document.etag)
    .bind(document.fetched_at)
    .execute(pool)
    .await
    .map(|_| ()))
}

pub async fn forget_document(db: &Db, normalized: &str) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("DELETE FROM upstream_documents WHERE normalized_name = $1")
        .bind(normalized)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// Lets (or stops) the upstream's releases be served beside a local
/// project's: only by one of its owners. Returns whether the project was
/// theirs.
pub async fn set_allow_upstream(db: &Db, user_id: i64, normalized: &str, allow: bool) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "UPDATE projects SET allow_upstream = $3 WHERE normalized_name = $2 AND id IN \
         (SELECT project_id FROM roles WHERE user_id = $1 AND role = 'Owner')",
    )
    .bind(user_id)
    .bind(normalized)
    .bind(allow)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() > 0))
}

/// Whether an administrator reserved the name.
pub async fn is_reserved(db: &Db, normalized: &str) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reserved_names WHERE normalized_name = $1)",
    )
    .bind(normalized)
    .fetch_one(pool)
    .await)
}

/// Reserves a name, in a write transaction of its own (see
/// [`WriteTx::reserve_name`](super::write::WriteTx::reserve_name)).
pub async fn reserve(db: &Db, normalized: &str, now: i64) -> Result<super::write::maintain::Reserved, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let reserved = tx.reserve_name(normalized, now).await?;
    tx.commit().await?;
    Ok(reserved)
}

/// Releases a reserved name; true if it was reserved.
pub async fn release_name(db: &Db, normalized: &str) -> Result<bool, sqlx::Error> {
    each_backend!(db, pool => sqlx::query("DELETE FROM reserved_names WHERE normalized_name = $1")
        .bind(normalized)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() > 0))
}

pub async fn reserved_names(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(
        "SELECT normalized_name FROM reserved_names ORDER BY normalized_name",
    )
    .fetch_all(pool)
    .await)
}

/// A cached upstream project as search shows it: its name, and the
/// summary and version of its cached JSON API document when there is one.
#[derive(Debug, Clone, FromRow)]
pub struct CachedHit {
    pub normalized_name: String,
    pub summary: Option<String>,
    pub version: Option<String>,
}

/// Cached upstream projects (found upstream, not local, not reserved)
/// whose name contains `needle` (a PEP 503 normalized fragment), the
/// exact name first, then shorter names, at most `limit`.
pub async fn search_cached(db: &Db, needle: &str, limit: i64) -> Result<Vec<CachedHit>, sqlx::Error> {
    let pattern = super::like_contains(needle);
    // The names first (a few), then the documents of just those: a
    // document is parsed only for a row that is shown.
    const NAMES: &str = "WITH n AS (SELECT u.normalized_name, u.normalized_name = $2 AS exact FROM upstream_projects u \
         WHERE u.found AND u.normalized_name LIKE $1 ESCAPE '\\' \
           AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.normalized_name = u.normalized_name) \
           AND NOT EXISTS (SELECT 1 FROM reserved_names r WHERE r.normalized_name = u.normalized_name) \
         ORDER BY exact DESC, length(u.normalized_name), u.normalized_name";
    // The rest of the statement, after the names' limit.
    macro_rules! cached_documents {
        ($summary:literal, $version:literal, $document:literal) => {
            concat!(
                ") SELECT n.normalized_name, ",
                $summary,
                " AS summary, ",
                $version,
                " AS version FROM n LEFT JOIN upstream_documents d ON d.normalized_name = n.normalized_name AND ",
                $document,
                " ORDER BY n.exact DESC, length(n.normalized_name), n.normalized_name"
            )
        };
    }
    let documents = match db.pool() {
        super::Pool::Sqlite(_) => cached_documents!(
            "json_extract(d.document, '$.info.summary')",
            "json_extract(d.document, '$.info.version')",
            "json_valid(d.document)"
        ),
        super::Pool::Postgres(_) => cached_documents!(
            "d.document::json -> 'info' ->> 'summary'",
            "d.document::json -> 'info' ->> 'version'",
            "d.document IS NOT NULL"
        ),
    };
    // The limit is the search's (`db::with_limit`).
    let sql = super::with_limit_then(NAMES, limit, documents);
    each_backend!(db, pool => sqlx::query_as(sql)
        .bind(&pattern)
        .bind(needle)
        .fetch_all(pool)
        .await)
}
