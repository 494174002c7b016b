//! Full-text search over projects, classifier filters and facets: SQLite's
//! FTS5, or PostgreSQL's weighted `tsvector` with a GIN index. Both rank by
//! the same rules: the exact name, then a name prefix, then field boosts per
//! term (name ×10, summary and keywords ×5), then the engine's relevance
//! (bm25 or `ts_rank` with the same field weights), then the name.

use sqlx::{FromRow, Postgres, QueryBuilder, Sqlite};

use super::{Db, Pool};
use crate::domain::search::{SearchOrder, SearchQuery};

pub const PAGE_SIZE: i64 = 20;

#[derive(Debug, Clone, FromRow, serde::Deserialize)]
pub struct Hit {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    pub last_upload: Option<i64>,
}

pub struct Found {
    pub total: i64,
    pub hits: Vec<Hit>,
    pub facets: Vec<(String, i64)>,
}

/// Appends "the project `id` has every one of these classifiers (or a child)".
fn push_filters<DB: sqlx::Database>(b: &mut QueryBuilder<DB>, id: &str, classifiers: &[String])
where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for c in classifiers {
        b.push(format!(
            " AND {id} IN (SELECT project_id FROM project_classifiers \
             WHERE classifier = "
        ));
        b.push_bind(c.clone());
        b.push(" OR substr(classifier, 1, length(");
        b.push_bind(c.clone());
        b.push(") + 4) = ");
        b.push_bind(format!("{c} :: "));
        b.push(")");
    }
}

/// The matching projects (all of them for an empty query), filtered by
/// classifiers, ranked or ordered, one page of them, and facet counts.
pub async fn search(
    db: &Db,
    query: &SearchQuery,
    order: SearchOrder,
    classifiers: &[String],
    page: i64,
    facet_limit: i64,
) -> Result<Found, sqlx::Error> {
    match db.pool() {
        Pool::Sqlite(pool) => search_sqlite(pool, query, order, classifiers, page, facet_limit).await,
        Pool::Postgres(pool) => search_postgres(pool, query, order, classifiers, page, facet_limit).await,
    }
}

