//! Maintainers' writes: yanks, deletions, collaborators, status, and the
//! security history they leave. Each runs inside a [`WriteTx`] that first
//! locks the project's row (see [`WriteTx::lock_project`]), so that every
//! change to one project, uploads included, happens one after another and
//! the rules checked inside the transaction (the last owner, a filename
//! never used again) still hold when it commits.

use super::{Tx, WriteTx};

/// A project as a maintainer's transaction sees it, locked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockedProject {
    pub id: i64,
    pub name: String,
    pub normalized_name: String,
    pub status: String,
}

/// What a deletion leaves for after the commit: the storage objects its
/// rows referred to (each is deleted only if no row refers to it then).
#[derive(Debug, Default)]
pub struct Deleted {
    pub files: u64,
    pub storage_keys: Vec<String>,
}

/// One entry of the security history.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub project: Option<(i64, &'a str)>,
    pub actor: Option<(i64, &'a str)>,
    pub subject_id: Option<i64>,
    pub kind: &'a str,
    pub detail: String,
    pub address: Option<String>,
}

/// Which of a project's files a deletion takes.
#[derive(Clone, Copy)]
enum Which<'a> {
    File(&'a str),
    Release(&'a str),
    All,
}

/// What reserving a name found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// The name was not reserved before.
    pub newly: bool,
    /// A project of that name exists: it keeps its releases and uploads;
    /// the reservation stops only new projects (and the upstream indexes).
    pub project_exists: bool,
}

/// Namespaces the advisory locks on project names (PostgreSQL) from any
/// other advisory lock in the database.
const NAME_LOCK_SEED: i64 = 0x6368_6565_7365;

/// An invitation could not be made.
#[derive(Debug, PartialEq, Eq)]
pub enum InviteRefused {
    /// The user has a role on the project already.
    AlreadyCollaborator,
}

impl WriteTx {
    /// Locks the project's row until the transaction ends and returns it
    /// (`None`: there is no such project). On PostgreSQL the lock is
    /// `NO KEY UPDATE`: uploads take it too, before they insert anything
    /// (see `upload::write_rows`), so writers of one project queue on this
    /// one row and never hold a lock another of them waits for. SQLite's
    /// writers are serialized by `BEGIN IMMEDIATE` already.
    pub async fn lock_project(&mut self, normalized_name: &str) -> Result<Option<LockedProject>, sqlx::Error> {
        match &mut self.tx {
            Tx::Postgres(tx) => {
                sqlx::query_as(
                    "SELECT id, name, normalized_name, status FROM projects WHERE normalized_name = $1 \
                     FOR NO KEY UPDATE",
                )
                .bind(normalized_name)
                .fetch_optional(&mut **tx)
                .await
            }
            Tx::Sqlite(tx) => {
                sqlx::query_as("SELECT id, name, normalized_name, status FROM projects WHERE normalized_name = $1")
                    .bind(normalized_name)
                    .fetch_optional(&mut **tx)
                    .await
            }
        }
    }

