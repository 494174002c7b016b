//! Users, sessions, login throttling and roles.

use sqlx::FromRow;

use super::Db;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub created: i64,
}

/// A user with their password hash, for verifying a login. Not `Debug`:
/// the hash is a secret too.
#[derive(FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_normalized: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub password_hash: &'a str,
    pub created: i64,
}

/// Why a user could not be created.
#[derive(Debug)]
pub enum CreateUserError {
    UsernameTaken,
    EmailTaken,
    Db(sqlx::Error),
}

pub async fn create_user(db: &Db, user: &NewUser<'_>) -> Result<i64, CreateUserError> {
    let result = sqlx::query_scalar(
        "INSERT INTO users (username, username_normalized, name, email, email_normalized, password_hash, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user.username)
    .bind(user.username_normalized)
    .bind(user.name)
    .bind(user.email)
    .bind(user.email_normalized)
    .bind(user.password_hash)
    .bind(user.created)
    .fetch_one(db.pool())
    .await;
    match result {
        Ok(id) => Ok(id),
        // The unique indexes decide, not a check-then-insert: of concurrent
        // registrations with one e-mail address exactly one succeeds.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            if e.message().contains("username") {
                Err(CreateUserError::UsernameTaken)
            } else {
                Err(CreateUserError::EmailTaken)
            }
        }
        Err(e) => Err(CreateUserError::Db(e)),
    }
}

/// Credentials by username or e-mail address (normalized).
pub async fn credentials(db: &Db, identifier_normalized: &str) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, password_hash FROM users WHERE username_normalized = $1 OR email_normalized = $1 LIMIT 1",
    )
    .bind(identifier_normalized)
    .fetch_optional(db.pool())
    .await
}

pub async fn password_hash(db: &Db, user_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await
}

pub async fn user(db: &Db, user_id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, name, email, created FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await
}

pub async fn user_by_username(db: &Db, username_normalized: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, name, email, created FROM users WHERE username_normalized = $1")
        .bind(username_normalized)
        .fetch_optional(db.pool())
        .await
}

#[derive(Debug, Clone, FromRow)]
pub struct UserProject {
    pub name: String,
    pub normalized_name: String,
    pub role: String,
}

pub async fn projects_of(db: &Db, user_id: i64) -> Result<Vec<UserProject>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.name, p.normalized_name, r.role FROM roles r JOIN projects p ON p.id = r.project_id \
         WHERE r.user_id = $1 ORDER BY p.normalized_name",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await
}

/// The id of the project named `normalized_name` if `user_id` holds a role on it.
pub async fn own_project_id(db: &Db, user_id: i64, normalized_name: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT p.id FROM roles r JOIN projects p ON p.id = r.project_id \
         WHERE r.user_id = $1 AND p.normalized_name = $2",
    )
    .bind(user_id)
    .bind(normalized_name)
    .fetch_optional(db.pool())
    .await
}

/// Replaces a user's password and ends every other session of theirs.
pub async fn set_password(db: &Db, user_id: i64, hash: &str, keep_token_hash: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep_token_hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

// ---- sessions ----

pub async fn create_session(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created, last_seen, expires) VALUES ($1, $2, $3, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires)
        .execute(db.pool())
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionUser {
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub last_seen: i64,
}

/// The user of a live (unexpired) session.
pub async fn session_user(db: &Db, token_hash: &str, now: i64) -> Result<Option<SessionUser>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.user_id, u.username, u.name, s.last_seen FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db.pool())
    .await
}

/// Sliding expiry: a session in use stays alive.
pub async fn touch_session(db: &Db, token_hash: &str, now: i64, expires: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen = $2, expires = $3 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(now)
        .bind(expires)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_expired_sessions(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires <= $1")
        .bind(now)
        .execute(db.pool())
        .await?
        .rows_affected())
}

// ---- login throttling ----

/// The latest lock among `keys`, if any is still locked at `now`.
pub async fn locked_until(db: &Db, keys: &[&str], now: i64) -> Result<Option<i64>, sqlx::Error> {
    let mut latest = None;
    for key in keys {
        let until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2")
                .bind(key)
                .bind(now)
                .fetch_optional(db.pool())
                .await?;
        latest = latest.max(until);
    }
    Ok(latest)
}

/// Counts a failed login for `key` within a window and returns the number
/// of failures in the current window.
pub async fn record_failure(db: &Db, key: &str, now: i64, window: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN login_throttle.window_start <= $2 - $3 THEN 1 ELSE login_throttle.failures + 1 END, \
             window_start = CASE WHEN login_throttle.window_start <= $2 - $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(window)
    .fetch_one(db.pool())
    .await
}

pub async fn lock(db: &Db, key: &str, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE login_throttle SET locked_until = $2 WHERE key = $1")
        .bind(key)
        .bind(until)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn clear_failures(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}
