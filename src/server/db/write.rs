//! The write path: one transaction per unit of work (an imported document, a
//! batch of demo projects, later an upload), ending with a refresh of the
//! denormalized project columns so readers see a consistent project.

use sqlx::{Postgres, Sqlite, Transaction};

use super::{Db, Pool};

pub struct NewRelease<'a> {
    pub version: &'a str,
    pub sort_key: &'a str,
    pub is_prerelease: bool,
    pub is_legacy: bool,
    pub created: Option<i64>,
    pub yanked: bool,
    pub yanked_reason: Option<&'a str>,
}

#[derive(Debug, Default, Clone)]
pub struct ReleaseMetadata {
    pub summary: String,
    pub description: String,
    pub description_content_type: String,
    pub author: String,
    pub author_email: String,
    pub maintainer: String,
    pub maintainer_email: String,
    pub license: String,
    pub keywords: String,
    pub home_page: String,
    pub download_url: String,
    pub docs_url: String,
    pub platform: String,
    pub requires_python: String,
    /// JSON `[["label", "url"], ...]`
    pub project_urls_json: String,
    /// JSON array of strings
    pub classifiers_json: String,
    /// JSON array of strings
    pub requires_dist_json: String,
    /// The description rendered and sanitized (see `server::render`).
    pub description_html: String,
}

pub struct NewFile<'a> {
    pub filename: &'a str,
    pub packagetype: &'a str,
    pub python_version: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub md5: Option<&'a str>,
    pub blake2b_256: Option<&'a str>,
    pub upload_time: i64,
    pub url: &'a str,
    pub requires_python: Option<&'a str>,
    pub yanked: bool,
    /// Uploaded files: where the bytes are in our storage.
    pub storage_key: Option<&'a str>,
    /// Uploaded wheels: SHA-256 of their METADATA (PEP 658), stored beside them.
    pub metadata_sha256: Option<&'a str>,
    pub uploaded_by: Option<i64>,
}

/// What [`WriteTx::insert_file`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertedFile {
    Added,
    /// The filename was taken already, by a file with this SHA-256.
    Exists {
        sha256: String,
    },
}

/// The texts search indexes for project `$1`: its name also with the
/// normalized name's separators as spaces (so `zope` finds
/// `zope.interface`), the describing release's summary, keywords and the
/// start of its description.
macro_rules! search_document {
    () => {
        "SELECT p.id, p.name || ' ' || replace(replace(replace(p.normalized_name, '-', ' '), '_', ' '), '.', ' '), \
                COALESCE(m.summary, ''), COALESCE(m.keywords, ''), substr(COALESCE(m.description, ''), 1, 20000) \
         FROM projects p LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id WHERE p.id = $1"
    };
}

/// An open write transaction. Dropping it without `commit` rolls back.
pub struct WriteTx {
    tx: Tx,
}

enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the transaction's connection, on
/// whichever backend it is: compiled once per backend.
macro_rules! each_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx {
            Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl Db {
    /// Starts a write transaction.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so two
    /// writers queue on the busy timeout instead of deadlocking when a read
    /// transaction tries to upgrade.
    ///
    /// PostgreSQL: writers run concurrently, and the constraints decide
    /// between them. The transaction first claims a shard of the counters
    /// that no other transaction holds (`SKIP LOCKED`; it waits for one only
    /// when all 16 are taken) and its triggers count there: the counter row
    /// is then the first lock it takes, so no writer ever waits for a counter
    /// while holding a lock another writer needs (no deadlock between a
    /// project's row and a counter shard).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let tx = match self.pool() {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let free: Option<i16> = sqlx::query_scalar(
                    "SELECT shard FROM catalog_counts ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED",
                )
                .fetch_optional(&mut *tx)
                .await?;
                let shard = match free {
                    Some(shard) => shard,
                    None => {
                        sqlx::query_scalar(
                            "SELECT shard FROM catalog_counts WHERE shard = (pg_backend_pid() % 16) FOR UPDATE",
                        )
                        .fetch_one(&mut *tx)
                        .await?
                    }
                };
                sqlx::query("SELECT set_config('cheeseshop.shard', $1, true)")
                    .bind(shard.to_string())
                    .execute(&mut *tx)
                    .await?;
                Tx::Postgres(tx)
            }
        };
        Ok(WriteTx { tx })
    }
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.tx {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// The project's id, creating it when its normalized name is new.
    /// Returns `(id, created)`.
    pub async fn ensure_project(
        &mut self,
        name: &str,
        normalized_name: &str,
        now: i64,
    ) -> Result<(i64, bool), sqlx::Error> {
        let inserted: Option<i64> = each_tx!(self.tx, conn => sqlx::query_scalar(
            "INSERT INTO projects (name, normalized_name, created) VALUES ($1, $2, $3) \
             ON CONFLICT (normalized_name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(normalized_name)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await)?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let id = each_tx!(self.tx, conn => sqlx::query_scalar("SELECT id FROM projects WHERE normalized_name = $1")
            .bind(normalized_name)
            .fetch_one(&mut *conn)
            .await)?;
        Ok((id, false))
    }

    /// The release's id, creating it when new. Returns `(id, created)`.
    pub async fn ensure_release(
        &mut self,
        project_id: i64,
        release: &NewRelease<'_>,
    ) -> Result<(i64, bool), sqlx::Error> {
        let inserted: Option<i64> = each_tx!(self.tx, conn => sqlx::query_scalar(
            "INSERT INTO releases (project_id, version, sort_key, is_prerelease, is_legacy, created, yanked, yanked_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (project_id, version) DO NOTHING RETURNING id",
        )
        .bind(project_id)
        .bind(release.version)
        .bind(release.sort_key)
        .bind(release.is_prerelease)
        .bind(release.is_legacy)
        .bind(release.created)
        .bind(release.yanked)
        .bind(release.yanked_reason)
        .fetch_optional(&mut *conn)
        .await)?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let id = each_tx!(self.tx, conn => sqlx::query_scalar("SELECT id FROM releases WHERE project_id = $1 AND version = $2")
            .bind(project_id)
            .bind(release.version)
            .fetch_one(&mut *conn)
            .await)?;
        Ok((id, false))
    }

    /// Sets a release's metadata, replacing what was there.
    pub async fn upsert_metadata(&mut self, release_id: i64, m: &ReleaseMetadata) -> Result<(), sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO release_metadata (release_id, summary, description, description_content_type, author, \
                 author_email, maintainer, maintainer_email, license, keywords, home_page, download_url, docs_url, \
                 platform, requires_python, project_urls, classifiers, requires_dist, description_html) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             ON CONFLICT (release_id) DO UPDATE SET summary = excluded.summary, description = excluded.description, \
                 description_content_type = excluded.description_content_type, author = excluded.author, \
                 author_email = excluded.author_email, maintainer = excluded.maintainer, \
                 maintainer_email = excluded.maintainer_email, license = excluded.license, \
                 keywords = excluded.keywords, home_page = excluded.home_page, download_url = excluded.download_url, \
                 docs_url = excluded.docs_url, platform = excluded.platform, requires_python = excluded.requires_python, \
                 project_urls = excluded.project_urls, classifiers = excluded.classifiers, \
                 requires_dist = excluded.requires_dist, description_html = excluded.description_html",
        )
        .bind(release_id)
        .bind(&m.summary)
        .bind(&m.description)
        .bind(&m.description_content_type)
        .bind(&m.author)
        .bind(&m.author_email)
        .bind(&m.maintainer)
        .bind(&m.maintainer_email)
        .bind(&m.license)
        .bind(&m.keywords)
        .bind(&m.home_page)
        .bind(&m.download_url)
        .bind(&m.docs_url)
        .bind(&m.platform)
        .bind(&m.requires_python)
        .bind(&m.project_urls_json)
        .bind(&m.classifiers_json)
        .bind(&m.requires_dist_json)
        .bind(&m.description_html)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Adds a file unless its filename exists already (the unique index
    /// decides, so of concurrent writers exactly one adds it); otherwise
    /// tells which bytes the filename has.
    pub async fn insert_file(&mut self, release_id: i64, f: &NewFile<'_>) -> Result<InsertedFile, sqlx::Error> {
        let result = each_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO files (release_id, filename, packagetype, python_version, size, sha256, md5, blake2b_256, \
                 upload_time, url, requires_python, yanked, storage_key, metadata_sha256, uploaded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (filename) DO NOTHING",
        )
        .bind(release_id)
        .bind(f.filename)
        .bind(f.packagetype)
        .bind(f.python_version)
        .bind(f.size)
        .bind(f.sha256)
        .bind(f.md5)
        .bind(f.blake2b_256)
        .bind(f.upload_time)
        .bind(f.url)
        .bind(f.requires_python)
        .bind(f.yanked)
        .bind(f.storage_key)
        .bind(f.metadata_sha256)
        .bind(f.uploaded_by)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected()))?;
        if result == 1 {
            return Ok(InsertedFile::Added);
        }
        let sha256 = self.file_sha256(f.filename).await?.unwrap_or_default();
        Ok(InsertedFile::Exists { sha256 })
    }

    /// The SHA-256 of the file with this filename, if there is one.
    pub async fn file_sha256(&mut self, filename: &str) -> Result<Option<String>, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar("SELECT sha256 FROM files WHERE filename = $1")
            .bind(filename)
            .fetch_optional(&mut *conn)
            .await)
    }

    /// Whether the release has a source distribution already (PyPI allows one).
    pub async fn release_has_sdist(&mut self, release_id: i64) -> Result<bool, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM files WHERE release_id = $1 AND packagetype = 'sdist')"
        )
        .bind(release_id)
        .fetch_one(&mut *conn)
        .await)
    }

    /// Records a change of the project in the journal; its id becomes the
    /// project's `last_serial` (PyPI's serials).
    pub async fn journal(
        &mut self,
        project_id: i64,
        action: &str,
        version: Option<&str>,
        user_id: Option<i64>,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        let serial: i64 = each_tx!(self.tx, conn => sqlx::query_scalar(
            "INSERT INTO journal (project_id, action, version, submitted, user_id) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(project_id)
        .bind(action)
        .bind(version)
        .bind(now)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await)?;
        each_tx!(self.tx, conn => sqlx::query("UPDATE projects SET last_serial = $2 WHERE id = $1")
            .bind(project_id)
            .bind(serial)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
        Ok(serial)
    }

    /// Gives `user_id` a role on the project (the uploader of a new project
    /// becomes its Owner); an existing role is kept.
    pub async fn add_role(&mut self, user_id: i64, project_id: i64, role: &str) -> Result<(), sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO roles (user_id, project_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, project_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(project_id)
        .bind(role)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn has_role(&mut self, user_id: i64, project_id: i64) -> Result<bool, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar(super::index::ROLE_EXISTS)
            .bind(user_id)
            .bind(project_id)
            .fetch_one(&mut *conn)
            .await)
    }

    /// The release equal (in PEP 440 terms) to the version with this sort
    /// key: `1.0` and `1.0.0` are one release.
    pub async fn release_by_sort_key(&mut self, project_id: i64, sort_key: &str) -> Result<Option<i64>, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar("SELECT id FROM releases WHERE project_id = $1 AND sort_key = $2 ORDER BY id LIMIT 1")
            .bind(project_id)
            .bind(sort_key)
            .fetch_optional(&mut *conn)
            .await)
    }

    pub async fn release_has_metadata(&mut self, release_id: i64) -> Result<bool, sqlx::Error> {
        each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM release_metadata WHERE release_id = $1)"
        )
        .bind(release_id)
        .fetch_one(&mut *conn)
        .await)
    }

    /// Recomputes a project's denormalized columns after its releases or
    /// files changed. The latest-version rule is the same as
    /// `domain::version::latest_index`: not yanked, then final, then newest.
    pub async fn refresh_project(&mut self, project_id: i64) -> Result<(), sqlx::Error> {
        let latest: Option<i64> = each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT id FROM releases WHERE project_id = $1 \
             ORDER BY yanked ASC, is_prerelease ASC, sort_key DESC, id DESC LIMIT 1",
        )
        .bind(project_id)
        .fetch_optional(&mut *conn)
        .await)?;
        let metadata: Option<i64> = each_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT r.id FROM releases r JOIN release_metadata m ON m.release_id = r.id \
             WHERE r.project_id = $1 ORDER BY r.id = $2 DESC, r.sort_key DESC LIMIT 1",
        )
        .bind(project_id)
        .bind(latest)
        .fetch_optional(&mut *conn)
        .await)?;
        each_tx!(self.tx, conn => sqlx::query(
            "UPDATE projects SET latest_release_id = $2, metadata_release_id = $3, \
                 last_upload = COALESCE( \
                     (SELECT MAX(f.upload_time) FROM files f JOIN releases r ON r.id = f.release_id \
                      WHERE r.project_id = $1), \
                     (SELECT MAX(created) FROM releases WHERE project_id = $1)), \
                 created = COALESCE((SELECT MIN(created) FROM releases WHERE project_id = $1), created) \
             WHERE id = $1",
        )
        .bind(project_id)
        .bind(latest)
        .bind(metadata)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected()))?;
        self.refresh_search(project_id).await
    }

    /// Rewrites the project's full-text row and classifier list from its
    /// describing metadata (part of every project refresh).
    async fn refresh_search(&mut self, project_id: i64) -> Result<(), sqlx::Error> {
        match &mut self.tx {
            Tx::Sqlite(tx) => {
                sqlx::query("DELETE FROM project_search WHERE rowid = $1")
                    .bind(project_id)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(concat!(
                    "INSERT INTO project_search (rowid, name, summary, keywords, description) ",
                    search_document!(),
                ))
                .bind(project_id)
                .execute(&mut **tx)
                .await?;
                sqlx::query("DELETE FROM project_classifiers WHERE project_id = $1")
                    .bind(project_id)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(
                    "INSERT OR IGNORE INTO project_classifiers (project_id, classifier) \
                     SELECT p.id, j.value FROM projects p \
                     JOIN release_metadata m ON m.release_id = p.metadata_release_id, json_each(m.classifiers) j \
                     WHERE p.id = $1",
                )
                .bind(project_id)
                .execute(&mut **tx)
                .await?;
            }
            // The weighted tsvector is a generated column: writing the
            // texts rewrites it and its GIN entries.
            Tx::Postgres(tx) => {
                sqlx::query(concat!(
                    "INSERT INTO project_search (project_id, name, summary, keywords, description) ",
                    search_document!(),
                    " ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, summary = excluded.summary, \
                      keywords = excluded.keywords, description = excluded.description",
                ))
                .bind(project_id)
                .execute(&mut **tx)
                .await?;
                sqlx::query("DELETE FROM project_classifiers WHERE project_id = $1")
                    .bind(project_id)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO project_classifiers (project_id, classifier) \
                     SELECT p.id, j.value FROM projects p \
                     JOIN release_metadata m ON m.release_id = p.metadata_release_id \
                     CROSS JOIN LATERAL json_array_elements_text(m.classifiers::json) AS j(value) \
                     WHERE p.id = $1 ON CONFLICT DO NOTHING",
                )
                .bind(project_id)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }
}