async fn search_sqlite(
    pool: &sqlx::SqlitePool,
    query: &SearchQuery,
    order: SearchOrder,
    classifiers: &[String],
    page: i64,
    facet_limit: i64,
) -> Result<Found, sqlx::Error> {
    let fts = query.fts_expression();
    // The matching set, as a FROM/WHERE fragment shared by all three
    // queries, selecting `id`; with `projects`, `p` is joined for ranking.
    let matching = |b: &mut QueryBuilder<Sqlite>, with_projects: bool| {
        match &fts {
            Some(expr) if with_projects => {
                // CROSS JOIN makes the FTS match the outer loop: SQLite
                // otherwise may scan every project and probe the index per row.
                b.push(
                    " FROM project_search s CROSS JOIN projects p ON p.id = s.rowid \
                     WHERE project_search MATCH ",
                );
                b.push_bind(expr.clone());
                push_filters(b, "s.rowid", classifiers);
            }
            Some(expr) => {
                // Counting and facets need only the index: no row is read.
                b.push(" FROM project_search s WHERE project_search MATCH ");
                b.push_bind(expr.clone());
                push_filters(b, "s.rowid", classifiers);
            }
            None => {
                b.push(" FROM projects p WHERE p.latest_release_id IS NOT NULL");
                push_filters(b, "p.id", classifiers);
            }
        }
    };
    let id = if fts.is_some() { "s.rowid" } else { "p.id" };

    let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*)");
    matching(&mut count, false);

    let mut page_q = QueryBuilder::<Sqlite>::new(
        "SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, COALESCE(m.summary, '') AS summary, \
         p.last_upload FROM (SELECT p.id AS id",
    );
    // Rank inside the subquery (where the FTS table is), then join the rest
    // for the page only.
    if fts.is_some() {
        page_q.push(", p.normalized_name = ");
        page_q.push_bind(query.normalized_name());
        page_q.push(" AS exact, substr(p.normalized_name, 1, length(");
        page_q.push_bind(query.normalized_name());
        page_q.push(")) = ");
        page_q.push_bind(query.normalized_name());
        page_q.push(" AS prefix, (0");
        // Field boosts per query term (name x10, summary and keywords x5),
        // as pypi.org weighs fields; bm25 only breaks ties, because its IDF
        // vanishes for words that most projects use ("python", "library").
        // Each boost is an FTS column filter, answered from the index: reading
        // the columns themselves loads every matching row's whole document.
        // Terms are ASCII letters and digits only (`SearchQuery::parse`).
        for term in &query.terms {
            for (column, weight) in [("name", "10"), ("summary", "5"), ("keywords", "5")] {
                page_q.push(format!(
                    " + {weight} * (s.rowid IN (SELECT rowid FROM project_search WHERE project_search MATCH "
                ));
                page_q.push_bind(format!("{column} : \"{term}\"*"));
                page_q.push("))");
            }
        }
        page_q.push(") AS boost, bm25(project_search, 10.0, 5.0, 5.0, 1.0) AS score");
    }
    page_q.push(", p.last_upload AS last_upload, p.normalized_name AS sort_name");
    matching(&mut page_q, true);
    page_q.push(match (order, fts.is_some()) {
        (SearchOrder::Relevance, true) => " ORDER BY exact DESC, prefix DESC, boost DESC, score ASC, sort_name ASC",
        (SearchOrder::Newest, _) => " ORDER BY last_upload DESC NULLS LAST, sort_name ASC",
        _ => " ORDER BY sort_name ASC",
    });
    page_q.push(" LIMIT ");
    page_q.push_bind(PAGE_SIZE);
    page_q.push(" OFFSET ");
    page_q.push_bind((page - 1).max(0) * PAGE_SIZE);
    page_q.push(
        ") ranked JOIN projects p ON p.id = ranked.id \
         LEFT JOIN releases r ON r.id = p.latest_release_id \
         LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id",
    );
    // The join keeps the subquery's order in SQLite, but say it explicitly.
    page_q.push(match (order, fts.is_some()) {
        (SearchOrder::Relevance, true) => {
            " ORDER BY ranked.exact DESC, ranked.prefix DESC, ranked.boost DESC, ranked.score ASC, ranked.sort_name ASC"
        }
        (SearchOrder::Newest, _) => " ORDER BY ranked.last_upload DESC NULLS LAST, ranked.sort_name ASC",
        _ => " ORDER BY ranked.sort_name ASC",
    });
    // With a text query, the matches drive a join into the classifiers'
    // primary key; without one, every listed project's classifiers count.
    let mut facet_q = match &fts {
        Some(expr) => {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT pc.classifier, COUNT(*) AS n FROM project_search s \
                 CROSS JOIN project_classifiers pc ON pc.project_id = s.rowid WHERE project_search MATCH ",
            );
            q.push_bind(expr.clone());
            push_filters(&mut q, "s.rowid", classifiers);
            q
        }
        None => {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT classifier, COUNT(*) AS n FROM project_classifiers WHERE project_id IN (SELECT {id}"
            ));
            matching(&mut q, false);
            q.push(")");
            q
        }
    };
    facet_q.push(" GROUP BY classifier ORDER BY n DESC, classifier ASC LIMIT ");
    facet_q.push_bind(facet_limit);

    // Three independent reads on three pooled connections, concurrently.
    let facets = async {
        if facet_limit == 0 {
            Ok(Vec::new())
        } else {
            facet_q.build_query_as::<(String, i64)>().fetch_all(pool).await
        }
    };
    let (total, hits, facets) = tokio::try_join!(
        count.build_query_scalar::<i64>().fetch_one(pool),
        page_q.build_query_as::<Hit>().fetch_all(pool),
        facets
    )?;
    Ok(Found { total, hits, facets })
}

