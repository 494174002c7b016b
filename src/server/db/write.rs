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

/// A whole new project at once, for bulk loads (`demo-data`).
#[derive(Debug, Clone)]
pub struct BulkProject {
    pub name: String,
    pub normalized_name: String,
    /// Oldest first; the metadata belongs to the last.
    pub releases: Vec<BulkRelease>,
    pub metadata: ReleaseMetadata,
}

#[derive(Debug, Clone)]
pub struct BulkRelease {
    pub version: String,
    pub sort_key: String,
    pub is_prerelease: bool,
    pub is_legacy: bool,
    pub created: i64,
    pub files: Vec<BulkFile>,
}

#[derive(Debug, Clone)]
pub struct BulkFile {
    pub filename: String,
    pub packagetype: String,
    pub python_version: String,
    pub size: i64,
    pub sha256: String,
    pub md5: String,
    pub blake2b_256: String,
    pub upload_time: i64,
    pub url: String,
    pub requires_python: Option<String>,
}

/// What [`WriteTx::add_projects`] added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    pub projects: usize,
    pub releases: usize,
    pub files: usize,
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

/// The texts search indexes for the projects `$1` selects (`$filter`):
/// the name also with the normalized name's separators as spaces (so `zope`
/// finds `zope.interface`), the describing release's summary, keywords and
/// the start of its description.
macro_rules! search_document {
    ($filter:literal) => {
        concat!(
            "SELECT p.id, p.name || ' ' || replace(replace(replace(p.normalized_name, '-', ' '), '_', ' '), '.', ' '), \
                    COALESCE(m.summary, ''), COALESCE(m.keywords, ''), substr(COALESCE(m.description, ''), 1, 20000) \
             FROM projects p LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id WHERE ",
            $filter
        )
    };
}

/// An open write transaction. Dropping it without `commit` rolls back.
pub struct WriteTx {
    tx: Tx,
    /// Told when the transaction commits (see `Db::wrote`).
    db: Db,
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
                // Claim and name the shard in one round trip; wait for the
                // connection's own shard only when all 16 are taken.
                let claimed: Option<String> = sqlx::query_scalar(
                    "WITH free AS (SELECT shard FROM catalog_counts ORDER BY random() LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
                     SELECT set_config('cheeseshop.shard', shard::TEXT, true) FROM free",
                )
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    sqlx::query(
                        "WITH own AS (SELECT shard FROM catalog_counts WHERE shard = pg_backend_pid() % 16 \
                             FOR UPDATE) \
                         SELECT set_config('cheeseshop.shard', shard::TEXT, true) FROM own",
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                Tx::Postgres(tx)
            }
        };
        Ok(WriteTx { tx, db: self.clone() })
    }
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.tx {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => {
                tx.commit().await?;
                self.db.wrote();
                Ok(())
            }
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

    /// Adds the projects whose names are new, each with its releases, the
    /// metadata of its last release and its files, and refreshes them as
    /// `refresh_project` does; a name that exists is left as it is.
    ///
    /// Each table's rows of the whole batch go in one statement, as arrays
    /// (PostgreSQL's `UNNEST`) or a JSON array (SQLite's `json_each`), and
    /// the batch is refreshed by set-based statements with the same rules as
    /// `refresh_project`: a round trip (PostgreSQL) or a hand-off to the
    /// connection's worker thread (SQLite) per table, not per row, which is
    /// what makes a catalogue of a million projects a matter of minutes.
    pub async fn add_projects(&mut self, projects: &[BulkProject], now: i64) -> Result<Added, sqlx::Error> {
        match &mut self.tx {
            Tx::Postgres(tx) => add_projects_postgres(tx, projects, now).await,
            Tx::Sqlite(tx) => add_projects_sqlite(tx, projects, now).await,
        }
    }

    /// Recomputes a project's denormalized columns after its releases or
    /// files changed. The latest-version rule is the same as
    /// `domain::version::latest_index`: not yanked, then final, then newest.
    ///
    /// On PostgreSQL the project's row is locked first. Two writers of one
    /// project otherwise each compute the latest version from what they
    /// see (their own release, not the other's uncommitted one), and the
    /// one that commits last writes a latest version that misses the
    /// other's. After the lock, each statement's snapshot includes the
    /// release the previous writer committed. It is `NO KEY UPDATE`, the
    /// lock the `UPDATE` below takes anyway: writers' inserts hold `KEY
    /// SHARE` on the row (their foreign keys), which `FOR UPDATE` would
    /// wait for, each writer for the other's (a deadlock the concurrency
    /// test found). Writers take it after their own inserts and insert
    /// nothing that can conflict after it. (SQLite's writers are serialized
    /// by `BEGIN IMMEDIATE`.)
    pub async fn refresh_project(&mut self, project_id: i64) -> Result<(), sqlx::Error> {
        if let Tx::Postgres(tx) = &mut self.tx {
            sqlx::query("SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE")
                .bind(project_id)
                .execute(&mut **tx)
                .await?;
        }
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
            Tx::Sqlite(tx) => rewrite_search_sqlite(tx, &format!("[{project_id}]")).await,
            Tx::Postgres(tx) => rewrite_search_postgres(tx, &[project_id]).await,
        }
    }
}

