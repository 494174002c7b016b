//! Users, sessions, login throttling and roles.

use sqlx::FromRow;

use super::{Backend, Db};

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
    pub username: String,
    pub password_hash: String,
    /// Locked by an administrator: the password is checked, the login refused.
    pub locked: bool,
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
    let result = each_backend!(db, pool => sqlx::query_scalar(
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
    .fetch_one(pool)
    .await);
    match result {
        Ok(id) => {
            db.wrote();
            Ok(id)
        }
        // The unique indexes decide, not a check-then-insert: of concurrent
        // registrations with one e-mail address exactly one succeeds.
        // Which one: PostgreSQL names the constraint, SQLite only says
        // `UNIQUE constraint failed: users.username_normalized`.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let username = match e.constraint() {
                Some(constraint) => constraint == "users_username_normalized_key",
                None => e.message().contains("users.username_normalized"),
            };
            if username {
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
    each_backend!(db, pool => sqlx::query_as(
        "SELECT id, username, password_hash, locked FROM users WHERE username_normalized = $1 OR email_normalized = $1 LIMIT 1",
    )
    .bind(identifier_normalized)
    .fetch_optional(pool)
    .await)
}

pub async fn password_hash(db: &Db, user_id: i64) -> Result<Option<String>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await)
}

pub async fn user(db: &Db, user_id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as("SELECT id, username, name, email, created FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await)
}

pub async fn user_by_username(db: &Db, username_normalized: &str) -> Result<Option<UserRow>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as("SELECT id, username, name, email, created FROM users WHERE username_normalized = $1")
        .bind(username_normalized)
        .fetch_optional(pool)
        .await)
}

#[derive(Debug, Clone, FromRow)]
pub struct UserProject {
    pub name: String,
    pub normalized_name: String,
    pub role: String,
    pub allow_upstream: bool,
}

pub async fn projects_of(db: &Db, user_id: i64) -> Result<Vec<UserProject>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT p.name, p.normalized_name, r.role, p.allow_upstream FROM roles r JOIN projects p \
         ON p.id = r.project_id WHERE r.user_id = $1 ORDER BY p.normalized_name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// One page of a user's projects (by name) and how many they have in all.
pub async fn projects_page(
    db: &Db,
    user_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UserProject>, i64), sqlx::Error> {
    // The page size is the code's (`db::with_limit`); the offset is bound.
    let sql = super::with_limit_then(
        "SELECT p.name, p.normalized_name, r.role, p.allow_upstream FROM roles r JOIN projects p \
         ON p.id = r.project_id WHERE r.user_id = $1 ORDER BY p.normalized_name",
        limit,
        " OFFSET $2",
    );
    let projects = each_backend!(db, pool => sqlx::query_as(sql)
    .bind(user_id)
    .bind(offset)
    .fetch_all(pool)
    .await)?;
    let total = each_backend!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await)?;
    Ok((projects, total))
}

/// The id of the project named `normalized_name` if `user_id` holds a role on it.
pub async fn own_project_id(db: &Db, user_id: i64, normalized_name: &str) -> Result<Option<i64>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_scalar(
        "SELECT p.id FROM roles r JOIN projects p ON p.id = r.project_id \
         WHERE r.user_id = $1 AND p.normalized_name = $2",
    )
    .bind(user_id)
    .bind(normalized_name)
    .fetch_optional(pool)
    .await)
}

/// Replaces a user's password and ends every other session of theirs.
pub async fn set_password(db: &Db, user_id: i64, hash: &str, keep_token_hash: &str) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => {
        let mut tx = pool.begin().await?;
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
    })
}

// ---- sessions ----

pub async fn create_session(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires: i64,
) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("INSERT INTO sessions (token_hash, user_id, created, last_seen, expires) VALUES ($1, $2, $3, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionUser {
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub last_seen: i64,
    /// A site administrator.
    pub is_admin: bool,
}