/// PostgreSQL's search: a text query in one statement (below); browsing
/// (no text) in three reads as on SQLite, every listed project by name or
/// date, filtered by classifiers.
async fn search_postgres(
    pool: &sqlx::PgPool,
    query: &SearchQuery,
    order: SearchOrder,
    classifiers: &[String],
    page: i64,
    facet_limit: i64,
) -> Result<Found, sqlx::Error> {
    if let Some(tsquery) = query.tsquery() {
        return search_postgres_text(pool, query, &tsquery, order, classifiers, page, facet_limit).await;
    }
    let listed = |b: &mut QueryBuilder<Postgres>| {
        b.push(" FROM projects p WHERE p.latest_release_id IS NOT NULL");
        push_filters(b, "p.id", classifiers);
    };
    let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*)");
    listed(&mut count);

    let mut page_q = QueryBuilder::<Postgres>::new(
        "SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, COALESCE(m.summary, '') AS summary, \
         p.last_upload FROM (SELECT p.id AS id, p.last_upload AS last_upload, p.normalized_name AS sort_name",
    );
    listed(&mut page_q);
    let order_by = match order {
        SearchOrder::Newest => "last_upload DESC NULLS LAST, sort_name ASC",
        _ => "sort_name ASC",
    };
    page_q.push(format!(" ORDER BY {order_by} LIMIT "));
    page_q.push_bind(PAGE_SIZE);
    page_q.push(" OFFSET ");
    page_q.push_bind((page - 1).max(0) * PAGE_SIZE);
    page_q.push(format!(
        ") ranked JOIN projects p ON p.id = ranked.id \
         LEFT JOIN releases r ON r.id = p.latest_release_id \
         LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id ORDER BY {}",
        match order {
            SearchOrder::Newest => "ranked.last_upload DESC NULLS LAST, ranked.sort_name ASC",
            _ => "ranked.sort_name ASC",
        }
    ));
    let mut facet_q = QueryBuilder::<Postgres>::new(
        "SELECT classifier, COUNT(*) AS n FROM project_classifiers WHERE project_id IN (SELECT p.id",
    );
    listed(&mut facet_q);
    facet_q.push(") GROUP BY classifier ORDER BY n DESC, classifier ASC LIMIT ");
    facet_q.push_bind(facet_limit);

    let facets = async {
        if facet_limit == 0 {
            Ok(Vec::new())
        } else {
            facet_q.build_query_as::<(String, i64)>().fetch_all(pool).await
        }
    };
    let (total, hits, facets) = tokio::try_join!(
        count.build_query_scalar::<i64>().fetch_one(pool),
        page_q.build_query_as::<Hit>().fetch_all(pool),
        facets
    )?;
    Ok(Found { total, hits, facets })
}

/// A text search on PostgreSQL in one statement and one pass over the
/// index: the matches (with their ranking columns) are gathered once, then
/// counted, paged and faceted from there. Three separate queries, as on
/// SQLite, would each look up every match in the GIN index and read its row
/// again, which for a word that a million-project catalogue uses thirty
/// thousand times is most of the cost.
async fn search_postgres_text(
    pool: &sqlx::PgPool,
    query: &SearchQuery,
    tsquery: &str,
    order: SearchOrder,
    classifiers: &[String],
    page: i64,
    facet_limit: i64,
) -> Result<Found, sqlx::Error> {
    // Every tsquery is parsed once, in `q`, not once per matching row.
    let mut q = QueryBuilder::<Postgres>::new("WITH q AS (SELECT to_tsquery('cheeseshop_search', ");
    q.push_bind(tsquery.to_owned());
    q.push(") AS query, ARRAY[");
    let mut boosts = Vec::new();
    for term in &query.terms {
        for (weights, boost) in [("A", "10"), ("B", "5"), ("C", "5")] {
            if !boosts.is_empty() {
                q.push(", ");
            }
            q.push("to_tsquery('cheeseshop_search', ");
            q.push_bind(SearchQuery::ts_prefix(term, weights));
            q.push(")");
            boosts.push(boost);
        }
    }
    q.push(
        "]::tsquery[] AS boosts), matches AS MATERIALIZED (SELECT s.project_id AS id, p.normalized_name AS sort_name, \
         p.last_upload, p.normalized_name = ",
    );
    q.push_bind(query.normalized_name());
    q.push(" AS exact, left(p.normalized_name, length(");
    q.push_bind(query.normalized_name());
    q.push(")) = ");
    q.push_bind(query.normalized_name());
    q.push(" AS prefix, (0");
    for (i, boost) in boosts.iter().enumerate() {
        q.push(format!(" + {boost} * (s.document @@ q.boosts[{}])::INT", i + 1));
    }
    // ts_rank's weights are {D, C, B, A}: the field weights, scaled.
    q.push(
        ") AS boost, ts_rank('{0.1, 0.5, 0.5, 1.0}', s.document, q.query) AS score \
         FROM q, project_search s JOIN projects p ON p.id = s.project_id WHERE s.document @@ q.query",
    );
    push_filters(&mut q, "s.project_id", classifiers);
    let order_by = match order {
        SearchOrder::Relevance => "exact DESC, prefix DESC, boost DESC, score DESC, sort_name ASC",
        SearchOrder::Newest => "last_upload DESC NULLS LAST, sort_name ASC",
        SearchOrder::Name => "sort_name ASC",
    };
    q.push(format!("), page AS (SELECT * FROM matches ORDER BY {order_by} LIMIT "));
    q.push_bind(PAGE_SIZE);
    q.push(" OFFSET ");
    q.push_bind((page - 1).max(0) * PAGE_SIZE);
    q.push(format!(
        ") SELECT (SELECT COUNT(*) FROM matches), \
         (SELECT COALESCE(json_agg(h ORDER BY {order_by}), '[]')::TEXT FROM ( \
             SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, \
                 COALESCE(m.summary, '') AS summary, p.last_upload, page.exact, page.prefix, page.boost, \
                 page.score, page.sort_name \
             FROM page JOIN projects p ON p.id = page.id \
             LEFT JOIN releases r ON r.id = p.latest_release_id \
             LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id) h), \
         (SELECT COALESCE(json_agg(json_build_array(f.classifier, f.n)), '[]')::TEXT FROM ( \
             SELECT pc.classifier, COUNT(*) AS n FROM matches JOIN project_classifiers pc ON pc.project_id = matches.id \
             GROUP BY pc.classifier ORDER BY n DESC, pc.classifier ASC LIMIT "
    ));
    q.push_bind(facet_limit);
    q.push(") f)");
    let (total, hits, facets): (i64, String, String) = q.build_query_as().fetch_one(pool).await?;
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    Ok(Found {
        total,
        hits: serde_json::from_str(&hits).map_err(decode)?,
        facets: serde_json::from_str(&facets).map_err(decode)?,
    })
}