    /// The same by id, for the upload path (which knows the id).
    pub async fn lock_project_id(&mut self, project_id: i64) -> Result<Option<LockedProject>, sqlx::Error> {
        match &mut self.tx {
            Tx::Postgres(tx) => {
                sqlx::query_as("SELECT id, name, normalized_name, status FROM projects WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(project_id)
                    .fetch_optional(&mut **tx)
                    .await
            }
            Tx::Sqlite(tx) => {
                sqlx::query_as("SELECT id, name, normalized_name, status FROM projects WHERE id = $1")
                    .bind(project_id)
                    .fetch_optional(&mut **tx)
                    .await
            }
        }
    }

    /// The user's role on the project, if any.
    pub async fn role_of(&mut self, user_id: i64, project_id: i64) -> Result<Option<String>, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar("SELECT role FROM roles WHERE user_id = $1 AND project_id = $2")
            .bind(user_id)
            .bind(project_id)
            .fetch_optional(&mut *conn)
            .await)
    }

    /// Yanks (with an optional reason) or un-yanks the release `version`
    /// exactly as it is spelled; `false` if the project has no such release.
    pub async fn set_yanked(
        &mut self,
        project_id: i64,
        version: &str,
        yanked: bool,
        reason: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let reason = if yanked { reason } else { None };
        let changed = each_tx!(self.tx, conn => sqlx::query(
            "UPDATE releases SET yanked = $3, yanked_reason = $4 WHERE project_id = $1 AND version = $2",
        )
        .bind(project_id)
        .bind(version)
        .bind(yanked)
        .bind(reason)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected()))?;
        Ok(changed > 0)
    }

    /// Serializes the transactions that create a project of this name with
    /// those that reserve it, until the transaction ends. Without it, on
    /// PostgreSQL, an upload creating the project and an administrator
    /// reserving the name could each miss the other's uncommitted row and
    /// both commit. SQLite's writers are serialized by `BEGIN IMMEDIATE`.
    async fn lock_name(&mut self, normalized_name: &str) -> Result<(), sqlx::Error> {
        match &mut self.tx {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(tx) => sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
                .bind(normalized_name)
                .bind(NAME_LOCK_SEED)
                .execute(&mut **tx)
                .await
                .map(drop),
        }
    }

    /// Whether the name is reserved, asked by a transaction that has just
    /// created a project of that name (it rolls back if so). The check reads
    /// after the name's lock is held, so a reservation either committed
    /// before it (and is seen) or waits for this transaction to end (and
    /// finds the project).
    pub async fn name_is_reserved(&mut self, normalized_name: &str) -> Result<bool, sqlx::Error> {
        self.lock_name(normalized_name).await?;
        each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM reserved_names WHERE normalized_name = $1)",
        )
        .bind(normalized_name)
        .fetch_one(&mut *conn)
        .await)
    }

    /// Reserves a name: no new project may take it, nor may an upstream
    /// index serve it. Says whether it was new, and whether a project of the
    /// name exists (decided under the name's lock, see
    /// [`WriteTx::name_is_reserved`]).
    pub async fn reserve_name(&mut self, normalized_name: &str, now: i64) -> Result<Reserved, sqlx::Error> {
        self.lock_name(normalized_name).await?;
        let newly = each_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO reserved_names (normalized_name, reserved_at) VALUES ($1, $2) \
             ON CONFLICT (normalized_name) DO NOTHING",
        )
        .bind(normalized_name)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected() > 0))?;
        let project_exists = each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM projects WHERE normalized_name = $1)",
        )
        .bind(normalized_name)
        .fetch_one(&mut *conn)
        .await)?;
        Ok(Reserved { newly, project_exists })
    }

    /// Whether a file of this name was ever deleted.
    pub async fn filename_was_deleted(&mut self, filename: &str) -> Result<bool, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_filenames WHERE filename = $1)")
            .bind(filename)
            .fetch_one(&mut *conn)
            .await)
    }

    /// Before the project's files that `which` selects are deleted: their
    /// filenames go into `deleted_filenames` (no upload may use them again)
    /// in one statement, and their storage keys come back, to be removed
    /// after the commit.
    async fn bury_files(&mut self, project_id: i64, which: Which<'_>, now: i64) -> Result<Deleted, sqlx::Error> {
        macro_rules! of_project {
            ($head:literal, $filter:literal, $tail:literal) => {
                concat!(
                    $head,
                    " FROM files f JOIN releases r ON r.id = f.release_id WHERE r.project_id = $1 AND ",
                    $filter,
                    $tail
                )
            };
        }
        macro_rules! both {
            ($filter:literal) => {
                (
                    of_project!("SELECT f.storage_key, f.metadata_sha256", $filter, ""),
                    of_project!(
                        "INSERT INTO deleted_filenames (filename, deleted) SELECT f.filename, $3",
                        $filter,
                        " ON CONFLICT (filename) DO NOTHING"
                    ),
                )
            };
        }
        let ((select, bury), value) = match which {
            Which::File(name) => (both!("f.filename = $2"), name),
            Which::Release(version) => (both!("r.version = $2"), version),
            Which::All => (both!("$2 = ''"), ""),
        };
        let rows: Vec<(Option<String>, Option<String>)> = each_tx!(self.tx, conn => sqlx::query_as(select)
            .bind(project_id)
            .bind(value)
            .fetch_all(&mut *conn)
            .await)?;
        each_tx!(self.tx, conn => sqlx::query(bury)
            .bind(project_id)
            .bind(value)
            .bind(now)
            .execute(&mut *conn)
            .await.map(drop))?;
        let mut deleted = Deleted {
            files: rows.len() as u64,
            storage_keys: Vec::new(),
        };
        for (key, metadata) in rows {
            if let Some(key) = key {
                if metadata.is_some() {
                    deleted.storage_keys.push(format!("{key}.metadata"));
                }
                deleted.storage_keys.push(key);
            }
        }
        Ok(deleted)
    }

    /// Deletes one file of the project; `None` if it has no such file.
    pub async fn delete_file(
        &mut self,
        project_id: i64,
        filename: &str,
        now: i64,
    ) -> Result<Option<Deleted>, sqlx::Error> {
        let deleted = self.bury_files(project_id, Which::File(filename), now).await?;
        if deleted.files == 0 {
            return Ok(None);
        }
        each_tx!(self.tx, conn => sqlx::query("DELETE FROM files WHERE filename = $1")
            .bind(filename)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        self.refresh_project(project_id).await?;
        Ok(Some(deleted))
    }

    /// Deletes a release with its files and metadata; `None` if the project
    /// has no such release.
    pub async fn delete_release(
        &mut self,
        project_id: i64,
        version: &str,
        now: i64,
    ) -> Result<Option<Deleted>, sqlx::Error> {
        let exists: bool = each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM releases WHERE project_id = $1 AND version = $2)",
        )
        .bind(project_id)
        .bind(version)
        .fetch_one(&mut *conn)
        .await)?;
        if !exists {
            return Ok(None);
        }
        let deleted = self.bury_files(project_id, Which::Release(version), now).await?;
        each_tx!(self.tx, conn => sqlx::query("DELETE FROM releases WHERE project_id = $1 AND version = $2")
            .bind(project_id)
            .bind(version)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        self.refresh_project(project_id).await?;
        Ok(Some(deleted))
    }

    /// Deletes the project and everything of it (releases, files, roles,
    /// invitations, tokens scoped to it). Its security history stays.
    pub async fn delete_project(&mut self, project_id: i64, now: i64) -> Result<Deleted, sqlx::Error> {
        let deleted = self.bury_files(project_id, Which::All, now).await?;
        each_tx!(self.tx, conn => sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(project_id)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        Ok(deleted)
    }

    /// Invites `user_id` to `role`, replacing an open invitation of theirs.
    pub async fn invite(
        &mut self,
        project_id: i64,
        user_id: i64,
        role: &str,
        invited_by: i64,
        now: i64,
        expires: i64,
    ) -> Result<Result<(), InviteRefused>, sqlx::Error> {
        if self.role_of(user_id, project_id).await?.is_some() {
            return Ok(Err(InviteRefused::AlreadyCollaborator));
        }
        each_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO role_invitations (project_id, user_id, role, invited_by, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role, invited_by = excluded.invited_by, \
                 created = excluded.created, expires = excluded.expires",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(role)
        .bind(invited_by)
        .bind(now)
        .bind(expires)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected()))?;
        Ok(Ok(()))
    }

    /// Takes (deletes) the user's invitation to the project and returns its
    /// role if it had not expired.
    pub async fn take_invitation(
        &mut self,
        project_id: i64,
        user_id: i64,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let taken: Option<(String, i64)> = each_tx!(self.tx, conn => sqlx::query_as(
            "DELETE FROM role_invitations WHERE project_id = $1 AND user_id = $2 RETURNING role, expires",
        )
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(taken.filter(|(_, expires)| *expires > now).map(|(role, _)| role))
    }

    /// Withdraws an invitation; `false` if there was none.
    pub async fn cancel_invitation(&mut self, project_id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
        let done = each_tx!(self.tx, conn => sqlx::query("DELETE FROM role_invitations WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        Ok(done > 0)
    }

    /// Gives the user `role` (replacing another); `false` if they had none
    /// and `only_existing`.
    pub async fn set_role(
        &mut self,
        project_id: i64,
        user_id: i64,
        role: &str,
        only_existing: bool,
    ) -> Result<bool, sqlx::Error> {
        let sql = if only_existing {
            "UPDATE roles SET role = $3 WHERE project_id = $1 AND user_id = $2"
        } else {
            "INSERT INTO roles (project_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, project_id) DO UPDATE SET role = excluded.role"
        };
        let done = each_tx!(self.tx, conn => sqlx::query(sql)
            .bind(project_id)
            .bind(user_id)
            .bind(role)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        Ok(done > 0)
    }

    /// Takes the user's role away; `false` if they had none. Their tokens
    /// scoped to the project go with it.
    pub async fn remove_role(&mut self, project_id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
        let done = each_tx!(self.tx, conn => sqlx::query("DELETE FROM roles WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        if done > 0 {
            each_tx!(self.tx, conn => sqlx::query("DELETE FROM api_tokens WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .execute(&mut *conn)
                .await.map(|done| done.rows_affected()))?;
        }
        Ok(done > 0)
    }

    /// Owners the project has (inside this transaction).
    pub async fn owner_count(&mut self, project_id: i64) -> Result<i64, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE project_id = $1 AND role = 'Owner'")
            .bind(project_id)
            .fetch_one(&mut *conn)
            .await)
    }

    pub async fn set_status(&mut self, project_id: i64, status: &str, reason: Option<&str>) -> Result<(), sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query("UPDATE projects SET status = $2, status_reason = $3 WHERE id = $1")
            .bind(project_id)
            .bind(status)
            .bind(reason)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Appends to the security history.
    pub async fn record(&mut self, event: &NewEvent<'_>, now: i64) -> Result<(), sqlx::Error> {
        each_tx!(self.tx, conn => insert_event!(event, now)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        Ok(())
    }
}