/// The user of a live (unexpired) session.
pub async fn session_user(db: &Db, token_hash: &str, now: i64) -> Result<Option<SessionUser>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT s.user_id, u.username, u.name, s.last_seen, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires > $2 AND NOT u.locked",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// Sliding expiry: a session in use stays alive.
pub async fn touch_session(db: &Db, token_hash: &str, now: i64, expires: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("UPDATE sessions SET last_seen = $2, expires = $3 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(now)
        .bind(expires)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(())
}

pub async fn delete_expired_sessions(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        each_backend!(db, pool => sqlx::query("DELETE FROM sessions WHERE expires <= $1")
        .bind(now)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?,
    )
}

// ---- throttling (logins, sign-ups) ----

/// Counts one attempt against each of `keys` (each with its limit), in one
/// write transaction and before the attempt is checked, so that
/// concurrent attempts are counted one after another and never all see
/// the same old count. When any key is locked at `now`, nothing is counted
/// and the latest lock is returned: the attempt must be refused unchecked.
/// Otherwise every key's count goes up (a new window starts after
/// `window`), and the attempt that reaches a key's limit locks it for
/// `lock_for(count, limit)` at once, before its own outcome is known.
pub async fn count_attempt(
    db: &Db,
    keys: &[(&str, i64)],
    now: i64,
    window: i64,
    lock_for: fn(i64, i64) -> Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    let postgres = db.backend() == Backend::Postgres;
    each_backend!(db, pool => {
    // SQLite: `BEGIN IMMEDIATE` takes the database's write lock at once.
    // PostgreSQL: each key's row is made if missing and locked, in key
    // order (so two attempts never wait for each other in a cycle).
    let mut tx = pool.begin_with(if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" }).await?;
    if postgres {
        let mut ordered: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
        ordered.sort_unstable();
        for key in ordered {
            sqlx::query(
                "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 0, $2, 0) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("SELECT key FROM login_throttle WHERE key = $1 FOR UPDATE")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut rows = Vec::with_capacity(keys.len());
    let mut locked = None;
    for (key, _) in keys {
        let row: Option<(i64, i64, i64)> =
            sqlx::query_as("SELECT failures, window_start, locked_until FROM login_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((_, _, until)) = row
            && until > now
        {
            locked = locked.max(Some(until));
        }
        rows.push(row);
    }
    if locked.is_some() {
        tx.rollback().await?;
        return Ok(locked);
    }
    for ((key, limit), row) in keys.iter().zip(rows) {
        let (count, window_start) = match row {
            Some((failures, start, _)) if start > now - window => (failures + 1, start),
            _ => (1, now),
        };
        let until = lock_for(count, *limit).map_or(0, |lock| now + lock);
        sqlx::query(
            "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, \
                 locked_until = excluded.locked_until",
        )
        .bind(key)
        .bind(count)
        .bind(window_start)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(None)
    })
}

/// Takes back one counted attempt that turned out to be good (a correct
/// password): the count goes down by one, and a lock that this attempt set
/// (the count now under the limit) is lifted.
pub async fn forgive_attempt(db: &Db, key: &str, limit: i64) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query(
        "UPDATE login_throttle SET failures = failures - 1, \
             locked_until = CASE WHEN failures - 1 < $2 THEN 0 ELSE locked_until END \
         WHERE key = $1 AND failures > 0",
    )
    .bind(key)
    .bind(limit)
    .execute(pool)
    .await.map(|done| done.rows_affected()))?;
    Ok(())
}

/// Forgets every attempt against `key` (an account after a good login).
pub async fn clear_attempts(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    each_backend!(db, pool => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    Ok(())
}

/// Whether a username or an e-mail address is taken already (a cheap check
/// before hashing a password; the unique indexes still decide).
pub async fn taken(db: &Db, username_normalized: &str, email_normalized: &str) -> Result<(bool, bool), sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username_normalized = $1), \
                EXISTS (SELECT 1 FROM users WHERE email_normalized = $2)",
    )
    .bind(username_normalized)
    .bind(email_normalized)
    .fetch_one(pool)
    .await)
}

/// Sets `is_admin` (or `locked`) of a user; `false` if it was so already.
/// Locking also ends the user's sessions.
pub async fn set_flag(db: &Db, user_id: i64, admin: bool, on: bool) -> Result<bool, sqlx::Error> {
    let sql = if admin {
        "UPDATE users SET is_admin = $2 WHERE id = $1 AND is_admin <> $2"
    } else {
        "UPDATE users SET locked = $2 WHERE id = $1 AND locked <> $2"
    };
    let changed = each_backend!(db, pool => sqlx::query(sql)
        .bind(user_id)
        .bind(on)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
    if !admin && on {
        each_backend!(db, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(pool)
            .await.map(|done| done.rows_affected()))?;
    }
    Ok(changed > 0)
}