/// Rewrites the full-text rows and classifier lists of the projects `ids`
/// (a JSON array) from their describing metadata, on SQLite: for one
/// project's refresh and for a bulk load's batch alike.
async fn rewrite_search_sqlite(tx: &mut Transaction<'static, Sqlite>, ids: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM project_search WHERE rowid IN (SELECT value FROM json_each($1))")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    sqlx::query(concat!(
        "INSERT INTO project_search (rowid, name, summary, keywords, description) ",
        search_document!("p.id IN (SELECT value FROM json_each($1))"),
    ))
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM project_classifiers WHERE project_id IN (SELECT value FROM json_each($1))")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT OR IGNORE INTO project_classifiers (project_id, classifier) \
         SELECT p.id, j.value FROM projects p \
         JOIN release_metadata m ON m.release_id = p.metadata_release_id, json_each(m.classifiers) j \
         WHERE p.id IN (SELECT value FROM json_each($1))",
    )
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The same on PostgreSQL. The weighted tsvector is a generated column:
/// writing the texts rewrites it and its GIN entries.
async fn rewrite_search_postgres(tx: &mut Transaction<'static, Postgres>, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO project_search (project_id, name, summary, keywords, description) ",
        search_document!("p.id = ANY($1)"),
        " ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, summary = excluded.summary, \
          keywords = excluded.keywords, description = excluded.description",
    ))
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM project_classifiers WHERE project_id = ANY($1)")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO project_classifiers (project_id, classifier) \
         SELECT p.id, j.value FROM projects p \
         JOIN release_metadata m ON m.release_id = p.metadata_release_id \
         CROSS JOIN LATERAL json_array_elements_text(m.classifiers::json) AS j(value) \
         WHERE p.id = ANY($1) ON CONFLICT DO NOTHING",
    )
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// [`WriteTx::add_projects`] on PostgreSQL: one statement per table for the
/// whole batch.
async fn add_projects_postgres(
    tx: &mut Transaction<'static, Postgres>,
    projects: &[BulkProject],
    now: i64,
) -> Result<Added, sqlx::Error> {
    use std::collections::HashMap;

    let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
    let normalized: Vec<&str> = projects.iter().map(|p| p.normalized_name.as_str()).collect();
    let new: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO projects (name, normalized_name, created) \
         SELECT name, normalized_name, $3 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS t (name, normalized_name) \
         ON CONFLICT (normalized_name) DO NOTHING RETURNING id, normalized_name",
    )
    .bind(&names)
    .bind(&normalized)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    if new.is_empty() {
        return Ok(Added::default());
    }
    let ids: HashMap<&str, i64> = new.iter().map(|(id, name)| (name.as_str(), *id)).collect();
    let added_projects: Vec<(i64, &BulkProject)> = projects
        .iter()
        .filter_map(|p| ids.get(p.normalized_name.as_str()).map(|id| (*id, p)))
        .collect();
    let project_ids: Vec<i64> = added_projects.iter().map(|(id, _)| *id).collect();

    // Releases, in each project's order; their ids come back by (project, version).
    let mut r_project = Vec::new();
    let (mut r_version, mut r_sort_key, mut r_pre, mut r_legacy, mut r_created) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, p) in &added_projects {
        for r in &p.releases {
            r_project.push(*id);
            r_version.push(r.version.as_str());
            r_sort_key.push(r.sort_key.as_str());
            r_pre.push(r.is_prerelease);
            r_legacy.push(r.is_legacy);
            r_created.push(r.created);
        }
    }
    let releases: Vec<(i64, i64, String)> = sqlx::query_as(
        "INSERT INTO releases (project_id, version, sort_key, is_prerelease, is_legacy, created) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BOOLEAN[], $5::BOOLEAN[], $6::BIGINT[]) \
         ON CONFLICT (project_id, version) DO NOTHING RETURNING id, project_id, version",
    )
    .bind(&r_project)
    .bind(&r_version)
    .bind(&r_sort_key)
    .bind(&r_pre)
    .bind(&r_legacy)
    .bind(&r_created)
    .fetch_all(&mut **tx)
    .await?;
    let release_ids: HashMap<(i64, &str), i64> = releases
        .iter()
        .map(|(id, project, version)| ((*project, version.as_str()), *id))
        .collect();

    // The metadata of each project's last release.
    let mut m_release = Vec::new();
    let mut m_text: [Vec<&str>; 17] = Default::default();
    let mut m_html = Vec::new();
    for (id, p) in &added_projects {
        let Some(last) = p.releases.last() else { continue };
        let Some(release_id) = release_ids.get(&(*id, last.version.as_str())) else {
            continue;
        };
        let m = &p.metadata;
        m_release.push(*release_id);
        for (column, value) in m_text.iter_mut().zip([
            &m.summary,
            &m.description,
            &m.description_content_type,
            &m.author,
            &m.author_email,
            &m.maintainer,
            &m.maintainer_email,
            &m.license,
            &m.keywords,
            &m.home_page,
            &m.download_url,
            &m.docs_url,
            &m.platform,
            &m.requires_python,
            &m.project_urls_json,
            &m.classifiers_json,
            &m.requires_dist_json,
        ]) {
            column.push(value.as_str());
        }
        m_html.push(m.description_html.as_str());
    }
    let mut insert_metadata = sqlx::query(
        "INSERT INTO release_metadata (release_id, summary, description, description_content_type, author, \
             author_email, maintainer, maintainer_email, license, keywords, home_page, download_url, docs_url, \
             platform, requires_python, project_urls, classifiers, requires_dist, description_html) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], \
             $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[], \
             $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::TEXT[]) \
         ON CONFLICT (release_id) DO NOTHING",
    )
    .bind(&m_release);
    for column in &m_text {
        insert_metadata = insert_metadata.bind(column);
    }
    insert_metadata.bind(&m_html).execute(&mut **tx).await?;

    // Files.
    let mut f_release = Vec::new();
    let mut f_text: [Vec<&str>; 7] = Default::default();
    let (mut f_size, mut f_time, mut f_requires) = (Vec::new(), Vec::new(), Vec::new());
    for (id, p) in &added_projects {
        for r in &p.releases {
            let Some(release_id) = release_ids.get(&(*id, r.version.as_str())) else {
                continue;
            };
            for f in &r.files {
                f_release.push(*release_id);
                for (column, value) in f_text.iter_mut().zip([
                    &f.filename,
                    &f.packagetype,
                    &f.python_version,
                    &f.sha256,
                    &f.md5,
                    &f.blake2b_256,
                    &f.url,
                ]) {
                    column.push(value.as_str());
                }
                f_size.push(f.size);
                f_time.push(f.upload_time);
                f_requires.push(f.requires_python.as_deref());
            }
        }
    }
    let files = sqlx::query(
        "INSERT INTO files (release_id, filename, packagetype, python_version, sha256, md5, blake2b_256, url, \
             size, upload_time, requires_python) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], \
             $7::TEXT[], $8::TEXT[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[]) \
         ON CONFLICT (filename) DO NOTHING",
    )
    .bind(&f_release)
    .bind(&f_text[0])
    .bind(&f_text[1])
    .bind(&f_text[2])
    .bind(&f_text[3])
    .bind(&f_text[4])
    .bind(&f_text[5])
    .bind(&f_text[6])
    .bind(&f_size)
    .bind(&f_time)
    .bind(&f_requires)
    .execute(&mut **tx)
    .await?
    .rows_affected();

    // refresh_project for the whole batch: the same rules, set-based.
    sqlx::query(
        "WITH latest AS ( \
             SELECT DISTINCT ON (project_id) project_id, id FROM releases WHERE project_id = ANY($1) \
             ORDER BY project_id, yanked ASC, is_prerelease ASC, sort_key DESC, id DESC), \
         described AS ( \
             SELECT DISTINCT ON (r.project_id) r.project_id, r.id FROM releases r \
             JOIN release_metadata m ON m.release_id = r.id JOIN latest l ON l.project_id = r.project_id \
             WHERE r.project_id = ANY($1) ORDER BY r.project_id, r.id = l.id DESC, r.sort_key DESC), \
         uploaded AS ( \
             SELECT r.project_id, MAX(f.upload_time) AS at FROM files f JOIN releases r ON r.id = f.release_id \
             WHERE r.project_id = ANY($1) GROUP BY r.project_id), \
         released AS ( \
             SELECT project_id, MAX(created) AS last, MIN(created) AS first FROM releases \
             WHERE project_id = ANY($1) GROUP BY project_id) \
         UPDATE projects p SET latest_release_id = latest.id, metadata_release_id = described.id, \
             last_upload = COALESCE(uploaded.at, released.last), created = COALESCE(released.first, p.created) \
         FROM latest LEFT JOIN described USING (project_id) LEFT JOIN uploaded USING (project_id) \
             LEFT JOIN released USING (project_id) \
         WHERE p.id = latest.project_id",
    )
    .bind(&project_ids)
    .execute(&mut **tx)
    .await?;
    rewrite_search_postgres(tx, &project_ids).await?;
    // One journal entry per project, in the batch's order; its id is the
    // project's serial.
    sqlx::query(
        "WITH entry AS ( \
             INSERT INTO journal (project_id, action, submitted) \
             SELECT id, 'create', $2 FROM UNNEST($1::BIGINT[]) WITH ORDINALITY AS t (id, n) ORDER BY n \
             RETURNING id, project_id) \
         UPDATE projects p SET last_serial = entry.id FROM entry WHERE p.id = entry.project_id",
    )
    .bind(&project_ids)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Added {
        projects: added_projects.len(),
        releases: releases.len(),
        files: files as usize,
    })
}