/// Suggestions while typing: the projects whose name starts with what was
/// typed, the closest completions first (the shortest names of the first
/// 64 in name order: the exact name, then `flask` before `flake8` and
/// `flask-login` for "fla"), through the unique index on normalized names (a
/// range of it, on either backend: PostgreSQL's "C" collation and SQLite's
/// binary order are byte order); when fewer than
/// `limit` names start so, the rest from a full-text search. A prefix that
/// many names share ("qui" in a million projects) costs a short index range,
/// not the ranking of every match.
pub async fn suggest(db: &Db, query: &SearchQuery, limit: i64) -> Result<Vec<Hit>, sqlx::Error> {
    let prefix = query.normalized_name();
    let mut hits: Vec<Hit> = Vec::new();
    // Normalized names are ASCII letters, digits and `-`, all below `~`.
    if !prefix.is_empty() && prefix.bytes().all(|b| b < b'~') {
        let upper = format!("{prefix}~");
        hits = each_backend!(db, pool => sqlx::query_as(
            "SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, \
                    COALESCE(m.summary, '') AS summary, p.last_upload \
             FROM (SELECT id FROM projects WHERE normalized_name >= $1 AND normalized_name < $2 \
                   AND latest_release_id IS NOT NULL ORDER BY normalized_name LIMIT 64) c \
             JOIN projects p ON p.id = c.id JOIN releases r ON r.id = p.latest_release_id \
             LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id \
             ORDER BY length(p.normalized_name), p.normalized_name LIMIT $3",
        )
        .bind(&prefix)
        .bind(&upper)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    }
    if (hits.len() as i64) < limit && !query.is_empty() {
        let found = search(db, query, SearchOrder::Relevance, &[], 1, 0).await?;
        for hit in found.hits {
            if (hits.len() as i64) >= limit {
                break;
            }
            if !hits.iter().any(|h| h.normalized_name == hit.normalized_name) {
                hits.push(hit);
            }
        }
    }
    Ok(hits)
}

/// Every classifier in use, with how many projects have it.
pub async fn classifiers(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    each_backend!(db, pool => sqlx::query_as(
        "SELECT classifier, COUNT(*) FROM project_classifiers GROUP BY classifier ORDER BY classifier"
    )
    .fetch_all(pool)
    .await)
}
