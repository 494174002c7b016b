//! What the manage pages and the security history read. The writes are in
//! `write::maintain`, inside write transactions.

use sqlx::FromRow;

use super::Db;

/// The user's role on the project, if any.
pub async fn role(db: &Db, user_id: i64, project_id: i64) -> Result<Option<String>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar("SELECT role FROM roles WHERE user_id = $1 AND project_id = $2")
        .bind(user_id)
        .bind(project_id)
        .fetch_optional(pool)
        .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct ManagedRelease {
    pub id: i64,
    pub version: String,
    pub created: Option<i64>,
    pub yanked: bool,
    pub yanked_reason: Option<String>,
    pub files: i64,
}

/// One page of the project's releases, newest first, and how many it has.
pub async fn releases(
    db: &Db,
    project_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ManagedRelease>, i64), sqlx::Error> {
    // The page size is the code's (`db::with_limit`); the offset is bound.
    let sql = super::with_limit_then(
        "SELECT r.id, r.version, r.created, r.yanked, r.yanked_reason, \
                (SELECT COUNT(*) FROM files f WHERE f.release_id = r.id) AS files \
         FROM releases r WHERE r.project_id = $1 ORDER BY r.sort_key DESC, r.id DESC",
        limit,
        " OFFSET $2",
    );
    let page = each_backend!(db, pool => sqlx::query_as(sql)
    .bind(project_id)
    .bind(offset)
    .fetch_all(pool)
    .await)?;
    let total = each_backend!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM releases WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(pool)
        .await)?;
    Ok((page, total))
}

/// One release by its version as spelled.
pub async fn release(db: &Db, project_id: i64, version: &str) -> Result<Option<ManagedRelease>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT r.id, r.version, r.created, r.yanked, r.yanked_reason, \
                (SELECT COUNT(*) FROM files f WHERE f.release_id = r.id) AS files \
         FROM releases r WHERE r.project_id = $1 AND r.version = $2",
    )
    .bind(project_id)
    .bind(version)
    .fetch_optional(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct ManagedFile {
    pub filename: String,
    pub packagetype: String,
    pub size: i64,
    pub upload_time: i64,
    pub sha256: String,
}

/// The files of one release, by filename.
pub async fn release_files(db: &Db, release_id: i64) -> Result<Vec<ManagedFile>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT filename, packagetype, size, upload_time, sha256 FROM files WHERE release_id = $1 ORDER BY filename",
    )
    .bind(release_id)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct Collaborator {
    pub user_id: i64,
    pub username: String,
    pub role: String,
}

pub async fn collaborators(db: &Db, project_id: i64) -> Result<Vec<Collaborator>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT u.id AS user_id, u.username, r.role FROM roles r JOIN users u ON u.id = r.user_id \
         WHERE r.project_id = $1 ORDER BY r.role DESC, u.username_normalized",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct Invitation {
    pub project_name: String,
    pub normalized_name: String,
    pub username: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub expires: i64,
}

const INVITATIONS: &str = "SELECT p.name AS project_name, p.normalized_name, u.username, i.role, \
         b.username AS invited_by, i.expires FROM role_invitations i \
         JOIN projects p ON p.id = i.project_id JOIN users u ON u.id = i.user_id \
         LEFT JOIN users b ON b.id = i.invited_by";

/// A project's open invitations (expired ones are not shown).
pub async fn project_invitations(db: &Db, project_id: i64, now: i64) -> Result<Vec<Invitation>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{INVITATIONS} WHERE i.project_id = $1 AND i.expires > $2 ORDER BY u.username_normalized"
    )))
    .bind(project_id)
    .bind(now)
    .fetch_all(pool)
    .await)
}

/// Invitations waiting for the user's answer.
pub async fn user_invitations(db: &Db, user_id: i64, now: i64) -> Result<Vec<Invitation>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{INVITATIONS} WHERE i.user_id = $1 AND i.expires > $2 ORDER BY p.normalized_name"
    )))
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct Event {
    pub project_name: Option<String>,
    pub actor: Option<String>,
    pub kind: String,
    pub detail: String,
    pub address: Option<String>,
    pub created: i64,
}

/// The project's security history, newest first.
pub async fn project_events(db: &Db, project_id: i64, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    let sql = super::with_limit(
        "SELECT project_name, actor, kind, detail, address, created FROM security_events \
         WHERE project_id = $1 ORDER BY id DESC",
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql)
    .bind(project_id)
    .fetch_all(pool)
    .await)
}

/// What the account did or had done to it, newest first.
pub async fn account_events(db: &Db, user_id: i64, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    let sql = super::with_limit(
        "SELECT project_name, actor, kind, detail, address, created FROM security_events \
         WHERE id IN (SELECT id FROM security_events WHERE actor_id = $1 \
                      UNION SELECT id FROM security_events WHERE subject_id = $1) \
         ORDER BY id DESC",
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql)
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// Appends one event outside any other write (logins, token creation):
/// one statement, no write transaction (the history moves no counter and
/// no catalogue generation).
pub async fn record(db: &Db, event: &super::write::maintain::NewEvent<'_>, now: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => insert_event!(event, now)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// The storage keys of every file of a quarantined project.
pub async fn quarantined_keys(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(
        "SELECT f.storage_key FROM projects p JOIN releases r ON r.project_id = p.id \
         JOIN files f ON f.release_id = r.id WHERE p.status = 'quarantined' AND f.storage_key IS NOT NULL",
    )
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct UserSummary {
    pub username: String,
    pub name: String,
    pub email: String,
    pub created: i64,
    pub is_admin: bool,
    pub locked: bool,
}

/// Accounts whose username or e-mail address contains `query` (all when
/// empty), by username, at most `limit`.
pub async fn find_users(db: &Db, query: &str, limit: i64) -> Result<Vec<UserSummary>, sqlx::Error> {
    let pattern = super::like_contains(&query.trim().to_lowercase());
    let sql = super::with_limit(
        "SELECT username, name, email, created, is_admin, locked FROM users \
         WHERE username_normalized LIKE $1 ESCAPE '\\' OR email_normalized LIKE $1 ESCAPE '\\' \
         ORDER BY username_normalized",
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql)
    .bind(pattern)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct ProjectSummary {
    pub name: String,
    pub normalized_name: String,
    pub status: String,
}

/// Projects whose normalized name contains `query`, by name, at most `limit`.
pub async fn find_projects(db: &Db, query: &str, limit: i64) -> Result<Vec<ProjectSummary>, sqlx::Error> {
    let pattern = super::like_contains(&crate::domain::normalize_project_name(query.trim()));
    let sql = super::with_limit(
        "SELECT name, normalized_name, status FROM projects WHERE normalized_name LIKE $1 ESCAPE '\\' \
         ORDER BY normalized_name",
        limit,
    );
    each_backend!(db, pool => sqlx::query_as(sql)
    .bind(pattern)
    .fetch_all(pool)
    .await)
}