/// [`WriteTx::add_projects`] on SQLite: the batch as JSON arrays, one
/// statement per table.
async fn add_projects_sqlite(
    tx: &mut Transaction<'static, Sqlite>,
    projects: &[BulkProject],
    now: i64,
) -> Result<Added, sqlx::Error> {
    use serde_json::{Value, json};
    use std::collections::HashMap;

    let rows: Value = projects.iter().map(|p| json!([p.name, p.normalized_name])).collect();
    let new: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO projects (name, normalized_name, created) \
         SELECT value ->> 0, value ->> 1, $2 FROM json_each($1) WHERE true \
         ON CONFLICT (normalized_name) DO NOTHING RETURNING id, normalized_name",
    )
    .bind(rows.to_string())
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    if new.is_empty() {
        return Ok(Added::default());
    }
    let ids: HashMap<&str, i64> = new.iter().map(|(id, name)| (name.as_str(), *id)).collect();
    let added_projects: Vec<(i64, &BulkProject)> = projects
        .iter()
        .filter_map(|p| ids.get(p.normalized_name.as_str()).map(|id| (*id, p)))
        .collect();
    let project_ids = Value::from(added_projects.iter().map(|(id, _)| *id).collect::<Vec<_>>()).to_string();

    let rows: Value = added_projects
        .iter()
        .flat_map(|(id, p)| {
            p.releases
                .iter()
                .map(move |r| json!([id, r.version, r.sort_key, r.is_prerelease, r.is_legacy, r.created]))
        })
        .collect();
    let releases: Vec<(i64, i64, String)> = sqlx::query_as(
        "INSERT INTO releases (project_id, version, sort_key, is_prerelease, is_legacy, created) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each($1) WHERE true \
         ON CONFLICT (project_id, version) DO NOTHING RETURNING id, project_id, version",
    )
    .bind(rows.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let release_ids: HashMap<(i64, &str), i64> = releases
        .iter()
        .map(|(id, project, version)| ((*project, version.as_str()), *id))
        .collect();

    let rows: Value = added_projects
        .iter()
        .filter_map(|(id, p)| {
            let last = p.releases.last()?;
            let release_id = release_ids.get(&(*id, last.version.as_str()))?;
            let m = &p.metadata;
            Some(json!([
                release_id,
                m.summary,
                m.description,
                m.description_content_type,
                m.author,
                m.author_email,
                m.maintainer,
                m.maintainer_email,
                m.license,
                m.keywords,
                m.home_page,
                m.download_url,
                m.docs_url,
                m.platform,
                m.requires_python,
                m.project_urls_json,
                m.classifiers_json,
                m.requires_dist_json,
                m.description_html,
            ]))
        })
        .collect();
    sqlx::query(
        "INSERT INTO release_metadata (release_id, summary, description, description_content_type, author, \
             author_email, maintainer, maintainer_email, license, keywords, home_page, download_url, docs_url, \
             platform, requires_python, project_urls, classifiers, requires_dist, description_html) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13, \
             value ->> 14, value ->> 15, value ->> 16, value ->> 17, value ->> 18 \
         FROM json_each($1) WHERE true ON CONFLICT (release_id) DO NOTHING",
    )
    .bind(rows.to_string())
    .execute(&mut **tx)
    .await?;

    let rows: Value = added_projects
        .iter()
        .flat_map(|(id, p)| p.releases.iter().map(move |r| (id, r)))
        .filter_map(|(id, r)| Some((*release_ids.get(&(*id, r.version.as_str()))?, r)))
        .flat_map(|(release_id, r)| {
            r.files.iter().map(move |f| {
                json!([
                    release_id,
                    f.filename,
                    f.packagetype,
                    f.python_version,
                    f.size,
                    f.sha256,
                    f.md5,
                    f.blake2b_256,
                    f.upload_time,
                    f.url,
                    f.requires_python
                ])
            })
        })
        .collect();
    let files = sqlx::query(
        "INSERT INTO files (release_id, filename, packagetype, python_version, size, sha256, md5, blake2b_256, \
             upload_time, url, requires_python) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8, value ->> 9, value ->> 10 \
         FROM json_each($1) WHERE true ON CONFLICT (filename) DO NOTHING",
    )
    .bind(rows.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();

    // refresh_project for the whole batch: the same rules, set-based.
    sqlx::query(
        "WITH batch (id) AS (SELECT value FROM json_each($1)), \
         ranked AS ( \
             SELECT project_id, id, row_number() OVER (PARTITION BY project_id \
                 ORDER BY yanked ASC, is_prerelease ASC, sort_key DESC, id DESC) AS n \
             FROM releases WHERE project_id IN batch), \
         latest AS (SELECT project_id, id FROM ranked WHERE n = 1), \
         described AS ( \
             SELECT project_id, id FROM ( \
                 SELECT r.project_id, r.id, row_number() OVER (PARTITION BY r.project_id \
                     ORDER BY r.id = l.id DESC, r.sort_key DESC) AS n \
                 FROM releases r JOIN release_metadata m ON m.release_id = r.id \
                 JOIN latest l ON l.project_id = r.project_id WHERE r.project_id IN batch) WHERE n = 1), \
         uploaded AS ( \
             SELECT r.project_id, MAX(f.upload_time) AS at FROM files f JOIN releases r ON r.id = f.release_id \
             WHERE r.project_id IN batch GROUP BY r.project_id), \
         released AS ( \
             SELECT project_id, MAX(created) AS last, MIN(created) AS first FROM releases \
             WHERE project_id IN batch GROUP BY project_id), \
         refreshed AS ( \
             SELECT latest.project_id, latest.id AS latest_id, described.id AS described_id, \
                 COALESCE(uploaded.at, released.last) AS last_upload, released.first AS first \
             FROM latest LEFT JOIN described USING (project_id) LEFT JOIN uploaded USING (project_id) \
                 LEFT JOIN released USING (project_id)) \
         UPDATE projects SET latest_release_id = refreshed.latest_id, metadata_release_id = refreshed.described_id, \
             last_upload = refreshed.last_upload, created = COALESCE(refreshed.first, projects.created) \
         FROM refreshed WHERE projects.id = refreshed.project_id",
    )
    .bind(&project_ids)
    .execute(&mut **tx)
    .await?;
    rewrite_search_sqlite(tx, &project_ids).await?;
    // One journal entry per project, in the batch's order; its id is the
    // project's serial.
    sqlx::query(
        "INSERT INTO journal (project_id, action, submitted) \
         SELECT value, 'create', $2 FROM json_each($1) ORDER BY key",
    )
    .bind(&project_ids)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE projects SET last_serial = (SELECT MAX(j.id) FROM journal j WHERE j.project_id = projects.id) \
         WHERE id IN (SELECT value FROM json_each($1))",
    )
    .bind(&project_ids)
    .execute(&mut **tx)
    .await?;
    Ok(Added {
        projects: added_projects.len(),
        releases: releases.len(),
        files: files as usize,
    })
}
pub mod maintain;
