//! Moving an index between databases (`cheeseshop copy --from --to`): every
//! table of record, row by row with its id, in batches; SQLite to
//! PostgreSQL, PostgreSQL to SQLite, or between two of one kind.
//!
//! Idempotent: rows go in with `ON CONFLICT DO NOTHING`, so a copy that was
//! interrupted is finished by running it again, and a finished one changes
//! nothing the second time. What the target derives from the rows (search
//! documents, classifier lists, the counters and the catalogue generation)
//! is rebuilt there by its own triggers and `refresh_project`, not copied.
//! Login throttling is not copied: it is minutes of state about attempts.

use sqlx::{QueryBuilder, Row};

use super::{Db, Pool};

/// How a column is read and written.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Text,
    Bool,
}

/// One table of record: its columns (the key columns first) and how many
/// of them form the key that batches are read in order of.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    key_len: usize,
    /// Has an identity column `id` whose sequence must pass the copied ids
    /// (PostgreSQL targets).
    identity: bool,
}

use Kind::{Bool, Int, Text};

/// In an order that satisfies every foreign key.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("username_normalized", Text),
            ("name", Text),
            ("email", Text),
            ("email_normalized", Text),
            ("password_hash", Text),
            ("created", Int),
            ("is_admin", Bool),
            ("locked", Bool),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "projects",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("normalized_name", Text),
            ("created", Int),
            ("latest_release_id", Int),
            ("metadata_release_id", Int),
            ("last_upload", Int),
            ("last_serial", Int),
            ("allow_upstream", Bool),
            ("status", Text),
            ("status_reason", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "releases",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("version", Text),
            ("sort_key", Text),
            ("is_prerelease", Bool),
            ("is_legacy", Bool),
            ("created", Int),
            ("yanked", Bool),
            ("yanked_reason", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "release_metadata",
        columns: &[
            ("release_id", Int),
            ("summary", Text),
            ("description", Text),
            ("description_content_type", Text),
            ("author", Text),
            ("author_email", Text),
            ("maintainer", Text),
            ("maintainer_email", Text),
            ("license", Text),
            ("keywords", Text),
            ("home_page", Text),
            ("download_url", Text),
            ("docs_url", Text),
            ("platform", Text),
            ("requires_python", Text),
            ("project_urls", Text),
            ("classifiers", Text),
            ("requires_dist", Text),
            ("description_html", Text),
        ],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "files",
        columns: &[
            ("id", Int),
            ("release_id", Int),
            ("filename", Text),
            ("packagetype", Text),
            ("python_version", Text),
            ("size", Int),
            ("sha256", Text),
            ("md5", Text),
            ("blake2b_256", Text),
            ("upload_time", Int),
            ("url", Text),
            ("requires_python", Text),
            ("yanked", Bool),
            ("storage_key", Text),
            ("metadata_sha256", Text),
            ("uploaded_by", Int),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "journal",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("action", Text),
            ("version", Text),
            ("submitted", Int),
            ("user_id", Int),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "roles",
        columns: &[("user_id", Int), ("project_id", Int), ("role", Text)],
        key_len: 2,
        identity: false,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("project_id", Int),
            ("created", Int),
            ("last_used", Int),
            ("scopes", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "role_invitations",
        columns: &[
            ("project_id", Int),
            ("user_id", Int),
            ("role", Text),
            ("invited_by", Int),
            ("created", Int),
            ("expires", Int),
        ],
        key_len: 2,
        identity: false,
    },
    Table {
        name: "deleted_filenames",
        columns: &[("filename", Text), ("deleted", Int)],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "security_events",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("project_name", Text),
            ("actor_id", Int),
            ("actor", Text),
            ("subject_id", Int),
            ("kind", Text),
            ("detail", Text),
            ("address", Text),
            ("created", Int),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Text),
            ("user_id", Int),
            ("created", Int),
            ("last_seen", Int),
            ("expires", Int),
        ],
        key_len: 1,
        identity: false,
    },
];

/// Rows per batch: 19 columns × 500 stays far below either engine's limit
/// of bound parameters.
const BATCH: i64 = 500;

/// One column's value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
}

/// What a copy did, per table: rows in the source, rows added to the target.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64, u64)>,
    pub projects_refreshed: u64,
    /// Text values whose NUL characters were dropped (PostgreSQL cannot store them).
    pub nul_stripped: u64,
}

