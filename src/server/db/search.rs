//! Full-text search over projects (SQLite FTS5), classifier filters and facets.

use sqlx::{FromRow, QueryBuilder, Sqlite};

use super::Db;
use crate::domain::search::{SearchOrder, SearchQuery};

pub const PAGE_SIZE: i64 = 20;

#[derive(Debug, Clone, FromRow)]
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
fn push_filters(b: &mut QueryBuilder<Sqlite>, id: &str, classifiers: &[String]) {
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
            facet_q.build_query_as::<(String, i64)>().fetch_all(db.pool()).await
        }
    };
    let (total, hits, facets) = tokio::try_join!(
        count.build_query_scalar::<i64>().fetch_one(db.pool()),
        page_q.build_query_as::<Hit>().fetch_all(db.pool()),
        facets
    )?;
    Ok(Found { total, hits, facets })
}

/// Every classifier in use, with how many projects have it.
pub async fn classifiers(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT classifier, COUNT(*) FROM project_classifiers GROUP BY classifier ORDER BY classifier")
        .fetch_all(db.pool())
        .await
}