/// Progress: (table, rows done, rows in all).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_list(table: &Table) -> String {
    table.columns[..table.key_len]
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One batch of `table` after `after` (the last key read), in key order.
async fn read_batch(db: &Db, table: &Table, after: Option<&[Value]>) -> Result<Vec<Vec<Value>>, sqlx::Error> {
    each_backend!(db, pool => {
        let mut q = QueryBuilder::new(format!("SELECT {} FROM {}", column_list(table), table.name));
        if let Some(after) = after {
            // A row-value comparison: both engines order (a, b) > (x, y)
            // lexicographically, as the index does.
            q.push(format!(" WHERE ({}) > (", key_list(table)));
            let mut values = q.separated(", ");
            for value in after {
                match value {
                    Value::Int(v) => values.push_bind(*v),
                    Value::Text(v) => values.push_bind(v.clone()),
                    Value::Bool(v) => values.push_bind(*v),
                };
            }
            q.push(")");
        }
        q.push(format!(" ORDER BY {} LIMIT ", key_list(table)));
        q.push_bind(BATCH);
        let rows = q.build().fetch_all(pool).await?;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, (_, kind)) in table.columns.iter().enumerate() {
                values.push(match kind {
                    Kind::Int => Value::Int(row.try_get(i)?),
                    Kind::Text => Value::Text(row.try_get(i)?),
                    Kind::Bool => Value::Bool(row.try_get(i)?),
                });
            }
            batch.push(values);
        }
        Ok(batch)
    })
}

/// Inserts a batch into `table`, skipping rows whose key is there already.
/// Returns how many were added.
async fn write_batch(db: &Db, table: &Table, rows: &[Vec<Value>]) -> Result<u64, sqlx::Error> {
    each_backend!(db, pool => {
        let mut q = QueryBuilder::new(format!("INSERT INTO {} ({}) ", table.name, column_list(table)));
        q.push_values(rows, |mut b, row| {
            for value in row {
                match value {
                    Value::Int(v) => b.push_bind(*v),
                    Value::Text(v) => b.push_bind(v.clone()),
                    Value::Bool(v) => b.push_bind(*v),
                };
            }
        });
        q.push(" ON CONFLICT DO NOTHING");
        Ok(q.build().execute(pool).await?.rows_affected())
    })
}

async fn count(db: &Db, table: &Table) -> Result<u64, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) FROM {}", table.name);
    let n: i64 = each_backend!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)?;
    Ok(n.max(0) as u64)
}

/// Copies every table of record from `from` to `to` (both migrated), then
/// rebuilds what `to` derives from them.
pub async fn copy(from: &Db, to: &Db, progress: Progress<'_>) -> Result<CopyReport, sqlx::Error> {
    let mut report = CopyReport::default();
    let strip_nul = to.backend() == super::Backend::Postgres;
    for table in TABLES {
        let total = count(from, table).await?;
        let (mut done, mut added) = (0u64, 0u64);
        progress(table.name, 0, total);
        let mut after: Option<Vec<Value>> = None;
        loop {
            let mut rows = read_batch(from, table, after.as_deref()).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last[..table.key_len].to_vec());
            if strip_nul {
                for value in rows.iter_mut().flatten() {
                    if let Value::Text(Some(text)) = value
                        && text.contains('\0')
                    {
                        *text = text.replace('\0', "");
                        report.nul_stripped += 1;
                    }
                }
            }
            added += write_batch(to, table, &rows).await?;
            done += rows.len() as u64;
            progress(table.name, done, total);
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        if table.identity
            && let Pool::Postgres(pool) = to.pool()
        {
            // Explicit ids do not move an identity's sequence: move it past
            // them, or the next upload would collide with a copied row.
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), GREATEST((SELECT MAX(id) FROM {0}), 1))",
                table.name
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
        }
        report.tables.push((table.name, total, added));
    }
    // Search documents and classifier lists, from the copied rows.
    let mut after = 0i64;
    loop {
        let ids: Vec<i64> = each_backend!(to, pool => sqlx::query_scalar(
            "SELECT id FROM projects WHERE id > $1 ORDER BY id LIMIT $2"
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(pool)
        .await)?;
        let Some(&last) = ids.last() else { break };
        let mut tx = to.begin_write().await?;
        for id in &ids {
            tx.refresh_project(*id).await?;
        }
        tx.commit().await?;
        report.projects_refreshed += ids.len() as u64;
        progress("search", report.projects_refreshed, 0);
        after = last;
    }
    Ok(report)
}

/// Rows per table on `db`, for the proof that a copy is complete.
pub async fn table_counts(db: &Db) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        counts.push((table.name, count(db, table).await?));
    }
    Ok(counts)
}
